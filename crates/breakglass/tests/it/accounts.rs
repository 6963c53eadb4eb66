//! The account lifecycle from the command line, against a running broker: an administrator
//! invites a user (a one-time link, never a chosen password), disables and enables an
//! account (its sessions stop at once), and a user changes their own password. Every
//! administrator action needs the administrator's TOTP code.

use std::process::Command;

use crate::support::{Authenticator, BIN, Broker, PASSWORD, client, ok, refused, run, text};

#[test]
fn an_administrator_invites_disables_and_enables_users_from_the_command_line() {
    let Some(broker) = Broker::start("", &[("root", true), ("alice", false)]) else {
        return;
    };
    let root = broker.user("root").session.clone();
    let alice = broker.user("alice").session.clone();
    let mut root_code = Authenticator::of(broker.user("root"));
    let mut alice_code = Authenticator::of(broker.user("alice"));

    // An invitation: a link on stdout, for the new user's eyes only.
    let link = ok(&client(
        &root,
        &["user", "invite", "dave", "--totp", &root_code.code()],
    ));
    assert!(
        link.starts_with(&format!("{}/console/invitations/bgi_", broker.url)),
        "{link}"
    );
    // Not by a responder.
    refused(
        &client(
            &alice,
            &["user", "invite", "mallory", "--totp", &alice_code.peek()],
        ),
        "forbidden",
    );

    // Disabling needs the administrator's code; then alice's session stops at once.
    refused(
        &client(&root, &["user", "disable", "alice", "--totp", "000000"]),
        "totp_invalid",
    );
    ok(&client(
        &root,
        &["user", "disable", "alice", "--totp", &root_code.code()],
    ));
    refused(&client(&alice, &["status"]), "account_disabled");
    ok(&client(
        &root,
        &["user", "enable", "alice", "--totp", &root_code.code()],
    ));
    // Her old session stays ended; she signs in again with both factors.
    refused(&client(&alice, &["status"]), "unauthenticated");
    let out = run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", &alice)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args(["login", "--url", &broker.url, "--username", "alice"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("second_factor_required"),
        "{}",
        text(&out.stderr)
    );
    ok(&run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", &alice)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args([
            "login",
            "--url",
            &broker.url,
            "--username",
            "alice",
            "--totp",
            &alice_code.code(),
        ])));
    ok(&client(&alice, &["status"]));

    // Her own password: the old one and a code; the old one fails afterwards.
    ok(&run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", &alice)
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .env("BREAKGLASS_NEW_PASSWORD", "a brand new passphrase")
        .args(["user", "password", "--totp", &alice_code.code()])));
    let out = run(Command::new(BIN)
        .env(
            "BREAKGLASS_SESSION_FILE",
            broker.dir.path().join("alice-2.json"),
        )
        .env("BREAKGLASS_PASSWORD", PASSWORD)
        .args([
            "login",
            "--url",
            &broker.url,
            "--username",
            "alice",
            "--totp",
            &alice_code.code(),
        ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad_credentials"),
        "{}",
        text(&out.stderr)
    );
}

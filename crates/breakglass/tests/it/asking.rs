//! The client as a responder meets it, against a broker on the moto emulator: `playbooks`
//! (what you may ask for), accounts by name, one duration syntax, `request --wait` saying
//! who decided and why, and one line for people by default with `--json` for machines.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ACCOUNT, Authenticator, BIN, Broker, client, ok, refused, text};

/// A request of `playbook`'s `role` in `account` for `duration`, with `extra` arguments.
fn ask(session: &Path, account: &str, duration: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "request",
        "-p",
        "investigate",
        "-r",
        "SecurityAnalyst",
        "-a",
        account,
        "-d",
        duration,
        "-i",
        "INC-19",
        "-j",
        "checking a report",
    ];
    args.extend_from_slice(extra);
    client(session, &args)
}

/// Runs `request --wait` in the background; `decide` is called with the request's id once
/// the broker has it (found by `bob`'s listing of pending requests).
fn wait_for_decision(alice: &Path, bob: &Path, decide: impl FnOnce(&str)) -> (Output, String) {
    let child = Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", alice)
        .args([
            "request",
            "-p",
            "investigate",
            "-r",
            "SecurityAnalyst",
            "-a",
            "production",
            "-d",
            "1h30m",
            "-i",
            "INC-19",
            "-j",
            "waiting for a decision",
            "--wait",
            "--wait-timeout",
            "2m",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let id = loop {
        let list: serde_json::Value = serde_json::from_str(&ok(&client(
            bob,
            &["status", "--status", "pending", "--json"],
        )))
        .unwrap();
        let found = list["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["spec"]["justification"] == "waiting for a decision")
            .map(|r| r["id"].as_str().unwrap().to_owned());
        if let Some(id) = found {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no pending request"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    decide(&id);
    (child.wait_with_output().unwrap(), id)
}

#[test]
fn a_responder_sees_what_they_may_ask_for_asks_by_account_name_and_hears_who_decided() {
    let Some(broker) = Broker::start("", &[("alice", false), ("bob", false), ("carol", false)])
    else {
        return;
    };
    let alice = broker.user("alice").session.clone();
    let bob = broker.user("bob").session.clone();
    let carol = broker.user("carol").session.clone();
    let mut alice_code = Authenticator::of(broker.user("alice"));
    let mut bob_code = Authenticator::of(broker.user("bob"));

    // `playbooks`: one aligned line per playbook, accounts by name and id, durations as
    // they are written.
    let shown = ok(&client(&alice, &["playbooks"]));
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 5, "a header and four playbooks:\n{shown}");
    assert!(lines[0].starts_with("PLAYBOOK"), "{shown}");
    for column in [
        "ROLES",
        "ACCOUNTS",
        "MAX",
        "APPROVALS",
        "BREAK-GLASS",
        "STEP-UP",
    ] {
        let at = lines[0].find(column).unwrap();
        for l in &lines[1..] {
            assert_eq!(&l[at - 2..at], "  ", "`{column}` aligned:\n{shown}");
            assert_ne!(&l[at..=at], " ", "`{column}` aligned:\n{shown}");
        }
    }
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(&format!("production ({ACCOUNT})"))),
        "{shown}"
    );
    let line = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    let investigate = line("investigate ");
    for cell in [
        "SecurityAnalyst",
        " 4h ",
        "1 of ir-leads",
        " no ",
        "totp or passkey",
    ] {
        assert!(investigate.contains(cell), "`{cell}` in {investigate}");
    }
    let emergency = line("emergency ");
    assert!(emergency.contains("yes, 1h"), "{emergency}");
    assert!(emergency.contains("2 of responders"), "{emergency}");
    // Carol is not in `ir-leads`, whom the emergency playbook lists as eligible.
    let carols = ok(&client(&carol, &["playbooks"]));
    assert!(!carols.contains("emergency"), "{carols}");
    assert!(carols.contains("investigate"), "{carols}");
    // `--json`: the API's document.
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice, &["playbooks", "--json"]))).unwrap();
    let playbooks = doc["playbooks"].as_array().unwrap();
    let investigate = playbooks.iter().find(|p| p["id"] == "investigate").unwrap();
    let target = &investigate["targets"][0];
    assert_eq!(target["account_name"], "production", "{doc}");
    assert_eq!(target["account_id"], ACCOUNT, "{doc}");
    assert_eq!(target["request_max_seconds"], 4 * 3600, "{doc}");
    assert!(target["break_glass_max_seconds"].is_null(), "{doc}");
    assert_eq!(investigate["step_up"], "any", "{doc}");

    // An account by name or id; an unknown one is named, with the accounts there are.
    let by_name = ok(&ask(&alice, "production", "1h30m", &[]));
    let r: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice, &["status", &by_name, "--json"]))).unwrap();
    assert_eq!(r["spec"]["account"], ACCOUNT);
    assert_eq!(r["spec"]["duration"], 5400);
    let out = ask(&alice, "staging", "1h", &[]);
    refused(&out, "unknown account `staging`");
    assert!(
        text(&out.stderr).contains(&format!("`production` ({ACCOUNT})")),
        "{}",
        text(&out.stderr)
    );
    // One duration syntax, and the flag named when it is wrong.
    for (flag, bad) in [("--duration", "90x"), ("--wait-timeout", "soon")] {
        let out = ask(
            &alice,
            "production",
            if flag == "--duration" { bad } else { "1h" },
            &[
                "--wait",
                "--wait-timeout",
                if flag == "--wait-timeout" { bad } else { "1m" },
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(flag) && err.contains(bad) && err.contains("1h30m"),
            "{err}"
        );
    }
    // Nobody decides within the wait: said so, non-zero.
    let out = ask(&alice, ACCOUNT, "1h", &["--wait", "--wait-timeout", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("still pending after 1s"),
        "{}",
        text(&out.stderr)
    );

    // `request --wait`: denied by whom and why, exit 1; approved by whom, exit 0.
    let (out, id) = wait_for_decision(&alice, &bob, |id| {
        let denied = ok(&client(
            &bob,
            &["deny", id, "--reason", "not during the freeze"],
        ));
        assert_eq!(
            denied,
            format!("request {id} denied: \"not during the freeze\"")
        );
    });
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), id);
    assert!(
        text(&out.stderr).contains(&format!(
            "request {id} denied by bob: \"not during the freeze\""
        )),
        "{}",
        text(&out.stderr)
    );
    let (out, id) = wait_for_decision(&alice, &bob, |id| {
        let approved = ok(&client(&bob, &["approve", id, "--totp", &bob_code.code()]));
        assert_eq!(approved.lines().count(), 1, "{approved}");
        assert!(approved.contains("is approved"), "{approved}");
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("request {id} approved by bob")),
        "{}",
        text(&out.stderr)
    );

    // `activate` keeps printing the grant id.
    let grant = ok(&client(&alice, &["activate", &id]));
    assert!(
        !grant.is_empty() && !grant.contains(char::is_whitespace),
        "{grant}"
    );
    // `extend`: the same duration syntax, the grant's end on stdout, one line on stderr.
    let out = client(
        &alice,
        &["extend", &id, "--add", "1h30m", "-j", "more digging"],
    );
    ok(&out);
    assert!(
        text(&out.stderr).contains("extension of 1h30m asked"),
        "{}",
        text(&out.stderr)
    );
    // A grant id stands for its request wherever a request id is asked for.
    let by_grant: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice, &["status", &grant, "--json"]))).unwrap();
    assert_eq!(by_grant["id"], id.as_str(), "{by_grant}");
    let denied: serde_json::Value = serde_json::from_str(&ok(&client(
        &bob,
        &["extension", "deny", &grant, "--reason", "not yet", "--json"],
    )))
    .unwrap();
    assert_eq!(denied["id"], id.as_str(), "{denied}");
    let out = client(&alice, &["extend", &grant, "--add", "30m", "-j", "again"]);
    ok(&out);
    let out = client(&alice, &["status", "g-nosuchgrant01"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no grant `g-nosuchgrant01`"),
        "{}",
        text(&out.stderr)
    );
    let out = client(&alice, &["extend", &id, "--add", "an hour", "-j", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--add"), "{}", text(&out.stderr));
    let denied: serde_json::Value = serde_json::from_str(&ok(&client(
        &bob,
        &["extension", "deny", &id, "--reason", "no", "--json"],
    )))
    .unwrap();
    assert!(denied["grant"]["pending_extension"].is_null(), "{denied}");

    // `revoke`: one line, not the broker's JSON; `--json` for that.
    let revoked = ok(&client(
        &alice,
        &["revoke", "--grant", &grant, "--reason", "done"],
    ));
    assert_eq!(revoked.lines().count(), 1, "{revoked}");
    assert!(
        revoked.starts_with(&format!("grant {grant} (request {id}) revoked")),
        "{revoked}"
    );

    // Break-glass takes an account by name too.
    let out = client(
        &alice,
        &[
            "break-glass",
            "-p",
            "emergency",
            "-r",
            "SecurityBreakGlass",
            "-a",
            "production",
            "-d",
            "30m",
            "-i",
            "INC-19",
            "-j",
            "containment now",
            "--totp",
            &alice_code.code(),
            "--json",
        ],
    );
    let bg: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(bg["spec"]["account"], ACCOUNT, "{bg}");
    assert_eq!(bg["status_name"], "active", "{bg}");
}

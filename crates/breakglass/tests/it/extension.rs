//! Extending a grant from the command line against the moto emulator: `extend`, then
//! `extension approve` (bound to the extension's digest, TOTP step-up, never by the
//! requester) or `extension deny`, with the grant's end read back through `status --json`.
//!
//! These need the server's `POST /api/v1/requests/{id}/extension/approve` and `.../deny`
//! routes (issue 13): until they are served, the approval and the denial fail with
//! `not_found`.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::support::{ACCOUNT, Authenticator, Broker, client, ok, refused};

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

/// A justification that, printed raw, would erase the approver's line and write another.
const FORGED_JUSTIFICATION: &str = "still digging\u{1b}[2K\rapproving an extension of 5m";

/// The request as `status --json` prints it.
fn status(session: &std::path::Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&client(session, &["status", id, "--json"]))).unwrap()
}

#[test]
fn an_extension_is_approved_by_another_approver_or_denied_and_never_self_approved() {
    let Some(broker) = Broker::start("", &[("alice", false), ("bob", false)]) else {
        return;
    };
    let alice = broker.user("alice").session.clone();
    let bob = broker.user("bob").session.clone();
    let mut alice_code = Authenticator::of(broker.user("alice"));
    let mut bob_code = Authenticator::of(broker.user("bob"));

    let id = ok(&client(
        &alice,
        &[
            "request",
            "-p",
            "investigate",
            "-r",
            "SecurityAnalyst",
            "-a",
            ACCOUNT,
            "-d",
            "1h",
            "-i",
            "INC-8",
            "-j",
            "suspicious logins",
        ],
    ));
    ok(&client(&bob, &["approve", &id, "--totp", &bob_code.code()]));
    ok(&client(&alice, &["activate", &id]));
    let end = at(status(&alice, &id)["grant"]["end"].as_str().unwrap());

    // Asked for: the grant's end does not move until an approver approves.
    let shown = ok(&client(
        &alice,
        &["extend", &id, "--add", "1h", "-j", FORGED_JUSTIFICATION],
    ));
    assert_eq!(at(&shown), end);
    let r = status(&alice, &id);
    let pending = &r["grant"]["pending_extension"];
    assert_eq!(pending["add"], 3600, "{r}");
    assert_eq!(at(r["grant"]["end"].as_str().unwrap()), end);

    // The requester cannot approve their own extension, whatever their code.
    refused(
        &client(
            &alice,
            &["extension", "approve", &id, "--totp", &alice_code.code()],
        ),
        "self_approval",
    );
    // A wrong code is refused and changes nothing.
    refused(
        &client(
            &bob,
            &["extension", "approve", &id, "--totp", &bob_code.wrong()],
        ),
        "totp_invalid",
    );
    assert_eq!(status(&alice, &id)["grant"]["pending_extension"], *pending);

    // Another approver approves: the end moves by exactly the hour asked for. The
    // requester's text reaches the approver's terminal escaped: it cannot rewrite the line
    // that says what is being approved.
    let approved = client(
        &bob,
        &[
            "extension",
            "approve",
            &id,
            "--totp",
            &bob_code.code(),
            "--comment",
            "ok",
        ],
    );
    let said = String::from_utf8_lossy(&approved.stderr).into_owned();
    assert!(!said.contains(['\u{1b}', '\r']), "{said:?}");
    assert!(said.contains("of 1h to grant"), "{said}");
    assert!(said.contains(r"\u{1b}[2K\r"), "{said}");
    let shown = ok(&approved);
    assert_eq!(at(&shown), end + Duration::hours(1));
    let r = status(&alice, &id);
    let grant = &r["grant"];
    assert_eq!(at(grant["end"].as_str().unwrap()), end + Duration::hours(1));
    assert!(grant["pending_extension"].is_null(), "{r}");
    let applied = grant["extensions"].as_array().unwrap();
    assert_eq!(applied.len(), 1, "{r}");
    assert_eq!(applied[0]["approvers"], serde_json::json!(["bob"]));
    assert_eq!(r["status_name"], "active");

    // Nothing pending: the client says so before asking the broker.
    let out = client(
        &bob,
        &["extension", "approve", &id, "--totp", &bob_code.peek()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no pending extension"),
        "{out:?}"
    );

    // A second extension, denied: the end stays where the first one put it.
    ok(&client(
        &alice,
        &["extend", &id, "--add", "30m", "-j", "one more query"],
    ));
    assert!(!status(&alice, &id)["grant"]["pending_extension"].is_null());
    let shown = ok(&client(
        &bob,
        &["extension", "deny", &id, "--reason", "open a new request"],
    ));
    assert_eq!(at(&shown), end + Duration::hours(1));
    let r = status(&alice, &id);
    assert!(r["grant"]["pending_extension"].is_null(), "{r}");
    assert_eq!(
        at(r["grant"]["end"].as_str().unwrap()),
        end + Duration::hours(1)
    );
    assert_eq!(r["grant"]["extensions"].as_array().unwrap().len(), 1);
    assert_eq!(r["status_name"], "active");
}

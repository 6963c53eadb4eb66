//! `breakglass audit verify|export` on real SQLite files: an intact chain verifies and
//! exports; editing, deleting, inserting or reordering any audit row in the file (after
//! dropping the append-only triggers, as an attacker with the file would) is detected and
//! the first bad record named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{ManualClock, SequentialIds};
use breakglass_core::request::{NewRequest, ReviewOutcome, Settings};
use breakglass_core::rules::Rules;
use breakglass_store::SqlStore;
use sqlx::Connection as _;
use time::{Duration, macros::datetime};

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn new_request(who: &str, playbook: &str, role: &str, minutes: i64) -> NewRequest {
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: Duration::minutes(minutes),
        incident: IncidentId::new("INC-42").unwrap(),
        justification: "GuardDuty: credential exfiltration".to_owned(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store with a deterministic history of ten audit records.
fn populated_store(dir: &Path) -> PathBuf {
    let path = dir.join("breakglass.db");
    let url = format!("sqlite://{}", path.display());
    runtime().block_on(async {
        let store = SqlStore::open(&url).await.unwrap();
        let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2024-03-01 12:00:00 UTC)));
        let b = Broker::new(
            store.clone(),
            Arc::clone(&clock),
            SequentialIds::new("a").unwrap(),
            Rules::new(catalog, &[]).unwrap(),
            Settings::default(),
        );
        let r = b
            .submit(new_request("alice", "investigate", "SecurityAnalyst", 60))
            .await
            .unwrap()
            .request;
        clock.advance(Duration::minutes(2));
        b.approve(&r.id, user("bob"), r.digest, "looks right")
            .await
            .unwrap();
        let _ = b
            .approve(&r.id, user("alice"), r.digest, "")
            .await
            .unwrap_err();
        b.approve(&r.id, user("carol"), r.digest, "").await.unwrap();
        clock.advance(Duration::minutes(1));
        b.activate(&r.id, user("alice")).await.unwrap();
        clock.advance(Duration::minutes(20));
        b.revoke(&r.id, user("alice"), "done").await.unwrap();
        let bg = b
            .activate_break_glass(
                new_request("bob", "contain", "SecurityBreakGlass", 30),
                true,
            )
            .await
            .unwrap()
            .request;
        clock.advance(Duration::minutes(10));
        b.revoke(&bg.id, user("bob"), "contained").await.unwrap();
        b.review(
            &bg.id,
            user("dave"),
            ReviewOutcome::Appropriate,
            "stopped two instances",
        )
        .await
        .unwrap();
        store.close().await;
    });
    path
}

fn breakglass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(args)
        .env_remove("BREAKGLASS_STORE")
        .output()
        .unwrap()
}

fn verify(path: &Path) -> (i32, String) {
    let out = breakglass(&[
        "audit",
        "verify",
        "--store",
        &format!("sqlite://{}", path.display()),
    ]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

/// Runs `sql` on the file the way an attacker would: triggers dropped, foreign keys off.
fn tamper(path: &Path, sql: &[&str]) {
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        for stmt in [
            "PRAGMA foreign_keys = OFF",
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ] {
            sqlx::query(stmt)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
        for stmt in sql {
            let done = sqlx::query(stmt)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
            assert!(done.rows_affected() > 0, "`{stmt}` changed nothing");
        }
        conn.close().await.unwrap();
    });
}

#[test]
fn an_intact_chain_verifies_and_names_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_store(dir.path());
    let (code, text) = verify(&path);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("audit chain verified: 10 records, head #10 "),
        "{text}"
    );
    // "audit chain verified: 10 records, head #10 HASH (anchor it with `--anchor 10:HASH`)"
    let head = text.split_whitespace().nth(7).unwrap().to_owned();
    assert!(text.contains(&format!("`--anchor 10:{head}`")), "{text}");
    let url = format!("sqlite://{}", path.display());
    let ok = breakglass(&["audit", "verify", "--store", &url, "--expect-head", &head]);
    assert_eq!(ok.status.code(), Some(0));
    // An anchor: the chain must still hold that record with that hash.
    let anchored = breakglass(&[
        "audit",
        "verify",
        "--store",
        &url,
        "--anchor",
        &format!("10:{head}"),
    ]);
    assert_eq!(
        anchored.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&anchored.stdout)
    );
    let ahead = breakglass(&[
        "audit",
        "verify",
        "--store",
        &url,
        "--anchor",
        &format!("12:{head}"),
    ]);
    assert_eq!(ahead.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&ahead.stdout).contains(
            "an anchor names record #12 but the chain ends at #10 (records cut off the end)"
        ),
        "{}",
        String::from_utf8_lossy(&ahead.stdout)
    );
    let moved = breakglass(&[
        "audit",
        "verify",
        "--store",
        &url,
        "--anchor",
        &format!("9:{head}"),
    ]);
    assert_eq!(moved.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&moved.stdout).contains("record #9: its hash is not the anchored")
    );
    let garbled = breakglass(&["audit", "verify", "--store", &url, "--anchor", "10"]);
    assert_eq!(garbled.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&garbled.stderr).contains("SEQ:HASH"));
    let other = "0".repeat(64);
    let bad = breakglass(&["audit", "verify", "--store", &url, "--expect-head", &other]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("not at the expected head"));
    let malformed = breakglass(&["audit", "verify", "--store", &url, "--expect-head", "abc"]);
    assert_eq!(malformed.status.code(), Some(2));
}

#[test]
fn every_kind_of_tampering_is_detected_and_the_first_bad_record_named() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "edit a body",
            &[
                "UPDATE audit_log SET body = replace(body, 'looks right', 'looks wrong') WHERE seq = 2",
            ],
            "record #2: its hash does not match its contents (edited)",
        ),
        (
            "edit and re-hash a body",
            &[
                "UPDATE audit_log SET body = replace(body, 'done', 'oops'), hash = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' WHERE seq = 6",
            ],
            "record #6: its hash does not match its contents (edited)",
        ),
        (
            "edit an indexed column",
            &["UPDATE audit_log SET actor = 'mallory' WHERE seq = 4"],
            "record #4: its `actor` column disagrees with its hashed body (edited)",
        ),
        (
            "delete a record",
            &["DELETE FROM audit_log WHERE seq = 5"],
            "record #6: expected record #5 here (records deleted, inserted or reordered)",
        ),
        (
            "delete the newest record",
            &["DELETE FROM audit_log WHERE seq = 10"],
            "chain head: the stored head names record #10 but the last record is #9",
        ),
        (
            "delete the newest record and wind back the head",
            &[
                "DELETE FROM audit_log WHERE seq = 10",
                "UPDATE audit_head SET seq = 9",
            ],
            "chain head: the stored head's hash is not record #9's",
        ),
        (
            "insert a copy of a record at the end",
            &[
                "INSERT INTO audit_log (seq, at, kind, request_id, actor, body, prev_hash, hash) SELECT 11, at, kind, request_id, actor, body, prev_hash, hash FROM audit_log WHERE seq = 3",
            ],
            "record #11: it lies beyond the stored chain head #10 (inserted behind the broker's back)",
        ),
        (
            "insert a record in the middle",
            &[
                "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4",
                "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100",
                "INSERT INTO audit_log (seq, at, kind, request_id, actor, body, prev_hash, hash) SELECT 4, at, kind, request_id, actor, body, prev_hash, hash FROM audit_log WHERE seq = 3",
            ],
            "record #4: its body says it is record #3",
        ),
        (
            "swap two records",
            &[
                "UPDATE audit_log SET seq = -1 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -1",
            ],
            "record #3: its body says it is record #4 (records reordered or renumbered)",
        ),
        (
            "delete the chain head",
            &["DELETE FROM audit_head"],
            "chain head: the stored chain head is missing",
        ),
    ];
    for (name, sql, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = populated_store(dir.path());
        tamper(&path, sql);
        let (code, text) = verify(&path);
        assert_eq!(code, 1, "{name}: {text}");
        assert!(
            text.contains(expected),
            "{name}: expected `{expected}` in\n{text}"
        );
        assert!(text.starts_with("audit chain BROKEN: "), "{name}: {text}");
    }
}

#[test]
fn export_writes_every_record_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_store(dir.path());
    let url = format!("sqlite://{}", path.display());
    let out = breakglass(&["audit", "export", "--store", &url]);
    assert_eq!(out.status.code(), Some(0));
    let jsonl = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i + 1);
        assert_eq!(line["hash"].as_str().unwrap().len(), 64);
    }
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    insta::assert_snapshot!("audit_export_jsonl", jsonl);

    let file = dir.path().join("audit.ocsf.jsonl");
    let out = breakglass(&[
        "audit",
        "export",
        "--store",
        &url,
        "--format",
        "ocsf",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ocsf = std::fs::read_to_string(&file).unwrap();
    let events: Vec<serde_json::Value> = ocsf
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 10);
    assert!(
        events
            .iter()
            .all(|e| e["class_uid"] == 3005 && e["category_uid"] == 3)
    );
    let activities: Vec<i64> = events
        .iter()
        .map(|e| e["activity_id"].as_i64().unwrap())
        .collect();
    assert_eq!(activities, [99, 99, 99, 99, 99, 1, 2, 1, 2, 99]);
    let bg = &events[7];
    assert_eq!(bg["severity"], "Critical");
    assert_eq!(bg["user"]["name"], "bob");
    assert_eq!(
        bg["privileges"][0],
        "arn:aws:iam::111111111111:role/incident-response/SecurityBreakGlass"
    );
}

#[test]
fn export_of_a_broken_chain_stops_at_the_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_store(dir.path());
    tamper(&path, &["DELETE FROM audit_log WHERE seq = 4"]);
    let out = breakglass(&[
        "audit",
        "export",
        "--store",
        &format!("sqlite://{}", path.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        3,
        "the records before the bad one"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("record #5: expected record #4"));
}

#[test]
fn a_missing_or_foreign_store_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let (code, text) = verify(&missing);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no SQLite store at"), "{text}");
    assert!(!missing.exists(), "verify must not create a store");
    let out = breakglass(&["audit", "verify", "--store", "mysql://localhost/x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = breakglass(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2), "the store is required");
}

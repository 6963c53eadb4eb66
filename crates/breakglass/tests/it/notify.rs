//! `breakglass notify status` on a real SQLite store: pending and retrying notifications
//! are counted, a dead letter is listed with its error and makes the command exit 1.

use std::process::Command;
use std::sync::Arc;

use breakglass_core::broker::Broker;
use breakglass_core::delivery::dead_letter_commit;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::OutboxSettle;
use breakglass_core::ports::{ManualClock, SequentialIds, Store};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_store::SqlStore;
use time::{Duration, macros::datetime};

fn status(url: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(["notify", "status", "--store", url])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn status_counts_the_outbox_and_lists_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bg.db").display());
    let t0 = datetime!(2026-11-21 09:00 UTC);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(async {
        let store = SqlStore::open(&url).await.unwrap();
        let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
        let b = Broker::new(
            store.clone(),
            Arc::new(ManualClock::new(t0)),
            SequentialIds::new("s").unwrap(),
            Rules::new(catalog, &[]).unwrap(),
            Settings::default(),
        );
        for incident in ["INC-1", "INC-2"] {
            b.submit(NewRequest {
                requester: Username::new("alice").unwrap(),
                playbook: PlaybookId::new("investigate").unwrap(),
                role: RoleName::new("SecurityAnalyst").unwrap(),
                account: AccountId::new("111111111111").unwrap(),
                duration: Duration::minutes(60),
                incident: IncidentId::new(incident).unwrap(),
                justification: "triage".into(),
            })
            .await
            .unwrap();
        }
        store
    });
    let (code, text) = status(&url);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("2 notification(s) waiting for delivery, 0 of them"),
        "{text}"
    );
    assert!(text.contains("no dead letters"), "{text}");

    rt.block_on(async {
        let lease = t0 + Duration::minutes(1);
        let claimed = store.outbox_claim(t0, "w", lease, 10).await.unwrap();
        let retry = OutboxSettle::Retry {
            done_channels: vec![],
            error: "webhook#0: answered HTTP 503".into(),
            retry_at: t0 + Duration::minutes(1),
        };
        assert!(
            store
                .outbox_settle(claimed[0].id, "w", retry)
                .await
                .unwrap()
        );
        let m = &claimed[1];
        let dead = OutboxSettle::DeadLetter {
            done_channels: vec!["slack".into()],
            error: "email:bob@example.com: SMTP: connection refused".into(),
            at: t0,
            commit: Box::new(dead_letter_commit(
                m,
                vec!["email:bob@example.com".into()],
                "SMTP: connection refused",
                t0,
            )),
        };
        assert!(store.outbox_settle(m.id, "w", dead).await.unwrap());
        store.close().await;
    });
    let (code, text) = status(&url);
    assert_eq!(code, 1, "{text}");
    // The retrying message and the alert about the dead letter wait.
    assert!(
        text.contains("2 notification(s) waiting for delivery, 1 of them"),
        "{text}"
    );
    assert!(text.contains("retrying #1 approval_needed"), "{text}");
    assert!(text.contains("1 DEAD LETTER(S)"), "{text}");
    assert!(text.contains("SMTP: connection refused"), "{text}");
    assert!(text.contains("delivered to: slack"), "{text}");
}

/// `notify webhook-key URL` prints the key that receiver verifies with: derived from the
/// broker's webhook key, different per receiver, and never the broker's key itself.
#[test]
fn webhook_key_prints_each_receivers_own_key() {
    let key = |url: &str, master: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_breakglass"));
        cmd.args(["notify", "webhook-key", url])
            .env_remove("BREAKGLASS_WEBHOOK_SECRET");
        if let Some(m) = master {
            cmd.env("BREAKGLASS_WEBHOOK_SECRET", m);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, a, _) = key("https://hooks.example.com/breakglass", Some("k3y"));
    assert_eq!(code, 0);
    assert_eq!(
        a,
        breakglass_core::delivery::receiver_key(b"k3y", "https://hooks.example.com/breakglass")
    );
    let (_, b, _) = key("https://pager.example.net/in", Some("k3y"));
    assert_ne!(a, b);
    assert!(!a.contains("k3y"));
    let (code, out, err) = key("https://hooks.example.com/breakglass", None);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("BREAKGLASS_WEBHOOK_SECRET"), "{err}");
}

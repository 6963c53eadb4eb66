//! Drills over the in-memory cloud: every path of a playbook walked through the use cases
//! as the drill identity, the run recorded with its audit record, a failure alerted once
//! (not again while the same failure repeats), a revocation that does not hold reported
//! with the account it is in, and no drill grant left live.

use breakglass_core::drill::{Outcome, Trigger};
use breakglass_core::model::PlaybookId;
use breakglass_core::request::Status;
use breakglass_server::drills::{self, DrillOptions};

use crate::support::{TestApp, admin, audit_count, clock, sqlite};

fn options(playbooks: &[&str]) -> DrillOptions {
    DrillOptions {
        playbooks: playbooks
            .iter()
            .map(|p| PlaybookId::new(*p).unwrap())
            .collect(),
        alert_timeout: std::time::Duration::from_millis(300),
        trigger: Trigger::Cli,
        notifications: false,
    }
}

#[tokio::test]
async fn a_drill_walks_each_role_copy_records_the_run_and_alerts_a_failure_once() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "d");
    let (run, alerted) = drills::run(&app.app, &options(&["investigate"]), Vec::new(), |_| {})
        .await
        .unwrap();
    // investigate grants SecurityAnalyst in both accounts of the fixture.
    assert_eq!(run.paths.len(), 2, "{run:#?}");
    for p in &run.paths {
        assert!(p.passed(), "{p:#?}");
        assert!(p.time_to_access_ms.is_some() && p.time_to_revoke_ms.is_some());
        let id = p.request.clone().unwrap();
        let r = app.app.request(&admin("root"), &id).await.unwrap().value;
        assert!(matches!(r.status, Status::Revoked { .. }), "{:?}", r.status);
        assert_eq!(r.approvals.len(), 2, "investigate needs two approvals");
    }
    // The session carried the drill identity and the harmless policy.
    let last = app.cloud().last.lock().unwrap().clone().unwrap();
    assert_eq!(last.source_identity, "breakglass-drill");
    assert!(
        last.session_policy
            .as_deref()
            .is_some_and(|p| p.contains("iam:GetRole") && !p.contains("\"*\",\"Resource\"")),
        "{last:?}"
    );
    // No channel is configured: the alert step fails, so the run failed and alerted.
    let alerts = run.checks.iter().find(|s| s.name == "alerts").unwrap();
    assert_eq!(alerts.outcome, Outcome::Failed);
    assert!(alerts.findings[0].message.contains("[notifications]"));
    assert!(!run.passed());
    assert!(alerted);
    // The same failure again: recorded, not alerted again.
    let (second, alerted) = drills::run(&app.app, &options(&["investigate"]), Vec::new(), |_| {})
        .await
        .unwrap();
    assert!(!alerted);
    assert_eq!(audit_count(&t.store, "drill_completed", None).await, 2);
    let runs = app.app.drill_runs(&admin("root"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, second.id, "newest first");
    assert_eq!(runs[1], run, "stored whole");
    // Only administrators read drills.
    assert!(
        app.app
            .drill_runs(&crate::support::caller("alice"), 10)
            .await
            .is_err()
    );
    // A drill's sessions are no one's access: the reports leave them out.
    let sessions = app
        .app
        .session_report(&admin("root"), None, None)
        .await
        .unwrap();
    assert_eq!(sessions.summary.total, 0, "{sessions:#?}");
    let review = app
        .app
        .access_review(
            &admin("root"),
            &breakglass_core::app::ReviewOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        review.playbooks.iter().all(|p| p.grants_in_period == 0),
        "{review:#?}"
    );
    // The chain verifies over the drill's records.
    let chain = run.checks.iter().find(|s| s.name == "audit chain").unwrap();
    assert_eq!(chain.outcome, Outcome::Passed);
}

#[tokio::test]
async fn a_revocation_that_does_not_hold_is_a_finding_in_its_account() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "d");
    let role = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";
    app.cloud()
        .denied_roles
        .lock()
        .unwrap()
        .insert(role.to_owned());
    let (run, _) = drills::run(&app.app, &options(&["investigate"]), Vec::new(), |_| {})
        .await
        .unwrap();
    let failed: Vec<_> = run
        .paths
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| s.outcome == Outcome::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{run:#?}");
    assert_eq!(failed[0].name, "revoke");
    let f = &failed[0].findings[0];
    assert_eq!(f.account.as_deref(), Some("222222222222"));
    assert!(
        f.message.contains("SecurityAnalyst") && f.message.contains("222222222222"),
        "{f}"
    );
    // The grant itself was still ended in the broker: it never mints again.
    for p in &run.paths {
        let id = p.request.clone().unwrap();
        let r = app.app.request(&admin("root"), &id).await.unwrap().value;
        assert!(matches!(r.status, Status::Revoked { .. }));
    }
}

#[tokio::test]
async fn an_unknown_playbook_is_refused_before_anything_runs() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "d");
    let err = drills::run(&app.app, &options(&["nope"]), Vec::new(), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("playbook `nope`"), "{err}");
    assert_eq!(audit_count(&t.store, "drill_completed", None).await, 0);
}

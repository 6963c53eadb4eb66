//! The reports over a store filled as responders fill it: a request approved, used and
//! revoked, and a break-glass use revoked and reviewed. Each report is checked field by
//! field, validates against the JSON Schema `breakglass report schema` prints, and is an
//! administrator's read.

use breakglass_core::app::ReviewOptions;
use breakglass_core::model::{AccountId, IncidentId, PlaybookId, RoleName};
use breakglass_core::report::ReportKind;
use breakglass_core::request::{NewRequest, ReviewOutcome};
use time::Duration;

use crate::support::{TestApp, admin, caller, clock, investigate, sqlite, user};

fn valid(kind: ReportKind, value: &serde_json::Value) {
    let schema = kind.schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{}: {problems:#?}", kind.as_str());
}

#[tokio::test]
async fn reports_of_a_filled_store_hold_each_fact() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "rp");
    let b = app.broker();
    let start = app.now();

    // alice's request: two approvals, activated, credentials, revoked by an administrator.
    let r = b.submit(investigate("alice", 60)).await.unwrap().request;
    b.approve(&r.id, user("bob"), r.digest, "ok").await.unwrap();
    b.approve(&r.id, user("carol"), r.digest, "ok")
        .await
        .unwrap();
    b.activate(&r.id, user("alice")).await.unwrap();
    clock.advance(Duration::seconds(10));
    app.credentials(&caller("alice"), &r.id, None)
        .await
        .unwrap();
    clock.advance(Duration::minutes(10));
    app.revoke(&admin("root"), &r.id, "investigation over")
        .await
        .unwrap();

    // alice's break-glass use: revoked after five minutes, reviewed by bob.
    let bg = b
        .activate_break_glass(
            NewRequest {
                requester: user("alice"),
                playbook: PlaybookId::new("contain").unwrap(),
                role: RoleName::new("SecurityBreakGlass").unwrap(),
                account: AccountId::new("111111111111").unwrap(),
                duration: Duration::minutes(30),
                incident: IncidentId::new("INC-BG-1").unwrap(),
                justification: "IdP down, active intrusion".to_owned(),
            },
            true,
        )
        .await
        .unwrap()
        .request;
    clock.advance(Duration::minutes(5));
    app.revoke(&admin("root"), &bg.id, "contained")
        .await
        .unwrap();
    clock.advance(Duration::hours(2));
    b.review(&bg.id, user("bob"), ReviewOutcome::Appropriate, "justified")
        .await
        .unwrap();

    // Only administrators read reports.
    assert!(
        app.session_report(&caller("alice"), None, None)
            .await
            .is_err()
    );
    assert!(app.break_glass_log(&caller("bob"), None).await.is_err());
    assert!(
        app.access_review(&caller("bob"), &ReviewOptions::default())
            .await
            .is_err()
    );

    // The session summary.
    let s = app
        .session_report(&admin("root"), None, None)
        .await
        .unwrap();
    assert_eq!((s.summary.total, s.summary.active), (2, 0));
    assert_eq!(s.summary.revoked, 2);
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
    };
    assert_eq!(
        counts(&s.summary.by_playbook),
        [("contain".to_owned(), 1), ("investigate".to_owned(), 1)]
    );
    assert_eq!(counts(&s.summary.by_requester), [("alice".to_owned(), 2)]);
    assert_eq!(
        counts(&s.summary.by_incident),
        [("INC-2024-001".to_owned(), 1), ("INC-BG-1".to_owned(), 1)]
    );
    assert_eq!(
        counts(&s.summary.by_kind),
        [("break_glass".to_owned(), 1), ("standard".to_owned(), 1)]
    );
    assert_eq!(s.sessions.len(), 2);
    assert_eq!(s.timeline.iter().map(|p| p.grants).sum::<u64>(), 2);
    let one = app
        .session_report(
            &admin("root"),
            None,
            Some(&IncidentId::new("INC-BG-1").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(one.summary.total, 1);
    assert_eq!(one.incident.as_deref(), Some("INC-BG-1"));
    valid(ReportKind::Sessions, &serde_json::to_value(&s).unwrap());

    // The break-glass usage log.
    let log = app.break_glass_log(&admin("root"), None).await.unwrap();
    assert_eq!(
        (
            log.total,
            log.reviewed,
            log.review_outstanding,
            log.inappropriate
        ),
        (1, 1, 0, 0)
    );
    let u = &log.uses[0];
    assert_eq!(u.request, bg.id.as_str());
    assert_eq!(
        (
            u.requester.as_str(),
            u.playbook.as_str(),
            u.incident.as_str()
        ),
        ("alice", "contain", "INC-BG-1")
    );
    assert_eq!(u.justification, "IdP down, active intrusion");
    assert_eq!(
        u.activated_at,
        start + Duration::minutes(10) + Duration::seconds(10)
    );
    assert_eq!(u.duration_seconds, 300);
    assert_eq!(u.revoked_by.as_deref(), Some("root"));
    assert!(u.review.completed);
    assert_eq!(u.review.reviewer.as_deref(), Some("bob"));
    assert_eq!(u.review.outcome, Some(ReviewOutcome::Appropriate));
    assert_eq!(u.review.notes.as_deref(), Some("justified"));
    let kinds: Vec<&str> = u.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.contains(&"break_glass_activated"), "{kinds:?}");
    assert!(kinds.contains(&"access_revoked"), "{kinds:?}");
    valid(
        ReportKind::BreakGlassLog,
        &serde_json::to_value(&log).unwrap(),
    );

    // The access review.
    let review = app
        .access_review(
            &admin("root"),
            &ReviewOptions {
                unused_days: 90,
                ..ReviewOptions::default()
            },
        )
        .await
        .unwrap();
    let alice = review
        .responders
        .iter()
        .find(|r| r.username == "alice")
        .unwrap();
    assert_eq!(alice.grants_in_period, 2);
    assert!(
        alice.may_break_glass.contains(&"contain".to_owned()),
        "{alice:?}"
    );
    assert!(!alice.break_glass_user.read, "IAM was not read");
    let investigate = review
        .playbooks
        .iter()
        .find(|p| p.id == "investigate")
        .unwrap();
    assert_eq!(investigate.approvals_required, 2);
    assert_eq!(investigate.grants_in_period, 1);
    assert!(investigate.approvers.contains(&"bob".to_owned()));
    assert!(!review.iam_users_read);
    valid(
        ReportKind::AccessReview,
        &serde_json::to_value(&review).unwrap(),
    );
}

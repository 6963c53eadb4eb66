//! The store suite: opening and migrating, the request lifecycle through the broker,
//! optimistic concurrency, atomicity of state change + audit + outbox, the sweep, listings
//! and the outbox.

use breakglass_core::audit::events::RequestCancelled;
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent};
use breakglass_core::broker::BrokerError;
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::RequestId;
use breakglass_core::ports::{Commit, RequestWrite, Store, StoreError};
use breakglass_core::request::{ReviewOutcome, Status, TransitionError};
use breakglass_core::session::RequestFilter;
use breakglass_store::{OpenError, SqlStore};
use time::Duration;

use crate::support::{
    T0, TestStore, broker, clock, everything_stored, new_request, on_both_backends, raw_execute,
    submitted, user, verify_chain,
};

on_both_backends!(
    migrations_are_idempotent_and_checked_by_open_existing,
    a_request_goes_through_its_lifecycle_with_one_audit_record_per_event,
    a_stale_version_is_a_conflict_and_writes_nothing,
    a_duplicate_id_writes_nothing,
    a_failed_audit_append_fails_the_state_change,
    refusals_are_audited_and_change_nothing,
    the_sweep_times_out_and_expires_exactly_once,
    listings_filter_by_status_requester_and_outstanding_review,
    the_outbox_is_written_with_its_event_and_tracks_delivery,
    outbox_claims_exclude_each_other_and_settle_once,
    a_dead_letter_is_audited_and_alerted_in_one_transaction,
    a_reminder_is_committed_once,
    credentials_are_recorded_as_key_id_and_token_hash_only,
    the_audit_log_refuses_updates_and_deletes,
    grants_are_found_by_grant_id,
);

async fn migrations_are_idempotent_and_checked_by_open_existing(t: TestStore) {
    // Opening again re-runs nothing and keeps the data.
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let again = SqlStore::open(&t.url).await.unwrap();
    assert_eq!(
        again.get(&out.request.id).await.unwrap().unwrap().version,
        1
    );
    let existing = SqlStore::open_existing(&t.url).await.unwrap();
    assert_eq!(existing.audit_head().await.unwrap().unwrap().seq, 1);

    // A database without the schema is refused rather than silently created.
    if t.url.starts_with("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
        let err = SqlStore::open_existing(&missing).await.unwrap_err();
        assert!(matches!(err, OpenError::NotFound { .. }), "{err}");
        assert!(!dir.path().join("nope.db").exists());
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        let err = SqlStore::open_existing(&format!("sqlite://{}", empty.display()))
            .await
            .unwrap_err();
        assert!(matches!(err, OpenError::NoSchema { .. }), "{err}");
        assert!(
            err.to_string().contains("holds no breakglass store"),
            "{err}"
        );
    }
    let err = SqlStore::open("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, OpenError::InvalidUrl { .. }), "{err}");
}

async fn a_request_goes_through_its_lifecycle_with_one_audit_record_per_event(t: TestStore) {
    let clock = clock();
    let b = broker(&t.store, &clock);
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let id = out.request.id.clone();
    assert_eq!((out.version, out.audit_seqs.clone()), (1, vec![1]));
    let digest = out.request.digest;
    let out = b.approve(&id, user("bob"), digest, "ok").await.unwrap();
    assert_eq!((out.version, out.audit_seqs.clone()), (2, vec![2]));
    clock.advance(Duration::minutes(5));
    let out = b.approve(&id, user("carol"), digest, "").await.unwrap();
    assert_eq!((out.version, out.audit_seqs.clone()), (3, vec![3, 4]));
    assert!(matches!(out.request.status, Status::Approved { .. }));
    let out = b.activate(&id, user("alice")).await.unwrap();
    assert_eq!(out.version, 4);
    let grant = out.request.grant.clone().unwrap();
    assert_eq!(grant.start, T0 + Duration::minutes(5));
    let out = b.revoke(&id, user("dave"), "contained").await.unwrap();
    assert_eq!(out.version, 5);

    let stored = t.store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, 5);
    assert_eq!(
        stored.value, out.request,
        "the stored document round-trips exactly"
    );
    let chain = verify_chain(&t.store).await.unwrap();
    assert_eq!(chain.records, 6);
    let kinds: Vec<String> = crate::support::all_rows(&t.store)
        .await
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "request_submitted",
            "approval_recorded",
            "approval_recorded",
            "request_approved",
            "grant_activated",
            "grant_revoked"
        ]
    );
}

fn cancel_entry(id: &RequestId) -> AuditEntry {
    AuditEntry {
        at: T0,
        actor: Actor::User(user("alice")),
        request_version: Some(2),
        event: AuditEvent::from(RequestCancelled {
            request: id.clone(),
            by: user("alice"),
            reason: "forged".to_owned(),
        }),
    }
}

async fn a_stale_version_is_a_conflict_and_writes_nothing(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let id = out.request.id.clone();
    b.approve(&id, user("bob"), out.request.digest, "")
        .await
        .unwrap();
    let head = t.store.audit_head().await.unwrap();
    // A writer that read version 1 loses against the approval that made it version 2.
    let mut stale = out.request.clone();
    stale.status = Status::Cancelled {
        at: T0,
        by: user("alice"),
        reason: "late".to_owned(),
    };
    let err = t
        .store
        .commit(Commit {
            write: Some(RequestWrite::Update {
                request: stale,
                expected_version: 1,
            }),
            audit: vec![cancel_entry(&id)],
            outbox: Vec::new(),
            step_up: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref r) if r == &id),
        "{err}"
    );
    assert_eq!(
        t.store.audit_head().await.unwrap(),
        head,
        "no audit record was added"
    );
    let stored = t.store.get(&id).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.value.status.name()), (2, "pending"));
    verify_chain(&t.store).await.unwrap();
}

async fn a_duplicate_id_writes_nothing(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let err = t
        .store
        .commit(Commit {
            write: Some(RequestWrite::Insert(out.request.clone())),
            audit: vec![cancel_entry(&out.request.id)],
            outbox: Vec::new(),
            step_up: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err}");
    assert_eq!(verify_chain(&t.store).await.unwrap().records, 1);
    let err = t
        .store
        .commit(Commit {
            write: None,
            audit: Vec::new(),
            outbox: Vec::new(),
            step_up: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCommit(_)), "{err}");
}

async fn a_failed_audit_append_fails_the_state_change(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let id = out.request.id.clone();
    // Wind the chain head back so the next record's sequence number is taken: the audit
    // insert fails inside the transaction.
    raw_execute(&t.url, "UPDATE audit_head SET seq = 0")
        .await
        .unwrap();
    let err = b
        .approve(&id, user("bob"), out.request.digest, "")
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::Store(_)), "{err}");
    let stored = t.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.version, 1,
        "the approval was not stored without its audit record"
    );
    assert!(stored.value.approvals.is_empty());
    assert!(
        t.store
            .outbox_due(T0 + Duration::days(1), 100)
            .await
            .unwrap()
            .len()
            == 1
    );
}

async fn refusals_are_audited_and_change_nothing(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "bob",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let id = out.request.id.clone();
    let err = b
        .approve(&id, user("bob"), out.request.digest, "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Refused(TransitionError::SelfApproval(_))),
        "{err}"
    );
    let err = b
        .activate_break_glass(
            new_request("mallory", "contain", "111111111111", 30, "INC-2"),
            true,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Refused(TransitionError::NotAllowed { .. })
        ),
        "{err}"
    );
    // Ordinary errors (wrong state) are not refusals and are not recorded.
    let err = b.activate(&id, user("bob")).await.unwrap_err();
    assert!(
        matches!(
            err,
            BrokerError::Refused(TransitionError::WrongState { .. })
        ),
        "{err}"
    );

    assert_eq!(t.store.get(&id).await.unwrap().unwrap().version, 1);
    let rows = crate::support::all_rows(&t.store).await;
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["request_submitted", "action_refused", "action_refused"]
    );
    assert!(
        rows[1]
            .body
            .contains("cannot approve or deny their own request")
    );
    assert_eq!(rows[2].actor.as_deref(), Some("mallory"));
    // The refused break-glass attempt alerts the security team.
    let outbox = t.store.outbox_due(T0, 100).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|m| m.notification.kind == "break_glass_refused"),
        "{outbox:?}"
    );
    verify_chain(&t.store).await.unwrap();
}

async fn the_sweep_times_out_and_expires_exactly_once(t: TestStore) {
    let clock = clock();
    let b = broker(&t.store, &clock);
    let pending = submitted(&b, "alice", "investigate", "111111111111", 60, "INC-1")
        .await
        .id;
    let approved = submitted(&b, "alice", "self-service", "222222222222", 60, "INC-1")
        .await
        .id;
    let active = submitted(&b, "erin", "self-service", "222222222222", 30, "INC-1")
        .await
        .id;
    b.activate(&active, user("erin")).await.unwrap();
    let bg = b
        .activate_break_glass(
            new_request("alice", "contain", "111111111111", 20, "INC-9"),
            true,
        )
        .await
        .unwrap()
        .request
        .id;

    assert!(
        t.store
            .due(clock.now_for_test(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::minutes(25));
    let report = b.sweep(100).await.unwrap();
    assert_eq!(
        (report.timed_out.clone(), report.expired.clone()),
        (vec![], vec![bg.clone()])
    );
    clock.advance(Duration::minutes(40));
    let report = b.sweep(100).await.unwrap();
    assert_eq!(report.timed_out, vec![pending.clone()]);
    let mut expired = report.expired.clone();
    expired.sort();
    let mut want = vec![approved.clone(), active.clone()];
    want.sort();
    assert_eq!(expired, want);
    assert_eq!(
        b.sweep(100).await.unwrap(),
        Default::default(),
        "nothing is due twice"
    );

    for (id, status) in [
        (&pending, "timed_out"),
        (&approved, "expired"),
        (&active, "expired"),
        (&bg, "expired"),
    ] {
        assert_eq!(
            t.store.get(id).await.unwrap().unwrap().value.status.name(),
            status
        );
    }
    // The expired break-glass use asks for its review.
    let outbox = t.store.outbox_due(clock.now_for_test(), 100).await.unwrap();
    assert!(
        outbox
            .iter()
            .any(|m| m.notification.kind == "review_required")
    );
    verify_chain(&t.store).await.unwrap();
}

trait NowForTest {
    fn now_for_test(&self) -> time::OffsetDateTime;
}

impl NowForTest for std::sync::Arc<breakglass_core::ports::ManualClock> {
    fn now_for_test(&self) -> time::OffsetDateTime {
        breakglass_core::ports::Clock::now(self)
    }
}

async fn listings_filter_by_status_requester_and_outstanding_review(t: TestStore) {
    let clock = clock();
    let b = broker(&t.store, &clock);
    let a = submitted(&b, "alice", "investigate", "111111111111", 60, "INC-1").await;
    clock.advance(Duration::seconds(1));
    let e = submitted(&b, "erin", "investigate", "111111111111", 60, "INC-1").await;
    clock.advance(Duration::seconds(1));
    let bg = b
        .activate_break_glass(
            new_request("erin", "contain", "111111111111", 20, "INC-2"),
            true,
        )
        .await
        .unwrap()
        .request;
    b.cancel(&a.id, user("alice"), "").await.unwrap();

    let ids =
        |v: Vec<breakglass_core::ports::Versioned<breakglass_core::request::AccessRequest>>| {
            v.into_iter()
                .map(|r| r.value.id.to_string())
                .collect::<Vec<_>>()
        };
    let all = t.store.requests(&RequestFilter::default()).await.unwrap();
    // The undecoded listing holds the same rows, in the same order, with their columns.
    let listed = t
        .store
        .request_listing(&RequestFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), all.len());
    for (row, r) in listed.iter().zip(&all) {
        assert_eq!(row.decode().unwrap(), *r);
        assert_eq!(
            (row.id.as_str(), row.version, row.status.as_str()),
            (r.value.id.as_str(), r.version, r.value.status.name())
        );
        assert_eq!(row.requester, r.value.spec.requester.as_str());
        assert_eq!(row.doc, serde_json::to_string(&r.value).unwrap());
    }
    assert_eq!(
        ids(all),
        [bg.id.to_string(), e.id.to_string(), a.id.to_string()],
        "newest first"
    );
    let by_role = |role: breakglass_core::model::RoleArn| {
        let t = &t;
        async move {
            t.store
                .requests(&RequestFilter {
                    role: Some(role),
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ids(by_role(e.spec.role_arn.clone()).await),
        [e.id.to_string(), a.id.to_string()],
        "the investigate role's requests"
    );
    assert_eq!(
        ids(by_role(bg.spec.role_arn.clone()).await),
        [bg.id.to_string()],
        "the contain role's"
    );
    let elsewhere = breakglass_core::model::RoleArn::new(
        e.spec
            .role_arn
            .to_string()
            .replace("111111111111", "999999999999"),
    )
    .unwrap();
    assert!(
        by_role(elsewhere).await.is_empty(),
        "same name, other account"
    );
    let pending = t
        .store
        .requests(&RequestFilter {
            statuses: vec!["pending".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(pending), [e.id.to_string()]);
    let erin = t
        .store
        .requests(&RequestFilter {
            requester: Some(user("erin")),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(erin), [bg.id.to_string()]);
    let review = t
        .store
        .requests(&RequestFilter {
            review_outstanding: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(review), [bg.id.to_string()]);
    b.revoke(&bg.id, user("erin"), "done").await.unwrap();
    b.review(&bg.id, user("carol"), ReviewOutcome::Appropriate, "fine")
        .await
        .unwrap();
    let review = t
        .store
        .requests(&RequestFilter {
            review_outstanding: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(review.is_empty());
}

async fn the_outbox_is_written_with_its_event_and_tracks_delivery(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let msgs = t.store.outbox_due(T0, 10).await.unwrap();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.notification.kind, "approval_needed");
    assert_eq!(m.audit_seq, out.audit_seqs[0]);
    assert!(m.event_body.contains("\"type\":\"request_submitted\""));
    assert_eq!(m.attempts, 0);

    use breakglass_core::ports::OutboxSettle;
    let lease = T0 + Duration::seconds(30);
    let claimed = t.store.outbox_claim(T0, "w", lease, 10).await.unwrap();
    assert_eq!(claimed[0].id, m.id);
    let retry = OutboxSettle::Retry {
        done_channels: vec![],
        error: "webhook answered 503".into(),
        retry_at: T0 + Duration::minutes(1),
    };
    let pending = t.store.outbox_undelivered(10).await.unwrap();
    assert_eq!(pending.len(), 1, "listed as pending before any attempt");
    assert_eq!(pending[0].message.attempts, 0);
    assert!(pending[0].next_attempt_at <= T0, "due at once");
    assert!(t.store.outbox_settle(m.id, "w", retry).await.unwrap());
    assert!(
        t.store.outbox_due(T0, 10).await.unwrap().is_empty(),
        "not due before its retry time"
    );
    // Not due, but still listed as undelivered: retrying, with its attempt and error.
    let retrying = t.store.outbox_undelivered(10).await.unwrap();
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0].message.id, m.id);
    assert_eq!(retrying[0].message.attempts, 1);
    assert_eq!(retrying[0].next_attempt_at, T0 + Duration::minutes(1));
    assert_eq!(
        retrying[0].message.last_error.as_deref(),
        Some("webhook answered 503")
    );
    let retry = t
        .store
        .outbox_due(T0 + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(retry[0].attempts, 1);
    let later = T0 + Duration::minutes(1);
    t.store
        .outbox_claim(later, "w", later + Duration::seconds(30), 10)
        .await
        .unwrap();
    let delivered = OutboxSettle::Delivered {
        at: later,
        done_channels: vec!["webhook#0".into()],
    };
    assert!(t.store.outbox_settle(m.id, "w", delivered).await.unwrap());
    assert!(
        t.store
            .outbox_due(T0 + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        t.store.outbox_undelivered(10).await.unwrap().is_empty(),
        "a delivered message is no longer listed"
    );
}

async fn outbox_claims_exclude_each_other_and_settle_once(t: TestStore) {
    use breakglass_core::ports::OutboxSettle;
    let b = broker(&t.store, &clock());
    for incident in ["INC-1", "INC-2", "INC-3"] {
        b.submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            incident,
        ))
        .await
        .unwrap();
    }
    let lease = T0 + Duration::seconds(30);
    let first = t
        .store
        .outbox_claim(T0, "worker-a", lease, 2)
        .await
        .unwrap();
    let second = t
        .store
        .outbox_claim(T0, "worker-b", lease, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(
        second.len(),
        1,
        "worker-b gets only what worker-a did not claim"
    );
    assert!(first.iter().all(|m| m.id != second[0].id));
    assert!(
        t.store
            .outbox_claim(T0, "worker-c", lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "everything is claimed while the leases hold"
    );

    // A retry records the channels already done and the error, and releases the claim.
    let m = &first[0];
    let retry = OutboxSettle::Retry {
        done_channels: vec!["webhook#0".into()],
        error: "slack: connection refused".into(),
        retry_at: T0 + Duration::minutes(1),
    };
    assert!(
        t.store
            .outbox_settle(m.id, "worker-a", retry.clone())
            .await
            .unwrap()
    );
    assert!(
        !t.store
            .outbox_settle(m.id, "worker-a", retry)
            .await
            .unwrap(),
        "a released claim cannot settle again"
    );
    let later = T0 + Duration::minutes(1);
    let again = t
        .store
        .outbox_claim(later, "worker-b", later + Duration::seconds(30), 10)
        .await
        .unwrap();
    let m2 = again.iter().find(|x| x.id == m.id).unwrap();
    assert_eq!(m2.attempts, 1);
    assert_eq!(m2.done_channels, vec!["webhook#0".to_owned()]);
    assert_eq!(m2.last_error.as_deref(), Some("slack: connection refused"));
    // Someone else's claim cannot be settled.
    let done = OutboxSettle::Delivered {
        at: later,
        done_channels: vec!["webhook#0".into(), "slack".into()],
    };
    assert!(
        !t.store
            .outbox_settle(m.id, "worker-a", done.clone())
            .await
            .unwrap()
    );
    assert!(t.store.outbox_settle(m.id, "worker-b", done).await.unwrap());
    // An expired lease makes the other messages claimable again.
    let expired = t
        .store
        .outbox_claim(
            T0 + Duration::hours(1),
            "worker-c",
            T0 + Duration::hours(2),
            10,
        )
        .await
        .unwrap();
    assert_eq!(expired.len(), 2);
    assert!(
        expired.iter().all(|x| x.id != m.id),
        "a delivered message is never claimed"
    );
}

async fn a_dead_letter_is_audited_and_alerted_in_one_transaction(t: TestStore) {
    use breakglass_core::delivery::{DEAD_LETTER_KIND, dead_letter_commit};
    use breakglass_core::ports::OutboxSettle;
    let b = broker(&t.store, &clock());
    b.submit(new_request(
        "alice",
        "investigate",
        "111111111111",
        60,
        "INC-1",
    ))
    .await
    .unwrap();
    let lease = T0 + Duration::seconds(30);
    let m = t
        .store
        .outbox_claim(T0, "w", lease, 10)
        .await
        .unwrap()
        .remove(0);
    let head = t.store.audit_head().await.unwrap().unwrap().seq;
    let commit = dead_letter_commit(&m, vec!["slack".into()], "slack: 500", T0);
    let settle = OutboxSettle::DeadLetter {
        done_channels: vec!["webhook#0".into()],
        error: "slack: 500".into(),
        at: T0,
        commit: Box::new(commit),
    };
    assert!(t.store.outbox_settle(m.id, "w", settle).await.unwrap());
    assert_eq!(t.store.audit_head().await.unwrap().unwrap().seq, head + 1);
    let dead = t.store.outbox_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, m.id);
    assert_eq!(dead[0].last_error.as_deref(), Some("slack: 500"));
    // The alert about it is due; the dead message is not.
    let due = t
        .store
        .outbox_due(T0 + Duration::days(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].notification.kind, DEAD_LETTER_KIND);
    assert!(due[0].event_body.contains("notification_dead_lettered"));
    verify_chain(&t.store).await.unwrap();

    // If the audit write fails, the dead-lettering fails with it.
    let m = t
        .store
        .outbox_claim(T0, "w", lease, 10)
        .await
        .unwrap()
        .remove(0);
    // (m is the alert about the first dead letter: its own dead letter alerts nobody, so
    // a notification pointing at a missing audit entry is added to make the write fail.)
    let mut bad = dead_letter_commit(&m, vec!["sns".into()], "sns: 500", T0);
    assert!(bad.outbox.is_empty());
    let mut broken = m.notification.clone();
    broken.audit_index = 5;
    bad.outbox.push(broken);
    let settle = OutboxSettle::DeadLetter {
        done_channels: vec![],
        error: "sns: 500".into(),
        at: T0,
        commit: Box::new(bad),
    };
    assert!(t.store.outbox_settle(m.id, "w", settle).await.is_err());
    assert_eq!(t.store.outbox_dead_letters(10).await.unwrap().len(), 1);
}

async fn a_reminder_is_committed_once(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap();
    let entry = |at| AuditEntry {
        at,
        actor: Actor::System,
        request_version: None,
        event: AuditEvent::RequestCancelled(RequestCancelled {
            request: out.request.id.clone(),
            by: user("alice"),
            reason: "stand-in event".into(),
        }),
    };
    let commit = |at| Commit {
        write: None,
        audit: vec![entry(at)],
        outbox: Vec::new(),
        step_up: None,
    };
    assert!(t.store.commit_once("k:1", commit(T0)).await.unwrap());
    assert!(!t.store.commit_once("k:1", commit(T0)).await.unwrap());
    assert!(t.store.commit_once("k:2", commit(T0)).await.unwrap());
    assert_eq!(t.store.audit_head().await.unwrap().unwrap().seq, 3);
    // A commit that fails after the key was written leaves the key unused.
    let mut bad = commit(T0);
    bad.outbox.push(breakglass_core::outbox::Notification {
        audit_index: 3,
        kind: "broken".into(),
        severity: breakglass_core::audit::Severity::Info,
        audience: Vec::new(),
        subject: "points at a missing audit entry".into(),
    });
    assert!(t.store.commit_once("k:3", bad).await.is_err());
    assert!(t.store.commit_once("k:3", commit(T0)).await.unwrap());
    verify_chain(&t.store).await.unwrap();
}

async fn credentials_are_recorded_as_key_id_and_token_hash_only(t: TestStore) {
    let clock = clock();
    let b = broker(&t.store, &clock);
    let id = submitted(&b, "alice", "self-service", "222222222222", 60, "INC-1")
        .await
        .id;
    b.activate(&id, user("alice")).await.unwrap();
    let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKENTHATMUSTNEVERBESTORED";
    let out = b
        .record_issuance(
            &id,
            "ASIAEXAMPLE000000001".to_owned(),
            Sha256Digest::of(token.as_bytes()),
            T0 + Duration::minutes(15),
        )
        .await
        .unwrap();
    assert_eq!(out.request.grant.unwrap().issued.len(), 1);
    let stored = everything_stored(&t.url).await;
    assert!(stored.contains("ASIAEXAMPLE000000001"));
    assert!(stored.contains(&Sha256Digest::of(token.as_bytes()).to_hex()));
    assert!(
        !stored.contains(token),
        "the session token reached the store"
    );
}

async fn the_audit_log_refuses_updates_and_deletes(t: TestStore) {
    let b = broker(&t.store, &clock());
    b.submit(new_request(
        "alice",
        "investigate",
        "111111111111",
        60,
        "INC-1",
    ))
    .await
    .unwrap();
    let update = raw_execute(&t.url, "UPDATE audit_log SET actor = 'mallory'").await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = raw_execute(&t.url, "DELETE FROM audit_log").await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    verify_chain(&t.store).await.unwrap();
}

async fn grants_are_found_by_grant_id(t: TestStore) {
    let b = broker(&t.store, &clock());
    let out = b
        .activate_break_glass(
            new_request("bob", "contain", "111111111111", 30, "INC-3"),
            true,
        )
        .await
        .unwrap();
    let grant = out.request.grant.unwrap().id;
    let found = t.store.get_by_grant(&grant).await.unwrap().unwrap();
    assert_eq!(found.value.id, out.request.id);
    assert!(
        t.store
            .get_by_grant(&"g-none".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

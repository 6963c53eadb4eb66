//! Concurrent writes (group commit on SQLite, one transaction each on PostgreSQL): each
//! commits with its audit records or fails alone, and the chain stays linear. And the MFA
//! step-up a commit spends: consumed with the change, once, and only if the change commits.

use std::collections::BTreeSet;
use std::sync::Arc;

use breakglass_core::audit::events::UserCreated;
use breakglass_core::audit::{Actor, AuditEntry, AuditRecord, ChainVerifier};
use breakglass_core::broker::BrokerError;
use breakglass_core::ports::{AuthStore, Commit, RequestWrite, StepUp, Store, StoreError};
use breakglass_core::request::{Status, TransitionError};
use breakglass_store::{AuthWrite, SqlStore};

use crate::support::{T0, TestStore, all_rows, broker, clock, new_request, on_both_backends, user};

on_both_backends!(
    concurrent_writes_commit_with_their_audit_records_or_fail_alone,
    a_step_up_is_spent_with_its_change_once_and_only_if_the_change_commits,
);

fn user_created(name: &str) -> AuditEntry {
    AuditEntry {
        at: T0,
        actor: Actor::System,
        request_version: None,
        event: UserCreated {
            username: user(name),
            admin: false,
        }
        .into(),
    }
}

fn insert_user(name: &str) -> AuthWrite {
    AuthWrite::InsertUser {
        username: name.to_owned(),
        password_hash: "$argon2id$test".to_owned(),
        admin: false,
        created_at: T0,
    }
}

async fn records(store: &SqlStore) -> Vec<AuditRecord> {
    let mut verifier = ChainVerifier::new(None);
    let records = all_rows(store)
        .await
        .iter()
        .map(|row| verifier.push(row).unwrap())
        .collect();
    verifier.finish(store.audit_head().await.unwrap()).unwrap();
    records
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A new user: succeeds.
    NewUser,
    /// A request submitted through the broker: succeeds.
    Submit,
    /// The taken user name again: fails after its audit record was written.
    TakenUser,
    /// A request update at a stale version: fails at the request row.
    Stale,
}

const TASKS: usize = 64;

async fn concurrent_writes_commit_with_their_audit_records_or_fail_alone(t: TestStore) {
    let b = Arc::new(broker(&t.store, &clock()));
    t.store
        .auth_commit(vec![insert_user("taken")], vec![user_created("taken")])
        .await
        .unwrap();
    let existing = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-0",
        ))
        .await
        .unwrap()
        .request;
    let before = t.store.group_commit_stats();

    let kinds = [Kind::NewUser, Kind::TakenUser, Kind::Submit, Kind::Stale];
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let kind = kinds[i % kinds.len()];
        let (store, b, existing) = (t.store.clone(), Arc::clone(&b), existing.clone());
        tasks.push(tokio::spawn(async move {
            let result = match kind {
                Kind::NewUser => {
                    let name = format!("user-{i}");
                    store
                        .auth_commit(vec![insert_user(&name)], vec![user_created(&name)])
                        .await
                        .map(|_| None)
                }
                Kind::TakenUser => store
                    .auth_commit(vec![insert_user("taken")], vec![user_created("taken")])
                    .await
                    .map(|_| None),
                Kind::Submit => b
                    .submit(new_request(
                        "alice",
                        "investigate",
                        "111111111111",
                        60,
                        &format!("INC-{i}"),
                    ))
                    .await
                    .map(|o| Some(o.request.id))
                    .map_err(|e| match e {
                        BrokerError::Store(e) => e,
                        other => panic!("submit {i}: {other}"),
                    }),
                Kind::Stale => store
                    .commit(Commit {
                        write: Some(RequestWrite::Update {
                            request: existing.clone(),
                            expected_version: 7,
                        }),
                        audit: vec![user_created("stale")],
                        outbox: Vec::new(),
                        step_up: None,
                    })
                    .await
                    .map(|_| None),
            };
            (i, kind, result)
        }));
    }
    let mut submitted = BTreeSet::new();
    for task in tasks {
        let (i, kind, result) = task.await.unwrap();
        match (kind, result) {
            (Kind::NewUser, Ok(_)) => {}
            (Kind::Submit, Ok(id)) => {
                submitted.insert(id.unwrap());
            }
            (Kind::TakenUser, Err(StoreError::Duplicate(_))) => {}
            (Kind::Stale, Err(StoreError::Conflict(id))) => assert_eq!(id, existing.id),
            (kind, result) => panic!("task {i} ({kind:?}): {result:?}"),
        }
    }

    // The chain verifies (no fork, no gap, the head matches), and holds exactly the records
    // of the writes that succeeded.
    let records = records(&t.store).await;
    let created: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.event {
            breakglass_core::audit::AuditEvent::UserCreated(u) => Some(u.username.to_string()),
            _ => None,
        })
        .collect();
    let new_users = TASKS / kinds.len();
    assert_eq!(created.len(), 1 + new_users, "{created:?}");
    assert_eq!(created.iter().filter(|u| *u == "taken").count(), 1);
    assert!(!created.iter().any(|u| u == "stale"), "{created:?}");
    let submissions: BTreeSet<_> = records
        .iter()
        .filter(|r| r.event.kind() == "request_submitted")
        .filter_map(|r| r.event.request().cloned())
        .collect();
    assert_eq!(submissions.len(), 1 + submitted.len());
    assert_eq!(submitted.len(), TASKS / kinds.len());
    for id in &submitted {
        assert!(submissions.contains(id), "{id} has no audit record");
        assert_eq!(t.store.get(id).await.unwrap().unwrap().version, 1);
    }
    for i in (0..TASKS).filter(|i| kinds[i % kinds.len()] == Kind::NewUser) {
        assert!(t.store.user(&format!("user-{i}")).await.unwrap().is_some());
    }
    // The stale update changed nothing.
    assert_eq!(t.store.get(&existing.id).await.unwrap().unwrap().version, 1);

    // On SQLite the writes shared transactions: fewer commits than writes.
    if let (Some(before), Some(after)) = (before, t.store.group_commit_stats()) {
        let (jobs, batches) = (after.jobs - before.jobs, after.batches - before.batches);
        assert_eq!(jobs, TASKS as u64);
        assert!(batches < jobs, "{jobs} writes in {batches} transactions");
    }
}

async fn a_step_up_is_spent_with_its_change_once_and_only_if_the_change_commits(t: TestStore) {
    let b = broker(&t.store, &clock());
    for name in ["alice", "bob"] {
        t.store
            .auth_commit(
                vec![
                    insert_user(name),
                    AuthWrite::SetTotp {
                        username: name.to_owned(),
                        seed: Some("sealed-seed".to_owned()),
                    },
                ],
                vec![user_created(name)],
            )
            .await
            .unwrap();
    }
    let step_up = |who: &str, step: i64| StepUp::totp(user(who), "approve", step);
    let first = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-1",
        ))
        .await
        .unwrap()
        .request;
    let second = b
        .submit(new_request(
            "alice",
            "investigate",
            "111111111111",
            60,
            "INC-2",
        ))
        .await
        .unwrap()
        .request;
    let seq_before = t.store.audit_head().await.unwrap().unwrap().seq;

    // A refused approval (self-approval) is audited and leaves the code unspent.
    let err = b
        .approve_stepped(
            &first.id,
            user("alice"),
            first.digest,
            "",
            step_up("alice", 100),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Refused(TransitionError::SelfApproval(_))),
        "{err}"
    );
    assert_eq!(
        t.store.user("alice").await.unwrap().unwrap().totp_last_step,
        None
    );

    // An approval spends the code in its own commit: `totp_verified` first, then the
    // approval's records, consecutive.
    let out = b
        .approve_stepped(
            &first.id,
            user("bob"),
            first.digest,
            "ok",
            step_up("bob", 100),
        )
        .await
        .unwrap();
    assert_eq!(out.version, 2);
    assert_eq!(
        t.store.user("bob").await.unwrap().unwrap().totp_last_step,
        Some(100)
    );
    let records = records(&t.store).await;
    let kinds: Vec<&str> = records
        .iter()
        .filter(|r| r.seq > seq_before)
        .map(|r| r.event.kind())
        .collect();
    assert_eq!(
        kinds,
        ["action_refused", "totp_verified", "approval_recorded"]
    );
    assert_eq!(out.audit_seqs, [seq_before + 2, seq_before + 3]);

    // The same code (or an older one) again: the whole commit is refused, nothing changes.
    let head = t.store.audit_head().await.unwrap();
    for step in [100, 99] {
        let err = b
            .approve_stepped(
                &second.id,
                user("bob"),
                second.digest,
                "",
                step_up("bob", step),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, BrokerError::Store(StoreError::StepUpUsed(ref u)) if u == "bob"),
            "{err}"
        );
    }
    assert_eq!(t.store.audit_head().await.unwrap(), head);
    let stored = t.store.get(&second.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert!(matches!(stored.value.status, Status::Pending));
    // A user without an authenticator has no step to spend.
    t.store
        .auth_commit(vec![insert_user("carol")], vec![user_created("carol")])
        .await
        .unwrap();
    let err = b
        .approve_stepped(
            &second.id,
            user("carol"),
            second.digest,
            "",
            step_up("carol", 5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Store(StoreError::StepUpUsed(_))),
        "{err}"
    );
    // The next step works.
    b.approve_stepped(
        &second.id,
        user("bob"),
        second.digest,
        "",
        step_up("bob", 101),
    )
    .await
    .unwrap();
}

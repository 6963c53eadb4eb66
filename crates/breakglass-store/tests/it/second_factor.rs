//! Each user's run of wrong second-factor codes: stored with its audit records (and the
//! alert a lockout raises) in one transaction, guarded against a racing replica, and ended
//! by a right code spent, whether by a step-up commit or on its own.

use breakglass_core::accounts::{LOCKOUTS_ALERT, SecondFactorFailures};
use breakglass_core::audit::events::{
    SecondFactorLockedOut, TotpFailed, TotpVerified, UserCreated,
};
use breakglass_core::audit::{Actor, AuditEntry, AuditEvent};
use breakglass_core::outbox::Audience;
use breakglass_core::ports::{AuthStore, StepUp, Store, StoreError};
use breakglass_store::AuthWrite;
use time::Duration;

use crate::support::{T0, TestStore, broker, clock, new_request, on_both_backends, user};

on_both_backends!(
    a_run_of_wrong_codes_is_stored_guarded_and_ended_by_a_spent_code,
    a_lockout_that_alerts_is_written_to_the_outbox_with_its_record,
);

fn entry(event: impl Into<AuditEvent>) -> AuditEntry {
    AuditEntry {
        at: T0,
        actor: Actor::System,
        request_version: None,
        event: event.into(),
    }
}

fn failed(name: &str) -> AuditEntry {
    entry(TotpFailed {
        username: user(name),
        purpose: "approve".to_owned(),
        reason: "wrong code".to_owned(),
    })
}

fn run(name: &str, failures: u32) -> SecondFactorFailures {
    SecondFactorFailures {
        username: name.to_owned(),
        failures,
        last_failure_at: T0,
        locked_until: (failures >= 5).then(|| T0 + Duration::seconds(30)),
    }
}

async fn enrolled(t: &TestStore, name: &str) {
    t.store
        .auth_commit(
            vec![
                AuthWrite::InsertUser {
                    username: name.to_owned(),
                    password_hash: "$argon2id$test".to_owned(),
                    admin: false,
                    created_at: T0,
                },
                AuthWrite::SetTotp {
                    username: name.to_owned(),
                    seed: Some("sealed-seed".to_owned()),
                },
            ],
            vec![entry(UserCreated {
                username: user(name),
                admin: false,
            })],
        )
        .await
        .unwrap();
}

async fn record(t: &TestStore, run: SecondFactorFailures, previous: u32) -> Result<(), StoreError> {
    let name = run.username.clone();
    t.store
        .auth_commit(
            vec![AuthWrite::RecordSecondFactorFailure { run, previous }],
            vec![failed(&name)],
        )
        .await
        .map(|_| ())
}

async fn a_run_of_wrong_codes_is_stored_guarded_and_ended_by_a_spent_code(t: TestStore) {
    for name in ["alice", "bob"] {
        enrolled(&t, name).await;
    }
    assert_eq!(t.store.second_factor_failures("bob").await.unwrap(), None);
    record(&t, run("bob", 1), 0).await.unwrap();
    assert_eq!(
        t.store.second_factor_failures("bob").await.unwrap(),
        Some(run("bob", 1))
    );
    // A replica that read the run before that write loses: nothing of its commit is kept.
    let head = t.store.audit_head().await.unwrap();
    let err = record(&t, run("bob", 1), 0).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidCommit(ref m) if m.contains("concurrently")),
        "{err}"
    );
    assert_eq!(t.store.audit_head().await.unwrap(), head);
    for failures in 2..=5 {
        record(&t, run("bob", failures), failures - 1)
            .await
            .unwrap();
    }
    assert_eq!(
        t.store.second_factor_failures("bob").await.unwrap(),
        Some(run("bob", 5))
    );
    // A right code spent by a step-up commit ends the run, in that commit.
    let b = broker(&t.store, &clock());
    let r = b
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
    let step_up = StepUp::totp(user("bob"), "approve", 100);
    b.approve_stepped(&r.id, user("bob"), r.digest, "", step_up)
        .await
        .unwrap();
    assert_eq!(t.store.second_factor_failures("bob").await.unwrap(), None);
    // And so does one spent on its own.
    record(&t, run("alice", 1), 0).await.unwrap();
    t.store
        .auth_commit(
            vec![AuthWrite::UseTotpStep {
                username: "alice".to_owned(),
                step: 7,
            }],
            vec![entry(TotpVerified {
                username: user("alice"),
                purpose: "sign in".to_owned(),
            })],
        )
        .await
        .unwrap();
    assert_eq!(t.store.second_factor_failures("alice").await.unwrap(), None);
}

async fn a_lockout_that_alerts_is_written_to_the_outbox_with_its_record(t: TestStore) {
    enrolled(&t, "bob").await;
    let locked = |lockouts: u32| {
        entry(SecondFactorLockedOut {
            username: user("bob"),
            failures: lockouts + 4,
            lockouts,
            until: T0 + Duration::minutes(2),
        })
    };
    let quiet = t
        .store
        .auth_commit(
            vec![AuthWrite::RecordSecondFactorFailure {
                run: run("bob", 5),
                previous: 0,
            }],
            vec![failed("bob"), locked(LOCKOUTS_ALERT - 1)],
        )
        .await
        .unwrap();
    let loud = t
        .store
        .auth_commit(
            vec![AuthWrite::RecordSecondFactorFailure {
                run: run("bob", 6),
                previous: 5,
            }],
            vec![failed("bob"), locked(LOCKOUTS_ALERT)],
        )
        .await
        .unwrap();
    let due = t
        .store
        .outbox_due(T0 + Duration::days(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    let alert = &due[0];
    assert_eq!(alert.notification.kind, "second_factor_locked_out");
    assert_eq!(alert.notification.audience, [Audience::SecurityTeam]);
    // It announces the lockout record of the commit that locked, not the wrong code's.
    assert!(!quiet.audit_seqs.contains(&alert.audit_seq), "{alert:?}");
    assert_eq!(Some(&alert.audit_seq), loud.audit_seqs.get(1));
}

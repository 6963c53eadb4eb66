//! Revocation that is loud, serial and complete: a cut-off that fails is audited, alerted
//! and retried with backoff; a write that does not hold is caught by reading it back; the
//! API and the worker never lose an entry to each other; one failing role does not hold the
//! others back; revoke-all takes only catalog roles and leaves an entry per grant.

use std::sync::Arc;

use breakglass_core::app::Error;
use breakglass_core::audit::Severity;
use breakglass_core::model::{GrantId, RoleArn};
use breakglass_core::ports::{AccessStore, Clock, Store};
use breakglass_core::revocation::{REVOCATIONS_POLICY, RevocationEntry};
use breakglass_server::{Worker, WorkerConfig};
use breakglass_store::SqlStore;
use breakglass_testkit::cloud::PutGate;
use time::Duration;

use crate::support::{
    self, ANALYST, TestApp, TestStore, active_grant, admin, audit_count, caller, clock,
};

fn role() -> RoleArn {
    RoleArn::new(ANALYST).unwrap()
}

/// The grant ids the role's revocation policy denies (`aws:userid` is `ROLEID:GRANTID`).
fn denied(app: &TestApp) -> Vec<String> {
    let Some(doc) = app.cloud().policy(ANALYST, REVOCATIONS_POLICY) else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    doc["Statement"][0]["Condition"]["StringLike"]["aws:userid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().split_once(':').unwrap().1.to_owned())
        .collect()
}

/// A minted, live grant of `who`; returns its request id and grant id.
async fn minted(app: &TestApp, who: &str) -> (breakglass_core::model::RequestId, GrantId) {
    let id = active_grant(app.broker(), who, 60).await;
    app.credentials(&support::caller(who), &id, None)
        .await
        .unwrap();
    let r = app.broker().get(&id).await.unwrap();
    (id, r.value.grant.unwrap().id)
}

/// Critical `revocation_failed` notifications waiting in the outbox.
async fn failure_alerts(
    store: &SqlStore,
    clock: &Arc<breakglass_core::ports::ManualClock>,
) -> usize {
    store
        .outbox_due(clock.now() + Duration::days(1), 100)
        .await
        .unwrap()
        .iter()
        .filter(|m| {
            m.notification.kind == "revocation_failed"
                && m.notification.severity == Severity::Critical
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_revocation_during_a_worker_write_is_not_lost() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (first, first_grant) = minted(&app, "alice").await;
    let (second, second_grant) = minted(&app, "erin").await;
    app.revoke(&caller("bob"), &first, "done").await.unwrap();
    // The policy drifted (someone deleted it): the worker's next pass rewrites it from the
    // entries it reads, {first}, and stops at the gate just before writing.
    app.cloud()
        .policies
        .lock()
        .unwrap()
        .remove(&(ANALYST.to_owned(), REVOCATIONS_POLICY.to_owned()));
    let gate = Arc::new(PutGate::default());
    *app.cloud().put_gate.lock().unwrap() = Some(Arc::clone(&gate));
    let worker_app = Arc::clone(&app.app);
    let worker = tokio::spawn(async move { worker_app.sync_role(&role()).await });
    gate.arrived.notified().await;
    // Meanwhile the API revokes the second grant.
    let revoked = app.revoke(&caller("bob"), &second, "done").await.unwrap();
    assert!(revoked.entry.is_some());
    // The worker's write of its stale document goes through, then it must catch up.
    gate.release.notify_one();
    worker.await.unwrap().unwrap();
    let doc = app.cloud().policy(ANALYST, REVOCATIONS_POLICY).unwrap();
    assert!(doc.contains(first_grant.as_str()), "{doc}");
    assert!(
        doc.contains(second_grant.as_str()),
        "the API's revocation was overwritten by the worker's stale document: {doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_the_revoker_may_not_write_is_audited_alerted_and_retried_until_it_holds() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (id, grant) = minted(&app, "alice").await;
    app.cloud()
        .denied_roles
        .lock()
        .unwrap()
        .insert(ANALYST.to_owned());
    let err = app.revoke(&caller("bob"), &id, "done").await.unwrap_err();
    assert!(matches!(err, Error::CutOffIncomplete { .. }), "{err}");
    assert_eq!(
        audit_count(&store, "revocation_failed", Some(id.as_str())).await,
        1
    );
    assert_eq!(failure_alerts(&store, &clock).await, 1);

    let mut config = WorkerConfig::new("replica-a");
    config.interval = std::time::Duration::from_secs(5);
    let worker = Worker::new(Arc::clone(&app.app), config);
    let pass = worker.run_once().await.unwrap();
    let syncs = pass.revocations.unwrap();
    assert!(
        matches!(&syncs[..], [Err((r, _))] if r == &role()),
        "{syncs:?}"
    );
    assert_eq!(audit_count(&store, "revocation_failed", None).await, 2);
    // Backing off: the next pass, at once, leaves the role alone.
    let pass = worker.run_once().await.unwrap();
    assert!(pass.revocations.unwrap().is_empty());
    // After the backoff, another attempt (the 2nd of the worker's run: alerted again).
    clock.advance(Duration::seconds(6));
    let pass = worker.run_once().await.unwrap();
    assert!(pass.revocations.unwrap()[0].is_err());
    assert_eq!(audit_count(&store, "revocation_failed", None).await, 3);
    // The 3rd is audited, not paged; the 4th pages again.
    clock.advance(Duration::seconds(11));
    worker.run_once().await.unwrap();
    assert_eq!(audit_count(&store, "revocation_failed", None).await, 4);
    assert_eq!(failure_alerts(&store, &clock).await, 3);

    // The revoker gets its rights back: the next due pass writes the policy, reads it back.
    app.cloud().denied_roles.lock().unwrap().clear();
    clock.advance(Duration::seconds(41));
    let pass = worker.run_once().await.unwrap();
    assert!(pass.revocations.unwrap()[0].is_ok());
    assert_eq!(denied(&app), [grant.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_write_that_does_not_hold_is_caught_by_reading_it_back() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (id, _) = minted(&app, "alice").await;
    app.cloud()
        .drop_writes
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = app.revoke(&caller("bob"), &id, "done").await.unwrap_err();
    let Error::CutOffIncomplete { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(**source, Error::CutOffUnverified { .. }),
        "{source}"
    );
    assert_eq!(
        audit_count(&store, "revocation_failed", Some(id.as_str())).await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_role_does_not_hold_the_others_back() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (id, grant) = minted(&app, "alice").await;
    // Another role with an entry, on which the revoker may not write; it sorts first.
    let other = "arn:aws:iam::111111111111:role/incident-response/AAFailing";
    store
        .add_revocation(&RevocationEntry {
            role_arn: RoleArn::new(other).unwrap(),
            role_id: support::FAKE_ROLE_ID.to_owned(),
            grant: GrantId::new("g-other").unwrap(),
            session_end: clock.now() + Duration::hours(1),
        })
        .await
        .unwrap();
    app.cloud()
        .denied_roles
        .lock()
        .unwrap()
        .insert(other.to_owned());
    // The revocation's own write is lost (the broker stopped before it), so only the worker
    // puts the analyst's policy in place.
    app.cloud()
        .denied_roles
        .lock()
        .unwrap()
        .insert(ANALYST.to_owned());
    let _ = app.revoke(&caller("bob"), &id, "done").await.unwrap_err();
    app.cloud().denied_roles.lock().unwrap().remove(ANALYST);

    let worker = Worker::new(Arc::clone(&app.app), WorkerConfig::new("replica-a"));
    let pass = worker.run_once().await.unwrap();
    let syncs = pass.revocations.unwrap();
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    assert!(
        syncs
            .iter()
            .any(|s| matches!(s, Err((r, _)) if r.as_str() == other))
    );
    assert_eq!(denied(&app), [grant.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_takes_catalog_roles_only_and_leaves_an_entry_per_grant() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (_, grant) = minted(&app, "alice").await;
    let outside = RoleArn::new("arn:aws:iam::111111111111:role/app/Production").unwrap();
    let step_up = support::step_up_of(
        &store,
        &clock,
        "dave",
        &breakglass_core::app::revoke_all_purpose(&outside),
    )
    .await;
    let err = app
        .revoke_all(&admin("dave"), &outside, "compromised", step_up)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert!(app.cloud().policies.lock().unwrap().is_empty());

    let step_up = support::step_up_of(
        &store,
        &clock,
        "bob",
        &breakglass_core::app::revoke_all_purpose(&role()),
    )
    .await;
    let done = app
        .revoke_all(&admin("bob"), &role(), "compromised", step_up)
        .await
        .unwrap();
    assert_eq!(done.revoked.len(), 1);
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let entries = store.revocations(Some(&role())).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| &e.grant).collect::<Vec<_>>(),
        [&grant]
    );
    assert_eq!(denied(&app), [grant.to_string()]);
}

/// The source identities the organisation policy denies.
fn org_denied(app: &TestApp) -> Vec<String> {
    let doc = app.cloud().organization.lock().unwrap().clone().unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    doc["Statement"][0]["Condition"]["StringEquals"]["aws:SourceIdentity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_lists_the_responder_in_the_organisation_policy_until_the_entry_ends() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::with_organization(&store, &clock, "a");
    assert_eq!(org_denied(&app), ["breakglass:none"]);
    let (id, _) = minted(&app, "alice").await;
    let (other, _) = minted(&app, "erin").await;
    app.revoke(&caller("bob"), &id, "done").await.unwrap();
    // Written and read back by the revocation itself, not left to the worker.
    assert_eq!(org_denied(&app), ["alice"]);
    // Nothing failed, nothing shown.
    assert!(
        app.failed_cut_offs(&admin("alice"))
            .await
            .unwrap()
            .is_empty()
    );
    app.revoke(&caller("bob"), &other, "done").await.unwrap();
    assert_eq!(org_denied(&app), ["alice", "erin"]);
    // Once the revoked sessions have ended (and the margin), the worker takes them out.
    clock.advance(Duration::hours(2));
    let worker = Worker::new(Arc::clone(&app.app), WorkerConfig::new("replica-a"));
    let pass = worker.run_once().await.unwrap();
    assert!(pass.failed.is_empty(), "{:?}", pass.failed);
    assert_eq!(org_denied(&app), ["breakglass:none"]);
}

/// The organisation policy failing after the role's deny held is that policy's failure:
/// listed, audited and paged as the organisation's, not as the role's (whose deny is
/// written).
#[tokio::test]
async fn an_organisation_policy_that_cannot_be_written_is_its_own_failed_cut_off() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::with_organization(&store, &clock, "a");
    let (id, grant) = minted(&app, "alice").await;
    app.cloud()
        .organization_denied
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let e = app.revoke(&caller("bob"), &id, "done").await.unwrap_err();
    assert!(matches!(e, Error::CutOffIncomplete { .. }), "{e:?}");
    // The role's deny holds; the organisation still lists nobody.
    assert!(denied(&app).iter().any(|d| d.contains(grant.as_str())));
    assert_eq!(org_denied(&app), ["breakglass:none"]);
    let failed = app.failed_cut_offs(&admin("dave")).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0].target,
        breakglass_core::app::CutOffTarget::Organization
    );
    assert_eq!(failed[0].requests, std::slice::from_ref(&id));
    assert_eq!(
        audit_count(&store, "revocation_failed", Some(id.as_str())).await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cut_off_is_listed_until_it_holds() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let app = TestApp::new(&store, &clock, "a");
    let (id, _) = minted(&app, "alice").await;
    app.cloud()
        .denied_roles
        .lock()
        .unwrap()
        .insert(ANALYST.to_owned());
    let _ = app.revoke(&caller("bob"), &id, "done").await.unwrap_err();
    let failed = app.failed_cut_offs(&admin("dave")).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let f = &failed[0];
    assert_eq!(f.target, breakglass_core::app::CutOffTarget::Role(role()));
    assert_eq!(f.requests, std::slice::from_ref(&id));
    assert_eq!(f.attempts, 1);
    assert_eq!(f.summary, "AWS refused the write (access denied)");
    // The requester may read their request: they see it too; someone else does not.
    assert_eq!(
        app.failed_cut_offs(&caller("alice")).await.unwrap().len(),
        1
    );
    assert!(
        app.failed_cut_offs(&caller("zed"))
            .await
            .unwrap()
            .is_empty()
    );

    let worker = Worker::new(Arc::clone(&app.app), WorkerConfig::new("replica-a"));
    worker.run_once().await.unwrap();
    assert_eq!(
        app.failed_cut_offs(&admin("dave")).await.unwrap()[0].attempts,
        2
    );
    app.cloud().denied_roles.lock().unwrap().clear();
    clock.advance(Duration::seconds(11));
    let pass = worker.run_once().await.unwrap();
    assert!(pass.revocations.unwrap()[0].is_ok());
    assert!(
        app.failed_cut_offs(&admin("dave"))
            .await
            .unwrap()
            .is_empty()
    );
}

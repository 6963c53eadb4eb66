//! The expiry worker: grants that end while no broker runs are ended and audited by the
//! next pass, revocation entries are pruned once their sessions are over, and with several
//! replicas on one database each job runs on one of them only.

use std::sync::Arc;

use breakglass_core::ports::{AccessStore, Clock, ManualClock};
use breakglass_core::revocation::REVOCATIONS_POLICY;
use breakglass_server::{Worker, WorkerConfig};
use breakglass_store::SqlStore;
use time::Duration;

use crate::support::{
    self, ANALYST, TestApp, TestStore, active_grant, audit_count, caller, clock, investigate, user,
};

fn access(store: &SqlStore, clock: &Arc<ManualClock>, prefix: &str) -> TestApp {
    TestApp::new(store, clock, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_that_end_while_no_worker_runs_are_ended_and_audited_by_the_next_run() {
    let TestStore {
        store, url, _dir, ..
    } = support::sqlite().await;
    let clock = clock();
    let first = access(&store, &clock, "a");
    let ended = active_grant(first.broker(), "alice", 60).await;
    let revoked = active_grant(first.broker(), "erin", 60).await;
    first
        .credentials(&caller("erin"), &revoked, None)
        .await
        .unwrap();
    first
        .revoke(&caller("bob"), &revoked, "done")
        .await
        .unwrap();
    let written = first.cloud().policy(ANALYST, REVOCATIONS_POLICY).unwrap();
    let pending = first
        .broker()
        .submit(investigate("alice", 30))
        .await
        .unwrap()
        .request
        .id;
    store.close().await;
    drop(first);

    // The broker is down for two hours; then a new process opens the same database.
    clock.advance(Duration::hours(2));
    let store = SqlStore::open(&url).await.unwrap();
    let second = access(&store, &clock, "b");
    // The revocation policy is still on the role, as AWS would still hold it.
    second
        .cloud()
        .policies
        .lock()
        .unwrap()
        .insert((ANALYST.to_owned(), REVOCATIONS_POLICY.to_owned()), written);
    let entries = store.revocations(None).await.unwrap();
    assert_eq!(
        entries.len(),
        1,
        "the revocation entry survived the restart"
    );
    let worker = Worker::new(Arc::clone(&second.app), WorkerConfig::new("replica-b"));
    let pass = worker.run_once().await.unwrap();
    let sweep = pass.sweep.unwrap();
    assert_eq!(sweep.expired, vec![ended.clone()]);
    assert_eq!(sweep.timed_out, vec![pending.clone()]);
    assert_eq!(
        audit_count(&store, "grant_expired", Some(ended.as_str())).await,
        1
    );
    assert_eq!(
        audit_count(&store, "request_timed_out", Some(pending.as_str())).await,
        1
    );
    let syncs = pass.revocations.unwrap();
    assert_eq!(syncs.len(), 1);
    let sync = syncs[0].as_ref().unwrap();
    assert_eq!(
        (sync.entries, sync.pruned),
        (0, 1),
        "the ended session's entry is pruned"
    );
    assert!(store.revocations(None).await.unwrap().is_empty());
    assert_eq!(second.cloud().policy(ANALYST, REVOCATIONS_POLICY), None);

    // A second pass finds nothing left to do.
    let again = worker.run_once().await.unwrap();
    assert_eq!(again.sweep.unwrap(), Default::default());
    assert!(again.revocations.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_never_mints_again_and_its_entry_outlives_its_sessions_only() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let id = active_grant(a.broker(), "alice", 60).await;
    let creds = a.credentials(&caller("alice"), &id, None).await.unwrap();
    // Erin may not read the request: for her it does not exist.
    let err = a.credentials(&caller("erin"), &id, None).await.unwrap_err();
    assert!(err.to_string().contains("no request"), "{err}");
    let revoked_at = clock.now();
    let revoked = a.revoke(&caller("bob"), &id, "contained").await.unwrap();
    let entry = revoked.entry.unwrap();
    // The session's end, or an hour after the revocation (the longest a session it chained
    // into lasts), whichever is later, plus the margin.
    assert_eq!(
        entry.session_end,
        creds
            .expiration
            .max(revoked_at + breakglass_core::app::CHAINED_SESSION_LIMIT)
            + breakglass_core::app::ENTRY_MARGIN
    );
    let err = a
        .credentials(&caller("alice"), &id, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is revoked, not active"), "{err}");
    assert_eq!(*a.cloud().minted.lock().unwrap(), 1);

    // Still needed until the session's end plus the margin (a console session can start
    // late), then pruned.
    clock.advance(Duration::minutes(59));
    assert_eq!(a.sync_all().await.unwrap()[0].as_ref().unwrap().entries, 1);
    clock.advance(breakglass_core::app::ENTRY_MARGIN);
    assert_eq!(a.sync_all().await.unwrap()[0].as_ref().unwrap().entries, 1);
    clock.advance(Duration::minutes(2));
    let sync = a.sync_all().await.unwrap();
    assert_eq!(sync[0].as_ref().unwrap().pruned, 1);
    assert_eq!(a.cloud().policy(ANALYST, REVOCATIONS_POLICY), None);
}

async fn leases_admit_one_holder(t: TestStore) {
    let now = support::clock().now();
    let s = &t.store;
    assert!(
        s.take_lease("sweep", "a", now, now + Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(
        !s.take_lease("sweep", "b", now, now + Duration::seconds(30))
            .await
            .unwrap()
    );
    // The holder renews.
    assert!(
        s.take_lease("sweep", "a", now, now + Duration::seconds(60))
            .await
            .unwrap()
    );
    // After the lease ran out, another replica takes over.
    let later = now + Duration::seconds(61);
    assert!(
        s.take_lease("sweep", "b", later, later + Duration::seconds(30))
            .await
            .unwrap()
    );
    assert!(
        !s.take_lease("sweep", "a", later, later + Duration::seconds(30))
            .await
            .unwrap()
    );
    // Release, and anyone may take it.
    s.release_lease("sweep", "a").await.unwrap();
    assert!(!s.take_lease("sweep", "a", later, later).await.unwrap());
    s.release_lease("sweep", "b").await.unwrap();
    assert!(s.take_lease("sweep", "a", later, later).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_admit_one_holder_on_sqlite() {
    leases_admit_one_holder(support::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_admit_one_holder_on_postgres() {
    let Some(t) = support::postgres().await else {
        eprintln!("skipped: {} is not set", breakglass_testkit::postgres::ENV);
        return;
    };
    leases_admit_one_holder(t).await;
}

/// Two broker processes (two pools) on one PostgreSQL database, each with its worker,
/// running passes concurrently: each job runs on one replica per lease period, and every
/// due grant is expired and audited exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_one_postgres_database_never_run_a_job_twice() {
    let Some(t) = support::postgres().await else {
        eprintln!("skipped: {} is not set", breakglass_testkit::postgres::ENV);
        return;
    };
    let clock = clock();
    let other = SqlStore::open(&t.url).await.unwrap();
    let a = access(&t.store, &clock, "a");
    let b = access(&other, &clock, "b");
    let mut ids = Vec::new();
    for i in 0..10 {
        let acc = if i % 2 == 0 { &a } else { &b };
        ids.push(active_grant(acc.broker(), "alice", 15).await);
    }
    clock.advance(Duration::minutes(20));

    let mut config_a = WorkerConfig::new("replica-a");
    config_a.sweep_limit = 3;
    let mut config_b = WorkerConfig::new("replica-b");
    config_b.sweep_limit = 3;
    let wa = Arc::new(Worker::new(Arc::clone(&a.app), config_a));
    let wb = Arc::new(Worker::new(Arc::clone(&b.app), config_b));
    let mut ran_a = 0;
    let mut ran_b = 0;
    let mut expired = Vec::new();
    for _ in 0..6 {
        let (pa, pb) = tokio::join!(wa.run_once(), wb.run_once());
        let (pa, pb) = (pa.unwrap(), pb.unwrap());
        assert!(
            pa.sweep.is_none() || pb.sweep.is_none(),
            "both replicas ran the sweep in the same period"
        );
        assert!(pa.revocations.is_none() || pb.revocations.is_none());
        if let Some(s) = pa.sweep {
            ran_a += 1;
            expired.extend(s.expired);
        }
        if let Some(s) = pb.sweep {
            ran_b += 1;
            expired.extend(s.expired);
        }
    }
    assert_eq!(ran_a + ran_b, 6, "one replica ran the sweep every period");
    expired.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(expired, want, "every grant expired once, none twice");
    for id in &ids {
        assert_eq!(
            audit_count(&t.store, "grant_expired", Some(id.as_str())).await,
            1
        );
    }
    // When the holder stops cleanly, the other replica takes over at once.
    let holder = if ran_a > 0 { &a } else { &b };
    for job in ["sweep", "revocations"] {
        holder
            .release_lease(job, if ran_a > 0 { "replica-a" } else { "replica-b" })
            .await
            .unwrap();
    }
    let (pa, pb) = tokio::join!(wa.run_once(), wb.run_once());
    let (pa, pb) = (pa.unwrap(), pb.unwrap());
    assert!(pa.sweep.is_some() != pb.sweep.is_some());
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_loop_stops_cleanly_and_releases_its_leases() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let mut config = WorkerConfig::new("replica-a");
    config.interval = std::time::Duration::from_millis(20);
    let worker = Arc::new(Worker::new(Arc::clone(&a.app), config));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let passes = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = Arc::clone(&passes);
    let w = Arc::clone(&worker);
    let task = tokio::spawn(async move {
        w.run(rx, move |p| {
            assert!(p.is_ok());
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .await
    });
    while passes.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    task.await.unwrap().unwrap();
    let now = clock.now();
    assert!(
        store
            .take_lease("sweep", "someone-else", now, now)
            .await
            .unwrap()
    );
}

/// Regression: a broker that stops between committing a revocation and recording its
/// entry must not leave the grant's live sessions working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_interrupted_before_its_entry_is_completed_by_the_worker() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let id = active_grant(a.broker(), "alice", 60).await;
    a.credentials(&caller("alice"), &id, None).await.unwrap();
    // The revocation is committed, then the process dies before the entry is written.
    a.broker()
        .revoke(&id, user("bob"), "contained")
        .await
        .unwrap();
    assert!(store.revocations(None).await.unwrap().is_empty());
    assert_eq!(a.cloud().policy(ANALYST, REVOCATIONS_POLICY), None);

    let worker = Worker::new(Arc::clone(&a.app), WorkerConfig::new("replica-a"));
    let pass = worker.run_once().await.unwrap();
    assert_eq!(pass.restored, vec![id.clone()]);
    let policy = a.cloud().policy(ANALYST, REVOCATIONS_POLICY).unwrap();
    let grant = a.broker().get(&id).await.unwrap().value.grant.unwrap();
    assert!(
        policy.contains(&format!("{}:{}", support::FAKE_ROLE_ID, grant.id)),
        "{policy}"
    );
    // Done once: the next pass restores nothing.
    assert!(worker.run_once().await.unwrap().restored.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_carry_the_grant_identity_and_last_its_remaining_time() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let id = active_grant(a.broker(), "alice", 60).await;
    let grant = a.broker().get(&id).await.unwrap().value.grant.unwrap();
    clock.advance(Duration::minutes(10));
    let creds = a.credentials(&caller("alice"), &id, None).await.unwrap();
    let asked = a.cloud().last.lock().unwrap().clone().unwrap();
    assert_eq!(asked.grant, grant.id);
    assert_eq!(asked.source_identity, "alice");
    assert_eq!(asked.role_arn, ANALYST);
    let tags: Vec<(&str, &str)> = asked
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        tags,
        [
            ("IncidentId", "INC-2024-001"),
            ("GrantId", grant.id.as_str()),
            ("Requester", "alice")
        ]
    );
    assert!(
        asked
            .session_policy
            .unwrap()
            .contains("cloudtrail:LookupEvents")
    );
    // 50 minutes left, less the 5-second clock allowance.
    assert_eq!(asked.duration, Duration::minutes(50) - Duration::seconds(5));
    assert!(creds.expiration < grant.end);
    // The stored record holds the key id and the token's hash, never the token.
    let stored = a.broker().get(&id).await.unwrap().value.grant.unwrap();
    assert_eq!(stored.issued[0].access_key_id, creds.access_key_id);
    assert_eq!(
        stored.issued[0].session_token_sha256,
        breakglass_core::canonical::Sha256Digest::of(creds.session_token.expose().as_bytes())
    );

    // Under STS's 15-minute minimum (plus the allowance) nothing is minted.
    clock.advance(Duration::minutes(36));
    let err = a
        .credentials(&caller("alice"), &id, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("900-second minimum"), "{err}");
    assert_eq!(*a.cloud().minted.lock().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_that_would_overflow_the_role_quota_is_reported_not_written() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}]}}"#,
        "x".repeat(10_150)
    );
    a.cloud()
        .policies
        .lock()
        .unwrap()
        .insert((ANALYST.to_owned(), "Investigation".to_owned()), big);
    let id = active_grant(a.broker(), "alice", 60).await;
    a.credentials(&caller("alice"), &id, None).await.unwrap();
    let err = a
        .revoke(&caller("bob"), &id, "contained")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("will not mint credentials again"), "{msg}");
    assert!(msg.contains("10240"), "{msg}");
    assert!(msg.contains("AWSRevokeOlderSessions"), "{msg}");
    assert_eq!(a.cloud().policy(ANALYST, REVOCATIONS_POLICY), None);
    // The grant is revoked all the same, and the entry is kept for the worker to retry.
    assert!(a.credentials(&caller("alice"), &id, None).await.is_err());
    assert_eq!(store.revocations(None).await.unwrap().len(), 1);
    let pass = Worker::new(Arc::clone(&a.app), WorkerConfig::new("replica-a"))
        .run_once()
        .await
        .unwrap();
    let syncs = pass.revocations.unwrap();
    assert!(syncs[0].as_ref().unwrap_err().1.contains("10240"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_session_lasts_as_long_as_the_credentials() {
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let id = active_grant(a.broker(), "alice", 60).await;
    let url = a
        .console_url(
            &caller("alice"),
            &id,
            "https://console.aws.amazon.com/",
            None,
        )
        .await
        .unwrap();
    assert_eq!(format!("{url:?}"), "Secret([redacted])");
    assert!(
        url.expose().contains("SessionDuration=3595&"),
        "{}",
        url.expose()
    );
    // The grant's last minutes: 905 seconds left gives 900-second credentials and console.
    clock.advance(Duration::seconds(3_600 - 905));
    let url = a
        .console_url(
            &caller("alice"),
            &id,
            "https://console.aws.amazon.com/",
            None,
        )
        .await
        .unwrap();
    assert!(
        url.expose().contains("SessionDuration=900&"),
        "{}",
        url.expose()
    );
    assert!(
        a.console_url(
            &caller("erin"),
            &id,
            "https://console.aws.amazon.com/",
            None
        )
        .await
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_else_asking_for_a_grants_credentials_is_refused_and_audited() {
    use breakglass_core::ports::Store as _;
    let TestStore { store, _dir, .. } = support::sqlite().await;
    let clock = clock();
    let a = access(&store, &clock, "a");
    let id = active_grant(a.broker(), "alice", 60).await;

    let err = a
        .credentials(&caller("mallory"), &id, None)
        .await
        .unwrap_err();
    // Mallory may not read the request: she is told it does not exist, not whose it is;
    // the audit record says both.
    let msg = err.to_string();
    assert!(
        msg.contains("no request") && !msg.contains("alice"),
        "{msg}"
    );
    // The console URL goes through the same check.
    assert!(
        a.console_url(
            &caller("mallory"),
            &id,
            "https://console.aws.amazon.com/",
            None
        )
        .await
        .is_err()
    );
    assert_eq!(*a.cloud().minted.lock().unwrap(), 0);
    assert!(
        a.broker()
            .get(&id)
            .await
            .unwrap()
            .value
            .grant
            .unwrap()
            .issued
            .is_empty()
    );

    let rows = store.audit_rows(0, 500).await.unwrap();
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "action_refused" && r.request.as_deref() == Some(id.as_str()))
        .collect();
    assert_eq!(refused.len(), 2, "{rows:?}");
    for row in refused {
        assert_eq!(row.actor.as_deref(), Some("mallory"));
        let body: serde_json::Value = serde_json::from_str(&row.body).unwrap();
        let text = body.to_string();
        assert!(text.contains("not `mallory`"), "{text}");
        assert!(text.contains(r#""action":"request""#), "{text}");
    }

    // The requester still gets credentials.
    a.credentials(&caller("alice"), &id, None).await.unwrap();
    assert_eq!(
        audit_count(&store, "credentials_issued", Some(id.as_str())).await,
        1
    );
}

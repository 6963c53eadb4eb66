//! Crash safety: a child process (this test binary, re-executed) runs transitions as fast as
//! it can and is killed with SIGKILL mid-batch, several times over the same store. After
//! each kill the store reopens, the chain verifies, every transition is wholly there or
//! wholly absent, and nothing the child saw committed is lost.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use breakglass_core::audit::{AuditRecord, ChainVerifier};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::ports::Store;
use breakglass_core::request::ReviewOutcome;
use breakglass_store::SqlStore;
use breakglass_testkit::postgres::{TestSchema, server_url};
use time::Duration;

use crate::support::{T0, all_rows, broker_with_ids, new_request, user};

const CHILD_ENV: &str = "BREAKGLASS_CRASH_CHILD_STORE";
const ROUND_ENV: &str = "BREAKGLASS_CRASH_CHILD_ROUND";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The child: commits transitions forever, printing the audit head after each commit.
#[test]
#[ignore = "run as a child process by the SIGKILL tests"]
fn crash_child() {
    let (Ok(url), Ok(round)) = (std::env::var(CHILD_ENV), std::env::var(ROUND_ENV)) else {
        return;
    };
    runtime().block_on(async move {
        let store = SqlStore::open(&url).await.unwrap();
        let clock = std::sync::Arc::new(breakglass_core::ports::ManualClock::new(T0));
        let b = broker_with_ids(&store, &clock, &format!("k{round}-"));
        let report = |seqs: &[u64]| {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            writeln!(out, "committed {}", seqs.last().unwrap()).unwrap();
            out.flush().unwrap();
        };
        for i in 0u64.. {
            clock.advance(Duration::seconds(1));
            let s = b
                .submit(new_request(
                    "alice",
                    "investigate",
                    "111111111111",
                    60,
                    "INC-CRASH",
                ))
                .await
                .unwrap();
            report(&s.audit_seqs);
            let id = s.request.id.clone();
            report(
                &b.approve(&id, user("bob"), s.request.digest, "")
                    .await
                    .unwrap()
                    .audit_seqs,
            );
            report(
                &b.approve(&id, user("carol"), s.request.digest, "")
                    .await
                    .unwrap()
                    .audit_seqs,
            );
            report(&b.activate(&id, user("alice")).await.unwrap().audit_seqs);
            let token = Sha256Digest::of(format!("token {i}").as_bytes());
            let expiry = clock_now(&clock) + Duration::minutes(15);
            report(
                &b.record_issuance(&id, format!("ASIACRASH{i:011}"), token, expiry)
                    .await
                    .unwrap()
                    .audit_seqs,
            );
            report(
                &b.revoke(&id, user("alice"), "done")
                    .await
                    .unwrap()
                    .audit_seqs,
            );
            if i % 3 == 0 {
                let bg = b
                    .activate_break_glass(
                        new_request("bob", "contain", "111111111111", 30, "INC-CRASH"),
                        true,
                    )
                    .await
                    .unwrap();
                report(&bg.audit_seqs);
                report(
                    &b.revoke(&bg.request.id, user("bob"), "contained")
                        .await
                        .unwrap()
                        .audit_seqs,
                );
                report(
                    &b.review(
                        &bg.request.id,
                        user("carol"),
                        ReviewOutcome::Appropriate,
                        "ok",
                    )
                    .await
                    .unwrap()
                    .audit_seqs,
                );
            }
        }
    });
}

fn clock_now(clock: &breakglass_core::ports::ManualClock) -> time::OffsetDateTime {
    breakglass_core::ports::Clock::now(clock)
}

/// Starts the child on `url`, waits until it has committed `commits` times, SIGKILLs it,
/// and returns the last audit sequence number it reported committed.
fn run_and_kill(url: &str, round: u32, commits: usize) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, url)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut last = 0;
    let mut seen = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("committed ") {
            last = seq.parse().unwrap();
            seen += 1;
            if seen >= commits {
                break;
            }
        }
    }
    // `kill` is SIGKILL on Unix: no destructor, no rollback, no flush runs in the child.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        seen >= commits,
        "the child stopped after {seen} commits ({status}): {}",
        std::io::read_to_string(child.stderr.take().unwrap()).unwrap_or_default()
    );
    last
}

/// What must hold after a crash.
async fn check_consistent(url: &str, acknowledged: u64) {
    let store = SqlStore::open(url).await.unwrap();
    let mut verifier = ChainVerifier::new(None);
    let mut records: Vec<AuditRecord> = Vec::new();
    for row in all_rows(&store).await {
        records.push(
            verifier
                .push(&row)
                .unwrap_or_else(|p| panic!("chain broken after a crash: {p}")),
        );
    }
    let head = store.audit_head().await.unwrap();
    let chain = verifier.finish(head).unwrap();
    assert!(
        chain.head.seq >= acknowledged,
        "acknowledged record #{acknowledged} was lost (head #{})",
        chain.head.seq
    );

    // Each request's stored version is exactly the number of transitions recorded for it,
    // and its last record agrees with its status: no half-applied transition.
    let mut per_request: BTreeMap<String, Vec<&AuditRecord>> = BTreeMap::new();
    for r in &records {
        if let (Some(id), Some(_)) = (r.event.request(), r.request_version) {
            per_request.entry(id.to_string()).or_default().push(r);
        }
    }
    for (id, recs) in &per_request {
        let stored = store
            .get(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} has audit records but no row"));
        let mut versions: Vec<u64> = recs.iter().filter_map(|r| r.request_version).collect();
        versions.dedup();
        assert_eq!(versions, (1..=stored.version).collect::<Vec<_>>(), "{id}");
        let last = recs.last().unwrap().event.kind();
        let status = stored.value.status.name();
        let agrees = match status {
            "pending" => matches!(last, "request_submitted" | "approval_recorded"),
            "approved" => last == "request_approved",
            "active" => matches!(
                last,
                "grant_activated" | "credentials_issued" | "break_glass_activated"
            ),
            "revoked" => matches!(last, "grant_revoked" | "review_completed"),
            _ => false,
        };
        assert!(agrees, "{id} is {status} but its last record is {last}");
    }
    // Every row has its records: none was written without them.
    let rows = store.requests(&Default::default()).await.unwrap();
    for r in rows {
        assert!(
            per_request.contains_key(r.value.id.as_str()),
            "{} has no audit record",
            r.value.id
        );
    }
    // Every outbox message points at a record that exists.
    let outbox = store
        .outbox_due(T0 + Duration::days(365), 1_000)
        .await
        .unwrap();
    assert!(!outbox.is_empty());
    assert!(outbox.iter().all(|m| m.audit_seq <= chain.head.seq));
    store.close().await;
}

fn crash_rounds(url: &str) {
    let rt = runtime();
    // Kill at different depths of the workload's cycle.
    for (round, commits) in [(1, 23), (2, 40), (3, 57), (4, 9)] {
        let acknowledged = run_and_kill(url, round, commits);
        rt.block_on(check_consistent(url, acknowledged));
    }
}

#[test]
fn sigkill_mid_batch_leaves_sqlite_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    crash_rounds(&url);
}

#[test]
fn sigkill_mid_batch_leaves_postgres_consistent() {
    let Some(server) = server_url() else { return };
    let schema = runtime().block_on(TestSchema::create(&server)).unwrap();
    crash_rounds(schema.url());
}

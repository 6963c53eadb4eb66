//! Commit throughput of the store: broker transitions (request row with version check, audit
//! records sealed onto the locked chain head, outbox rows, one transaction each) against the
//! reference of a bare durable single-row insert transaction on the same database with the
//! same settings, measured in the same run. Runs on SQLite, and on PostgreSQL when
//! `BREAKGLASS_TEST_POSTGRES_URL` is set.
//!
//! `cargo bench -p breakglass-store --bench commit`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{ManualClock, SequentialIds};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_store::SqlStore;
use breakglass_testkit::postgres::TestSchema;
use sqlx::Connection as _;
use time::macros::datetime;

const LIFECYCLES: usize = 200;
const COMMITS_PER_LIFECYCLE: usize = 5;

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

async fn broker_commits(url: &str) -> (StdDuration, String) {
    let store = SqlStore::open(url).await.unwrap();
    let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2024-03-01 12:00:00 UTC)));
    let b = Broker::new(
        store.clone(),
        Arc::clone(&clock),
        SequentialIds::new("b").unwrap(),
        Rules::new(catalog, &[]).unwrap(),
        Settings::default(),
    );
    let new = NewRequest {
        requester: user("alice"),
        playbook: PlaybookId::new("investigate").unwrap(),
        role: RoleName::new("SecurityAnalyst").unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: time::Duration::hours(1),
        incident: IncidentId::new("INC-BENCH").unwrap(),
        justification: "benchmark".to_owned(),
    };
    let start = Instant::now();
    let mut doc = String::new();
    for _ in 0..LIFECYCLES {
        let r = b.submit(new.clone()).await.unwrap().request;
        b.approve(&r.id, user("bob"), r.digest, "").await.unwrap();
        b.approve(&r.id, user("carol"), r.digest, "").await.unwrap();
        b.activate(&r.id, user("alice")).await.unwrap();
        let out = b.revoke(&r.id, user("alice"), "done").await.unwrap();
        doc = serde_json::to_string(&out.request).unwrap();
    }
    let elapsed = start.elapsed();
    store.close().await;
    (elapsed, doc)
}

/// The reference: the same number of single-row insert transactions of a document the size
/// of a request's, through a connection with the store's settings.
async fn bare_commits(url: &str, doc: &str) -> StdDuration {
    let n = LIFECYCLES * COMMITS_PER_LIFECYCLE;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("CREATE TABLE bench_reference (id BIGINT PRIMARY KEY, doc TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let start = Instant::now();
        for i in 0..n {
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("INSERT INTO bench_reference (id, doc) VALUES ($1, $2)")
                .bind(i as i64)
                .bind(doc)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        start.elapsed()
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .unwrap()
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE bench_reference (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let start = Instant::now();
        for i in 0..n {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("INSERT INTO bench_reference (id, doc) VALUES ($1, $2)")
                .bind(i as i64)
                .bind(doc)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        start.elapsed()
    }
}

async fn report(backend: &str, url: &str) {
    let (broker, doc) = broker_commits(url).await;
    let bare = bare_commits(url, &doc).await;
    let n = (LIFECYCLES * COMMITS_PER_LIFECYCLE) as f64;
    println!(
        "{backend}: {n} broker commits in {:.2?} ({:.0}/s); reference bare insert transactions {:.2?} ({:.0}/s); ratio broker/reference {:.2}",
        broker,
        n / broker.as_secs_f64(),
        bare,
        n / bare.as_secs_f64(),
        broker.as_secs_f64() / bare.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        report("SQLite", &url).await;
        match std::env::var(breakglass_testkit::postgres::ENV) {
            Ok(server) if !server.is_empty() => {
                let schema = TestSchema::create(&server).await.unwrap();
                report("PostgreSQL", schema.url()).await;
            }
            _ => println!(
                "PostgreSQL: skipped ({} is unset)",
                breakglass_testkit::postgres::ENV
            ),
        }
    });
}

//! Test stores on each backend, a broker over them, and chain verification.

use std::sync::Arc;

use breakglass_core::audit::{ChainProblem, ChainVerifier, StoredAuditRow, VerifiedChain};
use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{ManualClock, SequentialIds, Store};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_store::SqlStore;
use breakglass_testkit::postgres::{TestSchema, server_url};
use time::{Duration, OffsetDateTime, macros::datetime};

pub const T0: OffsetDateTime = datetime!(2024-03-01 12:00:00 UTC);

/// A store plus whatever keeps its database alive (a temp dir or a throwaway schema).
pub struct TestStore {
    pub store: SqlStore,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("breakglass.db").display());
    TestStore {
        store: SqlStore::open(&url).await.unwrap(),
        url,
        _dir: Some(dir),
        _schema: None,
    }
}

pub async fn postgres() -> Option<TestStore> {
    let server = server_url()?;
    let schema = TestSchema::create(&server)
        .await
        .expect("a throwaway schema on the test server");
    let url = schema.url().to_owned();
    Some(TestStore {
        store: SqlStore::open(&url).await.unwrap(),
        url,
        _dir: None,
        _schema: Some(schema),
    })
}

/// Runs each named `async fn(TestStore)` on SQLite and (when configured) PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = crate::support::postgres().await else { return };
                    super::$name(store).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

pub fn catalog() -> Catalog {
    serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap()
}

pub type TestBroker = Broker<SqlStore, Arc<ManualClock>, SequentialIds>;

pub fn broker(store: &SqlStore, clock: &Arc<ManualClock>) -> TestBroker {
    broker_with_ids(store, clock, "t")
}

pub fn broker_with_ids(store: &SqlStore, clock: &Arc<ManualClock>, prefix: &str) -> TestBroker {
    Broker::new(
        store.clone(),
        Arc::clone(clock),
        SequentialIds::new(prefix).unwrap(),
        Rules::new(catalog(), &[]).unwrap(),
        Settings::default(),
    )
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

pub fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

pub fn new_request(
    who: &str,
    playbook: &str,
    account: &str,
    minutes: i64,
    incident: &str,
) -> NewRequest {
    let role = if playbook == "contain" {
        "SecurityBreakGlass"
    } else {
        "SecurityAnalyst"
    };
    NewRequest {
        requester: user(who),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new(account).unwrap(),
        duration: Duration::minutes(minutes),
        incident: IncidentId::new(incident).unwrap(),
        justification: "investigating GuardDuty finding".to_owned(),
    }
}

/// Submits a request through the broker and returns it as stored.
pub async fn submitted(
    b: &TestBroker,
    who: &str,
    playbook: &str,
    account: &str,
    minutes: i64,
    incident: &str,
) -> breakglass_core::request::AccessRequest {
    b.submit(new_request(who, playbook, account, minutes, incident))
        .await
        .unwrap()
        .request
}

pub async fn all_rows(store: &SqlStore) -> Vec<StoredAuditRow> {
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_rows(after, 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        rows.extend(page);
    }
    rows
}

pub async fn verify_chain(store: &SqlStore) -> Result<VerifiedChain, ChainProblem> {
    let mut v = ChainVerifier::new(None);
    for row in all_rows(store).await {
        v.push(&row)?;
    }
    v.finish(store.audit_head().await.unwrap())
}

/// Runs one raw statement on the test database, bypassing the store (as an operator, or an
/// attacker with database access, could).
pub async fn raw_execute(url: &str, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::Connection as _;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let done = sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
        Ok(done.rows_affected())
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let done = sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
        Ok(done.rows_affected())
    }
}

/// Every text column of every table, concatenated (to prove a secret is stored nowhere).
pub async fn everything_stored(url: &str) -> String {
    use sqlx::{Connection as _, Row as _};
    let queries = [
        "SELECT id || version || doc AS t FROM requests",
        "SELECT body || hash AS t FROM audit_log",
        "SELECT notification AS t FROM outbox",
    ];
    let mut out = String::new();
    for q in queries {
        let rows: Vec<String> = if url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(q)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("t"))
                .collect()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(q)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("t"))
                .collect()
        };
        out.extend(rows);
    }
    out
}

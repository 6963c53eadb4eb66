//! The audit chain against someone who can write the database: keyed with the broker's key,
//! anchored in S3 under Object Lock (on the emulator), and verified beside a live writer.
//!
//! The attack each test replays is the one the chain alone cannot see: drop the append-only
//! triggers, delete the newest records, point the head at the new last one. Every link and
//! the head then agree; only an anchor kept outside the database knows the chain was longer.

use std::ops::ControlFlow;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Connection as _;

use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule,
};
use breakglass_aws::anchor::S3Anchors;
use breakglass_core::app::{Anchoring, Check, Walk, anchor_head, walk};
use breakglass_core::broker::Broker;
use breakglass_core::model::{AccountId, Catalog, IncidentId, PlaybookId, RoleName, Username};
use breakglass_core::ports::{AnchorStore as _, ManualClock, SequentialIds};
use breakglass_core::request::{NewRequest, Settings};
use breakglass_core::rules::Rules;
use breakglass_server::auth::seal::SealKey;
use breakglass_store::SqlStore;
use breakglass_testkit::moto::Moto;
use breakglass_testkit::postgres::{TestSchema, server_url};
use time::macros::datetime;

use crate::support::{BIN, KEY, aws_env, text};

const BUCKET: &str = "breakglass-audit-anchors";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn chain_key() -> breakglass_core::audit::ChainKey {
    SealKey::from_hex(KEY).unwrap().chain_key()
}

/// A SQLite store file in `dir`.
fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("breakglass.db").display())
}

/// The store at `url`, sealing with the broker's key, as `serve` opens it.
async fn keyed_store(url: &str) -> SqlStore {
    SqlStore::open(url)
        .await
        .unwrap()
        .with_chain_key(chain_key())
}

async fn sdk(moto: &Moto) -> breakglass_aws::sdk::SdkConfig {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    breakglass_aws::sdk::load(&breakglass_aws::sdk::AwsOptions {
        endpoint_url: Some(moto.endpoint()),
        region: Some("us-east-1".to_owned()),
        profile: None,
    })
    .await
    .into_builder()
    .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
    .build()
}

/// A bucket with Object Lock on, as an operator would create it for the anchors.
async fn locked_bucket(sdk: &breakglass_aws::sdk::SdkConfig, name: &str) {
    let s3 = s3_client(sdk);
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    s3.put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn new_request(n: u64) -> NewRequest {
    NewRequest {
        requester: Username::new("alice").unwrap(),
        playbook: PlaybookId::new("investigate").unwrap(),
        role: RoleName::new("SecurityAnalyst").unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: time::Duration::minutes(30),
        incident: IncidentId::new("INC-42").unwrap(),
        justification: format!("GuardDuty finding {n}: checking the trail"),
    }
}

type TestBroker = Broker<SqlStore, Arc<ManualClock>, SequentialIds>;

fn broker(store: SqlStore) -> TestBroker {
    let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
    Broker::new(
        store,
        Arc::new(ManualClock::new(datetime!(2026-12-01 12:00:00 UTC))),
        SequentialIds::new("a").unwrap(),
        Rules::new(catalog, &[]).unwrap(),
        Settings::default(),
    )
}

async fn submit(b: &TestBroker, from: u64, n: u64) {
    for i in from..from + n {
        b.submit(new_request(i)).await.unwrap();
    }
}

/// `breakglass audit verify` with the broker's key and the bucket's latest anchor.
fn verify(url: &str, moto: &Moto, anchored: bool) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    aws_env(&mut cmd)
        .args(["audit", "verify", "--store", url])
        .env("BREAKGLASS_TOTP_KEY", KEY)
        .env_remove("BREAKGLASS_STORE")
        .env_remove("BREAKGLASS_AUDIT_ANCHOR_BUCKET");
    if anchored {
        cmd.args([
            "--anchor-bucket",
            BUCKET,
            "--endpoint-url",
            &moto.endpoint(),
        ]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        text(&out.stdout) + &text(&out.stderr),
    )
}

/// Writes a keyed chain, anchors it in S3, lets it grow, then cuts it short as an attacker
/// holding the database would (`tamper` runs the SQL): only the anchor catches it.
fn truncation_is_caught(url: &str, tamper: impl FnOnce(u64)) {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    let anchored = rt.block_on(async {
        let sdk = sdk(&moto).await;
        locked_bucket(&sdk, BUCKET).await;
        let store = keyed_store(url).await;
        let b = broker(store.clone());
        submit(&b, 1, 8).await;
        let anchors = S3Anchors::new(
            &sdk,
            BUCKET,
            "breakglass/audit-anchors/",
            time::Duration::days(1),
            chain_key(),
        );
        anchors.check().await.unwrap();
        let now = datetime!(2026-12-01 12:10:00 UTC);
        let first = anchor_head(&store, &anchors, None, now).await.unwrap();
        let Anchoring::Anchored(first) = first else {
            panic!("nothing anchored: {first:?}")
        };
        // The chain grows past the anchor: it stays valid; a second pass anchors the new head.
        submit(&b, 9, 4).await;
        let second = anchor_head(&store, &anchors, Some(first), now)
            .await
            .unwrap();
        let Anchoring::Anchored(second) = second else {
            panic!("nothing anchored: {second:?}")
        };
        assert_eq!(anchors.latest().await.unwrap().anchor, Some(second));
        assert_eq!(
            anchor_head(&store, &anchors, Some(second), now)
                .await
                .unwrap(),
            Anchoring::Unchanged
        );
        submit(&b, 13, 3).await;
        store.close().await;
        second
    });
    let (code, out) = verify(url, &moto, true);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("latest anchor in s3://{BUCKET}/")),
        "{out}"
    );
    assert!(out.contains("anchors checked: 1"), "{out}");

    // The attack: records from #(anchored - 2) on deleted, the head moved back.
    let keep = anchored.seq - 3;
    tamper(keep);
    let (code, out) = verify(url, &moto, false);
    assert_eq!(
        code, 0,
        "without the anchor the cut chain looks whole: {out}"
    );
    let (code, out) = verify(url, &moto, true);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit chain BROKEN"), "{out}");
    assert!(
        out.contains(&format!(
            "an anchor names record #{} but the chain ends at #{keep} (records cut off the end)",
            anchored.seq
        )),
        "{out}"
    );
    // The broker's own anchoring pass sees it too, and anchors nothing over it.
    rt.block_on(async {
        let sdk = sdk(&moto).await;
        let store = keyed_store(url).await;
        let anchors = S3Anchors::new(
            &sdk,
            BUCKET,
            "breakglass/audit-anchors/",
            time::Duration::days(1),
            chain_key(),
        );
        let latest = anchors.latest().await.unwrap().anchor;
        let pass = anchor_head(&store, &anchors, latest, datetime!(2026-12-01 12:20:00 UTC))
            .await
            .unwrap();
        assert!(
            matches!(&pass, Anchoring::Tampered(p) if p.contains("is gone")),
            "{pass:?}"
        );
        assert_eq!(anchors.latest().await.unwrap().anchor, latest);
        store.close().await;
    });
}

/// The attacker's SQL: the append-only triggers dropped, records after `keep` (and the
/// notifications pointing at them) deleted, the head moved back to `keep`.
fn truncation(keep: u64, drop_triggers: &[&str]) -> Vec<String> {
    let mut stmts: Vec<String> = drop_triggers.iter().map(|s| (*s).to_owned()).collect();
    stmts.extend([
        format!("DELETE FROM outbox WHERE audit_seq > {keep}"),
        format!("DELETE FROM audit_log WHERE seq > {keep}"),
        format!(
            "UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep}) WHERE id = 1"
        ),
    ]);
    stmts
}

/// Runs `stmts` on a connection of its own to the store at `url`.
fn run_sql<C: sqlx::Connection>(url: &str, stmts: &[String])
where
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
{
    runtime().block_on(async {
        let mut conn = C::connect(url).await.unwrap();
        for stmt in stmts {
            sqlx::query(stmt)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
        conn.close().await.unwrap();
    });
}

#[test]
fn a_truncated_sqlite_chain_is_caught_by_the_s3_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    truncation_is_caught(&url, |keep| {
        let drop = [
            "PRAGMA foreign_keys = OFF",
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ];
        run_sql::<sqlx::SqliteConnection>(&url, &truncation(keep, &drop));
    });
}

#[test]
fn a_truncated_postgres_chain_is_caught_by_the_s3_anchor() {
    let Some(server) = server_url() else { return };
    let schema = runtime().block_on(TestSchema::create(&server)).unwrap();
    let url = schema.url().to_owned();
    truncation_is_caught(&url, |keep| {
        let drop = ["DROP TRIGGER audit_log_no_update ON audit_log"];
        run_sql::<sqlx::PgConnection>(&url, &truncation(keep, &drop));
    });
    drop(schema);
}

/// 1,000 verifications while another task keeps writing: every one must say intact.
fn no_false_alarms_beside_a_writer(url: &str) {
    let rt = runtime();
    rt.block_on(async {
        let store = keyed_store(url).await;
        let b = broker(store.clone());
        submit(&b, 1, 5).await;
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut n = 100;
                // Bounded, so the chain each verification reads stays short.
                while !done.load(Ordering::Relaxed) && n < 400 {
                    b.submit(new_request(n)).await.unwrap();
                    n += 1;
                    tokio::task::yield_now().await;
                }
                n - 100
            })
        };
        let mut alarms = Vec::new();
        for i in 0..1000 {
            let check = Check {
                key: Some(chain_key()),
                anchors: Vec::new(),
            };
            match walk(&store, check, |_, _| Ok::<_, ()>(ControlFlow::Continue(()))).await {
                Ok(Walk::Intact { .. }) => {}
                other => alarms.push(format!("verification {i}: {other:?}")),
            }
        }
        done.store(true, Ordering::Relaxed);
        let written = writer.await.unwrap();
        assert!(
            written > 0,
            "the writer wrote nothing during the verifications"
        );
        assert!(
            alarms.is_empty(),
            "{} false alarms: {alarms:#?}",
            alarms.len()
        );
        store.close().await;
    });
}

#[test]
fn verification_beside_a_live_writer_on_sqlite_never_cries_wolf() {
    let dir = tempfile::tempdir().unwrap();
    no_false_alarms_beside_a_writer(&sqlite_url(&dir));
}

#[test]
fn verification_beside_a_live_writer_on_postgres_never_cries_wolf() {
    let Some(server) = server_url() else { return };
    let rt = runtime();
    let schema = rt.block_on(TestSchema::create(&server)).unwrap();
    no_false_alarms_beside_a_writer(schema.url());
    drop(schema);
}

fn s3_client(sdk: &breakglass_aws::sdk::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

fn anchors_in(sdk: &breakglass_aws::sdk::SdkConfig) -> S3Anchors {
    S3Anchors::new(
        sdk,
        BUCKET,
        "breakglass/audit-anchors/",
        time::Duration::days(1),
        chain_key(),
    )
}

/// The application the broker runs, over `store` (the cloud is the in-memory double: the
/// anchorer never calls it).
fn app_over(store: SqlStore) -> Arc<breakglass_server::app::AppService> {
    let manual = Arc::new(ManualClock::new(datetime!(2026-12-01 12:00:00 UTC)));
    let clock: Arc<dyn breakglass_core::ports::Clock> = manual.clone();
    let ids: Arc<dyn breakglass_core::ports::IdSource> = Arc::new(SequentialIds::new("b").unwrap());
    let catalog: Catalog = serde_json::from_str(breakglass_testkit::CATALOG_JSON).unwrap();
    let broker = Arc::new(Broker::new(
        store,
        clock,
        ids,
        Rules::new(catalog, &[]).unwrap(),
        Settings::default(),
    ));
    let cloud: breakglass_core::cloud::SharedCloud =
        Arc::new(breakglass_testkit::cloud::FakeCloud::new(&manual));
    Arc::new(breakglass_core::app::App::new(broker, cloud))
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    n
}

/// A forged head (a record number and hash the chain does not have) is never anchored: the
/// anchor would be locked for its whole retention and every verification would fail on an
/// intact chain. The pass reports tampering, audited and alerted once however many passes
/// see it.
#[test]
fn a_forged_head_is_never_anchored_and_tampering_pages_once() {
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    runtime().block_on(async {
        let sdk = sdk(&moto).await;
        locked_bucket(&sdk, BUCKET).await;
        let store = keyed_store(&url).await;
        // An empty chain anchors nothing (there is no record #0 to anchor).
        let anchors = anchors_in(&sdk);
        let now = datetime!(2026-12-01 12:10:00 UTC);
        assert_eq!(
            anchor_head(&store, &anchors, None, now).await.unwrap(),
            Anchoring::Unchanged
        );
        assert_eq!(anchors.latest().await.unwrap().anchor, None);

        submit(&broker(store.clone()), 1, 5).await;
        let app = app_over(store.clone());
        let mut anchorer = breakglass_server::anchorer::Anchorer::start(
            Arc::clone(&app),
            anchors.clone().shared(),
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap();
        let Anchoring::Anchored(first) = anchorer.run_once().await.unwrap() else {
            panic!("nothing anchored")
        };
        // The attacker moves the head past the chain.
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(&format!(
            "UPDATE audit_head SET seq = seq + 1, hash = '{}' WHERE id = 1",
            "f".repeat(64)
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        for _ in 0..3 {
            let pass = anchorer.run_once().await.unwrap();
            assert!(matches!(pass, Anchoring::Tampered(_)), "{pass:?}");
            assert_eq!(anchors.latest().await.unwrap().anchor, Some(first));
        }
        let kind = "kind = 'audit_chain_tampered'";
        assert_eq!(
            count(
                &url,
                &format!("SELECT count(*) FROM audit_log WHERE {kind}")
            )
            .await,
            1
        );
        assert_eq!(
            count(&url, &format!("SELECT count(*) FROM outbox WHERE {kind}")).await,
            1
        );
        store.close().await;
    });
}

/// Objects put in the anchor bucket by someone without the key (a higher-numbered anchor,
/// one that sorts first of all, a new version over the real one, a delete marker hiding it)
/// are passed over and reported; the real latest anchor is still found.
#[test]
fn objects_in_the_bucket_not_made_with_the_key_are_passed_over() {
    use aws_sdk_s3::primitives::{ByteStream, DateTime};
    use aws_sdk_s3::types::ObjectLockMode;
    let Some(moto) = Moto::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    runtime().block_on(async {
        let sdk = sdk(&moto).await;
        locked_bucket(&sdk, BUCKET).await;
        let store = keyed_store(&url).await;
        submit(&broker(store.clone()), 1, 4).await;
        let anchors = anchors_in(&sdk);
        let now = datetime!(2026-12-01 12:10:00 UTC);
        let Anchoring::Anchored(real) = anchor_head(&store, &anchors, None, now).await.unwrap()
        else {
            panic!("nothing anchored")
        };
        let s3 = s3_client(&sdk);
        let prefix = "breakglass/audit-anchors/";
        let forged = |seq: u64| {
            format!(
                r#"{{"seq":{seq},"hash":"{}","at":1,"mac":"{}"}}"#,
                "a".repeat(64),
                "b".repeat(64)
            )
        };
        // Locked in compliance mode, as the broker's own anchors are.
        let put = |key: String, body: String| {
            let req = s3
                .put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(body.into_bytes()))
                .object_lock_mode(ObjectLockMode::Compliance)
                .object_lock_retain_until_date(DateTime::from_secs(4_102_444_800));
            async move { req.send().await.unwrap() }
        };
        // A higher-numbered "anchor" without the key's MAC.
        put(
            format!("{prefix}{:020}.json", u64::MAX - 1000),
            forged(1000),
        )
        .await;
        // One that sorts first of all.
        put(format!("{prefix}{:020}.json", 0), forged(u64::MAX)).await;
        // A new version over the real anchor, then a delete marker hiding it.
        let real_key = format!("{prefix}{:020}.json", u64::MAX - real.seq);
        put(real_key.clone(), forged(real.seq)).await;
        s3.delete_object()
            .bucket(BUCKET)
            .key(&real_key)
            .send()
            .await
            .unwrap();

        let found = anchors.latest().await.unwrap();
        assert_eq!(found.anchor, Some(real), "{:?}", found.ignored);
        assert!(found.ignored.len() >= 3, "{:?}", found.ignored);
        assert!(
            found
                .ignored
                .iter()
                .any(|i| i.contains("not made with the audit chain's key")),
            "{:?}",
            found.ignored
        );
        // The new version put over the real anchor is passed over; the real one still counts.
        assert!(
            found.ignored.iter().any(|i| i.contains(&real_key)),
            "{:?}",
            found.ignored
        );
        store.close().await;
    });
    // The command line says what it passed over, and still verifies against the real one.
    let (code, out) = verify(&url, &moto, true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: passed over"), "{out}");
}

/// A broker key that is not the one the chain was sealed with is refused before anything
/// is written with it (`user add` here; `serve` does the same check).
#[test]
fn a_key_that_is_not_the_chains_is_refused_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    runtime().block_on(async {
        let store = keyed_store(&url).await;
        submit(&broker(store.clone()), 1, 2).await;
        store.close().await;
    });
    let before = runtime().block_on(count(&url, "SELECT count(*) FROM audit_log"));
    let other = "0".repeat(63) + "1";
    let mut child = Command::new(BIN)
        .args(["user", "add", "zoe", "--store", &url])
        .env("BREAKGLASS_TOTP_KEY", &other)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse battery staple\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("not the one the chain was sealed with"),
        "{said}"
    );
    assert_eq!(
        runtime().block_on(count(&url, "SELECT count(*) FROM audit_log")),
        before
    );
}

/// An auditor verifies with the chain's key alone (`audit key` prints it), without the
/// broker's key that opens TOTP seeds.
#[test]
fn an_auditor_verifies_with_the_chain_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    runtime().block_on(async {
        let store = keyed_store(&url).await;
        submit(&broker(store.clone()), 1, 3).await;
        store.close().await;
    });
    let printed = Command::new(BIN)
        .args(["audit", "key"])
        .env("BREAKGLASS_TOTP_KEY", KEY)
        .output()
        .unwrap();
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let hex = text(&printed.stdout).trim().to_owned();
    assert_eq!(hex, chain_key().expose_hex());
    assert_ne!(hex, KEY, "the chain key is not the broker's key");
    let file = dir.path().join("audit.key");
    std::fs::write(&file, &hex).unwrap();
    let out = Command::new(BIN)
        .args(["audit", "verify", "--store", &url, "--audit-key-file"])
        .arg(&file)
        .env_remove("BREAKGLASS_TOTP_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("audit chain verified: 3 records"));
    std::fs::write(&file, "0".repeat(64)).unwrap();
    let wrong = Command::new(BIN)
        .args(["audit", "verify", "--store", &url, "--audit-key-file"])
        .arg(&file)
        .env_remove("BREAKGLASS_TOTP_KEY")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let said = format!("{}{}", text(&wrong.stdout), text(&wrong.stderr));
    assert!(
        said.contains("the audit key given is not the one that sealed the chain"),
        "{said}"
    );
    let keyless = Command::new(BIN)
        .args(["audit", "key"])
        .env_remove("BREAKGLASS_TOTP_KEY")
        .output()
        .unwrap();
    assert_eq!(keyless.status.code(), Some(2));
    assert!(text(&keyless.stderr).contains("no broker key"));
}

//! Load test of the HTTP API on loopback: 2,000 mixed calls (list, create, approve with a
//! TOTP step-up) from 32 concurrent clients against a real server on a SQLite store.
//! Reports p50/p99 latency per kind and throughput, then checks that no call failed and no
//! state was lost. No STS call is involved. Bounded: it stops after the 2,000 calls (or a
//! 120-second timeout).
//!
//! Latency is measured to the last byte of the response; the clients do not parse the
//! bodies of the timed calls (they run on the same cores as the server).
//!
//! Each create is one write transaction, and so is each approve (the TOTP step is spent in
//! the approval's commit). The store is opened as the broker opens it (`synchronous = FULL`),
//! so every write waits for an fsync; SQLite's group commit lets the concurrent writes share
//! one. The report says how many writes the run made in how many SQLite transactions.
//!
//! Run it with `bench/api-load.sh` (or `cargo bench -p breakglass-server --bench api_load`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a benchmark binary: fails loudly, prints its report, and its authenticator reads the clock"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use breakglass_config::Config;
use breakglass_core::app::App;
use breakglass_core::broker::Broker;
use breakglass_core::cloud::SharedCloud;
use breakglass_core::ports::{Clock, IdSource, Store};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use breakglass_core::session::RequestFilter;
use breakglass_server::app::AppState;
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, totp};
use breakglass_server::router;
use breakglass_server::{RandomIds, SystemClock};
use breakglass_store::SqlStore;
use breakglass_testkit::cloud::FakeCloud;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const CALLS: usize = 2_000;
const CLIENTS: usize = 32;
const APPROVES: usize = CALLS / 3 + 1;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&format!(
        "sqlite://{}",
        dir.path().join("load.db").display()
    ))
    .await
    .unwrap();

    // The example config plus one approver per approval: a TOTP code is accepted once per
    // user and 30-second step, so each approval needs its own approver.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut text = std::fs::read_to_string(root.join("examples/breakglass.toml")).unwrap();
    for i in 0..APPROVES {
        text.push_str(&format!("\n[responders.appr{i}]\nname = \"Approver {i}\"\nemail = \"appr{i}@example.com\"\ngroups = [\"ir-leads\"]\n"));
    }
    let config = Config::load(&text, "load.toml").unwrap();
    let rules = Rules::new(config.catalog(), &[]).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdSource> = Arc::new(RandomIds);
    let broker = Arc::new(Broker::new(
        store.clone(),
        Arc::clone(&clock),
        ids,
        rules,
        Settings::default(),
    ));
    // No STS in this benchmark: any call to the cloud fails.
    let cloud: SharedCloud = Arc::new(FakeCloud::unreachable(&Arc::new(Arc::clone(&clock))));
    let access = Arc::new(App::new(broker, cloud));
    let auth = Arc::new(Auth::new(
        store.clone(),
        clock,
        SealKey::from_hex(&SealKey::generate_hex()).unwrap(),
        Limits::default(),
    ));

    println!("setting up {APPROVES} approvers and {APPROVES} pending requests ...");
    let mut approvers = Vec::new();
    for i in 0..APPROVES {
        approvers.push(enrolled(&auth, &format!("appr{i}")).await);
    }
    let (alice, _) = enrolled(&auth, "alice").await;

    let state = Arc::new(AppState::new(
        access,
        auth,
        breakglass_server::console::ConsoleSettings::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let call = {
        let client = client.clone();
        let base = base.clone();
        move |method: &'static str, path: String, token: String, body: Option<Value>| {
            let client = client.clone();
            let uri = format!("{base}{path}");
            async move {
                let req = hyper::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(
                        body.map(|b| b.to_string()).unwrap_or_default(),
                    )))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                let status = resp.status().as_u16();
                // The whole body is read; only the set-up parses it (the clients share the
                // server's two cores, so parsing 50-request listings in the timed run would
                // load the server with the harness's work).
                (status, resp.into_body().collect().await.unwrap().to_bytes())
            }
        }
    };
    let ask = json!({"playbook": "investigate", "role": "SecurityAnalyst", "account": "222222222222",
                     "duration_seconds": 3600, "incident": "INC-LOAD", "justification": "load test"});
    let mut pending = Vec::new();
    for _ in 0..APPROVES {
        let (s, body) = call(
            "POST",
            "/api/v1/requests".into(),
            alice.clone(),
            Some(ask.clone()),
        )
        .await;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_eq!(s, 201, "{v}");
        pending.push((
            v["id"].as_str().unwrap().to_owned(),
            v["digest"].as_str().unwrap().to_owned(),
        ));
    }

    println!("running {CALLS} calls from {CLIENTS} clients ...");
    let writes_before = store.group_commit_stats().unwrap_or_default();
    // The run: call n is a list, a create or an approve by n % 3.
    let next = Arc::new(AtomicUsize::new(0));
    let approvals = Arc::new(AtomicUsize::new(0));
    let work = Arc::new((pending, approvers));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (next, approvals, work, call, alice, ask) = (
            Arc::clone(&next),
            Arc::clone(&approvals),
            Arc::clone(&work),
            call.clone(),
            alice.clone(),
            ask.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples: Vec<(&'static str, f64, u16)> = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= CALLS {
                    break;
                }
                let t = Instant::now();
                let (kind, status) = match n % 3 {
                    0 => (
                        "list",
                        call(
                            "GET",
                            "/api/v1/requests?status=pending&limit=50".into(),
                            alice.clone(),
                            None,
                        )
                        .await
                        .0,
                    ),
                    1 => (
                        "create",
                        call(
                            "POST",
                            "/api/v1/requests".into(),
                            alice.clone(),
                            Some(ask.clone()),
                        )
                        .await
                        .0,
                    ),
                    _ => {
                        let i = approvals.fetch_add(1, Ordering::Relaxed);
                        let (id, digest) = &work.0[i];
                        let (token, seed) = &work.1[i];
                        let now = time::OffsetDateTime::now_utc().unix_timestamp();
                        let code = totp::code_at(seed, totp::step_of(now), totp::DIGITS);
                        let body = json!({"digest": digest, "totp": code});
                        (
                            "approve",
                            call(
                                "POST",
                                format!("/api/v1/requests/{id}/approve"),
                                token.clone(),
                                Some(body),
                            )
                            .await
                            .0,
                        )
                    }
                };
                samples.push((kind, t.elapsed().as_secs_f64() * 1000.0, status));
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    let joined = tokio::time::timeout(Duration::from_secs(120), async {
        for t in tasks {
            samples.extend(t.await.unwrap());
        }
    })
    .await;
    assert!(joined.is_ok(), "the load test did not finish within 120 s");
    let elapsed = started.elapsed().as_secs_f64();
    let writes = store.group_commit_stats().unwrap_or_default();

    let errors: Vec<_> = samples
        .iter()
        .filter(|s| !(200..300).contains(&s.2))
        .collect();
    println!(
        "{} calls from {CLIENTS} clients in {elapsed:.2} s: {:.0} calls/s; {} errors",
        samples.len(),
        samples.len() as f64 / elapsed,
        errors.len()
    );
    for kind in ["list", "create", "approve"] {
        let mut ms: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 == kind)
            .map(|s| s.1)
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "  {kind:8} n={:4}  p50 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(0.0)
        );
    }
    let (jobs, batches) = (
        writes.jobs - writes_before.jobs,
        writes.batches - writes_before.batches,
    );
    println!(
        "  group commit: {jobs} writes in {batches} SQLite transactions ({:.1} per commit)",
        jobs as f64 / batches.max(1) as f64
    );
    assert!(
        errors.is_empty(),
        "failed calls: {:?}",
        errors.iter().take(5).collect::<Vec<_>>()
    );

    // No lost state: every create is stored, every approval took effect.
    let creates = samples.iter().filter(|s| s.0 == "create").count();
    let approves = samples.iter().filter(|s| s.0 == "approve").count();
    // (Counted per status: the store caps one listing at 1,000 rows.)
    let count = |status: &str| {
        let store = store.clone();
        let filter = RequestFilter {
            statuses: vec![status.to_owned()],
            limit: Some(1_000),
            ..RequestFilter::default()
        };
        async move { store.requests(&filter).await.unwrap().len() }
    };
    let (pending, approved) = (count("pending").await, count("approved").await);
    assert!(
        pending < 1_000 && approved < 1_000,
        "counts hit the listing cap"
    );
    assert_eq!(pending + approved, APPROVES + creates, "stored requests");
    assert_eq!(approved, approves, "approved requests");
    println!(
        "state checked: {} requests stored, {approved} approved",
        pending + approved
    );
}

/// Adds user `name` and enrols a TOTP authenticator as a person does (password sign-in,
/// enrolment with the password again, confirmation with a code); returns the token the
/// confirmation minted and the seed. The confirming code is the previous step's (within
/// the drift the broker allows), so the load's approvals can use the current one.
async fn enrolled(auth: &Auth<SqlStore>, name: &str) -> (String, Vec<u8>) {
    const PASSWORD: &str = "load test password";
    auth.add_user(name, PASSWORD, false, None).await.unwrap();
    let first = auth
        .login_with_totp(name, PASSWORD, None, "127.0.0.1", "load", None)
        .await
        .unwrap();
    let p = auth.authenticate(first.secret.expose()).await.unwrap();
    let e = auth
        .enroll_totp(&p, Some(PASSWORD), None, "127.0.0.1")
        .await
        .unwrap();
    let seed = totp::base32_decode(e.secret.expose()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let code = totp::code_at(&seed, totp::step_of(now) - 1, totp::DIGITS);
    let token = auth.confirm_totp(&p, &code, "load").await.unwrap();
    (token.secret.expose().to_owned(), seed)
}

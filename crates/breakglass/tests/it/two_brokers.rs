//! Two `breakglass serve` processes on one PostgreSQL database, as two replicas behind a
//! load balancer would run: requests are created through both, the same requests are
//! denied through both at once, and both expiry workers race to time out the rest.
//! Afterwards every request is stored, every transition happened exactly once (one audit
//! record each, whichever process made it), and the hash chain both processes appended to
//! verifies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use breakglass_testkit::postgres::{TestSchema, server_url};
use breakglass_testkit::workspace_root;

use crate::support::{
    BIN, KEY, Server, add_user, client, enrol, free_port, login_with_code, ok, serve, text,
};

/// The pending timeout both brokers run with: long enough to create and deny the requests,
/// short enough for the test to watch the workers time out the others.
const PENDING: Duration = Duration::from_secs(12);
const REQUESTS: usize = 24;
const DENIED: usize = 8;

fn start(config: &str, store: &str) -> (Server, String) {
    let port = free_port();
    let pending = format!("{}s", PENDING.as_secs());
    let server = serve(
        port,
        &[
            "-c",
            config,
            "--store",
            store,
            // Nothing here calls AWS; an endpoint that refuses keeps it that way.
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--pending-timeout",
            &pending,
            "--worker-interval",
            "1s",
        ],
    );
    (server, format!("http://127.0.0.1:{port}"))
}

#[test]
fn two_broker_processes_on_one_postgres_database_never_run_a_transition_twice() {
    let Some(server_url) = server_url() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = rt.block_on(TestSchema::create(&server_url)).unwrap();
    let store = schema.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = workspace_root()
        .join("examples/breakglass.toml")
        .to_str()
        .unwrap()
        .to_owned();

    for user in ["alice", "bob"] {
        add_user(&store, user, false);
    }

    // Both processes migrate the same schema at start-up, at the same time.
    let (_a, url_a) = start(&config, &store);
    let (_b, url_b) = start(&config, &store);
    // A CLI session is bound to one server: each user has one per broker. Each enrols an
    // authenticator through the first, and signs in to the second with a code from it.
    let sessions = |user: &str| -> [PathBuf; 2] {
        let a = dir.path().join(format!("{user}-a.json"));
        let b = dir.path().join(format!("{user}-b.json"));
        let (_, mut totp) = enrol(&a, &url_a, user);
        login_with_code(&b, &url_b, user, &mut totp);
        [a, b]
    };
    let alice = sessions("alice");
    let bob = sessions("bob");

    // Requests made through both processes, two at a time.
    let created = Instant::now();
    let ask = |session: &Path, n: usize| {
        let incident = format!("INC-{n}");
        ok(&client(
            session,
            &[
                "request",
                "-p",
                "investigate",
                "-r",
                "SecurityAnalyst",
                "-a",
                "222222222222",
                "-i",
                &incident,
                "-j",
                "two brokers",
            ],
        ))
    };
    let mut ids = Vec::new();
    for i in 0..REQUESTS / 2 {
        std::thread::scope(|s| {
            let one = s.spawn(|| ask(&alice[0], 2 * i));
            let two = s.spawn(|| ask(&alice[1], 2 * i + 1));
            ids.push(one.join().unwrap());
            ids.push(two.join().unwrap());
        });
    }

    // The same denial sent to both processes at once: exactly one of them makes it.
    for id in &ids[..DENIED] {
        let deny = |session: &Path| client(session, &["deny", id, "--reason", "not needed"]);
        let outs = std::thread::scope(|s| {
            let one = s.spawn(|| deny(&bob[0]));
            let two = s.spawn(|| deny(&bob[1]));
            [one.join().unwrap(), two.join().unwrap()]
        });
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(
            won,
            1,
            "request {id}: {} | {}",
            text(&outs[0].stderr),
            text(&outs[1].stderr)
        );
    }
    assert!(
        created.elapsed() < PENDING,
        "creating and denying took longer than the pending timeout; the test cannot tell who timed out what"
    );

    // Both workers race to time out the rest.
    let deadline = Instant::now() + PENDING + Duration::from_secs(30);
    loop {
        let listed = ok(&client(&alice[1], &["status", "--json"]));
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        let pending = listed["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status_name"] == "pending")
            .count();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} requests still pending long after their timeout"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // A pass or two more, in case a worker would run a job again.
    std::thread::sleep(Duration::from_secs(3));

    let export = ok(&Command::new(BIN)
        .args(["audit", "export", "--store", &store])
        .env("BREAKGLASS_TOTP_KEY", KEY)
        .output()
        .unwrap());
    let mut per_request: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in export.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let event = &record["event"];
        if let Some(request) = event["request"].as_str() {
            per_request
                .entry(request.to_owned())
                .or_default()
                .push(event["type"].as_str().unwrap_or("?").to_owned());
        }
    }
    assert_eq!(per_request.len(), REQUESTS, "every request was stored");
    for (i, id) in ids.iter().enumerate() {
        let events = &per_request[id];
        let last = if i < DENIED {
            "request_denied"
        } else {
            "request_timed_out"
        };
        assert_eq!(events, &["request_submitted", last], "request {id}");
    }
    // Both brokers sealed with the key they share: the chain verifies with it, and without
    // it verification says what it needs instead of crying tampering.
    let verified = ok(&Command::new(BIN)
        .args(["audit", "verify", "--store", &store])
        .env("BREAKGLASS_TOTP_KEY", KEY)
        .output()
        .unwrap());
    assert!(verified.starts_with("audit chain verified"), "{verified}");
    let keyless = Command::new(BIN)
        .args(["audit", "verify", "--store", &store])
        .env_remove("BREAKGLASS_TOTP_KEY")
        .output()
        .unwrap();
    assert_eq!(keyless.status.code(), Some(2));
    let said = String::from_utf8_lossy(&keyless.stderr);
    assert!(said.contains("is sealed with the broker's key"), "{said}");
    assert!(!String::from_utf8_lossy(&keyless.stdout).contains("BROKEN"));
}

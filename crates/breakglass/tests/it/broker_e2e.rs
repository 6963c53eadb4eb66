//! End to end against the moto emulator: the real `breakglass serve` and client commands,
//! and the real AWS CLI using `breakglass creds` as its `credential_process`.
//!
//! request → refused self-approval, wrong TOTP and over-long request → approval by a second
//! user with a valid TOTP → activation → `aws sts get-caller-identity` through
//! `credential_process` → revoke → the role's deny policy names the session → `creds`
//! refused. Prints the time from approval to usable credentials.
//!
//! The broker runs with `RUST_LOG=debug`, and a second one on the same store with
//! `--log-format json`: neither log may hold a secret the run handled (password, TOTP seeds,
//! API tokens, STS secret keys and session tokens, the sealing and webhook keys), and both
//! must show the request ids and the worker's and notifier's spans.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    ACCOUNT, ANCHOR_BUCKET, Authenticator, BIN, Broker, KEY, PASSWORD, WEBHOOK_SECRET, aws_env,
    client, free_port, login_with_code, ok, refused, run, serve_logged,
};

/// The API token a CLI session file holds.
fn session_token(session: &Path) -> String {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(session).unwrap()).unwrap();
    s["token"].as_str().unwrap().to_owned()
}

/// Fails, naming the secret and the lines, if `log` holds any of `secrets`.
fn assert_no_secret(what: &str, log: &str, secrets: &[(&str, String)]) {
    for (name, secret) in secrets {
        assert!(
            secret.len() >= 8,
            "{name} is too short to search for: {secret:?}"
        );
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .collect();
        assert!(
            lines.is_empty(),
            "{what} holds the {name}:\n{}",
            lines.join("\n")
        );
    }
}

/// `serve`'s log once it holds every one of `wanted` (or after 30 s).
fn log_with(path: &Path, wanted: &[&str]) -> String {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if wanted.iter().all(|w| log.contains(w)) || started.elapsed() > Duration::from_secs(30) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn request_approve_activate_use_revoke_against_the_emulator() {
    let Some(broker) = Broker::start_with_env(
        "",
        &[("alice", false), ("bob", false)],
        &[("RUST_LOG", "debug")],
    ) else {
        return;
    };
    let (aws, endpoint, dir) = (broker.aws.clone(), broker.endpoint.clone(), &broker.dir);
    #[cfg(unix)]
    for user in &broker.users {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&user.session)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let seeds = [
        broker.user("alice").seed.clone(),
        broker.user("bob").seed.clone(),
    ];
    let mut alice_totp = Authenticator::of(broker.user("alice"));
    let mut bob_totp = Authenticator::of(broker.user("bob"));
    let (alice, bob) = (
        broker.user("alice").session.clone(),
        broker.user("bob").session.clone(),
    );

    let ask = [
        "request",
        "-p",
        "investigate",
        "-r",
        "SecurityAnalyst",
        "-a",
        ACCOUNT,
        "-i",
        "INC-7",
        "-j",
        "suspicious logins",
    ];
    let over: Vec<&str> = ask.iter().copied().chain(["-d", "5h"]).collect();
    refused(&client(&alice, &over), "duration_out_of_bounds");
    let id = ok(&client(&alice, &ask));

    refused(
        &client(&alice, &["approve", &id, "--totp", &alice_totp.peek()]),
        "self_approval",
    );
    refused(
        &client(&bob, &["approve", &id, "--totp", "000000"]),
        "totp_invalid",
    );
    ok(&client(&bob, &["approve", &id, "--totp", &bob_totp.code()]));

    // Time to access: from the approval to credentials the AWS CLI accepts.
    let approved = Instant::now();
    let grant = ok(&client(&alice, &["activate", &id]));
    let creds: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice, &["creds", "--grant", &grant]))).unwrap();
    let to_creds = approved.elapsed();
    assert_eq!(creds["Version"], 1);
    for k in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            creds[k].as_str().is_some_and(|v| !v.is_empty()),
            "{k} in {creds}"
        );
    }

    // Every secret this run handles: none may reach a log.
    let mut secrets: Vec<(&str, String)> = vec![
        ("password", PASSWORD.to_owned()),
        ("TOTP seed of alice", seeds[0].clone()),
        ("TOTP seed of bob", seeds[1].clone()),
        ("API token of alice", session_token(&alice)),
        ("API token of bob", session_token(&bob)),
        (
            "STS secret access key",
            creds["SecretAccessKey"].as_str().unwrap().to_owned(),
        ),
        (
            "STS session token",
            creds["SessionToken"].as_str().unwrap().to_owned(),
        ),
        ("TOTP sealing key", KEY.to_owned()),
        ("webhook signing key", WEBHOOK_SECRET.to_owned()),
    ];
    for (i, seed) in seeds.iter().enumerate() {
        let raw = breakglass_server::auth::totp::base32_decode(seed).unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        secrets.push((
            ["TOTP seed of alice (hex)", "TOTP seed of bob (hex)"][i],
            hex,
        ));
    }

    // A second broker on the same store, logging JSON: a sign-in and fresh credentials.
    let json_log = dir.path().join("serve-json.log");
    let port = free_port();
    let json_url = format!("http://127.0.0.1:{port}");
    let json_server = serve_logged(
        port,
        &[
            "-c",
            &broker.config,
            "--store",
            &broker.store,
            "--endpoint-url",
            &endpoint,
            "--log-format",
            "json",
        ],
        &[("RUST_LOG", "debug")],
        Some(&json_log),
    );
    let alice_json = dir.path().join("alice-json.json");
    login_with_code(&alice_json, &json_url, "alice", &mut alice_totp);
    let more: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice_json, &["creds", "--grant", &grant]))).unwrap();
    secrets.push((
        "API token of alice (second broker)",
        session_token(&alice_json),
    ));
    secrets.push((
        "STS secret access key (second broker)",
        more["SecretAccessKey"].as_str().unwrap().to_owned(),
    ));
    secrets.push((
        "STS session token (second broker)",
        more["SessionToken"].as_str().unwrap().to_owned(),
    ));
    let log = log_with(
        &json_log,
        &["worker_pass", "/api/v1/grants/{id}/credentials"],
    );
    drop(json_server);
    let mut ids = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            event["level"].is_string() && event["timestamp"].is_string(),
            "{line}"
        );
        let spans = event["spans"].as_array().cloned().unwrap_or_default();
        if spans
            .iter()
            .any(|s| s["name"] == "request" && s["id"].as_str().is_some_and(|id| id.len() == 16))
        {
            ids += 1;
        }
    }
    assert!(ids >= 2, "no request ids in the JSON log:\n{log}");
    assert!(
        log.contains("\"path\":\"/api/v1/login\"") && log.contains("\"name\":\"worker_pass\""),
        "{log}"
    );
    assert_no_secret("the JSON log", &log, &secrets);

    let aws_config = dir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!("[profile bg]\ncredential_process = {BIN} creds --grant {grant}\n"),
    )
    .unwrap();
    let who = ok(&run(aws_env(&mut Command::new(&aws))
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("BREAKGLASS_SESSION_FILE", &alice)
        .args([
            "--profile",
            "bg",
            "--endpoint-url",
            &endpoint,
            "sts",
            "get-caller-identity",
        ])));
    let to_aws = approved.elapsed();
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(
        who["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/SecurityAnalyst/{grant}")
    );
    println!(
        "time to access: approval -> credentials {:.0} ms; -> first AWS CLI call {:.0} ms",
        to_creds.as_secs_f64() * 1000.0,
        to_aws.as_secs_f64() * 1000.0
    );

    // `exec` puts the credentials in the child's environment only.
    let arn = ok(&client(
        &alice,
        &[
            "exec",
            "--grant",
            &grant,
            "--",
            aws.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    ));
    assert!(arn.ends_with(&format!("/{grant}")), "{arn}");

    let revoking = std::time::Instant::now();
    let revoked = ok(&client(
        &bob,
        &["revoke", "--grant", &grant, "--reason", "incident closed"],
    ));
    let to_revoked = revoking.elapsed();
    assert!(
        revoked.ends_with("revoked: its live sessions are cut off (denied by the role's policy)"),
        "{revoked}"
    );
    let policy = ok(&run(aws_env(&mut Command::new(&aws)).args([
        "--endpoint-url",
        &endpoint,
        "iam",
        "get-role-policy",
        "--role-name",
        "SecurityAnalyst",
        "--policy-name",
        "BreakglassRevocations",
        "--output",
        "json",
    ])));
    let to_read = revoking.elapsed();
    println!(
        "time to cut-off: `breakglass revoke` -> deny written and read back by the broker {:.0} ms; -> read again with the AWS CLI {:.0} ms",
        to_revoked.as_secs_f64() * 1000.0,
        to_read.as_secs_f64() * 1000.0
    );
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let doc = policy["PolicyDocument"].to_string();
    assert!(
        doc.contains("\"Deny\"") && doc.contains(&format!(":{grant}")),
        "{doc}"
    );
    let user_id = who["UserId"].as_str().unwrap();
    assert!(
        doc.contains(user_id),
        "the deny names the session's aws:userid `{user_id}`: {doc}"
    );

    refused(
        &client(&alice, &["creds", "--grant", &grant]),
        "not_issuable",
    );

    // The debug log: request ids on every call, the worker's and the notifier's spans, the
    // audit anchors, and not one secret.
    let log = log_with(
        &broker.log,
        &[
            "worker_pass",
            "revocations",
            "delivery{outbox_id=",
            "audit chain anchored",
        ],
    );
    // The chain the broker keyed and anchored verifies with its key against the latest
    // anchor in the bucket, read back from S3.
    let verified = ok(&run(aws_env(&mut Command::new(BIN))
        .args(["audit", "verify", "--store", &broker.store])
        .args([
            "--anchor-bucket",
            ANCHOR_BUCKET,
            "--endpoint-url",
            &endpoint,
        ])
        .env("BREAKGLASS_TOTP_KEY", KEY)));
    assert!(verified.contains("audit chain verified"), "{verified}");
    assert!(verified.contains("anchors checked: 1"), "{verified}");
    for wanted in [
        "request{id=",
        "path=/api/v1/login}",
        "path=/api/v1/totp/enroll}",
        "path=/api/v1/requests/{id}/approve}",
        "path=/api/v1/grants/{id}/credentials}",
        "status=201",
        "worker_pass{holder=",
        "sweep",
        "reconcile",
        "delivery{outbox_id=",
    ] {
        assert!(log.contains(wanted), "no `{wanted}` in the log:\n{log}");
    }
    assert_no_secret("the debug log", &log, &secrets);
}

//! End to end against the moto emulator: the real `breakglass serve` and client commands,
//! and the real AWS CLI using `breakglass creds` as its `credential_process`.
//!
//! request → refused self-approval, wrong TOTP and over-long request → approval by a second
//! user with a valid TOTP → activation → `aws sts get-caller-identity` through
//! `credential_process` → revoke → the role's deny policy names the session → `creds`
//! refused. Prints the time from approval to usable credentials.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use breakglass_server::auth::totp;
use breakglass_testkit::moto::{Moto, venv_tool};
use breakglass_testkit::workspace_root;

const BIN: &str = env!("CARGO_BIN_EXE_breakglass");
const KEY: &str = "4f1c2a7e9b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
const PASSWORD: &str = "correct horse battery staple";
/// moto's default account: the broker's own credentials live there, and so must the roles
/// whose IAM policies it writes.
const ACCOUNT: &str = "123456789012";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn aws_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn client(session: &Path, args: &[&str]) -> Output {
    run(Command::new(BIN)
        .env("BREAKGLASS_SESSION_FILE", session)
        .args(args))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

fn refused(out: &Output, code: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(code),
        "want `{code}` in: {}",
        text(&out.stderr)
    );
}

fn totp_code(seed: &str) -> String {
    #[expect(
        clippy::disallowed_methods,
        reason = "an authenticator app reads the wall clock"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let seed = totp::base32_decode(seed).unwrap();
    totp::code_at(
        &seed,
        totp::step_of(i64::try_from(now).unwrap()),
        totp::DIGITS,
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn request_approve_activate_use_revoke_against_the_emulator() {
    let Some(moto) = Moto::start() else { return };
    let Some(aws) = venv_tool("aws") else { return };
    let dir = tempfile::tempdir().unwrap();
    let endpoint = moto.endpoint();

    // The example config, with the production account in moto's default account.
    let example =
        std::fs::read_to_string(workspace_root().join("examples/breakglass.toml")).unwrap();
    let config = dir.path().join("breakglass.toml");
    std::fs::write(&config, example.replace("222222222222", ACCOUNT)).unwrap();
    let config = config.to_str().unwrap().to_owned();

    ok(&run(aws_env(&mut Command::new(&aws)).args([
        "--endpoint-url",
        &endpoint,
        "logs",
        "create-log-group",
        "--log-group-name",
        "aws-cloudtrail-logs",
    ])));
    ok(&run(aws_env(&mut Command::new(BIN)).args([
        "apply",
        "-c",
        &config,
        "--account",
        "production",
        "--endpoint-url",
        &endpoint,
    ])));

    let store = format!("sqlite://{}", dir.path().join("bg.db").display());
    for user in ["alice", "bob"] {
        let mut child = Command::new(BIN)
            .args(["user", "add", user, "--store", &store])
            .env("BREAKGLASS_TOTP_KEY", KEY)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(child.wait().unwrap().success());
    }

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Server(
        aws_env(&mut Command::new(BIN))
            .args([
                "serve",
                "-c",
                &config,
                "--store",
                &store,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--endpoint-url",
                &endpoint,
            ])
            .env("BREAKGLASS_TOTP_KEY", KEY)
            // The example's [notifications] sign webhooks with a key from the environment.
            .env("BREAKGLASS_WEBHOOK_SECRET", "e2e-webhook-signing-key")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 30,
            "breakglass serve did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let session = |u: &str| -> PathBuf { dir.path().join(format!("{u}.json")) };
    let mut seeds = Vec::new();
    for user in ["alice", "bob"] {
        ok(&run(Command::new(BIN)
            .env("BREAKGLASS_SESSION_FILE", session(user))
            .env("BREAKGLASS_PASSWORD", PASSWORD)
            .args(["login", "--url", &url, "--username", user])));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(session(user))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let enrolled: serde_json::Value =
            serde_json::from_str(&ok(&client(&session(user), &["totp", "enroll"]))).unwrap();
        seeds.push(enrolled["secret"].as_str().unwrap().to_owned());
    }
    let (alice, bob) = (session("alice"), session("bob"));

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
        &client(&alice, &["approve", &id, "--totp", &totp_code(&seeds[0])]),
        "self_approval",
    );
    refused(
        &client(&bob, &["approve", &id, "--totp", "000000"]),
        "totp_invalid",
    );
    ok(&client(
        &bob,
        &["approve", &id, "--totp", &totp_code(&seeds[1])],
    ));

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

    let revoked = ok(&client(
        &bob,
        &["revoke", "--grant", &grant, "--reason", "incident closed"],
    ));
    assert!(revoked.contains("\"sessions_denied\": true"), "{revoked}");
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
}

//! `breakglass drill` against the emulator: the example config applied to both of its
//! accounts, every playbook walked end to end as the drill identity (request, drill
//! approvals, activation, AssumeRole, one call, revocation proven), the drill's alert
//! delivered to a Teams receiver, the run recorded; then the receiver down: the drill fails
//! with a finding naming the channel, and the security team is alerted once, not once per
//! run.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use breakglass_aws::sdk::SdkConfig;
use breakglass_testkit::moto::Moto;
use breakglass_testkit::teams::TeamsReceiver;
use breakglass_testkit::workspace_root;

use crate::support::{ACCOUNT, BIN, KEY, aws_env, free_port, run, serve_logged, text};

/// The example's production account stays 222222222222 (reached through the deploy and
/// revoker roles, as in AWS); its security account becomes moto's default account, where
/// the broker's own credentials live.
pub const PRODUCTION: &str = "222222222222";

/// The emulator with the example config applied to both accounts, a store, and the config
/// file (`[notifications]` posting to `teams_url`, `[drills]` waiting `alert_timeout`).
pub struct Applied {
    pub moto: Moto,
    /// Holds the config and the SQLite store until dropped.
    pub _dir: tempfile::TempDir,
    pub config: String,
    pub store: String,
}

impl Applied {
    /// `None` (after printing why) when the emulator is not installed. `drills` is the body
    /// of the config's `[drills]`.
    pub fn start(drills: &str) -> Option<Self> {
        let moto = Moto::start()?;
        let dir = tempfile::tempdir().unwrap();
        let example =
            std::fs::read_to_string(workspace_root().join("examples/breakglass.toml")).unwrap();
        let text = example
            .replace("111111111111", ACCOUNT)
            .replace(
                r#"webhook_urls = ["https://hooks.example.com/breakglass"]"#,
                "webhook_urls = []",
            )
            // The example deploys its brokered roles in production only; here they are in
            // both accounts, so every playbook is drilled in both.
            .replace(
                "template = \"SecurityAnalyst\"\n",
                "template = \"SecurityAnalyst\"\naccounts = [\"security\", \"production\"]\n",
            )
            .replace(
                "template = \"SecurityBreakGlass\"\n",
                "template = \"SecurityBreakGlass\"\naccounts = [\"security\", \"production\"]\n",
            )
            .replace(
                "# teams_webhook_url_env = \"BREAKGLASS_TEAMS_WEBHOOK_URL\"",
                "teams_webhook_url_env = \"BREAKGLASS_TEAMS_WEBHOOK_URL\"",
            );
        assert!(
            text.contains("\nteams_webhook_url_env"),
            "the example changed"
        );
        let config = dir.path().join("breakglass.toml");
        std::fs::write(&config, format!("{text}\n[drills]\n{drills}\n")).unwrap();
        let config = config.to_str().unwrap().to_owned();
        create_log_groups(&moto);
        let applied = run(aws_env(&mut Command::new(BIN)).args([
            "apply",
            "-c",
            &config,
            "--endpoint-url",
            &moto.endpoint(),
        ]));
        assert!(applied.status.success(), "apply: {}", text_of(&applied));
        finish_setup(&moto);
        let store = format!("sqlite://{}", dir.path().join("bg.db").display());
        Some(Self {
            moto,
            _dir: dir,
            config,
            store,
        })
    }

    /// Runs `breakglass drill ARGS` with the Teams URL in its environment.
    pub fn drill(&self, teams_url: &str, args: &[&str]) -> Output {
        run(aws_env(&mut Command::new(BIN))
            .args(["drill", "-c", &self.config, "--store", &self.store])
            .args(["--endpoint-url", &self.moto.endpoint()])
            .args(args)
            .env("BREAKGLASS_TOTP_KEY", KEY)
            .env("BREAKGLASS_TEAMS_WEBHOOK_URL", teams_url))
    }
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The caller's SDK configuration on `moto` (the security account) and the production
/// account's, reached through the deploy role as `apply` reaches it.
async fn accounts(moto: &Moto) -> (SdkConfig, SdkConfig) {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use breakglass_aws::sdk::{self, AwsOptions};
    let options = AwsOptions {
        endpoint_url: Some(moto.endpoint()),
        region: Some("us-east-1".to_owned()),
        profile: None,
    };
    let base = sdk::load(&options)
        .await
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .build();
    let role = format!("arn:aws:iam::{PRODUCTION}:role/incident-response/SecurityDeploy");
    let production = sdk::assume_role(&base, &role, "tests", PRODUCTION)
        .await
        .unwrap();
    (base, production)
}

/// CloudTrail's log group in each account's home region (`apply` checks for it and never
/// creates it).
fn create_log_groups(moto: &Moto) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (base, production) = accounts(moto).await;
        for sdk in [&base, &production] {
            aws_sdk_cloudwatchlogs::Client::new(sdk)
                .create_log_group()
                .log_group_name("aws-cloudtrail-logs")
                .send()
                .await
                .unwrap();
        }
    });
}

/// What `apply` leaves to an operator, done as one would: a subscriber on every alert
/// topic, a logging trail into each account's CloudTrail log group, an MFA device for each
/// break-glass user. Afterwards the preflight checks find nothing.
fn finish_setup(moto: &Moto) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (base, production) = accounts(moto).await;
        let in_region = |sdk: &SdkConfig, region: &str| {
            sdk.to_builder()
                .region(aws_sdk_sns::config::Region::new(region.to_owned()))
                .build()
        };
        for (id, sdk, regions) in [
            (ACCOUNT, &base, &["us-east-1"][..]),
            (PRODUCTION, &production, &["us-east-1", "us-west-2"][..]),
        ] {
            for region in regions {
                aws_sdk_sns::Client::new(&in_region(sdk, region))
                    .subscribe()
                    .topic_arn(format!("arn:aws:sns:{region}:{id}:breakglass-alerts"))
                    .protocol("email")
                    .endpoint("soc@example.com")
                    .return_subscription_arn(true)
                    .send()
                    .await
                    .unwrap();
            }
            let bucket = format!("cloudtrail-{id}");
            aws_sdk_s3::Client::new(sdk)
                .create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .unwrap();
            let trails = aws_sdk_cloudtrail::Client::new(sdk);
            trails
                .create_trail()
                .name("organization")
                .s3_bucket_name(&bucket)
                .is_multi_region_trail(true)
                .cloud_watch_logs_log_group_arn(format!(
                    "arn:aws:logs:us-east-1:{id}:log-group:aws-cloudtrail-logs:*"
                ))
                .cloud_watch_logs_role_arn(format!("arn:aws:iam::{id}:role/cloudtrail-to-logs"))
                .send()
                .await
                .unwrap();
            trails
                .start_logging()
                .name("organization")
                .send()
                .await
                .unwrap();
        }
        let iam = aws_sdk_iam::Client::new(&base);
        for user in ["alice-BREAK-GLASS", "bob-BREAK-GLASS"] {
            let device = iam
                .create_virtual_mfa_device()
                .virtual_mfa_device_name(user)
                .send()
                .await
                .unwrap();
            let serial = device.virtual_mfa_device().unwrap().serial_number();
            iam.enable_mfa_device()
                .user_name(user)
                .serial_number(serial)
                .authentication_code1("123456")
                .authentication_code2("654321")
                .send()
                .await
                .unwrap();
        }
    });
}

/// The role copies of the example's playbooks: (playbook, role, account).
fn example_paths() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for account in [ACCOUNT, PRODUCTION] {
        out.push(("investigate", "SecurityAnalyst", account));
        for p in ["contain", "collect-evidence", "emergency"] {
            out.push((p, "SecurityBreakGlass", account));
        }
    }
    out
}

#[test]
fn a_drill_walks_every_playbook_in_both_accounts_and_records_its_times() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let teams = runtime.block_on(TeamsReceiver::start()).unwrap();
    let Some(env) = Applied::start(r#"alert_timeout = "20s""#) else {
        return;
    };

    let out = env.drill(teams.url(), &[]);
    let printed = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("time to access"), "{printed}");
    // The preflight checks ran in both accounts and every region, and found nothing.
    for place in [
        format!("SecurityAnalyst {PRODUCTION}"),
        format!("{ACCOUNT} us-east-1"),
        format!("{PRODUCTION} us-west-2"),
    ] {
        assert!(
            printed
                .lines()
                .any(|l| l.starts_with("ok   preflight") && l.contains(&place)),
            "no preflight line for {place}:\n{printed}"
        );
    }
    assert!(!printed.contains("FAIL"), "{printed}");
    for (playbook, role, account) in example_paths() {
        let line = printed
            .lines()
            .find(|l| l.split_whitespace().take(3).eq([playbook, role, account]))
            .unwrap_or_else(|| panic!("no summary line for {playbook} {account}:\n{printed}"));
        assert_eq!(line.matches(" ms").count(), 2, "{line}");
    }
    // The drill's own alert reached the channel, marked as a drill; nobody was asked to
    // approve anything (drill requests notify no one).
    let cards: Vec<String> = teams.cards().iter().map(|c| c.to_string()).collect();
    assert!(cards.iter().any(|c| c.contains("DRILL")), "{cards:?}");
    assert!(
        !cards
            .iter()
            .any(|c| c.contains("approval_needed") || c.contains("requests arn")),
        "{cards:?}"
    );
    assert!(teams.violations().is_empty(), "{:?}", teams.violations());

    // The same as JSON: every path walked, with both times, and the run stored and audited.
    let out = env.drill(teams.url(), &["--no-preflight", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths = run["paths"].as_array().unwrap();
    assert_eq!(paths.len(), example_paths().len(), "{run:#}");
    for p in paths {
        assert!(p["time_to_access_ms"].as_u64().is_some(), "{p:#}");
        assert!(p["time_to_revoke_ms"].as_u64().is_some(), "{p:#}");
        let names: Vec<&str> = p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "request",
                "approve",
                "activate",
                "assume role",
                "call",
                "revoke"
            ]
        );
    }
    assert_eq!(run["trigger"], "cli");
    let verify = run_bin(&["audit", "verify", "--store", &env.store]);
    assert!(verify.status.success(), "{}", text_of(&verify));
    let export = run_bin(&["audit", "export", "--store", &env.store]);
    let exported = text(&export.stdout);
    assert_eq!(exported.matches("drill_completed").count(), 2, "{exported}");
    // The access review reads the break-glass users from IAM as the preflight did.
    let review = crate::support::run(aws_env(&mut Command::new(BIN)).args([
        "report",
        "access-review",
        "--store",
        &env.store,
        "-c",
        &env.config,
        "--read-iam",
        "--endpoint-url",
        &env.moto.endpoint(),
        "--format",
        "json",
    ]));
    assert!(
        review.status.code().is_some_and(|c| c <= 1),
        "{}",
        text_of(&review)
    );
    let review: serde_json::Value = serde_json::from_slice(&review.stdout).unwrap();
    assert_eq!(review["iam_users_read"], true, "{review:#}");
    let alice = review["responders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["username"] == "alice")
        .unwrap();
    let user = &alice["break_glass_user"];
    assert_eq!(
        (
            &user["exists"],
            &user["mfa"],
            &user["access_keys"],
            &user["password_secret"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(true),
            &serde_json::json!(0),
            &serde_json::json!(true)
        ),
        "{user:#}"
    );
    // A drill identity acted, never a person; every drill grant ended revoked.
    assert!(exported.contains("breakglass-drill-approver-1"));
    assert!(
        exported.contains("breakglass-drill-approver-2"),
        "emergency needs two"
    );
}

#[test]
fn a_channel_that_is_down_fails_the_drill_and_alerts_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let teams = runtime.block_on(TeamsReceiver::start()).unwrap();
    let Some(env) = Applied::start(r#"alert_timeout = "5s""#) else {
        return;
    };
    teams.set_down(true);
    let first = env.drill(
        teams.url(),
        &["--no-preflight", "--playbook", "investigate"],
    );
    let printed = text_of(&first);
    assert_eq!(first.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("did not reach every channel within 5 s") && printed.contains("teams"),
        "{printed}"
    );
    assert!(
        printed.contains("the security team was alerted"),
        "{printed}"
    );
    let second = env.drill(
        teams.url(),
        &["--no-preflight", "--playbook", "investigate"],
    );
    let printed = text_of(&second);
    assert_eq!(second.status.code(), Some(1), "{printed}");
    assert!(printed.contains("as the previous run did"), "{printed}");
    let export = run_bin(&["audit", "export", "--store", &env.store]);
    let exported = text(&export.stdout);
    assert_eq!(
        exported.matches("\"alerted\":true").count(),
        1,
        "{exported}"
    );
    assert_eq!(
        exported.matches("\"alerted\":false").count(),
        1,
        "{exported}"
    );
}

#[test]
fn a_scheduled_drill_runs_on_one_replica_and_a_failure_alerts_once() {
    let Some(server_url) = breakglass_testkit::postgres::server_url() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime
        .block_on(breakglass_testkit::postgres::TestSchema::create(
            &server_url,
        ))
        .unwrap();
    let teams = runtime.block_on(TeamsReceiver::start()).unwrap();
    let Some(mut env) = Applied::start("every = \"15m\"\nalert_timeout = \"5s\"") else {
        return;
    };
    env.store = schema.url().to_owned();
    teams.set_down(true);
    let args = [
        "-c",
        env.config.as_str(),
        "--store",
        env.store.as_str(),
        "--endpoint-url",
        &env.moto.endpoint(),
    ];
    let hook = [("BREAKGLASS_TEAMS_WEBHOOK_URL", teams.url())];
    let _a = serve_logged(free_port(), &args, &hook, None);
    let _b = serve_logged(free_port(), &args, &hook, None);
    let completed = || {
        let out = run_bin(&["audit", "export", "--store", &env.store]);
        text(&out.stdout).matches("drill_completed").count()
    };
    let started = Instant::now();
    while completed() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no scheduled drill ran"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // The other replica saw the lease taken: one drill for the period, not two.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(completed(), 1);
    let export = text(&run_bin(&["audit", "export", "--store", &env.store]).stdout);
    assert!(export.contains("\"alerted\":true"), "{export}");
    // The channel comes back: the failure's alert is delivered once.
    teams.set_down(false);
    let started = Instant::now();
    let failed_cards = || {
        teams
            .cards()
            .iter()
            .filter(|c| c.to_string().contains("DRILL FAILED"))
            .count()
    };
    while failed_cards() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the failure was not alerted"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(failed_cards(), 1);
}

fn run_bin(args: &[&str]) -> Output {
    run(Command::new(BIN).args(args).env("BREAKGLASS_TOTP_KEY", KEY))
}

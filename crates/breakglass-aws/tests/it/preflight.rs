//! Preflight against the emulator: the example config applied and finished by hand (MFA
//! devices, subscriptions, trails: what `apply` cannot do) passes with no finding; then each
//! broken setup, on its own and undone before the next, fails with exactly the finding that
//! names its account, region and resource, and nothing else.

use aws_config::SdkConfig;
use breakglass_aws::preflight::{Preflight, PreflightOptions, preflight};
use breakglass_aws::provision::Provisioner;
use breakglass_aws::sdk;
use breakglass_config::Config;
use breakglass_config::resources::DesiredState;
use breakglass_core::drill::Outcome;
use breakglass_testkit::moto::Moto;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::emulator::{in_account, sdk_config};
use crate::provision::{activity_text, apply_all, create_log_groups, desired, example_text};

const SECURITY: &str = "111111111111";
const PRODUCTION: &str = "222222222222";
const BROKER: &str = "arn:aws:iam::111111111111:role/breakglass-broker";

/// One finding, as compared: check, account, region, resource.
type Seen = (String, Option<String>, Option<String>, String);

fn seen(run: &Preflight) -> Vec<Seen> {
    let mut out: Vec<Seen> = run
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .flat_map(|s| s.findings.iter())
        .map(|f| {
            (
                f.check.clone(),
                f.account.clone(),
                f.region.clone(),
                f.resource.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

fn want(check: &str, account: &str, region: Option<&str>, resource: &str) -> Seen {
    (
        check.to_owned(),
        Some(account.to_owned()),
        region.map(str::to_owned),
        resource.to_owned(),
    )
}

fn message_of(run: &Preflight, check: &str) -> String {
    run.findings()
        .find(|f| f.check == check)
        .map(|f| f.message.clone())
        .unwrap_or_else(|| panic!("no {check} finding in {:#?}", run.steps))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the emulator stamps login profiles with the wall clock; the test's now must match it"
)]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

struct World {
    _moto: Moto,
    base: SdkConfig,
    broker: SdkConfig,
    config: Config,
    state: DesiredState,
}

impl World {
    async fn iam(&self, account: &str) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&in_account(&self.base, account, "us-east-1").await)
    }

    async fn events(&self, account: &str, region: &str) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&in_account(&self.base, account, region).await)
    }

    async fn run_as(&self, sdk: &SdkConfig, options: &PreflightOptions) -> Preflight {
        Box::pin(preflight(sdk, &self.config, options))
            .await
            .unwrap()
    }

    async fn run(&self) -> Preflight {
        self.run_as(&self.broker, &PreflightOptions::new(now()))
            .await
    }

    /// `apply` again: what the cases broke that `apply` owns comes back.
    async fn reapply(&self) {
        let provisioner = Provisioner::connect(self.base.clone()).await.unwrap();
        let plans = provisioner.plan(&self.config, &self.state).await.unwrap();
        apply_all(&provisioner, &plans).await;
    }

    async fn assert_clean(&self, after: &str) {
        let run = self.run().await;
        assert_eq!(
            seen(&run),
            Vec::<Seen>::new(),
            "after {after}: {:#?}",
            run.steps
        );
        assert!(run.passed(), "after {after}");
    }
}

/// The example applied, then finished as an operator would: an MFA device per break-glass
/// user, a subscriber on every alert topic, a logging trail into each CloudTrail log group.
async fn world() -> Option<World> {
    Box::pin(world_with(&example_text())).await
}

/// [`world`] for the config `text`.
async fn world_with(text: &str) -> Option<World> {
    let moto = Moto::start()?;
    let base = sdk_config(&moto).await;
    let (config, state) = desired(text);
    create_log_groups(&base, &state).await;
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    let plans = provisioner.plan(&config, &state).await.unwrap();
    apply_all(&provisioner, &plans).await;

    for account in &state.accounts {
        let id = account.id.as_str();
        let home = in_account(&base, id, &account.home_region).await;
        for region in &account.regions {
            let sns = aws_sdk_sns::Client::new(&in_account(&base, id, region).await);
            sns.subscribe()
                .topic_arn(format!("arn:aws:sns:{region}:{id}:breakglass-alerts"))
                .protocol("email")
                .endpoint("soc@example.com")
                .return_subscription_arn(true)
                .send()
                .await
                .unwrap();
        }
        let bucket = format!("trail-{id}");
        aws_sdk_s3::Client::new(&home)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let trail = aws_sdk_cloudtrail::Client::new(&home);
        trail
            .create_trail()
            .name("org-trail")
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(true)
            .cloud_watch_logs_log_group_arn(format!(
                "arn:aws:logs:{}:{id}:log-group:{}:*",
                account.home_region, account.log_group
            ))
            .cloud_watch_logs_role_arn(format!("arn:aws:iam::{id}:role/trail-to-logs"))
            .send()
            .await
            .unwrap();
        trail
            .start_logging()
            .name("org-trail")
            .send()
            .await
            .unwrap();
    }
    let iam = aws_sdk_iam::Client::new(&in_account(&base, SECURITY, "us-east-1").await);
    for user in ["alice-BREAK-GLASS", "bob-BREAK-GLASS"] {
        enable_mfa(&iam, user).await;
    }
    let broker = sdk::assume_role(&base, BROKER, "drill", SECURITY)
        .await
        .unwrap();
    Some(World {
        _moto: moto,
        base,
        broker,
        config,
        state,
    })
}

async fn enable_mfa(iam: &aws_sdk_iam::Client, user: &str) {
    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(user)
        .send()
        .await
        .unwrap();
    let serial = device
        .virtual_mfa_device()
        .unwrap()
        .serial_number()
        .to_owned();
    iam.enable_mfa_device()
        .user_name(user)
        .serial_number(serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
}

fn decode(text: &str) -> Value {
    serde_json::from_str(
        &percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_finds_each_broken_setup_by_account_region_and_resource() {
    let Some(w) = Box::pin(world()).await else {
        return;
    };

    // Finished setup: nothing to find, every step ran, the users' facts read back.
    let clean = w.run().await;
    assert_eq!(seen(&clean), Vec::<Seen>::new(), "{:#?}", clean.steps);
    assert!(clean.passed());
    assert!(
        clean.steps.iter().all(|s| s.outcome == Outcome::Passed),
        "{:#?}",
        clean.steps
    );
    for (name, region) in [
        ("preflight: event rules", "us-west-2"),
        ("preflight: alarms", "us-west-2"),
        ("preflight: topics", "us-west-2"),
        ("preflight: alarms", "us-east-1"),
        ("preflight: cloudtrail", "us-east-1"),
    ] {
        assert!(
            clean.steps.iter().any(|s| s.name == name
                && s.account.as_deref() == Some(PRODUCTION)
                && s.region.as_deref() == Some(region)),
            "no {name} step for {PRODUCTION} {region}"
        );
    }
    assert!(
        clean
            .steps
            .iter()
            .any(|s| s.name == "preflight: revoker assumable" && s.outcome == Outcome::Passed)
    );
    let roles: Vec<(&str, &str)> = clean
        .steps
        .iter()
        .filter(|s| s.name == "preflight: role")
        .map(|s| (s.account.as_deref().unwrap(), s.role.as_deref().unwrap()))
        .collect();
    assert!(
        roles.contains(&(PRODUCTION, "SecurityAnalyst")),
        "{roles:?}"
    );
    assert!(roles.contains(&(SECURITY, "SecurityDeploy")), "{roles:?}");
    assert_eq!(clean.users.len(), 2);
    for user in &clean.users {
        assert!(
            user.exists && user.login_profile && user.password_secret,
            "{user:?}"
        );
        assert_eq!(user.mfa_devices.len(), 1, "{user:?}");
        assert!(user.access_keys.is_empty(), "{user:?}");
        assert!(user.password_set_at.is_some(), "{user:?}");
    }

    // A trust policy that no longer lets the broker set a SourceIdentity.
    let iam = w.iam(PRODUCTION).await;
    let original = iam
        .get_role()
        .role_name("SecurityAnalyst")
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .assume_role_policy_document()
        .unwrap()
        .to_owned();
    let mut trust = decode(&original);
    for statement in trust["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "sts:SetSourceIdentity");
        }
    }
    assert_ne!(
        trust,
        decode(&original),
        "the broker's statement lists the action"
    );
    iam.update_assume_role_policy()
        .role_name("SecurityAnalyst")
        .policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "role_trust_source_identity",
            PRODUCTION,
            None,
            "SecurityAnalyst"
        )]
    );
    assert!(!run.passed());
    assert!(
        message_of(&run, "role_trust_source_identity").starts_with(
            "trust policy of SecurityAnalyst in 222222222222 does not allow sts:SetSourceIdentity"
        ),
        "{}",
        message_of(&run, "role_trust_source_identity")
    );
    w.reapply().await;
    w.assert_clean("restoring the trust policy").await;

    // A deleted role.
    for attached in iam
        .list_attached_role_policies()
        .role_name("SecurityAdmin")
        .send()
        .await
        .unwrap()
        .attached_policies()
    {
        iam.detach_role_policy()
            .role_name("SecurityAdmin")
            .policy_arn(attached.policy_arn().unwrap())
            .send()
            .await
            .unwrap();
    }
    for name in iam
        .list_role_policies()
        .role_name("SecurityAdmin")
        .send()
        .await
        .unwrap()
        .policy_names()
    {
        iam.delete_role_policy()
            .role_name("SecurityAdmin")
            .policy_name(name)
            .send()
            .await
            .unwrap();
    }
    iam.delete_role()
        .role_name("SecurityAdmin")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want("role_missing", PRODUCTION, None, "SecurityAdmin")]
    );
    assert_eq!(
        message_of(&run, "role_missing"),
        "role SecurityAdmin is missing in 222222222222: run `breakglass apply` to create it"
    );
    w.reapply().await;
    w.assert_clean("recreating the role").await;

    // A guardrail detached.
    let guardrail_attached = iam
        .list_attached_role_policies()
        .role_name("SecurityBreakGlass")
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .find(|arn| arn.ends_with("/BreakglassGuardrails"))
        .expect("apply attaches the guardrails");
    iam.detach_role_policy()
        .role_name("SecurityBreakGlass")
        .policy_arn(&guardrail_attached)
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "role_policy_detached",
            PRODUCTION,
            None,
            "SecurityBreakGlass"
        )]
    );
    w.reapply().await;
    w.assert_clean("reattaching the guardrails").await;

    // An alarm missing in us-west-2: the one on its break-glass rule's failed deliveries.
    let west_cw =
        aws_sdk_cloudwatch::Client::new(&in_account(&w.base, PRODUCTION, "us-west-2").await);
    west_cw
        .delete_alarms()
        .alarm_names("breakglass-assume-role-delivery-failed")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "alarm_missing",
            PRODUCTION,
            Some("us-west-2"),
            "breakglass-assume-role-delivery-failed"
        )]
    );
    assert!(message_of(&run, "alarm_missing").starts_with(
        "alarm breakglass-assume-role-delivery-failed missing in 222222222222 us-west-2"
    ));
    w.reapply().await;
    w.assert_clean("recreating the us-west-2 alarm").await;

    // The alerting of us-west-2: its EventBridge rule gone.
    let west = w.events(PRODUCTION, "us-west-2").await;
    west.remove_targets()
        .rule("breakglass-assume-role")
        .ids("breakglass-alert-topic")
        .send()
        .await
        .unwrap();
    west.delete_rule()
        .name("breakglass-assume-role")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "rule_missing",
            PRODUCTION,
            Some("us-west-2"),
            "breakglass-assume-role"
        )]
    );
    assert!(
        message_of(&run, "rule_missing").starts_with(
            "EventBridge rule breakglass-assume-role missing in 222222222222 us-west-2"
        ),
        "{}",
        message_of(&run, "rule_missing")
    );
    w.reapply().await;
    w.assert_clean("recreating the us-west-2 rule").await;

    // An alarm missing in the home region (a CloudTrail metric's).
    let cw = aws_sdk_cloudwatch::Client::new(&in_account(&w.base, PRODUCTION, "us-east-1").await);
    cw.delete_alarms()
        .alarm_names("breakglass-break-glass-role-assumed")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "alarm_missing",
            PRODUCTION,
            Some("us-east-1"),
            "breakglass-break-glass-role-assumed"
        )]
    );
    assert!(message_of(&run, "alarm_missing").starts_with(
        "alarm breakglass-break-glass-role-assumed missing in 222222222222 us-east-1"
    ),);
    w.reapply().await;
    w.assert_clean("recreating the alarm").await;

    // A disabled EventBridge rule.
    let east = w.events(PRODUCTION, "us-east-1").await;
    east.disable_rule()
        .name("breakglass-console-login")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "rule_disabled",
            PRODUCTION,
            Some("us-east-1"),
            "breakglass-console-login"
        )]
    );
    w.reapply().await;
    w.assert_clean("re-enabling the rule").await;

    // A break-glass user with an access key.
    let security = w.iam(SECURITY).await;
    let key = security
        .create_access_key()
        .user_name("alice-BREAK-GLASS")
        .send()
        .await
        .unwrap()
        .access_key()
        .unwrap()
        .access_key_id()
        .to_owned();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want("user_access_key", SECURITY, None, "alice-BREAK-GLASS")]
    );
    assert_eq!(
        message_of(&run, "user_access_key"),
        format!(
            "break-glass user alice-BREAK-GLASS in 111111111111 has an access key ({key}): delete it"
        )
    );
    security
        .delete_access_key()
        .user_name("alice-BREAK-GLASS")
        .access_key_id(&key)
        .send()
        .await
        .unwrap();
    w.assert_clean("deleting the key").await;

    // A break-glass user without MFA.
    let serial = security
        .list_mfa_devices()
        .user_name("bob-BREAK-GLASS")
        .send()
        .await
        .unwrap()
        .mfa_devices()[0]
        .serial_number()
        .to_owned();
    security
        .deactivate_mfa_device()
        .user_name("bob-BREAK-GLASS")
        .serial_number(&serial)
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want("user_no_mfa", SECURITY, None, "bob-BREAK-GLASS")]
    );
    let bob = run
        .users
        .iter()
        .find(|u| u.user == "bob-BREAK-GLASS")
        .unwrap();
    assert!(bob.mfa_devices.is_empty());
    security
        .enable_mfa_device()
        .user_name("bob-BREAK-GLASS")
        .serial_number(&serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    w.assert_clean("enrolling MFA again").await;

    // A topic nobody is subscribed to.
    let sns = aws_sdk_sns::Client::new(&in_account(&w.base, PRODUCTION, "us-west-2").await);
    let topic = "arn:aws:sns:us-west-2:222222222222:breakglass-alerts";
    let subscription = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .unwrap()
        .subscriptions()[0]
        .subscription_arn()
        .unwrap()
        .to_owned();
    sns.unsubscribe()
        .subscription_arn(subscription)
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "topic_no_subscription",
            PRODUCTION,
            Some("us-west-2"),
            "breakglass-alerts"
        )]
    );
    sns.subscribe()
        .topic_arn(topic)
        .protocol("email")
        .endpoint("soc@example.com")
        .send()
        .await
        .unwrap();
    w.assert_clean("subscribing again").await;

    // A trail that stopped logging.
    let trail =
        aws_sdk_cloudtrail::Client::new(&in_account(&w.base, PRODUCTION, "us-east-1").await);
    trail.stop_logging().name("org-trail").send().await.unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "trail_not_logging",
            PRODUCTION,
            Some("us-east-1"),
            "aws-cloudtrail-logs"
        )]
    );
    trail
        .start_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();
    w.assert_clean("restarting the trail").await;

    // Passwords older than the rotation period.
    let mut later = PreflightOptions::new(now() + Duration::days(91));
    let run = w.run_as(&w.broker, &later).await;
    assert_eq!(
        seen(&run),
        [
            want("user_password_old", SECURITY, None, "alice-BREAK-GLASS"),
            want("user_password_old", SECURITY, None, "bob-BREAK-GLASS"),
        ]
    );
    later.password_max_age = Duration::days(120);
    assert!(w.run_as(&w.broker, &later).await.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_other_than_the_broker_skips_the_revoker_assumption_and_says_why() {
    let Some(w) = Box::pin(world()).await else {
        return;
    };
    let run = w.run_as(&w.base, &PreflightOptions::new(now())).await;
    assert!(run.passed(), "{:#?}", run.steps);
    let skipped: Vec<_> = run
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Skipped)
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert_eq!(skipped[0].name, "preflight: revoker assumable");
    assert_eq!(skipped[0].account.as_deref(), Some(PRODUCTION));
    assert_eq!(skipped[0].findings[0].check, "revoker_not_tried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_finds_a_missing_trail_reader_and_a_missing_queue_target() {
    let Some(w) = Box::pin(world_with(&activity_text())).await else {
        return;
    };
    let clean = w.run().await;
    assert_eq!(seen(&clean), Vec::<Seen>::new(), "{:#?}", clean.steps);
    assert!(
        clean
            .steps
            .iter()
            .any(|s| s.name == "preflight: trail reader role" && s.outcome == Outcome::Passed),
        "{:#?}",
        clean.steps
    );

    // The reader role deleted: one finding, naming it in the log-archive account.
    let iam = w.iam(SECURITY).await;
    iam.delete_role_policy()
        .role_name("BreakglassTrailReader")
        .policy_name("BreakglassReadTrail")
        .send()
        .await
        .unwrap();
    iam.delete_role()
        .role_name("BreakglassTrailReader")
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "reader_missing",
            SECURITY,
            None,
            "BreakglassTrailReader"
        )]
    );
    assert!(
        message_of(&run, "reader_missing").contains("org-cloudtrail-logs"),
        "{}",
        message_of(&run, "reader_missing")
    );
    w.reapply().await;
    w.assert_clean("restoring the reader role").await;

    // A rule in another account that no longer feeds the queue: one finding, that rule.
    let events = w.events(PRODUCTION, "us-east-1").await;
    events
        .remove_targets()
        .rule("breakglass-switch-role")
        .ids(breakglass_config::templates::activity::QUEUE_TARGET_ID)
        .send()
        .await
        .unwrap();
    let run = w.run().await;
    assert_eq!(
        seen(&run),
        [want(
            "rule_no_queue_target",
            PRODUCTION,
            Some("us-east-1"),
            "breakglass-switch-role"
        )]
    );
    w.reapply().await;
    w.assert_clean("restoring the queue target").await;
}

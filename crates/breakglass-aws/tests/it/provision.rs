//! `apply` against the emulator: everything the example config asks for is created and read
//! back through the SDK (independently of the provisioner's own reading), a second run
//! changes nothing, a changed config yields exactly the expected diff, and resources
//! without the ownership mark are never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aws_config::SdkConfig;
use breakglass_aws::provision::{AccountPlan, Provisioner};
use breakglass_config::Config;
use breakglass_config::diff::Change;
use breakglass_config::resources::{DesiredState, Resource};
use breakglass_testkit::moto::Moto;
use serde_json::Value;

use crate::emulator::{in_account, sdk_config};

pub(crate) fn example_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/breakglass.toml");
    std::fs::read_to_string(path).unwrap()
}

pub(crate) fn desired(text: &str) -> (Config, DesiredState) {
    let config = Config::load(text, "breakglass.toml").unwrap();
    let state = DesiredState::build(&config);
    (config, state)
}

/// CloudTrail's log group is a prerequisite `apply` never creates.
pub(crate) async fn create_log_groups(base: &SdkConfig, state: &DesiredState) {
    for account in &state.accounts {
        let sdk = in_account(base, account.id.as_str(), &account.home_region).await;
        aws_sdk_cloudwatchlogs::Client::new(&sdk)
            .create_log_group()
            .log_group_name(&account.log_group)
            .send()
            .await
            .unwrap();
    }
}

pub(crate) async fn apply_all(provisioner: &Provisioner, plans: &[AccountPlan]) {
    for plan in plans {
        provisioner.apply(plan).await.unwrap();
    }
}

fn decode(text: &str) -> Value {
    let text = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tags_of<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Reads one desired resource back with plain SDK calls and compares it field by field.
async fn check(base: &SdkConfig, account: &str, resource: &Resource) {
    match resource {
        Resource::Policy(want) => {
            let iam = aws_sdk_iam::Client::new(&in_account(base, account, "us-east-1").await);
            let arn = want.arn("aws", account);
            let got = iam.get_policy().policy_arn(&arn).send().await.unwrap();
            let policy = got.policy().unwrap();
            assert_eq!(policy.path(), Some(want.path.as_str()));
            let version = iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(policy.default_version_id().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(
                decode(version.policy_version().unwrap().document().unwrap()),
                want.document
            );
            let tags = iam
                .list_policy_tags()
                .policy_arn(&arn)
                .send()
                .await
                .unwrap();
            assert_eq!(
                tags_of(tags.tags().iter().map(|t| (t.key(), t.value()))),
                want.tags
            );
        }
        Resource::Role(want) => {
            let iam = aws_sdk_iam::Client::new(&in_account(base, account, "us-east-1").await);
            let got = iam.get_role().role_name(&want.name).send().await.unwrap();
            let role = got.role().unwrap();
            assert_eq!(role.path(), want.path);
            assert_eq!(role.description(), Some(want.description.as_str()));
            assert_eq!(role.max_session_duration(), Some(want.max_session_duration));
            assert_eq!(
                role.permissions_boundary()
                    .and_then(|b| b.permissions_boundary_arn()),
                want.permissions_boundary.as_deref()
            );
            assert_eq!(
                decode(role.assume_role_policy_document().unwrap()),
                want.trust_policy
            );
            let attached: BTreeSet<String> = iam
                .list_attached_role_policies()
                .role_name(&want.name)
                .send()
                .await
                .unwrap()
                .attached_policies()
                .iter()
                .map(|p| p.policy_arn().unwrap().to_owned())
                .collect();
            assert_eq!(attached, want.managed_policies);
            let names = iam
                .list_role_policies()
                .role_name(&want.name)
                .send()
                .await
                .unwrap();
            let mut inline = BTreeMap::new();
            for name in names.policy_names() {
                let doc = iam
                    .get_role_policy()
                    .role_name(&want.name)
                    .policy_name(name)
                    .send()
                    .await
                    .unwrap();
                inline.insert(name.clone(), decode(doc.policy_document()));
            }
            assert_eq!(inline, want.inline_policies);
            let tags = iam
                .list_role_tags()
                .role_name(&want.name)
                .send()
                .await
                .unwrap();
            assert_eq!(
                tags_of(tags.tags().iter().map(|t| (t.key(), t.value()))),
                want.tags
            );
        }
        Resource::User(want) => {
            let iam = aws_sdk_iam::Client::new(&in_account(base, account, "us-east-1").await);
            let got = iam.get_user().user_name(&want.name).send().await.unwrap();
            assert_eq!(got.user().unwrap().path(), want.path);
            // The login profile exists; that it requires a reset is checked on the wire (moto
            // drops `PasswordResetRequired` on CreateLoginProfile and always reports false).
            iam.get_login_profile()
                .user_name(&want.name)
                .send()
                .await
                .unwrap();
            let keys = iam
                .list_access_keys()
                .user_name(&want.name)
                .send()
                .await
                .unwrap();
            assert!(
                keys.access_key_metadata().is_empty(),
                "break-glass users are console-only"
            );
            let names = iam
                .list_user_policies()
                .user_name(&want.name)
                .send()
                .await
                .unwrap();
            let mut inline = BTreeMap::new();
            for name in names.policy_names() {
                let doc = iam
                    .get_user_policy()
                    .user_name(&want.name)
                    .policy_name(name)
                    .send()
                    .await
                    .unwrap();
                inline.insert(name.clone(), decode(doc.policy_document()));
            }
            assert_eq!(inline, want.inline_policies);
            let deny = &want.inline_policies["DenyAccessKeys"]["Statement"][0];
            assert_eq!(deny["Effect"], "Deny");
            let tags = iam
                .list_user_tags()
                .user_name(&want.name)
                .send()
                .await
                .unwrap();
            assert_eq!(
                tags_of(tags.tags().iter().map(|t| (t.key(), t.value()))),
                want.tags
            );
        }
        Resource::Secret(want) => {
            let sm =
                aws_sdk_secretsmanager::Client::new(&in_account(base, account, &want.region).await);
            let got = sm
                .describe_secret()
                .secret_id(&want.name)
                .send()
                .await
                .unwrap();
            assert_eq!(got.description(), Some(want.description.as_str()));
            let tags = tags_of(
                got.tags()
                    .iter()
                    .map(|t| (t.key().unwrap(), t.value().unwrap())),
            );
            assert_eq!(tags, want.tags);
            let value = sm
                .get_secret_value()
                .secret_id(&want.name)
                .send()
                .await
                .unwrap();
            let stored: Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
            assert_eq!(stored["username"], want.tags["breakglass:user"].as_str());
            // The password itself is never printed, only checked to be there.
            assert!(stored["password"].as_str().unwrap().len() >= 16);
        }
        Resource::MetricFilter(want) => {
            let logs =
                aws_sdk_cloudwatchlogs::Client::new(&in_account(base, account, &want.region).await);
            let got = logs
                .describe_metric_filters()
                .log_group_name(&want.log_group)
                .filter_name_prefix(&want.name)
                .send()
                .await
                .unwrap();
            let filter = got
                .metric_filters()
                .iter()
                .find(|f| f.filter_name() == Some(want.name.as_str()))
                .unwrap();
            assert_eq!(filter.filter_pattern(), Some(want.pattern.as_str()));
            let t = &filter.metric_transformations()[0];
            assert_eq!(
                (t.metric_name(), t.metric_namespace(), t.metric_value()),
                (
                    want.metric_name.as_str(),
                    want.metric_namespace.as_str(),
                    "1"
                )
            );
        }
        Resource::Alarm(want) => {
            let cw =
                aws_sdk_cloudwatch::Client::new(&in_account(base, account, &want.region).await);
            let got = cw
                .describe_alarms()
                .alarm_names(&want.name)
                .send()
                .await
                .unwrap();
            let alarm = &got.metric_alarms()[0];
            assert_eq!(alarm.metric_name(), Some(want.metric_name.as_str()));
            assert_eq!(alarm.namespace(), Some(want.metric_namespace.as_str()));
            assert_eq!(alarm.threshold(), Some(f64::from(want.threshold)));
            assert_eq!(alarm.period(), Some(want.period));
            assert_eq!(alarm.statistic().map(|s| s.as_str()), Some("Sum"));
            assert_eq!(
                alarm.comparison_operator().map(|c| c.as_str()),
                Some(want.comparison.as_str())
            );
            assert_eq!(
                alarm.alarm_actions(),
                std::slice::from_ref(&want.alarm_action)
            );
        }
        Resource::Topic(want) => {
            let sns = aws_sdk_sns::Client::new(&in_account(base, account, &want.region).await);
            let arn = format!("arn:aws:sns:{}:{account}:{}", want.region, want.name);
            let got = sns
                .get_topic_attributes()
                .topic_arn(&arn)
                .send()
                .await
                .unwrap();
            let policy: Value = serde_json::from_str(&got.attributes().unwrap()["Policy"]).unwrap();
            assert_eq!(policy, want.policy);
            let tags = sns
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .unwrap();
            assert_eq!(
                tags_of(tags.tags().iter().map(|t| (t.key(), t.value()))),
                want.tags
            );
        }
        Resource::EventRule(want) => {
            let events =
                aws_sdk_eventbridge::Client::new(&in_account(base, account, &want.region).await);
            let got = events
                .describe_rule()
                .name(&want.name)
                .send()
                .await
                .unwrap();
            assert_eq!(
                got.state().map(|s| s.as_str()),
                Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
            );
            let pattern: Value = serde_json::from_str(got.event_pattern().unwrap()).unwrap();
            assert_eq!(pattern, want.pattern);
            let targets = events
                .list_targets_by_rule()
                .rule(&want.name)
                .send()
                .await
                .unwrap();
            let topic = targets
                .targets()
                .iter()
                .find(|t| t.id() == breakglass_config::resources::RULE_TARGET_ID)
                .unwrap();
            assert_eq!(topic.arn(), want.target);
            let queue = targets
                .targets()
                .iter()
                .find(|t| t.id() == breakglass_config::templates::activity::QUEUE_TARGET_ID);
            assert_eq!(
                queue.map(|t| (t.arn().to_owned(), t.role_arn().map(str::to_owned))),
                want.queue
                    .as_ref()
                    .map(|q| (q.arn.clone(), q.role_arn.clone())),
                "activity-queue target of {account} {}/{}",
                want.region,
                want.name
            );
        }
        Resource::Queue(want) => {
            let sqs = aws_sdk_sqs::Client::new(&in_account(base, account, &want.region).await);
            let url = sqs
                .get_queue_url()
                .queue_name(&want.name)
                .send()
                .await
                .unwrap()
                .queue_url()
                .unwrap()
                .to_owned();
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attributes = attributes.attributes().unwrap();
            let policy: Value = serde_json::from_str(
                attributes
                    .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(policy, want.policy);
            let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
            assert_eq!(
                tags.tags()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                want.tags
            );
        }
    }
}

/// The example with its `[activity]` block uncommented: the organisation trail in the
/// security account's bucket, with a queue and a log group.
pub(crate) fn activity_text() -> String {
    let text = example_text();
    let (head, block) = text.split_once("# [activity]\n").unwrap();
    let block: String = block
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{head}[activity]\n{block}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_trail_reader_the_activity_queue_and_its_targets() {
    let Some(moto) = Moto::start() else { return };
    let base = sdk_config(&moto).await;
    let (config, state) = desired(&activity_text());
    create_log_groups(&base, &state).await;
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    let plans = provisioner.plan(&config, &state).await.unwrap();
    let listing: Vec<String> = plans.iter().map(|p| p.diff.to_string()).collect();
    let listing = listing.join("\n");
    for line in [
        "  + role BreakglassTrailReader\n",
        "  + queue us-east-1/breakglass-activity\n",
        "  + role BreakglassActivityDelivery\n",
    ] {
        assert!(listing.contains(line), "{listing}");
    }
    apply_all(&provisioner, &plans).await;
    for account in &state.accounts {
        for resource in &account.resources {
            check(&base, account.id.as_str(), resource).await;
        }
    }

    // Read back independently: the reader role trusts the broker alone and only reads.
    let iam = aws_sdk_iam::Client::new(&in_account(&base, "111111111111", "us-east-1").await);
    let role = iam
        .get_role()
        .role_name("BreakglassTrailReader")
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.path(), "/breakglass/");
    let trust = decode(role.assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        "arn:aws:iam::111111111111:role/breakglass-broker"
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let policy = iam
        .get_role_policy()
        .role_name("BreakglassTrailReader")
        .policy_name("BreakglassReadTrail")
        .send()
        .await
        .unwrap();
    let policy = decode(policy.policy_document());
    let actions: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(
        actions,
        [
            "logs:FilterLogEvents",
            "logs:GetLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
        .map(str::to_owned)
        .into()
    );

    // The us-east-1 rules of both accounts feed the queue; us-west-2's cannot (EventBridge
    // delivers to another account's queue only within a region).
    for (account, region, queue) in [
        ("111111111111", "us-east-1", true),
        ("222222222222", "us-east-1", true),
        ("222222222222", "us-west-2", false),
    ] {
        let events = aws_sdk_eventbridge::Client::new(&in_account(&base, account, region).await);
        let targets = events
            .list_targets_by_rule()
            .rule("breakglass-assume-role")
            .send()
            .await
            .unwrap();
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        assert_eq!(
            arns.contains(&"arn:aws:sqs:us-east-1:111111111111:breakglass-activity"),
            queue,
            "{account} {region}: {arns:?}"
        );
    }

    let again = provisioner.plan(&config, &state).await.unwrap();
    for plan in &again {
        assert!(
            plan.diff.changes.is_empty(),
            "second run wants changes:\n{}",
            plan.diff
        );
    }

    // Dropping the queue from the config takes the targets off the rules again.
    let without = activity_text().replace("queue = \"breakglass-activity\"", "");
    let (config2, state2) = desired(&without);
    let plans = provisioner.plan(&config2, &state2).await.unwrap();
    let listing: Vec<String> = plans.iter().map(|p| p.diff.to_string()).collect();
    let listing = listing.join("\n");
    assert!(
        listing.contains("  ~ event rule us-east-1/breakglass-assume-role\n"),
        "{listing}"
    );
    assert!(
        listing.contains("  - role BreakglassActivityDelivery\n"),
        "{listing}"
    );
    apply_all(&provisioner, &plans).await;
    let events =
        aws_sdk_eventbridge::Client::new(&in_account(&base, "222222222222", "us-east-1").await);
    let targets = events
        .list_targets_by_rule()
        .rule("breakglass-assume-role")
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets().len(), 1, "{targets:?}");
    for plan in provisioner.plan(&config2, &state2).await.unwrap() {
        assert!(plan.diff.changes.is_empty(), "{}", plan.diff);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_everything_and_a_second_apply_changes_nothing() {
    let Some(moto) = Moto::start() else { return };
    let base = sdk_config(&moto).await;
    let (config, state) = desired(&example_text());
    create_log_groups(&base, &state).await;
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    moto.start_recording().unwrap();

    let plans = provisioner.plan(&config, &state).await.unwrap();
    for (plan, account) in plans.iter().zip(&state.accounts) {
        assert_eq!(
            plan.diff.changes.len(),
            account.resources.len(),
            "{}",
            plan.diff
        );
        assert!(
            plan.diff
                .changes
                .iter()
                .all(|c| matches!(c, Change::Create(_))),
            "{}",
            plan.diff
        );
    }
    let kinds: BTreeSet<String> = state
        .accounts
        .iter()
        .flat_map(|a| a.resources.iter().map(|r| r.key().kind.to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            "alarm",
            "event rule",
            "metric filter",
            "policy",
            "role",
            "secret",
            "topic",
            "user"
        ]
        .map(str::to_owned)
        .into()
    );
    // The broker's revoker role goes to every member account, not to the security account
    // (where the broker uses its own credentials).
    let revokers: Vec<(&str, &str)> = state
        .accounts
        .iter()
        .flat_map(|a| {
            a.resources.iter().filter_map(move |r| match r {
                Resource::Role(role) if role.path == "/breakglass/" => {
                    Some((a.name.as_str(), role.name.as_str()))
                }
                _ => None,
            })
        })
        .collect();
    assert_eq!(revokers, [("production", "BreakglassRevoker")]);
    apply_all(&provisioner, &plans).await;

    // What was sent for each console password (bodies hold the password: never printed).
    let bodies = moto.recorded_bodies().unwrap();
    let profiles: Vec<&String> = bodies
        .iter()
        .filter(|b| b.contains("Action=CreateLoginProfile"))
        .collect();
    assert_eq!(
        profiles.len(),
        2,
        "one console password per break-glass user"
    );
    assert!(
        profiles
            .iter()
            .all(|b| b.contains("PasswordResetRequired=true")),
        "every password must be reset at first sign-in"
    );

    for account in &state.accounts {
        for resource in &account.resources {
            check(&base, account.id.as_str(), resource).await;
        }
    }

    let again = provisioner.plan(&config, &state).await.unwrap();
    for plan in &again {
        assert!(
            plan.diff.changes.is_empty(),
            "second run wants changes:\n{}",
            plan.diff
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_config_yields_exactly_the_expected_diff() {
    let Some(moto) = Moto::start() else { return };
    let base = sdk_config(&moto).await;
    let original = example_text();
    let (config, state) = desired(&original);
    create_log_groups(&base, &state).await;
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    apply_all(
        &provisioner,
        &provisioner.plan(&config, &state).await.unwrap(),
    )
    .await;

    // Shorter sessions for SecurityAdmin; SecurityAnalyst and its playbook removed; bob
    // loses his break-glass user.
    let changed = original
        .replace(
            "emergency_contact = \"+1 555 0101\"\ngroups = [\"ir-leads\", \"responders\"]\nbreak_glass_user = true\n",
            "emergency_contact = \"+1 555 0101\"\ngroups = [\"ir-leads\", \"responders\"]\n",
        )
        .replace(
            "[roles.SecurityAdmin]\ntemplate = \"SecurityAdmin\"\n",
            "[roles.SecurityAdmin]\ntemplate = \"SecurityAdmin\"\nmax_session_duration = \"1h\"\n",
        )
        .replace(
            "[roles.SecurityAnalyst]\ntemplate = \"SecurityAnalyst\"\n",
            "",
        );
    let start = changed.find("[playbooks.investigate]").unwrap();
    let end = changed.find("[playbooks.contain]").unwrap();
    let changed = format!("{}{}", &changed[..start], &changed[end..]);
    assert_ne!(changed, original);
    let (config2, state2) = desired(&changed);
    let plans = provisioner.plan(&config2, &state2).await.unwrap();

    let summary: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.diff.changes.iter().map(move |c| match c {
                Change::Create(r) => format!("{} + {}", p.diff.name, r.key()),
                Change::Delete(r) => format!("{} - {}", p.diff.name, r.key()),
                Change::Unowned(k) => format!("{} ! {k}", p.diff.name),
                Change::Update { to, fields, .. } => format!(
                    "{} ~ {} [{}]",
                    p.diff.name,
                    to.key(),
                    fields
                        .iter()
                        .map(|f| format!(
                            "{}: {} -> {}",
                            f.field,
                            f.from.as_deref().unwrap_or("-"),
                            f.to.as_deref().unwrap_or("-")
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            })
        })
        .collect();
    // The revoker role no longer names the removed role.
    let (revoker, summary) = summary.split_first().unwrap();
    let (from, to) = revoker
        .strip_prefix(
            "production ~ role BreakglassRevoker [inline policy `BreakglassRevokeSessions`: ",
        )
        .and_then(|change| change.split_once(" -> "))
        .unwrap_or_else(|| panic!("{revoker}"));
    assert!(
        from.contains("role/incident-response/SecurityAnalyst"),
        "{from}"
    );
    assert!(!to.contains("SecurityAnalyst"), "{to}");
    assert!(to.contains("role/incident-response/SecurityAdmin"), "{to}");
    assert_eq!(
        summary,
        [
            "production ~ role SecurityAdmin [max session duration: 7200 -> 3600]",
            "production ~ role SecurityBreakGlass [trust policy /Statement/1/Condition/ArnEquals/aws:PrincipalArn: \
             [\"arn:aws:iam::111111111111:user/incident-response/alice-BREAK-GLASS\",\"arn:aws:iam::111111111111:user/incident-response/bob-BREAK-GLASS\"] \
             -> \"arn:aws:iam::111111111111:user/incident-response/alice-BREAK-GLASS\"]",
            "production - role SecurityAnalyst",
            "security - user bob-BREAK-GLASS",
            "security - secret us-east-1/breakglass/break-glass-password/bob-BREAK-GLASS",
        ]
    );

    apply_all(&provisioner, &plans).await;
    let iam = aws_sdk_iam::Client::new(&in_account(&base, "222222222222", "us-east-1").await);
    let gone = iam.get_role().role_name("SecurityAnalyst").send().await;
    assert!(
        gone.unwrap_err()
            .as_service_error()
            .unwrap()
            .is_no_such_entity_exception()
    );
    let security = aws_sdk_iam::Client::new(&in_account(&base, "111111111111", "us-east-1").await);
    let gone = security
        .get_user()
        .user_name("bob-BREAK-GLASS")
        .send()
        .await;
    assert!(
        gone.unwrap_err()
            .as_service_error()
            .unwrap()
            .is_no_such_entity_exception()
    );
    assert!(
        security
            .get_user()
            .user_name("alice-BREAK-GLASS")
            .send()
            .await
            .is_ok()
    );
    for plan in provisioner.plan(&config2, &state2).await.unwrap() {
        assert!(plan.diff.changes.is_empty(), "{}", plan.diff);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_without_the_ownership_mark_are_left_alone() {
    let Some(moto) = Moto::start() else { return };
    let base = sdk_config(&moto).await;
    let (config, state) = desired(&example_text());
    create_log_groups(&base, &state).await;
    let production = in_account(&base, "222222222222", "us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&production);
    let foreign_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sts:AssumeRole"}]}"#;
    for name in ["SecurityAdmin", "SomeoneElsesRole"] {
        iam.create_role()
            .role_name(name)
            .path("/incident-response/")
            .assume_role_policy_document(foreign_trust)
            .send()
            .await
            .unwrap();
    }
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    let plans = provisioner.plan(&config, &state).await.unwrap();
    let prod = plans.iter().find(|p| p.diff.name == "production").unwrap();
    let unowned: Vec<String> = prod
        .diff
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Unowned(k) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(unowned, ["role SecurityAdmin"]);
    assert!(
        !prod.diff.to_string().contains("SomeoneElsesRole"),
        "{}",
        prod.diff
    );
    apply_all(&provisioner, &plans).await;

    let admin = iam
        .get_role()
        .role_name("SecurityAdmin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decode(admin.role().unwrap().assume_role_policy_document().unwrap()),
        serde_json::from_str::<Value>(foreign_trust).unwrap()
    );
    assert!(
        iam.get_role()
            .role_name("SomeoneElsesRole")
            .send()
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_revoker_role_replaces_the_old_one() {
    let Some(moto) = Moto::start() else { return };
    let base = sdk_config(&moto).await;
    let original = example_text();
    let (config, state) = desired(&original);
    create_log_groups(&base, &state).await;
    let provisioner = Provisioner::connect(base.clone()).await.unwrap();
    apply_all(
        &provisioner,
        &provisioner.plan(&config, &state).await.unwrap(),
    )
    .await;

    let renamed = original.replace(
        "revoker_role = \"BreakglassRevoker\"",
        "revoker_role = \"SessionRevoker\"",
    );
    assert_ne!(renamed, original);
    let (config2, state2) = desired(&renamed);
    let plans = provisioner.plan(&config2, &state2).await.unwrap();
    let summary: Vec<String> = plans
        .iter()
        .flat_map(|p| {
            p.diff.changes.iter().map(move |c| match c {
                Change::Create(r) => format!("{} + {}", p.diff.name, r.key()),
                Change::Delete(r) => format!("{} - {}", p.diff.name, r.key()),
                other => format!("{} ? {}", p.diff.name, other.key()),
            })
        })
        .collect();
    assert_eq!(
        summary,
        [
            "production + role SessionRevoker",
            "production - role BreakglassRevoker"
        ]
    );
    apply_all(&provisioner, &plans).await;
    let iam = aws_sdk_iam::Client::new(&in_account(&base, "222222222222", "us-east-1").await);
    let role = iam
        .get_role()
        .role_name("SessionRevoker")
        .send()
        .await
        .unwrap();
    assert_eq!(role.role().unwrap().path(), "/breakglass/");
    assert!(
        iam.get_role()
            .role_name("BreakglassRevoker")
            .send()
            .await
            .unwrap_err()
            .as_service_error()
            .unwrap()
            .is_no_such_entity_exception()
    );
    for plan in provisioner.plan(&config2, &state2).await.unwrap() {
        assert!(plan.diff.changes.is_empty(), "{}", plan.diff);
    }
}

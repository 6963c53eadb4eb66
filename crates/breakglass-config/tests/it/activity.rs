//! `[activity]`: the example's (commented) block loads, and the desired state holds the trail
//! reader role, the activity queue, the delivery roles and the queue targets exactly where
//! EventBridge can deliver, and nothing more.

use breakglass_config::Config;
use breakglass_config::render::render_all;
use breakglass_config::resources::{DesiredState, QueueTarget, Resource, Role};
use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request, parse_caller};
use serde_json::Value;
use time::Duration;

use crate::config::example_text;

/// The example with its `[activity]` block uncommented.
pub fn activity_text() -> String {
    let text = example_text();
    let (head, block) = text.split_once("# [activity]\n").unwrap();
    let block: String = block
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{head}[activity]\n{block}\n")
}

fn load(text: &str) -> Config {
    Config::load(text, "activity.toml").unwrap()
}

fn role<'a>(state: &'a DesiredState, account: &str, name: &str) -> Option<&'a Role> {
    state
        .accounts
        .iter()
        .find(|a| a.name == account)?
        .resources
        .iter()
        .find_map(|r| match r {
            Resource::Role(role) if role.name == name => Some(role),
            _ => None,
        })
}

fn queue_target(state: &DesiredState, account: &str, region: &str) -> Vec<Option<QueueTarget>> {
    state
        .accounts
        .iter()
        .find(|a| a.name == account)
        .unwrap()
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::EventRule(e) if e.region == region => Some(e.queue.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_examples_activity_block_loads_with_its_values() {
    let config = load(&activity_text());
    let a = config.activity.as_ref().unwrap();
    assert_eq!(a.bucket, "org-cloudtrail-logs");
    assert_eq!(a.account, "security");
    assert_eq!(a.prefix, "");
    assert_eq!(a.reader_role, "BreakglassTrailReader");
    assert_eq!(a.queue.as_deref(), Some("breakglass-activity"));
    assert_eq!(a.log_group.as_deref(), Some("aws-cloudtrail-logs"));
    assert_eq!(a.retention, Duration::days(90));
    assert_eq!(a.every, Duration::minutes(1));
    assert_eq!(
        a.reader_role_arn(&config),
        "arn:aws:iam::111111111111:role/breakglass/BreakglassTrailReader"
    );
    assert_eq!(
        a.queue_arn(&config).as_deref(),
        Some("arn:aws:sqs:us-east-1:111111111111:breakglass-activity")
    );
    assert_eq!(a.logs_prefix(), "AWSLogs/");
    // The example as shipped has none.
    assert!(crate::config::example().activity.is_none());
}

#[test]
fn defaults_fill_what_is_left_out() {
    let text = activity_text()
        .replace("reader_role = \"BreakglassTrailReader\"\n", "")
        .replace("retention = \"90d\"", "")
        .replace("every = \"1m\"", "")
        .replace("prefix = \"\"", "prefix = \"org/trail\"");
    let config = load(&text);
    let a = config.activity.as_ref().unwrap();
    assert_eq!(a.reader_role, "BreakglassTrailReader");
    assert_eq!(a.retention, Duration::days(90));
    assert_eq!(a.every, Duration::minutes(1));
    assert_eq!(a.logs_prefix(), "org/trail/AWSLogs/");
    let config = load(&activity_text().replace("retention = \"90d\"", "retention = \"1d12h\""));
    assert_eq!(config.activity.unwrap().retention, Duration::hours(36));
}

/// What the reader's policy allows, asked of the policy engine.
fn reader_may(config: &Config, action: &str, resource: &str, prefix: Option<&str>) -> bool {
    let state = DesiredState::build(config);
    let role = role(&state, "security", "BreakglassTrailReader").unwrap();
    let doc = role.inline_policies.get("BreakglassReadTrail").unwrap();
    let policy = breakglass_iam::parse_value(doc, PolicyType::Identity).unwrap();
    let caller = parse_caller(
        "arn:aws:sts::111111111111:assumed-role/BreakglassTrailReader/broker",
        None,
    )
    .unwrap();
    let mut request = Request::new(caller, action, resource);
    if let Some(p) = prefix {
        request.insert_context("s3:prefix", ContextValue::one(p));
    }
    request.derive_principal_keys();
    PolicySet::builder()
        .identity(&policy)
        .build()
        .evaluate(&request)
        .decision
        == Decision::Allow
}

#[test]
fn the_reader_role_trusts_the_broker_alone_and_only_reads() {
    let config = load(&activity_text());
    let state = DesiredState::build(&config);
    let reader = role(&state, "security", "BreakglassTrailReader").unwrap();
    assert_eq!(reader.path, "/breakglass/");
    assert!(
        role(&state, "production", "BreakglassTrailReader").is_none(),
        "the reader lives in the log-archive account only"
    );
    let trust = &reader.trust_policy["Statement"];
    assert_eq!(trust.as_array().unwrap().len(), 1);
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        config.broker.principal.as_str()
    );
    // Like the revoker: no SourceIdentity, no session tags.
    let text = reader.trust_policy.to_string();
    assert!(
        !text.contains("SetSourceIdentity") && !text.contains("TagSession"),
        "{text}"
    );

    let key = "arn:aws:s3:::org-cloudtrail-logs/AWSLogs/o-abc/222222222222/CloudTrail/us-east-1/2026/12/06/x.json.gz";
    assert!(reader_may(&config, "s3:GetObject", key, None));
    assert!(reader_may(
        &config,
        "s3:ListBucket",
        "arn:aws:s3:::org-cloudtrail-logs",
        Some("AWSLogs/o-abc/")
    ));
    let queue = "arn:aws:sqs:us-east-1:111111111111:breakglass-activity";
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    ] {
        assert!(reader_may(&config, action, queue, None), "{action}");
    }
    let group = "arn:aws:logs:us-east-1:111111111111:log-group:aws-cloudtrail-logs";
    assert!(reader_may(&config, "logs:FilterLogEvents", group, None));
    // What a reader that wants more would try.
    for (action, resource, prefix) in [
        ("s3:PutObject", key, None),
        ("s3:DeleteObject", key, None),
        (
            "s3:PutBucketPolicy",
            "arn:aws:s3:::org-cloudtrail-logs",
            None,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::org-cloudtrail-logs/secrets.txt",
            None,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::another-bucket/AWSLogs/x",
            None,
        ),
        (
            "s3:ListBucket",
            "arn:aws:s3:::org-cloudtrail-logs",
            Some(""),
        ),
        ("s3:ListBucket", "arn:aws:s3:::org-cloudtrail-logs", None),
        ("sqs:SendMessage", queue, None),
        ("sqs:PurgeQueue", queue, None),
        (
            "sqs:ReceiveMessage",
            "arn:aws:sqs:us-east-1:111111111111:other",
            None,
        ),
        (
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111111111111:key/k",
            None,
        ),
        ("logs:DeleteLogGroup", group, None),
        ("iam:PassRole", "*", None),
    ] {
        assert!(
            !reader_may(&config, action, resource, prefix),
            "{action} {resource} {prefix:?}"
        );
    }
}

#[test]
fn the_queue_and_its_targets_are_where_eventbridge_can_deliver() {
    let config = load(&activity_text());
    let state = DesiredState::build(&config);
    let queue_arn = "arn:aws:sqs:us-east-1:111111111111:breakglass-activity";
    // The queue's own account and region: a direct target.
    let own = queue_target(&state, "security", "us-east-1");
    assert_eq!(own.len(), 3);
    assert!(own.iter().all(|t| t
        == &Some(QueueTarget {
            arn: queue_arn.to_owned(),
            role_arn: None
        })));
    // Another account, same region: through its own delivery role.
    let delivery = "arn:aws:iam::222222222222:role/breakglass/BreakglassActivityDelivery";
    let other = queue_target(&state, "production", "us-east-1");
    assert!(other.iter().all(|t| t
        == &Some(QueueTarget {
            arn: queue_arn.to_owned(),
            role_arn: Some(delivery.to_owned())
        })));
    // Another region: none (cross-region delivery goes bus to bus only).
    assert!(
        queue_target(&state, "production", "us-west-2")
            .iter()
            .all(Option::is_none)
    );
    let role = role(&state, "production", "BreakglassActivityDelivery").unwrap();
    assert_eq!(
        role.trust_policy["Statement"][0]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        role.trust_policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        "222222222222"
    );
    let send = role.inline_policies.values().next().unwrap();
    assert_eq!(send["Statement"][0]["Action"], "sqs:SendMessage");
    assert_eq!(send["Statement"][0]["Resource"], queue_arn);
    assert!(role_in(&state, "security", "BreakglassActivityDelivery").is_none());

    // The queue: in the log-archive account only, EventBridge allowed for the break-glass
    // rules of its region in every account, and the delivery roles.
    let queues: Vec<(&str, &Value)> = state
        .accounts
        .iter()
        .flat_map(|a| {
            a.resources.iter().filter_map(move |r| match r {
                Resource::Queue(q) => Some((a.name.as_str(), &q.policy)),
                _ => None,
            })
        })
        .collect();
    assert_eq!(queues.len(), 1);
    let (account, policy) = queues[0];
    assert_eq!(account, "security");
    let rules = policy["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 6, "{rules:?}");
    assert!(rules.iter().all(|r| {
        let r = r.as_str().unwrap();
        r.starts_with("arn:aws:events:us-east-1:") && r.contains(":rule/breakglass-")
    }));
    assert_eq!(
        policy["Statement"][1]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(policy["Statement"][2]["Principal"]["AWS"][0], delivery);
}

fn role_in<'a>(state: &'a DesiredState, account: &str, name: &str) -> Option<&'a Role> {
    role(state, account, name)
}

#[test]
fn without_a_queue_there_are_no_targets_no_queue_and_no_queue_permissions() {
    let text = activity_text().replace("queue = \"breakglass-activity\"", "");
    let config = load(&text);
    let state = DesiredState::build(&config);
    assert!(state.accounts.iter().all(|a| a.resources.iter().all(|r| {
        !matches!(r, Resource::Queue(_))
            && !matches!(r, Resource::EventRule(e) if e.queue.is_some())
            && !matches!(r, Resource::Role(role) if role.name == "BreakglassActivityDelivery")
    })));
    let reader = role(&state, "security", "BreakglassTrailReader").unwrap();
    let doc = reader.inline_policies.values().next().unwrap().to_string();
    assert!(!doc.contains("sqs:"), "{doc}");
    assert!(!reader_may(
        &config,
        "sqs:ReceiveMessage",
        "arn:aws:sqs:us-east-1:111111111111:breakglass-activity",
        None
    ));
}

#[test]
fn the_renders_carry_the_reader_the_queue_and_its_targets() {
    let config = load(&activity_text());
    let state = DesiredState::build(&config);
    let files = render_all(&config, &state);
    let file = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .contents
            .clone()
    };
    let security = file("cloudformation/security.yaml");
    for needle in [
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "RoleName: BreakglassTrailReader",
        "IsActivityRegion",
        "breakglass-activity-queue",
    ] {
        assert!(security.contains(needle), "{needle} not in {security}");
    }
    let production = file("cloudformation/production.yaml");
    assert!(production.contains("RoleName: BreakglassActivityDelivery"));
    assert!(production.contains("IsActivityRegion"));
    assert!(!production.contains("AWS::SQS::Queue"));
    let stackset = file("cloudformation/stackset.yaml");
    assert!(!stackset.contains("breakglass-activity"), "{stackset}");
    let tf: Value = serde_json::from_str(&file("terraform/security.tf.json")).unwrap();
    assert!(tf["resource"]["aws_sqs_queue"].is_object(), "{tf}");
    assert!(tf["resource"]["aws_sqs_queue_policy"].is_object(), "{tf}");
    let tf: Value = serde_json::from_str(&file("terraform/production.tf.json")).unwrap();
    let targets = tf["resource"]["aws_cloudwatch_event_target"]
        .as_object()
        .unwrap();
    let queue_targets: Vec<&Value> = targets
        .values()
        .filter(|t| t["target_id"] == "breakglass-activity-queue")
        .collect();
    // The three rules of us-east-1, through the delivery role; none in us-west-2.
    assert_eq!(queue_targets.len(), 3, "{targets:#?}");
    assert!(
        queue_targets.iter().all(|t| t["role_arn"]
            == "arn:aws:iam::222222222222:role/breakglass/BreakglassActivityDelivery")
    );
}

#[test]
fn the_activity_config_lints_without_errors() {
    let config = load(&activity_text());
    let findings = breakglass_config::lint::lint(&config, None);
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.level == breakglass_config::lint::Level::Error)
        .map(|f| format!("{f:?}"))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

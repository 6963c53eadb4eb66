//! CloudFormation rendering: one template per account and an account-agnostic StackSet
//! variant.
//!
//! A stack is regional and IAM is global, so each template is deployed in every region of its
//! account: IAM principals, secrets, metric filters and alarms carry the `IsHomeRegion`
//! condition; the SNS topic and the EventBridge rules exist in every region. Break-glass
//! passwords never leave AWS: the secret generates them and the login profile resolves them
//! with a dynamic reference.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::super::resources::{
    AccountState, Alarm, DELIVERY_ROLE, DesiredState, EventRule, ManagedPolicy, MetricFilter,
    Queue, Resource, Role, User, revoker_role,
};
use super::super::{Config, RoleConfig};
use crate::templates::activity::QUEUE_TARGET_ID;
use crate::templates::monitoring::topic_policy;

/// Allocates CloudFormation logical ids (alphanumeric, unique) from resource names.
#[derive(Default)]
struct LogicalIds(BTreeSet<String>);

impl LogicalIds {
    fn id(&mut self, prefix: &str, name: &str) -> String {
        let mut base = String::from(prefix);
        let mut upper = true;
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                if upper {
                    base.push(c.to_ascii_uppercase());
                } else {
                    base.push(c);
                }
                upper = false;
            } else {
                upper = true;
            }
        }
        let mut id = base.clone();
        let mut n = 2;
        while !self.0.insert(id.clone()) {
            id = format!("{base}{n}");
            n += 1;
        }
        id
    }
}

fn tags(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Array(
        map.iter()
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect(),
    )
}

fn home_only(resource: Value) -> Value {
    let mut resource = resource;
    if let Value::Object(map) = &mut resource {
        map.insert(
            "Condition".to_owned(),
            Value::String("IsHomeRegion".to_owned()),
        );
    }
    resource
}

/// Strings holding `${AWS::...}` placeholders become `Fn::Sub`; nothing else is touched, so
/// IAM policy variables such as `${aws:username}` are never mistaken for substitutions.
fn substitute(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains("${AWS::") => json!({ "Fn::Sub": s }),
        Value::Array(items) => Value::Array(items.into_iter().map(substitute).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, substitute(v))).collect())
        }
        other => other,
    }
}

/// A customer-managed policy. CloudFormation's `AWS::IAM::ManagedPolicy` takes no tags: the
/// stack owns it.
fn managed_policy(p: &ManagedPolicy) -> Value {
    home_only(json!({
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "ManagedPolicyName": p.name,
            "Path": p.path,
            "Description": p.description,
            "PolicyDocument": substitute(p.document.clone())
        }
    }))
}

/// `created` maps the ARN of each managed policy the template creates to its logical id:
/// those are attached by `Ref`, so the stack creates them first, in whichever account.
fn role(r: &Role, created: &std::collections::BTreeMap<String, String>) -> Value {
    let mut props = Map::new();
    props.insert("RoleName".to_owned(), json!(r.name));
    props.insert("Path".to_owned(), json!(r.path));
    props.insert("Description".to_owned(), json!(r.description));
    props.insert(
        "AssumeRolePolicyDocument".to_owned(),
        r.trust_policy.clone(),
    );
    props.insert(
        "MaxSessionDuration".to_owned(),
        json!(r.max_session_duration),
    );
    if let Some(boundary) = &r.permissions_boundary {
        props.insert("PermissionsBoundary".to_owned(), json!(boundary));
    }
    if !r.managed_policies.is_empty() {
        let arns: Vec<Value> = r
            .managed_policies
            .iter()
            .map(|arn| match created.get(arn) {
                Some(id) => json!({ "Ref": id }),
                None => json!(arn),
            })
            .collect();
        props.insert("ManagedPolicyArns".to_owned(), Value::Array(arns));
    }
    if !r.inline_policies.is_empty() {
        let policies: Vec<Value> = r
            .inline_policies
            .iter()
            .map(|(name, doc)| {
                json!({ "PolicyName": name, "PolicyDocument": substitute(doc.clone()) })
            })
            .collect();
        props.insert("Policies".to_owned(), Value::Array(policies));
    }
    props.insert("Tags".to_owned(), tags(&r.tags));
    home_only(json!({ "Type": "AWS::IAM::Role", "Properties": props }))
}

fn secret(
    name: &str,
    description: &str,
    user: &str,
    tag_map: &std::collections::BTreeMap<String, String>,
) -> Value {
    home_only(json!({
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": name,
            "Description": description,
            "GenerateSecretString": {
                "SecretStringTemplate": json!({ "username": user }).to_string(),
                "GenerateStringKey": "password",
                "PasswordLength": 32,
                "ExcludeCharacters": "\"'\\"
            },
            "Tags": tags(tag_map)
        }
    }))
}

fn user(u: &User, secret_id: Option<&str>) -> Value {
    let policies: Vec<Value> = u
        .inline_policies
        .iter()
        .map(|(name, doc)| json!({ "PolicyName": name, "PolicyDocument": doc }))
        .collect();
    let mut props = Map::new();
    props.insert("UserName".to_owned(), json!(u.name));
    props.insert("Path".to_owned(), json!(u.path));
    props.insert("Policies".to_owned(), Value::Array(policies));
    if let (true, Some(secret_id)) = (u.console_access, secret_id) {
        props.insert(
            "LoginProfile".to_owned(),
            json!({
                "Password": { "Fn::Join": ["", [
                    "{{resolve:secretsmanager:",
                    { "Ref": secret_id },
                    ":SecretString:password}}"
                ]] },
                "PasswordResetRequired": true
            }),
        );
    }
    props.insert("Tags".to_owned(), tags(&u.tags));
    home_only(json!({ "Type": "AWS::IAM::User", "Properties": props }))
}

fn metric_filter(m: &MetricFilter, log_group: Value) -> Value {
    home_only(json!({
        "Type": "AWS::Logs::MetricFilter",
        "Properties": {
            "FilterName": m.name,
            "LogGroupName": log_group,
            "FilterPattern": m.pattern,
            "MetricTransformations": [{
                "MetricName": m.metric_name,
                "MetricNamespace": m.metric_namespace,
                "MetricValue": "1"
            }]
        }
    }))
}

fn alarm(a: &Alarm, filter_id: Option<&str>) -> Value {
    let mut resource = json!({
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": a.name,
            "AlarmDescription": a.description,
            "Namespace": a.metric_namespace,
            "MetricName": a.metric_name,
            "Statistic": a.statistic,
            "Period": a.period,
            "EvaluationPeriods": a.evaluation_periods,
            "Threshold": a.threshold,
            "ComparisonOperator": a.comparison,
            "TreatMissingData": a.treat_missing_data,
            "AlarmActions": [{ "Ref": "AlertTopic" }],
            "Tags": tags(&a.tags)
        }
    });
    if a.dimensions.is_empty() {
        // On the CloudTrail metrics, which exist in the home region only.
        resource = home_only(resource);
    } else if let Some(props) = resource
        .get_mut("Properties")
        .and_then(Value::as_object_mut)
    {
        let dims: Vec<Value> = a
            .dimensions
            .iter()
            .map(|(name, value)| json!({ "Name": name, "Value": value }))
            .collect();
        props.insert("Dimensions".to_owned(), Value::Array(dims));
    }
    if let (Some(filter), Value::Object(map)) = (filter_id, &mut resource) {
        map.insert("DependsOn".to_owned(), json!(filter));
    }
    resource
}

/// A break-glass rule. Its activity-queue target (rendered from the home region's copy) is
/// added only in the queue's region: `IsActivityRegion`.
fn rule(r: &EventRule) -> Value {
    let topic =
        json!({ "Arn": { "Ref": "AlertTopic" }, "Id": super::super::resources::RULE_TARGET_ID });
    let targets = match &r.queue {
        None => json!([topic]),
        Some(q) => {
            let mut queue = json!({ "Arn": q.arn, "Id": QUEUE_TARGET_ID });
            if let (Some(role), Value::Object(map)) = (&q.role_arn, &mut queue) {
                map.insert("RoleArn".to_owned(), json!(role));
            }
            json!({ "Fn::If": ["IsActivityRegion", [topic.clone(), queue], [topic]] })
        }
    };
    json!({
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Name": r.name,
            "Description": r.description,
            "EventPattern": r.pattern,
            "State": r.state,
            "Targets": targets
        }
    })
}

/// The activity queue and its policy, in the queue's region only.
fn queue(q: &Queue, ids: &mut LogicalIds, out: &mut Map<String, Value>) {
    let id = ids.id("Queue", &q.name);
    out.insert(
        format!("{id}Policy"),
        json!({
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": "IsActivityRegion",
            "Properties": { "Queues": [{ "Ref": id }], "PolicyDocument": q.policy }
        }),
    );
    out.insert(
        id,
        json!({
            "Type": "AWS::SQS::Queue",
            "Condition": "IsActivityRegion",
            "Properties": {
                "QueueName": q.name,
                "SqsManagedSseEnabled": true,
                "Tags": tags(&q.tags)
            }
        }),
    );
}

/// The resources every template shares: IAM, secrets, metric filters, alarms (home region
/// only), and the regional topic and rules.
fn resources(
    config: &Config,
    account: &AccountState,
    log_group: &Value,
    ids: &mut LogicalIds,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut secret_ids = std::collections::BTreeMap::new();
    for r in &account.resources {
        if let Resource::Secret(s) = r {
            let user = s.tags.get("breakglass:user").cloned().unwrap_or_default();
            let id = ids.id("Secret", &user);
            secret_ids.insert(s.name.clone(), id.clone());
            out.insert(id, secret(&s.name, &s.description, &user, &s.tags));
        }
    }
    let mut created = std::collections::BTreeMap::new();
    for r in &account.resources {
        if let Resource::Policy(p) = r {
            let id = ids.id("Policy", &p.name);
            created.insert(p.arn(&config.partition, account.id.as_str()), id.clone());
            out.insert(id, managed_policy(p));
        }
    }
    let mut filter_ids = std::collections::BTreeMap::new();
    for r in &account.resources {
        match r {
            Resource::Role(role_) => {
                out.insert(ids.id("Role", &role_.name), role(role_, &created));
            }
            Resource::User(u) => {
                let secret_id = secret_ids.get(&u.password_secret).map(String::as_str);
                out.insert(ids.id("User", &u.name), user(u, secret_id));
            }
            Resource::MetricFilter(m) => {
                let id = ids.id("MetricFilter", &m.name);
                filter_ids.insert(m.metric_name.clone(), id.clone());
                out.insert(id, metric_filter(m, log_group.clone()));
            }
            Resource::Queue(q) => queue(q, ids, &mut out),
            _ => {}
        }
    }
    // Alarms on a rule's deliveries are in every region's stack, like the rules: the home
    // region's copy stands for them all.
    for r in &account.resources {
        if let Resource::Alarm(a) = r
            && (a.dimensions.is_empty() || a.region == account.home_region)
        {
            let filter = filter_ids.get(&a.metric_name).map(String::as_str);
            out.insert(ids.id("Alarm", &a.name), alarm(a, filter));
        }
    }
    let topic_tags = account.resources.iter().find_map(|r| match r {
        Resource::Topic(t) => Some(t.tags.clone()),
        _ => None,
    });
    out.insert(
        "AlertTopic".to_owned(),
        json!({
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": config.alerting.sns_topic,
                "Tags": tags(&topic_tags.unwrap_or_default())
            }
        }),
    );
    let policy = topic_policy(
        &config.partition,
        "${AWS::Region}",
        "${AWS::AccountId}",
        &config.alerting.sns_topic,
    );
    out.insert(
        "AlertTopicPolicy".to_owned(),
        json!({
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{ "Ref": "AlertTopic" }],
                "PolicyDocument": substitute(policy)
            }
        }),
    );
    let home = &account.home_region;
    for r in &account.resources {
        if let Resource::EventRule(e) = r
            && &e.region == home
        {
            // The queue target is rendered from whichever region's copy has one (the queue's
            // region, which need not be the home region), under `IsActivityRegion`.
            let queue = account.resources.iter().find_map(|other| match other {
                Resource::EventRule(o) if o.name == e.name && o.queue.is_some() => o.queue.clone(),
                _ => None,
            });
            let e = EventRule { queue, ..e.clone() };
            out.insert(ids.id("Rule", &e.name), rule(&e));
        }
    }
    out
}

/// The template for one account, deployed as stack `breakglass-<account>` in each of the
/// account's regions.
pub fn account_template(config: &Config, account: &AccountState) -> Value {
    let mut ids = LogicalIds::default();
    let log_group = json!(account.log_group);
    let resources = resources(config, account, &log_group, &mut ids);
    let regions = account.regions.join(", ");
    let mut conditions = Map::new();
    conditions.insert(
        "IsHomeRegion".to_owned(),
        json!({ "Fn::Equals": [{ "Ref": "AWS::Region" }, account.home_region] }),
    );
    if let Some(region) = activity_region(account) {
        conditions.insert(
            "IsActivityRegion".to_owned(),
            json!({ "Fn::Equals": [{ "Ref": "AWS::Region" }, region] }),
        );
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "breakglass incident-response access for account {} ({}). Deploy as stack breakglass-{} in each of its regions ({regions}); IAM principals, secrets and the CloudTrail alarms are created in the home region {} only.",
            account.name, account.id, account.name, account.home_region
        ),
        "Conditions": conditions,
        "Resources": resources
    })
}

/// The region of the activity queue, when this account's rules target it.
fn activity_region(account: &AccountState) -> Option<String> {
    account.resources.iter().find_map(|r| match r {
        Resource::EventRule(e) if e.queue.is_some() => e
            .queue
            .as_ref()
            .and_then(|q| q.arn.split(':').nth(3).map(str::to_owned)),
        Resource::Queue(q) => Some(q.region.clone()),
        _ => None,
    })
}

/// The account-agnostic variant for a service-managed StackSet deployed to the target
/// accounts in every region: the roles deployed to every target account, and the monitoring.
/// Break-glass users live only in the security account and are not part of it. `None` when
/// there is no target account.
pub fn stackset_template(config: &Config, state: &DesiredState) -> Option<Value> {
    let targets: Vec<&AccountState> = state.accounts.iter().filter(|a| !a.security).collect();
    let first = targets.first()?;
    let everywhere: BTreeSet<String> = config
        .roles
        .iter()
        .filter(|r| targets.iter().all(|t| r.accounts.contains(&t.id)))
        .map(|r| r.name.to_string())
        .collect();
    let mut shared = AccountState {
        resources: first
            .resources
            .iter()
            .filter(|r| match r {
                Resource::Role(role_) => {
                    everywhere.contains(&role_.name) && role_.name != DELIVERY_ROLE
                }
                Resource::User(_) | Resource::Secret(_) | Resource::Queue(_) => false,
                _ => true,
            })
            .cloned()
            .map(|r| match r {
                // The activity queue's targets name each account's own delivery role: the
                // per-account templates carry them.
                Resource::EventRule(e) => Resource::EventRule(EventRule { queue: None, ..e }),
                other => other,
            })
            .collect(),
        ..(*first).clone()
    };
    // The revoker role names the roles of its own account by ARN: rendered for the roles
    // every target holds, in whichever account the stack lands.
    let revocable: Vec<&RoleConfig> = targets
        .iter()
        .map(|t| config.revocable_roles(&t.id))
        .reduce(|a, b| a.into_iter().filter(|r| b.contains(r)).collect())
        .unwrap_or_default();
    if let Some(revoker) = revoker_role(config, "${AWS::AccountId}", &revocable) {
        shared.resources.push(Resource::Role(revoker));
        shared.resources.sort_by_key(Resource::key);
    }
    let mut ids = LogicalIds::default();
    let log_group = json!({ "Ref": "CloudTrailLogGroup" });
    let resources = resources(config, &shared, &log_group, &mut ids);
    let mut parameters = Map::new();
    parameters.insert(
        "HomeRegion".to_owned(),
        json!({
            "Type": "String",
            "Default": first.home_region,
            "Description": "The region holding the CloudTrail log group, the IAM roles and the alarms"
        }),
    );
    if shared
        .resources
        .iter()
        .any(|r| matches!(r, Resource::MetricFilter(_)))
    {
        parameters.insert(
            "CloudTrailLogGroup".to_owned(),
            json!({
                "Type": "String",
                "Default": first.log_group,
                "Description": "The CloudWatch Logs group CloudTrail delivers to in HomeRegion"
            }),
        );
    }
    Some(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "breakglass incident-response roles and break-glass monitoring for a service-managed StackSet: deploy to every target account in every region in use; IAM roles and alarms are created in HomeRegion only.",
        "Parameters": parameters,
        "Conditions": {
            "IsHomeRegion": { "Fn::Equals": [{ "Ref": "AWS::Region" }, { "Ref": "HomeRegion" }] }
        },
        "Resources": resources
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_alphanumeric_and_unique() {
        let mut ids = LogicalIds::default();
        assert_eq!(ids.id("User", "alice-BREAK-GLASS"), "UserAliceBREAKGLASS");
        assert_eq!(
            ids.id("Rule", "breakglass-assume-role"),
            "RuleBreakglassAssumeRole"
        );
        assert_eq!(
            ids.id("Rule", "breakglass.assume.role"),
            "RuleBreakglassAssumeRole2"
        );
    }

    #[test]
    fn only_cloudformation_placeholders_become_substitutions() {
        let v =
            substitute(json!({"a": "arn:aws:sns:${AWS::Region}:x", "b": "user/${aws:username}"}));
        assert_eq!(v["a"], json!({"Fn::Sub": "arn:aws:sns:${AWS::Region}:x"}));
        assert_eq!(v["b"], "user/${aws:username}");
    }
}

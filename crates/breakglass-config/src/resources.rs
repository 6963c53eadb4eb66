//! The desired AWS state: every resource a config asks for, per account, fully rendered
//! (names, policy documents, tags). `plan` renders it for IaC tools, `apply` converges the
//! accounts to it, and [`super::diff`] compares it with what an account holds.
//!
//! Every taggable resource carries the ownership tag [`MANAGED_BY_TAG`]; metric filters
//! cannot be tagged and are owned by their `breakglass-` name prefix instead. `apply` never
//! changes or deletes what lacks the mark.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use breakglass_core::model::AccountId;
use serde_json::Value;

use super::{Config, RoleConfig};
use crate::templates::activity as activity_templates;
use crate::templates::guardrails::{
    GUARDRAIL_DESCRIPTION, GUARDRAIL_PATH, GUARDRAIL_POLICY, guardrail_document,
};
use crate::templates::monitoring::{
    ALARM_EVALUATION_PERIODS, RULE_STATE, RulePatternInputs, event_rules, topic_policy,
};
use crate::templates::revoker::{
    REVOKER_DESCRIPTION, REVOKER_MAX_SESSION_SECONDS, REVOKER_PATH, REVOKER_POLICY,
};
use crate::templates::users::break_glass_user_name;
use crate::templates::{RESOURCE_PREFIX, SECRET_PREFIX};

/// The ownership mark, defined with the templates (the guardrails protect it) and
/// stamped here on every taggable resource.
pub use crate::templates::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

/// The id of the EventBridge target that publishes to the alert topic.
pub const RULE_TARGET_ID: &str = "breakglass-alert-topic";

/// Inline role policies that the broker maintains at run time (revocation) and that `apply`
/// therefore neither creates nor removes.
pub const RUNTIME_ROLE_POLICIES: &[&str] = breakglass_core::revocation::RUNTIME_MANAGED_POLICIES;

/// A CloudTrail alarm: a rule of the scanner's built-in pack, deployed as a metric filter
/// counting its pattern's matches and an alarm on that count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRule {
    /// The rule's id (`break-glass-role-assumed`): the filter, metric and alarm names
    /// derive from it.
    pub id: String,
    /// What the rule catches (the rule's title).
    pub description: String,
    /// The CloudWatch Logs filter pattern, exactly as the scanner runs it.
    pub pattern: String,
    /// Matches per period that raise the alarm.
    pub threshold: u32,
    /// The period, in seconds.
    pub period: u32,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Description.
    pub description: String,
    /// Trust policy.
    pub trust_policy: Value,
    /// `MaxSessionDuration` in seconds.
    pub max_session_duration: i32,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Attached managed policy ARNs.
    pub managed_policies: BTreeSet<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A customer-managed IAM policy (the guardrails).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicy {
    /// Policy name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Description (IAM cannot change it after creation).
    pub description: String,
    /// The document of its default version.
    pub document: Value,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl ManagedPolicy {
    /// Its ARN in `account` (an id, or a placeholder such as `${AWS::AccountId}`).
    pub fn arn(&self, partition: &str, account: &str) -> String {
        format!(
            "arn:{partition}:iam::{account}:policy{}{}",
            self.path, self.name
        )
    }
}

/// A break-glass IAM user: console-only, reset-required password kept in `password_secret`.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// User name.
    pub name: String,
    /// IAM path.
    pub path: String,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether the user has a console password (a login profile).
    pub console_access: bool,
    /// The Secrets Manager secret holding the temporary password.
    pub password_secret: String,
}

/// A Secrets Manager secret. Its value is never part of the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Secret name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A CloudWatch Logs metric filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFilter {
    /// Filter name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Log group.
    pub log_group: String,
    /// Filter pattern.
    pub pattern: String,
    /// Metric namespace.
    pub metric_namespace: String,
    /// Metric name.
    pub metric_name: String,
}

/// The name of the alarm on an EventBridge rule's failed deliveries: the rule's name and this.
pub const DELIVERY_FAILED_SUFFIX: &str = "-delivery-failed";

/// A CloudWatch alarm on a break-glass metric, or on a break-glass rule's failed deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// Alarm name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Description.
    pub description: String,
    /// Metric namespace.
    pub metric_namespace: String,
    /// Metric name.
    pub metric_name: String,
    /// The metric's dimensions (none for the break-glass metrics; `RuleName` for an
    /// EventBridge rule's failed deliveries).
    pub dimensions: BTreeMap<String, String>,
    /// Statistic (`Sum`).
    pub statistic: String,
    /// Period in seconds.
    pub period: i32,
    /// Evaluation periods.
    pub evaluation_periods: i32,
    /// Threshold.
    pub threshold: i32,
    /// Comparison operator.
    pub comparison: String,
    /// How missing data is treated.
    pub treat_missing_data: String,
    /// The SNS topic ARN notified in alarm.
    pub alarm_action: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// An SNS topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Access policy.
    pub policy: Value,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// An SQS queue (the activity queue the break-glass rules feed).
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// Queue name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Access policy.
    pub policy: Value,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A rule's second target: the activity queue, reached from another account through an
/// execution role of the rule's account (EventBridge's cross-account delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    /// The queue's ARN.
    pub arn: String,
    /// The execution role EventBridge assumes to send, when the queue is in another account.
    pub role_arn: Option<String>,
}

/// The name of the role EventBridge assumes to hand break-glass events to the activity queue
/// of another account (path `/breakglass/`).
pub const DELIVERY_ROLE: &str = "BreakglassActivityDelivery";

/// An EventBridge rule on the default bus, targeting the alert topic.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    /// Rule name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Description.
    pub description: String,
    /// Event pattern.
    pub pattern: Value,
    /// State (`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).
    pub state: String,
    /// The target topic's ARN.
    pub target: String,
    /// The activity queue, when `[activity]` has one in this rule's region.
    pub queue: Option<QueueTarget>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One resource of the desired (or actual) state.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// A customer-managed IAM policy.
    Policy(ManagedPolicy),
    /// An IAM role.
    Role(Role),
    /// A break-glass IAM user.
    User(User),
    /// A secret holding a temporary password.
    Secret(Secret),
    /// A metric filter.
    MetricFilter(MetricFilter),
    /// An alarm.
    Alarm(Alarm),
    /// An SNS topic.
    Topic(Topic),
    /// An SQS queue.
    Queue(Queue),
    /// An EventBridge rule.
    EventRule(EventRule),
}

/// The kinds of resource, in the order `apply` creates them (dependencies first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    /// Customer-managed IAM policy (before the roles it is attached to).
    Policy,
    /// IAM role.
    Role,
    /// Secret (before the user whose password it holds).
    Secret,
    /// IAM user.
    User,
    /// SNS topic (before what publishes to it).
    Topic,
    /// Metric filter.
    MetricFilter,
    /// Alarm.
    Alarm,
    /// SQS queue (before the rules that target it).
    Queue,
    /// EventBridge rule.
    EventRule,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Policy => "policy",
            Self::Role => "role",
            Self::Secret => "secret",
            Self::User => "user",
            Self::Topic => "topic",
            Self::MetricFilter => "metric filter",
            Self::Alarm => "alarm",
            Self::Queue => "queue",
            Self::EventRule => "event rule",
        })
    }
}

/// What identifies a resource within an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its region (`None` for global IAM resources).
    pub region: Option<String>,
    /// Its name.
    pub name: String,
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.region {
            Some(region) => write!(f, "{} {region}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

impl Resource {
    /// The resource's identity.
    pub fn key(&self) -> ResourceKey {
        let (kind, region, name) = match self {
            Self::Policy(p) => (ResourceKind::Policy, None, &p.name),
            Self::Role(r) => (ResourceKind::Role, None, &r.name),
            Self::User(u) => (ResourceKind::User, None, &u.name),
            Self::Secret(s) => (ResourceKind::Secret, Some(&s.region), &s.name),
            Self::MetricFilter(m) => (ResourceKind::MetricFilter, Some(&m.region), &m.name),
            Self::Alarm(a) => (ResourceKind::Alarm, Some(&a.region), &a.name),
            Self::Topic(t) => (ResourceKind::Topic, Some(&t.region), &t.name),
            Self::Queue(q) => (ResourceKind::Queue, Some(&q.region), &q.name),
            Self::EventRule(e) => (ResourceKind::EventRule, Some(&e.region), &e.name),
        };
        ResourceKey {
            kind,
            region: region.cloned(),
            name: name.clone(),
        }
    }
}

/// Everything one account should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    /// The account's name in the config.
    pub name: String,
    /// Its id.
    pub id: AccountId,
    /// Whether it is the security account.
    pub security: bool,
    /// The home region.
    pub home_region: String,
    /// All regions.
    pub regions: Vec<String>,
    /// The CloudTrail log group the metric filters read.
    pub log_group: String,
    /// The resources, sorted by key.
    pub resources: Vec<Resource>,
}

/// Everything every account should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredState {
    /// Per account, in config order.
    pub accounts: Vec<AccountState>,
}

fn owned_tags(extra: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = extra.into_iter().collect();
    tags.insert(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
    tags
}

/// Replaces characters outside the tag-value charset with `_`, so a person's name never
/// fails a `TagUser` call.
fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric()
                || c.is_whitespace()
                || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
            {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// The guardrail policy every role of `roles` gets attached.
pub(crate) fn guardrail_policy(config: &Config) -> ManagedPolicy {
    ManagedPolicy {
        name: GUARDRAIL_POLICY.to_owned(),
        path: GUARDRAIL_PATH.to_owned(),
        description: GUARDRAIL_DESCRIPTION.to_owned(),
        document: guardrail_document(&config.template_context()),
        tags: owned_tags([("breakglass:purpose".to_owned(), "guardrails".to_owned())]),
    }
}

/// The revoker role of an account (an id, or a placeholder such as `${AWS::AccountId}`)
/// holding `roles`; `None` when there is none to revoke sessions of.
pub(crate) fn revoker_role(config: &Config, account: &str, roles: &[&RoleConfig]) -> Option<Role> {
    let (trust, permissions) = config.revoker_policies(account, roles)?;
    Some(Role {
        name: config.broker.revoker_role.to_string(),
        path: REVOKER_PATH.to_owned(),
        description: REVOKER_DESCRIPTION.to_owned(),
        trust_policy: trust,
        max_session_duration: REVOKER_MAX_SESSION_SECONDS,
        permissions_boundary: None,
        managed_policies: BTreeSet::new(),
        inline_policies: [(REVOKER_POLICY.to_owned(), permissions)].into(),
        tags: owned_tags([("breakglass:purpose".to_owned(), "revocation".to_owned())]),
    })
}

impl DesiredState {
    /// The desired state of every account for `config`: its roles (each the broker or a
    /// break-glass user assumes with the guardrail policy attached), the break-glass users (in
    /// the security account), the revoker role (in every other account holding a role the
    /// broker may revoke sessions of), one metric filter and alarm per rule of the scanner's pack in
    /// each account's home region, and the alert topic and EventBridge rules in every region.
    pub fn build(config: &Config) -> Self {
        let accounts = config
            .accounts
            .iter()
            .map(|account| {
                let mut resources = Vec::new();
                let guarded: BTreeSet<String> = config
                    .revocable_roles(&account.id)
                    .iter()
                    .map(|r| r.name.to_string())
                    .collect();
                let guardrails = guardrail_policy(config);
                let guardrail_arn = guardrails.arn(&config.partition, account.id.as_str());
                if !guarded.is_empty() {
                    resources.push(Resource::Policy(guardrails));
                }
                for role in config
                    .roles
                    .iter()
                    .filter(|r| r.accounts.contains(&account.id))
                {
                    let Some(trust) = config.trust_policy(role) else {
                        continue;
                    };
                    let mut tags: BTreeMap<String, String> = role.tags.clone();
                    if let Some(template) = &role.template {
                        tags.insert("breakglass:template".to_owned(), template.clone());
                    }
                    tags.insert(
                        "breakglass:break-glass".to_owned(),
                        role.break_glass.to_string(),
                    );
                    resources.push(Resource::Role(Role {
                        name: role.name.to_string(),
                        path: config.path.clone(),
                        description: role.description.clone(),
                        trust_policy: trust,
                        max_session_duration: i32::try_from(
                            role.max_session_duration.whole_seconds(),
                        )
                        .unwrap_or(i32::MAX),
                        permissions_boundary: role.permissions_boundary.clone(),
                        managed_policies: role
                            .managed_policies
                            .iter()
                            .cloned()
                            .chain(
                                guarded
                                    .contains(role.name.as_str())
                                    .then(|| guardrail_arn.clone()),
                            )
                            .collect(),
                        inline_policies: role.inline_policies.clone(),
                        tags: owned_tags(tags),
                    }));
                }
                let security = account.id == config.security_account;
                let home = account.home_region().to_owned();
                if security {
                    Self::users(config, &home, &mut resources);
                } else if let Some(revoker) = revoker_role(
                    config,
                    account.id.as_str(),
                    &config.revocable_roles(&account.id),
                ) {
                    // The broker runs in the security account and uses its own credentials
                    // there; everywhere else it writes revocations through this role.
                    resources.push(Resource::Role(revoker));
                }
                let activity = ActivityPlan::new(config, &account.id);
                resources.extend(activity.resources.iter().cloned());
                let topic_arn = |region: &str| {
                    format!(
                        "arn:{}:sns:{region}:{}:{}",
                        config.partition, account.id, config.alerting.sns_topic
                    )
                };
                for rule in &config.alerting.alarm_rules {
                    let name = format!("{RESOURCE_PREFIX}{}", rule.id);
                    resources.push(Resource::MetricFilter(MetricFilter {
                        name: name.clone(),
                        region: home.clone(),
                        log_group: account.cloudtrail_log_group.clone(),
                        pattern: rule.pattern.clone(),
                        metric_namespace: config.alerting.metric_namespace.clone(),
                        metric_name: name.clone(),
                    }));
                    resources.push(Resource::Alarm(Alarm {
                        name: name.clone(),
                        region: home.clone(),
                        description: rule.description.clone(),
                        metric_namespace: config.alerting.metric_namespace.clone(),
                        metric_name: name,
                        dimensions: BTreeMap::new(),
                        statistic: "Sum".to_owned(),
                        period: i32::try_from(rule.period).unwrap_or(i32::MAX),
                        evaluation_periods: ALARM_EVALUATION_PERIODS,
                        threshold: i32::try_from(rule.threshold).unwrap_or(i32::MAX),
                        comparison: "GreaterThanOrEqualToThreshold".to_owned(),
                        treat_missing_data: "notBreaching".to_owned(),
                        alarm_action: topic_arn(&home),
                        tags: owned_tags([]),
                    }));
                }
                let inputs = RulePatternInputs {
                    partition: &config.partition,
                    role_name_pattern: &config.alerting.role_name_pattern,
                    security_account: config.security_account.as_str(),
                    path: &config.path,
                };
                for region in &account.regions {
                    resources.push(Resource::Topic(Topic {
                        name: config.alerting.sns_topic.clone(),
                        region: region.clone(),
                        policy: topic_policy(
                            &config.partition,
                            region,
                            account.id.as_str(),
                            &config.alerting.sns_topic,
                        ),
                        tags: owned_tags([]),
                    }));
                    for rule in event_rules(&inputs) {
                        // Every region watches its own rule: an alarm when the rule could not
                        // hand a break-glass event to the topic.
                        resources.push(Resource::Alarm(Alarm {
                            name: format!("{}{DELIVERY_FAILED_SUFFIX}", rule.name),
                            region: region.clone(),
                            description: format!(
                                "EventBridge rule {} could not deliver a break-glass event to the alert topic in {region}",
                                rule.name
                            ),
                            metric_namespace: "AWS/Events".to_owned(),
                            metric_name: "FailedInvocations".to_owned(),
                            dimensions: BTreeMap::from([("RuleName".to_owned(), rule.name.clone())]),
                            statistic: "Sum".to_owned(),
                            period: 300,
                            evaluation_periods: 1,
                            threshold: 1,
                            comparison: "GreaterThanOrEqualToThreshold".to_owned(),
                            treat_missing_data: "notBreaching".to_owned(),
                            alarm_action: topic_arn(region),
                            tags: owned_tags([]),
                        }));
                        resources.push(Resource::EventRule(EventRule {
                            name: rule.name,
                            region: region.clone(),
                            description: rule.description.to_owned(),
                            pattern: rule.pattern,
                            state: RULE_STATE.to_owned(),
                            target: topic_arn(region),
                            queue: activity.target(region),
                            tags: owned_tags([]),
                        }));
                    }
                }
                resources.sort_by_key(Resource::key);
                AccountState {
                    name: account.name.clone(),
                    id: account.id.clone(),
                    security,
                    home_region: home,
                    regions: account.regions.clone(),
                    log_group: account.cloudtrail_log_group.clone(),
                    resources,
                }
            })
            .collect();
        Self { accounts }
    }

    fn users(config: &Config, region: &str, resources: &mut Vec<Resource>) {
        let policies: BTreeMap<String, Value> =
            config.break_glass_user_policies().into_iter().collect();
        for responder in config.responders.iter().filter(|r| r.break_glass_user) {
            let user = break_glass_user_name(&responder.username);
            let secret = format!("{SECRET_PREFIX}{user}");
            let mut tags = vec![
                (
                    "breakglass:responder".to_owned(),
                    responder.username.to_string(),
                ),
                ("ResponderName".to_owned(), tag_value(&responder.name)),
                ("ResponderEmail".to_owned(), tag_value(&responder.email)),
            ];
            if let Some(contact) = &responder.emergency_contact {
                tags.push(("EmergencyContact".to_owned(), tag_value(contact)));
            }
            resources.push(Resource::User(User {
                name: user.clone(),
                path: config.path.clone(),
                inline_policies: policies.clone(),
                tags: owned_tags(tags),
                console_access: true,
                password_secret: secret.clone(),
            }));
            resources.push(Resource::Secret(Secret {
                name: secret,
                region: region.to_owned(),
                description: format!(
                    "Temporary console password of break-glass user {user} (reset at first sign-in)"
                ),
                tags: owned_tags([("breakglass:user".to_owned(), user)]),
            }));
        }
    }

    /// The state of the account with this id.
    pub fn account(&self, id: &AccountId) -> Option<&AccountState> {
        self.accounts.iter().find(|a| &a.id == id)
    }
}

/// What `[activity]` adds to one account: the reader role and the queue in the log-archive
/// account, the delivery role in the other accounts that share the queue's region, and the
/// queue target of that region's rules.
struct ActivityPlan {
    resources: Vec<Resource>,
    queue_region: Option<String>,
    target: Option<QueueTarget>,
}

impl ActivityPlan {
    fn new(config: &Config, account: &AccountId) -> Self {
        let mut plan = Self {
            resources: Vec::new(),
            queue_region: None,
            target: None,
        };
        let Some(activity) = &config.activity else {
            return plan;
        };
        let Some(archive) = activity.account_id(config) else {
            return plan;
        };
        let region = activity.region(config);
        let queue_arn = activity.queue_arn(config);
        let here = config.account(account);
        if *account == archive {
            let (trust, permissions) = activity.reader_policies(config);
            plan.resources.push(Resource::Role(Role {
                name: activity.reader_role.clone(),
                path: activity_templates::READER_PATH.to_owned(),
                description: activity_templates::READER_DESCRIPTION.to_owned(),
                trust_policy: trust,
                max_session_duration: REVOKER_MAX_SESSION_SECONDS,
                permissions_boundary: None,
                managed_policies: BTreeSet::new(),
                inline_policies: [(activity_templates::READER_POLICY.to_owned(), permissions)]
                    .into(),
                tags: owned_tags([("breakglass:purpose".to_owned(), "activity".to_owned())]),
            }));
        }
        let Some(queue_arn) = queue_arn else {
            return plan;
        };
        if !here.is_some_and(|a| a.regions.contains(&region)) {
            return plan;
        }
        plan.queue_region = Some(region.clone());
        if *account == archive {
            let rules = activity_rule_arns(config, &region);
            plan.resources.push(Resource::Queue(Queue {
                name: activity.queue.clone().unwrap_or_default(),
                region: region.clone(),
                policy: activity_templates::queue_policy(
                    &config.partition,
                    archive.as_str(),
                    &queue_arn,
                    &rules,
                    &delivery_role_arns(config, &region, &archive),
                ),
                tags: owned_tags([("breakglass:purpose".to_owned(), "activity".to_owned())]),
            }));
            plan.target = Some(QueueTarget {
                arn: queue_arn,
                role_arn: None,
            });
        } else {
            let role_arn = delivery_role_arn(config, account);
            plan.resources.push(Resource::Role(Role {
                name: DELIVERY_ROLE.to_owned(),
                path: activity_templates::READER_PATH.to_owned(),
                description: "Lets this account's break-glass EventBridge rules send to the breakglass activity queue".to_owned(),
                trust_policy: activity_templates::delivery_trust_policy(
                    &config.partition,
                    account.as_str(),
                    &region,
                ),
                max_session_duration: REVOKER_MAX_SESSION_SECONDS,
                permissions_boundary: None,
                managed_policies: BTreeSet::new(),
                inline_policies: [(
                    activity_templates::DELIVERY_POLICY.to_owned(),
                    activity_templates::delivery_policy(&queue_arn),
                )]
                .into(),
                tags: owned_tags([("breakglass:purpose".to_owned(), "activity".to_owned())]),
            }));
            plan.target = Some(QueueTarget {
                arn: queue_arn,
                role_arn: Some(role_arn),
            });
        }
        plan
    }

    /// The queue target of a rule in `region` (only the queue's region: EventBridge delivers
    /// to another account's queue only within a region).
    fn target(&self, region: &str) -> Option<QueueTarget> {
        (self.queue_region.as_deref() == Some(region))
            .then(|| self.target.clone())
            .flatten()
    }
}

/// The delivery role's ARN in `account`.
fn delivery_role_arn(config: &Config, account: &AccountId) -> String {
    format!(
        "arn:{}:iam::{account}:role{}{DELIVERY_ROLE}",
        config.partition,
        activity_templates::READER_PATH
    )
}

/// Every account but the log-archive one that has the queue's region: each sends through its
/// own delivery role.
fn delivery_role_arns(config: &Config, region: &str, archive: &AccountId) -> Vec<String> {
    config
        .accounts
        .iter()
        .filter(|a| &a.id != archive && a.regions.iter().any(|r| r == region))
        .map(|a| delivery_role_arn(config, &a.id))
        .collect()
}

/// The ARNs of the break-glass rules of `region` in every account that has it.
fn activity_rule_arns(config: &Config, region: &str) -> Vec<String> {
    let inputs = RulePatternInputs {
        partition: &config.partition,
        role_name_pattern: &config.alerting.role_name_pattern,
        security_account: config.security_account.as_str(),
        path: &config.path,
    };
    let names: Vec<String> = event_rules(&inputs).into_iter().map(|r| r.name).collect();
    config
        .accounts
        .iter()
        .filter(|a| a.regions.iter().any(|r| r == region))
        .flat_map(|a| {
            names
                .iter()
                .map(move |n| format!("arn:{}:events:{region}:{}:rule/{n}", config.partition, a.id))
        })
        .collect()
}

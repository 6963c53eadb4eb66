//! The difference between the desired state and what an account holds, field by field.
//!
//! Pure: the AWS adapter reads the account into the same [`Resource`] shapes and hands them
//! here with an ownership flag; this module decides what to create, update, delete or leave
//! alone, and how to show it. Resources without breakglass's ownership mark are never
//! updated or deleted, only reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::resources::{MANAGED_BY_TAG, RUNTIME_ROLE_POLICIES, Resource, ResourceKey};

/// A resource as found in an account.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// What it looks like.
    pub resource: Resource,
    /// Whether it carries breakglass's ownership mark.
    pub owned: bool,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// What changed, e.g. `inline policy \`Extra\`` or `max session duration`.
    pub field: String,
    /// The current value (`None`: absent).
    pub from: Option<String>,
    /// The desired value (`None`: to be removed).
    pub to: Option<String>,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create it.
    Create(Resource),
    /// Bring it from `from` to `to`.
    Update {
        /// As found.
        from: Box<Resource>,
        /// As desired.
        to: Box<Resource>,
        /// The fields that differ.
        fields: Vec<FieldChange>,
    },
    /// Delete it: breakglass created it and the config no longer asks for it.
    Delete(Resource),
    /// It is desired, exists, but was not created by breakglass: left alone.
    Unowned(ResourceKey),
}

impl Change {
    /// The resource the change concerns.
    pub fn key(&self) -> ResourceKey {
        match self {
            Self::Create(r) | Self::Delete(r) => r.key(),
            Self::Update { to, .. } => to.key(),
            Self::Unowned(key) => key.clone(),
        }
    }
}

/// The changes one account needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountDiff {
    /// The account's config name.
    pub name: String,
    /// The account id.
    pub account: String,
    /// The changes, in apply order.
    pub changes: Vec<Change>,
}

impl AccountDiff {
    /// Whether the account is already as desired (unowned conflicts aside).
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|c| matches!(c, Change::Unowned(_)))
    }
}

/// The changes that turn `actual` into `desired`, in apply order (creations and updates by
/// kind, dependencies first; deletions last, dependents first).
pub fn diff(desired: &[Resource], actual: &[Observed]) -> Vec<Change> {
    let found: BTreeMap<ResourceKey, &Observed> =
        actual.iter().map(|o| (o.resource.key(), o)).collect();
    let wanted: BTreeSet<ResourceKey> = desired.iter().map(Resource::key).collect();
    let mut changes = Vec::new();
    for resource in desired {
        let key = resource.key();
        match found.get(&key) {
            None => changes.push(Change::Create(resource.clone())),
            Some(observed) if !observed.owned => changes.push(Change::Unowned(key)),
            Some(observed) => {
                let fields = fields(&observed.resource, resource);
                if !fields.is_empty() {
                    changes.push(Change::Update {
                        from: Box::new(observed.resource.clone()),
                        to: Box::new(resource.clone()),
                        fields,
                    });
                }
            }
        }
    }
    changes.sort_by_key(Change::key);
    let mut deletions: Vec<Change> = actual
        .iter()
        .filter(|o| o.owned && !wanted.contains(&o.resource.key()))
        .map(|o| Change::Delete(o.resource.clone()))
        .collect();
    deletions.sort_by_key(|c| std::cmp::Reverse(c.key()));
    changes.extend(deletions);
    changes
}

fn text(value: &Value) -> String {
    value.to_string()
}

/// The differing elements of two JSON values, by JSON pointer (`/Statement/1/Action`).
/// Objects are compared key by key; arrays of equal length element by element; anything
/// else that differs is one element.
fn document_leaves<'a>(
    pointer: &str,
    from: &'a Value,
    to: &'a Value,
    out: &mut Vec<(String, Option<&'a Value>, Option<&'a Value>)>,
) {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match (from, to) {
        _ if from == to => {}
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let here = format!("{pointer}/{}", escape(key));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => document_leaves(&here, x, y, out),
                    (x, y) => out.push((here, x, y)),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                document_leaves(&format!("{pointer}/{i}"), x, y, out);
            }
        }
        _ => out.push((
            if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer.to_owned()
            },
            Some(from),
            Some(to),
        )),
    }
}

struct Fields(Vec<FieldChange>);

impl Fields {
    fn scalar<T: PartialEq + ToString>(&mut self, field: &str, from: &T, to: &T) {
        if from != to {
            self.0.push(FieldChange {
                field: field.to_owned(),
                from: Some(from.to_string()),
                to: Some(to.to_string()),
            });
        }
    }

    fn optional(&mut self, field: &str, from: Option<&String>, to: Option<&String>) {
        if from != to {
            self.0.push(FieldChange {
                field: field.to_owned(),
                from: from.cloned(),
                to: to.cloned(),
            });
        }
    }

    /// A policy document or event pattern: each differing element is named by its JSON
    /// pointer, so a one-word edit to a long policy reads as one line; past a handful of
    /// differences the whole document is shown instead.
    fn document(&mut self, field: &str, from: &Value, to: &Value) {
        const MOST: usize = 5;
        let mut leaves = Vec::new();
        document_leaves("", from, to, &mut leaves);
        if leaves.is_empty() {
            return;
        }
        if leaves.len() > MOST {
            self.0.push(FieldChange {
                field: field.to_owned(),
                from: Some(text(from)),
                to: Some(text(to)),
            });
            return;
        }
        for (pointer, a, b) in leaves {
            self.0.push(FieldChange {
                field: format!("{field} {pointer}"),
                from: a.map(text),
                to: b.map(text),
            });
        }
    }

    fn set(&mut self, what: &str, from: &BTreeSet<String>, to: &BTreeSet<String>) {
        for gone in from.difference(to) {
            self.0.push(FieldChange {
                field: what.to_owned(),
                from: Some(gone.clone()),
                to: None,
            });
        }
        for new in to.difference(from) {
            self.0.push(FieldChange {
                field: what.to_owned(),
                from: None,
                to: Some(new.clone()),
            });
        }
    }

    fn map<V: PartialEq>(
        &mut self,
        what: &str,
        from: &BTreeMap<String, V>,
        to: &BTreeMap<String, V>,
        show: impl Fn(&V) -> String,
        ignore: &[&str],
    ) {
        let keys: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
        for key in keys {
            if ignore.contains(&key.as_str()) {
                continue;
            }
            let (a, b) = (from.get(key), to.get(key));
            if a != b {
                self.0.push(FieldChange {
                    field: format!("{what} `{key}`"),
                    from: a.map(&show),
                    to: b.map(&show),
                });
            }
        }
    }

    fn tags(&mut self, from: &BTreeMap<String, String>, to: &BTreeMap<String, String>) {
        self.map("tag", from, to, Clone::clone, &[]);
    }
}

/// The fields in which `from` differs from `to` (two resources of the same key).
fn fields(from: &Resource, to: &Resource) -> Vec<FieldChange> {
    let mut f = Fields(Vec::new());
    match (from, to) {
        (Resource::Policy(a), Resource::Policy(b)) => {
            // IAM cannot change a managed policy's description: it is set at creation only,
            // so comparing it would report a change `apply` can never make.
            f.scalar("path", &a.path, &b.path);
            f.document("document", &a.document, &b.document);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::Role(a), Resource::Role(b)) => {
            f.scalar("path", &a.path, &b.path);
            f.scalar("description", &a.description, &b.description);
            f.document("trust policy", &a.trust_policy, &b.trust_policy);
            f.scalar(
                "max session duration",
                &a.max_session_duration,
                &b.max_session_duration,
            );
            f.optional(
                "permissions boundary",
                a.permissions_boundary.as_ref(),
                b.permissions_boundary.as_ref(),
            );
            f.set("managed policy", &a.managed_policies, &b.managed_policies);
            f.map(
                "inline policy",
                &a.inline_policies,
                &b.inline_policies,
                text,
                RUNTIME_ROLE_POLICIES,
            );
            f.tags(&a.tags, &b.tags);
        }
        (Resource::User(a), Resource::User(b)) => {
            f.scalar("path", &a.path, &b.path);
            f.map(
                "inline policy",
                &a.inline_policies,
                &b.inline_policies,
                text,
                &[],
            );
            f.scalar("console access", &a.console_access, &b.console_access);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::Secret(a), Resource::Secret(b)) => {
            f.scalar("description", &a.description, &b.description);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::MetricFilter(a), Resource::MetricFilter(b)) => {
            f.scalar("log group", &a.log_group, &b.log_group);
            f.scalar("pattern", &a.pattern, &b.pattern);
            f.scalar("metric namespace", &a.metric_namespace, &b.metric_namespace);
            f.scalar("metric name", &a.metric_name, &b.metric_name);
        }
        (Resource::Alarm(a), Resource::Alarm(b)) => {
            f.scalar("description", &a.description, &b.description);
            f.scalar("metric namespace", &a.metric_namespace, &b.metric_namespace);
            f.scalar("metric name", &a.metric_name, &b.metric_name);
            f.scalar("statistic", &a.statistic, &b.statistic);
            f.scalar("period", &a.period, &b.period);
            f.scalar(
                "evaluation periods",
                &a.evaluation_periods,
                &b.evaluation_periods,
            );
            f.scalar("threshold", &a.threshold, &b.threshold);
            f.scalar("comparison", &a.comparison, &b.comparison);
            f.scalar(
                "treat missing data",
                &a.treat_missing_data,
                &b.treat_missing_data,
            );
            f.scalar("alarm action", &a.alarm_action, &b.alarm_action);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::Topic(a), Resource::Topic(b)) => {
            f.document("policy", &a.policy, &b.policy);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::Queue(a), Resource::Queue(b)) => {
            f.document("policy", &a.policy, &b.policy);
            f.tags(&a.tags, &b.tags);
        }
        (Resource::EventRule(a), Resource::EventRule(b)) => {
            f.scalar("description", &a.description, &b.description);
            f.document("event pattern", &a.pattern, &b.pattern);
            f.scalar("state", &a.state, &b.state);
            f.scalar("target", &a.target, &b.target);
            let queue = |q: &Option<crate::resources::QueueTarget>| {
                q.as_ref().map(|q| match &q.role_arn {
                    Some(role) => format!("{} (as {role})", q.arn),
                    None => q.arn.clone(),
                })
            };
            f.optional(
                "queue target",
                queue(&a.queue).as_ref(),
                queue(&b.queue).as_ref(),
            );
            f.tags(&a.tags, &b.tags);
        }
        _ => f.0.push(FieldChange {
            field: "kind".to_owned(),
            from: Some(from.key().kind.to_string()),
            to: Some(to.key().kind.to_string()),
        }),
    }
    f.0
}

/// Long values (policy documents) are shortened in the human diff; `plan` writes them whole.
fn short(value: &str) -> String {
    const MAX: usize = 120;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…")
    }
}

impl fmt::Display for AccountDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "account {} ({})", self.name, self.account)?;
        if self.changes.is_empty() {
            return writeln!(f, "  no changes");
        }
        for change in &self.changes {
            match change {
                Change::Create(r) => writeln!(f, "  + {}", r.key())?,
                Change::Delete(r) => writeln!(f, "  - {}", r.key())?,
                Change::Unowned(key) => writeln!(
                    f,
                    "  ! {key} exists but lacks the `{MANAGED_BY_TAG}` mark: left alone"
                )?,
                Change::Update { to, fields, .. } => {
                    writeln!(f, "  ~ {}", to.key())?;
                    for field in fields {
                        match (&field.from, &field.to) {
                            (None, Some(to)) => {
                                writeln!(f, "      + {}: {}", field.field, short(to))?;
                            }
                            (Some(from), None) => {
                                writeln!(f, "      - {}: {}", field.field, short(from))?;
                            }
                            (Some(from), Some(to)) => writeln!(
                                f,
                                "      ~ {}: {} -> {}",
                                field.field,
                                short(from),
                                short(to)
                            )?,
                            (None, None) => writeln!(f, "      ~ {}", field.field)?,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{EventRule, Topic};
    use serde_json::json;

    fn topic(region: &str) -> Resource {
        Resource::Topic(Topic {
            name: "breakglass-alerts".to_owned(),
            region: region.to_owned(),
            policy: json!({"Version": "2012-10-17", "Statement": []}),
            tags: [(MANAGED_BY_TAG.to_owned(), "breakglass".to_owned())].into(),
        })
    }

    fn rule(state: &str) -> Resource {
        Resource::EventRule(EventRule {
            name: "breakglass-assume-role".to_owned(),
            region: "us-east-1".to_owned(),
            description: "d".to_owned(),
            pattern: json!({"source": ["aws.sts"]}),
            state: state.to_owned(),
            target: "arn:aws:sns:us-east-1:1:t".to_owned(),
            queue: None,
            tags: BTreeMap::new(),
        })
    }

    fn owned(r: Resource) -> Observed {
        Observed {
            resource: r,
            owned: true,
        }
    }

    fn role(inline: &[(&str, serde_json::Value)]) -> Resource {
        Resource::Role(crate::resources::Role {
            name: "SecurityAnalyst".to_owned(),
            path: "/incident-response/".to_owned(),
            description: "d".to_owned(),
            trust_policy: json!({"Version": "2012-10-17", "Statement": []}),
            max_session_duration: 3_600,
            permissions_boundary: None,
            managed_policies: BTreeSet::new(),
            inline_policies: inline
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            tags: [(MANAGED_BY_TAG.to_owned(), "breakglass".to_owned())].into(),
        })
    }

    /// Regression guard: `apply` deleting a live revocation would revive revoked sessions.
    #[test]
    fn runtime_managed_revocation_policies_are_never_changed_or_deleted() {
        let deny = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny"}]});
        let desired = role(&[("Extra", json!({}))]);
        let actual = role(&[
            ("Extra", json!({})),
            (
                breakglass_core::revocation::REVOCATIONS_POLICY,
                deny.clone(),
            ),
            (
                breakglass_core::revocation::REVOKE_OLDER_SESSIONS_POLICY,
                deny,
            ),
        ]);
        assert!(diff(std::slice::from_ref(&desired), &[owned(actual.clone())]).is_empty());
        // An ordinary extra inline policy is still removed.
        let mut stray = actual;
        if let Resource::Role(r) = &mut stray {
            r.inline_policies.insert("Stray".to_owned(), json!({}));
        }
        let changes = diff(&[desired], &[owned(stray)]);
        let [Change::Update { fields, .. }] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["inline policy `Stray`"]);
    }

    #[test]
    fn identical_state_needs_no_change() {
        let desired = vec![topic("us-east-1"), rule("ENABLED")];
        let actual: Vec<Observed> = desired.iter().cloned().map(owned).collect();
        assert!(diff(&desired, &actual).is_empty());
    }

    #[test]
    fn missing_resources_are_created_topics_before_rules() {
        let changes = diff(&[rule("ENABLED"), topic("us-east-1")], &[]);
        let keys: Vec<String> = changes.iter().map(|c| c.key().to_string()).collect();
        assert_eq!(
            keys,
            [
                "topic us-east-1/breakglass-alerts",
                "event rule us-east-1/breakglass-assume-role"
            ]
        );
    }

    #[test]
    fn a_changed_field_is_named_with_both_values() {
        let changes = diff(
            &[rule("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")],
            &[owned(rule("ENABLED"))],
        );
        let [Change::Update { fields, .. }] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(
            fields,
            &[FieldChange {
                field: "state".to_owned(),
                from: Some("ENABLED".to_owned()),
                to: Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS".to_owned()),
            }]
        );
    }

    #[test]
    fn a_policy_edit_is_shown_by_json_pointer() {
        let mut from = topic("us-east-1");
        let mut to = topic("us-east-1");
        if let (Resource::Topic(a), Resource::Topic(b)) = (&mut from, &mut to) {
            a.policy = json!({"Statement": [{"Action": "sns:Publish", "Sid": "A"}]});
            b.policy =
                json!({"Statement": [{"Action": ["sns:Publish", "sns:Subscribe"], "Sid": "A"}]});
        }
        let changes = diff(&[to], &[owned(from)]);
        let [Change::Update { fields, .. }] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(
            fields,
            &[FieldChange {
                field: "policy /Statement/0/Action".to_owned(),
                from: Some("\"sns:Publish\"".to_owned()),
                to: Some("[\"sns:Publish\",\"sns:Subscribe\"]".to_owned()),
            }]
        );
    }

    #[test]
    fn only_owned_leftovers_are_deleted_and_unowned_ones_are_left_alone() {
        let unowned = Observed {
            resource: topic("us-east-1"),
            owned: false,
        };
        let leftover = owned(topic("eu-west-1"));
        let changes = diff(&[topic("us-east-1")], &[unowned, leftover]);
        assert_eq!(changes.len(), 2);
        assert!(
            matches!(&changes[0], Change::Unowned(k) if k.region.as_deref() == Some("us-east-1"))
        );
        assert!(
            matches!(&changes[1], Change::Delete(r) if r.key().region.as_deref() == Some("eu-west-1"))
        );
    }
}

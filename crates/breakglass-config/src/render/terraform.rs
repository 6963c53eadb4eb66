//! Terraform rendering: one `.tf.json` per account for the `hashicorp/aws` provider, with a
//! provider alias per region that assumes the deploy role.
//!
//! Terraform's JSON syntax reads `${` and `%{` in any string as a template, so every literal
//! string is escaped (`$${aws:username}`); only the references written here on purpose
//! interpolate. Terraform keeps the generated temporary password in its state (it has to, to
//! store it in Secrets Manager): the file says so, and the state must be protected.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::super::Config;
use super::super::resources::{AccountState, RULE_TARGET_ID, Resource};

fn escape(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("${", "$${").replace("%{", "%%{")),
        Value::Array(items) => Value::Array(items.iter().map(escape).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), escape(v))).collect())
        }
        other => other.clone(),
    }
}

/// A policy document as the literal JSON string Terraform passes to AWS.
fn document(doc: &Value) -> Value {
    escape(&Value::String(doc.to_string()))
}

/// Terraform resource names: lowercase letters, digits and `_`, starting with a letter.
fn tf_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_').to_owned();
    if trimmed.starts_with(|c: char| c.is_ascii_alphabetic()) {
        trimmed
    } else {
        format!("r_{trimmed}")
    }
}

fn provider(region: &str) -> String {
    format!("aws.{}", tf_name(region))
}

struct Blocks(BTreeMap<&'static str, Map<String, Value>>);

impl Blocks {
    fn add(&mut self, kind: &'static str, name: String, body: Value) {
        self.0.entry(kind).or_default().insert(name, body);
    }
}

fn tags(map: &BTreeMap<String, String>) -> Value {
    escape(&json!(map))
}

/// The Terraform configuration for one account.
pub fn account_module(config: &Config, account: &AccountState) -> Value {
    let deploy_role = config
        .role_arn(&config.deploy.role, &account.id)
        .map(|a| a.to_string())
        .unwrap_or_default();
    let providers: Vec<Value> = account
        .regions
        .iter()
        .map(|region| {
            json!({
                "alias": tf_name(region),
                "region": region,
                "allowed_account_ids": [account.id.as_str()],
                "assume_role": [{ "role_arn": deploy_role, "session_name": "breakglass-terraform" }]
            })
        })
        .collect();
    let home = provider(&account.home_region);
    let mut b = Blocks(BTreeMap::new());
    // A managed policy the config creates is attached by reference, so Terraform creates it
    // before the roles that carry it.
    let created: BTreeMap<String, String> = account
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Policy(p) => Some((
                p.arn(&config.partition, account.id.as_str()),
                format!("${{aws_iam_policy.{}.arn}}", tf_name(&p.name)),
            )),
            _ => None,
        })
        .collect();
    for r in &account.resources {
        match r {
            Resource::Policy(policy) => {
                b.add(
                    "aws_iam_policy",
                    tf_name(&policy.name),
                    json!({
                        "provider": home,
                        "name": policy.name,
                        "path": policy.path,
                        "description": escape(&json!(policy.description)),
                        "policy": document(&policy.document),
                        "tags": tags(&policy.tags)
                    }),
                );
            }
            Resource::Role(role) => {
                let n = tf_name(&role.name);
                let mut body = json!({
                    "provider": home,
                    "name": role.name,
                    "path": role.path,
                    "description": escape(&json!(role.description)),
                    "assume_role_policy": document(&role.trust_policy),
                    "max_session_duration": role.max_session_duration,
                    "tags": tags(&role.tags)
                });
                if let (Some(boundary), Value::Object(map)) =
                    (&role.permissions_boundary, &mut body)
                {
                    map.insert("permissions_boundary".to_owned(), json!(boundary));
                }
                b.add("aws_iam_role", n.clone(), body);
                for (policy, doc) in &role.inline_policies {
                    b.add(
                        "aws_iam_role_policy",
                        format!("{n}_{}", tf_name(policy)),
                        json!({
                            "provider": home,
                            "role": format!("${{aws_iam_role.{n}.name}}"),
                            "name": policy,
                            "policy": document(doc)
                        }),
                    );
                }
                for arn in &role.managed_policies {
                    let policy = arn.rsplit('/').next().unwrap_or(arn);
                    b.add(
                        "aws_iam_role_policy_attachment",
                        format!("{n}_{}", tf_name(policy)),
                        json!({
                            "provider": home,
                            "role": format!("${{aws_iam_role.{n}.name}}"),
                            "policy_arn": created.get(arn).unwrap_or(arn)
                        }),
                    );
                }
            }
            Resource::User(user) => {
                let n = tf_name(&user.name);
                b.add(
                    "aws_iam_user",
                    n.clone(),
                    json!({ "provider": home, "name": user.name, "path": user.path, "tags": tags(&user.tags) }),
                );
                for (policy, doc) in &user.inline_policies {
                    b.add(
                        "aws_iam_user_policy",
                        format!("{n}_{}", tf_name(policy)),
                        json!({
                            "provider": home,
                            "user": format!("${{aws_iam_user.{n}.name}}"),
                            "name": policy,
                            "policy": document(doc)
                        }),
                    );
                }
                if user.console_access {
                    b.add(
                        "aws_iam_user_login_profile",
                        n.clone(),
                        json!({
                            "provider": home,
                            "user": format!("${{aws_iam_user.{n}.name}}"),
                            "password_length": 32,
                            "password_reset_required": true,
                            "lifecycle": [{ "ignore_changes": ["password_length", "password_reset_required"] }]
                        }),
                    );
                    let secret = tf_name(&user.password_secret);
                    b.add(
                        "aws_secretsmanager_secret_version",
                        secret.clone(),
                        json!({
                            "provider": home,
                            "secret_id": format!("${{aws_secretsmanager_secret.{secret}.id}}"),
                            "secret_string": format!(
                                "${{jsonencode({{username = aws_iam_user.{n}.name, password = aws_iam_user_login_profile.{n}.password}})}}"
                            ),
                            "lifecycle": [{ "ignore_changes": ["secret_string"] }]
                        }),
                    );
                }
            }
            Resource::Secret(s) => {
                b.add(
                    "aws_secretsmanager_secret",
                    tf_name(&s.name),
                    json!({
                        "provider": provider(&s.region),
                        "name": s.name,
                        "description": escape(&json!(s.description)),
                        "tags": tags(&s.tags)
                    }),
                );
            }
            Resource::MetricFilter(m) => {
                b.add(
                    "aws_cloudwatch_log_metric_filter",
                    tf_name(&m.name),
                    json!({
                        "provider": provider(&m.region),
                        "name": m.name,
                        "log_group_name": m.log_group,
                        "pattern": escape(&json!(m.pattern)),
                        "metric_transformation": [{
                            "name": m.metric_name,
                            "namespace": m.metric_namespace,
                            "value": "1"
                        }]
                    }),
                );
            }
            Resource::Alarm(a) => {
                let topic = tf_name(&format!("{}_{}", config.alerting.sns_topic, a.region));
                // A rule's delivery alarm exists in every region under one name.
                let name = if a.dimensions.is_empty() {
                    tf_name(&a.name)
                } else {
                    tf_name(&format!("{}_{}", a.name, a.region))
                };
                b.add(
                    "aws_cloudwatch_metric_alarm",
                    name,
                    json!({
                        "provider": provider(&a.region),
                        "alarm_name": a.name,
                        "alarm_description": escape(&json!(a.description)),
                        "namespace": a.metric_namespace,
                        "metric_name": a.metric_name,
                        "statistic": a.statistic,
                        "period": a.period,
                        "evaluation_periods": a.evaluation_periods,
                        "threshold": a.threshold,
                        "comparison_operator": a.comparison,
                        "treat_missing_data": a.treat_missing_data,
                        "dimensions": a.dimensions,
                        "alarm_actions": [format!("${{aws_sns_topic.{topic}.arn}}")],
                        "tags": tags(&a.tags)
                    }),
                );
            }
            Resource::Topic(t) => {
                let n = tf_name(&format!("{}_{}", t.name, t.region));
                b.add(
                    "aws_sns_topic",
                    n.clone(),
                    json!({ "provider": provider(&t.region), "name": t.name, "tags": tags(&t.tags) }),
                );
                b.add(
                    "aws_sns_topic_policy",
                    n.clone(),
                    json!({
                        "provider": provider(&t.region),
                        "arn": format!("${{aws_sns_topic.{n}.arn}}"),
                        "policy": document(&t.policy)
                    }),
                );
            }
            Resource::EventRule(e) => {
                let n = tf_name(&format!("{}_{}", e.name, e.region));
                let topic = tf_name(&format!("{}_{}", config.alerting.sns_topic, e.region));
                b.add(
                    "aws_cloudwatch_event_rule",
                    n.clone(),
                    json!({
                        "provider": provider(&e.region),
                        "name": e.name,
                        "description": escape(&json!(e.description)),
                        "event_pattern": document(&e.pattern),
                        "state": e.state,
                        "tags": tags(&e.tags)
                    }),
                );
                b.add(
                    "aws_cloudwatch_event_target",
                    n.clone(),
                    json!({
                        "provider": provider(&e.region),
                        "rule": format!("${{aws_cloudwatch_event_rule.{n}.name}}"),
                        "target_id": RULE_TARGET_ID,
                        "arn": format!("${{aws_sns_topic.{topic}.arn}}")
                    }),
                );
                if let Some(q) = &e.queue {
                    let mut target = json!({
                        "provider": provider(&e.region),
                        "rule": format!("${{aws_cloudwatch_event_rule.{n}.name}}"),
                        "target_id": crate::templates::activity::QUEUE_TARGET_ID,
                        "arn": q.arn
                    });
                    if let (Some(role), Value::Object(map)) = (&q.role_arn, &mut target) {
                        map.insert("role_arn".to_owned(), json!(role));
                    }
                    b.add(
                        "aws_cloudwatch_event_target",
                        format!("{n}_activity"),
                        target,
                    );
                }
            }
            Resource::Queue(q) => {
                let n = tf_name(&format!("{}_{}", q.name, q.region));
                b.add(
                    "aws_sqs_queue",
                    n.clone(),
                    json!({
                        "provider": provider(&q.region),
                        "name": q.name,
                        "sqs_managed_sse_enabled": true,
                        "tags": tags(&q.tags)
                    }),
                );
                b.add(
                    "aws_sqs_queue_policy",
                    n.clone(),
                    json!({
                        "provider": provider(&q.region),
                        "queue_url": format!("${{aws_sqs_queue.{n}.id}}"),
                        "policy": document(&q.policy)
                    }),
                );
            }
        }
    }
    let resource: Map<String, Value> =
        b.0.into_iter()
            .map(|(kind, blocks)| (kind.to_owned(), Value::Object(blocks)))
            .collect();
    json!({
        "//": format!(
            "breakglass: account {} ({}). Terraform stores the break-glass users' generated temporary passwords in its state to put them in Secrets Manager: protect the state accordingly.",
            account.name, account.id
        ),
        "terraform": {
            "required_version": ">= 1.5",
            "required_providers": { "aws": { "source": "hashicorp/aws", "version": ">= 5.30" } }
        },
        "provider": { "aws": providers },
        "resource": resource
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_variables_are_escaped_for_terraform() {
        let doc = json!({"Resource": "arn:aws:iam::*:user/${aws:username}"});
        let Value::String(text) = document(&doc) else {
            panic!()
        };
        assert!(text.contains("$${aws:username}"), "{text}");
    }

    #[test]
    fn names_become_terraform_identifiers() {
        assert_eq!(tf_name("alice-BREAK-GLASS"), "alice_break_glass");
        assert_eq!(
            tf_name("breakglass/break-glass-password/x"),
            "breakglass_break_glass_password_x"
        );
        assert_eq!(tf_name("1abc"), "r_1abc");
        assert_eq!(tf_name("us-east-1"), "us_east_1");
    }
}

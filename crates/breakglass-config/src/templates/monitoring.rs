//! Monitoring templates: the EventBridge rules that catch break-glass use as it happens, the
//! alarm parameters, and the SNS topic policy that lets both publish.
//!
//! `AssumeRole` is a read-only management event, which EventBridge only delivers to rules
//! in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`; STS events land in the region of
//! the endpoint that was called, so the rules exist in every configured region.

use serde_json::{Value, json};

use breakglass_trail::rules::builtin::BuiltinParams;

use super::{BREAK_GLASS_USER_SUFFIX, RESOURCE_PREFIX};

/// The EventBridge rule state that also delivers read-only management events.
pub const RULE_STATE: &str = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS";

/// Alarm evaluation periods: a single period over the rule's threshold alarms (the period
/// and threshold come from the rule).
pub const ALARM_EVALUATION_PERIODS: i32 = 1;

/// The scanner's rule-pack parameters for a config: break-glass roles by ARN (the config's
/// role-name pattern, after the role's path), break-glass users by their name suffix, and
/// incident-response roles by their path. The metric filters deployed to every account use
/// the same rules, so CloudWatch alarms on exactly what `breakglass scan` reports.
pub fn builtin_params(role_name_pattern: &str, path: &str) -> BuiltinParams {
    let break_glass_role = if role_name_pattern.starts_with('*') {
        role_name_pattern.to_owned()
    } else {
        format!("*/{role_name_pattern}")
    };
    BuiltinParams {
        break_glass_role,
        break_glass_user: format!("*{BREAK_GLASS_USER_SUFFIX}"),
        incident_response_role: format!("*:role{path}*"),
    }
}

/// One EventBridge rule, rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRuleTemplate {
    /// The rule name (`breakglass-...`).
    pub name: String,
    /// What it catches.
    pub description: &'static str,
    /// The event pattern.
    pub pattern: Value,
}

/// The inputs of the EventBridge patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePatternInputs<'a> {
    /// The AWS partition.
    pub partition: &'a str,
    /// The role-name pattern of break-glass roles (`*` wildcards).
    pub role_name_pattern: &'a str,
    /// The security account id (break-glass users live there).
    pub security_account: &'a str,
    /// The IAM path of the break-glass users.
    pub path: &'a str,
}

/// The EventBridge rules for `AssumeRole`, `SwitchRole` and `ConsoleLogin` of break-glass
/// roles and users.
///
/// A denied `AssumeRole` has `requestParameters: null` and names the role only in its
/// `errorMessage`, so the AssumeRole rule matches either. A console `SwitchRole` event is
/// recorded under the assumed role's identity. Console logins of the break-glass users are
/// matched by their ARN under the incident-response path.
pub fn event_rules(inputs: &RulePatternInputs<'_>) -> Vec<EventRuleTemplate> {
    // Role names cannot contain `*` or `\`, and the config's pattern is checked to hold only
    // role-name characters and `*`, so it is already a valid EventBridge wildcard.
    let name = inputs.role_name_pattern;
    let assumed_role = collapse_stars(&format!("arn:*:sts::*:assumed-role/{name}/*"));
    let role_arn = collapse_stars(&format!("arn:*:iam::*:role/*{name}"));
    let in_message = collapse_stars(&format!("*:role/*{name}*"));
    let p = inputs.partition;
    vec![
        EventRuleTemplate {
            name: format!("{RESOURCE_PREFIX}assume-role"),
            description: "AssumeRole of a break-glass role, allowed or denied",
            pattern: json!({
                "source": ["aws.sts"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["sts.amazonaws.com"],
                    "eventName": ["AssumeRole"],
                    "$or": [
                        { "requestParameters": { "roleArn": [{ "wildcard": role_arn }] } },
                        { "errorMessage": [{ "wildcard": in_message }] }
                    ]
                }
            }),
        },
        EventRuleTemplate {
            name: format!("{RESOURCE_PREFIX}switch-role"),
            description: "Console SwitchRole into a break-glass role",
            pattern: json!({
                "source": ["aws.signin"],
                "detail": {
                    "eventName": ["SwitchRole"],
                    "userIdentity": { "arn": [{ "wildcard": assumed_role }] }
                }
            }),
        },
        EventRuleTemplate {
            name: format!("{RESOURCE_PREFIX}console-login"),
            description: "Console sign-in of a break-glass user or into a break-glass role",
            pattern: json!({
                "source": ["aws.signin"],
                "detail": {
                    "eventName": ["ConsoleLogin"],
                    "$or": [
                        { "userIdentity": { "arn": [{ "prefix": format!("arn:{p}:iam::{}:user{}", inputs.security_account, inputs.path) }] } },
                        { "userIdentity": { "arn": [{ "wildcard": assumed_role }] } }
                    ]
                }
            }),
        },
    ]
}

/// `**` means the same as `*` and EventBridge limits wildcard complexity: collapse runs.
fn collapse_stars(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if c == '*' && out.ends_with('*') {
            continue;
        }
        out.push(c);
    }
    out
}

/// The topic policy: the account administers its topic; CloudWatch alarms and EventBridge
/// rules of this account named `breakglass-*` may publish to it, and nothing else may.
pub fn topic_policy(partition: &str, region: &str, account: &str, topic: &str) -> Value {
    let topic_arn = format!("arn:{partition}:sns:{region}:{account}:{topic}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
                "Action": [
                    "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic", "sns:Publish"
                ],
                "Resource": topic_arn
            },
            {
                "Sid": "BreakGlassRulesPublish",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": { "aws:SourceArn": format!("arn:{partition}:events:{region}:{account}:rule/{RESOURCE_PREFIX}*") }
                }
            },
            {
                "Sid": "BreakGlassAlarmsPublish",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": { "aws:SourceArn": format!("arn:{partition}:cloudwatch:{region}:{account}:alarm:{RESOURCE_PREFIX}*") }
                }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> RulePatternInputs<'static> {
        RulePatternInputs {
            partition: "aws",
            role_name_pattern: "*BreakGlass*",
            security_account: "111111111111",
            path: "/incident-response/",
        }
    }

    #[test]
    fn denied_assume_role_attempts_are_matched_by_their_error_message() {
        let rules = event_rules(&inputs());
        let assume = &rules[0];
        assert_eq!(assume.name, "breakglass-assume-role");
        let or = &assume.pattern["detail"]["$or"];
        assert_eq!(or[1]["errorMessage"][0]["wildcard"], "*:role/*BreakGlass*");
    }

    #[test]
    fn scanner_parameters_match_roles_by_arn_after_their_path() {
        let p = builtin_params("*BreakGlass*", "/incident-response/");
        assert_eq!(p.break_glass_role, "*BreakGlass*");
        assert_eq!(p.break_glass_user, "*-BREAK-GLASS");
        assert_eq!(p.incident_response_role, "*:role/incident-response/*");
        let exact = builtin_params("SecurityBreakGlass", "/incident-response/");
        assert_eq!(exact.break_glass_role, "*/SecurityBreakGlass");
        assert!(breakglass_trail::rules::builtin::rules(&exact).is_ok());
    }

    #[test]
    fn there_is_one_rule_per_event_name() {
        let names: Vec<String> = event_rules(&inputs()).into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "breakglass-assume-role",
                "breakglass-switch-role",
                "breakglass-console-login"
            ]
        );
    }

    #[test]
    fn only_this_accounts_breakglass_rules_and_alarms_may_publish() {
        let policy = topic_policy("aws", "eu-west-1", "222222222222", "breakglass-alerts");
        assert_eq!(
            policy["Statement"][1]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:events:eu-west-1:222222222222:rule/breakglass-*"
        );
    }
}

//! The built-in role templates: the four roles of the incident-response course
//! (SecurityAnalyst, SecurityDeploy, SecurityAdmin, SecurityBreakGlass) and the four role types
//! of the SEC10-BP05 seed (security_investigator, incident_responder, forensics_analyst,
//! break_glass_admin).
//!
//! The role types keep the seed's action lists, managed policies and durations verbatim. The
//! course roles have no action lists in the seeds (only their purpose), so their policies are
//! ours, written for that purpose; each says why it grants what it grants.

use serde_json::{Value, json};
use time::Duration;

use super::guardrails::GUARDRAIL_PATH;
use super::revoker::REVOKER_PATH;
use super::trust::Trust;
use super::{RESOURCE_PREFIX, SECRET_PREFIX, TemplateContext};

/// A role template, rendered for one installation.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleTemplate {
    /// The template's name as the config writes it.
    pub name: &'static str,
    /// The role's description.
    pub description: &'static str,
    /// The role's `MaxSessionDuration`.
    pub max_session_duration: Duration,
    /// Managed policy ARNs to attach.
    pub managed_policies: Vec<String>,
    /// Inline policies, by name.
    pub inline_policies: Vec<(String, Value)>,
    /// The permissions boundary's ARN.
    pub permissions_boundary: Option<String>,
    /// Who may assume the role.
    pub trust: Vec<Trust>,
    /// Whether it is a break-glass role (alarms on every use, mandatory review).
    pub break_glass: bool,
}

/// The names of every built-in role template.
pub const ROLE_TEMPLATES: &[&str] = &[
    "SecurityAnalyst",
    "SecurityDeploy",
    "SecurityAdmin",
    "SecurityBreakGlass",
    "security_investigator",
    "incident_responder",
    "forensics_analyst",
    "break_glass_admin",
];

/// The template `name`, rendered for `ctx`; `None` for an unknown name.
pub fn role_template(name: &str, ctx: &TemplateContext) -> Option<RoleTemplate> {
    let t = match name {
        "SecurityAnalyst" => security_analyst(ctx),
        "SecurityDeploy" => security_deploy(ctx),
        "SecurityAdmin" => security_admin(ctx),
        "SecurityBreakGlass" => security_break_glass(ctx),
        "security_investigator" => security_investigator(ctx),
        "incident_responder" => incident_responder(ctx),
        "forensics_analyst" => forensics_analyst(ctx),
        "break_glass_admin" => break_glass_admin(ctx),
        _ => return None,
    };
    Some(t)
}

fn policy(statements: Value) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Reads security data: findings, CloudTrail (event history, CloudWatch Logs, Athena) and
/// configuration, never workload data or write actions on workloads. Athena query results
/// and the CloudTrail bucket are installation-specific: grant S3 access to them with an
/// `inline_policies` override.
fn security_analyst(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "SecurityAnalyst",
        description: "Incident-response analysis: reads findings, CloudTrail and configuration",
        max_session_duration: Duration::hours(4),
        managed_policies: vec![ctx.aws_managed("SecurityAudit")],
        inline_policies: vec![(
            "SecurityAnalysis".to_owned(),
            policy(json!([{
                "Sid": "QueryTrailsAndFindings",
                "Effect": "Allow",
                "Action": [
                    "cloudtrail:LookupEvents",
                    "logs:FilterLogEvents",
                    "logs:GetLogEvents",
                    "logs:StartQuery",
                    "logs:GetQueryResults",
                    "logs:StopQuery",
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                    "athena:GetWorkGroup",
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartitions",
                    "guardduty:GetFindings",
                    "guardduty:ListFindings",
                    "guardduty:ListDetectors",
                    "securityhub:GetFindings",
                    "detective:SearchGraph",
                    "detective:ListGraphs"
                ],
                "Resource": "*"
            }])),
        )],
        permissions_boundary: Some(ctx.aws_managed("PowerUserAccess")),
        trust: vec![Trust::Broker],
        break_glass: false,
    }
}

/// Deploys breakglass's own resources: the role `breakglass apply` assumes in each account.
/// It can only touch IAM principals under the incident-response path (and the broker's
/// revoker role under its own path), secrets under the breakglass prefix and monitoring
/// resources named `breakglass-*`, but within that it can create roles with any policy, so
/// it is as sensitive as the break-glass role itself: only `deploy.principals` may assume it.
fn security_deploy(ctx: &TemplateContext) -> RoleTemplate {
    let p = &ctx.partition;
    let path = &ctx.path;
    let topic = &ctx.sns_topic;
    RoleTemplate {
        name: "SecurityDeploy",
        description: "Deploys the incident-response roles, break-glass users and their monitoring",
        max_session_duration: Duration::hours(1),
        managed_policies: Vec::new(),
        inline_policies: vec![(
            "DeployIncidentResponseAccess".to_owned(),
            policy(json!([
                {
                    "Sid": "IncidentResponseRoles",
                    "Effect": "Allow",
                    "Action": [
                        "iam:GetRole", "iam:CreateRole", "iam:UpdateRole", "iam:DeleteRole",
                        "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole",
                        "iam:ListRoleTags", "iam:GetRolePolicy", "iam:PutRolePolicy",
                        "iam:DeleteRolePolicy", "iam:ListRolePolicies",
                        "iam:AttachRolePolicy", "iam:DetachRolePolicy",
                        "iam:ListAttachedRolePolicies", "iam:PutRolePermissionsBoundary",
                        "iam:DeleteRolePermissionsBoundary"
                    ],
                    "Resource": [
                        format!("arn:{p}:iam::*:role{path}*"),
                        format!("arn:{p}:iam::*:role{REVOKER_PATH}*")
                    ]
                },
                {
                    "Sid": "Guardrails",
                    "Effect": "Allow",
                    "Action": [
                        "iam:CreatePolicy", "iam:DeletePolicy", "iam:GetPolicy",
                        "iam:GetPolicyVersion", "iam:ListPolicyVersions",
                        "iam:CreatePolicyVersion", "iam:DeletePolicyVersion",
                        "iam:TagPolicy", "iam:UntagPolicy", "iam:ListPolicyTags"
                    ],
                    "Resource": format!("arn:{p}:iam::*:policy{GUARDRAIL_PATH}*")
                },
                {
                    "Sid": "BreakGlassUsers",
                    "Effect": "Allow",
                    "Action": [
                        "iam:GetUser", "iam:CreateUser", "iam:DeleteUser", "iam:TagUser",
                        "iam:UntagUser", "iam:ListUserTags", "iam:GetUserPolicy",
                        "iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:ListUserPolicies",
                        "iam:GetLoginProfile", "iam:CreateLoginProfile",
                        "iam:DeleteLoginProfile", "iam:ListAccessKeys", "iam:ListMFADevices"
                    ],
                    "Resource": format!("arn:{p}:iam::*:user{path}*")
                },
                {
                    "Sid": "TemporaryPasswords",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
                        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret",
                        "secretsmanager:DeleteSecret", "secretsmanager:TagResource",
                        "secretsmanager:UntagResource"
                    ],
                    "Resource": format!("arn:{p}:secretsmanager:*:*:secret:{SECRET_PREFIX}*")
                },
                {
                    "Sid": "Alarms",
                    "Effect": "Allow",
                    "Action": [
                        "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
                        "cloudwatch:TagResource", "cloudwatch:UntagResource",
                        "cloudwatch:ListTagsForResource"
                    ],
                    "Resource": format!("arn:{p}:cloudwatch:*:*:alarm:{RESOURCE_PREFIX}*")
                },
                {
                    "Sid": "AlertTopic",
                    "Effect": "Allow",
                    "Action": [
                        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes",
                        "sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource",
                        "sns:ListTagsForResource"
                    ],
                    "Resource": format!("arn:{p}:sns:*:*:{topic}")
                },
                {
                    "Sid": "EventRules",
                    "Effect": "Allow",
                    "Action": [
                        "events:PutRule", "events:DeleteRule", "events:DescribeRule",
                        "events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule",
                        "events:TagResource", "events:UntagResource", "events:ListTagsForResource"
                    ],
                    "Resource": format!("arn:{p}:events:*:*:rule/{RESOURCE_PREFIX}*")
                },
                {
                    "Sid": "MetricFilters",
                    "Effect": "Allow",
                    "Action": [
                        "logs:PutMetricFilter", "logs:DeleteMetricFilter",
                        "logs:DescribeMetricFilters"
                    ],
                    "Resource": format!("arn:{p}:logs:*:*:log-group:*")
                },
                {
                    "Sid": "Stacks",
                    "Effect": "Allow",
                    "Action": [
                        "cloudformation:CreateStack", "cloudformation:UpdateStack",
                        "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
                        "cloudformation:DescribeStackEvents", "cloudformation:CreateChangeSet",
                        "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
                        "cloudformation:DeleteChangeSet", "cloudformation:GetTemplate"
                    ],
                    "Resource": format!("arn:{p}:cloudformation:*:*:stack/{RESOURCE_PREFIX}*/*")
                },
                {
                    "Sid": "Listings",
                    "Effect": "Allow",
                    "Action": [
                        "iam:ListRoles", "iam:ListUsers", "iam:ListPolicies", "secretsmanager:ListSecrets",
                        "secretsmanager:GetRandomPassword", "cloudwatch:DescribeAlarms",
                        "sns:ListTopics", "events:ListRules", "logs:DescribeLogGroups",
                        "cloudformation:ValidateTemplate"
                    ],
                    "Resource": "*"
                }
            ])),
        )],
        permissions_boundary: None,
        trust: vec![Trust::Deployers],
        break_glass: false,
    }
}

/// Administers the security tooling (CloudTrail, Athena, GuardDuty, Security Hub, Config,
/// Detective, Access Analyzer), but cannot switch any of it off: stopping or deleting the
/// trail, the detector, the recorder or the analyzer is what an intruder does first, so the
/// guardrails every brokered role carries ([`super::guardrails`]) deny it.
fn security_admin(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "SecurityAdmin",
        description: "Administers security tooling; cannot disable logging or detection",
        max_session_duration: Duration::hours(2),
        managed_policies: vec![ctx.aws_managed("SecurityAudit")],
        inline_policies: vec![(
            "SecurityToolingAdmin".to_owned(),
            policy(json!([
                {
                    "Sid": "AdministerSecurityTooling",
                    "Effect": "Allow",
                    "Action": [
                        "cloudtrail:*",
                        "athena:*",
                        "guardduty:*",
                        "securityhub:*",
                        "config:*",
                        "detective:*",
                        "access-analyzer:*",
                        "glue:GetDatabase", "glue:GetDatabases", "glue:CreateDatabase",
                        "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                        "glue:GetPartitions", "glue:BatchCreatePartition"
                    ],
                    "Resource": "*"
                }
            ])),
        )],
        permissions_boundary: Some(ctx.aws_managed("PowerUserAccess")),
        trust: vec![Trust::Broker],
        break_glass: false,
    }
}

/// Emergency containment and eradication. The course gives it AdministratorAccess "for the
/// sake of time"; we keep that (an emergency role must not fail for lack of a permission)
/// and it carries the guardrails every brokered role does ([`super::guardrails`]), an hour's limit, MFA for direct use and alarms on every use.
fn security_break_glass(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "SecurityBreakGlass",
        description: "Emergency containment and eradication; every use alarms",
        max_session_duration: Duration::hours(1),
        managed_policies: vec![ctx.aws_managed("AdministratorAccess")],
        inline_policies: Vec::new(),
        permissions_boundary: None,
        trust: vec![Trust::Broker, Trust::BreakGlassUsers],
        break_glass: true,
    }
}

/// The seed's `security_investigator`, verbatim.
fn security_investigator(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "security_investigator",
        description: "Security investigation and analysis role",
        max_session_duration: Duration::hours(4),
        managed_policies: vec![
            ctx.aws_managed("SecurityAudit"),
            ctx.aws_managed("ReadOnlyAccess"),
        ],
        inline_policies: vec![(
            "SecurityInvestigationPolicy".to_owned(),
            policy(json!([{
                "Effect": "Allow",
                "Action": [
                    "guardduty:*",
                    "detective:*",
                    "securityhub:*",
                    "cloudtrail:LookupEvents",
                    "logs:FilterLogEvents",
                    "logs:GetLogEvents"
                ],
                "Resource": "*"
            }])),
        )],
        permissions_boundary: Some(ctx.aws_managed("PowerUserAccess")),
        trust: vec![Trust::Broker],
        break_glass: false,
    }
}

/// The seed's `incident_responder`, verbatim. Note that its PowerUserAccess boundary allows
/// no IAM or Organizations action, so the inline grants on `iam:*AccessKey`,
/// `iam:*UserPolicy` and `organizations:*` have no effect unless the boundary is overridden.
fn incident_responder(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "incident_responder",
        description: "Full incident response and remediation role",
        max_session_duration: Duration::hours(8),
        managed_policies: vec![ctx.aws_managed("PowerUserAccess")],
        inline_policies: vec![(
            "IncidentResponsePolicy".to_owned(),
            policy(json!([
                {
                    "Effect": "Allow",
                    "Action": [
                        "ec2:*",
                        "iam:ListUsers",
                        "iam:ListRoles",
                        "iam:GetUser",
                        "iam:GetRole",
                        "iam:UpdateAccessKey",
                        "iam:DeleteAccessKey",
                        "iam:AttachUserPolicy",
                        "iam:DetachUserPolicy",
                        "organizations:*"
                    ],
                    "Resource": "*"
                },
                {
                    "Effect": "Deny",
                    "Action": [
                        "iam:CreateUser",
                        "iam:DeleteUser",
                        "iam:CreateRole",
                        "iam:DeleteRole"
                    ],
                    "Resource": "*"
                }
            ])),
        )],
        permissions_boundary: Some(ctx.aws_managed("PowerUserAccess")),
        trust: vec![Trust::Broker],
        break_glass: false,
    }
}

/// The seed's `forensics_analyst`, with one deviation: the seed's boundary, ReadOnlyAccess,
/// blocks every write action the ForensicsPolicy grants (CreateSnapshot, CreateImage,
/// PutObject, SendCommand), so the role could not collect evidence at all. The boundary here
/// is PowerUserAccess, which allows them and still excludes IAM and Organizations.
fn forensics_analyst(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "forensics_analyst",
        description: "Digital forensics and evidence collection role",
        max_session_duration: Duration::hours(4),
        managed_policies: vec![ctx.aws_managed("ReadOnlyAccess")],
        inline_policies: vec![(
            "ForensicsPolicy".to_owned(),
            policy(json!([{
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateSnapshot",
                    "ec2:CopySnapshot",
                    "ec2:DescribeSnapshots",
                    "ec2:CreateImage",
                    "ec2:CopyImage",
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:ListBucket",
                    "ssm:SendCommand",
                    "ssm:GetCommandInvocation"
                ],
                "Resource": "*"
            }])),
        )],
        permissions_boundary: Some(ctx.aws_managed("PowerUserAccess")),
        trust: vec![Trust::Broker],
        break_glass: false,
    }
}

/// The seed's `break_glass_admin` (AdministratorAccess, one hour, no boundary), plus the
/// guardrails every brokered role carries and the direct MFA path for break-glass users.
fn break_glass_admin(ctx: &TemplateContext) -> RoleTemplate {
    RoleTemplate {
        name: "break_glass_admin",
        description: "Emergency administrative access for critical incidents",
        max_session_duration: Duration::hours(1),
        managed_policies: vec![ctx.aws_managed("AdministratorAccess")],
        inline_policies: Vec::new(),
        permissions_boundary: None,
        trust: vec![Trust::Broker, Trust::BreakGlassUsers],
        break_glass: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TemplateContext {
        TemplateContext {
            partition: "aws".to_owned(),
            path: "/incident-response/".to_owned(),
            sns_topic: "breakglass-alerts".to_owned(),
        }
    }

    #[test]
    fn every_listed_template_renders_and_unknown_names_do_not() {
        for name in ROLE_TEMPLATES {
            let t = role_template(name, &ctx()).unwrap();
            assert_eq!(&t.name, name);
            assert!(!t.trust.is_empty(), "{name} trusts nobody");
        }
        assert!(role_template("SecurityAnalystt", &ctx()).is_none());
    }

    #[test]
    fn seed_role_types_keep_their_durations() {
        let hours = |n: &str| {
            role_template(n, &ctx())
                .unwrap()
                .max_session_duration
                .whole_hours()
        };
        assert_eq!(hours("security_investigator"), 4);
        assert_eq!(hours("incident_responder"), 8);
        assert_eq!(hours("forensics_analyst"), 4);
        assert_eq!(hours("break_glass_admin"), 1);
    }

    #[test]
    fn inline_policies_fit_the_role_quota() {
        for name in ROLE_TEMPLATES {
            let t = role_template(name, &ctx()).unwrap();
            let total: usize = t
                .inline_policies
                .iter()
                .map(|(_, p)| serde_json::to_string(p).unwrap().len())
                .sum();
            assert!(total < 10_240, "{name}: {total}");
        }
    }
}

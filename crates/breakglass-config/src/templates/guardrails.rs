//! The guardrails: the denies every role the broker or a break-glass user assumes carries, in
//! one customer-managed policy that `apply` creates in each account and attaches to those
//! roles.
//!
//! They live in a managed policy, not inline, because the broker's revoker role must be able
//! to write inline policies on the brokered roles (IAM has no condition key naming an inline
//! policy, so it can delete any of them): a guardrail there would be one `DeleteRolePolicy`
//! away from gone for whoever holds the broker's principal. The revoker has no action on a
//! managed policy nor on a role's attachments, and the guardrails deny every brokered session
//! the actions that would change them (new policy versions, detaching, deleting), the
//! ownership tags the revoker and `apply` rely on, and the principals and policies a session
//! would create to outlive its revocation.

use serde_json::{Value, json};

use super::revoker::REVOKER_PATH;
use super::{RESOURCE_PREFIX, TemplateContext};

/// The guardrail policy's name.
pub const GUARDRAIL_POLICY: &str = "BreakglassGuardrails";

/// Its IAM path: breakglass's own machinery, like the revoker role.
pub const GUARDRAIL_PATH: &str = REVOKER_PATH;

/// Its description.
pub const GUARDRAIL_DESCRIPTION: &str = "Denies every brokered session the changes that would let it outlive its revocation or blind its monitoring";

/// The prefix of every tag key breakglass relies on (`breakglass:managed-by`, ...).
pub const TAG_KEY_PREFIX: &str = "breakglass:";

/// The actions by which a session would create a principal or a credential that survives
/// its revocation (a revocation denies the session, not what it made).
pub const PRINCIPAL_CREATION: &[&str] = &[
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateRole",
    "iam:CreateServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
    "iam:CreateVirtualMFADevice",
];

/// The guardrail policy's ARN in `account` (an id, or a placeholder such as
/// `${AWS::AccountId}`).
pub fn guardrail_policy_arn(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy{GUARDRAIL_PATH}{GUARDRAIL_POLICY}")
}

/// The guardrail policy document.
pub fn guardrail_document(ctx: &TemplateContext) -> Value {
    let p = &ctx.partition;
    let path = &ctx.path;
    let topic = &ctx.sns_topic;
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoAccountClosureOrDetectionTampering",
                "Effect": "Deny",
                "Action": [
                    "account:CloseAccount", "organizations:CloseAccount",
                    "organizations:LeaveOrganization", "cloudtrail:StopLogging",
                    "cloudtrail:DeleteTrail", "cloudtrail:DeleteEventDataStore",
                    "guardduty:DeleteDetector", "guardduty:DisassociateFromAdministratorAccount",
                    "securityhub:DisableSecurityHub", "config:StopConfigurationRecorder",
                    "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel",
                    "access-analyzer:DeleteAnalyzer", "detective:DeleteGraph"
                ],
                "Resource": "*"
            },
            {
                "Sid": "NoChangesToIncidentResponsePrincipals",
                "Effect": "Deny",
                "Action": [
                    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
                    "iam:DetachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
                    "iam:DeleteRole", "iam:PutRolePermissionsBoundary",
                    "iam:DeleteRolePermissionsBoundary", "iam:TagRole", "iam:UntagRole",
                    "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:PutUserPolicy",
                    "iam:DeleteUserPolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy",
                    "iam:TagUser", "iam:UntagUser", "iam:DeleteLoginProfile",
                    "iam:UpdateLoginProfile", "iam:DeactivateMFADevice"
                ],
                "Resource": [
                    format!("arn:{p}:iam::*:role{path}*"),
                    format!("arn:{p}:iam::*:role{REVOKER_PATH}*"),
                    format!("arn:{p}:iam::*:user{path}*")
                ]
            },
            {
                "Sid": "NoChangesToGuardrails",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"
                ],
                "Resource": format!("arn:{p}:iam::*:policy{GUARDRAIL_PATH}*")
            },
            {
                "Sid": "NoBreakglassTagChanges",
                "Effect": "Deny",
                "Action": [
                    "iam:TagRole", "iam:UntagRole", "iam:TagUser", "iam:UntagUser",
                    "iam:TagPolicy", "iam:UntagPolicy"
                ],
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringLike": { "aws:TagKeys": [format!("{TAG_KEY_PREFIX}*")] }
                }
            },
            {
                "Sid": "NoPrincipalsThatOutliveRevocation",
                "Effect": "Deny",
                "Action": PRINCIPAL_CREATION,
                "Resource": "*"
            },
            {
                "Sid": "NoChangesToBreakGlassMonitoring",
                "Effect": "Deny",
                "Action": [
                    "events:DeleteRule", "events:DisableRule", "events:PutRule",
                    "events:RemoveTargets", "events:PutTargets",
                    "cloudwatch:DeleteAlarms", "cloudwatch:DisableAlarmActions",
                    "cloudwatch:PutMetricAlarm", "cloudwatch:SetAlarmState",
                    "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Unsubscribe",
                    "logs:DeleteMetricFilter", "logs:PutMetricFilter"
                ],
                "Resource": [
                    format!("arn:{p}:events:*:*:rule/{RESOURCE_PREFIX}*"),
                    format!("arn:{p}:cloudwatch:*:*:alarm:{RESOURCE_PREFIX}*"),
                    format!("arn:{p}:sns:*:*:{topic}"),
                    format!("arn:{p}:logs:*:*:log-group:*")
                ]
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_iam::size::{self, Limit};

    #[test]
    fn the_guardrails_fit_a_managed_policy() {
        let ctx = TemplateContext {
            partition: "aws".to_owned(),
            path: "/incident-response/".to_owned(),
            sns_topic: "breakglass-alerts".to_owned(),
        };
        let text = guardrail_document(&ctx).to_string();
        assert!(size::check("guardrails", &text, Limit::ManagedPolicy).is_ok());
    }
}

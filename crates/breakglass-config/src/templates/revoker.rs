//! The revoker role: what the broker assumes in every account other than its own to cut
//! sessions off there, and nothing more.
//!
//! Revocation writes inline policies (`BreakglassRevocations`, `AWSRevokeOlderSessions`) on
//! the brokered roles of each account. The deploy role could do it, but it creates roles
//! with any policy and trusts the deploy principals, not the broker: a long-running service
//! must not hold it. The revoker role trusts only the broker's principal and may only read
//! the brokered roles and put or delete their inline policies.
//!
//! IAM has no condition key for the name of an inline policy (`iam:PutRolePolicy` and
//! `iam:DeleteRolePolicy` know only `iam:PermissionsBoundary` and `iam:RoleTemplateARN`), so
//! the revoker can write any inline policy on the roles it names, not only the revocation
//! ones. Everything else is as narrow as IAM allows: the roles are named by exact ARN (the
//! roles the config deploys to that account that the broker or the break-glass users
//! assume; never the deploy role, never the revoker itself). Writes carry no tag condition:
//! a tag is something a session could change, and the exact ARNs already say which roles.
//! No deny worth keeping lives in an inline policy the revoker could delete: the guardrails
//! are a managed policy ([`super::guardrails`]), on which it has no action. The role lives
//! under its own path, outside the incident-response path: the scanner's rule on IAM changes
//! by incident-response sessions does not fire on every revocation, and the guardrails
//! protect that path too.

use serde_json::{Value, json};

/// The IAM path of the revoker role (and of nothing else): breakglass's own machinery.
pub const REVOKER_PATH: &str = "/breakglass/";

/// The revoker role's name unless `broker.revoker_role` says otherwise.
pub const DEFAULT_REVOKER_ROLE: &str = "BreakglassRevoker";

/// The name of the revoker role's one inline policy.
pub const REVOKER_POLICY: &str = "BreakglassRevokeSessions";

/// The `Sid` of the revoker role's trust statement (lint exceptions are keyed by it).
pub const REVOKER_TRUST_SID: &str = "BrokerRevokes";

/// The revoker role's `MaxSessionDuration`: the SDK refreshes the broker's credentials for
/// it as they expire, so an hour (IAM's minimum) is enough.
pub const REVOKER_MAX_SESSION_SECONDS: i32 = 3_600;

/// The revoker role's description.
pub const REVOKER_DESCRIPTION: &str = "Lets the breakglass broker read the incident-response roles and write their revocation policies";

/// The actions that read a role and its inline policies.
pub const READ_ACTIONS: [&str; 3] = ["iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy"];

/// The actions that write a role's inline policies.
pub const WRITE_ACTIONS: [&str; 2] = ["iam:PutRolePolicy", "iam:DeleteRolePolicy"];

/// The revoker role's trust policy: the broker's principal only, by `aws:PrincipalArn` under
/// its account's root (the same shape as every other trust policy, see
/// [`super::trust`]). The broker assumes it without a SourceIdentity or session tags, so
/// neither `sts:SetSourceIdentity` nor `sts:TagSession` is allowed.
pub fn trust_policy(partition: &str, broker: &str) -> Value {
    let account = broker.split(':').nth(4).unwrap_or_default();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": REVOKER_TRUST_SID,
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
            "Action": "sts:AssumeRole",
            "Condition": { "ArnEquals": { "aws:PrincipalArn": broker } }
        }]
    })
}

/// The revoker role's permissions on `roles` (role ARNs); `None` when there is no role,
/// since IAM refuses a statement without a resource (and the revoker is then not needed).
pub fn permissions_policy(roles: &[String]) -> Option<Value> {
    if roles.is_empty() {
        return None;
    }
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadBrokeredRoles",
                "Effect": "Allow",
                "Action": READ_ACTIONS,
                "Resource": roles
            },
            {
                // No condition key names the inline policy: the revoker can write any
                // inline policy on these roles. See the module documentation.
                "Sid": "WriteRevocationPolicies",
                "Effect": "Allow",
                "Action": WRITE_ACTIONS,
                "Resource": roles
            }
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_iam::{
        ContextValue, Decision, PolicySet, PolicyType, Request, ResourcePolicyKind, parse_caller,
        parse_value,
    };

    const BROKER: &str = "arn:aws:iam::111111111111:role/breakglass-broker";
    const ANALYST: &str = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";

    /// What the policy engine decides for the revoker's session doing `action` on `resource`
    /// (with or without the ownership tag on it).
    fn decide(action: &str, resource: &str, tagged: bool) -> Decision {
        let policy = permissions_policy(&[ANALYST.to_owned()]).unwrap();
        let policy = parse_value(&policy, PolicyType::Identity).unwrap();
        let caller = parse_caller(
            "arn:aws:sts::222222222222:assumed-role/BreakglassRevoker/breakglass-broker",
            None,
        )
        .unwrap();
        let mut request = Request::new(caller, action, resource);
        request.insert_context(
            "aws:PrincipalArn",
            ContextValue::one("arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker"),
        );
        if tagged {
            request.insert_context(
                "aws:ResourceTag/breakglass:managed-by",
                ContextValue::one("breakglass"),
            );
        }
        request.derive_principal_keys();
        PolicySet::builder()
            .identity(&policy)
            .build()
            .evaluate(&request)
            .decision
    }

    #[test]
    fn the_revoker_writes_inline_policies_on_the_brokered_roles_only() {
        for action in WRITE_ACTIONS.iter().chain(&READ_ACTIONS) {
            assert_eq!(decide(action, ANALYST, true), Decision::Allow, "{action}");
        }
        let outside = [
            "arn:aws:iam::222222222222:role/incident-response/SecurityDeploy",
            "arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker",
            "arn:aws:iam::222222222222:role/app/SecurityAnalyst",
            "arn:aws:iam::333333333333:role/incident-response/SecurityAnalyst",
            "arn:aws:iam::222222222222:user/incident-response/alice-BREAK-GLASS",
        ];
        for resource in outside {
            for action in WRITE_ACTIONS.iter().chain(&READ_ACTIONS) {
                assert_eq!(
                    decide(action, resource, true),
                    Decision::ImplicitDeny,
                    "{action} on {resource}"
                );
            }
        }
        for action in [
            "iam:AttachRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",
            "iam:TagRole",
            "iam:PutUserPolicy",
            "sts:AssumeRole",
        ] {
            assert_eq!(
                decide(action, ANALYST, true),
                Decision::ImplicitDeny,
                "{action}"
            );
        }
        assert_eq!(
            decide(
                "iam:PutUserPolicy",
                "arn:aws:iam::222222222222:user/incident-response/alice-BREAK-GLASS",
                true
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn revocation_does_not_hang_on_a_tag_a_session_could_remove() {
        // A session that untagged its own role once made every revocation of it fail.
        for action in WRITE_ACTIONS.iter().chain(&READ_ACTIONS) {
            assert_eq!(decide(action, ANALYST, false), Decision::Allow, "{action}");
        }
    }

    #[test]
    fn the_revoker_has_no_action_on_the_guardrails() {
        let guardrails = "arn:aws:iam::222222222222:policy/breakglass/BreakglassGuardrails";
        for (action, resource) in [
            ("iam:DeletePolicy", guardrails),
            ("iam:CreatePolicyVersion", guardrails),
            ("iam:SetDefaultPolicyVersion", guardrails),
            ("iam:DeletePolicyVersion", guardrails),
            ("iam:DetachRolePolicy", ANALYST),
            ("iam:PutRolePermissionsBoundary", ANALYST),
            ("iam:DeleteRolePermissionsBoundary", ANALYST),
        ] {
            assert_eq!(
                decide(action, resource, true),
                Decision::ImplicitDeny,
                "{action} on {resource}"
            );
        }
    }

    #[test]
    fn only_the_broker_may_assume_the_revoker() {
        let trust = parse_value(&trust_policy("aws", BROKER), PolicyType::Trust).unwrap();
        let everything = parse_value(
            &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            PolicyType::Identity,
        )
        .unwrap();
        // The caller's own account allows it everything: only the trust policy decides.
        let assume = |principal: &str, action: &str| {
            let session = principal
                .replace(":iam::", ":sts::")
                .replace(":role/", ":assumed-role/");
            let caller_arn = if principal.contains(":role/") {
                format!("{session}/s")
            } else {
                principal.to_owned()
            };
            let caller = parse_caller(&caller_arn, None).unwrap();
            let mut request = Request::new(
                caller,
                action,
                "arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker",
            )
            .with_resource_account("222222222222");
            request.insert_context("aws:PrincipalArn", ContextValue::one(principal));
            request.derive_principal_keys();
            PolicySet::builder()
                .identity(&everything)
                .resource(&trust, ResourcePolicyKind::Trust)
                .build()
                .evaluate(&request)
                .decision
        };
        assert_eq!(assume(BROKER, "sts:AssumeRole"), Decision::Allow);
        assert_ne!(
            assume(
                "arn:aws:iam::111111111111:role/breakglass-deployer",
                "sts:AssumeRole"
            ),
            Decision::Allow
        );
        assert_ne!(
            assume(
                "arn:aws:iam::111111111111:user/incident-response/alice-BREAK-GLASS",
                "sts:AssumeRole"
            ),
            Decision::Allow
        );
        assert_ne!(assume(BROKER, "sts:TagSession"), Decision::Allow);
        assert_ne!(assume(BROKER, "sts:SetSourceIdentity"), Decision::Allow);
    }

    #[test]
    fn no_role_needs_no_policy() {
        assert!(permissions_policy(&[]).is_none());
    }
}

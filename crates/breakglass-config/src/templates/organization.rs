//! The organisation's revoked-responders Service Control Policy: what `plan` renders and
//! `apply` creates in the management account, and the broker rewrites at every revocation.
//!
//! A role's `BreakglassRevocations` deny matches `aws:userid`, so it misses a session that
//! assumed another role before it was revoked. Every brokered session carries the
//! responder's username as `SourceIdentity`, which persists across role chaining and cannot
//! be changed (IAM User Guide, "Monitor and control actions taken with assumed roles"). The
//! SCP denies everything to the revoked responders' source identities in every account it
//! is attached under. Its content belongs to the broker: provisioning creates it listing no
//! responder and never writes the content again (a rerun must not revive anyone the broker
//! revoked), like the runtime-managed inline policies.

use serde_json::{Value, json};

use super::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

pub use breakglass_core::revocation::ORGANIZATION_POLICY as POLICY_NAME;

/// The policy type, as Organizations names it.
pub const POLICY_TYPE: &str = "SERVICE_CONTROL_POLICY";

/// The policy's description.
pub const DESCRIPTION: &str = "breakglass: denies every action to the sessions of revoked responders (by aws:SourceIdentity); content kept by the broker";

/// The content the policy is created with: no responder revoked yet (it lists a value no
/// source identity can take, so it denies nothing).
pub fn initial_content() -> Value {
    breakglass_core::revocation::organization_deny_document([])
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

/// What the broker's revoker role in the management account may do to the policy: find it
/// by name (`ListPolicies` takes no resource), read it and rewrite its content. Only on a
/// service control policy of that account carrying the ownership mark, which only the
/// management account's principals can set and every brokered session is denied changing.
pub fn revoker_statements(partition: &str, account: &str) -> Vec<Value> {
    vec![
        json!({
            "Sid": "FindRevokedRespondersPolicy",
            "Effect": "Allow",
            "Action": "organizations:ListPolicies",
            "Resource": "*"
        }),
        json!({
            "Sid": "RewriteRevokedRespondersPolicy",
            "Effect": "Allow",
            "Action": ["organizations:DescribePolicy", "organizations:UpdatePolicy"],
            "Resource": format!(
                "arn:{partition}:organizations::{account}:policy/o-*/service_control_policy/p-*"
            ),
            "Condition": { "StringEquals": { format!("aws:ResourceTag/{MANAGED_BY_TAG}"): MANAGED_BY_VALUE } }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_accounts_revoker_may_rewrite_only_the_marked_scp() {
        use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request};
        let policy = json!({ "Version": "2012-10-17", "Statement": revoker_statements("aws", "999999999999") });
        let policy = breakglass_iam::parse_value(&policy, PolicyType::Identity).unwrap();
        let decide = |action: &str, resource: &str, marked: bool| {
            let caller = breakglass_iam::parse_caller(
                "arn:aws:sts::999999999999:assumed-role/BreakglassRevoker/breakglass-broker",
                None,
            )
            .unwrap();
            let mut request = Request::new(caller, action, resource);
            if marked {
                request.insert_context(
                    &format!("aws:ResourceTag/{MANAGED_BY_TAG}"),
                    ContextValue::one(MANAGED_BY_VALUE),
                );
            }
            request.derive_principal_keys();
            PolicySet::builder()
                .identity(&policy)
                .build()
                .evaluate(&request)
                .decision
        };
        let scp = "arn:aws:organizations::999999999999:policy/o-abcdefghij/service_control_policy/p-12345678";
        assert_eq!(
            decide("organizations:UpdatePolicy", scp, true),
            Decision::Allow
        );
        assert_eq!(
            decide("organizations:DescribePolicy", scp, true),
            Decision::Allow
        );
        assert_eq!(
            decide("organizations:ListPolicies", "*", false),
            Decision::Allow
        );
        // Another SCP of the organisation (FullAWSAccess, a guardrail SCP): no.
        assert_eq!(
            decide("organizations:UpdatePolicy", scp, false),
            Decision::ImplicitDeny
        );
        for action in [
            "organizations:DetachPolicy",
            "organizations:DeletePolicy",
            "organizations:TagResource",
            "organizations:UntagResource",
            "organizations:CreatePolicy",
        ] {
            assert_eq!(
                decide(action, scp, true),
                Decision::ImplicitDeny,
                "{action}"
            );
        }
    }

    #[test]
    fn the_initial_content_is_a_valid_scp_that_denies_nobody() {
        let content = initial_content();
        let policy =
            breakglass_iam::parse_value(&content, breakglass_iam::PolicyType::Scp).unwrap();
        assert_eq!(policy.statements.len(), 1);
        // It names only a source identity no session can carry (`:` is not allowed in one).
        assert_eq!(
            content["Statement"][0]["Condition"]["StringEquals"]["aws:SourceIdentity"],
            serde_json::json!([breakglass_core::revocation::NO_REVOKED_RESPONDER])
        );
        assert!(breakglass_core::revocation::NO_REVOKED_RESPONDER.contains(':'));
    }
}

//! The break-glass IAM users' policies: no permission but assuming the roles that trust them
//! (with MFA), never an access key, and just enough self-service to set the first password
//! and enrol an MFA device — without those two a console-only user with a reset-required
//! password and MFA-only role access could never sign in. Each responder's user is named by
//! [`break_glass_user_name`].

use breakglass_core::model::Username;
use serde_json::{Value, json};

use super::BREAK_GLASS_USER_SUFFIX;

/// The name of the inline policy that denies access keys.
pub const DENY_ACCESS_KEYS: &str = "DenyAccessKeys";
/// The name of the inline policy that allows assuming the break-glass roles.
pub const ASSUME_ROLES: &str = "AssumeBreakGlassRoles";
/// The name of the inline policy for first sign-in (password change, MFA enrolment).
pub const SELF_SERVICE: &str = "FirstSignInSelfService";

/// The inline policies of a break-glass user, by name. `role_arns` are the roles (in every
/// account) that trust break-glass users.
pub fn user_policies(partition: &str, path: &str, role_arns: &[String]) -> Vec<(String, Value)> {
    let own_user = format!("arn:{partition}:iam::*:user{path}${{aws:username}}");
    let own_mfa = format!("arn:{partition}:iam::*:mfa/${{aws:username}}");
    let mut policies = vec![(
        DENY_ACCESS_KEYS.to_owned(),
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "ConsoleOnly",
                "Effect": "Deny",
                "Action": ["iam:CreateAccessKey", "iam:UpdateAccessKey"],
                "Resource": "*"
            }]
        }),
    )];
    if !role_arns.is_empty() {
        policies.push((
            ASSUME_ROLES.to_owned(),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "AssumeBreakGlassRolesWithMfa",
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": role_arns,
                    "Condition": { "Bool": { "aws:MultiFactorAuthPresent": "true" } }
                }]
            }),
        ));
    }
    policies.push((
        SELF_SERVICE.to_owned(),
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnPasswordAndMfa",
                    "Effect": "Allow",
                    "Action": [
                        "iam:ChangePassword",
                        "iam:GetUser",
                        "iam:EnableMFADevice",
                        "iam:ListMFADevices",
                        "iam:ResyncMFADevice"
                    ],
                    "Resource": own_user
                },
                {
                    "Sid": "OwnVirtualMfaDevice",
                    "Effect": "Allow",
                    "Action": "iam:CreateVirtualMFADevice",
                    "Resource": own_mfa
                },
                {
                    "Sid": "PasswordRules",
                    "Effect": "Allow",
                    "Action": "iam:GetAccountPasswordPolicy",
                    "Resource": "*"
                }
            ]
        }),
    ));
    policies
}

/// The name of `username`'s break-glass IAM user (`alice-BREAK-GLASS`).
pub fn break_glass_user_name(username: &Username) -> String {
    format!("{username}{BREAK_GLASS_USER_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_break_glass_user_is_named_after_its_responder() {
        let alice = Username::new("alice").unwrap();
        assert_eq!(break_glass_user_name(&alice), "alice-BREAK-GLASS");
    }

    #[test]
    fn users_can_never_hold_access_keys() {
        let policies = user_policies("aws", "/incident-response/", &[]);
        let (name, deny) = &policies[0];
        assert_eq!(name, DENY_ACCESS_KEYS);
        assert_eq!(deny["Statement"][0]["Effect"], "Deny");
        assert_eq!(
            deny["Statement"][0]["Action"],
            json!(["iam:CreateAccessKey", "iam:UpdateAccessKey"])
        );
    }

    #[test]
    fn role_assumption_requires_mfa_and_names_each_role() {
        let roles =
            vec!["arn:aws:iam::222222222222:role/incident-response/SecurityBreakGlass".to_owned()];
        let policies = user_policies("aws", "/incident-response/", &roles);
        let (_, assume) = policies.iter().find(|(n, _)| n == ASSUME_ROLES).unwrap();
        assert_eq!(assume["Statement"][0]["Resource"], json!(roles));
        assert_eq!(
            assume["Statement"][0]["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
            "true"
        );
    }

    #[test]
    fn self_service_is_limited_to_the_users_own_identity() {
        let policies = user_policies("aws", "/incident-response/", &[]);
        let (_, own) = policies.iter().find(|(n, _)| n == SELF_SERVICE).unwrap();
        assert_eq!(
            own["Statement"][0]["Resource"],
            "arn:aws:iam::*:user/incident-response/${aws:username}"
        );
    }
}

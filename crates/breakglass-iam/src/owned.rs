//! Resources AWS owns, which no customer policy can change: AWS managed policies
//! (`arn:aws:iam::aws:policy/...`), the roles IAM Identity Center keeps under
//! `role/aws-reserved/sso.amazonaws.com/`, and the `alias/aws/*` aliases of AWS managed
//! KMS keys. The write actions on them fail whatever the policies say, so evaluation denies
//! them before looking at any policy.

use crate::arn::Arn;

/// Verbs of the IAM and KMS actions that change a policy, role or alias.
const WRITE_VERBS: &[&str] = &[
    "create", "delete", "update", "put", "attach", "detach", "tag", "untag", "set", "add",
    "remove", "upload",
];

/// Whether `action_lower` (lower-cased `service:action`) changes a resource AWS owns.
pub(crate) fn is_aws_owned_write(action_lower: &str, resource: &str) -> bool {
    let Some((service, name)) = action_lower.split_once(':') else {
        return false;
    };
    // Cheap tests first: this runs on every evaluation.
    if !matches!(service, "iam" | "kms") || !WRITE_VERBS.iter().any(|v| name.starts_with(v)) {
        return false;
    }
    let Some(arn) = Arn::parse(resource) else {
        return false;
    };
    if service != arn.service {
        return false;
    }
    match arn.service {
        "iam" => {
            (arn.account == "aws" && arn.resource.starts_with("policy/"))
                || arn
                    .resource
                    .starts_with("role/aws-reserved/sso.amazonaws.com/")
        }
        "kms" => arn.resource.starts_with("alias/aws/"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_writes_on_aws_owned_resources() {
        let managed = "arn:aws:iam::aws:policy/AdministratorAccess";
        assert!(is_aws_owned_write("iam:createpolicyversion", managed));
        assert!(!is_aws_owned_write("iam:getpolicy", managed));
        assert!(!is_aws_owned_write(
            "iam:createpolicyversion",
            "arn:aws:iam::111122223333:policy/Mine"
        ));
        let sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef";
        assert!(is_aws_owned_write("iam:attachrolepolicy", sso));
        assert!(!is_aws_owned_write("sts:assumerole", sso));
        let alias = "arn:aws:kms:us-east-1:111122223333:alias/aws/s3";
        assert!(is_aws_owned_write("kms:deletealias", alias));
        assert!(!is_aws_owned_write(
            "kms:deletealias",
            "arn:aws:kms:us-east-1:111122223333:alias/evidence"
        ));
    }
}

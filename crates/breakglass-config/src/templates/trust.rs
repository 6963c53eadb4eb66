//! Role trust policies, done right.
//!
//! Every principal is named by `aws:PrincipalArn` under its account's root principal rather
//! than in `Principal` itself: IAM rejects a trust policy naming a principal that does not
//! exist yet, and silently rewrites it to an unusable unique id when that principal is
//! recreated. The seed's `aws:userid` `*:*-BREAK-GLASS` condition is not used: for IAM users
//! `aws:userid` is the unique id (`AIDA...`), never the user name, so it matches nothing.

use serde_json::{Value, json};

use breakglass_core::model::AccountId;

/// Who a role trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trust {
    /// The broker's principal, which must set a SourceIdentity and may tag the session.
    Broker,
    /// The break-glass IAM users of the security account, with MFA under an hour old.
    BreakGlassUsers,
    /// The principals that run `breakglass apply`.
    Deployers,
}

impl Trust {
    /// The name the config uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::BreakGlassUsers => "break-glass-users",
            Self::Deployers => "deployers",
        }
    }
}

/// The oldest MFA authentication (seconds) accepted for direct break-glass use.
pub const MAX_MFA_AGE_SECONDS: u32 = 3600;

/// The principals a trust policy can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPrincipals<'a> {
    /// The AWS partition.
    pub partition: &'a str,
    /// The broker's principal ARN.
    pub broker: &'a str,
    /// The security account, which holds the break-glass users.
    pub security_account: &'a AccountId,
    /// The ARNs of the break-glass users.
    pub break_glass_users: &'a [String],
    /// The ARNs of the deploy principals.
    pub deployers: &'a [String],
}

/// The account id inside an IAM/STS ARN (`arn:aws:iam::111122223333:role/x`).
fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

fn root(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

/// `root` principals for every distinct account among `arns`.
fn roots(partition: &str, arns: &[String]) -> Value {
    let mut accounts: Vec<&str> = arns.iter().map(|a| account_of(a)).collect();
    accounts.sort_unstable();
    accounts.dedup();
    match accounts.as_slice() {
        [one] => Value::String(root(partition, one)),
        many => Value::Array(
            many.iter()
                .map(|a| Value::String(root(partition, a)))
                .collect(),
        ),
    }
}

fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => Value::String(one.clone()),
        many => json!(many),
    }
}

/// The trust policy for a role trusting `trust`. A kind with no principal to name (no
/// break-glass users, no deployers) contributes no statement; `None` when nothing is left,
/// since IAM refuses a trust policy without statements.
pub fn trust_policy(trust: &[Trust], principals: &TrustPrincipals<'_>) -> Option<Value> {
    let p = principals.partition;
    let mut statements = Vec::new();
    let mut kinds = trust.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        match kind {
            Trust::Broker => statements.push(json!({
                "Sid": "BrokerWithSourceIdentity",
                "Effect": "Allow",
                "Principal": { "AWS": root(p, account_of(principals.broker)) },
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
                "Condition": {
                    "ArnEquals": { "aws:PrincipalArn": principals.broker },
                    "Null": { "sts:SourceIdentity": "false" }
                }
            })),
            Trust::BreakGlassUsers if !principals.break_glass_users.is_empty() => {
                statements.push(json!({
                    "Sid": "BreakGlassUsersWithRecentMfa",
                    "Effect": "Allow",
                    "Principal": { "AWS": root(p, principals.security_account.as_str()) },
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "ArnEquals": {
                            "aws:PrincipalArn": one_or_many(principals.break_glass_users)
                        },
                        "Bool": { "aws:MultiFactorAuthPresent": "true" },
                        "NumericLessThan": {
                            "aws:MultiFactorAuthAge": MAX_MFA_AGE_SECONDS.to_string()
                        }
                    }
                }));
            }
            Trust::Deployers if !principals.deployers.is_empty() => statements.push(json!({
                "Sid": "Deployers",
                "Effect": "Allow",
                "Principal": { "AWS": roots(p, principals.deployers) },
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnEquals": { "aws:PrincipalArn": one_or_many(principals.deployers) }
                }
            })),
            Trust::BreakGlassUsers | Trust::Deployers => {}
        }
    }
    if statements.is_empty() {
        return None;
    }
    Some(json!({ "Version": "2012-10-17", "Statement": statements }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principals<'a>(
        security: &'a AccountId,
        users: &'a [String],
        deployers: &'a [String],
    ) -> TrustPrincipals<'a> {
        TrustPrincipals {
            partition: "aws",
            broker: "arn:aws:iam::111111111111:role/breakglass-broker",
            security_account: security,
            break_glass_users: users,
            deployers,
        }
    }

    #[test]
    fn break_glass_users_need_fresh_mfa_and_are_named_by_principal_arn() {
        let security = AccountId::new("111111111111").unwrap();
        let users =
            vec!["arn:aws:iam::111111111111:user/incident-response/alice-BREAK-GLASS".to_owned()];
        let doc = trust_policy(
            &[Trust::BreakGlassUsers, Trust::Broker],
            &principals(&security, &users, &[]),
        )
        .unwrap();
        let direct = &doc["Statement"][1];
        assert_eq!(direct["Principal"]["AWS"], "arn:aws:iam::111111111111:root");
        assert_eq!(
            direct["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            users[0].as_str()
        );
        assert_eq!(
            direct["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
            "true"
        );
        assert_eq!(
            direct["Condition"]["NumericLessThan"]["aws:MultiFactorAuthAge"],
            "3600"
        );
        assert!(!doc.to_string().contains("aws:userid"));
    }

    #[test]
    fn the_broker_must_set_a_source_identity() {
        let security = AccountId::new("111111111111").unwrap();
        let doc = trust_policy(&[Trust::Broker], &principals(&security, &[], &[])).unwrap();
        let broker = &doc["Statement"][0];
        assert_eq!(
            broker["Action"],
            json!(["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])
        );
        assert_eq!(broker["Condition"]["Null"]["sts:SourceIdentity"], "false");
    }

    #[test]
    fn a_policy_with_nobody_to_trust_is_not_rendered() {
        let security = AccountId::new("111111111111").unwrap();
        assert!(
            trust_policy(
                &[Trust::BreakGlassUsers, Trust::Deployers],
                &principals(&security, &[], &[])
            )
            .is_none()
        );
    }

    #[test]
    fn deployers_from_several_accounts_get_one_root_each() {
        let security = AccountId::new("111111111111").unwrap();
        let deployers = vec![
            "arn:aws:iam::111111111111:role/ci".to_owned(),
            "arn:aws:iam::333333333333:role/ci".to_owned(),
            "arn:aws:iam::111111111111:user/ops".to_owned(),
        ];
        let doc =
            trust_policy(&[Trust::Deployers], &principals(&security, &[], &deployers)).unwrap();
        assert_eq!(
            doc["Statement"][0]["Principal"]["AWS"],
            json!([
                "arn:aws:iam::111111111111:root",
                "arn:aws:iam::333333333333:root"
            ])
        );
    }
}

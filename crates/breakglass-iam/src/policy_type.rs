//! The kinds of policy AWS evaluates, and the structural rules that differ between them
//! (which elements a statement must or must not have).

use std::fmt;
use std::str::FromStr;

/// Where a policy is used. The same JSON grammar serves all of them, but each kind allows
/// different elements and has a different size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    /// Attached to an IAM user, group or role (managed or inline).
    Identity,
    /// A role's trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// Passed to `AssumeRole`/`GetFederationToken` to narrow a session.
    Session,
    /// A permissions boundary (a managed policy used as a ceiling).
    Boundary,
    /// An AWS Organizations service control policy.
    Scp,
    /// An AWS Organizations resource control policy.
    Rcp,
    /// A resource-based policy (S3 bucket policy, KMS key policy, SQS queue policy, ...).
    Resource,
}

impl PolicyType {
    /// Every type, in a stable order.
    pub const ALL: [PolicyType; 7] = [
        PolicyType::Identity,
        PolicyType::Trust,
        PolicyType::Session,
        PolicyType::Boundary,
        PolicyType::Scp,
        PolicyType::Rcp,
        PolicyType::Resource,
    ];

    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity",
            PolicyType::Trust => "trust",
            PolicyType::Session => "session",
            PolicyType::Boundary => "boundary",
            PolicyType::Scp => "scp",
            PolicyType::Rcp => "rcp",
            PolicyType::Resource => "resource",
        }
    }

    /// Whether statements must name a `Principal`/`NotPrincipal` (true), must not (false).
    pub(crate) fn requires_principal(self) -> bool {
        matches!(
            self,
            PolicyType::Trust | PolicyType::Resource | PolicyType::Rcp
        )
    }

    /// Whether statements must have `Resource`/`NotResource`.
    pub(crate) fn requires_resource(self) -> bool {
        matches!(
            self,
            PolicyType::Identity | PolicyType::Session | PolicyType::Boundary | PolicyType::Rcp
        )
    }

    /// Whether statements may have `Resource`/`NotResource` at all (trust policies may not).
    pub(crate) fn allows_resource(self) -> bool {
        self != PolicyType::Trust
    }

    /// Whether IAM itself stores this policy, so IAM's stricter rules apply (alphanumeric
    /// `Sid`, unique `Sid`s, the IAM character set).
    pub fn is_iam_stored(self) -> bool {
        matches!(
            self,
            PolicyType::Identity | PolicyType::Trust | PolicyType::Boundary | PolicyType::Session
        )
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown policy type `{0}`: expected identity, trust, session, boundary, scp, rcp or resource"
)]
pub struct UnknownPolicyType(pub String);

impl FromStr for PolicyType {
    type Err = UnknownPolicyType;

    fn from_str(s: &str) -> Result<PolicyType, UnknownPolicyType> {
        PolicyType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPolicyType(s.to_owned()))
    }
}

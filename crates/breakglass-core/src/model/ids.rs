//! Newtype ids. Each constructor checks the charset and length AWS or the domain imposes, so a
//! value that reaches STS or the store is already known to be acceptable there.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::aws_limits::{
    self, MAX_ROLE_SESSION_NAME, MAX_SOURCE_IDENTITY, MIN_ROLE_SESSION_NAME, MIN_SOURCE_IDENTITY,
    is_sts_name_char,
};

/// Why a string is not a valid id of some kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{value}`: {problem}")]
pub struct IdError {
    kind: &'static str,
    value: String,
    problem: &'static str,
}

impl IdError {
    fn new(kind: &'static str, value: &str, problem: &'static str) -> Self {
        // Ids come from users; keep an absurd one from flooding a log line.
        let value: String = value.chars().take(80).collect();
        Self {
            kind,
            value,
            problem,
        }
    }

    /// What kind of id was being parsed (e.g. "account id").
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// What is wrong with the value, in a few words.
    pub fn problem(&self) -> &'static str {
        self.problem
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let check: fn(&str) -> Result<(), &'static str> = $check;
                match check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(problem) => Err(IdError::new($kind, &value, problem)),
                }
            }

            /// Wraps a value this crate built and knows to be valid (a constant's format).
            #[allow(dead_code, reason = "not every id kind is built from a constant")]
            pub(crate) fn from_trusted(value: String) -> Self {
                debug_assert!(Self::new(value.clone()).is_ok(), "{value}");
                Self(value)
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn length(value: &str, min: usize, max: usize) -> Result<(), &'static str> {
    let n = value.chars().count();
    if n < min {
        Err("too short")
    } else if n > max {
        Err("too long")
    } else {
        Ok(())
    }
}

string_id!(
    /// A 12-digit AWS account id.
    AccountId,
    "account id",
    |v| {
        if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err("an AWS account id is exactly 12 digits")
        }
    }
);

string_id!(
    /// A responder's username in the broker. It becomes the STS `SourceIdentity`, so it
    /// follows that charset (`[\w+=,.@-]`, 2–64 characters, not starting with `aws:`).
    Username,
    "username",
    |v| {
        length(v, MIN_SOURCE_IDENTITY, MAX_SOURCE_IDENTITY)?;
        if !v.chars().all(is_sts_name_char) {
            return Err("allowed characters are letters, digits and _+=,.@-");
        }
        if aws_limits::has_reserved_prefix(v) {
            return Err("must not start with `aws:`");
        }
        Ok(())
    }
);

string_id!(
    /// A group of responders or approvers (lowercase letters, digits, `-` and `_`).
    GroupName,
    "group name",
    |v| {
        length(v, 1, 64)?;
        if v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            Ok(())
        } else {
            Err("allowed characters are lowercase letters, digits, `-` and `_`")
        }
    }
);

string_id!(
    /// An IAM role name (`[\w+=,.@-]`, 1–64 characters).
    RoleName,
    "role name",
    |v| {
        length(v, 1, 64)?;
        if v.chars().all(is_sts_name_char) {
            Ok(())
        } else {
            Err("allowed characters are letters, digits and _+=,.@-")
        }
    }
);

string_id!(
    /// A playbook's id in the config (lowercase letters, digits, `-` and `_`).
    PlaybookId,
    "playbook id",
    |v| {
        length(v, 1, 64)?;
        if v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            Ok(())
        } else {
            Err("allowed characters are lowercase letters, digits, `-` and `_`")
        }
    }
);

string_id!(
    /// An incident's id as the responder's ticketing system names it (e.g. `INC-2024-001`).
    /// It becomes a session tag value, so it follows the tag charset minus spaces.
    IncidentId,
    "incident id",
    |v| {
        length(v, 1, 128)?;
        if v.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')) {
            Ok(())
        } else {
            Err("allowed characters are letters, digits and _.:/=+-@")
        }
    }
);

string_id!(
    /// A request's id, minted by the domain's id generator.
    RequestId,
    "request id",
    |v| {
        length(v, 2, 64)?;
        if v.chars().all(is_sts_name_char) { Ok(()) } else { Err("allowed characters are letters, digits and _+=,.@-") }
    }
);

string_id!(
    /// A grant's id. It is the STS `RoleSessionName` of every session minted for the grant,
    /// so it follows that charset (`[\w+=,.@-]`, 2–64 characters).
    GrantId,
    "grant id",
    |v| {
        length(v, MIN_ROLE_SESSION_NAME, MAX_ROLE_SESSION_NAME)?;
        if v.chars().all(is_sts_name_char) { Ok(()) } else { Err("allowed characters are letters, digits and _+=,.@-") }
    }
);

/// An IAM role ARN, `arn:<partition>:iam::<account>:role/<path><name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct RoleArn(String);

impl RoleArn {
    /// Parses and validates a role ARN.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        Self::split(&value).map_err(|problem| IdError::new("role ARN", &value, problem))?;
        Ok(Self(value))
    }

    /// Builds the ARN of `name` under `path` (which starts and ends with `/`) in `account`.
    pub fn from_parts(
        partition: &str,
        account: &AccountId,
        path: &str,
        name: &RoleName,
    ) -> Result<Self, IdError> {
        Self::new(format!("arn:{partition}:iam::{account}:role{path}{name}"))
    }

    fn split(value: &str) -> Result<(&str, &str, &str), &'static str> {
        let mut parts = value.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err("expected `arn:<partition>:iam::<account>:role/<name>`");
        };
        if !matches!(
            partition,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        ) {
            return Err("unknown partition");
        }
        AccountId::new(account).map_err(|e| e.problem())?;
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            return Err("the resource part must start with `role/`");
        };
        let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
        RoleName::new(name).map_err(|e| e.problem())?;
        Ok((partition, account, name))
    }

    /// The account that owns the role.
    pub fn account(&self) -> AccountId {
        match Self::split(&self.0) {
            Ok((_, account, _)) => AccountId(account.to_owned()),
            Err(_) => AccountId(String::new()),
        }
    }

    /// The role's name, without its path.
    pub fn name(&self) -> RoleName {
        match Self::split(&self.0) {
            Ok((_, _, name)) => RoleName(name.to_owned()),
            Err(_) => RoleName(String::new()),
        }
    }

    /// The ARN as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoleArn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::new("111122223333").is_ok());
        let err = AccountId::new("11112222333").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid account id `11112222333`: an AWS account id is exactly 12 digits"
        );
        assert!(AccountId::new("11112222333a").is_err());
    }

    #[test]
    fn usernames_follow_the_source_identity_rules() {
        assert!(Username::new("alice.smith@corp").is_ok());
        assert!(Username::new("a").is_err());
        assert!(Username::new("aws:alice").is_err());
        assert!(Username::new("AWS:alice").is_err());
        assert!(Username::new("alice smith").is_err());
        assert!(Username::new("x".repeat(65)).is_err());
    }

    #[test]
    fn role_arns_are_split_into_account_and_name() {
        let arn = RoleArn::new("arn:aws:iam::111122223333:role/incident-response/SecurityAnalyst")
            .unwrap();
        assert_eq!(arn.account().as_str(), "111122223333");
        assert_eq!(arn.name().as_str(), "SecurityAnalyst");
        assert!(RoleArn::new("arn:aws:iam::111122223333:user/alice").is_err());
        assert!(RoleArn::new("arn:aws:sts::111122223333:role/x").is_err());
        assert!(RoleArn::new("arn:aws:iam::1111:role/x").is_err());
        let built =
            RoleArn::from_parts("aws", &arn.account(), "/incident-response/", &arn.name()).unwrap();
        assert_eq!(built, arn);
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<IncidentId, _> = serde_json::from_str("\"INC-2024-001\"");
        assert!(ok.is_ok());
        let bad: Result<IncidentId, _> = serde_json::from_str("\"INC 2024\"");
        assert!(bad.unwrap_err().to_string().contains("incident id"));
    }
}

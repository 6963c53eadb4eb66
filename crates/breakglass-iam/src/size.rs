//! Policy sizes as AWS counts them, and the limits for each place a policy goes.
//!
//! IAM does not count whitespace (outside strings) for managed, inline and trust policies;
//! STS counts the session-policy plaintext as passed; Organizations counts every character
//! of an SCP or RCP.

use std::fmt;

use crate::policy_type::PolicyType;

/// A size limit AWS enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `AssumeRole`'s `Policy`: 2,048 characters of plaintext.
    SessionPolicy,
    /// A customer managed policy (also a permissions boundary): 6,144, whitespace not counted.
    ManagedPolicy,
    /// All inline policies of one role together: 10,240, whitespace not counted.
    RoleInline,
    /// All inline policies of one user together: 2,048, whitespace not counted.
    UserInline,
    /// All inline policies of one group together: 5,120, whitespace not counted.
    GroupInline,
    /// A role trust policy: 2,048 by default, whitespace not counted.
    TrustPolicy,
    /// An SCP: 5,120, every character counted.
    Scp,
    /// An RCP: 5,120, every character counted.
    Rcp,
}

impl Limit {
    /// Every limit, in a stable order.
    pub const ALL: [Limit; 8] = [
        Limit::SessionPolicy,
        Limit::ManagedPolicy,
        Limit::RoleInline,
        Limit::UserInline,
        Limit::GroupInline,
        Limit::TrustPolicy,
        Limit::Scp,
        Limit::Rcp,
    ];

    /// The maximum number of characters.
    pub const fn max(self) -> usize {
        match self {
            Limit::SessionPolicy | Limit::UserInline | Limit::TrustPolicy => 2_048,
            Limit::ManagedPolicy => 6_144,
            Limit::RoleInline => 10_240,
            Limit::GroupInline | Limit::Scp | Limit::Rcp => 5_120,
        }
    }

    /// How AWS counts against this limit.
    pub fn counting(self) -> Counting {
        match self {
            Limit::SessionPolicy | Limit::Scp | Limit::Rcp => Counting::AllCharacters,
            _ => Counting::WithoutWhitespace,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Limit::SessionPolicy => "session",
            Limit::ManagedPolicy => "managed",
            Limit::RoleInline => "role-inline",
            Limit::UserInline => "user-inline",
            Limit::GroupInline => "group-inline",
            Limit::TrustPolicy => "trust",
            Limit::Scp => "scp",
            Limit::Rcp => "rcp",
        }
    }

    /// A description for messages.
    pub fn description(self) -> &'static str {
        match self {
            Limit::SessionPolicy => "session policy limit",
            Limit::ManagedPolicy => "managed policy limit",
            Limit::RoleInline => "limit on a role's inline policies together",
            Limit::UserInline => "limit on a user's inline policies together",
            Limit::GroupInline => "limit on a group's inline policies together",
            Limit::TrustPolicy => "role trust policy limit",
            Limit::Scp => "SCP limit",
            Limit::Rcp => "RCP limit",
        }
    }

    /// The limit for a policy of type `ty` on its own, if AWS sets one for the type
    /// (resource-based policies have per-service limits).
    pub fn for_type(ty: PolicyType) -> Option<Limit> {
        match ty {
            PolicyType::Identity | PolicyType::Boundary => Some(Limit::ManagedPolicy),
            PolicyType::Trust => Some(Limit::TrustPolicy),
            PolicyType::Session => Some(Limit::SessionPolicy),
            PolicyType::Scp => Some(Limit::Scp),
            PolicyType::Rcp => Some(Limit::Rcp),
            PolicyType::Resource => None,
        }
    }
}

impl std::str::FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Limit, String> {
        Limit::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| format!("unknown size limit `{s}`: expected session, managed, role-inline, user-inline, group-inline, trust, scp or rcp"))
    }
}

/// How characters are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counting {
    /// Every character of the text as given.
    AllCharacters,
    /// Whitespace outside JSON strings is not counted.
    WithoutWhitespace,
}

/// The size of `text` counted the given way, in characters.
pub fn count(text: &str, counting: Counting) -> usize {
    match counting {
        Counting::AllCharacters => text.chars().count(),
        Counting::WithoutWhitespace => {
            let mut n = 0;
            let mut in_string = false;
            let mut escaped = false;
            for c in text.chars() {
                if in_string {
                    n += 1;
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_string = false;
                    }
                } else if c == '"' {
                    in_string = true;
                    n += 1;
                } else if !c.is_whitespace() {
                    n += 1;
                }
            }
            n
        }
    }
}

/// A policy (or group of policies) over its limit. Names the limit, the size and the
/// policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{policy} is {size} characters, over the {description} of {max} characters ({how})", description = limit.description(), max = limit.max(), how = counting_note(limit.counting()))]
pub struct TooLarge {
    /// What was measured (a file name, `3 inline policies of role IR`, ...).
    pub policy: String,
    /// The measured size.
    pub size: usize,
    /// The limit exceeded.
    pub limit: Limit,
}

fn counting_note(c: Counting) -> &'static str {
    match c {
        Counting::AllCharacters => "every character counts",
        Counting::WithoutWhitespace => "whitespace outside strings not counted",
    }
}

/// A size within its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// The measured size.
    pub size: usize,
    /// The limit it was measured against.
    pub limit: Limit,
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} characters ({})",
            self.size,
            self.limit.max(),
            counting_note(self.limit.counting())
        )
    }
}

/// Checks one policy's text against `limit`. `name` identifies it in the error.
pub fn check(name: &str, text: &str, limit: Limit) -> Result<Size, TooLarge> {
    check_total(name, std::iter::once(text), limit)
}

/// Checks the texts of several policies that share one limit (a role's inline policies).
pub fn check_total<'a>(
    name: &str,
    texts: impl IntoIterator<Item = &'a str>,
    limit: Limit,
) -> Result<Size, TooLarge> {
    let size = texts.into_iter().map(|t| count(t, limit.counting())).sum();
    if size > limit.max() {
        Err(TooLarge {
            policy: name.to_owned(),
            size,
            limit,
        })
    } else {
        Ok(Size { size, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_inside_strings_counts() {
        assert_eq!(
            count("{ \"a b\" : [ 1 ] }", Counting::WithoutWhitespace),
            11
        );
        assert_eq!(count("{ \"a\\\" b\" }", Counting::WithoutWhitespace), 9);
        assert_eq!(count("{ \"a b\" }", Counting::AllCharacters), 9);
    }

    #[test]
    fn error_names_limit_size_and_policy() {
        let text = format!("{{\"x\":\"{}\"}}", "a".repeat(3000));
        let err = check("session policy `containment`", &text, Limit::SessionPolicy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "session policy `containment` is 3008 characters, over the session policy limit of 2048 characters (every character counts)"
        );
    }
}

//! Condition operators: the names IAM accepts, what family each belongs to, and how
//! `ForAllValues:`/`ForAnyValue:` and `...IfExists` modify them.

use std::fmt;

/// The base operator, without set qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

/// The kind of value an operator compares; decides how policy values are parsed and which
/// condition key types it suits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl Family {
    /// A short name used in messages ("a Date operator").
    pub fn name(self) -> &'static str {
        match self {
            Family::String => "String",
            Family::Numeric => "Numeric",
            Family::Date => "Date",
            Family::Bool => "Bool",
            Family::Binary => "Binary",
            Family::Ip => "IP address",
            Family::Arn => "ARN",
            Family::Null => "Null",
        }
    }
}

const ALL: &[(BaseOperator, &str)] = &[
    (BaseOperator::StringEquals, "StringEquals"),
    (BaseOperator::StringNotEquals, "StringNotEquals"),
    (
        BaseOperator::StringEqualsIgnoreCase,
        "StringEqualsIgnoreCase",
    ),
    (
        BaseOperator::StringNotEqualsIgnoreCase,
        "StringNotEqualsIgnoreCase",
    ),
    (BaseOperator::StringLike, "StringLike"),
    (BaseOperator::StringNotLike, "StringNotLike"),
    (BaseOperator::NumericEquals, "NumericEquals"),
    (BaseOperator::NumericNotEquals, "NumericNotEquals"),
    (BaseOperator::NumericLessThan, "NumericLessThan"),
    (BaseOperator::NumericLessThanEquals, "NumericLessThanEquals"),
    (BaseOperator::NumericGreaterThan, "NumericGreaterThan"),
    (
        BaseOperator::NumericGreaterThanEquals,
        "NumericGreaterThanEquals",
    ),
    (BaseOperator::DateEquals, "DateEquals"),
    (BaseOperator::DateNotEquals, "DateNotEquals"),
    (BaseOperator::DateLessThan, "DateLessThan"),
    (BaseOperator::DateLessThanEquals, "DateLessThanEquals"),
    (BaseOperator::DateGreaterThan, "DateGreaterThan"),
    (BaseOperator::DateGreaterThanEquals, "DateGreaterThanEquals"),
    (BaseOperator::Bool, "Bool"),
    (BaseOperator::BinaryEquals, "BinaryEquals"),
    (BaseOperator::IpAddress, "IpAddress"),
    (BaseOperator::NotIpAddress, "NotIpAddress"),
    (BaseOperator::ArnEquals, "ArnEquals"),
    (BaseOperator::ArnLike, "ArnLike"),
    (BaseOperator::ArnNotEquals, "ArnNotEquals"),
    (BaseOperator::ArnNotLike, "ArnNotLike"),
    (BaseOperator::Null, "Null"),
];

impl BaseOperator {
    /// The operator's name as written in a policy.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(op, _)| *op == self)
            .map_or("Null", |(_, name)| name)
    }

    fn from_name(name: &str) -> Option<BaseOperator> {
        ALL.iter().find(|(_, n)| *n == name).map(|(op, _)| *op)
    }

    /// Which family of values the operator compares.
    pub fn family(self) -> Family {
        use BaseOperator as B;
        match self {
            B::StringEquals
            | B::StringNotEquals
            | B::StringEqualsIgnoreCase
            | B::StringNotEqualsIgnoreCase
            | B::StringLike
            | B::StringNotLike => Family::String,
            B::NumericEquals
            | B::NumericNotEquals
            | B::NumericLessThan
            | B::NumericLessThanEquals
            | B::NumericGreaterThan
            | B::NumericGreaterThanEquals => Family::Numeric,
            B::DateEquals
            | B::DateNotEquals
            | B::DateLessThan
            | B::DateLessThanEquals
            | B::DateGreaterThan
            | B::DateGreaterThanEquals => Family::Date,
            B::Bool => Family::Bool,
            B::BinaryEquals => Family::Binary,
            B::IpAddress | B::NotIpAddress => Family::Ip,
            B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => Family::Arn,
            B::Null => Family::Null,
        }
    }

    /// Negated operators (`StringNotEquals`, `NotIpAddress`, ...) are true when the key is
    /// absent, and their values combine with NOR rather than OR.
    pub fn is_negated(self) -> bool {
        use BaseOperator as B;
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// Whether policy variables are substituted in this operator's values (string, ARN and
    /// Bool operators; not numeric, date, binary, IP or Null).
    pub fn takes_variables(self) -> bool {
        matches!(self.family(), Family::String | Family::Arn | Family::Bool)
    }

    /// Whether `*` and `?` in this operator's values are wildcards.
    pub fn takes_wildcards(self) -> bool {
        use BaseOperator as B;
        matches!(
            self,
            B::StringLike
                | B::StringNotLike
                | B::ArnEquals
                | B::ArnLike
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }
}

/// `ForAllValues:` or `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperator {
    ForAllValues,
    ForAnyValue,
}

/// A full condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The set qualifier, if any.
    pub set: Option<SetOperator>,
    /// The comparison.
    pub base: BaseOperator,
    /// `...IfExists`: true when the key is absent.
    pub if_exists: bool,
}

/// Why an operator name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorError {
    /// Not an operator IAM knows; carries the closest known name, if one is close.
    Unknown { suggestion: Option<String> },
    /// `NullIfExists`: IAM does not allow `IfExists` on `Null`.
    NullIfExists,
}

impl Operator {
    /// Parses an operator name exactly as IAM spells it.
    pub fn parse(text: &str) -> Result<Operator, OperatorError> {
        let (set, rest) = if let Some(rest) = text.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), rest)
        } else if let Some(rest) = text.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), rest)
        } else {
            (None, text)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        match BaseOperator::from_name(base_name) {
            Some(BaseOperator::Null) if if_exists => Err(OperatorError::NullIfExists),
            Some(base) => Ok(Operator {
                set,
                base,
                if_exists,
            }),
            None => Err(OperatorError::Unknown {
                suggestion: suggest(text),
            }),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.set {
            Some(SetOperator::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetOperator::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

/// The closest valid operator spelling to `text`, when the distance is small enough to be a
/// typo (or only the letter case differs).
fn suggest(text: &str) -> Option<String> {
    let (prefix, rest) = split_set_prefix(text);
    let (suffix, base) = match rest.to_ascii_lowercase().strip_suffix("ifexists") {
        Some(_) if rest.len() > 8 => ("IfExists", rest.get(..rest.len() - 8).unwrap_or(rest)),
        _ => ("", rest),
    };
    let best = crate::suggest::closest(base, ALL.iter().map(|(_, n)| *n))?;
    Some(format!("{prefix}{best}{suffix}"))
}

fn split_set_prefix(text: &str) -> (&'static str, &str) {
    let lower = text.to_ascii_lowercase();
    for (canonical, len) in [("ForAllValues:", 13), ("ForAnyValue:", 12)] {
        if lower.starts_with(&canonical.to_ascii_lowercase()) {
            return (canonical, text.get(len..).unwrap_or(""));
        }
    }
    ("", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qualified_operators() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.set, Some(SetOperator::ForAnyValue));
        assert_eq!(op.base, BaseOperator::StringLike);
        assert!(op.if_exists);
        assert_eq!(op.to_string(), "ForAnyValue:StringLikeIfExists");
    }

    #[test]
    fn suggests_the_closest_name() {
        assert_eq!(
            Operator::parse("StringLikee"),
            Err(OperatorError::Unknown {
                suggestion: Some("StringLike".into())
            })
        );
        assert_eq!(
            Operator::parse("stringequalsifexists"),
            Err(OperatorError::Unknown {
                suggestion: Some("StringEqualsIfExists".into())
            })
        );
        assert_eq!(
            Operator::parse("NullIfExists"),
            Err(OperatorError::NullIfExists)
        );
    }
}

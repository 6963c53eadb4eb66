//! Validation errors: what is wrong with a policy document and where (a JSON pointer).
//!
//! The parser collects every problem it finds rather than stopping at the first, so one run
//! of `breakglass policy lint` shows them all.

use std::fmt;

use crate::json::Pointer;

/// One problem in a policy document, located by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Where the problem is (`/Statement/2/Condition/StringLikee`); empty for the document.
    pub pointer: Pointer,
    /// What the problem is.
    pub kind: ErrorKind,
}

/// The kinds of problem a policy document can have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "policy text is {size} bytes; more than the {limit} bytes breakglass reads (the largest AWS policy is 10,240 characters)"
    )]
    InputTooLarge { size: usize, limit: usize },
    #[error("expected {expected}, found {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("unknown element `{element}`")]
    UnknownElement {
        element: String,
        suggestion: Option<&'static str>,
    },
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    #[error("missing required element `{0}`")]
    Missing(&'static str),
    #[error("`{0}` and `{1}` cannot appear in the same statement")]
    Conflict(&'static str, &'static str),
    #[error("`{element}` is not allowed in {policy_type} policies")]
    NotAllowed {
        element: &'static str,
        policy_type: &'static str,
    },
    #[error("unsupported policy language version `{0}`")]
    BadVersion(String),
    #[error("{0} policies must declare `\"Version\": \"2012-10-17\"`")]
    VersionRequired(&'static str),
    #[error("`Statement` has no statements")]
    EmptyStatements,
    #[error("`Effect` must be `Allow` or `Deny`, found `{0}`")]
    BadEffect(String),
    #[error("empty {0}")]
    Empty(&'static str),
    #[error("invalid action `{0}`: expected `service:action` or `*`")]
    BadAction(String),
    #[error(
        "invalid resource `{0}`: expected an ARN (`arn:partition:service:region:account:resource`) or `*`"
    )]
    BadResource(String),
    #[error("invalid principal `{value}`: {reason}")]
    BadPrincipal { value: String, reason: &'static str },
    #[error("unknown principal type `{0}`")]
    BadPrincipalType(String),
    #[error("unknown condition operator `{operator}`")]
    UnknownOperator {
        operator: String,
        suggestion: Option<String>,
    },
    #[error("`IfExists` cannot be used with the `Null` operator")]
    NullIfExists,
    #[error("invalid value `{value}` for `{operator}`: expected {expected}")]
    BadConditionValue {
        value: String,
        operator: String,
        expected: &'static str,
    },
    #[error("invalid policy variable in `{0}`: `${{` without a closing `}}`")]
    BadVariable(String),
    #[error("character U+{0:04X} is not allowed in IAM policy documents")]
    BadCharacter(u32),
    #[error("{0}")]
    Rcp(&'static str),
}

impl ErrorKind {
    /// A stable code for the kind of problem, used by `breakglass policy lint` output.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Json { .. } => "invalid-json",
            ErrorKind::InputTooLarge { .. } => "input-too-large",
            ErrorKind::WrongType { .. } => "wrong-type",
            ErrorKind::UnknownElement { .. } => "unknown-element",
            ErrorKind::DuplicateKey(_) => "duplicate-key",
            ErrorKind::Missing(_) => "missing-element",
            ErrorKind::Conflict(..) => "conflicting-elements",
            ErrorKind::NotAllowed { .. } => "element-not-allowed",
            ErrorKind::BadVersion(_) => "unsupported-version",
            ErrorKind::VersionRequired(_) => "version-required",
            ErrorKind::EmptyStatements => "empty-statement-list",
            ErrorKind::BadEffect(_) => "invalid-effect",
            ErrorKind::Empty(_) => "empty-value",
            ErrorKind::BadAction(_) => "invalid-action",
            ErrorKind::BadResource(_) => "invalid-resource",
            ErrorKind::BadPrincipal { .. } => "invalid-principal",
            ErrorKind::BadPrincipalType(_) => "unknown-principal-type",
            ErrorKind::UnknownOperator { .. } => "unknown-condition-operator",
            ErrorKind::NullIfExists => "null-if-exists",
            ErrorKind::BadConditionValue { .. } => "invalid-condition-value",
            ErrorKind::BadVariable(_) => "invalid-policy-variable",
            ErrorKind::BadCharacter(_) => "invalid-character",
            ErrorKind::Rcp(_) => "invalid-rcp",
        }
    }

    /// A one-line fix hint.
    pub fn hint(&self) -> String {
        match self {
            ErrorKind::Json { .. } => "fix the JSON syntax at the position shown".into(),
            ErrorKind::InputTooLarge { .. } => {
                "split the policy; no AWS policy type accepts a document this large".into()
            }
            ErrorKind::WrongType { expected, .. } => format!("write {expected} here"),
            ErrorKind::UnknownElement {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`?"),
            ErrorKind::UnknownElement { .. } => {
                "remove the element; IAM rejects elements it does not know".into()
            }
            ErrorKind::DuplicateKey(_) => "keep one of the two keys; IAM rejects duplicates".into(),
            ErrorKind::Missing(element) => format!("add `{element}`"),
            ErrorKind::Conflict(a, b) => format!("keep either `{a}` or `{b}`"),
            ErrorKind::NotAllowed { element, .. } => format!("remove `{element}`"),
            ErrorKind::BadVersion(_) | ErrorKind::VersionRequired(_) => {
                "use `\"Version\": \"2012-10-17\"`".into()
            }
            ErrorKind::EmptyStatements => "add at least one statement".into(),
            ErrorKind::BadEffect(_) => "write `Allow` or `Deny` (case matters)".into(),
            ErrorKind::Empty(_) => "give at least one value or remove the element".into(),
            ErrorKind::BadAction(_) => {
                "write actions as `service:ActionName`, e.g. `s3:GetObject`".into()
            }
            ErrorKind::BadResource(_) => {
                "write a full ARN such as `arn:aws:s3:::bucket/*`, or `*`".into()
            }
            ErrorKind::BadPrincipal { .. } => {
                "name an account id, an IAM user/role ARN, a role-session ARN, or `*`".into()
            }
            ErrorKind::BadPrincipalType(_) => {
                "use `AWS`, `Service`, `Federated` or `CanonicalUser`".into()
            }
            ErrorKind::UnknownOperator {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`?"),
            ErrorKind::UnknownOperator { .. } => {
                "see IAM JSON policy elements: Condition operators".into()
            }
            ErrorKind::NullIfExists => "use `Null` on its own".into(),
            ErrorKind::BadConditionValue { expected, .. } => format!("write {expected}"),
            ErrorKind::BadVariable(_) => {
                "close the variable with `}` or write a literal `$` as `${$}`".into()
            }
            ErrorKind::BadCharacter(_) => {
                "IAM accepts tab, newline, carriage return and U+0020 to U+00FF only".into()
            }
            ErrorKind::Rcp(_) => "see AWS Organizations: RCP syntax".into(),
        }
    }
}

impl PolicyError {
    pub(crate) fn new(pointer: Pointer, kind: ErrorKind) -> PolicyError {
        PolicyError { pointer, kind }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_root() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.pointer, self.kind)
        }
    }
}

impl std::error::Error for PolicyError {}

/// Every problem found in one policy document (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// The individual problems, in document order.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }

    /// The same errors located below `prefix` (a policy embedded in a larger document).
    pub fn under(self, prefix: &Pointer) -> PolicyErrors {
        PolicyErrors(
            self.0
                .into_iter()
                .map(|e| PolicyError::new(e.pointer.under(prefix), e.kind))
                .collect(),
        )
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

//! What can be wrong with a filter pattern, located by column.

use std::fmt;

/// One problem in a pattern, at a 1-based character column of the pattern text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {kind}")]
pub struct Problem {
    pub column: usize,
    pub kind: ProblemKind,
}

/// The kinds of problems the parser reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error("the pattern is {length} characters long; CloudWatch Logs allows at most 1024")]
    TooLong { length: usize },
    #[error("the pattern has {count} regular expressions; CloudWatch Logs allows at most 2")]
    TooManyRegexes { count: usize },
    #[error("selector `{selector}` has {count} wildcards; CloudWatch Logs allows one per selector")]
    SelectorWildcards { selector: String, count: usize },
    #[error("the pattern has {count} wildcard selectors; CloudWatch Logs allows at most 3")]
    TooManyWildcardSelectors { count: usize },
    #[error("`{found}` is not allowed in a CloudWatch Logs regex{hint}")]
    RegexChar { found: String, hint: &'static str },
    #[error("escape `\\{found}` is not supported in a CloudWatch Logs regex")]
    RegexEscape { found: String },
    #[error("invalid regex `{regex}`: {message}")]
    RegexInvalid { regex: String, message: String },
    #[error(
        "term `{term}` has characters other than letters, digits and `_`: put it in double quotes"
    )]
    UnquotedTerm { term: String },
    #[error("a regex must stand alone in an unstructured pattern")]
    RegexNotAlone,
    #[error("`{found}` is not supported: {hint}")]
    Unsupported { found: String, hint: &'static str },
    #[error("`{op}` compares numbers, so its value must be a number, not `{value}`")]
    NotANumber { op: &'static str, value: String },
    #[error("this field is `{field}`, but the condition names `{found}`")]
    FieldNameMismatch { field: String, found: String },
    #[error(
        "unquoted value `{value}` has characters (`@`, `$`, `\\` or non-ASCII) that CloudWatch Logs accepts only in double quotes: write `\"{value}\"`"
    )]
    NeedsQuotes { value: String },
}

/// Why a pattern did not parse: every problem found, in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    problems: Vec<Problem>,
}

impl PatternError {
    pub(crate) fn new(pattern: &str, mut problems: Vec<Problem>) -> PatternError {
        problems.sort_by_key(|p| p.column);
        problems.dedup();
        PatternError {
            pattern: pattern.to_owned(),
            problems,
        }
    }

    /// The pattern text as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Every problem, in column order (never empty).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// A multi-line rendering with the pattern and a caret under each problem, for terminals.
    pub fn render(&self) -> String {
        render(&self.pattern, &self.problems)
    }
}

/// Renders `problems` of `pattern` with the pattern and a caret under each, for terminals.
pub(crate) fn render(pattern: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    let one_line = !pattern.contains('\n');
    for p in problems {
        if one_line && pattern.chars().count() <= 200 {
            out.push_str("  ");
            out.push_str(pattern);
            out.push_str("\n  ");
            out.push_str(&" ".repeat(p.column.saturating_sub(1)));
            out.push_str("^ ");
            out.push_str(&p.kind.to_string());
            out.push('\n');
        } else {
            out.push_str(&format!("  {p}\n"));
        }
    }
    out
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid filter pattern: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PatternError {}

//! The CloudWatch Logs filter-pattern language: parse, print, match.
//!
//! Break-glass alerts are deployed as CloudWatch Logs metric filters, and the same pattern
//! text is used here to scan CloudTrail offline, so the two must agree. The semantics follow
//! the CloudWatch Logs User Guide, "Filter pattern syntax for metric filters, subscription
//! filters, and filter log events"; `eval` lists the rules that matter most.

pub mod ast;
mod error;
mod eval;
mod parser;
pub(crate) mod prefilter;
mod print;
mod regex;

use std::borrow::Cow;
use std::fmt;

pub use error::{PatternError, Problem, ProblemKind};
pub use parser::{MAX_PATTERN_CHARS, MAX_REGEXES, MAX_WILDCARD_SELECTORS};

use crate::event::Event;
use ast::Pattern;

/// A parsed, validated filter pattern.
///
/// Parsing enforces the limits `PutMetricFilter` enforces (1,024 characters, two regexes,
/// the regex subset, one wildcard per selector and three wildcard selectors), so a pattern
/// accepted here can be deployed as a metric filter in the form [`FilterPattern::deployable`]
/// gives. `Display` prints the canonical form.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    source: String,
    ast: Pattern,
    warnings: Vec<Problem>,
}

impl PartialEq for FilterPattern {
    fn eq(&self, other: &Self) -> bool {
        self.ast == other.ast
    }
}

impl FilterPattern {
    /// Parses pattern text; the error lists every problem with its column.
    pub fn parse(source: &str) -> Result<FilterPattern, PatternError> {
        let (ast, warnings) = parser::parse(source)?;
        Ok(FilterPattern {
            source: source.to_owned(),
            ast,
            warnings,
        })
    }

    /// The text the pattern was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// What the source writes in a way CloudWatch Logs refuses though this parser reads it
    /// (an unquoted value with `@`, `$`, `\` or non-ASCII characters), in column order.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The warnings rendered with the pattern and a caret under each, for terminals.
    pub fn render_warnings(&self) -> String {
        error::render(&self.source, &self.warnings)
    }

    /// The text to deploy as a metric filter: the source as written, or the canonical form
    /// (every text value quoted) when the source has a warning.
    pub fn deployable(&self) -> Cow<'_, str> {
        if self.warnings.is_empty() {
            Cow::Borrowed(&self.source)
        } else {
            Cow::Owned(self.to_string())
        }
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Pattern {
        &self.ast
    }

    /// Is this a JSON pattern (`{ … }`)?
    pub fn is_json(&self) -> bool {
        matches!(self.ast, Pattern::Json(_))
    }

    /// Does the pattern match a CloudTrail event? JSON patterns look at its fields; the other
    /// kinds look at its raw JSON text, which is the message CloudWatch Logs would see.
    pub fn matches(&self, event: &Event<'_>) -> bool {
        eval::matches(&self.ast, event.raw(), Some(event.raw()))
    }

    /// Does the pattern match an arbitrary log message? JSON patterns match only messages
    /// that are a JSON object.
    pub fn matches_message(&self, message: &[u8]) -> bool {
        let json = if self.is_json() {
            Event::parse(message).ok().map(|e| e.raw())
        } else {
            None
        };
        eval::matches(&self.ast, message, json)
    }

    pub(crate) fn need(&self) -> prefilter::Need {
        prefilter::need(&self.ast)
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ast.fmt(f)
    }
}

impl std::str::FromStr for FilterPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilterPattern::parse(s)
    }
}

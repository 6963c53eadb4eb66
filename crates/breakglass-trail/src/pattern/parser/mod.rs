//! The filter-pattern parser: text to [`Pattern`], collecting every problem it can locate.
//!
//! This module holds the entry point and what every pattern family shares (cursor, problems,
//! values, regexes); `json`, `terms` and `delimited` hold one family each.
//!
//! After a problem in one condition or field the parser skips to the next `&&`, `||`, `)`,
//! `,` or closing bracket and carries on, so one pass reports every broken part.

mod delimited;
mod json;
mod terms;

use super::ast::{CmpOp, Number, Pattern, Text, Value};
use super::error::{PatternError, Problem, ProblemKind};
use super::regex;

/// AWS's `filterPattern` length limit, in characters.
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Regexes allowed in one pattern.
pub const MAX_REGEXES: usize = 2;
/// Wildcard selectors allowed in one JSON pattern.
pub const MAX_WILDCARD_SELECTORS: usize = 3;

/// Bytes that end an unquoted value.
fn ends_unquoted(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'(' | b')'
                | b'{'
                | b'}'
                | b'['
                | b']'
                | b'"'
                | b'&'
                | b'|'
                | b'='
                | b'<'
                | b'>'
                | b'!'
                | b'%'
                | b','
        )
}

/// Does an unquoted value hold characters CloudWatch Logs accepts only inside double quotes
/// (`@`, `$`, `\` or anything outside ASCII)? This parser reads such a value the same quoted
/// or not, but `PutMetricFilter` refuses it unquoted.
fn needs_quotes(word: &str) -> bool {
    word.bytes()
        .any(|b| matches!(b, b'@' | b'$' | b'\\') || !b.is_ascii())
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Is `s` a number literal as filter patterns write them (`400`, `-1.5`, `+3`, `1e-3`)?
pub fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp {
            return false;
        }
    }
    i == b.len()
}

struct Parser<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    problems: Vec<Problem>,
    /// Accepted here, but refused by CloudWatch Logs as written (the canonical form fixes
    /// them).
    warnings: Vec<Problem>,
    regexes: usize,
    wildcard_selectors: usize,
}

/// Parses a filter pattern, reporting every problem with its column; on success, also the
/// warnings (in column order): what CloudWatch Logs refuses as written but the canonical
/// form writes acceptably.
pub fn parse(src: &str) -> Result<(Pattern, Vec<Problem>), PatternError> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        problems: Vec::new(),
        warnings: Vec::new(),
        regexes: 0,
        wildcard_selectors: 0,
    };
    let length = src.chars().count();
    if length > MAX_PATTERN_CHARS {
        p.problem_at(0, ProblemKind::TooLong { length });
    }
    p.skip_ws();
    let pattern = match p.peek() {
        None => Some(Pattern::MatchAll),
        Some(b'{') => p.json().map(Pattern::Json),
        Some(b'[') => p.delimited().map(Pattern::Delimited),
        Some(b'%') => p.standalone_regex(),
        Some(_) => p.terms().map(Pattern::Terms),
    };
    if p.regexes > MAX_REGEXES {
        p.problem_at(0, ProblemKind::TooManyRegexes { count: p.regexes });
    }
    if p.wildcard_selectors > MAX_WILDCARD_SELECTORS {
        p.problem_at(
            0,
            ProblemKind::TooManyWildcardSelectors {
                count: p.wildcard_selectors,
            },
        );
    }
    match pattern {
        Some(pattern) if p.problems.is_empty() => {
            p.warnings.sort_by_key(|w| w.column);
            Ok((pattern, p.warnings))
        }
        _ => {
            if p.problems.is_empty() {
                // Defensive: a `None` always comes with a problem, but never return Ok on it.
                let at = p.pos;
                p.expected(at, "a valid filter pattern");
            }
            Err(PatternError::new(src, p.problems))
        }
    }
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.b
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn column(&self, pos: usize) -> usize {
        self.src.get(..pos).map_or(pos, |s| s.chars().count()) + 1
    }

    fn problem_at(&mut self, pos: usize, kind: ProblemKind) {
        let column = self.column(pos);
        self.problems.push(Problem { column, kind });
    }

    /// Describes what sits at `pos` for an "expected …, found …" message.
    fn found(&self, pos: usize) -> String {
        let rest = self.src.get(pos..).unwrap_or("");
        if rest.is_empty() {
            return "the end of the pattern".to_owned();
        }
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(16)
            .collect();
        if token.is_empty() {
            "whitespace".to_owned()
        } else {
            format!("`{token}`")
        }
    }

    fn expected(&mut self, pos: usize, expected: &'static str) {
        // An earlier problem that ran to the end of the text (an unclosed string, say) would
        // otherwise be reported again as a missing `}` or `]`.
        if pos >= self.b.len() && !self.problems.is_empty() {
            return;
        }
        let found = self.found(pos);
        self.problem_at(pos, ProblemKind::Expected { expected, found });
    }

    /// Skips to the next `&&`, `||`, `)` or `}` (and, in space-delimited patterns, `,` or `]`)
    /// outside quotes and regexes.
    fn recover(&mut self) {
        let delimited = self.src.trim_start().starts_with('[');
        while let Some(b) = self.peek() {
            match b {
                b'"' | b'%' => {
                    self.pos += 1;
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        if c == b {
                            break;
                        }
                    }
                }
                b')' | b'}' => return,
                b',' | b']' if delimited => return,
                _ if self.starts_with("&&") || self.starts_with("||") => return,
                _ => self.pos += 1,
            }
        }
    }

    /// Reads from the opening delimiter at `pos` to the next `close`, reporting `missing` at
    /// `at` when the text ends first.
    fn enclosed(&mut self, close: u8, at: usize, missing: &'static str) -> Option<&'s str> {
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|b| b != close) {
            self.pos += 1;
        }
        if self.peek() != Some(close) {
            self.expected(at, missing);
            return None;
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        self.pos += 1;
        Some(text)
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn operator(&mut self) -> Option<CmpOp> {
        let at = self.pos;
        let (op, len) = if self.starts_with("==") {
            self.problem_at(
                at,
                ProblemKind::Unsupported {
                    found: "==".to_owned(),
                    hint: "the equality operator is `=`",
                },
            );
            return None;
        } else if self.starts_with("!=") {
            (CmpOp::Ne, 2)
        } else if self.starts_with("<=") {
            (CmpOp::Le, 2)
        } else if self.starts_with(">=") {
            (CmpOp::Ge, 2)
        } else if self.starts_with("=") {
            (CmpOp::Eq, 1)
        } else if self.starts_with("<") {
            (CmpOp::Lt, 1)
        } else if self.starts_with(">") {
            (CmpOp::Gt, 1)
        } else {
            self.expected(
                at,
                "an operator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IS`, `NOT EXISTS`)",
            );
            return None;
        };
        self.pos += len;
        Some(op)
    }

    fn check_numeric(&mut self, op: CmpOp, value: &Value, at: usize) -> Option<()> {
        if matches!(op, CmpOp::Eq | CmpOp::Ne) || matches!(value, Value::Number(_)) {
            return Some(());
        }
        let written = match value {
            Value::Text(t) => format!("\"{}\"", t.written()),
            Value::Regex(r) => format!("%{}%", r.source()),
            Value::Number(n) => n.written().to_owned(),
        };
        self.problem_at(
            at,
            ProblemKind::NotANumber {
                op: op.symbol(),
                value: written,
            },
        );
        None
    }

    fn value(&mut self) -> Option<Value> {
        let at = self.pos;
        match self.peek() {
            Some(b'"') => {
                let text = self.enclosed(b'"', at, "a closing `\"` for this string")?;
                Some(Value::Text(Text::from_written(text)))
            }
            Some(b'%') => self.regex().map(Value::Regex),
            _ => {
                let word = self.take_while(|b| !ends_unquoted(b)).to_owned();
                if word.is_empty() {
                    self.expected(at, "a value (quoted text, a number, `*` or `%regex%`)");
                    return None;
                }
                if needs_quotes(&word) {
                    let column = self.column(at);
                    self.warnings.push(Problem {
                        column,
                        kind: ProblemKind::NeedsQuotes {
                            value: word.clone(),
                        },
                    });
                }
                if is_number(&word) {
                    let value = word.parse::<f64>().unwrap_or(f64::NAN);
                    Some(Value::Number(Number {
                        written: word,
                        value,
                    }))
                } else {
                    Some(Value::Text(Text::from_written(&word)))
                }
            }
        }
    }

    fn regex(&mut self) -> Option<super::ast::Regex> {
        let open = self.pos;
        let start = open + 1;
        let body = self.enclosed(b'%', open, "a closing `%` for this regex")?;
        self.regexes += 1;
        if body.is_empty() {
            self.expected(start, "a regular expression between the `%` signs");
            return None;
        }
        match regex::compile(body) {
            Ok(r) => Some(r),
            Err((offset, kind)) => {
                let byte = body.char_indices().nth(offset).map_or(0, |(i, _)| i);
                self.problem_at(start + byte, kind);
                None
            }
        }
    }
}

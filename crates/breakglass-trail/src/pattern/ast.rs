//! The syntax tree of a CloudWatch Logs filter pattern.
//!
//! Equality is structural and ignores compiled helpers (regexes, substring finders), so the
//! printer's round trip (`parse(print(ast)) == ast`) can be tested on the tree itself.

use memchr::memmem::Finder;

/// A parsed filter pattern, one variant per pattern family AWS documents.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty pattern: every event matches.
    MatchAll,
    /// Unstructured terms: `ERROR -ARGUMENTS`, `?ERROR ?WARN`, `"exact phrase"`.
    Terms(Vec<Term>),
    /// A standalone regular expression: `%AUTHORI[SZ]ED%`.
    Regex(Regex),
    /// A JSON pattern: `{ $.eventName = "AssumeRole" && ... }`.
    Json(JsonExpr),
    /// A space-delimited pattern: `[ip, user, ..., status_code = 4*, bytes]`.
    Delimited(Vec<Field>),
}

/// How an unstructured term takes part in the match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// `TERM`: must appear.
    Required,
    /// `?TERM`: any one of the optional terms must appear (ignored next to other terms).
    Optional,
    /// `-TERM`: must not appear.
    Excluded,
}

/// One unstructured term or quoted phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    /// The text to find, without quotes.
    pub text: String,
}

/// A JSON pattern expression; `And` and `Or` hold at least two operands and never directly
/// nest a node of their own kind (the parser flattens `a && (b && c)`).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpr {
    And(Vec<JsonExpr>),
    Or(Vec<JsonExpr>),
    Cond(Condition),
}

/// `SELECTOR TEST`, e.g. `$.userIdentity.type = "Root"` or `$.x NOT EXISTS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub selector: Selector,
    pub test: Test,
}

/// What a condition checks of the selected value.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Compare { op: CmpOp, value: Value },
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// Comparison operators; only `=` and `!=` apply to text and regexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, possibly with a `*` wildcard at the start and/or end.
    Text(Text),
    /// An unquoted number such as `400`, `-1.5` or `1e-3`.
    Number(Number),
    /// `%regex%`.
    Regex(Regex),
}

/// Text with optional leading/trailing `*` wildcards; a `*` anywhere else is literal.
#[derive(Debug, Clone)]
pub struct Text {
    leading: bool,
    core: String,
    trailing: bool,
    finder: Option<Box<Finder<'static>>>,
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.leading == other.leading && self.core == other.core && self.trailing == other.trailing
    }
}

impl Text {
    /// Splits written text into wildcards and the literal core: `*abc*` → (`*`, `abc`, `*`).
    pub(crate) fn from_written(written: &str) -> Text {
        let leading = written.starts_with('*');
        let rest = written.strip_prefix('*').unwrap_or(written);
        let trailing = rest.ends_with('*');
        let core = rest.strip_suffix('*').unwrap_or(rest).to_owned();
        let finder = (leading && trailing && !core.is_empty())
            .then(|| Box::new(Finder::new(core.as_bytes()).into_owned()));
        Text {
            leading,
            core,
            trailing,
            finder,
        }
    }

    /// The text as written in a pattern, wildcards included.
    pub fn written(&self) -> String {
        let mut s = String::with_capacity(self.core.len() + 2);
        if self.leading {
            s.push('*');
        }
        s.push_str(&self.core);
        if self.trailing {
            s.push('*');
        }
        s
    }

    /// The literal part between the wildcards.
    pub fn core(&self) -> &str {
        &self.core
    }

    /// `*` alone (or `**`): any string, number or boolean.
    pub fn is_any(&self) -> bool {
        self.core.is_empty() && (self.leading || self.trailing)
    }

    /// Case-sensitive match under the start/end wildcard rules.
    pub fn matches(&self, text: &[u8]) -> bool {
        let core = self.core.as_bytes();
        match (self.leading, self.trailing) {
            (false, false) => text == core,
            (true, false) => text.ends_with(core),
            (false, true) => text.starts_with(core),
            (true, true) => match &self.finder {
                Some(f) => f.find(text).is_some(),
                None => true,
            },
        }
    }
}

/// A number literal, kept as written so the printer reproduces it.
#[derive(Debug, Clone)]
pub struct Number {
    pub(crate) written: String,
    pub(crate) value: f64,
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl Number {
    pub fn written(&self) -> &str {
        &self.written
    }

    pub fn value(&self) -> f64 {
        self.value
    }
}

/// A `%regex%` in the CloudWatch Logs subset, with its compiled form.
#[derive(Debug, Clone)]
pub struct Regex {
    pub(crate) source: String,
    pub(crate) compiled: regex::Regex,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Regex {
    /// The expression between the `%` signs, as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Unanchored search, as CloudWatch Logs does.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

/// A JSON property selector: `$.a.b`, `$.a[0]`, `$.['cluster.name']`, `$.a[*]`, `$.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub segments: Vec<Segment>,
}

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(u32),
    /// `.*`: any member of an object.
    AnyKey,
    /// `[*]`: any element of an array.
    AnyIndex,
}

impl Selector {
    /// How many wildcard steps the selector has (AWS allows one).
    pub fn wildcards(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::AnyKey | Segment::AnyIndex))
            .count()
    }
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    /// `name` or `name = 4* || name = 5*`: one field, optionally constrained.
    Named {
        name: String,
        /// Disjunction of conjunctions (`&&` binds tighter than `||`); empty when unconstrained.
        any_of: Vec<Vec<FieldTest>>,
    },
}

/// `name OP value` inside a space-delimited field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTest {
    pub op: CmpOp,
    pub value: Value,
}

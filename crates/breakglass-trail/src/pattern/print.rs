//! The canonical printer: renders a [`Pattern`] back to filter-pattern text.
//!
//! Canonical text puts one space around operators, quotes every text value, keeps numbers as
//! written and adds parentheses only where `||` sits under `&&`. Parsing the output gives back
//! the same tree (a property test checks this). It may be longer than the source it came from.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{
    Field, FieldTest, JsonExpr, Pattern, Segment, Selector, Term, TermKind, Test, Value,
};

fn is_bare_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::MatchAll => Ok(()),
            Pattern::Terms(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
            Pattern::Regex(r) => write!(f, "%{}%", r.source()),
            Pattern::Json(expr) => write!(f, "{{ {expr} }}"),
            Pattern::Delimited(fields) => {
                f.write_char('[')?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_char(']')
            }
        }
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.kind {
            TermKind::Required => {}
            TermKind::Optional => f.write_char('?')?,
            TermKind::Excluded => f.write_char('-')?,
        }
        if is_bare_word(&self.text) {
            f.write_str(&self.text)
        } else {
            write!(f, "\"{}\"", self.text)
        }
    }
}

impl Display for JsonExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            JsonExpr::Cond(c) => write!(f, "{} {}", c.selector, c.test),
            JsonExpr::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" || ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            JsonExpr::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" && ")?;
                    }
                    if matches!(item, JsonExpr::Or(_)) {
                        write!(f, "({item})")?;
                    } else {
                        write!(f, "{item}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('$')?;
        for seg in &self.segments {
            match seg {
                Segment::Key(k) if is_identifier(k) => write!(f, ".{k}")?,
                Segment::Key(k) if k.contains('\'') => write!(f, ".[\"{k}\"]")?,
                Segment::Key(k) => write!(f, ".['{k}']")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
                Segment::AnyKey => f.write_str(".*")?,
                Segment::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl Display for Test {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Test::Compare { op, value } => write!(f, "{} {value}", op.symbol()),
            Test::IsNull => f.write_str("IS NULL"),
            Test::IsTrue => f.write_str("IS TRUE"),
            Test::IsFalse => f.write_str("IS FALSE"),
            Test::NotExists => f.write_str("NOT EXISTS"),
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => write!(f, "\"{}\"", t.written()),
            Value::Number(n) => f.write_str(n.written()),
            Value::Regex(r) => write!(f, "%{}%", r.source()),
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Field::Ellipsis => f.write_str("..."),
            Field::Named { name, any_of } if any_of.is_empty() => f.write_str(name),
            Field::Named { name, any_of } => {
                for (g, group) in any_of.iter().enumerate() {
                    if g > 0 {
                        f.write_str(" || ")?;
                    }
                    for (i, FieldTest { op, value }) in group.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" && ")?;
                        }
                        write!(f, "{name} {} {value}", op.symbol())?;
                    }
                }
                Ok(())
            }
        }
    }
}

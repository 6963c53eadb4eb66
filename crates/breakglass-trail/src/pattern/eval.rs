//! Evaluating a pattern against a log event, with CloudWatch Logs semantics.
//!
//! The rules that tools commonly get wrong, as AWS documents them:
//! - comparisons (`=`, `!=`, `<`, …) on a missing property, an object, an array or `null`
//!   are false, for `!=` too; only `NOT EXISTS` detects absence, and `null` is not absent;
//! - `*` is a wildcard only at the start and/or end of a value;
//! - a number literal compares numerically with a JSON number and as text with a string;
//!   ordering operators apply to JSON numbers only;
//! - wildcard selectors (`[*]`, `.*`) match when any selected value satisfies the test
//!   (`NOT EXISTS` when none is selected);
//! - `?` terms form an OR group only when every term is optional; next to other terms they
//!   are ignored, as the AWS documentation notes.

use std::borrow::Cow;

use memchr::memmem;

use super::ast::{
    CmpOp, Field, FieldTest, JsonExpr, Pattern, Segment, Term, TermKind, Test, Value,
};
use crate::json::walk::{self, Node};

/// Does `pattern` match a log message? JSON patterns need `json` (the message as validated
/// JSON, or `None` when it is not a JSON object); other patterns look at the raw text.
pub fn matches(pattern: &Pattern, message: &[u8], json: Option<&[u8]>) -> bool {
    match pattern {
        Pattern::MatchAll => true,
        Pattern::Terms(terms) => terms_match(terms, message),
        Pattern::Regex(r) => r.is_match(&String::from_utf8_lossy(message)),
        Pattern::Json(expr) => json.is_some_and(|root| expr_match(expr, root)),
        Pattern::Delimited(fields) => delimited_match(fields, message),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    // A phrase of only whitespace matches everything (AWS: `" "` matches every event).
    if needle.trim().is_empty() {
        return true;
    }
    memmem::find(haystack, needle.as_bytes()).is_some()
}

fn terms_match(terms: &[Term], message: &[u8]) -> bool {
    let all_optional = !terms.is_empty() && terms.iter().all(|t| t.kind == TermKind::Optional);
    if all_optional {
        return terms.iter().any(|t| contains(message, &t.text));
    }
    terms.iter().all(|t| match t.kind {
        TermKind::Required => contains(message, &t.text),
        TermKind::Excluded => !contains(message, &t.text),
        TermKind::Optional => true,
    })
}

fn expr_match(expr: &JsonExpr, root: &[u8]) -> bool {
    match expr {
        JsonExpr::And(items) => items.iter().all(|e| expr_match(e, root)),
        JsonExpr::Or(items) => items.iter().any(|e| expr_match(e, root)),
        JsonExpr::Cond(c) => {
            let segs = &c.selector.segments;
            match &c.test {
                Test::NotExists => !any_selected(segs, root, &mut |_| true),
                Test::IsNull => any_selected(segs, root, &mut |v| Node::of(v) == Node::Null),
                Test::IsTrue => any_selected(segs, root, &mut |v| Node::of(v) == Node::Bool(true)),
                Test::IsFalse => {
                    any_selected(segs, root, &mut |v| Node::of(v) == Node::Bool(false))
                }
                Test::Compare { op, value } => {
                    any_selected(segs, root, &mut |v| compare(Node::of(v), *op, value))
                }
            }
        }
    }
}

/// Is there a value selected by `segs` under `node` for which `f` holds?
fn any_selected<'a>(segs: &[Segment], node: &'a [u8], f: &mut dyn FnMut(&'a [u8]) -> bool) -> bool {
    let Some((seg, rest)) = segs.split_first() else {
        return f(node);
    };
    match seg {
        Segment::Key(k) => {
            walk::member(node, k.as_bytes()).is_some_and(|v| any_selected(rest, v, f))
        }
        Segment::Index(i) => {
            walk::element(node, *i as usize).is_some_and(|v| any_selected(rest, v, f))
        }
        Segment::AnyKey => {
            let mut hit = false;
            walk::for_each_member(node, |_, v| {
                hit = any_selected(rest, v, f);
                hit
            });
            hit
        }
        Segment::AnyIndex => {
            let mut hit = false;
            walk::for_each_element(node, |v| {
                hit = any_selected(rest, v, f);
                hit
            });
            hit
        }
    }
}

fn parse_f64(raw: &[u8]) -> Option<f64> {
    std::str::from_utf8(raw).ok()?.trim().parse::<f64>().ok()
}

fn ordered(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn compare(node: Node<'_>, op: CmpOp, value: &Value) -> bool {
    let Some(text) = node.text() else {
        // Missing values never reach here; null, objects and arrays never compare.
        return false;
    };
    let numeric = match node {
        Node::Number(raw) => parse_f64(raw),
        _ => None,
    };
    compare_text(&text, numeric, op, value)
}

/// Compares a value's text (and, for numbers, its numeric value) with a pattern value.
fn compare_text(text: &[u8], numeric: Option<f64>, op: CmpOp, value: &Value) -> bool {
    match value {
        Value::Text(t) => {
            let m = t.matches(text);
            match op {
                CmpOp::Eq => m,
                CmpOp::Ne => !m,
                _ => false,
            }
        }
        Value::Regex(r) => {
            let m = r.is_match(&String::from_utf8_lossy(text));
            match op {
                CmpOp::Eq => m,
                CmpOp::Ne => !m,
                _ => false,
            }
        }
        Value::Number(n) => match numeric {
            Some(x) => ordered(op, x, n.value()),
            None => match op {
                CmpOp::Eq => text == n.written().as_bytes(),
                CmpOp::Ne => text != n.written().as_bytes(),
                _ => false,
            },
        },
    }
}

// ----- Space-delimited patterns ----------------------------------------------------------

/// Splits a message into fields: runs of spaces separate them; `"…"` and `[…]` are single
/// fields whose delimiters are dropped. Each field keeps the byte offset where it starts.
fn split_fields(message: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < message.len() {
        while message.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&first) = message.get(i) else {
            break;
        };
        let close = match first {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = close {
            let start = i + 1;
            let end = message
                .get(start..)
                .and_then(|rest| memchr::memchr(close, rest))
                .map_or(message.len(), |k| start + k);
            out.push((i, message.get(start..end).unwrap_or_default()));
            i = end + 1;
        } else {
            let start = i;
            while message.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                i += 1;
            }
            out.push((start, message.get(start..i).unwrap_or_default()));
        }
    }
    out
}

fn field_ok(field: &Field, text: &[u8]) -> bool {
    match field {
        Field::Ellipsis => true,
        Field::Named { any_of, .. } => {
            any_of.is_empty()
                || any_of
                    .iter()
                    .any(|group| group.iter().all(|t| field_test(t, text)))
        }
    }
}

fn field_test(t: &FieldTest, text: &[u8]) -> bool {
    let numeric = if matches!(t.value, Value::Number(_)) {
        parse_f64(text)
    } else {
        None
    };
    compare_text(text, numeric, t.op, &t.value)
}

/// The remainder of a message from a field's start, with one delimiter pair dropped when the
/// remainder is that single field.
fn remainder<'a>(message: &'a [u8], fields: &[(usize, &'a [u8])]) -> Cow<'a, [u8]> {
    match fields {
        [(_, only)] => Cow::Borrowed(only),
        [(start, _), ..] => {
            let rest = message.get(*start..).unwrap_or_default();
            let end = rest
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |p| p + 1);
            Cow::Borrowed(rest.get(..end).unwrap_or_default())
        }
        [] => Cow::Borrowed(&[]),
    }
}

fn delimited_match(fields: &[Field], message: &[u8]) -> bool {
    let tokens = split_fields(message);
    if !fields.iter().any(|f| matches!(f, Field::Ellipsis)) {
        // Without `...`, fields align from the start and the last one takes the rest.
        if tokens.len() < fields.len() {
            return false;
        }
        let Some((last, init)) = fields.split_last() else {
            return tokens.is_empty();
        };
        let aligned = init
            .iter()
            .zip(&tokens)
            .all(|(f, (_, text))| field_ok(f, text));
        let rest = tokens.get(init.len()..).unwrap_or_default();
        return aligned && field_ok(last, &remainder(message, rest));
    }
    align(fields, &tokens)
}

/// Aligns fields to tokens where each `...` consumes zero or more tokens, by dynamic
/// programming over (field, token) so many ellipses cannot blow up.
fn align(fields: &[Field], tokens: &[(usize, &[u8])]) -> bool {
    let m = tokens.len();
    // `next[j]`: do the fields after the current one match `tokens[j..]`?
    let mut next = vec![false; m + 1];
    if let Some(end) = next.get_mut(m) {
        *end = true;
    }
    for field in fields.iter().rev() {
        let mut cur = vec![false; m + 1];
        if matches!(field, Field::Ellipsis) {
            let mut any = false;
            for (c, n) in cur.iter_mut().zip(&next).rev() {
                any |= *n;
                *c = any;
            }
        } else {
            for (j, (_, text)) in tokens.iter().enumerate() {
                let rest_ok = next.get(j + 1).copied().unwrap_or(false);
                if let Some(c) = cur.get_mut(j) {
                    *c = rest_ok && field_ok(field, text);
                }
            }
        }
        next = cur;
    }
    next.first().copied().unwrap_or(false)
}

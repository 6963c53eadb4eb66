//! Literal prefilters: byte strings that must occur in an event's raw text for a pattern to
//! possibly match, so most events are dismissed by one multi-substring search.
//!
//! JSON patterns compare decoded values, and JSON may spell any character as `\uXXXX` (or
//! `/` as `\/`); a literal from a JSON pattern is therefore only conclusive for text without
//! those escapes, and callers treat events containing them as candidates for every rule.

use super::ast::{CmpOp, JsonExpr, Pattern, Segment, TermKind, Test, Value};

/// What a pattern needs to see in an event's raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing useful can be said: evaluate every event.
    Anything,
    /// One of `literals` occurs in every matching event's raw text (for JSON patterns:
    /// unless the text contains `\u` or `\/` escapes, see `json_escapes`).
    AnyOf {
        literals: Vec<Vec<u8>>,
        json_escapes: bool,
    },
}

impl Need {
    fn any_of(literals: Vec<Vec<u8>>, json_escapes: bool) -> Need {
        if literals.is_empty() || literals.iter().any(Vec::is_empty) {
            Need::Anything
        } else {
            Need::AnyOf {
                literals,
                json_escapes,
            }
        }
    }

    /// Higher is more selective: longer shortest literal first, then fewer alternatives.
    /// Service endpoints (`sts.amazonaws.com`) are long but occur in every event of their
    /// service, so they rank below any other literal.
    fn score(&self) -> (usize, usize) {
        let weight = |l: &Vec<u8>| {
            if l.ends_with(b".amazonaws.com") {
                1
            } else {
                l.len() + 1
            }
        };
        match self {
            Need::Anything => (0, 0),
            Need::AnyOf { literals, .. } => (
                literals.iter().map(weight).min().unwrap_or(0),
                usize::MAX - literals.len(),
            ),
        }
    }
}

/// ARN and endpoint fragments that occur in almost every CloudTrail event.
const BOILERPLATE: &[&[u8]] = &[
    b"arn",
    b"aws",
    b"iam",
    b"sts",
    b"role",
    b"user",
    b"assumed-role",
    b"root",
    b"amazonaws",
    b"com",
];

/// The most selective literal inside a value's core: the longest run of name characters
/// that is not ARN boilerplate or a bare number. Any substring of the core is a sound
/// literal (the decoded value contains the whole core); runs exclude `\`, `"` and controls,
/// which JSON may spell differently.
fn best_literal(core: &str) -> Vec<u8> {
    let name_char = |b: &u8| b.is_ascii_alphanumeric() || b"_.@=+,- ".contains(b);
    let score = |run: &[u8]| {
        let lower = run.to_ascii_lowercase();
        if BOILERPLATE.contains(&lower.as_slice()) {
            0
        } else if run.iter().all(u8::is_ascii_digit) {
            run.len() / 3
        } else {
            run.len() * 4
        }
    };
    let best_named = core
        .as_bytes()
        .split(|b| !name_char(b))
        .filter(|r| !r.is_empty())
        .max_by_key(|r| (score(r), r.len()));
    match best_named {
        Some(run) if score(run) > 0 => run.to_vec(),
        // Nothing distinctive: fall back to the longest run JSON never escapes.
        _ => core
            .as_bytes()
            .split(|b| *b == b'\\' || *b == b'"' || *b < 0x20)
            .max_by_key(|run| run.len())
            .unwrap_or_default()
            .to_vec(),
    }
}

/// The prefilter for a pattern.
pub fn need(pattern: &Pattern) -> Need {
    match pattern {
        Pattern::MatchAll | Pattern::Regex(_) | Pattern::Delimited(_) => Need::Anything,
        Pattern::Json(expr) => json_need(expr),
        Pattern::Terms(terms) => {
            let all_optional = terms.iter().all(|t| t.kind == TermKind::Optional);
            let phrase = |text: &str| (!text.trim().is_empty()).then(|| text.as_bytes().to_vec());
            if all_optional {
                let literals: Option<Vec<Vec<u8>>> =
                    terms.iter().map(|t| phrase(&t.text)).collect();
                literals.map_or(Need::Anything, |l| Need::any_of(l, false))
            } else {
                terms
                    .iter()
                    .filter(|t| t.kind == TermKind::Required)
                    .filter_map(|t| phrase(&t.text))
                    .map(|l| Need::any_of(vec![l], false))
                    .max_by_key(Need::score)
                    .unwrap_or(Need::Anything)
            }
        }
    }
}

fn json_need(expr: &JsonExpr) -> Need {
    match expr {
        JsonExpr::Cond(c) => match &c.test {
            Test::Compare {
                op: CmpOp::Eq,
                value: Value::Text(t),
            } if !t.is_any() => Need::any_of(vec![best_literal(t.core())], true),
            // `$.a.b = "*"` is CloudWatch's "b is present" idiom: the value says nothing, but
            // the member name `b` must occur (JSON may escape it, hence `json_escapes`).
            Test::Compare {
                op: CmpOp::Eq,
                value: Value::Text(_),
            } => match c.selector.segments.last() {
                Some(Segment::Key(key))
                    if !key.is_empty()
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b)) =>
                {
                    Need::any_of(vec![key.as_bytes().to_vec()], true)
                }
                _ => Need::Anything,
            },
            Test::IsTrue => Need::any_of(vec![b"true".to_vec()], false),
            Test::IsFalse => Need::any_of(vec![b"false".to_vec()], false),
            Test::IsNull => Need::any_of(vec![b"null".to_vec()], false),
            _ => Need::Anything,
        },
        JsonExpr::And(items) => items
            .iter()
            .map(json_need)
            .max_by_key(Need::score)
            .unwrap_or(Need::Anything),
        JsonExpr::Or(items) => {
            let mut literals = Vec::new();
            let mut escapes = false;
            for item in items {
                match json_need(item) {
                    Need::Anything => return Need::Anything,
                    Need::AnyOf {
                        literals: l,
                        json_escapes,
                    } => {
                        literals.extend(l);
                        escapes |= json_escapes;
                    }
                }
            }
            literals.sort();
            literals.dedup();
            Need::any_of(literals, escapes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_skip_arn_boilerplate() {
        assert_eq!(
            best_literal(":role/incident-response/"),
            b"incident-response"
        );
        assert_eq!(
            best_literal("arn:aws:iam::111122223333:role/emergency/"),
            b"emergency"
        );
        assert_eq!(best_literal("BREAK-GLASS"), b"BREAK-GLASS");
        assert_eq!(best_literal("sts.amazonaws.com"), b"sts.amazonaws.com");
        assert_eq!(
            best_literal("arn:aws:iam::111122223333:role/"),
            b"111122223333"
        );
        assert_eq!(best_literal(":/"), b":/");
    }

    #[test]
    fn a_presence_test_needs_its_member_name() {
        let need = |src: &str| crate::FilterPattern::parse(src).unwrap().need();
        assert_eq!(
            need(r#"{ $.userIdentity.sessionContext.ec2RoleDelivery = "*" }"#),
            Need::AnyOf {
                literals: vec![b"ec2RoleDelivery".to_vec()],
                json_escapes: true
            }
        );
        assert_eq!(need(r#"{ $.a[0] = "*" }"#), Need::Anything);
        assert_eq!(need(r#"{ $.errorCode != "*" }"#), Need::Anything);
    }
}

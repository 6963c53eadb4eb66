//! The `%regex%` subset CloudWatch Logs accepts, translated to the `regex` crate.
//!
//! AWS allows letters, digits, the symbols `: _ # = @ / ; , -` (and space), the operators
//! `^ $ ? [ ] { } | \ * + .`, and the escapes `\d \D \s \S \w \W \xhh`; no parentheses and
//! no multi-byte characters. Anything else is rejected here so a pattern that passes our
//! parser is also accepted by `PutMetricFilter`. `\s` means tab, space or newline and `\w`
//! ASCII word characters, as AWS documents, not their Unicode meanings.

use super::ast::Regex;
use super::error::ProblemKind;

const SYMBOLS: &str = " :_#=@/;,-";
const OPERATORS: &str = "^$?[]{}|\\*+.";

/// Validates and compiles a regex body; errors carry a char offset into `source`.
pub fn compile(source: &str) -> Result<Regex, (usize, ProblemKind)> {
    let mut out = String::with_capacity(source.len() + 8);
    out.push_str("(?s)");
    let mut chars = source.chars().enumerate().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_ascii_alphanumeric() || SYMBOLS.contains(c) {
            out.push(c);
        } else if c == '\\' {
            let Some((_, e)) = chars.next() else {
                return Err((
                    at,
                    ProblemKind::RegexEscape {
                        found: String::new(),
                    },
                ));
            };
            match e {
                'd' => out.push_str("[0-9]"),
                'D' => out.push_str("[^0-9]"),
                'w' => out.push_str("[0-9A-Za-z_]"),
                'W' => out.push_str("[^0-9A-Za-z_]"),
                's' => out.push_str("[\\t\\n ]"),
                'S' => out.push_str("[^\\t\\n ]"),
                'x' => {
                    let hi = chars.next().map(|(_, h)| h);
                    let lo = chars.next().map(|(_, h)| h);
                    match (hi, lo) {
                        (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                            out.push_str(&format!("\\x{{{h}{l}}}"));
                        }
                        _ => {
                            return Err((
                                at,
                                ProblemKind::RegexEscape {
                                    found: "x (two hex digits must follow)".to_owned(),
                                },
                            ));
                        }
                    }
                }
                '-' => out.push_str("\\-"),
                e if OPERATORS.contains(e) => {
                    out.push('\\');
                    out.push(e);
                }
                e if SYMBOLS.contains(e) => out.push(e),
                e => {
                    return Err((
                        at,
                        ProblemKind::RegexEscape {
                            found: e.to_string(),
                        },
                    ));
                }
            }
        } else if OPERATORS.contains(c) {
            out.push(c);
        } else {
            let hint = match c {
                '(' | ')' => ": parentheses (subpatterns) are not supported",
                c if !c.is_ascii() => ": multi-byte characters are not supported",
                _ => ": use `\\xhh` for other ASCII symbols",
            };
            return Err((
                at,
                ProblemKind::RegexChar {
                    found: c.to_string(),
                    hint,
                },
            ));
        }
    }
    let compiled = regex::RegexBuilder::new(&out)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .nest_limit(32)
        .build()
        .map_err(|e| {
            let message = e
                .to_string()
                .lines()
                .rfind(|l| l.starts_with("error:"))
                .map(|l| l.trim_start_matches("error:").trim().to_owned())
                .unwrap_or_else(|| "it does not compile".to_owned());
            (
                0,
                ProblemKind::RegexInvalid {
                    regex: source.to_owned(),
                    message,
                },
            )
        })?;
    Ok(Regex {
        source: source.to_owned(),
        compiled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Regex {
        compile(src).unwrap_or_else(|e| panic!("{src}: {e:?}"))
    }

    #[test]
    fn documented_examples_behave() {
        assert!(ok("^[hc]at").is_match("hat trick"));
        assert!(!ok("^[hc]at").is_match("that"));
        assert!(ok("colou?r").is_match("color"));
        assert!(ok("a{3,5}").is_match("xaaay"));
        assert!(ok("gra|ey").is_match("grey"));
        assert!(ok("10\\.10\\.0\\.1").is_match("ip 10.10.0.1"));
        assert!(!ok("10\\.10\\.0\\.1").is_match("10010,051"));
        assert!(ok("10.10.0.1").is_match("10010,051"));
        assert!(ok("\\d\\D").is_match("1a"));
        assert!(ok("\\x3A").is_match("a:b"));
        assert!(ok("[\\d]+x").is_match("12x"));
        assert!(ok("\\s").is_match("a\tb"));
        assert!(!ok("\\w").is_match("é"));
    }

    #[test]
    fn unsupported_syntax_is_rejected_with_the_offending_character() {
        assert!(matches!(
            compile("a(b)"),
            Err((1, ProblemKind::RegexChar { .. }))
        ));
        assert!(matches!(
            compile("something!"),
            Err((9, ProblemKind::RegexChar { .. }))
        ));
        assert!(matches!(
            compile("café"),
            Err((3, ProblemKind::RegexChar { .. }))
        ));
        assert!(matches!(
            compile("a\\q"),
            Err((1, ProblemKind::RegexEscape { .. }))
        ));
        assert!(matches!(
            compile("a\\x4"),
            Err((1, ProblemKind::RegexEscape { .. }))
        ));
        assert!(matches!(
            compile("a{"),
            Err((0, ProblemKind::RegexInvalid { .. }))
        ));
        assert!(matches!(
            compile("a{99999}{99999}"),
            Err((0, ProblemKind::RegexInvalid { .. }))
        ));
    }
}

//! Wildcards (`*`, `?`) and policy variables (`${aws:username}`, `${aws:PrincipalTag/team,
//! 'none'}`, the escapes `${*}`, `${?}`, `${$}`).
//!
//! A policy string is parsed once into a [`Template`]; at evaluation time its variables are
//! filled from the request context and it becomes a [`Glob`]. Text coming from a variable is
//! always literal: a user name containing `*` does not become a wildcard.

use crate::context::Context;
use crate::fast_hash::Key;

/// One piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(Box<[u8]>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern. Matching is case-sensitive; callers lower-case both sides
/// where IAM compares case-insensitively (actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// A pattern where `*` and `?` are wildcards and everything else is literal.
    pub(crate) fn new(pattern: &str) -> Glob {
        let mut b = GlobBuilder::default();
        for c in pattern.chars() {
            match c {
                '*' => b.star(),
                '?' => b.one(),
                c => b.lit_char(c),
            }
        }
        b.finish()
    }

    /// Whether the pattern is pure literal text (no wildcards).
    pub(crate) fn literal(&self) -> Option<&[u8]> {
        match self.toks.as_slice() {
            [] => Some(b""),
            [Tok::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// If the pattern is `literal*`, the literal.
    pub(crate) fn prefix(&self) -> Option<&[u8]> {
        match self.toks.as_slice() {
            [Tok::Star] => Some(b""),
            [Tok::Lit(l), Tok::Star] => Some(l),
            _ => None,
        }
    }

    /// Whether the pattern is exactly `*`.
    pub(crate) fn is_any(&self) -> bool {
        self.toks == [Tok::Star]
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let s = text.as_bytes();
        let toks = self.toks.as_slice();
        let (mut ti, mut si) = (0usize, 0usize);
        // The last `*` seen: the token after it and where in the text it started matching.
        let mut star: Option<(usize, usize)> = None;
        loop {
            let advanced = match toks.get(ti) {
                Some(Tok::Star) => {
                    star = Some((ti + 1, si));
                    ti += 1;
                    continue;
                }
                Some(Tok::One) => match s.get(si) {
                    Some(&b) => {
                        si += utf8_len(b);
                        ti += 1;
                        true
                    }
                    None => false,
                },
                Some(Tok::Lit(lit)) => {
                    if s.get(si..).is_some_and(|rest| rest.starts_with(lit)) {
                        si += lit.len();
                        ti += 1;
                        true
                    } else {
                        false
                    }
                }
                None => {
                    if si >= s.len() {
                        return true;
                    }
                    false
                }
            };
            if advanced {
                continue;
            }
            // Mismatch: let the last `*` swallow one more character and retry after it.
            match star {
                Some((after, start)) => match s.get(start) {
                    Some(&b) => {
                        let next = start + utf8_len(b);
                        star = Some((after, next));
                        ti = after;
                        si = next;
                    }
                    None => return false,
                },
                None => return false,
            }
        }
    }
}

/// The byte length of the UTF-8 sequence starting with `first`.
fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        // A continuation byte cannot start a character; step over it alone.
        _ => 1,
    }
}

#[derive(Default)]
struct GlobBuilder {
    toks: Vec<Tok>,
    lit: Vec<u8>,
}

impl GlobBuilder {
    fn flush(&mut self) {
        if !self.lit.is_empty() {
            self.toks
                .push(Tok::Lit(std::mem::take(&mut self.lit).into_boxed_slice()));
        }
    }

    fn star(&mut self) {
        self.flush();
        // `**` matches the same as `*`.
        if self.toks.last() != Some(&Tok::Star) {
            self.toks.push(Tok::Star);
        }
    }

    fn one(&mut self) {
        self.flush();
        self.toks.push(Tok::One);
    }

    fn lit_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.lit
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    fn lit_str(&mut self, s: &str) {
        self.lit.extend_from_slice(s.as_bytes());
    }

    fn finish(mut self) -> Glob {
        self.flush();
        Glob { toks: self.toks }
    }
}

/// A piece of a policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Star,
    One,
    /// `${key}` or `${key, 'default'}`; the key is lower-cased (keys are case-insensitive).
    Var {
        key: Key,
        default: Option<String>,
    },
}

/// A policy string with its wildcards and variables located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// The text of a `${` that never closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnclosedVariable;

impl Template {
    /// Parses `text`. With `variables` false (policy language `2008-10-17`, or an operator
    /// that takes no variables) `${...}` is plain text. With `wildcards` false, `*` and `?`
    /// are plain text.
    pub(crate) fn parse(
        text: &str,
        variables: bool,
        wildcards: bool,
    ) -> Result<Template, UnclosedVariable> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                let body_start = 2;
                let Some(end) = rest.find('}') else {
                    return Err(UnclosedVariable);
                };
                let body = rest.get(body_start..end).unwrap_or("");
                rest = rest.get(end + 1..).unwrap_or("");
                match body {
                    "*" => lit.push('*'),
                    "?" => lit.push('?'),
                    "$" => lit.push('$'),
                    _ => {
                        if !lit.is_empty() {
                            pieces.push(Piece::Text(std::mem::take(&mut lit)));
                        }
                        pieces.push(parse_variable(body));
                    }
                }
                continue;
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
            match c {
                '*' if wildcards => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Star);
                }
                '?' if wildcards => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::One);
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        Ok(Template { pieces })
    }

    /// Whether the template refers to the request context.
    pub(crate) fn has_variables(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
    }

    /// Whether the template has wildcards.
    pub(crate) fn has_wildcards(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Star | Piece::One))
    }

    /// The glob with every variable filled in from `ctx`; `None` when a variable has no
    /// single value in the context and no default (then the pattern matches nothing).
    pub(crate) fn resolve(&self, ctx: &Context) -> Option<Glob> {
        let mut b = GlobBuilder::default();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => b.lit_str(t),
                Piece::Star => b.star(),
                Piece::One => b.one(),
                Piece::Var { key, default } => b.lit_str(lookup(ctx, key, default.as_deref())?),
            }
        }
        Some(b.finish())
    }

    /// The literal text with variables filled in, for operators without wildcards.
    pub(crate) fn resolve_text(&self, ctx: &Context) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Star => out.push('*'),
                Piece::One => out.push('?'),
                Piece::Var { key, default } => out.push_str(lookup(ctx, key, default.as_deref())?),
            }
        }
        Some(out)
    }

    /// The glob of a template without variables.
    pub(crate) fn to_glob(&self) -> Glob {
        let mut b = GlobBuilder::default();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => b.lit_str(t),
                Piece::Star => b.star(),
                Piece::One => b.one(),
                Piece::Var { .. } => {}
            }
        }
        b.finish()
    }

    /// The text of a template without variables or wildcards.
    pub(crate) fn plain_text(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// A variable's value: the context key if it holds exactly one value, else the default.
/// Multi-valued keys cannot be used as variables.
fn lookup<'a>(ctx: &'a Context, key: &Key, default: Option<&'a str>) -> Option<&'a str> {
    match ctx.get(key).and_then(|v| v.single()) {
        Some(value) => Some(value),
        None => default,
    }
}

/// The inside of `${...}`: `key` or `key, 'default'` (spaces around either are ignored, and
/// `''` inside the default is a single quote).
fn parse_variable(body: &str) -> Piece {
    if let Some((key, rest)) = body.split_once(',') {
        let rest = rest.trim();
        if let Some(inner) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Piece::Var {
                key: Key::new(key.trim()),
                default: Some(inner.replace("''", "'")),
            };
        }
    }
    Piece::Var {
        key: Key::new(body.trim()),
        default: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextValue;

    #[test]
    fn glob_basics() {
        assert!(Glob::new("s3:get*").matches("s3:getobject"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*a*b*").matches("xxaxxbxx"));
        assert!(!Glob::new("*a*b").matches("xxaxxbxxc"));
        assert!(Glob::new("é?").matches("éü"));
    }

    #[test]
    fn variables_resolve_with_defaults_and_escapes() {
        let mut ctx = Context::default();
        ctx.insert("aws:username", ContextValue::one("bob*"));
        let t = Template::parse(
            "home/${aws:username}/${aws:PrincipalTag/team, 'none'}/${*}",
            true,
            true,
        )
        .unwrap();
        let g = t.resolve(&ctx).unwrap();
        assert!(g.matches("home/bob*/none/*"));
        assert!(!g.matches("home/bobby/none/x"));
        let missing = Template::parse("${aws:userid}", true, true).unwrap();
        assert!(missing.resolve(&ctx).is_none());
        assert!(Template::parse("${aws:username", true, true).is_err());
        let legacy = Template::parse("${aws:username}", false, true).unwrap();
        assert_eq!(legacy.plain_text().as_deref(), Some("${aws:username}"));
    }
}

//! Unstructured patterns: terms, quoted phrases, `?`/`-` markers, or one standalone regex.

use super::super::ast::{Pattern, Term, TermKind};
use super::super::error::ProblemKind;
use super::{Parser, is_word};

impl Parser<'_> {
    pub(super) fn standalone_regex(&mut self) -> Option<Pattern> {
        let regex = self.regex()?;
        self.skip_ws();
        if self.pos < self.b.len() {
            let at = self.pos;
            self.problem_at(at, ProblemKind::RegexNotAlone);
            return None;
        }
        Some(Pattern::Regex(regex))
    }

    pub(super) fn terms(&mut self) -> Option<Vec<Term>> {
        let mut terms = Vec::new();
        let mut ok = true;
        loop {
            self.skip_ws();
            let at = self.pos;
            let Some(first) = self.peek() else {
                break;
            };
            let kind = match first {
                b'?' => {
                    self.pos += 1;
                    TermKind::Optional
                }
                b'-' => {
                    self.pos += 1;
                    TermKind::Excluded
                }
                _ => TermKind::Required,
            };
            match self.peek() {
                Some(b'"') => {
                    let text = self.enclosed(b'"', at, "a closing `\"` for this phrase")?;
                    terms.push(Term {
                        kind,
                        text: text.to_owned(),
                    });
                }
                Some(b'%') => {
                    self.problem_at(at, ProblemKind::RegexNotAlone);
                    ok = false;
                    self.pos += 1;
                    while self.peek().is_some_and(|b| b != b'%') {
                        self.pos += 1;
                    }
                    self.pos += 1;
                }
                Some(b) if !b.is_ascii_whitespace() => {
                    let word = self
                        .take_while(|b| !b.is_ascii_whitespace() && b != b'"')
                        .to_owned();
                    if !word.bytes().all(is_word) {
                        self.problem_at(at, ProblemKind::UnquotedTerm { term: word });
                        ok = false;
                    } else {
                        terms.push(Term { kind, text: word });
                    }
                }
                _ => {
                    let after = self.pos;
                    self.expected(after, "a term or a quoted phrase after `?` or `-`");
                    ok = false;
                }
            }
        }
        ok.then_some(terms)
    }
}

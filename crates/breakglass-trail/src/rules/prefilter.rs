//! One multi-substring search that decides which rules can possibly match an event.
//!
//! Each rule contributes the literals of its [`Need`]; all of them go into one Aho-Corasick
//! automaton, run once per event. The literal set is reduced so that no literal contains
//! another (a rule needing "AssumeRoleWithSAML" is satisfied by "AssumeRole" if both occur),
//! which makes a leftmost search restarted after each hit find every literal present.

use aho_corasick::{AhoCorasick, Input, MatchKind, Span, packed};

use crate::pattern::prefilter::Need;

#[derive(Debug)]
enum RuleNeed {
    Always,
    Literals { ids: Vec<u32>, json_escapes: bool },
}

/// Per-thread scratch: which literals were seen in the current event.
#[derive(Debug, Clone)]
pub struct PrefilterScratch {
    seen: Vec<u32>,
    generation: u32,
}

/// The multi-substring searcher: SIMD Teddy when it can be built (it is much faster than
/// the automaton's own prefilters on JSON, whose first bytes are very repetitive), else an
/// Aho-Corasick automaton.
#[derive(Debug)]
enum Searcher {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Searcher {
    fn build(literals: &[Vec<u8>]) -> Option<Searcher> {
        let mut builder = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder();
        builder.extend(literals);
        if let Some(p) = builder.build() {
            return Some(Searcher::Packed(p));
        }
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(literals)
            .ok()
            .map(Searcher::Automaton)
    }

    /// The leftmost match starting at or after `at`: (pattern id, start).
    #[inline]
    fn find(&self, haystack: &[u8], at: usize) -> Option<(usize, usize)> {
        let m = match self {
            Searcher::Packed(p) => p.find_in(haystack, Span::from(at..haystack.len()))?,
            Searcher::Automaton(a) => a.find(Input::new(haystack).span(at..haystack.len()))?,
        };
        Some((m.pattern().as_usize(), m.start()))
    }
}

#[derive(Debug)]
pub(super) struct Prefilter {
    searcher: Option<Searcher>,
    literals: usize,
    /// Whether a rule is satisfied by a JSON escape (`\u` or `\/`, which can hide a
    /// literal), so events are looked at for one.
    escapes_matter: bool,
    needs: Vec<RuleNeed>,
}

/// Whether `raw` holds `\u` or `\/`, the JSON escapes that can spell a literal differently.
/// Found apart from the rules' literals: a two-byte literal among them would make the
/// multi-substring search fingerprint on two bytes, which JSON matches everywhere.
fn has_escape(raw: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', raw).any(|i| matches!(raw.get(i + 1), Some(b'u' | b'/')))
}

impl Prefilter {
    pub(super) fn new(needs: Vec<Need>) -> Prefilter {
        let mut all: Vec<Vec<u8>> = Vec::new();
        for need in &needs {
            if let Need::AnyOf { literals, .. } = need {
                all.extend(literals.iter().cloned());
            }
        }
        all.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        all.dedup();
        // Keep a literal only if no shorter kept literal occurs inside it; map the rest to
        // the kept literal they contain.
        let mut kept: Vec<Vec<u8>> = Vec::new();
        let mut alias: Vec<(Vec<u8>, u32)> = Vec::new();
        for lit in all {
            let inner = kept
                .iter()
                .position(|k| memchr::memmem::find(&lit, k).is_some());
            match inner {
                Some(k) => alias.push((lit, k as u32)),
                None => {
                    alias.push((lit.clone(), kept.len() as u32));
                    kept.push(lit);
                }
            }
        }
        let id_of = |lit: &[u8]| {
            alias
                .iter()
                .find(|(l, _)| l.as_slice() == lit)
                .map_or(0, |(_, id)| *id)
        };
        let searcher = Searcher::build(&kept);
        let rule_needs: Vec<RuleNeed> = needs
            .into_iter()
            .map(|need| match (&searcher, need) {
                (
                    Some(_),
                    Need::AnyOf {
                        literals,
                        json_escapes,
                    },
                ) => {
                    let mut ids: Vec<u32> = literals.iter().map(|l| id_of(l)).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    RuleNeed::Literals { ids, json_escapes }
                }
                _ => RuleNeed::Always,
            })
            .collect();
        let escapes_matter = rule_needs.iter().any(|n| {
            matches!(
                n,
                RuleNeed::Literals {
                    json_escapes: true,
                    ..
                }
            )
        });
        Prefilter {
            searcher,
            literals: kept.len(),
            escapes_matter,
            needs: rule_needs,
        }
    }

    pub(super) fn scratch(&self) -> PrefilterScratch {
        PrefilterScratch {
            seen: vec![0; self.literals],
            generation: 0,
        }
    }

    pub(super) fn prefiltered(&self) -> Vec<bool> {
        self.needs
            .iter()
            .map(|n| matches!(n, RuleNeed::Literals { .. }))
            .collect()
    }

    /// Pushes the indexes of rules that may match `raw` onto `out`.
    pub(super) fn candidates(
        &self,
        raw: &[u8],
        scratch: &mut PrefilterScratch,
        out: &mut Vec<usize>,
    ) {
        if scratch.seen.len() != self.literals {
            *scratch = self.scratch();
        }
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.seen.iter_mut().for_each(|s| *s = 0);
            scratch.generation = 1;
        }
        let generation = scratch.generation;
        if let Some(searcher) = &self.searcher {
            let mut at = 0;
            while at < raw.len() {
                let Some((id, start)) = searcher.find(raw, at) else {
                    break;
                };
                if let Some(s) = scratch.seen.get_mut(id) {
                    *s = generation;
                }
                at = start + 1;
            }
        }
        let seen = |id: u32| scratch.seen.get(id as usize) == Some(&generation);
        let escaped = self.escapes_matter && has_escape(raw);
        for (i, need) in self.needs.iter().enumerate() {
            let possible = match need {
                RuleNeed::Always => true,
                RuleNeed::Literals { ids, json_escapes } => {
                    (*json_escapes && escaped) || ids.iter().any(|&id| seen(id))
                }
            };
            if possible {
                out.push(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(v: &[&str], json: bool) -> Need {
        Need::AnyOf {
            literals: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            json_escapes: json,
        }
    }

    fn run(p: &Prefilter, raw: &str) -> Vec<usize> {
        let mut s = p.scratch();
        let mut out = Vec::new();
        p.candidates(raw.as_bytes(), &mut s, &mut out);
        out
    }

    #[test]
    fn overlapping_and_nested_literals_are_all_found() {
        let p = Prefilter::new(vec![
            lits(&["AssumeRole"], false),
            lits(&["AssumeRoleWithSAML"], false),
            lits(&["RoleWith"], false),
            Need::Anything,
            lits(&["abc"], false),
            lits(&["bcd"], false),
        ]);
        assert_eq!(run(&p, "xx AssumeRoleWithSAML yy"), vec![0, 1, 2, 3]);
        assert_eq!(run(&p, "AssumeRole"), vec![0, 3]);
        assert_eq!(run(&p, "AssumeRoleWithWeb"), vec![0, 1, 2, 3]);
        assert_eq!(run(&p, "abcd"), vec![3, 4, 5]);
        assert_eq!(run(&p, "nothing"), vec![3]);
    }

    #[test]
    fn json_escapes_make_json_rules_candidates() {
        let p = Prefilter::new(vec![lits(&["AssumeRole"], true), lits(&["ERROR"], false)]);
        assert_eq!(run(&p, r#"{"e":"Assume\u0052ole"}"#), vec![0]);
        assert_eq!(run(&p, r#"{"a":"x\/y"}"#), vec![0]);
        assert!(run(&p, r#"{"a":"x"}"#).is_empty());
        // A backslash that ends the input, or escapes something else, is no such escape.
        assert!(run(&p, "{\"a\":\"x\\").is_empty());
        assert!(run(&p, r#"{"a":"x\"y\n"}"#).is_empty());
    }

    #[test]
    fn escapes_are_looked_for_only_when_a_rule_needs_them_and_literals_may_hold_them() {
        // No rule is satisfied by an escape: an escaped event is no candidate.
        let p = Prefilter::new(vec![lits(&["AssumeRole"], false)]);
        assert!(!p.escapes_matter);
        assert!(run(&p, r#"{"e":"Assume\u0052ole"}"#).is_empty());
        // A literal that holds an escape's bytes is searched as itself.
        let p = Prefilter::new(vec![lits(&[r"a\u0041b"], false), lits(&["ERROR"], false)]);
        assert_eq!(run(&p, r#"{"k":"a\u0041b"}"#), vec![0]);
        assert!(run(&p, r#"{"k":"a\u0041c"}"#).is_empty());
    }
}

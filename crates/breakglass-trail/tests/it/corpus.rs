//! The filter-pattern corpus: every JSON file under `corpus/patterns/` is a topic of
//! (pattern, event, expected) cases, run here by one harness.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use breakglass_trail::{Event, FilterPattern};
use serde_json::Value;

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/corpus/patterns")
}

/// One case, with the bytes it runs on resolved.
pub struct Case {
    pub file: String,
    pub name: String,
    pub pattern: String,
    pub expect: Expect,
    /// Columns of the warnings the pattern must produce (none unless the case lists them).
    pub warnings: Vec<usize>,
}

pub enum Expect {
    /// A JSON event (raw bytes) and whether the pattern matches it.
    Event(Vec<u8>, bool),
    /// A raw log message and whether the pattern matches it.
    Message(String, bool),
    /// A parse error at these columns whose message contains this text.
    Error(Vec<usize>, String),
    /// The canonical printing.
    Canonical(String),
}

fn event_bytes(v: &Value, events: &BTreeMap<String, Value>, file: &str) -> Vec<u8> {
    let v = match v.as_str().and_then(|s| s.strip_prefix('@')) {
        Some(name) => events
            .get(name)
            .unwrap_or_else(|| panic!("{file}: no event named `{name}`")),
        None => v,
    };
    match v {
        Value::String(raw) => raw.as_bytes().to_vec(),
        other => serde_json::to_vec(other).unwrap(),
    }
}

pub fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let events: BTreeMap<String, Value> = doc
            .get("events")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let list = doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no cases"));
        assert!(!list.is_empty(), "{file} has no cases");
        for c in list {
            let name = c["name"].as_str().unwrap().to_owned();
            let pattern = c["pattern"].as_str().unwrap().to_owned();
            let expect = if let Some(err) = c.get("error") {
                let columns = err["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_u64().unwrap() as usize)
                    .collect();
                Expect::Error(columns, err["contains"].as_str().unwrap().to_owned())
            } else if let Some(canonical) = c.get("canonical") {
                Expect::Canonical(canonical.as_str().unwrap().to_owned())
            } else if let Some(ev) = c.get("event") {
                Expect::Event(
                    event_bytes(ev, &events, &file),
                    c["match"].as_bool().unwrap(),
                )
            } else if let Some(msg) = c.get("message") {
                Expect::Message(
                    msg.as_str().unwrap().to_owned(),
                    c["match"].as_bool().unwrap(),
                )
            } else {
                panic!("{file}: case `{name}` has no expectation");
            };
            let warnings = c
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| w.iter().map(|n| n.as_u64().unwrap() as usize).collect())
                .unwrap_or_default();
            cases.push(Case {
                file: file.clone(),
                name,
                pattern,
                expect,
                warnings,
            });
        }
    }
    cases
}

/// Runs one case; `Err` describes the mismatch.
fn run(case: &Case) -> Result<(), String> {
    let parsed = FilterPattern::parse(&case.pattern);
    if let Ok(p) = &parsed {
        let got: Vec<usize> = p.warnings().iter().map(|w| w.column).collect();
        if got != case.warnings {
            return Err(format!(
                "warnings at columns {got:?}, expected {:?}: {}",
                case.warnings,
                p.render_warnings()
            ));
        }
        if !got.is_empty() {
            // What is deployed is the canonical form, which must itself be warning-free.
            let deployed = FilterPattern::parse(&p.deployable()).map_err(|e| e.to_string())?;
            if !deployed.warnings().is_empty() || deployed != *p {
                return Err(format!(
                    "the deployable form `{}` is not clean",
                    p.deployable()
                ));
            }
        }
    }
    match &case.expect {
        Expect::Error(columns, contains) => {
            let err = match parsed {
                Ok(p) => return Err(format!("parsed, expected an error: {p}")),
                Err(e) => e,
            };
            let got: Vec<usize> = err.problems().iter().map(|p| p.column).collect();
            let text = err.to_string();
            if &got != columns || !text.contains(contains.as_str()) {
                return Err(format!(
                    "expected columns {columns:?} and text containing `{contains}`, got {got:?}: {text}"
                ));
            }
            Ok(())
        }
        Expect::Canonical(want) => {
            let p = parsed.map_err(|e| e.to_string())?;
            let printed = p.to_string();
            if &printed != want {
                return Err(format!("printed `{printed}`, expected `{want}`"));
            }
            let again = FilterPattern::parse(&printed).map_err(|e| e.to_string())?;
            if again != p {
                return Err(format!("`{printed}` parses to a different tree"));
            }
            Ok(())
        }
        Expect::Event(raw, want) => {
            let p = parsed.map_err(|e| e.to_string())?;
            let event = Event::parse(raw).map_err(|e| format!("bad test event: {e}"))?;
            let got = p.matches(&event);
            if got != *want {
                return Err(format!("matched = {got}, expected {want}"));
            }
            let canonical = FilterPattern::parse(&p.to_string()).map_err(|e| e.to_string())?;
            if canonical.matches(&event) != *want {
                return Err(format!("the canonical form `{canonical}` disagrees"));
            }
            if p.matches_message(raw) != *want {
                return Err("matches_message disagrees with matches".to_owned());
            }
            Ok(())
        }
        Expect::Message(msg, want) => {
            let p = parsed.map_err(|e| e.to_string())?;
            let got = p.matches_message(msg.as_bytes());
            if got != *want {
                return Err(format!("matched = {got}, expected {want}"));
            }
            Ok(())
        }
    }
}

#[test]
fn every_corpus_case_holds() {
    let cases = load();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run(c)
                .err()
                .map(|e| format!("{} / {}: `{}`: {e}", c.file, c.name, c.pattern))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_has_at_least_200_cases() {
    let n = load().len();
    assert!(n >= 200, "only {n} corpus cases");
}

#[test]
fn every_cis_pattern_parses_and_has_matching_and_non_matching_events() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("cis.json")).unwrap())
            .unwrap();
    let patterns = doc["patterns"].as_object().unwrap();
    assert!(patterns.len() >= 15, "{} CIS patterns", patterns.len());
    for (name, pattern) in patterns {
        let pattern = pattern.as_str().unwrap();
        FilterPattern::parse(pattern).unwrap_or_else(|e| panic!("CIS {name}: {e}"));
        let outcomes: Vec<bool> = doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["pattern"] == pattern)
            .map(|c| c["match"].as_bool().unwrap())
            .collect();
        assert!(
            outcomes.contains(&true) && outcomes.contains(&false),
            "CIS {name} needs a matching and a non-matching case: {outcomes:?}"
        );
    }
}

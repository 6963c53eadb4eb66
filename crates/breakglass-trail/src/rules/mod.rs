//! Alert rules: a filter pattern with an id, a severity, an optional alarm and examples.
//!
//! Rules come from TOML files (see [`load_toml`]) or from the built-in pack
//! ([`builtin::rules`]). Every rule's examples are checked when it is loaded, so a rule that
//! no longer matches what it was written for is refused rather than silently missing events.
//!
//! ```toml
//! version = 1
//!
//! [[rule]]
//! id = "emergency-role-assumed"          # lowercase letters, digits, `-`
//! title = "The emergency role was assumed"
//! severity = "critical"                  # info, low, medium, high, critical
//! description = "optional"
//! tags = ["break-glass"]
//! pattern = '{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*EMERGENCY*" }'
//! alarm = { threshold = 1, period = 300 }   # optional: matches per period (seconds)
//!
//! [rule.examples]                        # optional, checked at load time
//! match = ['{"eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/EMERGENCY"}}']
//! no_match = ['{"eventName":"AssumeRole","requestParameters":null}']
//! ```

mod alarm;
pub mod builtin;
mod prefilter;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use alarm::{AlarmCounts, FiredAlarm};
pub use prefilter::PrefilterScratch;

use crate::event::Event;
use crate::pattern::FilterPattern;
use prefilter::Prefilter;

/// How loud a finding is. `high` and `critical` findings make `breakglass scan` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Should a finding of this severity fail a scan?
    pub fn is_alerting(self) -> bool {
        self >= Severity::High
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A CloudWatch alarm on the rule's metric: it fires for every period whose count of matches
/// reaches `threshold` (statistic `Sum`, `GreaterThanOrEqualToThreshold`, one evaluation
/// period), periods aligned to the epoch as CloudWatch aligns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    pub threshold: u32,
    /// Seconds: 10, 30, or a multiple of 60 (CloudWatch's allowed periods).
    pub period: u32,
}

/// A validated alert rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub pattern: FilterPattern,
    pub alarm: Option<Alarm>,
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: u32,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    severity: Severity,
    description: Option<String>,
    pattern: String,
    alarm: Option<Alarm>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    examples: RawExamples,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExamples {
    #[serde(default, rename = "match")]
    matching: Vec<String>,
    #[serde(default)]
    no_match: Vec<String>,
}

/// Why a rule file was refused: every problem found, each naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule file `{source_name}`: {}", problems.join("; "))]
pub struct RuleFileError {
    pub source_name: String,
    pub problems: Vec<String>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_alarm(alarm: &Alarm) -> Option<String> {
    if alarm.threshold == 0 {
        return Some("alarm `threshold` must be at least 1".to_owned());
    }
    let p = alarm.period;
    if !(p == 10 || p == 30 || (p >= 60 && p.is_multiple_of(60))) {
        return Some(format!(
            "alarm `period` {p} is not a CloudWatch period (10, 30 or a multiple of 60 seconds)"
        ));
    }
    None
}

/// Checks one rule's examples; returns a problem per failing example.
fn check_examples(id: &str, pattern: &FilterPattern, examples: &RawExamples) -> Vec<String> {
    let mut problems = Vec::new();
    let sets = [(true, &examples.matching), (false, &examples.no_match)];
    for (want, list) in sets {
        for (i, text) in list.iter().enumerate() {
            let kind = if want { "match" } else { "no_match" };
            match Event::parse(text.trim().as_bytes()) {
                Err(e) => problems.push(format!(
                    "rule `{id}`: example {kind}[{i}] is not a JSON event: {e}"
                )),
                Ok(event) if pattern.matches(&event) != want => problems.push(format!(
                    "rule `{id}`: example {kind}[{i}] {}",
                    if want {
                        "should match but does not"
                    } else {
                        "should not match but does"
                    }
                )),
                Ok(_) => {}
            }
        }
    }
    problems
}

/// Parses and validates a TOML rule file (`version = 1` and `[[rule]]` tables).
pub fn load_toml(source_name: &str, text: &str) -> Result<Vec<Rule>, RuleFileError> {
    load_toml_with(source_name, text, &|s: &str| s.to_owned())
}

/// Like [`load_toml`], passing each pattern and example through `expand` first.
pub(crate) fn load_toml_with(
    source_name: &str,
    text: &str,
    expand: &dyn Fn(&str) -> String,
) -> Result<Vec<Rule>, RuleFileError> {
    let fail = |problems: Vec<String>| RuleFileError {
        source_name: source_name.to_owned(),
        problems,
    };
    let raw: RawFile =
        toml::from_str(text).map_err(|e| fail(vec![e.to_string().trim().replace('\n', " ")]))?;
    if raw.version != 1 {
        return Err(fail(vec![format!(
            "unsupported `version` {}: this breakglass reads version 1",
            raw.version
        )]));
    }
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for r in raw.rules {
        if !valid_id(&r.id) {
            problems.push(format!(
                "rule id `{}` must be 1-64 lowercase letters, digits and `-`",
                r.id
            ));
        }
        if !ids.insert(r.id.clone()) {
            problems.push(format!("rule id `{}` is used twice", r.id));
        }
        if let Some(p) = r.alarm.as_ref().and_then(check_alarm) {
            problems.push(format!("rule `{}`: {p}", r.id));
        }
        let pattern = match FilterPattern::parse(&expand(&r.pattern)) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("rule `{}`: {e}", r.id));
                continue;
            }
        };
        let examples = RawExamples {
            matching: r.examples.matching.iter().map(|e| expand(e)).collect(),
            no_match: r.examples.no_match.iter().map(|e| expand(e)).collect(),
        };
        problems.extend(check_examples(&r.id, &pattern, &examples));
        rules.push(Rule {
            id: r.id,
            title: r.title,
            severity: r.severity,
            description: r.description,
            pattern,
            alarm: r.alarm,
            tags: r.tags,
        });
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(fail(problems))
    }
}

/// Two rules with one id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule id `{0}` is defined more than once")]
pub struct DuplicateRuleId(pub String);

/// Rules compiled for scanning: one literal prefilter over all of them.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    prefilter: Prefilter,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet, DuplicateRuleId> {
        let mut ids = std::collections::BTreeSet::new();
        for r in &rules {
            if !ids.insert(r.id.as_str()) {
                return Err(DuplicateRuleId(r.id.clone()));
            }
        }
        let prefilter = Prefilter::new(rules.iter().map(|r| r.pattern.need()).collect());
        Ok(RuleSet { rules, prefilter })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Scratch space for [`RuleSet::matching`], one per scanning thread.
    pub fn scratch(&self) -> PrefilterScratch {
        self.prefilter.scratch()
    }

    /// Which rules have a literal prefilter (the others see every event).
    pub fn prefiltered(&self) -> Vec<bool> {
        self.prefilter.prefiltered()
    }

    /// Indexes of the rules that match `event`, in rule order, into `out` (cleared first).
    pub fn matching(
        &self,
        event: &Event<'_>,
        scratch: &mut PrefilterScratch,
        out: &mut Vec<usize>,
    ) {
        out.clear();
        self.prefilter.candidates(event.raw(), scratch, out);
        out.retain(|&i| self.rules.get(i).is_some_and(|r| r.pattern.matches(event)));
    }
}

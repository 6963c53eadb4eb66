//! Alarm evaluation: matches counted per rule and period, mergeable across scanners.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Rule;

/// Matches per (rule index, period start) for rules that have an alarm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmCounts {
    counts: BTreeMap<(usize, i64), u64>,
}

/// One period in which a rule's alarm threshold was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FiredAlarm {
    pub rule: String,
    /// Epoch seconds where the period starts and ends.
    pub period_start: i64,
    pub period_end: i64,
    pub count: u64,
    pub threshold: u32,
}

impl AlarmCounts {
    /// Counts one match of `rule` (index `index`) at epoch second `time`.
    pub fn add(&mut self, index: usize, rule: &Rule, time: i64) {
        if let Some(alarm) = rule.alarm {
            let period = i64::from(alarm.period.max(1));
            let start = time.div_euclid(period) * period;
            *self.counts.entry((index, start)).or_default() += 1;
        }
    }

    /// Adds another scanner's counts.
    pub fn merge(&mut self, other: AlarmCounts) {
        for (k, v) in other.counts {
            *self.counts.entry(k).or_default() += v;
        }
    }

    /// Periods whose count reached the threshold, by rule order then time.
    pub fn fired(&self, rules: &[Rule]) -> Vec<FiredAlarm> {
        self.counts
            .iter()
            .filter_map(|(&(index, start), &count)| {
                let rule = rules.get(index)?;
                let alarm = rule.alarm?;
                (count >= u64::from(alarm.threshold)).then(|| FiredAlarm {
                    rule: rule.id.clone(),
                    period_start: start,
                    period_end: start + i64::from(alarm.period),
                    count,
                    threshold: alarm.threshold,
                })
            })
            .collect()
    }
}

//! The scanner: records from readers, through the time window and the duplicate filter, to
//! rules, findings and alarm counts.
//!
//! A [`Scanner`] is single-threaded and owns its scratch space; parallel callers run one per
//! thread and merge the [`ScanSummary`]s. Findings are handed to a callback as they are found
//! and never accumulated, so memory does not grow with the input.

use std::io::Read;

use serde::Serialize;

use crate::dedupe::{EventKey, SeenIds};
use crate::event::Event;
use crate::read::{Limits, ReadBuffers, ReadError, ReadStats, RecordError, read_records_with};
use crate::rules::{AlarmCounts, PrefilterScratch, Rule, RuleSet};
use crate::time::TimeField;

/// What to scan and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    pub limits: Limits,
    /// Only events at or after this epoch second.
    pub since: Option<i64>,
    /// Only events before this epoch second.
    pub until: Option<i64>,
}

/// A rule that matched an event.
#[derive(Debug, Clone, Copy)]
pub struct Finding<'a> {
    pub rule: &'a Rule,
    pub rule_index: usize,
    /// The record's index in its input.
    pub record: u64,
    pub event: Event<'a>,
}

/// Totals of a scan; merge the summaries of parallel scanners with [`ScanSummary::merge`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    /// Inputs read to the end.
    pub inputs: u64,
    /// Inputs that stopped early on an error (their earlier records were scanned).
    pub inputs_failed: u64,
    /// Records read, duplicates and out-of-window records included.
    pub records: u64,
    /// Records skipped because they were broken.
    pub skipped_records: u64,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    /// Records dropped as duplicate deliveries.
    pub duplicates: u64,
    /// Records whose time is outside `--since`/`--until`.
    pub outside_window: u64,
    /// Records with neither a usable `eventTime` nor a usable `@timestamp`: left out of alarm
    /// periods, and left out of the scan altogether when a window is set.
    pub without_time: u64,
    /// Records whose time came from `@timestamp` because `eventTime` was missing or invalid.
    pub time_from_timestamp: u64,
    /// Records the rules saw.
    pub events: u64,
    /// Matches per rule, in rule order.
    pub matches: Vec<u64>,
    #[serde(skip)]
    pub alarms: AlarmCounts,
}

impl ScanSummary {
    pub fn merge(&mut self, other: ScanSummary) {
        self.inputs += other.inputs;
        self.inputs_failed += other.inputs_failed;
        self.records += other.records;
        self.skipped_records += other.skipped_records;
        self.bytes += other.bytes;
        self.duplicates += other.duplicates;
        self.outside_window += other.outside_window;
        self.without_time += other.without_time;
        self.time_from_timestamp += other.time_from_timestamp;
        self.events += other.events;
        if self.matches.len() < other.matches.len() {
            self.matches.resize(other.matches.len(), 0);
        }
        for (a, b) in self.matches.iter_mut().zip(other.matches) {
            *a += b;
        }
        self.alarms.merge(other.alarms);
    }

    /// All matches, all rules.
    pub fn total_matches(&self) -> u64 {
        self.matches.iter().sum()
    }
}

/// Scans inputs against a rule set.
pub struct Scanner<'r, S: SeenIds> {
    rules: &'r RuleSet,
    seen: S,
    options: ScanOptions,
    summary: ScanSummary,
    scratch: PrefilterScratch,
    hits: Vec<usize>,
    buffers: ReadBuffers,
}

impl<'r, S: SeenIds> Scanner<'r, S> {
    /// A scanner; `seen` decides duplicates ([`crate::dedupe::Dedupe`], or
    /// [`crate::dedupe::KeepAll`] to keep them).
    pub fn new(rules: &'r RuleSet, seen: S, options: ScanOptions) -> Self {
        Scanner {
            rules,
            seen,
            options,
            summary: ScanSummary {
                matches: vec![0; rules.len()],
                ..ScanSummary::default()
            },
            scratch: rules.scratch(),
            hits: Vec::new(),
            buffers: ReadBuffers::default(),
        }
    }

    /// Scans one input. Findings go to `on_finding` and skipped records to `on_skip` as they
    /// happen; an error ends this input only (what came before it counts).
    pub fn scan<R: Read>(
        &mut self,
        input: R,
        on_finding: &mut dyn FnMut(Finding<'_>),
        on_skip: &mut dyn FnMut(RecordError),
    ) -> Result<ReadStats, ReadError> {
        let mut stats = ReadStats::default();
        let rules = self.rules;
        let options = self.options;
        let window = options.since.is_some() || options.until.is_some();
        let Scanner {
            seen,
            summary,
            scratch,
            hits,
            buffers,
            ..
        } = self;
        let result = read_records_with(input, &options.limits, buffers, &mut stats, |item| {
            let record = match item {
                Ok(r) => r,
                Err(e) => {
                    on_skip(e);
                    return;
                }
            };
            let time = match record.time() {
                Some((t, field)) => {
                    if field == TimeField::Timestamp {
                        summary.time_from_timestamp += 1;
                    }
                    Some(t)
                }
                None => {
                    summary.without_time += 1;
                    None
                }
            };
            if window {
                // A record without a usable time cannot be placed in the window; it is counted
                // in `without_time`.
                let Some(t) = time else {
                    return;
                };
                if options.since.is_some_and(|s| t < s) || options.until.is_some_and(|u| t >= u) {
                    summary.outside_window += 1;
                    return;
                }
            }
            if let Some(id) = record.event_id()
                && !seen.first_sighting(EventKey::of(id))
            {
                summary.duplicates += 1;
                return;
            }
            summary.events += 1;
            let event = record.event();
            rules.matching(&event, scratch, hits);
            for &i in hits.iter() {
                let Some(rule) = rules.rules().get(i) else {
                    continue;
                };
                if let Some(m) = summary.matches.get_mut(i) {
                    *m += 1;
                }
                if rule.alarm.is_some()
                    && let Some(t) = time
                {
                    summary.alarms.add(i, rule, t);
                }
                on_finding(Finding {
                    rule,
                    rule_index: i,
                    record: record.index(),
                    event,
                });
            }
        });
        summary.records += stats.records + stats.skipped;
        summary.skipped_records += stats.skipped;
        summary.bytes += stats.bytes;
        match &result {
            Ok(()) => summary.inputs += 1,
            Err(_) => summary.inputs_failed += 1,
        }
        result.map(|()| stats)
    }

    pub fn summary(&self) -> &ScanSummary {
        &self.summary
    }

    /// The totals, for merging with other scanners'.
    pub fn finish(self) -> ScanSummary {
        self.summary
    }
}

//! The scanner: prefilters never change an answer, duplicates, time windows, alarms, merging.

use breakglass_trail::dedupe::{Dedupe, KeepAll, SeenIds};
use breakglass_trail::rules::{Rule, RuleSet, Severity, load_toml};
use breakglass_trail::scan::{ScanOptions, ScanSummary, Scanner};
use breakglass_trail::{Event, FilterPattern};

use crate::corpus::{Expect, load};

fn rule(id: &str, pattern: &str) -> Rule {
    Rule {
        id: id.to_owned(),
        title: id.to_owned(),
        severity: Severity::High,
        description: None,
        pattern: FilterPattern::parse(pattern).unwrap(),
        alarm: None,
        tags: Vec::new(),
    }
}

/// Scans `input` and returns the ids of the matched rules, in order, and the summary.
fn scan<S: SeenIds>(
    rules: &RuleSet,
    seen: S,
    options: ScanOptions,
    inputs: &[&[u8]],
) -> (Vec<String>, ScanSummary) {
    let mut scanner = Scanner::new(rules, seen, options);
    let mut hits = Vec::new();
    for input in inputs {
        let _ = scanner.scan(*input, &mut |f| hits.push(f.rule.id.clone()), &mut |e| {
            panic!("skipped: {e}")
        });
    }
    (hits, scanner.finish())
}

#[test]
fn the_prefilter_never_changes_a_corpus_answer() {
    // Every JSON-event case of the corpus, scanned as an NDJSON record through a rule set
    // holding all corpus patterns at once (so literals of other rules interfere).
    let cases: Vec<_> = load()
        .into_iter()
        .filter(|c| matches!(c.expect, Expect::Event(..)))
        .collect();
    let mut patterns: Vec<String> = cases.iter().map(|c| c.pattern.clone()).collect();
    patterns.sort();
    patterns.dedup();
    let rules = RuleSet::new(
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| rule(&format!("p{i}"), p))
            .collect(),
    )
    .unwrap();
    let mut scratch = rules.scratch();
    let mut out = Vec::new();
    for c in &cases {
        let Expect::Event(raw, want) = &c.expect else {
            unreachable!()
        };
        let event = Event::parse(raw).unwrap();
        rules.matching(&event, &mut scratch, &mut out);
        let index = patterns.iter().position(|p| p == &c.pattern).unwrap();
        assert_eq!(
            out.contains(&index),
            *want,
            "{} / {}: prefiltered scan disagrees",
            c.file,
            c.name
        );
        // And the rules that matched are exactly those whose pattern matches on its own.
        for (i, r) in rules.rules().iter().enumerate() {
            assert_eq!(out.contains(&i), r.pattern.matches(&event), "{}", r.pattern);
        }
    }
}

const E1: &str = r#"{"eventID":"293ba626-3be5-4a26-ab1b-0f4c54f49959","eventTime":"2024-03-01T10:00:10Z","eventName":"StopLogging"}"#;
const E2: &str = r#"{"eventID":"293ba626-3be5-4a26-ab1b-0f4c54f4995a","eventTime":"2024-03-01T10:04:59Z","eventName":"StopLogging"}"#;
const E3: &str = r#"{"eventID":"293ba626-3be5-4a26-ab1b-0f4c54f4995b","eventTime":"2024-03-01T10:05:00Z","eventName":"StopLogging"}"#;
const NO_TIME: &str = r#"{"eventID":"x","eventName":"StopLogging"}"#;

fn stop_logging() -> RuleSet {
    RuleSet::new(
        load_toml(
            "t",
            r#"version = 1
[[rule]]
id = "stop"
title = "stop"
severity = "critical"
pattern = '{ $.eventName = "StopLogging" }'
alarm = { threshold = 2, period = 300 }
"#,
        )
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn duplicate_deliveries_are_dropped_across_inputs() {
    let rules = stop_logging();
    let first = format!(r#"{{"Records":[{E1},{E2}]}}"#);
    let again = format!(r#"{{"Records":[{E2},{E3}]}}"#);
    let inputs = [first.as_bytes(), again.as_bytes()];
    let (hits, s) = scan(&rules, Dedupe::default(), ScanOptions::default(), &inputs);
    assert_eq!(hits.len(), 3);
    assert_eq!((s.records, s.duplicates, s.events, s.inputs), (4, 1, 3, 2));
    let (hits, s) = scan(&rules, KeepAll, ScanOptions::default(), &inputs);
    assert_eq!((hits.len(), s.duplicates), (4, 0));
}

#[test]
fn alarms_count_per_aligned_period_against_the_threshold() {
    let rules = stop_logging();
    let input = format!("{E1}\n{E2}\n{E3}\n");
    let (_, s) = scan(
        &rules,
        Dedupe::default(),
        ScanOptions::default(),
        &[input.as_bytes()],
    );
    let fired = s.alarms.fired(rules.rules());
    // 10:00:10 and 10:04:59 fall in [10:00, 10:05): 2 >= 2 fires; 10:05:00 alone does not.
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].count, 2);
    assert_eq!(fired[0].period_start, 1_709_287_200);
    assert_eq!(fired[0].period_end, 1_709_287_500);
}

#[test]
fn the_time_window_is_half_open_and_excludes_events_without_time() {
    let rules = stop_logging();
    let input = format!("{E1}\n{E2}\n{E3}\n{NO_TIME}\n");
    let options = ScanOptions {
        since: Some(1_709_287_210),
        until: Some(1_709_287_500),
        ..ScanOptions::default()
    };
    let (hits, s) = scan(&rules, Dedupe::default(), options, &[input.as_bytes()]);
    assert_eq!(hits.len(), 2, "E1 is at since, E2 inside, E3 at until");
    assert_eq!((s.outside_window, s.without_time), (1, 1));
    let (hits, _) = scan(
        &rules,
        Dedupe::default(),
        ScanOptions::default(),
        &[input.as_bytes()],
    );
    assert_eq!(
        hits.len(),
        4,
        "without a window, events without time are scanned"
    );
}

#[test]
fn summaries_of_split_scans_merge_to_the_whole() {
    let rules = stop_logging();
    let a = format!("{E1}\n{E2}\n");
    let b = format!("{E3}\n");
    let (_, whole) = scan(
        &rules,
        KeepAll,
        ScanOptions::default(),
        &[a.as_bytes(), b.as_bytes()],
    );
    let (_, mut left) = scan(&rules, KeepAll, ScanOptions::default(), &[a.as_bytes()]);
    let (_, right) = scan(&rules, KeepAll, ScanOptions::default(), &[b.as_bytes()]);
    left.merge(right);
    assert_eq!(left, whole);
    assert_eq!(
        left.alarms.fired(rules.rules()),
        whole.alarms.fired(rules.rules())
    );
}

#[test]
fn a_failed_input_counts_and_keeps_what_was_read() {
    let rules = stop_logging();
    let broken = format!(r#"{{"Records":[{E1},{{"eventName":}}]}}"#);
    let mut scanner = Scanner::new(&rules, KeepAll, ScanOptions::default());
    let mut hits = 0;
    let err = scanner
        .scan(broken.as_bytes(), &mut |_| hits += 1, &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string().starts_with("record 1: invalid JSON"),
        "{err}"
    );
    let ok = format!("{E2}\n");
    scanner
        .scan(ok.as_bytes(), &mut |_| hits += 1, &mut |_| {})
        .unwrap();
    let s = scanner.finish();
    assert_eq!((hits, s.inputs, s.inputs_failed, s.records), (2, 1, 1, 2));
}

/// E1–E3 as a log store exports them: no `eventTime`, the time in `@timestamp` (Elastic
/// writes milliseconds).
fn timestamp_only(event: &str) -> String {
    let t = event
        .split(r#""eventTime":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    event.replace(
        &format!(r#""eventTime":"{t}""#),
        &format!(r#""@timestamp":"{}.000Z""#, t.trim_end_matches('Z')),
    )
}

#[test]
fn an_export_with_only_timestamp_is_windowed_and_alarmed_by_it() {
    let rules = stop_logging();
    let input = format!(
        "{}\n{}\n{}\n{NO_TIME}\n",
        timestamp_only(E1),
        timestamp_only(E2),
        timestamp_only(E3)
    );
    assert!(!input.contains("eventTime"));
    let options = ScanOptions {
        since: Some(1_709_287_210),
        until: Some(1_709_287_500),
        ..ScanOptions::default()
    };
    let (hits, s) = scan(&rules, Dedupe::default(), options, &[input.as_bytes()]);
    assert_eq!(hits.len(), 2, "the window reads @timestamp");
    assert_eq!(
        (s.outside_window, s.without_time, s.time_from_timestamp),
        (1, 1, 3)
    );

    let (hits, s) = scan(
        &rules,
        Dedupe::default(),
        ScanOptions::default(),
        &[input.as_bytes()],
    );
    assert_eq!(hits.len(), 4);
    assert_eq!(
        (s.without_time, s.time_from_timestamp),
        (1, 3),
        "records without any time are counted even without a window"
    );
    let fired = s.alarms.fired(rules.rules());
    assert_eq!(fired.len(), 1, "alarm periods read @timestamp");
    assert_eq!((fired[0].count, fired[0].period_start), (2, 1_709_287_200));
}

#[test]
fn a_valid_event_time_wins_over_timestamp() {
    let rules = stop_logging();
    // The log store ingested the event a day later; eventTime is the call's time.
    let both = E1.replace(
        r#""eventName""#,
        r#""@timestamp":"2024-03-02T10:00:00.000Z","eventName""#,
    );
    let options = ScanOptions {
        since: Some(1_709_287_200),
        until: Some(1_709_287_500),
        ..ScanOptions::default()
    };
    let (hits, s) = scan(&rules, Dedupe::default(), options, &[both.as_bytes()]);
    assert_eq!((hits.len(), s.time_from_timestamp), (1, 0));
}

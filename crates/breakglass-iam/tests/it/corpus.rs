//! The conformance corpus: every case in `tests/corpus/*.json` must come out as expected,
//! and every file must say which AWS documentation page its cases derive from.

use std::collections::BTreeSet;

use breakglass_iam::conformance::{parse_case_file, run_case, run_file};

use crate::json_files;

fn corpus_files() -> Vec<(String, String)> {
    json_files("tests/corpus")
}

#[test]
fn every_case_matches_its_expected_outcome() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (file, text) in corpus_files() {
        let parsed = parse_case_file(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (at, case) in &parsed.cases {
            total += 1;
            let outcome = run_case(case, at);
            if outcome.passed != Some(true) {
                failures.push(format!(
                    "{file} {at} `{}`: {:?} {:?} {:?}",
                    case.name, outcome.decision, outcome.mismatch, outcome.error
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300, "the corpus has only {total} cases");
}

#[test]
fn every_file_cites_its_aws_documentation_page_and_has_a_topic() {
    for (file, text) in corpus_files() {
        let parsed = parse_case_file(&text).unwrap();
        let source = parsed
            .source
            .unwrap_or_else(|| panic!("{file} has no `source`"));
        assert!(
            source.starts_with("https://docs.aws.amazon.com/"),
            "{file}: source `{source}` is not an AWS documentation page"
        );
        assert!(
            parsed.topic.is_some_and(|t| !t.is_empty()),
            "{file} has no `topic`"
        );
        assert!(!parsed.cases.is_empty(), "{file} has no cases");
    }
}

#[test]
fn every_case_expects_something_and_names_are_unique() {
    let mut names = BTreeSet::new();
    for (file, text) in corpus_files() {
        for (_, case) in parse_case_file(&text).unwrap().cases {
            let expected = case
                .expected
                .as_ref()
                .unwrap_or_else(|| panic!("{file}: `{}` expects nothing", case.name));
            assert!(
                expected.decision.is_some() || expected.invalid.is_some(),
                "{file}: `{}` expects neither a decision nor an error",
                case.name
            );
            assert!(
                names.insert(case.name.clone()),
                "{file}: case name `{}` is used twice",
                case.name
            );
        }
    }
}

#[test]
fn the_corpus_covers_every_decision_and_every_policy_layer() {
    let mut decisions = BTreeSet::new();
    let (mut resource, mut boundary, mut session, mut scps, mut rcps, mut cross) =
        (0, 0, 0, 0, 0, 0);
    for (_, text) in corpus_files() {
        for (_, case) in parse_case_file(&text).unwrap().cases {
            if let Some(d) = case.expected.as_ref().and_then(|e| e.decision) {
                decisions.insert(d.as_str());
            }
            resource += usize::from(case.resource_policy.is_some());
            boundary += usize::from(case.permissions_boundary.is_some());
            session += usize::from(case.session_policy.is_some());
            scps += usize::from(!case.scps.is_empty());
            rcps += usize::from(!case.rcps.is_empty());
            cross += usize::from(
                case.request
                    .principal
                    .as_deref()
                    .zip(case.request.resource_account.as_deref())
                    .is_some_and(|(p, acct)| p.contains(':') && !p.contains(acct)),
            );
        }
    }
    assert_eq!(decisions.len(), 3, "{decisions:?}");
    for (layer, n) in [
        ("resource", resource),
        ("boundary", boundary),
        ("session", session),
        ("scp", scps),
        ("rcp", rcps),
        ("cross-account", cross),
    ] {
        assert!(n >= 10, "only {n} cases exercise {layer} policies");
    }
}

/// Regression: a case that expects the wrong decision must fail, or the corpus proves nothing.
#[test]
fn a_wrong_expectation_fails() {
    let text = r#"{"name":"wrong","request":{"action":"s3:GetObject","resource":"*","principal":"arn:aws:iam::111122223333:user/a"},
        "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}],
        "expected":{"decision":"ImplicitDeny"}}"#;
    let file = parse_case_file(text).unwrap();
    let (at, case) = &file.cases[0];
    let outcome = run_case(case, at);
    assert_eq!(outcome.passed, Some(false));
    assert_eq!(
        outcome.mismatch.as_deref(),
        Some("expected ImplicitDeny, got Allow")
    );
}

/// Regression: one case that could not be read (an unknown field) made `run_file` refuse
/// the whole file; now that case carries its error and the others are decided.
#[test]
fn one_unreadable_case_does_not_stop_the_others() {
    let text = r#"{"source": "https://docs.aws.amazon.com/", "topic": "t", "cases": [
        {"name":"fine","request":{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/a"},
         "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]},
        {"name":"typo","request":{"action":"s3:GetObject"},"identityPolicy":[]},
        {"request":{"action":"s3:GetObject"}},
        {"name":"malformed action","request":{"action":"s3:GetObject","principal":"arn:aws:iam::111122223333:user/a"},
         "identityPolicies":[{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject,PutObject","Resource":"*"}}],
         "expected":{"decision":"ImplicitDeny"}}]}"#;
    let outcomes = run_file(text).unwrap();
    let summary: Vec<(&str, Option<&str>, bool)> = outcomes
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                o.decision.map(|d| d.as_str()),
                o.error.is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("fine", Some("Allow"), false),
            ("typo", None, true),
            ("/cases/2", None, true),
            ("malformed action", Some("ImplicitDeny"), false),
        ]
    );
    assert!(
        outcomes[1]
            .error
            .as_deref()
            .unwrap()
            .contains("/cases/1 (`typo`): unknown field `identityPolicy`"),
        "{:?}",
        outcomes[1].error
    );
    assert_eq!(outcomes[3].passed, Some(true));
    // A file that is not JSON is still an error of the file.
    assert!(run_file("{").is_err());
}

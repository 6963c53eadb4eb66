//! The seed templates (`tests/fixtures/seeds`, transcribed from `shared/seeds/001_*.txt`)
//! are valid policies of their kind, and their lint findings are recorded as snapshots: a
//! change in what the linter says about them shows up in review.

use breakglass_iam::lint::{Finding, lint};
use breakglass_iam::{Catalog, PolicyType, parse};

use crate::{crate_path, json_files};

fn fixtures() -> Vec<(String, PolicyType, String)> {
    json_files("tests/fixtures/seeds")
        .into_iter()
        .map(|(name, text)| {
            let ty = if name.starts_with("session-") {
                PolicyType::Session
            } else if name.contains("trust") {
                PolicyType::Trust
            } else {
                PolicyType::Identity
            };
            (name, ty, text)
        })
        .collect()
}

fn report(catalog: Option<&Catalog>) -> String {
    let mut out = String::new();
    for (name, ty, text) in fixtures() {
        let policy =
            parse(&text, ty).unwrap_or_else(|e| panic!("{name} is not a valid {ty} policy: {e}"));
        let findings: Vec<Finding> = lint(&policy, ty, catalog);
        out.push_str(&format!("{name} ({ty}): {} finding(s)\n", findings.len()));
        for f in findings {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

#[test]
fn the_seed_templates_are_valid_and_their_findings_are_recorded() {
    assert_eq!(fixtures().len(), 10);
    insta::assert_snapshot!("seed_findings_without_catalog", report(None));
}

#[test]
fn the_seed_templates_linted_against_the_real_catalog() {
    let Some(catalog) = crate::catalog::real_catalog() else {
        return;
    };
    insta::assert_snapshot!("seed_findings_with_catalog", report(Some(catalog)));
}

/// The seed's trust policy identifies break-glass users by `aws:userid`, which for IAM
/// users is the unique id: the finding that says so must stay.
#[test]
fn the_seed_trust_policy_userid_mistake_is_reported() {
    let text =
        std::fs::read_to_string(crate_path("tests/fixtures/seeds/role-trust-policy.json")).unwrap();
    let policy = parse(&text, PolicyType::Trust).unwrap();
    let codes: Vec<&str> = lint(&policy, PolicyType::Trust, None)
        .iter()
        .map(|f| f.code)
        .collect();
    assert_eq!(codes, ["userid-matches-sessions-only"]);
}

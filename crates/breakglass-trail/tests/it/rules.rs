//! Rule files: what is accepted, and every kind of refusal naming the rule.

use breakglass_trail::rules::builtin::{BuiltinParams, rules as builtin_rules};
use breakglass_trail::rules::{RuleSet, load_toml};

fn problems(text: &str) -> String {
    load_toml("rules.toml", text).unwrap_err().to_string()
}

const GOOD: &str = r#"version = 1

[[rule]]
id = "break-glass-role-assumed-custom"
title = "Emergency role used"
severity = "critical"
tags = ["custom"]
pattern = '{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*EMERGENCY*" }'
alarm = { threshold = 1, period = 60 }

[rule.examples]
match = ['{"eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/EMERGENCY"}}']
no_match = ['{"eventName":"AssumeRole","requestParameters":null}']
"#;

#[test]
fn a_good_rule_file_loads() {
    let rules = load_toml("rules.toml", GOOD).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].alarm.unwrap().period, 60);
    assert_eq!(rules[0].tags, ["custom"]);
}

#[test]
fn failing_examples_are_refused() {
    let text = GOOD.replace("*EMERGENCY*", "*OTHER*");
    let p = problems(&text);
    assert!(
        p.contains(
            "rule `break-glass-role-assumed-custom`: example match[0] should match but does not"
        ),
        "{p}"
    );
    let text = GOOD.replace(
        r#""requestParameters":null"#,
        r#""requestParameters":{"roleArn":"x-EMERGENCY-y"}"#,
    );
    let p = problems(&text);
    assert!(
        p.contains("example no_match[0] should not match but does"),
        "{p}"
    );
    let p = problems(&GOOD.replace("match = ['{", "match = ['not json {"));
    assert!(p.contains("example match[0] is not a JSON event"), "{p}");
}

#[test]
fn bad_fields_are_refused_with_the_rule_named() {
    let p = problems(&GOOD.replace(
        "id = \"break-glass-role-assumed-custom\"",
        "id = \"Bad Id\"",
    ));
    assert!(p.contains("rule id `Bad Id` must be"), "{p}");
    let p = problems(&GOOD.replace("period = 60", "period = 90"));
    assert!(
        p.contains("alarm `period` 90 is not a CloudWatch period"),
        "{p}"
    );
    let p = problems(&GOOD.replace("threshold = 1", "threshold = 0"));
    assert!(p.contains("`threshold` must be at least 1"), "{p}");
    let p = problems(&GOOD.replace("\"AssumeRole\" &&", "\"AssumeRole\" &&&"));
    assert!(
        p.contains("rule `break-glass-role-assumed-custom`: invalid filter pattern: column"),
        "{p}"
    );
    let p = problems(&GOOD.replace("severity = \"critical\"", "severity = \"urgent\""));
    assert!(p.contains("urgent"), "{p}");
    let p = problems(&GOOD.replace(
        "tags = [\"custom\"]",
        "tags = [\"custom\"]\ncolour = \"red\"",
    ));
    assert!(p.contains("colour"), "{p}");
    let p = problems(&GOOD.replace("version = 1", "version = 2"));
    assert!(p.contains("unsupported `version` 2"), "{p}");
    let twice = format!("{GOOD}\n{}", &GOOD["version = 1\n".len()..]);
    let p = problems(&twice);
    assert!(p.contains("is used twice"), "{p}");
    assert!(p.starts_with("rule file `rules.toml`"), "{p}");
}

#[test]
fn builtin_patterns_are_deployable_metric_filters() {
    // The longest parameters allowed still give patterns within CloudWatch's limits, and
    // every pattern parses back from its own source text.
    let long = |c: &str| format!("*{}*", c.repeat(126));
    let params = BuiltinParams {
        break_glass_role: long("R"),
        break_glass_user: long("U"),
        incident_response_role: long("I"),
    };
    for params in [BuiltinParams::default(), params] {
        let rules = builtin_rules(&params).unwrap();
        for r in &rules {
            assert!(r.pattern.source().chars().count() <= 1024, "{}", r.id);
            assert!(
                r.alarm.is_some(),
                "{} deploys as a metric filter with an alarm",
                r.id
            );
        }
        let set = RuleSet::new(rules).unwrap();
        assert!(set.prefiltered().iter().all(|p| *p));
    }
}

#[test]
fn the_builtin_pack_covers_the_issue() {
    let ids: Vec<String> = builtin_rules(&BuiltinParams::default())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    for want in [
        "break-glass-role-assumed",
        "break-glass-role-assume-denied",
        "break-glass-console-switch-role",
        "break-glass-user-sign-in",
        "break-glass-user-credentials-changed",
        "root-activity",
        "console-login-without-mfa",
        "cloudtrail-tampering",
        "detection-disabled",
        "iam-policy-change-by-incident-response",
    ] {
        assert!(ids.iter().any(|i| i == want), "missing {want}");
    }
}

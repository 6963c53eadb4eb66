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

/// The ids of the built-in rules (default parameters) that match `event`.
fn builtin_hits(event: &str) -> Vec<String> {
    let rules = RuleSet::new(builtin_rules(&BuiltinParams::default()).unwrap()).unwrap();
    let event = breakglass_trail::Event::parse(event.as_bytes()).unwrap();
    let mut scratch = rules.scratch();
    let mut out = Vec::new();
    rules.matching(&event, &mut scratch, &mut out);
    out.iter().map(|&i| rules.rules()[i].id.clone()).collect()
}

// CloudTrail User Guide, "CloudTrail record contents for management events" and "AWS STS
// API calls in CloudTrail": a failed AssumeRole other than AccessDenied keeps its
// requestParameters; this one asked for more than the role's MaxSessionDuration (STS API
// Reference, AssumeRole, DurationSeconds).
const VALIDATION_ERROR_ASSUME_ROLE: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEUSERID","arn":"arn:aws:iam::111122223333:user/alice-BREAK-GLASS","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice-BREAK-GLASS","sessionContext":{"attributes":{"creationDate":"2024-03-01T09:58:02Z","mfaAuthenticated":"true"}}},"eventTime":"2024-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","errorCode":"ValidationError","errorMessage":"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/BREAK-GLASS-ADMIN","roleSessionName":"alice","durationSeconds":43200},"responseElements":null,"requestID":"6f1d1c46-0000-4d3a-9c7d-EXAMPLE","eventID":"0a4b7e7d-0000-4c1d-8f5e-EXAMPLE","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.amazonaws.com"}}"#;

#[test]
fn a_validation_error_assume_role_of_a_break_glass_role_alerts() {
    let hits = builtin_hits(VALIDATION_ERROR_ASSUME_ROLE);
    assert!(
        hits.contains(&"break-glass-role-assume-denied".to_owned()),
        "{hits:?}"
    );
    assert!(!hits.contains(&"break-glass-role-assumed".to_owned()));
    for code in [
        "PackedPolicyTooLarge",
        "ExpiredToken",
        "RegionDisabledException",
    ] {
        let event = VALIDATION_ERROR_ASSUME_ROLE.replace("ValidationError", code);
        assert!(
            builtin_hits(&event).contains(&"break-glass-role-assume-denied".to_owned()),
            "{code}"
        );
    }
    let other = VALIDATION_ERROR_ASSUME_ROLE.replace("role/BREAK-GLASS-ADMIN", "role/app-deploy");
    assert!(
        !builtin_hits(&other).contains(&"break-glass-role-assume-denied".to_owned()),
        "a failure on another role is not a break-glass event"
    );
}

#[test]
fn cloudtrail_lake_event_data_store_changes_are_tampering() {
    // CloudTrail API Reference: StopEventDataStoreIngestion, DeleteEventDataStore,
    // UpdateEventDataStore; CloudTrail Lake logs them as cloudtrail.amazonaws.com calls.
    for name in [
        "StopEventDataStoreIngestion",
        "DeleteEventDataStore",
        "UpdateEventDataStore",
    ] {
        let event = format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/admin/mallory"}},"eventTime":"2024-03-01T10:05:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.54","requestParameters":{{"eventDataStore":"arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"}},"responseElements":null,"eventID":"e-{name}","eventType":"AwsApiCall","managementEvent":true}}"#
        );
        assert!(
            builtin_hits(&event).contains(&"cloudtrail-tampering".to_owned()),
            "{name}"
        );
    }
}

#[test]
fn rule_patterns_with_unquoted_special_values_load_with_warnings() {
    let text = GOOD.replace(
        r#"'{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*EMERGENCY*" }'"#,
        r#"'{ $.eventName = AssumeRole && $.requestParameters.roleArn = *EMERGENCY* || $.userIdentity.userName = admin@example.com }'"#,
    );
    let rules = load_toml("rules.toml", &text).unwrap();
    let p = &rules[0].pattern;
    assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
    assert!(p.deployable().contains(r#"= "admin@example.com""#));
}

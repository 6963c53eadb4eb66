//! Lint findings without a catalog: each check, its code, severity and location.

use breakglass_iam::lint::{Severity, lint};
use breakglass_iam::{PolicyType, parse};

fn findings(text: &str, ty: PolicyType) -> Vec<(&'static str, Severity, String)> {
    let policy = parse(text, ty).unwrap();
    lint(&policy, ty, None)
        .into_iter()
        .map(|f| (f.code, f.severity, f.pointer.as_str().to_owned()))
        .collect()
}

fn codes(text: &str, ty: PolicyType) -> Vec<&'static str> {
    findings(text, ty).into_iter().map(|(c, _, _)| c).collect()
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

#[test]
fn version_findings() {
    assert_eq!(
        findings(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyType::Identity
        ),
        [("missing-version", W, String::new())]
    );
    assert_eq!(
        findings(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}}"#,
            PolicyType::Identity
        ),
        [("old-version", E, "/Version".to_owned())]
    );
}

#[test]
fn sid_and_id_findings() {
    let text = r#"{"Version":"2012-10-17","Id":"x","Statement":[
        {"Sid":"Read Only","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
        {"Sid":"Read Only","Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;
    assert_eq!(
        findings(text, PolicyType::Identity),
        [
            ("id-in-identity-policy", W, "/Id".to_owned()),
            ("invalid-sid", E, "/Statement/0/Sid".to_owned()),
            ("duplicate-sid", E, "/Statement/1/Sid".to_owned()),
            ("invalid-sid", E, "/Statement/1/Sid".to_owned()),
        ]
    );
    // Resource-based policies may use spaces in Sids; a duplicate is only a warning there.
    let text = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Read Only","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Sid":"Read Only","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}"#;
    assert_eq!(
        findings(text, PolicyType::Resource),
        [("duplicate-sid", W, "/Statement/1/Sid".to_owned())]
    );
}

#[test]
fn not_elements_with_allow() {
    let text = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::secret/*"},
        {"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::b/*"}]}"#;
    assert_eq!(
        findings(text, PolicyType::Identity),
        [
            (
                "allow-with-not-action",
                W,
                "/Statement/0/NotAction".to_owned()
            ),
            (
                "allow-with-not-resource",
                W,
                "/Statement/1/NotResource".to_owned()
            )
        ]
    );
}

#[test]
fn broad_grants() {
    assert_eq!(
        codes(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyType::Identity
        ),
        ["full-admin"]
    );
    assert_eq!(
        findings(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:PassRole","iam:Attach*Policy","s3:GetObject"],"Resource":"*"}}"#,
            PolicyType::Identity
        ),
        [
            ("privilege-escalation", W, "/Statement/Action".to_owned()),
            (
                "write-on-all-resources",
                W,
                "/Statement/Resource".to_owned()
            )
        ]
    );
    // PassRole limited to one service by condition is not an escalation finding.
    assert_eq!(
        codes(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}}"#,
            PolicyType::Identity
        ),
        ["write-on-all-resources"]
    );
    // Scoped to named resources: nothing to report.
    assert!(codes(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#, PolicyType::Identity).is_empty());
    assert_eq!(
        codes(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
            PolicyType::Identity
        ),
        ["privilege-escalation", "write-on-all-resources"]
    );
}

#[test]
fn the_mfa_false_trap() {
    let deny = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}}"#;
    assert_eq!(
        findings(deny, PolicyType::Identity),
        [(
            "mfa-false-trap",
            E,
            "/Statement/Condition/Bool/aws:MultiFactorAuthPresent".to_owned()
        )]
    );
    let fixed = deny.replace("\"Bool\"", "\"BoolIfExists\"");
    assert!(codes(&fixed, PolicyType::Identity).is_empty());
}

#[test]
fn trust_policy_findings() {
    let no_mfa = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::111122223333:role/broker"]},"Action":"sts:AssumeRole"}}"#;
    assert_eq!(
        findings(no_mfa, PolicyType::Trust),
        [("trust-without-mfa", W, "/Statement/Principal".to_owned())]
    );
    let broker_only = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/broker"},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}}"#;
    assert!(codes(broker_only, PolicyType::Trust).is_empty());
    let anyone = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#;
    assert_eq!(
        codes(anyone, PolicyType::Trust),
        ["trust-anyone", "trust-without-mfa"]
    );
    let with_mfa = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole",
        "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}}"#;
    assert!(codes(with_mfa, PolicyType::Trust).is_empty());
    let service = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    assert!(codes(service, PolicyType::Trust).is_empty());
}

#[test]
fn condition_key_findings_without_a_catalog() {
    let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{
        "Bool":{"aws:MultiFactorAuthPresnt":"true"},
        "DateGreaterThan":{"aws:SourceIp":"2024-01-01"},
        "ForAnyValue:StringEquals":{"aws:TagKeys":"a"}}}}"#;
    assert_eq!(
        findings(text, PolicyType::Identity),
        [
            (
                "unknown-condition-key",
                W,
                "/Statement/Condition/Bool/aws:MultiFactorAuthPresnt".to_owned()
            ),
            (
                "condition-type-mismatch",
                E,
                "/Statement/Condition/DateGreaterThan/aws:SourceIp".to_owned()
            ),
        ]
    );
}

#[test]
fn variables_outside_the_resource_part() {
    let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":["arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:q","arn:aws:sqs:us-east-1:111122223333:${aws:username}"]}}"#;
    assert_eq!(
        findings(text, PolicyType::Identity),
        [(
            "variable-outside-resource-part",
            W,
            "/Statement/Resource/0".to_owned()
        )]
    );
}

#[test]
fn session_policies_over_their_limit() {
    let resources: Vec<String> = (0..80)
        .map(|i| format!("\"arn:aws:s3:::bucket-{i:04}/*\""))
        .collect();
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}}}"#,
        resources.join(",")
    );
    assert_eq!(
        findings(&text, PolicyType::Session),
        [("policy-too-large", E, String::new())]
    );
    assert!(
        codes(&text, PolicyType::Identity).is_empty(),
        "the same text is within the managed policy limit"
    );
}

/// Regression: `NotPrincipal` with `Allow` is unsupported by AWS; lint reported it only as a
/// warning.
#[test]
fn not_principal_with_allow_is_an_error() {
    let text = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#;
    assert_eq!(
        findings(text, PolicyType::Resource),
        [(
            "allow-with-not-principal",
            E,
            "/Statement/0/NotPrincipal".to_owned()
        )]
    );
}

/// Regression: action strings IAM stores but that name no action were refused by the
/// parser (so a stored policy could not be linted or evaluated); they now parse, match
/// nothing, and lint reports each as an error where it is.
#[test]
fn malformed_actions_are_errors_at_their_place() {
    let text = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject,PutObject","s3:ListBucket","s3:","s3:Get Object"],"Resource":"*"},
        {"Effect":"Deny","NotAction":"iam:*,sts:*","Resource":"*"}]}"#;
    assert_eq!(
        findings(text, PolicyType::Identity),
        [
            ("malformed-action", E, "/Statement/0/Action/0".to_owned()),
            ("malformed-action", E, "/Statement/0/Action/2".to_owned()),
            ("malformed-action", E, "/Statement/0/Action/3".to_owned()),
            ("malformed-action", E, "/Statement/1/NotAction".to_owned()),
        ]
    );
    // Without a colon IAM refuses the action, and so does the parser.
    assert!(parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3GetObject","Resource":"*"}}"#,
        PolicyType::Identity
    )
    .is_err());
}

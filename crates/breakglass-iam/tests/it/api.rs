//! The engine as the rest of breakglass calls it: proving that a revocation policy denies
//! exactly the revoked session, sizing the consolidated revocation policy against the
//! role's inline quota, and checking a session policy before STS sees it.

use breakglass_iam::size::{self, Limit};
use breakglass_iam::{
    Caller, ContextValue, Decision, Effect, PolicyId, PolicySet, PolicyType, Reason, Request,
    parse, parse_caller,
};

const ROLE_ID: &str = "AROAEXAMPLEROLEID1234";

fn session(name: &str) -> Caller {
    parse_caller(
        &format!("arn:aws:sts::111122223333:assumed-role/IR/{name}"),
        None,
    )
    .unwrap()
}

fn request(name: &str, issued: &str) -> Request {
    let mut r = Request::new(
        session(name),
        "ec2:StopInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    );
    r.insert_context("aws:userid", ContextValue::one(format!("{ROLE_ID}:{name}")));
    r.insert_context("aws:SourceIdentity", ContextValue::one("alice"));
    r.insert_context("aws:TokenIssueTime", ContextValue::one(issued));
    r.derive_principal_keys();
    r
}

/// The consolidated revocation policy the broker maintains on a role.
fn revocations(grants: &[&str]) -> String {
    let ids: Vec<String> = grants
        .iter()
        .map(|g| format!("\"{ROLE_ID}:{g}\""))
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"BreakglassRevocations","Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{{"StringEquals":{{"aws:userid":[{}]}}}}}}]}}"#,
        ids.join(",")
    )
}

#[test]
fn a_revocation_policy_denies_the_revoked_session_and_no_other() {
    let role = parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#, PolicyType::Identity).unwrap();
    let revoke = parse(&revocations(&["g-01"]), PolicyType::Identity).unwrap();
    let set = PolicySet::builder()
        .identity(&role)
        .identity(&revoke)
        .build();

    let revoked = set.evaluate(&request("g-01", "2024-05-01T10:00:00Z"));
    assert_eq!(revoked.decision, Decision::ExplicitDeny);
    assert_eq!(
        revoked.decided_by,
        [Reason::Statement {
            policy: PolicyId::Identity(1),
            statement: 0,
            effect: Effect::Deny
        }]
    );
    assert_eq!(
        set.evaluate(&request("g-02", "2024-05-01T10:00:00Z"))
            .decision,
        Decision::Allow
    );
}

#[test]
fn revoke_older_sessions_cuts_at_the_captured_time() {
    let role = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let older = parse(
        r#"{"Version":"2012-10-17","Statement":{"Sid":"AWSRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"DateLessThan":{"aws:TokenIssueTime":"2024-05-01T12:00:00Z"}}}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let set = PolicySet::builder()
        .identity(&role)
        .identity(&older)
        .build();
    assert_eq!(
        set.evaluate(&request("g-01", "2024-05-01T11:59:59Z"))
            .decision,
        Decision::ExplicitDeny
    );
    assert_eq!(
        set.evaluate(&request("g-02", "2024-05-01T12:00:05Z"))
            .decision,
        Decision::Allow
    );
}

#[test]
fn the_revocation_policy_stays_within_the_role_inline_quota_until_it_is_pruned() {
    let grants: Vec<String> = (0..500).map(|i| format!("01HXGRANT{i:016}")).collect();
    let some: Vec<&str> = grants.iter().take(100).map(String::as_str).collect();
    let all: Vec<&str> = grants.iter().map(String::as_str).collect();
    let role_policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#;
    assert!(
        size::check_total(
            "inline policies of role IR",
            [role_policy, revocations(&some).as_str()],
            Limit::RoleInline
        )
        .is_ok()
    );
    let err = size::check_total(
        "inline policies of role IR",
        [role_policy, revocations(&all).as_str()],
        Limit::RoleInline,
    )
    .unwrap_err();
    assert_eq!(err.limit, Limit::RoleInline);
    assert!(
        err.to_string()
            .starts_with("inline policies of role IR is "),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("over the limit on a role's inline policies together of 10240 characters"),
        "{err}"
    );
}

#[test]
fn a_session_policy_is_validated_and_sized_before_sts_sees_it() {
    let text = std::fs::read_to_string(crate::crate_path(
        "tests/fixtures/seeds/session-containment_actions.json",
    ))
    .unwrap();
    let policy = parse(&text, PolicyType::Session).unwrap();
    let compact = policy.to_compact_string();
    let within = size::check(
        "playbook containment_actions",
        &compact,
        Limit::SessionPolicy,
    )
    .unwrap();
    assert!(within.size < 2048 && within.size == compact.len());
    // Pretty-printed, the same policy would count its whitespace against the session limit.
    assert!(size::count(&policy.to_pretty_string(), size::Counting::AllCharacters) > within.size);
}

#[test]
fn a_principal_arn_with_a_path_refines_role_matching() {
    let bucket = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/incident/IR"},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::evidence/*"}}"#,
        PolicyType::Resource,
    )
    .unwrap();
    let set = PolicySet::builder()
        .resource(&bucket, breakglass_iam::ResourcePolicyKind::Resource)
        .build();
    let mut req = Request::new(session("g-01"), "s3:GetObject", "arn:aws:s3:::evidence/x");
    req.insert_context(
        "aws:PrincipalArn",
        ContextValue::one("arn:aws:iam::111122223333:role/incident/IR"),
    );
    assert_eq!(set.evaluate(&req).decision, Decision::Allow);
}

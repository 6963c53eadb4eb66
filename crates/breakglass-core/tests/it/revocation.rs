//! The policies `revocation` writes, evaluated by the IAM engine: the deny policy stops the
//! revoked grant's session and no other session of the role, and `AWSRevokeOlderSessions`
//! stops exactly the sessions issued before the cutoff.

use breakglass_core::model::{GrantId, RoleArn};
use breakglass_core::revocation::{
    RevocationEntry, deny_document, prune, revoke_older_sessions_document,
};
use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request, parse, parse_caller};
use time::macros::datetime;

const ROLE_ID: &str = "AROAEXAMPLEROLEID1234";

fn role() -> RoleArn {
    RoleArn::new("arn:aws:iam::111122223333:role/incident-response/IR").unwrap()
}

fn entry(grant: &str) -> RevocationEntry {
    RevocationEntry {
        role_arn: role(),
        role_id: ROLE_ID.to_owned(),
        grant: GrantId::new(grant).unwrap(),
        session_end: datetime!(2030-01-01 13:00 UTC),
    }
}

/// A call made by role session `grant` whose token was issued at `issued`.
fn call(grant: &str, issued: &str) -> Request {
    let caller = parse_caller(
        &format!("arn:aws:sts::111122223333:assumed-role/IR/{grant}"),
        None,
    )
    .unwrap();
    let mut r = Request::new(
        caller,
        "ec2:StopInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    );
    r.insert_context(
        "aws:userid",
        ContextValue::one(format!("{ROLE_ID}:{grant}")),
    );
    r.insert_context("aws:SourceIdentity", ContextValue::one("alice"));
    r.insert_context("aws:TokenIssueTime", ContextValue::one(issued));
    r.derive_principal_keys();
    r
}

fn decide(extra: &str, request: &Request) -> Decision {
    let allow = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let extra = parse(extra, PolicyType::Identity).unwrap();
    PolicySet::builder()
        .identity(&allow)
        .identity(&extra)
        .build()
        .evaluate(request)
        .decision
}

#[test]
fn the_deny_policy_stops_the_revoked_grant_and_not_another_grant_of_the_role() {
    let doc = deny_document(&role(), &[entry("g-revoked"), entry("g-other-revoked")])
        .unwrap()
        .unwrap();
    let issued = "2030-01-01T11:00:00Z";
    assert_eq!(
        decide(&doc, &call("g-revoked", issued)),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&doc, &call("g-other-revoked", issued)),
        Decision::ExplicitDeny
    );
    // Same role, same responder (SourceIdentity), another grant: untouched.
    assert_eq!(decide(&doc, &call("g-live", issued)), Decision::Allow);
    // A grant id that merely starts like a revoked one is not matched.
    assert_eq!(decide(&doc, &call("g-revoked2", issued)), Decision::Allow);
}

#[test]
fn a_pruned_entry_no_longer_denies() {
    let mut old = entry("g-old");
    old.session_end = datetime!(2030-01-01 10:00 UTC);
    let (kept, gone) = prune(vec![old, entry("g-new")], datetime!(2030-01-01 12:00 UTC));
    assert_eq!(gone.len(), 1);
    let doc = deny_document(&role(), &kept).unwrap().unwrap();
    assert_eq!(
        decide(&doc, &call("g-old", "2030-01-01T09:00:00Z")),
        Decision::Allow
    );
    assert_eq!(
        decide(&doc, &call("g-new", "2030-01-01T11:00:00Z")),
        Decision::ExplicitDeny
    );
}

#[test]
fn revoke_older_sessions_denies_sessions_issued_before_the_cutoff_only() {
    let doc = revoke_older_sessions_document(datetime!(2030-01-01 12:00:00.4 UTC));
    assert_eq!(
        decide(&doc, &call("g-1", "2030-01-01T11:59:59Z")),
        Decision::ExplicitDeny
    );
    // Issued in the same second as the revocation: still cut off (the cutoff rounds up).
    assert_eq!(
        decide(&doc, &call("g-2", "2030-01-01T12:00:00Z")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&doc, &call("g-3", "2030-01-01T12:00:01Z")),
        Decision::Allow
    );
    assert_eq!(
        decide(&doc, &call("g-4", "2030-01-01T13:00:00Z")),
        Decision::Allow
    );
}

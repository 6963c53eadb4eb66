//! Narrowing a playbook's session policy, attacks first: every way a requester might try
//! to get more than the playbook allows (an extra action, `*` where the playbook names
//! resources, an extra region, `NotAction`, a dropped or loosened condition, a dropped
//! deny, a wildcard or policy variable reaching past the playbook's patterns) is refused
//! with an error naming what widens; real narrowings (and anything made by removing
//! statements, actions or resources from the playbook's policy) are accepted. Then the
//! transitions: the narrowed policy is what the request carries and what approvers
//! approve, an amendment of it moves the digest so an approval of the old one is refused,
//! and self-approval stays refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use breakglass_core::audit::AuditEvent;
use breakglass_core::model::{
    AccountId, IncidentId, PermissionModel, PlaybookId, RequestId, RoleName,
};
use breakglass_core::request::{
    Command, Env, NarrowError, NewRequest, Settings, TransitionError, apply, narrow,
    submit_narrowed,
};
use breakglass_core::rules::Rules;
use breakglass_iam::Catalog;
use proptest::prelude::*;
use serde_json::{Value, json};
use time::Duration;

use crate::support::{T0, catalog, user};

/// A small action catalog in the Service Authorization Reference's shape.
fn actions() -> Catalog {
    let service = |names: &[(&str, &str)]| {
        let map: serde_json::Map<String, Value> = names
            .iter()
            .map(|(n, level)| {
                (
                    n.to_ascii_lowercase(),
                    json!({"name": n, "accessLevel": level, "resourceTypes": [], "conditionKeys": []}),
                )
            })
            .collect();
        Value::Object(map).to_string()
    };
    let mut c = Catalog::new();
    c.add_service(
        "ec2",
        &service(&[
            ("StopInstances", "Write"),
            ("StartInstances", "Write"),
            ("TerminateInstances", "Write"),
            ("DescribeInstances", "List"),
            ("DescribeVolumes", "List"),
            ("CreateSnapshot", "Write"),
        ]),
    )
    .unwrap();
    c.add_service(
        "s3",
        &service(&[
            ("GetObject", "Read"),
            ("PutObject", "Write"),
            ("DeleteObject", "Write"),
            ("ListBucket", "List"),
        ]),
    )
    .unwrap();
    c.add_service(
        "logs",
        &service(&[("GetLogEvents", "Read"), ("FilterLogEvents", "Read")]),
    )
    .unwrap();
    c.add_service(
        "iam",
        &service(&[
            ("AttachRolePolicy", "Permissions management"),
            ("GetRole", "Read"),
        ]),
    )
    .unwrap();
    c.add_service("cloudtrail", &service(&[("StopLogging", "Write")]))
        .unwrap();
    c
}

const CONTAIN: &str = r#"{"Sid":"Contain","Effect":"Allow","Action":["ec2:StopInstances","ec2:StartInstances","ec2:Describe*"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}"#;
const EVIDENCE: &str = r#"{"Sid":"Evidence","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::evidence-*/*","arn:aws:s3:::forensics-*/*"]}"#;
const LOGS: &str = r#"{"Sid":"Logs","Effect":"Allow","Action":["logs:GetLogEvents","logs:FilterLogEvents"],"Resource":"arn:aws:logs:*:111111111111:log-group:/ir/*"}"#;
const NO_IAM: &str = r#"{"Sid":"NoIam","Effect":"Deny","Action":"iam:*","Resource":"*"}"#;

/// The playbook's session policy the cases narrow.
fn playbook_policy() -> String {
    policy(&[CONTAIN, EVIDENCE, LOGS, NO_IAM])
}

fn policy(statements: &[&str]) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn check(text: &str) -> Result<String, NarrowError> {
    narrow("contain", &playbook_policy(), text, Some(&actions()))
}

#[test]
fn real_narrowings_are_accepted() {
    let cases: &[(&str, Vec<&str>)] = &[
        (
            "the playbook's own policy",
            vec![CONTAIN, EVIDENCE, LOGS, NO_IAM],
        ),
        (
            "one action, the deny kept",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}"#,
                NO_IAM,
            ],
        ),
        (
            "one instance in one region",
            vec![
                r#"{"Effect":"Allow","Action":["ec2:StopInstances"],"Resource":"arn:aws:ec2:us-east-1:111111111111:instance/i-0abc123","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
        ),
        (
            "one bucket prefix, one log group",
            vec![
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::evidence-42/case-7/*"}"#,
                r#"{"Effect":"Allow","Action":"logs:FilterLogEvents","Resource":"arn:aws:logs:eu-west-1:111111111111:log-group:/ir/vpc-flow:*"}"#,
                NO_IAM,
            ],
        ),
        (
            "a narrower wildcard and an extra condition",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:DescribeInst*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["eu-west-1"]},"Bool":{"aws:SecureTransport":"true"}}}"#,
                NO_IAM,
            ],
        ),
        (
            "a deny of its own, NotAction included",
            vec![
                EVIDENCE,
                NO_IAM,
                r#"{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"}"#,
            ],
        ),
    ];
    for (name, statements) in cases {
        let text = policy(statements);
        let got = check(&text);
        assert!(got.is_ok(), "{name}: {got:?}");
    }
}

#[test]
fn widening_attempts_are_refused_naming_what_widens() {
    // (name, statements, code, words the error must contain)
    let cases: &[(&str, Vec<&str>, &str, &[&str])] = &[
        (
            "an extra action",
            vec![
                r#"{"Effect":"Allow","Action":["ec2:StopInstances","ec2:TerminateInstances"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["ec2:TerminateInstances", "remove it"],
        ),
        (
            "`*` where the playbook names buckets",
            vec![
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["resource `*`", "s3:GetObject"],
        ),
        (
            "another bucket",
            vec![
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::payroll/*"}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["arn:aws:s3:::payroll/*"],
        ),
        (
            "an extra region",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["us-west-2", "aws:RequestedRegion"],
        ),
        (
            "the region condition removed",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*"}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["lacks the playbook's condition", "aws:RequestedRegion"],
        ),
        (
            "the condition loosened to IfExists",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["StringEquals", "aws:RequestedRegion"],
        ),
        (
            "the condition loosened to a wildcard",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringLike":{"aws:RequestedRegion":"*"}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["aws:RequestedRegion"],
        ),
        (
            "the NotAction trick",
            vec![
                r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
            "invalid_session_policy",
            &["NotAction", "/Statement/0"],
        ),
        (
            "the NotResource trick",
            vec![
                r#"{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::nothing/*"}"#,
                NO_IAM,
            ],
            "invalid_session_policy",
            &["NotResource"],
        ),
        (
            "the playbook's deny dropped",
            vec![EVIDENCE],
            "session_policy_widens",
            &["drops the playbook's `Deny`", "iam:*"],
        ),
        (
            "the playbook's deny weakened",
            vec![
                EVIDENCE,
                r#"{"Sid":"NoIam","Effect":"Deny","Action":"iam:AttachRolePolicy","Resource":"*"}"#,
            ],
            "session_policy_widens",
            &["drops the playbook's `Deny`"],
        ),
        (
            "a whole-service wildcard",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["ec2:"],
        ),
        (
            // Today's catalog has only `Describe*` actions under `ec2:Desc`, so the engine
            // finds nothing wider; the pattern could still match an action AWS adds.
            "a wildcard past the playbook's pattern",
            vec![
                r#"{"Effect":"Allow","Action":"ec2:Desc*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["action `ec2:Desc*`"],
        ),
        (
            "a policy variable where the playbook names a prefix",
            vec![
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${aws:username}/*"}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["${aws:username}"],
        ),
        (
            "an action of another service",
            vec![
                r#"{"Effect":"Allow","Action":"cloudtrail:StopLogging","Resource":"*"}"#,
                NO_IAM,
            ],
            "session_policy_widens",
            &["cloudtrail:StopLogging"],
        ),
    ];
    for (name, statements, code, words) in cases {
        let text = policy(statements);
        let err = check(&text).expect_err(name);
        assert_eq!(err.code(), *code, "{name}: {err}");
        let message = err.to_string();
        for w in *words {
            assert!(message.contains(w), "{name}: `{w}` not in: {message}");
        }
    }
}

#[test]
fn malformed_oversized_and_unchecked_policies_are_refused() {
    let err = check("{\"Statement\": [").unwrap_err();
    assert_eq!(err.code(), "invalid_session_policy", "{err}");
    let many: Vec<String> = (0..60)
        .map(|i| {
            format!(r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::evidence-{i}/*"}}"#)
        })
        .collect();
    let mut statements: Vec<&str> = many.iter().map(String::as_str).collect();
    statements.push(NO_IAM);
    let err = check(&policy(&statements)).unwrap_err();
    assert_eq!(err.code(), "invalid_session_policy");
    assert!(err.to_string().contains("session policy limit"), "{err}");
    let err = narrow("contain", &playbook_policy(), &playbook_policy(), None).unwrap_err();
    assert_eq!(err.code(), "narrowing_unavailable");
    assert!(err.to_string().contains("--catalog"), "{err}");
}

/// Every statement of the playbook's policy, as JSON.
fn statements() -> Vec<Value> {
    serde_json::from_str::<Value>(&playbook_policy()).unwrap()["Statement"]
        .as_array()
        .unwrap()
        .clone()
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Removing statements, actions or resources from the playbook's policy (its denies
    /// kept) never makes it wider.
    #[test]
    fn removing_from_the_playbook_policy_is_always_accepted(
        keep in proptest::collection::vec(any::<bool>(), 3),
        action_masks in proptest::collection::vec(1u8..8, 3),
        resource_masks in proptest::collection::vec(1u8..4, 3),
    ) {
        let mut out = Vec::new();
        for (i, mut s) in statements().into_iter().enumerate() {
            if s["Effect"] == "Deny" {
                out.push(s);
                continue;
            }
            if !keep[i] {
                continue;
            }
            let pick = |values: Vec<Value>, mask: u8| -> Vec<Value> {
                let picked: Vec<Value> = values
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| mask & (1 << j) != 0)
                    .map(|(_, v)| v.clone())
                    .collect();
                if picked.is_empty() { values.into_iter().take(1).collect() } else { picked }
            };
            s["Action"] = Value::Array(pick(list(&s["Action"]), action_masks[i]));
            s["Resource"] = Value::Array(pick(list(&s["Resource"]), resource_masks[i]));
            out.push(s);
        }
        let text = json!({"Version": "2012-10-17", "Statement": out}).to_string();
        prop_assert!(check(&text).is_ok(), "{text}: {:?}", check(&text));
    }
}

// The transitions.

fn rules_with(policy_text: &str) -> Rules {
    let mut c = catalog();
    for p in &mut c.playbooks {
        if p.id.as_str() == "investigate" {
            p.session_policy = policy_text.to_owned();
        }
    }
    let model = PermissionModel::new(Arc::new(actions()), BTreeMap::new());
    Rules::new(c, &[])
        .unwrap()
        .with_permissions(Arc::new(model))
}

fn new_request() -> NewRequest {
    NewRequest {
        requester: user("alice"),
        playbook: PlaybookId::new("investigate").unwrap(),
        role: RoleName::new("SecurityAnalyst").unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: Duration::hours(1),
        incident: IncidentId::new("INC-1").unwrap(),
        justification: "contain the instance".to_owned(),
    }
}

#[test]
fn a_narrowed_request_carries_its_policy_and_approvals_follow_its_digest() {
    let rules = rules_with(&playbook_policy());
    let settings = Settings::default();
    let env = Env {
        rules: &rules,
        settings: &settings,
        now: T0,
    };
    let id = RequestId::new("r-narrow-1").unwrap();
    let one_instance = policy(&[
        r#"{"Effect":"Allow","Action":"ec2:StopInstances","Resource":"arn:aws:ec2:us-east-1:111111111111:instance/i-0abc123","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
        NO_IAM,
    ]);
    let plain = submit_narrowed(id.clone(), new_request(), None, &env).unwrap();
    let t = submit_narrowed(id.clone(), new_request(), Some(&one_instance), &env).unwrap();
    let r = t.request;
    assert!(r.spec.narrowed);
    assert!(!plain.request.spec.narrowed);
    assert_ne!(r.spec.session_policy, plain.request.spec.session_policy);
    assert!(r.spec.session_policy.contains("i-0abc123"));
    assert_ne!(
        r.digest, plain.request.digest,
        "the narrowed policy is in the digest"
    );
    let AuditEvent::RequestSubmitted(e) = &t.events[0] else {
        panic!("not a submission: {:?}", t.events[0]);
    };
    assert_eq!(
        e.session_policy.as_deref(),
        Some(r.spec.session_policy.as_str())
    );
    let allows = e.allows.as_deref().unwrap();
    assert!(allows.contains("narrowed by the requester"), "{allows}");

    // A widening submission is refused, as a refusal the broker audits.
    let wide = policy(&[r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#, NO_IAM]);
    let err = submit_narrowed(id.clone(), new_request(), Some(&wide), &env).unwrap_err();
    assert_eq!(err.code(), "session_policy_widens", "{err}");
    assert!(err.refusal().is_some());

    // The requester changes the narrowed policy after carol approved: her approval no
    // longer counts, and an approval of what she saw is refused.
    let approved = apply(
        &r,
        Command::Approve {
            approver: user("carol"),
            digest: r.digest,
            comment: String::new(),
        },
        &env,
    )
    .unwrap()
    .request;
    assert_eq!(approved.current_approvers().len(), 1);
    let seen = approved.digest;
    let both = policy(&[
        r#"{"Effect":"Allow","Action":["ec2:StopInstances","ec2:StartInstances"],"Resource":"arn:aws:ec2:us-east-1:111111111111:instance/i-0abc123","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}"#,
        NO_IAM,
    ]);
    let amended = apply(
        &approved,
        Command::Amend {
            by: user("alice"),
            duration: None,
            incident: None,
            justification: None,
            session_policy: Some(both),
        },
        &env,
    )
    .unwrap();
    let AuditEvent::RequestAmended(e) = &amended.events[0] else {
        panic!("not an amendment");
    };
    assert!(
        e.session_policy
            .as_deref()
            .unwrap()
            .contains("StartInstances")
    );
    let amended = amended.request;
    assert_ne!(amended.digest, seen);
    assert!(amended.current_approvers().is_empty());
    let stale = apply(
        &amended,
        Command::Approve {
            approver: user("dave"),
            digest: seen,
            comment: String::new(),
        },
        &env,
    )
    .unwrap_err();
    assert!(
        matches!(stale, TransitionError::StaleDigest { .. }),
        "{stale}"
    );
    assert!(stale.to_string().contains("review it again"), "{stale}");

    // Someone else cannot amend it, an amendment cannot widen it, and the requester still
    // cannot approve it.
    let not_theirs = apply(
        &amended,
        Command::Amend {
            by: user("bob"),
            duration: None,
            incident: None,
            justification: None,
            session_policy: Some(String::new()),
        },
        &env,
    )
    .unwrap_err();
    assert_eq!(not_theirs.code(), "not_requester");
    let widened = apply(
        &amended,
        Command::Amend {
            by: user("alice"),
            duration: None,
            incident: None,
            justification: None,
            session_policy: Some(wide),
        },
        &env,
    )
    .unwrap_err();
    assert_eq!(widened.code(), "session_policy_widens");
    let own = apply(
        &amended,
        Command::Approve {
            approver: user("alice"),
            digest: amended.digest,
            comment: String::new(),
        },
        &env,
    )
    .unwrap_err();
    assert!(matches!(own, TransitionError::SelfApproval(_)), "{own}");

    // Back to the playbook's own policy: not narrowed any more.
    let back = apply(
        &amended,
        Command::Amend {
            by: user("alice"),
            duration: None,
            incident: None,
            justification: None,
            session_policy: Some(String::new()),
        },
        &env,
    )
    .unwrap()
    .request;
    assert!(!back.spec.narrowed);
    assert_eq!(back.spec.session_policy, playbook_policy());
}

#[test]
fn without_an_action_catalog_narrowing_is_refused_and_plain_requests_still_work() {
    let rules = Rules::new(catalog(), &[]).unwrap();
    let settings = Settings::default();
    let env = Env {
        rules: &rules,
        settings: &settings,
        now: T0,
    };
    let id = RequestId::new("r-narrow-2").unwrap();
    let any = policy(&[r#"{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}"#]);
    let err = submit_narrowed(id.clone(), new_request(), Some(&any), &env).unwrap_err();
    assert_eq!(err.code(), "narrowing_unavailable");
    let t = submit_narrowed(id, new_request(), None, &env).unwrap();
    assert!(!t.request.spec.narrowed);
    let AuditEvent::RequestSubmitted(e) = &t.events[0] else {
        panic!("not a submission");
    };
    assert_eq!(e.allows, None);
}

//! Narrowing through the JSON API: `session_policy` on submission (a widening is refused
//! with `session_policy_widens` and audited as a refusal), `GET /api/v1/requests/{id}/permissions`
//! (what a request allows and what its narrowing removed; `not_configured` without an action
//! catalog), `POST /api/v1/requests/{id}/amend` (the requester's only; a new digest, so an
//! approval of the old one is `stale_digest`), and the approval notification's line.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{api, api_with_permissions, code_of};

fn contain(policy: Option<&String>) -> Value {
    let mut v = json!({
        "playbook": "contain", "role": "SecurityBreakGlass", "account": "222222222222",
        "duration_seconds": 3600, "incident": "INC-7", "justification": "stop the miner"
    });
    if let Some(p) = policy {
        v["session_policy"] = Value::String(p.clone());
    }
    v
}

const DENY: &str = r#"{"Effect":"Deny","Action":["iam:CreateUser","iam:DeleteUser","iam:CreateRole","iam:DeleteRole","organizations:*"],"Resource":"*"}"#;

fn narrowed(actions: &str, regions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"arn:aws:ec2:us-east-1:222222222222:instance/i-0abc","Condition":{{"StringEquals":{{"aws:RequestedRegion":{regions}}}}}}},{DENY}]}}"#
    )
}

pub fn actions() -> Option<breakglass_iam::Catalog> {
    let Some(data) = breakglass_testkit::shared_data("iam-data/data") else {
        eprintln!("skipped: the shared iam-data catalog is absent");
        return None;
    };
    let mut catalog = breakglass_iam::Catalog::new();
    for service in [
        "ec2",
        "iam",
        "organizations",
        "s3",
        "ssm",
        "sts",
        "cloudtrail",
        "logs",
    ] {
        let path = data.join("actions").join(format!("{service}.json"));
        catalog
            .add_service(service, &std::fs::read_to_string(path).unwrap())
            .unwrap();
    }
    Some(catalog)
}

#[tokio::test]
async fn narrowing_through_the_api() {
    let Some(actions) = actions() else {
        return;
    };
    let api = api_with_permissions(actions).await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;

    // Widening attempts: refused with a clear error, and audited as refusals.
    for (policy, named) in [
        (
            narrowed(r#""ec2:RunInstances""#, r#""us-east-1""#),
            "ec2:RunInstances",
        ),
        (
            narrowed(r#""ec2:StopInstances""#, r#"["us-east-1","ap-south-1"]"#),
            "ap-south-1",
        ),
    ] {
        let (s, v) = api
            .call(
                "POST",
                "/api/v1/requests",
                Some(&carol),
                Some(contain(Some(&policy))),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(code_of(&v), "session_policy_widens", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(named),
            "{v}"
        );
    }
    assert_eq!(
        api.audit_kinds()
            .await
            .iter()
            .filter(|k| *k == "action_refused")
            .count(),
        2
    );

    let one = narrowed(r#""ec2:StopInstances""#, r#""us-east-1""#);
    let (id, digest) = api.submit(&carol, contain(Some(&one))).await;
    let (s, r) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&bob), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["spec"]["narrowed"], true);
    let (s, p) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{id}/permissions"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["narrowed"], true);
    assert_eq!(p["allows"]["total"], 1);
    let removed: Vec<&str> = p["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(removed.contains(&"ec2:TerminateInstances"), "{removed:?}");
    assert!(p["playbook_total"].as_u64().unwrap() > 1);

    // Someone who may not read it is told it does not exist.
    let (mallory, _) = api.user("mallory", false).await;
    let (s, _) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{id}/permissions"),
            Some(&mallory),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Only the requester amends; an amendment that widens is refused like a submission.
    let two = narrowed(
        r#"["ec2:StopInstances","ec2:TerminateInstances"]"#,
        r#""us-east-1""#,
    );
    let path = format!("/api/v1/requests/{id}/amend");
    let (s, v) = api
        .call(
            "POST",
            &path,
            Some(&bob),
            Some(json!({"session_policy": two})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api
        .call(
            "POST",
            &path,
            Some(&carol),
            Some(json!({"session_policy": narrowed(r#""ec2:*""#, r#""us-east-1""#)})),
        )
        .await;
    assert_eq!(code_of(&v), "session_policy_widens", "{s} {v}");
    let (s, v) = api
        .call(
            "POST",
            &path,
            Some(&carol),
            Some(json!({"session_policy": two})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let new_digest = v["digest"].as_str().unwrap().to_owned();
    assert_ne!(new_digest, digest);

    // bob approves what he read before the amendment: refused.
    let approve = format!("/api/v1/requests/{id}/approve");
    let (s, v) = api
        .call(
            "POST",
            &approve,
            Some(&bob),
            Some(json!({"digest": digest, "totp": api.code(&bob_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(code_of(&v), "stale_digest");
    api.clock.advance(time::Duration::seconds(30));
    let (s, v) = api
        .call(
            "POST",
            &approve,
            Some(&bob),
            Some(json!({"digest": new_digest, "totp": api.code(&bob_seed)})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status_name"], "approved");
    let kinds = api.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "request_amended"), "{kinds:?}");
}

#[tokio::test]
async fn the_approval_notification_says_what_the_request_allows() {
    let Some(actions) = actions() else {
        return;
    };
    use breakglass_core::ports::{Clock as _, Store as _};
    let api = api_with_permissions(actions).await;
    let (carol, _) = api.user("carol", false).await;
    let one = narrowed(r#""ec2:StopInstances""#, r#""us-east-1""#);
    api.submit(&carol, contain(Some(&one))).await;
    let queued = api.store.outbox_due(api.clock.now(), 100).await.unwrap();
    let subject = queued
        .iter()
        .find(|m| m.notification.kind == "approval_needed")
        .map(|m| m.notification.subject.clone())
        .unwrap();
    assert!(
        subject.contains("allows 1 action in 1 service (0 permissions management)")
            && subject.contains("narrowed by the requester"),
        "{subject}"
    );
}

#[tokio::test]
async fn without_an_action_catalog() {
    let api = api().await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, _) = api.user("bob", false).await;
    let one = narrowed(r#""ec2:StopInstances""#, r#""us-east-1""#);
    let (s, v) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&carol),
            Some(contain(Some(&one))),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(code_of(&v), "narrowing_unavailable");
    let (id, _) = api.submit(&carol, contain(None)).await;
    let (s, v) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{id}/permissions"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(code_of(&v), "not_configured");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--catalog")
    );
}

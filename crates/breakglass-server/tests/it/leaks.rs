//! What the API must not give away or let anyone pin: a request to someone who may not
//! read it (every action answers not found, before any rule is checked), AWS's own words,
//! credentials for a destination that is refused anyway, and `/metrics` series to whoever
//! invents HTTP methods.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest, IssuedCredentials, Secret};
use breakglass_core::model::RoleArn;
use breakglass_server::console::ConsoleSettings;
use breakglass_testkit::cloud::FakeCloud;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use time::Duration;
use tower::ServiceExt as _;

use super::api::{Api, api, api_over};

fn investigate() -> Value {
    json!({
        "playbook": "investigate", "role": "SecurityAnalyst", "account": "222222222222",
        "duration_seconds": 3600, "incident": "INC-1", "justification": "suspicious logins"
    })
}

/// Carol's request approved by Bob and activated; returns (carol's token, bob's token,
/// request id, grant id).
async fn active_grant(api: &Api) -> (String, String, String, String) {
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (id, digest) = api.submit(&carol, investigate()).await;
    let code = api.code(&bob_seed);
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&bob),
            Some(json!({"digest": digest, "totp": code})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/activate"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let grant = v["grant"]["id"].as_str().unwrap().to_owned();
    (carol, bob, id, grant)
}

/// Erin is no responder: she may not read Carol's requests, so every action on them
/// answers 404 `not_found`, saying nothing of who asked or what state they are in, and
/// changes nothing. Today's refusals ("only the requester `carol` may cancel", "request
/// is active, not approved") told her both.
#[tokio::test]
async fn every_action_on_a_request_answers_not_found_to_who_may_not_read_it() {
    let api = api().await;
    let (carol, bob, active, grant) = active_grant(&api).await;
    let (pending, digest) = api.submit(&carol, investigate()).await;
    let (erin, erin_seed) = api.user("erin", false).await;

    let mut calls: Vec<(String, Value)> = vec![
        (
            format!("/api/v1/requests/{pending}/cancel"),
            json!({"reason": "x"}),
        ),
        (
            format!("/api/v1/requests/{pending}/deny"),
            json!({"reason": "x"}),
        ),
        (format!("/api/v1/requests/{active}/activate"), Value::Null),
        (
            format!("/api/v1/requests/{active}/extend"),
            json!({"add_seconds": 600, "justification": "more"}),
        ),
        (
            format!("/api/v1/requests/{active}/extension/deny"),
            json!({"reason": "x"}),
        ),
        (format!("/api/v1/grants/{grant}/credentials"), json!({})),
        (format!("/api/v1/grants/{grant}/console"), json!({})),
        (
            format!("/api/v1/grants/{grant}/revoke"),
            json!({"reason": "x"}),
        ),
    ];
    // The step-up actions, with a valid code of Erin's: the code is hers, the request not.
    for (path, body) in [
        (
            format!("/api/v1/requests/{pending}/approve"),
            json!({"digest": digest}),
        ),
        (
            format!("/api/v1/requests/{active}/extension/approve"),
            json!({"digest": digest}),
        ),
        (
            format!("/api/v1/requests/{active}/review"),
            json!({"outcome": "appropriate", "notes": ""}),
        ),
    ] {
        calls.push((path, body));
    }
    for (path, mut body) in calls {
        if path.ends_with("approve") || path.ends_with("review") {
            api.clock.advance(Duration::seconds(30));
            body["totp"] = json!(api.code(&erin_seed));
        }
        let body = (!body.is_null()).then_some(body);
        let (s, v) = api.call("POST", &path, Some(&erin), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "POST {path}: {v}");
        assert_eq!(v["error"]["code"], "not_found", "POST {path}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains("carol") && !text.contains("active") && !text.contains("pending"),
            "POST {path} told erin: {text}"
        );
    }
    // Nothing changed.
    let (_, v) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{pending}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(v["status_name"], "pending", "{v}");
    let (_, v) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{active}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(v["status_name"], "active", "{v}");
    // A grant's request: its requester reads it; to Erin it is as absent as a grant that
    // never existed, in the same words.
    let (s, v) = api
        .call(
            "GET",
            &format!("/api/v1/grants/{grant}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], active.as_str(), "{v}");
    let (s, seen) = api
        .call("GET", &format!("/api/v1/grants/{grant}"), Some(&erin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{seen}");
    let (s, never) = api
        .call("GET", "/api/v1/grants/g-doesnotexist0", Some(&erin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{never}");
    let words = |v: &Value| {
        v["error"]["message"]
            .as_str()
            .unwrap()
            .replace(grant.as_str(), "g-X")
            .replace("g-doesnotexist0", "g-X")
    };
    assert_eq!(words(&seen), words(&never));
    assert!(!seen.to_string().contains("carol"), "{seen}");
    // A reader who may not act still hears why (Bob may approve Carol's request).
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{pending}/cancel"),
            Some(&bob),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

/// A request's method becomes a `/metrics` label only if it is one of HTTP's own: a flood of
/// invented methods adds one `other` series, not one per method (each would pin its name in
/// memory for the life of the process).
#[tokio::test]
async fn invented_http_methods_do_not_grow_the_metrics() {
    let api = api().await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("breakglass_http_requests_total{"))
            .count()
    };
    let metrics = || async {
        let (s, v) = api.call("GET", "/metrics", None, None).await;
        assert_eq!(s, StatusCode::OK);
        v.as_str().unwrap().to_owned()
    };
    let before = series(&metrics().await);
    for i in 0..300 {
        let method = format!("FLOOD{i:03}{}", "X".repeat(200));
        let resp = api
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method.as_str())
                    .uri("/api/v1/me")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let _ = resp.into_body().collect().await;
    }
    let text = metrics().await;
    let after = series(&text);
    // The flood's requests, and the `/metrics` reads, in at most a few new series.
    assert!(
        after <= before + 3,
        "{before} series before the flood, {after} after:\n{text}"
    );
    assert!(!text.contains("FLOOD"), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
}

/// STS refuses the `AssumeRole` in its own words, which name the account and role.
#[derive(Debug)]
struct RefusingCloud(FakeCloud);

const AWS_WORDS: &str = "ValidationError: 1 validation error detected: Value at 'roleArn' arn:aws:iam::222222222222:role/SecurityAnalyst";

impl Cloud for RefusingCloud {
    async fn issue(&self, _: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        Err(CloudError::Invalid(format!(
            "AssumeRole on arn:aws:iam::222222222222:role/SecurityAnalyst was refused: {AWS_WORDS}"
        )))
    }
    async fn role_id(&self, role: &RoleArn) -> Result<String, CloudError> {
        self.0.role_id(role).await
    }
    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        self.0.inline_policy_names(role).await
    }
    async fn inline_policy(
        &self,
        role: &RoleArn,
        name: &str,
    ) -> Result<Option<String>, CloudError> {
        self.0.inline_policy(role, name).await
    }
    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        name: &str,
        doc: &str,
    ) -> Result<(), CloudError> {
        self.0.put_inline_policy(role, name, doc).await
    }
    async fn delete_inline_policy(&self, role: &RoleArn, name: &str) -> Result<(), CloudError> {
        self.0.delete_inline_policy(role, name).await
    }
    async fn console_url(
        &self,
        c: &IssuedCredentials,
        d: time::Duration,
        dest: &str,
    ) -> Result<Secret, CloudError> {
        self.0.console_url(c, d, dest).await
    }
    async fn console_sign_in_reachable(&self) -> Result<(), CloudError> {
        self.0.console_sign_in_reachable().await
    }
    async fn caller_identity(
        &self,
        c: &breakglass_core::cloud::IssuedCredentials,
    ) -> Result<String, CloudError> {
        self.0.caller_identity(c).await
    }
    fn keeps_organization_policy(&self) -> bool {
        self.0.keeps_organization_policy()
    }
    async fn organization_policy(&self) -> Result<Option<String>, CloudError> {
        self.0.organization_policy().await
    }
    async fn put_organization_policy(&self, document: &str) -> Result<(), CloudError> {
        self.0.put_organization_policy(document).await
    }
}

/// The API over a fake cloud the test keeps a handle on.
async fn api_with_cloud() -> (Api, Arc<FakeCloud>) {
    let mut cloud = None;
    let api = api_over(
        ConsoleSettings::default(),
        breakglass_config::LocalAccounts::All,
        false,
        |clock| {
            let c = Arc::new(FakeCloud::new(clock));
            cloud = Some(Arc::clone(&c));
            c
        },
    )
    .await;
    (api, cloud.unwrap())
}

/// AWS's refusal reaches the log, not the client: the client gets the stable code and a
/// correlation id to quote.
#[tokio::test]
async fn aws_error_text_stays_in_the_log() {
    let api = api_over(
        ConsoleSettings::default(),
        breakglass_config::LocalAccounts::All,
        false,
        |clock| Arc::new(RefusingCloud(FakeCloud::new(clock))),
    )
    .await;
    let (carol, _, _, grant) = active_grant(&api).await;
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "aws_limit", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("correlation id"), "{message}");
    for leaked in [
        "ValidationError",
        "222222222222",
        "SecurityAnalyst",
        "roleArn",
    ] {
        assert!(
            !message.contains(leaked),
            "`{leaked}` reached the client: {v}"
        );
    }
}

/// A console sign-in URL for a destination that is not the AWS console is refused before
/// anything is minted: no `AssumeRole`, no issuance recorded. Lookalike hosts and
/// addresses are refused as well; a regional console page is fine.
#[tokio::test]
async fn a_refused_console_destination_mints_nothing() {
    let (api, cloud) = api_with_cloud().await;
    let (carol, _, _, grant) = active_grant(&api).await;
    for dest in [
        "https://evil.example/",
        "https://console.aws.amazon.com.evil.example/",
        "https://evilconsole.aws.amazon.com/",
        "http://console.aws.amazon.com/",
        "https://user:pw@console.aws.amazon.com/",
        "https://10.0.0.1/",
        "not a url",
    ] {
        let (s, v) = api
            .call(
                "POST",
                &format!("/api/v1/grants/{grant}/console"),
                Some(&carol),
                Some(json!({"destination": dest})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{dest}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("console destination"),
            "{dest}: {v}"
        );
        assert_eq!(
            *cloud.minted.lock().unwrap(),
            0,
            "{dest} minted credentials"
        );
    }
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/console"),
            Some(&carol),
            Some(json!({"destination": "https://eu-west-1.console.aws.amazon.com/ec2/home"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(*cloud.minted.lock().unwrap(), 1);
}

/// A sign-in endpoint the broker cannot reach (an emulator's sessions, no route out) is
/// found before anything is minted: the caller reads why and what to use instead, and no
/// credentials exist for the console that could not open.
#[tokio::test]
async fn an_unreachable_sign_in_endpoint_mints_nothing_and_says_why() {
    let (api, cloud) = api_with_cloud().await;
    let (carol, _, _, grant) = active_grant(&api).await;
    cloud
        .sign_in_unreachable
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let console = format!("/api/v1/grants/{grant}/console");
    // Who may not read the grant learns nothing from the endpoint's state: not found, as
    // ever, and the refusal audited, before the broker reaches out.
    let (erin, _) = api.user("erin", false).await;
    let refused_before = api
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "action_refused")
        .count();
    let (s, v) = api
        .call("POST", &console, Some(&erin), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let refused_after = api
        .audit_kinds()
        .await
        .iter()
        .filter(|k| *k == "action_refused")
        .count();
    assert_eq!(refused_after, refused_before + 1);
    let (s, v) = api
        .call("POST", &console, Some(&carol), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "sign_in_unreachable", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    for words in [
        "the sign-in endpoint did not answer",
        "No credentials were minted",
        "breakglass exec --grant",
    ] {
        assert!(
            message.contains(words),
            "{words:?} missing from {message:?}"
        );
    }
    assert_eq!(*cloud.minted.lock().unwrap(), 0, "credentials were minted");
    assert_eq!(
        super::support::audit_count(&api.store, "credentials_issued", None).await,
        0
    );
    // Once the endpoint answers, the same grant opens the console.
    cloud
        .sign_in_unreachable
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let (s, v) = api
        .call("POST", &console, Some(&carol), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(*cloud.minted.lock().unwrap(), 1);
    assert_eq!(
        super::support::audit_count(&api.store, "credentials_issued", None).await,
        1
    );
}

/// The refused break-glass alerts waiting in the outbox, and the refused break-glass
/// attempts audited.
async fn refusals(api: &Api) -> (Vec<String>, usize) {
    use breakglass_core::ports::Store as _;
    let far = time::macros::datetime!(9999-01-01 0:00 UTC);
    let pages = api
        .store
        .outbox_due(far, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.notification.kind == "break_glass_refused")
        .map(|m| m.notification.subject)
        .collect();
    let audited = api
        .store
        .audit_rows(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "action_refused" && r.body.contains("\"break_glass\":true"))
        .count();
    (pages, audited)
}

/// Anyone signed in can try break-glass and be refused, and each refusal used to page the
/// whole security team at critical severity. Now every attempt is still audited, but a
/// responder's refusals page at most once per window, the next page counting those folded
/// into it, and someone who is not a responder at all never pages.
#[tokio::test]
async fn refused_break_glass_pages_once_per_window_and_never_for_a_non_responder() {
    use breakglass_core::refusals::ALERT_WINDOW;
    let api = api().await;
    // Carol is a responder but no ir-lead: the emergency playbook is not hers.
    let (carol, carol_seed) = api.user("carol", false).await;
    let (erin, erin_seed) = api.user("erin", false).await;
    let attempt = |token: String, code: String| {
        let api = &api;
        async move {
            let body = json!({
                "playbook": "emergency", "role": "SecurityBreakGlass", "account": "222222222222",
                "duration_seconds": 1800, "incident": "INC-9", "justification": "flood",
                "totp": code
            });
            let (s, v) = api
                .call("POST", "/api/v1/break-glass", Some(&token), Some(body))
                .await;
            assert!(s.is_client_error(), "{s}: {v}");
        }
    };
    // A refused attempt leaves its (valid) code unspent, so the same one serves each try.
    let code = api.code(&carol_seed);
    for _ in 0..20 {
        attempt(carol.clone(), code.clone()).await;
    }
    let code = api.code(&erin_seed);
    for _ in 0..10 {
        attempt(erin.clone(), code.clone()).await;
    }
    let (pages, audited) = refusals(&api).await;
    assert_eq!(audited, 30, "every attempt is audited");
    assert_eq!(pages.len(), 1, "{pages:#?}");

    api.clock.advance(ALERT_WINDOW);
    attempt(carol.clone(), api.code(&carol_seed)).await;
    attempt(erin.clone(), api.code(&erin_seed)).await;
    let (pages, audited) = refusals(&api).await;
    assert_eq!(audited, 32);
    assert_eq!(pages.len(), 2, "{pages:#?}");
    assert!(
        pages[1].contains("and 19 more refused attempts by `carol`"),
        "{pages:#?}"
    );
}

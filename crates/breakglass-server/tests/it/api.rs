//! The HTTP API through `tower::ServiceExt::oneshot`, over a real SQLite store and the
//! example config, with an in-memory `Cloud` double standing in for STS and IAM.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use breakglass_config::Config;
use breakglass_core::app::App;
use breakglass_core::broker::Broker;
use breakglass_core::cloud::SharedCloud;
use breakglass_core::ports::{Clock, IdSource, ManualClock, SequentialIds};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use breakglass_server::api::{openapi_document, routes};
use breakglass_server::app::{AppState, AuthService};
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, totp};
use breakglass_server::router;
use breakglass_store::SqlStore;
use breakglass_testkit::cloud::FakeCloud;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, macros::datetime};
use tower::ServiceExt as _;

/// The bot token and signing secret of the Slack app a config with `[slack]` gets.
pub const SLACK_TOKEN: &str = "xoxb-test-bot-token";
pub const SLACK_SECRET: &str = "test-signing-secret-0123456789";

/// The state machine under the API, for tests that drive it directly.
pub type ApiBroker = Broker<SqlStore, Arc<dyn Clock>, Arc<dyn IdSource>>;

pub struct Api {
    pub router: axum::Router,
    pub app: Arc<breakglass_server::app::AppService>,
    pub broker: Arc<ApiBroker>,
    pub slack: Option<Arc<breakglass_server::chat::SlackApp>>,
    pub clock: Arc<ManualClock>,
    pub auth: Arc<AuthService>,
    pub store: SqlStore,
    _dir: tempfile::TempDir,
}

pub async fn api() -> Api {
    api_with(breakglass_server::console::ConsoleSettings::default()).await
}

/// The API with these console settings (its public URL, the trusted proxies).
pub async fn api_with(console: breakglass_server::console::ConsoleSettings) -> Api {
    api_with_local(console, breakglass_config::LocalAccounts::All, false).await
}

/// The API with these console settings and local accounts limited to `local` (`sso`: an
/// identity provider is configured, so local sign-ins alert).
pub async fn api_with_local(
    console: breakglass_server::console::ConsoleSettings,
    local: breakglass_config::LocalAccounts,
    sso: bool,
) -> Api {
    api_over(console, local, sso, |clock| Arc::new(FakeCloud::new(clock))).await
}

/// The API over the cloud `cloud` builds from the test's clock.
pub async fn api_over(
    console: breakglass_server::console::ConsoleSettings,
    local: breakglass_config::LocalAccounts,
    sso: bool,
    cloud: impl FnOnce(&Arc<ManualClock>) -> SharedCloud,
) -> Api {
    api_built(console, local, sso, "", cloud, None).await
}

/// The API over the example config whose broker knows what requests allow: the config's
/// role policies and `actions`, the action catalog.
pub async fn api_with_permissions(actions: breakglass_iam::Catalog) -> Api {
    api_built(
        breakglass_server::console::ConsoleSettings::default(),
        breakglass_config::LocalAccounts::All,
        false,
        "",
        |clock| Arc::new(FakeCloud::new(clock)),
        Some(actions),
    )
    .await
}

/// The API over the example config with `extra` appended (more playbooks, `[auth.passkeys]`:
/// passkeys are accepted when it configures them).
pub async fn api_with_config(extra: &str) -> Api {
    api_built(
        breakglass_server::console::ConsoleSettings::default(),
        breakglass_config::LocalAccounts::All,
        false,
        extra,
        |clock| Arc::new(FakeCloud::new(clock)),
        None,
    )
    .await
}

async fn api_built(
    console: breakglass_server::console::ConsoleSettings,
    local: breakglass_config::LocalAccounts,
    sso: bool,
    extra: &str,
    cloud: impl FnOnce(&Arc<ManualClock>) -> SharedCloud,
    actions: Option<breakglass_iam::Catalog>,
) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bg.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let text = std::fs::read_to_string(
        breakglass_testkit::workspace_root().join("examples/breakglass.toml"),
    )
    .unwrap();
    let text = format!("{text}\n{extra}");
    let config = Config::load(&text, "breakglass.toml").unwrap();
    let mut rules = Rules::new(config.catalog(), &[]).unwrap();
    if let Some(actions) = actions {
        let roles =
            breakglass_config::report::role_policies(&config, &std::collections::BTreeMap::new());
        rules = rules.with_permissions(Arc::new(breakglass_core::model::PermissionModel::new(
            Arc::new(actions),
            roles,
        )));
    }
    let clock = Arc::new(ManualClock::new(datetime!(2024-03-01 12:00:00 UTC)));
    let c: Arc<dyn Clock> = clock.clone();
    let ids: Arc<dyn IdSource> = Arc::new(SequentialIds::new("t").unwrap());
    let broker = Arc::new(Broker::new(
        store.clone(),
        c.clone(),
        ids,
        rules,
        Settings::default(),
    ));
    let cloud: SharedCloud = cloud(&clock);
    let access = Arc::new(App::new(Arc::clone(&broker), cloud));
    let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
    let mut auth =
        Auth::new(store.clone(), c, key, Limits::default()).with_local_accounts(local, sso);
    if let Some(p) = &config.auth.passkeys {
        auth = auth.with_passkeys(breakglass_server::auth::RelyingParty::new(p).unwrap());
    }
    let auth = Arc::new(auth);
    let slack = config.slack.clone().map(|slack| {
        let console_url = &config.notifications.as_ref().unwrap().console_url;
        Arc::new(
            breakglass_server::chat::SlackApp::new(slack, console_url, |var| match var {
                "BREAKGLASS_SLACK_BOT_TOKEN" => Some(SLACK_TOKEN.to_owned()),
                "BREAKGLASS_SLACK_SIGNING_SECRET" => Some(SLACK_SECRET.to_owned()),
                _ => None,
            })
            .unwrap(),
        )
    });
    let state = Arc::new(
        AppState::new(Arc::clone(&access), Arc::clone(&auth), console).with_slack(slack.clone()),
    );
    Api {
        router: router(state),
        app: access,
        broker,
        slack,
        clock,
        auth,
        store,
        _dir: dir,
    }
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let resp = self
            .router
            .clone()
            .oneshot(
                req.header("content-type", "application/json")
                    .body(body)
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    /// Submits request `ask` as the holder of `token`; returns its (id, digest).
    pub async fn submit(&self, token: &str, ask: Value) -> (String, String) {
        let (s, r) = self
            .call("POST", "/api/v1/requests", Some(token), Some(ask))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        (
            r["id"].as_str().unwrap().to_owned(),
            r["digest"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates `name` with TOTP enrolled; returns (token, TOTP seed in base32).
    pub async fn user(&self, name: &str, admin: bool) -> (String, String) {
        self.auth
            .add_user(name, "correct horse battery", admin, None)
            .await
            .unwrap();
        let (s, v) = self
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some(json!({"username": name, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        let (s, v) = self
            .call(
                "POST",
                "/api/v1/totp/enroll",
                Some(&token),
                Some(json!({"password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let secret = v["secret"].as_str().unwrap().to_owned();
        let (s, v) = self
            .call(
                "POST",
                "/api/v1/totp/confirm",
                Some(&token),
                Some(json!({"code": self.code(&secret)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        // The confirming code's time step is spent: the next code a test asks for is the
        // next step's.
        self.clock.advance(time::Duration::seconds(30));
        (token, secret)
    }

    /// The `type` of every audit record, in order.
    pub async fn audit_kinds(&self) -> Vec<String> {
        use breakglass_core::ports::Store as _;
        self.store
            .audit_rows(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }

    pub fn code(&self, secret: &str) -> String {
        let seed = totp::base32_decode(secret).unwrap();
        totp::code_at(
            &seed,
            totp::step_of(self.clock.now().unix_timestamp()),
            totp::DIGITS,
        )
    }
}

/// The stable code of an error answer (`""` for a success).
pub fn code_of(r: &Value) -> &str {
    r["error"]["code"].as_str().unwrap_or_default()
}

fn investigate(duration: i64) -> Value {
    json!({
        "playbook": "investigate", "role": "SecurityAnalyst", "account": "222222222222",
        "duration_seconds": duration, "incident": "INC-1", "justification": "suspicious logins"
    })
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let api = api().await;
    let (s, doc) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc, openapi_document());
    assert_eq!(doc["openapi"], "3.0.3");
    let all = routes();
    assert!(all.len() >= 31);
    // Every route of the wire contract has a handler (one without is left out of `routes`).
    let documented: Vec<(&str, &str)> = breakglass_api::route_docs()
        .iter()
        .map(|d| (d.method, d.path))
        .collect();
    let served: Vec<(&str, &str)> = all.iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(served, documented, "a documented route has no handler");
    for r in &all {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the document",
            r.method,
            r.path
        );
        // And the router really serves it (not the fallback).
        let path = r.path.replace("{id}", "x-1");
        let (s, v) = api.call(r.method, &path, None, None).await;
        assert!(
            !(s == StatusCode::NOT_FOUND
                && v["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no such route")),
            "{} {path} is not routed",
            r.method
        );
        if r.authenticated {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{} {path}: {v}", r.method);
            assert_eq!(v["error"]["code"], "unauthenticated");
        }
    }
    let (s, v) = api.call("GET", "/nope", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
}

/// A listing passes stored documents on undecoded: each listed request must be exactly what
/// fetching it alone (decoded, then serialized) shows, for its requester, an approver and an
/// administrator alike.
#[tokio::test]
async fn a_listed_request_is_what_fetching_it_shows() {
    let api = api().await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (dana, _) = api.user("dana", true).await;
    let mut ids = Vec::new();
    for justification in [
        "suspicious logins",
        "quotes \" and a backslash \\, ünïcödé, </script> and a\nnew line",
        "third",
    ] {
        let mut ask = investigate(3600);
        ask["justification"] = json!(justification);
        ids.push(api.submit(&carol, ask).await);
    }
    let (id, digest) = &ids[1];
    let code = api.code(&bob_seed);
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&bob),
            Some(json!({"digest": digest, "totp": code, "comment": "ok \"quoted\""})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    for who in [&carol, &bob, &dana] {
        let (s, v) = api.call("GET", "/api/v1/requests", Some(who), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let listed = v["requests"].as_array().unwrap();
        assert_eq!(listed.len(), 3, "{v}");
        for item in listed {
            let id = item["id"].as_str().unwrap();
            let (s, one) = api
                .call("GET", &format!("/api/v1/requests/{id}"), Some(who), None)
                .await;
            assert_eq!(s, StatusCode::OK, "{one}");
            assert_eq!(item, &one, "listed and fetched differ");
        }
        assert_eq!(listed[1]["status_name"], "approved");
        assert_eq!(listed[1]["version"], 2);
        assert_eq!(listed[0]["status_name"], "pending");
    }
}

#[tokio::test]
async fn request_approve_activate_credentials_revoke() {
    let api = api().await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;

    let (s, r) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&carol),
            Some(investigate(3600)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let digest = r["digest"].as_str().unwrap().to_owned();

    let (s, v) = api
        .call("GET", "/api/v1/requests?status=pending", Some(&bob), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    // Erin neither asked nor may approve it: the request does not exist for her.
    let (erin, _) = api.user("erin", false).await;
    let (s, v) = api
        .call("GET", "/api/v1/requests?status=pending", Some(&erin), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["requests"].as_array().unwrap().len(), 0, "{v}");
    let (s, v) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&erin), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&bob), None)
        .await;
    assert_eq!(s, StatusCode::OK);

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
    assert_eq!(v["status_name"], "approved");

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

    // Only the requester may use the grant.
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    let (s, c) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["Version"], 1);
    assert_eq!(c["AccessKeyId"], "ASIAFAKE000000000001");
    assert_eq!(c["SecretAccessKey"], "secret");
    assert!(
        c["Expiration"]
            .as_str()
            .unwrap()
            .starts_with("2024-03-01T1")
    );

    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(&bob),
            Some(json!({"reason": "done"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status_name"], "revoked");
    assert_eq!(v["sessions_denied"], true);

    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/grants/{grant}/credentials"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    // The audit log is for administrators.
    let (s, v) = api
        .call("GET", "/api/v1/audit/verify", Some(&bob), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (root, _) = api.user("root", true).await;
    let (s, v) = api
        .call("GET", "/api/v1/audit/verify", Some(&root), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ok"], true, "{v}");
    let (s, v) = api.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v.as_str()
            .unwrap()
            .contains("route=\"/api/v1/requests/{id}/approve\",status=\"200\"} 1"),
        "{v}"
    );
}

#[tokio::test]
async fn refusals_have_clear_errors() {
    let api = api().await;
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, _bob_seed) = api.user("bob", false).await;

    // Above the playbook's maximum (4 h).
    let (s, v) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&alice),
            Some(investigate(5 * 3600)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "duration_out_of_bounds");

    let (_, r) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&alice),
            Some(investigate(3600)),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    let digest = r["digest"].as_str().unwrap().to_owned();

    // Self-approval, even with a valid TOTP.
    let code = api.code(&alice_seed);
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&alice),
            Some(json!({"digest": digest, "totp": code})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "self_approval");

    // A wrong TOTP.
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&bob),
            Some(json!({"digest": digest, "totp": "000000"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "totp_invalid");

    // Bad JSON, unknown fields, an oversized body.
    let (s, v) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&alice),
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON body")
    );
    let big = json!({"justification": "x".repeat(100_000)});
    let (s, _) = api
        .call("POST", "/api/v1/requests", Some(&alice), Some(big))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    // Absurd token lifetimes are refused, not overflowed.
    let (s, v) = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&alice),
            Some(json!({"name": "x", "ttl_hours": i64::MAX})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ttl_hours")
    );

    // An expired token.
    api.clock.advance(Duration::hours(13));
    let (s, v) = api.call("GET", "/api/v1/me", Some(&bob), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["error"]["code"], "token_expired");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("breakglass login")
    );
}

/// The audit records after `after`, as (kind, record) pairs.
async fn audit_after(api: &Api, token: &str, after: u64) -> Vec<(String, Value)> {
    let (s, v) = api
        .call(
            "GET",
            &format!("/api/v1/audit?after={after}&limit=1000"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["record"]["event"]["type"].as_str().unwrap().to_owned(),
                r.clone(),
            )
        })
        .collect()
}

async fn last_seq(api: &Api, token: &str) -> u64 {
    audit_after(api, token, 0)
        .await
        .last()
        .map_or(0, |(_, r)| r["seq"].as_u64().unwrap())
}

#[tokio::test]
async fn approve_spends_the_totp_code_in_its_own_commit_and_only_once() {
    let api = api().await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    // The audit log is read by an administrator.
    let (root, _) = api.user("root", true).await;
    let mut requests = Vec::new();
    for _ in 0..2 {
        requests.push(api.submit(&carol, investigate(3600)).await);
    }
    let (first, first_digest) = &requests[0];
    let (second, second_digest) = &requests[1];
    let code = api.code(&bob_seed);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let approve = |id: &str, digest: &str, totp: &str| {
        (
            format!("/api/v1/requests/{id}/approve"),
            json!({"digest": digest, "totp": totp}),
        )
    };

    // A wrong code changes nothing but its audited failure.
    let seq = last_seq(&api, &root).await;
    let (path, body) = approve(first, first_digest, &wrong);
    let (s, v) = api.call("POST", &path, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "totp_invalid");
    let added = audit_after(&api, &root, seq).await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].0, "totp_failed");
    assert_eq!(added[0].1["record"]["event"]["reason"], "wrong code");
    let (_, r) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{first}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        (r["version"].clone(), r["status_name"].clone()),
        (json!(1), json!("pending"))
    );

    // A refused approval (a stale digest) leaves the right code unspent...
    let seq = last_seq(&api, &root).await;
    let (path, body) = approve(first, second_digest, &code);
    let (s, v) = api.call("POST", &path, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "stale_digest");
    assert!(
        !audit_after(&api, &root, seq)
            .await
            .iter()
            .any(|(k, _)| k == "totp_verified")
    );

    // ...so it approves: the step-up and the approval are one commit, consecutive records.
    let seq = last_seq(&api, &root).await;
    let (path, body) = approve(first, first_digest, &code);
    let (s, v) = api.call("POST", &path, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status_name"], "approved");
    let kinds: Vec<String> = audit_after(&api, &root, seq)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds[0], "totp_verified", "{kinds:?}");
    assert_eq!(kinds[1], "approval_recorded", "{kinds:?}");

    // The same code again is a replay: refused and audited, the second request unchanged.
    let seq = last_seq(&api, &root).await;
    let (path, body) = approve(second, second_digest, &code);
    let (s, v) = api.call("POST", &path, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "totp_invalid");
    let added = audit_after(&api, &root, seq).await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].0, "totp_failed");
    assert_eq!(added[0].1["record"]["event"]["reason"], "code already used");
    let (_, r) = api
        .call(
            "GET",
            &format!("/api/v1/requests/{second}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        (r["version"].clone(), r["status_name"].clone()),
        (json!(1), json!("pending"))
    );

    // The next step's code approves it.
    api.clock.advance(Duration::seconds(30));
    let (path, body) = approve(second, second_digest, &api.code(&bob_seed));
    let (s, v) = api.call("POST", &path, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn an_administrator_may_revoke_any_grant_and_nobody_else_outside_the_rules() {
    let api = api().await;
    let (carol, _) = api.user("carol", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (erin, _) = api.user("erin", false).await;
    // Not a responder at all: only the administrator flag.
    let (root, _) = api.user("root", true).await;
    let (s, r) = api
        .call(
            "POST",
            "/api/v1/requests",
            Some(&carol),
            Some(investigate(3600)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let code = api.code(&bob_seed);
    let (s, v) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{id}/approve"),
            Some(&bob),
            Some(json!({"digest": r["digest"], "totp": code})),
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
    let revoke = |token: &str| {
        let path = format!("/api/v1/grants/{grant}/revoke");
        let token = token.to_owned();
        let api = &api;
        async move {
            api.call(
                "POST",
                &path,
                Some(&token),
                Some(json!({"reason": "contained"})),
            )
            .await
        }
    };
    // Erin may not read the request: for her it does not exist.
    let (s, v) = revoke(&erin).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = revoke(&root).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status_name"], "revoked");
    let revoked = audit_after(&api, &root, 0)
        .await
        .into_iter()
        .find(|(k, _)| k == "grant_revoked")
        .unwrap()
        .1;
    assert_eq!(
        revoked["record"]["event"]["decision"]["policies"][0]["id"],
        "broker-administrator"
    );
}

/// Extensions are decided like requests: an approver other than the requester, with a TOTP
/// step-up, bound to the extension's digest; the grant's end moves only then, and every
/// step is in the audit chain. The requester, though an approver of the playbook, can
/// neither approve nor deny their own extension.
#[tokio::test]
async fn extensions_are_approved_and_denied_with_a_step_up_never_by_the_requester() {
    let api = api().await;
    // Alice is an ir-lead, so the rules would let her approve `investigate` requests.
    let (alice, alice_seed) = api.user("alice", false).await;
    let (bob, bob_seed) = api.user("bob", false).await;
    let (dana, _) = api.user("dana", true).await;
    let (id, digest) = api.submit(&alice, investigate(3600)).await;
    let code = api.code(&bob_seed);
    let approve = format!("/api/v1/requests/{id}/approve");
    let body = json!({"digest": digest, "totp": code});
    let (s, v) = api.call("POST", &approve, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let activate = format!("/api/v1/requests/{id}/activate");
    let (s, v) = api.call("POST", &activate, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let end = v["grant"]["end"].as_str().unwrap().to_owned();

    // An hour more, asked for by the requester.
    let extend = format!("/api/v1/requests/{id}/extend");
    let body = json!({"add_seconds": 3600, "justification": "still containing"});
    let (s, v) = api.call("POST", &extend, Some(&alice), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ext_digest = v["grant"]["pending_extension"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(ext_digest, digest, "an extension has a digest of its own");

    // The requester cannot approve her own extension, whatever her groups.
    api.clock.advance(Duration::seconds(30));
    let approve_ext = format!("/api/v1/requests/{id}/extension/approve");
    let deny_ext = format!("/api/v1/requests/{id}/extension/deny");
    let body = json!({"digest": ext_digest, "totp": api.code(&alice_seed)});
    let (s, v) = api
        .call("POST", &approve_ext, Some(&alice), Some(body))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "self_approval");
    // Nor with the request's digest instead of the extension's, nor without a code.
    let body = json!({"digest": digest, "totp": api.code(&bob_seed)});
    let (s, v) = api.call("POST", &approve_ext, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "stale_digest");
    let body = json!({"digest": ext_digest, "totp": ""});
    let (s, v) = api.call("POST", &approve_ext, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "totp_missing");
    let (s, v) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["grant"]["end"], end.as_str(), "refusals moved nothing");

    // Nor can a responder whom the rules do not make an approver, with a valid code.
    let (carol, carol_seed) = api.user("carol", false).await;
    let body = json!({"digest": ext_digest, "totp": api.code(&carol_seed)});
    let (s, v) = api
        .call("POST", &approve_ext, Some(&carol), Some(body))
        .await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s} {v}"
    );
    let body = json!({"reason": "not mine to decide"});
    let (s, v) = api.call("POST", &deny_ext, Some(&carol), Some(body)).await;
    assert!(
        s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
        "{s} {v}"
    );

    // Bob approves it with a fresh code: the end moves by exactly the hour.
    api.clock.advance(Duration::seconds(30));
    let before = last_seq(&api, &dana).await;
    let body = json!({"digest": ext_digest, "totp": api.code(&bob_seed), "comment": "ok"});
    let (s, v) = api.call("POST", &approve_ext, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let old_end = time::OffsetDateTime::parse(&end, &Rfc3339).unwrap();
    let new_end =
        time::OffsetDateTime::parse(v["grant"]["end"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(new_end - old_end, Duration::hours(1));
    assert!(v["grant"]["pending_extension"].is_null(), "{v}");
    assert_eq!(v["grant"]["extensions"][0]["approvers"], json!(["bob"]));
    let kinds: Vec<String> = audit_after(&api, &dana, before)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kinds,
        [
            "totp_verified",
            "extension_approval_recorded",
            "grant_extended"
        ]
    );
    // The same code again is a replay, refused and audited.
    let body = json!({"digest": ext_digest, "totp": api.code(&bob_seed)});
    let (s, v) = api.call("POST", &approve_ext, Some(&bob), Some(body)).await;
    assert_ne!(s, StatusCode::OK, "{v}");

    // A second extension, turned down: the end stays where it is.
    let body = json!({"add_seconds": 1800, "justification": "one more half hour"});
    let (s, v) = api.call("POST", &extend, Some(&alice), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let body = json!({"reason": "mine to decide"});
    let (s, v) = api.call("POST", &deny_ext, Some(&alice), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "self_approval");
    let body = json!({"reason": "hand over to the next shift"});
    let (s, v) = api.call("POST", &deny_ext, Some(&bob), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["grant"]["pending_extension"].is_null(), "{v}");
    let still = time::OffsetDateTime::parse(v["grant"]["end"].as_str().unwrap(), &Rfc3339);
    assert_eq!(still.unwrap(), new_end);
    let kinds: Vec<String> = audit_after(&api, &dana, 0)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(kinds.contains(&"extension_denied".to_owned()), "{kinds:?}");
    let (s, v) = api
        .call("GET", "/api/v1/audit/verify", Some(&dana), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}

/// `GET /api/v1/playbooks` answers what the caller may ask for, and a request may name its
/// account as the config does (`production`); an unknown name is refused with the accounts.
#[tokio::test]
async fn playbooks_and_accounts_by_name() {
    let api = api().await;
    let (alice, _) = api.user("alice", false).await;
    let (carol, _) = api.user("carol", false).await;
    let (s, v) = api
        .call("GET", "/api/v1/playbooks", Some(&alice), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["collect-evidence", "contain", "emergency", "investigate"]
    );
    let emergency = &v["playbooks"][2];
    assert_eq!(emergency["required_approvals"], 2);
    assert_eq!(emergency["targets"][0]["account_name"], "production");
    assert_eq!(emergency["targets"][0]["break_glass_max_seconds"], 3600);
    let (_, v) = api
        .call("GET", "/api/v1/playbooks", Some(&carol), None)
        .await;
    assert!(
        !v["playbooks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "emergency"),
        "{v}"
    );
    let (s, _) = api.call("GET", "/api/v1/playbooks", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let mut ask = investigate(3600);
    ask["account"] = json!("production");
    let (id, _) = api.submit(&alice, ask.clone()).await;
    let (_, r) = api
        .call("GET", &format!("/api/v1/requests/{id}"), Some(&alice), None)
        .await;
    assert_eq!(r["spec"]["account"], "222222222222", "{r}");
    ask["account"] = json!("prod");
    let (s, v) = api
        .call("POST", "/api/v1/requests", Some(&alice), Some(ask))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("unknown account `prod`")
            && message.contains("`production` (222222222222)"),
        "{message}"
    );
}

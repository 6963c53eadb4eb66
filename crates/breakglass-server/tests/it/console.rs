//! The web console over HTTP: a real server on 127.0.0.1 over SQLite and the example config,
//! with the in-memory `Cloud` double, driven by a cookie-keeping client that does not
//! follow redirects (so every 303 and `Set-Cookie` is checked as sent).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use breakglass_core::broker::Broker;
use breakglass_core::config::Config;
use breakglass_core::model::RequestId;
use breakglass_core::ports::{Clock, IdSource, ManualClock, SequentialIds, Store as _};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use breakglass_server::access::Access;
use breakglass_server::api::{AppState, app};
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, totp};
use breakglass_server::console::{CSP, ConsoleSettings};
use breakglass_store::SqlStore;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use time::Duration;

use super::support::{self, FakeCloud};

const PASSWORD: &str = "correct horse battery";

pub struct Server {
    pub base: String,
    pub store: SqlStore,
    pub auth: Arc<Auth>,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

pub async fn server(settings: ConsoleSettings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let text = std::fs::read_to_string(
        breakglass_testkit::workspace_root().join("examples/breakglass.toml"),
    )
    .unwrap();
    let config = Config::load(&text, "breakglass.toml").unwrap();
    let rules = Rules::new(config.catalog(), &[]).unwrap();
    let clock = support::clock();
    let c: Arc<dyn Clock> = clock.clone();
    let ids: Arc<dyn IdSource> = Arc::new(SequentialIds::new("c").unwrap());
    let broker = Arc::new(Broker::new(
        store.clone(),
        c.clone(),
        ids,
        rules,
        Settings::default(),
    ));
    let access = Arc::new(Access::new(broker, FakeCloud::new(&clock)));
    let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
    let auth = Arc::new(Auth::new(store.clone(), c, key, Limits::default()));
    let state = Arc::new(AppState::new(access, Arc::clone(&auth), settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base,
        store,
        auth,
        clock,
        _dir: dir,
    }
}

impl Server {
    /// Adds `name` with a TOTP authenticator; returns its base32 seed.
    pub async fn user(&self, name: &str, admin: bool) -> String {
        self.auth
            .add_user(name, PASSWORD, admin, None)
            .await
            .unwrap();
        let e = self
            .auth
            .enroll_totp(&support::user(name), None)
            .await
            .unwrap();
        e.secret.expose().to_owned()
    }

    /// The current code for `seed`, after moving the clock to the next step (a code is
    /// accepted once per step).
    pub fn code(&self, seed: &str) -> String {
        self.clock.advance(Duration::seconds(30));
        let seed = totp::base32_decode(seed).unwrap();
        totp::code_at(
            &seed,
            totp::step_of(self.clock.now().unix_timestamp()),
            totp::DIGITS,
        )
    }

    pub async fn status(&self, id: &str) -> String {
        let r = self
            .store
            .get(&RequestId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        r.value.status.name().to_owned()
    }
}

/// A browser without JavaScript: keeps cookies, never follows redirects.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf").expect("a csrf field")
    }

    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The text inside the element with `id` (up to its first `<`).
    pub fn text_of(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let rest = &self.body[at..];
        let start = rest.find('>')? + 1;
        let end = rest[start..].find('<')?;
        Some(rest[start..start + end].to_owned())
    }
}

/// The `value` of the first input named `name`.
pub fn field_value(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &body[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status();
        let headers = resp.headers().clone();
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = resp.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(resp).await
    }

    /// Posts `fields` with the extra `headers` (e.g. `Origin`).
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.finish(resp).await
    }

    /// Posts as a browser on this site would (same-origin `Origin`).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let origin = self.base.clone();
        self.post_with(path, fields, &[("origin", &origin)]).await
    }

    /// Signs in; returns the dashboard's CSRF token.
    pub async fn sign_in(&mut self, name: &str, code: &str) -> String {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let r = self
            .post(
                "/console/login",
                &[
                    ("csrf", &csrf),
                    ("username", name),
                    ("password", PASSWORD),
                    ("totp", code),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let dash = self.get("/console").await;
        assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
        dash.csrf()
    }
}

/// Submits an `investigate` request through the console as the signed-in browser; returns
/// its id.
async fn submit(b: &mut Browser, csrf: &str, justification: &str) -> String {
    let r = b
        .post(
            "/console/requests",
            &[
                ("csrf", csrf),
                ("incident_id", "INC-2024-007"),
                ("playbook", "investigate"),
                ("role", "SecurityAnalyst"),
                ("account", "222222222222"),
                ("duration_minutes", "60"),
                ("justification", justification),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location()
        .strip_prefix("/console/requests/")
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_session_cookie() {
    let s = server(ConsoleSettings::default()).await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let form = b.get("/console/login").await;
    let pre = form.set_cookies();
    assert!(
        pre.iter()
            .any(|c| c.starts_with("bg_csrf=") && c.contains("HttpOnly")),
        "{pre:?}"
    );
    let csrf = form.csrf();

    // A wrong code: the form again with an alert, and no session.
    let wrong = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", "000000"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("role=\"alert\" class=\"error\""),
        "{}",
        wrong.body
    );
    assert!(!b.cookies.contains_key("bg_session"));
    // Enrolled users must give a code.
    let none = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(!b.cookies.contains_key("bg_session"));

    let code = s.code(&seed);
    let ok = b
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
                ("next", "/console/approvals"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/console/approvals");
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("bg_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(cookie.contains("bg_session=bgt_"));
    let dash = b.get("/console").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("id=\"my-requests\""));

    // Signing out revokes the token: the old cookie no longer opens the console.
    let token = b.cookies["bg_session"].clone();
    let out = b.post("/console/logout", &[("csrf", &dash.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    b.cookies.insert("bg_session".into(), token);
    let after = b.get("/console").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().starts_with("/console/login"));

    // An open redirect through `next` is not followed.
    let mut b2 = Browser::new(&s.base);
    let csrf = b2.get("/console/login").await.csrf();
    let code = s.code(&seed);
    let r = b2
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
                ("next", "//evil.example/console"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/console");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_tls() {
    let s = server(ConsoleSettings {
        public_url: Some("https://breakglass.example.com".into()),
    })
    .await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let form = b.get("/console/login").await;
    assert!(form.set_cookies().iter().all(|c| c.contains("; Secure")));
    let code = s.code(&seed);
    let ok = b
        .post(
            "/console/login",
            &[
                ("csrf", &form.csrf()),
                ("username", "carol"),
                ("password", PASSWORD),
                ("totp", &code),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("bg_session="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    let s = server(ConsoleSettings::default()).await;
    let seed = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let mut pages = vec![b.get("/console/login").await, b.get("/console").await];
    let code = s.code(&seed);
    let csrf = b.sign_in("carol", &code).await;
    let id = submit(&mut b, &csrf, "checking headers").await;
    for path in [
        "/console".to_owned(),
        "/console/requests/new".to_owned(),
        format!("/console/requests/{id}"),
        "/console/requests/r-nope".to_owned(),
        "/console/approvals".to_owned(),
        "/console/sessions".to_owned(),
        "/console/break-glass".to_owned(),
        "/console/audit".to_owned(),
        "/console/reviews".to_owned(),
        "/console/account".to_owned(),
        "/console/admin/users".to_owned(),
        "/console/deliveries".to_owned(),
        "/console/static/app.css".to_owned(),
        "/console/static/app.js".to_owned(),
    ] {
        pages.push(b.get(&path).await);
    }
    pages.push(b.post(&format!("/console/requests/{id}/cancel"), &[]).await);
    for p in &pages {
        let h = |n: &str| p.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            h("content-security-policy").as_deref(),
            Some(CSP),
            "{}",
            p.body
        );
        assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(h("referrer-policy").as_deref(), Some("same-origin"));
        assert_eq!(h("cache-control").as_deref(), Some("no-store"));
    }
    assert!(CSP.contains("script-src 'self'") && CSP.contains("frame-ancestors 'none'"));
    // No inline script or style anywhere (the CSP would block it).
    for p in &pages {
        assert!(
            !p.body.contains("<script>") && !p.body.contains("style="),
            "{}",
            p.body
        );
    }
    // The root goes to the console.
    let root = b.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location(), "/console");
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let carol_csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &carol_csrf, "csrf check").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&format!("/console/requests/{id}")).await;
    assert!(page.body.contains("id=\"approve-form\""), "{}", page.body);
    let digest = field_value(&page.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");

    let code = s.code(&bob);
    let without = approver
        .post(&path, &[("digest", &digest), ("totp", &code)])
        .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.body);
    // Another session's token (carol's) is not bob's.
    let wrong = approver
        .post(
            &path,
            &[("csrf", &carol_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let garbage = approver
        .post(
            &path,
            &[("csrf", "00ff"), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);
    assert_eq!(s.status(&id).await, "pending");
    assert_eq!(
        support::audit_count(&s.store, "approval_recorded", Some(&id)).await,
        0
    );
    // The refused posts did not even spend the TOTP code: it still works with the token.
    let ok = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(s.status(&id).await, "approved");

    // Signing out needs the token too.
    let out = approver.post("/console/logout", &[]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert!(approver.get("/console").await.status == StatusCode::OK);
    // And the sign-in form needs its pre-session token.
    let mut fresh = Browser::new(&s.base);
    let r = fresh
        .post(
            "/console/login",
            &[("username", "bob"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.contains_key("bg_session"));
}

#[tokio::test]
async fn a_cross_origin_post_cannot_approve() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "cross-site check").await;
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let page = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&page.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");
    let code = s.code(&bob);
    let fields = [
        ("csrf", bob_csrf.as_str()),
        ("digest", &digest),
        ("totp", &code),
    ];
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("referer", "https://evil.example/page")],
    ] {
        let r = approver.post_with(&path, &fields, &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}: {}", r.body);
        assert!(r.body.contains("cross-origin"));
        assert_eq!(r.headers.get("content-security-policy").unwrap(), CSP);
    }
    assert_eq!(s.status(&id).await, "pending");
    assert_eq!(
        support::audit_count(&s.store, "totp_verified", None).await,
        2
    );
    // The same post from this origin is accepted.
    let ok = approver.post(&path, &fields).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(s.status(&id).await, "approved");
}

#[tokio::test]
async fn a_justification_is_rendered_as_text() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let evil = "<script>alert(\"x\")</script><img src=x onerror=alert(1)>";
    let id = submit(&mut b, &csrf, evil).await;
    let mut approver = Browser::new(&s.base);
    approver.sign_in("bob", &s.code(&bob)).await;
    for page in [
        b.get(&format!("/console/requests/{id}")).await,
        approver.get("/console/approvals").await,
    ] {
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("<script>alert"));
        assert!(!page.body.contains("<img src=x"));
    }
}

#[tokio::test]
async fn a_new_token_is_shown_once() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let r = b
        .post(
            "/console/account/tokens",
            &[("csrf", &csrf), ("name", "laptop"), ("ttl_hours", "24")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.text_of("new-token").expect("the new token");
    assert!(secret.starts_with("bgt_"), "{secret}");
    assert_eq!(r.body.matches(&secret).count(), 1);
    // It is a real token.
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", s.base))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Never shown again.
    let later = b.get("/console/account").await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(later.body.contains("laptop"));
    assert!(!later.body.contains(&secret));
    assert!(later.text_of("new-token").is_none());
    // Nor is the session's own token ever in a page.
    let session = b.cookies["bg_session"].clone();
    assert!(!later.body.contains(&session));
    assert!(!r.body.contains(&session));
}

#[tokio::test]
async fn the_event_stream_announces_an_approval() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut b, &csrf, "live updates").await;

    // Signed-in users only.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console/events", s.base))
        .send()
        .await
        .unwrap();
    assert_ne!(anon.status(), StatusCode::OK);

    let mut events = reqwest::Client::new()
        .get(format!("{}/console/events", s.base))
        .header("cookie", format!("bg_session={}", b.cookies["bg_session"]))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The first chunk is the stream's greeting: the subscription is live from here.
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("retry:"));

    // Approve through the JSON API, as the CLI would.
    let token = s
        .auth
        .create_token(&support::user("bob"), "cli", None)
        .await
        .unwrap();
    let digest = s
        .store
        .get(&RequestId::new(id.clone()).unwrap())
        .await
        .unwrap()
        .unwrap()
        .value
        .digest
        .to_hex();
    let code = s.code(&bob);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/requests/{id}/approve", s.base))
        .bearer_auth(token.secret.expose())
        .header("content-type", "application/json")
        .body(serde_json::json!({"digest": digest, "totp": code}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let wanted = format!("data: {{\"id\":\"{id}\",\"status\":\"approved\"}}");
    let mut seen = String::new();
    let found = tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: request") && seen.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "stream so far: {seen}");
}

#[tokio::test]
async fn a_request_goes_from_the_form_to_a_revoked_grant() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let bob = s.user("bob", false).await;
    let alice = s.user("alice", true).await;
    let mut requester = Browser::new(&s.base);
    let csrf = requester.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut requester, &csrf, "GuardDuty finding").await;
    let page = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(page.text_of("request-status").as_deref(), Some("pending"));
    assert!(
        !page.body.contains("approve-form"),
        "the requester cannot approve"
    );
    assert!(page.body.contains("s3:GetObject") || page.body.contains("Allow"));

    // A wrong code: refused with the reason, nothing approved.
    let mut approver = Browser::new(&s.base);
    let bob_csrf = approver.sign_in("bob", &s.code(&bob)).await;
    let pending = approver.get("/console/approvals").await;
    assert!(
        pending.body.contains(&format!("data-request=\"{id}\"")),
        "{}",
        pending.body
    );
    let view = approver.get(&format!("/console/requests/{id}")).await;
    let digest = field_value(&view.body, "digest").unwrap();
    let path = format!("/console/requests/{id}/approve");
    let bad = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", "123456")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    assert!(bad.body.contains("role=\"alert\""));
    assert_eq!(s.status(&id).await, "pending");
    let code = s.code(&bob);
    let ok = approver
        .post(
            &path,
            &[("csrf", &bob_csrf), ("digest", &digest), ("totp", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);

    // The requester activates and gets the credential_process line.
    let act = requester
        .post(
            &format!("/console/requests/{id}/activate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(act.status, StatusCode::SEE_OTHER, "{}", act.body);
    let live = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(live.text_of("request-status").as_deref(), Some("active"));
    let line = live.text_of("credential-process").unwrap();
    assert!(
        line.starts_with("credential_process = breakglass creds --grant ")
            && line.ends_with(&format!(" --server {}", s.base)),
        "{line}"
    );
    assert!(live.text_of("time-left").unwrap().contains("min"));
    let grant = line.split_whitespace().nth(5).unwrap().to_owned();
    let console = requester
        .post(
            &format!("/console/grants/{grant}/console"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(
        console
            .body
            .contains("id=\"aws-console-link\" href=\"https://signin.example/")
    );

    // An admin sees it among the sessions and revokes it.
    let mut admin = Browser::new(&s.base);
    let admin_csrf = admin.sign_in("alice", &s.code(&alice)).await;
    let sessions = admin.get("/console/sessions").await;
    assert!(sessions.body.contains(&grant), "{}", sessions.body);
    let r = admin
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &admin_csrf), ("reason", "incident closed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let done = requester.get(&format!("/console/requests/{id}")).await;
    assert_eq!(done.text_of("request-status").as_deref(), Some("revoked"));
    assert!(done.text_of("credential-process").is_none());
}

#[tokio::test]
async fn break_glass_needs_the_acknowledgement_and_a_valid_totp_step_up() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("alice", &s.code(&alice)).await;
    let form = b.get("/console/break-glass").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("id=\"break-glass-warning\""));
    assert!(
        form.body
            .contains("<div class=\"warning\" id=\"break-glass-warning\" role=\"alert\">"),
        "{}",
        form.body
    );
    assert!(form.body.contains("pages the security team"));
    let fields = |ack: bool, totp: &str| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("incident_id", "INC-2024-666".to_owned()),
            ("playbook", "emergency".to_owned()),
            ("role", "SecurityBreakGlass".to_owned()),
            ("account", "222222222222".to_owned()),
            ("duration_minutes", "30".to_owned()),
            ("justification", "ransomware spreading".to_owned()),
            ("totp", totp.to_owned()),
        ];
        if ack {
            f.push(("acknowledge", "yes".to_owned()));
        }
        f
    };
    for (ack, totp, status) in [
        (false, s.code(&alice), StatusCode::BAD_REQUEST),
        (true, "000000".to_owned(), StatusCode::FORBIDDEN),
        (true, String::new(), StatusCode::FORBIDDEN),
    ] {
        let f = fields(ack, &totp);
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post("/console/break-glass", &refs).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert!(
            r.body.contains("role=\"alert\" class=\"error\""),
            "{}",
            r.body
        );
        // The form comes back filled in.
        assert!(r.body.contains("ransomware spreading"));
    }
    assert_eq!(
        support::audit_count(&s.store, "break_glass_activated", None).await,
        0
    );
    // Each attempt that reached the step-up is recorded as a refused break-glass.
    assert_eq!(
        support::audit_count(&s.store, "action_refused", None).await,
        2
    );

    let code = s.code(&alice);
    let f = fields(true, &code);
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/console/break-glass", &refs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = r
        .location()
        .strip_prefix("/console/requests/")
        .unwrap()
        .to_owned();
    assert_eq!(s.status(&id).await, "active");
    let page = b.get(&r.location()).await;
    assert_eq!(page.text_of("request-status").as_deref(), Some("active"));
    assert!(page.body.contains("break-glass"));
    assert!(page.text_of("credential-process").is_some());
    assert_eq!(
        support::audit_count(&s.store, "break_glass_activated", Some(&id)).await,
        1
    );
}

#[tokio::test]
async fn the_event_stream_hears_of_changes_made_by_another_replica() {
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    let id = submit(&mut b, &csrf, "replica check").await;
    let mut events = reqwest::Client::new()
        .get(format!("{}/console/events", s.base))
        .header("cookie", format!("bg_session={}", b.cookies["bg_session"]))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    // Another broker on the same database: this server's handlers never see the change.
    let replica = support::broker(&s.store, &s.clock, "x");
    replica
        .cancel(
            &RequestId::new(id.clone()).unwrap(),
            support::user("carol"),
            "from elsewhere",
        )
        .await
        .unwrap();
    let wanted = format!("data: {{\"id\":\"{id}\",\"status\":\"cancelled\"}}");
    let mut seen = String::new();
    let found = tokio::time::timeout(StdDuration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "stream so far: {seen}");
}

#[tokio::test]
async fn the_audit_page_says_whether_the_chain_verifies() {
    use sqlx::Connection as _;
    let s = server(ConsoleSettings::default()).await;
    let carol = s.user("carol", false).await;
    let mut b = Browser::new(&s.base);
    let csrf = b.sign_in("carol", &s.code(&carol)).await;
    submit(&mut b, &csrf, "audit check").await;
    let page = b.get("/console/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    let status = page.text_of("audit-verification").unwrap();
    assert!(status.contains("verified"), "{status}");
    assert!(page.body.contains("request_submitted"));

    // Edit a record behind the broker's back.
    let path = s._dir.path().join("console.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for stmt in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
    ] {
        sqlx::query(stmt).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let page = b.get("/console/audit").await;
    let status = page.text_of("audit-verification").unwrap();
    assert!(
        status.contains("BROKEN") && status.contains("#1"),
        "{status}"
    );
}

#[tokio::test]
async fn a_break_glass_use_is_reviewed_by_someone_else_after_it_ends() {
    let s = server(ConsoleSettings::default()).await;
    let alice = s.user("alice", false).await;
    let bob = s.user("bob", false).await;
    let mut user = Browser::new(&s.base);
    let csrf = user.sign_in("alice", &s.code(&alice)).await;
    let code = s.code(&alice);
    let r = user
        .post(
            "/console/break-glass",
            &[
                ("csrf", &csrf),
                ("incident_id", "INC-2024-900"),
                ("playbook", "emergency"),
                ("role", "SecurityBreakGlass"),
                ("account", "222222222222"),
                ("duration_minutes", "30"),
                ("justification", "containment"),
                ("acknowledge", "yes"),
                ("totp", &code),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = r
        .location()
        .strip_prefix("/console/requests/")
        .unwrap()
        .to_owned();

    let mut reviewer = Browser::new(&s.base);
    let bob_csrf = reviewer.sign_in("bob", &s.code(&bob)).await;
    let list = reviewer.get("/console/reviews").await;
    assert!(
        list.body.contains(&format!("id=\"review-{id}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("has not ended yet"));
    // Not while the grant is live.
    let early = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "appropriate"),
                ("notes", "early"),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);

    let revoke = user
        .post(
            &format!("/console/requests/{id}/revoke"),
            &[("csrf", &csrf), ("reason", "contained")],
        )
        .await;
    assert_eq!(revoke.status, StatusCode::SEE_OTHER, "{}", revoke.body);
    // The user cannot review their own use; the page offers them no form.
    let own = user.get("/console/reviews").await;
    assert!(
        own.body.contains("You may not review this use."),
        "{}",
        own.body
    );
    let list = reviewer.get("/console/reviews").await;
    assert!(
        list.body.contains(&format!("id=\"outcome-{id}\"")),
        "{}",
        list.body
    );
    let done = reviewer
        .post(
            &format!("/console/requests/{id}/review"),
            &[
                ("csrf", &bob_csrf),
                ("outcome", "appropriate"),
                ("notes", "well handled"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        support::audit_count(&s.store, "review_completed", Some(&id)).await,
        1
    );
    let list = reviewer.get("/console/reviews").await;
    assert!(list.body.contains("No reviews outstanding."));
}

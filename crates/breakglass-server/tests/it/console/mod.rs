//! The web console over HTTP: a real server on 127.0.0.1 over SQLite and the example config,
//! with the in-memory `Cloud` double, driven by a cookie-keeping client that does not
//! follow redirects (so every 303 and `Set-Cookie` is checked as sent).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use breakglass_config::Config;
use breakglass_core::app::App;
use breakglass_core::broker::Broker;
use breakglass_core::cloud::SharedCloud;
use breakglass_core::model::RequestId;
use breakglass_core::ports::{Clock, IdSource, ManualClock, SequentialIds, Store as _};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use breakglass_server::app::AppState;
use breakglass_server::auth::limit::Limits;
use breakglass_server::auth::seal::SealKey;
use breakglass_server::auth::{Auth, totp};
use breakglass_server::console::{CSP, ConsoleSettings};
use breakglass_server::router;
use breakglass_store::SqlStore;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use time::Duration;

use super::support::{self, FakeCloud};

const PASSWORD: &str = "correct horse battery";

pub struct Server {
    pub base: String,
    pub store: SqlStore,
    /// The use cases the server calls (for the worker's part in a test).
    pub app: Arc<breakglass_server::app::AppService>,
    /// The cloud double behind them.
    pub cloud: Arc<FakeCloud>,
    pub auth: Arc<breakglass_server::app::AuthService>,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

pub async fn server(settings: ConsoleSettings) -> Server {
    server_with(settings, |_, _, _| None).await
}

/// A server over the example config with sign-in through the identity provider `sso` sets
/// up, if it sets one up. `sso` is handed the server's base URL (its port is known only once
/// it listens), its clock and the config's responders.
pub async fn server_with(
    settings: ConsoleSettings,
    sso: impl FnOnce(
        &str,
        Arc<dyn Clock>,
        Vec<breakglass_core::model::Responder>,
    ) -> Option<Arc<breakglass_server::auth::oidc::OidcProvider>>,
) -> Server {
    server_full(settings, sso, None).await
}

/// A server whose broker knows what requests allow: the example config's role policies
/// and `actions`, the action catalog.
pub async fn server_with_permissions(
    settings: ConsoleSettings,
    actions: breakglass_iam::Catalog,
) -> Server {
    server_full(settings, |_, _, _| None, Some(actions)).await
}

async fn server_full(
    settings: ConsoleSettings,
    sso: impl FnOnce(
        &str,
        Arc<dyn Clock>,
        Vec<breakglass_core::model::Responder>,
    ) -> Option<Arc<breakglass_server::auth::oidc::OidcProvider>>,
    actions: Option<breakglass_iam::Catalog>,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = SqlStore::open(&url).await.unwrap();
    let text = std::fs::read_to_string(
        breakglass_testkit::workspace_root().join("examples/breakglass.toml"),
    )
    .unwrap();
    let config = Config::load(&text, "breakglass.toml").unwrap();
    let mut rules = Rules::new(config.catalog(), &[]).unwrap();
    if let Some(actions) = actions {
        let roles = breakglass_config::report::role_policies(&config, &BTreeMap::new());
        rules = rules.with_permissions(Arc::new(breakglass_core::model::PermissionModel::new(
            Arc::new(actions),
            roles,
        )));
    }
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
    let fake = Arc::new(FakeCloud::new(&clock));
    let cloud: SharedCloud = fake.clone();
    let access = Arc::new(App::new(broker, cloud));
    let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
    let auth = Arc::new(Auth::new(store.clone(), c.clone(), key, Limits::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let oidc = sso(&base, c, config.responders.clone());
    let state =
        Arc::new(AppState::new(Arc::clone(&access), Arc::clone(&auth), settings).with_oidc(oidc));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server {
        base,
        store,
        app: access,
        cloud: fake,
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
        let (secret, _) = support::enrol(&self.auth, &self.clock, name).await;
        secret.expose().to_owned()
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

    /// When the grant of request `id` ends.
    pub async fn grant_end(&self, id: &str) -> time::OffsetDateTime {
        let r = self
            .store
            .get(&RequestId::new(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        r.value.grant.unwrap().end
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
        if dash.status == StatusCode::SEE_OTHER {
            // Signed in without a second factor: the account page, to enrol one.
            assert_eq!(dash.location(), "/console/account");
            let account = self.get("/console/account").await;
            assert_eq!(account.status, StatusCode::OK, "{}", account.body);
            return account.csrf();
        }
        assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
        dash.csrf()
    }
}

/// Submits an `investigate` request through the console as the signed-in browser; returns
/// its id.
pub async fn submit(b: &mut Browser, csrf: &str, justification: &str) -> String {
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
    request_id(&r.location())
}

/// The request id of a request page's address (`/console/requests/ID[?done=…]`).
pub fn request_id(location: &str) -> String {
    let path = location.split('?').next().unwrap();
    path.strip_prefix("/console/requests/")
        .unwrap_or_else(|| panic!("not a request page: {location}"))
        .to_owned()
}

mod account;
mod flows;
mod live;
mod narrowing;
mod pages;
mod reports;
mod security;

//! The web console: server-rendered HTML over the same services the JSON API calls.
//!
//! Progressive enhancement: every core action is a plain form that posts and answers
//! with a 303, so it works without JavaScript; `app.js` adds live updates (server-sent
//! events from [`events`]), copying the `credential_process` line and a ticking "time
//! left". Sessions and CSRF tokens are in [`session`]; the page frame and escaping in
//! [`layout`] (maud escapes every interpolated value).
//!
//! Security headers ([`SECURITY_HEADERS`]: a strict Content-Security-Policy with no inline
//! script or style, `nosniff`, `Referrer-Policy: same-origin`, `Cache-Control: no-store`,
//! `frame-ancestors 'none'`) are set on every console response, and every form post whose
//! `Origin` (or, absent, `Referer`) is present and not this site is refused before its
//! handler runs.

mod account;
mod ask;
pub mod events;
pub mod layout;
mod lists;
mod login;
mod qr;
mod records;
mod request;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ring::hmac;

pub use events::Events;
use layout::Viewer;

use crate::app::{AppError, AppState};

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers set on every console response.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

const APP_CSS: &str = include_str!("static/app.css");
const APP_JS: &str = include_str!("static/app.js");

/// How the console is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The console's public URL (`[notifications] console_url`), e.g.
    /// `https://breakglass.example.com`. When it is https, cookies are `Secure`; its origin
    /// is accepted for form posts besides the request's own `Host`.
    pub public_url: Option<String>,
}

impl ConsoleSettings {
    /// `scheme://host[:port]` of the public URL.
    fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split('/').next()?;
        Some(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ))
    }

    /// Whether the public URL is https.
    fn https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

/// The console's per-process state.
pub struct Console {
    settings: ConsoleSettings,
    csrf_key: hmac::Key,
    /// The live-update hub.
    pub events: Events,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// The console with `settings`, signing CSRF tokens with a key derived from `auth`'s
    /// sealing key (so every replica accepts every replica's forms).
    pub fn new(auth: &crate::app::AuthService, settings: ConsoleSettings) -> Self {
        Self {
            settings,
            csrf_key: auth.derive_key("console csrf"),
            events: Events::new(),
        }
    }

    /// Whether cookies must be `Secure` for this request: the public URL is https, or a
    /// TLS-terminating proxy says the browser spoke https.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.https()
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    /// The broker's URL as the browser reaches it (for the `credential_process` line): the
    /// request's own host, else the public URL.
    pub fn server_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')
                    })
            });
        match (host, &self.settings.public_url) {
            (Some(host), _) => {
                let scheme = if self.secure(headers) {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}")
            }
            (None, Some(url)) => url.trim_end_matches('/').to_owned(),
            (None, None) => "http://127.0.0.1:8470".to_owned(),
        }
    }

    /// Whether a post with these headers comes from this site: `Origin` (or, absent,
    /// `Referer`) absent, or naming the public URL's origin or the request's own host.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let origin = match headers.get(header::ORIGIN) {
            Some(v) => v.to_str().ok().map(str::to_owned),
            None => match headers.get(header::REFERER) {
                Some(v) => v.to_str().ok().map(|r| {
                    let (scheme, rest) = r.split_once("://").unwrap_or(("", r));
                    format!(
                        "{scheme}://{}",
                        rest.split(['/', '?', '#']).next().unwrap_or("")
                    )
                }),
                None => return true,
            },
        };
        let Some(origin) = origin.map(|o| o.to_ascii_lowercase()) else {
            return false;
        };
        if self.settings.public_origin().as_deref() == Some(origin.as_str()) {
            return true;
        }
        let Some(host) = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
        else {
            return false;
        };
        origin == format!("http://{host}") || origin == format!("https://{host}")
    }
}

/// An error page for a signed-in viewer.
#[derive(Debug)]
pub struct Failure {
    viewer: Option<Viewer>,
    error: AppError,
}

impl Failure {
    /// `error`, shown to `viewer`.
    pub fn new(viewer: &Viewer, error: impl Into<AppError>) -> Self {
        Self {
            viewer: Some(viewer.clone()),
            error: error.into(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        layout::error_page(self.viewer.as_ref(), &self.error)
    }
}

/// Shows a failure as an error page.
pub trait OrPage<T> {
    /// The value, or an error page for `viewer`.
    fn or_page(self, viewer: &Viewer) -> Result<T, Failure>;
}

impl<T, E: Into<AppError>> OrPage<T> for Result<T, E> {
    fn or_page(self, viewer: &Viewer) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(viewer, e))
    }
}

type St = State<Arc<AppState>>;

fn set_security_headers(r: &mut Response) {
    for (name, value) in SECURITY_HEADERS {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
}

/// Refuses cross-origin posts and sets the security headers on every console response.
async fn guard(State(s): St, req: Request, next: Next) -> Response {
    let reading = req.method() == Method::GET || req.method() == Method::HEAD;
    let mut r = if !reading && !s.console.same_origin(req.headers()) {
        // The refusal page shows the signed-in navigation when the session cookie is valid;
        // the posted form is never read.
        let (mut parts, _body) = req.into_parts();
        let viewer = session::Session::from_request_parts(&mut parts, &s)
            .await
            .ok()
            .map(|session| session.viewer());
        layout::error_page(
            viewer.as_ref(),
            &AppError::forbidden(
                "this form was posted from another site: cross-origin posts are refused",
            ),
        )
    } else {
        next.run(req).await
    };
    set_security_headers(&mut r);
    r
}

/// Tells the live-update hub to look for changes after every state-changing call (API or
/// console) that succeeded.
pub async fn announce(State(s): St, req: Request, next: Next) -> Response {
    let changing = !(req.method() == Method::GET || req.method() == Method::HEAD);
    let r = next.run(req).await;
    if changing && (r.status().is_success() || r.status().is_redirection()) {
        s.console.events.changed();
    }
    r
}

async fn root() -> Response {
    layout::redirect("/console")
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

/// `GET /console/events`. Without a session: 401, not a redirect to the sign-in page, so
/// the browser's `EventSource` gives up instead of reconnecting to an HTML page.
async fn live(State(s): St, session: Result<session::Session, session::Refusal>) -> Response {
    match session {
        Ok(_) => s.console.events.stream(&s.app).await,
        Err(session::Refusal::SignIn { .. }) => (
            axum::http::StatusCode::UNAUTHORIZED,
            "sign in to the console to receive live updates",
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The console's routes, guarded.
pub fn router(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(root))
        .route("/console/static/app.css", get(css))
        .route("/console/static/app.js", get(js))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console", get(lists::dashboard))
        .route("/console/requests/new", get(ask::new_request))
        .route("/console/requests", post(ask::create_request))
        .route("/console/requests/{id}", get(request::request))
        .route("/console/requests/{id}/approve", post(request::approve))
        .route("/console/requests/{id}/deny", post(request::deny))
        .route(
            "/console/requests/{id}/extension/approve",
            post(request::approve_extension),
        )
        .route(
            "/console/requests/{id}/extension/deny",
            post(request::deny_extension),
        )
        .route("/console/requests/{id}/cancel", post(request::cancel))
        .route("/console/requests/{id}/activate", post(request::activate))
        .route("/console/requests/{id}/revoke", post(request::revoke))
        .route("/console/requests/{id}/review", post(records::review))
        .route("/console/grants/{id}/console", post(request::aws_console))
        .route(
            "/console/grants/{id}/credentials",
            post(request::credentials),
        )
        .route("/console/approvals", get(lists::approvals))
        .route("/console/sessions", get(lists::sessions))
        .route(
            "/console/break-glass",
            get(ask::break_glass_form).post(ask::break_glass),
        )
        .route("/console/audit", get(records::audit))
        .route("/console/reviews", get(records::reviews))
        .route("/console/deliveries", get(records::deliveries))
        .route("/console/account", get(account::page))
        .route("/console/account/tokens", post(account::create_token))
        .route(
            "/console/account/tokens/{id}/revoke",
            post(account::revoke_token),
        )
        .route("/console/account/totp", post(account::enroll_totp))
        .route(
            "/console/admin/users",
            get(account::users).post(account::add_user),
        )
        .route("/console/events", get(live))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(state),
            guard,
        ))
}

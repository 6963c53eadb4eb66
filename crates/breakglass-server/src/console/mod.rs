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
mod activity;
mod ask;
mod chat;
mod drills;
pub mod layout;
mod lists;
mod login;
mod passkeys;
mod permissions;
mod qr;
mod records;
mod reports;
mod request;
pub mod signin;
mod sso;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use layout::Viewer;

use crate::app::{AppError, AppState};
pub use crate::app::{Console, ConsoleSettings};

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
        let viewer = signin::Session::from_request_parts(&mut parts, &s)
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

/// An unknown console path: the console's not-found page.
async fn no_such_page() -> Response {
    layout::error_page(
        None,
        &AppError::not_found("There is no such page in the console."),
    )
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
async fn live(State(s): St, session: Result<signin::Session, signin::Refusal>) -> Response {
    match session {
        Ok(session) => {
            s.console
                .events
                .stream(&s.app, &s.auth, session.subscriber())
                .await
        }
        Err(signin::Refusal::SignIn { .. }) => (
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
        .route("/console/login/sso", get(sso::start))
        .route(breakglass_config::OIDC_CALLBACK_PATH, get(sso::callback))
        .route("/console/logout", post(login::logout))
        .route(
            "/console/invitations/{secret}",
            get(login::invitation).post(login::accept_invitation),
        )
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
        .route("/console/requests/{id}/extend", post(request::extend))
        .route("/console/requests/{id}/revoke", post(request::revoke))
        .route("/console/requests/{id}/review", post(records::review))
        .route("/console/grants/{id}/console", post(request::aws_console))
        .route(
            "/console/grants/{id}/credentials",
            post(request::credentials),
        )
        .route(
            "/console/chat/link/{code}",
            get(chat::confirm_page).post(chat::confirm),
        )
        .route("/console/approvals", get(lists::approvals))
        .route("/console/sessions", get(lists::sessions))
        .route(
            "/console/break-glass",
            get(ask::break_glass_form).post(ask::break_glass),
        )
        .route("/console/audit", get(records::audit))
        .route("/console/reviews", get(records::reviews))
        .route("/console/notifications", get(records::notifications))
        .route("/console/drills", get(drills::page))
        .route("/console/findings", get(activity::findings))
        .route("/console/reports", get(reports::index))
        .route("/console/reports/{name}", get(reports::report))
        .route("/console/deliveries", get(records::deliveries))
        // Any other console path: a page a person can read, not the API's JSON.
        .route("/console/{*rest}", axum::routing::any(no_such_page))
        .route("/console/account", get(account::page))
        .route("/console/account/tokens", post(account::create_token))
        .route(
            "/console/account/tokens/{id}/revoke",
            post(account::revoke_token),
        )
        .route("/console/account/totp", post(account::enroll_totp))
        .route("/console/account/totp/confirm", post(account::confirm_totp))
        .route("/console/account/password", post(account::change_password))
        .route("/console/account/passkeys", post(passkeys::enrol))
        .route("/console/account/slack/unlink", post(chat::unlink))
        .route(
            "/console/account/passkeys/start",
            post(passkeys::enrol_start),
        )
        .route(
            "/console/account/passkeys/{id}/remove",
            post(passkeys::remove),
        )
        .route("/console/passkeys/challenge", post(passkeys::challenge))
        .route("/console/login/passkey", post(passkeys::sign_in))
        .route(
            "/console/admin/users",
            get(account::users).post(account::add_user),
        )
        .route("/console/admin/users/{name}", post(account::administer))
        .route("/console/events", get(live))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(state),
            guard,
        ))
}

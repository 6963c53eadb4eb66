//! The HTTP API: JSON over axum, authenticated by personal API tokens (`Authorization:
//! Bearer bgt_…`), with TOTP step-up on approval and break-glass activation.
//!
//! Every route is declared once in [`routes`], from which both the router and the OpenAPI
//! document at `/openapi.json` are built, so the document cannot miss a route. Request
//! bodies are capped at [`MAX_BODY`]; errors are `{"error":{"code","message"}}` with stable
//! codes ([`AppError`]); server faults show only a correlation id.

mod error;
mod handlers;
mod metrics;
mod openapi;
pub mod ops;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, post};
use breakglass_core::cloud::Cloud;
use breakglass_core::ports::{Clock, IdSource};
use breakglass_store::SqlStore;

pub use error::AppError;
pub use metrics::Metrics;

use crate::access::Access;
use crate::auth::Auth;
use crate::console::{Console, ConsoleSettings};

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The access service as the API uses it.
pub type AccessService<K> = Access<SqlStore, K, Arc<dyn Clock>, Arc<dyn IdSource>>;

/// Everything a handler needs.
pub struct AppState<K> {
    /// Requests, grants, credentials and revocation.
    pub access: Arc<AccessService<K>>,
    /// Users, tokens and TOTP.
    pub auth: Arc<Auth>,
    /// Request counters for `/metrics`.
    pub metrics: Metrics,
    /// The web console's settings, CSRF key and live-update hub.
    pub console: Console,
}

impl<K> AppState<K> {
    /// The state over `access` and `auth`, with fresh metrics and the console set up with
    /// `console`.
    pub fn new(access: Arc<AccessService<K>>, auth: Arc<Auth>, console: ConsoleSettings) -> Self {
        let console = Console::new(&auth, console);
        Self {
            access,
            auth,
            metrics: Metrics::default(),
            console,
        }
    }
}

/// One route: method, path (axum syntax), OpenAPI summary, whether it needs a token.
pub struct Route<K> {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// `/api/v1/requests/{id}`.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs `Authorization: Bearer`.
    pub authenticated: bool,
    handler: MethodRouter<Arc<AppState<K>>>,
}

fn route<K>(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    authenticated: bool,
    handler: MethodRouter<Arc<AppState<K>>>,
) -> Route<K> {
    Route {
        method,
        path,
        summary,
        authenticated,
        handler,
    }
}

/// Every route of the API.
pub fn routes<K: Cloud + 'static>() -> Vec<Route<K>> {
    use handlers as h;
    vec![
        route(
            "GET",
            "/healthz",
            "Liveness: the process answers",
            false,
            get(h::healthz),
        ),
        route(
            "GET",
            "/readyz",
            "Readiness: the store answers",
            false,
            get(h::readyz::<K>),
        ),
        route(
            "GET",
            "/metrics",
            "Prometheus metrics",
            false,
            get(h::metrics::<K>),
        ),
        route(
            "GET",
            "/openapi.json",
            "This document",
            false,
            get(h::openapi::<K>),
        ),
        route(
            "POST",
            "/api/v1/login",
            "Sign in with a password; returns a new API token (shown once)",
            false,
            post(h::login::<K>),
        ),
        route(
            "GET",
            "/api/v1/me",
            "The authenticated user",
            true,
            get(h::me::<K>),
        ),
        route(
            "GET",
            "/api/v1/users",
            "List users (admin)",
            true,
            get(h::users::<K>),
        ),
        route(
            "POST",
            "/api/v1/users",
            "Create a user (admin)",
            true,
            post(h::add_user::<K>),
        ),
        route(
            "GET",
            "/api/v1/tokens",
            "List your API tokens",
            true,
            get(h::tokens::<K>),
        ),
        route(
            "POST",
            "/api/v1/tokens",
            "Create an API token (shown once)",
            true,
            post(h::create_token::<K>),
        ),
        route(
            "DELETE",
            "/api/v1/tokens/{id}",
            "Revoke one of your API tokens",
            true,
            delete(h::revoke_token::<K>),
        ),
        route(
            "POST",
            "/api/v1/totp/enroll",
            "Enrol a TOTP authenticator (seed shown once)",
            true,
            post(h::enroll_totp::<K>),
        ),
        route(
            "GET",
            "/api/v1/requests",
            "List requests",
            true,
            get(h::list_requests::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests",
            "Submit a request for approval",
            true,
            post(h::create_request::<K>),
        ),
        route(
            "GET",
            "/api/v1/requests/{id}",
            "One request",
            true,
            get(h::get_request::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/approve",
            "Approve (TOTP step-up; bound to the request digest)",
            true,
            post(h::approve::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/deny",
            "Deny a pending request",
            true,
            post(h::deny::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/cancel",
            "Withdraw your pending request",
            true,
            post(h::cancel::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/extend",
            "Ask for more time on an active grant",
            true,
            post(h::extend::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/activate",
            "Start the grant of an approved request",
            true,
            post(h::activate::<K>),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/review",
            "Sign off the post-incident review of a break-glass use",
            true,
            post(h::review::<K>),
        ),
        route(
            "POST",
            "/api/v1/break-glass",
            "Activate emergency access at once (TOTP step-up)",
            true,
            post(h::break_glass::<K>),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/credentials",
            "Mint STS credentials for your grant",
            true,
            post(h::credentials::<K>),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/console",
            "A console sign-in URL for your grant",
            true,
            post(h::console::<K>),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/revoke",
            "Revoke a grant and cut off its live sessions",
            true,
            post(h::revoke::<K>),
        ),
        route(
            "POST",
            "/api/v1/roles/revoke-all",
            "Cut off every session of a role (admin)",
            true,
            post(h::revoke_all::<K>),
        ),
        route(
            "GET",
            "/api/v1/audit",
            "Audit records after a sequence number (admin)",
            true,
            get(h::audit::<K>),
        ),
        route(
            "GET",
            "/api/v1/audit/verify",
            "Verify the audit hash chain (admin)",
            true,
            get(h::audit_verify::<K>),
        ),
        route(
            "GET",
            "/api/v1/audit/export",
            "Export the audit log as JSON lines (admin)",
            true,
            get(h::audit_export::<K>),
        ),
    ]
}

/// The application: every route of the API and the web console, the body cap, the
/// metrics layer, and the live-update announcement after each state change.
pub fn app<K: Cloud + 'static>(state: Arc<AppState<K>>) -> Router {
    let mut router = Router::new();
    for r in routes::<K>() {
        router = router.route(r.path, r.handler);
    }
    router
        .merge(crate::console::router(&state))
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::console::announce::<K>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            metrics::track::<K>,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::middleware::from_fn(crate::trace::request_id))
        .with_state(state)
}

/// The OpenAPI 3 document of [`routes`].
pub fn openapi_document<K: Cloud + 'static>() -> serde_json::Value {
    openapi::document(&routes::<K>())
}

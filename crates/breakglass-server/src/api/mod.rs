//! The HTTP API: JSON over axum, authenticated by personal API tokens (`Authorization:
//! Bearer bgt_…`), with TOTP step-up on approval and break-glass activation.
//!
//! Every route is declared once in [`routes`], from which both the router and the OpenAPI
//! document at `/openapi.json` are built, so the document cannot miss a route. Request
//! bodies are capped at [`crate::app::MAX_BODY`]; errors are `{"error":{"code","message"}}` with stable
//! codes ([`crate::app::AppError`]); server faults show only a correlation id. Handlers only
//! translate: the extractors of [`crate::app::extract`] authenticate and parse, the use cases
//! of `breakglass_core::app` decide.

mod handlers;
mod openapi;

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, post};

pub use handlers::not_found;

use crate::app::AppState;

/// One route: method, path (axum syntax), OpenAPI summary, whether it needs a token.
pub struct Route {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// `/api/v1/requests/{id}`.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs `Authorization: Bearer`.
    pub authenticated: bool,
    /// The handler.
    pub handler: MethodRouter<Arc<AppState>>,
}

fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    authenticated: bool,
    handler: MethodRouter<Arc<AppState>>,
) -> Route {
    Route {
        method,
        path,
        summary,
        authenticated,
        handler,
    }
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
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
            get(h::readyz),
        ),
        route(
            "GET",
            "/metrics",
            "Prometheus metrics",
            false,
            get(h::metrics),
        ),
        route(
            "GET",
            "/openapi.json",
            "This document",
            false,
            get(h::openapi),
        ),
        route(
            "POST",
            "/api/v1/login",
            "Sign in with a password; returns a new API token (shown once)",
            false,
            post(h::login),
        ),
        route(
            "GET",
            "/api/v1/me",
            "The authenticated user",
            true,
            get(h::me),
        ),
        route(
            "GET",
            "/api/v1/users",
            "List users (admin)",
            true,
            get(h::users),
        ),
        route(
            "POST",
            "/api/v1/users",
            "Create a user (admin)",
            true,
            post(h::add_user),
        ),
        route(
            "GET",
            "/api/v1/tokens",
            "List your API tokens",
            true,
            get(h::tokens),
        ),
        route(
            "POST",
            "/api/v1/tokens",
            "Create an API token (shown once)",
            true,
            post(h::create_token),
        ),
        route(
            "DELETE",
            "/api/v1/tokens/{id}",
            "Revoke one of your API tokens",
            true,
            delete(h::revoke_token),
        ),
        route(
            "POST",
            "/api/v1/totp/enroll",
            "Enrol a TOTP authenticator (seed shown once)",
            true,
            post(h::enroll_totp),
        ),
        route(
            "GET",
            "/api/v1/requests",
            "List requests",
            true,
            get(h::list_requests),
        ),
        route(
            "POST",
            "/api/v1/requests",
            "Submit a request for approval",
            true,
            post(h::create_request),
        ),
        route(
            "GET",
            "/api/v1/requests/{id}",
            "One request",
            true,
            get(h::get_request),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/approve",
            "Approve (TOTP step-up; bound to the request digest)",
            true,
            post(h::approve),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/deny",
            "Deny a pending request",
            true,
            post(h::deny),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/cancel",
            "Withdraw your pending request",
            true,
            post(h::cancel),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/extend",
            "Ask for more time on an active grant",
            true,
            post(h::extend),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/extension/approve",
            "Approve the pending extension (TOTP step-up; bound to the extension digest)",
            true,
            post(h::approve_extension),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/extension/deny",
            "Turn down the pending extension",
            true,
            post(h::deny_extension),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/activate",
            "Start the grant of an approved request",
            true,
            post(h::activate),
        ),
        route(
            "POST",
            "/api/v1/requests/{id}/review",
            "Sign off the post-incident review of a break-glass use",
            true,
            post(h::review),
        ),
        route(
            "POST",
            "/api/v1/break-glass",
            "Activate emergency access at once (TOTP step-up)",
            true,
            post(h::break_glass),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/credentials",
            "Mint STS credentials for your grant",
            true,
            post(h::credentials),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/console",
            "A console sign-in URL for your grant",
            true,
            post(h::console),
        ),
        route(
            "POST",
            "/api/v1/grants/{id}/revoke",
            "Revoke a grant and cut off its live sessions",
            true,
            post(h::revoke),
        ),
        route(
            "POST",
            "/api/v1/roles/revoke-all",
            "Cut off every session of a role (admin)",
            true,
            post(h::revoke_all),
        ),
        route(
            "GET",
            "/api/v1/audit",
            "Audit records after a sequence number (admin)",
            true,
            get(h::audit),
        ),
        route(
            "GET",
            "/api/v1/audit/verify",
            "Verify the audit hash chain (admin)",
            true,
            get(h::audit_verify),
        ),
        route(
            "GET",
            "/api/v1/audit/export",
            "Export the audit log as JSON lines (admin)",
            true,
            get(h::audit_export),
        ),
    ]
}

/// The OpenAPI 3 document of [`routes`].
pub fn openapi_document() -> serde_json::Value {
    openapi::document(&routes())
}

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
mod sso;

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, post};

pub use handlers::not_found;

use crate::app::AppState;

/// One route: its documented contract (method, path, summary, whether it needs a token)
/// and its handler.
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

/// The handler of the documented route `method path`.
fn handler(method: &str, path: &str) -> Option<MethodRouter<Arc<AppState>>> {
    use handlers as h;
    Some(match (method, path) {
        ("GET", "/healthz") => get(h::healthz),
        ("GET", "/readyz") => get(h::readyz),
        ("GET", "/metrics") => get(h::metrics),
        ("GET", "/openapi.json") => get(h::openapi),
        ("POST", "/api/v1/login") => post(h::login),
        ("POST", "/api/v1/login/sso/device") => post(sso::device_start),
        ("POST", "/api/v1/login/sso/token") => post(sso::device_token),
        ("GET", "/api/v1/me") => get(h::me),
        ("GET", "/api/v1/users") => get(h::users),
        ("POST", "/api/v1/users") => post(h::add_user),
        ("POST", "/api/v1/invitations/accept") => post(h::accept_invitation),
        ("GET", "/api/v1/tokens") => get(h::tokens),
        ("POST", "/api/v1/tokens") => post(h::create_token),
        ("DELETE", "/api/v1/tokens/{id}") => delete(h::revoke_token),
        ("POST", "/api/v1/totp/enroll") => post(h::enroll_totp),
        ("POST", "/api/v1/totp/confirm") => post(h::confirm_totp),
        ("GET", "/api/v1/passkeys") => get(h::passkeys),
        ("POST", "/api/v1/passkeys/enroll") => post(h::start_passkey_enrolment),
        ("POST", "/api/v1/passkeys") => post(h::finish_passkey_enrolment),
        ("POST", "/api/v1/passkeys/{id}/remove") => post(h::remove_passkey),
        ("POST", "/api/v1/passkeys/challenge") => post(h::passkey_challenge),
        ("POST", "/api/v1/login/passkey") => post(h::start_passkey_sign_in),
        ("POST", "/api/v1/login/passkey/finish") => post(h::finish_passkey_sign_in),
        ("POST", "/api/v1/password") => post(h::change_password),
        ("POST", "/api/v1/users/{id}/disable") => post(h::disable_user),
        ("POST", "/api/v1/users/{id}/enable") => post(h::enable_user),
        ("POST", "/api/v1/users/{id}/revoke-tokens") => post(h::revoke_user_tokens),
        ("POST", "/api/v1/users/{id}/reset-second-factor") => post(h::reset_second_factor),
        ("GET", "/api/v1/playbooks") => get(h::playbooks),
        ("GET", "/api/v1/requests") => get(h::list_requests),
        ("POST", "/api/v1/requests") => post(h::create_request),
        ("GET", "/api/v1/requests/{id}") => get(h::get_request),
        ("GET", "/api/v1/requests/{id}/permissions") => get(h::permissions),
        ("POST", "/api/v1/requests/{id}/amend") => post(h::amend),
        ("POST", "/api/v1/requests/{id}/approve") => post(h::approve),
        ("POST", "/api/v1/requests/{id}/deny") => post(h::deny),
        ("POST", "/api/v1/requests/{id}/cancel") => post(h::cancel),
        ("POST", "/api/v1/requests/{id}/extend") => post(h::extend),
        ("POST", "/api/v1/requests/{id}/extension/approve") => post(h::approve_extension),
        ("POST", "/api/v1/requests/{id}/extension/deny") => post(h::deny_extension),
        ("POST", "/api/v1/requests/{id}/activate") => post(h::activate),
        ("POST", "/api/v1/requests/{id}/review") => post(h::review),
        ("POST", "/api/v1/break-glass") => post(h::break_glass),
        ("GET", "/api/v1/grants/{id}") => get(h::get_grant),
        ("POST", "/api/v1/grants/{id}/credentials") => post(h::credentials),
        ("POST", "/api/v1/grants/{id}/console") => post(h::console),
        ("POST", "/api/v1/grants/{id}/revoke") => post(h::revoke),
        ("POST", "/api/v1/roles/revoke-all") => post(h::revoke_all),
        ("GET", "/api/v1/requests/{id}/activity") => get(h::request_activity),
        ("GET", "/api/v1/findings") => get(h::findings),
        ("POST", "/api/v1/game-days") => post(h::start_game_day),
        ("POST", "/api/v1/game-days/{id}/finish") => post(h::finish_game_day),
        ("GET", "/api/v1/audit") => get(h::audit),
        ("GET", "/api/v1/audit/verify") => get(h::audit_verify),
        ("GET", "/api/v1/audit/export") => get(h::audit_export),
        _ => return None,
    })
}

/// Every route of the API: each route of the wire contract (`breakglass_api::route_docs`)
/// with its handler. A documented route without a handler is left out, which the route
/// tests catch (they compare this list with the contract).
pub fn routes() -> Vec<Route> {
    breakglass_api::route_docs()
        .into_iter()
        .filter_map(|d| {
            handler(d.method, d.path).map(|handler| Route {
                method: d.method,
                path: d.path,
                summary: d.summary,
                authenticated: d.authenticated,
                handler,
            })
        })
        .collect()
}

/// The OpenAPI 3 document of the wire contract, with real schemas for every body.
pub fn openapi_document() -> serde_json::Value {
    breakglass_api::document(&breakglass_api::route_docs())
}

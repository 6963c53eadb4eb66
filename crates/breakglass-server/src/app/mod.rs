//! The application as the HTTP server sees it: the shared state ([`AppState`]), the one
//! router that serves the API and the web console side by side, the middleware around them,
//! the error type both render, and the extractors both use.
//!
//! `api` (JSON) and `console` (HTML) are siblings over this module: each translates HTTP
//! into calls to the use cases of `breakglass_core::app` and their results back into HTTP;
//! neither imports the other, and this module imports neither (the crate's root merges their
//! routes and hands them to [`serve_routes`]).

mod client;
mod error;
pub mod extract;
pub mod live;
mod metrics;
mod state;
pub mod step_up;
mod transport;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use client::{TrustedProxies, TrustedProxy};
pub use error::AppError;
pub use live::Events;
pub use metrics::Metrics;
pub use state::{AppService, AppState, AuthService};
pub use web::{Console, ConsoleSettings};

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The application: `routes` (the API's and the console's, merged by the crate's
/// `router`) under the middleware every call goes through: the request id, the body cap,
/// the metrics, the API's transport rules (JSON bodies, no foreign `Origin`), the
/// live-update announcement after each state change, and `Cache-Control: no-store` on every
/// response.
pub fn serve_routes(state: Arc<AppState>, routes: Router<Arc<AppState>>) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            transport::api_rules,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            live::announce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::middleware::from_fn(transport::no_store))
        .layer(axum::middleware::from_fn(crate::trace::request_id))
        .with_state(state)
}

//! The application as the HTTP server sees it: the shared state ([`AppState`]), the one
//! router that serves the API and the web console side by side, the middleware around them,
//! the error type both render, and the extractors both use.
//!
//! `api` (JSON) and `console` (HTML) are siblings: each translates HTTP into calls to the
//! use cases of `breakglass_core::app` and their results back into HTTP, and neither
//! imports the other.

mod error;
pub mod extract;
mod metrics;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::AppError;
pub use metrics::Metrics;
pub use state::{AppService, AppState, AuthService};

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The application: every route of the API and the web console, the body cap, the
/// metrics layer, and the live-update announcement after each state change.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for r in crate::api::routes() {
        router = router.route(r.path, r.handler);
    }
    router
        .merge(crate::console::router(&state))
        .fallback(crate::api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::console::announce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .with_state(state)
}

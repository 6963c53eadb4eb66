//! The broker process: HTTP API, web console, authentication and background workers.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers are thin: they authenticate,
//! call the domain through the store, and render the result.

pub mod anchorer;
pub mod api;
pub mod app;
pub mod auth;
pub mod chat;
pub mod clock;
pub mod console;
pub mod drills;
pub mod hex;
pub mod notifier;
pub mod random;
pub mod report;
pub mod serve;
pub mod slack;
pub mod trace;
pub mod worker;

pub use clock::{RandomIds, SystemClock};
pub use worker::{Worker, WorkerConfig};

use std::sync::Arc;

/// The broker's HTTP application: the API's routes, the web console's and the Slack app's,
/// under the middleware of [`app::serve_routes`]; anything else is the API's not-found.
pub fn router(state: Arc<app::AppState>) -> axum::Router {
    let mut routes = axum::Router::new();
    for r in api::routes() {
        routes = routes.route(r.path, r.handler);
    }
    let routes = routes
        .merge(console::router(&state))
        .merge(slack::routes::routes())
        .fallback(api::not_found);
    app::serve_routes(state, routes)
}

//! Transport rules, checked before any handler runs.
//!
//! The JSON API (`/api/`) takes bodies as `application/json` only: a browser may send a
//! cross-site `text/plain`, form or multipart post without asking first, but a JSON post
//! needs a CORS preflight, which the broker never answers, so no other site's page can post
//! to the API. A request with no body (as several CLI calls send) needs no content type. A
//! request whose `Origin` is not the broker's own is refused outright. The console's HTML
//! forms (`application/x-www-form-urlencoded`, with CSRF tokens and their own origin check)
//! are outside these rules.
//!
//! Every response, API and console alike, is sent with `Cache-Control: no-store`: tokens,
//! credentials and audit records must not linger in a browser's or a proxy's cache.

use std::sync::Arc;

use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppError, AppState};

/// The paths the JSON API's rules apply to.
const API_PREFIX: &str = "/api/";

/// Whether the content type is `application/json` (parameters such as `charset` allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Refuses an API request from a foreign origin (`forbidden_origin`) or with a body that is
/// not JSON (`unsupported_media_type`).
pub async fn api_rules(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(API_PREFIX) {
        return next.run(req).await;
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let own = origin
            .to_str()
            .is_ok_and(|o| state.console.own_origin(o, req.headers()));
        if !own {
            return AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "the API does not take calls from other sites' pages (the `Origin` is not this broker's)",
            )
            .into_response();
        }
    }
    let body = req.body();
    let has_body = !(body.is_end_stream() || body.size_hint().exact() == Some(0));
    if has_body && !is_json(req.headers()) {
        return AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the API takes JSON bodies only: send `Content-Type: application/json`",
        )
        .into_response();
    }
    next.run(req).await
}

/// Sends `Cache-Control: no-store` on every response.
pub async fn no_store(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

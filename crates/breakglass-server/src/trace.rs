//! Request ids: every API and console call runs under one, in a `request` span, and answers
//! with it in `x-request-id`, so a client's report, the log and a 5xx body's correlation id
//! name the same call.
//!
//! A caller (or the proxy in front) may bring its own id; it is kept only when it is short and
//! made of safe characters (it goes into every log line of the call), else a fresh one is
//! drawn. The span records the matched route template, never the raw URI: a query string may
//! hold a token. The id is also kept in a task-local for the duration of the call, which is
//! how [`crate::app::AppError::internal`] puts it in the error body it writes.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id taken from a caller.
pub const MAX_REQUEST_ID: usize = 64;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Whether `id`, as a caller sent it, may be used as the request id: 1 to
/// [`MAX_REQUEST_ID`] characters from `A-Z a-z 0-9 - _ . :`.
pub fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh request id: 16 random hex digits.
pub fn fresh_id() -> String {
    crate::random::random_hex(8)
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` as the call with request id `id`: [`current_request_id`] answers `id` inside.
pub async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The middleware: picks the request id, runs the call in its span and task-local, logs
/// one line with the status and latency, and sets `x-request-id` on the response.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed(v))
        .map_or_else(fresh_id, str::to_owned);
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %path);
    let start = Instant::now();
    let mut response = with_request_id(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::warn!(status, latency_ms, "served");
        } else {
            tracing::info!(status, latency_ms, "served");
        }
    });
    // `id` is well-formed or our own hex, so it is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_safe_ids_are_taken_from_callers() {
        assert!(well_formed("abc-123_x.y:z"));
        assert!(well_formed(&"a".repeat(MAX_REQUEST_ID)));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(MAX_REQUEST_ID + 1)));
        for bad in ["a b", "a\nb", "a\"b", "a=b", "é", "a/b", "a\u{1b}[31m"] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn fresh_ids_are_well_formed_and_differ() {
        let (a, b) = (fresh_id(), fresh_id());
        assert!(well_formed(&a) && well_formed(&b));
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    async fn call(router: &axum::Router, uri: &str, id: Option<&str>) -> (Response, String) {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let mut req = axum::http::Request::get(uri);
        if let Some(id) = id {
            req = req.header(REQUEST_ID_HEADER, id);
        }
        let resp = router
            .clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            Response::from_parts(parts, axum::body::Body::empty()),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn header(resp: &Response) -> &str {
        resp.headers()[REQUEST_ID_HEADER].to_str().unwrap()
    }

    #[tokio::test]
    async fn a_server_fault_is_answered_and_logged_under_the_request_id() {
        use axum::http::StatusCode;

        use crate::app::AppError;

        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let router = axum::Router::new()
            .route(
                "/grants/{id}/boom",
                axum::routing::get(|| async {
                    Err::<(), _>(AppError::internal(
                        StatusCode::BAD_GATEWAY,
                        "aws_failed",
                        &"AccessDenied on role X",
                    ))
                }),
            )
            .layer(axum::middleware::from_fn(request_id));

        // A caller's well-formed id is kept: header, body and log agree on it.
        let (resp, body) = call(
            &router,
            "/grants/g-1/boom?token=bgt_secret",
            Some("caller-7"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(header(&resp), "caller-7");
        assert!(body.contains("correlation id caller-7"), "{body}");
        assert!(!body.contains("AccessDenied"), "{body}");
        let log = logs.text();
        let fault = log
            .lines()
            .find(|l| l.contains("server fault"))
            .unwrap_or_else(|| panic!("no fault logged: {log}"));
        assert!(
            fault.contains("request{id=caller-7 method=GET path=/grants/{id}/boom}"),
            "{fault}"
        );
        assert!(
            fault.contains("AccessDenied on role X") && fault.contains("aws_failed"),
            "{fault}"
        );
        let served = log
            .lines()
            .find(|l| l.contains("served"))
            .unwrap_or_else(|| panic!("no request line: {log}"));
        assert!(
            served.contains("status=502") && served.contains("latency_ms="),
            "{served}"
        );
        // The route template is logged, never the raw path or query (tokens travel there).
        assert!(!log.contains("bgt_secret") && !log.contains("g-1"), "{log}");

        // A malformed id (here one that would forge log fields) is replaced by a fresh one.
        let (resp, body) = call(&router, "/grants/g-2/boom", Some("x forged=1 status=200")).await;
        let fresh = header(&resp).to_owned();
        assert!(fresh.len() == 16 && well_formed(&fresh), "{fresh}");
        assert!(body.contains(&format!("correlation id {fresh}")), "{body}");
        assert!(!logs.text().contains("forged"));

        // No id at all: a fresh one, and an unmatched path is logged as such.
        let (resp, _) = call(&router, "/nowhere/bgt_secret", None).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(well_formed(header(&resp)));
        assert!(!logs.text().contains("bgt_secret"));
    }

    #[tokio::test]
    async fn the_task_local_holds_the_id_only_inside_the_call() {
        assert_eq!(current_request_id(), None);
        let inside = with_request_id("req-1".to_owned(), async { current_request_id() }).await;
        assert_eq!(inside.as_deref(), Some("req-1"));
        assert_eq!(current_request_id(), None);
    }
}

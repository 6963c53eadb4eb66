//! Request counters and latency for `/metrics`, in the Prometheus text format.
//!
//! Bounded: every label comes from a fixed set. The method is one of HTTP's standard
//! methods or `other` (a client may send any token as a method, and each would otherwise
//! pin a new series forever), the route is the matched route template or `unmatched`, and
//! the status is a number below 1000.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    count: u64,
    seconds: f64,
}

/// Requests served, by method, route and status.
#[derive(Debug, Default)]
pub struct Metrics {
    by_route: Mutex<BTreeMap<(String, String, u16), Counter>>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut g = match self.by_route.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let c = g
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        c.count += 1;
        c.seconds += seconds;
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let g = match self.by_route.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut out = String::new();
        out.push_str("# HELP breakglass_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE breakglass_http_requests_total counter\n");
        for ((m, r, s), c) in g.iter() {
            let _ = writeln!(
                out,
                "breakglass_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {}",
                c.count
            );
        }
        out.push_str(
            "# HELP breakglass_http_request_seconds_sum Time spent serving HTTP requests.\n",
        );
        out.push_str("# TYPE breakglass_http_request_seconds_sum counter\n");
        for ((m, r, s), c) in g.iter() {
            let _ = writeln!(
                out,
                "breakglass_http_request_seconds_sum{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {:.6}",
                c.seconds
            );
        }
        out
    }
}

/// The method's label: its name when it is one of HTTP's standard methods, else `other`.
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ]
    .into_iter()
    .zip([
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ])
    .find(|(m, _)| m == method)
    .map_or("other", |(_, name)| name)
}

/// The middleware that counts every request.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    state.metrics.record(
        method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

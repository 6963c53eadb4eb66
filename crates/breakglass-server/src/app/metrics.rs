//! Request counters and latency for `/metrics`, in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
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

/// The middleware that counts every request.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

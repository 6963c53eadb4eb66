//! Live updates: the hub behind `GET /console/events`, a `text/event-stream` of `event: request` lines
//! (`{"id":"r-…","status":"approved"}`) whenever a request changes.
//!
//! Changes come from this replica's API and console, from the workers (expiry, timeouts)
//! and from other replicas, so the source of truth is the audit chain every change is
//! written to: one poller per process reads the chain head (cheap) every
//! [`POLL_INTERVAL`], or at once when a state-changing call finished here
//! ([`Events::changed`]), and for each request named by the new records broadcasts its
//! current status. The poller runs only while someone listens.
//!
//! Bounded: a [`CAPACITY`]-event broadcast buffer (a subscriber that falls behind is
//! disconnected; its browser reconnects and reloads), at most [`MAX_SUBSCRIBERS`] streams,
//! each closed after [`MAX_STREAM`] (the browser reconnects, which re-checks the session)
//! and at shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use breakglass_core::model::RequestId;
use futures_util::StreamExt as _;
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;

use super::{AppService, AppState};

/// How often the poller looks at the audit chain head.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Events buffered per subscriber before it is dropped as too slow.
pub const CAPACITY: usize = 256;
/// Concurrent event streams per process.
pub const MAX_SUBSCRIBERS: usize = 512;
/// The longest a stream stays open.
pub const MAX_STREAM: Duration = Duration::from_secs(15 * 60);
/// Audit records read per poll (the rest are read on the next one).
const PAGE: u32 = 500;

/// A request that changed, and its status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The request id.
    pub request: String,
    /// Its status name (`pending`, `approved`, ...).
    pub status: String,
}

struct Inner {
    tx: broadcast::Sender<Change>,
    kick: Notify,
    poller: Mutex<Option<JoinHandle<()>>>,
    streams: AtomicUsize,
    closed: watch::Sender<bool>,
}

/// The live-update hub of one process.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("streams", &self.inner.streams.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A hub with nobody listening.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let (closed, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                tx,
                kick: Notify::new(),
                poller: Mutex::new(None),
                streams: AtomicUsize::new(0),
                closed,
            }),
        }
    }

    /// Something may have changed: look now rather than at the next poll.
    pub fn changed(&self) {
        self.inner.kick.notify_one();
    }

    /// Ends every open stream (at shutdown, so a graceful shutdown does not wait for them).
    pub fn close(&self) {
        let _ = self.inner.closed.send(true);
    }

    /// Open streams.
    pub fn streams(&self) -> usize {
        self.inner.streams.load(Ordering::Relaxed)
    }

    fn poller_running(&self) -> bool {
        let poller = match self.inner.poller.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        poller.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Subscribes, starting the poller if none runs. The poller starts from the chain head
    /// read before the subscription is returned, so no change committed after this call
    /// returns is missed.
    async fn subscribe(&self, app: &Arc<AppService>) -> broadcast::Receiver<Change> {
        loop {
            let head = if self.poller_running() {
                None
            } else {
                // `Some(None)`: the read failed; the poller takes its first successful read
                // as the start.
                Some(app.chain_head().await.ok().map(|h| h.map_or(0, |h| h.seq)))
            };
            let mut poller = match self.inner.poller.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if poller.as_ref().is_none_or(JoinHandle::is_finished) {
                // The poller stopped after we looked: read the head, then look again.
                let Some(start) = head else { continue };
                let inner = Arc::clone(&self.inner);
                *poller = Some(tokio::spawn(poll(inner, Arc::clone(app), start)));
            }
            return self.inner.tx.subscribe();
        }
    }

    /// The SSE response for one subscriber, or 503 when too many are open.
    pub async fn stream(&self, app: &Arc<AppService>) -> Response {
        let n = self.inner.streams.fetch_add(1, Ordering::SeqCst);
        if n >= MAX_SUBSCRIBERS {
            self.inner.streams.fetch_sub(1, Ordering::SeqCst);
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "too many live-update streams; the page falls back to reloading",
            )
                .into_response();
        }
        let guard = StreamGuard(Arc::clone(&self.inner));
        let rx = self.subscribe(app).await;
        let closed = self.inner.closed.subscribe();
        let deadline = tokio::time::Instant::now() + MAX_STREAM;
        Sse::new(events(rx, closed, deadline, guard))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response()
    }
}

/// Counts a stream as open until it is dropped.
struct StreamGuard(Arc<Inner>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::SeqCst);
    }
}

struct StreamState {
    rx: broadcast::Receiver<Change>,
    closed: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    _guard: StreamGuard,
}

fn events(
    rx: broadcast::Receiver<Change>,
    closed: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    guard: StreamGuard,
) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    let first = Event::default()
        .retry(Duration::from_secs(3))
        .comment("live");
    let state = StreamState {
        rx,
        closed,
        deadline,
        _guard: guard,
    };
    let rest = stream::unfold(state, |mut st| async move {
        if *st.closed.borrow() {
            return None;
        }
        let change = tokio::select! {
            r = st.rx.recv() => match r {
                Ok(c) => c,
                // Too slow (lagged) or the hub is gone: end the stream; the browser
                // reconnects and reloads what it shows.
                Err(_) => return None,
            },
            _ = st.closed.changed() => return None,
            () = tokio::time::sleep_until(st.deadline) => return None,
        };
        let data = json!({"id": change.request, "status": change.status}).to_string();
        Some((Ok(Event::default().event("request").data(data)), st))
    });
    stream::once(async move { Ok(first) }).chain(rest)
}

async fn poll(inner: Arc<Inner>, app: Arc<AppService>, start: Option<u64>) {
    let mut last = start;
    loop {
        tokio::select! {
            () = inner.kick.notified() => {},
            () = tokio::time::sleep(POLL_INTERVAL) => {},
        }
        {
            let mut poller = match inner.poller.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if inner.tx.receiver_count() == 0 {
                *poller = None;
                return;
            }
        }
        // A failed read is retried at the next poll; listeners simply hear later.
        let Ok(head) = app.chain_head().await else {
            continue;
        };
        let head = head.map_or(0, |h| h.seq);
        let Some(mut last_seen) = last else {
            last = Some(head);
            continue;
        };
        if head <= last_seen {
            continue;
        }
        let after = i64::try_from(last_seen).unwrap_or(i64::MAX);
        let Ok(rows) = app.changes_after(after, PAGE).await else {
            continue;
        };
        let mut changed: Vec<String> = Vec::new();
        for row in &rows {
            if let Some(r) = &row.request
                && !changed.contains(r)
            {
                changed.push(r.clone());
            }
            last_seen = last_seen.max(u64::try_from(row.seq).unwrap_or(0));
        }
        if rows.is_empty() {
            last_seen = head;
        }
        last = Some(last_seen);
        for r in changed {
            let Ok(id) = RequestId::new(r.clone()) else {
                continue;
            };
            if let Ok(Some(status)) = app.status_of(&id).await {
                let _ = inner.tx.send(Change {
                    request: r,
                    status: status.to_owned(),
                });
            }
        }
        if head > last_seen {
            // More records than one page: read the rest at once.
            inner.kick.notify_one();
        }
    }
}

/// Tells the live-update hub to look for changes after every state-changing call (API or
/// console) that succeeded.
pub async fn announce(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let changing = !(req.method() == Method::GET || req.method() == Method::HEAD);
    let r = next.run(req).await;
    if changing && (r.status().is_success() || r.status().is_redirection()) {
        s.console.events.changed();
    }
    r
}

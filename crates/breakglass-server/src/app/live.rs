//! Live updates: the hub behind `GET /console/events`, a `text/event-stream` of `event: request` lines
//! (`{"id":"r-…","status":"approved"}`) whenever a request the subscriber may read changes.
//!
//! Changes come from this replica's API and console, from the workers (expiry, timeouts)
//! and from other replicas, so the source of truth is the audit chain every change is
//! written to: one poller per process reads the chain head (cheap) every
//! [`POLL_INTERVAL`], or at once when a state-changing call finished here
//! ([`Events::changed`]), and broadcasts the id of each request named by the new records.
//! The poller runs only while someone listens.
//!
//! Nothing leaks: each stream re-authenticates its subscriber's token before every event
//! (and every [`RECHECK`] without one), so a revoked token or a disabled account ends the
//! stream at once, and asks the application for the request's status as that subscriber
//! ([`breakglass_core::app::App::status_for`], the read rules): a request they may not
//! read is never mentioned.
//!
//! Bounded: a [`CAPACITY`]-event broadcast buffer (a subscriber that falls behind is
//! disconnected; its browser reconnects and reloads), at most [`MAX_SUBSCRIBERS`] streams
//! and [`MAX_PER_USER`] per user, each closed after [`MAX_STREAM`] (the browser
//! reconnects, which re-checks the session) and at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use breakglass_core::app::Caller;
use breakglass_core::model::{RequestId, Username};
use futures_util::StreamExt as _;
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;

use super::{AppService, AppState, AuthService};

/// How often the poller looks at the audit chain head.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Events buffered per subscriber before it is dropped as too slow.
pub const CAPACITY: usize = 256;
/// Concurrent event streams per process.
pub const MAX_SUBSCRIBERS: usize = 512;
/// Concurrent event streams per user (a few tabs), so one user cannot hold them all.
pub const MAX_PER_USER: usize = 8;
/// How often a stream with nothing to say re-authenticates its subscriber.
pub const RECHECK: Duration = Duration::from_secs(30);
/// The longest a stream stays open.
pub const MAX_STREAM: Duration = Duration::from_secs(15 * 60);
/// Audit records read per poll (the rest are read on the next one).
const PAGE: u32 = 500;

/// A request that changed (its id). Each stream asks for its status as its subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The request id.
    pub request: RequestId,
}

/// Who a stream is for: the session token it re-authenticates with, never shown.
pub struct Subscriber {
    /// The session's API token.
    pub token: String,
    /// Who it authenticated as when the stream opened.
    pub username: Username,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("username", &self.username)
            .field("token", &"[redacted]")
            .finish()
    }
}

struct Inner {
    tx: broadcast::Sender<Change>,
    kick: Notify,
    poller: Mutex<Option<JoinHandle<()>>>,
    streams: AtomicUsize,
    per_user: Mutex<HashMap<Username, usize>>,
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
                per_user: Mutex::new(HashMap::new()),
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

    /// Open streams of `user`.
    pub fn streams_of(&self, user: &Username) -> usize {
        lock(&self.inner.per_user).get(user).copied().unwrap_or(0)
    }

    /// The SSE response for `who`, or 503 when too many streams are open (in all, or
    /// theirs).
    pub async fn stream(
        &self,
        app: &Arc<AppService>,
        auth: &Arc<AuthService>,
        who: Subscriber,
    ) -> Response {
        let too_many = |what: &str| {
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("too many live-update streams {what}; the page falls back to reloading"),
            )
                .into_response()
        };
        {
            let mut per_user = lock(&self.inner.per_user);
            let mine = per_user.entry(who.username.clone()).or_insert(0);
            if *mine >= MAX_PER_USER {
                return too_many("for this user");
            }
            *mine += 1;
        }
        let n = self.inner.streams.fetch_add(1, Ordering::SeqCst);
        // From here the guard gives both counts back, whatever happens.
        let guard = StreamGuard {
            inner: Arc::clone(&self.inner),
            user: who.username.clone(),
        };
        if n >= MAX_SUBSCRIBERS {
            drop(guard);
            return too_many("open");
        }
        let rx = self.subscribe(app).await;
        let closed = self.inner.closed.subscribe();
        let deadline = tokio::time::Instant::now() + MAX_STREAM;
        let state = StreamState {
            rx,
            closed,
            deadline,
            recheck: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
            app: Arc::clone(app),
            auth: Arc::clone(auth),
            who,
            _guard: guard,
        };
        Sse::new(events(state))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Counts a stream as open (in all, and for its user) until it is dropped.
struct StreamGuard {
    inner: Arc<Inner>,
    user: Username,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.inner.streams.fetch_sub(1, Ordering::SeqCst);
        let mut per_user = lock(&self.inner.per_user);
        if let Some(n) = per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

struct StreamState {
    rx: broadcast::Receiver<Change>,
    closed: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
    recheck: tokio::time::Interval,
    app: Arc<AppService>,
    auth: Arc<AuthService>,
    who: Subscriber,
    _guard: StreamGuard,
}

impl StreamState {
    /// The subscriber as they are now: `None` once their token is revoked or expired, or
    /// their account disabled (or the check cannot be made: the stream ends and the
    /// browser's reconnection checks again).
    async fn caller(&self) -> Option<Caller> {
        let p = self.auth.authenticate(&self.who.token).await.ok()?;
        (p.username == self.who.username && p.second_factor).then(|| p.caller())
    }
}

fn events(state: StreamState) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    let first = Event::default()
        .retry(Duration::from_secs(3))
        .comment("live");
    let rest = stream::unfold(state, |mut st| async move {
        loop {
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
                _ = st.recheck.tick() => {
                    st.caller().await?;
                    continue;
                }
            };
            let caller = st.caller().await?;
            // Not readable by this subscriber (or gone): not mentioned. A failed read is
            // skipped too; the page catches up on its next load.
            let Ok(Some(status)) = st.app.status_for(&caller, &change.request).await else {
                continue;
            };
            let data = json!({"id": change.request.as_str(), "status": status}).to_string();
            return Some((Ok(Event::default().event("request").data(data)), st));
        }
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
            if let Ok(request) = RequestId::new(r) {
                let _ = inner.tx.send(Change { request });
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

//! A Microsoft Teams incoming webhook for tests, and the check it makes of what it is sent.
//!
//! [`TeamsReceiver`] listens on a free port of 127.0.0.1 and stands in for a Teams Workflows
//! flow "Post to a channel when a webhook request is received": it takes POSTs, checks each
//! body ([`check_body`]: the `message` envelope with one Adaptive Card attachment, and the
//! card against the Adaptive Card 1.5 JSON Schema), answers 202 Accepted as Workflows does
//! and records the card, or answers 400 and records why. [`TeamsReceiver::set_down`] makes it
//! answer 503 until it is brought back, for the delivery tests of a receiver that is down.
//!
//! The schema is the verbatim copy in `crates/breakglass-core/tests/specs/` (see the
//! README there), read from that one place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jsonschema::{Draft, Validator};
use serde_json::Value;

/// The Adaptive Card 1.5 JSON Schema, as published by Microsoft.
pub const ADAPTIVE_CARD_SCHEMA: &str =
    include_str!("../../breakglass-core/tests/specs/adaptive-card-1.5.0.json");

/// The highest Adaptive Card version Teams renders.
pub const MAX_CARD_VERSION: (u32, u32) = (1, 5);

/// The validator of [`ADAPTIVE_CARD_SCHEMA`], compiled once.
fn validator() -> Result<&'static Validator, String> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(ADAPTIVE_CARD_SCHEMA)
                .map_err(|e| format!("the Adaptive Card schema is not JSON: {e}"))?;
            jsonschema::options()
                .with_draft(Draft::Draft6)
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| format!("the Adaptive Card schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What is wrong with `card` as an Adaptive Card Teams would render: the schema's
/// violations (each `<JSON pointer>: <problem>`), and what the schema leaves optional but a
/// top-level card needs (`type` `AdaptiveCard`, a `version` Teams supports). Empty when it
/// is fine.
pub fn check_card(card: &Value) -> Vec<String> {
    let validator = match validator() {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    let mut problems: Vec<String> = validator
        .iter_errors(card)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if card.get("type").and_then(Value::as_str) != Some("AdaptiveCard") {
        problems.push("/type: a card's type must be `AdaptiveCard`".to_owned());
    }
    match card.get("version").and_then(Value::as_str).map(version) {
        None => problems.push("/version: a top-level card must declare its version".to_owned()),
        Some(None) => problems.push("/version: not a `major.minor` version".to_owned()),
        Some(Some(v)) if v > MAX_CARD_VERSION => problems.push(format!(
            "/version: {}.{} is above the {}.{} Teams renders",
            v.0, v.1, MAX_CARD_VERSION.0, MAX_CARD_VERSION.1
        )),
        Some(Some(_)) => {}
    }
    problems
}

fn version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Checks a body posted to a Teams Workflows webhook: a JSON object of `type` `message`
/// with exactly one attachment of content type `application/vnd.microsoft.card.adaptive`
/// whose `content` passes [`check_card`]. Returns the card, or every problem found.
pub fn check_body(body: &[u8]) -> Result<Value, Vec<String>> {
    let envelope: Value =
        serde_json::from_slice(body).map_err(|e| vec![format!("the body is not JSON: {e}")])?;
    let mut problems = Vec::new();
    if envelope.get("type").and_then(Value::as_str) != Some("message") {
        problems.push("/type: the envelope's type must be `message`".to_owned());
    }
    let attachments = envelope
        .get("attachments")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let [attachment] = attachments else {
        problems.push(format!(
            "/attachments: expected one attachment, found {}",
            attachments.len()
        ));
        return Err(problems);
    };
    if attachment.get("contentType").and_then(Value::as_str)
        != Some("application/vnd.microsoft.card.adaptive")
    {
        problems.push(
            "/attachments/0/contentType: must be `application/vnd.microsoft.card.adaptive`"
                .to_owned(),
        );
    }
    if attachment.get("contentUrl").is_some_and(|u| !u.is_null()) {
        problems.push("/attachments/0/contentUrl: must be null for an inline card".to_owned());
    }
    let Some(card) = attachment.get("content").filter(|c| c.is_object()) else {
        problems.push("/attachments/0/content: the card is missing".to_owned());
        return Err(problems);
    };
    problems.extend(
        check_card(card)
            .into_iter()
            .map(|p| format!("/attachments/0/content{p}")),
    );
    if problems.is_empty() {
        Ok(card.clone())
    } else {
        Err(problems)
    }
}

/// One POST the receiver answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// The status it answered: 202 (taken), 400 (refused: see the violations) or 503 (down).
    pub status: u16,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The card, when the body passed the checks.
    pub card: Option<Value>,
}

#[derive(Default)]
struct Shared {
    down: AtomicBool,
    posts: Mutex<Vec<Post>>,
    violations: Mutex<Vec<String>>,
}

/// A local stand-in for a Teams Workflows webhook; stopped when dropped.
pub struct TeamsReceiver {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl TeamsReceiver {
    /// Starts a receiver on a free port of 127.0.0.1, up. Its URL has the shape of a
    /// Workflows trigger URL, signature included (`…&sig=…`), which tests treat as the
    /// secret it is.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let url = format!(
            "http://127.0.0.1:{port}/workflows/0f3c1e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=teams-sig-{port}-d1f04a7c"
        );
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            // The server runs until the receiver is dropped (which aborts this task).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            shared,
            server,
        })
    }

    /// The webhook URL to configure (a secret, as a real one is).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Down (`true`: every POST is answered 503 and dropped) or back up.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Every POST answered, in order.
    pub fn posts(&self) -> Vec<Post> {
        lock(&self.shared.posts).clone()
    }

    /// The cards taken (answered 202), in order.
    pub fn cards(&self) -> Vec<Value> {
        lock(&self.shared.posts)
            .iter()
            .filter(|p| p.status == 202)
            .filter_map(|p| p.card.clone())
            .collect()
    }

    /// Why bodies were refused: each problem [`check_body`] found, in order.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }
}

impl Drop for TeamsReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The one handler: every POST, whatever its path.
async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, card) = if shared.down.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, None)
    } else {
        match check_body(&body) {
            Ok(card) => (StatusCode::ACCEPTED, Some(card)),
            Err(problems) => {
                lock(&shared.violations).extend(problems);
                (StatusCode::BAD_REQUEST, None)
            }
        }
    };
    lock(&shared.posts).push(Post {
        status: status.as_u16(),
        idempotency_key,
        card,
    });
    status
}

/// The data behind `m`, even if a thread panicked while holding it (a test's records stay
/// readable after a failed assertion elsewhere).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

//! The local Slack Web API: an axum server on a free port of 127.0.0.1 answering
//! `/api/<method>` for the methods of the spec subset, checking each call (method, HTTP
//! verb, body type, authentication, arguments, Block Kit) and keeping what a test asserts
//! on: the calls, the violations, the messages as they stand and the views opened.
//!
//! A violation is a call Slack would refuse or warn about; it is recorded and answered with
//! Slack's error (`invalid_arguments`, `invalid_blocks`, …), with the reasons in
//! `response_metadata.messages`. Answers about the state of the workspace rather than the
//! shape of the call (`invalid_auth` for a wrong token, `channel_not_found`,
//! `message_not_found`, `user_not_found`, `invalid_trigger_id`) are not violations: a broker
//! meets them in production and must handle them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use super::spec::{Operation, Source, Spec};
use super::{APP_ID, BOT_ID, TEAM_ID, blockkit};

/// How long a trigger can be exchanged: "Triggers expire in three seconds", and "may only be
/// used once" (<https://api.slack.com/docs/triggers>).
const TRIGGER_LIFETIME: Duration = Duration::from_secs(3);

/// One call the receiver could read (valid or not): the method and its arguments, form
/// fields or JSON members as an object, with `blocks`, `attachments` and `view` parsed from
/// their JSON strings. `token` is not kept.
#[derive(Clone, Debug, PartialEq)]
pub struct SlackCall {
    /// The method, e.g. `chat.postMessage`.
    pub method: String,
    /// The arguments, as a JSON object.
    pub args: Value,
}

/// A message as it stands after every `chat.update` of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SlackMessage {
    /// The conversation it is in: the channel posted to, or for a user id (`U…`) the direct
    /// message channel (`D…`) Slack answers with, which `chat.update` must then name.
    pub channel: String,
    /// Its timestamp, which identifies it in the channel.
    pub ts: String,
    /// Its `text` (the notification fallback when it has blocks).
    pub text: String,
    /// Its blocks, `null` when it has none.
    pub blocks: Value,
    /// How many `chat.update` calls changed it.
    pub updates: u32,
}

/// A trigger issued by [`SlackApi::trigger_id`].
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// Exchangeable until the deadline.
    Live(Instant),
    /// Exchanged already.
    Exchanged,
}

/// What the receiver keeps between calls.
#[derive(Debug, Default)]
struct Workspace {
    down: bool,
    calls: Vec<SlackCall>,
    violations: Vec<String>,
    messages: Vec<SlackMessage>,
    views: Vec<Value>,
    users: BTreeMap<String, String>,
    triggers: HashMap<String, Trigger>,
    issued: u64,
}

#[derive(Debug)]
struct Shared {
    spec: Spec,
    bot_token: String,
    workspace: Mutex<Workspace>,
}

/// A local Slack Web API for one test, stopped when dropped. Point the broker at
/// [`SlackApi::url`]; after the test, assert `violations()` is empty.
#[derive(Debug)]
pub struct SlackApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for SlackApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SlackApi {
    /// Starts the receiver on a free port of 127.0.0.1, accepting `bot_token` (as
    /// `Authorization: Bearer <bot_token>`, or a `token` form field or query parameter).
    pub async fn start(bot_token: &str) -> SlackApi {
        #[expect(
            clippy::expect_used,
            reason = "the spec subset is compiled in and read by a unit test; a test without its Slack cannot run"
        )]
        let spec = Spec::load().expect("the Slack spec subset reads");
        #[expect(
            clippy::expect_used,
            reason = "a test that cannot listen on 127.0.0.1 cannot run, and says why"
        )]
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1 for the Slack receiver");
        #[expect(
            clippy::expect_used,
            reason = "a bound listener has an address; a test without it cannot run"
        )]
        let addr = listener.local_addr().expect("the receiver's address");
        let shared = Arc::new(Shared {
            spec,
            bot_token: bot_token.to_owned(),
            workspace: Mutex::new(Workspace::default()),
        });
        let app = Router::new()
            .route("/api/{method}", any(answer))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackApi {
            shared,
            addr,
            server,
        }
    }

    /// The Web API's base URL, `http://127.0.0.1:PORT/api`: the broker calls
    /// `{url}/chat.postMessage`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn workspace(&self) -> MutexGuard<'_, Workspace> {
        self.shared.lock()
    }

    /// Every call read so far, in order: refused ones included, except calls to a method
    /// the spec subset does not have, with a body that does not parse, or without a token.
    pub fn calls(&self) -> Vec<SlackCall> {
        self.workspace().calls.clone()
    }

    /// Every violation so far, each a sentence starting with the method: a test asserts
    /// this is empty.
    pub fn violations(&self) -> Vec<String> {
        self.workspace().violations.clone()
    }

    /// Every message posted, as it stands after the updates made to it.
    pub fn messages(&self) -> Vec<SlackMessage> {
        self.workspace().messages.clone()
    }

    /// Every view opened, in order, as `views.open` answered it (with its `id`).
    pub fn views(&self) -> Vec<Value> {
        self.workspace().views.clone()
    }

    /// While `down`, every call is answered HTTP 503 and not recorded.
    pub fn set_down(&self, down: bool) {
        self.workspace().down = down;
    }

    /// Adds a user `users.info` knows: `id` (`U…`) with the handle `name`.
    pub fn add_user(&self, id: &str, name: &str) {
        self.workspace()
            .users
            .insert(id.to_owned(), name.to_owned());
    }

    fn issue(&self, deadline: Instant) -> String {
        let mut workspace = self.workspace();
        workspace.issued += 1;
        let n = workspace.issued;
        let noise = u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        let id = format!("{}.47445629121.{noise:032x}", 398_738_663_000 + n);
        workspace
            .triggers
            .insert(id.clone(), Trigger::Live(deadline));
        id
    }

    /// A trigger id as Slack hands one to an app with an interaction: `views.open` accepts
    /// it once, within 3 seconds.
    pub fn trigger_id(&self) -> String {
        let now = Instant::now();
        self.issue(now.checked_add(TRIGGER_LIFETIME).unwrap_or(now))
    }

    /// A trigger id whose 3 seconds are already over, for a test of a broker too slow to
    /// open its modal.
    pub fn expired_trigger_id(&self) -> String {
        self.issue(Instant::now())
    }
}

/// The axum handler: reads the request and hands it to [`Shared::handle`].
async fn answer(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    verb: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.handle(&Request {
        method: &method,
        verb: &verb,
        query: query.as_deref(),
        headers: &headers,
        body: &body,
    })
}

/// One HTTP request to `/api/<method>`.
struct Request<'a> {
    method: &'a str,
    verb: &'a Method,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

/// Slack's answer to a refused call: HTTP 200, `ok: false`, the error and the reasons.
fn refuse(error: &str, reasons: &[String]) -> Response {
    let mut body = Map::new();
    body.insert("ok".into(), json!(false));
    body.insert("error".into(), json!(error));
    if !reasons.is_empty() {
        body.insert("response_metadata".into(), json!({"messages": reasons}));
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn accept(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The arguments of a call: name, value, and where it came from.
type Arguments = Vec<(String, Value, Source)>;

/// Why a call's arguments cannot be read: Slack's error, and the reason.
type Unreadable = (&'static str, String);

/// The arguments of a request, each with where it came from, or the Slack error and reason
/// for a body that cannot be read.
fn read_arguments(op: &Operation, req: &Request<'_>) -> Result<Arguments, Unreadable> {
    let mut args = Vec::new();
    if let Some(query) = req.query {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
            (
                "invalid_arguments",
                format!("the query string `{query}` is not form-encoded: {e}"),
            )
        })?;
        args.extend(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v), Source::Text)),
        );
    }
    if req.body.is_empty() {
        return Ok(args);
    }
    if *req.verb == Method::GET {
        return Err((
            "invalid_arguments",
            "a GET request carries a body".to_owned(),
        ));
    }
    let Some(content_type) = req.headers.get(header::CONTENT_TYPE) else {
        return Err((
            "missing_post_type",
            "a POST with a body and no Content-Type header".to_owned(),
        ));
    };
    let content_type = content_type.to_str().unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !op.consumes.contains(&media) {
        return Err((
            "invalid_post_type",
            format!(
                "a body of type `{content_type}`; the spec's `consumes` for this method lists only {}",
                op.consumes.join(", ")
            ),
        ));
    }
    if media == "application/json" {
        let value: Value = serde_json::from_slice(req.body)
            .map_err(|e| ("invalid_json", format!("the JSON body does not parse: {e}")))?;
        let Value::Object(members) = value else {
            return Err((
                "json_not_object",
                format!("the JSON body is `{value}`, not an object"),
            ));
        };
        args.extend(members.into_iter().map(|(k, v)| (k, v, Source::Json)));
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(req.body).map_err(|e| {
            (
                "invalid_form_data",
                format!("the form body does not parse: {e}"),
            )
        })?;
        args.extend(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v), Source::Text)),
        );
    }
    Ok(args)
}

/// Whether `id` looks like a Slack conversation or user id (`C…`, `D…`, `G…`, `U…`, `W…`).
fn looks_like_conversation(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('C' | 'D' | 'G' | 'U' | 'W'))
        && id.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The conversation a message to `channel` lands in: a user id (`U…`, `W…`) means the
/// app's direct message channel with that user, `D` and the rest of the id here.
fn conversation(channel: &str) -> String {
    match channel.strip_prefix(['U', 'W']) {
        Some(rest) => format!("D{rest}"),
        None => channel.to_owned(),
    }
}

fn text_arg(args: &Map<String, Value>, name: &str) -> Option<String> {
    args.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// The token a request presents, and its other arguments. The token is a bearer header, or
/// a `token` form field or query parameter; a JSON body's members are never read for it:
/// "This method supports application/json via HTTP POST. Present your token in your
/// request's Authorization header." (<https://api.slack.com/methods/views.open>). A
/// malformed header or a token in a JSON body is a problem pushed onto `problems`, and so is
/// no token at all.
fn authenticate(
    headers: &HeaderMap,
    args: Arguments,
    problems: &mut Vec<String>,
) -> (Option<String>, Arguments) {
    let bearer = match headers.get(header::AUTHORIZATION) {
        Some(value) => match value.to_str().unwrap_or_default().strip_prefix("Bearer ") {
            Some(token) => Some(token.to_owned()),
            None => {
                problems.push("the Authorization header is not `Bearer <token>`".to_owned());
                None
            }
        },
        None => None,
    };
    let mut form_token = None;
    let mut rest = Vec::new();
    for (name, value, source) in args {
        if name != "token" {
            rest.push((name, value, source));
        } else if source == Source::Json {
            problems.push(
                "`token` is a member of the JSON body; Slack reads a JSON call's token only \
                 from the Authorization header"
                    .to_owned(),
            );
        } else {
            form_token = value.as_str().map(str::to_owned);
        }
    }
    let token = bearer.or(form_token);
    if token.is_none() {
        problems.push(
            "no token: neither `Authorization: Bearer <token>` nor a `token` argument".to_owned(),
        );
    }
    (token, rest)
}

/// Checks the Block Kit a call carries (a message's `blocks`, a modal's `view`), recording
/// what breaks Slack's limits; the refusal Slack would answer, if any. Blocks without a
/// `text` fallback are posted, as Slack posts them, and recorded: Slack only warns.
fn check_block_kit(
    ws: &mut Workspace,
    method: &str,
    args: &Map<String, Value>,
) -> Option<Response> {
    let mut problems = Vec::new();
    match method {
        "chat.postMessage" | "chat.update" => {
            let blocks = args.get("blocks")?;
            blockkit::check_message(blocks, &mut problems);
            if !problems.is_empty() {
                ws.violate(method, &problems);
                return Some(refuse("invalid_blocks", &problems));
            }
            if text_arg(args, "text").is_none_or(|t| t.is_empty()) {
                ws.violate(
                    method,
                    &[
                        "`blocks` without `text`: Slack uses `text` as the fallback for \
                       notifications and screen readers, and warns when it is missing \
                       (https://api.slack.com/reference/messaging/payload)"
                            .to_owned(),
                    ],
                );
            }
        }
        "views.open" => {
            blockkit::check_modal(args.get("view")?, &mut problems);
            if !problems.is_empty() {
                ws.violate(method, &problems);
                return Some(refuse("invalid_arguments", &problems));
            }
        }
        _ => {}
    }
    None
}

impl Workspace {
    /// Records `reasons` as violations of `method`.
    fn violate(&mut self, method: &str, reasons: &[String]) {
        self.violations
            .extend(reasons.iter().map(|r| format!("{method}: {r}")));
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Workspace> {
        // A test that panicked while holding the lock leaves consistent data behind.
        self.workspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks and answers one request.
    fn handle(&self, req: &Request<'_>) -> Response {
        let mut guard = self.lock();
        let ws: &mut Workspace = &mut guard;
        if ws.down {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let method = req.method;
        let Some(op) = self.spec.operation(method) else {
            ws.violate(method, &["no such method in the spec subset".to_owned()]);
            return refuse("unknown_method", &[]);
        };
        let mut problems = Vec::new();
        if *req.verb == Method::GET {
            if op.verb != "get" {
                problems.push(format!(
                    "called with GET; the spec declares `{}` for it, and Slack takes POST",
                    op.verb
                ));
            }
        } else if *req.verb != Method::POST {
            problems.push(format!(
                "called with {}; Slack's Web API takes POST (and GET where the spec declares it)",
                req.verb
            ));
        }
        let args = match read_arguments(op, req) {
            Ok(args) => args,
            Err((error, reason)) => {
                problems.push(reason);
                ws.violate(method, &problems);
                return refuse(error, &problems);
            }
        };

        let (token, rest) = authenticate(req.headers, args, &mut problems);
        let Some(token) = token else {
            ws.violate(method, &problems);
            return refuse("not_authed", &problems);
        };

        let kept = op.check(rest, &mut problems);
        ws.calls.push(SlackCall {
            method: method.to_owned(),
            args: Value::Object(kept.clone()),
        });
        if !problems.is_empty() {
            ws.violate(method, &problems);
        }
        if token != self.bot_token {
            return refuse("invalid_auth", &[]);
        }
        if !problems.is_empty() {
            return refuse("invalid_arguments", &problems);
        }

        if let Some(refusal) = check_block_kit(ws, method, &kept) {
            return refusal;
        }

        match method {
            "chat.postMessage" => post_message(ws, method, &kept),
            "chat.update" => update(ws, &kept),
            "views.open" => open_view(ws, &kept),
            "users.info" => user_info(ws, &kept),
            _ => refuse("unknown_method", &[]),
        }
    }
}

fn post_message(ws: &mut Workspace, method: &str, args: &Map<String, Value>) -> Response {
    let channel = text_arg(args, "channel").unwrap_or_default();
    let text = text_arg(args, "text").unwrap_or_default();
    let blocks = args.get("blocks").cloned().unwrap_or(Value::Null);
    if text.is_empty() && blocks.is_null() && !args.contains_key("attachments") {
        let reason = "no `text`, `blocks` or `attachments`: nothing to post".to_owned();
        ws.violate(method, std::slice::from_ref(&reason));
        return refuse("no_text", &[reason]);
    }
    if !looks_like_conversation(&channel) {
        return refuse("channel_not_found", &[]);
    }
    let posted = u64::try_from(ws.messages.len()).unwrap_or(u64::MAX);
    let ts = format!("{}.000100", 1_700_000_001_u64.saturating_add(posted));
    let channel = conversation(&channel);
    let mut message = Map::new();
    message.insert("type".into(), json!("message"));
    message.insert("subtype".into(), json!("bot_message"));
    message.insert("text".into(), json!(text));
    message.insert("ts".into(), json!(ts));
    message.insert("bot_id".into(), json!(BOT_ID));
    message.insert("app_id".into(), json!(APP_ID));
    message.insert("team".into(), json!(TEAM_ID));
    if !blocks.is_null() {
        message.insert("blocks".into(), blocks.clone());
    }
    ws.messages.push(SlackMessage {
        channel: channel.clone(),
        ts: ts.clone(),
        text,
        blocks,
        updates: 0,
    });
    accept(json!({"ok": true, "channel": channel, "ts": ts, "message": message}))
}

/// `chat.update`: replaces the text and blocks given. Slack keeps the blocks when none are
/// sent and removes them for an empty array.
fn update(ws: &mut Workspace, args: &Map<String, Value>) -> Response {
    let channel = text_arg(args, "channel").unwrap_or_default();
    let ts = text_arg(args, "ts").unwrap_or_default();
    if !looks_like_conversation(&channel) || channel.starts_with(['U', 'W']) {
        // A message to a user lives in the direct message channel Slack answered with.
        return refuse("channel_not_found", &[]);
    }
    let Some(message) = ws
        .messages
        .iter_mut()
        .find(|m| m.channel == channel && m.ts == ts)
    else {
        return refuse("message_not_found", &[]);
    };
    if let Some(text) = text_arg(args, "text") {
        message.text = text;
    }
    if let Some(blocks) = args.get("blocks") {
        message.blocks = blocks.clone();
    }
    message.updates += 1;
    let mut body = Map::new();
    body.insert("text".into(), json!(message.text));
    if !message.blocks.is_null() {
        body.insert("blocks".into(), message.blocks.clone());
    }
    accept(json!({
        "ok": true,
        "channel": channel,
        "ts": ts,
        "text": message.text,
        "message": body
    }))
}

/// `views.open`: exchanges the trigger once, within its lifetime, and answers the view with
/// the fields Slack adds.
fn open_view(ws: &mut Workspace, args: &Map<String, Value>) -> Response {
    let trigger = text_arg(args, "trigger_id").unwrap_or_default();
    let refusal = match ws.triggers.get(&trigger).copied() {
        None => Some(format!("`trigger_id` `{trigger}` was never issued")),
        Some(Trigger::Exchanged) => Some(format!(
            "`trigger_id` `{trigger}` was exchanged already; a trigger may be used only once"
        )),
        Some(Trigger::Live(deadline)) if Instant::now() >= deadline => Some(format!(
            "`trigger_id` `{trigger}` expired; a trigger lives 3 seconds"
        )),
        Some(Trigger::Live(_)) => None,
    };
    if let Some(reason) = refusal {
        return refuse("invalid_trigger_id", &[reason]);
    }
    ws.triggers.insert(trigger, Trigger::Exchanged);
    let mut view = args
        .get("view")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let id = format!("V{:08}", ws.views.len() + 1);
    let defaults = [
        ("callback_id", json!("")),
        ("private_metadata", json!("")),
        ("external_id", json!("")),
        ("submit", Value::Null),
        ("close", Value::Null),
        ("clear_on_close", json!(false)),
        ("notify_on_close", json!(false)),
    ];
    for (key, value) in defaults {
        view.entry(key).or_insert(value);
    }
    view.insert("id".into(), json!(id));
    view.insert("team_id".into(), json!(TEAM_ID));
    view.insert("state".into(), json!({"values": {}}));
    view.insert(
        "hash".into(),
        json!(format!("1700000000.{:08x}", ws.views.len() + 1)),
    );
    view.insert("previous_view_id".into(), Value::Null);
    view.insert("root_view_id".into(), json!(id));
    view.insert("app_id".into(), json!(APP_ID));
    view.insert("app_installed_team_id".into(), json!(TEAM_ID));
    view.insert("bot_id".into(), json!(BOT_ID));
    let view = Value::Object(view);
    ws.views.push(view.clone());
    accept(json!({"ok": true, "view": view}))
}

fn user_info(ws: &Workspace, args: &Map<String, Value>) -> Response {
    let id = text_arg(args, "user").unwrap_or_default();
    let Some(name) = ws.users.get(&id) else {
        return refuse("user_not_found", &[]);
    };
    accept(json!({
        "ok": true,
        "user": {
            "id": id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": false,
            "real_name": name,
            "is_bot": false,
            "is_app_user": false,
            "profile": {"real_name": name, "display_name": name, "team": TEAM_ID}
        }
    }))
}

//! The endpoints Slack calls: `POST /slack/interactions` (buttons, modal submissions) and
//! `POST /slack/commands` (`/breakglass link|request|status|help`).
//!
//! Before anything is read, each delivery's signature and timestamp are checked and a
//! delivery seen before is refused; then the workspace must be the configured one, and the
//! chat account must be linked to an enabled broker user. Every refusal is audited
//! (`chat_refused`) with the channel it came from; the person is told why in Slack.
//! Everything else is the ordinary use cases, called as that user.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use breakglass_core::app::{Approving, Ask, Caller};
use breakglass_core::chat::slack::{
    self as blocks, APPROVE_ACTION, APPROVE_VIEW, CODE_INPUT, DENY_ACTION, DENY_VIEW, REASON_INPUT,
    REQUEST_VIEW,
};
use breakglass_core::chat::{ChatOrigin, ChatPlatform};
use breakglass_core::model::{RequestId, StepUpFactor};
use breakglass_core::request::Status;
use breakglass_core::session::RequestFilter;
use serde_json::{Value, json};
use time::Duration;

use crate::app::{AppError, AppState};
use crate::auth::{Answer, Principal};
use crate::chat::SlackApp;
use crate::chat::verify::{self, Refused};

type St = State<Arc<AppState>>;

/// How long a delivery's signature is remembered to refuse a replay: twice the timestamp
/// tolerance, so a replay inside the window is always recognised.
const REMEMBER: Duration = Duration::minutes(10);

/// The routes Slack calls.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/slack/interactions", post(interactions))
        .route("/slack/commands", post(commands))
}

/// `text` cut to `max` characters, for ids read from an unverified body.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn json_reply(v: &Value) -> Response {
    (StatusCode::OK, axum::Json(v.clone())).into_response()
}

fn ephemeral(text: &str) -> Response {
    json_reply(&json!({ "response_type": "ephemeral", "text": text }))
}

fn refused_status(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

/// The workspace and user an unverified interaction or command claims, for the audit
/// record of its refusal.
fn claimed(body: &[u8]) -> Option<(String, String)> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(body).ok()?;
    if let Some(p) = form.get("payload") {
        let v: Value = serde_json::from_str(p).ok()?;
        let team = v.pointer("/team/id").and_then(Value::as_str)?;
        let user = v.pointer("/user/id").and_then(Value::as_str)?;
        return Some((clip(team, 64), clip(user, 64)));
    }
    Some((
        clip(form.get("team_id")?, 64),
        clip(form.get("user_id")?, 64),
    ))
}

/// Admits a delivery: the signature and timestamp hold, and it was not seen before.
/// Refusals are audited and answered with 401.
async fn admit(
    s: &AppState,
    slack: &SlackApp,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    let now = s.app.now();
    let refuse = |reason: String| async move {
        tracing::warn!(reason = %reason, "Slack delivery refused");
        // Anyone can send these: at most a few are audited per minute, the rest counted
        // into the next record; what the body claims is unverified and said to be.
        if let Some(folded) = slack.refusals.admit(now) {
            let claims = claimed(body).map_or_else(String::new, |(team, user)| {
                format!("; the body claims workspace {team}, user {user} (unverified)")
            });
            let more = if folded > 0 {
                format!("; {folded} more refused deliveries before this one were not audited")
            } else {
                String::new()
            };
            let audited = s
                .app
                .chat_delivery_refused(
                    ChatPlatform::Slack,
                    None,
                    &format!("{reason}{claims}{more}"),
                )
                .await;
            if let Err(e) = audited {
                return AppError::from(e).into_response();
            }
        }
        refused_status(StatusCode::UNAUTHORIZED, &reason)
    };
    let key = match verify::verify(slack.signing_secret.expose().as_bytes(), headers, body, now) {
        Ok(k) => k,
        Err(e @ (Refused::Malformed(_) | Refused::Stale(_) | Refused::Mismatch)) => {
            return Err(refuse(e.to_string()).await);
        }
    };
    match s
        .auth
        .fresh_chat_delivery(&format!("slack:{key}"), REMEMBER)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => {
            Err(refuse("this delivery was received before: a replay, refused".to_owned()).await)
        }
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

/// Audits the refusal of `action` by `origin` (as `principal` when known) and returns
/// what the person is told.
async fn audit_refusal(
    s: &AppState,
    origin: &ChatOrigin,
    principal: Option<&Principal>,
    action: &str,
    request: Option<&RequestId>,
    reason: &str,
) -> Result<(), Response> {
    let caller: Option<Caller> = principal.map(Principal::caller);
    s.app
        .chat_refused(origin, caller.as_ref(), action, request, reason)
        .await
        .map_err(|e| AppError::from(e).into_response())
}

/// A modal that only says `text` (shown for a refused button click).
fn notice_view(title: &str, text: &str) -> Value {
    json!({
        "type": "modal",
        "title": { "type": "plain_text", "text": title },
        "close": { "type": "plain_text", "text": "Close" },
        "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": blocks::escape(text) } } ],
    })
}

/// The workspace check: a delivery signed with the app's secret but for another workspace
/// (an app installed in several) is refused.
/// `user_team` is the user's own workspace where Slack says it (interactions: `user.team_id`;
/// a slash command names only the workspace it was typed in): a user of another workspace
/// in a shared channel is refused too.
fn same_team(slack: &SlackApp, origin: &ChatOrigin, user_team: &str) -> bool {
    origin.team == slack.config.team_id && (user_team.is_empty() || user_team == origin.team)
}

/// `POST /slack/interactions`.
async fn interactions(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let Some(slack) = s.slack.clone() else {
        return refused_status(StatusCode::NOT_FOUND, "the Slack app is not configured");
    };
    if let Err(r) = admit(&s, &slack, &headers, &body).await {
        return r;
    }
    let payload: Option<Value> = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body)
        .ok()
        .and_then(|f| f.get("payload").and_then(|p| serde_json::from_str(p).ok()));
    let Some(payload) = payload else {
        return refused_status(
            StatusCode::BAD_REQUEST,
            "the body carries no `payload` JSON",
        );
    };
    let text = |ptr: &str| {
        payload
            .pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let origin = ChatOrigin {
        platform: ChatPlatform::Slack,
        team: clip(&text("/team/id"), 64),
        user: clip(&text("/user/id"), 64),
    };
    let result = if !same_team(&slack, &origin, &text("/user/team_id")) {
        audit_refusal(
            &s,
            &origin,
            None,
            "interaction",
            None,
            "another Slack workspace",
        )
        .await
        .map(|()| {
            refused_status(
                StatusCode::FORBIDDEN,
                "this Slack workspace is not the broker's",
            )
        })
    } else {
        match text("/type").as_str() {
            "block_actions" => on_action(&s, &slack, &origin, &payload).await,
            "view_submission" => on_submission(&s, &slack, &origin, &payload).await,
            _ => Ok(StatusCode::OK.into_response()),
        }
    };
    result.unwrap_or_else(|r| r)
}

/// A click on Approve or Deny: opens the approval modal (bound to the digest the message
/// showed) or the denial modal, as the linked user, who must be able to read the request.
async fn on_action(
    s: &AppState,
    slack: &SlackApp,
    origin: &ChatOrigin,
    payload: &Value,
) -> Result<Response, Response> {
    let action = payload
        .pointer("/actions/0")
        .cloned()
        .unwrap_or(Value::Null);
    let action_id = action
        .get("action_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let what = match action_id {
        APPROVE_ACTION => "approve",
        DENY_ACTION => "deny",
        // The console link and anything else: Slack only tells us it was clicked.
        _ => return Ok(StatusCode::OK.into_response()),
    };
    let trigger = payload
        .get("trigger_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tell = |title: &str, text: &str| {
        let view = notice_view(title, text);
        let trigger = trigger.to_owned();
        async move {
            if let Err(e) = slack.api.open_view(&trigger, &view).await {
                tracing::warn!(error = %e, "could not show a notice in Slack");
            }
        }
    };
    let value = action
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (id, digest) = match blocks::parse_value(value) {
        Ok(v) => v,
        Err(e) => {
            audit_refusal(s, origin, None, what, None, &e).await?;
            tell("Refused", &e).await;
            return Ok(StatusCode::OK.into_response());
        }
    };
    let principal = match s.auth.chat_principal(origin).await {
        Ok(p) => p,
        Err(e) => {
            let reason = AppError::from(e).message;
            audit_refusal(s, origin, None, what, Some(&id), &reason).await?;
            tell("Refused", &reason).await;
            return Ok(StatusCode::OK.into_response());
        }
    };
    let request = match s.app.request(&principal.caller(), &id).await {
        Ok(v) => v.value,
        Err(e) => {
            let reason = AppError::from(e).message;
            audit_refusal(s, origin, Some(&principal), what, Some(&id), &reason).await?;
            tell("Refused", &reason).await;
            return Ok(StatusCode::OK.into_response());
        }
    };
    let view = if what == "approve" {
        let passkey = s
            .app
            .rules()
            .catalog()
            .playbook(&request.spec.playbook)
            .is_some_and(|p| p.step_up == StepUpFactor::Passkey);
        let url = blocks::request_url(&slack.console_url, &id);
        blocks::approve_modal(
            &request,
            &digest,
            &s.app.allowed_by(&request),
            passkey.then_some(url.as_str()),
        )
    } else {
        blocks::deny_modal(&request, &digest)
    };
    if let Err(e) = slack.api.open_view(trigger, &view).await {
        tracing::warn!(error = %e, request = %id, "could not open the Slack modal");
    }
    Ok(StatusCode::OK.into_response())
}

/// The value of input `(block, action)` in a submitted view.
fn input(payload: &Value, (block, action): (&str, &str)) -> String {
    let v = payload.pointer(&format!("/view/state/values/{block}/{action}"));
    v.and_then(|v| {
        v.get("value")
            .and_then(Value::as_str)
            .or_else(|| v.pointer("/selected_option/value").and_then(Value::as_str))
    })
    .unwrap_or_default()
    .to_owned()
}

/// A submission refused: the modal stays open with `message` under input `block`.
fn field_error(block: &str, message: &str) -> Response {
    json_reply(&json!({
        "response_action": "errors",
        "errors": { block: clip(message, 300) },
    }))
}

/// A modal submitted: the approval (with its TOTP code, bound to the digest the message
/// showed), the denial (with its reason), or a new request.
async fn on_submission(
    s: &AppState,
    slack: &SlackApp,
    origin: &ChatOrigin,
    payload: &Value,
) -> Result<Response, Response> {
    let callback = payload
        .pointer("/view/callback_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (what, block) = match callback {
        APPROVE_VIEW => ("approve", CODE_INPUT.0),
        DENY_VIEW => ("deny", REASON_INPUT.0),
        REQUEST_VIEW => ("request", "playbook"),
        _ => return Ok(StatusCode::OK.into_response()),
    };
    let metadata = payload
        .pointer("/view/private_metadata")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = if what == "request" {
        None
    } else {
        match blocks::parse_metadata(metadata) {
            Ok(t) => Some(t),
            Err(e) => {
                audit_refusal(s, origin, None, what, None, &e).await?;
                return Ok(field_error(block, &e));
            }
        }
    };
    let request_id = target.as_ref().map(|(id, _)| id.clone());
    let principal = match s.auth.chat_principal(origin).await {
        Ok(p) => p,
        Err(e) => {
            let reason = AppError::from(e).message;
            audit_refusal(s, origin, None, what, request_id.as_ref(), &reason).await?;
            return Ok(field_error(block, &reason));
        }
    };
    let caller = principal.caller();
    let result: Result<Response, AppError> = match (what, target) {
        ("approve", Some((id, digest))) => {
            let code = input(payload, CODE_INPUT);
            crate::app::step_up::approve(
                s,
                &principal,
                &id,
                Approving::Request,
                &digest.to_hex(),
                Answer::Totp(code.trim()),
                "approved in Slack".to_owned(),
            )
            .await
            .map(|_| json_reply(&json!({ "response_action": "clear" })))
        }
        ("deny", Some((id, _))) => {
            let reason = input(payload, REASON_INPUT);
            if reason.trim().is_empty() {
                Err(AppError::bad_request("say why the request is denied"))
            } else {
                s.app
                    .deny(&caller, &id, reason.trim())
                    .await
                    .map(|_| json_reply(&json!({ "response_action": "clear" })))
                    .map_err(AppError::from)
            }
        }
        _ => submit(s, slack, &caller, payload).await,
    };
    match result {
        Ok(r) => Ok(r),
        Err(e) => {
            audit_refusal(
                s,
                origin,
                Some(&principal),
                what,
                request_id.as_ref(),
                &e.message,
            )
            .await?;
            Ok(field_error(block, &e.message))
        }
    }
}

/// `/breakglass request`'s modal submitted: the same request the API would make.
async fn submit(
    s: &AppState,
    slack: &SlackApp,
    caller: &Caller,
    payload: &Value,
) -> Result<Response, AppError> {
    let field = |name: &str| input(payload, (name, name));
    let (playbook, role, account, incident, justification) = (
        field("playbook"),
        field("role"),
        field("account"),
        field("incident"),
        field("justification"),
    );
    let duration_text = field("duration");
    let duration = breakglass_config::parse_duration(duration_text.trim())
        .map_err(|e| AppError::bad_request(format!("duration `{}`: {e}", duration_text.trim())))?;
    let ask = Ask {
        playbook: playbook.trim(),
        role: role.trim(),
        account: account.trim(),
        duration,
        incident: incident.trim(),
        justification: justification.trim(),
    };
    let outcome = s.app.submit(caller, &ask).await?;
    let id = &outcome.request.id;
    Ok(json_reply(&json!({
        "response_action": "update",
        "view": notice_view(
            "Request submitted",
            &format!(
                "Request {id} is waiting for approval; its approvers were told. Follow it at {}",
                blocks::request_url(&slack.console_url, id)
            ),
        ),
    })))
}

/// `POST /slack/commands`: `/breakglass link`, `request`, `status`, `help`.
async fn commands(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    let Some(slack) = s.slack.clone() else {
        return refused_status(StatusCode::NOT_FOUND, "the Slack app is not configured");
    };
    if let Err(r) = admit(&s, &slack, &headers, &body).await {
        return r;
    }
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return refused_status(StatusCode::BAD_REQUEST, "the body is not a form");
    };
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let origin = ChatOrigin {
        platform: ChatPlatform::Slack,
        team: clip(get("team_id"), 64),
        user: clip(get("user_id"), 64),
    };
    let text = get("text").trim().to_owned();
    let sub = text.split_whitespace().next().unwrap_or("help");
    let result = command(&s, &slack, &origin, sub, get("trigger_id")).await;
    result.unwrap_or_else(|r| r)
}

async fn command(
    s: &AppState,
    slack: &SlackApp,
    origin: &ChatOrigin,
    sub: &str,
    trigger: &str,
) -> Result<Response, Response> {
    if !same_team(slack, origin, "") {
        audit_refusal(s, origin, None, sub, None, "another Slack workspace").await?;
        return Ok(ephemeral("This Slack workspace is not the broker's."));
    }
    if sub == "link" {
        let code = s
            .auth
            .chat_link_code(origin)
            .await
            .map_err(|e| AppError::from(e).into_response())?;
        return Ok(ephemeral(&format!(
            "To link this Slack account to your breakglass account, open <{}/console/chat/link/{code}|this link> within 10 minutes, signed in to breakglass, and confirm. Only you should open it.",
            slack.console_url
        )));
    }
    if !matches!(sub, "request" | "status") {
        return Ok(ephemeral(
            "`/breakglass link`: link this Slack account to your breakglass account (once).\n`/breakglass request`: ask for access.\n`/breakglass status`: your requests and grants.\nApprovals come as messages with Approve and Deny buttons.",
        ));
    }
    let principal = match s.auth.chat_principal(origin).await {
        Ok(p) => p,
        Err(e) => {
            let reason = AppError::from(e).message;
            audit_refusal(s, origin, None, sub, None, &reason).await?;
            return Ok(ephemeral(&reason));
        }
    };
    let caller = principal.caller();
    if sub == "request" {
        let offers: Vec<(String, String)> = s
            .app
            .playbooks(&caller)
            .into_iter()
            .filter(|o| o.targets.iter().any(|t| t.request.is_some()))
            .map(|o| (o.playbook.id.to_string(), o.playbook.title.clone()))
            .collect();
        if offers.is_empty() {
            return Ok(ephemeral("No playbook lets you request access."));
        }
        if let Err(e) = slack
            .api
            .open_view(trigger, &blocks::request_modal(&offers))
            .await
        {
            tracing::warn!(error = %e, "could not open the Slack request modal");
            return Ok(ephemeral("Slack did not open the form; try again."));
        }
        return Ok(StatusCode::OK.into_response());
    }
    let filter = RequestFilter {
        requester: Some(caller.username.clone()),
        limit: Some(10),
        ..RequestFilter::default()
    };
    let requests = s
        .app
        .requests(&caller, &filter)
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    if requests.is_empty() {
        return Ok(ephemeral(
            "You have no requests. `/breakglass request` asks for access.",
        ));
    }
    let mut lines = vec!["Your latest requests:".to_owned()];
    for v in &requests {
        let r = &v.value;
        let mut line = format!(
            "• <{}|{}> {} `{}` in `{}`: {}",
            blocks::request_url(&slack.console_url, &r.id),
            r.id,
            r.status.name(),
            r.spec.role,
            r.spec.account,
            blocks::escape(&clip(&r.spec.justification, 100))
        );
        if let (Some(g), Status::Active) = (&r.grant, &r.status) {
            line.push_str(&format!(
                "\n    grant `{}` until {}; credentials are never posted here: `credential_process = breakglass creds --grant {}`",
                g.id,
                g.end,
                g.id
            ));
        }
        lines.push(line);
    }
    Ok(ephemeral(&lines.join("\n")))
}

//! The responder's and approver's pages: dashboard, requesting access, a request with its
//! actions (approve, deny, cancel, activate, credentials, AWS console, revoke), pending
//! approvals, active sessions and break-glass activation.
//!
//! Every action calls the same service the JSON API calls (`api::ops`, the broker, the
//! access service); a refusal re-renders the page it came from with the reason.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use breakglass_core::cloud::Cloud;
use breakglass_core::model::{Catalog, RequestId, Username};
use breakglass_core::ports::Versioned;
use breakglass_core::request::{AccessRequest, RequestKind, Review, Status};
use breakglass_core::rules::{Action, Decision};
use breakglass_core::session::RequestFilter;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::layout::{self, Viewer, csrf_field};
use super::session::{Posted, Session};
use super::{Failure, OrPage, St};
use crate::api::ops::{self, id};
use crate::api::{AppError, AppState};

fn now<K: Cloud>(s: &AppState<K>) -> OffsetDateTime {
    s.access.broker().clock().now()
}

fn request_link(r: &AccessRequest) -> Markup {
    html! { a href={ "/console/requests/" (r.id) } { (r.id) } }
}

/// The rows of a table of requests.
fn request_rows(list: &[Versioned<AccessRequest>]) -> Markup {
    html! {
        @for v in list {
            @let r = &v.value;
            tr data-request=(r.id) {
                td { (request_link(r)) }
                td { (layout::status(r.status.name())) }
                td { (r.spec.playbook) @if r.kind == RequestKind::BreakGlass { " " span.badge-danger { "break-glass" } } }
                td { (r.spec.role) }
                td { (r.spec.account) }
                td { (r.spec.incident) }
                td { (layout::time(r.created_at)) }
            }
        }
    }
}

const REQUEST_HEAD: [&str; 7] = [
    "Request", "Status", "Playbook", "Role", "Account", "Incident", "Created",
];

fn time_left(end: OffsetDateTime, now: OffsetDateTime) -> Markup {
    html! {
        span id="time-left" data-end=(layout::rfc3339(end)) { (layout::duration(end - now)) }
    }
}

/// `GET /console`: my requests and my active grants.
pub async fn dashboard<K: Cloud + 'static>(
    State(s): St<K>,
    session: Session,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let filter = RequestFilter {
        requester: Some(session.principal.username.clone()),
        limit: Some(100),
        ..RequestFilter::default()
    };
    let mine = ops::requests(&s, &filter).await.or_page(&v)?;
    let now = now(&s);
    let grants: Vec<&AccessRequest> = mine
        .iter()
        .map(|r| &r.value)
        .filter(|r| r.status == Status::Active)
        .collect();
    let grant_rows = html! {
        @for r in &grants {
            @if let Some(g) = &r.grant {
                tr {
                    td { a href={ "/console/requests/" (r.id) } { (g.id) } }
                    td { (r.spec.role) }
                    td { (r.spec.account) }
                    td { (layout::time(g.end)) }
                    td { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                }
            }
        }
    };
    let body = html! {
        p.actions {
            a.button href="/console/requests/new" { "Request access" }
            " "
            a.button.secondary href="/console/approvals" { "Pending approvals" }
        }
        h2 { "My active grants" }
        (layout::table("my-grants", "Grants you hold now", &["Grant", "Role", "Account", "Ends", "Time left"],
            grant_rows, grants.is_empty().then_some("No active grants.")))
        h2 { "My requests" }
        (layout::table("my-requests", "Your requests, newest first", &REQUEST_HEAD,
            request_rows(&mine), mine.is_empty().then_some("No requests yet.")))
    };
    Ok(layout::ok("Dashboard", &v, body))
}

/// What the request form holds (kept on a refusal so nothing is typed twice).
#[derive(Debug, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    incident_id: String,
    #[serde(default)]
    playbook: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    justification: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    acknowledge: Option<String>,
}

impl RequestForm {
    fn duration(&self) -> Result<Duration, AppError> {
        let text = self.duration_minutes.trim();
        match text.parse::<i64>() {
            Ok(m) if (1..=24 * 60).contains(&m) => Ok(Duration::minutes(m)),
            _ => Err(AppError::bad_request(format!(
                "the duration `{text}` is not a whole number of minutes between 1 and 1440"
            ))),
        }
    }

    fn ask(&self) -> Result<ops::Ask<'_>, AppError> {
        Ok(ops::Ask {
            playbook: self.playbook.trim(),
            role: self.role.trim(),
            account: self.account.trim(),
            duration: self.duration()?,
            incident: self.incident_id.trim(),
            justification: self.justification.trim(),
        })
    }
}

fn options(values: &[(String, String)], selected: &str) -> Markup {
    html! {
        @for (value, label) in values {
            option value=(value) selected[value == selected] { (label) }
        }
    }
}

/// The playbook, role and account choices of the catalog (break-glass playbooks only when
/// `break_glass`).
fn choices(c: &Catalog, break_glass: bool) -> [Vec<(String, String)>; 3] {
    let playbooks: Vec<_> = c
        .playbooks
        .iter()
        .filter(|p| !break_glass || p.break_glass)
        .collect();
    let mut roles: Vec<(String, String)> = Vec::new();
    for p in &playbooks {
        for r in &p.roles {
            let r = r.to_string();
            if !roles.iter().any(|(v, _)| *v == r) {
                roles.push((r.clone(), r));
            }
        }
    }
    let accounts = c
        .accounts
        .iter()
        .map(|a| (a.id.to_string(), format!("{} ({})", a.name, a.id)))
        .collect();
    let playbooks = playbooks
        .iter()
        .map(|p| {
            let max = layout::duration(p.max_duration);
            (
                p.id.to_string(),
                format!("{} — {} (up to {max})", p.id, p.title),
            )
        })
        .collect();
    [playbooks, roles, accounts]
}

fn request_fields(c: &Catalog, f: &RequestForm, break_glass: bool) -> Markup {
    let [playbooks, roles, accounts] = choices(c, break_glass);
    let first = |list: &[(String, String)], chosen: &str| {
        if chosen.is_empty() {
            list.first().map(|(v, _)| v.clone()).unwrap_or_default()
        } else {
            chosen.to_owned()
        }
    };
    let playbook = first(&playbooks, &f.playbook);
    let role = first(&roles, &f.role);
    let account = first(&accounts, &f.account);
    let minutes = if f.duration_minutes.is_empty() {
        "60"
    } else {
        f.duration_minutes.as_str()
    };
    html! {
        label for="incident_id" { "Incident id" }
        input #incident_id type="text" name="incident_id" value=(f.incident_id)
            required placeholder="INC-2024-001" autocapitalize="characters";
        label for="playbook" { "Playbook" }
        select #playbook name="playbook" required { (options(&playbooks, &playbook)) }
        label for="role" { "Role" }
        select #role name="role" required { (options(&roles, &role)) }
        label for="account" { "Account" }
        select #account name="account" required { (options(&accounts, &account)) }
        label for="duration_minutes" { "Duration (minutes)" }
        input #duration_minutes type="number" name="duration_minutes" min="1" max="1440"
            value=(minutes) required inputmode="numeric";
        label for="justification" { "Justification" }
        textarea #justification name="justification" rows="3" required { (f.justification) }
    }
}

fn new_request_page<K: Cloud>(
    s: &AppState<K>,
    v: &Viewer,
    f: &RequestForm,
    error: Option<&AppError>,
) -> Response {
    let rules = s.access.broker().rules();
    let body = html! {
        @if let Some(e) = error { (layout::alert(&e.message)) }
        p { "Ask for a role for an incident. Approvers are notified at once; you activate the grant once it is approved." }
        form.stack method="post" action="/console/requests" {
            (csrf_field(&v.csrf))
            (request_fields(rules.catalog(), f, false))
            button type="submit" { "Submit request" }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    layout::respond(status, layout::page("Request access", Some(v), body))
}

/// `GET /console/requests/new`.
pub async fn new_request<K: Cloud + 'static>(State(s): St<K>, session: Session) -> Response {
    new_request_page(&s, &session.viewer(), &RequestForm::default(), None)
}

/// `POST /console/requests`: submits, then 303 to the request.
pub async fn create_request<K: Cloud + 'static>(
    State(s): St<K>,
    Posted { session, form }: Posted<RequestForm>,
) -> Response {
    let v = session.viewer();
    let result = async {
        let new = ops::new_request(&session.principal, &form.ask()?)?;
        Ok::<_, AppError>(s.access.broker().submit(new).await?)
    }
    .await;
    match result {
        Ok(o) => layout::redirect(&format!("/console/requests/{}", o.request.id)),
        Err(e) => new_request_page(&s, &v, &form, Some(&e)),
    }
}

fn decision(d: &Decision) -> Markup {
    html! {
        @if d.allowed {
            "allowed by "
        } @else {
            "not allowed"
            @if !d.policies.is_empty() { " — denied by " }
        }
        @for (i, p) in d.policies.iter().enumerate() {
            @if i > 0 { ", " }
            code { (p.id) }
            @if let Some(desc) = &p.description { " (" (desc) ")" }
        }
        @if !d.allowed && d.policies.is_empty() { " (no policy permits it)" }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect(),
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    }
}

/// What the session policy permits and denies, one row per statement.
fn policy_summary(text: &str) -> Markup {
    let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let rows = html! {
        @for st in &statements {
            @let effect = st.get("Effect").and_then(Value::as_str).unwrap_or("?");
            tr class={ "effect-" (effect.to_ascii_lowercase()) } {
                td { (effect) }
                td {
                    @if st.get("NotAction").is_some() { "everything except " }
                    @for a in strings(st.get("Action").or_else(|| st.get("NotAction"))) { code { (a) } " " }
                }
                td {
                    @if st.get("NotResource").is_some() { "everything except " }
                    @for r in strings(st.get("Resource").or_else(|| st.get("NotResource"))) { code { (r) } " " }
                }
                td {
                    @if let Some(Value::Object(c)) = st.get("Condition") {
                        @for (op, kv) in c {
                            @if let Value::Object(kv) = kv {
                                @for (k, val) in kv {
                                    code { (op) " " (k) " " (strings(Some(val)).join(", ")) } br;
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        (layout::table("session-policy", "What the session policy permits (Allow) and forbids (Deny)",
            &["Effect", "Actions", "Resources", "Conditions"], rows,
            statements.is_empty().then_some("The session policy has no statements.")))
        details {
            summary { "Session policy JSON" }
            pre { code { (text) } }
        }
    }
}

fn may(
    r: &AccessRequest,
    rules: &breakglass_core::rules::Rules,
    who: &Username,
    a: Action,
) -> Decision {
    r.decision_for(rules, who, a)
}

/// Renders request `rid` for the session, with `error` (status and message) when an action
/// on it was refused.
async fn request_page<K: Cloud>(
    s: &AppState<K>,
    session: &Session,
    headers: &HeaderMap,
    rid: &str,
    error: Option<AppError>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let me = &session.principal.username;
    let rid = id("request id", rid, RequestId::new).or_page(&v)?;
    let current = s.access.broker().get(&rid).await.or_page(&v)?;
    let r = &current.value;
    let rules = s.access.broker().rules();
    let catalog = rules.catalog();
    let now = now(s);
    let playbook = catalog.playbook(&r.spec.playbook);
    let requester = me == &r.spec.requester;
    let status = r.status.name();
    let approvers = r.current_approvers();
    let approve = may(r, &rules, me, Action::Approve);
    let can_revoke =
        requester || session.principal.admin || may(r, &rules, me, Action::Revoke).allowed;
    let body = html! {
        @if let Some(e) = &error { (layout::alert(&e.message)) }
        p.status-line {
            "Status: "
            span id="request-status" class={ "status status-" (status) } data-request=(r.id) { (status) }
            @if r.kind == RequestKind::BreakGlass { " " span.badge-danger { "break-glass" } }
            " · "
            a #refresh href={ "/console/requests/" (r.id) } { "Refresh" }
        }
        dl.facts {
            dt { "Who" } dd { (r.spec.requester)
                @if let Some(p) = catalog.responder(&r.spec.requester) { " (" (p.name) ")" } }
            dt { "What" } dd { "role " code { (r.spec.role) } " in account " (r.spec.account)
                " for " (layout::duration(r.spec.duration)) br; code.arn { (r.spec.role_arn) } }
            dt { "Why" } dd { "incident " (r.spec.incident) ": " span.justification { (r.spec.justification) } }
            dt { "Playbook" } dd { (r.spec.playbook)
                @if let Some(p) = playbook { " — " (p.title) } }
            dt { "Submitted" } dd { (layout::time(r.created_at)) }
            @if r.status == Status::Pending {
                dt { "Waits until" } dd { (layout::time(r.pending_until)) }
            }
            @if let Status::Approved { activate_by, .. } = &r.status {
                dt { "Activate by" } dd { (layout::time(*activate_by)) }
            }
            @match &r.status {
                Status::Revoked { by, reason, at } | Status::Denied { by, reason, at } | Status::Cancelled { by, reason, at } => {
                    dt { "Decided" } dd { "by " (by) " at " (layout::time(*at)) @if !reason.is_empty() { ": " (reason) } }
                }
                _ => {}
            }
            dt { "Approvals" } dd {
                (approvers.len()) " of " (r.required_approvals) " needed"
                @if !r.approver_groups.is_empty() {
                    " (from " (r.approver_groups.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) ")"
                }
            }
        }
        h2 { "Deciding policy" }
        ul.decisions {
            @if r.kind == RequestKind::Standard {
                li { "Requesting: " (decision(&may(r, &rules, &r.spec.requester, Action::Request))) }
            } @else {
                li { "Emergency activation (break-glass) without approvers; a post-incident review is required." }
            }
            @for a in r.approvals.iter().filter(|a| a.digest == r.digest) {
                li { "Approved by " (a.approver) " at " (layout::time(a.at)) ": " (decision(&a.decision))
                    @if !a.comment.is_empty() { " — “" (a.comment) "”" } }
            }
            @if r.status == Status::Pending && !requester {
                li { "You: " (decision(&approve)) }
            }
        }
        h2 { "Session policy" }
        (policy_summary(&r.spec.session_policy))
        (actions(r, session, headers, s, requester, &approve, can_revoke, now))
    };
    let code = error.as_ref().map_or(StatusCode::OK, |e| {
        if e.status.is_success() {
            StatusCode::OK
        } else {
            e.status
        }
    });
    let title = format!("Request {}", r.id);
    let mut resp = layout::respond(code, layout::page(&title, Some(&v), body));
    if let Ok(h) = axum::http::HeaderValue::from_str(status) {
        resp.headers_mut().insert("x-request-status", h);
    }
    Ok(resp)
}

#[expect(clippy::too_many_arguments, reason = "the page's facts, passed once")]
fn actions<K: Cloud>(
    r: &AccessRequest,
    session: &Session,
    headers: &HeaderMap,
    s: &AppState<K>,
    requester: bool,
    approve: &Decision,
    can_revoke: bool,
    now: OffsetDateTime,
) -> Markup {
    let csrf = &session.csrf;
    let base = format!("/console/requests/{}", r.id);
    html! {
        @if r.status == Status::Pending && !requester && approve.allowed {
            h2 { "Decide" }
            form #approve-form .stack method="post" action={ (base) "/approve" } {
                (csrf_field(csrf))
                input type="hidden" name="digest" value=(r.digest.to_hex());
                label for="approve-totp" { "TOTP code" }
                input #approve-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                    maxlength="6" autocomplete="one-time-code" required;
                label for="approve-comment" { "Comment (optional)" }
                input #approve-comment type="text" name="comment";
                button type="submit" { "Approve" }
            }
            form #deny-form .stack method="post" action={ (base) "/deny" } {
                (csrf_field(csrf))
                label for="deny-reason" { "Reason for denying" }
                input #deny-reason type="text" name="reason";
                button.danger type="submit" { "Deny" }
            }
        }
        @if r.status == Status::Pending && requester {
            form #cancel-form .stack method="post" action={ (base) "/cancel" } {
                (csrf_field(csrf))
                label for="cancel-reason" { "Reason for withdrawing (optional)" }
                input #cancel-reason type="text" name="reason";
                button.secondary type="submit" { "Withdraw request" }
            }
        }
        @if matches!(r.status, Status::Approved { .. }) && requester {
            form #activate-form method="post" action={ (base) "/activate" } {
                (csrf_field(csrf))
                button type="submit" { "Activate" }
            }
        }
        @if r.status == Status::Active {
            @if let Some(g) = &r.grant {
                h2 { "Grant " (g.id) }
                p { "Time left: " (time_left(g.end, now)) " (until " (layout::time(g.end)) ")" }
                @if requester {
                    p { "Add this to a profile in " code { "~/.aws/config" } ":" }
                    div.copy-line {
                        code #credential-process {
                            "credential_process = breakglass creds --grant " (g.id) " --server " (s.console.server_url(headers))
                        }
                        button #copy-credential-process type="button" data-copy="credential-process" { "Copy" }
                    }
                    form #console-form method="post" action={ "/console/grants/" (g.id) "/console" } {
                        (csrf_field(csrf))
                        button type="submit" { "Open AWS console" }
                    }
                }
            }
        }
        @if matches!(r.status, Status::Active | Status::Approved { .. }) && can_revoke {
            form #revoke-form .stack method="post" action={ (base) "/revoke" } {
                (csrf_field(csrf))
                label for="revoke-reason" { "Reason for revoking" }
                input #revoke-reason type="text" name="reason" required;
                button.danger type="submit" { "Revoke" }
            }
        }
        @if matches!(r.review, Some(Review::Required)) && !requester {
            p { "This break-glass use needs its post-incident review: " a href="/console/reviews" { "complete it" } "." }
        }
        @if let Some(Review::Completed { reviewer, at, outcome, notes }) = &r.review {
            p { "Reviewed by " (reviewer) " at " (layout::time(*at)) ": " (format!("{outcome:?}").to_lowercase())
                @if !notes.is_empty() { " — " (notes) } }
        }
    }
}

/// `GET /console/requests/{id}`.
pub async fn request<K: Cloud + 'static>(
    State(s): St<K>,
    session: Session,
    headers: HeaderMap,
    Path(rid): Path<String>,
) -> Result<Response, Failure> {
    request_page(&s, &session, &headers, &rid, None).await
}

/// After an action: 303 back to the request, or the request page with the refusal.
async fn after<K: Cloud>(
    s: &AppState<K>,
    session: &Session,
    headers: &HeaderMap,
    rid: &str,
    result: Result<(), AppError>,
) -> Result<Response, Failure> {
    match result {
        Ok(()) => Ok(layout::redirect(&format!("/console/requests/{rid}"))),
        Err(e) => request_page(s, session, headers, rid, Some(e)).await,
    }
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    digest: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    comment: String,
}

/// `POST /console/requests/{id}/approve`: TOTP step-up, bound to the digest shown.
pub async fn approve<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ApproveForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id = id("request id", &rid, RequestId::new)?;
        let digest = breakglass_core::canonical::Sha256Digest::from_hex(&form.digest)
            .map_err(|e| AppError::bad_request(format!("invalid digest: {e}")))?;
        ops::approve(
            &s,
            &session.principal,
            &id,
            digest,
            &form.totp,
            form.comment.clone(),
        )
        .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result).await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /console/requests/{id}/deny`.
pub async fn deny<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id = id("request id", &rid, RequestId::new)?;
        s.access
            .broker()
            .deny(&id, session.principal.username.clone(), form.reason.trim())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result).await
}

/// `POST /console/requests/{id}/cancel`.
pub async fn cancel<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id = id("request id", &rid, RequestId::new)?;
        s.access
            .broker()
            .cancel(&id, session.principal.username.clone(), form.reason.trim())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result).await
}

#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /console/requests/{id}/activate`.
pub async fn activate<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, .. }: Posted<NoFields>,
) -> Result<Response, Failure> {
    let result = async {
        let id = id("request id", &rid, RequestId::new)?;
        s.access
            .broker()
            .activate(&id, session.principal.username.clone())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result).await
}

/// `POST /console/requests/{id}/revoke`: commits the revocation, then cuts the live
/// sessions off (the access service's order).
pub async fn revoke<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id = id("request id", &rid, RequestId::new)?;
        s.access
            .revoke(&id, session.principal.username.clone(), form.reason.trim())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result).await
}

/// `POST /console/grants/{id}/console`: a console sign-in URL for the requester's grant.
///
/// The answer is a page with the link (and a meta refresh to it) rather than a 303: a
/// redirect to another origin after a form post is blocked by Chromium under the CSP's
/// `form-action 'self'`, while following a link is not. The URL holds a sign-in token, so
/// it is rendered once, on this response, and never stored.
pub async fn aws_console<K: Cloud + 'static>(
    State(s): St<K>,
    headers: HeaderMap,
    Path(gid): Path<String>,
    Posted { session, .. }: Posted<NoFields>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let rid = ops::grant_request(&s, &gid).await.or_page(&v)?;
    match s
        .access
        .console_url(
            &rid,
            &session.principal.username,
            "https://console.aws.amazon.com/",
        )
        .await
    {
        Ok(url) => {
            let url = url.expose();
            let refresh = format!("0;url={url}");
            let head = html! { meta http-equiv="refresh" content=(refresh); };
            let body = html! {
                p { "Signing you in to the AWS console for grant " (gid) "…" }
                p { a #aws-console-link href=(url) rel="noreferrer noopener" { "Continue to the AWS console" } }
                p { a href={ "/console/requests/" (rid) } { "Back to the request" } }
            };
            Ok(layout::respond(
                StatusCode::OK,
                layout::page_with_head("Open AWS console", Some(&v), head, body),
            ))
        }
        Err(e) => request_page(&s, &session, &headers, rid.as_str(), Some(e.into())).await,
    }
}

/// The pending requests `me` may decide on.
async fn pending_for<K: Cloud>(
    s: &AppState<K>,
    me: &Username,
) -> Result<Vec<(Versioned<AccessRequest>, Decision)>, AppError> {
    let filter = RequestFilter {
        statuses: vec!["pending".to_owned()],
        limit: Some(500),
        ..RequestFilter::default()
    };
    let rules = s.access.broker().rules();
    Ok(ops::requests(s, &filter)
        .await?
        .into_iter()
        .filter(|r| &r.value.spec.requester != me)
        .filter_map(|r| {
            let d = may(&r.value, &rules, me, Action::Approve);
            d.allowed.then_some((r, d))
        })
        .collect())
}

/// `GET /console/approvals`: what waits for me, live-updated.
pub async fn approvals<K: Cloud + 'static>(
    State(s): St<K>,
    session: Session,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let list = pending_for(&s, &session.principal.username)
        .await
        .or_page(&v)?;
    let rows = html! {
        @for (r, d) in &list {
            @let r = &r.value;
            tr data-request=(r.id) {
                td { (request_link(r)) }
                td { (r.spec.requester) }
                td { code { (r.spec.role) } " in " (r.spec.account) " for " (layout::duration(r.spec.duration)) br;
                     "playbook " (r.spec.playbook) }
                td { "incident " (r.spec.incident) ": " (r.spec.justification) }
                td { (decision(d)) }
                td { (r.current_approvers().len()) " of " (r.required_approvals) }
                td { a.button href={ "/console/requests/" (r.id) } { "Review" } }
            }
        }
    };
    let body = html! {
        p.live-note { "This list updates itself when requests change. " a href="/console/approvals" { "Refresh" } }
        (layout::table("pending-approvals", "Pending requests you may approve",
            &["Request", "Who", "What", "Why", "Policy", "Approvals", ""], rows,
            list.is_empty().then_some("Nothing waits for your approval.")))
    };
    Ok(layout::ok("Pending approvals", &v, body))
}

/// `GET /console/sessions`: active grants with revoke buttons (admins see every grant).
pub async fn sessions<K: Cloud + 'static>(
    State(s): St<K>,
    session: Session,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let filter = RequestFilter {
        statuses: vec!["active".to_owned()],
        requester: (!session.principal.admin).then(|| session.principal.username.clone()),
        limit: Some(500),
        ..RequestFilter::default()
    };
    let list = ops::requests(&s, &filter).await.or_page(&v)?;
    let now = now(&s);
    let rows = html! {
        @for r in &list {
            @let r = &r.value;
            @if let Some(g) = &r.grant {
                tr data-request=(r.id) {
                    td { a href={ "/console/requests/" (r.id) } { (g.id) } }
                    td { (r.spec.requester) }
                    td { code { (r.spec.role) } " in " (r.spec.account) }
                    td { (r.spec.incident) }
                    td { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                    td {
                        form.inline method="post" action={ "/console/requests/" (r.id) "/revoke" } {
                            (csrf_field(&v.csrf))
                            label.visually-hidden for={ "reason-" (g.id) } { "Reason for revoking " (g.id) }
                            input id={ "reason-" (g.id) } type="text" name="reason" placeholder="reason" required;
                            button.danger type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
    };
    let caption = if session.principal.admin {
        "Every active grant"
    } else {
        "Your active grants"
    };
    let body = html! {
        (layout::table("active-sessions", caption, &["Grant", "Holder", "Role", "Incident", "Time left", "Revoke"],
            rows, list.is_empty().then_some("No active grants.")))
    };
    Ok(layout::ok("Active sessions", &v, body))
}

fn break_glass_page<K: Cloud>(
    s: &AppState<K>,
    v: &Viewer,
    f: &RequestForm,
    error: Option<&AppError>,
) -> Response {
    let rules = s.access.broker().rules();
    let body = html! {
        div #break-glass-warning .warning role="alert" {
            strong { "Emergency access." }
            " Break-glass activation grants access at once, without approvers. It pages the whole security team on every channel, is recorded in the audit log, and requires a post-incident review. Use it only when waiting for approval would cause harm."
        }
        @if let Some(e) = error { (layout::alert(&e.message)) }
        form.stack method="post" action="/console/break-glass" {
            (csrf_field(&v.csrf))
            (request_fields(rules.catalog(), f, true))
            div.check {
                input #acknowledge type="checkbox" name="acknowledge" value="yes" required;
                label for="acknowledge" { "I understand that activation pages the security team and requires a post-incident review." }
            }
            label for="totp" { "TOTP code (step-up)" }
            input #totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                maxlength="6" autocomplete="one-time-code" required;
            button.danger type="submit" { "Activate break-glass" }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    layout::respond(status, layout::page("Break-glass access", Some(v), body))
}

/// `GET /console/break-glass`.
pub async fn break_glass_form<K: Cloud + 'static>(State(s): St<K>, session: Session) -> Response {
    break_glass_page(&s, &session.viewer(), &RequestForm::default(), None)
}

/// `POST /console/break-glass`: acknowledgement, TOTP step-up, then immediate activation.
pub async fn break_glass<K: Cloud + 'static>(
    State(s): St<K>,
    Posted { session, form }: Posted<RequestForm>,
) -> Response {
    let v = session.viewer();
    let result = async {
        if form.acknowledge.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::bad_request(
                "tick the box to confirm that you understand activation pages the security team",
            ));
        }
        let new = ops::new_request(&session.principal, &form.ask()?)?;
        ops::break_glass(&s, &session.principal, new, &form.totp).await
    }
    .await;
    match result {
        Ok(o) => layout::redirect(&format!("/console/requests/{}", o.request.id)),
        Err(e) => break_glass_page(&s, &v, &form, Some(&e)),
    }
}

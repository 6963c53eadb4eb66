//! One request: first its state and what it asks of the viewer now (approve, activate,
//! the time left and how to use the grant, an extension to decide), then who, what, why,
//! the other actions (deny, withdraw, ask for more time, revoke), the deciding policy and
//! what the session policy permits.
//!
//! Every action calls the service the JSON API calls; a success redirects back with a
//! `done` code the page confirms in a banner (post/redirect/get), a refusal re-renders
//! the request with the reason.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use breakglass_core::app::Approving;
use breakglass_core::model::{GrantId, RequestId, Username};
use breakglass_core::request::{AccessRequest, RequestKind, Review, Status};
use breakglass_core::rules::{Action, Decision};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::activity::ActivityFilter;
use super::layout::{self, csrf_field};
use super::lists::{decision, may, now};
use super::passkeys;
use super::signin::{NoFields, Posted, Session};
use super::{Failure, OrPage, St};
use crate::app::extract::parse_id;
use crate::app::step_up;
use crate::app::{AppError, AppState};

fn time_left(end: OffsetDateTime, now: OffsetDateTime) -> Markup {
    html! {
        span id="time-left" data-end=(layout::rfc3339(end)) { (layout::duration(end - now)) }
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
                td data-label="Effect" { (effect) }
                td data-label="Actions" {
                    @if st.get("NotAction").is_some() { "everything except " }
                    @for a in strings(st.get("Action").or_else(|| st.get("NotAction"))) { code { (a) } " " }
                }
                td data-label="Resources" {
                    @if st.get("NotResource").is_some() { "everything except " }
                    @for r in strings(st.get("Resource").or_else(|| st.get("NotResource"))) { code { (r) } " " }
                }
                td data-label="Conditions" {
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

/// The confirmation banner for a `done` code that an action's redirect carries: a fixed
/// vocabulary (nothing the browser sends is echoed), so the URL holds no secret and a
/// forged code shows at most another fixed sentence.
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "submitted" => "Request submitted: the approvers have been notified.",
        "approved" => "You approved this request.",
        "denied" => "You denied this request.",
        "cancelled" => "You withdrew this request.",
        "activated" => "Grant activated: your access has started.",
        "revoked" => "You revoked this grant: its sessions are cut off.",
        "break-glass" => "Break-glass access activated: the security team has been paged.",
        "extension-requested" => "Extension asked for: the approvers have been notified.",
        "extension-approved" => "You approved the extension.",
        "extension-denied" => "You turned the extension down.",
        "reviewed" => "Post-incident review completed.",
        _ => return None,
    })
}

/// Whether request `r` bears out the `done` code's sentence for viewer `me`, so a link
/// carrying a code (a forged "You revoked this grant" on a live grant) shows nothing
/// untrue: each claim is checked against the request as stored.
fn done_holds(done: &str, r: &AccessRequest, me: &Username) -> bool {
    let mine = &r.spec.requester == me;
    let grant = r.grant.as_ref();
    match done {
        "submitted" => mine,
        "approved" => r.approvals.iter().any(|a| &a.approver == me),
        "denied" => matches!(&r.status, Status::Denied { by, .. } if by == me),
        "cancelled" => matches!(&r.status, Status::Cancelled { by, .. } if by == me),
        "revoked" => matches!(&r.status, Status::Revoked { by, .. } if by == me),
        "activated" => mine && r.status == Status::Active,
        "break-glass" => mine && r.kind == RequestKind::BreakGlass && grant.is_some(),
        "extension-requested" => mine && grant.is_some_and(|g| g.pending_extension.is_some()),
        "extension-approved" => {
            grant.is_some_and(|g| g.extensions.iter().any(|e| e.approvers.contains(me)))
        }
        "extension-denied" => !mine && grant.is_some_and(|g| g.pending_extension.is_none()),
        "reviewed" => {
            matches!(&r.review, Some(Review::Completed { reviewer, .. }) if reviewer == me)
        }
        _ => false,
    }
}

/// The query of a request page: `done` names the action just completed.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// Who ended a request and when, as a sentence: "Revoked by bob at …: reason".
fn ended(r: &AccessRequest) -> Option<Markup> {
    let (verb, by, reason, at) = match &r.status {
        Status::Revoked { by, reason, at } => ("Revoked", by, reason, at),
        Status::Denied { by, reason, at } => ("Denied", by, reason, at),
        Status::Cancelled { by, reason, at } => ("Withdrawn", by, reason, at),
        _ => return None,
    };
    Some(html! {
        p #decided { strong { (verb) " by " (by) } " at " (layout::time(*at))
            @if !reason.is_empty() { ": " (layout::text(reason)) } }
    })
}

/// The approvals line: how many of how many, or for break-glass that none is needed.
fn approvals_label(r: &AccessRequest, approvers: usize) -> Markup {
    html! {
        @if r.kind == RequestKind::BreakGlass {
            "break-glass: no approval needed"
        } @else {
            (approvers) " of " (r.required_approvals) " needed"
            @if !r.approver_groups.is_empty() {
                " (from " (r.approver_groups.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) ")"
            }
        }
    }
}

/// Renders request `rid` for the session, with `error` (status and message) when an action
/// on it was refused, or the confirmation of the action `done` just completed.
async fn request_page(
    s: &AppState,
    session: &Session,
    headers: &HeaderMap,
    rid: &str,
    error: Option<AppError>,
    done: Option<&str>,
    filter: Option<&ActivityFilter>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let me = &session.principal.username;
    let rid: RequestId = parse_id(rid).or_page(&v)?;
    let current = s
        .app
        .request(&session.principal.caller(), &rid)
        .await
        .or_page(&v)?;
    let r = &current.value;
    let rules = s.app.rules();
    let catalog = rules.catalog();
    let now = now(s);
    let playbook = catalog.playbook(&r.spec.playbook);
    let requester = me == &r.spec.requester;
    let status = r.status.name();
    let approvers = r.current_approvers();
    let approve = may(r, &rules, me, Action::Approve);
    let can_revoke =
        requester || session.principal.admin || may(r, &rules, me, Action::Revoke).allowed;
    let view = View {
        r,
        session,
        headers,
        s,
        requester,
        approve: &approve,
        can_revoke,
        now,
    };
    let break_glass = r.kind == RequestKind::BreakGlass;
    // The grant's activity, once there is a grant (what CloudTrail showed it do).
    let activity = match &r.grant {
        Some(_) => Some(
            s.app
                .grant_activity(&session.principal.caller(), &rid)
                .await
                .or_page(&v)?,
        ),
        None => None,
    };
    // Computed from the request and activity read above, not read again.
    let least = activity
        .as_ref()
        .and_then(|a| s.app.least_privilege_of(r, a));
    let default_filter = ActivityFilter::default();
    let allows = super::permissions::section(s, &session.principal.caller(), &r.id).await;
    let body = html! {
        @if let Some(e) = &error { (layout::alert(&e.message)) }
        @if error.is_none() {
            @if let Some(m) = done.filter(|d| done_holds(d, r, me)).and_then(done_message) {
                (layout::flash(m))
            }
        }
        section #now .now.break-glass[break_glass] aria-label="Status and what to do now" {
            p.status-line {
                "Status: "
                span id="request-status" class={ "status status-" (status) } data-request=(r.id) { (status) }
                (layout::kind_badge(r.kind, &r.spec.incident))
                " · "
                a #refresh href={ "/console/requests/" (r.id) } { "Refresh" }
            }
            p.what { (r.spec.requester) ": " (super::lists::what(r, catalog)) }
            @if let Some(e) = ended(r) { (e) }
            (view.primary())
        }
        dl.facts {
            dt { "Who" } dd { (r.spec.requester)
                @if let Some(p) = catalog.responder(&r.spec.requester) { " (" (p.name) ")" } }
            dt { "What" } dd { "role " code { (r.spec.role) } " in account " (layout::account(catalog, &r.spec.account))
                " for " (layout::duration(r.spec.duration)) br; code.arn { (r.spec.role_arn) } }
            dt { "Why" } dd { "incident " (r.spec.incident) ": " span.justification { (layout::text(&r.spec.justification)) } }
            dt { "Playbook" } dd { (r.spec.playbook)
                @if let Some(p) = playbook { " — " (p.title) } }
            dt { "Submitted" } dd { (layout::time(r.created_at)) }
            @if r.status == Status::Pending {
                dt { "Waits until" } dd { (layout::time(r.pending_until)) }
            }
            @if let Status::Approved { activate_by, .. } = &r.status {
                dt { "Activate by" } dd { (layout::time(*activate_by)) }
            }
            dt { "Approvals" } dd #approvals { (approvals_label(r, approvers.len())) }
        }
        (view.secondary())
        h2 { "Deciding policy" }
        ul.decisions {
            @if r.kind == RequestKind::Standard {
                li { "Requesting: " (decision(&may(r, &rules, &r.spec.requester, Action::Request))) }
            } @else {
                li { "Emergency activation (break-glass) without approvers; a post-incident review is required." }
            }
            @for a in r.approvals.iter().filter(|a| a.digest == r.digest) {
                li { "Approved by " (a.approver) " at " (layout::time(a.at)) ": " (decision(&a.decision))
                    @if !a.comment.is_empty() { " — “" (layout::text(&a.comment)) "”" } }
            }
            @if r.status == Status::Pending && !requester {
                li { "You: " (decision(&approve)) }
            }
        }
        @if let Some(a) = &activity {
            (super::activity::timeline(r.id.as_str(), a, filter.unwrap_or(&default_filter),
                least.as_ref().map(|l| (l, r.spec.playbook.as_str()))))
        }
        h2 { "Session policy" @if r.spec.narrowed { " (narrowed by the requester)" } }
        (policy_summary(&r.spec.session_policy))
        (allows)
        @if matches!(r.review, Some(Review::Required)) && !requester {
            p { "This break-glass use needs its post-incident review: " a href="/console/reviews" { "complete it" } "." }
        }
        @if let Some(Review::Completed { reviewer, at, outcome, notes }) = &r.review {
            p #review-outcome { "Reviewed by " (reviewer) " at " (layout::time(*at)) ": " (format!("{outcome:?}").to_lowercase())
                @if !notes.is_empty() { " — " (layout::text(notes)) } }
        }
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

/// A request as one viewer sees it, for rendering its actions.
struct View<'a> {
    r: &'a AccessRequest,
    session: &'a Session,
    headers: &'a HeaderMap,
    s: &'a AppState,
    requester: bool,
    approve: &'a Decision,
    can_revoke: bool,
    now: OffsetDateTime,
}

impl View<'_> {
    /// The one thing the page asks of this viewer now, at its top: approve a pending
    /// request, activate an approved one, use an active grant (time left, credentials,
    /// console) or decide its extension.
    fn primary(&self) -> Markup {
        let (r, session, s) = (self.r, self.session, self.s);
        let csrf = &session.csrf;
        let base = format!("/console/requests/{}", r.id);
        let code_required = passkeys::code_required(s, &session.principal);
        // A playbook that takes passkeys only: its approval form offers no code field.
        let passkey_only = s
            .app
            .rules()
            .catalog()
            .playbook(&r.spec.playbook)
            .is_some_and(|p| p.step_up == breakglass_core::model::StepUpFactor::Passkey);
        let offers_code = !passkey_only && passkeys::offers_code(s, &session.principal);
        let requester = self.requester;
        html! {
            @if r.status == Status::Pending && !requester && self.approve.allowed {
                p.asked { strong { "Waiting for your approval." }
                    @if r.spec.narrowed { " " a href="#permissions" { "Narrowed" } "." } }
                form #approve-form .stack method="post" action={ (base) "/approve" } {
                    (csrf_field(csrf))
                    input type="hidden" name="digest" value=(r.digest.to_hex());
                    label for="approve-comment" { "Comment (optional)" }
                    input #approve-comment type="text" name="comment";
                    @if passkey_only {
                        p #passkey-only { "This playbook's approvals take a passkey only."
                            @if !session.principal.passkeys { " Add one on your " a href="/console/account#passkeys" { "account page" } " first." } }
                    }
                    @if offers_code {
                        label for="approve-totp" { "TOTP code" }
                        input #approve-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                            maxlength="6" autocomplete="one-time-code" required[code_required];
                        button type="submit" { "Approve" }
                    }
                    (passkeys::step_up_fields(s, &session.principal, &Approving::Request.purpose(&r.id)))
                }
            }
            @if r.status == Status::Pending && requester {
                p.asked { "Waiting for approval: " (r.current_approvers().len()) " of " (r.required_approvals) " so far." }
            }
            @if let Status::Approved { activate_by, .. } = &r.status {
                @if requester {
                    p.asked { strong { "Approved." } " Activate it by " (layout::time(*activate_by)) "; the grant's time starts then." }
                    form #activate-form method="post" action={ (base) "/activate" } {
                        (csrf_field(csrf))
                        button type="submit" { "Activate" }
                    }
                } @else {
                    p.asked { "Approved; waiting for " (r.spec.requester) " to activate it." }
                }
            }
            @if r.status == Status::Active {
                @if let Some(g) = &r.grant {
                    p.asked { "Grant " (g.id) ": " strong { (time_left(g.end, self.now)) " left" } " (until " (layout::time(g.end)) ")" }
                    @if requester { (self.use_grant(g)) }
                    @if let Some(x) = &g.pending_extension {
                        section #pending-extension {
                            h3 { "Extension asked for" }
                            p { (layout::duration(x.add)) " more, asked at " (layout::time(x.requested_at))
                                ": " span.justification { (layout::text(&x.justification)) } }
                            @if !requester && self.approve.allowed {
                                form #approve-extension-form .stack method="post" action={ (base) "/extension/approve" } {
                                    (csrf_field(csrf))
                                    input type="hidden" name="digest" value=(x.digest.to_hex());
                                    label for="extension-comment" { "Comment (optional)" }
                                    input #extension-comment type="text" name="comment";
                                    @if offers_code {
                                        label for="extension-totp" { "TOTP code" }
                                        input #extension-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}"
                                            maxlength="6" autocomplete="one-time-code" required[code_required];
                                        button type="submit" { "Approve extension" }
                                    }
                                    (passkeys::step_up_fields(s, &session.principal, &Approving::Extension.purpose(&r.id)))
                                }
                                form #deny-extension-form .stack method="post" action={ (base) "/extension/deny" } {
                                    (csrf_field(csrf))
                                    label for="extension-deny-reason" { "Reason for turning it down" }
                                    input #extension-deny-reason type="text" name="reason" required;
                                    button.danger type="submit" { "Deny extension" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The requester's ways to use an active grant: the AWS console, the
    /// `credential_process` line and one-off credentials.
    fn use_grant(&self, g: &breakglass_core::request::Grant) -> Markup {
        let (r, session, s) = (self.r, self.session, self.s);
        let csrf = &session.csrf;
        let code_required = passkeys::code_required(s, &session.principal);
        let step_up = s.app.needs_mint_step_up(r, self.now);
        let mint_purpose = breakglass_core::app::credentials_purpose(&r.id);
        html! {
            @if step_up {
                p #mint-step-up { "The first credentials of this grant need a fresh step-up: a current TOTP code or your passkey." }
            }
            div.actions {
                form #console-form method="post" action={ "/console/grants/" (g.id) "/console" } {
                    (csrf_field(csrf))
                    @if step_up && passkeys::offers_code(s, &session.principal) {
                        label for="console-totp" { "TOTP code" }
                        input #console-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                            required[code_required] autocomplete="one-time-code";
                    }
                    @if !step_up || passkeys::offers_code(s, &session.principal) {
                        button type="submit" { "Open AWS console" }
                    }
                    @if step_up { (passkeys::step_up_fields(s, &session.principal, &mint_purpose)) }
                }
                form #credentials-form method="post" action={ "/console/grants/" (g.id) "/credentials" } {
                    (csrf_field(csrf))
                    @if step_up && passkeys::offers_code(s, &session.principal) {
                        label for="credentials-totp" { "TOTP code" }
                        input #credentials-totp type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                            required[code_required] autocomplete="one-time-code";
                    }
                    @if !step_up || passkeys::offers_code(s, &session.principal) {
                        button.secondary type="submit" { "Get credentials" }
                    }
                    @if step_up { (passkeys::step_up_fields(s, &session.principal, &mint_purpose)) }
                }
            }
            p { "Or add this to a profile in " code { "~/.aws/config" } ":" }
            div.copy-line {
                code #credential-process {
                    "credential_process = breakglass creds --grant " (g.id) " --server " (s.console.server_url(self.headers))
                }
                // Hidden until app.js wires it: without JavaScript it would do nothing.
                button #copy-credential-process type="button" data-copy="credential-process" hidden { "Copy" }
            }
        }
    }

    /// The other actions, below the facts: deny, withdraw, ask for more time, revoke.
    fn secondary(&self) -> Markup {
        let r = self.r;
        let csrf = &self.session.csrf;
        let base = format!("/console/requests/{}", r.id);
        let requester = self.requester;
        let pending = r.status == Status::Pending;
        let extendable = r.status == Status::Active
            && requester
            && r.grant
                .as_ref()
                .is_some_and(|g| g.pending_extension.is_none());
        let revocable =
            matches!(r.status, Status::Active | Status::Approved { .. }) && self.can_revoke;
        let any = (pending && (requester || self.approve.allowed)) || extendable || revocable;
        html! {
            @if any {
                section.secondary-actions aria-label="Other actions" {
                    h2 { "Other actions" }
                    @if pending && !requester && self.approve.allowed {
                        form #deny-form .stack method="post" action={ (base) "/deny" } {
                            (csrf_field(csrf))
                            label for="deny-reason" { "Reason for denying" }
                            input #deny-reason type="text" name="reason";
                            button.danger type="submit" { "Deny" }
                        }
                    }
                    @if pending && requester {
                        form #cancel-form .stack method="post" action={ (base) "/cancel" } {
                            (csrf_field(csrf))
                            label for="cancel-reason" { "Reason for withdrawing (optional)" }
                            input #cancel-reason type="text" name="reason";
                            button.secondary type="submit" { "Withdraw request" }
                        }
                    }
                    @if extendable {
                        form #extend-form .stack method="post" action={ (base) "/extend" } {
                            (csrf_field(csrf))
                            label for="extend-add" { "More time (e.g. 30m, 1h30m, or minutes)" }
                            input #extend-add type="text" name="add" required placeholder="30m";
                            label for="extend-justification" { "Why more time is needed" }
                            input #extend-justification type="text" name="justification" required;
                            button.secondary type="submit" { "Ask for more time" }
                        }
                    }
                    @if revocable {
                        form #revoke-form .stack method="post" action={ (base) "/revoke" } {
                            (csrf_field(csrf))
                            label for="revoke-reason" { "Reason for revoking" }
                            input #revoke-reason type="text" name="reason" required;
                            button.danger type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/requests/{id}`.
pub async fn request(
    State(s): St,
    session: Session,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Query(q): Query<Done>,
    Query(f): Query<ActivityFilter>,
) -> Result<Response, Failure> {
    request_page(
        &s,
        &session,
        &headers,
        &rid,
        None,
        q.done.as_deref(),
        Some(&f),
    )
    .await
}

/// After action `done`: 303 back to the request with its confirmation, or the request
/// page with the refusal.
async fn after(
    s: &AppState,
    session: &Session,
    headers: &HeaderMap,
    rid: &str,
    result: Result<(), AppError>,
    done: &str,
) -> Result<Response, Failure> {
    match result {
        Ok(()) => Ok(layout::redirect(&layout::done_at(rid, done))),
        Err(e) => request_page(s, session, headers, rid, Some(e), None, None).await,
    }
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    digest: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    comment: String,
}

/// `POST /console/requests/{id}/approve`: TOTP step-up, bound to the digest shown.
pub async fn approve(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ApproveForm>,
) -> Result<Response, Failure> {
    decide(
        &s,
        &session,
        &headers,
        &rid,
        Approving::Request,
        &form,
        "approved",
    )
    .await
}

/// `POST /console/requests/{id}/extension/approve`: TOTP step-up, bound to the digest of the
/// extension shown.
pub async fn approve_extension(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ApproveForm>,
) -> Result<Response, Failure> {
    decide(
        &s,
        &session,
        &headers,
        &rid,
        Approving::Extension,
        &form,
        "extension-approved",
    )
    .await
}

/// Approves `subject` of request `rid` from the posted form, then back to the request.
async fn decide(
    s: &AppState,
    session: &Session,
    headers: &HeaderMap,
    rid: &str,
    subject: Approving,
    form: &ApproveForm,
    done: &str,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(rid)?;
        let passkey = passkeys::parse_answer(&form.passkey)?;
        let answer = passkeys::answer(&form.totp, passkey.as_ref());
        let (digest, comment) = (&form.digest, form.comment.clone());
        step_up::approve(s, &session.principal, &id, subject, digest, answer, comment).await?;
        Ok(())
    }
    .await;
    after(s, session, headers, rid, result, done).await
}

/// `POST /console/requests/{id}/extension/deny`.
pub async fn deny_extension(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let caller = session.principal.caller();
        s.app
            .deny_extension(&caller, &id, form.reason.trim())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "extension-denied").await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /console/requests/{id}/deny`.
pub async fn deny(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let caller = session.principal.caller();
        s.app.deny(&caller, &id, form.reason.trim()).await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "denied").await
}

/// `POST /console/requests/{id}/cancel`.
pub async fn cancel(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let caller = session.principal.caller();
        s.app.cancel(&caller, &id, form.reason.trim()).await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "cancelled").await
}

/// `POST /console/requests/{id}/activate`.
pub async fn activate(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, .. }: Posted<NoFields>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        s.app.activate(&session.principal.caller(), &id).await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "activated").await
}

/// `POST /console/requests/{id}/revoke`: commits the revocation, then cuts the live
/// sessions off (the access service's order).
pub async fn revoke(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReasonForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let caller = session.principal.caller();
        s.app.revoke(&caller, &id, form.reason.trim()).await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "revoked").await
}

#[derive(Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    add: String,
    #[serde(default)]
    justification: String,
}

/// `POST /console/requests/{id}/extend`: the requester asks for more time on an active
/// grant (`30m`, `1h30m` or plain minutes); the approvers decide it on this page.
pub async fn extend(
    State(s): St,
    headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ExtendForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let add = super::ask::duration_field(&form.add)?;
        let caller = session.principal.caller();
        s.app
            .extend(&caller, &id, add, form.justification.trim())
            .await?;
        Ok(())
    }
    .await;
    after(&s, &session, &headers, &rid, result, "extension-requested").await
}

/// The form of the credentials and console buttons: a TOTP code when the first mint of a
/// break-glass grant asks for a step-up.
#[derive(Deserialize)]
pub struct MintForm {
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/grants/{id}/console`: a console sign-in URL for the requester's grant.
///
/// The answer is a page with the link (and a meta refresh to it) rather than a 303: a
/// redirect to another origin after a form post is blocked by Chromium under the CSP's
/// `form-action 'self'`, while following a link is not. The URL holds a sign-in token, so
/// it is rendered once, on this response, and never stored.
pub async fn aws_console(
    State(s): St,
    headers: HeaderMap,
    Path(gid): Path<String>,
    Posted { session, form }: Posted<MintForm>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let rid = grant_request(&s, &gid).await.or_page(&v)?;
    let passkey = passkeys::parse_answer(&form.passkey).or_page(&v)?;
    let answer = passkeys::answer(form.totp.as_deref().unwrap_or_default(), passkey.as_ref());
    match step_up::console_url(
        &s,
        &session.principal,
        &rid,
        "https://console.aws.amazon.com/",
        answer,
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
        Err(e) => request_page(&s, &session, &headers, rid.as_str(), Some(e), None, None).await,
    }
}

/// `POST /console/grants/{id}/credentials`: mints credentials for the requester's grant (as
/// `breakglass creds` does) and shows them once, as shell exports; they are never stored.
pub async fn credentials(
    State(s): St,
    headers: HeaderMap,
    Path(gid): Path<String>,
    Posted { session, form }: Posted<MintForm>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let rid = grant_request(&s, &gid).await.or_page(&v)?;
    let passkey = passkeys::parse_answer(&form.passkey).or_page(&v)?;
    let answer = passkeys::answer(form.totp.as_deref().unwrap_or_default(), passkey.as_ref());
    match step_up::credentials(&s, &session.principal, &rid, answer).await {
        Ok(c) => {
            let exports = format!(
                "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_SESSION_TOKEN={}\n",
                c.access_key_id,
                c.secret_access_key.expose(),
                c.session_token.expose()
            );
            let body = html! {
                div.secret role="status" {
                    p { "Credentials for grant " (gid) ", valid until " (layout::time(c.expiration))
                        ". They are shown only this once; paste them into a shell." }
                    div.copy-line {
                        pre { code #credentials { (exports) } }
                        button #copy-credentials type="button" data-copy="credentials" { "Copy" }
                    }
                }
                p { "Prefer the " code { "credential_process" } " line on the request page: it fetches fresh credentials whenever the AWS CLI needs them." }
                p { a href={ "/console/requests/" (rid) } { "Back to the request" } }
            };
            Ok(layout::ok("Credentials", &v, body))
        }
        Err(e) => request_page(&s, &session, &headers, rid.as_str(), Some(e), None, None).await,
    }
}

/// The request holding the grant that path segment `gid` names.
async fn grant_request(s: &AppState, gid: &str) -> Result<RequestId, AppError> {
    let gid: GrantId = parse_id(gid)?;
    Ok(s.app.grant_request(&gid).await?)
}

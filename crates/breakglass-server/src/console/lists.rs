//! The lists: my dashboard (requests and grants), the approvals waiting for me, and the
//! active sessions with their revoke buttons, under any cut-off that failed and is being
//! retried ("cut-off failed — retrying").

use axum::extract::State;
use axum::response::Response;
use breakglass_core::app::{Caller, CutOffTarget, FailedCutOff};
use breakglass_core::model::Username;
use breakglass_core::ports::Versioned;
use breakglass_core::request::{AccessRequest, RequestKind, Status};
use breakglass_core::revocation::ORGANIZATION_POLICY;
use breakglass_core::rules::{Action, Decision};
use breakglass_core::session::RequestFilter;
use maud::{Markup, html};
use time::OffsetDateTime;

use super::layout::{self, csrf_field};
use super::signin::Session;
use super::{Failure, OrPage, St};
use crate::app::{AppError, AppState};

pub(super) fn now(s: &AppState) -> OffsetDateTime {
    s.app.now()
}

/// The cut-offs that failed and are being retried: revoked sessions that may still work.
fn failed_cut_offs(failed: &[FailedCutOff], now: OffsetDateTime) -> Markup {
    let rows = html! {
        @for f in failed {
            tr.cut-off-failed {
                td {
                    span.badge-danger { "cut-off failed — retrying" }
                    " "
                    @match &f.target {
                        CutOffTarget::Role(role) => { "policy of role " code { (role) } }
                        CutOffTarget::Organization => { "organisation policy " code { (ORGANIZATION_POLICY) } }
                    }
                }
                td {
                    @for (i, id) in f.requests.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/console/requests/" (id) } { (id) }
                    }
                }
                td.cut-off-error { (f.summary) }
                td.cut-off-attempts { (f.attempts) }
                td { (layout::duration(now - f.since)) " ago" }
            }
        }
    };
    html! {
        div.warning role="alert" id="cut-off-failed" {
            p { strong { "Revoked sessions may still work: " } "a cut-off failed and is being retried. The security team has been alerted; the audit log holds AWS's full answer." }
        }
        (layout::table("failed-cut-offs", "Cut-offs not in force", &["What", "Revoked requests", "Last error", "Attempts", "Failing for"],
            rows, None))
    }
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

/// `GET /console`: my requests and my active grants.
pub async fn dashboard(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let filter = RequestFilter {
        requester: Some(session.principal.username.clone()),
        limit: Some(100),
        ..RequestFilter::default()
    };
    let caller = session.principal.caller();
    let mine = s.app.requests(&caller, &filter).await.or_page(&v)?;
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

pub(super) fn decision(d: &Decision) -> Markup {
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

pub(super) fn may(
    r: &AccessRequest,
    rules: &breakglass_core::rules::Rules,
    who: &Username,
    a: Action,
) -> Decision {
    r.decision_for(rules, who, a)
}

/// The pending requests `me` may decide on.
async fn pending_for(
    s: &AppState,
    caller: &Caller,
) -> Result<Vec<(Versioned<AccessRequest>, Decision)>, AppError> {
    let filter = RequestFilter {
        statuses: vec!["pending".to_owned()],
        limit: Some(500),
        ..RequestFilter::default()
    };
    let rules = s.app.rules();
    let me = &caller.username;
    Ok(s.app
        .requests(caller, &filter)
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
pub async fn approvals(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let list = pending_for(&s, &session.principal.caller())
        .await
        .or_page(&v)?;
    let rows = html! {
        @for (r, d) in &list {
            @let r = &r.value;
            tr data-request=(r.id) {
                // The action sits in the first column, so a narrow screen shows it without
                // scrolling the table sideways.
                td {
                    (request_link(r)) br;
                    a.button.review href={ "/console/requests/" (r.id) } aria-label={ "Review " (r.id) } { "Review" }
                }
                td { (r.spec.requester) }
                td { code { (r.spec.role) } " in " (r.spec.account) " for " (layout::duration(r.spec.duration)) br;
                     "playbook " (r.spec.playbook) }
                td { "incident " (r.spec.incident) ": " (layout::text(&r.spec.justification)) }
                td { (decision(d)) }
                td { (r.current_approvers().len()) " of " (r.required_approvals) }
            }
        }
    };
    let body = html! {
        p.live-note { "This list updates itself when requests change. " a href="/console/approvals" { "Refresh" } }
        div aria-live="polite" {
            (layout::table("pending-approvals", "Pending requests you may approve",
            &["Request", "Who", "What", "Why", "Policy", "Approvals"], rows,
            list.is_empty().then_some("Nothing waits for your approval.")))
        }
    };
    Ok(layout::ok("Pending approvals", &v, body))
}

/// `GET /console/sessions`: active grants with revoke buttons (admins see every grant).
pub async fn sessions(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let filter = RequestFilter {
        statuses: vec!["active".to_owned()],
        requester: (!session.principal.admin).then(|| session.principal.username.clone()),
        limit: Some(500),
        ..RequestFilter::default()
    };
    let caller = session.principal.caller();
    let list = s.app.requests(&caller, &filter).await.or_page(&v)?;
    let now = now(&s);
    let rows = html! {
        @for r in &list {
            @let r = &r.value;
            @if let Some(g) = &r.grant {
                tr data-request=(r.id) {
                    // The revoke form sits in the first column, under the grant, so a narrow
                    // screen shows it without scrolling the table sideways.
                    td {
                        a href={ "/console/requests/" (r.id) } { (g.id) }
                        form.inline.revoke method="post" action={ "/console/requests/" (r.id) "/revoke" } {
                            (csrf_field(&v.csrf))
                            label.visually-hidden for={ "reason-" (g.id) } { "Reason for revoking " (g.id) }
                            input id={ "reason-" (g.id) } type="text" name="reason" placeholder="reason" required;
                            button.danger type="submit" { "Revoke" }
                        }
                    }
                    td { (r.spec.requester) }
                    td { code { (r.spec.role) } " in " (r.spec.account) }
                    td { (r.spec.incident) }
                    td { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                }
            }
        }
    };
    let caption = if session.principal.admin {
        "Every active grant"
    } else {
        "Your active grants"
    };
    let failed = s.app.failed_cut_offs(&caller).await.or_page(&v)?;
    let body = html! {
        @if !failed.is_empty() {
            (failed_cut_offs(&failed, now))
        }
        (layout::table("active-sessions", caption, &["Grant (revoke)", "Holder", "Role", "Incident", "Time left"],
            rows, list.is_empty().then_some("No active grants.")))
    };
    Ok(layout::ok("Active sessions", &v, body))
}

//! The lists: my dashboard (what waits for my approval first, then my grants and
//! requests), the approvals waiting for me, and the live sessions I may see with their
//! revoke buttons, under any cut-off that failed and is being retried ("cut-off failed —
//! retrying"). Every listed grant or request names its role, account and incident, and
//! carries the break-glass flag when it is one.

use axum::extract::State;
use axum::response::Response;
use breakglass_core::app::{CutOffTarget, FailedCutOff};
use breakglass_core::model::{Catalog, Username};
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
use crate::app::AppState;

pub(super) fn now(s: &AppState) -> OffsetDateTime {
    s.app.now()
}

/// The cut-offs that failed and are being retried: revoked sessions that may still work.
fn failed_cut_offs(failed: &[FailedCutOff], now: OffsetDateTime) -> Markup {
    let rows = html! {
        @for f in failed {
            tr.cut-off-failed {
                td data-label="What" {
                    span.badge-danger { "cut-off failed — retrying" }
                    " "
                    @match &f.target {
                        CutOffTarget::Role(role) => { "policy of role " code { (role) } }
                        CutOffTarget::Organization => { "organisation policy " code { (ORGANIZATION_POLICY) } }
                    }
                }
                td data-label="Revoked requests" {
                    @for (i, id) in f.requests.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/console/requests/" (id) } { (id) }
                    }
                }
                td.cut-off-error data-label="Last error" { (f.summary) }
                td.cut-off-attempts data-label="Attempts" { (f.attempts) }
                td data-label="Failing for" { (layout::duration(now - f.since)) }
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

/// What a request is for, as one line: role, account (named), incident, and the
/// break-glass flag when it is one.
pub(super) fn what(r: &AccessRequest, catalog: &Catalog) -> Markup {
    html! {
        code { (r.spec.role) } " in " (layout::account(catalog, &r.spec.account))
        " · incident " (r.spec.incident)
        (layout::kind_badge(r.kind, &r.spec.incident))
    }
}

fn row_class(r: &AccessRequest) -> &'static str {
    if r.kind == RequestKind::BreakGlass {
        "break-glass"
    } else {
        ""
    }
}

/// The rows of a table of requests.
fn request_rows(list: &[Versioned<AccessRequest>], catalog: &Catalog) -> Markup {
    html! {
        @for v in list {
            @let r = &v.value;
            tr data-request=(r.id) class=(row_class(r)) {
                td data-label="Request" { (request_link(r)) }
                td data-label="Status" { (layout::status(r.status.name()))
                    (layout::kind_badge(r.kind, &r.spec.incident)) }
                td data-label="Playbook" { (r.spec.playbook) }
                td data-label="Role" { code { (r.spec.role) } }
                td data-label="Account" { (layout::account(catalog, &r.spec.account)) }
                td data-label="Incident" { (r.spec.incident) }
                td data-label="Created" { (layout::time(r.created_at)) }
            }
        }
    }
}

const REQUEST_HEAD: [&str; 7] = [
    "Request", "Status", "Playbook", "Role", "Account", "Incident", "Created",
];

/// The table of pending requests waiting for the viewer, each with its Review button first.
fn waiting_table(
    id: &str,
    caption: &str,
    list: &[(Versioned<AccessRequest>, Decision)],
    catalog: &Catalog,
    empty: Option<&str>,
) -> Markup {
    let rows = html! {
        @for (r, d) in list {
            @let r = &r.value;
            tr data-request=(r.id) class=(row_class(r)) {
                // The action sits first: on a phone's card it is the first thing seen.
                td data-label="Request" {
                    (request_link(r)) br;
                    a.button.review href={ "/console/requests/" (r.id) } aria-label={ "Review " (r.id) } { "Review" }
                }
                td data-label="Who" { (r.spec.requester) }
                td data-label="What" { (what(r, catalog)) br;
                     "for " (layout::duration(r.spec.duration)) ", playbook " (r.spec.playbook) }
                td data-label="Why" { (layout::text(&r.spec.justification)) }
                td data-label="Policy" { (decision(d)) }
                td data-label="Approvals" { (r.current_approvers().len()) " of " (r.required_approvals) }
            }
        }
    };
    layout::table(
        id,
        caption,
        &["Request", "Who", "What", "Why", "Policy", "Approvals"],
        rows,
        empty,
    )
}

/// `GET /console`: what waits for me first (requests to approve), then the grants I hold,
/// then my requests.
pub async fn dashboard(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let filter = RequestFilter {
        requester: Some(session.principal.username.clone()),
        limit: Some(100),
        ..RequestFilter::default()
    };
    let caller = session.principal.caller();
    let mine = s.app.requests(&caller, &filter).await.or_page(&v)?;
    let waiting = s.app.awaiting_approval(&caller).await.or_page(&v)?;
    // Colleagues' live break-glass sessions the viewer may see (an incident-response
    // lead's, under the read rules): loud, so they lead with what waits.
    let emergencies: Vec<Versioned<AccessRequest>> = s
        .app
        .live_grants(&caller)
        .await
        .or_page(&v)?
        .into_iter()
        .filter(|r| {
            r.value.kind == RequestKind::BreakGlass
                && r.value.spec.requester != session.principal.username
        })
        .collect();
    let rules = s.app.rules();
    let catalog = rules.catalog();
    let now = now(&s);
    let grants: Vec<&AccessRequest> = mine
        .iter()
        .map(|r| &r.value)
        .filter(|r| r.status == Status::Active)
        .collect();
    let to_activate = mine
        .iter()
        .filter(|r| matches!(r.value.status, Status::Approved { .. }))
        .count();
    let grant_rows = html! {
        @for r in &grants {
            @if let Some(g) = &r.grant {
                tr data-request=(r.id) class=(row_class(r)) {
                    td data-label="Grant" { a href={ "/console/requests/" (r.id) } { (g.id) }
                        (layout::kind_badge(r.kind, &r.spec.incident)) }
                    td data-label="Time left" { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                    td data-label="Role" { code { (r.spec.role) } }
                    td data-label="Account" { (layout::account(catalog, &r.spec.account)) }
                    td data-label="Incident" { (r.spec.incident) }
                    td data-label="Ends" { (layout::time(g.end)) }
                }
            }
        }
    };
    let emergency_rows = html! {
        @for r in &emergencies {
            @let r = &r.value;
            @if let Some(g) = &r.grant {
                tr data-request=(r.id) class="break-glass" {
                    td data-label="Grant" { a href={ "/console/requests/" (r.id) } { (g.id) } " " (layout::break_glass_badge()) }
                    td data-label="Holder" { (r.spec.requester) }
                    td data-label="What" { (what(r, catalog)) }
                    td data-label="Time left" { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                }
            }
        }
    };
    let body = html! {
        section #now .now aria-label="What waits for you now" {
            @if waiting.is_empty() {
                p #waiting-summary { "Nothing waits for your approval." }
            } @else {
                p #waiting-summary { strong { (waiting.len()) " "
                    (if waiting.len() == 1 { "request waits" } else { "requests wait" }) " for your approval." } }
            }
            @if !emergencies.is_empty() {
                p #break-glass-summary { strong { (emergencies.len()) " live break-glass "
                    (if emergencies.len() == 1 { "session" } else { "sessions" }) " of colleagues." } }
            }
            p { "You hold " (grants.len()) " active " (if grants.len() == 1 { "grant" } else { "grants" })
                @if to_activate > 0 { "; " strong { (to_activate) " approved, to activate" } } "." }
            p.actions {
                a.button #request-access href="/console/requests/new" { "Request access" }
            }
        }
        @if !waiting.is_empty() {
            h2 { "Waiting for you" }
            (waiting_table("waiting-for-you", "Requests waiting for your approval, oldest first", &waiting, catalog, None))
        }
        @if !emergencies.is_empty() {
            h2 { "Live break-glass sessions" }
            (layout::table("live-break-glass", "Colleagues' break-glass sessions, live now", &["Grant", "Holder", "What", "Time left"],
                emergency_rows, None))
        }
        h2 { "My active grants" }
        (layout::table("my-grants", "Grants you hold now", &["Grant", "Time left", "Role", "Account", "Incident", "Ends"],
            grant_rows, grants.is_empty().then_some("No active grants.")))
        h2 { "My requests" }
        (layout::table("my-requests", "Your requests, newest first", &REQUEST_HEAD,
            request_rows(&mine, catalog), mine.is_empty().then_some("No requests yet.")))
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
            @if let Some(desc) = &p.description { " (" (layout::message(desc)) ")" }
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

/// `GET /console/approvals`: what waits for me, live-updated.
pub async fn approvals(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let list = s
        .app
        .awaiting_approval(&session.principal.caller())
        .await
        .or_page(&v)?;
    let rules = s.app.rules();
    let body = html! {
        p.live-note { "This list updates itself when requests change. " a href="/console/approvals" { "Refresh" } }
        div aria-live="polite" {
            (waiting_table("pending-approvals", "Pending requests you may approve, oldest first", &list, rules.catalog(),
                list.is_empty().then_some("Nothing waits for your approval.")))
        }
    };
    Ok(layout::ok("Pending approvals", &v, body))
}

/// `GET /console/sessions`: the live grants the viewer may see (their own, and under the
/// read rules their colleagues' they may revoke or review), each with what it is for and,
/// where the viewer may revoke it, a revoke form.
pub async fn sessions(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let list = s.app.live_grants(&caller).await.or_page(&v)?;
    let rules = s.app.rules();
    let catalog = rules.catalog();
    let me = &session.principal.username;
    let now = now(&s);
    let rows = html! {
        @for r in &list {
            @let r = &r.value;
            @let revocable = &r.spec.requester == me || session.principal.admin
                || may(r, &rules, me, Action::Revoke).allowed;
            @if let Some(g) = &r.grant {
                tr data-request=(r.id) class=(row_class(r)) {
                    td data-label="Grant" {
                        a href={ "/console/requests/" (r.id) } { (g.id) }
                        (layout::kind_badge(r.kind, &r.spec.incident))
                    }
                    td data-label="Holder" { (r.spec.requester) }
                    td data-label="Role and account" { code { (r.spec.role) } " in " (layout::account(catalog, &r.spec.account)) }
                    td data-label="Incident" { (r.spec.incident) }
                    td data-label="Time left" { span.time-left data-end=(layout::rfc3339(g.end)) { (layout::duration(g.end - now)) } }
                    td data-label="Revoke" {
                        @if revocable {
                            form.inline.revoke method="post" action={ "/console/requests/" (r.id) "/revoke" } {
                                (csrf_field(&v.csrf))
                                label.visually-hidden for={ "reason-" (g.id) } { "Reason for revoking " (r.spec.requester) "'s " (r.spec.role) " grant " (g.id) }
                                input id={ "reason-" (g.id) } type="text" name="reason" placeholder="reason" required;
                                button.danger type="submit" aria-label={ "Revoke " (r.spec.requester) "'s " (r.spec.role) " grant " (g.id) } { "Revoke" }
                            }
                        } @else {
                            "—"
                        }
                    }
                }
            }
        }
    };
    let caption = if session.principal.admin {
        "Every active grant"
    } else {
        "Active grants you hold or may revoke or review"
    };
    let failed = s.app.failed_cut_offs(&caller).await.or_page(&v)?;
    let break_glass = list
        .iter()
        .filter(|r| r.value.kind == RequestKind::BreakGlass)
        .count();
    let body = html! {
        @if !failed.is_empty() {
            (failed_cut_offs(&failed, now))
        }
        p #sessions-summary { (list.len()) " active " (if list.len() == 1 { "grant" } else { "grants" })
            @if break_glass > 0 { ", " strong { (break_glass) " break-glass" } } "." }
        (layout::table("active-sessions", caption, &["Grant", "Holder", "Role and account", "Incident", "Time left", "Revoke"],
            rows, list.is_empty().then_some("No active grants.")))
    };
    Ok(layout::ok("Active sessions", &v, body))
}

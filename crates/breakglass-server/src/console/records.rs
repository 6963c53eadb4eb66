//! The auditor's pages: the audit log with its chain verification, post-incident reviews
//! to complete (the outcome chosen explicitly), and the notifications not delivered yet or
//! dead-lettered (admins).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use breakglass_core::app::AuditVerification;
use breakglass_core::model::RequestId;
use breakglass_core::request::{Review, ReviewOutcome, Status};
use breakglass_core::rules::Action;
use breakglass_core::session::RequestFilter;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{self, csrf_field};
use super::signin::{Posted, Session};
use super::{Failure, OrPage, St};
use crate::app::extract::parse_id;
use crate::app::step_up;
use crate::app::{AppError, AppState};

/// Records shown per audit page.
const AUDIT_PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Show records after this sequence number (default: the latest page).
    #[serde(default)]
    after: Option<i64>,
}

/// The longest value shown in full in an audit table cell; longer ones are cut at a word
/// boundary and marked, the whole record being one click away.
const SUMMARY_VALUE: usize = 120;

/// `text` cut to at most [`SUMMARY_VALUE`] characters at a space or punctuation, with `…`.
fn shorten(text: &str) -> String {
    if text.chars().count() <= SUMMARY_VALUE {
        return text.to_owned();
    }
    let cut: String = text.chars().take(SUMMARY_VALUE).collect();
    let at = cut
        .rfind([' ', ',', ';'])
        .filter(|i| *i > SUMMARY_VALUE / 2)
        .unwrap_or(cut.len());
    format!("{}…", cut.get(..at).unwrap_or(&cut).trim_end())
}

/// A JSON value in words: a string as is, an object as `key: value` pairs (one level
/// deep), anything else as compact JSON.
fn words(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The interesting fields of an audit body, one `(name, value)` per field, each value in
/// words and shortened for a table cell.
fn summary(body: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let event = v.get("event").cloned().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    if let Value::Object(o) = event {
        for (k, val) in o {
            if k == "type" || k == "request" || val.is_null() {
                continue;
            }
            parts.push((k, shorten(&words(&val))));
        }
    }
    parts
}

/// The whole record body, pretty-printed (it wraps: see `pre` in app.css).
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}

/// `GET /console/audit`: the log, newest page first, and whether the chain verifies.
pub async fn audit(
    State(s): St,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let verification = s.app.verify_audit(&caller).await.or_page(&v)?;
    let head = s
        .app
        .chain_head()
        .await
        .or_page(&v)?
        .map_or(0, |h| i64::try_from(h.seq).unwrap_or(i64::MAX));
    let after = q
        .after
        .unwrap_or_else(|| (head - i64::from(AUDIT_PAGE)).max(0))
        .max(0);
    let mut rows = s
        .app
        .audit_page(&caller, after, AUDIT_PAGE)
        .await
        .or_page(&v)?;
    rows.reverse();
    let table_rows = html! {
        @for r in &rows {
            tr {
                td.nowrap data-label="#" { (r.seq) }
                td.nowrap data-label="When" { (time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.at_micros) * 1000)
                        .map(layout::time).unwrap_or_default()) }
                td.nowrap data-label="Who" { (r.actor.as_deref().unwrap_or("system")) }
                td.nowrap data-label="Event" { code { (r.kind) } }
                td data-label="Request" { @if let Some(req) = &r.request { a href={ "/console/requests/" (req) } { (req) } } }
                td.summary data-label="Details" {
                    ul { @for (k, val) in summary(&r.body) { li { strong { (k) } ": " (layout::text(&val)) } } }
                    details { summary { "Whole record" } pre { code { (layout::text(&pretty(&r.body))) } } }
                }
            }
        }
    };
    let older = (after > 0).then(|| (after - i64::from(AUDIT_PAGE)).max(0));
    let body = html! {
        @match &verification {
            AuditVerification::Verified { records, head } => {
                p #audit-verification .ok {
                    "Chain verified: " (records) " records, every one linked to its predecessor; head "
                    code { (head.get(..16).unwrap_or(head)) "…" }
                }
            }
            AuditVerification::Broken { problem } => {
                p #audit-verification .error role="alert" {
                    "Chain BROKEN: " (problem) ". The log has been altered; stop and investigate."
                }
            }
        }
        (layout::table("audit-log", "Audit records, newest first",
            &["#", "When", "Who", "Event", "Request", "Details"], table_rows,
            rows.is_empty().then_some("No records.")))
        p.pager {
            @if let Some(o) = older { a href={ "/console/audit?after=" (o) } { "Older records" } " " }
            @if q.after.is_some() { a href="/console/audit" { "Latest records" } }
        }
    };
    Ok(layout::ok("Audit log", &v, body))
}

/// `GET /console/reviews`: break-glass uses whose post-incident review is outstanding.
pub async fn reviews(State(s): St, session: Session) -> Result<Response, Failure> {
    reviews_page(&s, &session, None).await
}

/// The reviews page, with `error` when a sign-off was refused.
async fn reviews_page(
    s: &AppState,
    session: &Session,
    error: Option<&AppError>,
) -> Result<Response, Failure> {
    let v = session.viewer();
    let me = &session.principal.username;
    let filter = RequestFilter {
        review_outstanding: true,
        limit: Some(200),
        ..RequestFilter::default()
    };
    let caller = session.principal.caller();
    let list = s.app.requests(&caller, &filter).await.or_page(&v)?;
    let rules = s.app.rules();
    let catalog = rules.catalog();
    let body = html! {
        @if let Some(e) = error { (layout::alert(&e.message)) }
        p #reviews-summary { (list.len()) " break-glass "
            (if list.len() == 1 { "use" } else { "uses" }) " to review." }
        @if list.is_empty() { p #no-reviews { "No reviews outstanding." } }
        @for r in &list {
            @let r = &r.value;
            @let allowed = &r.spec.requester != me && r.decision_for(&rules, me, Action::Review).allowed;
            section.review id={ "review-" (r.id) } {
                h2 { a href={ "/console/requests/" (r.id) } { (r.id) } " — " (r.spec.requester) }
                p { (super::lists::what(r, catalog)) ": " span.justification { (layout::text(&r.spec.justification)) } }
                @let ended = matches!(r.status, Status::Expired { .. } | Status::Revoked { .. });
                @if matches!(r.review, Some(Review::Required)) && allowed && ended {
                    form.stack method="post" action={ "/console/requests/" (r.id) "/review" } {
                        (csrf_field(&v.csrf))
                        // No outcome is chosen for the reviewer: a sign-off says what they judged.
                        fieldset id={ "outcome-" (r.id) } {
                            legend { "Outcome (choose one)" }
                            div.check {
                                input id={ "outcome-" (r.id) "-appropriate" } type="radio" name="outcome" value="appropriate" required;
                                label for={ "outcome-" (r.id) "-appropriate" } { "Appropriate: justified and proportionate" }
                            }
                            div.check {
                                input id={ "outcome-" (r.id) "-inappropriate" } type="radio" name="outcome" value="inappropriate" required;
                                label for={ "outcome-" (r.id) "-inappropriate" } { "Inappropriate: follow-up needed" }
                            }
                        }
                        label for={ "notes-" (r.id) } { "Notes" }
                        textarea id={ "notes-" (r.id) } name="notes" rows="3" {}
                        @if super::passkeys::offers_code(s, &session.principal) {
                            label for={ "review-totp-" (r.id) } { "TOTP code" }
                            input id={ "review-totp-" (r.id) } type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                                required[super::passkeys::code_required(s, &session.principal)] autocomplete="one-time-code";
                            button type="submit" { "Complete review" }
                        }
                        (super::passkeys::step_up_fields(s, &session.principal, &breakglass_core::app::review_purpose(&r.id)))
                    }
                } @else if !ended {
                    p { "The grant has not ended yet; review it once it has." }
                } @else if !allowed {
                    p { "You may not review this use." }
                }
                p.when { "Activated " (r.grant.as_ref().map(|g| layout::time(g.start)).unwrap_or_default())
                    ", now " (layout::status(r.status.name())) ". Reviewed by someone other than who used it." }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(layout::respond(
        status,
        layout::page("Post-incident reviews", Some(&v), body),
    ))
}

#[derive(Deserialize)]
pub struct ReviewForm {
    /// `appropriate` or `inappropriate`; absent when the reviewer chose none.
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    passkey: String,
}

/// `POST /console/requests/{id}/review`: signs off with the reviewer's TOTP step-up.
pub async fn review(
    State(s): St,
    _headers: HeaderMap,
    Path(rid): Path<String>,
    Posted { session, form }: Posted<ReviewForm>,
) -> Result<Response, Failure> {
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let outcome = match form.outcome.as_str() {
            "appropriate" => ReviewOutcome::Appropriate,
            "inappropriate" => ReviewOutcome::Inappropriate,
            _ => {
                return Err(AppError::bad_request(
                    "choose the review's outcome: appropriate or inappropriate",
                ));
            }
        };
        let passkey = super::passkeys::parse_answer(&form.passkey)?;
        step_up::review(
            &s,
            &session.principal,
            &id,
            outcome,
            form.notes.trim(),
            super::passkeys::answer(&form.totp, passkey.as_ref()),
        )
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(layout::redirect(&layout::done_at(&rid, "reviewed"))),
        Err(e) => reviews_page(&s, &session, Some(&e)).await,
    }
}

/// The channels named in a delivery error (`webhook#0: …; slack: …`).
fn failed_channels(last_error: Option<&str>) -> Vec<&str> {
    last_error
        .unwrap_or_default()
        .split("; ")
        .filter_map(|part| part.split_once(": ").map(|(name, _)| name))
        .filter(|name| !name.is_empty() && !name.contains(' '))
        .collect()
}

/// `GET /console/deliveries`: the notifications page's old address.
pub async fn deliveries() -> Response {
    layout::redirect("/console/notifications")
}

/// `GET /console/notifications` (admins): the notifications not delivered yet, pending
/// (never tried) or retrying (attempts, next attempt, last error), and the dead letters.
pub async fn notifications(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let n = s.app.notifications(&caller, 200).await.or_page(&v)?;
    let now = s.app.now();
    let (pending, retrying) = (n.pending().count(), n.retrying().count());
    let queued_rows = html! {
        @for q in &n.queued {
            @let m = &q.message;
            tr data-outbox=(m.id) class=(if m.attempts > 0 { "retrying" } else { "pending" }) {
                td data-label="#" { (m.id) }
                td data-label="Event" { code { (m.notification.kind) } br; (m.notification.subject) }
                td.delivery-state data-label="State" { @if m.attempts > 0 { "retrying" } @else { "pending" } }
                td.attempts data-label="Attempts" { (m.attempts) }
                td data-label="Next attempt" { (layout::time(q.next_attempt_at))
                    @if q.next_attempt_at > now { " (in " (layout::duration(q.next_attempt_at - now)) ")" } @else { " (due)" } }
                td data-label="Delivered to" { @if m.done_channels.is_empty() { "none yet" } @else { (m.done_channels.join(", ")) } }
                td.summary data-label="Last error" { (layout::text(m.last_error.as_deref().unwrap_or("—"))) }
            }
        }
    };
    let dead_rows = html! {
        @for m in &n.dead {
            tr data-outbox=(m.id) {
                td data-label="#" { (m.id) }
                td data-label="Written" { (layout::time(m.created_at)) }
                td data-label="Event" { code { (m.notification.kind) } br; (m.notification.subject) }
                td data-label="Failed channel" { (failed_channels(m.last_error.as_deref()).join(", ")) }
                td data-label="Delivered to" { @if m.done_channels.is_empty() { "none" } @else { (m.done_channels.join(", ")) } }
                td data-label="Attempts" { (m.attempts) }
                td.summary data-label="Last error" { (layout::text(m.last_error.as_deref().unwrap_or(""))) }
            }
        }
    };
    let body = html! {
        p #notification-summary .now {
            strong { (pending) " pending, " (retrying) " retrying, " (n.dead.len()) " dead-lettered." }
            " A retrying message failed on some channel and will be tried again; a dead letter was given up on after every retry, alerted, and recorded in the audit log."
        }
        h2 { "Not delivered yet" }
        (layout::table("queued-notifications", "Pending and retrying notifications, oldest first",
            &["#", "Event", "State", "Attempts", "Next attempt", "Delivered to", "Last error"], queued_rows,
            n.queued.is_empty().then_some("Every notification has been delivered or dead-lettered.")))
        h2 { "Dead letters" }
        (layout::table("dead-letters", "Dead-lettered notifications, newest first",
            &["#", "Written", "Event", "Failed channel", "Delivered to", "Attempts", "Last error"], dead_rows,
            n.dead.is_empty().then_some("No dead letters: every notification was delivered or is still being retried.")))
    };
    Ok(layout::ok("Notifications", &v, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_channels_are_read_from_the_last_error() {
        assert_eq!(
            failed_channels(Some("webhook#0: HTTP 500: boom; slack: connection refused")),
            ["webhook#0", "slack"]
        );
        assert!(failed_channels(None).is_empty());
    }
}

//! The auditor's pages: the audit log with its chain verification, post-incident reviews
//! to complete, and dead-lettered notifications (admins).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
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
use crate::app::AppError;
use crate::app::extract::parse_id;
use crate::app::step_up;

/// Records shown per audit page.
const AUDIT_PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Show records after this sequence number (default: the latest page).
    #[serde(default)]
    after: Option<i64>,
}

/// The interesting fields of an audit body, shortened for a table cell.
fn summary(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let event = v.get("event").cloned().unwrap_or(Value::Null);
    let mut parts = Vec::new();
    if let Value::Object(o) = event {
        for (k, val) in o {
            if k == "type" || k == "request" {
                continue;
            }
            let text = match val {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            let short: String = text.chars().take(80).collect();
            parts.push(format!("{k}: {short}"));
        }
    }
    parts.join("; ")
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
                td { (r.seq) }
                td { (time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.at_micros) * 1000)
                        .map(layout::time).unwrap_or_default()) }
                td { (r.actor.as_deref().unwrap_or("system")) }
                td { code { (r.kind) } }
                td { @if let Some(req) = &r.request { a href={ "/console/requests/" (req) } { (req) } } }
                td.summary { (layout::text(&summary(&r.body))) }
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
    let body = html! {
        p { "Every break-glass use needs a post-incident review by someone other than the person who used it." }
        @if list.is_empty() { p #no-reviews { "No reviews outstanding." } }
        @for r in &list {
            @let r = &r.value;
            @let allowed = &r.spec.requester != me && r.decision_for(&rules, me, Action::Review).allowed;
            section.review id={ "review-" (r.id) } {
                h2 { a href={ "/console/requests/" (r.id) } { (r.id) } " — " (r.spec.requester) }
                p { "Role " code { (r.spec.role) } " in " (r.spec.account) ", incident " (r.spec.incident)
                    ", activated " (r.grant.as_ref().map(|g| layout::time(g.start)).unwrap_or_default())
                    ", now " (layout::status(r.status.name())) }
                p.justification { (layout::text(&r.spec.justification)) }
                @let ended = matches!(r.status, Status::Expired { .. } | Status::Revoked { .. });
                @if matches!(r.review, Some(Review::Required)) && allowed && ended {
                    form.stack method="post" action={ "/console/requests/" (r.id) "/review" } {
                        (csrf_field(&v.csrf))
                        label for={ "outcome-" (r.id) } { "Outcome" }
                        select id={ "outcome-" (r.id) } name="outcome" {
                            option value="appropriate" { "Appropriate: justified and proportionate" }
                            option value="inappropriate" { "Inappropriate: follow-up needed" }
                        }
                        label for={ "notes-" (r.id) } { "Notes" }
                        textarea id={ "notes-" (r.id) } name="notes" rows="3" {}
                        @if super::passkeys::offers_code(&s, &session.principal) {
                            label for={ "review-totp-" (r.id) } { "TOTP code" }
                            input id={ "review-totp-" (r.id) } type="text" name="totp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"
                                required[super::passkeys::code_required(&s, &session.principal)] autocomplete="one-time-code";
                            button type="submit" { "Complete review" }
                        }
                        (super::passkeys::step_up_fields(&s, &session.principal, &breakglass_core::app::review_purpose(&r.id)))
                    }
                } @else if !ended {
                    p { "The grant has not ended yet; review it once it has." }
                } @else if !allowed {
                    p { "You may not review this use." }
                }
            }
        }
    };
    Ok(layout::ok("Post-incident reviews", &v, body))
}

#[derive(Deserialize)]
pub struct ReviewForm {
    outcome: ReviewOutcome,
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
    let v = session.viewer();
    let result = async {
        let id: RequestId = parse_id(&rid)?;
        let passkey = super::passkeys::parse_answer(&form.passkey)?;
        step_up::review(
            &s,
            &session.principal,
            &id,
            form.outcome,
            form.notes.trim(),
            super::passkeys::answer(&form.totp, passkey.as_ref()),
        )
        .await?;
        Ok::<_, AppError>(())
    }
    .await;
    result.or_page(&v)?;
    Ok(layout::redirect(&format!("/console/requests/{rid}")))
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

/// `GET /console/deliveries` (admins): dead-lettered notifications.
pub async fn deliveries(State(s): St, session: Session) -> Result<Response, Failure> {
    let v = session.viewer();
    let caller = session.principal.caller();
    let list = s.app.dead_letters(&caller, 200).await.or_page(&v)?;
    let rows = html! {
        @for m in &list {
            tr {
                td { (m.id) }
                td { (layout::time(m.created_at)) }
                td { code { (m.notification.kind) } br; (m.notification.subject) }
                td { (failed_channels(m.last_error.as_deref()).join(", ")) }
                td { @if m.done_channels.is_empty() { "none" } @else { (m.done_channels.join(", ")) } }
                td { (m.attempts) }
                td.summary { (layout::text(m.last_error.as_deref().unwrap_or(""))) }
            }
        }
    };
    let body = html! {
        p { "Notifications that could not be delivered after every retry. Each was alerted when it was dead-lettered; the audit log holds its record." }
        (layout::table("dead-letters", "Dead-lettered notifications, newest first",
            &["#", "Written", "Event", "Failed channel", "Delivered to", "Attempts", "Last error"], rows,
            list.is_empty().then_some("No dead letters: every notification was delivered or is still being retried.")))
    };
    Ok(layout::ok("Notification deliveries", &v, body))
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

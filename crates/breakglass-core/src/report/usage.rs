//! The break-glass usage log (every break-glass activation: who, when, for which incident
//! and why, which alerts went out on which channel and when, the post-incident review, how
//! long it lasted) and the session summary (the seed's `audit_jit_sessions`: totals, by
//! status, playbook, requester and incident, with grants per playbook per day for the
//! chart).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Period;
use crate::outbox::SentNotification;
use crate::request::{AccessRequest, Review, ReviewOutcome, SessionStatus, Status};
use crate::session::{Session, SessionSummary};

/// The break-glass usage log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakGlassLog {
    pub period: Period,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub generated_at: OffsetDateTime,
    /// Activations in the period.
    pub total: u64,
    /// Of which signed off.
    pub reviewed: u64,
    /// Of which the review is still outstanding.
    pub review_outstanding: u64,
    /// Signed off as inappropriate.
    pub inappropriate: u64,
    /// Whether the activations read were cut at the store's listing cap.
    pub truncated: bool,
    /// Every activation, newest first.
    pub uses: Vec<BreakGlassUse>,
}

/// One break-glass activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakGlassUse {
    pub request: String,
    pub grant: String,
    /// Who activated it.
    pub requester: String,
    pub playbook: String,
    pub role: String,
    pub account: String,
    pub incident: String,
    pub justification: String,
    /// When access began.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub activated_at: OffsetDateTime,
    /// When access ended (revoked or ran out), or the grant's end while it is live.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub ended_at: OffsetDateTime,
    /// How long it lasted (so far, while live), in seconds.
    pub duration_seconds: i64,
    /// Its state at the report's time.
    pub status: SessionStatus,
    /// Who revoked it, when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// Sets of credentials minted.
    pub credentials_issued: u64,
    /// The notifications it caused, oldest first.
    pub alerts: Vec<AlertSent>,
    /// The post-incident review.
    pub review: UseReview,
}

/// A notification about a break-glass use and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlertSent {
    /// What it announced (`break_glass_activated`, `grant_revoked`, ...).
    pub kind: String,
    pub subject: String,
    /// When it was written (in the same transaction as the change it announces).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub written_at: OffsetDateTime,
    /// The channels that took it (`webhook`, `slack`, `email`, ...).
    pub channels: Vec<String>,
    /// When every channel had taken it (`None`: not yet, or given up).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub delivered_at: Option<OffsetDateTime>,
    /// When delivery was given up on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub dead_lettered_at: Option<OffsetDateTime>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The post-incident review of a break-glass use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UseReview {
    /// Whether it was signed off.
    pub completed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ReviewOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// The break-glass log of `uses` (each activation with its notifications) at `now`.
pub fn break_glass_log(
    period: Period,
    now: OffsetDateTime,
    uses: &[(AccessRequest, Vec<SentNotification>)],
    truncated: bool,
) -> BreakGlassLog {
    let mut out: Vec<BreakGlassUse> = uses
        .iter()
        .filter_map(|(r, sent)| {
            let grant = r.grant.as_ref()?;
            if !period.contains(grant.start) {
                return None;
            }
            let session = Session::from_request(r, now)?;
            let ended_at = match &r.status {
                Status::Revoked { at, .. } => *at,
                Status::Active if now < grant.end => now.max(grant.start),
                _ => grant.end,
            };
            let review = match &r.review {
                Some(Review::Completed {
                    reviewer,
                    at,
                    outcome,
                    notes,
                }) => UseReview {
                    completed: true,
                    reviewer: Some(reviewer.to_string()),
                    at: Some(*at),
                    outcome: Some(*outcome),
                    notes: Some(notes.clone()),
                },
                _ => UseReview {
                    completed: false,
                    reviewer: None,
                    at: None,
                    outcome: None,
                    notes: None,
                },
            };
            Some(BreakGlassUse {
                request: r.id.to_string(),
                grant: grant.id.to_string(),
                requester: r.spec.requester.to_string(),
                playbook: r.spec.playbook.to_string(),
                role: r.spec.role.to_string(),
                account: r.spec.account.to_string(),
                incident: r.spec.incident.to_string(),
                justification: r.spec.justification.clone(),
                activated_at: grant.start,
                ended_at,
                duration_seconds: (ended_at - grant.start).whole_seconds().max(0),
                status: session.status,
                revoked_by: session.revoked_by.map(|u| u.to_string()),
                credentials_issued: u64::try_from(grant.issued.len()).unwrap_or(u64::MAX),
                alerts: sent
                    .iter()
                    .map(|s| AlertSent {
                        kind: s.message.notification.kind.clone(),
                        subject: s.message.notification.subject.clone(),
                        written_at: s.message.created_at,
                        channels: s.message.done_channels.clone(),
                        delivered_at: s.delivered_at,
                        dead_lettered_at: s.dead_at,
                        attempts: s.message.attempts,
                        last_error: s.message.last_error.clone(),
                    })
                    .collect(),
                review,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.activated_at
            .cmp(&a.activated_at)
            .then(b.request.cmp(&a.request))
    });
    let n = |f: &dyn Fn(&BreakGlassUse) -> bool| {
        u64::try_from(out.iter().filter(|u| f(u)).count()).unwrap_or(u64::MAX)
    };
    BreakGlassLog {
        period,
        generated_at: now,
        total: n(&|_| true),
        reviewed: n(&|u| u.review.completed),
        review_outstanding: n(&|u| !u.review.completed),
        inappropriate: n(&|u| u.review.outcome == Some(ReviewOutcome::Inappropriate)),
        truncated,
        uses: out,
    }
}

/// The session summary report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionReport {
    pub period: Period,
    /// The one incident reported on, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub generated_at: OffsetDateTime,
    /// The counts (computed by the store over every session of the period).
    pub summary: SessionSummary,
    /// Grants started per day and playbook (the chart's data), by day.
    pub timeline: Vec<TimelinePoint>,
    /// Whether `sessions` was cut at the store's listing cap (the summary is not).
    pub truncated: bool,
    /// The sessions, newest first.
    pub sessions: Vec<Session>,
}

/// Grants of one playbook started on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelinePoint {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    pub playbook: String,
    pub grants: u64,
}

/// The session report of a period (optionally one incident).
pub fn session_report(
    period: Period,
    incident: Option<String>,
    now: OffsetDateTime,
    summary: SessionSummary,
    sessions: Vec<Session>,
    truncated: bool,
) -> SessionReport {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for s in &sessions {
        *counts
            .entry((super::day(s.start), s.playbook.to_string()))
            .or_default() += 1;
    }
    SessionReport {
        period,
        incident,
        generated_at: now,
        summary,
        timeline: counts
            .into_iter()
            .map(|((day, playbook), grants)| TimelinePoint {
                day,
                playbook,
                grants,
            })
            .collect(),
        truncated,
        sessions,
    }
}

//! The session audit of the seeds: which grants existed, for whom, for which incident, and
//! how they ended, with the seed's summary counts.
//!
//! A session here is a grant (an activated request). Its status is computed at a given time:
//! a grant whose end has passed counts as expired even before the expiry sweep records it,
//! as the seed counts `expires_at < now`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{
    AccountId, GrantId, IncidentId, PlaybookId, RequestId, RoleArn, RoleName, Username,
};
use crate::request::{AccessRequest, RequestKind, Review, SessionStatus, Status};

/// Which requests to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Only these statuses (their stored names, e.g. `pending`); empty means any.
    pub statuses: Vec<String>,
    /// Only this requester's.
    pub requester: Option<Username>,
    /// Only this playbook's.
    pub playbook: Option<PlaybookId>,
    /// Only requests for this role (its account and name).
    pub role: Option<RoleArn>,
    /// Only break-glass uses whose post-incident review is still outstanding.
    pub review_outstanding: bool,
    /// Only requests filed under this incident.
    pub incident: Option<IncidentId>,
    /// At most this many (the store caps it).
    pub limit: Option<u32>,
}

/// Which sessions to list or count. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Started at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Started before this time.
    pub to: Option<OffsetDateTime>,
    /// For this incident.
    pub incident: Option<IncidentId>,
    /// Held by this requester.
    pub requester: Option<Username>,
    /// Of this role (in any account).
    pub role: Option<RoleName>,
    /// In this account.
    pub account: Option<AccountId>,
    /// With this status at the query time.
    pub status: Option<SessionStatus>,
    /// Standard or break-glass (or drill).
    pub kind: Option<RequestKind>,
    /// Also the drills' sessions (`false`: they are no one's access, and are left out unless
    /// `kind` asks for drills).
    pub include_drills: bool,
    /// At most this many (lists only; the store caps it).
    pub limit: Option<u32>,
}

/// One grant, as the session audit shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Session {
    pub request: RequestId,
    pub grant: GrantId,
    pub kind: RequestKind,
    pub requester: Username,
    pub playbook: PlaybookId,
    pub role: RoleName,
    pub account: AccountId,
    pub role_arn: RoleArn,
    pub incident: IncidentId,
    pub justification: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
    pub status: SessionStatus,
    /// Who revoked it, when revoked.
    pub revoked_by: Option<Username>,
    /// How many sets of credentials were minted.
    pub credentials_issued: usize,
    /// Whether a mandatory post-incident review is still outstanding.
    pub review_outstanding: bool,
}

impl Session {
    /// The session view of `request` at `now` (none before activation).
    pub fn from_request(request: &AccessRequest, now: OffsetDateTime) -> Option<Self> {
        let grant = request.grant.as_ref()?;
        let status = request.session_status(now)?;
        Some(Self {
            request: request.id.clone(),
            grant: grant.id.clone(),
            kind: request.kind,
            requester: request.spec.requester.clone(),
            playbook: request.spec.playbook.clone(),
            role: request.spec.role.clone(),
            account: request.spec.account.clone(),
            role_arn: request.spec.role_arn.clone(),
            incident: request.spec.incident.clone(),
            justification: request.spec.justification.clone(),
            start: grant.start,
            end: grant.end,
            status,
            revoked_by: match &request.status {
                Status::Revoked { by, .. } => Some(by.clone()),
                _ => None,
            },
            credentials_issued: grant.issued.len(),
            review_outstanding: request.review == Some(Review::Required),
        })
    }
}

/// The seed's audit summary: totals by status, and counts by playbook (the seed's "session
/// type"), kind, requester and incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionSummary {
    pub total: u64,
    pub active: u64,
    pub revoked: u64,
    pub expired: u64,
    pub by_playbook: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<String, u64>,
    pub by_requester: BTreeMap<String, u64>,
    pub by_incident: BTreeMap<String, u64>,
}

impl SessionSummary {
    /// The summary of `sessions`, computed in memory (stores compute it in SQL; this is the
    /// reference the store tests compare against).
    pub fn of(sessions: &[Session]) -> Self {
        let mut s = Self::default();
        for session in sessions {
            s.total += 1;
            match session.status {
                SessionStatus::Active => s.active += 1,
                SessionStatus::Revoked => s.revoked += 1,
                SessionStatus::Expired => s.expired += 1,
            }
            *s.by_playbook
                .entry(session.playbook.to_string())
                .or_default() += 1;
            *s.by_kind
                .entry(session.kind.as_str().to_owned())
                .or_default() += 1;
            *s.by_requester
                .entry(session.requester.to_string())
                .or_default() += 1;
            *s.by_incident
                .entry(session.incident.to_string())
                .or_default() += 1;
        }
        s
    }
}

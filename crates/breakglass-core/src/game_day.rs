//! Game days: a drill incident opened for real people. Requests filed under its incident id
//! are real requests (real approvers, real step-ups) flagged as a drill everywhere they are
//! shown; finishing the game day reports who took part, each request's times and what
//! failed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{IncidentId, PlaybookId, RequestId, RoleArn, Username};
use crate::request::{AccessRequest, RequestKind, Status};

/// Every game day's incident id starts with this; a request may use such an id only while
/// that game day is open (checked by the application layer), so a real incident can never
/// pass for a drill.
pub const GAME_DAY_PREFIX: &str = "GAMEDAY-";

/// How long a game day stays open at most: past it, requests under its id are refused
/// even if nobody finished it.
pub const GAME_DAY_LENGTH: time::Duration = time::Duration::hours(24);

/// Whether `incident` is a game day's.
pub fn is_game_day(incident: &IncidentId) -> bool {
    incident.as_str().starts_with(GAME_DAY_PREFIX)
}

/// Whether `incident` could pass for a drill's or a game day's without being one: it starts,
/// in any ASCII case, with `GAMEDAY` or `DRILL-` (the drill runner's own incident ids).
pub fn looks_like_a_drill(incident: &IncidentId) -> bool {
    let upper = incident.as_str().to_ascii_uppercase();
    upper.starts_with("GAMEDAY") || upper.starts_with("DRILL-")
}

/// The game day's incident id for a fresh request id (`r-abc…` → `GAMEDAY-ABC…`).
pub fn game_day_id(fresh: &RequestId) -> IncidentId {
    let suffix = fresh.as_str().trim_start_matches("r-").to_uppercase();
    IncidentId::from_trusted(format!("{GAME_DAY_PREFIX}{suffix}"))
}

/// One game day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GameDay {
    /// Its incident id (`GAMEDAY-…`): responders file requests under it.
    pub incident: IncidentId,
    /// What the exercise is about.
    pub scenario: String,
    /// Who opened it.
    pub started_by: Username,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub started_at: OffsetDateTime,
    /// When it closes on its own ([`GAME_DAY_LENGTH`] after it began).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub ends_at: OffsetDateTime,
    /// When it was finished, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub finished_at: Option<OffsetDateTime>,
}

/// One request of a game day, with its times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GameDayRequest {
    pub request: RequestId,
    pub requester: Username,
    pub playbook: PlaybookId,
    pub role_arn: RoleArn,
    /// `standard` or `break_glass`.
    pub kind: RequestKind,
    /// Where it ended (`revoked`, `expired`, `denied`, ...).
    pub status: String,
    /// Who approved it.
    pub approvers: Vec<Username>,
    /// From submission to approval (quorum), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_approve_ms: Option<u64>,
    /// From submission to the first credentials, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_access_ms: Option<u64>,
    /// What went wrong, if it did not reach access (denied, timed out, cancelled, never
    /// activated, no credentials minted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// What `drill finish` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GameDayReport {
    pub game_day: GameDay,
    /// Everyone who requested, approved, denied or revoked, in name order.
    pub participants: Vec<Username>,
    /// Its requests, oldest first.
    pub requests: Vec<GameDayRequest>,
}

fn ms(from: OffsetDateTime, to: OffsetDateTime) -> Option<u64> {
    u64::try_from((to - from).whole_milliseconds()).ok()
}

/// The report of `game_day` over its `requests` (those filed under its incident id).
pub fn report(game_day: GameDay, requests: &[AccessRequest]) -> GameDayReport {
    let mut participants = std::collections::BTreeSet::new();
    let mut rows: Vec<(OffsetDateTime, GameDayRequest)> = requests
        .iter()
        .filter(|r| r.spec.incident == game_day.incident)
        .map(|r| {
            participants.insert(r.spec.requester.clone());
            for a in &r.approvals {
                participants.insert(a.approver.clone());
            }
            match &r.status {
                Status::Denied { by, .. }
                | Status::Revoked { by, .. }
                | Status::Cancelled { by, .. } => {
                    participants.insert(by.clone());
                }
                _ => {}
            }
            let approved_at = r
                .approvals
                .iter()
                .filter(|a| a.digest == r.digest)
                .map(|a| a.at)
                .max();
            let first_mint = r
                .grant
                .as_ref()
                .and_then(|g| g.issued.first())
                .map(|i| i.at);
            let failure = match (&r.status, first_mint) {
                (Status::Denied { by, reason, .. }, _) => Some(format!("denied by {by}: {reason}")),
                (Status::TimedOut { .. }, _) => Some("timed out waiting for approvers".to_owned()),
                (Status::Cancelled { reason, .. }, _) => Some(format!("cancelled: {reason}")),
                (Status::Pending, _) => Some("still waiting for approvers".to_owned()),
                (Status::Approved { .. }, _) => Some("approved but never activated".to_owned()),
                (_, None) if r.grant.is_none() => Some("never activated".to_owned()),
                (_, None) => Some("activated, but no credentials were ever minted".to_owned()),
                _ => None,
            };
            (
                r.created_at,
                GameDayRequest {
                    request: r.id.clone(),
                    requester: r.spec.requester.clone(),
                    playbook: r.spec.playbook.clone(),
                    role_arn: r.spec.role_arn.clone(),
                    kind: r.kind,
                    status: r.status.name().to_owned(),
                    approvers: r.current_approvers(),
                    time_to_approve_ms: approved_at.and_then(|a| ms(r.created_at, a)),
                    time_to_access_ms: first_mint.and_then(|m| ms(r.created_at, m)),
                    failure,
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1.request).cmp(&(b.0, &b.1.request)));
    GameDayReport {
        game_day,
        participants: participants.into_iter().collect(),
        requests: rows.into_iter().map(|(_, row)| row).collect(),
    }
}

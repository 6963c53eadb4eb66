//! Access requests and the grants they become: the lifecycle of DESIGN §3 as an explicit
//! state machine.
//!
//! ```text
//! pending ──approve (N of M)──▶ approved ──activate──▶ active ──▶ expired | revoked
//!    └──▶ denied | cancelled | timed_out        └──▶ expired | revoked
//! break-glass activation ──────────────────────────▶ active (review required)
//! ```
//!
//! One request aggregate carries its approvals and, once activated, its grant, so every
//! transition changes exactly one row and one version number. Transitions are pure
//! functions of (state, command, rules, now) in [`transition`]; nothing here reads a clock.

mod checks;
mod create;
mod error;
mod live;
mod narrow;
mod offers;
mod pending;
mod transition;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::canonical::{CanonicalError, Sha256Digest};
use crate::model::{
    AccountId, GrantId, GroupName, IncidentId, PlaybookId, RequestId, RoleArn, RoleName, Username,
};
use crate::rules::Decision;

pub use crate::model::{RequestKind, ReviewOutcome};
pub use checks::step_up_factor;
pub use create::{
    CONSOLE_SESSION, Retroactive, activate_break_glass, check_break_glass, check_submit,
    retroactive_break_glass, submit, submit_drill, submit_narrowed,
};
pub use error::TransitionError;
pub use narrow::{NarrowError, narrow};
pub use offers::{Offer, Target, approvable, offers};
pub use transition::{Command, Env, NewRequest, Transition, apply};

/// Durations travel as whole seconds in JSON.
pub(crate) mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.whole_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::seconds(i64::deserialize(d)?))
    }
}

/// Exactly what was asked for. Approvals are bound to the digest of this (plus the request's
/// id and kind): change any field and earlier approvals stop counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestSpec {
    /// Who asked.
    pub requester: Username,
    /// Through which playbook.
    pub playbook: PlaybookId,
    /// Which role.
    pub role: RoleName,
    /// In which account.
    pub account: AccountId,
    /// The role copy's ARN (resolved from the catalog at submission).
    pub role_arn: RoleArn,
    /// The session policy every credential will carry: the playbook's at submission, or
    /// the requester's narrowing of it (see `narrowed`).
    pub session_policy: String,
    /// Whether `session_policy` is the requester's narrowing of the playbook's, proven no
    /// wider by [`narrow`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub narrowed: bool,
    /// For how long, in total.
    #[serde(with = "seconds")]
    #[schemars(with = "i64")]
    pub duration: Duration,
    /// For which incident.
    pub incident: IncidentId,
    /// Why.
    pub justification: String,
}

/// One approver's approval of one exact version of a request (or extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApprovalRecord {
    /// Who approved.
    pub approver: Username,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// The digest they approved.
    pub digest: Sha256Digest,
    /// What they said.
    pub comment: String,
    /// The rules' decision that let them approve, at the time.
    pub decision: Decision,
}

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Waiting for approvers.
    Pending,
    /// Quorum reached; the requester may activate until `activate_by`.
    Approved {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        activate_by: OffsetDateTime,
    },
    /// The grant is live (see [`AccessRequest::grant`]).
    Active,
    /// The grant (or the activation window) ran out.
    Expired {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
    },
    /// Access was ended early.
    Revoked {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
        by: Username,
        reason: String,
    },
    /// An approver said no.
    Denied {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
        by: Username,
        reason: String,
    },
    /// The requester withdrew it.
    Cancelled {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
        by: Username,
        reason: String,
    },
    /// Nobody decided in time.
    TimedOut {
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
    },
}

impl Status {
    /// The status's stored name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved { .. } => "approved",
            Self::Active => "active",
            Self::Expired { .. } => "expired",
            Self::Revoked { .. } => "revoked",
            Self::Denied { .. } => "denied",
            Self::Cancelled { .. } => "cancelled",
            Self::TimedOut { .. } => "timed_out",
        }
    }

    /// Whether nothing more can happen to the request's access.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Pending | Self::Approved { .. } | Self::Active)
    }
}

/// An extension waiting for approvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PendingExtension {
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub requested_at: OffsetDateTime,
    /// How much time to add to the grant's end.
    #[serde(with = "seconds")]
    #[schemars(with = "i64")]
    pub add: Duration,
    /// Why.
    pub justification: String,
    /// What approvers approve: the request, the grant, its current end and the addition.
    pub digest: Sha256Digest,
    /// Approvals so far.
    pub approvals: Vec<ApprovalRecord>,
}

/// An extension that was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Extension {
    /// When it took effect.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// The end before.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub old_end: OffsetDateTime,
    /// The end after (always later).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub new_end: OffsetDateTime,
    /// Who approved it.
    pub approvers: Vec<Username>,
}

/// A set of credentials minted for a grant: the key id and a hash of the session token,
/// never the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssuedSession {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// The STS access key id (`ASIA…`).
    pub access_key_id: String,
    /// SHA-256 of the session token.
    pub session_token_sha256: Sha256Digest,
    /// When the credentials expire (never after the grant's end).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub expires_at: OffsetDateTime,
}

/// Live access: a grant id (the STS role session name), a start and an end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Grant {
    /// The grant id.
    pub id: GrantId,
    /// When access began.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub start: OffsetDateTime,
    /// When it ends (moved later, never earlier, by extensions).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
    /// Extensions applied, oldest first.
    pub extensions: Vec<Extension>,
    /// An extension waiting for approvers.
    pub pending_extension: Option<PendingExtension>,
    /// Credentials minted, oldest first.
    pub issued: Vec<IssuedSession>,
}

/// The post-incident review a break-glass use needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Review {
    /// Not done yet.
    Required,
    /// Signed off.
    Completed {
        reviewer: Username,
        #[serde(with = "time::serde::rfc3339")]
        #[schemars(with = "String", extend("format" = "date-time"))]
        at: OffsetDateTime,
        outcome: ReviewOutcome,
        notes: String,
    },
}

/// A request for access, with its approvals and (once activated) its grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessRequest {
    /// The request id.
    pub id: RequestId,
    /// Standard or break-glass.
    pub kind: RequestKind,
    /// What was asked for.
    pub spec: RequestSpec,
    /// The digest approvers approve (see [`request_digest`]).
    pub digest: Sha256Digest,
    /// N: distinct approvals needed, fixed at submission.
    pub required_approvals: u32,
    /// The groups approvers came from at submission (informational; the rules decide).
    pub approver_groups: Vec<GroupName>,
    /// When it was submitted.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub created_at: OffsetDateTime,
    /// When a pending request times out.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub pending_until: OffsetDateTime,
    /// Where it is.
    pub status: Status,
    /// Every approval given, for any digest the request has had.
    pub approvals: Vec<ApprovalRecord>,
    /// The grant, once activated.
    pub grant: Option<Grant>,
    /// The post-incident review (break-glass only).
    pub review: Option<Review>,
}

impl AccessRequest {
    /// The distinct approvers of the request's current digest.
    pub fn current_approvers(&self) -> Vec<Username> {
        distinct_approvers(&self.approvals, &self.digest)
    }

    /// The next moment something happens on its own (timeout, end of activation window, end
    /// of grant), if any.
    pub fn next_deadline(&self) -> Option<OffsetDateTime> {
        match &self.status {
            Status::Pending => Some(self.pending_until),
            Status::Approved { activate_by, .. } => Some(*activate_by),
            Status::Active => self.grant.as_ref().map(|g| g.end),
            _ => None,
        }
    }

    /// What the rules say about `principal` taking `action` on this request, asked exactly
    /// as the transitions ask (for showing who may act and which policy allows it; the
    /// transitions still decide, and still refuse self-approval whatever this says).
    pub fn decision_for(
        &self,
        rules: &crate::rules::Rules,
        principal: &Username,
        action: crate::rules::Action,
    ) -> Decision {
        crate::drill::decision(
            self.kind == RequestKind::Drill,
            &self.spec.requester,
            principal,
            action,
        )
        .unwrap_or_else(|| {
            rules.decide(
                principal,
                action,
                &self.spec.playbook,
                &checks::std_ask(self),
            )
        })
    }

    /// The session status of its grant at `now` (none before activation).
    pub fn session_status(&self, now: OffsetDateTime) -> Option<SessionStatus> {
        let grant = self.grant.as_ref()?;
        Some(match &self.status {
            Status::Revoked { .. } => SessionStatus::Revoked,
            Status::Active if now < grant.end => SessionStatus::Active,
            _ => SessionStatus::Expired,
        })
    }
}

/// A grant's status as the session audit sees it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Live now.
    Active,
    /// Ran out (whether or not the expiry sweep has recorded it yet).
    Expired,
    /// Ended early.
    Revoked,
}

impl SessionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

pub(crate) fn distinct_approvers(
    approvals: &[ApprovalRecord],
    digest: &Sha256Digest,
) -> Vec<Username> {
    let mut out: Vec<Username> = Vec::new();
    for a in approvals.iter().filter(|a| &a.digest == digest) {
        if !out.contains(&a.approver) {
            out.push(a.approver.clone());
        }
    }
    out
}

/// The digest approvers approve: SHA-256 of the canonical JSON of the request id, its kind
/// and everything in its spec (role, account, session policy, duration, incident, ...).
pub fn request_digest(
    id: &RequestId,
    kind: RequestKind,
    spec: &RequestSpec,
) -> Result<Sha256Digest, CanonicalError> {
    #[derive(Serialize)]
    struct Bound<'a> {
        request: &'a RequestId,
        kind: RequestKind,
        spec: &'a RequestSpec,
    }
    Sha256Digest::of_canonical(&Bound {
        request: id,
        kind,
        spec,
    })
}

/// Timing rules that are configuration rather than policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long a request may wait for approvers.
    pub pending_timeout: Duration,
    /// How long an approved request may wait to be activated.
    pub activation_window: Duration,
    /// The shortest grant (STS issues nothing shorter than 15 minutes).
    pub min_duration: Duration,
    /// The longest justification, review note or reason, in characters.
    pub max_text: usize,
    /// How long the step-up that activated a break-glass grant also covers its first
    /// credentials; past it, the first mint asks for a step-up of its own.
    pub step_up_window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pending_timeout: Duration::hours(1),
            activation_window: Duration::hours(1),
            min_duration: Duration::minutes(15),
            max_text: 2_000,
            step_up_window: Duration::minutes(5),
        }
    }
}

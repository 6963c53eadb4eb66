//! The transitions: pure functions from (request, command, rules, now) to the new request
//! and the audit events that record the change.
//!
//! Every check a transition makes is here, in the order a reader would ask: is the request in
//! the right state, is it still in time, is the actor the right person, do the rules permit
//! it, is the approval for this exact request. Invariants that hold whatever the Cedar
//! policies say (no self-approval or self-review, approvals bound to the digest, distinct
//! approvers, N fixed at submission) are enforced here in code.

use time::{Duration, OffsetDateTime};

pub use super::checks::Env;
use super::{AccessRequest, ReviewOutcome, TransitionError, live, pending};
use crate::audit::Actor;
use crate::audit::events::AuditEvent;
use crate::canonical::Sha256Digest;
use crate::model::{AccountId, GrantId, IncidentId, PlaybookId, RoleName, Username};
use crate::rules::Action;

/// What a responder asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Who asks.
    pub requester: Username,
    /// Through which playbook.
    pub playbook: PlaybookId,
    /// Which role.
    pub role: RoleName,
    /// In which account.
    pub account: AccountId,
    /// For how long.
    pub duration: Duration,
    /// For which incident.
    pub incident: IncidentId,
    /// Why.
    pub justification: String,
}

/// A command on an existing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Approve the request whose digest the approver reviewed.
    Approve {
        approver: Username,
        digest: Sha256Digest,
        comment: String,
    },
    /// Turn the request down.
    Deny { approver: Username, reason: String },
    /// The requester withdraws a pending request.
    Cancel { by: Username, reason: String },
    /// The requester changes a pending request; approvals of the old version stop counting.
    Amend {
        by: Username,
        duration: Option<Duration>,
        incident: Option<IncidentId>,
        justification: Option<String>,
        /// A new narrowing of the playbook's session policy (empty: the playbook's own).
        session_policy: Option<String>,
    },
    /// A pending request's time ran out.
    TimeOut,
    /// The requester starts using an approved request.
    Activate { by: Username, grant: GrantId },
    /// The grant holder asks for more time.
    RequestExtension {
        by: Username,
        add: Duration,
        justification: String,
    },
    /// Approve the pending extension whose digest the approver reviewed.
    ApproveExtension {
        approver: Username,
        digest: Sha256Digest,
        comment: String,
    },
    /// Turn the pending extension down.
    DenyExtension { approver: Username, reason: String },
    /// End access early.
    Revoke {
        by: Username,
        reason: String,
        /// A broker administrator ends the access whatever the rules say: ending access is
        /// the safe direction, and an administrator must be able to do it in an incident.
        by_admin: bool,
    },
    /// The grant or the activation window ran out.
    Expire,
    /// Sign off the post-incident review of a break-glass use.
    Review {
        by: Username,
        outcome: ReviewOutcome,
        notes: String,
    },
    /// Record credentials minted for the grant (key id and token hash only).
    RecordIssuance {
        access_key_id: String,
        session_token_sha256: Sha256Digest,
        expires_at: OffsetDateTime,
    },
}

impl Command {
    /// Who is acting.
    pub fn actor(&self, request: &AccessRequest) -> Actor {
        match self {
            Self::Approve { approver, .. }
            | Self::Deny { approver, .. }
            | Self::ApproveExtension { approver, .. }
            | Self::DenyExtension { approver, .. } => Actor::User(approver.clone()),
            Self::Cancel { by, .. }
            | Self::Amend { by, .. }
            | Self::Activate { by, .. }
            | Self::RequestExtension { by, .. }
            | Self::Revoke { by, .. }
            | Self::Review { by, .. } => Actor::User(by.clone()),
            Self::RecordIssuance { .. } => Actor::User(request.spec.requester.clone()),
            Self::TimeOut | Self::Expire => Actor::System,
        }
    }

    /// The rules' action this command exercises (for refusal records).
    pub fn action(&self) -> Action {
        match self {
            Self::Approve { .. }
            | Self::Deny { .. }
            | Self::ApproveExtension { .. }
            | Self::DenyExtension { .. } => Action::Approve,
            Self::Revoke { .. } => Action::Revoke,
            Self::Review { .. } => Action::Review,
            _ => Action::Request,
        }
    }
}

/// The result of a transition: the new request and what to record about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The request after the change.
    pub request: AccessRequest,
    /// Who caused it.
    pub actor: Actor,
    /// The audit events, in order.
    pub events: Vec<AuditEvent>,
}

/// Applies `command` to `request` at `env.now`.
pub fn apply(
    request: &AccessRequest,
    command: Command,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    let actor = command.actor(request);
    let mut next = request.clone();
    let r = request;
    let n = &mut next;
    let events = match command {
        Command::Approve {
            approver,
            digest,
            comment,
        } => pending::approve(r, n, env, approver, digest, &comment)?,
        Command::Deny { approver, reason } => pending::deny(r, n, env, approver, &reason)?,
        Command::Cancel { by, reason } => pending::cancel(r, n, env, by, &reason)?,
        Command::Amend {
            by,
            duration,
            incident,
            justification,
            session_policy,
        } => pending::amend(
            r,
            n,
            env,
            by,
            pending::Amendment {
                duration,
                incident,
                justification,
                session_policy,
            },
        )?,
        Command::TimeOut => pending::time_out(r, n, env)?,
        Command::Activate { by, grant } => pending::activate(r, n, env, by, grant)?,
        Command::RequestExtension {
            by,
            add,
            justification,
        } => live::request_extension(r, n, env, by, add, &justification)?,
        Command::ApproveExtension {
            approver,
            digest,
            comment,
        } => live::approve_extension(r, n, env, approver, digest, &comment)?,
        Command::DenyExtension { approver, reason } => {
            live::deny_extension(r, n, env, approver, &reason)?
        }
        Command::Revoke {
            by,
            reason,
            by_admin,
        } => live::revoke(r, n, env, by, &reason, by_admin)?,
        Command::Expire => live::expire(r, n, env)?,
        Command::Review { by, outcome, notes } => live::review(r, n, env, by, outcome, &notes)?,
        Command::RecordIssuance {
            access_key_id,
            session_token_sha256,
            expires_at,
        } => live::record_issuance(r, n, env, access_key_id, session_token_sha256, expires_at)?,
    };
    Ok(Transition {
        request: next,
        actor,
        events,
    })
}

//! The transitions: pure functions from (request, command, rules, now) to the new request
//! and the audit events that record the change.
//!
//! Every check a transition makes is here, in the order a reader would ask: is the request in
//! the right state, is it still in time, is the actor the right person, do the rules permit
//! it, is the approval for this exact request. Invariants that hold whatever the Cedar
//! policies say (no self-approval or self-review, approvals bound to the digest, distinct
//! approvers, N fixed at submission) are enforced here in code.

use time::{Duration, OffsetDateTime};

use super::{
    AccessRequest, ApprovalRecord, RequestKind, RequestSpec, ReviewOutcome, Settings,
    TransitionError, distinct_approvers, live, pending,
};
use crate::audit::Actor;
use crate::audit::events::AuditEvent;
use crate::canonical::Sha256Digest;
use crate::model::{AccountId, GrantId, IncidentId, Playbook, PlaybookId, RoleName, Username};
use crate::rules::{Action, Ask, Decision, Rules};

/// What a transition needs besides the request and the command.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The rules (and the catalog they were built from).
    pub rules: &'a Rules,
    /// Timeouts and limits.
    pub settings: &'a Settings,
    /// The current time, from the caller's clock.
    pub now: OffsetDateTime,
}

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

pub(super) fn text(
    field: &'static str,
    value: &str,
    settings: &Settings,
) -> Result<String, TransitionError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(TransitionError::InvalidInput {
            field,
            problem: "must not be empty".to_owned(),
        });
    }
    let n = value.chars().count();
    if n > settings.max_text {
        return Err(TransitionError::InvalidInput {
            field,
            problem: format!("is {n} characters long; the limit is {}", settings.max_text),
        });
    }
    Ok(value.to_owned())
}

/// Free text that may be empty (comments).
pub(super) fn optional_text(
    field: &'static str,
    value: &str,
    settings: &Settings,
) -> Result<String, TransitionError> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, value, settings)
    }
}

pub(super) fn whole_seconds(d: Duration) -> Duration {
    Duration::seconds(d.whole_seconds())
}

pub(super) fn playbook<'a>(
    rules: &'a Rules,
    id: &PlaybookId,
) -> Result<&'a Playbook, TransitionError> {
    rules
        .catalog()
        .playbook(id)
        .ok_or_else(|| TransitionError::UnknownPlaybook(id.clone()))
}

pub(super) fn check_duration(
    requested: Duration,
    playbook: &Playbook,
    settings: &Settings,
) -> Result<(), TransitionError> {
    if requested < settings.min_duration {
        return Err(TransitionError::BadDuration {
            requested,
            bound: format!("the minimum is {}", settings.min_duration),
        });
    }
    if requested > playbook.max_duration {
        return Err(TransitionError::BadDuration {
            requested,
            bound: format!(
                "playbook `{}` allows at most {}",
                playbook.id, playbook.max_duration
            ),
        });
    }
    Ok(())
}

pub(super) fn ask(spec: &RequestSpec, duration: Duration, mfa: bool, break_glass: bool) -> Ask {
    Ask {
        requester: spec.requester.clone(),
        role_arn: spec.role_arn.clone(),
        account: spec.account.clone(),
        duration,
        incident: spec.incident.clone(),
        mfa,
        break_glass,
    }
}

/// Asks the rules; a deny becomes [`TransitionError::NotAllowed`].
pub(super) fn permit(
    env: &Env<'_>,
    principal: &Username,
    action: Action,
    spec: &RequestSpec,
    ask: &Ask,
) -> Result<Decision, TransitionError> {
    let decision = env.rules.decide(principal, action, &spec.playbook, ask);
    if decision.allowed {
        Ok(decision)
    } else {
        Err(TransitionError::NotAllowed {
            principal: principal.clone(),
            action,
            playbook: spec.playbook.clone(),
            decision,
        })
    }
}

pub(super) fn std_ask(request: &AccessRequest) -> Ask {
    ask(
        &request.spec,
        request.spec.duration,
        false,
        request.kind == RequestKind::BreakGlass,
    )
}

pub(super) fn wrong_state(request: &AccessRequest, needed: &'static str) -> TransitionError {
    TransitionError::WrongState {
        request: request.id.clone(),
        state: request.status.name(),
        needed,
    }
}

pub(super) fn require_requester(
    request: &AccessRequest,
    actor: &Username,
    what: &'static str,
) -> Result<(), TransitionError> {
    if actor == &request.spec.requester {
        Ok(())
    } else {
        Err(TransitionError::NotRequester {
            actor: actor.clone(),
            requester: request.spec.requester.clone(),
            what,
        })
    }
}

/// What recording one approval produced.
pub(super) struct Recorded {
    pub decision: Decision,
    pub comment: String,
    pub approvers: Vec<Username>,
    pub count: u32,
}

/// The invariants of an approval, whatever the policies say, then the policy: the approver
/// is not the requester, the rules let them approve, they approve the current digest, and
/// they have not approved it before. On success the approval is appended to `approvals`.
pub(super) fn record_approval(
    env: &Env<'_>,
    request: &AccessRequest,
    approvals: &mut Vec<ApprovalRecord>,
    current: Sha256Digest,
    approver: &Username,
    digest: Sha256Digest,
    comment: &str,
) -> Result<Recorded, TransitionError> {
    let decision = approver_decision(env, request, approver)?;
    if digest != current {
        return Err(TransitionError::StaleDigest {
            approved: digest,
            current,
        });
    }
    if distinct_approvers(approvals, &current).contains(approver) {
        return Err(TransitionError::AlreadyApproved(approver.clone()));
    }
    let comment = optional_text("comment", comment, env.settings)?;
    approvals.push(ApprovalRecord {
        approver: approver.clone(),
        at: env.now,
        digest,
        comment: comment.clone(),
        decision: decision.clone(),
    });
    let approvers = distinct_approvers(approvals, &current);
    let count = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
    Ok(Recorded {
        decision,
        comment,
        approvers,
        count,
    })
}

/// May `approver` decide on (approve or deny) `request`? Never its requester.
pub(super) fn approver_decision(
    env: &Env<'_>,
    request: &AccessRequest,
    approver: &Username,
) -> Result<Decision, TransitionError> {
    if approver == &request.spec.requester {
        return Err(TransitionError::SelfApproval(approver.clone()));
    }
    permit(
        env,
        approver,
        Action::Approve,
        &request.spec,
        &std_ask(request),
    )
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
        } => pending::amend(r, n, env, by, duration, incident, justification)?,
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

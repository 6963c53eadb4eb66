//! The checks and small steps every transition shares: the transition's environment, text
//! and duration checks, the rules' verdicts and recording an approval. A module of its own
//! so `pending`, `live` and `create` use them without depending on `transition`, which
//! dispatches to them.

use time::{Duration, OffsetDateTime};

use super::{
    AccessRequest, ApprovalRecord, RequestKind, RequestSpec, Settings, TransitionError,
    distinct_approvers,
};
use crate::canonical::Sha256Digest;
use crate::model::{Factor, Playbook, PlaybookId, Username};
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

/// Refuses a step-up for `action` on playbook `id` proven by a factor the playbook does not
/// accept (`step_up = "passkey"` refuses a TOTP code).
pub fn step_up_factor(
    rules: &Rules,
    id: &PlaybookId,
    factor: Factor,
    action: Action,
) -> Result<(), TransitionError> {
    let playbook = playbook(rules, id)?;
    if playbook.step_up.accepts(factor) {
        Ok(())
    } else {
        Err(TransitionError::PasskeyRequired {
            playbook: id.clone(),
            action,
        })
    }
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

/// Asks whether `principal` may do `action` on the existing `request`: the drill rule for a
/// drill request or a drill identity ([`crate::drill::decision`]), the rules otherwise. A
/// deny becomes [`TransitionError::NotAllowed`].
pub(super) fn authorize(
    env: &Env<'_>,
    request: &AccessRequest,
    principal: &Username,
    action: Action,
    ask: &Ask,
) -> Result<Decision, TransitionError> {
    match crate::drill::decision(
        request.kind == RequestKind::Drill,
        &request.spec.requester,
        principal,
        action,
    ) {
        None => permit(env, principal, action, &request.spec, ask),
        Some(decision) if decision.allowed => Ok(decision),
        Some(decision) => Err(TransitionError::NotAllowed {
            principal: principal.clone(),
            action,
            playbook: request.spec.playbook.clone(),
            decision,
        }),
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
    authorize(env, request, approver, Action::Approve, &std_ask(request))
}

/// Sets `spec`'s session policy to `text`, the requester's narrowing of `playbook`'s, once
/// proven no wider; an empty `text` restores the playbook's own.
pub(super) fn apply_narrowing(
    spec: &mut RequestSpec,
    playbook: &crate::model::Playbook,
    text: &str,
    env: &Env<'_>,
) -> Result<(), TransitionError> {
    if text.trim().is_empty() {
        spec.session_policy = playbook.session_policy.clone();
        spec.narrowed = false;
        return Ok(());
    }
    let narrowed = super::narrow(
        playbook.id.as_str(),
        &playbook.session_policy,
        text,
        env.rules
            .permissions()
            .map(crate::model::PermissionModel::actions),
    )?;
    spec.narrowed = narrowed != playbook.session_policy;
    spec.session_policy = narrowed;
    Ok(())
}

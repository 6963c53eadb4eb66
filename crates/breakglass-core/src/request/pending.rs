//! Transitions before access exists: approving, denying, cancelling, amending and timing out
//! a pending request, and activating an approved one.

use time::OffsetDateTime;

use super::checks::{
    Env, approver_decision, authorize, check_duration, optional_text, playbook, record_approval,
    require_requester, std_ask, text, whole_seconds, wrong_state,
};
use super::{AccessRequest, Grant, Status, TransitionError, request_digest};
use crate::audit::AuditEvent;
use crate::audit::events::{
    ApprovalRecorded, GrantActivated, RequestAmended, RequestApproved, RequestCancelled,
    RequestDenied, RequestTimedOut,
};
use crate::canonical::Sha256Digest;
use crate::model::{GrantId, IncidentId, Username};
use crate::rules::Action;

fn require_pending_in_time(
    request: &AccessRequest,
    now: OffsetDateTime,
    needed: &'static str,
) -> Result<(), TransitionError> {
    if request.status != Status::Pending {
        return Err(wrong_state(request, needed));
    }
    if now >= request.pending_until {
        return Err(TransitionError::PendingTimedOut {
            request: request.id.clone(),
            until: request.pending_until,
        });
    }
    Ok(())
}

pub(super) fn approve(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    approver: Username,
    digest: Sha256Digest,
    comment: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    require_pending_in_time(request, env.now, "only a pending request can be approved")?;
    let recorded = record_approval(
        env,
        request,
        &mut next.approvals,
        request.digest,
        &approver,
        digest,
        comment,
    )?;
    let mut events = vec![AuditEvent::from(ApprovalRecorded {
        request: request.id.clone(),
        approver,
        digest,
        comment: recorded.comment,
        approvals: recorded.count,
        required: request.required_approvals,
        decision: recorded.decision,
    })];
    if recorded.count >= request.required_approvals {
        let activate_by = env.now + env.settings.activation_window;
        next.status = Status::Approved {
            at: env.now,
            activate_by,
        };
        events.push(
            RequestApproved {
                request: request.id.clone(),
                digest,
                approvers: recorded.approvers,
                activate_by,
            }
            .into(),
        );
    }
    Ok(events)
}

pub(super) fn deny(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    approver: Username,
    reason: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    require_pending_in_time(request, env.now, "only a pending request can be denied")?;
    let decision = approver_decision(env, request, &approver)?;
    let reason = text("reason", reason, env.settings)?;
    next.status = Status::Denied {
        at: env.now,
        by: approver.clone(),
        reason: reason.clone(),
    };
    Ok(vec![
        RequestDenied {
            request: request.id.clone(),
            by: approver,
            reason,
            decision,
        }
        .into(),
    ])
}

pub(super) fn cancel(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    reason: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    require_pending_in_time(request, env.now, "only a pending request can be cancelled")?;
    require_requester(request, &by, "cancel the request")?;
    let reason = optional_text("reason", reason, env.settings)?;
    next.status = Status::Cancelled {
        at: env.now,
        by: by.clone(),
        reason: reason.clone(),
    };
    Ok(vec![
        RequestCancelled {
            request: request.id.clone(),
            by,
            reason,
        }
        .into(),
    ])
}

/// What an amendment changes (`None`: left as it is).
pub(super) struct Amendment {
    pub duration: Option<time::Duration>,
    pub incident: Option<IncidentId>,
    pub justification: Option<String>,
    /// A new narrowing of the playbook's session policy (empty: the playbook's own).
    pub session_policy: Option<String>,
}

pub(super) fn amend(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    change: Amendment,
) -> Result<Vec<AuditEvent>, TransitionError> {
    let Amendment {
        duration,
        incident,
        justification,
        session_policy,
    } = change;
    require_pending_in_time(request, env.now, "only a pending request can be amended")?;
    require_requester(request, &by, "amend the request")?;
    let playbook = playbook(env.rules, &request.spec.playbook)?;
    if let Some(text) = &session_policy {
        super::checks::apply_narrowing(&mut next.spec, playbook, text, env)?;
    }
    if let Some(d) = duration {
        let d = whole_seconds(d);
        check_duration(d, playbook, env.settings)?;
        next.spec.duration = d;
    }
    if let Some(i) = incident {
        next.spec.incident = i;
    }
    if let Some(j) = justification {
        next.spec.justification = text("justification", &j, env.settings)?;
    }
    let decision = authorize(env, next, &by, Action::Request, &std_ask(next))?;
    next.digest = request_digest(&next.id, next.kind, &next.spec)?;
    if next.digest == request.digest {
        return Err(TransitionError::InvalidInput {
            field: "amendment",
            problem: "changes nothing".to_owned(),
        });
    }
    Ok(vec![
        RequestAmended {
            request: request.id.clone(),
            old_digest: request.digest,
            new_digest: next.digest,
            duration_seconds: next.spec.duration.whole_seconds(),
            incident: next.spec.incident.clone(),
            justification: next.spec.justification.clone(),
            session_policy: (next.spec.session_policy != request.spec.session_policy)
                .then(|| next.spec.session_policy.clone()),
            decision,
        }
        .into(),
    ])
}

pub(super) fn time_out(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
) -> Result<Vec<AuditEvent>, TransitionError> {
    if request.status != Status::Pending {
        return Err(wrong_state(request, "only a pending request can time out"));
    }
    if env.now < request.pending_until {
        return Err(TransitionError::NotDue {
            request: request.id.clone(),
            due: request.pending_until,
        });
    }
    next.status = Status::TimedOut { at: env.now };
    Ok(vec![
        RequestTimedOut {
            request: request.id.clone(),
            pending_until: request.pending_until,
        }
        .into(),
    ])
}

pub(super) fn activate(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    grant: GrantId,
) -> Result<Vec<AuditEvent>, TransitionError> {
    let Status::Approved { activate_by, .. } = request.status else {
        return Err(wrong_state(
            request,
            "only an approved request can be activated",
        ));
    };
    require_requester(request, &by, "activate the request")?;
    if env.now >= activate_by {
        return Err(TransitionError::ActivationWindowLapsed {
            request: request.id.clone(),
            until: activate_by,
        });
    }
    // Eligibility is checked again: a responder removed from the team since the request
    // was approved does not get the access.
    authorize(env, request, &by, Action::Request, &std_ask(request))?;
    let end = env.now + request.spec.duration;
    next.status = Status::Active;
    next.grant = Some(Grant {
        id: grant.clone(),
        start: env.now,
        end,
        extensions: Vec::new(),
        pending_extension: None,
        issued: Vec::new(),
    });
    Ok(vec![
        GrantActivated {
            request: request.id.clone(),
            grant,
            requester: by,
            role_arn: request.spec.role_arn.clone(),
            start: env.now,
            end,
        }
        .into(),
    ])
}

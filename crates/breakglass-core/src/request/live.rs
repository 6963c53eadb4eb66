//! Transitions of live access: extending, revoking and expiring a grant, recording minted
//! credentials, and the post-incident review of a break-glass use.
//!
//! An extension adds time to the grant's current end while the grant is still live, so a
//! grant only ever gets longer and never has a gap; another grant of the same person and
//! role is another request and is never touched.

use time::{Duration, OffsetDateTime};

use super::checks::{
    Env, approver_decision, ask, authorize, permit, playbook, record_approval, require_requester,
    std_ask, text, whole_seconds, wrong_state,
};
use super::{
    AccessRequest, Extension, Grant, IssuedSession, PendingExtension, RequestKind, Review,
    ReviewOutcome, Status, TransitionError,
};
use crate::audit::AuditEvent;
use crate::audit::events::{
    CredentialsIssued, ExtensionApprovalRecorded, ExtensionDenied, ExtensionRequested,
    GrantExpired, GrantExtended, GrantRevoked, ReviewCompleted,
};
use crate::canonical::Sha256Digest;
use crate::model::{GrantId, Username};
use crate::rules::{Action, Decision};

/// The live grant of an active request, still before its end.
fn live_grant<'a>(
    request: &'a mut AccessRequest,
    now: OffsetDateTime,
    needed: &'static str,
) -> Result<&'a mut Grant, TransitionError> {
    if request.status != Status::Active {
        return Err(wrong_state(request, needed));
    }
    let id = request.id.clone();
    let grant = request
        .grant
        .as_mut()
        .ok_or_else(|| TransitionError::Internal(format!("active request `{id}` has no grant")))?;
    if now >= grant.end {
        return Err(TransitionError::GrantEnded {
            request: id,
            end: grant.end,
        });
    }
    Ok(grant)
}

/// What approvers of an extension approve: the request, the grant, its current end and the
/// addition.
fn extension_digest(
    request: &AccessRequest,
    grant: &Grant,
    add: Duration,
    justification: &str,
) -> Result<Sha256Digest, TransitionError> {
    #[derive(serde::Serialize)]
    struct Bound<'a> {
        request_digest: &'a Sha256Digest,
        grant: &'a GrantId,
        #[serde(with = "time::serde::rfc3339")]
        current_end: OffsetDateTime,
        add_seconds: i64,
        justification: &'a str,
        extensions_applied: usize,
    }
    Ok(Sha256Digest::of_canonical(&Bound {
        request_digest: &request.digest,
        grant: &grant.id,
        current_end: grant.end,
        add_seconds: add.whole_seconds(),
        justification,
        extensions_applied: grant.extensions.len(),
    })?)
}

/// Moves the grant's end later by `add` and records the extension.
fn extend(
    request: &AccessRequest,
    grant: &mut Grant,
    add: Duration,
    approvers: Vec<Username>,
    now: OffsetDateTime,
) -> AuditEvent {
    let old_end = grant.end;
    grant.end = old_end + add;
    grant.pending_extension = None;
    grant.extensions.push(Extension {
        at: now,
        old_end,
        new_end: grant.end,
        approvers: approvers.clone(),
    });
    GrantExtended {
        request: request.id.clone(),
        grant: grant.id.clone(),
        old_end,
        new_end: grant.end,
        approvers,
    }
    .into()
}

pub(super) fn request_extension(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    add: Duration,
    justification: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    require_requester(request, &by, "extend the grant")?;
    if request.kind == RequestKind::BreakGlass {
        return Err(TransitionError::BreakGlassNotExtensible);
    }
    if request.kind == RequestKind::Drill {
        return Err(TransitionError::InvalidInput {
            field: "request",
            problem: "is a drill, whose grant cannot be extended".to_owned(),
        });
    }
    let justification = text("justification", justification, env.settings)?;
    let add = whole_seconds(add);
    if add <= Duration::ZERO {
        return Err(TransitionError::InvalidInput {
            field: "extension",
            problem: "must add a positive number of seconds".to_owned(),
        });
    }
    let grant = live_grant(next, env.now, "only an active grant can be extended")?;
    if grant.pending_extension.is_some() {
        return Err(TransitionError::ExtensionPending(request.id.clone()));
    }
    let playbook = playbook(env.rules, &request.spec.playbook)?;
    // Checked: `add` comes from the caller and may be absurdly large.
    let total = (grant.end - grant.start).checked_add(add);
    let Some(total) = total.filter(|t| *t <= playbook.max_duration) else {
        return Err(TransitionError::BadDuration {
            requested: total.unwrap_or(Duration::MAX),
            bound: format!(
                "playbook `{}` allows at most {} in total; submit a new request",
                playbook.id, playbook.max_duration
            ),
        });
    };
    let spec = &request.spec;
    let decision = permit(
        env,
        &by,
        Action::Request,
        spec,
        &ask(spec, total, false, false),
    )?;
    let digest = extension_digest(request, grant, add, &justification)?;
    let mut events = vec![AuditEvent::from(ExtensionRequested {
        request: request.id.clone(),
        grant: grant.id.clone(),
        add_seconds: add.whole_seconds(),
        justification: justification.clone(),
        digest,
        decision,
    })];
    if request.required_approvals == 0 {
        events.push(extend(request, grant, add, Vec::new(), env.now));
    } else {
        grant.pending_extension = Some(PendingExtension {
            requested_at: env.now,
            add,
            justification,
            digest,
            approvals: Vec::new(),
        });
    }
    Ok(events)
}

pub(super) fn approve_extension(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    approver: Username,
    digest: Sha256Digest,
    comment: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    let grant = live_grant(next, env.now, "only an active grant can be extended")?;
    let Some(pending) = grant.pending_extension.as_mut() else {
        return Err(TransitionError::NoPendingExtension(request.id.clone()));
    };
    let current = pending.digest;
    let recorded = record_approval(
        env,
        request,
        &mut pending.approvals,
        current,
        &approver,
        digest,
        comment,
    )?;
    let add = pending.add;
    let mut events = vec![AuditEvent::from(ExtensionApprovalRecorded {
        request: request.id.clone(),
        grant: grant.id.clone(),
        approver,
        digest,
        comment: recorded.comment,
        approvals: recorded.count,
        required: request.required_approvals,
        decision: recorded.decision,
    })];
    if recorded.count >= request.required_approvals {
        events.push(extend(request, grant, add, recorded.approvers, env.now));
    }
    Ok(events)
}

pub(super) fn deny_extension(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    approver: Username,
    reason: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    let grant = live_grant(next, env.now, "only an active grant can be extended")?;
    if grant.pending_extension.is_none() {
        return Err(TransitionError::NoPendingExtension(request.id.clone()));
    }
    let decision = approver_decision(env, request, &approver)?;
    let reason = text("reason", reason, env.settings)?;
    grant.pending_extension = None;
    Ok(vec![
        ExtensionDenied {
            request: request.id.clone(),
            grant: grant.id.clone(),
            by: approver,
            reason,
            decision,
        }
        .into(),
    ])
}

pub(super) fn revoke(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    reason: &str,
    by_admin: bool,
) -> Result<Vec<AuditEvent>, TransitionError> {
    const NEEDED: &str = "only approved or active access can be revoked";
    let grant = match &request.status {
        Status::Approved { .. } => None,
        Status::Active => {
            let g = live_grant(next, env.now, NEEDED)?;
            g.pending_extension = None;
            Some(g.id.clone())
        }
        _ => return Err(wrong_state(request, NEEDED)),
    };
    let decision = if by_admin {
        Decision::administrator()
    } else {
        authorize(env, request, &by, Action::Revoke, &std_ask(request))?
    };
    let reason = text("reason", reason, env.settings)?;
    next.status = Status::Revoked {
        at: env.now,
        by: by.clone(),
        reason: reason.clone(),
    };
    Ok(vec![
        GrantRevoked {
            request: request.id.clone(),
            grant,
            role_arn: request.spec.role_arn.clone(),
            by,
            reason,
            decision,
        }
        .into(),
    ])
}

pub(super) fn expire(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
) -> Result<Vec<AuditEvent>, TransitionError> {
    let (due, grant) = match (&request.status, &request.grant) {
        (Status::Approved { activate_by, .. }, _) => (*activate_by, None),
        (Status::Active, Some(g)) => (g.end, Some(g.id.clone())),
        _ => {
            return Err(wrong_state(
                request,
                "only approved or active access can expire",
            ));
        }
    };
    if env.now < due {
        return Err(TransitionError::NotDue {
            request: request.id.clone(),
            due,
        });
    }
    if let Some(g) = next.grant.as_mut() {
        g.pending_extension = None;
    }
    next.status = Status::Expired { at: env.now };
    Ok(vec![
        GrantExpired {
            request: request.id.clone(),
            grant,
            end: due,
        }
        .into(),
    ])
}

pub(super) fn review(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    by: Username,
    outcome: ReviewOutcome,
    notes: &str,
) -> Result<Vec<AuditEvent>, TransitionError> {
    match &request.review {
        None => return Err(TransitionError::ReviewNotRequired(request.id.clone())),
        Some(Review::Completed { .. }) => {
            return Err(TransitionError::AlreadyReviewed(request.id.clone()));
        }
        Some(Review::Required) => {}
    }
    if !matches!(
        request.status,
        Status::Expired { .. } | Status::Revoked { .. }
    ) {
        return Err(TransitionError::ReviewTooEarly(request.id.clone()));
    }
    if by == request.spec.requester {
        return Err(TransitionError::SelfReview(by));
    }
    let decision = authorize(env, request, &by, Action::Review, &std_ask(request))?;
    let notes = text("review notes", notes, env.settings)?;
    let grant = request
        .grant
        .as_ref()
        .map(|g| g.id.clone())
        .ok_or_else(|| {
            TransitionError::Internal(format!("break-glass request `{}` has no grant", request.id))
        })?;
    next.review = Some(Review::Completed {
        reviewer: by.clone(),
        at: env.now,
        outcome,
        notes: notes.clone(),
    });
    Ok(vec![
        ReviewCompleted {
            request: request.id.clone(),
            grant,
            reviewer: by,
            outcome,
            notes,
            decision,
        }
        .into(),
    ])
}

/// The STS access key id shape: `ASIA` then upper-case letters and digits, 16–128 long.
fn check_access_key_id(id: &str) -> Result<(), TransitionError> {
    let ok = id.len() >= 16
        && id.len() <= 128
        && id.starts_with("ASIA")
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(TransitionError::InvalidInput {
            field: "access key id",
            problem: format!(
                "`{}` is not an STS access key id (`ASIA` then 12 or more upper-case letters and digits)",
                id.chars().take(40).collect::<String>()
            ),
        })
    }
}

pub(super) fn record_issuance(
    request: &AccessRequest,
    next: &mut AccessRequest,
    env: &Env<'_>,
    access_key_id: String,
    session_token_sha256: Sha256Digest,
    expires_at: OffsetDateTime,
) -> Result<Vec<AuditEvent>, TransitionError> {
    check_access_key_id(&access_key_id)?;
    let now = env.now;
    let grant = live_grant(next, now, "credentials are issued for active grants only")?;
    if expires_at <= now || expires_at > grant.end {
        return Err(TransitionError::InvalidInput {
            field: "credential expiry",
            problem: format!(
                "{expires_at} is not between now ({now}) and the grant's end ({})",
                grant.end
            ),
        });
    }
    grant.issued.push(IssuedSession {
        at: now,
        access_key_id: access_key_id.clone(),
        session_token_sha256,
        expires_at,
    });
    Ok(vec![
        CredentialsIssued {
            request: request.id.clone(),
            grant: grant.id.clone(),
            access_key_id,
            session_token_sha256,
            expires_at,
        }
        .into(),
    ])
}

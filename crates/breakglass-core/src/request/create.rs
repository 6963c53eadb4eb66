//! Creating requests: resolving what a responder asked for against the catalog, submitting
//! it for approval, or activating it at once as break-glass.

use super::checks::{Env, ask, check_duration, permit, playbook, text, whole_seconds};
use super::{
    AccessRequest, Grant, RequestKind, RequestSpec, Status, Transition, TransitionError,
    request_digest,
};
use crate::audit::Actor;
use crate::audit::events::{AuditEvent, BreakGlassActivated, RequestApproved, RequestSubmitted};
use crate::model::{GrantId, RequestId};
use crate::rules::Action;

use super::transition::NewRequest;

/// Resolves what a responder asked for against the catalog: the playbook grants the role,
/// in that account, where it is deployed, for no longer than the playbook allows.
fn resolve(new: &NewRequest, env: &Env<'_>) -> Result<RequestSpec, TransitionError> {
    if env.rules.catalog().responder(&new.requester).is_none() {
        return Err(TransitionError::UnknownResponder(new.requester.clone()));
    }
    resolve_target(new, env)
}

/// [`resolve`] without the requester: the playbook, role, account and duration.
fn resolve_target(new: &NewRequest, env: &Env<'_>) -> Result<RequestSpec, TransitionError> {
    let catalog = env.rules.catalog();
    let playbook = playbook(env.rules, &new.playbook)?;
    if !playbook.roles.contains(&new.role) {
        return Err(TransitionError::RoleNotInPlaybook {
            playbook: playbook.id.clone(),
            role: new.role.clone(),
        });
    }
    if !playbook.accounts.is_empty() && !playbook.accounts.contains(&new.account) {
        return Err(TransitionError::AccountNotInPlaybook {
            playbook: playbook.id.clone(),
            account: new.account.clone(),
        });
    }
    let role =
        catalog
            .role(&new.role, &new.account)
            .ok_or_else(|| TransitionError::RoleNotDeployed {
                role: new.role.clone(),
                account: new.account.clone(),
            })?;
    let duration = whole_seconds(new.duration);
    check_duration(duration, playbook, env.settings)?;
    Ok(RequestSpec {
        requester: new.requester.clone(),
        playbook: playbook.id.clone(),
        role: new.role.clone(),
        account: new.account.clone(),
        role_arn: role.arn.clone(),
        session_policy: playbook.session_policy.clone(),
        narrowed: false,
        duration,
        incident: new.incident.clone(),
        justification: text("justification", &new.justification, env.settings)?,
    })
}

/// What admitting a request for approval found: its resolved spec, the rules' decision
/// and its playbook.
struct Admitted<'a> {
    spec: RequestSpec,
    decision: crate::rules::Decision,
    playbook: &'a crate::model::Playbook,
}

/// Whether `new` may be submitted for approval: it resolves against the catalog, the rules
/// let its requester ask for it, and enough approvers other than the requester exist.
fn admit<'a>(new: &NewRequest, env: &Env<'a>) -> Result<Admitted<'a>, TransitionError> {
    let spec = resolve(new, env)?;
    let decision = permit(
        env,
        &spec.requester,
        Action::Request,
        &spec,
        &ask(&spec, spec.duration, false, false),
    )?;
    let playbook = playbook(env.rules, &spec.playbook)?;
    let required = playbook.approval.required;
    let available = env
        .rules
        .catalog()
        .members_of(&playbook.approval.from_groups)
        .into_iter()
        .filter(|u| **u != spec.requester)
        .count();
    if usize::try_from(required).unwrap_or(usize::MAX) > available {
        return Err(TransitionError::QuorumUnreachable {
            playbook: playbook.id.clone(),
            requester: spec.requester.clone(),
            required,
            available,
        });
    }
    Ok(Admitted {
        spec,
        decision,
        playbook,
    })
}

/// Whether `new` may be submitted for approval, by the checks [`submit`] makes (the
/// catalog, the rules, the quorum); nothing is created.
pub fn check_submit(new: &NewRequest, env: &Env<'_>) -> Result<(), TransitionError> {
    admit(new, env).map(|_| ())
}

/// Whether `new` may be activated as break-glass, by the checks [`activate_break_glass`]
/// makes, given a verified MFA step-up; nothing is created.
pub fn check_break_glass(new: &NewRequest, env: &Env<'_>) -> Result<(), TransitionError> {
    admit_break_glass(new, true, env).map(|_| ())
}

/// Submits a new request for approval (or approves it at once when its playbook needs no
/// approvers).
pub fn submit(
    id: RequestId,
    new: NewRequest,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    submit_narrowed(id, new, None, env)
}

/// [`submit`], with the requester's narrowing of the playbook's session policy when
/// `session_policy` is given: it must be proven no wider ([`super::narrow()`]), and it is
/// then what approvers approve (it is in the digest) and what STS is given.
pub fn submit_narrowed(
    id: RequestId,
    new: NewRequest,
    session_policy: Option<&str>,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    let Admitted {
        mut spec,
        decision,
        playbook,
        ..
    } = admit(&new, env)?;
    if let Some(text) = session_policy {
        super::checks::apply_narrowing(&mut spec, playbook, text, env)?;
    }
    for_approval(id, RequestKind::Standard, spec, decision, playbook, env)
}

/// A new request of `kind` waiting for `playbook`'s approvals (approved at once when it
/// needs none), with the record of its submission: what [`submit`] and [`submit_drill`]
/// make once their checks passed.
fn for_approval(
    id: RequestId,
    kind: RequestKind,
    spec: RequestSpec,
    decision: crate::rules::Decision,
    playbook: &crate::model::Playbook,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    let required = playbook.approval.required;
    let digest = request_digest(&id, kind, &spec)?;
    let pending_until = env.now + env.settings.pending_timeout;
    let mut events = vec![AuditEvent::from(RequestSubmitted {
        request: id.clone(),
        kind,
        requester: spec.requester.clone(),
        playbook: spec.playbook.clone(),
        role_arn: spec.role_arn.clone(),
        account: spec.account.clone(),
        incident: spec.incident.clone(),
        duration_seconds: spec.duration.whole_seconds(),
        justification: spec.justification.clone(),
        session_policy: spec.narrowed.then(|| spec.session_policy.clone()),
        allows: super::narrow::allows_line(
            env.rules.permissions(),
            &spec.role,
            &spec.session_policy,
            spec.narrowed.then_some(playbook.session_policy.as_str()),
        ),
        digest,
        required_approvals: required,
        pending_until,
        decision,
    })];
    let mut status = Status::Pending;
    if required == 0 {
        let activate_by = env.now + env.settings.activation_window;
        status = Status::Approved {
            at: env.now,
            activate_by,
        };
        events.push(
            RequestApproved {
                request: id.clone(),
                digest,
                approvers: Vec::new(),
                activate_by,
            }
            .into(),
        );
    }
    let actor = Actor::User(spec.requester.clone());
    Ok(Transition {
        request: AccessRequest {
            id,
            kind,
            spec,
            digest,
            required_approvals: required,
            approver_groups: playbook.approval.from_groups.clone(),
            created_at: env.now,
            pending_until,
            status,
            approvals: Vec::new(),
            grant: None,
            review: None,
        },
        actor,
        events,
    })
}

/// Submits a drill: the drill identity ([`crate::drill::requester`]) asks for `role` in
/// `account` through `playbook`, exactly as a responder would, but under the drill's
/// harmless session policy ([`crate::drill::session_policy`]) and for the drill approvers
/// only (as many approvals as the playbook needs). The catalog checks are a real request's;
/// the rules are not asked, since a drill identity is no responder.
pub fn submit_drill(
    id: RequestId,
    new: NewRequest,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    if new.requester != crate::drill::requester() {
        return Err(TransitionError::InvalidInput {
            field: "requester",
            problem: format!(
                "`{}` is not the drill identity `{}`",
                new.requester,
                crate::drill::requester()
            ),
        });
    }
    let mut spec = resolve_target(&new, env)?;
    spec.session_policy = crate::drill::session_policy(&spec.role_arn);
    let playbook = playbook(env.rules, &spec.playbook)?;
    let decision = crate::drill::drill_decision(true);
    for_approval(id, RequestKind::Drill, spec, decision, playbook, env)
}

/// Activates emergency access at once: eligibility is still checked, an MFA step-up must
/// have been verified by the caller, and a post-incident review becomes mandatory.
pub fn activate_break_glass(
    id: RequestId,
    grant: GrantId,
    new: NewRequest,
    mfa_verified: bool,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    let (spec, decision, playbook) = admit_break_glass(&new, mfa_verified, env)?;
    let digest = request_digest(&id, RequestKind::BreakGlass, &spec)?;
    let start = env.now;
    let end = start + spec.duration;
    let event = BreakGlassActivated {
        request: id.clone(),
        grant: grant.clone(),
        requester: spec.requester.clone(),
        playbook: spec.playbook.clone(),
        role_arn: spec.role_arn.clone(),
        account: spec.account.clone(),
        incident: spec.incident.clone(),
        justification: spec.justification.clone(),
        digest,
        start,
        end,
        mfa_verified,
        decision,
    };
    let actor = Actor::User(spec.requester.clone());
    Ok(Transition {
        request: AccessRequest {
            id,
            kind: RequestKind::BreakGlass,
            spec,
            digest,
            required_approvals: playbook.approval.required,
            approver_groups: playbook.approval.from_groups.clone(),
            created_at: start,
            pending_until: start,
            status: Status::Active,
            approvals: Vec::new(),
            grant: Some(Grant {
                id: grant,
                start,
                end,
                extensions: Vec::new(),
                pending_extension: None,
                issued: Vec::new(),
            }),
            review: Some(super::Review::Required),
        },
        actor,
        events: vec![event.into()],
    })
}

/// The checks of a break-glass activation: the request resolves, its playbook allows
/// break-glass, the MFA step-up was verified, and the rules let the requester activate it.
fn admit_break_glass<'a>(
    new: &NewRequest,
    mfa_verified: bool,
    env: &Env<'a>,
) -> Result<
    (
        RequestSpec,
        crate::rules::Decision,
        &'a crate::model::Playbook,
    ),
    TransitionError,
> {
    let spec = resolve(new, env)?;
    let playbook = playbook(env.rules, &spec.playbook)?;
    if !playbook.break_glass {
        return Err(TransitionError::NotBreakGlassPlaybook(playbook.id.clone()));
    }
    if !mfa_verified {
        return Err(TransitionError::MfaRequired);
    }
    let decision = permit(
        env,
        &spec.requester,
        Action::ActivateBreakGlass,
        &spec,
        &ask(&spec, spec.duration, mfa_verified, true),
    )?;
    Ok((spec, decision, playbook))
}

/// What a retroactive break-glass record is made from: a `*-BREAK-GLASS` IAM user's sign-in
/// that CloudTrail showed, which no request announced.
#[derive(Debug, Clone)]
pub struct Retroactive<'a> {
    /// The responder the IAM user belongs to.
    pub requester: crate::model::Username,
    /// The break-glass playbook the emergency path stands in for.
    pub playbook: &'a crate::model::Playbook,
    /// The break-glass role the user may switch to.
    pub role: &'a crate::model::DeployedRole,
    /// When the user signed in (the grant's start).
    pub signed_in: time::OffsetDateTime,
    /// The incident id the record is filed under.
    pub incident: crate::model::IncidentId,
    /// What CloudTrail showed, in one paragraph (the record's justification).
    pub what: String,
    /// Its audit record (an `UnbrokeredUseDetected` naming this record).
    pub event: AuditEvent,
}

/// The longest an IAM user's console session lasts: the record's grant covers it, since the
/// broker cannot end it.
pub const CONSOLE_SESSION: time::Duration = time::Duration::hours(12);

/// Opens a retroactive break-glass record: a break-glass use the broker did not grant but
/// CloudTrail showed, closed at once (the broker cannot end an IAM user's console session)
/// and owing a post-incident review exactly like a break-glass activation.
pub fn retroactive_break_glass(
    id: RequestId,
    grant: GrantId,
    r: Retroactive<'_>,
    env: &Env<'_>,
) -> Result<Transition, TransitionError> {
    let justification = text("justification", &r.what, env.settings)?;
    let spec = RequestSpec {
        requester: r.requester.clone(),
        playbook: r.playbook.id.clone(),
        role: r.role.name.clone(),
        account: r.role.account.clone(),
        role_arn: r.role.arn.clone(),
        session_policy: r.playbook.session_policy.clone(),
        narrowed: false,
        duration: CONSOLE_SESSION,
        incident: r.incident,
        justification,
    };
    let digest = request_digest(&id, RequestKind::BreakGlass, &spec)?;
    let start = r.signed_in;
    Ok(Transition {
        request: AccessRequest {
            id,
            kind: RequestKind::BreakGlass,
            spec,
            digest,
            required_approvals: 0,
            approver_groups: r.playbook.approval.from_groups.clone(),
            created_at: env.now,
            pending_until: env.now,
            status: Status::Expired { at: env.now },
            approvals: Vec::new(),
            grant: Some(Grant {
                id: grant,
                start,
                end: start + CONSOLE_SESSION,
                extensions: Vec::new(),
                pending_extension: None,
                issued: Vec::new(),
            }),
            review: Some(super::Review::Required),
        },
        actor: Actor::System,
        events: vec![r.event],
    })
}

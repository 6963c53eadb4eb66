//! The broker: the request/approval/grant use cases, run over the ports.
//!
//! Each use case reads the request, applies a pure transition at the clock's time, and
//! commits the new state with its audit records and notifications in one store transaction
//! guarded by the row version. When two actors race, exactly one commit wins; the loser
//! reloads and re-applies its command to the new state, which usually refuses it (the
//! request is no longer pending) or records it (a second distinct approval).
//!
//! Refusals the rules or invariants make (self-approval, break-glass without eligibility or
//! MFA, ...) are recorded in the audit log as `action_refused` before the error is returned.
//!
//! A change that needs an MFA step-up (an approval, a break-glass activation) can carry the
//! proof as a [`StepUp`]: its `totp_verified` record and the spending of the code are part
//! of the change's own commit, so the code is consumed exactly when the change commits (a
//! refused change leaves it unused), and a replayed code makes the whole commit fail with
//! [`StoreError::StepUpUsed`].

use std::sync::{Arc, Mutex, RwLock};

use time::{Duration, OffsetDateTime};

use crate::audit::events::ActionRefused;
use crate::audit::{Actor, AuditEntry, AuditEvent};
use crate::canonical::Sha256Digest;
use crate::model::{GrantId, IncidentId, RequestId, Username};
use crate::outbox::notifications;
use crate::ports::{Clock, Commit, IdSource, RequestWrite, StepUp, Store, StoreError, Versioned};
use crate::refusals::{Announce, RefusalAlerts};
use crate::request::{
    AccessRequest, Command, Env, NewRequest, ReviewOutcome, Settings, Transition, TransitionError,
    activate_break_glass, apply, submit,
};
use crate::rules::{Action, Rules};

/// How many times a command is re-applied after losing a race before giving up.
const MAX_ATTEMPTS: u32 = 64;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The transition was refused (by the rules, an invariant, or the request's state).
    #[error(transparent)]
    Refused(#[from] TransitionError),
    /// No such request.
    #[error("no request `{0}`")]
    NotFound(String),
    /// The store failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request kept changing under us.
    #[error("request `{0}` is changing too often to apply the command; try again")]
    Busy(RequestId),
}

/// A state change that was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The request after the change.
    pub request: AccessRequest,
    /// Its new version.
    pub version: u64,
    /// The audit sequence numbers written.
    pub audit_seqs: Vec<u64>,
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending requests that timed out.
    pub timed_out: Vec<RequestId>,
    /// Approved requests or grants that expired.
    pub expired: Vec<RequestId>,
}

/// The broker's use cases over a store, a clock and an id source.
#[derive(Debug)]
pub struct Broker<S, C, I> {
    store: S,
    clock: C,
    ids: I,
    rules: RwLock<Arc<Rules>>,
    settings: Settings,
    refusal_alerts: Mutex<RefusalAlerts>,
}

/// The current time at the store's precision (microseconds, UTC).
fn precise(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(time::UtcOffset::UTC).truncate_to_microsecond()
}

impl<S: Store, C: Clock, I: IdSource> Broker<S, C, I> {
    /// A broker with these ports, rules and settings.
    pub fn new(store: S, clock: C, ids: I, rules: Rules, settings: Settings) -> Self {
        Self {
            store,
            clock,
            ids,
            rules: RwLock::new(Arc::new(rules)),
            settings,
            refusal_alerts: Mutex::new(RefusalAlerts::default()),
        }
    }

    /// The store (for the application layer, which reads beside the use cases).
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The clock the broker reads (for adapters that must agree with it, e.g. the
    /// revocation cutoff and credential durations).
    pub(crate) fn ids(&self) -> &I {
        &self.ids
    }

    pub(crate) fn clock(&self) -> &C {
        &self.clock
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<Rules> {
        match self.rules.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the rules (a config reload). Requests already decided keep their recorded
    /// approvals; approvals refused under the old rules are never counted retroactively.
    pub fn replace_rules(&self, rules: Rules) {
        let rules = Arc::new(rules);
        match self.rules.write() {
            Ok(mut g) => *g = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock's time at the store's precision.
    pub(crate) fn now(&self) -> OffsetDateTime {
        precise(self.clock.now())
    }

    /// Reads a request.
    pub async fn get(&self, id: &RequestId) -> Result<Versioned<AccessRequest>, BrokerError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| BrokerError::NotFound(id.to_string()))
    }

    /// Submits a request for approval.
    pub async fn submit(&self, new: NewRequest) -> Result<Outcome, BrokerError> {
        self.submit_via(new, None).await
    }

    /// [`Broker::submit`] of a request made through chat account `via` (when given), which
    /// is recorded with the submission, in its commit.
    pub async fn submit_via(
        &self,
        new: NewRequest,
        via: Option<&crate::chat::ChatOrigin>,
    ) -> Result<Outcome, BrokerError> {
        self.create(new, via, submit).await
    }

    /// [`Broker::submit_via`] with the requester's narrowing of the playbook's session
    /// policy, when given (see [`crate::request::submit_narrowed`]); a refused narrowing is
    /// audited like any other refusal.
    pub async fn submit_narrowed(
        &self,
        new: NewRequest,
        session_policy: Option<&str>,
        via: Option<&crate::chat::ChatOrigin>,
    ) -> Result<Outcome, BrokerError> {
        self.create(new, via, |id, new, env| {
            crate::request::submit_narrowed(id, new, session_policy, env)
        })
        .await
    }

    /// Creates the request `make` builds from `new` (a submission, a drill), or audits why
    /// it was refused; `via` is the chat account it came from, recorded in its commit.
    async fn create(
        &self,
        new: NewRequest,
        via: Option<&crate::chat::ChatOrigin>,
        make: impl FnOnce(RequestId, NewRequest, &Env<'_>) -> Result<Transition, TransitionError>,
    ) -> Result<Outcome, BrokerError> {
        let rules = self.rules();
        let now = self.now();
        let env = Env {
            rules: &rules,
            settings: &self.settings,
            now,
        };
        let id = self.ids.request_id();
        let actor = Actor::User(new.requester.clone());
        let playbook = new.playbook.clone();
        let note = via.map(|o| o.action_event("request", Some(&id)));
        match make(id.clone(), new, &env) {
            Ok(t) => self.commit_new(t, now, None, note).await,
            Err(e) => {
                let action = e.refusal();
                Err(self
                    .refuse(e, action, actor, Some(playbook), None, now)
                    .await)
            }
        }
    }

    /// A fresh request id from the id source (for ids derived from one, e.g. a game day's).
    pub fn fresh_request_id(&self) -> RequestId {
        self.ids.request_id()
    }

    /// Submits a drill request for `target` under `incident` (see
    /// [`crate::request::submit_drill`]); refusals are audited like any other.
    pub async fn submit_drill(&self, new: NewRequest) -> Result<Outcome, BrokerError> {
        self.create(new, None, crate::request::submit_drill).await
    }

    /// Activates emergency access. `mfa_verified` is the caller's statement that the
    /// requester just passed an MFA step-up.
    pub async fn activate_break_glass(
        &self,
        new: NewRequest,
        mfa_verified: bool,
    ) -> Result<Outcome, BrokerError> {
        self.break_glass(new, mfa_verified, None).await
    }

    /// Activates emergency access with the requester's MFA step-up `step_up` (`None`: no
    /// valid code was given). The code is spent in the activation's own commit.
    pub async fn activate_break_glass_stepped(
        &self,
        new: NewRequest,
        step_up: Option<StepUp>,
    ) -> Result<Outcome, BrokerError> {
        let verified = step_up.is_some();
        self.break_glass(new, verified, step_up).await
    }

    async fn break_glass(
        &self,
        new: NewRequest,
        mfa_verified: bool,
        step_up: Option<StepUp>,
    ) -> Result<Outcome, BrokerError> {
        let rules = self.rules();
        let now = self.now();
        let env = Env {
            rules: &rules,
            settings: &self.settings,
            now,
        };
        let id = self.ids.request_id();
        let grant = self.ids.grant_id();
        let actor = Actor::User(new.requester.clone());
        let playbook = new.playbook.clone();
        let factor = step_up.as_ref().map_or(Ok(()), |s| {
            crate::request::step_up_factor(
                &rules,
                &playbook,
                s.factor(),
                Action::ActivateBreakGlass,
            )
        });
        match factor.and_then(|()| activate_break_glass(id, grant, new, mfa_verified, &env)) {
            Ok(t) => self.commit_new(t, now, step_up, None).await,
            // Every failed break-glass attempt is recorded loudly, whatever the reason.
            Err(e) => {
                let action = Some(Action::ActivateBreakGlass);
                Err(self
                    .refuse(e, action, actor, Some(playbook), None, now)
                    .await)
            }
        }
    }

    /// The commit that opens retroactive break-glass record `r` (see
    /// [`crate::request::retroactive_break_glass`]), for the caller to write with what else
    /// belongs in its transaction (the finding, the events).
    pub(crate) fn retroactive_commit(
        &self,
        id: RequestId,
        r: crate::request::Retroactive<'_>,
    ) -> Result<(Commit, AccessRequest), BrokerError> {
        let rules = self.rules();
        let now = self.now();
        let env = Env {
            rules: &rules,
            settings: &self.settings,
            now,
        };
        let grant = self.ids.grant_id();
        let t = crate::request::retroactive_break_glass(id, grant, r, &env)?;
        let write = RequestWrite::Insert(t.request.clone());
        Ok((build_commit(&t, write, 1, now, None, None), t.request))
    }

    async fn commit_new(
        &self,
        t: Transition,
        now: OffsetDateTime,
        step_up: Option<StepUp>,
        note: Option<AuditEvent>,
    ) -> Result<Outcome, BrokerError> {
        let write = RequestWrite::Insert(t.request.clone());
        let commit = build_commit(&t, write, 1, now, step_up, note);
        let committed = self.store.commit(commit).await?;
        Ok(Outcome {
            request: t.request,
            version: committed.version.unwrap_or(1),
            audit_seqs: committed.audit_seqs,
        })
    }

    /// Applies `command` to request `id`, retrying on concurrent changes.
    pub async fn execute(&self, id: &RequestId, command: Command) -> Result<Outcome, BrokerError> {
        self.execute_stepped(id, command, None).await
    }

    /// Applies `command` to request `id`, spending `step_up` (if any) in the same commit.
    /// A refused command leaves the step-up unspent; a replayed one fails the command with
    /// [`StoreError::StepUpUsed`] and changes nothing.
    pub async fn execute_stepped(
        &self,
        id: &RequestId,
        command: Command,
        step_up: Option<StepUp>,
    ) -> Result<Outcome, BrokerError> {
        self.execute_noted(id, command, step_up, None).await
    }

    /// [`Broker::execute_stepped`], with `note` (e.g. the chat account the change came from)
    /// recorded after the change's own records, in its commit.
    pub async fn execute_noted(
        &self,
        id: &RequestId,
        command: Command,
        step_up: Option<StepUp>,
        note: Option<AuditEvent>,
    ) -> Result<Outcome, BrokerError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.get(id).await?;
            let rules = self.rules();
            let now = self.now();
            let env = Env {
                rules: &rules,
                settings: &self.settings,
                now,
            };
            // A playbook that asks for a passkey takes no other factor for an approval.
            let factor = match (&command, &step_up) {
                (Command::Approve { .. } | Command::ApproveExtension { .. }, Some(s)) => {
                    crate::request::step_up_factor(
                        &rules,
                        &current.value.spec.playbook,
                        s.factor(),
                        Action::Approve,
                    )
                }
                _ => Ok(()),
            };
            let t = match factor.and_then(|()| apply(&current.value, command.clone(), &env)) {
                Ok(t) => t,
                Err(e) => {
                    let action = e.refusal();
                    let actor = command.actor(&current.value);
                    let playbook = Some(current.value.spec.playbook.clone());
                    return Err(self
                        .refuse(e, action, actor, playbook, Some(id.clone()), now)
                        .await);
                }
            };
            let version = current.version.saturating_add(1);
            let write = RequestWrite::Update {
                request: t.request.clone(),
                expected_version: current.version,
            };
            let commit = build_commit(&t, write, version, now, step_up.clone(), note.clone());
            match self.store.commit(commit).await {
                Ok(committed) => {
                    return Ok(Outcome {
                        request: t.request,
                        version: committed.version.unwrap_or(version),
                        audit_seqs: committed.audit_seqs,
                    });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(BrokerError::Busy(id.clone()))
    }

    /// Records a refusal the rules or an invariant made (`action` is `None` for ordinary
    /// errors, which are not recorded) and returns the error. Refused break-glass
    /// activations are marked for the security team.
    async fn refuse(
        &self,
        error: TransitionError,
        action: Option<Action>,
        actor: Actor,
        playbook: Option<crate::model::PlaybookId>,
        request: Option<RequestId>,
        now: OffsetDateTime,
    ) -> BrokerError {
        let Some(action) = action else {
            return error.into();
        };
        let reason = error.to_string();
        match self
            .commit_refusal(action, actor, playbook, request, reason, now)
            .await
        {
            Ok(()) => error.into(),
            // Fail closed: if the refusal cannot be recorded, say so rather than pretend.
            Err(e) => e.into(),
        }
    }

    /// Records that `actor` was refused `action` on request `request` for `reason`, when
    /// the refusal is decided outside the request's transitions (e.g. someone other than
    /// the requester asking for a grant's credentials). Fails closed: when the record cannot
    /// be written, the store's error is returned and the caller must not report success.
    pub async fn record_refusal(
        &self,
        request: &AccessRequest,
        action: Action,
        actor: Username,
        reason: impl Into<String>,
    ) -> Result<(), BrokerError> {
        self.commit_refusal(
            action,
            Actor::User(actor),
            Some(request.spec.playbook.clone()),
            Some(request.id.clone()),
            reason.into(),
            self.now(),
        )
        .await
        .map_err(BrokerError::from)
    }

    /// Commits one `action_refused` record (and its notifications). Refused break-glass
    /// activations are marked for the security team.
    async fn commit_refusal(
        &self,
        action: Action,
        actor: Actor,
        playbook: Option<crate::model::PlaybookId>,
        request: Option<RequestId>,
        reason: String,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let event = AuditEvent::from(ActionRefused {
            action,
            request,
            playbook,
            break_glass: action == Action::ActivateBreakGlass,
            reason,
        });
        let mut outbox = notifications(None, std::slice::from_ref(&event));
        if action == Action::ActivateBreakGlass {
            self.fold_refusal_alert(&actor, now, &mut outbox);
        }
        let commit = Commit {
            write: None,
            audit: vec![AuditEntry {
                at: now,
                actor,
                request_version: None,
                event,
            }],
            outbox,
            step_up: None,
        };
        self.store.commit(commit).await.map(|_| ())
    }

    /// Keeps the alert of a refused break-glass attempt by `actor` only when it should go
    /// out ([`crate::refusals`]): never for someone who is not a responder (audited only),
    /// and at most once per window per responder, the attempts in between counted in the
    /// next alert's subject.
    fn fold_refusal_alert(
        &self,
        actor: &Actor,
        now: OffsetDateTime,
        outbox: &mut Vec<crate::outbox::Notification>,
    ) {
        let Actor::User(user) = actor else { return };
        if self.rules().catalog().responder(user).is_none() {
            outbox.clear();
            return;
        }
        let announce = match self.refusal_alerts.lock() {
            Ok(mut g) => g.note(user, now),
            Err(p) => p.into_inner().note(user, now),
        };
        match announce {
            Announce::Fold => outbox.clear(),
            Announce::Alert { folded: 0, .. } => {}
            Announce::Alert { folded, since } => {
                let since = since.map_or_else(String::new, |t| format!(" since {t}"));
                for n in outbox.iter_mut() {
                    n.subject.push_str(&format!(
                        " (and {folded} more refused attempts by `{user}`{since}, audited without an alert)"
                    ));
                }
            }
        }
    }

    /// Approves request `id` as `approver`, who reviewed the version with `digest`.
    pub async fn approve(
        &self,
        id: &RequestId,
        approver: Username,
        digest: Sha256Digest,
        comment: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Approve {
            approver,
            digest,
            comment: comment.into(),
        };
        self.execute(id, command).await
    }

    /// Approves request `id` as `approver`, spending the approver's MFA `step_up` in the
    /// approval's own commit.
    pub async fn approve_stepped(
        &self,
        id: &RequestId,
        approver: Username,
        digest: Sha256Digest,
        comment: impl Into<String>,
        step_up: StepUp,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Approve {
            approver,
            digest,
            comment: comment.into(),
        };
        self.execute_stepped(id, command, Some(step_up)).await
    }

    /// Denies request `id`.
    pub async fn deny(
        &self,
        id: &RequestId,
        approver: Username,
        reason: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Deny {
            approver,
            reason: reason.into(),
        };
        self.execute(id, command).await
    }

    /// Withdraws pending request `id`.
    pub async fn cancel(
        &self,
        id: &RequestId,
        by: Username,
        reason: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Cancel {
            by,
            reason: reason.into(),
        };
        self.execute(id, command).await
    }

    /// Changes pending request `id`; approvals of the old version stop counting.
    pub async fn amend(
        &self,
        id: &RequestId,
        by: Username,
        duration: Option<Duration>,
        incident: Option<IncidentId>,
        justification: Option<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Amend {
            by,
            duration,
            incident,
            justification,
            session_policy: None,
        };
        self.execute(id, command).await
    }

    /// Starts the grant of approved request `id`.
    pub async fn activate(&self, id: &RequestId, by: Username) -> Result<Outcome, BrokerError> {
        let grant: GrantId = self.ids.grant_id();
        self.execute(id, Command::Activate { by, grant }).await
    }

    /// Asks for `add` more time on the grant of request `id`.
    pub async fn request_extension(
        &self,
        id: &RequestId,
        by: Username,
        add: Duration,
        justification: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::RequestExtension {
            by,
            add,
            justification: justification.into(),
        };
        self.execute(id, command).await
    }

    /// Approves the pending extension with `digest`.
    pub async fn approve_extension(
        &self,
        id: &RequestId,
        approver: Username,
        digest: Sha256Digest,
        comment: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::ApproveExtension {
            approver,
            digest,
            comment: comment.into(),
        };
        self.execute(id, command).await
    }

    /// Turns down the pending extension.
    pub async fn deny_extension(
        &self,
        id: &RequestId,
        approver: Username,
        reason: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::DenyExtension {
            approver,
            reason: reason.into(),
        };
        self.execute(id, command).await
    }

    /// Ends the access of request `id` early.
    pub async fn revoke(
        &self,
        id: &RequestId,
        by: Username,
        reason: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        self.revoke_as(id, by, false, reason).await
    }

    /// Revokes request `id`, as a broker administrator when `by_admin` (whatever the rules
    /// say; the caller has checked that `by` is one, and the audit record says so).
    pub async fn revoke_as(
        &self,
        id: &RequestId,
        by: Username,
        by_admin: bool,
        reason: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Revoke {
            by,
            reason: reason.into(),
            by_admin,
        };
        self.execute(id, command).await
    }

    /// Signs off the post-incident review of break-glass request `id`.
    pub async fn review(
        &self,
        id: &RequestId,
        by: Username,
        outcome: ReviewOutcome,
        notes: impl Into<String>,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::Review {
            by,
            outcome,
            notes: notes.into(),
        };
        self.execute(id, command).await
    }

    /// Records credentials minted for the grant of request `id`: only the key id and the
    /// SHA-256 of the session token.
    pub async fn record_issuance(
        &self,
        id: &RequestId,
        access_key_id: String,
        session_token_sha256: Sha256Digest,
        expires_at: OffsetDateTime,
    ) -> Result<Outcome, BrokerError> {
        let command = Command::RecordIssuance {
            access_key_id,
            session_token_sha256,
            expires_at,
        };
        self.execute(id, command).await
    }

    /// Times out and expires every request whose deadline has passed (at most `limit`).
    /// Safe to run from several replicas at once: each change commits exactly once.
    pub async fn sweep(&self, limit: u32) -> Result<SweepReport, BrokerError> {
        let mut report = SweepReport::default();
        for id in self.store.due(self.now(), limit).await? {
            let Some(current) = self.store.get(&id).await? else {
                continue;
            };
            let command = match current.value.status {
                crate::request::Status::Pending => Command::TimeOut,
                _ => Command::Expire,
            };
            let timed_out = command == Command::TimeOut;
            match self.execute(&id, command).await {
                Ok(_) if timed_out => report.timed_out.push(id),
                Ok(_) => report.expired.push(id),
                // Someone else got there first, or it is not due after all.
                Err(BrokerError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// The commit of transition `t`. A step-up's `totp_verified` record comes first, before the
/// records of the change it authorised (the notifications' indices are shifted past it).
fn build_commit(
    t: &Transition,
    write: RequestWrite,
    version: u64,
    now: OffsetDateTime,
    step_up: Option<StepUp>,
    note: Option<AuditEvent>,
) -> Commit {
    let mut outbox = notifications(Some(&t.request), &t.events);
    let mut audit = Vec::with_capacity(t.events.len() + 1);
    if let Some(s) = &step_up {
        audit.push(AuditEntry {
            at: now,
            actor: Actor::User(s.username.clone()),
            request_version: None,
            event: s.verified_event(),
        });
        for n in &mut outbox {
            n.audit_index += 1;
        }
    }
    audit.extend(t.events.iter().map(|event| AuditEntry {
        at: now,
        actor: t.actor.clone(),
        request_version: Some(version),
        event: event.clone(),
    }));
    audit.extend(note.map(|event| AuditEntry {
        at: now,
        actor: t.actor.clone(),
        request_version: Some(version),
        event,
    }));
    Commit {
        write: Some(write),
        audit,
        outbox,
        step_up,
    }
}

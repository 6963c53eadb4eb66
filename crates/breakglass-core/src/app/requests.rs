//! The request use cases (submit, approve, deny, cancel, activate, break-glass, extend and
//! decide an extension, review) and the read rules (who may see which request).
//!
//! A step-up (the TOTP code an approval or a break-glass activation needs) is checked by the
//! authenticating adapter and handed in as a [`StepUp`]; it is spent in the change's own
//! commit. A code that a concurrent step-up spent first is audited here as a replay.

use time::Duration;

use super::{App, Caller, Error, StepUpOr};
use crate::audit::{Actor, AuditEntry};
use crate::broker::{BrokerError, Outcome};
use crate::canonical::Sha256Digest;
use crate::cloud::Cloud;
use crate::model::{Catalog, IdError, IncidentId, PlaybookId, RequestId, RoleName};
use crate::ports::{
    AccessStore, Clock, Commit, IdSource, ListedRequest, StepUp, Store, StoreError, Versioned,
};
use crate::request::{AccessRequest, NewRequest, ReviewOutcome};
use crate::rules::{Action, Decision, Rules};
use crate::session::RequestFilter;

/// What an approval decides: the request itself, or the extension pending on its grant.
/// Each has its own step-up purpose, so a code checked for one never approves the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approving {
    /// The request (bound to the request's digest).
    Request,
    /// The pending extension of the request's grant (bound to the extension's digest).
    Extension,
}

impl Approving {
    /// The purpose a step-up for this approval of request `id` is checked and recorded under.
    pub fn purpose(self, id: &RequestId) -> String {
        match self {
            Self::Request => format!("approve {id}"),
            Self::Extension => format!("approve extension {id}"),
        }
    }
}

/// The purpose a review sign-off's step-up is checked for.
pub fn review_purpose(id: &RequestId) -> String {
    format!("review {id}")
}

/// The purpose a break-glass step-up is recorded under.
const BREAK_GLASS_PURPOSE: &str = "break-glass";

/// What a requester asks for, as text from a form or a JSON body; every id is validated
/// when it becomes a request.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The playbook id.
    pub playbook: &'a str,
    /// The role name.
    pub role: &'a str,
    /// The account: its name in the catalog (`production`) or its id.
    pub account: &'a str,
    /// The total duration.
    pub duration: Duration,
    /// The incident id.
    pub incident: &'a str,
    /// Why.
    pub justification: &'a str,
}

/// Parses an id of `kind` (named in the error).
fn id<T>(
    kind: &str,
    value: &str,
    make: impl FnOnce(String) -> Result<T, IdError>,
) -> Result<T, Error> {
    make(value.to_owned()).map_err(|e| Error::Invalid(format!("invalid {kind}: {e}")))
}

impl Ask<'_> {
    /// The request `caller` asks for, every id validated and the account resolved by name
    /// or id against `catalog`.
    fn request(&self, caller: &Caller, catalog: &Catalog) -> Result<NewRequest, Error> {
        Ok(NewRequest {
            requester: caller.username.clone(),
            playbook: id("playbook", self.playbook, PlaybookId::new)?,
            role: id("role", self.role, RoleName::new)?,
            account: super::playbooks::resolve_account(catalog, self.account)?,
            duration: self.duration,
            incident: id("incident", self.incident, IncidentId::new)?,
            justification: self.justification.to_owned(),
        })
    }
}

/// Whether `caller` may see request `r`: an administrator, its requester, whoever acted on
/// it, and whoever the rules let approve, revoke or review it.
pub fn may_read(rules: &Rules, caller: &Caller, r: &AccessRequest) -> bool {
    caller.admin
        || r.spec.requester == caller.username
        || r.approvals.iter().any(|a| a.approver == caller.username)
        || [Action::Approve, Action::Revoke, Action::Review]
            .into_iter()
            .any(|a| r.decision_for(rules, &caller.username, a).allowed)
}

/// Refuses a step-up proven by someone other than the caller, or checked for another
/// purpose (another request, the extension instead of the request, break-glass).
pub(super) fn own_step_up(caller: &Caller, step_up: &StepUp, purpose: &str) -> Result<(), Error> {
    if step_up.username != caller.username {
        return Err(Error::Forbidden(format!(
            "the step-up was proven by `{}`, not by `{}`",
            step_up.username, caller.username
        )));
    }
    if step_up.purpose != purpose {
        return Err(Error::Forbidden(format!(
            "the step-up was checked to {}, not to {purpose}",
            step_up.purpose
        )));
    }
    Ok(())
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// Submits `ask` for approval as `caller`.
    pub async fn submit(&self, caller: &Caller, ask: &Ask<'_>) -> Result<Outcome, Error> {
        self.submit_narrowed(caller, ask, None).await
    }

    /// Submits `ask` for approval as `caller`, under `session_policy` when given: the
    /// caller's narrowing of the playbook's session policy, refused (and the refusal
    /// audited) unless proven no wider ([`crate::request::narrow`]).
    pub async fn submit_narrowed(
        &self,
        caller: &Caller,
        ask: &Ask<'_>,
        session_policy: Option<&str>,
    ) -> Result<Outcome, Error> {
        caller.require_full_access()?;
        let new = ask.request(caller, self.rules().catalog())?;
        self.require_open_game_day(&new.incident).await?;
        Ok(self
            .broker
            .submit_narrowed(new, session_policy, caller.via.as_ref())
            .await?)
    }

    /// Approves request `id` (or, for [`Approving::Extension`], the extension pending on its
    /// grant) as `caller`, bound to `digest` (the version they reviewed), spending `step_up`
    /// in the approval's own commit: a refused approval leaves the code unused, and a code a
    /// concurrent step-up spent first is audited as a replay. The step-up must be the
    /// caller's and checked for exactly this approval ([`Approving::purpose`]).
    pub async fn approve(
        &self,
        caller: &Caller,
        id: &RequestId,
        subject: Approving,
        digest: Sha256Digest,
        comment: String,
        step_up: StepUp,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        caller.require_full_access()?;
        let purpose = subject.purpose(id);
        own_step_up(caller, &step_up, &purpose)?;
        let approver = caller.username.clone();
        let command = match subject {
            Approving::Request => crate::request::Command::Approve {
                approver,
                digest,
                comment,
            },
            Approving::Extension => crate::request::Command::ApproveExtension {
                approver,
                digest,
                comment,
            },
        };
        let note = caller.chat_note("approve", Some(id));
        let result = self
            .broker
            .execute_noted(id, command, Some(step_up.clone()), note)
            .await;
        self.spent(caller, &step_up, result).await
    }

    /// The result of a change that spent `step_up`: a replayed one is audited and reported
    /// as such.
    pub(super) async fn spent(
        &self,
        caller: &Caller,
        step_up: &StepUp,
        result: Result<Outcome, BrokerError>,
    ) -> Result<Outcome, Error> {
        match result {
            Ok(o) => Ok(o),
            Err(BrokerError::Store(StoreError::StepUpUsed(_))) => {
                Err(self.replayed(caller, step_up).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Audits that `caller`'s step-up `step_up` was already used (the store refused to spend
    /// it), as a refused code or a refused passkey answer, and returns the error to show.
    /// Fails closed: if the record cannot be written, the store's error is returned.
    pub(super) async fn replayed(&self, caller: &Caller, step_up: &StepUp) -> Error {
        let event = step_up.replayed_event();
        let commit = Commit {
            write: None,
            audit: vec![AuditEntry {
                at: self.broker.now(),
                actor: Actor::User(caller.username.clone()),
                request_version: None,
                event,
            }],
            outbox: Vec::new(),
            step_up: None,
        };
        match self.store().commit(commit).await {
            Ok(_) => Error::StepUpReplayed,
            Err(e) => e.into(),
        }
    }

    /// Denies request `id` as `caller`.
    pub async fn deny(
        &self,
        caller: &Caller,
        id: &RequestId,
        reason: &str,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        caller.require_full_access()?;
        let command = crate::request::Command::Deny {
            approver: caller.username.clone(),
            reason: reason.to_owned(),
        };
        let note = caller.chat_note("deny", Some(id));
        Ok(self.broker.execute_noted(id, command, None, note).await?)
    }

    /// Withdraws `caller`'s pending request `id`.
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: &RequestId,
        reason: &str,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        caller.require_full_access()?;
        Ok(self
            .broker
            .cancel(id, caller.username.clone(), reason)
            .await?)
    }

    /// Starts the grant of approved request `id`.
    pub async fn activate(&self, caller: &Caller, id: &RequestId) -> Result<Outcome, Error> {
        let r = self.request(caller, id).await?;
        caller.require_full_access()?;
        self.require_open_game_day(&r.value.spec.incident).await?;
        Ok(self.broker.activate(id, caller.username.clone()).await?)
    }

    /// Activates emergency access for `ask` as `caller`, with the step-up the adapter checked
    /// (`Err`: it refused the code). A failed step-up is still an attempt: the broker records
    /// it as a refused break-glass (and alerts), and the step-up's own error is returned. A
    /// valid code is spent in the activation's own commit; a code a concurrent step-up spent
    /// first is audited as a replay and the attempt goes on as one without MFA.
    pub async fn break_glass<E>(
        &self,
        caller: &Caller,
        ask: &Ask<'_>,
        step_up: Result<StepUp, E>,
    ) -> Result<Outcome, StepUpOr<E>> {
        let new = ask.request(caller, self.rules().catalog())?;
        self.require_open_game_day(&new.incident).await?;
        let mut mfa = step_up.map_err(StepUpOr::StepUp);
        if let Ok(s) = &mfa {
            own_step_up(caller, s, BREAK_GLASS_PURPOSE)?;
        }
        let mut result = self
            .broker
            .activate_break_glass_stepped(new.clone(), mfa.as_ref().ok().cloned())
            .await;
        if let (Err(BrokerError::Store(StoreError::StepUpUsed(_))), Ok(spent)) = (&result, &mfa) {
            mfa = Err(StepUpOr::App(self.replayed(caller, spent).await));
            result = self.broker.activate_break_glass_stepped(new, None).await;
        }
        match result {
            Ok(o) => Ok(o),
            Err(e) => match mfa {
                Err(m) => Err(m),
                Ok(_) => Err(StepUpOr::App(e.into())),
            },
        }
    }

    /// The purpose a break-glass step-up is checked for.
    pub fn break_glass_purpose(&self) -> &'static str {
        BREAK_GLASS_PURPOSE
    }

    /// Asks for `add` more time on the grant of request `id`.
    pub async fn extend(
        &self,
        caller: &Caller,
        id: &RequestId,
        add: Duration,
        justification: &str,
    ) -> Result<Outcome, Error> {
        let r = self.request(caller, id).await?;
        caller.require_full_access()?;
        self.require_open_game_day(&r.value.spec.incident).await?;
        Ok(self
            .broker
            .request_extension(id, caller.username.clone(), add, justification)
            .await?)
    }

    /// Turns down the pending extension of request `id`.
    pub async fn deny_extension(
        &self,
        caller: &Caller,
        id: &RequestId,
        reason: &str,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        caller.require_full_access()?;
        Ok(self
            .broker
            .deny_extension(id, caller.username.clone(), reason)
            .await?)
    }

    /// Signs off the post-incident review of break-glass request `id`, with a step-up the
    /// caller gave for exactly this review ([`review_purpose`]), spent in the same commit:
    /// a stolen token alone cannot mark a break-glass use "appropriate".
    pub async fn review(
        &self,
        caller: &Caller,
        id: &RequestId,
        outcome: ReviewOutcome,
        notes: &str,
        step_up: StepUp,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        let purpose = review_purpose(id);
        own_step_up(caller, &step_up, &purpose)?;
        let command = crate::request::Command::Review {
            by: caller.username.clone(),
            outcome,
            notes: notes.to_owned(),
        };
        let result = self
            .broker
            .execute_stepped(id, command, Some(step_up.clone()))
            .await;
        self.spent(caller, &step_up, result).await
    }

    /// Request `id` if `caller` may see it ([`may_read`]); otherwise not found. Every action
    /// on a request calls this first, before any other check, so someone who may not read
    /// a request learns nothing of it (not who asked, not its state) from a refusal.
    pub async fn request(
        &self,
        caller: &Caller,
        id: &RequestId,
    ) -> Result<Versioned<AccessRequest>, Error> {
        let v = self.broker.get(id).await?;
        if may_read(&self.rules(), caller, &v.value) {
            Ok(v)
        } else {
            Err(Error::NotFound(format!("no request `{id}`")))
        }
    }

    /// The requests matching `filter` that `caller` may see, newest first, as stored. Most
    /// listings are of a caller's own requests (or by an administrator): those are not
    /// decoded; the rest are, for the rules to decide.
    pub async fn listing(
        &self,
        caller: &Caller,
        filter: &RequestFilter,
    ) -> Result<Vec<ListedRequest>, Error> {
        let rules = self.rules();
        let listed = self.store().request_listing(filter).await?;
        let mut readable = Vec::with_capacity(listed.len());
        for row in listed {
            // `may_read`'s first two tests, on the listing's columns; the rest need the
            // request.
            if caller.admin
                || row.requester == caller.username.as_str()
                || may_read(&rules, caller, &row.decode()?.value)
            {
                readable.push(row);
            }
        }
        Ok(readable)
    }

    /// The requests matching `filter` that `caller` may see, newest first, decoded.
    pub async fn requests(
        &self,
        caller: &Caller,
        filter: &RequestFilter,
    ) -> Result<Vec<Versioned<AccessRequest>>, Error> {
        let rules = self.rules();
        let mut list = self.store().requests(filter).await?;
        list.retain(|v| may_read(&rules, caller, &v.value));
        Ok(list)
    }

    /// The live grants (active requests) `caller` may see, newest first: their own, and
    /// under the read rules ([`may_read`]) every colleague's grant the caller may revoke
    /// or review, so that an incident-response lead sees a colleague's live break-glass
    /// session, not only their own.
    pub async fn live_grants(
        &self,
        caller: &Caller,
    ) -> Result<Vec<Versioned<AccessRequest>>, Error> {
        let filter = RequestFilter {
            statuses: vec!["active".to_owned()],
            limit: Some(500),
            ..RequestFilter::default()
        };
        self.requests(caller, &filter).await
    }

    /// The pending requests that wait for `caller`'s approval, oldest first, each with the
    /// decision that lets the caller approve it (never the caller's own requests).
    pub async fn awaiting_approval(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(Versioned<AccessRequest>, Decision)>, Error> {
        let filter = RequestFilter {
            statuses: vec!["pending".to_owned()],
            limit: Some(500),
            ..RequestFilter::default()
        };
        let rules = self.rules();
        let mut list: Vec<_> = self
            .requests(caller, &filter)
            .await?
            .into_iter()
            .filter(|r| r.value.spec.requester != caller.username)
            .filter(|r| !r.value.current_approvers().contains(&caller.username))
            .filter_map(|r| {
                let d = r
                    .value
                    .decision_for(&rules, &caller.username, Action::Approve);
                d.allowed.then_some((r, d))
            })
            .collect();
        list.reverse();
        Ok(list)
    }
}

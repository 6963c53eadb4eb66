//! The application layer: the one home of every use case, over the ports.
//!
//! The HTTP API, the web console, the command line and the background workers all come here
//! to do something: list what they may ask for (`playbooks`), submit, approve (with an already-checked step-up), deny, cancel,
//! activate, break-glass, extend and decide an extension, review, mint credentials and
//! console URLs, revoke one grant or every session of a role, reconcile revocation
//! policies, read requests and the audit log under the read rules. [`App`] joins the
//! [`Broker`] (the request state machine committed through the [`Store`]) to the [`Cloud`]
//! port (STS and IAM). Adapters only translate: a handler turns HTTP into a call here and
//! the result back into HTTP, and decides nothing.
//!
//! Who may do what is decided here or below (the rules, the state machine), never in a
//! handler: an administrator-only use case takes the [`Caller`] and refuses anyone else, and
//! a request that the caller may not read is reported as not found.
//!
//! Architecture invariant: pure, like the rest of the crate. Time comes from the broker's
//! clock port, identifiers from its id port.

mod activity;
mod audit;
mod chat;
mod cut_offs;
mod drills;
mod error;
mod grants;
mod narrowing;
mod notifications;
mod playbooks;
mod reports;
mod requests;

use std::sync::Arc;

use time::OffsetDateTime;

pub use activity::{FINDINGS_PAGE, GrantActivity, LeastPrivilege};
pub use audit::{
    AnchorError, Anchoring, AuditVerification, Check, Walk, WalkError, anchor_head,
    check_chain_key, walk, walk_from,
};
pub use chat::{ChatWork, notified_request};
pub use cut_offs::{CutOffTarget, FailedCutOff, summary as cut_off_summary};
pub use drills::AlertState;
pub use error::{Error, StepUpOr};
pub use grants::{
    CHAINED_SESSION_LIMIT, ENTRY_MARGIN, ORGANIZATION_SYNC_LEASE, OrganizationSync, Reconciled,
    Revoked, RevokedAll, RoleSync, credentials_purpose, revoke_all_purpose,
};
pub use narrowing::Amendment;
pub use notifications::Notifications;
pub use playbooks::resolve_account;
pub use reports::{LISTING_CAP, ReviewOptions, access_review, break_glass_log, session_report};
pub use requests::{Approving, Ask, review_purpose};

use crate::broker::Broker;
use crate::cloud::Cloud;
use crate::model::Username;
use crate::ports::{AccessStore, Clock, IdSource, Store};
use crate::rules::Rules;

/// Who is asking, as the adapter authenticated them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub username: Username,
    /// Whether they administer the broker (users, the audit log, revoke-all).
    pub admin: bool,
    /// Signed in with a local account under `local = "break-glass-only"`: the identity
    /// provider path was not used, so only break-glass, its review and revocation are open.
    pub break_glass_only: bool,
    /// The chat account the action came from, when it came from chat (recorded with each
    /// change it makes; `None` for the console, the API and the CLI).
    pub via: Option<crate::chat::ChatOrigin>,
}

impl Caller {
    /// The record of `action` on `request` that a change made from chat carries, if it was.
    pub(crate) fn chat_note(
        &self,
        action: &str,
        request: Option<&crate::model::RequestId>,
    ) -> Option<crate::audit::AuditEvent> {
        self.via.as_ref().map(|o| o.action_event(action, request))
    }

    /// Refuses a caller limited to the break-glass path.
    pub fn require_full_access(&self) -> Result<(), Error> {
        if self.break_glass_only {
            Err(Error::Forbidden(format!(
                "`{}` signed in with a local account, which this broker allows only for break-glass, its review and revocation; sign in with SSO for the rest",
                self.username
            )))
        } else {
            Ok(())
        }
    }

    /// Refuses anyone but an administrator.
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.admin {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "`{}` is not an administrator",
                self.username
            )))
        }
    }
}

/// The use cases over a store, a cloud, a clock and an id source.
#[derive(Debug)]
pub struct App<S, K, C, I> {
    broker: Arc<Broker<S, C, I>>,
    cloud: K,
    /// Cut-offs that failed and have not held since (see [`App::failed_cut_offs`]).
    cut_offs: cut_offs::CutOffs,
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The use cases over `broker` and `cloud`. Whoever builds the application may keep the
    /// broker (tests drive the state machine directly); adapters are handed the application
    /// only.
    pub fn new(broker: Arc<Broker<S, C, I>>, cloud: K) -> Self {
        Self {
            broker,
            cloud,
            cut_offs: cut_offs::CutOffs::default(),
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<Rules> {
        self.broker.rules()
    }

    /// The time by the broker's clock (for pages that show time left, and for adapters that
    /// must agree with the broker, e.g. a lease's expiry).
    pub fn now(&self) -> OffsetDateTime {
        self.broker.clock().now()
    }

    /// Commits `event`, one of the broker's own that changes no request (a cut-off that
    /// failed, a tampered audit chain), with the notifications it calls for, in one
    /// transaction.
    pub(crate) async fn record_system_event(
        &self,
        event: crate::audit::AuditEvent,
    ) -> Result<(), Error> {
        self.store()
            .commit(self.one_record(crate::audit::Actor::System, event))
            .await?;
        Ok(())
    }

    /// The commit of one audit record of `actor`'s, made now, with the notifications it
    /// calls for (a change of no request: a drill's, a game day's, a system event).
    pub(crate) fn one_record(
        &self,
        actor: crate::audit::Actor,
        event: crate::audit::AuditEvent,
    ) -> crate::ports::Commit {
        let outbox = crate::outbox::notifications(None, std::slice::from_ref(&event));
        crate::ports::Commit {
            write: None,
            audit: vec![crate::audit::AuditEntry {
                at: self.now(),
                actor,
                request_version: None,
                event,
            }],
            outbox,
            step_up: None,
        }
    }

    fn store(&self) -> &S {
        self.broker.store()
    }

    /// Whether the store answers (readiness).
    pub async fn ready(&self) -> Result<(), Error> {
        self.store().audit_head().await?;
        Ok(())
    }

    /// Times out and expires every request whose deadline has passed (at most `limit`).
    pub async fn sweep(&self, limit: u32) -> Result<crate::broker::SweepReport, Error> {
        Ok(self.broker.sweep(limit).await?)
    }

    /// Takes (or renews) the periodic job lease `job` for `holder` for `lease` from now.
    pub async fn take_lease(
        &self,
        job: &str,
        holder: &str,
        lease: time::Duration,
    ) -> Result<bool, Error> {
        let now = self.now();
        Ok(self
            .store()
            .take_lease(job, holder, now, now + lease)
            .await?)
    }

    /// Gives lease `job` up if `holder` holds it (on clean shutdown).
    pub async fn release_lease(&self, job: &str, holder: &str) -> Result<(), Error> {
        Ok(self.store().release_lease(job, holder).await?)
    }
}

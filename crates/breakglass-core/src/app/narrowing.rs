//! The narrowing use cases: a requester changes a pending request (its session policy
//! among the rest), and anyone who may read a request sees what it really allows.
//!
//! An amendment changes the request's digest, so approvals given before it stop counting
//! and an approval of the old digest is refused (`stale_digest`); the change and its audit
//! record commit together, like every transition.

use time::Duration;

use super::{App, Caller, Error};
use crate::broker::Outcome;
use crate::cloud::Cloud;
use crate::model::{IncidentId, RequestId};
use crate::permissions::{EffectivePermissions, effective};
use crate::ports::{AccessStore, Clock, IdSource, Store};
use crate::request::Command;

/// What a requester changes on a pending request (`None`: left as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amendment {
    /// A new total duration.
    pub duration: Option<Duration>,
    /// A new incident id.
    pub incident: Option<String>,
    /// A new justification.
    pub justification: Option<String>,
    /// A new narrowing of the playbook's session policy (empty: the playbook's own).
    pub session_policy: Option<String>,
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// Changes `caller`'s pending request `id` as `change` says. Only the requester may;
    /// a narrowed session policy must be proven no wider than the playbook's.
    pub async fn amend(
        &self,
        caller: &Caller,
        id: &RequestId,
        change: Amendment,
    ) -> Result<Outcome, Error> {
        self.request(caller, id).await?;
        caller.require_full_access()?;
        let incident = change
            .incident
            .map(IncidentId::new)
            .transpose()
            .map_err(|e| Error::Invalid(format!("invalid incident: {e}")))?;
        if let Some(i) = &incident {
            self.require_open_game_day(i).await?;
        }
        let command = Command::Amend {
            by: caller.username.clone(),
            duration: change.duration,
            incident,
            justification: change.justification,
            session_policy: change.session_policy,
        };
        let note = caller.chat_note("amend", Some(id));
        Ok(self.broker.execute_noted(id, command, None, note).await?)
    }

    /// What request `id` really allows (its role's policies ∩ boundary ∩ session policy,
    /// over the action catalog), with the difference from its playbook's policy when the
    /// requester narrowed it. Not found for a caller who may not read the request.
    pub async fn permissions(
        &self,
        caller: &Caller,
        id: &RequestId,
    ) -> Result<EffectivePermissions, Error> {
        let r = self.request(caller, id).await?.value;
        let rules = self.rules();
        let Some(model) = rules.permissions() else {
            return Err(Error::Unavailable(
                "this broker was started without an action catalog (`serve --catalog DIR`), so it cannot compute what a request allows".to_owned(),
            ));
        };
        let playbook_policy = rules
            .catalog()
            .playbook(&r.spec.playbook)
            .map(|p| p.session_policy.clone())
            .filter(|_| r.spec.narrowed);
        effective(
            model,
            &r.spec.role,
            &r.spec.session_policy,
            playbook_policy.as_deref(),
        )
        .map_err(|e| Error::Invalid(e.to_string()))
    }
}

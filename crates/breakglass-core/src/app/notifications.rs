//! The notifications an administrator watches in the console: what the delivery worker
//! has not delivered yet (pending, or retrying after a failed attempt, with the attempts,
//! the next attempt and the last error) and what it gave up on (dead letters). A lost
//! alert is a bug, so a retrying message must be as visible as a dead one.

use super::{App, Caller, Error};
use crate::cloud::Cloud;
use crate::outbox::{OutboxMessage, QueuedMessage};
use crate::ports::{AccessStore, Clock, IdSource, Store};

/// The outbox as the notifications page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// Not yet delivered: never tried (no attempts) or retrying, oldest first.
    pub queued: Vec<QueuedMessage>,
    /// Given up on after every retry, most recent first.
    pub dead: Vec<OutboxMessage>,
}

impl Notifications {
    /// The queued messages that have failed at least once (and are being retried).
    pub fn retrying(&self) -> impl Iterator<Item = &QueuedMessage> {
        self.queued.iter().filter(|q| q.message.attempts > 0)
    }

    /// The queued messages not tried yet.
    pub fn pending(&self) -> impl Iterator<Item = &QueuedMessage> {
        self.queued.iter().filter(|q| q.message.attempts == 0)
    }
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The undelivered and the dead-lettered notifications, at most `limit` of each (an
    /// administrator's read).
    pub async fn notifications(&self, caller: &Caller, limit: u32) -> Result<Notifications, Error> {
        caller.require_admin()?;
        Ok(Notifications {
            queued: self.store().outbox_undelivered(limit).await?,
            dead: self.store().outbox_dead_letters(limit).await?,
        })
    }
}

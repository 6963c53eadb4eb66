//! The audit use cases: reading the log a page at a time, verifying the hash chain, and
//! exporting it. [`walk`] is the one page-and-verify loop, used by the API, the console and
//! the command line alike: it reads the chain from its start in pages (constant memory),
//! verifies each record against its predecessor before handing it on, and checks the stored
//! head at the end.

use std::ops::ControlFlow;

use super::{App, Caller, Error};
use crate::audit::{AuditRecord, ChainHead, ChainVerifier, StoredAuditRow};
use crate::canonical::Sha256Digest;
use crate::cloud::Cloud;
use crate::outbox::OutboxMessage;
use crate::ports::{AccessStore, Clock, IdSource, Store, StoreError};

/// How many audit rows one read of the walk takes.
const PAGE: u32 = 1000;

/// Where a walk of the chain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// Every record links to its predecessor and the stored head matches.
    Intact {
        /// How many records.
        records: u64,
        /// The head.
        head: ChainHead,
    },
    /// The consumer stopped the walk after `records` verified records.
    Stopped {
        /// How many records were handed on.
        records: u64,
    },
    /// The chain is broken: what was found. Records before the break were handed on.
    Broken(String),
}

/// Why a walk could not finish.
#[derive(Debug, thiserror::Error)]
pub enum WalkError<E> {
    /// The store failed (other than holding corrupt data, which is a broken chain).
    #[error(transparent)]
    Store(StoreError),
    /// The consumer failed.
    #[error(transparent)]
    Consumer(E),
}

/// Walks the whole chain of `store` from its start, handing each verified record and its
/// hash to `each`, which may stop the walk.
pub async fn walk<S: Store, E>(
    store: &S,
    mut each: impl FnMut(&AuditRecord, &Sha256Digest) -> Result<ControlFlow<()>, E>,
) -> Result<Walk, WalkError<E>> {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    let mut handed = 0u64;
    loop {
        let page = match store.audit_rows(after, PAGE).await {
            Ok(page) => page,
            Err(StoreError::Corrupt(e)) => return Ok(Walk::Broken(e)),
            Err(e) => return Err(WalkError::Store(e)),
        };
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            let record = match verifier.push(row) {
                Ok(r) => r,
                Err(problem) => return Ok(Walk::Broken(problem.to_string())),
            };
            let hash = match Sha256Digest::from_hex(&row.hash) {
                Ok(h) => h,
                Err(e) => return Ok(Walk::Broken(format!("record #{}: {e}", row.seq))),
            };
            handed += 1;
            if each(&record, &hash)
                .map_err(WalkError::Consumer)?
                .is_break()
            {
                return Ok(Walk::Stopped { records: handed });
            }
        }
    }
    let head = match store.audit_head().await {
        Ok(h) => h,
        Err(StoreError::Corrupt(e)) => return Ok(Walk::Broken(format!("chain head: {e}"))),
        Err(e) => return Err(WalkError::Store(e)),
    };
    Ok(match verifier.finish(head) {
        Ok(chain) => Walk::Intact {
            records: chain.records,
            head: chain.head,
        },
        Err(problem) => Walk::Broken(problem.to_string()),
    })
}

/// The result of verifying the audit chain from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    /// Every record links to its predecessor and the stored head matches.
    Verified {
        /// How many records.
        records: u64,
        /// The head hash, hex.
        head: String,
    },
    /// The chain is broken: what was found.
    Broken {
        /// The problem.
        problem: String,
    },
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// Audit rows after sequence number `after`, at most `limit` (an administrator's read).
    pub async fn audit_page(
        &self,
        caller: &Caller,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredAuditRow>, Error> {
        caller.require_admin()?;
        Ok(self.store().audit_rows(after, limit).await?)
    }

    /// Verifies the whole audit chain, page by page, in constant memory (an administrator's
    /// read).
    pub async fn verify_audit(&self, caller: &Caller) -> Result<AuditVerification, Error> {
        caller.require_admin()?;
        let walked = walk(self.store(), |_, _| {
            Ok::<_, Error>(ControlFlow::Continue(()))
        })
        .await;
        Ok(match walked {
            Ok(Walk::Intact { records, head }) => AuditVerification::Verified {
                records,
                head: head.hash.to_hex(),
            },
            Ok(Walk::Broken(problem)) => AuditVerification::Broken { problem },
            Ok(Walk::Stopped { .. }) => AuditVerification::Broken {
                problem: "the walk stopped before the end of the chain".to_owned(),
            },
            Err(WalkError::Store(e)) => return Err(e.into()),
            Err(WalkError::Consumer(e)) => return Err(e),
        })
    }

    /// Walks the chain as [`walk`] does, for an administrator: each verified record is handed
    /// to `each`.
    pub async fn export_audit<E>(
        &self,
        caller: &Caller,
        each: impl FnMut(&AuditRecord, &Sha256Digest) -> Result<ControlFlow<()>, E>,
    ) -> Result<Walk, WalkError<E>>
    where
        E: From<Error>,
    {
        caller
            .require_admin()
            .map_err(|e| WalkError::Consumer(e.into()))?;
        walk(self.store(), each).await
    }

    /// The stored chain head (for the live-update poller, which watches it for changes).
    pub async fn chain_head(&self) -> Result<Option<ChainHead>, Error> {
        Ok(self.store().audit_head().await?)
    }

    /// Audit rows after `after` (for the live-update poller, which announces the requests
    /// they name; it shows no record to anyone).
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredAuditRow>, Error> {
        Ok(self.store().audit_rows(after, limit).await?)
    }

    /// The name of request `id`'s status, if it exists and `caller` may read it (for the
    /// live-update streams, which tell each subscriber of the changes to requests they may
    /// see, and of nothing else).
    pub async fn status_for(
        &self,
        caller: &Caller,
        id: &crate::model::RequestId,
    ) -> Result<Option<&'static str>, Error> {
        match self.request(caller, id).await {
            Ok(v) => Ok(Some(v.value.status.name())),
            Err(Error::NotFound(_) | Error::Broker(crate::broker::BrokerError::NotFound(_))) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Dead-lettered notifications, most recent first (an administrator's read).
    pub async fn dead_letters(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, Error> {
        caller.require_admin()?;
        Ok(self.store().outbox_dead_letters(limit).await?)
    }
}

//! The audit use cases: reading the log a page at a time, verifying the hash chain, and
//! exporting it. [`walk`] is the one page-and-verify loop, used by the API, the console and
//! the command line alike: it reads the stored head first, then the chain from its start in
//! pages (constant memory) up to that head, verifying each record against its predecessor
//! (and the chain key, and any anchors) before handing it on. Reading the head first is
//! what lets verification run beside a live broker: records written during the walk come
//! after the head it checks against, so they never look like tampering.

use std::ops::ControlFlow;

use super::{App, Caller, Error};
use crate::audit::events::AuditChainTampered;
use crate::audit::{
    Anchor, AuditEvent, AuditRecord, ChainHead, ChainKey, ChainProblem, ChainVerifier, ProblemKind,
    StoredAuditRow,
};
use crate::canonical::Sha256Digest;
use crate::cloud::Cloud;
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
        /// How many of them were written before the chain was keyed.
        unkeyed: u64,
        /// How many anchors were checked.
        anchors: usize,
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
    /// Record `seq` is keyed and the walk was given no key: nothing is known past it.
    NeedsKey(i64),
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

/// What a walk checks besides the links: the key keyed records were sealed with, and
/// anchors the chain must still hold.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// The chain key (keyed records cannot be verified without it).
    pub key: Option<ChainKey>,
    /// Records that must be in the chain with these hashes.
    pub anchors: Vec<Anchor>,
}

/// Walks the whole chain of `store` from its start, handing each verified record and its
/// hash to `each`, which may stop the walk.
pub async fn walk<S: Store, E>(
    store: &S,
    check: Check,
    each: impl FnMut(&AuditRecord, &Sha256Digest) -> Result<ControlFlow<()>, E>,
) -> Result<Walk, WalkError<E>> {
    walk_from(store, check, ChainHead::GENESIS, each).await
}

/// Walks the chain of `store` from the record after `start` (a record verified before, such
/// as an anchor: the walk checks the next one links to it), as [`walk`] does.
pub async fn walk_from<S: Store, E>(
    store: &S,
    check: Check,
    start: ChainHead,
    mut each: impl FnMut(&AuditRecord, &Sha256Digest) -> Result<ControlFlow<()>, E>,
) -> Result<Walk, WalkError<E>> {
    let head = match read_head(store).await? {
        Ok(h) => h,
        Err(broken) => return Ok(broken),
    };
    // Without a head, every row is read (and any row at all is a missing head).
    let until = head.map_or(u64::MAX, |h| h.seq);
    let mut verifier = ChainVerifier::resume(check.key, start).with_anchors(check.anchors);
    let mut after = i64::try_from(start.seq).unwrap_or(i64::MAX);
    let mut handed = 0u64;
    'pages: while verifier.last().seq < until {
        let page = match store.audit_rows(after, PAGE).await {
            Ok(page) => page,
            Err(StoreError::Corrupt(e)) => return Ok(Walk::Broken(e)),
            Err(e) => return Err(WalkError::Store(e)),
        };
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in &page {
            if u64::try_from(row.seq).is_ok_and(|seq| seq > until) {
                break 'pages;
            }
            let record = match verifier.push(row) {
                Ok(r) => r,
                Err(ChainProblem {
                    seq: Some(seq),
                    kind: ProblemKind::KeyRequired,
                }) => return Ok(Walk::NeedsKey(seq)),
                Err(problem) => return Ok(Walk::Broken(problem.to_string())),
            };
            handed += 1;
            if each(&record, &verifier.last().hash)
                .map_err(WalkError::Consumer)?
                .is_break()
            {
                return Ok(Walk::Stopped { records: handed });
            }
        }
    }
    let chain = match verifier.finish(head) {
        Ok(chain) => chain,
        Err(problem) => return Ok(Walk::Broken(problem.to_string())),
    };
    // A row past the head is either a record committed during the walk (its transaction
    // moved the head too) or one slipped in behind the broker's back: read the head again.
    if let Some(beyond) = past(store, chain.head.seq)
        .await
        .map_err(WalkError::Store)?
    {
        let now = match read_head(store).await? {
            Ok(h) => h,
            Err(broken) => return Ok(broken),
        };
        if now.is_none_or(|h| h.seq < beyond) {
            return Ok(Walk::Broken(format!(
                "record #{beyond}: it lies beyond the stored chain head #{} (inserted behind the broker's back)",
                chain.head.seq
            )));
        }
    }
    Ok(Walk::Intact {
        records: chain.records,
        unkeyed: chain.unkeyed,
        anchors: chain.anchors,
        head: chain.head,
    })
}

/// The stored chain head, or the broken walk an unreadable one is.
async fn read_head<S: Store, E>(
    store: &S,
) -> Result<Result<Option<ChainHead>, Walk>, WalkError<E>> {
    match store.audit_head().await {
        Ok(h) => Ok(Ok(h)),
        Err(StoreError::Corrupt(e)) => Ok(Err(Walk::Broken(format!("chain head: {e}")))),
        Err(e) => Err(WalkError::Store(e)),
    }
}

/// Checks, before a store given a key writes, that the key is the one its chain is sealed
/// with: the last record must verify with it (or be an unkeyed record of the chain's
/// unkeyed beginning). A wrong key, or a chain that must be keyed and is not, would
/// otherwise be sealed over and look like tampering from then on.
pub async fn check_chain_key<S: Store>(store: &S) -> Result<(), String> {
    let Some(key) = store.chain_key() else {
        return Ok(());
    };
    let head = store
        .audit_head()
        .await
        .map_err(|e| format!("cannot read the audit chain's head: {e}"))?;
    let Some(head) = head.filter(|h| h.seq > 0) else {
        return Ok(());
    };
    let row = row_at(store, head.seq)
        .await
        .map_err(|e| format!("cannot read the audit chain's last record: {e}"))?;
    let Some(row) = row else {
        return Err(format!(
            "the audit chain's head names record #{} and there is no such record: run `breakglass audit verify`",
            head.seq
        ));
    };
    let previous = ChainHead {
        seq: head.seq - 1,
        hash: Sha256Digest::from_hex(&row.prev_hash)
            .map_err(|e| format!("record #{}: {e}", head.seq))?,
    };
    let mut verifier = ChainVerifier::resume(Some(key), previous);
    match verifier.push(&row) {
        Ok(_) => Ok(()),
        Err(ChainProblem {
            kind: ProblemKind::HashMismatch | ProblemKind::KeyMismatch,
            ..
        }) => Err(format!(
            "the audit key is not the one the chain was sealed with (record #{} does not verify with it): use the broker's key, or run `breakglass audit verify` if the record was edited",
            head.seq
        )),
        Err(ChainProblem {
            kind: ProblemKind::UnkeyedAfterKeyed,
            ..
        }) => Err(format!(
            "record #{0} is not keyed: if this chain was begun before it was keyed, give its last unkeyed record with `--audit-keyed-after` (e.g. `--audit-keyed-after {0}`)",
            head.seq
        )),
        Err(problem) => Err(format!("the audit chain's last record: {problem}")),
    }
}

/// The first stored row after record `seq`, if any.
async fn row_after<S: Store>(store: &S, seq: u64) -> Result<Option<StoredAuditRow>, StoreError> {
    let after = i64::try_from(seq).unwrap_or(i64::MAX);
    Ok(store.audit_rows(after, 1).await?.into_iter().next())
}

/// Stored record `seq`, if it is there.
async fn row_at<S: Store>(store: &S, seq: u64) -> Result<Option<StoredAuditRow>, StoreError> {
    let row = row_after(store, seq.saturating_sub(1)).await?;
    Ok(row.filter(|r| u64::try_from(r.seq).ok() == Some(seq)))
}

/// The sequence number of the first row after `seq`, if any (an unreadable one counts).
async fn past<S: Store>(store: &S, seq: u64) -> Result<Option<u64>, StoreError> {
    match row_after(store, seq).await {
        Ok(row) => Ok(row.map(|r| u64::try_from(r.seq).unwrap_or(u64::MAX))),
        Err(StoreError::Corrupt(_)) => Ok(Some(seq.saturating_add(1))),
        Err(e) => Err(e),
    }
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
        self.chain_verification().await
    }

    /// Verifies the whole audit chain, page by page, in constant memory: the administrator's
    /// read above and a drill's last step.
    pub(super) async fn chain_verification(&self) -> Result<AuditVerification, Error> {
        let walked = walk(self.store(), self.audit_check(), |_, _| {
            Ok::<_, Error>(ControlFlow::Continue(()))
        })
        .await;
        Ok(match walked {
            Ok(Walk::Intact { records, head, .. }) => AuditVerification::Verified {
                records,
                head: head.hash.to_hex(),
            },
            Ok(Walk::Broken(problem)) => AuditVerification::Broken { problem },
            Ok(Walk::NeedsKey(seq)) => AuditVerification::Broken {
                problem: format!("record #{seq} is keyed but this broker holds no audit key"),
            },
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
        walk(self.store(), self.audit_check(), each).await
    }

    /// What verification checks: the records keyed with the store's chain key.
    fn audit_check(&self) -> Check {
        Check {
            key: self.store().chain_key(),
            anchors: Vec::new(),
        }
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
}

/// What one anchoring pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchoring {
    /// The head was anchored.
    Anchored(Anchor),
    /// The head has not moved since the last anchor (or the chain is empty).
    Unchanged,
    /// The chain no longer holds the last anchored record with its hash: records were
    /// deleted or rewritten. Nothing was anchored (that would bless the rewrite).
    Tampered(String),
}

/// Anchors the chain's head in `anchors` unless it has not moved since `last` (the last
/// anchor written, or read back at start-up). Nothing is anchored that does not verify: the
/// last anchored record must still be there with its hash, and every record from it to the
/// head must verify with the store's chain key, or the pass reports the chain tampered with
/// (anchoring over it would bless the damage). Refused on a store that holds no key.
pub async fn anchor_head<S: Store>(
    store: &S,
    anchors: &dyn crate::ports::AnchorStore,
    last: Option<Anchor>,
    at: time::OffsetDateTime,
) -> Result<Anchoring, AnchorError> {
    let Some(key) = store.chain_key() else {
        return Err(AnchorError::NoKey);
    };
    let start = match last {
        None => ChainHead::GENESIS,
        Some(last) => {
            match row_at(store, last.seq).await? {
                Some(row) if row.hash == last.hash.to_hex() => {}
                Some(_) => {
                    return Ok(Anchoring::Tampered(format!(
                        "record #{} no longer has its anchored hash {} (rewritten)",
                        last.seq, last.hash
                    )));
                }
                None => {
                    return Ok(Anchoring::Tampered(format!(
                        "record #{} was anchored and is gone (deleted, or the chain cut off before it)",
                        last.seq
                    )));
                }
            }
            ChainHead {
                seq: last.seq,
                hash: last.hash,
            }
        }
    };
    let check = Check {
        key: Some(key),
        anchors: Vec::new(),
    };
    let walked = walk_from(store, check, start, |_, _| {
        Ok::<_, std::convert::Infallible>(ControlFlow::Continue(()))
    })
    .await;
    let head = match walked {
        Ok(Walk::Intact { head, .. }) => head,
        Ok(Walk::Broken(problem)) => return Ok(Anchoring::Tampered(problem)),
        Ok(Walk::NeedsKey(seq)) => {
            return Ok(Anchoring::Tampered(format!(
                "record #{seq} is keyed but could not be checked"
            )));
        }
        Ok(Walk::Stopped { .. }) => return Ok(Anchoring::Unchanged),
        Err(WalkError::Store(e)) => return Err(e.into()),
        Err(WalkError::Consumer(never)) => match never {},
    };
    // Nothing new since the last anchor, or nothing written yet.
    if head.seq == start.seq || head.seq == 0 {
        return Ok(Anchoring::Unchanged);
    }
    let anchor = Anchor::from(head);
    anchors
        .put(anchor, at)
        .await
        .map_err(|e| AnchorError::Anchor(anchors.location(), e))?;
    Ok(Anchoring::Anchored(anchor))
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// One anchoring pass of this broker's chain ([`anchor_head`] at the current time).
    pub async fn anchor_audit(
        &self,
        anchors: &dyn crate::ports::AnchorStore,
        last: Option<Anchor>,
    ) -> Result<Anchoring, AnchorError> {
        anchor_head(self.store(), anchors, last, self.now()).await
    }

    /// Records that the audit chain was found tampered with (`problem`, against the anchors
    /// in `location`): an `audit_chain_tampered` record and a critical alert to the security
    /// team, in one transaction.
    pub async fn audit_chain_tampered(&self, location: &str, problem: &str) -> Result<(), Error> {
        let event = AuditEvent::from(AuditChainTampered {
            location: location.to_owned(),
            problem: problem.to_owned(),
        });
        self.record_system_event(event).await
    }
}

/// Why an anchoring pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The anchor could not be written to or read from its place.
    #[error("cannot anchor the audit chain in {0}: {1}")]
    Anchor(String, String),
    /// The store seals no record with a key: its anchors would prove nothing.
    #[error("the store holds no audit chain key: nothing is anchored")]
    NoKey,
}

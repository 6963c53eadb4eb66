//! Cut-offs that failed and have not held since: what the console's sessions page shows as
//! "cut-off failed — retrying".
//!
//! Every failure goes through [`App::revocation_failed`] (audited and paged), which also
//! records it here; the next write of the same target that holds and reads back
//! ([`App::sync_role`] for a role, [`App::sync_organization`] for the organisation policy)
//! clears it. The record is this process's: with several replicas, each shows the failures
//! its own API calls and worker met (the worker that holds the revocation lease retries
//! every failing role, so its replica's page shows every failure still standing); the audit
//! log holds them all.
//!
//! A failure's text (AWS's own words, which name accounts, roles and policies) stays in the
//! audit record and the log; the page gets a short summary of its kind.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::{App, Caller, Error};
use crate::cloud::{Cloud, CloudError};
use crate::model::{RequestId, RoleArn};
use crate::ports::{AccessStore, Clock, IdSource, Store};
use crate::revocation::RevocationError;

/// What a cut-off failed on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CutOffTarget {
    /// A role's `BreakglassRevocations` (or `AWSRevokeOlderSessions`) policy.
    Role(RoleArn),
    /// The organisation's revoked-responders SCP.
    Organization,
}

/// A cut-off that failed and has not held since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCutOff {
    /// What could not be written.
    pub target: CutOffTarget,
    /// The revoked requests waiting on it that this process knows of.
    pub requests: Vec<RequestId>,
    /// Failures in a row.
    pub attempts: u32,
    /// When the first of them happened.
    pub since: OffsetDateTime,
    /// When the last one happened.
    pub last: OffsetDateTime,
    /// What kind of failure the last one was, in a few words (no AWS text).
    pub summary: &'static str,
}

/// The registry behind [`App::failed_cut_offs`].
#[derive(Debug, Default)]
pub(super) struct CutOffs(std::sync::Mutex<BTreeMap<CutOffTarget, FailedCutOff>>);

impl CutOffs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CutOffTarget, FailedCutOff>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a failure of `target`, for `request` if known.
    pub(super) fn failed(
        &self,
        target: CutOffTarget,
        request: Option<RequestId>,
        at: OffsetDateTime,
        summary: &'static str,
    ) {
        let mut map = self.lock();
        let entry = map.entry(target.clone()).or_insert_with(|| FailedCutOff {
            target,
            requests: Vec::new(),
            attempts: 0,
            since: at,
            last: at,
            summary,
        });
        entry.attempts = entry.attempts.saturating_add(1);
        entry.last = at;
        entry.summary = summary;
        if let Some(r) = request
            && !entry.requests.contains(&r)
        {
            entry.requests.push(r);
        }
    }

    /// How many times in a row `target` has failed (0 when it is not failing).
    pub(super) fn attempts(&self, target: &CutOffTarget) -> u32 {
        self.lock().get(target).map_or(0, |f| f.attempts)
    }

    /// `target` was written and read back: its failure, if any, is over.
    pub(super) fn held(&self, target: &CutOffTarget) {
        self.lock().remove(target);
    }

    fn all(&self) -> Vec<FailedCutOff> {
        self.lock().values().cloned().collect()
    }
}

/// A failure's kind in a few words, for people: AWS's text stays in the audit log.
pub fn summary(e: &Error) -> &'static str {
    match e {
        Error::Cloud(CloudError::AccessDenied(_)) => "AWS refused the write (access denied)",
        Error::Cloud(CloudError::NotFound(_)) => "the role or policy was not found in AWS",
        Error::Cloud(CloudError::Unavailable(_)) => "AWS could not be reached or kept failing",
        Error::Cloud(CloudError::Invalid(_)) => "AWS refused the policy as invalid",
        Error::CutOffUnverified { .. } | Error::OrganizationPolicyUnverified => {
            "the policy read back is not the one written"
        }
        Error::Revocation(
            RevocationError::TooLarge { .. } | RevocationError::OrganizationTooLarge { .. },
        ) => "the deny policy would exceed its size limit",
        Error::Revocation(_) => "a revocation entry is malformed",
        Error::Store(_) => "the broker's store failed",
        _ => "the cut-off could not be completed",
    }
}

impl<S, K, C, I> App<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// The cut-offs that failed and have not held since, as `caller` may see them: an
    /// administrator sees every one; anyone else only those of revoked requests they may
    /// read, listing only those requests.
    pub async fn failed_cut_offs(&self, caller: &Caller) -> Result<Vec<FailedCutOff>, Error> {
        let all = self.cut_offs.all();
        if caller.admin {
            return Ok(all);
        }
        let rules = self.rules();
        let mut readable = BTreeSet::new();
        let mut out = Vec::new();
        for mut failure in all {
            let mut mine = Vec::new();
            for id in failure.requests {
                let may = if readable.contains(&id) {
                    true
                } else {
                    match self.store().get(&id).await? {
                        Some(r) if super::requests::may_read(&rules, caller, &r.value) => {
                            readable.insert(id.clone());
                            true
                        }
                        _ => false,
                    }
                };
                if may {
                    mine.push(id);
                }
            }
            if !mine.is_empty() {
                failure.requests = mine;
                out.push(failure);
            }
        }
        Ok(out)
    }
}

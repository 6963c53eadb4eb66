//! Wrong second-factor codes, backed off per user in the store.
//!
//! A user's run of wrong TOTP codes (step-ups and sign-ins alike) is stored
//! ([`SecondFactorFailures`]), so a restart or another replica does not hand a guesser a
//! fresh budget. The schedule is the domain's (`SecondFactorFailures::after_wrong_code`): a
//! few free wrong codes, then each further one locks the second factor, 30 s doubling up to
//! 15 minutes; a right code spent ends the run, in the transaction that spends it. Each
//! wrong code is audited (`totp_failed`) in the transaction that records it, each lockout
//! too (`second_factor_locked_out`), and from the third lockout in a row each one alerts the
//! security team through the outbox, in that same transaction.
//!
//! The lock is short on purpose: wrong codes sent past the sign-in limit count too, so
//! anyone who knows a username can keep that user's second factor locked. What they get is
//! a delay of at most 15 minutes per code, and an alert.
//!
//! Within one process the checks of one user take turns (`Turns`), so a burst of parallel
//! guesses is checked one at a time against the stored run; replicas racing on one user's
//! run lose the race with a store error rather than a lost count.

use breakglass_core::accounts::{AuthWrite, SecondFactorFailures};
use breakglass_core::audit::Actor;
use breakglass_core::audit::events::{SecondFactorLockedOut, TotpFailed};
use breakglass_core::model::Username;
use breakglass_core::ports::AuthStore;
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

use super::{Auth, AuthError};

/// How many users' checks can run side by side (users hash onto these).
const LANES: usize = 64;

/// One lock per lane of users: the second-factor checks of one user run one at a time.
#[derive(Debug)]
pub(crate) struct Turns([Mutex<()>; LANES]);

impl Default for Turns {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Mutex::new(())))
    }
}

impl Turns {
    /// Waits for `username`'s turn.
    pub(crate) async fn of(&self, username: &str) -> Option<MutexGuard<'_, ()>> {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        username.hash(&mut h);
        let lane = usize::try_from(h.finish() % LANES as u64).unwrap_or(0);
        let lock = self.0.get(lane)?;
        Some(lock.lock().await)
    }
}

impl<S: AuthStore> Auth<S> {
    /// The stored run of wrong codes of `who`.
    pub(super) async fn second_factor_run(
        &self,
        who: &Username,
    ) -> Result<Option<SecondFactorFailures>, AuthError> {
        Ok(self.store.second_factor_failures(who.as_str()).await?)
    }

    /// Records a wrong code of `who` for `purpose` at `now`, after the stored `run`: audited,
    /// with the lockout it starts, if any (alerting from the third in a row).
    pub(super) async fn wrong_code(
        &self,
        who: &Username,
        purpose: &str,
        run: Option<&SecondFactorFailures>,
        now: OffsetDateTime,
    ) -> Result<(), AuthError> {
        let (next, lockout) = SecondFactorFailures::after_wrong_code(run, who.as_str(), now);
        let mut audit = vec![self.entry(
            Actor::User(who.clone()),
            TotpFailed {
                username: who.clone(),
                purpose: purpose.to_owned(),
                reason: "wrong code".to_owned(),
            },
        )];
        if let Some(l) = lockout {
            audit.push(self.entry(
                Actor::System,
                SecondFactorLockedOut {
                    username: who.clone(),
                    failures: next.failures,
                    lockouts: l.lockouts,
                    until: l.until,
                },
            ));
        }
        let write = AuthWrite::RecordSecondFactorFailure {
            previous: run.map_or(0, |r| r.failures),
            run: next,
        };
        self.store.auth_commit(vec![write], audit).await?;
        Ok(())
    }
}

//! The expiry worker: ends grants on time, times out pending requests, and keeps every
//! role's revocation policy pruned and in step with the stored entries (restoring the entry
//! of a revoked grant whose live sessions have none, e.g. after a crash mid-revocation).
//! Its jobs, and the roles within the revocation job, run independently: one failing is
//! reported and the rest still run. A role whose cut-off fails is audited
//! (`revocation_failed`), alerted, and retried with backoff until it holds.
//!
//! Everything it acts on lives in the store (request deadlines, revocation entries), so a
//! broker that was down picks up on start what ended meanwhile: the first pass expires and
//! audits those grants. With several replicas on one database each job runs under a lease
//! (`job_leases`, taken with one atomic statement) held by one replica at a time; the
//! holder renews it every pass and releases it on clean shutdown, and another replica takes
//! over when a lease runs out.

use std::sync::Arc;

use breakglass_core::app::{App, Error, RoleSync};
use breakglass_core::broker::SweepReport;
use breakglass_core::cloud::Cloud;
use breakglass_core::model::{RequestId, RoleArn};
use breakglass_core::ports::{AccessStore, Clock, IdSource, Store};
use time::Duration;
use tokio::sync::watch;
use tracing::Instrument as _;

/// The lease of the expiry sweep (timeouts and expiries).
pub const SWEEP_JOB: &str = "sweep";
/// The lease of the revocation-policy job (prune and rewrite).
pub const REVOCATIONS_JOB: &str = "revocations";

/// How the worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// This replica's name in the lease table (unique per process).
    pub holder: String,
    /// Time between passes.
    pub interval: std::time::Duration,
    /// How long a lease lasts without renewal; longer than a pass takes, so that a live
    /// holder never loses it mid-pass.
    pub lease: Duration,
    /// At most this many requests per sweep.
    pub sweep_limit: u32,
}

impl WorkerConfig {
    /// Defaults for `holder`: a pass every 5 seconds, 60-second leases, 500 requests per
    /// sweep.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            interval: std::time::Duration::from_secs(5),
            lease: Duration::seconds(60),
            sweep_limit: 500,
        }
    }
}

/// What one pass did. A job is `None` when another replica holds its lease. Jobs run
/// independently: one that fails is in `failed` and the others still run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// The sweep's timeouts and expiries.
    pub sweep: Option<SweepReport>,
    /// Each role's policy rewrite that was due, or the role and why it failed.
    pub revocations: Option<Vec<Result<RoleSync, (RoleArn, String)>>>,
    /// Revoked requests whose missing revocation entries were restored.
    pub restored: Vec<RequestId>,
    /// The jobs (`sweep`, `revocations`, `organization`, `reconcile`) or items that failed,
    /// with why.
    pub failed: Vec<(String, String)>,
}

/// A role whose cut-off keeps failing: how many attempts in a row, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failing {
    attempts: u32,
    next: time::OffsetDateTime,
}

/// The wait before retrying a role whose cut-off failed `attempts` times in a row: the
/// pass interval doubled per failure, at most five minutes.
fn backoff(interval: std::time::Duration, attempts: u32) -> Duration {
    let base = Duration::try_from(interval).unwrap_or(Duration::seconds(5));
    let factor = 1_i32 << attempts.saturating_sub(1).min(10);
    (base * factor).min(MAX_BACKOFF)
}

/// The longest wait between two attempts at a failing cut-off.
const MAX_BACKOFF: Duration = Duration::minutes(5);

/// The expiry worker.
#[derive(Debug)]
pub struct Worker<S, K, C, I> {
    app: Arc<App<S, K, C, I>>,
    config: WorkerConfig,
    /// Roles whose cut-off failed, by role: retried with backoff, audited and alerted.
    failing: std::sync::Mutex<std::collections::BTreeMap<RoleArn, Failing>>,
    /// The organisation policy's run of failed rewrites, if it is failing.
    organization_failing: std::sync::Mutex<Option<Failing>>,
}

impl<S, K, C, I> Worker<S, K, C, I>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    /// A worker over the use cases `app`.
    pub fn new(app: Arc<App<S, K, C, I>>, config: WorkerConfig) -> Self {
        Self {
            app,
            config,
            failing: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            organization_failing: std::sync::Mutex::new(None),
        }
    }

    /// Takes (or renews) lease `job`.
    async fn lease(&self, job: &str) -> Result<bool, Error> {
        self.app
            .take_lease(job, &self.config.holder, self.config.lease)
            .await
    }

    /// One pass: each job whose lease this replica holds or can take, in a `worker_pass`
    /// span with one span per job (`sweep`, `revocations`, `reconcile`) that logs its
    /// outcome.
    pub async fn run_once(&self) -> Result<Pass, Error> {
        let span = tracing::info_span!("worker_pass", holder = %self.config.holder);
        self.pass().instrument(span).await
    }

    async fn pass(&self) -> Result<Pass, Error> {
        let mut pass = Pass::default();
        if self.lease(SWEEP_JOB).await? {
            let span = tracing::info_span!("sweep");
            let sweep = self
                .app
                .sweep(self.config.sweep_limit)
                .instrument(span.clone())
                .await;
            match span.in_scope(|| logged("sweep", sweep, log_sweep)) {
                Ok(report) => pass.sweep = Some(report),
                Err(e) => pass.failed.push(("sweep".to_owned(), e.to_string())),
            }
        } else {
            tracing::debug!(job = SWEEP_JOB, "lease held by another replica");
        }
        if self.lease(REVOCATIONS_JOB).await? {
            let span = tracing::info_span!("revocations");
            let synced = self.revocations().instrument(span.clone()).await;
            match span.in_scope(|| logged("revocations", synced, |v| log_syncs(v))) {
                Ok(syncs) => pass.revocations = Some(syncs),
                Err(e) => pass.failed.push(("revocations".to_owned(), e.to_string())),
            }
            let span = tracing::info_span!("organization");
            if let Err(e) = self.organization().instrument(span).await {
                pass.failed.push(("organization".to_owned(), e));
            }
            let span = tracing::info_span!("reconcile");
            let reconciled = self.app.reconcile().instrument(span.clone()).await;
            match span.in_scope(|| logged("reconcile", reconciled, log_reconciled)) {
                Ok(r) => {
                    pass.restored = r.restored;
                    pass.failed.extend(
                        r.failed
                            .into_iter()
                            .map(|(id, e)| (format!("reconcile {id}"), e)),
                    );
                }
                Err(e) => pass.failed.push(("reconcile".to_owned(), e.to_string())),
            }
        } else {
            tracing::debug!(job = REVOCATIONS_JOB, "lease held by another replica");
        }
        Ok(pass)
    }

    /// Rewrites the policy of every role with revocation entries that is due: each role on
    /// its own (one failing does not hold the others back). A failure is audited as
    /// `revocation_failed` (the security team alerted on the 1st, 2nd, 4th... in a row) and
    /// the role retried after a backoff, until a write holds and reads back.
    async fn revocations(&self) -> Result<Vec<Result<RoleSync, (RoleArn, String)>>, Error> {
        let now = self.app.now();
        let mut out = Vec::new();
        for role in self.app.revocation_roles().await? {
            let due = self.failing().get(&role).is_none_or(|f| f.next <= now);
            if !due {
                continue;
            }
            match self.app.sync_role(&role).await {
                Ok(sync) => {
                    if self.failing().remove(&role).is_some() {
                        tracing::warn!(role = %role, "revocation policy holds again");
                    }
                    out.push(Ok(sync));
                }
                Err(e) => {
                    let attempts = self
                        .failing()
                        .get(&role)
                        .map_or(1, |f| f.attempts.saturating_add(1));
                    self.failing().insert(
                        role.clone(),
                        Failing {
                            attempts,
                            next: now + backoff(self.config.interval, attempts),
                        },
                    );
                    let problem = e.to_string();
                    if let Err(audit) = self.app.revocation_failed(&role, None, attempts, &e).await
                    {
                        tracing::error!(role = %role, error = %audit, "revocation failure not recorded");
                    }
                    out.push(Err((role, problem)));
                }
            }
        }
        Ok(out)
    }

    /// Rewrites the organisation's revoked-responders policy when the broker keeps one. A
    /// failure is audited as `revocation_failed` against a role whose revoked responders it
    /// leaves undenied (the problem names the organisation policy), alerted on the 1st, 2nd,
    /// 4th... in a row, and retried with backoff like a role.
    async fn organization(&self) -> Result<(), String> {
        let now = self.app.now();
        let due = self
            .organization_failing()
            .is_none_or(|f: Failing| f.next <= now);
        if !due {
            return Ok(());
        }
        match self.app.sync_organization().await {
            Ok(synced) => {
                if self.set_organization_failing(None).is_some() {
                    tracing::warn!("organisation policy holds again");
                }
                if let Some(s) = synced.filter(|s| s.changed) {
                    tracing::info!(responders = s.responders, "organisation policy rewritten");
                }
                Ok(())
            }
            Err(e) => {
                let attempts = self
                    .organization_failing()
                    .map_or(1, |f| f.attempts.saturating_add(1));
                self.set_organization_failing(Some(Failing {
                    attempts,
                    next: now + backoff(self.config.interval, attempts),
                }));
                let problem = format!(
                    "organisation policy `{}`: {e}",
                    breakglass_core::revocation::ORGANIZATION_POLICY
                );
                tracing::error!(error = %problem, attempts, "organisation policy not rewritten");
                if let Err(audit) = self
                    .app
                    .organization_policy_failed(attempts, &e, None)
                    .await
                {
                    tracing::error!(error = %audit, "revocation failure not recorded");
                }
                Err(problem)
            }
        }
    }

    fn organization_failing(&self) -> Option<Failing> {
        *self
            .organization_failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_organization_failing(&self, to: Option<Failing>) -> Option<Failing> {
        std::mem::replace(
            &mut *self
                .organization_failing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            to,
        )
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<RoleArn, Failing>> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs passes every interval until `shutdown` turns true (or its sender is dropped),
    /// then releases the leases. `on_pass` sees every pass's outcome (to log or count it);
    /// a failed pass does not stop the loop, the next one retries.
    pub async fn run(
        &self,
        mut shutdown: watch::Receiver<bool>,
        mut on_pass: impl FnMut(&Result<Pass, Error>) + Send,
    ) -> Result<(), Error> {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pass = self.run_once().await;
            on_pass(&pass);
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                () = tokio::time::sleep(self.config.interval) => {}
            }
        }
        self.app
            .release_lease(SWEEP_JOB, &self.config.holder)
            .await?;
        self.app
            .release_lease(REVOCATIONS_JOB, &self.config.holder)
            .await?;
        Ok(())
    }
}

/// Logs a job's outcome (`log` for a success, an error event for a failure) and passes it on.
fn logged<T, E: std::fmt::Display>(
    job: &str,
    outcome: Result<T, E>,
    log: impl FnOnce(&T),
) -> Result<T, E> {
    match &outcome {
        Ok(done) => log(done),
        Err(e) => tracing::error!(job, error = %e, "job failed"),
    }
    outcome
}

fn log_sweep(r: &SweepReport) {
    if r.timed_out.is_empty() && r.expired.is_empty() {
        tracing::debug!("nothing due");
    } else {
        tracing::info!(
            timed_out = r.timed_out.len(),
            expired = r.expired.len(),
            "requests timed out or expired"
        );
    }
}

fn log_syncs(syncs: &[Result<RoleSync, (RoleArn, String)>]) {
    for s in syncs {
        match s {
            Ok(s) if s.changed || s.pruned > 0 => tracing::info!(
                role = %s.role_arn,
                entries = s.entries,
                pruned = s.pruned,
                "revocation policy rewritten"
            ),
            Ok(_) => {}
            Err((role, e)) => {
                tracing::warn!(role = %role, error = %e, "revocation policy not synced")
            }
        }
    }
    tracing::debug!(roles = syncs.len(), "revocation policies checked");
}

fn log_reconciled(r: &breakglass_core::app::Reconciled) {
    if !r.restored.is_empty() {
        tracing::warn!(
            restored = r.restored.len(),
            "revocation entries restored for revoked grants that had none"
        );
    }
    for (id, e) in &r.failed {
        tracing::error!(request = %id, error = %e, "revocation entry not restored");
    }
    if r.restored.is_empty() && r.failed.is_empty() {
        tracing::debug!("every revoked grant has its entry");
    }
}

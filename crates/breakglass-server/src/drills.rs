//! Running drills: one drill (`breakglass drill`, or `serve`'s schedule) walks every path
//! through the application's drill use cases, waits for its alert to leave through every
//! channel, verifies the chain and records the run; the scheduler does that every
//! `[drills] every` on one replica at a time (a lease in the store).
//!
//! The preflight checks read AWS through the deploy role, which this crate does not know:
//! whoever starts a drill hands them in as a function.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use breakglass_core::app::{AlertState, App, Error};
use breakglass_core::cloud::Cloud;
use breakglass_core::drill::{DrillPath, DrillRun, Finding, Step, Trigger};
use breakglass_core::model::{IncidentId, PlaybookId};
use breakglass_core::ports::{AccessStore, Clock, IdSource, Store};
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::app::AppService;

/// The preflight checks, run at the start of each drill.
pub type Preflight = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Step>> + Send>> + Send + Sync>;

/// The lease that keeps scheduled drills to one replica.
pub const DRILL_LEASE: &str = "drill";

/// What to drill and how long to wait for the alert.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The playbooks (empty: every playbook).
    pub playbooks: Vec<PlaybookId>,
    /// How long to wait for the drill alert to reach every channel.
    pub alert_timeout: std::time::Duration,
    /// What started it.
    pub trigger: Trigger,
    /// Whether notifications are configured (without, the alert cannot be delivered, and
    /// the drill says so instead of waiting).
    pub notifications: bool,
}

/// What a drill reports while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The preflight checks ended.
    Preflight(&'a [Step]),
    /// A path ended.
    Path(&'a DrillPath),
    /// A closing check ended.
    Check(&'a Step),
}

/// Runs one drill and records it; returns the run and whether the security team was
/// alerted. Fails only when the run cannot be recorded (or the playbooks are unknown).
pub async fn run<S, K, C, I>(
    app: &App<S, K, C, I>,
    options: &DrillOptions,
    preflight: Vec<Step>,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<(DrillRun, bool), Error>
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    let targets = app.drill_targets(&options.playbooks)?;
    let id = format!("dr-{}", crate::random::random_hex(6));
    let incident = IncidentId::new(format!("DRILL-{id}"))
        .map_err(|e| Error::Invalid(format!("drill incident id: {e}")))?;
    let started_at = app.now();
    progress(Progress::Preflight(&preflight));
    let mut paths = Vec::with_capacity(targets.len());
    for target in targets {
        let path = app.drill_path(&incident, target).await;
        progress(Progress::Path(&path));
        paths.push(path);
    }
    let alerts = alert_step(app, &id, options).await;
    progress(Progress::Check(&alerts));
    let chain = app.drill_chain_step().await;
    progress(Progress::Check(&chain));
    let run = DrillRun {
        id,
        trigger: options.trigger,
        incident,
        started_at,
        finished_at: app.now(),
        preflight,
        paths,
        checks: vec![alerts, chain],
    };
    let alerted = app.record_drill(&run).await?;
    Ok((run, alerted))
}

/// Sends the drill alert and waits until every channel took it, it was dead-lettered, or
/// `alert_timeout` passed.
async fn alert_step<S, K, C, I>(app: &App<S, K, C, I>, run: &str, options: &DrillOptions) -> Step
where
    S: Store + AccessStore,
    K: Cloud,
    C: Clock,
    I: IdSource,
{
    let started = app.now();
    let finish = |findings: Vec<Finding>| {
        let ms = u64::try_from((app.now() - started).whole_milliseconds()).unwrap_or(0);
        Step::checked("alerts", started, ms, findings)
    };
    let alert = |message: String| Finding::new("alert_not_delivered", "security team", message);
    if !options.notifications {
        return finish(vec![alert(
            "the config has no [notifications] section: no channel can deliver the security team's alerts".to_owned(),
        )]);
    }
    let seq = match app.drill_alert(run, options.trigger.describe()).await {
        Ok(seq) => seq,
        Err(e) => {
            return finish(vec![alert(format!(
                "the drill alert could not be queued: {e}"
            ))]);
        }
    };
    let deadline = tokio::time::Instant::now() + options.alert_timeout;
    loop {
        let state = match app.drill_alert_state(seq).await {
            Ok(s) => s,
            Err(e) => return finish(vec![alert(format!("the outbox could not be read: {e}"))]),
        };
        match state {
            AlertState::Delivered => return finish(Vec::new()),
            AlertState::DeadLettered { error } => {
                return finish(vec![alert(format!(
                    "the drill alert was dead-lettered: {}",
                    error.as_deref().unwrap_or("no error recorded")
                ))]);
            }
            AlertState::Waiting { done, last_error } => {
                if tokio::time::Instant::now() >= deadline {
                    return finish(vec![alert(format!(
                        "the drill alert did not reach every channel within {} s (delivered to: {}; last error: {})",
                        options.alert_timeout.as_secs(),
                        if done.is_empty() {
                            "none".to_owned()
                        } else {
                            done.join(", ")
                        },
                        last_error.as_deref().unwrap_or("none yet")
                    ))]);
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs a drill every `every`, on one replica at a time.
pub struct Scheduler {
    app: Arc<AppService>,
    options: DrillOptions,
    every: std::time::Duration,
    preflight: Preflight,
    holder: String,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("options", &self.options)
            .field("every", &self.every)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler for `app`, drilling as `options` say every `every`, as lease holder
    /// `holder`.
    pub fn new(
        app: Arc<AppService>,
        options: DrillOptions,
        every: std::time::Duration,
        preflight: Preflight,
        holder: String,
    ) -> Self {
        Self {
            app,
            options,
            every,
            preflight,
            holder,
        }
    }

    /// Checks every `tick` whether a drill is due and this replica may run it (the lease,
    /// taken for a whole period, keeps the others out); runs it. Stops when `stopped` turns
    /// true.
    pub async fn run(self, tick: std::time::Duration, mut stopped: watch::Receiver<bool>) {
        let mut next_due = tokio::time::Instant::now();
        let period = time::Duration::try_from(self.every).unwrap_or(time::Duration::DAY);
        loop {
            if *stopped.borrow() {
                return;
            }
            if tokio::time::Instant::now() >= next_due {
                match self.app.take_lease(DRILL_LEASE, &self.holder, period).await {
                    Ok(true) => {
                        next_due = tokio::time::Instant::now() + self.every;
                        self.once()
                            .instrument(tracing::info_span!("drill", trigger = "scheduled"))
                            .await;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "cannot take the drill lease"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {},
                _ = stopped.changed() => {},
            }
        }
    }

    async fn once(&self) {
        let preflight = (self.preflight)().await;
        match run(&self.app, &self.options, preflight, |_| {}).await {
            Ok((run, alerted)) => tracing::info!(
                run = %run.id,
                passed = run.passed(),
                alerted,
                "scheduled drill finished"
            ),
            Err(e) => tracing::error!(error = %e, "the scheduled drill could not be recorded"),
        }
    }
}

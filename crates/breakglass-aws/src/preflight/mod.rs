//! Preflight checks for drills: read every configured account, without a grant and without
//! changing anything, and say exactly what would break an incident response there.
//!
//! Each account is reached as `apply` reaches it ([`crate::provision::Provisioner`]: the
//! caller's own account directly, any other through the deploy role). The desired state
//! (`breakglass_config::resources::DesiredState`) says what each account should hold; the
//! checks read it back with plain read calls and compare. Each check group yields one
//! [`Step`] per account (and per role or region where that is what it checks), passed or
//! failed with [`Finding`]s naming the account, the region and the resource. An API error
//! on one check is a finding of that check (`read_failed`) and the others still run; only
//! an account that cannot be reached at all ends the run with an error.
//!
//! The time comes from the caller ([`PreflightOptions::now`]); step durations are measured
//! with a monotonic clock.

mod monitoring;
mod roles;
mod trust;
mod users;

use std::time::Instant;

use aws_config::SdkConfig;
use breakglass_config::Config;
use breakglass_config::resources::{AccountState, DesiredState};
use breakglass_core::drill::{Finding, IamUserFacts, Outcome, Step};
use time::{Duration, OffsetDateTime};

use crate::provision::{Clients, ProvisionError, Provisioner};

/// The session name preflight uses when it assumes a role (the deploy role to read an
/// account, the revoker role to prove it assumable).
pub const SESSION_NAME: &str = "breakglass-preflight";

/// The default longest a break-glass user's console password may go unchanged.
pub const DEFAULT_PASSWORD_MAX_AGE: Duration = Duration::days(90);

/// What a preflight run needs from its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightOptions {
    /// Now, as the caller's clock says: step start times and password ages are taken from it.
    pub now: OffsetDateTime,
    /// A break-glass user's password older than this is a finding.
    pub password_max_age: Duration,
}

impl PreflightOptions {
    /// Options for a run at `now`, with the default password age limit.
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            now,
            password_max_age: DEFAULT_PASSWORD_MAX_AGE,
        }
    }
}

/// The result of a preflight run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// One step per check group and account (and role or region), in the order run.
    pub steps: Vec<Step>,
    /// What IAM says of each break-glass user of the config.
    pub users: Vec<IamUserFacts>,
}

impl Preflight {
    /// Whether no step failed (skipped steps do not fail a run).
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.outcome != Outcome::Failed)
    }

    /// Every finding of every step, skipped steps' reasons included.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps.iter().flat_map(|s| s.findings.iter())
    }
}

/// Runs every preflight check against every account `config` names. Reads only.
///
/// Fails only when the caller's credentials do not work or an account cannot be reached;
/// everything else wrong is a finding.
pub async fn preflight(
    base: &SdkConfig,
    config: &Config,
    options: &PreflightOptions,
) -> Result<Preflight, ProvisionError> {
    let provisioner = Provisioner::connect(base.clone()).await?;
    let desired = DesiredState::build(config);
    let mut run = Run {
        options,
        started: Instant::now(),
        steps: Vec::new(),
    };
    let mut users = Vec::new();
    for state in &desired.accounts {
        let sdk = Box::pin(provisioner.reach(config, state)).await?;
        let clients = Clients::new(&sdk, &config.partition, state.id.as_str(), &state.regions);
        // Each group's future is boxed: together they would make this one too large for a
        // task's stack in an unoptimised build.
        Box::pin(roles::check(&mut run, &clients, config, state)).await;
        Box::pin(roles::check_revoker(
            &mut run,
            &provisioner,
            &clients,
            config,
            state,
        ))
        .await;
        Box::pin(roles::check_reader(&mut run, &clients, config, state)).await;
        if state.security {
            users.extend(Box::pin(users::check(&mut run, &clients, state)).await);
        }
        Box::pin(monitoring::check(&mut run, &clients, state)).await;
    }
    Ok(Preflight {
        steps: run.steps,
        users,
    })
}

/// The steps of a run, each stamped with its start (the caller's `now` plus the time the run
/// has taken so far) and duration.
struct Run<'a> {
    options: &'a PreflightOptions,
    started: Instant,
    steps: Vec<Step>,
}

/// One step in progress.
struct Timer {
    started_at: OffsetDateTime,
    started: Instant,
}

impl Run<'_> {
    fn timer(&self) -> Timer {
        let elapsed = Duration::try_from(self.started.elapsed()).unwrap_or(Duration::ZERO);
        Timer {
            started_at: self.options.now.saturating_add(elapsed),
            started: Instant::now(),
        }
    }

    /// Records a step of `account` (and `region`, `role`) that ended with `findings`.
    fn record(&mut self, timer: Timer, name: &str, at: Where<'_>, findings: Vec<Finding>) {
        let millis = u64::try_from(timer.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut step = Step::checked(name, timer.started_at, millis, findings);
        step.account = Some(at.account.to_owned());
        step.region = at.region.map(str::to_owned);
        step.role = at.role.map(str::to_owned);
        self.steps.push(step);
    }

    /// Records a step that could not run, with why.
    fn skip(&mut self, timer: Timer, name: &str, at: Where<'_>, why: Finding) {
        self.record(timer, name, at, vec![why]);
        if let Some(step) = self.steps.last_mut() {
            step.outcome = Outcome::Skipped;
        }
    }
}

/// Where a step ran.
#[derive(Debug, Clone, Copy)]
struct Where<'a> {
    account: &'a str,
    region: Option<&'a str>,
    role: Option<&'a str>,
}

impl<'a> Where<'a> {
    fn account(account: &'a str) -> Self {
        Self {
            account,
            region: None,
            role: None,
        }
    }

    fn region(account: &'a str, region: &'a str) -> Self {
        Self {
            account,
            region: Some(region),
            role: None,
        }
    }

    fn role(account: &'a str, role: &'a str) -> Self {
        Self {
            account,
            region: None,
            role: Some(role),
        }
    }
}

/// The finding for a read that failed: the check could not decide.
fn read_failed(
    account: &str,
    region: Option<&str>,
    resource: &str,
    err: &ProvisionError,
) -> Finding {
    let place = match region {
        Some(region) => format!("{account} {region}"),
        None => account.to_owned(),
    };
    let finding = Finding::new(
        "read_failed",
        resource,
        format!("could not read {resource} in {place}: {err}"),
    )
    .in_account(account);
    match region {
        Some(region) => finding.in_region(region),
        None => finding,
    }
}

/// The account's id, as the findings name it.
fn account_id(state: &AccountState) -> &str {
    state.id.as_str()
}

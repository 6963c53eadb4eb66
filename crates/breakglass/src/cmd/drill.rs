//! `breakglass drill`: prove, before an incident, that every access path works. Runs the
//! preflight checks (reading every account the way `apply --dry-run` does), then walks each
//! playbook's path end to end as the broker's drill identity, with the broker's own store,
//! AWS adapter and notification channels, and records the run where the console shows it.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use breakglass_core::drill::{DrillPath, DrillRun, Outcome as StepOutcome, Step, Trigger};
use breakglass_core::model::PlaybookId;
use breakglass_core::request::Settings;
use breakglass_server::drills::{self, DrillOptions, Progress};

use super::config::ConfigFile;
use super::serve::{AwsArgs, KeyArgs, Opened, StoreArg};
use crate::exit::{DependencyFailed, Outcome};

/// Walk every playbook's access path end to end, as a drill.
///
/// For each playbook, role and account: a drill request, drill approvals, activation,
/// `AssumeRole` (the real trust policy, `SourceIdentity` and tags) under a session policy
/// that allows only `sts:GetCallerIdentity` and `iam:GetRole`, one call, revocation, and the
/// deny read back and proven with the policy engine. Then one alert through every channel
/// of the security team, and the audit chain verified. Prints each step, then the time to
/// access and the time to revoke of each path.
///
/// Exit codes: 0 every step passed, 1 a step failed (its finding printed), 2 bad usage,
/// 3 the store or AWS could not be reached.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  breakglass drill -c breakglass.toml\n  breakglass drill -c breakglass.toml --playbook investigate --json\n  breakglass drill start --scenario \"Ransomware in production\"\n  breakglass drill finish GAMEDAY-7K3Q"
)]
pub struct Args {
    #[command(subcommand)]
    game_day: Option<GameDay>,
    #[command(flatten)]
    config: ConfigFile,
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    aws: AwsArgs,
    /// Drill only this playbook (repeat for several; default: the config's `[drills]
    /// playbooks`, else every playbook).
    #[arg(long = "playbook", value_name = "ID")]
    playbooks: Vec<String>,
    /// Skip the preflight checks (roles, trust policies, monitoring, break-glass users).
    #[arg(long)]
    no_preflight: bool,
    /// Print the whole run as JSON instead of lines for people.
    #[arg(long)]
    json: bool,
}

/// Game days: drills with real people, through the broker you are signed in to.
#[derive(Debug, clap::Subcommand)]
enum GameDay {
    /// Open a game day (administrators): prints its incident id. Requests filed under it
    /// are real requests, approved and used as usual, and flagged as a drill in every
    /// notification and console page.
    Start {
        /// What the exercise is (e.g. "Ransomware in production, IdP down").
        #[arg(long)]
        scenario: String,
        #[command(flatten)]
        out: super::client::JsonArg,
    },
    /// Finish a game day (administrators) and print its report: who took part, each
    /// request's time to approval and to access, and what did not reach access (exit 1
    /// when something did not).
    Finish {
        /// The game day's incident id (`GAMEDAY-…`).
        id: String,
        #[command(flatten)]
        out: super::client::JsonArg,
    },
}

/// How often the in-process notifier looks for the drill's alert.
const NOTIFY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.game_day {
        Some(GameDay::Start { scenario, out }) => {
            return super::client::game_day_start(scenario, *out);
        }
        Some(GameDay::Finish { id, out }) => return super::client::game_day_finish(id, *out),
        None => {}
    }
    let config = args.config.load()?;
    let playbooks = if args.playbooks.is_empty() {
        config.drills.playbooks.clone()
    } else {
        args.playbooks
            .iter()
            .map(|p| PlaybookId::new(p.as_str()).with_context(|| format!("--playbook `{p}`")))
            .collect::<anyhow::Result<_>>()?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let Opened {
            app,
            notifier,
            sdk,
            clock,
            ..
        } = super::serve::open(
            &config,
            &args.store,
            &args.key,
            &args.aws,
            // The console federation issuer: a drill never opens the console.
            "http://127.0.0.1".to_owned(),
            Settings::default(),
            None,
        )
        .await?;
        let options = DrillOptions {
            playbooks,
            alert_timeout: config
                .drills
                .alert_timeout
                .try_into()
                .context("the alert timeout does not fit")?,
            trigger: Trigger::Cli,
            notifications: notifier.is_some(),
        };
        // The drill's alert goes out through this process's own notifier (a running broker's
        // would take it too: the outbox is claimed under a lease).
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let notifier_task = notifier.map(|n| {
            tokio::spawn(async move {
                n.run(NOTIFY_INTERVAL, stopped, |e| {
                    tracing::error!(error = %e, "notification pass failed");
                })
                .await;
            })
        });
        let preflight = if args.no_preflight {
            Vec::new()
        } else {
            super::serve::preflight(Arc::new(config.clone()), sdk, clock)().await
        };
        let mut out = crate::exit::stdout();
        let json = args.json;
        let result = drills::run(&app, &options, preflight, |p| {
            if !json {
                let _ = print_progress(&mut out, &p);
            }
        })
        .await;
        let _ = stop.send(true);
        if let Some(task) = notifier_task {
            let _ = task.await;
        }
        let (run, alerted) = result.map_err(|e| {
            DependencyFailed(anyhow::anyhow!("the drill could not be recorded: {e}"))
        })?;
        if json {
            serde_json::to_writer_pretty(&mut out, &run)?;
            writeln!(out)?;
        } else {
            print_summary(&mut out, &run, alerted)?;
        }
        Ok(if run.passed() {
            Outcome::Success
        } else {
            Outcome::Problems
        })
    })
}

fn mark(step: &Step) -> &'static str {
    match step.outcome {
        StepOutcome::Passed => "ok  ",
        StepOutcome::Failed => "FAIL",
        StepOutcome::Skipped => "skip",
    }
}

fn print_step(out: &mut impl std::io::Write, step: &Step) -> std::io::Result<()> {
    let place: Vec<&str> = [
        step.playbook.as_deref(),
        step.role.as_deref(),
        step.account.as_deref(),
        step.region.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    writeln!(
        out,
        "{} {:<32} {:<50} {:>6} ms",
        mark(step),
        step.name,
        place.join(" "),
        step.millis
    )?;
    for f in &step.findings {
        writeln!(out, "       {}", f.message)?;
    }
    Ok(())
}

fn print_progress(out: &mut impl std::io::Write, p: &Progress<'_>) -> std::io::Result<()> {
    match p {
        Progress::Preflight(steps) => {
            for s in *steps {
                print_step(out, s)?;
            }
        }
        Progress::Path(path) => {
            for s in &path.steps {
                print_step(out, s)?;
            }
        }
        Progress::Check(step) => print_step(out, step)?,
    }
    out.flush()
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms"))
}

fn print_summary(
    out: &mut impl std::io::Write,
    run: &DrillRun,
    alerted: bool,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{:<18} {:<20} {:<14} {:>16} {:>16}",
        "playbook", "role", "account", "time to access", "time to revoke"
    )?;
    for DrillPath {
        target,
        time_to_access_ms,
        time_to_revoke_ms,
        ..
    } in &run.paths
    {
        writeln!(
            out,
            "{:<18} {:<20} {:<14} {:>16} {:>16}",
            target.playbook.as_str(),
            target.role.as_str(),
            target.account.as_str(),
            ms(*time_to_access_ms),
            ms(*time_to_revoke_ms)
        )?;
    }
    let failed = run
        .steps()
        .filter(|s| s.outcome == StepOutcome::Failed)
        .count();
    writeln!(out)?;
    if failed == 0 {
        writeln!(
            out,
            "drill {} passed: {} steps, incident {}",
            run.id,
            run.steps().count(),
            run.incident
        )
    } else {
        writeln!(
            out,
            "drill {} FAILED: {failed} of {} steps failed{}",
            run.id,
            run.steps().count(),
            if alerted {
                "; the security team was alerted"
            } else {
                " (as the previous run did; the security team was alerted then)"
            }
        )
    }
}

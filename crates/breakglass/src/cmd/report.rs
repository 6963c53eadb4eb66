//! `breakglass report access-review|break-glass-log|sessions|ir-docs|schema`: the reports
//! auditors ask for, for a chosen period, as text, JSON, CSV or a self-contained HTML
//! document. The store is read directly (as `audit verify|export` do); the reports are
//! built by `breakglass_core::app` and `breakglass_config::report`, rendered by
//! `breakglass_core::report` (text), `breakglass_server::report` (HTML) and the csv crate.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use breakglass_config::Config;
use breakglass_core::app::{self, ReviewOptions};
use breakglass_core::drill::IamUserFacts;
use breakglass_core::model::IncidentId;
use breakglass_core::ports::Clock as _;
use breakglass_core::report::{Period, ReportKind, Tabular};
use breakglass_core::request::Settings;
use breakglass_core::rules::Rules;
use serde::Serialize;
use time::OffsetDateTime;

use super::config::ConfigFile;
use crate::exit::{DependencyFailed, Outcome};

/// Produce a report.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ReportCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ReportCommand {
    /// Who may request, break glass and approve; what each playbook really allows; findings
    /// to act on. Exit 1 when there are findings.
    AccessReview(AccessReviewArgs),
    /// Every break-glass activation of the period: who, when, why, the alerts sent, the
    /// review, how long. Exit 1 when a review is outstanding.
    BreakGlassLog(StoreReportArgs),
    /// The sessions of the period (optionally one incident): totals, by status, playbook,
    /// requester and incident.
    Sessions(SessionsArgs),
    /// The incident-response access documentation, generated from the config.
    IrDocs(IrDocsArgs),
    /// Print the JSON Schema of a report's JSON form.
    Schema(SchemaArgs),
}

/// The output every report takes.
#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// The output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Aligned tables for a terminal.
    Text,
    /// The report as JSON (see `breakglass report schema`).
    Json,
    /// Each table as CSV, one after the other, each preceded by a `# title` line.
    Csv,
    /// A self-contained HTML document (inline CSS and charts) that prints well.
    Html,
}

/// The period: `--from` and `--to`, each RFC 3339 or a date (`2025-03-01`; a date as
/// `--to` includes that day). Default: the 30 days up to now.
#[derive(Debug, clap::Args)]
struct PeriodArgs {
    /// The start of the period (RFC 3339 or `YYYY-MM-DD`).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// The end of the period (RFC 3339, or `YYYY-MM-DD` for the end of that day).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
}

impl PeriodArgs {
    fn period(&self, now: OffsetDateTime) -> anyhow::Result<Period> {
        let to = match &self.to {
            Some(t) => parse_time(t, true)?,
            None => now,
        };
        let from = match &self.from {
            Some(t) => parse_time(t, false)?,
            None => to - time::Duration::days(30),
        };
        Period::new(from, to).map_err(anyhow::Error::msg)
    }
}

/// `text` as RFC 3339, or as a date at the start (or, for an end, the end) of that day UTC.
fn parse_time(text: &str, end: bool) -> anyhow::Result<OffsetDateTime> {
    breakglass_core::report::parse_time(text, end).map_err(anyhow::Error::msg)
}

#[derive(Debug, clap::Args)]
struct StoreArg {
    /// The broker's store: `sqlite://PATH`, a file path, or `postgres://USER@HOST/DB`.
    #[arg(long, env = "BREAKGLASS_STORE", value_name = "URL")]
    store: String,
}

#[derive(Debug, clap::Args)]
struct StoreReportArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, clap::Args)]
struct SessionsArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    period: PeriodArgs,
    /// Only this incident's sessions.
    #[arg(long, value_name = "ID")]
    incident: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// What "what it really allows" is computed from.
#[derive(Debug, clap::Args)]
struct AllowsArgs {
    /// The action catalog (iam-data's `data` directory): with it, each playbook's real
    /// permissions are swept with the policy engine.
    #[arg(long, value_name = "DIR")]
    catalog: Option<PathBuf>,
    /// A directory of AWS managed policy documents (`<PolicyName>.json`); a managed policy
    /// without one (but AdministratorAccess) is taken to allow everything, and the report
    /// says the counts are an upper bound.
    #[arg(long, value_name = "DIR", requires = "catalog")]
    managed_policies: Option<PathBuf>,
}

impl AllowsArgs {
    fn compute(
        &self,
        config: &Config,
    ) -> anyhow::Result<
        Option<
            BTreeMap<
                breakglass_core::model::PlaybookId,
                Vec<breakglass_core::report::RoleAllowance>,
            >,
        >,
    > {
        let Some(dir) = &self.catalog else {
            return Ok(None);
        };
        let catalog = super::policy::load_catalog(dir)?;
        let managed = super::policy::load_managed(self.managed_policies.as_deref())?;
        Ok(Some(breakglass_config::report::playbook_allowances(
            config, &catalog, &managed,
        )))
    }
}

#[derive(Debug, clap::Args)]
struct AccessReviewArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    config: ConfigFile,
    #[command(flatten)]
    period: PeriodArgs,
    #[command(flatten)]
    allows: AllowsArgs,
    /// The break-glass IAM users as IAM reports them: a JSON array of the facts the
    /// preflight checks read. Without it their status is "not read".
    #[arg(long, value_name = "FILE", conflicts_with = "read_iam")]
    iam_users: Option<PathBuf>,
    /// Read the break-glass IAM users from IAM now (the security account, with the
    /// caller's AWS credentials, as `breakglass drill`'s preflight checks read them).
    #[arg(long)]
    read_iam: bool,
    /// Send the AWS calls of `--read-iam` to this endpoint instead of AWS (e.g. the moto
    /// emulator).
    #[arg(
        long,
        env = "BREAKGLASS_AWS_ENDPOINT_URL",
        value_name = "URL",
        requires = "read_iam"
    )]
    endpoint_url: Option<String>,
    /// A playbook or role without a grant for this many days is reported unused.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    unused_days: u32,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, clap::Args)]
struct IrDocsArgs {
    #[command(flatten)]
    config: ConfigFile,
    #[command(flatten)]
    allows: AllowsArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, clap::Args)]
struct SchemaArgs {
    /// The report.
    #[arg(value_enum)]
    report: SchemaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SchemaKind {
    AccessReview,
    BreakGlassLog,
    Sessions,
    IrDocs,
}

impl From<SchemaKind> for ReportKind {
    fn from(k: SchemaKind) -> Self {
        match k {
            SchemaKind::AccessReview => Self::AccessReview,
            SchemaKind::BreakGlassLog => Self::BreakGlassLog,
            SchemaKind::Sessions => Self::Sessions,
            SchemaKind::IrDocs => Self::IrDocs,
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let now = breakglass_server::SystemClock.now();
    match &args.command {
        ReportCommand::Schema(a) => {
            let mut out = crate::exit::stdout();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&ReportKind::from(a.report).schema())?
            )?;
            out.flush()?;
            Ok(Outcome::Success)
        }
        ReportCommand::IrDocs(a) => {
            let config = a.config.load()?;
            let allows = a.allows.compute(&config)?;
            let docs = breakglass_config::report::ir_documentation(&config, now, allows.as_ref());
            emit(&docs, &a.output, now)?;
            Ok(Outcome::Success)
        }
        ReportCommand::AccessReview(a) => {
            let config = a.config.load()?;
            let period = a.period.period(now)?;
            let rules =
                Rules::new(config.catalog(), &[]).context("the config's rules do not compile")?;
            let iam_users = if a.read_iam {
                Some(read_iam(&config, a.endpoint_url.clone(), now)?)
            } else {
                a.iam_users.as_deref().map(read_iam_users).transpose()?
            };
            let options = ReviewOptions {
                period: Some(period),
                iam_users,
                allows: a.allows.compute(&config)?,
                unused_days: a.unused_days,
            };
            let review = block_on(async {
                let store = super::audit::open(&a.store.store).await?;
                app::access_review(&store, &rules, &Settings::default(), now, period, &options)
                    .await
                    .map_err(|e| store_failed(e, &a.store.store))
            })?;
            emit(&review, &a.output, now)?;
            Ok(if review.findings.is_empty() {
                Outcome::Success
            } else {
                Outcome::Problems
            })
        }
        ReportCommand::BreakGlassLog(a) => {
            let period = a.period.period(now)?;
            let log = block_on(async {
                let store = super::audit::open(&a.store.store).await?;
                app::break_glass_log(&store, now, period)
                    .await
                    .map_err(|e| store_failed(e, &a.store.store))
            })?;
            emit(&log, &a.output, now)?;
            Ok(if log.review_outstanding == 0 {
                Outcome::Success
            } else {
                Outcome::Problems
            })
        }
        ReportCommand::Sessions(a) => {
            let period = a.period.period(now)?;
            let incident = a
                .incident
                .as_deref()
                .map(|i| IncidentId::new(i.to_owned()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--incident: {e}"))?;
            let report = block_on(async {
                let store = super::audit::open(&a.store.store).await?;
                app::session_report(&store, now, period, incident.as_ref())
                    .await
                    .map_err(|e| store_failed(e, &a.store.store))
            })?;
            emit(&report, &a.output, now)?;
            Ok(Outcome::Success)
        }
    }
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

fn store_failed(e: breakglass_core::ports::StoreError, url: &str) -> anyhow::Error {
    DependencyFailed(
        anyhow::Error::new(e).context(format!("reading `{}`", breakglass_store::redact_url(url))),
    )
    .into()
}

/// The break-glass IAM users as IAM reports them now (through the preflight checks' reader).
fn read_iam(
    config: &Config,
    endpoint_url: Option<String>,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<IamUserFacts>> {
    use breakglass_aws::preflight::{PreflightOptions, preflight};
    use breakglass_aws::sdk::{self, AwsOptions};
    block_on(async {
        let sdk = sdk::load(&AwsOptions {
            endpoint_url,
            region: config
                .account(&config.security_account)
                .map(|a| a.home_region().to_owned()),
            profile: None,
        })
        .await;
        let mut options = PreflightOptions::new(now);
        options.password_max_age = config.drills.password_max_age;
        preflight(&sdk, config, &options)
            .await
            .map(|p| p.users)
            .map_err(|e| {
                DependencyFailed(anyhow::anyhow!(
                    "cannot read the break-glass IAM users: {e}"
                ))
                .into()
            })
    })
}

fn read_iam_users(path: &Path) -> anyhow::Result<Vec<IamUserFacts>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not a JSON array of break-glass IAM user facts",
            path.display()
        )
    })
}

/// `report` in the chosen format, to the chosen place.
fn emit<R: Tabular + Serialize>(
    report: &R,
    output: &OutputArgs,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let bytes = render(report, output.format, now)?;
    match &output.out {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => {
            let mut out = crate::exit::stdout();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}

fn render<R: Tabular + Serialize>(
    report: &R,
    format: Format,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        Format::Text => breakglass_core::report::text(report).into_bytes(),
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(report)?;
            v.push(b'\n');
            v
        }
        Format::Html => breakglass_server::report::document(report, now).into_bytes(),
        Format::Csv => {
            let mut out = Vec::new();
            for (i, t) in report.tables().iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                writeln!(out, "# {}", t.title)?;
                let mut w = csv::Writer::from_writer(&mut out);
                w.write_record(&t.columns)?;
                for row in &t.rows {
                    w.write_record(
                        row.iter()
                            .map(|c| breakglass_core::report::csv_cell(c).into_owned()),
                    )?;
                }
                w.flush()?;
            }
            out
        }
    })
}

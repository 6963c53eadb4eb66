//! `breakglass scan`: CloudTrail against alert rules, and `breakglass scan sessions`.
//!
//! Reads files and directory trees in the S3 delivery layout (plain or gzip), or the trail's
//! bucket itself (`s3://bucket/prefix`, through breakglass-aws's trail reader), runs the rules
//! on several threads, and prints the findings and a summary at the end: as a table for
//! people, in time order with aligned columns (the rows are kept until the scan ends), or as
//! JSON or JSON lines streamed as they are found (in input order, whatever the number of
//! threads).

mod inputs;
mod output;
mod run;
mod s3;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use breakglass_trail::dedupe::{Dedupe, EventKey, KeepAll, SeenIds};
use breakglass_trail::rules::{self, Rule, RuleSet, builtin};
use breakglass_trail::scan::{ScanOptions, ScanSummary, Scanner};

use crate::exit::Outcome;
pub use inputs::{Input, ReadArgs, discover};
pub use output::Format;
pub use run::{Out, open, parallel, progress, say};

/// Scan CloudTrail for break-glass use and other alerts.
///
/// Prints one line per finding, in time order with aligned columns (or one JSON object per
/// finding, in input order), then a summary with matches per rule and
/// the alarms that fired. Exit status: 0 nothing alerting was found; 1 a finding of severity
/// `high` or `critical`, or an alarm, fired; 2 bad usage, or an input could not be read
/// completely (reported on stderr; the other inputs are still scanned); 3 a bucket could not
/// be listed (AWS unreachable, no credentials, access denied).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,

    /// CloudTrail files or directories: S3 objects (`.json`, `.json.gz`), JSON arrays,
    /// NDJSON, EventBridge and CloudWatch Logs envelopes; `-` reads stdin. Directories are
    /// walked for `.json`/`.jsonl`/`.ndjson` files (gzipped or not), skipping
    /// `CloudTrail-Digest/`. `s3://BUCKET[/PREFIX]` reads the trail's bucket: every
    /// account and region under `PREFIX/AWSLogs/` (or a prefix inside `AWSLogs/` as given),
    /// objects streamed, duplicates dropped on `eventID`; see `--role-arn`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    rules: RuleArgs,

    #[command(flatten)]
    read: ReadArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Link every role-session event to the AssumeRole that issued its credentials; print
    /// each session's summary, and timelines of the sessions selected by the filters.
    Sessions(sessions::Args),
}

/// Which rules to run.
#[derive(Debug, Clone, clap::Args)]
pub struct RuleArgs {
    /// A TOML rule file, or a directory of them (`*.toml`); may be repeated.
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rule_files: Vec<PathBuf>,

    /// Also run the built-in rule pack (the default when no `--rules` is given).
    #[arg(long)]
    builtin: bool,

    /// Take the break-glass and incident-response patterns from this breakglass config (its
    /// `alerting.role_name_pattern`), so the scan reports what the deployed alarms watch.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["break_glass_role", "break_glass_user", "incident_response_role"]
    )]
    config: Option<PathBuf>,

    /// Break-glass role pattern, matched against role ARNs (CloudWatch wildcards: `*` at the
    /// start and/or end only).
    #[arg(long, value_name = "PATTERN", default_value = "*BREAK-GLASS*")]
    break_glass_role: String,

    /// Break-glass IAM user name pattern.
    #[arg(long, value_name = "PATTERN", default_value = "*-BREAK-GLASS")]
    break_glass_user: String,

    /// Incident-response role pattern, matched against role ARNs.
    #[arg(
        long,
        value_name = "PATTERN",
        default_value = "*:role/incident-response/*"
    )]
    incident_response_role: String,
}

fn rule_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read rule directory `{}`", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("rule directory `{}` has no `.toml` files", path.display());
    }
    Ok(files)
}

impl RuleArgs {
    /// Loads the rule files and, if asked (or if none were given), the built-in pack.
    pub fn load(&self) -> anyhow::Result<RuleSet> {
        let mut all: Vec<Rule> = Vec::new();
        if self.builtin || self.rule_files.is_empty() {
            let params = match &self.config {
                Some(path) => super::config::load(path)?.scan_params(),
                None => builtin::BuiltinParams {
                    break_glass_role: self.break_glass_role.clone(),
                    break_glass_user: self.break_glass_user.clone(),
                    incident_response_role: self.incident_response_role.clone(),
                },
            };
            all.extend(builtin::rules(&params).context("cannot build the built-in rules")?);
        }
        for given in &self.rule_files {
            for file in rule_files(given)? {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read rule file `{}`", file.display()))?;
                let loaded = rules::load_toml(&file.display().to_string(), &text)?;
                for rule in &loaded {
                    for w in rule.pattern.warnings() {
                        say(&format!(
                            "warning: rule `{}` in `{}`: {w}; CloudWatch Logs would refuse this pattern, deploy `{}`",
                            rule.id,
                            file.display(),
                            rule.pattern.deployable()
                        ));
                    }
                }
                all.extend(loaded);
            }
        }
        Ok(RuleSet::new(all)?)
    }
}

/// The duplicate window shared by the worker threads, split into independently locked
/// shards so threads rarely wait for each other. Each shard is a `Dedupe` of
/// `window / SHARDS`; as keys spread evenly, together they catch a duplicate of any of about
/// the last `window / 2` distinct events, as one `Dedupe` of `window` would.
pub struct SharedWindow {
    shards: Vec<Mutex<Dedupe>>,
}

const SHARDS: usize = 64;

impl SharedWindow {
    pub fn new(window: usize) -> SharedWindow {
        SharedWindow {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Dedupe::new(window.div_ceil(SHARDS))))
                .collect(),
        }
    }
}

/// A worker's view of duplicate removal: none, its own window (one worker), or the shared
/// window.
pub enum SharedSeen<'a> {
    Keep(KeepAll),
    Local(Dedupe),
    Window(&'a SharedWindow),
}

impl<'a> SharedSeen<'a> {
    /// The dedupe for one of `jobs` workers given `--dedupe-window`.
    pub fn for_worker(window: usize, jobs: usize, shared: &'a SharedWindow) -> SharedSeen<'a> {
        match (window, jobs) {
            (0, _) => SharedSeen::Keep(KeepAll),
            (w, 1) => SharedSeen::Local(Dedupe::new(w)),
            _ => SharedSeen::Window(shared),
        }
    }
}

impl SeenIds for SharedSeen<'_> {
    fn first_sighting(&mut self, key: EventKey) -> bool {
        match self {
            SharedSeen::Keep(k) => k.first_sighting(key),
            SharedSeen::Local(d) => d.first_sighting(key),
            SharedSeen::Window(w) => w.shards.get(key.shard(SHARDS)).is_none_or(|m| {
                m.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .first_sighting(key)
            }),
        }
    }
}

/// What a worker reports besides its summary.
pub struct Worker<'a> {
    pub scanner: Scanner<'a, SharedSeen<'a>>,
    pub buf: Vec<u8>,
}

/// Scans `inputs` against `rules`, printing findings with `print`; returns the merged summary.
pub fn scan_inputs(
    inputs: &[Input],
    rules: &RuleSet,
    read: &ReadArgs,
    out: &Out,
    json_items: bool,
    print: &(dyn Fn(&mut Vec<u8>, &str, &breakglass_trail::scan::Finding<'_>) + Sync),
) -> ScanSummary {
    let options = ScanOptions {
        limits: read.limits(),
        since: read.since,
        until: read.until,
    };
    let jobs = read.jobs(inputs.len());
    let window = SharedWindow::new(if jobs > 1 { read.dedupe_window } else { 0 });
    let bar = progress(inputs, read.no_progress);
    let workers = parallel(
        inputs,
        jobs,
        bar.as_ref(),
        out,
        || Worker {
            scanner: Scanner::new(
                rules,
                SharedSeen::for_worker(read.dedupe_window, jobs, &window),
                options,
            ),
            buf: Vec::new(),
        },
        |w, index, input| {
            let name = input.name();
            let mut skipped = 0u64;
            let result = match open(input) {
                Ok(reader) => {
                    let Worker { scanner, buf } = w;
                    let mut on_finding = |f: breakglass_trail::scan::Finding<'_>| {
                        print(buf, &name, &f);
                        if buf.len() > 1 << 20 {
                            let _ = out.write_in_order(index, buf, false, json_items);
                            buf.clear();
                        }
                    };
                    let mut on_skip = |e: breakglass_trail::read::RecordError| {
                        skipped += 1;
                        if skipped <= 20 {
                            say(&format!("warning: `{name}`: {e}; skipped"));
                        }
                    };
                    scanner
                        .scan(reader, &mut on_finding, &mut on_skip)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("cannot open: {e}")),
            };
            if skipped > 20 {
                say(&format!(
                    "warning: `{name}`: {} more records skipped",
                    skipped - 20
                ));
            }
            if let Err(e) = result {
                say(&format!("error: `{name}`: {e}"));
            }
            let _ = out.write_in_order(index, &w.buf, true, json_items);
            w.buf.clear();
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut summary = ScanSummary {
        matches: vec![0; rules.len()],
        ..ScanSummary::default()
    };
    for w in workers {
        summary.merge(w.scanner.finish());
    }
    // Inputs that could not even be opened count as failed.
    let seen = summary.inputs + summary.inputs_failed;
    summary.inputs_failed += (inputs.len() as u64).saturating_sub(seen);
    summary
}

/// A note for stderr when `without_time` records had no usable time (and so were left out
/// of `left_out_of`) or `from_timestamp` records took their time from `@timestamp`.
pub fn time_note(without_time: u64, from_timestamp: u64, left_out_of: &str) -> Option<String> {
    let mut parts = Vec::new();
    if without_time > 0 {
        parts.push(format!(
            "{without_time} records have no usable eventTime or @timestamp and were left out of {left_out_of}"
        ));
    }
    if from_timestamp > 0 {
        parts.push(format!(
            "{from_timestamp} records have no usable eventTime and were timed by @timestamp"
        ));
    }
    (!parts.is_empty()).then(|| format!("note: {}", parts.join("; ")))
}

/// What records without a time are left out of when `--since` or `--until` is given.
pub const OUT_OF_WINDOW: &str = "the --since/--until window";

/// The exit outcome after a scan: alerts first, then unreadable input. When the reader of
/// the output went away (`| head`), the inputs left unread are not an error.
pub fn outcome(alerting: bool, summary: &ScanSummary, out: &Out) -> anyhow::Result<Outcome> {
    out.check()?;
    if out.is_closed() {
        // The reader went away (`| head -1`): it has what it wanted; end quietly with 0,
        // as the binary's other commands do.
        return Ok(Outcome::Success);
    }
    if alerting {
        return Ok(Outcome::Problems);
    }
    if summary.inputs_failed > 0 || summary.skipped_records > 0 {
        bail!(
            "{} inputs could not be read completely and {} records were skipped (see the messages above)",
            summary.inputs_failed,
            summary.skipped_records
        );
    }
    Ok(Outcome::Success)
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(Sub::Sessions(s)) = &args.command {
        return sessions::run(s);
    }
    let rules = args.rules.load()?;
    let inputs = discover(&args.paths, &args.read)?;
    if inputs.is_empty() {
        bail!("no CloudTrail files found under the given paths");
    }
    let out = Out::default();
    let format = args.format;
    if format == Format::Json {
        out.write(b"{\n\"findings\": [\n")?;
    }
    let rows = Mutex::new(Vec::new());
    let print = |buf: &mut Vec<u8>, file: &str, f: &breakglass_trail::scan::Finding<'_>| {
        if format == Format::Table {
            rows.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(output::table_row(file, f));
        } else {
            output::finding(buf, format, file, f);
        }
    };
    let summary = scan_inputs(
        &inputs,
        &rules,
        &args.read,
        &out,
        format == Format::Json,
        &print,
    );
    out.check()?;
    let alarms = summary.alarms.fired(rules.rules());
    match format {
        Format::Table => {
            let rows = rows
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            out.write(output::table(rows).as_bytes())?;
            out.write(b"\n")?;
            out.write(output::summary_text(&summary, &rules, &alarms).as_bytes())?;
        }
        Format::Json => out.write(output::json_tail(&summary, &rules, &alarms).as_bytes())?,
        Format::Jsonl => output::summary_text(&summary, &rules, &alarms)
            .lines()
            .for_each(say),
    }
    let alerting = !alarms.is_empty()
        || rules
            .rules()
            .iter()
            .zip(&summary.matches)
            .any(|(r, n)| *n > 0 && r.severity.is_alerting());
    outcome(alerting, &summary, &out)
}

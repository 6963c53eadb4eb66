//! `breakglass trail`: the CloudWatch Logs filter-pattern language on the command line.

use std::path::PathBuf;

use anyhow::bail;
use breakglass_trail::FilterPattern;
use breakglass_trail::rules::{Rule, RuleSet, Severity};

use crate::cmd::scan::{
    OUT_OF_WINDOW, Out, ReadArgs, discover, outcome, say, scan_inputs, time_note,
};
use crate::exit::Outcome;

/// Filter patterns: print the events one matches, or check and normalise one.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per run; the read options (with the S3 ones) make `match` the large one"
)]
enum Command {
    /// Print the events (their JSON, one per line: a pretty-printed event is printed compactly,
    /// keys and values as written) that a filter pattern matches, as a
    /// CloudWatch Logs metric filter would count them. Exit status: 0 done (with or without
    /// matches); 2 a bad pattern, or an input could not be read completely.
    Match(MatchArgs),
    /// Check a filter pattern against CloudWatch Logs' syntax and limits; print its canonical
    /// form, the text to deploy. A value CloudWatch Logs accepts only quoted (with `@`, `$`,
    /// `\` or non-ASCII characters) is shown as a warning; the canonical form quotes it.
    /// Exit status: 0 valid (with or without warnings); 2 invalid (each problem is shown at
    /// its column).
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
struct MatchArgs {
    /// The filter pattern, e.g. `{ $.eventName = "AssumeRole" }`.
    #[arg(short, long, value_name = "PATTERN")]
    pattern: String,

    /// CloudTrail files or directories (as for `breakglass scan`); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print only the number of matching events.
    #[arg(short, long)]
    count: bool,

    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The filter pattern.
    #[arg(value_name = "PATTERN")]
    pattern: String,
}

fn parse(pattern: &str) -> anyhow::Result<FilterPattern> {
    let parsed = FilterPattern::parse(pattern).map_err(|e| {
        say(e.render().trim_end());
        anyhow::anyhow!(
            "invalid filter pattern: {} problem(s), shown above",
            e.problems().len()
        )
    })?;
    if !parsed.warnings().is_empty() {
        say(parsed.render_warnings().trim_end());
        say(&format!(
            "warning: CloudWatch Logs would refuse this pattern as written ({} unquoted value(s), shown above); deploy the canonical form: {}",
            parsed.warnings().len(),
            parsed.deployable()
        ));
    }
    Ok(parsed)
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.command {
        Command::Check(c) => {
            let p = parse(&c.pattern)?;
            Out::default().write(format!("{p}\n").as_bytes())?;
            Ok(Outcome::Success)
        }
        Command::Match(m) => {
            let pattern = parse(&m.pattern)?;
            let rules = RuleSet::new(vec![Rule {
                id: "pattern".to_owned(),
                title: "--pattern".to_owned(),
                severity: Severity::Info,
                description: None,
                pattern,
                alarm: None,
                tags: Vec::new(),
            }])?;
            let inputs = discover(&m.paths, &m.read)?;
            if inputs.is_empty() {
                bail!("no CloudTrail files found under the given paths");
            }
            let out = Out::default();
            let count = m.count;
            let print =
                move |buf: &mut Vec<u8>, _file: &str, f: &breakglass_trail::scan::Finding<'_>| {
                    if !count {
                        // One event per line, even when the input was pretty-printed.
                        buf.extend_from_slice(&f.event.compact());
                        buf.push(b'\n');
                    }
                };
            let summary = scan_inputs(&inputs, &rules, &m.read, &out, false, &print);
            if count {
                out.write(format!("{}\n", summary.total_matches()).as_bytes())?;
            }
            let window = m.read.since.is_some() || m.read.until.is_some();
            if let Some(note) = time_note(
                summary.without_time,
                summary.time_from_timestamp,
                if window {
                    OUT_OF_WINDOW
                } else {
                    "nothing (no window was asked for)"
                },
            ) {
                say(&note);
            }
            outcome(false, &summary, &out)
        }
    }
}

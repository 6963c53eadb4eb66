//! The `breakglass` command: the broker (`serve`), its client, and the offline tools
//! (`policy`, `scan`, `plan`, ...).
//!
//! This binary is glue: every decision is made in the library crates, and this file only
//! parses arguments, opens files, prints results and maps outcomes to exit codes.

mod cmd;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A break-glass and just-in-time access broker for AWS incident response.
///
/// Exit codes: 0 success; 1 the command ran and found a problem (a failed check, a
/// mismatched case, an error-level finding); 2 bad usage or unreadable/malformed input;
/// 3 a dependency (store, AWS, broker) failed.
#[derive(Debug, Parser)]
#[command(name = "breakglass", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify or export the broker's hash-chained audit log.
    Audit(cmd::audit::Args),
    /// Converge the AWS accounts to the config (prints the diff first; `--dry-run` stops there).
    Apply(cmd::apply::Args),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Validate a config file or print its JSON Schema.
    Config(cmd::config::Args),
    /// Report least-privilege findings on the config.
    Lint(cmd::lint::Args),
    /// Inspect notification delivery: what waits in the outbox, what was dead-lettered.
    Notify(cmd::notify::Args),
    /// Render the config as CloudFormation, Terraform JSON and raw IAM JSON.
    Plan(cmd::plan::Args),
    /// Work with IAM policies offline: evaluate conformance cases, lint, size, list actions.
    Policy(cmd::policy::Args),
    /// Scan CloudTrail for break-glass use and other alerts; `scan sessions` links events to
    /// the sessions that made them.
    Scan(Box<cmd::scan::Args>),
    /// CloudWatch Logs filter patterns: match events, check syntax.
    Trail(Box<cmd::trail::Args>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Audit(args) => cmd::audit::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Config(args) => cmd::config::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Notify(args) => cmd::notify::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Policy(args) => cmd::policy::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Trail(args) => cmd::trail::run(args),
    };
    exit::report(outcome)
}

//! The `breakglass` command: the broker (`serve`), its client, and the offline tools
//! (`policy`, `scan`, `plan`, ...).
//!
//! This binary is glue: every decision is made in the library crates, and this file only
//! parses arguments, opens files, prints results and maps outcomes to exit codes.

mod activity;
mod cmd;
#[cfg(test)]
mod docs;
mod exit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A break-glass and just-in-time access broker for AWS incident response.
///
/// Exit codes: 0 success; 1 the command ran and found a problem (a failed check, a
/// mismatched case, an error-level finding); 2 bad usage or unreadable/malformed input (and,
/// for `apply --dry-run --exit-code`, changes to make); 3 a dependency (store, AWS, broker)
/// failed. A reader that closes standard output early (`| head`) ends the command quietly
/// with 0.
///
/// Client commands print one line for people (a value scripts use, such as a request or
/// grant id, on stdout and the line on stderr); `--json` prints the broker's answer instead.
/// Durations are written `90m`, `1h30m`, `4h`.
#[derive(Debug, Parser)]
#[command(name = "breakglass", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the grant of an approved request; prints the grant id.
    Activate(cmd::client::IdArgs),
    /// Converge the AWS accounts to the config (prints the diff first; `--dry-run` stops there).
    Apply(cmd::apply::Args),
    /// Change your pending request (`--session-policy FILE` narrows it again); approvals
    /// given before stop counting.
    Amend(cmd::client::AmendArgs),
    /// Approve a pending request (TOTP step-up; the approval is bound to what you saw).
    Approve(cmd::client::ApproveArgs),
    /// Verify or export the broker's hash-chained audit log.
    Audit(cmd::audit::Args),
    /// Take emergency access at once, without approvers (TOTP step-up; alerts everyone);
    /// prints the grant id.
    #[command(name = "break-glass")]
    BreakGlass(cmd::client::BreakGlassArgs),
    /// Withdraw your own pending request.
    Cancel(cmd::client::ReasonArgs),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// List unbrokered use found in CloudTrail (administrators): uses of a brokered role,
    /// a break-glass role or the broker's principal that no grant explains, and break-glass
    /// IAM user sign-ins.
    Findings(cmd::client::JsonArg),
    /// Validate a config file or print its JSON Schema.
    Config(cmd::config::Args),
    /// Open the AWS console as a grant's role: prints a federation sign-in URL.
    Console(cmd::client::GrantArgs),
    /// Print a grant's credentials as `credential_process` JSON (for ~/.aws/config).
    Creds(cmd::client::GrantArgs),
    /// Deny a pending request.
    Deny(cmd::client::ReasonArgs),
    /// Prove every access path works: preflight checks, then each playbook walked end to
    /// end as a drill (request, approvals, AssumeRole, a call, revocation proven, alerts).
    Drill(Box<cmd::drill::Args>),
    /// Run a command with a grant's credentials in its environment only.
    Exec(cmd::client::ExecArgs),
    /// Ask for more time on your active grant (approved like the request was).
    Extend(cmd::client::ExtendArgs),
    /// Approve or deny the extension a grant's requester asked for.
    Extension(cmd::client::ExtensionArgs),
    /// Report least-privilege findings on the config.
    Lint(cmd::lint::Args),
    /// Sign in to a broker; stores an API token in your config directory (mode 0600).
    Login(cmd::client::LoginArgs),
    /// Inspect notification delivery: what waits in the outbox, what was dead-lettered.
    Notify(cmd::notify::Args),
    /// What you may ask for: per playbook, its roles, accounts (name and id), longest
    /// grant, approvals, break-glass and step-up factor.
    Playbooks(cmd::client::PlaybooksArgs),
    /// Render the config as CloudFormation, Terraform JSON and raw IAM JSON.
    Plan(cmd::plan::Args),
    /// Work with IAM policies offline: evaluate conformance cases, lint, size, list actions.
    Policy(cmd::policy::Args),
    /// Ask for access through a playbook; prints the request id (`--wait` blocks until it is
    /// decided and says who decided and why).
    Request(cmd::client::RequestArgs),
    /// Reports for auditors: access review, break-glass log, sessions, IR access docs.
    Report(cmd::report::Args),
    /// Sign off the post-incident review of a break-glass use.
    Review(cmd::client::ReviewArgs),
    /// Revoke a grant (`--grant`) or every session of a role (`--role ARN`, admins).
    Revoke(cmd::client::RevokeArgs),
    /// Scan CloudTrail for break-glass use and other alerts; `scan sessions` links events to
    /// the sessions that made them.
    Scan(Box<cmd::scan::Args>),
    /// Run the broker: HTTP API and expiry worker.
    Serve(Box<cmd::serve::Args>),
    /// Show one request or list recent ones.
    Status(cmd::client::StatusArgs),
    /// Enrol a TOTP authenticator (`enroll`, then `confirm CODE`).
    Totp(cmd::client::TotpArgs),
    /// CloudWatch Logs filter patterns: match events, check syntax.
    Trail(Box<cmd::trail::Args>),
    /// Manage local users: `add` bootstraps one in the store directly; `invite`, `disable`,
    /// `enable`, `revoke-tokens`, `reset-second-factor` (admins) and `password` go through the
    /// broker.
    User(cmd::serve::UserArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Audit(args) => cmd::audit::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Activate(args) => cmd::client::activate(args),
        Command::Amend(args) => cmd::client::amend(args),
        Command::Approve(args) => cmd::client::approve(args),
        Command::BreakGlass(args) => cmd::client::break_glass(args),
        Command::Cancel(args) => cmd::client::cancel(args),
        Command::Console(args) => cmd::client::console(args),
        Command::Creds(args) => cmd::client::creds(args),
        Command::Deny(args) => cmd::client::deny(args),
        Command::Exec(args) => cmd::client::exec(args),
        Command::Extend(args) => cmd::client::extend(args),
        Command::Extension(args) => cmd::client::extension(args),
        Command::Login(args) => cmd::client::login(args),
        Command::Playbooks(args) => cmd::client::playbooks(args),
        Command::Request(args) => cmd::client::request(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Review(args) => cmd::client::review(args),
        Command::Revoke(args) => cmd::client::revoke(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Drill(args) => cmd::drill::run(args),
        Command::Status(args) => cmd::client::status(args),
        Command::Findings(args) => cmd::client::findings(args),
        Command::Totp(args) => cmd::client::totp(args),
        Command::User(args) => cmd::serve::run_user(args),
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

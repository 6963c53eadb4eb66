//! `breakglass apply`: converge the accounts to the config through the AWS SDK, showing the
//! diff first.

use std::io::Write;

use anyhow::Context;
use breakglass_aws::provision::organization::OrgChange;
use breakglass_aws::provision::{ProvisionError, Provisioner};
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_config::diff::Change;
use breakglass_config::resources::{DesiredState, MANAGED_BY_TAG};

use super::config::ConfigFile;
use crate::exit::{DependencyFailed, Outcome};

/// Converge every account to the config through the AWS SDK: roles, break-glass users and
/// their password secrets, metric filters, alarms, SNS topics and EventBridge rules; and,
/// when `[organization]` names the management account, the revoked-responders SCP there
/// (created and attached; its content is the running broker's and never rewritten here).
///
/// Accounts other than the caller's are reached by assuming the deploy role
/// (`deploy.role`, SecurityDeploy by default). The diff is printed first; a second run finds
/// nothing to change. Only resources carrying the `breakglass:managed-by` tag (metric
/// filters: the `breakglass-` name prefix) are ever changed or deleted; a resource the config
/// asks for that exists without the mark is reported and left alone (exit 1).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigFile,
    /// Print the diff and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With `--dry-run`, a drift check: exit 2 when there are changes, 0 when none (as
    /// `terraform plan -detailed-exitcode`).
    #[arg(long, requires = "dry_run")]
    exit_code: bool,
    /// Only converge this account (its name in the config); repeat for several.
    #[arg(long = "account", value_name = "NAME")]
    accounts: Vec<String>,
    /// Send every AWS call to this endpoint instead of AWS (e.g. an emulator).
    #[arg(long, env = "BREAKGLASS_AWS_ENDPOINT_URL", value_name = "URL")]
    endpoint_url: Option<String>,
    /// The region for calls that need one before the config's (STS); defaults to the
    /// credential chain's.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// A named profile of the AWS shared config files.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// On an AWS failure, also print the SDK's whole account of it (every cause, in the
    /// SDK's debug form); without it, one line says what failed and what to do.
    #[arg(long, short = 'v')]
    verbose: bool,
}

/// An AWS failure as the one line a person reads (exit 3), with the SDK's detail appended
/// under `--verbose` (and a pointer to it otherwise).
fn aws_failed(e: ProvisionError, verbose: bool) -> anyhow::Error {
    let detail = e.detail().map(str::to_owned);
    let err = match detail {
        Some(d) if verbose => anyhow::anyhow!("{e}\nAWS SDK detail: {d}"),
        Some(_) => anyhow::anyhow!("{e}\n(run with --verbose for the AWS SDK's detail)"),
        None => anyhow::Error::new(e),
    };
    DependencyFailed(err).into()
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let config = args.config.load()?;
    let mut desired = DesiredState::build(&config);
    for name in &args.accounts {
        if !desired.accounts.iter().any(|a| &a.name == name) {
            anyhow::bail!(
                "unknown account `{name}`: the config defines {}",
                config
                    .accounts
                    .iter()
                    .map(|a| format!("`{}`", a.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if !args.accounts.is_empty() {
        desired.accounts.retain(|a| args.accounts.contains(&a.name));
    }
    let options = AwsOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: args.region.clone().or_else(|| {
            config
                .account(&config.security_account)
                .map(|a| a.home_region().to_owned())
        }),
        profile: args.profile.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let base = sdk::load(&options).await;
        let provisioner = Provisioner::connect(base)
            .await
            .map_err(|e| aws_failed(e, args.verbose))?;
        let plans = provisioner
            .plan(&config, &desired)
            .await
            .map_err(|e| aws_failed(e, args.verbose))?;
        let organization = provisioner
            .plan_organization(&config)
            .await
            .map_err(|e| aws_failed(e, args.verbose))?;
        let mut out = crate::exit::stdout();
        writeln!(out, "as {}", provisioner.caller_arn())?;
        for plan in &plans {
            write!(out, "{}", plan.diff)?;
        }
        if let Some(org) = &organization {
            write!(out, "{org}")?;
        }
        let org_changes = organization.as_ref().map_or(&[][..], |o| o.changes.as_slice());
        let unowned = plans
            .iter()
            .flat_map(|p| &p.diff.changes)
            .filter(|c| matches!(c, Change::Unowned(_)))
            .count()
            + org_changes
                .iter()
                .filter(|c| matches!(c, OrgChange::Unowned))
                .count();
        let pending: usize = plans
            .iter()
            .map(|p| p.diff.changes.len())
            .sum::<usize>()
            + org_changes.len()
            - unowned;
        let mut drifted = false;
        if args.dry_run {
            writeln!(out, "dry run: {pending} change(s) not applied")?;
            drifted = pending > 0;
        } else if pending == 0 {
            writeln!(out, "no changes")?;
        } else {
            for plan in plans.iter().filter(|p| !p.diff.is_empty()) {
                let done = provisioner
                    .apply(plan)
                    .await
                    .map_err(|e| aws_failed(e, args.verbose))?;
                writeln!(
                    out,
                    "account {} ({}): applied {done} change(s)",
                    plan.diff.name, plan.diff.account
                )?;
            }
            if let Some(org) = organization.as_ref().filter(|o| !o.changes.is_empty()) {
                let done = provisioner
                    .apply_organization(org)
                    .await
                    .map_err(|e| aws_failed(e, args.verbose))?;
                writeln!(
                    out,
                    "organization (management account {}): applied {done} change(s)",
                    org.account
                )?;
            }
        }
        if unowned > 0 {
            writeln!(
                out,
                "{unowned} resource(s) the config asks for exist without the `{MANAGED_BY_TAG}` tag and were left alone: rename them in the config, or delete or tag them yourself"
            )?;
            return Ok(Outcome::Problems);
        }
        if drifted && args.exit_code {
            return Ok(Outcome::Changes);
        }
        Ok(Outcome::Success)
    })
}

//! `breakglass apply`: converge accounts to the desired state through the SDK.
//!
//! For each account: reach it (directly when it is the caller's, otherwise by assuming the
//! deploy role; the running broker never does, see [`crate::cloud::AccountRoles`]), read
//! what it holds into breakglass-config's resource vocabulary, let `breakglass_config::diff`
//! decide the changes, and carry them out. Reading and deciding are separate from changing,
//! so `--dry-run` is the same code minus the last step, and a second run finds nothing to do.
//!
//! Only resources carrying the ownership mark are ever changed or deleted; a resource the
//! config asks for that exists without the mark is reported and left alone.

mod error;
mod monitoring;
pub mod organization;
mod policies;
mod roles;
mod secrets;
mod users;

use std::collections::BTreeMap;

use aws_config::{Region, SdkConfig};
use breakglass_config::Config;
use breakglass_config::diff::{AccountDiff, Change, Observed, diff};
use breakglass_config::resources::{AccountState, DesiredState, Resource};
use breakglass_config::templates::revoker::REVOKER_PATH;

pub use error::ProvisionError;
pub(crate) use error::{CallResult, call_error};
pub(crate) use roles::read_role;

use crate::sdk::{self, SdkError};

/// The session name `apply` uses when it assumes the deploy role.
pub const SESSION_NAME: &str = "breakglass-apply";

/// Service clients for one region of one account.
#[derive(Debug, Clone)]
pub(crate) struct RegionClients {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
}

/// Service clients for one account.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    pub account: String,
    /// The home region (the first configured).
    pub home: String,
    /// The AWS partition, for ARNs.
    pub partition: String,
    pub iam: aws_sdk_iam::Client,
    pub regions: BTreeMap<String, RegionClients>,
}

impl Clients {
    pub(crate) fn new(
        config: &SdkConfig,
        partition: &str,
        account: &str,
        regions: &[String],
    ) -> Self {
        let regional = |region: &String| {
            let config = config
                .to_builder()
                .region(Region::new(region.clone()))
                .build();
            RegionClients {
                logs: aws_sdk_cloudwatchlogs::Client::new(&config),
                cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
                sns: aws_sdk_sns::Client::new(&config),
                events: aws_sdk_eventbridge::Client::new(&config),
                sqs: aws_sdk_sqs::Client::new(&config),
                secrets: aws_sdk_secretsmanager::Client::new(&config),
                cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
            }
        };
        // IAM is global; its endpoint is resolved from any region of the partition.
        let home = regions
            .first()
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let iam_config = config
            .to_builder()
            .region(Region::new(home.clone()))
            .build();
        Self {
            account: account.to_owned(),
            home,
            partition: partition.to_owned(),
            iam: aws_sdk_iam::Client::new(&iam_config),
            regions: regions.iter().map(|r| (r.clone(), regional(r))).collect(),
        }
    }

    pub(crate) fn region(&self, region: &str) -> Result<&RegionClients, ProvisionError> {
        self.regions
            .get(region)
            .ok_or_else(|| ProvisionError::Refused {
                account: self.account.clone(),
                resource: format!("region {region}"),
                problem: "the region is not configured for this account".to_owned(),
            })
    }
}

/// What one account holds and needs.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    /// The desired state of the account.
    pub state: AccountState,
    /// What is found there, as read.
    pub observed: Vec<Observed>,
    /// The changes to make, in order.
    pub diff: AccountDiff,
    clients: Clients,
}

/// Converges accounts: reads them, diffs them against the desired state, applies the diff.
#[derive(Debug, Clone)]
pub struct Provisioner {
    base: SdkConfig,
    caller_account: String,
    caller_arn: String,
}

impl Provisioner {
    /// Checks the caller's credentials and remembers whose they are.
    pub async fn connect(base: SdkConfig) -> Result<Self, ProvisionError> {
        let (caller_account, caller_arn) = sdk::caller_identity(&base).await?;
        Ok(Self {
            base,
            caller_account,
            caller_arn,
        })
    }

    /// The caller's account id.
    pub fn caller_account(&self) -> &str {
        &self.caller_account
    }

    /// The caller's ARN.
    pub fn caller_arn(&self) -> &str {
        &self.caller_arn
    }

    /// The caller's own SDK configuration.
    pub(crate) fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The SDK configuration for `account`: the caller's own when it is the caller's account,
    /// otherwise the deploy role's.
    pub(crate) async fn reach(
        &self,
        config: &Config,
        account: &AccountState,
    ) -> Result<SdkConfig, ProvisionError> {
        if account.id.as_str() == self.caller_account {
            return Ok(self.base.clone());
        }
        let role = config
            .role_arn(&config.deploy.role, &account.id)
            .map(|a| a.to_string())
            .unwrap_or_default();
        sdk::assume_role(&self.base, &role, SESSION_NAME, account.id.as_str())
            .await
            .map_err(|e| match e {
                SdkError::AssumeRole { role, message } => ProvisionError::DeployRole {
                    account: account.id.to_string(),
                    name: account.name.clone(),
                    role,
                    message,
                },
                other => ProvisionError::Sdk(other),
            })
    }

    /// Reads every account and works out its changes. Changes nothing.
    pub async fn plan(
        &self,
        config: &Config,
        desired: &DesiredState,
    ) -> Result<Vec<AccountPlan>, ProvisionError> {
        let mut plans = Vec::new();
        for state in &desired.accounts {
            let sdk_config = self.reach(config, state).await?;
            let clients = Clients::new(
                &sdk_config,
                &config.partition,
                state.id.as_str(),
                &state.regions,
            );
            let observed = observe(&clients, config, state).await?;
            let changes = diff(&state.resources, &observed);
            plans.push(AccountPlan {
                diff: AccountDiff {
                    name: state.name.clone(),
                    account: state.id.to_string(),
                    changes,
                },
                state: state.clone(),
                observed,
                clients,
            });
        }
        Ok(plans)
    }

    /// Carries out one account's changes, in order; returns how many were made. Stops at the
    /// first failure (a rerun picks up from what exists).
    pub async fn apply(&self, plan: &AccountPlan) -> Result<usize, ProvisionError> {
        let c = &plan.clients;
        let mut done = 0;
        for change in &plan.diff.changes {
            match change {
                Change::Unowned(_) => continue,
                Change::Create(resource) => create(c, resource).await?,
                Change::Update { from, to, .. } => update(c, from, to).await?,
                Change::Delete(resource) => delete(c, resource).await?,
            }
            done += 1;
        }
        Ok(done)
    }
}

/// Everything relevant in one account: each desired resource as it exists, and every owned
/// resource of the same kinds (so leftovers can be deleted).
async fn observe(
    c: &Clients,
    config: &Config,
    state: &AccountState,
) -> Result<Vec<Observed>, ProvisionError> {
    let mut observed = policies::observe(c, state).await?;
    observed.extend(roles::observe_roles(c, state, &[&config.path, REVOKER_PATH]).await?);
    if state.security {
        observed.extend(users::observe_users(c, state, &config.path).await?);
        observed.extend(secrets::observe(c, state).await?);
    }
    observed.extend(monitoring::observe(c, config, state).await?);
    Ok(observed)
}

async fn create(c: &Clients, resource: &Resource) -> Result<(), ProvisionError> {
    match resource {
        Resource::Policy(p) => policies::create(c, p).await,
        Resource::Role(r) => roles::create_role(c, r).await,
        Resource::User(u) => users::create_user(c, u).await,
        Resource::Secret(s) => secrets::create(c, s).await,
        Resource::MetricFilter(m) => monitoring::put_metric_filter(c, m).await,
        Resource::Alarm(a) => monitoring::put_alarm(c, a, None).await,
        Resource::Topic(t) => monitoring::create_topic(c, t).await,
        Resource::Queue(q) => monitoring::create_queue(c, q).await,
        Resource::EventRule(e) => monitoring::put_rule(c, e, None).await,
    }
}

async fn update(c: &Clients, from: &Resource, to: &Resource) -> Result<(), ProvisionError> {
    match (from, to) {
        (Resource::Policy(a), Resource::Policy(b)) => policies::update(c, a, b).await,
        (Resource::Role(a), Resource::Role(b)) => roles::update_role(c, a, b).await,
        (Resource::User(a), Resource::User(b)) => users::update_user(c, a, b).await,
        (Resource::Secret(a), Resource::Secret(b)) => secrets::update(c, a, b).await,
        (Resource::MetricFilter(_), Resource::MetricFilter(b)) => {
            monitoring::put_metric_filter(c, b).await
        }
        (Resource::Alarm(a), Resource::Alarm(b)) => monitoring::put_alarm(c, b, Some(a)).await,
        (Resource::Topic(a), Resource::Topic(b)) => monitoring::update_topic(c, a, b).await,
        (Resource::Queue(a), Resource::Queue(b)) => monitoring::update_queue(c, a, b).await,
        (Resource::EventRule(a), Resource::EventRule(b)) => {
            monitoring::put_rule(c, b, Some(a)).await
        }
        _ => Err(ProvisionError::Refused {
            account: c.account.clone(),
            resource: to.key().to_string(),
            problem: "found as a different kind of resource".to_owned(),
        }),
    }
}

async fn delete(c: &Clients, resource: &Resource) -> Result<(), ProvisionError> {
    match resource {
        Resource::Policy(p) => policies::delete(c, p).await,
        Resource::Role(r) => roles::delete_role(c, r).await,
        Resource::User(u) => users::delete_user(c, u).await,
        Resource::Secret(s) => secrets::delete(c, s).await,
        Resource::MetricFilter(m) => monitoring::delete_metric_filter(c, m).await,
        Resource::Alarm(a) => monitoring::delete_alarm(c, a).await,
        Resource::Topic(t) => monitoring::delete_topic(c, t).await,
        Resource::Queue(q) => monitoring::delete_queue(c, q).await,
        Resource::EventRule(e) => monitoring::delete_rule(c, e).await,
    }
}

/// The ownership mark on a tag list.
pub(crate) fn is_owned(tags: &BTreeMap<String, String>) -> bool {
    tags.get(breakglass_config::resources::MANAGED_BY_TAG)
        .is_some_and(|v| v == breakglass_config::resources::MANAGED_BY_VALUE)
}

/// IAM returns policy documents URL-encoded; anything else returns them as they were put.
pub(crate) fn policy_document(
    account: &str,
    what: &str,
    text: &str,
) -> Result<serde_json::Value, ProvisionError> {
    let decoded = if text.trim_start().starts_with('%') {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        text.to_owned()
    };
    serde_json::from_str(&decoded).map_err(|e| ProvisionError::Refused {
        account: account.to_owned(),
        resource: what.to_owned(),
        problem: format!("its policy document is not JSON: {e}"),
    })
}

/// The tag keys of `from` missing from `to`, and the tags of `to` that `from` lacks or
/// holds with another value.
pub(crate) fn tag_changes(
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<(String, String)>) {
    let removed = from
        .keys()
        .filter(|k| !to.contains_key(*k))
        .cloned()
        .collect();
    let set = to
        .iter()
        .filter(|(k, v)| from.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (removed, set)
}

/// IAM tags from a tag map.
pub(crate) fn iam_tags(
    account: &str,
    what: &str,
    map: &BTreeMap<String, String>,
) -> Result<Vec<aws_sdk_iam::types::Tag>, ProvisionError> {
    map.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| error::build_error(account, what, e))
        })
        .collect()
}

/// A tag map from IAM tags.
pub(crate) fn iam_tag_map(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

//! Watching every session from CloudTrail: [`extract`] turns records into the broker's
//! events (only those that can matter), [`watch`] reads them from the organisation trail's
//! bucket, the EventBridge queue and CloudWatch Logs for `serve`, under a lease.

pub mod extract;
pub mod watch;

use std::sync::Arc;

use anyhow::Context as _;
use breakglass_aws::sdk::SdkConfig;
use breakglass_aws::trail::{TrailBucket, TrailLogGroup, TrailQueue, reader_config};
use breakglass_config::Config;
use breakglass_core::activity::Watch;
use breakglass_trail::rules::{Rule, builtin};

/// The session name the broker's reads of the trail carry.
pub const READER_SESSION: &str = "breakglass-trail-reader";

/// What the broker watches for beyond the catalog: its own principal, the roles it assumes
/// for itself (the revoker, the trail reader, the deployer), and the break-glass users'
/// suffix.
pub fn watch_of(config: &Config) -> Watch {
    let mut own_roles = vec![
        config.broker.revoker_role.to_string(),
        config.deploy.role.to_string(),
    ];
    if let Some(a) = &config.activity {
        own_roles.push(a.reader_role.clone());
    }
    Watch {
        principal: Some(config.broker.principal.clone()),
        own_roles,
        break_glass_user_suffix: "-BREAK-GLASS".to_owned(),
    }
}

/// The built-in alert rules, with the config's break-glass and incident-response patterns.
pub fn rules_of(config: &Config) -> anyhow::Result<Vec<Rule>> {
    builtin::rules(&config.scan_params()).context("the built-in CloudTrail rules")
}

/// The sources `[activity]` names, read as its reader role, in its account's home region.
pub async fn sources_of(config: &Config, sdk: &SdkConfig) -> anyhow::Result<watch::Sources> {
    let Some(a) = &config.activity else {
        return Ok(watch::Sources::default());
    };
    let region = a.region(config);
    let base = breakglass_aws::sdk::in_region(sdk, &region);
    let reader = reader_config(&base, Some(&a.reader_role_arn(config)), READER_SESSION)
        .await
        .with_context(|| {
            format!(
                "cannot assume the trail reader role {}",
                a.reader_role_arn(config)
            )
        })?;
    let queue = match &a.queue {
        Some(name) => Some(
            TrailQueue::lookup(
                &reader,
                name,
                a.account_id(config).as_ref().map(|x| x.as_str()),
            )
            .await
            .with_context(|| format!("the activity queue `{name}` in {region}"))?,
        ),
        None => None,
    };
    Ok(watch::Sources {
        bucket: Some(TrailBucket::new(&reader, a.bucket.clone(), &a.prefix)),
        queue,
        logs: a
            .log_group
            .as_ref()
            .map(|g| TrailLogGroup::new(&reader, g.clone())),
    })
}

/// The watcher `serve` runs, when the config has an `[activity]` section.
pub async fn watcher(
    config: &Config,
    sdk: &SdkConfig,
    app: Arc<breakglass_server::app::AppService>,
    holder: String,
) -> anyhow::Result<Option<watch::Watcher>> {
    let Some(a) = &config.activity else {
        return Ok(None);
    };
    let timing = watch::Timing {
        every: a
            .every
            .try_into()
            .context("`[activity] every` does not fit")?,
        queue_wait: std::time::Duration::from_secs(1),
        retention: a.retention,
    };
    Ok(Some(watch::Watcher::new(
        app,
        sources_of(config, sdk).await?,
        watch_of(config),
        rules_of(config)?,
        timing,
        holder,
    )?))
}

//! Monitoring: CloudWatch Logs metric filters, CloudWatch alarms, the SNS alert topic, the
//! EventBridge rules and the activity queue they feed, in every configured region of an account.
//!
//! Metric filters cannot be tagged: a filter whose name starts with `breakglass-` on the
//! configured log group is breakglass's. Everything else is owned by its tag.

mod alarms;
mod queues;
mod rules;
mod topics;

use std::collections::BTreeMap;

use breakglass_config::Config;
use breakglass_config::diff::Observed;
use breakglass_config::resources::AccountState;

pub(super) use alarms::{delete_alarm, delete_metric_filter, put_alarm, put_metric_filter};
pub(super) use queues::{create_queue, delete_queue, update_queue};
pub(super) use rules::{delete_rule, put_rule};
pub(super) use topics::{create_topic, delete_topic, update_topic};

use super::{Clients, ProvisionError};

type Tags = BTreeMap<String, String>;

/// Every monitoring resource of the account that is desired or owned.
pub(super) async fn observe(
    c: &Clients,
    config: &Config,
    state: &AccountState,
) -> Result<Vec<Observed>, ProvisionError> {
    let mut out = Vec::new();
    out.extend(alarms::observe_filters(c, state).await?);
    for region in &state.regions {
        out.extend(alarms::observe_alarms(c, region).await?);
        out.extend(topics::observe_topics(c, config, region).await?);
        out.extend(queues::observe_queue(c, config, region).await?);
        out.extend(rules::observe_rules(c, region).await?);
    }
    Ok(out)
}

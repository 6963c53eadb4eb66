//! The activity queue (`[activity] queue`): an SQS queue in the log-archive account's home
//! region that the break-glass EventBridge rules feed, with its access policy.
//!
//! Only the configured queue is read (by name): SQS lists queues by name prefix only, and
//! reading every queue's tags to find strays would cost a call per queue of the account.
//! A queue left behind by a removed `[activity] queue` is therefore not deleted by `apply`.

use breakglass_config::Config;
use breakglass_config::diff::Observed;
use breakglass_config::resources::{Queue, Resource};

use super::super::error::CallResult;
use super::super::{Clients, ProvisionError, is_owned, policy_document, tag_changes};
use super::Tags;

/// The configured queue, when this account and region hold it.
pub(crate) async fn observe_queue(
    c: &Clients,
    config: &Config,
    region: &str,
) -> Result<Vec<Observed>, ProvisionError> {
    let Some(activity) = &config.activity else {
        return Ok(Vec::new());
    };
    let Some(name) = &activity.queue else {
        return Ok(Vec::new());
    };
    if activity
        .account_id(config)
        .is_none_or(|id| id.as_str() != c.account)
        || activity.region(config) != region
    {
        return Ok(Vec::new());
    }
    let a = &c.account;
    let sqs = &c.region(region)?.sqs;
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(super::super::call_error(a, "sqs:GetQueueUrl", name, e)),
    };
    let tags: Tags = sqs
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .ctx(a, "sqs:ListQueueTags", name)?
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .ctx(a, "sqs:GetQueueAttributes", name)?;
    let policy = match attributes
        .attributes()
        .and_then(|m| m.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
    {
        Some(text) => policy_document(a, &format!("queue {region}/{name}"), text)?,
        None => serde_json::Value::Null,
    };
    Ok(vec![Observed {
        owned: is_owned(&tags),
        resource: Resource::Queue(Queue {
            name: name.clone(),
            region: region.to_owned(),
            policy,
            tags,
        }),
    }])
}

async fn queue_url(c: &Clients, q: &Queue) -> Result<String, ProvisionError> {
    Ok(c.region(&q.region)?
        .sqs
        .get_queue_url()
        .queue_name(&q.name)
        .send()
        .await
        .ctx(&c.account, "sqs:GetQueueUrl", &q.name)?
        .queue_url()
        .unwrap_or_default()
        .to_owned())
}

/// Creates the queue (encrypted with SQS's own keys) with its policy and tags.
pub(crate) async fn create_queue(c: &Clients, q: &Queue) -> Result<(), ProvisionError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    c.region(&q.region)?
        .sqs
        .create_queue()
        .queue_name(&q.name)
        .attributes(QueueAttributeName::Policy, q.policy.to_string())
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .set_tags(Some(q.tags.clone().into_iter().collect()))
        .send()
        .await
        .ctx(&c.account, "sqs:CreateQueue", &q.name)?;
    Ok(())
}

/// Rewrites the policy and the tags that differ.
pub(crate) async fn update_queue(
    c: &Clients,
    from: &Queue,
    to: &Queue,
) -> Result<(), ProvisionError> {
    let a = &c.account;
    let sqs = &c.region(&to.region)?.sqs;
    let url = queue_url(c, to).await?;
    if from.policy != to.policy {
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                to.policy.to_string(),
            )
            .send()
            .await
            .ctx(a, "sqs:SetQueueAttributes", &to.name)?;
    }
    let (removed, set) = tag_changes(&from.tags, &to.tags);
    if !removed.is_empty() {
        sqs.untag_queue()
            .queue_url(&url)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .ctx(a, "sqs:UntagQueue", &to.name)?;
    }
    if !set.is_empty() {
        sqs.tag_queue()
            .queue_url(&url)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .ctx(a, "sqs:TagQueue", &to.name)?;
    }
    Ok(())
}

pub(crate) async fn delete_queue(c: &Clients, q: &Queue) -> Result<(), ProvisionError> {
    let url = queue_url(c, q).await?;
    c.region(&q.region)?
        .sqs
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .ctx(&c.account, "sqs:DeleteQueue", &q.name)?;
    Ok(())
}

//! The SNS alert topic, in every configured region, and its access policy.

use breakglass_config::Config;
use breakglass_config::diff::Observed;
use breakglass_config::resources::{Resource, Topic};

use super::super::error::{CallResult, build_error};
use super::super::{Clients, ProvisionError, is_owned, policy_document, tag_changes};
use super::Tags;

fn topic_arn(c: &Clients, region: &str, name: &str) -> String {
    format!("arn:{}:sns:{region}:{}:{name}", c.partition, c.account)
}

pub(crate) async fn observe_topics(
    c: &Clients,
    config: &Config,
    region: &str,
) -> Result<Vec<Observed>, ProvisionError> {
    let a = &c.account;
    let sns = &c.region(region)?.sns;
    let pages = sns
        .list_topics()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "sns:ListTopics", region)?;
    let mut out = Vec::new();
    for arn in pages
        .iter()
        .flat_map(|p| p.topics())
        .filter_map(|t| t.topic_arn())
    {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let tags: Tags = sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .ctx(a, "sns:ListTagsForResource", arn)?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let owned = is_owned(&tags);
        if !owned && name != config.alerting.sns_topic {
            continue;
        }
        let attributes = sns.get_topic_attributes().topic_arn(arn).send().await.ctx(
            a,
            "sns:GetTopicAttributes",
            arn,
        )?;
        let policy = match attributes.attributes().and_then(|m| m.get("Policy")) {
            Some(text) => policy_document(a, &format!("topic {region}/{name}"), text)?,
            None => serde_json::Value::Null,
        };
        out.push(Observed {
            owned,
            resource: Resource::Topic(Topic {
                name: name.to_owned(),
                region: region.to_owned(),
                policy,
                tags,
            }),
        });
    }
    Ok(out)
}

fn sns_tags(
    a: &str,
    what: &str,
    map: &Tags,
) -> Result<Vec<aws_sdk_sns::types::Tag>, ProvisionError> {
    map.iter()
        .map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_error(a, what, e))
        })
        .collect()
}

pub(crate) async fn create_topic(c: &Clients, t: &Topic) -> Result<(), ProvisionError> {
    let a = &c.account;
    let sns = &c.region(&t.region)?.sns;
    let created = sns
        .create_topic()
        .name(&t.name)
        .set_tags(Some(sns_tags(a, &t.name, &t.tags)?))
        .send()
        .await
        .ctx(a, "sns:CreateTopic", &t.name)?;
    let arn = created
        .topic_arn()
        .map_or_else(|| topic_arn(c, &t.region, &t.name), str::to_owned);
    set_topic_policy(c, &t.region, &arn, &t.policy).await
}

async fn set_topic_policy(
    c: &Clients,
    region: &str,
    arn: &str,
    policy: &serde_json::Value,
) -> Result<(), ProvisionError> {
    c.region(region)?
        .sns
        .set_topic_attributes()
        .topic_arn(arn)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .ctx(&c.account, "sns:SetTopicAttributes", arn)?;
    Ok(())
}

pub(crate) async fn update_topic(
    c: &Clients,
    from: &Topic,
    to: &Topic,
) -> Result<(), ProvisionError> {
    let a = &c.account;
    let arn = topic_arn(c, &to.region, &to.name);
    if from.policy != to.policy {
        set_topic_policy(c, &to.region, &arn, &to.policy).await?;
    }
    let sns = &c.region(&to.region)?.sns;
    let (removed, set) = tag_changes(&from.tags, &to.tags);
    if !removed.is_empty() {
        sns.untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .ctx(a, "sns:UntagResource", &arn)?;
    }
    if !set.is_empty() {
        sns.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(sns_tags(a, &arn, &set.into_iter().collect())?))
            .send()
            .await
            .ctx(a, "sns:TagResource", &arn)?;
    }
    Ok(())
}

pub(crate) async fn delete_topic(c: &Clients, t: &Topic) -> Result<(), ProvisionError> {
    let arn = topic_arn(c, &t.region, &t.name);
    c.region(&t.region)?
        .sns
        .delete_topic()
        .topic_arn(&arn)
        .send()
        .await
        .ctx(&c.account, "sns:DeleteTopic", &arn)?;
    Ok(())
}

//! The EventBridge rules that catch break-glass use, in every configured region, and their
//! targets: the alert topic, and in the activity queue's region the queue (through this
//! account's delivery role when the queue is another account's).

use aws_sdk_eventbridge::types::{RuleState, Target};
use breakglass_config::diff::Observed;
use breakglass_config::resources::{EventRule, QueueTarget, RULE_TARGET_ID, Resource};
use breakglass_config::templates::RESOURCE_PREFIX;
use breakglass_config::templates::activity::QUEUE_TARGET_ID;

use super::super::error::{CallResult, build_error};
use super::super::{Clients, ProvisionError, is_owned, tag_changes};
use super::Tags;

pub(crate) async fn observe_rules(
    c: &Clients,
    region: &str,
) -> Result<Vec<Observed>, ProvisionError> {
    let a = &c.account;
    let events = &c.region(region)?.events;
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = events
            .list_rules()
            .name_prefix(RESOURCE_PREFIX)
            .set_next_token(token.take())
            .send()
            .await
            .ctx(a, "events:ListRules", region)?;
        rules.extend(page.rules().iter().cloned());
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    let mut out = Vec::new();
    for rule in rules {
        let name = rule.name().unwrap_or_default();
        let arn = rule.arn().unwrap_or_default();
        let tags: Tags = events
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .ctx(a, "events:ListTagsForResource", arn)?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let targets = events.list_targets_by_rule().rule(name).send().await.ctx(
            a,
            "events:ListTargetsByRule",
            name,
        )?;
        let target = targets
            .targets()
            .iter()
            .find(|t| t.id() == RULE_TARGET_ID)
            .or_else(|| targets.targets().iter().find(|t| t.id() != QUEUE_TARGET_ID))
            .map(|t| t.arn().to_owned())
            .unwrap_or_default();
        let queue = targets
            .targets()
            .iter()
            .find(|t| t.id() == QUEUE_TARGET_ID)
            .map(|t| QueueTarget {
                arn: t.arn().to_owned(),
                role_arn: t.role_arn().map(str::to_owned),
            });
        let pattern = match rule.event_pattern() {
            Some(text) => {
                serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_owned()))
            }
            None => serde_json::Value::Null,
        };
        out.push(Observed {
            owned: is_owned(&tags),
            resource: Resource::EventRule(EventRule {
                name: name.to_owned(),
                region: region.to_owned(),
                description: rule.description().unwrap_or_default().to_owned(),
                pattern,
                state: rule
                    .state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                target,
                queue,
                tags,
            }),
        });
    }
    Ok(out)
}

fn event_tags(
    a: &str,
    what: &str,
    map: &Tags,
) -> Result<Vec<aws_sdk_eventbridge::types::Tag>, ProvisionError> {
    map.iter()
        .map(|(k, v)| {
            aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| build_error(a, what, e))
        })
        .collect()
}

/// Creates or updates the rule and points its target at the alert topic; `from` is the rule
/// as found, for its tags (which `PutRule` only sets on creation).
pub(crate) async fn put_rule(
    c: &Clients,
    rule: &EventRule,
    from: Option<&EventRule>,
) -> Result<(), ProvisionError> {
    let a = &c.account;
    let events = &c.region(&rule.region)?.events;
    let mut put = events
        .put_rule()
        .name(&rule.name)
        .description(&rule.description)
        .event_pattern(rule.pattern.to_string())
        .state(RuleState::from(rule.state.as_str()));
    if from.is_none() {
        put = put.set_tags(Some(event_tags(a, &rule.name, &rule.tags)?));
    }
    let created = put.send().await.ctx(a, "events:PutRule", &rule.name)?;
    if from.is_none_or(|f| f.target != rule.target) {
        let target = Target::builder()
            .id(RULE_TARGET_ID)
            .arn(&rule.target)
            .build()
            .map_err(|e| build_error(a, &rule.name, e))?;
        let out = events
            .put_targets()
            .rule(&rule.name)
            .targets(target)
            .send()
            .await
            .ctx(a, "events:PutTargets", &rule.name)?;
        if out.failed_entry_count() > 0 {
            let reason = out
                .failed_entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ProvisionError::Refused {
                account: a.clone(),
                resource: format!("event rule {}/{}", rule.region, rule.name),
                problem: format!("its target was refused: {reason}"),
            });
        }
    }
    let queue_changed = match from {
        None => rule.queue.is_some(),
        Some(f) => f.queue != rule.queue,
    };
    if queue_changed {
        put_queue_target(c, rule).await?;
    }
    if let Some(from) = from {
        let arn = created.rule_arn().unwrap_or_default().to_owned();
        let (removed, set) = tag_changes(&from.tags, &rule.tags);
        if !removed.is_empty() {
            events
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .ctx(a, "events:UntagResource", &arn)?;
        }
        if !set.is_empty() {
            events
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(event_tags(a, &arn, &set.into_iter().collect())?))
                .send()
                .await
                .ctx(a, "events:TagResource", &arn)?;
        }
    }
    Ok(())
}

/// Points the rule's queue target at the activity queue, or removes it when the rule should
/// have none.
async fn put_queue_target(c: &Clients, rule: &EventRule) -> Result<(), ProvisionError> {
    let a = &c.account;
    let events = &c.region(&rule.region)?.events;
    let Some(queue) = &rule.queue else {
        events
            .remove_targets()
            .rule(&rule.name)
            .ids(QUEUE_TARGET_ID)
            .send()
            .await
            .ctx(a, "events:RemoveTargets", &rule.name)?;
        return Ok(());
    };
    let target = Target::builder()
        .id(QUEUE_TARGET_ID)
        .arn(&queue.arn)
        .set_role_arn(queue.role_arn.clone())
        .build()
        .map_err(|e| build_error(a, &rule.name, e))?;
    let out = events
        .put_targets()
        .rule(&rule.name)
        .targets(target)
        .send()
        .await
        .ctx(a, "events:PutTargets", &rule.name)?;
    if out.failed_entry_count() > 0 {
        let reason = out
            .failed_entries()
            .iter()
            .filter_map(|e| e.error_message())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ProvisionError::Refused {
            account: a.clone(),
            resource: format!("event rule {}/{}", rule.region, rule.name),
            problem: format!("its activity-queue target was refused: {reason}"),
        });
    }
    Ok(())
}

pub(crate) async fn delete_rule(c: &Clients, rule: &EventRule) -> Result<(), ProvisionError> {
    let a = &c.account;
    let events = &c.region(&rule.region)?.events;
    let targets = events
        .list_targets_by_rule()
        .rule(&rule.name)
        .send()
        .await
        .ctx(a, "events:ListTargetsByRule", &rule.name)?;
    let ids: Vec<String> = targets
        .targets()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    if !ids.is_empty() {
        events
            .remove_targets()
            .rule(&rule.name)
            .set_ids(Some(ids))
            .send()
            .await
            .ctx(a, "events:RemoveTargets", &rule.name)?;
    }
    events
        .delete_rule()
        .name(&rule.name)
        .send()
        .await
        .ctx(a, "events:DeleteRule", &rule.name)?;
    Ok(())
}

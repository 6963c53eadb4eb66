//! Metric filters on the CloudTrail log group and the alarms on their metrics (home region).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
use aws_sdk_cloudwatchlogs::types::MetricTransformation;
use breakglass_config::diff::Observed;
use breakglass_config::resources::{AccountState, Alarm, MetricFilter, Resource};
use breakglass_config::templates::RESOURCE_PREFIX;

use super::super::error::{CallResult, build_error};
use super::super::{Clients, ProvisionError, is_owned, tag_changes};
use super::Tags;

pub(crate) async fn observe_filters(
    c: &Clients,
    state: &AccountState,
) -> Result<Vec<Observed>, ProvisionError> {
    let a = &c.account;
    let region = &state.home_region;
    let logs = &c.region(region)?.logs;
    let wants_filters = state
        .resources
        .iter()
        .any(|r| matches!(r, Resource::MetricFilter(_)));
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&state.log_group)
        .send()
        .await
        .ctx(a, "logs:DescribeLogGroups", &state.log_group)?;
    let exists = groups
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(state.log_group.as_str()));
    if !exists {
        if wants_filters {
            return Err(ProvisionError::MissingLogGroup {
                account: a.clone(),
                region: region.clone(),
                log_group: state.log_group.clone(),
            });
        }
        return Ok(Vec::new());
    }
    let found = logs
        .describe_metric_filters()
        .log_group_name(&state.log_group)
        .filter_name_prefix(RESOURCE_PREFIX)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "logs:DescribeMetricFilters", &state.log_group)?;
    // Keyed by name: a filter name is unique per log group (the last one read wins should
    // an emulator list a replaced filter twice).
    let mut by_name = BTreeMap::new();
    for f in found {
        let Some(name) = f.filter_name() else {
            continue;
        };
        let transform = f.metric_transformations().first();
        by_name.insert(
            name.to_owned(),
            Observed {
                owned: true,
                resource: Resource::MetricFilter(MetricFilter {
                    name: name.to_owned(),
                    region: region.clone(),
                    log_group: f.log_group_name().unwrap_or_default().to_owned(),
                    pattern: f.filter_pattern().unwrap_or_default().to_owned(),
                    metric_namespace: transform
                        .map(|t| t.metric_namespace().to_owned())
                        .unwrap_or_default(),
                    metric_name: transform
                        .map(|t| t.metric_name().to_owned())
                        .unwrap_or_default(),
                }),
            },
        );
    }
    Ok(by_name.into_values().collect())
}

pub(crate) async fn observe_alarms(
    c: &Clients,
    region: &str,
) -> Result<Vec<Observed>, ProvisionError> {
    let a = &c.account;
    let cw = &c.region(region)?.cloudwatch;
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix(RESOURCE_PREFIX)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "cloudwatch:DescribeAlarms", region)?;
    let mut out = Vec::new();
    for alarm in alarms.iter().flat_map(|page| page.metric_alarms()) {
        let name = alarm.alarm_name().unwrap_or_default();
        let arn = alarm.alarm_arn().unwrap_or_default();
        let tags: Tags = cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .ctx(a, "cloudwatch:ListTagsForResource", arn)?
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect();
        let threshold = alarm.threshold().unwrap_or_default();
        out.push(Observed {
            owned: is_owned(&tags),
            resource: Resource::Alarm(Alarm {
                name: name.to_owned(),
                region: region.to_owned(),
                description: alarm.alarm_description().unwrap_or_default().to_owned(),
                metric_namespace: alarm.namespace().unwrap_or_default().to_owned(),
                metric_name: alarm.metric_name().unwrap_or_default().to_owned(),
                dimensions: alarm
                    .dimensions()
                    .iter()
                    .map(|d| {
                        (
                            d.name().unwrap_or_default().to_owned(),
                            d.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                statistic: alarm
                    .statistic()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                period: alarm.period().unwrap_or_default(),
                evaluation_periods: alarm.evaluation_periods().unwrap_or_default(),
                // Thresholds are whole counts here; a fractional one can never equal ours.
                threshold: if threshold.fract() == 0.0 && threshold.abs() < f64::from(i32::MAX) {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "checked above to be a whole number within i32"
                    )]
                    {
                        threshold as i32
                    }
                } else {
                    i32::MIN
                },
                comparison: alarm
                    .comparison_operator()
                    .map(|o| o.as_str().to_owned())
                    .unwrap_or_default(),
                treat_missing_data: alarm.treat_missing_data().unwrap_or_default().to_owned(),
                alarm_action: alarm.alarm_actions().first().cloned().unwrap_or_default(),
                tags,
            }),
        });
    }
    Ok(out)
}

pub(crate) async fn put_metric_filter(c: &Clients, m: &MetricFilter) -> Result<(), ProvisionError> {
    let a = &c.account;
    let transform = MetricTransformation::builder()
        .metric_name(&m.metric_name)
        .metric_namespace(&m.metric_namespace)
        .metric_value("1")
        .build()
        .map_err(|e| build_error(a, &m.name, e))?;
    c.region(&m.region)?
        .logs
        .put_metric_filter()
        .log_group_name(&m.log_group)
        .filter_name(&m.name)
        .filter_pattern(&m.pattern)
        .metric_transformations(transform)
        .send()
        .await
        .ctx(a, "logs:PutMetricFilter", &m.name)?;
    Ok(())
}

pub(crate) async fn delete_metric_filter(
    c: &Clients,
    m: &MetricFilter,
) -> Result<(), ProvisionError> {
    c.region(&m.region)?
        .logs
        .delete_metric_filter()
        .log_group_name(&m.log_group)
        .filter_name(&m.name)
        .send()
        .await
        .ctx(&c.account, "logs:DeleteMetricFilter", &m.name)?;
    Ok(())
}

fn cw_tags(map: &Tags) -> Vec<aws_sdk_cloudwatch::types::Tag> {
    map.iter()
        .map(|(k, v)| {
            aws_sdk_cloudwatch::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// Creates or replaces the alarm; `from` is the alarm as found, for its tags (which
/// `PutMetricAlarm` only sets on creation).
pub(crate) async fn put_alarm(
    c: &Clients,
    alarm: &Alarm,
    from: Option<&Alarm>,
) -> Result<(), ProvisionError> {
    let a = &c.account;
    let cw = &c.region(&alarm.region)?.cloudwatch;
    let mut put = cw
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .alarm_description(&alarm.description)
        .namespace(&alarm.metric_namespace)
        .metric_name(&alarm.metric_name)
        .statistic(Statistic::from(alarm.statistic.as_str()))
        .period(alarm.period)
        .evaluation_periods(alarm.evaluation_periods)
        .threshold(f64::from(alarm.threshold))
        .comparison_operator(ComparisonOperator::from(alarm.comparison.as_str()))
        .treat_missing_data(&alarm.treat_missing_data)
        .alarm_actions(&alarm.alarm_action);
    for (name, value) in &alarm.dimensions {
        put = put.dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name(name)
                .value(value)
                .build(),
        );
    }
    if from.is_none() {
        put = put.set_tags(Some(cw_tags(&alarm.tags)));
    }
    put.send()
        .await
        .ctx(a, "cloudwatch:PutMetricAlarm", &alarm.name)?;
    if let Some(from) = from {
        let arn = format!(
            "arn:{}:cloudwatch:{}:{}:alarm:{}",
            c.partition, alarm.region, c.account, alarm.name
        );
        let (removed, set) = tag_changes(&from.tags, &alarm.tags);
        if !removed.is_empty() {
            cw.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .ctx(a, "cloudwatch:UntagResource", &arn)?;
        }
        if !set.is_empty() {
            cw.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(cw_tags(&set.into_iter().collect())))
                .send()
                .await
                .ctx(a, "cloudwatch:TagResource", &arn)?;
        }
    }
    Ok(())
}

pub(crate) async fn delete_alarm(c: &Clients, alarm: &Alarm) -> Result<(), ProvisionError> {
    c.region(&alarm.region)?
        .cloudwatch
        .delete_alarms()
        .alarm_names(&alarm.name)
        .send()
        .await
        .ctx(&c.account, "cloudwatch:DeleteAlarms", &alarm.name)?;
    Ok(())
}

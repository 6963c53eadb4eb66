//! Monitoring checks: what makes break-glass use loud. CloudTrail delivering to the log
//! group the metric filters read, the filters and alarms (each with an action) in the home
//! region, and in every configured region the alert topic (with a subscriber) and the
//! EventBridge rules (in the state the config asks for, targeting the topic, and the activity
//! queue where the config gives them one).

use std::collections::{BTreeMap, BTreeSet};

use breakglass_config::resources::{AccountState, Alarm, EventRule, MetricFilter, Resource, Topic};
use breakglass_config::templates::RESOURCE_PREFIX;
use breakglass_core::drill::Finding;

use super::{Run, Where, account_id, read_failed};
use crate::provision::{CallResult, Clients, ProvisionError, call_error};

/// Every check of the account, one step per check group and region.
pub(super) async fn check(run: &mut Run<'_>, c: &Clients, state: &AccountState) {
    let account = account_id(state);
    let home = state.home_region.as_str();

    let timer = run.timer();
    let findings = findings_of(home, c, cloudtrail(c, state).await);
    run.record(
        timer,
        "preflight: cloudtrail",
        Where::region(account, home),
        findings,
    );

    let filters: Vec<&MetricFilter> = of_kind(state, |r| match r {
        Resource::MetricFilter(m) => Some(m),
        _ => None,
    });
    if !filters.is_empty() {
        let timer = run.timer();
        let findings = findings_of(home, c, metric_filters(c, state, &filters).await);
        run.record(
            timer,
            "preflight: metric filters",
            Where::region(account, home),
            findings,
        );
    }

    for region in &state.regions {
        let alarms: Vec<&Alarm> = of_kind(state, |r| match r {
            Resource::Alarm(a) if &a.region == region => Some(a),
            _ => None,
        });
        if !alarms.is_empty() {
            let timer = run.timer();
            let findings = findings_of(region, c, alarms_in(c, region, &alarms).await);
            run.record(
                timer,
                "preflight: alarms",
                Where::region(account, region),
                findings,
            );
        }
        let topics: Vec<&Topic> = of_kind(state, |r| match r {
            Resource::Topic(t) if &t.region == region => Some(t),
            _ => None,
        });
        if !topics.is_empty() {
            let timer = run.timer();
            let mut findings = Vec::new();
            for topic in topics {
                findings.extend(findings_of(region, c, topic_in(c, topic).await));
            }
            run.record(
                timer,
                "preflight: topics",
                Where::region(account, region),
                findings,
            );
        }
        let rules: Vec<&EventRule> = of_kind(state, |r| match r {
            Resource::EventRule(e) if &e.region == region => Some(e),
            _ => None,
        });
        if !rules.is_empty() {
            let timer = run.timer();
            let mut findings = Vec::new();
            for rule in rules {
                findings.extend(findings_of(region, c, rule_in(c, rule).await));
            }
            run.record(
                timer,
                "preflight: event rules",
                Where::region(account, region),
                findings,
            );
        }
    }
}

fn of_kind<'a, T>(
    state: &'a AccountState,
    pick: impl Fn(&'a Resource) -> Option<&'a T>,
) -> Vec<&'a T> {
    state.resources.iter().filter_map(pick).collect()
}

/// The findings of a check, or the one finding that it could not read.
fn findings_of(
    region: &str,
    c: &Clients,
    result: Result<Vec<Finding>, (String, ProvisionError)>,
) -> Vec<Finding> {
    match result {
        Ok(findings) => findings,
        Err((resource, err)) => vec![read_failed(&c.account, Some(region), &resource, &err)],
    }
}

/// A finding about `resource` in `c`'s account and `region`.
fn found(c: &Clients, region: &str, check: &str, resource: &str, message: String) -> Finding {
    Finding::new(check, resource, message)
        .in_account(&c.account)
        .in_region(region)
}

type Checked = Result<Vec<Finding>, (String, ProvisionError)>;

/// A trail delivers to the account's CloudTrail log group, and is logging.
async fn cloudtrail(c: &Clients, state: &AccountState) -> Checked {
    let a = c.account.as_str();
    let region = state.home_region.as_str();
    let group = state.log_group.as_str();
    let what = format!("trails delivering to {group}");
    let wrap = |e| (what.clone(), e);
    let ct = &c.region(region).map_err(wrap)?.cloudtrail;
    let trails = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .ctx(a, "cloudtrail:DescribeTrails", region)
        .map_err(wrap)?;
    let arn = format!("arn:{}:logs:{region}:{a}:log-group:{group}", c.partition);
    let delivering: Vec<&str> = trails
        .trail_list()
        .iter()
        .filter(|t| {
            t.cloud_watch_logs_log_group_arn()
                .is_some_and(|g| g == arn || g.strip_prefix(arn.as_str()) == Some(":*"))
        })
        .filter_map(|t| t.trail_arn().or(t.name()))
        .collect();
    if delivering.is_empty() {
        return Ok(vec![found(
            c,
            region,
            "trail_missing",
            group,
            format!(
                "no CloudTrail trail delivers to log group {group} in {a} {region}: the metric filters and alarms see nothing; point a multi-region trail at it"
            ),
        )]);
    }
    for trail in &delivering {
        let status = ct
            .get_trail_status()
            .name(*trail)
            .send()
            .await
            .ctx(a, "cloudtrail:GetTrailStatus", trail)
            .map_err(wrap)?;
        if status.is_logging() == Some(true) {
            return Ok(Vec::new());
        }
    }
    Ok(vec![found(
        c,
        region,
        "trail_not_logging",
        group,
        format!(
            "the trail delivering to log group {group} in {a} {region} is not logging ({}): start it",
            delivering.join(", ")
        ),
    )])
}

/// The log group exists and holds each metric filter with its pattern.
async fn metric_filters(c: &Clients, state: &AccountState, want: &[&MetricFilter]) -> Checked {
    let a = c.account.as_str();
    let region = state.home_region.as_str();
    let group = state.log_group.as_str();
    let wrap = |e| (format!("log group {group}"), e);
    let logs = &c.region(region).map_err(wrap)?.logs;
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .ctx(a, "logs:DescribeLogGroups", group)
        .map_err(wrap)?;
    if !groups
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(group))
    {
        return Ok(vec![found(
            c,
            region,
            "log_group_missing",
            group,
            format!(
                "the CloudTrail log group {group} is missing in {a} {region}: no metric filter can alarm"
            ),
        )]);
    }
    let listed = logs
        .describe_metric_filters()
        .log_group_name(group)
        .filter_name_prefix(RESOURCE_PREFIX)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "logs:DescribeMetricFilters", group)
        .map_err(wrap)?;
    let patterns: BTreeMap<&str, &str> = listed
        .iter()
        .filter_map(|f| Some((f.filter_name()?, f.filter_pattern().unwrap_or_default())))
        .collect();
    let mut findings = Vec::new();
    for filter in want {
        let name = filter.name.as_str();
        match patterns.get(name) {
            None => findings.push(found(
                c,
                region,
                "metric_filter_missing",
                name,
                format!("metric filter {name} missing on log group {group} in {a} {region}: run `breakglass apply`"),
            )),
            Some(pattern) if *pattern != filter.pattern => findings.push(found(
                c,
                region,
                "metric_filter_changed",
                name,
                format!("metric filter {name} on log group {group} in {a} {region} has another pattern than the config's: run `breakglass apply`"),
            )),
            Some(_) => {}
        }
    }
    Ok(findings)
}

/// Each alarm exists, with its actions enabled and at least one action.
async fn alarms_in(c: &Clients, region: &str, want: &[&Alarm]) -> Checked {
    let a = c.account.as_str();
    let wrap = |e| (format!("alarms in {region}"), e);
    let cw = &c.region(region).map_err(wrap)?.cloudwatch;
    let pages = cw
        .describe_alarms()
        .alarm_name_prefix(RESOURCE_PREFIX)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "cloudwatch:DescribeAlarms", region)
        .map_err(wrap)?;
    let found_alarms: BTreeMap<&str, (bool, usize)> = pages
        .iter()
        .flat_map(|p| p.metric_alarms())
        .filter_map(|m| {
            Some((
                m.alarm_name()?,
                (m.actions_enabled().unwrap_or(true), m.alarm_actions().len()),
            ))
        })
        .collect();
    let mut findings = Vec::new();
    for alarm in want {
        let name = alarm.name.as_str();
        match found_alarms.get(name) {
            None => findings.push(found(
                c,
                region,
                "alarm_missing",
                name,
                format!("alarm {name} missing in {a} {region}: run `breakglass apply`"),
            )),
            Some((_, 0)) => findings.push(found(
                c,
                region,
                "alarm_no_action",
                name,
                format!("alarm {name} in {a} {region} has no alarm action: nobody is told when it fires; run `breakglass apply`"),
            )),
            Some((false, _)) => findings.push(found(
                c,
                region,
                "alarm_actions_disabled",
                name,
                format!("alarm {name} in {a} {region} has its actions disabled: enable them (cloudwatch enable-alarm-actions)"),
            )),
            Some(_) => {}
        }
    }
    Ok(findings)
}

/// The topic exists and has at least one confirmed subscription.
async fn topic_in(c: &Clients, topic: &Topic) -> Checked {
    let a = c.account.as_str();
    let region = topic.region.as_str();
    let name = topic.name.as_str();
    let arn = format!("arn:{}:sns:{region}:{a}:{name}", c.partition);
    let wrap = |e| (format!("topic {name}"), e);
    let sns = &c.region(region).map_err(wrap)?.sns;
    match sns.get_topic_attributes().topic_arn(&arn).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            return Ok(vec![found(
                c,
                region,
                "topic_missing",
                name,
                format!(
                    "SNS topic {name} missing in {a} {region}: alarms and rules there alert nobody; run `breakglass apply`"
                ),
            )]);
        }
        Err(e) => return Err(wrap(call_error(a, "sns:GetTopicAttributes", &arn, e))),
    }
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "sns:ListSubscriptionsByTopic", &arn)
        .map_err(wrap)?;
    let confirmed = subscriptions
        .iter()
        .filter(|s| {
            s.subscription_arn()
                .is_some_and(|arn| arn.starts_with("arn:"))
        })
        .count();
    if confirmed == 0 {
        let pending = subscriptions.len();
        return Ok(vec![found(
            c,
            region,
            "topic_no_subscription",
            name,
            format!(
                "SNS topic {name} in {a} {region} has no confirmed subscription ({pending} pending): subscribe the security team and confirm"
            ),
        )]);
    }
    Ok(Vec::new())
}

/// The rule exists in the state the config asks for and targets the alert topic.
async fn rule_in(c: &Clients, rule: &EventRule) -> Checked {
    let a = c.account.as_str();
    let region = rule.region.as_str();
    let name = rule.name.as_str();
    let wrap = |e| (format!("EventBridge rule {name}"), e);
    let events = &c.region(region).map_err(wrap)?.events;
    let got = match events.describe_rule().name(name).send().await {
        Ok(got) => got,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(vec![found(
                c,
                region,
                "rule_missing",
                name,
                format!(
                    "EventBridge rule {name} missing in {a} {region}: break-glass use there raises no alert; run `breakglass apply`"
                ),
            )]);
        }
        Err(e) => return Err(wrap(call_error(a, "events:DescribeRule", name, e))),
    };
    let mut findings = Vec::new();
    let state = got.state().map(|s| s.as_str()).unwrap_or_default();
    if state != rule.state {
        let (check, what) = if state == "DISABLED" {
            ("rule_disabled", "is disabled")
        } else {
            ("rule_state", "is in another state")
        };
        findings.push(found(
            c,
            region,
            check,
            name,
            format!(
                "EventBridge rule {name} in {a} {region} {what} ({state}, the config wants {}): run `breakglass apply`",
                rule.state
            ),
        ));
    }
    let targets: BTreeSet<String> = events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .ctx(a, "events:ListTargetsByRule", name)
        .map_err(wrap)?
        .targets()
        .iter()
        .map(|t| t.arn().to_owned())
        .collect();
    if !targets.contains(&rule.target) {
        findings.push(found(
            c,
            region,
            "rule_no_target",
            name,
            format!(
                "EventBridge rule {name} in {a} {region} does not target the alert topic {}: run `breakglass apply`",
                rule.target
            ),
        ));
    }
    if let Some(queue) = rule.queue.as_ref().filter(|q| !targets.contains(&q.arn)) {
        findings.push(found(
            c,
            region,
            "rule_no_queue_target",
            name,
            format!(
                "EventBridge rule {name} in {a} {region} does not target the activity queue {}: the broker sees break-glass use there only when CloudTrail delivers to the bucket; run `breakglass apply`",
                queue.arn
            ),
        ));
    }
    Ok(findings)
}

//! The trail reader: the read-only role the broker assumes in the log-archive account to read
//! the organisation trail (`[activity]`), and the policy of the SQS queue the break-glass
//! EventBridge rules feed.
//!
//! The role is built like the revoker role ([`super::revoker`]): under the `/breakglass/`
//! path, trusted by the broker's principal alone by `aws:PrincipalArn`, without
//! `sts:SetSourceIdentity` or `sts:TagSession` (the broker assumes it without either). It
//! may only read: `s3:ListBucket` on the bucket (narrowed by `s3:prefix` to the trail's
//! `AWSLogs/` keys), `s3:GetObject` on those keys, the queue's receive, delete, change-visibility and
//! attribute reads, and `logs:FilterLogEvents`/`GetLogEvents` on the log group. It is not
//! granted `kms:Decrypt`: a trail encrypted with a customer managed key needs that added to
//! the key's policy by its owner, a decision this tool does not take for them.
//!
//! EventBridge delivers to an SQS queue of another account only in the same region (EventBridge
//! User Guide, "Sending events to an AWS service in another account"): the queue lives in the
//! log-archive account's home region, and the rules of that region, in every account, get it
//! as a target. Rules of other regions would need a bus-to-bus hop and keep alerting through
//! the topic only; the bucket reader sees their events with the trail's delivery delay.

use serde_json::{Value, json};

/// The reader role's path: breakglass's own machinery, like the revoker.
pub const READER_PATH: &str = super::revoker::REVOKER_PATH;

/// The reader role's name unless `activity.reader_role` says otherwise.
pub const DEFAULT_READER_ROLE: &str = "BreakglassTrailReader";

/// The reader role's one inline policy.
pub const READER_POLICY: &str = "BreakglassReadTrail";

/// The `Sid` of the reader role's trust statement (lint exceptions are keyed by it).
pub const READER_TRUST_SID: &str = "BrokerReadsTrail";

/// The reader role's description.
pub const READER_DESCRIPTION: &str =
    "Lets the breakglass broker read the organisation trail (bucket, queue, log group)";

/// The actions on the queue: receive, delete, extend a message's invisibility, read
/// attributes. Nothing sends or purges.
pub const QUEUE_ACTIONS: [&str; 4] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
];

/// The actions on the log group.
pub const LOG_ACTIONS: [&str; 2] = ["logs:FilterLogEvents", "logs:GetLogEvents"];

/// The id of the EventBridge target that hands a break-glass event to the activity queue.
pub const QUEUE_TARGET_ID: &str = "breakglass-activity-queue";

/// Where the reader reads: every ARN already rendered for the partition and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderScope<'a> {
    /// The AWS partition.
    pub partition: &'a str,
    /// The trail's bucket.
    pub bucket: &'a str,
    /// The key prefix before `AWSLogs/`, empty for none.
    pub prefix: &'a str,
    /// The queue's ARN, when there is one.
    pub queue_arn: Option<&'a str>,
    /// The log group's ARN, when there is one.
    pub log_group_arn: Option<&'a str>,
}

/// The reader role's trust policy: the broker's principal only (the revoker's shape).
pub fn trust_policy(partition: &str, broker: &str) -> Value {
    let account = broker.split(':').nth(4).unwrap_or_default();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": READER_TRUST_SID,
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
            "Action": "sts:AssumeRole",
            "Condition": { "ArnEquals": { "aws:PrincipalArn": broker } }
        }]
    })
}

/// The reader role's permissions: read-only on the trail's objects, the queue and the log
/// group, nothing else.
pub fn permissions_policy(scope: &ReaderScope<'_>) -> Value {
    let p = scope.partition;
    let bucket = scope.bucket;
    let logs = if scope.prefix.is_empty() {
        "AWSLogs/".to_owned()
    } else {
        format!("{}/AWSLogs/", scope.prefix)
    };
    let mut statements = vec![
        json!({
            "Sid": "ListTrail",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": format!("arn:{p}:s3:::{bucket}"),
            "Condition": { "StringLike": { "s3:prefix": [logs.clone(), format!("{logs}*")] } }
        }),
        json!({
            "Sid": "ReadTrail",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": format!("arn:{p}:s3:::{bucket}/{logs}*")
        }),
    ];
    if let Some(queue) = scope.queue_arn {
        statements.push(json!({
            "Sid": "ReadQueue",
            "Effect": "Allow",
            "Action": QUEUE_ACTIONS,
            "Resource": queue
        }));
    }
    if let Some(group) = scope.log_group_arn {
        statements.push(json!({
            "Sid": "ReadLogGroup",
            "Effect": "Allow",
            "Action": LOG_ACTIONS,
            "Resource": [group, format!("{group}:*")]
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The name of the delivery role's one inline policy.
pub const DELIVERY_POLICY: &str = "BreakglassSendActivity";

/// The delivery role's trust: EventBridge, for this account's rules of the queue's region.
pub fn delivery_trust_policy(partition: &str, account: &str, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "BreakGlassRulesDeliver",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": { "aws:SourceAccount": account },
                "ArnLike": { "aws:SourceArn": format!("arn:{partition}:events:{region}:{account}:rule/{}*", super::RESOURCE_PREFIX) }
            }
        }]
    })
}

/// The delivery role's permissions: send to the activity queue, nothing else.
pub fn delivery_policy(queue_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SendToActivityQueue",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue_arn
        }]
    })
}

/// The queue's policy: the log-archive account administers it; EventBridge may send to it
/// only for the break-glass rules named (`rules`: rule ARNs of the queue's region, in every
/// account), and the other accounts' rules send through their delivery roles (`senders`).
pub fn queue_policy(
    partition: &str,
    account: &str,
    queue_arn: &str,
    rules: &[String],
    senders: &[String],
) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
            "Action": [
                "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:ReceiveMessage",
                "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"
            ],
            "Resource": queue_arn
        }),
        json!({
            "Sid": "BreakGlassRulesSend",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": rules } }
        }),
    ];
    if !senders.is_empty() {
        statements.push(json!({
            "Sid": "DeliveryRolesSend",
            "Effect": "Allow",
            "Principal": { "AWS": senders },
            "Action": "sqs:SendMessage",
            "Resource": queue_arn
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_iam::{Decision, PolicySet, PolicyType, Request, parse_caller, parse_value};

    const QUEUE: &str = "arn:aws:sqs:us-east-1:333333333333:breakglass-activity";
    const GROUP: &str = "arn:aws:logs:us-east-1:333333333333:log-group:trail";

    fn decide(prefix: &str, action: &str, resource: &str, s3_prefix: Option<&str>) -> Decision {
        let policy = permissions_policy(&ReaderScope {
            partition: "aws",
            bucket: "org-trail",
            prefix,
            queue_arn: Some(QUEUE),
            log_group_arn: Some(GROUP),
        });
        let policy = parse_value(&policy, PolicyType::Identity).unwrap();
        let caller = parse_caller(
            "arn:aws:sts::333333333333:assumed-role/BreakglassTrailReader/broker",
            None,
        )
        .unwrap();
        let mut request = Request::new(caller, action, resource);
        if let Some(p) = s3_prefix {
            request.insert_context("s3:prefix", breakglass_iam::ContextValue::one(p));
        }
        request.derive_principal_keys();
        PolicySet::builder()
            .identity(&policy)
            .build()
            .evaluate(&request)
            .decision
    }

    #[test]
    fn the_reader_reads_the_trail_and_nothing_else() {
        let allowed = [
            (
                "s3:GetObject",
                "arn:aws:s3:::org-trail/logs/AWSLogs/o-1/2222/CloudTrail/x.json.gz",
                None,
            ),
            (
                "s3:ListBucket",
                "arn:aws:s3:::org-trail",
                Some("logs/AWSLogs/o-1/"),
            ),
            ("sqs:ReceiveMessage", QUEUE, None),
            ("sqs:DeleteMessage", QUEUE, None),
            ("logs:FilterLogEvents", GROUP, None),
        ];
        for (action, resource, p) in allowed {
            assert_eq!(
                decide("logs", action, resource, p),
                Decision::Allow,
                "{action} {resource}"
            );
        }
        let refused = [
            (
                "s3:PutObject",
                "arn:aws:s3:::org-trail/logs/AWSLogs/x",
                None,
            ),
            (
                "s3:DeleteObject",
                "arn:aws:s3:::org-trail/logs/AWSLogs/x",
                None,
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::org-trail/other/secret.txt",
                None,
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::other-bucket/logs/AWSLogs/x",
                None,
            ),
            ("s3:ListBucket", "arn:aws:s3:::org-trail", Some("other/")),
            ("s3:ListBucket", "arn:aws:s3:::org-trail", None),
            ("sqs:SendMessage", QUEUE, None),
            ("sqs:PurgeQueue", QUEUE, None),
            ("sqs:SetQueueAttributes", QUEUE, None),
            (
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:333333333333:key/1",
                None,
            ),
            ("logs:DeleteLogGroup", GROUP, None),
        ];
        for (action, resource, p) in refused {
            assert_ne!(
                decide("logs", action, resource, p),
                Decision::Allow,
                "{action} {resource}"
            );
        }
    }

    #[test]
    fn without_a_prefix_the_keys_start_with_awslogs() {
        let key = "arn:aws:s3:::org-trail/AWSLogs/2222/CloudTrail/us-east-1/x.json.gz";
        assert_eq!(decide("", "s3:GetObject", key, None), Decision::Allow);
        assert_ne!(
            decide(
                "",
                "s3:GetObject",
                "arn:aws:s3:::org-trail/elsewhere/AWSLogs/x",
                None
            ),
            Decision::Allow
        );
    }

    #[test]
    fn only_the_named_rules_may_send_to_the_queue() {
        let rule = "arn:aws:events:us-east-1:222222222222:rule/breakglass-assume-role".to_owned();
        let policy = queue_policy(
            "aws",
            "333333333333",
            QUEUE,
            std::slice::from_ref(&rule),
            &[],
        );
        assert_eq!(
            policy["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"][0],
            rule.as_str()
        );
        assert_eq!(policy["Statement"][1]["Action"], "sqs:SendMessage");
    }
}

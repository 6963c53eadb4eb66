//! One API call a session made, as the generator needs it: the event's source and name, the
//! resources it named (ARNs, when they are known), its region and its error code.
//!
//! A [`UsedCall`] is built from a CloudTrail record ([`UsedCall::from_cloudtrail`]) or, by a
//! caller that stores its own timeline, field by field.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One API call of a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsedCall {
    /// `eventSource` (`s3.amazonaws.com`).
    pub event_source: String,
    /// `eventName` (`GetObject`).
    pub event_name: String,
    /// The ARNs the call named, when known (`arn:aws:s3:::bucket/key`); empty when not.
    #[serde(default)]
    pub resources: Vec<String>,
    /// `awsRegion`.
    #[serde(default)]
    pub region: Option<String>,
    /// `errorCode`, when the call failed.
    #[serde(default)]
    pub error_code: Option<String>,
}

/// Error codes that mean the call was refused by authorization: such a call was attempted,
/// not done, so the generator reports it and never adds its action.
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "NotAuthorized",
    "Forbidden",
];

impl UsedCall {
    /// A call without resources, region or error.
    pub fn new(event_source: &str, event_name: &str) -> UsedCall {
        UsedCall {
            event_source: event_source.to_owned(),
            event_name: event_name.to_owned(),
            resources: Vec::new(),
            region: None,
            error_code: None,
        }
    }

    /// Whether authorization refused the call (its error code is an access-denied one).
    pub fn was_denied(&self) -> bool {
        self.error_code.as_deref().is_some_and(|code| {
            DENIED_CODES.iter().any(|d| d.eq_ignore_ascii_case(code))
                || code.to_ascii_lowercase().contains("accessdenied")
        })
    }

    /// The call a CloudTrail record describes. Resources come from the record's
    /// `resources[].ARN` and, where cheap, from `requestParameters`: S3 buckets and object
    /// keys, EC2 instance ids, SSM parameter names, Lambda function names and Secrets
    /// Manager secret ARNs. `None` when the record has no `eventSource` or `eventName`.
    pub fn from_cloudtrail(record: &Value) -> Option<UsedCall> {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let event_source = record.get("eventSource").and_then(text)?;
        let event_name = record.get("eventName").and_then(text)?;
        let region = record.get("awsRegion").and_then(text);
        let error_code = record
            .get("errorCode")
            .and_then(text)
            .filter(|c| !c.is_empty());
        let mut resources: Vec<String> = record
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("ARN").or_else(|| r.get("arn")).and_then(text))
            .filter(|arn| arn.starts_with("arn:"))
            .collect();
        let account = record.get("recipientAccountId").and_then(text).or_else(|| {
            record
                .get("userIdentity")
                .and_then(|u| u.get("accountId"))
                .and_then(text)
        });
        let partition = partition(region.as_deref());
        if let Some(params) = record.get("requestParameters").filter(|p| p.is_object()) {
            from_parameters(
                &event_source,
                params,
                partition,
                region.as_deref(),
                account.as_deref(),
                &mut resources,
            );
        }
        resources.sort();
        resources.dedup();
        Some(UsedCall {
            event_source,
            event_name,
            resources,
            region,
            error_code,
        })
    }
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// ARNs that `requestParameters` names for the services where building them is cheap and
/// unambiguous.
fn from_parameters(
    source: &str,
    params: &Value,
    partition: &str,
    region: Option<&str>,
    account: Option<&str>,
    out: &mut Vec<String>,
) {
    let param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match source {
        "s3.amazonaws.com" => {
            if let Some(bucket) = param("bucketName").filter(|b| !b.contains(['/', '*', '?'])) {
                out.push(format!("arn:{partition}:s3:::{bucket}"));
                if let Some(key) = param("key") {
                    out.push(format!("arn:{partition}:s3:::{bucket}/{key}"));
                }
            }
        }
        "ec2.amazonaws.com" => {
            let (Some(region), Some(account)) = (region, account) else {
                return;
            };
            let mut ids: Vec<&str> = param("instanceId").into_iter().collect();
            if let Some(items) = params
                .get("instancesSet")
                .and_then(|s| s.get("items"))
                .and_then(Value::as_array)
            {
                ids.extend(
                    items
                        .iter()
                        .filter_map(|i| i.get("instanceId").and_then(Value::as_str)),
                );
            }
            for id in ids.into_iter().filter(|id| is_simple_id(id)) {
                out.push(format!(
                    "arn:{partition}:ec2:{region}:{account}:instance/{id}"
                ));
            }
        }
        "ssm.amazonaws.com" => {
            let (Some(region), Some(account)) = (region, account) else {
                return;
            };
            if let Some(name) = param("name").filter(|n| !n.starts_with("arn:")) {
                let name = name.strip_prefix('/').unwrap_or(name);
                out.push(format!(
                    "arn:{partition}:ssm:{region}:{account}:parameter/{name}"
                ));
            }
        }
        "lambda.amazonaws.com" => match param("functionName") {
            Some(arn) if arn.starts_with("arn:") => out.push(arn.to_owned()),
            Some(name) if is_simple_id(name) => {
                if let (Some(region), Some(account)) = (region, account) {
                    out.push(format!(
                        "arn:{partition}:lambda:{region}:{account}:function:{name}"
                    ));
                }
            }
            _ => {}
        },
        "secretsmanager.amazonaws.com" => {
            if let Some(arn) = param("secretId").filter(|s| s.starts_with("arn:")) {
                out.push(arn.to_owned());
            }
        }
        _ => {}
    }
}

/// An id or name made of letters, digits, `-`, `_` and `.` only.
fn is_simple_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields_and_the_resources_a_record_names() {
        let record = json!({
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
            "recipientAccountId": "111122223333",
            "requestParameters": {"bucketName": "evidence", "key": "case-1/disk.img"},
            "resources": [{"ARN": "arn:aws:s3:::evidence/case-1/disk.img", "type": "AWS::S3::Object"}]
        });
        let call = UsedCall::from_cloudtrail(&record).unwrap();
        assert_eq!(call.event_name, "GetObject");
        assert_eq!(call.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            call.resources,
            vec![
                "arn:aws:s3:::evidence",
                "arn:aws:s3:::evidence/case-1/disk.img"
            ]
        );
        let ec2 = json!({
            "eventSource": "ec2.amazonaws.com", "eventName": "TerminateInstances", "awsRegion": "us-east-1",
            "userIdentity": {"accountId": "111122223333"},
            "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0abc"}, {"instanceId": "i-*"}]}}
        });
        assert_eq!(
            UsedCall::from_cloudtrail(&ec2).unwrap().resources,
            vec!["arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"]
        );
        assert!(UsedCall::from_cloudtrail(&json!({"eventName": "X"})).is_none());
    }

    #[test]
    fn tells_a_denied_call_from_one_that_failed_after_authorization() {
        let mut call = UsedCall::new("iam.amazonaws.com", "GetRole");
        call.error_code = Some("AccessDenied".into());
        assert!(call.was_denied());
        call.error_code = Some("Client.UnauthorizedOperation".into());
        assert!(call.was_denied());
        call.error_code = Some("NoSuchEntityException".into());
        assert!(!call.was_denied());
        call.error_code = None;
        assert!(!call.was_denied());
    }
}

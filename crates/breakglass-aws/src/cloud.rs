//! [`AwsCloud`]: the [`Cloud`] port over STS, IAM and the console federation endpoint.
//!
//! Every STS limit is checked before the call, so a request AWS would refuse is refused
//! here with the limit named and nothing sent. The duration asked for (the grant's remaining
//! time) is clamped to the role's `MaxSessionDuration`, read with `GetRole` once per role and
//! cached. Throttling and 5xx answers are retried with exponential backoff by the SDK's
//! standard retry mode; what still fails is mapped to a [`CloudError`] that says what to do.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::types::Tag;
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest, IssuedCredentials, Secret};
use time::{Duration, OffsetDateTime};

use crate::federation;

/// STS's shortest session.
const MIN_DURATION: i64 = 900;
/// STS's longest session.
const MAX_DURATION: i64 = 43_200;
/// Most session tags per `AssumeRole`.
const MAX_TAGS: usize = 50;
/// Longest session tag key.
const MAX_TAG_KEY: usize = 128;
/// Longest session tag value.
const MAX_TAG_VALUE: usize = 256;
/// Longest session policy plaintext.
const MAX_SESSION_POLICY: usize = 2_048;

/// Where the console federation endpoint is, and who the sign-in URL says issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationOptions {
    /// The endpoint (`https://signin.aws.amazon.com/federation`; a local server in tests).
    pub endpoint: String,
    /// The `Issuer` of the login URL (where the console sends the user when the session
    /// ends), usually the broker's URL.
    pub issuer: String,
}

impl Default for FederationOptions {
    fn default() -> Self {
        Self {
            endpoint: "https://signin.aws.amazon.com/federation".to_owned(),
            issuer: "breakglass".to_owned(),
        }
    }
}

/// What `GetRole` told us about a role.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RoleInfo {
    id: String,
    max_session: i64,
}

/// The AWS adapter of the [`Cloud`] port.
#[derive(Debug)]
pub struct AwsCloud {
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    federation: FederationOptions,
    roles: Mutex<HashMap<String, RoleInfo>>,
}

impl AwsCloud {
    /// The adapter over `config` (the broker's own credentials), retrying throttling and
    /// 5xx answers up to 5 attempts with exponential backoff.
    pub fn new(config: &SdkConfig, federation: FederationOptions) -> Self {
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(std::time::Duration::from_millis(200));
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_config(retry.clone())
            .build();
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_config(retry)
            .build();
        Self {
            sts: aws_sdk_sts::Client::from_conf(sts),
            iam: aws_sdk_iam::Client::from_conf(iam),
            federation,
            roles: Mutex::new(HashMap::new()),
        }
    }

    /// The role's id and maximum session duration (cached after the first `GetRole`).
    async fn role_info(&self, role_name: &str) -> Result<RoleInfo, CloudError> {
        if let Some(info) = self.cached(role_name) {
            return Ok(info);
        }
        let out = self
            .iam
            .get_role()
            .role_name(role_name)
            .send()
            .await
            .map_err(|e| map_error("iam:GetRole", &format!("role `{role_name}`"), e))?;
        let role = out.role().ok_or_else(|| {
            CloudError::Unavailable(format!("iam:GetRole returned no role for `{role_name}`"))
        })?;
        let info = RoleInfo {
            id: role.role_id().to_owned(),
            max_session: role
                .max_session_duration()
                .map_or(3_600, i64::from)
                .clamp(MIN_DURATION, MAX_DURATION),
        };
        if let Ok(mut cache) = self.roles.lock() {
            cache.insert(role_name.to_owned(), info.clone());
        }
        Ok(info)
    }

    fn cached(&self, role_name: &str) -> Option<RoleInfo> {
        self.roles.lock().ok()?.get(role_name).cloned()
    }
}

/// The name of the role in `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
fn role_name(arn: &str) -> Result<&str, CloudError> {
    arn.split_once(":role/")
        .and_then(|(_, rest)| rest.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| CloudError::Invalid(format!("`{arn}` is not a role ARN")))
}

/// `[\w+=,.@-]`, the charset of role session names and source identities.
fn sts_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// The session tag charset `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Checks every STS limit of `request` and returns the duration to ask for: the wanted
/// duration clamped to the role's maximum.
fn validate(request: &IssueRequest, role_max: i64) -> Result<i64, CloudError> {
    let invalid = |m: String| Err(CloudError::Invalid(m));
    let name = request.grant.as_str();
    let n = name.chars().count();
    if !(2..=64).contains(&n) || !name.chars().all(sts_name_char) {
        return invalid(format!(
            "RoleSessionName `{name}` breaks STS's limit: 2-64 characters of [\\w+=,.@-]"
        ));
    }
    let si = &request.source_identity;
    if si.to_ascii_lowercase().starts_with("aws:") {
        return invalid(format!(
            "SourceIdentity `{si}` breaks STS's limit: it must not start with `aws:`"
        ));
    }
    let n = si.chars().count();
    if !(2..=64).contains(&n) || !si.chars().all(sts_name_char) {
        return invalid(format!(
            "SourceIdentity `{si}` breaks STS's limit: 2-64 characters of [\\w+=,.@-]"
        ));
    }
    if request.tags.len() > MAX_TAGS {
        return invalid(format!(
            "{} session tags break STS's limit of {MAX_TAGS} tags per session",
            request.tags.len()
        ));
    }
    for (key, value) in &request.tags {
        let k = key.chars().count();
        if !(1..=MAX_TAG_KEY).contains(&k) || !key.chars().all(tag_char) {
            return invalid(format!(
                "session tag key `{key}` breaks STS's limit: 1-{MAX_TAG_KEY} characters of [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]"
            ));
        }
        if value.chars().count() > MAX_TAG_VALUE || !value.chars().all(tag_char) {
            return invalid(format!(
                "value of session tag `{key}` breaks STS's limit: at most {MAX_TAG_VALUE} characters of [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]"
            ));
        }
    }
    if let Some(policy) = &request.session_policy {
        let n = policy.chars().count();
        if n > MAX_SESSION_POLICY {
            return invalid(format!(
                "the session policy is {n} characters, over STS's limit of {MAX_SESSION_POLICY} characters of plaintext"
            ));
        }
    }
    let wanted = request.duration.whole_seconds();
    let duration = wanted.min(role_max).min(MAX_DURATION);
    if duration < MIN_DURATION {
        return invalid(format!(
            "DurationSeconds {wanted} is under STS's minimum of {MIN_DURATION} seconds"
        ));
    }
    Ok(duration)
}

/// Maps an SDK error of `operation` on `target` to a port error.
fn map_error<E, R>(operation: &str, target: &str, e: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_owned);
    let detail = DisplayErrorContext(&e).to_string();
    match code.as_deref() {
        Some("AccessDenied" | "AccessDeniedException") => {
            CloudError::AccessDenied(format!("{operation} on {target} was denied ({detail})"))
        }
        Some("NoSuchEntity" | "NoSuchEntityException") => {
            CloudError::NotFound(format!("{operation}: {target} does not exist"))
        }
        Some("PackedPolicyTooLarge") => CloudError::Invalid(format!(
            "{operation} on {target}: the session policy and session tags together exceed STS's packed size limit (PackedPolicyTooLarge); shorten the playbook's session policy"
        )),
        Some(
            "MalformedPolicyDocument"
            | "ValidationError"
            | "InvalidParameterValue"
            | "LimitExceeded"
            | "LimitExceededException",
        ) => CloudError::Invalid(format!("{operation} on {target} was refused: {detail}")),
        _ => CloudError::Unavailable(format!(
            "{operation} on {target} failed after retries: {detail}"
        )),
    }
}

/// The SDK's date as a `time` value.
fn to_time(t: &aws_sdk_sts::primitives::DateTime) -> Result<OffsetDateTime, CloudError> {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos())
        .map_err(|e| CloudError::Unavailable(format!("STS returned an impossible expiry: {e}")))
}

/// Decodes a policy document IAM returned (URL-encoded in the API).
fn decode_policy(text: &str) -> String {
    if text.trim_start().starts_with('%') {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        text.to_owned()
    }
}

impl Cloud for AwsCloud {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        let name = role_name(&request.role_arn)?;
        let info = self.role_info(name).await?;
        let duration = validate(request, info.max_session)?;
        let mut tags = Vec::with_capacity(request.tags.len());
        for (k, v) in &request.tags {
            tags.push(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| CloudError::Invalid(format!("session tag `{k}`: {e}")))?,
            );
        }
        let duration_i32 = i32::try_from(duration)
            .map_err(|_| CloudError::Invalid(format!("DurationSeconds {duration}")))?;
        let out = self
            .sts
            .assume_role()
            .role_arn(&request.role_arn)
            .role_session_name(request.grant.as_str())
            .source_identity(&request.source_identity)
            .set_tags(Some(tags))
            .set_policy(request.session_policy.clone())
            .duration_seconds(duration_i32)
            .send()
            .await
            .map_err(|e| {
                let target = format!("`{}`", request.role_arn);
                match map_error("sts:AssumeRole", &target, e) {
                    CloudError::AccessDenied(m) => CloudError::AccessDenied(format!(
                        "{m}; the role's trust policy must allow the broker's principal sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession"
                    )),
                    other => other,
                }
            })?;
        let creds = out.credentials().ok_or_else(|| {
            CloudError::Unavailable("sts:AssumeRole returned no credentials".to_owned())
        })?;
        let user = out.assumed_role_user().ok_or_else(|| {
            CloudError::Unavailable("sts:AssumeRole returned no assumed-role user".to_owned())
        })?;
        Ok(IssuedCredentials {
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: Secret::new(creds.secret_access_key()),
            session_token: Secret::new(creds.session_token()),
            expiration: to_time(creds.expiration())?,
            assumed_role_arn: user.arn().to_owned(),
            assumed_role_id: user.assumed_role_id().to_owned(),
        })
    }

    async fn role_id(&self, role_name: &str) -> Result<String, CloudError> {
        // Always asked afresh: a role deleted and re-created under the same name has a new
        // id, and a deny on the old one would match nothing.
        if let Ok(mut cache) = self.roles.lock() {
            cache.remove(role_name);
        }
        Ok(self.role_info(role_name).await?.id)
    }

    async fn inline_policy_names(&self, role_name: &str) -> Result<Vec<String>, CloudError> {
        let target = format!("role `{role_name}`");
        self.iam
            .list_role_policies()
            .role_name(role_name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| map_error("iam:ListRolePolicies", &target, e))
    }

    async fn inline_policy(
        &self,
        role_name: &str,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        let target = format!("policy `{policy_name}` of role `{role_name}`");
        match self
            .iam
            .get_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(out) => Ok(Some(decode_policy(out.policy_document()))),
            Err(e) => match map_error("iam:GetRolePolicy", &target, e) {
                CloudError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn put_inline_policy(
        &self,
        role_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let target = format!("policy `{policy_name}` of role `{role_name}`");
        self.iam
            .put_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| map_error("iam:PutRolePolicy", &target, e))?;
        Ok(())
    }

    async fn delete_inline_policy(
        &self,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(), CloudError> {
        let target = format!("policy `{policy_name}` of role `{role_name}`");
        match self
            .iam
            .delete_role_policy()
            .role_name(role_name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_error("iam:DeleteRolePolicy", &target, e) {
                CloudError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn console_url(
        &self,
        credentials: &IssuedCredentials,
        session_duration: Duration,
        destination: &str,
    ) -> Result<Secret, CloudError> {
        federation::console_url(&self.federation, credentials, session_duration, destination).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakglass_core::model::GrantId;

    fn request() -> IssueRequest {
        IssueRequest {
            grant: GrantId::new("g-0001").unwrap(),
            role_arn: "arn:aws:iam::111122223333:role/incident-response/IR".to_owned(),
            source_identity: "alice".to_owned(),
            tags: vec![("IncidentId".to_owned(), "INC-1".to_owned())],
            session_policy: None,
            duration: Duration::hours(2),
        }
    }

    #[test]
    fn duration_is_clamped_to_the_role_maximum_and_refused_below_900() {
        assert_eq!(validate(&request(), 3_600).unwrap(), 3_600);
        assert_eq!(validate(&request(), 43_200).unwrap(), 7_200);
        let mut short = request();
        short.duration = Duration::seconds(899);
        let err = validate(&short, 3_600).unwrap_err().to_string();
        assert!(err.contains("minimum of 900 seconds"), "{err}");
    }

    #[test]
    fn every_limit_is_named() {
        let check = |f: &dyn Fn(&mut IssueRequest), want: &str| {
            let mut r = request();
            f(&mut r);
            let err = validate(&r, 3_600).unwrap_err().to_string();
            assert!(err.contains(want), "{err} does not contain {want}");
        };
        check(
            &|r| r.source_identity = "aws:alice".into(),
            "must not start with `aws:`",
        );
        check(&|r| r.source_identity = "a".into(), "SourceIdentity `a`");
        check(&|r| r.source_identity = "al ice".into(), "[\\w+=,.@-]");
        check(
            &|r| r.tags = (0..51).map(|i| (format!("k{i}"), "v".into())).collect(),
            "limit of 50 tags",
        );
        check(
            &|r| r.tags = vec![("k".repeat(129), "v".into())],
            "1-128 characters",
        );
        check(
            &|r| r.tags = vec![("k".into(), "v".repeat(257))],
            "at most 256 characters",
        );
        check(
            &|r| r.tags = vec![("k".into(), "a;b".into())],
            "value of session tag `k`",
        );
        check(
            &|r| r.session_policy = Some("x".repeat(2_049)),
            "over STS's limit of 2048 characters",
        );
    }

    #[test]
    fn role_names_come_from_the_arn() {
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/a/b/IR").unwrap(),
            "IR"
        );
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/IR").unwrap(),
            "IR"
        );
        assert!(role_name("arn:aws:iam::111122223333:user/IR").is_err());
    }
}

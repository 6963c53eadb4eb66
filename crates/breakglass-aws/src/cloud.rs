//! [`AwsCloud`]: the [`Cloud`] port over STS, IAM and the console federation endpoint.
//!
//! Every STS limit is checked before the call, so a request AWS would refuse is refused
//! here with the limit named and nothing sent. The duration asked for (the grant's remaining
//! time) is clamped to the role's `MaxSessionDuration`, read with `GetRole` once per role and
//! cached. Throttling and 5xx answers are retried with exponential backoff by the SDK's
//! standard retry mode; what still fails is mapped to a [`CloudError`] that says what to do.
//!
//! Roles are addressed by ARN, and IAM is called in the role's own account: the broker's
//! account with the broker's own credentials, any other account by assuming the role
//! [`AccountRoles`] names there: for the broker, the revoker role `breakglass apply` creates
//! in every member account ([`AccountRoles::revoker`]), which trusts only the broker and may
//! only read the brokered roles and write their inline policies. One IAM client per account
//! is kept; its credentials are refreshed by the SDK's `AssumeRoleProvider` as they expire.
//! `AssumeRole` for a grant needs no such hop: the role trusts the broker's principal
//! directly.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::types::Tag;
use breakglass_config::Config;
use breakglass_config::templates::revoker::REVOKER_PATH;
use breakglass_core::aws_limits::{
    self, DEFAULT_ROLE_MAX_SESSION_SECONDS, MAX_ASSUME_ROLE_SECONDS, MAX_ROLE_SESSION_NAME,
    MAX_SESSION_POLICY_CHARS, MAX_SESSION_TAGS, MAX_SOURCE_IDENTITY, MAX_TAG_KEY, MAX_TAG_VALUE,
    MIN_ASSUME_ROLE_SECONDS, MIN_ROLE_SESSION_NAME, MIN_SOURCE_IDENTITY, MIN_TAG_KEY,
    SOURCE_IDENTITY_RESERVED_PREFIX, STS_NAME_PATTERN, TAG_PATTERN,
};
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest, IssuedCredentials, Secret};
use breakglass_core::model::{AccountId, RoleArn};
use time::{Duration, OffsetDateTime};
use tokio::sync::OnceCell;

use crate::federation;
pub use crate::federation::FederationOptions;
use crate::organization;
use crate::sdk::{self, SdkError as ReachError};
use breakglass_core::revocation::ORGANIZATION_POLICY;

/// The session name the broker uses when it assumes a role to manage another account's
/// roles.
pub const SESSION_NAME: &str = "breakglass-broker";

/// What the role assumed in another account must be allowed on that account's roles.
const IAM_PERMISSIONS: &str = "iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:PutRolePolicy and iam:DeleteRolePolicy";

/// Which role the adapter assumes to manage roles (read them, write their revocation
/// policies) in an account other than the broker's own.
#[derive(Clone)]
pub struct AccountRoles(Arc<RoleFor>);

/// A function from an account id to the role to assume there.
type RoleFor = dyn Fn(&AccountId) -> Option<RoleArn> + Send + Sync;

impl AccountRoles {
    /// `role(account)` is the role to assume in `account`; `None` when the broker must not
    /// reach that account.
    pub fn new(role: impl Fn(&AccountId) -> Option<RoleArn> + Send + Sync + 'static) -> Self {
        Self(Arc::new(role))
    }

    /// The config's deploy role in every account,
    /// `arn:<partition>:iam::<account>:role/<path><deploy role>`, as `breakglass apply`
    /// reaches accounts. Not for the running broker: the deploy role can create roles with
    /// any policy, and does not trust the broker.
    pub fn deploy(config: &Config) -> Self {
        let partition = config.partition.clone();
        let path = config.path.clone();
        let role = config.deploy.role.clone();
        Self::new(move |account| RoleArn::from_parts(&partition, account, &path, &role).ok())
    }

    /// The broker's revoker role in every account,
    /// `arn:<partition>:iam::<account>:role/breakglass/<broker.revoker_role>`: trusted by the
    /// broker's principal only, allowed only to read the brokered roles and write their
    /// inline policies. `breakglass apply` creates it in every member account.
    pub fn revoker(config: &Config) -> Self {
        let partition = config.partition.clone();
        let role = config.broker.revoker_role.clone();
        Self::new(move |account| RoleArn::from_parts(&partition, account, REVOKER_PATH, &role).ok())
    }

    /// No other account: only roles in the broker's own account can be managed.
    pub fn none() -> Self {
        Self::new(|_| None)
    }

    fn role(&self, account: &AccountId) -> Option<RoleArn> {
        (self.0)(account)
    }
}

impl fmt::Debug for AccountRoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountRoles(..)")
    }
}

/// An IAM client for one account, and how it was reached (for error messages).
#[derive(Debug, Clone)]
struct AccountIam {
    client: aws_sdk_iam::Client,
    /// `None` for the broker's own account; otherwise the role assumed there.
    through: Option<RoleArn>,
}

impl AccountIam {
    /// `role `ARN``, with the account's role named when it was reached through one.
    fn target(&self, role: &RoleArn) -> String {
        match &self.through {
            None => format!("role `{role}`"),
            Some(through) => format!(
                "role `{role}` (in account {}, through `{through}`, which must allow {IAM_PERMISSIONS} on it: run `breakglass apply` if the role is new to the config)",
                role.account()
            ),
        }
    }

    fn policy_target(&self, role: &RoleArn, policy: &str) -> String {
        format!("policy `{policy}` of {}", self.target(role))
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
    base: SdkConfig,
    retry: RetryConfig,
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
    federation: FederationOptions,
    account_roles: AccountRoles,
    /// The broker's own account, from `sts:GetCallerIdentity` on first need.
    own_account: OnceCell<String>,
    /// IAM clients of other accounts, by account id.
    accounts: Mutex<HashMap<String, aws_sdk_iam::Client>>,
    /// `GetRole` answers, by role ARN.
    roles: Mutex<HashMap<String, RoleInfo>>,
    /// The management account holding the revoked-responders SCP, when the broker keeps one.
    organization: Option<AccountId>,
    /// The Organizations client of that account (built on first need).
    organizations: OnceCell<aws_sdk_organizations::Client>,
}

impl AwsCloud {
    /// The adapter over `config` (the broker's own credentials), retrying throttling and
    /// 5xx answers up to 5 attempts with exponential backoff. Roles in other accounts are
    /// managed through the role `account_roles` names in each (see
    /// [`AccountRoles::revoker`]).
    pub fn new(
        config: &SdkConfig,
        federation: FederationOptions,
        account_roles: AccountRoles,
    ) -> Self {
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(std::time::Duration::from_millis(200));
        let sts = aws_sdk_sts::config::Builder::from(config)
            .retry_config(retry.clone())
            .build();
        let iam = aws_sdk_iam::config::Builder::from(config)
            .retry_config(retry.clone())
            .build();
        Self {
            base: config.clone(),
            retry,
            sts: aws_sdk_sts::Client::from_conf(sts),
            iam: aws_sdk_iam::Client::from_conf(iam),
            federation,
            account_roles,
            own_account: OnceCell::new(),
            accounts: Mutex::new(HashMap::new()),
            roles: Mutex::new(HashMap::new()),
            organization: None,
            organizations: OnceCell::new(),
        }
    }

    /// Keeps the organisation's revoked-responders SCP (created by `breakglass apply`) in
    /// `management_account` up to date: reached with the broker's own credentials when it is
    /// the broker's account, otherwise through the account's role (the revoker role).
    #[must_use]
    pub fn with_organization(mut self, management_account: Option<AccountId>) -> Self {
        self.organization = management_account;
        self
    }

    /// The Organizations client of the management account, if one is configured.
    async fn organizations(&self) -> Result<Option<&aws_sdk_organizations::Client>, CloudError> {
        let Some(account) = &self.organization else {
            return Ok(None);
        };
        let client = self
            .organizations
            .get_or_try_init(|| async {
                let config = if account.as_str() == self.own_account().await? {
                    self.base.clone()
                } else {
                    let through = self.account_roles.role(account).ok_or_else(|| {
                        CloudError::AccessDenied(format!(
                            "the organisation's management account {account} is not the broker's and no role to assume there is configured"
                        ))
                    })?;
                    sdk::assume_role(&self.base, through.as_str(), SESSION_NAME, account.as_str())
                        .await
                        .map_err(|e| {
                            CloudError::AccessDenied(format!(
                                "cannot reach the organisation's management account {account} through `{through}`: {e}"
                            ))
                        })?
                };
                // Organizations is global; its endpoint lives in us-east-1.
                let config = aws_sdk_organizations::config::Builder::from(&config)
                    .region(aws_config::Region::new("us-east-1"))
                    .retry_config(self.retry.clone())
                    .build();
                Ok::<_, CloudError>(aws_sdk_organizations::Client::from_conf(config))
            })
            .await?;
        Ok(Some(client))
    }

    /// The id of the revoked-responders SCP in the organisation.
    async fn organization_policy_id(
        &self,
        client: &aws_sdk_organizations::Client,
    ) -> Result<String, CloudError> {
        let found = organization::find(client, ORGANIZATION_POLICY)
            .await
            .map_err(org_error)?;
        found.map(|p| p.id).ok_or_else(|| {
            CloudError::NotFound(format!(
                "the organisation has no service control policy `{ORGANIZATION_POLICY}`: run `breakglass apply` with `[organization]` configured"
            ))
        })
    }

    /// The broker's own account id.
    async fn own_account(&self) -> Result<&str, CloudError> {
        self.own_account
            .get_or_try_init(|| async {
                let out = self.sts.get_caller_identity().send().await.map_err(|e| {
                    map_error("sts:GetCallerIdentity", "the broker's own credentials", e)
                })?;
                out.account().map(str::to_owned).ok_or_else(|| {
                    CloudError::Unavailable(
                        "sts:GetCallerIdentity returned no account for the broker's credentials"
                            .to_owned(),
                    )
                })
            })
            .await
            .map(String::as_str)
    }

    /// The IAM client for `role`'s account: the broker's own, or one reached by assuming
    /// the account's role (built once per account, then reused).
    async fn iam_for(&self, role: &RoleArn) -> Result<AccountIam, CloudError> {
        let account = role.account();
        if account.as_str() == self.own_account().await? {
            return Ok(AccountIam {
                client: self.iam.clone(),
                through: None,
            });
        }
        let through = self.account_roles.role(&account).ok_or_else(|| {
            CloudError::AccessDenied(format!(
                "role `{role}` is in account {account}, which is not the broker's and for which no role to assume is configured"
            ))
        })?;
        let cached = self
            .accounts
            .lock()
            .ok()
            .and_then(|m| m.get(account.as_str()).cloned());
        let client = match cached {
            Some(client) => client,
            None => {
                let config = sdk::assume_role(
                    &self.base,
                    through.as_str(),
                    SESSION_NAME,
                    account.as_str(),
                )
                .await
                .map_err(|e| match e {
                    ReachError::WrongAccount { got, .. } => CloudError::AccessDenied(format!(
                        "cannot reach account {account}: `{through}` yields credentials of account {got}"
                    )),
                    other => CloudError::AccessDenied(format!(
                        "cannot reach account {account} to manage role `{role}`: assuming `{through}` failed ({other}); run `breakglass apply` to create that role (its trust policy allows the config's `broker.principal`), or make it trust the broker's principal, and give it {IAM_PERMISSIONS} on the account's brokered roles"
                    )),
                })?;
                let conf = aws_sdk_iam::config::Builder::from(&config)
                    .retry_config(self.retry.clone())
                    .build();
                let client = aws_sdk_iam::Client::from_conf(conf);
                if let Ok(mut m) = self.accounts.lock() {
                    m.entry(account.to_string())
                        .or_insert_with(|| client.clone());
                }
                client
            }
        };
        Ok(AccountIam {
            client,
            through: Some(through),
        })
    }

    /// The role's id and maximum session duration (cached after the first `GetRole`).
    async fn role_info(&self, role: &RoleArn) -> Result<RoleInfo, CloudError> {
        if let Some(info) = self.cached(role) {
            return Ok(info);
        }
        let iam = self.iam_for(role).await?;
        let out = iam
            .client
            .get_role()
            .role_name(role.name().as_str())
            .send()
            .await
            .map_err(|e| map_error("iam:GetRole", &iam.target(role), e))?;
        let found = out.role().ok_or_else(|| {
            CloudError::Unavailable(format!("iam:GetRole returned no role for `{role}`"))
        })?;
        let info = RoleInfo {
            id: found.role_id().to_owned(),
            max_session: found
                .max_session_duration()
                .map_or(DEFAULT_ROLE_MAX_SESSION_SECONDS, i64::from)
                .clamp(MIN_ASSUME_ROLE_SECONDS, MAX_ASSUME_ROLE_SECONDS),
        };
        if let Ok(mut cache) = self.roles.lock() {
            cache.insert(role.to_string(), info.clone());
        }
        Ok(info)
    }

    fn cached(&self, role: &RoleArn) -> Option<RoleInfo> {
        self.roles.lock().ok()?.get(role.as_str()).cloned()
    }
}

/// Checks every STS limit of `request` and returns the duration to ask for: the wanted
/// duration clamped to the role's maximum.
fn validate(request: &IssueRequest, role_max: i64) -> Result<i64, CloudError> {
    let invalid = |m: String| Err(CloudError::Invalid(m));
    let name = request.grant.as_str();
    if !aws_limits::is_valid_role_session_name(name) {
        return invalid(format!(
            "RoleSessionName `{name}` breaks STS's limit: {MIN_ROLE_SESSION_NAME}-{MAX_ROLE_SESSION_NAME} characters of {STS_NAME_PATTERN}"
        ));
    }
    let si = &request.source_identity;
    if aws_limits::has_reserved_prefix(si) {
        return invalid(format!(
            "SourceIdentity `{si}` breaks STS's limit: it must not start with `{SOURCE_IDENTITY_RESERVED_PREFIX}`"
        ));
    }
    if !aws_limits::is_valid_source_identity(si) {
        return invalid(format!(
            "SourceIdentity `{si}` breaks STS's limit: {MIN_SOURCE_IDENTITY}-{MAX_SOURCE_IDENTITY} characters of {STS_NAME_PATTERN}"
        ));
    }
    if request.tags.len() > MAX_SESSION_TAGS {
        return invalid(format!(
            "{} session tags break STS's limit of {MAX_SESSION_TAGS} tags per session",
            request.tags.len()
        ));
    }
    for (key, value) in &request.tags {
        if !aws_limits::is_valid_tag_key(key) {
            return invalid(format!(
                "session tag key `{key}` breaks STS's limit: {MIN_TAG_KEY}-{MAX_TAG_KEY} characters of {TAG_PATTERN}"
            ));
        }
        if !aws_limits::is_valid_tag_value(value) {
            return invalid(format!(
                "value of session tag `{key}` breaks STS's limit: at most {MAX_TAG_VALUE} characters of {TAG_PATTERN}"
            ));
        }
    }
    if let Some(policy) = &request.session_policy {
        let n = policy.chars().count();
        if n > MAX_SESSION_POLICY_CHARS {
            return invalid(format!(
                "the session policy is {n} characters, over STS's limit of {MAX_SESSION_POLICY_CHARS} characters of plaintext"
            ));
        }
    }
    let wanted = request.duration.whole_seconds();
    let duration = wanted.min(role_max).min(MAX_ASSUME_ROLE_SECONDS);
    if duration < MIN_ASSUME_ROLE_SECONDS {
        return invalid(format!(
            "DurationSeconds {wanted} is under STS's minimum of {MIN_ASSUME_ROLE_SECONDS} seconds"
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

/// An Organizations failure as the port's error.
fn org_error(e: organization::OrgError) -> CloudError {
    let what = format!("{} on `{ORGANIZATION_POLICY}`: {}", e.operation, e.message);
    match e.code.as_deref() {
        Some("AccessDeniedException" | "AccessDenied" | "AWSOrganizationsNotInUseException") => {
            CloudError::AccessDenied(what)
        }
        Some("PolicyNotFoundException") => CloudError::NotFound(what),
        Some(
            "MalformedPolicyDocumentException"
            | "ConstraintViolationException"
            | "InvalidInputException",
        ) => CloudError::Invalid(what),
        _ => CloudError::Unavailable(what),
    }
}

impl Cloud for AwsCloud {
    fn keeps_organization_policy(&self) -> bool {
        self.organization.is_some()
    }

    async fn organization_policy(&self) -> Result<Option<String>, CloudError> {
        let Some(client) = self.organizations().await? else {
            return Ok(None);
        };
        let id = self.organization_policy_id(client).await?;
        let content = organization::content(client, &id)
            .await
            .map_err(org_error)?;
        Ok(Some(content))
    }

    async fn put_organization_policy(&self, document: &str) -> Result<(), CloudError> {
        let Some(client) = self.organizations().await? else {
            return Err(CloudError::NotFound(
                "no organisation management account is configured".to_owned(),
            ));
        };
        let id = self.organization_policy_id(client).await?;
        organization::update(client, &id, document)
            .await
            .map_err(org_error)
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        let role = RoleArn::new(request.role_arn.as_str())
            .map_err(|e| CloudError::Invalid(e.to_string()))?;
        let info = self.role_info(&role).await?;
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

    async fn role_id(&self, role: &RoleArn) -> Result<String, CloudError> {
        // Always asked afresh: a role deleted and re-created under the same name has a new
        // id, and a deny on the old one would match nothing.
        if let Ok(mut cache) = self.roles.lock() {
            cache.remove(role.as_str());
        }
        Ok(self.role_info(role).await?.id)
    }

    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        let iam = self.iam_for(role).await?;
        iam.client
            .list_role_policies()
            .role_name(role.name().as_str())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| map_error("iam:ListRolePolicies", &iam.target(role), e))
    }

    async fn inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        let iam = self.iam_for(role).await?;
        match iam
            .client
            .get_role_policy()
            .role_name(role.name().as_str())
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(out) => Ok(Some(decode_policy(out.policy_document()))),
            Err(e) => match map_error(
                "iam:GetRolePolicy",
                &iam.policy_target(role, policy_name),
                e,
            ) {
                CloudError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        let iam = self.iam_for(role).await?;
        iam.client
            .put_role_policy()
            .role_name(role.name().as_str())
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| {
                map_error(
                    "iam:PutRolePolicy",
                    &iam.policy_target(role, policy_name),
                    e,
                )
            })?;
        Ok(())
    }

    async fn delete_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<(), CloudError> {
        let iam = self.iam_for(role).await?;
        match iam
            .client
            .delete_role_policy()
            .role_name(role.name().as_str())
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_error(
                "iam:DeleteRolePolicy",
                &iam.policy_target(role, policy_name),
                e,
            ) {
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

    async fn console_sign_in_reachable(&self) -> Result<(), CloudError> {
        federation::reachable(&self.federation, self.base.endpoint_url()).await
    }

    async fn caller_identity(&self, credentials: &IssuedCredentials) -> Result<String, CloudError> {
        let session = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose(),
            Some(credentials.session_token.expose().to_owned()),
            None,
            "breakglass-drill",
        );
        let config = self
            .base
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(session),
            )
            .build();
        sdk::caller_identity(&config)
            .await
            .map(|(_, arn)| arn)
            .map_err(|e| match e {
                ReachError::CallerIdentity { message, .. } => CloudError::AccessDenied(format!(
                    "sts:GetCallerIdentity with the minted credentials failed: {message}"
                )),
                other => CloudError::Unavailable(other.to_string()),
            })
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
    fn the_broker_reaches_other_accounts_through_the_revoker_role() {
        let config = Config::load(
            include_str!("../../../examples/breakglass.toml"),
            "examples/breakglass.toml",
        )
        .unwrap();
        let account = AccountId::new("222222222222").unwrap();
        assert_eq!(
            AccountRoles::revoker(&config)
                .role(&account)
                .unwrap()
                .as_str(),
            "arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker"
        );
    }

    #[test]
    fn the_default_account_role_is_the_configs_deploy_role() {
        let config = Config::load(
            include_str!("../../../examples/breakglass.toml"),
            "examples/breakglass.toml",
        )
        .unwrap();
        let roles = AccountRoles::deploy(&config);
        let account = AccountId::new("222222222222").unwrap();
        assert_eq!(
            roles.role(&account).unwrap().as_str(),
            format!(
                "arn:{}:iam::222222222222:role{}{}",
                config.partition, config.path, config.deploy.role
            )
        );
        assert!(
            roles
                .role(&account)
                .unwrap()
                .as_str()
                .ends_with("SecurityDeploy")
        );
        assert!(AccountRoles::none().role(&account).is_none());
    }
}

//! The `Cloud` port: how the broker mints and cuts off AWS sessions.
//!
//! `breakglass-aws` implements it with the AWS SDK; tests use in-memory doubles. The types
//! here carry what the domain decides (role, session name, source identity, tags, session
//! policy, duration, deny policy documents); the adapter only validates AWS limits and calls
//! AWS. Roles are addressed by ARN, never by bare name: a role may live in another account
//! than the broker's, and its IAM policies must be read and written in that account. Secrets are wrapped in [`Secret`], whose `Debug` never shows the value.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::model::{GrantId, RoleArn};

/// A secret string (secret access key, session token, password, TOTP seed). `Debug` and
/// `Display` print `[redacted]`; read it with [`Secret::expose`] only where it must leave.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Every call site is a place where the secret leaves the broker.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One `AssumeRole` call for a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// The grant; its id is the `RoleSessionName`.
    pub grant: GrantId,
    /// The role to assume.
    pub role_arn: String,
    /// The responder's username, passed as `SourceIdentity`.
    pub source_identity: String,
    /// Session tags (`IncidentId`, `GrantId`, `Requester`), already chosen by the domain;
    /// the adapter sanitizes values to the tag charset and validates the limits.
    pub tags: Vec<(String, String)>,
    /// The playbook's session policy, as JSON text, if any.
    pub session_policy: Option<String>,
    /// The wanted duration: the grant's remaining time; the adapter clamps it to the
    /// role's maximum and refuses it below STS's 900-second minimum.
    pub duration: Duration,
}

/// Credentials minted by STS. Only `access_key_id` and a hash of the session token may be
/// stored; the secrets go to the responder and are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    /// `ASIA…`
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token.
    pub session_token: Secret,
    /// When STS says they expire.
    pub expiration: OffsetDateTime,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
    /// `ROLEID:SESSION`, the value of `aws:userid` in the session's requests.
    pub assumed_role_id: String,
}

/// Why a cloud call failed. Messages name the limit, the permission or the service that
/// refused, and what to do next; they never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The call would break an AWS limit; nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// AWS refused for lack of permission (e.g. the role's trust policy).
    #[error("{0}")]
    AccessDenied(String),
    /// The role or policy does not exist.
    #[error("{0}")]
    NotFound(String),
    /// AWS kept throttling or failing after retries, or could not be reached.
    #[error("{0}")]
    Unavailable(String),
}

/// Minting and revoking AWS sessions.
pub trait Cloud: Send + Sync {
    /// Calls `AssumeRole` for a grant.
    fn issue(
        &self,
        request: &IssueRequest,
    ) -> impl Future<Output = Result<IssuedCredentials, CloudError>> + Send;

    /// The current text of inline policy `policy_name` on role `role`, if it exists.
    fn inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> impl Future<Output = Result<Option<String>, CloudError>> + Send;

    /// The unique id (`AROA…`) of role `role`: the first half of its sessions'
    /// `aws:userid`, which revocation entries match on.
    fn role_id(&self, role: &RoleArn) -> impl Future<Output = Result<String, CloudError>> + Send;

    /// The names of every inline policy on role `role` (to size the role's quota).
    fn inline_policy_names(
        &self,
        role: &RoleArn,
    ) -> impl Future<Output = Result<Vec<String>, CloudError>> + Send;

    /// Writes (creates or replaces) inline policy `policy_name` on role `role`.
    fn put_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
        document: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Deletes inline policy `policy_name` from role `role` (no error if absent).
    fn delete_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// A federation sign-in URL for the console (`getSigninToken` then `login`), valid for
    /// `session_duration`, landing on `destination`.
    fn console_url(
        &self,
        credentials: &IssuedCredentials,
        session_duration: Duration,
        destination: &str,
    ) -> impl Future<Output = Result<Secret, CloudError>> + Send;

    /// Whether the console sign-in endpoint [`Cloud::console_url`] calls can be reached, asked
    /// before any credentials are minted for it: `Unavailable` says why not (an emulator
    /// whose sessions AWS's sign-in does not know, no route to the endpoint), in words that
    /// name no account and no secret.
    fn console_sign_in_reachable(&self) -> impl Future<Output = Result<(), CloudError>> + Send;

    /// Calls `sts:GetCallerIdentity` with `credentials` and returns the ARN AWS says they
    /// belong to: the one harmless call a drill makes to prove minted credentials work.
    fn caller_identity(
        &self,
        credentials: &IssuedCredentials,
    ) -> impl Future<Output = Result<String, CloudError>> + Send;

    /// Whether this adapter keeps the organisation's revoked-responders policy (a management
    /// account is configured). No I/O: callers skip the policy's upkeep when it is `false`.
    /// Every adapter says so itself: a default of `false` would let a new adapter stop the
    /// organisation-wide cut-off without a word.
    fn keeps_organization_policy(&self) -> bool;

    /// The current text of the organisation's revoked-responders Service Control Policy
    /// (`revocation::ORGANIZATION_POLICY`), or `None` when this broker keeps no such policy
    /// (no management account configured): then there is nothing to keep up to date.
    fn organization_policy(
        &self,
    ) -> impl Future<Output = Result<Option<String>, CloudError>> + Send;

    /// Replaces the content of the organisation's revoked-responders policy (created and
    /// attached by `breakglass apply`; a missing one is an error, never created here).
    fn put_organization_policy(
        &self,
        document: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;
}

/// A boxed future, for the object-safe form of the port.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The [`Cloud`] port in object-safe form, so the application can be built once over any
/// adapter (`Arc<dyn DynCloud>`, see [`SharedCloud`]) and the adapter's type stops at the
/// application's boundary. Every [`Cloud`] is one.
pub trait DynCloud: Send + Sync {
    /// [`Cloud::issue`].
    fn issue_boxed<'a>(
        &'a self,
        request: &'a IssueRequest,
    ) -> BoxFuture<'a, Result<IssuedCredentials, CloudError>>;
    /// [`Cloud::inline_policy`].
    fn inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CloudError>>;
    /// [`Cloud::role_id`].
    fn role_id_boxed<'a>(&'a self, role: &'a RoleArn) -> BoxFuture<'a, Result<String, CloudError>>;
    /// [`Cloud::inline_policy_names`].
    fn inline_policy_names_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
    ) -> BoxFuture<'a, Result<Vec<String>, CloudError>>;
    /// [`Cloud::put_inline_policy`].
    fn put_inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>>;
    /// [`Cloud::delete_inline_policy`].
    fn delete_inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>>;
    /// [`Cloud::console_url`].
    fn console_url_boxed<'a>(
        &'a self,
        credentials: &'a IssuedCredentials,
        session_duration: Duration,
        destination: &'a str,
    ) -> BoxFuture<'a, Result<Secret, CloudError>>;
    /// [`Cloud::console_sign_in_reachable`].
    fn console_sign_in_reachable_boxed(&self) -> BoxFuture<'_, Result<(), CloudError>>;
    /// [`Cloud::caller_identity`].
    fn caller_identity_boxed<'a>(
        &'a self,
        credentials: &'a IssuedCredentials,
    ) -> BoxFuture<'a, Result<String, CloudError>>;
    /// [`Cloud::keeps_organization_policy`].
    fn keeps_organization_policy_dyn(&self) -> bool;
    /// [`Cloud::organization_policy`].
    fn organization_policy_boxed(&self) -> BoxFuture<'_, Result<Option<String>, CloudError>>;
    /// [`Cloud::put_organization_policy`].
    fn put_organization_policy_boxed<'a>(
        &'a self,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>>;
}

impl<T: Cloud> DynCloud for T {
    fn issue_boxed<'a>(
        &'a self,
        request: &'a IssueRequest,
    ) -> BoxFuture<'a, Result<IssuedCredentials, CloudError>> {
        Box::pin(self.issue(request))
    }
    fn inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, CloudError>> {
        Box::pin(self.inline_policy(role, policy_name))
    }
    fn role_id_boxed<'a>(&'a self, role: &'a RoleArn) -> BoxFuture<'a, Result<String, CloudError>> {
        Box::pin(self.role_id(role))
    }
    fn inline_policy_names_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
    ) -> BoxFuture<'a, Result<Vec<String>, CloudError>> {
        Box::pin(self.inline_policy_names(role))
    }
    fn put_inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>> {
        Box::pin(self.put_inline_policy(role, policy_name, document))
    }
    fn delete_inline_policy_boxed<'a>(
        &'a self,
        role: &'a RoleArn,
        policy_name: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>> {
        Box::pin(self.delete_inline_policy(role, policy_name))
    }
    fn console_url_boxed<'a>(
        &'a self,
        credentials: &'a IssuedCredentials,
        session_duration: Duration,
        destination: &'a str,
    ) -> BoxFuture<'a, Result<Secret, CloudError>> {
        Box::pin(self.console_url(credentials, session_duration, destination))
    }
    fn console_sign_in_reachable_boxed(&self) -> BoxFuture<'_, Result<(), CloudError>> {
        Box::pin(self.console_sign_in_reachable())
    }
    fn caller_identity_boxed<'a>(
        &'a self,
        credentials: &'a IssuedCredentials,
    ) -> BoxFuture<'a, Result<String, CloudError>> {
        Box::pin(self.caller_identity(credentials))
    }
    fn keeps_organization_policy_dyn(&self) -> bool {
        self.keeps_organization_policy()
    }
    fn organization_policy_boxed(&self) -> BoxFuture<'_, Result<Option<String>, CloudError>> {
        Box::pin(self.organization_policy())
    }
    fn put_organization_policy_boxed<'a>(
        &'a self,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), CloudError>> {
        Box::pin(self.put_organization_policy(document))
    }
}

/// Any cloud adapter behind one type.
pub type SharedCloud = Arc<dyn DynCloud>;

impl Cloud for dyn DynCloud + '_ {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        self.issue_boxed(request).await
    }
    async fn inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        self.inline_policy_boxed(role, policy_name).await
    }
    async fn role_id(&self, role: &RoleArn) -> Result<String, CloudError> {
        self.role_id_boxed(role).await
    }
    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        self.inline_policy_names_boxed(role).await
    }
    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        self.put_inline_policy_boxed(role, policy_name, document)
            .await
    }
    async fn delete_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<(), CloudError> {
        self.delete_inline_policy_boxed(role, policy_name).await
    }
    async fn console_url(
        &self,
        credentials: &IssuedCredentials,
        session_duration: Duration,
        destination: &str,
    ) -> Result<Secret, CloudError> {
        self.console_url_boxed(credentials, session_duration, destination)
            .await
    }
    async fn console_sign_in_reachable(&self) -> Result<(), CloudError> {
        self.console_sign_in_reachable_boxed().await
    }
    async fn caller_identity(&self, credentials: &IssuedCredentials) -> Result<String, CloudError> {
        self.caller_identity_boxed(credentials).await
    }
    fn keeps_organization_policy(&self) -> bool {
        self.keeps_organization_policy_dyn()
    }
    async fn organization_policy(&self) -> Result<Option<String>, CloudError> {
        self.organization_policy_boxed().await
    }
    async fn put_organization_policy(&self, document: &str) -> Result<(), CloudError> {
        self.put_organization_policy_boxed(document).await
    }
}

/// A shared adapter is an adapter (tests keep a handle on their double this way, and the
/// server shares one [`SharedCloud`]).
impl<T: Cloud + ?Sized> Cloud for Arc<T> {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedCredentials, CloudError> {
        self.as_ref().issue(request).await
    }
    async fn inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<Option<String>, CloudError> {
        self.as_ref().inline_policy(role, policy_name).await
    }
    async fn role_id(&self, role: &RoleArn) -> Result<String, CloudError> {
        self.as_ref().role_id(role).await
    }
    async fn inline_policy_names(&self, role: &RoleArn) -> Result<Vec<String>, CloudError> {
        self.as_ref().inline_policy_names(role).await
    }
    async fn put_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
        document: &str,
    ) -> Result<(), CloudError> {
        self.as_ref()
            .put_inline_policy(role, policy_name, document)
            .await
    }
    async fn delete_inline_policy(
        &self,
        role: &RoleArn,
        policy_name: &str,
    ) -> Result<(), CloudError> {
        self.as_ref().delete_inline_policy(role, policy_name).await
    }
    async fn console_url(
        &self,
        credentials: &IssuedCredentials,
        session_duration: Duration,
        destination: &str,
    ) -> Result<Secret, CloudError> {
        self.as_ref()
            .console_url(credentials, session_duration, destination)
            .await
    }
    async fn console_sign_in_reachable(&self) -> Result<(), CloudError> {
        self.as_ref().console_sign_in_reachable().await
    }
    async fn caller_identity(&self, credentials: &IssuedCredentials) -> Result<String, CloudError> {
        self.as_ref().caller_identity(credentials).await
    }
    fn keeps_organization_policy(&self) -> bool {
        self.as_ref().keeps_organization_policy()
    }
    async fn organization_policy(&self) -> Result<Option<String>, CloudError> {
        self.as_ref().organization_policy().await
    }
    async fn put_organization_policy(&self, document: &str) -> Result<(), CloudError> {
        self.as_ref().put_organization_policy(document).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("wJalrXUtnFEMI");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "wJalrXUtnFEMI");
    }
}

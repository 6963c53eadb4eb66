//! Access as code: the TOML config, validated into typed values, and everything built from it.
//!
//! Two stages, like ripgrep's `LowArgs → HiArgs`: [`raw`] is the file as written (serde,
//! `deny_unknown_fields`, documented fields from which the JSON Schema is generated);
//! [`Config::load`] validates it once into the typed [`Config`], collecting every problem
//! with its file, line, column and field. The loader takes the file's text and name and
//! never opens anything.
//!
//! From a [`Config`] come the [`Catalog`] the domain rules read ([`Config::catalog`]), the
//! desired AWS state ([`resources`]) that `plan` renders ([`render`]) and `apply` converges
//! ([`diff`]), and the least-privilege findings of `lint` ([`lint`]), all from the built-in
//! [`templates`]. The domain (`breakglass-core`) knows nothing of this crate: it is handed
//! the [`Catalog`].
//!
//! Architecture invariant: like the domain, this crate does no I/O and never reads the clock.

pub mod diff;
mod duration;
mod error;
pub mod lint;
pub mod raw;
pub mod render;
pub mod report;
pub mod resources;
mod spans;
pub mod templates;
mod validate;

use std::collections::BTreeMap;

use breakglass_core::model::{
    Account, AccountId, Approval, Catalog, DeployedRole, GroupName, Playbook, PlaybookId, RoleArn,
    RoleName, Username,
};
use serde_json::Value;
use time::Duration;

use crate::templates::revoker::{self, REVOKER_PATH};
use crate::templates::session_policy::{
    ScopedSessionPolicy, SessionParams, SessionPolicy, SessionTemplate,
};
use crate::templates::trust::{Trust, TrustPrincipals, trust_policy};
use crate::templates::users::{break_glass_user_name, user_policies};

pub use duration::{format_duration, parse_duration, parse_long_duration};
pub use error::{ConfigError, ConfigErrors};
pub use spans::{FieldPath, Location, Segment};

/// The only config format version so far.
pub const CONFIG_VERSION: u32 = 1;

/// A validated config. Built only by [`Config::load`], so every value in it has been checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The file name the config was loaded from (as given to the loader).
    pub file: String,
    /// The AWS partition.
    pub partition: String,
    /// The IAM path of the incident-response roles and break-glass users.
    pub path: String,
    /// The account holding the broker and the break-glass users.
    pub security_account: AccountId,
    /// Every account, in name order (the security account included).
    pub accounts: Vec<AccountConfig>,
    /// The broker's own settings.
    pub broker: BrokerConfig,
    /// How `apply` reaches the accounts.
    pub deploy: DeployConfig,
    /// The people, in username order.
    pub responders: Vec<ResponderConfig>,
    /// The incident-response roles, in name order.
    pub roles: Vec<RoleConfig>,
    /// The playbooks, in id order.
    pub playbooks: Vec<PlaybookConfig>,
    /// Alerting settings.
    pub alerting: AlertingConfig,
    /// Notification channels, if configured.
    pub notifications: Option<NotificationsConfig>,
    /// How people sign in besides the local accounts.
    pub auth: AuthConfig,
    /// The organisation's management account, when breakglass keeps the revoked-responders
    /// SCP there.
    pub organization: Option<OrganizationConfig>,
    /// The Slack app, if configured.
    pub slack: Option<SlackConfig>,
    /// Drills (always set: the defaults when the file has no `[drills]`).
    pub drills: DrillsConfig,
    /// Where CloudTrail is read from, if `[activity]` is configured.
    pub activity: Option<Activity>,
    text: String,
}

/// Validated `[activity]`: the organisation trail's bucket in the log-archive account, and
/// how the broker reads it (see [`raw::RawActivity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The trail's bucket.
    pub bucket: String,
    /// The name (under `[accounts]`) of the account holding the bucket, the queue, the log
    /// group and the reader role.
    pub account: String,
    /// The key prefix before `AWSLogs/` (no leading or trailing `/`; empty for none).
    pub prefix: String,
    /// The reader role's name (path [`templates::activity::READER_PATH`]).
    pub reader_role: String,
    /// The SQS queue's name, in the account's home region.
    pub queue: Option<String>,
    /// The CloudWatch Logs group, in the account's home region.
    pub log_group: Option<String>,
    /// How long grant timelines and findings are kept.
    pub retention: Duration,
    /// How often `serve` lists the bucket.
    pub every: Duration,
}

impl Activity {
    /// The log-archive account, as configured under `[accounts]`.
    pub fn account_config<'a>(&self, config: &'a Config) -> Option<&'a AccountConfig> {
        config.accounts.iter().find(|a| a.name == self.account)
    }

    /// The log-archive account's id (validated to exist).
    pub fn account_id(&self, config: &Config) -> Option<AccountId> {
        self.account_config(config).map(|a| a.id.clone())
    }

    /// The log-archive account's home region: where the queue and the log group are.
    pub fn region(&self, config: &Config) -> String {
        self.account_config(config)
            .map_or("us-east-1", AccountConfig::home_region)
            .to_owned()
    }

    /// The reader role's ARN, which the broker assumes to read the trail.
    pub fn reader_role_arn(&self, config: &Config) -> String {
        let account = self
            .account_id(config)
            .map(|a| a.to_string())
            .unwrap_or_default();
        format!(
            "arn:{}:iam::{account}:role{}{}",
            config.partition,
            templates::activity::READER_PATH,
            self.reader_role
        )
    }

    /// The queue's ARN, when there is a queue.
    pub fn queue_arn(&self, config: &Config) -> Option<String> {
        let queue = self.queue.as_ref()?;
        let account = self.account_id(config)?;
        Some(format!(
            "arn:{}:sqs:{}:{account}:{queue}",
            config.partition,
            self.region(config)
        ))
    }

    /// The log group's ARN (the form IAM policies name), when there is a log group.
    pub fn log_group_arn(&self, config: &Config) -> Option<String> {
        let group = self.log_group.as_ref()?;
        let account = self.account_id(config)?;
        Some(format!(
            "arn:{}:logs:{}:{account}:log-group:{group}",
            config.partition,
            self.region(config)
        ))
    }

    /// The reader role's trust policy (the broker's principal only) and its read-only
    /// permissions (see [`templates::activity`]).
    pub fn reader_policies(&self, config: &Config) -> (Value, Value) {
        let queue = self.queue_arn(config);
        let group = self.log_group_arn(config);
        let scope = templates::activity::ReaderScope {
            partition: &config.partition,
            bucket: &self.bucket,
            prefix: &self.prefix,
            queue_arn: queue.as_deref(),
            log_group_arn: group.as_deref(),
        };
        (
            templates::activity::trust_policy(&config.partition, &config.broker.principal),
            templates::activity::permissions_policy(&scope),
        )
    }

    /// The key prefix objects are listed under: `PREFIX/AWSLogs/` or `AWSLogs/`.
    pub fn logs_prefix(&self) -> String {
        if self.prefix.is_empty() {
            "AWSLogs/".to_owned()
        } else {
            format!("{}/AWSLogs/", self.prefix)
        }
    }
}

/// The validated drill settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillsConfig {
    /// How often `serve` drills (`None`: never on its own).
    pub every: Option<Duration>,
    /// The playbooks to drill (empty: every playbook).
    pub playbooks: Vec<PlaybookId>,
    /// How long a drill waits for its alert to be delivered.
    pub alert_timeout: Duration,
    /// The oldest a break-glass user's password may be.
    pub password_max_age: Duration,
}

impl Default for DrillsConfig {
    fn default() -> Self {
        Self {
            every: None,
            playbooks: Vec::new(),
            alert_timeout: Duration::minutes(2),
            password_max_age: Duration::days(90),
        }
    }
}

/// The validated Slack app settings. Secrets are referenced by environment variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    /// The workspace the app is installed in.
    pub team_id: String,
    /// The variable holding the bot token.
    pub bot_token_env: String,
    /// The variable holding the signing secret.
    pub signing_secret_env: String,
    /// Where approval requests go by default.
    pub approvals_channel: Option<String>,
    /// Where break-glass activations go.
    pub security_channel: String,
    /// Whether eligible approvers get direct messages by default.
    pub direct_messages: bool,
    /// Per playbook: its channel and whether approvers get direct messages.
    pub playbooks: Vec<(String, Option<String>, Option<bool>)>,
    /// The Web API's base URL, without a trailing `/`.
    pub api_url: String,
}

impl SlackConfig {
    /// Where playbook `id`'s approval requests go.
    pub fn targets(&self, playbook: &str) -> breakglass_core::chat::ChatTargets {
        let own = self.playbooks.iter().find(|(p, _, _)| p == playbook);
        breakglass_core::chat::ChatTargets {
            channel: own
                .and_then(|(_, c, _)| c.clone())
                .or_else(|| self.approvals_channel.clone()),
            direct_messages: own.and_then(|(_, _, d)| *d).unwrap_or(self.direct_messages),
        }
    }
}

/// Validated `[organization]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationConfig {
    /// The management account (or delegated administrator) that holds the SCP.
    pub management_account: AccountId,
    /// Roots, organizational units or accounts the SCP is attached to; empty means the
    /// organisation's root.
    pub targets: Vec<String>,
}

/// How people sign in besides the local accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// The OpenID Connect identity provider, if one is configured.
    pub oidc: Option<OidcConfig>,
    /// What local accounts may do.
    pub local: LocalAccounts,
    /// Passkeys, if configured.
    pub passkeys: Option<PasskeySettings>,
}

/// Validated `[auth.passkeys]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySettings {
    /// The console's origin (`scheme://host[:port]`).
    pub origin: String,
    /// The relying-party id, when not the origin's host.
    pub rp_id: Option<String>,
}

/// What local accounts (password and TOTP) may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LocalAccounts {
    /// Everything a user may do.
    #[default]
    All,
    /// Break-glass, its review and revocation only (needs an identity provider).
    BreakGlassOnly,
    /// Nothing (needs an identity provider).
    Off,
}

/// A validated OpenID Connect provider. The client secret is referenced by variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL, as the ID tokens' `iss` says it.
    pub issuer: String,
    /// The broker's client id.
    pub client_id: String,
    /// The variable holding the client secret.
    pub client_secret_env: String,
    /// The scopes asked for (`openid` among them).
    pub scopes: Vec<String>,
    /// The ID-token claim listing the person's groups, if the provider sends one.
    pub groups_claim: Option<String>,
    /// How an ID token names a responder.
    pub subject: OidcSubject,
    /// The redirect URI registered with the provider (`.../console/oidc/callback`).
    pub redirect_url: String,
}

/// The path of the console's OpenID Connect callback, the end of every redirect URI.
pub const OIDC_CALLBACK_PATH: &str = "/console/oidc/callback";

/// How an ID token names a responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcSubject {
    /// Its verified `email` claim equals the responder's `email`.
    Email,
    /// Its `sub` claim is the responder's username.
    Sub,
}

/// Validated notification settings. Secrets are referenced by environment variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationsConfig {
    /// The console's base URL.
    pub console_url: String,
    /// The variable holding the webhook signing key.
    pub webhook_secret_env: String,
    /// The variable holding the Slack webhook URL.
    pub slack_webhook_url_env: Option<String>,
    /// The variable holding the Teams (Workflows) webhook URL.
    pub teams_webhook_url_env: Option<String>,
    /// The SNS topic ARN.
    pub sns_topic_arn: Option<String>,
    /// The SMTP relay.
    pub smtp: Option<SmtpConfig>,
    /// Security-team addresses.
    pub security_team_emails: Vec<String>,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
}

/// A validated SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub security: SmtpSecurity,
    /// Sender address.
    pub from: String,
    /// User name.
    pub username: Option<String>,
    /// The variable holding the password.
    pub password_env: Option<String>,
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS.
    StartTls,
    /// TLS from the first byte.
    Tls,
    /// None (a relay on the same host).
    None,
}

/// A validated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The short name the config uses for it.
    pub name: String,
    /// The account id.
    pub id: AccountId,
    /// The regions; the first is the home region.
    pub regions: Vec<String>,
    /// The CloudTrail log group in the home region.
    pub cloudtrail_log_group: String,
}

impl AccountConfig {
    /// The home region (the first configured region).
    pub fn home_region(&self) -> &str {
        self.regions.first().map_or("us-east-1", String::as_str)
    }
}

/// The broker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// The broker's principal ARN.
    pub principal: String,
    /// The store URL (`sqlite://...` or `postgres://...`).
    pub store_url: String,
    /// The role the broker assumes in the other accounts to write revocation policies
    /// (under [`REVOKER_PATH`]).
    pub revoker_role: RoleName,
}

/// How `apply` reaches the accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// The role `apply` assumes in accounts other than the caller's.
    pub role: RoleName,
    /// The principals allowed to assume roles that trust `deployers`.
    pub principals: Vec<String>,
}

/// A validated responder: the domain's [`Responder`](breakglass_core::model::Responder), as the config declares it (one type, so
/// the catalog and the notifier see exactly what was validated).
pub use breakglass_core::model::Responder as ResponderConfig;

/// A validated role: the template merged with the overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// The IAM role name.
    pub name: RoleName,
    /// The template it started from, if any.
    pub template: Option<String>,
    /// Description.
    pub description: String,
    /// Managed policy ARNs.
    pub managed_policies: Vec<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// `MaxSessionDuration`.
    pub max_session_duration: Duration,
    /// Extra tags.
    pub tags: BTreeMap<String, String>,
    /// The accounts the role is deployed to.
    pub accounts: Vec<AccountId>,
    /// Who may assume it.
    pub trust: Vec<Trust>,
    /// Whether it is a break-glass role.
    pub break_glass: bool,
}

/// Where a playbook's session policy came from.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionPolicySource {
    /// A built-in template with its parameters.
    Template(SessionTemplate, SessionParams),
    /// The scoped builder.
    Scoped(ScopedSessionPolicy),
    /// A literal document.
    Document,
}

/// A validated playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaybookConfig {
    /// Its id.
    pub id: PlaybookId,
    /// One-line description.
    pub title: String,
    /// The roles it grants.
    pub roles: Vec<RoleName>,
    /// The accounts it may be used in.
    pub accounts: Vec<AccountId>,
    /// The rendered, size-checked session policy.
    pub session_policy: SessionPolicy,
    /// Where the session policy came from.
    pub session_policy_source: SessionPolicySource,
    /// The longest grant.
    pub max_duration: Duration,
    /// N of M approval.
    pub approval: Approval,
    /// Whether break-glass activation is allowed.
    pub break_glass: bool,
    /// Who may request it.
    pub eligible_groups: Vec<GroupName>,
    /// The second factor its step-ups need.
    pub step_up: breakglass_core::model::StepUpFactor,
    /// Whether the first mint of each grant needs a fresh step-up.
    pub mint_step_up: bool,
}

/// Validated alerting settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertingConfig {
    /// The break-glass role-name pattern (`*` wildcards).
    pub role_name_pattern: String,
    /// The SNS topic name.
    pub sns_topic: String,
    /// Webhook URLs for the broker's notifier.
    pub webhook_urls: Vec<String>,
    /// The CloudWatch namespace of break-glass metrics.
    pub metric_namespace: String,
    /// The scanner's built-in rules for this config, deployed as metric filters and alarms.
    pub alarm_rules: Vec<resources::AlarmRule>,
}

impl Config {
    /// The scanner's built-in rule parameters for this config (the same ones the deployed
    /// metric filters use), so `breakglass scan --config` reports what the alarms watch.
    pub fn scan_params(&self) -> breakglass_trail::rules::builtin::BuiltinParams {
        crate::templates::monitoring::builtin_params(
            &self.alerting.role_name_pattern,
            crate::templates::DEFAULT_PATH,
        )
    }

    /// Parses and validates the config `text`, read from `file` (used only in messages).
    pub fn load(text: &str, file: &str) -> Result<Self, ConfigErrors> {
        validate::load(text, file)
    }

    /// The JSON Schema of the config file, generated from the [`raw`] types.
    pub fn schema() -> Value {
        serde_json::to_value(schemars::schema_for!(raw::RawConfig)).unwrap_or(Value::Null)
    }

    /// The source text the config was loaded from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the value at `path` was written (or its closest enclosing table).
    pub fn locate(&self, path: &FieldPath) -> Option<Location> {
        spans::SpanIndex::new(&self.text).locate(path)
    }

    /// The account with this id.
    pub fn account(&self, id: &AccountId) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| &a.id == id)
    }

    /// The distinct members of `groups`.
    pub fn members(&self, groups: &[GroupName]) -> std::collections::BTreeSet<&Username> {
        self.responders
            .iter()
            .filter(|r| r.groups.iter().any(|g| groups.contains(g)))
            .map(|r| &r.username)
            .collect()
    }

    /// The role with this name.
    pub fn role(&self, name: &RoleName) -> Option<&RoleConfig> {
        self.roles.iter().find(|r| &r.name == name)
    }

    /// The ARN of role `name` in `account`.
    pub fn role_arn(&self, name: &RoleName, account: &AccountId) -> Option<RoleArn> {
        RoleArn::from_parts(&self.partition, account, &self.path, name).ok()
    }

    /// What the templates need to know about this installation.
    pub fn template_context(&self) -> templates::TemplateContext {
        templates::TemplateContext {
            partition: self.partition.clone(),
            path: self.path.clone(),
            sns_topic: self.alerting.sns_topic.clone(),
        }
    }

    /// The ARN of the revoker role in `account` (see [`templates::revoker`]).
    pub fn revoker_role_arn(&self, account: &AccountId) -> Option<RoleArn> {
        RoleArn::from_parts(
            &self.partition,
            account,
            REVOKER_PATH,
            &self.broker.revoker_role,
        )
        .ok()
    }

    /// The roles of `account` the revoker role may manage: every role the config deploys
    /// there that the broker or the break-glass users assume (the sessions a revocation
    /// cuts), never the deploy role.
    pub fn revocable_roles(&self, account: &AccountId) -> Vec<&RoleConfig> {
        self.roles
            .iter()
            .filter(|r| r.accounts.contains(account) && r.name != self.deploy.role)
            .filter(|r| {
                r.trust
                    .iter()
                    .any(|t| matches!(t, Trust::Broker | Trust::BreakGlassUsers))
            })
            .collect()
    }

    /// The revoker role's trust policy and inline policy over `roles` in `account` (an
    /// account id, or a placeholder such as `${AWS::AccountId}`); `None` without roles.
    pub fn revoker_policies(&self, account: &str, roles: &[&RoleConfig]) -> Option<(Value, Value)> {
        let arns: Vec<String> = roles
            .iter()
            .map(|r| {
                format!(
                    "arn:{}:iam::{account}:role{}{}",
                    self.partition, self.path, r.name
                )
            })
            .collect();
        let mut permissions = revoker::permissions_policy(&arns);
        if self
            .organization
            .as_ref()
            .is_some_and(|o| o.management_account.as_str() == account)
        {
            // In the management account the revoker also rewrites the revoked-responders SCP.
            let extra = templates::organization::revoker_statements(&self.partition, account);
            permissions = Some(match permissions {
                Some(mut p) => {
                    if let Some(statements) = p
                        .get_mut("Statement")
                        .and_then(serde_json::Value::as_array_mut)
                    {
                        statements.extend(extra);
                    }
                    p
                }
                None => serde_json::json!({ "Version": "2012-10-17", "Statement": extra }),
            });
        }
        let trust = revoker::trust_policy(&self.partition, &self.broker.principal);
        Some((trust, permissions?))
    }

    /// The ARN of a break-glass user (in the security account).
    pub fn user_arn(&self, user_name: &str) -> String {
        format!(
            "arn:{}:iam::{}:user{}{user_name}",
            self.partition, self.security_account, self.path
        )
    }

    /// The ARNs of the break-glass users (in the security account).
    pub fn break_glass_user_arns(&self) -> Vec<String> {
        self.responders
            .iter()
            .filter(|r| r.break_glass_user)
            .map(|r| self.user_arn(&break_glass_user_name(&r.username)))
            .collect()
    }

    /// The trust policy of `role`; `None` when it would name nobody (see
    /// [`trust_policy`](crate::templates::trust::trust_policy)).
    pub fn trust_policy(&self, role: &RoleConfig) -> Option<Value> {
        let users = self.break_glass_user_arns();
        let principals = TrustPrincipals {
            partition: &self.partition,
            broker: &self.broker.principal,
            security_account: &self.security_account,
            break_glass_users: &users,
            deployers: &self.deploy.principals,
        };
        trust_policy(&role.trust, &principals)
    }

    /// The inline policies every break-glass user gets: they may assume (with MFA) every
    /// deployed copy of every role that trusts break-glass users.
    pub fn break_glass_user_policies(&self) -> Vec<(String, Value)> {
        let assumable: Vec<String> = self
            .roles
            .iter()
            .filter(|r| r.trust.contains(&Trust::BreakGlassUsers))
            .flat_map(|r| {
                r.accounts
                    .iter()
                    .filter_map(|a| self.role_arn(&r.name, a))
                    .map(|arn| arn.to_string())
            })
            .collect();
        user_policies(&self.partition, &self.path, &assumable)
    }

    /// What the domain rules need: accounts, every deployed copy of every role, playbooks
    /// with their rendered session policies, and the people.
    pub fn catalog(&self) -> Catalog {
        let roles: Vec<DeployedRole> = self
            .roles
            .iter()
            .flat_map(|role| {
                role.accounts.iter().filter_map(move |account| {
                    Some(DeployedRole {
                        name: role.name.clone(),
                        arn: self.role_arn(&role.name, account)?,
                        account: account.clone(),
                        max_session: role.max_session_duration,
                        break_glass: role.break_glass,
                    })
                })
            })
            .collect();
        let accounts = self
            .accounts
            .iter()
            .filter(|a| a.id != self.security_account || roles.iter().any(|r| r.account == a.id))
            .map(|a| Account {
                id: a.id.clone(),
                name: a.name.clone(),
                regions: a.regions.clone(),
            })
            .collect();
        let playbooks = self
            .playbooks
            .iter()
            .map(|p| Playbook {
                id: p.id.clone(),
                title: p.title.clone(),
                roles: p.roles.clone(),
                accounts: p.accounts.clone(),
                session_policy: p.session_policy.as_str().to_owned(),
                max_duration: p.max_duration,
                approval: p.approval.clone(),
                break_glass: p.break_glass,
                eligible_groups: p.eligible_groups.clone(),
                step_up: p.step_up,
                mint_step_up: p.mint_step_up,
            })
            .collect();
        let responders = self.responders.clone();
        Catalog {
            security_account: Some(self.security_account.clone()),
            accounts,
            roles,
            playbooks,
            responders,
        }
    }
}

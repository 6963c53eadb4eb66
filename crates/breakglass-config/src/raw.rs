//! The config file exactly as written: serde structs with `deny_unknown_fields`, a doc comment
//! on every field (the JSON Schema's descriptions come from them), and no validation beyond
//! types. `validate` turns this into the typed [`super::Config`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// The breakglass configuration file (`breakglass.toml`): the accounts, people, roles and
/// playbooks breakglass provisions and brokers access to.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "breakglass configuration")]
pub struct RawConfig {
    /// The version of this file's format. The only version so far is `1`.
    pub version: u32,
    /// The AWS partition of every account: `aws` (the default), `aws-cn` or `aws-us-gov`.
    #[serde(default)]
    pub partition: Option<String>,
    /// The name (a key of `accounts`) of the account that holds the broker and the
    /// break-glass IAM users. It is monitored like every account; roles are deployed to it
    /// only when a role lists it in its `accounts`.
    pub security_account: String,
    /// Every account breakglass manages, keyed by a short name such as `production`.
    pub accounts: BTreeMap<String, RawAccount>,
    /// How the broker itself runs.
    pub broker: RawBroker,
    /// How `breakglass apply` reaches the accounts.
    #[serde(default)]
    pub deploy: RawDeploy,
    /// The people who request, approve and review access, keyed by their broker username
    /// (which becomes the STS `SourceIdentity` of their sessions).
    #[serde(default)]
    pub responders: BTreeMap<String, RawResponder>,
    /// The incident-response roles, keyed by IAM role name.
    #[serde(default)]
    pub roles: BTreeMap<String, RawRole>,
    /// The playbooks, keyed by id (lowercase letters, digits, `-`, `_`).
    #[serde(default)]
    pub playbooks: BTreeMap<String, RawPlaybook>,
    /// Where break-glass alerts go and what they watch.
    pub alerting: RawAlerting,
    /// How the broker tells people about requests, decisions, break-glass use and
    /// revocations. Without it, notifications wait in the outbox.
    #[serde(default)]
    pub notifications: Option<RawNotifications>,
    /// How people sign in to the broker besides its local accounts.
    #[serde(default)]
    pub auth: RawAuth,
    /// The AWS Organizations management account, when breakglass keeps the organisation's
    /// revoked-responders Service Control Policy (`BreakglassRevokedResponders`): it denies
    /// every action, in every member account, to any session whose `aws:SourceIdentity` is a
    /// revoked responder, chained role sessions included. `plan` renders the policy whether
    /// or not this is set; with it, `apply` creates and attaches it and the broker rewrites
    /// it at every revocation.
    #[serde(default)]
    pub organization: Option<RawOrganization>,
    /// The Slack app: approval messages with Approve and Deny buttons (the approver's
    /// broker TOTP code asked in a modal), `/breakglass request`, `status` and `link`, and
    /// break-glass alerts to the security channel. Needs `[notifications]` (its links go
    /// to the console).
    #[serde(default)]
    pub slack: Option<RawSlack>,
    /// Drills: `serve` walks every playbook's path end to end on a schedule, as a drill
    /// identity under a session policy that allows only harmless reads, and alerts the
    /// security team when a drill fails. `breakglass drill` runs the same on demand.
    #[serde(default)]
    pub drills: Option<RawDrills>,
    /// What responders did with their grants: the organisation trail's bucket (in the
    /// log-archive account), and optionally an SQS queue the break-glass EventBridge rules
    /// feed and a CloudWatch Logs group, read by `serve` and `breakglass scan s3://…` through
    /// a read-only role `apply` creates in that account.
    #[serde(default)]
    pub activity: Option<RawActivity>,
}

/// `[activity]`: where CloudTrail is, and how the broker reads it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawActivity {
    /// The organisation trail's S3 bucket, in `account`.
    pub bucket: String,
    /// The name (a key of `accounts`) of the log-archive account that holds the bucket.
    pub account: String,
    /// The key prefix before `AWSLogs/` (the trail's `S3KeyPrefix`), without a leading or
    /// trailing `/`. Empty (the default) when objects start with `AWSLogs/`.
    #[serde(default)]
    pub prefix: String,
    /// The role `apply` creates in `account` under the path `/breakglass/`, trusted by
    /// `broker.principal` only and allowed only to read: `s3:ListBucket` and `s3:GetObject`
    /// on the bucket's `AWSLogs/` objects, the queue's receive/delete calls when there is a
    /// queue, and `logs:FilterLogEvents`/`GetLogEvents` on the log group when there is one.
    /// `kms:Decrypt` is not granted. Defaults to `BreakglassTrailReader`.
    #[serde(default)]
    pub reader_role: Option<String>,
    /// An SQS queue, for near real time: `apply` creates it in `account`'s home region, and
    /// the break-glass EventBridge rules get it as a target (its policy lets only those rules
    /// send to it).
    #[serde(default)]
    pub queue: Option<String>,
    /// A CloudWatch Logs group in `account`'s home region that receives the trail.
    #[serde(default)]
    pub log_group: Option<String>,
    /// How long grant timelines and findings are kept (default `90d`; at least `1d`).
    #[serde(default)]
    pub retention: Option<String>,
    /// How often `serve` lists the bucket for new objects (default `1m`; `10s` to `1h`).
    #[serde(default)]
    pub every: Option<String>,
}

/// When and what `serve` drills.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDrills {
    /// How often `serve` runs a drill (e.g. `24h`, `168h`); omitted, drills run only from
    /// the command line. One replica runs each (a lease in the store).
    #[serde(default)]
    pub every: Option<String>,
    /// The playbooks to drill (every playbook when omitted).
    #[serde(default)]
    pub playbooks: Vec<String>,
    /// How long a drill waits for its alert to reach every channel of the security team
    /// before it reports the channels that did not take it (default `2m`).
    #[serde(default)]
    pub alert_timeout: Option<String>,
    /// The oldest a break-glass IAM user's console password may be before the preflight
    /// checks report it (default `2160h`, 90 days).
    #[serde(default)]
    pub password_max_age: Option<String>,
}

/// The Slack app. Its secrets (the bot token, the signing secret) are never written here:
/// fields ending in `_env` name the environment variables that hold them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    /// The workspace (team id, `T…`) the app is installed in; a request signed for another
    /// workspace is refused.
    pub team_id: String,
    /// The variable holding the app's bot token (`xoxb-…`).
    #[serde(default = "default_slack_bot_token_env")]
    pub bot_token_env: String,
    /// The variable holding the app's signing secret (Basic Information → App Credentials).
    #[serde(default = "default_slack_signing_secret_env")]
    pub signing_secret_env: String,
    /// The channel id (`C…`) approval requests are posted to, unless a playbook says
    /// otherwise.
    #[serde(default)]
    pub approvals_channel: Option<String>,
    /// The channel id break-glass activations and critical alerts are posted to.
    pub security_channel: String,
    /// Whether each eligible approver with a linked Slack account also gets a direct
    /// message, unless a playbook says otherwise.
    #[serde(default)]
    pub direct_messages: bool,
    /// Per playbook (by id): where its approval requests go.
    #[serde(default)]
    pub playbooks: BTreeMap<String, RawSlackPlaybook>,
    /// The Slack Web API's base URL (`https://slack.com/api`; tests point it at a local
    /// receiver on 127.0.0.1).
    #[serde(default = "default_slack_api_url")]
    pub api_url: String,
}

/// Where one playbook's approval requests go in Slack.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlackPlaybook {
    /// The channel id (`C…`), instead of `approvals_channel`.
    #[serde(default)]
    pub channel: Option<String>,
    /// Whether eligible approvers get direct messages, instead of `direct_messages`.
    #[serde(default)]
    pub direct_messages: Option<bool>,
}

fn default_slack_bot_token_env() -> String {
    "BREAKGLASS_SLACK_BOT_TOKEN".to_owned()
}

fn default_slack_signing_secret_env() -> String {
    "BREAKGLASS_SLACK_SIGNING_SECRET".to_owned()
}

fn default_slack_api_url() -> String {
    "https://slack.com/api".to_owned()
}

/// The organisation's management account and where the revoked-responders SCP is attached.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrganization {
    /// The management account's 12-digit id (or a delegated administrator for
    /// Organizations policies). `apply` reaches it like any other account (the caller's own
    /// credentials, else the deploy role); the broker through its revoker role there.
    pub management_account: String,
    /// Where to attach the policy: the root (`r-…`), organizational units (`ou-…`) or
    /// accounts (12 digits). Defaults to the organisation's root.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// How people sign in to the broker. Local accounts (password and TOTP) always exist: they are
/// the way in when the identity provider is down.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Sign-in through the organisation's OpenID Connect identity provider (Okta, Microsoft
    /// Entra ID, Google, Keycloak, ...): the console's "Sign in with SSO" and
    /// `breakglass login --sso`.
    #[serde(default)]
    pub oidc: Option<RawOidc>,
    /// What local accounts (password and TOTP) may do: `all` (the default), or, with an
    /// identity provider configured, `break-glass-only` (a local sign-in may only take
    /// break-glass, review a use and revoke: the path for when the identity provider is down
    /// or compromised) or `off`. With an identity provider configured, every local sign-in
    /// alerts the security team.
    #[serde(default)]
    pub local: Option<RawLocalAccounts>,
    /// Passkeys (WebAuthn) as a second factor beside TOTP: the console's URL the browser
    /// sees, which every passkey is bound to.
    #[serde(default)]
    pub passkeys: Option<RawPasskeys>,
}

/// `[auth.passkeys]`: where the console is, for WebAuthn.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPasskeys {
    /// The console's origin as the browser sees it, e.g. `https://breakglass.example.com`
    /// (`http://` only for `localhost`). A passkey answers only a page of this origin.
    pub origin: String,
    /// The relying-party id passkeys are registered under: the origin's host (the default)
    /// or a parent domain of it. Changing it later orphans every enrolled passkey.
    #[serde(default)]
    pub rp_id: Option<String>,
}

/// What local accounts may do (see [`RawAuth::local`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawLocalAccounts {
    /// Everything a user may do.
    All,
    /// Break-glass, its review and revocation only.
    BreakGlassOnly,
    /// Nothing: every sign-in goes through the identity provider.
    Off,
}

/// An OpenID Connect identity provider the broker is registered with as a confidential
/// client. The client secret is never written here: `client_secret_env` names the
/// environment variable that holds it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    /// The issuer URL, exactly as the provider's ID tokens carry it in `iss` (its discovery
    /// document is read from `ISSUER/.well-known/openid-configuration`). `https://` only
    /// (`http://` for 127.0.0.1 or localhost).
    pub issuer: String,
    /// The client id the provider gave the broker.
    pub client_id: String,
    /// The environment variable holding the client secret.
    #[serde(default = "default_client_secret_env")]
    pub client_secret_env: String,
    /// The scopes asked for; must include `openid`. Defaults to `openid`, `email`, `profile`.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim that lists the person's groups (often `groups`). When set, a
    /// sign-in is refused unless that list includes at least one of the groups the responder
    /// has in this file; the file's groups stay the ones the broker uses.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// How an ID token names a responder: `email` (the default: its `email` claim equals the
    /// responder's `email` here, compared without case; a token whose `email_verified` is
    /// false is refused) or `sub` (its `sub` claim is the responder's username).
    #[serde(default = "default_oidc_subject")]
    pub subject: String,
    /// The redirect URI registered with the provider: the broker's
    /// `https://HOST/console/oidc/callback`. Defaults to that path under
    /// `notifications.console_url`.
    #[serde(default)]
    pub redirect_url: Option<String>,
}

fn default_client_secret_env() -> String {
    "BREAKGLASS_OIDC_CLIENT_SECRET".to_owned()
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}

fn default_oidc_subject() -> String {
    "email".to_owned()
}

/// The broker's notification channels. Secrets (the webhook signing key, the Slack and
/// Teams webhook URLs, the SMTP password) are never written here: fields ending in `_env`
/// name the environment variable that holds them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// The console's public base URL, linked from every message (`https://...`; `http://`
    /// only for 127.0.0.1 or localhost).
    pub console_url: String,
    /// The variable holding the HMAC-SHA256 key `alerting.webhook_urls` bodies are signed
    /// with (header `Breakglass-Signature: t=<unix seconds>,v1=<hex>` over `t.body`).
    #[serde(default = "default_webhook_secret_env")]
    pub webhook_secret_env: String,
    /// The variable holding a Slack-compatible incoming-webhook URL.
    #[serde(default)]
    pub slack_webhook_url_env: Option<String>,
    /// The variable holding a Microsoft Teams incoming-webhook URL: the URL of a Teams
    /// Workflows flow "Post to a channel when a webhook request is received". Every
    /// notification is posted to it as an Adaptive Card (version 1.5) with a button to the
    /// console page of its request. The URL carries its own signature, so it is a secret.
    #[serde(default)]
    pub teams_webhook_url_env: Option<String>,
    /// The ARN of an SNS topic every notification is published to.
    #[serde(default)]
    pub sns_topic_arn: Option<String>,
    /// Email through an SMTP relay.
    #[serde(default)]
    pub smtp: Option<RawSmtp>,
    /// Where security-team notifications (break-glass use, revocations, dead letters) are
    /// emailed; responders get theirs at their own `email`.
    #[serde(default)]
    pub security_team_emails: Vec<String>,
    /// Delivery attempts per channel before a notification is dead-lettered and alerted.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_webhook_secret_env() -> String {
    "BREAKGLASS_WEBHOOK_SECRET".to_owned()
}

fn default_max_attempts() -> u32 {
    10
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    /// The relay's host name.
    pub host: String,
    /// Its port (587 for STARTTLS, 465 for TLS).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (the default), `tls`, or `none` (only for a relay on 127.0.0.1).
    #[serde(default = "default_smtp_security")]
    pub security: String,
    /// The sender address.
    pub from: String,
    /// The user name, if the relay wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// The variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_security() -> String {
    "starttls".to_owned()
}

/// An AWS account.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    /// The 12-digit account id.
    pub id: String,
    /// The regions in use. The first is the home region: it holds the CloudTrail log group,
    /// the metric filters and the alarms. Every region gets an SNS topic and the EventBridge
    /// rules that catch break-glass use.
    pub regions: Vec<String>,
    /// The CloudWatch Logs group CloudTrail delivers this account's events to, in the home
    /// region. Defaults to `alerting.cloudtrail_log_group`.
    #[serde(default)]
    pub cloudtrail_log_group: Option<String>,
}

/// The broker's own identity and state.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    /// The IAM role (or user) ARN the broker runs as, in the security account. Role trust
    /// policies allow it to assume roles with `sts:SetSourceIdentity` and `sts:TagSession`,
    /// and require a SourceIdentity; the revoker role trusts it alone.
    pub principal: String,
    /// Where the broker keeps its state: `sqlite://PATH` or `postgres://...`.
    #[serde(default = "default_store_url")]
    pub store_url: String,
    /// The role the broker assumes in every other account to read the roles it brokers
    /// there and write their revocation policies (`BreakglassRevocations`,
    /// `AWSRevokeOlderSessions`). `breakglass apply` creates it under the `/breakglass/` path
    /// in every account except the security account (where the broker uses its own
    /// credentials), trusting only `principal`. Defaults to `BreakglassRevoker`.
    #[serde(default)]
    pub revoker_role: Option<String>,
}

fn default_store_url() -> String {
    "sqlite://breakglass.sqlite".to_owned()
}

/// How `breakglass apply` reaches the accounts.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// The role `apply` assumes in every account other than the caller's. Defaults to
    /// `SecurityDeploy`, under the role path.
    #[serde(default)]
    pub role: Option<String>,
    /// The principals (role or user ARNs) allowed to assume the deploy role: the pipeline or
    /// people that run `breakglass apply`. Roles whose `trust` includes `deployers` trust them.
    #[serde(default)]
    pub principals: Vec<String>,
}

/// A person.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResponder {
    /// The person's full name.
    pub name: String,
    /// Where notifications for this person go.
    pub email: String,
    /// Who to call when this person cannot be reached (free text: a name, a phone number).
    #[serde(default)]
    pub emergency_contact: Option<String>,
    /// The groups the person belongs to (lowercase letters, digits, `-`, `_`); playbooks name
    /// groups as eligible requesters and as approvers.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether the person gets a dedicated `<username>-BREAK-GLASS` IAM user in the security
    /// account: console-only, MFA required, for when the broker or the identity provider is
    /// down.
    #[serde(default)]
    pub break_glass_user: bool,
}

/// Who a role's trust policy lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawTrust {
    /// The broker's principal, with `sts:SetSourceIdentity` and `sts:TagSession`, and only
    /// when a SourceIdentity is set.
    Broker,
    /// The break-glass IAM users of the security account, by `aws:PrincipalArn`, with MFA
    /// present and less than an hour old.
    BreakGlassUsers,
    /// The `deploy.principals`.
    Deployers,
}

/// An incident-response role: a built-in template plus overrides.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    /// The built-in template the role starts from: a course role (`SecurityAnalyst`,
    /// `SecurityDeploy`, `SecurityAdmin`, `SecurityBreakGlass`) or a role type
    /// (`security_investigator`, `incident_responder`, `forensics_analyst`,
    /// `break_glass_admin`). Without a template every policy comes from this table.
    #[serde(default)]
    pub template: Option<String>,
    /// The role's description (defaults to the template's).
    #[serde(default)]
    pub description: Option<String>,
    /// AWS or customer managed policy ARNs to attach. Replaces the template's list.
    #[serde(default)]
    pub managed_policies: Option<Vec<String>>,
    /// Inline policies by name, each an IAM policy document as JSON text. A name the template
    /// also defines replaces the template's policy; other names are added.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// The permissions boundary's policy ARN, or `"none"` for no boundary (defaults to the
    /// template's).
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// The role's `MaxSessionDuration`, `1h` to `12h` (defaults to the template's).
    #[serde(default)]
    pub max_session_duration: Option<String>,
    /// Extra tags on the role.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The names of the accounts the role is deployed to. Defaults to every account except
    /// the security account.
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// Who may assume the role (defaults to the template's): `broker`, `break-glass-users`,
    /// `deployers`.
    #[serde(default)]
    pub trust: Option<Vec<RawTrust>>,
    /// Whether this is a break-glass role: every use alarms, and grants of it need a
    /// post-incident review (defaults to the template's).
    #[serde(default)]
    pub break_glass: Option<bool>,
}

/// A playbook: which roles a responder may get, scoped how, for how long, approved by whom.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    /// A one-line description shown to requesters and approvers.
    pub title: String,
    /// The roles (keys of `roles`) the playbook grants.
    pub roles: Vec<String>,
    /// The names of the accounts it may be used in. Defaults to every account its roles are
    /// deployed to.
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// The session policy that scopes every session of the playbook.
    pub session_policy: RawSessionPolicy,
    /// The longest grant the playbook allows, at most `12h`.
    pub max_duration: String,
    /// Who must approve a request.
    pub approval: RawApproval,
    /// Whether eligible responders may activate it as break-glass: issued at once with MFA
    /// step-up, loud alerts, mandatory review.
    #[serde(default)]
    pub break_glass: bool,
    /// The groups whose members may request the playbook.
    pub eligible_groups: Vec<String>,
    /// The second factor its approvals, its break-glass activation and its first-mint
    /// step-ups need: `any` (a TOTP code or a passkey, the default) or `passkey`.
    #[serde(default)]
    pub step_up: breakglass_core::model::StepUpFactor,
    /// Whether the first credentials or console URL of each grant need a fresh step-up
    /// (defaults to `break_glass`).
    #[serde(default)]
    pub mint_step_up: Option<bool>,
}

/// A session policy: a built-in template with parameters, a scoped policy built from
/// actions, resources and conditions, or a literal document. Exactly one of `template`,
/// `actions` and `document`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSessionPolicy {
    /// A built-in session policy: `read_only_investigation`, `containment_actions`,
    /// `forensics_collection` or `emergency_admin`.
    #[serde(default)]
    pub template: Option<String>,
    /// For `containment_actions`: the regions the actions are allowed in (defaults to every
    /// region of the playbook's accounts).
    #[serde(default)]
    pub regions: Option<Vec<String>>,
    /// For `forensics_collection`: the evidence bucket names (wildcards allowed) objects may
    /// be read from and written to (defaults to `forensic-evidence-*`).
    #[serde(default)]
    pub evidence_buckets: Option<Vec<String>>,
    /// For `containment_actions` and `emergency_admin`: the ARNs of the managed policies a
    /// session may attach to a principal to quarantine it (defaults to AWS's `AWSDenyAll`);
    /// attaching any other policy is refused.
    #[serde(default)]
    pub quarantine_policies: Option<Vec<String>>,
    /// For `emergency_admin`: the role ARNs a session may pass to a service (defaults to
    /// none: passing a role is refused).
    #[serde(default)]
    pub pass_roles: Option<Vec<String>>,
    /// For a scoped policy: the actions to allow.
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    /// For a scoped policy: the resources the actions are allowed on (defaults to `*`).
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// For a scoped policy: an IAM `Condition` block as JSON text, e.g.
    /// `{"StringEquals": {"aws:RequestedRegion": "us-east-1"}}`.
    #[serde(default)]
    pub conditions: Option<String>,
    /// A complete session policy document as JSON text.
    #[serde(default)]
    pub document: Option<String>,
}

/// N of M approval.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApproval {
    /// N: how many distinct approvers must approve (0: none). The requester never counts.
    pub required: u32,
    /// The groups whose members may approve; M is their distinct membership.
    #[serde(default)]
    pub from_groups: Vec<String>,
}

/// Alerting on break-glass use.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlerting {
    /// The role-name pattern that identifies break-glass roles in CloudTrail, e.g.
    /// `*BreakGlass*`: a `*` at the start and/or end matches any run of characters (the
    /// CloudWatch Logs wildcard rule); matching is case-sensitive. Every role with
    /// `break_glass = true` must match it.
    pub role_name_pattern: String,
    /// The name of the SNS topic alarms and EventBridge rules publish to, created in every
    /// region of every account.
    #[serde(default = "default_topic")]
    pub sns_topic: String,
    /// HTTPS webhooks the broker posts every alert to (HMAC-signed).
    #[serde(default)]
    pub webhook_urls: Vec<String>,
    /// The CloudWatch Logs group CloudTrail delivers to, in each account's home region.
    pub cloudtrail_log_group: String,
    /// The CloudWatch namespace of the break-glass metrics.
    #[serde(default = "default_namespace")]
    pub metric_namespace: String,
}

fn default_topic() -> String {
    "breakglass-alerts".to_owned()
}

fn default_namespace() -> String {
    "Breakglass".to_owned()
}

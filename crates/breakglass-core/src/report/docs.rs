//! The incident-response access documentation, as data: the roles and what they allow,
//! the playbooks, who may request and approve them, the step-up rules, the break-glass
//! procedure (the broker's path and the IAM-user path for when the broker or the identity
//! provider is down) and the monitoring in place per account and region.
//!
//! `breakglass-config` fills it from the config (this crate never sees the config); the
//! renderers read it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::RoleAllowance;

/// The incident-response access documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IrDocumentation {
    /// The config file it was generated from.
    pub config_file: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub generated_at: OffsetDateTime,
    /// The account holding the broker and the break-glass users.
    pub security_account: String,
    /// The console's address, when notifications are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    pub roles: Vec<RoleDoc>,
    pub playbooks: Vec<PlaybookDoc>,
    /// The break-glass procedure through the broker, step by step.
    pub break_glass_procedure: Vec<String>,
    /// The path through a break-glass IAM user when the broker or the identity provider is
    /// down, step by step.
    pub iam_user_procedure: Vec<String>,
    /// The break-glass IAM users.
    pub break_glass_users: Vec<BreakGlassUserDoc>,
    /// Monitoring per account and region.
    pub monitoring: Vec<AccountMonitoring>,
}

/// A role as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleDoc {
    pub name: String,
    pub description: String,
    /// The accounts it is deployed to (`name (id)`).
    pub accounts: Vec<String>,
    pub managed_policies: Vec<String>,
    pub inline_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    pub max_session_seconds: i64,
    pub break_glass: bool,
}

/// A playbook as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlaybookDoc {
    pub id: String,
    pub title: String,
    pub roles: Vec<String>,
    /// The accounts it may be used in (empty: every account its roles are in).
    pub accounts: Vec<String>,
    pub max_duration_seconds: i64,
    /// Who may request it (groups and their members).
    pub eligible_groups: Vec<String>,
    pub requesters: Vec<String>,
    pub approvals_required: u32,
    pub approver_groups: Vec<String>,
    pub approvers: Vec<String>,
    pub break_glass: bool,
    /// The step-up rule, in words.
    pub step_up: String,
    /// Where its session policy comes from (a template's name, the scoped builder, a
    /// document).
    pub session_policy_source: String,
    /// What it really allows through each role (`None`: not computed).
    #[serde(default)]
    pub allows: Option<Vec<RoleAllowance>>,
}

/// A break-glass IAM user as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakGlassUserDoc {
    pub responder: String,
    pub user: String,
    pub account: String,
    /// Where the user signs in.
    pub sign_in_url: String,
    /// The Secrets Manager secret holding its initial password.
    pub password_secret: String,
    /// The roles it may assume (with MFA).
    pub may_assume: Vec<String>,
}

/// Monitoring in one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountMonitoring {
    pub account: String,
    pub account_id: String,
    pub region: String,
    /// CloudWatch alarms (on metric filters over the CloudTrail log group).
    pub alarms: Vec<String>,
    /// EventBridge rules.
    pub event_rules: Vec<String>,
    /// The SNS topic alarms and rules notify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

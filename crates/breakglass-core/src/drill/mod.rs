//! Drills: proving before an incident that every access path works.
//!
//! A drill is a list of [`Step`]s, each passed or failed with the [`Finding`]s that say
//! exactly what is wrong and where ("trust policy of SecurityAnalyst in 222222222222 does
//! not allow sts:SetSourceIdentity"). Preflight checks read the accounts and need no grant;
//! the end-to-end path walks a real request through the broker. This module holds the
//! vocabulary both share; who runs the steps lives above it.

mod path;

pub use path::{DrillPath, DrillRun, DrillTarget, Trigger, proves_cut_off};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{RoleArn, Username};
use crate::rules::{Action, Decision, PolicyRef};

/// Every drill identity's name starts with this; no responder or broker user may take such a
/// name (the config and the account store refuse it), so a person can never act as one.
pub const IDENTITY_PREFIX: &str = "breakglass-drill";

/// The id of the [`Decision`] recorded for a drill identity's action on its drill request.
pub const DRILL_POLICY: &str = "breakglass-drill";

/// The drill's requester, also the `SourceIdentity` of its sessions (so CloudTrail shows a
/// drill as a drill).
pub fn requester() -> Username {
    Username::from_trusted(IDENTITY_PREFIX.to_owned())
}

/// The `n`th drill approver (from 1).
pub fn approver(n: u32) -> Username {
    Username::from_trusted(format!("{IDENTITY_PREFIX}-approver-{n}"))
}

/// Whether `name` is reserved for drills.
pub fn is_drill_identity(name: &str) -> bool {
    name.get(..IDENTITY_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(IDENTITY_PREFIX))
}

/// The rule for drill requests, whatever the Cedar policies say (a drill identity is no
/// responder, so the policies know nothing of it): the drill requester may activate and
/// revoke its own drill request, a drill approver may approve or deny it, and nothing else.
/// A drill identity acting on a real request, or a person acting on a drill request, is
/// refused: drill approvals can satisfy only a drill request.
pub fn decision(
    is_drill_request: bool,
    requester: &Username,
    principal: &Username,
    action: Action,
) -> Option<Decision> {
    let drill_principal = is_drill_identity(principal.as_str());
    if !is_drill_request && !drill_principal {
        return None;
    }
    let allowed = is_drill_request
        && drill_principal
        && match action {
            Action::Request | Action::Revoke => principal == requester,
            Action::Approve => principal != requester,
            _ => false,
        };
    Some(drill_decision(allowed))
}

/// The decision the drill rule records.
pub(crate) fn drill_decision(allowed: bool) -> Decision {
    Decision {
        allowed,
        policies: vec![PolicyRef {
            id: DRILL_POLICY.to_owned(),
            description: Some(if allowed {
                "a drill identity acting on its own drill request".to_owned()
            } else {
                "drill identities act only on drill requests, and only they do".to_owned()
            }),
        }],
        errors: Vec::new(),
    }
}

/// The session policy of every drill session on `role`: only harmless reads, whatever the
/// role allows (the effective permissions are the intersection): who am I, and reading the
/// role itself.
pub fn session_policy(role: &RoleArn) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DrillWhoAmI", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
            {"Sid": "DrillReadRole", "Effect": "Allow", "Action": "iam:GetRole", "Resource": role.as_str()}
        ]
    })
    .to_string()
}

/// One thing found wrong, located as precisely as the check can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// A stable code for the check that failed (`role_trust_source_identity`, `alarm_missing`, ...).
    pub check: String,
    /// The account id, when the finding is in one account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region, when the finding is in one region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The resource: a role name, an alarm name, a user name, a channel.
    pub resource: String,
    /// What is wrong, in a sentence that names the account, region and resource, and what to
    /// do about it where that is not obvious.
    pub message: String,
}

impl Finding {
    /// A finding of `check` about `resource`.
    pub fn new(check: &str, resource: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            account: None,
            region: None,
            resource: resource.into(),
            message: message.into(),
        }
    }

    /// The same finding, located in `account`.
    pub fn in_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// The same finding, located in `region`.
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the step checks held.
    Passed,
    /// Something did not: see the step's findings.
    Failed,
    /// The step could not run (an earlier step failed, or nothing is configured for it).
    Skipped,
}

/// One step of a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// What the step does, e.g. `preflight: roles`, `assume role`, `revoke`.
    pub name: String,
    /// The playbook it exercises, for end-to-end steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    /// The account id it ran against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region it ran against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role it exercised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it did not pass (empty when it passed).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub started_at: OffsetDateTime,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

impl Step {
    /// A step named `name` that started at `started_at` and ended with `findings` (passed
    /// when there are none).
    pub fn checked(
        name: impl Into<String>,
        started_at: OffsetDateTime,
        millis: u64,
        findings: Vec<Finding>,
    ) -> Self {
        Self {
            name: name.into(),
            playbook: None,
            account: None,
            region: None,
            role: None,
            outcome: if findings.is_empty() {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            findings,
            started_at,
            millis,
        }
    }
}

/// What IAM says of one break-glass IAM user (the path used when the broker or the identity
/// provider is down), as read by the AWS adapter for the preflight checks and the access
/// review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IamUserFacts {
    /// The IAM user name (`ALICE-BREAK-GLASS`).
    pub user: String,
    /// The responder it belongs to.
    pub responder: String,
    /// The account it lives in.
    pub account: String,
    /// Whether the user exists.
    pub exists: bool,
    /// Serial numbers of its MFA devices.
    #[serde(default)]
    pub mfa_devices: Vec<String>,
    /// Ids of its access keys (a break-glass user should have none).
    #[serde(default)]
    pub access_keys: Vec<String>,
    /// Whether it may sign in to the console (has a login profile).
    pub login_profile: bool,
    /// When its console password was set (the login profile's creation), if it has one.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub password_set_at: Option<OffsetDateTime>,
    /// When it last signed in with its password, if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub password_last_used: Option<OffsetDateTime>,
    /// Whether its password secret exists in Secrets Manager.
    pub password_secret: bool,
}

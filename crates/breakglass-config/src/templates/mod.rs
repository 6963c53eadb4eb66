//! The built-in templates: roles, session policies, trust policies, break-glass user policies,
//! the guardrails every brokered role carries, the broker's revoker role, the trail reader
//! role and the activity queue's policy (`activity`), and monitoring
//! patterns.
//!
//! They come from the SEC10-BP05 seed documents (the action lists are the seeds', verbatim)
//! with the seeds' mistakes fixed where the fix is a matter of fact (trust policies name
//! principals by `aws:PrincipalArn`, not by `aws:userid`). Every deviation from a seed is
//! written down next to the template it concerns.
//!
//! This is the lower layer of the crate: the loader, `resources`, `render` and `lint` build on
//! the templates, and the templates use nothing of theirs (the ownership mark the
//! guardrails protect, [`MANAGED_BY_TAG`], is defined here for that reason).

pub mod activity;
pub mod exceptions;
pub mod guardrails;
pub mod monitoring;
pub mod organization;
pub mod revoker;
pub mod roles;
pub mod session_policy;
pub mod trust;
pub mod users;

/// What every template needs to know about the installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContext {
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// The IAM path of the incident-response roles and break-glass users (`/incident-response/`).
    pub path: String,
    /// The SNS topic alerts publish to.
    pub sns_topic: String,
}

impl TemplateContext {
    /// The ARN of an AWS managed policy in this partition.
    pub fn aws_managed(&self, name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{name}", self.partition)
    }
}

/// The tag key marking a resource as created and owned by breakglass: `apply` changes or
/// deletes only what carries it, and the guardrails deny every brokered session changing a
/// `breakglass:` tag.
pub const MANAGED_BY_TAG: &str = "breakglass:managed-by";
/// The value of [`MANAGED_BY_TAG`].
pub const MANAGED_BY_VALUE: &str = "breakglass";

/// The prefix of every monitoring resource breakglass creates (metric filters, alarms,
/// EventBridge rules). Metric filters cannot be tagged, so for them the prefix is the
/// ownership mark.
pub const RESOURCE_PREFIX: &str = "breakglass-";

/// The prefix of the Secrets Manager secrets holding break-glass users' temporary passwords.
pub const SECRET_PREFIX: &str = "breakglass/break-glass-password/";

/// The suffix of break-glass IAM user names (`alice-BREAK-GLASS`).
pub const BREAK_GLASS_USER_SUFFIX: &str = "-BREAK-GLASS";

/// The default IAM path of incident-response roles and break-glass users.
pub const DEFAULT_PATH: &str = "/incident-response/";

//! What a playbook really allows: the policy engine's sweep of the action catalog over a
//! role's policies, its boundary and the playbook's session policy (`breakglass-iam`'s
//! `PolicySet::sweep`), summarised for a reviewer as counts per service and access level,
//! plus every permissions-management or otherwise high-risk action it lets through.

use breakglass_iam::catalog::{Access, AccessLevel};
use breakglass_iam::sweep::Sweep;
use serde::{Deserialize, Serialize};

/// Actions that are high-risk whatever their access level says: reading secrets and keys,
/// handing roles to services, opening resources to others, switching detection off.
const HIGH_RISK: &[(&str, &str)] = &[
    (
        "iam:passrole",
        "hands a role to a service, which then acts with its permissions",
    ),
    ("sts:assumerole", "chains into another role"),
    ("kms:decrypt", "decrypts data under any key it reaches"),
    ("kms:creategrant", "lets another principal use a key"),
    ("secretsmanager:getsecretvalue", "reads secrets"),
    (
        "ssm:getparameter",
        "reads parameters, SecureString ones included",
    ),
    (
        "ssm:getparameters",
        "reads parameters, SecureString ones included",
    ),
    ("ssm:sendcommand", "runs commands on instances"),
    (
        "ec2:getpassworddata",
        "reads Windows administrator passwords",
    ),
    ("s3:getobject", "reads stored objects"),
    (
        "lambda:updatefunctioncode",
        "runs its own code under a function's role",
    ),
    ("cloudtrail:stoplogging", "switches audit logging off"),
    ("cloudtrail:deletetrail", "deletes audit logging"),
    ("guardduty:deletedetector", "switches threat detection off"),
    (
        "organizations:leaveorganization",
        "takes the account out of the organisation's controls",
    ),
];

/// Why `action` (any case) is notable, if it is: high-risk, or at the permissions
/// management level.
pub fn notable_reason(action: &str, level: Option<AccessLevel>) -> Option<&'static str> {
    let lower = action.to_ascii_lowercase();
    if let Some((_, why)) = HIGH_RISK.iter().find(|(a, _)| *a == lower) {
        return Some(why);
    }
    (level == Some(AccessLevel::PermissionsManagement))
        .then_some("permissions management: changes who may do what")
}

/// The allowed actions of one service, counted per access level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceAllowance {
    /// The service prefix (`s3`).
    pub service: String,
    pub list: u32,
    pub read: u32,
    pub write: u32,
    pub permissions_management: u32,
    pub tagging: u32,
    /// Actions the catalog gives no access level.
    pub unclassified: u32,
}

impl ServiceAllowance {
    /// Every allowed action of the service.
    pub fn total(&self) -> u32 {
        self.list
            + self.read
            + self.write
            + self.permissions_management
            + self.tagging
            + self.unclassified
    }
}

/// A notable action a role copy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotableAction {
    /// `service:Action` as the catalog spells it.
    pub action: String,
    /// Its access level (`Permissions management`), when the catalog gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Why it matters.
    pub why: String,
    /// Allowed only on some resources, under conditions, or unless a conditional deny
    /// applies (`false`: on every resource, unconditionally).
    pub restricted: bool,
}

/// What a playbook allows through one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleAllowance {
    /// The role.
    pub role: String,
    /// Managed policies whose document was not at hand and were taken to allow everything:
    /// when not empty, the counts are an upper bound.
    pub assumed_allow_all: Vec<String>,
    /// Allowed actions in all.
    pub total: u32,
    /// Allowed actions per service, most first.
    pub services: Vec<ServiceAllowance>,
    /// Every permissions-management or high-risk action allowed.
    pub notable: Vec<NotableAction>,
}

/// The summary of `sweep`, the sweep of `role`'s policies under a playbook's session policy.
pub fn summarise(role: &str, sweep: &Sweep, assumed_allow_all: Vec<String>) -> RoleAllowance {
    let mut services = Vec::new();
    let mut notable = Vec::new();
    for s in &sweep.services {
        let mut counts = ServiceAllowance {
            service: s.service.clone(),
            ..ServiceAllowance::default()
        };
        for l in &s.levels {
            let n = u32::try_from(l.actions.len()).unwrap_or(u32::MAX);
            match l.level {
                Some(AccessLevel::List) => counts.list += n,
                Some(AccessLevel::Read) => counts.read += n,
                Some(AccessLevel::Write) => counts.write += n,
                Some(AccessLevel::PermissionsManagement) => counts.permissions_management += n,
                Some(AccessLevel::Tagging) => counts.tagging += n,
                None => counts.unclassified += n,
            }
            for a in &l.actions {
                if let Some(why) = notable_reason(&a.action, l.level) {
                    notable.push(NotableAction {
                        action: a.action.clone(),
                        level: l.level.map(|l| l.name().to_owned()),
                        why: why.to_owned(),
                        restricted: a.access == Access::Restricted,
                    });
                }
            }
        }
        services.push(counts);
    }
    services.sort_by(|a, b| b.total().cmp(&a.total()).then(a.service.cmp(&b.service)));
    notable.sort_by(|a, b| a.action.cmp(&b.action));
    RoleAllowance {
        role: role.to_owned(),
        assumed_allow_all,
        total: u32::try_from(sweep.len()).unwrap_or(u32::MAX),
        services,
        notable,
    }
}

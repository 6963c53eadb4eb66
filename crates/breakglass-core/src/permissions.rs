//! What a request really allows, shown to its approvers: the role's own policies ∩ its
//! permissions boundary ∩ the request's session policy (the playbook's, or the requester's
//! narrowing of it), swept by the policy engine over the action catalog
//! (`PolicySet::sweep`) and summarised as the access review summarises a playbook
//! ([`crate::report::summarise`]: counts per service and access level, every
//! permissions-management and high-risk action). For a narrowed request, also the
//! difference: what the playbook's policy would allow that this request does not, and what
//! it allows only on some resources or under conditions where the playbook's allowed it
//! outright.

use std::collections::BTreeMap;

use breakglass_iam::catalog::Access;
use breakglass_iam::sweep::Sweep;
use breakglass_iam::{Policy, PolicySet, PolicyType, parse};
use serde::{Deserialize, Serialize};

use crate::model::{PermissionModel, RoleName};
use crate::report::{RoleAllowance, summarise};

/// The effective permissions of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EffectivePermissions {
    /// What the request allows through its role: counts per service and access level and
    /// the notable actions.
    pub allows: RoleAllowance,
    /// Whether the requester narrowed the playbook's session policy.
    pub narrowed: bool,
    /// For a narrowed request: how many actions the playbook's policy allows through the
    /// role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_total: Option<u32>,
    /// For a narrowed request: the actions the playbook's policy allows that this request
    /// does not, in catalog order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// For a narrowed request: the actions the playbook's policy allows on every resource
    /// without conditions that this request allows only on some resources or under
    /// conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restricted: Vec<String>,
}

impl EffectivePermissions {
    /// One line for a notification or a list: the total, the services, the notable
    /// actions and, when narrowed, how much less than the playbook.
    pub fn summary(&self) -> String {
        let a = &self.allows;
        let pm: u32 = a.services.iter().map(|s| s.permissions_management).sum();
        let mut line = format!(
            "allows {} action{} in {} service{} ({} permissions management, {} notable)",
            a.total,
            if a.total == 1 { "" } else { "s" },
            a.services.len(),
            if a.services.len() == 1 { "" } else { "s" },
            pm,
            a.notable.len()
        );
        if !a.assumed_allow_all.is_empty() {
            line.push_str(", an upper bound");
        }
        if self.narrowed {
            line.push_str(&format!(
                "; narrowed by the requester: {} fewer than the playbook's {}, {} only on some resources",
                self.removed.len(),
                self.playbook_total.unwrap_or(0),
                self.restricted.len()
            ));
        }
        line
    }
}

/// Why effective permissions could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionsError {
    /// A stored session policy does not parse (it was checked when submitted).
    #[error("the {what} session policy does not parse: {message}")]
    Policy { what: &'static str, message: String },
}

fn session(text: &str, what: &'static str) -> Result<Policy, PermissionsError> {
    parse(text, PolicyType::Session).map_err(|e| PermissionsError::Policy {
        what,
        message: e.to_string(),
    })
}

/// The sweep of `role`'s policies (from `model`; a role it does not know is taken to allow
/// everything, and said) under session policy `session`.
fn sweep(model: &PermissionModel, role: &RoleName, session: &Policy) -> (Sweep, Vec<String>) {
    let everything = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .ok();
    let mut builder = PolicySet::builder();
    let mut assumed = Vec::new();
    match model.role(role) {
        Some(p) => {
            for policy in &p.identity {
                builder = builder.identity(policy);
            }
            if let Some(b) = &p.boundary {
                builder = builder.boundary(b);
            }
            assumed.extend(p.assumed_allow_all.iter().cloned());
        }
        None => {
            if let Some(e) = &everything {
                builder = builder.identity(e);
            }
            assumed.push(format!("{role} (its policies are not known to the broker)"));
        }
    }
    let set = builder.session(session).build();
    (set.sweep(model.actions(), "*"), assumed)
}

/// What a request for `role` under `session_policy` allows; `playbook_policy` is the
/// playbook's own when the requester narrowed it (for the difference).
pub fn effective(
    model: &PermissionModel,
    role: &RoleName,
    session_policy: &str,
    playbook_policy: Option<&str>,
) -> Result<EffectivePermissions, PermissionsError> {
    let (granted, assumed) = sweep(model, role, &session(session_policy, "request's")?);
    let allows = summarise(role.as_str(), &granted, assumed);
    let Some(playbook_policy) = playbook_policy else {
        return Ok(EffectivePermissions {
            allows,
            narrowed: false,
            playbook_total: None,
            removed: Vec::new(),
            restricted: Vec::new(),
        });
    };
    let (wide, _) = sweep(model, role, &session(playbook_policy, "playbook's")?);
    let here: BTreeMap<String, Access> = granted
        .actions()
        .map(|a| (a.action.to_ascii_lowercase(), a.access))
        .collect();
    let mut removed = Vec::new();
    let mut restricted = Vec::new();
    for a in wide.actions() {
        match here.get(&a.action.to_ascii_lowercase()) {
            None => removed.push(a.action.clone()),
            Some(Access::Restricted) if a.access != Access::Restricted => {
                restricted.push(a.action.clone());
            }
            Some(_) => {}
        }
    }
    Ok(EffectivePermissions {
        allows,
        narrowed: true,
        playbook_total: Some(u32::try_from(wide.len()).unwrap_or(u32::MAX)),
        removed,
        restricted,
    })
}

//! What the broker needs to compute what a grant really allows: the action catalog (the
//! Service Authorization Reference, for the policy engine's sweep) and each role's own
//! policies (identity policies and permissions boundary), as the config declares them.
//!
//! The config builds it (managed policy documents it does not have are taken to allow
//! everything, and named, so a count is an upper bound); the domain only reads it. Without
//! one, a narrowed session policy cannot be proven narrower and is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use breakglass_iam::{Catalog as ActionCatalog, Policy};

use super::ids::RoleName;

/// One role's own policies.
#[derive(Debug, Clone, Default)]
pub struct RolePolicies {
    /// Its identity policies (inline and managed, the guardrails included).
    pub identity: Vec<Policy>,
    /// Its permissions boundary, if it has one.
    pub boundary: Option<Policy>,
    /// Managed policies whose documents were not at hand, taken to allow everything.
    pub assumed_allow_all: Vec<String>,
}

/// The action catalog and every role's policies.
#[derive(Debug, Clone)]
pub struct PermissionModel {
    actions: Arc<ActionCatalog>,
    roles: BTreeMap<RoleName, RolePolicies>,
}

impl PermissionModel {
    /// The model over `actions` and `roles`.
    pub fn new(actions: Arc<ActionCatalog>, roles: BTreeMap<RoleName, RolePolicies>) -> Self {
        Self { actions, roles }
    }

    /// The action catalog.
    pub fn actions(&self) -> &ActionCatalog {
        &self.actions
    }

    /// The policies of role `name`, if the model knows it.
    pub fn role(&self, name: &RoleName) -> Option<&RolePolicies> {
        self.roles.get(name)
    }
}

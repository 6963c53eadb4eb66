//! The vocabulary shared by the config, the domain rules and the adapters: validated ids and
//! the catalog of accounts, roles, playbooks and responders.
//!
//! The config loader produces a [`Catalog`]; the request/approval/grant rules consume it. Both
//! sides work on these types only, so a value that exists here has already been validated.

mod catalog;
mod ids;
mod kinds;
mod permissions;

pub use catalog::{
    Account, Approval, Catalog, DeployedRole, Factor, Playbook, Responder, StepUpFactor,
};
pub use ids::{
    AccountId, GrantId, GroupName, IdError, IncidentId, PlaybookId, RequestId, RoleArn, RoleName,
    Username,
};
pub use kinds::{RequestKind, ReviewOutcome};
pub use permissions::{PermissionModel, RolePolicies};

//! The catalog: what the config declares, validated and resolved into the shape the domain
//! rules need (roles with their ARNs, playbooks with rendered session policies).
//!
//! The config loader builds it; the request/approval/grant rules read it. It carries no
//! rendering or provisioning detail (templates, trust policies, alarms): those stay with the
//! config.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Duration;

use super::ids::{AccountId, GroupName, PlaybookId, RoleArn, RoleName, Username};

/// An AWS account breakglass manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account id.
    pub id: AccountId,
    /// A human name (e.g. `production`).
    pub name: String,
    /// The regions in use; monitoring is deployed to each.
    pub regions: Vec<String>,
}

/// An incident-response role as deployed in one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedRole {
    /// The role's name (the same in every account it is deployed to).
    pub name: RoleName,
    /// Its ARN in `account`.
    pub arn: RoleArn,
    /// The account holding this copy of the role.
    pub account: AccountId,
    /// The role's `MaxSessionDuration` (3,600–43,200 seconds).
    pub max_session: Duration,
    /// Whether this is a break-glass role (alarms, mandatory review, direct MFA path).
    pub break_glass: bool,
}

/// How many distinct approvers, from which groups, a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// N: the number of distinct approvers required (0 means no approval needed).
    pub required: u32,
    /// The groups whose members may approve (M is their distinct membership).
    pub from_groups: Vec<GroupName>,
}

/// A playbook: which roles a responder may get, scoped by which session policy, for how long,
/// with whose approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Playbook {
    /// The playbook's id.
    pub id: PlaybookId,
    /// A one-line description shown to responders and approvers.
    pub title: String,
    /// The roles the playbook grants.
    pub roles: Vec<RoleName>,
    /// The accounts it may be used in (empty: every target account).
    pub accounts: Vec<AccountId>,
    /// The rendered session policy JSON, already checked against the STS limits.
    pub session_policy: String,
    /// The longest grant the playbook allows.
    pub max_duration: Duration,
    /// Who must approve.
    pub approval: Approval,
    /// Whether eligible responders may activate it as break-glass (no waiting for approvers).
    pub break_glass: bool,
    /// The groups whose members may request it.
    pub eligible_groups: Vec<GroupName>,
    /// The second factor its approvals, its break-glass activation and its first-mint
    /// step-ups need.
    #[serde(default)]
    pub step_up: StepUpFactor,
    /// Whether the first credentials (or console URL) of each of its grants need a fresh
    /// step-up once the activation's own is older than the step-up window.
    #[serde(default)]
    pub mint_step_up: bool,
}

/// The second factor a playbook's step-ups need.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum StepUpFactor {
    /// A TOTP code or a passkey.
    #[default]
    Any,
    /// A passkey (WebAuthn): phishing-resistant, bound to the broker's origin.
    Passkey,
}

/// Which kind of second factor proved a step-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// A TOTP code.
    Totp,
    /// A passkey assertion.
    Passkey,
}

impl StepUpFactor {
    /// Whether a step-up proven by `factor` is enough.
    pub fn accepts(self, factor: Factor) -> bool {
        match self {
            Self::Any => true,
            Self::Passkey => factor == Factor::Passkey,
        }
    }
}

/// A person who may request, approve or review access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responder {
    /// The broker username, also the STS `SourceIdentity`.
    pub username: Username,
    /// The person's name.
    pub name: String,
    /// Where notifications go.
    pub email: String,
    /// Who to call when this person is unreachable.
    pub emergency_contact: Option<String>,
    /// The groups the person belongs to.
    pub groups: Vec<GroupName>,
    /// Whether the person has a dedicated `<name>-BREAK-GLASS` IAM user.
    pub break_glass_user: bool,
}

/// Everything the domain needs to know about the configured world.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The account holding the broker and the break-glass users.
    pub security_account: Option<AccountId>,
    /// The accounts responders get access to.
    pub accounts: Vec<Account>,
    /// Every deployed copy of every incident-response role.
    pub roles: Vec<DeployedRole>,
    /// The playbooks.
    pub playbooks: Vec<Playbook>,
    /// The people.
    pub responders: Vec<Responder>,
}

impl Catalog {
    /// The playbook with this id.
    pub fn playbook(&self, id: &PlaybookId) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| &p.id == id)
    }

    /// The copy of role `name` deployed in `account`.
    pub fn role(&self, name: &RoleName, account: &AccountId) -> Option<&DeployedRole> {
        self.roles
            .iter()
            .find(|r| &r.name == name && &r.account == account)
    }

    /// The deployed roles playbook `p` can grant, in catalog order: a role it names, in an
    /// account it allows (any, when it names none) where that role is deployed. Exactly
    /// the role/account pairs a request for the playbook may ask for.
    pub fn grantable<'a>(&'a self, p: &'a Playbook) -> impl Iterator<Item = &'a DeployedRole> + 'a {
        self.roles.iter().filter(move |r| {
            p.roles.contains(&r.name) && (p.accounts.is_empty() || p.accounts.contains(&r.account))
        })
    }

    /// The responder with this username.
    pub fn responder(&self, username: &Username) -> Option<&Responder> {
        self.responders.iter().find(|r| &r.username == username)
    }

    /// The distinct members of `groups`, in username order.
    pub fn members_of<'a>(&'a self, groups: &'a [GroupName]) -> BTreeSet<&'a Username> {
        self.responders
            .iter()
            .filter(|r| r.groups.iter().any(|g| groups.contains(g)))
            .map(|r| &r.username)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responder(name: &str, groups: &[&str]) -> Responder {
        Responder {
            username: Username::new(name).unwrap(),
            name: name.to_owned(),
            email: format!("{name}@example.com"),
            emergency_contact: None,
            groups: groups.iter().map(|g| GroupName::new(*g).unwrap()).collect(),
            break_glass_user: false,
        }
    }

    #[test]
    fn members_of_several_groups_are_counted_once() {
        let catalog = Catalog {
            responders: vec![
                responder("alice", &["ir-leads", "responders"]),
                responder("bob", &["ir-leads"]),
                responder("carol", &["responders"]),
            ],
            ..Catalog::default()
        };
        let groups = [
            GroupName::new("ir-leads").unwrap(),
            GroupName::new("responders").unwrap(),
        ];
        let members: Vec<&str> = catalog
            .members_of(&groups)
            .into_iter()
            .map(Username::as_str)
            .collect();
        assert_eq!(members, ["alice", "bob", "carol"]);
        let leads = [GroupName::new("ir-leads").unwrap()];
        assert_eq!(catalog.members_of(&leads).len(), 2);
    }
}

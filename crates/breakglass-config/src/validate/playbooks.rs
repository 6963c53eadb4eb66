//! Playbooks (roles, accounts, session policy, duration, N-of-M approval, eligibility) and
//! the checks that need the whole config: trust policies and break-glass user policies.

use std::collections::BTreeSet;

use breakglass_core::model::{AccountId, Approval, PlaybookId};
use breakglass_iam::PolicyType;
use breakglass_iam::size::{self, Limit};
use serde_json::Value;

use super::super::raw::{RawConfig, RawPlaybook, RawSessionPolicy};
use super::super::spans::FieldPath;
use super::super::{Config, PlaybookConfig, SessionPolicySource};
use super::{MIN_GRANT, Validator, is_region, root};
use crate::templates::session_policy::{
    MAX_SESSION_POLICY_CHARS, SESSION_TEMPLATES, ScopedSessionPolicy, SessionParams, SessionPolicy,
    SessionPolicyError, SessionTemplate,
};

impl Validator {
    pub(super) fn playbooks(&mut self, raw: &RawConfig, config: &Config) -> Vec<PlaybookConfig> {
        let base = root().key("playbooks");
        let mut out = Vec::new();
        for (id, playbook) in &raw.playbooks {
            let path = base.key(id);
            let Some(pid) = self.id(&path, PlaybookId::new(id.as_str())) else {
                continue;
            };
            if let Some(p) = self.playbook(&path, pid, playbook, config) {
                out.push(p);
            }
        }
        out
    }

    fn playbook(
        &mut self,
        path: &FieldPath,
        id: PlaybookId,
        raw: &RawPlaybook,
        config: &Config,
    ) -> Option<PlaybookConfig> {
        if raw.title.trim().is_empty() {
            self.push(&path.key("title"), "the title must not be empty");
        }
        if raw.roles.is_empty() {
            self.push(
                &path.key("roles"),
                "a playbook must grant at least one role",
            );
        }
        let mut roles = Vec::new();
        for (i, name) in raw.roles.iter().enumerate() {
            match config.roles.iter().find(|r| r.name.as_str() == name) {
                Some(role) => roles.push(role),
                None if self.broken_roles.contains(name) => {}
                None => self.push(
                    &path.key("roles").index(i),
                    format!("role `{name}` is not defined under [roles]"),
                ),
            }
        }
        let deployed: BTreeSet<AccountId> = roles
            .iter()
            .flat_map(|r| r.accounts.iter().cloned())
            .collect();
        let accounts = match &raw.accounts {
            Some(names) => {
                let ids = self.account_refs(&path.key("accounts"), names, &config.accounts);
                for (i, account) in ids.iter().enumerate() {
                    if !roles.is_empty() && !deployed.contains(account) {
                        self.push(
                            &path.key("accounts").index(i),
                            format!(
                                "none of the playbook's roles is deployed to account `{}`",
                                names.get(i).map_or("", String::as_str)
                            ),
                        );
                    }
                }
                ids
            }
            None => deployed.iter().cloned().collect(),
        };
        let regions: Vec<String> = {
            let set: BTreeSet<&String> = config
                .accounts
                .iter()
                .filter(|a| accounts.contains(&a.id))
                .flat_map(|a| a.regions.iter())
                .collect();
            set.into_iter().cloned().collect()
        };
        let session = self.session_policy(
            &path.key("session_policy"),
            &raw.session_policy,
            &config.partition,
            regions,
        );
        let max_duration = self.duration(&path.key("max_duration"), &raw.max_duration, MIN_GRANT);
        let approval_path = path.key("approval");
        let from_groups = self.groups(&approval_path.key("from_groups"), &raw.approval.from_groups);
        let approvers = config.members(&from_groups);
        for (i, group) in from_groups.iter().enumerate() {
            if config.members(std::slice::from_ref(group)).is_empty() {
                self.push(
                    &approval_path.key("from_groups").index(i),
                    format!("approver group `{group}` has no members"),
                );
            }
        }
        let required = raw.approval.required;
        let m = approvers.len();
        if required > 0 && from_groups.is_empty() {
            self.push(
                &approval_path.key("from_groups"),
                format!("{required} approval(s) required but no approver group given"),
            );
        } else if usize::try_from(required).unwrap_or(usize::MAX) > m {
            self.push(
                &approval_path.key("required"),
                format!("approval rule {required}-of-{m} can never be met: the approver groups have {m} distinct member(s)"),
            );
        }
        let eligible_groups = self.groups(&path.key("eligible_groups"), &raw.eligible_groups);
        if raw.eligible_groups.is_empty() {
            self.push(
                &path.key("eligible_groups"),
                "at least one group must be eligible to request the playbook",
            );
        }
        for (i, group) in eligible_groups.iter().enumerate() {
            if config.members(std::slice::from_ref(group)).is_empty() {
                self.push(
                    &path.key("eligible_groups").index(i),
                    format!("eligible group `{group}` has no members"),
                );
            }
        }
        let (session_policy, session_policy_source) = session?;
        Some(PlaybookConfig {
            id,
            title: raw.title.clone(),
            roles: roles.iter().map(|r| r.name.clone()).collect(),
            accounts,
            session_policy,
            session_policy_source,
            max_duration: max_duration?,
            approval: Approval {
                required,
                from_groups,
            },
            break_glass: raw.break_glass,
            eligible_groups,
            step_up: raw.step_up,
            mint_step_up: raw.mint_step_up.unwrap_or(raw.break_glass),
        })
    }

    fn session_policy(
        &mut self,
        path: &FieldPath,
        raw: &RawSessionPolicy,
        partition: &str,
        regions: Vec<String>,
    ) -> Option<(SessionPolicy, SessionPolicySource)> {
        let chosen = [
            raw.template.is_some(),
            raw.actions.is_some(),
            raw.document.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if chosen != 1 {
            self.push(
                path,
                "give exactly one of `template`, `actions` (a scoped policy) or `document`",
            );
            return None;
        }
        if raw.actions.is_none() {
            for (field, given) in [
                ("resources", raw.resources.is_some()),
                ("conditions", raw.conditions.is_some()),
            ] {
                if given {
                    self.push(
                        &path.key(field),
                        format!("`{field}` belongs to a scoped policy (one with `actions`)"),
                    );
                }
            }
        }
        if raw.template.is_none() {
            for (field, given) in [
                ("regions", raw.regions.is_some()),
                ("evidence_buckets", raw.evidence_buckets.is_some()),
                ("quarantine_policies", raw.quarantine_policies.is_some()),
                ("pass_roles", raw.pass_roles.is_some()),
            ] {
                if given {
                    self.push(
                        &path.key(field),
                        format!("`{field}` is a parameter of a built-in `template`"),
                    );
                }
            }
        }
        let (document, source) = if let Some(name) = &raw.template {
            let Some(template) = SessionTemplate::from_name(name) else {
                self.push(
                    &path.key("template"),
                    format!(
                        "unknown session policy template `{name}`: expected one of {}",
                        SESSION_TEMPLATES
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                return None;
            };
            for (param, given) in [
                ("regions", raw.regions.is_some()),
                ("evidence_buckets", raw.evidence_buckets.is_some()),
                ("quarantine_policies", raw.quarantine_policies.is_some()),
                ("pass_roles", raw.pass_roles.is_some()),
            ] {
                if given && !template.takes(param) {
                    self.push(
                        &path.key(param),
                        format!("template `{name}` takes no `{param}`"),
                    );
                }
            }
            if let Some(given) = &raw.regions {
                for (i, region) in given.iter().enumerate() {
                    if !is_region(region) {
                        self.push(
                            &path.key("regions").index(i),
                            format!("`{region}` is not an AWS region name"),
                        );
                    }
                }
            }
            for (field, kind, given) in [
                ("quarantine_policies", "policy", &raw.quarantine_policies),
                ("pass_roles", "role", &raw.pass_roles),
            ] {
                for (i, arn) in given.iter().flatten().enumerate() {
                    if !is_iam_arn(arn, partition, kind) {
                        self.push(
                            &path.key(field).index(i),
                            format!(
                                "`{arn}` is not an IAM {kind} ARN such as `arn:{partition}:iam::111122223333:{kind}/Name` (wildcards are not allowed)"
                            ),
                        );
                    }
                }
            }
            let params = SessionParams {
                regions: raw.regions.clone().unwrap_or(regions),
                evidence_buckets: raw.evidence_buckets.clone().unwrap_or_default(),
                quarantine_policies: raw.quarantine_policies.clone().unwrap_or_default(),
                pass_roles: raw.pass_roles.clone().unwrap_or_default(),
                partition: partition.to_owned(),
            };
            (
                template.document(&params),
                SessionPolicySource::Template(template, params),
            )
        } else if let Some(actions) = &raw.actions {
            let conditions = match &raw.conditions {
                Some(text) => match self.policy_json(&path.key("conditions"), text)? {
                    Value::Object(map) => map,
                    _ => return None,
                },
                None => serde_json::Map::new(),
            };
            let scoped = ScopedSessionPolicy {
                actions: actions.clone(),
                resources: raw.resources.clone().unwrap_or_default(),
                conditions,
                not_after: None,
            };
            match scoped.document() {
                Ok(doc) => (doc, SessionPolicySource::Scoped(scoped)),
                Err(err) => {
                    self.push(path, err.to_string());
                    return None;
                }
            }
        } else {
            let text = raw.document.as_deref().unwrap_or_default();
            (
                self.policy_json(&path.key("document"), text)?,
                SessionPolicySource::Document,
            )
        };
        if !self.valid_policy(path, &document, PolicyType::Session) {
            return None;
        }
        match SessionPolicy::new(&document) {
            Ok(policy) => Some((policy, source)),
            Err(SessionPolicyError::TooLong { chars }) => {
                self.push(
                    path,
                    format!("the rendered session policy is {chars} characters, over the {MAX_SESSION_POLICY_CHARS}-character STS limit"),
                );
                None
            }
            Err(err) => {
                self.push(path, err.to_string());
                None
            }
        }
    }

    /// Trust policies and break-glass user policies need the whole config: check they render
    /// and fit IAM's quotas.
    pub(super) fn principal_policies(&mut self, config: &Config) {
        let base = root().key("roles");
        for role in &config.roles {
            let path = base.key(role.name.as_str());
            match config.trust_policy(role) {
                None => self.push(
                    &path.key("trust"),
                    format!(
                        "nobody can assume role `{}`: it trusts only {} and none is configured",
                        role.name,
                        role.trust
                            .iter()
                            .map(|t| format!("`{}`", t.name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(doc) => {
                    let name = format!("the trust policy of role `{}`", role.name);
                    if let Err(too_large) = size::check(&name, &doc.to_string(), Limit::TrustPolicy)
                    {
                        self.push(&path.key("trust"), too_large.to_string());
                    }
                }
            }
        }
        let texts: Vec<String> = config
            .break_glass_user_policies()
            .iter()
            .map(|(_, p)| p.to_string())
            .collect();
        if let Err(too_large) = size::check_total(
            "the break-glass users' inline policies",
            texts.iter().map(String::as_str),
            Limit::UserInline,
        ) {
            for r in config.responders.iter().filter(|r| r.break_glass_user) {
                self.push(
                    &root()
                        .key("responders")
                        .key(r.username.as_str())
                        .key("break_glass_user"),
                    format!("{too_large}: fewer roles or accounts may trust break-glass users"),
                );
            }
        }
    }
}

/// Whether `arn` names one IAM `kind` (`policy`, `role`) in `partition`: an account id (or
/// `aws` for an AWS managed policy), a name, no wildcard.
fn is_iam_arn(arn: &str, partition: &str, kind: &str) -> bool {
    let Some(rest) = arn.strip_prefix(&format!("arn:{partition}:iam::")) else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    let account_ok = (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || (kind == "policy" && account == "aws");
    let name = resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default();
    account_ok && !name.is_empty() && !resource.contains(['*', '?'])
}

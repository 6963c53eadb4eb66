//! The access review: per responder (groups, what they may request, activate as
//! break-glass and approve, last use, their break-glass IAM user as IAM reported it), per
//! playbook (role copies, approvals, step-up, grants in the period, last use, what it really
//! allows) and the findings a reviewer acts on.
//!
//! Who may do what is asked of the rules exactly as the broker asks them
//! (`request::offers`, `request::approvable`): nothing here re-derives eligibility.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Period, RoleAllowance};
use crate::drill::{Finding, IamUserFacts};
use crate::model::{PlaybookId, StepUpFactor};
use crate::request::{AccessRequest, Env};
use crate::session::Session;

/// What the access review is built from.
#[derive(Debug, Clone)]
pub struct ReviewInput<'a> {
    /// The rules in force (and their catalog), with the settings and the time of the review.
    pub env: Env<'a>,
    /// The period reviewed.
    pub period: Period,
    /// The sessions of every period, newest first (for the last use).
    pub sessions: &'a [Session],
    /// Whether `sessions` was cut at the store's listing cap.
    pub truncated: bool,
    /// Requests that were approved and never activated (the store's `expired` requests
    /// without a grant are picked out here).
    pub expired: &'a [AccessRequest],
    /// The break-glass IAM users as IAM reports them (`None`: IAM was not read).
    pub iam_users: Option<&'a [IamUserFacts]>,
    /// What each playbook really allows, per role (`None`: not computed, e.g. no action
    /// catalog at hand).
    pub allows: Option<&'a BTreeMap<PlaybookId, Vec<RoleAllowance>>>,
    /// A playbook or role copy with no grant for this many days is reported unused.
    pub unused_days: u32,
}

/// The access review report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessReview {
    /// The period reviewed.
    pub period: Period,
    /// When the report was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub generated_at: OffsetDateTime,
    /// The threshold of the unused findings, in days.
    pub unused_days: u32,
    /// Whether the break-glass IAM users were read from IAM.
    pub iam_users_read: bool,
    /// Whether the sessions read were cut at the store's listing cap (last uses older than
    /// the oldest session read are then unknown).
    pub truncated: bool,
    /// Every responder, by username.
    pub responders: Vec<ResponderReview>,
    /// Every playbook, in catalog order.
    pub playbooks: Vec<PlaybookReview>,
    /// What a reviewer should look at.
    pub findings: Vec<Finding>,
}

/// One responder in the access review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResponderReview {
    pub username: String,
    pub name: String,
    pub groups: Vec<String>,
    /// Playbooks they may request for approval.
    pub may_request: Vec<String>,
    /// Playbooks they may activate as break-glass.
    pub may_break_glass: Vec<String>,
    /// Playbooks whose requests (by someone else) they may approve.
    pub may_approve: Vec<String>,
    /// Grants they held that started in the period.
    pub grants_in_period: u64,
    /// When their last grant started, if any is known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub last_use: Option<OffsetDateTime>,
    /// Their break-glass IAM user.
    pub break_glass_user: BreakGlassUserStatus,
}

/// A responder's break-glass IAM user, as configured and as IAM reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakGlassUserStatus {
    /// Whether the config gives them one.
    pub configured: bool,
    /// Whether IAM was read (`false`: the fields below are unknown, "not read").
    pub read: bool,
    /// The IAM user's name, when IAM reported one for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whether the user exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// Whether it has an MFA device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// How many access keys it has (a break-glass user should have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_keys: Option<u32>,
    /// The age of its console password, in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_age_days: Option<i64>,
    /// When it last signed in with its password.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub last_sign_in: Option<OffsetDateTime>,
    /// Whether its password secret exists in Secrets Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<bool>,
}

impl BreakGlassUserStatus {
    /// A short state for a table cell.
    pub fn summary(&self) -> String {
        if !self.configured && self.user.is_none() {
            return "none".to_owned();
        }
        if !self.read {
            return "configured, not read".to_owned();
        }
        if self.exists != Some(true) {
            return "missing in IAM".to_owned();
        }
        let mut parts = vec![if self.mfa == Some(true) {
            "MFA".to_owned()
        } else {
            "NO MFA".to_owned()
        }];
        if let Some(n) = self.access_keys.filter(|n| *n > 0) {
            parts.push(format!("{n} access key(s)"));
        }
        if let Some(d) = self.password_age_days {
            parts.push(format!("password {d} d old"));
        }
        match self.last_sign_in {
            Some(t) => parts.push(format!("last sign-in {}", super::day(t))),
            None => parts.push("never signed in".to_owned()),
        }
        parts.join(", ")
    }
}

/// One role copy a playbook grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleCopy {
    pub role: String,
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Grants of this copy that started in the period.
    pub grants_in_period: u64,
    /// When the last grant of this copy started, if any is known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub last_used: Option<OffsetDateTime>,
}

/// One playbook in the access review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlaybookReview {
    pub id: String,
    pub title: String,
    /// The role copies it grants.
    pub roles: Vec<RoleCopy>,
    /// Distinct approvals a request needs.
    pub approvals_required: u32,
    /// The groups approvers come from.
    pub approver_groups: Vec<String>,
    /// Their distinct members.
    pub approvers: Vec<String>,
    /// Whether it may be activated as break-glass.
    pub break_glass: bool,
    /// The second factor its step-ups need.
    pub step_up: StepUpFactor,
    /// Whether the first credentials of a grant need a fresh step-up.
    pub mint_step_up: bool,
    /// The longest grant, in seconds.
    pub max_duration_seconds: i64,
    /// Grants that started in the period.
    pub grants_in_period: u64,
    /// When its last grant started, if any is known.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub last_used: Option<OffsetDateTime>,
    /// What it really allows, per role (`None`: not computed).
    #[serde(default)]
    pub allows: Option<Vec<RoleAllowance>>,
}

/// Builds the access review.
pub fn access_review(input: &ReviewInput<'_>) -> AccessReview {
    let env = &input.env;
    let catalog = env.rules.catalog();
    let now = env.now;
    let unused_before = now - time::Duration::days(i64::from(input.unused_days));
    let in_period = |s: &&Session| input.period.contains(s.start);
    let mut findings = Vec::new();

    let mut responders = Vec::new();
    for r in &catalog.responders {
        let offers = crate::request::offers(&r.username, env);
        let names = |pick: &dyn Fn(&crate::request::Offer) -> bool| -> Vec<String> {
            offers
                .iter()
                .filter(|o| pick(o))
                .map(|o| o.playbook.id.to_string())
                .collect()
        };
        let may_request = names(&|o| o.targets.iter().any(|t| t.request.is_some()));
        let may_break_glass = names(&|o| o.targets.iter().any(|t| t.break_glass.is_some()));
        let may_approve = crate::request::approvable(&r.username, env)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mine = || input.sessions.iter().filter(|s| s.requester == r.username);
        let facts = input
            .iam_users
            .and_then(|users| users.iter().find(|u| u.responder == r.username.as_str()));
        let status = BreakGlassUserStatus {
            configured: r.break_glass_user,
            read: input.iam_users.is_some(),
            user: facts.map(|f| f.user.clone()),
            exists: input.iam_users.map(|_| facts.is_some_and(|f| f.exists)),
            mfa: facts.map(|f| !f.mfa_devices.is_empty()),
            access_keys: facts.map(|f| u32::try_from(f.access_keys.len()).unwrap_or(u32::MAX)),
            password_age_days: facts
                .and_then(|f| f.password_set_at)
                .map(|t| (now - t).whole_days()),
            last_sign_in: facts.and_then(|f| f.password_last_used),
            password_secret: facts.map(|f| f.password_secret),
        };
        if !may_break_glass.is_empty() && (!r.break_glass_user || status.exists == Some(false)) {
            findings.push(Finding::new(
                "responder_without_break_glass_user",
                r.username.as_str(),
                format!(
                    "`{}` may activate {} as break-glass but has no break-glass IAM user{}: when the broker or the identity provider is down they have no way in",
                    r.username,
                    may_break_glass.join(", "),
                    if r.break_glass_user { " in IAM (configured, not found)" } else { "" }
                ),
            ));
        }
        if let Some(f) = facts.filter(|f| f.exists && f.mfa_devices.is_empty()) {
            findings.push(
                Finding::new(
                    "break_glass_user_without_mfa",
                    f.user.as_str(),
                    format!(
                        "break-glass user {} of `{}` in {} has no MFA device: enrol one before it is needed",
                        f.user, r.username, f.account
                    ),
                )
                .in_account(f.account.as_str()),
            );
        }
        responders.push(ResponderReview {
            username: r.username.to_string(),
            name: r.name.clone(),
            groups: r.groups.iter().map(ToString::to_string).collect(),
            may_request,
            may_break_glass,
            may_approve,
            grants_in_period: count(mine().filter(in_period)),
            last_use: mine().map(|s| s.start).max(),
            break_glass_user: status,
        });
    }
    responders.sort_by(|a, b| a.username.cmp(&b.username));

    let mut playbooks = Vec::new();
    let mut used_roles: BTreeMap<(String, String), Option<OffsetDateTime>> = BTreeMap::new();
    for p in &catalog.playbooks {
        let of = || input.sessions.iter().filter(|s| s.playbook == p.id);
        let roles: Vec<RoleCopy> = catalog
            .grantable(p)
            .map(|role| {
                let copy = || of().filter(|s| s.role == role.name && s.account == role.account);
                let last = copy().map(|s| s.start).max();
                let entry = used_roles
                    .entry((role.name.to_string(), role.account.to_string()))
                    .or_default();
                *entry = (*entry).max(last);
                RoleCopy {
                    role: role.name.to_string(),
                    account: role.account.to_string(),
                    account_name: catalog
                        .accounts
                        .iter()
                        .find(|a| a.id == role.account)
                        .map(|a| a.name.clone()),
                    grants_in_period: count(copy().filter(in_period)),
                    last_used: last,
                }
            })
            .collect();
        let approvers: Vec<String> = catalog
            .members_of(&p.approval.from_groups)
            .iter()
            .map(ToString::to_string)
            .collect();
        let last_used = of().map(|s| s.start).max();
        if last_used.is_none_or(|t| t < unused_before) {
            findings.push(Finding::new(
                "playbook_unused",
                p.id.as_str(),
                format!(
                    "playbook `{}` has not been used in {} days ({}): keep it only if responders still need it, and drill it",
                    p.id,
                    input.unused_days,
                    last_used.map_or("never used".to_owned(), |t| format!("last used {}", super::day(t)))
                ),
            ));
        }
        for group in &p.approval.from_groups {
            let members = catalog.members_of(std::slice::from_ref(group));
            if p.approval.required > 0 && members.len() == 1 {
                findings.push(Finding::new(
                    "single_person_approver_group",
                    group.as_str(),
                    format!(
                        "approver group `{group}` of playbook `{}` has one member ({}): when they are away or are the requester, nobody in it can approve",
                        p.id,
                        members.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        if usize::try_from(p.approval.required).unwrap_or(usize::MAX) >= approvers.len().max(1)
            && p.approval.required > 0
        {
            findings.push(Finding::new(
                "approval_quorum_fragile",
                p.id.as_str(),
                format!(
                    "playbook `{}` needs {} approval(s) from {} distinct approver(s): a requester who is one of them can never be approved",
                    p.id,
                    p.approval.required,
                    approvers.len()
                ),
            ));
        }
        playbooks.push(PlaybookReview {
            id: p.id.to_string(),
            title: p.title.clone(),
            roles,
            approvals_required: p.approval.required,
            approver_groups: p
                .approval
                .from_groups
                .iter()
                .map(ToString::to_string)
                .collect(),
            approvers,
            break_glass: p.break_glass,
            step_up: p.step_up,
            mint_step_up: p.mint_step_up,
            max_duration_seconds: p.max_duration.whole_seconds(),
            grants_in_period: count(of().filter(in_period)),
            last_used,
            allows: input.allows.and_then(|a| a.get(&p.id).cloned()),
        });
    }
    for role in &catalog.roles {
        let last = used_roles
            .get(&(role.name.to_string(), role.account.to_string()))
            .copied()
            .flatten();
        let granted = used_roles.contains_key(&(role.name.to_string(), role.account.to_string()));
        if granted && last.is_none_or(|t| t < unused_before) {
            findings.push(
                Finding::new(
                    "role_unused",
                    role.name.as_str(),
                    format!(
                        "role {} in {} has not been granted in {} days ({})",
                        role.name,
                        role.account,
                        input.unused_days,
                        last.map_or("never granted".to_owned(), |t| format!(
                            "last granted {}",
                            super::day(t)
                        ))
                    ),
                )
                .in_account(role.account.as_str()),
            );
        }
    }
    let mut never: BTreeSet<String> = BTreeSet::new();
    for r in input
        .expired
        .iter()
        .filter(|r| r.grant.is_none() && input.period.contains(r.created_at))
        .filter(|r| !r.current_approvers().is_empty() || r.required_approvals == 0)
    {
        if never.insert(r.id.to_string()) {
            findings.push(
                Finding::new(
                    "grant_never_activated",
                    r.id.as_str(),
                    format!(
                        "request {} by `{}` for playbook `{}` ({} in {}) was approved and never activated: ask whether the access was needed",
                        r.id, r.spec.requester, r.spec.playbook, r.spec.role, r.spec.account
                    ),
                )
                .in_account(r.spec.account.as_str()),
            );
        }
    }
    AccessReview {
        period: input.period,
        generated_at: now,
        unused_days: input.unused_days,
        iam_users_read: input.iam_users.is_some(),
        truncated: input.truncated,
        responders,
        playbooks,
        findings,
    }
}

fn count<T>(it: impl Iterator<Item = T>) -> u64 {
    u64::try_from(it.count()).unwrap_or(u64::MAX)
}

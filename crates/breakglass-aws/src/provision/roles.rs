//! IAM roles: the incident-response roles, read into the resource vocabulary and converged.
//!
//! Inline role policies the broker maintains at run time (revocations) are neither read
//! into the diff nor removed by an update; they go only with the role itself.

use std::collections::{BTreeMap, BTreeSet};

use breakglass_config::diff::Observed;
use breakglass_config::resources::{AccountState, RUNTIME_ROLE_POLICIES, Resource, Role};

use super::error::CallResult;
use super::{Clients, ProvisionError, is_owned, policy_document, tag_changes};

use super::{iam_tag_map as tag_map, iam_tags as tags};

/// Roles: every desired role that exists, and every owned role under the paths (the
/// incident-response path and the revoker role's).
pub(super) async fn observe_roles(
    c: &Clients,
    state: &AccountState,
    paths: &[&str],
) -> Result<Vec<Observed>, ProvisionError> {
    let mut names: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Role(role) => Some(role.name.clone()),
            _ => None,
        })
        .collect();
    for path in paths {
        let listed: Vec<_> = c
            .iam
            .list_roles()
            .path_prefix(*path)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .ctx(&c.account, "iam:ListRoles", path)?;
        names.extend(listed.iter().map(|r| r.role_name().to_owned()));
    }
    let mut out = Vec::new();
    for name in names {
        if let Some(observed) = read_role(c, &name).await? {
            let desired = state
                .resources
                .iter()
                .any(|r| matches!(r, Resource::Role(d) if d.name == name));
            if desired || observed.owned {
                out.push(observed);
            }
        }
    }
    Ok(out)
}

/// The role named `name` as IAM holds it, in the resource vocabulary; `None` when there is
/// none.
pub(crate) async fn read_role(c: &Clients, name: &str) -> Result<Option<Observed>, ProvisionError> {
    let a = &c.account;
    let got = match c.iam.get_role().role_name(name).send().await {
        Ok(got) => got,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(super::error::call_error(a, "iam:GetRole", name, e)),
    };
    let Some(role) = got.role() else {
        return Ok(None);
    };
    let trust = policy_document(a, name, role.assume_role_policy_document().unwrap_or("{}"))?;
    let tag_list =
        c.iam
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .ctx(a, "iam:ListRoleTags", name)?;
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "iam:ListAttachedRolePolicies", name)?;
    let policy_names = c
        .iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "iam:ListRolePolicies", name)?;
    let mut inline = BTreeMap::new();
    for policy in policy_names {
        if RUNTIME_ROLE_POLICIES.contains(&policy.as_str()) {
            continue;
        }
        let doc = c
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
            .ctx(a, "iam:GetRolePolicy", &format!("{name}/{policy}"))?;
        inline.insert(
            policy.clone(),
            policy_document(
                a,
                &format!("role {name} policy {policy}"),
                doc.policy_document(),
            )?,
        );
    }
    let tags = tag_map(tag_list.tags());
    Ok(Some(Observed {
        owned: is_owned(&tags),
        resource: Resource::Role(Role {
            name: role.role_name().to_owned(),
            path: role.path().to_owned(),
            description: role.description().unwrap_or_default().to_owned(),
            trust_policy: trust,
            max_session_duration: role.max_session_duration().unwrap_or(3600),
            permissions_boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned),
            managed_policies: attached
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect(),
            inline_policies: inline,
            tags,
        }),
    }))
}

pub(super) async fn create_role(c: &Clients, r: &Role) -> Result<(), ProvisionError> {
    let a = &c.account;
    let what = format!("role {}", r.name);
    c.iam
        .create_role()
        .role_name(&r.name)
        .path(&r.path)
        .description(&r.description)
        .assume_role_policy_document(r.trust_policy.to_string())
        .max_session_duration(r.max_session_duration)
        .set_permissions_boundary(r.permissions_boundary.clone())
        .set_tags(Some(tags(a, &what, &r.tags)?))
        .send()
        .await
        .ctx(a, "iam:CreateRole", &r.name)?;
    for arn in &r.managed_policies {
        attach(c, &r.name, arn).await?;
    }
    for (name, doc) in &r.inline_policies {
        put_role_policy(c, &r.name, name, doc).await?;
    }
    Ok(())
}

async fn attach(c: &Clients, role: &str, arn: &str) -> Result<(), ProvisionError> {
    c.iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await
        .ctx(&c.account, "iam:AttachRolePolicy", &format!("{role} {arn}"))?;
    Ok(())
}

async fn put_role_policy(
    c: &Clients,
    role: &str,
    name: &str,
    doc: &serde_json::Value,
) -> Result<(), ProvisionError> {
    c.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
        .ctx(&c.account, "iam:PutRolePolicy", &format!("{role}/{name}"))?;
    Ok(())
}

pub(super) async fn update_role(c: &Clients, from: &Role, to: &Role) -> Result<(), ProvisionError> {
    let a = &c.account;
    let n = &to.name;
    if from.path != to.path {
        return Err(ProvisionError::Refused {
            account: a.clone(),
            resource: format!("role {n}"),
            problem: format!(
                "its path is `{}`, the config wants `{}`; IAM cannot move a role: delete it and apply again",
                from.path, to.path
            ),
        });
    }
    if from.trust_policy != to.trust_policy {
        c.iam
            .update_assume_role_policy()
            .role_name(n)
            .policy_document(to.trust_policy.to_string())
            .send()
            .await
            .ctx(a, "iam:UpdateAssumeRolePolicy", n)?;
    }
    if from.description != to.description || from.max_session_duration != to.max_session_duration {
        c.iam
            .update_role()
            .role_name(n)
            .description(&to.description)
            .max_session_duration(to.max_session_duration)
            .send()
            .await
            .ctx(a, "iam:UpdateRole", n)?;
    }
    if from.permissions_boundary != to.permissions_boundary {
        match &to.permissions_boundary {
            Some(arn) => {
                c.iam
                    .put_role_permissions_boundary()
                    .role_name(n)
                    .permissions_boundary(arn)
                    .send()
                    .await
                    .ctx(a, "iam:PutRolePermissionsBoundary", n)?;
            }
            None => {
                c.iam
                    .delete_role_permissions_boundary()
                    .role_name(n)
                    .send()
                    .await
                    .ctx(a, "iam:DeleteRolePermissionsBoundary", n)?;
            }
        }
    }
    for arn in to.managed_policies.difference(&from.managed_policies) {
        attach(c, n, arn).await?;
    }
    for arn in from.managed_policies.difference(&to.managed_policies) {
        c.iam
            .detach_role_policy()
            .role_name(n)
            .policy_arn(arn)
            .send()
            .await
            .ctx(a, "iam:DetachRolePolicy", &format!("{n} {arn}"))?;
    }
    for (name, doc) in &to.inline_policies {
        if from.inline_policies.get(name) != Some(doc) {
            put_role_policy(c, n, name, doc).await?;
        }
    }
    for name in from.inline_policies.keys() {
        if !to.inline_policies.contains_key(name) && !RUNTIME_ROLE_POLICIES.contains(&name.as_str())
        {
            c.iam
                .delete_role_policy()
                .role_name(n)
                .policy_name(name)
                .send()
                .await
                .ctx(a, "iam:DeleteRolePolicy", &format!("{n}/{name}"))?;
        }
    }
    let (removed, set) = tag_changes(&from.tags, &to.tags);
    if !removed.is_empty() {
        c.iam
            .untag_role()
            .role_name(n)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .ctx(a, "iam:UntagRole", n)?;
    }
    if !set.is_empty() {
        let set: BTreeMap<String, String> = set.into_iter().collect();
        c.iam
            .tag_role()
            .role_name(n)
            .set_tags(Some(tags(a, n, &set)?))
            .send()
            .await
            .ctx(a, "iam:TagRole", n)?;
    }
    Ok(())
}

pub(super) async fn delete_role(c: &Clients, r: &Role) -> Result<(), ProvisionError> {
    let a = &c.account;
    let n = &r.name;
    for arn in &r.managed_policies {
        c.iam
            .detach_role_policy()
            .role_name(n)
            .policy_arn(arn)
            .send()
            .await
            .ctx(a, "iam:DetachRolePolicy", &format!("{n} {arn}"))?;
    }
    // Every inline policy goes, the broker's revocation policies included: the role is ours.
    let names = c
        .iam
        .list_role_policies()
        .role_name(n)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "iam:ListRolePolicies", n)?;
    for name in names {
        c.iam
            .delete_role_policy()
            .role_name(n)
            .policy_name(&name)
            .send()
            .await
            .ctx(a, "iam:DeleteRolePolicy", &format!("{n}/{name}"))?;
    }
    c.iam
        .delete_role()
        .role_name(n)
        .send()
        .await
        .ctx(a, "iam:DeleteRole", n)?;
    Ok(())
}

//! IAM users: the break-glass users (console-only, reset-required password kept in Secrets
//! Manager), read into the resource vocabulary and converged.

use std::collections::{BTreeMap, BTreeSet};

use breakglass_config::diff::Observed;
use breakglass_config::resources::{AccountState, Resource, User};

use super::error::CallResult;
use super::{Clients, ProvisionError, is_owned, policy_document, secrets, tag_changes};

use super::{iam_tag_map as tag_map, iam_tags as tags};

/// Break-glass users: every desired user that exists, and every owned user under the path.
pub(super) async fn observe_users(
    c: &Clients,
    state: &AccountState,
    path: &str,
) -> Result<Vec<Observed>, ProvisionError> {
    let a = &c.account;
    let mut names: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::User(u) => Some(u.name.clone()),
            _ => None,
        })
        .collect();
    let listed = c
        .iam
        .list_users()
        .path_prefix(path)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "iam:ListUsers", path)?;
    names.extend(listed.iter().map(|u| u.user_name().to_owned()));
    let mut out = Vec::new();
    for name in names {
        let desired = state.resources.iter().find_map(|r| match r {
            Resource::User(u) if u.name == name => Some(u),
            _ => None,
        });
        if let Some(observed) = read_user(c, &name, desired).await?
            && (desired.is_some() || observed.owned)
        {
            out.push(observed);
        }
    }
    Ok(out)
}

async fn read_user(
    c: &Clients,
    name: &str,
    desired: Option<&User>,
) -> Result<Option<Observed>, ProvisionError> {
    let a = &c.account;
    let got = match c.iam.get_user().user_name(name).send().await {
        Ok(got) => got,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(super::error::call_error(a, "iam:GetUser", name, e)),
    };
    let Some(user) = got.user() else {
        return Ok(None);
    };
    let tag_list =
        c.iam
            .list_user_tags()
            .user_name(name)
            .send()
            .await
            .ctx(a, "iam:ListUserTags", name)?;
    let policy_names = c
        .iam
        .list_user_policies()
        .user_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(a, "iam:ListUserPolicies", name)?;
    let mut inline = BTreeMap::new();
    for policy in policy_names {
        let doc = c
            .iam
            .get_user_policy()
            .user_name(name)
            .policy_name(&policy)
            .send()
            .await
            .ctx(a, "iam:GetUserPolicy", &format!("{name}/{policy}"))?;
        inline.insert(
            policy.clone(),
            policy_document(
                a,
                &format!("user {name} policy {policy}"),
                doc.policy_document(),
            )?,
        );
    }
    let console_access = match c.iam.get_login_profile().user_name(name).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(e) => return Err(super::error::call_error(a, "iam:GetLoginProfile", name, e)),
    };
    let tags = tag_map(tag_list.tags());
    Ok(Some(Observed {
        owned: is_owned(&tags),
        resource: Resource::User(User {
            name: user.user_name().to_owned(),
            path: user.path().to_owned(),
            inline_policies: inline,
            tags,
            console_access,
            // Where the password lives is the config's choice, not something IAM records.
            password_secret: desired
                .map(|d| d.password_secret.clone())
                .unwrap_or_default(),
        }),
    }))
}

pub(super) async fn create_user(c: &Clients, u: &User) -> Result<(), ProvisionError> {
    let a = &c.account;
    let what = format!("user {}", u.name);
    c.iam
        .create_user()
        .user_name(&u.name)
        .path(&u.path)
        .set_tags(Some(tags(a, &what, &u.tags)?))
        .send()
        .await
        .ctx(a, "iam:CreateUser", &u.name)?;
    for (name, doc) in &u.inline_policies {
        put_user_policy(c, &u.name, name, doc).await?;
    }
    if u.console_access {
        create_login_profile(c, u).await?;
    }
    Ok(())
}

async fn put_user_policy(
    c: &Clients,
    user: &str,
    name: &str,
    doc: &serde_json::Value,
) -> Result<(), ProvisionError> {
    c.iam
        .put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
        .ctx(&c.account, "iam:PutUserPolicy", &format!("{user}/{name}"))?;
    Ok(())
}

/// A console password that must be changed at first sign-in. It is generated by Secrets
/// Manager and stored in the user's secret *before* the login profile exists, so a failure
/// in between never leaves a password nobody can read; it is never printed or logged.
async fn create_login_profile(c: &Clients, u: &User) -> Result<(), ProvisionError> {
    let password = secrets::store_new_password(c, &u.password_secret, &u.name).await?;
    c.iam
        .create_login_profile()
        .user_name(&u.name)
        .password(password.expose())
        .password_reset_required(true)
        .send()
        .await
        .ctx(&c.account, "iam:CreateLoginProfile", &u.name)?;
    Ok(())
}

pub(super) async fn update_user(c: &Clients, from: &User, to: &User) -> Result<(), ProvisionError> {
    let a = &c.account;
    let n = &to.name;
    if from.path != to.path {
        return Err(ProvisionError::Refused {
            account: a.clone(),
            resource: format!("user {n}"),
            problem: format!(
                "its path is `{}`, the config wants `{}`: move it with iam:UpdateUser or delete it and apply again",
                from.path, to.path
            ),
        });
    }
    for (name, doc) in &to.inline_policies {
        if from.inline_policies.get(name) != Some(doc) {
            put_user_policy(c, n, name, doc).await?;
        }
    }
    for name in from.inline_policies.keys() {
        if !to.inline_policies.contains_key(name) {
            c.iam
                .delete_user_policy()
                .user_name(n)
                .policy_name(name)
                .send()
                .await
                .ctx(a, "iam:DeleteUserPolicy", &format!("{n}/{name}"))?;
        }
    }
    if to.console_access && !from.console_access {
        create_login_profile(c, to).await?;
    }
    let (removed, set) = tag_changes(&from.tags, &to.tags);
    if !removed.is_empty() {
        c.iam
            .untag_user()
            .user_name(n)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .ctx(a, "iam:UntagUser", n)?;
    }
    if !set.is_empty() {
        let set: BTreeMap<String, String> = set.into_iter().collect();
        c.iam
            .tag_user()
            .user_name(n)
            .set_tags(Some(tags(a, n, &set)?))
            .send()
            .await
            .ctx(a, "iam:TagUser", n)?;
    }
    Ok(())
}

/// Deletes a break-glass user the config no longer lists. Its MFA devices are deactivated
/// (IAM refuses to delete a user that has any). Access keys are never expected on a
/// break-glass user: if one exists the deletion is refused, because it means someone
/// worked around the deny policy and the key must be investigated, not silently removed.
pub(super) async fn delete_user(c: &Clients, u: &User) -> Result<(), ProvisionError> {
    let a = &c.account;
    let n = &u.name;
    let keys =
        c.iam
            .list_access_keys()
            .user_name(n)
            .send()
            .await
            .ctx(a, "iam:ListAccessKeys", n)?;
    if !keys.access_key_metadata().is_empty() {
        return Err(ProvisionError::Refused {
            account: a.clone(),
            resource: format!("user {n}"),
            problem: "it has access keys, which break-glass users must never have: investigate and delete them, then apply again".to_owned(),
        });
    }
    let devices =
        c.iam
            .list_mfa_devices()
            .user_name(n)
            .send()
            .await
            .ctx(a, "iam:ListMFADevices", n)?;
    for device in devices.mfa_devices() {
        c.iam
            .deactivate_mfa_device()
            .user_name(n)
            .serial_number(device.serial_number())
            .send()
            .await
            .ctx(a, "iam:DeactivateMFADevice", n)?;
    }
    if u.console_access {
        c.iam.delete_login_profile().user_name(n).send().await.ctx(
            a,
            "iam:DeleteLoginProfile",
            n,
        )?;
    }
    for name in u.inline_policies.keys() {
        c.iam
            .delete_user_policy()
            .user_name(n)
            .policy_name(name)
            .send()
            .await
            .ctx(a, "iam:DeleteUserPolicy", &format!("{n}/{name}"))?;
    }
    c.iam
        .delete_user()
        .user_name(n)
        .send()
        .await
        .ctx(a, "iam:DeleteUser", n)?;
    Ok(())
}

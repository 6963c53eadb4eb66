//! Customer-managed IAM policies (the guardrails): read into the resource vocabulary and
//! converged. A managed policy changes by a new default version; IAM keeps at most five, so
//! the oldest non-default one goes first when five exist.

use std::collections::BTreeSet;

use breakglass_config::diff::Observed;
use breakglass_config::resources::{AccountState, ManagedPolicy, Resource};
use breakglass_config::templates::guardrails::GUARDRAIL_PATH;

use super::error::CallResult;
use super::{Clients, ProvisionError, is_owned, policy_document, tag_changes};

use super::{iam_tag_map as tag_map, iam_tags as tags};

/// The most versions IAM keeps of one managed policy.
const MAX_VERSIONS: usize = 5;

fn arn(c: &Clients, name: &str, path: &str) -> String {
    format!("arn:{}:iam::{}:policy{path}{name}", c.partition, c.account)
}

/// Every desired policy that exists, and every owned policy under breakglass's path.
pub(super) async fn observe(
    c: &Clients,
    state: &AccountState,
) -> Result<Vec<Observed>, ProvisionError> {
    let mut arns: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::Policy(p) => Some(arn(c, &p.name, &p.path)),
            _ => None,
        })
        .collect();
    let listed: Vec<_> = c
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .path_prefix(GUARDRAIL_PATH)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(&c.account, "iam:ListPolicies", GUARDRAIL_PATH)?;
    arns.extend(listed.iter().filter_map(|p| p.arn().map(str::to_owned)));
    let mut out = Vec::new();
    for policy_arn in arns {
        if let Some(observed) = read(c, &policy_arn).await? {
            let desired = state.resources.iter().any(
                |r| matches!(r, Resource::Policy(d) if arn(c, &d.name, &d.path) == policy_arn),
            );
            if desired || observed.owned {
                out.push(observed);
            }
        }
    }
    Ok(out)
}

async fn read(c: &Clients, policy_arn: &str) -> Result<Option<Observed>, ProvisionError> {
    let a = &c.account;
    let got = match c.iam.get_policy().policy_arn(policy_arn).send().await {
        Ok(got) => got,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(super::error::call_error(a, "iam:GetPolicy", policy_arn, e)),
    };
    let Some(policy) = got.policy() else {
        return Ok(None);
    };
    let version = policy.default_version_id().unwrap_or("v1");
    let doc = c
        .iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(version)
        .send()
        .await
        .ctx(a, "iam:GetPolicyVersion", policy_arn)?;
    let text = doc
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or("{}");
    let listed_tags = c
        .iam
        .list_policy_tags()
        .policy_arn(policy_arn)
        .send()
        .await
        .ctx(a, "iam:ListPolicyTags", policy_arn)?;
    let tags = tag_map(listed_tags.tags());
    Ok(Some(Observed {
        owned: is_owned(&tags),
        resource: Resource::Policy(ManagedPolicy {
            name: policy.policy_name().unwrap_or_default().to_owned(),
            path: policy.path().unwrap_or("/").to_owned(),
            description: policy.description().unwrap_or_default().to_owned(),
            document: policy_document(a, policy_arn, text)?,
            tags,
        }),
    }))
}

pub(super) async fn create(c: &Clients, p: &ManagedPolicy) -> Result<(), ProvisionError> {
    let a = &c.account;
    c.iam
        .create_policy()
        .policy_name(&p.name)
        .path(&p.path)
        .description(&p.description)
        .policy_document(p.document.to_string())
        .set_tags(Some(tags(a, &p.name, &p.tags)?))
        .send()
        .await
        .ctx(a, "iam:CreatePolicy", &p.name)?;
    Ok(())
}

pub(super) async fn update(
    c: &Clients,
    from: &ManagedPolicy,
    to: &ManagedPolicy,
) -> Result<(), ProvisionError> {
    let a = &c.account;
    let policy_arn = arn(c, &to.name, &to.path);
    if from.path != to.path {
        return Err(ProvisionError::Refused {
            account: a.clone(),
            resource: format!("policy {}", to.name),
            problem: format!(
                "its path is `{}`, the config wants `{}`; IAM cannot move a policy: delete it and apply again",
                from.path, to.path
            ),
        });
    }
    if from.document != to.document {
        let versions = c
            .iam
            .list_policy_versions()
            .policy_arn(&policy_arn)
            .send()
            .await
            .ctx(a, "iam:ListPolicyVersions", &policy_arn)?;
        let mut old: Vec<_> = versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .collect();
        if versions.versions().len() >= MAX_VERSIONS {
            old.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
            if let Some(oldest) = old.first().and_then(|v| v.version_id()) {
                c.iam
                    .delete_policy_version()
                    .policy_arn(&policy_arn)
                    .version_id(oldest)
                    .send()
                    .await
                    .ctx(a, "iam:DeletePolicyVersion", &policy_arn)?;
            }
        }
        c.iam
            .create_policy_version()
            .policy_arn(&policy_arn)
            .policy_document(to.document.to_string())
            .set_as_default(true)
            .send()
            .await
            .ctx(a, "iam:CreatePolicyVersion", &policy_arn)?;
    }
    let (removed, set) = tag_changes(&from.tags, &to.tags);
    if !removed.is_empty() {
        c.iam
            .untag_policy()
            .policy_arn(&policy_arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .ctx(a, "iam:UntagPolicy", &policy_arn)?;
    }
    if !set.is_empty() {
        let set = set.into_iter().collect();
        c.iam
            .tag_policy()
            .policy_arn(&policy_arn)
            .set_tags(Some(tags(a, &to.name, &set)?))
            .send()
            .await
            .ctx(a, "iam:TagPolicy", &policy_arn)?;
    }
    Ok(())
}

/// Deletes the policy and its old versions. Deletions run dependents first, so the roles it
/// was attached to have been updated or deleted already.
pub(super) async fn delete(c: &Clients, p: &ManagedPolicy) -> Result<(), ProvisionError> {
    let a = &c.account;
    let policy_arn = arn(c, &p.name, &p.path);
    let versions = c
        .iam
        .list_policy_versions()
        .policy_arn(&policy_arn)
        .send()
        .await
        .ctx(a, "iam:ListPolicyVersions", &policy_arn)?;
    for version in versions.versions() {
        if let (false, Some(id)) = (version.is_default_version(), version.version_id()) {
            c.iam
                .delete_policy_version()
                .policy_arn(&policy_arn)
                .version_id(id)
                .send()
                .await
                .ctx(a, "iam:DeletePolicyVersion", &policy_arn)?;
        }
    }
    c.iam
        .delete_policy()
        .policy_arn(&policy_arn)
        .send()
        .await
        .ctx(a, "iam:DeletePolicy", &policy_arn)?;
    Ok(())
}

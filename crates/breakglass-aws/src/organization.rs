//! AWS Organizations calls for the revoked-responders Service Control Policy, shared by
//! `apply` (create and attach it, [`crate::provision::organization`]) and the running broker
//! (read and rewrite its content, [`crate::cloud::AwsCloud`]). No decisions here: which
//! content, and that provisioning never rewrites it, are decided by the callers' callers.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::{PolicyType, Tag};

/// Why an Organizations call failed: the operation, the service's error code if any, and
/// the SDK's message with its causes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct OrgError {
    /// The operation, e.g. `organizations:UpdatePolicy`.
    pub operation: &'static str,
    /// The service's error code (`AccessDeniedException`, ...).
    pub code: Option<String>,
    /// The SDK's message.
    pub message: String,
}

fn org_error<E, R>(operation: &'static str, e: SdkError<E, R>) -> OrgError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    OrgError {
        operation,
        code: e.code().map(str::to_owned),
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// A service control policy found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPolicy {
    /// Its id (`p-…`).
    pub id: String,
    /// Its ARN.
    pub arn: String,
}

/// The service control policy named `name`, if the organisation has one.
pub async fn find(client: &Client, name: &str) -> Result<Option<FoundPolicy>, OrgError> {
    let pages = client
        .list_policies()
        .filter(PolicyType::ServiceControlPolicy)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| org_error("organizations:ListPolicies", e))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.policies())
        .find(|p| p.name() == Some(name))
        .and_then(|p| {
            Some(FoundPolicy {
                id: p.id()?.to_owned(),
                arn: p.arn().unwrap_or_default().to_owned(),
            })
        }))
}

/// The content of policy `id`.
pub async fn content(client: &Client, id: &str) -> Result<String, OrgError> {
    let out = client
        .describe_policy()
        .policy_id(id)
        .send()
        .await
        .map_err(|e| org_error("organizations:DescribePolicy", e))?;
    Ok(out
        .policy()
        .and_then(|p| p.content())
        .unwrap_or_default()
        .to_owned())
}

/// Replaces the content of policy `id`.
pub async fn update(client: &Client, id: &str, content: &str) -> Result<(), OrgError> {
    client
        .update_policy()
        .policy_id(id)
        .content(content)
        .send()
        .await
        .map_err(|e| org_error("organizations:UpdatePolicy", e))?;
    Ok(())
}

/// Creates a service control policy with `tags`; returns it.
pub async fn create(
    client: &Client,
    name: &str,
    description: &str,
    content: &str,
    tags: &[(&str, &str)],
) -> Result<FoundPolicy, OrgError> {
    let mut call = client
        .create_policy()
        .name(name)
        .description(description)
        .content(content)
        .r#type(PolicyType::ServiceControlPolicy);
    for (k, v) in tags {
        let tag = Tag::builder()
            .key(*k)
            .value(*v)
            .build()
            .map_err(|e| OrgError {
                operation: "organizations:CreatePolicy",
                code: None,
                message: e.to_string(),
            })?;
        call = call.tags(tag);
    }
    let out = call
        .send()
        .await
        .map_err(|e| org_error("organizations:CreatePolicy", e))?;
    let summary = out.policy().and_then(|p| p.policy_summary());
    Ok(FoundPolicy {
        id: summary.and_then(|s| s.id()).unwrap_or_default().to_owned(),
        arn: summary.and_then(|s| s.arn()).unwrap_or_default().to_owned(),
    })
}

/// The tags of policy `id`.
pub async fn tags(client: &Client, id: &str) -> Result<Vec<(String, String)>, OrgError> {
    let out = client
        .list_tags_for_resource()
        .resource_id(id)
        .send()
        .await
        .map_err(|e| org_error("organizations:ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect())
}

/// The ids of the roots, organizational units and accounts policy `id` is attached to.
pub async fn targets(client: &Client, id: &str) -> Result<Vec<String>, OrgError> {
    let pages = client
        .list_targets_for_policy()
        .policy_id(id)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| org_error("organizations:ListTargetsForPolicy", e))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.targets())
        .filter_map(|t| t.target_id().map(str::to_owned))
        .collect())
}

/// Attaches policy `id` to `target`.
pub async fn attach(client: &Client, id: &str, target: &str) -> Result<(), OrgError> {
    client
        .attach_policy()
        .policy_id(id)
        .target_id(target)
        .send()
        .await
        .map_err(|e| org_error("organizations:AttachPolicy", e))?;
    Ok(())
}

/// The organisation's root ids.
pub async fn roots(client: &Client) -> Result<Vec<String>, OrgError> {
    let pages = client
        .list_roots()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| org_error("organizations:ListRoots", e))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.roots())
        .filter_map(|r| r.id().map(str::to_owned))
        .collect())
}

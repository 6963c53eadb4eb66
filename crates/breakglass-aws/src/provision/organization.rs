//! `apply` for the organisation's revoked-responders SCP: in the management account, create
//! the policy if it is missing (listing no responder) and attach it where the config says
//! (the root by default). Its content is never rewritten here: it belongs to the running
//! broker, and a rerun must not let a revoked responder back in.

use std::fmt;

use aws_config::{Region, SdkConfig};
use breakglass_config::Config;
use breakglass_config::templates::organization::{DESCRIPTION, POLICY_NAME, initial_content};
use breakglass_config::templates::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

use super::{ProvisionError, Provisioner, SESSION_NAME};
use crate::organization::{self, FoundPolicy, OrgError};
use crate::sdk::{self, SdkError};

/// One change to the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgChange {
    /// Create the policy.
    Create,
    /// Attach it to a root, organizational unit or account.
    Attach(String),
    /// A policy of that name exists without the ownership mark: left alone.
    Unowned,
}

/// What the management account holds and needs.
#[derive(Debug, Clone)]
pub struct OrganizationPlan {
    /// The management account.
    pub account: String,
    /// The changes, in order.
    pub changes: Vec<OrgChange>,
    policy: Option<FoundPolicy>,
    client: aws_sdk_organizations::Client,
}

impl fmt::Display for OrganizationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "organization (management account {})", self.account)?;
        if self.changes.is_empty() {
            return writeln!(f, "  no changes");
        }
        for change in &self.changes {
            match change {
                OrgChange::Create => writeln!(f, "  + scp {POLICY_NAME}")?,
                OrgChange::Attach(target) => {
                    writeln!(f, "  + scp {POLICY_NAME} attached to {target}")?;
                }
                OrgChange::Unowned => writeln!(
                    f,
                    "  ! scp {POLICY_NAME} exists but lacks the `{MANAGED_BY_TAG}` mark: left alone"
                )?,
            }
        }
        Ok(())
    }
}

fn call(account: &str, e: OrgError) -> ProvisionError {
    ProvisionError::Call {
        account: account.to_owned(),
        operation: e.operation,
        resource: format!("scp {POLICY_NAME}"),
        detail: e.message.clone(),
        message: e.message,
    }
}

impl Provisioner {
    /// The Organizations client of the management account: the caller's own credentials
    /// when it is the caller's account, otherwise the deploy role's there.
    async fn management(
        &self,
        config: &Config,
        account: &str,
    ) -> Result<SdkConfig, ProvisionError> {
        if account == self.caller_account() {
            return Ok(self.base.clone());
        }
        let id = breakglass_core::model::AccountId::new(account).map_err(|e| {
            ProvisionError::Refused {
                account: account.to_owned(),
                resource: "organization".to_owned(),
                problem: e.to_string(),
            }
        })?;
        let role = config
            .role_arn(&config.deploy.role, &id)
            .map(|a| a.to_string())
            .unwrap_or_default();
        sdk::assume_role(&self.base, &role, SESSION_NAME, account)
            .await
            .map_err(|e| match e {
                SdkError::AssumeRole { role, message } => ProvisionError::DeployRole {
                    account: account.to_owned(),
                    name: "organization".to_owned(),
                    role,
                    message,
                },
                other => ProvisionError::Sdk(other),
            })
    }

    /// Reads the management account the config names and works out what the
    /// revoked-responders SCP needs; `None` when the config names none. Changes nothing.
    pub async fn plan_organization(
        &self,
        config: &Config,
    ) -> Result<Option<OrganizationPlan>, ProvisionError> {
        let Some(org) = &config.organization else {
            return Ok(None);
        };
        let account = org.management_account.to_string();
        let sdk_config = self.management(config, &account).await?;
        // Organizations is a global service whose endpoint lives in us-east-1.
        let sdk_config = sdk_config
            .to_builder()
            .region(Region::new("us-east-1"))
            .build();
        let client = aws_sdk_organizations::Client::new(&sdk_config);
        let policy = organization::find(&client, POLICY_NAME)
            .await
            .map_err(|e| call(&account, e))?;
        let mut changes = Vec::new();
        let attached = match &policy {
            None => {
                changes.push(OrgChange::Create);
                Vec::new()
            }
            Some(p) => {
                let tags = organization::tags(&client, &p.id)
                    .await
                    .map_err(|e| call(&account, e))?;
                if !tags
                    .iter()
                    .any(|(k, v)| k == MANAGED_BY_TAG && v == MANAGED_BY_VALUE)
                {
                    changes.push(OrgChange::Unowned);
                    return Ok(Some(OrganizationPlan {
                        account,
                        changes,
                        policy,
                        client,
                    }));
                }
                organization::targets(&client, &p.id)
                    .await
                    .map_err(|e| call(&account, e))?
            }
        };
        let wanted = if org.targets.is_empty() {
            organization::roots(&client)
                .await
                .map_err(|e| call(&account, e))?
        } else {
            org.targets.clone()
        };
        for target in wanted {
            if !attached.contains(&target) {
                changes.push(OrgChange::Attach(target));
            }
        }
        Ok(Some(OrganizationPlan {
            account,
            changes,
            policy,
            client,
        }))
    }

    /// Carries out the organisation's changes; returns how many were made.
    pub async fn apply_organization(
        &self,
        plan: &OrganizationPlan,
    ) -> Result<usize, ProvisionError> {
        let account = &plan.account;
        let mut policy = plan.policy.clone();
        let mut done = 0;
        for change in &plan.changes {
            match change {
                OrgChange::Unowned => continue,
                OrgChange::Create => {
                    let content = serde_json::to_string(&initial_content()).unwrap_or_default();
                    let created = organization::create(
                        &plan.client,
                        POLICY_NAME,
                        DESCRIPTION,
                        &content,
                        &[(MANAGED_BY_TAG, MANAGED_BY_VALUE)],
                    )
                    .await
                    .map_err(|e| call(account, e))?;
                    policy = Some(created);
                }
                OrgChange::Attach(target) => {
                    let Some(p) = &policy else { continue };
                    organization::attach(&plan.client, &p.id, target)
                        .await
                        .map_err(|e| call(account, e))?;
                }
            }
            done += 1;
        }
        Ok(done)
    }
}

//! The organisation's revoked-responders SCP for other tools: a CloudFormation template and
//! a Terraform module for the management account, rendered whether or not the config names
//! it (the account's id and the targets are then left to the person deploying).
//!
//! The broker rewrites the policy's content at every revocation. Terraform is told to leave
//! the content alone (`ignore_changes`); CloudFormation cannot be, so the template's
//! description says not to update the stack once the broker runs.

use serde_json::{Value, json};

use super::super::Config;
use crate::templates::MANAGED_BY_TAG;
use crate::templates::MANAGED_BY_VALUE;
use crate::templates::organization::{DESCRIPTION, POLICY_NAME, POLICY_TYPE, initial_content};

/// The CloudFormation template: the policy, attached to the `TargetIds` parameter (the
/// config's targets by default, else to be given: CloudFormation cannot look the root up).
pub fn cloudformation(config: &Config) -> Value {
    let org = config.organization.as_ref();
    let mut targets = json!({
        "Type": "CommaDelimitedList",
        "Description": "The root (r-...), organizational units (ou-...) or accounts the policy is attached to"
    });
    if let (Some(o), Value::Object(map)) = (org.filter(|o| !o.targets.is_empty()), &mut targets) {
        map.insert("Default".to_owned(), Value::String(o.targets.join(",")));
    }
    let account = org.map_or_else(
        || "the organisation's management account".to_owned(),
        |o| format!("management account {}", o.management_account),
    );
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "breakglass revoked-responders SCP. Deploy once in {account}, as stack breakglass-organization. The broker rewrites the policy's content at every revocation: do not update this stack while it runs, or revoked responders are let back in."
        ),
        "Parameters": { "TargetIds": targets },
        "Resources": {
            "BreakglassRevokedResponders": {
                "Type": "AWS::Organizations::Policy",
                "Properties": {
                    "Name": POLICY_NAME,
                    "Description": DESCRIPTION,
                    "Type": POLICY_TYPE,
                    "Content": initial_content(),
                    "TargetIds": { "Ref": "TargetIds" },
                    "Tags": [{ "Key": MANAGED_BY_TAG, "Value": MANAGED_BY_VALUE }]
                }
            }
        }
    })
}

/// The Terraform module: the policy (its content ignored after creation, since the broker
/// owns it) and one attachment per target, the organisation's root when none is configured.
pub fn terraform(config: &Config) -> Value {
    let org = config.organization.as_ref();
    let policy_ref = "${aws_organizations_policy.breakglass_revoked_responders.id}";
    let content = serde_json::to_string(&initial_content()).unwrap_or_default();
    let mut provider = json!({ "region": "us-east-1" });
    if let (Some(o), Value::Object(map)) = (org, &mut provider) {
        map.insert(
            "allowed_account_ids".to_owned(),
            json!([o.management_account.as_str()]),
        );
    }
    let mut attachments = serde_json::Map::new();
    let mut module = serde_json::Map::new();
    match org.map(|o| o.targets.as_slice()).unwrap_or_default() {
        [] => {
            module.insert(
                "data".to_owned(),
                json!({ "aws_organizations_organization": { "this": {} } }),
            );
            attachments.insert(
                "root".to_owned(),
                json!({
                    "policy_id": policy_ref,
                    "target_id": "${data.aws_organizations_organization.this.roots[0].id}"
                }),
            );
        }
        targets => {
            for target in targets {
                attachments.insert(
                    target.replace('-', "_"),
                    json!({ "policy_id": policy_ref, "target_id": target }),
                );
            }
        }
    }
    module.insert("provider".to_owned(), json!({ "aws": [provider] }));
    module.insert(
        "resource".to_owned(),
        json!({
            "aws_organizations_policy": {
                "breakglass_revoked_responders": {
                    "name": POLICY_NAME,
                    "description": DESCRIPTION,
                    "type": POLICY_TYPE,
                    "content": content,
                    "tags": { MANAGED_BY_TAG: MANAGED_BY_VALUE },
                    "lifecycle": [{ "ignore_changes": ["content"] }]
                }
            },
            "aws_organizations_policy_attachment": attachments
        }),
    );
    Value::Object(module)
}

//! Raw IAM JSON: every policy document as a file, for teams that feed another tool or want
//! to read exactly what will be attached.

use serde_json::{Value, json};

use super::super::Config;
use super::super::resources::{DesiredState, Resource};
use super::{RenderedFile, file};

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// `iam/<account>/policies/<policy>.json`, `iam/<account>/roles/<role>/...`,
/// `iam/<account>/users/<user>/...` and
/// `iam/session-policies/<playbook>.json`.
pub fn files(config: &Config, state: &DesiredState) -> Vec<RenderedFile> {
    let mut out = Vec::new();
    for account in &state.accounts {
        let base = format!("iam/{}", account.name);
        for r in &account.resources {
            match r {
                Resource::Policy(policy) => {
                    out.push(file(
                        format!("{base}/policies/{}.json", policy.name),
                        pretty(&policy.document),
                    ));
                }
                Resource::Role(role) => {
                    let dir = format!("{base}/roles/{}", role.name);
                    out.push(file(
                        format!("{dir}/role.json"),
                        pretty(&json!({
                            "RoleName": role.name,
                            "Path": role.path,
                            "Description": role.description,
                            "MaxSessionDuration": role.max_session_duration,
                            "PermissionsBoundary": role.permissions_boundary,
                            "ManagedPolicyArns": role.managed_policies,
                            "Tags": role.tags,
                        })),
                    ));
                    out.push(file(
                        format!("{dir}/trust-policy.json"),
                        pretty(&role.trust_policy),
                    ));
                    for (name, doc) in &role.inline_policies {
                        out.push(file(format!("{dir}/inline/{name}.json"), pretty(doc)));
                    }
                }
                Resource::User(user) => {
                    let dir = format!("{base}/users/{}", user.name);
                    out.push(file(
                        format!("{dir}/user.json"),
                        pretty(&json!({
                            "UserName": user.name,
                            "Path": user.path,
                            "ConsoleAccess": user.console_access,
                            "PasswordResetRequired": true,
                            "PasswordSecret": user.password_secret,
                            "Tags": user.tags,
                        })),
                    ));
                    for (name, doc) in &user.inline_policies {
                        out.push(file(format!("{dir}/inline/{name}.json"), pretty(doc)));
                    }
                }
                _ => {}
            }
        }
    }
    for playbook in &config.playbooks {
        let doc: Value =
            serde_json::from_str(playbook.session_policy.as_str()).unwrap_or(Value::Null);
        out.push(file(
            format!("iam/session-policies/{}.json", playbook.id),
            pretty(&doc),
        ));
    }
    out
}

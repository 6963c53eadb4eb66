//! Roles: a built-in template merged with the config's overrides, each override checked
//! (ARNs, policy documents through the policy engine, durations, tags, quotas).

use std::collections::BTreeMap;

use breakglass_core::model::{AccountId, RoleName};
use breakglass_iam::PolicyType;
use breakglass_iam::size::{self, Limit};
use serde_json::Value;

use super::super::raw::{RawConfig, RawRole, RawTrust};
use super::super::spans::FieldPath;
use super::super::{AccountConfig, RoleConfig};
use super::{
    MAX_TAGS, MIN_ROLE_SESSION, Validator, check_iam_arn, is_iam_name_char, root, strip_position,
};
use crate::templates::TemplateContext;
use crate::templates::roles::{ROLE_TEMPLATES, role_template};
use crate::templates::trust::Trust;

impl Validator {
    pub(super) fn roles(
        &mut self,
        raw: &RawConfig,
        ctx: &TemplateContext,
        accounts: &[AccountConfig],
        security: Option<&AccountId>,
    ) -> Vec<RoleConfig> {
        let base = root().key("roles");
        let mut out = Vec::new();
        for (name, role) in &raw.roles {
            let path = base.key(name);
            let config = self
                .id(&path, RoleName::new(name.as_str()))
                .and_then(|role_name| self.role(&path, role_name, role, ctx, accounts, security));
            match config {
                Some(config) => out.push(config),
                None => {
                    self.broken_roles.insert(name.clone());
                }
            }
        }
        out
    }

    fn role(
        &mut self,
        path: &FieldPath,
        name: RoleName,
        raw: &RawRole,
        ctx: &TemplateContext,
        accounts: &[AccountConfig],
        security: Option<&AccountId>,
    ) -> Option<RoleConfig> {
        let template = match &raw.template {
            Some(t) => match role_template(t, ctx) {
                Some(template) => Some(template),
                None => {
                    self.push(
                        &path.key("template"),
                        format!(
                            "unknown role template `{t}`: expected one of {}",
                            ROLE_TEMPLATES
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                }
            },
            None => None,
        };
        let description = raw
            .description
            .clone()
            .or_else(|| template.as_ref().map(|t| t.description.to_owned()))
            .unwrap_or_default();
        if description.chars().count() > 1000 {
            self.push(
                &path.key("description"),
                "the description is longer than IAM's 1,000 characters",
            );
        }
        let managed_policies = match &raw.managed_policies {
            Some(arns) => {
                for (i, arn) in arns.iter().enumerate() {
                    if let Err(msg) = check_iam_arn(arn, &ctx.partition, &["policy"]) {
                        self.push(&path.key("managed_policies").index(i), msg);
                    }
                }
                arns.clone()
            }
            None => template
                .as_ref()
                .map(|t| t.managed_policies.clone())
                .unwrap_or_default(),
        };
        if managed_policies.len() > 20 {
            self.push(
                &path.key("managed_policies"),
                "IAM allows at most 20 managed policies per role",
            );
        }
        let mut inline_policies: BTreeMap<String, Value> = template
            .as_ref()
            .map(|t| t.inline_policies.iter().cloned().collect())
            .unwrap_or_default();
        for (policy_name, text) in &raw.inline_policies {
            let ppath = path.key("inline_policies").key(policy_name);
            if policy_name.is_empty()
                || policy_name.len() > 128
                || !policy_name.chars().all(is_iam_name_char)
            {
                self.push(
                    &ppath,
                    format!(
                        "inline policy name `{policy_name}`: 1–128 of letters, digits and _+=,.@-"
                    ),
                );
            }
            if let Some(doc) = self.policy_json(&ppath, text)
                && self.valid_policy(&ppath, &doc, PolicyType::Identity)
            {
                inline_policies.insert(policy_name.clone(), doc);
            }
        }
        let texts: Vec<String> = inline_policies.values().map(Value::to_string).collect();
        if let Err(too_large) = size::check_total(
            &format!("the inline policies of role `{name}`"),
            texts.iter().map(String::as_str),
            Limit::RoleInline,
        ) {
            self.push(&path.key("inline_policies"), too_large.to_string());
        }
        let permissions_boundary = match raw.permissions_boundary.as_deref() {
            Some("none") => None,
            Some(arn) => {
                if let Err(msg) = check_iam_arn(arn, &ctx.partition, &["policy"]) {
                    self.push(&path.key("permissions_boundary"), msg);
                }
                Some(arn.to_owned())
            }
            None => template
                .as_ref()
                .and_then(|t| t.permissions_boundary.clone()),
        };
        let max_session_duration = match &raw.max_session_duration {
            Some(text) => self.duration(&path.key("max_session_duration"), text, MIN_ROLE_SESSION),
            None => match &template {
                Some(t) => Some(t.max_session_duration),
                None => {
                    self.push(
                        &path.key("max_session_duration"),
                        "a role without a template needs `max_session_duration`",
                    );
                    None
                }
            },
        };
        self.tags(&path.key("tags"), &raw.tags);
        let role_accounts = match &raw.accounts {
            Some(names) => self.account_refs(&path.key("accounts"), names, accounts),
            None => accounts
                .iter()
                .filter(|a| Some(&a.id) != security)
                .map(|a| a.id.clone())
                .collect(),
        };
        let lost_to_broken = match &raw.accounts {
            Some(names) => names.iter().any(|n| self.broken_accounts.contains(n)),
            None => !self.broken_accounts.is_empty(),
        };
        if role_accounts.is_empty() && !lost_to_broken {
            self.push(&path.key("accounts"), "the role is deployed to no account");
        }
        let trust: Vec<Trust> = match &raw.trust {
            Some(kinds) => kinds
                .iter()
                .map(|k| match k {
                    RawTrust::Broker => Trust::Broker,
                    RawTrust::BreakGlassUsers => Trust::BreakGlassUsers,
                    RawTrust::Deployers => Trust::Deployers,
                })
                .collect(),
            None => template
                .as_ref()
                .map(|t| t.trust.clone())
                .unwrap_or_else(|| vec![Trust::Broker]),
        };
        if trust.is_empty() {
            self.push(
                &path.key("trust"),
                "a role must trust at least one kind of principal",
            );
        }
        let break_glass = raw
            .break_glass
            .or_else(|| template.as_ref().map(|t| t.break_glass))
            .unwrap_or(false);
        Some(RoleConfig {
            name,
            template: raw.template.clone(),
            description,
            managed_policies,
            inline_policies,
            permissions_boundary,
            max_session_duration: max_session_duration?,
            tags: raw.tags.clone(),
            accounts: role_accounts,
            trust,
            break_glass,
        })
    }

    /// Whether `doc` is a valid IAM policy of type `ty`; every problem is reported with its
    /// JSON pointer.
    pub(super) fn valid_policy(&mut self, path: &FieldPath, doc: &Value, ty: PolicyType) -> bool {
        match breakglass_iam::parse_value(doc, ty) {
            Ok(_) => true,
            Err(errors) => {
                for error in &errors {
                    self.push(path, format!("invalid {} policy: {error}", ty.name()));
                }
                false
            }
        }
    }

    pub(super) fn policy_json(&mut self, path: &FieldPath, text: &str) -> Option<Value> {
        match serde_json::from_str::<Value>(text) {
            Ok(doc) if doc.is_object() => Some(doc),
            Ok(_) => {
                self.push(path, "a policy document must be a JSON object");
                None
            }
            Err(err) => {
                self.push(
                    path,
                    format!(
                        "not valid JSON: {} (line {}, column {} of the policy text)",
                        strip_position(&err.to_string()),
                        err.line(),
                        err.column()
                    ),
                );
                None
            }
        }
    }

    fn tags(&mut self, path: &FieldPath, tags: &BTreeMap<String, String>) {
        if tags.len() > MAX_TAGS - 5 {
            self.push(
                path,
                format!(
                    "at most {} tags (IAM allows {MAX_TAGS}; breakglass adds its own)",
                    MAX_TAGS - 5
                ),
            );
        }
        // IAM tags take the same characters as session tags: one definition of them.
        let tag_char = breakglass_core::aws_limits::is_tag_char;
        for (key, value) in tags {
            let tpath = path.key(key);
            if key.is_empty() || key.chars().count() > 128 || !key.chars().all(tag_char) {
                self.push(
                    &tpath,
                    format!("tag key `{key}`: 1–128 letters, digits, spaces and _.:/=+-@"),
                );
            }
            let lower = key.to_ascii_lowercase();
            if lower.starts_with("aws:") || lower.starts_with("breakglass:") {
                self.push(
                    &tpath,
                    format!("tag key `{key}`: the `aws:` and `breakglass:` prefixes are reserved"),
                );
            }
            if value.chars().count() > 256 || !value.chars().all(tag_char) {
                self.push(
                    &tpath,
                    format!(
                        "tag value `{value}`: at most 256 letters, digits, spaces and _.:/=+-@"
                    ),
                );
            }
        }
    }
}

//! Lint: constructs that are valid IAM but broken, risky or against least privilege. Each
//! finding has a stable code, a severity, the JSON pointer of the offending element and a
//! one-line fix hint.
//!
//! Checks that need to know which actions and keys exist (unknown actions, wildcards that
//! match nothing, write access on `*`, key types) use a [`Catalog`] when one is given; the
//! others work on the policy alone.

use std::fmt;

use crate::catalog::Catalog;
use crate::compile::CompiledPolicy;
use crate::json::Pointer;
use crate::keys::{KeyType, global_key_type};
use crate::operator::{BaseOperator, Family, SetOperator};
use crate::policy::{Effect, Policy, Principal, PrincipalKind, Statement, Version};
use crate::policy_type::PolicyType;
use crate::size::{self, Limit};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Broken: AWS rejects it, or it cannot do what it says.
    Error,
    /// Risky or against least privilege.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// A stable code such as `unknown-action`.
    pub code: &'static str,
    pub severity: Severity,
    /// Where (`/Statement/1/Action/3`).
    #[serde(serialize_with = "pointer_text")]
    pub pointer: Pointer,
    /// What is wrong.
    pub message: String,
    /// How to fix it, in one line.
    pub hint: String,
}

fn pointer_text<S: serde::Serializer>(p: &Pointer, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_root() {
            "/"
        } else {
            self.pointer.as_str()
        };
        write!(
            f,
            "{} [{}] {at}: {} (hint: {})",
            self.severity, self.code, self.message, self.hint
        )
    }
}

/// Actions that let a principal raise its own privileges when granted on `*`.
const ESCALATION: &[&str] = &[
    "iam:PassRole",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AddUserToGroup",
    "iam:DeleteUserPermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "sts:AssumeRole",
];

/// Verbs that change state, for write detection without a catalog.
const WRITE_VERBS: &[&str] = &[
    "put",
    "create",
    "delete",
    "update",
    "attach",
    "detach",
    "modify",
    "set",
    "add",
    "remove",
    "terminate",
    "stop",
    "start",
    "run",
    "revoke",
    "authorize",
    "tag",
    "untag",
    "enable",
    "disable",
    "reboot",
    "replace",
    "associate",
    "disassociate",
    "import",
    "copy",
    "restore",
    "reset",
    "change",
    "send",
    "invoke",
    "upload",
    "pass",
    "assume",
    "deregister",
    "register",
    "close",
    "cancel",
    "execute",
    "restart",
    "release",
];

/// Lints a validated policy of type `ty`. Sizes are measured on the compact JSON form,
/// which is what breakglass sends to AWS.
pub fn lint(policy: &Policy, ty: PolicyType, catalog: Option<&Catalog>) -> Vec<Finding> {
    let mut l = Linter {
        out: Vec::new(),
        ty,
        catalog,
        compiled: CompiledPolicy::new(policy),
    };
    l.document(policy);
    for (i, statement) in policy.statements.iter().enumerate() {
        l.statement(i, statement, policy);
    }
    l.out
}

struct Linter<'a> {
    out: Vec<Finding>,
    ty: PolicyType,
    catalog: Option<&'a Catalog>,
    compiled: CompiledPolicy,
}

impl Linter<'_> {
    fn push(
        &mut self,
        code: &'static str,
        severity: Severity,
        pointer: Pointer,
        message: String,
        hint: impl Into<String>,
    ) {
        self.out.push(Finding {
            code,
            severity,
            pointer,
            message,
            hint: hint.into(),
        });
    }

    fn document(&mut self, policy: &Policy) {
        let root = Pointer::root();
        match policy.version {
            None => self.push(
                "missing-version",
                Severity::Warning,
                root.clone(),
                "no `Version`: AWS reads the policy as `2008-10-17`, where policy variables are literal text".into(),
                "add `\"Version\": \"2012-10-17\"`",
            ),
            Some(Version::V2008_10_17) => {
                let uses_vars = policy.to_compact_string().contains("${");
                self.push(
                    "old-version",
                    if uses_vars { Severity::Error } else { Severity::Warning },
                    root.key("Version"),
                    if uses_vars {
                        "`2008-10-17` does not substitute policy variables, and this policy uses them".into()
                    } else {
                        "`2008-10-17` is the legacy policy language".into()
                    },
                    "use `\"Version\": \"2012-10-17\"`",
                );
            }
            Some(Version::V2012_10_17) => {}
        }
        if policy.id.is_some()
            && matches!(
                self.ty,
                PolicyType::Identity | PolicyType::Session | PolicyType::Boundary
            )
        {
            self.push(
                "id-in-identity-policy",
                Severity::Warning,
                root.key("Id"),
                "`Id` is meant for resource-based policies; IAM documents it as not allowed in identity-based policies".into(),
                "remove `Id`",
            );
        }
        if let Some(limit) = Limit::for_type(self.ty) {
            let text = policy.to_compact_string();
            if let Err(e) = size::check(&format!("this {} policy", self.ty), &text, limit) {
                self.push(
                    "policy-too-large",
                    Severity::Error,
                    root.clone(),
                    e.to_string(),
                    "split the policy, or drop statements the role does not need",
                );
            }
        }
        let iam_rules = self.ty.is_iam_stored() || self.ty == PolicyType::Scp;
        let mut seen: Vec<&str> = Vec::new();
        for statement in &policy.statements {
            let Some(sid) = statement.sid.as_deref() else {
                continue;
            };
            let at = statement.pointer.key("Sid");
            if seen.contains(&sid) {
                self.push(
                    "duplicate-sid",
                    if iam_rules {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    at.clone(),
                    format!("`Sid` `{sid}` is used by an earlier statement"),
                    "give every statement its own `Sid`",
                );
            }
            seen.push(sid);
            if self.ty.is_iam_stored() && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                self.push(
                    "invalid-sid",
                    Severity::Error,
                    at,
                    format!("`Sid` `{sid}` has characters IAM rejects: only A-Z, a-z and 0-9 are allowed"),
                    "remove spaces, dashes and punctuation from the `Sid`",
                );
            }
        }
    }

    fn statement(&mut self, index: usize, s: &Statement, policy: &Policy) {
        let allow = s.effect == Effect::Allow;
        if allow && s.action.negated {
            self.push(
                "allow-with-not-action",
                Severity::Warning,
                s.pointer.key("NotAction"),
                "`Allow` with `NotAction` grants every action not listed, including ones AWS adds later".into(),
                "list the allowed actions with `Action` instead",
            );
        }
        if allow && s.resource.as_ref().is_some_and(|r| r.negated) {
            self.push(
                "allow-with-not-resource",
                Severity::Warning,
                s.pointer.key("NotResource"),
                "`Allow` with `NotResource` grants every resource not listed, in every account"
                    .into(),
                "list the allowed resources with `Resource` instead",
            );
        }
        if allow && s.principal.as_ref().is_some_and(|p| p.negated) {
            self.push(
                "allow-with-not-principal",
                Severity::Error,
                s.pointer.key("NotPrincipal"),
                "`NotPrincipal` with `Allow` is not supported by AWS; it would grant everyone not listed, anonymous callers included, and breakglass never grants it to a listed principal or one whose account, role or session is listed".into(),
                "name the allowed principals with `Principal` instead",
            );
        }
        self.malformed_actions(s);
        self.actions(s);
        self.conditions(s);
        self.resource_variables(s, policy);
        if allow {
            self.broad_grants(index, s);
        }
        if self.ty == PolicyType::Trust && allow {
            self.trust(index, s);
        }
    }

    /// Action strings IAM stores but that name no action: they match nothing (under
    /// `NotAction`, everything), whatever the author meant.
    fn malformed_actions(&mut self, s: &Statement) {
        let at = s.action_pointer();
        let element = if s.action.negated {
            "NotAction"
        } else {
            "Action"
        };
        for (i, action) in s.action.values.values.iter().enumerate() {
            if crate::parse::well_formed_action(action) {
                continue;
            }
            self.push(
                "malformed-action",
                Severity::Error,
                s.action.values.pointer(&at, i),
                format!(
                    "`{action}` is not `service:Action`: IAM stores it, but it matches no action, so this {element} entry {}",
                    if s.action.negated { "excludes nothing" } else { "grants or denies nothing" }
                ),
                "write one action per string, e.g. `[\"s3:GetObject\", \"s3:PutObject\"]`, without blanks",
            );
        }
    }

    fn actions(&mut self, s: &Statement) {
        let Some(catalog) = self.catalog else {
            return;
        };
        let at = s.action_pointer();
        for (i, action) in s.action.values.values.iter().enumerate() {
            if action == "*" || !crate::parse::well_formed_action(action) {
                continue;
            }
            let ptr = s.action.values.pointer(&at, i);
            let Some((service, name)) = action.split_once(':') else {
                continue;
            };
            if service.contains(['*', '?']) {
                continue;
            }
            if catalog.service(service).is_none() {
                let suggestion = catalog_service_suggestion(catalog, service);
                self.push(
                    "unknown-service",
                    Severity::Error,
                    ptr,
                    format!("unknown service prefix `{service}` in `{action}`"),
                    suggestion.map_or_else(
                        || {
                            "check the service prefix in the Service Authorization Reference"
                                .to_owned()
                        },
                        |s| format!("did you mean `{s}`?"),
                    ),
                );
            } else if name.contains(['*', '?']) {
                if catalog.matching(action).is_empty() {
                    self.push(
                        "action-matches-nothing",
                        Severity::Error,
                        ptr,
                        format!("`{action}` matches no action of `{service}`"),
                        "fix the pattern or remove it",
                    );
                }
            } else if catalog.action(action).is_none() {
                let candidates = catalog.matching(&format!("{service}:*"));
                let names: Vec<String> = candidates.iter().map(|a| a.full_name()).collect();
                let suggestion = crate::suggest::closest(action, names.iter().map(String::as_str))
                    .map(str::to_owned);
                self.push(
                    "unknown-action",
                    Severity::Error,
                    ptr,
                    format!("`{action}` is not an action of `{service}`"),
                    suggestion.map_or_else(
                        || {
                            "check the action name in the Service Authorization Reference"
                                .to_owned()
                        },
                        |s| format!("did you mean `{s}`?"),
                    ),
                );
            }
        }
    }

    fn key_type(&self, key: &str) -> Option<KeyType> {
        match self.catalog {
            Some(c) => c.condition_key_type(key),
            None => global_key_type(key),
        }
    }

    fn conditions(&mut self, s: &Statement) {
        let cond = s.pointer.key("Condition");
        for block in &s.conditions {
            let op = block.operator;
            let bptr = cond.key(&block.operator_text);
            for entry in &block.entries {
                let ptr = bptr.key(&entry.key);
                let lower = entry.key.to_lowercase();
                let ty = self.key_type(&entry.key);
                if ty.is_none() {
                    self.unknown_key(&entry.key, &lower, ptr.clone());
                }
                if lower == "aws:multifactorauthpresent"
                    && op.base == BaseOperator::Bool
                    && !op.if_exists
                    && entry
                        .values
                        .iter()
                        .any(|v| v.as_text().eq_ignore_ascii_case("false"))
                {
                    let deny = s.effect == Effect::Deny;
                    self.push(
                        "mfa-false-trap",
                        if deny { Severity::Error } else { Severity::Warning },
                        ptr.clone(),
                        "`Bool` `aws:MultiFactorAuthPresent` `false` never matches requests signed with long-term access keys: the key is absent from them, not false".into(),
                        if deny {
                            "use `BoolIfExists` so the deny also covers requests without the key"
                        } else {
                            "require MFA with `Bool` `aws:MultiFactorAuthPresent` `true` instead"
                        },
                    );
                }
                let Some(ty) = ty else {
                    continue;
                };
                if let Some(severity) = type_mismatch(op.base.family(), ty) {
                    self.push(
                        "condition-type-mismatch",
                        severity,
                        ptr.clone(),
                        format!(
                            "`{}` is a {} operator but `{}` is a {} key",
                            block.operator_text,
                            op.base.family().name(),
                            entry.key,
                            ty.name()
                        ),
                        format!("use an operator for {} values", ty.name()),
                    );
                }
                if op.base != BaseOperator::Null {
                    match (op.set, ty.is_multivalued()) {
                        (None, true) => self.push(
                            "multivalued-key-without-set-operator",
                            Severity::Warning,
                            ptr.clone(),
                            format!("`{}` can carry several values; `{}` without `ForAllValues:`/`ForAnyValue:` compares them ambiguously", entry.key, block.operator_text),
                            format!("write `ForAnyValue:{}` or `ForAllValues:{}`", block.operator_text, block.operator_text),
                        ),
                        (Some(set), false) => {
                            let allow_all = set == SetOperator::ForAllValues && s.effect == Effect::Allow;
                            self.push(
                                "set-operator-on-single-valued-key",
                                Severity::Warning,
                                ptr.clone(),
                                if allow_all {
                                    format!("`{}` is single-valued; `ForAllValues:` is also true when the key is absent, so this `Allow` may grant more than intended", entry.key)
                                } else {
                                    format!("`{}` is single-valued; set operators are meant for multivalued keys", entry.key)
                                },
                                "drop the `ForAllValues:`/`ForAnyValue:` prefix",
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn unknown_key(&mut self, key: &str, lower: &str, ptr: Pointer) {
        if lower.starts_with("aws:") {
            self.push(
                "unknown-condition-key",
                Severity::Warning,
                ptr,
                format!("`{key}` is not an AWS global condition key; a key that never appears makes the condition false"),
                "check the spelling against AWS global condition context keys",
            );
            return;
        }
        let Some(catalog) = self.catalog else {
            return;
        };
        if let Some((service, _)) = lower.split_once(':')
            && catalog.service(service).is_some()
        {
            self.push(
                "unknown-condition-key",
                Severity::Warning,
                ptr,
                format!("`{key}` is not a condition key of `{service}`"),
                "check the spelling in the Service Authorization Reference",
            );
        }
    }

    fn resource_variables(&mut self, s: &Statement, policy: &Policy) {
        let (Some(resource), Some(at)) = (&s.resource, s.resource_pointer()) else {
            return;
        };
        if !policy.uses_variables() {
            return;
        }
        for (i, r) in resource.values.values.iter().enumerate() {
            let head: Vec<&str> = r.splitn(6, ':').take(5).collect();
            if head.iter().any(|c| c.contains("${")) {
                self.push(
                    "variable-outside-resource-part",
                    Severity::Warning,
                    resource.values.pointer(&at, i),
                    format!("`{r}` has a policy variable before the fifth colon; IAM substitutes variables only in the resource part"),
                    "move the variable into the resource part, or write the value",
                );
            }
        }
    }

    /// Write, permissions-management and privilege-escalation actions granted on `*`.
    fn broad_grants(&mut self, index: usize, s: &Statement) {
        let everywhere = match &s.resource {
            Some(r) => r.negated || r.values.values.iter().any(|v| v == "*"),
            None => self.ty != PolicyType::Trust && self.ty != PolicyType::Resource,
        };
        if !everywhere {
            return;
        }
        let Some(compiled) = self.compiled.statements.get(index).cloned() else {
            return;
        };
        let full_admin = !s.action.negated && s.action.values.values.iter().any(|a| a == "*");
        if full_admin {
            self.push(
                "full-admin",
                Severity::Warning,
                s.action_pointer(),
                "`Allow` of `*` on `*`: full administrator access".into(),
                "grant the actions the task needs, or keep this to a monitored break-glass role",
            );
            return;
        }
        let escalations: Vec<&str> = ESCALATION
            .iter()
            .copied()
            .filter(|a| compiled.action_matches(&a.to_lowercase()))
            .filter(|a| !(*a == "iam:PassRole" && has_key(s, "iam:passedtoservice")))
            .collect();
        if !escalations.is_empty() {
            self.push(
                "privilege-escalation",
                Severity::Warning,
                s.action_pointer(),
                format!("grants privilege-escalation actions on every resource: {}", list(&escalations)),
                "scope these actions to specific ARNs (and `iam:PassRole` with `iam:PassedToService`), or remove them",
            );
        }
        let writes = self.write_actions(s, &compiled);
        if !writes.is_empty() {
            self.push(
                "write-on-all-resources",
                Severity::Warning,
                s.resource_pointer().unwrap_or_else(|| s.pointer.clone()),
                format!(
                    "grants write or permissions-management actions on `*`: {}",
                    list(&writes)
                ),
                "name the resources these actions may change",
            );
        }
    }

    fn write_actions(
        &self,
        s: &Statement,
        compiled: &crate::compile::CompiledStatement,
    ) -> Vec<String> {
        match self.catalog {
            Some(catalog) if !s.action.negated => {
                let mut out: Vec<String> = Vec::new();
                for pattern in &s.action.values.values {
                    for a in catalog.matching(pattern) {
                        if a.info.access.is_write() {
                            out.push(a.full_name());
                        }
                    }
                }
                out.dedup();
                out
            }
            Some(catalog) => catalog
                .matching("*")
                .into_iter()
                .filter(|a| {
                    a.info.access.is_write()
                        && compiled.action_matches(&a.full_name().to_lowercase())
                })
                .map(|a| a.full_name())
                .collect(),
            None if s.action.negated => vec!["(every action not listed in `NotAction`)".into()],
            None => s
                .action
                .values
                .values
                .iter()
                .filter(|a| {
                    let name = a
                        .split_once(':')
                        .map_or(a.as_str(), |(_, n)| n)
                        .to_lowercase();
                    name == "*" || WRITE_VERBS.iter().any(|v| name.starts_with(v))
                })
                .cloned()
                .collect(),
        }
    }

    fn trust(&mut self, index: usize, s: &Statement) {
        let Some(compiled) = self.compiled.statements.get(index) else {
            return;
        };
        if !compiled.action_matches("sts:assumerole") {
            return;
        }
        let Some(principal) = &s.principal else {
            return;
        };
        let aws_values: Vec<&str> = match &principal.principal {
            Principal::Any => vec!["*"],
            Principal::Map(entries) => entries
                .iter()
                .filter(|(k, _)| *k == PrincipalKind::Aws)
                .flat_map(|(_, l)| l.values.iter().map(String::as_str))
                .collect(),
        };
        let humans: Vec<&str> = aws_values
            .iter()
            .copied()
            .filter(|v| {
                *v == "*"
                    || crate::request::is_account_id(v)
                    || v.ends_with(":root")
                    || v.contains(":user/")
            })
            .collect();
        let ptr = s.pointer.key(if principal.negated {
            "NotPrincipal"
        } else {
            "Principal"
        });
        if humans.contains(&"*") && s.conditions.is_empty() {
            self.push(
                "trust-anyone",
                Severity::Error,
                ptr.clone(),
                "any AWS principal in any account can assume this role".into(),
                "name the accounts or roles that may assume it",
            );
        }
        if !humans.is_empty()
            && !has_key(s, "aws:multifactorauthpresent")
            && !has_key(s, "aws:multifactorauthage")
        {
            self.push(
                "trust-without-mfa",
                Severity::Warning,
                ptr.clone(),
                format!("lets people ({}) assume the role without an MFA condition", list(&humans)),
                "add `Bool` `aws:MultiFactorAuthPresent` `true` and `NumericLessThan` `aws:MultiFactorAuthAge` `3600`",
            );
        }
        let users_possible = humans.iter().any(|v| !v.contains(":role/"));
        for block in &s.conditions {
            for entry in &block.entries {
                if !entry.key.eq_ignore_ascii_case("aws:userid") || !users_possible {
                    continue;
                }
                let session_patterns: Vec<String> = entry
                    .values
                    .iter()
                    .map(|v| v.as_text())
                    .filter(|v| v.contains(':') && !v.starts_with("AIDA"))
                    .collect();
                if !session_patterns.is_empty() {
                    self.push(
                        "userid-matches-sessions-only",
                        Severity::Warning,
                        s.pointer.key("Condition").key(&block.operator_text).key(&entry.key),
                        format!(
                            "`aws:userid` {} only matches role sessions (`ROLEID:session`); for IAM users `aws:userid` is the unique id (`AIDA...`), not the name",
                            list(&session_patterns.iter().map(String::as_str).collect::<Vec<_>>())
                        ),
                        "identify IAM users with `ArnLike` `aws:PrincipalArn` `arn:aws:iam::ACCOUNT:user/PATH/NAME`",
                    );
                }
            }
        }
    }
}

fn has_key(s: &Statement, lower_key: &str) -> bool {
    s.conditions.iter().any(|b| {
        b.entries
            .iter()
            .any(|e| e.key.eq_ignore_ascii_case(lower_key))
    })
}

/// `Some(severity)` when an operator family does not suit a key type.
fn type_mismatch(family: Family, ty: KeyType) -> Option<Severity> {
    use KeyType as K;
    let ok = match family {
        Family::Null => true,
        Family::String => matches!(ty, K::String | K::Arn | K::ArrayOfString | K::ArrayOfArn),
        Family::Arn => matches!(ty, K::Arn | K::ArrayOfArn),
        Family::Numeric => ty == K::Numeric,
        Family::Date => ty == K::Date,
        Family::Bool => matches!(ty, K::Bool | K::ArrayOfBool),
        Family::Ip => ty == K::Ip,
        Family::Binary => ty == K::Binary,
    };
    if ok {
        None
    } else if family == Family::Arn && matches!(ty, K::String | K::ArrayOfString) {
        // ARN operators on string keys work when the values happen to be ARNs.
        Some(Severity::Warning)
    } else {
        Some(Severity::Error)
    }
}

fn catalog_service_suggestion(catalog: &Catalog, service: &str) -> Option<String> {
    crate::suggest::closest(service, catalog.service_names()).map(str::to_owned)
}

/// `a`, `b`, `c` and 4 more.
fn list<S: AsRef<str>>(items: &[S]) -> String {
    const SHOWN: usize = 6;
    let shown: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    let more = items.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

//! `breakglass lint`: least-privilege findings on a whole, valid config.
//!
//! Validation rejects what cannot work; lint reports what works but is weaker than it should
//! be: roles without a permissions boundary, sessions longer than any playbook needs,
//! break-glass roles no alarm watches, responders who could not use the emergency path,
//! approval rules one person can satisfy, and playbooks whose sessions could escalate (see
//! [`escalation_paths`]).

use std::collections::BTreeSet;
use std::fmt;

use breakglass_core::model::Username;
use time::Duration;

use breakglass_iam::lint::Severity;
use breakglass_iam::{Catalog, ContextValue, PolicyType};
use serde_json::Value;

use super::spans::FieldPath;
use super::{Config, SessionPolicySource, format_duration};
use crate::templates::exceptions::exception;
use crate::templates::guardrails::{GUARDRAIL_POLICY, guardrail_document};
use crate::templates::revoker::REVOKER_POLICY;
use crate::templates::roles::role_template;
use crate::templates::trust::Trust;

/// How serious a finding is. `lint` fails (exit 1) on any `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing.
    Info,
    /// Weaker than it should be.
    Warning,
    /// Broken or dangerous: fix before relying on it.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// Which check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The IAM linter, on a rendered policy document.
    Policy,
    /// A check of the config as a whole.
    Config,
}

/// One finding, located at a field of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub level: Level,
    /// Which check found it.
    pub origin: Origin,
    /// A stable kebab-case code, e.g. `role-without-boundary`.
    pub code: &'static str,
    /// The field it concerns.
    pub path: FieldPath,
    /// What is wrong and what to do.
    pub message: String,
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, level: Level, code: &'static str, path: FieldPath, message: String) {
        self.0.push(Finding {
            level,
            origin: Origin::Config,
            code,
            path,
            message,
        });
    }

    fn push_policy(&mut self, level: Level, code: &'static str, path: FieldPath, message: String) {
        self.0.push(Finding {
            level,
            origin: Origin::Policy,
            code,
            path,
            message,
        });
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Every finding on the config: the IAM linter on every policy document as rendered
/// (optionally against an action catalog), then the config-level checks.
pub fn lint(config: &Config, catalog: Option<&Catalog>) -> Vec<Finding> {
    let mut f = Findings(Vec::new());
    policies(config, catalog, &mut f);
    roles(config, &mut f);
    playbooks(config, &mut f);
    escalation(config, &mut f);
    alerting(config, &mut f);
    responders(config, &mut f);
    f.0.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.path.cmp(&b.path)));
    f.0
}

/// One rendered policy document and where it comes from.
struct Document {
    path: FieldPath,
    /// How the finding names the document (`role SecurityAdmin inline policy X`).
    label: String,
    /// For a built-in template's unchanged document: (template, policy), the key of its
    /// documented lint exceptions.
    builtin: Option<(String, String)>,
    doc: Value,
    ty: PolicyType,
}

/// A role the broker writes: its trust policy and its one inline policy `name` of built-in
/// template `template`, both found at `path` of the config.
fn role_documents(
    path: FieldPath,
    role: &str,
    (template, name): (&str, &str),
    trust: serde_json::Value,
    permissions: serde_json::Value,
) -> [Document; 2] {
    [
        Document {
            path: path.clone(),
            label: format!("{role} trust policy"),
            builtin: Some(("trust".to_owned(), String::new())),
            doc: trust,
            ty: PolicyType::Trust,
        },
        Document {
            path,
            label: format!("{role} inline policy `{name}`"),
            builtin: Some((template.to_owned(), name.to_owned())),
            doc: permissions,
            ty: PolicyType::Identity,
        },
    ]
}

fn documents(config: &Config) -> Vec<Document> {
    let mut out = Vec::new();
    let ctx = config.template_context();
    for role in &config.roles {
        let path = role_path(role.name.as_str());
        let template = role
            .template
            .as_deref()
            .and_then(|t| role_template(t, &ctx))
            .filter(|t| {
                t.permissions_boundary == role.permissions_boundary
                    && t.managed_policies == role.managed_policies
            });
        for (name, doc) in &role.inline_policies {
            let unchanged = template
                .as_ref()
                .is_some_and(|t| t.inline_policies.iter().any(|(n, d)| n == name && d == doc));
            out.push(Document {
                path: path.key("inline_policies").key(name),
                label: format!("role `{}` inline policy `{name}`", role.name),
                builtin: unchanged
                    .then(|| (role.template.clone().unwrap_or_default(), name.clone())),
                doc: doc.clone(),
                ty: PolicyType::Identity,
            });
        }
        if let Some(doc) = config.trust_policy(role) {
            out.push(Document {
                path: path.key("trust"),
                label: format!("role `{}` trust policy", role.name),
                builtin: Some(("trust".to_owned(), String::new())),
                doc,
                ty: PolicyType::Trust,
            });
        }
    }
    if let Some(first) = config.responders.iter().find(|r| r.break_glass_user) {
        for (name, doc) in config.break_glass_user_policies() {
            out.push(Document {
                path: FieldPath::root()
                    .key("responders")
                    .key(first.username.as_str())
                    .key("break_glass_user"),
                label: format!("break-glass user inline policy `{name}`"),
                builtin: Some(("break-glass-user".to_owned(), name)),
                doc,
                ty: PolicyType::Identity,
            });
        }
    }
    // The revoker role differs between accounts only by account id: its first copy stands
    // for all.
    let revoker = config.accounts.iter().find_map(|a| {
        if a.id == config.security_account {
            return None;
        }
        config.revoker_policies(a.id.as_str(), &config.revocable_roles(&a.id))
    });
    if let Some((trust, permissions)) = revoker {
        out.extend(role_documents(
            FieldPath::root().key("broker").key("revoker_role"),
            &format!("revoker role `{}`", config.broker.revoker_role),
            ("revoker", REVOKER_POLICY),
            trust,
            permissions,
        ));
    }
    // The trail reader, in the log-archive account.
    if let Some(a) = &config.activity {
        let (trust, permissions) = a.reader_policies(config);
        out.extend(role_documents(
            FieldPath::root().key("activity").key("reader_role"),
            &format!("trail reader role `{}`", a.reader_role),
            ("activity", crate::templates::activity::READER_POLICY),
            trust,
            permissions,
        ));
    }
    if config
        .accounts
        .iter()
        .any(|a| !config.revocable_roles(&a.id).is_empty())
    {
        out.push(Document {
            path: FieldPath::root().key("roles"),
            label: format!("managed policy `{GUARDRAIL_POLICY}`"),
            builtin: Some(("guardrails".to_owned(), GUARDRAIL_POLICY.to_owned())),
            doc: guardrail_document(&ctx),
            ty: PolicyType::Identity,
        });
    }
    for playbook in &config.playbooks {
        let builtin = match &playbook.session_policy_source {
            SessionPolicySource::Template(t, _) => {
                Some(("session".to_owned(), t.name().to_owned()))
            }
            SessionPolicySource::Scoped(_) | SessionPolicySource::Document => None,
        };
        let doc = serde_json::from_str(playbook.session_policy.as_str()).unwrap_or(Value::Null);
        out.push(Document {
            path: FieldPath::root()
                .key("playbooks")
                .key(playbook.id.as_str())
                .key("session_policy"),
            label: format!("playbook `{}` session policy", playbook.id),
            builtin,
            doc,
            ty: PolicyType::Session,
        });
    }
    out
}

/// The IAM linter on every document. A finding on a built-in template's unchanged document
/// that the template documents as accepted is reported as `info`, with the reason.
fn policies(config: &Config, catalog: Option<&Catalog>, f: &mut Findings) {
    for document in documents(config) {
        let policy = match breakglass_iam::parse_value(&document.doc, document.ty) {
            Ok(policy) => policy,
            Err(errors) => {
                f.push_policy(
                    Level::Error,
                    "invalid-policy",
                    document.path,
                    format!("{} is not a valid policy: {errors}", document.label),
                );
                continue;
            }
        };
        for finding in breakglass_iam::lint::lint(&policy, document.ty, catalog) {
            let accepted = document.builtin.as_ref().and_then(|(template, name)| {
                if document.ty == PolicyType::Trust {
                    // Trust statements are generated, never edited: keyed by their Sid.
                    let sid = statement_sid(&document.doc, finding.pointer.as_str());
                    exception(template, sid, finding.code)
                } else {
                    exception(template, name, finding.code)
                }
            });
            let (level, message) = match accepted {
                Some(reason) => (
                    Level::Info,
                    format!(
                        "{} {}: {} (accepted for the built-in template: {reason})",
                        document.label, finding.pointer, finding.message
                    ),
                ),
                None => (
                    match finding.severity {
                        Severity::Error => Level::Error,
                        Severity::Warning => Level::Warning,
                    },
                    format!(
                        "{} {}: {} (hint: {})",
                        document.label, finding.pointer, finding.message, finding.hint
                    ),
                ),
            };
            f.push_policy(level, finding.code, document.path.clone(), message);
        }
    }
}

/// The `Sid` of the statement a JSON pointer (`/Statement/1/...`) points into.
fn statement_sid<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    let index = pointer
        .strip_prefix("/Statement/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|i| i.parse::<usize>().ok());
    index
        .and_then(|i| doc.get("Statement")?.get(i)?.get("Sid")?.as_str())
        .unwrap_or_default()
}

fn role_path(name: &str) -> FieldPath {
    FieldPath::root().key("roles").key(name)
}

fn roles(config: &Config, f: &mut Findings) {
    for role in &config.roles {
        let path = role_path(role.name.as_str());
        if role.permissions_boundary.is_none() {
            f.push(
                Level::Warning,
                "role-without-boundary",
                path.key("permissions_boundary"),
                format!(
                    "role `{}` has no permissions boundary: nothing caps what its policies (or a later edit) can grant",
                    role.name
                ),
            );
        }
        let needs: Vec<Duration> = config
            .playbooks
            .iter()
            .filter(|p| p.roles.contains(&role.name))
            .map(|p| p.max_duration)
            .collect();
        match needs.iter().max() {
            Some(longest) if role.max_session_duration > *longest => f.push(
                Level::Warning,
                "session-longer-than-needed",
                path.key("max_session_duration"),
                format!(
                    "role `{}` allows {} sessions but no playbook granting it needs more than {}: set `max_session_duration = \"{}\"`",
                    role.name,
                    format_duration(role.max_session_duration),
                    format_duration(*longest),
                    format_duration((*longest).max(Duration::hours(1)))
                ),
            ),
            None if role.name != config.deploy.role => f.push(
                Level::Info,
                "role-in-no-playbook",
                path.clone(),
                if role.trust.iter().all(|t| *t == Trust::Broker) {
                    format!(
                        "no playbook grants role `{}` and only the broker may assume it: nobody can use it until a playbook does",
                        role.name
                    )
                } else {
                    format!(
                        "no playbook grants role `{}`: only its direct trust (break-glass users or deployers) can use it",
                        role.name
                    )
                },
            ),
            _ => {}
        }
        let watched = glob_matches(&config.alerting.role_name_pattern, role.name.as_str());
        if role.break_glass && !watched {
            f.push(
                Level::Error,
                "break-glass-role-unwatched",
                path.clone(),
                format!(
                    "break-glass role `{}` does not match `alerting.role_name_pattern` (`{}`): no alarm or EventBridge rule fires for it in any region",
                    role.name, config.alerting.role_name_pattern
                ),
            );
        }
        if role.trust.contains(&Trust::BreakGlassUsers) && !role.break_glass {
            f.push(
                Level::Warning,
                "direct-use-without-break-glass-flag",
                path.key("break_glass"),
                format!(
                    "role `{}` trusts the break-glass users but is not marked `break_glass = true`: its use would not get a mandatory review",
                    role.name
                ),
            );
        }
        if role.trust.contains(&Trust::BreakGlassUsers)
            && !config.responders.iter().any(|r| r.break_glass_user)
        {
            f.push(
                Level::Warning,
                "no-break-glass-users",
                path.key("trust"),
                format!(
                    "role `{}` trusts break-glass users, but no responder has `break_glass_user = true`: the emergency path is closed",
                    role.name
                ),
            );
        }
    }
}

fn playbooks(config: &Config, f: &mut Findings) {
    for playbook in &config.playbooks {
        let path = FieldPath::root().key("playbooks").key(playbook.id.as_str());
        if let SessionPolicySource::Template(template, _) = &playbook.session_policy_source
            && playbook.max_duration > template.max_duration()
        {
            f.push(
                Level::Warning,
                "grant-longer-than-template",
                path.key("max_duration"),
                format!(
                    "playbook `{}` allows {} but its session policy `{}` is meant for at most {}",
                    playbook.id,
                    format_duration(playbook.max_duration),
                    template.name(),
                    format_duration(template.max_duration())
                ),
            );
        }
        let approval = &playbook.approval;
        let approvers = config.members(&approval.from_groups);
        let apath = path.key("approval").key("required");
        match approval.required {
            0 => f.push(
                Level::Warning,
                "no-approval",
                apath.clone(),
                format!(
                    "playbook `{}` needs no approval: any eligible responder gets access alone",
                    playbook.id
                ),
            ),
            1 => f.push(
                Level::Warning,
                "single-approver",
                apath.clone(),
                format!(
                    "playbook `{}` is satisfied by a single approver: require 2 for two-person control",
                    playbook.id
                ),
            ),
            _ => {}
        }
        let requesters = config.members(&playbook.eligible_groups);
        let required = usize::try_from(approval.required).unwrap_or(usize::MAX);
        let stuck: Vec<String> = requesters
            .iter()
            .filter(|r| approvers.iter().filter(|a| a != r).count() < required)
            .map(|r| format!("`{r}`"))
            .collect();
        if !stuck.is_empty() {
            f.push(
                Level::Error,
                "requester-cannot-be-approved",
                apath,
                format!(
                    "{} can request playbook `{}` but can never get {} approval(s): requesters never approve their own requests",
                    stuck.join(", "),
                    playbook.id,
                    approval.required
                ),
            );
        }
    }
}

/// The name of the principals and policies the escalation probes aim at: none that a
/// playbook could have named.
const PROBE: &str = "breakglass-lint-probe";

/// An IAM write by which a session would gain more than it was granted or outlive its
/// revocation, as a request the policy engine can decide.
struct Probe {
    action: &'static str,
    /// The resource type (`user`, `role`, `group`, `policy`) the probe names.
    kind: &'static str,
    /// Whether the request attaches AdministratorAccess (`iam:PolicyARN`).
    attaches: bool,
    why: &'static str,
}

const PROBES: &[Probe] = &[
    Probe {
        action: "iam:CreateUser",
        kind: "user",
        attaches: false,
        why: "creates a user that outlives the revocation",
    },
    Probe {
        action: "iam:CreateAccessKey",
        kind: "user",
        attaches: false,
        why: "creates a long-term key that outlives the revocation",
    },
    Probe {
        action: "iam:CreateLoginProfile",
        kind: "user",
        attaches: false,
        why: "gives a user a console password",
    },
    Probe {
        action: "iam:UpdateLoginProfile",
        kind: "user",
        attaches: false,
        why: "takes over a user's console password",
    },
    Probe {
        action: "iam:CreateRole",
        kind: "role",
        attaches: false,
        why: "creates a role that outlives the revocation",
    },
    Probe {
        action: "iam:PassRole",
        kind: "role",
        attaches: false,
        why: "passes a role the playbook does not name to a service",
    },
    Probe {
        action: "iam:AttachUserPolicy",
        kind: "user",
        attaches: true,
        why: "attaches AdministratorAccess to a user",
    },
    Probe {
        action: "iam:AttachRolePolicy",
        kind: "role",
        attaches: true,
        why: "attaches AdministratorAccess to a role",
    },
    Probe {
        action: "iam:AttachGroupPolicy",
        kind: "group",
        attaches: true,
        why: "attaches AdministratorAccess to a group",
    },
    Probe {
        action: "iam:PutUserPolicy",
        kind: "user",
        attaches: false,
        why: "writes any inline policy on a user",
    },
    Probe {
        action: "iam:PutRolePolicy",
        kind: "role",
        attaches: false,
        why: "writes any inline policy on a role",
    },
    Probe {
        action: "iam:PutGroupPolicy",
        kind: "group",
        attaches: false,
        why: "writes any inline policy on a group",
    },
    Probe {
        action: "iam:AddUserToGroup",
        kind: "group",
        attaches: false,
        why: "adds a user to any group",
    },
    Probe {
        action: "iam:CreatePolicyVersion",
        kind: "policy",
        attaches: false,
        why: "rewrites a managed policy",
    },
    Probe {
        action: "iam:SetDefaultPolicyVersion",
        kind: "policy",
        attaches: false,
        why: "switches a managed policy to another version",
    },
    Probe {
        action: "iam:UpdateAssumeRolePolicy",
        kind: "role",
        attaches: false,
        why: "lets anyone assume a role",
    },
];

/// The escalation paths a session of `playbook` has, whatever role it is granted: the IAM
/// writes of [`PROBES`] that the policy engine allows under the playbook's session policy, a
/// role allowing everything, and the guardrails every brokered role carries, in any
/// configured region. Each entry is the action and why it matters.
pub fn escalation_paths(
    config: &Config,
    session_policy: &Value,
) -> Vec<(&'static str, &'static str)> {
    let parse = |doc: &Value, ty| breakglass_iam::parse_value(doc, ty).ok();
    let everything = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
    });
    let (Some(session), Some(role), Some(guardrails)) = (
        parse(session_policy, PolicyType::Session),
        parse(&everything, PolicyType::Identity),
        parse(
            &guardrail_document(&config.template_context()),
            PolicyType::Identity,
        ),
    ) else {
        return Vec::new();
    };
    let set = breakglass_iam::PolicySet::builder()
        .identity(&role)
        .identity(&guardrails)
        .session(&session)
        .build();
    let account = config.security_account.as_str();
    let p = &config.partition;
    let Ok(caller) = breakglass_iam::parse_caller(
        &format!("arn:{p}:sts::{account}:assumed-role/{PROBE}/{PROBE}"),
        None,
    ) else {
        return Vec::new();
    };
    let mut regions: BTreeSet<&str> = config
        .accounts
        .iter()
        .flat_map(|a| a.regions.iter().map(String::as_str))
        .collect();
    // IAM's own calls are signed for us-east-1 in the commercial partition.
    regions.insert("us-east-1");
    PROBES
        .iter()
        .filter(|probe| {
            regions.iter().any(|region| {
                let resource = format!("arn:{p}:iam::{account}:{}/{PROBE}", probe.kind);
                let mut request =
                    breakglass_iam::Request::new(caller.clone(), probe.action, &resource)
                        .with_resource_account(account);
                request.insert_context("aws:RequestedRegion", ContextValue::one(*region));
                if probe.attaches {
                    request.insert_context(
                        "iam:PolicyARN",
                        ContextValue::one(format!("arn:{p}:iam::aws:policy/AdministratorAccess")),
                    );
                }
                request.derive_principal_keys();
                set.evaluate(&request).decision == breakglass_iam::Decision::Allow
            })
        })
        .map(|probe| (probe.action, probe.why))
        .collect()
}

/// Every playbook, built-in template or written by hand, whose sessions have an escalation
/// path: an error, since a revocation cannot take back what such a session gave itself.
fn escalation(config: &Config, f: &mut Findings) {
    for playbook in &config.playbooks {
        let doc = serde_json::from_str(playbook.session_policy.as_str()).unwrap_or(Value::Null);
        let paths = escalation_paths(config, &doc);
        if paths.is_empty() {
            continue;
        }
        let list: Vec<String> = paths
            .iter()
            .map(|(action, why)| format!("`{action}` ({why})"))
            .collect();
        f.push(
            Level::Error,
            "escalation-path",
            FieldPath::root()
                .key("playbooks")
                .key(playbook.id.as_str())
                .key("session_policy"),
            format!(
                "playbook `{}` lets its sessions escalate: {}; deny these in its session policy, or name the exact resources (e.g. `pass_roles`, `quarantine_policies`)",
                playbook.id,
                list.join(", ")
            ),
        );
    }
}

fn alerting(config: &Config, f: &mut Findings) {
    let path = FieldPath::root().key("alerting");
    for account in &config.accounts {
        if !account.regions.iter().any(|r| r == "us-east-1") && config.partition == "aws" {
            f.push(
                Level::Warning,
                "no-us-east-1-rules",
                FieldPath::root()
                    .key("accounts")
                    .key(&account.name)
                    .key("regions"),
                format!(
                    "account `{}` does not list us-east-1, where IAM and most console sign-in events are delivered: break-glass console sign-ins may go unseen by EventBridge",
                    account.name
                ),
            );
        }
    }
    if config.alerting.webhook_urls.is_empty() {
        f.push(
            Level::Info,
            "no-webhooks",
            path.key("webhook_urls"),
            "no webhook is configured: the broker's alerts reach people only through the SNS topic"
                .to_owned(),
        );
    }
}

fn responders(config: &Config, f: &mut Findings) {
    let emergency_groups: Vec<_> = config
        .playbooks
        .iter()
        .filter(|p| p.break_glass)
        .flat_map(|p| p.eligible_groups.iter().cloned())
        .collect();
    let eligible: BTreeSet<&Username> = config.members(&emergency_groups);
    for responder in &config.responders {
        if eligible.contains(&responder.username) && !responder.break_glass_user {
            f.push(
                Level::Warning,
                "responder-without-break-glass-user",
                FieldPath::root()
                    .key("responders")
                    .key(responder.username.as_str())
                    .key("break_glass_user"),
                format!(
                    "`{}` may activate break-glass playbooks but has no MFA-protected break-glass user for when the broker or the identity provider is down",
                    responder.username
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_the_alerting_pattern_intends() {
        assert!(glob_matches("*BreakGlass*", "SecurityBreakGlass"));
        assert!(glob_matches("*BreakGlass*", "BreakGlass"));
        assert!(glob_matches("Security*", "SecurityAdmin"));
        assert!(glob_matches("*Admin", "SecurityAdmin"));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXcYb"));
        assert!(!glob_matches("*BreakGlass*", "SecurityBREAKGLASS"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("ab*ba", "aba"));
    }
}

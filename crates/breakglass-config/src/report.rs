//! The parts of the reports only the config can give: the incident-response access
//! documentation (roles, playbooks, who may request and approve, step-up rules, the
//! break-glass procedure with the IAM-user path, monitoring per account and region, all
//! from the desired state `apply` converges to) and what each playbook really allows (the
//! policy engine's sweep of the action catalog over each role's policies, boundary and
//! guardrails intersected with the playbook's session policy).
//!
//! AWS managed policies are not part of the repository: their documents are passed in
//! (`managed`), AdministratorAccess (`Allow *` on `*`) is known, and any other is taken
//! to allow everything, which the result says (`assumed_allow_all`: an upper bound).

use std::collections::BTreeMap;

use breakglass_core::model::{PlaybookId, RoleName, RolePolicies};
use breakglass_core::report::{
    AccountMonitoring, BreakGlassUserDoc, IrDocumentation, PlaybookDoc, RoleAllowance, RoleDoc,
    summarise,
};
use breakglass_iam::{Catalog, Policy, PolicySet, PolicyType, parse_value};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::resources::{DesiredState, Resource};
use crate::templates::guardrails::guardrail_document;
use crate::templates::users::break_glass_user_name;
use crate::{Config, SessionPolicySource, format_duration};

/// The managed policy every AWS account has whose document is known: `Allow *` on `*`.
const ADMINISTRATOR_ACCESS: &str = "AdministratorAccess";

/// The policy name of a managed policy ARN (`arn:aws:iam::aws:policy/ReadOnlyAccess` →
/// `ReadOnlyAccess`).
fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The document of managed policy `arn`: from `managed` (by name or ARN), or the known
/// AdministratorAccess; `None` when not at hand.
fn managed_document(arn: &str, managed: &BTreeMap<String, Value>) -> Option<Value> {
    let name = policy_name(arn);
    managed
        .get(arn)
        .or_else(|| managed.get(name))
        .cloned()
        .or_else(|| {
            (name == ADMINISTRATOR_ACCESS && arn.contains(":iam::aws:policy/")).then(|| {
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
            })
        })
}

/// Each role's own policies as the policy engine takes them: its inline and managed
/// policies plus the guardrails every brokered role carries, and its boundary. A managed
/// policy whose document is not in `managed` (but AdministratorAccess) is taken to allow
/// everything and named in `assumed_allow_all`. The broker computes what a request
/// allows from these (`breakglass_core::model::PermissionModel`).
pub fn role_policies(
    config: &Config,
    managed: &BTreeMap<String, Value>,
) -> BTreeMap<RoleName, RolePolicies> {
    let everything = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let parse = |v: &Value, ty| parse_value(v, ty).ok();
    let guardrails = parse(
        &guardrail_document(&config.template_context()),
        PolicyType::Identity,
    );
    let mut out = BTreeMap::new();
    for role in &config.roles {
        let mut assumed = Vec::new();
        let mut identity: Vec<Policy> = role
            .inline_policies
            .values()
            .filter_map(|v| parse(v, PolicyType::Identity))
            .collect();
        for arn in &role.managed_policies {
            match managed_document(arn, managed).and_then(|d| parse(&d, PolicyType::Identity)) {
                Some(policy) => identity.push(policy),
                None => {
                    assumed.push(policy_name(arn).to_owned());
                    identity.extend(parse(&everything, PolicyType::Identity));
                }
            }
        }
        identity.extend(guardrails.clone());
        let boundary = match &role.permissions_boundary {
            Some(arn) => {
                match managed_document(arn, managed).and_then(|d| parse(&d, PolicyType::Boundary)) {
                    Some(b) => Some(b),
                    None => {
                        assumed.push(format!("{} (boundary)", policy_name(arn)));
                        None
                    }
                }
            }
            None => None,
        };
        out.insert(
            role.name.clone(),
            RolePolicies {
                identity,
                boundary,
                assumed_allow_all: assumed,
            },
        );
    }
    out
}

/// What each playbook really allows through each of its roles, swept over `catalog`.
pub fn playbook_allowances(
    config: &Config,
    catalog: &Catalog,
    managed: &BTreeMap<String, Value>,
) -> BTreeMap<PlaybookId, Vec<RoleAllowance>> {
    let policies = role_policies(config, managed);
    let mut out = BTreeMap::new();
    for p in &config.playbooks {
        let Ok(doc) = serde_json::from_str::<Value>(p.session_policy.as_str()) else {
            continue;
        };
        let Ok(session) = parse_value(&doc, PolicyType::Session) else {
            continue;
        };
        let mut roles = Vec::new();
        for name in &p.roles {
            let Some(role) = policies.get(name) else {
                continue;
            };
            let mut builder = PolicySet::builder();
            for policy in &role.identity {
                builder = builder.identity(policy);
            }
            if let Some(b) = &role.boundary {
                builder = builder.boundary(b);
            }
            let set = builder.session(&session).build();
            let sweep = set.sweep(catalog, "*");
            roles.push(summarise(
                name.as_str(),
                &sweep,
                role.assumed_allow_all.clone(),
            ));
        }
        out.insert(p.id.clone(), roles);
    }
    out
}

/// The incident-response access documentation of `config`, made at `now`.
pub fn ir_documentation(
    config: &Config,
    now: OffsetDateTime,
    allows: Option<&BTreeMap<PlaybookId, Vec<RoleAllowance>>>,
) -> IrDocumentation {
    let account_label = |id: &breakglass_core::model::AccountId| {
        config
            .account(id)
            .map_or_else(|| id.to_string(), |a| format!("{} ({})", a.name, a.id))
    };
    let desired = DesiredState::build(config);
    let roles = config
        .roles
        .iter()
        .map(|r| RoleDoc {
            name: r.name.to_string(),
            description: r.description.clone(),
            accounts: r.accounts.iter().map(account_label).collect(),
            managed_policies: r
                .managed_policies
                .iter()
                .map(|a| policy_name(a).to_owned())
                .collect(),
            inline_policies: r.inline_policies.keys().cloned().collect(),
            permissions_boundary: r
                .permissions_boundary
                .as_deref()
                .map(|a| policy_name(a).to_owned()),
            max_session_seconds: r.max_session_duration.whole_seconds(),
            break_glass: r.break_glass,
        })
        .collect();
    let names =
        |set: std::collections::BTreeSet<&breakglass_core::model::Username>| -> Vec<String> {
            set.iter().map(ToString::to_string).collect()
        };
    let playbooks = config
        .playbooks
        .iter()
        .map(|p| PlaybookDoc {
            id: p.id.to_string(),
            title: p.title.clone(),
            roles: p.roles.iter().map(ToString::to_string).collect(),
            accounts: p.accounts.iter().map(account_label).collect(),
            max_duration_seconds: p.max_duration.whole_seconds(),
            eligible_groups: p.eligible_groups.iter().map(ToString::to_string).collect(),
            requesters: names(config.members(&p.eligible_groups)),
            approvals_required: p.approval.required,
            approver_groups: p
                .approval
                .from_groups
                .iter()
                .map(ToString::to_string)
                .collect(),
            approvers: names(config.members(&p.approval.from_groups)),
            break_glass: p.break_glass,
            step_up: format!(
                "{} for each approval{}{}",
                match p.step_up {
                    breakglass_core::model::StepUpFactor::Any => "a TOTP code or a passkey",
                    breakglass_core::model::StepUpFactor::Passkey => "a passkey",
                },
                if p.break_glass {
                    " and the break-glass activation"
                } else {
                    ""
                },
                if p.mint_step_up {
                    "; again before the first credentials of a grant"
                } else {
                    ""
                },
            ),
            session_policy_source: match &p.session_policy_source {
                SessionPolicySource::Template(t, _) => format!("template `{}`", t.name()),
                SessionPolicySource::Scoped(_) => "scoped builder".to_owned(),
                SessionPolicySource::Document => "written in the config".to_owned(),
            },
            allows: allows.and_then(|a| a.get(&p.id).cloned()),
        })
        .collect();
    let security = config.security_account.to_string();
    let break_glass_roles: Vec<String> = config
        .roles
        .iter()
        .filter(|r| r.break_glass)
        .flat_map(|r| {
            r.accounts
                .iter()
                .map(move |a| format!("{} in {}", r.name, a))
        })
        .collect();
    let mut users = Vec::new();
    let mut monitoring = Vec::new();
    for account in &desired.accounts {
        for resource in &account.resources {
            if let Resource::User(u) = resource {
                let responder = config
                    .responders
                    .iter()
                    .find(|r| break_glass_user_name(&r.username) == u.name)
                    .map_or_else(String::new, |r| r.username.to_string());
                users.push(BreakGlassUserDoc {
                    responder,
                    user: u.name.clone(),
                    account: account.id.to_string(),
                    sign_in_url: format!("https://{}.signin.aws.amazon.com/console", account.id),
                    password_secret: u.password_secret.clone(),
                    may_assume: break_glass_roles.clone(),
                });
            }
        }
        for region in &account.regions {
            let mut alarms = Vec::new();
            let mut rules = Vec::new();
            let mut topic = None;
            for resource in &account.resources {
                match resource {
                    Resource::Alarm(a) if &a.region == region => alarms.push(a.name.clone()),
                    Resource::EventRule(r) if &r.region == region => rules.push(r.name.clone()),
                    Resource::Topic(t) if &t.region == region => topic = Some(t.name.clone()),
                    _ => {}
                }
            }
            monitoring.push(AccountMonitoring {
                account: account.name.clone(),
                account_id: account.id.to_string(),
                region: region.clone(),
                alarms,
                event_rules: rules,
                topic,
            });
        }
    }
    let console = config.notifications.as_ref().map(|n| n.console_url.clone());
    let where_ = console
        .clone()
        .unwrap_or_else(|| "the broker's console".to_owned());
    let bg: Vec<String> = config
        .playbooks
        .iter()
        .filter(|p| p.break_glass)
        .map(|p| {
            format!(
                "`{}` ({}, at most {})",
                p.id,
                p.title,
                format_duration(p.max_duration)
            )
        })
        .collect();
    let break_glass_procedure = vec![
        format!("Sign in to {where_} (SSO, or a local account when the identity provider is down) or use `breakglass break-glass`."),
        format!("Choose a break-glass playbook: {}.", if bg.is_empty() { "none is configured".to_owned() } else { bg.join(", ") }),
        "Give the incident id and a justification, and confirm with your second factor (TOTP code or passkey): access starts at once, without approvers.".to_owned(),
        format!("The security team is alerted at once on every configured channel (SNS topic `{}`{}).", config.alerting.sns_topic, if config.alerting.webhook_urls.is_empty() { String::new() } else { ", webhooks".to_owned() }),
        "Get credentials (`breakglass creds` / `exec`) or the AWS console link; every session carries your username as its SourceIdentity.".to_owned(),
        "When done, revoke the grant; the break-glass use then needs a post-incident review signed off by someone else.".to_owned(),
    ];
    let iam_user_procedure = vec![
        format!("Sign in to the AWS console of the security account {security} as your break-glass IAM user (`<username>-BREAK-GLASS`) at https://{security}.signin.aws.amazon.com/console."),
        "The first password is in the Secrets Manager secret named in the table below (held by the security team); you must change it at first sign-in.".to_owned(),
        "Sign in with the IAM user's MFA device; the user has no access keys and can do nothing but assume the break-glass roles with MFA.".to_owned(),
        format!("Switch role to a break-glass role: {}.", if break_glass_roles.is_empty() { "none is configured".to_owned() } else { break_glass_roles.join(", ") }),
        format!("This fires the CloudWatch alarms and EventBridge rules listed under monitoring (role pattern `{}`), which notify SNS topic `{}` in every account and region.", config.alerting.role_name_pattern, config.alerting.sns_topic),
        "Record the incident id, and hand the session's CloudTrail activity to the post-incident review (`breakglass scan sessions`).".to_owned(),
    ];
    IrDocumentation {
        config_file: config.file.clone(),
        generated_at: now,
        security_account: account_label(&config.security_account),
        console_url: console,
        roles,
        playbooks,
        break_glass_procedure,
        iam_user_procedure,
        break_glass_users: users,
        monitoring,
    }
}

//! The guardrails against the people they are meant to stop, decided by the policy engine
//! over the documents the example config renders: a brokered session cannot untag its role
//! or otherwise shed them, the revoker cannot remove them, and no playbook hands a session an
//! escalation path.

use breakglass_config::Config;
use breakglass_config::lint::{escalation_paths, lint};
use breakglass_config::resources::{DesiredState, Resource, Role};
use breakglass_iam::{
    ContextValue, Decision, Policy, PolicySet, PolicyType, Request, parse_caller, parse_value,
};
use serde_json::{Value, json};

use super::config::example;

const PRODUCTION: &str = "222222222222";

fn allow_everything() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

fn identity(doc: &Value) -> Policy {
    parse_value(doc, PolicyType::Identity).unwrap()
}

/// The production account's brokered roles, its managed policies by ARN and its revoker.
struct Account {
    roles: Vec<Role>,
    policies: Vec<(String, Value)>,
    revoker: Role,
}

fn production(config: &Config) -> Account {
    let state = DesiredState::build(config);
    let account = state
        .accounts
        .iter()
        .find(|a| a.id.as_str() == PRODUCTION)
        .unwrap();
    let mut roles = Vec::new();
    let mut policies = Vec::new();
    let mut revoker = None;
    for r in &account.resources {
        match r {
            Resource::Role(role) if role.path == "/breakglass/" => revoker = Some(role.clone()),
            Resource::Role(role) if role.name != "SecurityDeploy" => roles.push(role.clone()),
            Resource::Policy(p) => policies.push((p.arn("aws", PRODUCTION), p.document.clone())),
            _ => {}
        }
    }
    Account {
        roles,
        policies,
        revoker: revoker.unwrap(),
    }
}

fn role_arn(role: &Role) -> String {
    format!("arn:aws:iam::{PRODUCTION}:role{}{}", role.path, role.name)
}

/// The policy set of a session of `role`, holding only the policies `keep` lets through
/// (inline by name, managed by ARN). An AWS managed policy stands as "allow everything", the
/// worst case for a guardrail.
fn session_of(account: &Account, role: &Role, keep: impl Fn(&str) -> bool) -> PolicySet {
    let mut docs = Vec::new();
    for arn in &role.managed_policies {
        if !keep(arn) {
            continue;
        }
        match account.policies.iter().find(|(a, _)| a == arn) {
            Some((_, doc)) => docs.push(identity(doc)),
            None => docs.push(identity(&allow_everything())),
        }
    }
    for (name, doc) in &role.inline_policies {
        if keep(name) {
            docs.push(identity(doc));
        }
    }
    docs.iter()
        .fold(PolicySet::builder(), |b, p| b.identity(p))
        .build()
}

fn request(role: &Role, action: &str, resource: &str) -> Request {
    let caller = parse_caller(
        &format!(
            "arn:aws:sts::{PRODUCTION}:assumed-role/{}/g-0001",
            role.name
        ),
        None,
    )
    .unwrap();
    let mut request = Request::new(caller, action, resource).with_resource_account(PRODUCTION);
    request.insert_context("aws:PrincipalArn", ContextValue::one(role_arn(role)));
    request.insert_context(
        "aws:ResourceTag/breakglass:managed-by",
        ContextValue::one("breakglass"),
    );
    request.derive_principal_keys();
    request
}

/// What a session of a break-glass role would do to escape: each must stay denied.
fn escapes(role: &Role) -> Vec<Request> {
    let own = role_arn(role);
    let mut untag = request(role, "iam:UntagRole", &own);
    untag.insert_context("aws:TagKeys", ContextValue::many(["breakglass:managed-by"]));
    let mut retag = request(role, "iam:TagRole", &own);
    retag.insert_context("aws:TagKeys", ContextValue::many(["breakglass:managed-by"]));
    vec![
        untag,
        retag,
        request(role, "iam:DeleteRolePolicy", &own),
        request(role, "iam:DetachRolePolicy", &own),
        request(
            role,
            "iam:CreatePolicyVersion",
            &format!("arn:aws:iam::{PRODUCTION}:policy/breakglass/BreakglassGuardrails"),
        ),
        request(
            role,
            "iam:PutRolePolicy",
            &format!("arn:aws:iam::{PRODUCTION}:role/breakglass/BreakglassRevoker"),
        ),
        request(role, "cloudtrail:StopLogging", "*"),
        request(
            role,
            "iam:CreateUser",
            &format!("arn:aws:iam::{PRODUCTION}:user/backdoor"),
        ),
        request(
            role,
            "iam:CreateAccessKey",
            &format!("arn:aws:iam::{PRODUCTION}:user/someone"),
        ),
    ]
}

#[test]
fn a_break_glass_session_cannot_untag_its_role_or_shed_its_guardrails() {
    let config = example();
    let account = production(&config);
    let role = account
        .roles
        .iter()
        .find(|r| r.name == "SecurityBreakGlass")
        .unwrap();
    let set = session_of(&account, role, |_| true);
    for escape in escapes(role) {
        assert_eq!(
            set.evaluate(&escape).decision,
            Decision::ExplicitDeny,
            "{} on {}",
            escape.action(),
            escape.resource()
        );
    }
}

#[test]
fn every_brokered_role_carries_the_guardrails_denying_tag_changes() {
    let config = example();
    let account = production(&config);
    assert!(!account.roles.is_empty());
    for role in &account.roles {
        let set = session_of(&account, role, |_| true);
        let mut untag = request(role, "iam:UntagRole", &role_arn(role));
        untag.insert_context("aws:TagKeys", ContextValue::many(["breakglass:managed-by"]));
        assert_eq!(
            set.evaluate(&untag).decision,
            Decision::ExplicitDeny,
            "{}",
            role.name
        );
    }
}

#[test]
fn the_revoker_cannot_remove_a_guardrail() {
    let config = example();
    let account = production(&config);
    let revoker_policies: Vec<Policy> = account
        .revoker
        .inline_policies
        .values()
        .map(identity)
        .collect();
    let revoker = revoker_policies
        .iter()
        .fold(PolicySet::builder(), |b, p| b.identity(p))
        .build();
    let revoker_may = |action: &str, resource: &str| {
        let caller = parse_caller(
            &format!("arn:aws:sts::{PRODUCTION}:assumed-role/BreakglassRevoker/broker"),
            None,
        )
        .unwrap();
        let mut request = Request::new(caller, action, resource).with_resource_account(PRODUCTION);
        request.insert_context(
            "aws:ResourceTag/breakglass:managed-by",
            ContextValue::one("breakglass"),
        );
        request.derive_principal_keys();
        revoker.evaluate(&request).decision == Decision::Allow
    };
    for role in &account.roles {
        let arn = role_arn(role);
        // What is left of the role once the revoker removed whatever it can.
        let survives = |policy: &str| {
            if policy.starts_with("arn:") {
                !(revoker_may("iam:DetachRolePolicy", &arn)
                    || revoker_may("iam:DeletePolicy", policy)
                    || revoker_may("iam:CreatePolicyVersion", policy))
            } else {
                !revoker_may("iam:DeleteRolePolicy", &arn)
            }
        };
        let set = session_of(&account, role, survives);
        for escape in escapes(role) {
            assert_eq!(
                set.evaluate(&escape).decision,
                Decision::ExplicitDeny,
                "{}: {} on {} after the revoker's changes",
                role.name,
                escape.action(),
                escape.resource()
            );
        }
    }
}

#[test]
fn a_contain_session_may_attach_only_the_quarantine_policy() {
    let config = example();
    let contain = config
        .playbooks
        .iter()
        .find(|p| p.id.as_str() == "contain")
        .unwrap();
    let doc: Value = serde_json::from_str(contain.session_policy.as_str()).unwrap();
    let session = parse_value(&doc, PolicyType::Session).unwrap();
    let role = identity(&allow_everything());
    let set = PolicySet::builder()
        .identity(&role)
        .session(&session)
        .build();
    let attach = |policy: &str| {
        let caller = parse_caller(
            &format!("arn:aws:sts::{PRODUCTION}:assumed-role/SecurityBreakGlass/g-0001"),
            None,
        )
        .unwrap();
        let mut request = Request::new(
            caller,
            "iam:AttachUserPolicy",
            &format!("arn:aws:iam::{PRODUCTION}:user/compromised"),
        )
        .with_resource_account(PRODUCTION);
        request.insert_context("aws:RequestedRegion", ContextValue::one("us-east-1"));
        request.insert_context("iam:PolicyARN", ContextValue::one(policy));
        request.derive_principal_keys();
        set.evaluate(&request).decision
    };
    assert_eq!(
        attach("arn:aws:iam::aws:policy/AdministratorAccess"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        attach("arn:aws:iam::aws:policy/AWSDenyAll"),
        Decision::Allow
    );
}

#[test]
fn no_playbook_of_the_example_has_an_escalation_path() {
    let config = example();
    for playbook in &config.playbooks {
        let doc: Value = serde_json::from_str(playbook.session_policy.as_str()).unwrap();
        assert_eq!(escalation_paths(&config, &doc), [], "{}", playbook.id);
    }
    let findings = lint(&config, None);
    assert!(
        findings.iter().all(|f| f.code != "escalation-path"),
        "{findings:#?}"
    );
}

#[test]
fn a_hand_written_playbook_with_an_escalation_path_is_reported() {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/breakglass.toml"),
    )
    .unwrap();
    let text = text.replace(
        r#"session_policy = { template = "read_only_investigation" }"#,
        r#"session_policy = { document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:*", "iam:PassRole", "iam:AttachRolePolicy"], "Resource": "*"}]}' }"#,
    );
    let config = Config::load(&text, "breakglass.toml").unwrap();
    let findings = lint(&config, None);
    let found: Vec<_> = findings
        .iter()
        .filter(|f| f.code == "escalation-path")
        .collect();
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert!(
        found[0].message.contains("`iam:PassRole`"),
        "{}",
        found[0].message
    );
    assert!(
        found[0].message.contains("`iam:AttachRolePolicy`"),
        "{}",
        found[0].message
    );
    assert!(found[0].path.to_string().contains("investigate"));
}

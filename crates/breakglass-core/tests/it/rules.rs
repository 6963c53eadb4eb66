//! The Cedar rules: policies generated from the catalog, hand-written policies, explained
//! decisions, and every policy problem reported with its location.

use breakglass_core::model::{AccountId, IncidentId, PlaybookId, RoleArn};
use breakglass_core::request::{
    Command, Env, NewRequest, Settings, TransitionError, apply, submit,
};
use breakglass_core::rules::{Action, AdminResource, Ask, PolicySource, Rules};
use time::Duration;

use crate::support::{T0, catalog, rules, user};

fn ask(requester: &str, account: &str, role: &str, hours: i64) -> Ask {
    Ask {
        requester: user(requester),
        role_arn: RoleArn::new(format!(
            "arn:aws:iam::{account}:role/incident-response/{role}"
        ))
        .unwrap(),
        account: AccountId::new(account).unwrap(),
        duration: Duration::hours(hours),
        incident: IncidentId::new("INC-1").unwrap(),
        mfa: false,
        break_glass: false,
    }
}

fn pb(id: &str) -> PlaybookId {
    PlaybookId::new(id).unwrap()
}

#[test]
fn generated_policies_match_the_snapshot() {
    let rules = rules(catalog());
    insta::assert_snapshot!(rules.generated_policies());
}

#[test]
fn decisions_name_the_policies_that_made_them() {
    let rules = rules(catalog());
    let a = ask("alice", "111111111111", "SecurityAnalyst", 1);
    let d = rules.decide(&user("alice"), Action::Request, &pb("investigate"), &a);
    assert!(d.allowed);
    assert_eq!(d.policies.len(), 1);
    assert_eq!(d.policies[0].id, "playbook.investigate.request");
    assert_eq!(
        d.to_string(),
        "permitted by `playbook.investigate.request` (members of responders may request playbook `investigate` for up to 14400 seconds)"
    );

    // Too long, wrong role, not eligible: each is an implicit deny.
    for (who, role, hours) in [
        ("alice", "SecurityAnalyst", 5),
        ("alice", "SecurityBreakGlass", 1),
        ("carol", "SecurityAnalyst", 1),
    ] {
        let d = rules.decide(
            &user(who),
            Action::Request,
            &pb("investigate"),
            &ask(who, "111111111111", role, hours),
        );
        assert!(!d.allowed, "{who} {role} {hours}h");
        assert_eq!(d.to_string(), "no policy permits it");
    }

    let approve = rules.decide(&user("carol"), Action::Approve, &pb("investigate"), &a);
    assert!(approve.allowed);
    assert_eq!(approve.policies[0].id, "playbook.investigate.approve");
    let revoke_own = rules.decide(&user("alice"), Action::Revoke, &pb("investigate"), &a);
    assert_eq!(revoke_own.policies[0].id, "builtin.revoke-own");
}

#[test]
fn break_glass_needs_the_mfa_flag_in_the_rules_too() {
    let rules = rules(catalog());
    let mut a = ask("alice", "111111111111", "SecurityBreakGlass", 1);
    a.break_glass = true;
    let no_mfa = rules.decide(
        &user("alice"),
        Action::ActivateBreakGlass,
        &pb("contain"),
        &a,
    );
    assert!(!no_mfa.allowed);
    a.mfa = true;
    let mfa = rules.decide(
        &user("alice"),
        Action::ActivateBreakGlass,
        &pb("contain"),
        &a,
    );
    assert!(mfa.allowed);
    assert_eq!(mfa.policies[0].id, "playbook.contain.break-glass");
    // No break-glass policy is generated for a playbook that does not allow it.
    let other = rules.decide(
        &user("alice"),
        Action::ActivateBreakGlass,
        &pb("investigate"),
        &a,
    );
    assert!(!other.allowed);
}

#[test]
fn hand_written_forbids_override_generated_permits_and_are_explained() {
    let extra = PolicySource {
        name: "org.cedar".to_owned(),
        text: r#"
@id("prod-max-1h")
@description("production access is limited to one hour")
forbid(principal, action == Action::"request", resource)
when { context.account.name == "production" && context.duration_seconds > 3600 };
"#
        .to_owned(),
    };
    let rules = Rules::new(catalog(), &[extra]).unwrap();
    let long = rules.decide(
        &user("alice"),
        Action::Request,
        &pb("investigate"),
        &ask("alice", "111111111111", "SecurityAnalyst", 2),
    );
    assert!(!long.allowed);
    assert_eq!(
        long.to_string(),
        "forbidden by `prod-max-1h` (production access is limited to one hour)"
    );
    let staging = rules.decide(
        &user("alice"),
        Action::Request,
        &pb("investigate"),
        &ask("alice", "222222222222", "SecurityAnalyst", 2),
    );
    assert!(staging.allowed);
}

#[test]
fn no_policy_can_permit_self_approval() {
    let extra = PolicySource {
        name: "permissive.cedar".to_owned(),
        text: "permit(principal, action, resource);".to_owned(),
    };
    let rules = Rules::new(catalog(), &[extra]).unwrap();
    let settings = Settings::default();
    let env = Env {
        rules: &rules,
        settings: &settings,
        now: T0,
    };
    let new = NewRequest {
        requester: user("alice"),
        playbook: pb("investigate"),
        role: "SecurityAnalyst".parse().unwrap(),
        account: AccountId::new("111111111111").unwrap(),
        duration: Duration::hours(1),
        incident: IncidentId::new("INC-1").unwrap(),
        justification: "x".to_owned(),
    };
    let r = submit("r-1".parse().unwrap(), new, &env).unwrap().request;
    let err = apply(
        &r,
        Command::Approve {
            approver: user("alice"),
            digest: r.digest,
            comment: String::new(),
        },
        &env,
    )
    .unwrap_err();
    assert!(matches!(err, TransitionError::SelfApproval(_)));
    // The permissive policy does let an outsider approve: policy decides who, code decides
    // that it is never the requester.
    let ok = apply(
        &r,
        Command::Approve {
            approver: user("mallory"),
            digest: r.digest,
            comment: String::new(),
        },
        &env,
    );
    assert!(ok.is_ok());
}

#[test]
fn administer_is_granted_only_by_hand_written_policy() {
    let plain = rules(catalog());
    let arn =
        RoleArn::new("arn:aws:iam::111111111111:role/incident-response/SecurityAnalyst").unwrap();
    assert!(
        !plain
            .administer(&user("bob"), &AdminResource::Role(arn.clone()))
            .allowed
    );
    let extra = PolicySource {
        name: "admins.cedar".to_owned(),
        text: r#"@id("leads-administer") permit(principal in Group::"ir-leads", action == Action::"administer", resource);"#.to_owned(),
    };
    let rules = Rules::new(catalog(), &[extra]).unwrap();
    assert!(
        rules
            .administer(&user("bob"), &AdminResource::Role(arn))
            .allowed
    );
    assert!(
        rules
            .administer(
                &user("carol"),
                &AdminResource::Account(AccountId::new("222222222222").unwrap())
            )
            .allowed
    );
    assert!(
        !rules
            .administer(&user("alice"), &AdminResource::Playbook(pb("contain")))
            .allowed
    );
}

#[test]
fn every_policy_problem_is_reported_with_its_location() {
    let broken = PolicySource {
        name: "broken.cedar".to_owned(),
        text: "permit(principal, action, resource);\n\npermit(principal, action == Action::\"request\", resource)\n  when { context.nope == 1 };\n".to_owned(),
    };
    let unparsable = PolicySource {
        name: "typo.cedar".to_owned(),
        text: "permit(principal, action, resource)\nwhen { principal.name == };\n".to_owned(),
    };
    let err = Rules::new(catalog(), &[broken, unparsable]).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    let typo = err
        .problems
        .iter()
        .find(|p| p.source == "typo.cedar")
        .unwrap();
    assert_eq!(typo.line, Some(2), "{typo}");
    let invalid = err
        .problems
        .iter()
        .find(|p| p.source == "broken.cedar")
        .unwrap();
    assert_eq!(invalid.line, Some(4), "{invalid}");
    assert!(invalid.message.contains("nope"), "{invalid}");
    assert!(
        err.to_string()
            .starts_with("2 problems in the Cedar rules: "),
        "{err}"
    );
}

#[test]
fn duplicate_policy_ids_are_reported() {
    let a = PolicySource {
        name: "a.cedar".to_owned(),
        text: "@id(\"playbook.investigate.request\") permit(principal, action, resource);"
            .to_owned(),
    };
    let err = Rules::new(catalog(), &[a]).unwrap_err();
    assert!(
        err.to_string()
            .contains("policy id `playbook.investigate.request` is used twice"),
        "{err}"
    );
}

/// What a responder may ask for is what `submit` and break-glass accept: eligibility,
/// the playbook's accounts, the quorum, and hand-written policies that narrow a duration.
#[test]
fn offers_are_what_submit_and_break_glass_accept() {
    let extra = PolicySource {
        name: "org.cedar".to_owned(),
        text: r#"
@id("prod-max-1h")
forbid(principal, action == Action::"request", resource)
when { context.account.name == "production" && context.duration_seconds > 5400 };
"#
        .to_owned(),
    };
    let rules = Rules::new(catalog(), &[extra]).unwrap();
    let settings = Settings::default();
    let env = Env {
        rules: &rules,
        settings: &settings,
        now: T0,
    };
    let offers = breakglass_core::request::offers(&user("alice"), &env);
    // (playbook, role, account name, longest request, longest break-glass), in minutes.
    type Seen<'a> = (&'a str, &'a str, &'a str, Option<i64>, Option<i64>);
    let seen: Vec<Seen<'_>> = offers
        .iter()
        .flat_map(|o| {
            o.targets.iter().map(move |t| {
                (
                    o.playbook.id.as_str(),
                    t.role.as_str(),
                    t.account_name.as_deref().unwrap_or("?"),
                    t.request.map(|d| d.whole_minutes()),
                    t.break_glass.map(|d| d.whole_minutes()),
                )
            })
        })
        .collect();
    assert_eq!(
        seen,
        [
            // Narrowed to 90 minutes in production by the hand-written forbid.
            (
                "investigate",
                "SecurityAnalyst",
                "production",
                Some(90),
                None
            ),
            ("investigate", "SecurityAnalyst", "staging", Some(240), None),
            // Break-glass is open to it, with MFA, for the playbook's hour (the forbid
            // names `request` only).
            (
                "contain",
                "SecurityBreakGlass",
                "production",
                Some(60),
                Some(60)
            ),
            (
                "self-service",
                "SecurityAnalyst",
                "staging",
                Some(120),
                None
            ),
        ]
    );
    // Each offer is accepted by `submit` at its longest duration, and refused a minute
    // longer.
    let new = |account: &str, minutes: i64| NewRequest {
        requester: user("alice"),
        playbook: pb("investigate"),
        role: breakglass_core::model::RoleName::new("SecurityAnalyst").unwrap(),
        account: AccountId::new(account).unwrap(),
        duration: Duration::minutes(minutes),
        incident: IncidentId::new("INC-1").unwrap(),
        justification: "x".to_owned(),
    };
    assert!(breakglass_core::request::check_submit(&new("111111111111", 90), &env).is_ok());
    assert!(breakglass_core::request::check_submit(&new("111111111111", 91), &env).is_err());
    // Mallory is in no group: nothing to offer.
    assert!(breakglass_core::request::offers(&user("mallory"), &env).is_empty());
    // Carol is not eligible for any playbook (an approver only).
    assert!(breakglass_core::request::offers(&user("carol"), &env).is_empty());
}

/// The request form offers `Catalog::grantable`: it must be exactly the role/account
/// pairs a request for the playbook is not refused for (role not in the playbook, account
/// not in the playbook, role not deployed there), or the console offers what it refuses.
#[test]
fn grantable_is_what_a_playbook_accepts() {
    let catalog = catalog();
    let rules = Rules::new(catalog.clone(), &[]).unwrap();
    let settings = Settings::default();
    let env = Env {
        rules: &rules,
        settings: &settings,
        now: T0,
    };
    let mut role_names: Vec<_> = catalog.roles.iter().map(|r| r.name.clone()).collect();
    role_names.dedup();
    let mut offered = 0;
    for p in &catalog.playbooks {
        let grantable: Vec<(String, String)> = catalog
            .grantable(p)
            .map(|r| (r.name.to_string(), r.account.to_string()))
            .collect();
        for role in &role_names {
            for account in &catalog.accounts {
                let new = NewRequest {
                    requester: user("bob"),
                    playbook: p.id.clone(),
                    role: role.clone(),
                    account: account.id.clone(),
                    duration: Duration::minutes(30),
                    incident: IncidentId::new("INC-1").unwrap(),
                    justification: "x".to_owned(),
                };
                let refused_for_target = matches!(
                    submit("r-1".parse().unwrap(), new, &env),
                    Err(TransitionError::RoleNotInPlaybook { .. }
                        | TransitionError::AccountNotInPlaybook { .. }
                        | TransitionError::RoleNotDeployed { .. })
                );
                let pair = (role.to_string(), account.id.to_string());
                assert_eq!(
                    grantable.contains(&pair),
                    !refused_for_target,
                    "playbook {} with {pair:?}",
                    p.id
                );
                offered += usize::from(!refused_for_target);
            }
        }
    }
    assert!(offered > 0, "the fixture grants something");
}

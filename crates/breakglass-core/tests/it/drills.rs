//! The drill rule, attacked: a drill request walks the real state machine, but only drill
//! identities act on it, they act on nothing else, its session policy allows only harmless
//! reads, and nobody is notified of it.

use breakglass_core::drill::{self, is_drill_identity};
use breakglass_core::model::{AccountId, GrantId, IncidentId, PlaybookId, RoleName};
use breakglass_core::outbox::notifications;
use breakglass_core::request::{
    AccessRequest, Command, Env, NewRequest, RequestKind, Settings, Status, TransitionError, apply,
    submit, submit_drill,
};
use breakglass_core::rules::Action;
use breakglass_iam::{ContextValue, Decision, PolicySet, PolicyType, Request};
use time::Duration;

use crate::support::{T0, catalog, duration, rules, user};

fn ask(requester: &str, playbook: &str, account: &str) -> NewRequest {
    NewRequest {
        requester: user(requester),
        playbook: PlaybookId::new(playbook).unwrap(),
        role: RoleName::new(if playbook == "contain" {
            "SecurityBreakGlass"
        } else {
            "SecurityAnalyst"
        })
        .unwrap(),
        account: AccountId::new(account).unwrap(),
        duration: duration("15m"),
        incident: IncidentId::new("DRILL-dr-1").unwrap(),
        justification: "drill".to_owned(),
    }
}

struct World {
    rules: breakglass_core::rules::Rules,
    settings: Settings,
}

impl World {
    fn new() -> Self {
        Self {
            rules: rules(catalog()),
            settings: Settings::default(),
        }
    }

    fn env(&self) -> Env<'_> {
        Env {
            rules: &self.rules,
            settings: &self.settings,
            now: T0,
        }
    }

    fn drill(&self, playbook: &str) -> AccessRequest {
        let mut new = ask("breakglass-drill", playbook, "111111111111");
        new.requester = drill::requester();
        submit_drill("r-drill".parse().unwrap(), new, &self.env())
            .unwrap()
            .request
    }

    fn run(&self, r: &AccessRequest, c: Command) -> Result<AccessRequest, TransitionError> {
        apply(r, c, &self.env()).map(|t| t.request)
    }
}

fn approve(r: &AccessRequest, who: breakglass_core::model::Username) -> Command {
    Command::Approve {
        approver: who,
        digest: r.digest,
        comment: String::new(),
    }
}

fn refused(result: Result<AccessRequest, TransitionError>, action: Action) {
    match result {
        Err(TransitionError::NotAllowed {
            action: a,
            decision,
            ..
        }) => {
            assert_eq!(a, action);
            assert_eq!(decision.policies[0].id, drill::DRILL_POLICY);
        }
        other => panic!("expected the drill rule's refusal, got {other:?}"),
    }
}

#[test]
fn drill_identities_are_reserved_names() {
    assert!(is_drill_identity("breakglass-drill"));
    assert!(is_drill_identity("breakglass-drill-approver-2"));
    assert!(is_drill_identity("BreakGlass-Drill-x"));
    assert!(!is_drill_identity("breakglass"));
    assert!(!is_drill_identity("alice"));
    assert_eq!(drill::approver(3).as_str(), "breakglass-drill-approver-3");
}

#[test]
fn a_drill_walks_the_real_state_machine_with_drill_approvals() {
    let w = World::new();
    let r = w.drill("investigate");
    assert_eq!(r.kind, RequestKind::Drill);
    assert_eq!(r.status, Status::Pending);
    assert_eq!(
        r.required_approvals, 2,
        "as many approvals as the playbook needs"
    );
    assert_eq!(
        r.spec.session_policy,
        drill::session_policy(&r.spec.role_arn)
    );
    let r = w.run(&r, approve(&r, drill::approver(1))).unwrap();
    let r = w.run(&r, approve(&r, drill::approver(2))).unwrap();
    assert!(matches!(r.status, Status::Approved { .. }));
    assert!(
        r.approvals
            .iter()
            .all(|a| a.decision.policies[0].id == drill::DRILL_POLICY),
        "recorded as drill approvals"
    );
    let r = w
        .run(
            &r,
            Command::Activate {
                by: drill::requester(),
                grant: GrantId::new("g-drill").unwrap(),
            },
        )
        .unwrap();
    assert_eq!(r.status, Status::Active);
    // Never extended.
    let extend = w.run(
        &r,
        Command::RequestExtension {
            by: drill::requester(),
            add: Duration::minutes(5),
            justification: "more".to_owned(),
        },
    );
    assert!(
        matches!(extend, Err(TransitionError::InvalidInput { .. })),
        "{extend:?}"
    );
    // Its requester revokes it.
    let r = w
        .run(
            &r,
            Command::Revoke {
                by: drill::requester(),
                reason: "drill".to_owned(),
                by_admin: false,
            },
        )
        .unwrap();
    assert!(matches!(r.status, Status::Revoked { .. }));
}

#[test]
fn a_person_cannot_approve_deny_activate_or_revoke_a_drill() {
    let w = World::new();
    let r = w.drill("investigate");
    // carol and dave are ir-leads: the playbook's approvers, for a real request.
    refused(w.run(&r, approve(&r, user("carol"))), Action::Approve);
    refused(
        w.run(
            &r,
            Command::Deny {
                approver: user("dave"),
                reason: "no".to_owned(),
            },
        ),
        Action::Approve,
    );
    let r = w.run(&r, approve(&r, drill::approver(1))).unwrap();
    let r = w.run(&r, approve(&r, drill::approver(2))).unwrap();
    refused(
        w.run(
            &r,
            Command::Revoke {
                by: user("carol"),
                reason: "x".to_owned(),
                by_admin: false,
            },
        ),
        Action::Revoke,
    );
    // An administrator may still end it: ending access is the safe direction.
    assert!(
        w.run(
            &r,
            Command::Revoke {
                by: user("carol"),
                reason: "x".to_owned(),
                by_admin: true,
            },
        )
        .is_ok()
    );
}

#[test]
fn drill_approvals_satisfy_only_a_drill_request() {
    let w = World::new();
    let real = submit(
        "r-real".parse().unwrap(),
        ask("alice", "investigate", "111111111111"),
        &w.env(),
    )
    .unwrap()
    .request;
    refused(
        w.run(&real, approve(&real, drill::approver(1))),
        Action::Approve,
    );
    refused(
        w.run(&real, approve(&real, drill::requester())),
        Action::Approve,
    );
    // The drill requester cannot approve its own drill either.
    let d = w.drill("investigate");
    assert!(matches!(
        w.run(&d, approve(&d, drill::requester())),
        Err(TransitionError::SelfApproval(_))
    ));
}

#[test]
fn the_drill_identity_cannot_ask_for_real_access_and_nobody_else_can_submit_a_drill() {
    let w = World::new();
    let mut new = ask("alice", "investigate", "111111111111");
    new.requester = drill::requester();
    assert!(matches!(
        submit("r-1".parse().unwrap(), new.clone(), &w.env()),
        Err(TransitionError::UnknownResponder(_))
    ));
    let as_alice = ask("alice", "investigate", "111111111111");
    assert!(matches!(
        submit_drill("r-2".parse().unwrap(), as_alice, &w.env()),
        Err(TransitionError::InvalidInput {
            field: "requester",
            ..
        })
    ));
    // A drill still resolves against the catalog like a real request.
    new.account = AccountId::new("333333333333").unwrap();
    assert!(submit_drill("r-3".parse().unwrap(), new, &w.env()).is_err());
}

#[test]
fn nobody_is_notified_of_a_drill_request() {
    let w = World::new();
    let r = w.drill("contain");
    let t = apply(&r, approve(&r, drill::approver(1)), &w.env()).unwrap();
    assert!(notifications(Some(&t.request), &t.events).is_empty());
}

#[test]
fn the_drill_session_policy_allows_only_harmless_reads() {
    let role = breakglass_core::model::RoleArn::new(
        "arn:aws:iam::111111111111:role/incident-response/SecurityBreakGlass",
    )
    .unwrap();
    let policy = breakglass_iam::parse(&drill::session_policy(&role), PolicyType::Session).unwrap();
    let everything = breakglass_iam::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let set = PolicySet::builder()
        .identity(&everything)
        .session(&policy)
        .build();
    let decide = |action: &str, resource: &str| {
        let caller = breakglass_iam::parse_caller(
            "arn:aws:sts::111111111111:assumed-role/SecurityBreakGlass/g-1",
            None,
        )
        .unwrap();
        let mut request =
            Request::new(caller, action, resource).with_resource_account("111111111111");
        request.insert_context("aws:SourceIdentity", ContextValue::one("breakglass-drill"));
        set.evaluate(&request).decision
    };
    assert_eq!(decide("sts:GetCallerIdentity", "*"), Decision::Allow);
    assert_eq!(decide("iam:GetRole", role.as_str()), Decision::Allow);
    for (action, resource) in [
        ("iam:GetRole", "arn:aws:iam::111111111111:role/Other"),
        ("iam:PassRole", role.as_str()),
        ("iam:PutRolePolicy", role.as_str()),
        ("s3:GetObject", "arn:aws:s3:::evidence/x"),
        ("ec2:TerminateInstances", "*"),
        ("sts:AssumeRole", "arn:aws:iam::222222222222:role/x"),
    ] {
        assert_eq!(decide(action, resource), Decision::ImplicitDeny, "{action}");
    }
}

//! Property tests: random interleavings of every command, by every kind of actor, at random
//! times, never break the invariants of a request (see `support::check_invariants`) nor the
//! ones between consecutive states: final states stay final, approvals are append-only,
//! grants only get longer, and only an amendment changes what approvers approve.

use breakglass_core::canonical::Sha256Digest;
use breakglass_core::model::{AccountId, GrantId, IncidentId, PlaybookId, RequestId, RoleName};
use breakglass_core::request::{
    AccessRequest, Command, Env, NewRequest, ReviewOutcome, Settings, activate_break_glass, apply,
    submit,
};
use proptest::prelude::*;
use time::Duration;

use crate::support::{T0, catalog, check_invariants, rules, set_groups, user};

const USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];
const PLAYBOOKS: [(&str, &str, &str); 3] = [
    ("investigate", "SecurityAnalyst", "111111111111"),
    ("contain", "SecurityBreakGlass", "111111111111"),
    ("self-service", "SecurityAnalyst", "222222222222"),
];

#[derive(Debug, Clone)]
enum Op {
    Submit {
        who: usize,
        playbook: usize,
        minutes: i64,
    },
    BreakGlass {
        who: usize,
        mfa: bool,
        minutes: i64,
    },
    Approve {
        who: usize,
        req: usize,
        stale: bool,
    },
    Deny {
        who: usize,
        req: usize,
    },
    Cancel {
        who: usize,
        req: usize,
    },
    Amend {
        who: usize,
        req: usize,
        minutes: i64,
    },
    TimeOut {
        req: usize,
    },
    Activate {
        who: usize,
        req: usize,
    },
    Extend {
        who: usize,
        req: usize,
        minutes: i64,
    },
    ApproveExtension {
        who: usize,
        req: usize,
    },
    DenyExtension {
        who: usize,
        req: usize,
    },
    Revoke {
        who: usize,
        req: usize,
    },
    Expire {
        req: usize,
    },
    Review {
        who: usize,
        req: usize,
        ok: bool,
    },
    Issue {
        req: usize,
        minutes: i64,
    },
    Advance {
        minutes: i64,
    },
    SetGroups {
        who: usize,
        mask: u8,
    },
}

/// Indexes past the end of `USERS` mean "the request's own requester", so the commands only
/// a requester may give are exercised often enough.
fn actor(who: usize, request: &AccessRequest) -> breakglass_core::model::Username {
    USERS
        .get(who)
        .map_or_else(|| request.spec.requester.clone(), |u| user(u))
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..USERS.len() + 3;
    let req = 0..8usize;
    prop_oneof![
        6 => (0..USERS.len(), 0..PLAYBOOKS.len(), 10..150i64)
            .prop_map(|(who, playbook, minutes)| Op::Submit { who, playbook, minutes }),
        1 => (0..USERS.len(), any::<bool>(), 10..90i64)
            .prop_map(|(who, mfa, minutes)| Op::BreakGlass { who, mfa, minutes }),
        6 => (who.clone(), req.clone(), prop::bool::weighted(0.1))
            .prop_map(|(who, req, stale)| Op::Approve { who, req, stale }),
        1 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::Deny { who, req }),
        1 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::Cancel { who, req }),
        1 => (who.clone(), req.clone(), 15..300i64)
            .prop_map(|(who, req, minutes)| Op::Amend { who, req, minutes }),
        1 => req.clone().prop_map(|req| Op::TimeOut { req }),
        3 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::Activate { who, req }),
        3 => (who.clone(), req.clone(), 1..100i64)
            .prop_map(|(who, req, minutes)| Op::Extend { who, req, minutes }),
        2 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::ApproveExtension { who, req }),
        1 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::DenyExtension { who, req }),
        1 => (who.clone(), req.clone()).prop_map(|(who, req)| Op::Revoke { who, req }),
        1 => req.clone().prop_map(|req| Op::Expire { req }),
        1 => (who.clone(), req.clone(), any::<bool>())
            .prop_map(|(who, req, ok)| Op::Review { who, req, ok }),
        1 => (req.clone(), 1..120i64).prop_map(|(req, minutes)| Op::Issue { req, minutes }),
        2 => (1..40i64).prop_map(|minutes| Op::Advance { minutes }),
        1 => (0..USERS.len(), 0..4u8).prop_map(|(who, mask)| Op::SetGroups { who, mask }),
    ]
}

fn new_request(who: usize, playbook: usize, minutes: i64) -> NewRequest {
    let (p, role, account) = PLAYBOOKS[playbook];
    NewRequest {
        requester: user(USERS[who]),
        playbook: PlaybookId::new(p).unwrap(),
        role: RoleName::new(role).unwrap(),
        account: AccountId::new(account).unwrap(),
        duration: Duration::minutes(minutes),
        incident: IncidentId::new("INC-7").unwrap(),
        justification: "property test".to_owned(),
    }
}

/// What must hold between a request and its successor.
fn check_step(before: &AccessRequest, after: &AccessRequest, command: &Command) {
    assert_eq!(before.id, after.id);
    if before.status.is_final() {
        assert_eq!(before.status, after.status, "a final state changed");
        assert!(
            matches!(command, Command::Review { .. }),
            "only a review touches a final request"
        );
    }
    assert!(
        after.approvals.starts_with(&before.approvals),
        "approvals are append-only"
    );
    if before.digest != after.digest {
        assert!(
            matches!(command, Command::Amend { .. }),
            "digest changed by {command:?}"
        );
    }
    if let Some(b) = &before.grant {
        let a = after.grant.as_ref().expect("a grant never disappears");
        assert_eq!((&a.id, a.start), (&b.id, b.start));
        assert!(a.end >= b.end, "a grant got shorter");
        assert!(a.issued.starts_with(&b.issued));
    }
    // Every approval that counts was permitted by the rules when it was given.
    for approval in after.approvals.iter().filter(|a| a.digest == after.digest) {
        assert!(approval.decision.allowed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_never_break_the_invariants(ops in prop::collection::vec(op(), 1..60)) {
        let mut catalog = catalog();
        let mut rules = rules(catalog.clone());
        let settings = Settings::default();
        let mut now = T0;
        let mut requests: Vec<AccessRequest> = Vec::new();
        let mut n = 0u32;
        for op in ops {
            let env = Env { rules: &rules, settings: &settings, now };
            n += 1;
            let id = RequestId::new(format!("r-{n}")).unwrap();
            let grant = GrantId::new(format!("g-{n}")).unwrap();
            let pick = |req: usize| (!requests.is_empty()).then(|| req % requests.len());
            let (index, command) = match op {
                Op::Submit { who, playbook, minutes } => {
                    if let Ok(t) = submit(id, new_request(who, playbook, minutes), &env) {
                        check_invariants(&t.request);
                        prop_assert!(!t.events.is_empty());
                        requests.push(t.request);
                    }
                    continue;
                }
                Op::BreakGlass { who, mfa, minutes } => {
                    if let Ok(t) = activate_break_glass(id, grant, new_request(who, 1, minutes), mfa, &env) {
                        prop_assert!(mfa, "break-glass without MFA");
                        check_invariants(&t.request);
                        requests.push(t.request);
                    }
                    continue;
                }
                Op::Advance { minutes } => {
                    now += Duration::minutes(minutes);
                    continue;
                }
                Op::SetGroups { who, mask } => {
                    let groups: Vec<String> = [(1, "responders"), (2, "ir-leads")]
                        .into_iter()
                        .filter(|(bit, _)| mask & bit != 0)
                        .map(|(_, g)| g.to_owned())
                        .collect();
                    set_groups(&mut catalog, USERS[who], &groups);
                    rules = crate::support::rules(catalog.clone());
                    continue;
                }
                Op::Approve { who, req, stale } => {
                    let Some(i) = pick(req) else { continue };
                    let digest = if stale { Sha256Digest::of(b"stale") } else { requests[i].digest };
                    (i, Command::Approve { approver: actor(who, &requests[i]), digest, comment: String::new() })
                }
                Op::Deny { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Deny { approver: actor(who, &requests[i]), reason: "no".to_owned() })
                }
                Op::Cancel { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Cancel { by: actor(who, &requests[i]), reason: String::new() })
                }
                Op::Amend { who, req, minutes } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Amend { by: actor(who, &requests[i]), duration: Some(Duration::minutes(minutes)), incident: None, justification: None, session_policy: None })
                }
                Op::TimeOut { req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::TimeOut)
                }
                Op::Activate { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Activate { by: actor(who, &requests[i]), grant })
                }
                Op::Extend { who, req, minutes } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::RequestExtension { by: actor(who, &requests[i]), add: Duration::minutes(minutes), justification: "more".to_owned() })
                }
                Op::ApproveExtension { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    let digest = requests[i].grant.as_ref().and_then(|g| g.pending_extension.as_ref()).map_or(Sha256Digest::ZERO, |p| p.digest);
                    (i, Command::ApproveExtension { approver: actor(who, &requests[i]), digest, comment: String::new() })
                }
                Op::DenyExtension { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::DenyExtension { approver: actor(who, &requests[i]), reason: "no".to_owned() })
                }
                Op::Revoke { who, req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Revoke { by: actor(who, &requests[i]), reason: "done".to_owned(), by_admin: false })
                }
                Op::Expire { req } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::Expire)
                }
                Op::Review { who, req, ok } => {
                    let Some(i) = pick(req) else { continue };
                    let outcome = if ok { ReviewOutcome::Appropriate } else { ReviewOutcome::Inappropriate };
                    (i, Command::Review { by: actor(who, &requests[i]), outcome, notes: "reviewed".to_owned() })
                }
                Op::Issue { req, minutes } => {
                    let Some(i) = pick(req) else { continue };
                    (i, Command::RecordIssuance { access_key_id: "ASIAPROPERTYTEST0001".to_owned(), session_token_sha256: Sha256Digest::of(b"t"), expires_at: now + Duration::minutes(minutes) })
                }
            };
            let before = requests[index].clone();
            if let Ok(t) = apply(&before, command.clone(), &env) {
                prop_assert!(!t.events.is_empty(), "a transition without an audit event");
                for e in &t.events {
                    prop_assert_eq!(e.request(), Some(&before.id));
                }
                check_invariants(&t.request);
                check_step(&before, &t.request, &command);
                requests[index] = t.request;
            }
        }
    }
}

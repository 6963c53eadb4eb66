//! Linking CloudTrail events to grants and finding unbrokered use, as an attacker would try
//! to slip past it: a session named after someone's grant, a responder's name as source
//! identity, the broker's own principal, a break-glass IAM user signing in and switching.

use breakglass_core::activity::{
    Assumed, FindingKind, Known, KnownGrant, LinkedBy, Observed, Principal, Watch, classify,
    role_key,
};
use breakglass_core::model::{GrantId, RequestId};
use time::{Duration, OffsetDateTime};

use crate::support::{T0, catalog};

const ANALYST: &str = "arn:aws:iam::222222222222:role/incident-response/SecurityAnalyst";
const BREAK_GLASS: &str = "arn:aws:iam::111111111111:role/incident-response/SecurityBreakGlass";
const BROKER: &str = "arn:aws:iam::111111111111:role/breakglass-broker";
const OTHER: &str = "arn:aws:iam::222222222222:role/app/Deploy";

fn watch() -> Watch {
    Watch {
        principal: Some(BROKER.to_owned()),
        own_roles: vec!["BreakglassRevoker".to_owned()],
        break_glass_user_suffix: "-BREAK-GLASS".to_owned(),
    }
}

/// Alice's live grant `g-alice1` on the analyst role, with its issued key.
fn known() -> Known {
    let mut k = Known::new(&catalog(), watch());
    k.add_grant(KnownGrant {
        request: RequestId::new("r-alice1").unwrap(),
        grant: GrantId::new("g-alice1").unwrap(),
        role_arn: ANALYST.to_owned(),
        requester: "alice".to_owned(),
        start: T0,
        end: T0 + Duration::hours(1),
        keys: vec!["ASIAISSUED0000000001".to_owned()],
        break_glass_user: None,
    });
    k
}

fn event(id: &str, minutes: i64, action: &str, principal: Principal) -> Observed {
    Observed {
        event_id: id.to_owned(),
        at: T0 + Duration::minutes(minutes),
        service: "ec2.amazonaws.com".to_owned(),
        action: action.to_owned(),
        account: Some("222222222222".to_owned()),
        region: Some("us-east-1".to_owned()),
        resource: None,
        error: None,
        source_ip: Some("198.51.100.7".to_owned()),
        user_agent: Some("aws-cli/2".to_owned()),
        principal,
        assumed: None,
        switch_from: None,
        console_login: false,
        from_console: false,
        rules: Vec::new(),
    }
}

fn session(role: &str, name: &str, key: &str, source_identity: Option<&str>) -> Principal {
    let (account, role_name) = role_key(role).unwrap();
    Principal {
        kind: "AssumedRole".to_owned(),
        arn: Some(format!(
            "arn:aws:sts::{account}:assumed-role/{role_name}/{name}"
        )),
        access_key_id: Some(key.to_owned()),
        session_name: Some(name.to_owned()),
        role_arn: Some(role.to_owned()),
        source_identity: source_identity.map(str::to_owned),
        user_name: None,
    }
}

fn assume(id: &str, caller: Principal, role: &str, name: &str, key: &str) -> Observed {
    let mut e = event(id, 1, "AssumeRole", caller);
    e.service = "sts.amazonaws.com".to_owned();
    e.assumed = Some(Assumed {
        role_arn: role.to_owned(),
        session_name: name.to_owned(),
        access_key_id: Some(key.to_owned()),
        source_identity: None,
    });
    e
}

fn iam_user(name: &str) -> Principal {
    Principal {
        kind: "IAMUser".to_owned(),
        arn: Some(format!("arn:aws:iam::111111111111:user/{name}")),
        user_name: Some(name.to_owned()),
        ..Principal::default()
    }
}

/// The retroactive record alice-BREAK-GLASS's sign-in at `start` opened (12 hours).
fn retro(start: OffsetDateTime) -> KnownGrant {
    KnownGrant {
        request: RequestId::new("r-retro").unwrap(),
        grant: GrantId::new("g-retro").unwrap(),
        role_arn: BREAK_GLASS.to_owned(),
        requester: "alice".to_owned(),
        start,
        end: start + Duration::hours(12),
        keys: Vec::new(),
        break_glass_user: Some("alice-BREAK-GLASS".to_owned()),
    }
}

fn broker() -> Principal {
    session(BROKER, "breakglass-broker", "ASIABROKER", None)
}

#[test]
fn the_grants_own_session_links_by_its_name_and_its_key_is_learned() {
    let mut k = known();
    let v = classify(
        &assume("e1", broker(), ANALYST, "g-alice1", "ASIAISSUED0000000001"),
        &k,
    );
    let link = v.link.expect("linked");
    assert_eq!(link.grant.as_str(), "g-alice1");
    assert_eq!(link.by, LinkedBy::SessionName);
    assert_eq!(v.learned_key.as_deref(), Some("ASIAISSUED0000000001"));
    assert!(v.finding.is_none());
    k.add_key("ASIAISSUED0000000001", &link.grant);

    let call = event(
        "e2",
        5,
        "DescribeInstances",
        session(ANALYST, "g-alice1", "ASIAISSUED0000000001", Some("alice")),
    );
    let v = classify(&call, &k);
    assert_eq!(v.link.unwrap().grant.as_str(), "g-alice1");
    // Its console session (federation URL) carries the console's key.
    let mut console = event(
        "e3",
        6,
        "DescribeVpcs",
        session(ANALYST, "g-alice1", "ASIACONSOLE", Some("alice")),
    );
    console.from_console = true;
    assert_eq!(
        classify(&console, &k).link.unwrap().by,
        LinkedBy::SessionName
    );
}

#[test]
fn assuming_a_brokered_role_under_a_name_that_is_no_grant_is_one_finding_per_session() {
    let k = known();
    let attacker = session(OTHER, "ci", "ASIACI", None);
    let a = classify(
        &assume("e1", attacker.clone(), ANALYST, "mallory", "ASIAM"),
        &k,
    );
    let b = classify(&assume("e2", attacker, ANALYST, "mallory", "ASIAM2"), &k);
    let (fa, fb) = (a.finding.unwrap(), b.finding.unwrap());
    assert_eq!(fa.kind, FindingKind::UnbrokeredAssumeRole);
    assert_eq!(
        fa.key, fb.key,
        "two AssumeRoles of one session name group into one finding"
    );
    assert!(a.link.is_none());
}

#[test]
fn naming_a_session_after_a_live_grant_does_not_borrow_it() {
    let k = known();
    // Someone other than the broker assumes the role under alice's grant id.
    let v = classify(
        &assume(
            "e1",
            session(OTHER, "ci", "ASIACI", None),
            ANALYST,
            "g-alice1",
            "ASIASPOOF",
        ),
        &k,
    );
    assert!(v.link.is_none(), "a spoofed session name must not link");
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredAssumeRole);
    // Its calls, under alice's grant id with a key the grant never had, are no grant's.
    let spoofed = event(
        "e1b",
        2,
        "TerminateInstances",
        session(ANALYST, "g-alice1", "ASIASPOOF", None),
    );
    let v = classify(&spoofed, &k);
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredSession);
    // The grant id on another brokered role is no grant of that role.
    let call = event(
        "e2",
        5,
        "GetObject",
        session(BREAK_GLASS, "g-alice1", "ASIAX", None),
    );
    let v = classify(&call, &k);
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredSession);
    // Long after the grant ended, its name links nothing either.
    let late = event(
        "e3",
        60 * 30,
        "GetObject",
        session(ANALYST, "g-alice1", "ASIALATE", None),
    );
    assert!(classify(&late, &k).link.is_none());
}

#[test]
fn a_responders_source_identity_does_not_hide_a_brokered_session_in_their_timeline() {
    let k = known();
    let call = event(
        "e1",
        5,
        "TerminateInstances",
        session(ANALYST, "sneaky", "ASIASNEAK", Some("alice")),
    );
    let v = classify(&call, &k);
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredSession);
}

#[test]
fn a_session_chained_from_a_grant_joins_it_by_key_and_by_source_identity() {
    let mut k = known();
    let grant_session = session(ANALYST, "g-alice1", "ASIAISSUED0000000001", Some("alice"));
    let v = classify(
        &assume("e1", grant_session, OTHER, "alice-deploy", "ASIACHAINED"),
        &k,
    );
    let link = v.link.unwrap();
    assert_eq!(link.grant.as_str(), "g-alice1");
    assert_eq!(v.learned_key.as_deref(), Some("ASIACHAINED"));
    k.add_key("ASIACHAINED", &link.grant);
    let chained = event(
        "e2",
        10,
        "PutObject",
        session(OTHER, "alice-deploy", "ASIACHAINED", Some("alice")),
    );
    assert_eq!(classify(&chained, &k).link.unwrap().by, LinkedBy::AccessKey);
    // A chained session whose AssumeRole was never seen: its source identity, while the grant
    // (plus a chained session's lifetime) runs.
    let unseen = event(
        "e3",
        20,
        "ListBuckets",
        session(OTHER, "x", "ASIAUNSEEN", Some("alice")),
    );
    assert_eq!(
        classify(&unseen, &k).link.unwrap().by,
        LinkedBy::SourceIdentity
    );
    let bob = event(
        "e4",
        20,
        "ListBuckets",
        session(OTHER, "x", "ASIABOB", Some("bob")),
    );
    let v = classify(&bob, &k);
    assert!(
        v.link.is_none() && v.finding.is_none(),
        "bob has no grant; the role is not brokered"
    );
}

#[test]
fn the_brokers_principal_assuming_anything_but_a_grant_or_its_own_roles_is_a_finding() {
    let k = known();
    let v = classify(&assume("e1", broker(), OTHER, "whatever", "ASIAP"), &k);
    assert_eq!(v.finding.unwrap().kind, FindingKind::BrokerPrincipal);
    let v = classify(
        &assume("e2", broker(), ANALYST, "not-a-grant", "ASIAP2"),
        &k,
    );
    assert_eq!(v.finding.unwrap().kind, FindingKind::BrokerPrincipal);
    let revoker = "arn:aws:iam::222222222222:role/breakglass/BreakglassRevoker";
    let v = classify(
        &assume("e3", broker(), revoker, "breakglass-revoker", "ASIAR"),
        &k,
    );
    assert!(v.finding.is_none() && v.link.is_none());
}

#[test]
fn a_break_glass_user_sign_in_and_its_role_switch_are_one_finding() {
    let k = known();
    let mut login = event("e1", 1, "ConsoleLogin", iam_user("alice-BREAK-GLASS"));
    login.service = "signin.amazonaws.com".to_owned();
    login.console_login = true;
    let mut switch = event(
        "e2",
        2,
        "SwitchRole",
        session(BREAK_GLASS, "alice-BREAK-GLASS", "ASIASW", None),
    );
    switch.service = "signin.amazonaws.com".to_owned();
    switch.switch_from = Some("arn:aws:iam::111111111111:user/alice-BREAK-GLASS".to_owned());
    let a = classify(&login, &k).finding.unwrap();
    let b = classify(&switch, &k).finding.unwrap();
    assert_eq!(a.kind, FindingKind::BreakGlassUser);
    assert_eq!(a.key, b.key);
    assert_eq!(a.break_glass_user.as_deref(), Some("alice-BREAK-GLASS"));
    // Once the retroactive record is open, the user's events and switched sessions join it.
    let mut k = known();
    k.add_grant(retro(T0 + Duration::minutes(1)));
    assert_eq!(
        classify(&switch, &k).link.unwrap().by,
        LinkedBy::BreakGlassUser
    );
    let call = event(
        "e3",
        3,
        "DeleteTrail",
        session(BREAK_GLASS, "alice-BREAK-GLASS", "ASIASW", None),
    );
    assert_eq!(classify(&call, &k).link.unwrap().grant.as_str(), "g-retro");
}

/// A long-term access key a break-glass user got during an emergency use is a way back in
/// after the review: its calls are never on a retroactive record's timeline (a console
/// session's calls carry a temporary `ASIA…` key), each key is a finding of its own; and a
/// sign-in belongs only to a record opened around it, never to an older one.
#[test]
fn a_break_glass_users_long_term_key_and_a_later_sign_in_are_never_an_old_records() {
    let mut k = known();
    k.add_grant(retro(T0));
    let with_key = |id: &str, key: &str| {
        let mut p = iam_user("alice-BREAK-GLASS");
        p.access_key_id = Some(key.to_owned());
        event(id, 30, "ListUsers", p)
    };
    // Inside the record's window, with the console session's key: the record's.
    let v = classify(&with_key("e1", "ASIACONSOLE000000001"), &k);
    assert_eq!(v.link.unwrap().grant.as_str(), "g-retro");
    // With a long-term key: a finding, keyed by the key, never the record's.
    let a = classify(&with_key("e2", "AKIAKEPT000000000001"), &k);
    assert!(a.link.is_none());
    let a = a.finding.unwrap();
    assert_eq!(a.kind, FindingKind::BreakGlassUser);
    assert_eq!(a.break_glass_user.as_deref(), Some("alice-BREAK-GLASS"));
    let b = classify(&with_key("e3", "AKIAKEPT000000000002"), &k)
        .finding
        .unwrap();
    assert_ne!(a.key, b.key, "one finding per key");
    let plain = classify(
        &event("e4", 13 * 60, "ListUsers", iam_user("alice-BREAK-GLASS")),
        &k,
    );
    assert_ne!(a.key, plain.finding.unwrap().key);
    // A sign-in within the record's window but hours after it opened: not the record's.
    let mut login = event("e5", 3 * 60, "ConsoleLogin", iam_user("alice-BREAK-GLASS"));
    login.service = "signin.amazonaws.com".to_owned();
    login.console_login = true;
    let v = classify(&login, &k);
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::BreakGlassUser);
    // A sign-in a minute before the record opened (its switch came first): the record's.
    login.at = T0 - Duration::minutes(1);
    assert_eq!(classify(&login, &k).link.unwrap().grant.as_str(), "g-retro");
}

#[test]
fn a_console_role_switch_into_a_brokered_role_is_a_finding() {
    let k = known();
    let mut switch = event(
        "e1",
        2,
        "SwitchRole",
        session(ANALYST, "eve", "ASIAEVE", None),
    );
    switch.service = "signin.amazonaws.com".to_owned();
    switch.switch_from = Some("arn:aws:iam::222222222222:user/eve".to_owned());
    assert_eq!(
        classify(&switch, &k).finding.unwrap().kind,
        FindingKind::UnbrokeredSwitchRole
    );
}

#[test]
fn only_events_that_can_matter_are_kept() {
    let k = known();
    let unrelated = event("e1", 1, "PutObject", session(OTHER, "app", "ASIAAPP", None));
    assert!(!k.relevant(&unrelated));
    let service = event(
        "e2",
        1,
        "AssumeRole",
        Principal {
            kind: "AWSService".to_owned(),
            ..Principal::default()
        },
    );
    assert!(!k.relevant(&service));
    assert!(k.relevant(&event(
        "e3",
        1,
        "GetObject",
        session(ANALYST, "g-alice1", "K", None)
    )));
    assert!(k.relevant(&event(
        "e4",
        1,
        "GetObject",
        session(OTHER, "x", "K", Some("alice"))
    )));
    assert!(k.relevant(&event("e5", 1, "GetUser", iam_user("bob-BREAK-GLASS"))));
    assert!(!k.relevant(&event("e6", 1, "GetUser", iam_user("bob"))));
    assert!(k.relevant(&assume(
        "e7",
        session(OTHER, "ci", "K", None),
        ANALYST,
        "x",
        "K2"
    )));
    assert!(k.relevant(&assume("e8", broker(), OTHER, "x", "K3")));
}

#[test]
fn the_attackers_review_each_way_around_the_linker_is_closed() {
    let k = known();
    // An IAM user assuming a brokered role is looked at (it was dropped before).
    let by_user = assume("a1", iam_user("eve"), ANALYST, "eve", "ASIAEVE");
    assert!(k.relevant(&by_user));
    assert_eq!(
        classify(&by_user, &k).finding.unwrap().kind,
        FindingKind::UnbrokeredAssumeRole
    );
    // A console session under alice's grant id without her source identity is not hers.
    let mut console = event(
        "a2",
        5,
        "DescribeVpcs",
        session(ANALYST, "g-alice1", "ASIACON", None),
    );
    console.from_console = true;
    let v = classify(&console, &k);
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredSession);
    // A session linked only by source identity cannot carry a brokered role into her grant.
    let laundering = session(OTHER, "x", "ASIAX", Some("alice"));
    let v = classify(&assume("a3", laundering, ANALYST, "hidden", "ASIAHID"), &k);
    assert!(v.link.is_none() && v.learned_key.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::UnbrokeredAssumeRole);
    // The broker's principal minting another session under a grant's name with a key the
    // broker never recorded.
    let v = classify(
        &assume("a4", broker(), ANALYST, "g-alice1", "ASIAEXTRA"),
        &k,
    );
    assert!(v.link.is_none());
    assert_eq!(v.finding.unwrap().kind, FindingKind::BrokerPrincipal);
    // A session named after a break-glass user, in a role that is not a break-glass role,
    // does not join that user's record.
    let mut k = known();
    k.add_grant(KnownGrant {
        request: RequestId::new("r-retro").unwrap(),
        grant: GrantId::new("g-retro").unwrap(),
        role_arn: BREAK_GLASS.to_owned(),
        requester: "alice".to_owned(),
        start: T0,
        end: T0 + Duration::hours(12),
        keys: Vec::new(),
        break_glass_user: Some("alice-BREAK-GLASS".to_owned()),
    });
    let v = classify(
        &event(
            "a5",
            5,
            "GetObject",
            session(ANALYST, "alice-BREAK-GLASS", "ASIAN", None),
        ),
        &k,
    );
    assert!(v.link.is_none());
    // Far-future times do not overflow.
    let mut far = event(
        "a6",
        0,
        "GetObject",
        session(ANALYST, "g-alice1", "ASIAISSUED0000000001", Some("alice")),
    );
    far.at = time::OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT);
    let _ = classify(&far, &k);
}

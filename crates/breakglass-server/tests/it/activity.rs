//! Watching sessions through the use case over a real store: a grant's timeline holds its
//! events and no one else's, unbrokered use is one finding, one audit record and one alert
//! however many events it spans, a break-glass IAM user's sign-in opens a retroactive record
//! that needs a review, and a batch read twice changes nothing.

use breakglass_core::activity::{
    Assumed, Cursor, FindingKind, Held, Observed, Principal, Watch, role_key,
};
use breakglass_core::model::ReviewOutcome;
use breakglass_core::ports::{AccessStore as _, Store as _};
use breakglass_core::request::{RequestKind, Review};
use time::{Duration, OffsetDateTime};

use crate::support::{
    ANALYST, TestApp, active_grant, admin, audit_count, caller, clock, sqlite, user,
};

const BROKER: &str = "arn:aws:iam::111111111111:role/breakglass-broker";
const BREAK_GLASS: &str = "arn:aws:iam::111111111111:role/incident-response/SecurityBreakGlass";

fn watch() -> Watch {
    Watch {
        principal: Some(BROKER.to_owned()),
        own_roles: vec!["BreakglassRevoker".to_owned()],
        break_glass_user_suffix: "-BREAK-GLASS".to_owned(),
    }
}

fn session(role: &str, name: &str, key: &str, who: Option<&str>) -> Principal {
    let (account, role_name) = role_key(role).unwrap();
    Principal {
        kind: "AssumedRole".to_owned(),
        arn: Some(format!(
            "arn:aws:sts::{account}:assumed-role/{role_name}/{name}"
        )),
        access_key_id: Some(key.to_owned()),
        session_name: Some(name.to_owned()),
        role_arn: Some(role.to_owned()),
        source_identity: who.map(str::to_owned),
        user_name: None,
    }
}

fn event(id: &str, at: OffsetDateTime, service: &str, action: &str, p: Principal) -> Observed {
    Observed {
        event_id: id.to_owned(),
        at,
        service: service.to_owned(),
        action: action.to_owned(),
        account: Some("111111111111".to_owned()),
        region: Some("us-east-1".to_owned()),
        resource: None,
        error: None,
        source_ip: Some("203.0.113.9".to_owned()),
        user_agent: Some("aws-cli/2.15".to_owned()),
        principal: p,
        assumed: None,
        switch_from: None,
        console_login: false,
        from_console: false,
        rules: Vec::new(),
    }
}

fn assume(
    id: &str,
    at: OffsetDateTime,
    caller: Principal,
    role: &str,
    name: &str,
    key: &str,
) -> Observed {
    let mut e = event(id, at, "sts.amazonaws.com", "AssumeRole", caller);
    e.assumed = Some(Assumed {
        role_arn: role.to_owned(),
        session_name: name.to_owned(),
        access_key_id: Some(key.to_owned()),
        source_identity: None,
    });
    e
}

#[tokio::test]
async fn timelines_findings_and_retroactive_records_over_a_real_store() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "ac");
    let b = app.broker();
    let w = watch();

    // Two grants on the same role: alice's and erin's.
    let mine = active_grant(b, "alice", 60).await;
    let theirs = active_grant(b, "erin", 60).await;
    let creds = app
        .credentials(&caller("alice"), &mine, None)
        .await
        .unwrap();
    let key = creds.access_key_id.clone();
    let erin_key = app
        .credentials(&caller("erin"), &theirs, None)
        .await
        .unwrap()
        .access_key_id
        .clone();
    let grant = b.get(&mine).await.unwrap().value.grant.unwrap().id;
    let other = b.get(&theirs).await.unwrap().value.grant.unwrap().id;
    let t0 = app.now();
    let broker_session = session(BROKER, "breakglass", "ASIABROKER", None);

    let mut events = vec![
        assume(
            "e-issue",
            t0,
            broker_session.clone(),
            ANALYST,
            grant.as_str(),
            &key,
        ),
        event(
            "e-1",
            t0 + Duration::minutes(1),
            "ec2.amazonaws.com",
            "DescribeInstances",
            session(ANALYST, grant.as_str(), &key, Some("alice")),
        ),
        event(
            "e-2",
            t0 + Duration::minutes(2),
            "s3.amazonaws.com",
            "GetObject",
            session(ANALYST, grant.as_str(), &key, Some("alice")),
        ),
        // erin's grant, same role: not in alice's timeline.
        event(
            "e-erin",
            t0 + Duration::minutes(2),
            "ec2.amazonaws.com",
            "StopInstances",
            session(ANALYST, other.as_str(), &erin_key, Some("erin")),
        ),
        // Unbrokered: an AssumeRole of the brokered role under a name that is no grant, twice.
        assume(
            "e-u1",
            t0 + Duration::minutes(3),
            session("arn:aws:iam::111111111111:role/ci", "ci", "ASIACI", None),
            ANALYST,
            "mallory",
            "ASIAM1",
        ),
        assume(
            "e-u2",
            t0 + Duration::minutes(4),
            session("arn:aws:iam::111111111111:role/ci", "ci", "ASIACI", None),
            ANALYST,
            "mallory",
            "ASIAM2",
        ),
        // The broker's principal outside the broker.
        assume(
            "e-p",
            t0 + Duration::minutes(5),
            broker_session.clone(),
            "arn:aws:iam::222222222222:role/app/Admin",
            "side-door",
            "ASIAP",
        ),
    ];
    // A break-glass IAM user signs in and switches to the break-glass role.
    let login = break_glass_login("e-bg1", t0 + Duration::minutes(6));
    let switch = break_glass_switch("e-bg2", t0 + Duration::minutes(7), "ASIASW");
    events.push(login);
    events.push(switch);
    let cursor = vec![Cursor {
        source: "s3:111111111111:us-east-1".to_owned(),
        position: "k1".to_owned(),
    }];

    let done = app
        .record_activity(&w, None, events.clone(), cursor.clone())
        .await
        .unwrap();
    assert_eq!(done.findings, 3, "{done:?}");
    assert_eq!(done.records, 1);
    assert_eq!(done.joined, 1, "the second AssumeRole joins its finding");

    // Alice's timeline: exactly her grant's three events.
    let activity = app.grant_activity(&caller("alice"), &mine).await.unwrap();
    let ids: Vec<&str> = activity
        .events
        .iter()
        .map(|e| e.event.event_id.as_str())
        .collect();
    assert_eq!(ids, ["e-issue", "e-1", "e-2"]);
    let erin = app.grant_activity(&admin("root"), &theirs).await.unwrap();
    assert_eq!(erin.events.len(), 1);
    // Someone who may not read alice's request sees nothing of its activity.
    assert!(app.grant_activity(&caller("mallory"), &mine).await.is_err());

    // One finding, one audit record and one alert per unbrokered use.
    let findings = app.unbrokered_use(&admin("root"), 100).await.unwrap();
    let kinds: Vec<FindingKind> = findings.iter().map(|f| f.kind).collect();
    assert_eq!(findings.len(), 3, "{kinds:?}");
    for k in [
        FindingKind::UnbrokeredAssumeRole,
        FindingKind::BrokerPrincipal,
        FindingKind::BreakGlassUser,
    ] {
        assert_eq!(kinds.iter().filter(|x| **x == k).count(), 1, "{k:?}");
    }
    let assume_finding = findings
        .iter()
        .find(|f| f.kind == FindingKind::UnbrokeredAssumeRole)
        .unwrap();
    assert_eq!(assume_finding.events, 2);
    assert_eq!(
        audit_count(&t.store, "unbrokered_use_detected", None).await,
        3
    );
    let alerts = t.store.outbox_undelivered(100).await.unwrap();
    let unbrokered: Vec<_> = alerts
        .iter()
        .filter(|m| m.message.notification.kind == "unbrokered_use")
        .collect();
    assert_eq!(unbrokered.len(), 3, "one alert per finding");
    assert!(
        app.unbrokered_use(&caller("alice"), 100).await.is_err(),
        "administrators only"
    );

    // The break-glass user's sign-in opened a retroactive break-glass record owing a review,
    // with the sign-in and the switch on its timeline.
    let bg = findings
        .iter()
        .find(|f| f.kind == FindingKind::BreakGlassUser)
        .unwrap();
    let record = bg.record.clone().expect("a retroactive record");
    let r = b.get(&record).await.unwrap().value;
    assert_eq!(r.kind, RequestKind::BreakGlass);
    assert_eq!(r.spec.requester.as_str(), "alice");
    assert_eq!(r.review, Some(Review::Required));
    let retro = app.grant_activity(&admin("root"), &record).await.unwrap();
    let ids: Vec<&str> = retro
        .events
        .iter()
        .map(|e| e.event.event_id.as_str())
        .collect();
    assert_eq!(ids, ["e-bg1", "e-bg2"]);

    // The same batch again (a duplicate delivery): nothing new.
    let again = app.record_activity(&w, None, events, cursor).await.unwrap();
    assert_eq!(
        (again.duplicates, again.findings, again.joined),
        (9, 0, 0),
        "{again:?}"
    );
    assert_eq!(
        audit_count(&t.store, "unbrokered_use_detected", None).await,
        3
    );

    // A later event of the same unbrokered session joins its finding without a new alert.
    clock.advance(Duration::minutes(30));
    let later = assume(
        "e-u3",
        t0 + Duration::minutes(30),
        session("arn:aws:iam::111111111111:role/ci", "ci", "ASIACI", None),
        ANALYST,
        "mallory",
        "ASIAM3",
    );
    let done = app
        .record_activity(&w, None, vec![later], Vec::new())
        .await
        .unwrap();
    assert_eq!((done.findings, done.joined), (0, 1));
    assert_eq!(
        audit_count(&t.store, "unbrokered_use_detected", None).await,
        3
    );
    let f = app.unbrokered_use(&admin("root"), 100).await.unwrap();
    assert_eq!(
        f.iter().find(|x| x.id == assume_finding.id).unwrap().events,
        3
    );

    // With the action catalog: what alice's grant used of its playbook, and the policy its
    // calls needed (the broker's AssumeRole that opened it is not hers).
    if let Some(actions) = crate::narrowing::actions() {
        assert!(
            app.least_privilege(&caller("alice"), &mine)
                .await
                .unwrap()
                .is_none(),
            "no catalog yet"
        );
        b.replace_rules(
            breakglass_core::rules::Rules::new(crate::support::catalog(), &[])
                .unwrap()
                .with_permissions(std::sync::Arc::new(
                    breakglass_core::model::PermissionModel::new(
                        std::sync::Arc::new(actions),
                        std::collections::BTreeMap::new(),
                    ),
                )),
        );
        let lp = app
            .least_privilege(&caller("alice"), &mine)
            .await
            .unwrap()
            .expect("a suggestion");
        assert_eq!(lp.used, 1, "{lp:?}");
        assert_eq!(lp.not_allowed, ["s3:GetObject"], "{lp:?}");
        assert!(
            lp.allowed > 100,
            "ec2:Describe* and cloudtrail:LookupEvents: {lp:?}"
        );
        assert!(
            lp.policy.contains("ec2:DescribeInstances") && !lp.policy.contains("s3:"),
            "{}",
            lp.policy
        );
        assert!(
            app.least_privilege(&caller("mallory"), &mine)
                .await
                .is_err()
        );
    }

    // An event timed in the future is refused, not stored.
    let forged = assume(
        "e-future",
        t0 + Duration::days(365),
        session("arn:aws:iam::111111111111:role/ci", "ci", "ASIACI", None),
        ANALYST,
        "mallory",
        "ASIAM9",
    );
    let done = app
        .record_activity(&w, None, vec![forged], Vec::new())
        .await
        .unwrap();
    assert_eq!(
        (done.rejected, done.findings, done.joined),
        (1, 0, 0),
        "{done:?}"
    );

    // The cursor is stored with the batch.
    let cursors = t.store.activity_cursors().await.unwrap();
    assert_eq!(
        cursors,
        [Cursor {
            source: "s3:111111111111:us-east-1".to_owned(),
            position: "k1".to_owned()
        }]
    );

    // Retention: everything older than the period goes.
    clock.advance(Duration::days(100));
    assert!(app.prune_activity(Duration::days(90)).await.unwrap() > 0);
    assert!(
        app.grant_activity(&caller("alice"), &mine)
            .await
            .unwrap()
            .events
            .is_empty()
    );
}

/// A caller chooses the text CloudTrail records (user agent, session name, parameters): a
/// NUL, which PostgreSQL text cannot hold, or a terminal escape in a grant's event or an
/// unbrokered session is stored as U+FFFD, on both stores, and the watcher does not stall
/// on a commit that would fail on every retry.
#[tokio::test]
async fn control_characters_in_recorded_text_are_stored_as_replacement_characters() {
    let mut stores = vec![sqlite().await];
    stores.extend(crate::support::postgres().await);
    for t in stores {
        let clock = clock();
        let app = TestApp::new(&t.store, &clock, "cc");
        let b = app.broker();
        let w = watch();
        let mine = active_grant(b, "alice", 60).await;
        let key = app
            .credentials(&caller("alice"), &mine, None)
            .await
            .unwrap()
            .access_key_id
            .clone();
        let grant = b.get(&mine).await.unwrap().value.grant.unwrap().id;
        let t0 = app.now();
        let mut call = event(
            "e-nul\u{0}",
            t0,
            "ec2.amazonaws.com",
            "DescribeInstances",
            session(ANALYST, grant.as_str(), &key, Some("alice")),
        );
        call.user_agent = Some("aws-cli\u{0}/2 \u{1b}[2J\u{1b}]0;owned\u{7}".to_owned());
        call.error = Some("Denied\u{0}".to_owned());
        let unbrokered = assume(
            "e-un",
            t0,
            session(BROKER, "breakglass", "ASIABROKER", None),
            ANALYST,
            "mallory\u{0}\u{1b}[31m",
            "ASIAMALLORY",
        );
        let done = app
            .record_activity(&w, None, vec![call, unbrokered], Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.url));
        assert_eq!(done.findings, 1, "{done:?}");
        let activity = app.grant_activity(&caller("alice"), &mine).await.unwrap();
        let [stored] = activity.events.as_slice() else {
            panic!("one event on the timeline: {activity:?}");
        };
        assert_eq!(stored.event.event_id, "e-nul\u{FFFD}");
        assert_eq!(
            stored.event.user_agent.as_deref(),
            Some("aws-cli\u{FFFD}/2 \u{FFFD}[2J\u{FFFD}]0;owned\u{FFFD}")
        );
        assert_eq!(stored.event.error.as_deref(), Some("Denied\u{FFFD}"));
        let findings = app.unbrokered_use(&admin("root"), 100).await.unwrap();
        let text = format!("{findings:?}");
        assert!(
            !text.contains('\u{0}') && !text.contains('\u{1b}'),
            "{text}"
        );
        assert!(text.contains("mallory\u{FFFD}\u{FFFD}[31m"), "{text}");
        // Read again, the batch changes nothing.
        let again = app
            .record_activity(
                &w,
                None,
                vec![event(
                    "e-nul\u{0}",
                    t0,
                    "ec2.amazonaws.com",
                    "DescribeInstances",
                    session(ANALYST, grant.as_str(), &key, Some("alice")),
                )],
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(again.duplicates, 1, "{again:?}");
    }
}

fn break_glass_login(id: &str, at: OffsetDateTime) -> Observed {
    let mut login = event(
        id,
        at,
        "signin.amazonaws.com",
        "ConsoleLogin",
        Principal {
            kind: "IAMUser".to_owned(),
            arn: Some("arn:aws:iam::111111111111:user/alice-BREAK-GLASS".to_owned()),
            user_name: Some("alice-BREAK-GLASS".to_owned()),
            ..Principal::default()
        },
    );
    login.console_login = true;
    login
}

fn break_glass_switch(id: &str, at: OffsetDateTime, key: &str) -> Observed {
    let mut switch = event(
        id,
        at,
        "signin.amazonaws.com",
        "SwitchRole",
        session(BREAK_GLASS, "alice-BREAK-GLASS", key, None),
    );
    switch.switch_from = Some("arn:aws:iam::111111111111:user/alice-BREAK-GLASS".to_owned());
    switch
}

/// Every sign-in of a break-glass IAM user is a use of the emergency path that owes its own
/// review: a second sign-in hours after the first, once the first record has been reviewed
/// (within the 12 hours the first record's console session covers), opens a second record,
/// a second finding and a second alert, instead of slipping onto the reviewed record's
/// timeline unseen. The sign-in and the role switch of one use stay one finding whichever
/// trail (account) delivers first.
#[tokio::test]
async fn each_break_glass_sign_in_opens_its_own_record_even_after_a_review() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "bg");
    let w = watch();
    let t0 = app.now();
    let unbrokered =
        |store| async move { audit_count(store, "unbrokered_use_detected", None).await };

    // One use, delivered out of order: the switch (the role's account) before the sign-in.
    let first = app
        .record_activity(
            &w,
            None,
            vec![break_glass_switch(
                "bg-s1",
                t0 + Duration::minutes(1),
                "ASIAS1",
            )],
            Vec::new(),
        )
        .await
        .unwrap();
    let then = app
        .record_activity(&w, None, vec![break_glass_login("bg-l1", t0)], Vec::new())
        .await
        .unwrap();
    assert_eq!((first.findings, first.records), (1, 1), "{first:?}");
    assert_eq!(
        (then.findings, then.records, then.linked),
        (0, 0, 1),
        "{then:?}"
    );
    assert_eq!(unbrokered(&t.store).await, 1);
    let findings = app.unbrokered_use(&admin("root"), 100).await.unwrap();
    assert_eq!(findings.len(), 1);
    let record = findings[0].record.clone().expect("a retroactive record");

    // The record is reviewed.
    app.broker()
        .review(
            &record,
            user("bob"),
            ReviewOutcome::Appropriate,
            "console use during INC-7, all expected",
        )
        .await
        .unwrap();
    assert!(matches!(
        app.broker().get(&record).await.unwrap().value.review,
        Some(Review::Completed { .. })
    ));

    // Three hours later the user signs in again and switches to the role seven minutes
    // after; the switch's trail is read first, then the sign-in's.
    clock.advance(Duration::hours(3) + Duration::minutes(10));
    let switched = app
        .record_activity(
            &w,
            None,
            vec![break_glass_switch(
                "bg-s2",
                t0 + Duration::hours(3) + Duration::minutes(7),
                "ASIAS2",
            )],
            Vec::new(),
        )
        .await
        .unwrap();
    let again = app
        .record_activity(
            &w,
            None,
            vec![break_glass_login("bg-l2", t0 + Duration::hours(3))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        (switched.findings, switched.records),
        (1, 1),
        "the reviewed record takes nothing more: {switched:?}"
    );
    assert_eq!(
        (again.findings, again.records, again.linked),
        (0, 0, 1),
        "the sign-in belongs to the use its switch opened: {again:?}"
    );
    assert_eq!(unbrokered(&t.store).await, 2, "a second audit record");
    let findings = app.unbrokered_use(&admin("root"), 100).await.unwrap();
    assert_eq!(findings.len(), 2, "a second finding");
    let second = findings
        .iter()
        .find(|f| f.record.as_ref() != Some(&record))
        .and_then(|f| f.record.clone())
        .expect("a second retroactive record");
    let r = app.broker().get(&second).await.unwrap().value;
    assert_eq!(
        r.review,
        Some(Review::Required),
        "the new use owes a review"
    );
    let timeline = app.grant_activity(&admin("root"), &second).await.unwrap();
    let ids: Vec<&str> = timeline
        .events
        .iter()
        .map(|e| e.event.event_id.as_str())
        .collect();
    assert_eq!(ids, ["bg-l2", "bg-s2"]);
    let alerts = t.store.outbox_undelivered(100).await.unwrap();
    assert_eq!(
        alerts
            .iter()
            .filter(|m| m.message.notification.kind == "unbrokered_use")
            .count(),
        2,
        "one alert per use"
    );

    // Two more uses read in one batch: each is its own finding and record, all stored.
    clock.advance(Duration::hours(5));
    let more = app
        .record_activity(
            &w,
            None,
            vec![
                break_glass_login("bg-l3", t0 + Duration::hours(5)),
                break_glass_login("bg-l4", t0 + Duration::hours(8)),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!((more.findings, more.records), (2, 2), "{more:?}");
    let findings = app.unbrokered_use(&admin("root"), 100).await.unwrap();
    assert_eq!(findings.len(), 4, "{findings:?}");
    let records: std::collections::HashSet<_> =
        findings.iter().filter_map(|f| f.record.clone()).collect();
    assert_eq!(records.len(), 4, "one record per use");
    assert_eq!(unbrokered(&t.store).await, 4);
}

/// A replica whose pass outlived its lease reads a batch while another replica has taken
/// the lease over: its commit stores nothing (no event, no finding, no alert, no cursor)
/// and says why, on both stores. The holder's commit goes through; once its own term ran
/// out, its commits are refused too until it renews the lease.
#[tokio::test]
async fn a_batch_read_under_a_lease_lost_mid_pass_is_not_stored() {
    let mut stores = vec![sqlite().await];
    stores.extend(crate::support::postgres().await);
    for t in stores {
        let clock = clock();
        let app = TestApp::new(&t.store, &clock, "lease");
        let w = watch();
        let lease = Duration::minutes(5);
        let cursor = |position: &str| {
            vec![Cursor {
                source: "s3:111111111111:us-east-1".to_owned(),
                position: position.to_owned(),
            }]
        };
        // One unbrokered `AssumeRole` and a cursor, committed as lease holder `holder`.
        let record = |holder: &str, id: &str, position: &str| {
            let held = Held {
                job: "activity".to_owned(),
                holder: holder.to_owned(),
            };
            let events = vec![assume(
                id,
                app.now(),
                session(BROKER, "breakglass", "ASIABROKER", None),
                ANALYST,
                "mallory",
                "ASIAMALLORY",
            )];
            let (app, w, cursors) = (&app, &w, cursor(position));
            async move { app.record_activity(w, Some(&held), events, cursors).await }
        };
        assert!(app.take_lease("activity", "old", lease).await.unwrap());
        // The old holder's term runs out mid-pass, and another replica takes the lease.
        clock.advance(lease + Duration::seconds(1));
        assert!(app.take_lease("activity", "new", lease).await.unwrap());
        let audits = audit_count(&t.store, "unbrokered_use_detected", None).await;
        let err = record("old", "e-late", "k9")
            .await
            .expect_err("a commit under a lost lease is refused");
        assert!(
            err.to_string()
                .contains("the `activity` lease is no longer held by this replica"),
            "{}: {err}",
            t.url
        );
        assert!(
            t.store.activity_cursors().await.unwrap().is_empty(),
            "{}",
            t.url
        );
        assert_eq!(
            audit_count(&t.store, "unbrokered_use_detected", None).await,
            audits,
            "{}",
            t.url
        );
        assert!(
            app.unbrokered_use(&admin("root"), 100)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            t.url
        );
        // A holder id that never held it is refused as well.
        assert!(record("stranger", "e-s", "k9").await.is_err());
        // The replica holding the lease commits the same batch.
        let done = record("new", "e-late", "k9")
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.url));
        assert_eq!(done.findings, 1, "{done:?}");
        assert_eq!(t.store.activity_cursors().await.unwrap(), cursor("k9"));
        // Its own lease, run out, no longer covers a commit either.
        clock.advance(lease + Duration::seconds(1));
        assert!(record("new", "e-after", "k10").await.is_err());
        assert_eq!(t.store.activity_cursors().await.unwrap(), cursor("k9"));
    }
}

/// The lease check and the batch are one transaction that holds the lease row: a takeover
/// that commits while a batch is in flight makes that batch's commit wait for it and then
/// refuse, on PostgreSQL, where two replicas really run at once. (A plain read of the lease
/// would see the old holder and store the batch beside the new holder's pass.)
#[tokio::test]
async fn a_takeover_committed_while_a_batch_is_in_flight_refuses_the_batch() {
    use sqlx::Connection as _;
    let Some(t) = crate::support::postgres().await else {
        return;
    };
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "race");
    let w = watch();
    assert!(
        app.take_lease("activity", "a", Duration::minutes(5))
            .await
            .unwrap()
    );
    // Replica b takes the lease over in a transaction it has not committed yet.
    let mut b = sqlx::PgConnection::connect(&t.url).await.unwrap();
    let mut takeover = b.begin().await.unwrap();
    let taken = sqlx::query("UPDATE job_leases SET holder = 'b' WHERE name = 'activity'")
        .execute(&mut *takeover)
        .await
        .unwrap();
    assert_eq!(taken.rows_affected(), 1);

    let held = Held {
        job: "activity".to_owned(),
        holder: "a".to_owned(),
    };
    let events = vec![assume(
        "e-race",
        app.now(),
        session(BROKER, "breakglass", "ASIABROKER", None),
        ANALYST,
        "mallory",
        "ASIAMALLORY",
    )];
    let cursors = vec![Cursor {
        source: "s3:111111111111:us-east-1".to_owned(),
        position: "k1".to_owned(),
    }];
    let taken_over = std::sync::atomic::AtomicBool::new(false);
    let committed_first = std::sync::atomic::AtomicBool::new(false);
    let batch = async {
        let r = app.record_activity(&w, Some(&held), events, cursors).await;
        committed_first.store(
            !taken_over.load(std::sync::atomic::Ordering::SeqCst),
            std::sync::atomic::Ordering::SeqCst,
        );
        r
    };
    let b_commits = async {
        // Long enough for the batch to reach its commit, which must wait.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        taken_over.store(true, std::sync::atomic::Ordering::SeqCst);
        takeover.commit().await.unwrap();
    };
    let (result, ()) = tokio::join!(batch, b_commits);
    assert!(
        !committed_first.load(std::sync::atomic::Ordering::SeqCst),
        "the batch's commit did not wait for the takeover: {result:?}"
    );
    let err = result.expect_err("a batch whose lease was taken over mid-commit is refused");
    assert!(
        err.to_string()
            .contains("the `activity` lease is no longer held by this replica"),
        "{err}"
    );
    assert!(t.store.activity_cursors().await.unwrap().is_empty());
    assert!(
        app.unbrokered_use(&admin("root"), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Anyone who may call `sts:AssumeRole` can make unbrokered-use findings by the hundred
/// (one per session name). They must not bury the security team in alerts, nor push a
/// break-glass user's open record out of what the linker loads: the user's role switch
/// after them still lands on the record's timeline, not on a finding beside it.
#[tokio::test]
async fn a_flood_of_findings_does_not_hide_an_open_break_glass_record() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "flood");
    let w = watch();
    let t0 = app.now();
    app.record_activity(
        &w,
        None,
        vec![break_glass_login("fl-login", t0)],
        Vec::new(),
    )
    .await
    .unwrap();
    let record = app.unbrokered_use(&admin("root"), 10).await.unwrap()[0]
        .record
        .clone()
        .expect("a retroactive record");
    let flood: Vec<Observed> = (0..600)
        .map(|i| {
            assume(
                &format!("fl-{i}"),
                t0 + Duration::seconds(1),
                session("arn:aws:iam::111111111111:role/ci", "ci", "ASIACI", None),
                ANALYST,
                &format!("flood-{i}"),
                &format!("ASIAFLOOD{i:011}"),
            )
        })
        .collect();
    let done = app
        .record_activity(&w, None, flood, Vec::new())
        .await
        .unwrap();
    assert_eq!(done.findings, 600, "{done:?}");
    // Every finding is audited; the team is alerted on the break-glass use, the first ten
    // findings of the hour, then the 16th, 32nd, 64th, 128th, 256th and 512th.
    assert_eq!(
        audit_count(&t.store, "unbrokered_use_detected", None).await,
        601
    );
    let alerts: Vec<String> = t
        .store
        .outbox_undelivered(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.message.notification.kind == "unbrokered_use")
        .map(|m| m.message.notification.subject)
        .collect();
    assert_eq!(alerts.len(), 1 + 9 + 6, "{alerts:#?}");
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("512 unbrokered-use findings began in the last hour")),
        "{alerts:#?}"
    );
    clock.advance(Duration::minutes(10));
    let done = app
        .record_activity(
            &w,
            None,
            vec![break_glass_switch(
                "fl-switch",
                t0 + Duration::minutes(10),
                "ASIAFLSW",
            )],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        (done.linked, done.findings, done.joined),
        (1, 0, 0),
        "{done:?}"
    );
    let timeline = app.grant_activity(&admin("root"), &record).await.unwrap();
    let ids: Vec<&str> = timeline
        .events
        .iter()
        .map(|e| e.event.event_id.as_str())
        .collect();
    assert_eq!(ids, ["fl-login", "fl-switch"]);
}

/// A long-term key's record takes no links: a sign-in right after a call with the key, in
/// the same batch, is a use of its own with its own finding, alert and record.
#[tokio::test]
async fn a_sign_in_never_lands_on_a_long_term_keys_record() {
    let t = sqlite().await;
    let clock = clock();
    let app = TestApp::new(&t.store, &clock, "akia");
    let w = watch();
    let t0 = app.now();
    let mut keyed = break_glass_login("ak-call", t0 - Duration::minutes(1));
    keyed.service = "iam.amazonaws.com".to_owned();
    keyed.action = "ListUsers".to_owned();
    keyed.console_login = false;
    keyed.principal.access_key_id = Some("AKIAKEPT000000000001".to_owned());
    let done = app
        .record_activity(
            &w,
            None,
            vec![keyed, break_glass_login("ak-login", t0)],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        (done.findings, done.records, done.linked),
        (2, 2, 0),
        "{done:?}"
    );
    let findings = app.unbrokered_use(&admin("root"), 10).await.unwrap();
    assert_eq!(findings.len(), 2);
    assert!(
        findings
            .iter()
            .any(|f| f.session.as_deref() == Some("AKIAKEPT000000000001"))
    );
}

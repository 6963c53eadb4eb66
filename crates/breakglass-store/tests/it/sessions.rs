//! The seed's session audit: listing grants by date range, incident, requester, role,
//! account, kind and status, and the summary counts, checked against an in-memory oracle
//! for every combination of filters.

use breakglass_core::model::{AccountId, IncidentId, RoleName};
use breakglass_core::ports::{Clock, Store};
use breakglass_core::request::{RequestKind, SessionStatus};
use breakglass_core::session::{Session, SessionQuery, SessionSummary};
use time::{Duration, OffsetDateTime};

use crate::support::{
    T0, TestStore, broker, clock, new_request, on_both_backends, submitted, user,
};

on_both_backends!(session_queries_match_the_seed_audit);

fn ids(sessions: &[Session]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| s.incident.to_string() + "/" + s.requester.as_str())
        .collect()
}

/// The in-memory reading of a query, over every session.
fn oracle(all: &[Session], q: &SessionQuery) -> Vec<Session> {
    all.iter()
        .filter(|s| q.from.is_none_or(|f| s.start >= f))
        .filter(|s| q.to.is_none_or(|t| s.start < t))
        .filter(|s| q.incident.as_ref().is_none_or(|i| &s.incident == i))
        .filter(|s| q.requester.as_ref().is_none_or(|r| &s.requester == r))
        .filter(|s| q.role.as_ref().is_none_or(|r| &s.role == r))
        .filter(|s| q.account.as_ref().is_none_or(|a| &s.account == a))
        .filter(|s| q.kind.is_none_or(|k| s.kind == k))
        .filter(|s| {
            q.kind.is_some()
                || q.include_drills
                || s.kind != breakglass_core::request::RequestKind::Drill
        })
        .filter(|s| q.status.is_none_or(|st| s.status == st))
        .cloned()
        .collect()
}

async fn session_queries_match_the_seed_audit(t: TestStore) {
    let clock = clock();
    let b = broker(&t.store, &clock);
    // s1: alice, standard, approved by two leads, INC-1, T0..T0+1h (ends unswept).
    let s1 = submitted(&b, "alice", "investigate", "111111111111", 60, "INC-1").await;
    b.approve(&s1.id, user("bob"), s1.digest, "").await.unwrap();
    b.approve(&s1.id, user("carol"), s1.digest, "")
        .await
        .unwrap();
    b.activate(&s1.id, user("alice")).await.unwrap();
    // A pending request is not a session.
    b.submit(new_request(
        "alice",
        "investigate",
        "222222222222",
        60,
        "INC-1",
    ))
    .await
    .unwrap();
    // s2: erin, self-service, INC-1, T0+10m, revoked at T0+20m.
    clock.advance(Duration::minutes(10));
    let s2 = submitted(&b, "erin", "self-service", "222222222222", 30, "INC-1").await;
    b.activate(&s2.id, user("erin")).await.unwrap();
    clock.advance(Duration::minutes(10));
    b.revoke(&s2.id, user("erin"), "done").await.unwrap();
    // s3: bob, break-glass, INC-2, T0+2h for 30m, swept as expired.
    clock.set(T0 + Duration::hours(2));
    b.activate_break_glass(
        new_request("bob", "contain", "111111111111", 30, "INC-2"),
        true,
    )
    .await
    .unwrap();
    clock.advance(Duration::minutes(30));
    b.sweep(100).await.unwrap();
    // s4: alice, self-service, INC-3, T0+3h for 2h, active.
    clock.set(T0 + Duration::hours(3));
    let s4 = submitted(&b, "alice", "self-service", "222222222222", 120, "INC-3").await;
    b.activate(&s4.id, user("alice")).await.unwrap();
    clock.advance(Duration::minutes(10));
    let now = clock.now();

    let all = t
        .store
        .sessions(&SessionQuery::default(), now)
        .await
        .unwrap();
    assert_eq!(
        ids(&all),
        ["INC-3/alice", "INC-2/bob", "INC-1/erin", "INC-1/alice"],
        "newest first"
    );
    let statuses: Vec<SessionStatus> = all.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SessionStatus::Active,
            SessionStatus::Expired,
            SessionStatus::Revoked,
            SessionStatus::Expired
        ]
    );
    assert_eq!(all[2].revoked_by.as_ref().map(|u| u.as_str()), Some("erin"));
    assert!(all[1].review_outstanding);

    let summary = t
        .store
        .session_summary(&SessionQuery::default(), now)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.total,
            summary.active,
            summary.revoked,
            summary.expired
        ),
        (4, 1, 1, 2)
    );
    assert_eq!(summary.by_requester.get("alice"), Some(&2));
    assert_eq!(summary.by_incident.get("INC-1"), Some(&2));
    assert_eq!(summary.by_playbook.get("self-service"), Some(&2));
    assert_eq!(summary.by_kind.get("break_glass"), Some(&1));
    assert_eq!(summary, SessionSummary::of(&all));

    // Every combination of filters agrees with the in-memory oracle, for listings and sums.
    let ranges: [(Option<OffsetDateTime>, Option<OffsetDateTime>); 3] = [
        (None, None),
        (Some(T0), Some(T0 + Duration::hours(1))),
        (Some(T0 + Duration::minutes(10)), None),
    ];
    let incidents = [None, Some("INC-1"), Some("INC-2")];
    let requesters = [None, Some("alice"), Some("bob")];
    let roles = [None, Some("SecurityAnalyst"), Some("SecurityBreakGlass")];
    let accounts = [None, Some("222222222222")];
    let kinds = [
        None,
        Some(RequestKind::Standard),
        Some(RequestKind::BreakGlass),
    ];
    let statuses = [
        None,
        Some(SessionStatus::Active),
        Some(SessionStatus::Expired),
        Some(SessionStatus::Revoked),
    ];
    let mut checked = 0;
    for (from, to) in ranges {
        for incident in incidents {
            for requester in requesters {
                for role in roles {
                    for account in accounts {
                        for kind in kinds {
                            for status in statuses {
                                let q = SessionQuery {
                                    from,
                                    to,
                                    incident: incident.map(|i| IncidentId::new(i).unwrap()),
                                    requester: requester.map(user),
                                    role: role.map(|r| RoleName::new(r).unwrap()),
                                    account: account.map(|a| AccountId::new(a).unwrap()),
                                    status,
                                    kind,
                                    include_drills: false,
                                    limit: None,
                                };
                                let want = oracle(&all, &q);
                                let got = t.store.sessions(&q, now).await.unwrap();
                                assert_eq!(ids(&got), ids(&want), "{q:?}");
                                let sum = t.store.session_summary(&q, now).await.unwrap();
                                assert_eq!(sum, SessionSummary::of(&want), "{q:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 3 * 3 * 3 * 2 * 3 * 4);
    let one = t
        .store
        .sessions(
            &SessionQuery {
                limit: Some(1),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(ids(&one), ["INC-3/alice"]);
}

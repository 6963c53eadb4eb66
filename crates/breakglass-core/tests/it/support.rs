//! Shared fixtures: the test catalog, a duration parser, and the invariants every request
//! must satisfy after any sequence of transitions.

use breakglass_core::model::{Catalog, GroupName, Username};
use breakglass_core::request::{AccessRequest, RequestKind, Review, Status};
use breakglass_core::rules::Rules;
use time::{Duration, OffsetDateTime, macros::datetime};

pub const T0: OffsetDateTime = datetime!(2024-03-01 12:00:00 UTC);

pub fn catalog() -> Catalog {
    serde_json::from_str(breakglass_testkit::CATALOG_JSON).expect("the fixture catalog parses")
}

pub fn rules(catalog: Catalog) -> Rules {
    Rules::new(catalog, &[]).expect("the fixture rules build")
}

pub fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

pub fn set_groups(catalog: &mut Catalog, who: &str, groups: &[String]) {
    let r = catalog
        .responders
        .iter_mut()
        .find(|r| r.username.as_str() == who)
        .unwrap_or_else(|| panic!("no responder {who}"));
    r.groups = groups
        .iter()
        .map(|g| GroupName::new(g.as_str()).unwrap())
        .collect();
}

/// Parses `1h30m`, `45m`, `90s`.
pub fn duration(text: &str) -> Duration {
    let mut total = Duration::ZERO;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("bad duration {text}"));
        number.clear();
        total += match c {
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            's' => Duration::seconds(n),
            _ => panic!("bad duration unit in {text}"),
        };
    }
    assert!(number.is_empty(), "duration {text} lacks a unit");
    total
}

/// The invariants of a request, whatever happened to it.
pub fn check_invariants(r: &AccessRequest) {
    // Approvals: distinct per digest, never the requester.
    for a in &r.approvals {
        assert_ne!(a.approver, r.spec.requester, "{}: requester approved", r.id);
        let same = r
            .approvals
            .iter()
            .filter(|b| b.digest == a.digest && b.approver == a.approver)
            .count();
        assert_eq!(same, 1, "{}: duplicate approval by {}", r.id, a.approver);
    }
    let quorum = r.current_approvers().len() >= r.required_approvals as usize;
    let has_grant = r.grant.is_some();
    match (&r.status, r.kind) {
        (Status::Pending, _) => {
            assert!(!has_grant);
            assert!(r.kind == RequestKind::Standard);
        }
        (Status::Approved { at, activate_by }, RequestKind::Standard) => {
            assert!(quorum, "{}: approved without quorum", r.id);
            assert!(!has_grant);
            assert!(activate_by > at);
        }
        (Status::Active, RequestKind::Standard) => {
            assert!(quorum, "{}: active without quorum", r.id);
            assert!(has_grant);
        }
        (Status::Active, RequestKind::BreakGlass) => assert!(has_grant),
        (Status::Denied { .. } | Status::Cancelled { .. } | Status::TimedOut { .. }, k) => {
            assert!(!has_grant);
            assert_eq!(k, RequestKind::Standard);
        }
        (Status::Expired { .. } | Status::Revoked { .. }, _) => {}
        (s, k) => panic!("{}: impossible status {s:?} for kind {k:?}", r.id),
    }
    if let Some(g) = &r.grant {
        assert!(g.end > g.start);
        // Extensions chain without gaps and only ever lengthen the grant.
        let mut end = g.start + r.spec.duration;
        for e in &g.extensions {
            assert_eq!(e.old_end, end, "{}: gap or overlap in extensions", r.id);
            assert!(
                e.new_end > e.old_end,
                "{}: extension shortened the grant",
                r.id
            );
            end = e.new_end;
        }
        assert_eq!(
            end, g.end,
            "{}: end does not follow from the extensions",
            r.id
        );
        for s in &g.issued {
            assert!(
                s.expires_at <= g.end,
                "{}: credentials outlive the grant",
                r.id
            );
        }
        if let Some(p) = &g.pending_extension {
            assert!(!p.approvals.iter().any(|a| a.approver == r.spec.requester));
        }
    }
    match (r.kind, &r.review) {
        (RequestKind::BreakGlass, Some(Review::Required)) => {}
        (RequestKind::BreakGlass, Some(Review::Completed { reviewer, .. })) => {
            assert_ne!(reviewer, &r.spec.requester, "{}: self-review", r.id);
            assert!(matches!(
                r.status,
                Status::Expired { .. } | Status::Revoked { .. }
            ));
        }
        (RequestKind::Standard, None) => {}
        (k, review) => panic!("{}: kind {k:?} with review {review:?}", r.id),
    }
}

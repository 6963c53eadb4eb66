//! Session linking on hand-written events: each link kind, SwitchRole, orphans, merging.

use breakglass_trail::Event;
use breakglass_trail::session::{Linker, SessionReport, TimelineFilter};

const ROLE: &str = "arn:aws:iam::111122223333:role/BREAK-GLASS-ADMIN";

fn assume(key: &str, name: &str, time: &str, source_identity: Option<&str>) -> String {
    let si = source_identity.map_or(String::new(), |s| format!(r#","sourceIdentity":"{s}""#));
    format!(
        r#"{{"eventTime":"{time}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","eventID":"a-{key}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/broker"}},"requestParameters":{{"roleArn":"{ROLE}","roleSessionName":"{name}"{si}}},"responseElements":{{"credentials":{{"accessKeyId":"{key}"}}}}}}"#
    )
}

fn call(
    key: Option<&str>,
    name: &str,
    created: &str,
    time: &str,
    api: &str,
    si: Option<&str>,
) -> String {
    let key = key.map_or(String::new(), |k| format!(r#","accessKeyId":"{k}""#));
    let si = si.map_or(String::new(), |s| format!(r#","sourceIdentity":"{s}""#));
    format!(
        r#"{{"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"{api}","sourceIPAddress":"198.51.100.4","userAgent":"aws-cli","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:{name}","arn":"arn:aws:sts::111122223333:assumed-role/BREAK-GLASS-ADMIN/{name}"{key},"sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"{ROLE}"}},"attributes":{{"creationDate":"{created}","mfaAuthenticated":"false"}}{si}}}}}}}"#
    )
}

fn link(filter: TimelineFilter, events: &[String]) -> SessionReport {
    let mut linker = Linker::new(filter);
    for e in events {
        linker.observe(&Event::parse(e.as_bytes()).unwrap());
    }
    linker.finish()
}

fn events() -> Vec<String> {
    vec![
        // A broker grant: session name = grant id, source identity = responder.
        call(
            Some("ASIAGRANT1"),
            "g-01",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:01:00Z",
            "DescribeInstances",
            Some("alice"),
        ),
        assume("ASIAGRANT1", "g-01", "2024-03-01T10:00:00Z", Some("alice")),
        call(
            Some("ASIAGRANT1"),
            "g-01",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:02:00Z",
            "StopInstances",
            Some("alice"),
        ),
        // A service acting for the session: no access key, the tuple links it.
        call(
            None,
            "g-01",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:03:00Z",
            "CreateNetworkInterface",
            None,
        ),
        // Credentials reissued under another key we never saw: source identity links it.
        call(
            Some("ASIAUNSEEN"),
            "g-02",
            "2024-03-01T11:00:00Z",
            "2024-03-01T11:05:00Z",
            "GetObject",
            Some("bob"),
        ),
        assume("ASIAGRANT2", "g-02b", "2024-03-01T10:30:00Z", Some("bob")),
        // Activity whose AssumeRole is not in the input.
        call(
            Some("ASIAORPHAN"),
            "old",
            "2024-02-01T00:00:00Z",
            "2024-03-01T12:00:00Z",
            "ListBuckets",
            None,
        ),
    ]
}

#[test]
fn each_link_kind_ties_events_to_their_assume_role() {
    let report = link(TimelineFilter::default(), &events());
    let st = report.stats;
    assert_eq!(st.role_session_events, 5);
    assert_eq!(st.linked_by_access_key, 2);
    assert_eq!(st.linked_by_tuple, 1);
    assert_eq!(st.linked_by_source_identity, 1);
    assert_eq!(st.unlinked, 1);
    assert_eq!(st.assume_role_events, 2);

    let grant = report.by_session_name("g-01").next().unwrap();
    assert_eq!(grant.events, 3);
    assert_eq!(grant.source_identity.as_deref(), Some("alice"));
    assert_eq!(grant.started.as_deref(), Some("2024-03-01T10:00:00Z"));
    assert_eq!(grant.last_used.as_deref(), Some("2024-03-01T10:03:00Z"));
    assert_eq!(
        grant.assume_role.as_ref().unwrap().issued_by,
        "arn:aws:iam::111122223333:user/broker"
    );
    assert_eq!(grant.calls["ec2.amazonaws.com:StopInstances"].count, 1);
    assert_eq!(grant.linked_by["accessKey"], 2);
    assert_eq!(grant.linked_by["tuple"], 1);
    assert!(grant.timeline.is_empty(), "no filter, no timeline");

    let bob = report.by_session_name("g-02b").next().unwrap();
    assert_eq!(bob.events, 1);
    assert!(bob.access_key_ids.contains(&"ASIAUNSEEN".to_owned()));

    let orphan = report
        .sessions
        .iter()
        .find(|s| s.assume_role.is_none())
        .unwrap();
    assert_eq!(orphan.role_session_name.as_deref(), Some("old"));
}

#[test]
fn timelines_are_kept_for_filtered_sessions_only() {
    let filter = TimelineFilter {
        session_name: Some("g-01".to_owned()),
        ..TimelineFilter::default()
    };
    let report = link(filter.clone(), &events());
    let grant = report.by_session_name("g-01").next().unwrap();
    let names: Vec<&str> = grant
        .timeline
        .iter()
        .map(|t| t.event_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "DescribeInstances",
            "StopInstances",
            "CreateNetworkInterface"
        ]
    );
    assert!(filter.selects(grant));
    for s in report
        .sessions
        .iter()
        .filter(|s| s.role_session_name.as_deref() != Some("g-01"))
    {
        assert!(s.timeline.is_empty());
        assert!(!filter.selects(s));
    }
}

#[test]
fn linkers_merge_to_the_same_report_in_any_split() {
    let all = events();
    let whole = link(TimelineFilter::default(), &all);
    for split in 0..=all.len() {
        let mut a = Linker::new(TimelineFilter::default());
        let mut b = Linker::new(TimelineFilter::default());
        for (i, e) in all.iter().enumerate() {
            let event = Event::parse(e.as_bytes()).unwrap();
            if i < split {
                a.observe(&event)
            } else {
                b.observe(&event)
            }
        }
        b.merge(a);
        assert_eq!(b.finish(), whole, "split at {split}");
    }
}

#[test]
fn console_switch_role_joins_its_assume_role_by_shared_event_id() {
    let shared = "5f1e0a3c-1111-2222-3333-444455556666";
    let assume = assume("ASIACONSOLE", "alice", "2024-03-01T10:00:00Z", None).replacen(
        r#""eventID""#,
        &format!(r#""sharedEventID":"{shared}","eventID""#),
        1,
    );
    let switch = format!(
        r#"{{"eventTime":"2024-03-01T10:00:01Z","eventSource":"signin.amazonaws.com","eventName":"SwitchRole","sharedEventID":"{shared}","additionalEventData":{{"SwitchFrom":"arn:aws:iam::444455556666:user/alice"}},"userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","sessionContext":{{"sessionIssuer":{{"arn":"{ROLE}"}},"attributes":{{"creationDate":"2024-03-01T10:00:00Z"}}}}}}}}"#
    );
    let report = link(TimelineFilter::default(), &[assume, switch]);
    assert_eq!(report.stats.console_switches, 1);
    let s = report.by_session_name("alice").next().unwrap();
    let c = s.console_switch.as_ref().unwrap();
    assert_eq!(
        c.switch_from.as_deref(),
        Some("arn:aws:iam::444455556666:user/alice")
    );
    assert_eq!(
        s.events, 1,
        "the SwitchRole event itself is the session's first event"
    );
}

#[test]
fn identical_tuples_are_reported_and_resolved_deterministically() {
    let a = assume("ASIAA", "SLRManagement", "2024-03-01T10:00:00Z", None);
    let b = assume("ASIAB", "SLRManagement", "2024-03-01T10:00:00Z", None);
    let c = call(
        None,
        "SLRManagement",
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:00:05Z",
        "DescribeVpcs",
        None,
    );
    let one = link(
        TimelineFilter::default(),
        &[a.clone(), b.clone(), c.clone()],
    );
    let two = link(TimelineFilter::default(), &[c, b, a]);
    assert_eq!(one, two);
    let used = one.sessions.iter().find(|s| s.events == 1).unwrap();
    assert_eq!(used.assume_role.as_ref().unwrap().identical_tuples, 1);
    assert_eq!(used.access_key_ids[0], "ASIAA");
}

/// `call` with its time moved to `@timestamp`, as a log-store export writes it.
fn exported(event: &str, time: &str) -> String {
    event.replace(
        &format!(r#""eventTime":"{time}""#),
        &format!(r#""@timestamp":"{}.000Z""#, time.trim_end_matches('Z')),
    )
}

#[test]
fn timelines_of_an_export_with_only_timestamp_keep_time_and_input_order() {
    let created = "2024-03-01T10:00:00Z";
    let at = |t: &str, api: &str| {
        exported(
            &call(Some("ASIAGRANT1"), "g-01", created, t, api, Some("alice")),
            t,
        )
    };
    // Three calls in one second, in an order no field sorts them by, then an earlier call
    // given last, then a call with no time at all.
    let events = vec![
        exported(
            &assume("ASIAGRANT1", "g-01", created, Some("alice")),
            created,
        ),
        at("2024-03-01T10:02:00Z", "TerminateInstances"),
        at("2024-03-01T10:02:00Z", "StopInstances"),
        at("2024-03-01T10:02:00Z", "DescribeInstances"),
        at("2024-03-01T10:01:00Z", "CreateSnapshot"),
        call(
            Some("ASIAGRANT1"),
            "g-01",
            created,
            "never",
            "RebootInstances",
            Some("alice"),
        )
        .replace(r#""eventTime":"never","#, ""),
    ];
    assert!(events.iter().all(|e| !e.contains("eventTime")));
    let filter = TimelineFilter {
        session_name: Some("g-01".to_owned()),
        ..TimelineFilter::default()
    };
    let whole = link(filter.clone(), &events);
    let grant = whole.by_session_name("g-01").next().unwrap();
    assert_eq!(grant.started.as_deref(), Some("2024-03-01T10:00:00.000Z"));
    assert!(grant.assume_role.is_some());
    let names: Vec<&str> = grant
        .timeline
        .iter()
        .map(|t| t.event_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "CreateSnapshot",
            "TerminateInstances",
            "StopInstances",
            "DescribeInstances",
            "RebootInstances"
        ]
    );
    assert_eq!(grant.timeline[0].event_time, "2024-03-01T10:01:00.000Z");
    assert_eq!(grant.timeline[4].event_time, "");

    // Two linkers fed by parallel readers, each event numbered by its input position, merge
    // to the same timeline in any split.
    for split in 0..=events.len() {
        let mut a = Linker::new(filter.clone());
        let mut b = Linker::new(filter.clone());
        for (i, e) in events.iter().enumerate() {
            let event = Event::parse(e.as_bytes()).unwrap();
            let target = if i < split { &mut a } else { &mut b };
            target.observe_at(&event, i as u64);
        }
        b.merge(a);
        let merged = b.finish();
        assert_eq!(merged.sessions, whole.sessions, "split at {split}");
    }
}

#[test]
fn s3_data_events_show_bucket_and_key_in_timelines() {
    // CloudTrail User Guide, "Logging data events": S3 object-level calls carry the bucket
    // and key in requestParameters.
    let get = call(
        Some("ASIAGRANT1"),
        "g-01",
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:04:00Z",
        "GetObject",
        Some("alice"),
    )
    .replace(r#""eventSource":"ec2.amazonaws.com""#, r#""eventSource":"s3.amazonaws.com""#)
    .replace(
        r#""sourceIPAddress""#,
        r#""requestParameters":{"bucketName":"evidence-111122223333","Host":"evidence-111122223333.s3.us-east-1.amazonaws.com","key":"cases/INC-42/memory.lime"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::evidence-111122223333/cases/INC-42/memory.lime"}],"eventCategory":"Data","sourceIPAddress""#,
    );
    let list = call(
        Some("ASIAGRANT1"),
        "g-01",
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:03:00Z",
        "ListObjects",
        Some("alice"),
    )
    .replace(r#""eventSource":"ec2.amazonaws.com""#, r#""eventSource":"s3.amazonaws.com""#)
    .replace(
        r#""sourceIPAddress""#,
        r#""requestParameters":{"bucketName":"evidence-111122223333","prefix":"cases/"},"sourceIPAddress""#,
    );
    let filter = TimelineFilter {
        session_name: Some("g-01".to_owned()),
        ..TimelineFilter::default()
    };
    let report = link(
        filter,
        &[
            assume("ASIAGRANT1", "g-01", "2024-03-01T10:00:00Z", Some("alice")),
            get,
            list,
        ],
    );
    let t = &report.by_session_name("g-01").next().unwrap().timeline;
    assert_eq!(t[0].event_name, "ListObjects");
    assert_eq!(t[0].bucket_name.as_deref(), Some("evidence-111122223333"));
    assert_eq!(t[0].key, None);
    assert_eq!(t[1].bucket_name.as_deref(), Some("evidence-111122223333"));
    assert_eq!(t[1].key.as_deref(), Some("cases/INC-42/memory.lime"));
    let json = serde_json::to_value(&t[1]).unwrap();
    assert_eq!(json["bucketName"], "evidence-111122223333");
    assert_eq!(json["key"], "cases/INC-42/memory.lime");
}

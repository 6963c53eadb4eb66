//! The shared invictus dataset (2,900 real events): the scan runs clean and the linker ties
//! every role-session event to its AssumeRole. The numbers are pinned.

use std::path::PathBuf;

use breakglass_trail::dedupe::Dedupe;
use breakglass_trail::read::{Limits, ReadStats, read_records};
use breakglass_trail::rules::{RuleSet, builtin};
use breakglass_trail::scan::{ScanOptions, Scanner};
use breakglass_trail::session::{Linker, TimelineFilter};

fn objects() -> Option<Vec<PathBuf>> {
    let dir = breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    Some(files)
}

#[test]
fn the_builtin_scan_runs_clean() {
    let Some(files) = objects() else { return };
    assert_eq!(files.len(), 55);
    let rules = RuleSet::new(builtin::rules(&builtin::BuiltinParams::default()).unwrap()).unwrap();
    let mut scanner = Scanner::new(&rules, Dedupe::default(), ScanOptions::default());
    let mut found: Vec<(String, String)> = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        scanner
            .scan(
                &data[..],
                &mut |f| {
                    found.push((
                        f.rule.id.clone(),
                        f.event.str(&["eventName"]).unwrap_or_default().into_owned(),
                    ));
                },
                &mut |e| panic!("skipped record: {e}"),
            )
            .unwrap();
    }
    let summary = scanner.finish();
    assert_eq!(summary.records, 2_900);
    assert_eq!(summary.events, 2_900);
    assert_eq!(summary.duplicates, 0);
    assert_eq!(summary.skipped_records, 0);
    assert_eq!(summary.inputs, 55);
    assert_eq!(summary.inputs_failed, 0);
    // The Stratus Red Team run stops and deletes trails, signs in once without MFA and uses
    // an instance's stolen credentials from the operator's machine; `jq` over the same files
    // finds the same 3 StopLogging, 3 DeleteTrail, 2 PutEventSelectors, 1 IAM-user
    // ConsoleLogin with MFAUsed = No, and 23 calls with instance credentials (ec2RoleDelivery):
    // 21 by the SSM Agent from its instances' own addresses, 2 (GetCallerIdentity,
    // DescribeInstances) from 192.168.10.20, the address of every other operator call.
    let per_rule: Vec<(&str, u64)> = rules
        .rules()
        .iter()
        .zip(&summary.matches)
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (r.id.as_str(), *n))
        .collect();
    assert_eq!(
        per_rule,
        [
            ("instance-credentials-outside-aws", 2),
            ("console-login-without-mfa", 1),
            ("cloudtrail-tampering", 8)
        ]
    );
    assert_eq!(found.iter().filter(|(_, n)| n == "StopLogging").count(), 3);
    let mut stolen: Vec<&str> = found
        .iter()
        .filter(|(id, _)| id == "instance-credentials-outside-aws")
        .map(|(_, n)| n.as_str())
        .collect();
    stolen.sort_unstable();
    assert_eq!(stolen, ["DescribeInstances", "GetCallerIdentity"]);
    let fired = summary.alarms.fired(rules.rules());
    assert_eq!(fired.len(), 5, "{fired:?}");
    assert!(
        rules.prefiltered().iter().all(|p| *p),
        "every built-in rule has a literal prefilter"
    );
}

#[test]
fn every_role_session_event_links_to_its_assume_role() {
    let Some(files) = objects() else { return };
    let mut linker = Linker::new(TimelineFilter::default());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let mut stats = ReadStats::default();
        read_records(&data[..], &Limits::default(), &mut stats, |r| {
            linker.observe(&r.unwrap().event());
        })
        .unwrap();
    }
    let report = linker.finish();
    let st = report.stats;
    assert_eq!(st.role_session_events, 76);
    assert_eq!(st.linked_by_access_key, 70);
    assert_eq!(st.linked_by_tuple, 6);
    assert_eq!(st.unlinked, 0);
    assert_eq!(st.assume_role_events, 36);
    assert_eq!(st.denied_assume_role_events, 13);
    // The sessions that made calls, and who opened them.
    let used: Vec<&_> = report.sessions.iter().filter(|s| s.events > 0).collect();
    assert_eq!(used.iter().map(|s| s.events).sum::<u64>(), 76);
    assert!(used.iter().all(|s| s.assume_role.is_some()));
    let leave_org = used
        .iter()
        .find(|s| {
            s.calls
                .contains_key("organizations.amazonaws.com:LeaveOrganization")
        })
        .unwrap();
    assert_eq!(
        leave_org.assume_role.as_ref().unwrap().issued_by,
        "arn:aws:iam::123837392027:user/bert-jan"
    );
    assert_eq!(
        leave_org.role_arn.as_deref(),
        Some("arn:aws:iam::123837392027:role/stratus-red-team-leave-org-role")
    );
}

//! The real action catalog (`../shared/data/iam-data`): loading it, linting against it, and
//! expanding a session policy into the actions it allows. Skipped with a printed reason
//! when the shared data is absent.

use std::sync::OnceLock;

use breakglass_iam::catalog::Access;
use breakglass_iam::lint::{Severity, lint};
use breakglass_iam::{Catalog, KeyType, PolicyType, parse};

/// The catalog built from every service file, loaded once per test run.
pub fn real_catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let data = breakglass_testkit::shared_data("iam-data/data")?;
            let mut catalog = Catalog::new();
            for entry in std::fs::read_dir(data.join("actions")).unwrap() {
                let path = entry.unwrap().path();
                let prefix = path.file_stem().unwrap().to_str().unwrap().to_owned();
                catalog
                    .add_service(&prefix, &std::fs::read_to_string(&path).unwrap())
                    .unwrap();
                let keys = data.join("conditionKeys").join(format!("{prefix}.json"));
                if keys.is_file() {
                    catalog
                        .add_condition_keys(&prefix, &std::fs::read_to_string(keys).unwrap())
                        .unwrap();
                }
                let types = data.join("resourceTypes").join(format!("{prefix}.json"));
                if types.is_file() {
                    catalog
                        .add_resource_types(&prefix, &std::fs::read_to_string(types).unwrap())
                        .unwrap();
                }
            }
            Some(catalog)
        })
        .as_ref()
}

#[test]
fn loads_every_service_of_the_real_catalog() {
    let Some(c) = real_catalog() else { return };
    assert!(
        c.service_names().count() > 400,
        "{}",
        c.service_names().count()
    );
    assert!(c.action_count() > 20_000, "{}", c.action_count());
    assert_eq!(
        c.action("s3:getobject").unwrap().full_name(),
        "s3:GetObject"
    );
    assert!(c.action("iam:PassRole").unwrap().info.access.is_write());
    assert_eq!(c.condition_key_type("s3:x-amz-acl"), Some(KeyType::String));
    assert_eq!(
        c.condition_key_type("sts:TransitiveTagKeys"),
        Some(KeyType::ArrayOfString)
    );
}

#[test]
fn lint_reports_unknown_actions_services_and_empty_wildcards_with_locations() {
    let Some(c) = real_catalog() else { return };
    let policy = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":["s3:GetObjekt","s4:GetObject","ec2:Describ*","ec2:Describe*"],
            "Resource":"arn:aws:s3:::evidence/*"}]}"#,
        PolicyType::Session,
    )
    .unwrap();
    let findings = lint(&policy, PolicyType::Session, Some(c));
    let got: Vec<(&str, &str, String)> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code, f.pointer.as_str(), f.hint.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "unknown-action",
                "/Statement/0/Action/0",
                "did you mean `s3:GetObject`?".to_owned()
            ),
            (
                "unknown-service",
                "/Statement/0/Action/1",
                "did you mean `s3`?".to_owned()
            ),
        ]
    );
    // `ec2:Describ*` matches the Describe actions, so it is not reported.
    let policy = parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:Explode*","Resource":"*"}}"#, PolicyType::Identity).unwrap();
    let codes: Vec<&str> = lint(&policy, PolicyType::Identity, Some(c))
        .iter()
        .map(|f| f.code)
        .collect();
    assert_eq!(codes, ["action-matches-nothing"]);
}

#[test]
fn lint_reports_operator_and_key_type_mismatches() {
    let Some(c) = real_catalog() else { return };
    let policy = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{
            "DateLessThan":{"aws:username":"2024-01-01T00:00:00Z"},
            "StringEquals":{"aws:TagKeys":"env"},
            "ForAllValues:StringEquals":{"aws:PrincipalTag/team":"ir"},
            "NumericLessThan":{"s3:max-keys":"10"}}}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let findings = lint(&policy, PolicyType::Identity, Some(c));
    let got: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.code, f.pointer.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "condition-type-mismatch",
                "/Statement/Condition/DateLessThan/aws:username"
            ),
            (
                "multivalued-key-without-set-operator",
                "/Statement/Condition/StringEquals/aws:TagKeys"
            ),
            (
                "set-operator-on-single-valued-key",
                "/Statement/Condition/ForAllValues:StringEquals/aws:PrincipalTag~1team"
            ),
        ]
    );
}

#[test]
fn expands_a_session_policy_into_the_actions_it_allows() {
    let Some(c) = real_catalog() else { return };
    let policy = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["ec2:Describe*","ec2:StopInstances"],"Resource":"*"},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::evidence/*"},
            {"Effect":"Deny","Action":"ec2:DescribeInstances","Resource":"*"}]}"#,
        PolicyType::Session,
    )
    .unwrap();
    let allowed = c.allowed_actions(&policy);
    let find = |name: &str| allowed.iter().find(|a| a.action == name).map(|a| a.access);
    assert_eq!(find("ec2:StopInstances"), Some(Access::Unconditional));
    assert_eq!(find("ec2:DescribeVolumes"), Some(Access::Unconditional));
    assert_eq!(find("s3:GetObject"), Some(Access::Restricted));
    assert_eq!(find("ec2:DescribeInstances"), None);
    assert_eq!(find("ec2:TerminateInstances"), None);
    assert!(
        allowed
            .iter()
            .all(|a| a.action.starts_with("ec2:") || a.action == "s3:GetObject")
    );
}

#[test]
fn a_malformed_catalog_file_is_an_error_naming_the_service() {
    let mut c = Catalog::new();
    let err = c.add_service("s3", "{\"getobject\": 3}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("catalog data for service `s3` is not valid action JSON"),
        "{err}"
    );
}

/// The sweep of the seed's four session policies on `*`, for a role session whose role
/// allows everything (AdministratorAccess), against counts worked out independently of the
/// engine from the catalog (iam-data commit ae341fc5): each action counted under its most
/// specific level ("Permissions management, Write" as permissions management, "Tagging,
/// Write" as tagging), as (allowed outright, restricted).
///
/// - `read_only_investigation`: all unconditional on `*`; `detective:*` brings every Write
///   and Tagging action; 312 actions.
/// - `containment_actions`: its eleven actions, all under the `aws:RequestedRegion`
///   condition, so all restricted: nine Write, and `iam:AttachUserPolicy`/
///   `iam:DetachUserPolicy` as permissions management; the denies name none of them.
/// - `forensics_collection`: the nine EC2/SSM actions outright; `s3:GetObject`,
///   `s3:PutObject`, `s3:ListBucket` only on the evidence buckets, so restricted.
/// - `emergency_admin`: the whole catalog but its four unconditional denies (all Write).
#[test]
fn sweep_of_the_seed_session_policies_matches_hand_computed_counts() {
    use breakglass_iam::catalog::AccessLevel as L;
    use breakglass_iam::{PolicySet, parse};

    let Some(c) = real_catalog() else {
        eprintln!("skipped: the shared iam-data catalog is absent");
        return;
    };
    let admin = parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let levels = [
        L::List,
        L::Read,
        L::Write,
        L::PermissionsManagement,
        L::Tagging,
    ];
    let expected: [(&str, [(usize, usize); 5]); 4] = [
        (
            "read_only_investigation",
            [(243, 0), (53, 0), (14, 0), (0, 0), (2, 0)],
        ),
        (
            "containment_actions",
            [(0, 0), (0, 0), (0, 9), (0, 2), (0, 0)],
        ),
        (
            "forensics_collection",
            [(2, 1), (2, 1), (5, 1), (0, 0), (0, 0)],
        ),
        (
            "emergency_admin",
            [(3671, 0), (5789, 0), (11194, 0), (415, 0), (715, 0)],
        ),
    ];
    for (name, want) in expected {
        let text = std::fs::read_to_string(crate::crate_path(&format!(
            "tests/fixtures/seeds/session-{name}.json"
        )))
        .unwrap();
        let session = parse(&text, PolicyType::Session).unwrap();
        let set = PolicySet::builder()
            .identity(&admin)
            .session(&session)
            .build();
        let sweep = set.sweep(c, "*");
        for (level, (outright, restricted)) in levels.iter().zip(want) {
            let actions: Vec<_> = sweep
                .services
                .iter()
                .flat_map(|s| s.levels.iter())
                .filter(|l| l.level == Some(*level))
                .flat_map(|l| l.actions.iter())
                .collect();
            let got = (
                actions
                    .iter()
                    .filter(|a| a.access == Access::Unconditional)
                    .count(),
                actions
                    .iter()
                    .filter(|a| a.access == Access::Restricted)
                    .count(),
            );
            assert_eq!(
                got,
                (outright, restricted),
                "{name}: {} actions",
                level.name()
            );
            assert_eq!(sweep.count(*level), outright + restricted);
        }
        // Every allowed action names the statement that admits it in each layer.
        for a in sweep.actions() {
            assert!(
                a.decided_by.len() >= 2,
                "{name}: {}: {:?}",
                a.action,
                a.decided_by
            );
        }
    }
}

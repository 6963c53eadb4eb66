//! Policy generation from use: the exceptions table case by case (each citing the AWS page
//! it comes from), resource narrowing, the playbook bound (what a responder who wants more
//! access would try), denied calls, and the size fallback. Cases that need the real action
//! catalog skip with a printed reason when `../shared/data/iam-data` is absent.

use breakglass_iam::generate::{Mapping, UsedCall, generate, mapping};
use breakglass_iam::lint::Severity;
use breakglass_iam::{Catalog, Decision, PolicySet, PolicyType, Request, parse, parse_caller};

use crate::catalog::real_catalog;

/// What an event maps to, as the exceptions table or the catalog says.
enum Expect {
    Actions(&'static [&'static str]),
    NoAction,
    Unknown,
}

/// (eventSource, eventName, expected mapping, the AWS page that says so).
const CASES: &[(&str, &str, Expect, &str)] = &[
    (
        "s3.amazonaws.com",
        "HeadObject",
        Expect::Actions(&["s3:GetObject"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "ListObjects",
        Expect::Actions(&["s3:ListBucket"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "ListObjectsV2",
        Expect::Actions(&["s3:ListBucket"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "HeadBucket",
        Expect::Actions(&["s3:ListBucket"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "ListBuckets",
        Expect::Actions(&["s3:ListAllMyBuckets"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketEncryption",
        Expect::Actions(&["s3:GetEncryptionConfiguration"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketLifecycle",
        Expect::Actions(&["s3:PutLifecycleConfiguration"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketReplication",
        Expect::Actions(&["s3:GetReplicationConfiguration"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketCors",
        Expect::Actions(&["s3:GetBucketCORS"]),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    (
        "lambda.amazonaws.com",
        "ListFunctions20150331",
        Expect::Actions(&["lambda:ListFunctions"]),
        "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html",
    ),
    (
        "lambda.amazonaws.com",
        "GetFunction20150331v2",
        Expect::Actions(&["lambda:GetFunction"]),
        "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html",
    ),
    (
        "lambda.amazonaws.com",
        "Invoke",
        Expect::Actions(&["lambda:InvokeFunction"]),
        "https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html",
    ),
    (
        "monitoring.amazonaws.com",
        "DescribeAlarms",
        Expect::Actions(&["cloudwatch:DescribeAlarms"]),
        "https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-monitoring.html",
    ),
    (
        "signin.amazonaws.com",
        "ConsoleLogin",
        Expect::NoAction,
        "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
    ),
    (
        "signin.amazonaws.com",
        "SwitchRole",
        Expect::NoAction,
        "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html",
    ),
    (
        "sts.amazonaws.com",
        "GetCallerIdentity",
        Expect::NoAction,
        "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html",
    ),
    (
        "secretsmanager.amazonaws.com",
        "EndSecretVersionDelete",
        Expect::NoAction,
        "https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-cloudtrail.html",
    ),
    // No exception: the obvious mapping, case-insensitively to the catalog's spelling.
    (
        "iam.amazonaws.com",
        "GetRole",
        Expect::Actions(&["iam:GetRole"]),
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html",
    ),
    (
        "ec2.amazonaws.com",
        "DescribeInstances",
        Expect::Actions(&["ec2:DescribeInstances"]),
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",
    ),
    // Nothing: listed with the reason, not dropped.
    (
        "s3.amazonaws.com",
        "GetStorageLensDashboardDataInternal",
        Expect::Unknown,
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html",
    ),
    (
        "example.com",
        "DoThing",
        Expect::Unknown,
        "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html",
    ),
];

#[test]
fn each_exception_maps_as_its_aws_page_says() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    for (source, name, expect, page) in CASES {
        let got = mapping::map(catalog, &UsedCall::new(source, name));
        let ok = match (expect, &got) {
            (Expect::Actions(want), Mapping::Actions { actions, .. }) => {
                actions.iter().map(String::as_str).collect::<Vec<_>>() == *want
            }
            (Expect::NoAction, Mapping::NoAction { .. }) => true,
            (Expect::Unknown, Mapping::Unknown { reason }) => !reason.is_empty(),
            _ => false,
        };
        assert!(ok, "{source} {name}: got {got:?} (per {page})");
    }
}

#[test]
fn every_action_the_table_names_is_in_the_catalog() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    for e in mapping::event_exceptions() {
        for a in &e.actions {
            assert!(
                catalog.action(a).is_some(),
                "{} {}: `{a}` is not in the catalog ({})",
                e.event_source,
                e.event_name,
                e.source
            );
        }
    }
    for s in mapping::service_exceptions() {
        assert!(
            catalog.service(&s.prefix).is_some(),
            "{}: no service `{}` ({})",
            s.event_source,
            s.prefix,
            s.source
        );
    }
}

fn call(source: &str, name: &str, resources: &[&str]) -> UsedCall {
    UsedCall {
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        region: Some("eu-west-1".into()),
        ..UsedCall::new(source, name)
    }
}

/// The decision for a role session whose role allows everything and whose session policy
/// is `policy`.
fn decide(policy: &str, action: &str, resource: &str, region: Option<&str>) -> Decision {
    let session = parse(policy, PolicyType::Session).unwrap();
    let everything = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .unwrap();
    let set = PolicySet::builder()
        .identity(&everything)
        .session(&session)
        .build();
    let caller = parse_caller("arn:aws:sts::111122223333:assumed-role/IR/g-01", None).unwrap();
    let mut request = Request::new(caller, action, resource);
    if let Some(r) = region {
        request = request.with_context("aws:RequestedRegion", breakglass_iam::ContextValue::one(r));
    }
    request.derive_principal_keys();
    set.evaluate(&request).decision
}

#[test]
fn narrows_to_what_the_calls_named_and_nothing_else() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    let calls = [
        call(
            "s3.amazonaws.com",
            "GetObject",
            &[
                "arn:aws:s3:::evidence",
                "arn:aws:s3:::evidence/case-1/disk.img",
            ],
        ),
        call(
            "s3.amazonaws.com",
            "ListObjectsV2",
            &["arn:aws:s3:::evidence"],
        ),
        call(
            "ec2.amazonaws.com",
            "RunInstances",
            &["arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"],
        ),
        call("ec2.amazonaws.com", "DescribeInstances", &[]),
    ];
    let g = generate(catalog, &calls, None).unwrap();
    let text = g.compact();
    assert!(g.fits() && !g.has_lint_errors(), "{text}\n{:?}", g.findings);
    let d = |a: &str, r: &str| decide(&text, a, r, None);
    assert_eq!(
        d("s3:GetObject", "arn:aws:s3:::evidence/case-1/disk.img"),
        Decision::Allow
    );
    assert_eq!(
        d("s3:GetObject", "arn:aws:s3:::evidence/case-2/other"),
        Decision::ImplicitDeny
    );
    assert_eq!(d("s3:ListBucket", "arn:aws:s3:::evidence"), Decision::Allow);
    assert_eq!(
        d("s3:ListBucket", "arn:aws:s3:::payroll"),
        Decision::ImplicitDeny
    );
    // RunInstances is authorized against several resources at once: `*`, or it would fail.
    assert_eq!(
        d(
            "ec2:RunInstances",
            "arn:aws:ec2:eu-west-1:111122223333:subnet/subnet-1"
        ),
        Decision::Allow
    );
    assert_eq!(d("ec2:DescribeInstances", "*"), Decision::Allow);
    assert_eq!(d("ec2:TerminateInstances", "*"), Decision::ImplicitDeny);
    assert_eq!(d("s3:PutObject", "*"), Decision::ImplicitDeny);
    assert_eq!(g.used.len(), 4);
}

#[test]
fn an_object_named_like_a_wildcard_grants_only_itself() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    let calls = [call(
        "s3.amazonaws.com",
        "GetObject",
        &["arn:aws:s3:::evidence/*"],
    )];
    let g = generate(catalog, &calls, None).unwrap();
    let text = g.compact();
    assert_eq!(
        decide(&text, "s3:GetObject", "arn:aws:s3:::evidence/*", None),
        Decision::Allow,
        "{text}"
    );
    assert_eq!(
        decide(
            &text,
            "s3:GetObject",
            "arn:aws:s3:::evidence/payroll.csv",
            None
        ),
        Decision::ImplicitDeny,
        "{text}"
    );
}

#[test]
fn never_allows_more_than_the_playbook() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    let playbook = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::evidence","arn:aws:s3:::evidence/*"],
         "Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}},
        {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
        {"Effect":"Deny","Action":"ec2:DescribeInstanceAttribute","Resource":"*","Condition":{"StringEquals":{"ec2:Attribute":"userData"}}}
    ]}"#;
    let calls = [
        // The resource is unknown: granted only on the playbook's resources.
        call("s3.amazonaws.com", "GetObject", &[]),
        // Outside the playbook's buckets: reported, not added.
        call("s3.amazonaws.com", "ListObjects", &["arn:aws:s3:::payroll"]),
        // Not in the playbook at all.
        call("iam.amazonaws.com", "CreateAccessKey", &[]),
        call("ec2.amazonaws.com", "DescribeInstanceAttribute", &[]),
    ];
    let g = generate(catalog, &calls, Some(playbook)).unwrap();
    let text = g.compact();
    assert!(g.fits() && !g.has_lint_errors(), "{text}\n{:?}", g.findings);
    let outside: Vec<(&str, &str)> = g
        .outside_playbook
        .iter()
        .map(|o| (o.action.as_str(), o.resource.as_str()))
        .collect();
    assert_eq!(
        outside,
        vec![
            ("iam:CreateAccessKey", "*"),
            ("s3:ListBucket", "arn:aws:s3:::payroll")
        ]
    );
    let eu = Some("eu-west-1");
    assert_eq!(
        decide(&text, "s3:GetObject", "arn:aws:s3:::evidence/x", eu),
        Decision::Allow,
        "{text}"
    );
    // The playbook's region condition is kept.
    assert_eq!(
        decide(
            &text,
            "s3:GetObject",
            "arn:aws:s3:::evidence/x",
            Some("us-east-1")
        ),
        Decision::ImplicitDeny,
        "{text}"
    );
    assert_eq!(
        decide(&text, "s3:GetObject", "arn:aws:s3:::payroll/x", eu),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&text, "s3:ListBucket", "arn:aws:s3:::payroll", eu),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&text, "iam:CreateAccessKey", "*", eu),
        Decision::ImplicitDeny
    );
    // The playbook's conditional deny is kept.
    assert!(text.contains("ec2:Attribute"), "{text}");
    assert_eq!(
        decide(&text, "ec2:DescribeInstanceAttribute", "*", eu),
        Decision::Allow
    );
    // The playbook allowed ec2:Describe*: N of M says how little of it was used.
    let allowed = breakglass_iam::generate::playbook_actions(
        catalog,
        &parse(playbook, PolicyType::Session).unwrap(),
    );
    let n = g.used_of_allowed(allowed.iter().map(String::as_str));
    assert_eq!(n.not_allowed, vec!["iam:CreateAccessKey"]);
    assert_eq!(n.used, 3);
    assert!(n.allowed > 100, "{}", n.allowed);
}

#[test]
fn denied_and_unmapped_calls_are_listed_never_added() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    let mut denied = call("iam.amazonaws.com", "CreateUser", &[]);
    denied.error_code = Some("AccessDenied".into());
    let mut failed = call("iam.amazonaws.com", "GetRole", &[]);
    failed.error_code = Some("NoSuchEntityException".into());
    let calls = [
        denied,
        failed,
        call("signin.amazonaws.com", "ConsoleLogin", &[]),
        call(
            "s3.amazonaws.com",
            "GetStorageLensDashboardDataInternal",
            &[],
        ),
    ];
    let g = generate(catalog, &calls, None).unwrap();
    let text = g.compact();
    assert_eq!(
        decide(&text, "iam:CreateUser", "*", None),
        Decision::ImplicitDeny
    );
    assert_eq!(decide(&text, "iam:GetRole", "*", None), Decision::Allow);
    assert_eq!(g.denied.len(), 1);
    assert_eq!(g.denied[0].event_name, "CreateUser");
    assert_eq!(g.no_action.len(), 1);
    assert_eq!(g.unmapped.len(), 1);
    assert!(
        g.unmapped[0].reason.contains("no action"),
        "{:?}",
        g.unmapped
    );
    assert!(
        g.exceptions
            .iter()
            .any(|e| e.event_name == "ConsoleLogin" && e.source.starts_with("https://docs.aws"))
    );
}

#[test]
fn a_session_that_used_nothing_gets_nothing() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    let g = generate(
        catalog,
        &[call("sts.amazonaws.com", "GetCallerIdentity", &[])],
        None,
    )
    .unwrap();
    assert_eq!(
        decide(&g.compact(), "s3:GetObject", "*", None),
        Decision::ExplicitDeny
    );
    assert!(!g.has_lint_errors(), "{:?}", g.findings);
}

#[test]
fn too_many_actions_are_made_coarser_and_say_so() {
    let Some(catalog) = real_catalog() else {
        return;
    };
    // Every ec2 Describe action on its own would be far over 2,048 characters.
    let calls: Vec<UsedCall> = catalog
        .matching("ec2:Describe*")
        .iter()
        .take(120)
        .map(|a| call("ec2.amazonaws.com", &a.info.name, &[]))
        .collect();
    let g = generate(catalog, &calls, None).unwrap();
    assert!(g.fits(), "{:?}", g.size);
    assert!(!g.coarsened.is_empty());
    let text = g.compact();
    for c in &calls {
        assert_eq!(
            decide(&text, &format!("ec2:{}", c.event_name), "*", None),
            Decision::Allow
        );
    }
    // Coarsening by Describe* admits only List and Read actions: no write was added.
    assert_eq!(
        decide(&text, "ec2:TerminateInstances", "*", None),
        Decision::ImplicitDeny
    );
    for extra in &g.beyond_use {
        let a = catalog.action(extra).unwrap();
        assert!(!a.info.access.is_write(), "{extra}");
    }
    assert!(g.findings.iter().all(|f| f.severity != Severity::Error));
}

#[test]
fn refuses_an_invalid_playbook_and_an_empty_catalog() {
    let err = generate(&Catalog::new(), &[], None).unwrap_err();
    assert!(err.to_string().contains("catalog"), "{err}");
    let Some(catalog) = real_catalog() else {
        return;
    };
    let err = generate(catalog, &[], Some("{\"Statement\": 3}")).unwrap_err();
    assert!(err.to_string().contains("playbook"), "{err}");
}

//! Rule files: what is accepted, and every kind of refusal naming the rule.

use breakglass_trail::rules::builtin::{BuiltinParams, rules as builtin_rules};
use breakglass_trail::rules::{RuleSet, load_toml};

fn problems(text: &str) -> String {
    load_toml("rules.toml", text).unwrap_err().to_string()
}

const GOOD: &str = r#"version = 1

[[rule]]
id = "break-glass-role-assumed-custom"
title = "Emergency role used"
severity = "critical"
tags = ["custom"]
pattern = '{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*EMERGENCY*" }'
alarm = { threshold = 1, period = 60 }

[rule.examples]
match = ['{"eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/EMERGENCY"}}']
no_match = ['{"eventName":"AssumeRole","requestParameters":null}']
"#;

#[test]
fn a_good_rule_file_loads() {
    let rules = load_toml("rules.toml", GOOD).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].alarm.unwrap().period, 60);
    assert_eq!(rules[0].tags, ["custom"]);
}

#[test]
fn failing_examples_are_refused() {
    let text = GOOD.replace("*EMERGENCY*", "*OTHER*");
    let p = problems(&text);
    assert!(
        p.contains(
            "rule `break-glass-role-assumed-custom`: example match[0] should match but does not"
        ),
        "{p}"
    );
    let text = GOOD.replace(
        r#""requestParameters":null"#,
        r#""requestParameters":{"roleArn":"x-EMERGENCY-y"}"#,
    );
    let p = problems(&text);
    assert!(
        p.contains("example no_match[0] should not match but does"),
        "{p}"
    );
    let p = problems(&GOOD.replace("match = ['{", "match = ['not json {"));
    assert!(p.contains("example match[0] is not a JSON event"), "{p}");
}

#[test]
fn bad_fields_are_refused_with_the_rule_named() {
    let p = problems(&GOOD.replace(
        "id = \"break-glass-role-assumed-custom\"",
        "id = \"Bad Id\"",
    ));
    assert!(p.contains("rule id `Bad Id` must be"), "{p}");
    let p = problems(&GOOD.replace("period = 60", "period = 90"));
    assert!(
        p.contains("alarm `period` 90 is not a CloudWatch period"),
        "{p}"
    );
    let p = problems(&GOOD.replace("threshold = 1", "threshold = 0"));
    assert!(p.contains("`threshold` must be at least 1"), "{p}");
    let p = problems(&GOOD.replace("\"AssumeRole\" &&", "\"AssumeRole\" &&&"));
    assert!(
        p.contains("rule `break-glass-role-assumed-custom`: invalid filter pattern: column"),
        "{p}"
    );
    let p = problems(&GOOD.replace("severity = \"critical\"", "severity = \"urgent\""));
    assert!(p.contains("urgent"), "{p}");
    let p = problems(&GOOD.replace(
        "tags = [\"custom\"]",
        "tags = [\"custom\"]\ncolour = \"red\"",
    ));
    assert!(p.contains("colour"), "{p}");
    let p = problems(&GOOD.replace("version = 1", "version = 2"));
    assert!(p.contains("unsupported `version` 2"), "{p}");
    let twice = format!("{GOOD}\n{}", &GOOD["version = 1\n".len()..]);
    let p = problems(&twice);
    assert!(p.contains("is used twice"), "{p}");
    assert!(p.starts_with("rule file `rules.toml`"), "{p}");
}

#[test]
fn builtin_patterns_are_deployable_metric_filters() {
    // The longest parameters allowed still give patterns within CloudWatch's limits, and
    // every pattern parses back from its own source text.
    let long = |c: &str| format!("*{}*", c.repeat(126));
    let params = BuiltinParams {
        break_glass_role: long("R"),
        break_glass_user: long("U"),
        incident_response_role: long("I"),
    };
    for params in [BuiltinParams::default(), params] {
        let rules = builtin_rules(&params).unwrap();
        for r in &rules {
            assert!(r.pattern.source().chars().count() <= 1024, "{}", r.id);
            assert!(
                r.alarm.is_some(),
                "{} deploys as a metric filter with an alarm",
                r.id
            );
        }
        let set = RuleSet::new(rules).unwrap();
        assert!(set.prefiltered().iter().all(|p| *p));
    }
}

#[test]
fn the_builtin_pack_covers_the_issue() {
    let ids: Vec<String> = builtin_rules(&BuiltinParams::default())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    for want in [
        "break-glass-role-assumed",
        "break-glass-role-assume-denied",
        "break-glass-console-switch-role",
        "break-glass-user-sign-in",
        "break-glass-user-credentials-changed",
        "root-activity",
        "console-login-without-mfa",
        "cloudtrail-tampering",
        "detection-disabled",
        "iam-policy-change-by-incident-response",
        "instance-credentials-outside-aws",
    ] {
        assert!(ids.iter().any(|i| i == want), "missing {want}");
    }
}

/// The ids of the built-in rules (default parameters) that match `event`.
fn builtin_hits(event: &str) -> Vec<String> {
    let rules = RuleSet::new(builtin_rules(&BuiltinParams::default()).unwrap()).unwrap();
    let event = breakglass_trail::Event::parse(event.as_bytes()).unwrap();
    let mut scratch = rules.scratch();
    let mut out = Vec::new();
    rules.matching(&event, &mut scratch, &mut out);
    out.iter().map(|&i| rules.rules()[i].id.clone()).collect()
}

// CloudTrail User Guide, "CloudTrail record contents for management events" and "AWS STS
// API calls in CloudTrail": a failed AssumeRole other than AccessDenied keeps its
// requestParameters; this one asked for more than the role's MaxSessionDuration (STS API
// Reference, AssumeRole, DurationSeconds).
const VALIDATION_ERROR_ASSUME_ROLE: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEUSERID","arn":"arn:aws:iam::111122223333:user/alice-BREAK-GLASS","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice-BREAK-GLASS","sessionContext":{"attributes":{"creationDate":"2024-03-01T09:58:02Z","mfaAuthenticated":"true"}}},"eventTime":"2024-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","errorCode":"ValidationError","errorMessage":"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/BREAK-GLASS-ADMIN","roleSessionName":"alice","durationSeconds":43200},"responseElements":null,"requestID":"6f1d1c46-0000-4d3a-9c7d-EXAMPLE","eventID":"0a4b7e7d-0000-4c1d-8f5e-EXAMPLE","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.amazonaws.com"}}"#;

#[test]
fn a_validation_error_assume_role_of_a_break_glass_role_alerts() {
    let hits = builtin_hits(VALIDATION_ERROR_ASSUME_ROLE);
    assert!(
        hits.contains(&"break-glass-role-assume-denied".to_owned()),
        "{hits:?}"
    );
    assert!(!hits.contains(&"break-glass-role-assumed".to_owned()));
    for code in [
        "PackedPolicyTooLarge",
        "ExpiredToken",
        "RegionDisabledException",
    ] {
        let event = VALIDATION_ERROR_ASSUME_ROLE.replace("ValidationError", code);
        assert!(
            builtin_hits(&event).contains(&"break-glass-role-assume-denied".to_owned()),
            "{code}"
        );
    }
    let other = VALIDATION_ERROR_ASSUME_ROLE.replace("role/BREAK-GLASS-ADMIN", "role/app-deploy");
    assert!(
        !builtin_hits(&other).contains(&"break-glass-role-assume-denied".to_owned()),
        "a failure on another role is not a break-glass event"
    );
}

#[test]
fn cloudtrail_lake_event_data_store_changes_are_tampering() {
    // CloudTrail API Reference: StopEventDataStoreIngestion, DeleteEventDataStore,
    // UpdateEventDataStore; CloudTrail Lake logs them as cloudtrail.amazonaws.com calls.
    for name in [
        "StopEventDataStoreIngestion",
        "DeleteEventDataStore",
        "UpdateEventDataStore",
    ] {
        let event = format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/admin/mallory"}},"eventTime":"2024-03-01T10:05:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.54","requestParameters":{{"eventDataStore":"arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"}},"responseElements":null,"eventID":"e-{name}","eventType":"AwsApiCall","managementEvent":true}}"#
        );
        assert!(
            builtin_hits(&event).contains(&"cloudtrail-tampering".to_owned()),
            "{name}"
        );
    }
}

// CloudTrail User Guide, "CloudTrail userIdentity element": `sessionContext.ec2RoleDelivery`
// is present (1.0 for IMDSv1, 2.0 for IMDSv2) when the credentials came from an EC2
// instance's metadata service. Shaped like the Stratus Red Team
// `ec2-steal-instance-credentials` call in the shared invictus data: the credentials an
// instance fetched over IMDSv1, used from the operator's own machine.
const INSTANCE_CREDENTIALS_OUTSIDE: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID:i-0123456789abcdef0","arn":"arn:aws:sts::111122223333:assumed-role/app-instance-role/i-0123456789abcdef0","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLEID","arn":"arn:aws:iam::111122223333:role/app-instance-role","accountId":"111122223333","userName":"app-instance-role"},"webIdFederationData":{},"attributes":{"creationDate":"2024-03-01T09:55:22Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"1.0"}},"eventTime":"2024-03-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.54","userAgent":"aws-sdk-go-v2/1.17.0 os/linux lang/go/1.18.10 md/GOOS/linux md/GOARCH/amd64 api/sts/1.16.19","requestParameters":null,"responseElements":null,"requestID":"8bd4c64d-0000-4056-9c7d-EXAMPLE","eventID":"bf68f8c0-0000-4740-ac89-EXAMPLE","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"sts.us-east-1.amazonaws.com"}}"#;

const OUTSIDE: &str = "instance-credentials-outside-aws";

fn outside_hit(event: &str) -> bool {
    builtin_hits(event).iter().any(|id| id == OUTSIDE)
}

#[test]
fn instance_credentials_used_from_an_outside_address_alert() {
    // GuardDuty User Guide, "GuardDuty IAM finding types",
    // UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS: credentials
    // created for an instance through its launch role, used from an address outside AWS.
    assert!(outside_hit(INSTANCE_CREDENTIALS_OUTSIDE));
    assert!(outside_hit(&INSTANCE_CREDENTIALS_OUTSIDE.replace(
        r#""ec2RoleDelivery":"1.0""#,
        r#""ec2RoleDelivery":"2.0""#
    )));
    // The same credentials without `ec2RoleDelivery` are an ordinary role session.
    assert!(!outside_hit(
        &INSTANCE_CREDENTIALS_OUTSIDE.replace(r#","ec2RoleDelivery":"1.0""#, "")
    ));
}

#[test]
fn instance_credentials_used_by_aws_or_from_inside_do_not_alert() {
    let event = INSTANCE_CREDENTIALS_OUTSIDE;
    // "CloudTrail userIdentity element", invokedBy: an AWS service made the call with them.
    let invoked_by = event.replace(
        r#""ec2RoleDelivery":"1.0"}"#,
        r#""ec2RoleDelivery":"1.0"},"invokedBy":"autoscaling.amazonaws.com""#,
    );
    // "CloudTrail record contents", sourceIPAddress: a service's DNS name, or AWS Internal.
    let service = event.replace("203.0.113.54", "ec2.amazonaws.com");
    let internal = event.replace("203.0.113.54", "AWS Internal");
    // "CloudTrail record contents", vpcEndpointId: the call came from a VPC through an
    // endpoint, with the instance's private address as its source.
    let endpoint = event.replace("203.0.113.54", "10.0.1.23").replace(
        r#""eventCategory":"Management""#,
        r#""eventCategory":"Management","vpcEndpointId":"vpce-0123456789abcdef0""#,
    );
    for (why, e) in [
        ("invokedBy", &invoked_by),
        ("service source", &service),
        ("AWS Internal", &internal),
        ("VPC endpoint", &endpoint),
    ] {
        assert!(!outside_hit(e), "{why}");
    }
}

#[test]
fn the_ssm_agent_reporting_from_its_instance_does_not_alert() {
    // The SSM Agent reports with the instance's credentials through the instance's public
    // address; its calls are the ssm actions of the AWS managed policy
    // AmazonSSMManagedInstanceCore (AWS Managed Policy Reference). The shared invictus data
    // holds 21 such calls from the two Stratus instances.
    let agent = INSTANCE_CREDENTIALS_OUTSIDE
        .replace("sts.amazonaws.com", "ssm.amazonaws.com")
        .replace(
            "aws-sdk-go-v2/1.17.0 os/linux lang/go/1.18.10 md/GOOS/linux md/GOARCH/amd64 api/sts/1.16.19",
            "aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/",
        );
    for name in [
        "UpdateInstanceInformation",
        "UpdateInstanceAssociationStatus",
        "ListInstanceAssociations",
        "PutInventory",
        "PutComplianceItems",
        "GetDocument",
    ] {
        assert!(
            !outside_hit(&agent.replace("GetCallerIdentity", name)),
            "{name}"
        );
    }
    // Parameters may hold secrets: reading them from outside alerts even with the agent's
    // user agent, and the agent's calls made by anything else alert too.
    assert!(outside_hit(
        &agent.replace("GetCallerIdentity", "GetParameters")
    ));
    assert!(outside_hit(
        &agent
            .replace("GetCallerIdentity", "UpdateInstanceInformation")
            .replace("amazon-ssm-agent/", "python-requests/2.31")
    ));
}

#[test]
fn rule_patterns_with_unquoted_special_values_load_with_warnings() {
    let text = GOOD.replace(
        r#"'{ $.eventName = "AssumeRole" && $.requestParameters.roleArn = "*EMERGENCY*" }'"#,
        r#"'{ $.eventName = AssumeRole && $.requestParameters.roleArn = *EMERGENCY* || $.userIdentity.userName = admin@example.com }'"#,
    );
    let rules = load_toml("rules.toml", &text).unwrap();
    let p = &rules[0].pattern;
    assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
    assert!(p.deployable().contains(r#"= "admin@example.com""#));
}

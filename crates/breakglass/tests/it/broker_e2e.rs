//! End to end against the moto emulator: the real `breakglass serve` and client commands,
//! and the real AWS CLI using `breakglass creds` as its `credential_process`.
//!
//! request → refused self-approval, wrong TOTP and over-long request → approval by a second
//! user with a valid TOTP → activation → `aws sts get-caller-identity` through
//! `credential_process` → revoke → the role's deny policy names the session → `creds`
//! refused. Prints the time from approval to usable credentials.

use std::process::Command;
use std::time::Instant;

use crate::support::{ACCOUNT, BIN, Broker, aws_env, client, ok, refused, run, totp_code};

#[test]
fn request_approve_activate_use_revoke_against_the_emulator() {
    let Some(broker) = Broker::start("", &[("alice", false), ("bob", false)]) else {
        return;
    };
    let (aws, endpoint, dir) = (broker.aws.clone(), broker.endpoint.clone(), &broker.dir);
    #[cfg(unix)]
    for user in &broker.users {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&user.session)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let seeds = [
        broker.user("alice").seed.clone(),
        broker.user("bob").seed.clone(),
    ];
    let (alice, bob) = (
        broker.user("alice").session.clone(),
        broker.user("bob").session.clone(),
    );

    let ask = [
        "request",
        "-p",
        "investigate",
        "-r",
        "SecurityAnalyst",
        "-a",
        ACCOUNT,
        "-i",
        "INC-7",
        "-j",
        "suspicious logins",
    ];
    let over: Vec<&str> = ask.iter().copied().chain(["-d", "5h"]).collect();
    refused(&client(&alice, &over), "duration_out_of_bounds");
    let id = ok(&client(&alice, &ask));

    refused(
        &client(&alice, &["approve", &id, "--totp", &totp_code(&seeds[0])]),
        "self_approval",
    );
    refused(
        &client(&bob, &["approve", &id, "--totp", "000000"]),
        "totp_invalid",
    );
    ok(&client(
        &bob,
        &["approve", &id, "--totp", &totp_code(&seeds[1])],
    ));

    // Time to access: from the approval to credentials the AWS CLI accepts.
    let approved = Instant::now();
    let grant = ok(&client(&alice, &["activate", &id]));
    let creds: serde_json::Value =
        serde_json::from_str(&ok(&client(&alice, &["creds", "--grant", &grant]))).unwrap();
    let to_creds = approved.elapsed();
    assert_eq!(creds["Version"], 1);
    for k in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            creds[k].as_str().is_some_and(|v| !v.is_empty()),
            "{k} in {creds}"
        );
    }

    let aws_config = dir.path().join("aws-config");
    std::fs::write(
        &aws_config,
        format!("[profile bg]\ncredential_process = {BIN} creds --grant {grant}\n"),
    )
    .unwrap();
    let who = ok(&run(aws_env(&mut Command::new(&aws))
        .env("AWS_CONFIG_FILE", &aws_config)
        .env("BREAKGLASS_SESSION_FILE", &alice)
        .args([
            "--profile",
            "bg",
            "--endpoint-url",
            &endpoint,
            "sts",
            "get-caller-identity",
        ])));
    let to_aws = approved.elapsed();
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(
        who["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/SecurityAnalyst/{grant}")
    );
    println!(
        "time to access: approval -> credentials {:.0} ms; -> first AWS CLI call {:.0} ms",
        to_creds.as_secs_f64() * 1000.0,
        to_aws.as_secs_f64() * 1000.0
    );

    // `exec` puts the credentials in the child's environment only.
    let arn = ok(&client(
        &alice,
        &[
            "exec",
            "--grant",
            &grant,
            "--",
            aws.to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    ));
    assert!(arn.ends_with(&format!("/{grant}")), "{arn}");

    let revoked = ok(&client(
        &bob,
        &["revoke", "--grant", &grant, "--reason", "incident closed"],
    ));
    assert!(revoked.contains("\"sessions_denied\": true"), "{revoked}");
    let policy = ok(&run(aws_env(&mut Command::new(&aws)).args([
        "--endpoint-url",
        &endpoint,
        "iam",
        "get-role-policy",
        "--role-name",
        "SecurityAnalyst",
        "--policy-name",
        "BreakglassRevocations",
        "--output",
        "json",
    ])));
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let doc = policy["PolicyDocument"].to_string();
    assert!(
        doc.contains("\"Deny\"") && doc.contains(&format!(":{grant}")),
        "{doc}"
    );
    let user_id = who["UserId"].as_str().unwrap();
    assert!(
        doc.contains(user_id),
        "the deny names the session's aws:userid `{user_id}`: {doc}"
    );

    refused(
        &client(&alice, &["creds", "--grant", &grant]),
        "not_issuable",
    );
}

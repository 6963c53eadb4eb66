//! `AwsCloud` against the emulator: minting credentials for a role (used through the SDK),
//! the revocation policies read and written on the role, limits refused before any call,
//! and the console sign-in URL through a local federation endpoint.

use std::io::{Read, Write};
use std::net::TcpListener;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use breakglass_aws::{AccountRoles, AwsCloud, FederationOptions};
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest};
use breakglass_core::model::{AccountId, GrantId, RoleArn};
use breakglass_testkit::moto::Moto;
use time::Duration;

use crate::emulator::{in_account, sdk_config};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}]}"#;

async fn create_role(config: &aws_config::SdkConfig, name: &str, max: i32) -> (String, String) {
    let out = aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name(name)
        .path("/incident-response/")
        .assume_role_policy_document(TRUST)
        .max_session_duration(max)
        .send()
        .await
        .unwrap();
    let role = out.role().unwrap();
    (role.arn().to_owned(), role.role_id().to_owned())
}

fn issue_request(grant: &str, role_arn: &str, duration: Duration) -> IssueRequest {
    IssueRequest {
        grant: GrantId::new(grant).unwrap(),
        role_arn: role_arn.to_owned(),
        source_identity: "alice".to_owned(),
        tags: vec![
            ("IncidentId".to_owned(), "INC-42".to_owned()),
            ("GrantId".to_owned(), grant.to_owned()),
            ("Requester".to_owned(), "alice".to_owned()),
        ],
        session_policy: Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#
                .to_owned(),
        ),
        duration,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_credentials_work_through_the_sdk() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let (arn, role_id) = create_role(&config, "IR-Cloud", 3_600).await;
    let cloud = AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none());

    let creds = cloud
        .issue(&issue_request("g-cloud-1", &arn, Duration::hours(2)))
        .await
        .unwrap();
    assert!(
        creds.access_key_id.starts_with("ASIA"),
        "{}",
        creds.access_key_id
    );
    assert_eq!(creds.assumed_role_id, format!("{role_id}:g-cloud-1"));
    assert!(
        creds
            .assumed_role_arn
            .ends_with(":assumed-role/IR-Cloud/g-cloud-1")
    );
    let role = RoleArn::new(arn.clone()).unwrap();
    assert_eq!(cloud.role_id(&role).await.unwrap(), role_id);

    let as_session = config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.expose().to_owned(),
            Some(creds.session_token.expose().to_owned()),
            None,
            "grant",
        )))
        .build();
    let who = aws_sdk_sts::Client::new(&as_session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some(creds.assumed_role_arn.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_policies_are_written_read_and_deleted() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let (arn, _) = create_role(&config, "IR-Policies", 3_600).await;
    let role = RoleArn::new(arn).unwrap();
    let cloud = AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":["AROAEXAMPLE0000000001:g-1"]}}}]}"#;

    assert_eq!(
        cloud
            .inline_policy(&role, "BreakglassRevocations")
            .await
            .unwrap(),
        None
    );
    cloud
        .put_inline_policy(&role, "BreakglassRevocations", doc)
        .await
        .unwrap();
    let read: serde_json::Value = serde_json::from_str(
        &cloud
            .inline_policy(&role, "BreakglassRevocations")
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        read,
        serde_json::from_str::<serde_json::Value>(doc).unwrap()
    );
    assert_eq!(
        cloud.inline_policy_names(&role).await.unwrap(),
        vec!["BreakglassRevocations".to_owned()]
    );
    cloud
        .delete_inline_policy(&role, "BreakglassRevocations")
        .await
        .unwrap();
    assert_eq!(
        cloud
            .inline_policy(&role, "BreakglassRevocations")
            .await
            .unwrap(),
        None
    );
    // Deleting what is absent is not an error.
    cloud
        .delete_inline_policy(&role, "BreakglassRevocations")
        .await
        .unwrap();
    assert!(matches!(
        cloud
            .role_id(&RoleArn::new("arn:aws:iam::123456789012:role/NoSuchRole").unwrap())
            .await,
        Err(CloudError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_refused_before_the_call() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let (arn, _) = create_role(&config, "IR-Limits", 3_600).await;
    moto.start_recording().unwrap();
    let cloud = AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none());
    let mut bad = issue_request("g-limits", &arn, Duration::hours(1));
    bad.source_identity = "aws:alice".to_owned();
    let err = cloud.issue(&bad).await.unwrap_err();
    assert!(matches!(err, CloudError::Invalid(_)));
    assert!(
        err.to_string().contains("SourceIdentity `aws:alice`"),
        "{err}"
    );
    let short = issue_request("g-limits", &arn, Duration::seconds(600));
    let err = cloud.issue(&short).await.unwrap_err().to_string();
    assert!(err.contains("minimum of 900 seconds"), "{err}");
    // Only GetRole (to learn the role's maximum) reached the emulator; no AssumeRole.
    let bodies = moto.recorded_bodies().unwrap();
    assert!(
        bodies.iter().all(|b| !b.contains("AssumeRole")),
        "{bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_url_comes_from_the_federation_endpoint() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let (arn, _) = create_role(&config, "IR-Console", 3_600).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}/federation",
        listener.local_addr().unwrap().port()
    );
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut chunk).unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = r#"{"SigninToken":"token/with+chars"}"#;
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8(buf).unwrap()
    });
    let cloud = AwsCloud::new(
        &config,
        FederationOptions {
            endpoint: endpoint.clone(),
            issuer: "https://breakglass.example".to_owned(),
        },
        AccountRoles::none(),
    );
    let creds = cloud
        .issue(&issue_request("g-console", &arn, Duration::hours(1)))
        .await
        .unwrap();
    let url = cloud
        .console_url(
            &creds,
            Duration::seconds(900),
            "https://console.aws.amazon.com/",
        )
        .await
        .unwrap();
    let request = server.join().unwrap();
    let line = request.lines().next().unwrap();
    assert!(
        line.starts_with("GET /federation?Action=getSigninToken&SessionDuration=900&Session="),
        "{line}"
    );
    let session = line
        .split("Session=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let session: serde_json::Value = serde_json::from_str(
        &percent_encoding::percent_decode_str(session)
            .decode_utf8()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(session["sessionId"], creds.access_key_id.as_str());
    assert_eq!(session["sessionToken"], creds.session_token.expose());
    assert_eq!(
        url.expose(),
        format!(
            "{endpoint}?Action=login&Issuer=https%3A%2F%2Fbreakglass%2Eexample&Destination=https%3A%2F%2Fconsole%2Eaws%2Eamazon%2Ecom%2F&SigninToken=token%2Fwith%2Bchars"
        )
    );
    assert_eq!(format!("{url:?}"), "Secret([redacted])");
    let err = cloud
        .console_url(
            &creds,
            Duration::seconds(100),
            "https://console.aws.amazon.com/",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("900-43200"), "{err}");
}

/// Before minting for the console, the adapter asks whether the sign-in endpoint can be
/// reached: AWS's own endpoint never accepts an emulator's sessions (refused without a call),
/// a closed port is named, and any HTTP answer counts as reachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_endpoint_is_checked_before_minting() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let on_emulator = AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none());
    let err = on_emulator.console_sign_in_reachable().await.unwrap_err();
    assert!(matches!(err, CloudError::Unavailable(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("emulator") && text.contains(&moto.endpoint()),
        "{text}"
    );

    // A port nobody listens on (bound, then closed).
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}/federation",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let options = |endpoint: &str| FederationOptions {
        endpoint: endpoint.to_owned(),
        issuer: "breakglass".to_owned(),
    };
    let nowhere = AwsCloud::new(&config, options(&endpoint), AccountRoles::none());
    let err = nowhere.console_sign_in_reachable().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot be reached") && text.contains(&endpoint),
        "{text}"
    );
    assert!(
        text.to_lowercase().contains("refused"),
        "the cause is missing: {text}"
    );

    // An endpoint that answers, even 400 to a bare GET, is reachable.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}/federation",
        listener.local_addr().unwrap().port()
    );
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).unwrap();
        write!(
            conn,
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
    });
    let there = AwsCloud::new(&config, options(&endpoint), AccountRoles::none());
    there.console_sign_in_reachable().await.unwrap();
    server.join().unwrap();
}

/// The role the tests assume to manage another account's roles, as the broker assumes its
/// revoker role.
fn revoker_role(account: &AccountId) -> Option<RoleArn> {
    RoleArn::new(format!(
        "arn:aws:iam::{account}:role/breakglass/BreakglassRevoker"
    ))
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_of_another_account_are_read_and_written_in_that_account() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let remote = in_account(&config, "222222222222", "us-east-1").await;
    let (arn, role_id) = create_role(&remote, "IR-Remote", 7_200).await;
    assert!(arn.starts_with("arn:aws:iam::222222222222:role/"), "{arn}");
    // A role of the same name in the broker's own account, which must stay untouched.
    let (local_arn, local_id) = create_role(&config, "IR-Remote", 3_600).await;
    assert_ne!(role_id, local_id);
    let role = RoleArn::new(arn.clone()).unwrap();
    let cloud = AwsCloud::new(
        &config,
        FederationOptions::default(),
        AccountRoles::new(revoker_role),
    );

    // GetRole happens in the role's account: its id, and its maximum session duration.
    assert_eq!(cloud.role_id(&role).await.unwrap(), role_id);
    let three_hours = Duration::hours(3);
    let there = cloud
        .issue(&issue_request("g-remote", &arn, three_hours))
        .await
        .unwrap();
    assert_eq!(there.assumed_role_id, format!("{role_id}:g-remote"));
    let here = cloud
        .issue(&issue_request("g-local", &local_arn, three_hours))
        .await
        .unwrap();
    assert_eq!(here.assumed_role_id, format!("{local_id}:g-local"));
    // 7,200 seconds there against 3,600 here.
    let longer = (there.expiration - here.expiration).whole_seconds();
    assert!((3_500..=3_700).contains(&longer), "{longer}");

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":["AROAEXAMPLE0000000001:g-remote"]}}}]}"#;
    let policies = ["BreakglassRevocations", "AWSRevokeOlderSessions"];
    for policy in policies {
        cloud.put_inline_policy(&role, policy, doc).await.unwrap();
    }
    let read: serde_json::Value = serde_json::from_str(
        &cloud
            .inline_policy(&role, "BreakglassRevocations")
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        read,
        serde_json::from_str::<serde_json::Value>(doc).unwrap()
    );
    let mut names = cloud.inline_policy_names(&role).await.unwrap();
    names.sort();
    assert_eq!(
        names,
        vec!["AWSRevokeOlderSessions", "BreakglassRevocations"]
    );

    // Read back in the role's account with that account's own credentials...
    let remote_iam = aws_sdk_iam::Client::new(&remote);
    let mut listed = remote_iam
        .list_role_policies()
        .role_name("IR-Remote")
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec();
    listed.sort();
    assert_eq!(listed, names);
    // ...and nothing was written on the broker's own role of the same name.
    let local_iam = aws_sdk_iam::Client::new(&config);
    let local = local_iam
        .list_role_policies()
        .role_name("IR-Remote")
        .send()
        .await
        .unwrap();
    assert!(local.policy_names().is_empty(), "{local:?}");
    let local_role = RoleArn::new(local_arn).unwrap();
    assert!(
        cloud
            .inline_policy_names(&local_role)
            .await
            .unwrap()
            .is_empty()
    );

    cloud
        .delete_inline_policy(&role, "BreakglassRevocations")
        .await
        .unwrap();
    assert_eq!(
        cloud
            .inline_policy(&role, "BreakglassRevocations")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        remote_iam
            .list_role_policies()
            .role_name("IR-Remote")
            .send()
            .await
            .unwrap()
            .policy_names(),
        ["AWSRevokeOlderSessions"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_cannot_be_reached_is_named() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let role = RoleArn::new("arn:aws:iam::222222222222:role/incident-response/IR").unwrap();

    // No role to assume there.
    let cloud = AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none());
    let err = cloud.role_id(&role).await.unwrap_err();
    assert!(matches!(err, CloudError::AccessDenied(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("account 222222222222"), "{msg}");
    assert!(msg.contains("no role to assume is configured"), "{msg}");

    // A role that yields another account's credentials.
    let cloud = AwsCloud::new(
        &config,
        FederationOptions::default(),
        AccountRoles::new(|_| {
            RoleArn::new("arn:aws:iam::333333333333:role/breakglass/BreakglassRevoker").ok()
        }),
    );
    let err = cloud
        .put_inline_policy(&role, "BreakglassRevocations", "{}")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot reach account 222222222222"), "{msg}");
    assert!(
        msg.contains("arn:aws:iam::333333333333:role/breakglass/BreakglassRevoker"),
        "{msg}"
    );
    assert!(msg.contains("credentials of account 333333333333"), "{msg}");
}

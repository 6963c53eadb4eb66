//! `AwsCloud` against the emulator: minting credentials for a role (used through the SDK),
//! the revocation policies read and written on the role, limits refused before any call,
//! and the console sign-in URL through a local federation endpoint.

use std::io::{Read, Write};
use std::net::TcpListener;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use breakglass_aws::{AwsCloud, FederationOptions};
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest};
use breakglass_core::model::GrantId;
use breakglass_testkit::moto::Moto;
use time::Duration;

use crate::emulator::sdk_config;

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
    let cloud = AwsCloud::new(&config, FederationOptions::default());

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
    assert_eq!(cloud.role_id("IR-Cloud").await.unwrap(), role_id);

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
    create_role(&config, "IR-Policies", 3_600).await;
    let cloud = AwsCloud::new(&config, FederationOptions::default());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":["AROAEXAMPLE0000000001:g-1"]}}}]}"#;

    assert_eq!(
        cloud
            .inline_policy("IR-Policies", "BreakglassRevocations")
            .await
            .unwrap(),
        None
    );
    cloud
        .put_inline_policy("IR-Policies", "BreakglassRevocations", doc)
        .await
        .unwrap();
    let read: serde_json::Value = serde_json::from_str(
        &cloud
            .inline_policy("IR-Policies", "BreakglassRevocations")
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
        cloud.inline_policy_names("IR-Policies").await.unwrap(),
        vec!["BreakglassRevocations".to_owned()]
    );
    cloud
        .delete_inline_policy("IR-Policies", "BreakglassRevocations")
        .await
        .unwrap();
    assert_eq!(
        cloud
            .inline_policy("IR-Policies", "BreakglassRevocations")
            .await
            .unwrap(),
        None
    );
    // Deleting what is absent is not an error.
    cloud
        .delete_inline_policy("IR-Policies", "BreakglassRevocations")
        .await
        .unwrap();
    assert!(matches!(
        cloud.role_id("NoSuchRole").await,
        Err(CloudError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_refused_before_the_call() {
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let (arn, _) = create_role(&config, "IR-Limits", 3_600).await;
    moto.start_recording().unwrap();
    let cloud = AwsCloud::new(&config, FederationOptions::default());
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

//! How `AwsCloud` handles STS refusing or failing, against a local HTTP server standing in
//! for IAM and STS: throttling and 5xx answers are retried with backoff until one succeeds,
//! AccessDenied names the trust permissions the role must grant, and PackedPolicyTooLarge
//! says what to shorten.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_aws::{AccountRoles, AwsCloud, FederationOptions};
use breakglass_core::cloud::{Cloud, CloudError, IssueRequest};
use breakglass_core::model::GrantId;
use time::Duration;

const GET_ROLE: &str = r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>IR</RoleName><RoleId>AROAFAKE0000000000001</RoleId><Arn>arn:aws:iam::111111111111:role/IR</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration></Role></GetRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetRoleResponse>"#;

const CALLER: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/broker</Arn><UserId>AIDAFAKE0000000000001</UserId><Account>111111111111</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r0</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

const ASSUMED: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAFAKE000000000001</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE0000000000001:g-1</AssumedRoleId><Arn>arn:aws:sts::111111111111:assumed-role/IR/g-1</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleResponse>"#;

fn sts_error(code: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>refused by the test server</Message></Error><RequestId>r3</RequestId></ErrorResponse>"#
    )
}

/// A server answering GetCallerIdentity with [`CALLER`] (the broker's own account holds
/// the role), GetRole with [`GET_ROLE`] and each AssumeRole with the next of
/// `answers`; returns its endpoint and the count of AssumeRole calls it saw.
fn fake_aws(answers: Vec<(u16, String)>) -> (String, Arc<Mutex<u32>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let calls = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&calls);
    let mut answers: VecDeque<_> = answers.into();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body_start = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(body_start) = body_start else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < body_start + length {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[body_start..]).to_string();
            let (status, text) = if body.contains("Action=GetCallerIdentity") {
                (200, CALLER.to_owned())
            } else if body.contains("Action=GetRole") {
                (200, GET_ROLE.to_owned())
            } else if body.contains("Action=AssumeRole") {
                *seen.lock().unwrap() += 1;
                answers
                    .pop_front()
                    .unwrap_or((500, sts_error("InternalFailure")))
            } else {
                (400, sts_error("InvalidAction"))
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (endpoint, calls)
}

async fn cloud(endpoint: &str) -> AwsCloud {
    let config = sdk::load(&AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-east-1".to_owned()),
        profile: None,
    })
    .await
    .to_builder()
    .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
        "testing", "testing", None, None, "tests",
    )))
    .build();
    AwsCloud::new(&config, FederationOptions::default(), AccountRoles::none())
}

fn request() -> IssueRequest {
    IssueRequest {
        grant: GrantId::new("g-1").unwrap(),
        role_arn: "arn:aws:iam::111111111111:role/IR".to_owned(),
        source_identity: "alice".to_owned(),
        tags: vec![("IncidentId".to_owned(), "INC-1".to_owned())],
        session_policy: None,
        duration: Duration::hours(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_5xx_are_retried_until_sts_answers() {
    let (endpoint, calls) = fake_aws(vec![
        (503, sts_error("ServiceUnavailable")),
        (400, sts_error("Throttling")),
        (200, ASSUMED.to_owned()),
    ]);
    let creds = cloud(&endpoint).await.issue(&request()).await.unwrap();
    assert_eq!(creds.access_key_id, "ASIAFAKE000000000001");
    assert_eq!(creds.assumed_role_id, "AROAFAKE0000000000001:g-1");
    assert_eq!(*calls.lock().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failure_gives_up_after_five_attempts() {
    let (endpoint, calls) = fake_aws(Vec::new());
    let err = cloud(&endpoint).await.issue(&request()).await.unwrap_err();
    assert!(matches!(err, CloudError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("failed after retries"), "{err}");
    assert_eq!(*calls.lock().unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_trust_permissions() {
    let (endpoint, calls) = fake_aws(vec![(403, sts_error("AccessDenied"))]);
    let err = cloud(&endpoint).await.issue(&request()).await.unwrap_err();
    assert!(matches!(err, CloudError::AccessDenied(_)), "{err:?}");
    let msg = err.to_string();
    for permission in ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"] {
        assert!(msg.contains(permission), "{msg}");
    }
    assert_eq!(*calls.lock().unwrap(), 1, "a refusal is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_policy_too_large_says_what_to_shorten() {
    let (endpoint, _) = fake_aws(vec![(400, sts_error("PackedPolicyTooLarge"))]);
    let err = cloud(&endpoint).await.issue(&request()).await.unwrap_err();
    assert!(matches!(err, CloudError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("PackedPolicyTooLarge"), "{err}");
    assert!(err.to_string().contains("session policy"), "{err}");
}

//! Console sign-in through the AWS federation endpoint: `getSigninToken` with the session's
//! credentials, then the `login` URL carrying the token.
//!
//! The endpoint is configurable so tests can stand a local server in for it. The request
//! carrying the credentials and the URL returned are secrets: neither is logged, and the URL
//! is handed back as a [`Secret`].

use std::time::Duration as StdDuration;

use breakglass_core::aws_limits::{MAX_CONSOLE_SESSION_SECONDS, MIN_CONSOLE_SESSION_SECONDS};
use breakglass_core::cloud::{CloudError, IssuedCredentials, Secret};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use time::Duration;

/// Where the console federation endpoint is, and who the sign-in URL says issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationOptions {
    /// The endpoint (`https://signin.aws.amazon.com/federation`; a local server in tests).
    pub endpoint: String,
    /// The `Issuer` of the login URL (where the console sends the user when the session
    /// ends), usually the broker's URL.
    pub issuer: String,
}

impl Default for FederationOptions {
    fn default() -> Self {
        Self {
            endpoint: AWS_SIGN_IN.to_owned(),
            issuer: "breakglass".to_owned(),
        }
    }
}

/// The largest answer read from the endpoint.
const MAX_BODY: usize = 64 * 1024;
/// How long the endpoint may take.
const TIMEOUT: StdDuration = StdDuration::from_secs(15);

fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// `e` and each of its causes, `: `-separated (a client error alone says only "client error
/// (Connect)").
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `GET url` over HTTP or HTTPS (rustls with ring, the system's roots), capped and timed.
async fn get(url: &str) -> Result<(u16, Bytes), String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot load the system's TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("the federation endpoint is not a URL: {e}"))?;
    let call = async {
        let resp = client.get(uri).await.map_err(|e| with_causes(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| format!("no answer within {} seconds", TIMEOUT.as_secs()))?
}

/// The endpoint AWS's console sign-in is served from.
pub const AWS_SIGN_IN: &str = "https://signin.aws.amazon.com/federation";

/// How long the reachability check waits for any answer.
const REACH_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Whether `endpoint` (an `--endpoint-url` override) is AWS's own, such as a VPC endpoint
/// (`*.amazonaws.com`, `*.amazonaws.com.cn`, `*.api.aws`), rather than an emulator's.
fn on_aws(endpoint: &str) -> bool {
    endpoint
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_ascii_lowercase))
        .is_some_and(|host| {
            ["amazonaws.com", "amazonaws.com.cn", "api.aws"]
                .iter()
                .any(|domain| host.ends_with(&format!(".{domain}")))
        })
}

/// Whether the federation endpoint answers at all (any HTTP status will do), asked before
/// credentials are minted for it. `emulator` is the endpoint the broker's AWS calls go to
/// when it is overridden: unless that is an AWS host, it is an emulator, whose sessions
/// AWS's own sign-in does not know, so with AWS's endpoint that is refused without a call.
pub(crate) async fn reachable(
    options: &FederationOptions,
    emulator: Option<&str>,
) -> Result<(), CloudError> {
    let endpoint = &options.endpoint;
    if let Some(emulator) = emulator.filter(|e| endpoint == AWS_SIGN_IN && !on_aws(e)) {
        return Err(CloudError::Unavailable(format!(
            "the broker calls an AWS emulator ({emulator}), and AWS's sign-in endpoint ({endpoint}) does not accept the sessions an emulator mints"
        )));
    }
    match tokio::time::timeout(REACH_TIMEOUT, get(endpoint)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(CloudError::Unavailable(format!(
            "the AWS sign-in endpoint ({endpoint}) cannot be reached from the broker: {e}"
        ))),
        Err(_) => Err(CloudError::Unavailable(format!(
            "the AWS sign-in endpoint ({endpoint}) did not answer the broker within {} seconds",
            REACH_TIMEOUT.as_secs()
        ))),
    }
}

/// The sign-in URL for `credentials`, valid for `session_duration` (900-43,200 seconds,
/// `aws_limits::MIN_CONSOLE_SESSION_SECONDS`..=`MAX_CONSOLE_SESSION_SECONDS`),
/// landing on `destination`.
pub(crate) async fn console_url(
    options: &FederationOptions,
    credentials: &IssuedCredentials,
    session_duration: Duration,
    destination: &str,
) -> Result<Secret, CloudError> {
    let seconds = session_duration.whole_seconds();
    if !(MIN_CONSOLE_SESSION_SECONDS..=MAX_CONSOLE_SESSION_SECONDS).contains(&seconds) {
        return Err(CloudError::Invalid(format!(
            "console SessionDuration {seconds} is outside the federation endpoint's {MIN_CONSOLE_SESSION_SECONDS}-{MAX_CONSOLE_SESSION_SECONDS} seconds"
        )));
    }
    if !destination.starts_with("https://") {
        return Err(CloudError::Invalid(format!(
            "console destination `{destination}` must be an https:// URL"
        )));
    }
    let session = serde_json::json!({
        "sessionId": credentials.access_key_id,
        "sessionKey": credentials.secret_access_key.expose(),
        "sessionToken": credentials.session_token.expose(),
    })
    .to_string();
    let endpoint = &options.endpoint;
    let token_url = format!(
        "{endpoint}?Action=getSigninToken&SessionDuration={seconds}&Session={}",
        encode(&session)
    );
    let unavailable =
        |m: String| CloudError::Unavailable(format!("federation endpoint `{endpoint}`: {m}"));
    let (status, body) = get(&token_url).await.map_err(unavailable)?;
    if status == 400 || status == 401 || status == 403 {
        return Err(CloudError::AccessDenied(format!(
            "federation endpoint `{endpoint}` refused the session (HTTP {status}); sessions from role chaining cannot last over an hour"
        )));
    }
    if !(200..300).contains(&status) {
        return Err(unavailable(format!("HTTP {status}")));
    }
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| unavailable(format!("the answer is not JSON: {e}")))?;
    let token = answer
        .get("SigninToken")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| unavailable("the answer has no `SigninToken`".to_owned()))?;
    Ok(Secret::new(format!(
        "{endpoint}?Action=login&Issuer={}&Destination={}&SigninToken={}",
        encode(&options.issuer),
        encode(destination),
        encode(token)
    )))
}

#[cfg(test)]
mod tests {
    use super::on_aws;

    #[test]
    fn only_an_aws_host_is_taken_for_aws() {
        for aws in [
            "https://sts.us-east-1.amazonaws.com",
            "https://vpce-0a1b.sts.us-east-1.vpce.amazonaws.com",
            "https://iam.cn-north-1.amazonaws.com.cn",
            "https://sts.us-east-1.api.aws",
        ] {
            assert!(on_aws(aws), "{aws}");
        }
        for emulator in [
            "http://127.0.0.1:5055",
            "http://localhost:4566",
            "https://amazonaws.com.evil.example",
            "https://evilamazonaws.com",
            "not a url",
        ] {
            assert!(!on_aws(emulator), "{emulator}");
        }
    }
}

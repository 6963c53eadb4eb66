//! The one shared SDK configuration (credentials, region, HTTP client, optional endpoint
//! override for an emulator) and the way into other accounts (STS `AssumeRole`).
//!
//! Every service client of every module is built from an [`SdkConfig`] made here, so the
//! HTTP client (hyper + rustls with ring) and the credential chain exist once.

pub use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// An endpoint for every service (an emulator such as moto); `None` for AWS itself.
    pub endpoint_url: Option<String>,
    /// The default region; `None` for the credential chain's (environment, profile).
    pub region: Option<String>,
    /// A named profile of the shared config files.
    pub profile: Option<String>,
}

/// Why the SDK could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The caller's identity could not be determined (no or bad credentials, no network).
    #[error("cannot determine who is calling AWS (sts:GetCallerIdentity): {message}")]
    CallerIdentity {
        /// What failed and what to do, in one line ([`Explained::summary`]).
        message: String,
        /// The SDK's whole account of it ([`Explained::detail`]).
        detail: String,
    },
    /// A role could not be assumed.
    #[error("cannot assume `{role}`: {message}")]
    AssumeRole {
        /// The role ARN.
        role: String,
        /// The SDK's message.
        message: String,
    },
    /// The assumed role is in a different account than expected.
    #[error("`{role}` yields credentials of account {got}, expected {want}")]
    WrongAccount {
        /// The role ARN.
        role: String,
        /// The account the credentials belong to.
        got: String,
        /// The account expected.
        want: String,
    },
}

/// An SDK error told for people: one line saying what failed and what to do next, and the
/// SDK's whole account (every cause, with its debug form) for whoever asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// What failed and what to do, without the SDK's debug dump.
    pub summary: String,
    /// The SDK's full message (`DisplayErrorContext`).
    pub detail: String,
}

/// The innermost cause of `err`: usually the plainest text (`Connection refused`).
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Tells an SDK error (of any service: every client shares the one `SdkError`) as
/// [`Explained`]: missing credentials, an unreachable endpoint, a timeout, or the service's
/// own code and message.
pub fn explain<E, R>(err: &aws_sdk_sts::error::SdkError<E, R>) -> Explained
where
    E: std::error::Error + aws_sdk_sts::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sts::error::{ProvideErrorMetadata as _, SdkError};

    let detail = aws_sdk_sts::error::DisplayErrorContext(err).to_string();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(c) = cause {
        if let Some(credentials) = c.downcast_ref::<CredentialsError>() {
            let summary = match credentials {
                CredentialsError::CredentialsNotLoaded(_) => "no AWS credentials found: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or container role provides them".to_owned(),
                other => format!(
                    "the AWS credentials could not be loaded: {}; check AWS_PROFILE and the shared config files",
                    innermost(other)
                ),
            };
            return Explained { summary, detail };
        }
        cause = c.source();
    }
    let summary = match err {
        SdkError::TimeoutError(_) => {
            "AWS did not answer in time; check the network (or `--endpoint-url`) and retry"
                .to_owned()
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            "AWS did not answer in time; check the network (or `--endpoint-url`) and retry"
                .to_owned()
        }
        SdkError::DispatchFailure(d) if d.is_io() => format!(
            "cannot reach the AWS endpoint ({}); check the network, the region, or `--endpoint-url`",
            innermost(err)
        ),
        _ => match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => innermost(err),
        },
    };
    Explained { summary, detail }
}

/// Loads the shared configuration: the default credential chain, `options`' region,
/// profile and endpoint, and a rustls HTTP client.
pub async fn load(options: &AwsOptions) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// The caller's account id and ARN (`sts:GetCallerIdentity`, which needs no permission).
pub async fn caller_identity(config: &SdkConfig) -> Result<(String, String), SdkError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            let Explained { summary, detail } = explain(&e);
            SdkError::CallerIdentity {
                message: summary,
                detail,
            }
        })?;
    Ok((
        out.account().unwrap_or_default().to_owned(),
        out.arn().unwrap_or_default().to_owned(),
    ))
}

/// A configuration whose credentials come from assuming `role_arn` (refreshed as they
/// expire), checked to belong to `account` before it is returned.
pub async fn assume_role(
    config: &SdkConfig,
    role_arn: &str,
    session_name: &str,
    account: &str,
) -> Result<SdkConfig, SdkError> {
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name(session_name)
        .configure(config)
        .build()
        .await;
    let assumed = config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build();
    let (got, _) = caller_identity(&assumed)
        .await
        .map_err(|e| SdkError::AssumeRole {
            role: role_arn.to_owned(),
            message: e.to_string(),
        })?;
    if got != account {
        return Err(SdkError::WrongAccount {
            role: role_arn.to_owned(),
            got,
            want: account.to_owned(),
        });
    }
    Ok(assumed)
}

/// The configuration a trail reader uses: `base` itself (the SDK's default chain) when no
/// role is given, else credentials from assuming `role_arn` (the reader role `apply`
/// provisions in the log-archive account), checked to belong to the role's account.
pub async fn reader_config(
    base: &SdkConfig,
    role_arn: Option<&str>,
    session_name: &str,
) -> Result<SdkConfig, SdkError> {
    let Some(role) = role_arn else {
        return Ok(base.clone());
    };
    let account = role
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| SdkError::AssumeRole {
            role: role.to_owned(),
            message: "not a role ARN (`arn:aws:iam::123456789012:role/NAME`)".to_owned(),
        })?;
    assume_role(base, role, session_name, account).await
}

/// `config` pointed at `region` (its credentials, endpoint and HTTP client kept): for a
/// resource that lives in one region, such as the activity queue.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}

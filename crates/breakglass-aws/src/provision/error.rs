//! Provisioning errors: each names the account, the operation and the resource, with the
//! SDK's full message (service error code and request id included).

use std::error::Error;

use aws_sdk_iam::error::ProvideErrorMetadata;

use crate::sdk::SdkError;

/// Why an account could not be read or converged.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// An API call failed.
    #[error("account {account}: {operation} `{resource}` failed: {message}")]
    Call {
        /// The account id.
        account: String,
        /// The API operation, e.g. `iam:CreateRole`.
        operation: &'static str,
        /// The resource it concerned.
        resource: String,
        /// The SDK's message, in one line.
        message: String,
        /// The SDK's whole account of the failure (for `--verbose`).
        detail: String,
    },
    /// The deploy role could not be assumed.
    #[error(
        "cannot reach account {account} ({name}) through the deploy role `{role}`: {message}; bootstrap that role first, e.g. deploy `cloudformation/{name}.yaml` from `breakglass plan` with the account's own credentials"
    )]
    DeployRole {
        /// The account id.
        account: String,
        /// The account's config name.
        name: String,
        /// The deploy role's ARN.
        role: String,
        /// The SDK's message.
        message: String,
    },
    /// The CloudTrail log group the metric filters read does not exist.
    #[error(
        "account {account}, region {region}: the CloudTrail log group `{log_group}` does not exist; set `cloudtrail_log_group` to the group your trail delivers to"
    )]
    MissingLogGroup {
        /// The account id.
        account: String,
        /// The home region.
        region: String,
        /// The log group name.
        log_group: String,
    },
    /// A resource is in a state `apply` will not change on its own.
    #[error("account {account}: {resource}: {problem}")]
    Refused {
        /// The account id.
        account: String,
        /// The resource.
        resource: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The SDK configuration could not be used.
    #[error(transparent)]
    Sdk(#[from] SdkError),
}

impl ProvisionError {
    /// The SDK's whole account of the failure, when it says more than the message: for a
    /// `--verbose` run, never for the one line a person reads first.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Call { detail, .. } | Self::Sdk(SdkError::CallerIdentity { detail, .. }) => {
                Some(detail)
            }
            _ => None,
        }
    }
}

/// Wraps an SDK call's error with its account, operation and resource. A service error is
/// shown as its code and message; anything else (network, credentials) as one line saying
/// what to do ([`crate::sdk::explain`]), the SDK's whole chain of causes kept as `detail`.
pub(crate) fn call_error<E, R>(
    account: &str,
    operation: &'static str,
    resource: &str,
    err: aws_sdk_iam::error::SdkError<E, R>,
) -> ProvisionError
where
    E: Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
{
    let explained = crate::sdk::explain(&err);
    ProvisionError::Call {
        account: account.to_owned(),
        operation,
        resource: resource.to_owned(),
        message: explained.summary,
        detail: explained.detail,
    }
}

/// `result` with its error wrapped by [`call_error`].
pub(crate) trait CallResult<T> {
    fn ctx(
        self,
        account: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<T, ProvisionError>;
}

impl<T, E: Error + ProvideErrorMetadata + 'static, R: std::fmt::Debug + 'static> CallResult<T>
    for Result<T, aws_sdk_iam::error::SdkError<E, R>>
{
    fn ctx(
        self,
        account: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<T, ProvisionError> {
        self.map_err(|e| call_error(account, operation, resource, e))
    }
}

/// A builder's error (a required field was not set), which would be a bug here.
pub(crate) fn build_error(
    account: &str,
    what: &str,
    err: impl std::fmt::Display,
) -> ProvisionError {
    ProvisionError::Refused {
        account: account.to_owned(),
        resource: what.to_owned(),
        problem: format!("cannot build the request: {err}"),
    }
}

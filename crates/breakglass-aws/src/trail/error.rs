//! Why a trail reader failed: each error names the bucket, key, queue or log group, and
//! says what to check.

/// A trail reader's failure.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// Listing the bucket failed.
    #[error(
        "cannot list `s3://{bucket}/{prefix}`: {message}; the reader needs s3:ListBucket on the bucket (check `--role-arn` and the region)"
    )]
    List {
        /// The bucket.
        bucket: String,
        /// The prefix listed.
        prefix: String,
        /// The SDK's account of it.
        message: String,
    },
    /// Fetching an object failed.
    #[error(
        "cannot read `s3://{bucket}/{key}`: {message}; the reader needs s3:GetObject on the bucket (and kms:Decrypt when it is encrypted with a customer key)"
    )]
    Get {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// The SDK's account of it.
        message: String,
    },
    /// A queue operation failed.
    #[error("cannot {operation} on queue `{queue}`: {message}")]
    Queue {
        /// `sqs:ReceiveMessage`, `sqs:DeleteMessageBatch`, ...
        operation: &'static str,
        /// The queue URL or name.
        queue: String,
        /// The SDK's account of it.
        message: String,
    },
    /// Reading the log group failed.
    #[error(
        "cannot read log group `{group}`: {message}; the reader needs logs:FilterLogEvents on it"
    )]
    Logs {
        /// The log group.
        group: String,
        /// The SDK's account of it.
        message: String,
    },
    /// The blocking reader of an object could not run.
    #[error("reading `s3://{bucket}/{key}` stopped: {message}")]
    Blocking {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
        /// Why.
        message: String,
    },
}

/// The SDK's whole account of an error, on one line.
pub(super) fn sdk_message<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
{
    crate::sdk::explain(e).summary
}

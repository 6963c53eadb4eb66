//! Reading CloudTrail from where the organisation's trail really delivers it: the trail's
//! S3 bucket ([`TrailBucket`]), an SQS queue fed by EventBridge ([`TrailQueue`]) and a
//! CloudWatch Logs group ([`TrailLogGroup`]).
//!
//! These are readers only: they list, fetch and hand back bodies; what the events mean is
//! breakglass-trail's (`breakglass_trail::read` reads every body these return: S3 objects,
//! EventBridge envelopes, log messages), and where each reader got to (its cursor) is kept
//! by the caller, which advances it only after it has committed what it read. Credentials
//! are the SDK's default chain or an assumed reader role ([`reader_config`]).
//!
//! Memory is bounded whatever the object sizes: an object's body is streamed
//! ([`TrailBucket::open`] gives a blocking `Read` over the HTTP body, pulled as it is read),
//! never buffered whole.

mod bucket;
mod error;
mod logs;
mod queue;

pub use crate::sdk::reader_config;
pub use bucket::{IN_MEMORY_MAX, ObjectReader, ObjectRef, Partition, TrailBucket, is_trail_key};
pub use error::TrailError;
pub use logs::{LogCursor, TrailLogGroup};
pub use queue::{QueueMessage, TrailQueue};

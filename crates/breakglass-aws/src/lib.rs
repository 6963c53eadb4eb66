//! Adapters from the breakglass ports to the AWS SDK for Rust.
//!
//! Architecture invariant: only this crate knows the AWS SDK, and it holds no domain logic:
//! it translates port calls into API calls and API errors into port errors. What to create,
//! change or delete is decided by breakglass-config (`diff`); [`provision`] only reads
//! accounts into that vocabulary and carries the decided changes out.
//!
//! Organised by concern: [`sdk`] builds the one shared SDK configuration and reaches other
//! accounts; [`provision`] converges accounts to a config (`breakglass apply`); [`cloud`]
//! implements the core's `Cloud` port (STS `AssumeRole`, the revocation policies, console
//! sign-in through the federation endpoint); [`sns`] publishes notifications to SNS;
//! [`anchor`] anchors the audit chain in S3 under Object Lock; [`preflight`] reads every
//! account for a drill and reports what would break an incident response there; [`trail`]
//! reads CloudTrail where the organisation's trail delivers it (S3, SQS, CloudWatch Logs).

pub mod anchor;
pub mod cloud;
mod federation;
pub mod organization;
pub mod preflight;
pub mod provision;
pub mod sdk;
pub mod sns;
pub mod trail;

pub use cloud::{AccountRoles, AwsCloud, FederationOptions};

//! Why a use case failed. Messages say what happened and what to do next; they never
//! contain secrets. Adapters map each variant to their own vocabulary (an HTTP status and
//! stable code, an exit code) without looking inside.

use time::OffsetDateTime;

use crate::broker::BrokerError;
use crate::cloud::CloudError;
use crate::issuance::IssuanceError;
use crate::model::{RequestId, Username};
use crate::ports::StoreError;
use crate::revocation::RevocationError;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker refused or failed (not found, wrong state, rules, store).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The input is malformed (an id that does not parse, ...): what and why.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (e.g. an administrator's use case).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing by that name that the caller may see. A request the caller may not read is
    /// reported this way, so request ids do not leak who asked for what.
    #[error("{0}")]
    NotFound(String),
    /// The action needs a fresh step-up and none was given: what and how.
    #[error("{0}")]
    StepUpRequired(String),
    /// The step-up's TOTP code (or passkey answer) was spent by a concurrent step-up
    /// (audited as a replay).
    #[error(
        "the TOTP code or passkey answer was already used; wait for the next code (or answer the passkey again) and retry"
    )]
    StepUpReplayed,
    /// No credentials can be issued for the request now.
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    /// Someone other than the requester asked for the grant's credentials.
    #[error("only `{requester}` may use the grant of request `{request}`, not `{actor}`")]
    NotRequester {
        /// The request.
        request: RequestId,
        /// Its requester.
        requester: Username,
        /// Who asked.
        actor: Username,
    },
    /// AWS refused or failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The AWS console cannot be opened from here (checked before anything was minted).
    #[error(
        "the AWS console cannot be opened: {0}. No credentials were minted; for API access use `breakglass exec --grant GRANT -- COMMAND` or `breakglass creds --grant GRANT`"
    )]
    SignInUnreachable(String),
    /// This broker was not given what the use case needs (e.g. the action catalog): what
    /// and how to give it.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revocation policy cannot be written.
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    /// STS issued credentials that would outlive the grant (its clock is ahead of ours by
    /// more than the allowance); they were discarded.
    #[error(
        "STS issued credentials for request `{request}` expiring at {expiration}, after the grant's end {end}; they were discarded (check the broker's clock)"
    )]
    OutlivesGrant {
        /// The request.
        request: RequestId,
        /// STS's expiry.
        expiration: OffsetDateTime,
        /// The grant's end.
        end: OffsetDateTime,
    },
    /// A revocation policy read back after it was written is not what was written (or is
    /// still there after it was deleted): the write did not hold.
    #[error(
        "the `{policy}` policy read back from role `{role}` is not the one just written; the cut-off is not in force"
    )]
    CutOffUnverified {
        /// The role.
        role: crate::model::RoleArn,
        /// The inline policy.
        policy: &'static str,
    },
    /// The organisation policy read back after a write is not the one written.
    #[error(
        "the organisation policy `{}` read back is not the one just written; revoked responders are not denied across the organisation",
        crate::revocation::ORGANIZATION_POLICY
    )]
    OrganizationPolicyUnverified,
    /// The revocation was committed (no credentials will be minted again) but its live
    /// sessions could not be denied yet; the worker retries from the stored entry when
    /// there is one.
    #[error(
        "request `{request}` is revoked and will not mint credentials again, but its live sessions could not be cut off yet: {source}"
    )]
    CutOffIncomplete {
        /// The request.
        request: RequestId,
        /// What failed.
        source: Box<Error>,
    },
}

/// A use case that needed a step-up the adapter checked: either the step-up's own refusal
/// (`E`, the authenticator's error, returned as it was) or the use case's.
#[derive(Debug, thiserror::Error)]
pub enum StepUpOr<E> {
    /// The step-up was refused.
    #[error(transparent)]
    StepUp(E),
    /// The use case failed.
    #[error(transparent)]
    App(#[from] Error),
}

//! Why a transition was refused.
//!
//! Each variant says what was attempted and what stood in the way, in words a responder or
//! approver can act on. [`TransitionError::refusal`] tells the broker which of them are
//! security-relevant refusals that belong in the audit log.

use time::{Duration, OffsetDateTime};

use crate::canonical::{CanonicalError, Sha256Digest};
use crate::model::{AccountId, PlaybookId, RequestId, RoleName, Username};
use crate::rules::{Action, Decision};

/// Why a command could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The rules do not permit it.
    #[error("`{principal}` may not {action} playbook `{playbook}`: {decision}")]
    NotAllowed {
        principal: Username,
        action: Action,
        playbook: PlaybookId,
        decision: Decision,
    },
    /// A requester tried to approve (or deny) their own request.
    #[error("`{0}` cannot approve or deny their own request")]
    SelfApproval(Username),
    /// A requester tried to review their own break-glass use.
    #[error("`{0}` cannot review their own break-glass use")]
    SelfReview(Username),
    /// Only the requester may do this.
    #[error("only the requester `{requester}` may {what}, not `{actor}`")]
    NotRequester {
        actor: Username,
        requester: Username,
        what: &'static str,
    },
    /// The same person approved this exact request already.
    #[error("`{0}` has already approved this request; a quorum needs distinct approvers")]
    AlreadyApproved(Username),
    /// The approval names another version of the request.
    #[error(
        "the approval is for digest `{approved}` but the request is now `{current}`: it changed since it was reviewed, so review it again"
    )]
    StaleDigest {
        approved: Sha256Digest,
        current: Sha256Digest,
    },
    /// The request is not in a state that allows the command.
    #[error("request `{request}` is {state}; {needed}")]
    WrongState {
        request: RequestId,
        state: &'static str,
        needed: &'static str,
    },
    /// The request waited too long for approvers.
    #[error("request `{request}` timed out at {until}; submit a new request")]
    PendingTimedOut {
        request: RequestId,
        until: OffsetDateTime,
    },
    /// The approved request was not activated in time.
    #[error("request `{request}` had to be activated by {until}; submit a new request")]
    ActivationWindowLapsed {
        request: RequestId,
        until: OffsetDateTime,
    },
    /// The grant already ended.
    #[error("grant of request `{request}` ended at {end}")]
    GrantEnded {
        request: RequestId,
        end: OffsetDateTime,
    },
    /// A timeout or expiry was applied before its deadline.
    #[error("request `{request}` is not due until {due}")]
    NotDue {
        request: RequestId,
        due: OffsetDateTime,
    },
    /// Break-glass activation without a verified MFA step-up.
    #[error("break-glass activation requires a verified MFA step-up")]
    MfaRequired,
    /// The playbook needs a passkey for this step-up and another factor was given.
    #[error(
        "playbook `{playbook}` requires a passkey to {action}: a TOTP code is not enough; use your passkey (the console's \"Use passkey\" button; enrol one on your account page first)"
    )]
    PasskeyRequired {
        /// The playbook.
        playbook: PlaybookId,
        /// What the step-up was for.
        action: Action,
    },
    /// Break-glass activation of a playbook that does not allow it.
    #[error("playbook `{0}` does not allow break-glass activation")]
    NotBreakGlassPlaybook(PlaybookId),
    /// Break-glass grants are not extended: activate again (and be reviewed again).
    #[error("break-glass grants cannot be extended; activate break-glass again if still needed")]
    BreakGlassNotExtensible,
    /// The playbook is not in the catalog.
    #[error("unknown playbook `{0}`")]
    UnknownPlaybook(PlaybookId),
    /// The user is not a configured responder.
    #[error("unknown responder `{0}`")]
    UnknownResponder(Username),
    /// The playbook does not grant this role.
    #[error("playbook `{playbook}` does not grant role `{role}`")]
    RoleNotInPlaybook {
        playbook: PlaybookId,
        role: RoleName,
    },
    /// The playbook may not be used in this account.
    #[error("playbook `{playbook}` may not be used in account `{account}`")]
    AccountNotInPlaybook {
        playbook: PlaybookId,
        account: AccountId,
    },
    /// The role is not deployed in this account.
    #[error("role `{role}` is not deployed in account `{account}`")]
    RoleNotDeployed { role: RoleName, account: AccountId },
    /// The requested duration is out of bounds.
    #[error("duration of {requested} is out of bounds: {bound}")]
    BadDuration { requested: Duration, bound: String },
    /// Not enough approvers exist for the quorum.
    #[error(
        "playbook `{playbook}` needs {required} distinct approvers other than `{requester}` but only {available} are configured"
    )]
    QuorumUnreachable {
        playbook: PlaybookId,
        requester: Username,
        required: u32,
        available: usize,
    },
    /// An extension is already waiting for approvers.
    #[error("an extension of request `{0}` is already waiting for approvers")]
    ExtensionPending(RequestId),
    /// There is no extension to approve or deny.
    #[error("request `{0}` has no extension waiting for approvers")]
    NoPendingExtension(RequestId),
    /// Review of a request that needs none.
    #[error("request `{0}` needs no review: only break-glass use is reviewed")]
    ReviewNotRequired(RequestId),
    /// The review is already signed off.
    #[error("request `{0}` was already reviewed")]
    AlreadyReviewed(RequestId),
    /// The grant is still live.
    #[error("request `{0}` is still active; review it once the grant has ended or been revoked")]
    ReviewTooEarly(RequestId),
    /// A text or id field is malformed.
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        field: &'static str,
        problem: String,
    },
    /// The requester's narrowed session policy was refused.
    #[error(transparent)]
    SessionPolicy(#[from] super::narrow::NarrowError),
    /// A broken internal invariant or an unhashable value (a bug, reported rather than
    /// panicking).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<CanonicalError> for TransitionError {
    fn from(e: CanonicalError) -> Self {
        Self::Internal(format!("cannot compute a digest: {e}"))
    }
}

impl TransitionError {
    /// A stable snake_case code for the error (for APIs and test corpora).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "not_allowed",
            Self::SelfApproval(_) => "self_approval",
            Self::SelfReview(_) => "self_review",
            Self::NotRequester { .. } => "not_requester",
            Self::AlreadyApproved(_) => "already_approved",
            Self::StaleDigest { .. } => "stale_digest",
            Self::WrongState { .. } => "wrong_state",
            Self::PendingTimedOut { .. } => "pending_timed_out",
            Self::ActivationWindowLapsed { .. } => "activation_window_lapsed",
            Self::GrantEnded { .. } => "grant_ended",
            Self::NotDue { .. } => "not_due",
            Self::MfaRequired => "mfa_required",
            Self::PasskeyRequired { .. } => "passkey_required",
            Self::NotBreakGlassPlaybook(_) => "not_break_glass_playbook",
            Self::BreakGlassNotExtensible => "break_glass_not_extensible",
            Self::UnknownPlaybook(_) => "unknown_playbook",
            Self::UnknownResponder(_) => "unknown_responder",
            Self::RoleNotInPlaybook { .. } => "role_not_in_playbook",
            Self::AccountNotInPlaybook { .. } => "account_not_in_playbook",
            Self::RoleNotDeployed { .. } => "role_not_deployed",
            Self::BadDuration { .. } => "bad_duration",
            Self::QuorumUnreachable { .. } => "quorum_unreachable",
            Self::ExtensionPending(_) => "extension_pending",
            Self::NoPendingExtension(_) => "no_pending_extension",
            Self::ReviewNotRequired(_) => "review_not_required",
            Self::AlreadyReviewed(_) => "already_reviewed",
            Self::ReviewTooEarly(_) => "review_too_early",
            Self::InvalidInput { .. } => "invalid_input",
            Self::SessionPolicy(e) => e.code(),
            Self::Internal(_) => "internal",
        }
    }

    /// For security-relevant refusals (the rules or an invariant said no), the action that
    /// was refused; `None` for ordinary errors (bad input, wrong state, not yet due).
    pub fn refusal(&self) -> Option<Action> {
        match self {
            Self::NotAllowed { action, .. } => Some(*action),
            Self::SelfApproval(_) | Self::AlreadyApproved(_) | Self::StaleDigest { .. } => {
                Some(Action::Approve)
            }
            Self::SelfReview(_) => Some(Action::Review),
            // Asking for more than the playbook allows is a refusal worth recording.
            Self::SessionPolicy(super::narrow::NarrowError::Widens { .. }) => Some(Action::Request),
            Self::PasskeyRequired { action, .. } => Some(*action),
            Self::MfaRequired | Self::NotBreakGlassPlaybook(_) => Some(Action::ActivateBreakGlass),
            _ => None,
        }
    }
}

//! The broker's HTTP wire contract, defined once: every JSON request body, query string and
//! response body of the API as a type ([`body`], [`reply`]), and the OpenAPI document built
//! from those types and the route list ([`openapi`]).
//!
//! The server serializes these types and the CLI client deserializes them (and the other way
//! round for request bodies), so the two cannot drift apart, and `/openapi.json` describes
//! exactly what is on the wire. Pure: no I/O, no runtime.

pub mod body;
pub mod openapi;
pub mod reply;

pub use body::{
    AcceptInvitationBody, AddUserBody, AmendBody, ApproveBody, AuditQuery, ConfirmBody,
    ConsoleBody, CreateBody, CredentialsBody, EnrollBody, ExtendBody, ListQuery, LoginBody,
    PasskeyAnswer, PasskeyChallengeBody, PasskeyEnrollBody, PasskeyRegisterBody, PasskeySignInBody,
    PasskeySignInFinishBody, PasswordBody, ReasonBody, ReviewBody, RevokeAllBody, SsoDeviceBody,
    SsoTokenBody, StepUpBody, TokenBody,
};
pub use openapi::{RouteDoc, document, route_docs};
pub use reply::{
    AccountChangedView, AuditEntryView, AuditRecords, AuditVerify, ConsoleUrl, Credentials,
    ErrorBody, ErrorDetail, Health, InvitationAccepted, Me, NewToken, NewUser, OfferTarget,
    PasskeyAdded, PasskeyChallenge, PasskeyList, PasskeyView, PlaybookList, PlaybookOffer,
    RequestList, RequestView, Revoked, RevokedAll, RevokedToken, SsoDeviceStart, SsoTokenReply,
    TokenList, TokenView, TotpEnrolment, UserList, UserView,
};

/// What `{:?}` shows in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// The stable error codes of [`ErrorDetail::code`].
pub const ERROR_CODES: &[&str] = &[
    "bad_request",
    "unauthenticated",
    "token_expired",
    "bad_credentials",
    "rate_limited",
    "totp_invalid",
    "totp_missing",
    "second_factor_required",
    "account_disabled",
    "local_accounts_off",
    "sso_refused",
    "sso_failed",
    "sso_not_configured",
    "totp_locked",
    "totp_not_enrolled",
    "step_up_required",
    "forbidden",
    "forbidden_origin",
    "self_approval",
    "not_allowed",
    "mfa_required",
    "passkey_required",
    "passkey_invalid",
    "passkey_not_enrolled",
    "passkeys_not_configured",
    "duration_out_of_bounds",
    "stale_digest",
    "session_policy_widens",
    "invalid_session_policy",
    "narrowing_unavailable",
    "not_configured",
    "already_approved",
    "wrong_state",
    "invalid_request",
    "not_found",
    "exists",
    "not_issuable",
    "aws_limit",
    "aws_failed",
    "cut_off_pending",
    "revoke_incomplete",
    "audit_chain_broken",
    "busy",
    "payload_too_large",
    "unsupported_media_type",
    "unavailable",
    "internal",
];

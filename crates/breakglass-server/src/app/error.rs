//! The one error type of the API: a status, a stable code and a message, rendered as
//! `{"error":{"code":"...","message":"..."}}`. Server faults are logged with a correlation
//! id and shown to the client only as that id: the request id of the call
//! ([`crate::trace`]), so the body, the `x-request-id` header and the log line agree.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use breakglass_core::broker::BrokerError;
use breakglass_core::cloud::CloudError;
use breakglass_core::request::TransitionError;
use serde_json::json;

use breakglass_core::app::{Error, StepUpOr};
use breakglass_core::ports::StoreError;

use crate::auth::AuthError;
use crate::auth::oidc::OidcError;

/// An API error.
#[derive(Debug)]
pub struct AppError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, documented code.
    pub code: &'static str,
    /// What went wrong and what to do, safe to show.
    pub message: String,
}

impl AppError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with code `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A store failure as the client sees it: unavailable, with a correlation id.
    pub fn unavailable(e: &StoreError) -> Self {
        Self::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e)
    }

    /// A server fault: the detail is logged under the call's request id (a fresh id outside
    /// a call), the client gets only the id.
    pub fn internal(
        status: StatusCode,
        code: &'static str,
        detail: &dyn std::fmt::Display,
    ) -> Self {
        let id = crate::trace::current_request_id().unwrap_or_else(crate::trace::fresh_id);
        tracing::error!(correlation_id = %id, code, status = status.as_u16(), %detail, "server fault");
        Self::new(
            status,
            code,
            format!(
                "the broker could not complete the request; quote correlation id {id} to its operator"
            ),
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

fn transition(e: &TransitionError) -> (StatusCode, &'static str) {
    use TransitionError as T;
    match e {
        T::SelfApproval(_) | T::SelfReview(_) => (StatusCode::FORBIDDEN, "self_approval"),
        T::NotAllowed { .. } | T::NotRequester { .. } => (StatusCode::FORBIDDEN, "not_allowed"),
        T::MfaRequired => (StatusCode::FORBIDDEN, "mfa_required"),
        T::PasskeyRequired { .. } => (StatusCode::FORBIDDEN, "passkey_required"),
        T::BadDuration { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "duration_out_of_bounds"),
        T::StaleDigest { .. } => (StatusCode::CONFLICT, "stale_digest"),
        T::AlreadyApproved(_) => (StatusCode::CONFLICT, "already_approved"),
        T::WrongState { .. }
        | T::PendingTimedOut { .. }
        | T::ActivationWindowLapsed { .. }
        | T::GrantEnded { .. }
        | T::NotDue { .. }
        | T::ExtensionPending(_)
        | T::NoPendingExtension(_)
        | T::ReviewNotRequired(_)
        | T::AlreadyReviewed(_)
        | T::ReviewTooEarly(_)
        | T::BreakGlassNotExtensible => (StatusCode::CONFLICT, "wrong_state"),
        T::UnknownPlaybook(_)
        | T::UnknownResponder(_)
        | T::RoleNotInPlaybook { .. }
        | T::AccountNotInPlaybook { .. }
        | T::RoleNotDeployed { .. }
        | T::NotBreakGlassPlaybook(_)
        | T::QuorumUnreachable { .. }
        | T::InvalidInput { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        T::SessionPolicy(n) => (StatusCode::UNPROCESSABLE_ENTITY, n.code()),
        T::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<BrokerError> for AppError {
    fn from(e: BrokerError) -> Self {
        match &e {
            BrokerError::Refused(t) => {
                let (status, code) = transition(t);
                if status.is_server_error() {
                    return Self::internal(status, code, &e);
                }
                Self::new(status, code, e.to_string())
            }
            BrokerError::NotFound(_) => Self::not_found(e.to_string()),
            BrokerError::Busy(_) => Self::new(StatusCode::CONFLICT, "busy", e.to_string()),
            BrokerError::Store(_) => {
                Self::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e)
            }
        }
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        let (status, code) = match &e {
            AuthError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            AuthError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AuthError::TotpLocked(_) => (StatusCode::TOO_MANY_REQUESTS, "totp_locked"),
            AuthError::BadToken => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AuthError::TokenExpired(_) => (StatusCode::UNAUTHORIZED, "token_expired"),
            AuthError::BadTotp => (StatusCode::FORBIDDEN, "totp_invalid"),
            AuthError::NoTotp(_) => (StatusCode::FORBIDDEN, "totp_not_enrolled"),
            AuthError::TotpMissing => (StatusCode::BAD_REQUEST, "totp_missing"),
            AuthError::TotpRequired(_) => (StatusCode::UNAUTHORIZED, "second_factor_required"),
            AuthError::EnrolFirst(_) => (StatusCode::FORBIDDEN, "second_factor_required"),
            AuthError::Disabled(_) => (StatusCode::UNAUTHORIZED, "account_disabled"),
            AuthError::ChatUnlinked(_) => (StatusCode::FORBIDDEN, "chat_unlinked"),
            AuthError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AuthError::LocalOff => (StatusCode::FORBIDDEN, "local_accounts_off"),
            AuthError::SsoRefused(_) => (StatusCode::FORBIDDEN, "sso_refused"),
            AuthError::Invalid(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AuthError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AuthError::Exists(_) => (StatusCode::CONFLICT, "exists"),
            AuthError::PasskeysOff => (StatusCode::NOT_FOUND, "passkeys_not_configured"),
            AuthError::BadPasskey(_) => (StatusCode::FORBIDDEN, "passkey_invalid"),
            AuthError::NoPasskey(_) => (StatusCode::FORBIDDEN, "passkey_not_enrolled"),
            AuthError::PasskeyRequired(_) => (StatusCode::UNAUTHORIZED, "second_factor_required"),
            AuthError::Store(_) | AuthError::Seal(_) => {
                return Self::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e);
            }
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        match e {
            Error::Broker(b) => b.into(),
            Error::Invalid(_) => Self::bad_request(e.to_string()),
            Error::Forbidden(_) | Error::NotRequester { .. } => Self::forbidden(e.to_string()),
            Error::NotFound(_) => Self::not_found(e.to_string()),
            Error::StepUpReplayed => {
                Self::new(StatusCode::FORBIDDEN, "totp_invalid", e.to_string())
            }
            Error::StepUpRequired(_) => {
                Self::new(StatusCode::FORBIDDEN, "step_up_required", e.to_string())
            }
            Error::Issuance(_) => Self::new(StatusCode::CONFLICT, "not_issuable", e.to_string()),
            // A limit broken: the adapter's own check before a call, or AWS's refusal in its
            // own words (which name accounts, roles and policies). Either way the text goes
            // to the log only; the client gets the code and the correlation id.
            Error::Cloud(CloudError::Invalid(_)) => {
                Self::internal(StatusCode::UNPROCESSABLE_ENTITY, "aws_limit", &e)
            }
            // AWS's own words name accounts, roles and policies: they go to the log only.
            Error::Cloud(_)
            | Error::OutlivesGrant { .. }
            | Error::CutOffUnverified { .. }
            | Error::OrganizationPolicyUnverified => {
                Self::internal(StatusCode::BAD_GATEWAY, "aws_failed", &e)
            }
            // Says why and what to use instead; names no account and holds no secret.
            Error::SignInUnreachable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sign_in_unreachable",
                e.to_string(),
            ),
            // Says what the broker lacks and how to start it with it.
            Error::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_configured",
                e.to_string(),
            ),
            Error::CutOffIncomplete { .. } => {
                Self::new(StatusCode::ACCEPTED, "cut_off_pending", e.to_string())
            }
            Error::Store(_) | Error::Revocation(_) => {
                Self::internal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e)
            }
        }
    }
}

impl From<StepUpOr<AuthError>> for AppError {
    fn from(e: StepUpOr<AuthError>) -> Self {
        match e {
            StepUpOr::StepUp(a) => a.into(),
            StepUpOr::App(a) => a.into(),
        }
    }
}

impl From<OidcError> for AppError {
    fn from(e: OidcError) -> Self {
        let status = match &e {
            OidcError::Unreachable(_) => StatusCode::BAD_GATEWAY,
            OidcError::Provider(_) | OidcError::BadIdToken(_) => StatusCode::UNAUTHORIZED,
            OidcError::Replayed | OidcError::BadState(_) => StatusCode::BAD_REQUEST,
            OidcError::NoDeviceFlow => {
                return Self::new(StatusCode::NOT_FOUND, "sso_not_configured", e.to_string());
            }
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, "sign-in through the identity provider failed");
        }
        Self::new(status, "sso_failed", e.to_string())
    }
}

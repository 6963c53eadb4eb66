//! What clients send: the JSON request bodies and the query strings of the API.
//!
//! The server parses an empty body as `{}`, so a body whose fields all have defaults may be
//! left out. Bodies refuse unknown fields (a misspelt field is an error, not ignored); query
//! strings do not. A body carrying a secret (a password, a TOTP code) shows it as
//! `<redacted>` under `{:?}`.

use std::fmt;

use breakglass_core::request::ReviewOutcome;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::REDACTED;

fn redacted(secret: Option<&String>) -> Option<&'static str> {
    secret.map(|_| REDACTED)
}

/// A passkey's answer to a WebAuthn ceremony the broker started (`POST
/// /api/v1/passkeys/challenge`, or the sign-in and enrolment starts): the ceremony's id and
/// the browser's `PublicKeyCredential`, with its binary fields in base64url. It proves
/// possession of the passkey for the one purpose the ceremony was started for, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    /// The ceremony id the broker returned with the challenge.
    pub ceremony: String,
    /// The `PublicKeyCredential` the browser returned, as JSON.
    #[schemars(with = "PublicKeyCredentialDoc")]
    pub credential: serde_json::Value,
}

impl Eq for PasskeyAnswer {}

/// The documented shape of a WebAuthn `PublicKeyCredential` as JSON (binary fields in
/// base64url): for the OpenAPI document only; the WebAuthn library reads the value.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "a schema, never built")]
pub(crate) struct PublicKeyCredentialDoc {
    /// The credential id.
    id: String,
    /// The credential id again, base64url.
    #[serde(rename = "rawId")]
    raw_id: String,
    /// `public-key`.
    #[serde(rename = "type")]
    kind: String,
    /// The authenticator's response.
    response: AuthenticatorResponseDoc,
}

/// The `response` of a [`PublicKeyCredentialDoc`]: an attestation (enrolment) or an
/// assertion (sign-in, step-up).
#[derive(JsonSchema)]
#[expect(dead_code, reason = "a schema, never built")]
pub(crate) struct AuthenticatorResponseDoc {
    /// The client data the browser signed over (origin, challenge), base64url.
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    /// An enrolment's attestation object, base64url.
    #[serde(rename = "attestationObject")]
    attestation_object: Option<String>,
    /// An assertion's authenticator data, base64url.
    #[serde(rename = "authenticatorData")]
    authenticator_data: Option<String>,
    /// An assertion's signature, base64url.
    signature: Option<String>,
    /// An assertion's user handle, base64url.
    #[serde(rename = "userHandle")]
    user_handle: Option<String>,
}

/// `POST /api/v1/login/sso/device`: start signing in through the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoDeviceBody {
    /// A name for the token the sign-in mints (default `sso device`), 1 to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

/// `POST /api/v1/login/sso/token`: one poll of a device sign-in started with
/// `POST /api/v1/login/sso/device`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoTokenBody {
    /// The `handle` the device sign-in's start returned (opaque; it wraps the identity
    /// provider's device code, encrypted).
    pub handle: String,
}

impl fmt::Debug for SsoTokenBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoTokenBody")
            .field("handle", &REDACTED)
            .finish()
    }
}

/// `POST /api/v1/login`: sign in with a password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
    /// A current code from the user's TOTP authenticator: required once one is enrolled
    /// (`second_factor_required` without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// A name for the token minted (default `cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// The token's lifetime in hours (default 12, at most 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hours: Option<i64>,
}

impl fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("totp", &redacted(self.totp.as_ref()))
            .field("token_name", &self.token_name)
            .field("ttl_hours", &self.ttl_hours)
            .finish()
    }
}

/// `POST /api/v1/users`: create a local user with a one-time invitation to set their own
/// password (administrators only, with a step-up; the administrator never chooses it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUserBody {
    /// The new user's name.
    pub username: String,
    /// Whether they administer the broker.
    #[serde(default)]
    pub admin: bool,
    /// A current code from your TOTP authenticator (an administrator's step-up).
    #[serde(default)]
    pub totp: String,
}

impl fmt::Debug for AddUserBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddUserBody")
            .field("username", &self.username)
            .field("admin", &self.admin)
            .field("totp", &REDACTED)
            .finish()
    }
}

/// `POST /api/v1/invitations/accept`: set the password of an invited account (no token:
/// the invitation is the credential, and it works once).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationBody {
    /// The invitation (`bgi_…`, the last segment of the link).
    pub invitation: String,
    /// The password to set (at least 12 characters).
    pub password: String,
}

impl fmt::Debug for AcceptInvitationBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptInvitationBody")
            .field("invitation", &REDACTED)
            .field("password", &REDACTED)
            .finish()
    }
}

/// `POST /api/v1/tokens`: mint another API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for.
    pub name: String,
    /// Its lifetime in hours (default 12; never beyond the calling token's expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hours: Option<i64>,
}

/// `POST /api/v1/totp/enroll`: enrol (or replace) a TOTP authenticator.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    /// Your password: needed to enrol your first authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A current code of the enrolled authenticator, needed to replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_code: Option<String>,
    /// Instead of `current_code`: a passkey's answer to a ceremony started for `replace the
    /// TOTP authenticator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for EnrollBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollBody")
            .field("password", &redacted(self.password.as_ref()))
            .field("current_code", &redacted(self.current_code.as_ref()))
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/passkeys/enroll`: start enrolling a passkey (the password again; a user
/// with a second factor already also needs a token that passed it, and a step-up from it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyEnrollBody {
    /// Your password.
    pub password: String,
    /// A current code of your TOTP authenticator: needed when you have a second factor
    /// already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_code: Option<String>,
    /// Instead of `current_code`: a passkey's answer to a ceremony started for `add a
    /// passkey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for PasskeyEnrollBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyEnrollBody")
            .field("password", &REDACTED)
            .field("current_code", &redacted(self.current_code.as_ref()))
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/passkeys`: finish enrolling a passkey with the browser's answer to the
/// challenge `POST /api/v1/passkeys/enroll` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterBody {
    /// The ceremony id returned with the challenge.
    pub ceremony: String,
    /// A label for the passkey (e.g. `laptop`, `YubiKey 5`).
    pub name: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, binary fields in
    /// base64url.
    #[schemars(with = "PublicKeyCredentialDoc")]
    pub credential: serde_json::Value,
}

/// `POST /api/v1/passkeys/challenge`: a passkey challenge for one step-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyChallengeBody {
    /// What the answer will authorise, exactly as the action checks it: `approve r-…`,
    /// `approve extension r-…`, `break-glass`, `review r-…`, `mint the first credentials of
    /// r-…`, `change password`, `remove passkey ID`, `disable user NAME`, ...
    pub purpose: String,
}

/// `POST /api/v1/login/passkey`: sign in with a password, then a passkey (first half).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInBody {
    /// Your username.
    pub username: String,
    /// Your password.
    pub password: String,
}

impl fmt::Debug for PasskeySignInBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeySignInBody")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

/// `POST /api/v1/login/passkey/finish`: the passkey's answer to the sign-in challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInFinishBody {
    /// The ceremony id returned with the challenge.
    pub ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.get()`.
    #[schemars(with = "PublicKeyCredentialDoc")]
    pub credential: serde_json::Value,
    /// A name for the token (default `cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// Its lifetime in hours (at most 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hours: Option<i64>,
}

/// `POST /api/v1/totp/confirm`: confirm the enrolment started by `POST /api/v1/totp/enroll`
/// with a code from the new authenticator; answers with a new token that passed it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// A current code from the new authenticator.
    pub code: String,
    /// A name for the new token (default `cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

impl fmt::Debug for ConfirmBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmBody")
            .field("code", &REDACTED)
            .field("token_name", &self.token_name)
            .finish()
    }
}

/// `POST /api/v1/password`: change your password (your other tokens are revoked).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The current password.
    pub old_password: String,
    /// The new password (at least 12 characters).
    pub new_password: String,
    /// A current TOTP code (or `passkey`).
    #[serde(default)]
    pub totp: String,
    /// Instead of `totp`: a passkey's answer to a ceremony started for `change password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for PasswordBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordBody")
            .field("old_password", &REDACTED)
            .field("new_password", &REDACTED)
            .field("totp", &REDACTED)
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/users/{name}/disable`, `…/enable`, `…/revoke-tokens` and
/// `…/reset-second-factor`: an administrator's change to an account, with their step-up.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpBody {
    /// A current code from your TOTP authenticator (or `passkey`).
    #[serde(default)]
    pub totp: String,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for StepUpBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepUpBody")
            .field("totp", &REDACTED)
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/requests` (a request for approval) and `POST /api/v1/break-glass` (an
/// emergency activation, which needs `totp`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The playbook asked under.
    pub playbook: String,
    /// The role it grants.
    pub role: String,
    /// The 12-digit account id.
    pub account: String,
    /// For how long, in seconds (at most the playbook's maximum).
    pub duration_seconds: i64,
    /// The incident id.
    pub incident: String,
    /// Why.
    pub justification: String,
    /// A narrowing of the playbook's session policy for this request (JSON text): fewer
    /// actions, named resources, fewer regions. Refused unless proven no wider
    /// (`session_policy_widens`); without it the request carries the playbook's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// A current TOTP code: the step-up of a break-glass activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for CreateBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateBody")
            .field("playbook", &self.playbook)
            .field("role", &self.role)
            .field("account", &self.account)
            .field("duration_seconds", &self.duration_seconds)
            .field("incident", &self.incident)
            .field("justification", &self.justification)
            .field("session_policy", &self.session_policy)
            .field("totp", &redacted(self.totp.as_ref()))
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/requests/{id}/approve` and `POST /api/v1/requests/{id}/extension/approve`:
/// an approval bound to the digest the approver read, with a TOTP step-up.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The digest approved (the request's `digest`, or its pending extension's): 64 hex
    /// digits. Approving a digest that is no longer current is refused (`stale_digest`).
    pub digest: String,
    /// A current code of the approver's authenticator (or `passkey`).
    #[serde(default)]
    pub totp: String,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
    /// A note for the audit log.
    #[serde(default)]
    pub comment: String,
}

impl fmt::Debug for ApproveBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApproveBody")
            .field("digest", &self.digest)
            .field("totp", &REDACTED)
            .field("comment", &self.comment)
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// A reason: denying or withdrawing a request, denying an extension, revoking a grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why (for the audit log and the notifications).
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/v1/requests/{id}/amend`: the requester changes a pending request. Every
/// change moves the request's digest, so approvals given before it stop counting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendBody {
    /// A new total duration, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// A new incident id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// A new justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// A new narrowing of the playbook's session policy (JSON text; empty: the playbook's
    /// own). Refused unless proven no wider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
}

/// `POST /api/v1/requests/{id}/extend`: ask for more time on an active grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// Seconds to add to the grant's current end.
    pub add_seconds: i64,
    /// Why.
    pub justification: String,
}

/// `POST /api/v1/requests/{id}/review`: sign off a break-glass use.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// The verdict.
    pub outcome: ReviewOutcome,
    /// Findings.
    #[serde(default)]
    pub notes: String,
    /// A current code from your TOTP authenticator: signing off a break-glass use is a
    /// step-up action.
    #[serde(default)]
    pub totp: String,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for ReviewBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReviewBody")
            .field("outcome", &self.outcome)
            .field("notes", &self.notes)
            .field("totp", &REDACTED)
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/grants/{id}/credentials`: mint credentials. The first mint of a
/// break-glass grant needs a step-up when the activation's is no longer fresh.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// A current code from your TOTP authenticator, when a step-up is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for CredentialsBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsBody")
            .field("totp", &redacted(self.totp.as_ref()))
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/grants/{id}/console`: a console sign-in URL.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleBody {
    /// Where the console opens (default `https://console.aws.amazon.com/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// A current code from your TOTP authenticator, when a step-up is asked for (as for
    /// credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for ConsoleBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleBody")
            .field("destination", &self.destination)
            .field("totp", &redacted(self.totp.as_ref()))
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `POST /api/v1/game-days`: open a game day (administrators only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartGameDayBody {
    /// What the exercise is (shown in every notification of the game day's requests).
    pub scenario: String,
}

/// `POST /api/v1/roles/revoke-all`: cut off every session of a role (administrators only,
/// with a TOTP step-up).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllBody {
    /// The role's ARN.
    pub role_arn: String,
    /// Why.
    pub reason: String,
    /// A current code from your TOTP authenticator (an administrator's step-up).
    #[serde(default)]
    pub totp: String,
    /// Instead of `totp`: a passkey's answer to a ceremony started for this step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAnswer>,
}

impl fmt::Debug for RevokeAllBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeAllBody")
            .field("role_arn", &self.role_arn)
            .field("reason", &self.reason)
            .field("totp", &REDACTED)
            .field("passkey", &self.passkey.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// The query of `GET /api/v1/requests`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListQuery {
    /// Only these statuses, comma-separated (`pending,approved,active,...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only this requester's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The query of `GET /api/v1/audit` and `GET /api/v1/audit/export`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// Records after this sequence number (not supported by the export, which verifies the
    /// chain from its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// At most this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bodies_refuse_unknown_fields_and_accept_what_the_client_sends() {
        let login: LoginBody = serde_json::from_value(
            json!({"username": "alice", "password": "pw", "token_name": "cli@h", "ttl_hours": 12}),
        )
        .unwrap();
        assert_eq!(login.ttl_hours, Some(12));
        assert!(
            serde_json::from_value::<LoginBody>(json!({"username": "a", "password": "p", "x": 1}))
                .is_err()
        );
        // The digest is required; the step-up is `totp` or `passkey` (a body with neither is
        // refused by the step-up check, `totp_missing`).
        assert!(serde_json::from_value::<ApproveBody>(json!({"totp": "123456"})).is_err());
        assert!(
            serde_json::from_value::<ApproveBody>(
                json!({"digest": "d", "passkey": {"ceremony": "c", "credential": {}}})
            )
            .is_ok()
        );
        let approve: ApproveBody =
            serde_json::from_value(json!({"digest": "d", "totp": "123456"})).unwrap();
        assert_eq!(approve.comment, "");
        // Empty bodies are read as `{}`.
        assert_eq!(
            serde_json::from_str::<ReasonBody>("{}").unwrap(),
            ReasonBody::default()
        );
        assert_eq!(
            serde_json::from_str::<EnrollBody>("{}").unwrap(),
            EnrollBody::default()
        );
        let review: ReviewBody = serde_json::from_value(json!({"outcome": "appropriate"})).unwrap();
        assert_eq!(review.outcome, ReviewOutcome::Appropriate);
        // Queries ignore what they do not know.
        let q: ListQuery = serde_json::from_value(json!({"status": "active", "page": 2})).unwrap();
        assert_eq!(q.status.as_deref(), Some("active"));
    }

    #[test]
    fn a_create_body_is_written_as_the_server_reads_it() {
        let b = CreateBody {
            playbook: "investigate".into(),
            role: "SecurityAnalyst".into(),
            account: "123456789012".into(),
            duration_seconds: 3600,
            incident: "INC-7".into(),
            justification: "why".into(),
            session_policy: None,
            totp: None,
            passkey: None,
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"playbook": "investigate", "role": "SecurityAnalyst", "account": "123456789012", "duration_seconds": 3600, "incident": "INC-7", "justification": "why"})
        );
    }

    #[test]
    fn secrets_in_bodies_never_show_in_debug_output() {
        let shown = [
            format!(
                "{:?}",
                LoginBody {
                    username: "alice".into(),
                    password: "SECRET-PW".into(),
                    totp: Some("SECRET-CODE".into()),
                    token_name: None,
                    ttl_hours: None,
                }
            ),
            format!(
                "{:?}",
                AcceptInvitationBody {
                    invitation: "SECRET-INVITATION".into(),
                    password: "SECRET-PW".into(),
                }
            ),
            format!(
                "{:?}",
                ApproveBody {
                    digest: "d".into(),
                    totp: "SECRET-CODE".into(),
                    comment: String::new(),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                EnrollBody {
                    password: Some("SECRET-PW".into()),
                    current_code: Some("SECRET-CODE".into()),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                ConfirmBody {
                    code: "SECRET-CODE".into(),
                    token_name: None,
                }
            ),
            format!(
                "{:?}",
                PasswordBody {
                    old_password: "SECRET-PW".into(),
                    new_password: "SECRET-NEW".into(),
                    totp: "SECRET-CODE".into(),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                StepUpBody {
                    totp: "SECRET-CODE".into(),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                ReviewBody {
                    outcome: ReviewOutcome::Appropriate,
                    notes: String::new(),
                    totp: "SECRET-CODE".into(),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                CredentialsBody {
                    totp: Some("SECRET-CODE".into()),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                ConsoleBody {
                    destination: None,
                    totp: Some("SECRET-CODE".into()),
                    passkey: None,
                }
            ),
            format!(
                "{:?}",
                CreateBody {
                    playbook: "p".into(),
                    role: "r".into(),
                    account: "a".into(),
                    duration_seconds: 1,
                    incident: "i".into(),
                    justification: "j".into(),
                    session_policy: None,
                    totp: Some("SECRET-CODE".into()),
                    passkey: None,
                }
            ),
        ];
        for s in &shown {
            assert!(!s.contains("SECRET"), "{s}");
            assert!(s.contains(REDACTED), "{s}");
        }
    }
}

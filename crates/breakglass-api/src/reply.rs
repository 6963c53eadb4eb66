//! What the broker answers: the JSON response bodies of the API.
//!
//! Timestamps are RFC 3339 strings. A response carrying a secret (an API token, a TOTP seed,
//! STS keys, a console sign-in URL) keeps it as a plain string on the wire, shown once, and
//! as `<redacted>` under `{:?}`, so logging a response never logs the secret.

use std::borrow::Cow;
use std::fmt;

use breakglass_core::audit::AuditRecord;
use breakglass_core::request::AccessRequest;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ERROR_CODES, REDACTED};

/// Every error: `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    // A stable code: its schema lists them (`ERROR_CODES`).
    #[schemars(schema_with = "error_code_schema")]
    pub code: String,
    /// What went wrong and what to do; a server fault shows only a correlation id.
    pub message: String,
}

fn error_code_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "description": format!("a stable code: {}", ERROR_CODES.join(", ")),
    })
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` (the process answers) or `ready` (the store answers).
    pub status: String,
}

/// A device sign-in through the identity provider, started (`POST /api/v1/login/sso/device`):
/// show the person `verification_uri` and `user_code`, then poll
/// `POST /api/v1/login/sso/token` with `handle` every `interval` seconds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SsoDeviceStart {
    /// The code to type on the identity provider's page.
    pub user_code: String,
    /// The identity provider's page.
    pub verification_uri: String,
    /// The page with the code already filled in, if the provider offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Seconds to wait between polls.
    pub interval: u64,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// What to poll with (opaque, encrypted by the broker; treat it as a secret).
    pub handle: String,
}

impl fmt::Debug for SsoDeviceStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoDeviceStart")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .field("expires_in", &self.expires_in)
            .field("handle", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// One poll of a device sign-in (`POST /api/v1/login/sso/token`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SsoTokenReply {
    /// The person has not finished on the identity provider's page yet: poll again after
    /// `interval` seconds (`slow_down`: the provider asked for slower polling).
    Pending {
        /// Seconds to wait before the next poll.
        interval: u64,
        /// Whether the provider said `slow_down`.
        slow_down: bool,
    },
    /// Signed in: a broker token (shown once, at most 12 hours).
    SignedIn {
        /// The new token.
        token: NewToken,
    },
}

impl fmt::Debug for SsoTokenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pending {
                interval,
                slow_down,
            } => f
                .debug_struct("Pending")
                .field("interval", interval)
                .field("slow_down", slow_down)
                .finish(),
            Self::SignedIn { token } => f.debug_struct("SignedIn").field("token", token).finish(),
        }
    }
}

/// A passkey challenge: `public_key` goes to `navigator.credentials.create({publicKey})` or
/// `.get({publicKey})` (binary fields in base64url), and the answer comes back with
/// `ceremony` within five minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyChallenge {
    /// The ceremony id.
    pub ceremony: String,
    /// The WebAuthn options.
    #[serde(rename = "publicKey")]
    #[schemars(with = "WebAuthnOptionsDoc")]
    pub public_key: serde_json::Value,
}

/// The documented shape of WebAuthn `publicKey` options (creation or request; binary
/// fields in base64url): for the OpenAPI document only.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "a schema, never built")]
pub(crate) struct WebAuthnOptionsDoc {
    /// The challenge, base64url.
    challenge: String,
    /// How long the browser waits, in milliseconds.
    timeout: Option<u64>,
    /// The relying party id (request options).
    #[serde(rename = "rpId")]
    rp_id: Option<String>,
    /// Whether the authenticator must verify the person (`required`, `preferred`).
    #[serde(rename = "userVerification")]
    user_verification: Option<String>,
}

/// One passkey of the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyView {
    /// Its credential id (base64url).
    pub id: String,
    /// Its label.
    pub name: String,
    /// When it was enrolled.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// When it last answered a challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// `GET /api/v1/passkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyList {
    /// The caller's passkeys, oldest first.
    pub passkeys: Vec<PasskeyView>,
}

/// `POST /api/v1/passkeys`: the enrolled passkey, and for a first second factor the new
/// token that passed it (every earlier one was revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyAdded {
    /// The passkey.
    pub passkey: PasskeyView,
    /// The new token, when this was the first second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<NewToken>,
}

/// A new API token (`POST /api/v1/login`, `POST /api/v1/tokens`): the secret is shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewToken {
    /// The token itself (`bgt_…`), for `Authorization: Bearer`. Shown once.
    pub token: String,
    /// Its id (for listing and revoking it).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it stops working.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &REDACTED)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `GET /api/v1/me`: the authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    /// Who.
    pub username: String,
    /// Whether they administer the broker.
    pub admin: bool,
    /// The id of the token used (not the token).
    pub token: String,
    /// Whether that token's sign-in passed a second factor; without one, only enrolling an
    /// authenticator is allowed.
    pub second_factor: bool,
}

/// One user in `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserView {
    /// The username.
    pub username: String,
    /// Whether they administer the broker.
    pub admin: bool,
    /// Whether they have a TOTP authenticator.
    pub totp_enrolled: bool,
    /// Whether an administrator disabled the account.
    pub disabled: bool,
    /// When the user was created.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
}

/// `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserList {
    /// Every user.
    pub users: Vec<UserView>,
}

/// `POST /api/v1/users`: the user created.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewUser {
    /// The username.
    pub username: String,
    /// Whether they administer the broker.
    pub admin: bool,
    /// The one-time link through which they set their password (carries a secret: give it
    /// to them alone; it is not shown again).
    pub invitation_url: String,
    /// When the link stops working.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("admin", &self.admin)
            .field("invitation_url", &REDACTED)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `POST /api/v1/invitations/accept`: the account whose password was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvitationAccepted {
    /// The username, to sign in with.
    pub username: String,
}

/// An account change (`POST /api/v1/users/{id}/disable` and the like, `POST
/// /api/v1/password`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountChangedView {
    /// Whose account.
    pub username: String,
    /// What changed: `disabled`, `enabled`, `tokens_revoked`, `second_factor_reset`,
    /// `password_changed`.
    pub change: String,
    /// After a second-factor reset: the one-time link through which the user sets a new
    /// password (carries a secret: give it to them alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
    /// After disabling: the user's requests that were revoked (their AWS sessions cut off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
}

impl fmt::Debug for AccountChangedView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountChangedView")
            .field("username", &self.username)
            .field("change", &self.change)
            .field(
                "invitation_url",
                &self.invitation_url.as_ref().map(|_| REDACTED),
            )
            .field("revoked", &self.revoked)
            .finish()
    }
}

/// One token in `GET /api/v1/tokens` (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was minted.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// When it stops working.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
    /// When it was revoked (`null` if it was not).
    #[schemars(extend("format" = "date-time"))]
    pub revoked_at: Option<String>,
}

/// `GET /api/v1/tokens`: the caller's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenList {
    /// Every token of the caller's, revoked ones included.
    pub tokens: Vec<TokenView>,
}

/// `DELETE /api/v1/tokens/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokedToken {
    /// The id of the token revoked.
    pub revoked: String,
}

/// `POST /api/v1/totp/enroll`: the new TOTP seed, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TotpEnrolment {
    /// The seed, base32.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code), carrying the seed.
    pub otpauth_uri: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("secret", &REDACTED)
            .field("otpauth_uri", &REDACTED)
            .finish()
    }
}

/// A request as the API shows it: the request itself (its fields at the top level) with its
/// `version` (optimistic concurrency) and `status_name` (its status's state).
///
/// The server borrows the request it serializes (`Cow::Borrowed`); a client owns what it
/// deserializes (`RequestView<'static>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestView<'a> {
    /// The request.
    #[serde(flatten)]
    pub request: Cow<'a, AccessRequest>,
    /// Its stored version.
    pub version: u64,
    /// The name of its status (`pending`, `approved`, `active`, `expired`, `revoked`,
    /// `denied`, `cancelled`, `timed_out`).
    pub status_name: Cow<'a, str>,
}

impl<'a> RequestView<'a> {
    /// The view of `request` at `version`.
    pub fn new(request: &'a AccessRequest, version: u64) -> Self {
        Self {
            request: Cow::Borrowed(request),
            version,
            status_name: Cow::Borrowed(request.status.name()),
        }
    }
}

/// `GET /api/v1/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestList<'a> {
    /// The requests the caller may read, newest first.
    pub requests: Vec<RequestView<'a>>,
}

/// `GET /api/v1/playbooks`: what the caller may ask for, per playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlaybookList {
    /// The playbooks with something the caller may request or activate, in the catalog's
    /// order (by id).
    pub playbooks: Vec<PlaybookOffer>,
}

/// One playbook as the caller may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlaybookOffer {
    /// The playbook's id (`request -p`).
    pub id: String,
    /// Its one-line description.
    pub title: String,
    /// The playbook's longest grant, in seconds.
    pub max_duration_seconds: i64,
    /// How many distinct approvers a request needs (0: approved at once).
    pub required_approvals: u32,
    /// The groups whose members approve.
    pub approver_groups: Vec<String>,
    /// The second factor its step-ups need: `any` (a TOTP code or a passkey) or `passkey`.
    pub step_up: breakglass_core::model::StepUpFactor,
    /// The role copies the caller may ask for.
    pub targets: Vec<OfferTarget>,
}

/// One role in one account, and how long the caller may have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OfferTarget {
    /// The role's name (`request -r`).
    pub role: String,
    /// The account's id.
    pub account_id: String,
    /// The account's name in the config (`request -a` takes either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// The longest grant the caller may request for approval, in seconds (absent: may not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_max_seconds: Option<i64>,
    /// The longest grant the caller may activate as break-glass, in seconds (absent: may
    /// not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass_max_seconds: Option<i64>,
}

/// `POST /api/v1/grants/{id}/revoke`: the request after the revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Revoked<'a> {
    /// The request, revoked.
    #[serde(flatten)]
    pub view: RequestView<'a>,
    /// Whether live sessions were cut off by the role's deny policy (false: none could be
    /// live, or the grant had already ended).
    pub sessions_denied: bool,
}

/// `POST /api/v1/roles/revoke-all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokedAll {
    /// The role.
    pub role_arn: String,
    /// Sessions whose token was issued before this are denied.
    #[schemars(extend("format" = "date-time"))]
    pub cutoff: String,
    /// The requests whose live grants were revoked on the way.
    pub revoked: Vec<String>,
}

/// `POST /api/v1/grants/{id}/credentials`: the AWS CLI's `credential_process` format.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    /// Always 1.
    pub version: u32,
    /// The STS access key id (`ASIA…`).
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When they expire (never after the grant's end).
    #[schemars(extend("format" = "date-time"))]
    pub expiration: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("version", &self.version)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &REDACTED)
            .field("session_token", &REDACTED)
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// `POST /api/v1/grants/{id}/console`: a sign-in URL, valid for 15 minutes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConsoleUrl {
    /// The federation sign-in URL; it carries a sign-in token.
    pub url: String,
}

impl fmt::Debug for ConsoleUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleUrl")
            .field("url", &REDACTED)
            .finish()
    }
}

/// One record in `GET /api/v1/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntryView {
    /// Its place in the chain.
    pub seq: i64,
    /// Its hash, hex.
    pub hash: String,
    /// The record as stored (its canonical JSON, passed on as it is).
    #[schemars(with = "AuditRecord")]
    pub record: serde_json::Value,
}

/// `GET /api/v1/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecords {
    /// Records in chain order.
    pub records: Vec<AuditEntryView>,
}

/// `GET /api/v1/audit/verify`: `{"ok":true,"records","head"}` or `{"ok":false,"problem"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditVerify {
    /// Whether the chain verifies.
    pub ok: bool,
    /// How many records (when it verifies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// The head hash, hex (when it verifies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// What is wrong (when it does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl AuditVerify {
    /// A chain of `records` records ending at `head` verified.
    pub fn verified(records: u64, head: String) -> Self {
        Self {
            ok: true,
            records: Some(records),
            head: Some(head),
            problem: None,
        }
    }

    /// The chain is broken: `problem`.
    pub fn broken(problem: String) -> Self {
        Self {
            ok: false,
            records: None,
            head: None,
            problem: Some(problem),
        }
    }
}

/// What `GET /openapi.json` answers: an OpenAPI 3 document (the parts every document has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenApiDocument {
    /// The OpenAPI version (`3.0.3`).
    pub openapi: String,
    /// The API's title and version.
    pub info: OpenApiInfo,
    /// Every route, by path then method.
    #[schemars(
        with = "std::collections::BTreeMap<String, std::collections::BTreeMap<String, OpenApiOperation>>"
    )]
    pub paths: serde_json::Value,
    /// The schemas and security schemes the paths refer to.
    #[schemars(with = "OpenApiComponents")]
    pub components: serde_json::Value,
}

/// The `info` of an [`OpenApiDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OpenApiInfo {
    /// The API's title.
    pub title: String,
    /// The broker's version.
    pub version: String,
}

/// One operation of an [`OpenApiDocument`] (the fields this API's document sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiOperation {
    /// What it does.
    pub summary: String,
    /// A unique id.
    pub operation_id: String,
}

/// The `components` of an [`OpenApiDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiComponents {
    /// The named schemas, by name.
    pub schemas: std::collections::BTreeMap<String, OpenApiSchemaObject>,
}

/// A JSON Schema object in an [`OpenApiDocument`] (the keywords every one of its named
/// schemas may have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenApiSchemaObject {
    /// `object`, `string`, ...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const DIGEST: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const EXT_DIGEST: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    /// A request as the server stores and serializes it: active, with a pending extension.
    fn stored() -> Value {
        json!({
            "id": "r-1",
            "kind": "standard",
            "spec": {
                "requester": "alice",
                "playbook": "investigate",
                "role": "SecurityAnalyst",
                "account": "123456789012",
                "role_arn": "arn:aws:iam::123456789012:role/incident-response/SecurityAnalyst",
                "session_policy": "{}",
                "duration": 3600,
                "incident": "INC-7",
                "justification": "suspicious logins"
            },
            "digest": DIGEST,
            "required_approvals": 1,
            "approver_groups": ["ir-leads"],
            "created_at": "2026-01-02T03:04:05Z",
            "pending_until": "2026-01-02T04:04:05Z",
            "status": {"state": "active"},
            "approvals": [{
                "approver": "bob",
                "at": "2026-01-02T03:05:00Z",
                "digest": DIGEST,
                "comment": "",
                "decision": {"allowed": true, "policies": [{"id": "approve-investigate"}]}
            }],
            "grant": {
                "id": "g-1",
                "start": "2026-01-02T03:06:00Z",
                "end": "2026-01-02T04:06:00Z",
                "extensions": [],
                "pending_extension": {
                    "requested_at": "2026-01-02T03:30:00Z",
                    "add": 3600,
                    "justification": "still digging",
                    "digest": EXT_DIGEST,
                    "approvals": []
                },
                "issued": [{
                    "at": "2026-01-02T03:07:00.123456Z",
                    "access_key_id": "ASIAEXAMPLE",
                    "session_token_sha256": DIGEST,
                    "expires_at": "2026-01-02T04:06:00Z"
                }]
            },
            "review": null
        })
    }

    fn request() -> AccessRequest {
        serde_json::from_value(stored()).unwrap()
    }

    /// What the server sent before these types: the request's own JSON with `version` and
    /// `status_name` added at the end.
    fn old_view(version: u64) -> Value {
        let mut doc = stored();
        let o = doc.as_object_mut().unwrap();
        o.insert("version".into(), json!(version));
        o.insert("status_name".into(), json!("active"));
        doc
    }

    #[test]
    fn the_stored_sample_is_what_the_domain_serializes() {
        assert_eq!(serde_json::to_value(request()).unwrap(), stored());
    }

    #[test]
    fn a_request_view_is_the_request_flattened_with_version_and_status_name() {
        let r = request();
        let view = RequestView::new(&r, 7);
        let text = serde_json::to_string(&view).unwrap();
        // Same fields, same order as before.
        assert_eq!(text, serde_json::to_string(&old_view(7)).unwrap());
        let back: RequestView<'static> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, view);
        let ext = back
            .request
            .grant
            .as_ref()
            .unwrap()
            .pending_extension
            .as_ref();
        assert_eq!(ext.unwrap().digest.to_hex(), EXT_DIGEST);
    }

    #[test]
    fn a_listing_and_a_revocation_wrap_the_view_as_before() {
        let r = request();
        let list = RequestList {
            requests: vec![RequestView::new(&r, 2)],
        };
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            serde_json::to_string(&json!({"requests": [old_view(2)]})).unwrap()
        );
        let revoked = Revoked {
            view: RequestView::new(&r, 3),
            sessions_denied: true,
        };
        let mut old = old_view(3);
        old.as_object_mut()
            .unwrap()
            .insert("sessions_denied".into(), json!(true));
        let text = serde_json::to_string(&revoked).unwrap();
        assert_eq!(text, serde_json::to_string(&old).unwrap());
        assert_eq!(serde_json::from_str::<Revoked<'_>>(&text).unwrap(), revoked);
    }

    #[test]
    fn responses_keep_the_field_names_and_order_of_the_wire() {
        let cases: Vec<(Value, Value)> = vec![
            (
                serde_json::to_value(Credentials {
                    version: 1,
                    access_key_id: "ASIA1".into(),
                    secret_access_key: "s3cret".into(),
                    session_token: "tok".into(),
                    expiration: "2026-01-02T04:06:00Z".into(),
                })
                .unwrap(),
                json!({"Version": 1, "AccessKeyId": "ASIA1", "SecretAccessKey": "s3cret", "SessionToken": "tok", "Expiration": "2026-01-02T04:06:00Z"}),
            ),
            (
                serde_json::to_value(NewToken {
                    token: "bgt_x".into(),
                    id: "t-1".into(),
                    name: "cli".into(),
                    expires_at: "2026-01-02T04:06:00Z".into(),
                })
                .unwrap(),
                json!({"token": "bgt_x", "id": "t-1", "name": "cli", "expires_at": "2026-01-02T04:06:00Z"}),
            ),
            (
                serde_json::to_value(TokenList {
                    tokens: vec![TokenView {
                        id: "t-1".into(),
                        name: "cli".into(),
                        created_at: "a".into(),
                        expires_at: "b".into(),
                        revoked_at: None,
                    }],
                })
                .unwrap(),
                json!({"tokens": [{"id": "t-1", "name": "cli", "created_at": "a", "expires_at": "b", "revoked_at": null}]}),
            ),
            (
                serde_json::to_value(AuditVerify::verified(3, "ab".into())).unwrap(),
                json!({"ok": true, "records": 3, "head": "ab"}),
            ),
            (
                serde_json::to_value(AuditVerify::broken("gap".into())).unwrap(),
                json!({"ok": false, "problem": "gap"}),
            ),
            (
                serde_json::to_value(ErrorBody {
                    error: ErrorDetail {
                        code: "not_found".into(),
                        message: "no".into(),
                    },
                })
                .unwrap(),
                json!({"error": {"code": "not_found", "message": "no"}}),
            ),
            (
                serde_json::to_value(RevokedAll {
                    role_arn: "arn".into(),
                    cutoff: "c".into(),
                    revoked: vec!["r-1".into()],
                })
                .unwrap(),
                json!({"role_arn": "arn", "cutoff": "c", "revoked": ["r-1"]}),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.to_string(), want.to_string());
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let shown = [
            format!(
                "{:?}",
                Credentials {
                    version: 1,
                    access_key_id: "ASIA1".into(),
                    secret_access_key: "SECRET-KEY".into(),
                    session_token: "SECRET-TOKEN".into(),
                    expiration: "e".into(),
                }
            ),
            format!(
                "{:?}",
                NewToken {
                    token: "SECRET-API".into(),
                    id: "t-1".into(),
                    name: "cli".into(),
                    expires_at: "e".into(),
                }
            ),
            format!(
                "{:?}",
                TotpEnrolment {
                    secret: "SECRET-SEED".into(),
                    otpauth_uri: "otpauth://totp/x?secret=SECRET-SEED".into(),
                }
            ),
            format!(
                "{:?}",
                ConsoleUrl {
                    url: "https://signin.aws.amazon.com/federation?SigninToken=SECRET-SIGNIN"
                        .into(),
                }
            ),
        ];
        for s in &shown {
            assert!(!s.contains("SECRET"), "{s}");
            assert!(s.contains(crate::REDACTED), "{s}");
        }
        assert!(
            shown[0].contains("ASIA1"),
            "non-secrets still show: {}",
            shown[0]
        );
    }
}

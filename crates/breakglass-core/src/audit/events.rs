//! The audit vocabulary: one struct per event, all in this file.
//!
//! Every state change of a request or grant produces one or more of these, and they are
//! appended to the hash chain in the same transaction as the change. Refused attempts
//! (self-approval, break-glass without eligibility, ...) are recorded too, as
//! [`ActionRefused`], because a denied emergency attempt is as interesting to an auditor as
//! a granted one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::canonical::Sha256Digest;
use crate::model::{
    AccountId, GrantId, IncidentId, PlaybookId, RequestId, RequestKind, ReviewOutcome, RoleArn,
    Username,
};
use crate::rules::{Action, Decision};

/// How loudly an event should be announced.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine.
    Info,
    /// Worth a look (denials, refusals, revocations).
    Notice,
    /// Alert every channel (break-glass activation, refused break-glass).
    Critical,
}

impl Severity {
    /// The name, as serialized (`info`, `notice`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Critical => "critical",
        }
    }
}

/// A request was submitted for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestSubmitted {
    pub request: RequestId,
    pub kind: RequestKind,
    pub requester: Username,
    pub playbook: PlaybookId,
    pub role_arn: RoleArn,
    pub account: AccountId,
    pub incident: IncidentId,
    pub duration_seconds: i64,
    pub justification: String,
    /// The requester's narrowed session policy, when they narrowed the playbook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// What the request allows, in one line (when the broker has an action catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allows: Option<String>,
    pub digest: Sha256Digest,
    pub required_approvals: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub pending_until: OffsetDateTime,
    pub decision: Decision,
}

/// The requester changed a pending request; earlier approvals no longer count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestAmended {
    pub request: RequestId,
    pub old_digest: Sha256Digest,
    pub new_digest: Sha256Digest,
    pub duration_seconds: i64,
    pub incident: IncidentId,
    pub justification: String,
    /// The session policy after the amendment, when the amendment changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    pub decision: Decision,
}

/// An approver approved the exact request with this digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApprovalRecorded {
    pub request: RequestId,
    pub approver: Username,
    pub digest: Sha256Digest,
    pub comment: String,
    pub approvals: u32,
    pub required: u32,
    pub decision: Decision,
}

/// A request reached its quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestApproved {
    pub request: RequestId,
    pub digest: Sha256Digest,
    pub approvers: Vec<Username>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub activate_by: OffsetDateTime,
}

/// An approver denied a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestDenied {
    pub request: RequestId,
    pub by: Username,
    pub reason: String,
    pub decision: Decision,
}

/// The requester withdrew a pending request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestCancelled {
    pub request: RequestId,
    pub by: Username,
    pub reason: String,
}

/// A pending request was not decided in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestTimedOut {
    pub request: RequestId,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub pending_until: OffsetDateTime,
}

/// An approved request became a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantActivated {
    pub request: RequestId,
    pub grant: GrantId,
    pub requester: Username,
    pub role_arn: RoleArn,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
}

/// Emergency access was taken without waiting for approvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BreakGlassActivated {
    pub request: RequestId,
    pub grant: GrantId,
    pub requester: Username,
    pub playbook: PlaybookId,
    pub role_arn: RoleArn,
    pub account: AccountId,
    pub incident: IncidentId,
    pub justification: String,
    pub digest: Sha256Digest,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
    pub mfa_verified: bool,
    pub decision: Decision,
}

/// The grant holder asked for more time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExtensionRequested {
    pub request: RequestId,
    pub grant: GrantId,
    pub add_seconds: i64,
    pub justification: String,
    pub digest: Sha256Digest,
    pub decision: Decision,
}

/// An approver approved a pending extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExtensionApprovalRecorded {
    pub request: RequestId,
    pub grant: GrantId,
    pub approver: Username,
    pub digest: Sha256Digest,
    pub comment: String,
    pub approvals: u32,
    pub required: u32,
    pub decision: Decision,
}

/// An approver turned down a pending extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExtensionDenied {
    pub request: RequestId,
    pub grant: GrantId,
    pub by: Username,
    pub reason: String,
    pub decision: Decision,
}

/// A grant's end moved later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantExtended {
    pub request: RequestId,
    pub grant: GrantId,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub old_end: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub new_end: OffsetDateTime,
    pub approvers: Vec<Username>,
}

/// Access was ended early (a grant, or an approved request before activation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantRevoked {
    pub request: RequestId,
    pub grant: Option<GrantId>,
    pub role_arn: RoleArn,
    pub by: Username,
    pub reason: String,
    pub decision: Decision,
}

/// Every session of a role issued before `cutoff` was cut off (`AWSRevokeOlderSessions`),
/// whoever held it: the "revoke all" of an incident responder who no longer trusts any
/// session of the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleSessionsRevoked {
    pub role_arn: RoleArn,
    /// Sessions whose token was issued before this time are denied everything.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub cutoff: OffsetDateTime,
    pub by: Username,
    pub reason: String,
}

/// Live sessions could not be cut off: writing a role's revocation policy failed, or the
/// policy read back was not the one written. Until a retry holds, the sessions it was to
/// deny keep their access; the worker retries with backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevocationFailed {
    pub role_arn: RoleArn,
    /// The revoked request whose cut-off failed; `None` for the worker's upkeep of the role.
    pub request: Option<RequestId>,
    /// How many attempts in a row have failed on this role (1 for the first).
    pub attempt: u32,
    /// What failed.
    pub problem: String,
}

/// Access ran out (a grant reached its end, or an approved request was never activated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantExpired {
    pub request: RequestId,
    pub grant: Option<GrantId>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
}

/// An approver signed off the post-incident review of a break-glass use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewCompleted {
    pub request: RequestId,
    pub grant: GrantId,
    pub reviewer: Username,
    pub outcome: ReviewOutcome,
    pub notes: String,
    pub decision: Decision,
}

/// Credentials were minted for a grant. Only the key id and a hash of the session token are
/// recorded; the secret never reaches the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CredentialsIssued {
    pub request: RequestId,
    pub grant: GrantId,
    pub access_key_id: String,
    pub session_token_sha256: Sha256Digest,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub expires_at: OffsetDateTime,
}

/// Someone tried something the rules or the invariants refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionRefused {
    pub action: Action,
    pub request: Option<RequestId>,
    pub playbook: Option<PlaybookId>,
    pub break_glass: bool,
    pub reason: String,
}

/// A notification could not be delivered to some channels after every retry: it is
/// dead-lettered, shown in the console, and announced on the channels that still work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotificationDeadLettered {
    /// The outbox message.
    pub outbox_id: i64,
    /// Its kind (e.g. `approval_needed`).
    pub kind: String,
    /// The audit record it announced.
    pub audit_seq: u64,
    /// The channels that never took it.
    pub failed_channels: Vec<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
}

/// A grant ends soon: its requester is told, once per end time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantExpiring {
    pub request: RequestId,
    pub grant: GrantId,
    pub requester: Username,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub end: OffsetDateTime,
}

/// A break-glass use's post-incident review is overdue: its approvers and the security
/// team are told, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewOverdue {
    pub request: RequestId,
    pub requester: Username,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub ended: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub due: OffsetDateTime,
}

/// A local user account was created (the first admin from the command line, or by an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserCreated {
    pub username: Username,
    pub admin: bool,
}

/// A user signed in with their password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginSucceeded {
    pub username: Username,
    pub address: String,
}

/// A sign-in was refused (unknown user, wrong password, too many attempts). The name is the
/// one typed, which may not be a valid username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginFailed {
    pub username: String,
    pub address: String,
    pub reason: String,
}

/// A person signed in through the OpenID Connect identity provider: the ID token passed its
/// checks and its subject maps to the responder `username`. Never records the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SsoSignedIn {
    pub username: Username,
    /// The provider (the ID token's `iss`).
    pub issuer: String,
    /// The ID token's `sub`.
    pub subject: String,
    /// The ID token's `email`, when it has one.
    pub email: Option<String>,
    /// `console` or `device` (the CLI's `login --sso`).
    pub flow: String,
    pub address: String,
}

/// A sign-in through the identity provider was refused after the provider vouched for the
/// person: the subject is no responder, is in none of the responder's groups, or the
/// account is disabled. Never records the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SsoSignInRefused {
    /// The responder the subject mapped to, when it mapped to one.
    pub username: Option<Username>,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub flow: String,
    pub address: String,
    pub reason: String,
}

/// A personal API token was created. Only its id is recorded, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenCreated {
    pub username: Username,
    pub token: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub expires_at: OffsetDateTime,
}

/// A personal API token was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenRevoked {
    pub username: Username,
    pub token: String,
}

/// A user enrolled (or re-enrolled) a TOTP authenticator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TotpEnrolled {
    pub username: Username,
}

/// A TOTP code was accepted as a step-up (the code is recorded as used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TotpVerified {
    pub username: Username,
    pub purpose: String,
}

/// A passkey answered a step-up or sign-in ceremony (the ceremony is spent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasskeyVerified {
    pub username: Username,
    pub purpose: String,
    /// The passkey's credential id (base64url).
    pub credential: String,
}

/// A passkey challenge was issued to `username` for `purpose` (its ceremony waits for the
/// browser's answer for a few minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasskeyChallenged {
    pub username: Username,
    pub purpose: String,
}

/// A passkey answer was refused (unknown ceremony, another purpose, a bad signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasskeyFailed {
    pub username: Username,
    pub purpose: String,
    pub reason: String,
}

/// A user enrolled a passkey (another authenticator besides any they had).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasskeyEnrolled {
    pub username: Username,
    /// The credential id (base64url).
    pub credential: String,
    /// The label the user gave it.
    pub name: String,
}

/// A user removed one of their passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PasskeyRemoved {
    pub username: Username,
    pub credential: String,
}

/// The audit chain no longer holds what was anchored outside the database, or does not
/// verify from the last anchor to its head: records were deleted, edited or forged. The
/// anchorer stops anchoring (that would bless the damage) until someone looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditChainTampered {
    /// Where the anchors are kept (e.g. `s3://bucket/prefix`).
    pub location: String,
    /// What was found.
    pub problem: String,
}

/// A TOTP code was refused (wrong, replayed, or no authenticator enrolled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TotpFailed {
    pub username: Username,
    pub purpose: String,
    pub reason: String,
}

/// A local account signed in (password and second factor) while the identity provider is
/// the way in: the security team is told, since it means that path was not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LocalSignIn {
    pub username: Username,
    pub address: String,
    /// Whether the sign-in is limited to break-glass, its review and revocation.
    pub break_glass_only: bool,
}

/// What changed about a local account (see [`AccountChanged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountChange {
    /// An administrator disabled the account: it cannot sign in and its tokens stopped.
    Disabled,
    /// An administrator enabled it again.
    Enabled,
    /// Every API token and console session of the account was revoked.
    TokensRevoked,
    /// An administrator removed the account's second factors; it must enrol again.
    SecondFactorReset,
    /// The user changed their password (their other tokens were revoked).
    PasswordChanged,
    /// The user started enrolling a new TOTP authenticator (it counts once a code from it
    /// is confirmed: `totp_enrolled`).
    EnrolmentStarted,
    /// An administrator created the account with a one-time invitation to set its password.
    Invited,
    /// The invitation was used: the user set their password.
    InvitationAccepted,
}

impl AccountChange {
    /// The name, as serialized (`disabled`, `tokens_revoked`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::TokensRevoked => "tokens_revoked",
            Self::SecondFactorReset => "second_factor_reset",
            Self::PasswordChanged => "password_changed",
            Self::EnrolmentStarted => "enrolment_started",
            Self::Invited => "invited",
            Self::InvitationAccepted => "invitation_accepted",
        }
    }
}

/// A local account's lifecycle changed. The security team is told of every one: each is
/// what an administrator does about a compromised account, or what an attacker holding one
/// would try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountChanged {
    pub username: Username,
    pub change: AccountChange,
}

/// Another wrong second-factor code locked `username`'s second factor (sign-in past the rate
/// limit and step-ups) until `until`. `lockouts` counts the lockouts in a row, with no right
/// code between them: from [`crate::accounts::LOCKOUTS_ALERT`] on, each alerts the security
/// team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecondFactorLockedOut {
    pub username: Username,
    pub failures: u32,
    pub lockouts: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub until: OffsetDateTime,
}

/// A responder started linking a chat account to their broker user: the chat platform
/// vouched for the chat user (a signed request); the link is made only when the responder
/// confirms it signed in to the console ([`ChatLinked`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatLinkStarted {
    pub platform: String,
    pub team: String,
    pub chat_user: String,
}

/// A chat account was linked to a broker user, who confirmed it signed in to the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatLinked {
    pub username: Username,
    pub platform: String,
    pub team: String,
    pub chat_user: String,
}

/// A chat account's link to a broker user was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatUnlinked {
    pub username: Username,
    pub platform: String,
    pub team: String,
    pub chat_user: String,
}

/// A change made from chat: recorded in the change's own commit, beside the change's records,
/// so the log says which channel it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatAction {
    pub platform: String,
    pub team: String,
    pub chat_user: String,
    pub action: String,
    pub request: Option<RequestId>,
}

/// A chat action was refused: a bad or stale signature, a replayed delivery, an unlinked or
/// disabled user, or a refusal of the use case it asked for (a wrong code, self-approval, a
/// request changed since the message was posted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatRefused {
    pub platform: String,
    pub team: Option<String>,
    pub chat_user: Option<String>,
    pub username: Option<Username>,
    pub action: String,
    pub request: Option<RequestId>,
    pub reason: String,
}

/// CloudTrail shows a use of a brokered role, a break-glass role or the broker's own
/// principal that no grant explains; or a `*-BREAK-GLASS` IAM user signed in, which opens a
/// retroactive break-glass record (`record`) that needs a post-incident review. One record
/// per finding: later events of the same use join the finding without a new record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnbrokeredUseDetected {
    /// The finding (`uf-…`).
    pub finding: String,
    pub kind: crate::activity::FindingKind,
    /// One line: what, of which role, by whom.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The first event's `eventID` and time.
    pub event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub event_time: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The retroactive break-glass record opened (break-glass IAM users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RequestId>,
    /// How many unbrokered-use findings began in the hour before this one was detected,
    /// this one included (at least: see [`crate::activity::ALERTS_PER_HOUR`]); 0 in records
    /// written before it was counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub in_the_hour: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl UnbrokeredUseDetected {
    /// Whether the security team is alerted: always for a break-glass IAM user's use, and
    /// for the first [`crate::activity::ALERTS_PER_HOUR`] other findings of an hour; past
    /// them only for the 16th, 32nd, 64th… Anyone who may call `sts:AssumeRole` can make
    /// findings by the hundred (one per session name), and a flood of alerts would bury
    /// the one that matters; every finding is still audited and listed.
    pub fn alerts(&self) -> bool {
        self.record.is_some()
            || self.kind == crate::activity::FindingKind::BreakGlassUser
            || self.in_the_hour <= crate::activity::ALERTS_PER_HOUR
            || self.in_the_hour.is_power_of_two()
    }
}

/// A drill sends this to every channel of the security team, to prove each delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillAlertSent {
    /// The drill run.
    pub run: String,
    /// What the drill is (`scheduled drill`, `drill from the CLI`, a game-day scenario).
    pub what: String,
}

/// A drill finished: what it covered and what it found. The whole result is stored beside
/// this record (`drill_runs`), in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrillCompleted {
    /// The drill run.
    pub run: String,
    /// Whether every step passed.
    pub passed: bool,
    /// How many steps ran, and how many failed.
    pub steps: u32,
    pub failed: u32,
    /// The first findings (at most ten), as sentences.
    pub findings: Vec<String>,
    /// Whether the security team is alerted (a failure after a pass, or the first run).
    pub alerted: bool,
}

/// A game day began: requests under its incident id are a drill with real people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GameDayStarted {
    pub incident: IncidentId,
    pub scenario: String,
    pub by: Username,
}

/// A game day ended; its report counts its requests and those that did not reach access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GameDayFinished {
    pub incident: IncidentId,
    pub by: Username,
    pub requests: u32,
    pub failed: u32,
}

/// Every audit event, tagged by `type` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    RequestSubmitted(RequestSubmitted),
    RequestAmended(RequestAmended),
    ApprovalRecorded(ApprovalRecorded),
    RequestApproved(RequestApproved),
    RequestDenied(RequestDenied),
    RequestCancelled(RequestCancelled),
    RequestTimedOut(RequestTimedOut),
    GrantActivated(GrantActivated),
    BreakGlassActivated(BreakGlassActivated),
    ExtensionRequested(ExtensionRequested),
    ExtensionApprovalRecorded(ExtensionApprovalRecorded),
    ExtensionDenied(ExtensionDenied),
    GrantExtended(GrantExtended),
    GrantRevoked(GrantRevoked),
    GrantExpired(GrantExpired),
    ReviewCompleted(ReviewCompleted),
    CredentialsIssued(CredentialsIssued),
    ActionRefused(ActionRefused),
    NotificationDeadLettered(NotificationDeadLettered),
    GrantExpiring(GrantExpiring),
    ReviewOverdue(ReviewOverdue),
    UserCreated(UserCreated),
    LoginSucceeded(LoginSucceeded),
    LoginFailed(LoginFailed),
    SsoSignedIn(SsoSignedIn),
    SsoSignInRefused(SsoSignInRefused),
    TokenCreated(TokenCreated),
    TokenRevoked(TokenRevoked),
    TotpEnrolled(TotpEnrolled),
    TotpVerified(TotpVerified),
    TotpFailed(TotpFailed),
    RoleSessionsRevoked(RoleSessionsRevoked),
    RevocationFailed(RevocationFailed),
    AccountChanged(AccountChanged),
    LocalSignIn(LocalSignIn),
    SecondFactorLockedOut(SecondFactorLockedOut),
    PasskeyChallenged(PasskeyChallenged),
    PasskeyVerified(PasskeyVerified),
    PasskeyFailed(PasskeyFailed),
    PasskeyEnrolled(PasskeyEnrolled),
    PasskeyRemoved(PasskeyRemoved),
    AuditChainTampered(AuditChainTampered),
    ChatLinkStarted(ChatLinkStarted),
    ChatLinked(ChatLinked),
    ChatUnlinked(ChatUnlinked),
    ChatAction(ChatAction),
    ChatRefused(ChatRefused),
    DrillAlertSent(DrillAlertSent),
    DrillCompleted(DrillCompleted),
    GameDayStarted(GameDayStarted),
    GameDayFinished(GameDayFinished),
    UnbrokeredUseDetected(UnbrokeredUseDetected),
}

macro_rules! from_event {
    ($($name:ident),* $(,)?) => {
        $(impl From<$name> for AuditEvent {
            fn from(e: $name) -> Self {
                Self::$name(e)
            }
        })*
    };
}

from_event!(
    RequestSubmitted,
    RequestAmended,
    ApprovalRecorded,
    RequestApproved,
    RequestDenied,
    RequestCancelled,
    RequestTimedOut,
    GrantActivated,
    BreakGlassActivated,
    ExtensionRequested,
    ExtensionApprovalRecorded,
    ExtensionDenied,
    GrantExtended,
    GrantRevoked,
    GrantExpired,
    ReviewCompleted,
    CredentialsIssued,
    ActionRefused,
    NotificationDeadLettered,
    GrantExpiring,
    ReviewOverdue,
    UserCreated,
    LoginSucceeded,
    LoginFailed,
    SsoSignedIn,
    SsoSignInRefused,
    TokenCreated,
    TokenRevoked,
    TotpEnrolled,
    TotpVerified,
    TotpFailed,
    RoleSessionsRevoked,
    RevocationFailed,
    AccountChanged,
    LocalSignIn,
    SecondFactorLockedOut,
    PasskeyChallenged,
    PasskeyVerified,
    PasskeyFailed,
    PasskeyEnrolled,
    PasskeyRemoved,
    AuditChainTampered,
    ChatLinkStarted,
    ChatLinked,
    ChatUnlinked,
    ChatAction,
    ChatRefused,
    DrillAlertSent,
    DrillCompleted,
    GameDayStarted,
    GameDayFinished,
    UnbrokeredUseDetected,
);

impl AuditEvent {
    /// The event's `type` tag, as stored and exported.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RequestSubmitted(_) => "request_submitted",
            Self::RequestAmended(_) => "request_amended",
            Self::ApprovalRecorded(_) => "approval_recorded",
            Self::RequestApproved(_) => "request_approved",
            Self::RequestDenied(_) => "request_denied",
            Self::RequestCancelled(_) => "request_cancelled",
            Self::RequestTimedOut(_) => "request_timed_out",
            Self::GrantActivated(_) => "grant_activated",
            Self::BreakGlassActivated(_) => "break_glass_activated",
            Self::ExtensionRequested(_) => "extension_requested",
            Self::ExtensionApprovalRecorded(_) => "extension_approval_recorded",
            Self::ExtensionDenied(_) => "extension_denied",
            Self::GrantExtended(_) => "grant_extended",
            Self::GrantRevoked(_) => "grant_revoked",
            Self::GrantExpired(_) => "grant_expired",
            Self::ReviewCompleted(_) => "review_completed",
            Self::CredentialsIssued(_) => "credentials_issued",
            Self::ActionRefused(_) => "action_refused",
            Self::NotificationDeadLettered(_) => "notification_dead_lettered",
            Self::GrantExpiring(_) => "grant_expiring",
            Self::ReviewOverdue(_) => "review_overdue",
            Self::UserCreated(_) => "user_created",
            Self::LoginSucceeded(_) => "login_succeeded",
            Self::LoginFailed(_) => "login_failed",
            Self::SsoSignedIn(_) => "sso_signed_in",
            Self::SsoSignInRefused(_) => "sso_sign_in_refused",
            Self::TokenCreated(_) => "token_created",
            Self::TokenRevoked(_) => "token_revoked",
            Self::TotpEnrolled(_) => "totp_enrolled",
            Self::TotpVerified(_) => "totp_verified",
            Self::TotpFailed(_) => "totp_failed",
            Self::RoleSessionsRevoked(_) => "role_sessions_revoked",
            Self::RevocationFailed(_) => "revocation_failed",
            Self::AccountChanged(_) => "account_changed",
            Self::LocalSignIn(_) => "local_sign_in",
            Self::SecondFactorLockedOut(_) => "second_factor_locked_out",
            Self::PasskeyChallenged(_) => "passkey_challenged",
            Self::PasskeyVerified(_) => "passkey_verified",
            Self::PasskeyFailed(_) => "passkey_failed",
            Self::PasskeyEnrolled(_) => "passkey_enrolled",
            Self::PasskeyRemoved(_) => "passkey_removed",
            Self::AuditChainTampered(_) => "audit_chain_tampered",
            Self::ChatLinkStarted(_) => "chat_link_started",
            Self::ChatLinked(_) => "chat_linked",
            Self::ChatUnlinked(_) => "chat_unlinked",
            Self::ChatAction(_) => "chat_action",
            Self::ChatRefused(_) => "chat_refused",
            Self::DrillAlertSent(_) => "drill_alert_sent",
            Self::DrillCompleted(_) => "drill_completed",
            Self::GameDayStarted(_) => "game_day_started",
            Self::GameDayFinished(_) => "game_day_finished",
            Self::UnbrokeredUseDetected(_) => "unbrokered_use_detected",
        }
    }

    /// The request the event is about, if any.
    pub fn request(&self) -> Option<&RequestId> {
        match self {
            Self::RequestSubmitted(e) => Some(&e.request),
            Self::RequestAmended(e) => Some(&e.request),
            Self::ApprovalRecorded(e) => Some(&e.request),
            Self::RequestApproved(e) => Some(&e.request),
            Self::RequestDenied(e) => Some(&e.request),
            Self::RequestCancelled(e) => Some(&e.request),
            Self::RequestTimedOut(e) => Some(&e.request),
            Self::GrantActivated(e) => Some(&e.request),
            Self::BreakGlassActivated(e) => Some(&e.request),
            Self::ExtensionRequested(e) => Some(&e.request),
            Self::ExtensionApprovalRecorded(e) => Some(&e.request),
            Self::ExtensionDenied(e) => Some(&e.request),
            Self::GrantExtended(e) => Some(&e.request),
            Self::GrantRevoked(e) => Some(&e.request),
            Self::GrantExpired(e) => Some(&e.request),
            Self::ReviewCompleted(e) => Some(&e.request),
            Self::CredentialsIssued(e) => Some(&e.request),
            Self::ActionRefused(e) => e.request.as_ref(),
            Self::NotificationDeadLettered(_) => None,
            Self::GrantExpiring(e) => Some(&e.request),
            Self::ReviewOverdue(e) => Some(&e.request),
            Self::UserCreated(_)
            | Self::LoginSucceeded(_)
            | Self::LoginFailed(_)
            | Self::SsoSignedIn(_)
            | Self::SsoSignInRefused(_)
            | Self::TokenCreated(_)
            | Self::TokenRevoked(_)
            | Self::TotpEnrolled(_)
            | Self::TotpVerified(_)
            | Self::TotpFailed(_)
            | Self::AccountChanged(_)
            | Self::LocalSignIn(_)
            | Self::PasskeyChallenged(_)
            | Self::PasskeyVerified(_)
            | Self::PasskeyFailed(_)
            | Self::PasskeyEnrolled(_)
            | Self::PasskeyRemoved(_)
            | Self::AuditChainTampered(_) => None,
            Self::RevocationFailed(e) => e.request.as_ref(),
            Self::RoleSessionsRevoked(_) | Self::SecondFactorLockedOut(_) => None,
            Self::ChatAction(e) => e.request.as_ref(),
            Self::ChatRefused(e) => e.request.as_ref(),
            Self::ChatLinkStarted(_) | Self::ChatLinked(_) | Self::ChatUnlinked(_) => None,
            Self::DrillAlertSent(_)
            | Self::DrillCompleted(_)
            | Self::GameDayStarted(_)
            | Self::GameDayFinished(_) => None,
            Self::UnbrokeredUseDetected(e) => e.record.as_ref(),
        }
    }

    /// How loudly the event should be announced.
    pub fn severity(&self) -> Severity {
        match self {
            Self::BreakGlassActivated(_) | Self::UnbrokeredUseDetected(_) => Severity::Critical,
            Self::NotificationDeadLettered(_) => Severity::Critical,
            Self::RevocationFailed(_) | Self::AuditChainTampered(_) => Severity::Critical,
            Self::ReviewOverdue(_) => Severity::Notice,
            Self::DrillCompleted(e) if !e.passed => Severity::Critical,
            Self::ActionRefused(e) if e.break_glass => Severity::Critical,
            Self::SecondFactorLockedOut(e) if e.lockouts >= crate::accounts::LOCKOUTS_ALERT => {
                Severity::Critical
            }
            Self::ReviewCompleted(e) if e.outcome == ReviewOutcome::Inappropriate => {
                Severity::Critical
            }
            Self::ActionRefused(_)
            | Self::RoleSessionsRevoked(_)
            | Self::RequestDenied(_)
            | Self::GrantRevoked(_)
            | Self::ExtensionDenied(_)
            | Self::LoginFailed(_)
            | Self::SsoSignInRefused(_)
            | Self::TotpFailed(_)
            | Self::TokenRevoked(_)
            | Self::SecondFactorLockedOut(_)
            | Self::AccountChanged(_)
            | Self::LocalSignIn(_)
            | Self::PasskeyFailed(_)
            | Self::PasskeyEnrolled(_)
            | Self::PasskeyRemoved(_)
            | Self::ChatLinked(_)
            | Self::ChatUnlinked(_)
            | Self::ChatRefused(_) => Severity::Notice,
            _ => Severity::Info,
        }
    }
}

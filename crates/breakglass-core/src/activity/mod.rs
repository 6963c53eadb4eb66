//! What the broker sees in CloudTrail: each event tied to the grant whose credentials made
//! it, and every use of a brokered role, a break-glass role or the broker's own principal
//! that no grant explains.
//!
//! The adapter reads CloudTrail (S3, SQS, CloudWatch Logs), keeps the few fields of each
//! event the broker needs ([`Observed`]) and hands them here. [`classify`] decides, for one
//! event and what the store knows of the grants ([`Known`]), which grant it belongs to
//! ([`Link`]) and whether it is unbrokered use ([`FindingDraft`]). The links, strongest first:
//! 1. the session name: a grant's `RoleSessionName` is its grant id (its console sessions,
//!    opened through the federation URL, carry the same name), with one of the grant's
//!    access keys (issued to it, or learned from the `AssumeRole` the broker made), or from
//!    a console session: a session someone else opened under a grant's name is not the
//!    grant's;
//! 2. an access key the grant's session minted by chaining (`AssumeRole` made with the
//!    grant's credentials: the new session's key belongs to the grant);
//! 3. the `SourceIdentity`, which survives role chaining: the responder's, when exactly one
//!    of their grants was live at the event's time (plus the chained session's lifetime).
//!
//! Unbrokered use, each one critical finding grouped by what it is (not one per event):
//! an `AssumeRole` of a brokered or break-glass role whose session name is no grant of that
//! role; a console role switch into one; a console sign-in or an API call of a session of one
//! that matches no grant; an `AssumeRole` made by the broker's own principal outside the
//! broker; and any sign-in of a `*-BREAK-GLASS` IAM user, which opens a retroactive
//! break-glass record that needs a post-incident review.
//!
//! Pure: no I/O, no clock; times come in the events.

mod classify;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use classify::{Known, KnownGrant, Verdict, classify};

use crate::model::{GrantId, RequestId};
use crate::present;

/// How long a finding stays open: events of the same kind and key within this time of its
/// last one join it (one alert), later ones open a new finding.
pub const FINDING_WINDOW: time::Duration = time::Duration::hours(12);

/// How many unbrokered-use findings of an hour are each alerted before only every doubling
/// is (see [`crate::audit::events::UnbrokeredUseDetected::alerts`]).
pub const ALERTS_PER_HOUR: u32 = 10;

/// How an IAM user's long-term access key id begins (temporary session keys begin `ASIA`).
const LONG_TERM_KEY: &str = "AKIA";

/// How far apart the events of one break-glass sign-in may be timed by different accounts'
/// trails: its role switch may be recorded up to this long before the sign-in.
pub const SIGN_IN_SKEW: time::Duration = time::Duration::minutes(5);

/// Whether a break-glass user's successful sign-in at `at` is part of the use open finding
/// `f` records. A sign-in is a use of its own, owing its own review and alert, unless `f`
/// began no sooner than [`SIGN_IN_SKEW`] before it (with the role switch or calls of the
/// session it began, delivered first from another account's trail): else a second sign-in
/// hours after the first would join the old finding unseen.
pub fn sign_in_joins(f: &Finding, at: OffsetDateTime) -> bool {
    at.checked_sub(SIGN_IN_SKEW)
        .is_some_and(|since| f.first_seen >= since)
}

/// How long after a grant ends a session chained from it may still make calls: the longest
/// role session (12 hours, `MaxSessionDuration`).
pub const CHAIN_MARGIN: time::Duration = time::Duration::hours(12);

/// The most timeline entries one page of a grant's activity shows.
pub const TIMELINE_PAGE: u32 = 5_000;

/// Who made a call, as CloudTrail's `userIdentity` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Principal {
    /// `userIdentity.type`: `AssumedRole`, `IAMUser`, `Root`, `AWSService`, …
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// `userIdentity.arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// `userIdentity.accessKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The role session name (after `:` in `principalId`) of an `AssumedRole` caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// The role behind an `AssumedRole` caller (`sessionContext.sessionIssuer.arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `sessionContext.sourceIdentity` (the responder, for a grant's sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// `userIdentity.userName` of an `IAMUser` caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

impl Principal {
    /// The long-term access key (`AKIA…`) the call was made with, if it was.
    pub fn long_term_key(&self) -> Option<&str> {
        self.access_key_id
            .as_deref()
            .filter(|k| k.starts_with(LONG_TERM_KEY))
    }
}

/// A successful `AssumeRole*`: the session it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assumed {
    /// `requestParameters.roleArn`.
    pub role_arn: String,
    /// `requestParameters.roleSessionName`.
    pub session_name: String,
    /// `responseElements.credentials.accessKeyId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// `requestParameters.sourceIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

/// One CloudTrail event, reduced to what the broker keeps (a few hundred bytes instead of
/// the whole record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Observed {
    /// `eventID`: duplicates are dropped on it.
    pub event_id: String,
    /// `eventTime`.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// `eventSource`, e.g. `s3.amazonaws.com`.
    pub service: String,
    /// `eventName`, e.g. `GetObject`.
    pub action: String,
    /// `recipientAccountId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// `awsRegion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// What the call touched: the first ARN of `resources`, else one named in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `errorCode`, when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `sourceIPAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `userAgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Who called.
    pub principal: Principal,
    /// The session a successful `AssumeRole*` opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed: Option<Assumed>,
    /// A console `SwitchRole`: where it switched from (`additionalEventData.SwitchFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_from: Option<String>,
    /// A successful `ConsoleLogin`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub console_login: bool,
    /// Made from an AWS console session (`sessionCredentialFromConsole`): its access key is
    /// the console's, not one STS issued to the grant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_console: bool,
    /// The built-in alert rules this event matched (their names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// `text` made [`present::printable`] in place.
fn printable(text: &mut String) {
    if let Cow::Owned(clean) = present::printable(text) {
        *text = clean;
    }
}

fn printable_opt(text: &mut Option<String>) {
    if let Some(t) = text {
        printable(t);
    }
}

impl Observed {
    /// This event with every control character of its text replaced (see [`printable`]).
    /// No identifier the broker issues (grant ids, access key ids, role ARNs, responder
    /// names) contains one, so linking decides the same before and after.
    pub fn printable(mut self) -> Self {
        let Observed {
            event_id,
            at: _,
            service,
            action,
            account,
            region,
            resource,
            error,
            source_ip,
            user_agent,
            principal,
            assumed,
            switch_from,
            console_login: _,
            from_console: _,
            rules,
        } = &mut self;
        for text in [event_id, service, action] {
            printable(text);
        }
        for text in [
            account,
            region,
            resource,
            error,
            source_ip,
            user_agent,
            switch_from,
        ] {
            printable_opt(text);
        }
        let Principal {
            kind,
            arn,
            access_key_id,
            session_name,
            role_arn,
            source_identity,
            user_name,
        } = principal;
        printable(kind);
        for text in [
            arn,
            access_key_id,
            session_name,
            role_arn,
            source_identity,
            user_name,
        ] {
            printable_opt(text);
        }
        if let Some(Assumed {
            role_arn,
            session_name,
            access_key_id,
            source_identity,
        }) = assumed
        {
            printable(role_arn);
            printable(session_name);
            printable_opt(access_key_id);
            printable_opt(source_identity);
        }
        rules.iter_mut().for_each(printable);
        self
    }

    /// Whether this is a successful `AssumeRole*` call (the session it opened is known).
    pub fn is_assume_role(&self) -> bool {
        self.assumed.is_some()
    }

    /// The IAM action style name, `service:Action` (`s3` from `s3.amazonaws.com`).
    pub fn call(&self) -> String {
        let service = self
            .service
            .strip_suffix(".amazonaws.com")
            .unwrap_or(&self.service);
        format!("{service}:{}", self.action)
    }
}

/// How an event was tied to its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkedBy {
    /// The session name is the grant id.
    SessionName,
    /// The access key of a session chained from the grant's.
    AccessKey,
    /// The responder's `SourceIdentity`, while their grant was live.
    SourceIdentity,
    /// A break-glass IAM user's sign-in, and the role sessions it switched to.
    BreakGlassUser,
}

/// The grant an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    pub request: RequestId,
    pub grant: GrantId,
    pub by: LinkedBy,
}

/// What kind of unbrokered use a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// `AssumeRole` of a brokered or break-glass role under a session name that is no grant.
    UnbrokeredAssumeRole,
    /// A console role switch into a brokered or break-glass role.
    UnbrokeredSwitchRole,
    /// A console sign-in with a session of a brokered role that is no grant.
    UnbrokeredConsoleSignIn,
    /// API calls of a brokered role's session that matches no grant.
    UnbrokeredSession,
    /// The broker's own principal assumed a role outside the broker.
    BrokerPrincipal,
    /// A `*-BREAK-GLASS` IAM user signed in: the emergency path was used.
    BreakGlassUser,
}

impl FindingKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnbrokeredAssumeRole => "unbrokered_assume_role",
            Self::UnbrokeredSwitchRole => "unbrokered_switch_role",
            Self::UnbrokeredConsoleSignIn => "unbrokered_console_sign_in",
            Self::UnbrokeredSession => "unbrokered_session",
            Self::BrokerPrincipal => "broker_principal",
            Self::BreakGlassUser => "break_glass_user",
        }
    }

    /// How people read it.
    pub fn title(self) -> &'static str {
        match self {
            Self::UnbrokeredAssumeRole => "AssumeRole outside the broker",
            Self::UnbrokeredSwitchRole => "console role switch outside the broker",
            Self::UnbrokeredConsoleSignIn => "console sign-in outside the broker",
            Self::UnbrokeredSession => "a brokered role used without a grant",
            Self::BrokerPrincipal => "the broker's principal used outside the broker",
            Self::BreakGlassUser => "break-glass IAM user signed in",
        }
    }
}

/// A finding [`classify`] reports for one event; the application groups drafts with the
/// same `key` into one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingDraft {
    pub kind: FindingKind,
    /// What groups events into one finding (kind, role, session or user).
    pub key: String,
    /// The role used or assumed, when there is one.
    pub role: Option<String>,
    /// Who did it (a principal ARN, or the break-glass user's name).
    pub actor: String,
    /// The session name, when there is one.
    pub session: Option<String>,
    /// A break-glass IAM user's name, for the retroactive record.
    pub break_glass_user: Option<String>,
}

/// One unbrokered use, as stored and shown: every event that belongs to it counted, the
/// first few kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// `uf-…`.
    pub id: String,
    pub kind: FindingKind,
    pub key: String,
    /// Always `critical`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub last_seen: OffsetDateTime,
    /// Events that belong to it.
    pub events: u64,
    /// The first events, oldest first (at most [`Finding::KEPT`]).
    pub sample: Vec<Observed>,
    /// The retroactive break-glass record it opened (break-glass users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RequestId>,
}

impl Finding {
    /// Whether later events may link to its retroactive record: not when it is a
    /// break-glass user's long-term key, whose calls are findings (its session is the key).
    pub fn record_takes_links(&self) -> bool {
        self.kind != FindingKind::BreakGlassUser || self.session.is_none()
    }

    /// Events kept whole per finding.
    pub const KEPT: usize = 20;

    /// One line for alerts and lists.
    pub fn summary(&self) -> String {
        let what = self.kind.title();
        let role = self
            .role
            .as_deref()
            .map(|r| format!(" of {r}"))
            .unwrap_or_default();
        let session = self
            .session
            .as_deref()
            .map(|s| format!(" (session `{s}`)"))
            .unwrap_or_default();
        format!("{what}{role} by {}{session}", self.actor)
    }
}

/// A stored event: the event and the grant (or finding) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredEvent {
    pub event: Observed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

/// The job lease a watcher reads under ([`crate::app::App::take_lease`]): a batch it read is
/// stored only while `holder` still holds lease `job`, checked in the batch's transaction,
/// so a replica that lost the lease mid-pass cannot move a cursor or store a finding behind
/// the replica that took it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The lease's name (`activity`).
    pub job: String,
    /// This replica's holder id.
    pub holder: String,
}

/// Where the broker is in each CloudTrail source: `s3:<account>:<region>` → the last key
/// read, `logs:<group>` → the log cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub source: String,
    pub position: String,
}

/// What one ingested batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// Events handed in.
    pub events: u64,
    /// Dropped: their `eventID` was already stored, or repeated in the batch.
    pub duplicates: u64,
    /// Tied to a grant.
    pub linked: u64,
    /// New findings (each audited and alerted).
    pub findings: u64,
    /// Events added to findings already open.
    pub joined: u64,
    /// Retroactive break-glass records opened.
    pub records: u64,
    /// Refused: timed in the future (forged, or a clock is wrong).
    pub rejected: u64,
}

/// What the broker watches for, beyond the catalog's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watch {
    /// The broker's own principal (a role ARN): every `AssumeRole` it makes must be a
    /// grant's, or one of `own_roles`.
    pub principal: Option<String>,
    /// Roles the broker assumes for itself (the revoker, the trail reader, the deployer),
    /// by name, in any account.
    pub own_roles: Vec<String>,
    /// The suffix of break-glass IAM user names (`-BREAK-GLASS`).
    pub break_glass_user_suffix: String,
}

/// `(account, role name)` of a role or assumed-role ARN, whatever its path:
/// `arn:aws:iam::1:role/a/b/Name` and `arn:aws:sts::1:assumed-role/Name/session` give
/// `("1", "Name")`.
pub fn role_key(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = match service {
        "iam" => resource.strip_prefix("role/")?.rsplit('/').next()?,
        "sts" => resource.strip_prefix("assumed-role/")?.split('/').next()?,
        _ => return None,
    };
    (!name.is_empty()).then_some((account, name))
}

//! Session linking: which `AssumeRole` produced the credentials behind each API call.
//!
//! An auditor asks "what did this break-glass session do?". CloudTrail answers only if every
//! role-session event is tied back to the `AssumeRole` that issued its credentials (DESIGN
//! §4.3). The links, in order of strength:
//! 1. the access key: `responseElements.credentials.accessKeyId` of the `AssumeRole` equals
//!    the event's `userIdentity.accessKeyId`;
//! 2. the tuple (role ARN, session name, creation time): `sessionContext.sessionIssuer.arn`,
//!    the session name after `:` in `principalId`, and `sessionContext.attributes.creationDate`
//!    equal the `AssumeRole`'s `requestParameters.roleArn`, `roleSessionName` and `eventTime`
//!    (service-invoked calls carry no access key);
//! 3. the source identity, when exactly one issued session of that role carries it.
//!
//! A console `SwitchRole` joins the `AssumeRole` with the same `sharedEventID`. The broker
//! uses the summaries for its grants: a grant's session name is its grant id and its source
//! identity the responder. A [`Linker`] is fed events in any order and merged across threads;
//! [`Linker::finish`] resolves the links.

mod linker;

use std::collections::BTreeMap;

use serde::Serialize;

pub use linker::Linker;

/// Distinct source IPs and user agents kept per session; more are counted, not stored.
const MAX_DISTINCT: usize = 32;
/// Timeline entries kept per session.
pub const MAX_TIMELINE: usize = 10_000;

/// One API call in a session timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// `eventTime`, or `@timestamp` when the event has no usable `eventTime`.
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    pub source_ip_address: Option<String>,
    #[serde(rename = "eventID", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The bucket of an S3 call (`requestParameters.bucketName`): data events name what was
    /// read or written, which an exfiltration investigation needs next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// The object key of an S3 data event (`requestParameters.key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where the entry sorts: its epoch second (events without a usable time last), then
    /// its position in the input.
    #[serde(skip)]
    pub(crate) order: (i64, u64),
}

/// Calls of one API and how many failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallStats {
    pub count: u64,
    pub errors: u64,
}

/// How a session's events were tied to its `AssumeRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkedBy {
    AccessKey,
    Tuple,
    SourceIdentity,
}

/// The `AssumeRole` that opened a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    pub event_name: String,
    pub event_time: String,
    pub role_arn: String,
    pub role_session_name: String,
    pub access_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Who called `AssumeRole`: a principal ARN, or the invoking service.
    pub issued_by: String,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    pub source_ip_address: Option<String>,
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    pub shared_event_id: Option<String>,
    /// Other `AssumeRole` events with the same (role, session name, time) tuple.
    pub identical_tuples: usize,
}

/// A console role switch attached to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleSwitch {
    pub event_time: String,
    pub switch_from: Option<String>,
    #[serde(rename = "sharedEventID")]
    pub shared_event_id: String,
}

/// Everything known about one role session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    /// The issuing `AssumeRole`, when it was in the input.
    pub assume_role: Option<Issue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_switch: Option<ConsoleSwitch>,
    /// `arn:aws:iam::…:role/…` of the session.
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub access_key_ids: Vec<String>,
    /// The responder (`SourceIdentity`), when set.
    pub source_identity: Option<String>,
    /// When the session was opened (the `AssumeRole`), else its first event.
    pub started: Option<String>,
    pub first_used: Option<String>,
    pub last_used: Option<String>,
    pub events: u64,
    pub errors: u64,
    pub linked_by: BTreeMap<String, u64>,
    #[serde(rename = "sourceIPAddresses")]
    pub source_ip_addresses: Vec<String>,
    pub user_agents: Vec<String>,
    /// More distinct IPs or user agents than were kept.
    pub truncated_distinct: bool,
    /// `eventSource:eventName` → calls.
    pub calls: BTreeMap<String, CallStats>,
    pub timeline: Vec<TimelineEntry>,
}

/// Counts over all role-session events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStats {
    /// Events made with role-session credentials (`userIdentity.type` = `AssumedRole`).
    pub role_session_events: u64,
    pub linked_by_access_key: u64,
    pub linked_by_tuple: u64,
    pub linked_by_source_identity: u64,
    pub unlinked: u64,
    /// Successful `AssumeRole*` events.
    pub assume_role_events: u64,
    /// Failed `AssumeRole*` events.
    pub denied_assume_role_events: u64,
    pub console_switches: u64,
}

/// The linked sessions and the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionReport {
    pub sessions: Vec<SessionSummary>,
    pub stats: LinkStats,
}

impl SessionReport {
    /// The session a grant opened: its `RoleSessionName` is the grant id.
    pub fn by_session_name(&self, name: &str) -> impl Iterator<Item = &SessionSummary> {
        self.sessions
            .iter()
            .filter(move |s| s.role_session_name.as_deref() == Some(name))
    }
}

/// Which sessions get a timeline of their calls. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub access_key_id: Option<String>,
}

impl TimelineFilter {
    pub fn is_empty(&self) -> bool {
        self.session_name.is_none()
            && self.source_identity.is_none()
            && self.access_key_id.is_none()
    }

    /// Does the filter select this session?
    pub fn selects(&self, session: &SessionSummary) -> bool {
        let keys: Vec<&str> = session.access_key_ids.iter().map(String::as_str).collect();
        self.admits(
            session.role_session_name.as_deref(),
            session.source_identity.as_deref(),
            &keys,
        )
    }

    pub(crate) fn admits(&self, name: Option<&str>, identity: Option<&str>, keys: &[&str]) -> bool {
        self.session_name.as_deref().is_none_or(|n| name == Some(n))
            && self
                .source_identity
                .as_deref()
                .is_none_or(|s| identity == Some(s))
            && self
                .access_key_id
                .as_deref()
                .is_none_or(|k| keys.contains(&k))
    }
}

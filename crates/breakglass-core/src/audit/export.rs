//! Audit export formats: JSON lines (the records exactly as hashed, plus their hash) and an
//! OCSF-shaped variant for security data lakes.
//!
//! The OCSF form maps every record to the Identity & Access Management category's "User
//! Access Management" class (3005): grants are "Assign Privileges", revocations and expiry
//! "Revoke Privileges", everything else "Other" with the event type as `activity_name`. The
//! original record and its hash ride along under `unmapped`, so nothing is lost.

use serde_json::{Map, Value, json};

use super::{AuditEvent, AuditRecord, Severity};
use crate::canonical::{CanonicalError, Sha256Digest, canonicalize};

/// One JSON line: the record's canonical JSON with its `hash` added.
pub fn jsonl_line(record: &AuditRecord, hash: &Sha256Digest) -> Result<String, CanonicalError> {
    let mut value = serde_json::to_value(record)?;
    if let Value::Object(map) = &mut value {
        map.insert("hash".to_owned(), Value::String(hash.to_hex()));
    }
    canonicalize(&value)
}

const CLASS_UID: i64 = 3005;
const CATEGORY_UID: i64 = 3;
const ACTIVITY_ASSIGN: i64 = 1;
const ACTIVITY_REVOKE: i64 = 2;
const ACTIVITY_OTHER: i64 = 99;

/// The OCSF-shaped event for a record.
pub fn ocsf_event(record: &AuditRecord, hash: &Sha256Digest) -> Result<Value, CanonicalError> {
    let event = &record.event;
    let (activity_id, activity_name) = match event {
        AuditEvent::GrantActivated(_)
        | AuditEvent::BreakGlassActivated(_)
        | AuditEvent::GrantExtended(_) => (ACTIVITY_ASSIGN, "Assign Privileges".to_owned()),
        AuditEvent::GrantRevoked(_)
        | AuditEvent::GrantExpired(_)
        | AuditEvent::RoleSessionsRevoked(_) => (ACTIVITY_REVOKE, "Revoke Privileges".to_owned()),
        other => (ACTIVITY_OTHER, other.kind().to_owned()),
    };
    let (severity_id, severity) = match event.severity() {
        Severity::Info => (1, "Informational"),
        Severity::Notice => (3, "Medium"),
        Severity::Critical => (5, "Critical"),
    };
    let (status_id, status) = match event {
        AuditEvent::ActionRefused(_)
        | AuditEvent::RequestDenied(_)
        | AuditEvent::LoginFailed(_)
        | AuditEvent::TotpFailed(_)
        | AuditEvent::SsoSignInRefused(_)
        | AuditEvent::SecondFactorLockedOut(_) => (2, "Failure"),
        _ => (1, "Success"),
    };
    let time_ms = record.at.unix_timestamp_nanos() / 1_000_000;
    let time_ms = i64::try_from(time_ms).unwrap_or(i64::MAX);

    let mut out = Map::new();
    out.insert("class_uid".into(), json!(CLASS_UID));
    out.insert("class_name".into(), json!("User Access Management"));
    out.insert("category_uid".into(), json!(CATEGORY_UID));
    out.insert(
        "category_name".into(),
        json!("Identity & Access Management"),
    );
    out.insert("activity_id".into(), json!(activity_id));
    out.insert("activity_name".into(), json!(activity_name));
    out.insert("type_uid".into(), json!(CLASS_UID * 100 + activity_id));
    out.insert("time".into(), json!(time_ms));
    out.insert("severity_id".into(), json!(severity_id));
    out.insert("severity".into(), json!(severity));
    out.insert("status_id".into(), json!(status_id));
    out.insert("status".into(), json!(status));
    out.insert("message".into(), json!(message(event)));
    out.insert(
        "metadata".into(),
        json!({
            "version": "1.1.0",
            "uid": hash.to_hex(),
            "sequence": record.seq,
            "product": {"name": "breakglass", "vendor_name": "breakglass"},
        }),
    );
    out.insert(
        "actor".into(),
        json!({"user": {"name": record.actor.to_string()}}),
    );
    if let Some(subject) = subject(event) {
        out.insert("user".into(), json!({"name": subject}));
    }
    if let Some(role) = role(event) {
        out.insert("privileges".into(), json!([role]));
        out.insert(
            "resource".into(),
            json!({"uid": role, "type": "AWS IAM Role"}),
        );
    }
    out.insert(
        "unmapped".into(),
        json!({"breakglass": serde_json::to_value(record)?, "hash": hash.to_hex()}),
    );
    Ok(Value::Object(out))
}

/// The person whose access the event is about, when the event names them.
fn subject(event: &AuditEvent) -> Option<String> {
    match event {
        AuditEvent::RequestSubmitted(e) => Some(e.requester.to_string()),
        AuditEvent::GrantActivated(e) => Some(e.requester.to_string()),
        AuditEvent::BreakGlassActivated(e) => Some(e.requester.to_string()),
        AuditEvent::AccountChanged(e) => Some(e.username.to_string()),
        AuditEvent::LocalSignIn(e) => Some(e.username.to_string()),
        AuditEvent::SecondFactorLockedOut(e) => Some(e.username.to_string()),
        _ => None,
    }
}

fn role(event: &AuditEvent) -> Option<String> {
    match event {
        AuditEvent::RequestSubmitted(e) => Some(e.role_arn.to_string()),
        AuditEvent::GrantActivated(e) => Some(e.role_arn.to_string()),
        AuditEvent::BreakGlassActivated(e) => Some(e.role_arn.to_string()),
        AuditEvent::GrantRevoked(e) => Some(e.role_arn.to_string()),
        AuditEvent::RoleSessionsRevoked(e) => Some(e.role_arn.to_string()),
        AuditEvent::RevocationFailed(e) => Some(e.role_arn.to_string()),
        _ => None,
    }
}

fn message(event: &AuditEvent) -> String {
    match event.request() {
        Some(r) => format!("{} for request {r}", event.kind().replace('_', " ")),
        None => event.kind().replace('_', " "),
    }
}

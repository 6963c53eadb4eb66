//! Conversions between domain values and columns: times as Unix microseconds, versions as
//! signed integers, requests as JSON documents plus the columns queries filter on.

use breakglass_core::audit::unix_micros;
use breakglass_core::ports::{StoreError, Versioned};
use breakglass_core::request::{AccessRequest, Review};
use time::OffsetDateTime;

/// The columns of a request row.
pub(crate) struct RequestRow {
    pub id: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub requester: String,
    pub playbook: String,
    pub role_name: String,
    pub account: String,
    pub incident: String,
    pub created_at: i64,
    pub due_at: Option<i64>,
    pub grant_id: Option<String>,
    pub grant_start: Option<i64>,
    pub grant_end: Option<i64>,
    pub review_required: bool,
    pub doc: String,
}

impl RequestRow {
    pub(crate) fn new(r: &AccessRequest) -> Result<Self, StoreError> {
        let doc = serde_json::to_string(r).map_err(|e| {
            StoreError::InvalidCommit(format!("request `{}` does not serialize: {e}", r.id))
        })?;
        Ok(Self {
            id: r.id.to_string(),
            kind: r.kind.as_str(),
            status: r.status.name(),
            requester: r.spec.requester.to_string(),
            playbook: r.spec.playbook.to_string(),
            role_name: r.spec.role.to_string(),
            account: r.spec.account.to_string(),
            incident: r.spec.incident.to_string(),
            created_at: unix_micros(r.created_at),
            due_at: r.next_deadline().map(unix_micros),
            grant_id: r.grant.as_ref().map(|g| g.id.to_string()),
            grant_start: r.grant.as_ref().map(|g| unix_micros(g.start)),
            grant_end: r.grant.as_ref().map(|g| unix_micros(g.end)),
            review_required: r.review == Some(Review::Required),
            doc,
        })
    }
}

pub use breakglass_core::ports::ListedRequest;

/// Decodes a stored request document.
pub(crate) fn decode_request(
    id: &str,
    version: i64,
    doc: &str,
) -> Result<Versioned<AccessRequest>, StoreError> {
    let value: AccessRequest = serde_json::from_str(doc)
        .map_err(|e| StoreError::Corrupt(format!("request `{id}` does not decode: {e}")))?;
    let version = u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("request `{id}` has version {version}")))?;
    Ok(Versioned { value, version })
}

/// A domain version as a column value.
pub(crate) fn version(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::InvalidCommit(format!("version {v} is out of range")))
}

/// A column of Unix microseconds as a time.
pub(crate) fn time_from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("time {micros} is out of range: {e}")))
}

/// Maps a database error to the store's error, naming conflicts on unique keys.
pub(crate) fn db_error(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Duplicate(what.to_owned());
    }
    match e {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(format!("{what}: {e}"))
        }
        e => StoreError::Unavailable(e.to_string()),
    }
}

/// One value bound to a dynamically built query.
#[derive(Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
    /// A text column that may be NULL.
    OptText(Option<String>),
    /// An integer column that may be NULL.
    OptInt(Option<i64>),
}

/// A `WHERE` clause built from optional filters, with numbered placeholders.
#[derive(Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    pub binds: Vec<Bind>,
}

impl Filter {
    /// Adds a bind and returns its placeholder (`$n`).
    pub fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// Adds a condition.
    pub fn and(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `WHERE a AND b ...`, or nothing.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

//! The SQL both backends share: statement text and the `WHERE` clauses built from request and
//! session filters. Placeholders are `$n`, which PostgreSQL and SQLite both accept.

use breakglass_core::audit::unix_micros;
use breakglass_core::request::{RequestKind, SessionStatus};
use breakglass_core::session::{RequestFilter, SessionQuery};
use time::OffsetDateTime;

use crate::codec::{Bind, Filter};

/// The most rows one listing returns.
pub(crate) const MAX_LIST: u32 = 1_000;
/// Rows returned when the caller sets no limit.
pub(crate) const DEFAULT_LIST: u32 = 100;

pub(crate) fn limit(requested: Option<u32>) -> i64 {
    i64::from(requested.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST))
}

/// Spends a TOTP step: written by an authentication change and by a commit carrying a
/// step-up (`plan`), so it lives here with the other shared statements.
pub(crate) const USE_TOTP_STEP: &str = "UPDATE users SET totp_last_step = $2 WHERE username = $1 AND totp_seed IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)";
/// A right code spent ends the user's run of wrong ones (`second_factor_failures`).
pub(crate) const CLEAR_SECOND_FACTOR_FAILURES: &str =
    "DELETE FROM second_factor_failures WHERE username = $1";
/// Spends a WebAuthn ceremony (`$1`) of user `$2` started for purpose `$3`, unexpired at
/// `$4`: written by an authentication change and by a commit carrying a passkey step-up.
pub(crate) const TAKE_CEREMONY: &str = "DELETE FROM webauthn_ceremonies WHERE id = $1 AND username = $2 AND purpose = $3 AND expires_at > $4";
/// Stores a passkey's credential after it answered a ceremony (its counter advanced).
pub(crate) const USE_PASSKEY: &str =
    "UPDATE passkeys SET credential = $3, last_used_at = $4 WHERE id = $1 AND username = $2";
pub(crate) const INSERT_REQUEST: &str = "INSERT INTO requests (id, version, kind, status, requester, playbook, role_name, account, incident, created_at, due_at, grant_id, grant_start, grant_end, review_required, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

pub(crate) const UPDATE_REQUEST: &str = "UPDATE requests SET version = $2, kind = $3, status = $4, requester = $5, playbook = $6, role_name = $7, account = $8, incident = $9, created_at = $10, due_at = $11, grant_id = $12, grant_start = $13, grant_end = $14, review_required = $15, doc = $16, updated_at = $17 WHERE id = $1 AND version = $18";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at, kind, request_id, actor, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const UPDATE_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox (audit_seq, created_at, kind, severity, notification, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 0, $6)";

pub(crate) const SELECT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

pub(crate) const SELECT_AUDIT: &str = "SELECT seq, at, kind, request_id, actor, body, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

pub(crate) const SELECT_DUE: &str = "SELECT id FROM requests WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2";

pub(crate) const SELECT_OUTBOX_DUE: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= $1 ORDER BY o.id LIMIT $2";

pub(crate) const SELECT_OUTBOX_CLAIMED: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE o.claimed_by = $1 AND o.claimed_until = $2 AND o.delivered_at IS NULL AND o.dead_at IS NULL ORDER BY o.id";

pub(crate) const SELECT_OUTBOX_UNDELIVERED: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, o.next_attempt_at, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE o.delivered_at IS NULL AND o.dead_at IS NULL ORDER BY o.id LIMIT $1";

pub(crate) const SELECT_REQUEST_NOTIFICATIONS: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, o.delivered_at, o.dead_at, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE a.request_id = $1 ORDER BY o.id";

pub(crate) const SELECT_RECORD_NOTIFICATIONS: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, o.delivered_at, o.dead_at, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE o.audit_seq = $1 ORDER BY o.id";

pub(crate) const SELECT_OUTBOX_DEAD: &str = "SELECT o.id, o.audit_seq, o.created_at, o.notification, o.attempts, o.delivered_channels, o.last_error, a.body FROM outbox o JOIN audit_log a ON a.seq = o.audit_seq WHERE o.dead_at IS NOT NULL ORDER BY o.dead_at DESC, o.id DESC LIMIT $1";

/// Claims due messages; `{lock}` is `FOR UPDATE SKIP LOCKED` on PostgreSQL.
pub(crate) fn claim_outbox(lock: &str) -> String {
    format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY id LIMIT $4 {lock})"
    )
}

pub(crate) const SETTLE_DELIVERED: &str = "UPDATE outbox SET delivered_at = $3, delivered_channels = $4, attempts = attempts + 1, last_error = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND delivered_at IS NULL AND dead_at IS NULL";

pub(crate) const SETTLE_RETRY: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, delivered_channels = $5, claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND delivered_at IS NULL AND dead_at IS NULL";

pub(crate) const SETTLE_DEAD: &str = "UPDATE outbox SET attempts = attempts + 1, last_error = $3, dead_at = $4, delivered_channels = $5, claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2 AND delivered_at IS NULL AND dead_at IS NULL";

/// The `WHERE` clause of a request listing.
pub(crate) fn requests(filter: &RequestFilter) -> Filter {
    let mut f = Filter::default();
    if !filter.statuses.is_empty() {
        let placeholders: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| f.bind(Bind::Text(s.clone())))
            .collect();
        f.and(format!("status IN ({})", placeholders.join(", ")));
    }
    if let Some(r) = &filter.requester {
        let p = f.bind(Bind::Text(r.to_string()));
        f.and(format!("requester = {p}"));
    }
    if let Some(pb) = &filter.playbook {
        let p = f.bind(Bind::Text(pb.to_string()));
        f.and(format!("playbook = {p}"));
    }
    if let Some(role) = &filter.role {
        let account = f.bind(Bind::Text(role.account().to_string()));
        let name = f.bind(Bind::Text(role.name().to_string()));
        f.and(format!("account = {account} AND role_name = {name}"));
    }
    if filter.review_outstanding {
        let p = f.bind(Bind::Bool(true));
        f.and(format!("review_required = {p}"));
    }
    if let Some(i) = &filter.incident {
        let p = f.bind(Bind::Text(i.to_string()));
        f.and(format!("incident = {p}"));
    }
    f
}

/// A listing of requests matching `filter`, newest first, selecting `columns`: its SQL and
/// binds.
pub(crate) fn request_listing(filter: &RequestFilter, columns: &str) -> (String, Vec<Bind>) {
    let mut f = requests(filter);
    let where_ = f.sql();
    let limit = f.bind(Bind::Int(limit(filter.limit)));
    let sql = format!(
        "SELECT {columns} FROM requests {where_} ORDER BY created_at DESC, id DESC LIMIT {limit}"
    );
    (sql, f.binds)
}

/// The session status of a row at the time bound to `now`, as SQL.
pub(crate) fn session_status(now: &str) -> String {
    format!(
        "CASE WHEN status = 'revoked' THEN 'revoked' WHEN status = 'active' AND grant_end > {now} THEN 'active' ELSE 'expired' END"
    )
}

/// The `WHERE` clause of a session query at `now`, and the placeholder bound to `now`.
pub(crate) fn sessions(query: &SessionQuery, now: OffsetDateTime) -> (Filter, String) {
    let mut f = Filter::default();
    let now = f.bind(Bind::Int(unix_micros(now)));
    f.and("grant_id IS NOT NULL".to_owned());
    if let Some(from) = query.from {
        let p = f.bind(Bind::Int(unix_micros(from)));
        f.and(format!("grant_start >= {p}"));
    }
    if let Some(to) = query.to {
        let p = f.bind(Bind::Int(unix_micros(to)));
        f.and(format!("grant_start < {p}"));
    }
    if let Some(i) = &query.incident {
        let p = f.bind(Bind::Text(i.to_string()));
        f.and(format!("incident = {p}"));
    }
    if let Some(r) = &query.requester {
        let p = f.bind(Bind::Text(r.to_string()));
        f.and(format!("requester = {p}"));
    }
    if let Some(r) = &query.role {
        let p = f.bind(Bind::Text(r.to_string()));
        f.and(format!("role_name = {p}"));
    }
    if let Some(a) = &query.account {
        let p = f.bind(Bind::Text(a.to_string()));
        f.and(format!("account = {p}"));
    }
    if let Some(k) = query.kind {
        let p = f.bind(Bind::Text(k.as_str().to_owned()));
        f.and(format!("kind = {p}"));
    } else if !query.include_drills {
        let p = f.bind(Bind::Text(RequestKind::Drill.as_str().to_owned()));
        f.and(format!("kind <> {p}"));
    }
    if let Some(s) = query.status {
        let clause = match s {
            SessionStatus::Revoked => "status = 'revoked'".to_owned(),
            SessionStatus::Active => format!("status = 'active' AND grant_end > {now}"),
            SessionStatus::Expired => {
                format!("(status = 'expired' OR (status = 'active' AND grant_end <= {now}))")
            }
        };
        f.and(clause);
    }
    (f, now)
}

pub(crate) const UPSERT_GAME_DAY: &str = "INSERT INTO game_days (incident, started_at, doc) VALUES ($1, $2, $3) ON CONFLICT (incident) DO UPDATE SET doc = excluded.doc";
pub(crate) const SELECT_GAME_DAY: &str = "SELECT doc FROM game_days WHERE incident = $1";
pub(crate) const INSERT_DRILL_RUN: &str = "INSERT INTO drill_runs (id, started_at, finished_at, trigger, passed, doc) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const SELECT_DRILL_RUNS: &str = "SELECT doc FROM drill_runs ORDER BY seq DESC LIMIT $1";

pub(crate) const INSERT_REMINDER: &str =
    "INSERT INTO reminders (key, sent_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

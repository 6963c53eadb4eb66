//! A commit as a list of SQL statements, so that a backend can send them the way that costs it
//! least: PostgreSQL one after another, SQLite all in one round trip to its connection's
//! thread (see [`combined_sql`]).
//!
//! Planning happens in two steps. [`prepare`] does everything that does not depend on the
//! audit chain (the request row and its JSON document, the notifications), on the caller's
//! task, before the write is queued. [`Prepared::seal`] then seals the audit records onto the
//! chain head inside the write transaction and returns the statements and what the commit
//! will have done.

use breakglass_core::audit::{ChainHead, ChainKey, StoredAuditRow, seal};
use breakglass_core::ports::{Commit, Committed, Proof, RequestWrite, StoreError};

use crate::codec::{self, Bind, RequestRow};

/// One statement of a write: its SQL (placeholders `$1`..`$n` for its own binds), its binds,
/// what it writes (for errors), and the error to return if it changed no row (a guarded
/// update that lost its race), if that is an error.
pub(crate) struct Step {
    pub sql: &'static str,
    pub binds: Vec<Bind>,
    pub what: String,
    pub unchanged: Option<StoreError>,
}

/// What a write job carries besides its connection.
///
/// The chain head as the write transaction has moved it: read (and on PostgreSQL locked) by
/// the first write of the transaction that appends audit records, kept in memory from
/// there, and written back once, by whoever commits the transaction, if it moved.
///
/// On SQLite, whether the job's savepoint is still to be opened: a job whose writes all go
/// through [`crate::SqliteStore`]'s `run_steps` lets it open the savepoint in the same
/// round trip as its statements.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TxState {
    /// The head as read, then as moved; `None` until read.
    pub head: Option<ChainHead>,
    /// Whether audit records were appended since it was read.
    pub moved: bool,
    /// SQLite: the job's savepoint is not open yet; its first statements must open it.
    pub savepoint_pending: bool,
}

/// A commit with everything done that does not depend on the chain head.
pub(crate) struct Prepared {
    before_audit: Vec<Step>,
    version: Option<u64>,
    audit: Vec<breakglass_core::audit::AuditEntry>,
    /// Notifications: index of their audit record, kind, severity and JSON.
    outbox: Vec<(usize, String, &'static str, String)>,
    now: i64,
    /// The key the audit records are sealed with.
    key: Option<ChainKey>,
}

/// When `commit` was made, in Unix microseconds: the time of its first audit record (a commit
/// without one is refused).
pub(crate) fn commit_time(commit: &Commit) -> Result<i64, StoreError> {
    commit
        .audit
        .first()
        .map(|first| breakglass_core::audit::unix_micros(first.at))
        .ok_or_else(|| StoreError::InvalidCommit("a state change needs an audit record".to_owned()))
}

/// Prepares `commit`, made at `now` (Unix microseconds), for writing.
pub(crate) fn prepare(
    commit: Commit,
    now: i64,
    key: Option<ChainKey>,
) -> Result<Prepared, StoreError> {
    if commit.audit.is_empty() {
        return Err(StoreError::InvalidCommit(
            "a state change needs an audit record".to_owned(),
        ));
    }
    let mut before_audit = Vec::with_capacity(3);
    // The MFA step-up this change spends: a code is accepted once.
    // A TOTP code is accepted once; a passkey's ceremony is answered once, and the passkey's
    // advanced signature counter is kept.
    if let Some(step_up) = &commit.step_up {
        let who = step_up.username.to_string();
        match &step_up.proof {
            Proof::Totp { step } => before_audit.push(Step {
                sql: crate::query::USE_TOTP_STEP,
                binds: vec![Bind::Text(who.clone()), Bind::Int(*step)],
                what: "users".to_owned(),
                unchanged: Some(StoreError::StepUpUsed(who.clone())),
            }),
            Proof::Passkey {
                ceremony,
                credential_id,
                credential,
            } => {
                before_audit.push(Step {
                    sql: crate::query::TAKE_CEREMONY,
                    binds: vec![
                        Bind::Text(ceremony.clone()),
                        Bind::Text(who.clone()),
                        Bind::Text(step_up.purpose.clone()),
                        Bind::Int(now),
                    ],
                    what: "webauthn ceremonies".to_owned(),
                    unchanged: Some(StoreError::StepUpUsed(who.clone())),
                });
                before_audit.push(Step {
                    sql: crate::query::USE_PASSKEY,
                    binds: vec![
                        Bind::Text(credential_id.clone()),
                        Bind::Text(who.clone()),
                        Bind::Text(credential.clone()),
                        Bind::Int(now),
                    ],
                    what: "passkeys".to_owned(),
                    unchanged: Some(StoreError::StepUpUsed(who.clone())),
                });
            }
        }
        // A right code spent ends the user's run of wrong ones.
        before_audit.push(Step {
            sql: crate::query::CLEAR_SECOND_FACTOR_FAILURES,
            binds: vec![Bind::Text(step_up.username.to_string())],
            what: "second-factor failures".to_owned(),
            unchanged: None,
        });
    }
    let mut version = None;
    if let Some(write) = &commit.write {
        let (request, expected) = match write {
            RequestWrite::Insert(r) => (r, None),
            RequestWrite::Update {
                request,
                expected_version,
            } => (request, Some(*expected_version)),
        };
        let row = RequestRow::new(request)?;
        let new_version = expected.map_or(Ok(1), |v| {
            v.checked_add(1)
                .ok_or_else(|| StoreError::InvalidCommit("version overflow".to_owned()))
        })?;
        let what = match &row.grant_id {
            Some(g) if expected.is_some() => format!("grant `{g}`"),
            _ => format!("request `{}`", row.id),
        };
        let mut binds = vec![
            Bind::Text(row.id),
            Bind::Int(codec::version(new_version)?),
            Bind::Text(row.kind.to_owned()),
            Bind::Text(row.status.to_owned()),
            Bind::Text(row.requester),
            Bind::Text(row.playbook),
            Bind::Text(row.role_name),
            Bind::Text(row.account),
            Bind::Text(row.incident),
            Bind::Int(row.created_at),
            Bind::OptInt(row.due_at),
            Bind::OptText(row.grant_id),
            Bind::OptInt(row.grant_start),
            Bind::OptInt(row.grant_end),
            Bind::Bool(row.review_required),
            Bind::Text(row.doc),
            Bind::Int(now),
        ];
        let (sql, unchanged) = match expected {
            Some(expected) => {
                binds.push(Bind::Int(codec::version(expected)?));
                (
                    crate::query::UPDATE_REQUEST,
                    Some(StoreError::Conflict(request.id.clone())),
                )
            }
            None => (crate::query::INSERT_REQUEST, None),
        };
        before_audit.push(Step {
            sql,
            binds,
            what,
            unchanged,
        });
        version = Some(new_version);
    }
    let mut outbox = Vec::with_capacity(commit.outbox.len());
    for n in &commit.outbox {
        if n.audit_index >= commit.audit.len() {
            return Err(StoreError::InvalidCommit(format!(
                "notification `{}` points at audit entry {} of {}",
                n.kind,
                n.audit_index,
                commit.audit.len()
            )));
        }
        let json = serde_json::to_string(n)
            .map_err(|e| StoreError::InvalidCommit(format!("notification: {e}")))?;
        outbox.push((n.audit_index, n.kind.clone(), n.severity.as_str(), json));
    }
    Ok(Prepared {
        before_audit,
        version,
        audit: commit.audit,
        outbox,
        now,
        key,
    })
}

impl Prepared {
    /// Seals the audit records onto `head` and returns the statements, in order, and what
    /// the commit does once they have all run.
    pub(crate) fn seal(self, head: ChainHead) -> Result<(Vec<Step>, Committed), StoreError> {
        let Self {
            before_audit: mut steps,
            version,
            audit,
            outbox,
            now,
            key,
        } = self;
        steps.reserve(audit.len() + outbox.len());
        let mut head = head;
        let mut seqs = Vec::with_capacity(audit.len());
        for entry in audit {
            let sealed = seal(&head, entry, key.as_ref())
                .map_err(|e| StoreError::InvalidCommit(format!("audit record: {e}")))?;
            let row = StoredAuditRow::from_sealed(&sealed);
            steps.push(Step {
                sql: crate::query::INSERT_AUDIT,
                what: format!("audit record #{}", row.seq),
                binds: vec![
                    Bind::Int(row.seq),
                    Bind::Int(row.at_micros),
                    Bind::Text(row.kind),
                    Bind::OptText(row.request),
                    Bind::OptText(row.actor),
                    Bind::Text(row.body),
                    Bind::Text(row.prev_hash),
                    Bind::Text(row.hash),
                ],
                unchanged: None,
            });
            head = sealed.head();
            seqs.push(sealed.record.seq);
        }
        for (index, kind, severity, json) in outbox {
            let Some(seq) = seqs.get(index) else {
                return Err(StoreError::InvalidCommit(
                    "notification without its audit record".to_owned(),
                ));
            };
            let seq = i64::try_from(*seq)
                .map_err(|_| StoreError::InvalidCommit(format!("audit seq {seq}")))?;
            steps.push(Step {
                sql: crate::query::INSERT_OUTBOX,
                what: format!("notification `{kind}`"),
                binds: vec![
                    Bind::Int(seq),
                    Bind::Int(now),
                    Bind::Text(kind),
                    Bind::Text(severity.to_owned()),
                    Bind::Text(json),
                    Bind::Int(now),
                ],
                unchanged: None,
            });
        }
        Ok((
            steps,
            Committed {
                version,
                audit_seqs: seqs,
                head,
            },
        ))
    }
}

/// The statements of `steps` as one SQL text, `;`-separated, with each statement's
/// placeholders renumbered after the binds of the statements before it (SQLite numbers a
/// `$n` placeholder by its `n` across the whole text), and all the binds in that order.
pub(crate) fn combined_sql(steps: &[Step]) -> String {
    let mut sql = String::with_capacity(steps.iter().map(|s| s.sql.len() + 8).sum());
    let mut offset = 0;
    for step in steps {
        renumber(step.sql, offset, &mut sql);
        sql.push_str(";\n");
        offset += step.binds.len();
    }
    sql
}

/// Appends `sql` to `out` with every `$n` placeholder made `$(n + offset)`.
fn renumber(sql: &str, offset: usize, out: &mut String) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let digits = tail
            .get(1..)
            .unwrap_or("")
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        match tail.get(1..=digits).and_then(|d| d.parse::<usize>().ok()) {
            Some(n) if digits > 0 => {
                out.push('$');
                out.push_str(&(n + offset).to_string());
                rest = tail.get(1 + digits..).unwrap_or("");
            }
            _ => {
                out.push('$');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn step(sql: &'static str, binds: usize) -> Step {
        Step {
            sql,
            binds: (0..binds)
                .map(|i| Bind::Int(i64::try_from(i).unwrap()))
                .collect(),
            what: String::new(),
            unchanged: None,
        }
    }

    #[test]
    fn placeholders_are_numbered_across_the_whole_text() {
        let steps = [
            step("UPDATE t SET a = $2 WHERE b = $1", 2),
            step("INSERT INTO u VALUES ($1, $3, $2, '$')", 3),
            step("DELETE FROM v WHERE $1 = $10", 10),
        ];
        assert_eq!(
            combined_sql(&steps),
            "UPDATE t SET a = $2 WHERE b = $1;\nINSERT INTO u VALUES ($3, $5, $4, '$');\nDELETE FROM v WHERE $6 = $15;\n"
        );
    }

    #[test]
    fn the_shared_statements_have_no_dollar_but_their_placeholders() {
        for sql in [
            crate::query::INSERT_REQUEST,
            crate::query::UPDATE_REQUEST,
            crate::query::INSERT_AUDIT,
            crate::query::INSERT_OUTBOX,
            crate::query::USE_TOTP_STEP,
        ] {
            let numbers = |text: &str| -> Vec<usize> {
                text.split('$')
                    .skip(1)
                    .map(|t| {
                        let d: String = t.chars().take_while(char::is_ascii_digit).collect();
                        d.parse().unwrap()
                    })
                    .collect()
            };
            let mut out = String::new();
            renumber(sql, 100, &mut out);
            let before = numbers(sql);
            assert!(!before.is_empty(), "{sql}");
            let after: Vec<usize> = before.iter().map(|n| n + 100).collect();
            assert_eq!(numbers(&out), after, "{out}");
        }
    }
}

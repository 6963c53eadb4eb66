//! The hash chain: sealing new records and verifying stored ones.
//!
//! Each record's body is its canonical JSON, which includes its sequence number and the
//! previous record's hash. Its hash is the HMAC-SHA256 of that body under the chain key
//! ([`ChainKey`], held outside the database like the TOTP sealing key), and the body says
//! so (`"seal": "hmac-sha256"`); records written before the chain was keyed are the plain
//! SHA-256 of their body, and stay verifiable. Once one keyed record exists, an unkeyed one
//! after it is a forgery. A store keeps the chain head (last sequence number and hash)
//! beside the records, updated in the same transaction, so deleting the newest record is
//! caught as well as editing, deleting, inserting or reordering any other.
//!
//! What the key adds: someone who can write the database but does not hold the key cannot
//! edit a record or rebuild the chain after a deletion. What it cannot stop is cutting the
//! chain short (delete the last records, point the head at the new last one): an
//! [`Anchor`] (a record's sequence number and hash, written periodically where the database's
//! writer cannot change it, e.g. S3 under Object Lock) catches that, and stays valid however
//! long the chain grows.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;

use super::AuditEvent;
use crate::canonical::{CanonicalError, Sha256Digest, canonicalize, to_canonical_json};
use crate::model::Username;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A person.
    User(Username),
    /// The broker itself (timeouts, expiry).
    System,
}

impl Actor {
    /// The username, for a person.
    pub fn username(&self) -> Option<&Username> {
        match self {
            Self::User(u) => Some(u),
            Self::System => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => f.write_str(u.as_str()),
            Self::System => f.write_str("system"),
        }
    }
}

/// An event about to be appended: everything but its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who caused it.
    pub actor: Actor,
    /// The version the request reached with this change (none for refusals).
    pub request_version: Option<u64>,
    /// What happened.
    pub event: AuditEvent,
}

/// A record as hashed: the entry plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    /// 1-based position in the chain.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// Who caused it.
    pub actor: Actor,
    /// The version the request reached with this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_version: Option<u64>,
    /// What happened.
    pub event: AuditEvent,
    /// The hash of the previous record ([`Sha256Digest::ZERO`] for the first).
    pub prev_hash: Sha256Digest,
    /// How the record's hash is computed: absent for the plain SHA-256 of records written
    /// before the chain was keyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<SealAlgorithm>,
}

/// How a keyed record's hash is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SealAlgorithm {
    /// HMAC-SHA256 of the canonical body under the chain key.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

/// The chain key: 32 bytes held outside the database, and the last record written before
/// the chain was keyed (0 for a chain keyed from its start). `Debug` never shows the bytes.
#[derive(Clone)]
pub struct ChainKey {
    bytes: [u8; 32],
    keyed_after: u64,
}

impl ChainKey {
    /// A key from its 32 bytes, for a chain keyed from its first record.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self {
            bytes,
            keyed_after: 0,
        }
    }

    /// A key from its 64 hex digits (as `breakglass audit key` prints it).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        Sha256Digest::from_hex(text.trim())
            .map(|d| Self::new(*d.as_bytes()))
            .map_err(|e| format!("an audit key is 64 hex digits: {e}"))
    }

    /// The key's 64 hex digits, for handing the key (and only it) to an auditor.
    pub fn expose_hex(&self) -> String {
        Sha256Digest::from_bytes(self.bytes).to_hex()
    }

    /// The same key for a chain that was keyed on upgrade: records up to `seq` may be
    /// unkeyed, every later one must be keyed. The number comes from outside the database
    /// (the operator's records of the upgrade), or someone without the key could rewrite the
    /// whole chain as unkeyed records.
    #[must_use]
    pub const fn keyed_after(mut self, seq: u64) -> Self {
        self.keyed_after = seq;
        self
    }

    /// The last record that may be unkeyed.
    pub const fn unkeyed_until(&self) -> u64 {
        self.keyed_after
    }

    fn hmac(&self, parts: &[&[u8]]) -> Sha256Digest {
        // HMAC takes a key of any length, so this cannot fail for 32 bytes.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        for part in parts {
            mac.update(part);
        }
        Sha256Digest::from_bytes(mac.finalize().into_bytes().into())
    }

    fn mac(&self, body: &str) -> Sha256Digest {
        self.hmac(&[body.as_bytes()])
    }

    /// The MAC that makes an anchor the broker's: someone who can write where anchors are
    /// kept but does not hold the key cannot make one. (Its input starts with a label no
    /// record body, which is a JSON object, can start with.)
    pub fn anchor_mac(&self, anchor: &Anchor) -> Sha256Digest {
        self.hmac(&[
            b"breakglass audit anchor v1\n",
            anchor.to_string().as_bytes(),
        ])
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

/// A record's sequence number and hash, kept outside the database: the chain must still
/// hold that record, with that hash, however long it has grown since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Anchor {
    /// The record's sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Sha256Digest,
}

impl From<ChainHead> for Anchor {
    fn from(head: ChainHead) -> Self {
        Self {
            seq: head.seq,
            hash: head.hash,
        }
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// Why an anchor's text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an anchor is `SEQ:HASH` (a record number, a colon and 64 hex digits, as `audit verify` prints it): {0}"
)]
pub struct AnchorParseError(String);

impl std::str::FromStr for Anchor {
    type Err = AnchorParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| AnchorParseError(format!("`{s}` has no colon")))?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| AnchorParseError(format!("`{seq}` is not a record number")))?;
        if seq == 0 {
            return Err(AnchorParseError("records are numbered from 1".to_owned()));
        }
        let hash =
            Sha256Digest::from_hex(hash).map_err(|e| AnchorParseError(format!("`{hash}`: {e}")))?;
        Ok(Self { seq, hash })
    }
}

/// The last record of a chain: its sequence number and hash. The empty chain is
/// `ChainHead::GENESIS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The last sequence number (0 when empty).
    pub seq: u64,
    /// The last hash ([`Sha256Digest::ZERO`] when empty).
    pub hash: Sha256Digest,
}

impl ChainHead {
    /// The head of an empty chain.
    pub const GENESIS: Self = Self {
        seq: 0,
        hash: Sha256Digest::ZERO,
    };
}

/// A record ready to be stored: the typed record, its canonical body and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    /// The record.
    pub record: AuditRecord,
    /// Its canonical JSON, exactly as hashed and stored.
    pub body: String,
    /// HMAC-SHA256 (keyed) or SHA-256 (unkeyed) of `body`.
    pub hash: Sha256Digest,
}

impl SealedRecord {
    /// The head of the chain once this record is appended.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.record.seq,
            hash: self.hash,
        }
    }
}

/// Appends `entry` after `head`, keyed with `key` (unkeyed without one: only stores opened
/// by tools and tests that hold no key write such records).
pub fn seal(
    head: &ChainHead,
    entry: AuditEntry,
    key: Option<&ChainKey>,
) -> Result<SealedRecord, CanonicalError> {
    let record = AuditRecord {
        seq: head.seq.saturating_add(1),
        at: entry.at,
        actor: entry.actor,
        request_version: entry.request_version,
        event: entry.event,
        prev_hash: head.hash,
        seal: key.map(|_| SealAlgorithm::HmacSha256),
    };
    let body = to_canonical_json(&record)?;
    let hash = match key {
        Some(key) => key.mac(&body),
        None => Sha256Digest::of(body.as_bytes()),
    };
    Ok(SealedRecord { record, body, hash })
}

/// An audit row as a store holds it: the hashed body plus the columns kept beside it for
/// queries, all of which verification cross-checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditRow {
    /// The sequence-number column.
    pub seq: i64,
    /// The time column, in Unix microseconds.
    pub at_micros: i64,
    /// The event-type column.
    pub kind: String,
    /// The request-id column.
    pub request: Option<String>,
    /// The actor column (username, or none for the system).
    pub actor: Option<String>,
    /// The canonical JSON body.
    pub body: String,
    /// The previous-hash column.
    pub prev_hash: String,
    /// The hash column.
    pub hash: String,
}

impl StoredAuditRow {
    /// The row a store writes for `sealed`.
    pub fn from_sealed(sealed: &SealedRecord) -> Self {
        let r = &sealed.record;
        Self {
            seq: i64::try_from(r.seq).unwrap_or(i64::MAX),
            at_micros: unix_micros(r.at),
            kind: r.event.kind().to_owned(),
            request: r.event.request().map(ToString::to_string),
            actor: r.actor.username().map(ToString::to_string),
            body: sealed.body.clone(),
            prev_hash: r.prev_hash.to_hex(),
            hash: sealed.hash.to_hex(),
        }
    }
}

/// Unix microseconds of `t` (saturating far outside the representable range).
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The body is not a readable audit record.
    Unreadable(String),
    /// The body is not in canonical form.
    NotCanonical,
    /// The body does not hash to the stored hash: the record was edited.
    HashMismatch,
    /// The first keyed record checked does not match its keyed hash: the key given is not
    /// the one that sealed the chain, or the record was edited (nothing yet proves the key).
    KeyMismatch,
    /// The body's sequence number differs from the row's: rows were reordered or renumbered.
    SeqMismatch { body: u64 },
    /// The sequence number is not the next one: records were deleted, inserted or reordered.
    OutOfSequence { expected: u64 },
    /// The record does not link to the previous record's hash.
    BrokenLink,
    /// A stored column disagrees with the hashed body.
    ColumnMismatch { column: &'static str },
    /// The stored chain head is not the last record: records were deleted from or appended
    /// to the end.
    HeadMismatch { head_seq: u64, last_seq: u64 },
    /// Records exist but the chain head is missing, or the head names records that do not.
    HeadMissing,
    /// The record is keyed and no key was given: it cannot be checked.
    KeyRequired,
    /// An unkeyed record after keyed ones: written by someone without the key.
    UnkeyedAfterKeyed,
    /// The record's hash is not the one an anchor holds for it.
    AnchorMismatch {
        /// The anchored hash.
        anchored: Sha256Digest,
    },
    /// The chain ends before a record an anchor names: records were cut off the end (and
    /// the head moved back).
    Truncated {
        /// The anchored record.
        anchor_seq: u64,
        /// The chain's last record.
        last_seq: u64,
    },
}

/// The first bad record of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.seq, .kind))]
pub struct ChainProblem {
    /// The sequence number of the bad record (the row's column), when there is one.
    pub seq: Option<i64>,
    /// What is wrong.
    pub kind: ProblemKind,
}

fn describe(seq: &Option<i64>, kind: &ProblemKind) -> String {
    let at = seq.map_or_else(|| "chain head".to_owned(), |s| format!("record #{s}"));
    let what = match kind {
        ProblemKind::Unreadable(e) => format!("its body is not a readable audit record ({e})"),
        ProblemKind::NotCanonical => "its body is not in canonical form (edited)".to_owned(),
        ProblemKind::HashMismatch => "its hash does not match its contents (edited)".to_owned(),
        ProblemKind::KeyMismatch => {
            "its keyed hash (HMAC-SHA256) does not match: the audit key given is not the one that sealed the chain, or the record was edited"
                .to_owned()
        }
        ProblemKind::SeqMismatch { body } => format!(
            "its body says it is record #{body} (records reordered or renumbered)"
        ),
        ProblemKind::OutOfSequence { expected } => format!(
            "expected record #{expected} here (records deleted, inserted or reordered)"
        ),
        ProblemKind::BrokenLink => {
            "it does not link to the previous record's hash (a record before it was deleted, inserted or reordered)"
                .to_owned()
        }
        ProblemKind::ColumnMismatch { column } => {
            format!("its `{column}` column disagrees with its hashed body (edited)")
        }
        ProblemKind::HeadMismatch { head_seq, last_seq } if head_seq == last_seq => format!(
            "the stored head's hash is not record #{last_seq}'s (the last record was replaced)"
        ),
        ProblemKind::HeadMismatch { head_seq, last_seq } => format!(
            "the stored head names record #{head_seq} but the last record is #{last_seq} (records deleted from or appended to the end)"
        ),
        ProblemKind::HeadMissing => "the stored chain head is missing".to_owned(),
        ProblemKind::KeyRequired => "it is keyed (HMAC-SHA256) and no audit key was given".to_owned(),
        ProblemKind::UnkeyedAfterKeyed => {
            "it is not keyed but must be (written by someone without the audit key; if the chain was keyed on upgrade, name its last unkeyed record with `--audit-keyed-after`)"
                .to_owned()
        }
        ProblemKind::AnchorMismatch { anchored } => format!(
            "its hash is not the anchored {anchored} (the record, or one before it, was rewritten)"
        ),
        ProblemKind::Truncated {
            anchor_seq,
            last_seq,
        } => format!(
            "an anchor names record #{anchor_seq} but the chain ends at #{last_seq} (records cut off the end)"
        ),
    };
    format!("{at}: {what}")
}

/// A chain that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedChain {
    /// How many records it holds.
    pub records: u64,
    /// How many of them (the first ones) were written before the chain was keyed.
    pub unkeyed: u64,
    /// How many anchors were checked.
    pub anchors: usize,
    /// Its head.
    pub head: ChainHead,
}

/// Checks records one at a time, in sequence order, so a chain of any length verifies in
/// constant memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    key: Option<ChainKey>,
    anchors: Vec<Anchor>,
    head: ChainHead,
    records: u64,
    unkeyed: u64,
    keyed_seen: bool,
}

impl ChainVerifier {
    /// A verifier expecting record #1, checking keyed records with `key`.
    pub fn new(key: Option<ChainKey>) -> Self {
        Self {
            key,
            anchors: Vec::new(),
            head: ChainHead::GENESIS,
            records: 0,
            unkeyed: 0,
            keyed_seen: false,
        }
    }

    /// A verifier expecting the record after `head`, which was verified before (an
    /// anchor): checks the records written since.
    pub fn resume(key: Option<ChainKey>, head: ChainHead) -> Self {
        Self {
            head,
            ..Self::new(key)
        }
    }

    /// Also requires each anchor's record to be in the chain with the anchored hash.
    #[must_use]
    pub fn with_anchors(mut self, anchors: impl IntoIterator<Item = Anchor>) -> Self {
        self.anchors.extend(anchors);
        self
    }

    /// Checks the next row (rows must come in ascending `seq` order) and returns its record.
    pub fn push(&mut self, row: &StoredAuditRow) -> Result<AuditRecord, ChainProblem> {
        let problem = |kind| ChainProblem {
            seq: Some(row.seq),
            kind,
        };
        let value: serde_json::Value = serde_json::from_str(&row.body)
            .map_err(|e| problem(ProblemKind::Unreadable(e.to_string())))?;
        let canonical =
            canonicalize(&value).map_err(|e| problem(ProblemKind::Unreadable(e.to_string())))?;
        if canonical != row.body {
            return Err(problem(ProblemKind::NotCanonical));
        }
        let record: AuditRecord = serde_json::from_value(value)
            .map_err(|e| problem(ProblemKind::Unreadable(e.to_string())))?;
        let hash = match (record.seal, &self.key) {
            (Some(SealAlgorithm::HmacSha256), Some(key)) => key.mac(&row.body),
            (Some(SealAlgorithm::HmacSha256), None) => {
                return Err(problem(ProblemKind::KeyRequired));
            }
            (None, key)
                if self.keyed_seen || key.as_ref().is_some_and(|k| record.seq > k.keyed_after) =>
            {
                return Err(problem(ProblemKind::UnkeyedAfterKeyed));
            }
            (None, _) => Sha256Digest::of(row.body.as_bytes()),
        };
        if hash.to_hex() != row.hash {
            // Until a keyed record has matched, a mismatch may be the key's fault.
            let keyed = record.seal.is_some();
            return Err(problem(if keyed && !self.keyed_seen {
                ProblemKind::KeyMismatch
            } else {
                ProblemKind::HashMismatch
            }));
        }
        if i64::try_from(record.seq).ok() != Some(row.seq) {
            return Err(problem(ProblemKind::SeqMismatch { body: record.seq }));
        }
        let expected = self.head.seq.saturating_add(1);
        if record.seq != expected {
            return Err(problem(ProblemKind::OutOfSequence { expected }));
        }
        if record.prev_hash != self.head.hash || row.prev_hash != self.head.hash.to_hex() {
            return Err(problem(ProblemKind::BrokenLink));
        }
        let column = |column| problem(ProblemKind::ColumnMismatch { column });
        if unix_micros(record.at) != row.at_micros {
            return Err(column("at"));
        }
        if record.event.kind() != row.kind {
            return Err(column("kind"));
        }
        if record.event.request().map(ToString::to_string) != row.request {
            return Err(column("request_id"));
        }
        if record.actor.username().map(ToString::to_string) != row.actor {
            return Err(column("actor"));
        }
        if let Some(anchor) = self.anchors.iter().find(|a| a.seq == record.seq)
            && anchor.hash != hash
        {
            return Err(problem(ProblemKind::AnchorMismatch {
                anchored: anchor.hash,
            }));
        }
        if record.seal.is_some() {
            self.keyed_seen = true;
        } else {
            self.unkeyed = self.unkeyed.saturating_add(1);
        }
        self.head = ChainHead {
            seq: record.seq,
            hash,
        };
        self.records = self.records.saturating_add(1);
        Ok(record)
    }

    /// The last record checked so far (the genesis head before any).
    pub fn last(&self) -> ChainHead {
        self.head
    }

    /// Finishes verification against the stored chain head (`None` when the store has none)
    /// and the anchors.
    pub fn finish(self, stored_head: Option<ChainHead>) -> Result<VerifiedChain, ChainProblem> {
        let last = self.head;
        match stored_head {
            None if last.seq == 0 => {}
            None => {
                return Err(ChainProblem {
                    seq: None,
                    kind: ProblemKind::HeadMissing,
                });
            }
            Some(head) if head == last => {}
            Some(head) => {
                return Err(ChainProblem {
                    seq: None,
                    kind: ProblemKind::HeadMismatch {
                        head_seq: head.seq,
                        last_seq: last.seq,
                    },
                });
            }
        }
        if let Some(anchor) = self
            .anchors
            .iter()
            .filter(|a| a.seq > last.seq)
            .max_by_key(|a| a.seq)
        {
            return Err(ChainProblem {
                seq: None,
                kind: ProblemKind::Truncated {
                    anchor_seq: anchor.seq,
                    last_seq: last.seq,
                },
            });
        }
        Ok(VerifiedChain {
            records: self.records,
            unkeyed: self.unkeyed,
            anchors: self.anchors.len(),
            head: last,
        })
    }
}

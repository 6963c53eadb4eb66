//! The audit log: typed events, the hash chain that makes the log tamper-evident, and the
//! export formats.
//!
//! The store appends records (sealing each with [`seal`] inside the transaction that makes
//! the state change) and hands stored rows back to [`ChainVerifier`] for checking.

mod chain;
pub mod events;
mod export;

pub use chain::{
    Actor, Anchor, AnchorParseError, AuditEntry, AuditRecord, ChainHead, ChainKey, ChainProblem,
    ChainVerifier, ProblemKind, SealAlgorithm, SealedRecord, StoredAuditRow, VerifiedChain, seal,
    unix_micros,
};
pub use events::{AuditEvent, Severity};
pub use export::{jsonl_line, ocsf_event};

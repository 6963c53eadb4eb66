//! CloudTrail records and what breakglass does with them, as a pure library.
//!
//! Break-glass access is only safe if every use of it is seen: this crate reads CloudTrail
//! deliveries over `impl Read` ([`read`]), evaluates CloudWatch Logs filter patterns
//! faithfully ([`pattern`]), runs alert rules and alarms ([`rules`], [`scan`]), removes
//! duplicate deliveries in bounded memory ([`dedupe`]) and links every event to the session
//! that made it ([`session`]).
//!
//! Architecture invariant: this crate does no I/O of its own (callers hand it readers), spawns
//! no threads (parallel callers merge [`scan::ScanSummary`] and [`session::Linker`] values)
//! and never reads the clock; every decompression is size-capped.

pub mod dedupe;
pub mod event;
mod json;
pub mod pattern;
pub mod read;
pub mod rules;
pub mod scan;
pub mod session;
pub mod time;

pub use event::{Event, EventError};
pub use json::walk::Node;
pub use pattern::{FilterPattern, PatternError};

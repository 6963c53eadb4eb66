//! Integration tests of breakglass-core: the transition corpus, the Cedar rules, revocation,
//! the audit chain, property tests of the state machine, and the Teams cards against the
//! Adaptive Card schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod activity;
mod chain;
mod drills;
mod narrowing;
mod props;
mod revocation;
mod rules;
mod support;
mod teams_cards;
mod transitions;

//! Integration tests of breakglass-core: the transition corpus, the Cedar rules, revocation,
//! the audit chain and property tests of the state machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod chain;
mod props;
mod revocation;
mod rules;
mod support;
mod transitions;

//! Integration tests of breakglass-core: the config loader, the templates and the renderers,
//! the transition corpus, the Cedar rules, the audit chain and property tests of the state machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod chain;
mod config;
mod props;
mod render;
mod revocation;
mod rules;
mod support;
mod templates;
mod transitions;

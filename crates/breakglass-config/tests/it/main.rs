//! Integration tests of breakglass-config: the config loader against the example and the error
//! corpus, the templates (linted, and checked against the action catalog) and the renderers
//! (insta snapshots).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod activity;
mod config;
mod guardrails;
mod render;
mod templates;

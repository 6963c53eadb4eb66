//! Integration tests of the `breakglass` binary and of workspace-wide invariants.
//!
//! One test binary per crate keeps link times down; each topic is a module.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod access_as_code;
mod accounts;
mod anchor;
mod apply_errors;
mod asking;
mod audit;
mod broker_e2e;
mod browser;
mod client;
mod drill;
mod extension;
mod generate;
mod notify;
mod policy;
mod scan;
mod scan_s3;
mod sso;
mod support;
mod tidy;
mod two_brokers;

//! The broker's integration tests: authentication and the HTTP API, over a real SQLite store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test helpers fail loudly by design"
)]

mod api;
mod auth;

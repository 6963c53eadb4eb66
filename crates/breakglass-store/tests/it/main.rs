//! The store test suite. Every test in `suite` and `concurrency` runs on SQLite, and on
//! PostgreSQL when `BREAKGLASS_TEST_POSTGRES_URL` is set (each test in its own schema).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test helpers fail loudly by design"
)]

mod access;
mod chat;
mod concurrency;
mod crash;
mod drills;
mod files;
mod group;
mod second_factor;
mod sessions;
mod suite;
mod support;

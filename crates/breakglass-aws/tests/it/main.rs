//! Integration tests of breakglass-aws against the moto emulator (skipped with a reason when
//! the repository's .venv is missing; failing when BREAKGLASS_REQUIRE_EMULATOR=1).
//!
//! One test binary per crate keeps link times down; each topic is a module.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod cloud;
mod emulator;
mod preflight;
mod provision;
mod sts_errors;
mod trail;

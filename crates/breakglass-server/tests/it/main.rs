//! The broker's integration tests: authentication and its limits, the HTTP API and the web
//! console over a real store, the access service end to end against the AWS emulator, the
//! expiry worker (restarts, leases, several replicas), and the notification worker against
//! local peers (webhook and Slack receivers, an SMTP sink, SNS on the emulator).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test helpers fail loudly by design"
)]

mod activity;
mod api;
mod auth;
mod console;
mod drills;
mod end_to_end;
mod game_day;
mod identity;
mod layers;
mod leaks;
mod limits;
mod narrowing;
mod notifier;
mod passkeys;
mod receivers;
mod reports;
mod revocation;
mod slack;
mod sso;
mod step_up;
mod support;
mod worker;

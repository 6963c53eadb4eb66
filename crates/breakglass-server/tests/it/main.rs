//! Integration tests of the broker process: the notification worker against local peers
//! (webhook and Slack receivers, an SMTP sink, SNS on the emulator).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test helpers fail loudly by design"
)]

mod notify;
mod receivers;

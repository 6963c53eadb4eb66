//! Integration tests of breakglass-server: the access service end to end against the AWS
//! emulator, and the expiry worker (restarts, leases, several replicas).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod end_to_end;
mod support;
mod worker;

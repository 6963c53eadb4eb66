//! Integration tests of breakglass-trail: the filter-pattern corpus, readers, rules, the
//! scanner and the session linker, on hand-written data and on the shared CloudTrail dataset.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly by design"
)]

mod corpus;
mod invictus;
mod json;
mod read;
mod roundtrip;
mod rules;
mod scan;
mod sessions;

//! The breakglass domain, as a pure library.
//!
//! Who may get which access, when, for how long and with whose approval, and the record that
//! proves it. The outside world (store, AWS, clock, notifications) is reached only through
//! the ports this crate defines, so every rule is testable without a network or a real clock.
//! The configured world arrives as a [`model::Catalog`]; the config file it comes from, the
//! templates and the AWS resources built from them are `breakglass-config`'s, which this
//! crate does not depend on.
//!
//! Architecture invariant: this crate does no I/O and never reads the clock.

pub mod accounts;
pub mod activity;
pub mod app;
pub mod audit;
pub mod aws_limits;
pub mod broker;
pub mod canonical;
pub mod chat;
pub mod cloud;
pub mod delivery;
pub mod drill;
pub mod game_day;
pub mod issuance;
pub mod model;
pub mod outbox;
pub mod permissions;
pub mod ports;
pub mod present;
pub mod refusals;
pub mod reminders;
pub mod report;
pub mod request;
pub mod revocation;
pub mod rules;
pub mod session;

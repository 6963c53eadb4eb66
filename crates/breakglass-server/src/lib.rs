//! The broker process: HTTP API, web console, authentication and background workers.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers are thin: they authenticate,
//! call the domain through the store, and render the result.

pub mod access;
pub mod api;
pub mod auth;
pub mod clock;
pub mod console;
pub mod hex;
pub mod notify;
pub mod random;
pub mod serve;
pub mod trace;
pub mod worker;

pub use access::{Access, AccessError};
pub use clock::{RandomIds, SystemClock};
pub use worker::{Worker, WorkerConfig};

//! The broker process: HTTP API, web console, authentication and background workers.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers are thin: they authenticate,
//! call the domain through the store, and render the result.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod console;
pub mod hex;
pub mod notify;
pub mod random;
pub mod serve;
pub mod worker;

pub use clock::{RandomIds, SystemClock};
pub use worker::{Worker, WorkerConfig};

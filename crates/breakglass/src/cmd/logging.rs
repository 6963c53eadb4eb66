//! The broker's log: `tracing` events from every crate to stderr, as text for people or as
//! JSON lines for log collectors, filtered by `RUST_LOG` (default `info`). Installed once by
//! `breakglass serve`; the other commands report on stdout/stderr directly and log nothing.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, with its spans (`request{id=… path=…}`).
    Text,
    /// One JSON object per event: `timestamp`, `level`, `fields`, `target`, `span`, `spans`.
    Json,
}

/// Installs the process's subscriber: `format` on stderr, levels from `RUST_LOG`.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()
        .context("RUST_LOG is not a valid log filter (e.g. `info`, `breakglass_server=debug`)")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    installed
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot install the logger")
}

//! `breakglass audit verify|export`: check the broker's hash-chained audit log and export it
//! for auditors and security data lakes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use std::ops::ControlFlow;

use anyhow::Context as _;
use breakglass_core::app::{self, Walk, WalkError};
use breakglass_core::audit::{jsonl_line, ocsf_event};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::ports::StoreError;
use breakglass_store::{OpenError, SqlStore, redact_url};

use crate::exit::{DependencyFailed, Outcome};

/// Check or export the audit log.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Verify the hash chain: detects any edited, deleted, inserted or reordered record and
    /// names the first bad one. Exit 0 when intact, 1 when broken.
    Verify(VerifyArgs),
    /// Export the audit log, verifying the chain as it goes (stops with exit 1 at the first
    /// bad record, after writing the good ones before it).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct StoreArg {
    /// The broker's store: `sqlite://PATH`, a file path, or `postgres://USER@HOST/DB`.
    #[arg(long, env = "BREAKGLASS_STORE", value_name = "URL")]
    store: String,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Also require the chain to end at this hash (a head anchored outside the database,
    /// e.g. from an earlier `verify` or an S3 Object Lock copy). Catches a rewritten chain.
    #[arg(long, value_name = "SHA256")]
    expect_head: Option<String>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// One JSON object per line: each record exactly as hashed, plus its `hash`.
    Jsonl,
    /// One OCSF "User Access Management" (class 3005) event per line.
    Ocsf,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match &args.command {
            AuditCommand::Verify(a) => verify(a).await,
            AuditCommand::Export(a) => export(a).await,
        }
    })
}

pub(crate) async fn open(url: &str) -> anyhow::Result<SqlStore> {
    match SqlStore::open_existing(url).await {
        Ok(store) => Ok(store),
        // The database is there but unreachable or unreadable: a dependency failed.
        Err(e @ OpenError::Connect { .. }) => Err(DependencyFailed(anyhow::Error::new(e)).into()),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

fn store_failed(e: StoreError, url: &str) -> anyhow::Error {
    DependencyFailed(
        anyhow::Error::new(e).context(format!("reading the audit log of `{}`", redact_url(url))),
    )
    .into()
}

async fn verify(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let url = &args.store.store;
    let expected = args
        .expect_head
        .as_deref()
        .map(|h| Sha256Digest::from_hex(h).context("invalid `--expect-head`"))
        .transpose()?;
    let store = open(url).await?;
    let mut out = std::io::stdout().lock();
    let outcome = walk(&store, url, |_, _| Ok(())).await?;
    let result = match outcome {
        Walk::Broken(problem) => {
            writeln!(out, "audit chain BROKEN: {problem}")?;
            Outcome::Problems
        }
        Walk::Stopped { records } => {
            writeln!(
                out,
                "audit chain not verified: stopped after {records} records"
            )?;
            Outcome::Problems
        }
        Walk::Intact { records, head } => match expected {
            Some(want) if want != head.hash => {
                writeln!(
                    out,
                    "audit chain BROKEN: it verifies internally ({records} records) but ends at {} (record #{}), not at the expected head {want}",
                    head.hash, head.seq
                )?;
                Outcome::Problems
            }
            _ => {
                writeln!(
                    out,
                    "audit chain verified: {records} records, head #{} {}",
                    head.seq, head.hash
                )?;
                Outcome::Success
            }
        },
    };
    store.close().await;
    Ok(result)
}

async fn export(args: &ExportArgs) -> anyhow::Result<Outcome> {
    let url = &args.store.store;
    let store = open(url).await?;
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let format = args.format;
    let outcome = walk(&store, url, |record, hash| {
        let line = match format {
            Format::Jsonl => jsonl_line(record, hash)?,
            Format::Ocsf => serde_json::to_string(&ocsf_event(record, hash)?)?,
        };
        writeln!(sink, "{line}")?;
        Ok(())
    })
    .await?;
    sink.flush().context("cannot write the export")?;
    store.close().await;
    match outcome {
        Walk::Intact { .. } | Walk::Stopped { .. } => Ok(Outcome::Success),
        Walk::Broken(problem) => {
            #[expect(clippy::print_stderr, reason = "the CLI reports problems on stderr")]
            {
                eprintln!("error: export stopped, audit chain broken: {problem}");
            }
            Ok(Outcome::Problems)
        }
    }
}

/// Walks the whole chain with the one page-and-verify walker of the application layer
/// (`breakglass_core::app::walk`), handing each verified record to `each`.
async fn walk(
    store: &SqlStore,
    url: &str,
    mut each: impl FnMut(&breakglass_core::audit::AuditRecord, &Sha256Digest) -> anyhow::Result<()>,
) -> anyhow::Result<Walk> {
    let walked = app::walk(store, |record, hash| {
        each(record, hash).map(|()| ControlFlow::Continue(()))
    })
    .await;
    match walked {
        Ok(w) => Ok(w),
        Err(WalkError::Store(e)) => Err(store_failed(e, url)),
        Err(WalkError::Consumer(e)) => Err(e),
    }
}

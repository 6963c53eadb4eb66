//! `breakglass audit verify|export`: check the broker's hash-chained audit log and export it
//! for auditors and security data lakes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use std::ops::ControlFlow;

use anyhow::Context as _;
use breakglass_aws::anchor::S3Anchors;
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_core::app::{self, Check, Walk, WalkError};
use breakglass_core::audit::{Anchor, ChainKey, jsonl_line, ocsf_event};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::ports::AnchorStore as _;
use breakglass_core::ports::StoreError;
use breakglass_store::{OpenError, SqlStore, redact_url};

use super::serve::{AnchorBucket, KeyArgs};
use crate::exit::{DependencyFailed, Outcome};

/// Check or export the audit log.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Print the audit chain's key (derived from the broker's key), to hand an auditor what
    /// verifying takes (`audit verify --audit-key-file`) without the key that opens TOTP
    /// seeds. Whoever holds it could also forge records: keep it as secret.
    Key(KeyOnlyArgs),
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

/// What verification checks besides the links.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The broker's key: records sealed with HMAC-SHA256 (all those written since the chain
    /// was keyed) verify only with it.
    #[command(flatten)]
    key: KeyArgs,
    /// Instead of the broker's key, a file holding only the audit chain's key (what
    /// `breakglass audit key` prints): enough to verify, no use for opening TOTP seeds.
    #[arg(long, value_name = "FILE", conflicts_with = "totp_key_file")]
    audit_key_file: Option<PathBuf>,
    /// Require the chain to still hold record SEQ with hash HASH (`SEQ:HASH`, as `verify`
    /// prints its head): an anchor kept outside the database stays valid however long the
    /// chain grows, and catches records deleted, edited or cut off up to it. Repeatable.
    #[arg(long = "anchor", value_name = "SEQ:HASH")]
    anchors: Vec<Anchor>,
    /// Also check the latest anchor the broker wrote to this S3 bucket
    /// (`serve --anchor-bucket`), with the AWS credentials of the environment.
    #[command(flatten)]
    bucket: AnchorBucket,
    /// Send the S3 calls to this endpoint instead of AWS (e.g. the moto emulator).
    #[arg(long, env = "BREAKGLASS_AWS_ENDPOINT_URL", value_name = "URL")]
    endpoint_url: Option<String>,
    /// The bucket's region (default: the environment's).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
}

impl CheckArgs {
    /// The latest authentic anchor in `bucket` (saying it, and every object passed over).
    async fn latest_anchor(
        &self,
        bucket: &str,
        key: ChainKey,
        out: &mut impl Write,
    ) -> anyhow::Result<Anchor> {
        let sdk = sdk::load(&AwsOptions {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: None,
        })
        .await;
        // Only read: no retention is ever set from here.
        let s3 = S3Anchors::new(
            &sdk,
            bucket,
            &self.bucket.anchor_prefix,
            time::Duration::ZERO,
            key,
        );
        let found = s3.latest().await.map_err(|e| {
            DependencyFailed(anyhow::anyhow!(
                "cannot read the latest anchor in {}: {e}",
                s3.location()
            ))
        })?;
        for ignored in &found.ignored {
            writeln!(
                out,
                "warning: passed over {ignored}: not an anchor of this chain; someone who can write to the bucket put it there"
            )?;
        }
        let Some(anchor) = found.anchor else {
            anyhow::bail!(
                "no anchor in {}: is that where `serve --anchor-bucket` writes them?",
                s3.location()
            );
        };
        writeln!(out, "latest anchor in {}: {anchor}", s3.location())?;
        Ok(anchor)
    }

    /// The key and anchors to check, the bucket's latest anchor read back (and said) first.
    async fn check(&self, out: &mut impl Write) -> anyhow::Result<Check> {
        let key = match &self.audit_key_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the audit key file `{}`", path.display())
                })?;
                Some(
                    ChainKey::from_hex(&text)
                        .map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))?
                        .keyed_after(self.key.audit_keyed_after()),
                )
            }
            None => self.key.load_optional()?.map(|k| self.key.chain_key(&k)),
        };
        let mut anchors = self.anchors.clone();
        if let Some(bucket) = &self.bucket.anchor_bucket {
            let Some(chain_key) = key.clone() else {
                anyhow::bail!(
                    "reading the anchors needs the audit key (they are made with it): pass `--totp-key-file`, BREAKGLASS_TOTP_KEY or `--audit-key-file`"
                );
            };
            anchors.push(self.latest_anchor(bucket, chain_key, out).await?);
        }
        Ok(Check { key, anchors })
    }
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    check: CheckArgs,
    /// Also require the chain to end at this hash: only for a chain nothing writes to any
    /// more (a copy); on a live chain use `--anchor SEQ:HASH`.
    #[arg(long, value_name = "HASH")]
    expect_head: Option<String>,
}

#[derive(Debug, clap::Args)]
struct KeyOnlyArgs {
    #[command(flatten)]
    key: KeyArgs,
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
    #[command(flatten)]
    check: CheckArgs,
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
            AuditCommand::Key(a) => print_key(a),
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

fn print_key(args: &KeyOnlyArgs) -> anyhow::Result<Outcome> {
    let Some(key) = args.key.load_optional()? else {
        anyhow::bail!(
            "no broker key: pass `--totp-key-file FILE` or set BREAKGLASS_TOTP_KEY (the key `serve` uses)"
        );
    };
    writeln!(
        crate::exit::stdout(),
        "{}",
        args.key.chain_key(&key).expose_hex()
    )?;
    Ok(Outcome::Success)
}

async fn verify(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let url = &args.store.store;
    let expected = args
        .expect_head
        .as_deref()
        .map(|h| Sha256Digest::from_hex(h).context("invalid `--expect-head`"))
        .transpose()?;
    let mut out = crate::exit::stdout();
    let check = args.check.check(&mut out).await?;
    let store = open(url).await?;
    let outcome = walk(&store, url, check, |_, _| Ok(())).await?;
    let result = match outcome {
        Walk::NeedsKey(seq) => {
            store.close().await;
            return Err(needs_key(seq));
        }
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
        Walk::Intact {
            records,
            unkeyed,
            anchors,
            head,
        } => match expected {
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
                    "audit chain verified: {records} records, head #{} {} (anchor it with `--anchor {}:{}`)",
                    head.seq, head.hash, head.seq, head.hash
                )?;
                if unkeyed > 0 {
                    writeln!(
                        out,
                        "note: records #1 to #{unkeyed} were written before the chain was keyed: their integrity rests on an anchor, not on the key"
                    )?;
                }
                if anchors > 0 {
                    writeln!(out, "anchors checked: {anchors}")?;
                }
                Outcome::Success
            }
        },
    };
    store.close().await;
    Ok(result)
}

async fn export(args: &ExportArgs) -> anyhow::Result<Outcome> {
    let url = &args.store.store;
    let check = args.check.check(&mut std::io::stderr().lock()).await?;
    let store = open(url).await?;
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => Box::new(BufWriter::new(crate::exit::stdout())),
    };
    let format = args.format;
    let outcome = walk(&store, url, check, |record, hash| {
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
        Walk::NeedsKey(seq) => Err(needs_key(seq)),
        Walk::Broken(problem) => {
            #[expect(clippy::print_stderr, reason = "the CLI reports problems on stderr")]
            {
                eprintln!("error: export stopped, audit chain broken: {problem}");
            }
            Ok(Outcome::Problems)
        }
    }
}

/// The error for a keyed chain walked without the key.
fn needs_key(seq: i64) -> anyhow::Error {
    anyhow::anyhow!(
        "record #{seq} is sealed with the broker's key (HMAC-SHA256) and no key was given: pass the key `serve` uses (`--totp-key-file FILE` or BREAKGLASS_TOTP_KEY), or `--audit-key-file` with what `breakglass audit key` prints"
    )
}

/// Walks the whole chain with the one page-and-verify walker of the application layer
/// (`breakglass_core::app::walk`), handing each verified record to `each`.
async fn walk(
    store: &SqlStore,
    url: &str,
    check: Check,
    mut each: impl FnMut(&breakglass_core::audit::AuditRecord, &Sha256Digest) -> anyhow::Result<()>,
) -> anyhow::Result<Walk> {
    let walked = app::walk(store, check, |record, hash| {
        each(record, hash).map(|()| ControlFlow::Continue(()))
    })
    .await;
    match walked {
        Ok(w) => Ok(w),
        Err(WalkError::Store(e)) => Err(store_failed(e, url)),
        Err(WalkError::Consumer(e)) => Err(e),
    }
}

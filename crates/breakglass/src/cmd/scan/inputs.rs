//! Which files a scan reads, and the options every CloudTrail-reading command shares.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use breakglass_trail::read::{Limits, is_trail_object};

pub use super::s3::{S3Args, S3Source};

/// One input: a file, standard input (`-`), or an object of a trail bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    File {
        path: PathBuf,
        size: u64,
    },
    Stdin,
    Object {
        source: S3Source,
        key: String,
        size: u64,
    },
}

impl Input {
    /// How the input is named in messages.
    pub fn name(&self) -> String {
        match self {
            Input::File { path, .. } => path.display().to_string(),
            Input::Stdin => "<stdin>".to_owned(),
            Input::Object { source, key, .. } => format!("s3://{}/{key}", source.bucket()),
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Input::File { size, .. } | Input::Object { size, .. } => *size,
            Input::Stdin => 0,
        }
    }
}

/// Options for reading CloudTrail, shared by `scan`, `scan sessions` and `trail match`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Only events at or after this time (RFC 3339, e.g. `2024-03-01T10:00:00Z`, or a date
    /// `2024-03-01` meaning its midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<i64>,

    /// Only events before this time (same forms as `--since`).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<i64>,

    /// Files read in parallel (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Never show a progress bar (it is shown only on a terminal: for files when stdout and
    /// stderr are terminals, for `s3://` when stderr is).
    #[arg(long, visible_alias = "quiet")]
    pub no_progress: bool,

    /// The largest record, or envelope of records, accepted (bytes).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_record_bytes)]
    pub max_record_bytes: usize,

    /// The most bytes one gzip file may decompress to.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed_bytes)]
    pub max_decompressed_bytes: u64,

    /// Distinct event IDs remembered to drop duplicate deliveries (0 keeps duplicates).
    #[arg(long, value_name = "N", default_value_t = breakglass_trail::dedupe::Dedupe::DEFAULT_WINDOW)]
    pub dedupe_window: usize,

    #[command(flatten)]
    pub s3: S3Args,
}

impl ReadArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_record_bytes: self.max_record_bytes,
            max_decompressed_bytes: self.max_decompressed_bytes,
            ..Limits::default()
        }
    }

    pub fn jobs(&self, inputs: usize) -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        self.jobs.unwrap_or(cpus).clamp(1, inputs.max(1))
    }
}

/// `--since`/`--until` values as epoch seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    breakglass_trail::time::epoch_seconds(full.as_bytes()).ok_or_else(|| {
        format!(
            "`{s}` is not a time: use RFC 3339 (`2024-03-01T10:00:00Z`) or a date (`2024-03-01`)"
        )
    })
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .with_context(|| format!("cannot read directory `{}`", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read directory `{}`", dir.display()))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot stat `{}`", path.display()))?;
        if kind.is_dir() {
            // Directory symlinks are not followed, so a link cycle cannot loop the walk.
            walk(&path, root, out)?;
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if !is_trail_object(&relative.to_string_lossy()) {
            continue;
        }
        let meta =
            fs::metadata(&path).with_context(|| format!("cannot stat `{}`", path.display()))?;
        if meta.is_file() {
            out.push(Input::File {
                path,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

/// Tells each bucket among `inputs` which of its keys the scan will open, in order, to be
/// fetched ahead: those received whole (at most `IN_MEMORY_MAX` stored). A larger object is
/// requested when it is opened, so no streamed response sits unread while others are scanned.
fn plan(inputs: &[Input]) {
    let mut plans: Vec<(&S3Source, Vec<String>)> = Vec::new();
    for input in inputs {
        let Input::Object { source, key, size } = input else {
            continue;
        };
        if *size > breakglass_aws::trail::IN_MEMORY_MAX {
            continue;
        }
        match plans.iter_mut().find(|(s, _)| s.same(source)) {
            Some((_, keys)) => keys.push(key.clone()),
            None => plans.push((source, vec![key.clone()])),
        }
    }
    for (source, keys) in plans {
        source.plan(keys);
    }
}

/// The inputs named on the command line: files as given, directories walked for trail
/// objects (skipping `CloudTrail-Digest/`), `-` for standard input, `s3://bucket/prefix`
/// for the trail objects of a bucket (listed as [`super::s3::list`] says).
pub fn discover(paths: &[PathBuf], read: &ReadArgs) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        if let Some(url) = p.to_str().filter(|s| s.starts_with("s3://")) {
            let (source, objects) = super::s3::list(url, &read.s3, read.since)?;
            out.extend(objects.into_iter().map(|o| Input::Object {
                source: source.clone(),
                key: o.key,
                size: o.size,
            }));
            continue;
        }
        let meta = fs::metadata(p).with_context(|| format!("cannot read `{}`", p.display()))?;
        if meta.is_dir() {
            walk(p, p, &mut out)?;
        } else {
            out.push(Input::File {
                path: p.clone(),
                size: meta.len(),
            });
        }
    }
    #[expect(
        clippy::mutable_key_type,
        reason = "an input hashes by its path, or by bucket and key: the runtime an S3 source holds takes no part"
    )]
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(i.clone()));
    if out.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        bail!("`-` (standard input) can be given only once");
    }
    plan(&out);
    Ok(out)
}

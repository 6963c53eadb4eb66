//! `s3://bucket/prefix` inputs: the trail objects of a bucket, listed and streamed through
//! breakglass-aws's trail reader, as the broker's watcher reads them.
//!
//! `s3://bucket[/prefix]` is the organisation trail's bucket and the prefix CloudTrail
//! writes before `AWSLogs/`: every account and region found there is listed (by delimiter,
//! never flat). A prefix that reaches into `AWSLogs/` (one account, region or day) is
//! listed as it is. Either way digests and other files are passed over, and each object is
//! read on the scan's worker threads, received whole up to `IN_MEMORY_MAX` (8 MiB stored)
//! and streamed beyond, so memory stays bounded whatever the object size. The next few
//! objects are requested while a worker reads one (`AHEAD`), so the network's latency is
//! not paid object by object.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use breakglass_aws::sdk::{self, AwsOptions};
use breakglass_aws::trail::{ObjectReader, ObjectRef, TrailBucket, TrailError, reader_config};

use crate::exit::DependencyFailed;

/// Where and as whom `s3://` inputs are read.
#[derive(Debug, Clone, clap::Args)]
pub struct S3Args {
    /// Read `s3://` inputs as this role (the reader role `breakglass apply` creates in the
    /// log-archive account); without it, as the SDK's credential chain.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// Send AWS calls for `s3://` inputs to this endpoint (e.g. the moto emulator).
    #[arg(long, env = "BREAKGLASS_AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// The bucket's region (default: the credential chain's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// A named profile of the shared AWS config files.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// A bucket being read, shared by its inputs: the reader, the async runtime its requests
/// run on (the scan's worker threads block on it) and the objects fetched ahead.
#[derive(Clone)]
pub struct S3Source(Arc<Source>);

struct Source {
    bucket: TrailBucket,
    runtime: tokio::runtime::Runtime,
    ahead: Mutex<Ahead>,
}

/// How many objects past the one a worker opens are requested before they are asked for,
/// so a worker rarely waits for the network: at most this many bodies of up to
/// `IN_MEMORY_MAX` each are held beyond those being read.
const AHEAD: usize = 2;

type Fetch = tokio::task::JoinHandle<Result<ObjectReader, TrailError>>;

/// The keys the scan will open, in order ([`plan`]), and the requests already under way.
#[derive(Default)]
struct Ahead {
    keys: Vec<String>,
    position: HashMap<String, usize>,
    started: HashMap<usize, Fetch>,
    /// The first position not requested yet.
    next: usize,
}

impl S3Source {
    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.0.bucket.bucket()
    }

    fn fetch(&self, key: &str) -> Fetch {
        let bucket = self.0.bucket.clone();
        let key = key.to_owned();
        self.0.runtime.spawn(async move { bucket.open(&key).await })
    }

    /// The body of `key` (see `TrailBucket::open`). Call it from a thread that runs no
    /// async code. The request runs as a task of the runtime, beside the connection it
    /// reads from, and this thread is woken once when the body is in: driven from here,
    /// every chunk of the response would cross threads twice. When `key` is in the plan,
    /// the next [`AHEAD`] objects are requested too, and the one asked for has usually
    /// arrived already.
    pub fn open(&self, key: &str) -> io::Result<Box<dyn Read + Send>> {
        let fetch = {
            let mut ahead = self
                .0
                .ahead
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match ahead.position.get(key).copied() {
                Some(at) => {
                    let own = ahead.started.remove(&at);
                    let from = ahead.next.max(at + 1);
                    let to = (at + 1 + AHEAD).min(ahead.keys.len());
                    for j in from..to {
                        if let Some(next) = ahead.keys.get(j) {
                            let started = self.fetch(next);
                            ahead.started.insert(j, started);
                        }
                    }
                    ahead.next = ahead.next.max(to);
                    own.unwrap_or_else(|| self.fetch(key))
                }
                None => self.fetch(key),
            }
        };
        let reader = self
            .0
            .runtime
            .block_on(fetch)
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        Ok(Box::new(reader))
    }

    /// Is `other` this very source (not merely one of the same bucket)?
    pub fn same(&self, other: &S3Source) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Tells the source which of its keys the scan will open, in order, so it can request
    /// them ahead ([`S3Source::open`]). Call it once, with the final inputs' keys.
    pub fn plan(&self, keys: Vec<String>) {
        let position = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        *self
            .0
            .ahead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Ahead {
            keys,
            position,
            ..Ahead::default()
        };
    }
}

impl std::fmt::Debug for S3Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Source(s3://{})", self.bucket())
    }
}

// Inputs are told apart by bucket and key; two sources of one bucket are the same.
impl PartialEq for S3Source {
    fn eq(&self, other: &Self) -> bool {
        self.bucket() == other.bucket()
    }
}

impl Eq for S3Source {}

impl std::hash::Hash for S3Source {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bucket().hash(state);
    }
}

/// `s3://bucket/prefix` as (bucket, prefix).
fn parse(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url.strip_prefix("s3://").unwrap_or(url);
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("`{url}` names no bucket: write `s3://BUCKET[/PREFIX]`");
    }
    Ok((bucket, prefix))
}

/// The `StartAfter` key that skips a partition's days before `since` (less a day, as an
/// object delivered just after midnight holds events of the day before).
fn day_floor(partition_prefix: &str, since: Option<i64>) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(since?.checked_sub(86_400)?).ok()?;
    let (y, m, d) = (at.year(), u8::from(at.month()), at.day());
    Some(format!("{partition_prefix}{y:04}/{m:02}/{d:02}"))
}

/// Lists the trail objects of `url` (see the module's documentation), reading as
/// `args` says; with `since` (Unix seconds), days of the key layout before it are not
/// listed.
pub fn list(
    url: &str,
    args: &S3Args,
    since: Option<i64>,
) -> anyhow::Result<(S3Source, Vec<ObjectRef>)> {
    let (bucket_name, prefix) = parse(url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (bucket, objects) = runtime.block_on(async {
        let base = sdk::load(&AwsOptions {
            endpoint_url: args.endpoint_url.clone(),
            region: args.region.clone(),
            profile: args.profile.clone(),
        })
        .await;
        let config = reader_config(&base, args.role_arn.as_deref(), "breakglass-scan")
            .await
            .map_err(|e| DependencyFailed(anyhow::Error::new(e)))?;
        let failed = |e: breakglass_aws::trail::TrailError| DependencyFailed(e.into());
        if prefix.contains("AWSLogs/") {
            let bucket = TrailBucket::new(&config, bucket_name, "");
            let objects = bucket
                .objects(prefix, None, usize::MAX)
                .await
                .map_err(failed)?;
            return Ok::<_, anyhow::Error>((bucket, objects));
        }
        let bucket = TrailBucket::new(&config, bucket_name, prefix);
        let partitions = bucket.partitions().await.map_err(failed)?;
        if partitions.is_empty() {
            bail!(
                "no CloudTrail deliveries under `s3://{bucket_name}/{}AWSLogs/`: give the prefix CloudTrail writes before `AWSLogs/` (or a prefix inside it)",
                bucket.prefix()
            );
        }
        let mut objects = Vec::new();
        for p in &partitions {
            let after = day_floor(&p.prefix, since);
            objects.extend(
                bucket
                    .objects(&p.prefix, after.as_deref(), usize::MAX)
                    .await
                    .map_err(failed)?,
            );
        }
        Ok((bucket, objects))
    })?;
    let source = Source {
        bucket,
        runtime,
        ahead: Mutex::default(),
    };
    Ok((S3Source(Arc::new(source)), objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse("s3://logs").unwrap(), ("logs", ""));
        assert_eq!(parse("s3://logs/org/").unwrap(), ("logs", "org/"));
        assert!(parse("s3:///x").is_err());
    }

    #[test]
    fn since_skips_the_days_before_it_less_one() {
        // 2024-03-01T10:00:00Z
        let since = 1_709_287_200;
        assert_eq!(
            day_floor("AWSLogs/1/CloudTrail/us-east-1/", Some(since)).unwrap(),
            "AWSLogs/1/CloudTrail/us-east-1/2024/02/29"
        );
        // Every key of 2024-02-29 sorts after it.
        assert!(
            "AWSLogs/1/CloudTrail/us-east-1/2024/02/29"
                < "AWSLogs/1/CloudTrail/us-east-1/2024/02/29/1_CloudTrail_x.json.gz"
        );
        assert_eq!(day_floor("p/", None), None);
    }
}

//! The organisation trail's S3 bucket: its partitions (one per account and region), the
//! objects delivered in a partition after a cursor, and an object's body as a stream.
//!
//! CloudTrail writes `[prefix/]AWSLogs/[o-xxxxxxxxxx/]<account>/CloudTrail/<region>/YYYY/MM/DD/
//! <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz`, so within a partition
//! keys sort by delivery time and `StartAfter` the last key read is a cursor. Partitions are
//! found by listing with a delimiter, level by level: the bucket is never listed flat, and
//! `CloudTrail-Digest/` (integrity digests) and anything else beside `CloudTrail/` is never
//! descended into.

use std::io::Read;
use std::pin::Pin;

use aws_config::SdkConfig;
use tokio::io::AsyncRead;
use tokio_util::io::SyncIoBridge;

use super::error::{TrailError, sdk_message};

/// One account and region of the trail: the keys under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// The 12-digit account id.
    pub account: String,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The organisation id (`o-…`) when the trail is an organisation trail.
    pub organization: Option<String>,
    /// The key prefix of the partition, ending in `/`:
    /// `[prefix/]AWSLogs/[o-…/]<account>/CloudTrail/<region>/`.
    pub prefix: String,
}

/// One delivered object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The object's key.
    pub key: String,
    /// Its size in bytes (as stored: gzip for `.json.gz`).
    pub size: u64,
    /// When S3 last modified it, in Unix seconds (0 when S3 did not say).
    pub last_modified: i64,
}

/// The trail's bucket, read through one S3 client.
#[derive(Debug, Clone)]
pub struct TrailBucket {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// Is `key` a trail delivery: `.json.gz` or `.json`, not under `CloudTrail-Digest/`?
pub fn is_trail_key(key: &str) -> bool {
    !breakglass_trail::read::is_digest_path(key)
        && (key.ends_with(".json.gz") || key.ends_with(".json"))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_organization(s: &str) -> bool {
    s.strip_prefix("o-")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl TrailBucket {
    /// The trail's `bucket`, with CloudTrail's key prefix `prefix` (the text before
    /// `AWSLogs/`; empty for none, a trailing `/` optional). Path-style addressing is used
    /// when the configuration overrides the endpoint (an emulator has no per-bucket hosts).
    pub fn new(config: &SdkConfig, bucket: impl Into<String>, prefix: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        let prefix = prefix.trim_matches('/');
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.into(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The trail's key prefix (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The names one level below `prefix` (each common prefix's last segment).
    async fn children(&self, prefix: &str) -> Result<Vec<String>, TrailError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| TrailError::List {
                    bucket: self.bucket.clone(),
                    prefix: prefix.to_owned(),
                    message: sdk_message(&e),
                })?;
            for common in page.common_prefixes() {
                let name = common
                    .prefix()
                    .and_then(|p| p.strip_prefix(prefix))
                    .and_then(|p| p.strip_suffix('/'));
                if let Some(name) = name {
                    out.push(name.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// The regions of one account's `CloudTrail/` folder under `base`.
    async fn regions(
        &self,
        base: &str,
        account: &str,
        organization: Option<&str>,
        out: &mut Vec<Partition>,
    ) -> Result<(), TrailError> {
        let trail = format!("{base}{account}/CloudTrail/");
        for region in self.children(&trail).await? {
            if is_region(&region) {
                out.push(Partition {
                    account: account.to_owned(),
                    region: region.clone(),
                    organization: organization.map(str::to_owned),
                    prefix: format!("{trail}{region}/"),
                });
            }
        }
        Ok(())
    }

    /// Every account and region the trail has delivered to, sorted: found by listing with a
    /// delimiter under `[prefix/]AWSLogs/` (an organisation folder `o-…` is descended into),
    /// so the cost is one request per account and folder, whatever the number of objects.
    pub async fn partitions(&self) -> Result<Vec<Partition>, TrailError> {
        let logs = format!("{}AWSLogs/", self.prefix);
        let mut out = Vec::new();
        for name in self.children(&logs).await? {
            if is_account(&name) {
                self.regions(&logs, &name, None, &mut out).await?;
            } else if is_organization(&name) {
                let org = format!("{logs}{name}/");
                for account in self.children(&org).await? {
                    if is_account(&account) {
                        self.regions(&org, &account, Some(&name), &mut out).await?;
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Up to `max` trail objects of `partition` whose keys sort after `after` (every object
    /// when `None`), in key order (delivery order): the caller's cursor is the last key it
    /// has committed. Digests and keys that are not `.json.gz`/`.json` are passed over.
    ///
    /// Keys delivered within the same minute differ only by a random suffix, so an object
    /// written late can sort before a key already read: a caller that must not miss it
    /// lists again from [`Partition::rewound`] and skips the keys it has already read.
    pub async fn new_objects(
        &self,
        partition: &Partition,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<ObjectRef>, TrailError> {
        self.objects(&partition.prefix, after, max).await
    }

    /// Up to `max` trail objects whose keys start with `prefix` (a whole key prefix, not
    /// relative to the trail's) and sort after `after`, in key order, digests and other
    /// files passed over: [`TrailBucket::new_objects`] for a prefix given by hand (one day
    /// of one partition, say).
    pub async fn objects(
        &self,
        prefix: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<ObjectRef>, TrailError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        while out.len() < max {
            let want = i32::try_from(max - out.len()).unwrap_or(i32::MAX).min(1000);
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(after.map(str::to_owned))
                .set_continuation_token(token.take())
                .max_keys(want)
                .send()
                .await
                .map_err(|e| TrailError::List {
                    bucket: self.bucket.clone(),
                    prefix: prefix.to_owned(),
                    message: sdk_message(&e),
                })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if !is_trail_key(key) || out.len() >= max {
                    continue;
                }
                out.push(ObjectRef {
                    key: key.to_owned(),
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    last_modified: object.last_modified().map_or(0, |t| t.secs()),
                });
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// The body of `key` as a blocking reader. An object of at most [`IN_MEMORY_MAX`] bytes
    /// (as stored: most CloudTrail deliveries) is received whole here, so reading it costs
    /// no round trip to the async runtime per buffer; a larger one is pulled from the HTTP
    /// response as it is read (memory stays at the transport's buffers whatever its size).
    /// Hand the reader to `breakglass_trail::read` from a thread that is not running async
    /// code: inside `tokio::task::spawn_blocking` or a plain thread (see
    /// [`TrailBucket::read_object`]). A connection lost mid-body is an error of this call
    /// for a small object, and a read error of the reader for a large one.
    pub async fn open(&self, key: &str) -> Result<ObjectReader, TrailError> {
        let failed = |message: String| TrailError::Get {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message,
        };
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| failed(sdk_message(&e)))?;
        let small = out
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .is_some_and(|n| n <= IN_MEMORY_MAX);
        if small {
            let body = out.body.collect().await.map_err(|e| {
                failed(format!(
                    "the connection broke while reading the object: {e}"
                ))
            })?;
            // Read from the chunks as received: `into_bytes` would copy them into one buffer.
            return Ok(ObjectReader(Body::Whole(bytes::Buf::reader(body))));
        }
        let body: Pin<Box<dyn AsyncRead + Send>> = Box::pin(out.body.into_async_read());
        Ok(ObjectReader(Body::Streamed(SyncIoBridge::new(body))))
    }

    /// Opens `key` and runs `read` over its body on the blocking pool, returning what it
    /// returns: the usual way to feed an object to `breakglass_trail::read` from async code.
    pub async fn read_object<T, F>(&self, key: &str, read: F) -> Result<T, TrailError>
    where
        T: Send + 'static,
        F: FnOnce(&mut ObjectReader) -> T + Send + 'static,
    {
        let mut reader = self.open(key).await?;
        tokio::task::spawn_blocking(move || read(&mut reader))
            .await
            .map_err(|e| TrailError::Blocking {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                message: e.to_string(),
            })
    }
}

/// How far a delivery stamp may be after the object's writing (or the watcher's clock) and
/// still be CloudTrail's: the stamp is in whole minutes, and clocks differ a little. Well
/// under the ten minutes a watcher lists again behind its cursor.
pub const STAMP_SLACK: time::Duration = time::Duration::minutes(2);

/// The delivery stamp of a key's file name: `YYYYMMDDTHHmmZ`.
const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute]Z");

impl Partition {
    /// When CloudTrail delivered `key` (UTC), as its file name's `YYYYMMDDTHHmmZ` stamp
    /// says; `None` unless `key` is exactly a delivery of this partition in CloudTrail's
    /// layout: `<prefix>YYYY/MM/DD/<account>_CloudTrail_<region>_<stamp>_<random>.json[.gz]`,
    /// the folder the stamp's day, the account and region this partition's, the random part
    /// letters and digits. The stamp is whoever wrote the object's word, not S3's: see
    /// [`Partition::may_move_cursor`].
    pub fn delivered_at(&self, key: &str) -> Option<time::PrimitiveDateTime> {
        let rest = key.strip_prefix(&self.prefix)?;
        let (day, name) = rest.rsplit_once('/')?;
        let name = name
            .strip_suffix(".json.gz")
            .or_else(|| name.strip_suffix(".json"))?;
        let lead = format!("{}_CloudTrail_{}_", self.account, self.region);
        let (stamp, random) = name.strip_prefix(&lead)?.split_once('_')?;
        if random.is_empty() || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let at = time::PrimitiveDateTime::parse(stamp, STAMP).ok()?;
        let folder = time::macros::format_description!("[year]/[month]/[day]");
        (at.date().format(folder).ok()? == day).then_some(at)
    }

    /// Whether `object` may become this partition's cursor: a delivery in CloudTrail's
    /// layout ([`Partition::delivered_at`]) whose stamp is no later than when S3 says it
    /// was written (which whoever writes it cannot choose) nor than `now`, give or take
    /// [`STAMP_SLACK`]. A key that sorts after deliveries still to come (`…/9999/…`, or a
    /// stamp ahead of its writing) would otherwise hide them from every later listing.
    pub fn may_move_cursor(&self, object: &ObjectRef, now: time::OffsetDateTime) -> bool {
        let Some(at) = self.delivered_at(&object.key) else {
            return false;
        };
        let written = time::OffsetDateTime::from_unix_timestamp(object.last_modified)
            .ok()
            .filter(|_| object.last_modified > 0)
            .unwrap_or(now);
        at.assume_utc() <= written.min(now) + STAMP_SLACK
    }

    /// A `StartAfter` key `minutes` earlier than `key` in delivery time (the key's
    /// `YYYY/MM/DD/…_<YYYYMMDDTHHmmZ>_` part), for listing again the objects that may have
    /// landed behind the cursor; `None` when `key` is not in this partition's layout.
    pub fn rewound(&self, key: &str, minutes: i64) -> Option<String> {
        let at = self.delivered_at(key)?;
        let earlier = at.checked_sub(time::Duration::minutes(minutes))?;
        let day = time::macros::format_description!("[year]/[month]/[day]");
        let name_stamp = earlier.format(STAMP).ok()?;
        Some(format!(
            "{}{}/{}_CloudTrail_{}_{}",
            self.prefix,
            earlier.date().format(day).ok()?,
            self.account,
            self.region,
            name_stamp
        ))
    }
}

/// The largest object (in stored bytes) [`TrailBucket::open`] receives whole before it is
/// read: 8 MiB, several times CloudTrail's usual delivery, and what one reader holds at most.
pub const IN_MEMORY_MAX: u64 = 8 << 20;

/// An object's body as a blocking `Read` (see [`TrailBucket::open`]).
pub struct ObjectReader(Body);

enum Body {
    /// Received whole.
    Whole(bytes::buf::Reader<aws_sdk_s3::primitives::AggregatedBytes>),
    /// Pulled from the response as it is read.
    Streamed(SyncIoBridge<Pin<Box<dyn AsyncRead + Send>>>),
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectReader")
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Body::Whole(whole) => whole.read(buf),
            Body::Streamed(streamed) => streamed.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition() -> Partition {
        Partition {
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            organization: Some("o-abc123".into()),
            prefix: "logs/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/".into(),
        }
    }

    #[test]
    fn trail_keys_are_objects_and_never_digests() {
        assert!(is_trail_key(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T1000Z_abc.json.gz"
        ));
        assert!(is_trail_key("x/y.json"));
        assert!(!is_trail_key(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/x.json.gz"
        ));
        assert!(!is_trail_key(
            "AWSLogs/111122223333/CloudTrail/us-east-1/notes.txt"
        ));
        assert!(!is_trail_key("AWSLogs/x.json.gz.tmp"));
    }

    #[test]
    fn layout_names_are_checked() {
        assert!(is_account("111122223333"));
        assert!(!is_account("11112222333"));
        assert!(!is_account("CloudTrail-Digest"));
        assert!(is_organization("o-abc123xyz0"));
        assert!(!is_organization("o-"));
        assert!(!is_organization("other"));
        assert!(is_region("ap-southeast-2"));
        assert!(!is_region("Notes"));
    }

    #[test]
    fn a_keys_delivery_time_is_its_stamp_and_only_in_the_layout() {
        let p = partition();
        let key = format!(
            "{}2024/03/01/111122223333_CloudTrail_eu-west-1_20240301T0005Z_zzz.json.gz",
            p.prefix
        );
        assert_eq!(
            p.delivered_at(&key),
            Some(time::macros::datetime!(2024-03-01 00:05))
        );
        // Keys that sort after every delivery but are not in the layout have no delivery
        // time: no stamp, a folder other than the stamp's day, another account or region,
        // a random part that is not letters and digits, another extension.
        let name = "111122223333_CloudTrail_eu-west-1_20240301T0005Z_zzz.json.gz";
        let day = "2024/03/01/111122223333_CloudTrail";
        for bad in [
            format!("{}zzz.json.gz", p.prefix),
            format!("{}9999/x_y_z_notastamp_w.json.gz", p.prefix),
            format!("{}9999/12/31/{name}", p.prefix),
            format!("{}2024/03/01/x/{name}", p.prefix),
            format!(
                "{}2024/03/01/999988887777{}",
                p.prefix,
                name.strip_prefix("111122223333").unwrap()
            ),
            format!("{}{day}_us-east-1_20240301T0005Z_zzz.json.gz", p.prefix),
            format!("{}{day}_eu-west-1_20240301T0005Z_z\u{0}z.json.gz", p.prefix),
            format!("{}{day}_eu-west-1_20240301T0005Z_.json.gz", p.prefix),
            format!("{}{day}_eu-west-1_20240301T0005Z_zzz.txt", p.prefix),
            "elsewhere/a_b_c_20240301T0005Z_d.json.gz".to_owned(),
        ] {
            assert_eq!(p.delivered_at(&bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_delivery_stamped_no_later_than_its_writing_moves_a_cursor() {
        let p = partition();
        let now = time::macros::datetime!(2024-03-01 12:00 UTC);
        let object = |stamp: &str, day: &str, written: time::OffsetDateTime| ObjectRef {
            key: format!(
                "{}{day}/111122223333_CloudTrail_eu-west-1_{stamp}_abc123.json.gz",
                p.prefix
            ),
            size: 1,
            last_modified: written.unix_timestamp(),
        };
        let minutes = time::Duration::minutes;
        // Written a minute after its stamp, as CloudTrail does; an old delivery found late.
        assert!(p.may_move_cursor(
            &object("20240301T1158Z", "2024/03/01", now - minutes(1)),
            now
        ));
        assert!(p.may_move_cursor(&object("20240229T2300Z", "2024/02/29", now), now));
        // Stamped ahead of its writing, within or past the watcher's clock.
        assert!(!p.may_move_cursor(&object("20240301T1255Z", "2024/03/01", now), now));
        assert!(!p.may_move_cursor(
            &object("20240301T1159Z", "2024/03/01", now - minutes(30)),
            now
        ));
        assert!(!p.may_move_cursor(&object("99991231T2359Z", "9999/12/31", now), now));
        // S3 gave no time: the watcher's clock decides.
        let mut unknown = object("20240301T1300Z", "2024/03/01", now);
        unknown.last_modified = 0;
        assert!(!p.may_move_cursor(&unknown, now));
        // Not in the layout: never.
        let mut stray = object("20240301T1158Z", "2024/03/01", now);
        stray.key = format!("{}zzz.json.gz", p.prefix);
        assert!(!p.may_move_cursor(&stray, now));
    }

    #[test]
    fn a_cursor_is_rewound_across_midnight() {
        let p = partition();
        let key = format!(
            "{}2024/03/01/111122223333_CloudTrail_eu-west-1_20240301T0005Z_zzz.json.gz",
            p.prefix
        );
        let rewound = p.rewound(&key, 15).unwrap();
        assert_eq!(
            rewound,
            format!(
                "{}2024/02/29/111122223333_CloudTrail_eu-west-1_20240229T2350Z",
                p.prefix
            )
        );
        // Every key delivered in the last 15 minutes sorts after it, the cursor's own too.
        assert!(rewound.as_str() < key.as_str());
        let same_minute_earlier_suffix = format!(
            "{}2024/03/01/111122223333_CloudTrail_eu-west-1_20240301T0005Z_aaa.json.gz",
            p.prefix
        );
        assert!(rewound.as_str() < same_minute_earlier_suffix.as_str());
        assert_eq!(p.rewound("elsewhere/x.json.gz", 15), None);
    }
}

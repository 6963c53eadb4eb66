//! Anchoring the audit chain in S3 under Object Lock: the adapter of the core's
//! [`AnchorStore`] port.
//!
//! Each anchor is one small JSON object (`{"seq":…,"hash":"…","at":…,"mac":"…"}`) written
//! with Object Lock in **compliance** mode, so until its retention date nobody, the
//! bucket's owner and the root user included, can overwrite or delete that version (S3
//! User Guide, "Locking objects with Object Lock"). Its `mac` (HMAC-SHA256 under the chain
//! key) makes it the broker's: whoever may put objects in the bucket without holding the key
//! cannot make an anchor.
//!
//! The key counts down (`u64::MAX - seq`, 20 digits), so a listing, which S3 returns in
//! ascending key order, starts with the latest anchor. Reading lists object *versions*: a
//! new version or a delete marker put over an anchor hides it from plain reads but not from
//! the version listing, and only the locked, authentic versions count; everything else is
//! passed over and reported. Bodies over 1 KiB are not read.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ObjectLockEnabled, ObjectLockMode};
use breakglass_core::audit::{Anchor, ChainKey};
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::ports::{AnchorFuture, AnchorStore, LatestAnchor};
use time::{Duration, OffsetDateTime};

/// The largest anchor body read (a real one is about 150 bytes).
const MAX_BODY: i64 = 1024;

/// At most this many listing pages are read looking for the latest authentic anchor.
const MAX_PAGES: usize = 20;

/// Writes and reads audit anchors in one bucket under one prefix.
#[derive(Debug, Clone)]
pub struct S3Anchors {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    retention: Duration,
    key: ChainKey,
}

fn sdk_error<E>(e: aws_sdk_s3::error::SdkError<E>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
{
    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
}

impl S3Anchors {
    /// Anchors in `bucket` under `prefix`, each locked for `retention` and made with `key`
    /// (the audit chain's). Path-style addressing is used when the configuration overrides
    /// the endpoint (an emulator on 127.0.0.1 has no per-bucket host names).
    pub fn new(
        config: &SdkConfig,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        retention: Duration,
        key: ChainKey,
    ) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.into(),
            prefix: prefix.into(),
            retention,
            key,
        }
    }

    /// The same, as the port the worker holds.
    pub fn shared(self) -> Arc<dyn AnchorStore> {
        Arc::new(self)
    }

    /// Checks that the bucket exists and has Object Lock enabled: without it an anchor could
    /// be deleted by whoever holds the broker's credentials.
    pub async fn check(&self) -> Result<(), String> {
        let out = self
            .client
            .get_object_lock_configuration()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot read the Object Lock configuration of bucket `{}` (create it with Object Lock enabled): {}",
                    self.bucket,
                    sdk_error(e)
                )
            })?;
        let enabled = out
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            == Some(&ObjectLockEnabled::Enabled);
        if enabled {
            Ok(())
        } else {
            Err(format!(
                "bucket `{}` does not have Object Lock enabled: anchors there could be deleted; create a bucket with Object Lock enabled",
                self.bucket
            ))
        }
    }

    fn key(&self, seq: u64) -> String {
        format!("{}{:020}.json", self.prefix, u64::MAX - seq)
    }

    async fn put_anchor(&self, anchor: Anchor, at: OffsetDateTime) -> Result<(), String> {
        let body = serde_json::json!({
            "seq": anchor.seq,
            "hash": anchor.hash.to_hex(),
            "at": at.unix_timestamp(),
            "mac": self.key.anchor_mac(&anchor).to_hex(),
        })
        .to_string();
        let until = at.saturating_add(self.retention).unix_timestamp();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(anchor.seq))
            .content_type("application/json")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from_secs(until))
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn latest_anchor(&self) -> Result<LatestAnchor, String> {
        let mut found = LatestAnchor::default();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(sdk_error)?;
            // Versions come in key order (the latest anchor's first), newest version first.
            for v in page.versions() {
                let (Some(key), Some(version)) = (v.key(), v.version_id()) else {
                    continue;
                };
                if v.size().unwrap_or(0) > MAX_BODY {
                    found.ignored.push(format!(
                        "`{key}` (version {version}): too large to be an anchor"
                    ));
                    continue;
                }
                match self.read_version(key, version).await {
                    Ok(anchor) => {
                        found.anchor = Some(anchor);
                        return Ok(found);
                    }
                    Err(why) => found
                        .ignored
                        .push(format!("`{key}` (version {version}): {why}")),
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(found);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        Err(format!(
            "no authentic anchor in the first {MAX_PAGES} pages of {}; passed over: {}",
            self.location(),
            found.ignored.join("; ")
        ))
    }

    /// One version of an anchor object, if it is a locked anchor made with the key and kept
    /// under the key its record number gives.
    async fn read_version(&self, key: &str, version: &str) -> Result<Anchor, String> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version)
            .send()
            .await
            .map_err(sdk_error)?;
        if object.object_lock_mode() != Some(&ObjectLockMode::Compliance) {
            return Err("not under an Object Lock in compliance mode".to_owned());
        }
        if object.content_length().unwrap_or(0) > MAX_BODY {
            return Err("too large to be an anchor".to_owned());
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("unreadable: {e}"))?
            .into_bytes();
        let (anchor, mac) = parse(&bytes)?;
        if self.key.anchor_mac(&anchor) != mac {
            return Err("not made with the audit chain's key".to_owned());
        }
        if self.key(anchor.seq) != key {
            return Err(format!(
                "names record #{}, which belongs under another key",
                anchor.seq
            ));
        }
        Ok(anchor)
    }
}

/// An anchor object's body: the anchor and its MAC.
fn parse(bytes: &[u8]) -> Result<(Anchor, Sha256Digest), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let seq = value
        .get("seq")
        .and_then(serde_json::Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or("no record number (`seq`)")?;
    let hash = value
        .get("hash")
        .and_then(serde_json::Value::as_str)
        .ok_or("no `hash`")?;
    let hash = Sha256Digest::from_hex(hash).map_err(|e| format!("`hash`: {e}"))?;
    let mac = value
        .get("mac")
        .and_then(serde_json::Value::as_str)
        .ok_or("no `mac`")?;
    let mac = Sha256Digest::from_hex(mac).map_err(|e| format!("`mac`: {e}"))?;
    Ok((Anchor { seq, hash }, mac))
}

impl AnchorStore for S3Anchors {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn put(&self, anchor: Anchor, at: OffsetDateTime) -> AnchorFuture<'_, ()> {
        Box::pin(self.put_anchor(anchor, at))
    }

    fn latest(&self) -> AnchorFuture<'_, LatestAnchor> {
        Box::pin(self.latest_anchor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_body_reads_back_and_bad_ones_are_named() {
        let hash = "ab".repeat(32);
        let mac = "cd".repeat(32);
        let body = format!(r#"{{"seq":7,"hash":"{hash}","at":1,"mac":"{mac}"}}"#);
        let (a, m) = parse(body.as_bytes()).unwrap();
        assert_eq!(a.seq, 7);
        assert_eq!(a.hash.to_hex(), hash);
        assert_eq!(m.to_hex(), mac);
        assert!(parse(b"{").unwrap_err().contains("not JSON"));
        assert!(
            parse(br#"{"seq":0,"hash":"00"}"#)
                .unwrap_err()
                .contains("seq")
        );
        assert!(
            parse(br#"{"seq":3,"hash":"zz"}"#)
                .unwrap_err()
                .contains("hash")
        );
        let unsigned = format!(r#"{{"seq":7,"hash":"{hash}"}}"#);
        assert!(parse(unsigned.as_bytes()).unwrap_err().contains("mac"));
    }
}

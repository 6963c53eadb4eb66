//! Anchoring the audit chain in S3 under Object Lock: the adapter of the core's
//! [`AnchorStore`] port.
//!
//! Each anchor is one small JSON object (`{"seq":…,"hash":"…","at":"…"}`) written with
//! Object Lock in **compliance** mode, so until its retention date nobody, the bucket's
//! owner and the root user included, can overwrite or delete that version (S3 User Guide,
//! "Locking objects with Object Lock"). The key counts down (`u64::MAX - seq`, 20 digits),
//! so a listing, which S3 returns in ascending key order, starts with the latest anchor and
//! one `ListObjectsV2` call with `MaxKeys = 1` finds it however many there are.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ObjectLockEnabled, ObjectLockMode};
use breakglass_core::audit::Anchor;
use breakglass_core::canonical::Sha256Digest;
use breakglass_core::ports::{AnchorFuture, AnchorStore};
use time::{Duration, OffsetDateTime};

/// Writes and reads audit anchors in one bucket under one prefix.
#[derive(Debug, Clone)]
pub struct S3Anchors {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    retention: Duration,
}

fn sdk_error<E>(e: aws_sdk_s3::error::SdkError<E>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
{
    aws_sdk_s3::error::DisplayErrorContext(e).to_string()
}

impl S3Anchors {
    /// Anchors in `bucket` under `prefix`, each locked for `retention`. Path-style addressing
    /// is used when the configuration overrides the endpoint (an emulator on 127.0.0.1 has
    /// no per-bucket host names).
    pub fn new(
        config: &SdkConfig,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        retention: Duration,
    ) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3),
            bucket: bucket.into(),
            prefix: prefix.into(),
            retention,
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

    async fn latest_anchor(&self) -> Result<Option<Anchor>, String> {
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(key) = listed.contents().first().and_then(|o| o.key()) else {
            return Ok(None);
        };
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(sdk_error)?;
        if object.object_lock_mode() != Some(&ObjectLockMode::Compliance) {
            return Err(format!(
                "anchor `{key}` is not under an Object Lock in compliance mode: it cannot be trusted"
            ));
        }
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("cannot read anchor `{key}`: {e}"))?
            .into_bytes();
        let anchor = parse(&bytes).map_err(|e| format!("anchor `{key}`: {e}"))?;
        if self.key(anchor.seq) != key {
            return Err(format!(
                "anchor `{key}` names record #{}, which belongs under another key",
                anchor.seq
            ));
        }
        Ok(Some(anchor))
    }
}

/// An anchor object's body.
fn parse(bytes: &[u8]) -> Result<Anchor, String> {
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
    Ok(Anchor { seq, hash })
}

impl AnchorStore for S3Anchors {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn put(&self, anchor: Anchor, at: OffsetDateTime) -> AnchorFuture<'_, ()> {
        Box::pin(self.put_anchor(anchor, at))
    }

    fn latest(&self) -> AnchorFuture<'_, Option<Anchor>> {
        Box::pin(self.latest_anchor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_body_reads_back_and_bad_ones_are_named() {
        let hash = "ab".repeat(32);
        let a = parse(format!(r#"{{"seq":7,"hash":"{hash}","at":1}}"#).as_bytes()).unwrap();
        assert_eq!(a.seq, 7);
        assert_eq!(a.hash.to_hex(), hash);
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
    }
}

//! The activity watcher `serve` runs: CloudTrail read from the organisation trail's bucket
//! (each account/region partition from its cursor), from the SQS queue EventBridge feeds
//! (near real time) and from a CloudWatch Logs group, handed to the broker
//! ([`breakglass_core::app::App::record_activity`]) batch by batch, on one replica at a time
//! (the `activity` lease). A cursor moves, and a queue message is deleted, only once what it
//! covers is committed; an object that cannot be read is retried on the next pass.

use std::sync::Arc;
use std::time::Duration;

use breakglass_aws::trail::{LogCursor, TrailBucket, TrailLogGroup, TrailQueue};
use breakglass_core::activity::{Cursor, Held, Ingested, Known, Observed, Watch};
use breakglass_server::app::AppService;
use breakglass_trail::rules::{Rule, RuleSet};
use tokio::sync::watch;

use super::extract::Extractor;

/// The lease the watcher holds while it reads.
pub const ACTIVITY_LEASE: &str = "activity";

/// Objects read per partition per pass (the next pass goes on from the cursor).
const OBJECTS_PER_PASS: usize = 200;

/// How far before its cursor a partition is listed again: objects delivered in the same
/// minute differ only by a random suffix, so one written late can sort before the cursor.
/// Keys read in that span are remembered and skipped; after a restart they are read again
/// and their events dropped as duplicates on `eventID`.
const LATE_MINUTES: i64 = 10;

/// Where CloudTrail is read from.
#[derive(Debug, Default)]
pub struct Sources {
    pub bucket: Option<TrailBucket>,
    pub queue: Option<TrailQueue>,
    pub logs: Option<TrailLogGroup>,
}

/// How the watcher runs.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often the bucket and the log group are read.
    pub every: Duration,
    /// How long a queue receive waits for a message (long polling).
    pub queue_wait: Duration,
    /// How long events and findings are kept.
    pub retention: time::Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub objects: u64,
    pub messages: u64,
    pub bytes: u64,
    pub ingested: Ingested,
}

impl Pass {
    fn add(&mut self, i: Ingested) {
        let t = &mut self.ingested;
        t.events += i.events;
        t.duplicates += i.duplicates;
        t.linked += i.linked;
        t.findings += i.findings;
        t.joined += i.joined;
        t.records += i.records;
        t.rejected += i.rejected;
    }
}

/// Reads CloudTrail and records what it shows.
pub struct Watcher {
    app: Arc<AppService>,
    sources: Sources,
    watch: Watch,
    timing: Timing,
    holder: String,
    /// The lease every batch is committed under (`activity`, `holder`).
    held: Held,
    /// The alert rules each kept event is matched against (an extractor is built from
    /// them again if a read loses one).
    rules: Vec<Rule>,
    extractor: Option<Extractor>,
    /// Keys read recently, per partition (see [`LATE_MINUTES`]).
    recent: std::collections::HashMap<String, std::collections::BTreeSet<String>>,
    /// When the lease was last taken or renewed.
    renewed: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("sources", &self.sources)
            .field("timing", &self.timing)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// A watcher recording into `app` what `sources` show, running `rules` on each kept
    /// event, as lease holder `holder`.
    pub fn new(
        app: Arc<AppService>,
        sources: Sources,
        watch: Watch,
        rules: Vec<Rule>,
        timing: Timing,
        holder: String,
    ) -> anyhow::Result<Self> {
        let extractor = Extractor::new(RuleSet::new(rules.clone())?);
        Ok(Self {
            app,
            sources,
            watch,
            timing,
            held: Held {
                job: ACTIVITY_LEASE.to_owned(),
                holder: holder.clone(),
            },
            holder,
            rules,
            extractor: Some(extractor),
            recent: std::collections::HashMap::new(),
            renewed: None,
        })
    }

    /// The extractor, built again when a failed read lost it.
    fn take_extractor(&mut self) -> anyhow::Result<Extractor> {
        match self.extractor.take() {
            Some(e) => Ok(e),
            None => Ok(Extractor::new(RuleSet::new(self.rules.clone())?)),
        }
    }

    /// How long the lease lasts unless renewed: three scan periods and half a minute.
    fn term(&self) -> Duration {
        self.timing.every * 3 + Duration::from_secs(30)
    }

    fn lease_term(&self) -> time::Duration {
        time::Duration::try_from(self.term()).unwrap_or(time::Duration::minutes(5))
    }

    /// Takes or renews the lease; false when another replica holds it.
    async fn hold_lease(&mut self) -> anyhow::Result<bool> {
        let term = self.lease_term();
        let held = self
            .app
            .take_lease(ACTIVITY_LEASE, &self.holder, term)
            .await?;
        self.renewed = held.then(tokio::time::Instant::now);
        Ok(held)
    }

    /// Whether this replica still holds the lease, renewing it before each object and each
    /// commit once a scan period (at most 30 s) has gone by: a pass through a long backlog
    /// outlasts the lease, and stops once another replica has taken over. The commit checks
    /// the lease too (see [`Held`]), so a batch read by a replica that lost the lease is not
    /// stored. A lease last renewed longer ago than its term may have been taken and given
    /// back meanwhile, so the cursors this pass read may be stale: the pass stops, and the
    /// next one reads them again.
    async fn still_held(&mut self) -> anyhow::Result<bool> {
        let since = self.renewed.map(|at| at.elapsed());
        if since.is_some_and(|s| s < self.timing.every.min(Duration::from_secs(30))) {
            return Ok(true);
        }
        if since.is_none_or(|s| s >= self.term()) {
            tracing::warn!(
                "the activity lease ran out during this pass; the pass stops and the next one reads the cursors again"
            );
            self.renewed = None;
            return Ok(false);
        }
        let held = self.hold_lease().await?;
        if !held {
            tracing::warn!("the activity lease passed to another replica; this pass stops");
        }
        Ok(held)
    }

    fn known(&self) -> Known {
        Known::new(self.app.rules().catalog(), self.watch.clone())
    }

    /// Reads until `stopped` turns true: the queue continuously (each receive waits up to
    /// `queue_wait`), the bucket and log group every `every`, while this replica holds the
    /// lease.
    pub async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let mut next_scan = tokio::time::Instant::now();
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if *stopped.borrow() {
                let _ = self.app.release_lease(ACTIVITY_LEASE, &self.holder).await;
                return;
            }
            let held = match self.hold_lease().await {
                Ok(held) => held,
                Err(e) => {
                    tracing::error!(error = %e, "cannot take the activity lease");
                    false
                }
            };
            if held {
                if self.sources.queue.is_some()
                    && let Err(e) = self.queue_pass().await
                {
                    tracing::warn!(error = %e, "reading the activity queue failed; retrying");
                }
                if tokio::time::Instant::now() >= next_scan {
                    next_scan = tokio::time::Instant::now() + self.timing.every;
                    match self.scan_pass().await {
                        Ok(p) if p.objects > 0 || p.messages > 0 => tracing::info!(
                            objects = p.objects,
                            bytes = p.bytes,
                            log_messages = p.messages,
                            kept = p.ingested.events,
                            linked = p.ingested.linked,
                            findings = p.ingested.findings,
                            "CloudTrail read"
                        ),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "reading CloudTrail failed; the next pass goes on from the last cursor")
                        }
                    }
                }
                if tokio::time::Instant::now() >= next_prune {
                    next_prune = tokio::time::Instant::now() + Duration::from_secs(3600);
                    match self.app.prune_activity(self.timing.retention).await {
                        Ok(gone) if gone > 0 => {
                            tracing::info!(rows = gone, "old activity forgotten")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot forget old activity"),
                    }
                }
            }
            // With a queue, the receive itself waited; without, wait for the next scan.
            let pause = if held && self.sources.queue.is_some() {
                Duration::from_millis(50)
            } else {
                Duration::from_secs(1)
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {},
                _ = stopped.changed() => {},
            }
        }
    }

    /// One pass over the bucket (every partition, from its cursor) and the log group.
    pub async fn scan_pass(&mut self) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        let cursors = self.app.activity_cursors().await?;
        let position = |source: &str| {
            cursors
                .iter()
                .find(|c| c.source == source)
                .map(|c| c.position.clone())
        };
        if let Some(bucket) = self.sources.bucket.clone() {
            for partition in bucket.partitions().await? {
                let source = format!("s3:{}:{}", partition.account, partition.region);
                let cursor = position(&source);
                // List again from a little before the cursor, for late deliveries.
                let mut after = cursor.as_deref().map(|c| {
                    partition
                        .rewound(c, LATE_MINUTES)
                        .unwrap_or_else(|| c.to_owned())
                });
                let mut high = cursor.clone();
                if let Some(floor) = &after {
                    let recent = self.recent.entry(source.clone()).or_default();
                    let kept = recent.split_off(floor);
                    *recent = kept;
                }
                loop {
                    let objects = bucket
                        .new_objects(&partition, after.as_deref(), OBJECTS_PER_PASS)
                        .await?;
                    if objects.is_empty() {
                        break;
                    }
                    for object in &objects {
                        after = Some(object.key.clone());
                        if self
                            .recent
                            .get(&source)
                            .is_some_and(|r| r.contains(&object.key))
                        {
                            continue;
                        }
                        if !self.still_held().await? {
                            return Ok(pass);
                        }
                        let behind = high.as_deref().is_some_and(|h| object.key.as_str() <= h);
                        // Only a key CloudTrail could have written moves the cursor: one
                        // outside its layout, or stamped ahead of its writing (`9999/…`),
                        // would sort after deliveries still to come and hide them. It is
                        // read (once per process: it stays in `recent`); the cursor stays.
                        let plausible = partition.may_move_cursor(object, self.app.now());
                        if !plausible {
                            tracing::warn!(key = ?object.key, "an object in the trail's bucket is not a CloudTrail delivery of this partition, or is stamped ahead of its writing; it is read but does not move the partition's cursor");
                        }
                        let (events, bytes) = self.read_object(&bucket, &object.key).await?;
                        pass.objects += 1;
                        pass.bytes += bytes;
                        if !self.still_held().await? {
                            return Ok(pass);
                        }
                        if !behind && plausible {
                            high = Some(object.key.clone());
                        }
                        let cursors = high
                            .clone()
                            .map(|position| Cursor {
                                source: source.clone(),
                                position,
                            })
                            .into_iter()
                            .collect();
                        pass.add(
                            self.app
                                .record_activity(&self.watch, Some(&self.held), events, cursors)
                                .await?,
                        );
                        self.recent
                            .entry(source.clone())
                            .or_default()
                            .insert(object.key.clone());
                    }
                    if objects.len() < OBJECTS_PER_PASS {
                        break;
                    }
                }
            }
        }
        if let Some(logs) = self.sources.logs.clone() {
            let source = "logs".to_owned();
            let mut cursor: Option<LogCursor> = position(&source).and_then(|p| p.parse().ok());
            loop {
                if !self.still_held().await? {
                    return Ok(pass);
                }
                let (messages, next) = logs.events_after(cursor.as_ref(), 1_000).await?;
                if messages.is_empty() {
                    break;
                }
                pass.messages += messages.len() as u64;
                let events = self.read_bodies(messages).await?;
                if !self.still_held().await? {
                    return Ok(pass);
                }
                let c = Cursor {
                    source: source.clone(),
                    position: next.to_string(),
                };
                pass.add(
                    self.app
                        .record_activity(&self.watch, Some(&self.held), events, vec![c])
                        .await?,
                );
                cursor = Some(next);
            }
        }
        Ok(pass)
    }

    /// One receive from the queue: its events recorded, then its messages deleted.
    pub async fn queue_pass(&mut self) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        let Some(queue) = self.sources.queue.clone() else {
            return Ok(pass);
        };
        let messages = queue.receive(100, self.timing.queue_wait).await?;
        if messages.is_empty() {
            return Ok(pass);
        }
        pass.messages = messages.len() as u64;
        let receipts: Vec<String> = messages.iter().map(|m| m.receipt_handle.clone()).collect();
        let bodies = messages.into_iter().map(|m| m.body).collect();
        let events = self.read_bodies(bodies).await?;
        // Not held: the messages stay in the queue and come back once their visibility
        // timeout ends.
        if !self.still_held().await? {
            return Ok(pass);
        }
        pass.add(
            self.app
                .record_activity(&self.watch, Some(&self.held), events, Vec::new())
                .await?,
        );
        queue.delete(&receipts).await?;
        Ok(pass)
    }

    /// The relevant events of one S3 object, streamed, and the bytes read.
    async fn read_object(
        &mut self,
        bucket: &TrailBucket,
        key: &str,
    ) -> anyhow::Result<(Vec<Observed>, u64)> {
        let known = self.known();
        // Open first: a failed GET leaves the extractor here, and the object is read again
        // on the next pass (the cursor has not moved).
        let mut reader = bucket.open(key).await?;
        let mut extractor = self.take_extractor()?;
        let key_owned = key.to_owned();
        let (extractor, events, read) = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let read = extractor.read(&mut reader, &known, &mut out);
            (extractor, out, read)
        })
        .await?;
        self.extractor = Some(extractor);
        match read {
            Ok(stats) => Ok((events, stats.bytes)),
            // The connection broke: the object is whole in S3, read it again next pass.
            Err(e @ breakglass_trail::read::ReadError::Io { .. }) => Err(anyhow::anyhow!(
                "reading s3 object `{key_owned}` failed part-way ({e}); it is read again on the next pass"
            )),
            // A broken object cannot be read better next time: what came before the
            // break is kept, the rest is reported, and the cursor moves past it.
            Err(e) => {
                tracing::error!(key = %key_owned, error = %e, "a CloudTrail object is broken; its events after the break are skipped");
                Ok((events, 0))
            }
        }
    }

    /// The relevant events of message bodies (EventBridge envelopes, log messages).
    async fn read_bodies(&mut self, bodies: Vec<String>) -> anyhow::Result<Vec<Observed>> {
        let known = self.known();
        let mut extractor = self.take_extractor()?;
        let (extractor, events) = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for body in bodies {
                if let Err(e) = extractor.read(body.as_bytes(), &known, &mut out) {
                    tracing::warn!(error = %e, "a CloudTrail message is not a CloudTrail event; skipped");
                }
            }
            (extractor, out)
        })
        .await?;
        self.extractor = Some(extractor);
        Ok(events)
    }
}

//! The trail readers against the emulator, over objects written as CloudTrail writes them
//! (gzipped `{"Records":[…]}` in the real key layout, with and without an organisation
//! folder, a digest and a stray file beside them, one object delivered twice) built from
//! the real events of the shared invictus dataset; the SQS round trip with EventBridge
//! envelopes; the CloudWatch Logs cursor.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use breakglass_aws::trail::{LogCursor, Partition, TrailBucket, TrailLogGroup, TrailQueue};
use breakglass_testkit::moto::Moto;
use breakglass_trail::dedupe::{Dedupe, EventKey, SeenIds};
use breakglass_trail::read::{Limits, ReadStats, read_records};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::emulator::sdk_config;

const ACCOUNT: &str = "218007301253";
const ORG: &str = "o-abc123def4";
const MEMBER: &str = "111122223333";

/// The dataset's objects (`<account>_CloudTrail_<region>_<stamp>_<rand>.json`), sorted.
fn dataset() -> Option<Vec<PathBuf>> {
    let dir = breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    Some(files)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The event ids of a body, in order, read as the broker reads it.
fn event_ids(body: impl std::io::Read) -> Vec<String> {
    let mut ids = Vec::new();
    let mut stats = ReadStats::default();
    read_records(body, &Limits::default(), &mut stats, |r| {
        let r = r.unwrap();
        ids.push(String::from_utf8(r.event_id().unwrap().to_vec()).unwrap());
    })
    .unwrap();
    ids
}

async fn put(config: &SdkConfig, bucket: &str, key: &str, body: Vec<u8>) {
    s3(config)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

/// The dataset, and the emulator (stopped on drop) with an empty bucket `bucket`; `None`
/// (the test skips, saying why) when either is missing.
async fn emulator_with_bucket(bucket: &str) -> Option<(Vec<PathBuf>, Moto, SdkConfig)> {
    let files = dataset()?;
    let moto = Moto::start()?;
    let config = sdk_config(&moto).await;
    s3(&config)
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    Some((files, moto, config))
}

fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// A day folder of a partition with `name` delivered into it.
fn key(partition: &str, name: &str) -> String {
    format!("{partition}2023/07/10/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_is_read_as_cloudtrail_writes_it() {
    let Some((files, _moto, config)) = emulator_with_bucket("org-cloudtrail-logs").await else {
        return;
    };
    let bucket = "org-cloudtrail-logs";

    // The account's own trail at the bucket's root: six real objects, gzipped.
    let own = format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/");
    let mut own_keys = Vec::new();
    for file in files.iter().take(6) {
        let name = format!("{}.gz", file.file_name().unwrap().to_str().unwrap());
        let k = key(&own, &name);
        put(&config, bucket, &k, gzip(&std::fs::read(file).unwrap())).await;
        own_keys.push(k);
    }
    // The same events delivered twice: the first object again, in a later object.
    let again = key(
        &own,
        &format!("{ACCOUNT}_CloudTrail_us-east-1_20230710T2355Z_duplicate0000000.json.gz"),
    );
    put(
        &config,
        bucket,
        &again,
        gzip(&std::fs::read(&files[0]).unwrap()),
    )
    .await;
    own_keys.push(again.clone());
    // Beside them: a digest and a stray file, which are not events.
    put(
        &config,
        bucket,
        &format!(
            "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2023/07/10/{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T1200Z.json.gz"
        ),
        gzip(br#"{"awsAccountId":"218007301253","digestStartTime":"2023-07-10T11:00:00Z"}"#),
    )
    .await;
    put(
        &config,
        bucket,
        &key(&own, "README.txt"),
        b"not events".to_vec(),
    )
    .await;
    // An organisation trail under a prefix: a member account in two regions, plain JSON.
    for (region, file) in [("eu-west-1", &files[6]), ("us-east-1", &files[7])] {
        let partition = format!("archive/AWSLogs/{ORG}/{MEMBER}/CloudTrail/{region}/");
        let name = format!("{MEMBER}_CloudTrail_{region}_20230710T1200Z_orgobject0000000.json");
        put(
            &config,
            bucket,
            &key(&partition, &name),
            std::fs::read(file).unwrap(),
        )
        .await;
    }
    put(
        &config,
        bucket,
        &format!("archive/AWSLogs/{ORG}/{MEMBER}/CloudTrail-Digest/eu-west-1/2023/07/10/d.json.gz"),
        gzip(b"{}"),
    )
    .await;

    // Partitions, per prefix.
    let root = TrailBucket::new(&config, bucket, "");
    assert_eq!(
        root.partitions().await.unwrap(),
        vec![Partition {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            organization: None,
            prefix: own.clone(),
        }]
    );
    let archive = TrailBucket::new(&config, bucket, "archive/");
    let org_partitions = archive.partitions().await.unwrap();
    assert_eq!(
        org_partitions
            .iter()
            .map(|p| (
                p.account.as_str(),
                p.region.as_str(),
                p.organization.as_deref()
            ))
            .collect::<Vec<_>>(),
        vec![
            (MEMBER, "eu-west-1", Some(ORG)),
            (MEMBER, "us-east-1", Some(ORG))
        ]
    );
    assert!(
        org_partitions[0]
            .prefix
            .starts_with("archive/AWSLogs/o-abc123def4/")
    );
    let got = archive
        .new_objects(&org_partitions[0], None, 100)
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "only the object, not the digest: {got:?}");
    assert!(got[0].key.ends_with(".json"));

    // Every object of the partition, in key order, without the digest or the stray file.
    let partition = &root.partitions().await.unwrap()[0];
    let all = root.new_objects(partition, None, 1000).await.unwrap();
    let mut want = own_keys.clone();
    want.sort();
    assert_eq!(all.iter().map(|o| o.key.clone()).collect::<Vec<_>>(), want);
    assert!(all.iter().all(|o| o.size > 0 && o.last_modified > 0));

    // A cursor: two at a time from the last key read, ending empty, each object once.
    let mut cursor: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let page = root
            .new_objects(partition, cursor.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        cursor = Some(last.key.clone());
        paged.extend(page.into_iter().map(|o| o.key));
    }
    assert_eq!(paged, want);
    assert!(
        root.new_objects(partition, cursor.as_deref(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A rewound cursor lists again what landed in the last minutes of the cursor's key.
    let rewound = partition.rewound(&want[3], 5).unwrap();
    let again_listed = root
        .new_objects(partition, Some(&rewound), 1000)
        .await
        .unwrap();
    assert!(again_listed.iter().any(|o| o.key == want[3]));

    // Streamed reads give exactly the records on disk, and the twice-delivered events are
    // dropped by the eventID dedupe.
    let mut dedupe = Dedupe::new(100_000);
    let (mut total, mut kept) = (0, 0);
    for object in &all {
        let ids = root
            .read_object(&object.key, |body| event_ids(body))
            .await
            .unwrap();
        total += ids.len();
        for id in &ids {
            if dedupe.first_sighting(EventKey::of(id.as_bytes())) {
                kept += 1;
            }
        }
    }
    let on_disk: usize = files
        .iter()
        .take(6)
        .map(|f| event_ids(std::fs::File::open(f).unwrap()).len())
        .sum();
    let first = event_ids(std::fs::File::open(&files[0]).unwrap()).len();
    assert_eq!(total, on_disk + first);
    assert_eq!(kept, on_disk);
    let first_ids = root.read_object(&again, |b| event_ids(b)).await.unwrap();
    assert_eq!(
        first_ids,
        event_ids(std::fs::File::open(&files[0]).unwrap())
    );

    // A missing object is an error naming it.
    let err = root
        .read_object("AWSLogs/nope.json.gz", |b| event_ids(b))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3://org-cloudtrail-logs/AWSLogs/nope.json.gz"),
        "{err}"
    );
}

/// An object larger than what is received whole is pulled as it is read, and reads the
/// same: every record, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_too_large_to_hold_is_streamed_and_read_whole() {
    let Some((files, _moto, config)) = emulator_with_bucket("large-objects").await else {
        return;
    };
    let bucket = "large-objects";
    // Stored uncompressed (CloudTrail writes `.json` objects too) so the stored size passes
    // the in-memory limit: the dataset's records, each copy with its own event ids.
    let records = records(&files[0]);
    let mut ids = Vec::new();
    let mut copies = Vec::new();
    let mut size = 0u64;
    for (n, record) in (0u32..).zip(records.iter().cycle()) {
        if size > breakglass_aws::trail::IN_MEMORY_MAX {
            break;
        }
        let mut r = record.clone();
        let id = format!("{n:08x}-0000-4000-8000-000000000000");
        r["eventID"] = serde_json::Value::String(id.clone());
        size += serde_json::to_vec(&r).unwrap().len() as u64 + 1;
        ids.push(id);
        copies.push(r);
    }
    let body = serde_json::to_vec(&serde_json::json!({ "Records": copies })).unwrap();
    assert!(body.len() as u64 > breakglass_aws::trail::IN_MEMORY_MAX);
    let key = key(
        &format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/"),
        &format!("{ACCOUNT}_CloudTrail_us-east-1_20230710T1200Z_large00000000000.json"),
    );
    put(&config, bucket, &key, body).await;
    let reader = TrailBucket::new(&config, bucket, "");
    let read = reader.read_object(&key, |b| event_ids(b)).await.unwrap();
    assert_eq!(read.len(), ids.len());
    assert_eq!(read, ids, "every record, in order");
}

/// An EventBridge envelope of a CloudTrail record, as the break-glass rules deliver it.
fn envelope(record: &serde_json::Value) -> String {
    serde_json::json!({
        "version": "0",
        "id": format!("eb-{}", record["eventID"].as_str().unwrap()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{}", record["eventSource"].as_str().unwrap().split('.').next().unwrap()),
        "account": ACCOUNT,
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    })
    .to_string()
}

fn records(file: &PathBuf) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v["Records"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_messages_round_trip_and_undeleted_ones_come_back() {
    let Some(files) = dataset() else { return };
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name("breakglass-activity")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let sent: Vec<serde_json::Value> = records(&files[0]).into_iter().take(12).collect();
    for r in &sent {
        sqs.send_message()
            .queue_url(&url)
            .message_body(envelope(r))
            .send()
            .await
            .unwrap();
    }

    let queue = TrailQueue::lookup(&config, "breakglass-activity", None)
        .await
        .unwrap();
    assert_eq!(queue.url(), url);
    // More than one SQS batch is gathered into one call.
    let got = queue.receive(20, Duration::from_secs(1)).await.unwrap();
    assert_eq!(got.len(), 12);
    let ids: BTreeSet<String> = got
        .iter()
        .flat_map(|m| event_ids(m.body.as_bytes()))
        .collect();
    let want: BTreeSet<String> = sent
        .iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, want, "each body reads as its CloudTrail record");

    // The caller commits, then deletes; what it did not delete is received again.
    let (done, undone) = got.split_at(10);
    queue
        .delete(
            &done
                .iter()
                .map(|m| m.receipt_handle.clone())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let back = queue.receive(20, Duration::from_secs(1)).await.unwrap();
    let mut back_bodies: Vec<&str> = back.iter().map(|m| m.body.as_str()).collect();
    let mut undone_bodies: Vec<&str> = undone.iter().map(|m| m.body.as_str()).collect();
    back_bodies.sort_unstable();
    undone_bodies.sort_unstable();
    assert_eq!(back_bodies, undone_bodies);
    queue
        .delete(
            &back
                .iter()
                .map(|m| m.receipt_handle.clone())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

#[expect(
    clippy::disallowed_methods,
    reason = "CloudWatch Logs refuses events far from the wall clock"
)]
fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_cursor_neither_loses_nor_repeats_an_event() {
    let Some(files) = dataset() else { return };
    let Some(moto) = Moto::start() else { return };
    let config = sdk_config(&moto).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = "aws-cloudtrail-logs";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let messages: Vec<String> = records(&files[1])
        .into_iter()
        .take(14)
        .map(|r| r.to_string())
        .collect();
    assert_eq!(messages.len(), 14);
    // Two streams; several events share a millisecond, across streams too.
    let base = now_ms() - 60_000;
    let stamps = [0, 0, 0, 5, 5, 9, 9, 9, 9, 12, 20, 20, 31, 31];
    let put = |stream: &'static str, events: Vec<(i64, String)>| {
        let logs = logs.clone();
        async move {
            let _ = logs
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await;
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(
                    events
                        .into_iter()
                        .map(|(ts, m)| {
                            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                                .timestamp(ts)
                                .message(m)
                                .build()
                                .unwrap()
                        })
                        .collect(),
                ))
                .send()
                .await
                .unwrap();
        }
    };
    let (a, b): (Vec<_>, Vec<_>) = messages
        .iter()
        .zip(stamps)
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    put(
        "us-east-1",
        a.into_iter()
            .map(|(_, (m, s))| (base + s, m.clone()))
            .collect(),
    )
    .await;
    put(
        "eu-west-1",
        b.into_iter()
            .map(|(_, (m, s))| (base + s, m.clone()))
            .collect(),
    )
    .await;

    let reader = TrailLogGroup::new(&config, group);
    let mut cursor: Option<LogCursor> = None;
    let mut read = Vec::new();
    // Three at a time: cuts fall inside runs of events sharing a millisecond.
    for _ in 0..20 {
        let (got, next) = reader.events_after(cursor.as_ref(), 3).await.unwrap();
        assert!(got.len() <= 3);
        // The cursor survives the text form a store keeps it in.
        cursor = Some(next.to_string().parse().unwrap());
        if got.is_empty() {
            break;
        }
        read.extend(got);
    }
    let mut sorted_read = read.clone();
    sorted_read.sort();
    sorted_read.dedup();
    assert_eq!(sorted_read.len(), read.len(), "an event was read twice");
    let mut want = messages.clone();
    want.sort();
    assert_eq!(sorted_read, want, "an event was lost");

    // Events landing later, one at the cursor's own millisecond: read once, nothing else.
    let cursor = cursor.unwrap();
    let late: Vec<String> = records(&files[2])
        .into_iter()
        .take(2)
        .map(|r| r.to_string())
        .collect();
    put(
        "us-east-1",
        vec![
            (cursor.after_ms, late[0].clone()),
            (cursor.after_ms + 1, late[1].clone()),
        ],
    )
    .await;
    let (got, next) = reader.events_after(Some(&cursor), 100).await.unwrap();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut late_sorted = late.clone();
    late_sorted.sort();
    assert_eq!(got_sorted, late_sorted);
    let (none, same) = reader.events_after(Some(&next), 100).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(same, next);
}

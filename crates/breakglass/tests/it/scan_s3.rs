//! `breakglass scan s3://…` against the emulator: the shared dataset written into a bucket
//! as CloudTrail writes it (gzipped, real key layout, a digest and a stray file beside it,
//! one object delivered twice) scans exactly as the same files on disk do, through the
//! default credentials or an assumed reader role; a bucket that cannot be listed is exit 3.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_s3::primitives::ByteStream;
use breakglass_testkit::moto::Moto;

use crate::support::aws_env;

const ACCOUNT: &str = "218007301253";
const BUCKET: &str = "org-cloudtrail-logs";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn scan(moto: &Moto, args: &[&str]) -> Output {
    scan_as(moto, &[], args)
}

/// `breakglass scan SUB… --endpoint-url … ARGS…`.
fn scan_as(moto: &Moto, sub: &[&str], args: &[&str]) -> Output {
    aws_env(&mut Command::new(env!("CARGO_BIN_EXE_breakglass")))
        .arg("scan")
        .args(sub)
        .args(["--endpoint-url", &moto.endpoint(), "--region", "us-east-1"])
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The findings as (rule, eventID), sorted.
fn findings(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["eventID"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn fill(moto: &Moto, files: &[PathBuf]) {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    let sdk = breakglass_aws::sdk::load(&breakglass_aws::sdk::AwsOptions {
        endpoint_url: Some(moto.endpoint()),
        region: Some("us-east-1".to_owned()),
        profile: None,
    })
    .await
    .into_builder()
    .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
    .build();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let put = |key: String, body: Vec<u8>| {
        let s3 = s3.clone();
        async move {
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap();
        }
    };
    let day = format!("trail/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2023/07/10/");
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap();
        put(format!("{day}{name}.gz"), gzip(&std::fs::read(f).unwrap())).await;
    }
    // The first object delivered again, a digest and a stray file beside them.
    put(
        format!("{day}{ACCOUNT}_CloudTrail_us-east-1_20230710T2355Z_again.json.gz"),
        gzip(&std::fs::read(&files[0]).unwrap()),
    )
    .await;
    put(
        format!(
            "trail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2023/07/10/{ACCOUNT}_CloudTrail-Digest_us-east-1_x_us-east-1_20230710T1200Z.json.gz"
        ),
        gzip(br#"{"awsAccountId":"218007301253"}"#),
    )
    .await;
    put(format!("{day}notes.txt"), b"not events".to_vec()).await;
    aws_sdk_iam::Client::new(&sdk)
        .create_role()
        .role_name("BreakglassTrailReader")
        .path("/breakglass/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
}

#[test]
fn a_bucket_scans_as_the_same_files_on_disk() {
    let Some(dir) = breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset/CloudTrail")
    else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(fill(&moto, &files));

    let disk = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(["scan", "--format", "json", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(disk.status.code(), Some(1));
    let disk = json(&disk);

    for args in [
        vec!["s3://org-cloudtrail-logs/trail"],
        vec!["--jobs", "1", "s3://org-cloudtrail-logs/trail/"],
        // One day of the partition, given by hand.
        vec![
            "s3://org-cloudtrail-logs/trail/AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/",
        ],
        // Two overlapping sources of one bucket: each object is read once, whichever source
        // listed it first, and each source fetches ahead only the objects it will be asked for.
        vec![
            "s3://org-cloudtrail-logs/trail/AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/",
            "s3://org-cloudtrail-logs/trail",
        ],
        // As the reader role.
        vec![
            "--role-arn",
            "arn:aws:iam::123456789012:role/breakglass/BreakglassTrailReader",
            "s3://org-cloudtrail-logs/trail",
        ],
    ] {
        let o = scan(&moto, &[&["--format", "json"][..], &args].concat());
        // Same exit code as the file scan, nothing on stderr (no progress bar off a terminal).
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let doc = json(&o);
        assert_eq!(findings(&doc), findings(&disk), "{args:?}");
        let (s3, local) = (&doc["summary"], &disk["summary"]);
        // 55 objects and the duplicate; the digest and the stray file are not read.
        assert_eq!(s3["inputs"], 56, "{args:?}");
        assert_eq!(s3["inputsFailed"], 0);
        assert_eq!(s3["rules"], local["rules"], "{args:?}");
        let first = local["records"].as_u64().unwrap();
        let again = s3["records"].as_u64().unwrap() - first;
        assert!(again > 0);
        // Every event of the object delivered twice is dropped as a duplicate.
        assert_eq!(s3["duplicates"].as_u64().unwrap(), again, "{args:?}");
        assert_eq!(s3["events"], local["events"]);
        assert_eq!(doc["alarms"], disk["alarms"]);
    }

    // --since skips the days before it (less one) without listing them: nothing after 2023.
    let o = scan(
        &moto,
        &["--since", "2024-01-01", "s3://org-cloudtrail-logs/trail"],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no CloudTrail files found"));

    // Sessions read the bucket the same way.
    let o = scan_as(
        &moto,
        &["sessions"],
        &["--format", "json", "s3://org-cloudtrail-logs/trail"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!json(&o)["sessions"].as_array().unwrap().is_empty());

    // A bucket that is not there, or a prefix with no trail under it: exit 3 and 2, saying so.
    let o = scan(&moto, &["s3://no-such-bucket"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("s3://no-such-bucket/AWSLogs/"), "{err}");
    let o = scan(&moto, &["s3://org-cloudtrail-logs/elsewhere"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "no CloudTrail deliveries under `s3://org-cloudtrail-logs/elsewhere/AWSLogs/`"
        ),
        "{err}"
    );
}

//! `breakglass scan`, `scan sessions` and `trail` end to end: the real binary on the shared
//! CloudTrail dataset, gzip copies of it, and directories of broken inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn breakglass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args(args)
        .output()
        .expect("the breakglass binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn invictus() -> Option<PathBuf> {
    breakglass_testkit::shared_data("cloudtrail/invictus-aws-dataset")
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "breakglass-it-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, relative: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(relative);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn scan_of_the_invictus_dataset_as_a_table() {
    let Some(data) = invictus() else { return };
    let o = breakglass(&["scan", "--jobs", "1", data.to_str().unwrap()]);
    // Critical findings (CloudTrail stopped and deleted) make the scan exit 1.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn scan_as_json_and_jsonl() {
    let Some(data) = invictus() else { return };
    let dir = data.to_str().unwrap();
    let o = breakglass(&["scan", "--format", "json", dir]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 9);
    assert_eq!(doc["summary"]["records"], 2900);
    assert_eq!(doc["summary"]["inputs"], 55);
    assert_eq!(doc["alarms"].as_array().unwrap().len(), 4);
    let first = &doc["findings"][0];
    assert!(first["event"]["eventID"].is_string());
    assert_eq!(first["eventID"], first["event"]["eventID"]);

    let o = breakglass(&["scan", "--format", "jsonl", "--jobs", "2", dir]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    let tampering = lines
        .iter()
        .filter(|l| l["rule"] == "cloudtrail-tampering")
        .count();
    assert_eq!(tampering, 8);
    assert!(
        stderr(&o).contains("2,900 records"),
        "the summary goes to stderr"
    );
}

#[test]
fn gzip_objects_in_the_s3_layout_scan_the_same_and_digests_are_skipped() {
    let Some(data) = invictus() else { return };
    let scratch = Scratch::new("gz");
    let prefix = "AWSLogs/123837392027/CloudTrail/us-east-1/2023/07/10";
    for entry in std::fs::read_dir(data.join("CloudTrail")).unwrap() {
        let p = entry.unwrap().path();
        let name = format!("{prefix}/{}.gz", p.file_name().unwrap().to_string_lossy());
        scratch.write(&name, &gzip(&std::fs::read(&p).unwrap()));
    }
    scratch.write(
        "AWSLogs/123837392027/CloudTrail-Digest/us-east-1/2023/07/10/digest.json.gz",
        &gzip(b"{\"digestStartTime\":\"x\"}"),
    );
    scratch.write("AWSLogs/README.txt", b"not CloudTrail");
    let o = breakglass(&["scan", "--format", "json", scratch.path().to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["summary"]["inputs"], 55,
        "the digest and the README are not read"
    );
    assert_eq!(doc["summary"]["records"], 2900);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 9);
}

#[test]
fn broken_inputs_are_named_and_the_scan_goes_on() {
    let scratch = Scratch::new("broken");
    let good = r#"{"Records":[{"eventID":"1","eventTime":"2024-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}]}"#;
    scratch.write("a-good.json", good.as_bytes());
    let big = gzip(
        format!(
            r#"{{"Records":[{}]}}"#,
            (0..3000)
                .map(|i| format!(
                    r#"{{"eventID":"e{i}","eventName":"DescribeVpcs","pad":"{i:0>40}"}}"#
                ))
                .collect::<Vec<_>>()
                .join(",")
        )
        .as_bytes(),
    );
    scratch.write("b-truncated.json.gz", &big[..big.len() / 2]);
    scratch.write("c-not-json.json", b"<html>this is not CloudTrail</html>");
    scratch.write("d-records-object.json", br#"{"Records":{"eventName":"x"}}"#);
    // A 300 MB single line: one record that never ends.
    let mut huge = std::fs::File::create(scratch.path().join("e-huge.json")).unwrap();
    huge.write_all(br#"{"Records":[{"eventName":""#).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..300 {
        huge.write_all(&block).unwrap();
    }
    drop(huge);

    let dir = scratch.path().to_str().unwrap();
    let time = Path::new("/usr/bin/time");
    let o = if time.exists() {
        Command::new(time)
            .args([
                "-f",
                "peak-kb %M",
                env!("CARGO_BIN_EXE_breakglass"),
                "scan",
                "--jobs",
                "2",
                dir,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    } else {
        breakglass(&["scan", "--jobs", "2", dir])
    };
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("b-truncated.json.gz`: gzip data is corrupt or truncated"),
        "{err}"
    );
    assert!(
        err.contains("c-not-json.json`: expected CloudTrail JSON"),
        "{err}"
    );
    assert!(
        err.contains("d-records-object.json`: `Records` at byte 11 is not an array"),
        "{err}"
    );
    assert!(
        err.contains("e-huge.json`: record 0 at byte 12 is larger than the limit"),
        "{err}"
    );
    assert!(
        err.contains("4 inputs could not be read completely"),
        "{err}"
    );
    let out = stdout(&o);
    assert!(out.contains("scanned 5 inputs (4 failed)"), "{out}");
    if let Some(kb) = err
        .lines()
        .find_map(|l| l.strip_prefix("peak-kb "))
        .and_then(|k| k.trim().parse::<u64>().ok())
    {
        assert!(kb < 200 * 1024, "peak memory {kb} KB");
    } else {
        println!("skipped the memory check: /usr/bin/time is not installed");
    }
}

#[test]
fn trail_match_prints_matching_events_from_files_and_stdin() {
    let Some(data) = invictus() else { return };
    let pattern =
        r#"{ $.eventSource = "cloudtrail.amazonaws.com" && $.eventName = "StopLogging" }"#;
    let o = breakglass(&[
        "trail",
        "match",
        "--pattern",
        pattern,
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["eventName"] == "StopLogging"));

    let first = std::fs::read_dir(data.join("CloudTrail"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_breakglass"))
        .args([
            "trail",
            "match",
            "--count",
            "--pattern",
            "{ $.eventID = * }",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&gzip(&std::fs::read(&first).unwrap()))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let count: usize = stdout(&o).trim().parse().unwrap();
    assert!(count > 0);
}

#[test]
fn trail_check_prints_the_canonical_form_or_every_problem() {
    let o = breakglass(&[
        "trail",
        "check",
        "{($.eventName=StopLogging)||($.eventName=DeleteTrail)}",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{ $.eventName = \"StopLogging\" || $.eventName = \"DeleteTrail\" }\n"
    );
    let o = breakglass(&["trail", "check", r#"{ $.a == 1 && $.b > "x" }"#]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("      ^ `==` is not supported"), "{err}");
    assert!(err.contains("must be a number, not `\"x\"`"), "{err}");
    assert!(
        err.contains("error: invalid filter pattern: 2 problem(s)"),
        "{err}"
    );
}

#[test]
fn scan_sessions_links_every_role_session_event() {
    let Some(data) = invictus() else { return };
    let dir = data.to_str().unwrap();
    let o = breakglass(&["scan", "sessions", dir]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("76 role-session events: 70 linked by access key, 6 by (role, session name, time), 0 by source identity, 0 unlinked; 36 AssumeRole, 13 denied"),
        "{out}"
    );
    let o = breakglass(&[
        "scan",
        "sessions",
        "--session-name",
        "aws-go-sdk-1688990515440126480",
        "--format",
        "json",
        dir,
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(
        sessions.len(),
        2,
        "two AssumeRole calls used that session name"
    );
    let used = sessions.iter().find(|s| s["events"] == 1).unwrap();
    assert_eq!(used["timeline"][0]["eventName"], "LeaveOrganization");
    assert_eq!(
        used["assumeRole"]["issuedBy"],
        "arn:aws:iam::123837392027:user/bert-jan"
    );
}

#[test]
fn bad_rules_and_parameters_are_usage_errors() {
    let scratch = Scratch::new("rules");
    let rules = scratch.write("r.toml", b"version = 1\n[[rule]]\nid = \"x\"\n");
    let events = scratch.write("e.json", br#"{"Records":[]}"#);
    let o = breakglass(&[
        "scan",
        "--rules",
        rules.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("r.toml`"), "{}", stderr(&o));
    let o = breakglass(&["scan", "--break-glass-role", "*", events.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`break_glass_role` = `*`"),
        "{}",
        stderr(&o)
    );
    let o = breakglass(&["scan", "/nonexistent/trail"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read `/nonexistent/trail`"),
        "{}",
        stderr(&o)
    );
    let o = breakglass(&["scan", "--since", "yesterday", events.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

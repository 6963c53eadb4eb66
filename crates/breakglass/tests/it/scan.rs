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
    assert_eq!(doc["findings"].as_array().unwrap().len(), 11);
    assert_eq!(doc["summary"]["records"], 2900);
    assert_eq!(doc["summary"]["inputs"], 55);
    assert_eq!(doc["alarms"].as_array().unwrap().len(), 5);
    let first = &doc["findings"][0];
    assert!(first["event"]["eventID"].is_string());
    assert_eq!(first["eventID"], first["event"]["eventID"]);

    let o = breakglass(&["scan", "--format", "jsonl", "--jobs", "2", dir]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 11);
    let count = |rule: &str| lines.iter().filter(|l| l["rule"] == rule).count();
    assert_eq!(count("cloudtrail-tampering"), 8);
    // The Stratus operator's GetCallerIdentity and DescribeInstances with an instance's
    // stolen credentials; the SSM Agent's own calls from its instances are not findings.
    assert_eq!(count("instance-credentials-outside-aws"), 2);
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
    assert_eq!(doc["findings"].as_array().unwrap().len(), 11);
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

/// A CloudTrail event as `aws cloudtrail lookup-events` and attack simulations print them:
/// pretty-printed.
fn stop_logging(id: &str, time: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
                         "userName": "mallory"},
        "eventTime": time,
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.54",
        "requestParameters": {"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org"},
        "responseElements": null,
        "eventID": id,
        "eventType": "AwsApiCall"
    })
}

#[test]
fn pretty_printed_input_prints_one_event_per_line() {
    let scratch = Scratch::new("pretty");
    let doc = serde_json::json!({"Records": [
        stop_logging("p-1", "2024-03-01T10:00:00Z"),
        stop_logging("p-2", "2024-03-01T10:01:00Z"),
    ]});
    let file = scratch.write(
        "pretty.json",
        serde_json::to_string_pretty(&doc).unwrap().as_bytes(),
    );
    let file = file.to_str().unwrap();
    let o = breakglass(&[
        "trail",
        "match",
        "--pattern",
        r#"{ $.eventName = "StopLogging" }"#,
        file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: `{l}`")))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["eventID"], "p-2");

    let o = breakglass(&["scan", "--format", "jsonl", file]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: `{l}`")))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event"]["eventID"], "p-1");
}

#[test]
fn trail_check_warns_on_an_unquoted_at_value_and_prints_it_quoted() {
    // CloudWatch Logs filter pattern syntax: PutMetricFilter refuses this value unquoted.
    let o = breakglass(&[
        "trail",
        "check",
        "{ $.userIdentity.userName = alice@example.com }",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{ $.userIdentity.userName = \"alice@example.com\" }\n"
    );
    let err = stderr(&o);
    assert!(
        err.contains("^ unquoted value `alice@example.com`"),
        "{err}"
    );
    assert!(
        err.contains("CloudWatch Logs would refuse this pattern"),
        "{err}"
    );
}

#[test]
fn an_export_with_only_timestamp_is_windowed_by_it_and_counted() {
    // Exports from log stores carry the time in `@timestamp` (milliseconds) only.
    let scratch = Scratch::new("timestamp");
    let mut ndjson = String::new();
    for (id, t) in [
        ("t-1", "2024-03-01T09:59:59"),
        ("t-2", "2024-03-01T10:00:00"),
        ("t-3", "2024-03-01T10:30:00"),
    ] {
        let mut e = stop_logging(id, "");
        let o = e.as_object_mut().unwrap();
        o.remove("eventTime");
        o.insert("@timestamp".to_owned(), format!("{t}.000Z").into());
        ndjson.push_str(&e.to_string());
        ndjson.push('\n');
    }
    let mut no_time = stop_logging("t-4", "");
    no_time.as_object_mut().unwrap().remove("eventTime");
    ndjson.push_str(&no_time.to_string());
    ndjson.push('\n');
    let file = scratch.write("export.ndjson", ndjson.as_bytes());
    let o = breakglass(&[
        "trail",
        "match",
        "--since",
        "2024-03-01T10:00:00Z",
        "--until",
        "2024-03-01T11:00:00Z",
        "--pattern",
        r#"{ $.eventName = "StopLogging" }"#,
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ids: Vec<String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["eventID"].to_string())
        .collect();
    assert_eq!(ids, ["\"t-2\"", "\"t-3\""]);
    let err = stderr(&o);
    assert!(
        err.contains("1 records have no usable eventTime or @timestamp and were left out of the --since/--until window"),
        "{err}"
    );
    assert!(
        err.contains("3 records have no usable eventTime and were timed by @timestamp"),
        "{err}"
    );

    let o = breakglass(&["scan", "--format", "json", file.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["summary"]["withoutTime"], 1);
    assert_eq!(doc["summary"]["timeFromTimestamp"], 3);
    assert_eq!(doc["findings"][0]["eventTime"], "2024-03-01T09:59:59.000Z");
}

#[test]
fn findings_come_in_input_order_whatever_the_number_of_jobs() {
    // The first input is large, so with several jobs the others finish before it.
    let scratch = Scratch::new("order");
    let mut big = String::from("{\"Records\":[");
    for i in 0..40_000 {
        big.push_str(&format!(
            r#"{{"eventID":"filler-{i}","eventTime":"2024-03-01T09:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}},"#
        ));
    }
    big.push_str(&stop_logging("o-00", "2024-03-01T10:00:00Z").to_string());
    big.push_str("]}");
    scratch.write("a00.json", big.as_bytes());
    for i in 1..8 {
        let doc = serde_json::json!({"Records": [stop_logging(&format!("o-{i:02}"), "2024-03-01T10:00:00Z")]});
        scratch.write(&format!("a{i:02}.json"), doc.to_string().as_bytes());
    }
    let dir = scratch.path().to_str().unwrap();
    let ids = |jobs: &str| -> Vec<String> {
        let o = breakglass(&["scan", "--format", "jsonl", "--jobs", jobs, dir]);
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["eventID"].to_string())
            .collect()
    };
    let one = ids("1");
    assert_eq!(one.len(), 8);
    assert_eq!(one[0], "\"o-00\"");
    for _ in 0..3 {
        assert_eq!(ids("4"), one);
    }
}

/// Findings in shuffled files (and shuffled within a file) come out as a table in time
/// order, each column starting where its header does, whatever the number of threads.
#[test]
fn table_findings_are_in_time_order_with_aligned_columns() {
    let scratch = Scratch::new("order");
    let event = |time: &str, name: &str, who: &str, ip: &str| {
        format!(
            r#"{{"eventID":"{time}{name}","eventTime":"{time}","eventSource":"cloudtrail.amazonaws.com","eventName":"{name}","userIdentity":{{"arn":"{who}"}},"sourceIPAddress":"{ip}"}}"#
        )
    };
    let a = [
        event(
            "2024-03-01T12:09:00Z",
            "DeleteTrail",
            "arn:aws:iam::1:user/x",
            "10.0.0.1",
        ),
        event(
            "2024-03-01T12:01:00Z",
            "StopLogging",
            "arn:aws:iam::111122223333:user/a-much-longer-principal-name",
            "192.168.100.200",
        ),
        event(
            "2024-03-01T12:05:00Z",
            "UpdateTrail",
            "arn:aws:iam::1:user/y",
            "-",
        ),
    ];
    let b = [
        event(
            "2024-03-01T12:07:00Z",
            "PutEventSelectors",
            "arn:aws:iam::1:user/z",
            "1.1.1.1",
        ),
        event(
            "2024-03-01T12:03:00Z",
            "StopLogging",
            "arn:aws:iam::1:user/w",
            "2.2.2.2",
        ),
    ];
    scratch.write(
        "a.json",
        format!(r#"{{"Records":[{}]}}"#, a.join(",")).as_bytes(),
    );
    scratch.write(
        "b.json",
        format!(r#"{{"Records":[{}]}}"#, b.join(",")).as_bytes(),
    );
    for jobs in ["1", "2"] {
        let o = breakglass(&["scan", "--jobs", jobs, scratch.path().to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let text = stdout(&o);
        let table: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
        let (header, rows) = table.split_first().unwrap();
        assert_eq!(rows.len(), 5, "{text}");
        let times: Vec<&str> = rows.iter().map(|r| &r[..20]).collect();
        assert_eq!(
            times,
            [
                "2024-03-01T12:01:00Z",
                "2024-03-01T12:03:00Z",
                "2024-03-01T12:05:00Z",
                "2024-03-01T12:07:00Z",
                "2024-03-01T12:09:00Z"
            ],
            "{text}"
        );
        for column in ["SEVERITY", "RULE", "CALL", "PRINCIPAL", "SOURCE IP"] {
            let at = header.find(column).unwrap();
            for row in rows {
                assert_eq!(&row[at - 2..at], "  ", "`{column}` in {row:?}\n{text}");
                assert_ne!(&row[at..=at], " ", "`{column}` in {row:?}\n{text}");
            }
        }
        assert!(rows[0].ends_with("192.168.100.200"), "{text}");
        assert!(rows[0].contains("cloudtrail:StopLogging"), "{text}");
    }
}

/// `breakglass scan ... | head -1`: the reader takes one line and goes away; the scan ends
/// quietly with 0 (no "Broken pipe", and not 1 for the findings it was printing), as the
/// binary's other commands do. The findings (5,000 root sign-ins, about 570 KB of table)
/// are far more than a pipe holds, so the scan does write into the closed pipe.
#[test]
fn a_scan_piped_into_head_ends_quietly_with_0() {
    let dir = Scratch::new("scan-head");
    let records: Vec<serde_json::Value> = (0..5_000)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "Root", "principalId": "123456789012",
                    "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
                "eventTime": format!("2026-01-01T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60),
                "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin",
                "awsRegion": "us-east-1",
                "sourceIPAddress": format!("198.51.100.{}", i % 250),
                "eventID": format!("e-{i:06}"),
                "eventType": "AwsConsoleSignIn",
                "recipientAccountId": "123456789012",
                "responseElements": {"ConsoleLogin": "Success"},
            })
        })
        .collect();
    let file = dir.write(
        "root-sign-ins.json",
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    );
    // Unpiped, the findings make it exit 1 (the control: they are there to be printed).
    let whole = breakglass(&["scan", file.to_str().unwrap()]);
    assert_eq!(whole.status.code(), Some(1), "{}", stderr(&whole));
    assert!(
        whole.stdout.len() > 256 * 1024,
        "{} bytes",
        whole.stdout.len()
    );
    let (first, out) = crate::support::first_line_then_close(&["scan".as_ref(), file.as_os_str()]);
    assert!(first.starts_with("TIME"), "{first}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing said about the closed pipe");
}

/// Anyone who can make a call chooses the user agent and session name CloudTrail records,
/// and anyone who can write to a trail bucket writes whole records and picks object keys.
/// The tables `scan` and `scan sessions` print, and the messages about inputs, must not
/// let that text drive the reader's terminal (escape sequences), add rows that look like
/// the tool's own (line breaks), or read backwards (bidi overrides).
#[test]
fn text_from_the_trail_cannot_drive_the_terminal_or_add_rows() {
    let scratch = Scratch::new("inert");
    let evil = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m";
    let stop = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser",
                         "arn": format!("arn:aws:iam::111122223333:user/mallory{evil}"),
                         "userName": "mallory"},
        "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.54\n2024-03-01T09:00:00Z  LOW  fake-row",
        "userAgent": format!("aws-cli/2 {evil}"),
        "eventID": "inert-1",
        "eventType": "AwsApiCall"
    });
    let session = "incident\u{202E}1234\n  who       alice";
    let call = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole",
                         "arn": format!("arn:aws:sts::111122223333:assumed-role/Responder/{session}"),
                         "accessKeyId": "ASIAEXAMPLEINERT0001",
                         "sessionContext": {"sessionIssuer": {"type": "Role",
                             "arn": "arn:aws:iam::111122223333:role/Responder"}}},
        "eventTime": "2024-03-01T10:01:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": format!("198.51.100.7{evil}"),
        "userAgent": format!("boto3 {evil}\nagents    fake"),
        "requestParameters": {"bucketName": "b", "key": format!("k{evil}\nfake")},
        "eventID": "inert-2",
        "eventType": "AwsApiCall"
    });
    let assume = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops",
                         "accessKeyId": "AKIAEXAMPLEOPS000001"},
        "eventTime": "2024-03-01T10:00:30Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/Responder",
                              "roleSessionName": session},
        "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLEINERT0001"},
                             "assumedRoleUser": {"arn": format!("arn:aws:sts::111122223333:assumed-role/Responder/{session}")}},
        "eventID": "inert-0",
        "eventType": "AwsApiCall"
    });
    let doc = serde_json::json!({"Records": [stop, assume, call]});
    scratch.write("trail/a.json", doc.to_string().as_bytes());
    // A file whose name holds an escape sequence and a line break, and is not JSON.
    scratch.write(&format!("trail/bad{evil}\nerror: `x`.json"), b"not json");
    let dir = scratch.path().join("trail");
    let dir = dir.to_str().unwrap();

    let clean = |text: &str, what: &str| {
        for c in text.chars() {
            assert!(
                c == '\n' || !breakglass_core::present::is_hidden(c),
                "{what}: {c:?} reached the terminal:\n{text}"
            );
        }
    };
    let o = breakglass(&["scan", "--no-progress", dir]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    clean(&out, "scan's table");
    clean(&err, "scan's messages");
    let table: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(table.len(), 2, "a header and one finding:\n{out}");
    assert!(table[1].contains("mallory\u{FFFD}[2J"), "{out}");
    assert!(table[1].contains("203.0.113.54\u{FFFD}2024-03-01"), "{out}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("bad")).collect();
    assert_eq!(errors.len(), 1, "one message for the broken file:\n{err}");
    assert!(errors[0].starts_with("error: `"), "{err}");
    assert!(!err.lines().any(|l| l.starts_with("error: `x`")), "{err}");

    let o = breakglass(&["scan", "sessions", "--no-progress", dir]);
    let (out, err) = (stdout(&o), stderr(&o));
    clean(&out, "the sessions table");
    clean(&err, "the sessions messages");
    let head: Vec<&str> = out.lines().filter(|l| l.starts_with("session ")).collect();
    assert_eq!(head.len(), 1, "{out}");
    assert!(
        head[0].contains("incident\u{FFFD}1234\u{FFFD}  who"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  who ")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  agents ")).count(),
        1,
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("fake")),
        "{out}"
    );

    // A record with raw control bytes inside a string (invalid JSON that the reader lets
    // through) and no line break is still printed, escaped, not dropped from the JSON.
    let raw = scratch.write(
        "raw/r.json",
        b"{\"Records\":[{\"eventID\":\"raw-1\",\"eventTime\":\"2024-03-01T10:00:00Z\",\"eventSource\":\"cloudtrail.amazonaws.com\",\"eventName\":\"StopLogging\",\"userAgent\":\"x\x1b[2J\x01\"}]}",
    );
    let o = breakglass(&[
        "scan",
        "--no-progress",
        "--format",
        "jsonl",
        raw.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let finding: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(finding["event"]["userAgent"], "x\u{1b}[2J\u{1}");

    // JSON keeps the text exactly (escaped as JSON escapes it), for tools.
    let o = breakglass(&["scan", "--no-progress", "--format", "json", dir]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let finding = &doc["findings"][0];
    assert_eq!(
        finding["principal"],
        format!("arn:aws:iam::111122223333:user/mallory{evil}")
    );
}

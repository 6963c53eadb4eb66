//! Readers: every delivery format, and malformed input that must fail one input cleanly.

use std::io::{Read, Write};

use breakglass_trail::read::{Limits, ReadError, ReadStats, read_records};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Reads `input` and returns the eventNames of the records, the skip reasons and the result.
fn read(input: &[u8], limits: &Limits) -> (Vec<String>, Vec<String>, Result<(), ReadError>) {
    let mut names = Vec::new();
    let mut skips = Vec::new();
    let mut stats = ReadStats::default();
    let result = read_records(input, limits, &mut stats, |item| match item {
        Ok(r) => names.push(
            r.event()
                .str(&["eventName"])
                .map_or_else(|| "?".to_owned(), |s| s.into_owned()),
        ),
        Err(e) => skips.push(e.to_string()),
    });
    assert_eq!(stats.records as usize, names.len());
    assert_eq!(stats.skipped as usize, skips.len());
    (names, skips, result)
}

fn ok(input: &[u8]) -> Vec<String> {
    let (names, skips, result) = read(input, &Limits::default());
    result.unwrap();
    assert!(skips.is_empty(), "{skips:?}");
    names
}

const A: &str = r#"{"eventName":"A","eventID":"1"}"#;
const B: &str = r#"{"eventName":"B","eventID":"2"}"#;

#[test]
fn s3_objects_plain_and_gzip() {
    let obj = format!(r#"{{"Records":[{A},{B}]}}"#);
    assert_eq!(ok(obj.as_bytes()), ["A", "B"]);
    assert_eq!(ok(&gzip(obj.as_bytes())), ["A", "B"]);
    let pretty = format!("{{\n  \"Records\" : [\n    {A} ,\n    {B}\n  ]\n}}\n");
    assert_eq!(ok(pretty.as_bytes()), ["A", "B"]);
    assert_eq!(ok(br#"{"Records":[]}"#), Vec::<String>::new());
}

#[test]
fn wrapper_members_before_and_after_records() {
    let after = format!(r#"{{"Records":[{A}],"extra":{{"x":[1,2]}}}}"#);
    assert_eq!(ok(after.as_bytes()), ["A"]);
    let before = format!(r#"{{"version":"1","Records":[{A},{B}]}}"#);
    assert_eq!(ok(before.as_bytes()), ["A", "B"]);
}

#[test]
fn arrays_ndjson_and_concatenated_records() {
    assert_eq!(ok(format!("[{A},{B}]").as_bytes()), ["A", "B"]);
    assert_eq!(ok(format!("{A}\n{B}\n").as_bytes()), ["A", "B"]);
    assert_eq!(ok(format!("{A}{B}").as_bytes()), ["A", "B"]);
    assert_eq!(ok(format!("\u{feff}{A}\r\n{B}").as_bytes()), ["A", "B"]);
    assert_eq!(ok(b"  \n "), Vec::<String>::new());
}

#[test]
fn eventbridge_envelopes() {
    let env = format!(
        r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.sts","detail":{A}}}"#
    );
    assert_eq!(ok(format!("{env}\n{env}").as_bytes()), ["A", "A"]);
    let bad = r#"{"detail-type":"x","detail":"not an object"}"#;
    let (names, skips, result) = read(bad.as_bytes(), &Limits::default());
    result.unwrap();
    assert!(names.is_empty());
    assert!(skips[0].contains("`detail` is not an object"), "{skips:?}");
}

#[test]
fn cloudwatch_logs_subscription_envelopes() {
    let msg = |r: &str| serde_json::to_string(r).unwrap();
    let env = format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{{"id":"1","timestamp":1,"message":{}}},{{"id":"2","timestamp":2,"message":{}}},{{"id":"3","timestamp":3,"message":"not json"}}]}}"#,
        msg(A),
        msg(B)
    );
    let (names, skips, result) = read(&gzip(env.as_bytes()), &Limits::default());
    result.unwrap();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(skips.len(), 1);
    assert!(
        skips[0].starts_with("record 2: log message is not a CloudTrail record"),
        "{skips:?}"
    );
    let control = r#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
    assert_eq!(ok(control.as_bytes()), Vec::<String>::new());
}

#[test]
fn event_id_and_time_are_located_while_reading() {
    let obj = r#"{"Records":[{"eventTime":"2023-07-10T11:42:36Z","x":{"eventID":"inner"},"eventID":"293ba626-3be5-4a26-ab1b-0f4c54f49959"}]}"#;
    let mut stats = ReadStats::default();
    let mut seen = Vec::new();
    read_records(obj.as_bytes(), &Limits::default(), &mut stats, |r| {
        let r = r.unwrap();
        seen.push((
            r.event_id().unwrap().to_vec(),
            r.event_time().unwrap().to_vec(),
        ));
    })
    .unwrap();
    assert_eq!(
        seen,
        [(
            b"293ba626-3be5-4a26-ab1b-0f4c54f49959".to_vec(),
            b"2023-07-10T11:42:36Z".to_vec()
        )]
    );
}

#[test]
fn truncated_gzip_fails_after_delivering_what_it_could() {
    let records: String = (0..2000)
        .map(|i| {
            format!(
                r#"{{"eventName":"E{i}","eventID":"{i}","pad":"{}"}}"#,
                "x".repeat(40)
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let gz = gzip(format!(r#"{{"Records":[{records}]}}"#).as_bytes());
    let cut = &gz[..gz.len() / 2];
    let (names, _, result) = read(cut, &Limits::default());
    assert!(matches!(result, Err(ReadError::Gzip { .. })), "{result:?}");
    assert!(!names.is_empty() && names.len() < 2000, "{}", names.len());
}

#[test]
fn non_json_input_is_rejected() {
    let (names, _, result) = read(b"hello, this is not CloudTrail\n", &Limits::default());
    assert!(names.is_empty());
    assert_eq!(result, Err(ReadError::NotCloudTrail { offset: 0 }));
    let (_, _, result) = read(&gzip(b"\x00\x01binary"), &Limits::default());
    assert!(
        matches!(result, Err(ReadError::NotCloudTrail { .. })),
        "{result:?}"
    );
}

#[test]
fn records_that_is_not_an_array_is_rejected() {
    let (_, _, result) = read(br#"{"Records":{"eventName":"A"}}"#, &Limits::default());
    assert_eq!(result, Err(ReadError::RecordsNotArray { offset: 11 }));
    // Not the first member: the object is read whole, and the problem skips it.
    let (names, skips, result) = read(br#"{"v":1,"Records":"nope"}"#, &Limits::default());
    result.unwrap();
    assert!(names.is_empty());
    assert!(skips[0].contains("`Records` is not an array"), "{skips:?}");
}

#[test]
fn invalid_json_names_the_record_and_byte() {
    let input = format!(r#"{{"Records":[{A},{{"eventName":"B" "x":1}},{A}]}}"#);
    let (names, _, result) = read(input.as_bytes(), &Limits::default());
    assert_eq!(names, ["A"]);
    assert_eq!(
        result,
        Err(ReadError::Syntax {
            record: 1,
            offset: 61,
            expected: "`,` or `}`"
        })
    );
    let truncated = format!(r#"{{"Records":[{A},{{"eventName":"B""#);
    let (names, _, result) = read(truncated.as_bytes(), &Limits::default());
    assert_eq!(names, ["A"]);
    assert!(
        matches!(result, Err(ReadError::Truncated { record: 1, .. })),
        "{result:?}"
    );
}

#[test]
fn non_object_elements_and_bad_utf8_skip_one_record() {
    let mut input = format!(r#"{{"Records":[{A},42,"#).into_bytes();
    input.extend_from_slice(b"{\"eventName\":\"\xff\xfe\"},");
    input.extend_from_slice(format!("{B}]}}").as_bytes());
    let (names, skips, result) = read(&input, &Limits::default());
    result.unwrap();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(skips.len(), 2);
    assert!(skips[0].starts_with("record 1: expected a CloudTrail record"));
    assert!(skips[1].starts_with("record 2: invalid UTF-8"));
}

/// A reader that produces `total` bytes of `{"x":"aaaa…` (one never-ending line) and counts
/// how much was asked of it.
struct EndlessLine {
    total: usize,
    served: usize,
}

impl Read for EndlessLine {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.total - self.served);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = match self.served + i {
                0 => b'{',
                1 | 3 | 5 => b'"',
                2 => b'x',
                4 => b':',
                _ => b'a',
            };
        }
        self.served += n;
        Ok(n)
    }
}

#[test]
fn a_300_mb_single_line_fails_with_bounded_reading() {
    let limits = Limits::default();
    let mut line = EndlessLine {
        total: 300 << 20,
        served: 0,
    };
    let mut stats = ReadStats::default();
    let result = read_records(&mut line, &limits, &mut stats, |_| panic!("no record"));
    assert!(
        matches!(result, Err(ReadError::TooLarge { record: 0, offset: 0, limit }) if limit == limits.max_record_bytes),
        "{result:?}"
    );
    // It stopped reading at about the record limit instead of buffering 300 MB.
    assert!(
        line.served <= limits.max_record_bytes + 2 * limits.chunk_bytes,
        "{} bytes read",
        line.served
    );
}

#[test]
fn a_large_single_line_object_is_streamed() {
    // 64 MB of records on one line, read with a 1 MB record limit: the Records array is
    // streamed, so only each record has to fit.
    let record = format!(r#"{{"eventName":"E","pad":"{}"}}"#, "y".repeat(1000));
    let n = (64 << 20) / record.len();
    let mut input = String::from(r#"{"Records":["#);
    for i in 0..n {
        if i > 0 {
            input.push(',');
        }
        input.push_str(&record);
    }
    input.push_str("]}");
    let limits = Limits {
        max_record_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut stats = ReadStats::default();
    let mut count = 0usize;
    read_records(input.as_bytes(), &limits, &mut stats, |r| {
        r.unwrap();
        count += 1;
    })
    .unwrap();
    assert_eq!(count, n);
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let bomb = gzip(&vec![b' '; 50 << 20]);
    assert!(bomb.len() < 200_000);
    let limits = Limits {
        max_decompressed_bytes: 10 << 20,
        ..Limits::default()
    };
    let (_, _, result) = read(&bomb, &limits);
    assert_eq!(
        result,
        Err(ReadError::DecompressionLimit { limit: 10 << 20 })
    );
}

//! How findings and summaries are printed: a table for people, JSON and JSON lines for tools.

use std::fmt::Write as _;

use breakglass_core::present::printable;
use breakglass_trail::Node;
use breakglass_trail::event::Event;
use breakglass_trail::rules::{FiredAlarm, RuleSet};
use breakglass_trail::scan::{Finding, ScanSummary};
use breakglass_trail::time::format_epoch;
use serde::Serialize;
use serde_json::value::RawValue;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns and a summary, for people.
    Table,
    /// One JSON document with findings, alarms and the summary.
    Json,
    /// One JSON object per line (the summary goes to stderr).
    Jsonl,
}

fn text(event: &Event<'_>, path: &[&str]) -> Option<String> {
    event.str(path).map(|s| s.into_owned())
}

/// Who made the call: a principal ARN, else the invoking service, user name or type.
pub fn principal(event: &Event<'_>) -> String {
    text(event, &["userIdentity", "arn"])
        .or_else(|| text(event, &["userIdentity", "invokedBy"]))
        .or_else(|| text(event, &["userIdentity", "userName"]))
        .or_else(|| text(event, &["userIdentity", "type"]))
        .unwrap_or_else(|| "-".to_owned())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingJson<'a> {
    rule: &'a str,
    severity: &'a str,
    title: &'a str,
    event_time: Option<String>,
    event_source: Option<String>,
    event_name: Option<String>,
    aws_region: Option<String>,
    principal: String,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    error_code: Option<String>,
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    file: &'a str,
    record: u64,
    event: &'a RawValue,
}

/// Appends one finding to `buf` in `format` (JSON and JSON lines, which stream in input
/// order; a table row is made by [`table_row`]).
pub fn finding(buf: &mut Vec<u8>, format: Format, file: &str, f: &Finding<'_>) {
    let e = &f.event;
    match format {
        // The table is sorted before it is printed: see `table_row` and `table`.
        Format::Table => {}
        Format::Json | Format::Jsonl => {
            // Compact, so a pretty-printed event keeps JSON lines one object per line.
            let raw = String::from_utf8(e.compact().into_owned())
                .ok()
                .and_then(|s| RawValue::from_string(s).ok());
            let Some(raw) = raw else {
                return;
            };
            let row = FindingJson {
                rule: &f.rule.id,
                severity: f.rule.severity.as_str(),
                title: &f.rule.title,
                event_time: e.time_text().map(|t| t.into_owned()),
                event_source: text(e, &["eventSource"]),
                event_name: text(e, &["eventName"]),
                aws_region: text(e, &["awsRegion"]),
                principal: principal(e),
                source_ip_address: text(e, &["sourceIPAddress"]),
                error_code: text(e, &["errorCode"]),
                event_id: text(e, &["eventID"]),
                file,
                record: f.record,
                event: &raw,
            };
            if format == Format::Json {
                buf.extend_from_slice(b",\n");
            }
            if serde_json::to_writer(&mut *buf, &row).is_ok() && format == Format::Jsonl {
                buf.push(b'\n');
            }
        }
    }
}

/// One finding as a row of the table: its cells, and where it sorts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The event's time in seconds (`None`: no usable time; such rows go last).
    time: Option<i64>,
    file: String,
    record: u64,
    cells: [String; 6],
}

/// `f`, found in `file`, as a table row.
pub fn table_row(file: &str, f: &Finding<'_>) -> TableRow {
    let e = &f.event;
    let time = e
        .time_text()
        .map_or_else(|| "-".to_owned(), |t| t.into_owned());
    let source = text(e, &["eventSource"]).unwrap_or_default();
    let error = match e.get(&["errorCode"]) {
        Some(Node::String(_)) => {
            format!(" [{}]", text(e, &["errorCode"]).unwrap_or_default())
        }
        _ => String::new(),
    };
    let call = format!(
        "{}:{}{error}",
        source.strip_suffix(".amazonaws.com").unwrap_or(&source),
        text(e, &["eventName"]).unwrap_or_default()
    );
    // Whoever made the call, or wrote the file, chose these: shown inert (see `printable`).
    let cells = [
        time,
        f.rule.severity.to_string(),
        f.rule.id.clone(),
        call,
        principal(e),
        text(e, &["sourceIPAddress"]).unwrap_or_else(|| "-".to_owned()),
    ]
    .map(|cell| printable(&cell).into_owned());
    TableRow {
        time: e.time(),
        file: file.to_owned(),
        record: f.record,
        cells,
    }
}

/// The findings table: a header and `rows` in time order (then by file and record, so the
/// order does not depend on the number of threads; rows without a time last), each column
/// as wide as its widest cell.
pub fn table(mut rows: Vec<TableRow>) -> String {
    rows.sort_by(|a, b| {
        (a.time.is_none(), a.time, &a.file, a.record).cmp(&(
            b.time.is_none(),
            b.time,
            &b.file,
            b.record,
        ))
    });
    let header = ["TIME", "SEVERITY", "RULE", "CALL", "PRINCIPAL", "SOURCE IP"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(&row.cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for cells in std::iter::once(&header).chain(rows.iter().map(|r| &r.cells)) {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The human summary of a scan.
pub fn summary_text(summary: &ScanSummary, rules: &RuleSet, alarms: &[FiredAlarm]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scanned {} inputs ({} failed): {} records, {} of JSON; {} duplicates removed, {} broken records skipped",
        thousands(summary.inputs + summary.inputs_failed),
        summary.inputs_failed,
        thousands(summary.records),
        megabytes(summary.bytes),
        thousands(summary.duplicates),
        thousands(summary.skipped_records),
    );
    if summary.outside_window + summary.without_time + summary.time_from_timestamp > 0 {
        let _ = writeln!(
            s,
            "time: {} records outside the time window; {} without a usable eventTime or @timestamp (left out of alarm periods and of any time window); {} timed by @timestamp",
            thousands(summary.outside_window),
            thousands(summary.without_time),
            thousands(summary.time_from_timestamp)
        );
    }
    let _ = writeln!(s, "matches by rule:");
    for (rule, n) in rules.rules().iter().zip(&summary.matches) {
        let _ = writeln!(
            s,
            "  {:<8}  {:<40}  {:>8}",
            rule.severity,
            rule.id,
            thousands(*n)
        );
    }
    if alarms.is_empty() {
        let _ = writeln!(s, "alarms fired: none");
    } else {
        let _ = writeln!(s, "alarms fired ({}):", alarms.len());
        for a in alarms {
            let _ = writeln!(
                s,
                "  {:<40}  {} to {}  {} matches (threshold {})",
                a.rule,
                format_epoch(a.period_start),
                format_epoch(a.period_end),
                a.count,
                a.threshold
            );
        }
    }
    s
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlarmJson<'a> {
    rule: &'a str,
    period_start: String,
    period_end: String,
    count: u64,
    threshold: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleCount<'a> {
    rule: &'a str,
    severity: &'a str,
    matches: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson<'a> {
    inputs: u64,
    inputs_failed: u64,
    records: u64,
    skipped_records: u64,
    bytes: u64,
    duplicates: u64,
    outside_window: u64,
    without_time: u64,
    time_from_timestamp: u64,
    events: u64,
    rules: Vec<RuleCount<'a>>,
}

/// The JSON tail of `--format json` output: closes `findings`, adds alarms and the summary.
pub fn json_tail(summary: &ScanSummary, rules: &RuleSet, alarms: &[FiredAlarm]) -> String {
    let alarms: Vec<AlarmJson<'_>> = alarms
        .iter()
        .map(|a| AlarmJson {
            rule: &a.rule,
            period_start: format_epoch(a.period_start),
            period_end: format_epoch(a.period_end),
            count: a.count,
            threshold: a.threshold,
        })
        .collect();
    let body = SummaryJson {
        inputs: summary.inputs,
        inputs_failed: summary.inputs_failed,
        records: summary.records,
        skipped_records: summary.skipped_records,
        bytes: summary.bytes,
        duplicates: summary.duplicates,
        outside_window: summary.outside_window,
        without_time: summary.without_time,
        time_from_timestamp: summary.time_from_timestamp,
        events: summary.events,
        rules: rules
            .rules()
            .iter()
            .zip(&summary.matches)
            .map(|(r, n)| RuleCount {
                rule: &r.id,
                severity: r.severity.as_str(),
                matches: *n,
            })
            .collect(),
    };
    format!(
        "\n],\n\"alarms\": {},\n\"summary\": {}\n}}\n",
        serde_json::to_string(&alarms).unwrap_or_else(|_| "[]".to_owned()),
        serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned())
    )
}

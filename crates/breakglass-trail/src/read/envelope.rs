//! Turning scanned top-level values into records: S3 wrappers read whole, EventBridge and
//! CloudWatch Logs envelopes opened, broken records reported one by one.

use super::{Callback, ReadStats, Record, RecordError};
use crate::event::Event;
use crate::json::scan::{Slot, TopKeys, scan_value, skip_ws};
use crate::json::walk::{self, Node};

/// Hands one scanned value to the callback as a record, or as a skipped record.
pub(super) fn deliver(
    raw: &[u8],
    top: TopKeys,
    record: &mut u64,
    stats: &mut ReadStats,
    on: &mut Callback<'_>,
) {
    let index = *record;
    *record += 1;
    let reason = if raw.first() != Some(&b'{') {
        Some("expected a CloudTrail record (a JSON object)".to_owned())
    } else {
        std::str::from_utf8(raw)
            .err()
            .map(|e| format!("invalid UTF-8 at byte {} of the record", e.valid_up_to()))
    };
    match reason {
        None => {
            stats.records += 1;
            on(Ok(Record { index, raw, top }));
        }
        Some(reason) => {
            stats.skipped += 1;
            on(Err(RecordError {
                record: index,
                reason,
            }));
        }
    }
}

fn skip(record: &mut u64, stats: &mut ReadStats, on: &mut Callback<'_>, reason: String) {
    stats.skipped += 1;
    on(Err(RecordError {
        record: *record,
        reason,
    }));
    *record += 1;
}

/// Re-scans a value already known to be valid, to locate its top-level keys.
fn rescan(raw: &[u8], stack: &mut Vec<bool>) -> TopKeys {
    let mut top = TopKeys::default();
    let _ = scan_value(raw, 0, &mut top, stack);
    top
}

/// A complete top-level object: a wrapper, an envelope, or a record.
pub(super) fn dispatch(
    raw: &[u8],
    top: TopKeys,
    record: &mut u64,
    scratch: &mut Vec<u8>,
    stack: &mut Vec<bool>,
    stats: &mut ReadStats,
    on: &mut Callback<'_>,
) {
    let span = |slot| top.get(slot).and_then(|(a, b)| raw.get(a..b));
    if let Some(records) = span(Slot::Records) {
        if records.first() != Some(&b'[') {
            skip(record, stats, on, "`Records` is not an array".to_owned());
            return;
        }
        walk::for_each_element(records, |el| {
            let top = rescan(el, stack);
            deliver(el, top, record, stats, on);
            false
        });
        return;
    }
    if let (Some(_), Some(detail)) = (span(Slot::DetailType), span(Slot::Detail)) {
        if detail.first() == Some(&b'{') {
            let top = rescan(detail, stack);
            deliver(detail, top, record, stats, on);
        } else {
            skip(
                record,
                stats,
                on,
                "EventBridge `detail` is not an object".to_owned(),
            );
        }
        return;
    }
    if let (Some(kind), Some(log_events)) = (span(Slot::MessageType), span(Slot::LogEvents)) {
        if Node::of(kind).text().as_deref() == Some(b"CONTROL_MESSAGE".as_slice()) {
            return;
        }
        walk::for_each_element(log_events, |el| {
            let message = walk::member(el, b"message").map(Node::of);
            let Some(Node::String(escaped)) = message else {
                skip(
                    record,
                    stats,
                    on,
                    "log event has no `message` string".to_owned(),
                );
                return false;
            };
            scratch.clear();
            scratch.extend_from_slice(&walk::unescape(escaped));
            match Event::parse(scratch) {
                Ok(_) => {
                    let top = rescan(scratch, stack);
                    let start = skip_ws(scratch, 0);
                    let end = scratch.len();
                    let body = scratch.get(start..end).unwrap_or_default();
                    // Spans from the rescan are relative to `scratch`; shift them with the body.
                    let top = shift(top, start);
                    deliver(body, top, record, stats, on);
                }
                Err(e) => skip(
                    record,
                    stats,
                    on,
                    format!("log message is not a CloudTrail record: {e}"),
                ),
            }
            false
        });
        return;
    }
    deliver(raw, top, record, stats, on);
}

fn shift(top: TopKeys, by: usize) -> TopKeys {
    if by == 0 {
        return top;
    }
    let mut out = TopKeys::default();
    for slot in [Slot::EventId, Slot::EventTime] {
        if let Some((a, b)) = top.get(slot) {
            out.set(slot, (a.saturating_sub(by), b.saturating_sub(by)));
        }
    }
    out
}

//! CloudTrail timestamps as seconds since the Unix epoch.
//!
//! `eventTime` is almost always `YYYY-MM-DDTHH:MM:SSZ`; that form is decoded by hand because
//! time windows and alarms look at every record's time. Anything else goes through RFC 3339.
//! Events exported from log stores (Elastic, OpenSearch) may carry their time only in
//! `@timestamp`; every reader of an event's time falls back to it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The CloudTrail field holding an event's time.
pub const EVENT_TIME: &str = "eventTime";
/// The field log stores put an event's time in; read when `eventTime` is missing or invalid.
pub const TIMESTAMP: &str = "@timestamp";

/// Which field an event's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    EventTime,
    Timestamp,
}

/// The epoch second of `eventTime`, else of `@timestamp`, and which one it was; `None` when
/// neither is present and valid.
pub fn first_usable(
    event_time: Option<&[u8]>,
    timestamp: Option<&[u8]>,
) -> Option<(i64, TimeField)> {
    event_time
        .and_then(epoch_seconds)
        .map(|t| (t, TimeField::EventTime))
        .or_else(|| {
            timestamp
                .and_then(epoch_seconds)
                .map(|t| (t, TimeField::Timestamp))
        })
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn fast(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || b.get(19) != Some(&b'Z')
    {
        return None;
    }
    let y = digits(b.get(0..4)?)?;
    let mo = digits(b.get(5..7)?)?;
    let d = digits(b.get(8..10)?)?;
    let h = digits(b.get(11..13)?)?;
    let mi = digits(b.get(14..16)?)?;
    let s = digits(b.get(17..19)?)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + s)
}

/// Parses an RFC 3339 timestamp (as CloudTrail writes `eventTime`) to epoch seconds.
pub fn epoch_seconds(raw: &[u8]) -> Option<i64> {
    if let Some(t) = fast(raw) {
        return Some(t);
    }
    let text = std::str::from_utf8(raw).ok()?;
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Formats epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_epoch(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_agrees_with_rfc3339() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2023-07-10T11:42:36Z",
            "2000-02-29T23:59:59Z",
            "2100-03-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            let slow = OffsetDateTime::parse(s, &Rfc3339).unwrap().unix_timestamp();
            assert_eq!(fast(s.as_bytes()), Some(slow), "{s}");
            assert_eq!(format_epoch(slow), s);
        }
    }

    #[test]
    fn other_forms_fall_back_and_junk_is_none() {
        assert_eq!(
            epoch_seconds(b"2023-07-10T11:42:36.123+02:00"),
            Some(1_688_982_156)
        );
        assert_eq!(epoch_seconds(b"2023-13-10T11:42:36Z"), None);
        assert_eq!(epoch_seconds(b"yesterday"), None);
    }
}

//! How every channel writes the same things: a time (RFC 3339), a duration (as the config
//! writes it: `1h30m`), and the console page of a request. One home, so a Slack message, a
//! Teams card, an email and the config never disagree.

use time::{Duration, OffsetDateTime};

use crate::model::RequestId;

/// `t` in RFC 3339 (its Unix seconds if it cannot be written so).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// A duration the way the config writes it (`4h`, `1h30m`, `15m`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let total = d.whole_seconds();
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The console page of request `id` (where it is read and approved).
pub fn request_url(console_url: &str, id: &RequestId) -> String {
    format!(
        "{}/console/requests/{id}",
        console_url.trim_end_matches('/')
    )
}

//! The CloudWatch Logs path: a log group the trail delivers to (each message is one
//! CloudTrail record as JSON text), read with `FilterLogEvents` across its streams from a
//! cursor that neither loses nor repeats an event.
//!
//! The cursor is a timestamp and the ids of the events already read at exactly that
//! timestamp: the next read starts at that timestamp (inclusive) and passes over those
//! ids, so events sharing a millisecond are neither skipped nor read twice, whichever side
//! of a `max` cut they fall on. Events ingested with a timestamp earlier than the cursor
//! (CloudWatch Logs accepts events up to two weeks old) are not read: the S3 path, which
//! lists by delivery, is the complete one.

use std::fmt;
use std::str::FromStr;

use aws_config::SdkConfig;

use super::error::{TrailError, sdk_message};

/// Where a reader of a log group got to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogCursor {
    /// Every event before this time (Unix milliseconds) has been read.
    pub after_ms: i64,
    /// The ids of the events at exactly `after_ms` already read.
    pub seen: Vec<String>,
}

impl LogCursor {
    /// A cursor that reads every event at or after `ms` (Unix milliseconds).
    pub fn at(ms: i64) -> Self {
        Self {
            after_ms: ms,
            seen: Vec::new(),
        }
    }
}

/// `ms` then `:` and the seen ids separated by `,` (event ids are digits): the form a
/// store keeps the cursor in.
impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.after_ms, self.seen.join(","))
    }
}

impl FromStr for LogCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ms, ids) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not a log cursor (`MILLIS:ID,ID…`)"))?;
        let after_ms = ms
            .parse()
            .map_err(|_| format!("`{ms}` in log cursor `{s}` is not a number of milliseconds"))?;
        let seen = ids
            .split(',')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self { after_ms, seen })
    }
}

/// The log group the trail delivers to.
#[derive(Debug, Clone)]
pub struct TrailLogGroup {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
}

/// One event read: (timestamp, id, message).
type Fetched = (i64, String, String);

impl TrailLogGroup {
    /// The log group `group` in the configuration's region.
    pub fn new(config: &SdkConfig, group: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_cloudwatchlogs::Client::new(config),
            group: group.into(),
        }
    }

    /// Up to `max` messages after `cursor` (every event when `None`), oldest first, and the
    /// cursor to pass next time (the same one when nothing was read). The caller keeps the
    /// new cursor only once it has committed what the messages held.
    pub async fn events_after(
        &self,
        cursor: Option<&LogCursor>,
        max: usize,
    ) -> Result<(Vec<String>, LogCursor), TrailError> {
        let start = cursor.map(|c| c.after_ms);
        let seen = |ts: i64, id: &str| {
            cursor.is_some_and(|c| {
                ts < c.after_ms || (ts == c.after_ms && c.seen.iter().any(|s| s == id))
            })
        };
        let mut read: Vec<Fetched> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .filter_log_events()
                .log_group_name(&self.group)
                .set_start_time(start)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| TrailError::Logs {
                    group: self.group.clone(),
                    message: sdk_message(&e),
                })?;
            for event in page.events() {
                let (Some(ts), Some(id), Some(message)) =
                    (event.timestamp(), event.event_id(), event.message())
                else {
                    continue;
                };
                if !seen(ts, id) {
                    read.push((ts, id.to_owned(), message.to_owned()));
                }
            }
            match page.next_token() {
                // A page is a slice of time: once `max` are in hand, later pages hold only
                // later events, read next time.
                Some(next) if read.len() < max && token.as_deref() != Some(next) => {
                    token = Some(next.to_owned());
                }
                _ => break,
            }
        }
        // Within what was fetched, the oldest first, so a cut at `max` leaves only events at
        // or after the new cursor unread.
        read.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        read.truncate(max);
        let next = next_cursor(cursor, &read);
        Ok((read.into_iter().map(|(_, _, m)| m).collect(), next))
    }
}

/// The cursor after `read` (sorted by time) was read from `cursor`.
fn next_cursor(cursor: Option<&LogCursor>, read: &[Fetched]) -> LogCursor {
    let Some((last, _, _)) = read.last() else {
        return cursor.cloned().unwrap_or_default();
    };
    let mut seen: Vec<String> = match cursor {
        Some(c) if c.after_ms == *last => c.seen.clone(),
        _ => Vec::new(),
    };
    seen.extend(
        read.iter()
            .filter(|(ts, _, _)| ts == last)
            .map(|(_, id, _)| id.clone()),
    );
    LogCursor {
        after_ms: *last,
        seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_text_form() {
        let c = LogCursor {
            after_ms: 1_700_000_000_123,
            seen: vec!["3771".into(), "3772".into()],
        };
        assert_eq!(c.to_string().parse::<LogCursor>().unwrap(), c);
        assert_eq!("5:".parse::<LogCursor>().unwrap(), LogCursor::at(5));
        assert!("nope".parse::<LogCursor>().is_err());
        assert!("x:1".parse::<LogCursor>().is_err());
    }

    #[test]
    fn the_next_cursor_keeps_the_ids_of_its_millisecond() {
        let r = |ts: i64, id: &str| (ts, id.to_owned(), String::new());
        let first = next_cursor(None, &[r(1, "a"), r(2, "b"), r(2, "c")]);
        assert_eq!(
            first,
            LogCursor {
                after_ms: 2,
                seen: vec!["b".into(), "c".into()]
            }
        );
        // More events at the same millisecond add to the seen ids.
        let second = next_cursor(Some(&first), &[r(2, "d")]);
        assert_eq!(second.seen, vec!["b", "c", "d"]);
        // A later millisecond starts afresh.
        let third = next_cursor(Some(&second), &[r(3, "e")]);
        assert_eq!(
            third,
            LogCursor {
                after_ms: 3,
                seen: vec!["e".into()]
            }
        );
        // Nothing read: the cursor stays.
        assert_eq!(next_cursor(Some(&third), &[]), third);
    }
}

//! One CloudTrail event as raw JSON, with lazy access to its fields.
//!
//! The engine never builds a tree for an event: it keeps the bytes it was given and walks to
//! the fields a rule, the linker or a printer asks for.

use std::borrow::Cow;

use crate::json::scan::{Scan, TopKeys, scan_value, skip_ws};
use crate::json::walk::{self, Node};

/// Why bytes are not a single JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON at byte {offset}: expected {expected}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("the JSON ends before the value is complete")]
    Truncated,
    #[error("expected a JSON object")]
    NotObject,
    #[error("unexpected data after the JSON object at byte {offset}")]
    Trailing { offset: usize },
    #[error("invalid UTF-8 at byte {offset}")]
    NotUtf8 { offset: usize },
}

/// A CloudTrail event (or any JSON log message), borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    raw: &'a [u8],
}

impl<'a> Event<'a> {
    /// Checks that `raw` is exactly one JSON object in UTF-8.
    pub fn parse(raw: &'a [u8]) -> Result<Event<'a>, EventError> {
        let start = skip_ws(raw, 0);
        if raw.get(start) != Some(&b'{') {
            return Err(EventError::NotObject);
        }
        let mut top = TopKeys::default();
        match scan_value(raw, start, &mut top, &mut Vec::new()) {
            Ok(Scan::Complete(end)) => {
                let rest = skip_ws(raw, end);
                if rest != raw.len() {
                    return Err(EventError::Trailing { offset: rest });
                }
            }
            Ok(Scan::Incomplete) => return Err(EventError::Truncated),
            Err(e) => {
                return Err(EventError::Syntax {
                    offset: e.offset,
                    expected: e.expected,
                });
            }
        }
        if let Err(e) = std::str::from_utf8(raw) {
            return Err(EventError::NotUtf8 {
                offset: e.valid_up_to(),
            });
        }
        Ok(Event { raw })
    }

    /// Wraps bytes the reader already validated.
    pub(crate) fn trusted(raw: &'a [u8]) -> Event<'a> {
        Event { raw }
    }

    /// The event's JSON exactly as read.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The value at a path of object keys, e.g. `["userIdentity", "arn"]`.
    pub fn get(&self, keys: &[&str]) -> Option<Node<'a>> {
        walk::path(self.raw, keys)
    }

    /// The string at a path of object keys, decoded.
    pub fn str(&self, keys: &[&str]) -> Option<Cow<'a, str>> {
        self.get(keys)?.as_str()
    }

    /// The event's JSON on one line: the raw bytes when they hold no control byte, else a
    /// compact copy (whitespace between tokens dropped, raw control characters in strings
    /// escaped, keys and values otherwise exactly as written).
    pub fn compact(&self) -> Cow<'a, [u8]> {
        // A raw control byte (a line break outside strings, or anything below 0x20 inside
        // one, which the reader lets through) means a rewrite; otherwise the bytes are fine.
        if self.raw.iter().all(|&b| b >= 0x20) {
            return Cow::Borrowed(self.raw);
        }
        let mut out = Vec::with_capacity(self.raw.len());
        crate::json::compact::compact(self.raw, &mut out);
        Cow::Owned(out)
    }

    /// The event's time as seconds since the Unix epoch: `eventTime` when it is present and
    /// valid, else `@timestamp` (exports from log stores such as Elastic carry only that).
    pub fn time(&self) -> Option<i64> {
        self.time_text()
            .and_then(|t| crate::time::epoch_seconds(t.as_bytes()))
    }

    /// The text of the field [`Event::time`] reads: a valid `eventTime`, else a valid
    /// `@timestamp`, else `eventTime` as written (or nothing when it is absent).
    pub fn time_text(&self) -> Option<Cow<'a, str>> {
        let usable = |key: &str| {
            let text = self.str(&[key])?;
            crate::time::epoch_seconds(text.as_bytes()).map(|_| text)
        };
        usable(crate::time::EVENT_TIME)
            .or_else(|| usable(crate::time::TIMESTAMP))
            .or_else(|| self.str(&[crate::time::EVENT_TIME]))
    }
}

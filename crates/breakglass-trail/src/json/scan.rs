//! A validating JSON scanner over raw bytes: finds where one value ends without building it.
//!
//! Scanning CloudTrail fast means never materialising records that no rule cares about. This
//! scanner checks the JSON grammar (structure, strings, escapes, numbers, literals, nesting
//! depth) in one pass, reports the end of the value or that the buffer ended first, and notes
//! where a few well-known keys of the outermost object sit so callers need not look again.
//! Strings are skipped with `memchr`; raw control characters inside strings and UTF-8 validity
//! are not checked here (the reader checks UTF-8 per record).

use memchr::memchr2;

/// Containers may nest at most this deep; deeper input is rejected, not recursed into.
pub const MAX_DEPTH: usize = 128;

/// Where and why a value is not valid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the offending byte, relative to the start of the scanned buffer.
    pub offset: usize,
    /// What the grammar allowed at that point, as words for an error message.
    pub expected: &'static str,
}

/// The outcome of scanning one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The value ends just before this offset.
    Complete(usize),
    /// The buffer ended inside the value: more input is needed.
    Incomplete,
}

/// Keys of the outermost object whose value spans the scanner records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    EventId,
    EventTime,
    /// `@timestamp`, the time field of log-store exports.
    Timestamp,
    Records,
    Detail,
    DetailType,
    LogEvents,
    MessageType,
    Message,
}

const SLOTS: usize = 9;

/// Value spans (start, end) of the slotted keys of the outermost object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopKeys {
    spans: [Option<(usize, usize)>; SLOTS],
}

impl TopKeys {
    pub fn get(&self, slot: Slot) -> Option<(usize, usize)> {
        self.spans.get(slot as usize).copied().flatten()
    }

    pub fn set(&mut self, slot: Slot, span: (usize, usize)) {
        // The first occurrence wins, as in the lazy walker.
        if let Some(entry) = self.spans.get_mut(slot as usize)
            && entry.is_none()
        {
            *entry = Some(span);
        }
    }

    pub fn clear(&mut self) {
        self.spans = [None; SLOTS];
    }
}

fn slot_of(key: &[u8]) -> Option<Slot> {
    match key {
        b"eventID" => Some(Slot::EventId),
        b"eventTime" => Some(Slot::EventTime),
        b"@timestamp" => Some(Slot::Timestamp),
        b"Records" => Some(Slot::Records),
        b"detail" => Some(Slot::Detail),
        b"detail-type" => Some(Slot::DetailType),
        b"logEvents" => Some(Slot::LogEvents),
        b"messageType" => Some(Slot::MessageType),
        b"message" => Some(Slot::Message),
        _ => None,
    }
}

#[inline]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The offset of the first non-whitespace byte at or after `i` (or `buf.len()`).
#[inline]
pub fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while let Some(&b) = buf.get(i) {
        if !is_ws(b) {
            break;
        }
        i += 1;
    }
    i
}

fn err(offset: usize, expected: &'static str) -> SyntaxError {
    SyntaxError { offset, expected }
}

/// Strings are searched eight bytes at a time up to this length before a SIMD search
/// takes over (most keys and many values are short, and SIMD has a setup cost).
const SHORT_STRING: usize = 32;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of each byte) the bytes of `word` equal to `b`; the lowest mark is exact.
#[inline]
fn marks(word: u64, b: u8) -> u64 {
    let v = word ^ (ONES * u64::from(b));
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// The offset of the first `"` or `\` in `hay`.
#[inline(always)]
pub fn find_quote_or_backslash(hay: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut chunks = hay.chunks_exact(8);
    for chunk in chunks.by_ref().take(SHORT_STRING / 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let m = marks(word, b'"') | marks(word, b'\\');
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if hay.len() - at < 8 {
        return hay
            .get(at..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .map(|k| at + k);
    }
    memchr2(b'"', b'\\', hay.get(at..).unwrap_or_default()).map(|k| at + k)
}

/// Scans a string whose opening quote is at `open`; returns the offset after the closing quote.
#[inline(always)]
pub fn scan_string(buf: &[u8], open: usize) -> Result<Option<usize>, SyntaxError> {
    let mut j = open + 1;
    loop {
        let rest = buf.get(j..).unwrap_or_default();
        let found = find_quote_or_backslash(rest);
        let Some(k) = found else {
            return Ok(None);
        };
        let p = j + k;
        if buf.get(p) == Some(&b'"') {
            return Ok(Some(p + 1));
        }
        match buf.get(p + 1) {
            None => return Ok(None),
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j = p + 2,
            Some(b'u') => {
                for h in 0..4 {
                    match buf.get(p + 2 + h) {
                        None => return Ok(None),
                        Some(c) if c.is_ascii_hexdigit() => {}
                        Some(_) => return Err(err(p + 2 + h, "four hex digits after `\\u`")),
                    }
                }
                j = p + 6;
            }
            Some(_) => return Err(err(p + 1, "a valid escape after `\\`")),
        }
    }
}

/// One or more digits at `i`; `None` when the buffer ends before the first.
fn digits(buf: &[u8], mut i: usize, expected: &'static str) -> Result<Option<usize>, SyntaxError> {
    let start = i;
    while matches!(buf.get(i), Some(b'0'..=b'9')) {
        i += 1;
    }
    if i > start {
        Ok(Some(i))
    } else if i >= buf.len() {
        Ok(None)
    } else {
        Err(err(i, expected))
    }
}

/// Scans a number starting at `i`; the byte after it must be present to know it ended.
fn scan_number(buf: &[u8], mut i: usize) -> Result<Option<usize>, SyntaxError> {
    if buf.get(i) == Some(&b'-') {
        i += 1;
    }
    match buf.get(i) {
        None => return Ok(None),
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(buf.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        Some(_) => return Err(err(i, "a digit")),
    }
    if buf.get(i) == Some(&b'.') {
        match digits(buf, i + 1, "a digit after `.`")? {
            Some(end) => i = end,
            None => return Ok(None),
        }
    }
    if matches!(buf.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(buf.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match digits(buf, i, "a digit in the exponent")? {
            Some(end) => i = end,
            None => return Ok(None),
        }
    }
    if i >= buf.len() {
        // The number might continue in the next chunk.
        return Ok(None);
    }
    Ok(Some(i))
}

fn scan_literal(buf: &[u8], i: usize, word: &'static [u8]) -> Result<Option<usize>, SyntaxError> {
    for (k, &w) in word.iter().enumerate() {
        match buf.get(i + k) {
            None => return Ok(None),
            Some(&b) if b == w => {}
            Some(_) => return Err(err(i + k, "`true`, `false` or `null`")),
        }
    }
    Ok(Some(i + word.len()))
}

/// The offset of the first non-whitespace byte at or after `i`, or `None` at the end.
#[inline]
fn next_byte(buf: &[u8], i: usize) -> Option<(usize, u8)> {
    let mut i = i;
    loop {
        let &c = buf.get(i)?;
        if c > b' ' || !is_ws(c) {
            return Some((i, c));
        }
        i += 1;
    }
}

/// What happens when one of the helpers below cannot finish.
enum Stop {
    Incomplete,
    Error(SyntaxError),
}

impl From<SyntaxError> for Stop {
    fn from(e: SyntaxError) -> Self {
        Stop::Error(e)
    }
}

/// Enters an object (`true`) or array at `at`, refusing to nest deeper than [`MAX_DEPTH`].
#[inline]
fn open(stack: &mut Vec<bool>, object: bool, at: usize) -> Result<(), Stop> {
    if stack.len() >= MAX_DEPTH {
        return Err(Stop::Error(err(at, "nesting no deeper than 128 levels")));
    }
    stack.push(object);
    Ok(())
}

/// Scans `"key" :` at `i` (after whitespace); returns the offset after the colon and the
/// key's slot when the key belongs to the outermost object.
#[inline]
fn key_and_colon(
    buf: &[u8],
    i: usize,
    outermost: bool,
    expected: &'static str,
) -> Result<(usize, Option<Slot>), Stop> {
    let (i, c) = next_byte(buf, i).ok_or(Stop::Incomplete)?;
    if c != b'"' {
        return Err(Stop::Error(err(i, expected)));
    }
    let end = scan_string(buf, i)?.ok_or(Stop::Incomplete)?;
    let slot = if outermost {
        slot_of(buf.get(i + 1..end - 1).unwrap_or_default())
    } else {
        None
    };
    let (j, c) = next_byte(buf, end).ok_or(Stop::Incomplete)?;
    if c != b':' {
        return Err(Stop::Error(err(j, "`:`")));
    }
    Ok((j + 1, slot))
}

/// Scans the JSON value that starts at `start` (after optional whitespace).
///
/// `top` receives the value spans of slotted keys of the value's own (depth-1) object; `stack`
/// is scratch space the caller keeps to avoid allocating per value. The loop alternates
/// between "a value starts here" and "a value just ended" instead of dispatching on a state
/// variable, which keeps branches predictable on compact CloudTrail JSON.
pub fn scan_value(
    buf: &[u8],
    start: usize,
    top: &mut TopKeys,
    stack: &mut Vec<bool>,
) -> Result<Scan, SyntaxError> {
    top.clear();
    stack.clear();
    match scan_inner(buf, start, top, stack) {
        Ok(end) => Ok(Scan::Complete(end)),
        Err(Stop::Incomplete) => Ok(Scan::Incomplete),
        Err(Stop::Error(e)) => Err(e),
    }
}

fn scan_inner(
    buf: &[u8],
    start: usize,
    top: &mut TopKeys,
    stack: &mut Vec<bool>,
) -> Result<usize, Stop> {
    let mut i = start;
    // The slot of the outermost-object key whose value is being scanned, and where it began.
    let mut pending: Option<Slot> = None;
    let mut value_start = 0usize;
    // Is the value at `i` the first element of an array (so `]` may close it)?
    let mut first_in_array = false;
    'value: loop {
        let (at, c) = next_byte(buf, i).ok_or(Stop::Incomplete)?;
        if stack.len() == 1 && pending.is_some() {
            value_start = at;
        }
        let mut end = match c {
            b'"' => scan_string(buf, at)?.ok_or(Stop::Incomplete)?,
            b'{' => {
                open(stack, true, at)?;
                let (j, c) = next_byte(buf, at + 1).ok_or(Stop::Incomplete)?;
                if c == b'}' {
                    stack.pop();
                    j + 1
                } else {
                    let outermost = stack.len() == 1;
                    let (after, slot) = key_and_colon(buf, j, outermost, "a quoted key or `}`")?;
                    if outermost {
                        pending = slot;
                    }
                    i = after;
                    first_in_array = false;
                    continue 'value;
                }
            }
            b'[' => {
                open(stack, false, at)?;
                i = at + 1;
                first_in_array = true;
                continue 'value;
            }
            b']' if first_in_array => {
                stack.pop();
                at + 1
            }
            b'-' | b'0'..=b'9' => scan_number(buf, at)?.ok_or(Stop::Incomplete)?,
            b't' => scan_literal(buf, at, b"true")?.ok_or(Stop::Incomplete)?,
            b'f' => scan_literal(buf, at, b"false")?.ok_or(Stop::Incomplete)?,
            b'n' => scan_literal(buf, at, b"null")?.ok_or(Stop::Incomplete)?,
            _ => return Err(Stop::Error(err(at, "a JSON value"))),
        };
        first_in_array = false;
        // A value ended at `end`: close containers until the next value starts.
        loop {
            if stack.is_empty() {
                return Ok(end);
            }
            if stack.len() == 1
                && let Some(slot) = pending.take()
            {
                top.set(slot, (value_start, end));
            }
            let in_object = stack.last().copied().unwrap_or(false);
            let (at, c) = next_byte(buf, end).ok_or(Stop::Incomplete)?;
            match c {
                b',' if in_object => {
                    let outermost = stack.len() == 1;
                    let (after, slot) = key_and_colon(buf, at + 1, outermost, "a quoted key")?;
                    if outermost {
                        pending = slot;
                    }
                    i = after;
                    continue 'value;
                }
                b',' => {
                    i = at + 1;
                    continue 'value;
                }
                b'}' if in_object => {
                    stack.pop();
                    end = at + 1;
                }
                b']' if !in_object => {
                    stack.pop();
                    end = at + 1;
                }
                _ if in_object => return Err(Stop::Error(err(at, "`,` or `}`"))),
                _ => return Err(Stop::Error(err(at, "`,` or `]`"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Result<Scan, SyntaxError> {
        scan_value(s.as_bytes(), 0, &mut TopKeys::default(), &mut Vec::new())
    }

    #[test]
    fn complete_values_end_where_they_should() {
        assert_eq!(scan(r#"{"a":[1,2,{"b":null}]} x"#), Ok(Scan::Complete(22)));
        assert_eq!(scan(r#"  [] "#), Ok(Scan::Complete(4)));
        assert_eq!(scan(r#""a\"b" "#), Ok(Scan::Complete(6)));
        assert_eq!(scan(r#"{"a":-1.5e+3}"#), Ok(Scan::Complete(13)));
    }

    #[test]
    fn truncated_values_ask_for_more() {
        for s in [
            r#"{"a":"#,
            r#"{"a":"x"#,
            r#"{"a":1"#,
            r#"{"a":tr"#,
            r#"["\u00"#,
            "[1.",
            "{",
        ] {
            assert_eq!(scan(s), Ok(Scan::Incomplete), "{s}");
        }
    }

    #[test]
    fn grammar_errors_point_at_the_byte() {
        assert_eq!(scan(r#"{"a" 1}"#).unwrap_err().offset, 5);
        assert_eq!(scan(r#"{"a":1,}"#).unwrap_err().expected, "a quoted key");
        assert_eq!(scan(r#"[1 2]"#).unwrap_err().offset, 3);
        assert_eq!(scan(r#"[01]"#).unwrap_err().offset, 2);
        assert_eq!(scan(r#"["\q"]"#).unwrap_err().offset, 3);
        assert_eq!(scan(r#"[tru]"#).unwrap_err().offset, 4);
        assert_eq!(scan(r#"{"a":1]"#).unwrap_err().expected, "`,` or `}`");
    }

    #[test]
    fn the_word_search_finds_the_first_quote_or_backslash() {
        for len in 0..80 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut hay = vec![b'a'; len];
                    hay[at] = c;
                    if at + 1 < len {
                        hay[at + 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&hay), Some(at), "{len} {at}");
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![0x80u8; len]), None);
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(scan(&deep).unwrap_err().offset, MAX_DEPTH);
    }

    #[test]
    fn top_level_keys_are_located() {
        let s =
            r#"{"eventID":"e-1","x":{"eventID":"inner"},"Records":[1,{"a":2}],"eventTime":"t"}"#;
        let mut top = TopKeys::default();
        let r = scan_value(s.as_bytes(), 0, &mut top, &mut Vec::new()).unwrap();
        assert_eq!(r, Scan::Complete(s.len()));
        let (a, b) = top.get(Slot::EventId).unwrap();
        assert_eq!(&s[a..b], r#""e-1""#);
        let (a, b) = top.get(Slot::Records).unwrap();
        assert_eq!(&s[a..b], r#"[1,{"a":2}]"#);
        let (a, b) = top.get(Slot::EventTime).unwrap();
        assert_eq!(&s[a..b], r#""t""#);
        assert_eq!(top.get(Slot::Detail), None);
    }
}

//! Lazy access to fields of JSON that the scanner already validated.
//!
//! Rules look at a handful of fields of the few records that survive the literal prefilter, so
//! walking the raw bytes to those fields is cheaper than building a tree. Every function here
//! assumes valid JSON (the scanner checked it) but never panics on anything else: malformed
//! input simply resolves to "absent".

use std::borrow::Cow;

use memchr::memchr2;

use super::scan::{is_ws, skip_ws};

/// A JSON value seen through its raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    /// The number exactly as written.
    Number(&'a [u8]),
    /// The raw contents between the quotes, escapes not yet decoded.
    String(&'a [u8]),
    /// The whole object, braces included.
    Object(&'a [u8]),
    /// The whole array, brackets included.
    Array(&'a [u8]),
}

impl<'a> Node<'a> {
    /// Classifies a raw value (leading whitespace allowed).
    pub fn of(raw: &'a [u8]) -> Node<'a> {
        let start = skip_ws(raw, 0);
        let raw = raw.get(start..).unwrap_or_default();
        match raw.first() {
            Some(b'"') => {
                let end = string_end(raw, 0);
                Node::String(raw.get(1..end.saturating_sub(1)).unwrap_or_default())
            }
            Some(b'{') => Node::Object(raw.get(..skip_value(raw, 0)).unwrap_or_default()),
            Some(b'[') => Node::Array(raw.get(..skip_value(raw, 0)).unwrap_or_default()),
            Some(b't') => Node::Bool(true),
            Some(b'f') => Node::Bool(false),
            Some(b'n') | None => Node::Null,
            Some(_) => {
                let end = raw
                    .iter()
                    .position(|&b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .unwrap_or(raw.len());
                Node::Number(raw.get(..end).unwrap_or_default())
            }
        }
    }

    /// The text a string, number or boolean compares as; `None` for null, objects and arrays.
    pub fn text(&self) -> Option<Cow<'a, [u8]>> {
        match *self {
            Node::String(raw) => Some(unescape(raw)),
            Node::Number(raw) => Some(Cow::Borrowed(raw)),
            Node::Bool(true) => Some(Cow::Borrowed(b"true")),
            Node::Bool(false) => Some(Cow::Borrowed(b"false")),
            Node::Null | Node::Object(_) | Node::Array(_) => None,
        }
    }

    /// A string's decoded value as UTF-8 text (lossy only for lone surrogate escapes).
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match *self {
            Node::String(raw) => Some(match unescape(raw) {
                Cow::Borrowed(b) => String::from_utf8_lossy(b),
                Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
            }),
            _ => None,
        }
    }
}

/// The offset just after the string whose opening quote is at `open`.
fn string_end(b: &[u8], open: usize) -> usize {
    let mut j = open + 1;
    loop {
        let rest = b.get(j..).unwrap_or_default();
        let Some(k) = memchr2(b'"', b'\\', rest) else {
            return b.len();
        };
        let p = j + k;
        if b.get(p) == Some(&b'"') {
            return p + 1;
        }
        j = p + 2;
    }
}

/// The offset just after the value starting at `i` (after whitespace).
pub fn skip_value(b: &[u8], i: usize) -> usize {
    let i = skip_ws(b, i);
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        Some(_) => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if is_ws(c) || matches!(c, b',' | b'}' | b']') {
                    break;
                }
                j += 1;
            }
            j
        }
        None => b.len(),
    }
}

/// Calls `f(raw_key, raw_value)` for each member of an object until it returns `true`.
pub fn for_each_member<'a>(obj: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8]) -> bool) {
    let mut i = skip_ws(obj, 0);
    if obj.get(i) != Some(&b'{') {
        return;
    }
    i += 1;
    loop {
        i = skip_ws(obj, i);
        if obj.get(i) != Some(&b'"') {
            return;
        }
        let key_end = string_end(obj, i);
        let key = obj
            .get(i + 1..key_end.saturating_sub(1))
            .unwrap_or_default();
        i = skip_ws(obj, key_end);
        if obj.get(i) != Some(&b':') {
            return;
        }
        let value_start = skip_ws(obj, i + 1);
        let value_end = skip_value(obj, value_start);
        let value = obj.get(value_start..value_end).unwrap_or_default();
        if f(key, value) {
            return;
        }
        i = skip_ws(obj, value_end);
        if obj.get(i) != Some(&b',') {
            return;
        }
        i += 1;
    }
}

/// Calls `f(raw_element)` for each element of an array until it returns `true`.
pub fn for_each_element<'a>(arr: &'a [u8], mut f: impl FnMut(&'a [u8]) -> bool) {
    let mut i = skip_ws(arr, 0);
    if arr.get(i) != Some(&b'[') {
        return;
    }
    i = skip_ws(arr, i + 1);
    if arr.get(i) == Some(&b']') {
        return;
    }
    loop {
        let start = skip_ws(arr, i);
        let end = skip_value(arr, start);
        if end <= start {
            return;
        }
        if f(arr.get(start..end).unwrap_or_default()) {
            return;
        }
        i = skip_ws(arr, end);
        if arr.get(i) != Some(&b',') {
            return;
        }
        i += 1;
    }
}

/// Does the raw (escaped) key equal `want`?
pub fn key_eq(raw: &[u8], want: &[u8]) -> bool {
    if raw.contains(&b'\\') {
        unescape(raw).as_ref() == want
    } else {
        raw == want
    }
}

/// The raw value of the first member named `key`.
pub fn member<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut found = None;
    for_each_member(obj, |k, v| {
        if key_eq(k, key) {
            found = Some(v);
            true
        } else {
            false
        }
    });
    found
}

/// The raw value of element `index`.
pub fn element(arr: &[u8], index: usize) -> Option<&[u8]> {
    let mut found = None;
    let mut n = 0usize;
    for_each_element(arr, |v| {
        if n == index {
            found = Some(v);
            return true;
        }
        n += 1;
        false
    });
    found
}

/// Follows a path of object keys from a raw object.
pub fn path<'a>(root: &'a [u8], keys: &[&str]) -> Option<Node<'a>> {
    let mut cur = root;
    for key in keys {
        cur = member(cur, key.as_bytes())?;
    }
    Some(Node::of(cur))
}

fn hex(d: u8) -> Option<u32> {
    (d as char).to_digit(16)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes JSON string escapes; borrows when there are none.
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0usize;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = raw.get(i + 1) else {
            break;
        };
        i += 2;
        match e {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let unit = |at: usize| -> Option<u32> {
                    let d = raw.get(at..at + 4)?;
                    d.iter().try_fold(0u32, |acc, &x| Some(acc * 16 + hex(x)?))
                };
                let Some(first) = unit(i) else {
                    break;
                };
                i += 4;
                let code = if (0xD800..0xDC00).contains(&first)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                {
                    match unit(i + 2) {
                        Some(second) if (0xDC00..0xE000).contains(&second) => {
                            i += 6;
                            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                        }
                        _ => first,
                    }
                } else {
                    first
                };
                push_char(&mut out, char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#" {"a": {"b\u0063": [10, "x\"y", {"d": null}], "t": true}, "n": -1.5e3, "s": "caf\u00e9 \ud83d\ude00"} "#;

    #[test]
    fn members_and_elements_resolve() {
        let a = member(DOC, b"a").unwrap();
        let arr = member(a, b"bc").unwrap();
        assert_eq!(Node::of(element(arr, 0).unwrap()), Node::Number(b"10"));
        assert_eq!(Node::of(element(arr, 1).unwrap()).as_str().unwrap(), "x\"y");
        assert_eq!(
            Node::of(element(arr, 2).unwrap()),
            Node::Object(br#"{"d": null}"#)
        );
        assert_eq!(element(arr, 3), None);
        assert_eq!(path(DOC, &["a", "t"]), Some(Node::Bool(true)));
        assert_eq!(path(DOC, &["n"]), Some(Node::Number(b"-1.5e3")));
        assert_eq!(path(DOC, &["a", "missing"]), None);
        assert_eq!(path(DOC, &["s"]).unwrap().as_str().unwrap(), "café 😀");
    }

    #[test]
    fn malformed_input_resolves_to_absent_without_panicking() {
        for junk in [
            &b""[..],
            b"{",
            b"{\"a\"",
            b"{\"a\":",
            b"[1,",
            b"\"abc",
            b"}{",
        ] {
            let _ = member(junk, b"a");
            let _ = element(junk, 0);
            let _ = Node::of(junk).text();
        }
    }
}

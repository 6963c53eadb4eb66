//! Compact re-serialisation of validated JSON, so a pretty-printed event prints on one line.
//!
//! Exports from `aws cloudtrail lookup-events` and attack-simulation tools are often
//! pretty-printed; printing such an event as read would break one-object-per-line output.
//! Dropping the whitespace between tokens keeps every key, value and number exactly as
//! written (a parse and re-serialise through a tree would reorder keys or round numbers).

use super::scan::is_ws;

/// Appends `raw`, a value the scanner validated, to `out` without whitespace outside strings.
/// Raw control characters inside strings (which the scanner lets through) are written as
/// `\u00XX` escapes, so the output is one line of valid JSON.
pub fn compact(raw: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if !in_string {
            if b == b'"' {
                in_string = true;
            }
            if !is_ws(b) {
                out.push(b);
            }
        } else if escaped {
            escaped = false;
            out.push(b);
        } else if b < 0x20 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0'));
        } else {
            match b {
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> String {
        let mut out = Vec::new();
        compact(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn whitespace_between_tokens_goes_and_strings_stay() {
        let pretty = "{\n  \"eventName\" : \"Assume Role\",\r\n\t\"n\": [ 1.50 , -2e3 ],\n  \"q\": \"a \\\" b\\\\\"\n}";
        assert_eq!(
            run(pretty),
            r#"{"eventName":"Assume Role","n":[1.50,-2e3],"q":"a \" b\\"}"#
        );
    }

    #[test]
    fn raw_control_characters_inside_strings_are_escaped() {
        let out = run("{\"m\": \"line1\nline2\ttab\"}");
        assert_eq!(out, r#"{"m":"line1\u000aline2\u0009tab"}"#);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["m"], "line1\nline2\ttab");
    }
}

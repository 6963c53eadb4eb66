//! How every channel writes the same things: a time (RFC 3339), a duration (as the config
//! writes it: `1h30m`), the console page of a request, and text someone else chose, made
//! safe for a terminal. One home, so a Slack message, a Teams card, an email, the CLI and the
//! config never disagree.

use std::borrow::Cow;

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

/// Whether `c` would act on a terminal or change how the text around it reads without being
/// seen: a control character (U+0000–U+001F, U+007F–U+009F, line breaks and tabs included),
/// a line or paragraph separator, a bidirectional embedding, override, isolate or mark (the
/// "Trojan Source" characters), an invisible format character (soft hyphen, zero-width
/// space and joiners, word joiner, BOM), a blank filler letter, or a character that can
/// smuggle text invisibly (variation selectors, tag characters).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}' | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}')
}

/// `text` on one line with every [`is_hidden`] character replaced by U+FFFD. For text that
/// others choose and a person reads in a terminal or a listing: CloudTrail records the user
/// agent, session name and parameters whoever made a call sent (a denied call included), and
/// anyone who can write to a trail bucket writes whole records. An escape sequence in them
/// would drive the reader's terminal (clear the screen, rewrite the row above), a line break
/// would add a row that looks like the tool's own, and a NUL cannot be stored in PostgreSQL.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.contains(is_hidden) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_hidden(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// The console page of request `id` (where it is read and approved).
pub fn request_url(console_url: &str, id: &RequestId) -> String {
    format!(
        "{}/console/requests/{id}",
        console_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_left_as_it_is() {
        for text in [
            "",
            "aws-cli/2.15 Python/3.11",
            "arn:aws:iam::1:user/zoë",
            "日本語 ✓",
        ] {
            assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn every_character_a_terminal_acts_on_or_hides_becomes_a_replacement_character() {
        let cases = [
            ("a\u{1b}[2Jb", "a\u{FFFD}[2Jb"),
            ("x\u{1b}]0;owned\u{7}", "x\u{FFFD}]0;owned\u{FFFD}"),
            ("1.2.3.4\nFAKE ROW", "1.2.3.4\u{FFFD}FAKE ROW"),
            ("tab\there\r", "tab\u{FFFD}here\u{FFFD}"),
            (
                "nul\u{0}del\u{7f}c1\u{9b}",
                "nul\u{FFFD}del\u{FFFD}c1\u{FFFD}",
            ),
            ("admin\u{202E}txt.exe", "admin\u{FFFD}txt.exe"),
            (
                "zero\u{200B}width\u{2066}iso\u{FEFF}",
                "zero\u{FFFD}width\u{FFFD}iso\u{FFFD}",
            ),
            ("line\u{2028}para\u{2029}", "line\u{FFFD}para\u{FFFD}"),
            ("soft\u{AD}fill\u{3164}", "soft\u{FFFD}fill\u{FFFD}"),
            // ASCII smuggled as tag characters ("hi"), and variation selectors.
            ("ok\u{E0068}\u{E0069}", "ok\u{FFFD}\u{FFFD}"),
            ("x\u{FE0F}\u{E0100}", "x\u{FFFD}\u{FFFD}"),
        ];
        for (text, want) in cases {
            assert_eq!(printable(text), want, "{text:?}");
            assert!(!printable(text).contains(is_hidden));
        }
    }
}

//! AWS's limits on what the broker asks of STS and the console federation endpoint, defined
//! once: the domain ([`crate::issuance`], the ids of [`crate::model`]) and the AWS adapter
//! (breakglass-aws's `cloud` and `federation`) all check against these, so they cannot drift
//! apart (they once did: only one of two copies of the tag charset excluded combining marks).
//!
//! Each item cites the page it comes from:
//! - STS `AssumeRole`: <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>
//!   (`RoleSessionName` and `SourceIdentity`: 2–64 characters of `[\w+=,.@-]*`;
//!   `DurationSeconds`: 900–43,200; `Policy`: 2,048 characters of plaintext; up to 50 `Tags`).
//! - STS `Tag`: <https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html> and IAM
//!   `Tag`: <https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html> (key 1–128,
//!   value 0–256 characters, both of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`).
//! - IAM user guide, tags: <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html>, and
//!   session tags: <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html>.
//! - IAM and STS quotas and character limits:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>.
//! - Console sign-in through the federation endpoint (`SessionDuration` 900–43,200):
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html>.
//!
//! Lengths are counted in Unicode characters (code points), as the API models' length
//! constraints count them. The tag charset is read exactly as the documented regex says:
//! `\p{L}` (letters), `\p{Z}` (separators: spaces such as U+00A0, and U+2028/U+2029) and
//! `\p{N}` (numbers, of any script), plus `_.:/=+-@`. Combining marks (`\p{M}`, e.g. the
//! U+0301 of a decomposed `é`), format characters such as the zero-width joiner, controls,
//! symbols and emoji are not in it. Policy sizes are breakglass-iam's [`Limit`]s (with how
//! AWS counts them); the constants here only name the ones the broker uses.
//!
//! Pure: no I/O, no clock.

use breakglass_iam::size::Limit;
use time::Duration;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// The charset of `RoleSessionName` and `SourceIdentity`, as documented.
pub const STS_NAME_PATTERN: &str = r"[\w+=,.@-]";

/// Shortest `RoleSessionName`.
pub const MIN_ROLE_SESSION_NAME: usize = 2;
/// Longest `RoleSessionName`.
pub const MAX_ROLE_SESSION_NAME: usize = 64;

/// Shortest `SourceIdentity`.
pub const MIN_SOURCE_IDENTITY: usize = 2;
/// Longest `SourceIdentity`.
pub const MAX_SOURCE_IDENTITY: usize = 64;
/// The prefix a `SourceIdentity` must not start with (in any case).
pub const SOURCE_IDENTITY_RESERVED_PREFIX: &str = "aws:";

/// The charset of session tag keys and values, as documented.
pub const TAG_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]";
/// Most session tags one `AssumeRole` call may pass.
pub const MAX_SESSION_TAGS: usize = 50;
/// Shortest tag key.
pub const MIN_TAG_KEY: usize = 1;
/// Longest tag key.
pub const MAX_TAG_KEY: usize = 128;
/// Longest tag value (a value may be empty).
pub const MAX_TAG_VALUE: usize = 256;

/// `AssumeRole`'s shortest `DurationSeconds`.
pub const MIN_ASSUME_ROLE_SECONDS: i64 = 900;
/// `AssumeRole`'s longest `DurationSeconds` (a role's `MaxSessionDuration` may be lower).
pub const MAX_ASSUME_ROLE_SECONDS: i64 = 43_200;
/// The `MaxSessionDuration` a role has when none was set.
pub const DEFAULT_ROLE_MAX_SESSION_SECONDS: i64 = 3_600;
/// The shortest session STS issues, as a duration.
pub const MIN_ASSUME_ROLE_DURATION: Duration = Duration::seconds(MIN_ASSUME_ROLE_SECONDS);
/// The longest session STS issues, as a duration.
pub const MAX_ASSUME_ROLE_DURATION: Duration = Duration::seconds(MAX_ASSUME_ROLE_SECONDS);

/// The federation endpoint's shortest console `SessionDuration`.
pub const MIN_CONSOLE_SESSION_SECONDS: i64 = 900;
/// The federation endpoint's longest console `SessionDuration`.
pub const MAX_CONSOLE_SESSION_SECONDS: i64 = 43_200;

/// Longest `AssumeRole` session policy, in characters of plaintext (every character counts).
pub const MAX_SESSION_POLICY_CHARS: usize = Limit::SessionPolicy.max();
/// Longest total of one role's inline policies, whitespace not counted.
pub const MAX_ROLE_INLINE_POLICIES_CHARS: usize = Limit::RoleInline.max();

/// Whether `c` is in [`STS_NAME_PATTERN`]. `\w` there is ASCII letters, digits and `_`.
pub fn is_sts_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// Whether `name` is a valid `RoleSessionName`.
pub fn is_valid_role_session_name(name: &str) -> bool {
    (MIN_ROLE_SESSION_NAME..=MAX_ROLE_SESSION_NAME).contains(&name.chars().count())
        && name.chars().all(is_sts_name_char)
}

/// Whether `identity` starts with [`SOURCE_IDENTITY_RESERVED_PREFIX`], in any case.
pub fn has_reserved_prefix(identity: &str) -> bool {
    identity
        .get(..SOURCE_IDENTITY_RESERVED_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SOURCE_IDENTITY_RESERVED_PREFIX))
}

/// Whether `identity` is a valid `SourceIdentity`.
pub fn is_valid_source_identity(identity: &str) -> bool {
    (MIN_SOURCE_IDENTITY..=MAX_SOURCE_IDENTITY).contains(&identity.chars().count())
        && identity.chars().all(is_sts_name_char)
        && !has_reserved_prefix(identity)
}

/// Whether `c` is in [`TAG_PATTERN`]: a letter, separator or number of any script (by
/// Unicode general category), or one of `_.:/=+-@`.
pub fn is_tag_char(c: char) -> bool {
    matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
        || matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Separator
                | GeneralCategoryGroup::Number
        )
}

/// Whether `key` is a valid session tag key.
pub fn is_valid_tag_key(key: &str) -> bool {
    (MIN_TAG_KEY..=MAX_TAG_KEY).contains(&key.chars().count()) && key.chars().all(is_tag_char)
}

/// Whether `value` is a valid session tag value.
pub fn is_valid_tag_value(value: &str) -> bool {
    value.chars().count() <= MAX_TAG_VALUE && value.chars().all(is_tag_char)
}

/// `value` made acceptable as a session tag value: characters outside [`TAG_PATTERN`] become
/// `_`, and it is cut to [`MAX_TAG_VALUE`] characters.
pub fn sanitize_tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if is_tag_char(c) { c } else { '_' })
        .take(MAX_TAG_VALUE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters the documented tag regex `[\p{L}\p{Z}\p{N}_.:/=+\-@]` admits.
    const TAG_ALLOWED: &[(char, &str)] = &[
        ('a', "ASCII letter, \\p{L}"),
        ('Z', "ASCII letter, \\p{L}"),
        ('7', "ASCII digit, \\p{N}"),
        ('é', "precomposed letter U+00E9, \\p{L}"),
        ('ß', "letter, \\p{L}"),
        ('日', "CJK ideograph, \\p{L} (Lo)"),
        ('ǅ', "titlecase letter, \\p{L} (Lt)"),
        ('ʰ', "modifier letter, \\p{L} (Lm)"),
        (' ', "space, \\p{Z}"),
        ('\u{00A0}', "no-break space, \\p{Z} (Zs)"),
        ('\u{3000}', "ideographic space, \\p{Z} (Zs)"),
        ('\u{2028}', "line separator, \\p{Z} (Zl)"),
        ('\u{2029}', "paragraph separator, \\p{Z} (Zp)"),
        ('٣', "Arabic-Indic digit three, \\p{N} (Nd)"),
        ('३', "Devanagari digit three, \\p{N} (Nd)"),
        ('Ⅻ', "Roman numeral twelve, \\p{N} (Nl)"),
        ('½', "vulgar fraction one half, \\p{N} (No)"),
        ('_', "listed"),
        ('.', "listed"),
        (':', "listed"),
        ('/', "listed"),
        ('=', "listed"),
        ('+', "listed"),
        ('-', "listed"),
        ('@', "listed"),
    ];

    /// Characters it does not admit.
    const TAG_REFUSED: &[(char, &str)] = &[
        ('\u{0301}', "combining acute accent, \\p{M} (Mn)"),
        ('\u{20DD}', "combining enclosing circle, \\p{M} (Me)"),
        (
            '\u{093E}',
            "Devanagari vowel sign AA, \\p{M} (Mc), alphabetic to Rust's std",
        ),
        ('\u{200D}', "zero-width joiner, \\p{C} (Cf)"),
        ('\u{200B}', "zero-width space, \\p{C} (Cf), not a separator"),
        ('\u{FEFF}', "byte order mark, \\p{C} (Cf)"),
        ('\t', "tab, a control"),
        ('\n', "line feed, a control"),
        ('\u{0085}', "next line, a control though white space"),
        (
            '\u{24B6}',
            "circled A, \\p{S} (So), alphabetic to Rust's std",
        ),
        ('😀', "emoji, \\p{S} (So)"),
        ('€', "currency sign, \\p{S} (Sc)"),
        (';', "ASCII punctuation not listed"),
        (',', "ASCII punctuation not listed"),
        ('*', "ASCII punctuation not listed"),
        ('"', "ASCII punctuation not listed"),
        ('<', "ASCII symbol not listed"),
        ('\u{00AD}', "soft hyphen, \\p{C} (Cf)"),
    ];

    #[test]
    fn the_tag_charset_is_the_documented_regex() {
        for (c, why) in TAG_ALLOWED {
            assert!(is_tag_char(*c), "{c:?} ({why}) must be allowed");
        }
        for (c, why) in TAG_REFUSED {
            assert!(!is_tag_char(*c), "{c:?} ({why}) must be refused");
        }
    }

    #[test]
    fn combining_marks_are_not_tag_characters_but_precomposed_letters_are() {
        // "é" written as `e` + U+0301 has a mark; the precomposed U+00E9 is one letter.
        assert!(!is_valid_tag_value("e\u{301}"));
        assert!(is_valid_tag_value("\u{e9}"));
        assert_eq!(sanitize_tag_value("e\u{301}"), "e_");
        // An emoji sequence joined by ZWJ: neither the emoji nor the joiner is allowed.
        assert_eq!(sanitize_tag_value("a👩\u{200D}💻b"), "a___b");
        assert!(!is_valid_tag_key("team\u{200D}x"));
        assert!(is_valid_tag_key("Équipe 3\u{00A0}٣"));
    }

    #[test]
    fn tag_lengths_are_counted_in_characters_at_the_edges() {
        assert!(!is_valid_tag_key(""));
        assert!(is_valid_tag_key("k"));
        assert!(is_valid_tag_key(&"é".repeat(MAX_TAG_KEY)));
        assert!(!is_valid_tag_key(&"é".repeat(MAX_TAG_KEY + 1)));
        assert!(is_valid_tag_value(""));
        assert!(is_valid_tag_value(&"日".repeat(MAX_TAG_VALUE)));
        assert!(!is_valid_tag_value(&"日".repeat(MAX_TAG_VALUE + 1)));
        let cut = sanitize_tag_value(&"é".repeat(MAX_TAG_VALUE + 10));
        assert_eq!(cut.chars().count(), MAX_TAG_VALUE);
        assert!(is_valid_tag_value(&cut));
        // A cut never leaves a lone combining mark: marks were replaced first.
        let marked = sanitize_tag_value(&"e\u{301}".repeat(MAX_TAG_VALUE));
        assert!(is_valid_tag_value(&marked), "{marked}");
    }

    #[test]
    fn sanitized_values_are_always_valid() {
        for input in [
            "INC-2024/001 é",
            "a;b<c>\"d\"\n",
            "a\u{0301}\u{7}b",
            "\u{200D}\u{FEFF}😀",
            "",
        ] {
            let out = sanitize_tag_value(input);
            assert!(is_valid_tag_value(&out), "{input:?} -> {out:?}");
            assert_eq!(
                out.chars().count(),
                input.chars().count().min(MAX_TAG_VALUE)
            );
        }
    }

    #[test]
    fn sts_names_are_ascii_word_characters_and_listed_punctuation() {
        for ok in [
            "ab",
            "g-0001",
            "alice@example.com",
            "a_b+c=d,e.f",
            &"x".repeat(64),
        ] {
            assert!(is_valid_role_session_name(ok), "{ok}");
            assert!(is_valid_source_identity(ok), "{ok}");
        }
        for bad in [
            "a",
            "",
            &"x".repeat(65),
            "al ice",
            "é1",
            "a/b",
            "a:b",
            "a\u{301}b",
        ] {
            assert!(!is_valid_role_session_name(bad), "{bad}");
            assert!(!is_valid_source_identity(bad), "{bad}");
        }
        // `\w` is ASCII: letters and digits of other scripts are not word characters here.
        assert!(!is_sts_name_char('٣'));
        assert!(!is_sts_name_char('日'));
    }

    #[test]
    fn a_source_identity_must_not_start_with_aws_in_any_case() {
        assert!(has_reserved_prefix("aws:alice"));
        assert!(has_reserved_prefix("AWS:alice"));
        assert!(has_reserved_prefix("Aws:"));
        assert!(!has_reserved_prefix("awsalice"));
        assert!(!has_reserved_prefix("aw"));
        assert!(!has_reserved_prefix("é"));
        // `:` is outside the name charset anyway; the prefix is refused by its own rule too.
        assert!(!is_valid_source_identity("aws:alice"));
        assert!(is_valid_source_identity("awsalice"));
    }

    #[test]
    fn durations_and_sizes_are_the_documented_ones() {
        assert_eq!(MIN_ASSUME_ROLE_DURATION, Duration::minutes(15));
        assert_eq!(MAX_ASSUME_ROLE_DURATION, Duration::hours(12));
        assert_eq!(
            (MIN_CONSOLE_SESSION_SECONDS, MAX_CONSOLE_SESSION_SECONDS),
            (900, 43_200)
        );
        assert_eq!(MAX_SESSION_POLICY_CHARS, 2_048);
        assert_eq!(MAX_ROLE_INLINE_POLICIES_CHARS, 10_240);
        assert_eq!(MAX_SESSION_TAGS, 50);
    }
}

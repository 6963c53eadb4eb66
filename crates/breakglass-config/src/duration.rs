//! Durations as people write them in the config: `4h`, `90m`, `1h30m`, `900s`.

use time::Duration;

/// Parses `4h`, `90m`, `1h30m`, `45s` (units `h`, `m`, `s`, each at most once, in that order).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{text}`: expected e.g. `4h`, `90m` or `1h30m`");
    let mut seconds: i64 = 0;
    let mut digits = String::new();
    let mut last_unit = 0u8;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (rank, scale) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return Err(bad()),
        };
        if digits.is_empty() || rank <= last_unit {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        seconds = n
            .checked_mul(scale)
            .and_then(|v| v.checked_add(seconds))
            .ok_or_else(bad)?;
        digits.clear();
        last_unit = rank;
    }
    if !digits.is_empty() || last_unit == 0 {
        return Err(bad());
    }
    Ok(Duration::seconds(seconds))
}

/// Like [`parse_duration`], with whole days first: `90d`, `1d12h`, `36h`. For periods that
/// outlast a session (how long activity is kept).
pub fn parse_long_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{text}`: expected e.g. `90d`, `36h` or `1d12h`");
    let trimmed = text.trim();
    if trimmed.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let Some((days, rest)) = trimmed.split_once('d') else {
        return parse_duration(text).map_err(|_| bad());
    };
    if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let days: i64 = days.parse().map_err(|_| bad())?;
    let seconds = days.checked_mul(86_400).ok_or_else(bad)?;
    let rest = if rest.is_empty() {
        0
    } else {
        parse_duration(rest).map_err(|_| bad())?.whole_seconds()
    };
    seconds
        .checked_add(rest)
        .map(Duration::seconds)
        .ok_or_else(bad)
}

pub use breakglass_core::present::format_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn units_combine_in_order() {
        assert_eq!(parse_duration("4h").unwrap(), Duration::hours(4));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("900s").unwrap(), Duration::seconds(900));
        assert_eq!(parse_duration("2h0m5s").unwrap(), Duration::seconds(7205));
    }

    #[test]
    fn malformed_durations_are_rejected_with_the_input_named() {
        for bad in [
            "",
            "4",
            "h",
            "30m1h",
            "4hh",
            "4 h",
            "-1h",
            "1d",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn long_durations_take_days_first() {
        assert_eq!(parse_long_duration("90d").unwrap(), Duration::days(90));
        assert_eq!(parse_long_duration("1d12h").unwrap(), Duration::hours(36));
        assert_eq!(parse_long_duration("36h").unwrap(), Duration::hours(36));
        for bad in [
            "d",
            "1h1d",
            "1dd",
            "-1d",
            "1d 2h",
            "",
            "1.5d",
            "99999999999999999d",
        ] {
            let err = parse_long_duration(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    proptest! {
        #[test]
        fn formatting_round_trips(secs in 0i64..200_000) {
            let d = Duration::seconds(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}

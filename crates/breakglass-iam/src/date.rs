//! Dates as the `Date*` condition operators read them: the W3C profile of ISO 8601
//! (`2024-05-01`, `2024-05-01T12:00Z`, `2024-05-01T12:00:00.5+02:00`) or epoch seconds.
//!
//! Parsed to nanoseconds since the Unix epoch so comparisons are plain integer compares.

/// Nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) type Nanos = i128;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parses a date value; `None` when it is neither ISO 8601 nor a number.
pub(crate) fn parse(text: &str) -> Option<Nanos> {
    let text = text.trim();
    let b = text.as_bytes();
    // `2024-...` and a bare year are ISO 8601; any other run of digits is epoch seconds.
    let iso = b.get(4) == Some(&b'-') || (b.len() == 4 && b.iter().all(u8::is_ascii_digit));
    if iso {
        parse_iso(text)
    } else {
        parse_epoch(text)
    }
}

fn parse_epoch(text: &str) -> Option<Nanos> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i128 = whole.parse().ok()?;
    let nanos = frac_nanos(frac)?;
    let total = secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?;
    Some(if negative { -total } else { total })
}

/// The nanoseconds of a fractional-seconds digit string (extra digits are truncated).
fn frac_nanos(frac: &str) -> Option<i128> {
    let mut nanos: i128 = 0;
    let mut scale: i128 = NANOS_PER_SEC / 10;
    for b in frac.bytes() {
        let d = i128::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        nanos += d * scale;
        scale /= 10;
    }
    Some(nanos)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut value: i64 = 0;
        for _ in 0..n {
            let b = *self.bytes.get(self.pos)?;
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
            self.pos += 1;
        }
        Some(value)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.eq_ignore_ascii_case(&c))
        {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

fn parse_iso(text: &str) -> Option<Nanos> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    let (mut month, mut day) = (1, 1);
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0i128);
    let mut offset_minutes = 0i64;
    if c.eat(b'-') {
        month = c.digits(2)?;
        if c.eat(b'-') {
            day = c.digits(2)?;
            if c.eat(b'T') {
                hour = c.digits(2)?;
                if !c.eat(b':') {
                    return None;
                }
                minute = c.digits(2)?;
                if c.eat(b':') {
                    second = c.digits(2)?;
                    if c.eat(b'.') {
                        let start = c.pos;
                        while c.bytes.get(c.pos).is_some_and(u8::is_ascii_digit) {
                            c.pos += 1;
                        }
                        let frac = text.get(start..c.pos)?;
                        if frac.is_empty() {
                            return None;
                        }
                        nanos = frac_nanos(frac)?;
                    }
                }
                // Time zone designator; a missing one is read as UTC.
                if c.eat(b'Z') {
                } else if c.eat(b'+') || c.eat(b'-') {
                    let sign = if c.bytes.get(c.pos.wrapping_sub(1)) == Some(&b'-') {
                        -1
                    } else {
                        1
                    };
                    let h = c.digits(2)?;
                    let _ = c.eat(b':');
                    let m = c.digits(2)?;
                    if h > 23 || m > 59 {
                        return None;
                    }
                    offset_minutes = sign * (h * 60 + m);
                }
            }
        }
    }
    if !c.done() {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(i128::from(secs) * NANOS_PER_SEC + nanos)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_w3c_profile_and_epoch_seconds() {
        let base = 1_704_067_200 * NANOS_PER_SEC; // 2024-01-01T00:00:00Z
        assert_eq!(parse("2024-01-01"), Some(base));
        assert_eq!(parse("2024-01-01T00:00Z"), Some(base));
        assert_eq!(parse("2024-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse("2024-01-01T02:00:00+02:00"), Some(base));
        assert_eq!(
            parse("2024-01-01T00:00:00.5Z"),
            Some(base + NANOS_PER_SEC / 2)
        );
        assert_eq!(parse("1704067200"), Some(base));
        assert_eq!(parse("2024"), Some(base));
        assert_eq!(parse("2024-02-30"), None);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2024-01-01T25:00Z"), None);
    }
}

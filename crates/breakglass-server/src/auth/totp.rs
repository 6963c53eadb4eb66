//! TOTP (RFC 6238) over HMAC-SHA1, the algorithm every authenticator app speaks: 30-second
//! steps, 6 digits, one step of drift either way.

use ring::hmac;

/// The step length, in seconds.
pub const STEP_SECONDS: i64 = 30;
/// The digits of a code.
pub const DIGITS: u32 = 6;
/// How many steps of clock drift are accepted either way.
pub const DRIFT_STEPS: i64 = 1;
/// The seed length in bytes (160 bits, as RFC 4226 recommends).
pub const SEED_BYTES: usize = 20;

/// The HOTP value (RFC 4226) of `seed` at `counter`, with `digits` digits.
pub fn hotp(seed: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation: the low nibble of the last byte picks four bytes.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac.get(offset..offset + 4).map_or(0, |b| {
        b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
    });
    (word & 0x7fff_ffff) % 10u32.pow(digits)
}

/// The TOTP time step of Unix time `unix`.
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECONDS)
}

/// The code for `seed` at time step `step`, zero-padded to `digits`.
pub fn code_at(seed: &[u8], step: i64, digits: u32) -> String {
    let value = hotp(seed, u64::try_from(step).unwrap_or(0), digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The time step at which `code` is valid for `seed` around Unix time `unix`, if any.
pub fn matching_step(seed: &[u8], code: &str, unix: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS)
        .filter(|s| *s >= 0)
        .find(|s| constant_time_eq(code_at(seed, *s, DIGITS).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps take seeds.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = ((buffer >> bits) & 31) as usize;
            out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
        }
    }
    if bits > 0 {
        let idx = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes RFC 4648 base32 (case-insensitive, padding and spaces ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !matches!(c, '=' | ' ')) {
        let v = BASE32
            .iter()
            .position(|&x| char::from(x) == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The `otpauth://` URI authenticator apps read from a QR code.
pub fn otpauth_uri(issuer: &str, username: &str, seed: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(username),
        base32(seed),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, seed "12345678901234567890").
    #[test]
    fn rfc6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (unix, want) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(seed, step_of(unix), 8), want, "T = {unix}");
        }
    }

    /// RFC 4226 appendix D: HOTP values for counters 0..9, 6 digits.
    #[test]
    fn rfc4226_hotp_vectors() {
        let seed = b"12345678901234567890";
        let want = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, w) in want.iter().enumerate() {
            assert_eq!(hotp(seed, counter as u64, 6), *w);
        }
    }

    #[test]
    fn codes_match_within_one_step_only() {
        let seed = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = code_at(seed, step_of(t), DIGITS);
        assert_eq!(matching_step(seed, &code, t), Some(step_of(t)));
        assert_eq!(matching_step(seed, &code, t + 30), Some(step_of(t)));
        assert_eq!(matching_step(seed, &code, t + 90), None);
        assert_eq!(matching_step(seed, "12345", t), None);
        assert_eq!(matching_step(seed, "abcdef", t), None);
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let seed = b"12345678901234567890";
        assert_eq!(base32_decode(&base32(seed)).unwrap(), seed.to_vec());
        assert_eq!(
            base32_decode("mzxw6ytboi======").unwrap(),
            b"foobar".to_vec()
        );
    }
}

//! Canonical JSON and SHA-256 digests.
//!
//! Approvals are bound to a digest of the exact request, and every audit record is hashed;
//! both must come out the same on every machine and after every round trip through a store.
//! The canonical form is compact JSON with object keys sorted by Unicode code point (the
//! workspace's `serde_json` preserves insertion order, so the sort is done here) and
//! integers only: no type in a digest or an audit record carries a float.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Why a value could not be turned into canonical JSON.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The value did not serialize to JSON.
    #[error("value does not serialize to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The value holds a floating-point number, whose text form is not canonical.
    #[error("canonical JSON holds integers only, found `{0}`")]
    Float(String),
    /// The output was not UTF-8 (cannot happen with serde_json's output; reported, not
    /// panicked on).
    #[error("canonical JSON is not UTF-8: {0}")]
    NotUtf8(String),
}

/// The canonical JSON text of `value`.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    canonicalize(&serde_json::to_value(value)?)
}

/// The canonical JSON text of an already parsed value.
pub fn canonicalize(value: &Value) -> Result<String, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    // Only JSON text produced by serde_json and ASCII punctuation was written.
    String::from_utf8(out).map_err(|e| CanonicalError::NotUtf8(e.to_string()))
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(CanonicalError::Float(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => serde_json::to_writer(&mut *out, s)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A SHA-256 digest, shown and serialized as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The all-zero digest: the "previous hash" of the first audit record.
    pub const ZERO: Self = Self([0; 32]);

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The SHA-256 of the canonical JSON of `value`.
    pub fn of_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Self, CanonicalError> {
        Ok(Self::of(to_canonical_json(value)?.as_bytes()))
    }

    /// A digest (or any 256-bit value such as an HMAC-SHA256 tag) from its raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, DigestParseError> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(DigestParseError(text.chars().take(80).collect()));
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
                return Err(DigestParseError(text.chars().take(80).collect()));
            };
            match (hex_value(hi), hex_value(lo)) {
                (Some(h), Some(l)) => *slot = (h << 4) | l,
                _ => return Err(DigestParseError(text.chars().take(80).collect())),
            }
        }
        Ok(Self(out))
    }

    /// The digest as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            for nibble in [b >> 4, b & 0x0f] {
                if let Some(&d) = DIGITS.get(usize::from(nibble)) {
                    s.push(char::from(d));
                }
            }
        }
        s
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SHA-256 digest `{0}`: expected 64 hex digits")]
pub struct DigestParseError(String);

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl std::str::FromStr for Sha256Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// On the wire a digest is 64 lowercase hex digits.
impl schemars::JsonSchema for Sha256Digest {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sha256Digest".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "a SHA-256 digest, 64 lowercase hex digits"
        })
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level_and_output_is_compact() {
        let v = json!({"b": 1, "a": {"z": [true, null, "x\"y"], "c": -2}});
        assert_eq!(
            canonicalize(&v).unwrap(),
            r#"{"a":{"c":-2,"z":[true,null,"x\"y"]},"b":1}"#
        );
    }

    #[test]
    fn insertion_order_does_not_change_the_canonical_form() {
        let a = json!({"x": 1, "y": 2});
        let b = json!({"y": 2, "x": 1});
        assert_eq!(canonicalize(&a).unwrap(), canonicalize(&b).unwrap());
    }

    #[test]
    fn floats_are_refused() {
        let err = canonicalize(&json!({"a": 1.5})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "canonical JSON holds integers only, found `1.5`"
        );
    }

    #[test]
    fn digests_round_trip_through_hex() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256Digest::from_hex(&d.to_hex().to_uppercase()).unwrap(),
            d
        );
        assert!(Sha256Digest::from_hex("zz").is_err());
        assert!(Sha256Digest::from_hex(&"g".repeat(64)).is_err());
    }
}

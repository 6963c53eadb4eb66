//! Encryption of TOTP seeds at rest: ChaCha20-Poly1305 with a 256-bit key that lives outside
//! the database (a file or an environment variable named in the server config), bound to
//! the username so a seed copied to another user's row does not decrypt.

use std::fmt;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

use crate::random::random_bytes;

/// The sealing key. `Debug` never shows it.
///
/// Other keys the broker needs that every replica must agree on (the web console's CSRF
/// key) are derived from it with HMAC-SHA256 over a purpose label, so they share its
/// storage without being usable to open seeds.
pub struct SealKey {
    aead: LessSafeKey,
    derive: hmac::Key,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

/// Why a key could not be loaded or a seed could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key text is not 64 hex digits.
    #[error(
        "the TOTP key must be 64 hexadecimal digits (32 bytes); generate one with `openssl rand -hex 32`"
    )]
    BadKey,
    /// The ciphertext does not decrypt with this key (wrong key, or tampered row).
    #[error("a stored TOTP seed does not decrypt with the configured key")]
    Open,
}

impl SealKey {
    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let bytes = crate::hex::decode(text)
            .filter(|b| b.len() == 32)
            .ok_or(SealError::BadKey)?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealError::BadKey)?;
        Ok(Self {
            aead: LessSafeKey::new(key),
            derive: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// An HMAC-SHA256 key for `purpose`, derived from this key (the same on every replica
    /// configured with the same key, and different for every purpose).
    pub fn derive(&self, purpose: &str) -> hmac::Key {
        let tag = hmac::sign(
            &self.derive,
            format!("breakglass derive v1: {purpose}").as_bytes(),
        );
        hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref())
    }

    /// The audit chain's key (HMAC-SHA256 over each record), derived from this one: the
    /// same on every replica and for every tool given the same key, and no use for opening
    /// seeds.
    pub fn chain_key(&self) -> breakglass_core::audit::ChainKey {
        let tag = hmac::sign(&self.derive, b"breakglass derive v1: audit chain");
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(tag.as_ref());
        breakglass_core::audit::ChainKey::new(bytes)
    }

    /// A fresh random key, as hex (for set-up scripts and tests).
    pub fn generate_hex() -> String {
        crate::hex::encode(&random_bytes(32))
    }

    /// Encrypts `plaintext` for `username`: hex of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, username: &str, plaintext: &[u8]) -> String {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut buf = plaintext.to_vec();
        // Sealing only fails for inputs longer than ChaCha20's 256 GiB limit.
        if self
            .aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(username.as_bytes()),
                &mut buf,
            )
            .is_err()
        {
            return String::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        crate::hex::encode(&out)
    }

    /// Decrypts what [`SealKey::seal`] produced for `username`.
    pub fn open(&self, username: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = crate::hex::decode(sealed).ok_or(SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        let mut buf = ciphertext.to_vec();
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(n),
                Aad::from(username.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_bound_to_the_user() {
        let key = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
        let sealed = key.seal("alice", b"seed bytes");
        assert!(!sealed.contains("seed"));
        assert_eq!(key.open("alice", &sealed).unwrap(), b"seed bytes");
        assert!(key.open("bob", &sealed).is_err());
        let other = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
        assert!(other.open("alice", &sealed).is_err());
        assert!(SealKey::from_hex("abcd").is_err());
        assert_eq!(format!("{key:?}"), "SealKey([redacted])");
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_agree_across_loads() {
        let hex = SealKey::generate_hex();
        let a = SealKey::from_hex(&hex).unwrap();
        let b = SealKey::from_hex(&hex).unwrap();
        let tag = |k: &SealKey, p: &str| hmac::sign(&k.derive(p), b"x").as_ref().to_vec();
        assert_eq!(tag(&a, "csrf"), tag(&b, "csrf"));
        assert_ne!(tag(&a, "csrf"), tag(&a, "other"));
    }
}

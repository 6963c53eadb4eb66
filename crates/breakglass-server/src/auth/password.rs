//! Password hashing with argon2id (OWASP's recommended parameters: 19 MiB, 2 passes).

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::random::random_bytes;

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("the password is {len} characters long; use at least {MIN_PASSWORD_LEN}")]
    TooShort { len: usize },
    /// Hashing failed (never expected with the default parameters).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The argon2id hash of `password` in PHC string format, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort { len });
    }
    let salt = SaltString::encode_b64(&random_bytes(16))
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored `phc` hash (false for a malformed hash).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist so that a
/// login for an unknown name takes as long as one for a known name.
pub fn decoy_hash() -> String {
    hash(&crate::random::random_hex(16)).unwrap_or_default()
}

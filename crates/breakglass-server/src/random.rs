//! Random secrets for authentication (token values, token ids, salts, TOTP seeds, nonces),
//! from the operating system's source.

/// `n` random bytes from the operating system, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    crate::hex::encode(&random_bytes(n))
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use ring::rand::SecureRandom as _;
    let mut buf = vec![0u8; n];
    // The OS random source failing is unrecoverable: refusing to run beats weak ids or keys.
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() {
        std::process::abort();
    }
    buf
}

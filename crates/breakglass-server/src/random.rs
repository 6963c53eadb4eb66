//! Random secrets for authentication (token values, token ids, salts, TOTP seeds, nonces),
//! from the operating system's source.

/// `n` random bytes from the operating system, as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let bytes = random_bytes(n);
    let mut s = String::with_capacity(n * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
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

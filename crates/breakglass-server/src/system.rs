//! The system clock and random ids: the real adapters for the core's `Clock` and `IdSource`
//! ports. This is the one place in the broker that reads the wall clock.

use breakglass_core::model::{GrantId, RequestId};
use breakglass_core::ports::{Clock, IdSource};
use time::OffsetDateTime;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the clock adapter: the one place allowed to read the wall clock"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

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

/// Request and grant ids with 64 random bits: `r-<16 hex>` and `g-<16 hex>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    #[expect(clippy::expect_used, reason = "`r-` and 16 hex digits is a valid id")]
    fn request_id(&self) -> RequestId {
        RequestId::new(format!("r-{}", random_hex(8))).expect("valid request id")
    }

    #[expect(clippy::expect_used, reason = "`g-` and 16 hex digits is a valid id")]
    fn grant_id(&self) -> GrantId {
        GrantId::new(format!("g-{}", random_hex(8))).expect("valid grant id")
    }
}

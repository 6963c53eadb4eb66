//! The server's time and identifier sources: the system clock and random ids.
//!
//! The pure crates never read the clock or the OS random source; they ask the [`Clock`] and
//! [`IdSource`] ports, which this module implements for the running broker.

use breakglass_core::model::{GrantId, RequestId};
use breakglass_core::ports::{Clock, IdSource};
use time::OffsetDateTime;

/// The wall clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one clock adapter the ban points to"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Random ids: `r-` or `g-` then 26 lower-case base32 characters (130 random bits), so
/// ids are unguessable and never collide in practice. A grant id is also the STS role
/// session name, which these satisfy (`[\w+=,.@-]`, 2–64 characters).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// 26 random base32 characters.
fn random_suffix() -> String {
    let mut bytes = [0u8; 26];
    // Without the OS random source ids would be guessable; a security broker must not go on.
    if getrandom::fill(&mut bytes).is_err() {
        std::process::abort();
    }
    bytes
        .iter()
        .map(|b| char::from(BASE32.get(usize::from(b & 31)).copied().unwrap_or(b'a')))
        .collect()
}

impl IdSource for RandomIds {
    #[expect(
        clippy::expect_used,
        reason = "`r-` and 26 base32 characters is always a valid request id"
    )]
    fn request_id(&self) -> RequestId {
        RequestId::new(format!("r-{}", random_suffix())).expect("valid request id")
    }

    #[expect(
        clippy::expect_used,
        reason = "`g-` and 26 base32 characters is always a valid grant id"
    )]
    fn grant_id(&self) -> GrantId {
        GrantId::new(format!("g-{}", random_suffix())).expect("valid grant id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = RandomIds.grant_id();
        let b = RandomIds.grant_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 28);
        assert!(RandomIds.request_id().as_str().starts_with("r-"));
    }
}

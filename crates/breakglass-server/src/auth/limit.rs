//! Login rate limiting: failed attempts are counted per (username, client address), per
//! client address and per username in a sliding window; once a count reaches its limit,
//! further attempts are refused without checking the password until old failures leave the
//! window. The tight limit is the pair's: someone guessing from another address cannot lock
//! a user out of their own address except by exhausting the much larger per-user limit.
//!
//! [`RateLimiter::begin`] checks and counts an attempt in one step, before the password is
//! checked, so a burst of parallel guesses cannot all pass the check; a success takes its
//! attempt back. The number of keys is capped ([`MAX_KEYS`]): expired ones are dropped first,
//! and a table still full refuses new keys rather than growing.
//!
//! The counts live in this process's memory: with several replicas each counts on its own,
//! so the effective limit is the per-replica limit times the replicas.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// The most keys the limiter keeps.
pub const MAX_KEYS: usize = 100_000;

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures per (username, client address) within `window`.
    pub per_user_and_address: usize,
    /// Failures per username from any address within `window`.
    pub per_user: usize,
    /// Failures per client address within `window`.
    pub per_address: usize,
    /// The window.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user_and_address: 5,
            per_user: 50,
            per_address: 20,
            window: Duration::minutes(15),
        }
    }
}

/// Failure counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: Limits,
    failures: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, VecDeque<OffsetDateTime>>) -> T) -> T {
        match self.failures.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn keys(&self, username: &str, address: &str) -> [(String, usize); 3] {
        [
            (
                format!("p:{address}\0{username}"),
                self.limits.per_user_and_address,
            ),
            (format!("u:{username}"), self.limits.per_user),
            (format!("a:{address}"), self.limits.per_address),
        ]
    }

    /// Starts an attempt: refused with the time the next one is allowed when a limit is
    /// reached; otherwise counted as a failure until [`RateLimiter::succeeded`] takes it back.
    pub fn begin(
        &self,
        username: &str,
        address: &str,
        now: OffsetDateTime,
    ) -> Result<(), OffsetDateTime> {
        let window = self.limits.window;
        // A key without a limit (`usize::MAX`) is not kept at all.
        let keys: Vec<(String, usize)> = self
            .keys(username, address)
            .into_iter()
            .filter(|(_, limit)| *limit != usize::MAX)
            .collect();
        self.with(|map| {
            let blocked = keys
                .iter()
                .filter_map(|(key, limit)| {
                    let q = map.get_mut(key)?;
                    while q.front().is_some_and(|t| *t + window <= now) {
                        q.pop_front();
                    }
                    (q.len() >= *limit)
                        .then(|| q.front().map(|t| *t + window))
                        .flatten()
                })
                .max();
            if let Some(until) = blocked {
                return Err(until);
            }
            let missing = keys.iter().filter(|(k, _)| !map.contains_key(k)).count();
            if map.len() + missing > MAX_KEYS {
                map.retain(|_, q| q.back().is_some_and(|t| *t + window > now));
            }
            if map.len() + missing > MAX_KEYS {
                // Full of live keys: an attack from very many addresses. Refuse rather than
                // grow; the oldest live failure leaves the window first.
                let until = map
                    .values()
                    .filter_map(|q| q.front())
                    .min()
                    .map(|t| *t + window);
                return Err(until.unwrap_or(now + window));
            }
            for (key, limit) in keys {
                let q = map.entry(key).or_default();
                q.push_back(now);
                while q.len() > limit {
                    q.pop_front();
                }
            }
            Ok(())
        })
    }

    /// Takes back the attempt `begin` counted at `at` for this user and address, and forgets
    /// the pair's earlier failures.
    pub fn succeeded(&self, username: &str, address: &str, at: OffsetDateTime) {
        let [pair, user, addr] = self.keys(username, address);
        self.with(|map| {
            map.remove(&pair.0);
            for (key, _) in [user, addr] {
                if let Some(q) = map.get_mut(&key) {
                    if let Some(i) = q.iter().rposition(|t| *t == at) {
                        q.remove(i);
                    }
                    if q.is_empty() {
                        map.remove(&key);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    fn limiter() -> RateLimiter {
        RateLimiter::new(Limits {
            per_user_and_address: 3,
            per_user: 6,
            per_address: 5,
            window: Duration::minutes(10),
        })
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked_so_a_burst_cannot_pass() {
        let l = limiter();
        // Nothing settles in between, as when guesses run in parallel.
        let passed = (0..10)
            .filter(|_| l.begin("alice", "10.0.0.1", T0).is_ok())
            .count();
        assert_eq!(passed, 3);
        assert_eq!(
            l.begin("alice", "10.0.0.1", T0),
            Err(T0 + Duration::minutes(10))
        );
        assert!(
            l.begin("alice", "10.0.0.1", T0 + Duration::minutes(10))
                .is_ok()
        );
    }

    #[test]
    fn another_address_cannot_lock_a_user_out_until_the_per_user_limit() {
        let l = limiter();
        for i in 0..3 {
            assert!(l.begin("alice", "203.0.113.9", T0).is_ok(), "attempt {i}");
        }
        assert!(l.begin("alice", "203.0.113.9", T0).is_err());
        // Alice, from her own address, still gets in; a success takes its attempt back.
        assert!(l.begin("alice", "10.0.0.1", T0).is_ok());
        l.succeeded("alice", "10.0.0.1", T0);
        // A distributed guesser is stopped by the per-user limit.
        for a in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            assert!(l.begin("alice", a, T0).is_ok(), "{a}");
        }
        assert!(l.begin("alice", "198.51.100.4", T0).is_err());
    }

    #[test]
    fn one_address_is_limited_across_usernames() {
        let l = limiter();
        for u in ["a", "b", "c", "d", "e"] {
            assert!(l.begin(u, "10.0.0.1", T0).is_ok(), "{u}");
        }
        assert!(l.begin("f", "10.0.0.1", T0).is_err());
        assert!(l.begin("f", "10.0.0.2", T0).is_ok());
    }

    #[test]
    fn a_success_forgets_the_pairs_failures() {
        let l = limiter();
        for _ in 0..2 {
            assert!(l.begin("alice", "10.0.0.1", T0).is_ok());
        }
        assert!(l.begin("alice", "10.0.0.1", T0).is_ok());
        l.succeeded("alice", "10.0.0.1", T0);
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", T0).is_ok());
        }
    }

    #[test]
    fn the_key_table_never_grows_past_its_cap() {
        let l = RateLimiter::new(Limits::default());
        let mut refused = 0;
        // Each new user from a new address adds three keys.
        for i in 0..(MAX_KEYS / 3 + 10) {
            if l.begin(&format!("u{i}"), &format!("a{i}"), T0).is_err() {
                refused += 1;
            }
        }
        assert!(l.with(|m| m.len()) <= MAX_KEYS);
        assert!(refused > 0);
        // Once the window has passed, expired keys make room again.
        assert!(l.begin("bob", "b", T0 + Duration::minutes(16)).is_ok());
    }

    #[test]
    fn a_per_user_limit_alone_keeps_no_other_key() {
        // As the TOTP step-up uses it: per user only.
        let l = RateLimiter::new(Limits {
            per_user_and_address: usize::MAX,
            per_user: 6,
            per_address: usize::MAX,
            window: Duration::minutes(10),
        });
        for _ in 0..6 {
            assert!(l.begin("alice", "", T0).is_ok());
        }
        assert_eq!(l.begin("alice", "", T0), Err(T0 + Duration::minutes(10)));
        assert!(l.begin("bob", "", T0).is_ok());
        assert_eq!(l.with(|m| m.len()), 2, "one key per user");
    }
}

//! Login rate limiting: failed attempts are counted per username and per client address in
//! a sliding window; once either count reaches its limit, further attempts are refused
//! without checking the password until old failures leave the window.
//!
//! The counts live in this process's memory: with several replicas each counts on its own,
//! so the effective limit is the per-replica limit times the replicas.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures per username within `window`.
    pub per_user: usize,
    /// Failures per client address within `window`.
    pub per_address: usize,
    /// The window.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user: 5,
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

    /// When the next attempt for this user from this address is allowed, if it is not now.
    pub fn blocked_until(
        &self,
        username: &str,
        address: &str,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let window = self.limits.window;
        let keys = [
            (format!("u:{username}"), self.limits.per_user),
            (format!("a:{address}"), self.limits.per_address),
        ];
        self.with(|map| {
            keys.iter()
                .filter_map(|(key, limit)| {
                    let q = map.get_mut(key)?;
                    while q.front().is_some_and(|t| *t + window <= now) {
                        q.pop_front();
                    }
                    if q.len() >= *limit {
                        q.front().map(|t| *t + window)
                    } else {
                        None
                    }
                })
                .max()
        })
    }

    /// Counts a failed attempt.
    pub fn failed(&self, username: &str, address: &str, now: OffsetDateTime) {
        self.with(|map| {
            for key in [format!("u:{username}"), format!("a:{address}")] {
                let q = map.entry(key).or_default();
                q.push_back(now);
                // Never hold more than needed to decide.
                while q.len() > self.limits.per_address.max(self.limits.per_user) {
                    q.pop_front();
                }
            }
        });
    }

    /// Forgets the user's failures after a successful login.
    pub fn succeeded(&self, username: &str) {
        self.with(|map| map.remove(&format!("u:{username}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn blocks_per_user_and_per_address_then_recovers() {
        let t0 = datetime!(2024-01-01 0:00 UTC);
        let l = RateLimiter::new(Limits {
            per_user: 3,
            per_address: 5,
            window: Duration::minutes(10),
        });
        for _ in 0..3 {
            assert!(l.blocked_until("alice", "10.0.0.1", t0).is_none());
            l.failed("alice", "10.0.0.1", t0);
        }
        assert_eq!(
            l.blocked_until("alice", "10.0.0.9", t0),
            Some(t0 + Duration::minutes(10))
        );
        assert!(l.blocked_until("bob", "10.0.0.1", t0).is_none());
        l.failed("bob", "10.0.0.1", t0);
        l.failed("carol", "10.0.0.1", t0);
        assert!(l.blocked_until("dave", "10.0.0.1", t0).is_some());
        assert!(
            l.blocked_until("alice", "10.0.0.9", t0 + Duration::minutes(10))
                .is_none()
        );
    }
}

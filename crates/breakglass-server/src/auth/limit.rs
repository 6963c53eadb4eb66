//! Login rate limiting that slows guessing without locking the rightful user out.
//!
//! Failed sign-ins are counted per (username, client address), per client address and per
//! username. A key's first few failures are free; each further failure doubles the wait
//! before that key's next attempt (1 s, 2 s, 4 s, … up to [`Limits::max_delay`]), counted
//! from its latest failure. An attempt made too early is refused with the time it may be
//! made, and is not counted: waiting always works, so nobody is refused forever. A key
//! without a failure for [`Limits::forget_after`] is forgotten.
//!
//! The tight limit is the pair's: someone guessing from another address slows a user down
//! only through the per-user key, and a sign-in that presents a valid second factor is let
//! past the per-user and per-address keys ([`RateLimiter::begin`] with `second_factor`),
//! so neither a guesser spread over many addresses nor a noisy neighbour behind the same
//! proxy can keep an enrolled user out. The pair's wait still applies.
//!
//! [`RateLimiter::begin`] checks and counts an attempt in one step, before the password is
//! checked, so a burst of parallel guesses cannot all pass the check; a success takes its
//! attempt back. The number of keys is capped ([`Limits::max_keys`]): forgotten keys are
//! dropped first, then the oldest (the longest without a failure). Evicting a key forgets
//! its backoff, but a guesser who wants a user's key evicted must first make about a third
//! of the cap in checked attempts (each a full argon2 verification) while not touching it.
//!
//! The counts live in this process's memory: with several replicas each counts on its own,
//! so the effective limit is the per-replica limit times the replicas. Second-factor
//! failures are different: they are stored (`auth::second_factor`).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// The most keys the limiter keeps by default.
pub const MAX_KEYS: usize = 100_000;

/// The limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Free failures per (username, client address) before that pair backs off.
    pub per_user_and_address: u32,
    /// Free failures per username, from any address.
    pub per_user: u32,
    /// Free failures per client address, for any username.
    pub per_address: u32,
    /// The wait after a key's free failures; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// A key without a failure for this long (at least `max_delay`) is forgotten.
    pub forget_after: Duration,
    /// The most keys kept.
    pub max_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user_and_address: 5,
            per_user: 10,
            per_address: 20,
            first_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(1),
            max_keys: MAX_KEYS,
        }
    }
}

impl Limits {
    /// The wait after `failures` failures of a key allowed `free` of them.
    fn delay(&self, failures: u32, free: u32) -> Duration {
        let Some(doublings) = failures.checked_sub(free) else {
            return Duration::ZERO;
        };
        // 2^20 seconds is twelve days: past any sensible cap, and no overflow.
        let factor = 1_i32 << doublings.min(20);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    fn forget_after(&self) -> Duration {
        self.forget_after.max(self.max_delay)
    }
}

/// Why an attempt may not be made yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// When it may be made.
    pub until: OffsetDateTime,
    /// Only the per-user or per-address keys hold it back: with a valid second factor it
    /// may be made now.
    pub second_factor_passes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pair,
    User,
    Address,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: OffsetDateTime,
}

/// Failure counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: Limits,
    keys: Mutex<HashMap<String, Entry>>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        match self.keys.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn keys(&self, username: &str, address: &str) -> [(String, Kind, u32); 3] {
        [
            (
                format!("p:{address}\0{username}"),
                Kind::Pair,
                self.limits.per_user_and_address,
            ),
            (format!("u:{username}"), Kind::User, self.limits.per_user),
            (
                format!("a:{address}"),
                Kind::Address,
                self.limits.per_address,
            ),
        ]
    }

    /// Starts an attempt: refused with the time it may be made when a key it counts under
    /// is still waiting (with `second_factor`, a valid second factor was presented and only
    /// the pair's wait counts); otherwise counted as a failure until
    /// [`RateLimiter::succeeded`] takes it back.
    pub fn begin(
        &self,
        username: &str,
        address: &str,
        now: OffsetDateTime,
        second_factor: bool,
    ) -> Result<(), Limited> {
        let keys = self.keys(username, address);
        let limits = self.limits;
        let forget = limits.forget_after();
        self.with(|map| {
            let mut until: Option<(OffsetDateTime, bool)> = None;
            for (key, kind, free) in &keys {
                let Some(e) = map.get(key) else { continue };
                if e.last + forget <= now {
                    map.remove(key);
                    continue;
                }
                let ready = e.last + limits.delay(e.failures, *free);
                let counts = *kind == Kind::Pair || !second_factor;
                if ready > now && counts {
                    let pair = *kind == Kind::Pair;
                    until = Some(match until {
                        Some((t, p)) => (t.max(ready), p || pair),
                        None => (ready, pair),
                    });
                }
            }
            if let Some((until, pair)) = until {
                return Err(Limited {
                    until,
                    second_factor_passes: !pair,
                });
            }
            let missing = keys.iter().filter(|(k, ..)| !map.contains_key(k)).count();
            make_room(map, missing, limits.max_keys, now - forget);
            for (key, ..) in keys {
                let e = map.entry(key).or_insert(Entry {
                    failures: 0,
                    last: now,
                });
                e.failures = e.failures.saturating_add(1);
                e.last = e.last.max(now);
            }
            Ok(())
        })
    }

    /// Takes back the attempt `begin` counted for this user and address, and forgets the
    /// pair's earlier failures.
    pub fn succeeded(&self, username: &str, address: &str) {
        let [pair, user, addr] = self.keys(username, address);
        self.with(|map| {
            map.remove(&pair.0);
            for (key, ..) in [user, addr] {
                if let Some(e) = map.get_mut(&key) {
                    e.failures = e.failures.saturating_sub(1);
                    if e.failures == 0 {
                        map.remove(&key);
                    }
                }
            }
        });
    }
}

/// Makes room for `missing` new keys in `map`, capped at `max`: drops the keys whose last
/// failure is before `stale`, then, if still full, the oldest sixteenth (at least what is
/// needed), so a flood of new keys pays for the scan once per many insertions.
fn make_room(map: &mut HashMap<String, Entry>, missing: usize, max: usize, stale: OffsetDateTime) {
    if map.len() + missing <= max {
        return;
    }
    map.retain(|_, e| e.last > stale);
    let over = (map.len() + missing).saturating_sub(max);
    if over == 0 {
        return;
    }
    let evict = over.max(max / 16).min(map.len());
    let mut ages: Vec<(OffsetDateTime, String)> =
        map.iter().map(|(k, e)| (e.last, k.clone())).collect();
    ages.sort_unstable();
    for (_, key) in ages.into_iter().take(evict) {
        map.remove(&key);
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
            ..Limits::default()
        })
    }

    fn secs(n: i64) -> Duration {
        Duration::seconds(n)
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked_so_a_burst_cannot_pass() {
        let l = limiter();
        // Nothing settles in between, as when guesses run in parallel.
        let passed = (0..10)
            .filter(|_| l.begin("alice", "10.0.0.1", T0, false).is_ok())
            .count();
        assert_eq!(passed, 3);
        assert_eq!(
            l.begin("alice", "10.0.0.1", T0, false),
            Err(Limited {
                until: T0 + secs(1),
                second_factor_passes: false
            })
        );
        assert!(l.begin("alice", "10.0.0.1", T0 + secs(1), false).is_ok());
    }

    #[test]
    fn each_failure_past_the_free_ones_doubles_the_wait_up_to_the_cap() {
        // Only the pair's key comes into play.
        let l = RateLimiter::new(Limits {
            per_user_and_address: 3,
            per_user: 1000,
            per_address: 1000,
            ..Limits::default()
        });
        let mut now = T0;
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", now, false).is_ok());
        }
        let mut waits = Vec::new();
        for _ in 0..14 {
            let until = l.begin("alice", "10.0.0.1", now, false).unwrap_err().until;
            waits.push((until - now).whole_seconds());
            // Early attempts are refused and not counted: the wait does not grow.
            assert_eq!(
                l.begin("alice", "10.0.0.1", until - secs(1), false)
                    .unwrap_err()
                    .until,
                until
            );
            now = until;
            assert!(l.begin("alice", "10.0.0.1", now, false).is_ok());
        }
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900]
        );
        // The rightful user is delayed, never refused for good: after the wait, the right
        // password is checked and its success clears the pair.
        let until = l.begin("alice", "10.0.0.1", now, false).unwrap_err().until;
        assert!(l.begin("alice", "10.0.0.1", until, false).is_ok());
        l.succeeded("alice", "10.0.0.1");
        assert!(l.begin("alice", "10.0.0.1", until, false).is_ok());
    }

    #[test]
    fn a_quiet_key_is_forgotten() {
        let l = limiter();
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", T0, false).is_ok());
        }
        assert!(l.begin("alice", "10.0.0.1", T0, false).is_err());
        let later = T0 + Duration::hours(1);
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", later, false).is_ok());
        }
    }

    #[test]
    fn another_address_slows_a_user_only_through_the_per_user_key() {
        let l = limiter();
        for i in 0..3 {
            assert!(
                l.begin("alice", "203.0.113.9", T0, false).is_ok(),
                "attempt {i}"
            );
        }
        assert!(l.begin("alice", "203.0.113.9", T0, false).is_err());
        // Alice, from her own address, still gets in; a success takes its attempt back.
        assert!(l.begin("alice", "10.0.0.1", T0, false).is_ok());
        l.succeeded("alice", "10.0.0.1");
        // A distributed guesser makes the per-user key wait.
        for a in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            assert!(l.begin("alice", a, T0, false).is_ok(), "{a}");
        }
        let limited = l.begin("alice", "10.0.0.1", T0, false).unwrap_err();
        assert!(limited.second_factor_passes, "{limited:?}");
        // With a valid second factor, only the pair's wait counts.
        assert!(l.begin("alice", "10.0.0.1", T0, true).is_ok());
        // But a pair that is waiting still waits.
        let pair = l.begin("alice", "203.0.113.9", T0, true).unwrap_err();
        assert!(!pair.second_factor_passes, "{pair:?}");
    }

    #[test]
    fn one_address_is_limited_across_usernames() {
        let l = limiter();
        for u in ["a", "b", "c", "d", "e"] {
            assert!(l.begin(u, "10.0.0.1", T0, false).is_ok(), "{u}");
        }
        let limited = l.begin("f", "10.0.0.1", T0, false).unwrap_err();
        assert!(limited.second_factor_passes);
        assert!(l.begin("f", "10.0.0.1", T0, true).is_ok());
        assert!(l.begin("f", "10.0.0.2", T0, false).is_ok());
    }

    #[test]
    fn a_success_forgets_the_pairs_failures() {
        let l = limiter();
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", T0, false).is_ok());
        }
        l.succeeded("alice", "10.0.0.1");
        for _ in 0..3 {
            assert!(l.begin("alice", "10.0.0.1", T0, false).is_ok());
        }
    }

    #[test]
    fn a_full_table_evicts_its_oldest_keys_instead_of_refusing_new_ones() {
        let l = RateLimiter::new(Limits {
            per_user_and_address: 1,
            max_keys: 30,
            ..Limits::default()
        });
        // The oldest pair, made to wait.
        assert!(l.begin("old", "10.0.0.1", T0, false).is_ok());
        assert!(l.begin("old", "10.0.0.1", T0, false).is_err());
        // Nine more users from nine more addresses fill the table (three keys each).
        for i in 0..9 {
            let at = T0 + secs(i + 1);
            assert!(
                l.begin(&format!("u{i}"), &format!("a{i}"), at, false)
                    .is_ok()
            );
        }
        assert_eq!(l.with(|m| m.len()), 30);
        // A new key is taken, not refused; the oldest keys made room.
        let at = T0 + secs(20);
        assert!(l.begin("new", "10.9.9.9", at, false).is_ok());
        assert!(l.with(|m| m.len()) <= 30);
        assert!(l.with(|m| !m.contains_key("p:10.0.0.1\0old")));
        // The oldest pair's wait went with it; the newer keys still count.
        assert!(l.begin("old", "10.0.0.1", at, false).is_ok());
        assert_eq!(l.with(|m| m.get("p:a8\0u8").map(|e| e.failures)), Some(1));
        assert!(l.with(|m| m.len()) <= 30);
    }

    #[test]
    fn the_key_table_never_grows_past_its_cap_and_never_refuses_a_new_key() {
        let l = RateLimiter::new(Limits::default());
        // Each new user from a new address adds three keys.
        for i in 0..(MAX_KEYS / 3 + 10) {
            let at = T0 + Duration::milliseconds(i64::try_from(i).unwrap());
            assert!(
                l.begin(&format!("u{i}"), &format!("a{i}"), at, false)
                    .is_ok()
            );
        }
        assert!(l.with(|m| m.len()) <= MAX_KEYS);
    }
}

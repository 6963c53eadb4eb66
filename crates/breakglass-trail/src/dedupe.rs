//! Removing duplicate deliveries by `eventID`, in bounded memory.
//!
//! CloudTrail sometimes delivers an event twice, normally in objects written minutes apart.
//! [`Dedupe`] remembers recent event IDs (a 128-bit key each) in two generations of
//! `window / 2` keys: new keys go into the current generation; when it is full it becomes
//! the previous one and the old previous one is forgotten. The guarantee: a duplicate is
//! removed whenever fewer than `window / 2` distinct events came between its two copies (and
//! usually up to `window`); memory is 32 bytes per ID of `window` whatever the input size. Forgetting a whole generation at once costs far less than evicting one key per event.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A compact, collision-resistant key for an `eventID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(u128);

impl EventKey {
    /// The key of a raw `eventID`: the 128 bits of a UUID, else a 128-bit hash of the bytes.
    pub fn of(event_id: &[u8]) -> EventKey {
        if let Some(k) = uuid_bits(event_id) {
            return EventKey(k);
        }
        let half = |salt: u8| {
            let mut h = DefaultHasher::new();
            salt.hash(&mut h);
            event_id.hash(&mut h);
            h.finish()
        };
        EventKey(u128::from(half(1)) << 64 | u128::from(half(2)))
    }
}

impl EventKey {
    /// Which of `shards` this key belongs to, for callers that split one window into
    /// independently locked parts (keys are uniformly distributed).
    pub fn shard(&self, shards: usize) -> usize {
        let folded = (self.0 as u64) ^ ((self.0 >> 64) as u64);
        (folded % shards.max(1) as u64) as usize
    }
}

fn uuid_bits(s: &[u8]) -> Option<u128> {
    if s.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &b) in s.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let d = (b as char).to_digit(16)?;
        v = v << 4 | u128::from(d);
    }
    Some(v)
}

/// Something that decides whether an event ID is seen for the first time. The library's
/// [`Dedupe`] implements it; a parallel caller can share one behind a lock.
pub trait SeenIds {
    /// True the first time `key` is offered (within the implementation's memory).
    fn first_sighting(&mut self, key: EventKey) -> bool;
}

impl<T: SeenIds + ?Sized> SeenIds for &mut T {
    fn first_sighting(&mut self, key: EventKey) -> bool {
        (**self).first_sighting(key)
    }
}

/// Accepts every event: no deduplication.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeepAll;

impl SeenIds for KeepAll {
    fn first_sighting(&mut self, _: EventKey) -> bool {
        true
    }
}

/// A fixed-size open-addressing set of keys: one 16-byte slot per entry, linear probing,
/// at most half full. One probe touches one cache line, where a general-purpose table
/// touches two; with hundreds of thousands of keys that is the cost that matters.
#[derive(Debug)]
struct KeySet {
    slots: Vec<u128>,
    /// Bits of the slot index (the table has `1 << bits` slots).
    bits: u32,
    len: usize,
    /// The all-zero key marks empty slots, so it is remembered apart.
    zero: bool,
}

impl KeySet {
    fn new(capacity: usize) -> KeySet {
        let slots = (capacity.max(8) * 2).next_power_of_two();
        KeySet {
            slots: vec![0; slots],
            bits: slots.trailing_zeros(),
            len: 0,
            zero: false,
        }
    }

    #[inline]
    fn home(&self, key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.bits)) as usize
    }

    /// The slot holding `key`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, key: u128) -> (usize, bool) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            match self.slots.get(i) {
                Some(&k) if k == key => return (i, true),
                Some(0) | None => return (i, false),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    #[inline]
    fn contains(&self, key: u128) -> bool {
        if key == 0 {
            return self.zero;
        }
        self.probe(key).1
    }

    /// Adds `key`; false if it was already there.
    #[inline]
    fn insert(&mut self, key: u128) -> bool {
        if key == 0 {
            let new = !self.zero;
            self.zero = true;
            self.len += usize::from(new);
            return new;
        }
        let (i, found) = self.probe(key);
        if found {
            return false;
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = key;
            self.len += 1;
        }
        true
    }

    fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
        self.zero = false;
    }
}

/// A window of recently seen event IDs, in two generations.
#[derive(Debug)]
pub struct Dedupe {
    current: KeySet,
    previous: KeySet,
    generation: usize,
    duplicates: u64,
}

impl Default for Dedupe {
    fn default() -> Self {
        Dedupe::new(Dedupe::DEFAULT_WINDOW)
    }
}

impl Dedupe {
    /// 524,288 IDs: 16 MB, several hours of a busy account's events.
    pub const DEFAULT_WINDOW: usize = 1 << 19;

    /// A window remembering between `window / 2` and `window` distinct IDs.
    pub fn new(window: usize) -> Dedupe {
        let generation = (window / 2).max(1);
        Dedupe {
            current: KeySet::new(generation),
            previous: KeySet::new(generation),
            generation,
            duplicates: 0,
        }
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

impl SeenIds for Dedupe {
    fn first_sighting(&mut self, key: EventKey) -> bool {
        if self.previous.contains(key.0) || !self.current.insert(key.0) {
            self.duplicates += 1;
            return false;
        }
        if self.current.len >= self.generation {
            // The full generation becomes the previous one; the oldest is forgotten.
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_within_the_window_are_dropped() {
        let mut d = Dedupe::new(4);
        let k = |s: &str| EventKey::of(s.as_bytes());
        assert!(d.first_sighting(k("a")));
        assert!(d.first_sighting(k("b"))); // generation {a, b} is full: it becomes previous
        assert!(!d.first_sighting(k("a")));
        assert!(d.first_sighting(k("c")));
        assert!(!d.first_sighting(k("b")));
        assert!(d.first_sighting(k("d"))); // {c, d} full: {a, b} is forgotten
        assert!(!d.first_sighting(k("c")));
        assert!(d.first_sighting(k("a")));
        assert_eq!(d.duplicates(), 3);
    }

    #[test]
    fn a_duplicate_within_half_the_window_is_always_caught() {
        let window = 64;
        let mut d = Dedupe::new(window);
        let key = |i: usize| EventKey::of(format!("event-{i}").as_bytes());
        for i in 0..10_000 {
            assert!(d.first_sighting(key(i)));
            if i >= window / 2 - 1 {
                // The copy of an event `window / 2 - 1` events back is still remembered.
                assert!(!d.first_sighting(key(i + 1 - window / 2)), "{i}");
            }
        }
    }

    #[test]
    fn the_zero_key_and_colliding_keys_are_told_apart() {
        let mut set = KeySet::new(8);
        assert!(set.insert(0));
        assert!(!set.insert(0));
        // Keys that fold to the same value share a home slot and probe onwards.
        let a = (1u128 << 64) | 5;
        let b = (2u128 << 64) | 6;
        assert_eq!(set.home(a), set.home(b));
        for k in [a, b, 7, 9, 11] {
            assert!(set.insert(k));
            assert!(set.contains(k));
        }
        assert!(!set.contains(3));
        assert_eq!(set.len, 6);
        set.clear();
        assert!(!set.contains(0) && !set.contains(a));
    }

    #[test]
    fn uuid_keys_are_exact() {
        let a = EventKey::of(b"293ba626-3be5-4a26-ab1b-0f4c54f49959");
        let b = EventKey::of(b"293ba626-3be5-4a26-ab1b-0f4c54f4995a");
        assert_ne!(a, b);
        assert_eq!(a, EventKey::of(b"293ba626-3be5-4a26-ab1b-0f4c54f49959"));
        assert_ne!(EventKey::of(b"not-a-uuid"), EventKey::of(b"not-a-uuiD"));
        let high = EventKey::of(b"893ba626-3be5-4a26-ab1b-0f4c54f49959");
        assert_ne!(a, high);
    }
}

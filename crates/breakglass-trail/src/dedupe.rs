//! Removing duplicate deliveries by `eventID`, in bounded memory.
//!
//! CloudTrail sometimes delivers an event twice, normally in objects written minutes apart.
//! [`Dedupe`] remembers recent event IDs (a 128-bit key each) in two generations of
//! `window / 2` keys: new keys go into the current generation; when it is full it becomes
//! the previous one and the old previous one is forgotten. The guarantee: a duplicate is
//! removed whenever fewer than `window / 2` distinct events came between its two copies (and
//! usually up to `window`); memory is 34 bytes per ID of `window` whatever the input size.
//! Forgetting a whole generation at once costs far less than evicting one key per event.

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
        v = v << 4 | u128::from(char::from(b).to_digit(16)?);
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

/// The two generations' keys: two fixed-size open-addressing sets (linear probing, each at
/// most half full) that share one hash and one layout, with a one-byte tag per slot and
/// generation beside the 16-byte keys (as Swiss tables do). A slot's two tags sit side by
/// side, so looking a key up in both generations reads one cache line of tags, in a table
/// a sixteenth of the keys' size that stays in the processor's cache; a key is read only
/// where its tag matches (about one slot in 255 that is not the key). With hundreds of
/// thousands of keys, the memory misses of reading keys were the cost that mattered.
/// Inserting writes the key, which the processor does not wait for.
#[derive(Debug)]
struct KeySets {
    /// Per slot, each generation's tag: 0 for an empty slot, else its key's (1..=255).
    tags: Vec<[u8; 2]>,
    keys: [Vec<u128>; 2],
    /// Bits of the slot index (each set has `1 << bits` slots).
    bits: u32,
    len: [usize; 2],
}

impl KeySets {
    /// Two sets of up to `capacity` keys each.
    fn new(capacity: usize) -> KeySets {
        let slots = (capacity.max(8) * 2).next_power_of_two();
        KeySets {
            tags: vec![[0; 2]; slots],
            keys: [vec![0; slots], vec![0; slots]],
            bits: slots.trailing_zeros(),
            len: [0; 2],
        }
    }

    /// The key's hash: its top `bits` bits are the home slot, the eight below them the tag.
    #[inline]
    fn hash(key: u128) -> u64 {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        folded.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The key's home slot (the hash's top `bits` bits) and tag (the eight below them, 0
    /// made 1: `bits` is at most 48, as a table of 2^48 slots would not fit in memory).
    #[inline]
    fn place(&self, key: u128) -> (usize, u8) {
        let h = Self::hash(key);
        let home = (h >> (64 - self.bits)) as usize;
        let tag = ((h >> (56 - self.bits.min(48))) as u8).max(1);
        (home, tag)
    }

    /// The slot of generation `g` holding `key` (`true`), or the empty slot where it would
    /// go (`false`), with the key's tag.
    #[inline]
    fn probe(&self, g: usize, key: u128) -> (usize, bool, u8) {
        let mask = self.tags.len() - 1;
        let (mut i, tag) = self.place(key);
        let keys = self.keys.get(g).map_or(&[][..], Vec::as_slice);
        loop {
            match self.tags.get(i).and_then(|t| t.get(g)) {
                Some(0) | None => return (i, false, tag),
                Some(&t) if t == tag && keys.get(i) == Some(&key) => return (i, true, tag),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    #[inline]
    fn contains(&self, g: usize, key: u128) -> bool {
        self.probe(g, key).1
    }

    /// Adds `key` to generation `g`; false if it was already there.
    #[inline]
    fn insert(&mut self, g: usize, key: u128) -> bool {
        let (i, found, tag) = self.probe(g, key);
        if found {
            return false;
        }
        let t = self.tags.get_mut(i).and_then(|t| t.get_mut(g));
        let slot = self.keys.get_mut(g).and_then(|k| k.get_mut(i));
        if let (Some(t), Some(slot), Some(len)) = (t, slot, self.len.get_mut(g)) {
            *t = tag;
            *slot = key;
            *len += 1;
        }
        true
    }

    fn len(&self, g: usize) -> usize {
        self.len.get(g).copied().unwrap_or(0)
    }

    /// Empties generation `g`: only its tags are reset (a key is read only under its tag).
    fn clear(&mut self, g: usize) {
        for t in &mut self.tags {
            if let Some(t) = t.get_mut(g) {
                *t = 0;
            }
        }
        if let Some(len) = self.len.get_mut(g) {
            *len = 0;
        }
    }
}

/// A window of recently seen event IDs, in two generations.
#[derive(Debug)]
pub struct Dedupe {
    sets: KeySets,
    /// Which of the two sets is the current generation (the other is the previous one).
    current: usize,
    generation: usize,
    duplicates: u64,
}

impl Default for Dedupe {
    fn default() -> Self {
        Dedupe::new(Dedupe::DEFAULT_WINDOW)
    }
}

impl Dedupe {
    /// 524,288 IDs: 17 MB, several hours of a busy account's events.
    pub const DEFAULT_WINDOW: usize = 1 << 19;

    /// A window remembering between `window / 2` and `window` distinct IDs.
    pub fn new(window: usize) -> Dedupe {
        let generation = (window / 2).max(1);
        Dedupe {
            sets: KeySets::new(generation),
            current: 0,
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
        let (current, previous) = (self.current, 1 - self.current);
        if self.sets.contains(previous, key.0) || !self.sets.insert(current, key.0) {
            self.duplicates += 1;
            return false;
        }
        if self.sets.len(current) >= self.generation {
            // The full generation becomes the previous one; the oldest is forgotten.
            self.current = previous;
            self.sets.clear(previous);
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
        let mut sets = KeySets::new(8);
        assert!(sets.insert(0, 0));
        assert!(!sets.insert(0, 0));
        assert!(sets.contains(0, 0) && !sets.contains(1, 0));
        // Keys that fold to the same value share a home slot and a tag, and probe onwards.
        let a = (1u128 << 64) | 5;
        let b = (2u128 << 64) | 6;
        assert_eq!(sets.place(a), sets.place(b));
        for k in [a, b, 7, 9, 11] {
            assert!(sets.insert(0, k));
            assert!(sets.contains(0, k));
        }
        assert!(!sets.contains(0, 3));
        assert_eq!(sets.len(0), 6);
        // The other generation is apart, in the same slots.
        assert!(sets.insert(1, a));
        assert!(sets.contains(1, a) && !sets.contains(1, b));
        sets.clear(0);
        assert!(!sets.contains(0, 0) && !sets.contains(0, a));
        assert!(sets.contains(1, a));
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

//! A small, fast hasher for the short string keys evaluation looks up on every request
//! (condition keys, service prefixes). The standard SipHash is built to resist hash
//! flooding; these tables hold a policy's own keys or a request's few dozen context keys,
//! so speed matters more here.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The multiply-rotate hash used by rustc's `FxHasher`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (dst, src) in word.iter_mut().zip(chunk) {
                *dst = *src;
            }
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// A lower-cased name with its hash worked out once: condition keys and service prefixes
/// are compared by hash first, so a lookup rarely touches the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    hash: u64,
    name: Box<str>,
}

impl Key {
    /// The key for `name`, lower-cased.
    pub(crate) fn new(name: &str) -> Key {
        let name: Box<str> = name.to_lowercase().into();
        let mut h = FastHasher::default();
        h.write(name.as_bytes());
        Key {
            hash: h.finish(),
            name,
        }
    }

    /// The order sorted tables use: by hash, then by name.
    pub(crate) fn order(&self, other: &Key) -> std::cmp::Ordering {
        self.hash
            .cmp(&other.hash)
            .then_with(|| self.name.cmp(&other.name))
    }
}

/// A small table keyed by [`Key`], sorted for binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyTable<V> {
    entries: Vec<(Key, V)>,
}

impl<V> KeyTable<V> {
    pub(crate) fn get(&self, key: &Key) -> Option<&V> {
        let i = self.entries.binary_search_by(|(k, _)| k.order(key)).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value of `key`, inserted with `make` when absent (`None` never happens: the
    /// index was just found or made).
    pub(crate) fn entry(&mut self, key: Key, make: impl FnOnce() -> V) -> Option<&mut V> {
        let i = match self.entries.binary_search_by(|(k, _)| k.order(&key)) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub(crate) fn insert(&mut self, key: Key, value: V) {
        match self.entries.binary_search_by(|(k, _)| k.order(&key)) {
            Ok(i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }
}

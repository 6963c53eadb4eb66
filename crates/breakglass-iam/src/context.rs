//! The request context: condition keys (case-insensitive) and their values, possibly
//! multi-valued.
//!
//! A module of its own, below `request`, `arn` and `pattern`: ARN matching and policy
//! variables read the context, and the request builds it.

use std::sync::OnceLock;

use crate::date::{self, Nanos};
use crate::fast_hash::{Key, KeyTable};

/// The values of one context key. Keys such as `aws:TagKeys` carry several values.
#[derive(Debug, Clone, Default)]
pub struct ContextValue {
    values: Vec<String>,
    /// The single value read as a date, worked out the first time a `Date` operator asks.
    date: OnceLock<Option<Nanos>>,
}

impl PartialEq for ContextValue {
    fn eq(&self, other: &ContextValue) -> bool {
        self.values == other.values
    }
}

impl Eq for ContextValue {}

impl ContextValue {
    /// A single value.
    pub fn one(value: impl Into<String>) -> ContextValue {
        ContextValue {
            values: vec![value.into()],
            date: OnceLock::new(),
        }
    }

    /// Several values (possibly none: an empty set).
    pub fn many<I, S>(values: I) -> ContextValue
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ContextValue {
            values: values.into_iter().map(Into::into).collect(),
            date: OnceLock::new(),
        }
    }

    /// All values.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Value `i` read as a date; the single value of a key is parsed only once.
    pub(crate) fn date(&self, i: usize, text: &str) -> Option<Nanos> {
        if i == 0 && self.values.len() == 1 {
            *self.date.get_or_init(|| date::parse(text))
        } else {
            date::parse(text)
        }
    }

    /// The value, when there is exactly one (what a policy variable can take).
    pub fn single(&self) -> Option<&str> {
        match self.values.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

/// The request context: condition keys (case-insensitive) and their values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    keys: KeyTable<ContextValue>,
}

impl Context {
    /// Sets `key` (any case) to `value`, replacing an earlier value.
    pub fn insert(&mut self, key: &str, value: ContextValue) {
        self.keys.insert(Key::new(key), value);
    }

    /// The value of a key compiled policies prepared.
    pub(crate) fn get(&self, key: &Key) -> Option<&ContextValue> {
        self.keys.get(key)
    }

    /// The value of `key`, in any case.
    pub fn value(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(&Key::new(key))
    }

    /// Whether `key` (any case) is present.
    pub fn contains(&self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// Sets `key` (any case) to `value` unless it is already present.
    pub(crate) fn insert_if_absent(&mut self, key: &str, value: String) {
        let _ = self.keys.entry(Key::new(key), || ContextValue::one(value));
    }
}

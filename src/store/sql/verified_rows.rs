//! Rows this store has read and checked against their tags, kept by key, version and tag, so
//! that the per-request session read need not fetch, check and decode an unchanged row again.
//!
//! An entry is used only when the row read now carries the same version and the same tag bytes
//! as the row the entry was checked from. A tag is sealed with a fresh random nonce on every
//! write, so a new write (by any server), a row moved to another key or a restored backup never
//! matches an entry: it is read and checked again. Whatever else the row holds now, the value
//! used is the one that was checked.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::vec::Vec;

/// Checked values by key, each with the version and tag of the row it was checked from.
pub(crate) struct VerifiedRows<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    version: i64,
    tag: Vec<u8>,
    value: V,
}

impl<K: Hash + Eq, V: Clone> VerifiedRows<K, V> {
    /// An empty table that keeps at most `capacity` entries: a new key into a full table
    /// starts it again empty.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value checked from the row of `key` at exactly this version and tag, if kept.
    pub(crate) fn get(&self, key: &K, version: i64, tag: &[u8]) -> Option<V> {
        // A poisoned lock (a panic elsewhere while holding it) is only a miss.
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.version == version && entry.tag == tag).then(|| entry.value.clone())
    }

    /// The value kept for `key` and the tag of the row it was checked from, whatever the
    /// version.
    pub(crate) fn kept(&self, key: &K) -> Option<(Vec<u8>, V)> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        Some((entry.tag.clone(), entry.value.clone()))
    }

    /// Keeps `value`, checked from the row of `key` at `version` with `tag`, in place of any
    /// older entry of `key`.
    pub(crate) fn insert(&self, key: K, version: i64, tag: Vec<u8>, value: V) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.clear();
        }
        let _ = entries.insert(
            key,
            Entry {
                version,
                tag,
                value,
            },
        );
    }

    /// Forgets the entry of `key` (its row is gone).
    pub(crate) fn remove(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            let _ = entries.remove(key);
        }
    }

    /// How many entries are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn an_entry_serves_only_its_version_and_tag() {
        let kept = VerifiedRows::new(8);
        kept.insert(7u32, 3, vec![1, 2, 3], "checked");
        assert_eq!(kept.get(&7, 3, &[1, 2, 3]), Some("checked"));
        assert_eq!(kept.get(&7, 4, &[1, 2, 3]), None, "another version");
        assert_eq!(kept.get(&7, 3, &[1, 2, 4]), None, "another tag");
        assert_eq!(kept.get(&7, 3, &[1, 2]), None, "a shorter tag");
        assert_eq!(kept.get(&8, 3, &[1, 2, 3]), None, "another key");
        kept.insert(7, 4, vec![9], "newer");
        assert_eq!(kept.get(&7, 3, &[1, 2, 3]), None, "replaced");
        assert_eq!(kept.get(&7, 4, &[9]), Some("newer"));
        kept.remove(&7);
        assert_eq!(kept.get(&7, 4, &[9]), None, "removed");
    }

    #[test]
    fn the_table_is_bounded() {
        let kept = VerifiedRows::new(4);
        for n in 0..4u32 {
            kept.insert(n, 1, vec![0], n);
        }
        assert_eq!(kept.len(), 4);
        kept.insert(0, 2, vec![0], 0);
        assert_eq!(kept.len(), 4, "an update of a kept key replaces it");
        assert_eq!(kept.get(&3, 1, &[0]), Some(3));
        kept.insert(4, 1, vec![0], 4);
        assert_eq!(kept.len(), 1, "a new key into a full table starts it again");
        assert_eq!(kept.get(&4, 1, &[0]), Some(4));
    }
}

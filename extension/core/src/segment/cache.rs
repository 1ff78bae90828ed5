//! Segment bytes kept between queries, least recently used dropped first, bounded in
//! bytes.
//!
//! A scan reads its segments out of TOAST: an index probe and a copy per 2 KB chunk,
//! about a tenth of a dashboard scan's CPU (`benches/RESULTS.md`, eighth session). A
//! segment's bytes never change under its key (the extension keys them by segment id
//! and row version), so the same site and range asked again, as dashboards do, can
//! skip that. Entries are looked up only by keys the current snapshot and row-level
//! security just returned, so a cached segment is never shown to anyone who could not
//! read its row.
//!
//! Hand-rolled rather than the `lru` crate: eviction is by bytes, not entries, and a
//! cache holds at most a few hundred segments, so a scan for the oldest entry on insert
//! costs nothing next to the megabytes inserted.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// The cache of one process (a Postgres backend).
#[derive(Debug)]
pub struct SegmentCache<K> {
    entries: HashMap<K, Entry>,
    bytes: usize,
    capacity: usize,
    /// Incremented on every use; an entry's `used` is the tick of its last one.
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    bytes: Arc<[u8]>,
    used: u64,
}

impl<K: Hash + Eq + Clone> SegmentCache<K> {
    /// An empty cache holding at most `capacity` bytes (0 holds nothing).
    pub fn new(capacity: usize) -> SegmentCache<K> {
        SegmentCache { entries: HashMap::new(), bytes: 0, capacity, tick: 0 }
    }

    /// The bound, in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }

    /// Changes the bound, dropping the least recently used entries beyond it.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.shrink_to(capacity);
    }

    /// The bytes under `key`, marked as just used.
    pub fn get(&mut self, key: &K) -> Option<Arc<[u8]>> {
        self.tick += 1;
        let entry = self.entries.get_mut(key)?;
        entry.used = self.tick;
        Some(Arc::clone(&entry.bytes))
    }

    /// Keeps `bytes` under `key`, dropping the least recently used entries to make room;
    /// bytes larger than the whole cache are not kept.
    pub fn insert(&mut self, key: K, bytes: Arc<[u8]>) {
        if bytes.len() > self.capacity {
            return;
        }
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.bytes.len();
        }
        self.shrink_to(self.capacity - bytes.len());
        self.tick += 1;
        self.bytes += bytes.len();
        self.entries.insert(key, Entry { bytes, used: self.tick });
    }

    fn shrink_to(&mut self, limit: usize) {
        while self.bytes > limit {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()).expect("bytes held");
            let entry = self.entries.remove(&oldest).expect("just found");
            self.bytes -= entry.bytes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Arc<[u8]> {
        vec![7u8; n].into()
    }

    #[test]
    fn keeps_what_fits_and_drops_the_least_recently_used() {
        let mut cache = SegmentCache::new(100);
        cache.insert(1, bytes(40));
        cache.insert(2, bytes(40));
        assert!(cache.get(&1).is_some(), "1 is now the most recently used");
        cache.insert(3, bytes(40));
        assert!(cache.get(&2).is_none(), "2 was the least recently used");
        assert_eq!(cache.get(&1).unwrap().len(), 40);
        assert_eq!(cache.get(&3).unwrap().len(), 40);
        assert_eq!(cache.bytes(), 80);
    }

    #[test]
    fn too_large_entries_and_a_zero_capacity_keep_nothing() {
        let mut cache = SegmentCache::new(10);
        cache.insert(1, bytes(11));
        assert!(cache.get(&1).is_none());
        let mut off = SegmentCache::new(0);
        off.insert(1, bytes(1));
        assert!(off.get(&1).is_none());
        assert_eq!(off.bytes(), 0);
        off.insert(2, bytes(0));
        assert_eq!(off.get(&2).unwrap().len(), 0, "empty bytes fit anywhere");
    }

    #[test]
    fn replacing_a_key_and_shrinking_account_bytes() {
        let mut cache = SegmentCache::new(100);
        cache.insert(1, bytes(60));
        cache.insert(1, bytes(30));
        assert_eq!(cache.bytes(), 30);
        cache.insert(2, bytes(50));
        cache.get(&1);
        cache.set_capacity(40);
        assert_eq!(cache.bytes(), 30, "2, used least recently, went");
        assert!(cache.get(&2).is_none());
        assert!(cache.get(&1).is_some());
    }
}

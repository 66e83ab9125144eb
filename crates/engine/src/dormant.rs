//! Completed counts of torrents that have no peers left.
//!
//! A public tracker sees tens of millions of torrents come and go over months. A torrent
//! whose last peer expired leaves the swarm table (its `Torrent`, ~90 bytes plus its
//! table slot, and its place under `max_torrents`); only its completed count stays, here:
//! 28 bytes in one array plus a 4-byte position in a hash index, so a later announce or
//! scrape finds the count without touching the store.
//!
//! With a bound (`max_dormant_torrents`) a full table makes room by evicting the entry at
//! a clock hand (roughly the oldest), skipping entries whose count has not reached the
//! store yet. An evicted count lives only in the store; the info-hash goes into a small
//! Bloom filter ("spilled") so that when the torrent comes back the engine knows to ask
//! the store for its count (see `Engine::take_count_lookups`). The filter has no false
//! negatives, so no count is ever silently restarted from zero; false positives only cost
//! a store lookup. Without a bound nothing is evicted and the filter stays empty.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::InfoHash;

/// Entries looked at, from the hand, to find one that may be evicted.
const PROBES: usize = 16;

/// A peerless torrent's count. `[u8; 8]` keeps the entry at 28 bytes (no padding).
#[derive(Clone, Copy)]
struct Entry {
    hash: InfoHash,
    count: [u8; 8],
}

impl Entry {
    fn count(&self) -> u64 {
        u64::from_ne_bytes(self.count)
    }
}

/// One shard's table of counts of peerless torrents.
pub(crate) struct Dormant {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    /// Most entries (0 = no bound).
    cap: usize,
    hand: usize,
    /// Bloom filter of evicted info-hashes (empty until the first eviction).
    spilled: Vec<u64>,
    /// Bits in `spilled` once allocated (a power of two).
    spilled_bits: usize,
}

impl Dormant {
    /// An empty table holding at most `cap` counts (0 = no bound).
    pub(crate) fn new(cap: usize) -> Self {
        Dormant {
            entries: Vec::new(),
            index: HashTable::new(),
            cap,
            hand: 0,
            spilled: Vec::new(),
            // About 8 bits per entry held: ~3% false positives with 3 probes while the
            // spilled set is as large as the table.
            spilled_bits: (cap.saturating_mul(8))
                .clamp(4096, 1 << 30)
                .next_power_of_two(),
        }
    }

    fn find(&self, hasher: &FixedState, h: &InfoHash) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hasher.hash_one(h), |&i| entries[i as usize].hash == *h)
            .map(|&i| i as usize)
    }

    fn index_at(&mut self, hasher: &FixedState, i: usize) {
        let entries = &self.entries;
        self.index
            .insert_unique(hasher.hash_one(entries[i].hash), i as u32, |&j| {
                hasher.hash_one(entries[j as usize].hash)
            });
    }

    fn unindex(&mut self, hasher: &FixedState, i: usize) {
        let hash = hasher.hash_one(self.entries[i].hash);
        if let Ok(e) = self.index.find_entry(hash, |&j| j as usize == i) {
            e.remove();
        }
    }

    /// The count of `h`, if held.
    pub(crate) fn get(&self, hasher: &FixedState, h: &InfoHash) -> Option<u64> {
        self.find(hasher, h).map(|i| self.entries[i].count())
    }

    /// Sets the count of a held `h`; false when it is not held.
    pub(crate) fn set(&mut self, hasher: &FixedState, h: &InfoHash, count: u64) -> bool {
        match self.find(hasher, h) {
            Some(i) => {
                self.entries[i].count = count.to_ne_bytes();
                true
            }
            None => false,
        }
    }

    /// Removes `h` and returns its count (the torrent has peers again).
    pub(crate) fn take(&mut self, hasher: &FixedState, h: &InfoHash) -> Option<u64> {
        let i = self.find(hasher, h)?;
        let count = self.entries[i].count();
        self.unindex(hasher, i);
        let last = self.entries.len() - 1;
        if i != last {
            self.unindex(hasher, last);
            self.entries.swap_remove(i);
            self.index_at(hasher, i);
        } else {
            self.entries.pop();
        }
        if self.hand >= self.entries.len() {
            self.hand = 0;
        }
        Some(count)
    }

    /// Adds `h` (not held) with `count`. A full table first evicts an entry near the
    /// hand that `evictable` allows (its count is in the store); returns false, adding
    /// nothing, when none of the probed entries may go.
    pub(crate) fn insert(
        &mut self,
        hasher: &FixedState,
        h: InfoHash,
        count: u64,
        evictable: impl Fn(&InfoHash) -> bool,
    ) -> bool {
        let entry = Entry {
            hash: h,
            count: count.to_ne_bytes(),
        };
        if self.cap == 0 || self.entries.len() < self.cap {
            self.entries.push(entry);
            self.index_at(hasher, self.entries.len() - 1);
            return true;
        }
        let len = self.entries.len();
        for k in 0..PROBES.min(len) {
            let i = (self.hand + k) % len;
            let victim = self.entries[i].hash;
            if evictable(&victim) {
                self.hand = (i + 1) % len;
                self.unindex(hasher, i);
                self.spill(hasher, &victim);
                self.entries[i] = entry;
                self.index_at(hasher, i);
                return true;
            }
        }
        self.hand = (self.hand + PROBES) % len;
        false
    }

    fn bloom_bits(&self, hasher: &FixedState, h: &InfoHash) -> [usize; 3] {
        // Two halves of one keyed hash, combined (Kirsch–Mitzenmacher).
        let x = hasher.hash_one((h, 0x5350_494c_u32));
        let (a, b) = (x as usize, ((x >> 32) as usize) | 1);
        let mask = self.spilled_bits - 1;
        [
            a & mask,
            a.wrapping_add(b) & mask,
            a.wrapping_add(b << 1) & mask,
        ]
    }

    /// Records that `h`'s count is now only in the store.
    pub(crate) fn spill(&mut self, hasher: &FixedState, h: &InfoHash) {
        if self.spilled.is_empty() {
            self.spilled = vec![0; self.spilled_bits / 64];
        }
        for bit in self.bloom_bits(hasher, h) {
            self.spilled[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// Whether `h`'s count may be in the store only (never false for one that is).
    pub(crate) fn maybe_spilled(&self, hasher: &FixedState, h: &InfoHash) -> bool {
        !self.spilled.is_empty()
            && self
                .bloom_bits(hasher, h)
                .iter()
                .all(|&bit| self.spilled[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// Every held count.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (InfoHash, u64)> + '_ {
        self.entries.iter().map(|e| (e.hash, e.count()))
    }

    /// Keeps the entries `keep` allows (off the request path: rebuilds the index).
    pub(crate) fn retain(&mut self, hasher: &FixedState, keep: impl Fn(&InfoHash) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| keep(&e.hash));
        if self.entries.len() != before {
            self.index.clear();
            for i in 0..self.entries.len() {
                self.index_at(hasher, i);
            }
            self.hand = 0;
        }
    }

    /// Counts held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes allocated.
    pub(crate) fn memory(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.spilled.capacity() * 8
    }

    /// Gives memory back once the table is mostly empty.
    pub(crate) fn shrink(&mut self, hasher: &FixedState) {
        if self.entries.capacity() > 64 && self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to_fit();
            let entries = &self.entries;
            self.index
                .shrink_to_fit(|&j| hasher.hash_one(entries[j as usize].hash));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u32) -> InfoHash {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&n.to_le_bytes());
        InfoHash(b)
    }

    #[test]
    fn bounded_table_evicts_only_what_may_go_and_remembers_it() {
        let s = FixedState::with_seed(1);
        let mut d = Dormant::new(100);
        for n in 0..100 {
            assert!(d.insert(&s, h(n), u64::from(n) + 1, |_| true));
        }
        assert!(!d.maybe_spilled(&s, &h(0)));
        // Entry 0 may not go (its count has not reached the store): the next one does.
        assert!(d.insert(&s, h(1000), 7, |v| *v != h(0)));
        assert_eq!(d.len(), 100);
        assert_eq!(d.get(&s, &h(0)), Some(1));
        assert_eq!(d.get(&s, &h(1)), None);
        assert!(d.maybe_spilled(&s, &h(1)));
        assert_eq!(d.get(&s, &h(1000)), Some(7));
        // Nothing evictable within reach: nothing added.
        assert!(!d.insert(&s, h(1001), 1, |_| false));
        assert_eq!(d.get(&s, &h(1001)), None);
        // Take, set, retain keep the index right.
        assert_eq!(d.take(&s, &h(50)), Some(51));
        assert!(d.set(&s, &h(99), 5));
        d.retain(&s, |x| *x != h(2));
        for n in 3..100u32 {
            let want = match n {
                50 => None,
                99 => Some(5),
                _ => Some(u64::from(n) + 1),
            };
            assert_eq!(d.get(&s, &h(n)), want, "{n}");
        }
        // No false negatives, few false positives while the spilled set is no larger
        // than the table.
        let mut d = Dormant::new(1000);
        let spilled: Vec<u32> = (0..1000).map(|n| 5000 + n).collect();
        for &n in &spilled {
            d.spill(&s, &h(n));
        }
        assert!(spilled.iter().all(|&n| d.maybe_spilled(&s, &h(n))));
        let fp = (100_000..110_000u32)
            .filter(|&n| d.maybe_spilled(&s, &h(n)))
            .count();
        assert!(fp < 500, "{fp} false positives in 10000");
    }
}

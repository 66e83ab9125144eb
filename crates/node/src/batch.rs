//! Summed writes (completed counts, credits) sent to the store in numbered batches.
//!
//! What the engine drained waits here, summed per key, until a flush freezes it into a
//! batch with a number this node never uses again. A batch whose write failed is sent
//! again as it is — same rows, same number — until the store takes it; the store adds a
//! number once (`add_completed_once`, `add_traffic_once`), so a batch whose commit
//! succeeded but whose answer was lost (the connection broke) is not counted twice.
//! Meanwhile new deltas wait beside it, up to a bound: past it, they are dropped and
//! counted rather than let memory grow while the store is away.

use std::collections::HashMap;
use std::hash::Hash;

/// A value deltas of the same key are summed into.
pub trait Merge {
    /// Adds a later delta.
    fn merge(&mut self, later: Self);
}

impl Merge for u64 {
    fn merge(&mut self, later: u64) {
        *self = self.saturating_add(later);
    }
}

/// Deltas waiting for the store, and the batch in flight.
#[derive(Debug)]
pub struct Batches<K, V> {
    waiting: HashMap<K, V>,
    inflight: Option<(u64, Vec<(K, V)>)>,
    last: u64,
    max_waiting: usize,
    dropped: u64,
}

impl<K, V> Default for Batches<K, V> {
    fn default() -> Self {
        Batches::bounded(usize::MAX)
    }
}

impl<K, V> Batches<K, V> {
    /// At most `max_waiting` keys wait beside the batch in flight.
    pub fn bounded(max_waiting: usize) -> Self {
        Batches {
            waiting: HashMap::new(),
            inflight: None,
            last: 0,
            max_waiting,
            dropped: 0,
        }
    }

    /// Keys waiting or in flight.
    pub fn len(&self) -> usize {
        self.waiting.len() + self.inflight.as_ref().map_or(0, |(_, rows)| rows.len())
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deltas dropped because the bound was reached.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The batch to send now: the one in flight, or else everything waiting, frozen
    /// under a new number (`None`: nothing to send).
    pub fn next(&mut self) -> Option<(u64, &[(K, V)])> {
        if self.inflight.is_none() && !self.waiting.is_empty() {
            let rows: Vec<(K, V)> = self.waiting.drain().collect();
            self.inflight = Some((next_number(&mut self.last), rows));
            if self.waiting.capacity() > 4096 {
                self.waiting = HashMap::new();
            }
        }
        self.inflight
            .as_ref()
            .map(|(seq, rows)| (*seq, rows.as_slice()))
    }

    /// The batch in flight was committed (or found committed before).
    pub fn committed(&mut self) {
        self.inflight = None;
    }
}

impl<K: Hash + Eq, V: Merge> Batches<K, V> {
    /// Adds a delta; `false` when it was dropped (the bound).
    pub fn add(&mut self, key: K, delta: V) -> bool {
        if let Some(v) = self.waiting.get_mut(&key) {
            v.merge(delta);
            return true;
        }
        if self.waiting.len() >= self.max_waiting {
            self.dropped += 1;
            return false;
        }
        self.waiting.insert(key, delta);
        true
    }
}

impl<K: Hash + Eq> Batches<K, u64> {
    /// What waits or is in flight for `key`, summed.
    pub fn pending_of(&self, key: &K) -> u64 {
        let flying = self
            .inflight
            .iter()
            .flat_map(|(_, rows)| rows.iter())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .sum::<u64>();
        flying + self.waiting.get(key).copied().unwrap_or(0)
    }
}

/// A number for a new batch: nanoseconds since the epoch, above the last one, so a
/// node's numbers never repeat, across restarts too.
fn next_number(last: &mut u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    *last = now.max(*last + 1);
    *last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_batch_is_sent_again_as_it_was_while_new_deltas_wait() {
        let mut b: Batches<u8, u64> = Batches::bounded(2);
        assert!(b.next().is_none());
        assert!(b.add(1, 5) && b.add(1, 2) && b.add(2, 1));
        assert!(!b.add(3, 1), "over the bound: dropped");
        assert_eq!(b.dropped(), 1);
        let (seq, rows) = b.next().unwrap();
        let mut first = rows.to_vec();
        first.sort();
        assert_eq!(first, [(1, 7), (2, 1)]);
        // Not committed: new deltas wait beside it, the same batch comes again.
        assert!(b.add(1, 10) && b.add(3, 1));
        assert_eq!(b.pending_of(&1), 17);
        assert_eq!(b.len(), 4);
        let (again, rows) = b.next().unwrap();
        assert_eq!(again, seq);
        assert_eq!(rows.len(), 2);
        b.committed();
        let (next, rows) = b.next().unwrap();
        assert!(next > seq, "a new number");
        let mut second = rows.to_vec();
        second.sort();
        assert_eq!(second, [(1, 10), (3, 1)]);
        b.committed();
        assert!(b.next().is_none() && b.is_empty());
    }

    #[test]
    fn numbers_only_go_up() {
        let mut last = u64::MAX - 5;
        assert_eq!(next_number(&mut last), u64::MAX - 4);
        let mut last = 0;
        let a = next_number(&mut last);
        let b = next_number(&mut last);
        assert!(a > 1_700_000_000_000_000_000 && b > a);
    }
}

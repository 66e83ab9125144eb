//! The API's side of the store thread: the figures it records for `/metrics`, the
//! trends and the torrent pages, and the admin writes it is asked to make durable.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use shoal_engine::InfoHash;
use shoal_store::Sample;

/// What the store thread did, for `/metrics`.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Flushes that wrote something.
    pub flushes: AtomicU64,
    /// Torrents whose completed count was written (one per torrent per flush).
    pub written: AtomicU64,
    /// Flushes or samples that failed.
    pub errors: AtomicU64,
    /// Microseconds the last flush took.
    pub last_flush_micros: AtomicU64,
    /// The last write failed (readiness reports it until one succeeds).
    pub failing: AtomicBool,
    /// Torrents whose completions wait for a flush that failed to be retried.
    pub pending: AtomicU64,
}

impl StoreStats {
    /// Whether the store is taking writes: the last one succeeded and no completed
    /// count is waiting for a retry.
    pub fn ready(&self) -> bool {
        !self.failing.load(Ordering::Relaxed) && self.pending.load(Ordering::Relaxed) == 0
    }
}

/// Requests other threads make of the store thread.
pub enum Command {
    /// Add or remove one admin access-list entry; the result is sent back.
    Access(AccessChange, Sender<Result<(), String>>),
    /// Log that an admin removed a swarm here, for the other nodes; the result is sent back.
    SwarmRemoved(InfoHash, Sender<Result<(), String>>),
}

/// One edit of the admin access list.
#[derive(Debug, Clone, Copy)]
pub enum AccessChange {
    /// The entry was added.
    Add(InfoHash),
    /// The entry was removed.
    Remove(InfoHash),
}

/// Recent samples kept in memory for `/api/trends`.
pub type History = Arc<Mutex<VecDeque<Sample>>>;

/// Torrents sampled for the per-swarm history at each stats sample: the busiest by peers.
pub const SWARMS_SAMPLED: usize = 100;
/// Most swarms with a history (the ones sampled longest ago are forgotten first).
const SWARMS_KEPT: usize = 1000;
/// Seconds of per-swarm history kept.
pub const SWARM_KEEP_SECS: u64 = 86_400;

/// Recent samples of the busiest swarms, for the dashboard's torrent pages: the last 24
/// hours, bounded in torrents and points, kept in memory and written to the store (so
/// they survive restarts).
#[derive(Default)]
pub struct SwarmHistory {
    inner: Mutex<std::collections::HashMap<InfoHash, VecDeque<SwarmSample>>>,
}

/// Unix seconds, seeders, leechers.
pub type SwarmSample = (u64, u32, u32);

impl SwarmHistory {
    /// Records one sample (`at`, seeders, leechers) of each torrent in `top`.
    pub fn record(&self, at: u64, top: &[(InfoHash, shoal_engine::SwarmStats)]) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (h, s) in top {
            map.entry(*h)
                .or_default()
                .push_back((at, s.seeders, s.leechers));
        }
        let cutoff = at.saturating_sub(SWARM_KEEP_SECS);
        map.retain(|_, v| {
            while v.front().is_some_and(|p| p.0 < cutoff) {
                v.pop_front();
            }
            !v.is_empty()
        });
        if map.len() > SWARMS_KEPT {
            let mut last: Vec<(u64, InfoHash)> = map
                .iter()
                .map(|(h, v)| (v.back().map_or(0, |p| p.0), *h))
                .collect();
            last.sort_unstable();
            for (_, h) in &last[..map.len() - SWARMS_KEPT] {
                map.remove(h);
            }
        }
    }

    /// Replaces the history with stored samples (oldest first).
    pub fn load(&self, rows: &[(u64, shoal_store::SwarmSample)]) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.clear();
        for (at, s) in rows {
            map.entry(s.info_hash)
                .or_default()
                .push_back((*at, s.seeders, s.leechers));
        }
        drop(map);
        // Apply the bounds as recording does.
        if let Some(last) = rows.last() {
            self.record(last.0, &[]);
        }
    }

    /// A swarm's samples, oldest first.
    pub fn get(&self, h: &InfoHash) -> Vec<SwarmSample> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(h)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_history_is_bounded() {
        let h = SwarmHistory::default();
        let s = shoal_engine::SwarmStats {
            seeders: 3,
            leechers: 4,
            ..Default::default()
        };
        for i in 0..(SWARMS_KEPT as u32 + 50) {
            let mut b = [0u8; 20];
            b[..4].copy_from_slice(&i.to_le_bytes());
            h.record(u64::from(i), &[(InfoHash(b), s)]);
        }
        assert_eq!(h.inner.lock().unwrap().len(), SWARMS_KEPT);
        let newest = {
            let mut b = [0u8; 20];
            b[..4].copy_from_slice(&(SWARMS_KEPT as u32 + 49).to_le_bytes());
            InfoHash(b)
        };
        assert_eq!(h.get(&newest), vec![(SWARMS_KEPT as u64 + 49, 3, 4)]);
        assert!(h.get(&InfoHash([0; 20])).is_empty(), "oldest forgotten");
        // A day later, everything has aged out.
        h.record(SWARM_KEEP_SECS + 10_000, &[]);
        assert!(h.inner.lock().unwrap().is_empty());
    }
}

//! What the catalog did, for `/metrics` and `/api/stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use shoal_peer::FetchError;

/// Why a fetch from one peer failed, as counted: the peer driver's reasons
/// (`shoal_peer::FetchError::REASONS`), then `unreadable` (a verified dictionary the
/// catalog could not read).
pub const FAILURE_REASONS: [&str; FetchError::REASONS.len() + 1] = {
    let mut out = [""; FetchError::REASONS.len() + 1];
    let mut i = 0;
    while i < FetchError::REASONS.len() {
        out[i] = FetchError::REASONS[i];
        i += 1;
    }
    out[i] = "unreadable";
    out
};

/// Upper bounds, in seconds, of the time-to-metadata histogram (the last is +Inf).
pub const SECONDS_BOUNDS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
];

/// Counters and gauges, shared between the catalog thread and the API.
#[derive(Debug, Default)]
pub struct CatalogStats {
    /// Torrents waiting to be resolved.
    pub pending: AtomicU64,
    /// Torrents being fetched now.
    pub in_flight: AtomicU64,
    /// Outgoing peer connections open now.
    pub connections: AtomicU64,
    /// Entries held in the store (as of the last count).
    pub entries: AtomicU64,
    /// Torrents resolved and stored.
    pub resolved: AtomicU64,
    /// Fetches from one peer that failed, by [`FAILURE_REASONS`].
    pub failed: [AtomicU64; FAILURE_REASONS.len()],
    /// Torrents given up after every try failed.
    pub gave_up: AtomicU64,
    /// Given-up torrents tried again because their swarm grew.
    pub revisited: AtomicU64,
    /// Unresolved torrents forgotten after a time without peers.
    pub forgotten: AtomicU64,
    /// New torrents not queued because the queue was full (or the engine's notes were).
    pub dropped: AtomicU64,
    /// Peer addresses not dialed: not public, low port, busy, over their rate.
    pub refused: [AtomicU64; 4],
    /// Resolved torrents kept out for a denied word in their name.
    pub denied_names: AtomicU64,
    /// Entries removed by retention (the catalog's cap) or by an admin.
    pub removed: AtomicU64,
    /// Time from a torrent's first note to its stored entry.
    pub time_to_metadata: Histogram,
}

/// A histogram of durations over [`SECONDS_BOUNDS`], for `/metrics`.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; SECONDS_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records a duration in seconds.
    pub fn observe(&self, secs: f64) {
        let i = SECONDS_BOUNDS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(SECONDS_BOUNDS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((secs * 1e6) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Cumulative counts per bound (the last is +Inf), the sum in seconds and the count.
    pub fn snapshot(&self) -> ([u64; SECONDS_BOUNDS.len() + 1], f64, u64) {
        let mut out = [0; SECONDS_BOUNDS.len() + 1];
        let mut running = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            running += b.load(Relaxed);
            out[i] = running;
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        (out, sum, self.count.load(Relaxed))
    }
}

/// Labels of [`CatalogStats::refused`], in order.
pub const REFUSAL_REASONS: [&str; 4] = ["not_public", "low_port", "busy", "rate"];

impl CatalogStats {
    /// Counts a failed fetch by its reason (unknown reasons count as `protocol`).
    pub fn fail(&self, reason: &str) {
        let i = FAILURE_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_else(|| {
                FAILURE_REASONS
                    .iter()
                    .position(|r| *r == "protocol")
                    .unwrap_or(0)
            });
        self.failed[i].fetch_add(1, Relaxed);
    }

    /// Counts an address not dialed.
    pub fn refuse(&self, r: crate::dial::Refusal) {
        let i = REFUSAL_REASONS
            .iter()
            .position(|x| *x == r.as_str())
            .unwrap_or(0);
        self.refused[i].fetch_add(1, Relaxed);
    }

    /// Failed fetches per reason, in [`FAILURE_REASONS`] order.
    pub fn failures(&self) -> [u64; FAILURE_REASONS.len()] {
        self.failed.each_ref().map(|c| c.load(Relaxed))
    }

    /// Refused dials per reason, in [`REFUSAL_REASONS`] order.
    pub fn refusals(&self) -> [u64; 4] {
        self.refused.each_ref().map(|c| c.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_times_are_counted() {
        let s = CatalogStats::default();
        s.fail("bad_data");
        s.fail("something new");
        assert_eq!(s.failures()[8], 1);
        assert_eq!(s.failures()[10], 1, "unknown reasons count as protocol");
        s.refuse(crate::dial::Refusal::Rate);
        assert_eq!(s.refusals(), [0, 0, 0, 1]);
        s.time_to_metadata.observe(0.3);
        s.time_to_metadata.observe(4000.0);
        let (c, sum, n) = s.time_to_metadata.snapshot();
        assert_eq!((c[1], c[2], c[11], n), (0, 1, 2, 2));
        assert!((sum - 4000.3).abs() < 0.01);
    }
}

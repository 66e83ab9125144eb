//! A fixed-bucket latency histogram that any thread can update without locking, in the
//! shape Prometheus expects (cumulative buckets, sum, count). Durations are passed in.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the buckets, in microseconds (the last bucket is +Inf).
pub const BOUNDS_MICROS: [u64; 13] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000,
];

/// Request latencies.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records `n` requests that each took `micros`.
    pub fn observe_n(&self, micros: u64, n: u64) {
        if n == 0 {
            return;
        }
        let i = BOUNDS_MICROS
            .iter()
            .position(|&b| micros <= b)
            .unwrap_or(BOUNDS_MICROS.len());
        self.buckets[i].fetch_add(n, Relaxed);
        self.sum_micros.fetch_add(micros.saturating_mul(n), Relaxed);
        self.count.fetch_add(n, Relaxed);
    }

    /// Cumulative counts per bound (the last one is +Inf), the sum in microseconds and
    /// the count.
    pub fn snapshot(&self) -> ([u64; BOUNDS_MICROS.len() + 1], u64, u64) {
        let mut cumulative = [0u64; BOUNDS_MICROS.len() + 1];
        let mut running = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            running += b.load(Relaxed);
            cumulative[i] = running;
        }
        (
            cumulative,
            self.sum_micros.load(Relaxed),
            self.count.load(Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe_n(5, 2);
        h.observe_n(30, 1);
        h.observe_n(1_000_000, 1);
        let (c, sum, n) = h.snapshot();
        assert_eq!((c[0], c[1], c[2], c[13]), (2, 2, 3, 4));
        assert_eq!((sum, n), (10 + 30 + 1_000_000, 4));
    }
}

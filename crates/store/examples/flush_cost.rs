//! How long a batched flush of completed counts takes: `cargo run --release -p
//! shoal-store --example flush_cost`. Writes batches of 1k, 10k and 100k counts (new rows,
//! then deltas added to the same rows) into a fresh SQLite file and prints the time per batch
//! and per row.

use std::time::Instant;

use shoal_protocol::InfoHash;
use shoal_store::{CountStore, SqliteStore};

fn main() {
    let dir = std::env::temp_dir().join(format!("shoal-flush-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("bench.sqlite")).unwrap();
    let mut x = 0x1234_5678_9abc_def0u64;
    for n in [1_000usize, 10_000, 100_000] {
        let batch: Vec<(InfoHash, u64)> = (0..n)
            .map(|i| {
                let mut h = [0u8; 20];
                for c in h.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
                }
                (InfoHash(h), i as u64 + 1)
            })
            .collect();
        for pass in ["insert", "update"] {
            let t = Instant::now();
            store.add_completed(&batch).unwrap();
            let e = t.elapsed();
            println!(
                "{pass:6} {n:>7} counts: {:>8.2} ms, {:.2} µs per count",
                e.as_secs_f64() * 1e3,
                e.as_secs_f64() * 1e6 / n as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! What the content preview costs, on loopback (BENCHMARKS.md "Content preview").
//!
//! `cargo run --release -p shoal-catalog --example preview_bench -- [TORRENTS] [PIECE_KIB] [BUDGET_KIB]`
//!
//! TORRENTS torrents (default 200) of the payload (a 1 MiB video, a JPEG cover,
//! a CP1251 `.nfo`, a UTF-8 readme; each torrent's files its own), v1 with PIECE_KIB
//! pieces (default 16), each seeded by an in-process test seeder on 127.0.0.1 and
//! announced to a real `Engine`. A real catalog (resolver and previewer, default
//! limits but for dialing loopback) on a SQLite store resolves and previews them all,
//! with a disk budget of BUDGET_KIB (default: no eviction). Prints the time from each
//! torrent's stored metadata to its kept preview (p50, p90, p99, max), the bytes of
//! pieces fetched against the bytes of the files kept, and the kept files' disk use
//! against the budget with the evictions. Bounded: it gives up after 300 s.

#[path = "../tests/support/payload.rs"]
mod payload;

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use shoal_catalog::preview::PreviewConfig;
use shoal_engine::InfoHash;
use shoal_metainfo::Version;
use shoal_peer::PieceOptions;
use shoal_store::{CatalogStore, PreviewStore, SqliteStore};

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let (n, piece_kib, budget_kib) = (arg(1, 200) as usize, arg(2, 16), arg(3, 1 << 30));
    let dir = std::env::temp_dir().join(format!("shoal-preview-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let watch_path = dir.join("shoal.sqlite");
    let preview = PreviewConfig {
        disk_budget: budget_kib << 10,
        give_up_after: Duration::from_secs(600),
        session: PieceOptions::default(),
        ..payload::preview_config(&dir, 0)
    };
    let parts = payload::catalog(&dir, Some(preview));
    let watch = SqliteStore::open(&watch_path).unwrap();
    let mut hashes = Vec::new();
    for i in 0..n {
        let m = payload::made_with(
            &payload::files_with(i as u32 + 1),
            Version::V1,
            piece_kib << 10,
        );
        parts.seeder(&m, None);
        hashes.push(InfoHash(m.hash));
    }

    let (mut catalog, handle, _peers) = (parts.catalog, parts.handle, parts.peers);

    // Run the catalog as the node's schedule does, noting when each torrent's metadata
    // and then its preview reach the store.
    let started = Instant::now();
    let (mut resolved, mut previewed) = (HashMap::new(), HashMap::new());
    let mut last_prune = Instant::now();
    while previewed.len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not done in 300 s: {} of {n}",
            previewed.len()
        );
        catalog.take_notes();
        catalog.step();
        catalog.flush();
        if last_prune.elapsed() >= Duration::from_secs(5) {
            catalog.prune();
            last_prune = Instant::now();
        }
        let now = Instant::now();
        for h in watch.catalog_known(&hashes).unwrap() {
            resolved.entry(h).or_insert(now);
        }
        for h in watch.previewed(&hashes).unwrap() {
            previewed.entry(h).or_insert(now);
        }
        catalog.wait(Duration::from_millis(2));
    }
    let total = started.elapsed();
    let mut lag: Vec<f64> = hashes
        .iter()
        .map(|h| previewed[h].duration_since(resolved[h]).as_secs_f64() * 1000.0)
        .collect();
    lag.sort_by(f64::total_cmp);
    let at = |q: f64| lag[((lag.len() - 1) as f64 * q).round() as usize];
    let s = handle.preview_stats().unwrap();
    catalog.prune();
    let (disk, files) = watch.preview_usage().unwrap();
    let fetched = s.bytes_fetched.load(Relaxed);
    let shown = s.bytes_shown.load(Relaxed);
    println!("torrents {n}, pieces {piece_kib} KiB, disk budget {budget_kib} KiB, all previewed in {:.1} s", total.as_secs_f64());
    println!(
        "metadata -> preview ms: p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    println!(
        "bytes: fetched {fetched} ({} per torrent), kept originals {shown} ({} per torrent), fetched/kept {:.2}",
        fetched / n as u64,
        shown / n as u64,
        fetched as f64 / shown.max(1) as f64
    );
    println!(
        "disk: {disk} bytes in {files} files (budget {}), evicted {}, pieces verified {}, failed {}",
        budget_kib << 10,
        s.evicted.load(Relaxed),
        s.pieces_verified.load(Relaxed),
        s.pieces_failed.load(Relaxed)
    );
    drop(catalog);
    let _ = std::fs::remove_dir_all(&dir);
}

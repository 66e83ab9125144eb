//! Timing searches: each kind's requests on one thread, then on several at once;
//! percentiles; the process's peak memory; sizes on disk.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shoal_index::LiveCounts;
use shoal_search::request::SearchRequest;

use crate::queries::QuerySet;

/// What one search returned, for checks across engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Matches in all (`Results::total`).
    pub total: u64,
    /// Whether `total` is exact.
    pub exact: bool,
    /// Hits on the page.
    pub hits: usize,
    /// Of the time, spent counting matches in a separate statement (FTS5; tantivy
    /// counts while it collects).
    pub count: Duration,
}

/// One engine as one thread uses it.
pub trait Session {
    /// Runs one search.
    fn search(&mut self, req: &SearchRequest) -> Result<Outcome, String>;
}

/// Swarms' live counts: ~20 % of the catalog has a swarm.
pub type LiveMap = HashMap<[u8; 20], LiveCounts>;

/// Counts for the torrents whose hash picks them (one in five), skewed like swarms:
/// most small, a few large.
pub fn live_map<'a>(hashes: impl Iterator<Item = &'a [u8; 20]>) -> LiveMap {
    hashes
        .filter(|h| u16::from_be_bytes([h[0], h[1]]) % 5 == 0)
        .map(|h| {
            let u = (f64::from(u16::from_be_bytes([h[2], h[3]])) + 1.0) / 65_536.0;
            let seeders = (u.powf(-1.3) as u32).min(50_000);
            let leechers = seeders * u32::from(h[4] % 8) / 4;
            let completed = u64::from(seeders) * (5 + u64::from(h[5] % 50));
            (
                *h,
                LiveCounts {
                    seeders,
                    leechers,
                    completed,
                },
            )
        })
        .collect()
}

/// Percentile `p` (0..=100) of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Latencies of one kind at one concurrency.
#[derive(Debug, Clone)]
pub struct KindResult {
    /// The kind's name.
    pub kind: &'static str,
    /// Threads searching at once.
    pub threads: usize,
    /// Searches timed.
    pub searches: usize,
    /// Microseconds per search, whole search (sorted).
    pub us: Vec<u64>,
    /// Microseconds per search without the separate count (sorted).
    pub us_page: Vec<u64>,
    /// Searches per second over the run (all threads).
    pub per_second: f64,
    /// Mean matches.
    pub mean_total: f64,
    /// Searches that failed.
    pub errors: usize,
}

impl KindResult {
    /// The row as JSON.
    pub fn json(&self) -> Value {
        let p = |v: &[u64]| {
            json!({
                "p50_ms": percentile_ms(v, 50.0),
                "p95_ms": percentile_ms(v, 95.0),
                "p99_ms": percentile_ms(v, 99.0),
                "max_ms": percentile_ms(v, 100.0),
            })
        };
        json!({
            "kind": self.kind,
            "threads": self.threads,
            "searches": self.searches,
            "latency": p(&self.us),
            "latency_without_count": p(&self.us_page),
            "searches_per_second": self.per_second,
            "mean_total": self.mean_total,
            "errors": self.errors,
        })
    }
}

/// One timed search: its request's place, µs in all, µs without the count, outcome.
type Timed = (usize, u64, u64, Option<Outcome>);

/// Runs every request of `set` on `threads` threads at once (each thread all of them,
/// starting at a different place), after `warmup` untimed ones.
pub fn run_kind<'a>(
    set: &QuerySet,
    threads: usize,
    warmup: usize,
    session: &(dyn Fn() -> Box<dyn Session + 'a> + Sync),
) -> (KindResult, Vec<Option<Outcome>>) {
    let n = set.requests.len();
    let mut first = session();
    for r in set.requests.iter().take(warmup) {
        let _ = first.search(r);
    }
    drop(first);
    let started = Instant::now();
    let per_thread: Vec<Vec<Timed>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut sess = session();
                    let mut out = Vec::with_capacity(n);
                    for k in 0..n {
                        let i = (k + t * n / threads) % n;
                        let t0 = Instant::now();
                        let o = sess.search(&set.requests[i]);
                        let us = t0.elapsed().as_micros() as u64;
                        let o = o.ok();
                        let count = o.map_or(0, |o| o.count.as_micros() as u64);
                        out.push((i, us, us.saturating_sub(count), o));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let mut outcomes = vec![None; n];
    let (mut us, mut us_page) = (Vec::new(), Vec::new());
    let (mut errors, mut totals, mut ok) = (0, 0u64, 0u64);
    for rows in per_thread {
        for (i, a, b, o) in rows {
            us.push(a);
            us_page.push(b);
            match o {
                Some(o) => {
                    totals += o.total;
                    ok += 1;
                    outcomes[i] = Some(o);
                }
                None => errors += 1,
            }
        }
    }
    us.sort_unstable();
    us_page.sort_unstable();
    let searches = us.len();
    (
        KindResult {
            kind: set.kind.key(),
            threads,
            searches,
            us,
            us_page,
            per_second: searches as f64 / wall.max(1e-9),
            mean_total: totals as f64 / ok.max(1) as f64,
            errors,
        },
        outcomes,
    )
}

/// The process's peak resident memory (VmHWM), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The largest anonymous and file-backed resident memory (KiB) seen while it runs,
/// sampled every 20 ms: VmHWM alone does not say whether a peak is heap or mapped index
/// files the page cache would share.
pub struct MemoryWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

/// Anonymous and file-backed resident memory now, KiB.
pub fn rss_parts() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((
        field("RssAnon:")?,
        field("RssFile:")? + field("RssShmem:").unwrap_or(0),
    ))
}

impl MemoryWatch {
    /// Starts sampling.
    pub fn start() -> MemoryWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = (0, 0);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some((a, f)) = rss_parts() {
                    peak = (peak.0.max(a), peak.1.max(f));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        MemoryWatch { stop, thread }
    }

    /// Stops sampling: the peak anonymous and file-backed KiB.
    pub fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Bytes of the files under `path` (a file or a directory).
pub fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
        .unwrap_or(0)
}

/// Reads every file under `path` once, so searches start with it in the page cache.
pub fn warm_page_cache(path: &Path) {
    if path.is_dir() {
        if let Ok(d) = std::fs::read_dir(path) {
            for e in d.flatten() {
                warm_page_cache(&e.path());
            }
        }
    } else if let Ok(mut f) = std::fs::File::open(path) {
        let _ = std::io::copy(&mut f, &mut std::io::sink());
    }
}

//! The figures that need a walk over every torrent (totals, peers by network and by
//! client, the busiest torrents) are computed on their own thread and served from the
//! last result, so no request ever walks the swarm table: a client polling `/metrics`,
//! `/api/torrents` or the dashboard in a loop costs a copy, not a scan.
//!
//! The thread refreshes every [`REFRESH`] while someone has asked within [`WATCHED`],
//! and every [`IDLE_REFRESH`] otherwise, so figures are at most that old.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use shoal_engine::summary::{Summary, TopBy};
use shoal_engine::{Engine, InfoHash, SwarmStats};

/// How often figures are recomputed while they are being looked at.
pub const REFRESH: Duration = Duration::from_secs(2);
/// How long after the last request figures count as looked at.
pub const WATCHED: Duration = Duration::from_secs(60);
/// How often figures are recomputed when nobody looks.
pub const IDLE_REFRESH: Duration = Duration::from_secs(30);
/// Torrents kept per ordering: the largest list the API and pages serve.
pub const TOP: usize = 1000;

/// One refresh's figures.
#[derive(Debug)]
pub struct View {
    /// When they were computed.
    pub at: Instant,
    /// The engine walk.
    pub summary: Summary,
    /// WebTorrent swarm totals.
    pub webtorrent: shoal_engine::webtorrent::WsStats,
    /// Requests answered so far: UDP, HTTP, WebTorrent.
    pub requests: [u64; 3],
    /// Requests per second between the previous refresh and this one.
    pub rates: [f64; 3],
    /// `summary.top` rendered as JSON objects, one string per torrent.
    top_json: [Vec<Box<str>>; 4],
    /// Names and sizes of the busiest torrents the catalog knows.
    pub names: std::collections::HashMap<InfoHash, (String, u64)>,
}

impl View {
    /// The first `limit` torrents by `by`, each as a JSON object.
    pub fn top_json(&self, by: TopBy, limit: usize) -> &[Box<str>] {
        let list = &self.top_json[TopBy::ALL.iter().position(|b| *b == by).unwrap_or(0)];
        &list[..limit.min(list.len())]
    }
}

/// A torrent's figures as the JSON API shows them.
pub fn torrent_json(h: &InfoHash, s: &SwarmStats) -> serde_json::Value {
    serde_json::json!({
        "info_hash": h.to_hex(),
        "seeders": s.seeders,
        "leechers": s.leechers,
        "peers": s.seeders + s.leechers,
        "completed": s.completed,
    })
}

/// What a refresh reads besides the engine.
pub trait Counters: Send + Sync + 'static {
    /// Requests answered so far: UDP, HTTP, WebTorrent.
    fn requests(&self) -> [u64; 3];
    /// WebTorrent swarm totals (zero when WebTorrent is off).
    fn webtorrent(&self) -> shoal_engine::webtorrent::WsStats;
    /// Name and size of those of these torrents the catalog knows (none without one).
    fn names(&self, hashes: &[InfoHash]) -> Vec<(InfoHash, String, u64)> {
        let _ = hashes;
        Vec::new()
    }
}

/// The latest [`View`] and the refresh thread's controls.
pub struct Views {
    engine: Arc<Engine>,
    counters: Box<dyn Counters>,
    started: Instant,
    current: Mutex<Arc<View>>,
    /// Milliseconds since `started` of the last request.
    asked: AtomicU64,
    stop: AtomicBool,
    wake: (Mutex<()>, Condvar),
}

impl Views {
    /// Computes the first view at once (so nothing ever waits for one).
    pub fn new(engine: Arc<Engine>, counters: Box<dyn Counters>, started: Instant) -> Self {
        let first = compute(&engine, &*counters, None, started);
        Views {
            engine,
            counters,
            started,
            current: Mutex::new(Arc::new(first)),
            asked: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
        }
    }

    /// The latest figures; marks them as being looked at.
    pub fn get(&self) -> Arc<View> {
        self.asked
            .store(self.started.elapsed().as_millis() as u64, Relaxed);
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Recomputes now (the refresh thread's work; tests call it directly).
    pub fn refresh(&self) {
        let previous = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let next = compute(&self.engine, &*self.counters, Some(&previous), self.started);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// Runs the refresh loop on a thread of its own until [`Views::stop`].
    pub fn spawn(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let views = self.clone();
        std::thread::Builder::new()
            .name("shoal-views".into())
            .spawn(move || views.run())
    }

    /// Ends the refresh loop.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
        let _guard = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.1.notify_all();
    }

    fn run(&self) {
        let mut last = Instant::now();
        loop {
            {
                let guard = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
                if self.stop.load(Relaxed) {
                    return;
                }
                let _ = self.wake.1.wait_timeout(guard, REFRESH);
            }
            if self.stop.load(Relaxed) {
                return;
            }
            let now_ms = self.started.elapsed().as_millis() as u64;
            let watched = now_ms.saturating_sub(self.asked.load(Relaxed))
                < WATCHED.as_millis() as u64
                && self.asked.load(Relaxed) > 0;
            if watched || last.elapsed() >= IDLE_REFRESH {
                self.refresh();
                last = Instant::now();
            }
        }
    }
}

fn compute(
    engine: &Engine,
    counters: &dyn Counters,
    previous: Option<&View>,
    started: Instant,
) -> View {
    let summary = engine.summary(TOP);
    let webtorrent = counters.webtorrent();
    let requests = counters.requests();
    let at = Instant::now();
    let (since, before) = match previous {
        Some(p) => (at.duration_since(p.at), p.requests),
        None => (at.duration_since(started), [0; 3]),
    };
    let secs = since.as_secs_f64().max(1e-3);
    let mut busiest: Vec<InfoHash> = TopBy::ALL
        .iter()
        .flat_map(|by| summary.top(*by, TOP).iter().map(|(h, _)| *h))
        .collect();
    busiest.sort_unstable();
    busiest.dedup();
    let names: std::collections::HashMap<InfoHash, (String, u64)> = counters
        .names(&busiest)
        .into_iter()
        .map(|(h, name, size)| (h, (name, size)))
        .collect();
    let top_json = TopBy::ALL.map(|by| {
        summary
            .top(by, TOP)
            .iter()
            .map(|(h, s)| {
                let mut v = torrent_json(h, s);
                if let Some((name, size)) = names.get(h) {
                    v["name"] = name.as_str().into();
                    v["size"] = (*size).into();
                }
                v.to_string().into_boxed_str()
            })
            .collect()
    });
    View {
        top_json,
        names,
        at,
        summary,
        webtorrent,
        requests,
        rates: [0, 1, 2].map(|i| requests[i].saturating_sub(before[i]) as f64 / secs),
    }
}

//! The queue of torrents to resolve and the fetches in flight.
//!
//! The [`Resolver`] is driven by the catalog thread: [`Resolver::queue`] takes new
//! info-hashes, [`Resolver::dispatch`] starts fetches for those due (a few peers each,
//! seeders first, every address checked by the dial policy and limits), and
//! [`Resolver::collect`] takes what finished: verified info dictionaries, or failures
//! that schedule a retry with exponential backoff until the tries run out. A torrent
//! whose swarm has had no peers for `forget_after` is forgotten. Everything is
//! bounded: the queue by `max_pending`, fetches by `max_concurrent`, connections by
//! `max_connections`, the peers remembered as bad per torrent by [`MAX_BAD_PEERS`].
//!
//! Fetching itself is a [`Fetcher`]'s (the peer-wire driver in production); it runs on
//! the tokio runtime whose handle the resolver is given, and reports back through a
//! channel, so the resolver's own methods never wait.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_engine::{Engine, InfoHash};

use crate::dial::{DialLimits, DialPolicy, Refusal};
use crate::stats::CatalogStats;

/// Most peers remembered per torrent as having sent bad data (never asked again).
pub const MAX_BAD_PEERS: usize = 16;

/// What one fetch from one peer gives: the info dictionary, checked against the
/// info-hash, or why it failed (a label of [`crate::stats::FAILURE_REASONS`]).
pub type FetchResult = Result<Vec<u8>, &'static str>;

/// A fetch in progress.
pub type FetchFuture = Pin<Box<dyn Future<Output = FetchResult> + Send>>;

/// Fetches a torrent's metadata from one peer.
pub trait Fetcher: Send + Sync + 'static {
    /// Dials `peer` and fetches the info dictionary of `info_hash`, verified.
    fn fetch(&self, peer: SocketAddr, info_hash: InfoHash) -> FetchFuture;
}

/// The resolver's rules.
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// Torrents fetched at once.
    pub max_concurrent: usize,
    /// Peers tried at once per torrent.
    pub peers_per_torrent: usize,
    /// Outgoing connections open at once, over all torrents.
    pub max_connections: usize,
    /// Tries per torrent before it is given up.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub retry_base: Duration,
    /// Longest wait between tries.
    pub retry_max: Duration,
    /// Time without peers after which an unresolved torrent is forgotten.
    pub forget_after: Duration,
    /// Most torrents waiting.
    pub max_pending: usize,
    /// Dials per peer address per minute.
    pub dials_per_address_per_minute: u32,
    /// Which addresses may be dialed.
    pub policy: DialPolicy,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            max_concurrent: 32,
            peers_per_torrent: 2,
            max_connections: 64,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            forget_after: Duration::from_secs(3600),
            max_pending: 200_000,
            dials_per_address_per_minute: 6,
            policy: DialPolicy::default(),
        }
    }
}

/// A torrent waiting for a try.
struct Pending {
    attempts: u32,
    next_try: Instant,
    /// Unix seconds and instant of its first note.
    first_seen: u64,
    noted: Instant,
    /// Last time its swarm had a peer the resolver could use.
    last_peers: Instant,
    bad: Vec<SocketAddr>,
    /// Peers asked before (the latest [`MAX_TRIED`]): asked again only after the others.
    tried: Vec<SocketAddr>,
    /// Peers in its swarm at the last try.
    swarm: u32,
}

/// A torrent whose tries ran out, kept to be tried again if its swarm grows.
struct GivenUp {
    info_hash: InfoHash,
    at: Instant,
    swarm: u32,
    first_seen: u64,
    noted: Instant,
}

/// How soon a torrent whose peers were all busy is tried again.
pub const BUSY_RETRY: Duration = Duration::from_millis(200);

/// Most peers remembered per torrent as asked before.
pub const MAX_TRIED: usize = 32;

/// A torrent being fetched: its pending record and the peers still being tried.
struct InFlight {
    pending: Pending,
    peers: Vec<SocketAddr>,
    bad_data: Vec<SocketAddr>,
    swarm_size: u32,
}

/// One peer's fetch, finished.
struct Finished {
    info_hash: InfoHash,
    peer: SocketAddr,
    result: FetchResult,
}

/// A torrent whose info dictionary was fetched and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Its info dictionary, as the peer sent it (its hash is the info-hash).
    pub info: Vec<u8>,
    /// The peer that sent it.
    pub peer: SocketAddr,
    /// Unix seconds of the torrent's first note.
    pub first_seen: u64,
    /// When it was first noted (for the time-to-metadata histogram).
    pub noted: Instant,
    /// Peers in its swarm (seeders and leechers) when the try that resolved it began.
    pub source_peers: u32,
}

/// The queue, the fetches in flight and the dial limits.
pub struct Resolver {
    config: ResolverConfig,
    engine: Arc<Engine>,
    fetcher: Arc<dyn Fetcher>,
    runtime: tokio::runtime::Handle,
    stats: Arc<CatalogStats>,
    limits: DialLimits,
    pending: HashMap<InfoHash, Pending>,
    /// When each pending torrent is due; entries whose time no longer matches the
    /// torrent's `next_try` are stale and skipped.
    due: BinaryHeap<Reverse<(Instant, InfoHash)>>,
    in_flight: HashMap<InfoHash, InFlight>,
    /// Torrents given up, oldest first (at most `max_pending`).
    given_up: std::collections::VecDeque<GivenUp>,
    tx: Sender<Finished>,
    rx: Receiver<Finished>,
    peers: Vec<SocketAddr>,
}

impl Resolver {
    /// An empty resolver; fetches run on `runtime`.
    pub fn new(
        config: ResolverConfig,
        engine: Arc<Engine>,
        fetcher: Arc<dyn Fetcher>,
        runtime: tokio::runtime::Handle,
        stats: Arc<CatalogStats>,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        Resolver {
            limits: DialLimits::new(config.dials_per_address_per_minute, 100_000),
            config,
            engine,
            fetcher,
            runtime,
            stats,
            pending: HashMap::new(),
            due: BinaryHeap::new(),
            in_flight: HashMap::new(),
            given_up: std::collections::VecDeque::new(),
            tx,
            rx,
            peers: Vec::new(),
        }
    }

    /// Whether `h` is waiting or being fetched.
    pub fn contains(&self, h: &InfoHash) -> bool {
        self.pending.contains_key(h) || self.in_flight.contains_key(h)
    }

    /// Torrents waiting, and being fetched.
    pub fn len(&self) -> (usize, usize) {
        (self.pending.len(), self.in_flight.len())
    }

    /// Queues torrents the catalog does not hold (first try at once); those already
    /// queued are left as they are, and past `max_pending` new ones are dropped.
    pub fn queue(&mut self, hashes: &[InfoHash], now: Instant, unix: u64) {
        for h in hashes {
            if self.contains(h) {
                continue;
            }
            if self.pending.len() >= self.config.max_pending {
                self.stats.dropped.fetch_add(1, Relaxed);
                continue;
            }
            self.pending.insert(
                *h,
                Pending {
                    attempts: 0,
                    next_try: now,
                    first_seen: unix,
                    noted: now,
                    last_peers: now,
                    bad: Vec::new(),
                    tried: Vec::new(),
                    swarm: 0,
                },
            );
            self.due.push(Reverse((now, *h)));
        }
        self.publish();
    }

    /// Forgets a torrent (it was resolved elsewhere, or removed), waiting or being
    /// fetched: fetches in flight run out on their own, and what they bring is dropped
    /// (their connections are released as usual).
    pub fn forget(&mut self, h: &InfoHash) {
        self.pending.remove(h);
        self.in_flight.remove(h);
        self.publish();
    }

    /// Starts fetches for the torrents that are due, while there is room.
    pub fn dispatch(&mut self, now: Instant) {
        while self.in_flight.len() < self.config.max_concurrent
            && self.limits.open() < self.config.max_connections
        {
            let Some(Reverse((at, h))) = self.due.peek().copied() else {
                break;
            };
            if at > now {
                break;
            }
            self.due.pop();
            let Some(p) = self.pending.get(&h) else {
                continue; // forgotten or in flight
            };
            if p.next_try != at {
                continue; // a stale entry: the torrent was rescheduled
            }
            let p = self.pending.remove(&h).expect("just seen");
            self.start(h, p, now);
        }
        self.publish();
    }

    /// Picks peers for `h` and starts fetching from them, or puts it back.
    fn start(&mut self, h: InfoHash, mut p: Pending, now: Instant) {
        // More candidates than needed: some may be refused, known bad or asked before.
        let want = (self.config.peers_per_torrent * 4 + p.bad.len() + p.tried.len()).min(256);
        self.engine.sample_peers(&h, want, &mut self.peers);
        // The whole swarm, not the few peers sampled.
        let swarm_size = if self.peers.is_empty() {
            0
        } else {
            let s = self.engine.scrape(&h);
            s.seeders.saturating_add(s.leechers)
        };
        p.swarm = swarm_size;
        // Peers not asked before first (seeders first among each), so a retry reaches
        // new peers rather than the ones that just failed.
        let tried = &p.tried;
        self.peers.sort_by_key(|peer| tried.contains(peer));
        let mut busy = false;
        if !self.peers.is_empty() {
            p.last_peers = now;
        } else if now.duration_since(p.last_peers) >= self.config.forget_after {
            self.stats.forgotten.fetch_add(1, Relaxed);
            return;
        }
        let mut started = Vec::new();
        for &peer in &self.peers {
            if started.len() >= self.config.peers_per_torrent
                || self.limits.open() >= self.config.max_connections
            {
                break;
            }
            if p.bad.contains(&peer) {
                continue;
            }
            if let Err(r) = self
                .config
                .policy
                .check(peer)
                .and_then(|()| self.limits.take(peer, now))
            {
                // A busy peer (fetching another torrent for us now) is a short wait,
                // not a refusal: a peer seeding many torrents serves them one by one.
                if r == Refusal::Busy {
                    busy = true;
                } else {
                    self.stats.refuse(r);
                }
                continue;
            }
            let (tx, fetch) = (self.tx.clone(), self.fetcher.fetch(peer, h));
            self.runtime.spawn(async move {
                let result = fetch.await;
                let _ = tx.send(Finished {
                    info_hash: h,
                    peer,
                    result,
                });
            });
            started.push(peer);
        }
        for peer in &started {
            remember(&mut p.tried, *peer, MAX_TRIED);
        }
        if started.is_empty() {
            if busy || self.limits.open() >= self.config.max_connections {
                // Its peers are busy, or every connection is: try again shortly.
                p.next_try = now + BUSY_RETRY;
                self.due.push(Reverse((p.next_try, h)));
                self.pending.insert(h, p);
            } else {
                // Nobody to ask now: wait as after a failed try, without spending one.
                self.reschedule(h, p, now, false);
            }
            return;
        }
        self.stats
            .connections
            .store(self.limits.open() as u64, Relaxed);
        self.in_flight.insert(
            h,
            InFlight {
                pending: p,
                peers: started,
                bad_data: Vec::new(),
                swarm_size,
            },
        );
    }

    /// Puts `h` back in the queue after a backoff (counting a try when `spent`), or
    /// gives it up when its tries are spent.
    fn reschedule(&mut self, h: InfoHash, mut p: Pending, now: Instant, spent: bool) {
        if spent {
            p.attempts += 1;
            if p.attempts >= self.config.max_attempts {
                self.stats.gave_up.fetch_add(1, Relaxed);
                if self.given_up.len() >= self.config.max_pending {
                    self.given_up.pop_front();
                }
                self.given_up.push_back(GivenUp {
                    info_hash: h,
                    at: now,
                    swarm: p.swarm,
                    first_seen: p.first_seen,
                    noted: p.noted,
                });
                return;
            }
        }
        let factor = 1u32
            .checked_shl(p.attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let wait = self
            .config
            .retry_base
            .saturating_mul(factor)
            .min(self.config.retry_max);
        p.next_try = now + wait;
        self.due.push(Reverse((p.next_try, h)));
        self.pending.insert(h, p);
    }

    /// Takes finished fetches: verified info dictionaries go to `out`; a torrent all of
    /// whose peers failed is rescheduled.
    pub fn collect(&mut self, now: Instant, out: &mut Vec<Resolved>) {
        while let Ok(f) = self.rx.try_recv() {
            let closed_on_us = matches!(f.result, Err("closed" | "handshake"));
            self.limits.done(f.peer, now, closed_on_us);
            let Some(fl) = self.in_flight.get_mut(&f.info_hash) else {
                continue; // a peer that finished after another one resolved the torrent
            };
            fl.peers.retain(|p| *p != f.peer);
            match f.result {
                Ok(info) => {
                    let fl = self.in_flight.remove(&f.info_hash).expect("just found");
                    out.push(Resolved {
                        info_hash: f.info_hash,
                        info,
                        peer: f.peer,
                        first_seen: fl.pending.first_seen,
                        noted: fl.pending.noted,
                        source_peers: fl.swarm_size,
                    });
                }
                Err(reason) => {
                    self.stats.fail(reason);
                    if reason == "bad_data" {
                        fl.bad_data.push(f.peer);
                    }
                    if fl.peers.is_empty() {
                        let mut fl = self.in_flight.remove(&f.info_hash).expect("just found");
                        for peer in fl.bad_data.drain(..) {
                            remember(&mut fl.pending.bad, peer, MAX_BAD_PEERS);
                        }
                        self.reschedule(f.info_hash, fl.pending, now, true);
                    }
                }
            }
        }
        self.stats
            .connections
            .store(self.limits.open() as u64, Relaxed);
        self.publish();
    }

    /// Puts a resolved torrent back: what `peer` sent verified but could not be read
    /// (the catalog refuses it), so that peer is not asked again.
    pub fn unusable(&mut self, r: &Resolved, now: Instant) {
        // The dictionary matched the info-hash, so every honest peer sends the same
        // bytes: asking again would fetch it again for nothing. Given up at once (a new
        // swarm for the torrent is noted afresh).
        let _ = now;
        self.stats.fail("unreadable");
        self.stats.gave_up.fetch_add(1, Relaxed);
        let _ = r;
    }

    /// Looks again at up to `budget` torrents given up at least `retry_max` ago: one
    /// whose swarm has grown since is queued for a new round of tries (new peers may
    /// answer where the old ones did not), one whose swarm is gone is dropped (a new
    /// swarm is noted afresh), the others wait another `retry_max`.
    pub fn revisit(&mut self, now: Instant, budget: usize) {
        for _ in 0..budget.min(self.given_up.len()) {
            let Some(g) = self.given_up.front() else {
                break;
            };
            if now.saturating_duration_since(g.at) < self.config.retry_max {
                break;
            }
            let mut g = self.given_up.pop_front().expect("just seen");
            let s = self.engine.scrape(&g.info_hash);
            let swarm = s.seeders + s.leechers;
            if swarm == 0 || self.contains(&g.info_hash) {
                continue;
            }
            if swarm > g.swarm && self.pending.len() < self.config.max_pending {
                self.stats.revisited.fetch_add(1, Relaxed);
                self.pending.insert(
                    g.info_hash,
                    Pending {
                        attempts: 0,
                        next_try: now,
                        first_seen: g.first_seen,
                        noted: g.noted,
                        last_peers: now,
                        bad: Vec::new(),
                        tried: Vec::new(),
                        swarm,
                    },
                );
                self.due.push(Reverse((now, g.info_hash)));
            } else {
                g.at = now;
                g.swarm = swarm;
                self.given_up.push_back(g);
            }
        }
        self.publish();
    }

    /// Takes a dial to `peer` for another of the catalog's clients (the preview), under
    /// the resolver's own rules: the dial policy, the per-address limits and the cap on
    /// open connections. Release it with [`Resolver::dialed`].
    pub fn dial(&mut self, peer: SocketAddr, now: Instant) -> Result<(), Refusal> {
        if self.limits.open() >= self.config.max_connections {
            return Err(Refusal::Busy);
        }
        let taken = self
            .config
            .policy
            .check(peer)
            .and_then(|()| self.limits.take(peer, now));
        match taken {
            Err(r) if r != Refusal::Busy => self.stats.refuse(r),
            Err(_) => {}
            Ok(()) => self
                .stats
                .connections
                .store(self.limits.open() as u64, Relaxed),
        }
        taken
    }

    /// A connection [`Resolver::dial`] allowed ended (`closed_on_us`: the peer closed it
    /// before we were done).
    pub fn dialed(&mut self, peer: SocketAddr, now: Instant, closed_on_us: bool) {
        self.limits.done(peer, now, closed_on_us);
        self.stats
            .connections
            .store(self.limits.open() as u64, Relaxed);
    }

    /// Forgets dial-rate records older than a minute.
    pub fn sweep(&mut self, now: Instant) {
        self.limits.sweep(now);
    }

    fn publish(&self) {
        self.stats.pending.store(self.pending.len() as u64, Relaxed);
        self.stats
            .in_flight
            .store(self.in_flight.len() as u64, Relaxed);
    }
}

/// Adds `peer` to a torrent's list of peers, keeping at most `max` (the latest).
fn remember(list: &mut Vec<SocketAddr>, peer: SocketAddr, max: usize) {
    if !list.contains(&peer) {
        if list.len() >= max {
            list.remove(0);
        }
        list.push(peer);
    }
}

#[cfg(test)]
mod tests;

//! The catalog against hostile peers, end to end below the node: a real `Engine` noting
//! new torrents, the real `PeerFetcher` dialing `shoal_peer::testing` peers on
//! 127.0.0.1, a real `SqliteStore` in a temp dir, and a `Catalog` driven by hand
//! (`take_notes`, `step`, `flush`, `wait`) with short deadlines.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_catalog::dial::DialPolicy;
use shoal_catalog::fetcher::PeerFetcher;
use shoal_catalog::resolver::{FetchFuture, Fetcher, ResolverConfig};
use shoal_catalog::stats::{CatalogStats, FAILURE_REASONS, REFUSAL_REASONS};
use shoal_catalog::{Catalog, CatalogConfig, CatalogHandle};
use shoal_engine::{
    Announce, AnnounceEvent, Engine, EngineConfig, InfoHash, PeerAddrV4, PeerAddrV6, PeerId, Secs,
};
use shoal_peer::testing::{info_dict, sha1, start, start_at, Peer};
use shoal_peer::FetchOptions;
use shoal_store::{CatalogStore, SqliteStore};

/// Idle and total deadlines of one fetch (a peer dripping bytes is given up by the first,
/// one sending slowly but steadily by the second), and the first retry's wait.
const IDLE: Duration = Duration::from_millis(500);
const TOTAL: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(100);

/// One fetch from one peer as the fetcher saw it: the peer, its failure reason (None:
/// it gave an info dict) and how long it took.
type Attempt = (SocketAddr, Option<&'static str>, Duration);

/// The real fetcher, timing each fetch.
struct Timed {
    inner: PeerFetcher,
    log: Arc<Mutex<Vec<Attempt>>>,
}

impl Fetcher for Timed {
    fn fetch(&self, peer: SocketAddr, info_hash: InfoHash) -> FetchFuture {
        let fetch = self.inner.fetch(peer, info_hash);
        let log = self.log.clone();
        Box::pin(async move {
            let t = Instant::now();
            let r = fetch.await;
            let reason = r.as_ref().err().copied();
            log.lock().unwrap().push((peer, reason, t.elapsed()));
            r
        })
    }
}

struct Rig {
    catalog: Catalog,
    handle: CatalogHandle,
    engine: Arc<Engine>,
    log: Arc<Mutex<Vec<Attempt>>>,
    /// Runs the test peers (apart from the catalog's own runtime).
    peers: tokio::runtime::Runtime,
    dir: PathBuf,
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("shoal-catalog-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn resolver_config(allow_private: bool) -> ResolverConfig {
    ResolverConfig {
        max_concurrent: 8,
        // One peer a try, so which peer is asked when is known.
        peers_per_torrent: 1,
        max_connections: 16,
        max_attempts: 8,
        retry_base: RETRY,
        retry_max: Duration::from_millis(400),
        forget_after: Duration::from_secs(60),
        max_pending: 1000,
        // Every test peer is on 127.0.0.1.
        dials_per_address_per_minute: 600,
        policy: DialPolicy {
            allow_private,
            allow: Vec::new(),
        },
    }
}

impl Rig {
    fn new(tag: &str, config: CatalogConfig) -> Rig {
        let dir = temp_dir(tag);
        let engine = Arc::new(Engine::new(
            EngineConfig {
                note_new_torrents: true,
                ..EngineConfig::default()
            },
            7,
        ));
        let store = SqliteStore::open(&dir.join("shoal.sqlite")).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let fetcher = Timed {
            inner: PeerFetcher {
                options: FetchOptions {
                    peer_id: *b"-SH0100-hostiletest0",
                    connect_timeout: Duration::from_secs(1),
                    idle_timeout: IDLE,
                    total_timeout: TOTAL,
                    max_metadata_size: 8 << 20,
                },
            },
            log: log.clone(),
        };
        let (catalog, handle) =
            Catalog::new(config, engine.clone(), Box::new(store), Arc::new(fetcher)).unwrap();
        let peers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Rig {
            catalog,
            handle,
            engine,
            log,
            peers,
            dir,
        }
    }

    /// Starts a test peer for `hash`.
    fn peer(&self, hash: [u8; 20], peer: Peer) -> SocketAddr {
        self.peers.block_on(start(hash, peer))
    }

    /// Announces `addr` in `hash`'s swarm, as a seeder or a leecher.
    fn announce(&self, hash: [u8; 20], addr: SocketAddr, seeder: bool) {
        fn make<A>(hash: [u8; 20], peer: A, addr: SocketAddr, seeder: bool) -> Announce<A> {
            Announce {
                info_hash: InfoHash(hash),
                peer,
                peer_id: PeerId(sha1(addr.to_string().as_bytes())),
                event: AnnounceEvent::Started,
                left: if seeder { 0 } else { 1000 },
                num_want: Some(0),
                paused: false,
            }
        }
        match addr.ip() {
            IpAddr::V4(ip) => {
                let a = make(hash, PeerAddrV4::new(ip, addr.port()), addr, seeder);
                self.engine.announce(&a, Secs(1), &mut Vec::new());
            }
            IpAddr::V6(ip) => {
                let a = make(hash, PeerAddrV6::new(ip, addr.port()), addr, seeder);
                self.engine.announce(&a, Secs(1), &mut Vec::new());
            }
        }
    }

    fn stats(&self) -> &CatalogStats {
        self.handle.stats()
    }

    /// Runs the catalog's jobs as the node's schedule does (notes, fetch, write, answer
    /// questions) until `done` holds; panics after `limit`. Returns the time taken.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&CatalogStats) -> bool) -> Duration {
        let t = Instant::now();
        loop {
            self.catalog.take_notes();
            self.catalog.step();
            self.catalog.flush();
            if done(self.handle.stats()) {
                return t.elapsed();
            }
            assert!(
                t.elapsed() < limit,
                "not done within {limit:?}: failures {:?}, refusals {:?}, attempts {:?}",
                failures(self.stats()),
                refusals(self.stats()),
                self.log.lock().unwrap()
            );
            self.catalog.wait(Duration::from_millis(10));
        }
    }

    /// Runs the catalog for `d` whatever happens.
    fn run_for(&mut self, d: Duration) {
        let t = Instant::now();
        self.run_until(d + Duration::from_secs(1), |_| t.elapsed() >= d);
    }

    /// Asks the catalog through its handle from another thread, as the API does, while
    /// this one answers.
    fn ask<T: Send>(&mut self, f: impl FnOnce(&CatalogHandle) -> T + Send) -> T {
        let (catalog, handle) = (&mut self.catalog, &self.handle);
        std::thread::scope(|s| {
            let asking = s.spawn(|| f(handle));
            while !asking.is_finished() {
                catalog.wait(Duration::from_millis(5));
            }
            asking.join().unwrap()
        })
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Failures by reason, only those counted.
fn failures(s: &CatalogStats) -> Vec<(&'static str, u64)> {
    FAILURE_REASONS
        .iter()
        .copied()
        .zip(s.failures())
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn refusals(s: &CatalogStats) -> Vec<(&'static str, u64)> {
    REFUSAL_REASONS
        .iter()
        .copied()
        .zip(s.refusals())
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn config(allow_private: bool) -> CatalogConfig {
    CatalogConfig {
        resolver: resolver_config(allow_private),
        max_entries: 0,
        deny_words: Vec::new(),
        max_metadata_bytes: 8 << 20,
        preview: None,
    }
}

fn resolved(n: u64) -> impl Fn(&CatalogStats) -> bool {
    move |s| s.resolved.load(std::sync::atomic::Ordering::Relaxed) >= n
}

fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn hostile_seeders_are_abandoned_by_reason_and_the_honest_leecher_resolves_it() {
    let mut rig = Rig::new("hostile", config(true));
    let info = info_dict("the honest torrent", 3);
    let hash = sha1(&info);
    let fake = info_dict("a fake torrent", 3);
    // Every hostile peer announces itself as a seeder, so it is tried before the honest
    // leecher; with one peer a try, it takes six tries to reach it.
    let hostile = [
        (Peer::Honest { info: fake }, "bad_data"),
        (Peer::Huge, "too_large"),
        (Peer::Drip, "stalled"),
        (Peer::Rejects { info: info.clone() }, "rejected"),
        (Peer::ClosesMidPiece { info: info.clone() }, "closed"),
    ];
    let mut expect = Vec::new();
    for (p, reason) in hostile {
        let addr = rig.peer(hash, p);
        rig.announce(hash, addr, true);
        expect.push((addr, reason));
    }
    let honest = rig.peer(hash, Peer::Honest { info: info.clone() });
    rig.announce(hash, honest, false);

    let took = rig.run_until(Duration::from_secs(15), resolved(1));
    let attempts = rig.attempts();
    eprintln!("resolved in {took:?}; attempts: {attempts:?}");

    // Each hostile peer was asked (once: it was not asked again while others were
    // left), failed with its reason, within its deadline.
    for (addr, reason) in &expect {
        let mine: Vec<_> = attempts.iter().filter(|a| a.0 == *addr).collect();
        assert_eq!(mine.len(), 1, "{addr} ({reason}): {mine:?}");
        let (_, got, took) = mine[0];
        assert_eq!(got, &Some(*reason), "{addr}");
        let limit = match *reason {
            "stalled" => IDLE,
            _ => Duration::ZERO,
        } + Duration::from_millis(400);
        assert!(*took <= limit, "{reason} took {took:?}, over {limit:?}");
        if *reason == "stalled" {
            assert!(*took >= IDLE, "stalled before the idle deadline: {took:?}");
        }
    }
    // The honest leecher gave it, last.
    let last = attempts.last().unwrap();
    assert_eq!((last.0, last.1), (honest, None));
    // Counted by reason, once each.
    let mut want: Vec<_> = expect.iter().map(|(_, r)| (*r, 1)).collect();
    want.sort_by_key(|(r, _)| FAILURE_REASONS.iter().position(|x| x == r));
    assert_eq!(failures(rig.stats()), want);
    assert_eq!(get(&rig.stats().gave_up), 0);
    // Six tries, one a peer: the drip peer's bounded by the idle deadline, the others'
    // quick, and backoffs of 0.1 + 0.2 + 3 × 0.4 s between them.
    assert!(took < Duration::from_secs(5), "{took:?}");

    // The entry is in the store, and the handle reads it.
    let entry = rig
        .ask(|h| h.entry(&InfoHash(hash)))
        .expect("an entry for the torrent");
    assert_eq!(entry.name, "the honest torrent");
    assert_eq!(entry.info, info);
    assert_eq!(entry.file_count, 3);
    assert_eq!(entry.total_size, 1000 + 1001 + 1002);
    assert_eq!(
        entry.files,
        [
            ("dir/file 0000.bin".to_string(), 1000),
            ("dir/file 0001.bin".to_string(), 1001),
            ("dir/file 0002.bin".to_string(), 1002),
        ]
    );
    assert_eq!(entry.source_peers, 6);
    assert_eq!(get(&rig.stats().entries), 1);
    assert_eq!(
        (get(&rig.stats().pending), get(&rig.stats().in_flight)),
        (0, 0)
    );
    // Every connection was released.
    assert_eq!(get(&rig.stats().connections), 0);
    let store = SqliteStore::open(&rig.dir.join("shoal.sqlite")).unwrap();
    assert_eq!(store.catalog_len().unwrap(), 1);
}

#[test]
fn a_wrong_metadata_peer_is_not_asked_again() {
    // The only peers: one with the wrong metadata and one that rejects. After both
    // fail, the retries ask the rejecting one again but never the bad one.
    let mut rig = Rig::new("bad-again", config(true));
    let info = info_dict("real", 2);
    let hash = sha1(&info);
    let bad = rig.peer(
        hash,
        Peer::Honest {
            info: info_dict("fake", 2),
        },
    );
    let rejects = rig.peer(hash, Peer::Rejects { info });
    rig.announce(hash, bad, true);
    rig.announce(hash, rejects, true);
    rig.run_until(Duration::from_secs(10), |s| s.failures()[7] >= 3);
    let attempts = rig.attempts();
    let asked = |p| attempts.iter().filter(|a| a.0 == p).count();
    assert_eq!(asked(bad), 1, "{attempts:?}");
    assert!(asked(rejects) >= 3, "{attempts:?}");
}

#[test]
fn the_default_policy_never_dials_127_0_0_1_port_22() {
    let hash = [0x22; 20];
    let victim: SocketAddr = "127.0.0.1:22".parse().unwrap();

    let mut rig = Rig::new("policy", config(false));
    rig.announce(hash, victim, true);
    rig.run_until(Duration::from_secs(5), |s| s.refusals()[0] >= 1);
    rig.run_for(Duration::from_millis(300));
    assert!(rig.attempts().is_empty(), "dialed: {:?}", rig.attempts());
    assert_eq!(refusals(rig.stats())[0].0, "not_public");
    assert!(failures(rig.stats()).is_empty());
    assert_eq!(get(&rig.stats().in_flight), 0);
    drop(rig);

    // With private dialing allowed it is dialed; nothing listens there (checked first),
    // so the fetch fails to connect and is counted.
    let closed = std::net::TcpStream::connect_timeout(&victim, Duration::from_secs(1)).is_err();
    let mut rig = Rig::new("policy-private", config(true));
    rig.announce(hash, victim, true);
    rig.run_until(Duration::from_secs(5), |s| {
        s.failures().iter().sum::<u64>() >= 1
    });
    let attempts = rig.attempts();
    assert_eq!(attempts[0].0, victim);
    assert!(
        refusals(rig.stats()).is_empty(),
        "{:?}",
        refusals(rig.stats())
    );
    if closed {
        assert_eq!(attempts[0].1, Some("connect"));
        assert_eq!(failures(rig.stats())[0].0, "connect");
    }
}

#[test]
fn deny_words_keep_an_entry_out_and_are_counted() {
    let mut rig = Rig::new(
        "deny",
        CatalogConfig {
            deny_words: vec!["forbidden".into()],
            ..config(true)
        },
    );
    let info = info_dict("Some FORBIDDEN Thing", 2);
    let hash = sha1(&info);
    let ok_info = info_dict("a fine thing", 2);
    let ok_hash = sha1(&ok_info);
    let p = rig.peer(hash, Peer::Honest { info });
    rig.announce(hash, p, true);
    let q = rig.peer(ok_hash, Peer::Honest { info: ok_info });
    rig.announce(ok_hash, q, true);
    rig.run_until(Duration::from_secs(5), |s| {
        get(&s.denied_names) >= 1 && get(&s.resolved) >= 1
    });
    // Not asked again either.
    rig.run_for(Duration::from_millis(500));
    assert_eq!(get(&rig.stats().denied_names), 1);
    assert_eq!(get(&rig.stats().resolved), 1);
    assert_eq!(rig.attempts().len(), 2, "{:?}", rig.attempts());
    assert!(rig.ask(|h| h.entry(&InfoHash(hash))).is_none());
    assert!(rig.ask(|h| h.entry(&InfoHash(ok_hash))).is_some());
    assert_eq!(get(&rig.stats().pending), 0);
}

#[test]
fn the_entry_cap_prunes_the_longest_inactive_and_remove_works() {
    let mut rig = Rig::new(
        "cap",
        CatalogConfig {
            max_entries: 2,
            ..config(true)
        },
    );
    let infos: Vec<_> = (0..3).map(|i| info_dict(&format!("t{i}"), 1)).collect();
    let hashes: Vec<_> = infos.iter().map(|i| sha1(i)).collect();
    for (i, info) in infos.iter().enumerate() {
        let p = rig.peer(hashes[i], Peer::Honest { info: info.clone() });
        rig.announce(hashes[i], p, true);
        rig.run_until(Duration::from_secs(5), resolved(i as u64 + 1));
        if i == 0 {
            // The first one's activity is a whole second older than the others'.
            std::thread::sleep(Duration::from_millis(1100));
        }
    }
    assert_eq!(get(&rig.stats().entries), 3);
    rig.catalog.prune();
    assert_eq!(get(&rig.stats().entries), 2);
    assert_eq!(get(&rig.stats().removed), 1);
    let held: Vec<bool> = hashes
        .iter()
        .map(|h| {
            let h = InfoHash(*h);
            rig.ask(move |c| c.entry(&h)).is_some()
        })
        .collect();
    assert_eq!(held, [false, true, true], "the oldest went");

    // Removing through the handle.
    let h = InfoHash(hashes[1]);
    assert_eq!(rig.ask(move |c| c.remove(&h)), Ok(true));
    assert_eq!(rig.ask(move |c| c.remove(&h)), Ok(false));
    assert!(rig.ask(move |c| c.entry(&h)).is_none());
    assert_eq!(get(&rig.stats().entries), 1);
    assert_eq!(get(&rig.stats().removed), 2);
    let summaries = rig.ask(|c| c.summaries(&[InfoHash(hashes[1]), InfoHash(hashes[2])]));
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].name, "t2");
}

#[test]
fn a_torrent_removed_while_it_is_fetched_stays_out() {
    // An admin removes (and perhaps denies) a torrent whose metadata is on its way: what
    // arrives after is dropped, not stored.
    let mut rig = Rig::new("remove-in-flight", config(true));
    let info = info_dict("removed mid-fetch", 2);
    let hash = sha1(&info);
    let p = rig.peer(hash, Peer::Honest { info });
    rig.announce(hash, p, true);
    rig.catalog.take_notes();
    rig.catalog.step();
    assert_eq!(get(&rig.stats().in_flight), 1, "being fetched");
    let h = InfoHash(hash);
    assert_eq!(rig.ask(move |c| c.remove(&h)), Ok(false), "no entry yet");
    assert_eq!(get(&rig.stats().in_flight), 0);
    rig.run_for(Duration::from_millis(500));
    assert_eq!(rig.attempts().len(), 1, "the fetch itself ran");
    assert!(
        rig.ask(move |c| c.entry(&h)).is_none(),
        "stored after removal"
    );
    assert_eq!(get(&rig.stats().resolved), 0);
    assert_eq!(get(&rig.stats().connections), 0);
}

#[test]
fn both_address_families_are_dialed() {
    // A hostile IPv4 seeder and an honest IPv6 leecher ([::1]): the v6 one resolves it.
    let mut rig = Rig::new("v6", config(true));
    let info = info_dict("over IPv6", 2);
    let hash = sha1(&info);
    let Ok(v6) = rig.peers.block_on(start_at(
        "[::1]:0".parse().unwrap(),
        hash,
        Peer::Honest { info: info.clone() },
    )) else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let v4 = rig.peer(hash, Peer::Huge);
    rig.announce(hash, v4, true);
    rig.announce(hash, v6, false);
    rig.run_until(Duration::from_secs(5), resolved(1));
    let attempts = rig.attempts();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!((attempts[0].0, attempts[0].1), (v4, Some("too_large")));
    assert_eq!((attempts[1].0, attempts[1].1), (v6, None));
    let e = rig.ask(move |c| c.entry(&InfoHash(hash))).unwrap();
    assert_eq!((e.name.as_str(), e.source_peers), ("over IPv6", 2));
}

/// Pruning goes by the last time a torrent had a live swarm: a torrent resolved first
/// but still seeded outlives one resolved later whose swarm is gone.
#[test]
fn pruning_keeps_torrents_whose_swarms_live() {
    let mut rig = Rig::new(
        "live",
        CatalogConfig {
            max_entries: 1,
            ..config(true)
        },
    );
    let infos: Vec<_> = (0..2).map(|i| info_dict(&format!("l{i}"), 1)).collect();
    let hashes: Vec<_> = infos.iter().map(|i| sha1(i)).collect();
    for (i, info) in infos.iter().enumerate() {
        let p = rig.peer(hashes[i], Peer::Honest { info: info.clone() });
        rig.announce(hashes[i], p, true);
        rig.run_until(Duration::from_secs(5), resolved(i as u64 + 1));
        if i == 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
    }
    // The later one's swarm goes; the first one's stays.
    assert!(rig.engine.remove_torrent(&InfoHash(hashes[1])));
    rig.catalog.prune();
    let held: Vec<bool> = hashes
        .iter()
        .map(|h| {
            let h = InfoHash(*h);
            rig.ask(move |c| c.entry(&h)).is_some()
        })
        .collect();
    assert_eq!(held, [true, false], "the one still seeded stays");
}

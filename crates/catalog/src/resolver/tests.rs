//! The resolver driven with a scripted fetcher (no sockets): which peers are asked,
//! what happens to failures, and every bound.

use std::collections::HashMap;
use std::sync::Mutex;

use shoal_engine::{Announce, AnnounceEvent, EngineConfig, PeerAddrV4, PeerId, Secs};

use super::*;

/// Answers by peer address; records who was asked.
#[derive(Default)]
struct Script {
    answers: HashMap<SocketAddr, FetchResult>,
    asked: Mutex<Vec<SocketAddr>>,
}

impl Fetcher for Script {
    fn fetch(&self, peer: SocketAddr, _: InfoHash) -> FetchFuture {
        self.asked.lock().unwrap().push(peer);
        let r = self.answers.get(&peer).cloned().unwrap_or(Err("connect"));
        Box::pin(async move { r })
    }
}

const H: InfoHash = InfoHash([5; 20]);

fn peer(i: u8) -> SocketAddr {
    format!("8.8.8.{i}:6881").parse().unwrap()
}

fn engine_with(peers: &[(u8, bool)]) -> Arc<Engine> {
    let e = Arc::new(Engine::new(EngineConfig::default(), 1));
    for &(i, seeder) in peers {
        let a = Announce {
            info_hash: H,
            peer: PeerAddrV4::new(std::net::Ipv4Addr::new(8, 8, 8, i), 6881),
            peer_id: PeerId([i; 20]),
            event: AnnounceEvent::Started,
            left: if seeder { 0 } else { 1 },
            num_want: Some(0),
            paused: false,
        };
        e.announce(&a, Secs(0), &mut Vec::new());
    }
    e
}

struct Rig {
    resolver: Resolver,
    script: Arc<Script>,
    stats: Arc<CatalogStats>,
    _rt: tokio::runtime::Runtime,
}

fn make(engine: Arc<Engine>, answers: &[(u8, FetchResult)], config: ResolverConfig) -> Rig {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let script = Arc::new(Script {
        answers: answers.iter().map(|(i, r)| (peer(*i), r.clone())).collect(),
        ..Script::default()
    });
    let stats = Arc::new(CatalogStats::default());
    let resolver = Resolver::new(
        config,
        engine,
        script.clone(),
        rt.handle().clone(),
        stats.clone(),
    );
    Rig {
        resolver,
        script,
        stats,
        _rt: rt,
    }
}

/// Collects until no fetch is in flight (each finishes at once), within a second.
fn settle(r: &mut Resolver, now: Instant) -> Vec<Resolved> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(1);
    while r.len().1 > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
        r.collect(now, &mut out);
    }
    out
}

#[test]
fn seeders_are_asked_first_and_the_first_good_answer_wins() {
    let e = engine_with(&[(1, false), (2, true), (3, true)]);
    let mut rig = make(
        e,
        &[(2, Ok(b"info".to_vec())), (3, Ok(b"info".to_vec()))],
        ResolverConfig::default(),
    );
    let t = Instant::now();
    rig.resolver.queue(&[H, H], t, 1000);
    assert_eq!(rig.resolver.len(), (1, 0), "queued once");
    rig.resolver.dispatch(t);
    let done = settle(&mut rig.resolver, t);
    let mut asked = rig.script.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        vec![peer(2), peer(3)],
        "two seeders, not the leecher"
    );
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].info.as_slice(), done[0].first_seen),
        (&b"info"[..], 1000)
    );
    assert_eq!(done[0].source_peers, 3);
    // The other seeder's answer, when it comes, only frees its connection.
    std::thread::sleep(Duration::from_millis(20));
    let mut more = Vec::new();
    rig.resolver.collect(t, &mut more);
    assert!(more.is_empty());
    assert_eq!(rig.resolver.len(), (0, 0));
    assert_eq!(rig.stats.connections.load(Relaxed), 0);
}

#[test]
fn failures_back_off_bad_peers_are_dropped_and_tries_run_out() {
    let e = engine_with(&[(1, true), (2, true)]);
    let config = ResolverConfig {
        max_attempts: 3,
        retry_base: Duration::from_secs(10),
        dials_per_address_per_minute: 100,
        ..ResolverConfig::default()
    };
    let mut rig = make(e, &[(1, Err("bad_data")), (2, Err("stalled"))], config);
    let t = Instant::now();
    rig.resolver.queue(&[H], t, 0);
    rig.resolver.dispatch(t);
    assert!(settle(&mut rig.resolver, t).is_empty());
    assert_eq!(rig.resolver.len(), (1, 0), "back in the queue");
    // Not due again before its backoff.
    rig.resolver.dispatch(t + Duration::from_secs(9));
    assert_eq!(rig.resolver.len(), (1, 0));
    rig.resolver.dispatch(t + Duration::from_secs(10));
    settle(&mut rig.resolver, t + Duration::from_secs(10));
    let asked = rig.script.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(
        asked[2],
        peer(2),
        "the peer that sent bad data is not asked again"
    );
    // The second retry waits twice as long; then the tries are spent.
    rig.resolver.dispatch(t + Duration::from_secs(29));
    assert_eq!(rig.resolver.len(), (1, 0));
    rig.resolver.dispatch(t + Duration::from_secs(30));
    settle(&mut rig.resolver, t + Duration::from_secs(30));
    assert_eq!(rig.resolver.len(), (0, 0));
    assert_eq!(rig.stats.gave_up.load(Relaxed), 1);
    let f = rig.stats.failures();
    assert_eq!((f[8], f[2]), (1, 3), "bad_data once, stalled three times");
}

#[test]
fn non_public_peers_are_never_dialed_by_default() {
    let e = Arc::new(Engine::new(EngineConfig::default(), 1));
    let a = Announce {
        info_hash: H,
        peer: PeerAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 22),
        peer_id: PeerId([1; 20]),
        event: AnnounceEvent::Started,
        left: 0,
        num_want: Some(0),
        paused: false,
    };
    e.announce(&a, Secs(0), &mut Vec::new());
    let mut rig = make(e.clone(), &[], ResolverConfig::default());
    let t = Instant::now();
    rig.resolver.queue(&[H], t, 0);
    rig.resolver.dispatch(t);
    assert!(rig.script.asked.lock().unwrap().is_empty());
    assert_eq!(rig.stats.refusals()[0], 1, "counted as not public");
    assert_eq!(rig.resolver.len(), (1, 0), "waits for a peer it may dial");
    // Allowed when the operator says so.
    let lan = ResolverConfig {
        policy: DialPolicy {
            allow_private: true,
            allow: vec![],
        },
        ..ResolverConfig::default()
    };
    let mut rig = make(e, &[], lan);
    rig.resolver.queue(&[H], t, 0);
    rig.resolver.dispatch(t);
    settle(&mut rig.resolver, t);
    assert_eq!(rig.script.asked.lock().unwrap().len(), 1);
}

#[test]
fn bounds_on_the_queue_concurrency_and_peerless_torrents() {
    let e = engine_with(&[(1, true)]);
    let config = ResolverConfig {
        max_pending: 3,
        max_concurrent: 1,
        forget_after: Duration::from_secs(60),
        retry_base: Duration::from_secs(10),
        ..ResolverConfig::default()
    };
    let mut rig = make(e, &[(1, Err("connect"))], config);
    let t = Instant::now();
    let hashes: Vec<InfoHash> = (0..5).map(|i| InfoHash([i; 20])).collect();
    rig.resolver.queue(&hashes, t, 0);
    assert_eq!(rig.resolver.len(), (3, 0));
    assert_eq!(rig.stats.dropped.load(Relaxed), 2);
    // No swarm for these hashes: nothing dialed, each waits; after forget_after
    // without peers they are forgotten.
    rig.resolver.dispatch(t);
    assert_eq!(rig.resolver.len().1, 0);
    let later = t + Duration::from_secs(120);
    rig.resolver.dispatch(later);
    assert_eq!(rig.resolver.len(), (0, 0));
    assert_eq!(rig.stats.forgotten.load(Relaxed), 3);
}

/// A peer seeding many torrents is asked about them one at a time, back to back: the
/// others wait a moment (no try spent, no backoff) and are served as it frees up.
#[test]
fn a_peer_seeding_many_torrents_serves_them_one_by_one_without_backoff() {
    let e = Arc::new(Engine::new(EngineConfig::default(), 1));
    let hashes: Vec<InfoHash> = (1..=3).map(|i| InfoHash([i; 20])).collect();
    for h in &hashes {
        let a = Announce {
            info_hash: *h,
            peer: PeerAddrV4::new(std::net::Ipv4Addr::new(8, 8, 8, 1), 6881),
            peer_id: PeerId([1; 20]),
            event: AnnounceEvent::Started,
            left: 0,
            num_want: Some(0),
            paused: false,
        };
        e.announce(&a, Secs(0), &mut Vec::new());
    }
    let config = ResolverConfig {
        dials_per_address_per_minute: 100,
        ..ResolverConfig::default()
    };
    let mut rig = make(e, &[(1, Ok(b"info".to_vec()))], config);
    let t = Instant::now();
    rig.resolver.queue(&hashes, t, 0);
    let mut done = Vec::new();
    let mut now = t;
    for _ in 0..3 {
        rig.resolver.dispatch(now);
        assert_eq!(rig.resolver.len().1, 1, "one fetch from the peer at a time");
        done.extend(settle(&mut rig.resolver, now));
        now += BUSY_RETRY;
    }
    assert_eq!(done.len(), 3, "all three within three short waits");
    assert_eq!(
        rig.stats.refusals(),
        [0; 4],
        "waiting for a busy peer is no refusal"
    );
}

#[test]
fn source_peers_counts_the_whole_swarm_not_the_peers_sampled() {
    let peers: Vec<(u8, bool)> = (1..=20).map(|i| (i, i <= 2)).collect();
    let e = engine_with(&peers);
    let mut rig = make(
        e,
        &[(1, Ok(b"info".to_vec())), (2, Ok(b"info".to_vec()))],
        ResolverConfig::default(),
    );
    let t = Instant::now();
    rig.resolver.queue(&[H], t, 0);
    rig.resolver.dispatch(t);
    let done = settle(&mut rig.resolver, t);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].source_peers, 20);
}

/// A torrent whose tries ran out is tried again once its swarm has grown (a new peer
/// may answer where the old ones did not), and not while it stays the same.
#[test]
fn a_given_up_torrent_is_tried_again_when_its_swarm_grows() {
    let e = engine_with(&[(1, true)]);
    let config = ResolverConfig {
        max_attempts: 1,
        retry_max: Duration::from_secs(60),
        dials_per_address_per_minute: 100,
        ..ResolverConfig::default()
    };
    let mut rig = make(
        e.clone(),
        &[(1, Err("connect")), (2, Ok(b"info".to_vec()))],
        config,
    );
    let t = Instant::now();
    rig.resolver.queue(&[H], t, 0);
    rig.resolver.dispatch(t);
    settle(&mut rig.resolver, t);
    assert_eq!(rig.resolver.len(), (0, 0));
    assert_eq!(rig.stats.gave_up.load(Relaxed), 1);
    // Same swarm a while later: left alone.
    let later = t + Duration::from_secs(61);
    rig.resolver.revisit(later, 100);
    assert_eq!(rig.resolver.len(), (0, 0));
    // A new seeder joins; once retry_max has passed again it is tried, and answers.
    let a = Announce {
        info_hash: H,
        peer: PeerAddrV4::new(std::net::Ipv4Addr::new(8, 8, 8, 2), 6881),
        peer_id: PeerId([2; 20]),
        event: AnnounceEvent::Started,
        left: 0,
        num_want: Some(0),
        paused: false,
    };
    e.announce(&a, Secs(0), &mut Vec::new());
    rig.resolver.revisit(later + Duration::from_secs(30), 100);
    assert_eq!(rig.resolver.len(), (0, 0), "not before retry_max");
    let again = later + Duration::from_secs(61);
    rig.resolver.revisit(again, 100);
    assert_eq!(rig.resolver.len(), (1, 0));
    assert_eq!(rig.stats.revisited.load(Relaxed), 1);
    rig.resolver.dispatch(again);
    let done = settle(&mut rig.resolver, again);
    assert_eq!(done.len(), 1);
}

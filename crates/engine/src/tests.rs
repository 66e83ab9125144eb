use super::*;
use proptest::prelude::*;
use std::collections::HashMap as StdMap;
use std::net::{Ipv4Addr, Ipv6Addr};

const IH: InfoHash = InfoHash([7; 20]);

fn engine() -> Engine {
    Engine::new(EngineConfig::default(), 42)
}

fn v4(n: u32, port: u16) -> PeerAddrV4 {
    PeerAddrV4::new(Ipv4Addr::from(0x0a00_0000 + n), port)
}

fn ann<A>(peer: A, left: u64, event: AnnounceEvent) -> Announce<A> {
    Announce {
        info_hash: IH,
        peer,
        peer_id: PeerId([0; 20]),
        event,
        left,
        num_want: None,
        paused: false,
    }
}

fn announce<A: Family>(e: &Engine, a: Announce<A>, now: u32) -> (AnnounceOutcome, Vec<A>) {
    let mut out = Vec::new();
    let o = e.announce(&a, Secs(now), &mut out);
    (o, out)
}

#[test]
fn announcer_is_never_returned_to_itself() {
    let e = engine();
    let (o, peers) = announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    assert_eq!((o.seeders, o.leechers), (0, 1));
    assert!(peers.is_empty());
    let (_, peers) = announce(&e, ann(v4(2, 1), 10, AnnounceEvent::Started), 0);
    assert_eq!(peers, vec![v4(1, 1)]);
    for _ in 0..50 {
        let (_, peers) = announce(&e, ann(v4(1, 1), 10, AnnounceEvent::None), 0);
        assert_eq!(peers, vec![v4(2, 1)]);
    }
}

#[test]
fn same_ip_different_port_are_different_peers() {
    let e = engine();
    announce(&e, ann(v4(1, 1000), 10, AnnounceEvent::Started), 0);
    let (o, peers) = announce(&e, ann(v4(1, 1001), 10, AnnounceEvent::Started), 0);
    assert_eq!(o.leechers, 2);
    assert_eq!(peers, vec![v4(1, 1000)]);
}

#[test]
fn reannounce_updates_instead_of_duplicating() {
    let e = engine();
    for _ in 0..3 {
        announce(&e, ann(v4(1, 1), 10, AnnounceEvent::None), 0);
    }
    let (o, _) = announce(&e, ann(v4(1, 1), 0, AnnounceEvent::None), 0);
    assert_eq!(
        (o.seeders, o.leechers),
        (1, 0),
        "became a seeder, not a second peer"
    );
}

#[test]
fn stopped_removes_the_peer() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Started), 0);
    let (o, peers) = announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Stopped), 0);
    assert_eq!((o.seeders, o.leechers), (1, 0));
    assert!(peers.is_empty(), "a stopping peer gets no peers");
    assert!(!e.contains(&IH, &v4(1, 1)));
    let (_, peers) = announce(&e, ann(v4(3, 1), 10, AnnounceEvent::None), 0);
    assert_eq!(peers, vec![v4(2, 1)]);
    // Stopping an unknown peer or torrent is harmless.
    announce(&e, ann(v4(9, 9), 10, AnnounceEvent::Stopped), 0);
    let mut other = ann(v4(9, 9), 10, AnnounceEvent::Stopped);
    other.info_hash = InfoHash([1; 20]);
    let (o, _) = announce(&e, other, 0);
    assert_eq!((o.seeders, o.leechers), (0, 0));
    assert_eq!(e.stats().torrents, 1, "stopping does not create a torrent");
}

#[test]
fn completed_is_counted_once_per_peer() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    let (o, _) = announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 0);
    assert_eq!(o.completed, 1);
    let (o, _) = announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 0);
    assert_eq!(o.completed, 1, "repeated completed does not count again");
    // A peer first seen with `completed` counts.
    let (o, _) = announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Completed), 0);
    assert_eq!(o.completed, 2);
    // Completed counts outlive the peer leaving.
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Stopped), 0);
    assert_eq!(e.scrape(&IH).completed, 2);
}

#[test]
fn seeders_get_leechers_only() {
    let e = engine();
    for n in 0..10 {
        announce(&e, ann(v4(n, 1), 0, AnnounceEvent::Started), 0);
    }
    for n in 10..13 {
        announce(&e, ann(v4(n, 1), 5, AnnounceEvent::Started), 0);
    }
    let leechers: Vec<_> = (10..13).map(|n| v4(n, 1)).collect();
    for _ in 0..20 {
        let (o, mut peers) = announce(&e, ann(v4(0, 1), 0, AnnounceEvent::None), 0);
        assert_eq!((o.seeders, o.leechers), (10, 3));
        peers.sort_by_key(|p| p.ip);
        assert_eq!(peers, leechers);
    }
    // A leecher gets both kinds.
    let (_, peers) = announce(&e, ann(v4(10, 1), 5, AnnounceEvent::None), 0);
    assert_eq!(peers.len(), 12);
}

#[test]
fn numwant_caps_and_defaults() {
    let cfg = EngineConfig {
        default_numwant: 5,
        max_numwant: 8,
        ..EngineConfig::default()
    };
    let e = Engine::new(cfg, 1);
    for n in 0..30 {
        announce(&e, ann(v4(n, 1), 1, AnnounceEvent::Started), 0);
    }
    let (_, peers) = announce(&e, ann(v4(100, 1), 1, AnnounceEvent::None), 0);
    assert_eq!(peers.len(), 5, "default");
    let mut a = ann(v4(100, 1), 1, AnnounceEvent::None);
    a.num_want = Some(3);
    assert_eq!(announce(&e, a, 0).1.len(), 3);
    a.num_want = Some(1000);
    assert_eq!(announce(&e, a, 0).1.len(), 8, "capped at max");
    a.num_want = Some(0);
    assert_eq!(announce(&e, a, 0).1.len(), 0);
}

#[test]
fn selection_is_random_and_distinct() {
    let e = engine();
    for n in 0..100 {
        announce(&e, ann(v4(n, 1), 1, AnnounceEvent::Started), 0);
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut a = ann(v4(0, 1), 1, AnnounceEvent::None);
        a.num_want = Some(10);
        let (_, peers) = announce(&e, a, 0);
        let distinct: std::collections::HashSet<_> = peers.iter().collect();
        assert_eq!(distinct.len(), 10, "no peer twice in a response");
        assert!(!peers.contains(&v4(0, 1)));
        seen.extend(peers);
    }
    assert_eq!(seen.len(), 99, "every other peer gets offered over time");
}

#[test]
fn families_are_separate_and_counted_together() {
    let e = engine();
    let p6 = PeerAddrV6::new(Ipv6Addr::LOCALHOST, 6881);
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    let (o, peers6) = announce(&e, ann(p6, 10, AnnounceEvent::Started), 0);
    assert_eq!((o.seeders, o.leechers), (1, 1));
    assert!(
        peers6.is_empty(),
        "IPv6 peers are not offered IPv4 addresses"
    );
    let (_, peers4) = announce(&e, ann(v4(2, 1), 10, AnnounceEvent::None), 0);
    assert_eq!(peers4, vec![v4(1, 1)]);
    let s = e.stats();
    assert_eq!((s.peers_v4, s.peers_v6, s.torrents), (2, 1, 1));
}

#[test]
fn expiry_honours_the_told_interval_plus_grace() {
    let cfg = EngineConfig {
        announce_interval: 100,
        peer_grace: 20,
        ..EngineConfig::default()
    };
    let e = Engine::new(cfg, 3);
    let (o, _) = announce(&e, ann(v4(1, 1), 1, AnnounceEvent::Started), 1000);
    assert_eq!(o.interval, 100);
    announce(&e, ann(v4(2, 1), 1, AnnounceEvent::Started), 1050);
    // Peer 1 announces late (at 1000 + 100 + 19) and survives.
    assert_eq!(e.purge_expired(Secs(1119)), 0);
    assert!(e.contains(&IH, &v4(1, 1)));
    // Exactly at interval + grace it is gone; peer 2 (told at 1050) stays.
    assert_eq!(e.purge_expired(Secs(1120)), 1);
    assert!(!e.contains(&IH, &v4(1, 1)));
    assert!(e.contains(&IH, &v4(2, 1)));
    // A re-announce pushes expiry forward.
    announce(&e, ann(v4(2, 1), 1, AnnounceEvent::None), 1160);
    assert_eq!(e.purge_expired(Secs(1200)), 0);
    assert_eq!(e.purge_expired(Secs(1280)), 1);
    assert_eq!(e.stats().torrents, 0, "empty torrents are dropped");
}

#[test]
fn paused_partial_seeds_are_leechers_but_not_downloaders() {
    let e = engine();
    let mut a = ann(v4(1, 1), 10, AnnounceEvent::None);
    a.paused = true;
    announce(&e, a, 0);
    announce(&e, ann(v4(2, 1), 10, AnnounceEvent::None), 0);
    let s = e.scrape(&IH);
    assert_eq!((s.leechers, s.downloaders), (2, 1));
    // Resuming, completing or leaving clears it.
    a.paused = false;
    announce(&e, a, 0);
    assert_eq!(e.scrape(&IH).downloaders, 2);
    a.paused = true;
    announce(&e, a, 0);
    a.left = 0;
    announce(&e, a, 0);
    let s = e.scrape(&IH);
    assert_eq!(
        (s.seeders, s.leechers, s.downloaders),
        (1, 1, 1),
        "a seeder is never paused"
    );
    let mut b = ann(v4(3, 1), 10, AnnounceEvent::None);
    b.paused = true;
    announce(&e, b, 0);
    b.event = AnnounceEvent::Stopped;
    announce(&e, b, 0);
    assert_eq!(e.scrape(&IH).downloaders, 1);
}

#[test]
fn peer_ids_are_returned_in_step_when_kept() {
    let e = Engine::new(
        EngineConfig {
            store_peer_ids: true,
            ..EngineConfig::default()
        },
        5,
    );
    for n in 0..40u32 {
        let mut a = ann(v4(n, 1), u64::from(n % 2), AnnounceEvent::Started);
        a.peer_id = PeerId([n as u8; 20]);
        announce(&e, a, 0);
    }
    for n in (0..40u32).step_by(3) {
        announce(&e, ann(v4(n, 1), 0, AnnounceEvent::Stopped), 0);
    }
    let mut a = ann(v4(100, 1), 1, AnnounceEvent::None);
    a.peer_id = PeerId([100; 20]);
    a.num_want = Some(10);
    let (mut peers, mut ids) = (Vec::new(), Vec::new());
    e.announce_with_ids(&a, Secs(0), &mut peers, &mut ids);
    assert_eq!(peers.len(), 10);
    for (p, id) in peers.iter().zip(&ids) {
        assert_eq!(u32::from_be_bytes(p.ip) - 0x0a00_0000, u32::from(id.0[0]));
    }
    // Without store_peer_ids no ids come back.
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    e.announce_with_ids(&a, Secs(0), &mut peers, &mut ids);
    assert_eq!((peers.len(), ids.len()), (1, 0));
}

#[test]
fn completed_count_outlives_the_last_peer() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 0);
    assert_eq!(e.purge_expired(Secs(1_000_000)), 1);
    assert_eq!(
        e.scrape(&IH),
        SwarmStats {
            seeders: 0,
            leechers: 0,
            downloaders: 0,
            completed: 1
        }
    );
    // Out of the swarm table (and out of `max_torrents`), its count kept aside.
    assert_eq!((e.stats().torrents, e.stats().dormant), (0, 1));
    assert_eq!(e.counts(), (0, 0));
    // Back with a peer, it goes on counting from there.
    announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Completed), 1_000_000);
    assert_eq!(e.scrape(&IH).completed, 2);
    assert_eq!((e.stats().torrents, e.stats().dormant), (1, 0));
}

#[test]
fn scrape_all_lists_every_torrent_up_to_a_limit() {
    let e = engine();
    for b in 0..10u8 {
        let mut a = ann(v4(1, 1), 0, AnnounceEvent::Started);
        a.info_hash = InfoHash([b; 20]);
        announce(&e, a, 0);
    }
    let mut out = Vec::new();
    assert!(e.scrape_all(&mut out, 100));
    assert_eq!(out.len(), 10);
    assert!(out.iter().all(|(_, s)| s.seeders == 1));
    out.clear();
    assert!(!e.scrape_all(&mut out, 4));
    assert_eq!(out.len(), 4);
}

#[test]
fn scrape_of_unknown_torrent_is_zero() {
    assert_eq!(engine().scrape(&InfoHash([9; 20])), SwarmStats::default());
}

#[test]
fn compact_peer_records() {
    assert_eq!(std::mem::size_of::<peers::Peer<PeerAddrV4>>(), 12);
    assert_eq!(std::mem::size_of::<peers::Peer<PeerAddrV6>>(), 24);
    // Private mode: the accounting slot in the record, 12 bytes more and nothing else.
    assert_eq!(std::mem::size_of::<peers::Slot>(), 12);
    // A credit waiting for the store, with its key.
    assert_eq!(
        std::mem::size_of::<((u32, InfoHash), accounting::Credit)>(),
        64
    );
    assert_eq!(
        std::mem::size_of::<peers::Peer<PeerAddrV4, peers::Slot>>(),
        24
    );
    assert_eq!(
        std::mem::size_of::<peers::Peer<PeerAddrV6, peers::Slot>>(),
        36
    );
    // A torrent's per-family list: Vec, two u32 counters, one optional box.
    assert_eq!(std::mem::size_of::<peers::PeerList<PeerAddrV4>>(), 40);
    assert_eq!(
        std::mem::size_of::<peers::PeerList<PeerAddrV4, peers::Slot>>(),
        40
    );
}

#[test]
fn large_swarm_uses_index_consistently() {
    let e = engine();
    for n in 0..500 {
        announce(
            &e,
            ann(v4(n, 1), u64::from(n % 3), AnnounceEvent::Started),
            0,
        );
    }
    for n in (0..500).step_by(2) {
        announce(&e, ann(v4(n, 1), 0, AnnounceEvent::Stopped), 0);
    }
    for n in (1..500).step_by(2) {
        assert!(e.contains(&IH, &v4(n, 1)));
    }
    let shard = e.shard(&IH).lock();
    with_table!(&shard.torrents, |table| {
        let t = table.get(&IH).unwrap();
        t.v4.check_invariants(&shard.hasher);
        assert_eq!(t.v4.len(), 250);
    });
}

#[derive(Debug, Clone)]
enum Op {
    Announce {
        peer: u8,
        seeder: bool,
        event: u8,
        paused: bool,
    },
    Purge {
        at: u16,
    },
    Tick {
        by: u16,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<u8>(), any::<bool>(), 0u8..4, any::<bool>()).prop_map(|(peer, seeder, event, paused)| Op::Announce { peer, seeder, event, paused }),
        1 => any::<u16>().prop_map(|at| Op::Purge { at }),
        2 => (0u16..200).prop_map(|by| Op::Tick { by }),
    ]
}

proptest! {
    /// The engine agrees with a naive model under any sequence of announces, stops,
    /// clock ticks and purges, and its internal index stays consistent.
    #[test]
    fn matches_model(ops in proptest::collection::vec(arb_op(), 1..400), peers_mod in 1u8..60) {
        let cfg = EngineConfig { announce_interval: 100, peer_grace: 10, default_numwant: 7, max_numwant: 7, shards: 1, store_peer_ids: true, ..EngineConfig::default() };
        let e = Engine::new(cfg, 9);
        // addr -> (seeder, expires, counted)
        let mut model: StdMap<PeerAddrV4, (bool, u32, bool)> = StdMap::new();
        let mut completed = 0u64; // never lost: a torrent with a count is kept
        let mut now = 0u32;
        for op in ops {
            match op {
                Op::Announce { peer, seeder, event, paused } => {
                    let addr = v4(u32::from(peer % peers_mod), 1);
                    let event = [AnnounceEvent::None, AnnounceEvent::Completed, AnnounceEvent::Started, AnnounceEvent::Stopped][event as usize];
                    let mut a = ann(addr, if seeder { 0 } else { 1 }, event);
                    a.paused = paused;
                    let (o, out) = announce(&e, a, now);
                    if event == AnnounceEvent::Stopped {
                        model.remove(&addr);
                        prop_assert!(out.is_empty());
                    } else {
                        let entry = model.entry(addr).or_insert((seeder, 0, false));
                        entry.0 = seeder;
                        entry.1 = now + 110;
                        if event == AnnounceEvent::Completed && !entry.2 {
                            entry.2 = true;
                            completed += 1;
                        }
                        prop_assert!(!out.contains(&addr));
                        let eligible = model.iter().filter(|(a, (s, _, _))| **a != addr && !(seeder && *s)).count();
                        prop_assert_eq!(out.len(), eligible.min(7));
                        for p in &out {
                            let (s, _, _) = model[p];
                            prop_assert!(!(seeder && s), "seeder got a seeder");
                        }
                    }
                    let seeders = model.values().filter(|v| v.0).count() as u32;
                    prop_assert_eq!(o.seeders, seeders);
                    prop_assert_eq!(o.leechers, model.len() as u32 - seeders);
                    prop_assert_eq!(o.completed, completed);
                }
                Op::Tick { by } => now += u32::from(by),
                Op::Purge { at } => {
                    let at = now.saturating_sub(u32::from(at) % 50);
                    let before = model.len();
                    model.retain(|_, v| v.1 > at);
                    let dropped = e.purge_expired(Secs(at));
                    prop_assert_eq!(dropped as usize, before - model.len());
                }
            }
            let shard = e.shard(&IH).lock();
            with_table!(&shard.torrents, |table| if let Some(t) = table.get(&IH) {
                t.v4.check_invariants(&shard.hasher);
            });
            drop(shard);
            prop_assert_eq!(e.counts().1, model.len() as u64, "peer counter in step");
        }
    }
}

fn snapshot_of(e: &Engine, now: u32, unix: u64) -> Vec<u8> {
    let mut out = Vec::new();
    e.write_snapshot(Secs(now), unix, &mut out).unwrap();
    out
}

#[test]
fn a_snapshot_is_known_by_its_id() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Started), 1000);
    let mut out = Vec::new();
    let (_, id) = e.write_snapshot(Secs(1000), 5_000, &mut out).unwrap();
    assert_eq!(SnapshotId::of(&out), Some(id));
    assert_eq!(id.written_at, 5_000);
    // Another state, or the same state written at another time, is another snapshot.
    announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Started), 1000);
    let later = snapshot_of(&e, 1000, 5_000);
    assert_ne!(SnapshotId::of(&later), Some(id));
    assert_ne!(
        SnapshotId::of(&snapshot_of(&e, 1000, 5_001)),
        SnapshotId::of(&later)
    );
    assert_eq!(SnapshotId::of(b"SHOALSWM too short"), None);
    assert_eq!(SnapshotId::of(&out[..out.len() - 1]), None);
}

#[test]
fn snapshot_round_trip_keeps_peers_counts_and_time_left() {
    let cfg = EngineConfig {
        announce_interval: 100,
        peer_grace: 0,
        store_peer_ids: true,
        ..EngineConfig::default()
    };
    let e = Engine::new(cfg.clone(), 1);
    let p6 = PeerAddrV6::new(Ipv6Addr::LOCALHOST, 9);
    let mut s = ann(v4(1, 1), 0, AnnounceEvent::Completed);
    s.peer_id = PeerId([7; 20]);
    announce(&e, s, 1000);
    let mut l = ann(v4(2, 1), 5, AnnounceEvent::Started);
    l.paused = true;
    announce(&e, l, 1010);
    announce(&e, ann(p6, 5, AnnounceEvent::Started), 1020);
    let mut other = ann(v4(3, 1), 5, AnnounceEvent::Started);
    other.info_hash = InfoHash([2; 20]);
    announce(&e, other, 1000);
    let data = snapshot_of(&e, 1050, 5_000);

    // Restored 10 s (wall clock) later into an engine whose clock starts at 0.
    let r = Engine::new(cfg, 2);
    let st = r.restore_snapshot(&data, Secs(0), 5_010).unwrap();
    assert_eq!((st.torrents, st.peers, st.expired), (2, 4, 0));
    let s1 = r.scrape(&IH);
    assert_eq!(
        (s1.seeders, s1.leechers, s1.downloaders, s1.completed),
        (1, 2, 1, 1)
    );
    assert!(r.contains(&IH, &p6));
    // Peer 1 had 50 s left at the snapshot, 40 after the wait: gone at 40, not at 39.
    assert_eq!(r.purge_expired(Secs(39)), 0);
    assert!(r.purge_expired(Secs(40)) >= 1);
    assert!(!r.contains(&IH, &v4(1, 1)));
    // completed stays counted for the restored peer (no double count).
    let r2 = Engine::new(
        EngineConfig {
            store_peer_ids: true,
            ..EngineConfig::default()
        },
        3,
    );
    r2.restore_snapshot(&data, Secs(0), 5_000).unwrap();
    let mut s = ann(v4(1, 1), 0, AnnounceEvent::Completed);
    s.peer_id = PeerId([7; 20]);
    let (o, _) = announce(&r2, s, 0);
    assert_eq!(o.completed, 1);
    // Peer ids survive.
    let mut q = ann(v4(50, 1), 5, AnnounceEvent::None);
    q.num_want = Some(10);
    let (mut peers, mut ids) = (Vec::new(), Vec::new());
    r2.announce_with_ids(&q, Secs(0), &mut peers, &mut ids);
    let i = peers.iter().position(|p| *p == v4(1, 1)).unwrap();
    assert_eq!(ids[i], PeerId([7; 20]));
}

#[test]
fn old_snapshots_bring_back_only_live_peers() {
    let e = engine(); // interval 1800 + grace 300
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Started), 1000);
    let data = snapshot_of(&e, 1000, 10_000);
    let r = engine();
    // 1500 s later: peer 1 (1100 s left) is gone, peer 2 (2100 s left) is back.
    let st = r.restore_snapshot(&data, Secs(0), 11_500).unwrap();
    assert_eq!((st.peers, st.expired), (1, 1));
    assert!(r.contains(&IH, &v4(2, 1)) && !r.contains(&IH, &v4(1, 1)));
}

#[test]
fn damaged_snapshots_are_rejected_whole() {
    let e = engine();
    for n in 0..20 {
        announce(&e, ann(v4(n, 1), 0, AnnounceEvent::Started), 0);
    }
    let data = snapshot_of(&e, 0, 100);
    let r = engine();
    assert_eq!(
        r.restore_snapshot(b"hello", Secs(0), 100),
        Err(SnapshotError::BadMagic)
    );
    assert!(r
        .restore_snapshot(&data[..data.len() - 1], Secs(0), 100)
        .is_err());
    let mut flipped = data.clone();
    flipped[40] ^= 1;
    assert_eq!(
        r.restore_snapshot(&flipped, Secs(0), 100),
        Err(SnapshotError::Corrupt("checksum mismatch"))
    );
    let mut v2 = data.clone();
    v2[11] = 2;
    assert_eq!(
        r.restore_snapshot(&v2, Secs(0), 100),
        Err(SnapshotError::Version(2))
    );
    assert_eq!(r.stats().torrents, 0, "nothing half-restored");
    assert_eq!(r.restore_snapshot(&data, Secs(0), 100).unwrap().peers, 20);
}

proptest! {
    #[test]
    fn arbitrary_snapshot_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let r = engine();
        let mut data = b"SHOALSWM\0\0\0\x01".to_vec();
        data.extend_from_slice(&tail);
        let _ = r.restore_snapshot(&data, Secs(0), 0);
    }
}

#[test]
fn access_list_updates_drop_refused_torrents() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    let other = InfoHash([8; 20]);
    let mut a = ann(v4(1, 1), 0, AnnounceEvent::Started);
    a.info_hash = other;
    announce(&e, a, 0);
    assert!(e.allows(&IH));
    e.update_access_list(|l| {
        l.mode = access::AccessMode::Allow;
        l.api.insert(other);
    });
    assert!(!e.allows(&IH) && e.allows(&other));
    assert_eq!(e.stats().torrents, 1, "the refused swarm is gone");
    assert!(e.remove_torrent(&other));
    assert!(!e.remove_torrent(&other));
    // Turning the list off (the flag) and on again (the snapshot) both take effect,
    // and edits build on the list in force.
    e.update_access_list(|l| l.mode = access::AccessMode::Off);
    assert!(e.allows(&IH) && e.allows(&other));
    e.update_access_list(|l| l.mode = access::AccessMode::Deny);
    assert!(e.allows(&IH) && !e.allows(&other));
    assert_eq!(e.access_list().api.len(), 1);
}

fn limited(f: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut c = EngineConfig::default();
    f(&mut c);
    Engine::new(c, 11)
}

#[test]
fn torrent_and_peer_limits() {
    let e = limited(|c| {
        c.max_torrents = 2;
        c.max_peers_per_torrent = 3;
        c.max_peers = 5;
    });
    let on = |b: u8, n: u32| {
        let mut a = ann(v4(n, 1), 1, AnnounceEvent::Started);
        a.info_hash = InfoHash([b; 20]);
        announce(&e, a, 0)
    };
    for n in 0..3 {
        assert_eq!(on(1, n).0.rejected, None);
    }
    let (o, peers) = on(1, 3);
    assert_eq!(o.rejected, Some(Rejection::SwarmFull));
    assert_eq!(peers.len(), 3, "a turned-away peer still gets peers");
    assert_eq!(o.leechers, 3);
    assert_eq!(on(2, 10).0.rejected, None);
    assert_eq!(on(3, 20).0.rejected, Some(Rejection::TooManyTorrents));
    assert_eq!(on(2, 11).0.rejected, None);
    assert_eq!(
        on(2, 12).0.rejected,
        Some(Rejection::TooManyPeers),
        "5 peers held"
    );
    assert_eq!(e.counts(), (2, 5));
    // Leaving frees room.
    let mut stop = ann(v4(0, 1), 1, AnnounceEvent::Stopped);
    stop.info_hash = InfoHash([1; 20]);
    announce(&e, stop, 0);
    assert_eq!(e.counts(), (2, 4));
    assert_eq!(on(2, 12).0.rejected, None);
    let r = e.rejections();
    assert_eq!(r.iter().map(|(_, n)| n).sum::<u64>(), 3);
}

#[test]
fn counters_follow_purge_removal_and_access_lists() {
    let e = engine();
    for n in 0..4 {
        let mut a = ann(v4(n, 1), 1, AnnounceEvent::Started);
        a.info_hash = InfoHash([n as u8; 20]);
        announce(&e, a, 0);
    }
    assert_eq!(e.counts(), (4, 4));
    assert!(e.remove_torrent(&InfoHash([0; 20])));
    assert_eq!(e.counts(), (3, 3));
    e.update_access_list(|l| {
        l.mode = access::AccessMode::Deny;
        l.api.insert(InfoHash([1; 20]));
    });
    assert_eq!(e.counts(), (2, 2));
    e.purge_expired(Secs(1_000_000));
    assert_eq!(e.counts(), (0, 0));
    let s = e.stats();
    assert_eq!((s.torrents, s.peers_v4), (0, 0));
}

#[test]
fn new_torrents_per_network_per_minute() {
    let e = limited(|c| c.max_new_torrents_per_prefix_per_minute = 2);
    let create = |b: u8, ip: &str, now: u32| {
        let mut a = ann(
            PeerAddrV4::new(ip.parse().unwrap(), 1),
            1,
            AnnounceEvent::Started,
        );
        a.info_hash = InfoHash([b; 20]);
        announce(&e, a, now).0.rejected
    };
    assert_eq!(create(1, "10.0.0.1", 0), None);
    assert_eq!(create(2, "10.0.0.2", 0), None, "same /24");
    assert_eq!(
        create(3, "10.0.0.3", 59),
        Some(Rejection::TorrentCreationRate)
    );
    assert_eq!(create(3, "10.0.1.3", 59), None, "another /24");
    assert_eq!(
        create(1, "10.0.0.9", 59),
        None,
        "announcing to an existing torrent is fine"
    );
    assert_eq!(create(4, "10.0.0.3", 60), None, "next minute");
}

#[test]
fn changed_completed_counts_are_drained_once() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 0);
    announce(&e, ann(v4(2, 1), 0, AnnounceEvent::Completed), 0);
    let mut out = Vec::new();
    e.drain_completed(&mut out);
    assert_eq!(out, vec![(IH, 2)]);
    out.clear();
    e.drain_completed(&mut out);
    assert!(out.is_empty(), "nothing changed since");
    // Only what was counted since the last drain: a delta, not the total.
    announce(&e, ann(v4(3, 1), 0, AnnounceEvent::Completed), 0);
    e.drain_completed(&mut out);
    assert_eq!(out, vec![(IH, 1)]);
    assert_eq!(e.scrape(&IH).completed, 3);
    let r = engine();
    assert_eq!(r.load_completed(&[(IH, 7), (InfoHash([3; 20]), 0)]), 1);
    assert_eq!(r.scrape(&IH).completed, 7);
    assert_eq!(r.counts().0, 0, "a loaded count makes no swarm");
    assert_eq!(r.stats().dormant, 1);
}

#[test]
fn a_returning_torrent_keeps_its_delta_until_its_stored_count_is_merged() {
    // One shard holding one peerless count: a second pushes the first out to the store.
    let e = Engine::new(
        EngineConfig {
            shards: 1,
            max_dormant_torrents: 1,
            ..EngineConfig::default()
        },
        42,
    );
    let (a, b) = (InfoHash([1; 20]), InfoHash([2; 20]));
    let complete = |h: InfoHash, n: u32, now: u32| {
        let mut x = ann(v4(n, 1), 0, AnnounceEvent::Completed);
        x.info_hash = h;
        announce(&e, x, now);
    };
    let mut out = Vec::new();
    complete(a, 1, 0);
    complete(a, 2, 0);
    e.drain_completed(&mut out);
    e.purge_expired(Secs(100_000));
    complete(b, 3, 100_001);
    e.drain_completed(&mut out);
    e.purge_expired(Secs(200_000));
    assert_eq!(e.scrape(&b).completed, 1);
    out.sort();
    assert_eq!(out, vec![(a, 2), (b, 1)], "the store holds a: 2, b: 1");
    // a's count is in the store only; it comes back and counts one more.
    complete(a, 4, 200_001);
    out.clear();
    e.drain_completed(&mut out);
    assert!(
        out.is_empty(),
        "held until the stored count is merged: {out:?}"
    );
    let mut asked = Vec::new();
    e.take_count_lookups(&mut asked);
    assert_eq!(asked, vec![a]);
    e.merge_stored_counts(&[(a, 2)]);
    assert_eq!(e.scrape(&a).completed, 3);
    // Only what was counted since goes to the store, never the stored count again.
    e.drain_completed(&mut out);
    assert_eq!(out, vec![(a, 1)]);
}

#[test]
fn peers_are_counted_by_client() {
    let e = engine();
    for (n, prefix) in [(1, b"-qB4650-"), (2, b"-qB4630-"), (3, b"-TR3000-")] {
        let mut a = ann(v4(n, 1), 1, AnnounceEvent::Started);
        let mut id = [b'x'; 20];
        id[..8].copy_from_slice(prefix);
        a.peer_id = PeerId(id);
        announce(&e, a, 0);
    }
    let counts = e.client_counts();
    let qb = shoal_protocol::clients::identify(&PeerId(*b"-qB4650-xxxxxxxxxxxx"));
    let tr = shoal_protocol::clients::identify(&PeerId(*b"-TR3000-xxxxxxxxxxxx"));
    assert_eq!((counts[usize::from(qb)], counts[usize::from(tr)]), (2, 1));
    assert_eq!(counts.iter().sum::<u64>(), 3);
}

#[test]
fn networks_count_yggdrasil_apart() {
    let e = engine();
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 0);
    let v6 = |s: &str| PeerAddrV6::new(s.parse::<Ipv6Addr>().unwrap(), 1);
    announce(&e, ann(v6("2001:db8::1"), 5, AnnounceEvent::Started), 0);
    announce(&e, ann(v6("200:1234::1"), 5, AnnounceEvent::Started), 0);
    announce(&e, ann(v6("301:abcd::1"), 5, AnnounceEvent::Started), 0);
    announce(&e, ann(v6("400::1"), 5, AnnounceEvent::Started), 0);
    assert_eq!(
        e.network_counts(),
        NetworkCounts {
            ipv4: 1,
            ipv6: 2,
            yggdrasil: 2,
            completed: 1
        }
    );
}

#[test]
fn top_by_selects_the_largest() {
    let e = engine();
    for t in 0..50u8 {
        for p in 0..u32::from(t % 10) {
            let mut a = ann(v4(p + 1, 1), 5, AnnounceEvent::Started);
            a.info_hash = InfoHash([t; 20]);
            announce(&e, a, 0);
        }
    }
    let top = e.top_by(5, |s| u64::from(s.seeders + s.leechers));
    let sizes: Vec<u32> = top.iter().map(|(_, s)| s.leechers).collect();
    assert_eq!(sizes, vec![9, 9, 9, 9, 9]);
    // Ties go by info-hash.
    assert_eq!(top[0].0, InfoHash([9; 20]));
    assert_eq!(top[4].0, InfoHash([49; 20]));
    assert_eq!(e.top_by(1000, |s| u64::from(s.leechers)).len(), 45);
    assert!(e.top_by(0, |s| u64::from(s.leechers)).is_empty());
}

/// Issue: "nothing grows with time". 30 simulated days: every hour 100 new torrents
/// whose peers start, complete (0 to 2 of them) and stop or go silent, and a few old
/// torrents announced again by a peer that completes; a store like persist.rs flushes
/// drained deltas (adding them up) and answers count lookups every 10 simulated minutes. The tables that
/// grow with the number of torrents stay under a fixed bound, and every torrent's
/// completed count is exact when asked (a scrape; a torrent whose count is in the store
/// only may read low until the next store round, never after).
#[test]
fn thirty_days_of_torrents_stay_bounded_and_counted() {
    use std::collections::HashMap;
    let e = Engine::new(
        EngineConfig {
            shards: 16,
            max_dormant_torrents: 2000,
            ..EngineConfig::default()
        },
        5,
    );
    let hash = |k: u32| {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&k.to_le_bytes());
        h[16..].copy_from_slice(&k.wrapping_mul(2_654_435_761).to_le_bytes());
        InfoHash(h)
    };
    let mut store: HashMap<InfoHash, u64> = HashMap::new();
    let tick = |e: &Engine, store: &mut HashMap<InfoHash, u64>| {
        let mut out = Vec::new();
        e.drain_completed(&mut out);
        for (h, n) in out {
            assert!(n > 0, "an empty delta for {h:?}");
            *store.entry(h).or_insert(0) += n;
        }
        let mut ask = Vec::new();
        e.take_count_lookups(&mut ask);
        let answers: Vec<_> = ask
            .iter()
            .map(|h| (*h, store.get(h).copied().unwrap_or(0)))
            .collect();
        e.merge_stored_counts(&answers);
    };
    // A scrape may read low while the count is in the store only (it queues a lookup);
    // after a store round it reads right, unless answering other lookups evicted it
    // again meanwhile, so it gets a few rounds.
    let ask = |e: &Engine, store: &mut HashMap<InfoHash, u64>, ks: &[u32], truth: &[u64]| {
        let mut left: Vec<u32> = ks.to_vec();
        for _ in 0..4 {
            left.retain(|&k| {
                let got = e.scrape(&hash(k)).completed;
                assert!(got <= truth[k as usize], "torrent {k}: {got}");
                got < truth[k as usize]
            });
            if left.is_empty() {
                return;
            }
            tick(e, store);
        }
        panic!("counts still wrong after 4 store rounds: {left:?}");
    };
    let per_hour = 100u32;
    let hours = 30 * 24u32;
    let mut truth = vec![0u64; (per_hour * hours) as usize];
    let mut rng = 0x1234_5678_u64;
    let mut next = move |n: u32| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % u64::from(n)) as u32
    };
    let peer = |k: u32, j: u32| v4(k * 4 + j, 1);
    let go = |k: u32, j: u32, left: u64, event: AnnounceEvent, now: u32| {
        let mut a = ann(peer(k, j), left, event);
        a.info_hash = hash(k);
        announce(&e, a, now);
    };
    let mut most = 0;
    for step in 0..hours * 6 {
        let (hour, phase, now) = (step / 6, step % 6, step * 600);
        let new = hour * per_hour..(hour + 1) * per_hour;
        match phase {
            0 => {
                for k in new.clone() {
                    for j in 0..1 + k % 3 {
                        go(k, j, 1, AnnounceEvent::Started, now);
                    }
                }
                // Old torrents come back: a new peer that already has it all.
                if hour > 0 {
                    for _ in 0..3 {
                        let k = next(hour * per_hour);
                        go(k, 3, 0, AnnounceEvent::Completed, now);
                        truth[k as usize] += 1;
                    }
                }
            }
            2 => {
                for k in new.clone() {
                    for j in 0..k % 3 {
                        go(k, j, 0, AnnounceEvent::Completed, now);
                        truth[k as usize] += 1;
                    }
                }
            }
            // One peer stops; the others fall silent and expire.
            3 => new
                .clone()
                .for_each(|k| go(k, 0, 0, AnnounceEvent::Stopped, now)),
            5 if hour > 0 => {
                let ks: Vec<u32> = (0..20).map(|_| next(hour * per_hour)).collect();
                ask(&e, &mut store, &ks, &truth);
            }
            _ => {}
        }
        e.purge_expired(Secs(now));
        tick(&e, &mut store);
        let bytes = e.table_memory();
        most = most.max(bytes);
        assert!(
            bytes < 256 * 1024,
            "day {}: {bytes} bytes in per-torrent tables",
            hour / 24
        );
        assert!(e.stats().torrents < 4 * u64::from(per_hour), "hour {hour}");
    }
    let s = e.stats();
    println!(
        "{} torrents over 30 days: at most {most} bytes in per-torrent tables; \
         at the end {} with peers, {} counts held, {} in the store",
        per_hour * hours,
        s.torrents,
        s.dormant,
        store.len()
    );
    assert!(s.dormant <= 2000 + 16);
    // Every torrent ever seen, asked in batches.
    let all: Vec<u32> = (0..per_hour * hours).collect();
    for batch in all.chunks(500) {
        ask(&e, &mut store, batch, &truth);
    }
}

#[test]
fn new_torrents_are_noted_once_per_swarm_and_bounded() {
    let e = Engine::new(
        EngineConfig {
            note_new_torrents: true,
            shards: 1,
            ..EngineConfig::default()
        },
        42,
    );
    let at = |h: u8| Announce {
        info_hash: InfoHash([h; 20]),
        ..ann(v4(1, 1), 10, AnnounceEvent::Started)
    };
    let mut out = Vec::new();
    announce(&e, at(1), 0);
    announce(&e, at(1), 0);
    announce(&e, at(2), 0);
    assert_eq!(e.take_new_torrents(&mut out), 0);
    assert_eq!(out, vec![InfoHash([1; 20]), InfoHash([2; 20])]);
    out.clear();
    assert_eq!(e.take_new_torrents(&mut out), 0);
    assert!(out.is_empty(), "drained");
    // A swarm that emptied and came back is noted again (its peers are new).
    announce(
        &e,
        Announce {
            event: AnnounceEvent::Stopped,
            ..at(1)
        },
        0,
    );
    e.purge_expired(Secs(0));
    announce(&e, at(1), 1);
    e.take_new_torrents(&mut out);
    assert_eq!(out, vec![InfoHash([1; 20])]);
    // Past the per-shard bound, notes are dropped and counted, never grown.
    out.clear();
    for i in 0..(MAX_NEW_NOTES as u32 + 10) {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&(i + 1000).to_le_bytes());
        announce(
            &e,
            Announce {
                info_hash: InfoHash(h),
                ..at(0)
            },
            2,
        );
    }
    assert_eq!(e.take_new_torrents(&mut out), 10);
    assert_eq!(out.len(), MAX_NEW_NOTES);
    // Off by default: nothing is noted.
    let off = engine();
    announce(&off, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    out.clear();
    off.take_new_torrents(&mut out);
    assert!(out.is_empty());
}

#[test]
fn sampled_peers_put_seeders_first_from_both_families() {
    let e = engine();
    let v6 = |n: u16| PeerAddrV6::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n), 7000);
    announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    announce(&e, ann(v4(2, 2), 0, AnnounceEvent::Started), 0);
    announce(&e, ann(v6(3), 10, AnnounceEvent::Started), 0);
    announce(&e, ann(v6(4), 0, AnnounceEvent::Started), 0);
    let mut out = Vec::new();
    e.sample_peers(&IH, 2, &mut out);
    let mut seeders = out.clone();
    seeders.sort();
    let mut want = vec![v4(2, 2).to_socket_addr(), v6(4).to_socket_addr()];
    want.sort();
    assert_eq!(seeders, want, "the two seeders, one per family");
    e.sample_peers(&IH, 10, &mut out);
    assert_eq!(out.len(), 4);
    assert!(
        out[2..].contains(&v4(1, 1).to_socket_addr()),
        "leechers after: {out:?}"
    );
    e.sample_peers(&InfoHash([9; 20]), 10, &mut out);
    assert!(out.is_empty(), "no swarm, no peers");
}

#[test]
fn a_walk_over_shards_sees_every_swarm_once() {
    let e = engine();
    let hashes: Vec<InfoHash> = (0..200u8).map(|i| InfoHash([i; 20])).collect();
    for h in &hashes {
        announce(
            &e,
            Announce {
                info_hash: *h,
                ..ann(v4(1, 1), 10, AnnounceEvent::Started)
            },
            0,
        );
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for shard in 0..e.shard_count() {
        e.torrents_in_shard(shard, 1000, &mut out);
        seen.extend_from_slice(&out);
    }
    seen.sort();
    assert_eq!(seen, hashes);
    e.torrents_in_shard(0, 1, &mut out);
    assert!(out.len() <= 1, "bounded");
}

fn accounting_engine() -> Engine {
    Engine::new(
        EngineConfig {
            accounting: true,
            shards: 1,
            ..EngineConfig::default()
        },
        7,
    )
}

/// Announces as account `user` reporting `(uploaded, downloaded)`.
fn as_user(
    e: &Engine,
    user: u32,
    peer: PeerAddrV4,
    (up, down): (u64, u64),
    left: u64,
    event: AnnounceEvent,
    now: u32,
) {
    let account = accounting::Account {
        user,
        uploaded: up,
        downloaded: down,
        may_leech: true,
    };
    let mut out = Vec::new();
    e.announce_account(&ann(peer, left, event), &account, Secs(now), &mut out, None);
}

fn drained(e: &Engine) -> Vec<accounting::Traffic> {
    let mut out = Vec::new();
    e.drain_traffic(&mut out);
    out.sort_by_key(|t| t.user);
    out
}

/// Credits follow the totals a client reports: the difference since its last
/// announce, a restart counted from zero, a stopped announce's final totals, nothing
/// for a peer first seen mid-session, a new baseline for another account at the same
/// address; drains add up per account and torrent and empty the counters.
#[test]
fn accounting_credits_deltas_per_account() {
    use AnnounceEvent::*;
    const K: u64 = 1024; // credits are whole KiB
    let e = accounting_engine();
    let (a, b) = (v4(1, 1), v4(2, 2));
    as_user(&e, 1, a, (0, 0), 100, Started, 0);
    as_user(&e, 1, a, (K * 300, K * 40), 60, None, 10);
    // Mid-session and unknown (say, after a tracker restart): a baseline, no credit.
    as_user(&e, 2, b, (K * 5000, K * 7000), 0, None, 10);
    as_user(&e, 2, b, (K * 5100, K * 7000), 0, None, 20);
    let t = drained(&e);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].user, t[0].uploaded, t[0].downloaded, t[0].seeding),
        (1, K * 300, K * 40, false)
    );
    assert_eq!(
        (t[1].user, t[1].uploaded, t[1].downloaded, t[1].seeding),
        (2, K * 100, 0, true)
    );
    assert!(drained(&e).is_empty(), "a drain empties the counters");
    // The client restarted: totals began again at zero.
    as_user(&e, 1, a, (K * 50, K * 10), 0, Completed, 30);
    // Stopped: the final totals count, then the peer is gone.
    as_user(&e, 1, a, (K * 80, K * 10), 0, Stopped, 40);
    let t = drained(&e);
    assert_eq!((t[0].uploaded, t[0].downloaded), (K * 80, K * 10));
    assert!(t[0].completed && t[0].stopped && t[0].seeding);
    assert_eq!(e.scrape(&IH).seeders, 1, "only b is left");
    // Another account announcing from b's address and port: a new baseline.
    as_user(&e, 3, b, (K * 9999, K * 9999), 0, None, 50);
    as_user(&e, 3, b, (K * 10_099, K * 9999), 0, None, 60);
    let t = drained(&e);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].user, t[0].uploaded, t[0].downloaded), (3, K * 100, 0));
    // Without accounting nothing is counted.
    let plain = engine();
    as_user(&plain, 1, a, (0, 0), 100, Started, 0);
    as_user(&plain, 1, a, (300, 40), 60, None, 10);
    assert!(drained(&plain).is_empty());
}

proptest! {
    /// However announces and stops interleave, the accounting slots stay in step with
    /// the peer records and the credits equal a model's: the difference to the last
    /// total (a lower total counting from zero), `started` crediting a new peer's
    /// totals, anything else only setting a new peer's baseline, `stopped` crediting and
    /// forgetting.
    #[test]
    fn accounting_matches_a_model(ops in proptest::collection::vec((0u32..6, 0u64..3, 0u8..4, 0u64..100_000), 1..200)) {
        let e = accounting_engine();
        let mut model: StdMap<u32, u64> = StdMap::new();
        let mut want = 0u64;
        for (n, (peer, left, ev, up)) in ops.into_iter().enumerate() {
            let event = [AnnounceEvent::None, AnnounceEvent::Started, AnnounceEvent::Stopped, AnnounceEvent::Completed][ev as usize];
            // Credits are whole KiB since the last total (everything after a restart).
            let credit = |last: u64| if up >> 10 >= last >> 10 { ((up >> 10) - (last >> 10)) << 10 } else { up };
            // A stop is credited to the byte.
            let final_credit = |last: u64| if up >> 10 >= last >> 10 { up - (last >> 10 << 10) } else { up };
            match (event, model.get(&peer).copied()) {
                (AnnounceEvent::Stopped, Some(last)) => {
                    want += final_credit(last);
                    model.remove(&peer);
                }
                (AnnounceEvent::Stopped, None) => {}
                (_, Some(last)) => {
                    want += credit(last);
                    model.insert(peer, up);
                }
                (ev, None) => {
                    if ev == AnnounceEvent::Started {
                        want += up;
                    }
                    model.insert(peer, up);
                }
            }
            as_user(&e, peer + 1, v4(peer, 1), (up, 0), left, event, n as u32);
            let shard = e.shards[0].lock();
            with_table!(&shard.torrents, |table| if let Some(t) = table.get(&IH) {
                t.v4.check_invariants(&shard.hasher);
            });
        }
        let credited: u64 = drained(&e).iter().map(|t| t.uploaded).sum();
        prop_assert_eq!(credited, want);
    }
}

/// Below the ratio minimum an account may seed and go on with a download it has, but
/// not start one: the announce is refused and nothing is recorded.
#[test]
fn a_low_ratio_stops_new_downloads_only() {
    use AnnounceEvent::{None as Regular, Started};
    let e = accounting_engine();
    let low = |up: u64, left: u64, event, peer| {
        let account = accounting::Account {
            user: 9,
            uploaded: up,
            downloaded: 0,
            may_leech: false,
        };
        let mut out = Vec::new();
        e.announce_account(&ann(peer, left, event), &account, Secs(0), &mut out, None)
    };
    let o = low(0, 100, Started, v4(1, 1));
    assert_eq!(o.rejected, Some(Rejection::RatioTooLow));
    assert_eq!(e.scrape(&IH).leechers, 0, "not recorded");
    assert_eq!(
        low(0, 0, Started, v4(2, 2)).rejected,
        None,
        "seeding is allowed"
    );
    // A download under way before the ratio fell goes on.
    as_user(&e, 9, v4(3, 3), (0, 0), 100, Started, 0);
    assert_eq!(low(10, 50, Regular, v4(3, 3)).rejected, None);
    assert_eq!(e.scrape(&IH).leechers, 1);
}

/// A slot continues a session only for the account that made it; a fresh slot (a
/// restored peer) continues none.
#[test]
fn slots_know_their_account() {
    for user in [0, 1, 2, 77, 16_777_214, 16_777_215, 16_777_216, u32::MAX] {
        let s = peers::Slot::new(user, 5 << 10, 7 << 10);
        assert!(s.is_for(user), "{user}");
        assert!(!s.is_for(user.wrapping_add(1)), "{user}");
        assert_eq!(s.kib(), (5, 7));
    }
    assert!(!peers::Slot::default().is_for(0));
    let big = peers::Slot::new(3, u64::MAX, 1 << 45);
    assert_eq!(big.kib(), ((1 << 36) - 1, 1 << 35), "64 PiB saturates");
}

/// Claimed upload faster than `max_upload_rate` since the peer's last announce is not
/// credited, and is counted as capped.
#[test]
fn upload_claims_above_the_rate_cap_are_not_credited() {
    use AnnounceEvent::{None as Regular, Started};
    let e = Engine::new(
        EngineConfig {
            accounting: true,
            max_upload_rate: 10 * 1024,
            shards: 1,
            ..EngineConfig::default()
        },
        7,
    );
    as_user(&e, 1, v4(1, 1), (0, 0), 0, Started, 100);
    // 10 s later: at most 100 KiB.
    as_user(&e, 1, v4(1, 1), (1000 * 1024, 0), 0, Regular, 110);
    let t = drained(&e);
    assert_eq!((t[0].uploaded, t[0].capped), (100 * 1024, 900 * 1024));
    // 100 s later, within the cap.
    as_user(&e, 1, v4(1, 1), (1500 * 1024, 0), 0, Regular, 210);
    let t = drained(&e);
    assert_eq!((t[0].uploaded, t[0].capped), (500 * 1024, 0));
}

/// Seeding time: the gaps between a seeder's announces, each at most the interval and
/// grace; nothing for a leecher's gaps or a peer's first announce.
#[test]
fn seeding_time_is_the_gaps_between_a_seeders_announces() {
    use AnnounceEvent::*;
    let e = accounting_engine();
    let told = u64::from(e.config.announce_interval) + u64::from(e.config.peer_grace);
    let (s, l) = (v4(1, 1), v4(2, 2));
    as_user(&e, 1, s, (0, 0), 0, Started, 0);
    as_user(&e, 1, s, (0, 0), 0, None, 100);
    // Silent for longer than it was told: only `told` of it counts.
    as_user(&e, 1, s, (0, 0), 0, None, 100 + told as u32 + 50);
    as_user(&e, 2, l, (0, 0), 10, Started, 0);
    as_user(&e, 2, l, (0, 0), 0, Completed, 60);
    // Now a seeder: the next gap counts.
    as_user(&e, 2, l, (0, 0), 0, None, 90);
    as_user(&e, 1, s, (0, 0), 0, Stopped, 100 + told as u32 + 70);
    let t = drained(&e);
    assert_eq!(t[0].seeded, 100 + told + 20);
    assert_eq!(t[1].seeded, 30);
}

fn replicating(seed: u64) -> Engine {
    Engine::new(
        EngineConfig {
            replicate: true,
            announce_interval: 100,
            peer_grace: 20,
            ..EngineConfig::default()
        },
        seed,
    )
}

/// Every change recorded since the last drain, over all shards.
fn changes(e: &Engine) -> Vec<shoal_protocol::cluster::Record> {
    let mut out = Vec::new();
    for shard in 0..e.shard_count() {
        e.drain_changes(shard, &mut out);
    }
    out
}

/// With `replicate`, announces record what other nodes must know: a peer upserted with
/// its seeder state and time left, a stopped peer removed; refused announces and
/// engines that do not replicate record nothing.
#[test]
fn announces_record_changes_for_other_nodes() {
    use shoal_protocol::cluster::{Addr, Change};
    let e = replicating(1);
    announce(&e, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Completed), 30);
    announce(&e, ann(v4(1, 1), 0, AnnounceEvent::Stopped), 40);
    announce(&e, ann(v4(9, 9), 0, AnnounceEvent::Stopped), 40);
    let got: Vec<_> = changes(&e).iter().map(|r| (r.addr, r.change)).collect();
    let a = Addr::V4(v4(1, 1));
    let up = |seeder, ttl| Change::Upsert {
        seeder,
        paused: false,
        ttl,
    };
    assert_eq!(
        got,
        vec![(a, up(false, 120)), (a, up(true, 120)), (a, Change::Remove)]
    );
    assert!(changes(&e).is_empty(), "a drain empties the list");
    let plain = engine();
    announce(&plain, ann(v4(1, 1), 10, AnnounceEvent::Started), 0);
    assert!(changes(&plain).is_empty());
}

/// Two nodes: a peer announced to one is handed to a peer announcing to the other and
/// counted in its scrapes; it is not published again, not snapshotted, expires by the
/// time it was given, leaves on a removal, and never replaces a peer the node heard
/// itself. A remote peer that announces here becomes this node's.
#[test]
fn remote_peers_are_served_counted_and_never_echoed() {
    let (a, b) = (replicating(1), replicating(2));
    announce(&a, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    let from_a = changes(&a);
    let applied = b.apply_remote(&from_a, Secs(10));
    assert_eq!((applied.upserted, applied.ignored), (1, 0));
    assert!(changes(&b).is_empty(), "no echo");
    let (o, peers) = announce(&b, ann(v4(2, 2), 10, AnnounceEvent::Started), 10);
    assert_eq!(peers, vec![v4(1, 1)], "a's seeder handed to b's leecher");
    assert_eq!((o.seeders, o.leechers), (1, 1));
    assert_eq!(
        (a.local_peers(), b.local_peers()),
        (1, 1),
        "each serves its own"
    );
    // The leecher on b reaches a the same way.
    a.apply_remote(&changes(&b), Secs(10));
    let (_, peers) = announce(&a, ann(v4(1, 1), 0, AnnounceEvent::None), 10);
    assert_eq!(peers, vec![v4(2, 2)]);

    // What b sends a joining node: every peer it holds, with the time each has left.
    let mut export = Vec::new();
    for shard in 0..b.shard_count() {
        b.export_swarms(shard, Secs(30), &mut export);
    }
    let up = |seeder| shoal_protocol::cluster::Change::Upsert {
        seeder,
        paused: false,
        ttl: 100,
    };
    let got: Vec<_> = export.iter().map(|r| (r.addr, r.change)).collect();
    assert!(
        got.contains(&(shoal_protocol::cluster::Addr::V4(v4(1, 1)), up(true))),
        "{got:?}"
    );
    assert!(
        got.contains(&(shoal_protocol::cluster::Addr::V4(v4(2, 2)), up(false))),
        "{got:?}"
    );
    assert_eq!(got.len(), 2);
    // b's snapshot holds its own peer only.
    let data = snapshot_of(&b, 10, 1_000);
    let r = replicating(3);
    let st = r.restore_snapshot(&data, Secs(0), 1_000).unwrap();
    assert_eq!(st.peers, 1);
    assert!(r.contains(&IH, &v4(2, 2)) && !r.contains(&IH, &v4(1, 1)));

    // Expires by the time a gave it (120 s from 10), as a local peer would.
    assert_eq!(b.purge_expired(Secs(129)), 0);
    assert_eq!(b.purge_expired(Secs(130)), 2, "both: b's own leecher too");
    b.apply_remote(&from_a, Secs(200));
    assert!(b.contains(&IH, &v4(1, 1)));
    // A removal drops it; a removal of a peer b never had changes nothing.
    announce(&a, ann(v4(1, 1), 0, AnnounceEvent::Stopped), 210);
    let gone = b.apply_remote(&changes(&a), Secs(210));
    assert_eq!(gone.removed, 1);
    assert!(!b.contains(&IH, &v4(1, 1)));
    assert_eq!(b.apply_remote(&from_a[..0], Secs(210)), Applied::default());

    // A change never overrides a peer b heard itself.
    announce(&b, ann(v4(5, 5), 10, AnnounceEvent::Started), 300);
    let mut claim = from_a.clone();
    claim[0].addr = shoal_protocol::cluster::Addr::V4(v4(5, 5));
    claim[0].change = shoal_protocol::cluster::Change::Remove;
    assert_eq!(b.apply_remote(&claim, Secs(300)).ignored, 1);
    assert!(b.contains(&IH, &v4(5, 5)));
    changes(&b);
    // A remote peer announcing here becomes local: published by b, kept in its snapshot.
    b.apply_remote(&from_a, Secs(300));
    announce(&b, ann(v4(1, 1), 0, AnnounceEvent::None), 301);
    assert_eq!(changes(&b).len(), 1);
    let data = snapshot_of(&b, 301, 2_000);
    let r = replicating(4);
    assert_eq!(r.restore_snapshot(&data, Secs(0), 2_000).unwrap().peers, 2);
    assert_eq!(b.counts(), (1, 2), "counters in step");
    assert_eq!(b.local_peers(), 2, "the peer that announced here is b's");
}

/// Remote peers obey the node's limits and access list.
#[test]
fn remote_peers_obey_limits_and_the_access_list() {
    let e = Engine::new(
        EngineConfig {
            replicate: true,
            max_peers_per_torrent: 1,
            ..EngineConfig::default()
        },
        5,
    );
    let src = replicating(6);
    announce(&src, ann(v4(1, 1), 0, AnnounceEvent::Started), 0);
    announce(&src, ann(v4(2, 1), 0, AnnounceEvent::Started), 0);
    let mut other = ann(v4(3, 1), 0, AnnounceEvent::Started);
    other.info_hash = InfoHash([3; 20]);
    announce(&src, other, 0);
    e.update_access_list(|l| {
        l.mode = access::AccessMode::Allow;
        l.api.insert(IH);
    });
    let applied = e.apply_remote(&changes(&src), Secs(0));
    assert_eq!(
        (applied.upserted, applied.refused, applied.ignored),
        (1, 1, 1)
    );
    assert_eq!(e.counts(), (1, 1));
}

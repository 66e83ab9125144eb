//! Measures resident memory per peer: fills the engine with N IPv4 peers spread over
//! M torrents (random info-hashes, a quarter seeders) and prints the RSS growth per peer.
//!
//! `cargo run --release -p shoal-engine --example peer_memory -- [PEERS] [TORRENTS] [private]`
//! (defaults: 10,000,000 peers over 1,000,000 torrents; `private` announces as
//! accounts with accounting on, as private mode does). Linux only (reads /proc).

use std::net::Ipv4Addr;

use shoal_engine::{
    Announce, AnnounceEvent, Engine, EngineConfig, InfoHash, PeerAddrV4, PeerId, Secs,
};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn main() {
    let private = std::env::args().any(|a| a == "private");
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter(|a| a != "private")
        .map(|a| a.replace('_', "").parse().expect("a number"))
        .collect();
    let peers = args.first().copied().unwrap_or(10_000_000);
    let torrents = args.get(1).copied().unwrap_or(1_000_000).max(1);
    let engine = Engine::new(
        EngineConfig {
            accounting: private,
            ..EngineConfig::default()
        },
        1,
    );
    let mut out = Vec::with_capacity(200);
    let before = rss_bytes();
    let mut rng = 7u64;
    let hash_of = |t: u64| {
        let mut h = [0u8; 20];
        let mut x = t;
        for chunk in h.chunks_mut(8) {
            let v = splitmix(&mut x).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        InfoHash(h)
    };
    let mut traffic = Vec::new();
    for p in 0..peers {
        // Peers spread evenly over torrents, each with a distinct address.
        let t = p % torrents;
        let ip = Ipv4Addr::from((p as u32).wrapping_mul(2_654_435_761));
        let seeder = splitmix(&mut rng).is_multiple_of(4);
        let req = Announce {
            info_hash: hash_of(t),
            peer: PeerAddrV4::new(ip, 6881),
            peer_id: PeerId([0; 20]),
            event: AnnounceEvent::Started,
            left: if seeder { 0 } else { 1 },
            num_want: Some(0),
            paused: false,
        };
        if private {
            let account = shoal_engine::accounting::Account {
                user: (p % 100_000) as u32 + 1,
                uploaded: 0,
                downloaded: 0,
                may_leech: true,
            };
            engine.announce_account(&req, &account, Secs(0), &mut out, None);
            // The server writes credits out every flush interval: drain as it would.
            if p % 100_000 == 0 {
                traffic.clear();
                engine.drain_traffic(&mut traffic);
            }
        } else {
            engine.announce(&req, Secs(0), &mut out);
        }
    }
    // Credits waiting for the store are a buffer of one flush interval's announces,
    // not peer state: written out (and given back) before measuring.
    traffic.clear();
    engine.drain_traffic(&mut traffic);
    drop(traffic);
    let after = rss_bytes();
    let s = engine.stats();
    let grown = after.saturating_sub(before);
    println!(
        "{} peers {} torrents {} rss_growth_mib {:.1} bytes_per_peer {:.1}",
        if private { "private" } else { "open" },
        s.peers_v4,
        s.torrents,
        grown as f64 / (1 << 20) as f64,
        grown as f64 / s.peers_v4.max(1) as f64
    );
}

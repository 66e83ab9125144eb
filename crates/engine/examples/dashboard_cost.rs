//! What the dashboard's scans cost: `cargo run --release -p shoal-engine --example
//! dashboard_cost`. Fills 1M torrents with 10M peers (1M of them IPv6), then times
//! `stats`, `network_counts` and `top_by(100)`, each a walk over every torrent.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use shoal_engine::{
    Announce, AnnounceEvent, Engine, EngineConfig, InfoHash, PeerAddrV4, PeerAddrV6, PeerId, Secs,
};

fn hash(t: u32) -> InfoHash {
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(&t.wrapping_mul(2_654_435_761).to_le_bytes());
    h[16..].copy_from_slice(&t.to_le_bytes());
    InfoHash(h)
}

fn main() {
    let torrents = 1_000_000u32;
    let engine = Engine::new(EngineConfig::default(), 1);
    let mut out4 = Vec::new();
    let mut out6 = Vec::new();
    for i in 0..10_000_000u32 {
        let t = i % torrents;
        if i % 10 == 0 {
            let mut a = [0u8; 16];
            a[0] = if i % 20 == 0 { 0x02 } else { 0x20 };
            a[12..].copy_from_slice(&i.to_be_bytes());
            let req = Announce {
                info_hash: hash(t),
                peer: PeerAddrV6::new(Ipv6Addr::from(a), 6881),
                peer_id: PeerId([0; 20]),
                event: AnnounceEvent::Started,
                left: u64::from(i % 4),
                num_want: Some(0),
                paused: false,
            };
            engine.announce(&req, Secs(0), &mut out6);
        } else {
            let req = Announce {
                info_hash: hash(t),
                peer: PeerAddrV4::new(Ipv4Addr::from(i), 6881),
                peer_id: PeerId([0; 20]),
                event: AnnounceEvent::Started,
                left: u64::from(i % 4),
                num_want: Some(0),
                paused: false,
            };
            engine.announce(&req, Secs(0), &mut out4);
        }
    }
    for _ in 0..3 {
        let t = Instant::now();
        let s = engine.stats();
        let a = t.elapsed();
        let t = Instant::now();
        let n = engine.network_counts();
        let b = t.elapsed();
        let t = Instant::now();
        let top = engine.top_by(100, |s| u64::from(s.seeders + s.leechers));
        let c = t.elapsed();
        println!(
            "{} torrents, {} peers ({} yggdrasil): stats {:.1} ms, network_counts {:.1} ms, top_by(100) {:.1} ms ({} rows)",
            s.torrents,
            s.peers_v4 + s.peers_v6,
            n.yggdrasil,
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3,
            top.len()
        );
    }
}

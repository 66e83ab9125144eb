//! One pass over every torrent that gathers all the figures the dashboard, the JSON API
//! and `/metrics` show: totals, peers by network, peers by client, and the busiest
//! torrents by each ordering. The server computes it off the request path and serves
//! requests from the last result, so a request never walks the swarm table.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::{Engine, EngineStats, InfoHash, NetworkCounts, PeerAddr, SwarmStats};

/// What torrent lists are ordered by (largest first, ties by info-hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBy {
    /// Seeders plus leechers.
    Peers,
    /// Seeders.
    Seeders,
    /// Leechers.
    Leechers,
    /// Completed downloads.
    Completed,
}

impl TopBy {
    /// Every ordering, in the order of [`Summary::top`].
    pub const ALL: [TopBy; 4] = [
        TopBy::Peers,
        TopBy::Seeders,
        TopBy::Leechers,
        TopBy::Completed,
    ];

    /// The value a torrent is ordered by.
    pub fn key(self, s: &SwarmStats) -> u64 {
        match self {
            TopBy::Peers => u64::from(s.seeders) + u64::from(s.leechers),
            TopBy::Seeders => u64::from(s.seeders),
            TopBy::Leechers => u64::from(s.leechers),
            TopBy::Completed => s.completed,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The figures of one pass over every torrent.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Totals.
    pub stats: EngineStats,
    /// Peers by network and completed downloads.
    pub networks: NetworkCounts,
    /// Peers per client code (`shoal_protocol::clients`), 256 entries.
    pub clients: Vec<u64>,
    /// The busiest torrents by each [`TopBy`] (indexed in [`TopBy::ALL`] order), at most
    /// the `top` asked for, largest first.
    pub top: [Vec<(InfoHash, SwarmStats)>; 4],
}

impl Summary {
    /// The first `limit` torrents by `by`.
    pub fn top(&self, by: TopBy, limit: usize) -> &[(InfoHash, SwarmStats)] {
        let list = &self.top[by.index()];
        &list[..limit.min(list.len())]
    }
}

/// A candidate for a top list; the heap keeps the worst on top so it is the one pushed
/// out.
struct Entry {
    key: u64,
    hash: InfoHash,
    stats: SwarmStats,
}

impl Entry {
    /// Larger is better: a larger key, then a smaller info-hash.
    fn rank(&self) -> (u64, Reverse<InfoHash>) {
        (self.key, Reverse(self.hash))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// Offers a torrent to every top list, keeping each at most `top` long.
fn offer(heaps: &mut [BinaryHeap<Reverse<Entry>>; 4], top: usize, hash: InfoHash, st: SwarmStats) {
    if top == 0 {
        return;
    }
    for by in TopBy::ALL {
        let heap = &mut heaps[by.index()];
        let e = Entry {
            key: by.key(&st),
            hash,
            stats: st,
        };
        if heap.len() < top {
            heap.push(Reverse(e));
        } else if heap.peek().is_some_and(|w| e > w.0) {
            heap.pop();
            heap.push(Reverse(e));
        }
    }
}

impl Engine {
    /// Walks every torrent once (locking one shard at a time) and returns the figures,
    /// with up to `top` torrents per ordering. O(torrents × log top).
    pub fn summary(&self, top: usize) -> Summary {
        let mut s = Summary {
            clients: vec![0; 256],
            ..Summary::default()
        };
        let mut heaps: [BinaryHeap<Reverse<Entry>>; 4] = Default::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            s.stats.torrents += shard.torrents.len() as u64;
            with_table!(&shard.torrents, |table| {
                for (h, t) in table.iter() {
                    let st = t.stats();
                    s.stats.peers_v4 += t.v4.len() as u64;
                    s.stats.peers_v6 += t.v6.len() as u64;
                    s.stats.seeders += u64::from(st.seeders);
                    s.stats.leechers += u64::from(st.leechers);
                    s.networks.ipv4 += t.v4.len() as u64;
                    s.networks.completed += st.completed;
                    for (p, _, _) in t.v4.iter() {
                        s.clients[usize::from(p.client)] += 1;
                    }
                    for (p, _, _) in t.v6.iter() {
                        s.clients[usize::from(p.client)] += 1;
                        // Yggdrasil addresses are 0200::/7.
                        if p.addr().as_bytes()[0] & 0xfe == 0x02 {
                            s.networks.yggdrasil += 1;
                        } else {
                            s.networks.ipv6 += 1;
                        }
                    }
                    offer(&mut heaps, top, *h, st);
                }
            });
            // Peerless torrents keep only their completed count, in the dormant table.
            s.stats.dormant += shard.dormant.len() as u64;
            for (h, completed) in shard.dormant.iter() {
                s.networks.completed += completed;
                let st = SwarmStats {
                    completed,
                    ..SwarmStats::default()
                };
                offer(&mut heaps, top, h, st);
            }
        }
        for by in TopBy::ALL {
            let heap = std::mem::take(&mut heaps[by.index()]);
            // Ascending by Reverse = worst first; reverse for largest first.
            let mut list: Vec<_> = heap
                .into_sorted_vec()
                .into_iter()
                .map(|Reverse(e)| (e.hash, e.stats))
                .collect();
            list.truncate(top);
            s.top[by.index()] = list;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Announce, AnnounceEvent, EngineConfig, PeerAddrV4, PeerAddrV6, PeerId, Secs};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn announce(e: &Engine, hash: u8, i: u32, left: u64, event: AnnounceEvent) {
        let req = Announce {
            info_hash: InfoHash([hash; 20]),
            peer: PeerAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 6881),
            peer_id: PeerId(*b"-qB4650-000000000000"),
            event,
            left,
            num_want: Some(0),
            paused: false,
        };
        e.announce(&req, Secs(1), &mut Vec::new());
    }

    #[test]
    fn one_pass_matches_the_separate_walks() {
        let e = Engine::new(EngineConfig::default(), 7);
        for hash in 1..=40u8 {
            for i in 0..u32::from(hash % 7) {
                let left = if i % 2 == 0 { 0 } else { 100 };
                announce(
                    &e,
                    hash,
                    u32::from(hash) * 100 + i,
                    left,
                    AnnounceEvent::None,
                );
            }
            for i in 0..u32::from(hash % 3) {
                announce(&e, hash, 9000 + i, 0, AnnounceEvent::Completed);
            }
        }
        let ygg = Announce {
            info_hash: InfoHash([3; 20]),
            peer: PeerAddrV6::new("201:1::1".parse::<Ipv6Addr>().unwrap(), 1),
            peer_id: PeerId(*b"-TR3000-000000000000"),
            event: AnnounceEvent::None,
            left: 5,
            num_want: Some(0),
            paused: false,
        };
        e.announce(&ygg, Secs(1), &mut Vec::new());
        let s = e.summary(10);
        assert_eq!(s.stats, e.stats());
        assert_eq!(s.networks, e.network_counts());
        assert_eq!(s.clients, e.client_counts());
        for by in TopBy::ALL {
            assert_eq!(
                s.top(by, 10),
                &e.top_by(10, |st| by.key(st))[..],
                "top by {by:?}"
            );
            assert_eq!(s.top(by, 3), &e.top_by(3, |st| by.key(st))[..]);
        }
        assert!(e.summary(0).top.iter().all(Vec::is_empty));
        // Once every peer has expired, the completed counts live in the dormant table
        // and the summary still agrees with the separate walks.
        e.purge_expired(Secs(1_000_000));
        let s = e.summary(10);
        assert!(s.stats.dormant > 0);
        assert_eq!(s.stats, e.stats());
        assert_eq!(s.networks, e.network_counts());
        let by = TopBy::Completed;
        assert_eq!(s.top(by, 10), &e.top_by(10, |st| by.key(st))[..]);
    }
}

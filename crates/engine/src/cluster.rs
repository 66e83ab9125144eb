//! Swarms shared by the nodes of a cluster: what this node's announces changed, for the
//! others ([`Engine::drain_changes`]), and what theirs changed, merged here as remote
//! peers ([`Engine::apply_remote`]).
//!
//! A remote peer lives in the same lists as local ones, marked remote: it is handed out
//! and counted in scrapes like any other, expires by the time its node gave it, is never
//! published again (no echo between nodes) and is not written to this node's swarm
//! snapshot. A change never overrides a local peer: this node heard that peer itself. A
//! remote peer that announces here becomes local. Completions are counted only by the
//! node that saw them (the store sums the nodes' counts).

use shoal_protocol::cluster::{Addr, Change, Record};

use crate::peers::{Peer, Tail};
use crate::{Engine, Family, InfoHash, Secs, Shard, Table, Torrent};

/// Most changes a shard holds between two drains (a node drains every second; past
/// this, changes are dropped and counted: the peers they named refresh at their next
/// announce, or expire on the other nodes).
pub(crate) const MAX_CHANGES: usize = 1 << 16;

/// What [`Engine::apply_remote`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Remote peers added or refreshed.
    pub upserted: u64,
    /// Remote peers removed.
    pub removed: u64,
    /// Changes left alone: about a peer this node holds as its own, a removal of a peer
    /// it does not hold, or a torrent the access list refuses.
    pub ignored: u64,
    /// Changes refused by a limit (`max_torrents`, `max_peers`, `max_peers_per_torrent`).
    pub refused: u64,
}

impl Engine {
    /// Peers that announced to this node, not those other nodes told it of: what it
    /// serves itself. Walks every peer: for the cluster's status every few seconds.
    pub fn local_peers(&self) -> u64 {
        let mut n = 0;
        for shard in self.shards.iter() {
            let guard = shard.lock();
            with_table!(&guard.torrents, |table| {
                for t in table.values() {
                    n += (t.v4.local() + t.v6.local()) as u64;
                }
            });
        }
        n
    }

    /// Moves the changes recorded in shard `shard` (modulo the shard count) since the
    /// last call into `out` (appended); returns how many changes were dropped since the
    /// start because a shard's list was full. Recorded only with `replicate`.
    pub fn drain_changes(&self, shard: usize, out: &mut Vec<Record>) -> u64 {
        let mut guard = self.shards[shard % self.shards.len()].lock();
        out.append(&mut guard.changes);
        if guard.changes.capacity() > 4096 {
            guard.changes = Vec::new();
        }
        self.changes_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Appends every peer in shard `shard` (modulo the shard count) to `out` as
    /// upserts with the seconds they have left at `now`: what a joining node takes from
    /// a running one. Remote peers are included: a node holds the cluster's swarms, so
    /// one answer is all a joining node needs (their own nodes refresh or remove them
    /// there later, as here).
    pub fn export_swarms(&self, shard: usize, now: Secs, out: &mut Vec<Record>) {
        let guard = self.shards[shard % self.shards.len()].lock();
        with_table!(&guard.torrents, |table| {
            for (h, t) in table.iter() {
                let ttl =
                    |expires: u32| u16::try_from(expires.saturating_sub(now.0)).unwrap_or(u16::MAX);
                for (p, seeder, _) in t.v4.iter() {
                    out.push(Record {
                        info_hash: *h,
                        addr: Addr::V4(*p.addr()),
                        change: Change::Upsert {
                            seeder,
                            paused: p.paused(),
                            ttl: ttl(p.expires),
                        },
                    });
                }
                for (p, seeder, _) in t.v6.iter() {
                    out.push(Record {
                        info_hash: *h,
                        addr: Addr::V6(*p.addr()),
                        change: Change::Upsert {
                            seeder,
                            paused: p.paused(),
                            ttl: ttl(p.expires),
                        },
                    });
                }
            }
        });
    }

    /// Merges another node's changes as remote peers: an upsert adds or refreshes the
    /// peer with `ttl` seconds left from `now`, a removal drops it.
    pub fn apply_remote(&self, records: &[Record], now: Secs) -> Applied {
        let mut applied = Applied::default();
        let access = self.access_list();
        for r in records {
            if !access.allows(&r.info_hash) {
                applied.ignored += 1;
                continue;
            }
            let mut shard = self.shard(&r.info_hash).lock();
            let Shard {
                torrents,
                hasher,
                dormant,
                ..
            } = &mut *shard;
            let outcome = with_table!(torrents, |table| match r.addr {
                Addr::V4(a) =>
                    self.apply_one(table, hasher, dormant, r.info_hash, a, r.change, now),
                Addr::V6(a) =>
                    self.apply_one(table, hasher, dormant, r.info_hash, a, r.change, now),
            });
            match outcome {
                Outcome::Upserted => applied.upserted += 1,
                Outcome::Removed => applied.removed += 1,
                Outcome::Ignored => applied.ignored += 1,
                Outcome::Refused => applied.refused += 1,
            }
        }
        applied
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_one<A: Family, T: Tail>(
        &self,
        table: &mut Table<T>,
        hasher: &foldhash::fast::FixedState,
        dormant: &mut crate::dormant::Dormant,
        h: InfoHash,
        addr: A,
        change: Change,
        now: Secs,
    ) -> Outcome {
        use std::sync::atomic::Ordering::Relaxed;
        let Change::Upsert {
            seeder,
            paused,
            ttl,
        } = change
        else {
            let Some(t) = table.get_mut(&h) else {
                return Outcome::Ignored;
            };
            let list = A::list_mut(t);
            return match list.find(hasher, &addr) {
                Some(i) if list.get_mut(i).is_remote() => {
                    list.remove(hasher, i);
                    self.forget(0, 1);
                    Outcome::Removed
                }
                _ => Outcome::Ignored,
            };
        };
        let expires = now.0.saturating_add(u32::from(ttl));
        let torrent = match table.entry(h) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let c = &self.config;
                if c.max_torrents > 0 && self.torrent_count.load(Relaxed) >= c.max_torrents {
                    return Outcome::Refused;
                }
                self.torrent_count.fetch_add(1, Relaxed);
                // Back with the count it had here, if any; a count only the store holds
                // is looked up when a local announce or scrape asks for it.
                let completed = dormant.take(hasher, &h).unwrap_or(0);
                v.insert(Torrent {
                    completed,
                    ..Torrent::default()
                })
            }
        };
        let list = A::list_mut(torrent);
        let i = match list.find(hasher, &addr) {
            Some(i) if !list.get_mut(i).is_remote() => return Outcome::Ignored,
            Some(i) => {
                list.get_mut(i).expires = expires;
                i
            }
            None => {
                if self.admit_peer(list.len()).is_some() {
                    return Outcome::Refused;
                }
                self.peer_count.fetch_add(1, Relaxed);
                let mut peer = Peer::<A, T>::new(addr, expires);
                peer.set_remote(true);
                // Ids are kept in step when the engine keeps them: a remote peer's is
                // not known.
                let id = self.config.store_peer_ids.then_some(crate::PeerId([0; 20]));
                list.insert(hasher, peer, false, id)
            }
        };
        let i = list.set_seeder(hasher, i, seeder);
        list.set_paused(i, paused && !seeder);
        Outcome::Upserted
    }
}

enum Outcome {
    Upserted,
    Removed,
    Ignored,
    Refused,
}

//! WebTorrent swarms: peers that can only be reached through the tracker's relay.
//!
//! A WebTorrent peer has no address another peer could dial: it is a WebSocket
//! connection on which the tracker relays WebRTC offers and answers. So these swarms
//! are kept apart from the UDP/HTTP ones (whose peers cannot speak WebRTC), keyed by
//! peer id, and each member carries a handle the front end uses to reach its
//! connection (a channel sender in the server; anything `Clone` here). Like the rest
//! of the engine this does no I/O and reads no clock.
//!
//! Rules:
//! - a peer is keyed by peer id within its torrent, and the id belongs to the
//!   connection that announced it first until that membership ends: another
//!   connection announcing the same id is refused ([`Rejection::PeerIdInUse`]), since
//!   relayed offers carry the id and answers to them are routed by it. Only once the
//!   holder left (`stopped`, closed) or expired may another connection take the id —
//!   a client that reconnects after its old connection closed gets its id back;
//! - offers go to distinct random members other than the announcer, and a seeder's
//!   offers only to leechers;
//! - `stopped`, the connection closing ([`WsSwarms::remove`]) or silence past
//!   `interval + grace` ([`WsSwarms::purge_expired`]) ends membership;
//! - `completed` counts once per peer, and lives as long as the swarm has members.
//!
//! Which offers a connection was sent, and so which answers it may send back, is the
//! front end's to remember: [`PendingOffers`] is a bounded record of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::rng::Rng;
use crate::{AnnounceEvent, InfoHash, PeerId, Rejection, Secs};

/// WebTorrent swarm settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// Seconds between announces that clients are told.
    pub announce_interval: u32,
    /// Extra seconds past the interval before a silent peer is dropped.
    pub peer_grace: u32,
    /// Most torrents (0 = no limit).
    pub max_torrents: u64,
    /// Most peers over all torrents (0 = no limit).
    pub max_peers: u64,
    /// Most peers in one swarm (0 = no limit).
    pub max_peers_per_torrent: u32,
    /// Number of independently locked shards (rounded up to a power of two).
    pub shards: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            announce_interval: 120,
            peer_grace: 60,
            max_torrents: 0,
            max_peers: 0,
            max_peers_per_torrent: 0,
            shards: 16,
        }
    }
}

/// What a WebTorrent announce asks of the swarms.
#[derive(Debug, Clone, Copy)]
pub struct WsJoin {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// The connection it came on (ids are the caller's; unique per connection).
    pub conn: u64,
    /// What happened.
    pub event: AnnounceEvent,
    /// Whether the peer has the whole torrent.
    pub seeder: bool,
    /// How many members to pick as offer targets.
    pub offers: usize,
}

/// What an announce did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WsOutcome {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Seeders in the swarm.
    pub complete: u32,
    /// Leechers in the swarm.
    pub incomplete: u32,
    /// Times a peer completed.
    pub downloaded: u64,
    /// The peer became a member with this announce (the connection should remember
    /// the swarm, to leave it when it closes).
    pub joined: bool,
    /// Set when a limit kept the peer out (it still gets counts; offers still go out).
    pub rejected: Option<Rejection>,
}

struct Member<H> {
    id: PeerId,
    conn: u64,
    handle: H,
    expires: u32,
    seeder: bool,
    completed_counted: bool,
}

struct Swarm<H> {
    members: Vec<Member<H>>,
    /// Positions by peer id, kept once the swarm outgrows a scan.
    index: Option<HashMap<PeerId, u32, FixedState>>,
    seeders: u32,
    completed: u64,
}

/// Swarms larger than this get an index of positions by peer id.
const INDEX_AT: usize = 32;

impl<H> Default for Swarm<H> {
    fn default() -> Self {
        Swarm {
            members: Vec::new(),
            index: None,
            seeders: 0,
            completed: 0,
        }
    }
}

impl<H> Swarm<H> {
    fn find(&self, id: &PeerId) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(id).map(|&i| i as usize),
            None => self.members.iter().position(|m| m.id == *id),
        }
    }

    fn leechers(&self) -> u32 {
        self.members.len() as u32 - self.seeders
    }

    fn push(&mut self, m: Member<H>, hasher: &FixedState) {
        let id = m.id;
        self.members.push(m);
        let n = self.members.len();
        match &mut self.index {
            Some(ix) => {
                ix.insert(id, (n - 1) as u32);
            }
            None if n > INDEX_AT => {
                let mut ix = HashMap::with_capacity_and_hasher(n * 2, hasher.clone());
                for (i, m) in self.members.iter().enumerate() {
                    ix.insert(m.id, i as u32);
                }
                self.index = Some(ix);
            }
            None => {}
        }
    }

    fn remove_at(&mut self, i: usize) {
        let m = self.members.swap_remove(i);
        if m.seeder {
            self.seeders -= 1;
        }
        if let Some(ix) = &mut self.index {
            ix.remove(&m.id);
            if let Some(moved) = self.members.get(i) {
                ix.insert(moved.id, i as u32);
            }
            if self.members.len() < INDEX_AT / 2 {
                self.index = None;
            }
        }
    }
}

struct Shard<H> {
    torrents: HashMap<InfoHash, Swarm<H>, FixedState>,
    hasher: FixedState,
    rng: Rng,
}

/// Every WebTorrent swarm, sharded by info-hash. `H` reaches a member's connection.
pub struct WsSwarms<H> {
    shards: Box<[Mutex<Shard<H>>]>,
    mask: usize,
    config: WsConfig,
    torrents: AtomicU64,
    peers: AtomicU64,
    seeders: AtomicU64,
}

/// Totals over all WebTorrent swarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WsStats {
    /// Torrents with at least one member.
    pub torrents: u64,
    /// Members.
    pub peers: u64,
    /// Members with the whole torrent.
    pub seeders: u64,
}

impl<H: Clone> WsSwarms<H> {
    /// Empty swarms; `seed` keys the hash tables and target choice.
    pub fn new(config: WsConfig, seed: u64) -> Self {
        let n = config.shards.clamp(1, 1 << 12).next_power_of_two();
        let mut seeder = Rng::new(seed ^ 0x5753_5741_524d_5321);
        let shards = (0..n)
            .map(|_| {
                Mutex::new(Shard {
                    torrents: HashMap::with_hasher(FixedState::with_seed(seeder.next_u64())),
                    hasher: FixedState::with_seed(seeder.next_u64()),
                    rng: Rng::new(seeder.next_u64()),
                })
            })
            .collect();
        WsSwarms {
            shards,
            mask: n - 1,
            config,
            torrents: AtomicU64::new(0),
            peers: AtomicU64::new(0),
            seeders: AtomicU64::new(0),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }

    fn shard(&self, h: &InfoHash) -> &Mutex<Shard<H>> {
        let b = &h.0;
        let i = u32::from_le_bytes([b[16], b[17], b[18], b[19]]) as usize;
        &self.shards[i & self.mask]
    }

    /// Records an announce from `handle`'s connection and fills `targets` (cleared
    /// first) with up to `req.offers` members to send its offers to.
    pub fn announce(
        &self,
        req: &WsJoin,
        handle: &H,
        now: Secs,
        targets: &mut Vec<(PeerId, H)>,
    ) -> WsOutcome {
        targets.clear();
        let interval = self.config.announce_interval;
        let mut guard = self.shard(&req.info_hash).lock();
        let Shard {
            torrents,
            hasher,
            rng,
        } = &mut *guard;
        let counts = |s: &Swarm<H>, joined, rejected| WsOutcome {
            interval,
            complete: s.seeders,
            incomplete: s.leechers(),
            downloaded: s.completed,
            joined,
            rejected,
        };
        if req.event == AnnounceEvent::Stopped {
            let Some(swarm) = torrents.get_mut(&req.info_hash) else {
                return WsOutcome {
                    interval,
                    ..Default::default()
                };
            };
            if let Some(i) = swarm.find(&req.peer_id) {
                if swarm.members[i].conn == req.conn {
                    self.forget(&swarm.members[i]);
                    swarm.remove_at(i);
                }
            }
            let out = counts(swarm, false, None);
            if swarm.members.is_empty() {
                torrents.remove(&req.info_hash);
                self.torrents.fetch_sub(1, Relaxed);
            }
            return out;
        }
        let swarm = match torrents.entry(req.info_hash) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let max = self.config.max_torrents;
                if max > 0 && self.torrents.load(Relaxed) >= max {
                    return WsOutcome {
                        interval,
                        rejected: Some(Rejection::TooManyTorrents),
                        ..Default::default()
                    };
                }
                self.torrents.fetch_add(1, Relaxed);
                v.insert(Swarm::default())
            }
        };
        let expires = now
            .0
            .saturating_add(interval)
            .saturating_add(self.config.peer_grace);
        let mut joined = false;
        let mut rejected = None;
        let own = match swarm.find(&req.peer_id) {
            Some(i) => {
                let m = &mut swarm.members[i];
                if m.conn != req.conn {
                    if m.expires >= now.0 {
                        // Someone else's live id: taking it would hand them the
                        // answers meant for the holder. Nothing changes, nothing is
                        // relayed.
                        return counts(swarm, false, Some(Rejection::PeerIdInUse));
                    }
                    // The holder went silent past its expiry (a purge would drop it
                    // anyway): the id is free again, so this is a reconnect.
                    m.conn = req.conn;
                    m.handle = handle.clone();
                    joined = true;
                }
                m.expires = expires;
                if m.seeder != req.seeder {
                    m.seeder = req.seeder;
                    if req.seeder {
                        swarm.seeders += 1;
                        self.seeders.fetch_add(1, Relaxed);
                    } else {
                        swarm.seeders -= 1;
                        self.seeders.fetch_sub(1, Relaxed);
                    }
                }
                Some(i)
            }
            None => {
                let c = &self.config;
                if c.max_peers_per_torrent > 0
                    && swarm.members.len() >= c.max_peers_per_torrent as usize
                {
                    rejected = Some(Rejection::SwarmFull);
                    None
                } else if c.max_peers > 0 && self.peers.load(Relaxed) >= c.max_peers {
                    rejected = Some(Rejection::TooManyPeers);
                    None
                } else {
                    self.peers.fetch_add(1, Relaxed);
                    if req.seeder {
                        swarm.seeders += 1;
                        self.seeders.fetch_add(1, Relaxed);
                    }
                    swarm.push(
                        Member {
                            id: req.peer_id,
                            conn: req.conn,
                            handle: handle.clone(),
                            expires,
                            seeder: req.seeder,
                            completed_counted: false,
                        },
                        hasher,
                    );
                    joined = true;
                    Some(swarm.members.len() - 1)
                }
            }
        };
        if let Some(i) = own {
            if req.event == AnnounceEvent::Completed && !swarm.members[i].completed_counted {
                swarm.members[i].completed_counted = true;
                swarm.completed += 1;
            }
        }
        if req.offers > 0 {
            pick_targets(swarm, rng, &req.peer_id, req.seeder, req.offers, targets);
        }
        counts(swarm, joined, rejected)
    }

    /// The connection handle of `peer_id` in a swarm, for relaying an answer to it.
    pub fn member(&self, info_hash: &InfoHash, peer_id: &PeerId) -> Option<H> {
        let guard = self.shard(info_hash).lock();
        let swarm = guard.torrents.get(info_hash)?;
        swarm.find(peer_id).map(|i| swarm.members[i].handle.clone())
    }

    /// Ends `peer_id`'s membership if connection `conn` still holds it (a closing
    /// connection calls this for every swarm it joined).
    pub fn remove(&self, info_hash: &InfoHash, peer_id: &PeerId, conn: u64) -> bool {
        let mut guard = self.shard(info_hash).lock();
        let Some(swarm) = guard.torrents.get_mut(info_hash) else {
            return false;
        };
        let Some(i) = swarm
            .find(peer_id)
            .filter(|&i| swarm.members[i].conn == conn)
        else {
            return false;
        };
        self.forget(&swarm.members[i]);
        swarm.remove_at(i);
        if swarm.members.is_empty() {
            guard.torrents.remove(info_hash);
            self.torrents.fetch_sub(1, Relaxed);
        }
        true
    }

    fn forget(&self, m: &Member<H>) {
        self.peers.fetch_sub(1, Relaxed);
        if m.seeder {
            self.seeders.fetch_sub(1, Relaxed);
        }
    }

    /// A torrent's counters (zeros when unknown).
    pub fn scrape(&self, info_hash: &InfoHash) -> (u32, u32, u64) {
        let guard = self.shard(info_hash).lock();
        guard
            .torrents
            .get(info_hash)
            .map(|s| (s.seeders, s.leechers(), s.completed))
            .unwrap_or_default()
    }

    /// Every torrent's counters, at most `limit`; true when all fitted.
    pub fn scrape_all(&self, out: &mut Vec<(InfoHash, u32, u32, u64)>, limit: usize) -> bool {
        for shard in self.shards.iter() {
            let guard = shard.lock();
            for (h, s) in guard.torrents.iter() {
                if out.len() >= limit {
                    return false;
                }
                out.push((*h, s.seeders, s.leechers(), s.completed));
            }
        }
        true
    }

    /// Drops members silent past their expiry; returns how many.
    pub fn purge_expired(&self, now: Secs) -> u64 {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut guard = shard.lock();
            let mut emptied = 0;
            guard.torrents.retain(|_, s| {
                let mut i = 0;
                while i < s.members.len() {
                    if s.members[i].expires < now.0 {
                        self.forget(&s.members[i]);
                        s.remove_at(i);
                        dropped += 1;
                    } else {
                        i += 1;
                    }
                }
                let keep = !s.members.is_empty();
                if !keep {
                    emptied += 1;
                }
                keep
            });
            self.torrents.fetch_sub(emptied, Relaxed);
            if guard.torrents.capacity() > 64
                && guard.torrents.len() < guard.torrents.capacity() / 4
            {
                guard.torrents.shrink_to_fit();
            }
        }
        dropped
    }

    /// Totals, from counters (no locking).
    pub fn stats(&self) -> WsStats {
        WsStats {
            torrents: self.torrents.load(Relaxed),
            peers: self.peers.load(Relaxed),
            seeders: self.seeders.load(Relaxed),
        }
    }
}

/// Up to `n` distinct members other than `own`, at random (a random start and a stride
/// coprime to the swarm size visit every member once); a seeder only gets leechers.
fn pick_targets<H: Clone>(
    swarm: &Swarm<H>,
    rng: &mut Rng,
    own: &PeerId,
    seeder: bool,
    n: usize,
    out: &mut Vec<(PeerId, H)>,
) {
    let len = swarm.members.len();
    if len == 0 {
        return;
    }
    let start = rng.below(len);
    let mut stride = 1 + rng.below(len);
    while gcd(stride, len) != 1 {
        stride += 1;
    }
    let mut i = start;
    for _ in 0..len {
        let m = &swarm.members[i];
        if m.id != *own && !(seeder && m.seeder) {
            out.push((m.id, m.handle.clone()));
            if out.len() == n {
                return;
            }
        }
        i = (i + stride) % len;
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The offers a connection was sent and may answer: a small ring of the latest ones,
/// each valid for `ttl_ms`. An answer is relayed only if it names an offer recorded
/// here, from the peer that made it, so a client cannot send answers to peers that
/// never offered it anything. Empty until the first offer; never larger than its
/// capacity.
#[derive(Debug, Default)]
pub struct PendingOffers {
    entries: Vec<PendingOffer>,
    next: usize,
}

#[derive(Debug, Clone, Copy)]
struct PendingOffer {
    info_hash: InfoHash,
    from: PeerId,
    offer_id: [u8; 20],
    expires_ms: u64,
}

impl PendingOffers {
    /// Remembers an offer from `from` in `info_hash` relayed at `now_ms`, replacing
    /// the oldest entry once `capacity` are held.
    pub fn record(
        &mut self,
        info_hash: InfoHash,
        from: PeerId,
        offer_id: [u8; 20],
        now_ms: u64,
        ttl_ms: u64,
        capacity: usize,
    ) {
        let e = PendingOffer {
            info_hash,
            from,
            offer_id,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        let capacity = capacity.max(1);
        if self.entries.len() < capacity {
            self.entries.push(e);
        } else {
            self.entries[self.next % capacity] = e;
            self.next = (self.next + 1) % capacity;
        }
    }

    /// Consumes the record of the offer `offer_id` from `to` in `info_hash`, if one
    /// is held and still valid at `now_ms`.
    pub fn take(
        &mut self,
        info_hash: &InfoHash,
        to: &PeerId,
        offer_id: &[u8; 20],
        now_ms: u64,
    ) -> bool {
        let found = self
            .entries
            .iter()
            .position(|e| e.offer_id == *offer_id && e.from == *to && e.info_hash == *info_hash);
        let Some(i) = found else {
            return false;
        };
        let valid = self.entries[i].expires_ms >= now_ms;
        // Spent: it can match nothing again, and the ring order stays as it is.
        self.entries[i].expires_ms = 0;
        self.entries[i].from = PeerId([0; 20]);
        self.shrink(now_ms);
        valid
    }

    /// Frees the ring once every entry has expired.
    fn shrink(&mut self, now_ms: u64) {
        if self.entries.iter().all(|e| e.expires_ms < now_ms) {
            *self = PendingOffers::default();
        }
    }

    /// Entries held (valid or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops everything once all entries expired (call when idle).
    pub fn expire(&mut self, now_ms: u64) {
        self.shrink(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(hash: u8, peer: u8, conn: u64, seeder: bool, offers: usize) -> WsJoin {
        WsJoin {
            info_hash: InfoHash([hash; 20]),
            peer_id: PeerId([peer; 20]),
            conn,
            event: AnnounceEvent::Started,
            seeder,
            offers,
        }
    }

    #[test]
    fn offers_go_to_others_never_self() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 1);
        let mut t = Vec::new();
        let o = s.announce(&join(1, 1, 1, false, 5), &1, Secs(0), &mut t);
        assert!(o.joined);
        assert!(t.is_empty(), "alone in the swarm: nobody to offer to");
        s.announce(&join(1, 2, 2, false, 5), &2, Secs(0), &mut t);
        assert_eq!(t, vec![(PeerId([1; 20]), 1)]);
        for p in 3..=10u8 {
            s.announce(
                &join(1, p, u64::from(p), false, 0),
                &u64::from(p),
                Secs(0),
                &mut t,
            );
        }
        for _ in 0..50 {
            let o = s.announce(&join(1, 4, 4, false, 5), &4, Secs(1), &mut t);
            assert!(!o.joined);
            assert_eq!(t.len(), 5);
            assert!(t.iter().all(|(id, _)| *id != PeerId([4; 20])));
            let mut ids: Vec<_> = t.iter().map(|x| x.0 .0[0]).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 5, "targets are distinct");
        }
        let o = s.announce(&join(1, 4, 4, false, 0), &4, Secs(1), &mut t);
        assert_eq!((o.complete, o.incomplete), (0, 10));
        assert_eq!(s.stats().peers, 10);
    }

    #[test]
    fn seeders_offer_only_to_leechers() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 2);
        let mut t = Vec::new();
        for p in 1..=6u8 {
            s.announce(
                &join(1, p, u64::from(p), p <= 3, 0),
                &u64::from(p),
                Secs(0),
                &mut t,
            );
        }
        for _ in 0..20 {
            let o = s.announce(&join(1, 1, 1, true, 10), &1, Secs(0), &mut t);
            assert_eq!((o.complete, o.incomplete), (3, 3));
            let mut ids: Vec<u8> = t.iter().map(|x| x.0 .0[0]).collect();
            ids.sort();
            assert_eq!(ids, vec![4, 5, 6]);
        }
        // A leecher offers to anyone.
        s.announce(&join(1, 4, 4, false, 10), &4, Secs(0), &mut t);
        assert_eq!(t.len(), 5);
        assert_eq!(s.stats().seeders, 3);
    }

    #[test]
    fn membership_ends_on_stop_close_and_expiry() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 3);
        let mut t = Vec::new();
        s.announce(&join(1, 1, 10, false, 0), &10, Secs(0), &mut t);
        s.announce(&join(1, 2, 20, true, 0), &20, Secs(0), &mut t);
        s.announce(&join(2, 1, 10, false, 0), &10, Secs(0), &mut t);
        assert_eq!(
            s.stats(),
            WsStats {
                torrents: 2,
                peers: 3,
                seeders: 1
            }
        );
        // Another connection cannot stop or remove someone else's membership.
        let mut stop = join(1, 1, 99, false, 0);
        stop.event = AnnounceEvent::Stopped;
        s.announce(&stop, &99, Secs(0), &mut t);
        assert!(!s.remove(&InfoHash([1; 20]), &PeerId([1; 20]), 99));
        assert_eq!(s.stats().peers, 3);
        stop.conn = 10;
        let o = s.announce(&stop, &10, Secs(0), &mut t);
        assert_eq!((o.complete, o.incomplete), (1, 0));
        assert!(s.remove(&InfoHash([2; 20]), &PeerId([1; 20]), 10));
        assert_eq!(
            s.stats(),
            WsStats {
                torrents: 1,
                peers: 1,
                seeders: 1
            }
        );
        assert_eq!(s.member(&InfoHash([1; 20]), &PeerId([2; 20])), Some(20));
        let grace = 120 + 60;
        assert_eq!(s.purge_expired(Secs(grace)), 0);
        assert_eq!(s.purge_expired(Secs(grace + 1)), 1);
        assert_eq!(s.stats(), WsStats::default());
        assert_eq!(s.member(&InfoHash([1; 20]), &PeerId([2; 20])), None);
    }

    #[test]
    fn a_live_peer_id_cannot_be_taken_by_another_connection() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 4);
        let mut t = Vec::new();
        let h = InfoHash([1; 20]);
        let x = PeerId([1; 20]);
        s.announce(&join(1, 1, 10, false, 0), &10, Secs(0), &mut t);
        s.announce(&join(1, 2, 20, false, 0), &20, Secs(0), &mut t);
        // Connection 11 announces the id connection 10 holds, with offers and as a
        // completed seeder: refused, nothing relayed, nothing changed.
        let mut takeover = join(1, 1, 11, true, 5);
        takeover.event = AnnounceEvent::Completed;
        let o = s.announce(&takeover, &11, Secs(5), &mut t);
        assert_eq!(o.rejected, Some(Rejection::PeerIdInUse));
        assert!(!o.joined);
        assert!(t.is_empty(), "no offers relayed under a borrowed id");
        assert_eq!((o.complete, o.incomplete, o.downloaded), (0, 2, 0));
        assert_eq!(s.member(&h, &x), Some(10), "answers still reach the holder");
        // Nor can it stop or remove the holder.
        let mut stop = join(1, 1, 11, false, 0);
        stop.event = AnnounceEvent::Stopped;
        s.announce(&stop, &11, Secs(5), &mut t);
        assert!(!s.remove(&h, &x, 11));
        assert_eq!(s.member(&h, &x), Some(10));
        // The holder's own announces go on as before.
        let o = s.announce(&join(1, 1, 10, false, 1), &10, Secs(6), &mut t);
        assert_eq!(o.rejected, None);
        assert_eq!(t, vec![(PeerId([2; 20]), 20)]);

        // A real reconnect: the old connection closed (left the swarm), the new one
        // gets the id.
        assert!(s.remove(&h, &x, 10));
        let o = s.announce(&join(1, 1, 11, true, 0), &11, Secs(7), &mut t);
        assert!(o.joined);
        assert_eq!(o.rejected, None);
        assert_eq!((o.complete, o.incomplete), (1, 1));
        assert_eq!(s.member(&h, &x), Some(11));
        // The old connection's later removal leaves the new membership alone.
        assert!(!s.remove(&h, &x, 10));
        assert_eq!(s.stats().peers, 2);
    }

    #[test]
    fn an_expired_holder_loses_its_id_before_the_purge() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 7);
        let mut t = Vec::new();
        let x = PeerId([1; 20]);
        s.announce(&join(1, 1, 10, true, 0), &10, Secs(0), &mut t);
        let expiry = 120 + 60;
        let o = s.announce(&join(1, 1, 11, false, 0), &11, Secs(expiry), &mut t);
        assert_eq!(o.rejected, Some(Rejection::PeerIdInUse), "still live");
        // Silent past its expiry (a half-open connection): the id is free.
        let o = s.announce(&join(1, 1, 11, false, 0), &11, Secs(expiry + 1), &mut t);
        assert!(o.joined);
        assert_eq!((o.complete, o.incomplete), (0, 1));
        assert_eq!(s.member(&InfoHash([1; 20]), &x), Some(11));
        assert_eq!(s.stats().seeders, 0);
        assert_eq!(
            s.purge_expired(Secs(expiry + 1)),
            0,
            "the new holder is live"
        );
    }

    #[test]
    fn completed_counts_once_and_limits_hold() {
        let cfg = WsConfig {
            max_torrents: 1,
            max_peers_per_torrent: 2,
            ..Default::default()
        };
        let s: WsSwarms<u64> = WsSwarms::new(cfg, 5);
        let mut t = Vec::new();
        let mut c = join(1, 1, 1, true, 0);
        c.event = AnnounceEvent::Completed;
        s.announce(&c, &1, Secs(0), &mut t);
        let o = s.announce(&c, &1, Secs(0), &mut t);
        assert_eq!(o.downloaded, 1);
        let o = s.announce(&join(2, 1, 1, false, 0), &1, Secs(0), &mut t);
        assert_eq!(o.rejected, Some(Rejection::TooManyTorrents));
        s.announce(&join(1, 2, 2, false, 0), &2, Secs(0), &mut t);
        let o = s.announce(&join(1, 3, 3, false, 5), &3, Secs(0), &mut t);
        assert_eq!(o.rejected, Some(Rejection::SwarmFull));
        assert!(!o.joined);
        // A peer kept out still gets its offers relayed.
        assert_eq!(t.len(), 2);
        // The count lives as long as the swarm: once the last member leaves, nothing
        // of the torrent stays (WebTorrent counts are not persisted, and a table of
        // memberless swarms would grow with time).
        assert_eq!(s.scrape(&InfoHash([1; 20])), (1, 1, 1));
        s.remove(&InfoHash([1; 20]), &PeerId([1; 20]), 1);
        s.remove(&InfoHash([1; 20]), &PeerId([2; 20]), 2);
        assert_eq!(s.scrape(&InfoHash([1; 20])), (0, 0, 0));
        let mut all = Vec::new();
        assert!(s.scrape_all(&mut all, 10));
        assert!(all.is_empty());
        assert_eq!(s.stats().torrents, 0);
    }

    #[test]
    fn large_swarms_stay_consistent() {
        let s: WsSwarms<u64> = WsSwarms::new(WsConfig::default(), 6);
        let mut t = Vec::new();
        let h = InfoHash([1; 20]);
        let id = |i: u64| {
            let mut b = [0u8; 20];
            b[..8].copy_from_slice(&i.to_le_bytes());
            PeerId(b)
        };
        let mut j = join(1, 0, 0, false, 0);
        for i in 0..200u64 {
            j.peer_id = id(i);
            j.conn = i;
            s.announce(&j, &i, Secs(0), &mut t);
        }
        for i in (0..200u64).step_by(3) {
            assert!(s.remove(&h, &id(i), i));
        }
        for i in 0..200u64 {
            let want = (i % 3 != 0).then_some(i);
            assert_eq!(s.member(&h, &id(i)), want, "peer {i}");
        }
        // Shrinking back below the index threshold keeps lookups right.
        for i in 0..200u64 {
            s.remove(&h, &id(i), i);
            if (180..199).contains(&i) {
                assert_eq!(s.member(&h, &id(199)), Some(199));
            }
        }
        assert_eq!(s.stats(), WsStats::default());
    }

    #[test]
    fn pending_offers_are_bounded_and_single_use() {
        let mut p = PendingOffers::default();
        let h = InfoHash([1; 20]);
        for i in 0..100u8 {
            p.record(h, PeerId([i; 20]), [i; 20], 0, 1000, 8);
        }
        assert_eq!(p.len(), 8);
        // Only the latest 8 survive.
        assert!(!p.take(&h, &PeerId([0; 20]), &[0; 20], 10));
        assert!(p.take(&h, &PeerId([99; 20]), &[99; 20], 10));
        assert!(!p.take(&h, &PeerId([99; 20]), &[99; 20], 10), "used once");
        // Wrong sender or torrent: refused.
        assert!(!p.take(&h, &PeerId([97; 20]), &[98; 20], 10));
        assert!(!p.take(&InfoHash([2; 20]), &PeerId([98; 20]), &[98; 20], 10));
        // Expired: refused, and the ring is freed.
        assert!(!p.take(&h, &PeerId([98; 20]), &[98; 20], 5000));
        p.expire(5000);
        assert!(p.is_empty());
    }
}

//! shoal's swarm engine: every torrent's peers, in memory, sharded by info-hash.
//!
//! The engine is the part of the tracker that every front end (UDP, HTTP, WebTorrent)
//! shares. It does no I/O and reads no clock: callers pass the current time as
//! [`Secs`], seconds on a monotonic clock of their choosing, and a random seed at
//! construction. That keeps it deterministic under test and free of any runtime.
//!
//! Rules it enforces (see [`Engine::announce`]):
//! - a peer is keyed by address and port within its torrent and address family;
//! - seeders and leechers are counted, `completed` once per peer;
//! - up to `numwant` peers are returned, chosen at random, never the announcer itself,
//!   and never seeders to a seeder;
//! - `stopped` removes the peer at once;
//! - a peer expires `interval + grace` seconds after its last announce, where
//!   `interval` is the one it was told, so a client that announces a little late is
//!   never purged ([`Engine::purge_expired`]).
//!
//! Design decision: each torrent keeps its peers in one contiguous array per family,
//! seeders first and leechers after, in their compact wire form (12 bytes per IPv4
//! peer, 24 per IPv6). Choosing peers is then an index walk with no allocation, and a
//! response is a copy of bytes. Large swarms add a hash index of 4-byte positions for
//! lookups; small ones are scanned.
#![deny(missing_docs)]

/// Runs `$body` with `$t` bound to the shard's table, whichever tail its peers carry.
macro_rules! with_table {
    ($torrents:expr, |$t:ident| $body:expr) => {
        match $torrents {
            $crate::Torrents::Open($t) => $body,
            $crate::Torrents::Accounted($t) => $body,
        }
    };
}

pub mod access;
pub mod accounting;
mod cluster;
mod dormant;
pub mod gate;
pub mod histogram;
pub mod passkeys;
mod peers;
pub mod ratelimit;
mod rng;
mod snapshot;
pub mod summary;
pub mod webtorrent;

pub use cluster::Applied;
pub use snapshot::{SnapshotError, SnapshotId, SnapshotStats};

use std::hash::BuildHasher;
use std::net::SocketAddr;

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use parking_lot::Mutex;
pub use shoal_protocol::{AnnounceEvent, InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6, PeerId};

use peers::{Peer, PeerList, Slot, Tail, Torrent};
use rng::Rng;

/// Seconds on the caller's monotonic clock (for example, since the server started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Secs(pub u32);

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Seconds between announces that clients are told.
    pub announce_interval: u32,
    /// Extra seconds past the told interval before a silent peer is dropped.
    pub peer_grace: u32,
    /// Peers returned when the client does not say how many it wants.
    pub default_numwant: u32,
    /// Most peers returned in one response, whatever the client asks.
    pub max_numwant: u32,
    /// Number of independently locked shards (rounded up to a power of two).
    pub shards: usize,
    /// Keep each peer's id (20 bytes more per peer) so non-compact HTTP responses can
    /// carry `peer id`.
    pub store_peer_ids: bool,
    /// Keep each peer's account and last reported totals (12 bytes more per peer) and
    /// credit uploads and downloads to accounts (private mode): see [`accounting`].
    pub accounting: bool,
    /// Most bytes per second an account's upload on one torrent is credited at (0: no
    /// cap); more is not credited and is counted as capped (a simple cheat guard).
    pub max_upload_rate: u64,
    /// Most torrents held (0 = no limit): a bound on memory.
    pub max_torrents: u64,
    /// Most peers held over all torrents (0 = no limit).
    pub max_peers: u64,
    /// Most peers in one swarm per family (0 = no limit). Peers beyond it still get
    /// peers back; they are just not listed.
    pub max_peers_per_torrent: u32,
    /// Most new torrents one source network (IPv4 /24, IPv6 /48) may create per
    /// minute (0 = no limit).
    pub max_new_torrents_per_prefix_per_minute: u32,
    /// Most completed counts of peerless torrents kept in memory (0 = no limit).
    /// Past it the oldest counts are left to the store, and the caller must then
    /// answer [`Engine::take_count_lookups`] with [`Engine::merge_stored_counts`].
    pub max_dormant_torrents: u64,
    /// Note every torrent that gets a swarm (new, or back after its peers left) for
    /// [`Engine::take_new_torrents`]: the catalog resolves their metadata.
    pub note_new_torrents: bool,
    /// Record every change announces make to the swarms, for the other nodes of a
    /// cluster ([`Engine::drain_changes`]); their changes come in through
    /// [`Engine::apply_remote`].
    pub replicate: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            announce_interval: 1800,
            peer_grace: 300,
            default_numwant: 50,
            max_numwant: 200,
            shards: 64,
            store_peer_ids: false,
            accounting: false,
            max_upload_rate: 0,
            max_torrents: 0,
            max_peers: 0,
            max_peers_per_torrent: 0,
            max_new_torrents_per_prefix_per_minute: 0,
            max_dormant_torrents: 0,
            note_new_torrents: false,
            replicate: false,
        }
    }
}

/// An announce, as any front end turns it into engine terms.
#[derive(Debug, Clone, Copy)]
pub struct Announce<A> {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Where the peer can be reached: its address (as seen by the server) and port.
    pub peer: A,
    /// The peer's self-chosen id (kept only with `store_peer_ids`).
    pub peer_id: PeerId,
    /// What happened.
    pub event: AnnounceEvent,
    /// Bytes still needed: 0 makes the peer a seeder.
    pub left: u64,
    /// How many peers the client wants (`None`: the default).
    pub num_want: Option<u32>,
    /// A partial seed that is not downloading (HTTP `event=paused`, BEP 21).
    pub paused: bool,
}

/// What an announce answers besides the peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnnounceOutcome {
    /// Seconds until the client should announce again.
    pub interval: u32,
    /// Seeders in the swarm, both families.
    pub seeders: u32,
    /// Leechers in the swarm, both families.
    pub leechers: u32,
    /// Times a peer announced `completed`.
    pub completed: u64,
    /// Set when a limit kept the announce from being recorded.
    pub rejected: Option<Rejection>,
}

/// Why an announce was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `max_torrents` reached: the torrent was not created.
    TooManyTorrents,
    /// The source network created too many torrents this minute.
    TorrentCreationRate,
    /// `max_peers` reached: the peer was not added (it still got peers).
    TooManyPeers,
    /// `max_peers_per_torrent` reached: the peer was not added (it still got peers).
    SwarmFull,
    /// WebTorrent only: the peer id is held in this swarm by another, live
    /// connection. Nothing was recorded and no offers go out (they would carry an id
    /// whose answers reach the other connection).
    PeerIdInUse,
    /// Private mode: the account's ratio is below the minimum, and this announce
    /// would start a download (a leecher the swarm does not have). Seeding, and
    /// downloads already under way, go on.
    RatioTooLow,
}

impl Rejection {
    /// A short reason for clients and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::TooManyTorrents => "tracker is full",
            Rejection::TorrentCreationRate => "too many new torrents from your network",
            Rejection::TooManyPeers => "tracker is full",
            Rejection::SwarmFull => "swarm is full",
            Rejection::PeerIdInUse => "peer_id is in use on another connection",
            Rejection::RatioTooLow => {
                "your ratio is below this tracker's minimum: seed to download more"
            }
        }
    }
}

/// A torrent's counters, as a scrape reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmStats {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Leechers actively downloading: leechers minus paused partial seeds (BEP 21).
    pub downloaders: u32,
    /// Times a peer announced `completed`.
    pub completed: u64,
}

/// Totals over all torrents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Torrents with peers (or whose last peer left since the last purge).
    pub torrents: u64,
    /// Peerless torrents whose completed count is kept in memory.
    pub dormant: u64,
    /// IPv4 peers.
    pub peers_v4: u64,
    /// IPv6 peers.
    pub peers_v6: u64,
    /// Seeders, both families.
    pub seeders: u64,
    /// Leechers, both families.
    pub leechers: u64,
}

/// Peers by network, as the dashboard shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkCounts {
    /// IPv4 peers.
    pub ipv4: u64,
    /// IPv6 peers outside Yggdrasil.
    pub ipv6: u64,
    /// Yggdrasil peers (0200::/7).
    pub yggdrasil: u64,
    /// Completed downloads over all torrents.
    pub completed: u64,
}

/// New torrents per source network (family tag and prefix bytes) in one minute.
type PrefixCounts = hashbrown::HashMap<[u8; 8], u32, FixedState>;

/// The swarms of every torrent the tracker knows.
pub struct Engine {
    shards: Box<[Mutex<Shard>]>,
    shard_mask: usize,
    config: EngineConfig,
    /// The access list, read on every announce and scrape without a lock (a reader
    /// loads the current snapshot; an edit swaps in a new one).
    access: arc_swap::ArcSwap<access::AccessList>,
    /// Whether the list is on at all: with it off, `allows` is one load of this flag.
    access_on: std::sync::atomic::AtomicBool,
    /// Serializes edits of the list (each copies the current one, edits, swaps).
    access_edit: Mutex<()>,
    /// Torrents held, kept in step by every insert and removal.
    torrent_count: std::sync::atomic::AtomicU64,
    /// Peers held.
    peer_count: std::sync::atomic::AtomicU64,
    /// New torrents per source network in the current minute.
    creations: Mutex<(u32, PrefixCounts)>,
    /// Announces turned away by each [`Rejection`], in declaration order.
    rejections: [std::sync::atomic::AtomicU64; 4],
    /// New-torrent notes dropped because a shard's list was full.
    notes_dropped: std::sync::atomic::AtomicU64,
    /// Changes not recorded for other nodes because a shard's list was full.
    changes_dropped: std::sync::atomic::AtomicU64,
}

/// A shard's swarms. An accounting engine keeps each peer's accounting slot in its record
/// ([`Tail`]); the table's type says which, chosen once when the engine is made, so the
/// announce path is compiled for each and decides nothing per peer.
enum Torrents {
    Open(Table<()>),
    Accounted(Table<Slot>),
}

type Table<T> = HashMap<InfoHash, Torrent<T>, FixedState>;

impl Torrents {
    fn len(&self) -> usize {
        with_table!(self, |t| t.len())
    }
    /// Adds a completed count to a torrent held here; returns false when it is not.
    fn with_completed(&mut self, h: &InfoHash, f: impl FnOnce(&mut u64)) -> bool {
        with_table!(self, |t| t
            .get_mut(h)
            .map(|t| f(&mut t.completed))
            .is_some())
    }
}

struct Shard {
    torrents: Torrents,
    hasher: FixedState,
    rng: Rng,
    /// Completions counted since the last [`Engine::drain_completed`], per torrent: what
    /// the store has not been sent yet (a stored count is the sum of such deltas, from
    /// every node). Only torrents that completed since the last drain have an entry.
    unflushed: Unflushed,
    /// Completed counts of torrents with no peers left.
    dormant: dormant::Dormant,
    /// Torrents whose count before they came back is in the store only: their deltas
    /// are not drained until [`Engine::merge_stored_counts`] adds the stored count (a
    /// stored count that already held them would count them twice here). At most
    /// [`MAX_PENDING`].
    pending: hashbrown::HashSet<InfoHash, FixedState>,
    /// Pending info-hashes not yet handed out by [`Engine::take_count_lookups`].
    lookups: Vec<InfoHash>,
    /// Torrents that got a swarm since the last [`Engine::take_new_torrents`] (with
    /// `note_new_torrents`), at most [`MAX_NEW_NOTES`].
    new_torrents: Vec<InfoHash>,
    /// Credits per (account, torrent) since the last [`Engine::drain_traffic`] (with
    /// `accounting`): one entry per pair that announced since, drained every flush.
    traffic: HashMap<(u32, InfoHash), accounting::Credit, FixedState>,
    /// Changes announces made since the last [`Engine::drain_changes`] (with
    /// `replicate`), at most [`cluster::MAX_CHANGES`].
    changes: Vec<shoal_protocol::cluster::Record>,
}

/// Most new torrents a shard notes between two drains; more are dropped and counted
/// (the catalog thread drains every few hundred milliseconds, so this is a burst of
/// about a quarter million new torrents per second over 64 shards).
const MAX_NEW_NOTES: usize = 4096;

/// Completions counted per torrent and not yet drained for the store.
type Unflushed = hashbrown::HashMap<InfoHash, u64, FixedState>;

/// Most torrents per shard waiting for their stored count; past it a torrent that
/// needs one is not created for now ("tracker is full"), rather than counted wrong.
const MAX_PENDING: usize = 1024;

/// The two address families a torrent keeps apart (IPv4 peers are useless to an
/// IPv6-only client and the wire formats differ).
pub trait Family: PeerAddr {
    #[doc(hidden)]
    fn list<T>(t: &Torrent<T>) -> &PeerList<Self, T>;
    #[doc(hidden)]
    fn list_mut<T>(t: &mut Torrent<T>) -> &mut PeerList<Self, T>;
    #[doc(hidden)]
    fn cluster_addr(self) -> shoal_protocol::cluster::Addr;
}

impl Family for PeerAddrV4 {
    fn list<T>(t: &Torrent<T>) -> &PeerList<Self, T> {
        &t.v4
    }
    fn list_mut<T>(t: &mut Torrent<T>) -> &mut PeerList<Self, T> {
        &mut t.v4
    }
    fn cluster_addr(self) -> shoal_protocol::cluster::Addr {
        shoal_protocol::cluster::Addr::V4(self)
    }
}

impl Family for PeerAddrV6 {
    fn list<T>(t: &Torrent<T>) -> &PeerList<Self, T> {
        &t.v6
    }
    fn list_mut<T>(t: &mut Torrent<T>) -> &mut PeerList<Self, T> {
        &mut t.v6
    }
    fn cluster_addr(self) -> shoal_protocol::cluster::Addr {
        shoal_protocol::cluster::Addr::V6(self)
    }
}

impl Engine {
    /// An empty engine. `seed` keys the hash tables and peer selection; give it fresh
    /// randomness in a server (guessable seeds allow hash flooding).
    pub fn new(config: EngineConfig, seed: u64) -> Self {
        let n = config.shards.clamp(1, 1 << 16).next_power_of_two();
        let mut seeder = Rng::new(seed);
        let dormant_cap = match config.max_dormant_torrents {
            0 => 0,
            m => usize::try_from(m.div_ceil(n as u64)).unwrap_or(usize::MAX),
        };
        let shards = (0..n)
            .map(|_| {
                let hasher = FixedState::with_seed(seeder.next_u64());
                let table = HashMap::with_hasher(hasher.clone());
                Mutex::new(Shard {
                    torrents: if config.accounting {
                        Torrents::Accounted(table)
                    } else {
                        Torrents::Open(HashMap::with_hasher(hasher.clone()))
                    },
                    unflushed: Unflushed::with_hasher(hasher.clone()),
                    pending: hashbrown::HashSet::with_hasher(hasher.clone()),
                    hasher,
                    rng: Rng::new(seeder.next_u64()),
                    dormant: dormant::Dormant::new(dormant_cap),
                    lookups: Vec::new(),
                    new_torrents: Vec::new(),
                    traffic: HashMap::with_hasher(FixedState::with_seed(seeder.next_u64())),
                    changes: Vec::new(),
                })
            })
            .collect();
        Engine {
            shards,
            shard_mask: n - 1,
            config,
            access: arc_swap::ArcSwap::from_pointee(access::AccessList::default()),
            access_on: std::sync::atomic::AtomicBool::new(false),
            access_edit: Mutex::new(()),
            torrent_count: Default::default(),
            peer_count: Default::default(),
            creations: Mutex::new((
                u32::MAX,
                hashbrown::HashMap::with_hasher(FixedState::with_seed(seeder.next_u64())),
            )),
            rejections: Default::default(),
            notes_dropped: Default::default(),
            changes_dropped: Default::default(),
        }
    }

    /// Announces turned away by a limit, per reason (TooManyTorrents,
    /// TorrentCreationRate, TooManyPeers, SwarmFull).
    pub fn rejections(&self) -> [(Rejection, u64); 4] {
        use std::sync::atomic::Ordering::Relaxed;
        [
            Rejection::TooManyTorrents,
            Rejection::TorrentCreationRate,
            Rejection::TooManyPeers,
            Rejection::SwarmFull,
        ]
        .map(|r| (r, self.rejections[r as usize].load(Relaxed)))
    }

    fn reject(&self, r: Rejection) -> Option<Rejection> {
        self.rejections[r as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(r)
    }

    /// Whether a torrent may be created for an announce from `peer` at `now`.
    fn admit_torrent<A: PeerAddr>(&self, peer: &A, now: Secs) -> Option<Rejection> {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.config;
        if c.max_torrents > 0 && self.torrent_count.load(Relaxed) >= c.max_torrents {
            return self.reject(Rejection::TooManyTorrents);
        }
        if c.max_new_torrents_per_prefix_per_minute > 0 {
            let b = peer.as_bytes();
            // IPv4 /24 or IPv6 /48, tagged by family.
            let key = if A::LEN == 6 {
                [4, b[0], b[1], b[2], 0, 0, 0, 0]
            } else {
                [6, b[0], b[1], b[2], b[3], b[4], b[5], 0]
            };
            let minute = now.0 / 60;
            let mut guard = self.creations.lock();
            let (current, counts) = &mut *guard;
            if *current != minute {
                *current = minute;
                counts.clear();
            }
            let n = counts.entry(key).or_insert(0);
            if *n >= c.max_new_torrents_per_prefix_per_minute {
                return self.reject(Rejection::TorrentCreationRate);
            }
            *n += 1;
        }
        None
    }

    /// Whether one more peer may join a swarm that has `len` peers of its family.
    fn admit_peer(&self, len: usize) -> Option<Rejection> {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.config;
        if c.max_peers_per_torrent > 0 && len >= c.max_peers_per_torrent as usize {
            return self.reject(Rejection::SwarmFull);
        }
        if c.max_peers > 0 && self.peer_count.load(Relaxed) >= c.max_peers {
            return self.reject(Rejection::TooManyPeers);
        }
        None
    }

    /// Torrents and peers held, from counters (no locking).
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.torrent_count.load(Relaxed),
            self.peer_count.load(Relaxed),
        )
    }

    fn forget(&self, torrents: u64, peers: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.torrent_count.fetch_sub(torrents, Relaxed);
        self.peer_count.fetch_sub(peers, Relaxed);
    }

    /// Whether the access list lets `h` be announced and scraped. Lock-free: a flag
    /// when the list is off, a snapshot load and a set lookup when it is on.
    pub fn allows(&self, h: &InfoHash) -> bool {
        // Acquire pairs with the edit's Release: a reader that sees the flag set sees
        // the list stored before it.
        if !self.access_on.load(std::sync::atomic::Ordering::Acquire) {
            return true;
        }
        self.access.load().allows(h)
    }

    /// The access list in force.
    pub fn access_list(&self) -> std::sync::Arc<access::AccessList> {
        self.access.load_full()
    }

    /// Changes the access list with `f` (a copy is edited and swapped in, so readers
    /// never wait on an edit). Torrents that the new list refuses are dropped.
    pub fn update_access_list<R>(&self, f: impl FnOnce(&mut access::AccessList) -> R) -> R {
        let edit = self.access_edit.lock();
        let mut list = (*self.access.load_full()).clone();
        let r = f(&mut list);
        let list = std::sync::Arc::new(list);
        self.access.store(list.clone());
        self.access_on.store(
            list.mode != access::AccessMode::Off,
            std::sync::atomic::Ordering::Release,
        );
        drop(edit);
        if list.mode != access::AccessMode::Off {
            for shard in self.shards.iter() {
                let (mut torrents, mut peers) = (0, 0);
                let mut shard = shard.lock();
                let Shard {
                    torrents: table,
                    dormant,
                    hasher,
                    ..
                } = &mut *shard;
                with_table!(table, |table| table.retain(|h, t| {
                    let keep = list.allows(h);
                    if !keep {
                        torrents += 1;
                        peers += (t.v4.len() + t.v6.len()) as u64;
                    }
                    keep
                }));
                dormant.retain(hasher, |h| list.allows(h));
                self.forget(torrents, peers);
            }
        }
        r
    }

    /// Appends the completions counted since the last call, per torrent (deltas, for
    /// batched persistence: the store adds them to what it holds), and forgets them.
    /// A torrent waiting for its stored count keeps its delta until that count is
    /// merged. The caller owns what it drained: a failed write must be retried from
    /// there, not from the engine.
    pub fn drain_completed(&self, out: &mut Vec<(InfoHash, u64)>) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let Shard {
                unflushed, pending, ..
            } = &mut *shard;
            if pending.is_empty() {
                out.extend(unflushed.drain());
            } else {
                out.extend(unflushed.extract_if(|h, _| !pending.contains(h)));
            }
            if unflushed.capacity() > 4096 && unflushed.len() < 1024 {
                unflushed.shrink_to(1024);
            }
        }
    }

    /// Sets stored completed counts (at start): a torrent keeps the larger of its own
    /// count (from a swarm snapshot, written after the last flush, so never ahead of
    /// the store) and the stored one; nothing loaded is a delta to flush. Torrents the
    /// access list refuses are skipped. Counts
    /// of torrents without peers go to the table of peerless torrents; once that is
    /// full (`max_dormant_torrents`) they stay in the store only, to be looked up when
    /// the torrent comes back. Returns how many counts are held in memory.
    pub fn load_completed(&self, counts: &[(InfoHash, u64)]) -> u64 {
        let list = self.access_list();
        let mut loaded = 0;
        for (h, n) in counts {
            if *n == 0 || !list.allows(h) {
                continue;
            }
            let mut shard = self.shard(h).lock();
            let Shard {
                torrents,
                dormant,
                hasher,
                unflushed,
                pending,
                ..
            } = &mut *shard;
            if torrents.with_completed(h, |c| *c = (*c).max(*n)) {
                // Held by its swarm.
            } else if let Some(d) = dormant.get(hasher, h) {
                dormant.set(hasher, h, d.max(*n));
            } else if !hold_or_spill(dormant, hasher, pending, unflushed, *h, *n) {
                continue;
            }
            loaded += 1;
        }
        loaded
    }

    /// Moves the info-hashes whose count is wanted from the store to `out`: torrents
    /// that came back (announced or scraped) after their count left memory. The caller
    /// (off the request path) answers with [`Engine::merge_stored_counts`], for every
    /// one of them, 0 for those the store does not know; until then their counts are
    /// not drained for flushing, and a scrape of a torrent without peers says 0.
    pub fn take_count_lookups(&self, out: &mut Vec<InfoHash>) {
        for shard in self.shards.iter() {
            out.append(&mut shard.lock().lookups);
        }
    }

    /// Moves the torrents that got a swarm since the last call (with
    /// `note_new_torrents`) into `out`; returns how many notes were dropped since the
    /// start because a shard's list was full.
    pub fn take_new_torrents(&self, out: &mut Vec<InfoHash>) -> u64 {
        for shard in self.shards.iter() {
            out.append(&mut shard.lock().new_torrents);
        }
        self.notes_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The number of shards (for walks that take one shard at a time).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Up to `max` info-hashes of torrents with a swarm in shard `shard` (modulo the
    /// shard count) into `out` (cleared first): a bounded walk, one shard at a time, for
    /// work off the request path (the catalog marks live torrents active).
    pub fn torrents_in_shard(&self, shard: usize, max: usize, out: &mut Vec<InfoHash>) {
        out.clear();
        let guard = self.shards[shard % self.shards.len()].lock();
        with_table!(&guard.torrents, |t| out.extend(t.keys().take(max).copied()));
    }

    /// Up to `max` peers of a torrent's swarm, seeders first, IPv4 and IPv6 taken in
    /// turn (cleared first). For the catalog, which dials them: off the request path.
    pub fn sample_peers(&self, info_hash: &InfoHash, max: usize, out: &mut Vec<SocketAddr>) {
        out.clear();
        let shard = self.shard(info_hash).lock();
        // Lists keep seeders first: interleaving the families keeps that order per
        // family, and a stable sort puts every seeder before every leecher.
        let mut both: Vec<(bool, SocketAddr)> = Vec::new();
        with_table!(&shard.torrents, |table| {
            let Some(t) = table.get(info_hash) else {
                return;
            };
            let v4 =
                t.v4.iter()
                    .map(|(p, seeder, _)| (seeder, p.addr().to_socket_addr()));
            let v6 =
                t.v6.iter()
                    .map(|(p, seeder, _)| (seeder, p.addr().to_socket_addr()));
            let (mut a, mut b) = (v4.peekable(), v6.peekable());
            while both.len() < max.saturating_mul(2) && (a.peek().is_some() || b.peek().is_some()) {
                both.extend(a.next());
                both.extend(b.next());
            }
        });
        both.sort_by_key(|(seeder, _)| !*seeder);
        out.extend(both.into_iter().map(|(_, addr)| addr).take(max));
    }

    /// Adds stored counts asked for by [`Engine::take_count_lookups`]: a torrent that
    /// came back keeps counting from the stored count (what it counted since is added
    /// to it), and a peerless one's count is held again. The answer must include what
    /// the caller drained and has not written yet. A stored count is no delta: only
    /// what was counted since is drained next. Entries not pending are ignored
    /// (answered already).
    pub fn merge_stored_counts(&self, counts: &[(InfoHash, u64)]) {
        for (h, n) in counts {
            let mut shard = self.shard(h).lock();
            let Shard {
                torrents,
                dormant,
                hasher,
                unflushed,
                pending,
                ..
            } = &mut *shard;
            if !pending.remove(h) {
                continue;
            }
            if torrents.with_completed(h, |c| *c += n) {
                // Held by its swarm.
            } else if let Some(d) = dormant.get(hasher, h) {
                dormant.set(hasher, h, d + n);
            } else if *n > 0 {
                hold_or_spill(dormant, hasher, pending, unflushed, *h, *n);
            }
        }
    }

    /// Bytes held by the per-torrent tables (swarm table, peerless counts, changed
    /// and pending counts), not counting peer lists: what grows with the number of
    /// torrents rather than peers.
    pub fn table_memory(&self) -> usize {
        let slot = std::mem::size_of::<(InfoHash, Torrent)>() + 1;
        let hash = std::mem::size_of::<InfoHash>();
        self.shards
            .iter()
            .map(|shard| {
                let s = shard.lock();
                with_table!(&s.torrents, |t| t.capacity()) * slot
                    + s.dormant.memory()
                    + s.unflushed.capacity() * (hash + 8 + 1)
                    + s.pending.capacity() * (hash + 1)
                    + s.lookups.capacity() * hash
            })
            .sum()
    }

    /// Drops a torrent and its swarm; returns whether it existed.
    pub fn remove_torrent(&self, h: &InfoHash) -> bool {
        let mut shard = self.shard(h).lock();
        let Shard {
            torrents,
            dormant,
            hasher,
            ..
        } = &mut *shard;
        let dormant = dormant.take(hasher, h).is_some();
        let peers = with_table!(torrents, |t| t.remove(h).map(|t| t.v4.len() + t.v6.len()));
        match peers {
            Some(peers) => {
                self.forget(1, peers as u64);
                true
            }
            None => dormant,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    fn shard(&self, info_hash: &InfoHash) -> &Mutex<Shard> {
        // Info-hashes are SHA digests, so their bytes spread evenly; bytes 16..20 are
        // used so shards stay independent of the shard hash tables' own bits.
        let b = &info_hash.0;
        let i = u32::from_le_bytes([b[16], b[17], b[18], b[19]]) as usize;
        &self.shards[i & self.shard_mask]
    }

    /// Records an announce and fills `peers_out` (cleared first) with the peers to send.
    ///
    /// The peer is inserted or refreshed (address and port are its key), its expiry set
    /// to `now + interval + grace`, and its seeder state follows `left == 0`.
    /// `completed` increments the torrent's count the first time this peer sends it (a
    /// peer first seen with `completed` counts too). `stopped` removes the peer and
    /// returns no peers.
    pub fn announce<A: Family>(
        &self,
        req: &Announce<A>,
        now: Secs,
        peers_out: &mut Vec<A>,
    ) -> AnnounceOutcome {
        self.announce_inner(req, now, peers_out, None, None)
    }

    /// [`Engine::announce`] for an account (private mode): with `accounting`, the
    /// traffic the announce reports is credited to it (see [`accounting`]).
    pub fn announce_account<A: Family>(
        &self,
        req: &Announce<A>,
        account: &accounting::Account,
        now: Secs,
        peers_out: &mut Vec<A>,
        ids_out: Option<&mut Vec<PeerId>>,
    ) -> AnnounceOutcome {
        let mut ids_out = ids_out;
        if let Some(ids) = ids_out.as_deref_mut() {
            ids.clear();
        }
        self.announce_inner(req, now, peers_out, ids_out, Some(account))
    }

    /// Hands over the credits counted since the last drain (the store thread adds them
    /// to the accounts; a failed write must be retried from what it drained).
    pub fn drain_traffic(&self, out: &mut Vec<accounting::Traffic>) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            out.extend(
                shard
                    .traffic
                    .drain()
                    .map(|((user, info_hash), c)| c.traffic(user, info_hash)),
            );
            // What one flush interval needed is given back: a busy interval must not
            // leave its table behind (regrowing costs a few moves per entry).
            if shard.traffic.capacity() > 64 {
                shard.traffic.shrink_to(0);
            }
        }
    }

    /// [`Engine::announce`], also filling `ids_out` with the chosen peers' ids in the
    /// same order (left empty unless the engine keeps ids: `store_peer_ids`).
    pub fn announce_with_ids<A: Family>(
        &self,
        req: &Announce<A>,
        now: Secs,
        peers_out: &mut Vec<A>,
        ids_out: &mut Vec<PeerId>,
    ) -> AnnounceOutcome {
        ids_out.clear();
        self.announce_inner(req, now, peers_out, Some(ids_out), None)
    }

    fn announce_inner<A: Family>(
        &self,
        req: &Announce<A>,
        now: Secs,
        peers_out: &mut Vec<A>,
        ids_out: Option<&mut Vec<PeerId>>,
        account: Option<&accounting::Account>,
    ) -> AnnounceOutcome {
        peers_out.clear();
        let mut shard = self.shard(&req.info_hash).lock();
        let Shard {
            torrents,
            hasher,
            rng,
            unflushed,
            dormant,
            pending,
            lookups,
            new_torrents,
            traffic,
            changes,
        } = &mut *shard;
        let parts = Parts {
            hasher,
            rng,
            unflushed,
            dormant,
            pending,
            lookups,
            new_torrents,
            traffic,
            changes,
        };
        with_table!(torrents, |t| self
            .announce_in(t, parts, req, now, peers_out, ids_out, account))
    }

    /// [`Engine::announce_inner`] on a shard's table, for either tail.
    #[allow(clippy::too_many_arguments)]
    fn announce_in<A: Family, T: Tail>(
        &self,
        torrents: &mut Table<T>,
        parts: Parts<'_>,
        req: &Announce<A>,
        now: Secs,
        peers_out: &mut Vec<A>,
        ids_out: Option<&mut Vec<PeerId>>,
        account: Option<&accounting::Account>,
    ) -> AnnounceOutcome {
        let Parts {
            hasher,
            rng,
            unflushed,
            dormant,
            pending,
            lookups,
            new_torrents,
            traffic,
            changes,
        } = parts;
        // What other nodes are told, when they are.
        let mut publish = |change: shoal_protocol::cluster::Change| {
            if !self.config.replicate {
                return;
            }
            if changes.len() >= cluster::MAX_CHANGES {
                self.changes_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            changes.push(shoal_protocol::cluster::Record {
                info_hash: req.info_hash,
                addr: req.peer.cluster_addr(),
                change,
            });
        };
        let interval = self.config.announce_interval;
        let accounting = self.config.accounting;
        let max_rate = self.config.max_upload_rate;
        let told = u64::from(interval) + u64::from(self.config.peer_grace);
        // Credits an account for the peer at `i` (or a new peer), updating its slot;
        // `last_expiry` is the peer's expiry before this announce (its last announce was
        // `interval + grace` before it).
        let mut credit = |slot: Option<&mut Slot>,
                          last_expiry: Option<u32>,
                          was_seeder: bool,
                          seeder: bool,
                          completed: bool| {
            let (Some(a), true) = (account, accounting) else {
                return;
            };
            let (up, down) = match slot {
                Some(s) if s.is_for(a.user) => {
                    let c = accounting::credit(
                        s.kib(),
                        (a.uploaded, a.downloaded),
                        req.event == AnnounceEvent::Stopped,
                    );
                    *s = Slot::new(a.user, a.uploaded, a.downloaded);
                    c
                }
                Some(s) => {
                    // Another account at this address and port: a new baseline.
                    *s = Slot::new(a.user, a.uploaded, a.downloaded);
                    (0, 0)
                }
                None if req.event == AnnounceEvent::Started => (a.uploaded, a.downloaded),
                None => (0, 0),
            };
            // More upload than the cap allows since the last announce is not credited.
            let (up, capped) = match (max_rate, last_expiry) {
                (0, _) => (up, 0),
                (rate, last) => {
                    let since = last.map_or(told, |e| {
                        (u64::from(now.0) + told).saturating_sub(u64::from(e))
                    });
                    let allowed = rate.saturating_mul(since.max(1));
                    (up.min(allowed), up.saturating_sub(allowed))
                }
            };
            // Seeding since its last announce, when it seeded then: at most the
            // interval and grace (its last announce was `told` before its old expiry).
            let seeded = match last_expiry {
                Some(e) if was_seeder => {
                    let last = u64::from(e).saturating_sub(told);
                    u64::from(now.0).saturating_sub(last).min(told)
                }
                _ => 0,
            };
            traffic.entry((a.user, req.info_hash)).or_default().add(
                accounting::Credit {
                    uploaded: up,
                    downloaded: down,
                    capped,
                    seeded: u32::try_from(seeded).unwrap_or(u32::MAX),
                    at: now.0,
                    flags: 0,
                },
                seeder,
                completed,
                req.event == AnnounceEvent::Stopped,
            );
        };

        if req.event == AnnounceEvent::Stopped {
            let Some(torrent) = torrents.get_mut(&req.info_hash) else {
                return AnnounceOutcome {
                    interval,
                    completed: dormant.get(hasher, &req.info_hash).unwrap_or(0),
                    ..Default::default()
                };
            };
            let list = A::list_mut(torrent);
            if let Some(i) = list.find(hasher, &req.peer) {
                publish(shoal_protocol::cluster::Change::Remove);
                // A stopped announce carries the session's final totals.
                let last = list.get_mut(i).expires;
                let was = list.is_seeder(i);
                credit(list.slot_mut(i), Some(last), was, req.left == 0, false);
                list.remove(hasher, i);
                self.forget(0, 1);
            }
            return outcome(interval, torrent);
        }

        // One hash lookup: an existing torrent is found, a new one is admitted first.
        let torrent = match torrents.entry(req.info_hash) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let h = &req.info_hash;
                let stored = dormant.get(hasher, h);
                // A torrent whose count may be in the store only must wait for it to
                // be counted right; with too many waiting it is not created for now.
                let lookup =
                    stored.is_none() && !pending.contains(h) && dormant.maybe_spilled(hasher, h);
                let rejected = if lookup && pending.len() >= MAX_PENDING {
                    self.reject(Rejection::TooManyTorrents)
                } else {
                    self.admit_torrent(&req.peer, now)
                };
                if let Some(r) = rejected {
                    return AnnounceOutcome {
                        interval,
                        completed: stored.unwrap_or(0),
                        rejected: Some(r),
                        ..Default::default()
                    };
                }
                if lookup {
                    pending.insert(*h);
                    lookups.push(*h);
                }
                if self.config.note_new_torrents {
                    if new_torrents.len() < MAX_NEW_NOTES {
                        new_torrents.push(*h);
                    } else {
                        self.notes_dropped
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                // Back from the table of peerless torrents with its count.
                let completed = dormant.take(hasher, h).unwrap_or(0);
                self.torrent_count
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                v.insert(Torrent {
                    completed,
                    ..Torrent::default()
                })
            }
        };
        let list = A::list_mut(torrent);
        let mut rejected = None;
        let expires = now
            .0
            .saturating_add(interval)
            .saturating_add(self.config.peer_grace);
        let seeder = req.left == 0;
        let keep_id = self.config.store_peer_ids.then_some(req.peer_id);
        let client = shoal_protocol::clients::identify(&req.peer_id);
        let completing = req.event == AnnounceEvent::Completed;
        let found = list.find(hasher, &req.peer);
        // Below the ratio minimum an account may seed and finish what it started, not
        // start another download.
        if found.is_none() && !seeder && account.is_some_and(|a| !a.may_leech) && accounting {
            return AnnounceOutcome {
                rejected: Some(Rejection::RatioTooLow),
                ..outcome(interval, torrent)
            };
        }
        let idx = match found {
            Some(i) => {
                let was = list.is_seeder(i);
                let p = list.get_mut(i);
                let last = p.expires;
                p.expires = expires;
                p.client = client;
                // Another node's peer that now announces here is this node's.
                p.set_remote(false);
                if let Some(id) = keep_id {
                    list.set_id(i, id);
                }
                credit(list.slot_mut(i), Some(last), was, seeder, completing);
                Some(list.set_seeder(hasher, i, seeder))
            }
            None => match self.admit_peer(list.len()) {
                None => {
                    self.peer_count
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut peer = Peer::<A, T>::new(req.peer, expires);
                    peer.client = client;
                    if let Some(a) = account {
                        // Nothing in an open engine's records.
                        peer.tail = T::from_slot(Slot::new(a.user, a.uploaded, a.downloaded));
                    }
                    credit(None, None, false, seeder, completing);
                    Some(list.insert(hasher, peer, seeder, keep_id))
                }
                Some(r) => {
                    rejected = Some(r);
                    None
                }
            },
        };
        let mut counted = false;
        if let Some(idx) = idx {
            list.set_paused(idx, req.paused);
            publish(shoal_protocol::cluster::Change::Upsert {
                seeder,
                paused: req.paused && !seeder,
                ttl: u16::try_from(expires.saturating_sub(now.0)).unwrap_or(u16::MAX),
            });
            if req.event == AnnounceEvent::Completed {
                let peer = list.get_mut(idx);
                if !peer.completed_counted() {
                    peer.mark_completed_counted();
                    counted = true;
                }
            }
        }
        let want = req
            .num_want
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant) as usize;
        // An unlisted announcer has no position to skip.
        let own = idx.unwrap_or(usize::MAX);
        list.select(rng, own, seeder, want, peers_out, ids_out);
        if counted {
            torrent.completed += 1;
            *unflushed.entry(req.info_hash).or_insert(0) += 1;
        }
        AnnounceOutcome {
            rejected,
            ..outcome(interval, torrent)
        }
    }

    /// A torrent's counters; zeros for a torrent the tracker does not know. A torrent
    /// without peers whose count is in the store only reads 0 until the store thread
    /// has answered [`Engine::take_count_lookups`] (which this queues).
    pub fn scrape(&self, info_hash: &InfoHash) -> SwarmStats {
        let mut shard = self.shard(info_hash).lock();
        if let Some(s) = with_table!(&shard.torrents, |t| t.get(info_hash).map(Torrent::stats)) {
            return s;
        }
        let Shard {
            dormant,
            hasher,
            pending,
            lookups,
            ..
        } = &mut *shard;
        if let Some(completed) = dormant.get(hasher, info_hash) {
            return SwarmStats {
                completed,
                ..Default::default()
            };
        }
        if pending.len() < MAX_PENDING
            && !pending.contains(info_hash)
            && dormant.maybe_spilled(hasher, info_hash)
        {
            pending.insert(*info_hash);
            lookups.push(*info_hash);
        }
        SwarmStats::default()
    }

    /// Appends every torrent's counters to `out` (for a full scrape), at most `limit`
    /// entries, peerless torrents with a count held in memory included; returns
    /// whether everything fit. Locks one shard at a time.
    pub fn scrape_all(&self, out: &mut Vec<(InfoHash, SwarmStats)>, limit: usize) -> bool {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let dormant = shard.dormant.iter().map(|(h, completed)| {
                let s = SwarmStats {
                    completed,
                    ..Default::default()
                };
                (h, s)
            });
            with_table!(&shard.torrents, |t| {
                for (h, s) in t.iter().map(|(h, t)| (*h, t.stats())).chain(dormant) {
                    if out.len() >= limit {
                        return false;
                    }
                    out.push((h, s));
                }
            });
        }
        true
    }

    /// Drops peers whose expiry is at or before `now`, and torrents left with no
    /// peers: a torrent's completed count outlives its peers in the table of peerless
    /// torrents (or, past its bound, in the store). Returns how many peers were
    /// dropped. Call it every few seconds; it locks one shard at a time.
    pub fn purge_expired(&self, now: Secs) -> u64 {
        let mut dropped = 0u64;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let Shard {
                torrents,
                hasher,
                unflushed,
                dormant,
                pending,
                ..
            } = &mut *shard;
            let mut gone = 0;
            let before = dropped;
            // Counts not yet drained for the store must not be evicted.
            let evictable = |v: &InfoHash| !unflushed.contains_key(v) && !pending.contains(v);
            with_table!(torrents, |torrents| {
                torrents.retain(|h, t| {
                    dropped += t.v4.purge(hasher, now.0) as u64;
                    dropped += t.v6.purge(hasher, now.0) as u64;
                    if !(t.v4.is_empty() && t.v6.is_empty()) {
                        return true;
                    }
                    // No room without evicting a count the store lacks: stays here
                    // until the next purge.
                    let keep =
                        t.completed > 0 && !dormant.insert(hasher, *h, t.completed, evictable);
                    gone += u64::from(!keep);
                    keep
                });
                if torrents.capacity() > 64 && torrents.len() < torrents.capacity() / 4 {
                    torrents.shrink_to_fit();
                }
            });
            dormant.shrink(hasher);
            self.forget(gone, dropped - before);
        }
        dropped
    }

    /// Totals over all torrents (locks each shard in turn).
    pub fn stats(&self) -> EngineStats {
        let mut s = EngineStats::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            s.torrents += shard.torrents.len() as u64;
            s.dormant += shard.dormant.len() as u64;
            with_table!(&shard.torrents, |table| {
                for t in table.values() {
                    s.peers_v4 += t.v4.len() as u64;
                    s.peers_v6 += t.v6.len() as u64;
                    s.seeders += (t.v4.seeders() + t.v6.seeders()) as u64;
                    s.leechers += (t.v4.leechers() + t.v6.leechers()) as u64;
                }
            });
        }
        s
    }

    /// The `limit` torrents with the largest `key`, largest first (ties by info-hash).
    /// Collects every torrent's counters, then selects: O(torrents).
    pub fn top_by(
        &self,
        limit: usize,
        key: impl Fn(&SwarmStats) -> u64,
    ) -> Vec<(InfoHash, SwarmStats)> {
        let mut all = Vec::new();
        self.scrape_all(&mut all, usize::MAX);
        let order = |a: &(InfoHash, SwarmStats), b: &(InfoHash, SwarmStats)| {
            key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0))
        };
        if limit == 0 {
            return Vec::new();
        }
        if all.len() > limit {
            all.select_nth_unstable_by(limit - 1, order);
            all.truncate(limit);
        }
        all.sort_unstable_by(order);
        all
    }

    /// Peers by network and the completed downloads over all torrents (locks each
    /// shard in turn; scans IPv6 peers).
    pub fn network_counts(&self) -> NetworkCounts {
        let mut n = NetworkCounts::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            n.completed += shard.dormant.iter().map(|(_, c)| c).sum::<u64>();
            with_table!(&shard.torrents, |table| {
                for t in table.values() {
                    n.ipv4 += t.v4.len() as u64;
                    n.completed += t.completed;
                    for (p, _, _) in t.v6.iter() {
                        // Yggdrasil addresses are 0200::/7.
                        if p.addr().as_bytes()[0] & 0xfe == 0x02 {
                            n.yggdrasil += 1;
                        } else {
                            n.ipv6 += 1;
                        }
                    }
                }
            });
        }
        n
    }

    /// Peers per client code (`shoal_protocol::clients`), both families. Locks one
    /// shard at a time.
    pub fn client_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; 256];
        for shard in self.shards.iter() {
            let shard = shard.lock();
            with_table!(&shard.torrents, |table| {
                for t in table.values() {
                    for (p, _, _) in t.v4.iter() {
                        counts[usize::from(p.client)] += 1;
                    }
                    for (p, _, _) in t.v6.iter() {
                        counts[usize::from(p.client)] += 1;
                    }
                }
            });
        }
        counts
    }

    /// Whether `peer` is currently in the torrent's swarm (for tests and tools).
    pub fn contains<A: Family>(&self, info_hash: &InfoHash, peer: &A) -> bool {
        let shard = self.shard(info_hash).lock();
        with_table!(&shard.torrents, |table| table
            .get(info_hash)
            .is_some_and(|t| A::list(t).find(&shard.hasher, peer).is_some()))
    }
}

/// A shard's state beside its table, borrowed for one announce.
struct Parts<'a> {
    hasher: &'a FixedState,
    rng: &'a mut Rng,
    unflushed: &'a mut Unflushed,
    dormant: &'a mut dormant::Dormant,
    pending: &'a mut hashbrown::HashSet<InfoHash, FixedState>,
    lookups: &'a mut Vec<InfoHash>,
    new_torrents: &'a mut Vec<InfoHash>,
    traffic: &'a mut HashMap<(u32, InfoHash), accounting::Credit, FixedState>,
    changes: &'a mut Vec<shoal_protocol::cluster::Record>,
}

fn outcome<T: Tail>(interval: u32, torrent: &Torrent<T>) -> AnnounceOutcome {
    let s = torrent.stats();
    AnnounceOutcome {
        interval,
        seeders: s.seeders,
        leechers: s.leechers,
        completed: s.completed,
        rejected: None,
    }
}

/// Holds a peerless torrent's count in the dormant table, making room only by evicting
/// counts that are flushed and not waiting for the store. With no room the count stays
/// in the store only, and the torrent is remembered as spilled so that its return looks
/// the count up again. Returns whether the count is held in memory.
fn hold_or_spill(
    dormant: &mut dormant::Dormant,
    hasher: &FixedState,
    pending: &hashbrown::HashSet<InfoHash, FixedState>,
    unflushed: &Unflushed,
    h: InfoHash,
    n: u64,
) -> bool {
    let held = dormant.insert(hasher, h, n, |v| {
        !pending.contains(v) && !unflushed.contains_key(v)
    });
    if !held {
        dormant.spill(hasher, &h);
    }
    held
}

/// Hashes a peer address with a shard's keyed hasher.
fn hash_of<A: PeerAddr>(hasher: &FixedState, a: &A) -> u64 {
    hasher.hash_one(a)
}

#[cfg(test)]
mod tests;

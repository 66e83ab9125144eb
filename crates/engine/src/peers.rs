//! One torrent's peers of one address family.

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::rng::Rng;
use crate::{hash_of, Family, PeerAddrV4, PeerAddrV6, PeerId, SwarmStats};

/// Lists longer than this get a hash index; shorter ones are scanned.
const INDEX_FROM: usize = 24;
/// An index is dropped when its list shrinks below this.
const INDEX_UNTIL: usize = 12;

const FLAG_COMPLETED_COUNTED: u8 = 1;
/// A partial seed that announced `paused` (BEP 21): a leecher that is not downloading.
const FLAG_PAUSED: u8 = 2;
/// Announced to another node of the cluster, not to this one: handed out and counted,
/// never published again nor written to this node's snapshot.
const FLAG_REMOTE: u8 = 4;

/// A peer in its stored form: compact address, flags, expiry and the engine's tail (see
/// [`Tail`]). 12 bytes for IPv4, 24 for IPv6, plus 16 in an accounting engine.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Peer<A, T = ()> {
    addr: A,
    flags: u8,
    /// Client code from the peer id (`shoal_protocol::clients`), in what would otherwise
    /// be padding.
    pub(crate) client: u8,
    /// Engine seconds at which the peer is dropped unless it announces again.
    pub(crate) expires: u32,
    /// What the engine keeps per peer beyond that: nothing, or the accounting slot.
    pub(crate) tail: T,
}

/// What a peer record carries beyond address, flags and expiry. An open engine stores
/// `()` (no bytes); an accounting engine stores a [`Slot`] inside the record itself, so
/// private mode costs 16 bytes a peer and nothing a torrent (no second vector to keep
/// in step, no boxed part to hold it).
pub trait Tail: Copy + Default + std::fmt::Debug + 'static {
    #[doc(hidden)]
    fn slot_mut(&mut self) -> Option<&mut Slot>;
    #[doc(hidden)]
    fn from_slot(slot: Slot) -> Self;
}

impl Tail for () {
    fn slot_mut(&mut self) -> Option<&mut Slot> {
        None
    }
    fn from_slot(_: Slot) -> Self {}
}

impl Tail for Slot {
    fn slot_mut(&mut self) -> Option<&mut Slot> {
        Some(self)
    }
    fn from_slot(slot: Slot) -> Self {
        slot
    }
}

impl<A, T: Tail> Peer<A, T> {
    pub(crate) fn new(addr: A, expires: u32) -> Self {
        Peer {
            addr,
            flags: 0,
            client: 0,
            expires,
            tail: T::default(),
        }
    }
    pub(crate) fn completed_counted(&self) -> bool {
        self.flags & FLAG_COMPLETED_COUNTED != 0
    }
    pub(crate) fn mark_completed_counted(&mut self) {
        self.flags |= FLAG_COMPLETED_COUNTED;
    }
    pub(crate) fn paused(&self) -> bool {
        self.flags & FLAG_PAUSED != 0
    }
    pub(crate) fn is_remote(&self) -> bool {
        self.flags & FLAG_REMOTE != 0
    }
    pub(crate) fn set_remote(&mut self, remote: bool) {
        if remote {
            self.flags |= FLAG_REMOTE;
        } else {
            self.flags &= !FLAG_REMOTE;
        }
    }
    pub(crate) fn addr(&self) -> &A {
        &self.addr
    }
}

/// A torrent's state: its peers by family and its completed count.
pub struct Torrent<T = ()> {
    pub(crate) v4: PeerList<PeerAddrV4, T>,
    pub(crate) v6: PeerList<PeerAddrV6, T>,
    pub(crate) completed: u64,
}

impl<T> Default for Torrent<T> {
    fn default() -> Self {
        Torrent {
            v4: PeerList::default(),
            v6: PeerList::default(),
            completed: 0,
        }
    }
}

impl<T: Tail> Torrent<T> {
    pub(crate) fn stats(&self) -> SwarmStats {
        SwarmStats {
            seeders: (self.v4.seeders() + self.v6.seeders()) as u32,
            leechers: (self.v4.leechers() + self.v6.leechers()) as u32,
            downloaders: (self.v4.downloaders() + self.v6.downloaders()) as u32,
            completed: self.completed,
        }
    }
}

/// Peers of one family: seeders in `peers[..seeders]`, leechers after them, with an
/// optional index from address to position for large lists.
pub struct PeerList<A, T = ()> {
    peers: Vec<Peer<A, T>>,
    seeders: u32,
    /// Peers with [`FLAG_PAUSED`] (always leechers).
    paused: u32,
    /// What only some lists need, boxed so the common small list stays 40 bytes.
    extra: Option<Box<Extra>>,
}

/// Optional parts of a [`PeerList`].
#[derive(Default)]
struct Extra {
    /// Address → position, for lists longer than [`INDEX_FROM`].
    index: Option<HashTable<u32>>,
    /// Peer ids in step with `peers`, or empty when the engine does not keep them.
    ids: Vec<PeerId>,
}

/// What private mode keeps per peer to turn the cumulative totals a client reports into
/// deltas: a tag of its account and its last totals in KiB (see
/// [`accounting::credit`](crate::accounting)). 12 bytes, in the peer record ([`Tail`]),
/// packed as 24 + 36 + 36 bits:
/// - the tag is the account modulo 2^24 − 1, plus one (never 0, which marks a slot that
///   has no account yet): two accounts share a tag only 16.7 million ids apart, and the
///   tag only decides whether an announce continues the same session;
/// - 36 bits of KiB is 64 PiB per session and direction (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot([u32; 3]);

const TAG_BITS: u32 = 24;
const KIB_BITS: u32 = 36;
const MAX_KIB: u64 = (1 << KIB_BITS) - 1;

impl Slot {
    pub(crate) fn new(user: u32, uploaded: u64, downloaded: u64) -> Slot {
        let tag = u128::from(user % ((1 << TAG_BITS) - 1) + 1);
        let kib = |n: u64| u128::from((n >> 10).min(MAX_KIB));
        let v = tag | kib(uploaded) << TAG_BITS | kib(downloaded) << (TAG_BITS + KIB_BITS);
        Slot([v as u32, (v >> 32) as u32, (v >> 64) as u32])
    }
    fn bits(&self) -> u128 {
        u128::from(self.0[0]) | u128::from(self.0[1]) << 32 | u128::from(self.0[2]) << 64
    }
    /// Whether the slot holds `user`'s session (by tag).
    pub(crate) fn is_for(&self, user: u32) -> bool {
        *self != Slot::default()
            && self.bits() as u32 & ((1 << TAG_BITS) - 1) == Slot::new(user, 0, 0).0[0]
    }
    /// The last totals, in KiB.
    pub(crate) fn kib(&self) -> (u64, u64) {
        let v = self.bits() >> TAG_BITS;
        ((v as u64) & MAX_KIB, (v >> KIB_BITS) as u64 & MAX_KIB)
    }
}

impl<A, T> Default for PeerList<A, T> {
    fn default() -> Self {
        PeerList {
            peers: Vec::new(),
            seeders: 0,
            paused: 0,
            extra: None,
        }
    }
}

impl<A: Family, T: Tail> PeerList<A, T> {
    fn index(&self) -> Option<&HashTable<u32>> {
        self.extra.as_ref().and_then(|e| e.index.as_ref())
    }
    fn index_mut(&mut self) -> Option<&mut HashTable<u32>> {
        self.extra.as_mut().and_then(|e| e.index.as_mut())
    }
    fn ids(&self) -> &[PeerId] {
        self.extra.as_ref().map_or(&[], |e| &e.ids)
    }
    fn ids_mut(&mut self) -> Option<&mut Vec<PeerId>> {
        self.extra
            .as_mut()
            .map(|e| &mut e.ids)
            .filter(|ids| !ids.is_empty())
    }
    /// The accounting slot of the peer at `i` (only when the engine accounts).
    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.peers.get_mut(i).and_then(|p| p.tail.slot_mut())
    }
    /// Drops the boxed part when it holds nothing.
    fn tidy_extra(&mut self) {
        if self
            .extra
            .as_ref()
            .is_some_and(|e| e.index.is_none() && e.ids.is_empty())
        {
            self.extra = None;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
    /// Peers announced to this node (not another node's).
    pub(crate) fn local(&self) -> usize {
        self.peers.iter().filter(|p| !p.is_remote()).count()
    }
    pub(crate) fn seeders(&self) -> usize {
        self.seeders as usize
    }
    pub(crate) fn leechers(&self) -> usize {
        self.peers.len() - self.seeders()
    }
    /// Leechers that are downloading: leechers minus paused partial seeds.
    pub(crate) fn downloaders(&self) -> usize {
        self.leechers() - self.paused as usize
    }

    /// Marks the peer at `i` as a paused partial seed or not; only leechers can be.
    pub(crate) fn set_paused(&mut self, i: usize, paused: bool) {
        let paused = paused && i >= self.seeders();
        let p = &mut self.peers[i];
        if p.paused() != paused {
            p.flags ^= FLAG_PAUSED;
            if paused {
                self.paused += 1;
            } else {
                self.paused -= 1;
            }
        }
    }

    /// Every peer with its seeder state and id (if kept), for snapshots.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Peer<A, T>, bool, Option<&PeerId>)> {
        let ids = self.ids();
        self.peers
            .iter()
            .enumerate()
            .map(move |(i, p)| (p, i < self.seeders(), ids.get(i)))
    }

    /// Whether the peer at `i` is a seeder (seeders come first).
    pub(crate) fn is_seeder(&self, i: usize) -> bool {
        i < self.seeders()
    }
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Peer<A, T> {
        &mut self.peers[i]
    }

    pub(crate) fn find(&self, h: &FixedState, addr: &A) -> Option<usize> {
        match self.index() {
            Some(index) => index
                .find(hash_of(h, addr), |&i| self.peers[i as usize].addr == *addr)
                .map(|&i| i as usize),
            None => self.peers.iter().position(|p| p.addr == *addr),
        }
    }

    /// Records the id of the peer at `i` (only when ids are kept).
    pub(crate) fn set_id(&mut self, i: usize, id: PeerId) {
        if let Some(slot) = self.ids_mut().and_then(|ids| ids.get_mut(i)) {
            *slot = id;
        }
    }

    /// Adds a peer that is not in the list; returns its position. `id` is kept when
    /// given (the engine gives it always or never).
    pub(crate) fn insert(
        &mut self,
        h: &FixedState,
        peer: Peer<A, T>,
        seeder: bool,
        id: Option<PeerId>,
    ) -> usize {
        let pos = self.peers.len();
        if let Some(id) = id {
            let want = self.peers.capacity() + 4;
            let ids = &mut self.extra.get_or_insert_with(Default::default).ids;
            if ids.len() == ids.capacity() {
                ids.reserve_exact(want - ids.len());
            }
            ids.push(id);
        }

        if self.peers.len() == self.peers.capacity() {
            // Most swarms are small: grow them a few slots at a time so a torrent with
            // ten peers does not carry room for sixteen; large ones grow by half.
            let cap = self.peers.capacity();
            let extra = if cap < 32 { 4 } else { cap / 2 };
            self.peers.reserve_exact(extra);
        }
        self.peers.push(peer);
        if let Some(index) = self.extra.as_mut().and_then(|e| e.index.as_mut()) {
            let peers = &self.peers;
            index.insert_unique(hash_of(h, &peer.addr), pos as u32, |&i| {
                hash_of(h, &peers[i as usize].addr)
            });
        } else if self.peers.len() > INDEX_FROM {
            self.build_index(h);
        }
        if seeder {
            self.set_seeder(h, pos, true)
        } else {
            pos
        }
    }

    /// Moves the peer at `i` into the seeder or leecher part; returns its new position.
    /// A peer becoming a seeder stops being paused.
    pub(crate) fn set_seeder(&mut self, h: &FixedState, i: usize, seeder: bool) -> usize {
        let is_seeder = i < self.seeders();
        if seeder == is_seeder {
            return i;
        }
        if seeder {
            self.set_paused(i, false);
        }
        if seeder {
            let to = self.seeders();
            self.swap(h, i, to);
            self.seeders += 1;
            to
        } else {
            let to = self.seeders() - 1;
            self.swap(h, i, to);
            self.seeders -= 1;
            to
        }
    }

    /// Removes the peer at `i`.
    pub(crate) fn remove(&mut self, h: &FixedState, i: usize) {
        self.set_paused(i, false);
        let mut i = i;
        if i < self.seeders() {
            // Move it to the last seeder slot, then make that slot a leecher slot.
            let last_seeder = self.seeders() - 1;
            self.swap(h, i, last_seeder);
            self.seeders -= 1;
            i = last_seeder;
        }
        let last = self.peers.len() - 1;
        self.swap(h, i, last);
        let addr = self.peers[last].addr;
        if let Some(index) = self.extra.as_mut().and_then(|e| e.index.as_mut()) {
            if let Ok(entry) = index.find_entry(hash_of(h, &addr), |&v| v as usize == last) {
                entry.remove();
            }
        }
        self.peers.pop();
        if let Some(ids) = self.ids_mut() {
            ids.pop();
        }
        if self.peers.is_empty() {
            if let Some(e) = self.extra.as_mut() {
                e.ids = Vec::new();
            }
        }
        if self.peers.len() < INDEX_UNTIL {
            if let Some(e) = self.extra.as_mut() {
                e.index = None;
            }
            self.tidy_extra();
        }
        if self.peers.capacity() > 8 && self.peers.len() < self.peers.capacity() / 4 {
            self.peers.shrink_to(self.peers.capacity() / 2);
            let cap = self.peers.capacity();
            if let Some(ids) = self.ids_mut() {
                ids.shrink_to(cap);
            }
        }
    }

    fn swap(&mut self, h: &FixedState, i: usize, j: usize) {
        if i == j {
            return;
        }
        let (ai, aj) = (self.peers[i].addr, self.peers[j].addr);
        if let Some(index) = self.index_mut() {
            // Positions are unique keys; re-point both entries without ever letting two
            // entries hold the same position.
            const MOVING: u32 = u32::MAX;
            if let Some(v) = index.find_mut(hash_of(h, &ai), |&v| v as usize == i) {
                *v = MOVING;
            }
            if let Some(v) = index.find_mut(hash_of(h, &aj), |&v| v as usize == j) {
                *v = i as u32;
            }
            if let Some(v) = index.find_mut(hash_of(h, &ai), |&v| v == MOVING) {
                *v = j as u32;
            }
        }
        self.peers.swap(i, j);
        if let Some(ids) = self.ids_mut() {
            ids.swap(i, j);
        }
    }

    fn build_index(&mut self, h: &FixedState) {
        let mut index = HashTable::with_capacity(self.peers.len() * 2);
        for (i, p) in self.peers.iter().enumerate() {
            let peers = &self.peers;
            index.insert_unique(hash_of(h, &p.addr), i as u32, |&v| {
                hash_of(h, &peers[v as usize].addr)
            });
        }
        self.extra.get_or_insert_with(Default::default).index = Some(index);
    }

    /// Appends up to `want` peers chosen at random to `out`, skipping position `own`;
    /// a seeder is offered leechers only.
    ///
    /// The walk starts at a random position and steps by a random stride coprime with
    /// the range, so it visits distinct peers in an order that changes every call,
    /// without allocating.
    pub(crate) fn select(
        &self,
        rng: &mut Rng,
        own: usize,
        seeder: bool,
        want: usize,
        out: &mut Vec<A>,
        mut ids_out: Option<&mut Vec<PeerId>>,
    ) {
        let (start, end) = if seeder {
            (self.seeders(), self.peers.len())
        } else {
            (0, self.peers.len())
        };
        let n = end - start;
        let own_in_range = own >= start && own < end;
        let available = n - usize::from(own_in_range);
        let take = want.min(available);
        if take == 0 {
            return;
        }
        out.reserve(take);
        let mut emit = |i: usize| {
            out.push(self.peers[i].addr);
            if let (Some(ids), Some(id)) = (ids_out.as_deref_mut(), self.ids().get(i)) {
                ids.push(*id);
            }
        };
        if take == available {
            (start..end).filter(|&i| i != own).for_each(emit);
            return;
        }
        let mut pos = rng.below(n);
        let stride = coprime_stride(rng, n);
        let mut taken = 0;
        while taken < take {
            if start + pos != own {
                emit(start + pos);
                taken += 1;
            }
            pos += stride;
            if pos >= n {
                pos -= n;
            }
        }
    }

    /// Drops peers whose expiry is at or before `now`; returns how many.
    pub(crate) fn purge(&mut self, h: &FixedState, now: u32) -> usize {
        let before = self.peers.len();
        let mut i = 0;
        while i < self.peers.len() {
            if self.peers[i].expires <= now {
                // remove() only moves peers from later positions into `i`.
                self.remove(h, i);
            } else {
                i += 1;
            }
        }
        before - self.peers.len()
    }

    #[cfg(test)]
    pub(crate) fn check_invariants(&self, h: &FixedState) {
        assert!(self.seeders() <= self.peers.len());
        let paused = self.peers.iter().filter(|p| p.paused()).count();
        assert_eq!(paused, self.paused as usize, "paused count");
        assert!(self.peers[..self.seeders()].iter().all(|p| !p.paused()));
        for (i, p) in self.peers.iter().enumerate() {
            assert_eq!(self.find(h, &p.addr), Some(i), "index points at the peer");
        }
        if let Some(index) = self.index() {
            assert_eq!(index.len(), self.peers.len());
        }
        assert!(
            self.ids().is_empty() || self.ids().len() == self.peers.len(),
            "ids in step"
        );
        let mut addrs: Vec<_> = self.peers.iter().map(|p| p.addr).collect();
        let n = addrs.len();
        addrs.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        addrs.dedup();
        assert_eq!(addrs.len(), n, "no duplicate peers");
    }
}

/// A stride in `1..n` with gcd(stride, n) = 1, so `pos += stride (mod n)` visits every
/// position once before repeating.
fn coprime_stride(rng: &mut Rng, n: usize) -> usize {
    if n <= 2 {
        return 1;
    }
    for _ in 0..8 {
        let s = 1 + rng.below(n - 1);
        if gcd(s, n) == 1 {
            return s;
        }
    }
    1
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

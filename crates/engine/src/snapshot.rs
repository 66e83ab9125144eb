//! Swarm snapshots: every torrent's peers written on graceful shutdown and read back at
//! start, so clients announcing right after a restart still get peers.
//!
//! Format (all integers big-endian):
//!
//! ```text
//! header   "SHOALSWM" · version u32 (=1) · written-at unix u64 · flags u32 (bit 0: peer ids)
//! torrent  0x01 · info-hash 20 · completed u64 · IPv4 count u32 · IPv6 count u32 ·
//!          peers: compact address (6 / 18) · flags u8 · seconds left u32 · [peer id 20]
//! trailer  0xFF · torrent count u64 · FNV-1a 64 of everything before the trailer
//! ```
//!
//! Peers keep the time they had left, less the time the snapshot spent on disk, so an old
//! snapshot brings back only peers that would still be alive. A damaged or foreign file is
//! rejected whole.

use std::io::{self, Write};

use crate::peers::{Peer, PeerList, Tail};
use crate::{Engine, Family, InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6, PeerId, Secs, Shard};

const MAGIC: &[u8; 8] = b"SHOALSWM";
const VERSION: u32 = 1;
const TAG_TORRENT: u8 = 0x01;
const TAG_END: u8 = 0xFF;
const PEER_SEEDER: u8 = 0x80;
const PEER_COMPLETED: u8 = 0x01;
const PEER_PAUSED: u8 = 0x02;

/// What a snapshot held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotStats {
    /// Torrents written or restored.
    pub torrents: u64,
    /// Peers written or restored.
    pub peers: u64,
    /// Peers skipped on restore because their time ran out while the snapshot waited.
    pub expired: u64,
}

/// What tells one snapshot from another: the time it was written and the checksum over
/// its header and every record. A caller keeps it after writing a snapshot, to recognise
/// that file later and refuse any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotId {
    /// Unix seconds the snapshot was written at.
    pub written_at: u64,
    /// The checksum in its trailer.
    pub checksum: u64,
}

impl SnapshotId {
    /// Reads a snapshot's identity from its header and trailer only; `None` when `data`
    /// is not laid out as a snapshot. The records are checked by
    /// [`Engine::restore_snapshot`].
    pub fn of(data: &[u8]) -> Option<SnapshotId> {
        if data.len() < 24 + 17 || &data[..8] != MAGIC || data[data.len() - 17] != TAG_END {
            return None;
        }
        Some(SnapshotId {
            written_at: u64::from_be_bytes(data[12..20].try_into().ok()?),
            checksum: u64::from_be_bytes(data[data.len() - 8..].try_into().ok()?),
        })
    }
}

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a shoal swarm snapshot.
    #[error("not a shoal swarm snapshot")]
    BadMagic,
    /// Written by a version this build cannot read.
    #[error("unsupported snapshot version {0}")]
    Version(u32),
    /// Cut short or damaged.
    #[error("snapshot is truncated or corrupt ({0})")]
    Corrupt(&'static str),
}

/// FNV-1a 64: a corruption check, not a security measure.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A writer that hashes what passes through it.
struct Hashing<'w, W: Write> {
    inner: &'w mut W,
    fnv: Fnv,
}

impl<W: Write> Hashing<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.fnv.update(bytes);
        self.inner.write_all(bytes)
    }
}

fn write_list<A: Family, T: Tail>(
    out: &mut Vec<u8>,
    list: &PeerList<A, T>,
    now: Secs,
    ids: bool,
) -> u64 {
    let mut n = 0;
    // Other nodes' peers are theirs to restore.
    for (p, seeder, id) in list.iter().filter(|(p, _, _)| !p.is_remote()) {
        let mut flags = 0;
        if seeder {
            flags |= PEER_SEEDER;
        }
        if p.completed_counted() {
            flags |= PEER_COMPLETED;
        }
        if p.paused() {
            flags |= PEER_PAUSED;
        }
        out.extend_from_slice(p.addr().as_bytes());
        out.push(flags);
        out.extend_from_slice(&p.expires.saturating_sub(now.0).to_be_bytes());
        if ids {
            out.extend_from_slice(&id.map_or([0; 20], |id| id.0));
        }
        n += 1;
    }
    n
}

impl Engine {
    /// Writes every swarm to `w`. `now` is engine time, `unix_now` wall-clock seconds
    /// (used to age the snapshot on restore). Locks one shard at a time, so announces
    /// keep being served while it runs. Returns what was written and its identity.
    pub fn write_snapshot<W: Write>(
        &self,
        now: Secs,
        unix_now: u64,
        w: &mut W,
    ) -> io::Result<(SnapshotStats, SnapshotId)> {
        let ids = self.config.store_peer_ids;
        let mut h = Hashing {
            inner: w,
            fnv: Fnv::new(),
        };
        h.put(MAGIC)?;
        h.put(&VERSION.to_be_bytes())?;
        h.put(&unix_now.to_be_bytes())?;
        h.put(&u32::from(ids).to_be_bytes())?;
        let mut stats = SnapshotStats::default();
        let mut buf = Vec::new();
        for shard in self.shards.iter() {
            // Serialise a shard into memory under its lock, write it after unlocking.
            buf.clear();
            {
                let shard = shard.lock();
                with_table!(&shard.torrents, |table| {
                    for (hash, t) in table.iter() {
                        buf.push(TAG_TORRENT);
                        buf.extend_from_slice(&hash.0);
                        buf.extend_from_slice(&t.completed.to_be_bytes());
                        buf.extend_from_slice(&(t.v4.local() as u32).to_be_bytes());
                        buf.extend_from_slice(&(t.v6.local() as u32).to_be_bytes());
                        stats.peers += write_list(&mut buf, &t.v4, now, ids);
                        stats.peers += write_list(&mut buf, &t.v6, now, ids);
                        stats.torrents += 1;
                    }
                });
            }
            h.put(&buf)?;
        }
        let sum = h.fnv.0;
        h.inner.write_all(&[TAG_END])?;
        h.inner.write_all(&stats.torrents.to_be_bytes())?;
        h.inner.write_all(&sum.to_be_bytes())?;
        Ok((
            stats,
            SnapshotId {
                written_at: unix_now,
                checksum: sum,
            },
        ))
    }

    /// Adds the swarms of a snapshot written by [`Engine::write_snapshot`]. The whole
    /// file is checked before anything is added; peers already present are kept as they
    /// are.
    pub fn restore_snapshot(
        &self,
        data: &[u8],
        now: Secs,
        unix_now: u64,
    ) -> Result<SnapshotStats, SnapshotError> {
        if data.len() < 8 || &data[..8] != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        if data.len() < 24 + 17 {
            return Err(SnapshotError::Corrupt("too short"));
        }
        let version = u32::from_be_bytes(data[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(SnapshotError::Version(version));
        }
        let (body, trailer) = data.split_at(data.len() - 17);
        if trailer[0] != TAG_END {
            return Err(SnapshotError::Corrupt("no trailer"));
        }
        let torrents = u64::from_be_bytes(trailer[1..9].try_into().expect("8 bytes"));
        let sum = u64::from_be_bytes(trailer[9..17].try_into().expect("8 bytes"));
        let mut fnv = Fnv::new();
        fnv.update(body);
        if fnv.0 != sum {
            return Err(SnapshotError::Corrupt("checksum mismatch"));
        }
        let written = u64::from_be_bytes(body[12..20].try_into().expect("8 bytes"));
        let ids = u32::from_be_bytes(body[20..24].try_into().expect("4 bytes")) & 1 == 1;
        let aged = u32::try_from(unix_now.saturating_sub(written)).unwrap_or(u32::MAX);

        // First pass: the structure must be sound before the engine is touched.
        let mut record = TorrentRecord::default();
        let mut r = Reader(&body[24..]);
        let mut seen = 0u64;
        while !r.0.is_empty() {
            r.torrent(ids, &mut record)?;
            seen += 1;
        }
        if seen != torrents {
            return Err(SnapshotError::Corrupt("torrent count mismatch"));
        }

        // Peer ids (accounting slots start empty: restored peers start a new baseline).
        let keep_ids = self.config.store_peer_ids;
        let mut stats = SnapshotStats::default();
        let mut r = Reader(&body[24..]);
        while !r.0.is_empty() {
            r.torrent(ids, &mut record)?;
            let mut shard = self.shard(&record.hash).lock();
            let Shard {
                torrents,
                hasher,
                dormant,
                new_torrents,
                ..
            } = &mut *shard;
            with_table!(torrents, |torrents| {
                if !torrents.contains_key(&record.hash) {
                    self.torrent_count
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // A restored swarm is new to this run: the catalog resolves (or marks
                    // active) its torrent as it would a fresh one.
                    if self.config.note_new_torrents {
                        if new_torrents.len() < crate::MAX_NEW_NOTES {
                            new_torrents.push(record.hash);
                        } else {
                            self.notes_dropped
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    let completed = dormant.take(hasher, &record.hash).unwrap_or(0);
                    torrents.insert(
                        record.hash,
                        crate::peers::Torrent {
                            completed,
                            ..Default::default()
                        },
                    );
                }
                let t = torrents.entry(record.hash).or_default();
                t.completed = t.completed.max(record.completed);
                stats.torrents += 1;
                for list_stats in [
                    restore_list(&mut t.v4, &record.v4, hasher, now, aged, keep_ids),
                    restore_list(&mut t.v6, &record.v6, hasher, now, aged, keep_ids),
                ] {
                    stats.peers += list_stats.0;
                    stats.expired += list_stats.1;
                    self.peer_count
                        .fetch_add(list_stats.0, std::sync::atomic::Ordering::Relaxed);
                }
                // A torrent whose peers all expired and that never completed is not kept.
                if t.v4.is_empty() && t.v6.is_empty() && t.completed == 0 {
                    torrents.remove(&record.hash);
                    stats.torrents -= 1;
                    self.torrent_count
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        Ok(stats)
    }
}

/// One peer as stored.
#[derive(Clone, Copy)]
struct PeerRecord<A> {
    addr: A,
    flags: u8,
    left: u32,
    id: PeerId,
}

/// One torrent as stored (buffers reused between torrents).
struct TorrentRecord {
    hash: InfoHash,
    completed: u64,
    v4: Vec<PeerRecord<PeerAddrV4>>,
    v6: Vec<PeerRecord<PeerAddrV6>>,
}

impl Default for TorrentRecord {
    fn default() -> Self {
        TorrentRecord {
            hash: InfoHash([0; 20]),
            completed: 0,
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }
}

/// Adds stored peers that are still alive and not already present; returns
/// (restored, expired).
fn restore_list<A: Family, T: Tail>(
    list: &mut PeerList<A, T>,
    records: &[PeerRecord<A>],
    hasher: &foldhash::fast::FixedState,
    now: Secs,
    aged: u32,
    keep_ids: bool,
) -> (u64, u64) {
    let (mut restored, mut expired) = (0, 0);
    for rec in records {
        if rec.left <= aged {
            expired += 1;
            continue;
        }
        if list.find(hasher, &rec.addr).is_some() {
            continue;
        }
        let mut peer = Peer::new(rec.addr, now.0.saturating_add(rec.left - aged));
        if rec.flags & PEER_COMPLETED != 0 {
            peer.mark_completed_counted();
        }
        let seeder = rec.flags & PEER_SEEDER != 0;
        let i = list.insert(hasher, peer, seeder, keep_ids.then_some(rec.id));
        list.set_paused(i, rec.flags & PEER_PAUSED != 0);
        restored += 1;
    }
    (restored, expired)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Corrupt("record cut short"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn torrent(&mut self, ids: bool, rec: &mut TorrentRecord) -> Result<(), SnapshotError> {
        if self.take(1)? != [TAG_TORRENT] {
            return Err(SnapshotError::Corrupt("unknown record"));
        }
        rec.hash = InfoHash(self.take(20)?.try_into().expect("20 bytes"));
        rec.completed = self.u64()?;
        let n4 = self.u32()?;
        let n6 = self.u32()?;
        self.peers(n4, ids, &mut rec.v4)?;
        self.peers(n6, ids, &mut rec.v6)
    }

    fn peers<A: PeerAddr>(
        &mut self,
        n: u32,
        ids: bool,
        out: &mut Vec<PeerRecord<A>>,
    ) -> Result<(), SnapshotError> {
        out.clear();
        let each = A::LEN + 5 + if ids { 20 } else { 0 };
        // Check the length first so a forged count cannot make us reserve memory.
        if (self.0.len() as u64) < u64::from(n) * each as u64 {
            return Err(SnapshotError::Corrupt("peer list cut short"));
        }
        out.reserve(n as usize);
        for _ in 0..n {
            let addr = A::from_bytes(self.take(A::LEN)?).expect("exact length");
            let flags = self.take(1)?[0];
            let left = self.u32()?;
            let id = if ids {
                PeerId(self.take(20)?.try_into().expect("20 bytes"))
            } else {
                PeerId([0; 20])
            };
            out.push(PeerRecord {
                addr,
                flags,
                left,
                id,
            });
        }
        Ok(())
    }
}

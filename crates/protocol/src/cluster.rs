//! What shoal nodes tell each other about their swarms over NATS (sans-I/O).
//!
//! Each node applies its own announces and publishes what changed, batched, one message
//! per shard subject: a peer added or refreshed (with the seconds it has left and
//! whether it seeds) or removed. A node that starts asks a running one for its swarms,
//! answered in chunks of the same records. Anyone on the bus could publish, so every
//! message is authenticated with the cluster key: a SipHash-2-4-128 MAC keyed by a key
//! derived from the nodes' shared master secret (the secret that already makes their
//! UDP connection ids interchangeable), with its own domain string. A receiver drops a
//! message whose MAC does not match, and keeps per sender the last sequence it applied,
//! so a replayed or reordered batch changes nothing.
//!
//! ```text
//! header   magic "SHC1", kind u8, node-id length u8, node id (1..=64 bytes of
//!          [A-Za-z0-9._-]), sequence u64, sent_at u32 (unix seconds), shard u16,
//!          record count u32
//! records  tag u8 (family | change), info-hash [20], address [6 | 18],
//!          and for an upsert: flags u8 (seeder, paused), seconds left u16
//! status   for a status message only (no records): local peers u64, torrents u64,
//!          announces since start u64, started_at u32 (unix seconds)
//! trailer  MAC [16] over everything before it
//! ```
//!
//! Every node also publishes a small status message every few seconds: what it serves
//! itself, for the other nodes' cluster figures.
//!
//! Everything is big-endian. Decoding checks lengths before it allocates and refuses
//! unknown tags, counts that do not match the bytes, and trailing bytes.

use std::hash::Hasher;

use siphasher::sip128::{Hasher128, SipHasher24};

use crate::common::{InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6};

const MAGIC: &[u8; 4] = b"SHC1";
const MAC_LEN: usize = 16;
/// Longest node id.
pub const MAX_NODE_ID: usize = 64;
/// Most records in one message: a batch above it is split. At 42 bytes a record (IPv6
/// upsert) this keeps a message under NATS's default 1 MiB payload.
pub const MAX_RECORDS: usize = 20_000;

const FAMILY_V6: u8 = 0x01;
const CHANGE_REMOVE: u8 = 0x02;
const FLAG_SEEDER: u8 = 0x01;
const FLAG_PAUSED: u8 = 0x02;

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Changes a node made to one shard's swarms since its last batch.
    Delta = 1,
    /// A part of a node's swarms, answering a snapshot request.
    SnapshotChunk = 2,
    /// The last chunk of a snapshot (possibly empty).
    SnapshotEnd = 3,
    /// A starting node asks for the others' swarms (no records).
    SnapshotRequest = 4,
    /// A node's own figures ([`NodeStatus`], no records).
    Status = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Delta),
            2 => Some(Kind::SnapshotChunk),
            3 => Some(Kind::SnapshotEnd),
            4 => Some(Kind::SnapshotRequest),
            5 => Some(Kind::Status),
            _ => None,
        }
    }
}

/// A peer's address of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Addr {
    /// IPv4.
    V4(PeerAddrV4),
    /// IPv6.
    V6(PeerAddrV6),
}

/// One change to a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The peer is in the swarm: added or refreshed.
    Upsert {
        /// Whether it seeds.
        seeder: bool,
        /// Whether it is a paused partial seed (BEP 21).
        paused: bool,
        /// Seconds until it expires unless refreshed, counted from the message's
        /// `sent_at`.
        ttl: u16,
    },
    /// The peer left (stopped) or was dropped.
    Remove,
}

/// A change to one peer of one torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The peer.
    pub addr: Addr,
    /// What happened to it.
    pub change: Change,
}

/// A message between nodes, decoded and authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it carries.
    pub kind: Kind,
    /// The sending node.
    pub node: String,
    /// The sender's sequence number: for deltas, per shard, one more each batch.
    pub sequence: u64,
    /// Unix seconds when it was sent.
    pub sent_at: u32,
    /// The shard (of the sender's engine) the records belong to.
    pub shard: u16,
    /// The changes.
    pub records: Vec<Record>,
    /// The sender's figures: sent, and decoded, with [`Kind::Status`] only (zero otherwise).
    pub status: NodeStatus,
}

/// What a node serves itself, as its status messages tell the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// Peers that announced to this node (not those other nodes told it of).
    pub local_peers: u64,
    /// Torrents it holds.
    pub torrents: u64,
    /// Announces it answered since it started.
    pub announces: u64,
    /// When it started (unix seconds).
    pub started_at: u32,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Too short, a length that does not add up, or trailing bytes.
    #[error("cluster message: malformed ({0})")]
    Malformed(&'static str),
    /// Not made with the cluster key (forged, or another cluster's).
    #[error("cluster message: bad signature")]
    BadSignature,
    /// More records than [`MAX_RECORDS`], or a node id that is not one.
    #[error("cluster message: {0}")]
    Refused(&'static str),
}

/// The cluster key: derived from the nodes' shared master secret, so every node that
/// shares it (and nobody else) signs and checks the same way.
#[derive(Clone)]
pub struct ClusterKey([u8; 16]);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("ClusterKey(..)")
    }
}

impl ClusterKey {
    /// The key for nodes sharing `master` (the connection-id secret).
    pub fn derive(master: &[u8; 16]) -> ClusterKey {
        let mut h = SipHasher24::new_with_key(master);
        h.write(b"shoal cluster message key");
        ClusterKey(h.finish128().as_bytes())
    }

    /// The MAC of `bytes` (what [`encode`] appends; public for fuzzing and tests).
    pub fn sign(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        let mut h = SipHasher24::new_with_key(&self.0);
        h.write(bytes);
        h.finish128().as_bytes()
    }
}

/// Whether `node` can name a node: 1..=64 bytes of ASCII letters, digits, `.`, `_`, `-`
/// (it becomes part of NATS subjects and store rows).
pub fn valid_node_id(node: &str) -> bool {
    (1..=MAX_NODE_ID).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Encodes `msg` and signs it with `key` into `out` (cleared first).
pub fn encode(msg: &Message, key: &ClusterKey, out: &mut Vec<u8>) -> Result<(), ClusterError> {
    if !valid_node_id(&msg.node) {
        return Err(ClusterError::Refused("node id"));
    }
    if msg.records.len() > MAX_RECORDS {
        return Err(ClusterError::Refused("too many records"));
    }
    if msg.kind == Kind::Status && !msg.records.is_empty() {
        return Err(ClusterError::Refused("records in a status message"));
    }
    out.clear();
    out.extend_from_slice(MAGIC);
    out.push(msg.kind as u8);
    out.push(msg.node.len() as u8);
    out.extend_from_slice(msg.node.as_bytes());
    out.extend_from_slice(&msg.sequence.to_be_bytes());
    out.extend_from_slice(&msg.sent_at.to_be_bytes());
    out.extend_from_slice(&msg.shard.to_be_bytes());
    out.extend_from_slice(&(msg.records.len() as u32).to_be_bytes());
    for r in &msg.records {
        let (family, addr) = match &r.addr {
            Addr::V4(a) => (0, a.as_bytes()),
            Addr::V6(a) => (FAMILY_V6, a.as_bytes()),
        };
        match r.change {
            Change::Upsert {
                seeder,
                paused,
                ttl,
            } => {
                out.push(family);
                out.extend_from_slice(&r.info_hash.0);
                out.extend_from_slice(addr);
                let flags =
                    if seeder { FLAG_SEEDER } else { 0 } | if paused { FLAG_PAUSED } else { 0 };
                out.push(flags);
                out.extend_from_slice(&ttl.to_be_bytes());
            }
            Change::Remove => {
                out.push(family | CHANGE_REMOVE);
                out.extend_from_slice(&r.info_hash.0);
                out.extend_from_slice(addr);
            }
        }
    }
    if msg.kind == Kind::Status {
        let st = &msg.status;
        out.extend_from_slice(&st.local_peers.to_be_bytes());
        out.extend_from_slice(&st.torrents.to_be_bytes());
        out.extend_from_slice(&st.announces.to_be_bytes());
        out.extend_from_slice(&st.started_at.to_be_bytes());
    }
    let mac = key.sign(out);
    out.extend_from_slice(&mac);
    Ok(())
}

/// Checks `bytes`' signature with `key`, then decodes it. Nothing of an unsigned or
/// malformed message is returned.
pub fn decode(bytes: &[u8], key: &ClusterKey) -> Result<Message, ClusterError> {
    if bytes.len() < MAGIC.len() + 2 + MAC_LEN {
        return Err(ClusterError::Malformed("too short"));
    }
    let (body, mac) = bytes.split_at(bytes.len() - MAC_LEN);
    let expected = key.sign(body);
    // Constant time: a forger learns nothing from how long the comparison took.
    let diff = expected
        .iter()
        .zip(mac)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(ClusterError::BadSignature);
    }
    let mut r = Reader(body);
    if r.take(4)? != MAGIC {
        return Err(ClusterError::Malformed("magic"));
    }
    let kind = Kind::from_u8(r.u8()?).ok_or(ClusterError::Malformed("kind"))?;
    let node_len = usize::from(r.u8()?);
    let node = std::str::from_utf8(r.take(node_len)?)
        .ok()
        .filter(|n| valid_node_id(n))
        .ok_or(ClusterError::Refused("node id"))?
        .to_owned();
    let sequence = u64::from_be_bytes(r.array()?);
    let sent_at = u32::from_be_bytes(r.array()?);
    let shard = u16::from_be_bytes(r.array()?);
    let count = u32::from_be_bytes(r.array()?) as usize;
    if count > MAX_RECORDS {
        return Err(ClusterError::Refused("too many records"));
    }
    // The smallest record is an IPv4 removal: check before reserving.
    if kind == Kind::Status && count != 0 {
        return Err(ClusterError::Malformed("records in a status message"));
    }
    if r.0.len() < count * (1 + 20 + PeerAddrV4::LEN) {
        return Err(ClusterError::Malformed("count larger than the records"));
    }
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let tag = r.u8()?;
        if tag & !(FAMILY_V6 | CHANGE_REMOVE) != 0 {
            return Err(ClusterError::Malformed("record tag"));
        }
        let info_hash = InfoHash(r.array()?);
        let addr = if tag & FAMILY_V6 != 0 {
            Addr::V6(PeerAddrV6::from_bytes(r.take(PeerAddrV6::LEN)?).expect("exact length"))
        } else {
            Addr::V4(PeerAddrV4::from_bytes(r.take(PeerAddrV4::LEN)?).expect("exact length"))
        };
        let change = if tag & CHANGE_REMOVE != 0 {
            Change::Remove
        } else {
            let flags = r.u8()?;
            if flags & !(FLAG_SEEDER | FLAG_PAUSED) != 0 {
                return Err(ClusterError::Malformed("peer flags"));
            }
            Change::Upsert {
                seeder: flags & FLAG_SEEDER != 0,
                paused: flags & FLAG_PAUSED != 0,
                ttl: u16::from_be_bytes(r.array()?),
            }
        };
        records.push(Record {
            info_hash,
            addr,
            change,
        });
    }
    let mut status = NodeStatus::default();
    if kind == Kind::Status {
        status = NodeStatus {
            local_peers: u64::from_be_bytes(r.array()?),
            torrents: u64::from_be_bytes(r.array()?),
            announces: u64::from_be_bytes(r.array()?),
            started_at: u32::from_be_bytes(r.array()?),
        };
    }
    if !r.0.is_empty() {
        return Err(ClusterError::Malformed("trailing bytes"));
    }
    Ok(Message {
        kind,
        node,
        sequence,
        sent_at,
        shard,
        records,
        status,
    })
}

/// The last sequence applied per sender and shard: a batch is applied once, in order.
/// Bounded by the nodes and shards a cluster has (callers key it by authenticated
/// messages only).
#[derive(Debug, Default)]
pub struct Sequences(std::collections::HashMap<(String, u16), u64>);

impl Sequences {
    /// Whether `msg` is newer than everything applied from its sender and shard; if so
    /// it is recorded as applied. A gap (a lost batch) is accepted: the peers it carried
    /// are refreshed by later batches or expire.
    pub fn accept(&mut self, msg: &Message) -> bool {
        let last = self.0.entry((msg.node.clone(), msg.shard)).or_insert(0);
        if msg.sequence <= *last {
            return false;
        }
        *last = msg.sequence;
        true
    }

    /// Forgets a node (it restarted: its sequences begin again).
    pub fn forget(&mut self, node: &str) {
        self.0.retain(|(n, _), _| n != node);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ClusterError> {
        if self.0.len() < n {
            return Err(ClusterError::Malformed("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, ClusterError> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ClusterError> {
        Ok(self.take(N)?.try_into().expect("exact length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn key() -> ClusterKey {
        ClusterKey::derive(&[7; 16])
    }

    fn sample() -> Message {
        Message {
            kind: Kind::Delta,
            node: "node-1.eu".into(),
            sequence: 42,
            sent_at: 1_800_000_000,
            shard: 17,
            records: vec![
                Record {
                    info_hash: InfoHash([1; 20]),
                    addr: Addr::V4(PeerAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6881)),
                    change: Change::Upsert {
                        seeder: true,
                        paused: false,
                        ttl: 1800,
                    },
                },
                Record {
                    info_hash: InfoHash([2; 20]),
                    addr: Addr::V6(PeerAddrV6::new(Ipv6Addr::LOCALHOST, 51413)),
                    change: Change::Upsert {
                        seeder: false,
                        paused: true,
                        ttl: 60,
                    },
                },
                Record {
                    info_hash: InfoHash([1; 20]),
                    addr: Addr::V4(PeerAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6881)),
                    change: Change::Remove,
                },
            ],
            status: NodeStatus::default(),
        }
    }

    #[test]
    fn a_status_round_trips_and_carries_no_records() {
        let status = Message {
            kind: Kind::Status,
            records: Vec::new(),
            status: NodeStatus {
                local_peers: 1 << 40,
                torrents: 12,
                announces: u64::MAX,
                started_at: 1_800_000_000,
            },
            ..sample()
        };
        let mut buf = Vec::new();
        encode(&status, &key(), &mut buf).unwrap();
        assert_eq!(buf.len(), 33 + 28 + 16);
        assert_eq!(decode(&buf, &key()).unwrap(), status);
        // A status with records is not sent, and one that claims records is refused.
        let mut bad = status.clone();
        bad.records = sample().records;
        assert_eq!(
            encode(&bad, &key(), &mut Vec::new()),
            Err(ClusterError::Refused("records in a status message"))
        );
        // Figures on a delta are not sent (zero on the other side).
        let delta = Message {
            status: status.status,
            ..sample()
        };
        encode(&delta, &key(), &mut buf).unwrap();
        assert_eq!(decode(&buf, &key()).unwrap(), sample());
    }

    #[test]
    fn messages_round_trip() {
        let mut buf = Vec::new();
        encode(&sample(), &key(), &mut buf).unwrap();
        assert_eq!(decode(&buf, &key()).unwrap(), sample());
        // 4 + 1 + 1 + 9 + 8 + 4 + 2 + 4 header, 30 + 42 + 27 records, 16 MAC.
        assert_eq!(buf.len(), 33 + 30 + 42 + 27 + 16);
    }

    #[test]
    fn another_clusters_or_a_tampered_message_is_refused() {
        let mut buf = Vec::new();
        encode(&sample(), &key(), &mut buf).unwrap();
        let other = ClusterKey::derive(&[8; 16]);
        assert_eq!(decode(&buf, &other), Err(ClusterError::BadSignature));
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                decode(&bad, &key()),
                Err(ClusterError::BadSignature),
                "byte {i}"
            );
        }
        // The connection-id secret itself is not the key.
        assert_ne!(format!("{:?}", key()), format!("{:?}", [7u8; 16]));
    }

    #[test]
    fn bad_ids_and_oversized_batches_are_not_encoded() {
        let mut buf = Vec::new();
        for node in ["", "a b", "ü", &"x".repeat(65), "a/b", "a*"] {
            let m = Message {
                node: node.into(),
                ..sample()
            };
            assert_eq!(
                encode(&m, &key(), &mut buf),
                Err(ClusterError::Refused("node id")),
                "{node:?}"
            );
        }
        let r = sample().records[0];
        let m = Message {
            records: vec![r; MAX_RECORDS + 1],
            ..sample()
        };
        assert!(encode(&m, &key(), &mut buf).is_err());
        let m = Message {
            records: vec![r; MAX_RECORDS],
            ..sample()
        };
        encode(&m, &key(), &mut buf).unwrap();
        assert!(buf.len() < 1 << 20, "{} bytes", buf.len());
    }

    #[test]
    fn sequences_apply_each_batch_once_in_order() {
        let mut s = Sequences::default();
        let at = |node: &str, shard: u16, sequence: u64| Message {
            node: node.into(),
            shard,
            sequence,
            ..sample()
        };
        assert!(s.accept(&at("a", 1, 1)));
        assert!(!s.accept(&at("a", 1, 1)), "a replay");
        assert!(s.accept(&at("a", 1, 3)), "a gap is fine");
        assert!(!s.accept(&at("a", 1, 2)), "late");
        assert!(s.accept(&at("a", 2, 1)), "shards apart");
        assert!(s.accept(&at("b", 1, 1)), "nodes apart");
        s.forget("a");
        assert!(s.accept(&at("a", 1, 1)), "a restarted node begins again");
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            any::<[u8; 20]>(),
            any::<bool>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            proptest::option::of((any::<bool>(), any::<bool>(), any::<u16>())),
        )
            .prop_map(|(h, v6, ip, port, up)| Record {
                info_hash: InfoHash(h),
                addr: if v6 {
                    Addr::V6(PeerAddrV6::new(Ipv6Addr::from(ip), port))
                } else {
                    Addr::V4(PeerAddrV4::new(
                        Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]),
                        port,
                    ))
                },
                change: match up {
                    Some((seeder, paused, ttl)) => Change::Upsert {
                        seeder,
                        paused,
                        ttl,
                    },
                    None => Change::Remove,
                },
            })
    }

    proptest! {
        #[test]
        fn any_message_round_trips(records in proptest::collection::vec(record(), 0..50), seq: u64, at: u32, shard: u16) {
            let m = Message { kind: Kind::SnapshotChunk, node: "n".into(), sequence: seq, sent_at: at, shard, records, status: NodeStatus::default() };
            let mut buf = Vec::new();
            encode(&m, &key(), &mut buf).unwrap();
            prop_assert_eq!(decode(&buf, &key()).unwrap(), m);
        }

        /// Arbitrary bytes, signed or not, never panic the decoder.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes, &key());
            let mut signed = bytes.clone();
            signed.extend_from_slice(&key().sign(&bytes));
            let _ = decode(&signed, &key());
        }
    }
}

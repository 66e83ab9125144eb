//! Downloading whole pieces of content from one peer, without I/O: what a preview
//! fetches (a cover, an `.nfo`), never more, never uploading.
//!
//! [`PieceFetch`] speaks BEP 3's core messages and understands BEP 6's `have all`,
//! `have none` and `reject request`. It sends its handshake and `interested` at once,
//! advertises no pieces and answers no request; once the peer unchokes it, it requests
//! the wanted pieces the peer has, in 16 KiB blocks, keeping at most `max_in_flight`
//! requests outstanding. A block must answer a request exactly (piece, offset, length),
//! or the session fails with [`BadData::UnrequestedBlock`]. A choke voids what was in
//! flight (the blocks are asked again after the next unchoke). A whole piece comes out
//! as [`PieceEvent::Piece`], unverified: the caller checks it (`shoal_preview::verify`)
//! and stops asking a peer that sent a bad one.

use std::collections::{BTreeMap, VecDeque};

use crate::error::{BadData, ProtocolError};
use crate::wire::{read_handshake, write_handshake, Reserved, HANDSHAKE_LEN};
use crate::FetchError;

/// Bytes per block request.
pub const BLOCK: u32 = 16 * 1024;

const CHOKE: u8 = 0;
const UNCHOKE: u8 = 1;
const INTERESTED: u8 = 2;
const HAVE: u8 = 4;
const BITFIELD: u8 = 5;
const REQUEST: u8 = 6;
const PIECE: u8 = 7;
const HAVE_ALL: u8 = 0x0E;
const HAVE_NONE: u8 = 0x0F;
const REJECT: u8 = 0x10;

/// Longest message read whole (a `piece` message of one block; a bitfield is bounded by
/// the torrent's piece count); anything longer is a protocol error.
const MAX_MESSAGE: u32 = BLOCK + 9;

/// What happened on a [`PieceFetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceEvent {
    /// The peer's handshake arrived and names our info-hash.
    Handshake {
        /// The peer's id.
        peer_id: [u8; 20],
    },
    /// The peer unchoked us: requests go out.
    Unchoked,
    /// The peer choked us: what was in flight is asked again after the next unchoke.
    Choked,
    /// A whole wanted piece arrived (not verified yet).
    Piece {
        /// Its index.
        index: u32,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// The peer has none of the pieces still wanted.
    NothingToFetch,
    /// The peer closed the connection.
    Closed,
    /// The peer broke the protocol; nothing more is read.
    Error(FetchError),
}

/// A piece being filled.
#[derive(Debug)]
struct Partial {
    data: Vec<u8>,
    /// Per block: requested (and in flight) / received.
    requested: Vec<bool>,
    received: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Handshake,
    Header,
    Body { id: u8, len: u32 },
    Done,
}

/// One connection that downloads pieces; see the module docs.
#[derive(Debug)]
pub struct PieceFetch {
    info_hash: [u8; 20],
    read: Read,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<PieceEvent>,
    piece_count: u32,
    choked: bool,
    have: Vec<bool>,
    /// Wanted pieces not complete yet, by index, with their lengths.
    wanted: BTreeMap<u32, u32>,
    partial: BTreeMap<u32, Partial>,
    /// Requests in flight: (piece, offset, length).
    in_flight: Vec<(u32, u32, u32)>,
    max_in_flight: usize,
    /// Blocks that answered a request (progress, for an idle deadline).
    blocks: u64,
}

impl PieceFetch {
    /// A session that fetches `wanted` (piece index, piece length — the last piece of a
    /// torrent or of a v2 file is shorter) of a torrent of `piece_count` pieces. Our
    /// handshake and `interested` are queued at once.
    pub fn new(
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        piece_count: u32,
        wanted: &[(u32, u32)],
        max_in_flight: usize,
    ) -> PieceFetch {
        let mut out = Vec::with_capacity(128);
        write_handshake(&mut out, Reserved([0; 8]), &info_hash, &peer_id);
        write_message(&mut out, INTERESTED, &[]);
        PieceFetch {
            info_hash,
            read: Read::Handshake,
            inbuf: Vec::new(),
            out,
            events: VecDeque::new(),
            piece_count,
            choked: true,
            have: vec![false; piece_count as usize],
            wanted: wanted
                .iter()
                .filter(|&&(i, len)| i < piece_count && len > 0)
                .copied()
                .collect(),
            partial: BTreeMap::new(),
            in_flight: Vec::new(),
            max_in_flight: max_in_flight.max(1),
            blocks: 0,
        }
    }

    /// Whether every wanted piece has come out.
    pub fn is_complete(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Blocks received that answered a request so far: progress a driver's idle
    /// deadline can go by (a peer dripping bytes makes none).
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Whether the session has stopped reading.
    pub fn is_done(&self) -> bool {
        self.read == Read::Done
    }

    /// Feeds bytes read from the peer, in any split.
    pub fn receive(&mut self, data: &[u8]) {
        if self.read == Read::Done {
            return;
        }
        self.inbuf.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            match self.step(pos) {
                Ok(Some(next)) => pos = next,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.inbuf.drain(..pos);
        match result {
            Ok(()) => self.fill(),
            Err(e) => {
                self.read = Read::Done;
                self.inbuf = Vec::new();
                self.events.push_back(PieceEvent::Error(e));
            }
        }
    }

    /// The peer closed its side.
    pub fn eof(&mut self) {
        if self.read != Read::Done {
            self.read = Read::Done;
            self.inbuf = Vec::new();
            self.events.push_back(PieceEvent::Closed);
        }
    }

    /// Appends what should be written to the peer to `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<PieceEvent> {
        self.events.pop_front()
    }

    fn step(&mut self, pos: usize) -> Result<Option<usize>, FetchError> {
        let buf = &self.inbuf[pos..];
        match self.read {
            Read::Done => Ok(None),
            Read::Handshake => {
                let Some((_, peer_id)) = read_handshake(buf, &self.info_hash)? else {
                    return Ok(None);
                };
                self.events.push_back(PieceEvent::Handshake { peer_id });
                self.read = Read::Header;
                Ok(Some(pos + HANDSHAKE_LEN))
            }
            Read::Header => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes"));
                if len == 0 {
                    return Ok(Some(pos + 4)); // keep-alive
                }
                let max = MAX_MESSAGE.max(self.piece_count.div_ceil(8) + 1);
                if len > max {
                    return Err(FetchError::Protocol(ProtocolError::MessageTooLong {
                        len,
                        max,
                    }));
                }
                let Some(&id) = buf.get(4) else {
                    return Ok(None);
                };
                self.read = Read::Body { id, len };
                Ok(Some(pos + 5))
            }
            Read::Body { id, len } => {
                let body_len = len as usize - 1;
                if buf.len() < body_len {
                    return Ok(None);
                }
                let body = buf[..body_len].to_vec();
                self.read = Read::Header;
                self.message(id, len, &body)?;
                Ok(Some(pos + body_len))
            }
        }
    }

    fn message(&mut self, id: u8, len: u32, body: &[u8]) -> Result<(), FetchError> {
        let wrong = FetchError::Protocol(ProtocolError::BadMessageLength { id, len });
        let u32_at = |i: usize| u32::from_be_bytes(body[i..i + 4].try_into().expect("4 bytes"));
        match id {
            CHOKE | UNCHOKE | HAVE_ALL | HAVE_NONE if len != 1 => return Err(wrong),
            HAVE if len != 5 => return Err(wrong),
            REJECT if len != 13 => return Err(wrong),
            PIECE if !(10..=9 + BLOCK).contains(&len) => return Err(wrong),
            BITFIELD if len != 1 + self.piece_count.div_ceil(8) => return Err(wrong),
            _ => {}
        }
        match id {
            CHOKE => {
                if !self.choked {
                    self.choked = true;
                    self.events.push_back(PieceEvent::Choked);
                }
                // The peer drops what was asked: ask again after the next unchoke.
                for (piece, begin, _) in self.in_flight.drain(..) {
                    if let Some(p) = self.partial.get_mut(&piece) {
                        p.requested[(begin / BLOCK) as usize] = false;
                    }
                }
            }
            UNCHOKE if self.choked => {
                self.choked = false;
                self.events.push_back(PieceEvent::Unchoked);
            }
            HAVE => {
                if let Some(h) = self.have.get_mut(u32_at(0) as usize) {
                    *h = true;
                }
            }
            BITFIELD => {
                for (i, h) in self.have.iter_mut().enumerate() {
                    *h |= body[i / 8] & (0x80 >> (i % 8)) != 0;
                }
                self.check_useful();
            }
            HAVE_ALL => self.have.iter_mut().for_each(|h| *h = true),
            HAVE_NONE => self.check_useful(),
            REJECT => {
                let (piece, begin, length) = (u32_at(0), u32_at(4), u32_at(8));
                if let Some(at) = self
                    .in_flight
                    .iter()
                    .position(|r| *r == (piece, begin, length))
                {
                    self.in_flight.swap_remove(at);
                    // It will not send it: this peer does not give that piece.
                    self.have[piece as usize] = false;
                    if let Some(p) = self.partial.get_mut(&piece) {
                        p.requested[(begin / BLOCK) as usize] = false;
                    }
                    self.check_useful();
                }
            }
            PIECE => {
                let (piece, begin) = (u32_at(0), u32_at(4));
                let block = &body[8..];
                let at = self
                    .in_flight
                    .iter()
                    .position(|r| *r == (piece, begin, block.len() as u32))
                    .ok_or(FetchError::BadData(BadData::UnrequestedBlock {
                        piece,
                        begin,
                    }))?;
                self.in_flight.swap_remove(at);
                self.blocks += 1;
                let p = self
                    .partial
                    .get_mut(&piece)
                    .expect("a requested piece is partial");
                let b = (begin / BLOCK) as usize;
                p.data[begin as usize..begin as usize + block.len()].copy_from_slice(block);
                p.received[b] = true;
                if p.received.iter().all(|&r| r) {
                    let done = self.partial.remove(&piece).expect("just seen");
                    self.wanted.remove(&piece);
                    self.events.push_back(PieceEvent::Piece {
                        index: piece,
                        data: done.data,
                    });
                }
            }
            // interested, not interested, request, cancel, port, suggest, allowed fast,
            // extended and hash messages: nothing we act on (we never upload).
            _ => {}
        }
        Ok(())
    }

    /// Says once when the peer has none of what is still wanted (after its bitfield or
    /// `have none`: it may still send `have` later, which `fill` picks up).
    fn check_useful(&mut self) {
        if !self.wanted.is_empty() && !self.wanted.keys().any(|&i| self.have[i as usize]) {
            self.events.push_back(PieceEvent::NothingToFetch);
        }
    }

    /// Queues requests while unchoked, up to `max_in_flight`, for wanted pieces the
    /// peer has, lowest first, a piece's blocks in order.
    fn fill(&mut self) {
        if self.choked || self.read == Read::Done {
            return;
        }
        let wanted: Vec<(u32, u32)> = self
            .wanted
            .iter()
            .filter(|(i, _)| self.have[**i as usize])
            .map(|(i, l)| (*i, *l))
            .collect();
        for (piece, length) in wanted {
            if self.in_flight.len() >= self.max_in_flight {
                return;
            }
            let blocks = length.div_ceil(BLOCK) as usize;
            let p = self.partial.entry(piece).or_insert_with(|| Partial {
                data: vec![0; length as usize],
                requested: vec![false; blocks],
                received: vec![false; blocks],
            });
            for b in 0..blocks {
                if self.in_flight.len() >= self.max_in_flight {
                    return;
                }
                if p.requested[b] || p.received[b] {
                    continue;
                }
                let begin = b as u32 * BLOCK;
                let len = BLOCK.min(length - begin);
                p.requested[b] = true;
                self.in_flight.push((piece, begin, len));
                let mut req = [0u8; 12];
                req[..4].copy_from_slice(&piece.to_be_bytes());
                req[4..8].copy_from_slice(&begin.to_be_bytes());
                req[8..].copy_from_slice(&len.to_be_bytes());
                write_message(&mut self.out, REQUEST, &req);
            }
        }
    }
}

/// Appends a length-prefixed message.
fn write_message(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.extend_from_slice(&(1 + payload.len() as u32).to_be_bytes());
    out.push(id);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PROTOCOL;

    const IH: [u8; 20] = [7; 20];

    /// A scripted peer: its handshake, then messages.
    fn handshake() -> Vec<u8> {
        let mut v = Vec::new();
        write_handshake(&mut v, Reserved([0; 8]), &IH, &[9; 20]);
        v
    }

    fn msg(id: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_message(&mut v, id, payload);
        v
    }

    fn piece_msg(index: u32, begin: u32, data: &[u8]) -> Vec<u8> {
        let mut p = index.to_be_bytes().to_vec();
        p.extend_from_slice(&begin.to_be_bytes());
        p.extend_from_slice(data);
        msg(PIECE, &p)
    }

    /// The requests `f` sent since the last look: (piece, begin, len).
    fn requests(f: &mut PieceFetch) -> Vec<(u32, u32, u32)> {
        let mut out = Vec::new();
        f.poll_transmit(&mut out);
        let mut reqs = Vec::new();
        let mut i = 0;
        while i + 5 <= out.len() {
            if out[i..].starts_with(PROTOCOL) {
                i += HANDSHAKE_LEN;
                continue;
            }
            let len = u32::from_be_bytes(out[i..i + 4].try_into().unwrap()) as usize;
            if out[i + 4] == REQUEST {
                let r =
                    |k: usize| u32::from_be_bytes(out[i + 5 + k..i + 9 + k].try_into().unwrap());
                reqs.push((r(0), r(4), r(8)));
            }
            i += 4 + len;
        }
        reqs
    }

    fn events(f: &mut PieceFetch) -> Vec<PieceEvent> {
        std::iter::from_fn(|| f.poll_event()).collect()
    }

    #[test]
    fn fetches_wanted_pieces_in_blocks_once_unchoked() {
        // Pieces of 40 KiB: three blocks, the last 8 KiB; piece 5 of 6 is the last (20 KiB).
        let mut f = PieceFetch::new(IH, [1; 20], 6, &[(2, 40 * 1024), (5, 20 * 1024)], 3);
        let mut sent = Vec::new();
        f.poll_transmit(&mut sent);
        assert!(sent.starts_with(PROTOCOL));
        assert_eq!(
            &sent[HANDSHAKE_LEN..],
            &msg(INTERESTED, &[])[..],
            "interested at once"
        );
        let mut from_peer = handshake();
        from_peer.extend(msg(BITFIELD, &[0b0010_0100]));
        f.receive(&from_peer);
        assert!(requests(&mut f).is_empty(), "choked: nothing asked");
        f.receive(&msg(UNCHOKE, &[]));
        assert_eq!(
            requests(&mut f),
            [(2, 0, BLOCK), (2, BLOCK, BLOCK), (2, 2 * BLOCK, 8 * 1024)],
            "three in flight"
        );
        let data: Vec<u8> = (0..40 * 1024).map(|i| (i % 251) as u8).collect();
        // Blocks may come in any order and any split.
        let mut answer = piece_msg(2, 2 * BLOCK, &data[2 * BLOCK as usize..]);
        answer.extend(piece_msg(2, 0, &data[..BLOCK as usize]));
        for chunk in answer.chunks(7) {
            f.receive(chunk);
        }
        // Two slots came free: piece 5's two blocks go out.
        assert_eq!(requests(&mut f), [(5, 0, BLOCK), (5, BLOCK, 4 * 1024)]);
        f.receive(&piece_msg(
            2,
            BLOCK,
            &data[BLOCK as usize..2 * BLOCK as usize],
        ));
        let ev = events(&mut f);
        assert!(
            ev.contains(&PieceEvent::Piece {
                index: 2,
                data: data.clone()
            }),
            "{ev:?}"
        );
        assert!(!f.is_complete());
        f.receive(&piece_msg(5, 0, &data[..BLOCK as usize]));
        f.receive(&piece_msg(5, BLOCK, &data[..4 * 1024]));
        assert!(f.is_complete());
    }

    #[test]
    fn a_choke_voids_what_was_in_flight_and_it_is_asked_again() {
        let mut f = PieceFetch::new(IH, [1; 20], 1, &[(0, 2 * BLOCK)], 8);
        let mut p = handshake();
        p.extend(msg(HAVE_ALL, &[]));
        p.extend(msg(UNCHOKE, &[]));
        f.receive(&p);
        assert_eq!(requests(&mut f).len(), 2);
        f.receive(&piece_msg(0, 0, &[1; BLOCK as usize]));
        f.receive(&msg(CHOKE, &[]));
        f.receive(&msg(UNCHOKE, &[]));
        assert_eq!(
            requests(&mut f),
            [(0, BLOCK, BLOCK)],
            "only the missing block"
        );
        // The block asked again arrives: the piece is whole.
        f.receive(&piece_msg(0, BLOCK, &[2; BLOCK as usize]));
        assert!(f.is_complete());
    }

    #[test]
    fn unrequested_blocks_and_bad_lengths_end_the_session() {
        let start = || {
            let mut f = PieceFetch::new(IH, [1; 20], 4, &[(1, BLOCK)], 4);
            let mut p = handshake();
            p.extend(msg(HAVE, &1u32.to_be_bytes()));
            p.extend(msg(UNCHOKE, &[]));
            f.receive(&p);
            requests(&mut f);
            events(&mut f);
            f
        };
        let mut f = start();
        f.receive(&piece_msg(3, 0, &[0; 10]));
        assert_eq!(
            events(&mut f),
            [PieceEvent::Error(FetchError::BadData(
                BadData::UnrequestedBlock { piece: 3, begin: 0 }
            ))]
        );
        assert!(f.is_done());
        // A block of the wrong size for its request.
        let mut f = start();
        f.receive(&piece_msg(1, 0, &[0; 100]));
        assert!(matches!(
            events(&mut f)[..],
            [PieceEvent::Error(FetchError::BadData(_))]
        ));
        // A bitfield of the wrong length, a huge message.
        let mut f = start();
        f.receive(&msg(BITFIELD, &[0, 0]));
        assert!(matches!(
            events(&mut f)[..],
            [PieceEvent::Error(FetchError::Protocol(_))]
        ));
        let mut f = start();
        f.receive(&(1u32 << 30).to_be_bytes());
        assert!(matches!(
            events(&mut f)[..],
            [PieceEvent::Error(FetchError::Protocol(_))]
        ));
        // Another torrent's handshake.
        let mut f = PieceFetch::new(IH, [1; 20], 4, &[(1, BLOCK)], 4);
        let mut other = Vec::new();
        write_handshake(&mut other, Reserved([0; 8]), &[8; 20], &[9; 20]);
        f.receive(&other);
        assert!(matches!(
            events(&mut f)[..],
            [PieceEvent::Error(FetchError::Handshake(_))]
        ));
    }

    #[test]
    fn a_peer_without_the_pieces_says_so_and_a_reject_moves_on() {
        let mut f = PieceFetch::new(IH, [1; 20], 16, &[(3, BLOCK), (9, BLOCK)], 4);
        let mut p = handshake();
        p.extend(msg(BITFIELD, &[0b0001_0000, 0b0100_0000]));
        p.extend(msg(UNCHOKE, &[]));
        f.receive(&p);
        assert_eq!(requests(&mut f), [(3, 0, BLOCK), (9, 0, BLOCK)]);
        let mut reject = 9u32.to_be_bytes().to_vec();
        reject.extend(0u32.to_be_bytes());
        reject.extend(BLOCK.to_be_bytes());
        f.receive(&msg(REJECT, &reject));
        assert!(
            requests(&mut f).is_empty(),
            "not asked again from this peer"
        );
        events(&mut f);
        let mut g = PieceFetch::new(IH, [1; 20], 16, &[(3, BLOCK)], 4);
        let mut p = handshake();
        p.extend(msg(HAVE_NONE, &[]));
        g.receive(&p);
        assert!(events(&mut g).contains(&PieceEvent::NothingToFetch));
    }

    proptest::proptest! {
        /// Arbitrary bytes after a valid handshake never panic, and never make the
        /// session ask for a piece that was not wanted.
        #[test]
        fn arbitrary_messages_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut f = PieceFetch::new(IH, [1; 20], 10, &[(4, 3 * BLOCK)], 4);
            let mut p = handshake();
            p.extend(msg(HAVE_ALL, &[]));
            p.extend(msg(UNCHOKE, &[]));
            f.receive(&p);
            f.receive(&bytes);
            proptest::prop_assert!(requests(&mut f).iter().all(|r| r.0 == 4));
        }
    }
}

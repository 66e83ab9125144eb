//! The peer wire protocol, as far as metadata needs it: bytes in, events and bytes out.
//!
//! A [`Session`] is one outgoing connection seen from our side. It writes our BEP 3
//! handshake at once, checks the peer's, answers a peer that sets the extension bit with
//! our BEP 10 extension handshake, parses the peer's, and sends and receives BEP 9
//! `ut_metadata` messages. Every other message (choke, have, bitfield, piece, other
//! extensions …) is skipped as it streams past without being buffered. Nothing here
//! reads a socket or a clock: the driver calls [`Session::receive`] with whatever it
//! read (any split, down to one byte at a time), [`Session::poll_transmit`] for what to
//! write, and [`Session::poll_event`] for what happened.
//!
//! Limits are checked on the length prefix, before a byte of the body is kept: a
//! message over [`Limits::max_message_len`] is an error; an extension handshake over
//! [`Limits::max_extension_handshake_len`] or a `ut_metadata` message over
//! [`MAX_METADATA_MESSAGE_LEN`] is too; a `metadata_size` over
//! [`Limits::max_metadata_size`] is refused when the extension handshake is read, so no
//! buffer is ever sized by a number the peer chose beyond those caps.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use shoal_bencode::{decode, decode_prefix, Encoder, Value};

use crate::error::{BadData, FetchError, HandshakeError, ProtocolError};

/// The protocol string that opens every BitTorrent handshake, with its length byte.
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// A handshake's length: protocol string (20), reserved (8), info-hash (20), peer id
/// (20).
pub const HANDSHAKE_LEN: usize = 68;

/// BEP 9 metadata pieces are 16 KiB, except the last.
pub const METADATA_PIECE_LEN: usize = 16 * 1024;

/// Largest `ut_metadata` message body kept: a 16 KiB piece plus its dictionary
/// (libtorrent disconnects above 17 KiB too).
pub const MAX_METADATA_MESSAGE_LEN: u32 = 17 * 1024;

/// The extended message id we ask peers to use for `ut_metadata` messages to us (our
/// `m` dictionary). Any value 1..=255 would do.
pub const OUR_UT_METADATA_ID: u8 = 3;

/// What we call ourselves in the extension handshake (`v`).
pub const CLIENT_NAME: &str = concat!("shoal ", env!("CARGO_PKG_VERSION"));

/// Message id of BEP 10 extended messages.
const EXTENDED: u8 = 20;

/// The 8 reserved bytes of a handshake, which say what extensions a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// Only the BEP 10 extension protocol bit: what we send.
    pub const EXTENSIONS: Reserved = Reserved([0, 0, 0, 0, 0, 0x10, 0, 0]);

    /// Whether the BEP 10 extension protocol bit (byte 5, 0x10) is set.
    pub fn extensions(self) -> bool {
        self.0[5] & 0x10 != 0
    }

    /// Whether the BEP 52 v2 upgrade bit (byte 7, 0x10) is set.
    pub fn v2(self) -> bool {
        self.0[7] & 0x10 != 0
    }

    /// Whether the BEP 5 DHT bit (byte 7, 0x01) is set (we ignore it).
    pub fn dht(self) -> bool {
        self.0[7] & 0x01 != 0
    }

    /// Whether the BEP 6 fast extension bit (byte 7, 0x04) is set (we ignore it).
    pub fn fast(self) -> bool {
        self.0[7] & 0x04 != 0
    }
}

/// Appends a BitTorrent handshake to `out`.
pub fn write_handshake(
    out: &mut Vec<u8>,
    reserved: Reserved,
    info_hash: &[u8; 20],
    peer_id: &[u8; 20],
) {
    out.extend_from_slice(PROTOCOL);
    out.extend_from_slice(&reserved.0);
    out.extend_from_slice(info_hash);
    out.extend_from_slice(peer_id);
}

/// Appends a BEP 10 extended message: length, id 20, `ext_id`, `payload`.
pub fn write_extended(out: &mut Vec<u8>, ext_id: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len() + 2).expect("extended message under 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.push(EXTENDED);
    out.push(ext_id);
    out.extend_from_slice(payload);
}

/// The bencoded dictionary of our extension handshake: `m` with `ut_metadata`, `v`,
/// and `reqq`. We send no `metadata_size`: we have no metadata to share.
pub fn our_extension_handshake() -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.bytes(b"m");
    e.begin_dict();
    e.key_int(b"ut_metadata", OUR_UT_METADATA_ID.into());
    e.end();
    e.key_int(b"reqq", 16);
    e.key_bytes(b"v", CLIENT_NAME.as_bytes());
    e.end();
    out
}

/// The bencoded dictionary of a `ut_metadata` request (msg_type 0) for `piece`.
pub fn metadata_request(piece: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.key_int(b"msg_type", 0);
    e.key_int(b"piece", piece.into());
    e.end();
    out
}

/// What a peer said in its BEP 10 extension handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionHandshake {
    /// The extended message id the peer wants for `ut_metadata` (absent or 0: it does
    /// not speak BEP 9).
    pub ut_metadata: Option<u8>,
    /// The metadata's size in bytes, when the peer has it (positive and within the
    /// caller's cap; a larger one is an error instead).
    pub metadata_size: Option<u32>,
    /// The peer's client name and version (`v`), at most 64 bytes, lossily decoded.
    pub client: Option<String>,
    /// Our address as the peer sees it (`yourip`).
    pub your_ip: Option<IpAddr>,
    /// How many requests the peer queues (`reqq`).
    pub reqq: Option<u32>,
}

/// Something that happened on a [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer's handshake arrived and names our info-hash.
    Handshake {
        /// The peer's id.
        peer_id: [u8; 20],
        /// The peer's reserved bytes.
        reserved: Reserved,
    },
    /// The peer's BEP 10 extension handshake arrived (it may send more than one).
    ExtensionHandshake(ExtensionHandshake),
    /// A metadata piece we requested arrived, with the right size.
    MetadataPiece {
        /// The piece's index.
        index: u32,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// The peer rejected our request for a metadata piece.
    MetadataRejected {
        /// The piece's index.
        index: u32,
    },
    /// The peer closed the connection ([`Session::eof`]).
    Closed,
    /// The peer broke the protocol or a limit; the session reads nothing more.
    Error(FetchError),
}

/// Limits a [`Session`] enforces on what a peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message length prefix accepted (messages we skip included).
    pub max_message_len: u32,
    /// Largest extension handshake accepted.
    pub max_extension_handshake_len: u32,
    /// Largest `metadata_size` accepted; a larger one is [`FetchError::TooLarge`].
    pub max_metadata_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A 1 MiB block plus a piece message's header: nothing legal is longer.
            max_message_len: (1 << 20) + 13,
            max_extension_handshake_len: 64 * 1024,
            max_metadata_size: 8 << 20,
        }
    }
}

/// Where the reader is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Waiting for the peer's 68-byte handshake.
    Handshake,
    /// Waiting for a message's length prefix, id, and (for extended) extended id.
    Header,
    /// Dropping the rest of a message we do not read.
    Skip(u32),
    /// Buffering the body of an extended message we read.
    Body { ext_id: u8, len: u32 },
    /// After an error or the end of the stream: everything is ignored.
    Done,
}

/// The peer's handshake at the start of `buf`: its reserved bytes and peer id, or
/// `None` while bytes are missing. Checked as soon as the bytes are there, so a
/// stranger is refused after one byte, not 68, and another torrent's at once.
pub(crate) fn read_handshake(
    buf: &[u8],
    info_hash: &[u8; 20],
) -> Result<Option<(Reserved, [u8; 20])>, FetchError> {
    let n = buf.len().min(PROTOCOL.len());
    if buf[..n] != PROTOCOL[..n] {
        return Err(FetchError::Handshake(HandshakeError::NotBitTorrent));
    }
    if buf.len() < HANDSHAKE_LEN {
        return Ok(None);
    }
    if buf[28..48] != info_hash[..] {
        return Err(FetchError::Handshake(HandshakeError::WrongInfoHash));
    }
    let reserved = Reserved(buf[20..28].try_into().expect("8 bytes"));
    Ok(Some((reserved, buf[48..68].try_into().expect("20 bytes"))))
}

/// One connection to a peer, from our side, without I/O.
///
/// Drive it like this: write what [`Session::poll_transmit`] gives after creating it and
/// after every call that may produce output; feed every read to [`Session::receive`]
/// (and a zero-length read, the end of stream, to [`Session::eof`]); then drain
/// [`Session::poll_event`]. Request pieces with [`Session::request_piece`] once the
/// peer's extension handshake has given a `ut_metadata` id and a `metadata_size`.
#[derive(Debug)]
pub struct Session {
    info_hash: [u8; 20],
    limits: Limits,
    read: Read,
    /// Bytes received and not yet consumed; never longer than the biggest body we keep
    /// plus one read.
    pub(crate) inbuf: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<Event>,
    their_ut_metadata: Option<u8>,
    metadata_size: Option<u32>,
    /// Per piece: requested and not answered yet.
    pub(crate) requested: Vec<bool>,
    /// Per piece: already received.
    received: Vec<bool>,
}

impl Session {
    /// A session for `info_hash`; our handshake (extension bit set) is queued at once.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], limits: Limits) -> Session {
        let mut out = Vec::with_capacity(256);
        write_handshake(&mut out, Reserved::EXTENSIONS, &info_hash, &peer_id);
        Session {
            info_hash,
            limits,
            read: Read::Handshake,
            inbuf: Vec::new(),
            out,
            events: VecDeque::new(),
            their_ut_metadata: None,
            metadata_size: None,
            requested: Vec::new(),
            received: Vec::new(),
        }
    }

    /// The limits this session enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The metadata size the peer announced, once it has.
    pub fn metadata_size(&self) -> Option<u32> {
        self.metadata_size
    }

    /// How many pieces the metadata has: ceil(size / 16 KiB), once the size is known.
    pub fn piece_count(&self) -> Option<u32> {
        self.metadata_size.map(piece_count)
    }

    /// Whether the session has stopped reading (after an error or the end of stream).
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
        if let Err(e) = result {
            self.fail(e);
        }
    }

    /// The peer closed its side of the connection.
    pub fn eof(&mut self) {
        if self.read != Read::Done {
            self.read = Read::Done;
            self.inbuf = Vec::new();
            self.events.push_back(Event::Closed);
        }
    }

    /// Appends what should be written to the peer to `buf`.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues a `ut_metadata` request for `piece`.
    ///
    /// # Errors
    /// [`FetchError::NoMetadata`] before the peer has given a `ut_metadata` id and a
    /// `metadata_size`; [`BadData::OutOfRange`] for a piece past the end.
    pub fn request_piece(&mut self, piece: u32) -> Result<(), FetchError> {
        let (Some(id), Some(_)) = (self.their_ut_metadata, self.metadata_size) else {
            return Err(FetchError::NoMetadata);
        };
        let i = piece as usize;
        if i >= self.requested.len() {
            return Err(FetchError::BadData(BadData::OutOfRange { piece }));
        }
        self.requested[i] = true;
        write_extended(&mut self.out, id, &metadata_request(piece));
        Ok(())
    }

    fn fail(&mut self, e: FetchError) {
        self.read = Read::Done;
        self.inbuf = Vec::new();
        self.events.push_back(Event::Error(e));
    }

    /// Makes one step of progress over `inbuf[pos..]`: the position after what it
    /// consumed, or `None` when more bytes are needed.
    fn step(&mut self, pos: usize) -> Result<Option<usize>, FetchError> {
        let buf = &self.inbuf[pos..];
        match self.read {
            Read::Done => Ok(None),
            Read::Handshake => {
                let Some((reserved, peer_id)) = read_handshake(buf, &self.info_hash)? else {
                    return Ok(None);
                };
                self.events
                    .push_back(Event::Handshake { peer_id, reserved });
                if reserved.extensions() {
                    write_extended(&mut self.out, 0, &our_extension_handshake());
                }
                self.read = Read::Header;
                Ok(Some(pos + HANDSHAKE_LEN))
            }
            Read::Header => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let len = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes"));
                if len > self.limits.max_message_len {
                    return Err(FetchError::Protocol(ProtocolError::MessageTooLong {
                        len,
                        max: self.limits.max_message_len,
                    }));
                }
                if len == 0 {
                    // Keep-alive.
                    return Ok(Some(pos + 4));
                }
                let Some(&id) = buf.get(4) else {
                    return Ok(None);
                };
                if id != EXTENDED {
                    self.read = Read::Skip(len - 1);
                    return Ok(Some(pos + 5));
                }
                if len < 2 {
                    return Err(FetchError::Protocol(ProtocolError::EmptyExtended));
                }
                let Some(&ext_id) = buf.get(5) else {
                    return Ok(None);
                };
                let body = len - 2;
                let max = match ext_id {
                    0 => self.limits.max_extension_handshake_len,
                    OUR_UT_METADATA_ID => MAX_METADATA_MESSAGE_LEN,
                    _ => {
                        self.read = Read::Skip(body);
                        return Ok(Some(pos + 6));
                    }
                };
                if body > max {
                    return Err(FetchError::Protocol(ProtocolError::MessageTooLong {
                        len: body,
                        max,
                    }));
                }
                self.read = Read::Body { ext_id, len: body };
                Ok(Some(pos + 6))
            }
            Read::Skip(left) => {
                if left == 0 {
                    self.read = Read::Header;
                    return Ok(Some(pos));
                }
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = buf.len().min(left as usize);
                self.read = Read::Skip(left - n as u32);
                Ok(Some(pos + n))
            }
            Read::Body { ext_id, len } => {
                let len = len as usize;
                if buf.len() < len {
                    return Ok(None);
                }
                let body = buf[..len].to_vec();
                self.read = Read::Header;
                if ext_id == 0 {
                    self.extension_handshake(&body)?;
                } else {
                    self.metadata_message(&body)?;
                }
                Ok(Some(pos + len))
            }
        }
    }

    fn extension_handshake(&mut self, body: &[u8]) -> Result<(), FetchError> {
        let bad = FetchError::Protocol(ProtocolError::BadExtensionHandshake);
        let dict = decode(body).map_err(|_| bad.clone())?;
        if dict.as_dict().is_none() {
            return Err(bad);
        }
        let ut_metadata = dict
            .get(b"m")
            .and_then(|m| m.get(b"ut_metadata"))
            .and_then(Value::as_int)
            .and_then(|id| u8::try_from(id).ok())
            .filter(|&id| id != 0);
        let metadata_size = match dict.get(b"metadata_size").and_then(Value::as_int) {
            // libtorrent ignores a size that is not positive; so do we.
            Some(size) if size > 0 => {
                if size > i64::from(self.limits.max_metadata_size) {
                    return Err(FetchError::TooLarge {
                        size: size as u64,
                        max: self.limits.max_metadata_size,
                    });
                }
                Some(size as u32)
            }
            _ => None,
        };
        let client = dict
            .get(b"v")
            .and_then(Value::as_bytes)
            .map(|v| String::from_utf8_lossy(&v[..v.len().min(64)]).into_owned());
        let your_ip = dict
            .get(b"yourip")
            .and_then(Value::as_bytes)
            .and_then(|b| match b.len() {
                4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).ok()?))),
                16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).ok()?))),
                _ => None,
            });
        let reqq = dict
            .get(b"reqq")
            .and_then(Value::as_int)
            .and_then(|n| u32::try_from(n).ok());
        if let Some(size) = metadata_size {
            match self.metadata_size {
                Some(known) if known != size => {
                    return Err(FetchError::Protocol(ProtocolError::MetadataSizeChanged));
                }
                Some(_) => {}
                None => {
                    self.metadata_size = Some(size);
                    let n = piece_count(size) as usize;
                    self.requested = vec![false; n];
                    self.received = vec![false; n];
                }
            }
        }
        // A later handshake may change or withdraw the id (BEP 10).
        self.their_ut_metadata = ut_metadata;
        self.events
            .push_back(Event::ExtensionHandshake(ExtensionHandshake {
                ut_metadata,
                metadata_size,
                client,
                your_ip,
                reqq,
            }));
        Ok(())
    }

    fn metadata_message(&mut self, body: &[u8]) -> Result<(), FetchError> {
        let bad = || FetchError::Protocol(ProtocolError::BadMetadataMessage);
        let (dict, used) = decode_prefix(body).map_err(|_| bad())?;
        let msg_type = dict
            .get(b"msg_type")
            .and_then(Value::as_int)
            .ok_or_else(bad)?;
        let piece = dict.get(b"piece").and_then(Value::as_int).ok_or_else(bad)?;
        match msg_type {
            // A request: we have no metadata to give and said so (no metadata_size),
            // so it is ignored, as is a msg_type from a later revision of BEP 9.
            0 => {}
            1 => {
                let total_size = dict
                    .get(b"total_size")
                    .and_then(Value::as_int)
                    .ok_or_else(bad)?;
                let piece = self.requested_piece(piece)?;
                let size = self.metadata_size.expect("pieces are requested once sized");
                if total_size != i64::from(size) {
                    return Err(FetchError::BadData(BadData::TotalSize {
                        total_size,
                        metadata_size: size,
                    }));
                }
                let data = &body[used..];
                let expected = piece_len(size, piece);
                if data.len() != expected {
                    return Err(FetchError::BadData(BadData::PieceSize {
                        piece,
                        len: data.len(),
                        expected,
                    }));
                }
                self.requested[piece as usize] = false;
                self.received[piece as usize] = true;
                self.events.push_back(Event::MetadataPiece {
                    index: piece,
                    data: data.to_vec(),
                });
            }
            2 => {
                let piece = self.requested_piece(piece)?;
                self.requested[piece as usize] = false;
                self.events
                    .push_back(Event::MetadataRejected { index: piece });
            }
            _ => {}
        }
        Ok(())
    }

    /// `piece` as an index of a piece we asked for and have not been answered for.
    fn requested_piece(&self, piece: i64) -> Result<u32, FetchError> {
        let count = self.requested.len();
        let Some(index) = usize::try_from(piece).ok().filter(|&i| i < count) else {
            let piece = u32::try_from(piece).unwrap_or(u32::MAX);
            return Err(FetchError::BadData(BadData::OutOfRange { piece }));
        };
        if !self.requested[index] {
            return Err(FetchError::BadData(BadData::Unrequested {
                piece: index as u32,
            }));
        }
        Ok(index as u32)
    }
}

/// How many 16 KiB pieces `size` bytes of metadata take.
pub fn piece_count(size: u32) -> u32 {
    size.div_ceil(METADATA_PIECE_LEN as u32)
}

/// The length piece `piece` of `size` bytes of metadata must have.
pub fn piece_len(size: u32, piece: u32) -> usize {
    let start = piece as usize * METADATA_PIECE_LEN;
    (size as usize - start).min(METADATA_PIECE_LEN)
}

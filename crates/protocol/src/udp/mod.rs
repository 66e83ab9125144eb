//! The UDP tracker protocol: BEP 15 messages and BEP 41 announce options.
//!
//! Requests are parsed from a borrowed datagram and never copy the variable-length
//! parts (scrape info-hashes, announce options). Responses are written into a
//! caller-owned buffer, so a server can reuse one buffer per in-flight datagram.
//!
//! All integers are big-endian. Sizes in bytes:
//!
//! | message            | layout                                                          |
//! |--------------------|-----------------------------------------------------------------|
//! | connect request    | protocol id 8, action 4 (=0), transaction 4                     |
//! | announce request   | connection 8, action 4 (=1), transaction 4, info-hash 20, peer id 20, downloaded 8, left 8, uploaded 8, event 4, ip 4, key 4, num_want 4, port 2, then BEP 41 options |
//! | scrape request     | connection 8, action 4 (=2), transaction 4, info-hash 20 × n    |
//! | connect response   | action 4, transaction 4, connection 8                           |
//! | announce response  | action 4, transaction 4, interval 4, leechers 4, seeders 4, peers 6 × n (IPv4) or 18 × n (IPv6) |
//! | scrape response    | action 4, transaction 4, (seeders 4, completed 4, leechers 4) × n |
//! | error response     | action 4 (=3), transaction 4, message                           |

pub mod connection_id;

use crate::common::{AnnounceEvent, InfoHash, PeerAddr, PeerId};

/// The magic constant a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// Length of an announce request without BEP 41 options.
pub const ANNOUNCE_REQUEST_LEN: usize = 98;

/// Most info-hashes one scrape may carry: 74 × 20 + 16 bytes is the largest request that
/// fits a 1500-byte Ethernet MTU with IPv4 and UDP headers.
pub const MAX_SCRAPE_HASHES: usize = 74;

/// Header bytes of an announce response before the peers.
pub const ANNOUNCE_RESPONSE_HEADER_LEN: usize = 20;

const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_SCRAPE: u32 = 2;
const ACTION_ERROR: u32 = 3;

/// An opaque connection id the server hands out in a connect response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub [u8; 8]);

/// A client-chosen id echoed in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 4]);

/// A parsed request. Borrows variable-length parts from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Asks for a connection id.
    Connect(ConnectRequest),
    /// Joins or refreshes a swarm and asks for peers.
    Announce(AnnounceRequest<'a>),
    /// Asks for swarm statistics.
    Scrape(ScrapeRequest<'a>),
}

/// BEP 15 connect request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Echoed in the response.
    pub transaction_id: TransactionId,
}

/// BEP 15 announce request with its BEP 41 options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceRequest<'a> {
    /// From a previous connect response.
    pub connection_id: ConnectionId,
    /// Echoed in the response.
    pub transaction_id: TransactionId,
    /// The torrent.
    pub info_hash: InfoHash,
    /// The client's id.
    pub peer_id: PeerId,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still needed; 0 means a seeder.
    pub left: u64,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// What happened.
    pub event: AnnounceEvent,
    /// The IPv4 address the client asks to be reached at (0 = the source address).
    pub ip: [u8; 4],
    /// A client key that stays stable across address changes.
    pub key: u32,
    /// How many peers the client wants; negative means "the tracker's default".
    pub num_want: i32,
    /// The port the client listens on.
    pub port: u16,
    /// BEP 41 options following the fixed part.
    pub options: AnnounceOptions<'a>,
}

/// BEP 15 scrape request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeRequest<'a> {
    /// From a previous connect response.
    pub connection_id: ConnectionId,
    /// Echoed in the response.
    pub transaction_id: TransactionId,
    /// Concatenated 20-byte info-hashes; a multiple of 20 bytes, at least one hash.
    info_hashes: &'a [u8],
}

impl<'a> ScrapeRequest<'a> {
    /// A request for `info_hashes` (which must be a non-empty multiple of 20 bytes).
    pub fn new(
        connection_id: ConnectionId,
        transaction_id: TransactionId,
        info_hashes: &'a [u8],
    ) -> Option<Self> {
        (info_hashes.len().is_multiple_of(20) && !info_hashes.is_empty()).then_some(ScrapeRequest {
            connection_id,
            transaction_id,
            info_hashes,
        })
    }

    /// How many info-hashes the request carries.
    pub fn len(&self) -> usize {
        self.info_hashes.len() / 20
    }

    /// Never true for a parsed request; present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.info_hashes.is_empty()
    }

    /// The info-hashes in request order.
    pub fn info_hashes(&self) -> impl ExactSizeIterator<Item = InfoHash> + 'a {
        self.info_hashes.chunks_exact(20).map(|c| {
            let mut h = [0u8; 20];
            h.copy_from_slice(c);
            InfoHash(h)
        })
    }
}

/// The BEP 41 option bytes after an announce request's fixed part.
///
/// Options are a sequence of `type [len data]`: 0x0 ends the list, 0x1 is a one-byte
/// no-op, 0x2 is URLData (the announce URL's path and query, possibly split across
/// several options), and every other type carries a length byte and is skipped. A
/// truncated option ends the list: what came before it still counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnnounceOptions<'a>(pub &'a [u8]);

/// One option from [`AnnounceOptions::iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceOption<'a> {
    /// A piece of the URL's path and query (type 0x2).
    UrlData(&'a [u8]),
    /// An option type this crate does not know, with its data.
    Unknown(u8, &'a [u8]),
}

impl<'a> AnnounceOptions<'a> {
    /// The options in order, stopping at EndOfOptions, the end, or a truncated option.
    pub fn iter(&self) -> impl Iterator<Item = AnnounceOption<'a>> {
        let mut rest = self.0;
        std::iter::from_fn(move || loop {
            let (&kind, after) = rest.split_first()?;
            match kind {
                0x0 => {
                    rest = &[];
                    return None;
                }
                0x1 => rest = after,
                _ => {
                    let (&len, after) = after.split_first()?;
                    let len = usize::from(len);
                    if after.len() < len {
                        rest = &[];
                        return None;
                    }
                    let (data, after) = after.split_at(len);
                    rest = after;
                    return Some(if kind == 0x2 {
                        AnnounceOption::UrlData(data)
                    } else {
                        AnnounceOption::Unknown(kind, data)
                    });
                }
            }
        })
    }

    /// The URLData options concatenated into `out` (cleared first). Returns false if
    /// there were none.
    pub fn url_data_into(&self, out: &mut Vec<u8>) -> bool {
        out.clear();
        let mut any = false;
        for opt in self.iter() {
            if let AnnounceOption::UrlData(d) = opt {
                out.extend_from_slice(d);
                any = true;
            }
        }
        any
    }

    /// Encodes `url_data` as URLData options (split into 255-byte pieces) followed by
    /// EndOfOptions, as a client appends them to an announce request.
    pub fn write_url_data(url_data: &[u8], out: &mut Vec<u8>) {
        for chunk in url_data.chunks(255) {
            out.push(0x2);
            out.push(chunk.len() as u8);
            out.extend_from_slice(chunk);
        }
        out.push(0x0);
    }
}

/// Why a datagram is not a valid request.
///
/// [`RequestParseError::answerable`] tells whether the request got far enough to name a
/// connection and transaction: only then may a server answer with an error (after
/// checking the connection id), and never otherwise, so forged garbage cannot be used
/// to reflect traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestParseError {
    /// Shorter than the smallest request of its kind.
    #[error("datagram too short")]
    TooShort,
    /// A connect request without the protocol magic.
    #[error("bad protocol id")]
    BadProtocolId,
    /// An action this protocol does not define.
    #[error("unknown action {action}")]
    UnknownAction {
        /// The action field.
        action: u32,
        /// Connection named by the request.
        connection_id: ConnectionId,
        /// Transaction to answer.
        transaction_id: TransactionId,
    },
    /// An announce event outside 0..=3.
    #[error("unknown announce event {event}")]
    BadEvent {
        /// The event field.
        event: u32,
        /// Connection named by the request.
        connection_id: ConnectionId,
        /// Transaction to answer.
        transaction_id: TransactionId,
    },
    /// A scrape with no info-hash or a partial one.
    #[error("scrape info-hashes must be a non-empty multiple of 20 bytes")]
    BadScrape {
        /// Connection named by the request.
        connection_id: ConnectionId,
        /// Transaction to answer.
        transaction_id: TransactionId,
    },
}

impl RequestParseError {
    /// The connection and transaction a server may answer (after validating the
    /// connection id), or `None` if the datagram must be dropped silently.
    pub fn answerable(&self) -> Option<(ConnectionId, TransactionId)> {
        match *self {
            RequestParseError::TooShort | RequestParseError::BadProtocolId => None,
            RequestParseError::UnknownAction {
                connection_id,
                transaction_id,
                ..
            }
            | RequestParseError::BadEvent {
                connection_id,
                transaction_id,
                ..
            }
            | RequestParseError::BadScrape {
                connection_id,
                transaction_id,
            } => Some((connection_id, transaction_id)),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

impl<'a> Request<'a> {
    /// Parses one datagram. Never panics, whatever the bytes.
    ///
    /// Errors: a [`RequestParseError`], whose [`RequestParseError::answerable`] says
    /// whether the sender may be sent an error response.
    ///
    /// A server reads an announce and answers it with the swarm's counts and peers:
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use shoal_protocol::udp::{self, AnnounceOptions, AnnounceRequest, ConnectionId,
    ///     Request, Response, TransactionId};
    /// use shoal_protocol::{AnnounceEvent, InfoHash, PeerAddrV4, PeerId};
    ///
    /// // What a client sends (its bytes, built here with `Request::write`).
    /// let mut datagram = Vec::new();
    /// Request::Announce(AnnounceRequest {
    ///     connection_id: ConnectionId([9; 8]),
    ///     transaction_id: TransactionId([1; 4]),
    ///     info_hash: InfoHash([0xab; 20]),
    ///     peer_id: PeerId(*b"-XX0001-000000000000"),
    ///     downloaded: 0,
    ///     left: 1000,
    ///     uploaded: 0,
    ///     event: AnnounceEvent::Started,
    ///     ip: [0; 4],
    ///     key: 42,
    ///     num_want: -1,
    ///     port: 6881,
    ///     options: AnnounceOptions(&[]),
    /// })
    /// .write(&mut datagram);
    ///
    /// // The server side: parse, then answer (interval 1800 s, 1 leecher, 1 seeder).
    /// let Ok(Request::Announce(a)) = Request::parse(&datagram) else { panic!() };
    /// assert_eq!((a.info_hash, a.port, a.left), (InfoHash([0xab; 20]), 6881, 1000));
    /// let mut out = Vec::new();
    /// udp::write_announce_header(&mut out, a.transaction_id, 1800, 1, 1);
    /// udp::push_peers(&mut out, &[PeerAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 51413)]);
    ///
    /// let Ok(Response::Announce(r)) = Response::parse(&out) else { panic!() };
    /// let peers: Vec<PeerAddrV4> = r.peers().collect();
    /// assert_eq!((r.interval, peers[0].port()), (1800, 51413));
    /// ```
    pub fn parse(b: &'a [u8]) -> Result<Self, RequestParseError> {
        if b.len() < 16 {
            return Err(RequestParseError::TooShort);
        }
        let connection_id = ConnectionId(array_at(b, 0));
        let action = u32_at(b, 8);
        let transaction_id = TransactionId(array_at(b, 12));
        match action {
            ACTION_CONNECT => {
                if u64_at(b, 0) != PROTOCOL_ID {
                    return Err(RequestParseError::BadProtocolId);
                }
                Ok(Request::Connect(ConnectRequest { transaction_id }))
            }
            ACTION_ANNOUNCE => {
                if b.len() < ANNOUNCE_REQUEST_LEN {
                    return Err(RequestParseError::TooShort);
                }
                let event = match u32_at(b, 80) {
                    0 => AnnounceEvent::None,
                    1 => AnnounceEvent::Completed,
                    2 => AnnounceEvent::Started,
                    3 => AnnounceEvent::Stopped,
                    event => {
                        return Err(RequestParseError::BadEvent {
                            event,
                            connection_id,
                            transaction_id,
                        })
                    }
                };
                Ok(Request::Announce(AnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: InfoHash(array_at(b, 16)),
                    peer_id: PeerId(array_at(b, 36)),
                    downloaded: u64_at(b, 56),
                    left: u64_at(b, 64),
                    uploaded: u64_at(b, 72),
                    event,
                    ip: array_at(b, 84),
                    key: u32_at(b, 88),
                    num_want: u32_at(b, 92) as i32,
                    port: u16::from_be_bytes([b[96], b[97]]),
                    options: AnnounceOptions(&b[ANNOUNCE_REQUEST_LEN..]),
                }))
            }
            ACTION_SCRAPE => ScrapeRequest::new(connection_id, transaction_id, &b[16..])
                .map(Request::Scrape)
                .ok_or(RequestParseError::BadScrape {
                    connection_id,
                    transaction_id,
                }),
            action => Err(RequestParseError::UnknownAction {
                action,
                connection_id,
                transaction_id,
            }),
        }
    }

    /// Appends the request's bytes to `out`, as a client sends it.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Request::Connect(r) => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&r.transaction_id.0);
            }
            Request::Announce(r) => {
                out.extend_from_slice(&r.connection_id.0);
                out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&r.transaction_id.0);
                out.extend_from_slice(&r.info_hash.0);
                out.extend_from_slice(&r.peer_id.0);
                out.extend_from_slice(&r.downloaded.to_be_bytes());
                out.extend_from_slice(&r.left.to_be_bytes());
                out.extend_from_slice(&r.uploaded.to_be_bytes());
                let event: u32 = match r.event {
                    AnnounceEvent::None => 0,
                    AnnounceEvent::Completed => 1,
                    AnnounceEvent::Started => 2,
                    AnnounceEvent::Stopped => 3,
                };
                out.extend_from_slice(&event.to_be_bytes());
                out.extend_from_slice(&r.ip);
                out.extend_from_slice(&r.key.to_be_bytes());
                out.extend_from_slice(&r.num_want.to_be_bytes());
                out.extend_from_slice(&r.port.to_be_bytes());
                out.extend_from_slice(r.options.0);
            }
            Request::Scrape(r) => {
                out.extend_from_slice(&r.connection_id.0);
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&r.transaction_id.0);
                out.extend_from_slice(r.info_hashes);
            }
        }
    }
}

/// Per-torrent statistics in a scrape response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Times the tracker saw `completed`.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// A parsed response, as a client reads it. Borrows variable parts from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response<'a> {
    /// The connection id to use.
    Connect {
        /// Echo of the request's.
        transaction_id: TransactionId,
        /// Valid for about a minute from the client's point of view.
        connection_id: ConnectionId,
    },
    /// Swarm counts and peers.
    Announce(AnnounceResponse<'a>),
    /// Per-hash statistics, in request order.
    Scrape {
        /// Echo of the request's.
        transaction_id: TransactionId,
        /// 12 bytes per info-hash.
        stats: &'a [u8],
    },
    /// The tracker refused the request.
    Error {
        /// Echo of the request's.
        transaction_id: TransactionId,
        /// Human-readable reason (not necessarily UTF-8).
        message: &'a [u8],
    },
}

/// An announce response as a client reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceResponse<'a> {
    /// Echo of the request's.
    pub transaction_id: TransactionId,
    /// Seconds until the client should announce again.
    pub interval: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Compact peers: 6 bytes each if the request came over IPv4, 18 over IPv6.
    pub peers: &'a [u8],
}

impl AnnounceResponse<'_> {
    /// Decodes the compact peers as `A` (the family the request was sent over); a
    /// trailing partial entry is ignored.
    pub fn peers<A: PeerAddr>(&self) -> impl Iterator<Item = A> + '_ {
        self.peers.chunks_exact(A::LEN).filter_map(A::from_bytes)
    }
}

/// Why a datagram is not a valid response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseParseError {
    /// Too short for its action.
    #[error("response too short")]
    TooShort,
    /// An action this protocol does not define.
    #[error("unknown action {0} in response")]
    UnknownAction(u32),
}

impl<'a> Response<'a> {
    /// Parses one response datagram. Never panics.
    pub fn parse(b: &'a [u8]) -> Result<Self, ResponseParseError> {
        if b.len() < 8 {
            return Err(ResponseParseError::TooShort);
        }
        let action = u32_at(b, 0);
        let transaction_id = TransactionId(array_at(b, 4));
        match action {
            ACTION_CONNECT if b.len() >= 16 => Ok(Response::Connect {
                transaction_id,
                connection_id: ConnectionId(array_at(b, 8)),
            }),
            ACTION_ANNOUNCE if b.len() >= ANNOUNCE_RESPONSE_HEADER_LEN => {
                Ok(Response::Announce(AnnounceResponse {
                    transaction_id,
                    interval: u32_at(b, 8),
                    leechers: u32_at(b, 12),
                    seeders: u32_at(b, 16),
                    peers: &b[ANNOUNCE_RESPONSE_HEADER_LEN..],
                }))
            }
            ACTION_SCRAPE => Ok(Response::Scrape {
                transaction_id,
                stats: &b[8..b.len() - (b.len() - 8) % 12],
            }),
            ACTION_ERROR => Ok(Response::Error {
                transaction_id,
                message: &b[8..],
            }),
            ACTION_CONNECT | ACTION_ANNOUNCE => Err(ResponseParseError::TooShort),
            other => Err(ResponseParseError::UnknownAction(other)),
        }
    }

    /// Scrape statistics in request order (empty for other responses).
    pub fn scrape_stats(&self) -> impl Iterator<Item = ScrapeStats> + 'a {
        let stats: &'a [u8] = match self {
            Response::Scrape { stats, .. } => stats,
            _ => &[],
        };
        stats.chunks_exact(12).map(|c| ScrapeStats {
            seeders: u32_at(c, 0),
            completed: u32_at(c, 4),
            leechers: u32_at(c, 8),
        })
    }
}

/// Writes a connect response into `out` (cleared first).
pub fn write_connect_response(out: &mut Vec<u8>, tid: TransactionId, cid: ConnectionId) {
    out.clear();
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&tid.0);
    out.extend_from_slice(&cid.0);
}

/// Writes an announce response header into `out` (cleared first); append the compact
/// peers after it with [`push_peers`].
pub fn write_announce_header(
    out: &mut Vec<u8>,
    tid: TransactionId,
    interval: u32,
    leechers: u32,
    seeders: u32,
) {
    out.clear();
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&tid.0);
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&leechers.to_be_bytes());
    out.extend_from_slice(&seeders.to_be_bytes());
}

/// Appends compact peers to `out`.
pub fn push_peers<A: PeerAddr>(out: &mut Vec<u8>, peers: &[A]) {
    for p in peers {
        out.extend_from_slice(p.as_bytes());
    }
}

/// Writes a scrape response header into `out` (cleared first); append one entry per
/// info-hash with [`push_scrape_stats`].
pub fn write_scrape_header(out: &mut Vec<u8>, tid: TransactionId) {
    out.clear();
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&tid.0);
}

/// Appends one scrape entry.
pub fn push_scrape_stats(out: &mut Vec<u8>, s: ScrapeStats) {
    out.extend_from_slice(&s.seeders.to_be_bytes());
    out.extend_from_slice(&s.completed.to_be_bytes());
    out.extend_from_slice(&s.leechers.to_be_bytes());
}

/// Writes an error response into `out` (cleared first).
pub fn write_error_response(out: &mut Vec<u8>, tid: TransactionId, message: &str) {
    out.clear();
    out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
    out.extend_from_slice(&tid.0);
    out.extend_from_slice(message.as_bytes());
}

#[cfg(test)]
mod tests;

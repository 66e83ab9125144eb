//! The tokio driver: dial one peer, run a [`MetadataFetch`] under deadlines, return the
//! verified info dict.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::error::FetchError;
use crate::metadata::{MetadataFetch, Outcome};
use crate::wire::Limits;
use crate::HashKind;

/// How [`fetch_metadata`] dials and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Our peer id in the handshake (make it random per process, with a client prefix
    /// such as `-SH0100-`).
    pub peer_id: [u8; 20],
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Longest time without progress (a complete handshake or metadata piece); a peer
    /// dripping bytes does not count as progress.
    pub idle_timeout: Duration,
    /// Longest time for the whole fetch, connecting included.
    pub total_timeout: Duration,
    /// Largest `metadata_size` accepted, checked before anything is allocated.
    pub max_metadata_size: u32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            peer_id: *b"-SH0100-000000000000",
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_metadata_size: Limits::default().max_metadata_size,
        }
    }
}

/// A torrent's info dict, fetched from a peer and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The info dict's bytes exactly as the peer sent them (hash them, never a
    /// re-encoding).
    pub info: Vec<u8>,
    /// Which form of the info-hash they matched.
    pub matched: HashKind,
    /// The peer's client name from its extension handshake (`v`), if it gave one.
    pub client: Option<String>,
    /// The peer it came from.
    pub source: SocketAddr,
}

/// Read buffer size: a metadata piece and its header fit in one read.
const READ_BUF: usize = 32 * 1024;

/// Connects to `addr` and fetches the info dict of `info_hash` (a v1 info-hash, or a
/// v2 info-hash truncated to 20 bytes) over BEP 9, within `opts`'s deadlines.
///
/// We only ask: the handshake sets the extension bit, we send no bitfield, stay not
/// interested and never answer requests. The info dict is returned only if it hashes to
/// `info_hash`.
///
/// # Errors
/// A [`FetchError`]; its [`FetchError::reason`] is a label for metrics.
pub async fn fetch_metadata(
    addr: SocketAddr,
    info_hash: [u8; 20],
    opts: &FetchOptions,
) -> Result<Metadata, FetchError> {
    let start = Instant::now();
    let total = start + opts.total_timeout;
    let connect_by = (start + opts.connect_timeout).min(total);
    let mut stream = match timeout_at(connect_by, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(FetchError::Connect(e.kind())),
        Err(_) if connect_by == total => return Err(FetchError::Timeout),
        Err(_) => return Err(FetchError::Connect(std::io::ErrorKind::TimedOut)),
    };
    let _ = stream.set_nodelay(true);
    let limits = Limits {
        max_metadata_size: opts.max_metadata_size,
        ..Limits::default()
    };
    let mut fetch = MetadataFetch::new(info_hash, opts.peer_id, limits);
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut progress = fetch.progress();
    let mut idle = Instant::now() + opts.idle_timeout;
    let lapsed = |idle: Instant| {
        if total <= idle {
            FetchError::Timeout
        } else {
            FetchError::Stalled
        }
    };
    loop {
        fetch.poll_transmit(&mut out);
        if !out.is_empty() {
            // Our messages are small; a peer that does not read them stalls us.
            match timeout_at(idle.min(total), stream.write_all(&out)).await {
                Ok(Ok(())) => out.clear(),
                Ok(Err(e)) => return Err(FetchError::Closed(Some(e.kind()))),
                Err(_) => return Err(lapsed(idle)),
            }
        }
        if let Some(outcome) = fetch.take_outcome() {
            return match outcome {
                Outcome::Done { info, matched } => Ok(Metadata {
                    info,
                    matched,
                    client: fetch.client().map(str::to_owned),
                    source: addr,
                }),
                Outcome::Failed(e) => Err(e),
            };
        }
        match timeout_at(idle.min(total), stream.read(&mut buf)).await {
            Ok(Ok(0)) => fetch.eof(),
            Ok(Ok(n)) => fetch.receive(&buf[..n]),
            Ok(Err(e)) => return Err(FetchError::Closed(Some(e.kind()))),
            Err(_) => return Err(lapsed(idle)),
        }
        if fetch.progress() != progress {
            progress = fetch.progress();
            idle = Instant::now() + opts.idle_timeout;
        }
    }
}

/// How [`fetch_pieces`] dials and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceOptions {
    /// Our peer id in the handshake.
    pub peer_id: [u8; 20],
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Longest time without a new block that answers a request (a peer that keeps us
    /// choked, or drips bytes, is given up).
    pub idle_timeout: Duration,
    /// Longest time for the whole session, connecting included.
    pub total_timeout: Duration,
    /// Block requests in flight at once.
    pub max_in_flight: usize,
}

impl Default for PieceOptions {
    fn default() -> Self {
        PieceOptions {
            peer_id: *b"-SH0100-000000000000",
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            total_timeout: Duration::from_secs(60),
            max_in_flight: 16,
        }
    }
}

/// What one [`fetch_pieces`] session brought.
#[derive(Debug, Default)]
pub struct Pieces {
    /// Pieces that passed the caller's check, in the order they came.
    pub pieces: Vec<(u32, Vec<u8>)>,
    /// Bytes of piece data received (checked or not).
    pub received: u64,
    /// Pieces that failed the check (the session ends at the first).
    pub bad: u32,
    /// Why the session ended before every wanted piece came, if it did.
    pub error: Option<FetchError>,
}

/// Connects to `addr` and downloads the `wanted` pieces (index, length) of a torrent of
/// `piece_count` pieces that the peer has, with a [`PieceFetch`](crate::PieceFetch).
/// Each whole piece is given to `check` (its SHA-1, or `true` when only a whole file
/// can be checked); a piece that fails ends the session with
/// [`BadData::BadPiece`](crate::BadData::BadPiece): a peer that sent one bad piece is
/// not trusted with more. What passed before is kept.
pub async fn fetch_pieces(
    addr: SocketAddr,
    info_hash: [u8; 20],
    piece_count: u32,
    wanted: &[(u32, u32)],
    opts: &PieceOptions,
    mut check: impl FnMut(u32, &[u8]) -> bool,
) -> Pieces {
    use crate::pieces::{PieceEvent, PieceFetch};
    let mut got = Pieces::default();
    let start = Instant::now();
    let total = start + opts.total_timeout;
    let connect_by = (start + opts.connect_timeout).min(total);
    let mut stream = match timeout_at(connect_by, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            got.error = Some(FetchError::Connect(e.kind()));
            return got;
        }
        Err(_) => {
            got.error = Some(FetchError::Connect(std::io::ErrorKind::TimedOut));
            return got;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut fetch = PieceFetch::new(
        info_hash,
        opts.peer_id,
        piece_count,
        wanted,
        opts.max_in_flight,
    );
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut idle = Instant::now() + opts.idle_timeout;
    let lapsed = |idle: Instant| {
        if total <= idle {
            FetchError::Timeout
        } else {
            FetchError::Stalled
        }
    };
    loop {
        while let Some(event) = fetch.poll_event() {
            match event {
                PieceEvent::Piece { index, data } => {
                    got.received += data.len() as u64;
                    idle = Instant::now() + opts.idle_timeout;
                    if !check(index, &data) {
                        got.bad += 1;
                        got.error = Some(FetchError::BadData(crate::BadData::BadPiece { index }));
                        return got;
                    }
                    got.pieces.push((index, data));
                }
                PieceEvent::NothingToFetch => return got,
                PieceEvent::Closed => {
                    if !fetch.is_complete() {
                        got.error = Some(FetchError::Closed(None));
                    }
                    return got;
                }
                PieceEvent::Error(e) => {
                    got.error = Some(e);
                    return got;
                }
                PieceEvent::Handshake { .. } | PieceEvent::Unchoked | PieceEvent::Choked => {}
            }
        }
        if fetch.is_complete() {
            return got;
        }
        fetch.poll_transmit(&mut out);
        if !out.is_empty() {
            match timeout_at(idle.min(total), stream.write_all(&out)).await {
                Ok(Ok(())) => out.clear(),
                Ok(Err(e)) => {
                    got.error = Some(FetchError::Closed(Some(e.kind())));
                    return got;
                }
                Err(_) => {
                    got.error = Some(lapsed(idle));
                    return got;
                }
            }
        }
        let before = fetch.blocks();
        match timeout_at(idle.min(total), stream.read(&mut buf)).await {
            Ok(Ok(0)) => fetch.eof(),
            Ok(Ok(n)) => fetch.receive(&buf[..n]),
            Ok(Err(e)) => {
                got.error = Some(FetchError::Closed(Some(e.kind())));
                return got;
            }
            Err(_) => {
                got.error = Some(lapsed(idle));
                return got;
            }
        }
        // A new block is progress: large pieces from a slow peer are not given up.
        if fetch.blocks() != before {
            idle = Instant::now() + opts.idle_timeout;
        }
    }
}

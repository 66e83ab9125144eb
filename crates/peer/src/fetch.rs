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
    let mut conn = Conn::open(
        addr,
        opts.connect_timeout,
        opts.idle_timeout,
        opts.total_timeout,
    )
    .await?;
    let limits = Limits {
        max_metadata_size: opts.max_metadata_size,
        ..Limits::default()
    };
    let mut fetch = MetadataFetch::new(info_hash, opts.peer_id, limits);
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut progress = fetch.progress();
    loop {
        fetch.poll_transmit(&mut out);
        // Our messages are small; a peer that does not read them stalls us.
        conn.write(&mut out).await?;
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
        match conn.read(&mut buf).await? {
            0 => fetch.eof(),
            n => fetch.receive(&buf[..n]),
        }
        if fetch.progress() != progress {
            progress = fetch.progress();
            conn.progress();
        }
    }
}

/// A connection to a peer under an idle and a total deadline: what both drivers read
/// and write through.
struct Conn {
    stream: TcpStream,
    idle_timeout: Duration,
    idle: Instant,
    total: Instant,
}

impl Conn {
    /// Connects to `addr` within `connect_timeout` (and the total deadline, which
    /// starts now).
    async fn open(
        addr: SocketAddr,
        connect_timeout: Duration,
        idle_timeout: Duration,
        total_timeout: Duration,
    ) -> Result<Conn, FetchError> {
        let start = Instant::now();
        let total = start + total_timeout;
        let connect_by = (start + connect_timeout).min(total);
        let stream = match timeout_at(connect_by, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(FetchError::Connect(e.kind())),
            Err(_) if connect_by == total => return Err(FetchError::Timeout),
            Err(_) => return Err(FetchError::Connect(std::io::ErrorKind::TimedOut)),
        };
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            idle_timeout,
            idle: Instant::now() + idle_timeout,
            total,
        })
    }

    /// Progress was made: the idle deadline starts again.
    fn progress(&mut self) {
        self.idle = Instant::now() + self.idle_timeout;
    }

    /// Which deadline ran out.
    fn lapsed(&self) -> FetchError {
        if self.total <= self.idle {
            FetchError::Timeout
        } else {
            FetchError::Stalled
        }
    }

    /// Writes all of `out` (then empties it) before the deadlines.
    async fn write(&mut self, out: &mut Vec<u8>) -> Result<(), FetchError> {
        if out.is_empty() {
            return Ok(());
        }
        match timeout_at(self.idle.min(self.total), self.stream.write_all(out)).await {
            Ok(Ok(())) => {
                out.clear();
                Ok(())
            }
            Ok(Err(e)) => Err(FetchError::Closed(Some(e.kind()))),
            Err(_) => Err(self.lapsed()),
        }
    }

    /// Reads what the peer sent (0 at its end) before the deadlines.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        match timeout_at(self.idle.min(self.total), self.stream.read(buf)).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(FetchError::Closed(Some(e.kind()))),
            Err(_) => Err(self.lapsed()),
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
    let mut got = Pieces::default();
    if let Err(e) = pieces_session(
        addr,
        info_hash,
        piece_count,
        wanted,
        opts,
        &mut check,
        &mut got,
    )
    .await
    {
        got.error = Some(e);
    }
    got
}

/// [`fetch_pieces`]'s session: what passed the check goes into `got` as it comes; the
/// error, if the session ended before every wanted piece came.
async fn pieces_session(
    addr: SocketAddr,
    info_hash: [u8; 20],
    piece_count: u32,
    wanted: &[(u32, u32)],
    opts: &PieceOptions,
    check: &mut impl FnMut(u32, &[u8]) -> bool,
    got: &mut Pieces,
) -> Result<(), FetchError> {
    use crate::pieces::{PieceEvent, PieceFetch};
    let mut conn = Conn::open(
        addr,
        opts.connect_timeout,
        opts.idle_timeout,
        opts.total_timeout,
    )
    .await?;
    let mut fetch = PieceFetch::new(
        info_hash,
        opts.peer_id,
        piece_count,
        wanted,
        opts.max_in_flight,
    );
    let mut out = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        while let Some(event) = fetch.poll_event() {
            match event {
                PieceEvent::Piece { index, data } => {
                    got.received += data.len() as u64;
                    if !check(index, &data) {
                        got.bad += 1;
                        return Err(FetchError::BadData(crate::BadData::BadPiece { index }));
                    }
                    got.pieces.push((index, data));
                }
                PieceEvent::NothingToFetch => return Ok(()),
                PieceEvent::Closed if fetch.is_complete() => return Ok(()),
                PieceEvent::Closed => return Err(FetchError::Closed(None)),
                PieceEvent::Error(e) => return Err(e),
                PieceEvent::Handshake { .. } | PieceEvent::Unchoked | PieceEvent::Choked => {}
            }
        }
        if fetch.is_complete() {
            return Ok(());
        }
        fetch.poll_transmit(&mut out);
        conn.write(&mut out).await?;
        let before = fetch.blocks();
        match conn.read(&mut buf).await? {
            0 => fetch.eof(),
            n => fetch.receive(&buf[..n]),
        }
        // A new block is progress: large pieces from a slow peer are not given up.
        if fetch.blocks() != before {
            conn.progress();
        }
    }
}

//! The `udp://` tracker client (BEP 15, BEP 41).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use shoal_protocol::udp::{
    AnnounceOptions, AnnounceRequest, ConnectRequest, ConnectionId, Request, Response,
    ScrapeRequest, TransactionId, MAX_SCRAPE_HASHES,
};
use shoal_protocol::{InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6};

use crate::{
    fill_random, split_url, AnnounceParams, AnnounceReply, ClientError, ClientOptions, ScrapeEntry,
};

/// BEP 15: a client may use a connection id for one minute.
const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);

/// A blocking client for one UDP tracker.
pub struct UdpTracker {
    socket: UdpSocket,
    server: SocketAddr,
    url_data: Vec<u8>,
    options: ClientOptions,
    connection: Option<(ConnectionId, Instant)>,
    buf: Vec<u8>,
}

impl UdpTracker {
    /// Resolves the URL's host and opens a socket of the matching family.
    pub fn open(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let (authority, path) = split_url(url)?;
        let server = crate::resolve(authority)?;
        let local: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("valid")
        } else {
            "[::]:0".parse().expect("valid")
        };
        Self::with_socket(UdpSocket::bind(local)?, server, path.as_bytes(), options)
    }

    /// A client using an already bound socket (tests bind specific loopback addresses).
    pub fn with_socket(
        socket: UdpSocket,
        server: SocketAddr,
        url_data: &[u8],
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        socket.connect(server)?;
        Ok(UdpTracker {
            socket,
            server,
            url_data: url_data.to_vec(),
            options,
            connection: None,
            buf: vec![0; 65536],
        })
    }

    /// The tracker's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends `request` (built for a fresh transaction id) and waits for the reply with the
    /// same transaction id, retrying on timeout. Returns the reply's length in `self.buf`.
    fn exchange(
        &mut self,
        build: impl Fn(TransactionId, &mut Vec<u8>),
    ) -> Result<usize, ClientError> {
        let mut tid = [0u8; 4];
        fill_random(&mut tid);
        let tid = TransactionId(tid);
        let mut request = Vec::with_capacity(128);
        build(tid, &mut request);
        for attempt in 0..self.options.attempts.max(1) {
            self.socket.send(&request)?;
            let deadline = Instant::now() + self.options.timeout * (attempt + 1);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.socket.set_read_timeout(Some(left))?;
                let n = match self.socket.recv(&mut self.buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(ClientError::Io(e))
                    }
                    Err(e) => return Err(e.into()),
                };
                if n >= 8 && self.buf[4..8] == tid.0 {
                    return Ok(n);
                }
                // A late reply to an earlier transaction: keep waiting.
            }
        }
        Err(ClientError::Timeout(self.server))
    }

    fn connection_id(&mut self) -> Result<ConnectionId, ClientError> {
        if let Some((id, at)) = self.connection {
            if at.elapsed() < CONNECTION_ID_LIFETIME {
                return Ok(id);
            }
        }
        let n = self.exchange(|tid, out| {
            Request::Connect(ConnectRequest {
                transaction_id: tid,
            })
            .write(out)
        })?;
        match Response::parse(&self.buf[..n]) {
            Ok(Response::Connect { connection_id, .. }) => {
                self.connection = Some((connection_id, Instant::now()));
                Ok(connection_id)
            }
            Ok(Response::Error { message, .. }) => Err(ClientError::Tracker(
                String::from_utf8_lossy(message).into_owned(),
            )),
            Ok(other) => Err(ClientError::BadResponse(format!(
                "expected a connect reply, got {other:?}"
            ))),
            Err(e) => Err(ClientError::BadResponse(e.to_string())),
        }
    }

    /// Runs `f` with a connection id; if the tracker does not answer, the id may have
    /// expired on its side, so reconnect once and try again.
    fn with_connection<T>(
        &mut self,
        f: impl Fn(&mut Self, ConnectionId) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let cid = self.connection_id()?;
        match f(self, cid) {
            Err(ClientError::Timeout(_)) if self.connection.is_some() => {
                self.connection = None;
                let cid = self.connection_id()?;
                f(self, cid)
            }
            r => r,
        }
    }

    /// Announces and returns the tracker's answer.
    pub fn announce(&mut self, p: &AnnounceParams) -> Result<AnnounceReply, ClientError> {
        self.with_connection(|this, cid| {
            let mut options = Vec::new();
            if !this.url_data.is_empty() {
                AnnounceOptions::write_url_data(&this.url_data, &mut options);
            }
            let n = this.exchange(|tid, out| {
                Request::Announce(AnnounceRequest {
                    connection_id: cid,
                    transaction_id: tid,
                    info_hash: p.info_hash,
                    peer_id: p.peer_id,
                    downloaded: p.downloaded,
                    left: p.left,
                    uploaded: p.uploaded,
                    event: p.event,
                    ip: [0; 4],
                    key: p.key,
                    num_want: p.num_want.map_or(-1, |n| n.min(i32::MAX as u32) as i32),
                    port: p.port,
                    options: AnnounceOptions(&options),
                })
                .write(out)
            })?;
            let v6 = this.server.is_ipv6();
            match Response::parse(&this.buf[..n]) {
                Ok(Response::Announce(r)) => {
                    let peers = if v6 {
                        r.peers::<PeerAddrV6>()
                            .map(|p| p.to_socket_addr())
                            .collect()
                    } else {
                        r.peers::<PeerAddrV4>()
                            .map(|p| p.to_socket_addr())
                            .collect()
                    };
                    Ok(AnnounceReply {
                        interval: r.interval,
                        seeders: r.seeders,
                        leechers: r.leechers,
                        peers,
                    })
                }
                Ok(Response::Error { message, .. }) => Err(ClientError::Tracker(
                    String::from_utf8_lossy(message).into_owned(),
                )),
                Ok(other) => Err(ClientError::BadResponse(format!(
                    "expected an announce reply, got {other:?}"
                ))),
                Err(e) => Err(ClientError::BadResponse(e.to_string())),
            }
        })
    }

    /// Scrapes up to 74 torrents per request (more are split across requests).
    pub fn scrape(&mut self, hashes: &[InfoHash]) -> Result<Vec<ScrapeEntry>, ClientError> {
        let mut entries = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(MAX_SCRAPE_HASHES) {
            let flat: Vec<u8> = chunk.iter().flat_map(|h| h.0).collect();
            let got = self.with_connection(|this, cid| {
                let n = this.exchange(|tid, out| {
                    Request::Scrape(ScrapeRequest::new(cid, tid, &flat).expect("non-empty chunk"))
                        .write(out)
                })?;
                match Response::parse(&this.buf[..n]) {
                    Ok(r @ Response::Scrape { .. }) => Ok(r.scrape_stats().collect::<Vec<_>>()),
                    Ok(Response::Error { message, .. }) => Err(ClientError::Tracker(
                        String::from_utf8_lossy(message).into_owned(),
                    )),
                    Ok(other) => Err(ClientError::BadResponse(format!(
                        "expected a scrape reply, got {other:?}"
                    ))),
                    Err(e) => Err(ClientError::BadResponse(e.to_string())),
                }
            })?;
            if got.len() < chunk.len() {
                return Err(ClientError::BadResponse(format!(
                    "scrape answered {} of {} info-hashes",
                    got.len(),
                    chunk.len()
                )));
            }
            entries.extend(chunk.iter().zip(got).map(|(h, s)| ScrapeEntry {
                info_hash: *h,
                seeders: s.seeders,
                completed: s.completed,
                leechers: s.leechers,
            }));
        }
        Ok(entries)
    }
}

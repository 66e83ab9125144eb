//! Tracker clients: announce to and scrape any tracker.
//!
//! [`Tracker::open`] takes a tracker URL and returns a client for its scheme: `http://`
//! and `https://` (BEP 3 with compact peers, BEP 7 `peers6`, BEP 48 scrape; rustls with
//! the system's roots plus an optional CA file) or `udp://` (BEP 15, with the URL's
//! path and query sent as BEP 41 URLData, which is how private trackers receive a
//! passkey over UDP). The client is blocking and meant for tools and tests, not for a
//! hot path: it resolves the host, retries on timeout, and reconnects when its
//! connection id is older than a minute.
//!
//! What it does not do: no async API, no connection pooling across trackers, no
//! re-announce schedule (the caller waits [`AnnounceReply::interval`] itself), no
//! `ws://` WebTorrent client, and no peer wire protocol: it only talks to trackers.
//! Message encoding and parsing come from `shoal-protocol`.
//!
//! Announce to a UDP tracker (here a stand-in answering on loopback) and read its reply:
//!
//! ```
//! use shoal_client::{random_peer_id, AnnounceEvent, AnnounceParams, ClientOptions,
//!     InfoHash, Tracker};
//! # use shoal_protocol::udp::{self, ConnectionId, Request};
//! # let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
//! # let addr = socket.local_addr()?;
//! # std::thread::spawn(move || {
//! #     let (mut buf, mut out) = ([0u8; 1500], Vec::new());
//! #     for _ in 0..2 {
//! #         let (n, from) = socket.recv_from(&mut buf).unwrap();
//! #         match Request::parse(&buf[..n]).unwrap() {
//! #             Request::Connect(c) => {
//! #                 udp::write_connect_response(&mut out, c.transaction_id, ConnectionId([1; 8]))
//! #             }
//! #             Request::Announce(a) => udp::write_announce_header(&mut out, a.transaction_id, 1800, 0, 1),
//! #             Request::Scrape(_) => unreachable!(),
//! #         }
//! #         socket.send_to(&out, from).unwrap();
//! #     }
//! # });
//! # let url = format!("udp://{addr}/announce");
//! let mut tracker = Tracker::open(&url, ClientOptions::default())?;
//! let reply = tracker.announce(&AnnounceParams {
//!     info_hash: InfoHash([0xab; 20]),
//!     peer_id: random_peer_id(),
//!     port: 6881,
//!     uploaded: 0,
//!     downloaded: 0,
//!     left: 0,
//!     event: AnnounceEvent::Started,
//!     num_want: Some(50),
//!     key: 1,
//! })?;
//! assert_eq!((reply.interval, reply.seeders, reply.leechers), (1800, 1, 0));
//! assert!(reply.peers.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/announce.rs` is the same against a tracker named on the command line.
#![deny(missing_docs)]

mod http;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

pub use http::{parse_announce_response, parse_scrape_response, HttpTracker};
pub use shoal_protocol::{AnnounceEvent, InfoHash, PeerId};
pub use udp::UdpTracker;

/// What to announce.
#[derive(Debug, Clone)]
pub struct AnnounceParams {
    /// The torrent announced.
    pub info_hash: InfoHash,
    /// Our peer id (see [`random_peer_id`]).
    pub peer_id: PeerId,
    /// The TCP/uTP port other peers can reach us on (sent as is; 0 only with `stopped`).
    pub port: u16,
    /// Bytes uploaded to other peers since the `started` announce.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` announce.
    pub downloaded: u64,
    /// Bytes still needed to complete the torrent (0: we are a seeder).
    pub left: u64,
    /// Why we announce: joining (`Started`), finishing (`Completed`), leaving
    /// (`Stopped`), or a periodic refresh (`None`).
    pub event: AnnounceEvent,
    /// Peers wanted (`None`: the tracker's default).
    pub num_want: Option<u32>,
    /// A key that identifies us across address changes.
    pub key: u32,
}

/// A tracker's answer to an announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceReply {
    /// Seconds the tracker asks us to wait before the next announce.
    pub interval: u32,
    /// Seeders in the swarm.
    pub seeders: u32,
    /// Leechers in the swarm.
    pub leechers: u32,
    /// Peers offered, IPv4 and IPv6 (an HTTP tracker's `peers6` included).
    pub peers: Vec<SocketAddr>,
}

/// One torrent's statistics from a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeEntry {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Completed downloads the tracker counted.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// Why a tracker request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not a tracker URL this client can use.
    #[error("bad tracker url {url:?}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// Host and port.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// A socket error.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// No answer after every retry.
    #[error("no answer from {0} after retries")]
    Timeout(SocketAddr),
    /// The tracker refused the request.
    #[error("tracker error: {0}")]
    Tracker(String),
    /// TLS setup or handshake failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The tracker answered with something that is not a valid reply.
    #[error("invalid tracker response: {0}")]
    BadResponse(String),
}

/// Client options.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for each reply (also the TCP connect timeout for HTTP);
    /// default 3 s.
    pub timeout: Duration,
    /// How many times to send a UDP request before giving up with
    /// [`ClientError::Timeout`]; default 3.
    pub attempts: u32,
    /// Extra PEM CA certificates trusted for `https://` trackers (besides the system's).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(3),
            attempts: 3,
            ca_file: None,
        }
    }
}

/// A client for the tracker at some URL.
pub enum Tracker {
    /// A `udp://` tracker.
    Udp(UdpTracker),
    /// An `http://` tracker.
    Http(HttpTracker),
}

impl Tracker {
    /// A client for `url`, chosen by its scheme (`udp://`, `http://` or `https://`,
    /// any case). The host is resolved now; nothing is sent yet.
    ///
    /// Errors: [`ClientError::BadUrl`] for another scheme or a URL without a host and
    /// port, [`ClientError::Resolve`] when the host does not resolve,
    /// [`ClientError::Tls`] or [`ClientError::Io`] when TLS cannot be set up (for
    /// example an unreadable CA file) or a socket cannot be opened.
    pub fn open(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        match url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()) {
            Some(s) if s == "udp" => Ok(Tracker::Udp(UdpTracker::open(url, options)?)),
            Some(s) if s == "http" || s == "https" => {
                Ok(Tracker::Http(HttpTracker::open(url, options)?))
            }
            _ => Err(ClientError::BadUrl {
                url: url.to_owned(),
                reason: "scheme must be udp://, http:// or https://",
            }),
        }
    }

    /// Announces and returns the tracker's answer. Errors: [`ClientError::Timeout`]
    /// after every attempt went unanswered, [`ClientError::Tracker`] with the
    /// tracker's failure reason, [`ClientError::BadResponse`] for a reply that does not
    /// parse, [`ClientError::Io`] / [`ClientError::Tls`] for transport failures.
    pub fn announce(&mut self, params: &AnnounceParams) -> Result<AnnounceReply, ClientError> {
        match self {
            Tracker::Udp(t) => t.announce(params),
            Tracker::Http(t) => t.announce(params),
        }
    }

    /// Scrapes the given torrents: one entry per hash, in the order given. Errors as
    /// [`Tracker::announce`].
    pub fn scrape(&mut self, hashes: &[InfoHash]) -> Result<Vec<ScrapeEntry>, ClientError> {
        match self {
            Tracker::Udp(t) => t.scrape(hashes),
            Tracker::Http(t) => t.scrape(hashes),
        }
    }
}

/// A random peer id in the Azureus style with shoal's client code (`-SH0100-`).
pub fn random_peer_id() -> PeerId {
    let mut id = *b"-SH0100-000000000000";
    let mut rnd = [0u8; 12];
    fill_random(&mut rnd);
    const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (d, r) in id[8..].iter_mut().zip(rnd) {
        *d = ALNUM[usize::from(r) % ALNUM.len()];
    }
    PeerId(id)
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    // The OS RNG only fails on broken systems; fall back to time-derived bytes there,
    // which is fine for transaction ids and peer ids.
    if getrandom::fill(buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8;
        }
    }
}

/// Resolves `host:port` to its first address.
pub(crate) fn resolve(authority: &str) -> Result<SocketAddr, ClientError> {
    use std::net::ToSocketAddrs;
    let err = |source| ClientError::Resolve {
        host: authority.to_owned(),
        source,
    };
    authority
        .to_socket_addrs()
        .map_err(err)?
        .next()
        .ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no addresses",
            ))
        })
}

/// Splits `scheme://host[:port]/path?query` into `(host:port, /path?query)`, adding
/// `default_port` when the URL has none (an error when there is no default).
pub(crate) fn split_url_default(
    url: &str,
    default_port: u16,
) -> Result<(String, &str), ClientError> {
    match split_url(url) {
        Ok((a, p)) => Ok((a.to_owned(), p)),
        Err(ClientError::BadUrl {
            reason: "missing port",
            ..
        }) => {
            let (_, rest) = url.split_once("://").unwrap_or(("", url));
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            Ok((format!("{}:{default_port}", &rest[..end]), &rest[end..]))
        }
        Err(e) => Err(e),
    }
}

/// Splits `scheme://host:port/path?query` into `(host:port, /path?query)`.
pub(crate) fn split_url(url: &str) -> Result<(&str, &str), ClientError> {
    let bad = |reason| ClientError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let (_, rest) = url.split_once("://").ok_or_else(|| bad("missing scheme"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad("missing host"));
    }
    let has_port = match authority.rfind(']') {
        Some(close) => authority[close..].contains(':'),
        None => authority.contains(':'),
    };
    if !has_port {
        return Err(bad("missing port"));
    }
    Ok((authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("udp://tracker.example:6969/announce").unwrap(),
            ("tracker.example:6969", "/announce")
        );
        assert_eq!(split_url("udp://[::1]:6969").unwrap(), ("[::1]:6969", ""));
        assert_eq!(
            split_url("udp://1.2.3.4:80/a/b?passkey=x").unwrap(),
            ("1.2.3.4:80", "/a/b?passkey=x")
        );
        assert!(split_url("udp://[::1]/announce").is_err());
        assert_eq!(
            split_url_default("http://t.example/announce?x=1", 80).unwrap(),
            ("t.example:80".to_owned(), "/announce?x=1")
        );
        assert_eq!(
            split_url_default("http://[::1]:8080/a", 80).unwrap(),
            ("[::1]:8080".to_owned(), "/a")
        );
        assert!(split_url("udp:///announce").is_err());
        assert!(split_url("tracker:6969").is_err());
    }

    #[test]
    fn scheme_is_checked() {
        assert!(matches!(
            Tracker::open("wss://x:1/", ClientOptions::default()),
            Err(ClientError::BadUrl { .. })
        ));
    }

    #[test]
    fn peer_ids_are_azureus_style_and_differ() {
        let a = random_peer_id();
        let b = random_peer_id();
        assert_eq!(&a.0[..8], b"-SH0100-");
        assert_ne!(a, b);
    }
}

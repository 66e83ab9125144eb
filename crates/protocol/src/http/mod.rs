//! The HTTP tracker protocol: announce and scrape queries (BEP 3, 7, 23, 24, 48) and
//! their bencoded responses (BEP 3, 7, 21, 23, 24, 31, 48).
//!
//! Queries are parsed from the raw query string (the part after `?`) without
//! allocating: binary values (`info_hash`, `peer_id`) are percent-decoded into fixed
//! arrays, text values stay borrowed. Responses are written into a caller's buffer with
//! keys in sorted order and nothing after the final `e`.

use shoal_bencode::Encoder;

use crate::common::{AnnounceEvent, InfoHash, PeerAddr, PeerId};

/// Why a query is not a valid announce or scrape. The `Display` text is what a
/// tracker sends as `failure reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A required parameter is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A parameter's value is malformed.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// The `event` of an HTTP announce, which has one more value than UDP's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpEvent {
    /// Regular announce (`event` absent, empty or `empty`).
    #[default]
    None,
    /// `started`
    Started,
    /// `completed`
    Completed,
    /// `stopped`
    Stopped,
    /// `paused`: a partial seed that is not downloading (BEP 21).
    Paused,
}

impl HttpEvent {
    /// The swarm event; `paused` is a regular announce to the engine.
    pub fn to_event(self) -> AnnounceEvent {
        match self {
            HttpEvent::None | HttpEvent::Paused => AnnounceEvent::None,
            HttpEvent::Started => AnnounceEvent::Started,
            HttpEvent::Completed => AnnounceEvent::Completed,
            HttpEvent::Stopped => AnnounceEvent::Stopped,
        }
    }
}

/// A parsed announce query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceQuery<'a> {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The client's id.
    pub peer_id: PeerId,
    /// The port the client listens on.
    pub port: u16,
    /// Bytes uploaded (0 when absent).
    pub uploaded: u64,
    /// Bytes downloaded (0 when absent).
    pub downloaded: u64,
    /// Bytes left (0 when absent).
    pub left: u64,
    /// What happened.
    pub event: HttpEvent,
    /// Compact peer lists wanted (BEP 23); true unless `compact=0`.
    pub compact: bool,
    /// Dictionary peers without `peer id` wanted.
    pub no_peer_id: bool,
    /// Peers wanted, if given.
    pub numwant: Option<u32>,
    /// The client's key, still percent-encoded.
    pub key: Option<&'a [u8]>,
    /// The tracker id from an earlier response, still percent-encoded.
    pub trackerid: Option<&'a [u8]>,
    /// The `ip` the client asks to be reached at, still percent-encoded.
    pub ip: Option<&'a [u8]>,
}

/// Splits a query string into `(key, raw value)` pairs, skipping empty pieces.
pub fn query_pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &[][..]),
        })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` into `out`, returning the decoded length, or `None` if an
/// escape is malformed or the result does not fit. `+` is kept as is: clients escape
/// binary bytes, and a literal `+` byte must stay one.
pub fn percent_decode_into(raw: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = if raw[i] == b'%' {
            let hi = hex_digit(*raw.get(i + 1)?)?;
            let lo = hex_digit(*raw.get(i + 2)?)?;
            i += 3;
            hi << 4 | lo
        } else {
            i += 1;
            raw[i - 1]
        };
        *out.get_mut(n)? = b;
        n += 1;
    }
    Some(n)
}

fn decode_20(raw: &[u8]) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    (percent_decode_into(raw, &mut out)? == 20).then_some(out)
}

fn decode_number<T: std::str::FromStr>(raw: &[u8]) -> Option<T> {
    // Numbers never need escapes or a `+`: digits, after a `-` for the signed ones
    // (`numwant=-1`). Rust's `FromStr` alone would also take a leading `+`.
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

impl<'a> AnnounceQuery<'a> {
    /// Parses an announce query string (the part of the URL after `?`). Unknown
    /// parameters are ignored; when a parameter repeats, the last one counts.
    ///
    /// Errors: [`QueryError::Missing`] without `info_hash`, `peer_id` or `port`, and
    /// [`QueryError::Invalid`] naming the first malformed value (a binary value that
    /// does not decode to exactly 20 bytes, a number that does not fit, port 0 on
    /// anything but a stop, an unknown
    /// `event`).
    ///
    /// ```
    /// use shoal_protocol::http::{AnnounceQuery, HttpEvent, QueryError};
    ///
    /// let q = AnnounceQuery::parse(
    ///     b"info_hash=%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab\
    ///       &peer_id=-XX0001-000000000000&port=6881&left=0&event=completed",
    /// )?;
    /// assert_eq!(q.info_hash.0, [0xab; 20]);
    /// assert_eq!((q.port, q.left, q.event), (6881, 0, HttpEvent::Completed));
    /// assert!(q.compact);
    /// assert_eq!(AnnounceQuery::parse(b"port=1"), Err(QueryError::Missing("info_hash")));
    /// # Ok::<(), QueryError>(())
    /// ```
    pub fn parse(query: &'a [u8]) -> Result<Self, QueryError> {
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let mut q = AnnounceQuery {
            info_hash: InfoHash([0; 20]),
            peer_id: PeerId([0; 20]),
            port: 0,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: HttpEvent::None,
            compact: true,
            no_peer_id: false,
            numwant: None,
            key: None,
            trackerid: None,
            ip: None,
        };
        for (k, v) in query_pairs(query) {
            match k {
                b"info_hash" => {
                    info_hash = Some(decode_20(v).ok_or(QueryError::Invalid("info_hash"))?)
                }
                b"peer_id" => peer_id = Some(decode_20(v).ok_or(QueryError::Invalid("peer_id"))?),
                b"port" => port = Some(decode_number::<u16>(v).ok_or(QueryError::Invalid("port"))?),
                b"uploaded" => {
                    q.uploaded = decode_number(v).ok_or(QueryError::Invalid("uploaded"))?
                }
                b"downloaded" => {
                    q.downloaded = decode_number(v).ok_or(QueryError::Invalid("downloaded"))?
                }
                b"left" => q.left = decode_number(v).ok_or(QueryError::Invalid("left"))?,
                b"event" => {
                    q.event = match v {
                        b"" | b"empty" => HttpEvent::None,
                        b"started" => HttpEvent::Started,
                        b"completed" => HttpEvent::Completed,
                        b"stopped" => HttpEvent::Stopped,
                        b"paused" => HttpEvent::Paused,
                        _ => return Err(QueryError::Invalid("event")),
                    }
                }
                b"compact" => q.compact = v != b"0",
                b"no_peer_id" => q.no_peer_id = v != b"0",
                b"numwant" => {
                    // Some clients send negative numbers for "default".
                    q.numwant = match decode_number::<i64>(v) {
                        Some(n) if n >= 0 => Some(n.min(i64::from(u32::MAX)) as u32),
                        Some(_) => None,
                        None => return Err(QueryError::Invalid("numwant")),
                    }
                }
                b"key" => q.key = Some(v),
                b"trackerid" => q.trackerid = Some(v),
                b"ip" => q.ip = Some(v),
                _ => {}
            }
        }
        q.info_hash = InfoHash(info_hash.ok_or(QueryError::Missing("info_hash"))?);
        q.peer_id = PeerId(peer_id.ok_or(QueryError::Missing("peer_id"))?);
        q.port = port.ok_or(QueryError::Missing("port"))?;
        if q.port == 0 && q.event != HttpEvent::Stopped {
            return Err(QueryError::Invalid("port"));
        }
        Ok(q)
    }
}

/// The info-hashes of a scrape query, in request order, at most `cap` of them (the rest
/// are ignored). Empty means a full scrape was asked for.
pub fn scrape_hashes(query: &[u8], cap: usize, out: &mut Vec<InfoHash>) -> Result<(), QueryError> {
    out.clear();
    for (k, v) in query_pairs(query) {
        if k == b"info_hash" {
            let h = decode_20(v).ok_or(QueryError::Invalid("info_hash"))?;
            if out.len() < cap {
                out.push(InfoHash(h));
            }
        }
    }
    Ok(())
}

/// What an announce response says besides the peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceCounts<'a> {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Seconds a client must wait at least between announces.
    pub min_interval: u32,
    /// Seeders in the swarm (written as `complete`).
    pub complete: u32,
    /// Leechers in the swarm (written as `incomplete`).
    pub incomplete: u32,
    /// Completed downloads the tracker has counted for the torrent (written as
    /// `downloaded`).
    pub downloaded: u64,
    /// The client's address as the tracker saw it (BEP 24), in compact form.
    pub external_ip: Option<&'a [u8]>,
    /// A tracker id to echo in later announces.
    pub tracker_id: Option<&'a [u8]>,
    /// A warning for the user.
    pub warning: Option<&'a str>,
}

/// How to list peers in an announce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerListStyle {
    /// `peers` / `peers6` as compact strings (BEP 23, BEP 7).
    Compact,
    /// `peers` as a list of dictionaries with `ip` and `port` (BEP 3).
    Dictionary,
}

/// Writes an announce response (keys sorted, one top-level dictionary) into `out`.
/// `peers4` and `peers6` are compact peers of either family. For dictionary peers,
/// `peer_ids` (when given, one per peer: `peers4` then `peers6`) adds `peer id`.
pub fn write_announce_response<A: PeerAddr, B: PeerAddr>(
    out: &mut Vec<u8>,
    c: &AnnounceCounts<'_>,
    style: PeerListStyle,
    peers4: &[A],
    peers6: &[B],
    peer_ids: Option<&[PeerId]>,
) {
    let mut e = Encoder::new(out);
    e.begin_dict();
    e.key_int(b"complete", i64::from(c.complete));
    e.key_int(b"downloaded", c.downloaded.min(i64::MAX as u64) as i64);
    if let Some(ip) = c.external_ip {
        e.key_bytes(b"external ip", ip);
    }
    e.key_int(b"incomplete", i64::from(c.incomplete));
    e.key_int(b"interval", i64::from(c.interval));
    e.key_int(b"min interval", i64::from(c.min_interval));
    match style {
        PeerListStyle::Compact => {
            e.bytes(b"peers");
            e.bytes_from_chunks(peers4.iter().map(|p| p.as_bytes()), peers4.len() * A::LEN);
            if !peers6.is_empty() {
                e.bytes(b"peers6");
                e.bytes_from_chunks(peers6.iter().map(|p| p.as_bytes()), peers6.len() * B::LEN);
            }
        }
        PeerListStyle::Dictionary => {
            e.bytes(b"peers");
            e.begin_list();
            let all = peers4
                .iter()
                .map(|p| p.to_socket_addr())
                .chain(peers6.iter().map(|p| p.to_socket_addr()));
            for (n, addr) in all.enumerate() {
                e.begin_dict();
                e.key_bytes(b"ip", addr.ip().to_string().as_bytes());
                if let Some(id) = peer_ids.and_then(|ids| ids.get(n)) {
                    e.key_bytes(b"peer id", &id.0);
                }
                e.key_int(b"port", i64::from(addr.port()));
                e.end();
            }
            e.end();
        }
    }
    if let Some(id) = c.tracker_id {
        e.key_bytes(b"tracker id", id);
    }
    if let Some(w) = c.warning {
        e.key_bytes(b"warning message", w.as_bytes());
    }
    e.end();
}

/// Writes a failure response: `failure reason`, plus `interval` and BEP 31 `retry in`
/// (minutes) so clients back off instead of hammering.
pub fn write_failure(out: &mut Vec<u8>, reason: &str, interval: u32) {
    let mut e = Encoder::new(out);
    e.begin_dict();
    e.key_bytes(b"failure reason", reason.as_bytes());
    e.key_int(b"interval", i64::from(interval));
    e.key_int(b"retry in", i64::from(interval.div_ceil(60).max(1)));
    e.end();
}

/// One torrent's scrape entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeFile {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u32,
    /// Completed downloads counted.
    pub downloaded: u64,
    /// Leechers.
    pub incomplete: u32,
    /// Leechers actively downloading (BEP 21); leechers minus partial seeds.
    pub downloaders: u32,
}

/// Writes a scrape response. `files` is sorted here by info-hash (bencode key order);
/// duplicates keep one entry. `min_request_interval` goes into BEP 48's `flags`.
pub fn write_scrape_response(
    out: &mut Vec<u8>,
    files: &mut [ScrapeFile],
    min_request_interval: Option<u32>,
) {
    files.sort_unstable_by_key(|f| f.info_hash);
    let mut e = Encoder::new(out);
    e.begin_dict();
    e.bytes(b"files");
    e.begin_dict();
    let mut last: Option<InfoHash> = None;
    for f in files.iter() {
        if last == Some(f.info_hash) {
            continue;
        }
        last = Some(f.info_hash);
        e.bytes(&f.info_hash.0);
        e.begin_dict();
        e.key_int(b"complete", i64::from(f.complete));
        e.key_int(b"downloaded", f.downloaded.min(i64::MAX as u64) as i64);
        e.key_int(b"downloaders", i64::from(f.downloaders));
        e.key_int(b"incomplete", i64::from(f.incomplete));
        e.end();
    }
    e.end();
    if let Some(m) = min_request_interval {
        e.bytes(b"flags");
        e.begin_dict();
        e.key_int(b"min_request_interval", i64::from(m));
        e.end();
    }
    e.end();
}

#[cfg(test)]
mod tests;

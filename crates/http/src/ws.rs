//! The WebTorrent tracker: WebSocket connections upgraded from the HTTP listeners.
//!
//! The HTTP loop ([`crate::conn`]) answers the upgrade request itself (101 and the
//! accept key) and hands the socket, with any bytes already read after the request,
//! to [`session`], which runs the WebSocket with `tokio-tungstenite`.
//!
//! One task per connection. Its members in the WebTorrent swarms
//! ([`shoal_engine::webtorrent::WsSwarms`]) carry an [`Outbox`]: a bounded queue
//! other connections push relayed offers and answers into. A connection whose queue
//! is over its byte budget is a slow reader and is closed; nothing is buffered without
//! bound. The connection remembers the offers it was sent ([`PendingOffers`]) and
//! relays an answer only to the peer that made the offer it names.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shoal_engine::webtorrent::{PendingOffers, WsConfig, WsJoin, WsSwarms};
use shoal_engine::{AnnounceEvent, InfoHash, PeerId, Rejection};
use shoal_protocol::ws::{
    parse, write_announce_response, write_answer, write_failure, write_offer,
    write_scrape_response, Action, ClientMessage, ParseLimits, ScrapeEntry, WsScrape,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::Shared;

/// WebTorrent settings.
#[derive(Debug, Clone)]
pub struct WebTorrentConfig {
    /// The swarms' rules (interval, grace, limits).
    pub swarms: WsConfig,
    /// Largest message (and frame) accepted, bytes; larger closes the connection.
    pub max_message_bytes: usize,
    /// Most offers relayed from one announce; more are ignored.
    pub max_offers: usize,
    /// Bytes of relayed messages a connection may have waiting to be written; past
    /// that it is a slow reader and is closed.
    pub max_queue_bytes: usize,
    /// Most WebSocket connections from one IPv4 address or IPv6 /64 (0 = no limit).
    pub max_connections_per_ip: u32,
    /// Most torrents one connection may be in.
    pub max_torrents_per_connection: usize,
    /// Seconds of silence after which the server pings.
    pub ping_interval: Duration,
    /// Seconds of silence (no message, no pong) after which the connection is closed.
    pub idle_timeout: Duration,
    /// Seconds a relayed offer may be answered.
    pub offer_ttl: Duration,
    /// Offers a connection remembers for answering (the latest ones).
    pub pending_offers: usize,
    /// Seconds a write may take before the connection is given up.
    pub write_timeout: Duration,
}

impl Default for WebTorrentConfig {
    fn default() -> Self {
        WebTorrentConfig {
            swarms: WsConfig::default(),
            max_message_bytes: 64 * 1024,
            max_offers: 10,
            max_queue_bytes: 256 * 1024,
            max_connections_per_ip: 64,
            max_torrents_per_connection: 1000,
            ping_interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(180),
            offer_ttl: Duration::from_secs(60),
            pending_offers: 32,
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of what the WebTorrent tracker did.
#[derive(Debug, Default)]
pub struct WsStats {
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// WebSocket connections closed.
    pub closed: AtomicU64,
    /// Upgrades refused by the per-address connection limit.
    pub refused_per_ip: AtomicU64,
    /// Announces answered.
    pub announces: AtomicU64,
    /// Scrapes answered.
    pub scrapes: AtomicU64,
    /// Offers relayed to another peer.
    pub offers_relayed: AtomicU64,
    /// Offers not relayed (no one to send them to, or the receiver was full).
    pub offers_dropped: AtomicU64,
    /// Answers relayed to the peer that made the offer.
    pub answers_relayed: AtomicU64,
    /// Answers refused: no matching offer was sent on this connection, it expired, or
    /// the offering peer is gone.
    pub answers_refused: AtomicU64,
    /// Requests answered with a failure (bad message, not allowed, limits).
    pub failures: AtomicU64,
    /// Announces and scrapes refused by per-source rate limits.
    pub rate_limited: AtomicU64,
    /// Connections closed for a message or frame over the size limit.
    pub too_large: AtomicU64,
    /// Connections closed because their outbound queue was over budget.
    pub slow_readers: AtomicU64,
    /// Connections closed after `idle_timeout` of silence.
    pub idle_closed: AtomicU64,
}

impl WsStats {
    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.connections
            .load(Relaxed)
            .saturating_sub(self.closed.load(Relaxed))
    }
}

/// A relayed message waiting in a connection's queue (boxed: the queue's slots stay
/// pointer-sized while the connection is idle).
struct Relay {
    text: String,
    /// For an offer: the torrent, the offering peer and its offer id, so the receiving
    /// connection can accept the answer.
    offer: Option<(InfoHash, PeerId, [u8; 20])>,
}

struct OutboxInner {
    tx: mpsc::Sender<Box<Relay>>,
    queued_bytes: AtomicUsize,
    slow: AtomicBool,
}

/// How other connections reach one connection: its bounded queue.
#[derive(Clone)]
pub struct Outbox(Arc<OutboxInner>);

impl Outbox {
    /// Queues `relay` unless that would pass `max_bytes` waiting; a connection that
    /// cannot keep up is marked slow (and closes itself).
    fn push(&self, relay: Relay, max_bytes: usize) -> bool {
        let len = relay.text.len();
        let inner = &self.0;
        if inner.slow.load(Relaxed) {
            return false;
        }
        if inner.queued_bytes.fetch_add(len, Relaxed) + len > max_bytes {
            inner.queued_bytes.fetch_sub(len, Relaxed);
            inner.slow.store(true, Relaxed);
            return false;
        }
        match inner.tx.try_send(Box::new(relay)) {
            Ok(()) => true,
            Err(_) => {
                inner.queued_bytes.fetch_sub(len, Relaxed);
                inner.slow.store(true, Relaxed);
                false
            }
        }
    }
}

/// The WebTorrent swarms and what the connections share.
pub struct WebTorrent {
    config: WebTorrentConfig,
    swarms: WsSwarms<Outbox>,
    stats: WsStats,
    per_ip: crate::peraddr::AddrSlots,
    next_conn: AtomicU64,
}

impl std::fmt::Debug for WebTorrent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTorrent")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl WebTorrent {
    /// Empty swarms; `seed` keys their tables (give it fresh randomness).
    pub fn new(config: WebTorrentConfig, seed: u64) -> Self {
        WebTorrent {
            swarms: WsSwarms::new(config.swarms.clone(), seed),
            per_ip: crate::peraddr::AddrSlots::new(config.max_connections_per_ip),
            config,
            stats: WsStats::default(),
            next_conn: AtomicU64::new(1),
        }
    }

    /// The swarms (for stats and purging).
    pub fn swarms(&self) -> &WsSwarms<Outbox> {
        &self.swarms
    }

    /// The counters.
    pub fn stats(&self) -> &WsStats {
        &self.stats
    }

    /// The settings in force.
    pub fn config(&self) -> &WebTorrentConfig {
        &self.config
    }

    /// Takes a connection slot for `ip`, or `None` when it has its share.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<IpSlot> {
        let slot = self.per_ip.admit(ip);
        if slot.is_none() {
            self.stats.refused_per_ip.fetch_add(1, Relaxed);
        }
        slot
    }
}

/// A WebSocket connection's place in its address's count.
pub(crate) type IpSlot = crate::peraddr::AddrSlot;

/// Whether a request asks for a WebSocket upgrade, and with which key.
pub(crate) fn upgrade_key<'a>(headers: &[httparse::Header<'a>]) -> Option<Result<&'a [u8], ()>> {
    let mut upgrade = false;
    let mut connection_upgrade = false;
    let mut key = None;
    let mut version_ok = false;
    let has_token = |v: &[u8], token: &[u8]| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    };
    for h in headers {
        if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(h.value, b"websocket");
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection_upgrade |= has_token(h.value, b"upgrade");
        } else if h.name.eq_ignore_ascii_case("sec-websocket-key") {
            key = Some(h.value.trim_ascii());
        } else if h.name.eq_ignore_ascii_case("sec-websocket-version") {
            version_ok = h.value.trim_ascii() == b"13";
        }
    }
    if !upgrade {
        return None;
    }
    match key {
        Some(k) if connection_upgrade && version_ok && !k.is_empty() => Some(Ok(k)),
        _ => Some(Err(())),
    }
}

/// The `101 Switching Protocols` answer to an upgrade with `key`.
pub(crate) fn write_switching(out: &mut Vec<u8>, key: &[u8]) {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key);
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// What the upgrade hands to the session.
pub(crate) struct Upgrade {
    pub(crate) client: IpAddr,
    pub(crate) slot: IpSlot,
}

/// A connection's own state.
struct Session<'a> {
    wt: &'a WebTorrent,
    shared: &'a Shared,
    client: IpAddr,
    conn: u64,
    outbox: Outbox,
    /// Swarms this connection's peers joined, left when it closes.
    joined: Vec<(InfoHash, PeerId)>,
    pending: PendingOffers,
}

/// Runs an upgraded connection until it closes, the server stops, or a limit ends it.
pub(crate) async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    leftover: Vec<u8>,
    upgrade: Upgrade,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    let Some(wt) = shared.webtorrent.as_deref() else {
        return;
    };
    let cfg = &wt.config;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.max_queue_bytes.max(cfg.max_message_bytes) * 2)
        .max_message_size(Some(cfg.max_message_bytes))
        .max_frame_size(Some(cfg.max_message_bytes));
    let mut ws =
        WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(ws_config)).await;
    wt.stats.connections.fetch_add(1, Relaxed);
    // Roughly how many relays fit the byte budget; the byte count is what binds.
    let (tx, mut rx) = mpsc::channel(256);
    let mut s = Session {
        wt,
        shared,
        client: upgrade.client,
        conn: wt.next_conn.fetch_add(1, Relaxed),
        outbox: Outbox(Arc::new(OutboxInner {
            tx,
            queued_bytes: AtomicUsize::new(0),
            slow: AtomicBool::new(false),
        })),
        joined: Vec::new(),
        pending: PendingOffers::default(),
    };
    let mut last_heard = Instant::now();
    let mut ping_at = last_heard + cfg.ping_interval;
    let wait = tokio::time::sleep_until(ping_at);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = timeout(cfg.write_timeout, ws.close(None)).await;
                break;
            }
            frame = ws.next() => {
                let text = match frame {
                    None => break,
                    Some(Err(e)) => {
                        if matches!(e, WsError::Capacity(_)) {
                            wt.stats.too_large.fetch_add(1, Relaxed);
                            // Say why before closing (1009: message too big).
                            let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                                code: 1009u16.into(),
                                reason: "message too big".into(),
                            };
                            let _ = timeout(cfg.write_timeout, ws.close(Some(close))).await;
                        }
                        break;
                    }
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(b))) => match std::str::from_utf8(&b) {
                        Ok(t) => t.into(),
                        Err(_) => {
                            wt.stats.failures.fetch_add(1, Relaxed);
                            continue;
                        }
                    },
                    Some(Ok(Message::Close(_))) => {
                        // tungstenite answers the close; flush it out.
                        let _ = timeout(cfg.write_timeout, ws.flush()).await;
                        break;
                    }
                    Some(Ok(_)) => {
                        // Ping (answered by tungstenite) or pong: the peer is alive.
                        last_heard = Instant::now();
                        continue;
                    }
                };
                last_heard = Instant::now();
                let reply = s.handle(text.as_str());
                if let Some(reply) = reply {
                    if !s.written(timeout(cfg.write_timeout, ws.send(Message::text(reply))).await) {
                        break;
                    }
                }
            }
            relay = rx.recv() => {
                let Some(relay) = relay else { break };
                if !s.deliver(&mut ws, relay, &mut rx).await {
                    break;
                }
            }
            _ = &mut wait => {
                let now = Instant::now();
                if now.duration_since(last_heard) >= cfg.idle_timeout {
                    wt.stats.idle_closed.fetch_add(1, Relaxed);
                    let _ = timeout(cfg.write_timeout, ws.close(None)).await;
                    break;
                }
                if now >= ping_at {
                    if !s.written(timeout(cfg.write_timeout, ws.send(Message::Ping(Default::default()))).await) {
                        break;
                    }
                    s.pending.expire(s.shared.clock.millis());
                }
            }
        }
        // Next wake-up: a ping after `ping_interval` of silence, then every interval
        // until `idle_timeout`.
        let now = Instant::now();
        ping_at = (last_heard + cfg.ping_interval).max(if now >= ping_at {
            now + cfg.ping_interval
        } else {
            ping_at
        });
        let deadline = ping_at.min(last_heard + cfg.idle_timeout);
        if wait.deadline() != deadline {
            wait.as_mut().reset(deadline);
        }
    }
    // Give everything back before the connection counts as closed, so a client that
    // sees it closed can reconnect at once.
    s.leave_all();
    drop(upgrade.slot);
    wt.stats.closed.fetch_add(1, Relaxed);
}

impl Session<'_> {
    /// Whether a write went through; a timed-out one means a client that does not
    /// read (counted as a slow reader).
    fn written(&self, r: Result<Result<(), WsError>, tokio::time::error::Elapsed>) -> bool {
        match r {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.wt.stats.slow_readers.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// Writes a relayed message and whatever else is queued, with one flush.
    async fn deliver<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        first: Box<Relay>,
        rx: &mut mpsc::Receiver<Box<Relay>>,
    ) -> bool {
        let cfg = &self.wt.config;
        let inner = self.outbox.0.clone();
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(relay) = next.take() {
            inner.queued_bytes.fetch_sub(relay.text.len(), Relaxed);
            if let Some((h, from, offer_id)) = relay.offer {
                self.pending.record(
                    h,
                    from,
                    offer_id,
                    self.shared.clock.millis(),
                    cfg.offer_ttl.as_millis() as u64,
                    cfg.pending_offers,
                );
            }
            let relay = *relay;
            if !self.written(timeout(cfg.write_timeout, ws.feed(Message::text(relay.text))).await) {
                return false;
            }
            batch += 1;
            if batch < 64 {
                next = rx.try_recv().ok();
            }
        }
        if !self.written(timeout(cfg.write_timeout, ws.flush()).await) {
            return false;
        }
        if inner.slow.load(Relaxed) {
            self.wt.stats.slow_readers.fetch_add(1, Relaxed);
            return false;
        }
        true
    }

    /// Answers one client message; relays go straight to the other connections.
    fn handle(&mut self, text: &str) -> Option<String> {
        let wt = self.wt;
        let cfg = &wt.config;
        let limits = ParseLimits {
            max_offers: cfg.max_offers,
            max_scrape_hashes: self.shared.config.max_scrape_hashes,
        };
        let mut out = String::new();
        let msg = match parse(text, limits) {
            Ok(m) => m,
            Err(e) => {
                wt.stats.failures.fetch_add(1, Relaxed);
                write_failure(&mut out, e.reason, e.action, e.info_hash.as_ref());
                return Some(out);
            }
        };
        let now_ms = self.shared.clock.millis();
        let fail = |out: &mut String, reason: &str, action, hash: Option<&InfoHash>| {
            wt.stats.failures.fetch_add(1, Relaxed);
            write_failure(out, reason, Some(action), hash);
        };
        match msg {
            ClientMessage::Announce(a) => {
                let h = a.info_hash;
                if let Some(l) = &self.shared.config.limits {
                    if !l.allow(
                        shoal_engine::ratelimit::Action::Announce,
                        self.client,
                        now_ms,
                    ) {
                        wt.stats.rate_limited.fetch_add(1, Relaxed);
                        write_failure(
                            &mut out,
                            "rate limited: announce less often",
                            Some(Action::Announce),
                            Some(&h),
                        );
                        return Some(out);
                    }
                }
                if !self.shared.engine.allows(&h) {
                    fail(
                        &mut out,
                        "torrent not allowed on this tracker",
                        Action::Announce,
                        Some(&h),
                    );
                    return Some(out);
                }
                let member = self.joined.contains(&(h, a.peer_id));
                if !member
                    && a.event != AnnounceEvent::Stopped
                    && self.joined.len() >= cfg.max_torrents_per_connection
                {
                    fail(
                        &mut out,
                        "too many torrents on one connection",
                        Action::Announce,
                        Some(&h),
                    );
                    return Some(out);
                }
                let wanted = a
                    .offers
                    .len()
                    .min(a.numwant.map_or(usize::MAX, |n| n as usize));
                let join = WsJoin {
                    info_hash: h,
                    peer_id: a.peer_id,
                    conn: self.conn,
                    event: a.event,
                    seeder: a.left == Some(0),
                    offers: wanted,
                };
                let mut targets = Vec::new();
                let o =
                    wt.swarms
                        .announce(&join, &self.outbox, self.shared.clock.now(), &mut targets);
                if a.event == AnnounceEvent::Stopped {
                    self.joined.retain(|j| *j != (h, a.peer_id));
                } else if o.joined && !member {
                    self.joined.push((h, a.peer_id));
                }
                // A full tracker, or a peer id another live connection holds: a
                // failure rather than counts, so the client learns that its announce
                // and offers went nowhere.
                if let Some(r @ (Rejection::TooManyTorrents | Rejection::PeerIdInUse)) = o.rejected
                {
                    fail(&mut out, r.as_str(), Action::Announce, Some(&h));
                    return Some(out);
                }
                wt.stats.announces.fetch_add(1, Relaxed);
                let dropped = a.offers.len() + a.offers_dropped - targets.len();
                wt.stats.offers_dropped.fetch_add(dropped as u64, Relaxed);
                for ((_, to), offer) in targets.iter().zip(&a.offers) {
                    let mut text = String::new();
                    write_offer(&mut text, &h, &a.peer_id, &offer.offer_id, offer.offer);
                    let relay = Relay {
                        text,
                        offer: Some((h, a.peer_id, offer.offer_id)),
                    };
                    if to.push(relay, cfg.max_queue_bytes) {
                        wt.stats.offers_relayed.fetch_add(1, Relaxed);
                    } else {
                        wt.stats.offers_dropped.fetch_add(1, Relaxed);
                    }
                }
                write_announce_response(&mut out, &h, o.complete, o.incomplete, o.interval);
                Some(out)
            }
            ClientMessage::Answer(ans) => {
                let routed = self
                    .pending
                    .take(&ans.info_hash, &ans.to_peer_id, &ans.offer_id, now_ms)
                    .then(|| wt.swarms.member(&ans.info_hash, &ans.to_peer_id))
                    .flatten();
                let sent = routed.is_some_and(|to| {
                    let mut text = String::new();
                    write_answer(
                        &mut text,
                        &ans.info_hash,
                        &ans.peer_id,
                        &ans.offer_id,
                        ans.answer,
                    );
                    to.push(Relay { text, offer: None }, cfg.max_queue_bytes)
                });
                if sent {
                    wt.stats.answers_relayed.fetch_add(1, Relaxed);
                } else {
                    wt.stats.answers_refused.fetch_add(1, Relaxed);
                }
                // Answers get no reply (the offering peer gets the answer).
                None
            }
            ClientMessage::Scrape(scrape) => {
                if let Some(l) = &self.shared.config.limits {
                    if !l.allow(shoal_engine::ratelimit::Action::Scrape, self.client, now_ms) {
                        wt.stats.rate_limited.fetch_add(1, Relaxed);
                        write_failure(
                            &mut out,
                            "rate limited: scrape less often",
                            Some(Action::Scrape),
                            None,
                        );
                        return Some(out);
                    }
                }
                let entry = |(info_hash, complete, incomplete, downloaded)| ScrapeEntry {
                    info_hash,
                    complete,
                    incomplete,
                    downloaded,
                };
                let files: Vec<ScrapeEntry> = match scrape {
                    WsScrape::Hashes(hashes) => hashes
                        .iter()
                        .map(|h| {
                            let (c, i, d) = wt.swarms.scrape(h);
                            entry((*h, c, i, d))
                        })
                        .collect(),
                    WsScrape::All => {
                        let config = &self.shared.config;
                        if !config.full_scrape {
                            fail(
                                &mut out,
                                "full scrape is disabled: name info_hash values",
                                Action::Scrape,
                                None,
                            );
                            return Some(out);
                        }
                        if !self.shared.full_scrapes.allow(
                            self.client,
                            self.shared.clock.now(),
                            config.full_scrape_interval,
                        ) {
                            fail(
                                &mut out,
                                "full scrape allowed once per full_scrape_interval",
                                Action::Scrape,
                                None,
                            );
                            return Some(out);
                        }
                        let mut all = Vec::new();
                        wt.swarms.scrape_all(&mut all, MAX_FULL_SCRAPE);
                        all.into_iter().map(entry).collect()
                    }
                };
                wt.stats.scrapes.fetch_add(1, Relaxed);
                write_scrape_response(&mut out, &files);
                Some(out)
            }
        }
    }

    fn leave_all(&mut self) {
        for (h, id) in self.joined.drain(..) {
            self.wt.swarms.remove(&h, &id, self.conn);
        }
    }
}

/// Most torrents in a WebTorrent full scrape.
const MAX_FULL_SCRAPE: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_headers() {
        let h = |pairs: &[(&'static str, &'static [u8])]| {
            pairs
                .iter()
                .map(|&(name, value)| httparse::Header { name, value })
                .collect::<Vec<_>>()
        };
        let ok = h(&[
            ("Upgrade", b"websocket"),
            ("Connection", b"keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", b"13"),
        ]);
        assert_eq!(upgrade_key(&ok), Some(Ok(&b"dGhlIHNhbXBsZSBub25jZQ=="[..])));
        let mut out = Vec::new();
        write_switching(&mut out, b"dGhlIHNhbXBsZSBub25jZQ==");
        // RFC 6455's worked example.
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert_eq!(upgrade_key(&h(&[("Connection", b"close")])), None);
        let old = h(&[
            ("Upgrade", b"websocket"),
            ("Connection", b"Upgrade"),
            ("Sec-WebSocket-Key", b"x"),
            ("Sec-WebSocket-Version", b"8"),
        ]);
        assert_eq!(upgrade_key(&old), Some(Err(())));
    }

    #[test]
    fn outbox_budget_marks_slow_readers() {
        let (tx, mut rx) = mpsc::channel(4);
        let o = Outbox(Arc::new(OutboxInner {
            tx,
            queued_bytes: AtomicUsize::new(0),
            slow: AtomicBool::new(false),
        }));
        let relay = |n| Relay {
            text: "x".repeat(n),
            offer: None,
        };
        assert!(o.push(relay(40), 100));
        assert!(o.push(relay(40), 100));
        assert!(!o.push(relay(40), 100), "over the byte budget");
        assert!(o.0.slow.load(Relaxed));
        assert!(!o.push(relay(1), 100), "a slow reader gets nothing more");
        assert_eq!(o.0.queued_bytes.load(Relaxed), 80);
        assert!(rx.try_recv().is_ok());
    }
}

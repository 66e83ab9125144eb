//! The WebTorrent tracker: WebSocket connections upgraded from the HTTP listeners.
//!
//! The HTTP loop ([`crate::conn`]) answers the upgrade request itself (101 and the
//! accept key) and hands the socket, with any bytes already read after the request,
//! to [`session`], which runs the WebSocket with `tokio-tungstenite`.
//!
//! This module is transport only: what a message means — admission, announces, offer
//! fan-out, answer routing, per-connection limits — is `shoal-webtorrent`'s
//! [`Tracker`] and [`Connection`], driven from here. One task per connection. Its
//! members in the swarms carry an [`Outbox`]: a bounded queue other connections push
//! relayed offers and answers into. A connection whose queue is over its byte budget
//! is a slow reader and is closed; nothing is buffered without bound.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shoal_engine::gate::Gate;
use shoal_engine::webtorrent::{WsConfig, WsSwarms};
pub use shoal_webtorrent::WsStats;
use shoal_webtorrent::{Connection, Mailbox, Relay, Tracker};
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
    /// Most info-hashes answered per scrape; extra hashes are ignored.
    pub max_scrape_hashes: usize,
    /// Whether a scrape without info-hashes answers for every torrent.
    pub full_scrape: bool,
    /// Seconds a client must wait between full scrapes (shared with HTTP's).
    pub full_scrape_interval: u32,
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
            max_scrape_hashes: 64,
            full_scrape: false,
            full_scrape_interval: 600,
        }
    }
}

struct OutboxInner {
    tx: mpsc::Sender<Box<Relay>>,
    queued_bytes: AtomicUsize,
    /// Bytes that may wait; past that the connection is a slow reader.
    max_bytes: usize,
    slow: AtomicBool,
}

/// How other connections reach one connection: its bounded queue.
#[derive(Clone)]
pub struct Outbox(Arc<OutboxInner>);

impl Mailbox for Outbox {
    /// Queues `relay` unless that would pass the byte budget; a connection that cannot
    /// keep up is marked slow (and closes itself).
    fn push(&self, relay: Relay) -> bool {
        let len = relay.text.len();
        let inner = &self.0;
        let max_bytes = inner.max_bytes;
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

/// The WebTorrent tracker and what its connections share.
pub struct WebTorrent {
    config: WebTorrentConfig,
    core: Tracker<Outbox>,
    per_ip: crate::peraddr::AddrSlots,
}

impl std::fmt::Debug for WebTorrent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTorrent")
            .field("config", &self.config)
            .field("stats", self.core.stats())
            .finish_non_exhaustive()
    }
}

impl WebTorrent {
    /// Empty swarms behind `gate`; `seed` keys their tables (give it fresh
    /// randomness).
    pub fn new(config: WebTorrentConfig, gate: Arc<Gate>, seed: u64) -> Self {
        let core = shoal_webtorrent::Config {
            swarms: config.swarms.clone(),
            max_offers: config.max_offers,
            max_torrents_per_connection: config.max_torrents_per_connection,
            offer_ttl_ms: config.offer_ttl.as_millis() as u64,
            pending_offers: config.pending_offers,
            max_scrape_hashes: config.max_scrape_hashes,
            full_scrape: config.full_scrape,
            full_scrape_interval: config.full_scrape_interval,
        };
        WebTorrent {
            core: Tracker::new(core, gate, seed),
            per_ip: crate::peraddr::AddrSlots::new(config.max_connections_per_ip),
            config,
        }
    }

    /// The swarms (for stats and purging).
    pub fn swarms(&self) -> &WsSwarms<Outbox> {
        self.core.swarms()
    }

    /// The counters.
    pub fn stats(&self) -> &WsStats {
        self.core.stats()
    }

    /// The settings in force.
    pub fn config(&self) -> &WebTorrentConfig {
        &self.config
    }

    /// Takes a connection slot for `ip`, or `None` when it has its share.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<IpSlot> {
        let slot = self.per_ip.admit(ip);
        if slot.is_none() {
            self.stats().refused_per_ip.fetch_add(1, Relaxed);
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
    /// The passkey the upgrade request's path carried.
    pub(crate) passkey: Option<Vec<u8>>,
    pub(crate) slot: IpSlot,
}

/// A connection's own state.
struct Session<'a> {
    wt: &'a WebTorrent,
    shared: &'a Shared,
    conn: Connection<Outbox>,
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
    wt.stats().connections.fetch_add(1, Relaxed);
    // Roughly how many relays fit the byte budget; the byte count is what binds.
    let (tx, mut rx) = mpsc::channel(256);
    let outbox = Outbox(Arc::new(OutboxInner {
        tx,
        queued_bytes: AtomicUsize::new(0),
        max_bytes: cfg.max_queue_bytes,
        slow: AtomicBool::new(false),
    }));
    let mut s = Session {
        wt,
        shared,
        conn: wt
            .core
            .connection(upgrade.client, upgrade.passkey.as_deref(), outbox.clone()),
    };
    let outbox = outbox.0;
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
                            wt.stats().too_large.fetch_add(1, Relaxed);
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
                            wt.stats().failures.fetch_add(1, Relaxed);
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
                let reply = s.conn.receive(
                    &wt.core,
                    text.as_str(),
                    shared.clock.now(),
                    shared.clock.millis(),
                );
                if let Some(reply) = reply {
                    if !s.written(timeout(cfg.write_timeout, ws.send(Message::text(reply))).await) {
                        break;
                    }
                }
            }
            relay = rx.recv() => {
                let Some(relay) = relay else { break };
                if !s.deliver(&mut ws, relay, &mut rx, &outbox).await {
                    break;
                }
            }
            _ = &mut wait => {
                let now = Instant::now();
                if now.duration_since(last_heard) >= cfg.idle_timeout {
                    wt.stats().idle_closed.fetch_add(1, Relaxed);
                    let _ = timeout(cfg.write_timeout, ws.close(None)).await;
                    break;
                }
                if now >= ping_at {
                    if !s.written(timeout(cfg.write_timeout, ws.send(Message::Ping(Default::default()))).await) {
                        break;
                    }
                    s.conn.expire(s.shared.clock.millis());
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
    s.conn.close(&wt.core);
    drop(outbox);
    drop(upgrade.slot);
    wt.stats().closed.fetch_add(1, Relaxed);
}

impl Session<'_> {
    /// Whether a write went through; a timed-out one means a client that does not
    /// read (counted as a slow reader).
    fn written(&self, r: Result<Result<(), WsError>, tokio::time::error::Elapsed>) -> bool {
        match r {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.wt.stats().slow_readers.fetch_add(1, Relaxed);
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
        inner: &OutboxInner,
    ) -> bool {
        let cfg = &self.wt.config;
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(relay) = next.take() {
            inner.queued_bytes.fetch_sub(relay.text.len(), Relaxed);
            self.conn
                .delivering(&self.wt.core, &relay, self.shared.clock.millis());
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
            self.wt.stats().slow_readers.fetch_add(1, Relaxed);
            return false;
        }
        true
    }
}

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
            max_bytes: 100,
            slow: AtomicBool::new(false),
        }));
        let relay = |n| Relay {
            text: "x".repeat(n),
            offer: None,
        };
        assert!(o.push(relay(40)));
        assert!(o.push(relay(40)));
        assert!(!o.push(relay(40)), "over the byte budget");
        assert!(o.0.slow.load(Relaxed));
        assert!(!o.push(relay(1)), "a slow reader gets nothing more");
        assert_eq!(o.0.queued_bytes.load(Relaxed), 80);
        assert!(rx.try_recv().is_ok());
    }
}

//! `[webtorrent]`

use super::section::{bad, section};
use super::ConfigError;

fn transport() -> shoal_http::ws::WebTorrentConfig {
    shoal_http::ws::WebTorrentConfig::default()
}

section! {
    /// `[webtorrent]`: the WebTorrent tracker (WebSocket on the HTTP listeners).
    "webtorrent", pub struct WebTorrentSection {
        /// WebTorrent tracker: browsers and WebTorrent clients connect with WebSocket to
        /// ws://host/announce (wss:// on the HTTPS listeners) and the tracker relays their WebRTC
        /// offers and answers. Its swarms are apart from UDP/HTTP ones (browsers cannot dial
        /// TCP/UDP peers).
        enabled: bool = true;
        /// Seconds between announces that WebTorrent clients are told.
        announce_interval: u32 = transport().swarms.announce_interval, in 10..=86_400 => "seconds";
        /// Extra seconds before a peer that stopped announcing is dropped (closing the
        /// connection drops it at once).
        peer_grace: u32 = transport().swarms.peer_grace;
        /// Largest message or frame, bytes; a larger one closes the connection (code 1009).
        max_message_bytes: usize = transport().max_message_bytes, in 1024..=1 << 20;
        /// Most offers relayed from one announce; more are ignored.
        max_offers: usize = transport().max_offers, in 1..=100;
        /// Bytes of relayed messages waiting to be written to one connection; past that it is a
        /// slow reader and is closed.
        max_queue_bytes: usize = transport().max_queue_bytes;
        /// Most WebSocket connections per IPv4 address or IPv6 /64 (0 = no limit).
        max_connections_per_ip: u32 = transport().max_connections_per_ip;
        /// Most torrents one connection may announce.
        max_torrents_per_connection: usize = transport().max_torrents_per_connection, in 1..=100_000;
        /// Most WebTorrent torrents (0 = no limit).
        max_torrents: u64 = transport().swarms.max_torrents;
        /// Most peers in one WebTorrent swarm (0 = no limit).
        max_peers_per_torrent: u32 = transport().swarms.max_peers_per_torrent;
        /// Seconds of silence before the server pings the client.
        ping_interval: u64 = transport().ping_interval.as_secs(), in 1..=3600 => "seconds";
        /// Seconds of silence (no message, no pong) before the connection is closed.
        idle_timeout: u64 = transport().idle_timeout.as_secs(), in 2..=86_400 => "seconds";
        /// Seconds a relayed offer may be answered.
        offer_ttl: u64 = transport().offer_ttl.as_secs(), in 1..=600 => "seconds";
        /// Seconds a write to a client may take; a client that does not read is closed.
        write_timeout: u64 = transport().write_timeout.as_secs(), in 1..=300 => "seconds";
    }
}

impl WebTorrentSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        // A relayed offer is the offer plus its framing: the queue must hold one.
        if self.max_queue_bytes < self.max_message_bytes + 1024 {
            return bad(
                "webtorrent.max_queue_bytes",
                self.max_queue_bytes,
                "must be at least webtorrent.max_message_bytes + 1024",
            );
        }
        if self.idle_timeout <= self.ping_interval {
            return bad(
                "webtorrent.idle_timeout",
                self.idle_timeout,
                "must be longer than webtorrent.ping_interval",
            );
        }
        Ok(())
    }
}

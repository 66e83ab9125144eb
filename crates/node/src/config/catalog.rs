//! `[catalog]`

use super::section::{bad, section};
use super::ConfigError;

section! {
    /// `[catalog]`: names and files of the torrents the tracker sees, fetched from their
    /// swarms.
    "catalog", pub struct CatalogSection {
        /// Resolve every torrent announced over UDP or HTTP into its name, size and file list
        /// by fetching its metadata (BEP 9) from peers in its swarm, and keep it in the store.
        /// WebTorrent swarms are skipped: browser peers cannot be dialed.
        enabled: bool = true;
        /// Torrents whose metadata is being fetched at once (1..=1024).
        max_concurrent: usize = 32, in 1..=1024;
        /// Peers tried at once for one torrent, seeders first (1..=8).
        peers_per_torrent: usize = 2, in 1..=8;
        /// Most outgoing peer connections open at once, over all torrents.
        max_connections: usize = 64, in 1..=4096;
        /// Largest metadata (info dictionary) fetched, bytes; a peer announcing more is not
        /// asked (checked before anything is allocated).
        max_metadata_bytes: u64 = 8 << 20, in 16_384..=(64 << 20);
        /// Seconds to connect to a peer.
        connect_timeout: u64 = 5, in 1..=60 => "seconds";
        /// Seconds a peer may go without sending anything useful before it is given up.
        idle_timeout: u64 = 10, in 1..=300 => "seconds";
        /// Seconds one fetch from one peer may take in all.
        fetch_timeout: u64 = 30, in 1..=600 => "seconds";
        /// Tries per torrent before it is given up (each try asks peers_per_torrent peers).
        max_attempts: u32 = 8, in 1..=100;
        /// Seconds before the first retry; each later one waits twice as long, up to
        /// retry_max.
        retry_base: u64 = 30, in 1..=86_400 => "seconds";
        /// Longest wait between two tries, seconds.
        retry_max: u64 = 3600, in 1..=604_800 => "seconds";
        /// Seconds an unresolved torrent is kept waiting for peers before it is forgotten (a
        /// new swarm for it starts over).
        forget_after: u64 = 3600, in 60..=604_800 => "seconds";
        /// Most torrents waiting to be resolved (a bound on memory); new ones past it are
        /// dropped and counted.
        max_pending: usize = 200_000, in 1..=10_000_000;
        /// Most entries the catalog keeps; past it, those longest without peers go first
        /// (0 = no limit). The default bounds the store file on a small box (entries hold
        /// their info dictionary: typically a few KiB, at most max_metadata_bytes).
        max_entries: u64 = 1_000_000;
        /// Dial peers in private, loopback, link-local and other non-public ranges and on
        /// ports below 1024. Off by default: peers choose the address the tracker connects
        /// to, and a tracker that dials anything can be made to scan a network.
        dial_private: bool = false;
        /// Networks dialed even with dial_private off (e.g. ["0200::/7"] for Yggdrasil).
        dial_allow: Vec<String> = Vec::new();
        /// Most connections to one peer address per minute.
        dials_per_address_per_minute: u32 = 6, in 1..=600;
        /// Words that keep a torrent out of the catalog when its name contains one (any case).
        deny_words: Vec<String> = Vec::new();
        /// Searches run at once, each on a thread of its own (never on a tracker thread).
        search_threads: usize = 2, in 1..=64;
        /// Searches waiting for a search thread at most; more are answered "busy" (503).
        search_queue: usize = 32, in 1..=10_000;
        /// Longest a request waits for its search, milliseconds; a slower one is answered
        /// "took too long" (503).
        search_timeout_ms: u64 = 2000, in 10..=60_000 => "milliseconds";
        /// The key Torznab clients (Sonarr, Radarr, Prowlarr) must send as apikey; empty: no
        /// key needed.
        torznab_key: String = String::new();
        /// Announce URLs written into .torrent downloads, magnet links and feeds; empty: this
        /// tracker's own, with the host name the page was reached by and the UDP and HTTP
        /// listeners' ports.
        announce_urls: Vec<String> = Vec::new();
    }
}

impl CatalogSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        for n in &self.dial_allow {
            if let Err(e) = n.parse::<shoal_http::Cidr>() {
                return bad("catalog.dial_allow", format!("{n:?}"), &e);
            }
        }
        if self.retry_max < self.retry_base {
            return bad(
                "catalog.retry_max",
                self.retry_max,
                "must be at least catalog.retry_base",
            );
        }
        if self.fetch_timeout < self.connect_timeout {
            return bad(
                "catalog.fetch_timeout",
                self.fetch_timeout,
                "must be at least catalog.connect_timeout",
            );
        }
        Ok(())
    }
}

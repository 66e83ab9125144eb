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
        /// Content preview: fetch a few small files of each catalogued torrent from its swarm
        /// (its cover, .nfo, readme), check every piece against the torrent's hashes, and
        /// show them on its page (images re-encoded as PNG, texts decoded and escaped). Off
        /// by default: it downloads bytes strangers chose. The dial rules above apply.
        preview: bool = false;
        /// Extensions (lowercase) shown as images: decoded and re-encoded, never served as
        /// sent. Only PNG, JPEG, GIF and WebP content is accepted whatever the name.
        preview_images: Vec<String> = strings(&["jpg", "jpeg", "png", "gif", "webp"]);
        /// Extensions (lowercase) shown as text.
        preview_texts: Vec<String> = strings(&["nfo", "txt", "md", "log", "cue", "sfv"]);
        /// Largest file fetched for a preview, bytes.
        preview_max_file: u64 = 2 << 20, in 1024..=(64 << 20);
        /// Most bytes of pieces fetched per torrent (whole pieces: one a chosen file shares
        /// with a large neighbour counts its full length).
        preview_max_total: u64 = 8 << 20, in 16_384..=(256 << 20);
        /// Most files previewed per torrent.
        preview_max_files: usize = 8, in 1..=64;
        /// Most bytes the kept preview files take on disk (under data_dir/preview); past it,
        /// those viewed longest ago are deleted.
        preview_disk_budget: u64 = 1 << 30, in (1 << 20)..=(1 << 40);
        /// Torrents whose preview is fetched at once (one peer connection each).
        preview_concurrent: usize = 4, in 1..=256;
        /// Seconds one peer session of a preview may take in all.
        preview_timeout: u64 = 60, in 5..=3600 => "seconds";
        /// Seconds a torrent's preview keeps trying peers before what it has is kept.
        preview_give_up_after: u64 = 600, in 10..=86_400 => "seconds";
        /// Seconds before a torrent no peer gave a piece of is tried again, if its swarm has a
        /// peer not known bad by then; doubled each time, six rounds at most.
        preview_retry: u64 = 60, in 1..=86_400 => "seconds";
        /// Most characters of a text kept and shown.
        preview_text_chars: usize = 65_536, in 1024..=(4 << 20);
        /// Most pixels an image may claim (checked from its header, before decoding).
        preview_max_pixels: u64 = 40_000_000, in 1_000..=400_000_000;
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
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
        for (key, list) in [
            ("catalog.preview_images", &self.preview_images),
            ("catalog.preview_texts", &self.preview_texts),
        ] {
            for ext in list {
                if ext.is_empty()
                    || ext.len() > 16
                    || !ext
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                {
                    return bad(
                        key,
                        format!("{ext:?}"),
                        "extensions are lowercase letters and digits, without the dot",
                    );
                }
            }
        }
        if self.preview_max_total < self.preview_max_file {
            return bad(
                "catalog.preview_max_total",
                self.preview_max_total,
                "must be at least catalog.preview_max_file",
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

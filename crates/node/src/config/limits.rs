//! `[limits]`

use super::section::{bad, section};
use super::ConfigError;

/// The default `limits.max_torrents`: peerless torrents cost about 100 bytes each and a
/// full table with a few peers each stays within a few GiB (see BENCHMARKS.md).
pub const DEFAULT_MAX_TORRENTS: u64 = 2_000_000;

section! {
    /// `[limits]`: bounds against abuse and on memory.
    "limits", pub struct LimitsSection {
        /// Bounds on memory; 0 means no limit. A refused new torrent gets an error; a peer over
        /// a swarm or total limit still gets peers but is not listed. The default torrent limit
        /// keeps memory bounded on a small box; raise it on a big one.
        max_torrents: u64 = DEFAULT_MAX_TORRENTS;
        /// Most peers held over all torrents (0 = no limit).
        max_peers: u64 = 0;
        /// Most peers listed in one swarm, per address family (0 = no limit).
        max_peers_per_torrent: u32 = 0;
        /// Most new torrents one IPv4 /24 or IPv6 /48 may create per minute (0 = no limit).
        /// Announces to torrents the tracker already has are not counted.
        max_new_torrents_per_prefix_per_minute: u32 = 300;
        /// Token buckets per source (an IPv4 address or an IPv6 /64): requests per second and
        /// burst, per kind of request. 0 turns a limit off; mind carrier-grade NAT, where many
        /// users share one address. Over-limit UDP requests are dropped silently; HTTP ones get
        /// a failure reason.
        connect_rate: u32 = 0;
        /// Burst of UDP connects.
        connect_burst: u32 = 20;
        /// Announces per second per source (0 = no limit).
        announce_rate: u32 = 0;
        /// Burst of announces.
        announce_burst: u32 = 20;
        /// Scrapes per second per source (0 = no limit).
        scrape_rate: u32 = 0;
        /// Burst of scrapes.
        scrape_burst: u32 = 20;
        /// Most sources each limiter tracks; idle ones are forgotten (bounds memory).
        max_tracked_sources: usize = 1_000_000;
        /// A torrent whose peers have all left keeps only its completed count, in a compact
        /// table (about 32 bytes each). Past this many, the oldest counts stay in the store only
        /// and are read back (within a second, off the request path) when the torrent is
        /// announced or scraped again; until then a scrape of it may say 0 completed.
        max_dormant_torrents: u64 = 4_000_000;
    }
}

impl LimitsSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.max_tracked_sources < 1024 {
            return bad(
                "limits.max_tracked_sources",
                self.max_tracked_sources,
                "must be at least 1024",
            );
        }
        for (key, rate, burst) in [
            (
                "limits.connect_burst",
                self.connect_rate,
                self.connect_burst,
            ),
            (
                "limits.announce_burst",
                self.announce_rate,
                self.announce_burst,
            ),
            ("limits.scrape_burst", self.scrape_rate, self.scrape_burst),
        ] {
            if rate > 0 && burst == 0 {
                return bad(key, 0, "must be at least 1 when its rate is set");
            }
        }
        Ok(())
    }

    /// Per-source rate limits, when any is set.
    pub fn source_limits(&self, seed: u64) -> Option<shoal_engine::ratelimit::SourceLimits> {
        let on = self.connect_rate > 0 || self.announce_rate > 0 || self.scrape_rate > 0;
        on.then(|| {
            shoal_engine::ratelimit::SourceLimits::new(
                (self.connect_rate, self.connect_burst),
                (self.announce_rate, self.announce_burst),
                (self.scrape_rate, self.scrape_burst),
                self.max_tracked_sources,
                seed,
            )
        })
    }
}

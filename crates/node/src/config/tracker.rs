//! `[tracker]`

use super::section::{bad, section};
use super::ConfigError;

fn engine() -> shoal_engine::EngineConfig {
    shoal_engine::EngineConfig::default()
}

section! {
    /// `[tracker]`: swarm rules shared by every protocol.
    "tracker", pub struct TrackerSection {
        /// Seconds between announces that clients are told.
        announce_interval: u32 = engine().announce_interval, in 1..=86_400 => "seconds";
        /// Extra seconds a peer is kept past the interval it was told, so a client that
        /// announces a little late is never dropped.
        peer_grace: u32 = engine().peer_grace;
        /// Peers returned when the client does not say how many it wants.
        default_numwant: u32 = engine().default_numwant;
        /// Most peers returned in one response, whatever the client asks (1..=500).
        max_numwant: u32 = engine().max_numwant, in 1..=500;
        /// Independently locked swarm shards; more shards mean less lock contention.
        shards: usize = engine().shards, in 1..=65_536;
        /// Seconds between sweeps that drop expired peers.
        purge_interval: u32 = 30, in 1..=3600 => "seconds";
        /// Keep each peer's id so HTTP clients asking for non-compact lists (compact=0) get
        /// "peer id" in every entry. Costs 20 bytes per peer; without it those entries carry
        /// only ip and port (almost every client asks for compact lists).
        store_peer_ids: bool = engine().store_peer_ids;
        /// Write the live swarms to <data_dir>/swarms.snapshot on graceful shutdown and load
        /// them at start, so peers announcing right after a restart still find each other.
        /// The file is removed once loaded, and loaded only at the first start after the
        /// shutdown that wrote it (the store records it); any other is set aside as
        /// swarms.snapshot.stale, a damaged one as swarms.snapshot.bad.
        snapshot: bool = true;
        /// Who may use the tracker: "open" (anyone, subject to the access list), "listed" (only
        /// torrents an admin listed are tracked: the admin access list, POST
        /// /api/admin/access-list, and access_list.file, in allow mode; others get "torrent not
        /// allowed on this tracker") or "private" (every announce and scrape carries the passkey
        /// of an account that is not banned, in the path: /announce/<passkey>,
        /// /<passkey>/announce, or UDP BEP 41 URLData).
        /// Accounts are made with `shoal user add`; changes reach a running server within a
        /// second. Switching needs no data migration.
        mode: TrackerMode = TrackerMode::Open;
    }
}

/// Who may use the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrackerMode {
    /// Anyone.
    #[default]
    Open,
    /// Only listed torrents.
    Listed,
    /// Accounts with a passkey.
    Private,
}

impl TrackerSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.default_numwant > self.max_numwant {
            return bad(
                "tracker.default_numwant",
                self.default_numwant,
                "must not exceed tracker.max_numwant",
            );
        }
        if !self.shards.is_power_of_two() {
            return bad(
                "tracker.shards",
                self.shards,
                "must be a power of two in 1..=65536",
            );
        }
        Ok(())
    }
}

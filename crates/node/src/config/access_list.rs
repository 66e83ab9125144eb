//! `[access_list]`

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::section::{bad, section};
use super::ConfigError;

section! {
    /// `[access_list]`: which torrents are served.
    "access_list", pub struct AccessListSection {
        /// "off": every torrent is served; "allow": only listed torrents; "deny": listed torrents
        /// are refused. The list is the file below plus entries added through the admin API
        /// (POST /api/admin/access-list), which are kept in the store (shoal.sqlite).
        mode: AccessListMode = AccessListMode::Off;
        /// One 40-digit hex info-hash per line; text after a hash sign is a comment. Checked every
        /// reload_interval seconds and on SIGHUP; bad lines are reported with their numbers.
        file: PathBuf = PathBuf::new();
        /// Seconds between checks of the file (1..=3600).
        reload_interval: u64 = 5, in 1..=3600 => "seconds";
        /// How UDP answers a refused announce: "error" (a small error packet) or "soft" (an
        /// announce reply with no peers, for clients that retry errors aggressively).
        udp_reject: UdpReject = UdpReject::Error;
    }
}

/// Access-list mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccessListMode {
    /// Every torrent is served.
    #[default]
    Off,
    /// Only listed torrents are served.
    Allow,
    /// Listed torrents are refused.
    Deny,
}

/// How UDP refuses an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UdpReject {
    /// A small error packet.
    #[default]
    Error,
    /// An announce reply with no peers.
    Soft,
}

impl AccessListSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if !self.file.as_os_str().is_empty() && !self.file.is_file() {
            return bad(
                "access_list.file",
                format!("{:?}", self.file.display().to_string()),
                "is not a readable file",
            );
        }
        Ok(())
    }
}

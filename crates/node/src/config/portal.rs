//! `[portal]`

use super::section::section;
use super::ConfigError;

section! {
    /// `[portal]`: the site's account pages (/register, /login, /logout, /account) on the
    /// web UI's listeners.
    "portal", pub struct PortalSection {
        /// Who may create an account on the site: "invite" (whoever has a code from
        /// `shoal invite create` or the site), "open" (anyone) or "off" (accounts come
        /// from `shoal user add` only). Login works either way. An admin's choice on the
        /// site's admin page overrides this.
        registration: Registration = Registration::Invite;
        /// Seconds a login lasts (the session cookie's lifetime).
        session_lifetime: u64 = 30 * 86_400, in 300..=31_536_000 => "seconds";
        /// Failed logins from one address (an IPv4 address or an IPv6 /64) per
        /// login_window before it must wait. 0: no limit.
        login_failures_per_address: u32 = 20;
        /// Failed logins for one name per login_window (whether or not the account
        /// exists) before that name must wait. 0: no limit.
        login_failures_per_name: u32 = 10;
        /// The window failed logins are counted in, in seconds.
        login_window: u64 = 600, in 1..=86_400 => "seconds";
        /// Largest .torrent file the upload form takes, in bytes.
        max_torrent_bytes: usize = 4 << 20, in 16_384..=33_554_432 => "bytes";
        /// The least role whose uploads are published at once: "user", "uploader",
        /// "moderator" or "admin". Uploads by accounts below it wait for a moderator.
        publish_role: PublishRole = PublishRole::Uploader;
        /// Seconds an invite made on the site is valid.
        invite_lifetime: u64 = 7 * 86_400, in 3600..=31_536_000 => "seconds";
    }
}

/// The least role that publishes without approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PublishRole {
    /// Everyone.
    User,
    /// Uploaders and above.
    #[default]
    Uploader,
    /// Moderators and admins.
    Moderator,
    /// Admins only.
    Admin,
}

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Nobody: accounts come from the command line.
    Off,
    /// Whoever has an invite code.
    #[default]
    Invite,
    /// Anyone.
    Open,
}

impl PortalSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

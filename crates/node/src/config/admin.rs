//! `[admin]`

use super::section::{bad, section};
use super::ConfigError;

section! {
    /// `[admin]`: the admin API.
    "admin", pub struct AdminSection {
        /// Bearer token for the admin API under /api/admin/ (Authorization: Bearer <token>).
        /// Empty: the admin API is closed and every call gets 401. Prefer SHOAL_ADMIN__TOKEN
        /// over writing it here; it is never logged.
        token: String = String::new();
    }
}

impl AdminSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if !self.token.is_empty() && self.token.len() < 16 {
            return bad("admin.token", "(hidden)", "must be at least 16 characters");
        }
        Ok(())
    }
}

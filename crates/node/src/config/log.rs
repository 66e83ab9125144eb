//! `[log]`

use serde::{Deserialize, Serialize};

use super::section::{bad, section};
use super::ConfigError;

section! {
    /// `[log]`: what is logged and how.
    "log", pub struct LogSection {
        /// Tracing filter: "error", "warn", "info", "debug", "trace", or per-crate such as
        /// "shoal_udp=debug,info". The RUST_LOG environment variable takes precedence.
        level: String = "info".into();
        /// "text" for humans, "json" for log collectors.
        format: LogFormat = LogFormat::Text;
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.level) {
            return bad("log.level", format!("{:?}", self.level), &e.to_string());
        }
        Ok(())
    }
}

//! `[http]`

use std::net::SocketAddr;
use std::path::PathBuf;

use super::section::{bad, section};
use super::{addr_list, all_addresses, ConfigError};

section! {
    /// `[http]`: the HTTP and HTTPS tracker.
    "http", pub struct HttpSection {
        /// Addresses for the HTTP tracker (/announce, /scrape, /health); [] disables HTTP.
        #[serde(deserialize_with = "addr_list")]
        listen: Vec<SocketAddr> = all_addresses(6969);
        /// Largest request line plus headers, bytes (1024..=65536); larger gets 431.
        max_request_bytes: usize = 8192, in 1024..=65_536;
        /// Most headers in one request (1..=64); more gets 431.
        max_headers: usize = 32, in 1..=64;
        /// Seconds a kept-alive connection may sit idle between requests.
        idle_timeout: u64 = 30, in 1..=3600 => "seconds";
        /// Seconds a client has to send a whole request once it started (slow clients are cut off).
        request_timeout: u64 = 10, in 1..=600 => "seconds";
        /// Most open connections; further ones are closed at once.
        max_connections: usize = 50_000;
        /// Most open connections from one IPv4 address or IPv6 /64, so one address cannot take
        /// them all; trusted_proxies are exempt (0 = no limit). Raise it for a big NAT.
        max_connections_per_ip: u32 = 256;
        /// Networks of reverse proxies (e.g. ["127.0.0.1/32", "10.0.0.0/8"]) whose
        /// X-Forwarded-For / X-Real-IP headers name the client. Others' headers are ignored.
        trusted_proxies: Vec<String> = Vec::new();
        /// Honour the announce "ip" parameter. Off: it lets anyone add third parties to swarms.
        allow_ip_param: bool = false;
        /// Most info-hashes answered per scrape; extra ones are ignored.
        max_scrape_hashes: usize = 100, in 1..=1000;
        /// Answer a scrape that names no info_hash with every torrent (can be large).
        full_scrape: bool = false;
        /// Seconds each client address must wait between full scrapes.
        full_scrape_interval: u32 = 600, in 1..=86_400 => "seconds";
        /// HTTPS listen addresses (e.g. ["0.0.0.0:443", "[::]:443"]); [] disables HTTPS.
        #[serde(deserialize_with = "addr_list")]
        tls_listen: Vec<SocketAddr> = Vec::new();
        /// PEM certificate chain (leaf first) for HTTPS. SIGHUP re-reads it and the key
        /// without dropping open connections.
        tls_cert: PathBuf = PathBuf::new();
        /// PEM private key for HTTPS (PKCS#8, PKCS#1 or SEC1).
        tls_key: PathBuf = PathBuf::new();
    }
}

impl HttpSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return bad("http.max_connections", 0, "must be at least 1");
        }
        for p in &self.trusted_proxies {
            if let Err(e) = p.parse::<shoal_http::Cidr>() {
                return bad("http.trusted_proxies", format!("{p:?}"), &e);
            }
        }
        if !self.tls_listen.is_empty() {
            for (key, path) in [
                ("http.tls_cert", &self.tls_cert),
                ("http.tls_key", &self.tls_key),
            ] {
                if path.as_os_str().is_empty() {
                    return bad(key, "\"\"", "required when http.tls_listen is set");
                }
            }
        }
        Ok(())
    }
}

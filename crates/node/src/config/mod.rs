//! shoal's configuration: one TOML file, `SHOAL_…` environment variables over it, and
//! command-line flags over both.
//!
//! Each section lives in its own file, declared with [`section::section!`]: a key is
//! written once, with its documentation, type, default and range, and the struct, its
//! defaults, its range checks and its part of the commented default file
//! ([`default_toml`]) all come from that one line. Checks relating several keys sit
//! beside the section they belong to; [`Config::validate`] runs them all.

pub mod section;

mod access_list;
mod accounts;
mod admin;
mod catalog;
mod cluster;
mod http;
mod limits;
mod log;
mod portal;
mod store;
mod tracker;
mod udp;
mod web;
mod webtorrent;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Serialized, Toml};
use figment::Figment;
use serde::Deserialize;

pub use access_list::{AccessListMode, AccessListSection, UdpReject};
pub use accounts::AccountsSection;
pub use admin::AdminSection;
pub use catalog::CatalogSection;
pub use cluster::ClusterSection;
pub use http::HttpSection;
pub use limits::{LimitsSection, DEFAULT_MAX_TORRENTS};
pub use log::{LogFormat, LogSection};
pub use portal::{PortalSection, PublishRole, Registration};
pub use store::StoreSection;
pub use tracker::{TrackerMode, TrackerSection};
pub use udp::UdpSection;
pub use web::WebSection;
pub use webtorrent::WebTorrentSection;

use section::{section, write_keys, Section};

section! {
    /// The whole configuration: top-level keys, then one table per section.
    "", pub struct Config {
        /// Directory for shoal's state (created if missing).
        data_dir: PathBuf = PathBuf::from("./shoal-data");
        /// Threads serving network traffic. 0 = one per CPU core.
        workers: usize = 0, in 0..=1024;
        /// When started as root (to bind ports below 1024): the user to become once every
        /// socket is bound and certificates are loaded. data_dir is handed to that user. Empty:
        /// keep running as started (a warning is logged for root).
        user: String = String::new();
        /// Logging.
        log: LogSection = LogSection::default();
        /// Swarm rules shared by every protocol.
        tracker: TrackerSection = TrackerSection::default();
        /// The UDP tracker.
        udp: UdpSection = UdpSection::default();
        /// The HTTP tracker.
        http: HttpSection = HttpSection::default();
        /// The admin API.
        admin: AdminSection = AdminSection::default();
        /// Which torrents are served.
        access_list: AccessListSection = AccessListSection::default();
        /// Limits against abuse.
        limits: LimitsSection = LimitsSection::default();
        /// Persistent state.
        store: StoreSection = StoreSection::default();
        /// The WebTorrent tracker (WebSocket on the HTTP listeners).
        webtorrent: WebTorrentSection = WebTorrentSection::default();
        /// The web UI.
        web: WebSection = WebSection::default();
        /// The catalog of torrents' names and files.
        catalog: CatalogSection = CatalogSection::default();
        /// Private mode's rules for accounts.
        accounts: AccountsSection = AccountsSection::default();
        /// The site's account pages.
        portal: PortalSection = PortalSection::default();
        /// This node among several sharing one store.
        cluster: ClusterSection = ClusterSection::default();
    }
}

/// The default configuration, documented: every key with its comment and default
/// value. Printed by `shoal config default`.
pub fn default_toml() -> String {
    let mut out = String::from(
        "# shoal configuration. Every key is optional; these are the defaults.\n\
         # Environment variables override the file: SHOAL_<KEY> for top-level keys and\n\
         # SHOAL_<SECTION>__<KEY> inside sections (e.g. SHOAL_UDP__BATCH_SIZE=64).\n\
         # Command-line flags (--udp, --http, --data-dir, --workers) override both.\n\n",
    );
    write_keys::<Config>(&mut out);
    write_keys::<LogSection>(&mut out);
    write_keys::<TrackerSection>(&mut out);
    write_keys::<UdpSection>(&mut out);
    write_keys::<HttpSection>(&mut out);
    write_keys::<AdminSection>(&mut out);
    write_keys::<AccessListSection>(&mut out);
    write_keys::<LimitsSection>(&mut out);
    write_keys::<StoreSection>(&mut out);
    write_keys::<WebTorrentSection>(&mut out);
    write_keys::<WebSection>(&mut out);
    write_keys::<CatalogSection>(&mut out);
    write_keys::<AccountsSection>(&mut out);
    write_keys::<PortalSection>(&mut out);
    write_keys::<ClusterSection>(&mut out);
    out
}

/// Socket addresses whose parse error quotes the bad value.
fn addr_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|s| {
            s.parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "{s:?} is not an address like 0.0.0.0:6969 or [::]:6969"
                ))
            })
        })
        .collect()
}

fn all_addresses(port: u16) -> Vec<SocketAddr> {
    vec![
        SocketAddr::from(([0, 0, 0, 0], port)),
        SocketAddr::from(([0u16; 8], port)),
    ]
}

/// A configuration problem: the key and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Loads defaults, then the file (if any), then `SHOAL_` environment variables.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_from(file, Env::prefixed("SHOAL_").split("__"))
}

fn load_from(file: Option<&Path>, env: Env) -> Result<Config, ConfigError> {
    use figment::providers::Format;
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "config file {}: not found or not a file",
                path.display()
            )));
        }
        fig = fig.merge(Toml::file(path));
    }
    fig = fig.merge(env);
    fig.extract::<Config>().map_err(describe)
}

fn describe(err: figment::Error) -> ConfigError {
    let e = err
        .into_iter()
        .next()
        .expect("an error has at least one part");
    let mut key = e.path.join(".");
    if let figment::error::Kind::UnknownField(field, _) = &e.kind {
        // Figment's path sometimes already ends with the unknown field.
        if e.path.last() != Some(field) {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(field);
        }
    }
    let source = e
        .metadata
        .as_ref()
        .and_then(|m| m.source.as_ref().map(|s| format!(" (in {s})")))
        .unwrap_or_default();
    let what = if SECRET_KEYS.contains(&key.as_str()) {
        // The value is a secret: say what is wrong without repeating it.
        "must be a string (value not shown; quote it, e.g. SHOAL_ADMIN__TOKEN='\"…\"')".to_owned()
    } else {
        one_line(&e.kind.to_string())
    };
    if key.is_empty() {
        ConfigError(format!("config: {what}{source}"))
    } else {
        ConfigError(format!("config key `{key}`: {what}{source}"))
    }
}

/// Keys whose values are secrets: never printed, never echoed in errors.
const SECRET_KEYS: [&str; 2] = ["admin.token", "udp.connection_id_secret"];

/// A parser message on one line: TOML syntax errors come with a multi-line source
/// snippet (`  |`, `1 | [udp`, `  |     ^`), which is dropped; the rest is joined.
fn one_line(text: &str) -> String {
    let is_snippet = |l: &str| {
        let t = l.trim_start();
        t.starts_with('|')
            || t.split_once('|')
                .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_snippet(l))
        .collect::<Vec<_>>()
        .join(": ")
}

impl Config {
    /// The config as TOML with secrets replaced by `<redacted>` (for `config show`).
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        let mut c = self.clone();
        if !c.admin.token.is_empty() {
            c.admin.token = "<redacted>".into();
        }
        if !c.udp.connection_id_secret.is_empty() {
            c.udp.connection_id_secret = "<redacted>".into();
        }
        c.store.url = crate::backend::redact_password(&c.store.url);
        for url in &mut c.cluster.nats {
            *url = crate::backend::redact_password(url);
        }
        if !c.catalog.torznab_key.is_empty() {
            c.catalog.torznab_key = "<redacted>".into();
        }
        toml::to_string(&c)
    }

    /// Checks what serde cannot: each key's range, then relations between keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_ranges()?;
        self.log.check_ranges()?;
        self.log.check()?;
        self.tracker.check_ranges()?;
        self.tracker.check()?;
        self.udp.check_ranges()?;
        self.udp.check()?;
        self.http.check_ranges()?;
        self.http.check()?;
        self.admin.check_ranges()?;
        self.admin.check()?;
        self.access_list.check_ranges()?;
        self.access_list.check()?;
        self.limits.check_ranges()?;
        self.limits.check()?;
        self.store.check_ranges()?;
        self.webtorrent.check_ranges()?;
        self.webtorrent.check()?;
        self.web.check_ranges()?;
        self.catalog.check_ranges()?;
        self.catalog.check()?;
        self.accounts.check()?;
        if self.tracker.mode == TrackerMode::Listed && self.access_list.mode == AccessListMode::Deny
        {
            return Err(ConfigError(
                "config key `access_list.mode` = \"deny\": a listed tracker (tracker.mode = \"listed\") serves only listed torrents; use \"allow\" or leave it \"off\"".into(),
            ));
        }
        self.portal.check_ranges()?;
        self.portal.check()?;
        self.cluster.check_ranges()?;
        self.cluster.check()?;
        if !self.cluster.nats.is_empty() && parse_secret(&self.udp.connection_id_secret).is_none() {
            return Err(ConfigError(
                "config key `cluster.nats` is set but `udp.connection_id_secret` is not: nodes sign what they share with a key derived from that secret, so every node needs the same one".into(),
            ));
        }
        Ok(())
    }

    /// Worker threads to run: the configured number, or one per core.
    pub fn effective_workers(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }

    /// The WebTorrent tracker's settings, or `None` when it is off.
    pub fn webtorrent(&self) -> Option<shoal_http::ws::WebTorrentConfig> {
        let w = &self.webtorrent;
        let secs = std::time::Duration::from_secs;
        w.enabled.then(|| shoal_http::ws::WebTorrentConfig {
            swarms: shoal_engine::webtorrent::WsConfig {
                announce_interval: w.announce_interval,
                peer_grace: w.peer_grace,
                max_torrents: w.max_torrents,
                max_peers: self.limits.max_peers,
                max_peers_per_torrent: w.max_peers_per_torrent,
                shards: 16,
            },
            max_message_bytes: w.max_message_bytes,
            max_offers: w.max_offers,
            max_queue_bytes: w.max_queue_bytes,
            max_connections_per_ip: w.max_connections_per_ip,
            max_torrents_per_connection: w.max_torrents_per_connection,
            ping_interval: secs(w.ping_interval),
            idle_timeout: secs(w.idle_timeout),
            offer_ttl: secs(w.offer_ttl),
            write_timeout: secs(w.write_timeout),
            max_scrape_hashes: self.http.max_scrape_hashes,
            full_scrape: self.http.full_scrape,
            full_scrape_interval: self.http.full_scrape_interval,
            ..Default::default()
        })
    }

    /// The HTTP front end's settings (after [`Config::validate`]).
    pub fn http(&self, workers: usize) -> shoal_http::HttpConfig {
        let h = &self.http;
        shoal_http::HttpConfig {
            listen: h.listen.clone(),
            workers,
            max_request_bytes: h.max_request_bytes,
            max_headers: h.max_headers,
            idle_timeout: std::time::Duration::from_secs(h.idle_timeout),
            request_timeout: std::time::Duration::from_secs(h.request_timeout),
            max_connections: h.max_connections,
            max_connections_per_ip: h.max_connections_per_ip,
            trusted_proxies: h
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect(),
            allow_ip_param: h.allow_ip_param,
            max_scrape_hashes: h.max_scrape_hashes,
            full_scrape: h.full_scrape,
            full_scrape_interval: h.full_scrape_interval,
            tracker: true,
            label: "http",
            tls: (!h.tls_listen.is_empty()).then(|| {
                (
                    h.tls_listen.clone(),
                    shoal_http::tls::TlsFiles {
                        cert: h.tls_cert.clone(),
                        key: h.tls_key.clone(),
                    },
                )
            }),
        }
    }

    /// The access-list mode in force: a listed tracker serves only listed torrents.
    pub fn access_mode(&self) -> AccessListMode {
        match self.tracker.mode {
            TrackerMode::Listed => AccessListMode::Allow,
            _ => self.access_list.mode,
        }
    }

    /// The engine's settings.
    pub fn engine(&self) -> shoal_engine::EngineConfig {
        shoal_engine::EngineConfig {
            announce_interval: self.tracker.announce_interval,
            peer_grace: self.tracker.peer_grace,
            default_numwant: self.tracker.default_numwant,
            max_numwant: self.tracker.max_numwant,
            shards: self.tracker.shards,
            store_peer_ids: self.tracker.store_peer_ids,
            max_torrents: self.limits.max_torrents,
            max_peers: self.limits.max_peers,
            max_peers_per_torrent: self.limits.max_peers_per_torrent,
            max_new_torrents_per_prefix_per_minute: self
                .limits
                .max_new_torrents_per_prefix_per_minute,
            max_dormant_torrents: self.limits.max_dormant_torrents,
            note_new_torrents: self.catalog.enabled,
            accounting: self.tracker.mode == TrackerMode::Private,
            max_upload_rate: self.accounts.max_upload_rate,
            replicate: !self.cluster.nats.is_empty(),
        }
    }
}

/// Parses a 32-hex-digit secret.
pub fn parse_secret(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;

//! shoal's configuration: one TOML file, `SHOAL_…` environment variables over it, and
//! command-line flags over both. [`DEFAULT_TOML`] is the documented default; a test
//! keeps it equal to [`Config::default`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where shoal keeps its state.
    pub data_dir: PathBuf,
    /// Threads serving network traffic; 0 = one per core.
    pub workers: usize,
    /// When started as root: the user to switch to once every socket is bound.
    pub user: String,
    /// Logging.
    pub log: LogConfig,
    /// Swarm rules shared by every protocol.
    pub tracker: TrackerConfig,
    /// The UDP tracker.
    pub udp: UdpSection,
    /// The HTTP tracker.
    pub http: HttpSection,
    /// The admin API.
    pub admin: AdminSection,
    /// Which torrents are served.
    pub access_list: AccessListSection,
    /// Limits against abuse.
    pub limits: LimitsSection,
    /// Persistent state.
    pub store: StoreSection,
    /// The WebTorrent tracker (WebSocket on the HTTP listeners).
    pub webtorrent: WebTorrentSection,
    /// The web UI.
    pub web: WebSection,
}

/// `[web]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSection {
    /// Serve the web UI at `/` on the HTTP/HTTPS tracker listeners.
    pub on_tracker_listener: bool,
    /// Extra listeners serving only the web UI and the JSON API (no tracker).
    pub listen: Vec<SocketAddr>,
}

impl Default for WebSection {
    fn default() -> Self {
        WebSection {
            on_tracker_listener: true,
            listen: Vec::new(),
        }
    }
}

/// `[webtorrent]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebTorrentSection {
    /// Accept WebSocket upgrades on `/announce` and `/` of the HTTP/HTTPS listeners.
    pub enabled: bool,
    /// Seconds between announces that WebTorrent clients are told.
    pub announce_interval: u32,
    /// Extra seconds before a silent peer is dropped.
    pub peer_grace: u32,
    /// Largest message or frame, bytes.
    pub max_message_bytes: usize,
    /// Most offers relayed from one announce.
    pub max_offers: usize,
    /// Bytes waiting to be written to one connection before it counts as a slow
    /// reader and is closed.
    pub max_queue_bytes: usize,
    /// Most WebSocket connections per IPv4 address or IPv6 /64 (0 = no limit).
    pub max_connections_per_ip: u32,
    /// Most torrents one connection may announce.
    pub max_torrents_per_connection: usize,
    /// Most WebTorrent torrents (0 = no limit).
    pub max_torrents: u64,
    /// Most peers in one WebTorrent swarm (0 = no limit).
    pub max_peers_per_torrent: u32,
    /// Seconds of silence before the server pings.
    pub ping_interval: u64,
    /// Seconds of silence before the connection is closed.
    pub idle_timeout: u64,
    /// Seconds a relayed offer may be answered.
    pub offer_ttl: u64,
    /// Seconds a write to a client may take before the connection is closed.
    pub write_timeout: u64,
}

impl Default for WebTorrentSection {
    fn default() -> Self {
        let w = shoal_http::ws::WebTorrentConfig::default();
        WebTorrentSection {
            enabled: true,
            announce_interval: w.swarms.announce_interval,
            peer_grace: w.swarms.peer_grace,
            max_message_bytes: w.max_message_bytes,
            max_offers: w.max_offers,
            max_queue_bytes: w.max_queue_bytes,
            max_connections_per_ip: w.max_connections_per_ip,
            max_torrents_per_connection: w.max_torrents_per_connection,
            max_torrents: w.swarms.max_torrents,
            max_peers_per_torrent: w.swarms.max_peers_per_torrent,
            ping_interval: w.ping_interval.as_secs(),
            idle_timeout: w.idle_timeout.as_secs(),
            offer_ttl: w.offer_ttl.as_secs(),
            write_timeout: w.write_timeout.as_secs(),
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// SQLite file; empty = `<data_dir>/shoal.sqlite`.
    pub path: PathBuf,
    /// Seconds between flushes of changed completed counts.
    pub flush_interval: u64,
    /// Seconds between stats samples for trends.
    pub sample_interval: u64,
    /// Days of samples kept.
    pub history_days: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: PathBuf::new(),
            flush_interval: 5,
            sample_interval: 60,
            history_days: 7,
        }
    }
}

/// The default `limits.max_torrents`: peerless torrents cost about 100 bytes each and a
/// full table with a few peers each stays within a few GiB (see BENCHMARKS.md).
pub const DEFAULT_MAX_TORRENTS: u64 = 2_000_000;

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Most torrents held (0 = no limit). The default bounds memory on a small box.
    pub max_torrents: u64,
    /// Most peers held over all torrents (0 = no limit).
    pub max_peers: u64,
    /// Most peers listed in one swarm per address family (0 = no limit).
    pub max_peers_per_torrent: u32,
    /// Most new torrents per minute from one IPv4 /24 or IPv6 /48 (0 = no limit); on
    /// by default so that one source cannot fill the table.
    pub max_new_torrents_per_prefix_per_minute: u32,
    /// UDP connects per second per source (0 = no limit).
    pub connect_rate: u32,
    /// Connect burst.
    pub connect_burst: u32,
    /// Announces per second per source (0 = no limit).
    pub announce_rate: u32,
    /// Announce burst.
    pub announce_burst: u32,
    /// Scrapes per second per source (0 = no limit).
    pub scrape_rate: u32,
    /// Scrape burst.
    pub scrape_burst: u32,
    /// Most sources tracked per limiter.
    pub max_tracked_sources: usize,
    /// Most completed counts of peerless torrents kept in memory (0 = no limit); past
    /// it, counts stay in the store and are read back when the torrent returns.
    pub max_dormant_torrents: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_torrents: DEFAULT_MAX_TORRENTS,
            max_peers: 0,
            max_peers_per_torrent: 0,
            max_new_torrents_per_prefix_per_minute: 300,
            connect_rate: 0,
            connect_burst: 20,
            announce_rate: 0,
            announce_burst: 20,
            scrape_rate: 0,
            scrape_burst: 20,
            max_tracked_sources: 1_000_000,
            max_dormant_torrents: 4_000_000,
        }
    }
}

/// `[access_list]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessListSection {
    /// `off`, `allow` (only listed torrents) or `deny` (listed torrents refused).
    pub mode: AccessListMode,
    /// File with one hex info-hash per line (`#` comments); empty = none.
    pub file: PathBuf,
    /// Seconds between checks of the file for changes.
    pub reload_interval: u64,
    /// UDP answer to a refused announce: `error` or `soft` (an empty swarm).
    pub udp_reject: UdpReject,
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

impl Default for AccessListSection {
    fn default() -> Self {
        AccessListSection {
            mode: AccessListMode::Off,
            file: PathBuf::new(),
            reload_interval: 5,
            udp_reject: UdpReject::Error,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Bearer token for `/api/admin/`; empty keeps the admin API closed.
    pub token: String,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `shoal_udp=debug,info`; RUST_LOG wins over it.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
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

/// `[tracker]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Seconds between announces that clients are told.
    pub announce_interval: u32,
    /// Seconds past the told interval before a silent peer is dropped.
    pub peer_grace: u32,
    /// Peers returned when a client does not say how many it wants.
    pub default_numwant: u32,
    /// Most peers in one response.
    pub max_numwant: u32,
    /// Independently locked swarm shards (a power of two).
    pub shards: usize,
    /// Seconds between sweeps that drop expired peers.
    pub purge_interval: u32,
    /// Keep peer ids so non-compact HTTP answers carry `peer id` (20 bytes per peer).
    pub store_peer_ids: bool,
    /// Write the swarms to the data dir on graceful shutdown and restore them at start.
    pub snapshot: bool,
}

/// `[udp]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UdpSection {
    /// Addresses to listen on; empty disables UDP.
    #[serde(deserialize_with = "addr_list")]
    pub listen: Vec<SocketAddr>,
    /// Datagrams per recvmmsg/sendmmsg call.
    pub batch_size: usize,
    /// Kernel receive buffer per socket in bytes; 0 keeps the system default.
    pub recv_buffer_bytes: usize,
    /// Most info-hashes answered per scrape (at most 74).
    pub max_scrape_hashes: usize,
    /// Seconds a connection id is accepted (at least 120).
    pub connection_id_max_age: u64,
    /// Seconds between connection-id key rotations.
    pub connection_id_rotation: u64,
    /// 32 hex digits shared by nodes that accept each other's connection ids; empty =
    /// a random secret per start.
    pub connection_id_secret: String,
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Addresses to listen on; empty disables HTTP.
    #[serde(deserialize_with = "addr_list")]
    pub listen: Vec<SocketAddr>,
    /// Largest request head in bytes.
    pub max_request_bytes: usize,
    /// Most headers per request.
    pub max_headers: usize,
    /// Seconds an idle kept-alive connection stays open.
    pub idle_timeout: u64,
    /// Seconds a client has to finish sending a request.
    pub request_timeout: u64,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one IPv4 address or IPv6 /64 (0 = no limit).
    pub max_connections_per_ip: u32,
    /// Networks of reverse proxies whose X-Forwarded-For / X-Real-IP are believed.
    pub trusted_proxies: Vec<String>,
    /// Honour the announce `ip` parameter.
    pub allow_ip_param: bool,
    /// Most info-hashes answered per scrape.
    pub max_scrape_hashes: usize,
    /// Answer a scrape naming no info-hash with every torrent.
    pub full_scrape: bool,
    /// Seconds a client must wait between full scrapes.
    pub full_scrape_interval: u32,
    /// HTTPS listen addresses; empty disables HTTPS.
    #[serde(deserialize_with = "addr_list")]
    pub tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: PathBuf,
    /// PEM private key for HTTPS.
    pub tls_key: PathBuf,
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

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./shoal-data"),
            workers: 0,
            user: String::new(),
            log: LogConfig::default(),
            tracker: TrackerConfig::default(),
            udp: UdpSection::default(),
            http: HttpSection::default(),
            admin: AdminSection::default(),
            access_list: AccessListSection::default(),
            limits: LimitsSection::default(),
            store: StoreSection::default(),
            webtorrent: WebTorrentSection::default(),
            web: WebSection::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        let e = shoal_engine::EngineConfig::default();
        TrackerConfig {
            announce_interval: e.announce_interval,
            peer_grace: e.peer_grace,
            default_numwant: e.default_numwant,
            max_numwant: e.max_numwant,
            shards: e.shards,
            purge_interval: 30,
            store_peer_ids: e.store_peer_ids,
            snapshot: true,
        }
    }
}

impl Default for UdpSection {
    fn default() -> Self {
        UdpSection {
            listen: all_addresses(6969),
            batch_size: 32,
            recv_buffer_bytes: 8 << 20,
            max_scrape_hashes: 74,
            connection_id_max_age: 120,
            connection_id_rotation: 600,
            connection_id_secret: String::new(),
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: all_addresses(6969),
            max_request_bytes: 8192,
            max_headers: 32,
            idle_timeout: 30,
            request_timeout: 10,
            max_connections: 50_000,
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            allow_ip_param: false,
            max_scrape_hashes: 100,
            full_scrape: false,
            full_scrape_interval: 600,
            tls_listen: Vec::new(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
        }
    }
}

/// The default configuration, documented. Printed by `shoal config default`.
pub const DEFAULT_TOML: &str = r#"# shoal configuration. Every key is optional; these are the defaults.
# Environment variables override the file: SHOAL_<KEY> for top-level keys and
# SHOAL_<SECTION>__<KEY> inside sections (e.g. SHOAL_UDP__BATCH_SIZE=64).
# Command-line flags (--udp, --http, --data-dir, --workers) override both.

# Directory for shoal's state (created if missing).
data_dir = "./shoal-data"

# Threads serving network traffic. 0 = one per CPU core.
workers = 0

# When started as root (to bind ports below 1024): the user to become once every
# socket is bound and certificates are loaded. data_dir is handed to that user. Empty:
# keep running as started (a warning is logged for root).
user = ""

[log]
# Tracing filter: "error", "warn", "info", "debug", "trace", or per-crate such as
# "shoal_udp=debug,info". The RUST_LOG environment variable takes precedence.
level = "info"
# "text" for humans, "json" for log collectors.
format = "text"

[tracker]
# Seconds between announces that clients are told.
announce_interval = 1800
# Extra seconds a peer is kept past the interval it was told, so a client that
# announces a little late is never dropped.
peer_grace = 300
# Peers returned when the client does not say how many it wants.
default_numwant = 50
# Most peers returned in one response, whatever the client asks (1..=500).
max_numwant = 200
# Independently locked swarm shards; more shards mean less lock contention.
shards = 64
# Seconds between sweeps that drop expired peers.
purge_interval = 30
# Keep each peer's id so HTTP clients asking for non-compact lists (compact=0) get
# "peer id" in every entry. Costs 20 bytes per peer; without it those entries carry
# only ip and port (almost every client asks for compact lists).
store_peer_ids = false
# Write the live swarms to <data_dir>/swarms.snapshot on graceful shutdown and load
# them at start, so peers announcing right after a restart still find each other.
# The file is removed once loaded, and loaded only at the first start after the
# shutdown that wrote it (the store records it); any other is set aside as
# swarms.snapshot.stale, a damaged one as swarms.snapshot.bad.
snapshot = true

[udp]
# Addresses to listen on (IPv4 "0.0.0.0:6969", IPv6 "[::]:6969"); [] disables UDP.
# An unspecified IPv6 address is dual-stack unless an IPv4 listener shares its port.
listen = ["0.0.0.0:6969", "[::]:6969"]
# Datagrams received and sent per system call (recvmmsg/sendmmsg), 1..=1024.
batch_size = 32
# Kernel receive buffer per socket, bytes; 0 keeps the system default. The kernel
# caps it at net.core.rmem_max: raise that sysctl for busy trackers.
recv_buffer_bytes = 8388608
# Most info-hashes answered per scrape request (1..=74); extra hashes are ignored.
max_scrape_hashes = 74
# Seconds a connection id is accepted after it was issued (120..=3600).
connection_id_max_age = 120
# Seconds between connection-id key rotations (at least connection_id_max_age).
connection_id_rotation = 600
# 32 hex digits. Nodes with the same secret accept each other's connection ids.
# Empty: a random secret each start.
connection_id_secret = ""

[http]
# Addresses for the HTTP tracker (/announce, /scrape, /health); [] disables HTTP.
listen = ["0.0.0.0:6969", "[::]:6969"]
# Largest request line plus headers, bytes (1024..=65536); larger gets 431.
max_request_bytes = 8192
# Most headers in one request (1..=64); more gets 431.
max_headers = 32
# Seconds a kept-alive connection may sit idle between requests.
idle_timeout = 30
# Seconds a client has to send a whole request once it started (slow clients are cut off).
request_timeout = 10
# Most open connections; further ones are closed at once.
max_connections = 50000
# Most open connections from one IPv4 address or IPv6 /64, so one address cannot take
# them all; trusted_proxies are exempt (0 = no limit). Raise it for a big NAT.
max_connections_per_ip = 256
# Networks of reverse proxies (e.g. ["127.0.0.1/32", "10.0.0.0/8"]) whose
# X-Forwarded-For / X-Real-IP headers name the client. Others' headers are ignored.
trusted_proxies = []
# Honour the announce "ip" parameter. Off: it lets anyone add third parties to swarms.
allow_ip_param = false
# Most info-hashes answered per scrape; extra ones are ignored.
max_scrape_hashes = 100
# Answer a scrape that names no info_hash with every torrent (can be large).
full_scrape = false
# Seconds each client address must wait between full scrapes.
full_scrape_interval = 600
# HTTPS listen addresses (e.g. ["0.0.0.0:443", "[::]:443"]); [] disables HTTPS.
tls_listen = []
# PEM certificate chain (leaf first) for HTTPS. SIGHUP re-reads it and the key
# without dropping open connections.
tls_cert = ""
# PEM private key for HTTPS (PKCS#8, PKCS#1 or SEC1).
tls_key = ""

[admin]
# Bearer token for the admin API under /api/admin/ (Authorization: Bearer <token>).
# Empty: the admin API is closed and every call gets 401. Prefer SHOAL_ADMIN__TOKEN
# over writing it here; it is never logged.
token = ""

[access_list]
# "off": every torrent is served; "allow": only listed torrents; "deny": listed torrents
# are refused. The list is the file below plus entries added through the admin API
# (POST /api/admin/access-list), which are kept in the store (shoal.sqlite).
mode = "off"
# One 40-digit hex info-hash per line; text after a hash sign is a comment. Checked every
# reload_interval seconds and on SIGHUP; bad lines are reported with their numbers.
file = ""
# Seconds between checks of the file (1..=3600).
reload_interval = 5
# How UDP answers a refused announce: "error" (a small error packet) or "soft" (an
# announce reply with no peers, for clients that retry errors aggressively).
udp_reject = "error"

[limits]
# Bounds on memory; 0 means no limit. A refused new torrent gets an error; a peer over
# a swarm or total limit still gets peers but is not listed. The default torrent limit
# keeps memory bounded on a small box; raise it on a big one.
max_torrents = 2000000
# Most peers held over all torrents (0 = no limit).
max_peers = 0
# Most peers listed in one swarm, per address family (0 = no limit).
max_peers_per_torrent = 0
# Most new torrents one IPv4 /24 or IPv6 /48 may create per minute (0 = no limit).
# Announces to torrents the tracker already has are not counted.
max_new_torrents_per_prefix_per_minute = 300
# Token buckets per source (an IPv4 address or an IPv6 /64): requests per second and
# burst, per kind of request. 0 turns a limit off; mind carrier-grade NAT, where many
# users share one address. Over-limit UDP requests are dropped silently; HTTP ones get
# a failure reason.
connect_rate = 0
# Burst of UDP connects.
connect_burst = 20
# Announces per second per source (0 = no limit).
announce_rate = 0
# Burst of announces.
announce_burst = 20
# Scrapes per second per source (0 = no limit).
scrape_rate = 0
# Burst of scrapes.
scrape_burst = 20
# Most sources each limiter tracks; idle ones are forgotten (bounds memory).
max_tracked_sources = 1000000
# A torrent whose peers have all left keeps only its completed count, in a compact
# table (about 32 bytes each). Past this many, the oldest counts stay in the store only
# and are read back (within a second, off the request path) when the torrent is
# announced or scraped again; until then a scrape of it may say 0 completed.
max_dormant_torrents = 4000000

[store]
# SQLite file for state that must survive a crash (completed counts, stats history).
# Empty: <data_dir>/shoal.sqlite. Created when missing; a file there that is not a
# shoal store (empty, not SQLite, another program's database) stops the start.
path = ""
# Seconds between batched writes of changed completed counts (1..=5). A kill -9 loses
# at most this much; what was written is never lost.
flush_interval = 5
# Seconds between samples of the tracker's totals, for /api/trends.
sample_interval = 60
# Days of samples kept.
history_days = 7

[webtorrent]
# WebTorrent tracker: browsers and WebTorrent clients connect with WebSocket to
# ws://host/announce (wss:// on the HTTPS listeners) and the tracker relays their WebRTC
# offers and answers. Its swarms are apart from UDP/HTTP ones (browsers cannot dial
# TCP/UDP peers).
enabled = true
# Seconds between announces that WebTorrent clients are told.
announce_interval = 120
# Extra seconds before a peer that stopped announcing is dropped (closing the
# connection drops it at once).
peer_grace = 60
# Largest message or frame, bytes; a larger one closes the connection (code 1009).
max_message_bytes = 65536
# Most offers relayed from one announce; more are ignored.
max_offers = 10
# Bytes of relayed messages waiting to be written to one connection; past that it is a
# slow reader and is closed.
max_queue_bytes = 262144
# Most WebSocket connections per IPv4 address or IPv6 /64 (0 = no limit).
max_connections_per_ip = 64
# Most torrents one connection may announce.
max_torrents_per_connection = 1000
# Most WebTorrent torrents (0 = no limit).
max_torrents = 0
# Most peers in one WebTorrent swarm (0 = no limit).
max_peers_per_torrent = 0
# Seconds of silence before the server pings the client.
ping_interval = 60
# Seconds of silence (no message, no pong) before the connection is closed.
idle_timeout = 180
# Seconds a relayed offer may be answered.
offer_ttl = 60
# Seconds a write to a client may take; a client that does not read is closed.
write_timeout = 10

[web]
# The web UI (dashboard): overview, trends, top torrents, clients. Serve it at / on the
# HTTP/HTTPS tracker listeners.
on_tracker_listener = true
# Extra listeners serving only the web UI and the JSON API, no tracker endpoints: for
# example ["127.0.0.1:8080"] behind an authenticating proxy. Empty: none.
listen = []
"#;

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
        toml::to_string(&c)
    }

    /// Checks values serde cannot: ranges and relations between keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn bad(key: &str, value: impl std::fmt::Display, why: &str) -> Result<(), ConfigError> {
            Err(ConfigError(format!("config key `{key}` = {value}: {why}")))
        }
        let t = &self.tracker;
        if !(1..=86_400).contains(&t.announce_interval) {
            return bad(
                "tracker.announce_interval",
                t.announce_interval,
                "must be 1..=86400 seconds",
            );
        }
        if !(1..=500).contains(&t.max_numwant) {
            return bad("tracker.max_numwant", t.max_numwant, "must be 1..=500");
        }
        if t.default_numwant > t.max_numwant {
            return bad(
                "tracker.default_numwant",
                t.default_numwant,
                "must not exceed tracker.max_numwant",
            );
        }
        if !(1..=65_536).contains(&t.shards) || !t.shards.is_power_of_two() {
            return bad(
                "tracker.shards",
                t.shards,
                "must be a power of two in 1..=65536",
            );
        }
        if !(1..=3600).contains(&t.purge_interval) {
            return bad(
                "tracker.purge_interval",
                t.purge_interval,
                "must be 1..=3600 seconds",
            );
        }
        let w = &self.webtorrent;
        if !(10..=86_400).contains(&w.announce_interval) {
            return bad(
                "webtorrent.announce_interval",
                w.announce_interval,
                "must be 10..=86400 seconds",
            );
        }
        if !(1024..=1 << 20).contains(&w.max_message_bytes) {
            return bad(
                "webtorrent.max_message_bytes",
                w.max_message_bytes,
                "must be 1024..=1048576",
            );
        }
        if !(1..=100).contains(&w.max_offers) {
            return bad("webtorrent.max_offers", w.max_offers, "must be 1..=100");
        }
        if w.max_queue_bytes < w.max_message_bytes {
            return bad(
                "webtorrent.max_queue_bytes",
                w.max_queue_bytes,
                "must be at least webtorrent.max_message_bytes",
            );
        }
        if !(1..=100_000).contains(&w.max_torrents_per_connection) {
            return bad(
                "webtorrent.max_torrents_per_connection",
                w.max_torrents_per_connection,
                "must be 1..=100000",
            );
        }
        if !(1..=3600).contains(&w.ping_interval) {
            return bad(
                "webtorrent.ping_interval",
                w.ping_interval,
                "must be 1..=3600 seconds",
            );
        }
        if w.idle_timeout <= w.ping_interval {
            return bad(
                "webtorrent.idle_timeout",
                w.idle_timeout,
                "must be longer than webtorrent.ping_interval",
            );
        }
        if !(1..=600).contains(&w.offer_ttl) {
            return bad(
                "webtorrent.offer_ttl",
                w.offer_ttl,
                "must be 1..=600 seconds",
            );
        }
        if !(1..=300).contains(&w.write_timeout) {
            return bad(
                "webtorrent.write_timeout",
                w.write_timeout,
                "must be 1..=300 seconds",
            );
        }
        let u = &self.udp;
        if !(1..=1024).contains(&u.batch_size) {
            return bad("udp.batch_size", u.batch_size, "must be 1..=1024");
        }
        if !(1..=74).contains(&u.max_scrape_hashes) {
            return bad(
                "udp.max_scrape_hashes",
                u.max_scrape_hashes,
                "must be 1..=74",
            );
        }
        if !(120..=3600).contains(&u.connection_id_max_age) {
            return bad(
                "udp.connection_id_max_age",
                u.connection_id_max_age,
                "must be 120..=3600 seconds (clients reuse an id for up to two minutes)",
            );
        }
        if u.connection_id_rotation < u.connection_id_max_age {
            return bad(
                "udp.connection_id_rotation",
                u.connection_id_rotation,
                "must be at least udp.connection_id_max_age",
            );
        }
        if !u.connection_id_secret.is_empty() && parse_secret(&u.connection_id_secret).is_none() {
            return bad(
                "udp.connection_id_secret",
                "(hidden)",
                "must be empty or 32 hex digits",
            );
        }
        let h = &self.http;
        if !(1024..=65_536).contains(&h.max_request_bytes) {
            return bad(
                "http.max_request_bytes",
                h.max_request_bytes,
                "must be 1024..=65536",
            );
        }
        if !(1..=64).contains(&h.max_headers) {
            return bad("http.max_headers", h.max_headers, "must be 1..=64");
        }
        if !(1..=3600).contains(&h.idle_timeout) {
            return bad(
                "http.idle_timeout",
                h.idle_timeout,
                "must be 1..=3600 seconds",
            );
        }
        if !(1..=600).contains(&h.request_timeout) {
            return bad(
                "http.request_timeout",
                h.request_timeout,
                "must be 1..=600 seconds",
            );
        }
        if h.max_connections == 0 {
            return bad("http.max_connections", 0, "must be at least 1");
        }
        if !(1..=1000).contains(&h.max_scrape_hashes) {
            return bad(
                "http.max_scrape_hashes",
                h.max_scrape_hashes,
                "must be 1..=1000",
            );
        }
        if !(1..=86_400).contains(&h.full_scrape_interval) {
            return bad(
                "http.full_scrape_interval",
                h.full_scrape_interval,
                "must be 1..=86400 seconds",
            );
        }
        for p in &h.trusted_proxies {
            if let Err(e) = p.parse::<shoal_http::Cidr>() {
                return bad("http.trusted_proxies", format!("{p:?}"), &e);
            }
        }
        if !h.tls_listen.is_empty() {
            if h.tls_cert.as_os_str().is_empty() {
                return bad(
                    "http.tls_cert",
                    "\"\"",
                    "required when http.tls_listen is set",
                );
            }
            if h.tls_key.as_os_str().is_empty() {
                return bad(
                    "http.tls_key",
                    "\"\"",
                    "required when http.tls_listen is set",
                );
            }
        }
        if !self.admin.token.is_empty() && self.admin.token.len() < 16 {
            return bad("admin.token", "(hidden)", "must be at least 16 characters");
        }
        if !(1..=3600).contains(&self.access_list.reload_interval) {
            return bad(
                "access_list.reload_interval",
                self.access_list.reload_interval,
                "must be 1..=3600 seconds",
            );
        }
        if !self.access_list.file.as_os_str().is_empty() && !self.access_list.file.is_file() {
            return bad(
                "access_list.file",
                format!("{:?}", self.access_list.file.display().to_string()),
                "is not a readable file",
            );
        }
        let l = &self.limits;
        for (key, rate, burst) in [
            ("limits.connect_burst", l.connect_rate, l.connect_burst),
            ("limits.announce_burst", l.announce_rate, l.announce_burst),
            ("limits.scrape_burst", l.scrape_rate, l.scrape_burst),
        ] {
            if rate > 0 && burst == 0 {
                return bad(key, 0, "must be at least 1 when its rate is set");
            }
        }
        if l.max_tracked_sources < 1024 {
            return bad(
                "limits.max_tracked_sources",
                l.max_tracked_sources,
                "must be at least 1024",
            );
        }
        if !(1..=5).contains(&self.store.flush_interval) {
            return bad(
                "store.flush_interval",
                self.store.flush_interval,
                "must be 1..=5 seconds",
            );
        }
        if !(1..=3600).contains(&self.store.sample_interval) {
            return bad(
                "store.sample_interval",
                self.store.sample_interval,
                "must be 1..=3600 seconds",
            );
        }
        if !(1..=366).contains(&self.store.history_days) {
            return bad(
                "store.history_days",
                self.store.history_days,
                "must be 1..=366",
            );
        }
        if self.workers > 1024 {
            return bad("workers", self.workers, "must be 0 (one per core) to 1024");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return bad("log.level", format!("{:?}", self.log.level), &e.to_string());
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
mod tests {
    use super::*;

    fn no_env() -> Env {
        Env::prefixed("SHOAL_TEST_NEVER_SET_").split("__")
    }

    #[test]
    fn default_toml_parses_to_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        Config::default().validate().unwrap();
    }

    #[test]
    fn default_toml_documents_every_key() {
        let documented: toml::Value = toml::from_str(DEFAULT_TOML).unwrap();
        let actual = toml::Value::try_from(Config::default()).unwrap();
        fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    let k = format!("{prefix}{k}");
                    keys(v, &format!("{k}."), out);
                    out.push(k);
                }
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        keys(&documented, "", &mut a);
        keys(&actual, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
        // Every key has a comment line right above it or above its section.
        for line in DEFAULT_TOML.lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, _)) = line.split_once(" = ") {
                // The line itself, not a longer key ending the same way.
                let pos = DEFAULT_TOML.find(&format!("\n{line}\n")).unwrap() + 1;
                let before = DEFAULT_TOML[..pos].trim_end().lines().last().unwrap_or("");
                assert!(before.starts_with('#'), "key {k} has no comment");
            }
        }
    }

    #[test]
    fn file_values_and_errors_name_the_key() {
        let dir = std::env::temp_dir().join(format!("shoal-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "workers = 3\n[udp]\nbatch_size = 8\n").unwrap();
        let c = load_from(Some(&path), no_env()).unwrap();
        assert_eq!((c.workers, c.udp.batch_size), (3, 8));

        std::fs::write(&path, "[udp]\nbatch_size = \"many\"\n").unwrap();
        let e = load_from(Some(&path), no_env()).unwrap_err().0;
        assert!(e.contains("udp.batch_size") && e.contains("many"), "{e}");

        std::fs::write(&path, "[udp]\nbatch_sise = 3\n").unwrap();
        let e = load_from(Some(&path), no_env()).unwrap_err().0;
        assert!(e.contains("udp.batch_sise"), "{e}");

        std::fs::write(&path, "[udp]\nlisten = [\"nowhere\"]\n").unwrap();
        let e = load_from(Some(&path), no_env()).unwrap_err().0;
        assert!(e.contains("udp.listen") && e.contains("nowhere"), "{e}");

        let e = load_from(Some(&dir.join("missing.toml")), no_env())
            .unwrap_err()
            .0;
        assert!(e.contains("missing.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn validation_names_key_and_value() {
        let mut c = Config::default();
        c.udp.connection_id_max_age = 60;
        let e = c.validate().unwrap_err().0;
        assert!(
            e.contains("udp.connection_id_max_age") && e.contains("60"),
            "{e}"
        );
        let mut c = Config::default();
        c.tracker.default_numwant = 999;
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .contains("tracker.default_numwant"));
        let mut c = Config::default();
        c.tracker.shards = 3;
        assert!(c.validate().unwrap_err().0.contains("tracker.shards"));
        let mut c = Config::default();
        c.http.trusted_proxies = vec!["10.0.0.0/99".into()];
        let e = c.validate().unwrap_err().0;
        assert!(
            e.contains("http.trusted_proxies") && e.contains("10.0.0.0/99"),
            "{e}"
        );
        let mut c = Config::default();
        c.udp.connection_id_secret = "abc".into();
        let e = c.validate().unwrap_err().0;
        assert!(
            e.contains("udp.connection_id_secret") && !e.contains("abc"),
            "secret not echoed: {e}"
        );
    }

    #[test]
    fn secrets_parse() {
        assert_eq!(
            parse_secret("000102030405060708090a0b0c0d0e0f").unwrap()[15],
            15
        );
        assert!(parse_secret("zz0102030405060708090a0b0c0d0e0f").is_none());
        assert!(parse_secret("+f0102030405060708090a0b0c0d0e0f").is_none());
    }
}

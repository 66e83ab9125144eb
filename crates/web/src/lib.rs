//! shoal's web UI: server-rendered HTML pages with a little CSS and a little
//! JavaScript (the pages work without it; with it the overview refreshes live).
//!
//! The crate knows nothing of sockets or the tracker's internals: the server hands it
//! a [`Request`] and a [`Source`] of figures, and gets back a status, headers and a
//! body. Pages are written with `maud` (compile-time templates that escape every
//! interpolated string); every user-visible string comes from the translation files
//! in `i18n/` ([`i18n`]); charts are SVG written on the server ([`svg`]). Static assets
//! are embedded in the binary and served with cache headers.
//!
//! Pages: the overview `/` (figures, a search box, the newest catalog entries, a day's
//! chart, top torrents), `/trends`, `/torrents`, `/clients`, the catalog `/catalog`
//! (a GET form; results with the matched words marked, paged), and a torrent's page
//! `/torrent/<hex>` (its file tree as nested `<details>`, paged for large torrents)
//! with its `.torrent` file at `/torrent/<hex>.torrent`. Private-mode pages belong
//! here too, on the same layout and style.
#![deny(missing_docs)]

mod catalog;
mod feeds;
pub mod i18n;
pub mod svg;
pub mod tree;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use i18n::{Catalog, Lang};
pub use shoal_search::request::{Hit, Results, SearchError, SearchRequest};

/// Tracker-wide figures for the overview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// Torrents (UDP/HTTP swarms).
    pub torrents: u64,
    /// WebTorrent swarms.
    pub webtorrent_torrents: u64,
    /// Peers over every protocol.
    pub peers: u64,
    /// Seeders over every protocol.
    pub seeders: u64,
    /// Leechers over every protocol.
    pub leechers: u64,
    /// Completed downloads counted over all torrents.
    pub completed: u64,
    /// Requests per second: UDP, HTTP, WebTorrent.
    pub rates: [f64; 3],
    /// Peers by network: IPv4, IPv6 (outside Yggdrasil), Yggdrasil (0200::/7),
    /// WebRTC (WebTorrent).
    pub networks: [u64; 4],
    /// Seconds since start.
    pub uptime: u64,
    /// shoal's version.
    pub version: String,
    /// The nodes, when this one is one of several (`[cluster] nats`).
    pub cluster: Option<ClusterOverview>,
}

/// The cluster on the overview: every node's own figures as last heard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOverview {
    /// Whether this node reaches NATS now.
    pub connected: bool,
    /// Each node, by name.
    pub nodes: Vec<NodeRow>,
}

/// One node of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRow {
    /// Its name.
    pub name: String,
    /// This node.
    pub this: bool,
    /// Heard from lately (silent nodes are not in the totals).
    pub live: bool,
    /// Peers that announced to it.
    pub peers: u64,
    /// Announces it answered since it started.
    pub announces: u64,
    /// Seconds since it was last heard.
    pub heard_secs: u64,
}

/// One sample of the tracker's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Unix seconds.
    pub at: u64,
    /// Torrents.
    pub torrents: u64,
    /// Peers.
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
}

/// One torrent's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentRow {
    /// The info-hash.
    pub info_hash: [u8; 20],
    /// Seeders.
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
    /// Leechers downloading now (not paused).
    pub downloaders: u32,
    /// Completed downloads.
    pub completed: u64,
    /// The torrent's name, when the catalog knows it.
    pub name: Option<String>,
    /// Bytes in its files, when the catalog knows them.
    pub size: Option<u64>,
}

/// What the catalog knows of a torrent, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentMeta {
    /// The torrent's name.
    pub name: String,
    /// The full v2 (SHA-256) info-hash of a v2 or hybrid torrent.
    pub info_hash_v2: Option<[u8; 32]>,
    /// What it mostly holds (by its files' extensions).
    pub category: shoal_search::category::Category,
    /// Unix seconds the tracker first saw it.
    pub first_seen: u64,
    /// Bytes in its files.
    pub size: u64,
    /// Bytes per piece.
    pub piece_length: u64,
    /// The BEP 27 private flag.
    pub private: bool,
    /// Files (padding excluded).
    pub file_count: u64,
    /// Every file: path (components joined with `/`) and size.
    pub files: Vec<(String, u64)>,
    /// Who published it on the site, when it was uploaded.
    pub upload: Option<UploadInfo>,
}

/// A torrent's content preview as its page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// Images: shown as thumbnails linking to their full-size copies.
    pub images: Vec<PreviewImage>,
    /// Texts, decoded.
    pub texts: Vec<PreviewText>,
}

/// An image of a [`Preview`]; its copies are at `/preview/<sha256>/thumb.png` and
/// `/preview/<sha256>/full.png`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewImage {
    /// Its path in the torrent.
    pub path: String,
    /// SHA-256 of the original, hex.
    pub sha256: String,
    /// The original's dimensions.
    pub width: u32,
    /// The original's height.
    pub height: u32,
}

/// A text of a [`Preview`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewText {
    /// Its path in the torrent.
    pub path: String,
    /// SHA-256 of the original, hex (`/preview/<sha256>/text.txt` serves it).
    pub sha256: String,
    /// The encoding it was decoded from.
    pub encoding: String,
    /// Whether it was cut at the size cap.
    pub truncated: bool,
    /// The text.
    pub text: String,
}

/// What the site knows of an uploaded torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The uploader's name.
    pub uploader: String,
    /// The uploader's description (plain text).
    pub description: String,
    /// Downloads on it are not counted.
    pub freeleech: bool,
}

/// Files per page of a torrent's file tree (`?files_page=`).
pub const FILES_PER_PAGE: usize = 500;

/// Newest catalog entries on the overview.
pub const RECENT_SHOWN: usize = 10;

/// Top torrents on the overview.
pub const TOP_SHOWN: usize = 5;

/// One sample of a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmPoint {
    /// Unix seconds.
    pub at: u64,
    /// Seeders.
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
}

/// How the top-torrents table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Seeders + leechers.
    Peers,
    /// Seeders.
    Seeders,
    /// Leechers.
    Leechers,
    /// Completed downloads.
    Completed,
}

impl Sort {
    const ALL: [Sort; 4] = [Sort::Peers, Sort::Seeders, Sort::Leechers, Sort::Completed];

    fn key(self) -> &'static str {
        match self {
            Sort::Peers => "peers",
            Sort::Seeders => "seeders",
            Sort::Leechers => "leechers",
            Sort::Completed => "completed",
        }
    }
}

/// Where the pages get their figures (implemented by the server).
pub trait Source: Send + Sync {
    /// Tracker-wide figures.
    fn overview(&self) -> Overview;
    /// Samples of the last `secs` seconds, oldest first.
    fn history(&self, secs: u64) -> Vec<Point>;
    /// The top `limit` torrents by `sort`.
    fn top(&self, sort: Sort, limit: usize) -> Vec<TorrentRow>;
    /// One torrent, if the tracker knows it.
    fn torrent(&self, info_hash: &[u8; 20]) -> Option<TorrentRow>;
    /// A swarm's samples, oldest first (empty when it was not sampled).
    fn swarm_history(&self, info_hash: &[u8; 20]) -> Vec<SwarmPoint>;
    /// Peers per client name, largest first.
    fn clients(&self) -> Vec<(String, u64)>;
    /// What the catalog knows of a torrent (name, size, files), if anything.
    fn metadata(&self, info_hash: &[u8; 20]) -> Option<TorrentMeta> {
        let _ = info_hash;
        None
    }
    /// Searches the catalog (see [`shoal_search::request`]); live counts come filled in.
    fn search(&self, req: &SearchRequest) -> Result<Results, SearchError> {
        let _ = req;
        Err(SearchError::Unavailable("the catalog is off".into()))
    }
    /// The `.torrent` file of a catalog entry: its stored info dictionary with
    /// `announce` as the announce URLs (`announce-list` when more than one).
    fn torrent_file(&self, info_hash: &[u8; 20], announce: &[String]) -> Option<Vec<u8>> {
        let _ = (info_hash, announce);
        None
    }
    /// The lengths of the `.torrent` files [`Source::torrent_file`] would give for
    /// these torrents (a feed's enclosures), in order; `None` for one not in the catalog.
    fn torrent_file_lengths(
        &self,
        info_hashes: &[[u8; 20]],
        announce: &[String],
    ) -> Vec<Option<u64>> {
        info_hashes
            .iter()
            .map(|h| self.torrent_file(h, announce).map(|f| f.len() as u64))
            .collect()
    }
    /// This tracker's announce URLs as a client reaching the web UI at `host` (the
    /// request's `Host` header, already checked to be a plain host name) would use them.
    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        host.map(|h| vec![format!("http://{h}/announce")])
            .unwrap_or_default()
    }
    /// The key Torznab clients must send as `apikey`, when one is set.
    fn torznab_key(&self) -> Option<String> {
        None
    }
    /// A torrent's content preview, when the preview is on and has one.
    fn preview(&self, info_hash: &[u8; 20]) -> Option<Preview> {
        let _ = info_hash;
        None
    }
    /// The bytes of a preview file's shown form (`thumb.png`, `full.png`, `text.txt`).
    fn preview_file(&self, sha256: &[u8; 32], variant: &str) -> Option<Vec<u8>> {
        let _ = (sha256, variant);
        None
    }
}

/// What the web UI needs from an HTTP request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// Path, before `?`.
    pub path: &'a str,
    /// Query string, after `?`.
    pub query: &'a str,
    /// The `Accept-Language` header.
    pub accept_language: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
    /// The `Host` header (for announce URLs in magnet links).
    pub host: Option<&'a str>,
}

/// A page or asset: status, content type, extra header lines, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Extra header lines, each ending in CRLF (cookies, caching).
    pub headers: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

const CSS: &str = include_str!("../static/style.css");
const JS: &str = include_str!("../static/live.js");
const HTML: &str = "text/html; charset=utf-8";
/// Assets are addressed with the version in their query, so they may be cached long.
const ASSET_CACHE: &str = "Cache-Control: public, max-age=604800, immutable\r\n";
const PAGE_CACHE: &str = "Cache-Control: no-cache\r\nVary: Accept-Language, Cookie\r\n";
/// Preview files: strangers' content, re-encoded, shown only as what it is. Nothing in
/// them may run, load or frame anything; a takedown reaches caches within minutes.
const PREVIEW_HEADERS: &str = concat!(
    "Content-Security-Policy: default-src 'none'; sandbox\r\n",
    "X-Content-Type-Options: nosniff\r\n",
    "Cross-Origin-Resource-Policy: same-origin\r\n",
    "Cache-Control: public, max-age=300\r\n",
);

/// The web UI.
pub struct Web {
    catalog: Catalog,
    version: &'static str,
    /// Whether the navigation links to the site's account page (the portal is on).
    account_link: bool,
}

impl Default for Web {
    fn default() -> Self {
        Web::new(env!("CARGO_PKG_VERSION"))
    }
}

/// One query parameter's value (no percent-decoding: the values used are plain).
fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn hex(b: &[u8; 20]) -> String {
    shoal_protocol::common::to_hex(b)
}

fn parse_hex(s: &str) -> Option<[u8; 20]> {
    shoal_protocol::InfoHash::from_hex(s).ok().map(|h| h.0)
}

/// 64 hex digits (either case) as 32 bytes.
fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Percent-encodes a URL for a query value.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request's `Host` when it is a plain host name or address with an optional port
/// (letters, digits, `.-:[]`), safe to put in a URL; `None` otherwise.
fn plain_host(host: Option<&str>) -> Option<&str> {
    host.filter(|h| {
        !h.is_empty()
            && h.len() <= 262
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    })
}

/// Reads one figure from a sample.
type Metric = fn(&Point) -> u64;

/// A page being rendered in one language.
struct Page<'a> {
    web: &'a Web,
    lang: Lang,
    /// The path of the page, for the language links.
    path: &'a str,
    query: &'a str,
}

impl Page<'_> {
    fn t(&self, key: &'static str) -> &str {
        self.web.catalog.get(self.lang, key)
    }

    fn n(&self, v: u64) -> String {
        self.lang.int(v)
    }

    /// The query with `lang` replaced, for the language switch.
    fn with_lang(&self, l: Lang) -> String {
        let mut q: Vec<&str> = self
            .query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang="))
            .collect();
        let lang = format!("lang={}", l.code());
        q.push(&lang);
        format!("{}?{}", self.path, q.join("&"))
    }

    fn layout(&self, title: &str, current: &str, main: Markup) -> Markup {
        self.layout_with(title, current, None, main)
    }

    /// The layout, with `feed` as the page's RSS alternate.
    fn layout_with(&self, title: &str, current: &str, feed: Option<&str>, main: Markup) -> Markup {
        let mut nav = vec![
            ("/", "nav_overview"),
            ("/catalog", "nav_catalog"),
            ("/trends", "nav_trends"),
            ("/torrents", "nav_torrents"),
            ("/clients", "nav_clients"),
        ];
        if self.web.account_link {
            nav.push(("/account", "nav_account"));
        }
        html! {
            (DOCTYPE)
            html lang=(self.lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    title { (title) " · " (self.t("site_title")) }
                    link rel="stylesheet" href={ "/static/style.css?v=" (self.web.version) };
                    @if let Some(feed) = feed {
                        link rel="alternate" type="application/rss+xml" title=(self.t("rss_title")) href=(feed);
                    }
                    script src={ "/static/live.js?v=" (self.web.version) } defer {}
                }
                body {
                    a class="skip" href="#main" { (self.t("skip_to_content")) }
                    header {
                        a class="brand" href="/" { (self.t("site_title")) }
                        nav aria-label=(self.t("nav_label")) {
                            ul {
                                @for (href, key) in nav {
                                    li {
                                        @if href == current {
                                            a href=(href) aria-current="page" { (self.t(key)) }
                                        } @else {
                                            a href=(href) { (self.t(key)) }
                                        }
                                    }
                                }
                            }
                        }
                        nav class="langs" aria-label=(self.t("language_label")) {
                            ul {
                                @for l in Lang::ALL {
                                    li {
                                        @if l == self.lang {
                                            a href=(self.with_lang(l)) lang=(l.code()) hreflang=(l.code()) aria-current="true" { (self.web.catalog.get(l, "language_name")) }
                                        } @else {
                                            a href=(self.with_lang(l)) lang=(l.code()) hreflang=(l.code()) { (self.web.catalog.get(l, "language_name")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main id="main" { h1 { (title) } (main) }
                    footer { "shoal " (self.web.version) }
                }
            }
        }
    }

    /// A size in binary units of this language: `1.5 GiB`, `1,5 ГиБ`.
    fn bytes(&self, n: u64) -> String {
        let units: Vec<&str> = self.t("size_units").split(' ').collect();
        let mut value = n as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < units.len() {
            value /= 1024.0;
            unit += 1;
        }
        let digits = if unit == 0 { 0 } else { 1 };
        format!("{}\u{a0}{}", self.lang.decimal(value, digits), units[unit])
    }

    fn stat(&self, key: &'static str, value: String, live: &str) -> Markup {
        html! {
            div class="stat" {
                dt { (self.t(key)) }
                dd data-stat=(live) { (value) }
            }
        }
    }

    /// The cluster's nodes: totals, a bar of each live node's share of the peers, and
    /// a table of every node remembered.
    fn cluster(&self, c: &ClusterOverview) -> Markup {
        let live = || c.nodes.iter().filter(|n| n.live);
        let peers: u64 = live().map(|n| n.peers).sum();
        let announces: u64 = live().map(|n| n.announces).sum();
        let chart: Vec<(String, f64)> = live()
            .map(|n| (n.name.clone(), n.peers as f64 / peers.max(1) as f64))
            .collect();
        let state = |n: &NodeRow| {
            if n.this {
                self.t("node_this")
            } else if n.live {
                self.t("node_live")
            } else {
                self.t("node_silent")
            }
        };
        html! {
            section aria-labelledby="h-cluster" {
                h2 id="h-cluster" { (self.t("cluster_heading")) }
                dl class="stats" {
                    (self.stat("cluster_nodes", self.n(live().count() as u64), "cluster.nodes"))
                    (self.stat("cluster_peers", self.n(peers), "cluster.peers"))
                    (self.stat("cluster_announces", self.n(announces), "cluster.announces"))
                    (self.stat("cluster_bus", self.t(if c.connected { "nats_connected" } else { "nats_unreachable" }).to_owned(), "cluster.bus"))
                }
                @if !chart.is_empty() {
                    figure { (PreEscaped(svg::bar_chart("cluster", self.t("cluster_share"), &chart, self.lang))) }
                }
                div class="table-wrap" {
                    table {
                        thead {
                            tr {
                                th scope="col" { (self.t("node")) }
                                th scope="col" { (self.t("node_state")) }
                                th scope="col" class="num" { (self.t("peers")) }
                                th scope="col" class="num" { (self.t("cluster_announces")) }
                                th scope="col" class="num" { (self.t("node_heard")) }
                            }
                        }
                        tbody {
                            @for n in &c.nodes {
                                tr {
                                    td { (n.name) }
                                    td { (state(n)) }
                                    td class="num" { (self.n(n.peers)) }
                                    td class="num" { (self.n(n.announces)) }
                                    td class="num" { (i18n::since(&self.web.catalog, self.lang, n.heard_secs)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn overview(&self, src: &dyn Source) -> Markup {
        let o = src.overview();
        let rate = |r: f64| self.lang.decimal(r, 1);
        let recent = src.search(&SearchRequest {
            limit: RECENT_SHOWN,
            ..SearchRequest::default()
        });
        // Without a catalog there is nothing to search; a busy one may be asked again.
        let searchable = !matches!(recent, Err(SearchError::Unavailable(_)));
        let day = src.history(86_400);
        let top = src.top(Sort::Peers, TOP_SHOWN);
        let series: [(&'static str, Metric); 2] =
            [("peers", |p| p.peers), ("torrents", |p| p.torrents)];
        let main = html! {
            @if searchable {
                (self.search_box(""))
            }
            p class="note" { (self.t("live_note")) }
            section aria-labelledby="h-swarms" {
                h2 id="h-swarms" { (self.t("swarms_heading")) }
                dl class="stats" {
                    (self.stat("torrents", self.n(o.torrents), "torrents"))
                    (self.stat("webtorrent_torrents", self.n(o.webtorrent_torrents), "webtorrent_torrents"))
                    (self.stat("peers", self.n(o.peers), "peers_all"))
                    (self.stat("seeders", self.n(o.seeders), "seeders_all"))
                    (self.stat("leechers", self.n(o.leechers), "leechers_all"))
                    (self.stat("completed", self.n(o.completed), "completed"))
                }
            }
            @if !day.is_empty() {
                section aria-labelledby="h-day" {
                    h2 id="h-day" { (self.t("range_24h")) }
                    div class="charts small" {
                        @for (key, get) in series {
                            @let pts: Vec<(u64, u64)> = day.iter().map(|p| (p.at, get(p))).collect();
                            @let last = pts.last().map_or(0, |p| p.1);
                            figure {
                                figcaption { (self.t(key)) }
                                (PreEscaped(svg::line_chart(&format!("day-{key}"), self.t(key), &self.n(last), &pts, self.lang, false)))
                            }
                        }
                    }
                    p { a href="/trends" { (self.t("more_trends")) " →" } }
                }
            }
            @if let Ok(r) = &recent {
                (self.recent(&r.hits))
            }
            @if !top.is_empty() {
                section aria-labelledby="h-top" {
                    h2 id="h-top" { (self.t("nav_torrents")) }
                    (self.torrent_table(&top, None))
                    p { a href="/torrents" { (self.t("see_all")) " →" } }
                }
            }
            section aria-labelledby="h-rates" {
                h2 id="h-rates" { (self.t("requests_heading")) }
                dl class="stats" {
                    (self.stat("protocol_udp", rate(o.rates[0]), "rates.udp"))
                    (self.stat("protocol_http", rate(o.rates[1]), "rates.http"))
                    (self.stat("protocol_webtorrent", rate(o.rates[2]), "rates.webtorrent"))
                }
            }
            section aria-labelledby="h-networks" {
                h2 id="h-networks" { (self.t("networks_heading")) }
                dl class="stats" {
                    (self.stat("network_ipv4", self.n(o.networks[0]), "networks.ipv4"))
                    (self.stat("network_ipv6", self.n(o.networks[1]), "networks.ipv6"))
                    (self.stat("network_yggdrasil", self.n(o.networks[2]), "networks.yggdrasil"))
                    (self.stat("network_webrtc", self.n(o.networks[3]), "networks.webrtc"))
                }
            }
            @if let Some(c) = &o.cluster {
                (self.cluster(c))
            }
            section aria-labelledby="h-server" {
                h2 id="h-server" { (self.t("server_heading")) }
                dl class="stats" {
                    (self.stat("uptime", i18n::duration(&self.web.catalog, self.lang, o.uptime), "uptime"))
                    (self.stat("version", o.version.clone(), "version"))
                }
            }
        };
        self.layout(self.t("overview_title"), "/", main)
    }

    fn trends(&self, src: &dyn Source) -> Markup {
        let week = param(self.query, "range") == Some("7d");
        let secs = if week { 7 * 86_400 } else { 86_400 };
        let points = src.history(secs);
        let series: [(&'static str, Metric); 4] = [
            ("torrents", |p| p.torrents),
            ("peers", |p| p.peers),
            ("seeders", |p| p.seeders),
            ("leechers", |p| p.leechers),
        ];
        let main = html! {
            nav class="tabs" aria-label=(self.t("trends_title")) {
                ul {
                    li { a href="/trends?range=24h" aria-current=[(!week).then_some("page")] { (self.t("range_24h")) } }
                    li { a href="/trends?range=7d" aria-current=[week.then_some("page")] { (self.t("range_7d")) } }
                }
            }
            @if points.is_empty() {
                p { (self.t("no_history")) }
            } @else {
                div class="charts" {
                    @for (key, get) in series {
                        @let pts: Vec<(u64, u64)> = points.iter().map(|p| (p.at, get(p))).collect();
                        @let min = pts.iter().map(|p| p.1).min().unwrap_or(0);
                        @let max = pts.iter().map(|p| p.1).max().unwrap_or(0);
                        @let last = pts.last().map_or(0, |p| p.1);
                        @let desc = self.t("chart_range").replace("{min}", &self.n(min)).replace("{max}", &self.n(max)).replace("{last}", &self.n(last));
                        figure {
                            figcaption { (self.t(key)) }
                            (PreEscaped(svg::line_chart(key, self.t(key), &desc, &pts, self.lang, week)))
                        }
                    }
                }
            }
        };
        self.layout(self.t("trends_title"), "/trends", main)
    }

    /// Torrents with their counts; `sort` makes the headers links that re-sort
    /// `/torrents` (the overview's short table has none, and becomes cards on phones).
    fn torrent_table(&self, rows: &[TorrentRow], sort: Option<Sort>) -> Markup {
        let header = |s: Sort| {
            let label = self.t(s.key());
            html! {
                @if let Some(sort) = sort {
                    th scope="col" class="num" aria-sort=[(s == sort).then_some("descending")] {
                        a href={ "/torrents?sort=" (s.key()) } { (label) }
                    }
                } @else {
                    th scope="col" class="num" { (label) }
                }
            }
        };
        html! {
            div class="table-wrap" {
                table class=[sort.is_none().then_some("results")] {
                    @if let Some(sort) = sort {
                        caption { (self.t("sort_by")) ": " (self.t(sort.key())) }
                    }
                    thead {
                        tr {
                            th scope="col" { (self.t("name")) }
                            th scope="col" class="num" { (self.t("size")) }
                            (header(Sort::Seeders))
                            (header(Sort::Leechers))
                            (header(Sort::Peers))
                            (header(Sort::Completed))
                        }
                    }
                    tbody {
                        @for r in rows {
                            tr {
                                td class="name" {
                                    @if let Some(name) = &r.name {
                                        a href={ "/torrent/" (hex(&r.info_hash)) } { (name) }
                                    } @else {
                                        a class="hash" href={ "/torrent/" (hex(&r.info_hash)) } { code { (hex(&r.info_hash)) } }
                                    }
                                }
                                td class="num" data-label=(self.t("size")) { (r.size.map(|b| self.bytes(b)).unwrap_or_default()) }
                                td class="num" data-label=(self.t("seeders")) { (self.n(r.seeders.into())) }
                                td class="num" data-label=(self.t("leechers")) { (self.n(r.leechers.into())) }
                                td class="num" data-label=(self.t("peers")) { (self.n(u64::from(r.seeders) + u64::from(r.leechers))) }
                                td class="num" data-label=(self.t("completed")) { (self.n(r.completed)) }
                            }
                        }
                    }
                }
            }
        }
    }

    fn torrents(&self, src: &dyn Source) -> Markup {
        let sort = param(self.query, "sort")
            .and_then(|s| Sort::ALL.into_iter().find(|x| x.key() == s))
            .unwrap_or(Sort::Peers);
        let rows = src.top(sort, 100);
        let main = html! {
            @if rows.is_empty() {
                p { (self.t("no_torrents")) }
            } @else {
                (self.torrent_table(&rows, Some(sort)))
            }
        };
        self.layout(self.t("torrents_title"), "/torrents", main)
    }

    fn torrent(&self, src: &dyn Source, hash: [u8; 20], host: Option<&str>) -> (u16, Markup) {
        let h = hex(&hash);
        let meta = src.metadata(&hash);
        // The catalog outlives swarms: a torrent it knows has a page without peers.
        let Some(row) = src.torrent(&hash).or_else(|| {
            meta.as_ref().map(|m| TorrentRow {
                info_hash: hash,
                seeders: 0,
                leechers: 0,
                downloaders: 0,
                completed: 0,
                name: Some(m.name.clone()),
                size: Some(m.size),
            })
        }) else {
            let main = html! { p { (self.t("unknown_torrent")) } p { code { (h) } } };
            return (404, self.layout(self.t("torrent_title"), "", main));
        };
        let mut magnet = format!("magnet:?xt=urn:btih:{h}");
        if let Some(v2) = meta.as_ref().and_then(|m| m.info_hash_v2) {
            // BEP 52: a v2 info-hash is a multihash, SHA-256 (0x12) of 32 bytes (0x20).
            magnet.push_str("&xt=urn:btmh:1220");
            magnet.push_str(&shoal_protocol::common::to_hex(&v2));
        }
        if let Some(m) = &meta {
            magnet.push_str("&dn=");
            magnet.push_str(&url_encode(&m.name));
        }
        for url in src.announce_urls(plain_host(host)) {
            magnet.push_str("&tr=");
            magnet.push_str(&url_encode(&url));
        }
        let history = src.swarm_history(&hash);
        let title = meta
            .as_ref()
            .map_or(self.t("torrent_title"), |m| m.name.as_str());
        let main = html! {
            p class="actions" {
                a class="button magnet" href=(magnet) { (self.t("magnet_link")) }
                @if meta.is_some() {
                    a class="button" href={ "/torrent/" (h) ".torrent" } type="application/x-bittorrent" { (self.t("download_torrent")) }
                }
            }
            @if let Some(m) = &meta {
                dl class="stats" {
                    (self.stat("size", self.bytes(m.size), ""))
                    (self.stat("files", self.n(m.file_count), ""))
                    (self.stat("category", self.t(catalog::category_key(m.category)).to_owned(), ""))
                    (self.stat("first_seen", i18n::date(&self.web.catalog, self.lang, m.first_seen), ""))
                    (self.stat("piece_length", self.bytes(m.piece_length), ""))
                }
                @if m.private {
                    p { (self.t("private_torrent")) }
                }
                @if let Some(u) = &m.upload {
                    p class="uploaded-by" {
                        (self.t("portal_uploader")) ": " strong { (u.uploader) }
                        @if u.freeleech { " · " strong class="freeleech" { (self.t("portal_freeleech")) } }
                    }
                    @if self.web.account_link {
                        p class="actions" {
                            a class="button" href={ "/download/" (h) ".torrent" } type="application/x-bittorrent" { (self.t("portal_download_torrent")) }
                        }
                    }
                    @if !u.description.is_empty() {
                        section aria-labelledby="h-description" {
                            h2 id="h-description" { (self.t("portal_upload_description")) }
                            pre class="description" { (u.description) }
                        }
                    }
                }
            } @else {
                p { (self.t("no_metadata")) }
            }
            dl class="stats" {
                (self.stat("seeders", self.n(row.seeders.into()), ""))
                (self.stat("leechers", self.n(row.leechers.into()), ""))
                (self.stat("downloaders", self.n(row.downloaders.into()), ""))
                (self.stat("completed", self.n(row.completed), ""))
            }
            dl class="hashes" {
                dt { (self.t("info_hash")) }
                dd { code class="hash" { (h) } }
                @if let Some(v2) = meta.as_ref().and_then(|m| m.info_hash_v2) {
                    dt { (self.t("info_hash_v2")) }
                    dd { code class="hash" { (shoal_protocol::common::to_hex(&v2)) } }
                }
            }
            @if let Some(p) = src.preview(&hash) {
                (self.preview(&p))
            }
            @if let Some(m) = &meta {
                (self.file_tree(&h, m))
            }
            section aria-labelledby="h-history" {
                h2 id="h-history" { (self.t("swarm_history")) }
                @if history.is_empty() {
                    p { (self.t("no_swarm_history")) }
                } @else {
                    div class="charts" {
                        @for (key, get) in [("seeders", (|p: &SwarmPoint| u64::from(p.seeders)) as fn(&SwarmPoint) -> u64), ("leechers", |p: &SwarmPoint| u64::from(p.leechers))] {
                            @let pts: Vec<(u64, u64)> = history.iter().map(|p| (p.at, get(p))).collect();
                            @let days = pts.last().map_or(0, |l| l.0) - pts.first().map_or(0, |f| f.0) > 86_400;
                            figure {
                                figcaption { (self.t(key)) }
                                (PreEscaped(svg::line_chart(key, self.t(key), &self.n(pts.last().map_or(0, |p| p.1)), &pts, self.lang, days)))
                            }
                        }
                    }
                }
            }
        };
        (200, self.layout(title, "", main))
    }

    /// A torrent's preview: a gallery of thumbnails, each linking to its full-size copy,
    /// then each text in a preformatted block (escaped).
    fn preview(&self, p: &Preview) -> Markup {
        html! {
            @if !p.images.is_empty() || !p.texts.is_empty() {
                section aria-labelledby="h-preview" {
                    h2 id="h-preview" { (self.t("preview")) }
                    @if !p.images.is_empty() {
                        div class="gallery" {
                            @for i in &p.images {
                                @let (w, h) = thumb_size(i.width, i.height);
                                figure {
                                    a href={ "/preview/" (i.sha256) "/full.png" } {
                                        img src={ "/preview/" (i.sha256) "/thumb.png" } width=(w) height=(h) alt=(i.path) loading="lazy";
                                    }
                                    figcaption { (i.path) " · " (self.n(i.width.into())) "×" (self.n(i.height.into())) }
                                }
                            }
                        }
                    }
                    @for t in &p.texts {
                        details class="preview-text" open {
                            summary { (t.path) " " span class="note" { "(" (t.encoding) ")" } }
                            pre class="nfo" { (t.text) }
                            @if t.truncated {
                                p class="note" { (self.t("preview_truncated")) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `/torrent/<hex>.torrent`: the file, or a page saying the catalog has none.
    fn torrent_file(
        &self,
        src: &dyn Source,
        path: &str,
        host: Option<&str>,
    ) -> Result<Response, Markup> {
        path.strip_prefix("/torrent/")
            .and_then(|s| s.strip_suffix(".torrent"))
            .and_then(parse_hex)
            .and_then(|h| src.torrent_file(&h, &src.announce_urls(plain_host(host))))
            .map(|body| Response {
                status: 200,
                content_type: "application/x-bittorrent",
                // No file name: the browser takes the URL's last segment, `<hex>.torrent`.
                headers: "Content-Disposition: attachment\r\nCache-Control: no-cache\r\n",
                body,
            })
            .ok_or_else(|| {
                let main = html! { p { (self.t("torrent_file_missing")) } };
                self.layout(self.t("not_found_title"), "", main)
            })
    }

    /// A torrent's files as a tree of `<details>` folders, one page of
    /// [`FILES_PER_PAGE`] files at a time (`?files_page=`). Top-level folders are open
    /// and deeper ones closed, except on a paged tree, where every folder shown is
    /// open: it holds files of the page, which would be hidden otherwise.
    fn file_tree(&self, h: &str, m: &TorrentMeta) -> Markup {
        let root = tree::Dir::build(&m.files);
        let pages = root.count.div_ceil(FILES_PER_PAGE).max(1);
        let page = param(self.query, "files_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, pages);
        let range = (page - 1) * FILES_PER_PAGE..(page * FILES_PER_PAGE).min(root.count);
        let pager = self.pager("file_pages", page, pages, |n| {
            format!("/torrent/{h}?files_page={n}#h-files")
        });
        html! {
            section aria-labelledby="h-files" {
                h2 id="h-files" { (self.t("files")) }
                @if pages > 1 {
                    p class="note" {
                        (self.t("files_range")
                            .replace("{from}", &self.n(range.start as u64 + 1))
                            .replace("{to}", &self.n(range.end as u64))
                            .replace("{total}", &self.n(root.count as u64)))
                    }
                }
                (pager)
                div class="tree-wrap" { (self.dir(&root, 0, &range, pages > 1)) }
                (pager)
            }
        }
    }

    /// One folder's contents: the subfolders holding files in `range`, then its own
    /// files in `range`.
    fn dir(
        &self,
        d: &tree::Dir<'_>,
        depth: usize,
        range: &std::ops::Range<usize>,
        open_all: bool,
    ) -> Markup {
        let own = d.first_own_file();
        html! {
            ul class=(if depth == 0 { "tree" } else { "tree sub" }) {
                @for sub in &d.dirs {
                    @let span = sub.span();
                    @if span.start < range.end && range.start < span.end {
                        li class="dir" {
                            details open[depth == 0 || open_all] {
                                summary {
                                    span class="fname" { (sub.name) }
                                    " "
                                    span class="fmeta" {
                                        (self.web.catalog.plural(self.lang, "files_count", sub.count as u64))
                                        " · " (self.bytes(sub.size))
                                    }
                                }
                                (self.dir(sub, depth + 1, range, open_all))
                            }
                        }
                    }
                }
                @for (i, (name, size)) in d.files.iter().enumerate() {
                    @if range.contains(&(own + i)) {
                        li class="file" {
                            span class="fname" { (name) }
                            " "
                            span class="fmeta" { (self.bytes(*size)) }
                        }
                    }
                }
            }
        }
    }

    fn clients(&self, src: &dyn Source) -> Markup {
        let rows = src.clients();
        let total: u64 = rows.iter().map(|r| r.1).sum();
        let share = |n: u64| n as f64 / total.max(1) as f64;
        let chart: Vec<(String, f64)> = rows
            .iter()
            .take(15)
            .map(|(c, n)| (c.clone(), share(*n)))
            .collect();
        let main = html! {
            @if rows.is_empty() {
                p { (self.t("no_clients")) }
            } @else {
                figure { (PreEscaped(svg::bar_chart("clients", self.t("clients_title"), &chart, self.lang))) }
                div class="table-wrap" {
                    table {
                        thead {
                            tr {
                                th scope="col" { (self.t("client")) }
                                th scope="col" class="num" { (self.t("peers")) }
                                th scope="col" class="num" { (self.t("share")) }
                            }
                        }
                        tbody {
                            @for (c, n) in &rows {
                                tr {
                                    td { (c) }
                                    td class="num" { (self.n(*n)) }
                                    td class="num" { (self.lang.percent(share(*n))) }
                                }
                            }
                        }
                    }
                }
            }
        };
        self.layout(self.t("clients_title"), "/clients", main)
    }
}

impl Web {
    /// The UI, reporting `version` in its footer and asset URLs.
    pub fn new(version: &'static str) -> Web {
        Web {
            catalog: Catalog::load(),
            version,
            account_link: false,
        }
    }

    /// This UI with an "Account" entry in the navigation, for a server whose site has
    /// account pages (`/account`, which sends a visitor without a session to `/login`).
    pub fn with_account_link(mut self, on: bool) -> Web {
        self.account_link = on;
        self
    }

    /// The language for a request: `?lang=`, then the `lang` cookie, then
    /// `Accept-Language`, then English. The second value says whether to set the
    /// cookie (an explicit choice).
    pub fn language(req: &Request<'_>) -> (Lang, bool) {
        if let Some(l) = param(req.query, "lang").and_then(Lang::from_tag) {
            return (l, true);
        }
        let l = req
            .cookie
            .and_then(Lang::from_cookie)
            .or_else(|| req.accept_language.and_then(Lang::from_accept_language))
            .unwrap_or(Lang::En);
        (l, false)
    }

    /// A page of another crate (the portal's) for this request: its language and this
    /// UI's layout.
    pub fn frame<'a>(&'a self, req: &Request<'a>) -> Frame<'a> {
        let (lang, chosen) = Web::language(req);
        Frame {
            page: Page {
                web: self,
                lang,
                path: req.path,
                query: req.query,
            },
            chosen,
        }
    }

    /// Answers a request for a web page or asset, or `None` when the path is not the
    /// web UI's.
    pub fn handle(&self, req: &Request<'_>, src: &dyn Source) -> Option<Response> {
        match req.path {
            "/static/style.css" => {
                return Some(Response {
                    status: 200,
                    content_type: "text/css; charset=utf-8",
                    headers: ASSET_CACHE,
                    body: CSS.as_bytes().to_vec(),
                })
            }
            "/catalog/rss" => return Some(feeds::rss(self.version, req, src)),
            "/torznab/api" => return Some(feeds::torznab(self.version, req, src)),
            p if p.starts_with("/preview/") => return Some(preview_file(src, p)),
            "/static/live.js" => {
                return Some(Response {
                    status: 200,
                    content_type: "text/javascript; charset=utf-8",
                    headers: ASSET_CACHE,
                    body: JS.as_bytes().to_vec(),
                })
            }
            _ => {}
        }
        let (lang, chosen) = Web::language(req);
        let page = Page {
            web: self,
            lang,
            path: req.path,
            query: req.query,
        };
        let (status, markup) = match req.path {
            "/" => (200, page.overview(src)),
            "/catalog" => page.catalog(src),
            "/trends" => (200, page.trends(src)),
            "/torrents" => (200, page.torrents(src)),
            "/clients" => (200, page.clients(src)),
            p => match p.strip_prefix("/torrent/").and_then(parse_hex) {
                Some(h) => page.torrent(src, h, req.host),
                None if p.starts_with("/torrent/") && p.ends_with(".torrent") => {
                    match page.torrent_file(src, p, req.host) {
                        Ok(file) => return Some(file),
                        Err(missing) => (404, missing),
                    }
                }
                None if p.starts_with("/torrent/") => {
                    let main = html! { p { (page.t("not_found_text")) } };
                    (404, page.layout(page.t("not_found_title"), "", main))
                }
                None => return None,
            },
        };
        Some(Response {
            status,
            content_type: HTML,
            headers: if chosen {
                lang.cookie_header()
            } else {
                PAGE_CACHE
            },
            body: markup.into_string().into_bytes(),
        })
    }
}

/// The size a thumbnail of a `width` × `height` image is shown at (the longer side
/// [`THUMB`] at most, never enlarged).
fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    if long <= THUMB {
        return (width, height);
    }
    let scale =
        |n: u32| ((u64::from(n) * u64::from(THUMB)).div_ceil(u64::from(long)) as u32).max(1);
    (scale(width), scale(height))
}

/// The longer side of preview thumbnails.
const THUMB: u32 = 320;

/// `/preview/<sha256 hex>/<thumb.png|full.png|text.txt>`: a preview file's shown form
/// (never the original bytes), or 404.
fn preview_file(src: &dyn Source, path: &str) -> Response {
    let found = path
        .strip_prefix("/preview/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(hex, variant)| {
            let sha = parse_sha256(hex)?;
            let content_type = match variant {
                "thumb.png" | "full.png" => "image/png",
                "text.txt" => "text/plain; charset=utf-8",
                _ => return None,
            };
            Some((content_type, src.preview_file(&sha, variant)?))
        });
    match found {
        Some((content_type, body)) => Response {
            status: 200,
            content_type,
            headers: PREVIEW_HEADERS,
            body,
        },
        None => Response {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            headers: PREVIEW_HEADERS,
            body: b"no such preview file\n".to_vec(),
        },
    }
}

/// A page that another crate (the portal) renders in this UI's layout, language and
/// style, with its strings from the same translation files.
pub struct Frame<'a> {
    page: Page<'a>,
    chosen: bool,
}

impl Frame<'_> {
    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.page.lang
    }

    /// Whether `?lang=` chose the language (the answer should remember it in the
    /// `lang` cookie).
    pub fn chosen(&self) -> bool {
        self.chosen
    }

    /// The text for a translation key.
    pub fn t(&self, key: &'static str) -> &str {
        self.page.t(key)
    }

    /// A count with the language's digit grouping.
    pub fn int(&self, n: u64) -> String {
        self.page.n(n)
    }

    /// A size in binary units of the language.
    pub fn bytes(&self, n: u64) -> String {
        self.page.bytes(n)
    }

    /// A number with `decimals` places, as the language writes it.
    pub fn decimal(&self, x: f64, decimals: usize) -> String {
        self.page.lang.decimal(x, decimals)
    }

    /// A day (Unix seconds, UTC) as the language writes dates.
    pub fn date(&self, unix: u64) -> String {
        self.page.date(unix)
    }

    /// The whole page: head, header with navigation and languages, `main` under an
    /// `h1` of `title`, footer. `current` is the navigation entry to mark (or "").
    pub fn layout(&self, title: &str, current: &str, main: Markup) -> Markup {
        self.page.layout(title, current, main)
    }
}

#[cfg(test)]
mod tests;

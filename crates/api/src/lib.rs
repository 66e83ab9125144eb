//! `/metrics` (Prometheus text format), the JSON API under `/api/`, and the bearer-token
//! gate in front of `/api/admin/`.
//!
//! The node fills the figures this crate reads (the views refreshed off the request
//! path, the store thread's [`store`] figures, the front ends' counters) and serves the
//! admin writes it asks for; the API itself only reads and formats.

pub mod cluster;
#[cfg(feature = "web")]
mod dashboard;
mod metrics;
pub mod search;
pub mod store;
pub mod views;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use shoal_engine::{Engine, InfoHash};
use shoal_http::handler::{ApiRequest, Reply, Routes};
use shoal_http::HttpStats;
use shoal_udp::UdpStats;

use crate::store::AccessChange;

/// Everything the API reports on.
pub struct Api {
    pub engine: Arc<Engine>,
    pub udp: Option<Arc<UdpStats>>,
    pub http: Arc<HttpStats>,
    pub started: Instant,
    /// The admin bearer token; `None` keeps the admin API closed (every call 401).
    pub admin_token: Option<String>,
    /// Where admin-made changes are sent to be persisted.
    pub store_tx: std::sync::Mutex<std::sync::mpsc::Sender<crate::store::Command>>,
    /// Serialises admin changes, so the store sees them in the order the engine made
    /// them, and an undone change cannot interleave with another.
    pub admin_lock: std::sync::Mutex<()>,
    /// Asks the node to reload what SIGHUP reloads (the access-list file, the TLS
    /// certificate); it happens shortly after, off the request path.
    pub reload: Box<dyn Fn() + Send + Sync>,
    /// The admission gate (its rate limiter's counts go to the metrics).
    pub gate: Arc<shoal_engine::gate::Gate>,
    /// The store thread's counters.
    pub store: Arc<crate::store::StoreStats>,
    /// Recent samples.
    pub history: crate::store::History,
    /// The WebTorrent tracker, when on.
    pub webtorrent: Option<Arc<shoal_http::ws::WebTorrent>>,
    /// Recent samples of the busiest swarms.
    pub swarms: Arc<crate::store::SwarmHistory>,
    /// The figures that walk every torrent, refreshed off the request path.
    pub views: Arc<crate::views::Views>,
    /// The catalog, when on.
    pub catalog: Option<Arc<shoal_catalog::CatalogHandle>>,
    /// The search threads, when the catalog is on.
    pub search: Option<Arc<shoal_index::pool::SearchPool>>,
    /// The index thread, when the catalog is on (rebuilds, figures).
    pub indexer: Option<shoal_index::indexer::IndexerHandle>,
    /// The cluster link, when this node is one of several (`[cluster] nats`).
    pub cluster: Option<Arc<crate::cluster::ClusterView>>,
    /// The follower of the store's change log (other nodes' changes).
    pub changes: Arc<crate::cluster::ChangeStats>,
    /// What searches did.
    pub search_stats: search::SearchStats,
    /// Announce URLs for downloads, magnets and feeds (shared with the site).
    pub announce: Arc<search::Announce>,
    /// `catalog.torznab_key`, when set.
    pub torznab_key: Option<String>,
    /// The web UI.
    #[cfg(feature = "web")]
    pub web: shoal_web::Web,
    /// The site's pages (register, login, account, upload, admin), when on.
    #[cfg(feature = "web")]
    pub portal: Option<shoal_portal::Portal>,
    /// The largest upload form body the site takes, when it takes uploads.
    pub max_upload: Option<usize>,
}

/// What the site asks of the tracker: announce URLs for downloads, and tracking and
/// indexing a torrent as soon as it is published.
#[cfg(feature = "web")]
pub struct SiteHooks {
    pub engine: Arc<Engine>,
    pub announce: Arc<search::Announce>,
    pub indexer: Option<shoal_index::indexer::IndexerHandle>,
    /// The catalog, whose preview the admin page moderates.
    pub catalog: Option<Arc<shoal_catalog::CatalogHandle>>,
}

#[cfg(feature = "web")]
impl shoal_portal::Tracker for SiteHooks {
    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        self.announce.urls(host)
    }

    fn preview_on(&self) -> bool {
        self.catalog.as_ref().is_some_and(|c| c.preview_on())
    }

    fn hide_preview(&self, h: &InfoHash, path: Option<&str>) -> Result<Option<usize>, String> {
        let c = self.catalog.as_ref().ok_or("the catalog is off")?;
        // A hybrid is kept under one hash; either names it.
        let key = c.entry(h).map_or(*h, |e| e.info_hash);
        c.hide_preview(&key, path)
    }

    fn deny_preview(&self, sha256: &[u8; 32], deny: bool) -> Result<bool, String> {
        let c = self.catalog.as_ref().ok_or("the catalog is off")?;
        c.deny_preview(sha256, deny)
    }

    fn preview_denied(&self) -> Result<Vec<([u8; 32], u64)>, String> {
        match &self.catalog {
            Some(c) if c.preview_on() => c.preview_denied(),
            _ => Ok(Vec::new()),
        }
    }

    fn published(&self, entry: &shoal_store::CatalogEntry) {
        // The store listed both hashes already when the list admits only what is
        // listed; the engine's copy follows so the torrent is served from now on.
        self.engine.update_access_list(|l| {
            if l.mode == shoal_engine::access::AccessMode::Allow {
                l.api.insert(entry.info_hash);
                if let Some(alias) = entry.alias {
                    l.api.insert(alias);
                }
            }
        });
        if let Some(indexer) = &self.indexer {
            indexer.upsert(vec![entry.clone()]);
        }
    }
}

/// Figures shared by `/api/stats`'s `dashboard` object and the web UI's overview.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dashboard {
    pub torrents: u64,
    pub webtorrent_torrents: u64,
    pub peers: u64,
    pub seeders: u64,
    pub leechers: u64,
    pub completed: u64,
    /// Requests per second: UDP, HTTP, WebTorrent.
    pub rates: [f64; 3],
    /// IPv4, IPv6 (not Yggdrasil), Yggdrasil, WebRTC.
    pub networks: [u64; 4],
}

/// The request counters and WebTorrent totals a views refresh reads.
pub struct ViewCounters {
    pub udp: Option<Arc<UdpStats>>,
    pub http: Arc<HttpStats>,
    pub webtorrent: Option<Arc<shoal_http::ws::WebTorrent>>,
    /// The catalog, for the busiest torrents' names.
    pub catalog: Option<Arc<shoal_catalog::CatalogHandle>>,
}

impl crate::views::Counters for ViewCounters {
    fn requests(&self) -> [u64; 3] {
        let udp = self.udp.as_ref().map_or(0, |u| {
            UdpStats::get(&u.connects) + UdpStats::get(&u.announces) + UdpStats::get(&u.scrapes)
        });
        let http = HttpStats::get(&self.http.requests);
        let ws = self.webtorrent.as_ref().map_or(0, |w| {
            w.stats().announces.load(Relaxed) + w.stats().scrapes.load(Relaxed)
        });
        [udp, http, ws]
    }

    fn webtorrent(&self) -> shoal_engine::webtorrent::WsStats {
        self.webtorrent
            .as_ref()
            .map(|w| ws_totals(w))
            .unwrap_or_default()
    }

    fn names(&self, hashes: &[InfoHash]) -> Vec<(InfoHash, String, u64)> {
        self.catalog.as_ref().map_or_else(Vec::new, |c| {
            c.summaries(hashes)
                .into_iter()
                .map(|s| (s.info_hash, s.name, s.total_size))
                .collect()
        })
    }
}

/// WebTorrent totals with seeders never above peers (the two are separate atomics,
/// read one after the other while announces go on).
fn ws_totals(w: &shoal_http::ws::WebTorrent) -> shoal_engine::webtorrent::WsStats {
    let mut s = w.swarms().stats();
    s.seeders = s.seeders.min(s.peers);
    s
}

const JSON: &str = "application/json";

/// Most files listed in `/api/torrents/<hex>` (the rest are counted in `file_count`).
const MAX_FILES_JSON: usize = 1000;
const PROMETHEUS: &str = "text/plain; version=0.0.4";

fn reply(status: u16, content_type: &'static str) -> Option<Reply> {
    Some(Reply::new(status, content_type))
}

/// Compares secrets in time that does not depend on where they differ (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

impl Api {
    fn authorized(&self, authorization: Option<&[u8]>) -> bool {
        let (Some(token), Some(header)) = (&self.admin_token, authorization) else {
            return false;
        };
        let Some(given) = header.strip_prefix(b"Bearer ") else {
            return false;
        };
        constant_time_eq(given.trim_ascii(), token.as_bytes())
    }

    /// Peers per client name, largest first (ties by client code), as of the last
    /// views refresh.
    pub fn client_rows(&self) -> Vec<(&'static str, u64)> {
        let view = self.views.get();
        let mut rows: Vec<(u8, u64)> = view
            .summary
            .clients
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c as u8, *n))
            .collect();
        rows.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        rows.into_iter()
            .map(|(c, n)| (shoal_protocol::clients::name(c), n))
            .collect()
    }

    /// The dashboard's figures as of the last views refresh; request rates are
    /// measured between refreshes (since start on the first).
    pub fn dashboard(&self) -> Dashboard {
        let view = self.views.get();
        let (e, n, w) = (view.summary.stats, view.summary.networks, view.webtorrent);
        Dashboard {
            torrents: e.torrents,
            webtorrent_torrents: w.torrents,
            peers: e.peers_v4 + e.peers_v6 + w.peers,
            seeders: e.seeders + w.seeders,
            leechers: e.leechers + w.peers.saturating_sub(w.seeders),
            completed: n.completed,
            rates: view.rates,
            networks: [n.ipv4, n.ipv6, n.yggdrasil, w.peers],
        }
    }

    fn stats(&self) -> serde_json::Value {
        let e = self.views.get().summary.stats;
        let mut v = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "torrents": e.torrents,
            "peers": { "ipv4": e.peers_v4, "ipv6": e.peers_v6, "total": e.peers_v4 + e.peers_v6 },
            "seeders": e.seeders,
            "leechers": e.leechers,
            "http": {
                "connections": HttpStats::get(&self.http.connections),
                "requests": HttpStats::get(&self.http.requests),
                "announces": HttpStats::get(&self.http.announces),
                "scrapes": HttpStats::get(&self.http.scrapes),
                "failures": HttpStats::get(&self.http.failures),
            },
        });
        let d = self.dashboard();
        v["dashboard"] = json!({
            "torrents": d.torrents,
            "webtorrent_torrents": d.webtorrent_torrents,
            "peers_all": d.peers,
            "seeders_all": d.seeders,
            "leechers_all": d.leechers,
            "completed": d.completed,
            "rates.udp": d.rates[0],
            "rates.http": d.rates[1],
            "rates.webtorrent": d.rates[2],
            "networks.ipv4": d.networks[0],
            "networks.ipv6": d.networks[1],
            "networks.yggdrasil": d.networks[2],
            "networks.webrtc": d.networks[3],
        });
        if let Some(c) = &self.catalog {
            let s = c.stats();
            let failed: serde_json::Map<String, serde_json::Value> =
                shoal_catalog::stats::FAILURE_REASONS
                    .iter()
                    .zip(s.failures())
                    .map(|(r, n)| ((*r).to_owned(), n.into()))
                    .collect();
            let refused: serde_json::Map<String, serde_json::Value> =
                shoal_catalog::stats::REFUSAL_REASONS
                    .iter()
                    .zip(s.refusals())
                    .map(|(r, n)| ((*r).to_owned(), n.into()))
                    .collect();
            v["catalog"] = json!({
                "entries": s.entries.load(Relaxed),
                "pending": s.pending.load(Relaxed),
                "in_flight": s.in_flight.load(Relaxed),
                "connections": s.connections.load(Relaxed),
                "resolved": s.resolved.load(Relaxed),
                "gave_up": s.gave_up.load(Relaxed),
                "revisited": s.revisited.load(Relaxed),
                "forgotten": s.forgotten.load(Relaxed),
                "dropped": s.dropped.load(Relaxed),
                "failed": failed,
                "refused": refused,
                "denied_names": s.denied_names.load(Relaxed),
                "removed": s.removed.load(Relaxed),
            });
        }
        if let Some(w) = &self.webtorrent {
            let sw = ws_totals(w);
            let s = w.stats();
            v["webtorrent"] = json!({
                "torrents": sw.torrents,
                "peers": sw.peers,
                "seeders": sw.seeders,
                "leechers": sw.peers.saturating_sub(sw.seeders),
                "connections": s.open(),
                "announces": s.announces.load(Relaxed),
                "scrapes": s.scrapes.load(Relaxed),
                "offers_relayed": s.offers_relayed.load(Relaxed),
                "answers_relayed": s.answers_relayed.load(Relaxed),
            });
        }
        if let Some(u) = &self.udp {
            v["udp"] = json!({
                "received": UdpStats::get(&u.received),
                "connects": UdpStats::get(&u.connects),
                "announces": UdpStats::get(&u.announces),
                "scrapes": UdpStats::get(&u.scrapes),
                "dropped": UdpStats::get(&u.dropped_malformed) + UdpStats::get(&u.dropped_bad_connection_id),
            });
        }
        v
    }

    /// Writes the `/api/torrents` answer from the pre-rendered rows of the last views
    /// refresh: a copy, however often it is asked for.
    fn torrents(&self, query: &[u8], body: &mut Vec<u8>) -> Result<(), String> {
        let mut sort = "peers".to_owned();
        let mut limit = 50usize;
        for (k, v) in shoal_protocol::http::query_pairs(query) {
            let v = std::str::from_utf8(v).map_err(|_| "query is not UTF-8".to_owned())?;
            match k {
                b"sort" => match v {
                    "peers" | "seeders" | "leechers" | "completed" => sort = v.to_owned(),
                    _ => {
                        return Err(format!(
                            "sort={v:?}: use peers, seeders, leechers or completed"
                        ))
                    }
                },
                b"limit" => {
                    limit = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| format!("limit={v:?}: use 1..=1000"))?
                }
                _ => {}
            }
        }
        let view = self.views.get();
        let rows = view.top_json(top_by(&sort), limit);
        body.extend_from_slice(b"{\"sort\":\"");
        body.extend_from_slice(sort.as_bytes());
        body.extend_from_slice(b"\",\"torrents\":[");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(row.as_bytes());
        }
        body.extend_from_slice(b"]}\n");
        Ok(())
    }
}

/// The ordering a `sort=` value names (peers for anything else).
pub fn top_by(sort: &str) -> shoal_engine::summary::TopBy {
    use shoal_engine::summary::TopBy;
    match sort {
        "seeders" => TopBy::Seeders,
        "leechers" => TopBy::Leechers,
        "completed" => TopBy::Completed,
        _ => TopBy::Peers,
    }
}

impl Api {
    /// Writes one admin access-list change through the store thread and waits for it.
    fn persist_access(&self, change: crate::store::AccessChange) -> Result<(), String> {
        self.ask_store(|ack| crate::store::Command::Access(change, ack))
    }

    /// Sends the store thread a write and waits (bounded) for its result.
    fn ask_store(
        &self,
        command: impl FnOnce(std::sync::mpsc::Sender<Result<(), String>>) -> crate::store::Command,
    ) -> Result<(), String> {
        let (ack, done) = std::sync::mpsc::channel();
        self.store_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(command(ack))
            .map_err(|_| "store is not running".to_owned())?;
        done.recv_timeout(std::time::Duration::from_secs(10))
            .map_err(|_| "store did not answer".to_owned())?
    }

    /// `/health/ready`: ready while the store takes writes (503 otherwise); each
    /// dependency that is down is named under `degraded` (a node without NATS or
    /// without the store's change log still serves, from what it has).
    fn ready(&self, body: &mut Vec<u8>) -> Option<Reply> {
        let mut degraded = Vec::new();
        let store_ready = self.store.ready();
        if !store_ready {
            degraded.push(json!({
                "dependency": "store",
                "reason": "store writes are failing; completed counts and credits wait in memory",
            }));
        }
        if self.changes.failing.load(Relaxed) {
            degraded.push(json!({
                "dependency": "store",
                "reason": "the store's change log cannot be read; other nodes' changes wait",
            }));
        }
        if self.cluster.as_ref().is_some_and(|c| !c.connected()) {
            degraded.push(json!({
                "dependency": "nats",
                "reason": "NATS is unreachable; swarms are not shared with the other nodes",
            }));
        }
        let mut v = json!({ "ready": store_ready });
        if !store_ready {
            v["reason"] = json!("store writes are failing");
            v["pending_completed"] = json!(self.store.pending.load(Relaxed));
        }
        if !degraded.is_empty() {
            v["degraded"] = json!(degraded);
        }
        json_body(body, &v);
        reply(if store_ready { 200 } else { 503 }, JSON)
    }

    /// `/api/cluster`: this node, whether NATS is reachable, every node's own figures as
    /// last heard, and the cluster's totals (404 on a node of its own).
    fn cluster_json(&self, body: &mut Vec<u8>) -> Option<Reply> {
        let Some(c) = &self.cluster else {
            json_body(
                body,
                &json!({"error": "this node is not in a cluster (cluster.nats)"}),
            );
            return reply(404, JSON);
        };
        let now = Instant::now();
        let (live, totals) = c.totals(now);
        let nodes: Vec<serde_json::Value> = c
            .nodes(now)
            .into_iter()
            .map(|(name, f)| {
                json!({
                    "node": name,
                    "this": name == c.node,
                    "live": f.silent_for < crate::cluster::NODE_SILENT,
                    "heard_ms_ago": f.silent_for.as_millis() as u64,
                    "peers": f.status.local_peers,
                    "torrents": f.status.torrents,
                    "announces": f.status.announces,
                    "started_at": f.status.started_at,
                })
            })
            .collect();
        let s = &c.stats;
        json_body(
            body,
            &json!({
                "node": c.node,
                "nats": if c.connected() { "connected" } else { "unreachable" },
                "totals": {
                    "nodes": live,
                    "peers": totals.local_peers,
                    "announces": totals.announces,
                },
                "nodes": nodes,
                "link": {
                    "published": s.published.load(Relaxed),
                    "published_bytes": s.published_bytes.load(Relaxed),
                    "unpublished_changes": s.unpublished.load(Relaxed),
                    "applied": s.applied.load(Relaxed),
                    "rejected": s.rejected.load(Relaxed),
                },
            }),
        );
        reply(200, JSON)
    }

    /// The samples of the last `secs` seconds, thinned to at most ~1000 points.
    pub fn history_points(&self, secs: u64) -> Vec<shoal_store::Sample> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let points: Vec<_> = h.iter().filter(|s| s.at + secs >= now).collect();
        let step = points.len().div_ceil(1000).max(1);
        points.into_iter().step_by(step).cloned().collect()
    }

    /// Sampled history: `range=24h` (every sample) or `7d` (at most ~1000 points).
    fn trends(&self, query: &[u8]) -> Result<serde_json::Value, String> {
        let mut range = "24h".to_owned();
        for (k, v) in shoal_protocol::http::query_pairs(query) {
            if k == b"range" {
                range = String::from_utf8_lossy(v).into_owned();
            }
        }
        let secs = match range.as_str() {
            "24h" => 86_400,
            "7d" => 7 * 86_400,
            other => return Err(format!("range={other:?}: use 24h or 7d")),
        };
        let series: Vec<_> = self
            .history_points(secs)
            .iter()
            .map(|s| {
                json!({
                    "at": s.at, "torrents": s.torrents, "peers": s.peers,
                    "seeders": s.seeders, "leechers": s.leechers, "announces": s.announces,
                })
            })
            .collect();
        Ok(json!({ "range": range, "points": series }))
    }

    fn admin(&self, req: &ApiRequest<'_>, path: &str, body: &mut Vec<u8>) -> Option<Reply> {
        let err = |body: &mut Vec<u8>, status: u16, msg: String| {
            json_body(body, &json!({ "error": msg }));
            reply(status, JSON)
        };
        let hex_list = |set: &std::collections::HashSet<InfoHash>| {
            let mut v: Vec<String> = set.iter().map(InfoHash::to_hex).collect();
            v.sort();
            v
        };
        let _guard = self.admin_lock.lock().unwrap_or_else(|e| e.into_inner());
        match (req.method, path) {
            ("GET", "/api/admin/access-list") => {
                let l = self.engine.access_list();
                let mode = match l.mode {
                    shoal_engine::access::AccessMode::Off => "off",
                    shoal_engine::access::AccessMode::Allow => "allow",
                    shoal_engine::access::AccessMode::Deny => "deny",
                };
                json_body(
                    body,
                    &json!({ "mode": mode, "file": hex_list(&l.file), "api": hex_list(&l.api) }),
                );
                reply(200, JSON)
            }
            ("POST", "/api/admin/access-list") => {
                let parsed: Result<serde_json::Value, _> = serde_json::from_slice(req.body);
                let Some(hex) = parsed.ok().and_then(|v| {
                    v.get("info_hash")
                        .and_then(|h| h.as_str())
                        .map(str::to_owned)
                }) else {
                    return err(
                        body,
                        400,
                        "body must be {\"info_hash\": \"<40 hex digits>\"}".into(),
                    );
                };
                let Ok(h) = InfoHash::from_hex(&hex) else {
                    return err(
                        body,
                        400,
                        format!("{hex:?} is not a 40-digit hex info-hash"),
                    );
                };
                let added = self.engine.update_access_list(|l| l.api.insert(h));
                if added {
                    if let Err(e) = self.persist_access(AccessChange::Add(h)) {
                        // Refused, not half-done: an entry kept only in memory would
                        // vanish at the next restart after the caller was told it was added.
                        self.engine.update_access_list(|l| l.api.remove(&h));
                        tracing::error!(error = %e, info_hash = %h.to_hex(), "cannot persist the admin access list; entry not added");
                        return err(
                            body,
                            503,
                            format!("not added: the store cannot write ({e}); retry later"),
                        );
                    }
                }
                json_body(body, &json!({ "info_hash": h.to_hex(), "added": added }));
                reply(if added { 201 } else { 200 }, JSON)
            }
            ("DELETE", p) if p.starts_with("/api/admin/access-list/") => {
                let hex = &p["/api/admin/access-list/".len()..];
                let Ok(h) = InfoHash::from_hex(hex) else {
                    return err(
                        body,
                        400,
                        format!("{hex:?} is not a 40-digit hex info-hash"),
                    );
                };
                let (removed, in_file) = self
                    .engine
                    .update_access_list(|l| (l.api.remove(&h), l.file.contains(&h)));
                if removed {
                    if let Err(e) = self.persist_access(AccessChange::Remove(h)) {
                        // Refused, not half-done: the entry would come back at restart.
                        self.engine.update_access_list(|l| l.api.insert(h));
                        tracing::error!(error = %e, info_hash = %h.to_hex(), "cannot persist the admin access list; entry not removed");
                        return err(
                            body,
                            503,
                            format!("not removed: the store cannot write ({e}); retry later"),
                        );
                    }
                }
                if !removed && in_file {
                    return err(
                        body,
                        409,
                        "listed in the access-list file: edit the file".into(),
                    );
                }
                if !removed {
                    return err(body, 404, "not in the admin access list".into());
                }
                json_body(body, &json!({ "info_hash": h.to_hex(), "removed": true }));
                reply(200, JSON)
            }
            ("DELETE", p) if p.starts_with("/api/admin/catalog/") => {
                let hex = &p["/api/admin/catalog/".len()..];
                let Ok(h) = InfoHash::from_hex(hex) else {
                    return err(
                        body,
                        400,
                        format!("{hex:?} is not a 40-digit hex info-hash"),
                    );
                };
                let Some(catalog) = &self.catalog else {
                    return err(body, 404, "the catalog is off (catalog.enabled)".into());
                };
                let deny = shoal_protocol::http::query_pairs(req.query)
                    .any(|(k, v)| k == b"deny" && matches!(v, b"true" | b"1"));
                if deny {
                    // Refusing the torrent is an admin access-list entry in deny mode.
                    if self.engine.access_list().mode != shoal_engine::access::AccessMode::Deny {
                        return err(
                            body,
                            409,
                            "deny=true needs access_list.mode = \"deny\"".into(),
                        );
                    }
                    if self.engine.update_access_list(|l| l.api.insert(h)) {
                        if let Err(e) = self.persist_access(AccessChange::Add(h)) {
                            self.engine.update_access_list(|l| l.api.remove(&h));
                            return err(
                                body,
                                503,
                                format!("not denied: the store cannot write ({e}); retry later"),
                            );
                        }
                    }
                }
                match catalog.remove(&h) {
                    Ok(removed) if removed || deny => {
                        json_body(
                            body,
                            &json!({ "info_hash": h.to_hex(), "removed": removed, "denied": deny }),
                        );
                        reply(200, JSON)
                    }
                    Ok(_) => err(body, 404, "not in the catalog".into()),
                    Err(e) => err(body, 503, format!("not removed: {e}; retry later")),
                }
            }
            (method, p) if p.starts_with("/api/admin/preview/") => {
                let Some(catalog) = self.catalog.as_deref().filter(|c| c.preview_on()) else {
                    return err(body, 404, "the preview is off (catalog.preview)".into());
                };
                let (status, v) = crate::search::preview_admin(catalog, method, p, req.body);
                json_body(body, &v);
                reply(status, JSON)
            }
            ("POST", "/api/admin/catalog/reindex") => {
                let Some(indexer) = &self.indexer else {
                    return err(body, 404, "the catalog is off (catalog.enabled)".into());
                };
                indexer.rebuild();
                json_body(
                    body,
                    &json!({ "reindex": "started", "documents": indexer.stats().documents.load(std::sync::atomic::Ordering::Relaxed) }),
                );
                reply(202, JSON)
            }
            ("POST", "/api/admin/reload") => {
                // The same path as SIGHUP: access-list file and TLS certificate.
                (self.reload)();
                json_body(
                    body,
                    &json!({ "reloading": ["access_list.file", "http.tls_cert"] }),
                );
                reply(202, JSON)
            }
            ("DELETE", p) if p.starts_with("/api/admin/torrents/") => {
                let hex = &p["/api/admin/torrents/".len()..];
                let Ok(h) = InfoHash::from_hex(hex) else {
                    return err(
                        body,
                        400,
                        format!("{hex:?} is not a 40-digit hex info-hash"),
                    );
                };
                if !self.engine.remove_torrent(&h) {
                    return err(body, 404, "no such torrent".into());
                }
                // The other nodes sharing the store remove it too (within a second).
                let logged = self.ask_store(|ack| crate::store::Command::SwarmRemoved(h, ack));
                if let Err(e) = &logged {
                    tracing::warn!(error = %e, info_hash = %h.to_hex(), "swarm removed here only: cannot tell the other nodes");
                }
                json_body(
                    body,
                    &json!({ "info_hash": h.to_hex(), "removed": true, "other_nodes_told": logged.is_ok() }),
                );
                reply(200, JSON)
            }
            _ => err(body, 404, "no such admin endpoint".into()),
        }
    }
}

/// `RcvbufErrors` and `InErrors` of the `Udp:` lines in /proc/net/snmp: datagrams the
/// kernel dropped because a socket buffer was full, and all receive errors.
fn kernel_udp_errors() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .and_then(|i| values.get(i)?.parse().ok())
    };
    Some((get("RcvbufErrors")?, get("InErrors")?))
}

use crate::views::torrent_json;

fn json_body(body: &mut Vec<u8>, v: &serde_json::Value) {
    body.extend_from_slice(v.to_string().as_bytes());
    body.push(b'\n');
}

/// Hands a request to the site's account pages (axum, run to completion here: the
/// front end runs these paths where blocking is allowed) and writes its answer.
#[cfg(feature = "web")]
fn portal_reply(
    portal: &shoal_portal::Portal,
    req: &ApiRequest<'_>,
    path: &str,
    body: &mut Vec<u8>,
) -> Reply {
    let r = portal.handle_blocking(&shoal_portal::PortalRequest {
        method: req.method,
        path,
        query: std::str::from_utf8(req.query).unwrap_or(""),
        cookie: req.web.cookie,
        host: req.web.host,
        accept_language: req.web.accept_language,
        content_type: req.web.content_type,
        body: req.body,
        client: shoal_portal::Client {
            addr: req.client,
            https: req.web.https,
        },
    });
    body.extend_from_slice(&r.body);
    Reply {
        status: r.status,
        content_type: r.kind.content_type(),
        headers: "",
        owned_headers: r.headers,
    }
}

/// What one listener answers beyond the tracker: the JSON API, and the web UI when
/// `web_pages` (the tracker listeners can leave it to the `[web]` listeners).
pub struct Front {
    pub api: Arc<Api>,
    pub web_pages: bool,
}

impl Routes for Front {
    fn route(&self, req: &ApiRequest<'_>, body: &mut Vec<u8>) -> Option<Reply> {
        self.api.route(req, body, self.web_pages)
    }

    /// The upload form takes `.torrent` files up to the site's cap (plus the form).
    fn max_body(&self, path: &[u8]) -> usize {
        #[cfg(feature = "web")]
        if self.web_pages && path == shoal_portal::UPLOAD_PATH {
            if let Some(max) = self.api.max_upload {
                return max;
            }
        }
        let _ = path;
        0
    }

    /// Admin writes wait until the store thread has committed them.
    fn may_block(&self, _method: &str, path: &[u8]) -> bool {
        // The site's pages wait for the store and for password hashing.
        #[cfg(feature = "web")]
        if self.web_pages && self.api.portal.is_some() && shoal_portal::is_portal_path(path) {
            return true;
        }
        // Admin writes wait for the store; a torrent's catalog entry is read by the
        // catalog thread, which the request waits for; preview files are read from disk.
        // Every admin call takes the admin lock, which a write may hold while it waits.
        // Searches wait for a search thread.
        path.starts_with(b"/api/admin/")
            || (self.api.catalog.is_some()
                && (path.starts_with(b"/api/torrents/")
                    || path.starts_with(b"/torrent/")
                    || path.starts_with(b"/preview/")
                    || path.starts_with(b"/api/catalog/")
                    || path.starts_with(b"/catalog")
                    || path.starts_with(b"/torznab/")
                    || path == b"/"))
    }
}

impl Api {
    fn route(&self, req: &ApiRequest<'_>, body: &mut Vec<u8>, web_pages: bool) -> Option<Reply> {
        let path = std::str::from_utf8(req.path).ok()?;
        let (query, authorization) = (req.query, req.authorization);
        // Without the web feature there are no pages to serve.
        #[cfg(not(feature = "web"))]
        let _ = web_pages;
        #[cfg(feature = "web")]
        if web_pages && shoal_portal::is_portal_path(req.path) {
            if let Some(portal) = &self.portal {
                return Some(portal_reply(portal, req, path, body));
            }
        }
        if path == "/health/ready" {
            return self.ready(body);
        }
        if path == "/api/cluster" {
            return self.cluster_json(body);
        }
        if path == "/metrics" {
            self.metrics(body);
            return reply(200, PROMETHEUS);
        }
        if path == "/api/admin" || path.starts_with("/api/admin/") {
            if !self.authorized(authorization) {
                json_body(body, &json!({"error": "missing or wrong bearer token"}));
                // RFC 6750 §3: a 401 names the scheme it wants.
                return Some(Reply {
                    headers: "WWW-Authenticate: Bearer realm=\"shoal admin\"\r\n",
                    ..Reply::new(401, JSON)
                });
            }
            return self.admin(req, path, body);
        }
        #[cfg(feature = "web")]
        if web_pages && !path.starts_with("/api/") && matches!(req.method, "GET" | "HEAD") {
            fn text(b: Option<&[u8]>) -> Option<&str> {
                b.and_then(|b| std::str::from_utf8(b).ok())
            }
            let web_req = shoal_web::Request {
                path,
                query: std::str::from_utf8(query).unwrap_or(""),
                accept_language: text(req.web.accept_language),
                cookie: text(req.web.cookie),
                host: text(req.web.host),
            };
            if let Some(r) = self.web.handle(&web_req, self) {
                body.extend_from_slice(&r.body);
                return Some(Reply {
                    status: r.status,
                    content_type: r.content_type,
                    headers: r.headers,
                    owned_headers: String::new(),
                });
            }
        }
        match path {
            "/api/stats" => {
                json_body(body, &self.stats());
                reply(200, JSON)
            }
            "/api/clients" => {
                let rows = self.client_rows();
                let total: u64 = rows.iter().map(|r| r.1).sum();
                let clients: Vec<_> = rows
                    .iter()
                    .map(|(c, n)| {
                        json!({
                            "client": c,
                            "peers": n,
                            "share": *n as f64 / total.max(1) as f64,
                        })
                    })
                    .collect();
                json_body(body, &json!({ "peers": total, "clients": clients }));
                reply(200, JSON)
            }
            "/api/trends" => match self.trends(query) {
                Ok(v) => {
                    json_body(body, &v);
                    reply(200, JSON)
                }
                Err(e) => {
                    json_body(body, &json!({ "error": e }));
                    reply(400, JSON)
                }
            },
            "/api/catalog/search" => {
                let (status, v) = self.catalog_search(
                    query,
                    req.web.host.and_then(|h| std::str::from_utf8(h).ok()),
                );
                json_body(body, &v);
                reply(status, JSON)
            }
            p if p.starts_with("/api/catalog/") => {
                let hex = &p["/api/catalog/".len()..];
                let (status, v) =
                    self.catalog_entry(hex, req.web.host.and_then(|h| std::str::from_utf8(h).ok()));
                json_body(body, &v);
                reply(status, JSON)
            }
            "/api/torrents" => match self.torrents(query, body) {
                Ok(()) => reply(200, JSON),
                Err(e) => {
                    body.clear();
                    json_body(body, &json!({ "error": e }));
                    reply(400, JSON)
                }
            },
            _ => {
                let hex = path.strip_prefix("/api/torrents/")?;
                let Ok(h) = InfoHash::from_hex(hex) else {
                    json_body(
                        body,
                        &json!({"error": format!("{hex:?} is not a 40-digit hex info-hash")}),
                    );
                    return reply(400, JSON);
                };
                let s = self.engine.scrape(&h);
                let mut v = torrent_json(&h, &s);
                // Samples (unix time, seeders, leechers) when the swarm was among the
                // busiest at a stats sample.
                v["history"] = json!(self.swarms.get(&h));
                if let Some(e) = self.catalog.as_ref().and_then(|c| c.entry(&h)) {
                    v["name"] = e.name.as_str().into();
                    v["size"] = e.total_size.into();
                    v["file_count"] = e.file_count.into();
                    v["piece_length"] = e.piece_length.into();
                    v["private"] = e.private.into();
                    v["info_hash_v2"] = e.info_hash_v2.map(hex::encode).into();
                    v["first_seen"] = e.first_seen.into();
                    v["resolved_at"] = e.resolved_at.into();
                    v["files_truncated"] = (e.files.len() > MAX_FILES_JSON).into();
                    v["files"] = e
                        .files
                        .iter()
                        .take(MAX_FILES_JSON)
                        .map(|(path, size)| json!({ "path": path, "size": size }))
                        .collect();
                }
                json_body(body, &v);
                reply(200, JSON)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}

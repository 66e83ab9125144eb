//! The catalog's search and downloads as the API serves them: `/api/catalog/search`,
//! `/api/catalog/<hex>`, `.torrent` files with this tracker's announce URLs, and the
//! counters behind `shoal_searches_total`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};
use shoal_engine::histogram::Histogram;
use shoal_engine::InfoHash;
use shoal_search::request::{Hit, Results, SearchError, SearchRequest};
use shoal_store::CatalogEntry;

use crate::Api;

/// Outcomes counted in `shoal_searches_total`.
pub const OUTCOMES: [&str; 5] = ["ok", "refused", "busy", "timeout", "unavailable"];

/// What searches did.
#[derive(Default)]
pub struct SearchStats {
    outcomes: [AtomicU64; OUTCOMES.len()],
    /// Time to answer, waiting for a search thread included.
    pub latency: Histogram,
}

impl SearchStats {
    /// Counts per outcome, in [`OUTCOMES`] order.
    pub fn outcomes(&self) -> Vec<u64> {
        self.outcomes.iter().map(|a| a.load(Relaxed)).collect()
    }

    fn count(&self, r: &Result<Results, SearchError>, started: Instant) {
        let i = match r {
            Ok(_) => 0,
            Err(SearchError::Query(_) | SearchError::BadParam { .. } | SearchError::TooDeep) => 1,
            Err(SearchError::Busy) => 2,
            Err(SearchError::Timeout) => 3,
            Err(SearchError::Unavailable(_)) => 4,
        };
        self.outcomes[i].fetch_add(1, Relaxed);
        self.latency
            .observe_n(started.elapsed().as_micros() as u64, 1);
    }
}

/// Where announce URLs for downloads and magnets come from.
#[derive(Default)]
pub struct Announce {
    /// `catalog.announce_urls`: used as they are when set.
    pub fixed: Vec<String>,
    /// The listeners' ports, known once they are bound.
    pub ports: OnceLock<Ports>,
}

/// The tracker listeners' ports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ports {
    /// The first UDP listener's.
    pub udp: Option<u16>,
    /// The first plain HTTP tracker listener's.
    pub http: Option<u16>,
    /// The first HTTPS tracker listener's.
    pub https: Option<u16>,
}

/// Whether `host` (a `Host` header) is a plain host name, IPv4 address or bracketed
/// IPv6 address with an optional port — safe to write into a URL.
pub fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

impl Announce {
    /// The announce URLs a client that reached us at `host` would use: the configured
    /// ones, or UDP, HTTPS and HTTP on this host name with the listeners' ports.
    pub fn urls(&self, host: Option<&str>) -> Vec<String> {
        if !self.fixed.is_empty() {
            return self.fixed.clone();
        }
        let Some(host) = host.filter(|h| plain_host(h)) else {
            return Vec::new();
        };
        // The host name without the web listener's port.
        let name = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => &host[..i],
            _ => host,
        };
        let ports = self.ports.get().copied().unwrap_or_default();
        let mut out = Vec::new();
        if let Some(p) = ports.udp {
            out.push(format!("udp://{name}:{p}/announce"));
        }
        if let Some(p) = ports.https {
            out.push(format!("https://{name}:{p}/announce"));
        }
        if let Some(p) = ports.http {
            out.push(format!("http://{name}:{p}/announce"));
        }
        out
    }
}

/// A catalog entry as a `.torrent`: its stored info dictionary between `announce`
/// (the first URL) and an `announce-list` of one tier per URL when there are several.
pub fn torrent_file(e: &CatalogEntry, announce: &[String]) -> Option<Vec<u8>> {
    let limits = shoal_metainfo::Limits::default();
    let mut t = shoal_metainfo::Torrent::from_info_bytes(e.info.clone(), &limits).ok()?;
    t.announce = announce.first().cloned();
    if announce.len() > 1 {
        t.announce_list = announce.iter().map(|u| vec![u.clone()]).collect();
    }
    Some(t.write())
}

/// A magnet link for a hit or entry.
pub fn magnet(
    info_hash: &[u8; 20],
    v2: Option<&[u8; 32]>,
    name: &str,
    announce: &[String],
) -> String {
    let mut m = format!(
        "magnet:?xt=urn:btih:{}",
        shoal_protocol::common::to_hex(info_hash)
    );
    if let Some(v2) = v2 {
        m.push_str("&xt=urn:btmh:1220");
        m.push_str(&hex::encode(v2));
    }
    m.push_str("&dn=");
    m.push_str(&shoal_search::request::form_encode(name).replace('+', "%20"));
    for a in announce {
        m.push_str("&tr=");
        m.push_str(&shoal_search::request::form_encode(a));
    }
    m
}

fn hit_json(h: &Hit, announce: &[String]) -> Value {
    json!({
        "info_hash": shoal_protocol::common::to_hex(&h.info_hash),
        "name": h.name,
        "size": h.size,
        "files": h.files,
        "category": h.category.key(),
        "newznab": h.newznab,
        "first_seen": h.first_seen,
        "seeders": h.seeders,
        "leechers": h.leechers,
        "completed": h.completed,
        "highlight": h.highlight,
        "magnet": magnet(&h.info_hash, None, &h.name, announce),
    })
}

impl Api {
    /// Runs a search on the search threads, counting it.
    pub fn run_search(&self, req: &SearchRequest) -> Result<Results, SearchError> {
        let started = Instant::now();
        let r = match &self.search {
            Some(pool) => pool.search(req),
            None => Err(SearchError::Unavailable(
                "the catalog is off (catalog.enabled)".into(),
            )),
        };
        self.search_stats.count(&r, started);
        r
    }

    /// `GET /api/catalog/search?…`: the catalog page's parameters, JSON results.
    pub(crate) fn catalog_search(&self, query: &[u8], host: Option<&str>) -> (u16, Value) {
        let qs = std::str::from_utf8(query).unwrap_or("");
        let req = match SearchRequest::from_query_string(qs) {
            Ok(r) => r,
            Err(e) => return (e.status(), json!({ "error": e.to_string() })),
        };
        match self.run_search(&req) {
            Ok(r) => {
                let announce = self.announce.urls(host);
                (
                    200,
                    json!({
                        "total": r.total,
                        "exact": r.exact,
                        "took_us": r.took_us,
                        "offset": req.offset,
                        "limit": req.limit,
                        "results": r.hits.iter().map(|h| hit_json(h, &announce)).collect::<Vec<_>>(),
                    }),
                )
            }
            Err(e) => (e.status(), json!({ "error": e.to_string() })),
        }
    }

    /// `GET /api/catalog/<hex>`: an entry's metadata, every file and live counts.
    pub(crate) fn catalog_entry(&self, hex: &str, host: Option<&str>) -> (u16, Value) {
        let Ok(h) = InfoHash::from_hex(hex) else {
            return (
                400,
                json!({"error": format!("{hex:?} is not a 40-digit hex info-hash")}),
            );
        };
        let Some(catalog) = &self.catalog else {
            return (
                404,
                json!({"error": "the catalog is off (catalog.enabled)"}),
            );
        };
        let Some(e) = catalog.entry(&h) else {
            return (404, json!({"error": "not in the catalog"}));
        };
        let s = self.engine.scrape(&h);
        let category = shoal_search::category::Category::of_files(
            e.files.iter().map(|(p, n)| (p.as_str(), *n)),
        );
        let announce = self.announce.urls(host);
        let preview = self.preview_json(&e.info_hash);
        (
            200,
            json!({
                "preview": preview,
                "info_hash": shoal_protocol::common::to_hex(&e.info_hash.0),
                "alias": e.alias.map(|a| shoal_protocol::common::to_hex(&a.0)),
                "info_hash_v2": e.info_hash_v2.map(hex::encode),
                "name": e.name,
                "size": e.total_size,
                "file_count": e.file_count,
                "piece_length": e.piece_length,
                "private": e.private,
                "category": category.key(),
                "newznab": shoal_search::newznab::of(category, &e.name),
                "first_seen": e.first_seen,
                "resolved_at": e.resolved_at,
                "last_active": e.last_active,
                "seeders": s.seeders,
                "leechers": s.leechers,
                "completed": s.completed,
                "magnet": magnet(&e.info_hash.0, e.info_hash_v2.as_ref(), &e.name, &announce),
                "torrent_url": format!("/torrent/{}.torrent", shoal_protocol::common::to_hex(&e.info_hash.0)),
                "files": e.files.iter().map(|(p, n)| json!({"path": p, "size": n})).collect::<Vec<_>>(),
            }),
        )
    }
}

impl Api {
    /// A torrent's preview record (under its catalog key: a hybrid is asked by either
    /// hash), when the preview is on.
    pub(crate) fn preview_of(
        &self,
        h: &InfoHash,
    ) -> Option<(&shoal_catalog::CatalogHandle, shoal_store::TorrentPreview)> {
        let catalog = self.catalog.as_deref().filter(|c| c.preview_on())?;
        let key = catalog.entry(h).map_or(*h, |e| e.info_hash);
        Some((catalog, catalog.preview(&key)?))
    }

    /// A torrent's preview for `/api/catalog/<hex>`: `null` when the preview is off or
    /// has not been fetched; else its state, the bytes fetched and its files with the
    /// URLs of their shown forms (those this node holds).
    fn preview_json(&self, key: &InfoHash) -> Value {
        use shoal_catalog::preview::Variant;
        let Some((catalog, p)) = self.preview_of(key) else {
            return Value::Null;
        };
        let files: Vec<Value> = p
            .files
            .iter()
            .map(|(path, f)| {
                let sha = hex::encode(f.sha256);
                let urls: serde_json::Map<String, Value> = Variant::of_kind(f.kind)
                    .iter()
                    .filter(|v| catalog.preview_held(&f.sha256, **v))
                    .map(|v| {
                        let name = v.suffix().split('.').next().unwrap_or("file");
                        (
                            name.to_owned(),
                            format!("/preview/{sha}/{}", v.suffix()).into(),
                        )
                    })
                    .collect();
                json!({
                    "path": path,
                    "kind": f.kind.as_str(),
                    "size": f.size,
                    "sha256": sha,
                    "width": f.width,
                    "height": f.height,
                    "encoding": f.encoding,
                    "truncated": f.truncated,
                    "urls": urls,
                })
            })
            .collect();
        json!({
            "state": match p.state {
                shoal_store::PreviewState::Done => "done",
                shoal_store::PreviewState::Hidden => "hidden",
            },
            "at": p.at,
            "fetched": p.fetched,
            "files": files,
        })
    }
}

/// The preview's admin endpoints (under `/api/admin/preview/`):
/// - `POST <hex>/hide` with `{}` hides a torrent's whole preview (never fetched again),
///   with `{"path": "..."}` one of its files;
/// - `GET denied` lists the deny list of file hashes;
/// - `POST denied` with `{"sha256": "<64 hex>"}` adds one (its file goes everywhere);
/// - `DELETE denied/<sha256>` takes one off.
pub(crate) fn preview_admin(
    catalog: &shoal_catalog::CatalogHandle,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Value) {
    let rest = &path["/api/admin/preview/".len()..];
    let sha_of = |s: &str| shoal_metainfo::from_hex::<32>(s).filter(|_| s.len() == 64);
    let busy = |e: String| (503, json!({ "error": format!("{e}; retry later") }));
    match (method, rest) {
        ("GET", "denied") => match catalog.preview_denied() {
            Ok(list) => (
                200,
                json!({ "denied": list.iter().map(|(s, at)| json!({"sha256": hex::encode(s), "at": at})).collect::<Vec<_>>() }),
            ),
            Err(e) => busy(e),
        },
        ("POST", "denied") => {
            let parsed: Option<Value> = serde_json::from_slice(body).ok();
            let Some(sha) = parsed
                .as_ref()
                .and_then(|v| v.get("sha256")?.as_str())
                .and_then(sha_of)
            else {
                return (
                    400,
                    json!({"error": "body must be {\"sha256\": \"<64 hex digits>\"}"}),
                );
            };
            match catalog.deny_preview(&sha, true) {
                Ok(held) => (
                    201,
                    json!({ "sha256": hex::encode(sha), "denied": true, "deleted": held }),
                ),
                Err(e) => busy(e),
            }
        }
        ("DELETE", d) if d.starts_with("denied/") => {
            let Some(sha) = sha_of(&d["denied/".len()..]) else {
                return (400, json!({"error": "not a 64-digit hex SHA-256"}));
            };
            match catalog.deny_preview(&sha, false) {
                Ok(true) => (200, json!({ "sha256": hex::encode(sha), "denied": false })),
                Ok(false) => (404, json!({"error": "not on the deny list"})),
                Err(e) => busy(e),
            }
        }
        ("POST", h) if h.ends_with("/hide") => {
            let hex = &h[..h.len() - "/hide".len()];
            let Ok(ih) = InfoHash::from_hex(hex) else {
                return (
                    400,
                    json!({"error": format!("{hex:?} is not a 40-digit hex info-hash")}),
                );
            };
            let parsed: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
                Some(json!({}))
            } else {
                serde_json::from_slice(body).ok()
            };
            let Some(parsed) = parsed.filter(Value::is_object) else {
                return (
                    400,
                    json!({"error": "body must be {} or {\"path\": \"<a file's path>\"}"}),
                );
            };
            let file = parsed.get("path").and_then(Value::as_str);
            // A hybrid is kept under one hash; either names it.
            let key = catalog.entry(&ih).map_or(ih, |e| e.info_hash);
            match catalog.hide_preview(&key, file) {
                Ok(Some(deleted)) => (
                    200,
                    json!({ "info_hash": key.to_hex(), "path": file, "hidden": true, "files_deleted": deleted }),
                ),
                Ok(None) => (404, json!({"error": "nothing to hide"})),
                Err(e) => busy(e),
            }
        }
        _ => (404, json!({"error": "no such admin endpoint"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_urls_follow_the_host_and_listeners() {
        let a = Announce::default();
        a.ports
            .set(Ports {
                udp: Some(6969),
                http: Some(8080),
                https: None,
            })
            .unwrap();
        assert_eq!(
            a.urls(Some("tracker.example:9000")),
            [
                "udp://tracker.example:6969/announce",
                "http://tracker.example:8080/announce"
            ]
        );
        assert_eq!(a.urls(Some("[::1]:9000"))[0], "udp://[::1]:6969/announce");
        assert_eq!(a.urls(Some("[::1]"))[0], "udp://[::1]:6969/announce");
        assert!(a.urls(Some("evil\"><script>")).is_empty());
        assert!(a.urls(None).is_empty());
        let fixed = Announce {
            fixed: vec!["https://t.example/announce".into()],
            ..Announce::default()
        };
        assert_eq!(fixed.urls(None), ["https://t.example/announce"]);
    }

    #[test]
    fn magnets_escape_names_and_trackers() {
        let m = magnet(&[0xab; 20], None, "a b&c", &["udp://h:1/announce".into()]);
        assert_eq!(
            m,
            format!(
                "magnet:?xt=urn:btih:{}&dn=a%20b%26c&tr=udp%3A%2F%2Fh%3A1%2Fannounce",
                "ab".repeat(20)
            )
        );
    }
}

//! The web UI's figures: `shoal_web::Source` over the engine, the front ends' counters
//! and the sampled history.

use shoal_engine::InfoHash;
use shoal_web::{Overview, Point, Sort, Source, SwarmPoint, TorrentMeta, TorrentRow};

use crate::Api;

fn row(h: &InfoHash, s: &shoal_engine::SwarmStats, name: Option<&(String, u64)>) -> TorrentRow {
    TorrentRow {
        info_hash: h.0,
        seeders: s.seeders,
        leechers: s.leechers,
        downloaders: s.downloaders,
        completed: s.completed,
        name: name.map(|n| n.0.clone()),
        size: name.map(|n| n.1),
    }
}

impl Source for Api {
    fn overview(&self) -> Overview {
        let d = self.dashboard();
        Overview {
            torrents: d.torrents,
            webtorrent_torrents: d.webtorrent_torrents,
            peers: d.peers,
            seeders: d.seeders,
            leechers: d.leechers,
            completed: d.completed,
            rates: d.rates,
            networks: d.networks,
            uptime: self.started.elapsed().as_secs(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            cluster: self.cluster.as_ref().map(|c| {
                let now = std::time::Instant::now();
                shoal_web::ClusterOverview {
                    connected: c.connected(),
                    nodes: c
                        .nodes(now)
                        .into_iter()
                        .map(|(name, f)| shoal_web::NodeRow {
                            this: name == c.node,
                            live: f.silent_for < crate::cluster::NODE_SILENT,
                            peers: f.status.local_peers,
                            announces: f.status.announces,
                            heard_secs: f.silent_for.as_secs(),
                            name,
                        })
                        .collect(),
                }
            }),
        }
    }

    fn history(&self, secs: u64) -> Vec<Point> {
        self.history_points(secs)
            .iter()
            .map(|s| Point {
                at: s.at,
                torrents: s.torrents,
                peers: s.peers,
                seeders: s.seeders,
                leechers: s.leechers,
            })
            .collect()
    }

    fn top(&self, sort: Sort, limit: usize) -> Vec<TorrentRow> {
        use shoal_engine::summary::TopBy;
        let by = match sort {
            Sort::Peers => TopBy::Peers,
            Sort::Seeders => TopBy::Seeders,
            Sort::Leechers => TopBy::Leechers,
            Sort::Completed => TopBy::Completed,
        };
        let view = self.views.get();
        view.summary
            .top(by, limit)
            .iter()
            .map(|(h, s)| row(h, s, view.names.get(h)))
            .collect()
    }

    fn torrent(&self, info_hash: &[u8; 20]) -> Option<TorrentRow> {
        let h = InfoHash(*info_hash);
        let s = self.engine.scrape(&h);
        let known = s.seeders > 0 || s.leechers > 0 || s.completed > 0;
        let name = self.views.get().names.get(&h).cloned();
        known.then(|| row(&h, &s, name.as_ref()))
    }

    fn metadata(&self, info_hash: &[u8; 20]) -> Option<TorrentMeta> {
        let e = self.catalog.as_ref()?.entry(&InfoHash(*info_hash))?;
        let category = shoal_search::category::Category::of_files(
            e.files.iter().map(|(p, n)| (p.as_str(), *n)),
        );
        Some(TorrentMeta {
            info_hash_v2: e.info_hash_v2,
            category,
            first_seen: e.first_seen,
            name: e.name,
            size: e.total_size,
            piece_length: e.piece_length,
            private: e.private,
            file_count: e.file_count,
            files: e.files,
            upload: self.upload_info(info_hash),
        })
    }

    fn swarm_history(&self, info_hash: &[u8; 20]) -> Vec<SwarmPoint> {
        self.swarms
            .get(&InfoHash(*info_hash))
            .into_iter()
            .map(|(at, seeders, leechers)| SwarmPoint {
                at,
                seeders,
                leechers,
            })
            .collect()
    }

    fn search(
        &self,
        req: &shoal_web::SearchRequest,
    ) -> Result<shoal_web::Results, shoal_web::SearchError> {
        self.run_search(req)
    }

    fn torrent_file(&self, info_hash: &[u8; 20], announce: &[String]) -> Option<Vec<u8>> {
        let e = self.catalog.as_ref()?.entry(&InfoHash(*info_hash))?;
        crate::search::torrent_file(&e, announce)
    }

    fn torrent_file_lengths(
        &self,
        info_hashes: &[[u8; 20]],
        announce: &[String],
    ) -> Vec<Option<u64>> {
        let Some(catalog) = &self.catalog else {
            return vec![None; info_hashes.len()];
        };
        let mut out = Vec::with_capacity(info_hashes.len());
        for chunk in info_hashes.chunks(shoal_catalog::service::MAX_ENTRIES_ASKED) {
            let hashes: Vec<InfoHash> = chunk.iter().map(|h| InfoHash(*h)).collect();
            out.extend(catalog.entries(&hashes).into_iter().map(|e| {
                e.and_then(|e| crate::search::torrent_file(&e, announce))
                    .map(|f| f.len() as u64)
            }));
        }
        out
    }

    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        self.announce.urls(host)
    }

    fn torznab_key(&self) -> Option<String> {
        self.torznab_key.clone()
    }

    fn preview(&self, info_hash: &[u8; 20]) -> Option<shoal_web::Preview> {
        use shoal_catalog::preview::Variant;
        let (catalog, p) = self.preview_of(&InfoHash(*info_hash))?;
        let mut shown = shoal_web::Preview::default();
        for (path, f) in p.files {
            let sha256 = hex::encode(f.sha256);
            match f.kind {
                // Files another node fetched are listed in a shared store but held on
                // its disk only: shown where they are.
                shoal_store::PreviewKind::Image => {
                    if catalog.preview_held(&f.sha256, Variant::Thumb) {
                        shown.images.push(shoal_web::PreviewImage {
                            path,
                            sha256,
                            width: f.width,
                            height: f.height,
                        });
                    }
                }
                shoal_store::PreviewKind::Text => {
                    let Some(bytes) = catalog.preview_bytes(&f.sha256, Variant::Text) else {
                        continue;
                    };
                    shown.texts.push(shoal_web::PreviewText {
                        path,
                        sha256,
                        encoding: f.encoding,
                        truncated: f.truncated,
                        text: String::from_utf8_lossy(&bytes).into_owned(),
                    });
                }
            }
        }
        Some(shown)
    }

    fn preview_file(&self, sha256: &[u8; 32], variant: &str) -> Option<Vec<u8>> {
        let v = shoal_catalog::preview::Variant::of_suffix(variant)?;
        self.catalog.as_ref()?.preview_bytes(sha256, v)
    }

    fn clients(&self) -> Vec<(String, u64)> {
        self.client_rows()
            .into_iter()
            .map(|(c, n)| (c.to_owned(), n))
            .collect()
    }
}

impl Api {
    /// The site's note on an uploaded torrent, when the site is on and has one.
    fn upload_info(&self, info_hash: &[u8; 20]) -> Option<shoal_web::UploadInfo> {
        let u = self.portal.as_ref()?.upload(&InfoHash(*info_hash))?;
        Some(shoal_web::UploadInfo {
            uploader: u.uploader,
            description: u.description,
            freeleech: u.freeleech,
        })
    }
}

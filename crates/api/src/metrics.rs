//! `/metrics`: every figure in the Prometheus text format.
//!
//! [`FAMILIES`] is the one list of metric families, each with its type and help text;
//! [`Api::metrics`] supplies the values, a line per family, and [`Exposition`] writes
//! each family's header once, before its samples.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use shoal_http::HttpStats;
use shoal_udp::UdpStats;

use crate::{kernel_udp_errors, ws_totals, Api};

/// Every metric family: name, type and help, one per line.
const FAMILIES: &str = "\
shoal_torrents gauge Torrents with peers (swarms in memory).
shoal_dormant_torrents gauge Torrents without peers kept only for their completed count.
shoal_peers gauge Peers by address family.
shoal_seeders gauge Seeders over all torrents.
shoal_leechers gauge Leechers over all torrents.
shoal_requests_total counter Requests answered, by protocol and action.
shoal_webtorrent_torrents gauge WebTorrent torrents.
shoal_webtorrent_peers gauge WebTorrent peers, by state.
shoal_webtorrent_connections gauge Open WebSocket connections.
shoal_webtorrent_connections_total counter WebSocket connections accepted.
shoal_webtorrent_relayed_total counter Offers and answers relayed between peers.
shoal_webtorrent_not_relayed_total counter Offers with no one to go to, and answers to no offer sent on their connection.
shoal_webtorrent_failures_total counter WebTorrent requests answered with a failure reason.
shoal_webtorrent_closed_total counter WebSocket connections ended by the server, by reason.
shoal_udp_datagrams_received_total counter UDP datagrams received.
shoal_udp_dropped_total counter UDP datagrams dropped without reply, by reason.
shoal_udp_errors_sent_total counter UDP error replies sent.
shoal_udp_send_failures_total counter UDP replies the kernel did not take.
shoal_limit_rejections_total counter Announces a size limit kept from being recorded.
shoal_rate_limited_total counter Requests refused by per-source rate limits.
shoal_http_connections_total counter HTTP connections accepted.
shoal_http_connections_refused_total counter HTTP connections refused, by limit.
shoal_http_requests_total counter HTTP requests answered.
shoal_http_failures_total counter Announces and scrapes answered with a failure reason.
shoal_http_bad_requests_total counter HTTP requests refused with a 4xx.
shoal_kernel_udp_receive_errors gauge Host-wide UDP receive errors from /proc/net/snmp (all processes).
shoal_store_flushes_total counter Batched writes of completed counts.
shoal_store_completed_written_total counter Torrents whose completed count was written (one per torrent per flush).
shoal_store_errors_total counter Failed store writes.
shoal_store_failing gauge 1 while the store is not taking writes (the last write failed or counts wait for a retry).
shoal_store_pending_completed gauge Torrents whose completions a failed flush left waiting for the next one.
shoal_store_last_flush_microseconds gauge Duration of the last flush.
shoal_store_changes_applied_total counter Changes other nodes (or shoal commands) made to the shared store that this node applied.
shoal_store_change_log_failing gauge 1 while the store's change log cannot be read.
shoal_cluster_connected gauge 1 while NATS is reachable.
shoal_cluster_nodes gauge Nodes heard from within 10 s, this one included.
shoal_cluster_peers gauge Peers over the cluster, each counted by the node it announced to.
shoal_cluster_node_peers gauge Peers that announced to each node, as last heard.
shoal_cluster_node_announces_total counter Announces each node answered since it started, as last heard.
shoal_cluster_published_total counter Batches of swarm changes published.
shoal_cluster_published_bytes_total counter Bytes published on the bus (batches, status, snapshots).
shoal_cluster_unpublished_changes_total counter Swarm changes not published (NATS down or refusing).
shoal_cluster_dropped_changes_total counter Swarm changes dropped because a shard's list was full between two publishes.
shoal_cluster_applied_total counter Batches from other nodes applied.
shoal_cluster_rejected_total counter Messages dropped: bad signature, malformed, replayed or out of order.
shoal_cluster_remote_changes_total counter Other nodes' peers added or refreshed, and removed, here.
shoal_cluster_snapshots_sent_total counter Swarm snapshots sent to starting nodes.
shoal_uptime_seconds gauge Seconds since start.
shoal_request_duration_seconds histogram Time to answer a request, by protocol.
shoal_catalog_entries gauge Torrents in the catalog.
shoal_catalog_pending gauge Torrents waiting to have their metadata fetched.
shoal_catalog_in_flight gauge Torrents whose metadata is being fetched now.
shoal_catalog_connections gauge Outgoing peer connections open now.
shoal_catalog_resolved_total counter Torrents resolved and stored.
shoal_catalog_fetch_failures_total counter Metadata fetches from one peer that failed, by reason.
shoal_catalog_given_up_total counter Torrents given up after every try failed.
shoal_catalog_revisited_total counter Given-up torrents tried again because their swarm grew.
shoal_catalog_forgotten_total counter Unresolved torrents forgotten after a time without peers.
shoal_catalog_dropped_total counter New torrents not queued because the queue was full.
shoal_catalog_dials_refused_total counter Peer addresses not dialed, by reason.
shoal_catalog_denied_names_total counter Resolved torrents kept out for a denied word in their name.
shoal_catalog_removed_total counter Entries removed by the cap or an admin.
shoal_catalog_time_to_metadata_seconds histogram Time from a torrent's first announce to its stored entry.
shoal_preview_queued gauge Torrents waiting for or being fetched for a content preview.
shoal_preview_sessions_running gauge Preview peer sessions open now.
shoal_preview_torrents_total counter Torrents whose preview was settled, by outcome (kept, partial: some chosen files missing, nothing: no file to preview, unavailable: no peer gave a piece, tried again later).
shoal_preview_dropped_total counter Torrents not queued for a preview because the queue was full.
shoal_preview_sessions_total counter Preview peer sessions started.
shoal_preview_pieces_total counter Pieces fetched for previews, by result (verified, failed).
shoal_preview_bad_peers_total counter Peers dropped from a torrent's preview for sending bad data.
shoal_preview_fetched_bytes_total counter Bytes of piece data received for previews.
shoal_preview_shown_bytes_total counter Bytes of original files kept for showing.
shoal_preview_files_total counter Preview files kept, by kind.
shoal_preview_images_refused_total counter Images not shown: not an image, too large or broken.
shoal_preview_store_bytes gauge Bytes the kept preview files take on disk.
shoal_preview_store_files gauge Preview files kept.
shoal_preview_evictions_total counter Preview files evicted for the disk budget.
shoal_preview_write_errors_total counter Preview files that could not be written to disk.
shoal_preview_time_seconds histogram Time from a torrent's stored metadata to its kept preview.
shoal_index_documents gauge Torrents searchable in the catalog's index.
shoal_index_indexed_total counter Catalog entries written to the search index.
shoal_index_removed_total counter Documents removed from the search index.
shoal_index_commits_total counter Search index commits.
shoal_index_errors_total counter Search index writes or commits that failed.
shoal_index_rebuilds_total counter Full rebuilds of the search index from the store.
shoal_index_rebuilding gauge 1 while the search index is being rebuilt or caught up.
shoal_searches_total counter Catalog searches (page, API, RSS, Torznab), by outcome.
shoal_search_duration_seconds histogram Time to answer a catalog search, waiting included.
shoal_build_info gauge Version of this shoal.
";

/// The type and help of `name` from [`FAMILIES`].
fn describe(name: &str) -> (&'static str, &'static str) {
    FAMILIES
        .lines()
        .find_map(|line| {
            let (n, rest) = line.split_once(' ')?;
            (n == name).then(|| rest.split_once(' '))?
        })
        .unwrap_or_else(|| panic!("metric {name} is not in FAMILIES"))
}

/// The text being written.
struct Exposition(String);

impl Exposition {
    /// A family's header, then its samples (label set, value).
    fn family(&mut self, name: &str, samples: &[(&str, u64)]) {
        self.header(name);
        for (labels, v) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.0, "{name} {v}");
            } else {
                let _ = writeln!(self.0, "{name}{{{labels}}} {v}");
            }
        }
    }

    /// A family with one unlabelled sample.
    fn one(&mut self, name: &str, value: u64) {
        self.family(name, &[("", value)]);
    }

    /// A family with one sample per reason: `reason="…"` labels.
    fn by_reason(&mut self, name: &str, reasons: &[&str], values: &[u64]) {
        let labels: Vec<String> = reasons.iter().map(|r| format!("reason=\"{r}\"")).collect();
        let samples: Vec<(&str, u64)> = labels
            .iter()
            .map(String::as_str)
            .zip(values.iter().copied())
            .collect();
        self.family(name, &samples);
    }

    /// One histogram series: cumulative bucket counts against their upper bounds in
    /// seconds (the last is +Inf), the sum in seconds and the count; `labels` (may be
    /// empty) go before `le`.
    fn series(
        &mut self,
        name: &str,
        labels: &str,
        bounds: &[f64],
        cumulative: &[u64],
        sum: f64,
        count: u64,
    ) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, c) in cumulative.iter().enumerate() {
            let le = bounds.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(self.0, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {c}");
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(self.0, "{name}_sum{braces} {sum}");
        let _ = writeln!(self.0, "{name}_count{braces} {count}");
    }

    fn header(&mut self, name: &str) {
        let (kind, help) = describe(name);
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Relaxed)
}

impl Api {
    /// Writes every figure as Prometheus text.
    pub(crate) fn metrics(&self, out: &mut Vec<u8>) {
        let mut m = Exposition(String::with_capacity(4096));
        let e = self.views.get().summary.stats;
        m.one("shoal_torrents", e.torrents);
        m.one("shoal_dormant_torrents", e.dormant);
        let families = [
            ("family=\"ipv4\"", e.peers_v4),
            ("family=\"ipv6\"", e.peers_v6),
        ];
        m.family("shoal_peers", &families);
        m.one("shoal_seeders", e.seeders);
        m.one("shoal_leechers", e.leechers);
        self.requests(&mut m);
        self.webtorrent(&mut m);
        if let Some(u) = &self.udp {
            m.one("shoal_udp_datagrams_received_total", get(&u.received));
            let dropped = [
                ("reason=\"malformed\"", get(&u.dropped_malformed)),
                (
                    "reason=\"bad_connection_id\"",
                    get(&u.dropped_bad_connection_id),
                ),
            ];
            m.family("shoal_udp_dropped_total", &dropped);
            m.one("shoal_udp_errors_sent_total", get(&u.errors_sent));
            m.one("shoal_udp_send_failures_total", get(&u.send_failures));
        }
        let reasons = [
            "too_many_torrents",
            "torrent_creation_rate",
            "too_many_peers",
            "swarm_full",
        ];
        let rejections = self.engine.rejections().map(|(_, n)| n);
        m.by_reason("shoal_limit_rejections_total", &reasons, &rejections);
        let limited = self.gate.limits().map_or([0; 3], |l| l.limited());
        let actions = ["connect", "announce", "scrape"].map(|a| format!("action=\"{a}\""));
        let samples: Vec<(&str, u64)> = actions.iter().map(String::as_str).zip(limited).collect();
        m.family("shoal_rate_limited_total", &samples);
        let h = &self.http;
        m.one("shoal_http_connections_total", get(&h.connections));
        let refused = [
            ("limit=\"max_connections\"", get(&h.connections_refused)),
            (
                "limit=\"max_connections_per_ip\"",
                get(&h.connections_refused_per_ip),
            ),
        ];
        m.family("shoal_http_connections_refused_total", &refused);
        m.one("shoal_http_requests_total", get(&h.requests));
        m.one("shoal_http_failures_total", get(&h.failures));
        m.one("shoal_http_bad_requests_total", get(&h.bad_requests));
        if let Some((rcvbuf, in_errors)) = kernel_udp_errors() {
            let kinds = [
                ("kind=\"rcvbuf\"", rcvbuf),
                ("kind=\"in_errors\"", in_errors),
            ];
            m.family("shoal_kernel_udp_receive_errors", &kinds);
        }
        let st = &self.store;
        m.one("shoal_store_flushes_total", get(&st.flushes));
        m.one("shoal_store_completed_written_total", get(&st.written));
        m.one("shoal_store_errors_total", get(&st.errors));
        m.one("shoal_store_failing", u64::from(!st.ready()));
        m.one("shoal_store_pending_completed", get(&st.pending));
        m.one(
            "shoal_store_last_flush_microseconds",
            get(&st.last_flush_micros),
        );
        let ch = &self.changes;
        m.one("shoal_store_changes_applied_total", get(&ch.applied));
        m.one(
            "shoal_store_change_log_failing",
            u64::from(ch.failing.load(Relaxed)),
        );
        self.cluster_metrics(&mut m);
        m.one("shoal_uptime_seconds", self.started.elapsed().as_secs());
        self.latency(&mut m);
        self.catalog(&mut m);
        self.search(&mut m);
        m.header("shoal_build_info");
        let _ = writeln!(
            m.0,
            "shoal_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out.extend_from_slice(m.0.as_bytes());
    }

    /// The cluster link, when this node is one of several.
    fn cluster_metrics(&self, m: &mut Exposition) {
        let Some(c) = &self.cluster else {
            return;
        };
        let now = std::time::Instant::now();
        m.one("shoal_cluster_connected", u64::from(c.connected()));
        let (live, totals) = c.totals(now);
        m.one("shoal_cluster_nodes", live);
        m.one("shoal_cluster_peers", totals.local_peers);
        let nodes = c.nodes(now);
        // Node names are checked ([A-Za-z0-9._-]): safe inside a label.
        let labels: Vec<String> = nodes.iter().map(|(n, _)| format!("node=\"{n}\"")).collect();
        let peers: Vec<(&str, u64)> = labels
            .iter()
            .zip(&nodes)
            .map(|(l, (_, f))| (l.as_str(), f.status.local_peers))
            .collect();
        m.family("shoal_cluster_node_peers", &peers);
        let announces: Vec<(&str, u64)> = labels
            .iter()
            .zip(&nodes)
            .map(|(l, (_, f))| (l.as_str(), f.status.announces))
            .collect();
        m.family("shoal_cluster_node_announces_total", &announces);
        let s = &c.stats;
        m.one("shoal_cluster_published_total", get(&s.published));
        m.one(
            "shoal_cluster_published_bytes_total",
            get(&s.published_bytes),
        );
        m.one(
            "shoal_cluster_unpublished_changes_total",
            get(&s.unpublished),
        );
        m.one("shoal_cluster_dropped_changes_total", get(&s.dropped));
        m.one("shoal_cluster_applied_total", get(&s.applied));
        m.one("shoal_cluster_rejected_total", get(&s.rejected));
        let kinds = [
            ("kind=\"upsert\"", get(&s.remote_upserts)),
            ("kind=\"remove\"", get(&s.remote_removals)),
        ];
        m.family("shoal_cluster_remote_changes_total", &kinds);
        m.one("shoal_cluster_snapshots_sent_total", get(&s.snapshots_sent));
    }

    /// Requests answered, by protocol and action.
    fn requests(&self, m: &mut Exposition) {
        let mut requests = vec![
            (
                "protocol=\"http\",action=\"announce\"",
                HttpStats::get(&self.http.announces),
            ),
            (
                "protocol=\"http\",action=\"scrape\"",
                HttpStats::get(&self.http.scrapes),
            ),
        ];
        if let Some(u) = &self.udp {
            let g = UdpStats::get;
            requests.extend([
                ("protocol=\"udp\",action=\"connect\"", g(&u.connects)),
                ("protocol=\"udp\",action=\"announce\"", g(&u.announces)),
                ("protocol=\"udp\",action=\"scrape\"", g(&u.scrapes)),
            ]);
        }
        if let Some(w) = &self.webtorrent {
            let s = w.stats();
            requests.extend([
                (
                    "protocol=\"webtorrent\",action=\"announce\"",
                    get(&s.announces),
                ),
                ("protocol=\"webtorrent\",action=\"scrape\"", get(&s.scrapes)),
            ]);
        }
        m.family("shoal_requests_total", &requests);
    }

    /// The WebTorrent tracker's swarms and connections, when it is on.
    fn webtorrent(&self, m: &mut Exposition) {
        let Some(w) = &self.webtorrent else {
            return;
        };
        let (sw, s) = (ws_totals(w), w.stats());
        m.one("shoal_webtorrent_torrents", sw.torrents);
        let leechers = sw.peers.saturating_sub(sw.seeders);
        let states = [
            ("state=\"seeder\"", sw.seeders),
            ("state=\"leecher\"", leechers),
        ];
        m.family("shoal_webtorrent_peers", &states);
        m.one("shoal_webtorrent_connections", s.open());
        m.one("shoal_webtorrent_connections_total", get(&s.connections));
        let relayed = [
            ("kind=\"offer\"", get(&s.offers_relayed)),
            ("kind=\"answer\"", get(&s.answers_relayed)),
        ];
        m.family("shoal_webtorrent_relayed_total", &relayed);
        let not_relayed = [
            ("kind=\"offer\"", get(&s.offers_dropped)),
            ("kind=\"answer\"", get(&s.answers_refused)),
        ];
        m.family("shoal_webtorrent_not_relayed_total", &not_relayed);
        m.one("shoal_webtorrent_failures_total", get(&s.failures));
        let closed = [
            ("reason=\"too_large\"", get(&s.too_large)),
            ("reason=\"slow_reader\"", get(&s.slow_readers)),
            ("reason=\"idle\"", get(&s.idle_closed)),
            ("reason=\"per_ip_limit\"", get(&s.refused_per_ip)),
        ];
        m.family("shoal_webtorrent_closed_total", &closed);
    }

    /// The catalog's queue, fetches and entries, when it is on.
    fn catalog(&self, m: &mut Exposition) {
        use shoal_catalog::stats::{FAILURE_REASONS, REFUSAL_REASONS, SECONDS_BOUNDS};
        let Some(c) = &self.catalog else {
            return;
        };
        let s = c.stats();
        m.one("shoal_catalog_entries", get(&s.entries));
        m.one("shoal_catalog_pending", get(&s.pending));
        m.one("shoal_catalog_in_flight", get(&s.in_flight));
        m.one("shoal_catalog_connections", get(&s.connections));
        m.one("shoal_catalog_resolved_total", get(&s.resolved));
        m.by_reason(
            "shoal_catalog_fetch_failures_total",
            &FAILURE_REASONS,
            &s.failures(),
        );
        m.one("shoal_catalog_given_up_total", get(&s.gave_up));
        m.one("shoal_catalog_revisited_total", get(&s.revisited));
        m.one("shoal_catalog_forgotten_total", get(&s.forgotten));
        m.one("shoal_catalog_dropped_total", get(&s.dropped));
        m.by_reason(
            "shoal_catalog_dials_refused_total",
            &REFUSAL_REASONS,
            &s.refusals(),
        );
        m.one("shoal_catalog_denied_names_total", get(&s.denied_names));
        m.one("shoal_catalog_removed_total", get(&s.removed));
        let name = "shoal_catalog_time_to_metadata_seconds";
        m.header(name);
        let (cumulative, sum, count) = s.time_to_metadata.snapshot();
        m.series(name, "", &SECONDS_BOUNDS, &cumulative, sum, count);
        if let Some(p) = c.preview_stats() {
            m.one("shoal_preview_queued", get(&p.queued));
            m.one("shoal_preview_sessions_running", get(&p.running));
            let done = get(&p.done);
            let partial = get(&p.partial);
            m.by_reason(
                "shoal_preview_torrents_total",
                &["kept", "partial", "nothing", "unavailable"],
                &[
                    done - partial.min(done),
                    partial,
                    get(&p.nothing),
                    get(&p.unavailable),
                ],
            );
            m.one("shoal_preview_dropped_total", get(&p.dropped));
            m.one("shoal_preview_sessions_total", get(&p.sessions));
            m.family(
                "shoal_preview_pieces_total",
                &[
                    ("result=\"verified\"", get(&p.pieces_verified)),
                    ("result=\"failed\"", get(&p.pieces_failed)),
                ],
            );
            m.one("shoal_preview_bad_peers_total", get(&p.bad_peers));
            m.one("shoal_preview_fetched_bytes_total", get(&p.bytes_fetched));
            m.one("shoal_preview_shown_bytes_total", get(&p.bytes_shown));
            m.family(
                "shoal_preview_files_total",
                &[
                    ("kind=\"image\"", get(&p.images)),
                    ("kind=\"text\"", get(&p.texts)),
                ],
            );
            m.one("shoal_preview_images_refused_total", get(&p.images_refused));
            m.one("shoal_preview_store_bytes", get(&p.store_bytes));
            m.one("shoal_preview_store_files", get(&p.store_files));
            m.one("shoal_preview_evictions_total", get(&p.evicted));
            m.one("shoal_preview_write_errors_total", get(&p.write_errors));
            let name = "shoal_preview_time_seconds";
            m.header(name);
            let (cumulative, sum, count) = p.time.snapshot();
            m.series(name, "", &SECONDS_BOUNDS, &cumulative, sum, count);
        }
    }

    /// The search index and the searches, when the catalog is on.
    fn search(&self, m: &mut Exposition) {
        let Some(indexer) = &self.indexer else {
            return;
        };
        let s = indexer.stats();
        m.one("shoal_index_documents", get(&s.documents));
        m.one("shoal_index_indexed_total", get(&s.indexed));
        m.one("shoal_index_removed_total", get(&s.removed));
        m.one("shoal_index_commits_total", get(&s.commits));
        m.one("shoal_index_errors_total", get(&s.errors));
        m.one("shoal_index_rebuilds_total", get(&s.rebuilds));
        m.one(
            "shoal_index_rebuilding",
            u64::from(s.rebuilding.load(std::sync::atomic::Ordering::Relaxed)),
        );
        let c = &self.search_stats;
        m.by_reason(
            "shoal_searches_total",
            &crate::search::OUTCOMES,
            &c.outcomes(),
        );
        let name = "shoal_search_duration_seconds";
        let bounds = shoal_engine::histogram::BOUNDS_MICROS.map(|b| b as f64 / 1e6);
        m.header(name);
        let (cumulative, sum, count) = c.latency.snapshot();
        m.series(name, "", &bounds, &cumulative, sum as f64 / 1e6, count);
    }

    /// Time to answer a request, by protocol, as a histogram.
    fn latency(&self, m: &mut Exposition) {
        let mut histograms = vec![("http", &self.http.latency)];
        if let Some(u) = &self.udp {
            histograms.push(("udp", &u.latency));
        }
        let name = "shoal_request_duration_seconds";
        let bounds = shoal_engine::histogram::BOUNDS_MICROS.map(|b| b as f64 / 1e6);
        m.header(name);
        for (proto, h) in histograms {
            let (cumulative, sum, count) = h.snapshot();
            let labels = format!("protocol=\"{proto}\"");
            m.series(name, &labels, &bounds, &cumulative, sum as f64 / 1e6, count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_type_and_help() {
        for line in FAMILIES.lines() {
            let mut parts = line.splitn(3, ' ');
            let (name, kind, help) = (parts.next(), parts.next(), parts.next());
            assert!(name.is_some_and(|n| n.starts_with("shoal_")), "{line}");
            assert!(
                matches!(kind, Some("gauge" | "counter" | "histogram")),
                "{line}"
            );
            assert!(help.is_some_and(|h| h.ends_with('.')), "{line}");
        }
        assert_eq!(describe("shoal_torrents").0, "gauge");
    }
}

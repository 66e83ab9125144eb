//! A running node: the engine, the front ends, the store thread, the views and the
//! periodic work, wired from a [`Config`]. [`Node::start`] brings it up and returns once
//! it serves; [`Node::reload`] is what SIGHUP does; [`Node::shutdown`] stops it and
//! leaves the store and the swarm snapshot consistent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use shoal_engine::gate::{Gate, Mode};
use shoal_engine::{Engine, InfoHash};
use shoal_http::{HttpServer, HttpStats};
use shoal_store::Store;
use shoal_udp::{Clock, UdpConfig, UdpServer, UdpStats};

use crate::config::{parse_secret, Config, LogFormat};
use crate::schedule::{self, Schedule};
use crate::Failure;

/// A running node.
pub struct Node {
    config: Config,
    engine: Arc<Engine>,
    clock: Clock,
    shutdown: Arc<AtomicBool>,
    reloader: Reloader,
    snapshot_path: std::path::PathBuf,
    udp: Option<UdpServer>,
    http: Option<HttpServer>,
    web_server: Option<HttpServer>,
    webtorrent: Option<Arc<shoal_http::ws::WebTorrent>>,
    views: Arc<shoal_api::views::Views>,
    threads: Threads,
}

struct Threads {
    catalog: Option<CatalogParts>,
    /// Private mode's accounts, for the last traffic flush once the front ends stopped.
    accounts: Option<Arc<std::sync::Mutex<crate::accounts::Watcher>>>,
    views: JoinHandle<()>,
    maintenance: JoinHandle<()>,
    persist: JoinHandle<Box<dyn Store>>,
    /// The link to the other nodes (`[cluster] nats`).
    cluster: Option<crate::cluster::Cluster>,
}

/// What a reload re-reads: the operator's access-list file and the TLS certificate.
#[derive(Clone)]
struct Reloader {
    engine: Arc<Engine>,
    access_file: Option<std::path::PathBuf>,
    tls: Option<Arc<shoal_http::tls::TlsState>>,
}

impl Reloader {
    fn reload(&self, why: &str) {
        if let Some(path) = &self.access_file {
            crate::access::reload_file(&self.engine, path);
        }
        match self.tls.as_ref().map(|t| t.reload()) {
            Some(Ok(())) => tracing::info!("{why}: TLS certificate reloaded"),
            Some(Err(e)) => {
                tracing::error!(error = %e, "{why}: TLS reload failed; keeping the old certificate")
            }
            None => tracing::info!("{why}: reloaded"),
        }
    }
}

/// The addresses a node listens on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// UDP tracker.
    pub udp: Vec<SocketAddr>,
    /// HTTP tracker (with the API and web UI).
    pub http: Vec<SocketAddr>,
    /// HTTPS tracker.
    pub https: Vec<SocketAddr>,
    /// Web UI and API only.
    pub web: Vec<SocketAddr>,
}

impl Node {
    /// Starts a node: checks the listeners and the data dir, opens the store, restores
    /// the swarms, binds every listener and starts the threads. Returns once it serves.
    /// Usage errors (bad config, a foreign store file) are [`Failure::Usage`].
    pub fn start(mut config: Config) -> Result<Node, Failure> {
        if !ipv6_available() {
            for (key, list) in listener_lists(&mut config) {
                let dropped = drop_ipv6_beside_ipv4(list);
                if !dropped.is_empty() {
                    tracing::warn!(
                        key,
                        ?dropped,
                        "this host has no IPv6: listening on IPv4 only"
                    );
                }
            }
        }
        check_listeners(&config)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Failure::Usage(format!(
                "config key `data_dir` = {:?}: cannot create: {e}",
                config.data_dir.display().to_string()
            ))
        })?;

        raise_fd_limit();

        // Certificate problems are configuration errors: report them before binding anything.
        if let Some((_, files)) = &config.http(1).tls {
            shoal_http::tls::load(files).map_err(|e| {
                Failure::Usage(format!("config key `http.tls_cert`/`http.tls_key`: {e}"))
            })?;
        }

        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed)
            .map_err(|e| Failure::Runtime(format!("no OS randomness: {e}")))?;
        let engine = Arc::new(Engine::new(config.engine(), u64::from_le_bytes(seed)));
        let clock = Clock::new();
        engine.update_access_list(|l| l.mode = crate::access::mode(config.access_mode()));
        let access_file = (!config.access_list.file.as_os_str().is_empty())
            .then(|| config.access_list.file.clone());
        let access_stamp = access_file.as_deref().and_then(crate::access::stamp);
        if let Some(path) = &access_file {
            if !crate::access::reload_file(&engine, path) {
                return Err(Failure::Usage(format!(
                    "config key `access_list.file` = {:?}: cannot be read",
                    path.display().to_string()
                )));
            }
        }
        let l = &config.limits;
        let limits = (l.connect_rate > 0 || l.announce_rate > 0 || l.scrape_rate > 0).then(|| {
            shoal_engine::ratelimit::SourceLimits::new(
                (l.connect_rate, l.connect_burst),
                (l.announce_rate, l.announce_burst),
                (l.scrape_rate, l.scrape_burst),
                l.max_tracked_sources,
                u64::from_le_bytes(seed) ^ 0x5eed,
            )
        });
        let target = crate::backend::Target::of(&config);
        // Every front end admits through this one gate.
        let passkeys = match config.tracker.mode {
            crate::config::TrackerMode::Open | crate::config::TrackerMode::Listed => None,
            crate::config::TrackerMode::Private => {
                Some(Arc::new(shoal_engine::passkeys::PasskeyTable::new()))
            }
        };
        let mode = match &passkeys {
            None => Mode::Open,
            Some(t) => Mode::Private(t.clone()),
        };
        let gate = Arc::new(Gate::new(engine.clone(), limits, mode));
        // Passkeys are loaded before any listener opens.
        let accounts = match &passkeys {
            Some(table) => Some(crate::accounts::Watcher::start(
                &target,
                table.clone(),
                engine.clone(),
                config.accounts.clone(),
            )?),
            None => None,
        };
        let store = target.open("the tracker")?;
        let changes_from;
        let snapshot_path = config.data_dir.join("swarms.snapshot");
        {
            // Taken (and forgotten) at every start, also with snapshots off: a mark vouches
            // for a snapshot only at the first start after the shutdown that wrote it.
            let mark = store.take_snapshot_mark().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read which swarm snapshot was written last");
                None
            });
            if config.tracker.snapshot {
                restore_snapshot(&engine, &snapshot_path, mark, clock);
            }
            let counts = store
                .load_completed()
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let n = engine.load_completed(&counts);
            // Read before what the changes change: a change made in between is applied
            // (again) by the follower, never missed.
            changes_from = store
                .last_tracker_change()
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let entries = store
                .load_access_entries()
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let admin_entries = entries.len();
            engine.update_access_list(|l| l.api = entries.into_iter().collect());
            tracing::info!(store = %target.describe(), completed_counts = n, admin_access_entries = admin_entries, "store opened");
        }
        let (store_tx, store_rx) = std::sync::mpsc::channel();
        let store_stats = Arc::new(shoal_api::store::StoreStats::default());
        let history: shoal_api::store::History = Default::default();
        let swarm_history = Arc::new(shoal_api::store::SwarmHistory::default());
        crate::persist::load_history(
            store.as_ref(),
            &history,
            &swarm_history,
            config.store.history_days * 86_400,
        );
        let shutdown = Arc::new(AtomicBool::new(false));
        let workers = config.effective_workers();
        // What this node answered, counted once its listeners exist (the cluster link
        // starts before them).
        let announces: Arc<std::sync::OnceLock<Box<dyn Fn() -> u64 + Send + Sync>>> =
            Arc::default();
        // The other nodes' swarms arrive before the listeners open (or after a timeout).
        let cluster = match parse_secret(&config.udp.connection_id_secret) {
            Some(secret) if !config.cluster.nats.is_empty() => {
                let c = &config.cluster;
                let file = crate::config::ClusterSection::file;
                let settings = crate::cluster::Settings {
                    node: c.effective_node_id(),
                    servers: c.nats.clone(),
                    key: shoal_protocol::cluster::ClusterKey::derive(&secret),
                    snapshot_timeout: Duration::from_secs(c.snapshot_timeout),
                    ca: file(&c.nats_ca),
                    client_cert: file(&c.nats_cert).zip(file(&c.nats_key)),
                    credentials: file(&c.nats_credentials),
                    announces: Box::new({
                        let announces = announces.clone();
                        move || announces.get().map_or(0, |f| f())
                    }),
                };
                Some(crate::cluster::Cluster::start(
                    settings,
                    engine.clone(),
                    clock,
                    shutdown.clone(),
                )?)
            }
            _ => None,
        };

        let udp = if config.udp.listen.is_empty() {
            None
        } else {
            let secret = match parse_secret(&config.udp.connection_id_secret) {
                Some(s) => s,
                None => {
                    let mut s = [0u8; 16];
                    getrandom::fill(&mut s)
                        .map_err(|e| Failure::Runtime(format!("no OS randomness: {e}")))?;
                    s
                }
            };
            let udp_config = UdpConfig {
                listen: config.udp.listen.clone(),
                workers,
                batch_size: config.udp.batch_size,
                recv_buffer_bytes: config.udp.recv_buffer_bytes,
                connection_id_max_age: config.udp.connection_id_max_age,
                connection_id_rotation: config.udp.connection_id_rotation,
                connection_id_secret: secret,
                max_scrape_hashes: config.udp.max_scrape_hashes,
                soft_reject: config.access_list.udp_reject == crate::config::UdpReject::Soft,
            };
            Some(
                UdpServer::start(&udp_config, gate.clone(), clock, shutdown.clone())
                    .map_err(|e| Failure::Runtime(e.to_string()))?,
            )
        };
        let http_on = !(config.http.listen.is_empty() && config.http.tls_listen.is_empty());
        let webtorrent = match config.webtorrent() {
            Some(c) if http_on => {
                let mut seed = [0u8; 8];
                getrandom::fill(&mut seed)
                    .map_err(|e| Failure::Runtime(format!("no OS randomness: {e}")))?;
                Some(Arc::new(shoal_http::ws::WebTorrent::new(
                    c,
                    gate.clone(),
                    u64::from_le_bytes(seed),
                )))
            }
            _ => None,
        };
        let catalog = if config.catalog.enabled {
            Some(start_catalog(&config, &engine, &target, shutdown.clone())?)
        } else {
            None
        };
        let catalog_handle = catalog.as_ref().map(|c| c.handle.clone());
        // The JSON API and web UI, shared by the tracker's HTTP listeners and `[web] listen`.
        let http_stats = Arc::new(HttpStats::default());
        let started = std::time::Instant::now();
        let views = Arc::new(shoal_api::views::Views::new(
            engine.clone(),
            Box::new(shoal_api::ViewCounters {
                udp: udp.as_ref().map(|u| u.stats().clone()),
                http: http_stats.clone(),
                webtorrent: webtorrent.clone(),
                catalog: catalog_handle.clone(),
            }),
            started,
        ));
        let views_thread = views
            .spawn()
            .map_err(|e| Failure::Runtime(format!("cannot start the views thread: {e}")))?;
        // Set by `POST /api/admin/reload`; the maintenance thread does the reload.
        let reload_asked = Arc::new(AtomicBool::new(false));
        let announce = Arc::new(shoal_api::search::Announce {
            fixed: config.catalog.announce_urls.clone(),
            ports: Default::default(),
        });
        #[cfg(feature = "web")]
        let site = Arc::new(shoal_api::SiteHooks {
            engine: engine.clone(),
            announce: announce.clone(),
            indexer: catalog.as_ref().map(|c| c.indexer.clone()),
            catalog: catalog_handle.clone(),
        });
        // Other nodes' (and `shoal` commands') changes to the shared store. On a SQLite
        // store this node's catalog thread is the only one indexing it.
        let mut follower = {
            let shared = matches!(target, crate::backend::Target::Postgres { .. });
            let indexer = catalog
                .as_ref()
                .filter(|_| shared)
                .map(|c| c.indexer.clone());
            crate::changes::Follower::new(
                target.open("changes")?,
                engine.clone(),
                indexer,
                changes_from,
            )
        };
        let api = Arc::new(shoal_api::Api {
            engine: engine.clone(),
            udp: udp.as_ref().map(|u| u.stats().clone()),
            http: http_stats.clone(),
            started,
            admin_token: (!config.admin.token.is_empty()).then(|| config.admin.token.clone()),
            store_tx: std::sync::Mutex::new(store_tx),
            admin_lock: std::sync::Mutex::new(()),
            gate: gate.clone(),
            store: store_stats.clone(),
            history: history.clone(),
            webtorrent: webtorrent.clone(),
            swarms: swarm_history.clone(),
            views: views.clone(),
            catalog: catalog_handle,
            search: catalog.as_ref().map(|c| c.search.clone()),
            indexer: catalog.as_ref().map(|c| c.indexer.clone()),
            cluster: cluster.as_ref().map(|c| c.view.clone()),
            changes: follower.stats(),
            search_stats: Default::default(),
            announce,
            torznab_key: (!config.catalog.torznab_key.is_empty())
                .then(|| config.catalog.torznab_key.clone()),
            reload: Box::new({
                let asked = reload_asked.clone();
                move || asked.store(true, Ordering::Relaxed)
            }),
            // Every page links to the site's account page.
            #[cfg(feature = "web")]
            web: shoal_web::Web::default().with_account_link(true),
            #[cfg(feature = "web")]
            portal: Some(open_portal(&config, &target, &engine, site)?),
            // The form around the file: a few fields and the multipart framing.
            #[cfg(feature = "web")]
            max_upload: Some(config.portal.max_torrent_bytes + shoal_portal::UPLOAD_FORM_OVERHEAD),
            #[cfg(not(feature = "web"))]
            max_upload: None,
        });
        let http = if !http_on {
            None
        } else {
            Some(
                HttpServer::start(
                    config.http(workers),
                    gate.clone(),
                    Box::new(EngineClock(clock)),
                    http_stats.clone(),
                    Some(Arc::new(shoal_api::Front {
                        api: api.clone(),
                        web_pages: config.web.on_tracker_listener,
                    })),
                    webtorrent.clone(),
                )
                .map_err(|e| Failure::Runtime(e.to_string()))?,
            )
        };
        let web_server = if config.web.listen.is_empty() {
            None
        } else {
            Some(
                HttpServer::start(
                    shoal_http::HttpConfig {
                        listen: config.web.listen.clone(),
                        workers: 1,
                        tls: None,
                        tracker: false,
                        label: "web",
                        ..config.http(1)
                    },
                    gate.clone(),
                    Box::new(EngineClock(clock)),
                    Arc::new(HttpStats::default()),
                    Some(Arc::new(shoal_api::Front {
                        api: api.clone(),
                        web_pages: true,
                    })),
                    None,
                )
                .map_err(|e| Failure::Runtime(e.to_string()))?,
            )
        };
        drop_privileges(&config)?;
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            workers,
            data_dir = %config.data_dir.display(),
            "shoal started"
        );

        let count_announces = {
            let udp_stats = udp.as_ref().map(|u| u.stats().clone());
            let http_stats = http.as_ref().map(|h| h.stats().clone());
            move || {
                udp_stats
                    .as_ref()
                    .map_or(0, |s| UdpStats::get(&s.announces))
                    + http_stats
                        .as_ref()
                        .map_or(0, |s| HttpStats::get(&s.announces))
            }
        };
        let _ = announces.set(Box::new(count_announces.clone()));
        let persist = {
            let p = crate::persist::Persist {
                store,
                engine: engine.clone(),
                stats: store_stats.clone(),
                history: history.clone(),
                swarms: swarm_history.clone(),
                flush_every: Duration::from_secs(config.store.flush_interval),
                sample_every: Duration::from_secs(config.store.sample_interval),
                keep_secs: config.store.history_days * 86_400,
                commands: store_rx,
                pending: Default::default(),
                lookups: Vec::new(),
                announces: Box::new(count_announces),
            };
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name("shoal-store".into())
                .spawn(move || p.run(&shutdown))
                .map_err(|e| Failure::Runtime(format!("cannot start store thread: {e}")))?
        };

        // The periodic work on swarms and the operator's file: one schedule, one thread.
        let purge_every = Duration::from_secs(u64::from(config.tracker.purge_interval));
        let mut schedule = Schedule::new().every("purge", purge_every, {
            let (engine, gate, webtorrent) = (engine.clone(), gate.clone(), webtorrent.clone());
            move |_: &mut ()| purge(&engine, webtorrent.as_deref(), gate.limits(), clock)
        });
        if let Some(path) = access_file.clone() {
            let engine = engine.clone();
            let mut last = access_stamp;
            let every = Duration::from_secs(config.access_list.reload_interval);
            schedule = schedule.every("access-list", every, move |_: &mut ()| {
                crate::access::reload_if_changed(&engine, &path, &mut last)
            });
        }
        let accounts = accounts.map(|w| Arc::new(std::sync::Mutex::new(w)));
        if let Some(watcher) = accounts.clone() {
            // One watcher, two jobs (and the last flush at shutdown): shared.
            let w = watcher.clone();
            schedule = schedule.every("accounts", crate::accounts::POLL, move |_: &mut ()| {
                w.lock().unwrap_or_else(|e| e.into_inner()).poll()
            });
            let every = Duration::from_secs(config.store.flush_interval);
            schedule = schedule.every("traffic", every, move |_: &mut ()| {
                watcher.lock().unwrap_or_else(|e| e.into_inner()).flush()
            });
        }
        schedule = schedule.every("changes", crate::changes::POLL, move |_: &mut ()| {
            follower.poll()
        });
        let reloader = Reloader {
            engine: engine.clone(),
            access_file: access_file.clone(),
            tls: http.as_ref().and_then(HttpServer::tls),
        };
        schedule = schedule.every("reload", schedule::TICK, {
            let reloader = reloader.clone();
            move |_: &mut ()| {
                if reload_asked.swap(false, Ordering::Relaxed) {
                    reloader.reload("reload requested");
                }
            }
        });
        let maintenance = {
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name("shoal-maintenance".into())
                .spawn(move || schedule.run(&mut (), &shutdown, schedule::sleep))
                .map_err(|e| Failure::Runtime(format!("cannot start maintenance thread: {e}")))?
        };
        let _ = api.announce.ports.set(shoal_api::search::Ports {
            udp: udp
                .as_ref()
                .and_then(|u| u.local_addrs().first().map(|a| a.port())),
            http: http
                .as_ref()
                .and_then(|h| h.local_addrs().first().map(|a| a.port())),
            https: http
                .as_ref()
                .and_then(|h| h.tls_addrs().first().map(|a| a.port())),
        });
        Ok(Node {
            config,
            engine,
            clock,
            shutdown,
            reloader,
            snapshot_path,
            udp,
            http,
            web_server,
            webtorrent,
            views,
            threads: Threads {
                accounts,
                views: views_thread,
                maintenance,
                persist,
                catalog,
                cluster,
            },
        })
    }

    /// Where the node listens: UDP, HTTP, HTTPS and web-only addresses (ports resolved).
    pub fn addresses(&self) -> Addresses {
        Addresses {
            udp: self
                .udp
                .as_ref()
                .map(|u| u.local_addrs().to_vec())
                .unwrap_or_default(),
            http: self
                .http
                .as_ref()
                .map(|h| h.local_addrs().to_vec())
                .unwrap_or_default(),
            https: self
                .http
                .as_ref()
                .map(|h| h.tls_addrs().to_vec())
                .unwrap_or_default(),
            web: self
                .web_server
                .as_ref()
                .map(|h| h.local_addrs().to_vec())
                .unwrap_or_default(),
        }
    }

    /// The swarm engine (for tests and embedding).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// What SIGHUP does: re-reads the access-list file and the TLS certificate.
    pub fn reload(&self) {
        self.reloader.reload("SIGHUP");
    }

    /// Stops serving, flushes the store and writes the swarm snapshot.
    pub fn shutdown(self) {
        let Node {
            config,
            engine,
            clock,
            shutdown,
            reloader: _,
            snapshot_path,
            udp,
            http,
            web_server,
            webtorrent,
            views,
            threads,
        } = self;
        shutdown.store(true, Ordering::Relaxed);
        if let Some(web) = web_server {
            web.shutdown(Duration::from_secs(2));
        }
        if let Some(http) = http {
            let stats = http.stats().clone();
            http.shutdown(Duration::from_secs(2));
            log_totals(
                "http",
                &[
                    ("connections", &stats.connections),
                    ("connections_refused", &stats.connections_refused),
                    ("requests", &stats.requests),
                    ("announces", &stats.announces),
                    ("scrapes", &stats.scrapes),
                    ("failures", &stats.failures),
                    ("bad_requests", &stats.bad_requests),
                ],
            );
            if let Some(w) = &webtorrent {
                let s = w.stats();
                log_totals(
                    "webtorrent",
                    &[
                        ("connections", &s.connections),
                        ("announces", &s.announces),
                        ("scrapes", &s.scrapes),
                        ("offers_relayed", &s.offers_relayed),
                        ("answers_relayed", &s.answers_relayed),
                        ("failures", &s.failures),
                        ("slow_readers", &s.slow_readers),
                    ],
                );
            }
        }
        views.stop();
        if let Some(c) = threads.cluster {
            // The last changes go out before the link closes.
            let view = c.view.clone();
            c.join();
            let stats = &view.stats;
            log_totals(
                "cluster",
                &[
                    ("published", &stats.published),
                    ("published_bytes", &stats.published_bytes),
                    ("unpublished", &stats.unpublished),
                    ("applied", &stats.applied),
                    ("rejected", &stats.rejected),
                    ("remote_upserts", &stats.remote_upserts),
                    ("remote_removals", &stats.remote_removals),
                ],
            );
        }
        let _ = threads.views.join();
        let _ = threads.maintenance.join();
        if let Some(c) = threads.catalog {
            let _ = c.thread.join();
            c.search.shutdown();
            c.indexer.stop();
            let _ = c.indexer_thread.join();
        }
        if let Some(udp) = udp {
            let stats = udp.stats().clone();
            udp.join();
            log_totals(
                "udp",
                &[
                    ("received", &stats.received),
                    ("connects", &stats.connects),
                    ("announces", &stats.announces),
                    ("scrapes", &stats.scrapes),
                    ("errors_sent", &stats.errors_sent),
                    ("dropped_malformed", &stats.dropped_malformed),
                    (
                        "dropped_bad_connection_id",
                        &stats.dropped_bad_connection_id,
                    ),
                    ("sent", &stats.sent),
                    ("send_failures", &stats.send_failures),
                ],
            );
        }
        if let Some(w) = &threads.accounts {
            w.lock().unwrap_or_else(|e| e.into_inner()).flush();
        }
        // After every front end stopped: the last counts are flushed before exit, and the
        // snapshot, written after that flush, is recorded in the store as the one to trust.
        match threads.persist.join() {
            Ok(store) if config.tracker.snapshot => {
                if let Some(id) = save_snapshot(&engine, &snapshot_path, clock) {
                    let mark = shoal_store::SnapshotMark {
                        written_at: id.written_at,
                        checksum: id.checksum,
                    };
                    if let Err(e) = store.set_snapshot_mark(&mark) {
                        tracing::error!(error = %e, "cannot record the swarm snapshot in the store; the next start will not trust it");
                    }
                }
            }
            Ok(_) => {}
            Err(_) => tracing::error!("the store thread panicked; swarm snapshot not written"),
        }
        let s = engine.stats();
        tracing::info!(
            torrents = s.torrents,
            peers_v4 = s.peers_v4,
            peers_v6 = s.peers_v6,
            "stopped"
        );
    }
}

/// Every listen list, with its config key.
fn listener_lists(config: &mut Config) -> [(&'static str, &mut Vec<std::net::SocketAddr>); 4] {
    [
        ("udp.listen", &mut config.udp.listen),
        ("http.listen", &mut config.http.listen),
        ("http.tls_listen", &mut config.http.tls_listen),
        ("web.listen", &mut config.web.listen),
    ]
}

/// Whether this host can open IPv6 sockets at all (kernels booted with
/// `ipv6.disable=1` cannot).
fn ipv6_available() -> bool {
    std::net::UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0)).is_ok()
}

/// Removes the IPv6 addresses of a list that also has IPv4 ones (the defaults listen
/// on both); returns what it removed. A list of IPv6 addresses only is left alone, so
/// binding it fails with an error naming the address.
fn drop_ipv6_beside_ipv4(list: &mut Vec<std::net::SocketAddr>) -> Vec<std::net::SocketAddr> {
    if !list.iter().any(|a| a.is_ipv4()) {
        return Vec::new();
    }
    let dropped = list.iter().copied().filter(|a| a.is_ipv6()).collect();
    list.retain(|a| a.is_ipv4());
    dropped
}

/// Refuses a config that listens on nothing; warns about a tracker protocol left off.
fn check_listeners(config: &Config) -> Result<(), Failure> {
    let udp = !config.udp.listen.is_empty();
    let http = !(config.http.listen.is_empty() && config.http.tls_listen.is_empty());
    let web = !config.web.listen.is_empty();
    if !udp && !http && !web {
        return Err(Failure::Usage(
            "nothing to listen on: udp.listen, http.listen, http.tls_listen and web.listen are all empty"
                .into(),
        ));
    }
    if !udp && !http {
        tracing::warn!("udp.listen and http.listen are empty: no tracker, only the web UI");
    } else if !udp {
        tracing::warn!("udp.listen is empty: the UDP tracker is off");
    } else if !http {
        tracing::warn!("http.listen is empty: the HTTP and WebTorrent tracker is off");
    }
    Ok(())
}

/// Becomes `config.user` when running as root, after every socket is bound: the data
/// dir is handed over first so snapshots and admin changes can still be written.
fn drop_privileges(config: &Config) -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if config.user.is_empty() {
        if root {
            tracing::warn!("running as root; set `user` to drop privileges after binding");
        }
        return Ok(());
    }
    if !root {
        tracing::info!(user = %config.user, "not root: `user` ignored");
        return Ok(());
    }
    let name = std::ffi::CString::new(config.user.as_str()).map_err(|_| {
        Failure::Usage(format!(
            "config key `user` = {:?}: not a user name",
            config.user
        ))
    })?;
    // SAFETY: getpwnam_r with a buffer we own and a passwd struct it fills.
    let (uid, gid) = unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return Err(Failure::Usage(format!(
                "config key `user` = {:?}: no such user",
                config.user
            )));
        }
        (pw.pw_uid, pw.pw_gid)
    };
    let chown = |p: &std::path::Path| std::os::unix::fs::chown(p, Some(uid), Some(gid));
    chown(&config.data_dir).map_err(|e| {
        Failure::Runtime(format!(
            "cannot hand {} to {}: {e}",
            config.data_dir.display(),
            config.user
        ))
    })?;
    if let Ok(entries) = std::fs::read_dir(&config.data_dir) {
        for e in entries.flatten() {
            let _ = chown(&e.path());
            // The search index is a directory of files written before the switch.
            if e.path().is_dir() {
                for f in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                    let _ = chown(&f.path());
                }
            }
        }
    }
    // SAFETY: plain credential syscalls; glibc applies them to every thread.
    let ok = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(gid) == 0
            && libc::setuid(uid) == 0
    };
    // SAFETY: as above; the check proves root cannot be regained.
    if !ok || unsafe { libc::setuid(0) } == 0 {
        return Err(Failure::Runtime(format!(
            "cannot switch to user {}: {}",
            config.user,
            std::io::Error::last_os_error()
        )));
    }
    tracing::info!(user = %config.user, uid, gid, "dropped root privileges");
    Ok(())
}

/// Raises the soft open-files limit to the hard one: every HTTP connection is a file
/// descriptor, and the usual soft default (1024) caps a tracker far below what it can
/// serve. `http.max_connections` stays the limit that matters.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let old = lim.rlim_cur;
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                tracing::debug!(from = old, to = lim.rlim_max, "raised open-files limit");
            }
        }
    }
}

/// Loads the swarms saved at the last graceful shutdown, once. The file is trusted only
/// when the store's `mark` names it (written after the store's last flush, and this is
/// the first start since); any other snapshot is older than what the store and the
/// clients have seen since, and would bring back peers that stopped and swarms an admin
/// removed, so it is set aside with a warning. A trusted file is removed before its
/// swarms are added, so a crash later never loads it again. Problems are reported: a
/// bad snapshot never stops the tracker.
fn restore_snapshot(
    engine: &Engine,
    path: &std::path::Path,
    mark: Option<shoal_store::SnapshotMark>,
    clock: Clock,
) {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read swarm snapshot; starting empty");
            return;
        }
    };
    let set_aside = |ext: &str| {
        let aside = path.with_extension(ext);
        match std::fs::rename(path, &aside).and_then(|()| sync_dir(path)) {
            Ok(()) => aside.display().to_string(),
            Err(e) => format!("(cannot move: {e})"),
        }
    };
    let Some(id) = shoal_engine::SnapshotId::of(&data) else {
        let moved_to = set_aside("snapshot.bad");
        tracing::warn!(path = %path.display(), error = "not laid out as a shoal swarm snapshot", %moved_to, "swarm snapshot skipped");
        return;
    };
    let expected = mark.map(|m| shoal_engine::SnapshotId {
        written_at: m.written_at,
        checksum: m.checksum,
    });
    if expected != Some(id) {
        let moved_to = set_aside("snapshot.stale");
        let why = match expected {
            None => "the store does not record it as written at the last clean shutdown".to_owned(),
            Some(m) => format!(
                "the store records a different one (written at {}, checksum {:016x})",
                m.written_at, m.checksum
            ),
        };
        tracing::warn!(
            path = %path.display(),
            written_at = id.written_at,
            checksum = %format!("{:016x}", id.checksum),
            reason = %why,
            %moved_to,
            "swarm snapshot not trusted: the store may be newer; starting without it"
        );
        return;
    }
    // Consumed before anything is restored: if it cannot be removed, a later crash would
    // bring these swarms back, so they are not restored at all.
    if let Err(e) = std::fs::remove_file(path).and_then(|()| sync_dir(path)) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove the swarm snapshot; starting without it");
        return;
    }
    match engine.restore_snapshot(&data, clock.engine_now(), clock.unix_now()) {
        Ok(s) => tracing::info!(
            torrents = s.torrents,
            peers = s.peers,
            expired = s.expired,
            "swarms restored from snapshot"
        ),
        Err(e) => {
            let aside = path.with_extension("snapshot.bad");
            let _ = std::fs::write(&aside, &data);
            tracing::warn!(path = %path.display(), error = %e, moved_to = %aside.display(), "swarm snapshot skipped");
        }
    }
}

/// Makes a rename or removal in `path`'s directory durable.
fn sync_dir(path: &std::path::Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Writes the swarms next to the data, atomically and durably (temporary file, fsync,
/// rename, fsync of the directory); returns the snapshot's identity once it is in place.
fn save_snapshot(
    engine: &Engine,
    path: &std::path::Path,
    clock: Clock,
) -> Option<shoal_engine::SnapshotId> {
    use std::io::Write;
    let tmp = path.with_extension("snapshot.tmp");
    let result =
        (|| -> std::io::Result<(shoal_engine::SnapshotStats, shoal_engine::SnapshotId)> {
            let file = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            let written = engine.write_snapshot(clock.engine_now(), clock.unix_now(), &mut w)?;
            w.flush()?;
            w.get_ref().sync_all()?;
            std::fs::rename(&tmp, path)?;
            sync_dir(path)?;
            Ok(written)
        })();
    match result {
        Ok((s, id)) => {
            tracing::info!(torrents = s.torrents, peers = s.peers, path = %path.display(), "swarms saved");
            Some(id)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::error!(path = %path.display(), error = %e, "cannot write swarm snapshot");
            None
        }
    }
}

/// The shared clock as the HTTP front end sees it.
struct EngineClock(Clock);

impl shoal_http::Now for EngineClock {
    fn now(&self) -> shoal_engine::Secs {
        self.0.engine_now()
    }
    fn millis(&self) -> u64 {
        self.0.millis()
    }
}

/// The catalog's threads and handles.
pub(crate) struct CatalogParts {
    thread: JoinHandle<()>,
    handle: Arc<shoal_catalog::CatalogHandle>,
    indexer_thread: JoinHandle<()>,
    indexer: shoal_index::indexer::IndexerHandle,
    search: Arc<shoal_index::pool::SearchPool>,
}

/// Starts the catalog: the search index (`<data_dir>/catalog-index`) with its thread
/// and search threads, and the catalog thread: its own store handle on the same file,
/// the peer-wire fetcher, and a schedule (take the engine's notes, fetch, write in
/// batches, prune) that answers the API's questions between jobs.
fn start_catalog(
    config: &Config,
    engine: &Arc<Engine>,
    target: &crate::backend::Target,
    shutdown: Arc<AtomicBool>,
) -> Result<CatalogParts, Failure> {
    let c = &config.catalog;
    let index_dir = config.data_dir.join("catalog-index");
    let index = Arc::new(shoal_index::Index::open(&index_dir).map_err(|e| match e {
        shoal_index::IndexError::Io { .. } => Failure::Usage(format!("data_dir: {e}")),
        e => Failure::Runtime(e.to_string()),
    })?);
    let index_store = target.open("catalog index")?;
    let (indexer, indexer_handle) = shoal_index::indexer::Indexer::new(index.clone(), index_store)
        .map_err(|e| match e {
            shoal_index::IndexError::Locked(_) => {
                Failure::Runtime(format!("{e}: is another shoal serving this data_dir?"))
            }
            e => Failure::Runtime(e.to_string()),
        })?;
    let indexer_thread = std::thread::Builder::new()
        .name("shoal-index".into())
        .spawn(move || indexer.run())
        .map_err(|e| Failure::Runtime(format!("cannot start the index thread: {e}")))?;
    let live_engine = engine.clone();
    let live: shoal_index::pool::Live = Arc::new(move |h: &[u8; 20]| {
        let s = live_engine.scrape(&InfoHash(*h));
        shoal_index::LiveCounts {
            seeders: s.seeders,
            leechers: s.leechers,
            completed: s.completed,
        }
    });
    let search = Arc::new(
        shoal_index::pool::SearchPool::start(
            index,
            live,
            shoal_index::pool::PoolConfig {
                threads: c.search_threads,
                queue: c.search_queue,
                timeout: Duration::from_millis(c.search_timeout_ms),
            },
        )
        .map_err(|e| Failure::Runtime(format!("cannot start the search threads: {e}")))?,
    );
    let store = target.open("catalog")?;
    let secs = Duration::from_secs;
    let resolver = shoal_catalog::resolver::ResolverConfig {
        max_concurrent: c.max_concurrent,
        peers_per_torrent: c.peers_per_torrent,
        max_connections: c.max_connections,
        max_attempts: c.max_attempts,
        retry_base: secs(c.retry_base),
        retry_max: secs(c.retry_max),
        forget_after: secs(c.forget_after),
        max_pending: c.max_pending,
        dials_per_address_per_minute: c.dials_per_address_per_minute,
        policy: shoal_catalog::dial::DialPolicy {
            allow_private: c.dial_private,
            allow: c.dial_allow.iter().filter_map(|n| n.parse().ok()).collect(),
        },
    };
    let mut peer_id = *b"-SH0100-000000000000";
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| Failure::Runtime(format!("no OS randomness: {e}")))?;
    for (slot, r) in peer_id[8..].iter_mut().zip(random) {
        *slot = b"0123456789abcdefghijklmnopqrstuvwxyz"[usize::from(r) % 36];
    }
    let fetcher = shoal_catalog::fetcher::PeerFetcher {
        options: shoal_peer::FetchOptions {
            peer_id,
            connect_timeout: secs(c.connect_timeout),
            idle_timeout: secs(c.idle_timeout),
            total_timeout: secs(c.fetch_timeout),
            max_metadata_size: u32::try_from(c.max_metadata_bytes).unwrap_or(u32::MAX),
        },
    };
    let preview = c.preview.then(|| shoal_catalog::preview::PreviewConfig {
        rules: shoal_preview::Rules {
            images: c.preview_images.clone(),
            texts: c.preview_texts.clone(),
            max_file: c.preview_max_file,
            max_total: c.preview_max_total,
            max_files: c.preview_max_files,
        },
        bounds: shoal_preview::picture::Bounds {
            max_pixels: c.preview_max_pixels,
            ..shoal_preview::picture::Bounds::default()
        },
        max_text_chars: c.preview_text_chars,
        disk_budget: c.preview_disk_budget,
        concurrent: c.preview_concurrent,
        give_up_after: secs(c.preview_give_up_after),
        retry: secs(c.preview_retry),
        dir: config.data_dir.join("preview"),
        session: shoal_peer::PieceOptions {
            peer_id,
            connect_timeout: secs(c.connect_timeout),
            idle_timeout: secs(c.idle_timeout),
            total_timeout: secs(c.preview_timeout),
            ..shoal_peer::PieceOptions::default()
        },
    });
    let settings = shoal_catalog::CatalogConfig {
        resolver,
        max_entries: c.max_entries,
        deny_words: c.deny_words.iter().map(|w| w.to_lowercase()).collect(),
        max_metadata_bytes: c.max_metadata_bytes,
        preview,
    };
    let (mut catalog, handle) =
        shoal_catalog::Catalog::new(settings, engine.clone(), store, Arc::new(fetcher))
            .map_err(|e| Failure::Runtime(format!("cannot start the catalog: {e}")))?;
    catalog.set_indexer(indexer_handle.clone());
    let schedule = Schedule::new()
        .every(
            "notes",
            Duration::from_millis(250),
            shoal_catalog::Catalog::take_notes,
        )
        .every("fetch", schedule::TICK, shoal_catalog::Catalog::step)
        .every(
            "write",
            Duration::from_secs(1),
            shoal_catalog::Catalog::flush,
        )
        .every(
            "prune",
            Duration::from_secs(60),
            shoal_catalog::Catalog::prune,
        );
    let thread = std::thread::Builder::new()
        .name("shoal-catalog".into())
        .spawn(move || {
            schedule.run(&mut catalog, &shutdown, shoal_catalog::Catalog::wait);
            catalog.finish();
        })
        .map_err(|e| Failure::Runtime(format!("cannot start the catalog thread: {e}")))?;
    Ok(CatalogParts {
        thread,
        handle: Arc::new(handle),
        indexer_thread,
        indexer: indexer_handle,
        search,
    })
}

/// Drops expired peers and idle rate-limit buckets.
fn purge(
    engine: &Engine,
    webtorrent: Option<&shoal_http::ws::WebTorrent>,
    limits: Option<&shoal_engine::ratelimit::SourceLimits>,
    clock: Clock,
) {
    let mut dropped = engine.purge_expired(clock.engine_now());
    if let Some(w) = webtorrent {
        dropped += w.swarms().purge_expired(clock.engine_now());
    }
    if let Some(l) = limits {
        l.sweep(clock.millis());
    }
    if dropped > 0 {
        tracing::debug!(dropped, "expired peers dropped");
    }
}

/// Logs a front end's counters at shutdown, as `name=value` words after "`what` totals".
fn log_totals(what: &str, counters: &[(&str, &std::sync::atomic::AtomicU64)]) {
    let words: Vec<String> = counters
        .iter()
        .map(|(name, c)| format!("{name}={}", c.load(Ordering::Relaxed)))
        .collect();
    tracing::info!("{what} totals {}", words.join(" "));
}

/// Logs to stderr as `log.level` and `log.format` say (RUST_LOG wins over the level).
pub fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The site's account pages, with a store handle of their own (opened through
/// `Target::open`; SQLite knows the process already holds the file).
#[cfg(feature = "web")]
fn open_portal(
    config: &Config,
    target: &crate::backend::Target,
    engine: &Engine,
    site: Arc<shoal_api::SiteHooks>,
) -> Result<shoal_portal::Portal, Failure> {
    let store: Arc<dyn shoal_store::Backend> = Arc::from(target.open("the site")?);
    let p = &config.portal;
    Ok(shoal_portal::Portal::new(
        store,
        shoal_portal::PortalConfig {
            registration: match p.registration {
                crate::config::Registration::Off => shoal_portal::Registration::Off,
                crate::config::Registration::Invite => shoal_portal::Registration::Invite,
                crate::config::Registration::Open => shoal_portal::Registration::Open,
            },
            private: config.tracker.mode == crate::config::TrackerMode::Private,
            // Listed mode (and an access list in allow mode) tracks what is published.
            list_uploads: engine.access_list().mode == shoal_engine::access::AccessMode::Allow,
            max_torrent_bytes: p.max_torrent_bytes,
            publish_role: match p.publish_role {
                crate::config::PublishRole::User => shoal_store::Role::User,
                crate::config::PublishRole::Uploader => shoal_store::Role::Uploader,
                crate::config::PublishRole::Moderator => shoal_store::Role::Moderator,
                crate::config::PublishRole::Admin => shoal_store::Role::Admin,
            },
            invite_lifetime: p.invite_lifetime,
            hit_and_run: crate::accounts::hit_and_run_rule(&config.accounts),
            bonus_seconds_per_point: config.accounts.bonus_seconds_per_point,
            bonus_upload_per_point: config.accounts.bonus_upload_per_point,
            session_lifetime: p.session_lifetime,
            login_limits: shoal_portal::limit::Limits {
                per_addr: p.login_failures_per_address,
                per_name: p.login_failures_per_name,
                window: p.login_window,
                max_tracked: 100_000,
            },
        },
        site,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_listeners_dropped_only_beside_ipv4() {
        let mut both: Vec<std::net::SocketAddr> = vec![
            "0.0.0.0:6969".parse().unwrap(),
            "[::]:6969".parse().unwrap(),
        ];
        assert_eq!(
            drop_ipv6_beside_ipv4(&mut both),
            vec!["[::]:6969".parse::<std::net::SocketAddr>().unwrap()]
        );
        assert_eq!(both, vec!["0.0.0.0:6969".parse().unwrap()]);
        let mut only6: Vec<std::net::SocketAddr> = vec!["[::1]:6969".parse().unwrap()];
        assert!(drop_ipv6_beside_ipv4(&mut only6).is_empty());
        assert_eq!(only6.len(), 1);
    }

    #[test]
    fn nothing_to_listen_on_is_a_usage_error() {
        let mut c = Config::default();
        for (_, list) in listener_lists(&mut c) {
            list.clear();
        }
        match check_listeners(&c) {
            Err(Failure::Usage(m)) => assert!(m.contains("nothing to listen on"), "{m}"),
            _ => panic!("an empty config must be refused"),
        }
        c.web.listen = vec!["127.0.0.1:0".parse().unwrap()];
        assert!(check_listeners(&c).is_ok());
    }
}

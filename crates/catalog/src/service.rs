//! The catalog thread's state, and the handle the API and the views use.
//!
//! The node runs [`Catalog`] on a thread of its own with a schedule: take the engine's
//! new-torrent notes (those the store already holds are touched, the rest queued),
//! dispatch and collect fetches, write resolved entries in batches, prune. Between jobs
//! it answers [`CatalogHandle`]'s questions, so reads of the store never happen on a
//! request path's thread and every store write comes from this one thread. Fetches
//! run on the catalog's own small tokio runtime.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_engine::{Engine, InfoHash};
use shoal_store::{Backend, CatalogEntry, CatalogSummary, TorrentPreview};

use shoal_index::indexer::IndexerHandle;

use crate::preview::{PreviewConfig, PreviewStats, Previewer, Views};
use crate::resolver::{Fetcher, Resolved, Resolver, ResolverConfig};
use crate::stats::CatalogStats;

/// The catalog's rules beyond the resolver's.
#[derive(Debug, Clone, Default)]
pub struct CatalogConfig {
    /// The resolver's.
    pub resolver: ResolverConfig,
    /// Most entries kept (0 = no limit); those longest without peers go first.
    pub max_entries: u64,
    /// Words (lowercase) that keep a torrent out when its name contains one.
    pub deny_words: Vec<String>,
    /// Largest info dictionary accepted, bytes.
    pub max_metadata_bytes: u64,
    /// Content preview, when on.
    pub preview: Option<PreviewConfig>,
}

/// The preview deny list: file hashes and when each was added.
pub type DenyList = Vec<([u8; 32], u64)>;

/// A question for the catalog thread.
enum Query {
    Entry(InfoHash, Sender<Option<CatalogEntry>>),
    Entries(Vec<InfoHash>, Sender<Vec<Option<CatalogEntry>>>),
    Summaries(Vec<InfoHash>, Sender<Vec<CatalogSummary>>),
    Remove(InfoHash, Sender<Result<bool, String>>),
    Preview(InfoHash, Sender<Option<TorrentPreview>>),
    HidePreview(
        InfoHash,
        Option<String>,
        Sender<Result<Option<usize>, String>>,
    ),
    DenyPreview([u8; 32], bool, Sender<Result<bool, String>>),
    Denied(Sender<Result<DenyList, String>>),
}

/// Questions waiting for the catalog thread at most; more are answered "busy".
const MAX_QUERIES: usize = 64;

/// Questions answered per wait between jobs, so questions cannot starve the jobs.
const QUERIES_PER_WAIT: usize = 16;

/// Entries resolved but not yet written, at most: past it (the store failing) no new
/// fetch starts until a write goes through.
const MAX_BATCH: usize = 256;

/// Shards whose live torrents are marked active per prune (every minute): 64 shards
/// are all walked every 16 minutes.
const SHARDS_PER_PRUNE: usize = 4;

/// Live torrents marked active per shard and prune, at most.
const TOUCH_PER_SHARD: usize = 50_000;

/// Given-up torrents looked at again per prune.
const REVISIT_BUDGET: usize = 10_000;

/// Entries asked in one question at most (a feed's page).
pub const MAX_ENTRIES_ASKED: usize = 100;

/// How long a question waits for the catalog thread before giving up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the catalog thread; usable from any thread (it blocks for the answer).
pub struct CatalogHandle {
    tx: Mutex<SyncSender<Query>>,
    stats: Arc<CatalogStats>,
    preview: Option<PreviewParts>,
}

/// What the handle shares with the preview.
#[derive(Clone)]
struct PreviewParts {
    stats: Arc<PreviewStats>,
    views: Arc<Views>,
    denied: Arc<crate::preview::Denied>,
    dir: std::path::PathBuf,
}

impl CatalogHandle {
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Query) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        // A full queue is an answer too: the catalog thread is busy (no waiting line
        // of questions nobody waits for any more).
        self.tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_send(make(tx))
            .ok()?;
        rx.recv_timeout(ANSWER_TIMEOUT).ok()
    }

    /// One entry with its files, if the catalog holds it.
    pub fn entry(&self, h: &InfoHash) -> Option<CatalogEntry> {
        self.ask(|tx| Query::Entry(*h, tx)).flatten()
    }

    /// Several entries in one question (at most [`MAX_ENTRIES_ASKED`]), in order.
    pub fn entries(&self, hashes: &[InfoHash]) -> Vec<Option<CatalogEntry>> {
        let hashes = &hashes[..hashes.len().min(MAX_ENTRIES_ASKED)];
        self.ask(|tx| Query::Entries(hashes.to_vec(), tx))
            .unwrap_or_else(|| vec![None; hashes.len()])
    }

    /// Names and sizes of those of these torrents the catalog holds.
    pub fn summaries(&self, hashes: &[InfoHash]) -> Vec<CatalogSummary> {
        self.ask(|tx| Query::Summaries(hashes.to_vec(), tx))
            .unwrap_or_default()
    }

    /// Removes an entry; whether there was one.
    pub fn remove(&self, h: &InfoHash) -> Result<bool, String> {
        self.ask(|tx| Query::Remove(*h, tx))
            .unwrap_or_else(|| Err("the catalog did not answer".into()))
    }

    /// The catalog's counters.
    pub fn stats(&self) -> &Arc<CatalogStats> {
        &self.stats
    }

    /// Whether content preview is on.
    pub fn preview_on(&self) -> bool {
        self.preview.is_some()
    }

    /// The preview's counters, when it is on.
    pub fn preview_stats(&self) -> Option<&Arc<PreviewStats>> {
        self.preview.as_ref().map(|p| &p.stats)
    }

    /// A torrent's preview (under its catalog key), if it has one.
    pub fn preview(&self, h: &InfoHash) -> Option<TorrentPreview> {
        self.preview.as_ref()?;
        self.ask(|tx| Query::Preview(*h, tx)).flatten()
    }

    /// The bytes of a kept file's variant, if this node holds them; the view is noted
    /// (what eviction goes by).
    pub fn preview_bytes(&self, sha256: &[u8; 32], v: crate::preview::Variant) -> Option<Vec<u8>> {
        let p = self.preview.as_ref()?;
        if p.denied.contains(sha256) {
            return None;
        }
        let bytes = std::fs::read(crate::preview::path_of(&p.dir, sha256, v)).ok()?;
        p.views.note(*sha256);
        Some(bytes)
    }

    /// Whether this node holds a kept file's variant on disk.
    pub fn preview_held(&self, sha256: &[u8; 32], v: crate::preview::Variant) -> bool {
        self.preview.as_ref().is_some_and(|p| {
            !p.denied.contains(sha256) && crate::preview::path_of(&p.dir, sha256, v).is_file()
        })
    }

    /// Hides a torrent's preview (`path` none) or one of its files; how many files'
    /// bytes were deleted, or `None` when there was nothing to hide.
    pub fn hide_preview(&self, h: &InfoHash, path: Option<&str>) -> Result<Option<usize>, String> {
        self.ask(|tx| Query::HidePreview(*h, path.map(str::to_owned), tx))
            .unwrap_or_else(|| Err("the catalog did not answer".into()))
    }

    /// Puts a file on the preview deny list (`deny`) or takes it off; whether it was
    /// held (deny) or listed (allow).
    pub fn deny_preview(&self, sha256: &[u8; 32], deny: bool) -> Result<bool, String> {
        self.ask(|tx| Query::DenyPreview(*sha256, deny, tx))
            .unwrap_or_else(|| Err("the catalog did not answer".into()))
    }

    /// The preview deny list, newest first.
    pub fn preview_denied(&self) -> Result<DenyList, String> {
        self.ask(Query::Denied)
            .unwrap_or_else(|| Err("the catalog did not answer".into()))
    }
}

/// The catalog thread's state.
pub struct Catalog {
    config: CatalogConfig,
    engine: Arc<Engine>,
    store: Box<dyn Backend>,
    resolver: Resolver,
    preview: Option<Previewer>,
    stats: Arc<CatalogStats>,
    queries: Receiver<Query>,
    notes: Vec<InfoHash>,
    resolved: Vec<Resolved>,
    batch: Vec<CatalogEntry>,
    notes_dropped: u64,
    /// The search index's thread, told of every entry written and removed.
    indexer: Option<IndexerHandle>,
    /// The next shard whose live torrents [`Catalog::prune`] marks active.
    touch_cursor: usize,
    // Last: dropped after the resolver, whose tasks it runs.
    runtime: tokio::runtime::Runtime,
}

impl Catalog {
    /// A catalog over `engine`'s swarms, keeping entries in `store` and fetching with
    /// `fetcher` on a runtime of its own.
    pub fn new(
        config: CatalogConfig,
        engine: Arc<Engine>,
        store: Box<dyn Backend>,
        fetcher: Arc<dyn Fetcher>,
    ) -> std::io::Result<(Catalog, CatalogHandle)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shoal-catalog-io")
            .enable_io()
            .enable_time()
            .build()?;
        let stats = Arc::new(CatalogStats::default());
        let resolver = Resolver::new(
            config.resolver.clone(),
            engine.clone(),
            fetcher,
            runtime.handle().clone(),
            stats.clone(),
        );
        if let Ok(n) = store.catalog_len() {
            stats.entries.store(n, Relaxed);
        }
        let preview = config
            .preview
            .clone()
            .map(|c| Previewer::new(c, engine.clone(), runtime.handle().clone()));
        if let Some(p) = &preview {
            p.keep_budget(&*store);
            p.refresh_denied(&*store);
        }
        let (tx, queries) = std::sync::mpsc::sync_channel(MAX_QUERIES);
        let handle = CatalogHandle {
            tx: Mutex::new(tx),
            stats: stats.clone(),
            preview: preview.as_ref().map(|p| PreviewParts {
                stats: p.stats().clone(),
                views: p.views().clone(),
                denied: p.denied().clone(),
                dir: p.dir().to_path_buf(),
            }),
        };
        let catalog = Catalog {
            config,
            engine,
            store,
            resolver,
            preview,
            stats,
            queries,
            notes: Vec::new(),
            resolved: Vec::new(),
            batch: Vec::new(),
            notes_dropped: 0,
            indexer: None,
            touch_cursor: 0,
            runtime,
        };
        Ok((catalog, handle))
    }

    /// Tells `indexer` of every entry written and removed from now on.
    pub fn set_indexer(&mut self, indexer: IndexerHandle) {
        self.indexer = Some(indexer);
    }

    /// Takes the engine's new-torrent notes: torrents the catalog holds are marked
    /// active, the others queued for resolving.
    pub fn take_notes(&mut self) {
        self.notes.clear();
        let dropped = self.engine.take_new_torrents(&mut self.notes);
        self.stats
            .dropped
            .fetch_add(dropped - self.notes_dropped, Relaxed);
        self.notes_dropped = dropped;
        self.notes.retain(|h| !self.resolver.contains(h));
        if self.notes.is_empty() {
            return;
        }
        let known = match self.store.catalog_known(&self.notes) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "catalog: cannot read which torrents it holds");
                return;
            }
        };
        let unix = unix_now();
        if !known.is_empty() {
            if let Err(e) = self.store.touch_catalog(&known, unix) {
                tracing::warn!(error = %e, "catalog: cannot mark entries active");
            }
            self.queue_previews(&known);
            let known: std::collections::HashSet<InfoHash> = known.into_iter().collect();
            self.notes.retain(|h| !known.contains(h));
        }
        self.resolver.queue(&self.notes, Instant::now(), unix);
    }

    /// Queues for a preview those of these stored torrents that have none.
    fn queue_previews(&mut self, hashes: &[InfoHash]) {
        let Some(preview) = &mut self.preview else {
            return;
        };
        let fresh: Vec<InfoHash> = hashes
            .iter()
            .filter(|h| !preview.contains(h))
            .copied()
            .collect();
        let done = match self.store.previewed(&fresh) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "preview: cannot read which torrents have one");
                return;
            }
        };
        for h in fresh.into_iter().filter(|h| !done.contains(h)) {
            preview.queue(h);
        }
    }

    /// Starts due fetches and takes finished ones, turning what they fetched into
    /// entries for the next write.
    pub fn step(&mut self) {
        let now = Instant::now();
        self.resolver.collect(now, &mut self.resolved);
        for r in std::mem::take(&mut self.resolved) {
            match crate::describe::entry(&r, unix_now(), self.config.max_metadata_bytes) {
                Ok(e) if self.denied(&e.name) => {
                    self.stats.denied_names.fetch_add(1, Relaxed);
                    tracing::debug!(info_hash = %r.info_hash, "catalog: name has a denied word");
                }
                Ok(e) => {
                    // A hybrid's other swarm is the same torrent: not fetched again.
                    if let Some(alias) = e.alias {
                        self.resolver.forget(&alias);
                    }
                    if self.batch.iter().any(|b| b.alias == Some(e.info_hash)) {
                        continue;
                    }
                    self.stats
                        .time_to_metadata
                        .observe(now.duration_since(r.noted).as_secs_f64());
                    self.batch.push(e);
                }
                Err(why) => {
                    tracing::debug!(info_hash = %r.info_hash, peer = %r.peer, why, "catalog: metadata not usable");
                    self.resolver.unusable(&r, now);
                }
            }
        }
        // A write that keeps failing must not grow the batch: no new fetch until it
        // goes through.
        if self.batch.len() < MAX_BATCH {
            self.resolver.dispatch(now);
        }
        if let Some(p) = &mut self.preview {
            p.collect(now, &mut self.resolver, &*self.store);
            p.dispatch(now, &mut self.resolver, &*self.store);
        }
    }

    fn denied(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        self.config.deny_words.iter().any(|w| name.contains(w))
    }

    /// Writes the entries resolved since the last write, in one transaction; a failed
    /// write is retried at the next. Also gives previews waiting for another try theirs.
    pub fn flush(&mut self) {
        if let Some(p) = &mut self.preview {
            p.revisit(Instant::now());
        }
        if self.batch.is_empty() {
            return;
        }
        match self.store.add_catalog_entries(&self.batch) {
            Ok(()) => {
                let n = self.batch.len() as u64;
                self.stats.resolved.fetch_add(n, Relaxed);
                self.stats.entries.fetch_add(n, Relaxed);
                let written = std::mem::take(&mut self.batch);
                if let Some(p) = &mut self.preview {
                    for e in &written {
                        p.queue(e.info_hash);
                    }
                }
                if let Some(indexer) = &self.indexer {
                    // The index needs names and paths, not the info dictionaries.
                    indexer.upsert(
                        written
                            .into_iter()
                            .map(|e| CatalogEntry {
                                info: Vec::new(),
                                ..e
                            })
                            .collect(),
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, waiting = self.batch.len(), "catalog: cannot write entries; will retry");
            }
        }
    }

    /// Marks a few shards' live torrents active, applies the entry cap (those longest
    /// without a live swarm go first) and refreshes the entry count.
    pub fn prune(&mut self) {
        let now = Instant::now();
        self.resolver.sweep(now);
        self.resolver.revisit(now, REVISIT_BUDGET);
        // A swarm alive for months is never noted again: walk the swarm table a few
        // shards per prune so its torrent stays active, and the cap removes dead ones.
        let unix = unix_now();
        let mut live = Vec::new();
        for _ in 0..SHARDS_PER_PRUNE {
            self.engine
                .torrents_in_shard(self.touch_cursor, TOUCH_PER_SHARD, &mut live);
            self.touch_cursor = (self.touch_cursor + 1) % self.engine.shard_count();
            if let Err(e) = self.store.touch_catalog(&live, unix) {
                tracing::warn!(error = %e, "catalog: cannot mark entries active");
                break;
            }
        }
        if self.config.max_entries > 0 {
            if let Err(e) = self.apply_cap(unix) {
                tracing::warn!(error = %e, "catalog: cannot prune");
            }
        }
        if let Ok(n) = self.store.catalog_len() {
            self.stats.entries.store(n, Relaxed);
        }
        if let Some(p) = &mut self.preview {
            p.write_views(&*self.store);
            p.keep_budget(&*self.store);
            p.refresh_denied(&*self.store);
            let again = p.take_unwritten();
            self.queue_previews(&again);
        }
    }

    /// Whether the preview has nothing waiting, running or being built.
    pub fn preview_idle(&self) -> bool {
        self.preview.as_ref().is_none_or(Previewer::idle)
    }

    /// Removes the entries longest without a live swarm until at most `max_entries`
    /// remain: candidates whose swarm lives now are marked active instead (the walk may
    /// not have reached their shard yet), unless too few others are left to meet the cap.
    fn apply_cap(&mut self, unix: u64) -> Result<(), shoal_store::StoreError> {
        let held = self.store.catalog_len()?;
        let excess = held.saturating_sub(self.config.max_entries);
        if excess == 0 {
            return Ok(());
        }
        let candidates = self
            .store
            .catalog_oldest(excess.saturating_mul(2).saturating_add(100).min(200_000))?;
        let (live, dead): (Vec<InfoHash>, Vec<InfoHash>) = candidates.into_iter().partition(|h| {
            let s = self.engine.scrape(h);
            s.seeders + s.leechers > 0
        });
        self.store.touch_catalog(&live, unix)?;
        let mut victims: Vec<InfoHash> = dead.into_iter().take(excess as usize).collect();
        let short = excess as usize - victims.len();
        victims.extend(live.into_iter().take(short));
        let n = self.store.remove_catalog_entries(&victims)?;
        self.stats.removed.fetch_add(n, Relaxed);
        self.remove_previews(&victims);
        if let Some(indexer) = &self.indexer {
            indexer.remove(victims);
        }
        Ok(())
    }

    /// Answers questions for up to `d` (the schedule's wait between jobs).
    pub fn wait(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        for _ in 0..QUERIES_PER_WAIT {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.queries.recv_timeout(left) {
                Ok(q) => self.answer(q),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left);
                    return;
                }
            }
        }
    }

    fn answer(&mut self, q: Query) {
        match q {
            Query::Entry(h, tx) => {
                let e = self.store.catalog_entry(&h).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "catalog: cannot read an entry");
                    None
                });
                let _ = tx.send(e);
            }
            Query::Entries(hashes, tx) => {
                let e = hashes
                    .iter()
                    .map(|h| self.store.catalog_entry(h).ok().flatten())
                    .collect();
                let _ = tx.send(e);
            }
            Query::Summaries(hashes, tx) => {
                let s = self.store.catalog_summaries(&hashes).unwrap_or_default();
                let _ = tx.send(s);
            }
            Query::Remove(h, tx) => {
                // A hybrid's entry is kept under one of its hashes: its preview too.
                let key = match &self.preview {
                    Some(_) => self
                        .store
                        .catalog_entry(&h)
                        .ok()
                        .flatten()
                        .map(|e| e.info_hash),
                    None => None,
                };
                self.resolver.forget(&h);
                self.batch.retain(|e| e.info_hash != h);
                let r = self
                    .store
                    .remove_catalog_entry(&h)
                    .map_err(|e| e.to_string());
                if r == Ok(true) {
                    self.remove_previews(&[key.unwrap_or(h)]);
                    if let Some(indexer) = &self.indexer {
                        indexer.remove(vec![h]);
                    }
                    self.stats.removed.fetch_add(1, Relaxed);
                    let _ = self
                        .stats
                        .entries
                        .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
                }
                let _ = tx.send(r);
            }
            Query::Preview(h, tx) => {
                let p = self.store.preview(&h).unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "preview: cannot read a torrent's preview");
                    None
                });
                let _ = tx.send(p);
            }
            Query::HidePreview(h, path, tx) => {
                if path.is_none() {
                    if let Some(p) = &mut self.preview {
                        p.forget(&h);
                    }
                }
                let r = self
                    .store
                    .hide_preview(&h, path.as_deref(), unix_now())
                    .map_err(|e| e.to_string())
                    .map(|gone| {
                        gone.map(|gone| {
                            self.delete_preview_files(&gone);
                            gone.len()
                        })
                    });
                let _ = tx.send(r);
            }
            Query::DenyPreview(sha, deny, tx) => {
                if let Some(p) = &self.preview {
                    p.denied().set(sha, deny);
                }
                let r = if deny {
                    self.store
                        .deny_preview_file(&sha, unix_now())
                        .inspect(|&held| {
                            if held {
                                self.delete_preview_files(&[sha]);
                            }
                        })
                } else {
                    self.store.allow_preview_file(&sha)
                };
                let _ = tx.send(r.map_err(|e| e.to_string()));
            }
            Query::Denied(tx) => {
                let _ = tx.send(self.store.preview_denied().map_err(|e| e.to_string()));
            }
        }
    }

    /// Forgets the previews of removed entries and deletes the bytes only they listed
    /// (a failure leaves them to eviction).
    fn remove_previews(&mut self, hashes: &[InfoHash]) {
        let Some(p) = &mut self.preview else {
            return;
        };
        for h in hashes {
            p.forget(h);
        }
        match self.store.remove_previews(hashes) {
            Ok(gone) => self.delete_preview_files(&gone),
            Err(e) => {
                tracing::warn!(error = %e, "preview: cannot forget removed entries' previews")
            }
        }
    }

    /// Deletes the bytes of files the store no longer holds, and refreshes the gauges.
    fn delete_preview_files(&self, gone: &[[u8; 32]]) {
        if let Some(p) = &self.preview {
            crate::preview::delete_files(p.dir(), gone);
            p.keep_budget(&*self.store);
        }
    }

    /// Writes what is left (at shutdown).
    pub fn finish(mut self) {
        self.flush();
        self.runtime.shutdown_timeout(Duration::from_millis(500));
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//! The index thread: the one writer of the server's index, beside the resolver.
//!
//! The catalog thread hands it entries it has just written to the store and hashes it
//! has just removed ([`IndexerHandle`]); it applies them and commits at most
//! [`COMMIT_DELAY`] after the first change, so an entry is searchable about a second
//! after the store has it. At start it catches up from the store: everything when
//! the index is new (missing, another schema version), else what was resolved since
//! shortly before its last commit; and when the counts then differ (a removal lost
//! in a crash) it rebuilds. A rebuild ([`IndexerHandle::rebuild`], `POST
//! /api/admin/catalog/reindex`) clears and refills it in one commit, so searches see
//! the old index until the new one is whole.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_store::{CatalogEntry, CatalogStore, InfoHash};

use crate::{Index, IndexError, Writer};

/// Longest an applied change waits for its commit.
pub const COMMIT_DELAY: Duration = Duration::from_millis(500);

/// Entries read from the store per page while catching up or rebuilding.
const SCAN_PAGE: usize = 1000;

/// How far before its last commit's mark the catch-up starts: entries resolved in the
/// same seconds may have been written after that commit.
const CATCH_UP_MARGIN: u64 = 60;

/// What the index thread is told.
enum Command {
    Upsert(Vec<CatalogEntry>),
    Remove(Vec<InfoHash>),
    Rebuild,
    Stop,
}

/// What the index thread did, for `/metrics` and `/api/stats`.
#[derive(Debug, Default)]
pub struct IndexStats {
    /// Documents searchable.
    pub documents: AtomicU64,
    /// Entries indexed (upserts).
    pub indexed: AtomicU64,
    /// Documents removed.
    pub removed: AtomicU64,
    /// Commits made.
    pub commits: AtomicU64,
    /// Commits or writes that failed.
    pub errors: AtomicU64,
    /// Full rebuilds made.
    pub rebuilds: AtomicU64,
    /// Whether a rebuild or catch-up is running.
    pub rebuilding: AtomicBool,
}

/// Sends work to the index thread (cheap to clone; never blocks).
#[derive(Clone)]
pub struct IndexerHandle {
    tx: Sender<Command>,
    stats: Arc<IndexStats>,
}

impl IndexerHandle {
    /// Indexes entries the store now holds (their info dictionaries are not needed).
    pub fn upsert(&self, entries: Vec<CatalogEntry>) {
        if !entries.is_empty() {
            let _ = self.tx.send(Command::Upsert(entries));
        }
    }

    /// Removes torrents the store no longer holds.
    pub fn remove(&self, hashes: Vec<InfoHash>) {
        if !hashes.is_empty() {
            let _ = self.tx.send(Command::Remove(hashes));
        }
    }

    /// Rebuilds the index from the store.
    pub fn rebuild(&self) {
        let _ = self.tx.send(Command::Rebuild);
    }

    /// Asks the index thread to commit what it has and end.
    pub fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
    }

    /// The index thread's counters.
    pub fn stats(&self) -> &Arc<IndexStats> {
        &self.stats
    }
}

/// The index thread's state.
pub struct Indexer {
    index: Arc<Index>,
    writer: Writer,
    store: Box<dyn CatalogStore>,
    rx: Receiver<Command>,
    stats: Arc<IndexStats>,
    /// When the first change not yet committed was applied.
    pending_since: Option<Instant>,
}

impl Indexer {
    /// Takes the writer of `index` (fails when another process holds it) and reads the
    /// catalog from `store` for catch-ups and rebuilds.
    pub fn new(
        index: Arc<Index>,
        store: Box<dyn CatalogStore>,
    ) -> Result<(Indexer, IndexerHandle), IndexError> {
        // One indexing thread: the tracker's cores are for the tracker.
        let writer = index.writer(1, 48_000_000)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let stats = Arc::new(IndexStats::default());
        stats.documents.store(index.len(), Relaxed);
        let handle = IndexerHandle {
            tx,
            stats: stats.clone(),
        };
        Ok((
            Indexer {
                index,
                writer,
                store,
                rx,
                stats,
                pending_since: None,
            },
            handle,
        ))
    }

    /// Brings the index level with the store: everything when it is new, else from
    /// shortly before its last commit; a rebuild when the counts then disagree.
    pub fn catch_up(&mut self) {
        self.stats.rebuilding.store(true, Relaxed);
        let started = Instant::now();
        let since = if self.index.fresh() {
            None
        } else {
            self.index
                .mark()
                .map(|m| m.resolved_at.saturating_sub(CATCH_UP_MARGIN))
        };
        let result = match since {
            None => self.refill(false, &mut |_, _| {}),
            Some(t) => self.scan_from(t, &mut |_, _| {}).and_then(|n| {
                self.commit()?;
                let held = self.store.catalog_len()?;
                if held != self.index.len() {
                    tracing::info!(
                        held,
                        indexed = self.index.len(),
                        "search index differs from the store: rebuilding"
                    );
                    self.refill(true, &mut |_, _| {})
                } else {
                    Ok(n)
                }
            }),
        };
        match result {
            Ok(n) => tracing::info!(
                entries = n,
                documents = self.index.len(),
                ms = started.elapsed().as_millis() as u64,
                "search index caught up with the store"
            ),
            Err(e) => {
                self.stats.errors.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "search index: cannot catch up with the store");
            }
        }
        self.stats.rebuilding.store(false, Relaxed);
    }

    /// Indexes every entry resolved at or after `since`; how many.
    fn scan_from(
        &mut self,
        since: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, IndexError> {
        let mut after = match since {
            0 => (0, InfoHash([0; 20])),
            t => (t - 1, InfoHash([0xff; 20])),
        };
        let mut n = 0u64;
        loop {
            let page = self.store.catalog_scan(after, SCAN_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(n);
            };
            after = (last.resolved_at, last.info_hash);
            for e in &page {
                self.writer.upsert(e)?;
            }
            n += page.len() as u64;
            self.stats.indexed.fetch_add(page.len() as u64, Relaxed);
            progress(n, 0);
        }
    }

    /// Clears the index and indexes the whole store, in one commit.
    fn refill(
        &mut self,
        count_rebuild: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, IndexError> {
        self.writer.clear()?;
        let n = self.scan_from(0, progress)?;
        self.commit()?;
        if count_rebuild {
            self.stats.rebuilds.fetch_add(1, Relaxed);
        }
        Ok(n)
    }

    fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        self.pending_since = None;
        self.stats.commits.fetch_add(1, Relaxed);
        self.stats.documents.store(self.index.len(), Relaxed);
        Ok(())
    }

    fn apply(&mut self, c: Command) {
        let result = match c {
            Command::Upsert(entries) => entries.iter().try_for_each(|e| {
                self.writer.upsert(e)?;
                self.stats.indexed.fetch_add(1, Relaxed);
                Ok::<(), IndexError>(())
            }),
            Command::Remove(hashes) => {
                for h in &hashes {
                    self.writer.remove(&h.0);
                }
                self.stats.removed.fetch_add(hashes.len() as u64, Relaxed);
                Ok(())
            }
            Command::Rebuild => {
                self.stats.rebuilding.store(true, Relaxed);
                let r = self.refill(true, &mut |_, _| {}).map(|n| {
                    tracing::info!(entries = n, "search index rebuilt");
                });
                self.stats.rebuilding.store(false, Relaxed);
                r
            }
            Command::Stop => Ok(()),
        };
        if let Err(e) = result {
            self.stats.errors.fetch_add(1, Relaxed);
            tracing::warn!(error = %e, "search index: cannot apply a change");
        }
        if self.writer.dirty() && self.pending_since.is_none() {
            self.pending_since = Some(Instant::now());
        }
    }

    /// Runs until [`IndexerHandle::stop`] (or every handle is dropped): applies changes, commits at most
    /// [`COMMIT_DELAY`] after the first one, and commits what is left at the end.
    pub fn run(mut self) {
        self.catch_up();
        loop {
            let wait = self.pending_since.map_or(Duration::from_secs(3600), |t| {
                COMMIT_DELAY.saturating_sub(t.elapsed())
            });
            match self.rx.recv_timeout(wait) {
                Ok(Command::Stop) => break,
                Ok(c) => self.apply(c),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self
                .pending_since
                .is_some_and(|t| t.elapsed() >= COMMIT_DELAY)
            {
                if let Err(e) = self.commit() {
                    self.stats.errors.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, "search index: commit failed; will retry");
                    self.pending_since = Some(Instant::now());
                }
            }
        }
        if self.writer.dirty() {
            if let Err(e) = self.commit() {
                tracing::warn!(error = %e, "search index: last commit failed");
            }
        }
        if let Err(e) = self.writer.finish() {
            tracing::warn!(error = %e, "search index: merging failed");
        }
    }
}

/// Rebuilds the index in `index` from `store` with `threads` indexing threads (the
/// `shoal catalog reindex` command, with no server running); `progress(done, total)`
/// is called as pages are indexed. Returns the entries indexed.
pub fn rebuild(
    index: &Index,
    store: &dyn CatalogStore,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, IndexError> {
    let total = store.catalog_len()?;
    let mut writer = index.writer(threads, 64_000_000 * threads.max(1))?;
    writer.clear()?;
    let mut after = (0, InfoHash([0; 20]));
    let mut n = 0u64;
    loop {
        let page = store.catalog_scan(after, SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        after = (last.resolved_at, last.info_hash);
        for e in &page {
            writer.upsert(e)?;
        }
        n += page.len() as u64;
        progress(n, total);
    }
    writer.commit()?;
    writer.finish()?;
    Ok(n)
}

//! What other nodes (or `shoal` commands beside this server) changed in the shared store
//! and this node's memory must follow within a second: admin access-list entries,
//! swarms an admin removed, and, on a shared PostgreSQL store, catalog entries added and
//! removed (this node's search index). The store logs the changes in order
//! ([`shoal_store::ChangeLog`]); a follower reads those after the last it applied every
//! [`POLL`], and prunes the log's old rows now and then.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_api::cluster::ChangeStats;
use shoal_engine::Engine;
use shoal_index::indexer::IndexerHandle;
use shoal_store::{Backend, TrackerChange, CHANGES_KEPT_SECS, MAX_CHANGES_READ};

/// How often the log is read: a change reaches this node within this (plus a read).
pub const POLL: Duration = Duration::from_millis(250);

/// How often old rows are pruned (every node does it; it is one indexed delete).
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Reads at most this many pages of the log per poll, so one poll stays short.
const PAGES_PER_POLL: usize = 10;

/// Follows the store's change log.
pub struct Follower {
    store: Box<dyn Backend>,
    engine: Arc<Engine>,
    /// The search index, when this node keeps one and the store is shared.
    indexer: Option<IndexerHandle>,
    since: u64,
    pruned_at: Instant,
    stats: Arc<ChangeStats>,
}

impl Follower {
    /// A follower applying changes logged after `since` (read before this node loaded
    /// the state they change, so none is missed; applying one twice changes nothing).
    pub fn new(
        store: Box<dyn Backend>,
        engine: Arc<Engine>,
        indexer: Option<IndexerHandle>,
        since: u64,
    ) -> Follower {
        Follower {
            store,
            engine,
            indexer,
            since,
            pruned_at: Instant::now(),
            stats: Arc::default(),
        }
    }

    /// The follower's counters.
    pub fn stats(&self) -> Arc<ChangeStats> {
        self.stats.clone()
    }

    /// Applies the changes logged since the last poll. A failed read is retried at the
    /// next poll from the same place.
    pub fn poll(&mut self) {
        for _ in 0..PAGES_PER_POLL {
            match self.store.tracker_changes(self.since) {
                Ok((next, changes)) => {
                    if self.stats.failing.swap(false, Relaxed) {
                        tracing::info!("changes: the store's change log is readable again");
                    }
                    let full = changes.len() as u64 >= MAX_CHANGES_READ;
                    self.apply(&changes);
                    self.since = next;
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    self.stats.failed_reads.fetch_add(1, Relaxed);
                    // Said once per outage: the poll retries four times a second.
                    if !self.stats.failing.swap(true, Relaxed) {
                        tracing::warn!(error = %e, "changes: cannot read the store's change log; other nodes' changes wait until it can");
                    }
                    return;
                }
            }
        }
        if self.pruned_at.elapsed() >= PRUNE_EVERY {
            self.pruned_at = Instant::now();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if let Err(e) = self
                .store
                .prune_tracker_changes(now.saturating_sub(CHANGES_KEPT_SECS))
            {
                tracing::warn!(error = %e, "changes: cannot prune the change log");
            }
        }
    }

    fn apply(&self, changes: &[TrackerChange]) {
        let (mut indexed, mut unindexed) = (Vec::new(), Vec::new());
        for &c in changes {
            match c {
                TrackerChange::AccessAdded(h) => {
                    self.engine.update_access_list(|l| l.api.insert(h));
                }
                TrackerChange::AccessRemoved(h) => {
                    self.engine.update_access_list(|l| l.api.remove(&h));
                }
                TrackerChange::SwarmRemoved(h) => {
                    self.engine.remove_torrent(&h);
                }
                TrackerChange::CatalogAdded(h) => {
                    unindexed.retain(|x| *x != h);
                    indexed.push(h);
                }
                TrackerChange::CatalogRemoved(h) => {
                    indexed.retain(|x| *x != h);
                    unindexed.push(h);
                }
            }
        }
        if !changes.is_empty() {
            self.stats.applied.fetch_add(changes.len() as u64, Relaxed);
            tracing::debug!(changes = changes.len(), "changes: applied");
        }
        let Some(indexer) = &self.indexer else {
            return;
        };
        indexer.remove(unindexed);
        let mut entries = Vec::with_capacity(indexed.len());
        for h in indexed {
            match self.store.catalog_entry(&h) {
                Ok(Some(e)) => entries.push(e),
                // Removed again since: its removal follows in the log.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, info_hash = %h, "changes: cannot read a catalog entry to index it")
                }
            }
        }
        indexer.upsert(entries);
    }
}

//! Private mode's accounts on the server: the passkey table kept current (loaded whole
//! at start, then the accounts changed since the last look — by this server, another
//! node or `shoal user` beside it — reloaded every [`POLL`] from the store's change
//! log), and the engine's traffic credits written to the store every flush interval
//! (kept and retried, summed, while writes fail: each credit is written once).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use shoal_engine::accounting::Traffic;
use shoal_engine::passkeys::{KeyRow, PasskeyTable};
use shoal_engine::{Engine, InfoHash};
use shoal_store::{AccountStore, PasskeyRow, SqliteStore, TrafficRow};

use crate::Failure;

/// How often the change log is read: a change reaches the tracker within this (plus a
/// read), well inside a second.
pub const POLL: Duration = Duration::from_millis(250);

fn rows(r: &[PasskeyRow]) -> Vec<KeyRow> {
    r.iter()
        .map(|r| KeyRow {
            user: r.user_id,
            passkey: r.passkey,
            admitted: r.admitted,
        })
        .collect()
}

/// Reads account changes into the table and writes the engine's credits.
pub struct Watcher {
    store: SqliteStore,
    table: Arc<PasskeyTable>,
    seq: u64,
    engine: Arc<Engine>,
    /// Credits drained from the engine whose write failed, summed per (account,
    /// torrent), the latest state kept: written with the next flush.
    pending: HashMap<(u32, InfoHash), Traffic>,
}

impl Watcher {
    /// Loads every account into `table` (a store that cannot be read is a start failure:
    /// a private tracker without its passkeys would refuse everyone).
    pub fn start(
        store_path: &Path,
        table: Arc<PasskeyTable>,
        engine: Arc<Engine>,
    ) -> Result<Watcher, Failure> {
        let store = SqliteStore::open(store_path)
            .map_err(|e| Failure::Runtime(format!("accounts: cannot open the store: {e}")))?;
        let (seq, all) = store
            .passkeys()
            .map_err(|e| Failure::Runtime(format!("accounts: cannot read passkeys: {e}")))?;
        table.replace(&rows(&all));
        tracing::info!(accounts = table.len(), "private mode: passkeys loaded");
        Ok(Watcher {
            store,
            table,
            seq,
            engine,
            pending: HashMap::new(),
        })
    }

    /// Writes the credits counted since the last flush (and any a failed flush left).
    pub fn flush(&mut self) {
        let mut drained = Vec::new();
        self.engine.drain_traffic(&mut drained);
        for t in drained {
            match self.pending.entry((t.user, t.info_hash)) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(t);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let p = o.get_mut();
                    p.uploaded = p.uploaded.saturating_add(t.uploaded);
                    p.downloaded = p.downloaded.saturating_add(t.downloaded);
                    p.completed |= t.completed;
                    (p.seeding, p.stopped, p.at) = (t.seeding, t.stopped, t.at);
                }
            }
        }
        if self.pending.is_empty() {
            return;
        }
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let rows: Vec<TrafficRow> = self
            .pending
            .values()
            .map(|t| TrafficRow {
                user_id: u64::from(t.user),
                info_hash: t.info_hash,
                uploaded: t.uploaded,
                downloaded: t.downloaded,
                seeding: t.seeding,
                active: !t.stopped,
                completed: t.completed,
                at,
            })
            .collect();
        match self.store.add_traffic(&rows) {
            Ok(()) => self.pending.clear(),
            Err(e) => {
                tracing::warn!(error = %e, waiting = rows.len(), "accounts: cannot write traffic; will retry")
            }
        }
    }

    /// Applies the accounts changed since the last poll. A failed read keeps the table
    /// as it is (the last known passkeys keep working) and is retried at the next poll.
    pub fn poll(&mut self) {
        match self.store.passkey_changes(self.seq) {
            Ok((seq, changed)) => {
                tracing::trace!(
                    since = self.seq,
                    seq,
                    changed = changed.len(),
                    "accounts: polled"
                );
                if !changed.is_empty() {
                    tracing::debug!(changed = changed.len(), "private mode: accounts changed");
                }
                self.table.apply(&rows(&changed));
                self.seq = seq;
            }
            Err(e) => {
                tracing::warn!(error = %e, "accounts: cannot read changes; keeping the last passkeys")
            }
        }
    }
}

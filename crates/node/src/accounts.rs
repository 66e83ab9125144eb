//! Private mode's passkey table kept current: loaded whole at start, then the accounts
//! changed since the last look (by this server, another node or `shoal user` beside
//! it) are reloaded every [`POLL`] from the store's change log.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shoal_engine::passkeys::{KeyRow, PasskeyTable};
use shoal_store::{AccountStore, PasskeyRow, SqliteStore};

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

/// Reads account changes into the table.
pub struct Watcher {
    store: SqliteStore,
    table: Arc<PasskeyTable>,
    seq: u64,
}

impl Watcher {
    /// Loads every account into `table` (a store that cannot be read is a start failure:
    /// a private tracker without its passkeys would refuse everyone).
    pub fn start(store_path: &Path, table: Arc<PasskeyTable>) -> Result<Watcher, Failure> {
        let store = SqliteStore::open(store_path)
            .map_err(|e| Failure::Runtime(format!("accounts: cannot open the store: {e}")))?;
        let (seq, all) = store
            .passkeys()
            .map_err(|e| Failure::Runtime(format!("accounts: cannot read passkeys: {e}")))?;
        table.replace(&rows(&all));
        tracing::info!(accounts = table.len(), "private mode: passkeys loaded");
        Ok(Watcher { store, table, seq })
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

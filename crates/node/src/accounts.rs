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

use crate::config::AccountsSection;
use crate::Failure;

/// How often the change log is read: a change reaches the tracker within this (plus a
/// read), well inside a second.
pub const POLL: Duration = Duration::from_millis(250);

fn key_rows(r: &[PasskeyRow], rules: &AccountsSection) -> Vec<KeyRow> {
    r.iter()
        .map(|r| KeyRow {
            user: r.user_id,
            passkey: r.passkey,
            admitted: r.admitted,
            may_leech: rules.may_leech(r.uploaded, r.downloaded),
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
    rules: AccountsSection,
}

impl Watcher {
    /// Loads every account into `table` (a store that cannot be read is a start failure:
    /// a private tracker without its passkeys would refuse everyone).
    pub fn start(
        store_path: &Path,
        table: Arc<PasskeyTable>,
        engine: Arc<Engine>,
        rules: AccountsSection,
    ) -> Result<Watcher, Failure> {
        let store = SqliteStore::open(store_path)
            .map_err(|e| Failure::Runtime(format!("accounts: cannot open the store: {e}")))?;
        let (seq, all) = store
            .passkeys()
            .map_err(|e| Failure::Runtime(format!("accounts: cannot read passkeys: {e}")))?;
        table.replace(&key_rows(&all, &rules));
        tracing::info!(accounts = table.len(), "private mode: passkeys loaded");
        Ok(Watcher {
            store,
            table,
            seq,
            engine,
            pending: HashMap::new(),
            rules,
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
        let (up_factor, down_factor) = (
            if self.rules.double_upload { 2 } else { 1 },
            if self.rules.freeleech { 0 } else { 1 },
        );
        let rows: Vec<TrafficRow> = self
            .pending
            .values()
            .map(|t| TrafficRow {
                user_id: u64::from(t.user),
                info_hash: t.info_hash,
                uploaded: t.uploaded.saturating_mul(up_factor),
                downloaded: t.downloaded * down_factor,
                seeding: t.seeding,
                active: !t.stopped,
                completed: t.completed,
                at,
            })
            .collect();
        for t in self.pending.values().filter(|t| t.capped > 0) {
            tracing::warn!(
                user = t.user,
                info_hash = %t.info_hash,
                capped_bytes = t.capped,
                "accounts: claimed upload above accounts.max_upload_rate was not credited"
            );
        }
        match self.store.add_traffic(&rows) {
            Ok(()) => {
                self.pending.clear();
                // Their totals changed: the ratio rule may now allow or stop downloads.
                let mut users: Vec<u64> = rows.iter().map(|r| r.user_id).collect();
                users.sort_unstable();
                users.dedup();
                match self.store.passkey_rows(&users) {
                    Ok(changed) => {
                        for r in key_rows(&changed, &self.rules) {
                            self.table.set_may_leech(r.user, r.may_leech);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "accounts: cannot read totals"),
                }
            }
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
                self.table.apply(&key_rows(&changed, &self.rules));
                self.seq = seq;
            }
            Err(e) => {
                tracing::warn!(error = %e, "accounts: cannot read changes; keeping the last passkeys")
            }
        }
    }
}

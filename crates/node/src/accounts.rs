//! Private mode's accounts on the server: the passkey table kept current (loaded whole
//! at start, then the accounts changed since the last look — by this server, another
//! node or `shoal user` beside it — reloaded every [`POLL`] from the store's change
//! log), and the engine's traffic credits written to the store every flush interval
//! (kept and retried, summed, while writes fail: each credit is written once).

use std::sync::Arc;
use std::time::Duration;

use crate::batch::Batches;

use shoal_engine::accounting::Traffic;
use shoal_engine::passkeys::{KeyRow, PasskeyTable};
use shoal_engine::{Engine, InfoHash};
use shoal_store::{Backend, PasskeyRow, TrafficRow};

use crate::config::AccountsSection;
use crate::Failure;

/// How often the change log is read: a change reaches the tracker within this (plus a
/// read), well inside a second.
pub const POLL: Duration = Duration::from_millis(250);

/// Most (account, torrent) credits kept while the store is failing, beside the batch in
/// flight (about 100 bytes each): past it new ones are dropped and logged.
const MAX_WAITING_CREDITS: usize = 1_000_000;

impl crate::batch::Merge for Traffic {
    fn merge(&mut self, t: Traffic) {
        self.uploaded = self.uploaded.saturating_add(t.uploaded);
        self.downloaded = self.downloaded.saturating_add(t.downloaded);
        self.capped = self.capped.saturating_add(t.capped);
        self.completed |= t.completed;
        self.seeded = self.seeded.saturating_add(t.seeded);
        (self.seeding, self.stopped, self.at) = (t.seeding, t.stopped, t.at);
    }
}

/// The passkey table's rows: an account may start downloads when its ratio meets the
/// rule and it has no more hits and runs than allowed (`blocked`), or an admin exempted
/// it from both.
fn key_rows(
    r: &[PasskeyRow],
    rules: &AccountsSection,
    blocked: &std::collections::HashSet<u64>,
) -> Vec<KeyRow> {
    r.iter()
        .map(|r| KeyRow {
            user: r.user_id,
            passkey: r.passkey,
            admitted: r.admitted,
            may_leech: r.ratio_exempt
                || (rules.may_leech(r.uploaded, r.downloaded) && !blocked.contains(&r.user_id)),
        })
        .collect()
}

/// How often hits and runs are counted again (they change with time, not only with
/// announces).
const HIT_AND_RUN_CHECK: Duration = Duration::from_secs(60);

/// The hit-and-run rule of these settings, when there is one.
pub fn hit_and_run_rule(rules: &AccountsSection) -> Option<shoal_store::HitAndRun> {
    (rules.hit_and_run_seed_hours > 0).then(|| shoal_store::HitAndRun {
        seed_secs: rules.hit_and_run_seed_hours * 3600,
        grace_secs: rules.hit_and_run_days * 86_400,
    })
}

/// The accounts with more than `max` hits and runs now.
fn over_limit(
    store: &dyn Backend,
    rule: shoal_store::HitAndRun,
    max: u32,
) -> Result<std::collections::HashSet<u64>, shoal_store::StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(store
        .hit_and_runs(rule, now)?
        .into_iter()
        .filter(|&(_, n)| n > max)
        .map(|(user, _)| user)
        .collect())
}

/// What admins switched on the site, over the configuration: global freeleech and
/// double upload (when set), and the freeleech torrents.
#[derive(Debug, Default)]
pub struct SiteRules {
    /// The settings' version these were read at (`None`: never read).
    version: Option<u64>,
    freeleech: Option<bool>,
    double_upload: Option<bool>,
    freeleech_torrents: std::collections::HashSet<InfoHash>,
}

impl SiteRules {
    /// Reads the rules again when the store's settings changed since the last read.
    fn refresh(&mut self, store: &dyn Backend) -> Result<(), shoal_store::StoreError> {
        let version = store.site_version()?;
        if self.version == Some(version) {
            return Ok(());
        }
        let (version, settings) = store.site_settings()?;
        let flag = |key: &str| {
            settings
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<bool>().ok())
        };
        self.freeleech = flag("freeleech");
        self.double_upload = flag("double_upload");
        self.freeleech_torrents = store.freeleech_torrents()?.into_iter().collect();
        self.version = Some(version);
        tracing::debug!(
            version,
            freeleech_torrents = self.freeleech_torrents.len(),
            "accounts: site rules loaded"
        );
        Ok(())
    }
}

/// The store's rows for a batch of credits, under the site's rules now: the site's
/// switches win over the file's, and a freeleech torrent's downloads are not counted.
fn traffic_rows(
    site: &SiteRules,
    rules: &AccountsSection,
    batch: &[((u32, InfoHash), Traffic)],
) -> Vec<TrafficRow> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let up_factor = if site.double_upload.unwrap_or(rules.double_upload) {
        2
    } else {
        1
    };
    let all_free = site.freeleech.unwrap_or(rules.freeleech);
    let mut rows: Vec<TrafficRow> = batch
        .iter()
        .map(|(_, t)| TrafficRow {
            user_id: u64::from(t.user),
            info_hash: t.info_hash,
            uploaded: t.uploaded.saturating_mul(up_factor),
            downloaded: if all_free || site.freeleech_torrents.contains(&t.info_hash) {
                0
            } else {
                t.downloaded
            },
            seeding: t.seeding,
            active: !t.stopped,
            completed: t.completed,
            seeded: t.seeded,
            at,
        })
        .collect();
    // In key order: the store's B-tree is walked once, leaf after leaf, not at
    // random (and PostgreSQL nodes take row locks in one order).
    rows.sort_unstable_by_key(|r| (r.user_id, r.info_hash));
    rows
}

/// Reads account changes into the table and writes the engine's credits.
pub struct Watcher {
    store: Box<dyn Backend>,
    table: Arc<PasskeyTable>,
    seq: u64,
    engine: Arc<Engine>,
    /// Credits drained from the engine and not committed yet, summed per (account,
    /// torrent), the latest state kept, in numbered batches the store adds once; at
    /// most [`MAX_WAITING_CREDITS`] wait while the store is failing.
    pending: Batches<(u32, InfoHash), Traffic>,
    rules: AccountsSection,
    site: SiteRules,
    /// Accounts over `max_hit_and_runs`, and when they were last counted.
    blocked: std::collections::HashSet<u64>,
    counted_at: Option<std::time::Instant>,
    /// The last poll could not read the store (said once per outage).
    read_failing: bool,
}

impl Watcher {
    /// Loads every account into `table` (a store that cannot be read is a start failure:
    /// a private tracker without its passkeys would refuse everyone).
    pub fn start(
        target: &crate::backend::Target,
        table: Arc<PasskeyTable>,
        engine: Arc<Engine>,
        rules: AccountsSection,
    ) -> Result<Watcher, Failure> {
        let store = target.open("accounts")?;
        let (seq, all) = store
            .passkeys()
            .map_err(|e| Failure::Runtime(format!("accounts: cannot read passkeys: {e}")))?;
        let mut blocked = Default::default();
        if let Some(rule) = hit_and_run_rule(&rules).filter(|_| rules.max_hit_and_runs > 0) {
            blocked = over_limit(store.as_ref(), rule, rules.max_hit_and_runs).map_err(|e| {
                Failure::Runtime(format!("accounts: cannot count hits and runs: {e}"))
            })?;
        }
        table.replace(&key_rows(&all, &rules, &blocked));
        tracing::info!(accounts = table.len(), "private mode: passkeys loaded");
        let mut site = SiteRules::default();
        site.refresh(store.as_ref())
            .map_err(|e| Failure::Runtime(format!("accounts: cannot read site settings: {e}")))?;
        Ok(Watcher {
            store,
            table,
            seq,
            engine,
            pending: Batches::bounded(MAX_WAITING_CREDITS),
            rules,
            site,
            blocked,
            counted_at: Some(std::time::Instant::now()),
            read_failing: false,
        })
    }

    /// Writes the credits counted since the last flush (and any a failed flush left).
    pub fn flush(&mut self) {
        let mut drained = Vec::new();
        self.engine.drain_traffic(&mut drained);
        let dropped_before = self.pending.dropped();
        for t in drained {
            self.pending.add((t.user, t.info_hash), t);
        }
        let dropped = self.pending.dropped() - dropped_before;
        if dropped > 0 {
            tracing::error!(
                dropped,
                waiting = self.pending.len(),
                "accounts: credits dropped: too many wait for the store (it has been failing)"
            );
        }
        // The batch a failed flush left goes first, as it was; then what waited beside it.
        for _ in 0..2 {
            let Some((seq, batch)) = self.pending.next() else {
                return;
            };
            let rows = traffic_rows(&self.site, &self.rules, batch);
            let capped: Vec<Traffic> = batch
                .iter()
                .filter(|(_, t)| t.capped > 0)
                .map(|(_, t)| *t)
                .collect();
            match self.store.add_traffic_once(seq, &rows) {
                Ok(added) => {
                    if !added {
                        tracing::info!(batch = seq, "accounts: a batch of credits retried after its commit was already written");
                    }
                    for t in capped {
                        tracing::warn!(
                            user = t.user,
                            info_hash = %t.info_hash,
                            capped_bytes = t.capped,
                            "accounts: claimed upload above accounts.max_upload_rate was not credited"
                        );
                    }
                    self.pending.committed();
                    self.totals_changed(&rows);
                }
                Err(e) => {
                    tracing::warn!(error = %e, waiting = self.pending.len(), "accounts: cannot write traffic; will retry");
                    return;
                }
            }
        }
    }

    /// Their totals changed: the ratio rule may now allow or stop their downloads.
    fn totals_changed(&self, rows: &[TrafficRow]) {
        let mut users: Vec<u64> = rows.iter().map(|r| r.user_id).collect();
        users.dedup();
        match self.store.passkey_rows(&users) {
            Ok(changed) => {
                for r in key_rows(&changed, &self.rules, &self.blocked) {
                    self.table.set_may_leech(r.user, r.may_leech);
                }
            }
            Err(e) => tracing::warn!(error = %e, "accounts: cannot read totals"),
        }
    }

    /// Counts hits and runs again when [`HIT_AND_RUN_CHECK`] passed, and updates the
    /// accounts that went over or back under the limit.
    fn count_hit_and_runs(&mut self) {
        let max = self.rules.max_hit_and_runs;
        let Some(rule) = hit_and_run_rule(&self.rules).filter(|_| max > 0) else {
            return;
        };
        if self
            .counted_at
            .is_some_and(|t| t.elapsed() < HIT_AND_RUN_CHECK)
        {
            return;
        }
        self.counted_at = Some(std::time::Instant::now());
        let now_blocked = match over_limit(self.store.as_ref(), rule, max) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "accounts: cannot count hits and runs; keeping the last count");
                return;
            }
        };
        let mut changed: Vec<u64> = now_blocked
            .symmetric_difference(&self.blocked)
            .copied()
            .collect();
        self.blocked = now_blocked;
        if changed.is_empty() {
            return;
        }
        changed.sort_unstable();
        match self.store.passkey_rows(&changed) {
            Ok(rows) => {
                for r in key_rows(&rows, &self.rules, &self.blocked) {
                    self.table.set_may_leech(r.user, r.may_leech);
                }
                tracing::info!(
                    changed = changed.len(),
                    blocked = self.blocked.len(),
                    "accounts: hit-and-run limits applied"
                );
            }
            Err(e) => tracing::warn!(error = %e, "accounts: cannot read accounts"),
        }
    }

    /// Applies the accounts changed since the last poll. A failed read keeps the table
    /// as it is (the last known passkeys keep working) and is retried at the next poll.
    pub fn poll(&mut self) {
        self.count_hit_and_runs();
        if let Err(e) = self.site.refresh(self.store.as_ref()) {
            // Said once per outage: the poll retries four times a second.
            if !std::mem::replace(&mut self.read_failing, true) {
                tracing::warn!(error = %e, "accounts: cannot read the store; keeping the last passkeys and site settings");
            }
            return;
        }
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
                self.table
                    .apply(&key_rows(&changed, &self.rules, &self.blocked));
                self.seq = seq;
                if std::mem::replace(&mut self.read_failing, false) {
                    tracing::info!("accounts: the store is readable again");
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut self.read_failing, true) {
                    tracing::warn!(error = %e, "accounts: cannot read changes; keeping the last passkeys");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_engine::accounting::Account;
    use shoal_engine::{Announce, AnnounceEvent, EngineConfig, PeerAddrV4, PeerId, Secs};
    use shoal_store::{
        AccountChange, AccountStore, CatalogEntry, NewAccount, NewUpload, Role, SiteStore,
        SqliteStore,
    };

    fn entry(h: InfoHash) -> CatalogEntry {
        CatalogEntry {
            info_hash: h,
            alias: None,
            info_hash_v2: None,
            name: "t".into(),
            total_size: 1,
            file_count: 1,
            piece_length: 16384,
            private: true,
            first_seen: 1,
            resolved_at: 1,
            source_peers: 0,
            last_active: 1,
            files: vec![("t".into(), 1)],
            info: b"d4:name1:te".to_vec(),
        }
    }

    /// Credits `up`/`down` to `user` on `h` (a started announce, then one reporting
    /// the totals).
    fn traffic(e: &Engine, user: u32, h: InfoHash, up: u64, down: u64) {
        let peer = PeerAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, user as u8), 6881);
        let mut out = Vec::new();
        for (event, up, down, now) in [
            (AnnounceEvent::Started, 0, 0, 1),
            (AnnounceEvent::None, up, down, 2),
        ] {
            let req = Announce {
                info_hash: h,
                peer,
                peer_id: PeerId([user as u8; 20]),
                event,
                left: 10,
                num_want: None,
                paused: false,
            };
            let a = Account {
                user,
                uploaded: up,
                downloaded: down,
                may_leech: true,
            };
            e.announce_account(&req, &a, Secs(now), &mut out, None);
        }
    }

    /// A freeleech torrent's downloads are not counted, the site's double upload
    /// doubles uploads, and a ratio exemption lets an account below the rule leech —
    /// each reaching the watcher at its next poll.
    #[test]
    fn site_rules_reach_the_credits_and_the_ratio_rule() {
        let dir = std::env::temp_dir().join(format!("shoal-watcher-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shoal.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let new = |name, key| NewAccount {
            name,
            role: Role::Uploader,
            passkey: [key; 16],
            password_hash: None,
            invited_by: None,
            created_at: 1,
        };
        let alice = store.add_account(&new("alice", 1)).unwrap();
        let (free, paid) = (InfoHash([1; 20]), InfoHash([2; 20]));
        store
            .add_upload(&NewUpload {
                entry: &entry(free),
                user_id: alice.id,
                title: "free",
                description: "",
                category: "other",
                at: 1,
                approved: true,
                list: false,
            })
            .unwrap();
        store.set_upload_freeleech(&free, true).unwrap();
        let engine = Arc::new(Engine::new(
            EngineConfig {
                accounting: true,
                ..EngineConfig::default()
            },
            1,
        ));
        let table = Arc::new(PasskeyTable::new());
        let rules = AccountsSection {
            min_ratio_percent: 100,
            ratio_grace: 0,
            ..AccountsSection::default()
        };
        let target = crate::backend::Target::Sqlite(path.clone());
        let mut w = Watcher::start(&target, table.clone(), engine.clone(), rules).unwrap();
        let user = alice.id as u32;
        // Credits are whole KiB.
        const KIB: u64 = 1024;
        traffic(&engine, user, free, 0, 1000 * KIB);
        traffic(&engine, user, paid, 0, 300 * KIB);
        w.flush();
        let a = store.account("alice").unwrap().unwrap();
        assert_eq!(
            (a.uploaded, a.downloaded),
            (0, 300 * KIB),
            "the freeleech torrent's 1000 not counted"
        );
        let text = "01".repeat(16);
        let key = |t: &PasskeyTable| t.lookup(text.as_bytes()).map(|k| k.2);
        assert_eq!(key(&table), Some(false), "below the ratio rule");
        // The admin exempts her and switches double upload on.
        store
            .change_account(alice.id, AccountChange::RatioExempt(true))
            .unwrap();
        store
            .set_site_settings(&[("double_upload", "true")])
            .unwrap();
        w.poll();
        assert_eq!(key(&table), Some(true), "exempt");
        traffic(&engine, user, InfoHash([3; 20]), 50 * KIB, 0);
        w.flush();
        let a = store.account("alice").unwrap().unwrap();
        assert_eq!(a.uploaded, 100 * KIB, "double upload");
        drop(w);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An account over the hit-and-run limit may not start downloads until an admin
    /// exempts it; counted at start and again as time passes.
    #[test]
    fn hits_and_runs_over_the_limit_stop_new_downloads() {
        let dir = std::env::temp_dir().join(format!("shoal-hnr-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shoal.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let bob = store
            .add_account(&NewAccount {
                name: "bob",
                role: Role::User,
                passkey: [2; 16],
                password_hash: None,
                invited_by: None,
                created_at: 1,
            })
            .unwrap();
        let old = |h: u8| TrafficRow {
            user_id: bob.id,
            info_hash: InfoHash([h; 20]),
            uploaded: 0,
            downloaded: 10,
            seeding: false,
            active: false,
            completed: true,
            seeded: 0,
            at: 1000,
        };
        store.add_traffic(&[old(1), old(2)]).unwrap();
        let engine = Arc::new(Engine::new(
            EngineConfig {
                accounting: true,
                ..EngineConfig::default()
            },
            1,
        ));
        let table = Arc::new(PasskeyTable::new());
        let rules = AccountsSection {
            hit_and_run_seed_hours: 1,
            hit_and_run_days: 1,
            max_hit_and_runs: 1,
            ..AccountsSection::default()
        };
        let target = crate::backend::Target::Sqlite(path.clone());
        let mut w = Watcher::start(&target, table.clone(), engine, rules.clone()).unwrap();
        let text = "02".repeat(16);
        let may = |t: &PasskeyTable| t.lookup(text.as_bytes()).map(|k| k.2);
        assert_eq!(may(&table), Some(false), "two hits and runs, one allowed");
        store
            .change_account(bob.id, AccountChange::RatioExempt(true))
            .unwrap();
        w.poll();
        assert_eq!(may(&table), Some(true), "exempted");
        // Under the limit, the account is let go at the next count.
        let mut lenient = Watcher::start(
            &target,
            table.clone(),
            Arc::new(Engine::new(EngineConfig::default(), 1)),
            AccountsSection {
                max_hit_and_runs: 2,
                ..rules
            },
        )
        .unwrap();
        store
            .change_account(bob.id, AccountChange::RatioExempt(false))
            .unwrap();
        lenient.poll();
        assert_eq!(may(&table), Some(true), "two allowed");
        drop((w, lenient, store));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

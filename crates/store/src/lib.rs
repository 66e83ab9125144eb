//! shoal's persistent state.
//!
//! The tracker keeps its swarms in memory; what must outlive a crash lives here:
//! completed counts per torrent and a history of tracker-wide samples (for trends).
//! Writes are batched by the caller (one transaction per flush, off the request path),
//! so a `kill -9` loses at most the last flush interval and never what was flushed.
//!
//! [`Store`] is the interface; [`SqliteStore`] keeps everything in one SQLite file in WAL
//! mode. sqlx was chosen because the same crate drives PostgreSQL for multi-node setups.
//! The store is synchronous to its callers: it owns a small runtime and must not be
//! called from inside another async runtime.
#![deny(missing_docs)]

use std::path::Path;
use std::str::FromStr;

use shoal_protocol::InfoHash;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    /// The runtime could not be built.
    #[error("store runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The file was written by a newer shoal.
    #[error("store schema version {found} is newer than this shoal understands ({known})")]
    NewerSchema {
        /// Version in the file.
        found: i64,
        /// Latest version this build knows.
        known: i64,
    },
}

/// One tracker-wide sample, taken every sample interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Unix seconds.
    pub at: u64,
    /// Torrents held.
    pub torrents: u64,
    /// Peers held (both families).
    pub peers: u64,
    /// Seeders.
    pub seeders: u64,
    /// Leechers.
    pub leechers: u64,
    /// Announces answered since start (all protocols).
    pub announces: u64,
}

/// What shoal persists. A PostgreSQL backend implements the same calls.
pub trait Store: Send + Sync {
    /// Every stored completed count.
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError>;
    /// Writes a batch of completed counts in one transaction (counts only grow).
    fn save_completed(&self, batch: &[(InfoHash, u64)]) -> Result<(), StoreError>;
    /// Appends a sample.
    fn add_sample(&self, s: &Sample) -> Result<(), StoreError>;
    /// Samples taken at or after `since` (unix seconds), oldest first.
    fn samples_since(&self, since: u64) -> Result<Vec<Sample>, StoreError>;
    /// Deletes samples older than `before`.
    fn prune_samples(&self, before: u64) -> Result<(), StoreError>;
    /// Access-list entries added through the admin API.
    fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError>;
    /// Replaces the admin access-list entries (one transaction).
    fn replace_access_entries(&self, entries: &[InfoHash]) -> Result<(), StoreError>;
    /// Appends one sample of several swarms, all taken at `at`, and deletes swarm
    /// samples older than `before` (one transaction).
    fn add_swarm_samples(
        &self,
        at: u64,
        swarms: &[SwarmSample],
        before: u64,
    ) -> Result<(), StoreError>;
    /// Swarm samples taken at or after `since`, oldest first.
    fn swarm_samples_since(&self, since: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError>;
}

/// One swarm's counters at a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmSample {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
}

/// Schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE completed (info_hash BLOB PRIMARY KEY NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE samples (at INTEGER PRIMARY KEY NOT NULL, torrents INTEGER NOT NULL,
        peers INTEGER NOT NULL, seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
        announces INTEGER NOT NULL);",
    "CREATE TABLE access_list (info_hash BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID;",
    "CREATE TABLE swarm_samples (at INTEGER NOT NULL, info_hash BLOB NOT NULL,
        seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
        PRIMARY KEY (at, info_hash)) WITHOUT ROWID;",
];

/// The embedded store: one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    rt: tokio::runtime::Runtime,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a committed flush survives a process crash (kill -9).
            .synchronous(SqliteSynchronous::Normal);
        let pool = rt.block_on(
            SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options),
        )?;
        let store = SqliteStore { pool, rt };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.rt.block_on(async {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                .execute(&self.pool)
                .await?;
            let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                .fetch_one(&self.pool)
                .await?
                .get(0);
            let known = MIGRATIONS.len() as i64;
            if current > known {
                return Err(StoreError::NewerSchema {
                    found: current,
                    known,
                });
            }
            for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                let mut tx = self.pool.begin().await?;
                sqlx::raw_sql(m).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                    .bind(i as i64 + 1)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok(())
        })
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.rt.block_on(async {
            let rows = sqlx::query("SELECT info_hash, count FROM completed")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let h: Vec<u8> = r.get(0);
                    let n: i64 = r.get(1);
                    let h: [u8; 20] = h.try_into().ok()?;
                    Some((InfoHash(h), n.max(0) as u64))
                })
                .collect())
        })
    }

    fn save_completed(&self, batch: &[(InfoHash, u64)]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.rt.block_on(async {
            let mut tx = self.pool.begin().await?;
            // Many rows per statement: per-statement overhead dominates single-row upserts.
            for chunk in batch.chunks(400) {
                let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO completed (info_hash, count) ",
                );
                q.push_values(chunk, |mut row, (h, n)| {
                    row.push_bind(&h.0[..]).push_bind(to_i64(*n));
                });
                q.push(" ON CONFLICT (info_hash) DO UPDATE SET count = MAX(count, excluded.count)");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn add_sample(&self, s: &Sample) -> Result<(), StoreError> {
        self.rt.block_on(async {
            sqlx::query(
                "INSERT OR REPLACE INTO samples (at, torrents, peers, seeders, leechers, announces)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(to_i64(s.at))
            .bind(to_i64(s.torrents))
            .bind(to_i64(s.peers))
            .bind(to_i64(s.seeders))
            .bind(to_i64(s.leechers))
            .bind(to_i64(s.announces))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn samples_since(&self, since: u64) -> Result<Vec<Sample>, StoreError> {
        self.rt.block_on(async {
            let rows = sqlx::query(
                "SELECT at, torrents, peers, seeders, leechers, announces FROM samples
                 WHERE at >= ? ORDER BY at",
            )
            .bind(to_i64(since))
            .fetch_all(&self.pool)
            .await?;
            let u = |r: &sqlx::sqlite::SqliteRow, i: usize| r.get::<i64, _>(i).max(0) as u64;
            Ok(rows
                .iter()
                .map(|r| Sample {
                    at: u(r, 0),
                    torrents: u(r, 1),
                    peers: u(r, 2),
                    seeders: u(r, 3),
                    leechers: u(r, 4),
                    announces: u(r, 5),
                })
                .collect())
        })
    }

    fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError> {
        self.rt.block_on(async {
            let rows = sqlx::query("SELECT info_hash FROM access_list")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let h: Vec<u8> = r.get(0);
                    Some(InfoHash(h.try_into().ok()?))
                })
                .collect())
        })
    }

    fn replace_access_entries(&self, entries: &[InfoHash]) -> Result<(), StoreError> {
        self.rt.block_on(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM access_list")
                .execute(&mut *tx)
                .await?;
            for chunk in entries.chunks(400) {
                let mut q =
                    sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO access_list (info_hash) ");
                q.push_values(chunk, |mut row, h| {
                    row.push_bind(&h.0[..]);
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn add_swarm_samples(
        &self,
        at: u64,
        swarms: &[SwarmSample],
        before: u64,
    ) -> Result<(), StoreError> {
        self.rt.block_on(async {
            let mut tx = self.pool.begin().await?;
            for chunk in swarms.chunks(400) {
                let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT OR REPLACE INTO swarm_samples (at, info_hash, seeders, leechers) ",
                );
                q.push_values(chunk, |mut row, s| {
                    row.push_bind(to_i64(at))
                        .push_bind(&s.info_hash.0[..])
                        .push_bind(i64::from(s.seeders))
                        .push_bind(i64::from(s.leechers));
                });
                q.build().execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM swarm_samples WHERE at < ?")
                .bind(to_i64(before))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn swarm_samples_since(&self, since: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError> {
        self.rt.block_on(async {
            let rows = sqlx::query(
                "SELECT at, info_hash, seeders, leechers FROM swarm_samples
                 WHERE at >= ? ORDER BY at",
            )
            .bind(to_i64(since))
            .fetch_all(&self.pool)
            .await?;
            let n = |r: &sqlx::sqlite::SqliteRow, i: usize| {
                u32::try_from(r.get::<i64, _>(i).max(0)).unwrap_or(u32::MAX)
            };
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let h: Vec<u8> = r.get(1);
                    Some((
                        r.get::<i64, _>(0).max(0) as u64,
                        SwarmSample {
                            info_hash: InfoHash(h.try_into().ok()?),
                            seeders: n(r, 2),
                            leechers: n(r, 3),
                        },
                    ))
                })
                .collect())
        })
    }

    fn prune_samples(&self, before: u64) -> Result<(), StoreError> {
        self.rt.block_on(async {
            sqlx::query("DELETE FROM samples WHERE at < ?")
                .bind(to_i64(before))
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;

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
//!
//! A write either commits or returns an error: a failed write (disk full, I/O error) is
//! rolled back and its connection closed, so the next write starts on a clean one.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use shoal_protocol::InfoHash;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite, SqlitePool};

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
    /// Something other than a shoal store sits where the store should be. Starting with
    /// an empty store would hide the loss of every count; writing our tables into another
    /// program's database would damage it.
    #[error("{} is not a shoal store: {reason}", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The file could not be inspected, created or moved into place.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
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

/// Which swarm snapshot was written at a clean shutdown, after the last flush: the
/// snapshot's own time and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMark {
    /// Unix seconds the snapshot says it was written at.
    pub written_at: u64,
    /// The snapshot's checksum.
    pub checksum: u64,
}

/// What shoal persists. A PostgreSQL backend implements the same calls.
///
/// Every write either commits everything it was given or returns an error and commits
/// nothing; after an error the store stays usable and the caller may retry.
pub trait Store: Send + Sync {
    /// Every stored completed count.
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError>;
    /// The stored counts of these torrents (those the store knows; others are absent).
    fn completed_counts(&self, hashes: &[InfoHash]) -> Result<Vec<(InfoHash, u64)>, StoreError>;
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
    /// Records the swarm snapshot written at a clean shutdown, after the last flush.
    fn set_snapshot_mark(&self, mark: &SnapshotMark) -> Result<(), StoreError>;
    /// Returns the recorded snapshot mark and forgets it, in one transaction: a mark
    /// vouches for a snapshot only at the first start after the shutdown that wrote it,
    /// because anything the store takes after that start is newer than the snapshot.
    fn take_snapshot_mark(&self) -> Result<Option<SnapshotMark>, StoreError>;
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
    "CREATE TABLE snapshot_mark (written_at INTEGER NOT NULL, checksum BLOB NOT NULL);",
];

/// Every table the migrations create, and `schema_version`: a file holding any other
/// table belongs to another program. A unit test keeps this in step with [`MIGRATIONS`].
const TABLES: &[&str] = &[
    "schema_version",
    "completed",
    "samples",
    "access_list",
    "swarm_samples",
    "snapshot_mark",
];

/// `PRAGMA application_id` of a shoal store ("shoa"), set when the file is created so
/// other tools (and shoal) can tell it apart from other SQLite files.
const APPLICATION_ID: i64 = 0x7368_6f61;

/// The first bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The embedded store: one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    rt: tokio::runtime::Runtime,
}

impl SqliteStore {
    /// Opens the database at `path` and brings its schema up to date, creating it when
    /// there is no file. An existing file must be a shoal store: an empty file, a file
    /// that is not SQLite, or another program's database is refused
    /// ([`StoreError::NotAStore`]) and left untouched.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let file_err = |source| StoreError::File {
            path: path.to_owned(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(meta) => check_header(path, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => rt.block_on(create(path))?,
            Err(e) => return Err(file_err(e)),
        }
        let stamp = rt.block_on(inspect(path))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a committed flush survives a process crash (kill -9).
            .synchronous(SqliteSynchronous::Normal);
        let pool = rt.block_on(
            SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options),
        )?;
        rt.block_on(async {
            let mut conn = pool.acquire().await?;
            if stamp {
                // Written by a shoal from before files were stamped: stamp it now.
                sqlx::raw_sql(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                    .execute(&mut *conn)
                    .await?;
            }
            migrate(&mut conn).await
        })?;
        Ok(SqliteStore { pool, rt })
    }
}

/// Refuses what cannot be a store before SQLite opens it: SQLite would take an empty
/// file for an empty database, and report a foreign one only at the first query.
fn check_header(path: &Path, meta: &std::fs::Metadata) -> Result<(), StoreError> {
    use std::io::Read;
    let not_a_store = |reason: &str| StoreError::NotAStore {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !meta.is_file() {
        return Err(not_a_store("not a regular file"));
    }
    if meta.len() == 0 {
        return Err(not_a_store("the file is empty (0 bytes)"));
    }
    let mut head = [0u8; 16];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(not_a_store("not an SQLite database"))
        }
        Err(source) => {
            return Err(StoreError::File {
                path: path.to_owned(),
                source,
            })
        }
    }
    if &head != SQLITE_HEADER {
        return Err(not_a_store("not an SQLite database"));
    }
    Ok(())
}

/// Looks at an existing SQLite file without writing to it; returns whether it is a
/// shoal store from before files carried [`APPLICATION_ID`].
async fn inspect(path: &Path) -> Result<bool, StoreError> {
    let not_a_store = |reason: String| StoreError::NotAStore {
        path: path.to_owned(),
        reason,
    };
    // SQLite reads the header only when first asked, at connecting or at a query.
    let not_sqlite = |e: sqlx::Error| match e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("26") => {
            not_a_store("not an SQLite database".into())
        }
        e => e.into(),
    };
    // No journal-mode change here: that would write to a file that may not be ours.
    let options = SqliteConnectOptions::new().filename(path);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(not_sqlite)?;
    let result = async {
        let app: i64 = sqlx::query("PRAGMA application_id")
            .fetch_one(&mut conn)
            .await
            .map_err(not_sqlite)?
            .get(0);
        if app != 0 && app != APPLICATION_ID {
            return Err(not_a_store(format!(
                "application id {app:#010x} belongs to another program"
            )));
        }
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(not_sqlite)?
        .iter()
        .map(|r| r.get(0))
        .collect();
        if !tables.iter().any(|t| t == "schema_version") {
            return Err(not_a_store(if tables.is_empty() {
                "an SQLite database without shoal's tables".into()
            } else {
                format!("an SQLite database with other tables ({})", tables.join(", "))
            }));
        }
        // A newer shoal may have added tables: say that rather than "not a store".
        let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&mut conn)
            .await?
            .get(0);
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::NewerSchema {
                found: version,
                known,
            });
        }
        let foreign: Vec<&str> = tables
            .iter()
            .map(String::as_str)
            .filter(|t| !TABLES.contains(t))
            .collect();
        if !foreign.is_empty() {
            return Err(not_a_store(format!(
                "it holds tables shoal does not create ({})",
                foreign.join(", ")
            )));
        }
        Ok(app == 0)
    }
    .await;
    let _ = conn.close().await;
    result
}

/// Creates a new store under a temporary name and renames it into place, so a crash
/// during creation never leaves an empty or half-made file at `path` (which the next
/// start would refuse).
async fn create(path: &Path) -> Result<(), StoreError> {
    let file_err = |p: &Path, source| StoreError::File {
        path: p.to_owned(),
        source,
    };
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".new");
    let tmp = path.with_file_name(name);
    // Left by a crash during an earlier creation: never renamed, so never used.
    for leftover in [
        tmp.clone(),
        PathBuf::from(format!("{}-journal", tmp.display())),
    ] {
        match std::fs::remove_file(&leftover) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(&leftover, e)),
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(&tmp)
        .create_if_missing(true)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let made = async {
        sqlx::raw_sql(&format!("PRAGMA application_id = {APPLICATION_ID}"))
            .execute(&mut conn)
            .await?;
        migrate(&mut conn).await
    }
    .await;
    conn.close().await?;
    made?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))?;
    sync_dir(path).map_err(|e| file_err(path, e))
}

/// Makes a rename or removal in `path`'s directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
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
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(m).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Hands back a write's result; a failed write's connection is rolled back and closed
/// instead of going back to the pool. When SQLite fails a write (disk full, I/O error) it
/// may roll the transaction back on its own, and sqlx still counts the connection as
/// inside one (its ROLLBACK then fails): reused, that connection turns the next
/// transactions into savepoints, ends up holding a transaction and the write lock that
/// nothing commits, and the pool's other connection fails with "database is locked".
async fn settle<T>(
    mut conn: PoolConnection<Sqlite>,
    result: Result<T, sqlx::Error>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            // Fails harmlessly when SQLite already rolled back; closing would roll back
            // too, but not before the pool stops counting the connection.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            let _ = conn.close().await;
            Err(e.into())
        }
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

    fn completed_counts(&self, hashes: &[InfoHash]) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            // Bounded statements: SQLite caps the number of bound parameters.
            for chunk in hashes.chunks(400) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "SELECT info_hash, count FROM completed WHERE info_hash IN (",
                );
                let mut list = q.separated(", ");
                for h in chunk {
                    list.push_bind(&h.0[..]);
                }
                q.push(")");
                for r in q.build().fetch_all(&self.pool).await? {
                    let h: Vec<u8> = r.get(0);
                    let n: i64 = r.get(1);
                    if let Ok(h) = <[u8; 20]>::try_from(h) {
                        out.push((InfoHash(h), n.max(0) as u64));
                    }
                }
            }
            Ok(out)
        })
    }

    fn save_completed(&self, batch: &[(InfoHash, u64)]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = save_completed(&mut conn, batch).await;
            settle(conn, r).await
        })
    }

    fn add_sample(&self, s: &Sample) -> Result<(), StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = sqlx::query(
                "INSERT OR REPLACE INTO samples (at, torrents, peers, seeders, leechers, announces)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(to_i64(s.at))
            .bind(to_i64(s.torrents))
            .bind(to_i64(s.peers))
            .bind(to_i64(s.seeders))
            .bind(to_i64(s.leechers))
            .bind(to_i64(s.announces))
            .execute(&mut *conn)
            .await;
            settle(conn, r).await.map(drop)
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
            let mut conn = self.pool.acquire().await?;
            let r = replace_access_entries(&mut conn, entries).await;
            settle(conn, r).await
        })
    }

    fn add_swarm_samples(
        &self,
        at: u64,
        swarms: &[SwarmSample],
        before: u64,
    ) -> Result<(), StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = add_swarm_samples(&mut conn, at, swarms, before).await;
            settle(conn, r).await
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
            let mut conn = self.pool.acquire().await?;
            let r = sqlx::query("DELETE FROM samples WHERE at < ?")
                .bind(to_i64(before))
                .execute(&mut *conn)
                .await;
            settle(conn, r).await.map(drop)
        })
    }

    fn set_snapshot_mark(&self, mark: &SnapshotMark) -> Result<(), StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = set_snapshot_mark(&mut conn, mark).await;
            settle(conn, r).await
        })
    }

    fn take_snapshot_mark(&self) -> Result<Option<SnapshotMark>, StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = take_snapshot_mark(&mut conn).await;
            settle(conn, r).await
        })
    }
}

// The writes, each one transaction on one connection; `settle` handles their failures.

async fn save_completed(
    conn: &mut SqliteConnection,
    batch: &[(InfoHash, u64)],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    // Many rows per statement: per-statement overhead dominates single-row upserts.
    for chunk in batch.chunks(400) {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO completed (info_hash, count) ");
        q.push_values(chunk, |mut row, (h, n)| {
            row.push_bind(&h.0[..]).push_bind(to_i64(*n));
        });
        q.push(" ON CONFLICT (info_hash) DO UPDATE SET count = MAX(count, excluded.count)");
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

async fn replace_access_entries(
    conn: &mut SqliteConnection,
    entries: &[InfoHash],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM access_list")
        .execute(&mut *tx)
        .await?;
    for chunk in entries.chunks(400) {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO access_list (info_hash) ");
        q.push_values(chunk, |mut row, h| {
            row.push_bind(&h.0[..]);
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await
}

async fn add_swarm_samples(
    conn: &mut SqliteConnection,
    at: u64,
    swarms: &[SwarmSample],
    before: u64,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    for chunk in swarms.chunks(400) {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new(
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
    tx.commit().await
}

async fn set_snapshot_mark(
    conn: &mut SqliteConnection,
    mark: &SnapshotMark,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("DELETE FROM snapshot_mark")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO snapshot_mark (written_at, checksum) VALUES (?, ?)")
        .bind(to_i64(mark.written_at))
        .bind(&mark.checksum.to_be_bytes()[..])
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

async fn take_snapshot_mark(
    conn: &mut SqliteConnection,
) -> Result<Option<SnapshotMark>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let row = sqlx::query("SELECT written_at, checksum FROM snapshot_mark")
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM snapshot_mark")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row.and_then(|r| {
        let checksum: Vec<u8> = r.get(1);
        Some(SnapshotMark {
            written_at: r.get::<i64, _>(0).max(0) as u64,
            checksum: u64::from_be_bytes(checksum.try_into().ok()?),
        })
    }))
}

#[cfg(test)]
mod tests;

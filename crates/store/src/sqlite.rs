//! The SQLite backend: one file in WAL mode, the zero-setup default.

use std::path::{Path, PathBuf};

use shoal_protocol::InfoHash;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite, SqlitePool};

use crate::sql::{
    account_columns_of, account_row, account_torrent_row, attach_files, catalog_row,
    catalog_summary, completed_row, credentials_row, file_row, info_hash, mark_row, name_taken,
    passkey_row, sample_row, session_row, swarm_sample_row, to_i64, tracker_changes_of,
    traffic_totals, unreadable_account, Columns, ACCOUNT_COLUMNS, ACCOUNT_TORRENT_COLUMNS,
    CATALOG_COLUMNS, CATALOG_COLUMN_COUNT, PASSKEY_COLUMNS, TRACKER_CHANGE_COLUMNS,
};
use crate::{
    AccessStore, Account, AccountStore, AccountTorrent, CatalogEntry, CatalogStore, CatalogSummary,
    ChangeLog, CountStore, NewAccount, NewSession, PasskeyRow, Sample, SampleStore, Session,
    SnapshotMark, SnapshotMarks, StoreError, SwarmSample, TrackerChange, TrafficRow, LOCAL_NODE,
    MAX_CHANGES_READ,
};

/// One migration file of `migrations/sqlite/`, embedded.
macro_rules! migration {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
        )
    };
}

/// Schema migrations, applied in order, each in one transaction: the file's number is
/// the schema version it brings the store to (a unit test checks the numbering and that
/// every file is listed). Never edit one that has shipped; add the next.
const MIGRATIONS: &[(&str, &str)] = &[
    migration!("0001_counts_and_samples"),
    migration!("0002_access_list"),
    migration!("0003_swarm_samples"),
    migration!("0004_snapshot_mark"),
    migration!("0005_samples_and_marks_per_node"),
    migration!("0006_catalog"),
    migration!("0007_catalog_aliases"),
    migration!("0008_catalog_by_resolved"),
    migration!("0009_accounts"),
    migration!("0010_traffic"),
    migration!("0011_sessions"),
    migration!("0012_uploads_and_site"),
    migration!("0013_seed_time_and_bonus"),
    migration!("0014_partial_snatch_index"),
    migration!("0015_tracker_changes"),
    migration!("0016_preview"),
    migration!("0017_preview_hidden"),
];

/// Every table the migrations create, and `schema_version`: a file holding any other
/// table belongs to another program. A unit test keeps this in step with [`MIGRATIONS`].
pub(crate) const TABLES: &[&str] = &[
    "schema_version",
    "completed",
    "samples",
    "access_list",
    "swarm_samples",
    "snapshot_mark",
    "catalog",
    "catalog_files",
    "catalog_aliases",
    "users",
    "invites",
    "account_changes",
    "user_torrents",
    "sessions",
    "uploads",
    "site_settings",
    "preview_torrents",
    "preview_files",
    "preview_links",
    "preview_denied",
    "preview_hidden",
    "tracker_changes",
    "applied_batches",
];

/// `PRAGMA application_id` of a shoal store ("shoa"), set when the file is created so
/// other tools (and shoal) can tell it apart from other SQLite files.
const APPLICATION_ID: i64 = 0x7368_6f61;

/// The first bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The embedded store: one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    rt: crate::runtime::StoreRuntime,
    /// Whose samples and snapshot mark this handle writes and reads.
    node: String,
    /// The file's identity in [`OPEN_FILES`].
    file: Option<(u64, u64)>,
}

/// Files this process holds SQLite handles on (device and inode), with how many.
///
/// SQLite's locks are POSIX record locks, which belong to the process and are all
/// dropped when the process closes *any* descriptor of the file. Reading the header of
/// a file this process already has open (another handle on the same store: the catalog's,
/// the index's) would silently release every lock its connections hold; another process
/// (`shoal user`, `shoal catalog reindex`, a backup) would then think the file unused,
/// checkpoint it and delete its WAL under the server, whose later writes would be lost.
/// So the header is read only by the first handle on a file.
static OPEN_FILES: std::sync::Mutex<Vec<((u64, u64), usize)>> = std::sync::Mutex::new(Vec::new());

fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Counts a handle on `id`.
fn hold(id: (u64, u64)) {
    let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    match open.iter_mut().find(|(f, _)| *f == id) {
        Some((_, n)) => *n += 1,
        None => open.push((id, 1)),
    }
}

fn release(id: (u64, u64)) {
    let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = open.iter().position(|(f, _)| *f == id) {
        open[i].1 -= 1;
        if open[i].1 == 0 {
            open.swap_remove(i);
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(id) = self.file.take() {
            release(id);
        }
    }
}

impl SqliteStore {
    /// Opens the database at `path` as the only node ([`LOCAL_NODE`]); see
    /// [`SqliteStore::open_as`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_as(path, LOCAL_NODE)
    }

    /// Opens the database at `path` as `node` and brings its schema up to date,
    /// creating it when there is no file. An existing file must be a shoal store: an
    /// empty file, a file that is not SQLite, or another program's database is refused
    /// ([`StoreError::NotAStore`]) and left untouched. Several handles (processes) may
    /// open one file; SQLite serialises their writes.
    pub fn open_as(path: &Path, node: &str) -> Result<Self, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let file_err = |source| StoreError::File {
            path: path.to_owned(),
            source,
        };
        {
            // Under the lock, so no other thread's handle gets connections (and locks)
            // while this one reads the header.
            let open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
            match std::fs::metadata(path) {
                // Another handle of this process already checked it (and reading it
                // again would drop that handle's locks: see OPEN_FILES).
                Ok(meta) if open.iter().any(|(f, _)| *f == file_id(&meta)) => {}
                Ok(meta) => check_header(path, &meta)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => rt.block_on(create(path))?,
                Err(e) => return Err(file_err(e)),
            }
        }
        let file = file_id(&std::fs::metadata(path).map_err(file_err)?);
        hold(file);
        let store = SqliteStore::finish_open(path, node, rt, file);
        if store.is_err() {
            release(file);
        }
        store
    }

    fn finish_open(
        path: &Path,
        node: &str,
        rt: tokio::runtime::Runtime,
        file: (u64, u64),
    ) -> Result<Self, StoreError> {
        let stamp = rt.block_on(inspect(path))?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a committed flush survives a process crash (kill -9).
            .synchronous(SqliteSynchronous::Normal)
            // Reads through a mapping of the file rather than a read() per page, and a
            // 16 MiB page cache (2 MiB by default): a flush of credits walks the
            // per-account B-tree at as many places as it has rows.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-16384");
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
        Ok(SqliteStore {
            pool,
            rt: crate::runtime::StoreRuntime::new(rt),
            node: node.to_owned(),
            file: Some(file),
        })
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
        schema_version(&mut conn).await?;
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

/// The store's schema version; a version newer than this build knows is an error.
async fn schema_version(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let found: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    Ok(found)
}

async fn migrate(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current = schema_version(conn).await?;
    for (i, (_, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let mut tx = conn.begin().await?;
        // Another handle on the file may have applied it meanwhile. Read inside the
        // transaction: if one commits after this read, this one's write fails (its
        // snapshot is stale) rather than applying the migration twice.
        if schema_version(&mut tx).await? > i as i64 {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
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

/// Rows per multi-row statement: per-statement overhead dominates single-row writes,
/// and SQLite caps the number of bound parameters.
const ROWS_PER_STATEMENT: usize = 400;

impl SqliteStore {
    fn read<T>(
        &self,
        f: impl AsyncFnOnce(&SqlitePool) -> Result<T, sqlx::Error>,
    ) -> Result<T, StoreError> {
        Ok(self.rt.block_on(f(&self.pool))?)
    }

    /// Runs one write on a connection of its own; [`settle`] handles its failure.
    fn write<T>(
        &self,
        f: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            let r = f(&mut *conn).await;
            settle(conn, r).await
        })
    }
}

impl CountStore for SqliteStore {
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query("SELECT info_hash, count FROM completed")
                .fetch_all(pool)
                .await?;
            Ok(rows.iter().filter_map(completed_row).collect())
        })
    }

    fn completed_counts(&self, hashes: &[InfoHash]) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.read(async |pool| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "SELECT info_hash, count FROM completed WHERE info_hash IN (",
                );
                let mut list = q.separated(", ");
                for h in chunk {
                    list.push_bind(&h.0[..]);
                }
                q.push(")");
                let rows = q.build().fetch_all(pool).await?;
                out.extend(rows.iter().filter_map(completed_row));
            }
            Ok(out)
        })
    }

    fn add_completed(&self, deltas: &[(InfoHash, u64)]) -> Result<(), StoreError> {
        self.completed_once(deltas, None).map(drop)
    }

    fn add_completed_once(
        &self,
        batch: u64,
        deltas: &[(InfoHash, u64)],
    ) -> Result<bool, StoreError> {
        self.completed_once(deltas, Some(batch))
    }
}

impl SampleStore for SqliteStore {
    fn add_sample(&self, s: &Sample) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query(
                "INSERT OR REPLACE INTO samples
                 (node, at, torrents, peers, seeders, leechers, announces)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&self.node)
            .bind(to_i64(s.at))
            .bind(to_i64(s.torrents))
            .bind(to_i64(s.peers))
            .bind(to_i64(s.seeders))
            .bind(to_i64(s.leechers))
            .bind(to_i64(s.announces))
            .execute(conn)
            .await
            .map(drop)
        })
    }

    fn samples_since(&self, since: u64) -> Result<Vec<Sample>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(
                "SELECT at, torrents, peers, seeders, leechers, announces FROM samples
                 WHERE node = ? AND at >= ? ORDER BY at",
            )
            .bind(&self.node)
            .bind(to_i64(since))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().map(sample_row).collect())
        })
    }

    fn prune_samples(&self, before: u64) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query("DELETE FROM samples WHERE node = ? AND at < ?")
                .bind(&self.node)
                .bind(to_i64(before))
                .execute(conn)
                .await
                .map(drop)
        })
    }

    fn add_swarm_samples(
        &self,
        at: u64,
        swarms: &[SwarmSample],
        before: u64,
    ) -> Result<(), StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            for chunk in swarms.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "INSERT OR REPLACE INTO swarm_samples (node, at, info_hash, seeders, leechers) ",
                );
                q.push_values(chunk, |mut row, s| {
                    row.push_bind(&self.node)
                        .push_bind(to_i64(at))
                        .push_bind(&s.info_hash.0[..])
                        .push_bind(i64::from(s.seeders))
                        .push_bind(i64::from(s.leechers));
                });
                q.build().execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM swarm_samples WHERE node = ? AND at < ?")
                .bind(&self.node)
                .bind(to_i64(before))
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    fn swarm_samples_since(&self, since: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(
                "SELECT at, info_hash, seeders, leechers FROM swarm_samples
                 WHERE node = ? AND at >= ? ORDER BY at",
            )
            .bind(&self.node)
            .bind(to_i64(since))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().filter_map(swarm_sample_row).collect())
        })
    }
}

impl AccessStore for SqliteStore {
    fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query("SELECT info_hash FROM access_list")
                .fetch_all(pool)
                .await?;
            Ok(rows.iter().filter_map(|r| info_hash(r, 0)).collect())
        })
    }

    fn add_access_entry(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query("INSERT INTO access_list (info_hash) VALUES (?) ON CONFLICT DO NOTHING")
                .bind(&h.0[..])
                .execute(conn)
                .await
                .map(drop)
        })
    }

    fn remove_access_entry(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query("DELETE FROM access_list WHERE info_hash = ?")
                .bind(&h.0[..])
                .execute(conn)
                .await
                .map(drop)
        })
    }
}

/// Summed writes, once per batch when asked (see [`mark_batch`]).
impl SqliteStore {
    /// [`AccountStore::add_traffic`]'s write; with `batch`, once per (node, batch):
    /// `Ok(false)` when that batch was committed before.
    fn traffic_once(&self, rows: &[TrafficRow], batch: Option<u64>) -> Result<bool, StoreError> {
        if rows.is_empty() {
            return Ok(true);
        }
        // Per account totals once, not per row.
        let totals = traffic_totals(rows);
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            if let Some(seq) = batch {
                if !mark_batch(&mut tx, &self.node, "traffic", seq).await? {
                    // Committed before: the answer was lost, not the write.
                    return Ok(false);
                }
            }
            // 11 parameters a row: stay under SQLite's bound-parameter limit.
            for chunk in rows.chunks(ROWS_PER_STATEMENT / 4) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "INSERT INTO user_torrents (user_id, info_hash, uploaded, downloaded, seeding,
                        active, snatched, first_announce, last_announce, seed_time, snatched_at) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(to_i64(r.user_id))
                        .push_bind(&r.info_hash.0[..])
                        .push_bind(to_i64(r.uploaded))
                        .push_bind(to_i64(r.downloaded))
                        .push_bind(r.seeding)
                        .push_bind(r.active)
                        .push_bind(r.completed)
                        .push_bind(to_i64(r.at))
                        .push_bind(to_i64(r.at))
                        .push_bind(to_i64(r.seeded))
                        .push_bind(r.completed.then(|| to_i64(r.at)));
                });
                q.push(
                    " ON CONFLICT (user_id, info_hash) DO UPDATE SET
                        uploaded = uploaded + excluded.uploaded,
                        downloaded = downloaded + excluded.downloaded,
                        seeding = excluded.seeding,
                        active = excluded.active,
                        snatched = snatched OR excluded.snatched,
                        last_announce = MAX(last_announce, excluded.last_announce),
                        seed_time = seed_time + excluded.seed_time,
                        snatched_at = COALESCE(snatched_at, excluded.snatched_at)",
                );
                q.build().execute(&mut *tx).await?;
            }
            for (user, up, down) in &totals {
                sqlx::query(
                    "UPDATE users SET uploaded = uploaded + ?, downloaded = downloaded + ? WHERE id = ?",
                )
                .bind(to_i64(*up))
                .bind(to_i64(*down))
                .bind(to_i64(*user))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await.map(|()| true)
        })
    }

    /// [`CountStore::add_completed`]'s write; with `batch`, once per (node, batch):
    /// `Ok(false)` when that batch was committed before.
    fn completed_once(
        &self,
        deltas: &[(InfoHash, u64)],
        batch: Option<u64>,
    ) -> Result<bool, StoreError> {
        if deltas.is_empty() {
            return Ok(true);
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            if let Some(seq) = batch {
                if !mark_batch(&mut tx, &self.node, "completed", seq).await? {
                    // Committed before: the answer was lost, not the write.
                    return Ok(false);
                }
            }
            for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
                let mut q =
                    sqlx::QueryBuilder::<Sqlite>::new("INSERT INTO completed (info_hash, count) ");
                q.push_values(chunk, |mut row, (h, n)| {
                    row.push_bind(&h.0[..]).push_bind(to_i64(*n));
                });
                q.push(" ON CONFLICT (info_hash) DO UPDATE SET count = count + excluded.count");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await.map(|()| true)
        })
    }
}

/// Records batch `seq` of `kind` from `node` inside a transaction; `false` when it was
/// recorded (committed) before.
async fn mark_batch(
    tx: &mut SqliteConnection,
    node: &str,
    kind: &str,
    seq: u64,
) -> Result<bool, sqlx::Error> {
    let new = sqlx::query(
        "INSERT INTO applied_batches (node, kind, seq, at) VALUES (?, ?, ?, unixepoch())
         ON CONFLICT DO NOTHING",
    )
    .bind(node)
    .bind(kind)
    .bind(to_i64(seq))
    .execute(tx)
    .await?
    .rows_affected();
    Ok(new == 1)
}

impl ChangeLog for SqliteStore {
    fn last_tracker_change(&self) -> Result<u64, StoreError> {
        self.read(async |pool| {
            let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM tracker_changes")
                .fetch_one(pool)
                .await?;
            Ok(seq.max(0) as u64)
        })
    }

    fn tracker_changes(&self, since: u64) -> Result<(u64, Vec<TrackerChange>), StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {TRACKER_CHANGE_COLUMNS} FROM tracker_changes WHERE seq > ? ORDER BY seq LIMIT ?"
            ))
            .bind(to_i64(since))
            .bind(to_i64(MAX_CHANGES_READ))
            .fetch_all(pool)
            .await?;
            Ok(tracker_changes_of(&rows, since, &self.node))
        })
    }

    fn log_swarm_removal(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query("INSERT INTO tracker_changes (kind, info_hash, node) VALUES (?, ?, ?)")
                .bind(TrackerChange::SwarmRemoved(*h).kind())
                .bind(&h.0[..])
                .bind(&self.node)
                .execute(conn)
                .await
                .map(drop)
        })
    }

    fn prune_tracker_changes(&self, before: u64) -> Result<u64, StoreError> {
        self.write(async |conn| {
            sqlx::query("DELETE FROM applied_batches WHERE at < ?")
                .bind(to_i64(before.saturating_sub(crate::BATCHES_KEPT_SECS)))
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM tracker_changes WHERE at < ?")
                .bind(to_i64(before))
                .execute(conn)
                .await
                .map(|r| r.rows_affected())
        })
    }
}

impl SnapshotMarks for SqliteStore {
    fn set_snapshot_mark(&self, mark: &SnapshotMark) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query(
                "INSERT OR REPLACE INTO snapshot_mark (node, written_at, checksum) VALUES (?, ?, ?)",
            )
            .bind(&self.node)
            .bind(to_i64(mark.written_at))
            .bind(&mark.checksum.to_be_bytes()[..])
            .execute(conn)
            .await
            .map(drop)
        })
    }

    fn take_snapshot_mark(&self) -> Result<Option<SnapshotMark>, StoreError> {
        self.write(async |conn| {
            // One statement: read and forget at once, also against another writer.
            let row = sqlx::query(
                "DELETE FROM snapshot_mark WHERE node = ? RETURNING written_at, checksum",
            )
            .bind(&self.node)
            .fetch_optional(conn)
            .await?;
            Ok(row.as_ref().and_then(mark_row))
        })
    }
}

/// Stores one catalog entry inside the caller's transaction (replacing one held; an
/// entry whose hash is another entry's alias is the same torrent and is skipped).
async fn insert_catalog_entry(
    conn: &mut SqliteConnection,
    e: &CatalogEntry,
) -> Result<(), sqlx::Error> {
    // The other hash of a torrent already held: the same torrent.
    let aliased: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT info_hash FROM catalog_aliases WHERE alias = ?")
            .bind(&e.info_hash.0[..])
            .fetch_optional(&mut *conn)
            .await?;
    if aliased.is_some_and(|k| k != e.info_hash.0) {
        return Ok(());
    }
    if let Some(alias) = e.alias {
        sqlx::query(
            "INSERT INTO catalog_aliases (alias, info_hash) VALUES (?, ?)
             ON CONFLICT (alias) DO UPDATE SET info_hash = excluded.info_hash",
        )
        .bind(&alias.0[..])
        .bind(&e.info_hash.0[..])
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO catalog (info_hash, info_hash_v2, name, total_size, file_count,
            piece_length, private, first_seen, resolved_at, source_peers,
            last_active, info)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (info_hash) DO UPDATE SET info_hash_v2 = excluded.info_hash_v2,
            name = excluded.name, total_size = excluded.total_size,
            file_count = excluded.file_count, piece_length = excluded.piece_length,
            private = excluded.private, resolved_at = excluded.resolved_at,
            source_peers = excluded.source_peers,
            last_active = MAX(last_active, excluded.last_active), info = excluded.info",
    )
    .bind(&e.info_hash.0[..])
    .bind(e.info_hash_v2.map(|h| h.to_vec()))
    .bind(&e.name)
    .bind(to_i64(e.total_size))
    .bind(to_i64(e.file_count))
    .bind(to_i64(e.piece_length))
    .bind(e.private)
    .bind(to_i64(e.first_seen))
    .bind(to_i64(e.resolved_at))
    .bind(i64::from(e.source_peers))
    .bind(to_i64(e.last_active))
    .bind(&e.info[..])
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM catalog_files WHERE info_hash = ?")
        .bind(&e.info_hash.0[..])
        .execute(&mut *conn)
        .await?;
    let files: Vec<(usize, &(String, u64))> = e.files.iter().enumerate().collect();
    for chunk in files.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<Sqlite>::new(
            "INSERT INTO catalog_files (info_hash, idx, path, size) ",
        );
        q.push_values(chunk, |mut row, (i, (path, size))| {
            row.push_bind(&e.info_hash.0[..])
                .push_bind(*i as i64)
                .push_bind(path)
                .push_bind(to_i64(*size));
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The `IN (?, ?, …)` list of a chunk of info-hashes, appended to `q`.
fn push_hashes(q: &mut sqlx::QueryBuilder<'_, Sqlite>, hashes: &[InfoHash]) {
    q.push(" IN (");
    let mut list = q.separated(", ");
    for h in hashes {
        list.push_bind(h.0.to_vec());
    }
    q.push(")");
}

impl CatalogStore for SqliteStore {
    fn add_catalog_entries(&self, entries: &[CatalogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            for e in entries {
                insert_catalog_entry(&mut tx, e).await?;
            }
            tx.commit().await
        })
    }

    fn catalog_known(&self, hashes: &[InfoHash]) -> Result<Vec<InfoHash>, StoreError> {
        self.read(async |pool| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "SELECT info_hash FROM catalog WHERE info_hash",
                );
                push_hashes(&mut q, chunk);
                q.push(" UNION SELECT alias FROM catalog_aliases WHERE alias");
                push_hashes(&mut q, chunk);
                let rows = q.build().fetch_all(pool).await?;
                out.extend(rows.iter().filter_map(|r| info_hash(r, 0)));
            }
            Ok(out)
        })
    }

    fn catalog_entry(&self, h: &InfoHash) -> Result<Option<CatalogEntry>, StoreError> {
        self.read(async |pool| {
            let key: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT info_hash FROM catalog_aliases WHERE alias = ?")
                    .bind(&h.0[..])
                    .fetch_optional(pool)
                    .await?;
            let h = &key.and_then(crate::sql::hash_of).unwrap_or(*h);
            let Some(r) = sqlx::query(&format!(
                "SELECT {CATALOG_COLUMNS}, c.info FROM catalog c WHERE c.info_hash = ?"
            ))
            .bind(&h.0[..])
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            let files = sqlx::query(
                "SELECT path, size FROM catalog_files WHERE info_hash = ? ORDER BY idx",
            )
            .bind(&h.0[..])
            .fetch_all(pool)
            .await?;
            Ok(catalog_row(&r).map(|e| CatalogEntry {
                info: r.bytes(CATALOG_COLUMN_COUNT),
                files: files.iter().map(file_row).collect(),
                ..e
            }))
        })
    }

    fn catalog_scan(
        &self,
        after: (u64, InfoHash),
        limit: usize,
    ) -> Result<Vec<CatalogEntry>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {CATALOG_COLUMNS} FROM catalog c WHERE (c.resolved_at, c.info_hash) > (?, ?)
                 ORDER BY c.resolved_at, c.info_hash LIMIT ?"
            ))
            .bind(to_i64(after.0))
            .bind(&after.1 .0[..])
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?;
            let mut out: Vec<CatalogEntry> = rows.iter().filter_map(catalog_row).collect();
            for chunk in out.chunks_mut(ROWS_PER_STATEMENT) {
                let hashes: Vec<InfoHash> = chunk.iter().map(|e| e.info_hash).collect();
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "SELECT info_hash, path, size FROM catalog_files WHERE info_hash",
                );
                push_hashes(&mut q, &hashes);
                q.push(" ORDER BY info_hash, idx");
                let files = q.build().fetch_all(pool).await?;
                attach_files(chunk, &files);
            }
            Ok(out)
        })
    }

    fn catalog_summaries(&self, hashes: &[InfoHash]) -> Result<Vec<CatalogSummary>, StoreError> {
        self.read(async |pool| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                    "SELECT info_hash, name, total_size, file_count FROM catalog WHERE info_hash",
                );
                push_hashes(&mut q, chunk);
                q.push(
                    " UNION ALL SELECT a.alias, c.name, c.total_size, c.file_count
                     FROM catalog_aliases a JOIN catalog c ON c.info_hash = a.info_hash
                     WHERE a.alias",
                );
                push_hashes(&mut q, chunk);
                let rows = q.build().fetch_all(pool).await?;
                out.extend(rows.iter().filter_map(catalog_summary));
            }
            Ok(out)
        })
    }

    fn touch_catalog(&self, hashes: &[InfoHash], at: u64) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new("UPDATE catalog SET last_active = ");
                q.push_bind(to_i64(at));
                q.push(" WHERE last_active < ");
                q.push_bind(to_i64(at));
                q.push(" AND (info_hash");
                push_hashes(&mut q, chunk);
                // A hybrid torrent's other hash touches its entry too.
                q.push(" OR info_hash IN (SELECT info_hash FROM catalog_aliases WHERE alias");
                push_hashes(&mut q, chunk);
                q.push("))");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    fn remove_catalog_entry(&self, h: &InfoHash) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let key: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT info_hash FROM catalog_aliases WHERE alias = ?")
                    .bind(&h.0[..])
                    .fetch_optional(&mut *tx)
                    .await?;
            let h = &key.and_then(crate::sql::hash_of).unwrap_or(*h);
            sqlx::query("DELETE FROM catalog_aliases WHERE info_hash = ?")
                .bind(&h.0[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM catalog_files WHERE info_hash = ?")
                .bind(&h.0[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM uploads WHERE info_hash = ?")
                .bind(&h.0[..])
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM catalog WHERE info_hash = ?")
                .bind(&h.0[..])
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(gone > 0)
        })
    }

    fn prune_catalog(&self, keep: u64) -> Result<u64, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            // Uploads are kept whatever the cap: they count, but are never the ones to go.
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalog")
                .fetch_one(&mut *tx)
                .await?;
            let excess = (held.max(0) as u64).saturating_sub(keep);
            if excess == 0 {
                return Ok(0);
            }
            let victims = "SELECT info_hash FROM catalog WHERE info_hash NOT IN (SELECT info_hash FROM uploads)\n                 ORDER BY last_active, resolved_at LIMIT ?";
            sqlx::query(&format!(
                "DELETE FROM catalog_aliases WHERE info_hash IN ({victims})"
            ))
            .bind(to_i64(excess))
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "DELETE FROM catalog_files WHERE info_hash IN ({victims})"
            ))
            .bind(to_i64(excess))
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "DELETE FROM catalog WHERE info_hash IN ({victims})"
            ))
            .bind(to_i64(excess))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(excess)
        })
    }

    fn catalog_oldest(&self, limit: u64) -> Result<Vec<InfoHash>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(
                "SELECT info_hash FROM catalog WHERE info_hash NOT IN (SELECT info_hash FROM uploads)
                 ORDER BY last_active, resolved_at LIMIT ?",
            )
            .bind(to_i64(limit))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().filter_map(|r| info_hash(r, 0)).collect())
        })
    }

    fn remove_catalog_entries(&self, hashes: &[InfoHash]) -> Result<u64, StoreError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let mut gone = 0;
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                for table in ["catalog_aliases", "catalog_files", "catalog"] {
                    let mut q = sqlx::QueryBuilder::<Sqlite>::new(format!(
                        "DELETE FROM {table} WHERE info_hash"
                    ));
                    push_hashes(&mut q, chunk);
                    let n = q.build().execute(&mut *tx).await?.rows_affected();
                    if table == "catalog" {
                        gone += n;
                    }
                }
            }
            tx.commit().await?;
            Ok(gone)
        })
    }

    fn catalog_len(&self) -> Result<u64, StoreError> {
        self.read(async |pool| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalog")
                .fetch_one(pool)
                .await?;
            Ok(n.max(0) as u64)
        })
    }
}

/// The latest account change's sequence.
async fn last_change(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM account_changes")
        .fetch_one(conn)
        .await
}

/// Logs a change to account `id` inside a transaction.
async fn log_change(tx: &mut SqliteConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO account_changes (user_id) VALUES (?)")
        .bind(id)
        .execute(tx)
        .await
        .map(drop)
}

/// A value [`SqliteStore::update_account`] sets.
enum Column {
    Banned(bool),
    Passkey([u8; 16]),
}

impl SqliteStore {
    /// Sets one column of the account named `name` and logs the change; whether it exists.
    fn update_account(&self, name: &str, value: Column) -> Result<bool, StoreError> {
        let key = name.to_lowercase();
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let q = match &value {
                Column::Banned(b) => sqlx::query_scalar(
                    "UPDATE users SET banned = ? WHERE name_key = ? RETURNING id",
                )
                .bind(*b),
                Column::Passkey(k) => sqlx::query_scalar(
                    "UPDATE users SET passkey = ? WHERE name_key = ? RETURNING id",
                )
                .bind(&k[..]),
            };
            let id: Option<i64> = q.bind(&key).fetch_optional(&mut *tx).await?;
            if let Some(id) = id {
                log_change(&mut tx, id).await?;
            }
            tx.commit().await?;
            Ok(id.is_some())
        })
    }
}

impl AccountStore for SqliteStore {
    fn add_traffic(&self, rows: &[TrafficRow]) -> Result<(), StoreError> {
        self.traffic_once(rows, None).map(drop)
    }

    fn add_traffic_once(&self, batch: u64, rows: &[TrafficRow]) -> Result<bool, StoreError> {
        self.traffic_once(rows, Some(batch))
    }

    fn passkey_rows(&self, user_ids: &[u64]) -> Result<Vec<PasskeyRow>, StoreError> {
        self.read(async |pool| {
            let mut out = Vec::new();
            for chunk in user_ids.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<Sqlite>::new(format!(
                    "SELECT {PASSKEY_COLUMNS} FROM users WHERE id IN ("
                ));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(to_i64(*id));
                }
                q.push(")");
                let rows = q.build().fetch_all(pool).await?;
                out.extend(rows.iter().filter_map(passkey_row));
            }
            Ok(out)
        })
    }

    fn account_torrents(&self, user_id: u64) -> Result<Vec<AccountTorrent>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {ACCOUNT_TORRENT_COLUMNS} FROM user_torrents WHERE user_id = ?
                 ORDER BY last_announce DESC"
            ))
            .bind(to_i64(user_id))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().filter_map(account_torrent_row).collect())
        })
    }

    fn add_account(&self, new: &NewAccount<'_>) -> Result<Account, StoreError> {
        let key = new.name.to_lowercase();
        let r = self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM users WHERE name_key = ? OR passkey = ?",
            )
            .bind(&key)
            .bind(&new.passkey[..])
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Ok(None);
            }
            let row = sqlx::query(&format!(
                "INSERT INTO users (name, name_key, role, passkey, password_hash, invited_by, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {ACCOUNT_COLUMNS}"
            ))
            .bind(new.name)
            .bind(&key)
            .bind(new.role.key())
            .bind(&new.passkey[..])
            .bind(new.password_hash)
            .bind(new.invited_by.map(to_i64))
            .bind(to_i64(new.created_at))
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.get(0);
            log_change(&mut tx, id).await?;
            tx.commit().await?;
            Ok(Some(row))
        })?;
        match r {
            None => Err(name_taken(new.name)),
            Some(row) => account_row(&row).ok_or_else(unreadable_account),
        }
    }

    fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let key = name.to_lowercase();
        self.read(async |pool| {
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE name_key = ?"
            ))
            .bind(&key)
            .fetch_optional(pool)
            .await?;
            Ok(row.as_ref().and_then(account_row))
        })
    }

    fn set_banned(&self, name: &str, banned: bool) -> Result<bool, StoreError> {
        self.update_account(name, Column::Banned(banned))
    }

    fn set_passkey(&self, name: &str, passkey: [u8; 16]) -> Result<bool, StoreError> {
        self.update_account(name, Column::Passkey(passkey))
    }

    fn add_invite(
        &self,
        code_hash: [u8; 32],
        created_by: Option<u64>,
        created_at: u64,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.write(async |conn| {
            sqlx::query(
                "INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
            )
            .bind(&code_hash[..])
            .bind(created_by.map(to_i64))
            .bind(to_i64(created_at))
            .bind(to_i64(expires_at))
            .execute(conn)
            .await
            .map(drop)
        })
    }

    fn passkeys(&self) -> Result<(u64, Vec<PasskeyRow>), StoreError> {
        self.read(async |pool| {
            let mut tx = pool.begin().await?;
            let seq = last_change(&mut tx).await?;
            let rows = sqlx::query(&format!("SELECT {PASSKEY_COLUMNS} FROM users"))
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((
                seq.max(0) as u64,
                rows.iter().filter_map(passkey_row).collect(),
            ))
        })
    }

    fn passkey_changes(&self, since: u64) -> Result<(u64, Vec<PasskeyRow>), StoreError> {
        self.read(async |pool| {
            let mut tx = pool.begin().await?;
            let seq = last_change(&mut tx).await?;
            let rows = sqlx::query(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM users WHERE id IN
                 (SELECT user_id FROM account_changes WHERE seq > ? AND seq <= ?)"
            ))
            .bind(to_i64(since))
            .bind(seq)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok((
                seq.max(0) as u64,
                rows.iter().filter_map(passkey_row).collect(),
            ))
        })
    }

    fn credentials(&self, name: &str) -> Result<Option<(Account, Option<String>)>, StoreError> {
        let key = name.to_lowercase();
        self.read(async |pool| {
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS}, password_hash FROM users WHERE name_key = ?"
            ))
            .bind(&key)
            .fetch_optional(pool)
            .await?;
            Ok(row.as_ref().and_then(credentials_row))
        })
    }

    fn set_password(&self, user_id: u64, password_hash: &str) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
                .bind(password_hash)
                .bind(to_i64(user_id))
                .execute(conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn register(
        &self,
        new: &NewAccount<'_>,
        code_hash: [u8; 32],
        now: u64,
    ) -> Result<Option<Account>, StoreError> {
        let key = new.name.to_lowercase();
        // Err(()) inside: the name or passkey is taken.
        let r = self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let invite: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT created_by FROM invites
                 WHERE code_hash = ? AND used_by IS NULL AND expires_at > ?",
            )
            .bind(&code_hash[..])
            .bind(to_i64(now))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(created_by) = invite else {
                return Ok(Ok(None));
            };
            let taken: Option<i64> =
                sqlx::query_scalar("SELECT id FROM users WHERE name_key = ? OR passkey = ?")
                    .bind(&key)
                    .bind(&new.passkey[..])
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Ok(Err(()));
            }
            let row = sqlx::query(&format!(
                "INSERT INTO users (name, name_key, role, passkey, password_hash, invited_by, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {ACCOUNT_COLUMNS}"
            ))
            .bind(new.name)
            .bind(&key)
            .bind(new.role.key())
            .bind(&new.passkey[..])
            .bind(new.password_hash)
            .bind(created_by)
            .bind(to_i64(new.created_at))
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.get(0);
            // The guard on used_by makes a second redeemer of the same code lose even
            // if two transactions read it unused.
            let used = sqlx::query(
                "UPDATE invites SET used_by = ?, used_at = ? WHERE code_hash = ? AND used_by IS NULL",
            )
            .bind(id)
            .bind(to_i64(now))
            .bind(&code_hash[..])
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(Ok(None));
            }
            log_change(&mut tx, id).await?;
            tx.commit().await?;
            Ok(Ok(Some(row)))
        })?;
        match r {
            Ok(None) => Ok(None),
            Err(()) => Err(name_taken(new.name)),
            Ok(Some(row)) => account_row(&row).map(Some).ok_or_else(unreadable_account),
        }
    }

    fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
                .bind(to_i64(s.created_at))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&s.token_hash[..])
            .bind(to_i64(s.user_id))
            .bind(&s.csrf[..])
            .bind(to_i64(s.created_at))
            .bind(to_i64(s.expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
    }

    fn session(&self, token_hash: [u8; 32], now: u64) -> Result<Option<Session>, StoreError> {
        self.read(async |pool| {
            let cols = account_columns_of("u");
            let row = sqlx::query(&format!(
                "SELECT {cols}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ? AND s.expires_at > ?"
            ))
            .bind(&token_hash[..])
            .bind(to_i64(now))
            .fetch_optional(pool)
            .await?;
            Ok(row.as_ref().and_then(session_row))
        })
    }

    fn delete_session(&self, token_hash: [u8; 32]) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let done = sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
                .bind(&token_hash[..])
                .execute(conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn delete_sessions_of(&self, user_id: u64, keep: Option<[u8; 32]>) -> Result<u64, StoreError> {
        self.write(async |conn| {
            let keep = keep.map(|k| k.to_vec()).unwrap_or_default();
            let done = sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?")
                .bind(to_i64(user_id))
                .bind(keep)
                .execute(conn)
                .await?;
            Ok(done.rows_affected())
        })
    }

    fn prune_sessions(&self, now: u64) -> Result<u64, StoreError> {
        self.write(async |conn| {
            let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
                .bind(to_i64(now))
                .execute(conn)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

mod preview;
mod site;

#[cfg(test)]
mod tests;

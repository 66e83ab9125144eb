//! The PostgreSQL backend: one database that several nodes share.
//!
//! SQLite has one writer at a time; PostgreSQL runs writers side by side, so what SQLite
//! gets from taking turns is asked for here: batches are merged per key and written in
//! key order (one statement may not update a row twice, and writers that lock rows in
//! one order cannot deadlock), writes that check before they write (catalog and uploads)
//! take an advisory lock, and account changes take turns on their log so that readers
//! see its sequence numbers in order. Multi-row statements bind one array per column
//! (`UNNEST`, `= ANY`): the statement text stays the same whatever the batch size, so
//! each connection prepares it once.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use shoal_protocol::InfoHash;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};

use crate::sql::{
    account_columns_of, account_row, account_torrent_row, attach_files, catalog_row,
    catalog_summary, completed_row, credentials_row, file_row, hash_of, info_hash, mark_row,
    name_taken, passkey_row, sample_row, session_row, swarm_sample_row, to_i64, tracker_changes_of,
    traffic_totals, unreadable_account, Columns, ACCOUNT_COLUMNS, ACCOUNT_TORRENT_COLUMNS,
    CATALOG_COLUMNS, CATALOG_COLUMN_COUNT, PASSKEY_COLUMNS, TRACKER_CHANGE_COLUMNS,
};
use crate::{
    AccessStore, Account, AccountStore, AccountTorrent, CatalogEntry, CatalogStore, CatalogSummary,
    ChangeLog, CountStore, NewAccount, NewSession, PasskeyRow, Sample, SampleStore, Session,
    SnapshotMark, SnapshotMarks, StoreError, SwarmSample, TrackerChange, TrafficRow,
    MAX_CHANGES_READ,
};

/// One migration file of `migrations/postgres/`, embedded.
macro_rules! migration {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        )
    };
}

/// Schema migrations, applied in order, each in one transaction: the file's number is
/// the schema version it brings the database to (a unit test checks the numbering and
/// that every file is listed). Never edit one that has shipped; add the next.
const MIGRATIONS: &[(&str, &str)] = &[
    migration!("0001_schema"),
    migration!("0002_seed_time_and_bonus"),
    migration!("0003_partial_snatch_index"),
    migration!("0004_tracker_changes"),
    migration!("0005_preview"),
    migration!("0006_preview_hidden"),
];

/// Advisory lock keys (`pg_advisory_xact_lock` takes a bigint): "shoal" in ASCII, then
/// what the lock is for. Held until the transaction ends.
const MIGRATION_LOCK: i64 = 0x7368_6f61_6c00_0001;
/// Catalog and upload writes: each checks what is there before it writes (an alias, a
/// duplicate upload, how many entries to prune), which stays true only if no other
/// node writes in between.
const CATALOG_LOCK: i64 = 0x7368_6f61_6c00_0002;

/// How long connecting may take, and waiting for a free connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per handle: the store thread's and the catalog's calls come one at a
/// time; the portal's several at once.
const MAX_CONNECTIONS: u32 = 4;

/// Rows per multi-row statement. Each statement binds one array per column, so this
/// bounds a statement's size rather than its parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// The store in a PostgreSQL database, shared by every node that connects to it.
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) rt: crate::runtime::StoreRuntime,
    /// Whose samples and snapshot mark this handle writes and reads.
    node: String,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`)
    /// as `node` and brings its schema up to date. Nodes may start at once: they take
    /// turns migrating, each migration in one transaction. A schema newer than this build
    /// knows is refused ([`StoreError::NewerSchema`]); a database that holds other
    /// tables of the same names fails its first migration, which changes nothing.
    pub fn connect(url: &str, node: &str) -> Result<PgStore, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let options = PgConnectOptions::from_str(url)?
            .application_name(&format!("shoal {node}"))
            // A safety net for the locks nodes share: a transaction of ours never waits
            // on its client, so one that does belongs to a node that hung mid-write.
            .options([("idle_in_transaction_session_timeout", "60s")]);
        let pool = rt.block_on(async {
            // One connection first, for its error: the pool would retry a refused
            // connection until its timeout and report only that it timed out.
            let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, async {
                PgConnection::connect_with(&options).await
            })
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer from PostgreSQL in {CONNECT_TIMEOUT:?}"),
                ))
            })??;
            let migrated = migrate(&mut conn).await;
            let _ = conn.close().await;
            migrated?;
            Ok::<_, StoreError>(
                PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options),
            )
        })?;
        Ok(PgStore {
            pool,
            rt: crate::runtime::StoreRuntime::new(rt),
            node: node.to_owned(),
        })
    }

    /// Runs `f` on one connection. On an error the connection is closed rather than
    /// returned, and the server rolls back whatever it held. `f` ends every transaction
    /// it begins, with a commit or a rollback, also when it returns early: a transaction
    /// left to sqlx's drop is rolled back only when this handle next runs, holding its
    /// locks until then against every other node.
    fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, StoreError> {
        self.rt.block_on(async {
            let mut conn = self.pool.acquire().await?;
            match f(&mut conn).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    let _ = conn.close().await;
                    Err(e.into())
                }
            }
        })
    }
}

/// The schema version of the database (0 when it has none); newer than this build
/// knows is an error.
async fn schema_version(conn: &mut PgConnection) -> Result<i64, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_version') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(0);
    }
    let found: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    Ok(found)
}

/// Applies the migrations the database lacks, one transaction each, under an advisory
/// lock: a node starting beside another waits, then finds the work done.
async fn migrate(conn: &mut PgConnection) -> Result<(), StoreError> {
    loop {
        let mut tx = conn.begin().await?;
        take_turn(&mut tx, MIGRATION_LOCK).await?;
        let current = match schema_version(&mut tx).await {
            Ok(v) => v,
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        };
        let Some((_, sql)) = MIGRATIONS.get(current as usize) else {
            tx.commit().await?;
            return Ok(());
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(current + 1)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
}

/// Takes the advisory lock `key` until the transaction ends.
async fn take_turn(tx: &mut PgConnection, key: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(tx)
        .await
        .map(drop)
}

/// Begins a read that sees one snapshot throughout, as SQLite's read transactions do.
async fn snapshot(conn: &mut PgConnection) -> Result<sqlx::Transaction<'_, Postgres>, sqlx::Error> {
    conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
}

/// Info-hashes as one `bytea[]` parameter.
fn blobs(hashes: &[InfoHash]) -> Vec<&[u8]> {
    hashes.iter().map(|h| &h.0[..]).collect()
}

/// One column of a batch as an array parameter.
fn column<'a, T, U>(rows: &'a [T], f: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

/// Deltas summed per torrent, in hash order (what SQLite's one statement per batch
/// makes of a hash given twice).
fn summed(deltas: &[(InfoHash, u64)]) -> Vec<(InfoHash, u64)> {
    let mut by_hash: BTreeMap<InfoHash, u64> = BTreeMap::new();
    for (h, n) in deltas {
        let sum = by_hash.entry(*h).or_default();
        *sum = sum.saturating_add(*n);
    }
    by_hash.into_iter().collect()
}

/// One sample per swarm, the last given (as SQLite's `INSERT OR REPLACE` leaves it), in
/// hash order.
fn last_per_swarm(swarms: &[SwarmSample]) -> Vec<SwarmSample> {
    let mut by_hash: BTreeMap<InfoHash, SwarmSample> = BTreeMap::new();
    for s in swarms {
        by_hash.insert(s.info_hash, *s);
    }
    by_hash.into_values().collect()
}

/// One row per account and torrent, in that order, as SQLite's statement leaves a pair
/// given twice: credits summed, the later row's state, a snatch kept, the latest time.
fn merged_traffic(rows: &[TrafficRow]) -> Vec<TrafficRow> {
    let mut by_key: BTreeMap<(u64, InfoHash), TrafficRow> = BTreeMap::new();
    for r in rows {
        by_key
            .entry((r.user_id, r.info_hash))
            .and_modify(|m| {
                m.uploaded = m.uploaded.saturating_add(r.uploaded);
                m.downloaded = m.downloaded.saturating_add(r.downloaded);
                m.seeding = r.seeding;
                m.active = r.active;
                m.completed |= r.completed;
                m.seeded = m.seeded.saturating_add(r.seeded);
                m.at = m.at.max(r.at);
            })
            .or_insert(*r);
    }
    by_key.into_values().collect()
}

impl CountStore for PgStore {
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query("SELECT info_hash, count FROM completed")
                .fetch_all(conn)
                .await?;
            Ok(rows.iter().filter_map(completed_row).collect())
        })
    }

    fn completed_counts(&self, hashes: &[InfoHash]) -> Result<Vec<(InfoHash, u64)>, StoreError> {
        self.run(async |conn| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let rows =
                    sqlx::query("SELECT info_hash, count FROM completed WHERE info_hash = ANY($1)")
                        .bind(blobs(chunk))
                        .fetch_all(&mut *conn)
                        .await?;
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

impl SampleStore for PgStore {
    fn add_sample(&self, s: &Sample) -> Result<(), StoreError> {
        self.run(async |conn| {
            sqlx::query(
                "INSERT INTO samples (node, at, torrents, peers, seeders, leechers, announces)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (node, at) DO UPDATE SET torrents = EXCLUDED.torrents,
                    peers = EXCLUDED.peers, seeders = EXCLUDED.seeders,
                    leechers = EXCLUDED.leechers, announces = EXCLUDED.announces",
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
        self.run(async |conn| {
            let rows = sqlx::query(
                "SELECT at, torrents, peers, seeders, leechers, announces FROM samples
                 WHERE node = $1 AND at >= $2 ORDER BY at",
            )
            .bind(&self.node)
            .bind(to_i64(since))
            .fetch_all(conn)
            .await?;
            Ok(rows.iter().map(sample_row).collect())
        })
    }

    fn prune_samples(&self, before: u64) -> Result<(), StoreError> {
        self.run(async |conn| {
            sqlx::query("DELETE FROM samples WHERE node = $1 AND at < $2")
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
        let swarms = last_per_swarm(swarms);
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            for chunk in swarms.chunks(ROWS_PER_STATEMENT) {
                sqlx::query(
                    "INSERT INTO swarm_samples (node, at, info_hash, seeders, leechers)
                     SELECT $1, $2, h, s, l FROM UNNEST($3::bytea[], $4::bigint[], $5::bigint[])
                        AS t(h, s, l)
                     ON CONFLICT (node, at, info_hash) DO UPDATE SET
                        seeders = EXCLUDED.seeders, leechers = EXCLUDED.leechers",
                )
                .bind(&self.node)
                .bind(to_i64(at))
                .bind(column(chunk, |s| &s.info_hash.0[..]))
                .bind(column(chunk, |s| i64::from(s.seeders)))
                .bind(column(chunk, |s| i64::from(s.leechers)))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM swarm_samples WHERE node = $1 AND at < $2")
                .bind(&self.node)
                .bind(to_i64(before))
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    fn swarm_samples_since(&self, since: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query(
                "SELECT at, info_hash, seeders, leechers FROM swarm_samples
                 WHERE node = $1 AND at >= $2 ORDER BY at, info_hash",
            )
            .bind(&self.node)
            .bind(to_i64(since))
            .fetch_all(conn)
            .await?;
            Ok(rows.iter().filter_map(swarm_sample_row).collect())
        })
    }
}

impl AccessStore for PgStore {
    fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query("SELECT info_hash FROM access_list")
                .fetch_all(conn)
                .await?;
            Ok(rows.iter().filter_map(|r| info_hash(r, 0)).collect())
        })
    }

    fn add_access_entry(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.run(async |conn| {
            sqlx::query("INSERT INTO access_list (info_hash) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(&h.0[..])
                .execute(conn)
                .await
                .map(drop)
        })
    }

    fn remove_access_entry(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.run(async |conn| {
            sqlx::query("DELETE FROM access_list WHERE info_hash = $1")
                .bind(&h.0[..])
                .execute(conn)
                .await
                .map(drop)
        })
    }
}

/// Summed writes, once per batch when asked (see [`mark_batch`]).
impl PgStore {
    /// [`AccountStore::add_traffic`]'s write; with `batch`, once per (node, batch):
    /// `Ok(false)` when that batch was committed before.
    fn traffic_once(&self, rows: &[TrafficRow], batch: Option<u64>) -> Result<bool, StoreError> {
        if rows.is_empty() {
            return Ok(true);
        }
        let rows = merged_traffic(rows);
        let totals = traffic_totals(&rows);
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            if let Some(seq) = batch {
                if !mark_batch(&mut tx, &self.node, "traffic", seq).await? {
                    // Committed before: the answer was lost, not the write.
                    return Ok(false);
                }
            }
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                sqlx::query(
                    "INSERT INTO user_torrents (user_id, info_hash, uploaded, downloaded, seeding,
                        active, snatched, first_announce, last_announce, seed_time, snatched_at)
                     SELECT u, h, up, down, s, a, c, t, t, st, CASE WHEN c THEN t END
                     FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[],
                        $5::boolean[], $6::boolean[], $7::boolean[], $8::bigint[], $9::bigint[])
                        AS r(u, h, up, down, s, a, c, t, st)
                     ON CONFLICT (user_id, info_hash) DO UPDATE SET
                        uploaded = user_torrents.uploaded + EXCLUDED.uploaded,
                        downloaded = user_torrents.downloaded + EXCLUDED.downloaded,
                        seeding = EXCLUDED.seeding,
                        active = EXCLUDED.active,
                        snatched = user_torrents.snatched OR EXCLUDED.snatched,
                        last_announce = GREATEST(user_torrents.last_announce, EXCLUDED.last_announce),
                        seed_time = user_torrents.seed_time + EXCLUDED.seed_time,
                        snatched_at = COALESCE(user_torrents.snatched_at, EXCLUDED.snatched_at)",
                )
                .bind(column(chunk, |r| to_i64(r.user_id)))
                .bind(column(chunk, |r| &r.info_hash.0[..]))
                .bind(column(chunk, |r| to_i64(r.uploaded)))
                .bind(column(chunk, |r| to_i64(r.downloaded)))
                .bind(column(chunk, |r| r.seeding))
                .bind(column(chunk, |r| r.active))
                .bind(column(chunk, |r| r.completed))
                .bind(column(chunk, |r| to_i64(r.at)))
                .bind(column(chunk, |r| to_i64(r.seeded)))
                .execute(&mut *tx)
                .await?;
            }
            for chunk in totals.chunks(ROWS_PER_STATEMENT) {
                let ids = column(chunk, |(user, _, _)| to_i64(*user));
                // Locked in account order first (an UPDATE … FROM locks in the join's
                // order), so two nodes' flushes wait for each other instead of deadlocking.
                sqlx::query("SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE users SET uploaded = users.uploaded + t.up,
                        downloaded = users.downloaded + t.down
                     FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS t(id, up, down)
                     WHERE users.id = t.id",
                )
                .bind(&ids)
                .bind(column(chunk, |(_, up, _)| to_i64(*up)))
                .bind(column(chunk, |(_, _, down)| to_i64(*down)))
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
        let deltas = summed(deltas);
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            if let Some(seq) = batch {
                if !mark_batch(&mut tx, &self.node, "completed", seq).await? {
                    // Committed before: the answer was lost, not the write.
                    return Ok(false);
                }
            }
            for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
                sqlx::query(
                    "INSERT INTO completed (info_hash, count)
                     SELECT * FROM UNNEST($1::bytea[], $2::bigint[])
                     ON CONFLICT (info_hash) DO UPDATE SET count = completed.count + EXCLUDED.count",
                )
                .bind(column(chunk, |(h, _)| &h.0[..]))
                .bind(column(chunk, |(_, n)| to_i64(*n)))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await.map(|()| true)
        })
    }
}

/// Records batch `seq` of `kind` from `node` inside a transaction; `false` when it was
/// recorded (committed) before.
async fn mark_batch(
    tx: &mut PgConnection,
    node: &str,
    kind: &str,
    seq: u64,
) -> Result<bool, sqlx::Error> {
    let new = sqlx::query(
        "INSERT INTO applied_batches (node, kind, seq, at)
         VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::BIGINT) ON CONFLICT DO NOTHING",
    )
    .bind(node)
    .bind(kind)
    .bind(to_i64(seq))
    .execute(tx)
    .await?
    .rows_affected();
    Ok(new == 1)
}

impl ChangeLog for PgStore {
    fn last_tracker_change(&self) -> Result<u64, StoreError> {
        self.run(async |conn| {
            let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM tracker_changes")
                .fetch_one(conn)
                .await?;
            Ok(seq.max(0) as u64)
        })
    }

    fn tracker_changes(&self, since: u64) -> Result<(u64, Vec<TrackerChange>), StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query(&format!(
                "SELECT {} FROM tracker_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                TRACKER_CHANGE_COLUMNS.replace("kind", "kind::BIGINT")
            ))
            .bind(to_i64(since))
            .bind(to_i64(MAX_CHANGES_READ))
            .fetch_all(conn)
            .await?;
            Ok(tracker_changes_of(&rows, since, &self.node))
        })
    }

    fn log_swarm_removal(&self, h: &InfoHash) -> Result<(), StoreError> {
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            // Writers take turns on the log, as its triggers do.
            sqlx::query("LOCK TABLE tracker_changes IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO tracker_changes (kind, info_hash, node) VALUES ($1, $2, $3)")
                .bind(TrackerChange::SwarmRemoved(*h).kind() as i16)
                .bind(&h.0[..])
                .bind(&self.node)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    fn prune_tracker_changes(&self, before: u64) -> Result<u64, StoreError> {
        self.run(async |conn| {
            sqlx::query("DELETE FROM applied_batches WHERE at < $1")
                .bind(to_i64(before.saturating_sub(crate::BATCHES_KEPT_SECS)))
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM tracker_changes WHERE at < $1")
                .bind(to_i64(before))
                .execute(conn)
                .await
                .map(|r| r.rows_affected())
        })
    }
}

impl SnapshotMarks for PgStore {
    fn set_snapshot_mark(&self, mark: &SnapshotMark) -> Result<(), StoreError> {
        self.run(async |conn| {
            sqlx::query(
                "INSERT INTO snapshot_mark (node, written_at, checksum) VALUES ($1, $2, $3)
                 ON CONFLICT (node) DO UPDATE SET written_at = EXCLUDED.written_at,
                    checksum = EXCLUDED.checksum",
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
        self.run(async |conn| {
            // One statement: read and forget at once, also against another writer.
            let row = sqlx::query(
                "DELETE FROM snapshot_mark WHERE node = $1 RETURNING written_at, checksum",
            )
            .bind(&self.node)
            .fetch_optional(conn)
            .await?;
            Ok(row.as_ref().and_then(mark_row))
        })
    }
}

/// Stores one catalog entry inside the caller's transaction, which holds
/// [`CATALOG_LOCK`] (replacing one held; an entry whose hash is another entry's alias is
/// the same torrent and is skipped).
async fn insert_catalog_entry(
    conn: &mut PgConnection,
    e: &CatalogEntry,
) -> Result<(), sqlx::Error> {
    let aliased: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT info_hash FROM catalog_aliases WHERE alias = $1")
            .bind(&e.info_hash.0[..])
            .fetch_optional(&mut *conn)
            .await?;
    if aliased.is_some_and(|k| k != e.info_hash.0) {
        return Ok(());
    }
    if let Some(alias) = e.alias {
        sqlx::query(
            "INSERT INTO catalog_aliases (alias, info_hash) VALUES ($1, $2)
             ON CONFLICT (alias) DO UPDATE SET info_hash = EXCLUDED.info_hash",
        )
        .bind(&alias.0[..])
        .bind(&e.info_hash.0[..])
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO catalog (info_hash, info_hash_v2, name, total_size, file_count,
            piece_length, private, first_seen, resolved_at, source_peers, last_active, info)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (info_hash) DO UPDATE SET info_hash_v2 = EXCLUDED.info_hash_v2,
            name = EXCLUDED.name, total_size = EXCLUDED.total_size,
            file_count = EXCLUDED.file_count, piece_length = EXCLUDED.piece_length,
            private = EXCLUDED.private, resolved_at = EXCLUDED.resolved_at,
            source_peers = EXCLUDED.source_peers,
            last_active = GREATEST(catalog.last_active, EXCLUDED.last_active),
            info = EXCLUDED.info",
    )
    .bind(&e.info_hash.0[..])
    .bind(e.info_hash_v2.as_ref().map(|h| &h[..]))
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
    sqlx::query("DELETE FROM catalog_files WHERE info_hash = $1")
        .bind(&e.info_hash.0[..])
        .execute(&mut *conn)
        .await?;
    let files: Vec<(usize, &(String, u64))> = e.files.iter().enumerate().collect();
    for chunk in files.chunks(ROWS_PER_STATEMENT) {
        sqlx::query(
            "INSERT INTO catalog_files (info_hash, idx, path, size)
             SELECT $1, i, p, s FROM UNNEST($2::bigint[], $3::text[], $4::bigint[]) AS f(i, p, s)",
        )
        .bind(&e.info_hash.0[..])
        .bind(column(chunk, |(i, _)| *i as i64))
        .bind(column(chunk, |(_, (path, _))| path.as_str()))
        .bind(column(chunk, |(_, (_, size))| to_i64(*size)))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The catalog's key for `h`: the entry it is an alias of, or itself.
async fn catalog_key(conn: &mut PgConnection, h: &InfoHash) -> Result<InfoHash, sqlx::Error> {
    let key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT info_hash FROM catalog_aliases WHERE alias = $1")
            .bind(&h.0[..])
            .fetch_optional(conn)
            .await?;
    Ok(key.and_then(hash_of).unwrap_or(*h))
}

/// Deletes entries (aliases, files, the entry) by key; how many entries there were.
async fn delete_catalog_entries(tx: &mut PgConnection, keys: &[&[u8]]) -> Result<u64, sqlx::Error> {
    for table in ["catalog_aliases", "catalog_files"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE info_hash = ANY($1)"))
            .bind(keys)
            .execute(&mut *tx)
            .await?;
    }
    let gone = sqlx::query("DELETE FROM catalog WHERE info_hash = ANY($1)")
        .bind(keys)
        .execute(&mut *tx)
        .await?;
    Ok(gone.rows_affected())
}

/// Entries that are not uploads, longest without peers first: what pruning takes.
const OLDEST_ENTRIES: &str = "SELECT info_hash FROM catalog
    WHERE info_hash NOT IN (SELECT info_hash FROM uploads)
    ORDER BY last_active, resolved_at, info_hash LIMIT $1";

impl CatalogStore for PgStore {
    fn add_catalog_entries(&self, entries: &[CatalogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            take_turn(&mut tx, CATALOG_LOCK).await?;
            for e in entries {
                insert_catalog_entry(&mut tx, e).await?;
            }
            tx.commit().await
        })
    }

    fn catalog_known(&self, hashes: &[InfoHash]) -> Result<Vec<InfoHash>, StoreError> {
        self.run(async |conn| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let rows = sqlx::query(
                    "SELECT info_hash FROM catalog WHERE info_hash = ANY($1)
                     UNION SELECT alias FROM catalog_aliases WHERE alias = ANY($1)",
                )
                .bind(blobs(chunk))
                .fetch_all(&mut *conn)
                .await?;
                out.extend(rows.iter().filter_map(|r| info_hash(r, 0)));
            }
            Ok(out)
        })
    }

    fn catalog_entry(&self, h: &InfoHash) -> Result<Option<CatalogEntry>, StoreError> {
        self.run(async |conn| {
            let mut tx = snapshot(conn).await?;
            let key = catalog_key(&mut tx, h).await?;
            let row = sqlx::query(&format!(
                "SELECT {CATALOG_COLUMNS}, c.info FROM catalog c WHERE c.info_hash = $1"
            ))
            .bind(&key.0[..])
            .fetch_optional(&mut *tx)
            .await?;
            let files = sqlx::query(
                "SELECT path, size FROM catalog_files WHERE info_hash = $1 ORDER BY idx",
            )
            .bind(&key.0[..])
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(row.and_then(|r| {
                Some(CatalogEntry {
                    info: r.bytes(CATALOG_COLUMN_COUNT),
                    files: files.iter().map(file_row).collect(),
                    ..catalog_row(&r)?
                })
            }))
        })
    }

    fn catalog_scan(
        &self,
        after: (u64, InfoHash),
        limit: usize,
    ) -> Result<Vec<CatalogEntry>, StoreError> {
        self.run(async |conn| {
            let mut tx = snapshot(conn).await?;
            let rows = sqlx::query(&format!(
                "SELECT {CATALOG_COLUMNS} FROM catalog c
                 WHERE (c.resolved_at, c.info_hash) > ($1, $2)
                 ORDER BY c.resolved_at, c.info_hash LIMIT $3"
            ))
            .bind(to_i64(after.0))
            .bind(&after.1 .0[..])
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
            let mut out: Vec<CatalogEntry> = rows.iter().filter_map(catalog_row).collect();
            for chunk in out.chunks_mut(ROWS_PER_STATEMENT) {
                let keys: Vec<&[u8]> = chunk.iter().map(|e| &e.info_hash.0[..]).collect();
                let files = sqlx::query(
                    "SELECT info_hash, path, size FROM catalog_files WHERE info_hash = ANY($1)
                     ORDER BY info_hash, idx",
                )
                .bind(keys)
                .fetch_all(&mut *tx)
                .await?;
                attach_files(chunk, &files);
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    fn catalog_summaries(&self, hashes: &[InfoHash]) -> Result<Vec<CatalogSummary>, StoreError> {
        self.run(async |conn| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                let rows = sqlx::query(
                    "SELECT info_hash, name, total_size, file_count FROM catalog
                     WHERE info_hash = ANY($1)
                     UNION ALL SELECT a.alias, c.name, c.total_size, c.file_count
                     FROM catalog_aliases a JOIN catalog c ON c.info_hash = a.info_hash
                     WHERE a.alias = ANY($1)",
                )
                .bind(blobs(chunk))
                .fetch_all(&mut *conn)
                .await?;
                out.extend(rows.iter().filter_map(catalog_summary));
            }
            Ok(out)
        })
    }

    fn touch_catalog(&self, hashes: &[InfoHash], at: u64) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            take_turn(&mut tx, CATALOG_LOCK).await?;
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                // A hybrid torrent's other hash touches its entry too.
                sqlx::query(
                    "UPDATE catalog SET last_active = $1 WHERE last_active < $1
                     AND (info_hash = ANY($2) OR info_hash IN
                        (SELECT info_hash FROM catalog_aliases WHERE alias = ANY($2)))",
                )
                .bind(to_i64(at))
                .bind(blobs(chunk))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })
    }

    fn remove_catalog_entry(&self, h: &InfoHash) -> Result<bool, StoreError> {
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            take_turn(&mut tx, CATALOG_LOCK).await?;
            let key = catalog_key(&mut tx, h).await?;
            sqlx::query("DELETE FROM uploads WHERE info_hash = $1")
                .bind(&key.0[..])
                .execute(&mut *tx)
                .await?;
            let gone = delete_catalog_entries(&mut tx, &[&key.0[..]]).await?;
            tx.commit().await?;
            Ok(gone > 0)
        })
    }

    fn prune_catalog(&self, keep: u64) -> Result<u64, StoreError> {
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            // Two nodes pruning at once would each remove the excess.
            take_turn(&mut tx, CATALOG_LOCK).await?;
            // Uploads are kept whatever the cap: they count, but are never the ones to go.
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalog")
                .fetch_one(&mut *tx)
                .await?;
            let excess = (held.max(0) as u64).saturating_sub(keep);
            let victims: Vec<Vec<u8>> = if excess == 0 {
                Vec::new()
            } else {
                sqlx::query_scalar(OLDEST_ENTRIES)
                    .bind(to_i64(excess))
                    .fetch_all(&mut *tx)
                    .await?
            };
            let keys: Vec<&[u8]> = victims.iter().map(Vec::as_slice).collect();
            let gone = if keys.is_empty() {
                0
            } else {
                delete_catalog_entries(&mut tx, &keys).await?
            };
            tx.commit().await?;
            Ok(gone)
        })
    }

    fn catalog_oldest(&self, limit: u64) -> Result<Vec<InfoHash>, StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query(OLDEST_ENTRIES)
                .bind(to_i64(limit))
                .fetch_all(conn)
                .await?;
            Ok(rows.iter().filter_map(|r| info_hash(r, 0)).collect())
        })
    }

    fn remove_catalog_entries(&self, hashes: &[InfoHash]) -> Result<u64, StoreError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            take_turn(&mut tx, CATALOG_LOCK).await?;
            let mut gone = 0;
            for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
                gone += delete_catalog_entries(&mut tx, &blobs(chunk)).await?;
            }
            tx.commit().await?;
            Ok(gone)
        })
    }

    fn catalog_len(&self) -> Result<u64, StoreError> {
        self.run(async |conn| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM catalog")
                .fetch_one(conn)
                .await?;
            Ok(n.max(0) as u64)
        })
    }
}

/// The latest account change's sequence.
async fn last_change(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM account_changes")
        .fetch_one(conn)
        .await
}

/// Logs a change to account `id` inside a transaction, as its last write.
///
/// Readers ([`AccountStore::passkey_changes`]) take every change up to the largest
/// sequence they see, so no change may become visible after a larger one: writers take
/// turns on the log (readers are not blocked), each drawing its sequence only once the
/// one before has committed. The lock is held until commit; taking it last keeps the
/// order of locks the same in every transaction (account rows, then the log).
async fn log_change(tx: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE account_changes IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO account_changes (user_id) VALUES ($1)")
        .bind(id)
        .execute(tx)
        .await
        .map(drop)
}

/// Inserts an account unless its name or passkey is taken (`None`), inside a
/// transaction. `ON CONFLICT DO NOTHING` waits for a concurrent insert of the same name
/// and then finds it taken, where a check before the insert would not see it.
async fn insert_account(
    tx: &mut PgConnection,
    new: &NewAccount<'_>,
    invited_by: Option<i64>,
) -> Result<Option<sqlx::postgres::PgRow>, sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO users (name, name_key, role, passkey, password_hash, invited_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {ACCOUNT_COLUMNS}"
    ))
    .bind(new.name)
    .bind(new.name.to_lowercase())
    .bind(new.role.key())
    .bind(&new.passkey[..])
    .bind(new.password_hash)
    .bind(invited_by)
    .bind(to_i64(new.created_at))
    .fetch_optional(tx)
    .await
}

/// A value [`PgStore::update_account`] sets.
enum Column {
    Banned(bool),
    Passkey([u8; 16]),
}

impl PgStore {
    /// Sets one column of the account named `name` and logs the change; whether it exists.
    fn update_account(&self, name: &str, value: Column) -> Result<bool, StoreError> {
        let key = name.to_lowercase();
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            let q = match &value {
                Column::Banned(b) => sqlx::query_scalar(
                    "UPDATE users SET banned = $1 WHERE name_key = $2 RETURNING id",
                )
                .bind(*b),
                Column::Passkey(k) => sqlx::query_scalar(
                    "UPDATE users SET passkey = $1 WHERE name_key = $2 RETURNING id",
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

impl AccountStore for PgStore {
    fn add_traffic(&self, rows: &[TrafficRow]) -> Result<(), StoreError> {
        self.traffic_once(rows, None).map(drop)
    }

    fn add_traffic_once(&self, batch: u64, rows: &[TrafficRow]) -> Result<bool, StoreError> {
        self.traffic_once(rows, Some(batch))
    }

    fn passkey_rows(&self, user_ids: &[u64]) -> Result<Vec<PasskeyRow>, StoreError> {
        self.run(async |conn| {
            let mut out = Vec::new();
            for chunk in user_ids.chunks(ROWS_PER_STATEMENT) {
                let rows = sqlx::query(&format!(
                    "SELECT {PASSKEY_COLUMNS} FROM users WHERE id = ANY($1)"
                ))
                .bind(column(chunk, |id| to_i64(*id)))
                .fetch_all(&mut *conn)
                .await?;
                out.extend(rows.iter().filter_map(passkey_row));
            }
            Ok(out)
        })
    }

    fn account_torrents(&self, user_id: u64) -> Result<Vec<AccountTorrent>, StoreError> {
        self.run(async |conn| {
            let rows = sqlx::query(&format!(
                "SELECT {ACCOUNT_TORRENT_COLUMNS} FROM user_torrents WHERE user_id = $1
                 ORDER BY last_announce DESC, info_hash"
            ))
            .bind(to_i64(user_id))
            .fetch_all(conn)
            .await?;
            Ok(rows.iter().filter_map(account_torrent_row).collect())
        })
    }

    fn add_account(&self, new: &NewAccount<'_>) -> Result<Account, StoreError> {
        let row = self.run(async |conn| {
            let mut tx = conn.begin().await?;
            let row = insert_account(&mut tx, new, new.invited_by.map(to_i64)).await?;
            if let Some(row) = &row {
                log_change(&mut tx, row.int(0)).await?;
            }
            tx.commit().await?;
            Ok(row)
        })?;
        let row = row.ok_or_else(|| name_taken(new.name))?;
        account_row(&row).ok_or_else(unreadable_account)
    }

    fn account(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let key = name.to_lowercase();
        self.run(async |conn| {
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE name_key = $1"
            ))
            .bind(&key)
            .fetch_optional(conn)
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
        self.run(async |conn| {
            sqlx::query(
                "INSERT INTO invites (code_hash, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
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
        self.run(async |conn| {
            let mut tx = snapshot(conn).await?;
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
        self.run(async |conn| {
            let mut tx = snapshot(conn).await?;
            let seq = last_change(&mut tx).await?;
            let rows = sqlx::query(&format!(
                "SELECT {PASSKEY_COLUMNS} FROM users WHERE id IN
                 (SELECT user_id FROM account_changes WHERE seq > $1 AND seq <= $2)"
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
        self.run(async |conn| {
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS}, password_hash FROM users WHERE name_key = $1"
            ))
            .bind(&key)
            .fetch_optional(conn)
            .await?;
            Ok(row.as_ref().and_then(credentials_row))
        })
    }

    fn set_password(&self, user_id: u64, password_hash: &str) -> Result<bool, StoreError> {
        self.run(async |conn| {
            let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
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
        // Err(()) inside: the name or passkey is taken.
        let r = self.run(async |conn| {
            let mut tx = conn.begin().await?;
            // Locked: a second redeemer of the code waits here, then finds it used.
            let invite: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT created_by FROM invites
                 WHERE code_hash = $1 AND used_by IS NULL AND expires_at > $2 FOR UPDATE",
            )
            .bind(&code_hash[..])
            .bind(to_i64(now))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(created_by) = invite else {
                tx.rollback().await?;
                return Ok(Ok(None));
            };
            let Some(row) = insert_account(&mut tx, new, created_by).await? else {
                tx.rollback().await?;
                return Ok(Err(()));
            };
            let id = row.int(0);
            // The row lock makes this guard redundant; it stays as SQLite's only one.
            let used = sqlx::query(
                "UPDATE invites SET used_by = $1, used_at = $2
                 WHERE code_hash = $3 AND used_by IS NULL",
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
        self.run(async |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(to_i64(s.created_at))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
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
        self.run(async |conn| {
            let row = sqlx::query(&format!(
                "SELECT {}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
                account_columns_of("u")
            ))
            .bind(&token_hash[..])
            .bind(to_i64(now))
            .fetch_optional(conn)
            .await?;
            Ok(row.as_ref().and_then(session_row))
        })
    }

    fn delete_session(&self, token_hash: [u8; 32]) -> Result<bool, StoreError> {
        self.run(async |conn| {
            let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(&token_hash[..])
                .execute(conn)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn delete_sessions_of(&self, user_id: u64, keep: Option<[u8; 32]>) -> Result<u64, StoreError> {
        self.run(async |conn| {
            let done = sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
            )
            .bind(to_i64(user_id))
            .bind(keep.as_ref().map(|k| &k[..]))
            .execute(conn)
            .await?;
            Ok(done.rows_affected())
        })
    }

    fn prune_sessions(&self, now: u64) -> Result<u64, StoreError> {
        self.run(async |conn| {
            let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
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

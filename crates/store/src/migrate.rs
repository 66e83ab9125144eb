//! `shoal store migrate-from-sqlite`: a single node's SQLite store copied into PostgreSQL.
//!
//! Both backends hold the same tables with the same columns (a schema test keeps them
//! equal), so the copy is table by table, column by column, each value converted to the
//! type PostgreSQL declares for its column. Everything goes in one PostgreSQL
//! transaction: a failed copy leaves the database as it was. The target must be empty
//! (its migrations' own rows aside): merging two stores' counts and accounts would need
//! rules that a copy cannot guess. Identity columns continue after the copied ids.

use std::path::Path;

use futures_util::TryStreamExt;
use sqlx::{Connection, Postgres, QueryBuilder, Row};

use crate::{PgStore, SqliteStore, StoreError};

/// What a migration copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Rows per table, in copy order.
    pub tables: Vec<(String, u64)>,
}

impl Migrated {
    /// Rows over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// The PostgreSQL type of a column, as far as the copy needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Bytes,
    Text,
    Float,
}

/// One value on its way.
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
    Text(Option<String>),
    Float(Option<f64>),
}

impl Value {
    fn size(&self) -> usize {
        match self {
            Value::Bytes(Some(b)) => b.len(),
            Value::Text(Some(t)) => t.len(),
            _ => 8,
        }
    }
}

/// Rows held before they are sent: at most this many bind parameters (PostgreSQL takes
/// 65,535 a statement) and this many bytes (catalog rows carry info dictionaries).
const MAX_PARAMS: usize = 30_000;
const MAX_BATCH_BYTES: usize = 16 << 20;

/// Rows the migrations themselves write (`site_settings`' version row): the only rows
/// an empty target may hold, replaced by the copy.
fn seeded(table: &str) -> &'static str {
    match table {
        "site_settings" => "key <> 'version'",
        _ => "TRUE",
    }
}

/// Copies every table of the SQLite store at `file` into the database `target` is
/// connected to, which must be empty. `progress(done, total)` is called as rows go.
/// The SQLite file is brought to this build's schema first (as starting a server on it
/// would), then only read; a server may keep running on it, but what it writes after
/// the copy began is not copied.
pub fn migrate_from_sqlite(
    file: &Path,
    target: &PgStore,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Migrated, StoreError> {
    if !file.exists() {
        return Err(StoreError::NotAStore {
            path: file.to_owned(),
            reason: "no such file".into(),
        });
    }
    // Checks that it is a shoal store and migrates it; the copy reads it on its own
    // connection, inside the PostgreSQL handle's runtime.
    drop(SqliteStore::open(file)?);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .read_only(true);
    target.rt.block_on(async {
        let mut src = sqlx::SqliteConnection::connect_with(&options).await?;
        let mut dst = target.pool.acquire().await?;
        let mut tx = dst.begin().await?;
        let tables = crate::sqlite::TABLES
            .iter()
            .copied()
            // Each backend numbers its own migrations; the change log and the batch
            // marks are for running nodes (a node starting on the copy loads everything
            // and numbers its batches anew).
            .filter(|t| !matches!(*t, "schema_version" | "tracker_changes" | "applied_batches"));
        let mut plan = Vec::new();
        let mut total = 0u64;
        for table in tables {
            let taken: bool = sqlx::query_scalar(&format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE {})",
                seeded(table)
            ))
            .fetch_one(&mut *tx)
            .await?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "the PostgreSQL database is not empty (table {table} has rows): \
                     migrate into a new database"
                )));
            }
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *tx)
            .await?;
            let columns = columns
                .into_iter()
                .map(|(name, ty)| {
                    let kind = match ty.as_str() {
                        "bigint" | "integer" | "smallint" => Kind::Int,
                        "boolean" => Kind::Bool,
                        "bytea" => Kind::Bytes,
                        "text" | "character varying" => Kind::Text,
                        "double precision" | "real" => Kind::Float,
                        other => {
                            return Err(StoreError::Conflict(format!(
                                "{table}.{name}: PostgreSQL type {other} is not one a shoal store uses"
                            )))
                        }
                    };
                    Ok((name, kind))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut src)
                .await?;
            total += rows as u64;
            plan.push((table, columns));
        }
        let mut done = 0u64;
        progress(0, total);
        let mut migrated = Migrated::default();
        for (table, columns) in &plan {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            let list = names.join(", ");
            let per_batch = (MAX_PARAMS / columns.len().max(1)).max(1);
            let mut batch: Vec<Vec<Value>> = Vec::new();
            let mut bytes = 0usize;
            let mut copied = 0u64;
            let select = format!("SELECT {list} FROM {table}");
            let mut stream = sqlx::query(&select).fetch(&mut src);
            while let Some(row) = stream.try_next().await? {
                let mut values = Vec::with_capacity(columns.len());
                for (i, (name, kind)) in columns.iter().enumerate() {
                    let v = read(&row, i, *kind).map_err(|e| {
                        StoreError::Conflict(format!(
                            "{table}.{name} in {}: {e}",
                            file.display()
                        ))
                    })?;
                    bytes += v.size();
                    values.push(v);
                }
                batch.push(values);
                if batch.len() >= per_batch || bytes >= MAX_BATCH_BYTES {
                    copied += insert(&mut tx, table, &list, &mut batch).await?;
                    bytes = 0;
                    progress(done + copied, total);
                }
            }
            drop(stream);
            copied += insert(&mut tx, table, &list, &mut batch).await?;
            done += copied;
            progress(done, total);
            migrated.tables.push((table.to_string(), copied));
        }
        // Identity columns go on after the copied ids.
        let identities: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (table, column) in identities {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({column}), 0) + 1, false)
                 FROM {table}"
            ))
            .bind(&table)
            .bind(&column)
            .execute(&mut *tx)
            .await?;
        }
        // The triggers logged every copied catalog row: nobody runs on the copy yet.
        sqlx::query("DELETE FROM tracker_changes")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let _ = src.close().await;
        Ok(migrated)
    })
}

/// Column `i` of a SQLite row as PostgreSQL's `kind` (SQLite keeps booleans as 0/1).
fn read(row: &sqlx::sqlite::SqliteRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int => Value::Int(row.try_get(i)?),
        Kind::Bool => Value::Bool(row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
        Kind::Bytes => Value::Bytes(row.try_get(i)?),
        Kind::Text => Value::Text(row.try_get(i)?),
        Kind::Float => Value::Float(row.try_get(i)?),
    })
}

/// Sends the batch as one multi-row INSERT and empties it; returns how many rows.
async fn insert(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    table: &str,
    list: &str,
    batch: &mut Vec<Vec<Value>>,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let n = batch.len() as u64;
    let mut q = QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({list}) "));
    q.push_values(batch.drain(..), |mut b, row| {
        for v in row {
            match v {
                Value::Int(v) => b.push_bind(v),
                Value::Bool(v) => b.push_bind(v),
                Value::Bytes(v) => b.push_bind(v),
                Value::Text(v) => b.push_bind(v),
                Value::Float(v) => b.push_bind(v),
            };
        }
    });
    q.build().execute(&mut **tx).await?;
    Ok(n)
}

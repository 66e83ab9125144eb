//! [`PreviewStore`] on SQLite.

use sqlx::{Connection, SqliteConnection};

use super::SqliteStore;
use crate::preview::{PreviewFile, PreviewStore, TorrentPreview};
use crate::sql::{preview_file_row, preview_state_of, sha256s, to_i64, PREVIEW_FILE_COLUMNS};
use crate::{InfoHash, StoreError};

/// Deletes the files no torrent lists any more among `candidates`; returns them.
async fn drop_unlisted(
    tx: &mut SqliteConnection,
    candidates: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    let mut gone = Vec::new();
    for sha in candidates {
        let n = sqlx::query(
            "DELETE FROM preview_files WHERE sha256 = ?
             AND NOT EXISTS (SELECT 1 FROM preview_links WHERE sha256 = ?)",
        )
        .bind(sha)
        .bind(sha)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            gone.push(sha.clone());
        }
    }
    Ok(gone)
}

impl PreviewStore for SqliteStore {
    fn previewed(&self, hashes: &[InfoHash]) -> Result<Vec<InfoHash>, StoreError> {
        self.read(async |pool| {
            let mut out = Vec::new();
            for chunk in hashes.chunks(super::ROWS_PER_STATEMENT) {
                let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "SELECT info_hash FROM preview_torrents WHERE info_hash",
                );
                super::push_hashes(&mut q, chunk);
                let rows = q.build().fetch_all(pool).await?;
                out.extend(rows.iter().filter_map(|r| crate::sql::info_hash(r, 0)));
            }
            Ok(out)
        })
    }

    fn add_preview(
        &self,
        h: &InfoHash,
        at: u64,
        fetched: u64,
        files: &[(String, PreviewFile)],
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            // One statement: a hide committed by another node meanwhile wins.
            let fresh: Option<i64> = sqlx::query_scalar(
                "INSERT INTO preview_torrents (info_hash, state, at, fetched) VALUES (?, 1, ?, ?)
                 ON CONFLICT (info_hash) DO UPDATE SET at = excluded.at, fetched = excluded.fetched
                 WHERE preview_torrents.state <> 2
                 RETURNING state",
            )
            .bind(&h.0[..])
            .bind(to_i64(at))
            .bind(to_i64(fetched))
            .fetch_optional(&mut *tx)
            .await?;
            if fresh.is_none() {
                return Ok(Vec::new()); // hidden
            }
            let mut listed = Vec::new();
            for (path, f) in files {
                let denied: Option<i64> =
                    sqlx::query_scalar("SELECT 1 FROM preview_denied WHERE sha256 = ?")
                        .bind(&f.sha256[..])
                        .fetch_optional(&mut *tx)
                        .await?;
                if denied.is_some() {
                    continue;
                }
                let hidden: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM preview_hidden WHERE info_hash = ? AND path = ?",
                )
                .bind(&h.0[..])
                .bind(path)
                .fetch_optional(&mut *tx)
                .await?;
                if hidden.is_some() {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO preview_files
                        (sha256, kind, size, stored, width, height, encoding, truncated, viewed)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(&f.sha256[..])
                .bind(f.kind.code())
                .bind(to_i64(f.size))
                .bind(to_i64(f.stored))
                .bind(i64::from(f.width))
                .bind(i64::from(f.height))
                .bind(&f.encoding)
                .bind(f.truncated)
                .bind(to_i64(at))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO preview_links (info_hash, path, sha256) VALUES (?, ?, ?)
                     ON CONFLICT (info_hash, path) DO UPDATE SET sha256 = excluded.sha256",
                )
                .bind(&h.0[..])
                .bind(path)
                .bind(&f.sha256[..])
                .execute(&mut *tx)
                .await?;
                listed.push(f.sha256);
            }
            tx.commit().await?;
            Ok(listed)
        })
    }

    fn preview(&self, h: &InfoHash) -> Result<Option<TorrentPreview>, StoreError> {
        self.read(async |pool| {
            let Some((state, at, fetched)) = sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT state, at, fetched FROM preview_torrents WHERE info_hash = ?",
            )
            .bind(&h.0[..])
            .fetch_optional(pool)
            .await?
            else {
                return Ok(None);
            };
            if state == 2 {
                return Ok(Some(TorrentPreview {
                    state: preview_state_of(state),
                    at: at.max(0) as u64,
                    fetched: fetched.max(0) as u64,
                    files: Vec::new(),
                }));
            }
            let rows = sqlx::query(&format!(
                "SELECT l.path, {PREVIEW_FILE_COLUMNS} FROM preview_links l
                 JOIN preview_files f ON f.sha256 = l.sha256
                 WHERE l.info_hash = ? ORDER BY l.path"
            ))
            .bind(&h.0[..])
            .fetch_all(pool)
            .await?;
            Ok(Some(TorrentPreview {
                state: preview_state_of(state),
                at: at.max(0) as u64,
                fetched: fetched.max(0) as u64,
                files: rows
                    .iter()
                    .filter_map(|r| Some((sqlx::Row::get(r, 0), preview_file_row(r, 1)?)))
                    .collect(),
            }))
        })
    }

    fn preview_file(&self, sha256: &[u8; 32]) -> Result<Option<PreviewFile>, StoreError> {
        self.read(async |pool| {
            let r = sqlx::query(&format!(
                "SELECT {PREVIEW_FILE_COLUMNS} FROM preview_files f WHERE f.sha256 = ?"
            ))
            .bind(&sha256[..])
            .fetch_optional(pool)
            .await?;
            Ok(r.and_then(|r| preview_file_row(&r, 0)))
        })
    }

    fn hide_preview(
        &self,
        h: &InfoHash,
        path: Option<&str>,
        at: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let shas: Vec<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM preview_links WHERE info_hash = ? AND (? IS NULL OR path = ?)
                 RETURNING sha256",
            )
            .bind(&h.0[..])
            .bind(path)
            .bind(path)
            .fetch_all(&mut *tx)
            .await?;
            let hid_torrent = if path.is_none() {
                sqlx::query(
                    "INSERT INTO preview_torrents (info_hash, state, at, fetched)
                     VALUES (?, 2, ?, 0)
                     ON CONFLICT (info_hash) DO UPDATE SET state = 2, at = excluded.at
                     WHERE preview_torrents.state <> 2",
                )
                .bind(&h.0[..])
                .bind(to_i64(at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0
            } else {
                false
            };
            if shas.is_empty() && !hid_torrent {
                return Ok(None);
            }
            if let Some(path) = path {
                // Outlives the torrent's preview: a later fetch leaves the file out.
                sqlx::query(
                    "INSERT INTO preview_hidden (info_hash, path, at) VALUES (?, ?, ?)
                     ON CONFLICT DO NOTHING",
                )
                .bind(&h.0[..])
                .bind(path)
                .bind(to_i64(at))
                .execute(&mut *tx)
                .await?;
            }
            let gone = drop_unlisted(&mut tx, &shas).await?;
            tx.commit().await?;
            Ok(Some(sha256s(gone)))
        })
    }

    fn remove_previews(&self, hashes: &[InfoHash]) -> Result<Vec<[u8; 32]>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let mut shas: Vec<Vec<u8>> = Vec::new();
            for h in hashes {
                let listed: Vec<Vec<u8>> = sqlx::query_scalar(
                    "DELETE FROM preview_links WHERE info_hash = ? RETURNING sha256",
                )
                .bind(&h.0[..])
                .fetch_all(&mut *tx)
                .await?;
                shas.extend(listed);
                sqlx::query("DELETE FROM preview_torrents WHERE info_hash = ? AND state <> 2")
                    .bind(&h.0[..])
                    .execute(&mut *tx)
                    .await?;
            }
            shas.sort();
            shas.dedup();
            let gone = drop_unlisted(&mut tx, &shas).await?;
            tx.commit().await?;
            Ok(sha256s(gone))
        })
    }

    fn deny_preview_file(&self, sha256: &[u8; 32], at: u64) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            sqlx::query(
                "INSERT INTO preview_denied (sha256, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&sha256[..])
            .bind(to_i64(at))
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM preview_links WHERE sha256 = ?")
                .bind(&sha256[..])
                .execute(&mut *tx)
                .await?;
            let held = sqlx::query("DELETE FROM preview_files WHERE sha256 = ?")
                .bind(&sha256[..])
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(held > 0)
        })
    }

    fn allow_preview_file(&self, sha256: &[u8; 32]) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let n = sqlx::query("DELETE FROM preview_denied WHERE sha256 = ?")
                .bind(&sha256[..])
                .execute(&mut *conn)
                .await?
                .rows_affected();
            Ok(n > 0)
        })
    }

    fn preview_denied(&self) -> Result<Vec<([u8; 32], u64)>, StoreError> {
        self.read(async |pool| {
            let rows: Vec<(Vec<u8>, i64)> =
                sqlx::query_as("SELECT sha256, at FROM preview_denied ORDER BY at DESC, sha256")
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .filter_map(|(s, at)| Some((s.try_into().ok()?, at.max(0) as u64)))
                .collect())
        })
    }

    fn preview_viewed(&self, files: &[[u8; 32]], at: u64) -> Result<(), StoreError> {
        if files.is_empty() {
            return Ok(());
        }
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            for sha in files {
                sqlx::query("UPDATE preview_files SET viewed = ? WHERE sha256 = ? AND viewed < ?")
                    .bind(to_i64(at))
                    .bind(&sha[..])
                    .bind(to_i64(at))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    fn preview_usage(&self) -> Result<(u64, u64), StoreError> {
        self.read(async |pool| {
            let (bytes, n): (i64, i64) =
                sqlx::query_as("SELECT COALESCE(SUM(stored), 0), COUNT(*) FROM preview_files")
                    .fetch_one(pool)
                    .await?;
            Ok((bytes.max(0) as u64, n.max(0) as u64))
        })
    }

    fn evict_previews(&self, keep: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let (mut total,): (i64,) =
                sqlx::query_as("SELECT COALESCE(SUM(stored), 0) FROM preview_files")
                    .fetch_one(&mut *tx)
                    .await?;
            let mut gone = Vec::new();
            while total > to_i64(keep) {
                let batch: Vec<(Vec<u8>, i64)> = sqlx::query_as(
                    "SELECT sha256, stored FROM preview_files ORDER BY viewed, sha256 LIMIT 100",
                )
                .fetch_all(&mut *tx)
                .await?;
                if batch.is_empty() {
                    break;
                }
                for (sha, stored) in batch {
                    if total <= to_i64(keep) {
                        break;
                    }
                    sqlx::query("DELETE FROM preview_links WHERE sha256 = ?")
                        .bind(&sha)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM preview_files WHERE sha256 = ?")
                        .bind(&sha)
                        .execute(&mut *tx)
                        .await?;
                    total -= stored;
                    gone.push(sha);
                }
            }
            tx.commit().await?;
            Ok(sha256s(gone))
        })
    }
}

//! [`SiteStore`] on SQLite.

use sqlx::{Connection, Sqlite, SqliteConnection};

use super::{insert_catalog_entry, log_change, SqliteStore};
use crate::site::{
    AccountChange, HitAndRun, InviteRow, NewUpload, Published, SiteStore, Upload, UploadFilter,
};
use crate::sql::{
    account_row, check_settings, info_hash, invite_row, name_prefix_pattern, settings_of, to_i64,
    upload_row, ACCOUNT_COLUMNS, UPLOAD_COLUMNS,
};
use crate::{Account, CatalogEntry, InfoHash, StoreError};

/// Bumps the settings' version inside a transaction (servers reload on a change).
async fn bump_version(tx: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO site_settings (key, value) VALUES ('version', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
    )
    .execute(tx)
    .await
    .map(drop)
}

/// Puts a published torrent in the catalog and, when `list`, the access list (both
/// hashes).
async fn publish(
    tx: &mut SqliteConnection,
    e: &CatalogEntry,
    list: bool,
) -> Result<(), sqlx::Error> {
    insert_catalog_entry(tx, e).await?;
    let hashes = if list { vec![e.info_hash] } else { Vec::new() };
    for h in hashes.into_iter().chain(e.alias.filter(|_| list)) {
        sqlx::query("INSERT INTO access_list (info_hash) VALUES (?) ON CONFLICT DO NOTHING")
            .bind(&h.0[..])
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl SiteStore for SqliteStore {
    fn add_upload(&self, u: &NewUpload<'_>) -> Result<Published, StoreError> {
        let e = u.entry;
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let mut q =
                sqlx::QueryBuilder::<Sqlite>::new("SELECT info_hash FROM uploads WHERE info_hash");
            let both: Vec<InfoHash> = std::iter::once(e.info_hash).chain(e.alias).collect();
            super::push_hashes(&mut q, &both);
            q.push(" OR alias");
            super::push_hashes(&mut q, &both);
            q.push(" LIMIT 1");
            if let Some(r) = q.build().fetch_optional(&mut *tx).await? {
                if let Some(h) = info_hash(&r, 0) {
                    return Ok(Published::Duplicate(h));
                }
            }
            sqlx::query(
                "INSERT INTO uploads (info_hash, alias, user_id, title, description, category,
                    created_at, approved, total_size, file_count, pending)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&e.info_hash.0[..])
            .bind(e.alias.map(|a| a.0.to_vec()))
            .bind(to_i64(u.user_id))
            .bind(u.title)
            .bind(u.description)
            .bind(u.category)
            .bind(to_i64(u.at))
            .bind(u.approved)
            .bind(to_i64(e.total_size))
            .bind(to_i64(e.file_count))
            .bind((!u.approved).then_some(&e.info[..]))
            .execute(&mut *tx)
            .await?;
            if u.approved {
                let named = CatalogEntry {
                    name: u.title.to_owned(),
                    ..e.clone()
                };
                publish(&mut tx, &named, u.list).await?;
            }
            tx.commit().await?;
            Ok(Published::Added)
        })
    }

    fn upload(&self, h: &InfoHash) -> Result<Option<Upload>, StoreError> {
        self.read(async |pool| {
            let r = sqlx::query(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads u LEFT JOIN users ON users.id = u.user_id
                 WHERE u.info_hash = ? OR u.alias = ? LIMIT 1"
            ))
            .bind(&h.0[..])
            .bind(&h.0[..])
            .fetch_optional(pool)
            .await?;
            Ok(r.as_ref().and_then(upload_row))
        })
    }

    fn uploads(
        &self,
        filter: &UploadFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Upload>, StoreError> {
        self.read(async |pool| {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads u LEFT JOIN users ON users.id = u.user_id WHERE 1"
            ));
            if let Some(id) = filter.user_id {
                q.push(" AND u.user_id = ").push_bind(to_i64(id));
            }
            if let Some(a) = filter.approved {
                q.push(" AND u.approved = ").push_bind(a);
            }
            if filter.freeleech {
                q.push(" AND u.freeleech = 1");
            }
            q.push(" ORDER BY u.created_at DESC, u.info_hash LIMIT ")
                .push_bind(to_i64(limit))
                .push(" OFFSET ")
                .push_bind(to_i64(offset));
            let rows = q.build().fetch_all(pool).await?;
            Ok(rows.iter().filter_map(upload_row).collect())
        })
    }

    fn pending_info(&self, h: &InfoHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(async |pool| {
            let info: Option<Option<Vec<u8>>> = sqlx::query_scalar(
                "SELECT pending FROM uploads WHERE info_hash = ? AND approved = 0",
            )
            .bind(&h.0[..])
            .fetch_optional(pool)
            .await?;
            Ok(info.flatten())
        })
    }

    fn approve_upload(&self, entry: &CatalogEntry, list: bool) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let title: Option<String> = sqlx::query_scalar(
                "UPDATE uploads SET approved = 1, pending = NULL
                 WHERE info_hash = ? AND approved = 0 RETURNING title",
            )
            .bind(&entry.info_hash.0[..])
            .fetch_optional(&mut *tx)
            .await?;
            let Some(title) = title else {
                return Ok(false);
            };
            let entry = CatalogEntry {
                name: title,
                ..entry.clone()
            };
            publish(&mut tx, &entry, list).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn reject_upload(&self, h: &InfoHash) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let n = sqlx::query("DELETE FROM uploads WHERE info_hash = ? AND approved = 0")
                .bind(&h.0[..])
                .execute(conn)
                .await?
                .rows_affected();
            Ok(n > 0)
        })
    }

    fn set_upload_freeleech(&self, h: &InfoHash, on: bool) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let n =
                sqlx::query("UPDATE uploads SET freeleech = ? WHERE info_hash = ? OR alias = ?")
                    .bind(on)
                    .bind(&h.0[..])
                    .bind(&h.0[..])
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n > 0 {
                bump_version(&mut tx).await?;
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    fn freeleech_torrents(&self) -> Result<Vec<InfoHash>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(
                "SELECT info_hash FROM uploads WHERE freeleech = 1
                 UNION SELECT alias FROM uploads WHERE freeleech = 1 AND alias IS NOT NULL",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().filter_map(|r| info_hash(r, 0)).collect())
        })
    }

    fn site_settings(&self) -> Result<(u64, Vec<(String, String)>), StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query_as("SELECT key, value FROM site_settings ORDER BY key")
                .fetch_all(pool)
                .await?;
            Ok(settings_of(rows))
        })
    }

    fn site_version(&self) -> Result<u64, StoreError> {
        self.read(async |pool| {
            let v: Option<String> =
                sqlx::query_scalar("SELECT value FROM site_settings WHERE key = 'version'")
                    .fetch_optional(pool)
                    .await?;
            Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
        })
    }

    fn set_site_settings(&self, values: &[(&str, &str)]) -> Result<(), StoreError> {
        check_settings(values)?;
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            for (k, v) in values {
                sqlx::query(
                    "INSERT INTO site_settings (key, value) VALUES (?, ?)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(*k)
                .bind(*v)
                .execute(&mut *tx)
                .await?;
            }
            bump_version(&mut tx).await?;
            tx.commit().await
        })
    }

    fn accounts(&self, prefix: &str, limit: u64, offset: u64) -> Result<Vec<Account>, StoreError> {
        let pattern = name_prefix_pattern(prefix);
        self.read(async |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users WHERE name_key LIKE ? ESCAPE '\\'
                 ORDER BY name_key LIMIT ? OFFSET ?"
            ))
            .bind(&pattern)
            .bind(to_i64(limit))
            .bind(to_i64(offset))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().filter_map(account_row).collect())
        })
    }

    fn account_by_id(&self, id: u64) -> Result<Option<Account>, StoreError> {
        self.read(async |pool| {
            let r = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?"))
                .bind(to_i64(id))
                .fetch_optional(pool)
                .await?;
            Ok(r.as_ref().and_then(account_row))
        })
    }

    fn change_account(&self, id: u64, change: AccountChange) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let q = match change {
                AccountChange::Role(r) => {
                    sqlx::query("UPDATE users SET role = ? WHERE id = ?").bind(r.key())
                }
                AccountChange::InviteQuota(n) => {
                    sqlx::query("UPDATE users SET invite_quota = ? WHERE id = ?").bind(i64::from(n))
                }
                AccountChange::RatioExempt(b) => {
                    sqlx::query("UPDATE users SET ratio_exempt = ? WHERE id = ?").bind(b)
                }
            };
            let n = q.bind(to_i64(id)).execute(&mut *tx).await?.rows_affected();
            if n > 0 {
                log_change(&mut tx, to_i64(id)).await?;
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    fn add_invite_from_quota(
        &self,
        code_hash: [u8; 32],
        user_id: u64,
        created_at: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let n = sqlx::query(
                "UPDATE users SET invite_quota = invite_quota - 1 WHERE id = ? AND invite_quota > 0",
            )
            .bind(to_i64(user_id))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
            )
            .bind(&code_hash[..])
            .bind(to_i64(user_id))
            .bind(to_i64(created_at))
            .bind(to_i64(expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn invites(&self, created_by: Option<u64>, limit: u64) -> Result<Vec<InviteRow>, StoreError> {
        self.read(async |pool| {
            let mut q = sqlx::QueryBuilder::<Sqlite>::new(
                "SELECT c.name, i.created_at, i.expires_at, u.name, i.used_at FROM invites i
                 LEFT JOIN users c ON c.id = i.created_by LEFT JOIN users u ON u.id = i.used_by WHERE 1",
            );
            if let Some(id) = created_by {
                q.push(" AND i.created_by = ").push_bind(to_i64(id));
            }
            q.push(" ORDER BY i.created_at DESC LIMIT ")
                .push_bind(to_i64(limit));
            let rows = q.build().fetch_all(pool).await?;
            Ok(rows.iter().map(invite_row).collect())
        })
    }

    fn spend_bonus(
        &self,
        user_id: u64,
        points: u64,
        seconds_per_point: u64,
        bytes_per_point: u64,
    ) -> Result<bool, StoreError> {
        let credit = points.saturating_mul(bytes_per_point);
        self.write(async |conn| {
            let mut tx = conn.begin().await?;
            let n = sqlx::query(
                "UPDATE users SET bonus_spent = bonus_spent + ?, uploaded = uploaded + ?
                 WHERE id = ? AND bonus_spent + ? <=
                    (SELECT COALESCE(SUM(seed_time), 0) FROM user_torrents WHERE user_id = ?) / ?",
            )
            .bind(to_i64(points))
            .bind(to_i64(credit))
            .bind(to_i64(user_id))
            .bind(to_i64(points))
            .bind(to_i64(user_id))
            .bind(to_i64(seconds_per_point.max(1)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                log_change(&mut tx, to_i64(user_id)).await?;
            }
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    fn hit_and_runs(&self, rule: HitAndRun, now: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        self.read(async |pool| {
            let rows = sqlx::query(
                "SELECT user_id, COUNT(*) FROM user_torrents
                 WHERE snatched_at IS NOT NULL AND snatched_at + ? < ?
                    AND seed_time < ? AND uploaded < downloaded
                 GROUP BY user_id ORDER BY user_id",
            )
            .bind(to_i64(rule.grace_secs))
            .bind(to_i64(now))
            .bind(to_i64(rule.seed_secs))
            .fetch_all(pool)
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    use sqlx::Row;
                    let (u, n): (i64, i64) = (r.get(0), r.get(1));
                    (u.max(0) as u64, u32::try_from(n).unwrap_or(u32::MAX))
                })
                .collect())
        })
    }
}

//! What the SQL backends share: reading result rows into the crate's types (with the
//! column lists those readers expect, valid SQL in every dialect) and turning values
//! into parameters. The statements themselves stay per backend.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::site::{InviteRow, Upload};
use crate::{
    Account, AccountTorrent, CatalogEntry, CatalogSummary, InfoHash, PasskeyRow, Role, Sample,
    Session, SnapshotMark, StoreError, SwarmSample,
};

/// A result row's columns by position, as the store's columns are typed (integers,
/// flags, blobs, text), on any backend. A column of another type panics, as
/// [`Row::get`] does: the schema and the query are ours.
pub(crate) trait Columns {
    fn int(&self, i: usize) -> i64;
    fn opt_int(&self, i: usize) -> Option<i64>;
    fn flag(&self, i: usize) -> bool;
    fn bytes(&self, i: usize) -> Vec<u8>;
    fn opt_bytes(&self, i: usize) -> Option<Vec<u8>>;
    fn text(&self, i: usize) -> String;
    fn opt_text(&self, i: usize) -> Option<String>;
}

impl<R> Columns for R
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    bool: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    fn int(&self, i: usize) -> i64 {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Option<i64> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> bool {
        self.get(i)
    }
    fn bytes(&self, i: usize) -> Vec<u8> {
        self.get(i)
    }
    fn opt_bytes(&self, i: usize) -> Option<Vec<u8>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> String {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Option<String> {
        self.get(i)
    }
}

/// A count, size or time as stored: integers are signed in SQL; a value past `i64::MAX`
/// (never a real count) is stored as the maximum.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Column `i` as a count (never negative).
pub(crate) fn count(r: &impl Columns, i: usize) -> u64 {
    r.int(i).max(0) as u64
}

/// Column `i` as a count that fits 32 bits (larger ones saturate).
fn count32(r: &impl Columns, i: usize) -> u32 {
    u32::try_from(count(r, i)).unwrap_or(u32::MAX)
}

/// Column `i` as an info-hash (`None` for a blob of another length).
pub(crate) fn info_hash(r: &impl Columns, i: usize) -> Option<InfoHash> {
    hash_of(r.bytes(i))
}

/// A blob as an info-hash (`None` for another length).
pub(crate) fn hash_of(blob: Vec<u8>) -> Option<InfoHash> {
    blob.try_into().ok().map(InfoHash)
}

/// Column `i`, which may be NULL, as an info-hash.
fn opt_info_hash(r: &impl Columns, i: usize) -> Option<InfoHash> {
    r.opt_bytes(i).and_then(hash_of)
}

/// A completed-count row (`info_hash, count`).
pub(crate) fn completed_row(r: &impl Columns) -> Option<(InfoHash, u64)> {
    Some((info_hash(r, 0)?, count(r, 1)))
}

/// A sample row (`at, torrents, peers, seeders, leechers, announces`).
pub(crate) fn sample_row(r: &impl Columns) -> Sample {
    Sample {
        at: count(r, 0),
        torrents: count(r, 1),
        peers: count(r, 2),
        seeders: count(r, 3),
        leechers: count(r, 4),
        announces: count(r, 5),
    }
}

/// A swarm sample row (`at, info_hash, seeders, leechers`).
pub(crate) fn swarm_sample_row(r: &impl Columns) -> Option<(u64, SwarmSample)> {
    let sample = SwarmSample {
        info_hash: info_hash(r, 1)?,
        seeders: count32(r, 2),
        leechers: count32(r, 3),
    };
    Some((count(r, 0), sample))
}

/// A catalog entry's columns as [`catalog_row`] reads them, from `catalog c`: the
/// entry, then its alias (the first, should a resolve have left two).
pub(crate) const CATALOG_COLUMNS: &str = "c.info_hash, c.info_hash_v2, c.name, c.total_size,
    c.file_count, c.piece_length, c.private, c.first_seen, c.resolved_at, c.source_peers,
    c.last_active,
    (SELECT a.alias FROM catalog_aliases a WHERE a.info_hash = c.info_hash ORDER BY a.alias LIMIT 1)";

/// How many columns [`CATALOG_COLUMNS`] are: a query's own columns come after them.
pub(crate) const CATALOG_COLUMN_COUNT: usize = 12;

/// A catalog entry from [`CATALOG_COLUMNS`], without files or info dictionary.
pub(crate) fn catalog_row(r: &impl Columns) -> Option<CatalogEntry> {
    Some(CatalogEntry {
        info_hash: info_hash(r, 0)?,
        info_hash_v2: r.opt_bytes(1).and_then(|v| v.try_into().ok()),
        name: r.text(2),
        total_size: count(r, 3),
        file_count: count(r, 4),
        piece_length: count(r, 5),
        private: r.flag(6),
        first_seen: count(r, 7),
        resolved_at: count(r, 8),
        source_peers: count32(r, 9),
        last_active: count(r, 10),
        alias: opt_info_hash(r, 11),
        files: Vec::new(),
        info: Vec::new(),
    })
}

/// A catalog file row (`path, size`).
pub(crate) fn file_row(r: &impl Columns) -> (String, u64) {
    (r.text(0), count(r, 1))
}

/// Hands each entry its files, from rows of `info_hash, path, size` in file order.
pub(crate) fn attach_files(entries: &mut [CatalogEntry], files: &[impl Columns]) {
    let mut by_hash: std::collections::HashMap<Vec<u8>, Vec<(String, u64)>> = Default::default();
    for f in files {
        by_hash
            .entry(f.bytes(0))
            .or_default()
            .push((f.text(1), count(f, 2)));
    }
    for e in entries {
        e.files = by_hash.remove(&e.info_hash.0[..]).unwrap_or_default();
    }
}

/// A snapshot mark row (`written_at, checksum`, the checksum as 8 big-endian bytes).
pub(crate) fn mark_row(r: &impl Columns) -> Option<SnapshotMark> {
    Some(SnapshotMark {
        written_at: count(r, 0),
        checksum: u64::from_be_bytes(r.bytes(1).try_into().ok()?),
    })
}

/// A catalog summary row (`info_hash, name, total_size, file_count`).
pub(crate) fn catalog_summary(r: &impl Columns) -> Option<CatalogSummary> {
    Some(CatalogSummary {
        info_hash: info_hash(r, 0)?,
        name: r.text(1),
        total_size: count(r, 2),
        file_count: count(r, 3),
    })
}

/// `users` columns as [`account_row`] reads them.
pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, name, role, passkey, banned, uploaded, downloaded, invite_quota, invited_by, created_at, ratio_exempt, bonus_spent";

/// How many columns [`ACCOUNT_COLUMNS`] are: a query's own columns come after them.
pub(crate) const ACCOUNT_COLUMN_COUNT: usize = 12;

/// [`ACCOUNT_COLUMNS`] of the table aliased `table` (in a join).
pub(crate) fn account_columns_of(table: &str) -> String {
    ACCOUNT_COLUMNS
        .split(", ")
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An account row ([`ACCOUNT_COLUMNS`]).
pub(crate) fn account_row(r: &impl Columns) -> Option<Account> {
    Some(Account {
        id: count(r, 0),
        name: r.text(1),
        role: Role::from_key(&r.text(2))?,
        passkey: r.bytes(3).try_into().ok()?,
        banned: r.flag(4),
        uploaded: count(r, 5),
        downloaded: count(r, 6),
        invite_quota: count32(r, 7),
        invited_by: r.opt_int(8).map(|i| i.max(0) as u64),
        created_at: count(r, 9),
        ratio_exempt: r.flag(10),
        bonus_spent: count(r, 11),
    })
}

/// A login row: [`ACCOUNT_COLUMNS`], then the password hash.
pub(crate) fn credentials_row(r: &impl Columns) -> Option<(Account, Option<String>)> {
    Some((account_row(r)?, r.opt_text(ACCOUNT_COLUMN_COUNT)))
}

/// A session row: [`ACCOUNT_COLUMNS`] (of its account), then `csrf, expires_at`.
pub(crate) fn session_row(r: &impl Columns) -> Option<Session> {
    Some(Session {
        account: account_row(r)?,
        csrf: r.bytes(ACCOUNT_COLUMN_COUNT).try_into().ok()?,
        expires_at: count(r, ACCOUNT_COLUMN_COUNT + 1),
    })
}

/// `users` columns as [`passkey_row`] reads them.
pub(crate) const PASSKEY_COLUMNS: &str = "id, passkey, banned, uploaded, downloaded, ratio_exempt";

/// A passkey row ([`PASSKEY_COLUMNS`]).
pub(crate) fn passkey_row(r: &impl Columns) -> Option<PasskeyRow> {
    Some(PasskeyRow {
        user_id: count(r, 0),
        passkey: r.bytes(1).try_into().ok()?,
        admitted: !r.flag(2),
        uploaded: count(r, 3),
        downloaded: count(r, 4),
        ratio_exempt: r.flag(5),
    })
}

/// `user_torrents` columns as [`account_torrent_row`] reads them.
pub(crate) const ACCOUNT_TORRENT_COLUMNS: &str =
    "info_hash, uploaded, downloaded, seeding, active, snatched, last_announce, seed_time, snatched_at";

/// One of an account's torrents ([`ACCOUNT_TORRENT_COLUMNS`]).
pub(crate) fn account_torrent_row(r: &impl Columns) -> Option<AccountTorrent> {
    Some(AccountTorrent {
        info_hash: info_hash(r, 0)?,
        uploaded: count(r, 1),
        downloaded: count(r, 2),
        seeding: r.flag(3),
        active: r.flag(4),
        snatched: r.flag(5),
        last_announce: count(r, 6),
        seed_time: count(r, 7),
        snatched_at: r.opt_int(8).map(|t| t.max(0) as u64),
    })
}

/// `uploads u` columns as [`upload_row`] reads them, the uploader's name last (from a
/// `LEFT JOIN users`).
pub(crate) const UPLOAD_COLUMNS: &str =
    "u.info_hash, u.alias, u.user_id, u.title, u.description, u.category,
    u.created_at, u.approved, u.freeleech, u.total_size, u.file_count, COALESCE(users.name, '')";

/// An upload row ([`UPLOAD_COLUMNS`]).
pub(crate) fn upload_row(r: &impl Columns) -> Option<Upload> {
    Some(Upload {
        info_hash: info_hash(r, 0)?,
        alias: opt_info_hash(r, 1),
        user_id: count(r, 2),
        title: r.text(3),
        description: r.text(4),
        category: r.text(5),
        created_at: count(r, 6),
        approved: r.flag(7),
        freeleech: r.flag(8),
        total_size: count(r, 9),
        file_count: count(r, 10),
        uploader: r.text(11),
    })
}

/// An invite row (`creator's name, created_at, expires_at, user's name, used_at`).
pub(crate) fn invite_row(r: &impl Columns) -> InviteRow {
    InviteRow {
        created_by: r.opt_text(0),
        created_at: count(r, 1),
        expires_at: count(r, 2),
        used_by: r.opt_text(3),
        used_at: r.opt_int(4).map(|t| t.max(0) as u64),
    }
}

/// The site settings rows (`key, value`, by key) as the version and the other settings.
pub(crate) fn settings_of(rows: Vec<(String, String)>) -> (u64, Vec<(String, String)>) {
    let mut version = 0;
    let mut out = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        if k == VERSION_KEY {
            version = v.parse().unwrap_or(0);
        } else {
            out.push((k, v));
        }
    }
    (version, out)
}

/// The settings row that counts changes; not a setting.
pub(crate) const VERSION_KEY: &str = "version";

/// Refuses settings that would overwrite the version.
pub(crate) fn check_settings(values: &[(&str, &str)]) -> Result<(), StoreError> {
    if values.iter().any(|(k, _)| *k == VERSION_KEY) {
        return Err(StoreError::Conflict(
            "the settings' version is not a setting".into(),
        ));
    }
    Ok(())
}

/// A `LIKE … ESCAPE '\'` pattern for names starting with `prefix` in any case (the
/// prefix's own wildcards are literal).
pub(crate) fn name_prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::new();
    for c in prefix.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The error for a name or passkey that belongs to another account.
pub(crate) fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!("the name {name:?} is taken"))
}

/// The error for an account row that did not read back.
pub(crate) fn unreadable_account() -> StoreError {
    StoreError::Conflict("the new account could not be read back".into())
}

/// Credits per account, summed over a batch's rows, by account number (the order
/// both backends update `users` in).
pub(crate) fn traffic_totals(rows: &[crate::TrafficRow]) -> Vec<(u64, u64, u64)> {
    let mut totals: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for r in rows {
        let t = totals.entry(r.user_id).or_default();
        t.0 = t.0.saturating_add(r.uploaded);
        t.1 = t.1.saturating_add(r.downloaded);
    }
    totals
        .into_iter()
        .filter(|(_, (up, down))| *up != 0 || *down != 0)
        .map(|(user, (up, down))| (user, up, down))
        .collect()
}

/// Checks that a backend's `MIGRATIONS` are the files of `migrations/<backend>/`, every
/// one, numbered from 1 in order (`NNNN_name.sql`).
#[cfg(test)]
pub(crate) fn assert_numbered(backend: &str, migrations: &[(&str, &str)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let listed: Vec<String> = migrations.iter().map(|(n, _)| format!("{n}.sql")).collect();
    assert_eq!(
        files,
        listed,
        "every file in {} is listed, in order",
        dir.display()
    );
    for (i, (name, _)) in migrations.iter().enumerate() {
        assert_eq!(name[..4].parse::<usize>().ok(), Some(i + 1), "{name}");
        assert_eq!(&name[4..5], "_", "{name}");
    }
}

/// The columns [`tracker_changes_of`] reads, in order.
pub(crate) const TRACKER_CHANGE_COLUMNS: &str = "seq, kind, info_hash, node";

/// Rows of `tracker_changes` (read after `since`, in order) as the sequence to read after
/// next and the changes, without the swarm removals `own_node` logged itself.
pub(crate) fn tracker_changes_of(
    rows: &[impl Columns],
    since: u64,
    own_node: &str,
) -> (u64, Vec<crate::TrackerChange>) {
    let next = rows.last().map_or(since, |r| count(r, 0)).max(since);
    let changes = rows
        .iter()
        .filter_map(|r| {
            let change = crate::TrackerChange::from_row(r.int(1), info_hash(r, 2)?)?;
            let own = r.opt_text(3).is_some_and(|n| n == own_node);
            (!own).then_some(change)
        })
        .collect();
    (next, changes)
}

/// The columns [`preview_file_row`] reads, of `preview_files f`.
pub(crate) const PREVIEW_FILE_COLUMNS: &str =
    "f.sha256, f.kind, f.size, f.stored, f.width, f.height, f.encoding, f.truncated";

/// A preview file row ([`PREVIEW_FILE_COLUMNS`] from column `at` on); `None` for a row
/// of an unknown kind or a hash of the wrong length.
pub(crate) fn preview_file_row(r: &impl Columns, at: usize) -> Option<crate::PreviewFile> {
    Some(crate::PreviewFile {
        sha256: r.bytes(at).try_into().ok()?,
        kind: crate::PreviewKind::of_code(r.int(at + 1))?,
        size: count(r, at + 2),
        stored: count(r, at + 3),
        width: count32(r, at + 4),
        height: count32(r, at + 5),
        encoding: r.text(at + 6),
        truncated: r.flag(at + 7),
    })
}

/// A preview state as stored (1 fetched, 2 hidden).
pub(crate) fn preview_state_of(code: i64) -> crate::PreviewState {
    if code == 2 {
        crate::PreviewState::Hidden
    } else {
        crate::PreviewState::Done
    }
}

/// Files removed from the store, as hashes (rows of one blob column).
pub(crate) fn sha256s(rows: Vec<Vec<u8>>) -> Vec<[u8; 32]> {
    rows.into_iter().filter_map(|b| b.try_into().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_counts_match_the_lists() {
        // No list holds a comma of its own (the alias subquery has none).
        let columns = |list: &str| list.split(',').count();
        assert_eq!(columns(ACCOUNT_COLUMNS), ACCOUNT_COLUMN_COUNT);
        assert_eq!(columns(CATALOG_COLUMNS), CATALOG_COLUMN_COUNT);
    }

    #[test]
    fn a_name_prefix_matches_its_wildcards_literally() {
        assert_eq!(name_prefix_pattern("A_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(name_prefix_pattern(""), "%");
    }
}

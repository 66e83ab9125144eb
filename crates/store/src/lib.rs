//! shoal's persistent state.
//!
//! The tracker keeps its swarms in memory; what must outlive a crash lives here:
//! completed counts per torrent, a history of tracker-wide and per-swarm samples (for
//! trends), the admin API's access-list entries and the mark of the last swarm snapshot.
//! Writes are batched by the caller (one transaction per flush, off the request path),
//! so a `kill -9` loses at most the last flush interval and never what was flushed.
//!
//! # Layout
//! - The traits, one per concern: [`CountStore`], [`SampleStore`], [`AccessStore`],
//!   [`SnapshotMarks`]; [`Store`] is all four, what the store thread holds;
//!   [`CatalogStore`] is the catalog's (the catalog thread holds its own handle);
//!   [`AccountStore`] holds accounts, passkeys, invites, sessions and traffic;
//!   [`SiteStore`] the portal's uploads, settings and account administration;
//!   [`PreviewStore`] the catalog's content preview (files shown, deny list);
//!   [`Backend`] is everything.
//! - `sqlite`: [`SqliteStore`], the zero-setup default: one SQLite file in WAL mode,
//!   migrations in `migrations/sqlite/NNNN_name.sql`.
//! - `postgres`: [`PgStore`], one PostgreSQL database that several nodes share,
//!   migrations in `migrations/postgres/NNNN_name.sql` (numbered on their own).
//! - `sql`: what both backends share: reading rows into these types; the SQL is each's own.
//! - [`conformance`] (feature `conformance`): the checks every backend must pass.
//!
//! # Several nodes, one store
//! Every write is meant to stay right when several tracker nodes share one database:
//! completed counts are written as deltas and summed ([`CountStore::add_completed`]),
//! access-list entries are added and removed one at a time, and samples and snapshot
//! marks belong to the node that wrote them (a backend handle is opened as one node;
//! [`LOCAL_NODE`] when there is only one).
//!
//! sqlx drives SQLite and PostgreSQL. The store is synchronous to its callers:
//! a backend owns a small runtime and must not be called from inside another async
//! runtime. A write either commits or returns an error: a failed write (disk full, I/O
//! error) is rolled back and its connection closed, so the next write starts on a clean one.
#![deny(missing_docs)]

use std::path::PathBuf;

pub use shoal_protocol::InfoHash;

mod migrate;
mod postgres;
mod preview;
mod runtime;
mod site;
mod sql;
mod sqlite;

#[cfg(any(test, doc, feature = "conformance"))]
pub mod conformance;

pub use migrate::{migrate_from_sqlite, Migrated};
pub use postgres::PgStore;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub use preview::{PreviewFile, PreviewKind, PreviewState, PreviewStore, TorrentPreview};
pub use site::{
    AccountChange, HitAndRun, InviteRow, NewUpload, Published, SiteStore, Upload, UploadFilter,
};
pub use sqlite::SqliteStore;

/// The node id of a tracker that runs alone (and of everything a store held before
/// samples were kept per node).
pub const LOCAL_NODE: &str = "local";

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
    /// A write would break a rule of the data (a name already taken, a used invite).
    #[error("{0}")]
    Conflict(String),
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

/// Which swarm snapshot was written at a clean shutdown, after the last flush: the
/// snapshot's own time and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMark {
    /// Unix seconds the snapshot says it was written at.
    pub written_at: u64,
    /// The snapshot's checksum.
    pub checksum: u64,
}

/// One torrent in the catalog: its metadata, fetched from its swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The tracker's info-hash (SHA-1 of the info dict, or the v2 hash truncated).
    pub info_hash: InfoHash,
    /// A hybrid torrent's other tracker hash (its v2 hash truncated when keyed by v1,
    /// or the reverse): clients announce it under both, and both find this entry.
    pub alias: Option<InfoHash>,
    /// The full v2 (SHA-256) info-hash, for v2 and hybrid torrents.
    pub info_hash_v2: Option<[u8; 32]>,
    /// The torrent's name, for display.
    pub name: String,
    /// Bytes in its files (padding excluded).
    pub total_size: u64,
    /// Files (padding excluded).
    pub file_count: u64,
    /// Bytes per piece.
    pub piece_length: u64,
    /// The BEP 27 private flag.
    pub private: bool,
    /// Unix seconds the tracker first saw the torrent.
    pub first_seen: u64,
    /// Unix seconds its metadata was stored.
    pub resolved_at: u64,
    /// Peers in its swarm when it was resolved.
    pub source_peers: u32,
    /// Unix seconds it last had peers (what retention goes by).
    pub last_active: u64,
    /// Its files in order: path (components joined with `/`) and size.
    pub files: Vec<(String, u64)>,
    /// The raw info dictionary, exactly as its hash covers it.
    pub info: Vec<u8>,
}

/// What a listing shows of a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSummary {
    /// The tracker's info-hash.
    pub info_hash: InfoHash,
    /// The torrent's name.
    pub name: String,
    /// Bytes in its files.
    pub total_size: u64,
    /// Files.
    pub file_count: u64,
}

/// The catalog: torrents' metadata, kept after their swarms are gone.
pub trait CatalogStore: Send + Sync {
    /// Adds or replaces entries (one transaction); a replaced entry keeps its
    /// `first_seen`.
    fn add_catalog_entries(&self, entries: &[CatalogEntry]) -> Result<(), StoreError>;
    /// Which of these torrents the catalog holds (under its key or as an alias).
    fn catalog_known(&self, hashes: &[InfoHash]) -> Result<Vec<InfoHash>, StoreError>;
    /// One entry, with its files and info dictionary.
    fn catalog_entry(&self, h: &InfoHash) -> Result<Option<CatalogEntry>, StoreError>;
    /// Up to `limit` entries resolved after `after` in `(resolved_at, info_hash)` order,
    /// with their files but without the info dictionary (left empty): how the search
    /// index is built and caught up. Start from `(0, InfoHash([0; 20]))`.
    fn catalog_scan(
        &self,
        after: (u64, InfoHash),
        limit: usize,
    ) -> Result<Vec<CatalogEntry>, StoreError>;
    /// Name, size and file count of those of these torrents the catalog holds.
    fn catalog_summaries(&self, hashes: &[InfoHash]) -> Result<Vec<CatalogSummary>, StoreError>;
    /// Records that these torrents had peers at `at` (unix seconds).
    fn touch_catalog(&self, hashes: &[InfoHash], at: u64) -> Result<(), StoreError>;
    /// Removes an entry; whether there was one.
    fn remove_catalog_entry(&self, h: &InfoHash) -> Result<bool, StoreError>;
    /// Removes the entries longest without peers until at most `keep` remain; returns
    /// how many went.
    fn prune_catalog(&self, keep: u64) -> Result<u64, StoreError>;
    /// Up to `limit` entries longest without peers, oldest first.
    fn catalog_oldest(&self, limit: u64) -> Result<Vec<InfoHash>, StoreError>;
    /// Removes these entries (one transaction); how many there were.
    fn remove_catalog_entries(&self, hashes: &[InfoHash]) -> Result<u64, StoreError>;
    /// Entries held.
    fn catalog_len(&self) -> Result<u64, StoreError>;
}

/// Everything a backend provides: what the store thread holds, the catalog and the
/// accounts.
pub trait Backend: Store + CatalogStore + AccountStore + SiteStore + PreviewStore {}

impl<T: Store + CatalogStore + AccountStore + SiteStore + PreviewStore + ?Sized> Backend for T {}

/// What an account may do on the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Downloads and seeds.
    User,
    /// Also publishes torrents.
    Uploader,
    /// Also approves and edits torrents, and bans users.
    Moderator,
    /// Everything, site settings included.
    Admin,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 4] = [Role::User, Role::Uploader, Role::Moderator, Role::Admin];

    /// The name on the command line, in the API and in the store.
    pub fn key(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Uploader => "uploader",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// The role a name stands for.
    pub fn from_key(key: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// An account as the site and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its number.
    pub id: u64,
    /// Its name, as registered.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its passkey: 16 random bytes, 32 hex digits in announce URLs.
    pub passkey: [u8; 16],
    /// Banned accounts are refused by the tracker and the site.
    pub banned: bool,
    /// Bytes it uploaded, over every torrent.
    pub uploaded: u64,
    /// Bytes it downloaded, over every torrent.
    pub downloaded: u64,
    /// Invites it may still create.
    pub invite_quota: u32,
    /// Who invited it.
    pub invited_by: Option<u64>,
    /// Unix seconds it was created.
    pub created_at: u64,
    /// The ratio rule does not apply to it (an admin's override).
    pub ratio_exempt: bool,
    /// Bonus points it spent.
    pub bonus_spent: u64,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// Its name (unique regardless of case).
    pub name: &'a str,
    /// Its role.
    pub role: Role,
    /// Its passkey (random; unique).
    pub passkey: [u8; 16],
    /// Its password's hash (argon2id, PHC string), when it has one.
    pub password_hash: Option<&'a str>,
    /// Who invited it.
    pub invited_by: Option<u64>,
    /// Unix seconds now.
    pub created_at: u64,
}

/// One account as the tracker's passkey table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyRow {
    /// The account.
    pub user_id: u64,
    /// Its passkey.
    pub passkey: [u8; 16],
    /// Whether the tracker admits it (not banned).
    pub admitted: bool,
    /// Its total uploaded bytes (for the ratio rule).
    pub uploaded: u64,
    /// Its total downloaded bytes.
    pub downloaded: u64,
    /// The ratio rule does not apply to it.
    pub ratio_exempt: bool,
}

/// Accounts, passkeys and invites (the portal and private mode). Every change to an
/// account is logged, so servers reload what changed since they last looked
/// ([`AccountStore::passkey_changes`]), also when another process made the change.
pub trait AccountStore: Send + Sync {
    /// Creates an account; [`StoreError::Conflict`] when the name (in any case) or the
    /// passkey is taken.
    fn add_account(&self, new: &NewAccount<'_>) -> Result<Account, StoreError>;
    /// The account of this name (in any case).
    fn account(&self, name: &str) -> Result<Option<Account>, StoreError>;
    /// Bans or unbans an account; whether it exists.
    fn set_banned(&self, name: &str, banned: bool) -> Result<bool, StoreError>;
    /// Gives an account a new passkey (the old one stops working); whether it exists.
    fn set_passkey(&self, name: &str, passkey: [u8; 16]) -> Result<bool, StoreError>;
    /// Stores an invite by the SHA-256 of its code.
    fn add_invite(
        &self,
        code_hash: [u8; 32],
        created_by: Option<u64>,
        created_at: u64,
        expires_at: u64,
    ) -> Result<(), StoreError>;
    /// Every account's passkey row, and the change sequence they are current to.
    fn passkeys(&self) -> Result<(u64, Vec<PasskeyRow>), StoreError>;
    /// The rows of accounts changed after sequence `since`, and the latest sequence.
    fn passkey_changes(&self, since: u64) -> Result<(u64, Vec<PasskeyRow>), StoreError>;
    /// The passkey rows of these accounts (after their totals changed).
    fn passkey_rows(&self, user_ids: &[u64]) -> Result<Vec<PasskeyRow>, StoreError>;
    /// Adds credits (one transaction): to each account's totals and its per-torrent row.
    /// Credits add to what is stored (several nodes' sum); the caller sends each once.
    fn add_traffic(&self, rows: &[TrafficRow]) -> Result<(), StoreError>;
    /// [`AccountStore::add_traffic`] as batch `batch` of this handle's node (a number
    /// the node never uses for another batch): a batch sent again after its commit's
    /// answer was lost is not added twice (`Ok(false)`). Marks are kept a day.
    fn add_traffic_once(&self, batch: u64, rows: &[TrafficRow]) -> Result<bool, StoreError>;
    /// An account's torrents, most recently announced first.
    fn account_torrents(&self, user_id: u64) -> Result<Vec<AccountTorrent>, StoreError>;
    /// The account of this name (in any case) with its password hash (`None` when it
    /// has no password), for a login.
    fn credentials(&self, name: &str) -> Result<Option<(Account, Option<String>)>, StoreError>;
    /// Sets an account's password hash; whether it exists.
    fn set_password(&self, user_id: u64, password_hash: &str) -> Result<bool, StoreError>;
    /// Creates an account with an invite, in one transaction: the invite (by the SHA-256
    /// of its code) must be unused and expire after `now`; it is marked used by the new
    /// account, whose `invited_by` becomes the invite's creator. `Ok(None)` when the
    /// invite is unknown, used or expired (nothing changes); [`StoreError::Conflict`]
    /// when the name or passkey is taken (the invite stays unused).
    fn register(
        &self,
        new: &NewAccount<'_>,
        code_hash: [u8; 32],
        now: u64,
    ) -> Result<Option<Account>, StoreError>;
    /// Stores a login session, and deletes sessions that expired by `session.created_at`.
    fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    /// The session with this token hash, if it expires after `now`, with its account.
    fn session(&self, token_hash: [u8; 32], now: u64) -> Result<Option<Session>, StoreError>;
    /// Ends a session; whether there was one.
    fn delete_session(&self, token_hash: [u8; 32]) -> Result<bool, StoreError>;
    /// Ends an account's sessions except `keep` (after a password change); how many.
    fn delete_sessions_of(&self, user_id: u64, keep: Option<[u8; 32]>) -> Result<u64, StoreError>;
    /// Deletes sessions that expired at or before `now`; how many.
    fn prune_sessions(&self, now: u64) -> Result<u64, StoreError>;
}

/// A new login session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the token in the cookie (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// The account.
    pub user_id: u64,
    /// The secret the session's forms carry as their CSRF token.
    pub csrf: [u8; 32],
    /// Unix seconds now.
    pub created_at: u64,
    /// Unix seconds it ends.
    pub expires_at: u64,
}

/// A live login session and its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account, as it is now (banned or not).
    pub account: Account,
    /// The session's CSRF secret.
    pub csrf: [u8; 32],
    /// Unix seconds it ends.
    pub expires_at: u64,
}

/// Credits to one account on one torrent since the last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficRow {
    /// The account.
    pub user_id: u64,
    /// The torrent.
    pub info_hash: InfoHash,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Whether it seeded at its last announce.
    pub seeding: bool,
    /// Whether it is still in the swarm (its last announce was not `stopped`).
    pub active: bool,
    /// Whether it announced `completed`.
    pub completed: bool,
    /// Seconds it seeded.
    pub seeded: u64,
    /// Unix seconds of its last announce.
    pub at: u64,
}

/// One torrent of an account, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountTorrent {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Bytes uploaded on it.
    pub uploaded: u64,
    /// Bytes downloaded on it.
    pub downloaded: u64,
    /// Whether it seeded at its last announce.
    pub seeding: bool,
    /// Whether it was still in the swarm at its last announce.
    pub active: bool,
    /// Whether it ever completed the torrent.
    pub snatched: bool,
    /// Seconds it seeded the torrent.
    pub seed_time: u64,
    /// Unix seconds it first completed the torrent (the first flush that saw it).
    pub snatched_at: Option<u64>,
    /// Unix seconds of its last announce.
    pub last_announce: u64,
}

/// Completed counts: how many peers announced `completed`, per torrent, over every
/// node and every run.
pub trait CountStore {
    /// Every stored completed count.
    fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError>;
    /// The stored counts of these torrents (those the store knows; others are absent).
    fn completed_counts(&self, hashes: &[InfoHash]) -> Result<Vec<(InfoHash, u64)>, StoreError>;
    /// Adds completions counted since the writer's last successful call (deltas, each
    /// info-hash at most once) to the stored counts, in one transaction. Deltas, not
    /// totals, so that nodes sharing the store add up instead of overwriting each other;
    /// a writer must therefore send each completion once: keep a failed batch and send
    /// it again (merged with later deltas), never re-derive it from totals.
    fn add_completed(&self, deltas: &[(InfoHash, u64)]) -> Result<(), StoreError>;
    /// [`CountStore::add_completed`] as batch `batch` of this handle's node: sent again
    /// after its commit's answer was lost, it is not added twice (`Ok(false)`).
    fn add_completed_once(
        &self,
        batch: u64,
        deltas: &[(InfoHash, u64)],
    ) -> Result<bool, StoreError>;
}

/// Samples of this node's totals and of its busiest swarms, for trends. Each handle
/// writes, reads and prunes its own node's samples (keyed by node and time): a dashboard
/// shows the node it runs on, and nodes sampling at the same second do not collide.
pub trait SampleStore {
    /// Records a sample (one taken at the same second replaces it).
    fn add_sample(&self, s: &Sample) -> Result<(), StoreError>;
    /// Samples taken at or after `since` (unix seconds), oldest first.
    fn samples_since(&self, since: u64) -> Result<Vec<Sample>, StoreError>;
    /// Deletes samples older than `before`.
    fn prune_samples(&self, before: u64) -> Result<(), StoreError>;
    /// Records one sample of several swarms, all taken at `at` (a swarm sampled again
    /// at the same second replaces it), and deletes swarm samples older than `before`
    /// (one transaction).
    fn add_swarm_samples(
        &self,
        at: u64,
        swarms: &[SwarmSample],
        before: u64,
    ) -> Result<(), StoreError>;
    /// Swarm samples taken at or after `since`, oldest first.
    fn swarm_samples_since(&self, since: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError>;
}

/// Access-list entries added through the admin API, shared by every node. Entries are
/// added and removed one at a time (both idempotent), so two nodes editing different
/// entries never undo each other's change.
pub trait AccessStore {
    /// Every entry.
    fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError>;
    /// Adds an entry; adding one that is there already changes nothing.
    fn add_access_entry(&self, h: &InfoHash) -> Result<(), StoreError>;
    /// Removes an entry; removing one that is not there changes nothing.
    fn remove_access_entry(&self, h: &InfoHash) -> Result<(), StoreError>;
}

/// A change every node applies to its own memory (`tracker_changes`): the store's
/// triggers log access-list and catalog changes, whoever made them; swarm removals are
/// logged by the node whose admin made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerChange {
    /// An admin access-list entry was added.
    AccessAdded(InfoHash),
    /// An admin access-list entry was removed.
    AccessRemoved(InfoHash),
    /// A catalog entry was added (each node's search index takes it from the store).
    CatalogAdded(InfoHash),
    /// A catalog entry was removed.
    CatalogRemoved(InfoHash),
    /// An admin removed the swarm on another node.
    SwarmRemoved(InfoHash),
}

impl TrackerChange {
    /// The `kind` column's value.
    pub fn kind(self) -> i64 {
        match self {
            TrackerChange::AccessAdded(_) => 1,
            TrackerChange::AccessRemoved(_) => 2,
            TrackerChange::CatalogAdded(_) => 3,
            TrackerChange::CatalogRemoved(_) => 4,
            TrackerChange::SwarmRemoved(_) => 5,
        }
    }

    /// The change a row holds (`None`: a kind a newer shoal wrote).
    pub fn from_row(kind: i64, h: InfoHash) -> Option<TrackerChange> {
        Some(match kind {
            1 => TrackerChange::AccessAdded(h),
            2 => TrackerChange::AccessRemoved(h),
            3 => TrackerChange::CatalogAdded(h),
            4 => TrackerChange::CatalogRemoved(h),
            5 => TrackerChange::SwarmRemoved(h),
            _ => return None,
        })
    }
}

/// Most changes one [`ChangeLog::tracker_changes`] call returns.
pub const MAX_CHANGES_READ: u64 = 10_000;

/// How long logged changes are kept: a node away longer reloads everything at start.
pub const CHANGES_KEPT_SECS: u64 = 3600;

/// How long the marks of applied batches are kept: a batch is retried within seconds
/// of its failure, or minutes while the store is down.
pub const BATCHES_KEPT_SECS: u64 = 86_400;

/// The log of [`TrackerChange`]s that several nodes (and `shoal` commands beside a
/// server) read to stay in step.
pub trait ChangeLog {
    /// The latest change's sequence: where a node that has just loaded everything starts.
    fn last_tracker_change(&self) -> Result<u64, StoreError>;
    /// The changes after `since`, oldest first and at most [`MAX_CHANGES_READ`], and the
    /// sequence to read after next. Changes this handle's node made are left out where
    /// the backend knows the writer: swarm removals always, the others on PostgreSQL
    /// (each node's connections are named after it).
    fn tracker_changes(&self, since: u64) -> Result<(u64, Vec<TrackerChange>), StoreError>;
    /// Logs that an admin of this node removed a swarm, for the other nodes.
    fn log_swarm_removal(&self, h: &InfoHash) -> Result<(), StoreError>;
    /// Forgets changes logged before `before` (unix seconds), and marks of batches
    /// ([`CountStore::add_completed_once`]) older than [`BATCHES_KEPT_SECS`] before
    /// it; how many changes.
    fn prune_tracker_changes(&self, before: u64) -> Result<u64, StoreError>;
}

/// Which swarm snapshot this node wrote at its last clean shutdown.
pub trait SnapshotMarks {
    /// Records this node's snapshot written at a clean shutdown, after the last flush.
    fn set_snapshot_mark(&self, mark: &SnapshotMark) -> Result<(), StoreError>;
    /// Returns this node's recorded mark and forgets it, in one transaction: a mark
    /// vouches for a snapshot only at the first start after the shutdown that wrote it,
    /// because anything the store takes after that start is newer than the snapshot.
    fn take_snapshot_mark(&self) -> Result<Option<SnapshotMark>, StoreError>;
}

/// Everything shoal persists; implemented by every type that implements the five parts.
///
/// The parts are separate traits because they are separate concerns with separate
/// rules for several nodes (summed, shared, per node, per node, read by all), and a
/// caller that needs one part takes only that part (`&impl SampleStore + ?Sized` loads
/// the history), which also keeps test doubles small. The store thread holds one `Box<dyn Store>`.
///
/// Every write either commits everything it was given or returns an error and commits
/// nothing; after an error the store stays usable and the caller may retry. A backend
/// passes [`conformance`]'s checks.
pub trait Store:
    CountStore + SampleStore + AccessStore + SnapshotMarks + ChangeLog + Send + Sync
{
}

impl<
        T: CountStore + SampleStore + AccessStore + SnapshotMarks + ChangeLog + Send + Sync + ?Sized,
    > Store for T
{
}

//! The portal's publishing and administration: uploads (pending and approved),
//! per-torrent freeleech, the site's settings, and what admins change on accounts.

use crate::{Account, AccountTorrent, CatalogEntry, InfoHash, Role, StoreError};

/// The hit-and-run rule: a torrent an account completed must be seeded for
/// `seed_secs` within `grace_secs` of completing it, unless the account uploaded at
/// least what it downloaded there. [`SiteStore::hit_and_runs`] counts by the same rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitAndRun {
    /// Seconds of seeding owed per completed torrent.
    pub seed_secs: u64,
    /// Seconds after completing it that the seeding may take.
    pub grace_secs: u64,
}

impl HitAndRun {
    /// Whether `t` is within the rule already (seeded long enough, or uploaded as much).
    fn met(&self, t: &AccountTorrent) -> bool {
        t.seed_time >= self.seed_secs || t.uploaded >= t.downloaded
    }

    /// Seeding still owed on `t` and the time it is due, while it is not late.
    pub fn owed(&self, t: &AccountTorrent, now: u64) -> Option<(u64, u64)> {
        let due = t.snatched_at?.saturating_add(self.grace_secs);
        (!self.met(t) && now <= due).then(|| (self.seed_secs - t.seed_time, due))
    }

    /// Whether `t` is a hit and run: completed, late, and short of the rule.
    pub fn broken(&self, t: &AccountTorrent, now: u64) -> bool {
        t.snatched_at
            .is_some_and(|at| now > at.saturating_add(self.grace_secs))
            && !self.met(t)
    }
}

/// A torrent published through the site.
#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    /// Its catalog entry (hashes, name, files, the info dictionary).
    pub entry: &'a CatalogEntry,
    /// The uploader.
    pub user_id: u64,
    /// The title shown on the site (the catalog entry's name is set to it).
    pub title: &'a str,
    /// Plain text.
    pub description: &'a str,
    /// The uploader's category key.
    pub category: &'a str,
    /// Unix seconds now.
    pub at: u64,
    /// Published at once (into the catalog); otherwise it waits for a moderator, its
    /// info dictionary kept with it.
    pub approved: bool,
    /// Publishing also adds both hashes to the access list (a tracker whose access
    /// list allows only what is listed).
    pub list: bool,
}

/// What [`SiteStore::add_upload`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored (published, or waiting for approval).
    Added,
    /// The torrent (either of a hybrid's hashes) was uploaded before, under this hash.
    Duplicate(InfoHash),
}

/// An upload as the site lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The tracker's hash.
    pub info_hash: InfoHash,
    /// A hybrid's other tracker hash.
    pub alias: Option<InfoHash>,
    /// The uploader.
    pub user_id: u64,
    /// The uploader's name.
    pub uploader: String,
    /// Its title.
    pub title: String,
    /// Its description (plain text).
    pub description: String,
    /// Its category key.
    pub category: String,
    /// Unix seconds it was uploaded.
    pub created_at: u64,
    /// Published (not waiting for a moderator).
    pub approved: bool,
    /// Downloads on it are not counted.
    pub freeleech: bool,
    /// Bytes in its files.
    pub total_size: u64,
    /// Its files.
    pub file_count: u64,
}

/// Which uploads a listing wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadFilter {
    /// Only this account's.
    pub user_id: Option<u64>,
    /// Only approved (`Some(true)`) or only pending (`Some(false)`) ones.
    pub approved: Option<bool>,
    /// Only freeleech ones.
    pub freeleech: bool,
}

/// An invite as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    /// Who created it (`None`: the command line).
    pub created_by: Option<String>,
    /// Unix seconds it was created.
    pub created_at: u64,
    /// Unix seconds it expires.
    pub expires_at: u64,
    /// Who registered with it.
    pub used_by: Option<String>,
    /// Unix seconds it was used.
    pub used_at: Option<u64>,
}

/// What an admin changes on an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// Its role.
    Role(Role),
    /// Invites it may still create.
    InviteQuota(u32),
    /// Whether the ratio rule skips it.
    RatioExempt(bool),
}

/// Uploads, settings and account administration.
pub trait SiteStore: Send + Sync {
    /// Stores an upload in one transaction: an approved one goes into the catalog
    /// (replacing what the swarm gave, its title as the name) and, when `list`, the
    /// access list; a
    /// pending one waits here. A torrent uploaded before (by either hash) is a
    /// [`Published::Duplicate`] and nothing changes.
    fn add_upload(&self, upload: &NewUpload<'_>) -> Result<Published, StoreError>;
    /// The upload with this hash (or alias).
    fn upload(&self, h: &InfoHash) -> Result<Option<Upload>, StoreError>;
    /// Uploads, newest first, at most `limit` after skipping `offset`.
    fn uploads(
        &self,
        filter: &UploadFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Upload>, StoreError>;
    /// A pending upload's info dictionary (what its catalog entry is built from).
    fn pending_info(&self, h: &InfoHash) -> Result<Option<Vec<u8>>, StoreError>;
    /// Publishes a pending upload with its catalog entry (catalog and, when `list`, the
    /// access list, one transaction); `false` when there is no such pending upload.
    fn approve_upload(&self, entry: &CatalogEntry, list: bool) -> Result<bool, StoreError>;
    /// Deletes a pending upload; whether there was one.
    fn reject_upload(&self, h: &InfoHash) -> Result<bool, StoreError>;
    /// Sets an upload's freeleech flag; whether there is such an upload.
    fn set_upload_freeleech(&self, h: &InfoHash, on: bool) -> Result<bool, StoreError>;
    /// Every freeleech torrent's hashes (aliases included).
    fn freeleech_torrents(&self) -> Result<Vec<InfoHash>, StoreError>;
    /// The site's settings (other than `version`) and their version.
    fn site_settings(&self) -> Result<(u64, Vec<(String, String)>), StoreError>;
    /// The settings' version alone (cheap: servers poll it).
    fn site_version(&self) -> Result<u64, StoreError>;
    /// Sets settings (one transaction) and bumps the version.
    fn set_site_settings(&self, values: &[(&str, &str)]) -> Result<(), StoreError>;
    /// Accounts whose name starts with `prefix` (any case), by name, at most `limit`
    /// after `offset`.
    fn accounts(&self, prefix: &str, limit: u64, offset: u64) -> Result<Vec<Account>, StoreError>;
    /// The account with this number.
    fn account_by_id(&self, id: u64) -> Result<Option<Account>, StoreError>;
    /// Changes an account (logged, so trackers reload it); whether it exists.
    fn change_account(&self, id: u64, change: AccountChange) -> Result<bool, StoreError>;
    /// Stores an invite created by an account from its quota, in one transaction:
    /// `false` (nothing stored) when its quota is used up.
    fn add_invite_from_quota(
        &self,
        code_hash: [u8; 32],
        user_id: u64,
        created_at: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError>;
    /// Invites, newest first: all (`None`) or one account's.
    fn invites(&self, created_by: Option<u64>, limit: u64) -> Result<Vec<InviteRow>, StoreError>;
    /// Spends `points` of an account's bonus on `points × bytes_per_point` of upload
    /// credit, in one transaction (logged as an account change): `false`, and nothing
    /// changes, when it has fewer points — its seeding time over `seconds_per_point`,
    /// less what it spent.
    fn spend_bonus(
        &self,
        user_id: u64,
        points: u64,
        seconds_per_point: u64,
        bytes_per_point: u64,
    ) -> Result<bool, StoreError>;
    /// Accounts with hits and runs at `now` under `rule`, and how many each.
    fn hit_and_runs(&self, rule: HitAndRun, now: u64) -> Result<Vec<(u64, u32)>, StoreError>;
}

//! The catalog's content preview: which small files of a torrent were fetched from its
//! swarm and made safe to show (thumbnails and full-size copies of images, decoded
//! text), what they are, which torrents list them, and what moderators took down.
//!
//! The files themselves live in a content-addressed directory beside the store (the
//! catalog's, keyed by the SHA-256 of the original bytes); the store holds what is known
//! of them. One file shared by many torrents is one row, listed by each.

use crate::{InfoHash, StoreError};

/// What a preview file is shown as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreviewKind {
    /// Decoded text, shown escaped and preformatted.
    Text,
    /// An image, shown as re-encoded copies.
    Image,
}

impl PreviewKind {
    /// Its code in the store.
    pub fn code(self) -> i64 {
        match self {
            PreviewKind::Text => 1,
            PreviewKind::Image => 2,
        }
    }

    /// The kind of a store code.
    pub fn of_code(code: i64) -> Option<PreviewKind> {
        match code {
            1 => Some(PreviewKind::Text),
            2 => Some(PreviewKind::Image),
            _ => None,
        }
    }

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewKind::Text => "text",
            PreviewKind::Image => "image",
        }
    }
}

/// One file made safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewFile {
    /// SHA-256 of the original file's bytes (its name in the file store).
    pub sha256: [u8; 32],
    /// What it is shown as.
    pub kind: PreviewKind,
    /// Bytes of the original.
    pub size: u64,
    /// Bytes it takes in the file store (what the disk budget counts).
    pub stored: u64,
    /// An image's dimensions (0 for text).
    pub width: u32,
    /// An image's height (0 for text).
    pub height: u32,
    /// The encoding a text was decoded from ("" for images).
    pub encoding: String,
    /// Whether a text was cut at the size cap.
    pub truncated: bool,
}

/// What became of a torrent's preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewState {
    /// Fetched: its files are listed (possibly none were usable).
    Done,
    /// Hidden by a moderator: never fetched again, nothing shown.
    Hidden,
}

/// A torrent's preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentPreview {
    /// What became of it.
    pub state: PreviewState,
    /// Unix seconds it was fetched or hidden.
    pub at: u64,
    /// Bytes of pieces fetched for it.
    pub fetched: u64,
    /// Its files (path in the torrent, the file), in path order; hidden, denied and
    /// evicted files are not listed.
    pub files: Vec<(String, PreviewFile)>,
}

/// The preview's part of the store.
pub trait PreviewStore: Send + Sync {
    /// Which of these torrents have a preview record (fetched or hidden).
    fn previewed(&self, hashes: &[InfoHash]) -> Result<Vec<InfoHash>, StoreError>;
    /// Records a torrent's fetched preview in one transaction: its files (a file already
    /// held is shared, not added twice) and its paths. Files on the deny list are left
    /// out. Returns the hashes of the files it lists. A torrent hidden meanwhile stays
    /// hidden (nothing is added).
    fn add_preview(
        &self,
        h: &InfoHash,
        at: u64,
        fetched: u64,
        files: &[(String, PreviewFile)],
    ) -> Result<Vec<[u8; 32]>, StoreError>;
    /// A torrent's preview, if it has a record.
    fn preview(&self, h: &InfoHash) -> Result<Option<TorrentPreview>, StoreError>;
    /// One file, if the store holds it.
    fn preview_file(&self, sha256: &[u8; 32]) -> Result<Option<PreviewFile>, StoreError>;
    /// Hides a torrent's whole preview (`path` none: it is never fetched again) or one of
    /// its files (left out of any later fetch of this torrent). Both hides outlive
    /// [`PreviewStore::remove_previews`]. Returns the files no torrent lists any more (their rows are gone: the
    /// caller deletes their bytes), or `None` when there was nothing to hide.
    fn hide_preview(
        &self,
        h: &InfoHash,
        path: Option<&str>,
        at: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StoreError>;
    /// Forgets these torrents' previews (their catalog entries went); what a moderator
    /// hid stays hidden. Returns the files no torrent lists any more (their rows are gone: the
    /// caller deletes their bytes).
    fn remove_previews(&self, hashes: &[InfoHash]) -> Result<Vec<[u8; 32]>, StoreError>;
    /// Puts a file on the deny list: never stored again, and taken out of every torrent
    /// now. Returns whether the store held it (its bytes are then to be deleted).
    fn deny_preview_file(&self, sha256: &[u8; 32], at: u64) -> Result<bool, StoreError>;
    /// Takes a file off the deny list; whether it was on it.
    fn allow_preview_file(&self, sha256: &[u8; 32]) -> Result<bool, StoreError>;
    /// The deny list: file hashes and when they were added, newest first.
    fn preview_denied(&self) -> Result<Vec<([u8; 32], u64)>, StoreError>;
    /// Records that these files were viewed at `at` (what eviction goes by).
    fn preview_viewed(&self, files: &[[u8; 32]], at: u64) -> Result<(), StoreError>;
    /// Bytes the stored files take, and how many there are.
    fn preview_usage(&self) -> Result<(u64, u64), StoreError>;
    /// Removes files, least recently viewed first, until those left take at most `keep`
    /// bytes; returns the removed files (the caller deletes their bytes).
    fn evict_previews(&self, keep: u64) -> Result<Vec<[u8; 32]>, StoreError>;
}

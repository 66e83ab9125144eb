//! BitTorrent metainfo without I/O: `.torrent` files, info dictionaries, info-hashes,
//! magnet links, and creating torrents from file contents.
//!
//! - [`Info::parse`] reads a bare info dictionary (what BEP 9 `ut_metadata` fetches) of
//!   any version: BEP 3 v1 (single and multi file), BEP 52 v2 (`file tree`,
//!   `meta version` 2) and hybrid v1+v2, with BEP 27 `private` and BEP 47 padding files
//!   and attributes. [`Info::hashes`] gives the [`InfoHashes`]: SHA-1 of the exact bytes
//!   for v1, SHA-256 for v2, and [`InfoHashes::tracker_hash`], the 20 bytes trackers and
//!   the peer handshake use.
//! - [`Torrent::parse`] reads a `.torrent` file: the info dictionary kept as the exact
//!   byte slice it was in the file (an info-hash is never computed over a re-encoding),
//!   BEP 12 `announce-list`, BEP 19 `url-list`, `comment`, `created by`,
//!   `creation date` and BEP 52 `piece layers`. [`Torrent::write`] writes one back from
//!   those parts, so a stored info dictionary becomes the same `.torrent` again.
//! - [`Magnet::parse`] and [`Magnet`]'s `Display` read and write BEP 9 magnet links
//!   (`xt=urn:btih:` in hex or base32, `xt=urn:btmh:` for v2, `dn`, `tr`, `xl`).
//! - [`create`] hashes file contents handed in through a reader callback (v1 pieces,
//!   v2 per-file merkle trees of 16 KiB blocks and piece layers) and writes the info
//!   dictionary; it opens no file itself.
//!
//! Every count and length a file states is checked against [`Limits`] before anything
//! is sized by it, and parsing never panics on any input.
//!
//! # Paths from a torrent are hostile
//! A torrent names its files, and whoever made it chose those names. [`File::path`] and
//! [`Info::name`] are for display only: lossy UTF-8 with control characters replaced by
//! U+FFFD, and they may still read `..` or contain `/`. The raw bytes are kept
//! ([`File::raw_path`], [`Info::raw_name`]) so nothing is lost. Only
//! [`File::safe_path`] and [`Info::safe_name`] give something to join onto a
//! directory, and they return `None` unless every component is valid UTF-8, non-empty,
//! not `.` or `..`, and free of `/`, `\` and control characters such as NUL (so no
//! component can be absolute, climb out, or rewrite a terminal). Parsing keeps such torrents (a catalog should list them); using their
//! paths is what is refused.
//!
//! ```
//! use shoal_metainfo::{Info, Limits, Magnet, Torrent, Version};
//!
//! // A v1 single-file info dict: one 20-byte piece hash for a 5-byte file.
//! let mut info = b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:".to_vec();
//! info.extend_from_slice(&[7u8; 20]);
//! info.push(b'e');
//! let parsed = Info::parse(&info, &Limits::default())?;
//! assert_eq!((parsed.name.as_str(), parsed.total_size()), ("a.txt", 5));
//! assert_eq!(parsed.version(), Version::V1);
//!
//! // Wrap it in a .torrent with a tracker, read it back, and make a magnet link.
//! let torrent = Torrent {
//!     announce: Some("udp://tracker.example:6969/announce".into()),
//!     ..Torrent::from_info_bytes(info, &Limits::default())?
//! };
//! let again = Torrent::parse(&torrent.write(), &Limits::default())?;
//! assert_eq!(again, torrent);
//! let magnet = Magnet::from_torrent(&again).to_string();
//! assert!(magnet.starts_with("magnet:?xt=urn:btih:"));
//! assert_eq!(Magnet::parse(&magnet)?.info_hashes, again.hashes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod create;
mod info;
mod magnet;
mod merkle;
mod path;
mod torrent;

pub use info::{with_private_flag, Attrs, File, Info};
pub use magnet::{Magnet, MagnetError, MAX_MAGNET_LEN};
pub use torrent::Torrent;

/// Size of a v2 merkle-tree leaf (BEP 52): files are hashed in 16 KiB blocks.
pub const BLOCK_SIZE: u64 = 16 * 1024;

/// Which BitTorrent versions an info dictionary describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// BEP 3 only: `pieces` (SHA-1 per piece), `length` or `files`.
    V1,
    /// BEP 52 only: `meta version` 2 and a `file tree` of per-file merkle roots.
    V2,
    /// Both: a v1 file list (with padding files aligning each file to a piece) and a v2
    /// file tree describing the same files.
    Hybrid,
}

impl Version {
    /// Whether a v1 info-hash exists (v1 or hybrid).
    pub fn has_v1(self) -> bool {
        self != Version::V2
    }

    /// Whether a v2 info-hash exists (v2 or hybrid).
    pub fn has_v2(self) -> bool {
        self != Version::V1
    }
}

/// The info-hashes of an info dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InfoHashes {
    /// SHA-1 of the info dictionary's bytes, when it has v1 fields (`pieces`).
    pub v1: Option<[u8; 20]>,
    /// SHA-256 of the info dictionary's bytes, when it says `meta version` 2.
    pub v2: Option<[u8; 32]>,
}

impl InfoHashes {
    /// The hashes of `info_bytes` for the versions given.
    pub fn compute(info_bytes: &[u8], version: Version) -> InfoHashes {
        use sha2::Digest as _;
        InfoHashes {
            v1: version.has_v1().then(|| sha1_of(info_bytes)),
            v2: version
                .has_v2()
                .then(|| sha2::Sha256::digest(info_bytes).into()),
        }
    }

    /// The v2 hash truncated to 20 bytes: what a v2-only swarm announces and
    /// handshakes with (BEP 52).
    pub fn v2_truncated(&self) -> Option<[u8; 20]> {
        self.v2.map(|h| {
            let mut t = [0u8; 20];
            t.copy_from_slice(&h[..20]);
            t
        })
    }

    /// The 20-byte hash a tracker sees first for this torrent: the v1 hash, else the
    /// truncated v2 hash (a hybrid swarm also announces the truncated v2 hash; that is
    /// a second swarm on the tracker). All zeros when neither is known.
    pub fn tracker_hash(&self) -> [u8; 20] {
        self.v1.or_else(|| self.v2_truncated()).unwrap_or_default()
    }
}

pub(crate) fn sha1_of(bytes: &[u8]) -> [u8; 20] {
    use sha1::Digest as _;
    sha1::Sha1::digest(bytes).into()
}

/// Bounds on what a metainfo may state. Every count and length is checked against
/// these before it sizes anything. Nesting depth is bounded by the bencode decoder
/// ([`shoal_bencode::MAX_DEPTH`], 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest info dictionary in bytes (default 8 MiB; BEP 9 metadata is fetched in
    /// 16 KiB pieces, and libtorrent refuses metadata over 4 MiB by default).
    pub max_info_bytes: usize,
    /// Most files, padding files included (default 100,000).
    pub max_files: usize,
    /// Most components in one file's path (default 64).
    pub max_path_components: usize,
    /// Longest path component in bytes (default 255, the common file-name limit).
    pub max_component_bytes: usize,
    /// Longest path in bytes, components and separators counted (default 4096,
    /// `PATH_MAX` on Linux).
    pub max_path_bytes: usize,
    /// Largest total size in bytes (default 2^50, 1 PiB).
    pub max_total_size: u64,
    /// Largest piece length (default 256 MiB). Version 2 and hybrid torrents need a
    /// power of two from 16 KiB up to this (BEP 52); v1 any length from 1 up to it, as
    /// libtorrent accepts (old torrents have odd piece lengths).
    pub max_piece_length: u64,
}

impl Limits {
    /// The default bounds (see each field).
    pub const DEFAULT: Limits = Limits {
        max_info_bytes: 8 << 20,
        max_files: 100_000,
        max_path_components: 64,
        max_component_bytes: 255,
        max_path_bytes: 4096,
        max_total_size: 1 << 50,
        max_piece_length: 256 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why bytes are not a valid metainfo (a `.torrent` or an info dictionary).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// Not valid bencode.
    #[error(transparent)]
    Bencode(#[from] shoal_bencode::DecodeError),
    /// A required key is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A key holds the wrong kind of value (a string where a number belongs, …).
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    /// A value breaks a rule of the format.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The key (or part) at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A count or length over its [`Limits`] bound.
    #[error("{what} over the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The bound it passed.
        limit: u64,
    },
}

pub(crate) fn invalid(field: &'static str, reason: &'static str) -> MetainfoError {
    MetainfoError::Invalid { field, reason }
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses exactly `N` bytes of hex (either case).
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests;

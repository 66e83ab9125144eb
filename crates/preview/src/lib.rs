//! Content preview for the catalog, without I/O (issue "Catalog III"): a torrent's name
//! and file list often do not say what it is; its cover image, `.nfo` or `README.txt`
//! do. This crate decides what to fetch and checks what was fetched; the node's
//! preview client moves the bytes.
//!
//! - [`plan`]: which files to fetch — those matching the configured kinds, under a
//!   per-file and a per-torrent byte budget and a file count, never padding files or
//!   paths that are not safe — and the pieces that hold them. Whole pieces are fetched,
//!   so a piece a chosen file shares with a large neighbour costs its full length.
//! - [`verify`]: a fetched piece against the torrent's SHA-1 (v1 and hybrid), and a
//!   fetched small file against its BEP 52 `pieces root` (v2); then the file's bytes cut
//!   out of the verified pieces. Nothing unverified is ever kept.
//! - [`text`]: a text file's bytes as text to show: UTF-8, UTF-16 with a BOM, the code
//!   page a detector finds (Windows-1251 for Russian), CP437 for `.nfo` art.
//! - [`picture`]: an image's bytes checked (its first bytes, its claimed size before
//!   decoding) and re-encoded as PNG, a thumbnail and a bounded full-size copy; the
//!   original bytes are never served.

pub mod picture;
pub mod plan;
pub mod text;
pub mod verify;

pub use plan::{Chosen, Kind, Plan, Rules};

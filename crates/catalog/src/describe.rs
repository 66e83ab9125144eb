//! Turns a fetched info dictionary into a catalog entry.

use shoal_engine::InfoHash;
use shoal_metainfo::{Info, Limits};
use shoal_store::CatalogEntry;

use crate::resolver::Resolved;

/// The entry for a resolved torrent: name, size and files from its info dictionary
/// (padding files left out), both hashes, and the dictionary itself. Errors when the
/// dictionary breaks BEP 3/52 or a bound (the peer that sent it is not asked again).
pub fn entry(r: &Resolved, now_unix: u64, max_info_bytes: u64) -> Result<CatalogEntry, String> {
    entry_from_info(
        r.info_hash,
        &r.info,
        r.first_seen,
        r.source_peers,
        now_unix,
        max_info_bytes,
    )
}

/// The entry for an info dictionary known under `info_hash` (a fetched one, or an
/// uploaded `.torrent`'s), first seen at `first_seen` in a swarm of `source_peers`.
pub fn entry_from_info(
    info_hash: InfoHash,
    info_bytes: &[u8],
    first_seen: u64,
    source_peers: u32,
    now_unix: u64,
    max_info_bytes: u64,
) -> Result<CatalogEntry, String> {
    let limits = Limits {
        max_info_bytes: usize::try_from(max_info_bytes).unwrap_or(usize::MAX),
        ..Limits::default()
    };
    let info = Info::parse(info_bytes, &limits).map_err(|e| e.to_string())?;
    let hashes = Info::hashes(info_bytes).map_err(|e| e.to_string())?;
    // A hybrid's other swarm: its v2 hash truncated when this is v1, or the reverse.
    let alias = match (hashes.v1, hashes.v2_truncated()) {
        (Some(v1), Some(v2)) if v1 == info_hash.0 => Some(InfoHash(v2)),
        (Some(v1), Some(v2)) if v2 == info_hash.0 => Some(InfoHash(v1)),
        _ => None,
    };
    Ok(CatalogEntry {
        info_hash,
        alias,
        info_hash_v2: hashes.v2,
        name: info.name.clone(),
        total_size: info.total_size(),
        file_count: info.file_count() as u64,
        piece_length: info.piece_length,
        private: info.private,
        first_seen,
        resolved_at: now_unix,
        source_peers,
        last_active: now_unix,
        files: info
            .content()
            .map(|f| {
                // A single-file torrent's one file is the torrent: its path is its name.
                let path = if f.path.is_empty() {
                    info.name.clone()
                } else {
                    f.display_path()
                };
                (path, f.size)
            })
            .collect(),
        info: info_bytes.to_vec(),
    })
}

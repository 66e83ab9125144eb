//! Turns a fetched info dictionary into a catalog entry.

use shoal_engine::InfoHash;
use shoal_metainfo::{Info, Limits};
use shoal_store::CatalogEntry;

use crate::resolver::Resolved;

/// The entry for a resolved torrent: name, size and files from its info dictionary
/// (padding files left out), both hashes, and the dictionary itself. Errors when the
/// dictionary breaks BEP 3/52 or a bound (the peer that sent it is not asked again).
pub fn entry(r: &Resolved, now_unix: u64, max_info_bytes: u64) -> Result<CatalogEntry, String> {
    let limits = Limits {
        max_info_bytes: usize::try_from(max_info_bytes).unwrap_or(usize::MAX),
        ..Limits::default()
    };
    let info = Info::parse(&r.info, &limits).map_err(|e| e.to_string())?;
    let hashes = Info::hashes(&r.info).map_err(|e| e.to_string())?;
    // A hybrid's other swarm: its v2 hash truncated when this is v1, or the reverse.
    let alias = match (hashes.v1, hashes.v2_truncated()) {
        (Some(v1), Some(v2)) if v1 == r.info_hash.0 => Some(InfoHash(v2)),
        (Some(v1), Some(v2)) if v2 == r.info_hash.0 => Some(InfoHash(v1)),
        _ => None,
    };
    Ok(CatalogEntry {
        info_hash: r.info_hash,
        alias,
        info_hash_v2: hashes.v2,
        name: info.name.clone(),
        total_size: info.total_size(),
        file_count: info.file_count() as u64,
        piece_length: info.piece_length,
        private: info.private,
        first_seen: r.first_seen,
        resolved_at: now_unix,
        source_peers: r.source_peers,
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
        info: r.info.clone(),
    })
}

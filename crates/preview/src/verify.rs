//! Checking what peers sent before any byte of it is kept.
//!
//! - v1 and hybrid torrents: each piece against its SHA-1 in the info dict
//!   ([`v1_piece`]), so a bad piece names the peer that sent it.
//! - v2-only torrents: the info dict holds each file's merkle root but not the piece
//!   layers, so a file is checked whole against its `pieces root` ([`v2_file`]) once all
//!   its pieces are in.
//!
//! [`extract`] then cuts a chosen file's bytes out of its pieces.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};
use shoal_metainfo::{create::v2_file_root, Info};

use crate::Chosen;

/// Whether `data` is piece `index` of `info` (v1 or hybrid): its SHA-1 is the one the
/// info dict lists. `false` for a v2-only torrent or an index past the end.
pub fn v1_piece(info: &Info, index: u64, data: &[u8]) -> bool {
    let at = index as usize * 20;
    let Some(want) = info.pieces.get(at..at + 20) else {
        return false;
    };
    Sha1::digest(data).as_slice() == want
}

/// Whether `data` is the whole content of file `index` of `info` (v2 or hybrid): as long
/// as the file, with its BEP 52 `pieces root`.
pub fn v2_file(info: &Info, index: usize, data: &[u8]) -> bool {
    let Some(file) = info.files.get(index) else {
        return false;
    };
    file.size == data.len() as u64
        && file.pieces_root.is_some()
        && v2_file_root(data, info.piece_length) == file.pieces_root
}

/// The bytes of `chosen` cut out of `pieces` (piece index → its data, each a whole
/// piece but for the torrent's or a v2 file's last); `None` while one is missing or
/// too short.
pub fn extract(
    chosen: &Chosen,
    piece_length: u64,
    pieces: &BTreeMap<u64, Vec<u8>>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity((chosen.span.end - chosen.span.start) as usize);
    for p in chosen.pieces.clone() {
        let data = pieces.get(&p)?;
        let start = p * piece_length;
        let from = chosen.span.start.max(start) - start;
        let to = chosen.span.end.min(start + piece_length) - start;
        out.extend_from_slice(data.get(from as usize..to as usize)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{plan, Rules};
    use shoal_metainfo::create::{create, FileEntry, Options};
    use shoal_metainfo::{Limits, Version};

    /// A torrent of `files` (name, content) made by the metainfo crate, its info parsed.
    fn made(files: &[(&str, Vec<u8>)], version: Version, piece_length: u64) -> (Info, Vec<u8>) {
        let entries: Vec<FileEntry> = files
            .iter()
            .map(|(name, data)| FileEntry {
                path: vec![name.to_string()],
                size: data.len() as u64,
                executable: false,
            })
            .collect();
        let stream: Vec<u8> = files.iter().flat_map(|(_, d)| d.clone()).collect();
        let made = create(
            "t",
            &entries,
            true,
            &Options {
                version,
                piece_length: Some(piece_length),
                private: false,
                source: None,
            },
            |i| Ok(std::io::Cursor::new(files[i].1.clone())),
            |_| {},
        )
        .unwrap();
        let info = Info::parse(&made.info_bytes, &Limits::default()).unwrap();
        (info, stream)
    }

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn v1_pieces_are_checked_and_files_cut_out_of_them() {
        let nfo = bytes(5000, 1);
        let cover = bytes(40_000, 2);
        let files = [
            ("a.bin", bytes(20_000, 3)),
            ("cover.jpg", cover.clone()),
            ("x.nfo", nfo.clone()),
        ];
        let (info, stream) = made(&files, Version::V1, 16 * 1024);
        let p = plan(&info, &Rules::default());
        assert_eq!(p.files.len(), 2);
        let mut got = BTreeMap::new();
        for &i in &p.pieces {
            let start = (i * info.piece_length) as usize;
            let piece = &stream[start..(start + info.piece_length as usize).min(stream.len())];
            assert!(v1_piece(&info, i, piece), "piece {i}");
            // One flipped byte, or a piece from elsewhere, is refused.
            let mut bad = piece.to_vec();
            bad[0] ^= 1;
            assert!(!v1_piece(&info, i, &bad));
            assert!(!v1_piece(&info, i + 1, piece) || piece.is_empty());
            got.insert(i, piece.to_vec());
        }
        assert!(!v1_piece(&info, 99, &stream[..16]), "past the end");
        for c in &p.files {
            let want = if c.path == "x.nfo" { &nfo } else { &cover };
            assert_eq!(extract(c, info.piece_length, &got).as_ref(), Some(want));
        }
        // A missing piece: nothing yet.
        let first = *p.pieces.iter().next().unwrap();
        got.remove(&first);
        assert!(p
            .files
            .iter()
            .any(|c| extract(c, info.piece_length, &got).is_none()));
    }

    #[test]
    fn v2_files_are_checked_against_their_roots() {
        let small = bytes(10_000, 7);
        let large = bytes(70_000, 8); // several 16 KiB pieces
        let files = [("big.txt", large.clone()), ("small.nfo", small.clone())];
        for version in [Version::V2, Version::Hybrid] {
            let (info, _) = made(&files, version, 16 * 1024);
            let index = |name: &str| info.files.iter().position(|f| f.path == [name]).unwrap();
            assert!(v2_file(&info, index("small.nfo"), &small), "{version:?}");
            assert!(v2_file(&info, index("big.txt"), &large), "{version:?}");
            let mut bad = large.clone();
            bad[40_000] ^= 0x80;
            assert!(!v2_file(&info, index("big.txt"), &bad));
            assert!(
                !v2_file(&info, index("small.nfo"), &small[..9_999]),
                "short"
            );
            assert!(!v2_file(&info, 42, &small));
        }
    }
}

//! Which files of a torrent to fetch for a preview, and which pieces hold them.
//!
//! Pieces are numbered as peers number them: in a v1 or hybrid torrent the files
//! (padding files included) are one byte stream cut into `piece length` pieces, so a
//! piece may span the end of one file and the start of the next; in a v2-only torrent
//! every file starts a new piece. A chosen file is fetched as the whole pieces that
//! hold it, and its cost is those pieces' full length (a piece it shares with a large
//! video counts whole); a piece two chosen files share is paid once.

use std::collections::BTreeSet;
use std::ops::Range;

use shoal_metainfo::{Info, Version};

/// What a preview file is shown as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Text, shown escaped and preformatted (`.nfo` art in its code page).
    Text,
    /// An image, shown re-encoded.
    Image,
}

/// What may be fetched (`[catalog] preview_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Lowercase extensions shown as images.
    pub images: Vec<String>,
    /// Lowercase extensions shown as text.
    pub texts: Vec<String>,
    /// Largest file fetched, bytes.
    pub max_file: u64,
    /// Most bytes of pieces fetched per torrent.
    pub max_total: u64,
    /// Most files per torrent.
    pub max_files: usize,
}

impl Default for Rules {
    fn default() -> Rules {
        let list = |s: &[&str]| s.iter().map(|e| e.to_string()).collect();
        Rules {
            images: list(&["jpg", "jpeg", "png", "gif", "webp"]),
            texts: list(&["nfo", "txt", "md", "log", "cue", "sfv"]),
            max_file: 2 << 20,
            max_total: 8 << 20,
            max_files: 8,
        }
    }
}

impl Rules {
    /// The kind a file of this name is shown as, by its extension.
    pub fn kind_of(&self, name: &[u8]) -> Option<Kind> {
        let dot = name.iter().rposition(|&b| b == b'.')?;
        let ext = std::str::from_utf8(&name[dot + 1..])
            .ok()?
            .to_ascii_lowercase();
        if self.images.contains(&ext) {
            Some(Kind::Image)
        } else if self.texts.contains(&ext) {
            Some(Kind::Text)
        } else {
            None
        }
    }
}

/// A file chosen for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Its index in [`Info::files`].
    pub index: usize,
    /// Its path in the torrent, `/`-joined (safe: see [`shoal_metainfo::File::safe_path`]).
    pub path: String,
    /// Its kind.
    pub kind: Kind,
    /// Its bytes within the torrent's piece space (see the module docs).
    pub span: Range<u64>,
    /// The pieces that hold it.
    pub pieces: Range<u64>,
}

/// What to fetch for one torrent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The files, in the order they were chosen.
    pub files: Vec<Chosen>,
    /// Every piece to fetch.
    pub pieces: BTreeSet<u64>,
    /// Bytes of those pieces (what the budget counts).
    pub cost: u64,
}

/// Where each file of `info` lies in the piece space: its span of bytes.
pub fn spans(info: &Info) -> Vec<Range<u64>> {
    let pl = info.piece_length.max(1);
    let aligned = info.version() == Version::V2;
    let mut at = 0u64;
    info.files
        .iter()
        .map(|f| {
            if aligned {
                at = at.div_ceil(pl) * pl;
            }
            let span = at..at.saturating_add(f.size);
            at = span.end;
            span
        })
        .collect()
}

/// The pieces that hold `span` (none for an empty span).
pub fn pieces_of(span: &Range<u64>, piece_length: u64) -> Range<u64> {
    let pl = piece_length.max(1);
    if span.is_empty() {
        return span.start / pl..span.start / pl;
    }
    span.start / pl..(span.end - 1) / pl + 1
}

/// The length of piece `piece` of a torrent whose piece space is `total` bytes long.
pub fn piece_len(piece: u64, piece_length: u64, total: u64) -> u64 {
    let start = piece.saturating_mul(piece_length);
    total.saturating_sub(start).min(piece_length)
}

/// Chooses the files to fetch: candidates are content files (not padding, not
/// symlinks) with a safe path, a known kind and at most `max_file` bytes. They are taken
/// text first (an `.nfo` before any other), then images named like a cover, then the
/// rest, smaller first; each is added while the pieces it needs, beyond those already
/// planned, keep the plan within `max_total`, up to `max_files`.
pub fn plan(info: &Info, rules: &Rules) -> Plan {
    let pl = info.piece_length.max(1);
    let spans = spans(info);
    let total = spans.last().map_or(0, |s| s.end);
    let aligned = info.version() == Version::V2;
    let mut candidates: Vec<(usize, Kind, u8)> = info
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.padding && !f.attrs.symlink && f.size > 0 && f.size <= rules.max_file)
        .filter(|(_, f)| f.safe_path().is_some())
        .filter_map(|(i, f)| {
            let name = f.raw_path.last()?;
            let kind = rules.kind_of(name)?;
            Some((i, kind, preference(name, kind)))
        })
        .collect();
    candidates.sort_by_key(|&(i, kind, pref)| (kind, pref, info.files[i].size, i));
    let mut out = Plan::default();
    for (i, kind, _) in candidates {
        if out.files.len() >= rules.max_files {
            break;
        }
        let pieces = pieces_of(&spans[i], pl);
        let len = |p: u64| {
            if aligned {
                // A v2 file's last piece is as long as the rest of the file.
                let file_end = spans[i].end;
                file_end.saturating_sub(p * pl).min(pl)
            } else {
                piece_len(p, pl, total)
            }
        };
        let extra: u64 = pieces
            .clone()
            .filter(|p| !out.pieces.contains(p))
            .map(len)
            .sum();
        if out.cost + extra > rules.max_total {
            continue;
        }
        out.cost += extra;
        out.pieces.extend(pieces.clone());
        out.files.push(Chosen {
            index: i,
            path: info.files[i].display_path(),
            kind,
            span: spans[i].clone(),
            pieces,
        });
    }
    out
}

/// Lower is taken first: among texts an `.nfo`, among images one named like a cover.
fn preference(name: &[u8], kind: Kind) -> u8 {
    let lower = name.to_ascii_lowercase();
    let has = |s: &str| lower.windows(s.len()).any(|w| w == s.as_bytes());
    match kind {
        Kind::Text if lower.ends_with(b".nfo") => 0,
        Kind::Text if has("readme") => 1,
        Kind::Image if has("cover") || has("folder") || has("front") || has("poster") => 0,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_metainfo::Limits;

    /// An info dict of `files` (path, size, padding), v1 (`pieces` of the right count,
    /// all zero) or v2 (`file tree` with zero roots).
    fn info(files: &[(&str, u64, bool)], piece_length: u64, v2: bool) -> Info {
        let mut b = String::from("d");
        if v2 {
            let mut tree = String::new();
            // Keys of a bencoded dict are sorted; tests pass names in order.
            for (path, size, _) in files {
                tree.push_str(&format!(
                    "{}:{}d0:d6:lengthi{}e11:pieces root32:{}ee",
                    path.len(),
                    path,
                    size,
                    "r".repeat(32)
                ));
            }
            b.push_str(&format!("9:file treed{tree}e12:meta versioni2e"));
            b.push_str(&format!("4:name1:t12:piece lengthi{piece_length}ee"));
            return Info::parse(b.as_bytes(), &Limits::default()).unwrap();
        }
        b.push_str("5:filesl");
        let mut total = 0;
        for (path, size, pad) in files {
            total += size;
            let attr = if *pad { "4:attr1:p" } else { "" };
            let parts: String = path
                .split('/')
                .map(|c| format!("{}:{c}", c.len()))
                .collect();
            b.push_str(&format!("d{attr}6:lengthi{size}e4:pathl{parts}ee"));
        }
        let count = total.div_ceil(piece_length) as usize;
        b.push_str(&format!(
            "e4:name1:t12:piece lengthi{piece_length}e6:pieces{}:",
            count * 20
        ));
        let mut bytes = b.into_bytes();
        bytes.extend(std::iter::repeat_n(0u8, count * 20));
        bytes.push(b'e');
        Info::parse(&bytes, &Limits::default()).unwrap()
    }

    const KIB: u64 = 1024;
    const MIB: u64 = 1 << 20;

    #[test]
    fn pieces_span_file_boundaries_in_v1_and_start_afresh_in_v2() {
        let files = [
            ("a.nfo", 10 * KIB, false),
            ("b.jpg", 40 * KIB, false),
            ("c.mkv", 100 * KIB, false),
        ];
        let v1 = info(&files, 16 * KIB, false);
        assert_eq!(
            spans(&v1),
            [0..10 * KIB, 10 * KIB..50 * KIB, 50 * KIB..150 * KIB]
        );
        assert_eq!(pieces_of(&(10 * KIB..50 * KIB), 16 * KIB), 0..4);
        assert_eq!(pieces_of(&(0..16 * KIB), 16 * KIB), 0..1, "an exact piece");
        assert_eq!(pieces_of(&(5..5), 16 * KIB), 0..0);
        assert_eq!(
            piece_len(9, 16 * KIB, 150 * KIB),
            6 * KIB,
            "the short last piece"
        );
        assert_eq!(piece_len(10, 16 * KIB, 150 * KIB), 0);
        let v2 = info(&files, 16 * KIB, true);
        assert_eq!(
            spans(&v2),
            [0..10 * KIB, 16 * KIB..56 * KIB, 64 * KIB..164 * KIB]
        );
        let p = plan(&v2, &Rules::default());
        assert_eq!(p.pieces, (0..4).collect());
        // The nfo's piece holds only its 10 KiB; the jpg's last piece 8 KiB.
        assert_eq!(p.cost, 10 * KIB + 40 * KIB);
    }

    #[test]
    fn a_piece_shared_with_a_large_neighbour_counts_whole() {
        // A 1 KiB nfo in the middle of a 1 MiB piece of a video.
        let files = [
            ("movie.mkv", 3 * MIB + 100, false),
            ("info.nfo", KIB, false),
            ("z.mkv", 3 * MIB, false),
        ];
        let t = info(&files, MIB, false);
        let p = plan(&t, &Rules::default());
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].path, "info.nfo");
        assert_eq!(p.files[0].pieces, 3..4);
        assert_eq!(p.cost, MIB, "the whole piece, not the 1 KiB");
        // Under a budget smaller than that piece nothing fits.
        let tight = Rules {
            max_total: MIB - 1,
            ..Rules::default()
        };
        assert!(plan(&t, &tight).files.is_empty());
    }

    #[test]
    fn caps_order_and_hostile_files() {
        let files = [
            ("..", 100, false),                // hostile path: never
            ("pad", 500, true),                // padding: never
            ("a/cover.JPG", 300 * KIB, false), // a cover, upper-case extension
            ("a/z.png", 200 * KIB, false),
            ("big.png", 3 * MIB, false), // over max_file
            ("notes.txt", 2 * KIB, false),
            ("readme.md", 3 * KIB, false),
            ("release.nfo", 9 * KIB, false),
            ("video.mkv", MIB, false), // not a preview kind
        ];
        let t = info(&files, 16 * KIB, false);
        let p = plan(&t, &Rules::default());
        let paths: Vec<&str> = p.files.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "release.nfo",
                "readme.md",
                "notes.txt",
                "a/cover.JPG",
                "a/z.png"
            ]
        );
        assert!(p.cost <= Rules::default().max_total);
        // At most two files, and the budget: the texts come first.
        let two = Rules {
            max_files: 2,
            ..Rules::default()
        };
        let paths: Vec<String> = plan(&t, &two).files.into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["release.nfo", "readme.md"]);
        let small = Rules {
            max_total: 40 * KIB,
            ..Rules::default()
        };
        let p = plan(&t, &small);
        assert!(p.cost <= 40 * KIB, "{}", p.cost);
        assert!(p.files.iter().all(|c| c.kind == Kind::Text));
        // Nothing matches: an empty plan.
        let none = Rules {
            images: vec![],
            texts: vec![],
            ..Rules::default()
        };
        assert_eq!(plan(&t, &none), Plan::default());
    }

    proptest::proptest! {
        /// Whatever the files, the plan stays within its caps, fetches every piece of
        /// every chosen file, and its cost is exactly the length of its pieces.
        #[test]
        fn plans_keep_their_caps(
            sizes in proptest::collection::vec((1u64..3 * MIB, 0u8..3), 1..12),
            pl_pow in 14u32..22,
            v2 in proptest::bool::ANY,
            max_total in 16 * KIB..16 * MIB,
        ) {
            let pl = 1u64 << pl_pow;
            let names: Vec<String> = sizes
                .iter()
                .enumerate()
                .map(|(i, (_, e))| format!("f{i:02}.{}", ["nfo", "png", "bin"][*e as usize]))
                .collect();
            let files: Vec<(&str, u64, bool)> =
                names.iter().zip(&sizes).map(|(n, (s, _))| (n.as_str(), *s, false)).collect();
            let t = info(&files, pl, v2);
            let rules = Rules { max_total, ..Rules::default() };
            let p = plan(&t, &rules);
            proptest::prop_assert!(p.cost <= max_total);
            proptest::prop_assert!(p.files.len() <= rules.max_files);
            let spans = spans(&t);
            let total = spans.last().unwrap().end;
            for c in &p.files {
                proptest::prop_assert!(t.files[c.index].size <= rules.max_file);
                proptest::prop_assert!(c.pieces.clone().all(|x| p.pieces.contains(&x)));
            }
            let cost: u64 = p
                .pieces
                .iter()
                .map(|&x| {
                    if v2 {
                        // The piece's file decides its length.
                        let f = spans.iter().find(|s| pieces_of(s, pl).contains(&x)).unwrap();
                        f.end.saturating_sub(x * pl).min(pl)
                    } else {
                        piece_len(x, pl, total)
                    }
                })
                .sum();
            proptest::prop_assert_eq!(cost, p.cost);
        }
    }
}

//! Making a torrent: hash file contents handed in by the caller and write the info
//! dictionary (and, for v2, the piece layers). No file is opened here: [`create`]
//! asks the caller's `open` callback for a reader of each file in turn.
//!
//! ```
//! use shoal_metainfo::create::{create, FileEntry, Options};
//! use shoal_metainfo::{Info, Limits, Version};
//!
//! let files = [
//!     FileEntry { path: vec!["b.txt".into()], size: 3, executable: false },
//!     FileEntry { path: vec!["a".into(), "c.bin".into()], size: 5, executable: true },
//! ];
//! let contents: [&[u8]; 2] = [b"bee", b"\0\x01\x02\x03\x04"];
//! let made = create("dir", &files, true, &Options::default(), |i| Ok(contents[i]), |_| {})?;
//! let info = Info::parse(&made.info_bytes, &Limits::default())?;
//! assert_eq!(info.version(), Version::Hybrid); // the default, as in libtorrent 2
//! assert_eq!(info.total_size(), 8);
//! // Files are in the v2 tree's order (sorted by path), each padded to a piece.
//! assert_eq!(info.content().next().unwrap().path, ["a", "c.bin"]);
//! assert!(info.files[1].padding);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Read};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use shoal_bencode::Encoder;

use crate::merkle::{self, Hash};
use crate::{path, Attrs, Version, BLOCK_SIZE};

/// A file to put in a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the torrent's directory (for a single-file
    /// torrent, ignored: the file is named by the torrent's name).
    pub path: Vec<String>,
    /// Length in bytes; the reader must give exactly this many.
    pub size: u64,
    /// BEP 47 `x` attribute.
    pub executable: bool,
}

/// How to make the torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// v1, v2, or hybrid (the default, as libtorrent 2 and qBittorrent make: v1
    /// clients can join, v2 clients get per-file hashes).
    pub version: Version,
    /// Bytes per piece: a power of two of at least 16 KiB; `None` picks one like
    /// libtorrent does ([`piece_length_for`]).
    pub piece_length: Option<u64>,
    /// BEP 27 `private` flag.
    pub private: bool,
    /// `source`, which private trackers set so a re-upload gets its own hash.
    pub source: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: Version::Hybrid,
            piece_length: None,
            private: false,
            source: None,
        }
    }
}

/// A made torrent's parts; [`crate::Torrent`] puts them in a `.torrent` with trackers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The info dictionary (canonical bencode).
    pub info_bytes: Vec<u8>,
    /// BEP 52 `piece layers` as a bencoded dictionary (v2 and hybrid).
    pub piece_layers: Option<Vec<u8>>,
}

/// Why a torrent could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// No files, or a single-file torrent given several.
    #[error("{0}")]
    Layout(&'static str),
    /// A name or path component that is empty, `.`, `..`, or holds `/`, `\` or NUL.
    #[error("unusable path component {0:?}")]
    BadPath(String),
    /// Two files with one path, or a file where another file's directory is.
    #[error("two files at {0:?}")]
    PathClash(String),
    /// A piece length that is not a power of two from 16 KiB to 256 MiB.
    #[error("piece length {0} is not a power of two from 16 KiB to 256 MiB")]
    PieceLength(u64),
    /// Reading file number `index` (in the order given) failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file's path, `/`-joined.
        path: String,
        /// The reader's error.
        source: io::Error,
    },
    /// A reader gave more or fewer bytes than the file's size (it changed while
    /// being hashed).
    #[error("{0} changed size while being read")]
    SizeChanged(String),
}

/// The piece length libtorrent 2 picks for `total_size` bytes: the smallest power of
/// two from 16 KiB up to 16 MiB that is at least ten times the square root of the
/// size (about 10% of the pieces' count in hash bytes, balancing .torrent size
/// against piece granularity; checked against libtorrent 2.0.8's `create_torrent`).
pub fn piece_length_for(total_size: u64) -> u64 {
    let target = u128::from(total_size) * 100;
    let mut p: u64 = 16 << 10;
    while p < 16 << 20 && u128::from(p) * u128::from(p) < target {
        p *= 2;
    }
    p
}

/// Hashes the files and writes the info dictionary.
///
/// `files` are sorted by path for v2 and hybrid torrents (the file tree's order, which
/// the v1 list must share); `open(i)` is asked for a reader of `files[i]` in that
/// order and must give exactly `files[i].size` bytes; `progress(n)` is told of every
/// `n` bytes hashed. A single-file torrent (`multi_file` false) has exactly one file,
/// named `name`.
pub fn create<R: Read>(
    name: &str,
    files: &[FileEntry],
    multi_file: bool,
    options: &Options,
    mut open: impl FnMut(usize) -> io::Result<R>,
    mut progress: impl FnMut(u64),
) -> Result<Created, CreateError> {
    if files.is_empty() {
        return Err(CreateError::Layout("no files to put in the torrent"));
    }
    if !multi_file && files.len() != 1 {
        return Err(CreateError::Layout("a single-file torrent has one file"));
    }
    check_component(name)?;
    let mut order: Vec<usize> = (0..files.len()).collect();
    let paths: Vec<Vec<String>> = if multi_file {
        for f in files {
            if f.path.is_empty() {
                return Err(CreateError::BadPath(String::new()));
            }
            f.path.iter().try_for_each(|c| check_component(c))?;
        }
        files.iter().map(|f| f.path.clone()).collect()
    } else {
        vec![vec![name.to_owned()]]
    };
    order.sort_by(|&a, &b| cmp_path(&paths[a], &paths[b]));
    for w in order.windows(2) {
        let (p, q) = (&paths[w[0]], &paths[w[1]]);
        if q.starts_with(p) {
            return Err(CreateError::PathClash(p.join("/")));
        }
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let piece_length = options
        .piece_length
        .unwrap_or_else(|| piece_length_for(total));
    if !piece_length.is_power_of_two() || !(BLOCK_SIZE..=256 << 20).contains(&piece_length) {
        return Err(CreateError::PieceLength(piece_length));
    }
    let version = options.version;
    let mut v1 = V1Hasher::new(piece_length);
    let mut made: Vec<MadeFile> = Vec::with_capacity(files.len());
    let mut buf = vec![0u8; BLOCK_SIZE as usize];
    for &i in &order {
        let f = &files[i];
        let shown = paths[i].join("/");
        let mut file = V2File::new(f.size, piece_length);
        let mut reader = open(i).map_err(|source| CreateError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut left = f.size;
        while left > 0 {
            let want = left.min(BLOCK_SIZE) as usize;
            let got =
                read_full(&mut reader, &mut buf[..want]).map_err(|source| CreateError::Io {
                    path: shown.clone(),
                    source,
                })?;
            if got < want {
                return Err(CreateError::SizeChanged(shown));
            }
            let block = &buf[..want];
            if version.has_v1() {
                v1.update(block);
            }
            if version.has_v2() {
                file.block(block);
            }
            left -= want as u64;
            progress(want as u64);
        }
        let mut probe = [0u8; 1];
        if read_full(&mut reader, &mut probe).is_ok_and(|n| n > 0) {
            return Err(CreateError::SizeChanged(shown));
        }
        // Hybrid torrents align every file to a piece (BEP 47 padding), so v1 and v2
        // pieces cover the same bytes; libtorrent 2.0 pads the last file too.
        let pad =
            if version == Version::Hybrid && multi_file && !f.size.is_multiple_of(piece_length) {
                piece_length - f.size % piece_length
            } else {
                0
            };
        v1.zeros(pad);
        made.push(MadeFile {
            path: paths[i].clone(),
            size: f.size,
            executable: f.executable,
            root: version.has_v2().then(|| file.finish()).flatten(),
            pad,
        });
    }
    let pieces = v1.finish();
    let info_bytes = write_info(name, multi_file, piece_length, &pieces, &made, options);
    let piece_layers = version.has_v2().then(|| write_layers(&made));
    Ok(Created {
        info_bytes,
        piece_layers,
    })
}

fn check_component(c: &str) -> Result<(), CreateError> {
    match path::safe_component(c.as_bytes()) {
        Some(_) => Ok(()),
        None => Err(CreateError::BadPath(c.to_owned())),
    }
}

/// Component-wise bytewise order: the order of a bencoded file tree.
fn cmp_path(a: &[String], b: &[String]) -> std::cmp::Ordering {
    a.iter()
        .map(|c| c.as_bytes())
        .cmp(b.iter().map(|c| c.as_bytes()))
}

/// Reads until `buf` is full or the reader ends; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

struct MadeFile {
    path: Vec<String>,
    size: u64,
    executable: bool,
    /// The v2 root and piece layer (the layer empty for files of one piece or less).
    root: Option<(Hash, Vec<Hash>)>,
    /// Padding bytes after the file (hybrid).
    pad: u64,
}

/// SHA-1 over the concatenated content, one hash per piece.
struct V1Hasher {
    piece_length: u64,
    in_piece: u64,
    hasher: Sha1,
    pieces: Vec<u8>,
}

impl V1Hasher {
    fn new(piece_length: u64) -> Self {
        V1Hasher {
            piece_length,
            in_piece: 0,
            hasher: Sha1::default(),
            pieces: Vec::new(),
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        use sha1::Digest as _;
        while !data.is_empty() {
            let take = ((self.piece_length - self.in_piece) as usize).min(data.len());
            self.hasher.update(&data[..take]);
            self.in_piece += take as u64;
            data = &data[take..];
            if self.in_piece == self.piece_length {
                self.flush();
            }
        }
    }

    fn zeros(&mut self, mut n: u64) {
        let zeros = [0u8; 4096];
        while n > 0 {
            let k = n.min(zeros.len() as u64);
            self.update(&zeros[..k as usize]);
            n -= k;
        }
    }

    fn flush(&mut self) {
        use sha1::Digest as _;
        let h = std::mem::take(&mut self.hasher).finalize();
        self.pieces.extend_from_slice(&h);
        self.in_piece = 0;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.in_piece > 0 {
            self.flush();
        }
        self.pieces
    }
}

/// The BEP 52 `pieces root` of a file whose whole content is `data`, in a torrent of
/// `piece_length` (a power of two, at least 16 KiB); `None` for an empty file (it has
/// none). What a fetched file is checked against when no piece layer is at hand.
pub fn v2_file_root(data: &[u8], piece_length: u64) -> Option<[u8; 32]> {
    let mut f = V2File::new(data.len() as u64, piece_length);
    for block in data.chunks(BLOCK_SIZE as usize) {
        f.block(block);
    }
    f.finish().map(|(root, _)| root)
}

/// One file's BEP 52 merkle tree, built block by block: leaves are kept for the
/// current piece only, then folded into the piece layer.
struct V2File {
    size: u64,
    blocks_per_piece: usize,
    leaves: Vec<Hash>,
    layer: Vec<Hash>,
}

impl V2File {
    fn new(size: u64, piece_length: u64) -> Self {
        V2File {
            size,
            blocks_per_piece: (piece_length / BLOCK_SIZE) as usize,
            leaves: Vec::new(),
            layer: Vec::new(),
        }
    }

    fn small(&self) -> bool {
        self.size <= self.blocks_per_piece as u64 * BLOCK_SIZE
    }

    fn block(&mut self, data: &[u8]) {
        self.leaves.push(Sha256::digest(data).into());
        if !self.small() && self.leaves.len() == self.blocks_per_piece {
            self.fold();
        }
    }

    fn fold(&mut self) {
        let root = merkle::root(&self.leaves, [0; 32], self.blocks_per_piece);
        self.layer.push(root);
        self.leaves.clear();
    }

    /// The root and the piece layer; `None` for an empty file (it has no root).
    fn finish(mut self) -> Option<(Hash, Vec<Hash>)> {
        if self.size == 0 {
            return None;
        }
        if self.small() {
            // One piece or less: the tree is as wide as the file's blocks need.
            return Some((merkle::root(&self.leaves, [0; 32], 1), Vec::new()));
        }
        if !self.leaves.is_empty() {
            self.fold();
        }
        let root = merkle::root_from_pieces(&self.layer, self.blocks_per_piece as u64);
        Some((root, self.layer))
    }
}

fn attr_for(f: &MadeFile) -> String {
    Attrs {
        executable: f.executable,
        ..Attrs::default()
    }
    .to_attr(false)
}

fn write_info(
    name: &str,
    multi_file: bool,
    piece_length: u64,
    pieces: &[u8],
    files: &[MadeFile],
    options: &Options,
) -> Vec<u8> {
    let version = options.version;
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.begin_dict();
    if !multi_file && !attr_for(&files[0]).is_empty() {
        enc.key_bytes(b"attr", attr_for(&files[0]).as_bytes());
    }
    if version.has_v2() {
        enc.bytes(b"file tree");
        write_tree(&mut enc, files, 0);
    }
    if version.has_v1() {
        if multi_file {
            enc.bytes(b"files");
            enc.begin_list();
            for f in files {
                enc.begin_dict();
                let attr = attr_for(f);
                if !attr.is_empty() {
                    enc.key_bytes(b"attr", attr.as_bytes());
                }
                enc.key_int(b"length", f.size as i64);
                enc.bytes(b"path");
                enc.begin_list();
                for c in &f.path {
                    enc.bytes(c.as_bytes());
                }
                enc.end();
                enc.end();
                if f.pad > 0 {
                    enc.begin_dict();
                    enc.key_bytes(b"attr", b"p");
                    enc.key_int(b"length", f.pad as i64);
                    enc.bytes(b"path");
                    enc.begin_list();
                    enc.bytes(b".pad");
                    enc.bytes(f.pad.to_string().as_bytes());
                    enc.end();
                    enc.end();
                }
            }
            enc.end();
        } else {
            enc.key_int(b"length", files[0].size as i64);
        }
    }
    if version.has_v2() {
        enc.key_int(b"meta version", 2);
    }
    enc.key_bytes(b"name", name.as_bytes());
    enc.key_int(b"piece length", piece_length as i64);
    if version.has_v1() {
        enc.key_bytes(b"pieces", pieces);
    }
    if options.private {
        enc.key_int(b"private", 1);
    }
    if let Some(s) = &options.source {
        enc.key_bytes(b"source", s.as_bytes());
    }
    enc.end();
    out
}

/// Writes the files (sorted, no clashes) from path component `depth` on as a BEP 52
/// file tree.
fn write_tree(enc: &mut Encoder<'_>, files: &[MadeFile], depth: usize) {
    enc.begin_dict();
    let mut rest = files;
    while let Some(first) = rest.first() {
        let key = &first.path[depth];
        let group = rest.iter().take_while(|f| &f.path[depth] == key).count();
        enc.bytes(key.as_bytes());
        if first.path.len() == depth + 1 {
            enc.begin_dict();
            enc.bytes(b"");
            enc.begin_dict();
            let attr = attr_for(first);
            if !attr.is_empty() {
                enc.key_bytes(b"attr", attr.as_bytes());
            }
            enc.key_int(b"length", first.size as i64);
            if let Some((root, _)) = &first.root {
                enc.key_bytes(b"pieces root", root);
            }
            enc.end();
            enc.end();
        } else {
            write_tree(enc, &rest[..group], depth + 1);
        }
        rest = &rest[group..];
    }
    enc.end();
}

/// The `piece layers` dictionary: each multi-piece file's root → its piece hashes,
/// keys sorted (and each root once).
fn write_layers(files: &[MadeFile]) -> Vec<u8> {
    let mut layers: Vec<(&Hash, &Vec<Hash>)> = files
        .iter()
        .filter_map(|f| f.root.as_ref())
        .filter(|(_, layer)| !layer.is_empty())
        .map(|(root, layer)| (root, layer))
        .collect();
    layers.sort_by_key(|(root, _)| *root);
    layers.dedup_by_key(|(root, _)| *root);
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out);
    enc.begin_dict();
    for (root, layer) in layers {
        enc.bytes(root);
        enc.bytes_from_chunks(layer.iter().map(|h| &h[..]), layer.len() * 32);
    }
    enc.end();
    out
}

//! The info dictionary: BEP 3 v1, BEP 52 v2 and hybrid, with BEP 27 and BEP 47.

use std::path::PathBuf;

use shoal_bencode::{decode, Value};

use crate::{invalid, merkle, path, InfoHashes, Limits, MetainfoError, Version, BLOCK_SIZE};

/// A parsed info dictionary. Build one with [`Info::parse`]; the bytes it came from are
/// what its hashes are over ([`Info::hashes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The torrent's name (the file's for a single-file torrent, the top directory's
    /// otherwise), for display: lossy UTF-8, control characters replaced (see the
    /// crate docs). [`Info::safe_name`] is the one to use as a path.
    pub name: String,
    /// `name` as the bytes in the dictionary.
    pub raw_name: Vec<u8>,
    /// Bytes per piece.
    pub piece_length: u64,
    /// BEP 27: peers come only from the tracker (`private` = 1).
    pub private: bool,
    /// Whether the torrent is a directory (v1 `files`, or a v2 `file tree` that is not
    /// a single file at its root). A single-file torrent has one file whose path is
    /// its name.
    pub multi_file: bool,
    /// The files in the order the dictionary lists them, padding files included
    /// (hybrid torrents take the v1 list and add each file's v2 root). Paths are
    /// relative to the torrent's directory, which is not part of them.
    pub files: Vec<File>,
    /// v1 piece hashes, 20 bytes each (empty for v2-only torrents).
    pub pieces: Vec<u8>,
    /// `source` (private trackers set it so a re-upload gets a new info-hash).
    pub source: Option<String>,
    version: Version,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path components for display (lossy UTF-8, control characters replaced); they
    /// may still read `..` or hold `/`: use [`File::safe_path`] for a path.
    pub path: Vec<String>,
    /// The components as the bytes in the dictionary.
    pub raw_path: Vec<Vec<u8>>,
    /// Length in bytes.
    pub size: u64,
    /// BEP 47 padding file (`attr` holding `p`, or an old-style `_____padding_file_`
    /// name): zeros that align the next file to a piece; not part of the content.
    pub padding: bool,
    /// BEP 47 attributes other than padding.
    pub attrs: Attrs,
    /// BEP 47 `symlink path` components (raw), for a symlink (`attrs.symlink`).
    pub symlink_path: Option<Vec<Vec<u8>>>,
    /// BEP 52 `pieces root`: the file's merkle root (v2 and hybrid, files with data).
    pub pieces_root: Option<[u8; 32]>,
}

/// BEP 47 file attributes (`attr`), padding aside (see [`File::padding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attrs {
    /// `x`: executable.
    pub executable: bool,
    /// `h`: hidden.
    pub hidden: bool,
    /// `l`: a symlink; its target is [`File::symlink_path`].
    pub symlink: bool,
}

impl Attrs {
    fn parse(attr: &[u8]) -> (Attrs, bool) {
        let attrs = Attrs {
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            symlink: attr.contains(&b'l'),
        };
        (attrs, attr.contains(&b'p'))
    }

    /// The BEP 47 `attr` string for these attributes plus `padding`, in libtorrent's
    /// order (`p`, `l`, `x`, `h`); empty when none is set.
    pub fn to_attr(self, padding: bool) -> String {
        let mut s = String::new();
        for (on, c) in [
            (padding, 'p'),
            (self.symlink, 'l'),
            (self.executable, 'x'),
            (self.hidden, 'h'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }
}

impl File {
    /// The path relative to the torrent's directory, usable on a file system: `None`
    /// when any component is not valid UTF-8, empty, `.`, `..`, or holds `/`, `\` or a
    /// control character such as NUL (see the crate docs).
    pub fn safe_path(&self) -> Option<PathBuf> {
        path::safe_path(&self.raw_path)
    }

    /// The path for display, components joined with `/`.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

impl Info {
    /// Parses a bare info dictionary (the metadata BEP 9 fetches) of any version.
    ///
    /// Errors: not bencode or not a dictionary, missing or mistyped keys, a piece
    /// length, `pieces` or file list that breaks BEP 3/52, a hybrid whose v1 and v2
    /// file lists differ, or anything over `limits`. Hostile paths are kept (see the
    /// crate docs).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Info, MetainfoError> {
        if bytes.len() > limits.max_info_bytes {
            return Err(MetainfoError::Limit {
                what: "info dictionary bytes",
                limit: limits.max_info_bytes as u64,
            });
        }
        let dict = decode(bytes)?;
        Info::from_value(&dict, limits)
    }

    /// The info-hashes of the info dictionary `bytes`: v1 when it has `pieces`, v2 when
    /// it says `meta version` 2. Only the top-level keys are read; the hashes are over
    /// `bytes` exactly as given.
    pub fn hashes(bytes: &[u8]) -> Result<InfoHashes, MetainfoError> {
        let dict = decode(bytes)?;
        let version = version_of(&dict)?;
        Ok(InfoHashes::compute(bytes, version))
    }

    /// Which versions the dictionary describes.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Bytes of content: every file's size, padding files excluded.
    pub fn total_size(&self) -> u64 {
        self.content().map(|f| f.size).sum()
    }

    /// Number of files, padding files excluded.
    pub fn file_count(&self) -> usize {
        self.content().count()
    }

    /// The files that are content (not padding).
    pub fn content(&self) -> impl Iterator<Item = &File> {
        self.files.iter().filter(|f| !f.padding)
    }

    /// Number of v1 pieces (v1 and hybrid), else the sum of each file's v2 pieces.
    pub fn piece_count(&self) -> u64 {
        if self.version.has_v1() {
            self.pieces.len() as u64 / 20
        } else {
            self.files
                .iter()
                .map(|f| f.size.div_ceil(self.piece_length))
                .sum()
        }
    }

    /// The name as one path component, or `None` if it is unsafe (see the crate docs).
    pub fn safe_name(&self) -> Option<&str> {
        path::safe_component(&self.raw_name)
    }

    pub(crate) fn from_value(dict: &Value<'_>, limits: &Limits) -> Result<Info, MetainfoError> {
        let version = version_of(dict)?;
        let raw_name = bytes_at(dict, "name")?.to_vec();
        check_component(&raw_name, limits)?;
        let piece_length = uint_at(dict, "piece length")?;
        let piece_ok = if version.has_v2() {
            piece_length.is_power_of_two()
                && (BLOCK_SIZE..=limits.max_piece_length).contains(&piece_length)
        } else {
            (1..=limits.max_piece_length).contains(&piece_length)
        };
        if !piece_ok {
            return Err(invalid(
                "piece length",
                if version.has_v2() {
                    "must be a power of two from 16 KiB up to the limit"
                } else {
                    "must be from 1 up to the limit"
                },
            ));
        }
        let private = match dict.get(b"private") {
            None => false,
            Some(v) => v.as_int().ok_or(MetainfoError::WrongType("private"))? == 1,
        };
        let source = match dict.get(b"source") {
            None => None,
            Some(v) => Some(path::display(
                v.as_bytes().ok_or(MetainfoError::WrongType("source"))?,
            )),
        };
        let mut counter = Counter::default();
        let (files, multi_file, pieces) = match version {
            Version::V1 | Version::Hybrid => {
                let (files, multi) = v1_files(dict, &raw_name, limits, &mut counter)?;
                let pieces = bytes_at(dict, "pieces")?;
                check_pieces(pieces, counter.total, piece_length)?;
                (files, multi, pieces.to_vec())
            }
            Version::V2 => {
                let (files, multi) = v2_files(dict, limits, &mut counter)?;
                (files, multi, Vec::new())
            }
        };
        let files = if version == Version::Hybrid {
            let mut v2_counter = Counter::default();
            let (v2, _) = v2_files(dict, limits, &mut v2_counter)?;
            merge_hybrid(files, v2)?
        } else {
            files
        };
        Ok(Info {
            name: path::display(&raw_name),
            raw_name,
            piece_length,
            private,
            multi_file,
            files,
            pieces,
            source,
            version,
        })
    }
}

/// The versions a dictionary describes, from `pieces` and `meta version`.
fn version_of(dict: &Value<'_>) -> Result<Version, MetainfoError> {
    if dict.as_dict().is_none() {
        return Err(MetainfoError::WrongType("info"));
    }
    let v1 = dict.get(b"pieces").is_some();
    let v2 = match dict.get(b"meta version") {
        None => false,
        Some(v) => match v.as_int() {
            Some(2) => true,
            Some(1) => false,
            Some(_) => return Err(invalid("meta version", "not 1 or 2")),
            None => return Err(MetainfoError::WrongType("meta version")),
        },
    };
    match (v1, v2) {
        (true, false) => Ok(Version::V1),
        (false, true) => Ok(Version::V2),
        (true, true) => Ok(Version::Hybrid),
        (false, false) => Err(MetainfoError::Missing("pieces")),
    }
}

pub(crate) fn bytes_at<'a>(dict: &Value<'a>, key: &'static str) -> Result<&'a [u8], MetainfoError> {
    dict.get(key.as_bytes())
        .ok_or(MetainfoError::Missing(key))?
        .as_bytes()
        .ok_or(MetainfoError::WrongType(key))
}

fn uint_at(dict: &Value<'_>, key: &'static str) -> Result<u64, MetainfoError> {
    let n = dict
        .get(key.as_bytes())
        .ok_or(MetainfoError::Missing(key))?
        .as_int()
        .ok_or(MetainfoError::WrongType(key))?;
    u64::try_from(n).map_err(|_| invalid(key, "negative"))
}

fn list_at<'v, 'a>(
    dict: &'v Value<'a>,
    key: &'static str,
) -> Result<&'v [Value<'a>], MetainfoError> {
    dict.get(key.as_bytes())
        .ok_or(MetainfoError::Missing(key))?
        .as_list()
        .ok_or(MetainfoError::WrongType(key))
}

/// Running totals checked against the limits as files are read.
#[derive(Default)]
struct Counter {
    files: usize,
    total: u64,
}

impl Counter {
    fn add(&mut self, size: u64, limits: &Limits) -> Result<(), MetainfoError> {
        self.files += 1;
        if self.files > limits.max_files {
            return Err(MetainfoError::Limit {
                what: "files",
                limit: limits.max_files as u64,
            });
        }
        self.total = self
            .total
            .checked_add(size)
            .filter(|t| *t <= limits.max_total_size)
            .ok_or(MetainfoError::Limit {
                what: "total size",
                limit: limits.max_total_size,
            })?;
        Ok(())
    }
}

fn check_component(c: &[u8], limits: &Limits) -> Result<(), MetainfoError> {
    if c.len() > limits.max_component_bytes {
        return Err(MetainfoError::Limit {
            what: "path component bytes",
            limit: limits.max_component_bytes as u64,
        });
    }
    Ok(())
}

fn check_path(components: &[Vec<u8>], limits: &Limits) -> Result<(), MetainfoError> {
    if components.len() > limits.max_path_components {
        return Err(MetainfoError::Limit {
            what: "path components",
            limit: limits.max_path_components as u64,
        });
    }
    let mut bytes = 0;
    for c in components {
        check_component(c, limits)?;
        bytes += c.len() + 1;
    }
    if bytes > limits.max_path_bytes + 1 {
        return Err(MetainfoError::Limit {
            what: "path bytes",
            limit: limits.max_path_bytes as u64,
        });
    }
    Ok(())
}

fn path_list(v: &Value<'_>, field: &'static str) -> Result<Vec<Vec<u8>>, MetainfoError> {
    v.as_list()
        .ok_or(MetainfoError::WrongType(field))?
        .iter()
        .map(|c| {
            c.as_bytes()
                .map(<[u8]>::to_vec)
                .ok_or(MetainfoError::WrongType(field))
        })
        .collect()
}

/// Reads `attr` and `symlink path` of a file dictionary (BEP 47) into `file`.
fn read_extras(file: &mut File, entry: &Value<'_>, limits: &Limits) -> Result<(), MetainfoError> {
    if let Some(a) = entry.get(b"attr") {
        let (attrs, padding) = Attrs::parse(a.as_bytes().ok_or(MetainfoError::WrongType("attr"))?);
        file.attrs = attrs;
        file.padding |= padding;
    }
    if let Some(v) = entry.get(b"symlink path") {
        let p = path_list(v, "symlink path")?;
        check_path(&p, limits)?;
        file.symlink_path = Some(p);
    }
    Ok(())
}

fn make_file(raw_path: Vec<Vec<u8>>, size: u64) -> File {
    File {
        path: raw_path.iter().map(|c| path::display(c)).collect(),
        raw_path,
        size,
        padding: false,
        attrs: Attrs::default(),
        symlink_path: None,
        pieces_root: None,
    }
}

/// The v1 file list (`length` or `files`) and whether it is multi-file.
fn v1_files(
    dict: &Value<'_>,
    name: &[u8],
    limits: &Limits,
    counter: &mut Counter,
) -> Result<(Vec<File>, bool), MetainfoError> {
    match (dict.get(b"length"), dict.get(b"files")) {
        (Some(_), None) => {
            let size = uint_at(dict, "length")?;
            counter.add(size, limits)?;
            let mut file = make_file(vec![name.to_vec()], size);
            read_extras(&mut file, dict, limits)?;
            if file.padding {
                return Err(invalid("attr", "a single-file torrent cannot be padding"));
            }
            Ok((vec![file], false))
        }
        (None, Some(_)) => {
            let list = list_at(dict, "files")?;
            if list.len() > limits.max_files {
                return Err(MetainfoError::Limit {
                    what: "files",
                    limit: limits.max_files as u64,
                });
            }
            let mut files = Vec::with_capacity(list.len());
            for entry in list {
                if entry.as_dict().is_none() {
                    return Err(MetainfoError::WrongType("files"));
                }
                let size = uint_at(entry, "length")?;
                counter.add(size, limits)?;
                let raw_path = path_list(
                    entry.get(b"path").ok_or(MetainfoError::Missing("path"))?,
                    "path",
                )?;
                if raw_path.is_empty() {
                    return Err(invalid("path", "empty"));
                }
                check_path(&raw_path, limits)?;
                // Before BEP 47, BitComet named its padding files this way.
                let old_pad = raw_path
                    .last()
                    .is_some_and(|c| c.starts_with(b"_____padding_file_"));
                let mut file = make_file(raw_path, size);
                file.padding = old_pad;
                read_extras(&mut file, entry, limits)?;
                files.push(file);
            }
            Ok((files, true))
        }
        (Some(_), Some(_)) => Err(invalid("files", "both `length` and `files`")),
        (None, None) => Err(MetainfoError::Missing("files")),
    }
}

/// `pieces` holds one 20-byte hash per piece of `total` bytes (padding included).
fn check_pieces(pieces: &[u8], total: u64, piece_length: u64) -> Result<(), MetainfoError> {
    if !pieces.len().is_multiple_of(20) {
        return Err(invalid("pieces", "length is not a multiple of 20"));
    }
    if pieces.len() as u64 / 20 != total.div_ceil(piece_length) {
        return Err(invalid("pieces", "count does not match the total size"));
    }
    Ok(())
}

/// The v2 `file tree` in dictionary order, and whether it is multi-file (anything but
/// one file at the root).
fn v2_files(
    dict: &Value<'_>,
    limits: &Limits,
    counter: &mut Counter,
) -> Result<(Vec<File>, bool), MetainfoError> {
    let tree = dict
        .get(b"file tree")
        .ok_or(MetainfoError::Missing("file tree"))?;
    let mut files = Vec::new();
    let mut stack = Vec::new();
    walk_tree(tree, &mut stack, &mut files, limits, counter)?;
    if files.is_empty() {
        return Err(invalid("file tree", "no files"));
    }
    let single = files.len() == 1 && files[0].raw_path.len() == 1;
    Ok((files, !single))
}

fn walk_tree(
    node: &Value<'_>,
    stack: &mut Vec<Vec<u8>>,
    files: &mut Vec<File>,
    limits: &Limits,
    counter: &mut Counter,
) -> Result<(), MetainfoError> {
    let entries = node
        .as_dict()
        .ok_or(MetainfoError::WrongType("file tree"))?;
    if let Some(leaf) = node.get(b"") {
        if entries.len() != 1 || stack.is_empty() {
            return Err(invalid("file tree", "a file node with other keys"));
        }
        if leaf.as_dict().is_none() {
            return Err(MetainfoError::WrongType("file tree"));
        }
        let size = uint_at(leaf, "length")?;
        counter.add(size, limits)?;
        let pieces_root = match leaf.get(b"pieces root") {
            Some(r) => {
                let r = r
                    .as_bytes()
                    .ok_or(MetainfoError::WrongType("pieces root"))?;
                Some(<[u8; 32]>::try_from(r).map_err(|_| invalid("pieces root", "not 32 bytes"))?)
            }
            None if size > 0 => return Err(MetainfoError::Missing("pieces root")),
            None => None,
        };
        let mut file = make_file(stack.clone(), size);
        read_extras(&mut file, leaf, limits)?;
        file.pieces_root = pieces_root.filter(|_| size > 0);
        files.push(file);
        return Ok(());
    }
    for (key, child) in entries {
        stack.push(key.to_vec());
        check_path(stack, limits)?;
        walk_tree(child, stack, files, limits, counter)?;
        stack.pop();
    }
    Ok(())
}

/// A hybrid's v1 list with each content file's v2 root; the content files of both
/// lists must be the same, in the same order.
fn merge_hybrid(mut v1: Vec<File>, v2: Vec<File>) -> Result<Vec<File>, MetainfoError> {
    let mut v2 = v2.into_iter();
    for f in v1.iter_mut().filter(|f| !f.padding) {
        let other = v2
            .next()
            .ok_or(invalid("file tree", "fewer files than the v1 list"))?;
        if other.raw_path != f.raw_path || other.size != f.size {
            return Err(invalid("file tree", "differs from the v1 file list"));
        }
        f.pieces_root = other.pieces_root;
    }
    if v2.next().is_some() {
        return Err(invalid("file tree", "more files than the v1 list"));
    }
    Ok(v1)
}

/// Checks a v2 `piece layers` dictionary against the files' roots: every file longer
/// than a piece needs its layer, whose merkle root is its `pieces root`.
pub(crate) fn check_piece_layers(info: &Info, layers: &Value<'_>) -> Result<(), MetainfoError> {
    let blocks_per_piece = info.piece_length / BLOCK_SIZE;
    if layers.as_dict().is_none() {
        return Err(MetainfoError::WrongType("piece layers"));
    }
    for f in &info.files {
        let Some(root) = f.pieces_root else { continue };
        if f.size <= info.piece_length {
            continue;
        }
        let layer = layers
            .get(&root)
            .ok_or(invalid("piece layers", "a file's layer is missing"))?
            .as_bytes()
            .ok_or(MetainfoError::WrongType("piece layers"))?;
        if layer.len() as u64 != f.size.div_ceil(info.piece_length) * 32 {
            return Err(invalid(
                "piece layers",
                "a layer's length does not fit its file",
            ));
        }
        let hashes: Vec<merkle::Hash> = layer
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or_default())
            .collect();
        if merkle::root_from_pieces(&hashes, blocks_per_piece) != root {
            return Err(invalid("piece layers", "a layer does not hash to its root"));
        }
    }
    Ok(())
}

/// The info dictionary `info_bytes` with BEP 27's `private` set to 1 (and `source` set
/// when given, as private trackers do so that the same files uploaded elsewhere get
/// another info-hash): the other keys and their bytes unchanged, keys in order. A
/// dictionary already marked private with that source comes back as it was.
///
/// Errors: `info_bytes` is not one bencoded dictionary.
pub fn with_private_flag<'a>(
    info_bytes: &'a [u8],
    source: Option<&'a str>,
) -> Result<Vec<u8>, MetainfoError> {
    let value = shoal_bencode::decode(info_bytes)?;
    let shoal_bencode::Value::Dict(mut entries) = value else {
        return Err(MetainfoError::WrongType("info"));
    };
    let mut set = |key: &'static [u8], v: shoal_bencode::Value<'a>| {
        entries.retain(|(k, _)| *k != key);
        let at = entries.partition_point(|(k, _)| *k < key);
        entries.insert(at, (key, v));
    };
    set(b"private", shoal_bencode::Value::Int(1));
    if let Some(s) = source {
        set(b"source", shoal_bencode::Value::Bytes(s.as_bytes()));
    }
    Ok(shoal_bencode::Value::Dict(entries).encode())
}

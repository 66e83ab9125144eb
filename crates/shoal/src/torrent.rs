//! `shoal torrent show|create|magnet`: .torrent files and magnet links on the command
//! line, with the metainfo crate.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use shoal_metainfo::create::{self, CreateError, FileEntry, Options};
use shoal_metainfo::{to_hex, InfoHashes, Limits, Magnet, Torrent, Version};

use crate::Failure;

#[derive(clap::Subcommand)]
pub enum TorrentCommand {
    /// Print a .torrent's or a magnet link's name, size, files, piece length,
    /// info-hashes, trackers and private flag.
    Show(ShowArgs),
    /// Make a .torrent of a file or directory.
    Create(CreateArgs),
    /// Print a .torrent's magnet link.
    Magnet(MagnetArgs),
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// A .torrent file or a magnet link (magnet:?xt=…).
    #[arg(value_name = "FILE|MAGNET")]
    input: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("version").args(["v1", "v2", "hybrid"]))]
pub struct CreateArgs {
    /// The file or directory to make a torrent of.
    path: PathBuf,
    /// Tracker announce URL (repeatable; each is its own tier).
    #[arg(long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// A v1-only torrent (BEP 3): SHA-1 pieces, readable by every client.
    #[arg(long)]
    v1: bool,
    /// A v2-only torrent (BEP 52): per-file SHA-256 merkle trees.
    #[arg(long)]
    v2: bool,
    /// A hybrid v1+v2 torrent (the default, as libtorrent 2 and qBittorrent make:
    /// v1 clients can join and v2 clients get per-file hashes).
    #[arg(long)]
    hybrid: bool,
    /// Set the private flag (BEP 27): peers only from the tracker.
    #[arg(long)]
    private: bool,
    /// Bytes per piece: a power of two from 16 KiB to 256 MiB, in bytes or with a
    /// K/M suffix (16K, 4M). Default: chosen from the total size as libtorrent does.
    #[arg(long, value_name = "N", value_parser = parse_size)]
    piece_length: Option<u64>,
    /// A comment to put in the torrent.
    #[arg(long)]
    comment: Option<String>,
    /// A `source` tag (private trackers use it to give re-uploads their own hash).
    #[arg(long)]
    source: Option<String>,
    /// Where to write the .torrent (default: NAME.torrent here). An existing file is
    /// not overwritten.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct MagnetArgs {
    /// The .torrent file.
    file: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, mult) = match s.trim_end_matches(['i', 'B']).char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or a number with K or M)"))
}

pub fn run(cmd: TorrentCommand) -> Result<(), Failure> {
    match cmd {
        TorrentCommand::Show(a) => show(a),
        TorrentCommand::Create(a) => create(a),
        TorrentCommand::Magnet(a) => {
            let t = read_torrent(&a.file)?;
            println!("{}", Magnet::from_torrent(&t));
            Ok(())
        }
    }
}

fn read_torrent(path: &Path) -> Result<Torrent, Failure> {
    let bytes = fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    Torrent::parse(&bytes, &Limits::default())
        .map_err(|e| Failure::Usage(format!("{} is not a valid .torrent: {e}", path.display())))
}

/// Control characters out of text bound for a terminal (names come from strangers).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn hex_or_null<const N: usize>(h: Option<[u8; N]>) -> Value {
    h.map_or(Value::Null, |h| Value::String(to_hex(&h)))
}

fn hash_lines(h: &InfoHashes) {
    if let Some(v1) = h.v1 {
        println!("info-hash v1: {}", to_hex(&v1));
    }
    if let Some(v2) = h.v2 {
        println!("info-hash v2: {}", to_hex(&v2));
        if h.v1.is_none() {
            println!("  truncated:  {}", to_hex(&h.tracker_hash()));
        }
    }
}

fn show(a: ShowArgs) -> Result<(), Failure> {
    if a.input
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        let m =
            Magnet::parse(&a.input).map_err(|e| Failure::Usage(format!("{:?}: {e}", a.input)))?;
        if a.json {
            let out = json!({
                "name": m.name,
                "size": m.size,
                "info_hash_v1": hex_or_null(m.info_hashes.v1),
                "info_hash_v2": hex_or_null(m.info_hashes.v2),
                "tracker_hash": to_hex(&m.info_hashes.tracker_hash()),
                "trackers": m.trackers,
            });
            println!("{out}");
        } else {
            println!("name: {}", clean(m.name.as_deref().unwrap_or("(none)")));
            if let Some(size) = m.size {
                println!("size: {size} bytes");
            }
            hash_lines(&m.info_hashes);
            for t in &m.trackers {
                println!("tracker: {}", clean(t));
            }
        }
        return Ok(());
    }
    let t = read_torrent(Path::new(&a.input))?;
    let info = &t.info;
    let h = t.hashes();
    let version = match info.version() {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::Hybrid => "hybrid",
    };
    if a.json {
        let files: Vec<Value> = info
            .content()
            .map(|f| json!({ "path": f.path, "size": f.size }))
            .collect();
        let out = json!({
            "name": info.name,
            "size": info.total_size(),
            "file_count": info.file_count(),
            "piece_length": info.piece_length,
            "pieces": info.piece_count(),
            "private": info.private,
            "version": version,
            "info_hash_v1": hex_or_null(h.v1),
            "info_hash_v2": hex_or_null(h.v2),
            "tracker_hash": to_hex(&h.tracker_hash()),
            "trackers": t.trackers(),
            "web_seeds": t.url_list,
            "comment": t.comment,
            "created_by": t.created_by,
            "creation_date": t.creation_date,
            "files": files,
        });
        println!("{out}");
        return Ok(());
    }
    println!("name: {}", clean(&info.name));
    println!(
        "size: {} bytes in {} files",
        info.total_size(),
        info.file_count()
    );
    println!(
        "pieces: {} of {} bytes ({version})",
        info.piece_count(),
        info.piece_length
    );
    println!("private: {}", if info.private { "yes" } else { "no" });
    hash_lines(&h);
    for tr in t.trackers() {
        println!("tracker: {}", clean(tr));
    }
    for w in &t.url_list {
        println!("web seed: {}", clean(w));
    }
    if let Some(c) = &t.comment {
        println!("comment: {}", clean(c));
    }
    println!("files:");
    for f in info.content() {
        println!("  {} ({} bytes)", clean(&f.display_path()), f.size);
    }
    Ok(())
}

/// A file found under the directory: path components and where it is.
struct Found {
    entry: FileEntry,
    at: PathBuf,
}

/// Every regular file under `dir` (symlinks to files followed, to directories not),
/// each directory's entries in name order.
fn walk(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<Found>) -> Result<(), Failure> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Failure::Runtime(format!("cannot list {}: {e}", dir.display())))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let at = e.path();
        let name = e
            .file_name()
            .into_string()
            .map_err(|n| Failure::Usage(format!("{:?}: file name is not UTF-8", dir.join(n))))?;
        let link = e.file_type().is_ok_and(|t| t.is_symlink());
        let meta = fs::metadata(&at)
            .map_err(|err| Failure::Runtime(format!("cannot read {}: {err}", at.display())))?;
        prefix.push(name);
        if meta.is_dir() && !link {
            walk(&at, prefix, out)?;
        } else if meta.is_file() {
            out.push(Found {
                entry: FileEntry {
                    path: prefix.clone(),
                    size: meta.len(),
                    executable: executable(&meta),
                },
                at,
            });
        }
        prefix.pop();
    }
    Ok(())
}

fn executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

fn create(a: CreateArgs) -> Result<(), Failure> {
    let version = if a.v1 {
        Version::V1
    } else if a.v2 {
        Version::V2
    } else {
        Version::Hybrid
    };
    let root = fs::canonicalize(&a.path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", a.path.display())))?;
    let name = root
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Failure::Usage(format!("{}: no usable name", a.path.display())))?
        .to_owned();
    let meta = fs::metadata(&root)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", a.path.display())))?;
    let multi_file = meta.is_dir();
    let found = if multi_file {
        let mut out = Vec::new();
        walk(&root, &mut Vec::new(), &mut out)?;
        if out.is_empty() {
            return Err(Failure::Usage(format!(
                "{}: no files in it",
                a.path.display()
            )));
        }
        out
    } else {
        vec![Found {
            entry: FileEntry {
                path: vec![name.clone()],
                size: meta.len(),
                executable: executable(&meta),
            },
            at: root.clone(),
        }]
    };
    let output = a
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{name}.torrent")));
    if output.exists() {
        return Err(Failure::Usage(format!(
            "{} exists; not overwriting it",
            output.display()
        )));
    }
    let options = Options {
        version,
        piece_length: a.piece_length,
        private: a.private,
        source: a.source,
    };
    let entries: Vec<FileEntry> = found.iter().map(|f| f.entry.clone()).collect();
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let bar = crate::progress_bar(
        total,
        "hashing {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    );
    let made = create::create(
        &name,
        &entries,
        multi_file,
        &options,
        |i| fs::File::open(&found[i].at),
        |n| bar.inc(n),
    )
    .map_err(|e| match e {
        CreateError::Io { .. } | CreateError::SizeChanged(_) => Failure::Runtime(e.to_string()),
        e => Failure::Usage(e.to_string()),
    })?;
    bar.finish_and_clear();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let torrent = Torrent {
        announce: a.trackers.first().cloned(),
        announce_list: if a.trackers.len() > 1 {
            a.trackers.iter().map(|t| vec![t.clone()]).collect()
        } else {
            Vec::new()
        },
        comment: a.comment,
        created_by: Some(concat!("shoal/", env!("CARGO_PKG_VERSION")).to_owned()),
        creation_date: Some(now),
        piece_layers: made.piece_layers,
        ..Torrent::from_info_bytes(made.info_bytes, &Limits::default())
            .map_err(|e| Failure::Runtime(format!("made an unreadable torrent: {e}")))?
    };
    fs::write(&output, torrent.write())
        .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", output.display())))?;
    println!("wrote {}", output.display());
    hash_lines(&torrent.hashes());
    Ok(())
}

//! The access list's files: the operator's list (watched and reloaded when it changes)
//! and the entries added through the admin API (persisted in the data dir).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use shoal_engine::access::{parse_access_file, AccessMode};
use shoal_engine::{Engine, InfoHash};

use crate::config::AccessListMode;

/// Where admin-API entries are kept, one hex info-hash per line.
pub fn api_file(data_dir: &Path) -> PathBuf {
    data_dir.join("access-list.api")
}

/// The engine's mode for the configured one.
pub fn mode(m: AccessListMode) -> AccessMode {
    match m {
        AccessListMode::Off => AccessMode::Off,
        AccessListMode::Allow => AccessMode::Allow,
        AccessListMode::Deny => AccessMode::Deny,
    }
}

/// Reads the operator's file into the engine. Bad lines are reported with their numbers
/// and skipped; an unreadable file keeps the previous list. Returns whether it loaded.
pub fn reload_file(engine: &Engine, path: &Path) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read access list; keeping the previous one");
            return false;
        }
    };
    let (hashes, bad) = parse_access_file(&text);
    for b in &bad {
        tracing::warn!(path = %path.display(), line = b.line, text = %b.text, "access list: not a 40-digit hex info-hash; line skipped");
    }
    let n = hashes.len();
    engine.update_access_list(|l| l.file = hashes);
    tracing::info!(path = %path.display(), entries = n, bad_lines = bad.len(), "access list loaded");
    true
}

/// Loads the admin-API entries saved earlier.
pub fn load_api_entries(engine: &Engine, data_dir: &Path) {
    let path = api_file(data_dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let (hashes, bad) = parse_access_file(&text);
    for b in &bad {
        tracing::warn!(path = %path.display(), line = b.line, "admin access-list file: bad line skipped");
    }
    engine.update_access_list(|l| l.api = hashes);
}

/// Writes the admin-API entries atomically (temporary file, fsync, rename), so a crash
/// never leaves half a list.
pub fn save_api_entries(data_dir: &Path, entries: &HashSet<InfoHash>) -> std::io::Result<()> {
    use std::io::Write;
    let path = api_file(data_dir);
    let tmp = path.with_extension("api.tmp");
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort();
    let mut text = String::from("# access-list entries added through the admin API\n");
    for h in sorted {
        text.push_str(&h.to_hex());
        text.push('\n');
    }
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// A file's modification time and size: what the watcher compares.
pub type Stamp = Option<(SystemTime, u64)>;

/// The file's current [`Stamp`]. Take it *before* reading the file, so a change made
/// while it is read is seen as a change.
pub fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Watches the operator's file and reloads it when its modification time or size
/// differs from `last` (checked every `every`), until `shutdown`.
pub fn watch(
    engine: &Engine,
    path: &Path,
    mut last: Stamp,
    every: Duration,
    shutdown: &AtomicBool,
) {
    let tick = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while !shutdown.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        waited += tick;
        if waited < every {
            continue;
        }
        waited = Duration::ZERO;
        let now = stamp(path);
        if now != last && now.is_some() {
            last = now;
            reload_file(engine, path);
        }
    }
}

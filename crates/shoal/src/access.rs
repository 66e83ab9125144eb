//! The operator's access-list file: loaded at start, watched and reloaded when it
//! changes. (Entries added through the admin API live in the store.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use shoal_engine::access::{parse_access_file, AccessMode};
use shoal_engine::Engine;

use shoal_node::config::AccessListMode;

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

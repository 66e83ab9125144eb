//! A seeder on 127.0.0.1 (tests/e2e/libtorrent_seed.py: libtorrent, Transmission or
//! aria2) for the metadata tests of this crate, of `shoal metadata fetch` and of the
//! catalog (crates/shoal/tests/metadata.rs and catalog.rs include this file by path).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running seeder; it exits when its stdin closes (on drop).
pub struct Seeder {
    child: Child,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// The v1 info-hash in hex, for v1 and hybrid torrents.
    pub v1: Option<String>,
    /// The v2 info-hash (64 hex digits), for v2 and hybrid torrents.
    pub v2: Option<String>,
    /// The .torrent libtorrent wrote.
    pub torrent: PathBuf,
    /// The torrent's name.
    pub name: String,
}

impl Seeder {
    /// Seeds a `kind` (v1, v2, hybrid) torrent of `files` files (0: one file) named
    /// `name`, written under `dir`, with libtorrent, announcing to no tracker.
    pub fn start(dir: &Path, kind: &str, files: usize, name: &str) -> Seeder {
        Self::start_with(dir, kind, files, name, None, "libtorrent")
    }

    /// [`Seeder::start`] with `client` (libtorrent, transmission, aria2; the last two
    /// seed v1 torrents only) announcing to `tracker` when given.
    pub fn start_with(
        dir: &Path,
        kind: &str,
        files: usize,
        name: &str,
        tracker: Option<&str>,
        client: &str,
    ) -> Seeder {
        Self::start_paths(dir, kind, files, name, &[], tracker, client)
    }

    /// [`Seeder::start_with`] of a folder holding exactly `paths` (relative,
    /// `/`-separated) when not empty.
    pub fn start_paths(
        dir: &Path,
        kind: &str,
        files: usize,
        name: &str,
        paths: &[&str],
        tracker: Option<&str>,
        client: &str,
    ) -> Seeder {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/e2e/libtorrent_seed.py"
        );
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg("--dir")
            .arg(dir)
            .args([
                "--kind",
                kind,
                "--files",
                &files.to_string(),
                "--name",
                name,
                "--client",
                client,
            ])
            .args(tracker.map(|t| ["--tracker", t]).into_iter().flatten())
            .args(
                (!paths.is_empty())
                    .then(|| ["--paths".to_owned(), serde_json::to_string(paths).unwrap()])
                    .into_iter()
                    .flatten(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run /usr/bin/python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("seeder said {line:?}: {e}"));
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        Seeder {
            port: v["port"].as_u64().unwrap() as u16,
            v1: s("v1"),
            v2: s("v2"),
            torrent: s("torrent").unwrap().into(),
            name: s("name").unwrap(),
            child,
        }
    }
}

impl Drop for Seeder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Whether python3-libtorrent is installed.
pub fn have_libtorrent() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

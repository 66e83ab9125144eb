//! Real BitTorrent clients from python3-libtorrent (tests/e2e/*.py): a seeder and
//! leechers that find each other only through the tracker they are given.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const E2E: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/e2e");

/// Whether python3-libtorrent is there (see [`super::e2e_tool`]).
pub fn libtorrent_or_skip() -> bool {
    super::e2e_tool(
        super::python_has("libtorrent"),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    )
}

/// tests/e2e/libtorrent_seed.py with `args`, once it seeds: the process (it sends its
/// stopped announce, with its final totals, when its stdin is dropped) and its JSON line.
pub fn seeder(args: &[&OsStr]) -> (Child, serde_json::Value) {
    use std::io::{BufRead, BufReader};
    let mut seeder = Command::new("/usr/bin/python3")
        .arg(format!("{E2E}/libtorrent_seed.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(seeder.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // It says nothing more until asked (see [`reannounce`]).
    seeder.stdout = Some(out.into_inner());
    let seeded =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("seeder said {line:?}: {e}"));
    (seeder, seeded)
}

/// Makes a [`seeder`] announce now, with its totals so far; returns the payload bytes it
/// had uploaded once the tracker answered.
pub fn reannounce(seeder: &mut Child) -> u64 {
    use std::io::{BufRead, BufReader, Write};
    let stdin = seeder.stdin.as_mut().expect("the seeder's stdin");
    stdin.write_all(b"announce\n").unwrap();
    stdin.flush().unwrap();
    let mut out = BufReader::new(seeder.stdout.take().expect("the seeder's stdout"));
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    seeder.stdout = Some(out.into_inner());
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("seeder said {line:?}: {e}"));
    assert_eq!(v["announced"], true, "the tracker answered the seeder: {v}");
    v["uploaded"].as_u64().unwrap()
}

/// What tests/e2e/libtorrent_leech.py moved, in payload bytes.
pub struct Leeched {
    pub moved: u64,
    pub piece: u64,
}

/// Downloads `torrent` into `dir` with libtorrent, announcing only to `tracker`.
pub fn leech(torrent: &Path, tracker: &str, dir: &Path) -> Leeched {
    finish_leech(spawn_leech(torrent, tracker, dir, 0))
}

/// Starts the download of [`leech`] (at most `rate_kib` KiB/s, 0: no limit) without
/// waiting for it; [`finish_leech`] waits.
pub fn spawn_leech(torrent: &Path, tracker: &str, dir: &Path, rate_kib: u32) -> Child {
    Command::new("/usr/bin/python3")
        .arg(format!("{E2E}/libtorrent_leech.py"))
        .arg("--torrent")
        .arg(torrent)
        .args(["--tracker", tracker])
        .arg("--dir")
        .arg(dir)
        .args(["--rate-kib", &rate_kib.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits for a leecher [`spawn_leech`] started; what it moved.
pub fn finish_leech(child: Child) -> Leeched {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the leecher did not finish");
    let leeched: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let size = leeched["size"].as_u64().unwrap();
    let moved = leeched["downloaded"].as_u64().unwrap();
    assert!(moved >= size, "libtorrent moved {moved} of {size}");
    Leeched {
        moved,
        piece: leeched["piece_length"].as_u64().unwrap(),
    }
}

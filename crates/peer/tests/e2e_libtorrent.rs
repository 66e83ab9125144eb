//! `fetch_metadata` against a real libtorrent seeder (python3-libtorrent) on 127.0.0.1:
//! v1, v2-only and hybrid torrents, the info dict checked byte for byte against the
//! `.torrent` libtorrent wrote. Skipped (printing why) without python3-libtorrent,
//! unless `E2E_REQUIRED` is set.
#![cfg(feature = "tokio")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shoal_peer::{fetch_metadata, FetchOptions, HashKind};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/e2e/libtorrent_seed.py"
);

/// Whether python3-libtorrent is there; prints `skipped: …` when not, or panics when
/// `E2E_REQUIRED` is set (to anything but empty or `0`).
fn have_libtorrent() -> bool {
    let found = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    let missing = "python3-libtorrent is not installed (apt-get install python3-libtorrent)";
    let required = std::env::var("E2E_REQUIRED").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "{missing} (E2E_REQUIRED is set)");
    eprintln!("skipped: {missing}");
    false
}

/// A running seeder; it exits when its stdin closes (on drop).
struct Seeder {
    child: Child,
    port: u16,
    v1: Option<String>,
    v2: Option<String>,
    torrent: Vec<u8>,
    dir: std::path::PathBuf,
}

impl Seeder {
    fn start(kind: &str, files: usize) -> Seeder {
        let dir = std::env::temp_dir().join(format!(
            "shoal-peer-e2e-{kind}-{files}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("/usr/bin/python3")
            .arg(SCRIPT)
            .arg("--dir")
            .arg(&dir)
            .args(["--kind", kind, "--files", &files.to_string()])
            .args(["--name", "payload ünïcode"])
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
            torrent: std::fs::read(s("torrent").unwrap()).unwrap(),
            child,
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Seeder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hash20(hex: &str) -> [u8; 20] {
    let mut out = [0; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn opts() -> FetchOptions {
    FetchOptions {
        peer_id: *b"-SH0100-e2etest00000",
        connect_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(10),
        total_timeout: Duration::from_secs(30),
        max_metadata_size: 8 << 20,
    }
}

async fn fetch_and_check(seeder: &Seeder, hash: [u8; 20], kind: HashKind) {
    let meta = fetch_metadata(seeder.addr(), hash, &opts())
        .await
        .unwrap_or_else(|e| panic!("fetch from libtorrent failed: {e} ({})", e.reason()));
    assert_eq!(meta.matched, kind);
    assert!(
        meta.client
            .as_deref()
            .is_some_and(|c| c.contains("libtorrent")),
        "{:?}",
        meta.client
    );
    assert!(
        seeder
            .torrent
            .windows(meta.info.len())
            .any(|w| w == meta.info),
        "the info dict is the .torrent's, byte for byte"
    );
    assert_eq!(shoal_peer::verify(&meta.info, &hash), Some(kind));
}

#[tokio::test]
async fn a_v1_torrent_from_libtorrent() {
    if !have_libtorrent() {
        return;
    }
    let seeder = Seeder::start("v1", 0);
    let hash = hash20(seeder.v1.as_deref().unwrap());
    fetch_and_check(&seeder, hash, HashKind::V1).await;
}

#[tokio::test]
async fn a_multi_piece_v2_only_torrent_by_its_truncated_hash() {
    if !have_libtorrent() {
        return;
    }
    let seeder = Seeder::start("v2", 500);
    assert!(seeder.v1.is_none());
    let hash = hash20(&seeder.v2.as_deref().unwrap()[..40]);
    fetch_and_check(&seeder, hash, HashKind::V2Truncated).await;
}

#[tokio::test]
async fn a_hybrid_torrent_by_either_hash() {
    if !have_libtorrent() {
        return;
    }
    let seeder = Seeder::start("hybrid", 300);
    let v1 = hash20(seeder.v1.as_deref().unwrap());
    fetch_and_check(&seeder, v1, HashKind::V1).await;
    let v2 = hash20(&seeder.v2.as_deref().unwrap()[..40]);
    fetch_and_check(&seeder, v2, HashKind::V2Truncated).await;
}

//! `fetch_metadata` against a real libtorrent seeder (python3-libtorrent) on 127.0.0.1:
//! v1, v2-only and hybrid torrents, the info dict checked byte for byte against the
//! `.torrent` libtorrent wrote. Skipped (printing why) without python3-libtorrent,
//! unless `E2E_REQUIRED` is set.
#![cfg(feature = "tokio")]

mod seeder;

use std::net::SocketAddr;
use std::time::Duration;

use seeder::Seeder;
use shoal_peer::{fetch_metadata, FetchOptions, HashKind};

/// Whether python3-libtorrent is there; prints `skipped: …` when not, or panics when
/// `E2E_REQUIRED` is set (to anything but empty or `0`).
fn have_libtorrent() -> bool {
    if seeder::have_libtorrent() {
        return true;
    }
    let missing = "python3-libtorrent is not installed (apt-get install python3-libtorrent)";
    let required = std::env::var("E2E_REQUIRED").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "{missing} (E2E_REQUIRED is set)");
    eprintln!("skipped: {missing}");
    false
}

/// A seeder in a fresh temp dir (removed afterwards).
struct Seeded {
    seeder: Seeder,
    torrent: Vec<u8>,
    dir: std::path::PathBuf,
}

impl Seeded {
    fn start(kind: &str, files: usize) -> Seeded {
        let dir = std::env::temp_dir().join(format!(
            "shoal-peer-e2e-{kind}-{files}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let seeder = Seeder::start(&dir, kind, files, "payload ünïcode");
        let torrent = std::fs::read(&seeder.torrent).unwrap();
        Seeded {
            seeder,
            torrent,
            dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.seeder.port))
    }
}

impl Drop for Seeded {
    fn drop(&mut self) {
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

async fn fetch_and_check(seeder: &Seeded, hash: [u8; 20], kind: HashKind) {
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
    let seeder = Seeded::start("v1", 0);
    let hash = hash20(seeder.seeder.v1.as_deref().unwrap());
    fetch_and_check(&seeder, hash, HashKind::V1).await;
}

#[tokio::test]
async fn a_multi_piece_v2_only_torrent_by_its_truncated_hash() {
    if !have_libtorrent() {
        return;
    }
    let seeder = Seeded::start("v2", 500);
    assert!(seeder.seeder.v1.is_none());
    let hash = hash20(&seeder.seeder.v2.as_deref().unwrap()[..40]);
    fetch_and_check(&seeder, hash, HashKind::V2Truncated).await;
}

#[tokio::test]
async fn a_hybrid_torrent_by_either_hash() {
    if !have_libtorrent() {
        return;
    }
    let seeder = Seeded::start("hybrid", 300);
    let v1 = hash20(seeder.seeder.v1.as_deref().unwrap());
    fetch_and_check(&seeder, v1, HashKind::V1).await;
    let v2 = hash20(&seeder.seeder.v2.as_deref().unwrap()[..40]);
    fetch_and_check(&seeder, v2, HashKind::V2Truncated).await;
}

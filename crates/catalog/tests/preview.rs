//! Content preview below the node: a real `Engine`, the real catalog (resolver and
//! previewer) dialing `shoal_peer::testing` seeders on 127.0.0.1 that serve real
//! torrents made by `shoal_metainfo::create`, a real `SqliteStore`, a `Catalog` driven
//! by hand. v1, hybrid and v2-only torrents; an honest seeder and one that corrupts a
//! piece of the cover.

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use shoal_catalog::preview::{path_of, Variant};
use shoal_catalog::CatalogHandle;
use shoal_engine::InfoHash;
use shoal_metainfo::Version;
use shoal_preview::Rules;
use shoal_store::{PreviewKind, PreviewState};

#[path = "support/payload.rs"]
mod payload;

use payload::{files, made, Made};

struct Rig {
    p: payload::Parts,
    dir: PathBuf,
}

impl Rig {
    fn new(tag: &str, preview: bool) -> Rig {
        let dir = std::env::temp_dir().join(format!("shoal-preview-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = preview.then(|| payload::preview_config(&dir, 1 << 30));
        Rig {
            p: payload::catalog(&dir, config),
            dir,
        }
    }
    /// Runs the catalog's jobs until `done`; panics after `limit`.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&mut Rig) -> bool) {
        let t = Instant::now();
        loop {
            self.p.catalog.take_notes();
            self.p.catalog.step();
            self.p.catalog.flush();
            if done(self) {
                return;
            }
            assert!(t.elapsed() < limit, "not done within {limit:?}");
            self.p.catalog.wait(Duration::from_millis(10));
        }
    }

    fn ask<T: Send>(&mut self, f: impl FnOnce(&CatalogHandle) -> T + Send) -> T {
        let (catalog, handle) = (&mut self.p.catalog, &self.p.handle);
        std::thread::scope(|s| {
            let asking = s.spawn(|| f(handle));
            while !asking.is_finished() {
                catalog.wait(Duration::from_millis(5));
            }
            asking.join().unwrap()
        })
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn previewed(r: &mut Rig, n: u64) -> bool {
    r.p.handle.preview_stats().unwrap().done.load(Relaxed) >= n && r.p.catalog.preview_idle()
}

/// Checks the kept preview of `m`: the cover re-encoded as valid PNGs, both texts
/// decoded, the video not kept.
fn check_kept(r: &mut Rig, m: &Made) {
    let h = InfoHash(m.hash);
    let p = r.ask(|c| c.preview(&h)).expect("a preview record");
    assert_eq!(p.state, PreviewState::Done);
    let paths: Vec<&str> = p.files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["cover.jpg", "readme.txt", "release.nfo"]);
    let (_, cover) = &p.files[0];
    assert_eq!(
        (cover.kind, cover.width, cover.height),
        (PreviewKind::Image, 400, 300)
    );
    let dir = r.dir.join("preview");
    for v in [Variant::Thumb, Variant::Full] {
        let png = std::fs::read(path_of(&dir, &cover.sha256, v)).unwrap();
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        assert!(img.width() <= 1600 && img.height() <= 1600);
        if v == Variant::Thumb {
            assert_eq!((img.width(), img.height()), (320, 240));
        }
    }
    let text = |i: usize| {
        let (_, f) = &p.files[i];
        assert_eq!(f.kind, PreviewKind::Text);
        (
            std::fs::read_to_string(path_of(&dir, &f.sha256, Variant::Text)).unwrap(),
            f.encoding.clone(),
        )
    };
    let (readme, enc) = text(1);
    assert_eq!(
        (readme.as_str(), enc.as_str()),
        ("Hello — UTF-8 readme ✓\n", "UTF-8")
    );
    let (nfo, enc) = text(2);
    assert!(nfo.contains("Релиз: фильм о море."), "{nfo:?}");
    assert_eq!(enc, "windows-1251");
    // Whole pieces only: the video's pieces beyond the one it shares are not fetched.
    assert!(p.fetched < 200 * 1024, "fetched {} bytes", p.fetched);
}

#[test]
fn v1_hybrid_and_v2_previews_are_fetched_checked_and_kept() {
    let mut r = Rig::new("kinds", true);
    let f = files();
    let torrents: Vec<Made> = [Version::V1, Version::Hybrid, Version::V2]
        .into_iter()
        .map(|v| made(&f, v))
        .collect();
    for m in &torrents {
        r.p.seeder(m, None);
    }
    r.run_until(Duration::from_secs(30), |r| previewed(r, 3));
    for m in &torrents {
        check_kept(&mut r, m);
    }
    let s = r.p.handle.preview_stats().unwrap().clone();
    assert_eq!(s.pieces_failed.load(Relaxed), 0);
    assert_eq!(s.images.load(Relaxed), 3);
    // One cover, one readme, one .nfo: the same bytes in three torrents are kept once.
    assert_eq!(s.store_files.load(Relaxed), 3);
    let fetched = s.bytes_fetched.load(Relaxed);
    let shown = s.bytes_shown.load(Relaxed);
    assert!(
        fetched >= shown && fetched < 600 * 1024,
        "fetched {fetched}, shown {shown}"
    );
}

#[test]
fn a_corrupt_piece_drops_its_peer_and_an_honest_one_gives_the_file() {
    let mut r = Rig::new("corrupt", true);
    let m = made(&files(), Version::V1);
    // The cover's first piece, corrupt: the liar is alone in the swarm at first.
    let plan = shoal_preview::plan::plan(&m.info, &Rules::default());
    let cover = plan
        .files
        .iter()
        .find(|c| c.path.ends_with("cover.jpg"))
        .unwrap();
    let bad_piece = cover.pieces.start as u32;
    r.p.seeder(&m, Some(bad_piece));
    r.run_until(Duration::from_secs(20), |r| {
        r.p.handle
            .preview_stats()
            .unwrap()
            .pieces_failed
            .load(Relaxed)
            >= 1
    });
    assert_eq!(
        r.p.handle.preview_stats().unwrap().bad_peers.load(Relaxed),
        1
    );
    r.p.seeder(&m, None);
    // The torrent waits for another try (the liar alone gave no good piece), given once
    // the swarm has a peer not known bad.
    r.run_until(Duration::from_secs(30), |r| previewed(r, 1));
    check_kept(&mut r, &m);
    let s = r.p.handle.preview_stats().unwrap();
    assert_eq!(
        s.pieces_failed.load(Relaxed),
        1,
        "the liar was not asked again"
    );
    assert_eq!(s.partial.load(Relaxed), 0);
}

#[test]
fn with_preview_off_nothing_is_fetched() {
    let mut r = Rig::new("off", false);
    let m = made(&files(), Version::V1);
    r.p.seeder(&m, None);
    r.run_until(Duration::from_secs(20), |r| {
        r.p.handle.stats().resolved.load(Relaxed) >= 1
    });
    r.run_until(Duration::from_secs(5), |_| true);
    std::thread::sleep(Duration::from_millis(500));
    assert!(r.p.handle.preview_stats().is_none());
    assert_eq!(r.ask(|c| c.preview(&InfoHash(m.hash))), None);
    assert!(!r.dir.join("preview").exists());
}

#[test]
fn hiding_and_denying_delete_the_kept_files() {
    let mut r = Rig::new("moderation", true);
    let f = files();
    let (a, b) = (made(&f, Version::V1), made(&f, Version::Hybrid));
    r.p.seeder(&a, None);
    r.p.seeder(&b, None);
    r.run_until(Duration::from_secs(30), |r| previewed(r, 2));
    let (ha, hb) = (InfoHash(a.hash), InfoHash(b.hash));
    let pa = r.ask(|c| c.preview(&ha)).unwrap();
    let dir = r.dir.join("preview");
    let sha = |p: &shoal_store::TorrentPreview, name: &str| {
        p.files
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .unwrap()
            .1
            .sha256
    };
    let (cover, nfo) = (sha(&pa, "cover.jpg"), sha(&pa, "release.nfo"));
    // The .nfo hidden in one torrent: the other still lists it, so its bytes stay.
    assert_eq!(
        r.ask(|c| c.hide_preview(&ha, Some("release.nfo"))),
        Ok(Some(0))
    );
    assert!(path_of(&dir, &nfo, Variant::Text).is_file());
    // The whole second torrent hidden: the .nfo is listed nowhere now.
    assert_eq!(r.ask(|c| c.hide_preview(&hb, None)), Ok(Some(1)));
    assert!(!path_of(&dir, &nfo, Variant::Text).exists());
    assert!(r.ask(|c| c.preview(&hb)).unwrap().files.is_empty());
    // The cover denied: gone from the first torrent and from the disk.
    assert_eq!(r.ask(|c| c.deny_preview(&cover, true)), Ok(true));
    assert!(!path_of(&dir, &cover, Variant::Thumb).exists());
    let left: Vec<String> = r
        .ask(|c| c.preview(&ha))
        .unwrap()
        .files
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(left, ["readme.txt"]);
    assert_eq!(
        r.ask(|c| c.preview_denied()).unwrap(),
        vec![(cover, r.ask(|c| c.preview_denied()).unwrap()[0].1)]
    );
    assert_eq!(
        r.p.handle
            .preview_stats()
            .unwrap()
            .store_files
            .load(Relaxed),
        1
    );
    // The catalog entry removed: its preview goes with it, and the readme's bytes.
    let readme = sha(&pa, "readme.txt");
    assert_eq!(r.ask(|c| c.remove(&ha)), Ok(true));
    assert_eq!(r.ask(|c| c.preview(&ha)), None);
    assert!(!path_of(&dir, &readme, Variant::Text).exists());
    assert_eq!(
        r.p.handle
            .preview_stats()
            .unwrap()
            .store_files
            .load(Relaxed),
        0
    );
}

#[test]
fn files_that_cannot_be_written_are_not_recorded_and_are_tried_again() {
    let mut r = Rig::new("unwritable", true);
    // Where the preview directory should be, a file: nothing can be written under it.
    let blocker = r.dir.join("preview");
    std::fs::write(&blocker, b"in the way").unwrap();
    let m = made(&files(), Version::V1);
    r.p.seeder(&m, None);
    r.run_until(Duration::from_secs(20), |r| {
        r.p.handle
            .preview_stats()
            .unwrap()
            .write_errors
            .load(Relaxed)
            >= 1
            && r.p.catalog.preview_idle()
    });
    let h = InfoHash(m.hash);
    assert_eq!(
        r.ask(|c| c.preview(&h)),
        None,
        "nothing recorded that is not on disk"
    );
    // Space is back: the next prune queues it again, and it is kept.
    std::fs::remove_file(&blocker).unwrap();
    r.p.catalog.prune();
    r.run_until(Duration::from_secs(20), |r| previewed(r, 1));
    check_kept(&mut r, &m);
}

#[test]
fn a_swarm_that_gives_no_piece_is_not_recorded() {
    let mut r = Rig::new("unavailable", true);
    let m = made(&files(), Version::V1);
    // A peer that serves the metadata but speaks no BEP 3 pieces (it hangs up).
    let addr = r.p.peers.block_on(shoal_peer::testing::start(
        m.hash,
        shoal_peer::testing::Peer::Honest {
            info: m.info_bytes.clone(),
        },
    ));
    r.p.announce(m.hash, addr);
    r.run_until(Duration::from_secs(30), |r| {
        r.p.handle
            .preview_stats()
            .unwrap()
            .unavailable
            .load(Relaxed)
            >= 1
    });
    let s = r.p.handle.preview_stats().unwrap().clone();
    assert_eq!(s.done.load(Relaxed), 0);
    assert!(s.sessions.load(Relaxed) >= 1);
    assert_eq!(
        r.ask(|c| c.preview(&InfoHash(m.hash))),
        None,
        "tried again when seen again"
    );
}

#[test]
fn a_file_another_node_denied_is_not_served_after_the_next_prune() {
    let mut r = Rig::new("other-node", true);
    let m = made(&files(), Version::V1);
    r.p.seeder(&m, None);
    r.run_until(Duration::from_secs(30), |r| previewed(r, 1));
    let p = r.ask(|c| c.preview(&InfoHash(m.hash))).unwrap();
    let cover = p
        .files
        .iter()
        .find(|(p, _)| p.ends_with("cover.jpg"))
        .unwrap()
        .1
        .sha256;
    assert!(r.p.handle.preview_bytes(&cover, Variant::Thumb).is_some());
    // Another node sharing the store denies it.
    let other = shoal_store::SqliteStore::open(&r.dir.join("shoal.sqlite")).unwrap();
    assert!(shoal_store::PreviewStore::deny_preview_file(&other, &cover, 1).unwrap());
    r.p.catalog.prune();
    assert!(r.p.handle.preview_bytes(&cover, Variant::Thumb).is_none());
    assert!(!r.p.handle.preview_held(&cover, Variant::Full));
    assert!(!path_of(&r.dir.join("preview"), &cover, Variant::Thumb).exists());
}

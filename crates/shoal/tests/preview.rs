//! Content preview in the real binary, with real clients: python3-libtorrent seeds a v1
//! and a hybrid torrent of the issue's payload (a 1 MiB video, a JPEG cover, a CP1251
//! `.nfo`, a UTF-8 readme), announcing only to shoal; a Rust test peer that sends a
//! corrupt piece of the cover is in the v1 swarm first. shoal must fetch the small
//! files from the swarm, drop the liar, and show the cover (re-encoded PNG) and both
//! texts (decoded) on the torrent page, under strict headers; admins hide and deny
//! files. With the preview off nothing is fetched.

mod common;

use std::time::Duration;

use common::libtorrent::{libtorrent_or_skip, seeder};
use common::preview::{file, make, rust_seeder, serve, show, wait_preview, HEADINGS, TOKEN};
use common::{admin_request, announce_cli, eventually_for, get, get_bytes, metric, temp_dir};
use serde_json::Value;

#[test]
fn seeders_give_a_checked_preview_shown_safely_on_the_torrent_page() {
    if !libtorrent_or_skip() {
        return;
    }
    let server = serve(true);
    let addr = server.http_addr(false);
    let tracker = format!("http://{addr}/announce");
    let dir = temp_dir("preview-e2e");
    let (v1_dir, hybrid_dir) = (dir.join("v1"), dir.join("hybrid"));
    let v1 = make(&v1_dir, "v1");
    let hybrid = make(&hybrid_dir, "hybrid");
    let v1_info = show(&v1);
    let v1_hex = v1_info["tracker_hash"].as_str().unwrap().to_owned();

    // A liar first: it serves the metadata honestly and the cover's first piece corrupt.
    let piece_length = v1_info["piece_length"].as_u64().unwrap();
    let cover_start = {
        let mut at = 0u64;
        let mut start = None;
        for f in v1_info["files"].as_array().unwrap() {
            let last = f["path"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap();
            if last == "cover.jpg" {
                start = Some(at);
            }
            at += f["size"].as_u64().unwrap();
        }
        start.unwrap()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let liar = rust_seeder(
        &runtime,
        &v1,
        &v1_dir,
        Some((cover_start / piece_length) as u32),
    );
    let out = announce_cli(&tracker, &v1_hex, liar.port(), "started", [0, 0, 0]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually_for("the liar's bad piece", Duration::from_secs(60), || {
        (metric(addr, "shoal_preview_pieces_total{result=\"failed\"}") >= 1).then_some(())
    });
    assert_eq!(metric(addr, "shoal_preview_bad_peers_total"), 1);

    // Honest libtorrent seeders of both torrents, announcing only to shoal.
    let tracker_arg = tracker.as_str();
    let (_s1, seeded) = seeder(&[
        "--dir".as_ref(),
        v1_dir.as_os_str(),
        "--torrent".as_ref(),
        v1.as_os_str(),
        "--tracker".as_ref(),
        tracker_arg.as_ref(),
    ]);
    assert_eq!(seeded["v1"], v1_hex.as_str());
    let (_s2, seeded) = seeder(&[
        "--dir".as_ref(),
        hybrid_dir.as_os_str(),
        "--torrent".as_ref(),
        hybrid.as_os_str(),
        "--tracker".as_ref(),
        tracker_arg.as_ref(),
    ]);
    let hybrid_hex = seeded["v1"].as_str().unwrap().to_owned();

    for hex in [&v1_hex, &hybrid_hex] {
        let p = wait_preview(&server, hex);
        let mut paths: Vec<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        paths.sort();
        assert_eq!(paths, ["cover.jpg", "readme.txt", "release.nfo"], "{p}");
        // Whole 16 KiB pieces of the small files, never the video's own.
        let fetched = p["fetched"].as_u64().unwrap();
        assert!(fetched < 160 * 1024, "fetched {fetched} bytes for {hex}");

        let cover = file(&p, "cover.jpg");
        assert_eq!(
            (
                cover["kind"].as_str(),
                cover["width"].as_u64(),
                cover["height"].as_u64()
            ),
            (Some("image"), Some(400), Some(300))
        );
        for (variant, size) in [("thumb", (320, 240)), ("full", (400, 300))] {
            let url = cover["urls"][variant].as_str().unwrap();
            let (status, head, body) = get_bytes(addr, url);
            assert_eq!(status, 200, "{url}");
            assert!(head.contains("content-type: image/png"), "{head}");
            assert!(
                head.contains("content-security-policy: default-src 'none'; sandbox"),
                "{head}"
            );
            assert!(head.contains("x-content-type-options: nosniff"), "{head}");
            let img = image::load_from_memory_with_format(&body, image::ImageFormat::Png).unwrap();
            assert_eq!((img.width(), img.height()), size, "{url}");
        }
        let nfo = file(&p, "release.nfo");
        assert_eq!(nfo["encoding"], "windows-1251");
        let (status, head, body) = get_bytes(addr, nfo["urls"]["text"].as_str().unwrap());
        assert_eq!(status, 200);
        assert!(
            head.contains("content-type: text/plain; charset=utf-8"),
            "{head}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'none'"),
            "{head}"
        );
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("Релиз: фильм о море."));
        assert_eq!(file(&p, "readme.txt")["encoding"], "UTF-8");

        // The page: a gallery of the thumbnail linking to the full copy, both texts.
        for (lang, heading) in HEADINGS {
            let (status, page) = get(addr, &format!("/torrent/{hex}?lang={lang}"));
            assert_eq!(status, 200);
            assert!(
                page.contains(&format!("id=\"h-preview\">{heading}<")),
                "{lang}: {page}"
            );
            let sha = cover["sha256"].as_str().unwrap();
            assert!(
                page.contains(&format!("href=\"/preview/{sha}/full.png\"")),
                "{page}"
            );
            assert!(
                page.contains(&format!("src=\"/preview/{sha}/thumb.png\"")),
                "{page}"
            );
            assert!(page.contains("Релиз: фильм о море."), "{page}");
            assert!(page.contains("Hello — UTF-8 readme ✓"), "{page}");
        }
    }
    // One cover, one .nfo, one readme kept, shared by both torrents.
    assert_eq!(metric(addr, "shoal_preview_store_files"), 3);
    assert_eq!(metric(addr, "shoal_preview_files_total{kind=\"image\"}"), 2);
    assert_eq!(
        metric(addr, "shoal_preview_bad_peers_total"),
        1,
        "the liar was not trusted twice"
    );
    let (_, page) = get(addr, "/preview/0123/thumb.png");
    assert_eq!(page, "no such preview file\n");
    let (status, _, _) = get_bytes(addr, &format!("/preview/{}/original.jpg", "ab".repeat(32)));
    assert_eq!(status, 404);

    // Moderation: the readme hidden in the v1 torrent stays in the hybrid's; the cover
    // denied leaves both and the disk.
    let p = wait_preview(&server, &v1_hex);
    let cover_sha = file(&p, "cover.jpg")["sha256"].as_str().unwrap().to_owned();
    let (status, body) = admin_request(
        addr,
        TOKEN,
        "POST",
        &format!("/api/admin/preview/{v1_hex}/hide"),
        r#"{"path": "readme.txt"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (_, page) = get(addr, &format!("/torrent/{v1_hex}"));
    assert!(!page.contains("Hello — UTF-8 readme"), "{page}");
    let (_, page) = get(addr, &format!("/torrent/{hybrid_hex}"));
    assert!(page.contains("Hello — UTF-8 readme"));
    let (status, body) = admin_request(
        addr,
        TOKEN,
        "POST",
        "/api/admin/preview/denied",
        &format!(r#"{{"sha256": "{cover_sha}"}}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = get_bytes(addr, &format!("/preview/{cover_sha}/thumb.png"));
    assert_eq!(status, 404, "a denied file is gone");
    let (_, page) = get(addr, &format!("/torrent/{hybrid_hex}"));
    assert!(!page.contains(&cover_sha));
    let (status, body) = admin_request(addr, TOKEN, "GET", "/api/admin/preview/denied", "");
    assert_eq!(status, 200);
    assert!(body.contains(&cover_sha), "{body}");
    let (status, _) = admin_request(
        addr,
        TOKEN,
        "POST",
        "/api/admin/preview/denied",
        r#"{"sha256": "xyz"}"#,
    );
    assert_eq!(status, 400);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_the_preview_off_nothing_is_fetched() {
    if !libtorrent_or_skip() {
        return;
    }
    let server = serve(false);
    let addr = server.http_addr(false);
    let dir = temp_dir("preview-off");
    let v1 = make(&dir, "v1");
    let tracker = format!("http://{addr}/announce");
    let (_s, seeded) = seeder(&[
        "--dir".as_ref(),
        dir.as_os_str(),
        "--torrent".as_ref(),
        v1.as_os_str(),
        "--tracker".as_ref(),
        tracker.as_str().as_ref(),
    ]);
    let hex = seeded["v1"].as_str().unwrap().to_owned();
    let v = eventually_for("the metadata", Duration::from_secs(60), || {
        let (status, body) = get(addr, &format!("/api/catalog/{hex}"));
        (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(v["preview"], Value::Null);
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        !metrics.contains("shoal_preview_"),
        "no preview metrics when it is off"
    );
    assert!(!server.data_dir.join("preview").exists());
    let (_, page) = get(addr, &format!("/torrent/{hex}"));
    assert!(!page.contains("h-preview"));
    let (status, _) = admin_request(addr, TOKEN, "GET", "/api/admin/preview/denied", "");
    assert_eq!(status, 404);
    let _ = std::fs::remove_dir_all(&dir);
}

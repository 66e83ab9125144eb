//! Catalog search in the real binary: libtorrent seeders of torrents named in English,
//! Russian, Ukrainian and Chinese announce to shoal, the catalog resolves them from
//! their swarms, and each is found through `/api/catalog/search` by a word of its
//! name, a word of a nested file path, an inflected form, a two-character Chinese word
//! and its hashes, with live seeders; removal and rebuilds keep the index equal to the
//! store. And `shoal catalog reindex` over a store written directly.

mod common;

#[path = "../../peer/tests/seeder/mod.rs"]
mod seeder;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{get, temp_dir, Server};
use seeder::Seeder;
use serde_json::Value;

const TOKEN: &str = "search-test-token-0123456789";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("shoal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[catalog]\ndial_private = true\ndials_per_address_per_minute = 600\n\
             retry_base = 1\nretry_max = 2\nconnect_timeout = 2\n[admin]\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    cfg
}

/// `/api/catalog/search?q=…` (the words percent-encoded, a trailing space so the last
/// word is whole): the info-hashes found, in order, and the whole answer.
fn search(addr: SocketAddr, params: &str) -> (Vec<String>, Value) {
    let (status, body) = get(addr, &format!("/api/catalog/search?{params}"));
    assert_eq!(status, 200, "{params}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let hashes = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["info_hash"].as_str().unwrap().to_owned())
        .collect();
    (hashes, v)
}

fn words(q: &str) -> String {
    let mut out = String::from("q=");
    for b in format!("{q} ").bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn have_libtorrent() -> bool {
    common::e2e_tool(
        seeder::have_libtorrent(),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    )
}

#[test]
fn torrents_in_four_languages_are_found_by_names_paths_and_hashes() {
    if !have_libtorrent() {
        return;
    }
    let cfg_dir = temp_dir("search-cfg");
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", config(&cfg_dir).to_str().unwrap()],
    );
    let addr = server.http_addr(false);
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let http = format!("http://{}/announce", addr);
    let dirs: Vec<_> = (0..5).map(|_| temp_dir("search-lt")).collect();
    let seeders = [
        Seeder::start_paths(
            &dirs[0],
            "hybrid",
            0,
            "Big.Buck.Bunny.2008.1080p",
            &[
                "Big.Buck.Bunny.2008.1080p.mkv",
                "Extras/Behind the scenes/Making.of.mkv",
            ],
            Some(&udp),
            "libtorrent",
        ),
        Seeder::start_paths(
            &dirs[1],
            "v1",
            0,
            "Сборник фильмов о природе",
            &["Фильмы/Глубина/Тайны океанов.mkv", "Субтитры/русские.srt"],
            Some(&http),
            "libtorrent",
        ),
        Seeder::start_paths(
            &dirs[2],
            "v1",
            0,
            "Пісні України",
            &["Народні/Червона рута.mp3"],
            Some(&udp),
            "libtorrent",
        ),
        Seeder::start_paths(
            &dirs[3],
            "v2",
            0,
            "中国电影合集",
            &["经典/大闹天宫.mkv"],
            Some(&udp),
            "libtorrent",
        ),
        Seeder::start_paths(
            &dirs[4],
            "v1",
            0,
            "The.Show.S01E02.720p.WEB",
            &["The.Show.S01E02.720p.WEB.mkv"],
            Some(&http),
            "libtorrent",
        ),
    ];
    let tracker_hash = |s: &Seeder| {
        s.v1.clone()
            .unwrap_or_else(|| s.v2.as_ref().unwrap()[..40].to_owned())
    };
    let hashes: Vec<String> = seeders.iter().map(tracker_hash).collect();
    // Each becomes searchable soon after the store has it.
    for (s, hex) in seeders.iter().zip(&hashes) {
        let stored = common::eventually_for(
            &format!("{} stored", s.name),
            Duration::from_secs(60),
            || {
                let (_, body) = get(addr, &format!("/api/catalog/{hex}"));
                serde_json::from_str::<Value>(&body)
                    .ok()
                    .filter(|v| v["name"].is_string())
            },
        );
        assert_eq!(stored["name"], s.name.as_str());
        let t = Instant::now();
        let by_hash = format!("q={hex}");
        common::eventually(&format!("{} searchable", s.name), || {
            search(addr, &by_hash).0.contains(hex).then_some(())
        });
        eprintln!(
            "{}: searchable {:?} after the store had it",
            s.name,
            t.elapsed()
        );
    }
    let find = |q: &str| search(addr, &words(q)).0;
    // A word of the name; a word only in a nested path; an inflected Russian form; a
    // Ukrainian form; a two-character Chinese word from the name and from a path.
    assert_eq!(find("bunny"), [hashes[0].clone()]);
    assert_eq!(find("scenes"), [hashes[0].clone()], "a nested path's word");
    assert_eq!(find("фильм"), [hashes[1].clone()], "фильмов meets фильм");
    assert_eq!(
        find("глубине"),
        [hashes[1].clone()],
        "a nested folder's word, inflected"
    );
    assert_eq!(
        find("тайна"),
        [hashes[1].clone()],
        "a nested file's word, inflected"
    );
    assert_eq!(find("пісня"), [hashes[2].clone()]);
    assert_eq!(find("рута"), [hashes[2].clone()]);
    assert_eq!(find("电影"), [hashes[3].clone()]);
    assert_eq!(find("天宫"), [hashes[3].clone()]);
    assert_eq!(find("s01e02"), [hashes[4].clone()]);
    assert_eq!(find("\"buck bunny\""), [hashes[0].clone()]);
    assert!(
        find("\"bunny buck\"").is_empty(),
        "a phrase keeps its order"
    );
    assert_eq!(find("bunny -scenes").len(), 0);
    // The hybrid by its v2 hash and by a magnet link.
    let v2 = seeders[0].v2.clone().unwrap();
    assert_eq!(search(addr, &format!("q={v2}")).0, [hashes[0].clone()]);
    let magnet = format!("q=magnet%3A%3Fxt%3Durn%3Abtih%3A{}", hashes[0]);
    assert_eq!(search(addr, &magnet).0, [hashes[0].clone()]);
    // Live counts from the swarms, categories from the files, filters.
    let (_, v) = search(addr, &words("bunny"));
    let hit = &v["results"][0];
    assert_eq!(hit["seeders"], 1, "{v}");
    assert_eq!(hit["category"], "video");
    assert_eq!(hit["name"], "Big.Buck.Bunny.2008.1080p");
    assert!(hit["magnet"]
        .as_str()
        .unwrap()
        .starts_with("magnet:?xt=urn:btih:"));
    let (audio, _) = search(addr, "cat=audio");
    assert_eq!(audio, [hashes[2].clone()]);
    let (all, v) = search(addr, "seeded=1&sort=name");
    assert_eq!(all.len(), 5, "{v}");
    assert_eq!(v["total"], 5);
    // Bad parameters and queries get a clear 400.
    let (status, body) = get(addr, "/api/catalog/search?sort=random");
    assert_eq!(status, 400);
    assert!(body.contains("sort"), "{body}");
    let (status, body) = get(addr, &format!("/api/catalog/search?q={}", "x".repeat(600)));
    assert_eq!(status, 400);
    assert!(body.contains("longer than"), "{body}");
    // Metrics count searches and documents.
    assert_eq!(common::metric(addr, "shoal_index_documents"), 5);
    assert!(common::metric(addr, "shoal_searches_total{reason=\"ok\"}") >= 10);

    check_feeds(addr, &hashes[4]);

    // A running server owns the index: the command says so and points at the API.
    let out = Command::new(common::BIN)
        .args(["catalog", "reindex", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/api/admin/catalog/reindex"), "{err}");
    // A rebuild through the API keeps every document.
    let (status, body) =
        common::admin_request(addr, TOKEN, "POST", "/api/admin/catalog/reindex", "");
    assert_eq!(status, 202, "{body}");
    common::eventually("rebuilt", || {
        (common::metric(addr, "shoal_index_rebuilds_total") == 1).then_some(())
    });
    assert_eq!(find("bunny"), [hashes[0].clone()]);
    // Removing an entry removes it from the index.
    let (status, body) = common::admin_request(
        addr,
        TOKEN,
        "DELETE",
        &format!("/api/admin/catalog/{}", hashes[2]),
        "",
    );
    assert_eq!(status, 200, "{body}");
    common::eventually("removed from the index", || {
        find("пісня").is_empty().then_some(())
    });
    drop(seeders);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    let _ = std::fs::remove_dir_all(cfg_dir);
}

fn entry(i: u8, name: &str, path: &str) -> shoal_store::CatalogEntry {
    shoal_store::CatalogEntry {
        info_hash: shoal_store::InfoHash([i; 20]),
        alias: None,
        info_hash_v2: None,
        name: name.into(),
        total_size: 1000,
        file_count: 1,
        piece_length: 16384,
        private: false,
        first_seen: 1_700_000_000 + u64::from(i),
        resolved_at: 1_700_000_100 + u64::from(i),
        source_peers: 1,
        last_active: 1_700_000_000,
        files: vec![(path.into(), 1000)],
        info: b"d4:name1:xe".to_vec(),
    }
}

/// The command indexes a stopped server's store; a server finds what it indexed, and
/// rebuilds the index itself when it is missing or of another version.
#[test]
fn reindex_command_and_rebuilds_at_start() {
    use shoal_store::CatalogStore;
    let data = temp_dir("reindex");
    {
        let store = shoal_store::SqliteStore::open(&data.join("shoal.sqlite")).unwrap();
        store
            .add_catalog_entries(&[
                entry(1, "Alpha Centauri Documentary", "alpha/centauri.mkv"),
                entry(2, "Beta Release Notes", "beta/notes.txt"),
                entry(3, "Gamma Ray Burst", "gamma/ray.flac"),
            ])
            .unwrap();
    }
    let out = Command::new(common::BIN)
        .args(["catalog", "reindex", "--data-dir"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("indexed 3 torrents"), "{said}");
    // A missing store is a usage error naming it.
    let empty = temp_dir("reindex-empty");
    let out = Command::new(common::BIN)
        .args(["catalog", "reindex", "--data-dir"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shoal.sqlite"));
    let _ = std::fs::remove_dir_all(empty);

    let start = || Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let expect_all = |server: &Server| {
        let addr = server.http_addr(false);
        for (q, want) in [("centauri", 1u8), ("notes", 2), ("ray", 3)] {
            let hex = hex_of(want);
            common::eventually(&format!("{q} found"), || {
                (search(addr, &words(q)).0 == [hex.clone()]).then_some(())
            });
        }
    };
    let mut server = start();
    expect_all(&server);
    server.stop_with(libc::SIGTERM);
    // Another schema version: rebuilt from the store at start.
    std::fs::write(data.join("catalog-index/shoal-index-version"), "0\n").unwrap();
    let mut server = start();
    expect_all(&server);
    server.stop_with(libc::SIGTERM);
    // No index at all: the same.
    std::fs::remove_dir_all(data.join("catalog-index")).unwrap();
    let server = start();
    expect_all(&server);
    drop(server);
}

fn hex_of(i: u8) -> String {
    format!("{i:02x}").repeat(20)
}

/// RSS and Torznab read by tests/e2e/feeds_check.py (feedparser for the RSS): the
/// `The.Show.S01E02` torrent is found by a word, by `t=tvsearch` with its season and
/// episode, with its hash, live seeders and a `.torrent` enclosure; another episode is
/// not found.
fn check_feeds(addr: SocketAddr, show: &str) {
    if !common::e2e_tool(
        common::python_has("feedparser"),
        "python3-feedparser is not installed (apt-get install python3-feedparser)",
    ) {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/feeds_check.py"
    );
    let run = |season: &str, ep: &str| -> Value {
        let out = Command::new("/usr/bin/python3")
            .args([
                script,
                &format!("http://{addr}"),
                "show",
                "--season",
                season,
                "--ep",
                ep,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run("1", "2");
    assert_eq!(v["rss"]["parser"], "feedparser", "{v}");
    let items = v["rss"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["title"], "The.Show.S01E02.720p.WEB");
    assert_eq!(items[0]["infohash"], show);
    assert_eq!(items[0]["enclosure"]["type"], "application/x-bittorrent");
    let enclosure = items[0]["enclosure"]["url"].as_str().unwrap();
    assert!(
        enclosure.ends_with(&format!("/torrent/{show}.torrent")),
        "{enclosure}"
    );
    assert!(
        items[0]["enclosure"]["length"].as_u64().unwrap() > 100,
        "{v}"
    );
    assert!(items[0]["magnet"].as_str().unwrap().contains(show), "{v}");
    for search in ["torznab_search", "torznab_tvsearch"] {
        let items = v[search]["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{search}: {v}");
        assert_eq!(items[0]["infohash"], show);
        assert_eq!(items[0]["seeders"], 1, "{search}: {v}");
        assert_eq!(items[0]["category"], 5000, "{search}: {v}");
    }
    let v = run("1", "3");
    assert_eq!(
        v["torznab_tvsearch"]["items"].as_array().unwrap().len(),
        0,
        "{v}"
    );
}

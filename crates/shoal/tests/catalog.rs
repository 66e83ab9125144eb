//! The catalog in the real binary: torrents seeded by real clients (libtorrent v1, v2
//! and hybrid, Transmission, aria2) announce to shoal over UDP and HTTP, and their name,
//! size and files appear in `/api/torrents/<hex>` and on `/torrent/<hex>` as their
//! `.torrent` holds them; `shoal metadata fetch` rebuilds each `.torrent`. And the admin
//! API that removes (and denies) an entry, on a torrent served by a Rust test peer.

mod common;

#[path = "../../peer/tests/seeder/mod.rs"]
mod seeder;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{get, shoal, temp_dir, Server};
use seeder::Seeder;
use serde_json::Value;
use shoal_client::{AnnounceEvent, AnnounceParams, ClientError, ClientOptions, InfoHash, Tracker};
use shoal_peer::testing::{info_dict, sha1, start, Peer};

const TOKEN: &str = "catalog-test-token-0123456789";

/// shoal with UDP and HTTP on 127.0.0.1, dialing loopback peers, retrying after a
/// second, with the admin API and the given access-list mode.
fn serve(mode: &str) -> Server {
    serve_dialing(mode, true)
}

fn serve_dialing(mode: &str, dial_private: bool) -> Server {
    let dir = temp_dir("catalog-cfg");
    let cfg = dir.join("shoal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[catalog]\ndial_private = {dial_private}\ndials_per_address_per_minute = 600\n\
             retry_base = 1\nretry_max = 2\nconnect_timeout = 2\n[admin]\ntoken = \"{TOKEN}\"\n[access_list]\nmode = \"{mode}\"\n"
        ),
    )
    .unwrap();
    Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    )
}

fn api_torrent(addr: SocketAddr, hex: &str) -> Value {
    let (status, body) = get(addr, &format!("/api/torrents/{hex}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `/api/torrents/<hex>` once the catalog has resolved it (polled for up to `limit`).
fn wait_resolved(server: &Server, hex: &str, limit: Duration) -> (Value, Duration) {
    let addr = server.http_addr(false);
    let t = Instant::now();
    loop {
        let v = api_torrent(addr, hex);
        if v.get("name").is_some() {
            return (v, t.elapsed());
        }
        if t.elapsed() > limit {
            let (_, stats) = get(addr, "/api/stats");
            panic!(
                "{hex} not resolved within {limit:?}: {v}\nstats: {stats}\nlog: {:#?}",
                server.drain_log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn announce(url: &str, hash: [u8; 20], port: u16, left: u64) -> Result<usize, ClientError> {
    let mut t = Tracker::open(url, ClientOptions::default())?;
    t.announce(&AnnounceParams {
        info_hash: InfoHash(hash),
        peer_id: shoal_client::random_peer_id(),
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        num_want: None,
        key: 0,
    })
    .map(|r| r.peers.len())
}

/// `shoal torrent show --json FILE`.
fn torrent_show(file: &Path) -> Value {
    let out = shoal(&["torrent", "show", "--json", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// How the API and the page show a file: its path joined with `/`, or the torrent's name
/// for a single-file torrent.
fn shown_files(t: &Value) -> Vec<(String, u64)> {
    t["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let parts: Vec<&str> = f["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            let path = if parts.is_empty() {
                t["name"].as_str().unwrap().to_owned()
            } else {
                parts.join("/")
            };
            (path, f["size"].as_u64().unwrap())
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The catalog's entry for `hex` (the tracker's hash of the torrent in `torrent`) is
/// what the `.torrent` holds, in the API and on the torrent's page; returns how long it
/// took to appear.
fn check_entry(server: &Server, hex: &str, torrent: &Path) -> Duration {
    let want = torrent_show(torrent);
    let (got, took) = wait_resolved(server, hex, Duration::from_secs(45));
    assert_eq!(got["name"], want["name"], "{got}");
    assert_eq!(got["size"], want["size"]);
    assert_eq!(got["file_count"], want["file_count"]);
    assert_eq!(got["piece_length"], want["piece_length"]);
    assert_eq!(got["private"], want["private"]);
    assert_eq!(got["info_hash_v2"], want["info_hash_v2"]);
    assert!(got["resolved_at"].as_u64().unwrap() >= got["first_seen"].as_u64().unwrap());
    let files: Vec<(String, u64)> = got["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let want_files = shown_files(&want);
    assert_eq!(files, want_files);

    let (status, page) = get(server.http_addr(false), &format!("/torrent/{hex}"));
    assert_eq!(status, 200);
    let name = html_escape(want["name"].as_str().unwrap());
    assert!(page.contains(&format!("<title>{name}")), "{page}");
    // The page shows the files as a tree: every folder and file name of the first
    // page's files is on it.
    for (path, _) in want_files.iter().take(200) {
        for part in path.split('/') {
            assert!(
                page.contains(&format!(">{}<", html_escape(part))),
                "{part} (of {path}) not on the page"
            );
        }
    }
    took
}

/// `shoal metadata fetch HEX --peer 127.0.0.1:PORT -o FILE` writes a `.torrent` with the
/// same info-hashes as `torrent`.
///
/// Tried up to three times a second apart: Transmission 3.00 closes a connection from
/// an address whose previous connection (the catalog's) it has not cleaned up yet.
fn check_metadata_fetch(hex: &str, port: u16, torrent: &Path, dir: &Path) {
    let out_file = dir.join(format!("fetched-{hex}.torrent"));
    let mut tries = 0;
    let out = loop {
        tries += 1;
        let out = shoal(&[
            "metadata",
            "fetch",
            hex,
            "--peer",
            &format!("127.0.0.1:{port}"),
            "-o",
            out_file.to_str().unwrap(),
        ]);
        let closed = String::from_utf8_lossy(&out.stderr).contains("(closed)");
        if out.status.success() || !closed || tries == 3 {
            break out;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (want, got) = (torrent_show(torrent), torrent_show(&out_file));
    for k in [
        "info_hash_v1",
        "info_hash_v2",
        "tracker_hash",
        "name",
        "size",
    ] {
        assert_eq!(got[k], want[k], "{k}");
    }
    assert_eq!(got["tracker_hash"], hex);
}

fn have_libtorrent() -> bool {
    common::e2e_tool(
        seeder::have_libtorrent(),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    )
}

#[test]
fn libtorrent_seeders_of_v1_v2_and_hybrid_torrents_are_cataloged() {
    if !have_libtorrent() {
        return;
    }
    let server = serve("off");
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let http = format!("http://{}/announce", server.http_addr(false));
    let dirs: Vec<_> = (0..3).map(|_| temp_dir("catalog-lt")).collect();
    // A single file over UDP; a multi-file v2-only torrent over HTTP; a hybrid with
    // nested folders and a non-ASCII name over UDP.
    let seeders = [
        Seeder::start_with(&dirs[0], "v1", 0, "single v1", Some(&udp), "libtorrent"),
        Seeder::start_with(&dirs[1], "v2", 12, "v2 only", Some(&http), "libtorrent"),
        Seeder::start_with(
            &dirs[2],
            "hybrid",
            40,
            "Nested ünïcode 日本語 hybrid",
            Some(&udp),
            "libtorrent",
        ),
    ];
    for s in &seeders {
        // The tracker's hash: v1, or v2 truncated to 20 bytes for v2-only torrents.
        let hex =
            s.v1.clone()
                .unwrap_or_else(|| s.v2.as_ref().unwrap()[..40].to_owned());
        let took = check_entry(&server, &hex, &s.torrent);
        eprintln!("{} ({hex}) cataloged after {took:?} of polling", s.name);
        check_metadata_fetch(&hex, s.port, &s.torrent, &dirs[0]);
    }
    // The hybrid's v2 swarm (libtorrent announces both hashes) finds the same entry: its
    // truncated v2 hash is an alias, not a second entry.
    let hybrid = &seeders[2];
    let v2 = hybrid.v2.clone().unwrap();
    let (e, _) = wait_resolved(&server, &v2[..40], Duration::from_secs(30));
    assert_eq!(e["name"], hybrid.name.as_str());
    assert_eq!(e["info_hash_v2"], v2.as_str());

    // The names are listed, and counted.
    let addr = server.http_addr(false);
    common::eventually("names on /torrents", || {
        let (_, page) = get(addr, "/torrents");
        page.contains(&html_escape(&hybrid.name)).then_some(())
    });
    let (_, stats) = get(addr, "/api/stats");
    let stats: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["catalog"]["entries"].as_u64(), Some(3), "{stats}");
    assert!(
        stats["catalog"]["resolved"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(common::metric(addr, "shoal_catalog_resolved_total") >= 3);
    drop(seeders);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// An outside client (`transmission` or `aria2`) seeding a v1 torrent made by
/// libtorrent, announcing over `proto`.
fn outside_client_is_cataloged(client: &str, program: &str, package: &str, proto: &str) {
    if !have_libtorrent()
        || !common::e2e_tool(
            common::on_path(program),
            &format!("{program} is not installed (apt-get install {package})"),
        )
    {
        return;
    }
    let server = serve("off");
    let tracker = match proto {
        "udp" => format!("udp://{}/announce", server.udp_addr(false)),
        _ => format!("http://{}/announce", server.http_addr(false)),
    };
    let dir = temp_dir(&format!("catalog-{client}"));
    let name = format!("Seeded by {client} ✓");
    let s = Seeder::start_with(&dir, "v1", 9, &name, Some(&tracker), client);
    let hex = s.v1.clone().unwrap();
    let took = check_entry(&server, &hex, &s.torrent);
    eprintln!("{client}'s torrent cataloged after {took:?} of polling");
    check_metadata_fetch(&hex, s.port, &s.torrent, &dir);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_transmission_seeder_is_cataloged() {
    outside_client_is_cataloged(
        "transmission",
        "transmission-cli",
        "transmission-cli",
        "http",
    );
}

#[test]
fn an_aria2_seeder_is_cataloged() {
    outside_client_is_cataloged("aria2", "aria2c", "aria2", "udp");
}

/// A DELETE with no Authorization header.
fn delete_without_token(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw[9..12].parse().unwrap()
}

fn delete(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = common::admin_request(addr, TOKEN, "DELETE", path, "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn the_admin_api_removes_catalog_entries_and_denies_their_torrents() {
    let server = serve("deny");
    let addr = server.http_addr(false);
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    // Two torrents, each served by a test peer on 127.0.0.1 that announces as a seeder.
    let peers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let infos = [
        info_dict("removed torrent", 2),
        info_dict("denied torrent", 3),
    ];
    let hashes = infos.each_ref().map(|i| sha1(i));
    let hexes = hashes.map(|h| InfoHash(h).to_hex());
    for (info, hash) in infos.iter().zip(hashes) {
        let p = peers.block_on(start(hash, Peer::Honest { info: info.clone() }));
        announce(&udp, hash, p.port(), 0).unwrap();
    }
    for (hex, name) in hexes.iter().zip(["removed torrent", "denied torrent"]) {
        let (e, took) = wait_resolved(&server, hex, Duration::from_secs(15));
        eprintln!("{name} resolved after {took:?} of polling");
        assert_eq!(e["name"], name);
        assert_eq!(e["files"][0]["path"], "dir/file 0000.bin");
    }
    let path = |hex: &str| format!("/api/admin/catalog/{hex}");

    // No token, a wrong one: 401, nothing removed.
    assert_eq!(delete_without_token(addr, &path(&hexes[0])), 401);
    let (status, _) = common::admin_request(
        addr,
        "wrong-token-0123456789",
        "DELETE",
        &path(&hexes[0]),
        "",
    );
    assert_eq!(status, 401);
    assert!(api_torrent(addr, &hexes[0]).get("name").is_some());
    // Not a hash: 400; not in the catalog: 404.
    assert_eq!(delete(addr, &path("nothex")).0, 400);
    assert_eq!(delete(addr, &path(&"ab".repeat(20))).0, 404);

    // Removed: 200, gone from the API and the page, and the tracker still serves it.
    let (status, body) = delete(addr, &path(&hexes[0]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["removed"], true);
    assert_eq!(body["denied"], false);
    assert!(api_torrent(addr, &hexes[0]).get("name").is_none());
    let (_, page) = get(addr, &format!("/torrent/{}", hexes[0]));
    assert!(!page.contains("removed torrent"));
    assert_eq!(delete(addr, &path(&hexes[0])).0, 404, "removed once");
    assert!(announce(&udp, hashes[0], 7001, 1).is_ok());

    // Removed and denied: the tracker refuses its announces from then on.
    let (status, body) = delete(addr, &format!("{}?deny=true", path(&hexes[1])));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["removed"], &body["denied"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    assert!(api_torrent(addr, &hexes[1]).get("name").is_none());
    let refused = announce(&udp, hashes[1], 7002, 1);
    assert!(
        matches!(&refused, Err(ClientError::Tracker(m)) if m.contains("not allowed")),
        "{refused:?}"
    );
    let http = format!("http://{addr}/announce");
    assert!(matches!(
        announce(&http, hashes[1], 7002, 1),
        Err(ClientError::Tracker(_))
    ));
    // Counted.
    assert_eq!(common::metric(addr, "shoal_catalog_removed_total"), 2);
    assert_eq!(common::metric(addr, "shoal_catalog_entries"), 0);
    let (_, stats) = get(addr, "/api/stats");
    let stats: Value = serde_json::from_str(&stats).unwrap();
    let c = &stats["catalog"];
    assert_eq!(
        (&c["removed"], &c["entries"]),
        (&2.into(), &0.into()),
        "{c}"
    );
    assert_eq!(c["resolved"], 2, "{c}");
    assert_eq!(c["refused"]["not_public"], 0, "dial_private is on: {c}");
    drop(server);

    // deny=true needs the access list in deny mode: 409, and nothing is removed.
    let server = serve("off");
    let addr = server.http_addr(false);
    let (status, body) = delete(addr, &format!("{}?deny=true", path(&hexes[1])));
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("deny"), "{body}");
}

#[test]
fn by_default_loopback_peers_are_counted_and_never_dialed() {
    let server = serve_dialing("off", false);
    let addr = server.http_addr(false);
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    // A listener where the announced peer would be; nothing may connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    announce(&udp, [0x3c; 20], port, 0).unwrap();
    announce(&udp, [0x3d; 20], 22, 0).unwrap();
    let refused = r#"shoal_catalog_dials_refused_total{reason="not_public"}"#;
    common::eventually("refusals counted", || {
        (common::metric(addr, refused) >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the catalog dialed a loopback peer"
    );
    let failed = r#"shoal_catalog_fetch_failures_total{reason="connect"}"#;
    assert_eq!(common::metric(addr, failed), 0);
    assert_eq!(common::metric(addr, "shoal_catalog_connections"), 0);
}

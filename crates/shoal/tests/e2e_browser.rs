//! The dashboard in a real browser: Debian's headless Chromium driven by playwright-core
//! (tests/e2e/browser, installed by scripts/test). Peers are announced with
//! `shoal announce`; the page must show them, switch language, and link through to the
//! torrent pages. Screenshots go to `target/screenshots/`.
#![cfg(feature = "web")]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use common::{Server, BIN};

/// Where the scripts save their screenshots: `target/screenshots/`.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots")
}

/// `node SCRIPT http://ADDR SCREENSHOTS ARGS..` in the browser tools' folder (see
/// [`common::browser_tools`]) with their Chromium: its standard output, which must end
/// with `ok`.
fn run_script(
    (dir, chromium): &(PathBuf, String),
    script: &str,
    addr: SocketAddr,
    args: &[&str],
) -> String {
    let out = Command::new("node")
        .current_dir(dir)
        .env("CHROMIUM", chromium)
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg(screenshots())
        .args(args)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "browser checks failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn dashboard_in_headless_chromium() {
    let Some(tools) = common::browser_tools() else {
        return;
    };
    let cfg = common::temp_dir("browser").join("c.toml");
    std::fs::write(&cfg, "[store]\nsample_interval = 1\n").unwrap();
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let http = format!("http://{}/announce", server.http_addr(false));
    // Three torrents: 3, 2 and 1 peers (the first with a seeder), over UDP and HTTP.
    let mut peers = 0;
    for (t, n) in [(1u8, 3u16), (2, 2), (3, 1)] {
        for p in 0..n {
            let url = if p % 2 == 0 { &udp } else { &http };
            let hash = format!("{t:02x}").repeat(20);
            let port = (7000 + u16::from(t) * 10 + p).to_string();
            let left = if t == 1 && p == 0 { "0" } else { "1000" };
            let out = Command::new(BIN)
                .args([
                    "announce",
                    url,
                    "--info-hash",
                    &hash,
                    "--port",
                    &port,
                    "--left",
                    left,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            peers += 1;
        }
    }
    // The pages show the views thread's figures: wait until they include the swarms
    // (asking also marks them as watched, so they refresh every 2 s from now on).
    let http_addr = server.http_addr(false);
    common::eventually("the dashboard figures include the three torrents", || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(http_addr).ok()?;
        s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.contains("\"torrents\":3").then_some(())
    });
    run_script(
        &tools,
        "dashboard.mjs",
        server.http_addr(false),
        &["3", &peers.to_string()],
    );
    let shots = screenshots();
    for name in [
        "overview-en",
        "overview-ru",
        "torrents-ru",
        "torrent-ru",
        "clients-en",
        "trends-en",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    println!("screenshots in {}", shots.display());
}

/// The torrent `shoal torrent create` makes of `files` (relative paths, a few KiB
/// each) in a folder `name` under `dir`, written as `dir/<name>.torrent`.
fn torrent_of(dir: &std::path::Path, name: &str, files: &[&str]) -> PathBuf {
    let root = dir.join(name);
    for (i, f) in files.iter().enumerate() {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![i as u8; 20_000 + i * 1000]).unwrap();
    }
    let out = dir.join(format!("{name}.torrent"));
    let done = Command::new(BIN)
        .args(["torrent", "create"])
        .arg(&root)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

/// A catalog entry for [`torrent_of`] these files.
fn cataloged(dir: &std::path::Path, name: &str, files: &[&str]) -> shoal_store::CatalogEntry {
    let out = torrent_of(dir, name, files);
    let t =
        shoal_metainfo::Torrent::parse(&std::fs::read(&out).unwrap(), &Default::default()).unwrap();
    let h = t.hashes();
    let files: Vec<(String, u64)> = t
        .info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| (f.display_path(), f.size))
        .collect();
    shoal_store::CatalogEntry {
        info_hash: shoal_store::InfoHash(h.v1.unwrap()),
        alias: h
            .v2
            .map(|v| shoal_store::InfoHash(v[..20].try_into().unwrap())),
        info_hash_v2: h.v2,
        name: t.info.name.clone(),
        total_size: files.iter().map(|f| f.1).sum(),
        file_count: files.len() as u64,
        piece_length: 16384,
        private: false,
        first_seen: 1_790_000_000,
        resolved_at: 1_790_000_001,
        source_peers: 1,
        last_active: 1_790_000_000,
        files,
        info: t.info_bytes.clone(),
    }
}

/// The catalog in a real browser without JavaScript: searches in English, Russian and
/// Chinese through the form with a filter, a torrent's page with its file tree (a
/// folder opened by a click), the magnet and the `.torrent` download (its info-hash
/// checked here), and no page wider than a phone's screen.
#[test]
fn catalog_in_headless_chromium() {
    use shoal_store::CatalogStore;
    let Some(tools) = common::browser_tools() else {
        return;
    };
    let work = common::temp_dir("browser-catalog");
    let data = common::temp_dir("browser-catalog-data");
    let en = cataloged(
        &work,
        "Big Buck Bunny 2008",
        &[
            "Big.Buck.Bunny.2008.1080p.mkv",
            "Extras/Making of/Behind the scenes.mkv",
            "Extras/Making of/Storyboards.pdf",
            "Extras/Posters/poster.jpg",
        ],
    );
    let ru = cataloged(
        &work,
        "Фильмы о природе",
        &["Океаны/Глубина.mkv", "Субтитры/русские.srt"],
    );
    let zh = cataloged(&work, "中国电影合集", &["经典/大闹天宫.mkv"]);
    shoal_store::SqliteStore::open(&data.join("shoal.sqlite"))
        .unwrap()
        .add_catalog_entries(&[en.clone(), ru.clone(), zh.clone()])
        .unwrap();
    let server = Server::start_in(data, &["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let addr = server.http_addr(false);
    let hex = |e: &shoal_store::CatalogEntry| shoal_protocol::common::to_hex(&e.info_hash.0);
    common::eventually("the index holds the three torrents", || {
        (common::metric(addr, "shoal_index_documents") == 3).then_some(())
    });
    let spec = serde_json::json!({
        "en": {"q": "bunny", "cat": "video", "hash": hex(&en), "mark": "Bunny"},
        "ru": {"q": "фильм", "cat": "", "hash": hex(&ru), "mark": "Фильмы"},
        "zh": {"q": "电影", "cat": "video", "hash": hex(&zh), "mark": "电影"},
    });
    run_script(&tools, "catalog.mjs", addr, &[&spec.to_string()]);
    let shots = screenshots();
    // The downloaded .torrent is the stored torrent with this tracker's announce URLs.
    let file = std::fs::read(shots.join("downloaded.torrent")).unwrap();
    let t = shoal_metainfo::Torrent::parse(&file, &Default::default()).unwrap();
    assert_eq!(t.hashes().v1, Some(en.info_hash.0));
    assert_eq!(t.hashes().v2, en.info_hash_v2);
    let announce = t.announce.clone().unwrap_or_default();
    assert!(
        announce.contains(&server.udp_addr(false).port().to_string()),
        "announce {announce:?}"
    );
    for name in [
        "catalog-en",
        "catalog-ru",
        "catalog-zh",
        "torrent-en",
        "torrent-ru",
        "overview-zh",
        "phone-catalog-ru",
        "phone-torrent-en",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    let _ = std::fs::remove_dir_all(work);
    println!("screenshots in {}", shots.display());
}

/// The site's account pages in Chromium: registration with an invite, an upload by
/// the new account through the form, logout, login, the account page of an account
/// with traffic (seeding one torrent, leeching another), an admin approving the upload
/// on /admin, and its download (a private .torrent with the new account's passkey in
/// every announce URL); in four languages and on a phone. Screenshots `portal-*.png`.
#[test]
fn portal_in_headless_chromium() {
    use std::io::{Read, Write};
    let Some(tools) = common::browser_tools() else {
        return;
    };
    let data = common::temp_dir("browser-portal");
    let cfg = data.join("c.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n[catalog]\nenabled = false\n",
    )
    .unwrap();
    let cli = |args: &[&str], stdin: &[u8]| {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let alice = cli(
        &["user", "add", "alice", "--password-stdin"],
        b"correct horse\n",
    );
    let invite = cli(&["invite", "create", "--by", "alice"], b"");
    cli(
        &["user", "add", "root", "--role", "admin", "--password-stdin"],
        b"correct horse\n",
    );
    let work = common::temp_dir("browser-portal-work");
    let torrent = torrent_of(
        &work,
        "Holiday films",
        &[
            "Day 1/At the sea.mkv",
            "Day 2/Сплав по реке.mkv",
            "notes.txt",
        ],
    );
    // UDP too: the downloaded .torrent names both listeners.
    let server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let addr = server.http_addr(false);
    let get = |target: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    // Alice seeds one torrent (5 MiB credited) and leeches another.
    let announce = |hash: &str, up: u64, down: u64, left: u64, event: &str| {
        get(&format!(
            "/announce/{alice}?info_hash={}&peer_id=-qB4650-abcdefghijkl&port=6881&uploaded={up}&downloaded={down}&left={left}&compact=1{event}",
            hash.repeat(20)
        ))
    };
    for (hash, left) in [("%21", 0), ("%22", 1000)] {
        let a = announce(hash, 0, 0, left, "&event=started");
        assert!(!a.contains("failure"), "{a}");
    }
    assert!(!announce("%21", 5 << 20, 0, 0, "").contains("failure"));
    assert!(!announce("%22", 0, 1 << 20, 1000, "").contains("failure"));
    common::eventually("alice's upload in the store", || {
        let shown = cli(&["user", "show", "alice", "--json"], b"");
        shown
            .contains(&format!("\"uploaded\":{}", 5 << 20))
            .then_some(())
    });
    let stdout = run_script(
        &tools,
        "portal.mjs",
        addr,
        &[&invite, &alice, torrent.to_str().unwrap()],
    );
    let shots = screenshots();
    for name in [
        "portal-register-en",
        "portal-login-en",
        "portal-account-en",
        "portal-account-ru",
        "portal-account-uk",
        "portal-account-zh-phone-dark",
        "portal-upload-en",
        "portal-upload-uk",
        "portal-upload-zh-phone-dark",
        "portal-uploads-en",
        "portal-uploads-uk",
        "portal-uploads-zh-phone-dark",
        "portal-admin-en",
        "portal-admin-uk",
        "portal-admin-en-phone",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    // What Carol downloaded: her upload, made private (a new info-hash), with her
    // passkey in every announce URL.
    let added = stdout
        .lines()
        .find_map(|l| l.strip_prefix("added "))
        .expect("the script names the upload");
    let carol: serde_json::Value =
        serde_json::from_str(&cli(&["user", "show", "carol", "--json"], b"")).unwrap();
    let key = carol["passkey"].as_str().unwrap();
    let file = std::fs::read(shots.join("portal-downloaded.torrent")).unwrap();
    let t = shoal_metainfo::Torrent::parse(&file, &Default::default()).unwrap();
    let made =
        shoal_metainfo::Torrent::parse(&std::fs::read(&torrent).unwrap(), &Default::default())
            .unwrap();
    assert!(t.info.private && !made.info.private);
    assert_eq!(hex::encode(t.hashes().tracker_hash()), added);
    assert_eq!(t.info.name, made.info.name);
    let urls = t.trackers();
    assert!(urls.iter().any(|u| u.starts_with("udp://")), "{urls:?}");
    assert!(urls.iter().any(|u| u.starts_with("http://")), "{urls:?}");
    for u in urls {
        assert!(u.ends_with(&format!("/announce/{key}")), "{u}");
    }
    let _ = std::fs::remove_dir_all(work);
}

/// A node among three (a real nats-server): its dashboard's Cluster section lists every
/// node with its peers, charts their share, and fits a phone, in English, Ukrainian and
/// Chinese.
#[test]
fn cluster_dashboard_in_headless_chromium() {
    let Some(tools) = common::browser_tools() else {
        return;
    };
    if !common::e2e_tool(
        common::on_path("nats-server"),
        "nats-server is not installed",
    ) {
        return;
    }
    let nats = common::Nats::start();
    let cfg_dir = common::temp_dir("browser-cluster");
    let nodes: Vec<Server> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|node| {
            let cfg = cfg_dir.join(format!("{node}.toml"));
            std::fs::write(
                &cfg,
                format!(
                    "[udp]\nconnection_id_secret = \"00112233445566778899aabbccddeeff\"\n\
                     [cluster]\nnode_id = \"{node}\"\nnats = [\"nats://127.0.0.1:{}\"]\n\
                     snapshot_timeout = 1\n[catalog]\nenabled = false\n",
                    nats.port
                ),
            )
            .unwrap();
            Server::start_in(
                common::temp_dir(&format!("browser-{node}")),
                &[],
                &["127.0.0.1:0"],
                &["--config", cfg.to_str().unwrap()],
            )
        })
        .collect();
    // 3, 2 and 1 peers announce to the three nodes.
    let mut peers = 0;
    for (i, node) in nodes.iter().enumerate() {
        let url = format!("http://{}/announce", node.http_addr(false));
        for p in 0..3 - i {
            let hash = format!("{:02x}", 0x40 + p).repeat(20);
            let out = common::announce_cli(
                &url,
                &hash,
                7000 + (i * 10 + p) as u16,
                "started",
                [10, 0, 0],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            peers += 1;
        }
    }
    let addr = nodes[0].http_addr(false);
    common::eventually("every node's status with its peers", || {
        let (_, body) = common::get(addr, "/api/cluster");
        body.contains(&format!(
            "\"totals\":{{\"announces\":6,\"nodes\":3,\"peers\":{peers}}}"
        ))
        .then_some(())
    });
    // The node's own figures come from its views thread: wait until they hold every
    // peer (its own and the other nodes'), so the page is whole.
    common::eventually("the node's figures include every peer", || {
        let (_, body) = common::get(addr, "/api/stats");
        body.contains(&format!("\"ipv4\":{peers},")).then_some(())
    });
    run_script(&tools, "cluster.mjs", addr, &["3", &peers.to_string()]);
    let shots = screenshots();
    for name in [
        "overview-cluster-en",
        "overview-cluster-uk",
        "overview-cluster-zh-phone-dark",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&cfg_dir);
}

/// A torrent page's preview in Chromium, in four languages: a Rust test peer seeds the
/// preview payload (a JPEG cover, a CP1251 `.nfo`, a UTF-8 readme); once shoal has
/// fetched it, the page's gallery shows the cover's thumbnail, loaded under the page's
/// CSP, linking to the full-size PNG, and the `.nfo` decoded. Screenshots
/// `preview-<lang>.png`.
#[test]
fn preview_gallery_in_headless_chromium() {
    use common::preview::{file, make, rust_seeder, serve, wait_preview, HEADINGS, NFO_TEXT};
    let Some(tools) = common::browser_tools() else {
        return;
    };
    let server = serve(true);
    let addr = server.http_addr(false);
    // The admin who moderates the preview on the site's admin page.
    common::ok(&common::shoal_stdin(
        &server.data_dir,
        &["user", "add", "root", "--role", "admin", "--password-stdin"],
        b"correct horse\n",
    ));
    let work = common::temp_dir("browser-preview");
    let torrent = make(&work, "v1");
    let t = shoal_metainfo::Torrent::parse(&std::fs::read(&torrent).unwrap(), &Default::default())
        .unwrap();
    let hex = shoal_protocol::common::to_hex(&t.hashes().v1.unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let peer = rust_seeder(&runtime, &torrent, &work, None);
    common::ok(&common::announce_cli(
        &format!("http://{addr}/announce"),
        &hex,
        peer.port(),
        "started",
        [0, 0, 0],
    ));
    let preview = wait_preview(&server, &hex);
    let spec = serde_json::json!({
        "hash": hex,
        "sha256": file(&preview, "cover.jpg")["sha256"],
        "thumb": [320, 240],
        "nfo": NFO_TEXT.lines().next().unwrap(),
        "headings": serde_json::Map::from_iter(HEADINGS.map(|(l, h)| (l.into(), h.into()))),
    });
    run_script(&tools, "preview.mjs", addr, &[&spec.to_string()]);
    let shots = screenshots();
    let names = HEADINGS.map(|(lang, _)| format!("preview-{lang}"));
    for name in names
        .iter()
        .map(String::as_str)
        .chain(["preview-admin-en", "preview-admin-zh"])
    {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    let _ = std::fs::remove_dir_all(work);
    println!("screenshots in {}", shots.display());
}

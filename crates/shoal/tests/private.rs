//! Private mode in the real binary: accounts made with `shoal user` (also while the
//! server runs, which sees them within a second), announces over HTTP (both path forms)
//! and UDP (BEP 41 URLData) admitted only with a known passkey, bans and passkey resets
//! taking effect without a restart; the command line's answers and exit codes; and
//! real clients trading (credited to each account), also with torrents published and
//! downloaded through the site.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Instant;

use common::libtorrent::{leech, libtorrent_or_skip, seeder, Leeched};
use common::{ok, shoal_in as shoal, temp_dir, within, Server, BIN};

fn is_key(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn user_and_invite_commands() {
    let data = temp_dir("users");
    let key = ok(&shoal(
        &data,
        &["user", "add", "Alice", "--role", "uploader"],
    ));
    assert!(is_key(&key), "{key}");
    // A name is taken in any case; a bad name or role is a usage error.
    for args in [
        &["user", "add", "alice"][..],
        &["user", "add", "bad name"],
        &["user", "add", "bob", "--role", "king"],
    ] {
        let out = shoal(&data, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = shoal(&data, &["user", "add", "alice"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&shoal(&data, &["user", "show", "ALICE", "--json"]))).unwrap();
    assert_eq!(shown["name"], "Alice");
    assert_eq!(shown["role"], "uploader");
    assert_eq!(shown["passkey"], key.as_str());
    assert_eq!(shown["uploaded"], 0);
    assert_eq!(shown["ratio"], serde_json::Value::Null);
    let text = ok(&shoal(&data, &["user", "show", "alice"]));
    assert!(text.contains(&key) && text.contains("uploader"), "{text}");
    assert_eq!(
        shoal(&data, &["user", "show", "nobody"]).status.code(),
        Some(1)
    );
    assert_eq!(
        shoal(&data, &["user", "ban", "nobody"]).status.code(),
        Some(1)
    );
    // A password comes on stdin, at least 8 characters.
    let add_with = |name: &str, password: &str| {
        let args = ["user", "add", name, "--password-stdin"];
        common::shoal_stdin(&data, &args, format!("{password}\n").as_bytes())
    };
    assert_eq!(add_with("carol", "short").status.code(), Some(2));
    assert!(is_key(&ok(&add_with("carol", "a long enough secret"))));
    let reset = ok(&shoal(&data, &["user", "reset-passkey", "alice"]));
    assert!(is_key(&reset) && reset != key);
    let code = ok(&shoal(&data, &["invite", "create", "--by", "alice"]));
    assert!(is_key(&code), "{code}");
    assert_ne!(code, ok(&shoal(&data, &["invite", "create"])));
    assert_eq!(
        shoal(&data, &["invite", "create", "--by", "nobody"])
            .status
            .code(),
        Some(1)
    );
    let _ = std::fs::remove_dir_all(data);
}

/// `shoal announce URL`: whether the tracker admitted it, and its failure otherwise.
fn announce(url: &str, hash: &str) -> Result<(), String> {
    let out = Command::new(BIN)
        .args(["announce", url, "--info-hash", hash, "--port", "6881"])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn private_mode_admits_known_passkeys_over_http_and_udp() {
    let data = temp_dir("private");
    let alice = ok(&shoal(&data, &["user", "add", "alice"]));
    let cfg = temp_dir("private-cfg").join("c.toml");
    std::fs::write(&cfg, "[tracker]\nmode = \"private\"\n").unwrap();
    let server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let (udp, http) = (server.udp_addr(false), server.http_addr(false));
    let hash = "ab".repeat(20);
    let urls = |key: &str| {
        [
            format!("http://{http}/announce/{key}"),
            format!("http://{http}/{key}/announce"),
            format!("udp://{udp}/announce/{key}"),
        ]
    };
    for url in urls(&alice) {
        announce(&url, &hash).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // No passkey, an unknown one: refused with a reason.
    let e = announce(&format!("http://{http}/announce"), &hash).unwrap_err();
    assert!(e.contains("passkey"), "{e}");
    let stranger = "0".repeat(32);
    for url in urls(&stranger) {
        let e = announce(&url, &hash).unwrap_err();
        assert!(e.contains("unknown passkey"), "{url}: {e}");
    }
    // An account made while the server runs works within a second.
    let bob = ok(&shoal(&data, &["user", "add", "bob"]));
    let took = within("a new account admitted", || {
        announce(&urls(&bob)[2], &hash).is_ok()
    });
    eprintln!("new account admitted after {took:?}");
    // A ban refuses every form; lifting it admits again.
    ok(&shoal(&data, &["user", "ban", "bob"]));
    within("a ban applied", || {
        announce(&urls(&bob)[0], &hash).is_err_and(|e| e.contains("banned"))
    });
    for url in urls(&bob) {
        let e = announce(&url, &hash).unwrap_err();
        assert!(e.contains("banned"), "{url}: {e}");
    }
    ok(&shoal(&data, &["user", "unban", "bob"]));
    within("an unban applied", || {
        announce(&urls(&bob)[1], &hash).is_ok()
    });
    // A reset passkey: the old one stops working, the new one works.
    let new = ok(&shoal(&data, &["user", "reset-passkey", "alice"]));
    within("a reset applied", || {
        announce(&urls(&new)[2], &hash).is_ok()
    });
    let e = announce(&urls(&alice)[0], &hash).unwrap_err();
    assert!(e.contains("unknown passkey"), "{e}");
    drop(server);
    let _ = std::fs::remove_dir_all(cfg.parent().unwrap());
}

fn announce_as(url: &str, hash: &str, port: u16, event: &str, left: u64, up: u64, down: u64) {
    let out = common::announce_cli(url, hash, port, event, [left, up, down]);
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn account(data: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&shoal(data, &["user", "show", name, "--json"]))).unwrap()
}

/// Announced totals become each account's uploaded and downloaded (over UDP and HTTP,
/// in the store within a flush), with seeding and leeching now; a client restart counts
/// from zero, and a stopped announce's final totals count.
#[test]
fn private_mode_credits_traffic_to_accounts() {
    let data = temp_dir("accounting");
    let alice = ok(&shoal(&data, &["user", "add", "alice"]));
    let bob = ok(&shoal(&data, &["user", "add", "bob"]));
    let cfg = temp_dir("accounting-cfg").join("c.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n",
    )
    .unwrap();
    let server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let (udp, http) = (server.udp_addr(false), server.http_addr(false));
    let (a_url, b_url) = (
        format!("udp://{udp}/announce/{alice}"),
        format!("http://{http}/{bob}/announce"),
    );
    let hash = "cd".repeat(20);
    // Alice seeds, Bob leeches.
    announce_as(&a_url, &hash, 7001, "started", 0, 0, 0);
    announce_as(&b_url, &hash, 7002, "started", 1_024_000, 0, 0);
    announce_as(&a_url, &hash, 7001, "none", 0, 614_400, 0);
    announce_as(&b_url, &hash, 7002, "none", 409_600, 0, 614_400);
    within("credits written", || {
        account(&data, "alice")["uploaded"] == 614_400
    });
    let (a, b) = (account(&data, "alice"), account(&data, "bob"));
    assert_eq!(
        (a["seeding"].as_u64(), a["leeching"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (b["downloaded"].as_u64(), b["leeching"].as_u64()),
        (Some(614_400), Some(1))
    );
    // Bob's client restarts (totals from zero), finishes, then stops.
    announce_as(&b_url, &hash, 7002, "started", 409_600, 0, 102_400);
    announce_as(&b_url, &hash, 7002, "completed", 0, 0, 409_600);
    announce_as(&b_url, &hash, 7002, "stopped", 0, 5_120, 409_600);
    within("bob's session", || {
        account(&data, "bob")["downloaded"] == 1_024_000
    });
    let b = account(&data, "bob");
    assert_eq!(b["uploaded"], 5_120);
    assert_eq!(
        (
            b["seeding"].as_u64(),
            b["leeching"].as_u64(),
            b["snatched"].as_u64()
        ),
        (Some(0), Some(0), Some(1))
    );
    assert_eq!(b["ratio"].as_f64(), Some(0.005));
    drop(server);
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(cfg.parent().unwrap());
}

/// The end-to-end scripts (tests/e2e).
/// A private server for real clients: credits flushed every second, no catalog (its
/// config file in `data`, removed with it when the server is dropped).
fn start_private(data: &Path) -> Server {
    let cfg = data.join("c.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n[catalog]\nenabled = false\n",
    )
    .unwrap();
    Server::start_in(
        data.to_owned(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    )
}

/// Waits until the leecher's download and then (after stopping the seeder, whose
/// totals come with its stopped announce) the seeder's upload are credited to their
/// accounts, each within a piece of what libtorrent moved.
fn assert_credited(
    data: &Path,
    mut seeder: Child,
    seeding: &str,
    leeched: &Leeched,
    leeching: &str,
) {
    let Leeched { moved, piece } = *leeched;
    let close = |got: u64| got.abs_diff(moved) <= piece;
    within("the download credited", || {
        close(account(data, leeching)["downloaded"].as_u64().unwrap())
    });
    drop(seeder.stdin.take());
    let _ = seeder.wait();
    within("the upload credited", || {
        close(account(data, seeding)["uploaded"].as_u64().unwrap())
    });
    let (a, b) = (account(data, seeding), account(data, leeching));
    eprintln!(
        "libtorrent moved {moved} bytes (piece {piece}); {seeding} uploaded {}, {leeching} downloaded {}",
        a["uploaded"], b["downloaded"]
    );
    assert_eq!(b["snatched"], 1);
}

/// Real clients: a python3-libtorrent seeder announcing with Alice's passkey over
/// HTTP and a libtorrent leecher with Bob's over UDP (BEP 41 URLData) find each other
/// through the private tracker only; afterwards Bob's downloaded and Alice's uploaded
/// match the payload libtorrent moved, within one piece.
#[test]
fn libtorrent_traffic_is_credited_to_each_passkey() {
    if !libtorrent_or_skip() {
        return;
    }
    let data = temp_dir("lt-private");
    let alice = ok(&shoal(&data, &["user", "add", "alice"]));
    let bob = ok(&shoal(&data, &["user", "add", "bob"]));
    let server = start_private(&data);
    let seed_dir = temp_dir("lt-private-seed");
    let tracker = format!("http://{}/announce/{alice}", server.http_addr(false));
    let (seeding, seeded) = seeder(&[
        "--dir".as_ref(),
        seed_dir.as_ref(),
        "--name".as_ref(),
        "private payload".as_ref(),
        "--size-kib".as_ref(),
        "20480".as_ref(),
        "--tracker".as_ref(),
        tracker.as_ref(),
    ]);
    let leech_dir = temp_dir("lt-private-leech");
    let leeched = leech(
        Path::new(seeded["torrent"].as_str().unwrap()),
        &format!("udp://{}/announce/{bob}", server.udp_addr(false)),
        &leech_dir,
    );
    assert_credited(&data, seeding, "alice", &leeched, "bob");
    drop(server);
    for d in [seed_dir, leech_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The site end to end: an uploader publishes a .torrent through the upload form (a
/// multipart POST), which private mode makes private (a new info-hash); each account
/// downloads it with its own passkey in every announce URL; libtorrent seeds Alice's
/// file over HTTP and leeches Bob's over UDP, the traffic is credited to each, and
/// Bob's account page shows his download.
#[test]
fn the_site_publishes_and_real_clients_trade_with_downloaded_torrents() {
    use common::site::{form_csrf, multipart, request, request_with, session};
    if !libtorrent_or_skip() {
        return;
    }
    let data = temp_dir("site-private");
    let add = |name: &str, role: &str| {
        let out = common::shoal_stdin(
            &data,
            &["user", "add", name, "--role", role, "--password-stdin"],
            b"correct horse\n",
        );
        ok(&out)
    };
    let (alice, bob) = (add("alice", "uploader"), add("bob", "user"));
    // A 20 MiB file and a v1 torrent of it, without trackers and not private.
    let seed_dir = temp_dir("site-private-seed");
    let payload = seed_dir.join("site payload.bin");
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    let mut file = std::fs::File::create(&payload).unwrap();
    std::io::copy(&mut std::io::Read::take(&mut random, 20 << 20), &mut file).unwrap();
    let made = seed_dir.join("made.torrent");
    let out = Command::new(BIN)
        .args(["torrent", "create", "--v1", "-o"])
        .arg(&made)
        .arg(&payload)
        .output()
        .unwrap();
    ok(&out);
    let made = std::fs::read(&made).unwrap();
    let original = shoal_metainfo::Torrent::parse(&made, &Default::default()).unwrap();
    assert!(!original.info.private);

    let server = start_private(&data);
    let addr = server.http_addr(false);
    let alice_in = session(addr, "alice", "correct+horse");
    let form = request(addr, "GET", "/upload", &alice_in, "");
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form_csrf(&form.body);
    let (content_type, body) = multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("torrent", Some("made.torrent"), &made),
        ("title", None, "Site payload".as_bytes()),
        ("category", None, b""),
        ("description", None, "Random bytes for a test.".as_bytes()),
    ]);
    let t = Instant::now();
    let posted = request_with(addr, "POST", "/upload", &alice_in, &content_type, &body);
    assert_eq!(posted.status, 303, "{}", posted.body);
    let location = posted.header("Location").unwrap_or_default().to_owned();
    let hex = location
        .strip_prefix("/account/uploads?added=")
        .unwrap_or_else(|| panic!("redirected to {location:?}"))
        .to_owned();
    // The private flag is a change to the info dictionary: a new info-hash.
    let original_hex = hex::encode(original.hashes().v1.unwrap());
    assert_ne!(hex, original_hex);
    // An uploader's torrent is published at once: listed with its download link.
    let mine = request(addr, "GET", &location, &alice_in, "");
    assert_eq!(mine.status, 200);
    assert!(mine.body.contains("Site payload"), "{}", mine.body);
    assert!(mine.body.contains(&format!("/download/{hex}.torrent")));

    // Each account's .torrent carries its own passkey, in every announce URL.
    let bob_in = session(addr, "bob", "correct+horse");
    let download = |cookie: &str, key: &str, file: &Path| {
        let got = request(addr, "GET", &format!("/download/{hex}.torrent"), cookie, "");
        assert_eq!(got.status, 200, "{}", got.body);
        assert_eq!(got.header("Content-Type"), Some("application/x-bittorrent"));
        std::fs::write(file, &got.bytes).unwrap();
        let t = shoal_metainfo::Torrent::parse(&got.bytes, &Default::default()).unwrap();
        assert!(t.info.private, "the info dictionary is private");
        assert_eq!(
            hex::encode(t.hashes().v1.unwrap()),
            hex,
            "it hashes to the published info-hash"
        );
        let urls: Vec<String> = t.trackers().into_iter().map(str::to_owned).collect();
        assert!(!urls.is_empty());
        for u in &urls {
            assert!(u.ends_with(&format!("/announce/{key}")), "{u}");
        }
        let scheme = |s: &str| urls.iter().find(|u| u.starts_with(s)).cloned().unwrap();
        (scheme("http://"), scheme("udp://"))
    };
    let (alice_file, bob_file) = (seed_dir.join("alice.torrent"), seed_dir.join("bob.torrent"));
    let (alice_http, _) = download(&alice_in, &alice, &alice_file);
    let (_, bob_udp) = download(&bob_in, &bob, &bob_file);
    eprintln!("published and downloaded in {:?}", t.elapsed());

    let (seeding, _) = seeder(&[
        "--dir".as_ref(),
        seed_dir.as_ref(),
        "--torrent".as_ref(),
        alice_file.as_ref(),
        "--tracker".as_ref(),
        alice_http.as_ref(),
    ]);
    let leech_dir = temp_dir("site-private-leech");
    let leeched = leech(&bob_file, &bob_udp, &leech_dir);
    assert_eq!(
        std::fs::read(leech_dir.join("site payload.bin")).unwrap(),
        std::fs::read(&payload).unwrap()
    );
    assert_credited(&data, seeding, "alice", &leeched, "bob");

    // Bob's account page shows his download (1 MiB to 1 GiB: "N.N MiB" in English).
    let downloaded = account(&data, "bob")["downloaded"].as_u64().unwrap();
    let shown = format!(
        "<dd>{:.1}\u{a0}MiB</dd>",
        downloaded as f64 / f64::from(1 << 20)
    );
    let page = request(addr, "GET", "/account", &bob_in, "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&shown), "{shown} not on\n{}", page.body);
    drop(server);
    for d in [seed_dir, leech_dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The ratio rule: an account that downloaded past the grace without uploading enough
/// may not start a new download (a clear failure), but may seed and finish.
#[test]
fn a_low_ratio_refuses_new_downloads_but_not_seeding() {
    let data = temp_dir("ratio");
    let bob = ok(&shoal(&data, &["user", "add", "bob"]));
    let cfg = temp_dir("ratio-cfg").join("c.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n\
         [accounts]\nmin_ratio_percent = 50\nratio_grace = 1000\n",
    )
    .unwrap();
    let server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let url = format!("http://{}/announce/{bob}", server.http_addr(false));
    let (first, second, third) = ("11".repeat(20), "22".repeat(20), "33".repeat(20));
    announce_as(&url, &first, 7001, "started", 102_400, 0, 0);
    announce_as(&url, &first, 7001, "none", 51_200, 0, 51_200);
    within("the download credited", || {
        account(&data, "bob")["downloaded"] == 51_200
    });
    // Below 0.5 past the grace: a new download is refused, with the reason.
    within("the rule applied", || {
        announce(&url, &second).is_err_and(|e| e.contains("ratio"))
    });
    // Going on with the first, and seeding another, are fine.
    announce_as(&url, &first, 7001, "none", 10_240, 0, 92_160);
    announce_as(&url, &third, 7003, "started", 0, 0, 0);
    // Uploading enough lifts the rule.
    announce_as(&url, &third, 7003, "none", 0, 61_440, 0);
    within("the rule lifted", || announce(&url, &second).is_ok());
    drop(server);
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(cfg.parent().unwrap());
}

/// Listed mode: only torrents an admin listed are tracked, over UDP and HTTP; listing
/// one through the admin API admits it at once; a deny-mode access list contradicts the
/// mode and stops the start naming the key.
#[test]
fn listed_mode_tracks_only_listed_torrents() {
    const TOKEN: &str = "listed-mode-token-0123456789";
    let cfg_dir = temp_dir("listed-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!("[tracker]\nmode = \"listed\"\n[admin]\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let (udp, http) = (server.udp_addr(false), server.http_addr(false));
    let hash = "ef".repeat(20);
    let urls = [
        format!("udp://{udp}/announce"),
        format!("http://{http}/announce"),
    ];
    for url in &urls {
        let e = announce(url, &hash).unwrap_err();
        assert!(e.contains("not allowed"), "{url}: {e}");
    }
    let (status, body) = common::admin_request(
        http,
        TOKEN,
        "POST",
        "/api/admin/access-list",
        &format!("{{\"info_hash\":\"{hash}\"}}"),
    );
    assert!((200..300).contains(&status), "{status} {body}");
    for url in &urls {
        announce(url, &hash).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    drop(server);
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"listed\"\n[access_list]\nmode = \"deny\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(cfg_dir.join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("access_list.mode"));
    let _ = std::fs::remove_dir_all(cfg_dir);
}

/// Credits counted after the last flush are written at a clean shutdown: with a
/// 5-second flush, an upload announced right after start and a SIGTERM at once reach
/// the store only through the shutdown's own flush.
#[test]
fn a_clean_shutdown_writes_the_last_credits() {
    let data = temp_dir("accounting-stop");
    let alice = ok(&shoal(&data, &["user", "add", "alice"]));
    let cfg = temp_dir("accounting-stop-cfg").join("c.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 5\n",
    )
    .unwrap();
    let mut server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let url = format!("udp://{}/announce/{alice}", server.udp_addr(false));
    let hash = "ab".repeat(20);
    announce_as(&url, &hash, 7001, "started", 0, 0, 0);
    announce_as(&url, &hash, 7001, "none", 0, 665_600, 0);
    assert_eq!(account(&data, "alice")["uploaded"], 0, "not flushed yet");
    let (status, _) = server.stop_with(libc::SIGTERM);
    assert!(status.success());
    assert_eq!(account(&data, "alice")["uploaded"], 665_600);
    let _ = std::fs::remove_dir_all(data);
    let _ = std::fs::remove_dir_all(cfg.parent().unwrap());
}

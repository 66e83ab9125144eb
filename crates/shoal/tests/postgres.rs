//! `shoal serve` with its store in PostgreSQL (`[store] url`): a real server on a
//! throwaway cluster the test starts (skipped without PostgreSQL unless E2E_REQUIRED).

mod common;

use std::process::Command;

use common::{ok, shoal_in, temp_dir, Server, BIN};

/// `shoal announce` over HTTP with `key` as the passkey, `[event, left, downloaded]`;
/// its JSON answer. The announce must succeed.
fn announce_as(server: &Server, key: &str, hash: &str, [event, left, down]: [&str; 3]) -> String {
    let url = format!("http://{}/announce/{key}", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["announce", &url, "--info-hash", hash, "--port", "6881"])
        .args(["--event", event, "--left", left, "--downloaded", down])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private tracker on PostgreSQL: an account made with `shoal user add` against the
/// database is admitted, its traffic and a completion are written there, and a second
/// server with an empty data dir on the same database knows both — nothing of it was
/// on the first server's disk.
#[test]
fn a_private_tracker_keeps_its_state_in_postgresql() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let url = pg.database("shoal_serve_on_postgres");
    let cfg_dir = temp_dir("pg-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tracker]\nmode = \"private\"\n[store]\nurl = \"{url}\"\nflush_interval = 1\n[catalog]\nenabled = false\n"
        ),
    )
    .unwrap();
    let config = ["--config", cfg.to_str().unwrap()];
    let first_dir = temp_dir("pg-first");
    let key = ok(&shoal_in(
        &first_dir,
        &["user", "add", "alice", config[0], config[1]],
    ));
    let key = key.trim().to_owned();
    let hash = "ab".repeat(20);
    let announce = |server: &Server, event: &str, left: &str, down: &str| {
        announce_as(server, &key, &hash, [event, left, down])
    };
    let server = Server::start_in(first_dir.clone(), &[], &["127.0.0.1:0"], &config);
    announce(&server, "started", "1024", "0");
    announce(&server, "completed", "0", "1024");
    // Credits reach the database within a flush.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let shown = loop {
        let out = shoal_in(
            &first_dir,
            &["user", "show", "alice", "--json", config[0], config[1]],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        if v["downloaded"] == 1024 || std::time::Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(shown["downloaded"], 1024, "{shown}");
    drop(server);
    // Another node, an empty data dir, the same database.
    let second_dir = temp_dir("pg-second");
    let server = Server::start_in(second_dir.clone(), &[], &["127.0.0.1:0"], &config);
    let url = format!("http://{}/announce/{key}", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["scrape", &url, &hash])
        .output()
        .unwrap();
    let scraped = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(scraped.contains("\"completed\":1"), "{scraped}");
    drop(server);
    let _ = std::fs::remove_dir_all(cfg_dir);
}

/// `shoal store migrate-from-sqlite`: a single node's private tracker on SQLite (an
/// account, its credits, a completion) is copied into PostgreSQL, and a server on the
/// database with an empty data dir admits the same passkey and shows the same figures.
/// A second copy into the now filled database is refused and a missing file is a usage
/// error.
#[test]
fn a_single_nodes_store_moves_into_postgresql() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let cfg_dir = temp_dir("pg-migrate-cfg");
    let sqlite_cfg = cfg_dir.join("sqlite.toml");
    std::fs::write(
        &sqlite_cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n[catalog]\nenabled = false\n",
    )
    .unwrap();
    let single = temp_dir("pg-migrate-single");
    let key = ok(&shoal_in(&single, &["user", "add", "alice"]))
        .trim()
        .to_owned();
    let hash = "cd".repeat(20);
    let announce = |server: &Server, event: &str, left: &str, down: &str| {
        announce_as(server, &key, &hash, [event, left, down]);
    };
    let mut server = Server::start_in(
        single.clone(),
        &[],
        &["127.0.0.1:0"],
        &["--config", sqlite_cfg.to_str().unwrap()],
    );
    announce(&server, "started", "4096", "0");
    announce(&server, "completed", "0", "4096");
    announce(&server, "stopped", "0", "4096");
    // A clean stop writes the last credits (and, unlike a drop, keeps the data dir).
    assert!(server.stop_with(libc::SIGTERM).0.success());
    let before = ok(&shoal_in(&single, &["user", "show", "alice", "--json"]));

    let url = pg.database("shoal_migrate_from_sqlite");
    let file = single.join("shoal.sqlite");
    let migrate = |file: &std::path::Path| {
        shoal_in(
            &single,
            &[
                "store",
                "migrate-from-sqlite",
                file.to_str().unwrap(),
                "--url",
                &url,
            ],
        )
    };
    let out = migrate(&file);
    let printed = ok(&out);
    assert!(printed.contains("users: 1 rows"), "{printed}");
    assert!(printed.contains("copied "), "{printed}");

    let pg_cfg = cfg_dir.join("pg.toml");
    std::fs::write(
        &pg_cfg,
        format!(
            "[tracker]\nmode = \"private\"\n[store]\nurl = \"{url}\"\n[catalog]\nenabled = false\n"
        ),
    )
    .unwrap();
    let config = ["--config", pg_cfg.to_str().unwrap()];
    let empty = temp_dir("pg-migrate-node");
    let after = ok(&shoal_in(
        &empty,
        &["user", "show", "alice", "--json", config[0], config[1]],
    ));
    let (before, after): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&before).unwrap(),
        serde_json::from_str(&after).unwrap(),
    );
    assert_eq!(before["downloaded"], 4096, "{before}");
    for field in ["passkey", "role", "uploaded", "downloaded", "ratio"] {
        assert_eq!(before[field], after[field], "{field}: {before} / {after}");
    }
    let server = Server::start_in(empty.clone(), &[], &["127.0.0.1:0"], &config);
    let url_key = format!("http://{}/announce/{key}", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["scrape", &url_key, &hash])
        .output()
        .unwrap();
    let scraped = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(scraped.contains("\"completed\":1"), "{scraped}");
    announce(&server, "started", "4096", "0");
    drop(server);

    let again = migrate(&file);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let missing = migrate(&single.join("nothing.sqlite"));
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(cfg_dir);
    let _ = std::fs::remove_dir_all(single);
    let _ = std::fs::remove_dir_all(empty);
}

/// `[cluster] node_id`: two nodes sharing one database each keep their own mark of the
/// swarm snapshot they wrote at shutdown, so after a clean restart each restores its own
/// swarms. (Under one name the later shutdown's mark replaced the earlier one's, and the
/// other node threw its snapshot away as stale.)
#[test]
fn nodes_sharing_a_database_keep_their_own_snapshot_marks() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let url = pg.database("shoal_two_nodes_marks");
    let cfg_dir = temp_dir("pg-marks-cfg");
    let node = |name: &str, hash: &str| {
        let cfg = cfg_dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[store]\nurl = \"{url}\"\n[cluster]\nnode_id = \"{name}\"\n[catalog]\nenabled = false\n"
            ),
        )
        .unwrap();
        let dir = temp_dir(&format!("pg-marks-{name}"));
        (dir, cfg, hash.to_owned())
    };
    let nodes = [
        node("east", &"e1".repeat(20)),
        node("west", &"a7".repeat(20)),
    ];
    let start = |(dir, cfg, _): &(std::path::PathBuf, std::path::PathBuf, String)| {
        Server::start_in(
            dir.clone(),
            &[],
            &["127.0.0.1:0"],
            &["--config", cfg.to_str().unwrap()],
        )
    };
    let peers = |server: &Server, hash: &str| -> u64 {
        let (seeders, leechers) = common::scrape_counts(server, hash);
        seeders + leechers
    };
    let mut running: Vec<Server> = nodes.iter().map(start).collect();
    for (server, (_, _, hash)) in running.iter().zip(&nodes) {
        let url = format!("http://{}/announce", server.http_addr(false));
        let out = Command::new(BIN)
            .args(["announce", &url, "--info-hash", hash, "--port", "6881"])
            .args(["--event", "started", "--left", "10"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(peers(server, hash), 1);
    }
    // East stops first, then west: each writes its snapshot and its own mark.
    for mut server in running.drain(..) {
        assert!(server.stop_with(libc::SIGTERM).0.success());
        // The data dir stays for the restart.
        std::mem::forget(server);
    }
    for (n, (dir, _, hash)) in nodes.iter().enumerate() {
        let server = start(&nodes[n]);
        assert_eq!(
            peers(&server, hash),
            1,
            "{} restored its swarm",
            dir.display()
        );
    }
    let _ = std::fs::remove_dir_all(cfg_dir);
}

/// Admin changes made on one node reach the other nodes sharing the database within a
/// second (the store's change log, no NATS needed): an access-list entry added on one
/// node refuses the torrent on the other, its removal there lets it back in here, and a
/// swarm an admin removes on one node is gone on the other too.
#[test]
fn admin_changes_reach_every_node_within_a_second() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    const TOKEN: &str = "change-log-admin-token";
    let url = pg.database("shoal_admin_changes");
    let cfg_dir = temp_dir("pg-changes-cfg");
    let start = |name: &str| {
        let cfg = cfg_dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[store]\nurl = \"{url}\"\n[cluster]\nnode_id = \"{name}\"\n[catalog]\nenabled = false\n\
                 [access_list]\nmode = \"deny\"\n[admin]\ntoken = \"{TOKEN}\"\n"
            ),
        )
        .unwrap();
        Server::start_in(
            temp_dir(&format!("pg-changes-{name}")),
            &[],
            &["127.0.0.1:0"],
            &["--config", cfg.to_str().unwrap()],
        )
    };
    let (east, west) = (start("east"), start("west"));
    let announce = |server: &Server, hash: &str, port: u16| {
        let url = format!("http://{}/announce", server.http_addr(false));
        common::announce_cli(&url, hash, port, "started", [10, 0, 0])
            .status
            .success()
    };
    let admin = |server: &Server, method: &str, path: &str, body: &str| {
        common::admin_request(server.http_addr(false), TOKEN, method, path, body)
    };
    let denied = "d3".repeat(20);
    assert!(announce(&west, &denied, 7001));
    let (status, body) = admin(
        &east,
        "POST",
        "/api/admin/access-list",
        &format!("{{\"info_hash\":\"{denied}\"}}"),
    );
    assert_eq!(status, 201, "{body}");
    let took = common::within(
        "a deny entry added on east refuses the torrent on west",
        || !announce(&west, &denied, 7002),
    );
    eprintln!("east's access-list entry applied on west after {took:?}");
    let (status, body) = admin(
        &west,
        "DELETE",
        &format!("/api/admin/access-list/{denied}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    common::within("its removal on west lets it back in on east", || {
        announce(&east, &denied, 7003)
    });

    // A swarm both nodes hold, removed by an admin of one.
    let gone = "5e".repeat(20);
    assert!(announce(&east, &gone, 7004) && announce(&west, &gone, 7005));
    let (status, body) = admin(&east, "DELETE", &format!("/api/admin/torrents/{gone}"), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"other_nodes_told\":true"), "{body}");
    common::within("the swarm removed on east is gone on west", || {
        common::scrape_counts(&west, &gone) == (0, 0)
    });
    assert_eq!(common::scrape_counts(&east, &gone), (0, 0));
    drop((east, west));
    let _ = std::fs::remove_dir_all(&cfg_dir);
}

/// A TCP relay to PostgreSQL that the test can cut: while cut, open connections are
/// shut and new ones closed at once, as when the database's host goes away.
struct Relay {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn to(upstream: u16) -> Relay {
        use std::sync::atomic::Ordering::Relaxed;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = Relay {
            port,
            cut: Default::default(),
            open: Default::default(),
        };
        let (cut, open) = (relay.cut.clone(), relay.open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if cut.load(Relaxed) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let mut list = open.lock().unwrap();
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                list.extend([client, server]);
            }
        });
        relay
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::Relaxed);
        if cut {
            for s in self.open.lock().unwrap().drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// PostgreSQL goes away under a private node: announces keep working with the passkeys
/// it knows (an unknown one is still refused), `/health/ready` names the store as
/// degraded, credits and completions wait in memory; once the database is back they are
/// written, once, and the node is ready again.
#[test]
fn a_node_serves_while_postgresql_is_away_and_writes_once_it_is_back() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let url = pg.database("shoal_postgres_away");
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let relay = Relay::to(port);
    let relayed = url.replace(&format!(":{port}/"), &format!(":{}/", relay.port));
    let cfg_dir = temp_dir("pg-away-cfg");
    let write_cfg = |name: &str, url: &str| {
        let cfg = cfg_dir.join(name);
        std::fs::write(
            &cfg,
            format!(
                "[tracker]\nmode = \"private\"\n[store]\nurl = \"{url}\"\nflush_interval = 1\n[catalog]\nenabled = false\n"
            ),
        )
        .unwrap();
        cfg
    };
    let (direct, via_relay) = (
        write_cfg("direct.toml", &url),
        write_cfg("relay.toml", &relayed),
    );
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", direct.to_str().unwrap()]);
        ok(&shoal_in(&cfg_dir, &all)).trim().to_owned()
    };
    let key = cli(&["user", "add", "alice"]);
    let server = Server::start_in(
        temp_dir("pg-away"),
        &[],
        &["127.0.0.1:0"],
        &["--config", via_relay.to_str().unwrap()],
    );
    let addr = server.http_addr(false);
    let hash = "a5".repeat(20);
    let announce = |key: &str, event: &str, left: u64, up: u64| {
        let url = format!("http://{addr}/announce/{key}");
        common::announce_cli(&url, &hash, 6881, event, [left, up, 0])
    };
    assert!(announce(&key, "started", 1024, 0).status.success());

    relay.set_cut(true);
    // Announces keep working with the passkeys the node knows.
    assert!(announce(&key, "none", 1024, 400 << 10).status.success());
    assert!(announce(&key, "completed", 0, 1 << 20).status.success());
    let stranger = "0123456789abcdef0123456789abcdef";
    assert!(!announce(stranger, "started", 10, 0).status.success());
    let body = common::eventually("the store reported degraded", || {
        let (status, body) = common::get(addr, "/health/ready");
        (status == 503).then_some(body)
    });
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["degraded"][0]["dependency"], "store", "{ready}");
    assert!(ready["pending_completed"].as_u64().unwrap() >= 1, "{ready}");
    let alice = || -> serde_json::Value {
        serde_json::from_str(&cli(&["user", "show", "alice", "--json"])).unwrap()
    };
    assert_eq!(alice()["uploaded"], 0, "nothing reached the database");
    std::thread::sleep(std::time::Duration::from_secs(2));

    relay.set_cut(false);
    common::eventually("ready again", || {
        (common::get(addr, "/health/ready").0 == 200).then_some(())
    });
    let a = common::eventually("the waiting credits written", || {
        let a = alice();
        (a["uploaded"] == 1 << 20).then_some(a)
    });
    assert_eq!(a["snatched"], 1, "{a}");
    // Written once: nothing more arrives with later flushes.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(alice()["uploaded"], 1 << 20);
    drop(server);
    // A node started on the database itself counts the completion once.
    let fresh = Server::start_in(
        temp_dir("pg-away-fresh"),
        &[],
        &["127.0.0.1:0"],
        &["--config", direct.to_str().unwrap()],
    );
    let out = Command::new(BIN)
        .args([
            "scrape",
            &format!("http://{}/announce/{key}", fresh.http_addr(false)),
            &hash,
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"][&hash]["completed"], 1, "{v}");
    drop(fresh);
    let _ = std::fs::remove_dir_all(&cfg_dir);
}

/// `[store] url` with TLS (`sslmode=verify-full` and the CA that signed the server's
/// certificate): the node's connections are encrypted, as the server itself reports;
/// a node given a CA that did not sign the server's certificate refuses to start
/// (exit 1, naming the store) rather than talk in the clear or to an impostor.
#[test]
fn a_node_reaches_postgresql_over_tls() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let ca = pg.tls_ca();
    if !common::e2e_tool(
        ca.is_some(),
        "openssl is not installed: the test PostgreSQL runs without TLS",
    ) {
        return;
    }
    let ca = ca.unwrap();
    let url = pg.database("shoal_tls");
    let dir = temp_dir("pg-tls");
    let (other_ca, _, _) = common::write_ca_and_cert(&dir, "other");
    let config = |name: &str, ca: &std::path::Path| {
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[store]\nurl = \"{url}?sslmode=verify-full&sslrootcert={}\"\n\
                 [cluster]\nnode_id = \"{name}\"\n[catalog]\nenabled = false\n",
                ca.display()
            ),
        )
        .unwrap();
        cfg
    };
    let cfg = config("tlsnode", &ca);
    let server = Server::start_in(
        temp_dir("pg-tls-node"),
        &[],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let encrypted = pg.query("shoal_tls", async |c| {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl)
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.application_name = 'shoal tlsnode'",
        )
        .fetch_one(c)
        .await
        .unwrap()
    });
    assert!(encrypted.0 > 0, "the node is connected");
    assert_eq!(
        encrypted.0, encrypted.1,
        "every connection of the node is encrypted"
    );
    drop(server);

    let bad = config("impostor", &other_ca);
    let out = Command::new(BIN)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--config",
            bad.to_str().unwrap(),
        ])
        .arg("--data-dir")
        .arg(temp_dir("pg-tls-bad"))
        .env("SHOAL_UDP__LISTEN", "[]")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("store"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

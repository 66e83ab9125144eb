//! Several nodes sharing swarms over NATS (`[cluster] nats`): a real `nats-server` the
//! test starts on loopback and real shoal nodes (skipped without nats-server unless
//! E2E_REQUIRED).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    e2e_tool, eventually_for, get, metric, on_path, scrape_counts as scrape, temp_dir, within,
    Nats, Server, BIN,
};

/// `shoal announce` over HTTP; its JSON answer.
fn announce(server: &Server, hash: &str, port: u16, event: &str, left: &str) -> serde_json::Value {
    let url = format!("http://{}/announce", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["announce", &url, "--info-hash", hash])
        .args([
            "--port",
            &port.to_string(),
            "--event",
            event,
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
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A seeder announcing only to node 1 is handed to a leecher announcing only to node 2
/// (and the other way) within a second or two; a third node that starts later knows
/// both before it serves (the snapshot on join); after `kill -9` of node 1 node 2 still
/// hands out its seeder until the seeder's time runs out; a stop on node 2 reaches node
/// 3; a node with another cluster key is not believed.
#[test]
fn nodes_share_swarms_over_nats() {
    if !e2e_tool(on_path("nats-server"), "nats-server is not installed") {
        return;
    }
    let nats = Nats::start();
    let cfg_dir = temp_dir("cluster-cfg");
    let config = |node: &str, secret: &str| {
        let path = cfg_dir.join(format!("{node}.toml"));
        std::fs::write(
            &path,
            format!(
                "[udp]\nconnection_id_secret = \"{secret}\"\n\
                 [cluster]\nnode_id = \"{node}\"\nnats = [\"nats://127.0.0.1:{}\"]\nsnapshot_timeout = 2\n\
                 [catalog]\nenabled = false\n",
                nats.port
            ),
        )
        .unwrap();
        path
    };
    let secret = "00112233445566778899aabbccddeeff";
    let start = |node: &str, secret: &str| {
        let cfg = config(node, secret);
        Server::start_in(
            temp_dir(&format!("cluster-{node}")),
            &[],
            &["127.0.0.1:0"],
            &["--config", cfg.to_str().unwrap()],
        )
    };
    let mut one = start("one", secret);
    let two = start("two", secret);
    let hash = "c1".repeat(20);

    announce(&one, &hash, 7001, "started", "0");
    let handed = within("node 1's seeder reaches node 2", || {
        let v = announce(&two, &hash, 7002, "started", "100");
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "127.0.0.1:7001")
    });
    eprintln!("seeder on node 1 handed out by node 2 after {handed:?}");
    within("node 2's leecher reaches node 1", || {
        scrape(&one, &hash) == (1, 1)
    });

    // Each node's own figures reach the other: /api/cluster, the metrics, the dashboard.
    let cluster = |s: &Server| -> serde_json::Value {
        let (status, body) = get(s.http_addr(false), "/api/cluster");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let v = eventually_for("both nodes' status", Duration::from_secs(5), || {
        let v = cluster(&two);
        (v["totals"]["nodes"] == 2 && v["totals"]["peers"] == 2).then_some(v)
    });
    assert_eq!(
        (&v["node"], &v["nats"]),
        (&"two".into(), &"connected".into()),
        "{v}"
    );
    let nodes = v["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(names, ["one", "two"]);
    // Each counts the peer that announced to it, not the other's.
    assert!(
        nodes.iter().all(|n| n["peers"] == 1 && n["live"] == true),
        "{v}"
    );
    assert_eq!(nodes[1]["this"], true);
    assert!(nodes[0]["announces"].as_u64().unwrap() >= 1);
    let addr = two.http_addr(false);
    assert_eq!(metric(addr, "shoal_cluster_connected"), 1);
    assert_eq!(metric(addr, "shoal_cluster_nodes"), 2);
    assert_eq!(metric(addr, "shoal_cluster_node_peers{node=\"one\"}"), 1);
    assert!(metric(addr, "shoal_cluster_published_total") >= 1);
    assert!(metric(addr, "shoal_cluster_published_bytes_total") > 0);
    assert!(metric(addr, "shoal_cluster_applied_total") >= 1);
    let (_, page) = get(addr, "/?lang=en");
    assert!(
        page.contains("Cluster</h2>") && page.contains(">one<"),
        "{page}"
    );

    // A node that starts now has both before it serves.
    let three = start("three", secret);
    assert_eq!(scrape(&three, &hash), (1, 1), "the snapshot on join");

    // A node keyed by another secret believes none of it, and is not believed.
    let stranger = start("stranger", "ffeeddccbbaa99887766554433221100");
    announce(&stranger, &hash, 7009, "started", "0");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(scrape(&stranger, &hash), (1, 0), "only its own peer");
    assert_eq!(
        scrape(&three, &hash),
        (1, 1),
        "the stranger's peer was not taken"
    );

    // Node 1 dies: its seeder stays on node 2 until its time runs out.
    let (status, _) = one.stop_with(libc::SIGKILL);
    assert!(!status.success());
    let v = announce(&two, &hash, 7002, "none", "100");
    assert!(
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "127.0.0.1:7001"),
        "{v}"
    );

    // The leecher stops on node 2: node 3 drops it.
    announce(&two, &hash, 7002, "stopped", "100");
    within("a stop on node 2 reaches node 3", || {
        scrape(&three, &hash) == (1, 0)
    });
    drop(two);
    drop(three);
    drop(stranger);
    let _ = std::fs::remove_dir_all(&cfg_dir);
}

/// NATS over TLS with a password: nodes that trust the server's certificate
/// (`cluster.nats_ca`) and know the password share swarms; a node that trusts another
/// certificate, and one with a wrong password, never join: each serves alone and says
/// NATS is degraded.
#[test]
fn nodes_reach_nats_over_tls_with_a_password() {
    if !e2e_tool(on_path("nats-server"), "nats-server is not installed") {
        return;
    }
    let dir = temp_dir("nats-tls");
    let (ca, cert, key) = common::write_ca_and_cert(&dir, "nats");
    let (other_ca, _, _) = common::write_ca_and_cert(&dir, "other");
    let nats = Nats::start_with(&[
        "--tls",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
        "--user",
        "shoal",
        "--pass",
        "s3cret",
    ]);
    let start = |node: &str, password: &str, ca: &std::path::Path| {
        let cfg = dir.join(format!("{node}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[udp]\nconnection_id_secret = \"00112233445566778899aabbccddeeff\"\n\
                 [cluster]\nnode_id = \"{node}\"\nnats = [\"tls://shoal:{password}@127.0.0.1:{}\"]\n\
                 nats_ca = {:?}\nsnapshot_timeout = 1\n[catalog]\nenabled = false\n",
                nats.port,
                ca.display().to_string()
            ),
        )
        .unwrap();
        Server::start_in(
            temp_dir(&format!("nats-tls-{node}")),
            &[],
            &["127.0.0.1:0"],
            &["--config", cfg.to_str().unwrap()],
        )
    };
    let one = start("one", "s3cret", &ca);
    let two = start("two", "s3cret", &ca);
    let untrusting = start("untrusting", "s3cret", &other_ca);
    let wrong = start("wrong", "guess", &ca);
    let hash = "7e".repeat(20);
    announce(&one, &hash, 7001, "started", "0");
    within("a seeder on node 1 reaches node 2 over TLS", || {
        scrape(&two, &hash) == (1, 0)
    });
    for outsider in [&untrusting, &wrong] {
        let (status, body) = get(outsider.http_addr(false), "/health/ready");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"dependency\":\"nats\""), "{body}");
        assert_eq!(scrape(outsider, &hash), (0, 0));
    }
    let (_, body) = get(two.http_addr(false), "/health/ready");
    assert_eq!(body.trim(), "{\"ready\":true}");
    drop((one, two, untrusting, wrong));
    let _ = std::fs::remove_dir_all(&dir);
}

/// NATS down: a node starts within its snapshot timeout, serves from its own state,
/// and stops promptly (nothing waits on NATS), logging its link's totals.
#[test]
fn a_node_serves_alone_while_nats_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again: nobody listens there
    let cfg_dir = temp_dir("cluster-down-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[udp]\nconnection_id_secret = \"00112233445566778899aabbccddeeff\"\n\
             [cluster]\nnode_id = \"alone\"\nnats = [\"nats://127.0.0.1:{port}\"]\nsnapshot_timeout = 1\n\
             [catalog]\nenabled = false\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut node = Server::start_in(
        temp_dir("cluster-down"),
        &[],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let hash = "d0".repeat(20);
    announce(&node, &hash, 7001, "started", "0");
    std::thread::sleep(Duration::from_millis(600));
    let v = announce(&node, &hash, 7002, "started", "10");
    assert_eq!(v["peers"], serde_json::json!(["127.0.0.1:7001"]));
    // Ready (it serves), with NATS named as degraded.
    let (status, body) = get(node.http_addr(false), "/health/ready");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["degraded"][0]["dependency"], "nats", "{ready}");
    assert_eq!(metric(node.http_addr(false), "shoal_cluster_connected"), 0);
    let stopping = Instant::now();
    let (status, log) = node.stop_with(libc::SIGTERM);
    assert!(status.success());
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    assert!(
        log.iter().any(|l| l.contains("cluster totals published=")),
        "{log:?}"
    );
    let _ = std::fs::remove_dir_all(&cfg_dir);
}

/// One node of [`three_nodes_share_swarms_accounts_and_counts`]: its loopback address,
/// fixed ports (a restarted node comes back where clients expect it) and config file.
struct Spot {
    name: String,
    ip: String,
    http: u16,
    udp: u16,
    cfg: std::path::PathBuf,
}

impl Spot {
    fn new(i: u8, dir: &std::path::Path, config: &str) -> Spot {
        let ip = format!("127.0.0.{}", i + 1);
        let tcp = std::net::TcpListener::bind((ip.as_str(), 0)).unwrap();
        let udp = std::net::UdpSocket::bind((ip.as_str(), 0)).unwrap();
        let name = format!("node-{i}");
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "{config}[cluster]\nnode_id = \"{name}\"\n{}",
                NATS_LINE.get().unwrap()
            ),
        )
        .unwrap();
        Spot {
            http: tcp.local_addr().unwrap().port(),
            udp: udp.local_addr().unwrap().port(),
            name,
            ip,
            cfg,
        }
    }

    fn start(&self) -> Server {
        Server::start_in(
            temp_dir(&format!("three-{}", self.name)),
            &[&format!("{}:{}", self.ip, self.udp)],
            &[&format!("{}:{}", self.ip, self.http)],
            &["--config", self.cfg.to_str().unwrap()],
        )
    }

    fn http_url(&self, key: &str) -> String {
        format!("http://{}:{}/announce/{key}", self.ip, self.http)
    }

    fn udp_url(&self, key: &str) -> String {
        format!("udp://{}:{}/announce/{key}", self.ip, self.udp)
    }
}

/// The `nats = [...]` line every node's config shares.
static NATS_LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `shoal scrape` of `hash` at `url` (a passkey announce URL): seeders, leechers and
/// completed downloads.
fn scrape_at(url: &str, hash: &str) -> (u64, u64, u64) {
    let out = Command::new(BIN)
        .args(["scrape", url, hash])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let e = &v["files"][hash];
    let n = |k: &str| e[k].as_u64().unwrap_or(0);
    (n("seeders"), n("leechers"), n("completed"))
}

/// `shoal announce` at `url`; `Err` with the tracker's failure reason when refused.
fn announce_at(url: &str, hash: &str, port: u16, event: &str) -> Result<(), String> {
    let out = common::announce_cli(url, hash, port, event, [100, 0, 0]);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The scenario, loopback only, with real processes: nats-server, PostgreSQL and
/// three private-mode nodes on 127.0.0.2/3/4 sharing both.
///
/// - A python3-libtorrent seeder announcing only to node 1 (HTTP) and a leecher
///   announcing only to node 2 (UDP) complete a transfer; node 3's scrape shows both
///   peers within 2 s of node 2 having the leecher.
/// - `kill -9` of node 1: a second leecher, announcing only to node 3, still gets the
///   seeder (from what node 1 had published) and completes.
/// - A ban made on node 2's admin page refuses the account on node 3 within 1 s.
/// - After a restart of all three, every node reports the completions made on every
///   node, and the accounts hold what each node credited: both downloads, and the
///   seeder's upload as far as node 1 heard of it before it died.
#[test]
fn three_nodes_share_swarms_accounts_and_counts() {
    if !e2e_tool(on_path("nats-server"), "nats-server is not installed")
        || !common::libtorrent::libtorrent_or_skip()
    {
        return;
    }
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    use common::libtorrent::{finish_leech, reannounce, seeder, spawn_leech};
    let url = pg.database("three_nodes");
    let nats = Nats::start();
    let _ = NATS_LINE.set(format!("nats = [\"nats://127.0.0.1:{}\"]\n", nats.port));
    let dir = temp_dir("three-cfg");
    let config = format!(
        "[tracker]\nmode = \"private\"\n[store]\nurl = \"{url}\"\nflush_interval = 1\n\
         [udp]\nconnection_id_secret = \"00112233445566778899aabbccddeeff\"\n\
         [catalog]\nenabled = false\n"
    );
    let spots: Vec<Spot> = (1..=3).map(|i| Spot::new(i, &dir, &config)).collect();
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", spots[0].cfg.to_str().unwrap()]);
        common::ok(&common::shoal_in(&dir, &all)).trim().to_owned()
    };
    let (alice, bob, carol) = (
        cli(&["user", "add", "alice"]),
        cli(&["user", "add", "bob"]),
        cli(&["user", "add", "carol"]),
    );
    let admin_cfg = ["--config", spots[1].cfg.to_str().unwrap()];
    common::ok(&common::shoal_stdin(
        &dir,
        &[
            &["user", "add", "root", "--role", "admin", "--password-stdin"][..],
            &admin_cfg,
        ]
        .concat(),
        b"a long admin password\n",
    ));
    let account = |name: &str| -> serde_json::Value {
        serde_json::from_str(&cli(&["user", "show", name, "--json"])).unwrap()
    };

    let mut nodes: Vec<Option<Server>> = spots.iter().map(|s| Some(s.start())).collect();

    // A seeder announcing only to node 1; node 3 knows it within 2 s.
    let seed_dir = temp_dir("three-seed");
    let (mut seeding, seeded) = seeder(&[
        "--dir".as_ref(),
        seed_dir.as_ref(),
        "--name".as_ref(),
        "cluster payload".as_ref(),
        "--size-kib".as_ref(),
        "20480".as_ref(),
        "--tracker".as_ref(),
        spots[0].http_url(&alice).as_ref(),
    ]);
    let hash = seeded["v1"].as_str().unwrap().to_owned();
    let torrent = std::path::PathBuf::from(seeded["torrent"].as_str().unwrap());
    let on = |i: usize, key: &str| spots[i].http_url(key);
    within("node 1's seeder reaches node 3", || {
        scrape_at(&on(2, &carol), &hash).0 == 1
    });

    // A leecher announcing only to node 2 (UDP), slowed so both peers are there a while.
    let leech_dir = temp_dir("three-leech-bob");
    let bob_leech = spawn_leech(&torrent, &spots[1].udp_url(&bob), &leech_dir, 5120);
    let t0 = Instant::now();
    while scrape_at(&on(1, &bob), &hash).1 == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "bob never reached node 2"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let on_two = Instant::now();
    let (seeders, leechers, _) = eventually_for(
        "node 3 shows both peers within 2 s of node 2",
        Duration::from_secs(2),
        || {
            let s = scrape_at(&on(2, &carol), &hash);
            (s.0 + s.1 == 2).then_some(s)
        },
    );
    eprintln!(
        "node 3 showed {seeders} seeder(s) and {leechers} leecher(s) {:?} after node 2 had the leecher",
        on_two.elapsed()
    );
    let bob_moved = finish_leech(bob_leech);

    // The seeder tells node 1 its totals: Alice's upload to Bob is credited there.
    let told = reannounce(&mut seeding);
    assert!(told >= bob_moved.moved, "the seeder uploaded {told}");
    let close = |got: u64, want: u64| got.abs_diff(want) <= bob_moved.piece;
    eventually_for(
        "node 1 and node 2 credited the transfer",
        Duration::from_secs(5),
        || {
            (close(account("alice")["uploaded"].as_u64().unwrap(), told)
                && close(
                    account("bob")["downloaded"].as_u64().unwrap(),
                    bob_moved.moved,
                ))
            .then_some(())
        },
    );

    // Node 1 dies: a leecher announcing only to node 3 still finds the seeder.
    let (status, _) = nodes[0].as_mut().unwrap().stop_with(libc::SIGKILL);
    assert!(!status.success());
    nodes[0] = None;
    let carol_dir = temp_dir("three-leech-carol");
    let carol_moved = finish_leech(spawn_leech(
        &torrent,
        &spots[2].http_url(&carol),
        &carol_dir,
        0,
    ));
    eventually_for(
        "node 3 credited carol's download",
        Duration::from_secs(5),
        || {
            close(
                account("carol")["downloaded"].as_u64().unwrap(),
                carol_moved.moved,
            )
            .then_some(())
        },
    );

    // A ban made on node 2's admin page: node 3 refuses the account within 1 s.
    assert!(announce_at(&on(2, &bob), &hash, 7100, "started").is_ok());
    let web = std::net::SocketAddr::new(spots[1].ip.parse().unwrap(), spots[1].http);
    let cookie = common::site::session(web, "root", "a+long+admin+password");
    let page = common::site::request(web, "GET", "/admin?q=bob", &cookie, "");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = common::site::form_csrf(&page.body);
    let bob_id = account("bob")["id"].as_u64().unwrap();
    let banned = common::site::request(
        web,
        "POST",
        &format!("/admin/user/{bob_id}"),
        &cookie,
        &format!("csrf={csrf}&action=ban"),
    );
    assert_eq!(banned.status, 303, "{}", banned.body);
    let ban_at = Instant::now();
    eventually_for(
        "node 3 refuses the banned account within 1 s",
        Duration::from_secs(1),
        || {
            announce_at(&on(2, &bob), &hash, 7100, "none")
                .is_err()
                .then_some(())
        },
    );
    eprintln!(
        "the ban made on node 2 reached node 3 after {:?}",
        ban_at.elapsed()
    );

    // Everything stops (the seeder last told node 1, now gone) and starts again.
    drop(seeding.stdin.take());
    let _ = seeding.wait();
    for n in nodes.iter_mut() {
        if let Some(mut s) = n.take() {
            let (status, _) = s.stop_with(libc::SIGTERM);
            assert!(status.success());
        }
    }
    let nodes: Vec<Server> = spots.iter().map(Spot::start).collect();
    for (i, _) in nodes.iter().enumerate() {
        let (_, _, completed) = scrape_at(&on(i, &carol), &hash);
        assert_eq!(completed, 2, "node {} counts both completions", i + 1);
    }
    let (a, b, c) = (account("alice"), account("bob"), account("carol"));
    assert!(close(a["uploaded"].as_u64().unwrap(), told), "{a}");
    assert!(
        close(b["downloaded"].as_u64().unwrap(), bob_moved.moved),
        "{b}"
    );
    assert!(
        close(c["downloaded"].as_u64().unwrap(), carol_moved.moved),
        "{c}"
    );
    assert_eq!(
        (b["snatched"].as_u64(), c["snatched"].as_u64()),
        (Some(1), Some(1))
    );
    drop(nodes);
    for d in [seed_dir, leech_dir, carol_dir, dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

//! Several nodes sharing swarms over NATS (`[cluster] nats`): a real `nats-server` the
//! test starts on loopback and real shoal nodes (skipped without nats-server unless
//! E2E_REQUIRED).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{e2e_tool, on_path, scrape_counts as scrape, temp_dir, within, Server, BIN};

/// A nats-server of our own, stopped by its PID when dropped.
struct Nats {
    child: Child,
    port: u16,
}

impl Nats {
    fn start() -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats { child, port }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

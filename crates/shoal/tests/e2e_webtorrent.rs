//! End to end with real WebTorrent clients from npm (tests/e2e/webtorrent, installed by
//! scripts/test): each client runs in its own node process and meets the other only
//! through shoal's WebSocket tracker, then they talk over a real WebRTC data channel.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Server;

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/webtorrent")
}

/// Whether node and the WebTorrent clients from npm are installed; skips or fails as
/// `common::e2e_tool` says otherwise.
fn have_clients() -> bool {
    let dir = scripts();
    common::e2e_tool(
        common::on_path("node"),
        "node is not installed (apt-get install nodejs npm)",
    ) && common::e2e_tool(
        dir.join("node_modules/bittorrent-tracker").exists()
            && dir.join("node_modules/webtorrent").exists(),
        &format!(
            "the WebTorrent clients are not installed: run `bash scripts/test` (it installs \
             them) or `npm ci --ignore-scripts` in {}",
            dir.display()
        ),
    )
}

fn node(args: &[&str]) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(scripts())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` up to `limit`, killing it past that.
fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish in {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ws_stat(server: &Server, key: &str) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.http_addr(false)).unwrap();
    write!(
        s,
        "GET /api/stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let v: serde_json::Value = serde_json::from_str(raw.split_once("\r\n\r\n").unwrap().1).unwrap();
    v["webtorrent"][key].as_u64().unwrap()
}

#[test]
fn tracker_clients_open_a_webrtc_data_channel_through_shoal() {
    if !have_clients() {
        return;
    }
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let url = format!("ws://{}/announce", server.http_addr(false));
    let hash = random_hex(20);
    let alice = node(&["signal.mjs", &url, &hash, "alice", "bob"])
        .spawn()
        .expect("run node");
    // Bob comes second, so his offers find Alice in the swarm (the counter moves once
    // her announce has joined it).
    common::eventually("alice announced", || {
        (ws_stat(&server, "announces") >= 1).then_some(())
    });
    let bob = node(&["signal.mjs", &url, &hash, "bob", "alice"])
        .spawn()
        .expect("run node");
    for (child, name, other) in [(alice, "alice", "bob"), (bob, "bob", "alice")] {
        let out = finish(child, Duration::from_secs(90), name);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("received hello from {other}")),
            "{name} failed: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(ws_stat(&server, "offers_relayed") >= 1);
    assert!(ws_stat(&server, "answers_relayed") >= 1);
}

#[test]
fn webtorrent_downloads_a_file_from_a_webtorrent_seeder_through_shoal() {
    if !have_clients() {
        return;
    }
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let url = format!("ws://{}/announce", server.http_addr(false));
    let dir = common::temp_dir("webtorrent-e2e");
    let seed_dir = dir.join("seed");
    let mut seeder = node(&["transfer.mjs", "seed", &url, seed_dir.to_str().unwrap()])
        .spawn()
        .expect("run node");
    // The seeder prints "seeding <info-hash> <sha256>" once the torrent is announced.
    let mut lines = BufReader::new(seeder.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(lines.next());
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(l))) => l,
        other => {
            let _ = seeder.kill();
            let out = seeder.wait_with_output().unwrap();
            panic!(
                "seeder did not start: {other:?}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{line}");
    let sha = fields[2];
    let leech_dir = dir.join("leech");
    let leecher = node(&[
        "transfer.mjs",
        "leech",
        &url,
        seed_dir.join("data.torrent").to_str().unwrap(),
        leech_dir.to_str().unwrap(),
        sha,
    ])
    .spawn()
    .expect("run node");
    let out = finish(leecher, Duration::from_secs(100), "leecher");
    let _ = seeder.kill();
    let seed_out = seeder.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("done {sha} over webrtc")),
        "leecher failed: {}\nstdout: {stdout}\nstderr: {}\nseeder stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&seed_out.stderr)
    );
    assert!(ws_stat(&server, "answers_relayed") >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

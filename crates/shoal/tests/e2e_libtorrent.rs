//! Two real libtorrent clients (python3-libtorrent) find each other only through shoal
//! and transfer a file. DHT, LSD, PeX, UPnP, NAT-PMP and uTP are off in the script.

mod common;

use std::process::Command;

use common::Server;

fn run_swarm(tracker: &str, hybrid: bool) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/libtorrent_swarm.py"
    );
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .args(["--tracker", tracker, "--size-mib", "4", "--timeout", "90"]);
    if hybrid {
        cmd.arg("--hybrid");
    }
    let out = cmd
        .output()
        .expect("run /usr/bin/python3 (install python3-libtorrent: see .ci/run)");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "libtorrent swarm failed:\n{log}");
    assert!(log.contains("PASS"), "{log}");
}

#[test]
fn libtorrent_seeder_and_leecher_meet_over_udp() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    run_swarm(&format!("udp://{}/announce", server.udp_addr(false)), false);
}

#[test]
fn libtorrent_hybrid_torrent_over_udp() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    run_swarm(&format!("udp://{}/announce", server.udp_addr(false)), true);
}

#[test]
fn libtorrent_seeder_and_leecher_meet_over_http() {
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    run_swarm(
        &format!("http://{}/announce", server.http_addr(false)),
        false,
    );
}

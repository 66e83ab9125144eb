//! Real BitTorrent clients find each other only through shoal and transfer a file: a
//! libtorrent seeder (python3-libtorrent) and a libtorrent, aria2 or Transmission
//! leecher. DHT, LSD, PeX, UPnP, NAT-PMP and uTP are off in the script (aria2 needs its
//! DHT socket for udp:// trackers; the script gives it no routing table).

mod common;

use std::process::Command;

use common::Server;

/// Whether python3-libtorrent (the seeder, and the leecher by default) and the named
/// other leechers are installed; skips or fails as `common::e2e_tool` says otherwise.
fn have(leechers: &[&str]) -> bool {
    common::e2e_tool(
        common::python_has("libtorrent"),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    ) && leechers.iter().all(|l| {
        let (program, package) = match *l {
            "aria2" => ("aria2c", "aria2"),
            "transmission" => ("transmission-cli", "transmission-cli"),
            other => panic!("unknown leecher {other}"),
        };
        common::e2e_tool(
            common::on_path(program),
            &format!("{program} is not installed (apt-get install {package})"),
        )
    })
}

fn run_swarm(tracker: &str, hybrid: bool) {
    run_with(tracker, hybrid, "libtorrent", None)
}

fn run_with(tracker: &str, hybrid: bool, leecher: &str, ca_file: Option<&std::path::Path>) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/libtorrent_swarm.py"
    );
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .args(["--tracker", tracker, "--size-mib", "4", "--timeout", "90"])
        .args(["--leecher", leecher]);
    if hybrid {
        cmd.arg("--hybrid");
    }
    if let Some(ca) = ca_file {
        cmd.arg("--ca-file").arg(ca);
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
    if !have(&[]) {
        return;
    }
    let server = Server::start(&["127.0.0.1:0"], &[]);
    run_swarm(&format!("udp://{}/announce", server.udp_addr(false)), false);
}

#[test]
fn libtorrent_hybrid_torrent_over_udp() {
    if !have(&[]) {
        return;
    }
    let server = Server::start(&["127.0.0.1:0"], &[]);
    run_swarm(&format!("udp://{}/announce", server.udp_addr(false)), true);
}

#[test]
fn libtorrent_seeder_and_leecher_meet_over_http() {
    if !have(&[]) {
        return;
    }
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    run_swarm(
        &format!("http://{}/announce", server.http_addr(false)),
        false,
    );
}

#[test]
fn aria2_leecher_over_http_and_udp() {
    if !have(&["aria2"]) {
        return;
    }
    let server = Server::start_with(&["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    run_with(
        &format!("http://{}/announce", server.http_addr(false)),
        false,
        "aria2",
        None,
    );
    run_with(
        &format!("udp://{}/announce", server.udp_addr(false)),
        false,
        "aria2",
        None,
    );
}

#[test]
fn transmission_leecher_over_http() {
    if !have(&["transmission"]) {
        return;
    }
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    run_with(
        &format!("http://{}/announce", server.http_addr(false)),
        false,
        "transmission",
        None,
    );
}

#[test]
fn libtorrent_and_aria2_over_https_with_a_trusted_self_signed_certificate() {
    if !have(&["aria2"]) {
        return;
    }
    let dir = common::temp_dir("e2e-tls");
    let (cert, key) = common::write_cert(&dir, "e2e");
    let server = common::start_tls(&cert, &key);
    let url = format!("https://{}/announce", server.tls[0]);
    run_with(&url, false, "libtorrent", Some(&cert));
    run_with(&url, false, "aria2", Some(&cert));
}

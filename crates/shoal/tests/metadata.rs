//! `shoal metadata fetch`: from a real libtorrent seeder (python3-libtorrent) to a
//! `.torrent` whose info-hash matches; bad input exits 2, a failed fetch 1.

mod common;

#[path = "../../peer/tests/seeder/mod.rs"]
mod seeder;

use std::process::Command;

use seeder::Seeder;
use shoal_bencode::{decode, decode_prefix, Value};

/// The raw bytes of a top-level key's value in a bencoded dict.
fn raw_value<'a>(dict: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut pos = 1;
    while dict.get(pos) != Some(&b'e') {
        let (k, used) = decode_prefix(&dict[pos..]).ok()?;
        pos += used;
        let (_, used) = decode_prefix(&dict[pos..]).ok()?;
        if k.as_bytes() == Some(key) {
            return Some(&dict[pos..pos + used]);
        }
        pos += used;
    }
    None
}

fn sha1_hex(b: &[u8]) -> String {
    let d = <sha1::Sha1 as sha1::Digest>::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn shoal(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    Command::new(common::BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn metadata_fetch_writes_a_torrent_whose_info_hash_matches() {
    if !common::e2e_tool(
        seeder::have_libtorrent(),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    ) {
        return;
    }
    let dir = common::temp_dir("metadata-fetch");
    let seeder = Seeder::start(&dir, "hybrid", 200, "Nested ünïcode");
    let v1 = seeder.v1.clone().unwrap();
    let peer = format!("127.0.0.1:{}", seeder.port);
    let tracker = "udp://127.0.0.1:6969/announce";
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=x&tr={}",
        v1,
        tracker.replace(':', "%3A").replace('/', "%2F")
    );
    let out_file = dir.join("out.torrent");
    let out = shoal(
        &[
            "metadata",
            "fetch",
            &magnet,
            "--peer",
            &peer,
            "-o",
            "out.torrent",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["matched"], "v1");
    assert_eq!(report["name"], seeder.name.as_str());
    let torrent = std::fs::read(&out_file).unwrap();
    let info = raw_value(&torrent, b"info").expect("an info dict");
    assert_eq!(sha1_hex(info), v1);
    let t = decode(&torrent).unwrap();
    assert_eq!(t.get(b"announce").and_then(Value::as_str), Some(tracker));
    let tiers = t.get(b"announce-list").and_then(Value::as_list).unwrap();
    assert_eq!(tiers[0].as_list().unwrap()[0].as_str(), Some(tracker));

    // Without -o: NAME.torrent in the current directory, from the bare hash.
    let cwd = common::temp_dir("metadata-fetch-cwd");
    let out = shoal(&["metadata", "fetch", &v1, "--peer", &peer], &cwd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let torrent = std::fs::read(cwd.join(format!("{}.torrent", seeder.name))).unwrap();
    assert_eq!(sha1_hex(raw_value(&torrent, b"info").unwrap()), v1);
    assert_eq!(decode(&torrent).unwrap().get(b"announce"), None);
    let _ = std::fs::remove_dir_all(&cwd);
    drop(seeder);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn metadata_fetch_bad_input_exits_2_naming_the_value() {
    let cwd = common::temp_dir("metadata-bad");
    let hex = "0123456789abcdef0123456789abcdef01234567";
    for (args, needle) in [
        (vec!["nothex", "--peer", "127.0.0.1:1"], "nothex"),
        (vec!["magnet:?dn=x", "--peer", "127.0.0.1:1"], "magnet"),
        (vec![hex, "--peer", "nonsense"], "nonsense"),
        (
            vec![hex, "--peer", "127.0.0.1:1", "--timeout", "0"],
            "--timeout",
        ),
    ] {
        let out = shoal(&[&["metadata", "fetch"][..], &args].concat(), &cwd);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn metadata_fetch_from_a_closed_port_exits_1_with_the_reason() {
    let cwd = common::temp_dir("metadata-refused");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let peer = format!("127.0.0.1:{port}");
    let hex = "0123456789abcdef0123456789abcdef01234567";
    let out = shoal(&["metadata", "fetch", hex, "--peer", &peer], &cwd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("(connect)") && err.contains(&peer), "{err}");
    assert!(
        std::fs::read_dir(&cwd).unwrap().next().is_none(),
        "no file written"
    );
    let _ = std::fs::remove_dir_all(&cwd);
}

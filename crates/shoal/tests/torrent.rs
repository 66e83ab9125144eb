//! `shoal torrent create|show|magnet`: torrents made by shoal load in libtorrent
//! (python3-libtorrent), which reports the same info-hashes, name and files and
//! finds every piece of the data valid; show and magnet print what the file holds;
//! bad input exits 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{temp_dir, BIN};
use serde_json::Value;

fn shoal(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run shoal")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A temporary directory, removed when dropped.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Temp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

/// A directory with nested folders, a non-ASCII name, an empty file, and files
/// smaller and larger than a piece; returns (parent, the directory).
fn content() -> (Temp, PathBuf) {
    let parent = Temp(temp_dir("torrent"));
    let dir = parent.join("Données 音楽");
    let mut seed = 7u32;
    let mut bytes = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect()
    };
    for (rel, size) in [
        ("a.txt", 1000),
        ("sub/big.bin", 150_000),
        ("sub/deeper/c.dat", 16384),
        ("sub/deeper/empty", 0),
        ("файл.txt", 33_333),
    ] {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes(size)).unwrap();
    }
    (parent, dir)
}

/// What libtorrent says about `torrent` when it checks the data under `save`.
const CHECK: &str = r#"
import json, sys, time
import libtorrent as lt
path, save = sys.argv[1], sys.argv[2]
ti = lt.torrent_info(path)
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False})
p = lt.add_torrent_params()
p.ti = ti
p.save_path = save
h = s.add_torrent(p)
deadline = time.time() + 30
while time.time() < deadline:
    st = h.status()
    if st.state == lt.torrent_status.seeding or st.errc.value() != 0:
        break
    time.sleep(0.05)
hs = ti.info_hashes()
fs = ti.files()
files = [[fs.file_path(i), fs.file_size(i)] for i in range(fs.num_files())
         if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
print(json.dumps({
    "v1": str(hs.v1) if hs.has_v1() else None,
    "v2": str(hs.v2) if hs.has_v2() else None,
    "name": ti.name(), "files": files, "seeding": st.state == lt.torrent_status.seeding,
    "error": st.errc.message() if st.errc.value() else None,
}))
"#;

fn have_libtorrent() -> bool {
    common::e2e_tool(
        common::python_has("libtorrent"),
        "python3-libtorrent is not installed (apt-get install python3-libtorrent)",
    )
}

fn libtorrent_check(torrent: &Path, save: &Path) -> Value {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", CHECK])
        .arg(torrent)
        .arg(save)
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "libtorrent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn show_json(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&ok(&shoal(dir, &["torrent", "show", file, "--json"]))).unwrap()
}

#[test]
fn created_torrents_load_in_libtorrent_with_the_same_hashes_and_valid_pieces() {
    if !have_libtorrent() {
        return;
    }
    let (parent, dir) = content();
    let d = dir.to_str().unwrap();
    for (flag, v1, v2) in [
        ("--v1", true, false),
        ("--v2", false, true),
        ("--hybrid", true, true),
    ] {
        let file = format!("out{flag}.torrent");
        let args = [
            "torrent",
            "create",
            d,
            flag,
            "--tracker",
            "udp://127.0.0.1:9/announce",
            "--piece-length",
            "16K",
            "-o",
            &file,
        ];
        let printed = ok(&shoal(&parent, &args));
        let ours = show_json(&parent, &file);
        let lt = libtorrent_check(&parent.join(&file), &parent);
        assert_eq!(lt["error"], Value::Null, "{flag}: {lt}");
        assert_eq!(
            lt["seeding"], true,
            "{flag}: libtorrent found bad pieces: {lt}"
        );
        assert_eq!(ours["info_hash_v1"], lt["v1"], "{flag}");
        assert_eq!(ours["info_hash_v2"], lt["v2"], "{flag}");
        assert_eq!(ours["info_hash_v1"].is_string(), v1, "{flag}");
        assert_eq!(ours["info_hash_v2"].is_string(), v2, "{flag}");
        assert_eq!(ours["name"], "Données 音楽");
        assert_eq!(ours["name"], lt["name"]);
        assert!(printed.contains(lt["v1"].as_str().or(lt["v2"].as_str()).unwrap()));
        // libtorrent lists files under the torrent's name; ours are relative to it.
        let mut lt_files: Vec<(String, u64)> = lt["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f[0].as_str().unwrap().to_owned(), f[1].as_u64().unwrap()))
            .collect();
        let mut our_files: Vec<(String, u64)> = ours["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let parts: Vec<&str> = f["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                (
                    format!("Données 音楽/{}", parts.join("/")),
                    f["size"].as_u64().unwrap(),
                )
            })
            .collect();
        lt_files.sort();
        our_files.sort();
        assert_eq!(our_files, lt_files, "{flag}");
        assert_eq!(ours["size"], 1000 + 150_000 + 16384 + 33_333);
        assert_eq!(ours["file_count"], 5);
    }
}

#[test]
fn a_single_file_v2_torrent_with_default_piece_length_checks_in_libtorrent() {
    if !have_libtorrent() {
        return;
    }
    let (parent, dir) = content();
    let f = dir.join("sub/big.bin");
    let o = shoal(
        &parent,
        &[
            "torrent",
            "create",
            f.to_str().unwrap(),
            "--v2",
            "--private",
        ],
    );
    ok(&o);
    let ours = show_json(&parent, "big.bin.torrent");
    assert_eq!(ours["private"], true);
    assert_eq!(ours["piece_length"], 16384);
    assert_eq!(ours["trackers"], serde_json::json!([]));
    let lt = libtorrent_check(&parent.join("big.bin.torrent"), &dir.join("sub"));
    assert_eq!(lt["seeding"], true, "{lt}");
    assert_eq!(ours["info_hash_v2"], lt["v2"]);
    assert_eq!(ours["files"][0]["path"], serde_json::json!(["big.bin"]));
}

#[test]
fn show_and_magnet_print_what_the_file_holds() {
    let (parent, dir) = content();
    let args = [
        "torrent",
        "create",
        dir.to_str().unwrap(),
        "--tracker",
        "udp://127.0.0.1:9/announce",
        "--tracker",
        "http://127.0.0.1:9/announce",
        "--comment",
        "hello",
        "-o",
        "h.torrent",
    ];
    ok(&shoal(&parent, &args));
    let j = show_json(&parent, "h.torrent");
    assert_eq!(j["version"], "hybrid", "hybrid is the default");
    assert_eq!(j["comment"], "hello");
    assert_eq!(
        j["trackers"],
        serde_json::json!(["udp://127.0.0.1:9/announce", "http://127.0.0.1:9/announce"])
    );
    let v1 = j["info_hash_v1"].as_str().unwrap();
    let v2 = j["info_hash_v2"].as_str().unwrap();
    let text = ok(&shoal(&parent, &["torrent", "show", "h.torrent"]));
    for want in [
        "name: Données 音楽",
        v1,
        v2,
        "tracker: udp://127.0.0.1:9/announce",
        "sub/big.bin",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    let magnet = ok(&shoal(&parent, &["torrent", "magnet", "h.torrent"]));
    let magnet = magnet.trim();
    assert!(magnet.starts_with(&format!("magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}")));
    assert!(magnet.contains("&tr=udp%3A%2F%2F127.0.0.1%3A9%2Fannounce"));
    let m: Value =
        serde_json::from_str(&ok(&shoal(&parent, &["torrent", "show", magnet, "--json"]))).unwrap();
    assert_eq!(m["info_hash_v1"], v1);
    assert_eq!(m["info_hash_v2"], v2);
    assert_eq!(m["name"], "Données 音楽");
    assert_eq!(m["size"], j["size"]);
}

fn exits_2(dir: &Path, args: &[&str], must_contain: &str) {
    let o = shoal(dir, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(must_contain), "{must_contain:?} in {err}");
}

#[test]
fn bad_input_exits_2_naming_it() {
    let (parent, dir) = content();
    let d = dir.to_str().unwrap();
    exits_2(
        &parent,
        &["torrent", "show", "absent.torrent"],
        "absent.torrent",
    );
    std::fs::write(parent.join("junk.torrent"), b"d4:infoi1ee").unwrap();
    exits_2(
        &parent,
        &["torrent", "show", "junk.torrent"],
        "junk.torrent",
    );
    exits_2(
        &parent,
        &["torrent", "magnet", "junk.torrent"],
        "junk.torrent",
    );
    exits_2(
        &parent,
        &["torrent", "show", "magnet:?xt=urn:btih:zz"],
        "btih",
    );
    exits_2(
        &parent,
        &["torrent", "create", d, "--piece-length", "1000"],
        "1000",
    );
    exits_2(
        &parent,
        &["torrent", "create", d, "--piece-length", "lots"],
        "lots",
    );
    exits_2(
        &parent,
        &["torrent", "create", "no/such/dir"],
        "no/such/dir",
    );
    exits_2(&parent, &["torrent", "create", d, "--v1", "--v2"], "--v2");
    std::fs::create_dir(parent.join("empty")).unwrap();
    exits_2(&parent, &["torrent", "create", "empty"], "no files");
    ok(&shoal(
        &parent,
        &["torrent", "create", d, "-o", "once.torrent"],
    ));
    exits_2(
        &parent,
        &["torrent", "create", d, "-o", "once.torrent"],
        "exists",
    );
}

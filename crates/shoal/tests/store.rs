//! The store on the real binary: a full disk, then space back, then kill -9; a file at
//! the store's path that is not a shoal store.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{params, temp_dir, Server, BIN};
use shoal_client::{AnnounceEvent, ClientOptions, InfoHash, Tracker};

const TOKEN: &str = "store-test-token-0123456789";

fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    common::admin_request(addr, TOKEN, method, path, body)
}

fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = request(addr, "GET", "/metrics", "");
    body.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

/// A tmpfs mounted at a fresh directory, unmounted when dropped (also when the test
/// panics). `None`, with a message, when not root or mounting fails.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = temp_dir("tmpfs");
        match Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
        {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // A process still holds a file there: detach now, freed when it lets go.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system holding `dir` with one file; returns its path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x5au8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    path
}

fn hash(n: u32) -> InfoHash {
    let mut h = [0xc0; 20];
    h[..4].copy_from_slice(&n.to_be_bytes());
    InfoHash(h)
}

/// Polls `/health/ready` until it answers `want`; returns its body.
fn wait_ready(addr: SocketAddr, want: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = request(addr, "GET", "/health/ready", "");
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/health/ready still {status} after {within:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn acknowledged_writes_survive_a_full_disk_and_kill_9() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let cfg_dir = temp_dir("full-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!("[store]\nflush_interval = 1\nsample_interval = 1\n[admin]\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let args = ["--config", cfg.to_str().unwrap()];
    let mut first = Server::start_in(fs.0.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &args);
    let api = first.http_addr(false);
    let mut udp = Tracker::open(
        &format!("udp://{}/announce", first.udp_addr(false)),
        ClientOptions::default(),
    )
    .unwrap();

    // What the tracker acknowledged: completed announces it answered, and admin
    // entries it answered 2xx for. All of it must be there after the restart.
    let mut completed: BTreeMap<InfoHash, u32> = BTreeMap::new();
    let mut admitted: BTreeSet<InfoHash> = BTreeSet::new();
    let mut port = 10_000u16;
    let mut complete = |udp: &mut Tracker, h: InfoHash| {
        port += 1;
        udp.announce(&params(h, port, 0, AnnounceEvent::Completed))
            .unwrap();
        *completed.entry(h).or_default() += 1;
    };
    let mut add = |h: InfoHash| -> u16 {
        let (status, body) = request(
            api,
            "POST",
            "/api/admin/access-list",
            &format!("{{\"info_hash\": \"{}\"}}", h.to_hex()),
        );
        match status {
            201 => {
                admitted.insert(h);
            }
            503 => assert!(body.contains("not added"), "{body}"),
            other => panic!("admin add answered {other}: {body}"),
        }
        status
    };

    complete(&mut udp, hash(0));
    assert_eq!(add(hash(1000)), 201);
    wait_ready(api, 200, Duration::from_secs(5));

    let filler = fill(&fs.0);
    // While the disk is full: completions keep coming, admin adds are refused, and
    // readiness and metrics say the store is failing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut refused, mut n) = (0, 0);
    while refused < 3 {
        assert!(
            Instant::now() < deadline,
            "no admin add was refused while the disk was full"
        );
        n += 1;
        complete(&mut udp, hash(n));
        complete(&mut udp, hash(0));
        if add(hash(1000 + n)) == 503 {
            refused += 1;
            // Refused means not added: the list does not show it.
            let (_, list) = request(api, "GET", "/api/admin/access-list", "");
            assert!(!list.contains(&hash(1000 + n).to_hex()), "{list}");
        }
    }
    let body = wait_ready(api, 503, Duration::from_secs(10));
    assert!(body.contains("store writes are failing"), "{body}");
    for _ in 0..5 {
        n += 1;
        complete(&mut udp, hash(n));
    }
    common::eventually("a failed flush keeps the completions pending", || {
        (metric(api, "shoal_store_pending_completed") > 0).then_some(())
    });
    assert_eq!(metric(api, "shoal_store_failing"), 1);
    assert_eq!(request(api, "GET", "/health/ready", "").0, 503);

    // Space back: the next flush writes everything pending and the store takes writes.
    std::fs::remove_file(&filler).unwrap();
    wait_ready(api, 200, Duration::from_secs(15));
    assert_eq!(metric(api, "shoal_store_pending_completed"), 0);
    assert_eq!(add(hash(999)), 201);
    // Everything before is written (nothing pending, the store took a write since): the
    // next row written is this completion.
    let written = metric(api, "shoal_store_completed_written_total");
    complete(&mut udp, hash(0));
    common::eventually("the last completion flushed", || {
        (metric(api, "shoal_store_completed_written_total") > written).then_some(())
    });
    wait_ready(api, 200, Duration::from_secs(5));
    let (status, _) = first.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(first);

    let second = Server::start_in(fs.0.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &args);
    let api = second.http_addr(false);
    let (status, list) = request(api, "GET", "/api/admin/access-list", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let listed: BTreeSet<String> = v["api"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = admitted.iter().map(InfoHash::to_hex).collect();
    assert_eq!(listed, want, "admin entries answered 2xx, and only those");
    let mut udp = Tracker::open(
        &format!("udp://{}/announce", second.udp_addr(false)),
        ClientOptions::default(),
    )
    .unwrap();
    let hashes: Vec<InfoHash> = completed.keys().copied().collect();
    for chunk in hashes.chunks(50) {
        let got = udp.scrape(chunk).unwrap();
        for (h, s) in chunk.iter().zip(got) {
            assert_eq!(
                s.completed,
                completed[h],
                "completed count of {}",
                h.to_hex()
            );
        }
    }
    drop(second);
    drop(fs);
}

/// Runs `shoal serve` on `data`, expecting it to refuse to start; returns the exit code
/// and what it printed.
fn refused_start(data: &std::path::Path) -> (i32, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--udp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("shoal started on {}", data.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code().unwrap_or(-1), err)
}

#[test]
fn a_file_that_is_not_a_shoal_store_stops_the_start() {
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty", b"", "empty"),
        ("text", b"name,count\nubuntu,3\n", "not an SQLite database"),
        (
            "damaged",
            b"SQLite format 3\0 and then nothing a database would hold, over and over again",
            "not an SQLite database",
        ),
    ];
    for (tag, bytes, says) in cases {
        let data = temp_dir(tag);
        let file = data.join("shoal.sqlite");
        std::fs::write(&file, bytes).unwrap();
        let (code, err) = refused_start(&data);
        assert_ne!(code, 0, "{tag}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("shoal: "))
            .unwrap_or_else(|| panic!("{tag}: no error line in {err:?}"));
        assert!(
            line.contains(&file.display().to_string()) && line.contains(says),
            "{tag}: {line}"
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            bytes,
            "{tag}: file untouched"
        );
        let _ = std::fs::remove_dir_all(&data);
    }
}

/// Another process using the store while the server runs (`shoal user add` here; a
/// backup or `sqlite3` alike) must not take the file from under it: the server's
/// handles keep their SQLite locks (reading a file's header again would have dropped
/// every lock the process held), so the other process neither checkpoints nor deletes
/// the write-ahead log at its exit, and what the server writes after it survives kill -9.
#[test]
fn another_process_on_the_store_does_not_lose_the_servers_writes() {
    let data = temp_dir("shared-store");
    let cfg_dir = temp_dir("shared-store-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(&cfg, "[store]\nflush_interval = 1\n").unwrap();
    let args = ["--config", cfg.to_str().unwrap()];
    let mut server = Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &args);
    let api = server.http_addr(false);
    let wal = data.join("shoal.sqlite-wal");
    common::eventually("the server's log file", || wal.exists().then_some(()));
    let out = Command::new(BIN)
        .args(["user", "add", "alice", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wal.exists(),
        "the other process deleted the server's write-ahead log"
    );
    // A completion the server counts and flushes after the other process left.
    let mut udp = Tracker::open(
        &format!("udp://{}/announce", server.udp_addr(false)),
        ClientOptions::default(),
    )
    .unwrap();
    let h = hash(4242);
    let written = metric(api, "shoal_store_completed_written_total");
    udp.announce(&params(h, 7001, 0, AnnounceEvent::Completed))
        .unwrap();
    common::eventually("the completion flushed", || {
        (metric(api, "shoal_store_completed_written_total") > written).then_some(())
    });
    let (status, _) = server.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(server);
    let again = Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &args);
    let mut udp = Tracker::open(
        &format!("udp://{}/announce", again.udp_addr(false)),
        ClientOptions::default(),
    )
    .unwrap();
    assert_eq!(udp.scrape(&[h]).unwrap()[0].completed, 1);
    drop(again);
    let _ = std::fs::remove_dir_all(cfg_dir);
}

//! A short run of the generator against the real shoal binary (built alongside it in
//! the workspace), over UDP, HTTP and WebTorrent, to prove it works end to end.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_shoal-bench");

fn shoal_binary() -> std::path::PathBuf {
    let p = std::path::Path::new(BENCH).with_file_name("shoal");
    assert!(
        p.exists(),
        "{} missing: build the workspace (cargo build)",
        p.display()
    );
    p
}

fn bench(args: &[&str]) -> serde_json::Value {
    let o = Command::new(BENCH)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "shoal-bench {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn short_runs_against_shoal() {
    let data = std::env::temp_dir().join(format!("shoal-bench-smoke-{}", std::process::id()));
    let mut child = Command::new(shoal_binary())
        .args([
            "serve",
            "--udp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "info")
        // The load comes from a few loopback sources: no per-source torrent limit.
        .env("SHOAL_LIMITS__MAX_NEW_TORRENTS_PER_PREFIX_PER_MINUTE", "0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut udp, mut http): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while udp.is_none() || http.is_none() {
        assert!(Instant::now() < deadline, "shoal did not start");
        let line = lines.next().unwrap().unwrap();
        let addr = || {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))?
                .parse()
                .ok()
        };
        if line.contains("udp listening") {
            udp = addr();
        } else if line.contains("http listening") {
            http = addr();
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let pid = child.id().to_string();
    let (udp, http) = (udp.unwrap().to_string(), http.unwrap().to_string());

    let u = bench(&[
        "udp",
        "--target",
        &udp,
        "--duration",
        "2",
        "--max-requests",
        "200000",
        "--server-pid",
        &pid,
    ]);
    assert!(u["responses"].as_u64().unwrap() > 1000, "{u}");
    assert_eq!(u["invalid"], 0, "{u}");
    assert!(
        u["peers_per_announce"].as_f64().unwrap() > 1.0,
        "swarms form: {u}"
    );
    assert!(u["server_cpu_seconds"].as_f64().is_some());

    for keepalive in ["true", "false"] {
        let h = bench(&[
            "http",
            "--target",
            &http,
            "--duration",
            "2",
            "--workers",
            "4",
            "--keepalive",
            keepalive,
            "--max-requests",
            "50000",
        ]);
        assert!(h["responses"].as_u64().unwrap() > 100, "{h}");
        assert_eq!(h["invalid"], 0, "{h}");
    }

    // WebTorrent: offers are relayed and answered between the bench's own peers.
    let w = bench(&[
        "ws",
        "--target",
        &http,
        "--duration",
        "2",
        "--connections",
        "20",
        "--torrents",
        "5",
        "--max-requests",
        "20000",
    ]);
    assert!(w["announces"].as_u64().unwrap() > 100, "{w}");
    assert_eq!(w["invalid"], 0, "{w}");
    assert!(w["offers_received"].as_u64().unwrap() > 10, "{w}");
    assert!(w["answers_received"].as_u64().unwrap() > 10, "{w}");

    // A non-loopback target is refused before any traffic.
    let o = Command::new(BENCH)
        .args(["udp", "--target", "192.0.2.1:6969"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));

    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

//! The dashboard in a real browser: Debian's headless Chromium driven by playwright-core
//! (tests/e2e/browser, installed by scripts/test). Peers are announced with
//! `shoal announce`; the page must show them, switch language, and link through to the
//! torrent pages. Screenshots go to `target/screenshots/`.
#![cfg(feature = "web")]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, BIN};

#[test]
fn dashboard_in_headless_chromium() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let tools = common::e2e_tool(
        common::on_path("node"),
        "node is not installed (apt-get install nodejs npm)",
    ) && common::e2e_tool(
        dir.join("node_modules/playwright-core").exists(),
        &format!(
            "playwright-core is not installed: run `bash scripts/test` (it installs it) or \
             `npm ci --ignore-scripts` in {}",
            dir.display()
        ),
    ) && common::e2e_tool(
        std::path::Path::new(&chromium).exists(),
        &format!("{chromium} is missing (apt-get install chromium; scripts/test does)"),
    );
    if !tools {
        return;
    }
    let cfg = common::temp_dir("browser").join("c.toml");
    std::fs::write(&cfg, "[store]\nsample_interval = 1\n").unwrap();
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let http = format!("http://{}/announce", server.http_addr(false));
    // Three torrents: 3, 2 and 1 peers (the first with a seeder), over UDP and HTTP.
    let mut peers = 0;
    for (t, n) in [(1u8, 3u16), (2, 2), (3, 1)] {
        for p in 0..n {
            let url = if p % 2 == 0 { &udp } else { &http };
            let hash = format!("{t:02x}").repeat(20);
            let port = (7000 + u16::from(t) * 10 + p).to_string();
            let left = if t == 1 && p == 0 { "0" } else { "1000" };
            let out = Command::new(BIN)
                .args([
                    "announce",
                    url,
                    "--info-hash",
                    &hash,
                    "--port",
                    &port,
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
            peers += 1;
        }
    }
    // The pages show the views thread's figures: wait until they include the swarms
    // (asking also marks them as watched, so they refresh every 2 s from now on).
    let http_addr = server.http_addr(false);
    common::eventually("the dashboard figures include the three torrents", || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(http_addr).ok()?;
        s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.contains("\"torrents\":3").then_some(())
    });
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    let out = Command::new("node")
        .current_dir(&dir)
        .env("CHROMIUM", &chromium)
        .args([
            "dashboard.mjs",
            &format!("http://{}", server.http_addr(false)),
            shots.to_str().unwrap(),
            "3",
            &peers.to_string(),
        ])
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "browser checks failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "overview-en",
        "overview-ru",
        "torrents-ru",
        "torrent-ru",
        "clients-en",
        "trends-en",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    println!("screenshots in {}", shots.display());
}

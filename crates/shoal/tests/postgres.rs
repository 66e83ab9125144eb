//! `shoal serve` with its store in PostgreSQL (`[store] url`): a real server on a
//! throwaway cluster the test starts (skipped without PostgreSQL unless E2E_REQUIRED).

mod common;

use std::process::Command;

use common::{ok, shoal_in, temp_dir, Server, BIN};

/// A private tracker on PostgreSQL: an account made with `shoal user add` against the
/// database is admitted, its traffic and a completion are written there, and a second
/// server with an empty data dir on the same database knows both — nothing of it was
/// on the first server's disk.
#[test]
fn a_private_tracker_keeps_its_state_in_postgresql() {
    let Some(pg) = shoal_store::testing::server() else {
        return;
    };
    let url = pg.database("shoal_serve_on_postgres");
    let cfg_dir = temp_dir("pg-cfg");
    let cfg = cfg_dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tracker]\nmode = \"private\"\n[store]\nurl = \"{url}\"\nflush_interval = 1\n[catalog]\nenabled = false\n"
        ),
    )
    .unwrap();
    let config = ["--config", cfg.to_str().unwrap()];
    let first_dir = temp_dir("pg-first");
    let key = ok(&shoal_in(
        &first_dir,
        &["user", "add", "alice", config[0], config[1]],
    ));
    let key = key.trim().to_owned();
    let hash = "ab".repeat(20);
    let announce = |server: &Server, event: &str, left: &str, down: &str| {
        let url = format!("http://{}/announce/{key}", server.http_addr(false));
        let out = Command::new(BIN)
            .args(["announce", &url, "--info-hash", &hash, "--port", "6881"])
            .args(["--event", event, "--left", left, "--downloaded", down])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let server = Server::start_in(first_dir.clone(), &[], &["127.0.0.1:0"], &config);
    announce(&server, "started", "1000", "0");
    announce(&server, "completed", "0", "1000");
    // Credits reach the database within a flush.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let shown = loop {
        let out = shoal_in(
            &first_dir,
            &["user", "show", "alice", "--json", config[0], config[1]],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
        if v["downloaded"] == 1000 || std::time::Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(shown["downloaded"], 1000, "{shown}");
    drop(server);
    // Another node, an empty data dir, the same database.
    let second_dir = temp_dir("pg-second");
    let server = Server::start_in(second_dir.clone(), &[], &["127.0.0.1:0"], &config);
    let url = format!("http://{}/announce/{key}", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["scrape", &url, &hash])
        .output()
        .unwrap();
    let scraped = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(scraped.contains("\"completed\":1"), "{scraped}");
    drop(server);
    let _ = std::fs::remove_dir_all(cfg_dir);
}

//! Access lists: file reload without restart, the admin API, persistence across kill -9.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{temp_dir, Server};
use shoal_client::{AnnounceEvent, AnnounceParams, ClientError, ClientOptions, InfoHash, Tracker};

const TOKEN: &str = "test-token-0123456789";

fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    common::admin_request(addr, TOKEN, method, path, body)
}

fn announce(url: &str, hash: InfoHash) -> Result<usize, ClientError> {
    let mut t = Tracker::open(url, ClientOptions::default())?;
    t.announce(&AnnounceParams {
        info_hash: hash,
        peer_id: shoal_client::random_peer_id(),
        port: 4242,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event: AnnounceEvent::Started,
        num_want: None,
        key: 0,
    })
    .map(|r| r.peers.len())
}

fn refused(r: Result<usize, ClientError>) -> bool {
    matches!(r, Err(ClientError::Tracker(m)) if m.contains("not allowed"))
}

fn config(dir: &std::path::Path, list: &std::path::Path, mode: &str) -> std::path::PathBuf {
    let cfg = dir.join("shoal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[access_list]\nmode = \"{mode}\"\nfile = {:?}\nreload_interval = 1\n[admin]\ntoken = \"{TOKEN}\"\n",
            list.display().to_string()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn file_edits_take_effect_without_restart() {
    let dir = temp_dir("acl");
    let list = dir.join("allowed.txt");
    let a = InfoHash([0xa1; 20]);
    let b = InfoHash([0xb2; 20]);
    std::fs::write(&list, format!("# allowed\n{}\nnonsense line\n", a.to_hex())).unwrap();
    let cfg = config(&dir, &list, "allow");
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let http = format!("http://{}/announce", server.http_addr(false));
    assert!(announce(&udp, a).is_ok());
    assert!(refused(announce(&udp, b)), "udp refuses unlisted");
    assert!(refused(announce(&http, b)), "http refuses unlisted");
    let log = server.drain_log().join("\n");
    assert!(
        log.contains("line=3"),
        "bad line reported with its number: {log}"
    );

    std::fs::write(&list, format!("{}\n{}\n", a.to_hex(), b.to_hex())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused(announce(&http, b)) {
        assert!(Instant::now() < deadline, "edit not picked up");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(announce(&udp, b).is_ok());
    // Refused torrents never got a swarm (stats trail by up to one views refresh).
    common::eventually("stats count the two allowed torrents", || {
        let (_, stats) = request(server.http_addr(false), "GET", "/api/stats", "");
        let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
        (v["torrents"] == 2).then_some(())
    });
}

#[test]
fn admin_api_edits_the_list_and_survives_kill_9() {
    let dir = temp_dir("acl-admin");
    let list = dir.join("denied.txt");
    let file_hash = InfoHash([0xf0; 20]);
    std::fs::write(&list, format!("{}\n", file_hash.to_hex())).unwrap();
    let cfg = config(&dir, &list, "deny");
    let data = temp_dir("acl-data");
    let mut first = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let api = first.http_addr(false);
    let udp = format!("udp://{}/announce", first.udp_addr(false));
    let bad = InfoHash([0xbd; 20]);
    assert!(announce(&udp, bad).is_ok());

    let (status, _) = request(
        api,
        "POST",
        "/api/admin/access-list",
        &format!("{{\"info_hash\": \"{}\"}}", bad.to_hex()),
    );
    assert_eq!(status, 201);
    let (status, _) = request(
        api,
        "POST",
        "/api/admin/access-list",
        &format!("{{\"info_hash\": \"{}\"}}", bad.to_hex()),
    );
    assert_eq!(status, 200, "adding twice is not an error");
    assert!(refused(announce(&udp, bad)));
    let (status, body) = request(api, "GET", "/api/admin/access-list", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["mode"], "deny");
    assert_eq!(v["api"], serde_json::json!([bad.to_hex()]));
    assert_eq!(v["file"], serde_json::json!([file_hash.to_hex()]));
    assert_eq!(
        request(
            api,
            "POST",
            "/api/admin/access-list",
            "{\"info_hash\": \"zz\"}"
        )
        .0,
        400
    );
    assert_eq!(
        request(api, "POST", "/api/admin/access-list", "not json").0,
        400
    );
    assert_eq!(
        request(
            api,
            "DELETE",
            &format!("/api/admin/access-list/{}", file_hash.to_hex()),
            ""
        )
        .0,
        409
    );

    // kill -9: the admin entry must survive.
    let (status, _) = first.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(first);
    let second = Server::start_in(
        data,
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let api = second.http_addr(false);
    let udp = format!("udp://{}/announce", second.udp_addr(false));
    assert!(refused(announce(&udp, bad)), "entry survived kill -9");
    let (status, _) = request(
        api,
        "DELETE",
        &format!("/api/admin/access-list/{}", bad.to_hex()),
        "",
    );
    assert_eq!(status, 200);
    assert!(announce(&udp, bad).is_ok());
    assert_eq!(
        request(
            api,
            "DELETE",
            &format!("/api/admin/access-list/{}", bad.to_hex()),
            ""
        )
        .0,
        404
    );
    // Removing a torrent through the admin API.
    assert_eq!(
        request(
            api,
            "DELETE",
            &format!("/api/admin/torrents/{}", bad.to_hex()),
            ""
        )
        .0,
        200
    );
    assert_eq!(
        request(
            api,
            "DELETE",
            &format!("/api/admin/torrents/{}", bad.to_hex()),
            ""
        )
        .0,
        404
    );
}

#[test]
fn missing_access_list_file_is_a_config_error() {
    let dir = temp_dir("acl-missing");
    let cfg = config(&dir, &dir.join("absent.txt"), "allow");
    let o = std::process::Command::new(common::BIN)
        .args([
            "serve",
            "--udp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("access_list.file") && err.contains("absent.txt"),
        "{err}"
    );
}

#[test]
fn admin_reload_rereads_the_file() {
    let dir = temp_dir("acl-reload");
    let list = dir.join("allowed.txt");
    let a = InfoHash([0x0a; 20]);
    std::fs::write(&list, "").unwrap();
    let cfg = dir.join("shoal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[access_list]\nmode = \"allow\"\nfile = {:?}\nreload_interval = 3600\n[admin]\ntoken = \"{TOKEN}\"\n",
            list.display().to_string()
        ),
    )
    .unwrap();
    let server = Server::start_with(&[], &["127.0.0.1:0"], &["--config", cfg.to_str().unwrap()]);
    let http = format!("http://{}/announce", server.http_addr(false));
    assert!(refused(announce(&http, a)));
    std::fs::write(&list, format!("{}\n", a.to_hex())).unwrap();
    assert_eq!(
        request(server.http_addr(false), "POST", "/api/admin/reload", "").0,
        202
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while refused(announce(&http, a)) {
        assert!(Instant::now() < deadline, "reload did not pick up the file");
        std::thread::sleep(Duration::from_millis(100));
    }
}

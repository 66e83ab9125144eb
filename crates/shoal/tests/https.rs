//! HTTPS beside HTTP, certificate reload on SIGHUP, and the https:// client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{start_tls as start, temp_dir, write_cert, BIN};
use rustls::pki_types::ServerName;

fn shoal_announce(url: &str, ca: Option<&Path>) -> std::process::Output {
    announce_from(url, ca, 7100)
}

fn announce_from(url: &str, ca: Option<&Path>, port: u16) -> std::process::Output {
    let mut c = Command::new(BIN);
    let port = port.to_string();
    c.args([
        "announce",
        url,
        "--info-hash",
        &"ab".repeat(20),
        "--port",
        &port,
    ]);
    if let Some(ca) = ca {
        c.arg("--ca-file").arg(ca);
    }
    c.output().unwrap()
}

fn request_on(tls: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> String {
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok\n") {
        let n = tls.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn https_and_http_serve_the_same_swarms() {
    let dir = temp_dir("tls");
    let (cert, key) = write_cert(&dir, "a");
    let server = start(&cert, &key);
    let https = format!("https://{}/announce", server.tls[0]);
    let http = format!("http://{}/announce", server.http_addr(false));
    let o = shoal_announce(&https, Some(&cert));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["leechers"], 1);
    let o = announce_from(&http, None, 7101);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["leechers"], 2, "one swarm behind both listeners");
    // Without trusting the self-signed certificate the client refuses.
    let o = shoal_announce(&https, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tls"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = temp_dir("tls");
    let (cert, key) = write_cert(&dir, "live");
    let old_ca = dir.join("old-ca.pem");
    std::fs::copy(&cert, &old_ca).unwrap();
    let server = start(&cert, &key);
    let addr = server.tls[0];

    // A kept-alive connection made with the old certificate.
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(common::tls_client(&old_ca), name.clone()).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut open = rustls::StreamOwned::new(conn, tcp);
    assert!(request_on(&mut open).starts_with("HTTP/1.1 200"));

    // Replace the files and signal.
    let (new_cert, new_key) = write_cert(&dir, "new");
    std::fs::copy(&new_cert, &cert).unwrap();
    std::fs::copy(&new_key, &key).unwrap();
    server.signal(libc::SIGHUP);
    let url = format!("https://{addr}/announce");
    common::eventually("new certificate served after SIGHUP", || {
        shoal_announce(&url, Some(&new_cert))
            .status
            .success()
            .then_some(())
    });
    assert_eq!(
        shoal_announce(&url, Some(&old_ca)).status.code(),
        Some(1),
        "old one is gone"
    );
    // The connection opened before the reload still works.
    assert!(request_on(&mut open).starts_with("HTTP/1.1 200"));

    // A broken file on reload keeps the current certificate.
    std::fs::write(&cert, "not a certificate").unwrap();
    server.signal(libc::SIGHUP);
    server.wait_log("TLS reload failed; keeping the old certificate");
    assert!(shoal_announce(&url, Some(&new_cert)).status.success());
}

#[test]
fn missing_certificate_is_a_config_error() {
    let dir = temp_dir("tls");
    let o = Command::new(BIN)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--udp",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
        ])
        .env("SHOAL_HTTP__TLS_CERT", dir.join("none.pem"))
        .env("SHOAL_HTTP__TLS_KEY", dir.join("none.key"))
        .env("SHOAL_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("none.pem"), "{err}");
    let o = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--https", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("http.tls_cert"));
}

//! Runs the real `shoal` binary for integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod libtorrent;
pub mod preview;
pub mod site;

pub const BIN: &str = env!("CARGO_BIN_EXE_shoal");

/// A running `shoal serve`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Option<Child>,
    pub udp: Vec<SocketAddr>,
    pub http: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    pub data_dir: std::path::PathBuf,
    log: mpsc::Receiver<String>,
    /// Lines read while waiting for the listeners.
    early: std::cell::RefCell<Vec<String>>,
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("shoal-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Server {
    /// Starts shoal with UDP on the given addresses (port 0 = any), HTTP on 127.0.0.1
    /// (any port), and waits until each listener reports its address.
    pub fn start(udp: &[&str], extra: &[&str]) -> Server {
        Self::start_with(udp, &["127.0.0.1:0"], extra)
    }

    /// Starts shoal with the given UDP and HTTP listeners (at least one HTTP listener:
    /// the CLI can only replace the default ones).
    pub fn start_with(udp: &[&str], http: &[&str], extra: &[&str]) -> Server {
        Self::start_in(temp_dir("data"), udp, http, extra)
    }

    /// Like [`Server::start_with`] with a given data dir (removed when dropped).
    pub fn start_in(
        data_dir: std::path::PathBuf,
        udp: &[&str],
        http: &[&str],
        extra: &[&str],
    ) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").arg("--data-dir").arg(&data_dir);
        if udp.is_empty() {
            cmd.env("SHOAL_UDP__LISTEN", "[]");
        }
        for a in udp {
            cmd.args(["--udp", a]);
        }
        for a in http {
            cmd.args(["--http", a]);
        }
        cmd.args(extra)
            .env("RUST_LOG", "info")
            .env_remove("SHOAL_WORKERS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start shoal");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            udp: Vec::new(),
            http: Vec::new(),
            tls: Vec::new(),
            data_dir,
            log: rx,
            early: std::cell::RefCell::new(Vec::new()),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let want_tls = extra.contains(&"--https");
        while server.udp.len() < udp.len()
            || server.http.len() < http.len()
            || (want_tls && server.tls.is_empty())
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = server
                .log
                .recv_timeout(left)
                .expect("shoal did not report its udp listeners in time");
            server.early.borrow_mut().push(line.clone());
            let addr = || -> SocketAddr {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .expect("addr= in listening line")
                    .parse()
                    .expect("socket address")
            };
            if line.contains("udp listening") {
                server.udp.push(addr());
            } else if line.contains("https listening") {
                server.tls.push(addr());
            } else if line.contains("http listening") {
                server.http.push(addr());
            }
        }
        server
    }

    /// The first UDP address of the given family.
    pub fn udp_addr(&self, v6: bool) -> SocketAddr {
        *self
            .udp
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .expect("listener of that family")
    }

    /// The first HTTP address of the given family.
    pub fn http_addr(&self, v6: bool) -> SocketAddr {
        *self
            .http
            .iter()
            .find(|a| a.is_ipv6() == v6)
            .expect("listener of that family")
    }

    /// Waits up to 10 s for a log line containing `needle`; returns it.
    pub fn wait_log(&self, needle: &str) -> String {
        if let Some(l) = self.early.borrow().iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(l) => self.early.borrow_mut().push(l),
                Err(_) => panic!("no log line with {needle:?} within 10 s"),
            }
        }
    }

    /// Log lines printed so far (non-blocking).
    pub fn drain_log(&self) -> Vec<String> {
        let mut lines = std::mem::take(&mut *self.early.borrow_mut());
        lines.extend(self.log.try_iter());
        lines
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal without waiting.
    pub fn signal(&self, signal: i32) {
        let child = self.child.as_ref().expect("running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
    }

    /// Sends `signal` and waits for exit, returning the status and the rest of the log.
    pub fn stop_with(&mut self, signal: i32) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut lines = Vec::new();
                while let Ok(l) = self.log.recv_timeout(Duration::from_millis(200)) {
                    lines.push(l);
                }
                return (status, lines);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("shoal did not exit within 10 s of signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: as above.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    let _ = std::fs::remove_dir_all(&self.data_dir);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A nats-server of our own, stopped by its PID when dropped.
pub struct Nats {
    child: Child,
    pub port: u16,
}

impl Nats {
    pub fn start() -> Nats {
        Nats::start_with(&[])
    }

    /// A nats-server with these extra arguments (TLS, a user).
    pub fn start_with(args: &[&str]) -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nats { child, port }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Announce parameters with a fresh random peer id.
pub fn params(
    hash: shoal_client::InfoHash,
    port: u16,
    left: u64,
    event: shoal_client::AnnounceEvent,
) -> shoal_client::AnnounceParams {
    shoal_client::AnnounceParams {
        info_hash: hash,
        peer_id: shoal_client::random_peer_id(),
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        num_want: None,
        key: 1,
    }
}

/// A fresh self-signed certificate for 127.0.0.1 and localhost, written as PEM files
/// named `<tag>-cert.pem` and `<tag>-key.pem` in `dir`.
#[allow(dead_code)]
pub fn write_cert(dir: &std::path::Path, tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = dir.join(format!("{tag}-cert.pem"));
    let key = dir.join(format!("{tag}-key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A fresh certificate authority (`<tag>-ca.pem`) and a server certificate it signed for
/// 127.0.0.1 and localhost (`<tag>-cert.pem`, `<tag>-key.pem`) in `dir`: what clients
/// that want a CA apart from the server's own certificate (NATS's) are given.
pub fn write_ca_and_cert(
    dir: &std::path::Path,
    tag: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{tag} test CA"));
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let paths = ["ca", "cert", "key"].map(|k| dir.join(format!("{tag}-{k}.pem")));
    std::fs::write(&paths[0], ca.as_ref().pem()).unwrap();
    std::fs::write(&paths[1], leaf.pem()).unwrap();
    std::fs::write(&paths[2], leaf_key.serialize_pem()).unwrap();
    let [ca, cert, key] = paths;
    (ca, cert, key)
}

/// shoal with HTTP and HTTPS on 127.0.0.1 (any ports) serving `cert`/`key`.
#[allow(dead_code)]
pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Server {
    let cfg = temp_dir("tlscfg").join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    // Listener flags name every tracker listener, the HTTPS one included.
    Server::start_with(
        &[],
        &["127.0.0.1:0"],
        &["--https", "127.0.0.1:0", "--config", cfg.to_str().unwrap()],
    )
}

/// A TLS client trusting only the certificates in `ca`.
#[allow(dead_code)]
pub fn tls_client(ca: &std::path::Path) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// The environment variable `bash scripts/test` sets (CI runs it): with it, a missing
/// end-to-end tool fails the test instead of skipping it. Not `SHOAL_*`: shoal reads
/// those as config keys and refuses unknown ones.
pub const E2E_REQUIRED: &str = "E2E_REQUIRED";

/// Whether an end-to-end test can run: `true` when `found` (the tool is there);
/// otherwise prints `skipped: <missing>` and returns `false` so the test returns early,
/// or panics when [`E2E_REQUIRED`] is set (to anything but `0` or empty).
pub fn e2e_tool(found: bool, missing: &str) -> bool {
    if found {
        return true;
    }
    let required = std::env::var(E2E_REQUIRED).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "{missing} ({E2E_REQUIRED} is set)");
    eprintln!("skipped: {missing}");
    false
}

/// Whether `program` is an executable file in a `PATH` directory.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Whether `/usr/bin/python3` imports every module in `modules`.
pub fn python_has(modules: &str) -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", &format!("import {modules}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the effective user is root; prints `skipped: <what> needs root` otherwise.
pub fn root_or_skip(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: {what} needs root");
    }
    root
}

/// A counter or gauge from `/metrics` on `addr`: the value of the sample named exactly
/// `name` (with its labels, if any).
pub fn metric(addr: SocketAddr, name: &str) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

/// Polls `f` until it returns `Some` (every 100 ms, for up to 10 s): for figures served
/// from the last views refresh, which trail the swarms by up to two seconds.
pub fn eventually<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    eventually_for(what, Duration::from_secs(10), f)
}

/// [`eventually`] with another limit.
pub fn eventually_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP request with the admin bearer `token` on a fresh connection: the status and
/// the body.
pub fn admin_request(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    (
        raw[9..12].parse().unwrap(),
        raw.split_once("\r\n\r\n").unwrap().1.to_owned(),
    )
}

/// `shoal announce` to `url` as a peer on `port` with the given event and totals.
pub fn announce_cli(
    url: &str,
    hash: &str,
    port: u16,
    event: &str,
    [left, up, down]: [u64; 3],
) -> std::process::Output {
    let n = |v: u64| v.to_string();
    Command::new(BIN)
        .args([
            "announce",
            url,
            "--info-hash",
            hash,
            "--port",
            &n(port.into()),
        ])
        .args(["--event", event, "--left", &n(left)])
        .args(["--uploaded", &n(up), "--downloaded", &n(down)])
        .output()
        .unwrap()
}

/// One `GET path` on a fresh connection: the status and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = get_bytes(addr, path);
    (status, String::from_utf8(body).expect("a text body"))
}

/// One `GET path` on a fresh connection: the status, the head (lowercase) and the body.
pub fn get_bytes(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
    (head[9..12].parse().unwrap(), head, raw[end + 4..].to_vec())
}

/// The browser tests' tools: their directory (tests/e2e/browser) and Chromium's path,
/// or `None` after saying what is missing (a failure under `E2E_REQUIRED`).
pub fn browser_tools() -> Option<(std::path::PathBuf, String)> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let tools = e2e_tool(
        on_path("node"),
        "node is not installed (apt-get install nodejs npm)",
    ) && e2e_tool(
        dir.join("node_modules/playwright-core").exists(),
        &format!(
            "playwright-core is not installed: run `bash scripts/test` (it installs it) or \
                 `npm ci --ignore-scripts` in {}",
            dir.display()
        ),
    ) && e2e_tool(
        std::path::Path::new(&chromium).exists(),
        &format!("{chromium} is missing (apt-get install chromium; scripts/test does)"),
    );
    tools.then_some((dir, chromium))
}

/// `shoal ARGS --data-dir DATA` (a command working on a data dir), quiet logs.
pub fn shoal_in(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// [`shoal_in`] with `stdin` on the command's standard input (a password for
/// `--password-stdin`).
pub fn shoal_stdin(data: &std::path::Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// `shoal ARGS` (no data dir), run to its end.
pub fn shoal(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// The trimmed standard output of a command that must have succeeded.
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls until `f` holds (a change must reach the server within a second; allow two);
/// how long it took.
pub fn within(what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{what}: not within 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

/// Seeders and leechers `server` reports for `hash` (`shoal scrape` over HTTP).
pub fn scrape_counts(server: &Server, hash: &str) -> (u64, u64) {
    let url = format!("http://{}/announce", server.http_addr(false));
    let out = Command::new(BIN)
        .args(["scrape", &url, hash])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["files"][hash];
    (
        e["seeders"].as_u64().unwrap_or(0),
        e["leechers"].as_u64().unwrap_or(0),
    )
}

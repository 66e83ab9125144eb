//! A throwaway PostgreSQL for tests (feature `testing`, and this crate's own tests):
//! [`server`] starts one per test run in a temporary directory and stops it when the
//! run ends; [`Server::database`] makes a fresh database for a test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;
use sqlx::Connection;

/// The run's PostgreSQL server.
pub struct Server {
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// The URL of database `database` on it (user `postgres`, no password: trust).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The certificate authority that signed the server's TLS certificate, when the
    /// server speaks TLS (it does when `openssl` is there to make the certificates;
    /// plain connections stay allowed).
    pub fn tls_ca(&self) -> Option<PathBuf> {
        let ca = self.dir.join("tls").join("ca.pem");
        ca.is_file().then_some(ca)
    }

    /// A new, empty database named `name` (one left by an earlier try is dropped); its URL.
    pub fn database(&self, name: &str) -> String {
        assert!(
            name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name}: not a plain PostgreSQL identifier"
        );
        self.admin(&[
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            &format!("CREATE DATABASE \"{name}\""),
        ]);
        self.url(name)
    }

    /// Runs statements one by one in the `postgres` database.
    pub fn admin(&self, statements: &[&str]) {
        block_on(async {
            let mut conn = PgConnection::connect(&self.url("postgres")).await.unwrap();
            for s in statements {
                sqlx::raw_sql(s).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        })
    }

    /// Runs `f` on a connection of its own to database `name` (to look behind a store's
    /// back).
    pub fn query<T>(&self, name: &str, f: impl AsyncFnOnce(&mut PgConnection) -> T) -> T {
        block_on(async {
            let mut conn = PgConnection::connect(&self.url(name)).await.unwrap();
            let out = f(&mut conn).await;
            conn.close().await.unwrap();
            out
        })
    }
}

/// Runs `f` on a runtime of its own.
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Whether a missing external tool fails the test rather than skipping it (the
/// project's convention; `scripts/test` sets it).
fn required() -> bool {
    std::env::var("E2E_REQUIRED").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The run's server, started by the first test that asks; `None` (the test is
/// skipped, saying why) when PostgreSQL is not installed, unless [`required`].
///
/// The server is a cluster made by `initdb` in a temporary directory, run by
/// `postgres` on a free loopback port (its socket in that directory too), with fsync
/// off. Running as root, both run as the `postgres` user (initdb refuses root), the
/// directory given to it. One run shares one server: under `cargo test` the run is this
/// test binary; nextest runs each test in a process of its own and names the run
/// (`NEXTEST_RUN_ID`), so its processes share the server of the first that asked, and
/// the run ends with nextest, their parent. A watchdog, started before anything else,
/// polls the run's process once a second; once it is gone, it stops the server by the
/// PID this harness recorded and removes the directory, whatever way the run ended.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Result<Option<Server>, String>> = OnceLock::new();
    match SERVER.get_or_init(start_once) {
        Ok(server) => server.as_ref(),
        Err(why) => panic!("{why}"),
    }
}

fn start_once() -> Result<Option<Server>, String> {
    let Some(bin) = pg_bin() else {
        let missing =
            "PostgreSQL is not installed (initdb and postgres; apt-get install postgresql)";
        if required() {
            return Err(format!("{missing} (E2E_REQUIRED is set)"));
        }
        eprintln!("skipped: {missing}");
        return Ok(None);
    };
    let (run, owner) = match std::env::var("NEXTEST_RUN_ID") {
        Ok(id) => (id, std::os::unix::process::parent_id()),
        Err(_) => (std::process::id().to_string(), std::process::id()),
    };
    let dir = std::env::temp_dir().join(format!("shoal-store-pg-{run}"));
    match std::fs::create_dir(&dir) {
        Ok(()) => {
            watchdog(&dir, owner)?;
            let started = start(&bin, &dir);
            let (name, text) = match &started {
                Ok(port) => ("port", port.to_string()),
                Err(why) => ("failed", why.clone()),
            };
            // Written whole, then renamed: the run's other processes poll for it.
            let tmp = dir.join(format!("{name}.new"));
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, dir.join(name)))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            started.map(|port| Some(Server { port, dir }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => wait_for(&dir).map(Some),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Where PostgreSQL's server programs are: on `PATH`, or else in Debian's directory of
/// the newest installed version.
fn pg_bin() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(d) = std::env::split_paths(&path).find(|d| has_both(d)) {
        return Some(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Once `owner` is gone: stops the server whose PID is in `server.pid` (fast shutdown)
/// and removes `dir`. In a process group of its own, so that a signal to the tests'
/// group (a timeout, ^C) does not take it along.
fn watchdog(dir: &Path, owner: u32) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    const SCRIPT: &str = r#"
        while kill -0 "$0" 2>/dev/null; do sleep 1; done
        if [ -s "$1/server.pid" ]; then
            pid=$(cat "$1/server.pid")
            kill -INT "$pid" 2>/dev/null
            i=0
            while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        fi
        rm -rf "$1"
    "#;
    Command::new("sh")
        .args(["-c", SCRIPT, &owner.to_string()])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watchdog (sh): {e}"))
}

/// As root, makes `cmd` run as the `postgres` user, whose `dir` becomes.
fn as_postgres_user(cmd: &mut Command, dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Ok(());
    }
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root, and there is no postgres user to run PostgreSQL as".into()
            })
    };
    let (uid, gid) = (id("-u")?, id("-g")?);
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| format!("chown: {e}"))?;
    cmd.uid(uid).gid(gid);
    Ok(())
}

/// Makes a cluster in `dir` and starts its server; the port it listens on.
fn start(bin: &Path, dir: &Path) -> Result<u16, String> {
    let data = dir.join("data");
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir(dir);
    as_postgres_user(&mut initdb, dir)?;
    let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // A port found free may be taken before the server binds it: then another.
    let mut last = String::new();
    for _ in 0..3 {
        match run_server(bin, dir, &data) {
            Ok(port) => return Ok(port),
            Err(why) => last = why,
        }
    }
    Err(last)
}

fn run_server(bin: &Path, dir: &Path, data: &Path) -> Result<u16, String> {
    use std::os::unix::process::CommandExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("server.log: {e}"))?;
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
    if let Some((cert, key)) = tls_files(dir) {
        postgres
            .args(["-c", "ssl=on"])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", key.display()));
    }
    postgres
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .current_dir(dir)
        .process_group(0);
    as_postgres_user(&mut postgres, dir)?;
    let mut child = postgres.spawn().map_err(|e| format!("postgres: {e}"))?;
    std::fs::write(dir.join("server.pid"), child.id().to_string())
        .map_err(|e| format!("server.pid: {e}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("postgres exited ({status}): {}", log.trim()));
        }
        if block_on(async { PgConnection::connect(&url).await?.close().await }).is_ok() {
            return Ok(port);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("postgres did not accept connections within 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A certificate authority and a server certificate it signed for 127.0.0.1, made with
/// `openssl` in `dir/tls` (`None` without openssl: the server runs without TLS).
fn tls_files(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).ok()?;
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(&tls)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .ok()?;
    let made = openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca-key.pem",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=shoal test CA",
            ],
        ]
        .concat(),
    ) && openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    ) && openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    if !made {
        let _ = std::fs::remove_file(tls.join("ca.pem"));
        return None;
    }
    let (cert, key) = (tls.join("server.crt"), tls.join("server.key"));
    // The server reads them as its own user; the key must be private to it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).ok()?;
    let mut chown = Command::new("chown");
    chown.arg("-R").arg("postgres:postgres").arg(&tls);
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if root && !chown.status().is_ok_and(|s| s.success()) {
        return None;
    }
    Some((cert, key))
}

/// The server another process of the run is starting (or failed to).
fn wait_for(dir: &Path) -> Result<Server, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(port) = std::fs::read_to_string(dir.join("port")) {
            let port = port
                .trim()
                .parse()
                .map_err(|_| format!("bad port {port:?}"))?;
            return Ok(Server {
                port,
                dir: dir.to_owned(),
            });
        }
        if let Ok(why) = std::fs::read_to_string(dir.join("failed")) {
            return Err(format!("the run's PostgreSQL did not start: {why}"));
        }
        if Instant::now() > deadline {
            return Err(format!("no PostgreSQL in {} after 60 s", dir.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

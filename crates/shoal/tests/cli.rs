//! The command-line contract: exit codes, one-line errors, JSON output.

mod common;

use std::process::{Command, Output};

use common::{temp_dir, Server, BIN};

fn shoal(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run shoal")
}

fn shoal_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run shoal")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn one_line_error(o: &Output, must_contain: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {}", stderr(o));
    let err = stderr(o);
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    for s in must_contain {
        assert!(lines[0].contains(s), "{s:?} in {:?}", lines[0]);
    }
}

#[test]
fn config_default_prints_parseable_commented_toml() {
    let o = shoal(&["config", "default"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("# Seconds between announces"));
    let dir = temp_dir("cfg");
    let path = dir.join("default.toml");
    std::fs::write(&path, &text).unwrap();
    let o = shoal(&["config", "show", "--config", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_config_value_names_the_key_and_exits_2() {
    let dir = temp_dir("cfg");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[udp]\nbatch_size = 0\n").unwrap();
    let o = shoal(&["serve", "--config", path.to_str().unwrap()]);
    one_line_error(&o, &["udp.batch_size", "0"]);

    std::fs::write(&path, "[tracker]\nannounce_interval = \"soon\"\n").unwrap();
    let o = shoal(&["serve", "--config", path.to_str().unwrap()]);
    one_line_error(&o, &["tracker.announce_interval", "soon"]);

    std::fs::write(&path, "[udp]\nlisten = [\"127.0.0.1:0\"]\nmystery = 1\n").unwrap();
    let o = shoal(&["serve", "--config", path.to_str().unwrap()]);
    one_line_error(&o, &["udp.mystery"]);

    let o = shoal(&[
        "serve",
        "--config",
        dir.join("absent.toml").to_str().unwrap(),
    ]);
    one_line_error(&o, &["absent.toml"]);
}

#[test]
fn env_overrides_and_env_errors_name_the_key() {
    let o = shoal_env(
        &["config", "show"],
        &[("SHOAL_UDP__BATCH_SIZE", "64"), ("SHOAL_WORKERS", "3")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("batch_size = 64"), "{text}");
    assert!(text.contains("workers = 3"), "{text}");
    let o = shoal_env(&["serve"], &[("SHOAL_UDP__BATCH_SIZE", "lots")]);
    one_line_error(&o, &["udp.batch_size", "lots"]);
}

#[test]
fn bad_flag_values_exit_2() {
    let o = shoal(&["serve", "--udp", "not-an-address"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not-an-address"));
    let o = shoal(&["serve", "--workers", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    let o = shoal(&[
        "announce",
        "udp://127.0.0.1:1/announce",
        "--info-hash",
        "xyz",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("xyz"));
    let o = shoal(&[
        "announce",
        "ftp://127.0.0.1:1/",
        "--info-hash",
        &"a".repeat(40),
    ]);
    one_line_error(&o, &["ftp://127.0.0.1:1/"]);
}

#[test]
fn announce_and_scrape_print_json() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let url = format!("udp://{}/announce", server.udp_addr(false));
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let o = shoal(&[
        "announce",
        &url,
        "--info-hash",
        hash,
        "--port",
        "7001",
        "--left",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["seeders"], 1);
    assert_eq!(v["peers"].as_array().unwrap().len(), 0);
    let o = shoal(&["announce", &url, "--info-hash", hash, "--port", "7002"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["leechers"], 1);
    assert_eq!(v["peers"], serde_json::json!(["127.0.0.1:7001"]));
    let o = shoal(&[
        "announce",
        &url,
        "--info-hash",
        hash,
        "--port",
        "7002",
        "--event",
        "completed",
    ]);
    assert!(o.status.success());
    let other = "ffffffffffffffffffffffffffffffffffffffff";
    let o = shoal(&["scrape", &url, hash, other]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["files"][hash],
        serde_json::json!({"seeders": 2, "completed": 1, "leechers": 0})
    );
    assert_eq!(v["files"][other]["seeders"], 0);
}

#[test]
fn announce_to_a_silent_tracker_fails_with_exit_1() {
    // A bound socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}/announce", silent.local_addr().unwrap());
    let o = shoal(&[
        "announce",
        &url,
        "--info-hash",
        &"a".repeat(40),
        "--timeout",
        "0.2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no answer"), "{}", stderr(&o));
}

#[test]
fn systemd_unit_verifies() {
    if !common::e2e_tool(
        common::on_path("systemd-analyze"),
        "systemd-analyze is not installed (apt-get install systemd)",
    ) {
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/shoal.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("NoNewPrivileges=yes"));
    let dir = temp_dir("unit");
    let path = dir.join("shoal.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/shoal", BIN)).unwrap();
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (part of systemd)");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A reader that goes away (`shoal config default | head -0`) ends the command quietly —
/// by SIGPIPE, as Unix tools do — never with a panic on the write.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(BIN)
        .args(["config", "default"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command writes (it is still starting): every write hits it.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}

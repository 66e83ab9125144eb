//! /metrics, the JSON API and the admin gate on the real binary.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;
use shoal_client::{AnnounceEvent, AnnounceParams, ClientOptions, InfoHash, Tracker};

fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn announce(url: &str, hash: u8, port: u16, left: u64) {
    let mut t = Tracker::open(url, ClientOptions::default()).unwrap();
    t.announce(&AnnounceParams {
        info_hash: InfoHash([hash; 20]),
        peer_id: shoal_client::random_peer_id(),
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        num_want: None,
        key: 0,
    })
    .unwrap();
}

fn sample(metrics: &str, line_prefix: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_prefix} in\n{metrics}"))
}

#[test]
fn metrics_move_and_parse_with_the_prometheus_parser() {
    let server = Server::start_with(&["127.0.0.1:0", "[::1]:0"], &["127.0.0.1:0"], &[]);
    let http = server.http_addr(false);
    let (status, before) = get(http, "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(sample(&before, "shoal_torrents "), 0);
    announce(
        &format!("udp://{}/announce", server.udp_addr(false)),
        1,
        1000,
        0,
    );
    announce(
        &format!("udp://{}/announce", server.udp_addr(true)),
        1,
        1001,
        5,
    );
    announce(&format!("http://{http}/announce"), 2, 1002, 5);
    // Swarm gauges are as of the last views refresh.
    let after = common::eventually("metrics show the announces", || {
        let (_, m) = get(http, "/metrics", None);
        (sample(&m, "shoal_peers{family=\"ipv6\"}") == 1).then_some(m)
    });
    assert_eq!(sample(&after, "shoal_torrents "), 2);
    assert_eq!(sample(&after, "shoal_peers{family=\"ipv4\"}"), 2);
    assert_eq!(sample(&after, "shoal_peers{family=\"ipv6\"}"), 1);
    assert_eq!(
        sample(
            &after,
            "shoal_requests_total{protocol=\"udp\",action=\"announce\"}"
        ),
        2
    );
    assert_eq!(
        sample(
            &after,
            "shoal_requests_total{protocol=\"http\",action=\"announce\"}"
        ),
        1
    );
    assert!(sample(&after, "shoal_http_requests_total ") >= 2);
    assert_eq!(
        sample(
            &after,
            "shoal_request_duration_seconds_count{protocol=\"udp\"}"
        ),
        sample(&after, "shoal_udp_datagrams_received_total ")
    );
    assert!(
        sample(
            &after,
            "shoal_request_duration_seconds_bucket{protocol=\"udp\",le=\"+Inf\"}"
        ) >= 4
    );

    // A real Prometheus parser accepts the whole exposition.
    if !common::e2e_tool(
        common::python_has("prometheus_client"),
        "the Prometheus parser check: python3-prometheus-client is not installed \
         (apt-get install python3-prometheus-client)",
    ) {
        return;
    }
    let mut py = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
             fams = list(p(sys.stdin.read()))\nprint(len(fams), sum(len(f.samples) for f in fams))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (apt-get install python3-prometheus-client)");
    py.stdin
        .take()
        .unwrap()
        .write_all(after.as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let families: usize = text.split_whitespace().next().unwrap().parse().unwrap();
    assert!(families >= 12, "{text}");
}

#[test]
fn json_stats_and_torrents() {
    let server = Server::start_with(&["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let http = server.http_addr(false);
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    for port in 0..3 {
        announce(&udp, 0xaa, 2000 + port, 0);
    }
    announce(&udp, 0xbb, 3000, 5);
    let v = common::eventually("stats show the announces", || {
        let (status, body) = get(http, "/api/stats", None);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (v["peers"]["ipv4"] == 4).then_some(v)
    });
    assert_eq!(v["torrents"], 2);
    assert_eq!(v["peers"]["ipv4"], 4);
    assert_eq!(
        (v["seeders"].as_u64(), v["leechers"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["udp"]["announces"], 4);

    let (_, body) = get(http, "/api/torrents?sort=leechers&limit=1", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let list = v["torrents"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["info_hash"], "bb".repeat(20));
    let (_, body) = get(http, "/api/torrents?sort=peers", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["torrents"][0]["peers"], 3);

    let (status, body) = get(http, &format!("/api/torrents/{}", "aa".repeat(20)), None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["seeders"].as_u64(), v["completed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(get(http, "/api/torrents/xyz", None).0, 400);
    assert_eq!(get(http, "/api/torrents?sort=size", None).0, 400);
    assert_eq!(get(http, "/api/nothing", None).0, 404);
    let (status, body) = get(http, "/health/ready", None);
    assert_eq!((status, body.trim()), (200, "{\"ready\":true}"));
}

#[test]
fn admin_api_is_closed_without_a_token_and_checks_it() {
    let closed = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let addr = closed.http_addr(false);
    assert_eq!(get(addr, "/api/admin/access-list", None).0, 401);
    assert_eq!(
        get(
            addr,
            "/api/admin/access-list",
            Some("Bearer anything-at-all")
        )
        .0,
        401
    );

    let dir = common::temp_dir("admin");
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "[admin]\ntoken = \"0123456789abcdef-token\"\n").unwrap();
    let open = Server::start_with(&[], &["127.0.0.1:0"], &["--config", cfg.to_str().unwrap()]);
    let addr = open.http_addr(false);
    assert_eq!(get(addr, "/api/admin/x", None).0, 401);
    assert_eq!(
        get(addr, "/api/admin/x", Some("Bearer 0123456789abcdef-tokeN")).0,
        401
    );
    assert_eq!(
        get(addr, "/api/admin/x", Some("Basic 0123456789abcdef-token")).0,
        401
    );
    assert_eq!(
        get(addr, "/api/admin/x", Some("Bearer 0123456789abcdef-token")).0,
        404
    );
    // The token never appears in the log.
    let log = open.drain_log().join("\n");
    assert!(!log.contains("0123456789abcdef-token"), "{log}");
}

#[test]
fn limits_refuse_and_are_counted_in_metrics() {
    let dir = common::temp_dir("limits");
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        "[limits]\nmax_torrents = 1\nannounce_rate = 1\nannounce_burst = 3\n",
    )
    .unwrap();
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let http = server.http_addr(false);
    let url = format!("http://{http}/announce");
    let try_announce = |hash: u8, port: u16| {
        let mut t = Tracker::open(&url, ClientOptions::default()).unwrap();
        t.announce(&AnnounceParams {
            info_hash: InfoHash([hash; 20]),
            peer_id: shoal_client::random_peer_id(),
            port,
            uploaded: 0,
            downloaded: 0,
            left: 1,
            event: AnnounceEvent::Started,
            num_want: None,
            key: 0,
        })
    };
    assert!(try_announce(1, 1).is_ok());
    let e = try_announce(2, 2).unwrap_err().to_string();
    assert!(e.contains("tracker is full"), "{e}");
    assert!(try_announce(1, 3).is_ok());
    let e = try_announce(1, 4).unwrap_err().to_string();
    assert!(e.contains("rate limited"), "burst of 3 used up: {e}");
    let (_, m) = get(http, "/metrics", None);
    assert_eq!(
        sample(
            &m,
            "shoal_limit_rejections_total{reason=\"too_many_torrents\"}"
        ),
        1
    );
    assert_eq!(
        sample(&m, "shoal_rate_limited_total{action=\"announce\"}"),
        1
    );
}

#[test]
fn trends_come_from_recorded_samples() {
    let dir = common::temp_dir("trends");
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "[store]\nsample_interval = 1\n").unwrap();
    let server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let http = server.http_addr(false);
    announce(
        &format!("udp://{}/announce", server.udp_addr(false)),
        7,
        1000,
        0,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(http, "/api/trends?range=24h", None);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let points = v["points"].as_array().unwrap();
        if points.iter().any(|p| p["peers"] == 1 && p["torrents"] == 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sample with the peer: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(http, "/api/trends?range=7d", None).0, 200);
    assert_eq!(get(http, "/api/trends?range=1y", None).0, 400);
}

#[test]
fn swarm_history_is_sampled_and_survives_a_restart() {
    let dir = common::temp_dir("swarmhist");
    let cfg = dir.join("c.toml");
    let data = dir.join("data");
    std::fs::write(&cfg, "[store]\nsample_interval = 1\n").unwrap();
    let history = |http: SocketAddr| -> Vec<serde_json::Value> {
        let hex = "07".repeat(20);
        let (status, body) = get(http, &format!("/api/torrents/{hex}"), None);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["history"].as_array().unwrap().clone()
    };
    let mut server = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    announce(
        &format!("udp://{}/announce", server.udp_addr(false)),
        7,
        1000,
        0,
    );
    let http = server.http_addr(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while history(http).is_empty() {
        assert!(std::time::Instant::now() < deadline, "never sampled");
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = history(http)[0].clone();
    // [at, seeders, leechers]: the peer announced with left=0.
    assert_eq!((first[1].as_u64(), first[2].as_u64()), (Some(1), Some(0)));
    server.stop_with(libc::SIGTERM);
    // Keep the data dir: start again on it with a different config path.
    std::fs::write(dir.join("c2.toml"), "[store]\nsample_interval = 3600\n").unwrap();
    let server = Server::start_in(
        data,
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", dir.join("c2.toml").to_str().unwrap()],
    );
    let after = history(server.http_addr(false));
    assert!(after.contains(&first), "{after:?} lost {first}");
}

#[test]
fn client_share_from_peer_ids() {
    let server = Server::start_with(&["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let http = server.http_addr(false);
    let udp = format!("udp://{}/announce", server.udp_addr(false));
    let mut t = Tracker::open(&udp, ClientOptions::default()).unwrap();
    for (port, prefix) in [(1u16, b"-qB4650-"), (2, b"-qB4650-"), (3, b"-TR3000-")] {
        let mut id = [b'0'; 20];
        id[..8].copy_from_slice(prefix);
        t.announce(&AnnounceParams {
            info_hash: InfoHash([4; 20]),
            peer_id: shoal_client::PeerId(id),
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: AnnounceEvent::Started,
            num_want: None,
            key: 0,
        })
        .unwrap();
    }
    let v = common::eventually("client share shows the peers", || {
        let (status, body) = get(http, "/api/clients", None);
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (v["peers"] == 3).then_some(v)
    });
    assert_eq!(v["clients"][0]["client"], "qBittorrent");
    assert_eq!(v["clients"][0]["peers"], 2);
    assert_eq!(v["clients"][1]["client"], "Transmission");
    let (_, m) = get(http, "/metrics", None);
    assert!(
        m.contains("shoal_kernel_udp_receive_errors{kind=\"rcvbuf\"}"),
        "{m}"
    );
}

#[cfg(feature = "web")]
#[test]
fn web_ui_on_its_own_listener() {
    let cfg = common::temp_dir("weblisten").join("c.toml");
    std::fs::write(
        &cfg,
        "[web]\nlisten = [\"127.0.0.1:0\"]\non_tracker_listener = false\n",
    )
    .unwrap();
    let server = Server::start_with(&[], &["127.0.0.1:0"], &["--config", cfg.to_str().unwrap()]);
    let line = server.wait_log("web listening");
    let web: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap()
        .parse()
        .unwrap();
    let tracker = server.http_addr(false);
    // The web listener: pages and the JSON API, no tracker.
    let (status, page) = get(web, "/", None);
    assert_eq!(status, 200);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(get(web, "/api/stats", None).0, 200);
    let announce =
        "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=0";
    assert_eq!(get(web, announce, None).0, 404);
    // The tracker listener: tracker and JSON API, no pages.
    assert_eq!(get(tracker, announce, None).0, 200);
    assert_eq!(get(tracker, "/", None).0, 404);
    assert_eq!(get(tracker, "/api/stats", None).0, 200);
}

#[cfg(feature = "web")]
#[test]
fn dashboard_is_served_on_the_tracker_listener_by_default() {
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let addr = server.http_addr(false);
    let (status, page) = get(addr, "/torrents?lang=uk", None);
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"uk\""));
    let (status, css) = get(addr, "/static/style.css", None);
    assert_eq!(status, 200);
    assert!(css.contains("prefers-color-scheme: dark"));
}

/// Checks Prometheus text format 0.0.4 strictly: each family's HELP and TYPE once and
/// before its samples, every sample inside its family (histograms: `_bucket`, `_sum`,
/// `_count`), no series twice, well-formed labels and numeric values. Returns the
/// family names.
fn strict_prometheus(text: &str) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut series: HashSet<String> = HashSet::new();
    let mut order = Vec::new();
    let mut current: Option<String> = None;
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(name_ok(name), "bad name in {line:?}");
            assert!(helps.insert(name.to_owned()), "HELP twice for {name}");
            assert!(!types.contains_key(name), "HELP after TYPE for {name}");
            current = Some(name.to_owned());
            order.push(name.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(
                current.as_deref(),
                Some(name),
                "TYPE without its HELP: {line}"
            );
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice for {name}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line:?}");
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "value of {line:?}"
        );
        let (name, labels) = match key.split_once('{') {
            Some((n, l)) => (n, Some(l.strip_suffix('}').expect("closing brace"))),
            None => (key, None),
        };
        if let Some(labels) = labels {
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').expect("label=value");
                assert!(name_ok(k), "label name in {line:?}");
                assert!(v.starts_with('"'), "quoted label value in {line:?}");
            }
        }
        let family = current.as_deref().expect("sample before any HELP");
        let kind = types.get(family).expect("sample before TYPE");
        let inside = name == family
            || (kind == "histogram"
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name == format!("{family}{s}")));
        assert!(inside, "{name} outside its family {family}");
        assert!(series.insert(key.to_owned()), "series twice: {key}");
    }
    order
}

#[test]
fn metrics_are_strict_prometheus_text_with_every_listener_combination() {
    let cfg = |tag: &str, text: &str| {
        let p = common::temp_dir(tag).join("c.toml");
        std::fs::write(&p, text).unwrap();
        p
    };
    let web = "[web]\nlisten = [\"127.0.0.1:0\"]\n";
    let cases: [(&str, &[&str], &[&str], String); 4] = [
        ("udp-only", &["127.0.0.1:0"], &[], web.to_owned()),
        ("http-only", &[], &["127.0.0.1:0"], String::new()),
        ("both", &["127.0.0.1:0"], &["127.0.0.1:0"], String::new()),
        (
            "no-webtorrent",
            &["127.0.0.1:0"],
            &["127.0.0.1:0"],
            "[webtorrent]\nenabled = false\n".to_owned(),
        ),
    ];
    for (tag, udp, http, extra) in cases {
        let path = cfg(tag, &extra);
        let server = Server::start_in(
            common::temp_dir(tag),
            udp,
            http,
            &["--config", path.to_str().unwrap()],
        );
        let addr = if http.is_empty() {
            let line = server.wait_log("web listening");
            line.split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .unwrap()
                .parse()
                .unwrap()
        } else {
            server.http_addr(false)
        };
        let (status, text) = get(addr, "/metrics", None);
        assert_eq!(status, 200, "{tag}");
        let families = strict_prometheus(&text);
        assert!(
            families.contains(&"shoal_requests_total".to_owned()),
            "{tag}"
        );
        assert_eq!(
            families.iter().any(|f| f.starts_with("shoal_udp_")),
            !udp.is_empty(),
            "{tag}: UDP families only with UDP"
        );
        assert_eq!(
            families.iter().any(|f| f.starts_with("shoal_webtorrent_")),
            !http.is_empty() && tag != "no-webtorrent",
            "{tag}: WebTorrent families only with WebTorrent"
        );
    }
}

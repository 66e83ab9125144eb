use super::*;
use shoal_bencode::decode;
use shoal_engine::EngineConfig;
use std::time::Duration;

fn config(trusted: &[&str]) -> HttpConfig {
    HttpConfig {
        listen: vec![],
        workers: 1,
        max_request_bytes: 8192,
        max_headers: 32,
        idle_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(10),
        max_connections: 100,
        max_connections_per_ip: 0,
        trusted_proxies: trusted.iter().map(|s| s.parse().unwrap()).collect(),
        allow_ip_param: false,
        max_scrape_hashes: 100,
        full_scrape: false,
        full_scrape_interval: 600,
        tls: None,
        tracker: true,
        label: "http",
    }
}

fn info<'a>(path: &'a str, query: &'a str, peer: &str) -> RequestInfo<'a> {
    RequestInfo {
        path: path.as_bytes(),
        query: query.as_bytes(),
        peer: peer.parse().unwrap(),
        forwarded_for: &[],
        real_ip: None,
        authorization: None,
        web: Default::default(),
        method: "GET",
        body: &[],
    }
}

fn announce_query(hash_byte: char, port: u16, left: u64, extra: &str) -> String {
    let hash: String = std::iter::repeat_n(hash_byte, 20).collect();
    format!("info_hash={hash}&peer_id=-TR3000-abcdefghijkl&port={port}&left={left}{extra}")
}

#[test]
fn proxy_headers_only_from_trusted_peers() {
    let xff: [&[u8]; 1] = [b"203.0.113.9, 10.0.0.2"];
    let mut i = info("/announce", "", "10.0.0.1");
    i.forwarded_for = &xff;
    // Untrusted peer: headers ignored.
    assert_eq!(client_ip(&i, &[]), "10.0.0.1".parse::<IpAddr>().unwrap());
    // Trusted peer and trusted hop: the rightmost untrusted entry wins.
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    assert_eq!(
        client_ip(&i, &trusted),
        "203.0.113.9".parse::<IpAddr>().unwrap()
    );
    // X-Real-IP when there is no forwarded-for.
    let mut j = info("/announce", "", "10.0.0.1");
    j.real_ip = Some(b"2001:db8::7");
    assert_eq!(
        client_ip(&j, &trusted),
        "2001:db8::7".parse::<IpAddr>().unwrap()
    );
    // Garbage header: fall back to the peer.
    let bad: [&[u8]; 1] = [b"not-an-ip"];
    let mut k = info("/announce", "", "10.0.0.1");
    k.forwarded_for = &bad;
    assert_eq!(
        client_ip(&k, &trusted),
        "10.0.0.1".parse::<IpAddr>().unwrap()
    );
    // Mapped IPv4 peers count as IPv4.
    let m = info("/announce", "", "::ffff:192.0.2.1");
    assert_eq!(client_ip(&m, &[]), "192.0.2.1".parse::<IpAddr>().unwrap());
}

#[test]
fn announce_then_scrape() {
    let cfg = config(&[]);
    let gate = Gate::open(std::sync::Arc::new(Engine::new(EngineConfig::default(), 1)));
    let stats = HttpStats::default();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let q1 = announce_query('a', 6881, 0, "&event=started");
    let r = handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q1, "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    assert_eq!(r.status, 200);
    let q2 = announce_query('a', 6882, 5, "");
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q2, "127.0.0.2"),
        &mut scratch,
        &mut body,
    );
    let v = decode(&body).unwrap();
    assert_eq!(v.get(b"complete").unwrap().as_int(), Some(1));
    assert_eq!(v.get(b"incomplete").unwrap().as_int(), Some(1));
    assert_eq!(
        v.get(b"peers").unwrap().as_bytes().unwrap(),
        &[127, 0, 0, 1, 0x1a, 0xe1]
    );
    assert_eq!(
        v.get(b"external ip").unwrap().as_bytes().unwrap(),
        &[127, 0, 0, 2]
    );
    assert_eq!(v.get(b"interval").unwrap().as_int(), Some(1800));
    assert_eq!(v.get(b"min interval").unwrap().as_int(), Some(900));

    let hash: String = std::iter::repeat_n('a', 20).collect();
    let sq = format!("info_hash={hash}&info_hash=bbbbbbbbbbbbbbbbbbbb");
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/scrape", &sq, "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    let v = decode(&body).unwrap();
    let files = v.get(b"files").unwrap();
    let a = files.get(hash.as_bytes()).unwrap();
    assert_eq!(a.get(b"complete").unwrap().as_int(), Some(1));
    assert_eq!(a.get(b"incomplete").unwrap().as_int(), Some(1));
    assert!(files.get(b"bbbbbbbbbbbbbbbbbbbb").is_some());
}

#[test]
fn failures_are_bencoded_with_retry() {
    let cfg = config(&[]);
    let gate = Gate::open(std::sync::Arc::new(Engine::new(EngineConfig::default(), 1)));
    let stats = HttpStats::default();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let r = handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", "port=1", "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    assert_eq!(r.status, 200);
    let v = decode(&body).unwrap();
    assert_eq!(
        v.get(b"failure reason").unwrap().as_str(),
        Some("missing info_hash")
    );
    assert!(v.get(b"retry in").is_some());
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/scrape", "", "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    assert!(decode(&body).unwrap().get(b"failure reason").is_some());
    let r = handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/nope", "", "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    assert_eq!(r.status, 404);
    assert_eq!(stats.failures.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn ip_param_only_when_allowed_and_non_compact_lists() {
    let mut cfg = config(&[]);
    let gate = Gate::open(std::sync::Arc::new(Engine::new(EngineConfig::default(), 1)));
    let stats = HttpStats::default();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let q = announce_query('c', 7000, 0, "&ip=198.51.100.4");
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q, "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    cfg.allow_ip_param = true;
    let q = announce_query('c', 7001, 0, "&ip=198.51.100.5");
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q, "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    let q = announce_query('c', 7002, 9, "&compact=0");
    cfg.allow_ip_param = false;
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q, "127.0.0.9"),
        &mut scratch,
        &mut body,
    );
    let v = decode(&body).unwrap();
    let mut ips: Vec<String> = v
        .get(b"peers")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p.get(b"ip").unwrap().as_str().unwrap(),
                p.get(b"port").unwrap().as_int().unwrap()
            )
        })
        .collect();
    ips.sort();
    assert_eq!(ips, vec!["127.0.0.1:7000", "198.51.100.5:7001"]);
}

#[test]
fn full_scrape_only_when_enabled_and_throttled_per_client() {
    let mut cfg = config(&[]);
    let gate = Gate::open(std::sync::Arc::new(Engine::new(EngineConfig::default(), 1)));
    let stats = HttpStats::default();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let q = announce_query('f', 1, 0, "");
    handle(
        &cfg,
        &gate,
        &stats,
        None,
        Secs(0),
        0,
        &info("/announce", &q, "127.0.0.1"),
        &mut scratch,
        &mut body,
    );
    let scrape =
        |cfg: &HttpConfig, now: u32, ip: &str, body: &mut Vec<u8>, scratch: &mut Scratch| {
            handle(
                cfg,
                &gate,
                &stats,
                None,
                Secs(now),
                0,
                &info("/scrape", "", ip),
                scratch,
                body,
            );
            decode(body).unwrap().get(b"files").is_some()
        };
    assert!(
        !scrape(&cfg, 0, "127.0.0.1", &mut body, &mut scratch),
        "off by default"
    );
    cfg.full_scrape = true;
    assert!(scrape(&cfg, 0, "127.0.0.1", &mut body, &mut scratch));
    let v = decode(&body).unwrap();
    assert_eq!(v.get(b"files").unwrap().as_dict().unwrap().len(), 1);
    assert!(
        !scrape(&cfg, 599, "127.0.0.1", &mut body, &mut scratch),
        "throttled"
    );
    assert!(
        scrape(&cfg, 599, "127.0.0.2", &mut body, &mut scratch),
        "per client"
    );
    assert!(
        scrape(&cfg, 600, "127.0.0.1", &mut body, &mut scratch),
        "allowed again"
    );
}

struct OneKey;

impl shoal_engine::gate::Passkeys for OneKey {
    fn admits(&self, key: &[u8]) -> bool {
        key == b"k3y"
    }
}

/// Private mode over HTTP: the passkey in either path form reaches the gate, which
/// refuses announces and scrapes without a known one.
#[test]
fn the_gate_sees_the_passkey_in_the_path() {
    let cfg = config(&[]);
    let engine = std::sync::Arc::new(Engine::new(EngineConfig::default(), 1));
    let mode = shoal_engine::gate::Mode::Private(std::sync::Arc::new(OneKey));
    let gate = Gate::new(engine.clone(), None, mode);
    let stats = HttpStats::default();
    let mut scratch = Scratch::default();
    let mut body = Vec::new();
    let q = announce_query('p', 6881, 0, "");
    let mut ask = |path: &str, query: &str| {
        let r = handle(
            &cfg,
            &gate,
            &stats,
            None,
            Secs(0),
            0,
            &info(path, query, "127.0.0.1"),
            &mut scratch,
            &mut body,
        );
        assert_eq!(r.status, 200);
        let v = decode(&body).unwrap();
        v.get(b"failure reason")
            .map(|r| String::from_utf8_lossy(r.as_bytes().unwrap()).into_owned())
    };
    assert!(ask("/announce", &q).unwrap().contains("passkey"));
    assert_eq!(ask("/announce/other", &q).unwrap(), "unknown passkey");
    assert_eq!(
        ask("/scrape", "info_hash=pppppppppppppppppppp").map(|r| r.contains("passkey")),
        Some(true)
    );
    assert_eq!(engine.stats().torrents, 0, "nothing refused made a swarm");
    assert_eq!(ask("/announce/k3y", &q), None);
    assert_eq!(ask("/k3y/announce", &q), None);
    assert_eq!(ask("/k3y/scrape", "info_hash=pppppppppppppppppppp"), None);
    assert_eq!(engine.stats().torrents, 1);
    assert_eq!(stats.failures.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[test]
fn tls_is_the_listeners_or_a_trusted_proxys_word() {
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    let mut i = info("/login", "", "10.0.0.1");
    assert!(!came_over_tls(&i, &trusted));
    i.web.forwarded_proto = Some(b"https");
    assert!(
        came_over_tls(&i, &trusted),
        "a trusted proxy terminated TLS"
    );
    assert!(!came_over_tls(&i, &[]), "anyone else's header is ignored");
    let mut j = info("/login", "", "192.0.2.1");
    j.web.https = true;
    assert!(came_over_tls(&j, &[]), "our own TLS listener");
}

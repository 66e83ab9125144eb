use super::*;
use shoal_engine::gate::{Mode, Passkeys};
use shoal_engine::EngineConfig;
use shoal_protocol::udp::{
    AnnounceOptions, AnnounceRequest, ConnectRequest, ConnectionId, Response, ScrapeRequest,
    TransactionId,
};
use shoal_protocol::{AnnounceEvent, InfoHash, PeerAddr, PeerId};

fn handler() -> Handler {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    handler_with(Gate::open(engine))
}

fn handler_with(gate: Gate) -> Handler {
    let clock = Clock::new();
    let keys = ConnectionIdKeys::new([3; 16], 120, 600, clock.unix_now());
    Handler::new(Arc::new(gate), keys, clock, 74, false)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn connect(h: &mut Handler, from: SocketAddr) -> ConnectionId {
    let mut req = Vec::new();
    Request::Connect(ConnectRequest {
        transaction_id: TransactionId([1; 4]),
    })
    .write(&mut req);
    let mut out = Vec::new();
    assert!(h.handle(&req, from, &mut out));
    match Response::parse(&out).unwrap() {
        Response::Connect { connection_id, .. } => connection_id,
        r => panic!("{r:?}"),
    }
}

fn announce_bytes(cid: ConnectionId, port: u16, left: u64) -> Vec<u8> {
    announce_with_options(cid, port, left, &[])
}

fn announce_with_options(cid: ConnectionId, port: u16, left: u64, options: &[u8]) -> Vec<u8> {
    let mut req = Vec::new();
    Request::Announce(AnnounceRequest {
        connection_id: cid,
        transaction_id: TransactionId([2; 4]),
        info_hash: InfoHash([5; 20]),
        peer_id: PeerId([6; 20]),
        downloaded: 0,
        left,
        uploaded: 0,
        event: AnnounceEvent::Started,
        ip: [0; 4],
        key: 0,
        num_want: -1,
        port,
        options: AnnounceOptions(options),
    })
    .write(&mut req);
    req
}

#[test]
fn connect_then_announce_returns_other_peers() {
    let mut h = handler();
    let a = addr("127.0.0.1:1000");
    let b = addr("127.0.0.2:1000");
    let cid_a = connect(&mut h, a);
    let cid_b = connect(&mut h, b);
    let mut out = Vec::new();
    assert!(h.handle(&announce_bytes(cid_a, 6881, 0), a, &mut out));
    assert!(h.handle(&announce_bytes(cid_b, 6882, 10), b, &mut out));
    let Response::Announce(r) = Response::parse(&out).unwrap() else {
        panic!()
    };
    assert_eq!((r.seeders, r.leechers), (1, 1));
    let peers: Vec<_> = r
        .peers::<PeerAddrV4>()
        .map(|p| p.to_socket_addr())
        .collect();
    assert_eq!(peers, vec![addr("127.0.0.1:6881")]);
}

#[test]
fn bad_or_foreign_connection_id_is_dropped() {
    let mut h = handler();
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut out = Vec::new();
    assert!(!h.handle(&announce_bytes(ConnectionId([0; 8]), 1, 0), a, &mut out));
    assert!(!h.handle(&announce_bytes(cid, 1, 0), addr("127.0.0.9:1000"), &mut out));
    assert_eq!(h.local.dropped_bad_connection_id, 2);
    // Same IP, other source port: still valid (the id binds the IP only).
    assert!(h.handle(&announce_bytes(cid, 1, 0), addr("127.0.0.1:2000"), &mut out));
}

#[test]
fn mapped_ipv4_source_gets_ipv4_peers() {
    let mut h = handler();
    let plain = addr("127.0.0.1:1000");
    let mapped = addr("[::ffff:127.0.0.3]:1000");
    let cid_p = connect(&mut h, plain);
    let cid_m = connect(&mut h, mapped);
    let mut out = Vec::new();
    h.handle(&announce_bytes(cid_p, 7000, 0), plain, &mut out);
    h.handle(&announce_bytes(cid_m, 7001, 5), mapped, &mut out);
    let Response::Announce(r) = Response::parse(&out).unwrap() else {
        panic!()
    };
    assert_eq!(r.peers.len(), 6, "one 6-byte IPv4 peer");
}

#[test]
fn ipv6_source_gets_18_byte_peers() {
    let mut h = handler();
    let a = addr("[::1]:1000");
    let b = addr("[2001:db8::2]:1000");
    let cid_a = connect(&mut h, a);
    let cid_b = connect(&mut h, b);
    let mut out = Vec::new();
    h.handle(&announce_bytes(cid_a, 7000, 0), a, &mut out);
    h.handle(&announce_bytes(cid_b, 7001, 5), b, &mut out);
    let Response::Announce(r) = Response::parse(&out).unwrap() else {
        panic!()
    };
    assert_eq!(r.peers.len(), 18);
    let p: Vec<_> = r
        .peers::<PeerAddrV6>()
        .map(|p| p.to_socket_addr())
        .collect();
    assert_eq!(p, vec![addr("[::1]:7000")]);
}

#[test]
fn parse_errors_answered_only_with_valid_connection_id() {
    let mut h = handler();
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut bad_event = announce_bytes(cid, 1, 0);
    bad_event[80..84].copy_from_slice(&9u32.to_be_bytes());
    let mut out = Vec::new();
    assert!(h.handle(&bad_event, a, &mut out));
    assert!(matches!(Response::parse(&out), Ok(Response::Error { .. })));
    assert!(out.len() < 32, "error replies are small");
    bad_event[0] ^= 1;
    assert!(
        !h.handle(&bad_event, a, &mut out),
        "no reply without a valid id"
    );
    assert!(!h.handle(&[1, 2, 3], a, &mut out));
    assert_eq!(h.local.dropped_malformed, 3);
}

#[test]
fn port_zero_gets_an_error() {
    let mut h = handler();
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut out = Vec::new();
    assert!(h.handle(&announce_bytes(cid, 0, 0), a, &mut out));
    assert!(matches!(Response::parse(&out), Ok(Response::Error { .. })));
}

#[test]
fn scrape_answers_at_most_74_hashes() {
    let mut h = handler();
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut out = Vec::new();
    h.handle(&announce_bytes(cid, 5, 0), a, &mut out);
    for n in [1usize, 74, 75] {
        let mut hashes = vec![0u8; 20 * n];
        hashes[..20].copy_from_slice(&[5; 20]);
        let mut req = Vec::new();
        Request::Scrape(ScrapeRequest::new(cid, TransactionId([4; 4]), &hashes).unwrap())
            .write(&mut req);
        assert!(h.handle(&req, a, &mut out));
        let r = Response::parse(&out).unwrap();
        let stats: Vec<_> = r.scrape_stats().collect();
        assert_eq!(stats.len(), n.min(74));
        assert_eq!(stats[0].seeders, 1);
        assert_eq!(stats[1..].iter().map(|s| s.seeders).sum::<u32>(), 0);
    }
}

#[test]
fn replies_fit_one_packet_per_family() {
    let mut h = handler();
    let mut out = Vec::new();
    for n in 0..250u16 {
        for (src, port) in [
            (
                addr(&format!("10.0.{}.{}:1", n / 200, n % 200 + 1)),
                1000 + n,
            ),
            (addr(&format!("[2001:db8::{:x}]:1", n + 1)), 1000 + n),
        ] {
            let cid = connect(&mut h, src);
            assert!(h.handle(&announce_bytes(cid, port, 10), src, &mut out));
        }
    }
    for (src, len) in [("127.0.0.1:9", 20 + 200 * 6), ("[::1]:9", 20 + 66 * 18)] {
        let src = addr(src);
        let cid = connect(&mut h, src);
        let mut req = announce_bytes(cid, 9, 10);
        req[92..96].copy_from_slice(&500i32.to_be_bytes());
        assert!(h.handle(&req, src, &mut out));
        assert_eq!(out.len(), len);
        assert!(out.len() <= 1232);
    }
}

#[test]
fn refused_torrents_get_an_error_or_an_empty_swarm() {
    let mut h = handler();
    h.engine.update_access_list(|l| {
        l.mode = shoal_engine::access::AccessMode::Deny;
        l.api.insert(InfoHash([5; 20]));
    });
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut out = Vec::new();
    assert!(h.handle(&announce_bytes(cid, 1, 0), a, &mut out));
    assert!(matches!(Response::parse(&out), Ok(Response::Error { .. })));
    h.soft_reject = true;
    assert!(h.handle(&announce_bytes(cid, 1, 0), a, &mut out));
    let Ok(Response::Announce(r)) = Response::parse(&out) else {
        panic!()
    };
    assert_eq!((r.seeders, r.leechers, r.peers.len()), (0, 0, 0));
    assert_eq!(h.engine.stats().torrents, 0, "no swarm was created");
    assert_eq!(h.local.denied, 2);
    assert_eq!(
        h.local.errors_sent, 1,
        "the error reply is counted, the soft one not"
    );
}

#[test]
fn rate_limited_sources_are_dropped_silently() {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    let limits = shoal_engine::ratelimit::SourceLimits::new((2, 2), (0, 0), (0, 0), 1000, 1);
    let mut h = handler_with(Gate::new(engine, Some(limits), Mode::Open));
    let a = addr("127.0.0.1:1000");
    let mut req = Vec::new();
    Request::Connect(ConnectRequest {
        transaction_id: TransactionId([1; 4]),
    })
    .write(&mut req);
    let mut out = Vec::new();
    assert!(h.handle(&req, a, &mut out));
    assert!(h.handle(&req, a, &mut out));
    assert!(
        !h.handle(&req, a, &mut out),
        "third connect in the same instant"
    );
    assert!(
        h.handle(&req, addr("127.0.0.2:1"), &mut out),
        "other sources unaffected"
    );
    assert_eq!(h.local.rate_limited, 1);
    assert_eq!(h.gate.limits().unwrap().limited(), [1, 0, 0]);
}

#[test]
fn torrent_limits_answer_with_an_error() {
    let engine = Arc::new(Engine::new(
        EngineConfig {
            max_torrents: 1,
            ..EngineConfig::default()
        },
        1,
    ));
    let mut h = handler_with(Gate::open(engine));
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let mut out = Vec::new();
    assert!(h.handle(&announce_bytes(cid, 1, 0), a, &mut out));
    let mut other = announce_bytes(cid, 1, 0);
    other[16..36].copy_from_slice(&[9; 20]);
    assert!(h.handle(&other, a, &mut out));
    assert!(
        matches!(Response::parse(&out), Ok(Response::Error { message, .. }) if message == b"tracker is full")
    );
    assert_eq!(
        h.local.errors_sent, 1,
        "a refused new torrent is an error sent"
    );
}

struct OneKey(&'static [u8]);

impl Passkeys for OneKey {
    fn admits(&self, key: &[u8]) -> bool {
        key == self.0
    }
}

/// Private mode over UDP: the passkey rides in BEP 41 URLData, split across options or
/// not, in either path form; announces without it, or with another, are refused.
#[test]
fn private_mode_reads_the_passkey_from_url_data() {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    let mut h = handler_with(Gate::new(
        engine,
        None,
        Mode::Private(Arc::new(OneKey(b"k3y"))),
    ));
    let a = addr("127.0.0.1:1000");
    let cid = connect(&mut h, a);
    let reply = |h: &mut Handler, url: Option<&[u8]>| {
        let mut opts = Vec::new();
        if let Some(u) = url {
            AnnounceOptions::write_url_data(u, &mut opts);
        }
        let mut out = Vec::new();
        assert!(h.handle(&announce_with_options(cid, 6881, 0, &opts), a, &mut out));
        match Response::parse(&out).unwrap() {
            Response::Announce { .. } => Ok(()),
            Response::Error { message, .. } => Err(String::from_utf8_lossy(message).into_owned()),
            r => panic!("{r:?}"),
        }
    };
    assert_eq!(reply(&mut h, Some(b"/announce/k3y")), Ok(()));
    assert_eq!(reply(&mut h, Some(b"/k3y/announce?info_hash=x")), Ok(()));
    // Split across two URLData options.
    let mut opts = vec![0x2, 5];
    opts.extend_from_slice(b"/k3y/");
    opts.extend_from_slice(&[0x2, 8]);
    opts.extend_from_slice(b"announce");
    opts.push(0);
    let mut out = Vec::new();
    assert!(h.handle(&announce_with_options(cid, 6881, 0, &opts), a, &mut out));
    assert!(matches!(
        Response::parse(&out),
        Ok(Response::Announce { .. })
    ));
    let missing = reply(&mut h, None).unwrap_err();
    assert!(missing.contains("passkey"), "{missing}");
    assert_eq!(
        reply(&mut h, Some(b"/announce/other")),
        Err("unknown passkey".into())
    );
    assert_eq!(reply(&mut h, Some(b"/announce")).unwrap_err(), missing);
    assert_eq!(h.local.denied, 3);
    assert_eq!(
        h.engine.stats().torrents,
        1,
        "only admitted announces made a swarm"
    );
    // A scrape carries no URLData (BEP 41 extends announces only): refused.
    let mut req = Vec::new();
    Request::Scrape(ScrapeRequest::new(cid, TransactionId([3; 4]), &[5; 20]).unwrap())
        .write(&mut req);
    let mut out = Vec::new();
    assert!(h.handle(&req, a, &mut out));
    assert!(matches!(Response::parse(&out), Ok(Response::Error { .. })));
}

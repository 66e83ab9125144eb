//! The real `shoal` binary over UDP on 127.0.0.1 and ::1.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{params, Server};
use shoal_client::{ClientOptions, UdpTracker};
use shoal_protocol::udp::{
    AnnounceOptions, AnnounceRequest, ConnectRequest, ConnectionId, Request, Response,
    ScrapeRequest, TransactionId,
};
use shoal_protocol::{AnnounceEvent, InfoHash, PeerId};

/// A raw UDP client bound to a chosen local address.
struct Raw {
    socket: UdpSocket,
    server: SocketAddr,
    buf: Vec<u8>,
}

impl Raw {
    fn new(local: &str, server: SocketAddr) -> Raw {
        let socket = UdpSocket::bind(local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        Raw {
            socket,
            server,
            buf: vec![0; 65536],
        }
    }

    fn send(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).unwrap();
    }

    /// The next reply, or None after the timeout.
    fn recv(&mut self) -> Option<Vec<u8>> {
        match self.socket.recv_from(&mut self.buf) {
            Ok((n, from)) => {
                assert_eq!(from, self.server, "reply comes from the address we sent to");
                Some(self.buf[..n].to_vec())
            }
            Err(_) => None,
        }
    }

    fn silent_for(&mut self, ms: u64) -> bool {
        self.socket
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        let r = self.recv().is_none();
        self.socket
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        r
    }

    fn connect(&mut self) -> ConnectionId {
        let mut req = Vec::new();
        Request::Connect(ConnectRequest {
            transaction_id: TransactionId([1, 2, 3, 4]),
        })
        .write(&mut req);
        self.send(&req);
        let reply = self.recv().expect("connect reply");
        match Response::parse(&reply).unwrap() {
            Response::Connect {
                transaction_id,
                connection_id,
            } => {
                assert_eq!(transaction_id, TransactionId([1, 2, 3, 4]));
                connection_id
            }
            r => panic!("unexpected {r:?}"),
        }
    }
}

fn announce_req(
    cid: ConnectionId,
    hash: InfoHash,
    port: u16,
    left: u64,
    options: &[u8],
) -> Vec<u8> {
    let mut req = Vec::new();
    Request::Announce(AnnounceRequest {
        connection_id: cid,
        transaction_id: TransactionId([9, 9, 9, 9]),
        info_hash: hash,
        peer_id: PeerId(*b"-XX0001-abcdefghijkl"),
        downloaded: 0,
        left,
        uploaded: 0,
        event: AnnounceEvent::Started,
        ip: [0; 4],
        key: 1,
        num_want: -1,
        port,
        options: AnnounceOptions(options),
    })
    .write(&mut req);
    req
}

fn client(local: &str, server: SocketAddr) -> UdpTracker {
    let socket = UdpSocket::bind(local).unwrap();
    UdpTracker::with_socket(socket, server, b"/announce", ClientOptions::default()).unwrap()
}

fn swarm_roundtrip(server: SocketAddr, local: &str) {
    let hash = InfoHash([0x11; 20]);
    let mut seeder = client(local, server);
    let mut leecher = client(local, server);
    let r = seeder
        .announce(&params(hash, 5000, 0, AnnounceEvent::Started))
        .unwrap();
    assert_eq!((r.seeders, r.leechers, r.peers.len()), (1, 0, 0));
    let r = leecher
        .announce(&params(hash, 5001, 100, AnnounceEvent::Started))
        .unwrap();
    assert_eq!((r.seeders, r.leechers), (1, 1));
    let ip = local.rsplit_once(':').unwrap().0.trim_matches(['[', ']']);
    let expected: SocketAddr = SocketAddr::new(ip.parse().unwrap(), 5000);
    assert_eq!(r.peers, vec![expected]);
    assert_eq!(r.interval, 1800);

    let s = leecher.scrape(&[hash, InfoHash([0x22; 20])]).unwrap();
    assert_eq!((s[0].seeders, s[0].leechers, s[0].completed), (1, 1, 0));
    assert_eq!((s[1].seeders, s[1].leechers), (0, 0));

    leecher
        .announce(&params(hash, 5001, 0, AnnounceEvent::Completed))
        .unwrap();
    leecher
        .announce(&params(hash, 5001, 0, AnnounceEvent::Completed))
        .unwrap();
    seeder
        .announce(&params(hash, 5000, 0, AnnounceEvent::Stopped))
        .unwrap();
    let s = leecher.scrape(&[hash]).unwrap();
    assert_eq!((s[0].seeders, s[0].leechers, s[0].completed), (1, 0, 1));
}

#[test]
fn connect_announce_scrape_over_ipv4() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    swarm_roundtrip(server.udp_addr(false), "127.0.0.1:0");
}

#[test]
fn connect_announce_scrape_over_ipv6() {
    let server = Server::start(&["[::1]:0"], &[]);
    swarm_roundtrip(server.udp_addr(true), "[::1]:0");
}

#[test]
fn ipv6_announce_gets_18_byte_peers() {
    let server = Server::start(&["[::1]:0"], &[]);
    let addr = server.udp_addr(true);
    let hash = InfoHash([0x33; 20]);
    let mut a = Raw::new("[::1]:0", addr);
    let cid = a.connect();
    a.send(&announce_req(cid, hash, 6001, 0, &[]));
    a.recv().unwrap();
    let mut b = Raw::new("[::1]:0", addr);
    let cid = b.connect();
    b.send(&announce_req(cid, hash, 6002, 10, &[]));
    let reply = b.recv().unwrap();
    assert_eq!(reply.len(), 20 + 18);
    assert_eq!(&reply[20..36], &std::net::Ipv6Addr::LOCALHOST.octets());
    assert_eq!(&reply[36..38], &6001u16.to_be_bytes());
}

#[test]
fn bad_connection_id_is_dropped_and_server_keeps_serving() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let mut c = Raw::new("127.0.0.1:0", server.udp_addr(false));
    c.send(&announce_req(
        ConnectionId([0; 8]),
        InfoHash([1; 20]),
        1,
        0,
        &[],
    ));
    assert!(c.silent_for(500), "no reply to a forged connection id");
    let cid = c.connect();
    let mut forged = cid;
    forged.0[7] ^= 1;
    c.send(&announce_req(forged, InfoHash([1; 20]), 1, 0, &[]));
    assert!(c.silent_for(500));
    c.send(&announce_req(cid, InfoHash([1; 20]), 1, 0, &[]));
    assert!(c.recv().is_some(), "the real id still works");
}

#[test]
fn connection_id_from_another_ip_is_rejected() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let addr = server.udp_addr(false);
    let mut a = Raw::new("127.0.0.1:0", addr);
    let mut b = Raw::new("127.0.0.2:0", addr);
    let cid = a.connect();
    b.send(&announce_req(cid, InfoHash([2; 20]), 1, 0, &[]));
    assert!(
        b.silent_for(500),
        "an id is bound to the IP it was issued to"
    );
    a.send(&announce_req(cid, InfoHash([2; 20]), 1, 0, &[]));
    assert!(a.recv().is_some());
}

#[test]
fn bep41_options_are_accepted() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let mut c = Raw::new("127.0.0.1:0", server.udp_addr(false));
    let cid = c.connect();
    let hash = InfoHash([3; 20]);
    // NOP, URLData "/announce?passkey=abc", an unknown option 0x7, an empty URLData, end.
    let mut opts = vec![0x1, 0x2, 21];
    opts.extend_from_slice(b"/announce?passkey=abc");
    opts.extend_from_slice(&[0x7, 2, 0xde, 0xad, 0x2, 0x0, 0x0]);
    for options in [&opts[..], &[0x2, 0x0][..], &[0x2][..]] {
        c.send(&announce_req(cid, hash, 4444, 0, options));
        let reply = c.recv().expect("announce with options answered");
        assert!(matches!(Response::parse(&reply), Ok(Response::Announce(_))));
    }
}

#[test]
fn scrape_answers_74_hashes_and_truncates_75() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let mut c = Raw::new("127.0.0.1:0", server.udp_addr(false));
    let cid = c.connect();
    let first = InfoHash([4; 20]);
    c.send(&announce_req(cid, first, 1234, 0, &[]));
    c.recv().unwrap();
    for n in [74usize, 75] {
        let mut hashes = Vec::new();
        for i in 0..n {
            let mut h = [0u8; 20];
            h[0] = i as u8;
            h[1] = 0xee;
            hashes.extend_from_slice(if i == 0 { &first.0 } else { &h });
        }
        let mut req = Vec::new();
        Request::Scrape(ScrapeRequest::new(cid, TransactionId([5; 4]), &hashes).unwrap())
            .write(&mut req);
        c.send(&req);
        let reply = c.recv().expect("scrape reply");
        let r = Response::parse(&reply).unwrap();
        let stats: Vec<_> = r.scrape_stats().collect();
        assert_eq!(stats.len(), 74, "{n} hashes asked");
        assert_eq!(stats[0].seeders, 1);
    }
}

#[test]
fn garbage_and_short_datagrams_are_dropped() {
    let mut server = Server::start(&["127.0.0.1:0", "[::1]:0"], &[]);
    for v6 in [false, true] {
        let local = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
        let mut c = Raw::new(local, server.udp_addr(v6));
        let mut seed = 0x1234_5678u32;
        for i in 0..2000usize {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let len = i % 200;
            let bytes: Vec<u8> = (0..len).map(|k| (seed >> (k % 24)) as u8).collect();
            c.send(&bytes);
        }
        // A 3000-byte datagram is larger than any request and is dropped too.
        c.send(&[0u8; 3000]);
        assert!(c.silent_for(300), "garbage gets no reply");
        let cid = c.connect();
        c.send(&announce_req(cid, InfoHash([5; 20]), 1, 0, &[]));
        assert!(c.recv().is_some(), "server still serves after garbage");
    }
    // Every garbage datagram was counted. Zero-length datagrams and random bytes that
    // happen to parse as a connect (they cannot: the magic is 64 bits) aside, that is
    // all 2 × 2001 of them; allow for kernel drops under load.
    let (status, log) = server.stop_with(libc::SIGTERM);
    assert!(status.success());
    let totals = log
        .iter()
        .find(|l| l.contains("udp totals"))
        .expect("totals line");
    let dropped: u64 = totals
        .split_whitespace()
        .find_map(|w| w.strip_prefix("dropped_malformed="))
        .and_then(|v| v.parse().ok())
        .expect("dropped_malformed=N");
    assert!(
        dropped >= 3800,
        "counted {dropped} of 4002 garbage datagrams: {totals}"
    );
}

#[test]
fn parse_error_with_valid_id_gets_a_small_error() {
    let server = Server::start(&["127.0.0.1:0"], &[]);
    let mut c = Raw::new("127.0.0.1:0", server.udp_addr(false));
    let cid = c.connect();
    let mut req = announce_req(cid, InfoHash([6; 20]), 1, 0, &[]);
    req[8..12].copy_from_slice(&7u32.to_be_bytes()); // unknown action
    c.send(&req);
    let reply = c.recv().expect("error reply");
    match Response::parse(&reply).unwrap() {
        Response::Error { message, .. } => assert!(!message.is_empty()),
        r => panic!("{r:?}"),
    }
    assert!(reply.len() < req.len(), "never larger than the request");
}

#[test]
fn sigterm_and_sigint_stop_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Server::start(&["127.0.0.1:0"], &[]);
        let mut c = Raw::new("127.0.0.1:0", server.udp_addr(false));
        c.connect();
        let (status, log) = server.stop_with(signal);
        assert!(status.success(), "exit status {status:?}");
        assert!(
            log.iter()
                .any(|l| l.contains("udp totals") && l.contains("connects=1")),
            "{log:?}"
        );
    }
}

#[test]
fn replies_leave_from_the_address_the_client_targeted() {
    // Unspecified binds: IPv4 0.0.0.0 and a dual-stack [::] on its own port.
    let server = Server::start(&["0.0.0.0:0", "[::]:0"], &[]);
    let v4_port = server.udp_addr(false).port();
    let v6_port = server.udp_addr(true).port();
    for (target, local) in [
        (format!("127.0.0.3:{v4_port}"), "127.0.0.1:0"),
        (format!("127.0.0.4:{v6_port}"), "127.0.0.1:0"), // IPv4 through the dual-stack socket
        (format!("[::1]:{v6_port}"), "[::1]:0"),
    ] {
        let mut c = Raw::new(local, target.parse().unwrap());
        // Raw::recv asserts the reply's source equals the address we sent to.
        let cid = c.connect();
        c.send(&announce_req(cid, InfoHash([8; 20]), 1, 0, &[]));
        assert!(c.recv().is_some(), "announce via {target}");
    }
}

#[test]
fn peers_survive_a_graceful_restart() {
    let data = common::temp_dir("restart");
    let hash = InfoHash([0x5a; 20]);
    let mut first = Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let mut c = client("127.0.0.1:0", first.udp_addr(false));
    c.announce(&params(hash, 7001, 0, AnnounceEvent::Started))
        .unwrap();
    let (status, log) = first.stop_with(libc::SIGTERM);
    assert!(status.success());
    assert!(log.iter().any(|l| l.contains("swarms saved")), "{log:?}");
    // Keep the data dir: the first server's Drop already ran its course above.
    std::mem::forget(first);

    let second = Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let mut c = client("127.0.0.1:0", second.udp_addr(false));
    let r = c
        .announce(&params(hash, 7002, 10, AnnounceEvent::Started))
        .unwrap();
    assert_eq!(r.peers, vec!["127.0.0.1:7001".parse().unwrap()]);
    assert_eq!(r.seeders, 1);
}

#[test]
fn a_corrupt_snapshot_is_reported_and_skipped() {
    let data = common::temp_dir("corrupt");
    std::fs::write(data.join("swarms.snapshot"), b"SHOALSWM garbage").unwrap();
    let server = Server::start_in(data.clone(), &["127.0.0.1:0"], &["127.0.0.1:0"], &[]);
    let mut c = client("127.0.0.1:0", server.udp_addr(false));
    c.announce(&params(InfoHash([1; 20]), 7003, 0, AnnounceEvent::Started))
        .unwrap();
    let log = server.drain_log();
    assert!(
        log.iter().any(|l| l.contains("swarm snapshot skipped")),
        "{log:?}"
    );
    assert!(data.join("swarms.snapshot.bad").exists());
}

#[test]
fn drops_root_after_binding_when_asked() {
    // Only root can switch users; CI runs as root, so this runs there.
    if !common::root_or_skip("dropping root privileges") {
        return;
    }
    let dir = common::temp_dir("drop");
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "user = \"nobody\"\n").unwrap();
    let mut server = Server::start_with(
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let mut c = client("127.0.0.1:0", server.udp_addr(false));
    c.announce(&params(InfoHash([3; 20]), 7100, 0, AnnounceEvent::Started))
        .unwrap();
    server.wait_log("dropped root privileges");
    // Every id (real, effective, saved, filesystem) is nobody's now, not root's.
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let uids: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert_eq!(uids, vec![65534; 4], "{status}");
    let (status, log) = server.stop_with(libc::SIGTERM);
    assert!(status.success());
    // The snapshot is written as the unprivileged user into the handed-over data dir.
    assert!(log.iter().any(|l| l.contains("swarms saved")), "{log:?}");
}

#[test]
fn completed_counts_survive_kill_9() {
    let data = common::temp_dir("kill9");
    let dir = common::temp_dir("kill9-cfg");
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        "[store]\nflush_interval = 1\n[tracker]\nsnapshot = false\n",
    )
    .unwrap();
    let hash = InfoHash([0x99; 20]);
    let mut first = Server::start_in(
        data.clone(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let mut c = client("127.0.0.1:0", first.udp_addr(false));
    let http = first.http_addr(false);
    // One completion, flushed (one row written); then a second one, which only a later
    // flush can write, so two rows written means the count of 2 is on disk.
    let written = || common::metric(http, "shoal_store_completed_written_total");
    c.announce(&params(hash, 7200, 0, AnnounceEvent::Completed))
        .unwrap();
    common::eventually("the first completion flushed", || {
        (written() >= 1).then_some(())
    });
    c.announce(&params(hash, 7201, 0, AnnounceEvent::Completed))
        .unwrap();
    common::eventually("the second completion flushed", || {
        (written() >= 2).then_some(())
    });
    let (status, _) = first.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(first);

    let second = Server::start_in(
        data,
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let mut c = client("127.0.0.1:0", second.udp_addr(false));
    let s = c.scrape(&[hash]).unwrap();
    assert_eq!(
        (s[0].completed, s[0].seeders),
        (2, 0),
        "counts kept, peers not (no snapshot)"
    );
}

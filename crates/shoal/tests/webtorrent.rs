//! The WebTorrent tracker on the real binary: WebSocket clients announce, offers and
//! answers are relayed only where they belong, membership ends with the connection,
//! and every limit holds.

mod common;

use common::get;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;
use shoal_protocol::ws::{latin1_decode, write_latin1};
use tungstenite::{Message, WebSocket};

type Ws<S = TcpStream> = WebSocket<S>;

fn js(bytes: &[u8]) -> String {
    let mut s = String::new();
    write_latin1(&mut s, bytes);
    s
}

fn connect(addr: SocketAddr, path: &str) -> Ws {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (ws, resp) = tungstenite::client(format!("ws://{addr}{path}"), tcp).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

fn send<S: Read + Write>(ws: &mut Ws<S>, text: String) {
    ws.send(Message::text(text)).unwrap();
}

/// The next JSON message, or `None` if nothing arrives within `wait`.
fn recv_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    ws.get_ref().set_read_timeout(Some(wait)).unwrap();
    let got = loop {
        match ws.read() {
            Ok(Message::Text(t)) => break Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Ping(_)) | Ok(Message::Pong(_)) => continue,
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break None
            }
            Err(e) => panic!("websocket error {e}"),
        }
    };
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    got
}

fn recv(ws: &mut Ws) -> Value {
    recv_within(ws, Duration::from_secs(5)).expect("a message from shoal")
}

fn bin(v: &Value) -> Vec<u8> {
    latin1_decode(v.as_str().expect("a string")).expect("a binary string")
}

fn announce(hash: u8, peer: u8, extra: &str) -> String {
    format!(
        r#"{{"action":"announce","info_hash":{},"peer_id":{},"uploaded":0,"downloaded":0{extra}}}"#,
        js(&[hash; 20]),
        js(&peer_id(peer))
    )
}

/// Ids with bytes a naive UTF-8 path would mangle.
fn peer_id(n: u8) -> [u8; 20] {
    let mut id = [0xE9u8; 20];
    id[0] = n;
    id[1] = 0;
    id[2] = b'"';
    id
}

fn offers(ids: &[u8]) -> String {
    let list: Vec<String> = ids
        .iter()
        .map(|&i| {
            format!(
                r#"{{"offer":{{"type":"offer","sdp":"v=0 offer {i}"}},"offer_id":{}}}"#,
                js(&[i; 20])
            )
        })
        .collect();
    format!(r#","offers":[{}]"#, list.join(","))
}

fn counts(v: &Value) -> (u64, u64) {
    (
        v["complete"].as_u64().unwrap(),
        v["incomplete"].as_u64().unwrap(),
    )
}

fn stats(addr: SocketAddr) -> Value {
    serde_json::from_str(&get(addr, "/api/stats").1).unwrap()
}

fn metric(addr: SocketAddr, prefix: &str) -> u64 {
    let m = get(addr, "/metrics").1;
    m.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{m}"))
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn server_with(config: &str) -> Server {
    let path = common::temp_dir("wscfg").join("c.toml");
    std::fs::write(&path, config).unwrap();
    Server::start_with(&[], &["127.0.0.1:0"], &["--config", path.to_str().unwrap()])
}

#[test]
fn offer_and_answer_reach_only_their_peers() {
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let addr = server.http_addr(false);
    let mut b = connect(addr, "/announce");
    let mut c = connect(addr, "/");
    send(&mut b, announce(1, 2, r#","event":"started""#));
    assert_eq!(counts(&recv(&mut b)), (0, 1));
    send(&mut c, announce(1, 3, r#","event":"started""#));
    let first = recv(&mut c);
    assert_eq!(first["action"], "announce");
    assert_eq!(bin(&first["info_hash"]), [1; 20]);
    assert_eq!(first["interval"], 120);
    assert_eq!(counts(&first), (0, 2));

    // A offers once: exactly one of B and C gets it, carrying A's id and offer id.
    let mut a = connect(addr, "/announce");
    send(
        &mut a,
        announce(
            1,
            1,
            &format!(r#","event":"started","numwant":1{}"#, offers(&[7])),
        ),
    );
    assert_eq!(counts(&recv(&mut a)), (0, 3));
    let at_b = recv_within(&mut b, Duration::from_millis(500));
    let at_c = recv_within(&mut c, Duration::from_millis(500));
    let (offer, mut target, mut other, target_id) = match (at_b, at_c) {
        (Some(o), None) => (o, b, c, 2),
        (None, Some(o)) => (o, c, b, 3),
        other => panic!("the offer must reach exactly one peer: {other:?}"),
    };
    assert_eq!(bin(&offer["peer_id"]), peer_id(1));
    assert_eq!(bin(&offer["offer_id"]), [7; 20]);
    assert_eq!(offer["offer"]["sdp"], "v=0 offer 7");
    let other_id = 5 - target_id;

    // The third peer cannot answer an offer it was never sent.
    let answer = |from: u8, to: u8, offer_id: u8| {
        format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"v=0 answer from {from}"}}}}"#,
            js(&[1; 20]),
            js(&peer_id(from)),
            js(&peer_id(to)),
            js(&[offer_id; 20])
        )
    };
    send(&mut other, answer(other_id, 1, 7));
    assert_eq!(recv_within(&mut a, Duration::from_millis(300)), None);

    // The peer that got the offer answers; only A receives it, once.
    send(&mut target, answer(target_id, 1, 7));
    let got = recv(&mut a);
    assert_eq!(bin(&got["peer_id"]), peer_id(target_id));
    assert_eq!(bin(&got["offer_id"]), [7; 20]);
    assert_eq!(got["answer"]["sdp"], format!("v=0 answer from {target_id}"));
    assert_eq!(recv_within(&mut other, Duration::from_millis(300)), None);
    send(&mut target, answer(target_id, 1, 7));
    assert_eq!(
        recv_within(&mut a, Duration::from_millis(300)),
        None,
        "an offer is answered once"
    );
    let s = stats(addr);
    assert_eq!(s["webtorrent"]["offers_relayed"], 1);
    assert_eq!(s["webtorrent"]["answers_relayed"], 1);
    assert_eq!(
        metric(addr, "shoal_webtorrent_not_relayed_total{kind=\"answer\"}"),
        2
    );
}

#[test]
fn seeders_offer_only_to_leechers_and_offers_are_capped() {
    let server = server_with("[webtorrent]\nmax_offers = 2\n");
    let addr = server.http_addr(false);
    // Peers 2 and 3 seed, 4 to 7 leech.
    let mut peers: Vec<Ws> = (2..=7).map(|_| connect(addr, "/announce")).collect();
    for (i, p) in peers.iter_mut().enumerate() {
        let left = if i < 2 { r#","left":0"# } else { "" };
        send(p, announce(9, i as u8 + 2, left));
        recv(p);
    }
    let mut seeder = connect(addr, "/announce");
    send(
        &mut seeder,
        announce(9, 1, &format!(r#","left":0{}"#, offers(&[1, 2, 3, 4]))),
    );
    assert_eq!(counts(&recv(&mut seeder)), (3, 4));
    // Four offers sent, two allowed: exactly two of the four leechers get one, and
    // the seeders get none.
    let got: Vec<bool> = peers
        .iter_mut()
        .map(|p| recv_within(p, Duration::from_millis(300)).is_some())
        .collect();
    assert_eq!(&got[..2], &[false, false], "seeders got offers: {got:?}");
    assert_eq!(got[2..].iter().filter(|g| **g).count(), 2, "{got:?}");
}

#[test]
fn closing_or_stopping_ends_membership() {
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let addr = server.http_addr(false);
    let mut a = connect(addr, "/announce");
    let mut b = connect(addr, "/announce");
    send(&mut a, announce(3, 1, ""));
    recv(&mut a);
    send(&mut a, announce(4, 1, ""));
    recv(&mut a);
    send(&mut b, announce(3, 2, r#","left":0"#));
    assert_eq!(counts(&recv(&mut b)), (1, 1));
    assert_eq!(stats(addr)["webtorrent"]["peers"], 3);
    assert_eq!(stats(addr)["webtorrent"]["connections"], 2);

    // Scrape: one hash, several.
    send(
        &mut b,
        format!(
            r#"{{"action":"scrape","info_hash":[{},{}]}}"#,
            js(&[3; 20]),
            js(&[4; 20])
        ),
    );
    let s = recv(&mut b);
    assert_eq!(s["action"], "scrape");
    let files = s["files"].as_object().unwrap();
    let key = |h: u8| String::from_utf8(vec![h; 20]).unwrap();
    assert_eq!(files[&key(3)]["complete"], 1);
    assert_eq!(files[&key(3)]["incomplete"], 1);
    assert_eq!(files[&key(4)]["incomplete"], 1);

    // Closing A drops it from both swarms.
    a.close(None).unwrap();
    let _ = a.flush();
    drop(a);
    wait_for("A to leave", || stats(addr)["webtorrent"]["peers"] == 1);
    send(&mut b, announce(3, 2, r#","left":0"#));
    assert_eq!(counts(&recv(&mut b)), (1, 0));
    // `stopped` ends membership with the socket still open.
    send(&mut b, announce(3, 2, r#","event":"stopped""#));
    assert_eq!(counts(&recv(&mut b)), (0, 0));
    assert_eq!(stats(addr)["webtorrent"]["peers"], 0);
    // A full scrape is off by default.
    send(&mut b, r#"{"action":"scrape"}"#.to_owned());
    let f = recv(&mut b);
    assert!(f["failure reason"]
        .as_str()
        .unwrap()
        .contains("full scrape is disabled"));
    assert_eq!(f["action"], "scrape");
}

#[test]
fn bad_messages_get_failures_and_oversized_frames_close() {
    let server = server_with("[webtorrent]\nmax_message_bytes = 2048\nmax_queue_bytes = 4096\n");
    let addr = server.http_addr(false);
    let mut ws = connect(addr, "/announce");
    send(&mut ws, "not json".to_owned());
    assert_eq!(recv(&mut ws)["failure reason"], "invalid JSON message");
    send(
        &mut ws,
        format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":"short"}}"#,
            js(&[1; 20])
        ),
    );
    let f = recv(&mut ws);
    assert_eq!(f["failure reason"], "invalid peer_id");
    assert_eq!(f["action"], "announce");
    assert_eq!(bin(&f["info_hash"]), [1; 20]);
    // Still usable after failures.
    send(&mut ws, announce(1, 1, ""));
    assert_eq!(counts(&recv(&mut ws)), (0, 1));

    // A frame over max_message_bytes: closed with 1009.
    let big = announce(1, 1, &format!(r#","pad":"{}""#, "x".repeat(4000)));
    let _ = ws.send(Message::text(big));
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => break Some(u16::from(f.code)),
            Ok(Message::Close(None)) => break None,
            Ok(_) => {}
            Err(_) => break None,
        }
        assert!(Instant::now() < deadline);
    };
    assert_eq!(code, Some(1009));
    wait_for("the closed peer to leave", || {
        stats(addr)["webtorrent"]["peers"] == 0
    });
    assert_eq!(
        metric(addr, "shoal_webtorrent_closed_total{reason=\"too_large\"}"),
        1
    );
}

#[test]
fn connections_per_address_are_limited() {
    let server = server_with("[webtorrent]\nmax_connections_per_ip = 2\n");
    let addr = server.http_addr(false);
    let a = connect(addr, "/announce");
    let _b = connect(addr, "/announce");
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    match tungstenite::client(format!("ws://{addr}/announce"), tcp) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            assert_eq!(r.status(), 429)
        }
        other => panic!("third connection must be refused: {:?}", other.is_ok()),
    }
    drop(a);
    wait_for("a slot to free", || {
        stats(addr)["webtorrent"]["connections"] == 1
    });
    let _c = connect(addr, "/announce");
    // Plain HTTP on the same listener is unaffected.
    assert_eq!(get(addr, "/health").0, 200);
}

#[test]
fn a_reader_that_stops_reading_is_dropped() {
    let server = server_with(
        "[webtorrent]\nmax_message_bytes = 8192\nmax_queue_bytes = 9216\nwrite_timeout = 1\n",
    );
    let addr = server.http_addr(false);
    // The slow peer: a tiny receive buffer, and it never reads.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let tcp: TcpStream = sock.into();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (mut slow, _) = tungstenite::client(format!("ws://{addr}/announce"), tcp).unwrap();
    send(&mut slow, announce(5, 2, ""));
    // It reads its own announce response (so it is in the swarm), then nothing more.
    assert_eq!(counts(&recv(&mut slow)), (0, 1));
    let mut fast = connect(addr, "/announce");
    let sdp = "a".repeat(6000);
    let mut dropped = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..200_000u32 {
        if Instant::now() > deadline {
            break;
        }
        let offer = format!(
            r#","offers":[{{"offer":{{"type":"offer","sdp":"{sdp}"}},"offer_id":{}}}]"#,
            js(&[(i % 200) as u8; 20])
        );
        send(&mut fast, announce(5, 1, &offer));
        let r = recv(&mut fast);
        if counts(&r) == (0, 1) {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the slow reader was never dropped");
    assert!(
        metric(
            addr,
            "shoal_webtorrent_closed_total{reason=\"slow_reader\"}"
        ) >= 1
    );
    // The server kept serving.
    assert_eq!(get(addr, "/health").0, 200);
}

#[test]
fn wss_on_the_https_listener() {
    let dir = common::temp_dir("wss");
    let (cert, key) = common::write_cert(&dir, "wss");
    let server = common::start_tls(&cert, &key);
    let tls_addr = server.tls[0];
    let config = common::tls_client(&cert);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let tcp = TcpStream::connect(tls_addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stream = rustls::StreamOwned::new(conn, tcp);
    let (mut ws, resp) = tungstenite::client(
        format!("wss://127.0.0.1:{}/announce", tls_addr.port()),
        stream,
    )
    .unwrap();
    assert_eq!(resp.status(), 101);
    send(&mut ws, announce(8, 1, r#","left":0"#));
    let msg = match ws.read().unwrap() {
        Message::Text(t) => serde_json::from_str::<Value>(&t).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(counts(&msg), (1, 0));
    // The plain listener shares the swarms.
    let mut plain = connect(server.http_addr(false), "/announce");
    send(&mut plain, announce(8, 2, ""));
    assert_eq!(counts(&recv(&mut plain)), (1, 1));
}

#[test]
fn webtorrent_can_be_turned_off() {
    let server = server_with("[webtorrent]\nenabled = false\n");
    let addr = server.http_addr(false);
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(tungstenite::client(format!("ws://{addr}/announce"), tcp).is_err());
    assert!(stats(addr).get("webtorrent").is_none());
}

#[test]
fn a_peer_id_held_by_a_live_connection_cannot_be_taken() {
    let server = Server::start_with(&[], &["127.0.0.1:0"], &[]);
    let addr = server.http_addr(false);
    let answer = |from: u8, to: u8, offer_id: u8| {
        format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"v=0 answer from {from}"}}}}"#,
            js(&[6; 20]),
            js(&peer_id(from)),
            js(&peer_id(to)),
            js(&[offer_id; 20])
        )
    };
    // The answering peer.
    let mut c = connect(addr, "/announce");
    send(&mut c, announce(6, 3, ""));
    assert_eq!(counts(&recv(&mut c)), (0, 1));
    // A holds id 1 and makes an offer, which reaches C.
    let mut a = connect(addr, "/announce");
    send(&mut a, announce(6, 1, &offers(&[7])));
    assert_eq!(counts(&recv(&mut a)), (0, 2));
    assert_eq!(bin(&recv(&mut c)["offer_id"]), [7; 20]);

    // B announces A's id, with an offer of its own: refused, and nothing of B's
    // reaches C.
    let mut b = connect(addr, "/announce");
    send(&mut b, announce(6, 1, &offers(&[8])));
    let f = recv(&mut b);
    assert_eq!(f["action"], "announce");
    assert!(
        f["failure reason"]
            .as_str()
            .is_some_and(|r| r.contains("peer_id")),
        "B must get a failure, got {f}"
    );
    assert_eq!(recv_within(&mut c, Duration::from_millis(300)), None);
    // C's answer to A's offer still goes to A, not to B.
    send(&mut c, answer(3, 1, 7));
    let got = recv(&mut a);
    assert_eq!(bin(&got["offer_id"]), [7; 20]);
    assert_eq!(got["answer"]["sdp"], "v=0 answer from 3");
    assert_eq!(recv_within(&mut b, Duration::from_millis(300)), None);
    // A is still the member: its next offer goes out and its answer comes back.
    send(&mut a, announce(6, 1, &offers(&[9])));
    assert_eq!(counts(&recv(&mut a)), (0, 2));
    assert_eq!(bin(&recv(&mut c)["offer_id"]), [9; 20]);
    send(&mut c, answer(3, 1, 9));
    assert_eq!(bin(&recv(&mut a)["offer_id"]), [9; 20]);
    assert_eq!(recv_within(&mut b, Duration::from_millis(300)), None);

    // A closes: it left the swarm, so the id is free and B reconnecting with it is
    // accepted, and answers now reach B.
    a.close(None).unwrap();
    let _ = a.flush();
    drop(a);
    wait_for("A to leave", || stats(addr)["webtorrent"]["peers"] == 1);
    send(&mut b, announce(6, 1, &offers(&[10])));
    let ok = recv(&mut b);
    assert!(ok.get("failure reason").is_none(), "{ok}");
    assert_eq!(counts(&ok), (0, 2));
    assert_eq!(bin(&recv(&mut c)["offer_id"]), [10; 20]);
    send(&mut c, answer(3, 1, 10));
    assert_eq!(bin(&recv(&mut b)["offer_id"]), [10; 20]);
}

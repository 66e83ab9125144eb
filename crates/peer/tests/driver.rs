//! `fetch_metadata` against small in-process peers on 127.0.0.1: an honest one and
//! hostile ones, each abandoned within its deadline with the right reason.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shoal_bencode::Encoder;
use shoal_peer::{fetch_metadata, BadData, FetchError, FetchOptions, HashKind, Metadata};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The ut_metadata id our test peers ask for.
const PEER_UT: u8 = 5;

/// How a test peer behaves once connected.
#[derive(Clone)]
enum Peer {
    /// Serves `info`, but says the torrent is `hash`.
    Honest { info: Vec<u8> },
    /// Announces a metadata_size of 4 GiB.
    Huge,
    /// Sends its handshake one byte a second.
    Drip,
    /// Answers at once, then sends each data message one byte every 100 ms.
    Slow { info: Vec<u8> },
    /// Rejects every request.
    Rejects { info: Vec<u8> },
    /// Sends half of the first piece, then closes.
    ClosesMidPiece { info: Vec<u8> },
    /// Answers with an HTTP error.
    Http,
}

fn info_dict(name: &str, files: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.bytes(b"files");
    e.begin_list();
    for i in 0..files {
        e.begin_dict();
        e.key_int(b"length", 1000 + i as i64);
        e.bytes(b"path");
        e.begin_list();
        e.bytes(b"dir");
        e.bytes(format!("file {i:04}.bin").as_bytes());
        e.end();
        e.end();
    }
    e.end();
    e.key_bytes(b"name", name.as_bytes());
    e.key_int(b"piece length", 16384);
    e.key_bytes(b"pieces", &vec![0x11; 20 * files]);
    e.end();
    out
}

fn sha1(b: &[u8]) -> [u8; 20] {
    <sha1::Sha1 as sha1::Digest>::digest(b).into()
}

fn extended(ext_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 2) as u32).to_be_bytes().to_vec();
    out.push(20);
    out.push(ext_id);
    out.extend_from_slice(payload);
    out
}

fn peer_hello(hash: &[u8; 20], size: i64) -> Vec<u8> {
    let mut out = b"\x13BitTorrent protocol".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    out.extend_from_slice(hash);
    out.extend_from_slice(b"-XX0001-testpeer0000");
    // A bitfield and an unchoke, as a seeder would send.
    out.extend_from_slice(&[0, 0, 0, 2, 5, 0xff, 0, 0, 0, 1, 1]);
    let ext = format!("d1:md11:ut_metadatai{PEER_UT}ee13:metadata_sizei{size}e1:v9:TestPeer1e");
    out.extend_from_slice(&extended(0, ext.as_bytes()));
    out
}

/// Reads one length-prefixed message (None at EOF).
async fn read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// Waits for the next ut_metadata request and returns its piece; notes the driver's
/// ut_metadata id in `their_ut` from its extension handshake.
async fn next_request(s: &mut TcpStream, their_ut: &mut u8) -> Option<i64> {
    loop {
        let m = read_msg(s).await?;
        if m.first() != Some(&20) {
            continue;
        }
        let d = shoal_bencode::decode(&m[2..]).ok()?;
        if m[1] == 0 {
            *their_ut = d.get(b"m")?.get(b"ut_metadata")?.as_int()? as u8;
            continue;
        }
        assert_eq!(m[1], PEER_UT, "requests come to the id we asked for");
        assert_eq!(d.get(b"msg_type")?.as_int()?, 0);
        return d.get(b"piece")?.as_int();
    }
}

fn data_msg(their_ut: u8, info: &[u8], piece: i64) -> Vec<u8> {
    let start = piece as usize * 16384;
    let end = (start + 16384).min(info.len());
    let mut body = format!(
        "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
        info.len()
    )
    .into_bytes();
    body.extend_from_slice(&info[start..end]);
    extended(their_ut, &body)
}

async fn run_peer(mut s: TcpStream, hash: [u8; 20], peer: Peer) -> Option<()> {
    if let Peer::Http = peer {
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .ok()?;
        return Some(());
    }
    let mut hs = [0; 68];
    s.read_exact(&mut hs).await.ok()?;
    assert_eq!(&hs[..20], b"\x13BitTorrent protocol");
    assert_eq!(hs[25] & 0x10, 0x10, "extension bit set");
    let mut ut = 0;
    match peer {
        Peer::Honest { info } => {
            s.write_all(&peer_hello(&hash, info.len() as i64))
                .await
                .ok()?;
            while let Some(piece) = next_request(&mut s, &mut ut).await {
                s.write_all(&data_msg(ut, &info, piece)).await.ok()?;
            }
        }
        Peer::Huge => {
            s.write_all(&peer_hello(&hash, 1 << 32)).await.ok()?;
            read_msg(&mut s).await;
        }
        Peer::Drip => {
            for b in peer_hello(&hash, 100) {
                s.write_all(&[b]).await.ok()?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Peer::Slow { info } => {
            s.write_all(&peer_hello(&hash, info.len() as i64))
                .await
                .ok()?;
            while let Some(piece) = next_request(&mut s, &mut ut).await {
                for b in data_msg(ut, &info, piece) {
                    s.write_all(&[b]).await.ok()?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Peer::Rejects { info } => {
            s.write_all(&peer_hello(&hash, info.len() as i64))
                .await
                .ok()?;
            while let Some(piece) = next_request(&mut s, &mut ut).await {
                let body = format!("d8:msg_typei2e5:piecei{piece}ee");
                s.write_all(&extended(ut, body.as_bytes())).await.ok()?;
            }
        }
        Peer::ClosesMidPiece { info } => {
            s.write_all(&peer_hello(&hash, info.len() as i64))
                .await
                .ok()?;
            let piece = next_request(&mut s, &mut ut).await?;
            let m = data_msg(ut, &info, piece);
            s.write_all(&m[..m.len() / 2]).await.ok()?;
            s.shutdown().await.ok()?;
        }
        Peer::Http => unreachable!(),
    }
    Some(())
}

/// Starts a test peer for `hash` on 127.0.0.1 (one connection).
async fn start(hash: [u8; 20], peer: Peer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        run_peer(s, hash, peer).await;
    });
    addr
}

/// Starts `peer` for `hash` and fetches from it with the given deadlines (ms).
async fn fetch_from(
    hash: [u8; 20],
    peer: Peer,
    idle: u64,
    total: u64,
) -> Result<Metadata, FetchError> {
    let addr = start(hash, peer).await;
    fetch_metadata(addr, hash, &opts(idle, total)).await
}

fn opts(idle: u64, total: u64) -> FetchOptions {
    FetchOptions {
        peer_id: *b"-SH0100-drivertest00",
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_millis(idle),
        total_timeout: Duration::from_millis(total),
        max_metadata_size: 8 << 20,
    }
}

#[tokio::test]
async fn an_honest_peer_gives_the_info_dict() {
    // Five pieces: 1200 files of about 45 bytes each, plus 24 KB of piece hashes.
    let info = info_dict("an honest torrent", 1200);
    assert!(info.len() > 4 * 16384, "{}", info.len());
    let hash = sha1(&info);
    let addr = start(hash, Peer::Honest { info: info.clone() }).await;
    let meta = fetch_metadata(addr, hash, &opts(5000, 10_000))
        .await
        .unwrap();
    assert_eq!(meta.info, info);
    assert_eq!(meta.matched, HashKind::V1);
    assert_eq!(meta.client.as_deref(), Some("TestPeer1"));
    assert_eq!(meta.source, addr);
}

#[tokio::test]
async fn a_v2_only_swarm_is_matched_by_its_truncated_hash() {
    let info = info_dict("v2", 3);
    let v2 = <sha2::Sha256 as sha2::Digest>::digest(&info);
    let hash: [u8; 20] = v2[..20].try_into().unwrap();
    let meta = fetch_from(hash, Peer::Honest { info: info.clone() }, 5000, 10_000)
        .await
        .unwrap();
    assert_eq!((meta.info, meta.matched), (info, HashKind::V2Truncated));
}

#[tokio::test]
async fn wrong_metadata_is_bad_data() {
    let info = info_dict("the real one", 3);
    let hash = sha1(&info);
    let fake = info_dict("the fake one", 3);
    let e = fetch_from(hash, Peer::Honest { info: fake }, 5000, 10_000)
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::BadData(BadData::HashMismatch));
    assert_eq!(e.reason(), "bad_data");
}

#[tokio::test]
async fn a_metadata_size_of_4_gib_is_too_large() {
    let hash = [7; 20];
    let e = fetch_from(hash, Peer::Huge, 5000, 10_000)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "too_large", "{e}");
}

#[tokio::test]
async fn a_peer_dripping_a_byte_a_second_stalls_within_the_idle_deadline() {
    let hash = [8; 20];
    let t = Instant::now();
    let e = fetch_from(hash, Peer::Drip, 1500, 20_000)
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Stalled);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_peer_too_slow_overall_hits_the_total_deadline() {
    // Progress every few bytes would keep a long idle deadline alive; the total one ends it.
    let info = info_dict("slow", 3);
    let hash = sha1(&info);
    let t = Instant::now();
    let e = fetch_from(hash, Peer::Slow { info }, 10_000, 1500)
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Timeout);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_peer_that_rejects_every_request_is_rejected() {
    let info = info_dict("rejected", 3);
    let hash = sha1(&info);
    let e = fetch_from(hash, Peer::Rejects { info }, 5000, 10_000)
        .await
        .unwrap_err();
    assert_eq!(e, FetchError::Rejected { piece: 0 });
    assert_eq!(e.reason(), "rejected");
}

#[tokio::test]
async fn a_peer_closing_mid_piece_is_closed() {
    let info = info_dict("closed", 3);
    let hash = sha1(&info);
    let e = fetch_from(hash, Peer::ClosesMidPiece { info }, 5000, 10_000)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "closed", "{e}");
}

#[tokio::test]
async fn a_non_bittorrent_server_fails_the_handshake() {
    let hash = [9; 20];
    let e = fetch_from(hash, Peer::Http, 5000, 10_000)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "handshake", "{e}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = fetch_metadata(addr, [1; 20], &opts(5000, 10_000))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        FetchError::Connect(std::io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(e.reason(), "connect");
}

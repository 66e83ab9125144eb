//! `fetch_metadata` against small in-process peers on 127.0.0.1 (`shoal_peer::testing`):
//! an honest one and hostile ones, each abandoned within its deadline with the right
//! reason.

use std::time::{Duration, Instant};

use shoal_peer::testing::{info_dict, sha1, start, Peer};
use shoal_peer::{fetch_metadata, BadData, FetchError, FetchOptions, HashKind, Metadata};
use tokio::net::TcpListener;

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
    // Five metadata pieces: 1400 files of about 50 bytes each, plus their piece hashes.
    let info = info_dict("an honest torrent", 1400);
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

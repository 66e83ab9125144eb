//! Test peers (feature `testing`): small in-process BitTorrent peers on 127.0.0.1 that
//! serve a torrent's metadata honestly or misbehave in one chosen way, for tests of
//! [`fetch_metadata`](crate::fetch_metadata) and of whatever drives it (the catalog).
//!
//! Each peer listens on its own port and serves every connection it gets the same way
//! until the tokio runtime it was started on shuts down. They are not hardened: a
//! client that breaks the protocol just gets its connection closed.
//!
//! ```no_run
//! # async fn f() {
//! use shoal_peer::testing::{info_dict, sha1, start, Peer};
//! use shoal_peer::{fetch_metadata, FetchOptions};
//!
//! let info = info_dict("a torrent", 3);
//! let hash = sha1(&info);
//! let honest = start(hash, Peer::Honest { info: info.clone() }).await;
//! let meta = fetch_metadata(honest, hash, &FetchOptions::default()).await.unwrap();
//! assert_eq!(meta.info, info);
//! let huge = start(hash, Peer::Huge).await;
//! let e = fetch_metadata(huge, hash, &FetchOptions::default()).await.unwrap_err();
//! assert_eq!(e.reason(), "too_large");
//! # }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use shoal_bencode::Encoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The ut_metadata id the test peers ask to be sent requests on.
pub const PEER_UT: u8 = 5;

/// How a test peer behaves once connected. The failure reason each one makes
/// `fetch_metadata` report is in brackets.
#[derive(Debug, Clone)]
pub enum Peer {
    /// Serves `info` for whatever info-hash it is started with (`bad_data` when `info`
    /// does not hash to it: a wrong-metadata peer).
    Honest {
        /// The info dictionary it serves.
        info: Vec<u8>,
    },
    /// Announces a `metadata_size` of 4 GiB (`too_large`).
    Huge,
    /// Sends its handshake one byte a second (`stalled`, by the idle deadline).
    Drip,
    /// Answers at once, then sends each data message one byte every 100 ms (`timeout`,
    /// by the total deadline: every few bytes are progress of a kind).
    Slow {
        /// The info dictionary it serves, slowly.
        info: Vec<u8>,
    },
    /// Rejects every request (`rejected`).
    Rejects {
        /// The info dictionary whose size it announces.
        info: Vec<u8>,
    },
    /// Sends half of the first piece asked for, then closes (`closed`).
    ClosesMidPiece {
        /// The info dictionary half a piece of which it sends.
        info: Vec<u8>,
    },
    /// Answers with an HTTP error (`handshake`).
    Http,
    /// A seeder: serves `info` over BEP 9 and content over BEP 3 (a bitfield of every
    /// piece, an unchoke, then each request answered from `content`, the torrent's
    /// piece space, padding included). With `corrupt`, that piece's bytes are sent with
    /// their first byte flipped. It serves clients with or without the extension bit.
    Seeder {
        /// The info dictionary it serves.
        info: Vec<u8>,
        /// Bytes per piece.
        piece_length: u32,
        /// The piece space.
        content: std::sync::Arc<Vec<u8>>,
        /// A piece it sends corrupt.
        corrupt: Option<u32>,
    },
}

/// A v1 multi-file info dictionary named `name` with `files` files `dir/file NNNN.bin`
/// of 1000 + i bytes each, 16 KiB pieces (as many piece hashes as the size needs, but
/// filler: nothing checks them against content).
pub fn info_dict(name: &str, files: usize) -> Vec<u8> {
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
    let total: u64 = (0..files as u64).map(|i| 1000 + i).sum();
    e.key_bytes(b"pieces", &vec![0x11; 20 * total.div_ceil(16384) as usize]);
    e.end();
    out
}

/// SHA-1 of `b`: a v1 info-hash.
pub fn sha1(b: &[u8]) -> [u8; 20] {
    <sha1::Sha1 as sha1::Digest>::digest(b).into()
}

fn extended(ext_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 2) as u32).to_be_bytes().to_vec();
    out.push(20);
    out.push(ext_id);
    out.extend_from_slice(payload);
    out
}

/// The peer's side of the opening: handshake, a seeder's bitfield and unchoke, and an
/// extension handshake announcing `size` bytes of metadata.
fn peer_hello(hash: &[u8; 20], size: i64) -> Vec<u8> {
    let mut out = b"\x13BitTorrent protocol".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    out.extend_from_slice(hash);
    out.extend_from_slice(b"-XX0001-testpeer0000");
    out.extend_from_slice(&[0, 0, 0, 2, 5, 0xff, 0, 0, 0, 1, 1]);
    let ext = format!("d1:md11:ut_metadatai{PEER_UT}ee13:metadata_sizei{size}e1:v9:TestPeer1e");
    out.extend_from_slice(&extended(0, ext.as_bytes()));
    out
}

/// Reads one length-prefixed message (None at EOF or past 1 MiB).
async fn read_msg(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0; 4];
    s.read_exact(&mut len).await.ok()?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 1 << 20 {
        return None;
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// Waits for the next ut_metadata request and returns its piece; notes the client's
/// ut_metadata id in `their_ut` from its extension handshake. None when the client
/// closes or sends something that is not a request on our id.
async fn next_request(s: &mut TcpStream, their_ut: &mut u8) -> Option<i64> {
    loop {
        let m = read_msg(s).await?;
        if m.first() != Some(&20) || m.len() < 2 {
            continue;
        }
        let d = shoal_bencode::decode(&m[2..]).ok()?;
        if m[1] == 0 {
            *their_ut = u8::try_from(d.get(b"m")?.get(b"ut_metadata")?.as_int()?).ok()?;
            continue;
        }
        if m[1] != PEER_UT || d.get(b"msg_type")?.as_int()? != 0 {
            return None;
        }
        return d.get(b"piece")?.as_int();
    }
}

fn data_msg(their_ut: u8, info: &[u8], piece: i64) -> Vec<u8> {
    let start = (piece.max(0) as usize * 16384).min(info.len());
    let end = (start + 16384).min(info.len());
    let mut body = format!(
        "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
        info.len()
    )
    .into_bytes();
    body.extend_from_slice(&info[start..end]);
    extended(their_ut, &body)
}

/// Serves one connection as `peer` for `hash`.
pub async fn serve(mut s: TcpStream, hash: [u8; 20], peer: Peer) -> Option<()> {
    if let Peer::Http = peer {
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .ok()?;
        return Some(());
    }
    let mut hs = [0; 68];
    s.read_exact(&mut hs).await.ok()?;
    if let Peer::Seeder {
        info,
        piece_length,
        content,
        corrupt,
    } = peer
    {
        return seed(s, hash, &info, piece_length, &content, corrupt).await;
    }
    // Only a client that speaks BitTorrent with the extension protocol is served.
    if &hs[..20] != b"\x13BitTorrent protocol" || hs[25] & 0x10 == 0 {
        return None;
    }
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
        Peer::Http | Peer::Seeder { .. } => unreachable!("answered above"),
    }
    Some(())
}

/// [`Peer::Seeder`]'s side of a connection whose handshake was read.
async fn seed(
    mut s: TcpStream,
    hash: [u8; 20],
    info: &[u8],
    piece_length: u32,
    content: &[u8],
    corrupt: Option<u32>,
) -> Option<()> {
    let pl = piece_length.max(1) as usize;
    let pieces = content.len().div_ceil(pl);
    let mut out = b"\x13BitTorrent protocol".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
    out.extend_from_slice(&hash);
    out.extend_from_slice(b"-XX0001-testseeder00");
    let mut bits = vec![0u8; pieces.div_ceil(8)];
    for i in 0..pieces {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    out.extend_from_slice(&(1 + bits.len() as u32).to_be_bytes());
    out.push(5);
    out.extend_from_slice(&bits);
    out.extend_from_slice(&[0, 0, 0, 1, 1]);
    let ext = format!(
        "d1:md11:ut_metadatai{PEER_UT}ee13:metadata_sizei{}e1:v9:TestPeer1e",
        info.len()
    );
    out.extend_from_slice(&extended(0, ext.as_bytes()));
    s.write_all(&out).await.ok()?;
    let mut their_ut = 0u8;
    loop {
        let m = read_msg(&mut s).await?;
        match m.first() {
            Some(20) if m.len() >= 2 => {
                let d = shoal_bencode::decode(&m[2..]).ok()?;
                if m[1] == 0 {
                    their_ut = d
                        .get(b"m")
                        .and_then(|m| m.get(b"ut_metadata"))
                        .and_then(|v| v.as_int())
                        .and_then(|v| u8::try_from(v).ok())
                        .unwrap_or(0);
                } else if m[1] == PEER_UT && d.get(b"msg_type")?.as_int()? == 0 {
                    let piece = d.get(b"piece")?.as_int()?;
                    s.write_all(&data_msg(their_ut, info, piece)).await.ok()?;
                }
            }
            Some(6) if m.len() == 13 => {
                let at = |i: usize| u32::from_be_bytes(m[i..i + 4].try_into().expect("4"));
                let (index, begin, len) = (at(1), at(5), at(9));
                let start = index as usize * pl + begin as usize;
                let block = content.get(start..start + len as usize)?;
                let mut msg = (9 + len).to_be_bytes().to_vec();
                msg.push(7);
                msg.extend_from_slice(&index.to_be_bytes());
                msg.extend_from_slice(&begin.to_be_bytes());
                let from = msg.len();
                msg.extend_from_slice(block);
                if corrupt == Some(index) && begin == 0 {
                    msg[from] ^= 0xff;
                }
                s.write_all(&msg).await.ok()?;
            }
            _ => {}
        }
    }
}

/// Starts a test peer for `hash` on 127.0.0.1 (a port the OS picks) on the current
/// tokio runtime; it serves every connection as `peer` until the runtime shuts down.
pub async fn start(hash: [u8; 20], peer: Peer) -> SocketAddr {
    start_at("127.0.0.1:0".parse().expect("an address"), hash, peer)
        .await
        .expect("bind a test peer on 127.0.0.1")
}

/// [`start`] on `bind` (such as `[::1]:0`); errors when it cannot listen there.
pub async fn start_at(bind: SocketAddr, hash: [u8; 20], peer: Peer) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, hash, peer.clone()));
        }
    });
    Ok(addr)
}

//! The BitTorrent peer wire protocol, metadata part: fetch a torrent's info dict from a
//! peer of its swarm (BEP 3 handshake, BEP 10 extension protocol, BEP 9 `ut_metadata`).
//!
//! A tracker knows only info-hashes; the info dict (name, files, sizes) is held by the
//! peers. This crate asks one peer for it and checks it against the info-hash. It never
//! uploads: it advertises no pieces and answers no request. Content is downloaded only
//! by [`PieceFetch`] (module [`pieces`]): the few whole pieces a catalog preview asks
//! for, in 16 KiB blocks, each block answering a request exactly.
//!
//! It is written the way quinn-proto is, in two layers without I/O and a thin driver:
//!
//! - [`Session`] (module [`wire`]): bytes in ([`Session::receive`], any split, one byte
//!   at a time included), [`Event`]s out ([`Session::poll_event`]), bytes to write out
//!   ([`Session::poll_transmit`]). It checks every length prefix and `metadata_size`
//!   against [`Limits`] before allocating, skips messages it does not need without
//!   buffering them, and refuses metadata pieces it did not request or of the wrong
//!   size.
//! - [`MetadataFetch`]: the whole exchange over a session (handshake → extension
//!   handshake → a few requests in flight → assembly → [`verify`]), ending in an
//!   [`Outcome`].
//! - [`fetch_metadata`] (feature `tokio`, on by default): dials a peer with tokio and
//!   runs a `MetadataFetch` under a connect, an idle and a total deadline.
//!
//! - [`testing`] (feature `testing`, off by default): in-process test peers on
//!   127.0.0.1, an honest one and hostile ones, for tests of the driver and its callers.
//!
//! Every failure is a [`FetchError`] whose [`FetchError::reason`] is a stable label
//! for metrics.
//!
//! The sans-I/O layer, driven by hand against a scripted peer:
//!
//! ```
//! use shoal_peer::{verify, wire, HashKind, Limits, MetadataFetch};
//!
//! let info = b"d4:name5:hello12:piece lengthi16384ee".to_vec();
//! let info_hash = sha1_of(&info);
//! let mut fetch = MetadataFetch::new(info_hash, *b"-SH0100-000000000000", Limits::default());
//!
//! // The peer's side: a handshake with the extension bit, then an extension handshake.
//! let mut peer = Vec::new();
//! wire::write_handshake(&mut peer, wire::Reserved::EXTENSIONS, &info_hash, &[9; 20]);
//! let ext = format!("d1:md11:ut_metadatai2ee13:metadata_sizei{}ee", info.len());
//! wire::write_extended(&mut peer, 0, ext.as_bytes());
//! fetch.receive(&peer);
//!
//! // We answered with our extension handshake and a request for piece 0 ...
//! let mut sent = Vec::new();
//! fetch.poll_transmit(&mut sent);
//! assert!(sent.ends_with(b"d8:msg_typei0e5:piecei0ee"));
//!
//! // ... which the peer answers with the data, to our ut_metadata id.
//! let mut data = format!("d8:msg_typei1e5:piecei0e10:total_sizei{}ee", info.len()).into_bytes();
//! data.extend_from_slice(&info);
//! let mut msg = Vec::new();
//! wire::write_extended(&mut msg, wire::OUR_UT_METADATA_ID, &data);
//! fetch.receive(&msg);
//!
//! let (bytes, matched) = fetch.outcome().unwrap().unwrap();
//! assert_eq!((bytes, matched), (&info[..], HashKind::V1));
//! # fn sha1_of(b: &[u8]) -> [u8; 20] {
//! #     use sha1::Digest;
//! #     sha1::Sha1::digest(b).into()
//! # }
//! ```
//!
//! And over TCP (the resolver's call):
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn f() -> Result<(), shoal_peer::FetchError> {
//! use shoal_peer::{fetch_metadata, FetchOptions};
//!
//! let peer = "192.0.2.7:51413".parse().unwrap();
//! let meta = fetch_metadata(peer, [0x5a; 20], &FetchOptions::default()).await?;
//! println!("{} bytes of info dict from {:?}", meta.info.len(), meta.client);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
#[cfg(feature = "tokio")]
mod fetch;
mod metadata;
pub mod pieces;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

#[cfg(test)]
mod tests;

pub use error::{BadData, FetchError, HandshakeError, ProtocolError};
#[cfg(feature = "tokio")]
pub use fetch::{fetch_metadata, fetch_pieces, FetchOptions, Metadata, PieceOptions, Pieces};
pub use metadata::{MetadataFetch, Outcome, MAX_IN_FLIGHT};
pub use pieces::{PieceEvent, PieceFetch};
pub use wire::{Event, ExtensionHandshake, Limits, Reserved, Session};

/// Which form of the info-hash an info dict matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// SHA-1 of the info dict: a v1 or hybrid torrent's v1 info-hash.
    V1,
    /// The first 20 bytes of SHA-256 of the info dict: a v2 info-hash as v2-only swarms
    /// announce it to trackers (BEP 52).
    V2Truncated,
}

/// Checks an info dict against a 20-byte info-hash: SHA-1 first (v1 and hybrid), then
/// SHA-256 truncated to 20 bytes (v2-only). Returns which matched, or `None`.
///
/// ```
/// use shoal_peer::{verify, HashKind};
///
/// let info = b"d4:name1:xe";
/// let v1: [u8; 20] = {
///     use sha1::Digest;
///     sha1::Sha1::digest(info).into()
/// };
/// assert_eq!(verify(info, &v1), Some(HashKind::V1));
/// assert_eq!(verify(info, &[0; 20]), None);
/// ```
pub fn verify(info: &[u8], info_hash: &[u8; 20]) -> Option<HashKind> {
    // sha1 and sha2 are at different `digest` versions (those already in the lock):
    // each call names its own trait.
    let v1: [u8; 20] = <sha1::Sha1 as sha1::Digest>::digest(info).into();
    if &v1 == info_hash {
        return Some(HashKind::V1);
    }
    let v2 = <sha2::Sha256 as sha2::Digest>::digest(info);
    (v2[..20] == info_hash[..]).then_some(HashKind::V2Truncated)
}

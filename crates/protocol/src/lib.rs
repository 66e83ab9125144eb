//! BitTorrent tracker protocol messages, without I/O.
//!
//! This crate turns bytes into typed tracker messages and back. It opens no socket,
//! spawns no task and reads no clock: where time matters (UDP connection ids) the
//! caller passes it in. Servers ([`udp`] in shoal's `shoal-udp` crate) and clients
//! (`shoal-client`) move bytes between sockets and these functions.
//!
//! Layout:
//! - [`common`]: info-hashes, peer ids, announce events and compact peer addresses
//!   shared by every tracker protocol.
//! - [`clients`]: which BitTorrent client a peer id belongs to.
//! - [`http`]: HTTP announce and scrape queries and their bencoded responses.
//! - [`route`]: which tracker endpoint a URL path names, and its passkey.
//! - [`udp`]: the UDP tracker protocol (BEP 15) with announce options (BEP 41), and the
//!   stateless connection-id scheme the server uses.
//! - [`ws`]: the WebTorrent tracker's JSON messages (announce with WebRTC offers,
//!   answers, scrape) and the frames the server relays.
#![deny(missing_docs)]

pub mod clients;
pub mod common;
pub mod http;
pub mod route;
pub mod udp;
pub mod ws;

pub use common::{AnnounceEvent, InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6, PeerId};

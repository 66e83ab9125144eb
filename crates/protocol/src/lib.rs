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
//!
//! What it does not do: keep swarms or choose peers (that is `shoal-engine`), resolve
//! tracker URLs or retry (that is `shoal-client`), or apply a tracker's policy (access
//! lists, rate limits, intervals): writers take the numbers the caller decided. Parsers
//! accept any bytes without panicking and allocate only where a message carries a list
//! (WebTorrent offers and scrape hashes).
//!
//! A UDP tracker's answer to a connect request, written by a server and read back by a
//! client:
//!
//! ```
//! use shoal_protocol::udp::{self, ConnectionId, Request, Response};
//!
//! // A client's connect request: the protocol id, action 0, a transaction id.
//! let mut datagram = 0x41727101980u64.to_be_bytes().to_vec();
//! datagram.extend_from_slice(&0u32.to_be_bytes());
//! datagram.extend_from_slice(&[1, 2, 3, 4]);
//!
//! let Ok(Request::Connect(req)) = Request::parse(&datagram) else { panic!() };
//! let mut out = Vec::new();
//! udp::write_connect_response(&mut out, req.transaction_id, ConnectionId([7; 8]));
//!
//! let Ok(Response::Connect { transaction_id, connection_id }) = Response::parse(&out)
//! else { panic!() };
//! assert_eq!((transaction_id.0, connection_id.0), ([1, 2, 3, 4], [7; 8]));
//! ```
#![deny(missing_docs)]

pub mod clients;
pub mod cluster;
pub mod common;
pub mod http;
pub mod route;
pub mod udp;
pub mod ws;

pub use common::{AnnounceEvent, InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6, PeerId};

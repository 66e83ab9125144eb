//! The catalog: every torrent the tracker sees becomes an entry with its name, size and
//! file list, fetched (BEP 9) from peers in its own swarm.
//!
//! - [`dial`]: which peer addresses may be dialed, and how often (a security boundary).
//! - [`resolver`]: the queue of torrents to resolve, the fetches in flight, retries.
//! - [`fetcher`]: the production fetcher, `shoal-peer`'s BEP 9 driver.
//! - `describe`: a fetched info dictionary turned into a [`shoal_store::CatalogEntry`].
//! - [`preview`]: content preview — a few small files per torrent fetched from its
//!   swarm, checked piece by piece, made safe to show and kept within a disk budget.
//! - [`service`]: the catalog thread's state ([`Catalog`]) and the handle other threads
//!   ask ([`CatalogHandle`]).
//! - [`stats`]: what it did, for `/metrics`.
//!
//! WebTorrent swarms are not resolved: their peers are browsers reachable only over
//! WebRTC, which the tracker cannot dial.
#![deny(missing_docs)]

mod describe;
pub mod dial;
pub mod fetcher;
pub mod preview;
pub mod resolver;
pub mod service;
pub mod stats;

pub use service::{Catalog, CatalogConfig, CatalogHandle};

pub use describe::entry_from_info;

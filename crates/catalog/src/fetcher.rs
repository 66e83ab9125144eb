//! The production [`Fetcher`]: the peer-wire driver of `shoal-peer`.

use std::net::SocketAddr;

use shoal_engine::InfoHash;
use shoal_peer::{fetch_metadata, FetchOptions};

use crate::resolver::{FetchFuture, Fetcher};

/// Fetches metadata over BEP 9 with `shoal_peer::fetch::fetch_metadata`.
pub struct PeerFetcher {
    /// Deadlines, size cap and our peer id.
    pub options: FetchOptions,
}

impl Fetcher for PeerFetcher {
    fn fetch(&self, peer: SocketAddr, info_hash: InfoHash) -> FetchFuture {
        let options = self.options.clone();
        Box::pin(async move {
            fetch_metadata(peer, info_hash.0, &options)
                .await
                .map(|m| m.info)
                .map_err(|e| e.reason())
        })
    }
}

//! `[web]`

use std::net::SocketAddr;

use super::section::section;

section! {
    /// `[web]`: the web UI.
    "web", pub struct WebSection {
        /// The web UI (dashboard): overview, trends, top torrents, clients. Serve it at / on the
        /// HTTP/HTTPS tracker listeners.
        on_tracker_listener: bool = true;
        /// Extra listeners serving only the web UI and the JSON API, no tracker endpoints: for
        /// example ["127.0.0.1:8080"] behind an authenticating proxy. Empty: none.
        listen: Vec<SocketAddr> = Vec::new();
    }
}

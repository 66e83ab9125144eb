//! `[cluster]`

use std::path::PathBuf;

use super::section::{bad, section};
use super::ConfigError;

section! {
    /// `[cluster]`: this node among several that share one PostgreSQL store.
    "cluster", pub struct ClusterSection {
        /// This node's name among the nodes that share a PostgreSQL store (store.url):
        /// its stats samples and its swarm snapshot's mark are kept under it, apart from
        /// the other nodes'. 1 to 64 of A-Z a-z 0-9 . _ -. Empty: the host name. A
        /// node on its own SQLite file is always "local".
        node_id: String = String::new();
        /// NATS servers the nodes share swarm changes through ("nats://host:4222",
        /// credentials in the URL when the server wants them). Empty: this node keeps its
        /// swarms to itself. Needs udp.connection_id_secret, the same on every node: the
        /// nodes sign what they send with a key derived from it.
        nats: Vec<String> = Vec::new();
        /// Seconds a starting node waits for a running one's swarms before it opens its
        /// listeners with what it has.
        snapshot_timeout: u64 = 3, in 0..=60 => "seconds";
        /// PEM file of the certificate authorities that sign the NATS servers'
        /// certificates. Set: the link requires TLS (tls:// URLs use the system's
        /// roots without it).
        nats_ca: PathBuf = PathBuf::new();
        /// PEM certificate this node presents to NATS servers that verify clients
        /// (with nats_key).
        nats_cert: PathBuf = PathBuf::new();
        /// PEM private key of nats_cert.
        nats_key: PathBuf = PathBuf::new();
        /// A NATS credentials file (.creds: user JWT and NKey seed), for servers with
        /// decentralised auth.
        nats_credentials: PathBuf = PathBuf::new();
    }
}

impl ClusterSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if !self.node_id.is_empty() && !shoal_protocol::cluster::valid_node_id(&self.node_id) {
            return bad(
                "cluster.node_id",
                format!("{:?}", self.node_id),
                "must be 1 to 64 of A-Z a-z 0-9 . _ -",
            );
        }
        for url in &self.nats {
            if !(url.starts_with("nats://") || url.starts_with("tls://")) {
                return bad(
                    "cluster.nats",
                    format!("{:?}", crate::backend::redact_password(url)),
                    "must be nats://host:port",
                );
            }
        }
        let (cert, key) = (&self.nats_cert, &self.nats_key);
        if cert.as_os_str().is_empty() != key.as_os_str().is_empty() {
            let (set, unset) = if key.as_os_str().is_empty() {
                ("cluster.nats_cert", "cluster.nats_key")
            } else {
                ("cluster.nats_key", "cluster.nats_cert")
            };
            return bad(
                set,
                format!(
                    "{:?}",
                    if key.as_os_str().is_empty() {
                        cert
                    } else {
                        key
                    }
                ),
                &format!("needs {unset} as well"),
            );
        }
        for (name, path) in [
            ("cluster.nats_ca", &self.nats_ca),
            ("cluster.nats_cert", cert),
            ("cluster.nats_key", key),
            ("cluster.nats_credentials", &self.nats_credentials),
        ] {
            if !path.as_os_str().is_empty() && !path.is_file() {
                return bad(name, format!("{path:?}"), "no such file");
            }
        }
        Ok(())
    }

    /// A configured file (`None`: the key is empty).
    pub fn file(path: &std::path::Path) -> Option<PathBuf> {
        (!path.as_os_str().is_empty()).then(|| path.to_owned())
    }

    /// The node's name: `node_id`, or the host name made to fit (any other character
    /// becomes `-`), or "node" when there is none.
    pub fn effective_node_id(&self) -> String {
        if !self.node_id.is_empty() {
            return self.node_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let name: String = host
            .trim()
            .chars()
            .take(shoal_protocol::cluster::MAX_NODE_ID)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if name.is_empty() {
            "node".into()
        } else {
            name
        }
    }
}

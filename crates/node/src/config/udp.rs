//! `[udp]`

use std::net::SocketAddr;

use super::section::{bad, section};
use super::{addr_list, all_addresses, ConfigError};

section! {
    /// `[udp]`: the UDP tracker (BEP 15).
    "udp", pub struct UdpSection {
        /// Addresses to listen on (IPv4 "0.0.0.0:6969", IPv6 "[::]:6969"); [] disables UDP.
        /// An unspecified IPv6 address is dual-stack unless an IPv4 listener shares its port.
        #[serde(deserialize_with = "addr_list")]
        listen: Vec<SocketAddr> = all_addresses(6969);
        /// Datagrams received and sent per system call (recvmmsg/sendmmsg), 1..=1024.
        batch_size: usize = 32, in 1..=1024;
        /// Kernel receive buffer per socket, bytes; 0 keeps the system default. The kernel
        /// caps it at net.core.rmem_max: raise that sysctl for busy trackers.
        recv_buffer_bytes: usize = 8 << 20;
        /// Most info-hashes answered per scrape request (1..=74); extra hashes are ignored.
        max_scrape_hashes: usize = 74, in 1..=74;
        /// Seconds a connection id is accepted after it was issued (120..=3600; clients
        /// reuse an id for up to two minutes).
        connection_id_max_age: u64 = 120, in 120..=3600 => "seconds";
        /// Seconds between connection-id key rotations (at least connection_id_max_age).
        connection_id_rotation: u64 = 600;
        /// 32 hex digits. Nodes with the same secret accept each other's connection ids.
        /// Empty: a random secret each start.
        connection_id_secret: String = String::new();
    }
}

impl UdpSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.connection_id_rotation < self.connection_id_max_age {
            return bad(
                "udp.connection_id_rotation",
                self.connection_id_rotation,
                "must be at least udp.connection_id_max_age",
            );
        }
        if !self.connection_id_secret.is_empty()
            && super::parse_secret(&self.connection_id_secret).is_none()
        {
            return bad(
                "udp.connection_id_secret",
                "(hidden)",
                "must be empty or 32 hex digits",
            );
        }
        Ok(())
    }
}

//! Types every tracker protocol shares.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A torrent's 20-byte info-hash: the SHA-1 of a v1 info dictionary, or a v2 (SHA-256)
/// info-hash truncated to 20 bytes as BEP 52 prescribes for trackers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// A peer's self-chosen 20-byte id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(pub [u8; 20]);

/// Why a string is not a 40-digit hex info-hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 40-digit hex info-hash: {0:?}")]
pub struct BadHex(pub String);

impl InfoHash {
    /// Parses 40 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, BadHex> {
        let bytes = s.as_bytes();
        if bytes.len() != 40 {
            return Err(BadHex(s.to_owned()));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            match (hex_val(pair[0]), hex_val(pair[1])) {
                (Some(h), Some(l)) => out[i] = h << 4 | l,
                _ => return Err(BadHex(s.to_owned())),
            }
        }
        Ok(InfoHash(out))
    }

    /// 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", to_hex(&self.0))
    }
}

/// The `event` of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AnnounceEvent {
    /// A regular, periodic announce.
    #[default]
    None,
    /// The peer finished downloading.
    Completed,
    /// The peer joined the swarm.
    Started,
    /// The peer is leaving the swarm.
    Stopped,
}

impl AnnounceEvent {
    /// The lowercase name HTTP trackers use (`""` for [`AnnounceEvent::None`]).
    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceEvent::None => "",
            AnnounceEvent::Completed => "completed",
            AnnounceEvent::Started => "started",
            AnnounceEvent::Stopped => "stopped",
        }
    }
}

/// A peer address in the compact wire form trackers send: address bytes then port, both
/// in network byte order (BEP 23 for IPv4, BEP 7 for IPv6). Storing peers this way means
/// a response is a straight copy.
pub trait PeerAddr: Copy + Eq + std::hash::Hash + fmt::Debug + Send + Sync + 'static {
    /// Bytes on the wire: 6 for IPv4, 18 for IPv6.
    const LEN: usize;
    /// The compact bytes.
    fn as_bytes(&self) -> &[u8];
    /// Parses exactly [`PeerAddr::LEN`] bytes.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
    /// As a standard socket address.
    fn to_socket_addr(&self) -> SocketAddr;
}

/// A compact IPv4 peer: 4 address bytes and 2 port bytes, big-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct PeerAddrV4 {
    /// The address octets.
    pub ip: [u8; 4],
    /// The port, big-endian.
    pub port: [u8; 2],
}

/// A compact IPv6 peer: 16 address bytes and 2 port bytes, big-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct PeerAddrV6 {
    /// The address octets.
    pub ip: [u8; 16],
    /// The port, big-endian.
    pub port: [u8; 2],
}

impl PeerAddrV4 {
    /// From an address and a host-order port.
    pub fn new(ip: Ipv4Addr, port: u16) -> Self {
        PeerAddrV4 {
            ip: ip.octets(),
            port: port.to_be_bytes(),
        }
    }
    /// The port in host order.
    pub fn port(&self) -> u16 {
        u16::from_be_bytes(self.port)
    }
}

impl PeerAddrV6 {
    /// From an address and a host-order port.
    pub fn new(ip: Ipv6Addr, port: u16) -> Self {
        PeerAddrV6 {
            ip: ip.octets(),
            port: port.to_be_bytes(),
        }
    }
    /// The port in host order.
    pub fn port(&self) -> u16 {
        u16::from_be_bytes(self.port)
    }
}

impl PeerAddr for PeerAddrV4 {
    const LEN: usize = 6;
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: repr(C) struct of two byte arrays: 6 bytes, alignment 1, no padding.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), Self::LEN) }
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        let b: &[u8; 6] = b.try_into().ok()?;
        Some(PeerAddrV4 {
            ip: [b[0], b[1], b[2], b[3]],
            port: [b[4], b[5]],
        })
    }
    fn to_socket_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(self.ip), self.port()))
    }
}

impl PeerAddr for PeerAddrV6 {
    const LEN: usize = 18;
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: repr(C) struct of two byte arrays: 18 bytes, alignment 1, no padding.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), Self::LEN) }
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != Self::LEN {
            return None;
        }
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&b[..16]);
        Some(PeerAddrV6 {
            ip,
            port: [b[16], b[17]],
        })
    }
    fn to_socket_addr(&self) -> SocketAddr {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(self.ip),
            self.port(),
            0,
            0,
        ))
    }
}

impl fmt::Debug for PeerAddrV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_socket_addr())
    }
}

impl fmt::Debug for PeerAddrV6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_socket_addr())
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is an IPv4 client seen through a
/// dual-stack socket; trackers treat it as IPv4 so it gets 6-byte peers and joins the
/// IPv4 swarm.
pub fn canonical_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// An IP network such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a network like 10.0.0.0/8 or fd00::/8");
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is inside this network (IPv4-mapped addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let h = InfoHash::from_hex("0123456789ABCDEFabcdef0123456789abcdef01").unwrap();
        assert_eq!(h.to_hex(), "0123456789abcdefabcdef0123456789abcdef01");
        assert!(InfoHash::from_hex("0123").is_err());
        assert!(InfoHash::from_hex("g123456789abcdefabcdef0123456789abcdef01").is_err());
        assert!(InfoHash::from_hex("é123456789abcdefabcdef0123456789abcdef0").is_err());
    }

    #[test]
    fn compact_peers_are_network_order() {
        let p = PeerAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6881);
        assert_eq!(p.as_bytes(), &[10, 0, 0, 1, 0x1a, 0xe1]);
        assert_eq!(PeerAddrV4::from_bytes(p.as_bytes()), Some(p));
        let p6 = PeerAddrV6::new(Ipv6Addr::LOCALHOST, 443);
        assert_eq!(p6.as_bytes().len(), 18);
        assert_eq!(&p6.as_bytes()[15..], &[1, 0x01, 0xbb]);
        assert_eq!(PeerAddrV6::from_bytes(p6.as_bytes()), Some(p6));
        assert_eq!(PeerAddrV6::from_bytes(&[0; 17]), None);
        assert_eq!(std::mem::size_of::<PeerAddrV4>(), 6);
        assert_eq!(std::mem::size_of::<PeerAddrV6>(), 18);
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            canonical_ip(mapped),
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap()
        );
        let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
    }
}

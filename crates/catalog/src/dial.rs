//! Which peer addresses the catalog may dial, and how often.
//!
//! Dialing out is a security boundary: peers choose the address the tracker connects
//! to. Without limits, announcing `127.0.0.1:22` or `10.0.0.5:6379` would turn the
//! tracker into a port scanner of its own network, and announcing one victim from many
//! torrents into a flood source. So by default only public unicast addresses on ports
//! 1024 and up are dialed ([`DialPolicy::check`]), one connection per peer at a time
//! (with a short pause after each for a peer that closed one on us), and a few per
//! address per minute ([`DialLimits`]),
//! under a global cap on open connections (the resolver's).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use shoal_protocol::common::{canonical_ip, Cidr};

/// Why an address is not dialed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Loopback, private, link-local, shared (CGNAT), unique-local, unspecified,
    /// multicast, documentation or otherwise reserved.
    NotPublic,
    /// A port below 1024 (services, not BitTorrent clients).
    LowPort,
    /// A connection to this address is open now.
    Busy,
    /// This address was dialed too often in the last minute.
    Rate,
}

impl Refusal {
    /// The label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotPublic => "not_public",
            Refusal::LowPort => "low_port",
            Refusal::Busy => "busy",
            Refusal::Rate => "rate",
        }
    }
}

/// Which addresses may be dialed at all.
#[derive(Debug, Clone, Default)]
pub struct DialPolicy {
    /// Dial non-public ranges and low ports too (LANs, tests).
    pub allow_private: bool,
    /// Networks dialed even when `allow_private` is off (Yggdrasil's `0200::/7`).
    pub allow: Vec<Cidr>,
}

impl DialPolicy {
    /// Whether `addr` may be dialed.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refusal> {
        let ip = canonical_ip(addr.ip());
        if self.allow_private {
            return Ok(());
        }
        if !is_public(ip) && !self.allow.iter().any(|n| n.contains(ip)) {
            return Err(Refusal::NotPublic);
        }
        // Allowed networks are not a licence to dial services.
        if addr.port() < 1024 {
            return Err(Refusal::LowPort);
        }
        Ok(())
    }
}

/// What the dial rate counts by: an IPv4 address, or an IPv6 address's /64.
fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || o0 == 0                                   // "this network"
        || (o0 == 100 && (o1 & 0xc0) == 64)          // shared address space (CGNAT)
        || (o0 == 192 && o1 == 0 && o2 == 0)         // IETF protocol assignments
        || (o0 == 198 && (o1 & 0xfe) == 18)          // benchmarking
        || o0 >= 240) // reserved
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    // Global unicast is 2000::/3; inside it, documentation and other special blocks.
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] == 0x0db8)       // documentation
        && !(s[0] == 0x2001 && s[1] < 0x0200)        // IETF protocol assignments (Teredo, ORCHID…)
        && !(s[0] == 0x3fff && s[1] < 0x1000)        // documentation (RFC 9637)
        && s[0] != 0x2002 // 6to4 relays address IPv4 space
}

/// How long a careful peer is not dialed again after a connection to it ended.
/// Transmission (3.00) closes a connection from an address at once while it is still
/// tearing down the previous one from there (about half a second): without a pause,
/// fetching two torrents from one Transmission peer back to back fails the second.
pub const COOL_DOWN: Duration = Duration::from_secs(1);

/// How long a peer that closed a connection on us stays careful (dialed only
/// [`COOL_DOWN`] after the previous connection ended). Other peers get no pause: one
/// seeding many torrents is asked about them back to back.
pub const CAREFUL_FOR: Duration = Duration::from_secs(600);

/// Per-address limits: one open connection per peer (address and port) at a time and
/// none for [`COOL_DOWN`] after it, and at most `per_minute` dials to one IP address in
/// any minute, whatever the ports (many torrents naming one victim on many ports must
/// not make a flood). Bounded: addresses idle for a minute are forgotten.
#[derive(Debug)]
pub struct DialLimits {
    per_minute: u32,
    open: HashSet<SocketAddr>,
    /// Careful peers whose connection ended less than [`COOL_DOWN`] ago, and when.
    cooling: HashMap<SocketAddr, Instant>,
    /// Peers that closed a connection on us, and until when they are careful.
    careful: HashMap<SocketAddr, Instant>,
    recent: HashMap<IpAddr, (Instant, u32)>,
    /// Most addresses remembered for the rate; past it, new ones wait for a sweep.
    max_tracked: usize,
}

impl DialLimits {
    /// Limits of `per_minute` dials per address, remembering at most `max_tracked`
    /// addresses.
    pub fn new(per_minute: u32, max_tracked: usize) -> Self {
        DialLimits {
            per_minute: per_minute.max(1),
            open: HashSet::new(),
            cooling: HashMap::new(),
            careful: HashMap::new(),
            recent: HashMap::new(),
            max_tracked: max_tracked.max(1),
        }
    }

    /// Takes a dial to `addr` at `now`, or says why not. Release it with
    /// [`DialLimits::done`] when the connection ends.
    pub fn take(&mut self, addr: SocketAddr, now: Instant) -> Result<(), Refusal> {
        let ip = canonical_ip(addr.ip());
        let peer = SocketAddr::new(ip, addr.port());
        // The rate is per IPv4 address or IPv6 /64 (one host's share of addresses).
        let ip = rate_key(ip);
        if self.open.contains(&peer) {
            return Err(Refusal::Busy);
        }
        if let Some(ended) = self.cooling.get(&peer) {
            if now.saturating_duration_since(*ended) < COOL_DOWN {
                return Err(Refusal::Busy);
            }
            self.cooling.remove(&peer);
        }
        if self.recent.len() >= self.max_tracked {
            self.sweep(now);
            if self.recent.len() >= self.max_tracked && !self.recent.contains_key(&ip) {
                return Err(Refusal::Rate);
            }
        }
        let slot = self.recent.entry(ip).or_insert((now, 0));
        if now.duration_since(slot.0) >= Duration::from_secs(60) {
            *slot = (now, 0);
        }
        if slot.1 >= self.per_minute {
            return Err(Refusal::Rate);
        }
        slot.1 += 1;
        self.open.insert(peer);
        Ok(())
    }

    /// The connection to `addr` ended at `now`; `closed_on_us` when the peer closed it
    /// before we were done (that peer is then careful for [`CAREFUL_FOR`]).
    pub fn done(&mut self, addr: SocketAddr, now: Instant, closed_on_us: bool) {
        let peer = SocketAddr::new(canonical_ip(addr.ip()), addr.port());
        self.open.remove(&peer);
        if closed_on_us {
            if self.careful.len() >= self.max_tracked {
                self.careful.retain(|_, until| *until > now);
            }
            if self.careful.len() < self.max_tracked {
                self.careful.insert(peer, now + CAREFUL_FOR);
            }
        }
        if self.careful.get(&peer).is_none_or(|until| *until <= now) {
            return;
        }
        if self.cooling.len() >= self.max_tracked {
            self.cooling
                .retain(|_, ended| now.saturating_duration_since(*ended) < COOL_DOWN);
        }
        if self.cooling.len() < self.max_tracked {
            self.cooling.insert(peer, now);
        }
    }

    /// Forgets addresses not dialed in the last minute, cooled-down peers and peers no
    /// longer careful.
    pub fn sweep(&mut self, now: Instant) {
        self.careful.retain(|_, until| *until > now);
        self.recent
            .retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
        self.cooling
            .retain(|_, ended| now.saturating_duration_since(*ended) < COOL_DOWN);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_on_high_ports_by_default() {
        let p = DialPolicy::default();
        for ok in [
            "8.8.8.8:6881",
            "[2a00:1450::1]:51413",
            "[::ffff:1.1.1.1]:6881",
        ] {
            assert_eq!(p.check(a(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "127.0.0.1:6881",
            "10.1.2.3:6881",
            "172.16.0.1:6881",
            "192.168.1.1:6881",
            "169.254.1.1:6881",
            "100.64.0.1:6881",
            "0.0.0.0:6881",
            "224.0.0.1:6881",
            "255.255.255.255:6881",
            "192.0.2.1:6881",
            "198.18.0.1:6881",
            "240.0.0.1:6881",
            "[::1]:6881",
            "[::]:6881",
            "[fe80::1]:6881",
            "[fc00::1]:6881",
            "[ff02::1]:6881",
            "[2001:db8::1]:6881",
            "[2002::1]:6881",
            "[::ffff:127.0.0.1]:6881",
            "[0200::1]:6881",
        ] {
            assert_eq!(p.check(a(bad)), Err(Refusal::NotPublic), "{bad}");
        }
        assert_eq!(p.check(a("8.8.8.8:22")), Err(Refusal::LowPort));
    }

    #[test]
    fn private_dialing_and_allowed_networks() {
        let lan = DialPolicy {
            allow_private: true,
            allow: vec![],
        };
        assert_eq!(lan.check(a("127.0.0.1:22")), Ok(()));
        let ygg = DialPolicy {
            allow_private: false,
            allow: vec!["0200::/7".parse().unwrap()],
        };
        assert_eq!(ygg.check(a("[201:abcd::1]:6881")), Ok(()));
        assert_eq!(ygg.check(a("[201:abcd::1]:22")), Err(Refusal::LowPort));
        assert_eq!(ygg.check(a("127.0.0.1:6881")), Err(Refusal::NotPublic));
    }

    #[test]
    fn one_open_connection_per_peer_and_a_rate_per_address() {
        let mut l = DialLimits::new(2, 100);
        let t = Instant::now();
        let (p1, p2) = (a("8.8.8.8:6881"), a("8.8.8.8:6882"));
        assert_eq!(l.take(p1, t), Ok(()));
        assert_eq!(l.take(p1, t), Err(Refusal::Busy), "one connection per peer");
        assert_eq!(l.take(p2, t), Ok(()), "same address, other port");
        l.done(p1, t, false);
        l.done(p2, t, false);
        assert_eq!(
            l.take(p1, t),
            Err(Refusal::Rate),
            "no pause, but two a minute per address"
        );
        let minute = t + Duration::from_secs(60);
        assert_eq!(l.take(p1, minute), Ok(()));
        l.done(p1, minute, false);
        assert_eq!(l.open(), 0);
        assert!(
            l.cooling.is_empty(),
            "no pause for a peer that never closed on us"
        );
    }

    #[test]
    fn a_peer_that_closed_on_us_is_dialed_only_after_a_pause() {
        let mut l = DialLimits::new(100, 100);
        let t = Instant::now();
        let p = a("8.8.8.8:51413");
        l.take(p, t).unwrap();
        l.done(p, t, true);
        assert_eq!(l.take(p, t), Err(Refusal::Busy), "cooling down");
        let later = t + COOL_DOWN;
        l.take(p, later).unwrap();
        // Still careful after a clean end: the pause applies again.
        l.done(p, later, false);
        assert_eq!(l.take(p, later), Err(Refusal::Busy));
        // Careful no more once CAREFUL_FOR has passed.
        let much_later = t + CAREFUL_FOR + COOL_DOWN;
        l.take(p, much_later).unwrap();
        l.done(p, much_later, false);
        assert_eq!(l.take(p, much_later), Ok(()));
        l.sweep(much_later + Duration::from_secs(61));
        assert!(l.cooling.is_empty() && l.careful.is_empty());
    }

    #[test]
    fn remembered_addresses_are_bounded() {
        let mut l = DialLimits::new(5, 3);
        let t = Instant::now();
        for i in 1..=3 {
            let p = a(&format!("8.8.8.{i}:6881"));
            l.take(p, t).unwrap();
            l.done(p, t, false);
        }
        assert_eq!(
            l.take(a("8.8.8.9:6881"), t),
            Err(Refusal::Rate),
            "table full"
        );
        assert_eq!(
            l.take(a("8.8.8.9:6881"), t + Duration::from_secs(61)),
            Ok(())
        );
        assert!(l.recent.len() <= 3);
    }
}

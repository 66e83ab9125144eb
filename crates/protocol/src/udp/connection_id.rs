//! Stateless UDP connection ids (BEP 15 anti-spoofing).
//!
//! BEP 15 makes a client fetch a connection id before it may announce, so that a
//! forged source address cannot make the tracker record peers or send peer lists to a
//! victim: only someone who receives packets at the address can learn its id. shoal
//! keeps no table of ids; an id is a timestamp plus a MAC that binds it to the client's
//! address:
//!
//! ```text
//! bytes 0..4  issue time, unix seconds (u32, big-endian)
//! bytes 4..8  first 4 bytes of SipHash-2-4(epoch key, issue time ‖ client IPv6 or mapped IPv4)
//! ```
//!
//! The epoch key is derived from a 16-byte master secret and the rotation epoch of the
//! issue time (`issue_time / rotation_secs`), so keys rotate without coordination and
//! nodes that share the master secret accept each other's ids. An id is accepted from
//! the same IP for `max_age_secs` after issue (at least two minutes: clients may reuse
//! an id for one), and a small clock skew into the future is tolerated for multi-node
//! setups. Forging one requires guessing 32 MAC bits per attempt.

use std::net::IpAddr;

use siphasher::sip::SipHasher24;
use siphasher::sip128::{Hasher128, SipHasher24 as SipHasher128};
use std::hash::Hasher;

use super::ConnectionId;

/// Seconds an id may be "from the future" (clock skew between nodes).
pub const MAX_FUTURE_SKEW_SECS: u64 = 5;

/// Issues and checks connection ids. Cheap to clone; holds the current and previous
/// epoch keys so the hot path does one SipHash.
#[derive(Clone)]
pub struct ConnectionIdKeys {
    master: [u8; 16],
    rotation_secs: u64,
    max_age_secs: u64,
    cached: [(u64, [u8; 16]); 2],
}

impl std::fmt::Debug for ConnectionIdKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("ConnectionIdKeys")
            .field("rotation_secs", &self.rotation_secs)
            .field("max_age_secs", &self.max_age_secs)
            .finish_non_exhaustive()
    }
}

impl ConnectionIdKeys {
    /// Keys from a master secret. `rotation_secs` is raised to at least `max_age_secs`
    /// (so an id's epoch key is always the current or previous one) and both to at
    /// least 1.
    pub fn new(master: [u8; 16], max_age_secs: u64, rotation_secs: u64, now_unix: u64) -> Self {
        let max_age_secs = max_age_secs.max(1);
        let rotation_secs = rotation_secs.max(max_age_secs);
        let mut keys = ConnectionIdKeys {
            master,
            rotation_secs,
            max_age_secs,
            cached: [(u64::MAX, [0; 16]); 2],
        };
        keys.update(now_unix);
        keys
    }

    /// Refreshes the cached epoch keys for `now_unix`; call it every few seconds.
    pub fn update(&mut self, now_unix: u64) {
        let epoch = now_unix / self.rotation_secs;
        if self.cached[0].0 != epoch {
            let previous = epoch.saturating_sub(1);
            self.cached = [
                (epoch, self.derive(epoch)),
                (previous, self.derive(previous)),
            ];
        }
    }

    fn derive(&self, epoch: u64) -> [u8; 16] {
        let mut h = SipHasher128::new_with_key(&self.master);
        h.write(b"shoal udp connection id epoch");
        h.write(&epoch.to_be_bytes());
        h.finish128().as_bytes()
    }

    fn epoch_key(&self, epoch: u64) -> [u8; 16] {
        match self.cached.iter().find(|(e, _)| *e == epoch) {
            Some((_, k)) => *k,
            None => self.derive(epoch),
        }
    }

    fn mac(&self, issued: u32, ip: IpAddr) -> [u8; 4] {
        let key = self.epoch_key(u64::from(issued) / self.rotation_secs);
        let mut h = SipHasher24::new_with_key(&key);
        h.write(&issued.to_be_bytes());
        let ip16 = match crate::common::canonical_ip(ip) {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        h.write(&ip16);
        let m = h.finish().to_be_bytes();
        [m[0], m[1], m[2], m[3]]
    }

    /// A new id for a client at `ip`.
    pub fn issue(&self, ip: IpAddr, now_unix: u64) -> ConnectionId {
        let issued = now_unix as u32;
        let mac = self.mac(issued, ip);
        let t = issued.to_be_bytes();
        ConnectionId([t[0], t[1], t[2], t[3], mac[0], mac[1], mac[2], mac[3]])
    }

    /// Whether `id` was issued by these keys to `ip` no more than `max_age_secs` ago.
    pub fn is_valid(&self, id: ConnectionId, ip: IpAddr, now_unix: u64) -> bool {
        let issued = u32::from_be_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]);
        // Unix seconds fit u32 until 2106; compare in the 32-bit ring around now.
        let now32 = now_unix as u32;
        let age = now32.wrapping_sub(issued);
        let fresh = u64::from(age) <= self.max_age_secs
            || u64::from(issued.wrapping_sub(now32)) <= MAX_FUTURE_SKEW_SECS;
        if !fresh {
            return false;
        }
        let expected = self.mac(issued, ip);
        // Constant-time comparison of the MAC.
        let diff = expected
            .iter()
            .zip(&id.0[4..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }

    /// How long ids stay valid.
    pub fn max_age_secs(&self) -> u64 {
        self.max_age_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_790_000_000;

    fn keys() -> ConnectionIdKeys {
        ConnectionIdKeys::new([7; 16], 120, 600, T0)
    }

    #[test]
    fn issued_id_is_valid_for_max_age_from_same_ip() {
        let k = keys();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let id = k.issue(ip, T0);
        assert!(k.is_valid(id, ip, T0));
        assert!(k.is_valid(id, ip, T0 + 120));
        assert!(!k.is_valid(id, ip, T0 + 121));
    }

    #[test]
    fn id_is_bound_to_the_ip() {
        let k = keys();
        let id = k.issue("192.0.2.1".parse().unwrap(), T0);
        assert!(!k.is_valid(id, "192.0.2.2".parse().unwrap(), T0));
        assert!(!k.is_valid(id, "2001:db8::1".parse().unwrap(), T0));
    }

    #[test]
    fn mapped_ipv4_is_the_same_client() {
        let k = keys();
        let id = k.issue("192.0.2.1".parse().unwrap(), T0);
        assert!(k.is_valid(id, "::ffff:192.0.2.1".parse().unwrap(), T0 + 1));
    }

    #[test]
    fn valid_across_rotation_boundary() {
        let mut k = keys();
        let ip: IpAddr = "2001:db8::5".parse().unwrap();
        let boundary = (T0 / 600 + 1) * 600;
        let id = k.issue(ip, boundary - 1);
        k.update(boundary + 60);
        assert!(k.is_valid(id, ip, boundary + 60));
    }

    #[test]
    fn other_master_rejects_and_same_master_accepts() {
        let a = keys();
        let b = ConnectionIdKeys::new([8; 16], 120, 600, T0);
        let c = ConnectionIdKeys::new([7; 16], 120, 600, T0 + 3);
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        let id = a.issue(ip, T0);
        assert!(!b.is_valid(id, ip, T0));
        assert!(c.is_valid(id, ip, T0 + 3));
    }

    #[test]
    fn tampered_and_future_ids_rejected() {
        let k = keys();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let id = k.issue(ip, T0);
        for bit in 0..64 {
            let mut bad = id;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!k.is_valid(bad, ip, T0), "bit {bit}");
        }
        let future = k.issue(ip, T0 + 60);
        assert!(!k.is_valid(future, ip, T0));
        let slight = k.issue(ip, T0 + 3);
        assert!(k.is_valid(slight, ip, T0));
    }

    #[test]
    fn rotation_is_at_least_max_age() {
        let k = ConnectionIdKeys::new([1; 16], 300, 10, T0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let id = k.issue(ip, T0);
        assert!(k.is_valid(id, ip, T0 + 299));
    }
}

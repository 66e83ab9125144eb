//! Open connections counted per client address, so that one address cannot take every
//! connection slot of a listener.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Shards of the count, so that accepting on several threads rarely contends.
const SHARDS: usize = 16;

/// Per-address connection counts with a cap. IPv4 addresses count alone; IPv6 by /64
/// (one host usually holds a whole /64). Entries go when their count drops to zero, so
/// the table holds at most one entry per open connection.
#[derive(Clone)]
pub(crate) struct AddrSlots {
    inner: Arc<Inner>,
}

struct Inner {
    max: u32,
    shards: [Mutex<HashMap<u128, u32>>; SHARDS],
}

/// One connection's place in its address's count; given back on drop.
pub(crate) struct AddrSlot {
    inner: Arc<Inner>,
    key: u128,
}

impl AddrSlots {
    /// At most `max` connections per address (0 = no limit).
    pub(crate) fn new(max: u32) -> Self {
        AddrSlots {
            inner: Arc::new(Inner {
                max,
                shards: Default::default(),
            }),
        }
    }

    /// Takes a slot for `ip`, or `None` when the address has its share.
    pub(crate) fn admit(&self, ip: IpAddr) -> Option<AddrSlot> {
        let key = key(ip);
        let mut map = self.inner.shard(key);
        let n = map.entry(key).or_insert(0);
        if self.inner.max > 0 && *n >= self.inner.max {
            return None;
        }
        *n += 1;
        Some(AddrSlot {
            inner: self.inner.clone(),
            key,
        })
    }

    /// Addresses holding at least one slot (for tests).
    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

impl Inner {
    fn shard(&self, key: u128) -> std::sync::MutexGuard<'_, HashMap<u128, u32>> {
        // The low bits of an IPv4 key and the /64 bits of an IPv6 one both vary.
        let i = ((key ^ (key >> 64)) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut map = self.inner.shard(self.key);
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// IPv4 (and IPv4-mapped) addresses keep all 32 bits; IPv6 keeps its /64, tagged so
/// the two families never share a key.
fn key(ip: IpAddr) -> u128 {
    match shoal_protocol::common::canonical_ip(ip) {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => (u128::from(a) & !((1u128 << 64) - 1)) | (1 << 32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_address_and_frees_on_drop() {
        let slots = AddrSlots::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = slots.admit(a).unwrap();
        let _second = slots.admit(a).unwrap();
        assert!(
            slots.admit(a).is_none(),
            "third connection from one address"
        );
        let _other = slots.admit(b).expect("another address has its own share");
        drop(first);
        let _again = slots.admit(a).expect("a closed connection frees its slot");
        assert_eq!(slots.addresses(), 2);
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_v4_as_v4() {
        let slots = AddrSlots::new(1);
        let _x = slots.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert!(slots.admit("2001:db8::ffff:2".parse().unwrap()).is_none());
        let _y = slots.admit("2001:db8:0:1::1".parse().unwrap()).unwrap();
        let _z = slots.admit("192.0.2.7".parse().unwrap()).unwrap();
        assert!(slots.admit("::ffff:192.0.2.7".parse().unwrap()).is_none());
    }

    #[test]
    fn zero_means_no_limit_and_entries_go_when_empty() {
        let slots = AddrSlots::new(0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| slots.admit(ip).unwrap()).collect();
        assert_eq!(slots.addresses(), 1);
        drop(held);
        assert_eq!(slots.addresses(), 0);
    }
}

//! Login throttling: failed logins counted per client address (an IPv4 address or an
//! IPv6 /64) and per account name, in fixed windows, in a table of bounded size. A name
//! is counted whether or not it has an account, so being throttled tells nothing about
//! which names exist. Time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;

/// What is counted: a client's address or a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// An IPv4 address.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address (one host's usual share).
    V6([u8; 8]),
    /// A lowercased account name.
    Name(String),
}

fn addr_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::V4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::V4(v4.octets()),
            None => {
                let mut k = [0u8; 8];
                k.copy_from_slice(&v6.octets()[..8]);
                Key::V6(k)
            }
        },
    }
}

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed logins one address may make per window (0: no limit).
    pub per_addr: u32,
    /// Failed logins one name may receive per window (0: no limit).
    pub per_name: u32,
    /// The window, in seconds.
    pub window: u64,
    /// Most addresses and names tracked together.
    pub max_tracked: usize,
}

#[derive(Debug, Clone, Copy)]
struct Count {
    since: u64,
    failures: u32,
}

/// Failed logins per address and per name.
#[derive(Debug)]
pub struct LoginLimiter {
    limits: Limits,
    counts: HashMap<Key, Count>,
}

impl LoginLimiter {
    /// An empty limiter.
    pub fn new(limits: Limits) -> LoginLimiter {
        LoginLimiter {
            limits,
            counts: HashMap::new(),
        }
    }

    fn over(&self, key: &Key, limit: u32, now: u64) -> bool {
        limit > 0
            && self.counts.get(key).is_some_and(|c| {
                now < c.since.saturating_add(self.limits.window) && c.failures >= limit
            })
    }

    /// Whether a login from `addr` for `name` may be tried now.
    pub fn allows(&self, addr: IpAddr, name: &str, now: u64) -> bool {
        !self.over(&addr_key(addr), self.limits.per_addr, now)
            && !self.over(&Key::Name(name.to_lowercase()), self.limits.per_name, now)
    }

    /// Counts a failed login from `addr` for `name`.
    pub fn failed(&mut self, addr: IpAddr, name: &str, now: u64) {
        self.count(addr_key(addr), now);
        self.count(Key::Name(name.to_lowercase()), now);
    }

    /// Forgets a name's failures (after a successful login).
    pub fn succeeded(&mut self, name: &str) {
        self.counts.remove(&Key::Name(name.to_lowercase()));
    }

    /// Keys tracked now.
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }

    fn count(&mut self, key: Key, now: u64) {
        let window = self.limits.window;
        if !self.counts.contains_key(&key) && self.counts.len() >= self.limits.max_tracked.max(1) {
            // Full: drop what has expired; if nothing has, the oldest window goes (a
            // flood of new keys can shorten old windows, never grow the table).
            self.counts
                .retain(|_, c| now < c.since.saturating_add(window));
            if self.counts.len() >= self.limits.max_tracked.max(1) {
                if let Some(oldest) = self
                    .counts
                    .iter()
                    .min_by_key(|(_, c)| c.since)
                    .map(|(k, _)| k.clone())
                {
                    self.counts.remove(&oldest);
                }
            }
        }
        let c = self.counts.entry(key).or_insert(Count {
            since: now,
            failures: 0,
        });
        if now >= c.since.saturating_add(window) {
            *c = Count {
                since: now,
                failures: 0,
            };
        }
        c.failures = c.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            per_addr: 5,
            per_name: 3,
            window: 600,
            max_tracked: 100,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_name_is_throttled_after_its_failures_from_any_address() {
        let mut l = LoginLimiter::new(limits());
        for i in 0..3 {
            assert!(l.allows(ip(&format!("10.0.0.{i}")), "Alice", 100));
            l.failed(ip(&format!("10.0.0.{i}")), "Alice", 100);
        }
        assert!(!l.allows(ip("10.0.0.9"), "alice", 101), "in any case");
        assert!(l.allows(ip("10.0.0.9"), "bob", 101), "other names go on");
        assert!(l.allows(ip("10.0.0.9"), "alice", 700), "the window ends");
    }

    #[test]
    fn an_address_is_throttled_whatever_names_it_tries() {
        let mut l = LoginLimiter::new(limits());
        for i in 0..5 {
            l.failed(ip("2001:db8::1"), &format!("user{i}"), 100);
        }
        assert!(!l.allows(ip("2001:db8::1"), "someone", 100));
        assert!(
            !l.allows(ip("2001:db8::ffff"), "someone", 100),
            "the same /64"
        );
        assert!(
            l.allows(ip("2001:db8:0:1::1"), "someone", 100),
            "another /64"
        );
        assert!(l.allows(ip("10.0.0.1"), "someone", 100));
    }

    #[test]
    fn success_clears_a_names_failures() {
        let mut l = LoginLimiter::new(limits());
        l.failed(ip("10.0.0.1"), "alice", 100);
        l.failed(ip("10.0.0.2"), "alice", 100);
        l.succeeded("ALICE");
        l.failed(ip("10.0.0.3"), "alice", 100);
        assert!(l.allows(ip("10.0.0.4"), "alice", 100));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut l = LoginLimiter::new(Limits {
            max_tracked: 10,
            ..limits()
        });
        for i in 0..1000u32 {
            l.failed(
                IpAddr::from(i.to_be_bytes()),
                &format!("n{i}"),
                u64::from(i),
            );
            assert!(l.tracked() <= 10);
        }
    }

    #[test]
    fn zero_means_no_limit() {
        let mut l = LoginLimiter::new(Limits {
            per_addr: 0,
            per_name: 0,
            ..limits()
        });
        for _ in 0..100 {
            l.failed(ip("10.0.0.1"), "alice", 100);
        }
        assert!(l.allows(ip("10.0.0.1"), "alice", 100));
    }
}

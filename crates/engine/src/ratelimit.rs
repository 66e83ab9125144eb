//! Per-source token buckets: at most `rate` requests per second from one IPv4 address or
//! one IPv6 /64 (a single subscriber's usual allocation), with bursts up to `burst`.
//!
//! Time is passed in as milliseconds on the caller's monotonic clock. Buckets live in
//! locked shards; a shard that fills up is swept of idle (full) buckets, and if it is
//! still full, new sources are refused until some go idle, so memory stays bounded
//! whatever the number of sources.

use std::net::IpAddr;

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::rng::Rng;

const SHARDS: usize = 64;

#[derive(Clone, Copy)]
struct Bucket {
    /// Tokens in thousandths, to keep integer arithmetic exact at low rates.
    milli_tokens: u64,
    last_ms: u64,
}

/// One shard's buckets, keyed by family tag and address (or /64) bytes.
type Buckets = HashMap<[u8; 9], Bucket, FixedState>;

/// A token-bucket limiter keyed by source address.
pub struct RateLimiter {
    /// Tokens added per second.
    rate: u32,
    /// Bucket capacity.
    burst: u32,
    max_per_shard: usize,
    shards: Box<[Mutex<Buckets>]>,
    hasher: FixedState,
}

impl RateLimiter {
    /// `rate` requests per second with bursts of `burst`, tracking at most
    /// `max_sources` sources. `rate == 0` disables limiting.
    pub fn new(rate: u32, burst: u32, max_sources: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        RateLimiter {
            rate,
            burst: burst.max(1),
            max_per_shard: (max_sources / SHARDS).max(16),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(FixedState::with_seed(rng.next_u64()))))
                .collect(),
            hasher: FixedState::with_seed(rng.next_u64()),
        }
    }

    /// Whether limiting is on.
    pub fn enabled(&self) -> bool {
        self.rate > 0
    }

    fn key(ip: IpAddr) -> [u8; 9] {
        let ip = shoal_protocol::common::canonical_ip(ip);
        let mut k = [0u8; 9];
        match ip {
            IpAddr::V4(v4) => {
                k[0] = 4;
                k[1..5].copy_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                k[0] = 6;
                k[1..9].copy_from_slice(&v6.octets()[..8]);
            }
        }
        k
    }

    fn refill(&self, b: &mut Bucket, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(b.last_ms);
        let cap = u64::from(self.burst) * 1000;
        b.milli_tokens = (b.milli_tokens + elapsed * u64::from(self.rate)).min(cap);
        b.last_ms = now_ms;
    }

    /// Takes one token for `ip` at `now_ms`; false when the source is over its rate.
    pub fn allow(&self, ip: IpAddr, now_ms: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        use std::hash::BuildHasher;
        let key = Self::key(ip);
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut map = shard.lock();
        if !map.contains_key(&key) && map.len() >= self.max_per_shard {
            let cap = u64::from(self.burst) * 1000;
            let rate = u64::from(self.rate);
            map.retain(|_, b| b.milli_tokens + now_ms.saturating_sub(b.last_ms) * rate < cap);
            if map.len() >= self.max_per_shard {
                return false;
            }
        }
        let b = map.entry(key).or_insert(Bucket {
            milli_tokens: u64::from(self.burst) * 1000,
            last_ms: now_ms,
        });
        self.refill(b, now_ms);
        if b.milli_tokens >= 1000 {
            b.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }

    /// Drops buckets that have refilled completely (their sources are idle).
    pub fn sweep(&self, now_ms: u64) {
        let cap = u64::from(self.burst) * 1000;
        let rate = u64::from(self.rate);
        for shard in self.shards.iter() {
            shard
                .lock()
                .retain(|_, b| b.milli_tokens + now_ms.saturating_sub(b.last_ms) * rate < cap);
        }
    }

    /// Sources currently tracked.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which request a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// UDP connect.
    Connect,
    /// Announce (UDP or HTTP).
    Announce,
    /// Scrape (UDP or HTTP).
    Scrape,
}

/// One limiter per action, shared by every front end.
pub struct SourceLimits {
    connect: RateLimiter,
    announce: RateLimiter,
    scrape: RateLimiter,
    limited: [std::sync::atomic::AtomicU64; 3],
}

impl std::fmt::Debug for SourceLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceLimits")
            .field("connect_rate", &self.connect.rate)
            .field("announce_rate", &self.announce.rate)
            .field("scrape_rate", &self.scrape.rate)
            .finish_non_exhaustive()
    }
}

impl SourceLimits {
    /// Limits as (rate per second, burst) for connect, announce and scrape; a rate of
    /// 0 turns that one off.
    pub fn new(
        connect: (u32, u32),
        announce: (u32, u32),
        scrape: (u32, u32),
        max_sources: usize,
        seed: u64,
    ) -> Self {
        SourceLimits {
            connect: RateLimiter::new(connect.0, connect.1, max_sources, seed),
            announce: RateLimiter::new(announce.0, announce.1, max_sources, seed ^ 1),
            scrape: RateLimiter::new(scrape.0, scrape.1, max_sources, seed ^ 2),
            limited: Default::default(),
        }
    }

    /// Takes a token for `action` from `ip`; false (and counted) when over the limit.
    pub fn allow(&self, action: Action, ip: IpAddr, now_ms: u64) -> bool {
        let l = match action {
            Action::Connect => &self.connect,
            Action::Announce => &self.announce,
            Action::Scrape => &self.scrape,
        };
        let ok = l.allow(ip, now_ms);
        if !ok {
            self.limited[action as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// Requests refused so far for connect, announce and scrape.
    pub fn limited(&self) -> [u64; 3] {
        self.limited
            .each_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Forgets idle sources.
    pub fn sweep(&self, now_ms: u64) {
        self.connect.sweep(now_ms);
        self.announce.sweep(now_ms);
        self.scrape.sweep(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_rate() {
        let l = RateLimiter::new(2, 5, 1000, 1);
        let a = ip("192.0.2.1");
        assert!((0..5).all(|_| l.allow(a, 0)), "burst of 5");
        assert!(!l.allow(a, 0));
        assert!(!l.allow(a, 499), "less than one token after 0.499 s at 2/s");
        assert!(l.allow(a, 500));
        assert!(!l.allow(a, 500));
        // Another source is independent.
        assert!(l.allow(ip("192.0.2.2"), 500));
    }

    #[test]
    fn ipv6_is_limited_per_64_and_mapped_is_ipv4() {
        let l = RateLimiter::new(1, 1, 1000, 2);
        assert!(l.allow(ip("2001:db8:1:2::1"), 0));
        assert!(!l.allow(ip("2001:db8:1:2::ffff"), 0), "same /64");
        assert!(l.allow(ip("2001:db8:1:3::1"), 0), "other /64");
        assert!(l.allow(ip("192.0.2.9"), 0));
        assert!(!l.allow(ip("::ffff:192.0.2.9"), 0));
    }

    #[test]
    fn memory_is_bounded_and_idle_sources_are_swept() {
        let l = RateLimiter::new(1, 1, 64 * 16, 3);
        let mut refused = 0;
        for n in 0..10_000u32 {
            if !l.allow(IpAddr::from(n.to_be_bytes()), 0) {
                refused += 1;
            }
        }
        assert!(l.len() <= 64 * 16);
        assert!(
            refused > 0,
            "new sources refused while every bucket is busy"
        );
        l.sweep(10_000);
        assert_eq!(l.len(), 0);
        assert!(l.allow(ip("198.51.100.1"), 10_000));
    }

    #[test]
    fn zero_rate_means_off() {
        let l = RateLimiter::new(0, 0, 10, 4);
        assert!(!l.enabled());
        assert!((0..1000).all(|_| l.allow(ip("192.0.2.1"), 0)));
    }
}

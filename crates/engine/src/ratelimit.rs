//! Per-source token buckets: at most `rate` requests per second from one IPv4 address or
//! one IPv6 /64 (a single subscriber's usual allocation), with bursts up to `burst`.
//!
//! Time is passed in as milliseconds on the caller's monotonic clock. Buckets live in
//! locked shards of at most `max_sources / 64` each, so memory stays bounded whatever
//! the number of sources.
//!
//! Design decision: a full shard makes room for a new source in bounded time. UDP
//! sources can be spoofed, so a flood of new sources is cheap to send; sweeping a whole
//! shard for each one (as an earlier version did) turned that into a CPU lever. Instead
//! a shard keeps its buckets in one array with a hash index of positions, and a clock
//! hand walks the array: a new source looks at the next [`PROBES`] slots only and
//! takes the first whose bucket has refilled completely (its source is idle, and a
//! fresh bucket would be identical), or else the fullest one among those whose source
//! has spent at most one token and is not being limited (what a spoofed one-shot
//! source looks like). A source that is being limited is never evicted, so a flood
//! cannot reset its bucket; an evicted source gains at most one token, and the hand
//! comes back to a slot only after a whole turn (`len / PROBES` new sources or more).
//! When no probed slot qualifies the new source is refused, as before.

use std::hash::BuildHasher;
use std::net::IpAddr;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use parking_lot::Mutex;

use crate::rng::Rng;

const SHARDS: usize = 64;

/// Slots a new source looks at, from the clock hand, in a full shard.
const PROBES: usize = 8;

/// One token, in the thousandths buckets count in.
const TOKEN: u64 = 1000;

#[derive(Clone, Copy)]
struct Bucket {
    /// Tokens in thousandths, to keep integer arithmetic exact at low rates.
    milli_tokens: u64,
    last_ms: u64,
}

/// A source (family tag and address or /64 bytes) and its bucket.
struct Entry {
    key: [u8; 9],
    bucket: Bucket,
}

/// One shard's buckets: an array the clock hand walks, and their positions by key.
struct Shard {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    hasher: FixedState,
    hand: usize,
    /// Slots looked at to make room, over the shard's life (tests check the bound).
    #[cfg(test)]
    probed: u64,
}

impl Shard {
    fn find(&self, hash: u64, key: &[u8; 9]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| entries[i as usize].key == *key)
            .map(|&i| i as usize)
    }

    /// Indexes position `i` (already holding its entry) under `hash`.
    fn index_at(&mut self, hash: u64, i: usize) {
        let Shard {
            entries,
            index,
            hasher,
            ..
        } = self;
        index.insert_unique(hash, i as u32, |&j| {
            hasher.hash_one(entries[j as usize].key)
        });
    }

    /// Rebuilds the index after entries moved.
    fn reindex(&mut self) {
        self.index.clear();
        for i in 0..self.entries.len() {
            let hash = self.hasher.hash_one(self.entries[i].key);
            self.index_at(hash, i);
        }
    }
}

/// A token-bucket limiter keyed by source address.
pub struct RateLimiter {
    /// Tokens added per second.
    rate: u32,
    /// Bucket capacity.
    burst: u32,
    max_per_shard: usize,
    shards: Box<[Mutex<Shard>]>,
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
                .map(|_| {
                    Mutex::new(Shard {
                        entries: Vec::new(),
                        index: HashTable::new(),
                        hasher: FixedState::with_seed(rng.next_u64()),
                        hand: 0,
                        #[cfg(test)]
                        probed: 0,
                    })
                })
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

    fn cap(&self) -> u64 {
        u64::from(self.burst) * TOKEN
    }

    /// The bucket's tokens (thousandths) at `now_ms`, refilled.
    fn level(&self, b: &Bucket, now_ms: u64) -> u64 {
        let elapsed = now_ms.saturating_sub(b.last_ms);
        b.milli_tokens
            .saturating_add(elapsed.saturating_mul(u64::from(self.rate)))
            .min(self.cap())
    }

    /// Takes one token for `ip` at `now_ms`; false when the source is over its rate.
    pub fn allow(&self, ip: IpAddr, now_ms: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let key = Self::key(ip);
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut guard = shard.lock();
        let s = &mut *guard;
        let hash = s.hasher.hash_one(key);
        let i = match s.find(hash, &key) {
            Some(i) => i,
            None => match self.make_room(s, key, hash, now_ms) {
                Some(i) => i,
                None => return false,
            },
        };
        let level = self.level(&s.entries[i].bucket, now_ms);
        let b = &mut s.entries[i].bucket;
        b.last_ms = now_ms;
        if level >= TOKEN {
            b.milli_tokens = level - TOKEN;
            true
        } else {
            b.milli_tokens = level;
            false
        }
    }

    /// Gives `key` a full bucket in a free slot or one taken from an idle or one-shot
    /// source found within [`PROBES`] slots of the hand; `None` when there is none.
    fn make_room(&self, s: &mut Shard, key: [u8; 9], hash: u64, now_ms: u64) -> Option<usize> {
        let fresh = Entry {
            key,
            bucket: Bucket {
                milli_tokens: self.cap(),
                last_ms: now_ms,
            },
        };
        if s.entries.len() < self.max_per_shard {
            s.entries.push(fresh);
            let i = s.entries.len() - 1;
            s.index_at(hash, i);
            return Some(i);
        }
        let len = s.entries.len();
        let cap = self.cap();
        let mut best: Option<(usize, u64)> = None;
        let mut probed = 0;
        while probed < PROBES.min(len) {
            let i = (s.hand + probed) % len;
            probed += 1;
            let level = self.level(&s.entries[i].bucket, now_ms);
            if level >= cap {
                best = Some((i, level));
                break;
            }
            // Spent at most one token and not limited now: losing its bucket gives
            // it back at most that one token.
            let one_shot = level >= TOKEN && level + TOKEN >= cap;
            if one_shot && best.is_none_or(|(_, l)| level > l) {
                best = Some((i, level));
            }
        }
        // The hand only moves forward, past every slot looked at: a slot is looked at
        // again only after a whole turn.
        s.hand = (s.hand + probed) % len;
        #[cfg(test)]
        {
            s.probed += probed as u64;
        }
        let (i, _) = best?;
        let old = s.hasher.hash_one(s.entries[i].key);
        if let Ok(e) = s.index.find_entry(old, |&j| j as usize == i) {
            e.remove();
        }
        s.entries[i] = fresh;
        s.index_at(hash, i);
        Some(i)
    }

    /// Drops buckets that have refilled completely (their sources are idle), and gives
    /// memory back once a shard is mostly empty. Off the request path: it walks every
    /// bucket.
    pub fn sweep(&self, now_ms: u64) {
        let cap = self.cap();
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let before = s.entries.len();
            s.entries.retain(|e| self.level(&e.bucket, now_ms) < cap);
            if s.entries.len() == before {
                continue;
            }
            if s.entries.capacity() > 64 && s.entries.len() < s.entries.capacity() / 4 {
                s.entries.shrink_to_fit();
                s.index = HashTable::with_capacity(s.entries.len());
            }
            s.reindex();
            s.hand = 0;
        }
    }

    /// Sources currently tracked.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
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

    /// A limiter at its bound, every bucket used once (what a flood of spoofed
    /// sources leaves behind), then a flood of new sources: each costs at most
    /// `PROBES` slots looked at, whatever the shard's size, and each gets in.
    #[test]
    fn a_full_limiter_makes_room_in_bounded_work() {
        let per_shard = 4096;
        let l = RateLimiter::new(1, 20, SHARDS * per_shard, 5);
        let ip = |n: u32| IpAddr::from(n.wrapping_mul(2_654_435_761).to_be_bytes());
        let mut n = 0u32;
        while l.shards.iter().any(|s| s.lock().entries.len() < per_shard) {
            assert!(l.allow(ip(n), 0));
            n += 1;
        }
        let probed = |l: &RateLimiter| l.shards.iter().map(|s| s.lock().probed).sum::<u64>();
        let before = probed(&l);
        let flood = 200_000u32;
        let t = std::time::Instant::now();
        let mut admitted = 0;
        for i in 0..flood {
            admitted += u32::from(l.allow(ip(n + i), 1));
        }
        let took = t.elapsed();
        println!(
            "{flood} new sources into a full limiter ({per_shard} per shard): {:.0} ns each",
            took.as_nanos() as f64 / f64::from(flood)
        );
        let work = probed(&l) - before;
        assert!(
            work <= u64::from(flood) * PROBES as u64,
            "{work} slots looked at for {flood} new sources"
        );
        assert_eq!(admitted, flood, "one-shot sources make room for new ones");
        assert_eq!(l.len(), SHARDS * per_shard, "memory stays at the bound");
        for s in l.shards.iter() {
            let s = s.lock();
            assert_eq!(s.index.len(), s.entries.len());
            for (i, e) in s.entries.iter().enumerate() {
                assert_eq!(s.find(s.hasher.hash_one(e.key), &e.key), Some(i));
            }
        }
    }

    /// Sources being limited keep their (empty) buckets however many new sources
    /// arrive, so a flood of spoofed sources cannot reset a heavy sender's limit.
    #[test]
    fn a_flood_of_new_sources_does_not_reset_limited_ones() {
        let (rate, burst) = (2u32, 10u32);
        let l = RateLimiter::new(rate, burst, SHARDS * 16, 6);
        let heavy: Vec<IpAddr> = (0..200u32)
            .map(|n| IpAddr::from((0x0a00_0000 + n).to_be_bytes()))
            .collect();
        let mut allowed = vec![0u64; heavy.len()];
        let mut spoofed = 0x2000_0000u32;
        let ms = 10_000u64;
        for now in 0..ms {
            for (h, n) in heavy.iter().zip(allowed.iter_mut()) {
                *n += u64::from(l.allow(*h, now));
            }
            for _ in 0..100 {
                l.allow(IpAddr::from(spoofed.to_be_bytes()), now);
                spoofed += 1;
            }
        }
        // A source that keeps asking gets its burst plus the rate, never more.
        let most = u64::from(burst) + u64::from(rate) * ms / 1000;
        for (h, n) in heavy.iter().zip(&allowed) {
            assert!(*n <= most, "{h} allowed {n} times, at most {most}");
        }
        // And the heavy sources did get in and got that share (the limiter did not
        // just refuse everyone).
        let whole = allowed.iter().filter(|&&n| n >= most - 1).count();
        assert!(
            whole > heavy.len() / 2,
            "{whole} heavy sources kept their limit"
        );
        assert!(l.len() <= SHARDS * 16);
    }

    #[test]
    fn zero_rate_means_off() {
        let l = RateLimiter::new(0, 0, 10, 4);
        assert!(!l.enabled());
        assert!((0..1000).all(|_| l.allow(ip("192.0.2.1"), 0)));
    }
}

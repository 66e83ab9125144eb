//! What the shared state every request touches costs:
//! `cargo run --release -p shoal-engine --example hot_path_cost`.
//!
//! - `Engine::allows` with the access list off and in deny mode, from one thread and
//!   from two at once (every announce and scrape asks it);
//! - a rate limiter tracking 1M sources: a known source's request, and a new source
//!   arriving while every shard is full (what a flood of spoofed UDP sources costs),
//!   with burst 20 (the default: spoofed one-shot sources may be evicted) and burst 1
//!   (nothing may be evicted).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use shoal_engine::access::AccessMode;
use shoal_engine::ratelimit::RateLimiter;
use shoal_engine::{Engine, EngineConfig, InfoHash};

fn hash(i: u32) -> InfoHash {
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
    InfoHash(h)
}

fn allows_ns(engine: &Engine, threads: u32) -> f64 {
    let n = 20_000_000u32;
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut yes = 0u32;
                for i in 0..n {
                    yes += u32::from(engine.allows(black_box(&hash(i & 1023))));
                }
                black_box(yes);
            });
        }
    });
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

fn ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)))
}

fn limiter_ns(burst: u32) -> (f64, f64, usize) {
    let sources = 1_000_000u32;
    let l = RateLimiter::new(1, burst, sources as usize, 7);
    for i in 0..sources {
        l.allow(ip(i), 0);
    }
    let n = 2_000_000u32;
    let t = Instant::now();
    for i in 0..n {
        black_box(l.allow(ip(i % sources), 1));
    }
    let known = t.elapsed().as_nanos() as f64 / f64::from(n);
    let n = 200_000u32;
    let t = Instant::now();
    let mut admitted = 0;
    for i in 0..n {
        admitted += usize::from(l.allow(ip(sources + i), 2));
    }
    let new = t.elapsed().as_nanos() as f64 / f64::from(n);
    (known, new, admitted)
}

fn main() {
    let engine = Engine::new(EngineConfig::default(), 1);
    for round in 0..3 {
        let off1 = allows_ns(&engine, 1);
        let off2 = allows_ns(&engine, 2);
        println!(
            "round {round}: allows, list off: {off1:.1} ns (1 thread), {off2:.1} ns (2 threads)"
        );
    }
    engine.update_access_list(|l| {
        l.mode = AccessMode::Deny;
        l.file.insert(hash(5));
    });
    for round in 0..3 {
        let on1 = allows_ns(&engine, 1);
        let on2 = allows_ns(&engine, 2);
        println!(
            "round {round}: allows, deny list: {on1:.1} ns (1 thread), {on2:.1} ns (2 threads)"
        );
    }
    for burst in [20, 1] {
        let (known, new, admitted) = limiter_ns(burst);
        println!(
            "rate limiter, 1M sources, burst {burst}: known source {known:.0} ns; \
             new source into a full limiter {new:.0} ns ({admitted} of 200000 admitted)"
        );
    }
}

//! What PostgreSQL spends on private mode's credits at 1 M deltas a minute: `cargo run
//! --release -p shoal-store --features testing --example pg_flush_cost`.
//!
//! Starts the test harness's throwaway PostgreSQL (fsync off, as in the tests: the
//! figure is the database's work, not the disk's), makes ACCOUNTS accounts, then writes
//! one minute's worth of credits — 1,000,000 (account, torrent) deltas — the way nodes
//! do: batches of one flush interval (5 s: 83,333 deltas), each through
//! `add_traffic_once` — the first flush makes the rows, the later ones add to them —
//! for two minutes. Prints
//! time per batch and the share of a minute the writes take, for one node and for
//! several nodes flushing at once (NODES threads, the minute's deltas split between
//! them).

use std::time::Instant;

use shoal_protocol::InfoHash;
use shoal_store::{AccountStore, NewAccount, PgStore, Role, TrafficRow};

const ACCOUNTS: u64 = 10_000;
const PER_MINUTE: usize = 1_000_000;
const FLUSH_SECS: usize = 5;

fn main() {
    let pg = shoal_store::testing::server().expect("PostgreSQL (apt-get install postgresql)");
    let url = pg.database("pg_flush_cost");
    let setup = PgStore::connect(&url, "setup").unwrap();
    let t = Instant::now();
    for i in 0..ACCOUNTS {
        let mut passkey = [0u8; 16];
        passkey[..8].copy_from_slice(&i.to_le_bytes());
        setup
            .add_account(&NewAccount {
                name: &format!("user{i}"),
                passkey,
                role: Role::User,
                invited_by: None,
                password_hash: None,
                created_at: 1,
            })
            .unwrap();
    }
    eprintln!("{ACCOUNTS} accounts in {:.1} s", t.elapsed().as_secs_f64());
    let per_batch = PER_MINUTE / (60 / FLUSH_SECS);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rows = |n: usize, salt: u64| -> Vec<TrafficRow> {
        let mut v: Vec<TrafficRow> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut h = [0u8; 20];
                h[..8].copy_from_slice(&(i as u64 ^ salt).to_le_bytes());
                TrafficRow {
                    user_id: 1 + x % ACCOUNTS,
                    info_hash: InfoHash(h),
                    uploaded: 1 << 20,
                    downloaded: 1 << 19,
                    seeding: i % 2 == 0,
                    active: true,
                    completed: i % 50 == 0,
                    seeded: 30,
                    at: 1_800_000_000,
                }
            })
            .collect();
        v.sort_unstable_by_key(|r| (r.user_id, r.info_hash));
        v.dedup_by_key(|r| (r.user_id, r.info_hash));
        v
    };
    for nodes in [1usize, 3] {
        let stores: Vec<PgStore> = (0..nodes)
            .map(|n| PgStore::connect(&url, &format!("of{nodes}-node{n}")).unwrap())
            .collect();
        for pass in ["minute 1", "minute 2"] {
            // The same rows every flush: the first flush makes them, every later one
            // adds to them.
            let salt = nodes as u64 * 1_000_003;
            let batches: Vec<Vec<TrafficRow>> = (0..nodes)
                .map(|n| rows(per_batch / nodes, salt + n as u64))
                .collect();
            let first = if pass == "minute 1" { 1 } else { 1_000 };
            let t = Instant::now();
            let mut total = 0usize;
            for flush in 0..60 / FLUSH_SECS {
                let seq = first + flush as u64;
                std::thread::scope(|s| {
                    for (store, batch) in stores.iter().zip(&batches) {
                        s.spawn(move || assert!(store.add_traffic_once(seq, batch).unwrap()));
                    }
                });
                total += batches.iter().map(Vec::len).sum::<usize>();
            }
            let spent = t.elapsed().as_secs_f64();
            println!(
                "{nodes} node(s), {pass}: {total} deltas in {:.2} s ({:.1} µs/delta, {:.0} ms per {FLUSH_SECS} s flush): {:.1}% of the minute",
                spent,
                spent * 1e6 / total as f64,
                spent * 1e3 / (60 / FLUSH_SECS) as f64,
                spent * 100.0 / 60.0
            );
        }
    }
}

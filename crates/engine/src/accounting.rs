//! Private mode's accounting: what each account uploaded and downloaded per torrent,
//! from the cumulative totals clients report in announces.
//!
//! A client reports `uploaded` and `downloaded` since its session started. The engine
//! keeps each peer's last totals in its record (in KiB, 12 bytes with the account's tag:
//! `peers::Slot`) and credits the difference to the peer's account: never negative — a
//! total lower than the last one means the client restarted its session, and the new
//! total is all new traffic. Differences are whole KiB until the session's `stopped`,
//! which is credited to the byte: a session that began at zero is credited exactly its
//! final totals, any other within 1 KiB (the remainders telescope). A peer the engine does not know yet is credited only when
//! it announces `started` (totals from the session's start); otherwise its first
//! announce sets the baseline (after a tracker restart at most one announce interval per
//! peer goes uncredited, never credited twice). Credits add up per (account, torrent) in
//! each shard until [`Engine::drain_traffic`](crate::Engine::drain_traffic) hands them
//! to the store thread. Seeding time is credited the same way: the time between a
//! seeder's consecutive announces (for hit-and-run rules and seeding bonus).

use crate::InfoHash;

/// The account behind an announce and the totals it reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// The account (nonzero).
    pub user: u32,
    /// Bytes uploaded this session, as reported.
    pub uploaded: u64,
    /// Bytes downloaded this session, as reported.
    pub downloaded: u64,
    /// Whether it may start downloads (its ratio meets the tracker's minimum).
    pub may_leech: bool,
}

/// What one account did on one torrent since the last drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// The account.
    pub user: u32,
    /// The torrent.
    pub info_hash: InfoHash,
    /// Bytes uploaded (credited).
    pub uploaded: u64,
    /// Bytes downloaded (credited).
    pub downloaded: u64,
    /// Whether its last announce was as a seeder.
    pub seeding: bool,
    /// Whether it announced `completed` (a snatch).
    pub completed: bool,
    /// Whether its last announce was `stopped`.
    pub stopped: bool,
    /// Bytes of claimed upload not credited: faster than `max_upload_rate`.
    pub capped: u64,
    /// Seconds it seeded: between consecutive announces of a peer that was a seeder at
    /// the first of them, each gap counted up to the announce interval and grace (a
    /// peer that went quiet longer is not credited for the silence).
    pub seeded: u64,
    /// Engine seconds of its last announce.
    pub at: u32,
}

/// What an account did on a torrent since the last drain, as a shard keeps it (keyed by
/// account and torrent: 40 bytes beside the 24-byte key, where a [`Traffic`] is 72).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Credit {
    pub(crate) uploaded: u64,
    pub(crate) downloaded: u64,
    pub(crate) capped: u64,
    /// Seconds seeded (a drain comes every few seconds: no overflow).
    pub(crate) seeded: u32,
    pub(crate) at: u32,
    pub(crate) flags: u8,
}

const SEEDING: u8 = 1;
const COMPLETED: u8 = 2;
const STOPPED: u8 = 4;

impl Credit {
    /// Adds one announce's credit; the seeding and stopped state are the last
    /// announce's, completion sticks.
    pub(crate) fn add(&mut self, c: Credit, seeding: bool, completed: bool, stopped: bool) {
        self.uploaded = self.uploaded.saturating_add(c.uploaded);
        self.downloaded = self.downloaded.saturating_add(c.downloaded);
        self.capped = self.capped.saturating_add(c.capped);
        self.seeded = self.seeded.saturating_add(c.seeded);
        self.at = c.at;
        let sticky = self.flags & COMPLETED;
        self.flags = sticky
            | if seeding { SEEDING } else { 0 }
            | if completed { COMPLETED } else { 0 }
            | if stopped { STOPPED } else { 0 };
    }

    pub(crate) fn traffic(self, user: u32, info_hash: InfoHash) -> Traffic {
        Traffic {
            user,
            info_hash,
            uploaded: self.uploaded,
            downloaded: self.downloaded,
            seeding: self.flags & SEEDING != 0,
            completed: self.flags & COMPLETED != 0,
            stopped: self.flags & STOPPED != 0,
            capped: self.capped,
            seeded: u64::from(self.seeded),
            at: self.at,
        }
    }
}

/// The credit for an announce reporting `now` (bytes) after totals of `last_kib` (KiB,
/// rounded down): the whole KiB since, or everything reported when the total went down
/// (a restarted session). A session's last announce (`last`: stopped) is credited to
/// the byte, so a session that began at zero is credited exactly what it reported.
pub(crate) fn credit(last_kib: (u64, u64), now: (u64, u64), last: bool) -> (u64, u64) {
    let one = |last_kib: u64, now: u64| match (now >> 10).checked_sub(last_kib) {
        Some(_) if last => now - (last_kib << 10),
        Some(kib) => kib << 10,
        None => now,
    };
    (one(last_kib.0, now.0), one(last_kib.1, now.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_are_never_negative_and_restarts_count_from_zero() {
        const K: u64 = 1024;
        assert_eq!(
            credit((100, 50), (150 * K, 80 * K), false),
            (50 * K, 30 * K)
        );
        assert_eq!(credit((100, 50), (100 * K + 5, 50 * K), false), (0, 0));
        // The client restarted: its totals began again at zero.
        assert_eq!(credit((1000, 500), (30 * K, 20), false), (30 * K, 20));
        assert_eq!(credit((0, 0), (7 * K + 3, 9 * K), false), (7 * K, 9 * K));
        // Stopped: to the byte.
        assert_eq!(credit((100, 50), (100 * K + 5, 50 * K + 1), true), (5, 1));
        assert_eq!(credit((7, 0), (3, 0), true), (3, 0));
    }

    /// Over a session the credits add up to its totals within 1 KiB, whatever the
    /// totals and however often it announces, and exactly once it stops.
    #[test]
    fn a_sessions_credits_sum_to_its_totals_within_a_kib() {
        let mut rng = 99u64;
        for _ in 0..200 {
            let mut next = || {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                rng >> 40
            };
            let first = next();
            let mut last = crate::peers::Slot::new(7, first, 0);
            let (mut total, mut credited) = (first, first);
            for _ in 0..50 {
                total += next() % 100_000;
                let (up, _) = credit(last.kib(), (total, 0), false);
                credited += up;
                last = crate::peers::Slot::new(7, total, 0);
            }
            assert!(credited <= total + 1023 && total <= credited + 1023);
            // Its stop: a session that began at zero is credited exactly.
            let first_rest = first % 1024;
            total += next() % 100_000;
            credited += credit(last.kib(), (total, 0), true).0;
            assert_eq!(credited, total + first_rest);
        }
    }
}

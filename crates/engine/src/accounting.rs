//! Private mode's accounting: what each account uploaded and downloaded per torrent,
//! from the cumulative totals clients report in announces.
//!
//! A client reports `uploaded` and `downloaded` since its session started. The engine
//! keeps each peer's last totals beside it (16 bytes, in step with the peer records:
//! `peers::Slot`) and credits the difference to the peer's account: never negative — a
//! total lower than the last one means the client restarted its session, and the new
//! total is all new traffic. A peer the engine does not know yet is credited only when
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

/// The credit for an announce reporting `(up, down)` after `(last_up, last_down)`.
pub(crate) fn credit(last: (u64, u64), now: (u64, u64)) -> (u64, u64) {
    let one = |last: u64, now: u64| if now >= last { now - last } else { now };
    (one(last.0, now.0), one(last.1, now.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_are_never_negative_and_restarts_count_from_zero() {
        assert_eq!(credit((100, 50), (150, 80)), (50, 30));
        assert_eq!(credit((100, 50), (100, 50)), (0, 0));
        // The client restarted: its totals began again at zero.
        assert_eq!(credit((1000, 500), (30, 20)), (30, 20));
        assert_eq!(credit((0, 0), (7, 9)), (7, 9));
    }
}

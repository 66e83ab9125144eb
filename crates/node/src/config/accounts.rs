//! `[accounts]`

use super::section::section;
use super::ConfigError;

section! {
    /// `[accounts]`: private mode's rules for accounts.
    "accounts", pub struct AccountsSection {
        /// Minimum ratio (uploaded / downloaded), in percent (50 = 0.5), below which an
        /// account may not start new downloads (it may always seed and finish what it has
        /// started). 0: no rule.
        min_ratio_percent: u32 = 0, in 0..=10_000 => "percent";
        /// Bytes an account may download before the ratio rule applies to it.
        ratio_grace: u64 = 5 << 30;
        /// Downloads are not counted (global freeleech).
        freeleech: bool = false;
        /// Uploads count twice.
        double_upload: bool = false;
        /// Most bytes per second of upload credited to an account on one torrent; claims
        /// above it are not credited and are logged (a simple cheat guard). 0: no cap.
        max_upload_rate: u64 = 0;
        /// Hours an account must seed a torrent it completed (unless it uploaded at least
        /// what it downloaded there) within hit_and_run_days of completing it; a torrent
        /// left short is a "hit and run" on the account's page and the admin page.
        /// 0: no rule.
        hit_and_run_seed_hours: u64 = 0, in 0..=8760 => "hours";
        /// Days after completing a torrent that an account has to seed it.
        hit_and_run_days: u64 = 14, in 1..=365 => "days";
        /// Hits and runs an account may have before it may not start new downloads (it may
        /// still seed, which clears them). 0: they are shown, never enforced.
        max_hit_and_runs: u32 = 0;
        /// Seconds of seeding, on any one torrent, that earn one bonus point.
        bonus_seconds_per_point: u64 = 3600, in 60..=31_536_000 => "seconds";
        /// Bytes of upload credit one bonus point buys on the account page. 0: points
        /// cannot be exchanged.
        bonus_upload_per_point: u64 = 0;
    }
}

impl AccountsSection {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Whether an account with these totals may start downloads.
    pub fn may_leech(&self, uploaded: u64, downloaded: u64) -> bool {
        self.min_ratio_percent == 0
            || downloaded <= self.ratio_grace
            || u128::from(uploaded) * 100
                >= u128::from(downloaded) * u128::from(self.min_ratio_percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_rule_applies_after_the_grace() {
        let mut a = AccountsSection::default();
        assert!(a.may_leech(0, u64::MAX), "no rule by default");
        a.min_ratio_percent = 50;
        a.ratio_grace = 1000;
        assert!(a.may_leech(0, 1000), "within the grace");
        assert!(!a.may_leech(499, 1001));
        assert!(a.may_leech(501, 1001));
        assert!(a.may_leech(u64::MAX, u64::MAX));
    }
}

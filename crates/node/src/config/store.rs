//! `[store]`

use std::path::PathBuf;

use super::section::section;

section! {
    /// `[store]`: state that must survive a crash.
    "store", pub struct StoreSection {
        /// SQLite file for state that must survive a crash (completed counts, stats history).
        /// Empty: <data_dir>/shoal.sqlite. Created when missing; a file there that is not a
        /// shoal store (empty, not SQLite, another program's database) stops the start.
        path: PathBuf = PathBuf::new();
        /// A PostgreSQL database instead of the SQLite file, for several nodes sharing
        /// one store: "postgres://user:password@host:5432/shoal". Empty: SQLite.
        url: String = String::new();
        /// Seconds between batched writes of changed completed counts (1..=5). A kill -9 loses
        /// at most this much; what was written is never lost.
        flush_interval: u64 = 5, in 1..=5 => "seconds";
        /// Seconds between samples of the tracker's totals, for /api/trends.
        sample_interval: u64 = 60, in 1..=3600 => "seconds";
        /// Days of samples kept.
        history_days: u64 = 7, in 1..=366;
    }
}

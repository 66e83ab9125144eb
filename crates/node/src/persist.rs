//! The store thread: flushes the completions counted since the last flush in batches
//! (deltas the store adds up, so several nodes can share it) and records a sample of the
//! tracker's totals at a fixed interval, off every request path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_engine::{Engine, InfoHash};
use shoal_store::{Sample, SampleStore, Store};

use crate::schedule::{self, Schedule};

pub use shoal_api::store::{
    AccessChange, Command, History, StoreStats, SwarmHistory, SWARMS_SAMPLED, SWARM_KEEP_SECS,
};

/// Store thread settings.
pub struct Persist {
    pub store: Box<dyn Store>,
    pub engine: Arc<Engine>,
    pub stats: Arc<StoreStats>,
    pub history: History,
    pub swarms: Arc<SwarmHistory>,
    pub flush_every: Duration,
    pub sample_every: Duration,
    pub keep_secs: u64,
    /// Announces answered so far, over all front ends.
    pub announces: Box<dyn Fn() -> u64 + Send>,
    /// Requests from other threads.
    pub commands: Receiver<Command>,
    /// Completions drained from the engine and not committed yet (deltas, summed per
    /// torrent): kept here, not in the engine, until a flush commits them, so nothing
    /// the engine does meanwhile (an admin removing the torrent, the access list
    /// refusing it) can lose them, and sent once: the engine has forgotten them, and a
    /// batch is numbered so the store adds it once.
    pub pending: crate::batch::Batches<InfoHash, u64>,
    /// Info-hashes whose stored count the engine asked for and did not get yet.
    pub lookups: Vec<InfoHash>,
}

/// Loads the recent history (totals for `keep_secs`, busiest swarms for a day) into
/// memory. Called before any listener opens, so the first request already sees it.
pub fn load_history(
    store: &(impl SampleStore + ?Sized),
    history: &History,
    swarms: &SwarmHistory,
    keep_secs: u64,
) {
    let now = unix_now();
    match store.samples_since(now.saturating_sub(keep_secs)) {
        Ok(samples) => {
            *history.lock().unwrap_or_else(|e| e.into_inner()) = samples.into();
        }
        Err(e) => tracing::warn!(error = %e, "cannot load stats history"),
    }
    match store.swarm_samples_since(now.saturating_sub(SWARM_KEEP_SECS)) {
        Ok(rows) => swarms.load(&rows),
        Err(e) => tracing::warn!(error = %e, "cannot load swarm history"),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Persist {
    /// Adds the completions counted since the last flush to the stored counts, with
    /// those a failed flush left pending. Returns whether everything drained so far is
    /// committed. The store commits a batch whole or not at all, so a failed batch is
    /// sent again whole (with what was counted since), never twice once committed.
    pub fn flush(&mut self) -> bool {
        let mut drained = Vec::new();
        self.engine.drain_completed(&mut drained);
        for (h, n) in drained {
            // Bounded by the torrents the engine holds or has counted.
            self.pending.add(h, n);
        }
        // The batch a failed flush left goes first, as it was; then what waited beside it.
        for _ in 0..2 {
            let Some((seq, batch)) = self.pending.next() else {
                break;
            };
            let t = Instant::now();
            match self.store.add_completed_once(seq, batch) {
                Ok(added) => {
                    if !added {
                        tracing::info!(batch = seq, "completed counts: a batch retried after its commit was already written");
                    }
                    let n = batch.len() as u64;
                    self.pending.committed();
                    self.stats.failing.store(false, Ordering::Relaxed);
                    self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                    self.stats.written.fetch_add(n, Ordering::Relaxed);
                    self.stats
                        .last_flush_micros
                        .store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    self.stats.failing.store(true, Ordering::Relaxed);
                    self.stats
                        .pending
                        .store(self.pending.len() as u64, Ordering::Relaxed);
                    tracing::error!(error = %e, entries = self.pending.len(), "store flush failed; will retry");
                    return false;
                }
            }
        }
        self.stats
            .pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
        self.pending.is_empty()
    }

    /// Answers the engine's requests for stored counts: torrents that came back after
    /// their count left memory (`limits.max_dormant_torrents`). Every requested hash is
    /// answered with the stored count plus what a failed flush keeps pending for it
    /// (counted, drained, not stored yet), 0 for those neither knows; on a store error
    /// they are kept and asked again next time.
    pub fn lookup(&mut self) {
        self.engine.take_count_lookups(&mut self.lookups);
        if self.lookups.is_empty() {
            return;
        }
        match self.store.completed_counts(&self.lookups) {
            Ok(found) => {
                let found: HashMap<InfoHash, u64> = found.into_iter().collect();
                let answers: Vec<(InfoHash, u64)> = self
                    .lookups
                    .drain(..)
                    .map(|h| {
                        let stored = found.get(&h).copied().unwrap_or(0);
                        (h, stored + self.pending.pending_of(&h))
                    })
                    .collect();
                self.engine.merge_stored_counts(&answers);
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, waiting = self.lookups.len(), "cannot read stored completed counts; will retry");
            }
        }
    }

    fn sample(&self) {
        let s = self.engine.stats();
        let sample = Sample {
            at: unix_now(),
            torrents: s.torrents,
            peers: s.peers_v4 + s.peers_v6,
            seeders: s.seeders,
            leechers: s.leechers,
            announces: (self.announces)(),
        };
        let _ = self.wrote(self.store.add_sample(&sample), "cannot record stats sample");
        let cutoff = sample.at.saturating_sub(self.keep_secs);
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.push_back(sample);
        while h.front().is_some_and(|s| s.at < cutoff) {
            h.pop_front();
        }
        drop(h);
        let _ = self.wrote(
            self.store.prune_samples(cutoff),
            "cannot prune stats samples",
        );
        let top = self.engine.top_by(SWARMS_SAMPLED, |s| {
            u64::from(s.seeders) + u64::from(s.leechers)
        });
        self.swarms.record(sample.at, &top);
        let rows: Vec<shoal_store::SwarmSample> = top
            .iter()
            .map(|(h, s)| shoal_store::SwarmSample {
                info_hash: *h,
                seeders: s.seeders,
                leechers: s.leechers,
            })
            .collect();
        let before = sample.at.saturating_sub(SWARM_KEEP_SECS);
        let _ = self.wrote(
            self.store.add_swarm_samples(sample.at, &rows, before),
            "cannot record swarm samples",
        );
    }

    /// Counts a write's outcome: any write that fails makes readiness report the store
    /// as failing, any that succeeds shows it takes writes again.
    fn wrote(&self, r: Result<(), shoal_store::StoreError>, what: &str) -> Result<(), String> {
        match r {
            Ok(()) => {
                self.stats.failing.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                self.stats.failing.store(true, Ordering::Relaxed);
                tracing::warn!(error = %e, "{what}");
                Err(e.to_string())
            }
        }
    }

    /// Serves admin writes for up to `d` (the schedule's wait between jobs).
    fn wait_for_commands(&mut self, d: Duration) {
        match self.commands.recv_timeout(d) {
            Ok(c) => self.command(c),
            // Nobody can send any more (the API is gone): just wait.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(d),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }

    fn command(&self, c: Command) {
        match c {
            Command::Access(change, ack) => {
                let written = match change {
                    AccessChange::Add(h) => self.store.add_access_entry(&h),
                    AccessChange::Remove(h) => self.store.remove_access_entry(&h),
                };
                let _ = ack.send(self.wrote(written, "cannot write the admin access list"));
            }
            Command::SwarmRemoved(h, ack) => {
                let written = self.store.log_swarm_removal(&h);
                let _ = ack.send(self.wrote(written, "cannot log a swarm removal"));
            }
        }
    }

    /// Runs until `shutdown`, then flushes one last time; hands the store back (the
    /// snapshot written after this last flush is recorded in it).
    pub fn run(mut self, shutdown: &AtomicBool) -> Box<dyn Store> {
        let (flush_every, sample_every) = (self.flush_every, self.sample_every);
        Schedule::new()
            // Each tick: a torrent back from the store waits at most this long for its
            // count (the docs promise within a second).
            .every("lookup", schedule::TICK, Persist::lookup)
            .every("flush", flush_every, |p: &mut Persist| {
                p.flush();
            })
            .every("sample", sample_every, |p: &mut Persist| p.sample())
            .run(&mut self, shutdown, Persist::wait_for_commands);
        if !self.flush() {
            tracing::error!(
                lost = self.pending.len(),
                "completed counts not written at shutdown: the store is failing"
            );
        }
        self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_engine::{Announce, AnnounceEvent, EngineConfig, PeerAddrV4, PeerId, Secs};
    use shoal_store::{
        AccessStore, CountStore, SnapshotMark, SnapshotMarks, StoreError, SwarmSample,
    };
    use std::sync::Mutex;

    /// Completed counts only; fails every write while `full` is set.
    #[derive(Default)]
    struct Disk {
        full: AtomicBool,
        saved: Mutex<HashMap<InfoHash, u64>>,
    }

    /// The test keeps one handle, the store thread the other.
    struct Shared(Arc<Disk>);

    impl Shared {
        fn check(&self) -> Result<(), StoreError> {
            if self.0.full.load(Ordering::Relaxed) {
                return Err(StoreError::Runtime(std::io::Error::from_raw_os_error(
                    libc::ENOSPC,
                )));
            }
            Ok(())
        }
    }

    impl CountStore for Shared {
        fn completed_counts(
            &self,
            hashes: &[InfoHash],
        ) -> Result<Vec<(InfoHash, u64)>, StoreError> {
            self.check()?;
            let saved = self.0.saved.lock().unwrap();
            Ok(hashes
                .iter()
                .filter_map(|h| saved.get(h).map(|n| (*h, *n)))
                .collect())
        }
        fn load_completed(&self) -> Result<Vec<(InfoHash, u64)>, StoreError> {
            let saved = self.0.saved.lock().unwrap();
            Ok(saved.iter().map(|(h, n)| (*h, *n)).collect())
        }
        fn add_completed(&self, deltas: &[(InfoHash, u64)]) -> Result<(), StoreError> {
            self.check()?;
            let mut saved = self.0.saved.lock().unwrap();
            for (h, n) in deltas {
                *saved.entry(*h).or_insert(0) += n;
            }
            Ok(())
        }
        fn add_completed_once(
            &self,
            _: u64,
            deltas: &[(InfoHash, u64)],
        ) -> Result<bool, StoreError> {
            self.add_completed(deltas).map(|()| true)
        }
    }

    impl SampleStore for Shared {
        fn add_sample(&self, _: &Sample) -> Result<(), StoreError> {
            Ok(())
        }
        fn samples_since(&self, _: u64) -> Result<Vec<Sample>, StoreError> {
            Ok(Vec::new())
        }
        fn prune_samples(&self, _: u64) -> Result<(), StoreError> {
            Ok(())
        }
        fn add_swarm_samples(&self, _: u64, _: &[SwarmSample], _: u64) -> Result<(), StoreError> {
            Ok(())
        }
        fn swarm_samples_since(&self, _: u64) -> Result<Vec<(u64, SwarmSample)>, StoreError> {
            Ok(Vec::new())
        }
    }

    impl AccessStore for Shared {
        fn load_access_entries(&self) -> Result<Vec<InfoHash>, StoreError> {
            Ok(Vec::new())
        }
        fn add_access_entry(&self, _: &InfoHash) -> Result<(), StoreError> {
            Ok(())
        }
        fn remove_access_entry(&self, _: &InfoHash) -> Result<(), StoreError> {
            Ok(())
        }
    }

    impl shoal_store::ChangeLog for Shared {
        fn last_tracker_change(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn tracker_changes(
            &self,
            since: u64,
        ) -> Result<(u64, Vec<shoal_store::TrackerChange>), StoreError> {
            Ok((since, Vec::new()))
        }
        fn log_swarm_removal(&self, _: &InfoHash) -> Result<(), StoreError> {
            Ok(())
        }
        fn prune_tracker_changes(&self, _: u64) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    impl SnapshotMarks for Shared {
        fn set_snapshot_mark(&self, _: &SnapshotMark) -> Result<(), StoreError> {
            Ok(())
        }
        fn take_snapshot_mark(&self) -> Result<Option<SnapshotMark>, StoreError> {
            Ok(None)
        }
    }

    fn persist(engine: &Arc<Engine>, disk: &Arc<Disk>) -> Persist {
        let (_tx, commands) = std::sync::mpsc::channel();
        Persist {
            store: Box::new(Shared(disk.clone())),
            engine: engine.clone(),
            stats: Default::default(),
            history: Default::default(),
            swarms: Default::default(),
            flush_every: Duration::from_secs(1),
            sample_every: Duration::from_secs(60),
            keep_secs: 60,
            announces: Box::new(|| 0),
            commands,
            pending: Default::default(),
            lookups: Vec::new(),
        }
    }

    /// Peer `i` of torrent `[h; 20]` announces `event` as a seeder.
    fn announce(engine: &Engine, h: u8, i: u8, event: AnnounceEvent, now: u32) {
        engine.announce(
            &Announce {
                info_hash: InfoHash([h; 20]),
                peer: PeerAddrV4::new(std::net::Ipv4Addr::new(10, 0, h, i), 6881),
                peer_id: PeerId([h; 20]),
                event,
                left: 0,
                num_want: Some(0),
                paused: false,
            },
            Secs(now),
            &mut Vec::new(),
        );
    }

    /// An engine with one shard holding at most `dormant` peerless counts.
    fn small_engine(dormant: u64) -> Arc<Engine> {
        Arc::new(Engine::new(
            EngineConfig {
                shards: 1,
                max_dormant_torrents: dormant,
                ..Default::default()
            },
            1,
        ))
    }

    #[test]
    fn counts_that_left_memory_come_back_from_the_store() {
        // One shard holding two peerless counts: the third pushes one out to the store.
        let engine = small_engine(2);
        let disk = Arc::new(Disk::default());
        let mut p = persist(&engine, &disk);
        let announce = |h, i, event, now| announce(&engine, h, i, event, now);
        for h in 1..=5u8 {
            for i in 0..h {
                announce(h, i, AnnounceEvent::Completed, 1);
            }
        }
        assert!(p.flush());
        // Every peer expires: the torrents leave the swarm table.
        engine.purge_expired(Secs(1_000_000));
        assert!(engine.stats().dormant <= 2, "{:?}", engine.stats());
        // Each torrent, announced again, ends up with its whole count: from memory, or
        // from the store once the store thread answered.
        for h in 1..=5u8 {
            announce(h, 200, AnnounceEvent::Started, 1_000_001);
            p.lookup();
            assert_eq!(
                engine.scrape(&InfoHash([h; 20])).completed,
                u64::from(h),
                "torrent {h}"
            );
        }
        // A lookup the store cannot answer is asked again.
        engine.purge_expired(Secs(3_000_000));
        assert!(p.flush());
        disk.full.store(true, Ordering::Relaxed);
        for h in 1..=5u8 {
            announce(h, 200, AnnounceEvent::Started, 3_000_001);
        }
        p.lookup();
        disk.full.store(false, Ordering::Relaxed);
        p.lookup();
        for h in 1..=5u8 {
            assert_eq!(engine.scrape(&InfoHash([h; 20])).completed, u64::from(h));
        }
    }

    #[test]
    fn completions_a_failed_flush_drained_are_added_once_by_a_later_one() {
        let engine = Arc::new(Engine::new(Default::default(), 1));
        let disk = Arc::new(Disk::default());
        let mut p = persist(&engine, &disk);
        let (a, b) = (InfoHash([0xa; 20]), InfoHash([0xb; 20]));
        // The store already holds 10 for a (from before this start, or from another
        // node): the base that deltas add to.
        disk.saved.lock().unwrap().insert(a, 10);
        engine.load_completed(&[(a, 10)]);
        for i in 0..3 {
            announce(&engine, 0xa, i, AnnounceEvent::Completed, 1);
        }
        announce(&engine, 0xb, 0, AnnounceEvent::Completed, 1);
        disk.full.store(true, Ordering::Relaxed);
        assert!(!p.flush());
        assert!(!p.stats.ready());
        assert_eq!(p.stats.pending.load(Ordering::Relaxed), 2);
        // Meanwhile the engine forgets one torrent (now refused by the access list)
        // and counts another completion of the other.
        engine.update_access_list(|l| {
            l.mode = shoal_engine::access::AccessMode::Deny;
            l.file.insert(b);
        });
        engine.remove_torrent(&b);
        announce(&engine, 0xa, 3, AnnounceEvent::Completed, 2);
        assert!(!p.flush(), "still full");
        disk.full.store(false, Ordering::Relaxed);
        assert!(p.flush());
        assert!(p.stats.ready());
        let saved = || disk.saved.lock().unwrap().clone();
        assert_eq!(saved(), HashMap::from([(a, 14), (b, 1)]));
        assert_eq!(engine.scrape(&a).completed, 14);
        // Committed once: later flushes add only what is counted after.
        assert!(p.flush());
        assert_eq!(saved(), HashMap::from([(a, 14), (b, 1)]));
        announce(&engine, 0xa, 4, AnnounceEvent::Completed, 3);
        assert!(p.flush());
        assert_eq!(saved(), HashMap::from([(a, 15), (b, 1)]));
    }

    #[test]
    fn a_count_that_left_memory_before_its_flush_committed_comes_back_whole() {
        // One shard holding one peerless count.
        let engine = small_engine(1);
        let disk = Arc::new(Disk::default());
        let mut p = persist(&engine, &disk);
        disk.full.store(true, Ordering::Relaxed);
        announce(&engine, 1, 0, AnnounceEvent::Completed, 1);
        announce(&engine, 1, 1, AnnounceEvent::Completed, 1);
        assert!(!p.flush());
        engine.purge_expired(Secs(1_000_000));
        announce(&engine, 2, 0, AnnounceEvent::Completed, 1_000_001);
        assert!(!p.flush());
        // Torrent 2 takes the one place: torrent 1's count is neither in memory nor in
        // the store, only in the failed flush's pending batch.
        engine.purge_expired(Secs(2_000_000));
        assert_eq!(engine.stats().dormant, 1);
        assert_eq!(engine.scrape(&InfoHash([2; 20])).completed, 1);
        disk.full.store(false, Ordering::Relaxed);
        announce(&engine, 1, 2, AnnounceEvent::Completed, 2_000_001);
        p.lookup();
        assert_eq!(engine.scrape(&InfoHash([1; 20])).completed, 3);
        assert!(p.flush());
        let saved = disk.saved.lock().unwrap().clone();
        assert_eq!(
            saved,
            HashMap::from([(InfoHash([1; 20]), 3), (InfoHash([2; 20]), 1)])
        );
    }
}

//! Content preview (`[catalog] preview`): a few small files of each catalogued torrent
//! (its cover, its `.nfo`, its `README.txt`) fetched from its swarm, checked, and kept
//! in a shape that is safe to show.
//!
//! Driven by the catalog thread like the resolver: [`Previewer::queue`] takes torrents
//! whose metadata was just stored, [`Previewer::dispatch`] starts one peer session per
//! torrent (at most `concurrent` at once) through the resolver's dial gate (the same
//! policy, per-address limits and connection cap), [`Previewer::collect`] takes what
//! sessions brought. Every piece is checked as it arrives (SHA-1 for v1 and hybrid)
//! and a peer that sends a bad one is never asked again for that torrent; a v2-only
//! torrent's files are checked whole against their merkle roots. Once every piece is
//! in, or the tries run out, the files are cut out, images re-encoded and texts
//! decoded (on a blocking thread), written under `<data_dir>/preview` by the SHA-256 of
//! the original bytes, and recorded in the store. The disk budget is kept by evicting
//! the files viewed longest ago.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use shoal_engine::{Engine, InfoHash};
use shoal_metainfo::{Info, Version};
use shoal_peer::{fetch_pieces, PieceOptions, Pieces};
use shoal_preview::picture::{self, Bounds};
use shoal_preview::{plan, text, verify, Kind, Plan, Rules};
use shoal_store::{Backend, PreviewFile, PreviewKind};

use crate::dial::Refusal;
use crate::resolver::Resolver;

/// What the preview fetches and keeps.
#[derive(Debug, Clone)]
pub struct PreviewConfig {
    /// Which files, and the byte budgets per file and per torrent.
    pub rules: Rules,
    /// Image decoding bounds and the sizes made.
    pub bounds: Bounds,
    /// Most characters of a text kept.
    pub max_text_chars: usize,
    /// Most bytes the kept files take on disk; past it, those viewed longest ago go.
    pub disk_budget: u64,
    /// Torrents fetched at once (one peer session each).
    pub concurrent: usize,
    /// Longest a torrent's preview keeps trying peers before what it has is kept.
    pub give_up_after: Duration,
    /// Wait before a torrent no peer gave a piece of is tried again (doubled each time,
    /// [`MAX_TRIES`] times at most), if its swarm has a peer not known bad by then.
    pub retry: Duration,
    /// Where the files live (`<data_dir>/preview`).
    pub dir: PathBuf,
    /// Dialing and deadlines of one peer session.
    pub session: PieceOptions,
}

/// Torrents waiting for a preview, at most; more are dropped (and counted).
const MAX_QUEUE: usize = 10_000;

/// Rounds of peer sessions per torrent, at most (see [`PreviewConfig::retry`]).
pub const MAX_TRIES: u32 = 6;

/// Shortest piece length previewed (BEP 52's least; every real v1 torrent's too).
const MIN_PIECE_LENGTH: u64 = 16 * 1024;

/// Most pieces a previewed torrent may have (a 512 KiB bitfield; 64 TiB at 16 MiB pieces).
const MAX_PIECES: u64 = 1 << 22;

/// Torrents being built (cut, decoded, re-encoded) at once, at most: each may decode a
/// few large images.
const MAX_BUILDING: usize = 2;

/// Queued torrents planned per step, at most.
const PLANS_PER_STEP: usize = 32;

/// Peer sessions per torrent, at most.
const MAX_SESSIONS: u32 = 8;

/// Wait before a torrent whose peers are all busy is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Peers remembered per torrent as bad.
const MAX_BAD: usize = 16;

/// Torrents remembered as not written, at most.
const MAX_UNWRITTEN: usize = 1024;

/// Views remembered between two writes, at most.
const MAX_VIEWS: usize = 10_000;

/// What the preview did, for `/metrics`.
#[derive(Debug, Default)]
pub struct PreviewStats {
    /// Torrents waiting.
    pub queued: AtomicU64,
    /// Torrents being fetched.
    pub running: AtomicU64,
    /// Torrents whose preview was kept (every chosen file, or what could be had).
    pub done: AtomicU64,
    /// Torrents with no file to preview.
    pub nothing: AtomicU64,
    /// Torrents kept with some chosen files missing (their peers ran out).
    pub partial: AtomicU64,
    /// Torrents not queued (the queue was full).
    pub dropped: AtomicU64,
    /// Torrents given up before any piece came: no peer in their swarm could be asked,
    /// or none gave a piece (not recorded: tried again when their swarm is seen again).
    pub unavailable: AtomicU64,
    /// Peer sessions started.
    pub sessions: AtomicU64,
    /// Pieces that passed their check.
    pub pieces_verified: AtomicU64,
    /// Pieces (or v2 files) that failed their check.
    pub pieces_failed: AtomicU64,
    /// Peers dropped for sending bad data.
    pub bad_peers: AtomicU64,
    /// Bytes of piece data received.
    pub bytes_fetched: AtomicU64,
    /// Bytes of the original files kept for showing.
    pub bytes_shown: AtomicU64,
    /// Images kept.
    pub images: AtomicU64,
    /// Texts kept.
    pub texts: AtomicU64,
    /// Images refused (not an image, too large, broken).
    pub images_refused: AtomicU64,
    /// Bytes the kept files take on disk.
    pub store_bytes: AtomicU64,
    /// Files kept.
    pub store_files: AtomicU64,
    /// Files evicted for the disk budget.
    pub evicted: AtomicU64,
    /// Files written to disk that failed (full disk, permissions).
    pub write_errors: AtomicU64,
    /// Time from a torrent's queueing (its metadata stored) to its kept preview.
    pub time: crate::stats::Histogram,
}

/// The shown form of a kept file: a thumbnail, a full-size copy, or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// An image's thumbnail, PNG.
    Thumb,
    /// An image's full-size copy, PNG.
    Full,
    /// A text, UTF-8.
    Text,
}

impl Variant {
    /// Its file name suffix, which is also its name in URLs.
    pub fn suffix(self) -> &'static str {
        match self {
            Variant::Thumb => "thumb.png",
            Variant::Full => "full.png",
            Variant::Text => "text.txt",
        }
    }

    /// The variant a URL names.
    pub fn of_suffix(s: &str) -> Option<Variant> {
        [Variant::Thumb, Variant::Full, Variant::Text]
            .into_iter()
            .find(|v| v.suffix() == s)
    }

    /// Those a kind of file has.
    pub fn of_kind(kind: PreviewKind) -> &'static [Variant] {
        match kind {
            PreviewKind::Image => &[Variant::Thumb, Variant::Full],
            PreviewKind::Text => &[Variant::Text],
        }
    }
}

/// Where a kept file's variant lives: `<dir>/<first two hex digits>/<hex>.<suffix>`.
pub fn path_of(dir: &Path, sha256: &[u8; 32], v: Variant) -> PathBuf {
    let hex = shoal_metainfo::to_hex(sha256);
    dir.join(&hex[..2]).join(format!("{hex}.{}", v.suffix()))
}

/// Deletes every variant of these files (those missing are no error).
pub fn delete_files(dir: &Path, files: &[[u8; 32]]) {
    for sha in files {
        for v in [Variant::Thumb, Variant::Full, Variant::Text] {
            let _ = std::fs::remove_file(path_of(dir, sha, v));
        }
    }
}

/// The deny list in memory: a denied file is never served, even while its bytes are
/// still on this node's disk (another node denied it, or a deletion failed).
#[derive(Debug, Default)]
pub struct Denied(std::sync::RwLock<std::collections::HashSet<[u8; 32]>>);

impl Denied {
    /// Whether a file is denied.
    pub fn contains(&self, sha256: &[u8; 32]) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(sha256)
    }

    /// Adds (`deny`) or removes one file.
    pub fn set(&self, sha256: [u8; 32], deny: bool) {
        let mut set = self.0.write().unwrap_or_else(|e| e.into_inner());
        if deny {
            set.insert(sha256);
        } else {
            set.remove(&sha256);
        }
    }

    fn replace(&self, shas: Vec<[u8; 32]>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = shas.into_iter().collect();
    }
}

/// Views of kept files noted by the pages, written to the store now and then.
#[derive(Debug, Default)]
pub struct Views(Mutex<Vec<[u8; 32]>>);

impl Views {
    /// Notes a view (dropped past [`MAX_VIEWS`] until the next write).
    pub fn note(&self, sha256: [u8; 32]) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < MAX_VIEWS && !v.contains(&sha256) {
            v.push(sha256);
        }
    }

    fn take(&self) -> Vec<[u8; 32]> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A torrent waiting for its turn, or for another try.
struct Queued {
    info_hash: InfoHash,
    /// When its metadata was stored.
    at: Instant,
    /// Rounds of sessions it had already.
    tries: u32,
    /// Peers that sent it bad data.
    bad: Vec<SocketAddr>,
    /// When it may be tried again (waiting ones only).
    due: Instant,
}

/// A torrent being previewed.
struct Job {
    info_hash: InfoHash,
    /// A hybrid's other swarm (its v2 hash truncated, or its v1 hash).
    alias: Option<InfoHash>,
    info: Arc<Info>,
    plan: Arc<Plan>,
    /// Each wanted piece's length.
    lengths: BTreeMap<u64, u32>,
    pieces: BTreeMap<u64, Vec<u8>>,
    /// Who sent each piece (a v2 file that fails its root blames them all).
    senders: BTreeMap<u64, SocketAddr>,
    fetched: u64,
    bad: Vec<SocketAddr>,
    tried: Vec<SocketAddr>,
    sessions: u32,
    next_try: Instant,
    deadline: Instant,
    queued: Instant,
    tries: u32,
}

/// One peer session, finished.
struct Session {
    info_hash: InfoHash,
    peer: SocketAddr,
    got: Pieces,
}

/// What a finished torrent made, from the blocking thread.
struct Built {
    info_hash: InfoHash,
    fetched: u64,
    files: Vec<(String, PreviewFile)>,
    partial: bool,
    /// Images refused (not an image, too large, broken).
    refused: u64,
    queued: Instant,
}

/// The queue, the sessions in flight and the torrents being built.
pub struct Previewer {
    config: PreviewConfig,
    engine: Arc<Engine>,
    runtime: tokio::runtime::Handle,
    stats: Arc<PreviewStats>,
    views: Arc<Views>,
    denied: Arc<Denied>,
    queue: VecDeque<Queued>,
    /// Torrents no peer gave a piece of, waiting for another try, by when it is due.
    later: BTreeMap<(Instant, InfoHash), Queued>,
    /// Every torrent queued, waiting or being previewed.
    known: std::collections::HashSet<InfoHash>,
    jobs: HashMap<InfoHash, Job>,
    /// Torrents with a session running now.
    running: HashMap<InfoHash, SocketAddr>,
    tx: Sender<Session>,
    rx: Receiver<Session>,
    built_tx: Sender<Result<Built, (InfoHash, String)>>,
    built_rx: Receiver<Result<Built, (InfoHash, String)>>,
    building: usize,
    peers: Vec<SocketAddr>,
    /// Torrents whose files could not be written (a full disk): queued again at the
    /// next prune.
    unwritten: Vec<InfoHash>,
}

impl Previewer {
    /// A previewer whose sessions run on `runtime`.
    pub fn new(
        config: PreviewConfig,
        engine: Arc<Engine>,
        runtime: tokio::runtime::Handle,
    ) -> Previewer {
        let (tx, rx) = std::sync::mpsc::channel();
        let (built_tx, built_rx) = std::sync::mpsc::channel();
        Previewer {
            config,
            engine,
            runtime,
            stats: Arc::default(),
            views: Arc::default(),
            denied: Arc::default(),
            queue: VecDeque::new(),
            later: BTreeMap::new(),
            known: std::collections::HashSet::new(),
            jobs: HashMap::new(),
            running: HashMap::new(),
            tx,
            rx,
            built_tx,
            built_rx,
            building: 0,
            peers: Vec::new(),
            unwritten: Vec::new(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> &Arc<PreviewStats> {
        &self.stats
    }

    /// Where pages note views.
    pub fn views(&self) -> &Arc<Views> {
        &self.views
    }

    /// The deny list as the pages check it.
    pub fn denied(&self) -> &Arc<Denied> {
        &self.denied
    }

    /// Reloads the deny list from the store (other nodes sharing it add to it) and
    /// deletes this node's bytes of every denied file.
    pub fn refresh_denied(&self, store: &dyn Backend) {
        match store.preview_denied() {
            Ok(list) => {
                let shas: Vec<[u8; 32]> = list.into_iter().map(|(s, _)| s).collect();
                delete_files(&self.config.dir, &shas);
                self.denied.replace(shas);
            }
            Err(e) => tracing::warn!(error = %e, "preview: cannot read the deny list"),
        }
    }

    /// Where the kept files live.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// Whether `h` is waiting or being previewed.
    pub fn contains(&self, h: &InfoHash) -> bool {
        self.known.contains(h)
    }

    /// Queues a catalogued torrent (past [`MAX_QUEUE`] it is dropped and counted); its
    /// info dictionary is read from the store when its turn comes, so the queue holds
    /// hashes only.
    pub fn queue(&mut self, h: InfoHash) {
        if self.contains(&h) {
            return;
        }
        if self.queue.len() >= MAX_QUEUE {
            self.stats.dropped.fetch_add(1, Relaxed);
            return;
        }
        let now = Instant::now();
        self.known.insert(h);
        self.queue.push_back(Queued {
            info_hash: h,
            at: now,
            tries: 0,
            bad: Vec::new(),
            due: now,
        });
        self.publish();
    }

    /// Forgets a torrent (hidden or removed): a session in flight runs out, and what it
    /// brings is dropped.
    pub fn forget(&mut self, h: &InfoHash) {
        self.queue.retain(|q| q.info_hash != *h);
        self.later.retain(|(_, q), _| q != h);
        self.jobs.remove(h);
        self.known.remove(h);
        self.publish();
    }

    /// Plans queued torrents (recording at once those with nothing to fetch) and starts
    /// sessions for those due, while there is room.
    pub fn dispatch(&mut self, now: Instant, resolver: &mut Resolver, store: &dyn Backend) {
        // Each planned torrent costs a read (and one with nothing to show a write): a
        // few per step, so a long queue never holds the catalog thread.
        for _ in 0..PLANS_PER_STEP {
            if self.jobs.len() >= self.config.concurrent || self.building >= MAX_BUILDING {
                break;
            }
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let h = q.info_hash;
            match store.catalog_entry(&h) {
                Ok(Some(e)) if e.info_hash == h => self.plan(q, h, e.alias, &e.info, now, store),
                // Noted under a hybrid's other hash: previewed under the entry's own,
                // once.
                Ok(Some(e)) => {
                    self.known.remove(&h);
                    let done = store.previewed(&[e.info_hash]).is_ok_and(|d| !d.is_empty());
                    if !done && self.known.insert(e.info_hash) {
                        self.plan(q, e.info_hash, e.alias, &e.info, now, store);
                    }
                }
                Ok(None) => {
                    self.known.remove(&h); // removed meanwhile
                }
                Err(e) => {
                    tracing::warn!(error = %e, "preview: cannot read an entry; later");
                    self.queue.push_front(q);
                    break;
                }
            }
        }
        let due: Vec<InfoHash> = self
            .jobs
            .iter()
            .filter(|(h, j)| j.next_try <= now && !self.running.contains_key(*h))
            .map(|(h, _)| *h)
            .collect();
        for h in due {
            self.start(h, now, resolver);
        }
        self.publish();
    }

    fn plan(
        &mut self,
        q: Queued,
        h: InfoHash,
        alias: Option<InfoHash>,
        info_bytes: &[u8],
        now: Instant,
        store: &dyn Backend,
    ) {
        let limits = shoal_metainfo::Limits {
            max_info_bytes: info_bytes.len().max(1),
            ..shoal_metainfo::Limits::default()
        };
        let Ok(info) = Info::parse(info_bytes, &limits) else {
            // The catalog stored it, so it parses; nothing to preview otherwise.
            self.known.remove(&h);
            return;
        };
        // Pieces shorter than a block, or more pieces than a bitfield should ever need:
        // a crafted torrent asking for work out of proportion. Nothing is fetched.
        let plan = if fits(&info) {
            plan::plan(&info, &self.config.rules)
        } else {
            Plan::default()
        };
        if plan.files.is_empty() {
            self.known.remove(&h);
            self.stats.nothing.fetch_add(1, Relaxed);
            if let Err(e) = store.add_preview(&h, unix_now(), 0, &[]) {
                tracing::warn!(error = %e, "preview: cannot record a torrent with nothing to show");
            }
            return;
        }
        let lengths = piece_lengths(&info, &plan);
        self.jobs.insert(
            h,
            Job {
                info_hash: h,
                alias,
                info: Arc::new(info),
                plan: Arc::new(plan),
                lengths,
                pieces: BTreeMap::new(),
                senders: BTreeMap::new(),
                fetched: 0,
                bad: q.bad,
                tried: Vec::new(),
                sessions: 0,
                next_try: now,
                deadline: now + self.config.give_up_after,
                queued: q.at,
                tries: q.tries + 1,
            },
        );
    }

    /// Starts one session for `h` with a peer not known bad (one not asked before
    /// first), or schedules a retry, or builds what it has when its time or tries ran out.
    fn start(&mut self, h: InfoHash, now: Instant, resolver: &mut Resolver) {
        let Some(job) = self.jobs.get_mut(&h) else {
            return;
        };
        if job.sessions >= MAX_SESSIONS || now >= job.deadline {
            let job = self.jobs.remove(&h).expect("just seen");
            self.settle(job, now);
            return;
        }
        // A hybrid's peers may all be in its other swarm; they greet under its hash.
        let mut swarm = h;
        self.engine.sample_peers(&h, 64, &mut self.peers);
        if let (true, Some(alias)) = (self.peers.is_empty(), job.alias) {
            swarm = alias;
            self.engine.sample_peers(&alias, 64, &mut self.peers);
        }
        let tried = &job.tried;
        self.peers.sort_by_key(|p| tried.contains(p));
        let (mut chosen, mut busy) = (None, false);
        for &p in self.peers.iter().filter(|p| !job.bad.contains(p)) {
            match resolver.dial(p, now) {
                Ok(()) => {
                    chosen = Some(p);
                    break;
                }
                // Connected to for metadata now, or dialed often lately: soon.
                Err(Refusal::Busy | Refusal::Rate) => busy = true,
                Err(_) => {}
            }
        }
        let Some(peer) = chosen else {
            if busy {
                job.next_try = now + RETRY;
                return;
            }
            // Nobody in the swarm to ask.
            let job = self.jobs.remove(&h).expect("just seen");
            self.settle(job, now);
            return;
        };
        job.sessions += 1;
        if !job.tried.contains(&peer) {
            job.tried.push(peer);
        }
        self.stats.sessions.fetch_add(1, Relaxed);
        let wanted: Vec<(u32, u32)> = job
            .lengths
            .iter()
            .filter(|(p, _)| !job.pieces.contains_key(p))
            .map(|(&p, &len)| (p as u32, len))
            .collect();
        let piece_count = u32::try_from(total_pieces(&job.info)).unwrap_or(u32::MAX);
        let (info, tx, opts) = (
            job.info.clone(),
            self.tx.clone(),
            self.config.session.clone(),
        );
        let checks_pieces = info.version().has_v1();
        self.running.insert(h, peer);
        self.runtime.spawn(async move {
            let got = fetch_pieces(peer, swarm.0, piece_count, &wanted, &opts, |i, data| {
                !checks_pieces || verify::v1_piece(&info, u64::from(i), data)
            })
            .await;
            let _ = tx.send(Session {
                info_hash: h,
                peer,
                got,
            });
        });
    }

    /// Takes finished sessions and built torrents; records what was built.
    pub fn collect(&mut self, now: Instant, resolver: &mut Resolver, store: &dyn Backend) {
        while let Ok(s) = self.rx.try_recv() {
            let closed_on_us = matches!(
                s.got.error.as_ref().map(|e| e.reason()),
                Some("closed" | "handshake")
            );
            resolver.dialed(s.peer, now, closed_on_us);
            self.running.remove(&s.info_hash);
            self.take(s, now);
        }
        while let Ok(built) = self.built_rx.try_recv() {
            self.building -= 1;
            match built {
                Ok(b) => self.record(b, store),
                Err((h, e)) => {
                    self.known.remove(&h);
                    self.stats.write_errors.fetch_add(1, Relaxed);
                    tracing::warn!(info_hash = %h, error = %e, "preview: cannot keep files; will try again");
                    self.retry_later(h);
                }
            }
        }
        self.publish();
    }

    fn take(&mut self, s: Session, now: Instant) {
        let stats = &self.stats;
        stats.bytes_fetched.fetch_add(s.got.received, Relaxed);
        let Some(job) = self.jobs.get_mut(&s.info_hash) else {
            return; // forgotten meanwhile
        };
        job.fetched += s.got.received;
        stats
            .pieces_verified
            .fetch_add(s.got.pieces.len() as u64, Relaxed);
        for (i, data) in s.got.pieces {
            job.senders.insert(u64::from(i), s.peer);
            job.pieces.insert(u64::from(i), data);
        }
        if s.got.bad > 0 {
            stats.pieces_failed.fetch_add(u64::from(s.got.bad), Relaxed);
            mark_bad(job, s.peer, stats);
            tracing::info!(info_hash = %s.info_hash, peer = %s.peer, "preview: a peer sent a bad piece; not asked again");
        }
        if job.version_v2_only() {
            check_v2_files(job, stats);
        }
        if job.pieces.len() == job.lengths.len() {
            let job = self.jobs.remove(&s.info_hash).expect("just seen");
            self.build(job);
        } else {
            // The next peer at once (this one has nothing more, or failed).
            job.next_try = now;
        }
    }

    /// Ends a job whose peers or time ran out: what came is kept; a torrent no peer gave
    /// a piece of is not recorded, so it is tried again when its swarm is seen again
    /// (its peers may have been leechers without those pieces).
    fn settle(&mut self, job: Job, now: Instant) {
        if !job.pieces.is_empty() {
            self.build(job);
            return;
        }
        self.stats.unavailable.fetch_add(1, Relaxed);
        if job.tries >= MAX_TRIES || self.later.len() >= MAX_QUEUE {
            self.known.remove(&job.info_hash);
            return;
        }
        let wait = self
            .config
            .retry
            .saturating_mul(1 << (job.tries - 1).min(16));
        let q = Queued {
            info_hash: job.info_hash,
            at: job.queued,
            tries: job.tries,
            bad: job.bad,
            due: now + wait,
        };
        self.later.insert((q.due, q.info_hash), q);
    }

    /// Queues again the torrents waiting for another try whose time has come and whose
    /// swarm has a peer not known bad; the others wait another round (or are dropped
    /// when their tries are spent).
    pub fn revisit(&mut self, now: Instant) {
        while let Some(entry) = self.later.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let mut q = entry.remove();
            self.engine.sample_peers(&q.info_hash, 64, &mut self.peers);
            if self.peers.iter().any(|p| !q.bad.contains(p)) {
                self.queue.push_back(q);
            } else if q.tries < MAX_TRIES {
                q.tries += 1;
                q.due = now + self.config.retry.saturating_mul(1 << (q.tries - 1).min(16));
                self.later.insert((q.due, q.info_hash), q);
            } else {
                self.known.remove(&q.info_hash);
            }
        }
        self.publish();
    }

    /// Cuts, checks, renders and writes the files of `job` on a blocking thread.
    fn build(&mut self, job: Job) {
        self.building += 1;
        let (tx, config) = (self.built_tx.clone(), self.config.clone());
        self.runtime.spawn_blocking(move || {
            let h = job.info_hash;
            // A decoder that panics on a stranger's image must not take the count of
            // builds (or the torrent) with it.
            let built =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(job, &config)))
                    .unwrap_or_else(|_| Err(std::io::Error::other("a decoder panicked")));
            let _ = tx.send(built.map_err(|e| (h, e.to_string())));
        });
    }

    fn record(&mut self, b: Built, store: &dyn Backend) {
        self.known.remove(&b.info_hash);
        // Removed from the catalog while it was built: nothing is recorded, and its
        // bytes go unless another torrent lists them.
        if matches!(store.catalog_known(&[b.info_hash]), Ok(k) if k.is_empty()) {
            self.discard(&b, store);
            return;
        }
        // The build wrote every file, but a file another torrent shares may have been
        // deleted since (evicted, hidden or removed with that torrent, on this thread,
        // between the write and now). Listing it would show a missing image: nothing is
        // recorded and the torrent is built again at the next prune. Nothing deletes
        // between this check and the record below (both on this thread).
        // A denied file is left out by the record anyway (and its bytes may be gone for
        // that reason): it does not make the torrent wait for another build.
        let missing = b
            .files
            .iter()
            .filter(|(_, f)| !self.denied.contains(&f.sha256))
            .any(|(_, f)| {
                Variant::of_kind(f.kind)
                    .iter()
                    .any(|v| !path_of(&self.config.dir, &f.sha256, *v).is_file())
            });
        if missing {
            tracing::debug!(info_hash = %b.info_hash, "preview: a shared file went meanwhile; will build again");
            self.discard(&b, store);
            self.retry_later(b.info_hash);
            return;
        }
        match store.add_preview(&b.info_hash, unix_now(), b.fetched, &b.files) {
            Ok(listed) => {
                let stats = &self.stats;
                stats.done.fetch_add(1, Relaxed);
                stats.time.observe(b.queued.elapsed().as_secs_f64());
                stats.images_refused.fetch_add(b.refused, Relaxed);
                if b.partial {
                    stats.partial.fetch_add(1, Relaxed);
                }
                for (_, f) in b.files.iter().filter(|(_, f)| listed.contains(&f.sha256)) {
                    stats.bytes_shown.fetch_add(f.size, Relaxed);
                    match f.kind {
                        PreviewKind::Image => stats.images.fetch_add(1, Relaxed),
                        PreviewKind::Text => stats.texts.fetch_add(1, Relaxed),
                    };
                }
                // Denied files, or a torrent hidden meanwhile: their bytes go unless
                // another torrent lists them.
                let unlisted: Vec<[u8; 32]> = b
                    .files
                    .iter()
                    .map(|(_, f)| f.sha256)
                    .filter(|s| !listed.contains(s))
                    .filter(|s| matches!(store.preview_file(s), Ok(None)))
                    .collect();
                delete_files(&self.config.dir, &unlisted);
                self.keep_budget(store);
            }
            Err(e) => {
                // Its files are on disk: the next try rewrites them and records them.
                tracing::warn!(info_hash = %b.info_hash, error = %e, "preview: cannot record files; will try again");
                self.retry_later(b.info_hash);
            }
        }
    }

    /// Deletes the files of a build that is not recorded, unless the store lists them
    /// (another torrent holds them).
    fn discard(&self, b: &Built, store: &dyn Backend) {
        let unheld: Vec<[u8; 32]> = b
            .files
            .iter()
            .map(|(_, f)| f.sha256)
            .filter(|s| matches!(store.preview_file(s), Ok(None)))
            .collect();
        delete_files(&self.config.dir, &unheld);
    }

    /// Queues `h` again at the next prune (bounded: past [`MAX_UNWRITTEN`] it waits for
    /// its swarm to be noted again).
    fn retry_later(&mut self, h: InfoHash) {
        if self.unwritten.len() < MAX_UNWRITTEN && !self.unwritten.contains(&h) {
            self.unwritten.push(h);
        }
    }

    /// Evicts the files viewed longest ago while the kept ones pass the disk budget,
    /// and refreshes the usage gauges.
    pub fn keep_budget(&self, store: &dyn Backend) {
        let Ok((bytes, _)) = store.preview_usage() else {
            return;
        };
        if bytes > self.config.disk_budget {
            match store.evict_previews(self.config.disk_budget) {
                Ok(gone) => {
                    self.stats.evicted.fetch_add(gone.len() as u64, Relaxed);
                    delete_files(&self.config.dir, &gone);
                }
                Err(e) => tracing::warn!(error = %e, "preview: cannot evict"),
            }
        }
        if let Ok((bytes, files)) = store.preview_usage() {
            self.stats.store_bytes.store(bytes, Relaxed);
            self.stats.store_files.store(files, Relaxed);
        }
    }

    /// Torrents whose files could not be written since the last call (to be queued
    /// again).
    pub fn take_unwritten(&mut self) -> Vec<InfoHash> {
        std::mem::take(&mut self.unwritten)
    }

    /// Writes the views noted since the last write.
    pub fn write_views(&self, store: &dyn Backend) {
        let views = self.views.take();
        if let Err(e) = store.preview_viewed(&views, unix_now()) {
            tracing::warn!(error = %e, "preview: cannot record views");
        }
    }

    /// Whether nothing is waiting, running or being built (for tests and shutdown).
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.jobs.is_empty() && self.building == 0
    }

    fn publish(&self) {
        self.stats.queued.store(self.known.len() as u64, Relaxed);
        self.stats.running.store(self.running.len() as u64, Relaxed);
    }
}

impl Job {
    fn version_v2_only(&self) -> bool {
        self.info.version() == Version::V2
    }
}

fn mark_bad(job: &mut Job, peer: SocketAddr, stats: &PreviewStats) {
    if !job.bad.contains(&peer) {
        stats.bad_peers.fetch_add(1, Relaxed);
        if job.bad.len() >= MAX_BAD {
            job.bad.remove(0);
        }
        job.bad.push(peer);
    }
}

/// A v2-only torrent's pieces cannot be checked one by one: each chosen file whose
/// pieces are all in is checked against its root; a bad one drops its pieces and
/// blames every peer that sent one.
fn check_v2_files(job: &mut Job, stats: &PreviewStats) {
    let plan = job.plan.clone();
    for c in &plan.files {
        if !c.pieces.clone().all(|p| job.pieces.contains_key(&p)) {
            continue;
        }
        let Some(bytes) = verify::extract(c, job.info.piece_length, &job.pieces) else {
            continue;
        };
        if verify::v2_file(&job.info, c.index, &bytes) {
            continue;
        }
        stats.pieces_failed.fetch_add(1, Relaxed);
        for p in c.pieces.clone() {
            job.pieces.remove(&p);
            if let Some(peer) = job.senders.remove(&p) {
                mark_bad(job, peer, stats);
            }
        }
    }
}

/// Whether a torrent's pieces are in proportion: none shorter than a block, and no
/// more than [`MAX_PIECES`] (a peer's bitfield and our piece map stay small).
fn fits(info: &Info) -> bool {
    info.piece_length >= MIN_PIECE_LENGTH && total_pieces(info) <= MAX_PIECES
}

/// Pieces in the torrent's piece space.
fn total_pieces(info: &Info) -> u64 {
    let pl = info.piece_length.max(1);
    plan::spans(info).last().map_or(0, |s| s.end.div_ceil(pl))
}

/// The length of each piece `plan` wants: whole pieces, but for the torrent's last (v1
/// and hybrid) or each file's last (v2).
fn piece_lengths(info: &Info, plan: &Plan) -> BTreeMap<u64, u32> {
    let pl = info.piece_length.max(1);
    let spans = plan::spans(info);
    let total = spans.last().map_or(0, |s| s.end);
    let mut out = BTreeMap::new();
    for c in &plan.files {
        for p in c.pieces.clone() {
            let len = if info.version() == Version::V2 {
                c.span.end.saturating_sub(p * pl).min(pl)
            } else {
                plan::piece_len(p, pl, total)
            };
            out.insert(p, u32::try_from(len).unwrap_or(u32::MAX));
        }
    }
    out
}

/// Cuts each chosen file out of the job's pieces, checks it against its v2 root when
/// the torrent has one, renders or decodes it, and writes its variants.
fn build(job: Job, config: &PreviewConfig) -> std::io::Result<Built> {
    let mut files = Vec::new();
    let mut partial = false;
    let mut refused = 0;
    for c in &job.plan.files {
        let Some(bytes) = verify::extract(c, job.info.piece_length, &job.pieces) else {
            partial = true;
            continue;
        };
        let has_root = job.info.files[c.index].pieces_root.is_some();
        if has_root && !verify::v2_file(&job.info, c.index, &bytes) {
            partial = true;
            continue;
        }
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let name = c.path.rsplit('/').next().unwrap_or(&c.path);
        let (kind, shown, width, height, encoding, truncated) = match c.kind {
            Kind::Image => match picture::render(&bytes, &config.bounds) {
                Ok(r) => {
                    let shown = vec![(Variant::Thumb, r.thumb), (Variant::Full, r.full)];
                    (
                        PreviewKind::Image,
                        shown,
                        r.width,
                        r.height,
                        String::new(),
                        false,
                    )
                }
                Err(why) => {
                    tracing::debug!(path = %c.path, ?why, "preview: image refused");
                    refused += 1;
                    continue;
                }
            },
            Kind::Text => {
                let d = text::decode(&bytes, name, config.max_text_chars);
                let shown = vec![(Variant::Text, d.text.into_bytes())];
                (
                    PreviewKind::Text,
                    shown,
                    0,
                    0,
                    d.encoding.to_string(),
                    d.truncated,
                )
            }
        };
        let mut stored = 0;
        for (v, data) in &shown {
            write_atomically(&path_of(&config.dir, &sha256, *v), data)?;
            stored += data.len() as u64;
        }
        files.push((
            c.path.clone(),
            PreviewFile {
                sha256,
                kind,
                size: bytes.len() as u64,
                stored,
                width,
                height,
                encoding,
                truncated,
            },
        ));
    }
    Ok(Built {
        info_hash: job.info_hash,
        fetched: job.fetched,
        files,
        partial,
        refused,
        queued: job.queued,
    })
}

/// Writes `data` to a temporary file beside `path`, syncs it, and renames it over
/// `path`: a crash leaves the old file or the new one, never half of one.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("a file under the preview directory");
    std::fs::create_dir_all(dir)?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Two torrents holding one file may be built at once: each writes its own.
    let tmp = path.with_extension(format!("{}.tmp", NEXT.fetch_add(1, Relaxed)));
    let mut f = std::fs::File::create(&tmp)?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(info: &[u8]) -> Info {
        Info::parse(info, &shoal_metainfo::Limits::default()).expect("a valid info dict")
    }

    /// A build whose file was deleted between its write and its record (evicted with
    /// another torrent that shared it, on the catalog thread) is not recorded and is
    /// queued to be built again; with the bytes in place the same build is recorded.
    #[test]
    fn a_build_whose_file_went_meanwhile_is_not_recorded() {
        use shoal_store::{CatalogStore, PreviewStore};
        let tmp = tempfile::tempdir().unwrap();
        let store = shoal_store::SqliteStore::open(&tmp.path().join("shoal.sqlite")).unwrap();
        let mut info = b"d6:lengthi100e4:name5:a.nfo12:piece lengthi16384e6:pieces20:".to_vec();
        info.extend_from_slice(&[7; 20]);
        info.push(b'e');
        let h = InfoHash([1; 20]);
        let entry = crate::describe::entry_from_info(h, &info, 0, 1, 0, 1 << 20).unwrap();
        store.add_catalog_entries(&[entry]).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tmp.path().join("preview");
        let config = PreviewConfig {
            rules: shoal_preview::Rules::default(),
            bounds: shoal_preview::picture::Bounds::default(),
            max_text_chars: 1000,
            disk_budget: 1 << 20,
            concurrent: 1,
            give_up_after: Duration::from_secs(1),
            retry: Duration::from_secs(1),
            dir: dir.clone(),
            session: PieceOptions::default(),
        };
        let engine = Arc::new(Engine::new(shoal_engine::EngineConfig::default(), 1));
        let mut p = Previewer::new(config, engine, runtime.handle().clone());
        let file = PreviewFile {
            sha256: [5; 32],
            kind: PreviewKind::Text,
            size: 100,
            stored: 5,
            width: 0,
            height: 0,
            encoding: "UTF-8".into(),
            truncated: false,
        };
        let built = || Built {
            info_hash: h,
            fetched: 16384,
            files: vec![("a.nfo".into(), file.clone())],
            partial: false,
            refused: 0,
            queued: Instant::now(),
        };
        p.record(built(), &store);
        assert_eq!(store.preview(&h).unwrap(), None);
        assert_eq!(p.take_unwritten(), vec![h]);

        write_atomically(&path_of(&dir, &[5; 32], Variant::Text), b"hello").unwrap();
        p.record(built(), &store);
        let kept = store.preview(&h).unwrap().expect("recorded");
        assert_eq!(kept.files, vec![("a.nfo".to_string(), file.clone())]);
        assert!(p.take_unwritten().is_empty());

        // A denied file's bytes going is no reason to build again: the record leaves
        // it out and the torrent is recorded without it.
        let h2 = InfoHash([2; 20]);
        let entry = crate::describe::entry_from_info(h2, &info, 0, 1, 0, 1 << 20).unwrap();
        store.add_catalog_entries(&[entry]).unwrap();
        let denied = PreviewFile {
            sha256: [6; 32],
            ..file.clone()
        };
        store.deny_preview_file(&[6; 32], 1).unwrap();
        p.denied.set([6; 32], true);
        p.record(
            Built {
                info_hash: h2,
                files: vec![("b.nfo".into(), denied)],
                ..built()
            },
            &store,
        );
        assert!(p.take_unwritten().is_empty());
        let kept = store.preview(&h2).unwrap().expect("recorded");
        assert!(kept.files.is_empty());
    }

    #[test]
    fn crafted_piece_spaces_are_not_previewed() {
        // v1, one 100-byte .nfo: with 16 KiB pieces it fits; with 1 KiB ones it does not.
        let v1 = |pl: u64| {
            let mut b =
                format!("d6:lengthi100e4:name5:a.nfo12:piece lengthi{pl}e6:pieces20:").into_bytes();
            b.extend_from_slice(&[7; 20]);
            b.push(b'e');
            parsed(&b)
        };
        assert!(fits(&v1(16 * 1024)));
        assert!(!fits(&v1(1024)));
        // v2: a small .nfo beside a file of 2^40 bytes in 16 KiB pieces (2^26 pieces).
        let v2 = |big: u64| {
            let mut b = b"d9:file treed5:a.nfod0:d6:lengthi100e11:pieces root32:".to_vec();
            b.extend_from_slice(&[1; 32]);
            b.extend_from_slice(
                format!("ee5:b.mkvd0:d6:lengthi{big}e11:pieces root32:").as_bytes(),
            );
            b.extend_from_slice(&[2; 32]);
            b.extend_from_slice(b"eee12:meta versioni2e4:name1:x12:piece lengthi16384ee");
            parsed(&b)
        };
        assert!(fits(&v2(1 << 30)));
        assert!(!fits(&v2(1 << 40)));
    }
}

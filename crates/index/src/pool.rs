//! The search threads: searches run here, never on a tracker or HTTP worker thread.
//! At most [`PoolConfig::threads`] run at once, at most [`PoolConfig::queue`] wait;
//! past that a search is refused as busy, and a caller waits at most
//! [`PoolConfig::timeout`] for its answer.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_search::request::{Results, SearchError, SearchRequest};

use crate::{Index, LiveCounts};

/// A swarm's live counts by tracker hash (the engine's, in the server).
pub type Live = Arc<dyn Fn(&[u8; 20]) -> LiveCounts + Send + Sync>;

/// The pool's bounds.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Searches running at once.
    pub threads: usize,
    /// Searches waiting at most.
    pub queue: usize,
    /// Longest a caller waits for an answer.
    pub timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            threads: 2,
            queue: 32,
            timeout: Duration::from_secs(2),
        }
    }
}

/// A search, where to answer, and when its caller stops waiting.
type Job = (
    SearchRequest,
    SyncSender<Result<Results, SearchError>>,
    std::time::Instant,
);

/// Runs searches on its own threads.
pub struct SearchPool {
    tx: Mutex<Option<SyncSender<Job>>>,
    timeout: Duration,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl SearchPool {
    /// Starts `config.threads` search threads over `index`.
    pub fn start(index: Arc<Index>, live: Live, config: PoolConfig) -> std::io::Result<SearchPool> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(config.queue);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..config.threads.max(1) {
            let (rx, index, live) = (rx.clone(), index.clone(), live.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("shoal-search-{i}"))
                    .spawn(move || work(&rx, &index, &*live))?,
            );
        }
        Ok(SearchPool {
            tx: Mutex::new(Some(tx)),
            timeout: config.timeout,
            threads: Mutex::new(threads),
        })
    }

    /// Runs a search, waiting for its answer within the time limit.
    pub fn search(&self, req: &SearchRequest) -> Result<Results, SearchError> {
        // Refuse what the index would refuse before queueing it.
        req.check()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        {
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            let Some(jobs) = guard.as_ref() else {
                return Err(SearchError::Unavailable(
                    "the search is shutting down".into(),
                ));
            };
            let deadline = std::time::Instant::now() + self.timeout;
            jobs.try_send((req.clone(), tx, deadline))
                .map_err(|_| SearchError::Busy)?;
        }
        rx.recv_timeout(self.timeout).map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => SearchError::Timeout,
            std::sync::mpsc::RecvTimeoutError::Disconnected => {
                SearchError::Unavailable("the search thread stopped".into())
            }
        })?
    }

    /// Stops the threads after the searches queued.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        for t in std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner())) {
            let _ = t.join();
        }
    }
}

impl Drop for SearchPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn work(
    rx: &Mutex<Receiver<Job>>,
    index: &Index,
    live: &(dyn Fn(&[u8; 20]) -> LiveCounts + Send + Sync),
) {
    loop {
        let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((req, tx, deadline)) = job else { return };
        // A search whose caller gave up while it was queued is not run at all.
        if std::time::Instant::now() >= deadline {
            continue;
        }
        // A caller that gave up meanwhile has dropped its receiver; the answer goes too.
        let _ = tx.try_send(index.search(&req, live));
    }
}

//! The node's periodic work: one loop, written once, for every thread that does
//! something every few seconds (purging expired peers, watching the access-list file,
//! flushing counts to the store, sampling the totals).
//!
//! A [`Schedule`] holds jobs, each with its period, over a state `S` the thread owns.
//! [`Schedule::run`] waits in short ticks (so a shutdown is seen within one tick),
//! runs every job that is due, and returns when the shutdown flag is set. How a tick
//! waits is the caller's: a plain sleep, or waiting on a channel for commands (the store
//! thread answers admin writes between its periodic jobs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest a thread waits before it looks at the shutdown flag again.
pub const TICK: Duration = Duration::from_millis(100);

struct Job<S> {
    name: &'static str,
    every: Duration,
    due: Instant,
    run: Box<dyn FnMut(&mut S) + Send>,
}

/// Periodic jobs over a state `S`.
pub struct Schedule<S> {
    jobs: Vec<Job<S>>,
}

impl<S> Default for Schedule<S> {
    fn default() -> Self {
        Schedule { jobs: Vec::new() }
    }
}

impl<S> Schedule<S> {
    /// No jobs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job run every `every` (first after one period), in the order added when
    /// several are due at once.
    pub fn every(
        mut self,
        name: &'static str,
        every: Duration,
        run: impl FnMut(&mut S) + Send + 'static,
    ) -> Self {
        self.jobs.push(Job {
            name,
            every,
            due: Instant::now() + every,
            run: Box::new(run),
        });
        self
    }

    /// The jobs' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.jobs.iter().map(|j| j.name).collect()
    }

    /// Runs the jobs that are due at `now`; a job late by more than a period runs once
    /// and is then due a period after `now` (no burst of catch-up runs).
    pub fn run_due(&mut self, state: &mut S, now: Instant) {
        for job in &mut self.jobs {
            if now >= job.due {
                (job.run)(state);
                job.due += job.every;
                if job.due <= now {
                    job.due = now + job.every;
                }
            }
        }
    }

    /// How long until the next job is due, at most [`TICK`].
    pub fn next_wait(&self, now: Instant) -> Duration {
        self.jobs
            .iter()
            .map(|j| j.due.saturating_duration_since(now))
            .min()
            .unwrap_or(TICK)
            .min(TICK)
    }

    /// Runs until `shutdown` is set: `wait(state, d)` spends at most `d` (sleeping, or
    /// serving commands), then every due job runs.
    pub fn run(
        mut self,
        state: &mut S,
        shutdown: &AtomicBool,
        mut wait: impl FnMut(&mut S, Duration),
    ) {
        while !shutdown.load(Ordering::Relaxed) {
            wait(state, self.next_wait(Instant::now()));
            self.run_due(state, Instant::now());
        }
    }
}

/// Sleeps for the tick: the wait of a thread with nothing else to listen to.
pub fn sleep<S>(_: &mut S, d: Duration) {
    std::thread::sleep(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_at_their_periods_in_order_without_catch_up_bursts() {
        let mut s = Schedule::<Vec<&str>>::new()
            .every("fast", Duration::from_secs(1), |v| v.push("fast"))
            .every("slow", Duration::from_secs(3), |v| v.push("slow"));
        // Taken after the jobs were added: each is due at most a period from here.
        let start = Instant::now();
        assert_eq!(s.names(), ["fast", "slow"]);
        let mut log = Vec::new();
        s.run_due(&mut log, start);
        assert!(log.is_empty(), "nothing is due before its first period");
        for t in 1..=3 {
            s.run_due(&mut log, start + Duration::from_secs(t));
        }
        assert_eq!(log, ["fast", "fast", "fast", "slow"]);
        // Ten seconds late: each job runs once, then keeps its period from now.
        log.clear();
        let late = start + Duration::from_secs(13);
        s.run_due(&mut log, late);
        assert_eq!(log, ["fast", "slow"]);
        s.run_due(&mut log, late + Duration::from_millis(999));
        assert_eq!(log.len(), 2);
        s.run_due(&mut log, late + Duration::from_secs(1));
        assert_eq!(log, ["fast", "slow", "fast"]);
    }

    #[test]
    fn waits_are_bounded_by_the_tick_and_the_next_job() {
        let s = Schedule::<()>::new().every("j", Duration::from_millis(30), |_| {});
        let idle = Schedule::<()>::new().every("j", Duration::from_secs(60), |_| {});
        let now = Instant::now();
        assert!(s.next_wait(now) <= Duration::from_millis(30));
        assert_eq!(idle.next_wait(now), TICK);
        assert_eq!(Schedule::<()>::new().next_wait(now), TICK);
    }

    #[test]
    fn run_returns_once_shut_down_and_runs_due_jobs() {
        let shutdown = AtomicBool::new(false);
        let mut count = 0u32;
        let s = Schedule::<u32>::new().every("count", Duration::from_millis(1), |n| *n += 1);
        s.run(&mut count, &shutdown, |n, d| {
            std::thread::sleep(d);
            if *n >= 3 {
                shutdown.store(true, Ordering::Relaxed);
            }
        });
        assert!(count >= 3);
    }
}

//! Run results: counts, latency percentiles, and the server's CPU and memory.

use std::time::Duration;

use crate::validate::Verdict;

/// What one run saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: u64,
    pub announces: u64,
    pub scrapes: u64,
    pub connects: u64,
    pub peers: u64,
    pub tracker_errors: u64,
    pub invalid: u64,
    pub timeouts: u64,
    /// Latencies in microseconds (bounded by the request budget).
    pub latencies: Vec<u32>,
}

impl Tally {
    pub fn record(&mut self, v: Verdict, latency: Duration) {
        match v {
            Verdict::Connected(_) => self.connects += 1,
            Verdict::Announced(n) => {
                self.announces += 1;
                self.peers += n as u64;
            }
            Verdict::Scraped => self.scrapes += 1,
            Verdict::TrackerError => self.tracker_errors += 1,
            Verdict::Invalid => self.invalid += 1,
        }
        if !matches!(v, Verdict::Invalid) {
            self.latencies
                .push(latency.as_micros().min(u128::from(u32::MAX)) as u32);
        }
    }

    pub fn merge(&mut self, o: Tally) {
        self.sent += o.sent;
        self.announces += o.announces;
        self.scrapes += o.scrapes;
        self.connects += o.connects;
        self.peers += o.peers;
        self.tracker_errors += o.tracker_errors;
        self.invalid += o.invalid;
        self.timeouts += o.timeouts;
        self.latencies.extend(o.latencies);
    }

    /// Good answers: connects, announces and scrapes.
    pub fn good(&self) -> u64 {
        self.connects + self.announces + self.scrapes
    }
}

/// The `p`th percentile (0..=100) of `sorted`.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// Current resident memory (VmRSS) of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Peak resident memory (VmHWM) of a process in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 51);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn invalid_answers_are_not_successes() {
        let mut t = Tally::default();
        t.record(Verdict::Announced(3), Duration::from_micros(10));
        t.record(Verdict::Invalid, Duration::from_micros(10));
        t.record(Verdict::TrackerError, Duration::from_micros(10));
        assert_eq!(
            (t.good(), t.invalid, t.tracker_errors, t.peers),
            (1, 1, 1, 3)
        );
    }

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(peak_rss_kib(me).unwrap() > 0);
    }
}

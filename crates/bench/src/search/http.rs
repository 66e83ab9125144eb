//! A steady stream of catalog searches over HTTP (`GET /api/catalog/search?…`), one
//! connection per search, at a fixed rate: the search side of "tracker load with and
//! without searches".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use shoal_search::request::SearchRequest;

/// What the stream saw.
#[derive(Debug, Default)]
pub struct Stream {
    /// Searches answered 200, with their latency (µs, from connect to the last byte).
    pub ok_us: Vec<u64>,
    /// The time the server said the index took (µs) per answered search.
    pub took_us: Vec<u64>,
    /// Answers other than 200 (busy, timeout, errors), by status.
    pub other: Vec<u16>,
    /// Searches that failed to connect or read.
    pub failed: u64,
    /// Searches sent late because the one before took longer than the interval.
    pub late: u64,
}

fn one(target: SocketAddr, req: &SearchRequest) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    write!(
        s,
        "GET /api/catalog/search?{} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n",
        req.to_query_string()
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let status = buf
        .get(9..12)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| buf[i + 4..].to_vec())
        .unwrap_or_default();
    Ok((status, body))
}

/// Sends the requests in turn, `rate` per second, until `duration` has passed.
pub fn run(
    target: SocketAddr,
    requests: &[SearchRequest],
    rate: f64,
    duration: Duration,
) -> Stream {
    let mut out = Stream::default();
    if requests.is_empty() {
        return out;
    }
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let started = Instant::now();
    let mut next = started;
    let mut k = 0usize;
    while started.elapsed() < duration {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > interval {
            out.late += 1;
        }
        next = next.max(now) + interval;
        let req = &requests[k % requests.len()];
        k += 1;
        let t0 = Instant::now();
        match one(target, req) {
            Ok((200, body)) => {
                out.ok_us.push(t0.elapsed().as_micros() as u64);
                if let Some(t) = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("took_us").and_then(|t| t.as_u64()))
                {
                    out.took_us.push(t);
                }
            }
            Ok((status, _)) => out.other.push(status),
            Err(_) => out.failed += 1,
        }
    }
    out.ok_us.sort_unstable();
    out.took_us.sort_unstable();
    out
}

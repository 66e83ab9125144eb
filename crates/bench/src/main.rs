//! `shoal-bench`: a bounded, validating load generator for BitTorrent trackers.
//!
//! Simulates a peer population (Zipf torrent popularity, started → regular → completed →
//! stopped lifecycle, a seeder share, a scrape share) from many loopback source
//! addresses, against any UDP or HTTP tracker, and WebTorrent peers (WebSocket
//! connections announcing with WebRTC offers and answering those relayed to them). Every answer is checked against its
//! request; wrong answers count as errors. Every run is bounded by a duration and a
//! request budget. With `--server-pid` it also reports the server's CPU time per
//! response and peak RSS.

mod http;
mod model;
mod report;
mod udp;
mod validate;
mod ws;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Proto {
    Udp,
    Http,
    /// WebTorrent over WebSocket.
    Ws,
    /// Print the population's info-hashes (hex, one per line) and exit: for trackers
    /// that serve only listed torrents.
    Hashes,
}

/// A bounded, validating load generator for BitTorrent trackers.
#[derive(Parser, Debug)]
#[command(name = "shoal-bench", version)]
struct Cli {
    /// udp or http.
    protocol: Proto,
    /// Tracker address, e.g. 127.0.0.1:6969.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// Seconds to run (1..=600).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Most requests to send in all (the run also ends at --duration).
    #[arg(long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// Torrents in the population.
    #[arg(long, default_value_t = 10_000)]
    torrents: usize,
    /// Peers in the population.
    #[arg(long, default_value_t = 100_000)]
    peers: usize,
    /// Number of the first torrent: runs with different values use disjoint torrent
    /// sets (for soaks whose torrents come and go). Also offsets `hashes`.
    #[arg(long, default_value_t = 0)]
    first_torrent: usize,
    /// Zipf exponent of torrent popularity (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Share of peers that are seeders.
    #[arg(long, default_value_t = 0.75)]
    seeders: f64,
    /// Share of requests that are scrapes.
    #[arg(long, default_value_t = 0.02)]
    scrapes: f64,
    /// Peers wanted per announce.
    #[arg(long, default_value_t = 30)]
    numwant: usize,
    /// Threads generating load (UDP workers or HTTP connections).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// UDP: source addresses (sockets) per worker.
    #[arg(long, default_value_t = 16)]
    sources: usize,
    /// UDP: requests in flight per socket.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// HTTP: reuse connections (keep-alive); off opens one per request.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    keepalive: bool,
    /// WebTorrent: WebSocket connections (one peer each).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// WebTorrent: offers per announce.
    #[arg(long, default_value_t = 5)]
    offers: usize,
    /// WebTorrent: bytes of SDP per offer and answer.
    #[arg(long, default_value_t = 400)]
    sdp_bytes: usize,
    /// Announce every peer once (event=started), spread evenly over the torrents, then
    /// stop: fills the tracker for memory measurements.
    #[arg(long)]
    fill: bool,
    /// Seed for the population and choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// PID of the tracker, to report its CPU time and peak RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// UDP: a file of passkeys (32 hex digits a line) for a private tracker: peer `i`
    /// sends the `i % n`-th as BEP 41 URLData `/announce/<passkey>`.
    #[arg(long, value_name = "FILE")]
    passkeys: Option<std::path::PathBuf>,
}

/// Load settings shared by the workers.
#[derive(Debug, Clone)]
pub struct Load {
    pub target: SocketAddr,
    pub torrents: usize,
    pub first_torrent: usize,
    pub peers: usize,
    pub zipf: f64,
    pub seeders: f64,
    pub scrapes: f64,
    pub numwant: usize,
    pub sources: usize,
    pub window: usize,
    pub keepalive: bool,
    pub seed: u64,
    pub workers: usize,
    pub fill: bool,
    /// BEP 41 options carrying each passkey's URLData (empty: none).
    pub url_options: std::sync::Arc<Vec<Vec<u8>>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.protocol == Proto::Hashes {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for t in 0..cli.torrents.max(1) {
            let h = model::info_hash(cli.first_torrent + t);
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            if writeln!(out, "{hex}").is_err() {
                return ExitCode::from(1);
            }
        }
        return ExitCode::SUCCESS;
    }
    let Some(target) = cli.target else {
        eprintln!("shoal-bench: --target is required");
        return ExitCode::from(2);
    };
    if !(1..=600).contains(&cli.duration) {
        eprintln!(
            "shoal-bench: --duration {}: must be 1..=600 seconds",
            cli.duration
        );
        return ExitCode::from(2);
    }
    if !target.ip().is_loopback() {
        eprintln!("shoal-bench: --target {target}: only loopback targets are allowed");
        return ExitCode::from(2);
    }
    if !(0.0..=1.0).contains(&cli.seeders) || !(0.0..=1.0).contains(&cli.scrapes) {
        eprintln!("shoal-bench: --seeders and --scrapes are shares between 0 and 1");
        return ExitCode::from(2);
    }
    let load = Load {
        target,
        torrents: cli.torrents.max(1),
        first_torrent: cli.first_torrent,
        peers: cli.peers.max(1),
        zipf: cli.zipf,
        seeders: cli.seeders,
        scrapes: cli.scrapes,
        numwant: cli.numwant,
        sources: cli.sources.clamp(1, 1000),
        window: cli.window.clamp(1, 1024),
        keepalive: cli.keepalive,
        seed: cli.seed,
        workers: cli.workers.clamp(1, 1024),
        fill: cli.fill,
        url_options: std::sync::Arc::new(match &cli.passkeys {
            None => Vec::new(),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|key| {
                        let mut o = Vec::new();
                        shoal_protocol::udp::AnnounceOptions::write_url_data(
                            format!("/announce/{key}").as_bytes(),
                            &mut o,
                        );
                        o
                    })
                    .collect(),
                Err(e) => {
                    eprintln!("shoal-bench: --passkeys {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            },
        }),
    };
    raise_fd_limit();
    let workers = load.workers;
    let rss0 = cli.server_pid.and_then(report::rss_kib);
    let cpu0 = cli.server_pid.and_then(report::cpu_seconds);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(cli.duration);
    let budget = cli.max_requests.div_ceil(workers as u64);
    let mut relayed = None;
    let results: Vec<_> = if cli.protocol == Proto::Ws {
        let w = ws::WsLoad {
            connections: cli.connections.clamp(1, 200_000),
            offers: cli.offers.min(100),
            sdp_bytes: cli.sdp_bytes.min(60_000),
        };
        let pid = cli.server_pid;
        let on_connected = |n: usize| {
            if let (true, Some(a), Some(b)) = (load.fill, rss0, pid.and_then(report::rss_kib)) {
                eprintln!(
                    "fill: {n} idle WebSocket connections: server RSS {} → {} MiB, {:.0} bytes per connection",
                    a / 1024,
                    b / 1024,
                    (b.saturating_sub(a) * 1024) as f64 / n.max(1) as f64
                );
            }
        };
        match ws::run(&load, &w, deadline, cli.max_requests, on_connected) {
            Ok((t, r)) => {
                relayed = Some(r);
                vec![Ok(Ok(t))]
            }
            Err(e) => vec![Ok(Err(e))],
        }
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let load = &load;
                    scope.spawn(move || match cli.protocol {
                        Proto::Udp => udp::run(load, w, deadline, budget),
                        Proto::Http => Ok(http::run(load, w, deadline, budget)),
                        Proto::Ws | Proto::Hashes => unreachable!("handled above"),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        })
    };
    let elapsed = start.elapsed().as_secs_f64();
    let mut tally = report::Tally::default();
    for r in results {
        match r {
            Ok(Ok(t)) => tally.merge(t),
            Ok(Err(e)) => {
                eprintln!("shoal-bench: {e}");
                return ExitCode::from(1);
            }
            Err(_) => {
                eprintln!("shoal-bench: a worker panicked");
                return ExitCode::from(1);
            }
        }
    }
    tally.latencies.sort_unstable();
    let good = tally.good();
    let rps = good as f64 / elapsed;
    let ppr = if tally.announces > 0 {
        tally.peers as f64 / tally.announces as f64
    } else {
        0.0
    };
    let cpu = match (cli.server_pid, cpu0) {
        (Some(pid), Some(c0)) => report::cpu_seconds(pid).map(|c1| c1 - c0),
        _ => None,
    };
    let rss = cli.server_pid.and_then(report::peak_rss_kib);
    let p = |q| report::percentile(&tally.latencies, q);
    let out = json!({
        "protocol": format!("{:?}", cli.protocol).to_lowercase(),
        "keepalive": cli.keepalive,
        "seconds": elapsed,
        "sent": tally.sent,
        "responses": good,
        "responses_per_second": rps,
        "connects": tally.connects,
        "announces": tally.announces,
        "scrapes": tally.scrapes,
        "peers_per_announce": ppr,
        "offers_received": relayed.map(|r| r.offers),
        "answers_received": relayed.map(|r| r.answers),
        "tracker_errors": tally.tracker_errors,
        "invalid": tally.invalid,
        "timeouts": tally.timeouts,
        "latency_us": { "p50": p(50.0), "p95": p(95.0), "p99": p(99.0) },
        "server_cpu_seconds": cpu,
        "server_cpu_us_per_response": cpu.map(|c| c * 1e6 / good.max(1) as f64),
        "server_peak_rss_kib": rss,
        "server_rss_kib_before": rss0,
        "server_rss_kib_after": cli.server_pid.and_then(report::rss_kib),
    });
    if cli.json {
        println!("{out}");
    } else {
        println!("responses/s        {rps:.0}");
        println!(
            "responses          {good} of {} sent ({} connect, {} announce, {} scrape)",
            tally.sent, tally.connects, tally.announces, tally.scrapes
        );
        match relayed {
            Some(r) => println!(
                "relayed            {} offers, {} answers received ({:.0}/s); swarm size per announce {ppr:.2}",
                r.offers,
                r.answers,
                (r.offers + r.answers) as f64 / elapsed
            ),
            None => println!("peers/announce     {ppr:.2}"),
        }
        println!(
            "errors             {} tracker errors, {} invalid, {} timeouts",
            tally.tracker_errors, tally.invalid, tally.timeouts
        );
        println!(
            "latency µs         p50 {}  p95 {}  p99 {}",
            p(50.0),
            p(95.0),
            p(99.0)
        );
        if let Some(c) = cpu {
            println!(
                "server CPU         {c:.2} s, {:.2} µs/response",
                c * 1e6 / good.max(1) as f64
            );
        }
        if let Some(r) = rss {
            println!("server peak RSS    {} MiB", r / 1024);
        }
    }
    if cli.fill && cli.protocol != Proto::Ws {
        if let (Some(a), Some(b)) = (rss0, cli.server_pid.and_then(report::rss_kib)) {
            let peers = load.peers as f64;
            eprintln!(
                "fill: server RSS {} → {} MiB, {:.1} bytes per peer",
                a / 1024,
                b / 1024,
                (b.saturating_sub(a) * 1024) as f64 / peers
            );
        }
    }
    // A run with no good answer, or mostly bad ones, is a failure.
    if good == 0 || tally.invalid > good / 100 {
        eprintln!("shoal-bench: too few valid answers");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Many connections need many descriptors: lift the soft limit to the hard one.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

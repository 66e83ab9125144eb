//! shoal's UDP tracker front end (BEP 15, BEP 41).
//!
//! [`UdpServer::start`] binds every listen address once per worker thread with
//! `SO_REUSEPORT`, so the kernel spreads datagrams across workers by flow hash and no
//! two workers share a socket. A worker waits on its sockets with epoll (mio), drains
//! each with `recvmmsg`, answers every datagram into a reusable reply buffer and sends
//! the replies with one `sendmmsg`, each from the local address its request targeted.
//!
//! The worker owns no swarm state: it parses with `shoal-protocol`, checks the
//! stateless connection id, and calls the shared `shoal-engine`. Datagrams that are too
//! short, garbled or carry a bad connection id are dropped and counted (answering them
//! would let forged packets reflect traffic at a victim). Parse errors that name a
//! valid connection get a small error reply.
#![deny(missing_docs)]

mod batch;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use shoal_engine::gate::Gate;
use shoal_engine::Secs;
use shoal_protocol::udp::connection_id::ConnectionIdKeys;
use socket2::{Domain, Protocol, Socket, Type};

pub use batch::{RecvBatch, RecvMeta, SendBatch, SendOutcome};

/// UDP front-end settings.
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Addresses to listen on. An unspecified IPv6 address (`[::]`) is dual-stack
    /// unless an IPv4 listener on the same port is also configured.
    pub listen: Vec<SocketAddr>,
    /// Worker threads; each binds every listen address with `SO_REUSEPORT`.
    pub workers: usize,
    /// Datagrams per `recvmmsg`/`sendmmsg` call.
    pub batch_size: usize,
    /// Kernel receive buffer per socket, bytes (0 keeps the system default).
    pub recv_buffer_bytes: usize,
    /// Seconds a connection id stays valid (at least 120 in practice).
    pub connection_id_max_age: u64,
    /// Seconds between connection-id key rotations.
    pub connection_id_rotation: u64,
    /// Master secret for connection ids; nodes sharing it accept each other's ids.
    pub connection_id_secret: [u8; 16],
    /// Most info-hashes answered per scrape; extra hashes are ignored.
    pub max_scrape_hashes: usize,
    /// Answer announces the access list refuses with an empty announce reply instead of
    /// an error (some clients keep retrying on errors).
    pub soft_reject: bool,
}

/// Counters of what the UDP front end did, shared by all workers.
#[derive(Debug, Default)]
pub struct UdpStats {
    /// Datagrams received.
    pub received: AtomicU64,
    /// Connect requests answered.
    pub connects: AtomicU64,
    /// Announce requests answered.
    pub announces: AtomicU64,
    /// Scrape requests answered.
    pub scrapes: AtomicU64,
    /// Error replies sent.
    pub errors_sent: AtomicU64,
    /// Datagrams dropped as too short, oversized or unparseable.
    pub dropped_malformed: AtomicU64,
    /// Requests dropped for an invalid or expired connection id.
    pub dropped_bad_connection_id: AtomicU64,
    /// Announces refused by the access list.
    pub denied: AtomicU64,
    /// Requests dropped by per-source rate limits.
    pub rate_limited: AtomicU64,
    /// Replies sent.
    pub sent: AtomicU64,
    /// Replies dropped because a socket buffer was full or the kernel refused them.
    pub send_failures: AtomicU64,
    /// Time from receiving a batch to handing its replies to the kernel, per datagram.
    pub latency: shoal_engine::histogram::Histogram,
}

impl UdpStats {
    /// One counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The clock the front ends share: monotonic seconds for the engine, unix seconds for
/// connection ids.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose engine time starts now.
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
        }
    }
    /// Milliseconds since the clock was made (for rate limits).
    pub fn millis(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    /// Engine time: seconds since the clock was made.
    pub fn engine_now(&self) -> Secs {
        Secs(self.start.elapsed().as_secs().min(u64::from(u32::MAX)) as u32)
    }
    /// Wall-clock unix seconds.
    pub fn unix_now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// A running UDP front end.
pub struct UdpServer {
    local_addrs: Vec<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
    stats: Arc<UdpStats>,
}

impl UdpServer {
    /// Binds every listen address once per worker and starts the workers. They run
    /// until `shutdown` becomes true (checked at least every 100 ms).
    pub fn start(
        config: &UdpConfig,
        gate: Arc<Gate>,
        clock: Clock,
        shutdown: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let workers = config.workers.max(1);
        let mut per_worker: Vec<Vec<(mio::net::UdpSocket, bool)>> =
            (0..workers).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        for &addr in &config.listen {
            let v6only = match addr {
                SocketAddr::V6(_) => config
                    .listen
                    .iter()
                    .any(|o| o.is_ipv4() && o.port() == addr.port() && addr.port() != 0),
                SocketAddr::V4(_) => false,
            };
            // SO_REUSEPORT lets our workers share the address, but it would also let a
            // second shoal (same user) bind it and silently take half the traffic: a
            // socket without it binds only if nobody else holds the address.
            if addr.port() != 0 {
                ensure_free(addr, v6only)?;
            }
            // Bind the first socket, then bind the rest to the port it got (port 0 picks
            // one port for all workers).
            let mut bound = addr;
            for (w, sockets) in per_worker.iter_mut().enumerate() {
                let socket = bind_socket(bound, v6only, config.recv_buffer_bytes)
                    .map_err(|e| io::Error::new(e.kind(), format!("udp bind {bound}: {e}")))?;
                if w == 0 {
                    bound = socket.local_addr()?;
                    local_addrs.push(bound);
                }
                let v6 = bound.is_ipv6();
                sockets.push((mio::net::UdpSocket::from_std(socket), v6));
            }
        }
        let stats = Arc::new(UdpStats::default());
        let keys = ConnectionIdKeys::new(
            config.connection_id_secret,
            config.connection_id_max_age,
            config.connection_id_rotation,
            clock.unix_now(),
        );
        let mut threads = Vec::new();
        for (w, sockets) in per_worker.into_iter().enumerate() {
            let mut worker = worker::Worker::new(
                sockets,
                gate.clone(),
                keys.clone(),
                clock,
                stats.clone(),
                config,
            )?;
            let shutdown = shutdown.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("shoal-udp-{w}"))
                    .spawn(move || worker.run(&shutdown))?,
            );
        }
        for a in &local_addrs {
            tracing::info!(addr = %a, workers, "udp listening");
        }
        Ok(UdpServer {
            local_addrs,
            threads,
            stats,
        })
    }

    /// The bound addresses (with real ports where port 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<UdpStats> {
        &self.stats
    }

    /// Waits for every worker to finish (after shutdown was signalled).
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("udp worker panicked");
            }
        }
    }
}

/// Fails with `AddrInUse`, naming `addr`, when another socket (of any process) is bound
/// to it; binds and closes a probe socket without `SO_REUSEPORT` otherwise.
fn ensure_free(addr: SocketAddr, v6only: bool) -> io::Result<()> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let probe = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        probe.set_only_v6(v6only)?;
    }
    match probe.bind(&addr.into()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("udp address {addr} is already in use by another process"),
        )),
        Err(e) => Err(io::Error::new(e.kind(), format!("udp bind {addr}: {e}"))),
    }
}

fn bind_socket(
    addr: SocketAddr,
    v6only: bool,
    recv_buffer: usize,
) -> io::Result<std::net::UdpSocket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6only)?;
    }
    if recv_buffer > 0 {
        // The kernel caps this at net.core.rmem_max; a smaller buffer is not an error.
        if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
            tracing::warn!(error = %e, "could not set udp receive buffer size");
        }
    }
    socket.set_nonblocking(true)?;
    // Packet info tells a wildcard socket which address a datagram was sent to, so the
    // reply can leave from it. A socket bound to one address always replies from that
    // address: it skips the control message on every receive and send (kernel work per
    // datagram).
    if addr.ip().is_unspecified() {
        batch::enable_pktinfo(socket.as_raw_fd(), addr.is_ipv6())?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

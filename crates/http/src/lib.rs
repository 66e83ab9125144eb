//! shoal's HTTP tracker front end (BEP 3, 7, 21, 23, 24, 31, 48).
//!
//! Each connection is one tokio task running a small HTTP/1.1 loop on `httparse`:
//! read, answer the complete requests in the buffer (pipelining, a bounded number and
//! bytes of answers at a time), write them, repeat while the connection is kept alive.
//! The accept loop only accepts and spawns: it never answers a request itself. Tracker requests are tiny GETs,
//! so a general-purpose stack buys little here, while owning the loop makes every limit
//! explicit: request size, header count, idle and slow-client timeouts, connection cap.
//!
//! The front end owns no swarm state: [`handler`] turns a request into engine calls and
//! a bencoded body using `shoal-protocol`'s HTTP module.
#![deny(missing_docs)]

mod conn;
pub mod handler;
mod peraddr;
pub mod tls;
pub mod ws;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoal_engine::gate::Gate;
use shoal_engine::Secs;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{watch, Semaphore};

/// HTTP front-end settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Threads of the runtime serving HTTP.
    pub workers: usize,
    /// Largest request head (request line and headers), bytes.
    pub max_request_bytes: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Seconds a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Seconds a client has to send a whole request once it started one.
    pub request_timeout: Duration,
    /// Most open connections; more are closed at once.
    pub max_connections: usize,
    /// Most open connections from one address (IPv4) or /64 (IPv6), so one address
    /// cannot take `max_connections`; trusted proxies are exempt (0 = no limit).
    pub max_connections_per_ip: u32,
    /// Peers whose address is in one of these networks are proxies: the client address
    /// comes from `X-Forwarded-For` or `X-Real-IP`.
    pub trusted_proxies: Vec<Cidr>,
    /// Honour the announce `ip` parameter (off: it lets anyone add third parties).
    pub allow_ip_param: bool,
    /// Most info-hashes answered per scrape; more are ignored.
    pub max_scrape_hashes: usize,
    /// Answer scrapes that name no info-hash with every torrent, at most once per
    /// `full_scrape_interval` per client address.
    pub full_scrape: bool,
    /// Seconds a client must wait between full scrapes.
    pub full_scrape_interval: u32,
    /// HTTPS listeners with their certificate files.
    pub tls: Option<(Vec<SocketAddr>, tls::TlsFiles)>,
    /// Serve the tracker endpoints (announce, scrape); off for a listener that only
    /// serves `routes` (the web UI's own listener).
    pub tracker: bool,
    /// Name in the "listening" log lines (`http`, `web`).
    pub label: &'static str,
}

pub use shoal_protocol::common::Cidr;

/// Counters of what the HTTP front end did.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections refused because their address had `max_connections_per_ip` open.
    pub connections_refused_per_ip: AtomicU64,
    /// Requests answered (any status).
    pub requests: AtomicU64,
    /// Announces answered with peers.
    pub announces: AtomicU64,
    /// Scrapes answered.
    pub scrapes: AtomicU64,
    /// Announces or scrapes answered with a `failure reason`.
    pub failures: AtomicU64,
    /// Requests refused at the HTTP level (4xx), and timed-out connections.
    pub bad_requests: AtomicU64,
    /// Announces and scrapes refused by per-source rate limits.
    pub rate_limited: AtomicU64,
    /// Time to answer a request once it was parsed.
    pub latency: shoal_engine::histogram::Histogram,
}

impl HttpStats {
    /// One counter's current value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Engine time for the HTTP handlers, derived from the same clock as other front ends.
pub trait Now: Send + Sync + 'static {
    /// Engine seconds.
    fn now(&self) -> Secs;
    /// Milliseconds on the same monotonic clock (for rate limits).
    fn millis(&self) -> u64;
}

pub(crate) struct Shared {
    pub(crate) config: HttpConfig,
    pub(crate) gate: Arc<Gate>,
    pub(crate) clock: Box<dyn Now>,
    pub(crate) stats: Arc<HttpStats>,
    pub(crate) per_ip: peraddr::AddrSlots,
    pub(crate) routes: Option<Arc<dyn handler::Routes>>,
    pub(crate) webtorrent: Option<Arc<ws::WebTorrent>>,
    /// Connections reading a body larger than `conn::MAX_BODY` now (uploads): at most
    /// `conn::MAX_LARGE_BODIES`, so uploads cannot fill memory.
    pub(crate) large_bodies: Arc<std::sync::atomic::AtomicUsize>,
}

/// A running HTTP front end.
pub struct HttpServer {
    runtime: tokio::runtime::Runtime,
    local_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    tls: Option<Arc<tls::TlsState>>,
    stats: Arc<HttpStats>,
    stop: watch::Sender<bool>,
}

impl HttpServer {
    /// Binds every listen address and starts serving on a runtime of `workers` threads.
    /// Certificate problems are `InvalidInput` errors naming the file.
    /// `routes` answers paths the tracker itself does not (metrics, JSON API, web UI);
    /// with `webtorrent`, WebSocket upgrades on `/announce` and `/` join its swarms.
    pub fn start(
        config: HttpConfig,
        gate: Arc<Gate>,
        clock: Box<dyn Now>,
        stats: Arc<HttpStats>,
        routes: Option<Arc<dyn handler::Routes>>,
        webtorrent: Option<Arc<ws::WebTorrent>>,
    ) -> io::Result<Self> {
        let tls = match &config.tls {
            Some((_, files)) => Some(Arc::new(
                tls::TlsState::new(files.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            )),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers.max(1))
            .thread_name("shoal-http")
            .enable_io()
            .enable_time()
            .build()?;
        let listeners = bind_all(&config.listen, "http")?;
        let tls_listeners = match &config.tls {
            Some((addrs, _)) => bind_all(addrs, "https")?,
            None => Vec::new(),
        };
        let local_addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let tls_addrs = tls_listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            per_ip: peraddr::AddrSlots::new(config.max_connections_per_ip),
            config,
            gate,
            clock,
            stats: stats.clone(),
            routes,
            webtorrent,
            large_bodies: Arc::default(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
        let all = listeners
            .into_iter()
            .map(|l| (l, None))
            .chain(tls_listeners.into_iter().map(|l| (l, tls.clone())));
        for (l, tls) in all {
            runtime.spawn(accept_loop(
                l,
                tls,
                shared.clone(),
                permits.clone(),
                stop_rx.clone(),
            ));
        }
        for a in &local_addrs {
            if shared.config.label == "http" {
                tracing::info!(addr = %a, "http listening");
            } else {
                tracing::info!(addr = %a, "{} listening", shared.config.label);
            }
        }
        for a in &tls_addrs {
            tracing::info!(addr = %a, "https listening");
        }
        Ok(HttpServer {
            runtime,
            local_addrs,
            tls_addrs,
            tls,
            stats,
            stop,
        })
    }

    /// The bound HTTPS addresses.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Re-reads the certificate and key (SIGHUP). Connections already open keep theirs;
    /// on error the old certificate stays in use.
    pub fn reload_tls(&self) -> Result<(), String> {
        match &self.tls {
            Some(t) => t.reload(),
            None => Ok(()),
        }
    }

    /// The certificate holder, for reloading it from elsewhere (`None` without HTTPS).
    pub fn tls(&self) -> Option<Arc<tls::TlsState>> {
        self.tls.clone()
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<HttpStats> {
        &self.stats
    }

    /// Stops accepting, lets open requests finish for up to `grace`, then stops.
    pub fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        self.runtime.shutdown_timeout(grace);
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    tls: Option<Arc<tls::TlsState>>,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    // SAFETY: the AsyncFd owns the listener, so its descriptor stays open for as long as
    // it is registered.
    let listener = match unsafe { tokio::io::unix::AsyncFd::register(listener) } {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = ?e, "http listener cannot be polled");
            return;
        }
    };
    loop {
        let mut ready = tokio::select! {
            r = listener.readable() => match r {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!(error = %e, "http listener failed");
                    return;
                }
            },
            _ = stop.changed() => return,
        };
        // Drain the accept queue; stop when it is empty (edge-triggered readiness).
        // Nothing here waits on a request: each connection is answered in its own task.
        loop {
            let (stream, peer) = match accept_nonblocking(listener.get_ref()) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    break;
                }
                Err(e) => {
                    // EMFILE and the like: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    break;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                shared
                    .stats
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                drop(stream);
                continue;
            };
            let ip = peer.ip();
            let slot = if shared.config.trusted_proxies.iter().any(|c| c.contains(ip)) {
                None
            } else {
                match shared.per_ip.admit(ip) {
                    Some(s) => Some(s),
                    None => {
                        shared
                            .stats
                            .connections_refused_per_ip
                            .fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    }
                }
            };
            shared.stats.connections.fetch_add(1, Ordering::Relaxed);
            // TCP_NODELAY is inherited from the listening socket on Linux (set in `bind`).
            let shared = shared.clone();
            let stop = stop.clone();
            // Two task shapes: a plain connection's future does not carry TLS state
            // (each task's future is one allocation sized for its largest state).
            match tls.clone() {
                None => {
                    tokio::spawn(async move {
                        let mut buffers = conn::Conn::new();
                        if let conn::Inline::Continue(stream) =
                            conn::try_inline(stream, peer, &shared, &mut buffers)
                        {
                            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                                conn::serve(stream, peer, &shared, stop, false, buffers).await;
                            }
                        }
                        drop((permit, slot));
                    });
                }
                Some(tls) => {
                    tokio::spawn(async move {
                        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                            return;
                        };
                        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
                        let handshake = tokio::time::timeout(
                            shared.config.request_timeout,
                            acceptor.accept(stream),
                        )
                        .await;
                        match handshake {
                            Ok(Ok(stream)) => {
                                let buffers = conn::Conn::new();
                                conn::serve(stream, peer, &shared, stop, true, buffers).await
                            }
                            _ => {
                                shared.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        drop((permit, slot));
                    });
                }
            }
        }
    }
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: one syscall for a socket ready for
/// both the inline fast path and the runtime.
fn accept_nonblocking(
    listener: &std::net::TcpListener,
) -> io::Result<(std::net::TcpStream, SocketAddr)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage and len describe a writable buffer of the stated size.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 returned a new descriptor we now own.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let peer = match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for an IPv4 peer.
            let a = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            SocketAddr::from((
                std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for an IPv6 peer.
            let a = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            SocketAddr::V6(std::net::SocketAddrV6::new(
                std::net::Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "accepted a non-IP socket",
            ))
        }
    };
    Ok((stream, peer))
}

fn bind_all(addrs: &[SocketAddr], what: &str) -> io::Result<Vec<std::net::TcpListener>> {
    addrs
        .iter()
        .map(|&addr| {
            let v6only = addr.is_ipv6()
                && addrs
                    .iter()
                    .any(|o| o.is_ipv4() && o.port() == addr.port() && addr.port() != 0);
            bind(addr, v6only)
                .map_err(|e| io::Error::new(e.kind(), format!("{what} bind {addr}: {e}")))
        })
        .collect()
}

fn bind(addr: SocketAddr, v6only: bool) -> io::Result<std::net::TcpListener> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    // Replies are written whole; never let Nagle hold one back. Accepted sockets
    // inherit this, saving a syscall per connection.
    s.set_nodelay(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(v6only)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    // Tracker clients always speak first: have the kernel hand over a connection only
    // once its request has arrived, so most are answered inline without the runtime.
    // Connections that stay silent are handed over after a few seconds anyway.
    let defer: libc::c_int = 3;
    // SAFETY: setsockopt with a c_int value of the right size on our own socket.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&defer as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    s.listen(4096)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parse_and_contains() {
        let n: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "x/8", "::/129", "10.0.0.0/-1"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}

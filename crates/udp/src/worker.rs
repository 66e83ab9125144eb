//! One UDP worker thread: its sockets, batches and the request handler.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoal_engine::{Announce, Engine, Family, PeerAddrV4, PeerAddrV6, Secs};
use shoal_protocol::common::canonical_ip;
use shoal_protocol::udp::{
    self, connection_id::ConnectionIdKeys, push_peers, push_scrape_stats, write_announce_header,
    write_connect_response, write_error_response, write_scrape_header, Request, ScrapeStats,
};

use shoal_engine::gate::{Ask, Gate, Verdict};
use shoal_engine::ratelimit::Action;
use shoal_protocol::route::route;

use crate::batch::{RecvBatch, SendBatch};
use crate::{Clock, UdpConfig, UdpStats};

/// Largest request we read: a 74-hash scrape is 1496 bytes; anything longer than this
/// buffer arrives truncated and is dropped.
const RECV_BUF_LEN: usize = 2048;

/// How often a worker wakes up to check for shutdown when idle.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// Batches served from one socket before the worker turns to its other sockets.
const ROUNDS_PER_TURN: usize = 8;

/// Most peers in one IPv4 reply: 20 + 200 × 6 = 1220 bytes, inside one 1280-byte packet.
pub(crate) const MAX_PEERS_V4: u32 = 200;
/// Most peers in one IPv6 reply: 20 + 66 × 18 = 1208 bytes.
pub(crate) const MAX_PEERS_V6: u32 = 66;

/// Counters kept locally and added to the shared ones once per batch, so workers do not
/// bounce a shared cache line on every datagram.
#[derive(Default)]
struct Local {
    received: u64,
    connects: u64,
    announces: u64,
    scrapes: u64,
    errors_sent: u64,
    dropped_malformed: u64,
    dropped_bad_connection_id: u64,
    denied: u64,
    rate_limited: u64,
    sent: u64,
    send_failures: u64,
}

impl Local {
    fn flush(&mut self, s: &UdpStats) {
        let add = |c: &AtomicU64, v: &mut u64| {
            if *v != 0 {
                c.fetch_add(*v, Ordering::Relaxed);
                *v = 0;
            }
        };
        add(&s.received, &mut self.received);
        add(&s.connects, &mut self.connects);
        add(&s.announces, &mut self.announces);
        add(&s.scrapes, &mut self.scrapes);
        add(&s.errors_sent, &mut self.errors_sent);
        add(&s.dropped_malformed, &mut self.dropped_malformed);
        add(
            &s.dropped_bad_connection_id,
            &mut self.dropped_bad_connection_id,
        );
        add(&s.denied, &mut self.denied);
        add(&s.rate_limited, &mut self.rate_limited);
        add(&s.sent, &mut self.sent);
        add(&s.send_failures, &mut self.send_failures);
    }
}

pub(crate) struct Worker {
    poll: mio::Poll,
    sockets: Vec<(mio::net::UdpSocket, bool)>,
    recv: RecvBatch,
    send: SendBatch,
    handler: Handler,
    stats: Arc<UdpStats>,
}

/// Turns one request datagram into at most one reply. Holds everything the decision
/// needs and nothing tied to sockets, so it is testable on its own.
pub(crate) struct Handler {
    gate: Arc<Gate>,
    engine: Arc<Engine>,
    keys: ConnectionIdKeys,
    clock: Clock,
    max_scrape_hashes: usize,
    soft_reject: bool,
    /// URLData gathered from an announce's options (private mode reads its passkey).
    url_data: Vec<u8>,
    /// The account of the last admitted request (private mode), for accounting.
    account: Option<(u32, bool)>,
    peers4: Vec<PeerAddrV4>,
    peers6: Vec<PeerAddrV6>,
    local: Local,
    now: Secs,
    unix: u64,
    millis: u64,
}

impl Worker {
    pub(crate) fn new(
        sockets: Vec<(mio::net::UdpSocket, bool)>,
        gate: Arc<Gate>,
        keys: ConnectionIdKeys,
        clock: Clock,
        stats: Arc<UdpStats>,
        config: &UdpConfig,
    ) -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        let mut sockets = sockets;
        for (i, (s, _)) in sockets.iter_mut().enumerate() {
            poll.registry()
                .register(s, mio::Token(i), mio::Interest::READABLE)?;
        }
        let reply_len = (udp::ANNOUNCE_RESPONSE_HEADER_LEN
            + (MAX_PEERS_V4 as usize * 6).max(MAX_PEERS_V6 as usize * 18))
        .max(8 + config.max_scrape_hashes * 12);
        Ok(Worker {
            poll,
            sockets,
            recv: RecvBatch::new(config.batch_size, RECV_BUF_LEN),
            send: SendBatch::new(config.batch_size, reply_len),
            handler: Handler::new(
                gate,
                keys,
                clock,
                config.max_scrape_hashes,
                config.soft_reject,
            ),
            stats,
        })
    }

    pub(crate) fn run(&mut self, shutdown: &AtomicBool) {
        let mut events = mio::Events::with_capacity(64);
        // mio is edge-triggered: a socket stays "readable" here until a receive finds it
        // empty. Sockets are served in turn, a few batches each, so one flooded socket
        // cannot starve the others or delay shutdown.
        let mut readable = vec![false; self.sockets.len()];
        while !shutdown.load(Ordering::Relaxed) {
            let timeout = if readable.contains(&true) {
                Duration::ZERO
            } else {
                POLL_TIMEOUT
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "udp poll failed");
                }
                continue;
            }
            for event in events.iter() {
                readable[event.token().0] = true;
            }
            for (i, flag) in readable.iter_mut().enumerate() {
                if *flag {
                    *flag = self.serve(i);
                }
            }
            self.handler.local.flush(&self.stats);
        }
        self.handler.local.flush(&self.stats);
    }

    /// Serves up to [`ROUNDS_PER_TURN`] batches from socket `i`; returns whether it may
    /// still have datagrams waiting.
    fn serve(&mut self, i: usize) -> bool {
        let (socket, v6) = &self.sockets[i];
        let fd = socket.as_raw_fd();
        let v6 = *v6;
        for _ in 0..ROUNDS_PER_TURN {
            let got = match self.recv.recv(fd) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "udp receive failed");
                    return false;
                }
            };
            self.handler.tick();
            let started = std::time::Instant::now();
            let n = self.recv.len();
            self.handler.local.received += got as u64;
            self.handler.local.dropped_malformed += (got - n) as u64;
            for k in 0..n {
                let (data, meta) = self.recv.get(k);
                if meta.truncated {
                    self.handler.local.dropped_malformed += 1;
                    continue;
                }
                let Some(out) = self.send.next_buf() else {
                    break;
                };
                if self.handler.handle(data, meta.src, out) {
                    self.send.commit(meta.src, meta.dst, v6);
                }
            }
            if !self.send.is_empty() {
                let o = self.send.flush(fd);
                self.handler.local.sent += o.sent as u64;
                self.handler.local.send_failures += (o.would_block + o.failed) as u64;
            }
            self.stats
                .latency
                .observe_n(started.elapsed().as_micros() as u64, n as u64);
        }
        true
    }
}

impl Handler {
    pub(crate) fn new(
        gate: Arc<Gate>,
        keys: ConnectionIdKeys,
        clock: Clock,
        max_scrape_hashes: usize,
        soft_reject: bool,
    ) -> Self {
        let engine = gate.engine().clone();
        let max_peers = engine.config().max_numwant as usize;
        let mut h = Handler {
            gate,
            engine,
            keys,
            clock,
            max_scrape_hashes: max_scrape_hashes.clamp(1, udp::MAX_SCRAPE_HASHES),
            soft_reject,
            url_data: Vec::new(),
            account: None,
            peers4: Vec::with_capacity(max_peers),
            peers6: Vec::with_capacity(max_peers),
            local: Local::default(),
            now: Secs(0),
            unix: 0,
            millis: 0,
        };
        h.tick();
        h
    }

    /// Asks the gate; counts what it refuses. A passkey comes only with an announce's
    /// URLData (BEP 41), read only when the gate wants one.
    fn check(
        &mut self,
        action: Action,
        ip: IpAddr,
        info_hash: Option<&shoal_engine::InfoHash>,
        options: Option<udp::AnnounceOptions<'_>>,
    ) -> Verdict {
        let has_url = self.gate.wants_passkey()
            && options.is_some_and(|o| o.url_data_into(&mut self.url_data));
        let passkey = has_url.then(|| route(&self.url_data).passkey()).flatten();
        // In private mode an admitted announce's traffic goes to its account.
        let (verdict, account) = self.gate.admit(&Ask {
            action,
            source: ip,
            info_hash,
            passkey,
            now_ms: self.millis,
        });
        self.account = account;
        match verdict {
            Verdict::Admit => {}
            Verdict::RateLimited => self.local.rate_limited += 1,
            Verdict::Refuse(_) => self.local.denied += 1,
        }
        verdict
    }

    /// Reads the clock once per batch.
    pub(crate) fn tick(&mut self) {
        self.millis = self.clock.millis();
        self.now = self.clock.engine_now();
        self.unix = self.clock.unix_now();
        self.keys.update(self.unix);
    }

    /// Handles one datagram from `src`; returns true if `out` holds a reply to send.
    pub(crate) fn handle(&mut self, data: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        let ip = canonical_ip(src.ip());
        let req = match Request::parse(data) {
            Ok(r) => r,
            Err(e) => {
                self.local.dropped_malformed += 1;
                return match e.answerable() {
                    Some((cid, tid)) if self.keys.is_valid(cid, ip, self.unix) => {
                        self.local.errors_sent += 1;
                        write_error_response(out, tid, error_text(&e));
                        true
                    }
                    _ => false,
                };
            }
        };
        match req {
            Request::Connect(c) => {
                // Over-limit sources are dropped silently: replying would spend the
                // bandwidth the limit is there to save.
                if self.check(Action::Connect, ip, None, None) != Verdict::Admit {
                    return false;
                }
                self.local.connects += 1;
                write_connect_response(out, c.transaction_id, self.keys.issue(ip, self.unix));
                true
            }
            Request::Announce(a) => {
                if !self.keys.is_valid(a.connection_id, ip, self.unix) {
                    self.local.dropped_bad_connection_id += 1;
                    return false;
                }
                match self.check(Action::Announce, ip, Some(&a.info_hash), Some(a.options)) {
                    Verdict::Admit => {}
                    Verdict::RateLimited => return false,
                    Verdict::Refuse(_) if self.soft_reject => {
                        // An empty swarm: the client backs off for an interval.
                        let interval = self.engine.config().announce_interval;
                        write_announce_header(out, a.transaction_id, interval, 0, 0);
                        return true;
                    }
                    Verdict::Refuse(r) => {
                        self.local.errors_sent += 1;
                        write_error_response(out, a.transaction_id, r.as_str());
                        return true;
                    }
                }
                if a.port == 0 {
                    self.local.errors_sent += 1;
                    write_error_response(out, a.transaction_id, "invalid port 0");
                    return true;
                }
                self.local.announces += 1;
                // The request's `ip` field is ignored: honouring it would let anyone
                // enter third parties into swarms.
                // Replies stay within one unfragmented packet whatever the client asks.
                let asked = if a.num_want < 0 {
                    self.engine.config().default_numwant
                } else {
                    a.num_want as u32
                };
                let refused = match ip {
                    IpAddr::V4(v4) => {
                        let peer = PeerAddrV4::new(v4, a.port);
                        let want = Some(asked.min(MAX_PEERS_V4));
                        let peers = &mut self.peers4;
                        announce(
                            &self.engine,
                            &a,
                            peer,
                            (want, self.account),
                            self.now,
                            peers,
                            out,
                        )
                    }
                    IpAddr::V6(v6) => {
                        let peer = PeerAddrV6::new(v6, a.port);
                        let want = Some(asked.min(MAX_PEERS_V6));
                        let peers = &mut self.peers6;
                        announce(
                            &self.engine,
                            &a,
                            peer,
                            (want, self.account),
                            self.now,
                            peers,
                            out,
                        )
                    }
                };
                self.local.errors_sent += u64::from(refused);
                true
            }
            Request::Scrape(s) => {
                if !self.keys.is_valid(s.connection_id, ip, self.unix) {
                    self.local.dropped_bad_connection_id += 1;
                    return false;
                }
                match self.check(Action::Scrape, ip, None, None) {
                    Verdict::Admit => {}
                    Verdict::RateLimited => return false,
                    Verdict::Refuse(r) => {
                        self.local.errors_sent += 1;
                        write_error_response(out, s.transaction_id, r.as_str());
                        return true;
                    }
                }
                self.local.scrapes += 1;
                write_scrape_header(out, s.transaction_id);
                for h in s.info_hashes().take(self.max_scrape_hashes) {
                    let st = self.engine.scrape(&h);
                    push_scrape_stats(
                        out,
                        ScrapeStats {
                            seeders: st.seeders,
                            completed: st.completed.min(u64::from(u32::MAX)) as u32,
                            leechers: st.leechers,
                        },
                    );
                }
                true
            }
        }
    }
}

/// Announces and writes the reply; returns true when the reply is an error (the engine
/// refused a new torrent).
fn announce<A: Family>(
    engine: &Engine,
    a: &udp::AnnounceRequest<'_>,
    peer: A,
    (num_want, account): (Option<u32>, Option<(u32, bool)>),
    now: Secs,
    peers: &mut Vec<A>,
    out: &mut Vec<u8>,
) -> bool {
    let req = Announce {
        info_hash: a.info_hash,
        peer,
        peer_id: a.peer_id,
        event: a.event,
        left: a.left,
        num_want,
        paused: false,
    };
    let o = match account {
        Some((user, may_leech)) => {
            let account = shoal_engine::accounting::Account {
                user,
                uploaded: a.uploaded,
                downloaded: a.downloaded,
                may_leech,
            };
            engine.announce_account(&req, &account, now, peers, None)
        }
        None => engine.announce(&req, now, peers),
    };
    if let Some(
        r @ (shoal_engine::Rejection::TooManyTorrents
        | shoal_engine::Rejection::TorrentCreationRate
        | shoal_engine::Rejection::RatioTooLow),
    ) = o.rejected
    {
        write_error_response(out, a.transaction_id, r.as_str());
        return true;
    }
    write_announce_header(out, a.transaction_id, o.interval, o.leechers, o.seeders);
    push_peers(out, peers);
    false
}

fn error_text(e: &udp::RequestParseError) -> &'static str {
    match e {
        udp::RequestParseError::UnknownAction { .. } => "unknown action",
        udp::RequestParseError::BadEvent { .. } => "unknown event",
        udp::RequestParseError::BadScrape { .. } => "bad scrape request",
        _ => "bad request",
    }
}

#[cfg(test)]
mod tests;

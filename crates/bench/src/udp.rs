//! UDP load: many source addresses (127.0.0.0/8 or ::1), a window of requests in flight
//! per socket, connection ids refreshed as BEP 15 clients do.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use shoal_protocol::udp::{
    AnnounceOptions, AnnounceRequest, ConnectRequest, ConnectionId, Request, ScrapeRequest,
    TransactionId,
};
use shoal_protocol::{AnnounceEvent, InfoHash, PeerId};

use crate::model::{info_hash, Action, Event, Population, Rng};
use crate::report::Tally;
use crate::validate::{udp as check, UdpAsk, Verdict};
use crate::Load;

/// One source address with its own slice of the population, so a simulated peer always
/// announces from the same address and port.
struct Source {
    pop: Population,
    rng: Rng,
    done: bool,
    socket: UdpSocket,
    connection: Option<(ConnectionId, Instant)>,
    connecting: bool,
    inflight: HashMap<[u8; 4], (Instant, UdpAsk)>,
}

fn source_ip(target: SocketAddr, i: usize) -> IpAddr {
    match target {
        // 127.0.0.0/8 is all loopback: spread sources over 127.0.1.x ... so the tracker
        // sees many clients.
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            1 + (i / 250) as u8,
            1 + (i % 250) as u8,
        )),
        SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

/// Runs one worker's share of the load.
pub fn run(load: &Load, worker: usize, deadline: Instant, budget: u64) -> std::io::Result<Tally> {
    let v6 = load.target.is_ipv6();
    let per_worker = load.sources.max(1);
    let total_sources = per_worker * load.workers;
    let mut sources = Vec::new();
    for i in 0..per_worker {
        let global = worker * per_worker + i;
        let ip = source_ip(load.target, global);
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        socket.connect(load.target)?;
        socket.set_nonblocking(true)?;
        let mut rng = Rng::new(load.seed ^ (global as u64 + 1).wrapping_mul(0x9e37_79b9));
        let peers = load.peers.div_ceil(total_sources).max(1);
        let mut pop = Population::new(
            load.torrents,
            peers,
            load.zipf,
            load.seeders,
            load.scrapes,
            &mut rng,
        )
        .first_torrent(load.first_torrent);
        if load.fill {
            pop.fill(global, total_sources, load.torrents);
        }
        sources.push(Source {
            pop,
            rng,
            done: false,
            socket,
            connection: None,
            connecting: false,
            inflight: HashMap::new(),
        });
    }
    let mut tally = Tally::default();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(128);
    let timeout = Duration::from_secs(2);
    let mut tid_counter: u32 = (worker as u32) << 24;
    while Instant::now() < deadline || sources.iter().any(|s| !s.inflight.is_empty()) {
        let sending =
            Instant::now() < deadline && tally.sent < budget && sources.iter().any(|s| !s.done);
        if !sending && sources.iter().all(|s| s.inflight.is_empty()) {
            break;
        }
        let now = Instant::now();
        for s in sources.iter_mut() {
            // Receive whatever arrived.
            loop {
                let n = match s.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                if n < 8 {
                    tally.invalid += 1;
                    continue;
                }
                let key = [buf[4], buf[5], buf[6], buf[7]];
                let Some((sent, ask)) = s.inflight.remove(&key) else {
                    tally.invalid += 1; // an answer to nothing we asked
                    continue;
                };
                let v = check(&buf[..n], TransactionId(key), ask);
                if let (Verdict::Connected(cid), UdpAsk::Connect) = (v, ask) {
                    s.connection = Some((ConnectionId(cid), Instant::now()));
                    s.connecting = false;
                } else if ask == UdpAsk::Connect {
                    s.connecting = false;
                }
                tally.record(v, sent.elapsed());
            }
            // Expire what will not be answered.
            let before = s.inflight.len();
            s.inflight
                .retain(|_, (sent, _)| now.duration_since(*sent) < timeout);
            let expired = before - s.inflight.len();
            tally.timeouts += expired as u64;
            // A lost connect: allow a new one.
            if expired > 0
                && s.connecting
                && !s.inflight.values().any(|(_, a)| *a == UdpAsk::Connect)
            {
                s.connecting = false;
            }
            if !sending || s.done {
                continue;
            }
            // BEP 15: a connection id is good for a minute on the client side.
            if s.connection
                .is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(55))
            {
                s.connection = None;
            }
            while s.inflight.len() < load.window && tally.sent < budget {
                tid_counter = tid_counter.wrapping_add(1);
                let tid = TransactionId(tid_counter.to_be_bytes());
                out.clear();
                let ask = match s.connection {
                    None if s.connecting => break,
                    None => {
                        s.connecting = true;
                        Request::Connect(ConnectRequest {
                            transaction_id: tid,
                        })
                        .write(&mut out);
                        UdpAsk::Connect
                    }
                    Some((cid, _)) => match s.pop.next(&mut s.rng) {
                        None => {
                            s.done = true;
                            break;
                        }
                        Some(Action::Scrape { torrent }) => {
                            let h = info_hash(torrent);
                            Request::Scrape(ScrapeRequest::new(cid, tid, &h).expect("one hash"))
                                .write(&mut out);
                            UdpAsk::Scrape { hashes: 1 }
                        }
                        Some(Action::Announce {
                            peer,
                            torrent,
                            event,
                            left,
                        }) => {
                            let mut pid = [b'0'; 20];
                            pid[..8].copy_from_slice(b"-SB0100-");
                            pid[8..16].copy_from_slice(&(peer as u64).to_be_bytes());
                            Request::Announce(AnnounceRequest {
                                connection_id: cid,
                                transaction_id: tid,
                                info_hash: InfoHash(info_hash(torrent)),
                                peer_id: PeerId(pid),
                                downloaded: 0,
                                left,
                                uploaded: 0,
                                event: match event {
                                    Event::Started => AnnounceEvent::Started,
                                    Event::None => AnnounceEvent::None,
                                    Event::Completed => AnnounceEvent::Completed,
                                    Event::Stopped => AnnounceEvent::Stopped,
                                },
                                ip: [0; 4],
                                key: peer as u32,
                                num_want: load.numwant as i32,
                                // A simulated peer: this source's address and its own port.
                                port: 1024 + (peer % 60_000) as u16,
                                options: AnnounceOptions(
                                    load.url_options
                                        .get(peer % load.url_options.len().max(1))
                                        .map_or(&[][..], Vec::as_slice),
                                ),
                            })
                            .write(&mut out);
                            UdpAsk::Announce {
                                v6,
                                numwant: load.numwant,
                            }
                        }
                    },
                };
                match s.socket.send(&out) {
                    Ok(_) => {
                        tally.sent += 1;
                        s.inflight.insert(tid.0, (Instant::now(), ask));
                    }
                    Err(_) => {
                        if ask == UdpAsk::Connect {
                            s.connecting = false;
                        }
                        break;
                    }
                }
            }
        }
        std::thread::yield_now();
    }
    Ok(tally)
}

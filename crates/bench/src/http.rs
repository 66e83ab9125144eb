//! HTTP load: one connection per thread, kept alive or opened per request, each from its
//! own loopback source address.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::model::{info_hash, Action, Event, Population, Rng};
use crate::report::Tally;
use crate::validate::{http as check, Verdict};
use crate::Load;

fn connect(target: SocketAddr, source: IpAddr) -> std::io::Result<TcpStream> {
    let domain = if target.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    s.bind(&SocketAddr::new(source, 0).into())?;
    s.connect_timeout(&target.into(), Duration::from_secs(2))?;
    s.set_nodelay(true)?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    Ok(s)
}

fn pct(bytes: &[u8], out: &mut String) {
    for b in bytes {
        out.push_str(&format!("%{b:02X}"));
    }
}

/// Reads one response; returns (status, body).
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u16, Vec<u8>)> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).ok()?;
            let status: u16 = head.get(9..12)?.parse().ok()?;
            let len: usize = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })?;
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some((status, buf[end + 4..end + 4 + len].to_vec()));
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Runs one connection's worth of load.
pub fn run(load: &Load, worker: usize, deadline: Instant, budget: u64) -> Tally {
    let mut rng = Rng::new(load.seed ^ (worker as u64 + 1).wrapping_mul(0x9e37_79b9));
    let mut pop = Population::new(
        load.torrents,
        load.peers,
        load.zipf,
        load.seeders,
        load.scrapes,
        &mut rng,
    )
    .first_torrent(load.first_torrent);
    let source = match load.target {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            2 + (worker / 250) as u8,
            1 + (worker % 250) as u8,
        )),
        SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    };
    let mut tally = Tally::default();
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    let close = if load.keepalive {
        ""
    } else {
        "Connection: close\r\n"
    };
    while Instant::now() < deadline && tally.sent < budget {
        let Some(action) = pop.next(&mut rng) else {
            break;
        };
        let (path, numwant) = match action {
            Action::Scrape { torrent } => {
                let mut p = String::from("/scrape?info_hash=");
                pct(&info_hash(torrent), &mut p);
                (p, None)
            }
            Action::Announce {
                peer,
                torrent,
                event,
                left,
            } => {
                let mut p = String::from("/announce?info_hash=");
                pct(&info_hash(torrent), &mut p);
                p.push_str(&format!(
                    "&peer_id=-SB0100-{peer:012}&port={}&uploaded=0&downloaded=0&left={left}&compact=1&numwant={}&key={peer:x}",
                    1024 + peer % 60_000,
                    load.numwant
                ));
                match event {
                    Event::Started => p.push_str("&event=started"),
                    Event::Completed => p.push_str("&event=completed"),
                    Event::Stopped => p.push_str("&event=stopped"),
                    Event::None => {}
                }
                (p, Some(load.numwant))
            }
        };
        let req = format!("GET {path} HTTP/1.1\r\nHost: tracker\r\n{close}\r\n");
        let started = Instant::now();
        if conn.is_none() {
            match connect(load.target, source) {
                Ok(s) => conn = Some(s),
                Err(_) => {
                    tally.timeouts += 1;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let s = conn.as_mut().expect("connected above");
        tally.sent += 1;
        if s.write_all(req.as_bytes()).is_err() {
            tally.timeouts += 1;
            conn = None;
            continue;
        }
        match read_response(s, &mut buf) {
            Some((200, body)) => tally.record(check(&body, numwant), started.elapsed()),
            Some(_) => tally.record(Verdict::Invalid, started.elapsed()),
            None => {
                tally.timeouts += 1;
                conn = None;
                continue;
            }
        }
        if !load.keepalive {
            conn = None;
        }
    }
    tally
}

//! Turns one HTTP request into a status, a content type and a body: routing, client
//! address, and the tracker's announce and scrape. No sockets here.

use std::net::IpAddr;

use shoal_engine::gate::{Ask, Gate, Verdict};
use shoal_engine::ratelimit::Action;
use shoal_engine::{Announce, Engine, Family, PeerAddrV4, PeerAddrV6, Secs};
use shoal_protocol::common::canonical_ip;
use shoal_protocol::http::{
    scrape_hashes, write_announce_response, write_failure, write_scrape_response, AnnounceCounts,
    AnnounceQuery, HttpEvent, PeerListStyle, ScrapeFile,
};
use shoal_protocol::{InfoHash, PeerId};

use crate::{Cidr, HttpConfig, HttpStats};

/// What the connection loop needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The request target's path (before `?`).
    pub path: &'a [u8],
    /// The query string (after `?`), possibly empty.
    pub query: &'a [u8],
    /// The socket peer's address.
    pub peer: IpAddr,
    /// `X-Forwarded-For` header values, in order.
    pub forwarded_for: &'a [&'a [u8]],
    /// The `X-Real-IP` header value.
    pub real_ip: Option<&'a [u8]>,
    /// The `Authorization` header value.
    pub authorization: Option<&'a [u8]>,
    /// Headers the web UI reads: `Accept-Language`, `Cookie`, `Host`.
    pub web: WebHeaders<'a>,
    /// The request method (GET, HEAD, POST or DELETE).
    pub method: &'a str,
    /// The request body (empty for GET).
    pub body: &'a [u8],
}

/// A request for [`Routes`].
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// GET, HEAD, POST or DELETE.
    pub method: &'a str,
    /// The path, before `?`.
    pub path: &'a [u8],
    /// The query string.
    pub query: &'a [u8],
    /// The client's address (after trusted-proxy resolution).
    pub client: IpAddr,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a [u8]>,
    /// `Accept-Language`, `Cookie` and `Host`.
    pub web: WebHeaders<'a>,
    /// The request body.
    pub body: &'a [u8],
}

/// The headers a web page's rendering depends on, and how the request came.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebHeaders<'a> {
    /// `Accept-Language`.
    pub accept_language: Option<&'a [u8]>,
    /// `Cookie`.
    pub cookie: Option<&'a [u8]>,
    /// `Host`.
    pub host: Option<&'a [u8]>,
    /// `Content-Type` (of a form's body).
    pub content_type: Option<&'a [u8]>,
    /// `X-Forwarded-Proto` (believed only from `trusted_proxies`).
    pub forwarded_proto: Option<&'a [u8]>,
    /// Whether the request came over TLS (the site's cookies are then `Secure`): to this
    /// listener, or, as [`ApiRequest`] says it, to a trusted proxy that says so.
    pub https: bool,
}

/// A response's status line, content type and extra headers; the body is in the
/// caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Extra header lines, each ending in CRLF (empty for none).
    pub headers: &'static str,
    /// Header lines made for this answer (the site's `Set-Cookie`, `Location`), each
    /// ending in CRLF. Empty for the tracker's answers, which so allocate nothing.
    pub owned_headers: String,
}

impl Reply {
    /// A reply with no extra headers.
    pub const fn new(status: u16, content_type: &'static str) -> Reply {
        Reply {
            status,
            content_type,
            headers: "",
            owned_headers: String::new(),
        }
    }
}

const TRACKER: Reply = Reply::new(200, "text/plain");

/// Reusable per-connection scratch space so handling allocates nothing in steady state.
#[derive(Default)]
pub struct Scratch {
    peers4: Vec<PeerAddrV4>,
    peers6: Vec<PeerAddrV6>,
    ids: Vec<PeerId>,
    hashes: Vec<InfoHash>,
    files: Vec<ScrapeFile>,
}

/// Paths beyond the tracker's own (metrics, JSON API, web UI), answered by whoever
/// embeds the front end.
pub trait Routes: Send + Sync + 'static {
    /// Answers `req` into `body`, or `None` for 404.
    fn route(&self, req: &ApiRequest<'_>, body: &mut Vec<u8>) -> Option<Reply>;

    /// Whether answering `method path` may wait (on a store write, say): the front end
    /// then runs it where waiting does not hold up other connections.
    fn may_block(&self, method: &str, path: &[u8]) -> bool {
        let _ = (method, path);
        false
    }

    /// The largest body a `POST` to `path` may carry (an upload form); bodies above the
    /// front end's own small bound also need one of its few large-body slots.
    fn max_body(&self, path: &[u8]) -> usize {
        let _ = path;
        crate::conn::MAX_BODY
    }
}

pub use shoal_engine::gate::FullScrapeLimiter;
pub use shoal_protocol::route::{route, Route};

/// The client's address: the socket peer, or — when the peer is a trusted proxy — the
/// rightmost `X-Forwarded-For` entry that is not itself a trusted proxy, else
/// `X-Real-IP`. IPv4-mapped IPv6 addresses are treated as IPv4.
pub fn client_ip(info: &RequestInfo<'_>, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical_ip(info.peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let parse = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
            .map(canonical_ip)
    };
    for value in info.forwarded_for.iter().rev() {
        for entry in value.rsplit(|&b| b == b',') {
            match parse(entry) {
                Some(ip) if !is_trusted(ip) => return ip,
                Some(_) => continue,
                None => break,
            }
        }
    }
    info.real_ip.and_then(parse).unwrap_or(peer)
}

/// Whether the client reached us over TLS: this listener's own, or a trusted proxy's
/// (`X-Forwarded-Proto: https` from a peer in `trusted`).
pub fn came_over_tls(info: &RequestInfo<'_>, trusted: &[Cidr]) -> bool {
    info.web.https
        || (info
            .web
            .forwarded_proto
            .is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(b"https"))
            && trusted.iter().any(|c| c.contains(canonical_ip(info.peer))))
}

/// Writes the failure for a verdict other than admit; returns whether it was one.
fn refused(
    verdict: Verdict,
    ask: &Ask<'_>,
    stats: &HttpStats,
    interval: u32,
    body: &mut Vec<u8>,
) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    match verdict {
        Verdict::Admit => return false,
        Verdict::RateLimited => stats.rate_limited.fetch_add(1, Relaxed),
        Verdict::Refuse(_) => stats.failures.fetch_add(1, Relaxed),
    };
    write_failure(body, verdict.reason(ask.action), interval);
    true
}

/// Most torrents in one full scrape response.
const MAX_FULL_SCRAPE_TORRENTS: usize = 1_000_000;

/// Answers one request: writes the body into `body` (cleared first).
#[allow(clippy::too_many_arguments)]
pub fn handle(
    config: &HttpConfig,
    gate: &Gate,
    stats: &HttpStats,
    routes: Option<&dyn Routes>,
    now: Secs,
    now_ms: u64,
    info: &RequestInfo<'_>,
    scratch: &mut Scratch,
    body: &mut Vec<u8>,
) -> Reply {
    use std::sync::atomic::Ordering::Relaxed;
    body.clear();
    let engine: &Engine = gate.engine();
    let route = match route(info.path) {
        // A listener without the tracker hands every path to `routes`.
        Route::Announce(_) | Route::Scrape(_) if !config.tracker => Route::NotFound,
        r => r,
    };
    if !matches!(route, Route::NotFound) && !matches!(info.method, "GET" | "HEAD") {
        stats.bad_requests.fetch_add(1, Relaxed);
        body.extend_from_slice(b"tracker endpoints answer GET only\n");
        return Reply::new(405, "text/plain");
    }
    match route {
        Route::Announce(passkey) => {
            let interval = engine.config().announce_interval;
            let q = match AnnounceQuery::parse(info.query) {
                Ok(q) => q,
                Err(e) => {
                    stats.failures.fetch_add(1, Relaxed);
                    write_failure(body, &e.to_string(), interval);
                    return TRACKER;
                }
            };
            let client = client_ip(info, &config.trusted_proxies);
            let ask = Ask {
                action: Action::Announce,
                source: client,
                info_hash: Some(&q.info_hash),
                passkey,
                now_ms,
            };
            // In private mode the traffic goes to the passkey's account.
            let (verdict, account) = gate.admit(&ask);
            if refused(verdict, &ask, stats, interval, body) {
                return TRACKER;
            }
            let mut ip = client;
            if config.allow_ip_param {
                if let Some(p) = q.ip.and_then(|b| std::str::from_utf8(b).ok()?.parse().ok()) {
                    ip = canonical_ip(p);
                }
            }
            stats.announces.fetch_add(1, Relaxed);
            announce(engine, &q, ip, account, now, scratch, body);
            TRACKER
        }
        Route::Scrape(passkey) => {
            let interval = engine.config().announce_interval;
            if let Err(e) = scrape_hashes(info.query, config.max_scrape_hashes, &mut scratch.hashes)
            {
                stats.failures.fetch_add(1, Relaxed);
                write_failure(body, &e.to_string(), interval);
                return TRACKER;
            }
            let ask = Ask {
                action: Action::Scrape,
                source: client_ip(info, &config.trusted_proxies),
                info_hash: None,
                passkey,
                now_ms,
            };
            if refused(gate.check(&ask), &ask, stats, interval, body) {
                return TRACKER;
            }
            scratch.files.clear();
            if scratch.hashes.is_empty() {
                if !config.full_scrape {
                    stats.failures.fetch_add(1, Relaxed);
                    write_failure(
                        body,
                        "full scrape is disabled: name info_hash values",
                        interval,
                    );
                    return TRACKER;
                }
                let ip = client_ip(info, &config.trusted_proxies);
                if !gate.full_scrape(ip, now, config.full_scrape_interval) {
                    stats.failures.fetch_add(1, Relaxed);
                    write_failure(
                        body,
                        "full scrape allowed once per full_scrape_interval",
                        config.full_scrape_interval,
                    );
                    return TRACKER;
                }
                stats.scrapes.fetch_add(1, Relaxed);
                let mut all = Vec::new();
                engine.scrape_all(&mut all, MAX_FULL_SCRAPE_TORRENTS);
                scratch
                    .files
                    .extend(all.into_iter().map(|(h, s)| ScrapeFile {
                        info_hash: h,
                        complete: s.seeders,
                        downloaded: s.completed,
                        incomplete: s.leechers,
                        downloaders: s.downloaders,
                    }));
                write_scrape_response(body, &mut scratch.files, Some(config.full_scrape_interval));
                // Do not keep a full scrape's worth of memory in the connection.
                scratch.files = Vec::new();
                return TRACKER;
            }
            stats.scrapes.fetch_add(1, Relaxed);
            for h in &scratch.hashes {
                let s = engine.scrape(h);
                scratch.files.push(ScrapeFile {
                    info_hash: *h,
                    complete: s.seeders,
                    downloaded: s.completed,
                    incomplete: s.leechers,
                    downloaders: s.downloaders,
                });
            }
            write_scrape_response(body, &mut scratch.files, Some(interval / 2));
            TRACKER
        }
        Route::Health => {
            body.extend_from_slice(b"ok\n");
            TRACKER
        }
        Route::NotFound => {
            if let Some(routes) = routes {
                let req = ApiRequest {
                    method: info.method,
                    path: info.path,
                    query: info.query,
                    client: client_ip(info, &config.trusted_proxies),
                    authorization: info.authorization,
                    web: WebHeaders {
                        https: came_over_tls(info, &config.trusted_proxies),
                        ..info.web
                    },
                    body: info.body,
                };
                if let Some(reply) = routes.route(&req, body) {
                    return reply;
                }
                body.clear();
            }
            stats.bad_requests.fetch_add(1, Relaxed);
            body.extend_from_slice(b"not found\n");
            Reply::new(404, "text/plain")
        }
    }
}

fn announce(
    engine: &Engine,
    q: &AnnounceQuery<'_>,
    ip: IpAddr,
    account: Option<(u32, bool)>,
    now: Secs,
    scratch: &mut Scratch,
    body: &mut Vec<u8>,
) {
    let style = if q.compact {
        PeerListStyle::Compact
    } else {
        PeerListStyle::Dictionary
    };
    // Peer ids only matter in dictionary lists the client did not ask to strip.
    let with_ids = !q.compact && !q.no_peer_id;
    scratch.peers4.clear();
    scratch.peers6.clear();
    scratch.ids.clear();
    let ids = with_ids.then_some(&mut scratch.ids);
    let v4_bytes;
    let v6_bytes;
    let (o, ext): (_, &[u8]) = match ip {
        IpAddr::V4(v4) => {
            let peer = PeerAddrV4::new(v4, q.port);
            let o = run(engine, q, peer, account, now, &mut scratch.peers4, ids);
            v4_bytes = v4.octets();
            (o, &v4_bytes)
        }
        IpAddr::V6(v6) => {
            let peer = PeerAddrV6::new(v6, q.port);
            let o = run(engine, q, peer, account, now, &mut scratch.peers6, ids);
            v6_bytes = v6.octets();
            (o, &v6_bytes)
        }
    };
    let counts = AnnounceCounts {
        interval: o.interval,
        min_interval: o.interval / 2,
        complete: o.seeders,
        incomplete: o.leechers,
        downloaded: o.completed,
        external_ip: Some(ext),
        tracker_id: None,
        warning: None,
    };
    if let Some(
        r @ (shoal_engine::Rejection::TooManyTorrents
        | shoal_engine::Rejection::TorrentCreationRate
        | shoal_engine::Rejection::RatioTooLow),
    ) = o.rejected
    {
        write_failure(body, r.as_str(), o.interval);
        return;
    }
    let ids = (with_ids && !scratch.ids.is_empty()).then_some(&scratch.ids[..]);
    write_announce_response(body, &counts, style, &scratch.peers4, &scratch.peers6, ids);
}

fn run<A: Family>(
    engine: &Engine,
    q: &AnnounceQuery<'_>,
    peer: A,
    account: Option<(u32, bool)>,
    now: Secs,
    out: &mut Vec<A>,
    ids: Option<&mut Vec<PeerId>>,
) -> shoal_engine::AnnounceOutcome {
    let req = Announce {
        info_hash: q.info_hash,
        peer,
        peer_id: q.peer_id,
        event: q.event.to_event(),
        left: q.left,
        num_want: q.numwant,
        paused: q.event == HttpEvent::Paused,
    };
    if let Some((user, may_leech)) = account {
        let account = shoal_engine::accounting::Account {
            user,
            uploaded: q.uploaded,
            downloaded: q.downloaded,
            may_leech,
        };
        return engine.announce_account(&req, &account, now, out, ids);
    }
    match ids {
        Some(ids) => engine.announce_with_ids(&req, now, out, ids),
        None => engine.announce(&req, now, out),
    }
}

#[cfg(test)]
mod tests;

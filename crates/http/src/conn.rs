//! One HTTP/1.1 connection: keep-alive, pipelining, limits.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::handler::{handle, Reply, RequestInfo, Scratch};
use crate::Shared;

/// Upper bound of the `max_headers` setting (the parse array lives on the stack).
pub(crate) const MAX_HEADERS: usize = 64;

/// Largest request body accepted (admin API JSON); larger gets 413.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Connections that may be reading a body larger than [`MAX_BODY`] (a `.torrent`
/// upload) at once, over the whole front end; others get 503 until one finishes.
pub(crate) const MAX_LARGE_BODIES: usize = 4;

/// One of the [`MAX_LARGE_BODIES`] slots, given back when dropped.
struct LargeBody(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl LargeBody {
    fn take(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Option<LargeBody> {
        count
            .fetch_update(Relaxed, Relaxed, |n| {
                (n < MAX_LARGE_BODIES).then_some(n + 1)
            })
            .ok()
            .map(|_| LargeBody(count.clone()))
    }
}

impl Drop for LargeBody {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Most `X-Forwarded-For` headers considered.
const MAX_FORWARDED: usize = 8;

/// Unsent response bytes past which a connection answers no further pipelined request
/// until they are written: a client that sends and never reads holds at most this plus
/// one response, not one response per request it queued.
pub(crate) const OUT_HIGH_WATER: usize = 64 * 1024;

/// Most requests answered before the connection writes and yields to others; the rest
/// of a pipelined batch waits in the (bounded) request buffer.
pub(crate) const MAX_PIPELINED: usize = 32;

/// What one [`Conn::process`] pass left to do.
#[derive(Debug, Clone, Copy, Default)]
struct Pass {
    /// Close once `out` is written.
    close: bool,
    /// Complete requests may remain in the buffer: write, then process again before
    /// reading more.
    more: bool,
}

enum Next {
    KeepAlive,
    Close,
    /// Switched to WebSocket: the rest of the bytes belong to the WebTorrent session.
    Upgrade(crate::ws::Upgrade),
}

/// A connection's buffers: what was read and not yet answered, and answers not yet
/// written.
pub(crate) struct Conn {
    buf: Vec<u8>,
    out: Vec<u8>,
    body: Vec<u8>,
    scratch: Scratch,
    /// Set once a request switched the connection to WebSocket.
    upgrade: Option<crate::ws::Upgrade>,
    /// Whether the connection is TLS (HTTPS).
    tls: bool,
    /// Held while a body larger than [`MAX_BODY`] arrives.
    large: Option<LargeBody>,
}

impl Conn {
    pub(crate) fn new() -> Self {
        Conn {
            buf: Vec::with_capacity(1024),
            out: Vec::with_capacity(1024),
            body: Vec::with_capacity(512),
            scratch: Scratch::default(),
            upgrade: None,
            tls: false,
            large: None,
        }
    }

    /// Answers the complete requests in the buffer (pipelining), appending the responses
    /// to `out`, until [`MAX_PIPELINED`] requests or [`OUT_HIGH_WATER`] bytes of output.
    fn process(&mut self, peer: SocketAddr, shared: &Shared) -> Pass {
        let cfg = &shared.config;
        let max_headers = cfg.max_headers.clamp(1, MAX_HEADERS);
        let mut consumed = 0;
        let mut close = false;
        let mut answered = 0;
        let mut more = false;
        // Whether the unanswered bytes are a complete head waiting for its body (which
        // is bounded by MAX_BODY) rather than an unfinished head (bounded by
        // max_request_bytes).
        let mut waiting_for_body = false;
        while consumed < self.buf.len() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers[..max_headers]);
            match req.parse(&self.buf[consumed..]) {
                Ok(httparse::Status::Complete(n)) => {
                    // Uploads may be larger than other bodies (the routes say where).
                    let limit = match (req.method, req.path, &shared.routes) {
                        (Some("POST"), Some(p), Some(routes)) => {
                            let path = p.split('?').next().unwrap_or(p);
                            routes.max_body(path.as_bytes()).max(MAX_BODY)
                        }
                        _ => MAX_BODY,
                    };
                    let length = match body_length(req.headers, limit) {
                        Ok(l) => l,
                        Err((status, text)) => {
                            simple(&mut self.out, status, text, true);
                            shared.stats.bad_requests.fetch_add(1, Relaxed);
                            close = true;
                            break;
                        }
                    };
                    if length > MAX_BODY && self.large.is_none() {
                        self.large = LargeBody::take(&shared.large_bodies);
                        if self.large.is_none() {
                            simple(&mut self.out, 503, "busy: too many uploads at once\n", true);
                            close = true;
                            break;
                        }
                    }
                    let start = consumed + n;
                    if self.buf.len() < start + length {
                        waiting_for_body = true;
                        break;
                    }
                    let request_body = &self.buf[start..start + length];
                    consumed = start + length;
                    let next = respond(
                        &req,
                        request_body,
                        peer,
                        self.tls,
                        shared,
                        &mut self.scratch,
                        &mut self.body,
                        &mut self.out,
                    );
                    self.large = None;
                    answered += 1;
                    match next {
                        Next::KeepAlive => {
                            if answered >= MAX_PIPELINED || self.out.len() >= OUT_HIGH_WATER {
                                more = consumed < self.buf.len();
                                break;
                            }
                        }
                        Next::Close => {
                            close = true;
                            break;
                        }
                        Next::Upgrade(u) => {
                            self.upgrade = Some(u);
                            break;
                        }
                    }
                }
                Ok(httparse::Status::Partial) => break,
                Err(e) => {
                    let status = if e == httparse::Error::TooManyHeaders {
                        431
                    } else {
                        400
                    };
                    simple(&mut self.out, status, "bad request\n", true);
                    shared.stats.bad_requests.fetch_add(1, Relaxed);
                    close = true;
                    break;
                }
            }
        }
        self.buf.drain(..consumed);
        if self.upgrade.is_some() {
            return Pass::default();
        }
        if !close && !more && !waiting_for_body && self.buf.len() >= cfg.max_request_bytes {
            simple(&mut self.out, 431, "request too large\n", true);
            shared.stats.bad_requests.fetch_add(1, Relaxed);
            close = true;
        }
        Pass { close, more }
    }
}

/// What [`try_inline`] managed.
pub(crate) enum Inline {
    /// The connection was answered and closed (or failed): nothing left to do.
    Done,
    /// More is needed (an incomplete request, keep-alive, a full send buffer): continue
    /// with [`serve`] on the returned stream and the connection's buffers.
    Continue(std::net::TcpStream),
}

/// Serves a freshly accepted plain-TCP connection without registering it with epoll
/// when its whole request has already arrived: read, answer, write, close. Typical for
/// trackers whose clients send one request per connection. Runs in the connection's own
/// task, never in the accept loop.
pub(crate) fn try_inline(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    conn: &mut Conn,
) -> Inline {
    use std::io::{ErrorKind, Read, Write};
    let mut chunk = [0u8; 4096];
    match (&stream).read(&mut chunk) {
        Ok(0) => return Inline::Done,
        Ok(n) => conn.buf.extend_from_slice(&chunk[..n]),
        Err(e) if e.kind() == ErrorKind::WouldBlock => return Inline::Continue(stream),
        Err(_) => return Inline::Done,
    }
    let pass = conn.process(peer, shared);
    if !conn.out.is_empty() {
        match (&stream).write(&conn.out) {
            Ok(n) => {
                conn.out.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return Inline::Done,
        }
    }
    if pass.close && conn.out.is_empty() {
        Inline::Done
    } else {
        Inline::Continue(stream)
    }
}

pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
    tls: bool,
    mut conn: Conn,
) {
    let cfg = &shared.config;
    let mut started: Option<Instant> = None;
    conn.tls = tls;
    // Buffers may arrive pre-filled from `try_inline`.
    let mut close = false;
    loop {
        let mut more = false;
        if !conn.buf.is_empty() && !close && conn.upgrade.is_none() {
            let pass = conn.process(peer, shared);
            (close, more) = (pass.close, pass.more);
        }
        if !conn.out.is_empty() {
            match timeout(cfg.request_timeout, stream.write_all(&conn.out)).await {
                Ok(Ok(())) => conn.out.clear(),
                _ => return,
            }
        }
        if let Some(upgrade) = conn.upgrade.take() {
            // The HTTP buffers go; only bytes already read for the WebSocket stay.
            let leftover = std::mem::take(&mut conn.buf);
            drop(conn);
            // Boxed: HTTP connections do not carry the WebSocket session's state.
            Box::pin(crate::ws::session(stream, leftover, upgrade, shared, stop)).await;
            return;
        }
        if close {
            // TLS needs its close_notify; plain TCP just closes (one syscall fewer).
            if tls {
                let _ = stream.shutdown().await;
            }
            return;
        }
        if more {
            // The rest of a pipelined batch is answered before anything more is read,
            // after letting other connections run.
            tokio::task::yield_now().await;
            continue;
        }
        started = if conn.buf.is_empty() {
            None
        } else {
            started.or(Some(Instant::now()))
        };
        // Idle connections wait up to idle_timeout; a started request must complete
        // within request_timeout (slow clients are cut off).
        let wait = match started {
            None => cfg.idle_timeout,
            Some(t) => cfg.request_timeout.saturating_sub(t.elapsed()),
        };
        // Read straight into the request buffer (no chunk kept in the task).
        conn.buf.reserve(1024);
        let read = tokio::select! {
            r = timeout(wait, stream.read_buf(&mut conn.buf)) => r,
            _ = stop.changed(), if started.is_none() => return,
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => {
                if started.is_some() {
                    shared.stats.bad_requests.fetch_add(1, Relaxed);
                    conn.out.clear();
                    simple(&mut conn.out, 408, "request timeout\n", true);
                    let _ = timeout(cfg.request_timeout, stream.write_all(&conn.out)).await;
                }
                return;
            }
        }
    }
}

/// Handles one parsed request, appending the response to `out`.
/// The request body's length from its headers: `Content-Length` only (chunked bodies
/// are refused), at most `limit`.
fn body_length(
    headers: &[httparse::Header<'_>],
    limit: usize,
) -> Result<usize, (u16, &'static str)> {
    let mut length = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err((411, "send a Content-Length, not a chunked body\n"));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            // Digits only (RFC 9110 §8.6): `+3` or `-0` parse as numbers elsewhere and
            // let a proxy and this server disagree on where the body ends.
            let v = h.value.trim_ascii();
            if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
                return Err((400, "bad Content-Length\n"));
            }
            let n = v.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
            // Two lengths that disagree: refuse rather than pick one (smuggling).
            if length.is_some_and(|l| l != n) {
                return Err((400, "conflicting Content-Length headers\n"));
            }
            length = Some(n);
        }
    }
    let length = length.unwrap_or(0);
    if length > limit {
        return Err((413, "request body too large\n"));
    }
    Ok(length)
}

#[allow(clippy::too_many_arguments)]
fn respond(
    req: &httparse::Request<'_, '_>,
    request_body: &[u8],
    peer: SocketAddr,
    tls: bool,
    shared: &Shared,
    scratch: &mut Scratch,
    body: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Next {
    shared.stats.requests.fetch_add(1, Relaxed);
    let http10 = req.version == Some(0);
    let mut keep_alive = !http10;
    let mut forwarded: [&[u8]; MAX_FORWARDED] = [&[]; MAX_FORWARDED];
    let mut n_forwarded = 0;
    let mut real_ip = None;
    let mut authorization = None;
    let mut web = crate::handler::WebHeaders {
        https: tls,
        ..Default::default()
    };
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("connection") {
            let v = h.value;
            if v.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if v.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            if n_forwarded < MAX_FORWARDED {
                forwarded[n_forwarded] = h.value;
                n_forwarded += 1;
            }
        } else if name.eq_ignore_ascii_case("x-real-ip") {
            real_ip = Some(h.value);
        } else if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(h.value);
        } else if name.eq_ignore_ascii_case("accept-language") {
            web.accept_language = Some(h.value);
        } else if name.eq_ignore_ascii_case("cookie") {
            web.cookie = Some(h.value);
        } else if name.eq_ignore_ascii_case("host") {
            web.host = Some(h.value);
        } else if name.eq_ignore_ascii_case("content-type") {
            web.content_type = Some(h.value);
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            web.forwarded_proto = Some(h.value);
        }
    }
    let method = req.method.unwrap_or("");
    let head = method == "HEAD";
    if !matches!(method, "GET" | "HEAD" | "POST" | "DELETE") {
        shared.stats.bad_requests.fetch_add(1, Relaxed);
        simple(out, 405, "method not allowed\n", true);
        return Next::Close;
    }
    let target = req.path.unwrap_or("/").as_bytes();
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    };
    let info = RequestInfo {
        path,
        query,
        peer: peer.ip(),
        forwarded_for: &forwarded[..n_forwarded],
        real_ip,
        authorization,
        web,
        method,
        body: request_body,
    };
    if let Some(wt) = &shared.webtorrent {
        let tracker_path = path == b"/"
            || matches!(
                crate::handler::route(path),
                crate::handler::Route::Announce(_)
            );
        if tracker_path {
            if let Some(key) = crate::ws::upgrade_key(req.headers) {
                return upgrade(wt, key, method, &info, shared, out);
            }
        }
    }
    let started = Instant::now();
    let mut answer = || {
        handle(
            &shared.config,
            &shared.gate,
            &shared.stats,
            shared.routes.as_deref(),
            shared.clock.now(),
            shared.clock.millis(),
            &info,
            scratch,
            body,
        )
    };
    let may_block = shared
        .routes
        .as_ref()
        .is_some_and(|r| r.may_block(method, path));
    // A request that may wait (an admin write waiting for the store) hands this
    // worker's other connections to another thread first.
    let reply = if may_block {
        tokio::task::block_in_place(answer)
    } else {
        answer()
    };
    shared
        .stats
        .latency
        .observe_n(started.elapsed().as_micros() as u64, 1);
    write_head(out, &reply, body.len(), http10, keep_alive);
    if !head {
        out.extend_from_slice(body);
    }
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

/// Answers a WebSocket upgrade request: 101 and the session, or a refusal.
fn upgrade(
    wt: &std::sync::Arc<crate::ws::WebTorrent>,
    key: Result<&[u8], ()>,
    method: &str,
    info: &RequestInfo<'_>,
    shared: &Shared,
    out: &mut Vec<u8>,
) -> Next {
    let key = match key {
        Ok(k) if method == "GET" => k,
        _ => {
            shared.stats.bad_requests.fetch_add(1, Relaxed);
            simple(
                out,
                400,
                "bad WebSocket upgrade (GET, Sec-WebSocket-Key and version 13 needed)\n",
                true,
            );
            return Next::Close;
        }
    };
    let client = crate::handler::client_ip(info, &shared.config.trusted_proxies);
    let Some(slot) = wt.admit(client) else {
        shared.stats.bad_requests.fetch_add(1, Relaxed);
        simple(
            out,
            429,
            "too many WebSocket connections from your address\n",
            true,
        );
        return Next::Close;
    };
    crate::ws::write_switching(out, key);
    let passkey = crate::handler::route(info.path)
        .passkey()
        .map(<[u8]>::to_vec);
    Next::Upgrade(crate::ws::Upgrade {
        client,
        passkey,
        slot,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        201 => "Created",
        202 => "Accepted",
        302 => "Found",
        303 => "See Other",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn write_head(out: &mut Vec<u8>, reply: &Reply, len: usize, http10: bool, keep_alive: bool) {
    out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(reply.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(reply.status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(reply.content_type.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(len.to_string().as_bytes());
    if !keep_alive {
        out.extend_from_slice(b"\r\nConnection: close");
    } else if http10 {
        out.extend_from_slice(b"\r\nConnection: keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(security_headers(reply.content_type).as_bytes());
    out.extend_from_slice(reply.headers.as_bytes());
    out.extend_from_slice(reply.owned_headers.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Headers every page gets so that a browser neither guesses content types nor runs
/// or frames anything but our own files. Tracker answers (plain text, bencode) need
/// none of this and stay small.
fn security_headers(content_type: &str) -> &'static str {
    if content_type.starts_with("text/html") {
        concat!(
            "X-Content-Type-Options: nosniff\r\n",
            "X-Frame-Options: DENY\r\n",
            "Referrer-Policy: same-origin\r\n",
            "Content-Security-Policy: default-src 'none'; script-src 'self'; ",
            "style-src 'self'; img-src 'self' data:; connect-src 'self'; ",
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'\r\n",
        )
    } else if content_type.starts_with("application/json") {
        // JSON API answers are live figures or admin state: never cached.
        "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
    } else if content_type.starts_with("text/plain") {
        ""
    } else {
        "X-Content-Type-Options: nosniff\r\n"
    }
}

fn simple(out: &mut Vec<u8>, status: u16, text: &str, close: bool) {
    write_head(
        out,
        &Reply::new(status, "text/plain"),
        text.len(),
        false,
        !close,
    );
    out.extend_from_slice(text.as_bytes());
}

//! The `http://` tracker client (BEP 3, 7, 23, 48): one GET per request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use shoal_bencode::{decode, Value};
use shoal_protocol::{AnnounceEvent, InfoHash, PeerAddr, PeerAddrV4, PeerAddrV6};

use crate::{
    split_url_default, AnnounceParams, AnnounceReply, ClientError, ClientOptions, ScrapeEntry,
};

/// Most bytes read from a tracker's response.
const MAX_RESPONSE: usize = 4 << 20;

/// A blocking client for one HTTP or HTTPS tracker.
pub struct HttpTracker {
    authority: String,
    path: String,
    server: SocketAddr,
    options: ClientOptions,
    /// For `https://`: the TLS settings and the name to verify.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    // System roots that fail to parse are skipped; an explicit CA file must parse.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(ClientError::Tls(format!(
                "{}: no certificate",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Percent-encodes every byte outside RFC 3986's unreserved set.
pub fn percent_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push_str(&format!("{b:02X}"));
        }
    }
}

impl HttpTracker {
    /// Resolves the URL's host (and for `https://` prepares TLS).
    pub fn open(url: &str, options: ClientOptions) -> Result<Self, ClientError> {
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let (authority, path) = split_url_default(url, if https { 443 } else { 80 })?;
        let authority = authority.as_str();
        let server = crate::resolve(authority)?;
        let path = if path.is_empty() { "/" } else { path };
        let tls = if https {
            let host = match authority.rfind(':') {
                Some(i) => &authority[..i],
                None => authority,
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned()).map_err(|_| ClientError::BadUrl {
                url: url.to_owned(),
                reason: "host is not a valid TLS server name",
            })?;
            Some((tls_config(options.ca_file.as_deref())?, name))
        } else {
            None
        };
        Ok(HttpTracker {
            authority: authority.to_owned(),
            path: path.to_owned(),
            server,
            options,
            tls,
        })
    }

    fn get(&self, path_and_query: &str) -> Result<Vec<u8>, ClientError> {
        let timeout = self.options.timeout.max(Duration::from_millis(1));
        let mut stream = TcpStream::connect_timeout(&self.server, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let req = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nUser-Agent: shoal/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
            self.authority,
            env!("CARGO_PKG_VERSION")
        );
        let mut raw = Vec::new();
        let read = match &self.tls {
            None => {
                stream.write_all(req.as_bytes())?;
                (&mut stream)
                    .take(MAX_RESPONSE as u64 + 1)
                    .read_to_end(&mut raw)
            }
            Some((config, name)) => {
                let conn = rustls::ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let mut tls = rustls::StreamOwned::new(conn, stream);
                tls.write_all(req.as_bytes()).map_err(tls_error)?;
                let r = (&mut tls)
                    .take(MAX_RESPONSE as u64 + 1)
                    .read_to_end(&mut raw);
                match r {
                    // A peer that closes without close_notify: the body is framed by
                    // Content-Length, so what arrived is still usable.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {
                        Ok(raw.len())
                    }
                    r => r,
                }
            }
        };
        read.map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                ClientError::Timeout(self.server)
            }
            std::io::ErrorKind::InvalidData => tls_error(e),
            _ => ClientError::Io(e),
        })?;
        if raw.len() > MAX_RESPONSE {
            return Err(ClientError::BadResponse("response too large".into()));
        }
        Ok(raw)
    }

    fn query_url(&self, base_path: &str, query: &str) -> String {
        let sep = if base_path.contains('?') { '&' } else { '?' };
        format!("{base_path}{sep}{query}")
    }

    /// Announces and returns the tracker's answer.
    pub fn announce(&mut self, p: &AnnounceParams) -> Result<AnnounceReply, ClientError> {
        let mut q = String::with_capacity(256);
        q.push_str("info_hash=");
        percent_encode(&p.info_hash.0, &mut q);
        q.push_str("&peer_id=");
        percent_encode(&p.peer_id.0, &mut q);
        q.push_str(&format!(
            "&port={}&uploaded={}&downloaded={}&left={}&compact=1&key={:08x}",
            p.port, p.uploaded, p.downloaded, p.left, p.key
        ));
        if p.event != AnnounceEvent::None {
            q.push_str("&event=");
            q.push_str(p.event.as_str());
        }
        if let Some(n) = p.num_want {
            q.push_str(&format!("&numwant={n}"));
        }
        let raw = self.get(&self.query_url(&self.path, &q))?;
        parse_announce_response(&raw)
    }

    /// Scrapes the given torrents at the scrape URL derived from the announce URL
    /// (the last `announce` in the path becomes `scrape`).
    pub fn scrape(&mut self, hashes: &[InfoHash]) -> Result<Vec<ScrapeEntry>, ClientError> {
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path.as_str(), None),
        };
        let Some(i) = path.rfind("announce") else {
            return Err(ClientError::BadUrl {
                url: self.path.clone(),
                reason: "no scrape URL: the path has no \"announce\" to replace",
            });
        };
        let mut base = format!("{}scrape{}", &path[..i], &path[i + "announce".len()..]);
        if let Some(q) = query {
            base.push('?');
            base.push_str(q);
        }
        let mut q = String::new();
        for (n, h) in hashes.iter().enumerate() {
            if n > 0 {
                q.push('&');
            }
            q.push_str("info_hash=");
            percent_encode(&h.0, &mut q);
        }
        let raw = self.get(&self.query_url(&base, &q))?;
        parse_scrape_response(&raw, hashes)
    }
}

/// Reads a raw HTTP scrape response as `scrape` does, for the torrents asked about.
pub fn parse_scrape_response(
    raw: &[u8],
    hashes: &[InfoHash],
) -> Result<Vec<ScrapeEntry>, ClientError> {
    let body = parse_http_response(raw)?;
    let v = decode(&body).map_err(|e| ClientError::BadResponse(e.to_string()))?;
    if let Some(reason) = v.get(b"failure reason") {
        return Err(ClientError::Tracker(
            String::from_utf8_lossy(reason.as_bytes().unwrap_or(b"")).into_owned(),
        ));
    }
    let files = v
        .get(b"files")
        .ok_or_else(|| ClientError::BadResponse("no files in scrape reply".into()))?;
    Ok(hashes
        .iter()
        .map(|h| {
            let f = files.get(&h.0);
            let int = |k: &[u8]| {
                f.and_then(|f| f.get(k))
                    .and_then(Value::as_int)
                    .map_or(0, |n| n.clamp(0, i64::from(u32::MAX)) as u32)
            };
            ScrapeEntry {
                info_hash: *h,
                seeders: int(b"complete"),
                completed: int(b"downloaded"),
                leechers: int(b"incomplete"),
            }
        })
        .collect())
}

/// Reads a raw HTTP announce response (status line, headers, body) as `announce` does
/// with the bytes it received: public for fuzzing and for programs that bring their own
/// transport.
pub fn parse_announce_response(raw: &[u8]) -> Result<AnnounceReply, ClientError> {
    let body = parse_http_response(raw)?;
    let v = decode(&body).map_err(|e| ClientError::BadResponse(e.to_string()))?;
    if let Some(reason) = v.get(b"failure reason") {
        return Err(ClientError::Tracker(
            String::from_utf8_lossy(reason.as_bytes().unwrap_or(b"")).into_owned(),
        ));
    }
    let int = |k: &[u8]| {
        v.get(k)
            .and_then(Value::as_int)
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
    };
    let mut peers = Vec::new();
    match v.get(b"peers") {
        Some(Value::Bytes(b)) => peers.extend(
            b.chunks_exact(6)
                .filter_map(PeerAddrV4::from_bytes)
                .map(|p| p.to_socket_addr()),
        ),
        Some(Value::List(items)) => {
            for item in items {
                let ip = item
                    .get(b"ip")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok());
                let port = item.get(b"port").and_then(Value::as_int);
                if let (Some(ip), Some(port)) = (ip, port) {
                    if let Ok(port) = u16::try_from(port) {
                        peers.push(SocketAddr::new(ip, port));
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(b) = v.get(b"peers6").and_then(Value::as_bytes) {
        peers.extend(
            b.chunks_exact(18)
                .filter_map(PeerAddrV6::from_bytes)
                .map(|p| p.to_socket_addr()),
        );
    }
    Ok(AnnounceReply {
        interval: int(b"interval")
            .ok_or_else(|| ClientError::BadResponse("no interval in announce reply".into()))?,
        seeders: int(b"complete").unwrap_or(0),
        leechers: int(b"incomplete").unwrap_or(0),
        peers,
    })
}

fn tls_error(e: std::io::Error) -> ClientError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        ClientError::Tls(e.to_string())
    } else {
        ClientError::Io(e)
    }
}

/// Splits a raw HTTP/1.x response into its body, decoding chunked transfer coding.
/// Non-2xx statuses are errors.
pub(crate) fn parse_http_response(raw: &[u8]) -> Result<Vec<u8>, ClientError> {
    let bad = |m: &str| ClientError::BadResponse(m.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            }
        }
    }
    let mut body = &raw[end + 4..];
    if let Some(n) = length {
        if body.len() < n {
            return Err(bad("response shorter than its Content-Length"));
        }
        body = &body[..n];
    }
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        return Err(ClientError::BadResponse(format!(
            "HTTP {status}: {}",
            text.trim().chars().take(200).collect::<String>()
        )));
    }
    Ok(body)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, ClientError> {
    let bad = || ClientError::BadResponse("malformed chunked body".into());
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = &b[..line_end];
        let size_text = size_text
            .split(|&c| c == b';')
            .next()
            .unwrap_or(b"")
            .trim_ascii();
        // Hex digits only (`from_str_radix` would take a sign), and a size that can be
        // in the bytes we have: a huge one must not overflow the bounds check below.
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(bad());
        }
        let size = size_text.iter().fold(0u64, |n, &d| {
            n * 16 + u64::from((d as char).to_digit(16).unwrap_or(0))
        });
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let size = usize::try_from(size).map_err(|_| bad())?;
        // The chunk, then its CRLF.
        if b.len().saturating_sub(2) < size || &b[size..size + 2] != b"\r\n" {
            return Err(bad());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_binary() {
        let mut s = String::new();
        percent_encode(&[0, b'a', b'~', b' ', 0xff], &mut s);
        assert_eq!(s, "%00a~%20%FF");
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nd1:xe";
        assert_eq!(parse_http_response(r).unwrap(), b"d1:x");
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nd1:\r\n2\r\nxe\r\n0\r\n\r\n";
        assert_eq!(parse_http_response(r).unwrap(), b"d1:xe");
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
        assert!(
            matches!(parse_http_response(r), Err(ClientError::BadResponse(m)) if m.contains("404"))
        );
        assert!(parse_http_response(b"garbage").is_err());
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_http_response(r).is_err());
    }

    #[test]
    fn hostile_chunk_sizes_are_errors_not_panics() {
        for body in [
            &b"ffffffffffffffff\r\nab\r\n0\r\n\r\n"[..],
            b"fffffffffffffffe\r\n",
            b"10000000000000000\r\nab\r\n",
            b"+3\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabcXY0\r\n\r\n",
            b"3\r\nab",
            b"\r\n",
        ] {
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            r.extend_from_slice(body);
            assert!(
                parse_http_response(&r).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

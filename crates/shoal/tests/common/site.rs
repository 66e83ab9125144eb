//! The site over raw HTTP/1.1, as a browser without JavaScript uses it: requests with a
//! cookie, urlencoded and multipart forms, the CSRF token of a page's form, logins.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One answer: status, header lines, body (as bytes, and as lossy text).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<String>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.headers
            .iter()
            .find(|h| h.to_ascii_lowercase().starts_with(&prefix))
            .map(|h| &h[prefix.len()..])
    }

    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter_map(|h| h.strip_prefix("Set-Cookie: "))
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// One request on its own connection; a POST's body is an urlencoded form.
pub fn request(addr: SocketAddr, method: &str, target: &str, cookie: &str, body: &str) -> Answer {
    let form = "application/x-www-form-urlencoded";
    request_with(addr, method, target, cookie, form, body.as_bytes())
}

/// One request on its own connection with a POST body of `content_type`.
pub fn request_with(
    addr: SocketAddr,
    method: &str,
    target: &str,
    cookie: &str,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(&mut s, addr, method, target, cookie, content_type, body)
}

/// One request on a connection (`Host` is `addr`, closed after the answer).
pub fn exchange(
    s: &mut (impl Read + Write),
    addr: SocketAddr,
    method: &str,
    target: &str,
    cookie: &str,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut sent = head.into_bytes();
    sent.extend_from_slice(body);
    s.write_all(&sent).unwrap();
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after the answer: what was read counts.
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let bytes = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    Answer {
        status,
        headers: lines.map(str::to_owned).collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// A `multipart/form-data` body of `(name, file name, value)` fields, as a browser
/// sends a form with `enctype=multipart/form-data`: its content type and bytes.
pub fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "----shoal-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, value) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/x-bittorrent\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// `name=value` of a Set-Cookie line.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF token in a page's first form.
pub fn form_csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
    body[at..at + 64].to_owned()
}

/// A form page's anonymous CSRF cookie and token.
pub fn anonymous(addr: SocketAddr, path: &str) -> (String, String) {
    let page = request(addr, "GET", path, "", "");
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.set_cookie("shoal_csrf").expect("a CSRF cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    (pair(cookie), form_csrf(&page.body))
}

/// The login form sent with `name` and `password` (urlencoded already).
pub fn login(addr: SocketAddr, name: &str, password: &str) -> Answer {
    let (cookie, csrf) = anonymous(addr, "/login");
    request(
        addr,
        "POST",
        "/login",
        &cookie,
        &format!("csrf={csrf}&name={name}&password={password}"),
    )
}

/// A logged-in session's cookie (`shoal_session=…`); the login must succeed.
pub fn session(addr: SocketAddr, name: &str, password: &str) -> String {
    let a = login(addr, name, password);
    assert_eq!(a.status, 303, "{name} logs in: {}", a.body);
    pair(a.set_cookie("shoal_session").expect("a session cookie"))
}

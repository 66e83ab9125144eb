//! The site's account pages in the real binary, on the tracker's own port: an invite
//! from `shoal invite create` registers an account, which logs in (cookie flags
//! checked), sees its passkey and its totals (credited from its announces) on
//! /account, and logs out; forms without or with a wrong CSRF token are refused; a
//! wrong password and an unknown name read the same; failed logins are limited; a
//! banned account cannot log in; /account without a session sends to /login.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::site::{anonymous, exchange, form_csrf, login, pair, request, Answer};
use common::{eventually, ok, shoal_in as shoal, temp_dir, Server, BIN};

/// One request over TLS, trusting the certificate in `ca`.
fn request_tls(
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    target: &str,
    cookie: &str,
    body: &str,
) -> Answer {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(common::tls_client(ca), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let form = "application/x-www-form-urlencoded";
    exchange(
        &mut tls,
        addr,
        method,
        target,
        cookie,
        form,
        body.as_bytes(),
    )
}

fn start(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = temp_dir(tag);
    let cfg = data.join("shoal.toml");
    std::fs::write(
        &cfg,
        "[tracker]\nmode = \"private\"\n[store]\nflush_interval = 1\n[catalog]\nenabled = false\n\
         [portal]\nlogin_failures_per_name = 3\n",
    )
    .unwrap();
    (data, cfg)
}

#[test]
fn invite_register_login_account_logout() {
    let (data, cfg) = start("portal");
    ok(&shoal(&data, &["user", "add", "admin", "--role", "admin"]));
    let code = ok(&shoal(&data, &["invite", "create", "--by", "admin"]));
    let server = Server::start_in(
        data.clone(),
        &[],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let addr = server.http_addr(false);

    // Without a session, /account sends to /login.
    let away = request(addr, "GET", "/account", "", "");
    assert_eq!(
        (away.status, away.header("Location")),
        (303, Some("/login"))
    );

    let (cookie, csrf) = anonymous(addr, &format!("/register?invite={code}"));
    let fields = format!("invite={code}&name=carol&password=long+enough&password2=long+enough");
    // Without a token, with a wrong one, or without the cookie: refused, nothing made.
    for (c, body) in [
        (cookie.as_str(), fields.clone()),
        (cookie.as_str(), format!("csrf={}&{fields}", "0".repeat(64))),
        ("", format!("csrf={csrf}&{fields}")),
    ] {
        assert_eq!(request(addr, "POST", "/register", c, &body).status, 403);
    }
    assert_eq!(
        shoal(&data, &["user", "show", "carol"]).status.code(),
        Some(1)
    );
    let made = request(
        addr,
        "POST",
        "/register",
        &cookie,
        &format!("csrf={csrf}&{fields}"),
    );
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(made.header("Location"), Some("/account"));
    let set = made.set_cookie("shoal_session").expect("a session");
    assert!(
        set.contains("; HttpOnly; SameSite=Lax; Path=/") && !set.contains("Secure"),
        "{set}"
    );
    let session = pair(set);
    assert_eq!(session.len(), "shoal_session=".len() + 64);
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&shoal(&data, &["user", "show", "carol", "--json"]))).unwrap();
    let passkey = shown["passkey"].as_str().unwrap().to_owned();
    assert_eq!(shown["role"], "user");
    // The invite is used.
    let again = request(
        addr,
        "POST",
        "/register",
        &cookie,
        &format!("csrf={csrf}&invite={code}&name=dave&password=long+enough&password2=long+enough"),
    );
    assert_eq!(again.status, 400);

    // Two announces with the passkey: the second's upload is credited. The server
    // loads the new account's passkey within a second.
    let hash = "%11".repeat(20);
    let announce = |up: u64, event: &str| {
        let target = format!(
            "/announce/{passkey}?info_hash={hash}&peer_id=-qB4650-abcdefghijkl&port=6881&uploaded={up}&downloaded=0&left=0&compact=1{event}"
        );
        request(addr, "GET", &target, "", "").body
    };
    eventually("the passkey admitted", || {
        (!announce(0, "&event=started").contains("failure")).then_some(())
    });
    let second = announce(3 << 20, "");
    assert!(!second.contains("failure"), "{second}");
    let page = eventually("the credit on /account", || {
        let p = request(addr, "GET", "/account", &session, "");
        assert_eq!(p.status, 200);
        p.body.contains("3.0\u{a0}MiB").then_some(p)
    });
    assert!(page.body.contains(&passkey));
    assert!(page.body.contains(&format!("/announce/{passkey}")));
    assert!(page.body.contains("carol"));
    assert!(!page.body.contains("admin"), "nobody else's data");
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    assert!(page.header("Content-Security-Policy").is_some());

    // Logged-in forms need the session's token.
    let token = form_csrf(&page.body);
    for path in ["/logout", "/account/passkey", "/account/password"] {
        assert_eq!(
            request(addr, "POST", path, &session, "").status,
            403,
            "{path}"
        );
        let wrong = format!("csrf={csrf}");
        assert_eq!(
            request(addr, "POST", path, &session, &wrong).status,
            403,
            "{path}"
        );
    }
    let out = request(addr, "POST", "/logout", &session, &format!("csrf={token}"));
    assert_eq!((out.status, out.header("Location")), (303, Some("/login")));
    assert!(out
        .set_cookie("shoal_session")
        .unwrap()
        .contains("Max-Age=0"));
    let after = request(addr, "GET", "/account", &session, "");
    assert_eq!(
        (after.status, after.header("Location")),
        (303, Some("/login"))
    );

    // Log in again.
    let back = login(addr, "Carol", "long+enough");
    assert_eq!(
        (back.status, back.header("Location")),
        (303, Some("/account"))
    );
    let again = pair(back.set_cookie("shoal_session").unwrap());
    assert_ne!(again, session, "a new session");
    assert_eq!(request(addr, "GET", "/account", &again, "").status, 200);
}

#[test]
fn logins_reveal_nothing_are_limited_and_refuse_bans() {
    let (data, cfg) = start("portal-login");
    let add = |name: &str| {
        let mut child = Command::new(BIN)
            .args(["user", "add", name, "--password-stdin", "--data-dir"])
            .arg(&data)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
    };
    add("alice");
    add("bob");
    let server = Server::start_in(
        data.clone(),
        &[],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    );
    let addr = server.http_addr(false);

    // A wrong password and an unknown name: the same status and message.
    let wrong = login(addr, "alice", "wrong+horse");
    let unknown = login(addr, "nobody", "wrong+horse");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    for a in [&wrong, &unknown] {
        assert!(a.body.contains("Wrong name or password."), "{}", a.body);
        assert!(a.set_cookie("shoal_session").is_none());
    }
    // Without a CSRF token, a login is refused before the password is looked at.
    let (cookie, _) = anonymous(addr, "/login");
    let bare = request(
        addr,
        "POST",
        "/login",
        &cookie,
        "name=alice&password=correct+horse",
    );
    assert_eq!(bare.status, 403);

    // Three failures for a name (login_failures_per_name = 3), then even the right
    // password waits; other names go on.
    assert_eq!(login(addr, "alice", "wrong2").status, 401);
    assert_eq!(login(addr, "alice", "wrong3").status, 401);
    let limited = login(addr, "alice", "correct+horse");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.set_cookie("shoal_session").is_none());
    let bob = login(addr, "bob", "correct+horse");
    assert_eq!(bob.status, 303);
    let session = pair(bob.set_cookie("shoal_session").unwrap());

    // A ban ends the session and refuses the next login.
    ok(&shoal(&data, &["user", "ban", "bob"]));
    let page = request(addr, "GET", "/account", &session, "");
    assert_eq!(
        (page.status, page.header("Location")),
        (303, Some("/login"))
    );
    let banned = login(addr, "bob", "correct+horse");
    assert_eq!(banned.status, 403);
    assert!(banned.body.contains("banned"));
    assert!(banned.set_cookie("shoal_session").is_none());
    ok(&shoal(&data, &["user", "unban", "bob"]));
    assert_eq!(login(addr, "bob", "correct+horse").status, 303);
}

#[test]
fn session_cookies_are_secure_over_https() {
    let dir = temp_dir("portal-tls");
    let (cert, key) = common::write_cert(&dir, "portal");
    let server = common::start_tls(&cert, &key);
    let mut child = Command::new(BIN)
        .args(["user", "add", "erin", "--password-stdin", "--data-dir"])
        .arg(&server.data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let addr = server.tls[0];
    let page = request_tls(addr, &cert, "GET", "/login", "", "");
    assert_eq!(page.status, 200);
    let csrf_cookie = page.set_cookie("shoal_csrf").unwrap();
    assert!(csrf_cookie.ends_with("; Secure"), "{csrf_cookie}");
    let body = format!(
        "csrf={}&name=erin&password=correct+horse",
        form_csrf(&page.body)
    );
    let a = request_tls(addr, &cert, "POST", "/login", &pair(csrf_cookie), &body);
    assert_eq!(a.status, 303, "{}", a.body);
    let set = a.set_cookie("shoal_session").unwrap();
    assert!(
        set.contains("; HttpOnly; SameSite=Lax; Path=/") && set.ends_with("; Secure"),
        "{set}"
    );
    // The same account over plain HTTP gets no Secure flag.
    let plain = login(server.http_addr(false), "erin", "correct+horse");
    assert!(!plain
        .set_cookie("shoal_session")
        .unwrap()
        .contains("Secure"));
}

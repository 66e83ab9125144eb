//! The pages through the router, on a real SQLite store in a temporary directory.

use super::*;
use shoal_store::{AccountStore, SqliteStore};

struct Site {
    portal: Option<Portal>,
    store: Option<Arc<SqliteStore>>,
    _dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        // The store's own runtime may not be dropped on a runtime thread.
        tokio::task::block_in_place(|| {
            self.portal.take();
            self.store.take();
        });
    }
}

/// One answer: status, Set-Cookie values, Location, body.
struct Answer {
    status: u16,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

fn site(limits: Limits) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(tokio::task::block_in_place(|| {
        SqliteStore::open(&dir.path().join("shoal.sqlite")).unwrap()
    }));
    let portal = Portal::new(
        store.clone(),
        PortalConfig {
            login_limits: limits,
            ..PortalConfig::default()
        },
    );
    Site {
        portal: Some(portal),
        store: Some(store),
        _dir: dir,
    }
}

fn limits() -> Limits {
    PortalConfig::default().login_limits
}

impl Site {
    /// Sends a request the way the HTTP front end does, from a blocking thread.
    async fn send(&self, method: &str, target: &str, cookie: &str, body: &str) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = PortalRequest {
            method,
            path,
            query,
            cookie: (!cookie.is_empty()).then_some(cookie.as_bytes()),
            host: Some(b"tracker.test:6969"),
            accept_language: None,
            content_type: Some(b"application/x-www-form-urlencoded"),
            body: body.as_bytes(),
            client: Client {
                addr: "192.0.2.7".parse().unwrap(),
                https: false,
            },
        };
        let r = tokio::task::block_in_place(|| self.portal.as_ref().unwrap().handle_blocking(&req));
        let mut cookies = Vec::new();
        let mut location = None;
        for line in r.headers.split("\r\n") {
            if let Some(c) = line.strip_prefix("Set-Cookie: ") {
                cookies.push(c.to_owned());
            }
            if let Some(l) = line.strip_prefix("Location: ") {
                location = Some(l.to_owned());
            }
        }
        Answer {
            status: r.status,
            cookies,
            location,
            body: String::from_utf8(r.body).unwrap(),
        }
    }

    /// The anonymous CSRF cookie header and token, from the login form.
    async fn csrf(&self) -> (String, String) {
        let a = self.send("GET", "/login", "", "").await;
        let c = a
            .cookies
            .iter()
            .find(|c| c.starts_with("shoal_csrf="))
            .unwrap();
        let token = c["shoal_csrf=".len()..c.find(';').unwrap()].to_owned();
        (format!("shoal_csrf={token}"), token)
    }

    /// Runs store calls outside the runtime (the store blocks on its own).
    fn db<T>(&self, f: impl FnOnce(&SqliteStore) -> T) -> T {
        tokio::task::block_in_place(|| f(self.store.as_ref().unwrap()))
    }

    fn invite(&self, code: &str) {
        let now = unix_now();
        self.db(|d| d.add_invite(invite_hash(code), None, now, now + 3600))
            .unwrap();
    }

    fn user(&self, name: &str, password: &str) {
        self.db(|d| {
            d.add_account(&NewAccount {
                name,
                role: Role::User,
                passkey: *b"0123456789abcdef",
                password_hash: Some(&hash_password(password).unwrap()),
                invited_by: None,
                created_at: 1,
            })
        })
        .unwrap();
    }

    /// Logs in; the cookie header of the new session.
    async fn login(&self, name: &str, password: &str) -> Answer {
        let (cookie, token) = self.csrf().await;
        self.send(
            "POST",
            "/login",
            &cookie,
            &format!("csrf={token}&name={name}&password={password}"),
        )
        .await
    }
}

fn session_cookie(a: &Answer) -> String {
    let c = a
        .cookies
        .iter()
        .find(|c| c.starts_with("shoal_session="))
        .expect("a session cookie");
    c[..c.find(';').unwrap()].to_owned()
}

/// The CSRF token in a page's first form.
fn form_csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    body[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_account_logout() {
    let s = site(limits());
    s.invite("00112233445566778899aabbccddeeff");
    let (cookie, token) = s.csrf().await;
    let a = s
        .send(
            "POST",
            "/register",
            &cookie,
            &format!("csrf={token}&invite=00112233445566778899AABBCCDDEEFF&name=carol&password=long+enough&password2=long+enough"),
        )
        .await;
    assert_eq!(
        (a.status, a.location.as_deref()),
        (303, Some("/account")),
        "{}",
        a.body
    );
    let set = a
        .cookies
        .iter()
        .find(|c| c.starts_with("shoal_session="))
        .unwrap();
    assert!(set.contains("; HttpOnly; SameSite=Lax; Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP");
    let session = session_cookie(&a);
    let page = s.send("GET", "/account", &session, "").await;
    assert_eq!(page.status, 200);
    let carol = s.db(|d| d.account("carol")).unwrap().unwrap();
    assert!(page.body.contains(&hex::encode(carol.passkey)));
    assert!(page.body.contains(&format!(
        "http://tracker.test:6969/announce/{}",
        hex::encode(carol.passkey)
    )));
    // The same code again: used.
    let again = s
        .send(
            "POST",
            "/register",
            &cookie,
            &format!("csrf={token}&invite=00112233445566778899aabbccddeeff&name=dave&password=long+enough&password2=long+enough"),
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("not valid"));
    // Log out with the session's token; the session is gone.
    let csrf = form_csrf(&page.body);
    let out = s
        .send("POST", "/logout", &session, &format!("csrf={csrf}"))
        .await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    let after = s.send("GET", "/account", &session, "").await;
    assert_eq!(
        (after.status, after.location.as_deref()),
        (303, Some("/login"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_right_csrf_token_are_refused() {
    let s = site(limits());
    s.user("alice", "correct horse");
    let (cookie, token) = s.csrf().await;
    for body in [
        "name=alice&password=correct+horse".to_owned(),
        format!("csrf={}&name=alice&password=correct+horse", "0".repeat(64)),
    ] {
        assert_eq!(s.send("POST", "/login", &cookie, &body).await.status, 403);
    }
    // The right token without its cookie.
    let body = format!("csrf={token}&name=alice&password=correct+horse");
    assert_eq!(s.send("POST", "/login", "", &body).await.status, 403);
    let a = s.login("alice", "correct+horse").await;
    let session = session_cookie(&a);
    // A logged-in form takes the session's token, not the anonymous one.
    for path in ["/logout", "/account/passkey", "/account/password"] {
        let wrong = s
            .send(
                "POST",
                path,
                &format!("{session}; {cookie}"),
                &format!("csrf={token}"),
            )
            .await;
        assert_eq!(wrong.status, 403, "{path}");
        assert_eq!(
            s.send("POST", path, &session, "").await.status,
            403,
            "{path}"
        );
    }
    assert_eq!(
        s.send("GET", "/account", &session, "").await.status,
        200,
        "still logged in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_name_read_the_same() {
    let s = site(limits());
    s.user("alice", "correct horse");
    let wrong = s.login("alice", "wrong+horse").await;
    let unknown = s.login("nobody", "wrong+horse").await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("Wrong name or password."));
    let strip = |b: &str| b.replace("nobody", "alice");
    assert_eq!(
        strip(&wrong.body),
        strip(&unknown.body).replace(&form_csrf(&unknown.body), &form_csrf(&wrong.body))
    );
    assert!(wrong
        .cookies
        .iter()
        .all(|c| !c.starts_with("shoal_session=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_name() {
    let s = site(Limits {
        per_name: 3,
        ..limits()
    });
    s.user("alice", "correct horse");
    for _ in 0..3 {
        assert_eq!(s.login("alice", "wrong").await.status, 401);
    }
    let limited = s.login("alice", "correct+horse").await;
    assert_eq!(limited.status, 429);
    assert!(limited
        .cookies
        .iter()
        .all(|c| !c.starts_with("shoal_session=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_accounts_cannot_log_in_and_lose_their_sessions() {
    let s = site(limits());
    s.user("alice", "correct horse");
    let session = session_cookie(&s.login("alice", "correct+horse").await);
    s.db(|d| d.set_banned("alice", true)).unwrap();
    let page = s.send("GET", "/account", &session, "").await;
    assert_eq!(page.location.as_deref(), Some("/login"));
    let again = s.login("alice", "correct+horse").await;
    assert_eq!(again.status, 403);
    assert!(again.body.contains("banned"));
    assert!(again
        .cookies
        .iter()
        .all(|c| !c.starts_with("shoal_session=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_and_passkey_reset() {
    let s = site(limits());
    s.user("alice", "correct horse");
    let first = session_cookie(&s.login("alice", "correct+horse").await);
    let second = session_cookie(&s.login("alice", "correct+horse").await);
    let csrf = form_csrf(&s.send("GET", "/account", &first, "").await.body);
    let wrong = s
        .send(
            "POST",
            "/account/password",
            &first,
            &format!("csrf={csrf}&current=nope&password=new+password&password2=new+password"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let ok = s
        .send(
            "POST",
            "/account/password",
            &first,
            &format!(
                "csrf={csrf}&current=correct+horse&password=new+password&password2=new+password"
            ),
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/account?done=password"));
    assert_eq!(
        s.send("GET", "/account", &first, "").await.status,
        200,
        "kept"
    );
    assert_eq!(
        s.send("GET", "/account", &second, "").await.status,
        303,
        "ended"
    );
    assert_eq!(s.login("alice", "correct+horse").await.status, 401);
    assert_eq!(s.login("alice", "new+password").await.status, 303);
    let before = s.db(|d| d.account("alice")).unwrap().unwrap().passkey;
    let reset = s
        .send("POST", "/account/passkey", &first, &format!("csrf={csrf}"))
        .await;
    assert_eq!(reset.location.as_deref(), Some("/account?done=passkey"));
    assert_ne!(
        s.db(|d| d.account("alice")).unwrap().unwrap().passkey,
        before
    );
}

/// Parses `html` with html5ever and returns its parse errors.
fn html_errors(html: &str) -> Vec<String> {
    use html5ever::tendril::TendrilSink;
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            exact_errors: true,
            scripting_enabled: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let dom = html5ever::parse_document(markup5ever_rcdom::RcDom::default(), opts).one(html);
    let errors = dom.errors.borrow().iter().map(|e| e.to_string()).collect();
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_valid_html_in_every_language() {
    let s = site(limits());
    s.user("alice", "correct horse");
    let session = session_cookie(&s.login("alice", "correct+horse").await);
    for lang in ["en", "ru", "uk", "zh"] {
        for (target, cookie) in [
            (format!("/login?lang={lang}"), ""),
            (format!("/register?lang={lang}"), ""),
            (
                format!("/account?lang={lang}&done=password"),
                session.as_str(),
            ),
            (format!("/nowhere?lang={lang}"), ""),
        ] {
            let a = s.send("GET", &target, cookie, "").await;
            let errors = html_errors(&a.body);
            assert!(errors.is_empty(), "{target}: {errors:?}");
            assert!(
                a.body.contains(&format!("<html lang=\"{lang}\"")),
                "{target}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_speak_every_language() {
    let s = site(limits());
    for lang in ["en", "ru", "uk", "zh"] {
        let a = s.send("GET", &format!("/login?lang={lang}"), "", "").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains(&format!("<html lang=\"{lang}\"")), "{lang}");
        assert!(!a.body.contains("portal_"), "an untranslated key in {lang}");
        let r = s
            .send("GET", &format!("/register?lang={lang}&invite=abc"), "", "")
            .await;
        assert!(!r.body.contains("portal_"), "an untranslated key in {lang}");
        assert!(r.body.contains("value=\"abc\""));
    }
}

//! The pages through the router, on a real SQLite store in a temporary directory.

use super::*;
use shoal_store::{AccessStore, AccountStore, CatalogStore, InfoHash, SiteStore, SqliteStore};

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
    bytes: Vec<u8>,
}

fn site(limits: Limits) -> Site {
    site_with(
        PortalConfig {
            login_limits: limits,
            ..PortalConfig::default()
        },
        Arc::new(NoTracker),
    )
}

fn site_with(config: PortalConfig, tracker: Arc<dyn Tracker>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(tokio::task::block_in_place(|| {
        SqliteStore::open(&dir.path().join("shoal.sqlite")).unwrap()
    }));
    let portal = Portal::new(store.clone(), config, tracker);
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
        self.send_as(
            method,
            target,
            cookie,
            b"application/x-www-form-urlencoded",
            body.as_bytes(),
        )
        .await
    }

    async fn send_as(
        &self,
        method: &str,
        target: &str,
        cookie: &str,
        content_type: &[u8],
        body: &[u8],
    ) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let req = PortalRequest {
            method,
            path,
            query,
            cookie: (!cookie.is_empty()).then_some(cookie.as_bytes()),
            host: Some(b"tracker.test:6969"),
            accept_language: None,
            content_type: Some(content_type),
            body,
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
            body: String::from_utf8_lossy(&r.body).into_owned(),
            bytes: r.body,
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

// ---- publishing and administration ----

/// Records what the site told the tracker.
#[derive(Default)]
struct Recorder {
    published: Mutex<Vec<shoal_store::CatalogEntry>>,
    /// Preview moderation asked of the tracker: (what, which, path).
    preview: Mutex<Vec<(String, String, Option<String>)>>,
}

impl Tracker for Recorder {
    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        let h = host.and_then(|h| h.split(':').next()).unwrap_or("none");
        vec![
            format!("udp://{h}:6969/announce"),
            format!("http://{h}/announce"),
        ]
    }
    fn published(&self, entry: &shoal_store::CatalogEntry) {
        self.published.lock().unwrap().push(entry.clone());
    }
    fn preview_on(&self) -> bool {
        true
    }
    fn hide_preview(
        &self,
        h: &shoal_store::InfoHash,
        path: Option<&str>,
    ) -> Result<Option<usize>, String> {
        let call = ("hide".into(), h.to_hex(), path.map(str::to_owned));
        self.preview.lock().unwrap().push(call);
        Ok(Some(1))
    }
    fn deny_preview(&self, sha256: &[u8; 32], deny: bool) -> Result<bool, String> {
        let what = if deny { "deny" } else { "allow" };
        let call = (what.into(), shoal_metainfo::to_hex(sha256), None);
        self.preview.lock().unwrap().push(call);
        Ok(true)
    }
    fn preview_denied(&self) -> Result<Vec<([u8; 32], u64)>, String> {
        Ok(vec![([0xab; 32], 1_700_000_000)])
    }
}

/// A single-file v1 `.torrent` named `name`.
fn torrent(name: &str) -> Vec<u8> {
    format!(
        "d8:announce14:http://x/annnc4:infod6:lengthi5e4:name{}:{name}12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
        name.len()
    )
    .into_bytes()
}

const BOUNDARY: &str = "XyZzYboundary";

/// A multipart upload form.
fn multipart(csrf: &str, title: &str, category: &str, file: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in [
        ("csrf", csrf),
        ("title", title),
        ("category", category),
        ("description", "line one\n<b>two</b>"),
    ] {
        b.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    b.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"torrent\"; filename=\"a.torrent\"\r\nContent-Type: application/x-bittorrent\r\n\r\n").as_bytes());
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

impl Site {
    fn account_with(&self, name: &str, role: Role, passkey: [u8; 16]) {
        self.db(|d| {
            d.add_account(&NewAccount {
                name,
                role,
                passkey,
                password_hash: Some(&hash_password("long enough").unwrap()),
                invited_by: None,
                created_at: 1,
            })
        })
        .unwrap();
    }

    async fn session_of(&self, name: &str) -> String {
        session_cookie(&self.login(name, "long+enough").await)
    }

    async fn upload(&self, session: &str, title: &str, category: &str, file: &[u8]) -> Answer {
        let form = self.send("GET", "/upload", session, "").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form_csrf(&form.body);
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send_as(
            "POST",
            "/upload",
            session,
            ct.as_bytes(),
            &multipart(&csrf, title, category, file),
        )
        .await
    }
}

fn private_site(tracker: Arc<Recorder>) -> Site {
    site_with(
        PortalConfig {
            private: true,
            list_uploads: true,
            max_torrent_bytes: 64 * 1024,
            ..PortalConfig::default()
        },
        tracker,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploader_publishes_and_downloads_with_the_passkey() {
    let rec = Arc::new(Recorder::default());
    let s = private_site(rec.clone());
    s.account_with("ulla", Role::Uploader, [7; 16]);
    let session = s.session_of("ulla").await;
    let a = s.upload(&session, "My title", "", &torrent("a.txt")).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let to = a.location.unwrap();
    assert!(to.starts_with("/account/uploads?added="), "{to}");
    let hex = &to["/account/uploads?added=".len()..];
    let h = InfoHash::from_hex(hex).unwrap();
    // Private mode: the stored dictionary is the private one, under its own hash.
    let original = shoal_metainfo::Torrent::parse(&torrent("a.txt"), &Default::default()).unwrap();
    assert_ne!(
        original.hashes().tracker_hash(),
        h.0,
        "the private flag changes the hash"
    );
    let entry = s
        .db(|d| d.catalog_entry(&h))
        .unwrap()
        .expect("in the catalog at once");
    assert_eq!(entry.name, "My title");
    assert!(entry.private);
    assert_eq!(
        rec.published.lock().unwrap().len(),
        1,
        "the tracker was told"
    );
    assert_eq!(
        s.db(|d| d.load_access_entries()).unwrap(),
        vec![h],
        "listed"
    );
    let list = s.send("GET", &to, &session, "").await;
    assert!(
        list.body.contains("My title") && list.body.contains("published"),
        "{}",
        list.body
    );
    // The download carries the passkey in every announce URL; the info is the stored one.
    let file = s
        .send("GET", &format!("/download/{hex}.torrent"), &session, "")
        .await;
    assert_eq!(file.status, 200);
    let t = shoal_metainfo::Torrent::parse(&file.bytes, &Default::default()).unwrap();
    assert_eq!(t.hashes().tracker_hash(), h.0);
    let key = hex::encode([7u8; 16]);
    assert_eq!(
        t.announce.as_deref(),
        Some(format!("udp://tracker.test:6969/announce/{key}").as_str())
    );
    assert!(
        t.announce_list.iter().flatten().all(|u| u.ends_with(&key)),
        "{:?}",
        t.announce_list
    );
    let page = s
        .send("GET", &format!("/download/{hex}"), &session, "")
        .await;
    assert!(
        page.body.contains("magnet:?xt=urn:btih:") && page.body.contains(&key),
        "{}",
        page.body
    );
    // With who uploaded it and its description, escaped.
    assert!(page.body.contains("<dd>ulla</dd>"), "{}", page.body);
    assert!(
        page.body.contains("line one\n&lt;b&gt;two&lt;/b&gt;"),
        "{}",
        page.body
    );
    // Without a session: the login.
    let anon = s
        .send("GET", &format!("/download/{hex}.torrent"), "", "")
        .await;
    assert_eq!(
        (anon.status, anon.location.as_deref()),
        (303, Some("/login"))
    );
    // The same torrent again: refused with a link to the first.
    let again = s.upload(&session, "", "", &torrent("a.txt")).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains(&format!("/download/{hex}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_cleanly() {
    let s = private_site(Arc::new(Recorder::default()));
    s.account_with("ulla", Role::Uploader, [7; 16]);
    let session = s.session_of("ulla").await;
    let not_torrent = s.upload(&session, "", "", b"<html>hello</html>").await;
    assert_eq!(not_torrent.status, 400);
    assert!(
        not_torrent.body.contains("not a valid .torrent"),
        "{}",
        not_torrent.body
    );
    let hostile = b"d4:infod5:filesld6:lengthi5e4:pathl2:..6:passwdeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    assert_eq!(s.upload(&session, "", "", hostile).await.status, 400);
    let huge = vec![b'x'; 70 * 1024];
    assert_eq!(s.upload(&session, "", "", &huge).await.status, 413);
    // Past the form's own limit (the file's cap and 64 KiB): 413 as well, not 403.
    let huger = vec![b'x'; 200 * 1024];
    let r = s.upload(&session, "", "", &huger).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(s.upload(&session, "", "", b"").await.status, 400);
    assert_eq!(
        s.upload(&session, "", "nonsense", &torrent("b.txt"))
            .await
            .status,
        400
    );
    let nul = s.upload(&session, "a\u{0}b", "", &torrent("b.txt")).await;
    assert_eq!(nul.status, 400, "NUL in a title");
    assert!(nul.body.contains("control characters"), "{}", nul.body);
    let long = "x".repeat(201);
    assert_eq!(
        s.upload(&session, &long, "", &torrent("b.txt"))
            .await
            .status,
        400
    );
    // Without the CSRF token: refused, nothing stored.
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let r = s
        .send_as(
            "POST",
            "/upload",
            &session,
            ct.as_bytes(),
            &multipart("", "", "", &torrent("c.txt")),
        )
        .await;
    assert_eq!(r.status, 403);
    // Not multipart at all, or a broken form: 400.
    assert_eq!(
        s.send("POST", "/upload", &session, "csrf=x").await.status,
        400
    );
    let broken = s
        .send_as(
            "POST",
            "/upload",
            &session,
            ct.as_bytes(),
            b"--XyZzYboundary\r\nContent-Disp",
        )
        .await;
    assert_eq!(broken.status, 400);
    let stored = s.db(|d| d.uploads(&Default::default(), 10, 0)).unwrap();
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_upload_waits_for_a_moderator() {
    let rec = Arc::new(Recorder::default());
    let s = private_site(rec.clone());
    s.account_with("uma", Role::User, [1; 16]);
    s.account_with("mod", Role::Moderator, [2; 16]);
    let user = s.session_of("uma").await;
    let a = s.upload(&user, "", "video", &torrent("w.mkv")).await;
    assert_eq!(a.status, 303);
    let hex = a.location.unwrap()["/account/uploads?added=".len()..].to_owned();
    let h = InfoHash::from_hex(&hex).unwrap();
    assert!(
        s.db(|d| d.catalog_entry(&h)).unwrap().is_none(),
        "not published yet"
    );
    assert!(rec.published.lock().unwrap().is_empty());
    // A user may not see or use the admin page.
    assert_eq!(s.send("GET", "/admin", &user, "").await.status, 403);
    let form = s.send("GET", "/account", &user, "").await;
    let csrf = form_csrf(&form.body);
    let r = s
        .send(
            "POST",
            &format!("/admin/upload/{hex}"),
            &user,
            &format!("csrf={csrf}&action=approve"),
        )
        .await;
    assert_eq!(r.status, 403);
    // The moderator approves it.
    let m = s.session_of("mod").await;
    let page = s.send("GET", "/admin", &m, "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("w.mkv"), "pending listed");
    let csrf = form_csrf(&page.body);
    let wrong = s
        .send(
            "POST",
            &format!("/admin/upload/{hex}"),
            &m,
            "csrf=00&action=approve",
        )
        .await;
    assert_eq!(wrong.status, 403, "a wrong CSRF token");
    let ok = s
        .send(
            "POST",
            &format!("/admin/upload/{hex}"),
            &m,
            &format!("csrf={csrf}&action=approve"),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(s.db(|d| d.catalog_entry(&h)).unwrap().is_some());
    assert_eq!(rec.published.lock().unwrap().len(), 1);
    // Freeleech on it.
    let on = s
        .send(
            "POST",
            &format!("/admin/upload/{hex}"),
            &m,
            &format!("csrf={csrf}&action=freeleech_on"),
        )
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(s.db(|d| d.freeleech_torrents()).unwrap(), vec![h]);
    // Moderators ban users, not other staff; only admins change roles and settings.
    let uma = s.db(|d| d.account("uma")).unwrap().unwrap();
    let modr = s.db(|d| d.account("mod")).unwrap().unwrap();
    let ban = s
        .send(
            "POST",
            &format!("/admin/user/{}", uma.id),
            &m,
            &format!("csrf={csrf}&action=ban"),
        )
        .await;
    assert_eq!(ban.status, 303);
    assert!(s.db(|d| d.account("uma")).unwrap().unwrap().banned);
    assert_eq!(
        s.send("GET", "/account", &user, "").await.status,
        303,
        "the banned user's session ended"
    );
    let role = s
        .send(
            "POST",
            &format!("/admin/user/{}", uma.id),
            &m,
            &format!("csrf={csrf}&action=role&role=admin"),
        )
        .await;
    assert_eq!(role.status, 403);
    let self_ban = s
        .send(
            "POST",
            &format!("/admin/user/{}", modr.id),
            &m,
            &format!("csrf={csrf}&action=ban"),
        )
        .await;
    assert_eq!(self_ban.status, 403);
    let settings = s
        .send(
            "POST",
            "/admin/settings",
            &m,
            &format!("csrf={csrf}&registration=open"),
        )
        .await;
    assert_eq!(settings.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_set_roles_quotas_and_settings_and_users_spend_invites() {
    let s = private_site(Arc::new(Recorder::default()));
    s.account_with("root", Role::Admin, [3; 16]);
    s.account_with("ann", Role::User, [4; 16]);
    let admin = s.session_of("root").await;
    let page = s.send("GET", "/admin?q=an", &admin, "").await;
    assert!(
        page.body.contains("ann") && !page.body.contains(">root<"),
        "search by prefix"
    );
    let csrf = form_csrf(&page.body);
    let ann = s.db(|d| d.account("ann")).unwrap().unwrap();
    let post = |body: String| {
        let s = &s;
        let admin = admin.clone();
        let id = ann.id;
        async move {
            s.send("POST", &format!("/admin/user/{id}"), &admin, &body)
                .await
                .status
        }
    };
    assert_eq!(
        post(format!("csrf={csrf}&action=role&role=uploader")).await,
        303
    );
    assert_eq!(post(format!("csrf={csrf}&action=quota&quota=1")).await, 303);
    assert_eq!(post(format!("csrf={csrf}&action=exempt_on")).await, 303);
    assert_eq!(
        post(format!("csrf={csrf}&action=quota&quota=-1")).await,
        400
    );
    let a = s.db(|d| d.account("ann")).unwrap().unwrap();
    assert_eq!(
        (a.role, a.invite_quota, a.ratio_exempt),
        (Role::Uploader, 1, true)
    );
    // The changes are logged for the trackers.
    let (_, rows) = s.db(|d| d.passkey_changes(0)).unwrap();
    assert!(rows.iter().any(|r| r.user_id == ann.id && r.ratio_exempt));
    // Settings: open registration.
    let set = s
        .send(
            "POST",
            "/admin/settings",
            &admin,
            &format!("csrf={csrf}&registration=open&freeleech=on"),
        )
        .await;
    assert_eq!(set.status, 303);
    let (_, values) = s.db(|d| d.site_settings()).unwrap();
    assert!(
        values.contains(&("freeleech".into(), "true".into())),
        "{values:?}"
    );
    let (cookie, token) = s.csrf().await;
    let r = s
        .send(
            "POST",
            "/register",
            &cookie,
            &format!("csrf={token}&invite=&name=newbie&password=long+enough&password2=long+enough"),
        )
        .await;
    assert_eq!(
        r.status, 303,
        "open registration needs no invite: {}",
        r.body
    );
    // Ann spends her one invite; the second is refused.
    let user = s.session_of("ann").await;
    let acc = s.send("GET", "/account", &user, "").await;
    let csrf = form_csrf(&acc.body);
    let made = s
        .send("POST", "/account/invite", &user, &format!("csrf={csrf}"))
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("id=\"invite-code\">").unwrap() + 17;
    let code = made.body[at..at + 32].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_hexdigit()), "{code}");
    let none = s
        .send("POST", "/account/invite", &user, &format!("csrf={csrf}"))
        .await;
    assert_eq!(none.status, 403);
    let (cookie, token) = s.csrf().await;
    let r = s
        .send(
            "POST",
            "/register",
            &cookie,
            &format!(
                "csrf={token}&invite={code}&name=friend&password=long+enough&password2=long+enough"
            ),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let friend = s.db(|d| d.account("friend")).unwrap().unwrap();
    assert_eq!(friend.invited_by, Some(ann.id));
    let invites = s.db(|d| d.invites(Some(ann.id), 10)).unwrap();
    assert_eq!(invites[0].used_by.as_deref(), Some("friend"));
}

/// Every staff form refuses a missing or wrong CSRF token, even from an admin, and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_forms_without_the_right_csrf_token_are_refused() {
    let s = private_site(Arc::new(Recorder::default()));
    s.account_with("root", Role::Admin, [3; 16]);
    s.account_with("uma", Role::User, [4; 16]);
    let uma = s.db(|d| d.account("uma")).unwrap().unwrap();
    let admin = s.session_of("root").await;
    let hex = "ab".repeat(20);
    for (path, rest) in [
        (format!("/admin/user/{}", uma.id), "&action=ban"),
        (format!("/admin/user/{}", uma.id), "&action=role&role=admin"),
        (format!("/admin/upload/{hex}"), "&action=freeleech_on"),
        ("/admin/settings".to_owned(), "&registration=open"),
        ("/account/invite".to_owned(), ""),
    ] {
        for csrf in ["".to_owned(), format!("csrf={}", "0".repeat(64))] {
            let r = s
                .send("POST", &path, &admin, &format!("{csrf}{rest}"))
                .await;
            assert_eq!(r.status, 403, "{path} {csrf:?}");
        }
    }
    let now = s.db(|d| d.account("uma")).unwrap().unwrap();
    assert_eq!((now.banned, now.role), (false, Role::User));
    assert!(s.db(|d| d.site_settings()).unwrap().1.is_empty());
    assert!(s.db(|d| d.invites(None, 10)).unwrap().is_empty());
}

/// The account page shows seeding time, bonus points, torrents still to seed and hits
/// and runs; points buy upload credit once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_earns_points_and_hits_and_runs_show() {
    let s = site_with(
        PortalConfig {
            hit_and_run: Some(shoal_store::HitAndRun {
                seed_secs: 72 * 3600,
                grace_secs: 86_400,
            }),
            bonus_seconds_per_point: 3600,
            bonus_upload_per_point: 1 << 30,
            ..PortalConfig::default()
        },
        Arc::new(NoTracker),
    );
    s.account_with("sam", Role::User, [5; 16]);
    let sam = s.db(|d| d.account("sam")).unwrap().unwrap();
    let now = unix_now();
    let row = |h: u8, seeded: u64, at: u64| shoal_store::TrafficRow {
        user_id: sam.id,
        info_hash: InfoHash([h; 20]),
        uploaded: 0,
        downloaded: 100,
        seeding: true,
        active: true,
        completed: true,
        seeded,
        at,
    };
    // One completed two days ago and barely seeded (a hit and run); one completed now
    // with 10 hours seeded (62 to go).
    s.db(|d| d.add_traffic(&[row(1, 3600, now - 2 * 86_400), row(2, 10 * 3600, now)]))
        .unwrap();
    let session = s.session_of("sam").await;
    let page = s.send("GET", "/account", &session, "").await;
    assert!(page.body.contains("Hit and run"), "{}", page.body);
    assert!(
        page.body.contains("62.0 h"),
        "hours still owed: {}",
        page.body
    );
    assert!(
        page.body.contains("<dd>11</dd>"),
        "11 points: {}",
        page.body
    );
    let csrf = form_csrf(&page.body);
    let spend = |n: u64| {
        let (s, session, csrf) = (&s, session.clone(), csrf.clone());
        async move {
            s.send(
                "POST",
                "/account/bonus",
                &session,
                &format!("csrf={csrf}&points={n}"),
            )
            .await
            .location
        }
    };
    assert_eq!(spend(12).await.as_deref(), Some("/account?done=no-bonus"));
    assert_eq!(spend(10).await.as_deref(), Some("/account?done=bonus"));
    let sam = s.db(|d| d.account("sam")).unwrap().unwrap();
    assert_eq!((sam.bonus_spent, sam.uploaded), (10, 10 << 30));
    assert_eq!(
        spend(2).await.as_deref(),
        Some("/account?done=no-bonus"),
        "one left"
    );
    let wrong = s
        .send("POST", "/account/bonus", &session, "csrf=00&points=1")
        .await;
    assert_eq!(wrong.status, 403);
    // Admins see each account's hits and runs.
    s.account_with("root", Role::Admin, [6; 16]);
    let admin = s.session_of("root").await;
    let page = s.send("GET", "/admin?q=sam", &admin, "").await;
    assert!(page.body.contains("Hits and runs"), "{}", page.body);
    let row = &page.body[page.body.find(">sam").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td class=\"num\">1</td>"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_hide_previews_and_deny_files_on_the_admin_page() {
    let tracker = Arc::new(Recorder::default());
    let s = private_site(tracker.clone());
    s.account_with("mod", Role::Moderator, [5; 16]);
    s.account_with("joe", Role::User, [6; 16]);
    let m = s.session_of("mod").await;
    let page = s.send("GET", "/admin", &m, "").await;
    assert!(
        page.body.contains("id=\"h-preview-moderation\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&"ab".repeat(32)),
        "the deny list is shown"
    );
    let csrf = form_csrf(&page.body);
    let hex = "5a".repeat(20);
    let sha = "cd".repeat(32);
    let post = |body: String| {
        let (s, m) = (&s, m.clone());
        async move { s.send("POST", "/admin/preview", &m, &body).await.status }
    };
    assert_eq!(
        post(format!("csrf={csrf}&action=hide&info_hash={hex}&path=")).await,
        303
    );
    assert_eq!(
        post(format!(
            "csrf={csrf}&action=hide&info_hash={hex}&path=a%2Fcover.jpg"
        ))
        .await,
        303
    );
    assert_eq!(
        post(format!("csrf={csrf}&action=deny&sha256={sha}")).await,
        303
    );
    assert_eq!(
        post(format!("csrf={csrf}&action=allow&sha256={sha}")).await,
        303
    );
    assert_eq!(
        post(format!("csrf={csrf}&action=deny&sha256=xyz")).await,
        400
    );
    assert_eq!(
        post(format!("csrf={csrf}&action=hide&info_hash=nothex")).await,
        400
    );
    assert_eq!(post(format!("csrf={csrf}&action=burn")).await, 400);
    assert_eq!(
        post(format!("action=deny&sha256={sha}")).await,
        403,
        "no CSRF token"
    );
    assert_eq!(
        *tracker.preview.lock().unwrap(),
        vec![
            ("hide".to_string(), hex.clone(), None),
            (
                "hide".to_string(),
                hex.clone(),
                Some("a/cover.jpg".to_string())
            ),
            ("deny".to_string(), sha.clone(), None),
            ("allow".to_string(), sha.clone(), None),
        ]
    );
    // Users do not moderate.
    let j = s.session_of("joe").await;
    let r = s
        .send(
            "POST",
            "/admin/preview",
            &j,
            &format!("csrf={csrf}&action=deny&sha256={sha}"),
        )
        .await;
    assert_eq!(r.status, 403);
    for lang in ["ru", "uk", "zh"] {
        let page = s.send("GET", &format!("/admin?lang={lang}"), &m, "").await;
        assert!(
            !page.body.contains("portal_admin_preview"),
            "an untranslated key in {lang}"
        );
    }
}

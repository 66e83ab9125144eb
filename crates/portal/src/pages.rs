//! The router, handlers and templates.

// Helpers return the answer to send instead of going on (`Err(Response)`): one per
// request, never on a hot path, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use shoal_store::{Account, Backend, NewAccount, NewSession, Role, Session, StoreError};
use shoal_web::{Frame, Web};
use tower::ServiceExt;

use crate::limit::{Limits, LoginLimiter};
use crate::password::{hash_password, valid_name, valid_password, verify_nothing, verify_password};
use crate::session::{
    clear_cookie, cookie, csrf_matches, invite_hash, set_cookie, Token, CSRF_COOKIE, SESSION_COOKIE,
};

/// Bytes an upload form may carry beyond the `.torrent` itself (title, description,
/// category, token and the multipart framing).
pub const UPLOAD_FORM_OVERHEAD: usize = 64 * 1024;

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Nobody: accounts come from `shoal user add`.
    Off,
    /// Whoever has an invite code.
    Invite,
    /// Anyone.
    Open,
}

impl Registration {
    /// The name in the configuration and the site's settings.
    pub fn key(self) -> &'static str {
        match self {
            Registration::Off => "off",
            Registration::Invite => "invite",
            Registration::Open => "open",
        }
    }

    /// The setting a name stands for.
    pub fn from_key(key: &str) -> Option<Registration> {
        [Registration::Off, Registration::Invite, Registration::Open]
            .into_iter()
            .find(|r| r.key() == key)
    }
}

/// What the portal needs from the tracker it runs beside.
pub trait Tracker: Send + Sync {
    /// The announce URLs a client that reached the site at `host` would use, without a
    /// passkey (the portal appends `/<passkey>`).
    fn announce_urls(&self, host: Option<&str>) -> Vec<String>;
    /// A torrent was published (its entry is in the store's catalog, and in its access
    /// list when `list_uploads`): track it now and make it searchable.
    fn published(&self, entry: &shoal_store::CatalogEntry);
    /// Whether the catalog's content preview is on (the admin page then moderates it).
    fn preview_on(&self) -> bool {
        false
    }
    /// Hides a torrent's preview (`path` none) or one file of it: how many files' bytes
    /// were deleted, or `None` when there was nothing to hide.
    fn hide_preview(
        &self,
        h: &shoal_store::InfoHash,
        path: Option<&str>,
    ) -> Result<Option<usize>, String> {
        let _ = (h, path);
        Err("the preview is off".into())
    }
    /// Puts a preview file on the deny list (`deny`) or takes it off.
    fn deny_preview(&self, sha256: &[u8; 32], deny: bool) -> Result<bool, String> {
        let _ = (sha256, deny);
        Err("the preview is off".into())
    }
    /// The preview deny list: file hashes and when each was added, newest first.
    fn preview_denied(&self) -> Result<Vec<([u8; 32], u64)>, String> {
        Ok(Vec::new())
    }
}

/// A [`Tracker`] that knows no URLs and does nothing on publishing (tests, tools).
pub struct NoTracker;

impl Tracker for NoTracker {
    fn announce_urls(&self, _: Option<&str>) -> Vec<String> {
        Vec::new()
    }
    fn published(&self, _: &shoal_store::CatalogEntry) {}
}

/// The portal's settings.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Who may register.
    pub registration: Registration,
    /// Seconds a login lasts.
    pub session_lifetime: u64,
    /// Failed-login limits.
    pub login_limits: Limits,
    /// Uploaded torrents get BEP 27's private flag (private mode).
    pub private: bool,
    /// Published torrents join the access list (it admits only listed torrents).
    pub list_uploads: bool,
    /// Largest `.torrent` accepted, in bytes.
    pub max_torrent_bytes: usize,
    /// The least role whose uploads are published without a moderator's approval.
    pub publish_role: Role,
    /// Seconds an invite made on the site is valid.
    pub invite_lifetime: u64,
    /// The hit-and-run rule (`None`: none).
    pub hit_and_run: Option<shoal_store::HitAndRun>,
    /// Seconds of seeding that earn one bonus point.
    pub bonus_seconds_per_point: u64,
    /// Bytes of upload credit a point buys (0: points are not exchanged).
    pub bonus_upload_per_point: u64,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            private: false,
            list_uploads: false,
            max_torrent_bytes: 4 << 20,
            publish_role: Role::Uploader,
            invite_lifetime: 7 * 86_400,
            hit_and_run: None,
            bonus_seconds_per_point: 3600,
            bonus_upload_per_point: 0,
            registration: Registration::Invite,
            session_lifetime: 30 * 86_400,
            login_limits: Limits {
                per_addr: 20,
                per_name: 10,
                window: 600,
                max_tracked: 100_000,
            },
        }
    }
}

/// Where a request came from, as the front end saw it (an extension of every request).
#[derive(Debug, Clone, Copy)]
pub struct Client {
    /// The client's address (after trusted-proxy resolution).
    pub addr: IpAddr,
    /// Whether it came over HTTPS (cookies get `Secure`).
    pub https: bool,
}

/// One request as the tracker's HTTP loop read it.
#[derive(Debug, Clone, Copy)]
pub struct PortalRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The path, before `?`.
    pub path: &'a str,
    /// The query, after `?`.
    pub query: &'a str,
    /// `Cookie`.
    pub cookie: Option<&'a [u8]>,
    /// `Host`.
    pub host: Option<&'a [u8]>,
    /// `Accept-Language`.
    pub accept_language: Option<&'a [u8]>,
    /// `Content-Type`.
    pub content_type: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
    /// Where it came from.
    pub client: Client,
}

/// What a response's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A page.
    Html,
    /// Plain text.
    Text,
    /// A `.torrent` file.
    Torrent,
}

impl BodyKind {
    /// The `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            BodyKind::Html => "text/html; charset=utf-8",
            BodyKind::Text => "text/plain; charset=utf-8",
            BodyKind::Torrent => "application/x-bittorrent",
        }
    }
}

/// The answer, for the tracker's HTTP loop to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalResponse {
    /// The status.
    pub status: u16,
    /// What the body is.
    pub kind: BodyKind,
    /// Header lines other than Content-Type and Content-Length, each ending in CRLF.
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

struct Inner {
    store: Arc<dyn Backend>,
    tracker: Arc<dyn Tracker>,
    config: PortalConfig,
    limiter: Mutex<LoginLimiter>,
    web: Web,
    /// Password hashes and checks running at once: each takes 19 MiB and a core for
    /// tens of milliseconds, so a flood of logins queues here instead of filling the
    /// blocking pool (and memory).
    hashing: tokio::sync::Semaphore,
}

type App = Arc<Inner>;

/// The site's account pages.
pub struct Portal {
    router: Router,
    store: Arc<dyn Backend>,
}

impl Portal {
    /// The portal over this store handle.
    pub fn new(store: Arc<dyn Backend>, config: PortalConfig, tracker: Arc<dyn Tracker>) -> Portal {
        // The file and the form's other fields and framing.
        let upload_limit = config.max_torrent_bytes + UPLOAD_FORM_OVERHEAD;
        let app = Arc::new(Inner {
            store: store.clone(),
            tracker,
            limiter: Mutex::new(LoginLimiter::new(config.login_limits)),
            config,
            web: Web::default().with_account_link(true),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        });
        let router = Router::new()
            .route("/register", get(register_form).post(register))
            .route("/login", get(login_form).post(login))
            .route("/logout", post(logout))
            .route("/account", get(account))
            .route("/account/password", post(change_password))
            .route("/account/passkey", post(reset_passkey))
            .route("/account/invite", post(admin::create_invite))
            .route("/account/bonus", post(spend_bonus))
            .route("/account/uploads", get(publish::my_uploads))
            .route(
                "/upload",
                get(publish::upload_form)
                    .post(publish::upload)
                    .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
            )
            .route("/download/{file}", get(publish::download))
            .route("/admin", get(admin::admin_page))
            .route("/admin/upload/{hex}", post(admin::upload_action))
            .route("/admin/user/{id}", post(admin::user_action))
            .route("/admin/settings", post(admin::settings))
            .route("/admin/preview", post(admin::preview_action))
            .fallback(not_found)
            .with_state(app);
        Portal { router, store }
    }

    /// What the site knows of an uploaded torrent (by either hash of a hybrid), for the
    /// torrent's page; `None` when it was not uploaded or the store failed. Called where
    /// blocking is allowed, like [`Portal::handle_blocking`].
    pub fn upload(&self, h: &shoal_store::InfoHash) -> Option<shoal_store::Upload> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (store, h) = (self.store.clone(), *h);
        runtime
            .block_on(blocking(move || store.upload(&h)))
            .and_then(|r| r.ok())
            .flatten()
    }

    /// The router (each request needs a [`Client`] extension).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Answers one request from a thread that may block (the HTTP front end runs the
    /// portal's paths under `block_in_place`): the router runs to completion on the
    /// current tokio runtime.
    pub fn handle_blocking(&self, req: &PortalRequest<'_>) -> PortalResponse {
        let plain = |status: u16, text: &str| PortalResponse {
            status,
            kind: BodyKind::Text,
            headers: String::new(),
            body: text.as_bytes().to_vec(),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return plain(503, "the site is not running\n");
        };
        let Some(request) = build_request(req) else {
            return plain(400, "bad request\n");
        };
        runtime.block_on(async {
            let response = match self.router.clone().oneshot(request).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            flatten(response).await
        })
    }
}

fn build_request(req: &PortalRequest<'_>) -> Option<Request<Body>> {
    let uri = if req.query.is_empty() {
        req.path.to_owned()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let mut b = Request::builder().method(req.method).uri(uri);
    for (name, value) in [
        (header::COOKIE, req.cookie),
        (header::HOST, req.host),
        (header::ACCEPT_LANGUAGE, req.accept_language),
        (header::CONTENT_TYPE, req.content_type),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            b = b.header(name, v);
        }
    }
    let mut request = b.body(Body::from(req.body.to_vec())).ok()?;
    request.extensions_mut().insert(req.client);
    Some(request)
}

/// A response as status, header lines and body bytes.
async fn flatten(response: Response) -> PortalResponse {
    let (parts, body) = response.into_parts();
    let kind = match parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes())
    {
        Some(t) if t.starts_with(b"text/html") => BodyKind::Html,
        Some(b"application/x-bittorrent") => BodyKind::Torrent,
        _ => BodyKind::Text,
    };
    let mut headers = String::new();
    for (name, value) in &parts.headers {
        if name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH {
            continue;
        }
        let Ok(value) = value.to_str() else {
            continue;
        };
        headers.push_str(&title_case(name.as_str()));
        headers.push_str(": ");
        headers.push_str(value);
        headers.push_str("\r\n");
    }
    // Our own pages and .torrent files: already in memory.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    PortalResponse {
        status: parts.status.as_u16(),
        kind,
        headers,
        body,
    }
}

/// `set-cookie` → `Set-Cookie`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Torrents an account announced within this long and did not stop count as "now"
/// (as in `shoal user show`).
const LIVE_WINDOW: u64 = 3600;

/// What a handler knows of its request.
struct Ctx {
    path: String,
    query: String,
    cookie: Option<String>,
    accept_language: Option<String>,
    host: Option<String>,
    client: Client,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let text = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(Ctx {
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            cookie: text(header::COOKIE),
            accept_language: text(header::ACCEPT_LANGUAGE),
            host: text(header::HOST),
            client: parts.extensions.get::<Client>().copied().unwrap_or(Client {
                addr: IpAddr::from([0, 0, 0, 0]),
                https: false,
            }),
        })
    }
}

impl Ctx {
    fn frame<'a>(&'a self, web: &'a Web) -> Frame<'a> {
        web.frame(&shoal_web::Request {
            path: &self.path,
            query: &self.query,
            accept_language: self.accept_language.as_deref(),
            cookie: self.cookie.as_deref(),
            host: self.host.as_deref(),
        })
    }

    fn cookie(&self, name: &str) -> Option<Token> {
        Token::from_hex(cookie(self.cookie.as_deref()?, name)?)
    }

    /// The CSRF token of forms shown before login, and the cookie to set when the
    /// browser has none yet.
    fn anonymous_csrf(&self) -> Result<(Token, Option<String>), Response> {
        if let Some(t) = self.cookie(CSRF_COOKIE) {
            return Ok((t, None));
        }
        let t = Token::generate().map_err(|_| plain(503, "no randomness"))?;
        let c = set_cookie(CSRF_COOKIE, &t.to_hex(), None, self.client.https);
        Ok((t, Some(c)))
    }

    /// The query parameter `key`, percent-decoded.
    fn param(&self, key: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| percent_decode(v))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("x"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn plain(status: u16, text: &'static str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
        .into_response()
}

/// A page in the site's layout: `main` under the title, never cached, with these
/// cookies (and the language cookie when `?lang=` chose it).
fn render(
    app: &Inner,
    ctx: &Ctx,
    status: StatusCode,
    title: &'static str,
    cookies: &[String],
    main: impl FnOnce(&Frame<'_>) -> Markup,
) -> Response {
    let frame = ctx.frame(&app.web);
    let current = if title == "portal_account_title" {
        "/account"
    } else {
        ""
    };
    let page = frame.layout(frame.t(title), current, main(&frame));
    let mut r = (status, page.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if frame.chosen() {
        let lang = format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            frame.lang().code()
        );
        if let Ok(v) = HeaderValue::from_str(&lang) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// `303 See Other` to `location`, with these cookies.
fn redirect(location: &'static str, cookies: &[String]) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(location));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A page with one message.
fn message(
    app: &Inner,
    ctx: &Ctx,
    status: StatusCode,
    title: &'static str,
    key: &'static str,
) -> Response {
    render(app, ctx, status, title, &[], |f| {
        html! { p class="error" role="alert" { (f.t(key)) } }
    })
}

/// A form without the right CSRF token.
fn forbidden(app: &Inner, ctx: &Ctx) -> Response {
    message(
        app,
        ctx,
        StatusCode::FORBIDDEN,
        "portal_forbidden_title",
        "portal_bad_form",
    )
}

fn store_failed(app: &Inner, ctx: &Ctx) -> Response {
    message(
        app,
        ctx,
        StatusCode::SERVICE_UNAVAILABLE,
        "portal_error_title",
        "portal_store_failed",
    )
}

/// Runs store calls where blocking is allowed. `None` when it panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Runs work that hashes or checks a password: like [`blocking`], at most one per core.
async fn hashing<T: Send + 'static>(
    app: &Inner,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let _permit = app.hashing.acquire().await.ok()?;
    blocking(f).await
}

/// The logged-in session: its token and the session (`None` when there is none, it
/// expired, or its account is banned).
async fn current(app: &App, ctx: &Ctx) -> Result<Option<(Token, Session)>, Response> {
    let Some(token) = ctx.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let store = app.store.clone();
    let found = blocking(move || store.session(token.hash(), unix_now())).await;
    match found {
        Some(Ok(Some(s))) if !s.account.banned => Ok(Some((token, s))),
        Some(Ok(_)) => Ok(None),
        _ => Err(store_failed(app, ctx)),
    }
}

/// Starts a session for `user_id`: stores it and returns the cookie to set.
async fn start_session(app: &App, ctx: &Ctx, user_id: u64) -> Result<String, Response> {
    let (Ok(token), Ok(csrf)) = (Token::generate(), Token::generate()) else {
        return Err(store_failed(app, ctx));
    };
    let now = unix_now();
    let lifetime = app.config.session_lifetime;
    let store = app.store.clone();
    let session = NewSession {
        token_hash: token.hash(),
        user_id,
        csrf: csrf.0,
        created_at: now,
        expires_at: now.saturating_add(lifetime),
    };
    match blocking(move || store.create_session(&session)).await {
        Some(Ok(())) => Ok(set_cookie(
            SESSION_COOKIE,
            &token.to_hex(),
            Some(lifetime),
            ctx.client.https,
        )),
        _ => Err(store_failed(app, ctx)),
    }
}

async fn not_found(State(app): State<App>, ctx: Ctx) -> Response {
    render(
        &app,
        &ctx,
        StatusCode::NOT_FOUND,
        "not_found_title",
        &[],
        |f| html! { p { (f.t("not_found_text")) } },
    )
}

// ---- login ----

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct LoginForm {
    csrf: Option<String>,
    name: String,
    password: String,
}

fn login_page(
    app: &Inner,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<&'static str>,
    name: &str,
    csrf: &Token,
    cookies: &[String],
) -> Response {
    let registration = app.config.registration != Registration::Off;
    render(app, ctx, status, "portal_login_title", cookies, |f| {
        html! {
            @if let Some(e) = error {
                p class="error" role="alert" { (f.t(e)) }
            }
            form class="form" method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf.to_hex());
                label { (f.t("portal_name"))
                    input type="text" name="name" value=(name) required autocomplete="username" maxlength="32";
                }
                label { (f.t("portal_password"))
                    input type="password" name="password" required autocomplete="current-password" maxlength="1024";
                }
                button type="submit" { (f.t("portal_login_button")) }
            }
            @if registration {
                p { a href="/register" { (f.t("portal_to_register")) } }
            }
        }
    })
}

async fn login_form(State(app): State<App>, ctx: Ctx) -> Response {
    match current(&app, &ctx).await {
        Ok(Some(_)) => return redirect("/account", &[]),
        Ok(None) => {}
        Err(r) => return r,
    }
    let (csrf, set) = match ctx.anonymous_csrf() {
        Ok(t) => t,
        Err(r) => return r,
    };
    let cookies: Vec<String> = set.into_iter().collect();
    login_page(&app, &ctx, StatusCode::OK, None, "", &csrf, &cookies)
}

enum Login {
    Ok(Account),
    Wrong,
    Banned,
}

async fn login(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let Some(expected) = ctx.cookie(CSRF_COOKIE) else {
        return forbidden(&app, &ctx);
    };
    if !csrf_matches(&expected, form.csrf.as_deref()) {
        return forbidden(&app, &ctx);
    }
    let name = form.name.trim().to_owned();
    let addr = ctx.client.addr;
    let allowed = app
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .allows(addr, &name, unix_now());
    let page = |status, error| login_page(&app, &ctx, status, Some(error), &name, &expected, &[]);
    if !allowed {
        return page(StatusCode::TOO_MANY_REQUESTS, "portal_rate_limited");
    }
    let store = app.store.clone();
    let (n, password) = (name.clone(), form.password);
    let outcome = hashing(&app, move || -> Result<Login, StoreError> {
        Ok(match store.credentials(&n)? {
            Some((account, Some(hash))) => {
                if !verify_password(&password, &hash) {
                    Login::Wrong
                } else if account.banned {
                    Login::Banned
                } else {
                    Login::Ok(account)
                }
            }
            // No such account, or one without a password: the same answer after the
            // same work.
            _ => {
                verify_nothing(&password);
                Login::Wrong
            }
        })
    })
    .await;
    match outcome {
        Some(Ok(Login::Ok(account))) => {
            app.limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .succeeded(&name);
            match start_session(&app, &ctx, account.id).await {
                Ok(cookie) => redirect("/account", &[cookie]),
                Err(r) => r,
            }
        }
        Some(Ok(Login::Wrong)) => {
            app.limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failed(addr, &name, unix_now());
            page(StatusCode::UNAUTHORIZED, "portal_wrong_login")
        }
        Some(Ok(Login::Banned)) => page(StatusCode::FORBIDDEN, "portal_banned"),
        _ => store_failed(&app, &ctx),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let (token, session) = match current(&app, &ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return redirect("/login", &[clear_cookie(SESSION_COOKIE, ctx.client.https)]),
        Err(r) => return r,
    };
    if !csrf_matches(&Token(session.csrf), form.csrf.as_deref()) {
        return forbidden(&app, &ctx);
    }
    let store = app.store.clone();
    match blocking(move || store.delete_session(token.hash())).await {
        Some(Ok(_)) => redirect("/login", &[clear_cookie(SESSION_COOKIE, ctx.client.https)]),
        _ => store_failed(&app, &ctx),
    }
}

// ---- registration ----

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RegisterForm {
    csrf: Option<String>,
    invite: String,
    name: String,
    password: String,
    password2: String,
}

#[allow(clippy::too_many_arguments)]
fn register_page(
    app: &Inner,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<&'static str>,
    form: &RegisterForm,
    csrf: &Token,
    cookies: &[String],
    mode: Registration,
) -> Response {
    render(app, ctx, status, "portal_register_title", cookies, |f| {
        html! {
            @if let Some(e) = error {
                p class="error" role="alert" { (f.t(e)) }
            }
            form class="form" method="post" action="/register" {
                input type="hidden" name="csrf" value=(csrf.to_hex());
                @if mode == Registration::Invite {
                    label { (f.t("portal_invite_code"))
                        input type="text" name="invite" value=(form.invite) required autocomplete="off" maxlength="128";
                    }
                } @else {
                    label { (f.t("portal_invite_code_optional"))
                        input type="text" name="invite" value=(form.invite) autocomplete="off" maxlength="128";
                    }
                }
                label { (f.t("portal_name"))
                    input type="text" name="name" value=(form.name) required autocomplete="username" minlength="2" maxlength="32";
                }
                label { (f.t("portal_password"))
                    input type="password" name="password" required autocomplete="new-password" minlength="8" maxlength="1024";
                }
                label { (f.t("portal_password_again"))
                    input type="password" name="password2" required autocomplete="new-password" minlength="8" maxlength="1024";
                }
                button type="submit" { (f.t("portal_register_button")) }
            }
            p { a href="/login" { (f.t("portal_to_login")) } }
        }
    })
}

/// Who may register now: the site's setting, else the configuration's.
async fn registration(app: &App) -> Registration {
    let store = app.store.clone();
    let set = blocking(move || store.site_settings()).await;
    set.and_then(|r| r.ok())
        .and_then(|(_, s)| {
            s.into_iter()
                .find(|(k, _)| k == "registration")
                .and_then(|(_, v)| Registration::from_key(&v))
        })
        .unwrap_or(app.config.registration)
}

async fn register_form(State(app): State<App>, ctx: Ctx) -> Response {
    let mode = registration(&app).await;
    if mode == Registration::Off {
        return message(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            "portal_register_title",
            "portal_registration_closed",
        );
    }
    let (csrf, set) = match ctx.anonymous_csrf() {
        Ok(t) => t,
        Err(r) => return r,
    };
    let form = RegisterForm {
        invite: ctx.param("invite").unwrap_or_default(),
        ..RegisterForm::default()
    };
    let cookies: Vec<String> = set.into_iter().collect();
    register_page(
        &app,
        &ctx,
        StatusCode::OK,
        None,
        &form,
        &csrf,
        &cookies,
        mode,
    )
}

async fn register(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let Some(expected) = ctx.cookie(CSRF_COOKIE) else {
        return forbidden(&app, &ctx);
    };
    if !csrf_matches(&expected, form.csrf.as_deref()) {
        return forbidden(&app, &ctx);
    }
    let mode = registration(&app).await;
    if mode == Registration::Off {
        return message(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            "portal_register_title",
            "portal_registration_closed",
        );
    }
    let name = form.name.trim().to_owned();
    let refuse = |status, error| {
        let shown = RegisterForm {
            csrf: None,
            invite: form.invite.clone(),
            name: name.clone(),
            password: String::new(),
            password2: String::new(),
        };
        register_page(
            &app,
            &ctx,
            status,
            Some(error),
            &shown,
            &expected,
            &[],
            mode,
        )
    };
    if !valid_name(&name) {
        return refuse(StatusCode::BAD_REQUEST, "portal_bad_name");
    }
    if !valid_password(&form.password) {
        return refuse(StatusCode::BAD_REQUEST, "portal_bad_password");
    }
    if form.password != form.password2 {
        return refuse(StatusCode::BAD_REQUEST, "portal_passwords_differ");
    }
    let invited = !form.invite.trim().is_empty();
    if !invited && mode != Registration::Open {
        return refuse(StatusCode::BAD_REQUEST, "portal_bad_invite");
    }
    let store = app.store.clone();
    let (n, password, code) = (
        name.clone(),
        form.password.clone(),
        invite_hash(&form.invite),
    );
    let made = hashing(&app, move || -> Result<Option<Account>, StoreError> {
        let hash = hash_password(&password).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let mut passkey = [0u8; 16];
        getrandom::fill(&mut passkey).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let now = unix_now();
        let new = NewAccount {
            name: &n,
            role: Role::User,
            passkey,
            password_hash: Some(&hash),
            invited_by: None,
            created_at: now,
        };
        if invited {
            store.register(&new, code, now)
        } else {
            store.add_account(&new).map(Some)
        }
    })
    .await;
    match made {
        Some(Ok(Some(account))) => match start_session(&app, &ctx, account.id).await {
            Ok(cookie) => redirect("/account", &[cookie]),
            Err(r) => r,
        },
        Some(Ok(None)) => refuse(StatusCode::BAD_REQUEST, "portal_bad_invite"),
        Some(Err(StoreError::Conflict(_))) => refuse(StatusCode::CONFLICT, "portal_name_taken"),
        _ => store_failed(&app, &ctx),
    }
}

// ---- the account ----

/// The request's `Host` when it is a plain host name or address with an optional port,
/// safe to put in a URL.
fn plain_host(host: Option<&str>) -> Option<&str> {
    host.filter(|h| {
        !h.is_empty()
            && h.len() <= 262
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    })
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::User => "portal_role_user",
        Role::Uploader => "portal_role_uploader",
        Role::Moderator => "portal_role_moderator",
        Role::Admin => "portal_role_admin",
    }
}

async fn account(State(app): State<App>, ctx: Ctx) -> Response {
    let notice = match ctx.param("done").as_deref() {
        Some("password") => Some(("portal_password_changed", false)),
        Some("passkey") => Some(("portal_passkey_reset", false)),
        Some("bonus") => Some(("portal_bonus_spent", false)),
        Some("no-bonus") => Some(("portal_bonus_short", true)),
        _ => None,
    };
    account_page(&app, &ctx, StatusCode::OK, notice).await
}

/// The logged-in account's page (a redirect to the login without a session), with a
/// notice or an error above it.
async fn account_page(
    app: &App,
    ctx: &Ctx,
    status: StatusCode,
    notice: Option<(&'static str, bool)>,
) -> Response {
    let session = match admin::staff(app, ctx, Role::User).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let a = session.account;
    let store = app.store.clone();
    let id = a.id;
    let loaded = blocking(move || -> Result<_, StoreError> {
        let torrents = store.account_torrents(id)?;
        let hashes: Vec<_> = torrents.iter().map(|t| t.info_hash).collect();
        let names = store.catalog_summaries(&hashes)?;
        let invites = store.invites(Some(id), 50)?;
        Ok((torrents, names, invites))
    })
    .await;
    let Some(Ok((torrents, names, invites))) = loaded else {
        return store_failed(app, ctx);
    };
    let now = unix_now();
    let live = |t: &&shoal_store::AccountTorrent| {
        t.active && t.last_announce.saturating_add(LIVE_WINDOW) >= now
    };
    let seeding: Vec<_> = torrents.iter().filter(live).filter(|t| t.seeding).collect();
    let leeching: Vec<_> = torrents
        .iter()
        .filter(live)
        .filter(|t| !t.seeding)
        .collect();
    let snatched = torrents.iter().filter(|t| t.snatched).count() as u64;
    let seeded: u64 = torrents.iter().map(|t| t.seed_time).sum();
    let points = bonus_points(seeded, app.config.bonus_seconds_per_point, a.bonus_spent);
    let rule = app.config.hit_and_run;
    // Completed torrents the rule still asks to seed, and those it counts as hits and runs.
    let owed: Vec<_> = rule
        .map(|r| {
            torrents
                .iter()
                .filter(|t| r.owed(t, now).is_some())
                .collect()
        })
        .unwrap_or_default();
    let hit_and_runs: Vec<_> = rule
        .map(|r| torrents.iter().filter(|t| r.broken(t, now)).collect())
        .unwrap_or_default();
    let name_of = |h: &shoal_store::InfoHash| {
        names
            .iter()
            .find(|s| s.info_hash == *h)
            .map(|s| s.name.clone())
    };
    let passkey = hex::encode(a.passkey);
    let scheme = if ctx.client.https { "https" } else { "http" };
    let announce =
        plain_host(ctx.host.as_deref()).map(|h| format!("{scheme}://{h}/announce/{passkey}"));
    let csrf = Token(session.csrf).to_hex();
    render(app, ctx, status, "portal_account_title", &[], |f| {
        let ratio = if a.downloaded == 0 {
            f.t("portal_ratio_none").to_owned()
        } else {
            f.decimal(a.uploaded as f64 / a.downloaded as f64, 3)
        };
        let stat = |key: &'static str, value: String| {
            html! { div class="stat" { dt { (f.t(key)) } dd { (value) } } }
        };
        let table = |id: &str, heading: &'static str, rows: &[&shoal_store::AccountTorrent]| {
            html! {
                section aria-labelledby=(id) {
                    h2 id=(id) { (f.t(heading)) " (" (f.int(rows.len() as u64)) ")" }
                    @if rows.is_empty() {
                        p class="note" { (f.t("portal_no_torrents")) }
                    } @else {
                        div class="table-wrap" {
                            table {
                                thead { tr {
                                    th scope="col" { (f.t("portal_torrent")) }
                                    th scope="col" class="num" { (f.t("portal_uploaded")) }
                                    th scope="col" class="num" { (f.t("portal_downloaded")) }
                                    th scope="col" class="num" { (f.t("portal_seed_time")) }
                                    @if rule.is_some() { th scope="col" { (f.t("portal_to_seed")) } }
                                } }
                                tbody {
                                    @for t in rows {
                                        @let hex = t.info_hash.to_hex();
                                        tr {
                                            td class="name" {
                                                a href={ "/torrent/" (hex) } {
                                                    @match name_of(&t.info_hash) {
                                                        Some(n) => (n),
                                                        None => code class="hash" { (hex) },
                                                    }
                                                }
                                            }
                                            td class="num" { (f.bytes(t.uploaded)) }
                                            td class="num" { (f.bytes(t.downloaded)) }
                                            td class="num" { (hours(f, t.seed_time)) }
                                            @if let Some(r) = rule {
                                                td {
                                                    @if r.broken(t, now) {
                                                        strong class="warn" { (f.t("portal_hit_and_run")) }
                                                    } @else if let Some((left, by)) = r.owed(t, now) {
                                                        (hours(f, left)) " · " (f.t("portal_by")) " " (f.date(by))
                                                    } @else if t.snatched {
                                                        "✓"
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        html! {
            @if let Some((key, error)) = notice {
                @if error {
                    p class="error" role="alert" { (f.t(key)) }
                } @else {
                    p class="notice" role="status" { (f.t(key)) }
                }
            }
            section aria-labelledby="h-totals" {
                h2 id="h-totals" { (f.t("portal_totals")) }
                dl class="stats" {
                    (stat("portal_name", a.name.clone()))
                    (stat("portal_role", f.t(role_key(a.role)).to_owned()))
                    (stat("portal_uploaded", f.bytes(a.uploaded)))
                    (stat("portal_downloaded", f.bytes(a.downloaded)))
                    (stat("portal_ratio", ratio))
                    (stat("portal_snatched", f.int(snatched)))
                    (stat("portal_seed_time", hours(f, seeded)))
                    (stat("portal_bonus", f.int(points)))
                    @if rule.is_some() {
                        (stat("portal_hit_and_runs", f.int(hit_and_runs.len() as u64)))
                    }
                }
                @if app.config.bonus_upload_per_point > 0 {
                    form class="inline-form" method="post" action="/account/bonus" {
                        input type="hidden" name="csrf" value=(csrf);
                        label { (f.t("portal_bonus_exchange")) " (" (f.bytes(app.config.bonus_upload_per_point)) ")"
                            input type="number" name="points" min="1" max=(points.max(1)) value="1";
                        }
                        button type="submit" disabled[points == 0] { (f.t("portal_bonus_spend")) }
                    }
                }
            }
            @if !owed.is_empty() || !hit_and_runs.is_empty() {
                (table("h-owed", "portal_owed", &owed.iter().chain(hit_and_runs.iter()).copied().collect::<Vec<_>>()))
            }
            section aria-labelledby="h-passkey" {
                h2 id="h-passkey" { (f.t("portal_passkey")) }
                dl class="hashes" {
                    dt { (f.t("portal_passkey")) }
                    dd { code class="hash" id="passkey" { (passkey) } }
                    @if let Some(url) = &announce {
                        dt { (f.t("portal_announce_url")) }
                        dd { code class="hash" { (url) } }
                    }
                }
                p class="note" { (f.t("portal_passkey_note")) }
            }
            nav class="account-links" {
                a href="/upload" { (f.t("portal_upload_title")) }
                " · "
                a href="/account/uploads" { (f.t("portal_uploads_title")) }
                @if a.role >= Role::Moderator {
                    " · "
                    a href="/admin" { (f.t("portal_admin_title")) }
                }
            }
            (table("h-seeding", "portal_seeding", &seeding))
            (table("h-leeching", "portal_leeching", &leeching))
            section aria-labelledby="h-invites" {
                h2 id="h-invites" { (f.t("portal_invites")) }
                @if a.role >= Role::Admin {
                    p { (f.t("portal_invites_unlimited")) }
                } @else {
                    p { (f.t("portal_invites_left")) ": " (f.int(u64::from(a.invite_quota))) }
                }
                @if a.role >= Role::Admin || a.invite_quota > 0 {
                    form class="inline-form" method="post" action="/account/invite" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { (f.t("portal_invite_create")) }
                    }
                }
                (admin::invites_table(f, &invites))
            }
            section aria-labelledby="h-security" {
                h2 id="h-security" { (f.t("portal_security")) }
                form class="form" method="post" action="/account/password" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(a.name) autocomplete="username";
                    label { (f.t("portal_current_password"))
                        input type="password" name="current" required autocomplete="current-password" maxlength="1024";
                    }
                    label { (f.t("portal_new_password"))
                        input type="password" name="password" required autocomplete="new-password" minlength="8" maxlength="1024";
                    }
                    label { (f.t("portal_new_password_again"))
                        input type="password" name="password2" required autocomplete="new-password" minlength="8" maxlength="1024";
                    }
                    button type="submit" { (f.t("portal_change_password")) }
                }
                form class="inline-form" method="post" action="/account/passkey" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (f.t("portal_reset_passkey")) }
                }
                form class="inline-form" method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (f.t("portal_logout_button")) }
                }
            }
        }
    })
}

/// Points earned by `seeded` seconds of seeding, less those spent.
fn bonus_points(seeded: u64, seconds_per_point: u64, spent: u64) -> u64 {
    (seeded / seconds_per_point.max(1)).saturating_sub(spent)
}

/// A duration in hours, one decimal.
fn hours(f: &Frame<'_>, secs: u64) -> String {
    format!("{} h", f.decimal(secs as f64 / 3600.0, 1))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct BonusForm {
    csrf: Option<String>,
    points: String,
}

/// `POST /account/bonus`: spends points on upload credit, in one store transaction that
/// checks the points are there.
async fn spend_bonus(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<BonusForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match admin::form_session(&app, &ctx, Role::User, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let per_point = app.config.bonus_upload_per_point;
    let points = match form.points.trim().parse::<u64>() {
        Ok(n) if n > 0 && per_point > 0 => n,
        _ => return redirect("/account?done=no-bonus", &[]),
    };
    let (store, id, spp) = (
        app.store.clone(),
        session.account.id,
        app.config.bonus_seconds_per_point,
    );
    match blocking(move || store.spend_bonus(id, points, spp, per_point)).await {
        Some(Ok(true)) => {
            tracing::info!(user = %session.account.name, points, "portal: bonus points spent");
            redirect("/account?done=bonus", &[])
        }
        Some(Ok(false)) => redirect("/account?done=no-bonus", &[]),
        _ => store_failed(&app, &ctx),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PasswordForm {
    csrf: Option<String>,
    current: String,
    password: String,
    password2: String,
}

async fn change_password(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let (token, session) = match current(&app, &ctx).await {
        Ok(Some(s)) => s,
        Ok(None) => return redirect("/login", &[]),
        Err(r) => return r,
    };
    if !csrf_matches(&Token(session.csrf), form.csrf.as_deref()) {
        return forbidden(&app, &ctx);
    }
    let name = session.account.name.clone();
    let addr = ctx.client.addr;
    let refuse = |status, key| account_page(&app, &ctx, status, Some((key, true)));
    if !app
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .allows(addr, &name, unix_now())
    {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "portal_rate_limited").await;
    }
    if !valid_password(&form.password) {
        return refuse(StatusCode::BAD_REQUEST, "portal_bad_password").await;
    }
    if form.password != form.password2 {
        return refuse(StatusCode::BAD_REQUEST, "portal_passwords_differ").await;
    }
    let store = app.store.clone();
    let id = session.account.id;
    let (n, current_pw, new_pw) = (name.clone(), form.current, form.password);
    let keep = token.hash();
    let changed = hashing(&app, move || -> Result<bool, StoreError> {
        let ok = matches!(store.credentials(&n)?, Some((a, Some(h))) if a.id == id && verify_password(&current_pw, &h));
        if !ok {
            return Ok(false);
        }
        let hash = hash_password(&new_pw).map_err(|e| StoreError::Conflict(e.to_string()))?;
        store.set_password(id, &hash)?;
        // Whoever else was logged in as this account is logged out.
        store.delete_sessions_of(id, Some(keep))?;
        Ok(true)
    })
    .await;
    match changed {
        Some(Ok(true)) => redirect("/account?done=password", &[]),
        Some(Ok(false)) => {
            app.limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .failed(addr, &name, unix_now());
            refuse(StatusCode::UNAUTHORIZED, "portal_wrong_password").await
        }
        _ => store_failed(&app, &ctx),
    }
}

async fn reset_passkey(
    State(app): State<App>,
    ctx: Ctx,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let session = match admin::form_session(&app, &ctx, Role::User, form.csrf.as_deref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = app.store.clone();
    let name = session.account.name;
    let done = blocking(move || -> Result<bool, StoreError> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| StoreError::Conflict(e.to_string()))?;
        store.set_passkey(&name, key)
    })
    .await;
    match done {
        Some(Ok(_)) => redirect("/account?done=passkey", &[]),
        _ => store_failed(&app, &ctx),
    }
}

mod admin;
mod publish;

#[cfg(test)]
mod tests;

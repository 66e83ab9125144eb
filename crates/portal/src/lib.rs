//! shoal's site, "the portal": registration (by invite or open), login and logout, the
//! account page (totals, ratio, passkey, torrents seeding and leeching now, invites),
//! password change and passkey reset; publishing (`.torrent` uploads, made private in
//! private mode, published at once or after a moderator's approval) and downloads with
//! the account's passkey in the announce URLs; and the admin page (users, roles, bans,
//! ratio overrides, invite quotas, approvals, freeleech, site settings).
//!
//! The pages run on axum (forms, cookies, redirects, and next multipart uploads, are
//! what a framework is for), while announces and scrapes stay on the tracker's own
//! HTTP loop. They share the tracker's port: the HTTP front end hands the portal's
//! paths ([`is_portal_path`]) to [`Portal::handle_blocking`], which builds an
//! `http::Request`, runs the router to completion on the front end's runtime and hands
//! back status, headers and body. Accounts live in the store ([`shoal_store::AccountStore`]);
//! every store call and every argon2 hash runs on a blocking thread.
//!
//! # Layout
//! - [`password`]: argon2id hashing (shared with `shoal user add`), name and password rules.
//! - [`session`]: session tokens (32 random bytes, stored as SHA-256), cookies, CSRF tokens.
//! - [`limit`]: failed logins per address and per name, bounded.
//! - `pages` (feature `pages`): the router, the handlers and the maud templates, in the
//!   web UI's layout and translation files (`shoal_web::Frame`).
//!
//! # Security
//! Sessions are `HttpOnly; SameSite=Lax; Path=/` cookies (`Secure` over HTTPS); every
//! form carries a CSRF token checked in constant time (403 without it); a wrong name and
//! a wrong password get the same answer, in about the same time; failed logins are
//! limited per address and per name; banned accounts cannot log in, and their sessions
//! stop working; a page shows only the logged-in account's own data.
#![deny(missing_docs)]

pub mod limit;
pub mod password;
pub mod session;

#[cfg(feature = "pages")]
mod pages;

#[cfg(feature = "pages")]
pub use pages::{
    BodyKind, Client, NoTracker, Portal, PortalConfig, PortalRequest, PortalResponse, Registration,
    Tracker, UPLOAD_FORM_OVERHEAD,
};

/// Whether the portal answers this path: `/register`, `/login`, `/logout`, `/upload`,
/// `/account`, `/admin` and what is below them, and `/download/…`.
pub fn is_portal_path(path: &[u8]) -> bool {
    matches!(
        path,
        b"/register" | b"/login" | b"/logout" | b"/account" | b"/upload" | b"/admin"
    ) || path.starts_with(b"/account/")
        || path.starts_with(b"/admin/")
        || path.starts_with(b"/download/")
}

/// The path of the upload form, whose `POST` may carry a `.torrent` larger than other
/// request bodies.
pub const UPLOAD_PATH: &[u8] = b"/upload";

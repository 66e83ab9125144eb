//! Which tracker endpoint a URL path names, and the passkey it carries.
//!
//! HTTP trackers read this from the request path; UDP trackers from the BEP 41 URLData
//! option, which carries the announce URL's path and query. Both forms private trackers
//! hand out are recognised: `/announce/<key>` and `/<key>/announce` (likewise for
//! `scrape`).
//!
//! ```
//! use shoal_protocol::route::{route, Route};
//!
//! assert_eq!(route(b"/announce"), Route::Announce(None));
//! assert_eq!(route(b"/k3y/announce"), Route::Announce(Some(&b"k3y"[..])));
//! // A URLData path may come with its query.
//! assert_eq!(route(b"/announce/k3y?x=1"), Route::Announce(Some(&b"k3y"[..])));
//! ```

/// Which tracker endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// An announce, with the passkey if the path carried one.
    Announce(Option<&'a [u8]>),
    /// A scrape, with the passkey if the path carried one.
    Scrape(Option<&'a [u8]>),
    /// The liveness probe `/health`.
    Health,
    /// Anything else.
    NotFound,
}

impl<'a> Route<'a> {
    /// The passkey the path carried, for an announce or a scrape.
    pub fn passkey(&self) -> Option<&'a [u8]> {
        match *self {
            Route::Announce(k) | Route::Scrape(k) => k,
            Route::Health | Route::NotFound => None,
        }
    }
}

/// Routes a path; anything from `?` on is ignored.
pub fn route(path: &[u8]) -> Route<'_> {
    let path = path.split(|&b| b == b'?').next().unwrap_or(path);
    let trimmed = path.strip_prefix(b"/").unwrap_or(path);
    let trimmed = trimmed.strip_suffix(b"/").unwrap_or(trimmed);
    let mut parts = trimmed.splitn(3, |&b| b == b'/');
    let first = parts.next().unwrap_or(b"");
    let second = parts.next();
    if parts.next().is_some() {
        return Route::NotFound;
    }
    match (first, second) {
        (b"announce", None) => Route::Announce(None),
        (b"scrape", None) => Route::Scrape(None),
        (b"health", None) => Route::Health,
        (b"announce", Some(k)) if !k.is_empty() => Route::Announce(Some(k)),
        (b"scrape", Some(k)) if !k.is_empty() => Route::Scrape(Some(k)),
        (k, Some(b"announce")) if !k.is_empty() => Route::Announce(Some(k)),
        (k, Some(b"scrape")) if !k.is_empty() => Route::Scrape(Some(k)),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_passkeys() {
        assert_eq!(route(b"/announce"), Route::Announce(None));
        assert_eq!(route(b"/announce/"), Route::Announce(None));
        assert_eq!(route(b"/announce/k3y"), Route::Announce(Some(b"k3y")));
        assert_eq!(route(b"/k3y/announce"), Route::Announce(Some(b"k3y")));
        assert_eq!(
            route(b"/k3y/announce?info_hash=x"),
            Route::Announce(Some(b"k3y"))
        );
        assert_eq!(route(b"/scrape"), Route::Scrape(None));
        assert_eq!(route(b"/k/scrape"), Route::Scrape(Some(b"k")));
        assert_eq!(route(b"/health"), Route::Health);
        assert_eq!(route(b"/"), Route::NotFound);
        assert_eq!(route(b"/announcer"), Route::NotFound);
        assert_eq!(route(b"/a/b/announce"), Route::NotFound);
        assert_eq!(route(b"//announce"), Route::NotFound);
        assert_eq!(route(b""), Route::NotFound);
        assert_eq!(route(b"?announce"), Route::NotFound);
        assert_eq!(Route::Scrape(Some(b"k")).passkey(), Some(&b"k"[..]));
        assert_eq!(Route::Health.passkey(), None);
    }
}

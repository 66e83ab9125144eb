//! A search as the catalog page, the JSON API, RSS and Torznab ask it, and what comes
//! back: [`SearchRequest`] (the words plus filters, order and page) and [`Results`].
//!
//! ```
//! use shoal_search::request::{SearchRequest, Order};
//! use shoal_search::category::Category;
//! let r = SearchRequest::from_query_string("q=big+buck&cat=video&min_size=700MB&seeded=1&sort=seeders&page=2").unwrap();
//! assert_eq!(r.q, "big buck");
//! assert_eq!(r.category, Some(Category::Video));
//! assert_eq!(r.min_size, Some(700_000_000));
//! assert!(r.seeded);
//! assert_eq!(r.order, Order::Seeders);
//! assert_eq!(r.offset, r.limit);
//! ```

use crate::category::Category;
use crate::query::{self, Query, QueryError};

/// Results per page unless asked otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// Most results one page may ask for.
pub const MAX_LIMIT: usize = 100;
/// How deep results go: a page past this many is refused (nobody reads result
/// 10,000; a deep page costs the index as much as all before it).
pub const MAX_WINDOW: usize = 10_000;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Best match first (BM25 with a small boost for live seeders); newest first
    /// when there are no words.
    #[default]
    Relevance,
    /// Most seeders now first.
    Seeders,
    /// Most leechers now first.
    Leechers,
    /// Most completed downloads first.
    Completed,
    /// Largest first.
    Size,
    /// By name, A to Z.
    Name,
    /// Most recently seen first.
    Newest,
}

impl Order {
    /// Every order, as the page lists them.
    pub const ALL: [Order; 7] = [
        Order::Relevance,
        Order::Seeders,
        Order::Leechers,
        Order::Completed,
        Order::Size,
        Order::Name,
        Order::Newest,
    ];

    /// The key in URLs and translation files.
    pub fn key(self) -> &'static str {
        match self {
            Order::Relevance => "relevance",
            Order::Seeders => "seeders",
            Order::Leechers => "leechers",
            Order::Completed => "completed",
            Order::Size => "size",
            Order::Name => "name",
            Order::Newest => "newest",
        }
    }

    /// The order a key names.
    pub fn from_key(key: &str) -> Option<Order> {
        Order::ALL.into_iter().find(|o| o.key() == key)
    }

    /// Whether the order needs the swarms' live counts (the index does not hold them).
    pub fn is_live(self) -> bool {
        matches!(self, Order::Seeders | Order::Leechers | Order::Completed)
    }
}

/// One search: words, filters, order, page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchRequest {
    /// What was typed (see [`query::parse`]).
    pub q: String,
    /// Only this category.
    pub category: Option<Category>,
    /// Only torrents of at least this many bytes.
    pub min_size: Option<u64>,
    /// Only torrents of at most this many bytes.
    pub max_size: Option<u64>,
    /// Only torrents with a seeder now.
    pub seeded: bool,
    /// Only these Newznab categories (Torznab's `cat`; empty: any).
    pub newznab: Vec<u32>,
    /// Extra terms every result has (Torznab's season and episode, a film's year),
    /// tokenized like the index.
    pub also: Vec<String>,
    /// Extra prefix every result has a term starting with (a Torznab season alone:
    /// `s01` finds `s01e02`), folded.
    pub also_prefix: Option<String>,
    /// The order.
    pub order: Order,
    /// Results skipped.
    pub offset: usize,
    /// Results returned at most.
    pub limit: usize,
}

/// Why a search is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The words could not be read.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// A parameter has a value it cannot have.
    #[error("{key}: {value:?} is not {expected}")]
    BadParam {
        /// The parameter.
        key: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The page lies deeper than [`MAX_WINDOW`] results.
    #[error("results go {MAX_WINDOW} deep at most: narrow the search")]
    TooDeep,
    /// Every search thread is busy and the queue is full.
    #[error("the search is busy: try again in a moment")]
    Busy,
    /// The search took longer than its time limit.
    #[error("the search took too long: try fewer or more specific words")]
    Timeout,
    /// There is no index (the catalog is off) or it is being rebuilt.
    #[error("{0}")]
    Unavailable(String),
}

impl SearchError {
    /// The HTTP status that fits.
    pub fn status(&self) -> u16 {
        match self {
            SearchError::Query(_) | SearchError::BadParam { .. } | SearchError::TooDeep => 400,
            SearchError::Busy | SearchError::Timeout | SearchError::Unavailable(_) => 503,
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space; bad escapes
/// and bad UTF-8 are kept as replacement characters).
pub fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The pairs of a query string, decoded.
pub fn form_pairs(qs: &str) -> impl Iterator<Item = (String, String)> + '_ {
    qs.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (form_decode(k), form_decode(v))
    })
}

/// A size typed by a person: bytes, or a number with a unit (`700MB`, `1.5 GiB`,
/// `4g`): k/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let mult: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v = num * mult;
    (0.0..1.8e19).contains(&v).then_some(v as u64)
}

impl SearchRequest {
    /// Reads a search from a query string: `q`, `cat` (a category key), `min_size` and
    /// `max_size` (see [`parse_size`]), `seeded` (`1`/`on`/`true`), `sort` (an
    /// [`Order`] key), `page` (from 1) and `per_page` (at most [`MAX_LIMIT`]). Unknown
    /// parameters (`lang`, …) are ignored; empty ones are unset.
    pub fn from_query_string(qs: &str) -> Result<SearchRequest, SearchError> {
        let mut r = SearchRequest {
            limit: DEFAULT_LIMIT,
            ..SearchRequest::default()
        };
        let mut page = 1usize;
        for (k, v) in form_pairs(qs) {
            let bad = |key: &'static str, expected: &'static str| SearchError::BadParam {
                key,
                value: v.chars().take(64).collect(),
                expected,
            };
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "q" => r.q = v.clone(),
                "cat" => {
                    r.category = Some(Category::from_key(&v).ok_or_else(|| {
                        bad(
                            "cat",
                            "a category (video, audio, books, software, images, archives, other)",
                        )
                    })?)
                }
                "min_size" => {
                    r.min_size =
                        Some(parse_size(&v).ok_or_else(|| bad("min_size", "a size like 700MB"))?)
                }
                "max_size" => {
                    r.max_size =
                        Some(parse_size(&v).ok_or_else(|| bad("max_size", "a size like 4GB"))?)
                }
                "seeded" => {
                    r.seeded = match v.as_str() {
                        "1" | "on" | "true" | "yes" => true,
                        "0" | "off" | "false" | "no" => false,
                        _ => return Err(bad("seeded", "1 or 0")),
                    }
                }
                "sort" => {
                    r.order = Order::from_key(&v).ok_or_else(|| {
                        bad(
                            "sort",
                            "relevance, seeders, leechers, completed, size, name or newest",
                        )
                    })?
                }
                "page" => {
                    page = v
                        .parse()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad("page", "a page number from 1"))?
                }
                "per_page" => {
                    r.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad("per_page", "a number from 1 to 100"))?
                }
                _ => {}
            }
        }
        r.offset = (page - 1).saturating_mul(r.limit);
        r.check()?;
        Ok(r)
    }

    /// Checks what does not depend on the index: the words parse, the page is within
    /// [`MAX_WINDOW`], the size range is not empty.
    pub fn check(&self) -> Result<Query, SearchError> {
        if self.offset.saturating_add(self.limit) > MAX_WINDOW {
            return Err(SearchError::TooDeep);
        }
        if let (Some(lo), Some(hi)) = (self.min_size, self.max_size) {
            if lo > hi {
                return Err(SearchError::BadParam {
                    key: "max_size",
                    value: hi.to_string(),
                    expected: "at least min_size",
                });
            }
        }
        Ok(query::parse(&self.q)?)
    }

    /// The query string that asks this search again (for links to other pages and
    /// feeds), without `page`.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if !self.q.is_empty() {
            parts.push(format!("q={}", form_encode(&self.q)));
        }
        if let Some(c) = self.category {
            parts.push(format!("cat={}", c.key()));
        }
        if let Some(n) = self.min_size {
            parts.push(format!("min_size={n}"));
        }
        if let Some(n) = self.max_size {
            parts.push(format!("max_size={n}"));
        }
        if self.seeded {
            parts.push("seeded=1".into());
        }
        if self.order != Order::Relevance {
            parts.push(format!("sort={}", self.order.key()));
        }
        if self.limit != DEFAULT_LIMIT {
            parts.push(format!("per_page={}", self.limit));
        }
        parts.join("&")
    }
}

/// Encodes a value for a query string.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One torrent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The tracker's info-hash.
    pub info_hash: [u8; 20],
    /// Its name.
    pub name: String,
    /// Bytes in its files.
    pub size: u64,
    /// Files.
    pub files: u64,
    /// Its category.
    pub category: Category,
    /// Its Newznab category (Torznab).
    pub newznab: u32,
    /// Unix seconds the tracker first saw it.
    pub first_seen: u64,
    /// Seeders now.
    pub seeders: u32,
    /// Leechers now.
    pub leechers: u32,
    /// Completed downloads.
    pub completed: u64,
    /// Byte ranges of `name` that matched the words (for highlighting).
    pub highlight: Vec<(usize, usize)>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Results {
    /// The page.
    pub hits: Vec<Hit>,
    /// How many match in all (at most [`MAX_WINDOW`] when `exact` is false).
    pub total: u64,
    /// Whether `total` is exact (a filter on live counts is applied to the first
    /// [`MAX_WINDOW`] matches only).
    pub exact: bool,
    /// Microseconds the index took.
    pub took_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_people_type() {
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("700MB"), Some(700_000_000));
        assert_eq!(parse_size("1.5 GiB"), Some(1_610_612_736));
        assert_eq!(parse_size("4g"), Some(4_000_000_000));
        assert_eq!(parse_size("2 TB"), Some(2_000_000_000_000));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("1e30"), None);
        assert_eq!(parse_size("99999999999 TB"), None);
    }

    #[test]
    fn query_strings_round_trip() {
        let r = SearchRequest::from_query_string(
            "q=%D1%84%D0%B8%D0%BB%D1%8C%D0%BC+2024&cat=video&max_size=4GB&sort=size&per_page=20&lang=ru",
        )
        .unwrap();
        assert_eq!(r.q, "фильм 2024");
        assert_eq!(r.max_size, Some(4_000_000_000));
        assert_eq!((r.order, r.limit, r.offset), (Order::Size, 20, 0));
        let again = SearchRequest::from_query_string(&r.to_query_string()).unwrap();
        assert_eq!(again, r);
        // Empty values are unset, so a form's blank fields are fine.
        let r = SearchRequest::from_query_string("q=&cat=&min_size=&sort=").unwrap();
        assert_eq!(r, SearchRequest::from_query_string("").unwrap());
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = SearchRequest::from_query_string("cat=films").unwrap_err();
        assert!(e.to_string().starts_with("cat: \"films\""), "{e}");
        assert_eq!(e.status(), 400);
        let e = SearchRequest::from_query_string("sort=random").unwrap_err();
        assert!(e.to_string().starts_with("sort:"), "{e}");
        let e = SearchRequest::from_query_string("page=0").unwrap_err();
        assert!(e.to_string().starts_with("page:"), "{e}");
        let e = SearchRequest::from_query_string("per_page=1000").unwrap_err();
        assert!(e.to_string().starts_with("per_page:"), "{e}");
        let e = SearchRequest::from_query_string("min_size=5GB&max_size=1GB").unwrap_err();
        assert!(e.to_string().starts_with("max_size:"), "{e}");
        assert_eq!(
            SearchRequest::from_query_string("page=500").unwrap_err(),
            SearchError::TooDeep
        );
        let long = format!("q={}", "a".repeat(600));
        assert_eq!(
            SearchRequest::from_query_string(&long).unwrap_err(),
            SearchError::Query(QueryError::TooLong)
        );
        // Bad escapes do not panic.
        let r = SearchRequest::from_query_string("q=%zz%4").unwrap();
        assert_eq!(r.q, "%zz%4");
    }
}

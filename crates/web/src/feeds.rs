//! Feeds of the catalog search: RSS 2.0 at `/catalog/rss` and the Torznab API at
//! `/torznab/api`.
//!
//! **RSS** takes the catalog page's query parameters
//! ([`SearchRequest::from_query_string`]) and lists the page of results as items a feed
//! reader or a BitTorrent client's RSS downloader understands (BEP 36): `<link>` is the
//! torrent's page, `<enclosure type="application/x-bittorrent">` is its `.torrent`
//! file with the file's length, and the magnet link travels in the ezRSS `torrent:`
//! namespace (`torrent:magnetURI`, `torrent:infoHash`, `torrent:contentLength`), as
//! eztv, Nyaa and similar feeds carry it. qBittorrent's reader downloads the enclosure
//! (it takes a magnet only from `<link>`, which is the page here), so the enclosure
//! stays the `.torrent` file; an item whose `.torrent` the catalog cannot build
//! encloses the magnet link instead. There is no `<lastBuildDate>`: qBittorrent skips a
//! feed whose `lastBuildDate` did not change, and a search's results can change without
//! a newer torrent.
//!
//! **Torznab** (the Newznab API for torrents, spoken by Sonarr, Radarr, Prowlarr and
//! Jackett's clients) answers `t=caps`, `t=search`, `t=tvsearch` (`q`, `season`, `ep`)
//! and `t=movie` (`q`, `year`). A season and episode become terms every result must
//! have (`S01E02` → `s01e02`, a season alone the prefix `s01`, a daily episode
//! `season=2019&ep=05/14` the terms `2019`, `05`, `14`), a year a term, `cat` the
//! Newznab filter (sub-categories count as their top category). Errors are Newznab
//! `<error code=".." description=".."/>` documents sent with HTTP 200, as the Newznab
//! specification says: Sonarr reads the error element only from a successful response
//! (its HTTP client throws on any other status before the parser sees the body).
//!
//! Links are absolute, built from the request's `Host` when it is a plain host name
//! ([`crate::plain_host`]) and `http://localhost` otherwise. Every string from the
//! catalog (names come from strangers) is escaped, and characters XML 1.0 forbids (most
//! C0 controls, U+FFFE, U+FFFF) and C1 controls become U+FFFD, so a hostile name
//! cannot break the document.

use shoal_search::newznab;
use shoal_search::request::{form_pairs, Order, DEFAULT_LIMIT, MAX_LIMIT};

use crate::{
    hex, plain_host, url_encode, Hit, Request, Response, SearchError, SearchRequest, Source,
};

const RSS: &str = "application/rss+xml; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";
/// Feeds are polled; let clients revalidate every time.
const FEED_CACHE: &str = "Cache-Control: no-cache\r\n";
/// Torznab answers may depend on an API key: no shared cache keeps them.
const API_CACHE: &str = "Cache-Control: private, no-store\r\n";
const RETRY: &str = "Cache-Control: no-store\r\nRetry-After: 10\r\n";

const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
/// The ezRSS namespace BEP 36 names for the `torrent` element.
const NS_TORRENT: &str = "http://xmlns.ezrss.it/0.1/";
const NS_TORZNAB: &str = "http://torznab.com/schemas/2015/feed";
const NS_NEWZNAB: &str = "http://www.newznab.com/DTD/2010/feeds/attributes/";

/// Where links point when the request has no usable `Host`.
const FALLBACK_BASE: &str = "http://localhost";

/// Whether `c` may appear in an XML 1.0 document as itself. C1 controls are allowed
/// by XML 1.0 but discouraged, and mean nothing in a name: they go too.
fn xml_char(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// Appends `s` escaped for XML text, or for an attribute value in double quotes when
/// `attr` (where tabs and line breaks are written as references so parsers keep them).
fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // Also keeps `]]>` out of text.
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// An XML document being written.
struct Xml(String);

impl Xml {
    fn new() -> Xml {
        Xml(String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.0.push('<');
        self.0.push_str(name);
        for (k, v) in attrs {
            self.0.push(' ');
            self.0.push_str(k);
            self.0.push_str("=\"");
            escape_into(&mut self.0, v, true);
            self.0.push('"');
        }
    }

    /// `<name attrs>`.
    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.0.push_str(">\n");
    }

    /// `<name attrs/>`.
    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.0.push_str("/>\n");
    }

    /// `<name>text</name>`.
    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.tag(name, attrs);
        self.0.push('>');
        escape_into(&mut self.0, text, false);
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    fn close(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

/// A Unix time as RFC 2822 says (RSS 2.0's `pubDate`): `Tue, 22 Jun 2010 06:54:22 +0000`.
pub(crate) fn rfc2822(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A size in binary units: `1.5 GiB`.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Compares secrets in time that does not depend on where they differ (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// What links and magnets are built from for one request.
struct Site {
    /// `http://host` without a trailing slash.
    base: String,
    /// This tracker's announce URLs as the client sees them.
    announce: Vec<String>,
}

impl Site {
    fn of(req: &Request<'_>, src: &dyn Source) -> Site {
        let host = plain_host(req.host);
        Site {
            base: host.map_or_else(|| FALLBACK_BASE.to_owned(), |h| format!("http://{h}")),
            announce: src.announce_urls(host),
        }
    }
}

/// One result, with its links.
struct Entry<'a> {
    hit: &'a Hit,
    hex: String,
    /// The torrent's page.
    page: String,
    /// The `.torrent` file, or the magnet link when the catalog cannot build the file.
    download: String,
    /// Bytes of the `.torrent` file (0 for a magnet).
    download_len: u64,
    magnet: String,
}

fn entries<'a>(hits: &'a [Hit], site: &Site, src: &dyn Source) -> Vec<Entry<'a>> {
    let hashes: Vec<[u8; 20]> = hits.iter().map(|h| h.info_hash).collect();
    let lengths = src.torrent_file_lengths(&hashes, &site.announce);
    hits.iter()
        .enumerate()
        .map(|(i, hit)| {
            let hex = hex(&hit.info_hash);
            let mut magnet = format!("magnet:?xt=urn:btih:{hex}&dn={}", url_encode(&hit.name));
            for tr in &site.announce {
                magnet.push_str("&tr=");
                magnet.push_str(&url_encode(tr));
            }
            let (download, download_len) = match lengths.get(i).copied().flatten() {
                Some(n) => (format!("{}/torrent/{hex}.torrent", site.base), n),
                None => (magnet.clone(), 0),
            };
            Entry {
                hit,
                page: format!("{}/torrent/{hex}", site.base),
                hex,
                download,
                download_len,
                magnet,
            }
        })
        .collect()
}

fn description(hit: &Hit) -> String {
    let files = if hit.files == 1 { "file" } else { "files" };
    format!("{} in {} {files}", human_size(hit.size), hit.files)
}

fn plain_error(status: u16, e: &SearchError) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        headers: if status == 503 { RETRY } else { FEED_CACHE },
        body: format!("{e}\n").into_bytes(),
    }
}

/// `/catalog/rss`: the catalog search as an RSS 2.0 feed.
pub(crate) fn rss(version: &str, req: &Request<'_>, src: &dyn Source) -> Response {
    let mut search = match SearchRequest::from_query_string(req.query) {
        Ok(s) => s,
        Err(e) => return plain_error(e.status(), &e),
    };
    // The links repeat the search as asked.
    let mut qs = search.to_query_string();
    if search.offset > 0 {
        let page = search.offset / search.limit.max(1) + 1;
        qs = if qs.is_empty() {
            format!("page={page}")
        } else {
            format!("{qs}&page={page}")
        };
    }
    // Without words a feed is a list of what is new (the page's relevance order means
    // the same; say it so the index need not guess).
    if search.q.trim().is_empty() && search.order == Order::Relevance {
        search.order = Order::Newest;
    }
    let results = match src.search(&search) {
        Ok(r) => r,
        Err(e) => return plain_error(e.status(), &e),
    };
    let site = Site::of(req, src);
    let with_query = |path: &str| {
        if qs.is_empty() {
            format!("{}{path}", site.base)
        } else {
            format!("{}{path}?{qs}", site.base)
        }
    };
    let words = search.q.trim();
    let title = if words.is_empty() {
        "shoal catalog: newest torrents".to_owned()
    } else {
        format!("shoal catalog: {words}")
    };
    let mut x = Xml::new();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", NS_ATOM),
            ("xmlns:torrent", NS_TORRENT),
        ],
    );
    x.open("channel", &[]);
    x.text("title", &[], &title);
    x.text("link", &[], &with_query("/catalog"));
    let about = if words.is_empty() {
        format!(
            "The newest of {} torrents in this tracker's catalog.",
            results.total
        )
    } else {
        format!(
            "Torrents in this tracker's catalog matching \u{201c}{words}\u{201d} ({} in all).",
            results.total
        )
    };
    x.text("description", &[], &about);
    x.text("generator", &[], &format!("shoal {version}"));
    x.text("ttl", &[], "30");
    let own = with_query("/catalog/rss");
    x.empty(
        "atom:link",
        &[
            ("href", &own),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    );
    for e in entries(&results.hits, &site, src) {
        x.open("item", &[]);
        x.text("title", &[], &e.hit.name);
        x.text("link", &[], &e.page);
        x.text("guid", &[("isPermaLink", "false")], &e.hex);
        x.text("pubDate", &[], &rfc2822(e.hit.first_seen));
        x.text("description", &[], &description(e.hit));
        x.text("category", &[], e.hit.category.key());
        let len = e.download_len.to_string();
        x.empty(
            "enclosure",
            &[
                ("url", &e.download),
                ("length", &len),
                ("type", "application/x-bittorrent"),
            ],
        );
        x.text("torrent:infoHash", &[], &e.hex);
        x.text("torrent:contentLength", &[], &e.hit.size.to_string());
        x.text("torrent:magnetURI", &[], &e.magnet);
        x.close("item");
    }
    x.close("channel");
    x.close("rss");
    Response {
        status: 200,
        content_type: RSS,
        headers: FEED_CACHE,
        body: x.into_bytes(),
    }
}

/// A Newznab error: its code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    code: u16,
    description: String,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            description: description.into(),
        }
    }

    fn bad(key: &str, value: &str, expected: &str) -> ApiError {
        let value: String = value.chars().take(64).collect();
        ApiError::new(
            201,
            format!("Incorrect parameter: {key}={value:?} is not {expected}"),
        )
    }

    fn from_search(e: &SearchError) -> ApiError {
        match e {
            SearchError::Query(_) | SearchError::BadParam { .. } | SearchError::TooDeep => {
                ApiError::new(201, format!("Incorrect parameter: {e}"))
            }
            // Not 500 "Request limit reached": Sonarr and Prowlarr back off for an hour
            // on that description. 900 is "try again".
            SearchError::Busy | SearchError::Timeout | SearchError::Unavailable(_) => {
                ApiError::new(900, e.to_string())
            }
        }
    }
}

/// The Torznab search functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Search,
    Tv,
    Movie,
}

/// The Torznab parameters used (decoded; the last of a repeated one wins).
#[derive(Default)]
struct Params {
    t: Option<String>,
    apikey: Option<String>,
    q: String,
    cat: String,
    offset: String,
    limit: String,
    season: String,
    ep: String,
    year: String,
    /// An id parameter (imdbid, tvdbid, …) was given: the catalog cannot search by them.
    ids: bool,
}

impl Params {
    fn parse(query: &str) -> Params {
        let mut p = Params::default();
        for (k, v) in form_pairs(query) {
            match k.as_str() {
                "t" => p.t = Some(v),
                "apikey" => p.apikey = Some(v),
                "q" => p.q = v,
                "cat" => p.cat = v,
                "offset" => p.offset = v,
                "limit" => p.limit = v,
                "season" => p.season = v,
                "ep" => p.ep = v,
                "year" => p.year = v,
                "imdbid" | "tmdbid" | "tvdbid" | "rid" | "tvmazeid" | "traktid" | "doubanid" => {
                    p.ids |= !v.trim().is_empty()
                }
                _ => {}
            }
        }
        p
    }
}

/// Digits only, as a number.
fn number(s: &str) -> Option<u32> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The Newznab categories of `cat=5030,2000`, as their top categories.
fn categories(cat: &str) -> Result<Vec<u32>, ApiError> {
    let mut out = Vec::new();
    for c in cat.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let n = number(c).ok_or_else(|| ApiError::bad("cat", cat, "a list of category numbers"))?;
        let top = newznab::top(n);
        if !out.contains(&top) {
            out.push(top);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The season and episode of a TV search as terms: `s01e02`, a prefix `s01` for a
/// season alone, or the date terms of a daily episode (`season=2019&ep=05/14`).
fn episode_terms(req: &mut SearchRequest, season: &str, ep: &str) -> Result<(), ApiError> {
    let (season, ep) = (season.trim(), ep.trim());
    if season.is_empty() {
        if !ep.is_empty() {
            return Err(ApiError::new(
                200,
                "Missing parameter: season (ep needs it)",
            ));
        }
        return Ok(());
    }
    let s = number(season).ok_or_else(|| ApiError::bad("season", season, "a season number"))?;
    if ep.is_empty() {
        req.also_prefix = Some(format!("s{s:02}"));
        return Ok(());
    }
    if let Some(e) = number(ep) {
        req.also
            .extend(shoal_search::terms(&format!("S{s:02}E{e:02}")));
        return Ok(());
    }
    // Sonarr asks daily shows by air date: the year as the season, `MM/DD` as the
    // episode; release names write `Show.2019.05.14`.
    match ep.split_once('/').map(|(m, d)| (number(m), number(d))) {
        Some((Some(m), Some(d)))
            if season.len() == 4 && (1..=12).contains(&m) && (1..=31).contains(&d) =>
        {
            req.also
                .extend(shoal_search::terms(&format!("{s} {m:02} {d:02}")));
            Ok(())
        }
        _ => Err(ApiError::bad("ep", ep, "an episode number or MM/DD")),
    }
}

/// The search a Torznab request asks for.
fn torznab_search(f: Function, p: &Params) -> Result<SearchRequest, ApiError> {
    let mut r = SearchRequest {
        limit: DEFAULT_LIMIT,
        ..SearchRequest::default()
    };
    let q = p.q.trim();
    if q.is_empty() {
        // An empty search is the client's RSS sync: what is new.
        r.order = Order::Newest;
    } else {
        // Clients send whole words, not typing: the trailing space keeps the last
        // word from being read as a prefix.
        r.q = format!("{q} ");
    }
    r.newznab = categories(&p.cat)?;
    if !p.limit.trim().is_empty() {
        let n = number(&p.limit)
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::bad("limit", &p.limit, "a number from 1"))?;
        // More than the caps' maximum is served as the maximum, like other indexers.
        r.limit = (n as usize).min(MAX_LIMIT);
    }
    if !p.offset.trim().is_empty() {
        r.offset = number(&p.offset)
            .ok_or_else(|| ApiError::bad("offset", &p.offset, "a number"))?
            as usize;
    }
    match f {
        Function::Search => {}
        Function::Tv => episode_terms(&mut r, &p.season, &p.ep)?,
        Function::Movie => {
            let year = p.year.trim();
            if !year.is_empty() {
                number(year)
                    .filter(|_| year.len() == 4)
                    .ok_or_else(|| ApiError::bad("year", year, "a year"))?;
                r.also.extend(shoal_search::terms(year));
            }
        }
    }
    r.check().map_err(|e| ApiError::from_search(&e))?;
    Ok(r)
}

fn api_response(content_type: &'static str, x: Xml) -> Response {
    Response {
        status: 200,
        content_type,
        headers: API_CACHE,
        body: x.into_bytes(),
    }
}

/// A Newznab error document. HTTP 200: see the module docs.
fn api_error(e: &ApiError) -> Response {
    let mut x = Xml::new();
    x.empty(
        "error",
        &[
            ("code", &e.code.to_string()),
            ("description", &e.description),
        ],
    );
    api_response(XML, x)
}

fn caps(version: &str, site: &Site) -> Xml {
    let mut x = Xml::new();
    x.open("caps", &[]);
    let url = format!("{}/", site.base);
    x.empty(
        "server",
        &[("version", version), ("title", "shoal"), ("url", &url)],
    );
    let (max, default) = (MAX_LIMIT.to_string(), DEFAULT_LIMIT.to_string());
    x.empty("limits", &[("max", &max), ("default", &default)]);
    x.open("searching", &[]);
    let searches = [
        ("search", "yes", "q"),
        ("tv-search", "yes", "q,season,ep"),
        ("movie-search", "yes", "q,year"),
        ("music-search", "no", "q"),
        ("audio-search", "no", "q"),
        ("book-search", "no", "q"),
    ];
    for (name, available, params) in searches {
        x.empty(
            name,
            &[("available", available), ("supportedParams", params)],
        );
    }
    x.close("searching");
    x.open("categories", &[]);
    for (id, name) in newznab::ALL {
        x.empty("category", &[("id", &id.to_string()), ("name", name)]);
    }
    x.close("categories");
    x.close("caps");
    x
}

fn torznab_results(
    search: &SearchRequest,
    hits: &[Hit],
    total: u64,
    site: &Site,
    src: &dyn Source,
) -> Xml {
    let mut x = Xml::new();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", NS_ATOM),
            ("xmlns:torznab", NS_TORZNAB),
            ("xmlns:newznab", NS_NEWZNAB),
        ],
    );
    x.open("channel", &[]);
    let own = format!("{}/torznab/api", site.base);
    x.empty(
        "atom:link",
        &[
            ("href", &own),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    );
    x.text("title", &[], "shoal");
    x.text(
        "description",
        &[],
        "This tracker's catalog, searched over Torznab.",
    );
    x.text("link", &[], &format!("{}/", site.base));
    let (offset, total) = (search.offset.to_string(), total.to_string());
    x.empty(
        "newznab:response",
        &[("offset", &offset), ("total", &total)],
    );
    for e in entries(hits, site, src) {
        let h = e.hit;
        x.open("item", &[]);
        x.text("title", &[], &h.name);
        x.text("guid", &[("isPermaLink", "false")], &e.hex);
        x.text("link", &[], &e.download);
        x.text("comments", &[], &e.page);
        x.text("pubDate", &[], &rfc2822(h.first_seen));
        x.text("size", &[], &h.size.to_string());
        x.text("description", &[], &description(h));
        x.text("category", &[], &h.newznab.to_string());
        let len = e.download_len.to_string();
        x.empty(
            "enclosure",
            &[
                ("url", &e.download),
                ("length", &len),
                ("type", "application/x-bittorrent"),
            ],
        );
        let peers = u64::from(h.seeders) + u64::from(h.leechers);
        let attrs: [(&str, String); 11] = [
            ("category", h.newznab.to_string()),
            ("size", h.size.to_string()),
            ("files", h.files.to_string()),
            ("grabs", h.completed.to_string()),
            ("seeders", h.seeders.to_string()),
            ("leechers", h.leechers.to_string()),
            ("peers", peers.to_string()),
            ("infohash", e.hex.clone()),
            ("magneturl", e.magnet.clone()),
            // A public tracker keeps no ratio: downloads are free, uploads count once
            // (what Jackett's public indexers report).
            ("downloadvolumefactor", "0".into()),
            ("uploadvolumefactor", "1".into()),
        ];
        for (name, value) in &attrs {
            x.empty("torznab:attr", &[("name", name), ("value", value)]);
        }
        x.close("item");
    }
    x.close("channel");
    x.close("rss");
    x
}

/// `/torznab/api`: the Torznab API.
pub(crate) fn torznab(version: &str, req: &Request<'_>, src: &dyn Source) -> Response {
    let p = Params::parse(req.query);
    let site = Site::of(req, src);
    let f = match p.t.as_deref().map(str::trim) {
        None | Some("") => return api_error(&ApiError::new(200, "Missing parameter: t")),
        // Newznab: the capabilities need no credentials.
        Some("caps") => return api_response(XML, caps(version, &site)),
        Some("search") => Function::Search,
        Some("tvsearch") => Function::Tv,
        Some("movie") => Function::Movie,
        Some(t @ ("music" | "audio" | "book")) => {
            return api_error(&ApiError::new(
                203,
                format!("Function not available: t={t}"),
            ))
        }
        Some(t) => {
            let t: String = t.chars().take(32).collect();
            return api_error(&ApiError::new(202, format!("No such function: t={t:?}")));
        }
    };
    if let Some(key) = src.torznab_key() {
        match p.apikey.as_deref().filter(|k| !k.is_empty()) {
            None => {
                return api_error(&ApiError::new(
                    100,
                    "Incorrect user credentials: apikey is required",
                ))
            }
            Some(given) if !constant_time_eq(given.as_bytes(), key.as_bytes()) => {
                return api_error(&ApiError::new(100, "Incorrect user credentials"))
            }
            Some(_) => {}
        }
    }
    let search = match torznab_search(f, &p) {
        Ok(s) => s,
        Err(e) => return api_error(&e),
    };
    if p.ids && search.q.is_empty() {
        // Asked only by ids the catalog does not know: the newest torrents would be
        // wrong answers.
        return api_response(RSS, torznab_results(&search, &[], 0, &site, src));
    }
    match src.search(&search) {
        Ok(r) => api_response(RSS, torznab_results(&search, &r.hits, r.total, &site, src)),
        Err(e) => api_error(&ApiError::from_search(&e)),
    }
}

#[cfg(test)]
mod tests;

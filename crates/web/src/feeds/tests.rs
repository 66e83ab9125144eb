//! Feed tests: every document is parsed back with a real XML parser (roxmltree) and
//! read field by field; a fake [`Source`] records the searches it is asked for.

use std::sync::Mutex;

use roxmltree::{Document, Node};
use shoal_search::category::Category;
use shoal_search::request::Order;

use super::*;
use crate::{Overview, Point, Results, Sort, SwarmPoint, TorrentRow, Web};

const HOST: &str = "tracker.example:8080";
const BASE: &str = "http://tracker.example:8080";
const HOSTILE: &str =
    "<b>Evil</b> & \"co\" ]]> \u{1}\u{8}\u{b}\u{c}\u{1b}\u{7f}\u{85}\u{fffe}\u{ffff}\0 end";
/// What [`HOSTILE`] reads as after escaping: markup intact as text, forbidden
/// characters replaced.
const HOSTILE_READ: &str =
    "<b>Evil</b> & \"co\" ]]> \u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd} end";

fn hit(b: u8, name: &str, category: Category, newznab: u32) -> Hit {
    Hit {
        info_hash: [b; 20],
        name: name.into(),
        size: 6_114_656_256,
        files: 3,
        category,
        newznab,
        first_seen: 1_763_683_200,
        seeders: 1200,
        leechers: 34,
        completed: 5,
        highlight: Vec::new(),
    }
}

struct Fake {
    hits: Vec<Hit>,
    total: u64,
    key: Option<String>,
    fail: Option<SearchError>,
    /// Every search asked for.
    searches: Mutex<Vec<SearchRequest>>,
    /// The announce URLs `.torrent` lengths were asked with.
    announce: Mutex<Vec<Vec<String>>>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            hits: vec![
                Hit {
                    files: 1,
                    ..hit(0x11, "Ubuntu 24.04 Desktop amd64", Category::Software, 4000)
                },
                Hit {
                    size: 1_610_612_736,
                    first_seen: 1_277_189_662,
                    seeders: 7,
                    leechers: 3,
                    completed: 42,
                    ..hit(0x22, "The.Show.S01E02.1080p.WEB", Category::Video, 5000)
                },
                // Not buildable as a .torrent: the enclosure is the magnet.
                hit(0xff, "Magnet Only", Category::Other, 8000),
            ],
            total: 1234,
            key: None,
            fail: None,
            searches: Mutex::new(Vec::new()),
            announce: Mutex::new(Vec::new()),
        }
    }

    fn with_hits(hits: Vec<Hit>) -> Fake {
        Fake {
            total: hits.len() as u64,
            hits,
            ..Fake::new()
        }
    }

    fn last_search(&self) -> SearchRequest {
        self.searches
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a search")
    }

    fn searched(&self) -> usize {
        self.searches.lock().unwrap().len()
    }
}

impl Source for Fake {
    fn overview(&self) -> Overview {
        Overview::default()
    }
    fn history(&self, _secs: u64) -> Vec<Point> {
        Vec::new()
    }
    fn top(&self, _sort: Sort, _limit: usize) -> Vec<TorrentRow> {
        Vec::new()
    }
    fn torrent(&self, _h: &[u8; 20]) -> Option<TorrentRow> {
        None
    }
    fn swarm_history(&self, _h: &[u8; 20]) -> Vec<SwarmPoint> {
        Vec::new()
    }
    fn clients(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    fn search(&self, req: &SearchRequest) -> Result<Results, SearchError> {
        self.searches.lock().unwrap().push(req.clone());
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        Ok(Results {
            hits: self
                .hits
                .iter()
                .skip(req.offset)
                .take(req.limit)
                .cloned()
                .collect(),
            total: self.total,
            exact: true,
            took_us: 1,
        })
    }
    fn torrent_file_lengths(&self, hashes: &[[u8; 20]], announce: &[String]) -> Vec<Option<u64>> {
        self.announce.lock().unwrap().push(announce.to_vec());
        hashes
            .iter()
            .map(|h| (h[0] != 0xff).then(|| 10_000 + u64::from(h[0])))
            .collect()
    }
    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        let Some(h) = host else { return Vec::new() };
        let name = h.rsplit_once(':').map_or(h, |(n, _)| n);
        vec![
            format!("udp://{name}:6969/announce"),
            format!("http://{h}/announce"),
        ]
    }
    fn torznab_key(&self) -> Option<String> {
        self.key.clone()
    }
}

fn get_from(src: &Fake, path: &str, query: &str, host: Option<&str>) -> Response {
    let req = Request {
        path,
        query,
        host,
        ..Request::default()
    };
    Web::default().handle(&req, src).expect("a feed")
}

fn get(src: &Fake, path: &str, query: &str) -> Response {
    get_from(src, path, query, Some(HOST))
}

fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).expect("UTF-8")
}

fn parse(xml: &str) -> Document<'_> {
    Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// The only child element named `name` (no namespace) or `(ns, name)`.
fn child<'a, 'i, 'n>(
    n: Node<'a, 'i>,
    name: impl Into<roxmltree::ExpandedName<'n, 'n>> + Copy,
) -> Node<'a, 'i> {
    // `has_tag_name("link")` would also match `atom:link`: compare namespaces too.
    let want: roxmltree::ExpandedName = name.into();
    let mut found = n.children().filter(|c| {
        c.is_element()
            && c.tag_name().name() == want.name()
            && c.tag_name().namespace() == want.namespace()
    });
    let first = found
        .next()
        .unwrap_or_else(|| panic!("no {:?} in <{}>", name.into(), n.tag_name().name()));
    assert!(
        found.next().is_none(),
        "two {:?} in <{}>",
        name.into(),
        n.tag_name().name()
    );
    first
}

fn text_of<'a, 'n>(
    n: Node<'a, '_>,
    name: impl Into<roxmltree::ExpandedName<'n, 'n>> + Copy,
) -> &'a str {
    child(n, name).text().unwrap_or("")
}

fn items<'a, 'i>(doc: &'a Document<'i>) -> Vec<Node<'a, 'i>> {
    child(doc.root_element(), "channel")
        .children()
        .filter(|c| c.tag_name().name() == "item" && c.tag_name().namespace().is_none())
        .collect()
}

/// A magnet link's parameters, decoded.
fn magnet_params(m: &str) -> Vec<(String, String)> {
    let q = m
        .strip_prefix("magnet:?")
        .unwrap_or_else(|| panic!("not a magnet: {m}"));
    form_pairs(q).collect()
}

/// The `torznab:attr` values of an item, by name.
fn attr<'a>(item: Node<'a, '_>, name: &str) -> &'a str {
    let all: Vec<_> = item
        .children()
        .filter(|c| c.has_tag_name((NS_TORZNAB, "attr")) && c.attribute("name") == Some(name))
        .collect();
    assert_eq!(all.len(), 1, "torznab:attr {name}");
    all[0].attribute("value").unwrap()
}

// ---- RSS ----

#[test]
fn rss_is_an_rss_2_feed_with_its_content_type() {
    let src = Fake::new();
    let r = get(&src, "/catalog/rss", "q=ubuntu");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/rss+xml; charset=utf-8");
    let xml = body(&r);
    let doc = parse(&xml);
    let rss = doc.root_element();
    assert_eq!(rss.tag_name().name(), "rss");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    assert_eq!(items(&doc).len(), 3);
}

#[test]
fn rss_channel_names_the_search_and_links_itself() {
    let src = Fake::new();
    let xml = body(&get(
        &src,
        "/catalog/rss",
        "q=big+buck&cat=video&sort=seeders&page=2&per_page=20",
    ));
    let doc = parse(&xml);
    let channel = child(doc.root_element(), "channel");
    assert!(text_of(channel, "title").contains("big buck"), "{xml}");
    assert!(text_of(channel, "description").contains("big buck"));
    assert!(text_of(channel, "description").contains("1234"));
    let qs = "q=big+buck&cat=video&sort=seeders&per_page=20&page=2";
    assert_eq!(text_of(channel, "link"), format!("{BASE}/catalog?{qs}"));
    let own = child(channel, (NS_ATOM, "link"));
    assert_eq!(own.attribute("rel"), Some("self"));
    assert_eq!(own.attribute("type"), Some("application/rss+xml"));
    assert_eq!(
        own.attribute("href"),
        Some(format!("{BASE}/catalog/rss?{qs}").as_str())
    );
    // Language-neutral: no <language>; and no <lastBuildDate> (qBittorrent skips a
    // feed whose lastBuildDate did not change).
    assert!(!channel.children().any(|c| c.has_tag_name("language")));
    assert!(!channel.children().any(|c| c.has_tag_name("lastBuildDate")));
}

#[test]
fn rss_passes_the_catalog_parameters_to_the_search() {
    let src = Fake::new();
    get(
        &src,
        "/catalog/rss",
        "q=big+buck&cat=video&min_size=700MB&seeded=1&sort=seeders&page=2&per_page=20",
    );
    let s = src.last_search();
    assert_eq!(s.q, "big buck");
    assert_eq!(s.category, Some(Category::Video));
    assert_eq!(s.min_size, Some(700_000_000));
    assert!(s.seeded);
    assert_eq!(s.order, Order::Seeders);
    assert_eq!((s.offset, s.limit), (20, 20));
}

#[test]
fn rss_without_words_is_newest_first() {
    let src = Fake::new();
    let xml = body(&get(&src, "/catalog/rss", ""));
    assert_eq!(src.last_search().order, Order::Newest);
    let doc = parse(&xml);
    let channel = child(doc.root_element(), "channel");
    assert!(text_of(channel, "title").contains("newest"));
    assert_eq!(text_of(channel, "link"), format!("{BASE}/catalog"));
    // With words, the page's default order stays.
    get(&src, "/catalog/rss", "q=ubuntu");
    assert_eq!(src.last_search().order, Order::Relevance);
}

#[test]
fn rss_items_carry_title_page_guid_date_description_and_category() {
    let src = Fake::new();
    let xml = body(&get(&src, "/catalog/rss", "q=x"));
    let doc = parse(&xml);
    let all = items(&doc);
    let ubuntu = all[0];
    let hex11 = "11".repeat(20);
    assert_eq!(text_of(ubuntu, "title"), "Ubuntu 24.04 Desktop amd64");
    assert_eq!(text_of(ubuntu, "link"), format!("{BASE}/torrent/{hex11}"));
    let guid = child(ubuntu, "guid");
    assert_eq!(guid.text(), Some(hex11.as_str()));
    assert_eq!(guid.attribute("isPermaLink"), Some("false"));
    assert_eq!(
        text_of(ubuntu, "pubDate"),
        "Fri, 21 Nov 2025 00:00:00 +0000"
    );
    assert_eq!(text_of(ubuntu, "description"), "5.7 GiB in 1 file");
    assert_eq!(text_of(ubuntu, "category"), "software");
    let show = all[1];
    assert_eq!(text_of(show, "pubDate"), "Tue, 22 Jun 2010 06:54:22 +0000");
    assert_eq!(text_of(show, "description"), "1.5 GiB in 3 files");
    assert_eq!(text_of(show, "category"), "video");
    assert_eq!(text_of(show, (NS_TORRENT, "infoHash")), "22".repeat(20));
    assert_eq!(text_of(show, (NS_TORRENT, "contentLength")), "1610612736");
}

#[test]
fn rss_enclosure_is_the_torrent_file_with_its_length() {
    let src = Fake::new();
    let xml = body(&get(&src, "/catalog/rss", "q=x"));
    let doc = parse(&xml);
    let e = child(items(&doc)[0], "enclosure");
    assert_eq!(
        e.attribute("url"),
        Some(format!("{BASE}/torrent/{}.torrent", "11".repeat(20)).as_str())
    );
    assert_eq!(e.attribute("type"), Some("application/x-bittorrent"));
    assert_eq!(e.attribute("length"), Some("10017"));
    // The lengths are those of .torrent files announcing this tracker as the client
    // reaches it.
    assert_eq!(
        *src.announce.lock().unwrap(),
        [vec![
            "udp://tracker.example:6969/announce".to_owned(),
            format!("{BASE}/announce"),
        ]]
    );
}

#[test]
fn rss_item_without_a_torrent_file_encloses_the_magnet() {
    let src = Fake::new();
    let xml = body(&get(&src, "/catalog/rss", "q=x"));
    let doc = parse(&xml);
    let item = items(&doc)[2];
    let e = child(item, "enclosure");
    let magnet = text_of(item, (NS_TORRENT, "magnetURI"));
    assert_eq!(e.attribute("url"), Some(magnet));
    assert_eq!(e.attribute("length"), Some("0"));
    assert_eq!(e.attribute("type"), Some("application/x-bittorrent"));
}

#[test]
fn rss_magnet_has_the_hash_name_and_this_trackers_announce_urls() {
    let src = Fake::new();
    let xml = body(&get(&src, "/catalog/rss", "q=x"));
    let doc = parse(&xml);
    let magnet = text_of(items(&doc)[1], (NS_TORRENT, "magnetURI"));
    let p = magnet_params(magnet);
    let get = |k: &str| {
        p.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("xt"), [format!("urn:btih:{}", "22".repeat(20))]);
    assert_eq!(get("dn"), ["The.Show.S01E02.1080p.WEB"]);
    assert_eq!(
        get("tr"),
        [
            "udp://tracker.example:6969/announce",
            "http://tracker.example:8080/announce"
        ]
    );
}

#[test]
fn rss_hostile_names_are_escaped_and_the_feed_still_parses() {
    let src = Fake::with_hits(vec![hit(0x33, HOSTILE, Category::Other, 8000)]);
    let xml = body(&get(&src, "/catalog/rss", "q=%3Cscript%3E%26%5D%5D%3E"));
    assert!(!xml.contains("<b>"), "{xml}");
    assert!(!xml.contains("]]>"));
    assert!(!xml.contains('\u{1}') && !xml.contains('\0') && !xml.contains('\u{fffe}'));
    let doc = parse(&xml);
    let item = items(&doc)[0];
    assert_eq!(text_of(item, "title"), HOSTILE_READ);
    let channel = child(doc.root_element(), "channel");
    assert!(text_of(channel, "title").contains("<script>&]]>"));
    // The name in the magnet is percent-encoded whole.
    let p = magnet_params(text_of(item, (NS_TORRENT, "magnetURI")));
    assert!(p.contains(&("dn".to_owned(), HOSTILE.to_owned())), "{p:?}");
}

#[test]
fn rss_without_a_usable_host_links_to_localhost() {
    for host in [None, Some(""), Some("evil.example/<x>"), Some("a b")] {
        let src = Fake::new();
        let xml = body(&get_from(&src, "/catalog/rss", "q=x", host));
        let doc = parse(&xml);
        let item = items(&doc)[0];
        assert!(
            text_of(item, "link").starts_with("http://localhost/torrent/"),
            "{host:?}"
        );
        let e = child(item, "enclosure");
        assert!(e
            .attribute("url")
            .unwrap()
            .starts_with("http://localhost/torrent/"));
        assert!(!xml.contains("evil"));
        // No host: the Source gets none to build announce URLs from.
        assert_eq!(*src.announce.lock().unwrap(), [Vec::<String>::new()]);
    }
}

#[test]
fn rss_refuses_bad_parameters_and_reports_a_busy_search() {
    let src = Fake::new();
    let r = get(&src, "/catalog/rss", "sort=random");
    assert_eq!(r.status, 400);
    assert!(body(&r).starts_with("sort:"), "{}", body(&r));
    assert_eq!(src.searched(), 0);
    let busy = Fake {
        fail: Some(SearchError::Busy),
        ..Fake::new()
    };
    let r = get(&busy, "/catalog/rss", "q=x");
    assert_eq!(r.status, 503);
    assert!(r.headers.contains("Retry-After:"));
}

#[test]
fn pub_dates_are_rfc_2822() {
    assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    assert_eq!(rfc2822(1_277_189_662), "Tue, 22 Jun 2010 06:54:22 +0000");
    assert_eq!(rfc2822(4_107_542_399), "Sun, 28 Feb 2100 23:59:59 +0000");
    assert_eq!(rfc2822(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 +0000");
}

#[test]
fn xml_escaping_keeps_text_and_drops_what_xml_forbids() {
    let mut s = String::new();
    escape_into(&mut s, "a<b>&\"'\t\n\r\u{1}\u{fffe}é漢\u{1f600}", false);
    assert_eq!(s, "a&lt;b&gt;&amp;\"'\t\n&#13;\u{fffd}\u{fffd}é漢\u{1f600}");
    let mut s = String::new();
    escape_into(&mut s, "\"a\"\tb\nc", true);
    assert_eq!(s, "&quot;a&quot;&#9;b&#10;c");
}

#[test]
fn secrets_compare_whole() {
    assert!(constant_time_eq(b"secret", b"secret"));
    assert!(!constant_time_eq(b"secret", b"secreT"));
    assert!(!constant_time_eq(b"secret", b"secret2"));
    assert!(!constant_time_eq(b"", b"x"));
    assert!(constant_time_eq(b"", b""));
}

// ---- Torznab ----

fn torznab(src: &Fake, query: &str) -> Response {
    get(src, "/torznab/api", query)
}

/// The error code and description of a Newznab error document.
fn api_err(r: &Response) -> (String, String) {
    assert_eq!(r.status, 200, "Newznab errors travel with HTTP 200");
    assert!(r.content_type.contains("xml"));
    let xml = body(r);
    let doc = parse(&xml);
    let e = doc.root_element();
    assert_eq!(e.tag_name().name(), "error", "{xml}");
    (
        e.attribute("code").unwrap().to_owned(),
        e.attribute("description").unwrap().to_owned(),
    )
}

#[test]
fn torznab_caps_lists_limits_searches_and_categories() {
    let src = Fake::new();
    let r = torznab(&src, "t=caps");
    assert_eq!(r.status, 200);
    let xml = body(&r);
    let doc = parse(&xml);
    let caps = doc.root_element();
    assert_eq!(caps.tag_name().name(), "caps");
    assert_eq!(child(caps, "server").attribute("title"), Some("shoal"));
    let limits = child(caps, "limits");
    assert_eq!(limits.attribute("max"), Some("100"));
    assert_eq!(limits.attribute("default"), Some("50"));
    let searching = child(caps, "searching");
    let search = |name: &str| {
        let n = child(searching, name);
        (
            n.attribute("available").unwrap(),
            n.attribute("supportedParams").unwrap(),
        )
    };
    assert_eq!(search("search"), ("yes", "q"));
    assert_eq!(search("tv-search"), ("yes", "q,season,ep"));
    assert_eq!(search("movie-search"), ("yes", "q,year"));
    assert_eq!(search("music-search").0, "no");
    assert_eq!(search("book-search").0, "no");
    let cats: Vec<(&str, &str)> = child(caps, "categories")
        .children()
        .filter(|c| c.has_tag_name("category"))
        .map(|c| (c.attribute("id").unwrap(), c.attribute("name").unwrap()))
        .collect();
    assert_eq!(
        cats,
        [
            ("2000", "Movies"),
            ("3000", "Audio"),
            ("4000", "PC"),
            ("5000", "TV"),
            ("7000", "Books"),
            ("8000", "Other"),
        ]
    );
    assert_eq!(src.searched(), 0);
}

#[test]
fn torznab_caps_need_no_apikey() {
    let src = Fake {
        key: Some("k".into()),
        ..Fake::new()
    };
    let xml = body(&torznab(&src, "t=caps"));
    assert_eq!(parse(&xml).root_element().tag_name().name(), "caps");
}

#[test]
fn torznab_search_items_carry_links_and_attrs() {
    let src = Fake::new();
    let r = torznab(&src, "t=search&q=show&extended=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/rss+xml; charset=utf-8");
    let xml = body(&r);
    let doc = parse(&xml);
    let all = items(&doc);
    assert_eq!(all.len(), 3);
    let show = all[1];
    let hex22 = "22".repeat(20);
    assert_eq!(text_of(show, "title"), "The.Show.S01E02.1080p.WEB");
    assert_eq!(text_of(show, "guid"), hex22);
    let file = format!("{BASE}/torrent/{hex22}.torrent");
    assert_eq!(text_of(show, "link"), file);
    assert_eq!(text_of(show, "comments"), format!("{BASE}/torrent/{hex22}"));
    assert_eq!(text_of(show, "pubDate"), "Tue, 22 Jun 2010 06:54:22 +0000");
    assert_eq!(text_of(show, "size"), "1610612736");
    assert_eq!(text_of(show, "category"), "5000");
    let e = child(show, "enclosure");
    assert_eq!(e.attribute("url"), Some(file.as_str()));
    assert_eq!(e.attribute("length"), Some("10034"));
    assert_eq!(e.attribute("type"), Some("application/x-bittorrent"));
    assert_eq!(attr(show, "category"), "5000");
    assert_eq!(attr(show, "seeders"), "7");
    assert_eq!(attr(show, "leechers"), "3");
    assert_eq!(attr(show, "peers"), "10");
    assert_eq!(attr(show, "infohash"), hex22);
    assert_eq!(attr(show, "size"), "1610612736");
    assert_eq!(attr(show, "files"), "3");
    assert_eq!(attr(show, "grabs"), "42");
    assert_eq!(attr(show, "downloadvolumefactor"), "0");
    assert_eq!(attr(show, "uploadvolumefactor"), "1");
    let magnet = attr(show, "magneturl");
    let p = magnet_params(magnet);
    assert_eq!(p[0], ("xt".to_owned(), format!("urn:btih:{hex22}")));
    assert!(p.contains(&("tr".to_owned(), format!("{BASE}/announce"))));
    // Without a .torrent file the magnet is the download.
    let magnet_only = all[2];
    assert_eq!(text_of(magnet_only, "link"), attr(magnet_only, "magneturl"));
}

#[test]
fn torznab_query_words_are_whole_words() {
    let src = Fake::new();
    torznab(&src, "t=search&q=big+bun");
    let s = src.last_search();
    assert_eq!(s.q, "big bun ");
    assert_eq!(s.order, Order::Relevance);
    let shoal_search::query::Query::Words(w) = s.check().unwrap() else {
        panic!("words")
    };
    assert_eq!(w.prefix, None);
    assert_eq!(w.required, shoal_search::terms("big bun"));
}

#[test]
fn torznab_empty_search_is_newest_first() {
    let src = Fake::new();
    torznab(
        &src,
        "t=tvsearch&cat=5030,5040&extended=1&offset=0&limit=100",
    );
    let s = src.last_search();
    assert_eq!(s.q, "");
    assert_eq!(s.order, Order::Newest);
    assert_eq!(s.newznab, [5000]);
    assert_eq!(s.limit, 100);
}

#[test]
fn torznab_tvsearch_turns_season_and_episode_into_required_terms() {
    let src = Fake::new();
    torznab(&src, "t=tvsearch&q=The+Show&season=1&ep=2");
    let s = src.last_search();
    assert_eq!(s.q, "The Show ");
    assert_eq!(s.also, ["s01e02"]);
    assert_eq!(s.also, shoal_search::terms("S01E02"));
    assert_eq!(s.also_prefix, None);
}

#[test]
fn torznab_tvsearch_season_alone_is_a_prefix() {
    let src = Fake::new();
    torznab(&src, "t=tvsearch&q=The+Show&season=3");
    let s = src.last_search();
    assert!(s.also.is_empty());
    assert_eq!(s.also_prefix.as_deref(), Some("s03"));
}

#[test]
fn torznab_tvsearch_daily_episode_is_its_date() {
    let src = Fake::new();
    torznab(&src, "t=tvsearch&q=Late+Show&season=2019&ep=05%2F14");
    let s = src.last_search();
    assert_eq!(s.also, shoal_search::terms("2019.05.14"));
    assert_eq!(s.also_prefix, None);
}

#[test]
fn torznab_tvsearch_refuses_bad_seasons_and_episodes() {
    let src = Fake::new();
    for q in [
        "season=one",
        "season=1&ep=two",
        "season=1&ep=13%2F40",
        "ep=2",
    ] {
        let (code, _) = api_err(&torznab(&src, &format!("t=tvsearch&q=x&{q}")));
        assert!(code == "201" || code == "200", "{q}: {code}");
    }
    assert_eq!(src.searched(), 0);
}

#[test]
fn torznab_search_ignores_tv_and_movie_parameters() {
    let src = Fake::new();
    torznab(&src, "t=search&q=x&season=1&ep=2&year=2019");
    let s = src.last_search();
    assert!(s.also.is_empty() && s.also_prefix.is_none());
}

#[test]
fn torznab_movie_year_is_a_required_term() {
    let src = Fake::new();
    torznab(&src, "t=movie&q=Big+Buck+Bunny&year=2008&cat=2000");
    let s = src.last_search();
    assert_eq!(s.q, "Big Buck Bunny ");
    assert_eq!(s.also, shoal_search::terms("2008"));
    assert_eq!(s.newznab, [2000]);
    let (code, _) = api_err(&torznab(&src, "t=movie&q=x&year=08"));
    assert_eq!(code, "201");
}

#[test]
fn torznab_categories_become_the_newznab_filter() {
    let src = Fake::new();
    torznab(&src, "t=search&q=x&cat=5000,2000");
    assert_eq!(src.last_search().newznab, [2000, 5000]);
    // Sub-categories count as their top category, once.
    torznab(&src, "t=search&q=x&cat=5030%2C5040,2010");
    assert_eq!(src.last_search().newznab, [2000, 5000]);
    torznab(&src, "t=search&q=x");
    assert!(src.last_search().newznab.is_empty());
    let (code, desc) = api_err(&torznab(&src, "t=search&q=x&cat=tv"));
    assert_eq!(code, "201");
    assert!(desc.contains("cat"), "{desc}");
}

#[test]
fn torznab_pages_report_offset_and_total() {
    let src = Fake::new();
    let xml = body(&torznab(&src, "t=search&q=x&offset=1&limit=1"));
    let s = src.last_search();
    assert_eq!((s.offset, s.limit), (1, 1));
    let doc = parse(&xml);
    let channel = child(doc.root_element(), "channel");
    let response = child(channel, (NS_NEWZNAB, "response"));
    assert_eq!(response.attribute("offset"), Some("1"));
    assert_eq!(response.attribute("total"), Some("1234"));
    let all = items(&doc);
    assert_eq!(all.len(), 1);
    assert_eq!(text_of(all[0], "guid"), "22".repeat(20));
    // No limit: the caps' default.
    torznab(&src, "t=search&q=x");
    assert_eq!((src.last_search().offset, src.last_search().limit), (0, 50));
}

#[test]
fn torznab_limit_is_checked_and_capped() {
    let src = Fake::new();
    for bad in ["limit=abc", "limit=0", "limit=-5", "offset=x", "offset=-1"] {
        let (code, desc) = api_err(&torznab(&src, &format!("t=search&q=x&{bad}")));
        assert_eq!(code, "201", "{bad}");
        assert!(desc.starts_with("Incorrect parameter"), "{desc}");
    }
    assert_eq!(src.searched(), 0);
    torznab(&src, "t=search&q=x&limit=500");
    assert_eq!(src.last_search().limit, 100);
    // Deeper than the index goes.
    let (code, _) = api_err(&torznab(&src, "t=search&q=x&offset=20000"));
    assert_eq!(code, "201");
}

#[test]
fn torznab_apikey_is_required_when_set() {
    let src = Fake {
        key: Some("s3cret-key".into()),
        ..Fake::new()
    };
    let (code, _) = api_err(&torznab(&src, "t=search&q=x"));
    assert_eq!(code, "100");
    let (code, _) = api_err(&torznab(&src, "t=search&q=x&apikey="));
    assert_eq!(code, "100");
    let (code, desc) = api_err(&torznab(&src, "t=search&q=x&apikey=s3cret-kez"));
    assert_eq!(
        (code.as_str(), desc.as_str()),
        ("100", "Incorrect user credentials")
    );
    let (code, _) = api_err(&torznab(&src, "t=search&q=x&apikey=s3cret-key-and-more"));
    assert_eq!(code, "100");
    assert_eq!(src.searched(), 0);
    let xml = body(&torznab(&src, "t=search&q=x&apikey=s3cret-key"));
    assert_eq!(items(&parse(&xml)).len(), 3);
    assert_eq!(src.searched(), 1);
}

#[test]
fn torznab_without_a_key_ignores_apikey() {
    let src = Fake::new();
    let xml = body(&torznab(&src, "t=search&q=x&apikey=anything"));
    assert_eq!(items(&parse(&xml)).len(), 3);
}

#[test]
fn torznab_unknown_and_missing_functions_are_errors() {
    let src = Fake::new();
    assert_eq!(api_err(&torznab(&src, "q=x")).0, "200");
    assert_eq!(api_err(&torznab(&src, "t=&q=x")).0, "200");
    let (code, desc) = api_err(&torznab(&src, "t=%3Cdetails%3E&q=x"));
    assert_eq!(code, "202");
    assert!(desc.contains("<details>"), "{desc}");
    for t in ["music", "audio", "book"] {
        assert_eq!(api_err(&torznab(&src, &format!("t={t}&q=x"))).0, "203");
    }
    assert_eq!(src.searched(), 0);
}

#[test]
fn torznab_search_failures_map_to_newznab_codes() {
    for (fail, code) in [
        (SearchError::Busy, "900"),
        (SearchError::Timeout, "900"),
        (SearchError::Unavailable("the catalog is off".into()), "900"),
    ] {
        let src = Fake {
            fail: Some(fail),
            ..Fake::new()
        };
        let (c, desc) = api_err(&torznab(&src, "t=search&q=x"));
        assert_eq!(c, code);
        assert_ne!(desc, "Request limit reached");
    }
    let src = Fake::new();
    let long = format!("t=search&q={}", "a".repeat(600));
    assert_eq!(api_err(&torznab(&src, &long)).0, "201");
    assert_eq!(api_err(&torznab(&src, "t=search&q=-only")).0, "201");
}

#[test]
fn torznab_search_by_ids_alone_finds_nothing() {
    let src = Fake::new();
    let xml = body(&torznab(&src, "t=tvsearch&tvdbid=12345&season=1&ep=2"));
    assert_eq!(src.searched(), 0);
    let doc = parse(&xml);
    assert!(items(&doc).is_empty());
    let response = child(
        child(doc.root_element(), "channel"),
        (NS_NEWZNAB, "response"),
    );
    assert_eq!(response.attribute("total"), Some("0"));
    // With words the ids are ignored and the words searched.
    torznab(&src, "t=tvsearch&tvdbid=12345&q=The+Show&season=1&ep=2");
    assert_eq!(src.searched(), 1);
}

#[test]
fn torznab_hostile_names_are_escaped_and_the_document_still_parses() {
    let src = Fake::with_hits(vec![hit(0x33, HOSTILE, Category::Other, 8000)]);
    let xml = body(&torznab(&src, "t=search&q=evil"));
    assert!(
        !xml.contains("<b>") && !xml.contains("]]>") && !xml.contains('\0'),
        "{xml}"
    );
    let doc = parse(&xml);
    let item = items(&doc)[0];
    assert_eq!(text_of(item, "title"), HOSTILE_READ);
    let p = magnet_params(attr(item, "magneturl"));
    assert!(p.contains(&("dn".to_owned(), HOSTILE.to_owned())), "{p:?}");
}

#[test]
fn other_paths_are_not_feeds() {
    let src = Fake::new();
    let req = Request {
        path: "/torznab/api/extra",
        ..Request::default()
    };
    assert!(Web::default().handle(&req, &src).is_none());
    assert_eq!(src.searched(), 0);
}

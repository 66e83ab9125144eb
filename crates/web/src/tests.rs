//! Rendering tests: every page renders, parses as HTML without errors, escapes what
//! clients control, formats numbers per language, and the language choice sticks.

use super::*;

struct Fake {
    rows: Vec<TorrentRow>,
    clients: Vec<(String, u64)>,
    history: Vec<Point>,
}

impl Fake {
    fn new() -> Fake {
        let row = |b: u8, s: u32, l: u32, c: u64| TorrentRow {
            info_hash: [b; 20],
            seeders: s,
            leechers: l,
            downloaders: l,
            completed: c,
            name: None,
            size: None,
        };
        Fake {
            rows: vec![
                TorrentRow {
                    name: Some("Ubuntu <24.04> desktop".into()),
                    size: Some(6_114_656_256),
                    ..row(0xab, 1200, 34, 5)
                },
                row(0x01, 2, 3000, 1_234_567),
            ],
            clients: vec![
                ("qBittorrent 4.x".into(), 3000),
                ("<script>alert(1)</script>".into(), 1000),
            ],
            history: (0..60)
                .map(|i| Point {
                    at: 1_763_683_200 + i * 60,
                    torrents: 100 + i,
                    peers: 5000 + i * 10,
                    seeders: 3000,
                    leechers: 2000 + i * 10,
                })
                .collect(),
        }
    }
}

impl Source for Fake {
    fn overview(&self) -> Overview {
        Overview {
            torrents: 1_234_567,
            webtorrent_torrents: 3,
            peers: 9_876_543,
            seeders: 5_000_000,
            leechers: 4_876_543,
            completed: 42,
            rates: [12_345.6, 78.9, 0.5],
            networks: [9_000_000, 800_000, 76_000, 543],
            uptime: 90_061,
            version: "0.1.0".into(),
        }
    }
    fn history(&self, _secs: u64) -> Vec<Point> {
        self.history.clone()
    }
    fn top(&self, sort: Sort, limit: usize) -> Vec<TorrentRow> {
        let mut r = self.rows.clone();
        r.sort_by_key(|t| {
            std::cmp::Reverse(match sort {
                Sort::Peers => u64::from(t.seeders + t.leechers),
                Sort::Seeders => t.seeders.into(),
                Sort::Leechers => t.leechers.into(),
                Sort::Completed => t.completed,
            })
        });
        r.truncate(limit);
        r
    }
    fn torrent(&self, h: &[u8; 20]) -> Option<TorrentRow> {
        self.rows.iter().find(|r| r.info_hash == *h).cloned()
    }
    fn metadata(&self, h: &[u8; 20]) -> Option<TorrentMeta> {
        // 0xab is in the catalog with a swarm; 0xcd only in the catalog.
        (*h == [0xab; 20] || *h == [0xcd; 20]).then(|| TorrentMeta {
            name: "Ubuntu <24.04> desktop".into(),
            info_hash_v2: None,
            category: shoal_search::category::Category::Software,
            first_seen: 1_763_683_200,
            size: 6_114_656_256,
            piece_length: 262_144,
            private: *h == [0xcd; 20],
            file_count: 250,
            files: (0..250)
                .map(|i| (format!("disk/<part {i}>.iso"), 24_458_625))
                .collect(),
        })
    }
    fn swarm_history(&self, h: &[u8; 20]) -> Vec<SwarmPoint> {
        if *h == [0xab; 20] {
            (0..10)
                .map(|i| SwarmPoint {
                    at: 1_763_683_200 + i * 60,
                    seeders: 1200,
                    leechers: 30 + i as u32,
                })
                .collect()
        } else {
            Vec::new()
        }
    }
    fn clients(&self) -> Vec<(String, u64)> {
        self.clients.clone()
    }
}

fn get(web: &Web, path: &str, query: &str, accept: Option<&str>) -> Response {
    let req = Request {
        path,
        query,
        accept_language: accept,
        cookie: None,
        host: Some("tracker.example:6969"),
    };
    web.handle(&req, &Fake::new()).expect("a page")
}

fn text(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
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

#[test]
fn every_page_is_valid_html_in_every_language() {
    let web = Web::default();
    let pages = [
        ("/", ""),
        ("/trends", ""),
        ("/trends", "range=7d"),
        ("/torrents", ""),
        ("/torrents", "sort=completed"),
        ("/clients", ""),
        ("/torrent/abababababababababababababababababababab", ""),
        ("/torrent/0101010101010101010101010101010101010101", ""),
        ("/torrent/ffffffffffffffffffffffffffffffffffffffff", ""),
    ];
    for l in Lang::ALL {
        for (path, query) in pages {
            let q = if query.is_empty() {
                format!("lang={}", l.code())
            } else {
                format!("{query}&lang={}", l.code())
            };
            let r = get(&web, path, &q, None);
            let html = text(&r);
            assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
            assert!(html.contains(&format!("<html lang=\"{}\"", l.code())));
            let errors = html_errors(&html);
            assert!(errors.is_empty(), "{path}?{q}: {errors:?}\n{html}");
        }
    }
}

#[test]
fn overview_formats_numbers_per_language() {
    let web = Web::default();
    let en = text(&get(&web, "/", "", Some("en-US,en;q=0.9")));
    assert!(en.contains(">1,234,567<"), "{en}");
    assert!(en.contains(">12,345.6<"));
    assert!(en.contains(">76,000<"), "Yggdrasil peers are shown");
    assert!(en.contains("WebTorrent swarms</dt><dd data-stat=\"webtorrent_torrents\">3<"));
    assert!(en.contains("1 d 1 h"));
    let ru = text(&get(&web, "/", "", Some("ru-RU,ru;q=0.9")));
    assert!(ru.contains(">1\u{a0}234\u{a0}567<"), "{ru}");
    assert!(ru.contains(">12\u{a0}345,6<"));
    assert!(ru.contains("Торренты"));
    let zh = text(&get(&web, "/", "", Some("zh-CN")));
    assert!(zh.contains("种子") && zh.contains(">1,234,567<"));
}

#[test]
fn client_controlled_text_is_escaped() {
    let web = Web::default();
    let html = text(&get(&web, "/clients", "", None));
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Chart and table both show shares.
    assert!(html.contains("75.0%") && html.contains("25.0%"));
}

#[test]
fn language_choice_is_remembered_in_a_cookie() {
    let web = Web::default();
    let chosen = get(&web, "/", "lang=uk", Some("en"));
    assert!(chosen.headers.contains("Set-Cookie: lang=uk;"));
    assert!(text(&chosen).contains("<html lang=\"uk\""));
    let req = Request {
        path: "/",
        cookie: Some("lang=zh"),
        accept_language: Some("ru"),
        ..Default::default()
    };
    let r = web.handle(&req, &Fake::new()).unwrap();
    assert!(
        text(&r).contains("<html lang=\"zh\""),
        "cookie beats Accept-Language"
    );
    assert!(!r.headers.contains("Set-Cookie"));
    // The switch links keep the page's other parameters.
    let t = text(&get(&web, "/torrents", "sort=completed", None));
    assert!(
        t.contains("href=\"/torrents?sort=completed&amp;lang=ru\""),
        "{t}"
    );
}

#[test]
fn torrent_page_has_magnet_and_history() {
    let web = Web::default();
    let r = get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "",
        None,
    );
    let html = text(&r);
    assert_eq!(r.status, 200);
    assert!(html.contains(
        "magnet:?xt=urn:btih:abababababababababababababababababababab&amp;dn=Ubuntu%20%3C24.04%3E%20desktop&amp;tr=http%3A%2F%2Ftracker.example%3A6969%2Fannounce"
    ));
    assert_eq!(html.matches("<polyline").count(), 2);
    let unknown = get(
        &web,
        "/torrent/ffffffffffffffffffffffffffffffffffffffff",
        "",
        None,
    );
    assert_eq!(unknown.status, 404);
    let bad = get(&web, "/torrent/nothex", "", None);
    assert_eq!(bad.status, 404);
}

#[test]
fn torrent_pages_show_what_the_catalog_knows() {
    let web = Web::default();
    let r = get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "",
        None,
    );
    let html = text(&r);
    // The name is the title, escaped; size in binary units; files listed, the rest counted.
    assert!(
        html.contains("<title>Ubuntu &lt;24.04&gt; desktop"),
        "{html}"
    );
    assert!(html.contains("5.7\u{a0}GiB"), "{html}");
    assert!(html.contains("disk/&lt;part 0&gt;.iso"));
    assert_eq!(html.matches("disk/&lt;part").count(), FILES_SHOWN);
    assert!(html.contains("and 50 more files"));
    assert!(
        html.contains("&amp;dn=Ubuntu%20%3C24.04%3E%20desktop"),
        "{html}"
    );
    // In the catalog, no swarm now: the page is there, with zero peers.
    let gone = get(
        &web,
        "/torrent/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "",
        None,
    );
    assert_eq!(gone.status, 200);
    assert!(text(&gone).contains("Private torrent"));
    // Russian units and separators.
    let ru = get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "lang=ru",
        None,
    );
    assert!(text(&ru).contains("5,7\u{a0}ГиБ"), "{}", text(&ru));
    // No metadata yet: said so.
    let none = get(
        &web,
        "/torrent/0101010101010101010101010101010101010101",
        "",
        None,
    );
    assert!(text(&none).contains("not known yet"));
    // Top torrents show the name where known, the hash otherwise.
    let top = text(&get(&web, "/torrents", "", None));
    assert!(top.contains(">Ubuntu &lt;24.04&gt; desktop</a>"));
    assert!(top.contains("0101010101010101010101010101010101010101"));
}

#[test]
fn top_torrents_sort_and_link() {
    let web = Web::default();
    // 0xab leads by peers, seeders and leechers; 0x01 only by completed.
    let mut src = Fake::new();
    for (row, leechers) in src.rows.iter_mut().zip([3400, 30]) {
        row.leechers = leechers;
        row.downloaders = leechers;
    }
    let page = |query: &str| {
        let req = Request {
            path: "/torrents",
            query,
            accept_language: None,
            cookie: None,
            host: Some("tracker.example:6969"),
        };
        text(&web.handle(&req, &src).expect("a page"))
    };
    let first = |html: &str| {
        if html.find("0101010101").unwrap() < html.find("abababab").unwrap() {
            0x01
        } else {
            0xab
        }
    };
    let html = page("sort=completed");
    assert_eq!(first(&html), 0x01, "sorted by completed");
    for other in ["", "sort=peers", "sort=seeders", "sort=leechers"] {
        assert_eq!(first(&page(other)), 0xab, "{other}");
    }
    assert!(html.contains("aria-sort=\"descending\""));
    assert!(html.contains("href=\"/torrent/abababababababababababababababababababab\""));
}

#[test]
fn assets_are_cached_and_other_paths_are_not_ours() {
    let web = Web::default();
    let css = get(&web, "/static/style.css", "", None);
    assert!(css.headers.contains("max-age"));
    assert!(css.content_type.starts_with("text/css"));
    assert!(text(&css).contains("prefers-color-scheme"));
    let req = Request {
        path: "/api/stats",
        ..Default::default()
    };
    assert!(web.handle(&req, &Fake::new()).is_none());
}

#[test]
fn the_html_check_catches_broken_markup() {
    assert!(!html_errors("<!DOCTYPE html><html><body><p></div></body></html>").is_empty());
    assert!(
        !html_errors("<html><body></body></html>").is_empty(),
        "no doctype"
    );
    assert!(html_errors("<!DOCTYPE html><html lang=\"en\"><head><title>x</title></head><body><p>ok</p></body></html>").is_empty());
}

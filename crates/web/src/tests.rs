//! Rendering tests: every page renders, parses as HTML without errors, escapes what
//! clients control, formats numbers per language, and the language choice sticks.

use super::*;

struct Fake {
    rows: Vec<TorrentRow>,
    clients: Vec<(String, u64)>,
    history: Vec<Point>,
    hits: Vec<Hit>,
    /// What every search fails with, if set.
    search_error: Option<SearchError>,
    /// The cluster the overview shows, if any.
    cluster: Option<ClusterOverview>,
}

/// The first-seen time of every fake torrent: 2025-11-21 00:00 UTC.
const SEEN: u64 = 1_763_683_200;

/// A hit whose `highlight` covers the words of `name` in `marked`.
fn hit(b: u8, name: &str, marked: &[&str]) -> Hit {
    Hit {
        info_hash: [b; 20],
        name: name.into(),
        size: 734_003_200,
        files: 3,
        category: shoal_search::category::Category::Video,
        newznab: 2000,
        first_seen: SEEN,
        seeders: 12,
        leechers: 3,
        completed: 1_234,
        highlight: marked
            .iter()
            .map(|w| {
                let at = name.find(w).expect("a marked word is in the name");
                (at, at + w.len())
            })
            .collect(),
    }
}

/// The fake's nested tree: `Ubuntu/` with `disk/` (1,200 parts), `docs/` (two
/// files and `old/`), a readme, and one file at the top.
fn tree_files() -> Vec<(String, u64)> {
    let mut f: Vec<(String, u64)> = (0..1200)
        .map(|i| (format!("Ubuntu/disk/<part {i}>.iso"), 1_000_000))
        .collect();
    f.extend([
        ("Ubuntu/docs/b.pdf".to_owned(), 3_000),
        ("Ubuntu/docs/a.pdf".to_owned(), 2_000),
        ("Ubuntu/docs/old/c.pdf".to_owned(), 4_000),
        ("Ubuntu/README.txt".to_owned(), 1_000),
        ("top.nfo".to_owned(), 10),
    ]);
    f
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
            hits: vec![
                hit(0x11, "Big Buck Bunny 1080p", &["Big", "Buck"]),
                hit(0x12, "<script>alert(1)</script> Buck", &["script", "Buck"]),
                hit(0x13, "Ёжик в тумане", &["тумане"]),
            ],
            search_error: None,
            cluster: None,
        }
    }

    fn failing(e: SearchError) -> Fake {
        Fake {
            search_error: Some(e),
            ..Fake::new()
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
            cluster: self.cluster.clone(),
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
        // 0xab is a hybrid with a large nested tree; 0xcd a small private v1 torrent.
        let files = if *h == [0xab; 20] {
            tree_files()
        } else {
            ["CD1/<part 0>.iso", "CD1/extra/<part 1>.iso", "<part 2>.iso"]
                .map(|p| (p.to_owned(), 1_000))
                .into()
        };
        (*h == [0xab; 20] || *h == [0xcd; 20]).then(|| TorrentMeta {
            name: "Ubuntu <24.04> desktop".into(),
            info_hash_v2: (*h == [0xab; 20]).then_some([0xef; 32]),
            category: shoal_search::category::Category::Software,
            first_seen: SEEN,
            size: 6_114_656_256,
            piece_length: 262_144,
            private: *h == [0xcd; 20],
            file_count: files.len() as u64,
            files,
            upload: (*h == [0xcd; 20]).then(|| crate::UploadInfo {
                uploader: "ulla".into(),
                description: "line one\n<script>x</script>".into(),
                freeleech: true,
            }),
        })
    }
    fn preview(&self, h: &[u8; 20]) -> Option<Preview> {
        // 0xab has a preview: a large cover and a hostile text; 0xcd a recorded but
        // empty one.
        (*h == [0xab; 20] || *h == [0xcd; 20]).then(|| Preview {
            images: (*h == [0xab; 20])
                .then(|| PreviewImage {
                    path: "Ubuntu/<cover>.jpg".into(),
                    sha256: "1f".repeat(32),
                    width: 2000,
                    height: 1000,
                })
                .into_iter()
                .collect(),
            texts: (*h == [0xab; 20])
                .then(|| PreviewText {
                    path: "Ubuntu/README.txt".into(),
                    sha256: "2e".repeat(32),
                    encoding: "windows-1251".into(),
                    truncated: true,
                    text: "Привет</pre><script>alert(1)</script>\n╔══╗".into(),
                })
                .into_iter()
                .collect(),
        })
    }
    fn preview_file(&self, sha256: &[u8; 32], variant: &str) -> Option<Vec<u8>> {
        (*sha256 == [0x1f; 32] && variant == "thumb.png").then(|| b"\x89PNG fake".to_vec())
    }
    fn search(&self, req: &SearchRequest) -> Result<Results, SearchError> {
        if let Some(e) = &self.search_error {
            return Err(e.clone());
        }
        // "many" finds more than can be counted exactly; anything else 237 results.
        let many = req.q == "many";
        Ok(Results {
            hits: self.hits.iter().take(req.limit).cloned().collect(),
            total: if many { 10_000 } else { 237 },
            exact: !many,
            took_us: 120,
        })
    }
    fn torrent_file(&self, h: &[u8; 20], announce: &[String]) -> Option<Vec<u8>> {
        (*h == [0xab; 20]).then(|| {
            let url = announce.first().map_or("", String::as_str);
            format!("d8:announce{}:{url}4:infode", url.len()).into_bytes()
        })
    }
    fn announce_urls(&self, host: Option<&str>) -> Vec<String> {
        host.map(|h| {
            vec![
                format!("http://{h}/announce"),
                "udp://tracker.example:6969".into(),
            ]
        })
        .unwrap_or_default()
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
    get_from(web, &Fake::new(), path, query, accept)
}

fn get_from(web: &Web, src: &Fake, path: &str, query: &str, accept: Option<&str>) -> Response {
    let req = Request {
        path,
        query,
        accept_language: accept,
        cookie: None,
        host: Some("tracker.example:6969"),
    };
    web.handle(&req, src).expect("a page")
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
        (
            "/torrent/abababababababababababababababababababab",
            "files_page=3",
        ),
        ("/torrent/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", ""),
        (
            "/torrent/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd.torrent",
            "",
        ),
        ("/catalog", ""),
        (
            "/catalog",
            "q=buck&cat=video&min_size=700MB&seeded=1&sort=seeders&page=3",
        ),
        ("/catalog", "q=many"),
        ("/catalog", "cat=films&min_size=lots"),
        ("/catalog", "q=-only"),
    ];
    let unavailable = Fake::failing(SearchError::Unavailable("off".into()));
    let busy = Fake::failing(SearchError::Busy);
    for l in Lang::ALL {
        for (src, path) in [
            (&unavailable, "/catalog"),
            (&busy, "/catalog"),
            (&unavailable, "/"),
        ] {
            let html = text(&get_from(
                &web,
                src,
                path,
                &format!("lang={}", l.code()),
                None,
            ));
            let errors = html_errors(&html);
            assert!(
                errors.is_empty(),
                "{path} without search: {errors:?}\n{html}"
            );
        }
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

/// A node of several shows the cluster: totals of the live nodes, each node's share of
/// the peers in a chart, and every node in a table, in every language.
#[test]
fn the_overview_shows_the_cluster_nodes() {
    let web = Web::default();
    let node = |name: &str, this, live, peers, announces, heard_secs| NodeRow {
        name: name.into(),
        this,
        live,
        peers,
        announces,
        heard_secs,
    };
    let src = Fake {
        cluster: Some(ClusterOverview {
            connected: true,
            nodes: vec![
                node("node-1", true, true, 3000, 120_000, 0),
                node("node-2", false, true, 1000, 80_000, 1),
                node("node-3", false, false, 500, 9, 45),
            ],
        }),
        ..Fake::new()
    };
    let en = text(&get_from(&web, &src, "/", "", Some("en")));
    assert!(en.contains("Cluster</h2>"), "{en}");
    // The silent node is listed, not counted.
    assert!(
        en.contains("Nodes online</dt><dd data-stat=\"cluster.nodes\">2<"),
        "{en}"
    );
    assert!(en.contains(">4,000<") && en.contains(">200,000<"));
    assert!(en.contains("75.0%") && en.contains("25.0%"));
    assert!(en.contains("this node") && en.contains("silent") && en.contains("node-3"));
    assert!(
        en.contains(">1 s<") && en.contains(">45 s<"),
        "heard seconds ago"
    );
    for (lang, word) in [("ru", "Кластер"), ("uk", "Кластер"), ("zh", "集群")] {
        let html = text(&get_from(&web, &src, "/", &format!("lang={lang}"), None));
        assert!(html.contains(word), "{lang}");
        let errors = html_errors(&html);
        assert!(errors.is_empty(), "{lang}: {errors:?}");
    }
    let alone = text(&get(&web, "/", "", Some("en")));
    assert!(
        !alone.contains("h-cluster"),
        "a node of its own shows no cluster"
    );
    let down = Fake {
        cluster: Some(ClusterOverview {
            connected: false,
            nodes: vec![node("node-1", true, true, 1, 1, 0)],
        }),
        ..Fake::new()
    };
    assert!(text(&get_from(&web, &down, "/", "", Some("en"))).contains("NATS unreachable"));
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
        "magnet:?xt=urn:btih:abababababababababababababababababababab&amp;xt=urn:btmh:1220efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef&amp;dn=Ubuntu%20%3C24.04%3E%20desktop&amp;tr=http%3A%2F%2Ftracker.example%3A6969%2Fannounce"
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
    // The name is the title, escaped; size in binary units; the first page of files.
    assert!(
        html.contains("<title>Ubuntu &lt;24.04&gt; desktop"),
        "{html}"
    );
    assert!(html.contains("5.7\u{a0}GiB"), "{html}");
    assert!(html.contains(">&lt;part 0&gt;.iso</span>"));
    assert_eq!(html.matches("&lt;part ").count(), FILES_PER_PAGE);
    assert!(html.contains("Files 1–500 of 1,205"), "{html}");
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
    // Uploaded on the site: who published it and its description, escaped.
    let page = text(&gone);
    assert!(page.contains("Uploader: <strong>ulla</strong>"), "{page}");
    assert!(page.contains("Freeleech"), "{page}");
    assert!(
        page.contains("line one\n&lt;script&gt;x&lt;/script&gt;"),
        "{page}"
    );
    assert!(
        !html.contains("Uploader:"),
        "not on a torrent that was not uploaded"
    );
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

/// The `<li>` holding the folder `name`'s `<details>`, through its end.
fn folder<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("<span class=\"fname\">{name}</span>"))
        .unwrap_or_else(|| panic!("no folder {name}"));
    let start = html[..at].rfind("<details").unwrap();
    // Nested folders close before this one: count the <details> opened on the way.
    let mut depth = 0;
    let mut i = start;
    loop {
        let open = html[i..].find("<details").map(|o| i + o);
        let close = html[i..].find("</details>").map(|c| i + c).unwrap();
        match open {
            Some(o) if o < close => {
                depth += 1;
                i = o + 1;
            }
            _ => {
                depth -= 1;
                i = close + 1;
                if depth == 0 {
                    return &html[start..close + "</details>".len()];
                }
            }
        }
    }
}

#[test]
fn search_results_mark_matched_words_and_escape_names() {
    let web = Web::default();
    let r = get(&web, "/catalog", "q=big+buck", None);
    assert_eq!(r.status, 200);
    let html = text(&r);
    assert!(
        html.contains("<mark>Big</mark> <mark>Buck</mark> Bunny 1080p</a>"),
        "{html}"
    );
    // A hostile name stays text, with its matched words marked inside the escaping.
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;<mark>script</mark>&gt;alert(1)&lt;/script&gt; <mark>Buck</mark>"));
    // A match in a multi-byte name, by byte range.
    assert!(html.contains("Ёжик в <mark>тумане</mark>"));
    // Links, category, size, date, counts.
    assert!(html.contains("href=\"/torrent/1111111111111111111111111111111111111111\""));
    assert!(html.contains("<td class=\"opt\" data-label=\"Category\">Video</td>"));
    assert!(html.contains("700.0\u{a0}MiB"));
    assert!(html.contains(">Nov\u{a0}21, 2025<"));
    assert!(html.contains(">1,234<"));
    assert!(html.contains(">237 results<"), "{html}");
    // The form shows the search again.
    assert!(html.contains("name=\"q\" value=\"big buck\""), "{html}");
    let ru = text(&get(&web, "/catalog", "q=buck&lang=ru", None));
    assert!(
        ru.contains(">21\u{a0}нояб. 2025\u{a0}г.<") && ru.contains(">237 результатов<"),
        "{ru}"
    );
    assert!(ru.contains("data-label=\"Категория\">Видео</td>"));
    let zh = text(&get(&web, "/catalog", "lang=zh", None));
    assert!(zh.contains(">2025年11月21日<") && zh.contains("237 个结果"));
}

#[test]
fn an_inexact_total_says_more_than() {
    let web = Web::default();
    let html = text(&get(&web, "/catalog", "q=many", None));
    assert!(html.contains("more than 10,000 results"), "{html}");
    // 10,000 deep at 50 a page: 200 pages, not more.
    assert!(
        html.contains("href=\"/catalog?q=many&amp;page=200\""),
        "{html}"
    );
    assert!(!html.contains("page=201"));
}

#[test]
fn pagination_links_keep_the_search() {
    let web = Web::default();
    let html = text(&get(
        &web,
        "/catalog",
        "q=big+buck&cat=video&min_size=700MB&seeded=1&sort=seeders&page=3&lang=en",
        None,
    ));
    let qs = "q=big+buck&amp;cat=video&amp;min_size=700000000&amp;seeded=1&amp;sort=seeders";
    // 237 results at 50 a page: five pages, this the third.
    for n in [2, 4, 5] {
        assert!(
            html.contains(&format!("href=\"/catalog?{qs}&amp;page={n}\"")),
            "page {n}: {html}"
        );
    }
    assert!(html.contains(&format!("href=\"/catalog?{qs}\" aria-label=\"Page 1\"")));
    assert!(html.contains(&format!(
        "href=\"/catalog?{qs}&amp;page=3\" aria-current=\"page\""
    )));
    assert!(html.contains(&format!("href=\"/catalog?{qs}&amp;page=2\" rel=\"prev\"")));
    assert!(html.contains(&format!("href=\"/catalog?{qs}&amp;page=4\" rel=\"next\"")));
    assert!(!html.contains("page=6"));
    // Sorting by another column starts again at page 1 with the same filters.
    assert!(html.contains(
        "href=\"/catalog?q=big+buck&amp;cat=video&amp;min_size=700000000&amp;seeded=1&amp;sort=size\""
    ));
    // The form keeps what was typed.
    assert!(html.contains("value=\"700MB\""));
    assert!(html.contains("<option value=\"video\" selected>"));
    assert!(html.contains("<option value=\"seeders\" selected>"));
    assert!(html.contains("name=\"seeded\" value=\"1\" checked"));
}

#[test]
fn catalog_links_the_same_search_as_rss() {
    let web = Web::default();
    let html = text(&get(&web, "/catalog", "q=big+buck&cat=video&page=2", None));
    let feed = "/catalog/rss?q=big+buck&amp;cat=video";
    assert!(html.contains(&format!(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Catalog search (RSS)\" href=\"{feed}\">"
    )), "{html}");
    assert!(html.contains(&format!("<a class=\"feed\" href=\"{feed}\"")));
    let plain = text(&get(&web, "/catalog", "", None));
    assert!(plain.contains("href=\"/catalog/rss\""));
    // Other pages have no feed.
    assert!(!text(&get(&web, "/", "", None)).contains("application/rss+xml"));
}

#[test]
fn bad_parameters_give_400_naming_the_parameter() {
    let web = Web::default();
    let r = get(&web, "/catalog", "q=buck&cat=films", None);
    assert_eq!(r.status, 400);
    let html = text(&r);
    assert!(
        html.contains("role=\"alert\">Category: “films” is not a category"),
        "{html}"
    );
    assert!(html.contains("name=\"cat\" aria-invalid=\"true\" aria-describedby=\"search-error\""));
    assert!(html.contains("value=\"buck\""), "what was typed stays");
    assert!(!html.contains("<table"), "no results");
    let size = text(&get(&web, "/catalog", "min_size=%3Cb%3Elots", None));
    assert!(
        size.contains("Size from: “&lt;b&gt;lots” is not a size"),
        "{size}"
    );
    assert!(size.contains("value=\"&lt;b&gt;lots\""));
    let range = text(&get(
        &web,
        "/catalog",
        "min_size=5GB&max_size=1GB&lang=ru",
        None,
    ));
    assert!(
        range.contains("Размер до: он меньше наименьшего размера."),
        "{range}"
    );
    let page = get(&web, "/catalog", "page=0", None);
    assert_eq!(page.status, 400);
    assert!(text(&page).contains("Page: “0” is not a page number"));
    let deep = text(&get(&web, "/catalog", "page=900", None));
    assert!(deep.contains("results go 10,000 deep at most"), "{deep}");
    let words = text(&get(&web, "/catalog", "q=-trailer&lang=uk", None));
    assert!(
        words.contains("Пошук у каталозі: самі виключення"),
        "{words}"
    );
}

#[test]
fn catalog_without_search_gives_503() {
    let web = Web::default();
    let off = Fake::failing(SearchError::Unavailable("the catalog is off".into()));
    let r = get_from(&web, &off, "/catalog", "q=x", None);
    assert_eq!(r.status, 503);
    let html = text(&r);
    assert!(
        html.contains("The catalog search is not available"),
        "{html}"
    );
    assert!(!html.contains("<form"), "nothing to search");
    let busy = get_from(
        &web,
        &Fake::failing(SearchError::Busy),
        "/catalog",
        "q=x&lang=zh",
        None,
    );
    assert_eq!(busy.status, 503);
    let html = text(&busy);
    assert!(
        html.contains("搜索繁忙") && html.contains("<form"),
        "{html}"
    );
    let slow = get_from(
        &web,
        &Fake::failing(SearchError::Timeout),
        "/catalog",
        "",
        None,
    );
    assert_eq!(slow.status, 503);
}

#[test]
fn torrent_page_shows_both_hashes_category_and_date() {
    let web = Web::default();
    let html = text(&get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "lang=uk",
        None,
    ));
    assert!(html.contains(&"ef".repeat(32)), "the full v2 hash");
    assert!(html.contains("Інфо-хеш v2 (SHA-256)"));
    assert!(
        html.contains("Програми") && html.contains("21\u{a0}лист. 2025\u{a0}р."),
        "{html}"
    );
    // The magnet has both hashes and every announce URL; the .torrent is linked.
    assert!(html.contains(&format!("&amp;xt=urn:btmh:1220{}", "ef".repeat(32))));
    assert!(html.contains("&amp;tr=udp%3A%2F%2Ftracker.example%3A6969"));
    assert!(html.contains("href=\"/torrent/abababababababababababababababababababab.torrent\""));
    // A host that is not a plain name gets no announce URL.
    let req = Request {
        path: "/torrent/abababababababababababababababababababab",
        host: Some("evil\"><script>"),
        ..Default::default()
    };
    let r = text(&web.handle(&req, &Fake::new()).unwrap());
    assert!(!r.contains("&amp;tr="), "{r}");
    // No catalog entry: no .torrent link.
    let none = text(&get(
        &web,
        "/torrent/0101010101010101010101010101010101010101",
        "",
        None,
    ));
    assert!(!none.contains(".torrent\""));
}

#[test]
fn file_tree_nests_folders_with_their_sums() {
    let web = Web::default();
    // The last page holds the end of disk/, docs/ and the loose files.
    let html = text(&get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "files_page=3",
        None,
    ));
    // Every folder summary shows the whole folder, whatever the page.
    let ubuntu = folder(&html, "Ubuntu");
    assert!(
        ubuntu.starts_with("<details open>"),
        "top level open: {ubuntu}"
    );
    assert!(ubuntu.contains("1,204 files · 1.1\u{a0}GiB"), "{ubuntu}");
    let docs = folder(&html, "docs");
    assert!(
        docs.starts_with("<details open>"),
        "a paged tree opens the folders holding the page's files: {docs}"
    );
    assert!(docs.contains("3 files · 8.8\u{a0}KiB"), "{docs}");
    let old = folder(&html, "old");
    assert!(old.contains("1 file · 3.9\u{a0}KiB"), "{old}");
    assert!(docs.contains(old), "old/ is inside docs/");
    assert!(ubuntu.contains(docs) && ubuntu.contains("README.txt"));
    // Folders first, then files; natural order (part 2 before part 10).
    assert!(docs.find("c.pdf").unwrap() < docs.find("a.pdf").unwrap());
    assert!(docs.find("a.pdf").unwrap() < docs.find("b.pdf").unwrap());
    assert!(html.find(">&lt;part 1199&gt;.iso<").unwrap() < html.find("docs").unwrap());
    // top.nfo is outside every folder.
    assert!(!ubuntu.contains("top.nfo") && html.contains(">top.nfo</span>"));
    let ru = text(&get(
        &web,
        "/torrent/abababababababababababababababababababab",
        "files_page=3&lang=ru",
        None,
    ));
    assert!(
        folder(&ru, "docs").contains("3 файла · 8,8\u{a0}КиБ"),
        "{ru}"
    );
    assert!(folder(&ru, "Ubuntu").contains("1\u{a0}204 файла"));
}

#[test]
fn file_tree_pages_large_torrents() {
    let web = Web::default();
    let page = |q: &str| {
        text(&get(
            &web,
            "/torrent/abababababababababababababababababababab",
            q,
            None,
        ))
    };
    let count = |html: &str| html.matches("<li class=\"file\">").count();
    let first = page("");
    assert_eq!(count(&first), FILES_PER_PAGE);
    assert!(first.contains(">&lt;part 499&gt;.iso<") && !first.contains(">&lt;part 500&gt;.iso<"));
    assert!(
        !first.contains("docs"),
        "folders without files on the page are left out"
    );
    assert!(first.contains("href=\"/torrent/abababababababababababababababababababab?files_page=2#h-files\" rel=\"next\""));
    let second = page("files_page=2");
    assert_eq!(count(&second), FILES_PER_PAGE);
    assert!(
        second.contains(">&lt;part 500&gt;.iso<") && second.contains("Files 501–1,000 of 1,205")
    );
    assert!(second.contains("files_page=1#h-files\" rel=\"prev\""));
    let last = page("files_page=3");
    assert_eq!(count(&last), 205);
    assert!(!last.contains("rel=\"next\""));
    // A page out of range shows the nearest one.
    let tree = |html: &str| html[html.find("<div class=\"tree-wrap\">").unwrap()..].to_owned();
    assert_eq!(tree(&page("files_page=99")), tree(&last));
    assert_eq!(count(&page("files_page=x")), FILES_PER_PAGE);
    // A small torrent has no pager.
    let small = text(&get(
        &web,
        "/torrent/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "",
        None,
    ));
    assert_eq!(count(&small), 3);
    assert!(!small.contains("files_page"));
    // Unpaged, top-level folders are open and deeper ones closed.
    assert!(folder(&small, "CD1").starts_with("<details open>"));
    assert!(folder(&small, "extra").starts_with("<details>"), "{small}");
}

#[test]
fn torrent_files_download_or_404() {
    let web = Web::default();
    let r = get(
        &web,
        "/torrent/abababababababababababababababababababab.torrent",
        "",
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/x-bittorrent");
    assert!(r.headers.contains("Content-Disposition: attachment\r\n"));
    // The announce URL is the one for the request's host.
    assert_eq!(
        r.body,
        b"d8:announce36:http://tracker.example:6969/announce4:infode"
    );
    for missing in [
        "/torrent/cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd.torrent",
        "/torrent/nothex.torrent",
    ] {
        let r = get(&web, missing, "", None);
        assert_eq!((r.status, r.content_type), (404, HTML), "{missing}");
        assert!(text(&r).contains("no .torrent file"));
    }
    let req = Request {
        path: "/elsewhere.torrent",
        ..Default::default()
    };
    assert!(web.handle(&req, &Fake::new()).is_none());
}

#[test]
fn overview_has_search_recent_day_chart_and_top() {
    let web = Web::default();
    let html = text(&get(&web, "/", "", None));
    assert!(html.contains("<form class=\"search\" method=\"get\" action=\"/catalog\""));
    assert!(html.contains("type=\"search\" id=\"q\" name=\"q\""));
    let recent = &html[html.find("id=\"h-recent\"").expect("recently added")..];
    assert!(recent.contains(">Big Buck Bunny 1080p</a>"));
    assert!(recent.contains("&lt;script&gt;alert(1)&lt;/script&gt; Buck"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("<svg class=\"chart\"") && html.matches("<polyline").count() == 2);
    assert!(html.contains("aria-labelledby=\"day-peers-t day-peers-d\""));
    let top = &html[html.find("id=\"h-top\"").expect("top torrents")..];
    assert!(top.contains(">Ubuntu &lt;24.04&gt; desktop</a>"));
    assert!(top.contains("href=\"/torrents\""));
    // The live figures are still there.
    assert!(html.contains("data-stat=\"peers_all\""));
}

#[test]
fn overview_hides_search_when_the_catalog_is_off() {
    let web = Web::default();
    let off = Fake::failing(SearchError::Unavailable("off".into()));
    let html = text(&get_from(&web, &off, "/", "", None));
    assert!(
        !html.contains("h-recent") && !html.contains("<form"),
        "{html}"
    );
    // A busy search keeps the box but has no list to show.
    let busy = text(&get_from(
        &web,
        &Fake::failing(SearchError::Busy),
        "/",
        "",
        None,
    ));
    assert!(busy.contains("<form") && !busy.contains("h-recent"));
}

#[test]
fn navigation_leads_to_the_catalog() {
    let web = Web::default();
    let html = text(&get(&web, "/catalog", "lang=ru", None));
    assert!(
        html.contains("<a href=\"/catalog\" aria-current=\"page\">Каталог</a>"),
        "{html}"
    );
    let home = text(&get(&web, "/", "", None));
    assert!(home.contains("<a href=\"/catalog\">Catalog</a>"));
}

#[test]
fn the_preview_is_a_gallery_and_escaped_texts_in_every_language() {
    let web = Web::default();
    let hex = "ab".repeat(20);
    for (lang, heading) in [
        ("en", "Preview"),
        ("ru", "Предпросмотр"),
        ("uk", "Попередній перегляд"),
        ("zh", "预览"),
    ] {
        let page = text(&get(
            &web,
            &format!("/torrent/{hex}"),
            &format!("lang={lang}"),
            None,
        ));
        assert!(
            page.contains(&format!("id=\"h-preview\">{heading}</h2>")),
            "{lang}"
        );
        assert_eq!(html_errors(&page), Vec::<String>::new(), "{lang}");
        // The thumbnail's box is the thumbnail's size (320 on the longer side).
        let thumb = format!(
            "src=\"/preview/{}/thumb.png\" width=\"320\" height=\"160\"",
            "1f".repeat(32)
        );
        assert!(page.contains(&thumb), "{page}");
        assert!(page.contains(&format!("href=\"/preview/{}/full.png\"", "1f".repeat(32))));
        assert!(page.contains("alt=\"Ubuntu/&lt;cover&gt;.jpg\""));
        // The text is escaped: its markup shows as text.
        assert!(
            page.contains("Привет&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("╔══╗"));
        assert!(page.contains("class=\"note\">"), "the cut is said");
    }
    // A recorded preview with nothing to show, and no preview at all: no section.
    for h in ["cd".repeat(20), "01".repeat(20)] {
        let page = text(&get(&web, &format!("/torrent/{h}"), "", None));
        assert!(!page.contains("h-preview"), "{h}");
    }
}

#[test]
fn preview_files_are_served_with_strict_headers_or_404() {
    let web = Web::default();
    let r = get(
        &web,
        &format!("/preview/{}/thumb.png", "1f".repeat(32)),
        "",
        None,
    );
    assert_eq!((r.status, r.content_type), (200, "image/png"));
    assert!(r
        .headers
        .contains("Content-Security-Policy: default-src 'none'; sandbox\r\n"));
    assert!(r.headers.contains("X-Content-Type-Options: nosniff\r\n"));
    for bad in [
        format!("/preview/{}/full.png", "1f".repeat(32)),
        format!("/preview/{}/original.jpg", "1f".repeat(32)),
        format!("/preview/{}/thumb.png", "+f".repeat(32)),
        format!("/preview/{}/thumb.png", "1f".repeat(31)),
        "/preview/".to_owned(),
        "/preview/x".to_owned(),
    ] {
        let r = get(&web, &bad, "", None);
        assert_eq!(r.status, 404, "{bad}");
        assert!(r.headers.contains("default-src 'none'"), "{bad}");
    }
    assert_eq!(super::thumb_size(100, 50), (100, 50), "never enlarged");
    assert_eq!(super::thumb_size(1000, 3000), (107, 320));
    assert_eq!(super::thumb_size(5000, 1), (320, 1));
}

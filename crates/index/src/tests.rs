use std::collections::HashMap;

use shoal_search::category::Category;
use shoal_search::request::{Order, SearchError, SearchRequest};
use shoal_store::{CatalogEntry, InfoHash};

use super::*;

fn entry(i: u8, name: &str, files: &[(&str, u64)], first_seen: u64) -> CatalogEntry {
    CatalogEntry {
        info_hash: InfoHash([i; 20]),
        alias: None,
        info_hash_v2: None,
        name: name.into(),
        total_size: files.iter().map(|f| f.1).sum(),
        file_count: files.len() as u64,
        piece_length: 262_144,
        private: false,
        first_seen,
        resolved_at: first_seen + 1,
        source_peers: 1,
        last_active: first_seen,
        files: files.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect(),
        info: Vec::new(),
    }
}

fn corpus() -> Vec<CatalogEntry> {
    vec![
        entry(
            1,
            "Big.Buck.Bunny.2008.1080p.x264",
            &[
                ("Big.Buck.Bunny.2008.1080p.x264.mkv", 900_000_000),
                ("cover.jpg", 100_000),
            ],
            1000,
        ),
        entry(
            2,
            "Ubuntu 24.04 Desktop amd64",
            &[("ubuntu-24.04-desktop-amd64.iso", 6_000_000_000)],
            2000,
        ),
        entry(
            3,
            "Фильмы о войне (сборник)",
            &[
                ("Фильмы/Брестская крепость.avi", 1_400_000_000),
                ("Фильмы/Звезда.avi", 1_300_000_000),
            ],
            3000,
        ),
        entry(
            4,
            "Пісні українською",
            &[("Пісні/01 Червона рута.mp3", 5_000_000)],
            4000,
        ),
        entry(
            5,
            "中文电影合集",
            &[("电影/大闹天宫.mkv", 2_000_000_000)],
            5000,
        ),
        entry(
            6,
            "The.Show.S01E02.720p.WEB",
            &[("The.Show.S01E02.720p.WEB.mkv", 700_000_000)],
            6000,
        ),
        entry(
            7,
            "Open Source Books",
            &[
                ("books/rust/the book.epub", 3_000_000),
                ("books/bunny care.pdf", 1_000_000),
            ],
            7000,
        ),
    ]
}

struct Rig {
    _dir: tempfile::TempDir,
    index: Index,
    live: HashMap<[u8; 20], LiveCounts>,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert!(index.fresh());
    let mut w = index.writer(1, 20_000_000).unwrap();
    for e in corpus() {
        w.upsert(&e).unwrap();
    }
    w.commit().unwrap();
    let mut live = HashMap::new();
    live.insert(
        [1; 20],
        LiveCounts {
            seeders: 5,
            leechers: 1,
            completed: 10,
        },
    );
    live.insert(
        [2; 20],
        LiveCounts {
            seeders: 50,
            leechers: 9,
            completed: 3,
        },
    );
    live.insert(
        [7; 20],
        LiveCounts {
            seeders: 0,
            leechers: 4,
            completed: 99,
        },
    );
    Rig {
        _dir: dir,
        index,
        live,
    }
}

impl Rig {
    fn find(&self, qs: &str) -> Vec<u8> {
        let req = SearchRequest::from_query_string(qs).unwrap();
        let live = |h: &[u8; 20]| self.live.get(h).copied().unwrap_or_default();
        let r = self.index.search(&req, &live).unwrap();
        r.hits.iter().map(|h| h.info_hash[0]).collect()
    }
}

#[test]
fn words_in_names_and_paths_in_four_languages() {
    let r = rig();
    assert_eq!(r.find("q=bunny+"), [1, 7], "name first, then a file path");
    assert_eq!(r.find("q=ubuntu+desktop+"), [2]);
    // Russian: an inflected form meets the stem; a word only in a path.
    assert_eq!(r.find("q=фильм+"), [3]);
    assert_eq!(r.find("q=крепости+"), [3]);
    // Ukrainian and Chinese.
    assert_eq!(r.find("q=пісня+"), [4]);
    assert_eq!(r.find("q=电影+"), [5]);
    assert_eq!(r.find("q=天宫+"), [5]);
    // Release-name separators split words.
    assert_eq!(r.find("q=s01e02+"), [6]);
    assert_eq!(r.find("q=nothing+here+"), Vec::<u8>::new());
}

#[test]
fn phrases_exclusions_prefixes_and_hashes() {
    let r = rig();
    assert_eq!(r.find("q=%22big+buck%22"), [1]);
    assert_eq!(
        r.find("q=%22buck+big%22"),
        Vec::<u8>::new(),
        "a phrase is in order"
    );
    assert_eq!(r.find("q=bunny+-x264+"), [7]);
    // While typing: the last word is a prefix.
    assert_eq!(r.find("q=ubun"), [2]);
    assert_eq!(r.find("q=desk"), [2]);
    let hex = "0202020202020202020202020202020202020202";
    assert_eq!(r.find(&format!("q={hex}")), [2]);
    assert_eq!(
        r.find(&format!("q=magnet%3A%3Fxt%3Durn%3Abtih%3A{hex}")),
        [2]
    );
}

#[test]
fn filters_orders_and_pages() {
    let r = rig();
    // Browsing: newest first.
    assert_eq!(r.find(""), [7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(r.find("cat=video"), [6, 5, 3, 1]);
    assert_eq!(r.find("cat=audio"), [4]);
    assert_eq!(r.find("cat=books"), [7]);
    assert_eq!(r.find("min_size=1GB&max_size=3GB"), [5, 3]);
    assert_eq!(r.find("seeded=1"), [2, 1]);
    assert_eq!(r.find("sort=seeders&per_page=2"), [2, 1]);
    assert_eq!(r.find("sort=completed&per_page=3"), [7, 1, 2]);
    assert_eq!(r.find("sort=size&per_page=2"), [2, 3]);
    assert_eq!(r.find("sort=name&per_page=3"), [1, 7, 6]);
    assert_eq!(r.find("per_page=3&page=2"), [4, 3, 2]);
    assert_eq!(r.find("q=bunny+&sort=newest"), [7, 1]);
    let req = SearchRequest::from_query_string("cat=video&per_page=2").unwrap();
    let res = r.index.search(&req, &|_| LiveCounts::default()).unwrap();
    assert_eq!((res.total, res.exact, res.hits.len()), (4, true, 2));
    // Torznab's extras: a Newznab category, a season prefix, an episode term.
    let req = SearchRequest {
        newznab: vec![5030],
        limit: 10,
        ..SearchRequest::default()
    };
    let ids: Vec<u8> = r
        .index
        .search(&req, &|_| LiveCounts::default())
        .unwrap()
        .hits
        .iter()
        .map(|h| h.info_hash[0])
        .collect();
    assert_eq!(ids, [6]);
    let req = SearchRequest {
        q: "show ".into(),
        also_prefix: Some("s01".into()),
        limit: 10,
        ..SearchRequest::default()
    };
    assert_eq!(
        r.index
            .search(&req, &|_| LiveCounts::default())
            .unwrap()
            .hits
            .len(),
        1
    );
}

#[test]
fn hits_carry_metadata_live_counts_and_highlights() {
    let r = rig();
    let req = SearchRequest::from_query_string("q=bunny+1080").unwrap();
    let live = |h: &[u8; 20]| r.live.get(h).copied().unwrap_or_default();
    let res = r.index.search(&req, &live).unwrap();
    let h = &res.hits[0];
    assert_eq!(h.info_hash, [1; 20]);
    assert_eq!(
        (h.size, h.files, h.category),
        (900_100_000, 2, Category::Video)
    );
    assert_eq!(h.newznab, shoal_search::newznab::MOVIES);
    assert_eq!((h.seeders, h.leechers, h.completed), (5, 1, 10));
    let marked: Vec<&str> = h.highlight.iter().map(|&(a, b)| &h.name[a..b]).collect();
    assert_eq!(marked, ["Bunny", "1080p"]);
}

#[test]
fn upserts_replace_and_removals_delete_under_either_hash() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open(dir.path()).unwrap();
    let mut w = index.writer(1, 20_000_000).unwrap();
    let mut hybrid = entry(9, "Hybrid Thing", &[("thing.iso", 10)], 10);
    hybrid.alias = Some(InfoHash([0x99; 20]));
    hybrid.info_hash_v2 = Some([0x99; 32]);
    w.upsert(&hybrid).unwrap();
    // The same torrent resolved again under its other hash: one document.
    let again = CatalogEntry {
        info_hash: InfoHash([0x99; 20]),
        alias: Some(InfoHash([9; 20])),
        name: "Hybrid Thing Renamed".into(),
        ..hybrid.clone()
    };
    w.upsert(&again).unwrap();
    w.commit().unwrap();
    assert_eq!(index.len(), 1);
    let find = |q: &str| {
        let req = SearchRequest::from_query_string(q).unwrap();
        index
            .search(&req, &|_| LiveCounts::default())
            .unwrap()
            .hits
            .len()
    };
    assert_eq!(find("q=renamed+"), 1);
    // Shown by its v1 hash although resolved from its v2 swarm.
    let req = SearchRequest::from_query_string("q=renamed+").unwrap();
    let hit = &index.search(&req, &|_| LiveCounts::default()).unwrap().hits[0];
    assert_eq!(hit.info_hash, [9; 20]);
    assert_eq!(
        find("q=0909090909090909090909090909090909090909"),
        1,
        "found by its alias"
    );
    w.remove(&[9; 20]);
    w.commit().unwrap();
    assert_eq!(index.len(), 0);
    assert_eq!(index.mark().unwrap().resolved_at, 11);
    // A rebuild: cleared, refilled without per-document deletes, one document each;
    // after its commit an upsert replaces again.
    let entry_a = entry(3, "Rebuilt Thing", &[("a.iso", 10)], 20);
    w.clear().unwrap();
    w.upsert(&entry_a).unwrap();
    w.commit().unwrap();
    assert_eq!(index.len(), 1);
    w.upsert(&entry_a).unwrap();
    w.commit().unwrap();
    assert_eq!(index.len(), 1, "replaced, not added");
    // Another writer cannot take the lock while this one lives.
    assert!(matches!(
        index.writer(1, 20_000_000),
        Err(IndexError::Locked(_))
    ));
}

#[test]
fn another_schema_version_is_wiped_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = Index::open(dir.path()).unwrap();
        let mut w = index.writer(1, 20_000_000).unwrap();
        w.upsert(&corpus()[0]).unwrap();
        w.commit().unwrap();
        w.finish().unwrap();
    }
    let index = Index::open(dir.path()).unwrap();
    assert!(!index.fresh());
    assert_eq!(index.len(), 1);
    drop(index);
    std::fs::write(dir.path().join(VERSION_FILE), "0\n").unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert!(index.fresh(), "another version starts fresh");
    assert_eq!(index.len(), 0);
    // Garbage where the index should be: fresh too, not an error.
    drop(index);
    std::fs::write(dir.path().join("meta.json"), "not json").unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert!(index.fresh());
}

#[test]
fn refused_searches_say_why() {
    let r = rig();
    let live = |_: &[u8; 20]| LiveCounts::default();
    let deep = SearchRequest {
        offset: 20_000,
        limit: 10,
        ..SearchRequest::default()
    };
    assert_eq!(
        r.index.search(&deep, &live).unwrap_err(),
        SearchError::TooDeep
    );
    let only_not = SearchRequest {
        q: "-bunny".into(),
        limit: 10,
        ..SearchRequest::default()
    };
    assert!(matches!(
        r.index.search(&only_not, &live),
        Err(SearchError::Query(_))
    ));
    let _ = Order::ALL;
}

/// One search thread, a queue of one: while a search is held inside the live-counts
/// lookup, one more waits, the next is refused as busy, and a caller past its time
/// limit is told so; once released, the pool answers again.
#[test]
fn the_search_pool_bounds_work_and_waiting() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use crate::pool::{PoolConfig, SearchPool};

    let r = rig();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let entered_tx = Mutex::new(entered_tx);
    let gate_on = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let gate = gate_on.clone();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let live: crate::pool::Live = Arc::new(move |_h: &[u8; 20]| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if gate.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let _ = entered_tx.lock().unwrap().send(());
            let _ = release_rx.lock().unwrap().recv();
        }
        LiveCounts::default()
    });
    let index = Arc::new(r.index);
    let pool = Arc::new(
        SearchPool::start(
            index,
            live,
            PoolConfig {
                threads: 1,
                queue: 1,
                timeout: Duration::from_millis(1000),
            },
        )
        .unwrap(),
    );
    let req = SearchRequest::from_query_string("q=bunny+&sort=seeders").unwrap();
    // The first search holds the only thread; its caller gives up after a second.
    let first = {
        let (pool, req) = (pool.clone(), req.clone());
        std::thread::spawn(move || pool.search(&req))
    };
    entered.recv().unwrap();
    // The second waits in the queue.
    let second = {
        let (pool, req) = (pool.clone(), req.clone());
        std::thread::spawn(move || pool.search(&req))
    };
    std::thread::sleep(Duration::from_millis(200));
    // The third finds the queue full.
    assert_eq!(pool.search(&req).unwrap_err(), SearchError::Busy);
    assert_eq!(first.join().unwrap().unwrap_err(), SearchError::Timeout);
    // The thread is still held: the queued search times out too, and is dropped unrun
    // once the thread is free.
    assert_eq!(second.join().unwrap().unwrap_err(), SearchError::Timeout);
    release.send(()).unwrap();
    let mut answer = pool.search(&req);
    for _ in 0..20 {
        if answer != Err(SearchError::Busy) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        answer = pool.search(&req);
    }
    assert_eq!(answer.unwrap().hits.len(), 2);
    // Two lookups for the first search, two for the last: the abandoned one never ran.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    // Refused before queueing: a query over the length limit.
    let long = SearchRequest {
        q: "x".repeat(600),
        limit: 10,
        ..SearchRequest::default()
    };
    assert!(matches!(pool.search(&long), Err(SearchError::Query(_))));
    pool.shutdown();
}

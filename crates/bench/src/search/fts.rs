//! The same catalog in SQLite FTS5, for the comparison with the tantivy index.
//!
//! Names and paths are tokenized by [`shoal_search::terms`] and stored space-joined, so
//! FTS5's `unicode61` tokenizer (diacritics kept) sees exactly the terms tantivy
//! indexes. A contentless FTS5 table (`contentless_delete=1`, so entries can be removed
//! as the catalog prunes them) holds the terms of columns `name` and `paths`; a plain
//! table `doc` holds what a results page shows (the hash, name, size, files, first
//! seen, category), keyed like the FTS rows. Searches follow `shoal_index`'s steps:
//! the same parsed query as one `MATCH` expression, BM25 with the name weighted twice
//! (`bm25(fts, 2.0, 1.0)`), a window re-ranked or sorted by live counts, the total
//! counted, the page's rows read and their names highlighted.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OpenFlags};
use shoal_search::category::Category;
use shoal_search::query::{Query, Words};
use shoal_search::request::{Order, SearchRequest, MAX_WINDOW};
use shoal_store::{CatalogStore, InfoHash};

use crate::measure::{LiveMap, Outcome, Session};

/// Weight of the name against paths (`shoal_index`'s `NAME_BOOST`).
pub const NAME_WEIGHT: f64 = 2.0;
/// Relevance results re-ranked with live seeders (`shoal_index`'s `RERANK`).
const RERANK: usize = 200;
/// `1 + SEEDER_BOOST · ln(1 + seeders)` (`shoal_index`'s).
const SEEDER_BOOST: f64 = 0.1;
/// A typed prefix shorter than this is matched only as a whole term (`shoal_index`'s).
const MIN_PREFIX_CHARS: usize = 2;
/// Paths indexed per torrent at most.
const MAX_PATHS: usize = shoal_index::MAX_PATHS;
/// Entries read from the store per page (as the index's rebuild does).
const SCAN_PAGE: usize = 1000;
/// Entries per write transaction.
const PER_TRANSACTION: usize = 10_000;

fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The FTS5 `MATCH` expression of the words of a query (plus a Torznab request's extra
/// terms and prefix), or `None` when it can match nothing. Every term is quoted (so
/// `and`, `or`, `not` and `near` stay words); a phrase is one quoted string; a typed
/// prefix is its whole-word term or the prefix (`("term" OR "pre"*)`); exclusions
/// follow `NOT`.
pub fn match_expression(w: &Words, also: &[String], also_prefix: Option<&str>) -> Option<String> {
    let mut must: Vec<String> = w.required.iter().chain(also).map(|t| quote(t)).collect();
    must.extend(w.phrases.iter().map(|p| quote(&p.join(" "))));
    for p in w.prefix.iter().map(String::as_str).chain(also_prefix) {
        let mut alts: Vec<String> = shoal_search::terms(p).iter().map(|t| quote(t)).collect();
        if p.chars().count() >= MIN_PREFIX_CHARS {
            alts.push(format!("{}*", quote(p)));
        }
        match alts.len() {
            0 => return None,
            1 => must.push(alts.remove(0)),
            _ => must.push(format!("({})", alts.join(" OR "))),
        }
    }
    if must.is_empty() {
        return None;
    }
    let mut expr = must.join(" AND ");
    if must.len() > 1 && !w.excluded.is_empty() {
        expr = format!("({expr})");
    }
    for t in &w.excluded {
        expr.push_str(" NOT ");
        expr.push_str(&quote(t));
    }
    Some(expr)
}

/// What building the FTS5 database took.
#[derive(Debug, Clone, Copy)]
pub struct FtsBuild {
    /// Entries written.
    pub entries: u64,
    /// Reading the store, tokenizing and inserting.
    pub insert: Duration,
    /// Merging the FTS5 b-trees into one (`optimize`).
    pub optimize: Duration,
}

fn sql(e: rusqlite::Error) -> String {
    format!("sqlite: {e}")
}

/// Writes the whole store into a new FTS5 database at `path` (one thread: SQLite has
/// one writer).
pub fn build(
    store: &dyn CatalogStore,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<FtsBuild, String> {
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        let _ = std::fs::remove_file(p);
    }
    let mut conn = Connection::open(path).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE doc (
             id INTEGER PRIMARY KEY,
             info_hash BLOB NOT NULL UNIQUE,
             name TEXT NOT NULL,
             size INTEGER NOT NULL,
             files INTEGER NOT NULL,
             first_seen INTEGER NOT NULL,
             category INTEGER NOT NULL,
             newznab INTEGER NOT NULL,
             name_key TEXT NOT NULL
         );
         CREATE VIRTUAL TABLE fts USING fts5(
             name, paths, content = '', contentless_delete = 1,
             tokenize = 'unicode61 remove_diacritics 0'
         );",
    )
    .map_err(sql)?;
    let started = Instant::now();
    let mut after = (0, InfoHash([0; 20]));
    let mut n = 0u64;
    let mut tx = conn.transaction().map_err(sql)?;
    let mut in_tx = 0;
    loop {
        let page = store
            .catalog_scan(after, SCAN_PAGE)
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = (last.resolved_at, last.info_hash);
        {
            let mut doc = tx
                .prepare_cached(
                    "INSERT INTO doc (info_hash, name, size, files, first_seen, category,
                         newznab, name_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .map_err(sql)?;
            let mut fts = tx
                .prepare_cached("INSERT INTO fts (rowid, name, paths) VALUES (?, ?, ?)")
                .map_err(sql)?;
            for e in &page {
                let category = Category::of_files(e.files.iter().map(|(p, n)| (p.as_str(), *n)));
                let mut name_key = shoal_search::fold_only(&e.name);
                let mut cut = name_key.len().min(64);
                while !name_key.is_char_boundary(cut) {
                    cut -= 1;
                }
                name_key.truncate(cut);
                doc.execute(params![
                    &e.info_hash.0[..],
                    e.name,
                    e.total_size as i64,
                    e.file_count as i64,
                    e.first_seen as i64,
                    category_index(category),
                    shoal_search::newznab::of(category, &e.name),
                    name_key,
                ])
                .map_err(sql)?;
                let id = tx.last_insert_rowid();
                let name = shoal_search::terms(&e.name).join(" ");
                let paths = e
                    .files
                    .iter()
                    .take(MAX_PATHS)
                    .map(|(p, _)| shoal_search::terms(p).join(" "))
                    .collect::<Vec<_>>()
                    .join(" ");
                fts.execute(params![id, name, paths]).map_err(sql)?;
            }
        }
        n += page.len() as u64;
        in_tx += page.len();
        if in_tx >= PER_TRANSACTION {
            tx.commit().map_err(sql)?;
            tx = conn.transaction().map_err(sql)?;
            in_tx = 0;
        }
        progress(n);
    }
    tx.commit().map_err(sql)?;
    let insert = started.elapsed();
    let started = Instant::now();
    conn.execute_batch(
        "INSERT INTO fts (fts) VALUES ('optimize');
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .map_err(sql)?;
    Ok(FtsBuild {
        entries: n,
        insert,
        optimize: started.elapsed(),
    })
}

fn category_index(c: Category) -> i64 {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(6) as i64
}

/// One thread's connection to the FTS5 database.
pub struct FtsSession<'a> {
    conn: Connection,
    live: &'a LiveMap,
}

impl<'a> FtsSession<'a> {
    /// Opens the database read-only, mapped into memory like tantivy's files.
    pub fn open(path: &Path, live: &'a LiveMap) -> Result<FtsSession<'a>, String> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        conn.execute_batch("PRAGMA mmap_size = 2147418112; PRAGMA cache_size = -65536;")
            .map_err(sql)?;
        Ok(FtsSession { conn, live })
    }

    fn live(&self, h: &[u8]) -> shoal_index::LiveCounts {
        <[u8; 20]>::try_from(h)
            .ok()
            .and_then(|h| self.live.get(&h).copied())
            .unwrap_or_default()
    }
}

/// The request's SQL filters and their values.
fn filters(req: &SearchRequest) -> (String, Vec<i64>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    if let Some(c) = req.category {
        sql.push_str(" AND d.category = ?");
        values.push(category_index(c));
    }
    if let Some(n) = req.min_size {
        sql.push_str(" AND d.size >= ?");
        values.push(n as i64);
    }
    if let Some(n) = req.max_size {
        sql.push_str(" AND d.size <= ?");
        values.push(n as i64);
    }
    (sql, values)
}

impl Session for FtsSession<'_> {
    fn search(&mut self, req: &SearchRequest) -> Result<Outcome, String> {
        let Query::Words(w) = req.check().map_err(|e| e.to_string())? else {
            return Err("only word queries are compared".into());
        };
        let Some(expr) = match_expression(&w, &req.also, req.also_prefix.as_deref()) else {
            return Ok(Outcome {
                total: 0,
                exact: true,
                hits: 0,
                count: Duration::ZERO,
            });
        };
        let (filter_sql, filter_values) = filters(req);
        let live_order = req.order.is_live() || req.seeded;
        let (window, order_sql) = match req.order {
            _ if live_order => (MAX_WINDOW, "score"),
            Order::Size => (req.offset + req.limit, "d.size DESC"),
            Order::Name => (req.offset + req.limit, "d.name_key"),
            Order::Newest => (req.offset + req.limit, "d.first_seen DESC"),
            _ => ((req.offset + req.limit).clamp(RERANK, MAX_WINDOW), "score"),
        };
        let weights = format!("bm25(fts, {NAME_WEIGHT:.1}, 1.0)");
        // Without filters the window comes from the FTS table alone; a join per match
        // is paid only for the window's rows.
        let window_sql = if filter_sql.is_empty() && order_sql == "score" {
            format!(
                "SELECT f.rowid, f.score, d.info_hash FROM
                   (SELECT rowid, {weights} AS score FROM fts WHERE fts MATCH ?
                    ORDER BY score LIMIT ?) f
                 JOIN doc d ON d.id = f.rowid ORDER BY f.score"
            )
        } else {
            format!(
                "SELECT d.id, {weights} AS score, d.info_hash FROM fts JOIN doc d ON d.id = fts.rowid
                 WHERE fts MATCH ?{filter_sql} ORDER BY {order_sql} LIMIT ?"
            )
        };
        let mut binds: Vec<rusqlite::types::Value> = vec![expr.clone().into()];
        binds.extend(filter_values.iter().map(|v| (*v).into()));
        binds.push((window as i64).into());
        // (score, higher is better; id; live counts)
        let mut rows: Vec<(f64, i64, shoal_index::LiveCounts)> = {
            let mut st = self.conn.prepare_cached(&window_sql).map_err(sql)?;
            let mapped = st
                .query_map(rusqlite::params_from_iter(binds.iter()), |r| {
                    Ok((
                        -r.get::<_, f64>(1)?,
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(sql)?;
            let mut rows = Vec::new();
            for m in mapped {
                let (s, id, h) = m.map_err(sql)?;
                rows.push((s, id, self.live(&h)));
            }
            rows
        };
        let counted = Instant::now();
        let count: u64 = {
            let count_sql = if filter_sql.is_empty() {
                "SELECT count(*) FROM fts WHERE fts MATCH ?".to_owned()
            } else {
                format!(
                    "SELECT count(*) FROM fts JOIN doc d ON d.id = fts.rowid
                     WHERE fts MATCH ?{filter_sql}"
                )
            };
            let mut binds: Vec<rusqlite::types::Value> = vec![expr.into()];
            binds.extend(filter_values.iter().map(|v| (*v).into()));
            let mut st = self.conn.prepare_cached(&count_sql).map_err(sql)?;
            st.query_row(rusqlite::params_from_iter(binds.iter()), |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql)? as u64
        };
        let count_time = counted.elapsed();
        if req.seeded {
            rows.retain(|r| r.2.seeders > 0);
        }
        let rerank = |rows: &mut Vec<(f64, i64, shoal_index::LiveCounts)>| {
            for r in rows.iter_mut() {
                r.0 *= 1.0 + SEEDER_BOOST * (1.0 + f64::from(r.2.seeders)).ln();
            }
            rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        };
        match req.order {
            Order::Seeders => rows.sort_by_key(|r| std::cmp::Reverse(r.2.seeders)),
            Order::Leechers => rows.sort_by_key(|r| std::cmp::Reverse(r.2.leechers)),
            Order::Completed => rows.sort_by_key(|r| std::cmp::Reverse(r.2.completed)),
            Order::Relevance => rerank(&mut rows),
            _ => {}
        }
        let (total, exact) = if live_order {
            (rows.len() as u64, count <= MAX_WINDOW as u64)
        } else {
            (count, true)
        };
        // The page: what a results list shows, names highlighted.
        let mut terms = w.required.clone();
        terms.extend(w.phrases.iter().flatten().cloned());
        if let Some(p) = &w.prefix {
            terms.extend(shoal_search::terms(p));
        }
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT name, size, files, category, newznab, first_seen FROM doc WHERE id = ?",
            )
            .map_err(sql)?;
        let mut hits = 0;
        for (_, id, _) in rows.iter().skip(req.offset).take(req.limit) {
            let (name, size): (String, i64) = st
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?;
            let marks = shoal_search::highlight(&name, &terms, w.prefix.as_deref());
            std::hint::black_box((marks, size));
            hits += 1;
        }
        Ok(Outcome {
            total,
            exact,
            hits,
            count: count_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(q: &str) -> String {
        let Query::Words(w) = shoal_search::query::parse(q).unwrap() else {
            panic!("{q}")
        };
        match_expression(&w, &[], None).unwrap()
    }

    #[test]
    fn one_word_is_one_quoted_term() {
        assert_eq!(expr("Running "), "\"run\"");
        assert_eq!(expr("фильмы "), "\"фильм\"");
    }

    #[test]
    fn words_are_anded() {
        assert_eq!(
            expr("dark night 1080p "),
            "\"dark\" AND \"night\" AND \"1080p\""
        );
        // Keywords of FTS5's own syntax stay words.
        assert_eq!(expr("cats and dogs "), "\"cat\" AND \"and\" AND \"dog\"");
    }

    #[test]
    fn a_phrase_is_one_quoted_string() {
        assert_eq!(expr("\"big buck bunny\""), "\"big buck bunni\"");
        // CJK bigrams of one run make a phrase.
        assert_eq!(expr("\"音楽の旅\""), "\"音楽 楽の の旅\"");
    }

    #[test]
    fn a_typed_prefix_is_the_word_or_a_prefix() {
        assert_eq!(expr("dark nig"), "\"dark\" AND (\"nig\" OR \"nig\"*)");
        assert_eq!(expr("Runn"), "(\"runn\" OR \"runn\"*)");
        // One letter matches only as a whole term.
        assert_eq!(expr("dark n"), "\"dark\" AND \"n\"");
    }

    #[test]
    fn exclusions_follow_not() {
        assert_eq!(expr("matrix -trailer "), "\"matrix\" NOT \"trailer\"");
        assert_eq!(
            expr("big buck -trailer -sample "),
            "(\"big\" AND \"buck\") NOT \"trailer\" NOT \"sampl\""
        );
    }

    #[test]
    fn filters_and_torznab_terms() {
        let r = SearchRequest {
            category: Some(Category::Audio),
            min_size: Some(10),
            max_size: Some(20),
            ..SearchRequest::default()
        };
        assert_eq!(
            filters(&r),
            (
                " AND d.category = ? AND d.size >= ? AND d.size <= ?".to_owned(),
                vec![1, 10, 20]
            )
        );
        let Query::Words(w) = shoal_search::query::parse("show ").unwrap() else {
            panic!()
        };
        assert_eq!(
            match_expression(&w, &["s01e02".into()], Some("s01")).unwrap(),
            "\"show\" AND \"s01e02\" AND (\"s01\" OR \"s01\"*)"
        );
    }

    #[test]
    fn fts5_sees_the_terms_shoal_tokenizes() {
        // unicode61 must not split or change any term: the vocabulary FTS5 builds from
        // the space-joined terms is exactly the set of terms.
        let corpus = crate::corpus::Corpus::new(3);
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE fts USING fts5(name, paths,
                 tokenize = 'unicode61 remove_diacritics 0');
             CREATE VIRTUAL TABLE v USING fts5vocab(fts, 'row');",
        )
        .unwrap();
        let mut want = std::collections::BTreeSet::new();
        for i in 0..300 {
            let e = corpus.entry(i).entry;
            let name = shoal_search::terms(&e.name);
            let paths: Vec<String> = e
                .files
                .iter()
                .flat_map(|(p, _)| shoal_search::terms(p))
                .collect();
            want.extend(name.iter().cloned());
            want.extend(paths.iter().cloned());
            conn.execute(
                "INSERT INTO fts (name, paths) VALUES (?, ?)",
                params![name.join(" "), paths.join(" ")],
            )
            .unwrap();
        }
        let got: std::collections::BTreeSet<String> = conn
            .prepare("SELECT term FROM v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, want);
    }
}

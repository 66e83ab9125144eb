//! `shoal-search-bench`: the catalog search benchmark.
//!
//! Builds a synthetic catalog (deterministic: the same seed gives the same torrents) in
//! a shoal store, indexes it with `shoal_index` and with SQLite FTS5, times the same
//! searches on both, and sends a steady stream of searches to a running shoal. Every
//! step is its own subcommand, run in its own process, so each reports its own peak
//! memory; `bench/search.sh` runs them in order. Data lives in one directory laid out
//! as `shoal serve --data-dir` expects it (`shoal.sqlite`, `catalog-index/`), plus
//! `fts5.sqlite` and `search-bench.json` (the seed and size).

mod corpus;
mod fts;
mod http;
mod measure;
mod queries;
mod words;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use shoal_index::Index;
use shoal_search::request::SearchRequest;
use shoal_store::{CatalogStore, InfoHash, SqliteStore};

use crate::corpus::Corpus;
use crate::measure::{LiveMap, Outcome, Session};

/// The catalog search benchmark (tantivy against SQLite FTS5).
#[derive(Parser, Debug)]
#[command(name = "shoal-search-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a synthetic catalog into a new store (<data-dir>/shoal.sqlite).
    Generate {
        #[arg(long)]
        data_dir: PathBuf,
        /// Torrents to generate.
        #[arg(long, default_value_t = 10_000)]
        torrents: u64,
        /// Seed of the catalog.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Entries per store write.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Times reading the store alone, then reading and tokenizing (what both indexes
    /// pay before they index anything).
    Scan {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Builds the tantivy index (<data-dir>/catalog-index) from the store, anew.
    Index {
        #[arg(long)]
        data_dir: PathBuf,
        /// Indexing threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Builds the FTS5 database (<data-dir>/fts5.sqlite) from the store, anew.
    Fts {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Times searches on the built index(es).
    Query {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Engine::Both)]
        engine: Engine,
        /// Thread counts to run each kind with, in turn.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// Distinct queries per kind.
        #[arg(long, default_value_t = 200)]
        per_kind: usize,
        /// Untimed searches per kind first.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
    },
    /// Prints the queries (one query string per line, after its kind).
    Queries {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 20)]
        per_kind: usize,
    },
    /// Sends searches to a running shoal at a steady rate.
    Http {
        /// shoal's HTTP listener (loopback only).
        #[arg(long)]
        target: SocketAddr,
        #[arg(long)]
        data_dir: PathBuf,
        /// Searches per second.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        /// Seconds to run (1..=600).
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Distinct queries per kind (all kinds, interleaved).
        #[arg(long, default_value_t = 50)]
        per_kind: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Engine {
    Tantivy,
    Fts5,
    Both,
}

/// What `generate` records beside the store.
#[derive(Debug, Clone, Copy)]
struct Meta {
    seed: u64,
    torrents: u64,
}

const META: &str = "search-bench.json";

fn store_path(dir: &Path) -> PathBuf {
    dir.join("shoal.sqlite")
}

fn index_path(dir: &Path) -> PathBuf {
    dir.join("catalog-index")
}

fn fts_path(dir: &Path) -> PathBuf {
    dir.join("fts5.sqlite")
}

fn read_meta(dir: &Path) -> Result<Meta, String> {
    let p = dir.join(META);
    let s = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let v: Value = serde_json::from_str(&s).map_err(|e| format!("{}: {e}", p.display()))?;
    match (v["seed"].as_u64(), v["torrents"].as_u64()) {
        (Some(seed), Some(torrents)) => Ok(Meta { seed, torrents }),
        _ => Err(format!("{}: no seed and torrents", p.display())),
    }
}

/// The store file with its write-ahead log.
fn store_bytes(dir: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| measure::disk_bytes(Path::new(&format!("{}{s}", store_path(dir).display()))))
        .sum()
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate {
            data_dir,
            torrents,
            seed,
            batch,
        } => generate(&data_dir, torrents, seed, batch.max(1)),
        Command::Scan { data_dir } => scan(&data_dir),
        Command::Index { data_dir, threads } => index(&data_dir, threads.max(1)),
        Command::Fts { data_dir } => fts_build(&data_dir),
        Command::Query {
            data_dir,
            engine,
            threads,
            per_kind,
            warmup,
        } => query(&data_dir, engine, &threads, per_kind.max(1), warmup),
        Command::Queries { data_dir, per_kind } => print_queries(&data_dir, per_kind),
        Command::Http {
            target,
            data_dir,
            rate,
            duration,
            per_kind,
        } => http_stream(target, &data_dir, rate, duration, per_kind),
    };
    match result {
        Ok((text, value)) => {
            if cli.json {
                println!("{value}");
            } else {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shoal-search-bench: {e}");
            ExitCode::from(1)
        }
    }
}

type Report = Result<(String, Value), String>;

fn generate(dir: &Path, torrents: u64, seed: u64, batch: usize) -> Report {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let store = store_path(dir);
    if store.exists() {
        return Err(format!(
            "{} exists: generate into an empty directory",
            store.display()
        ));
    }
    let db = SqliteStore::open(&store).map_err(|e| e.to_string())?;
    let corpus = Corpus::new(seed);
    let started = Instant::now();
    let (mut gen_time, mut files, mut bytes) = (Duration::ZERO, 0u64, 0u64);
    let mut cats = std::collections::BTreeMap::new();
    let mut kinds = std::collections::BTreeMap::new();
    let mut langs = std::collections::BTreeMap::new();
    let mut page = Vec::with_capacity(batch);
    for i in 0..torrents {
        let t0 = Instant::now();
        let g = corpus.entry(i);
        gen_time += t0.elapsed();
        files += g.entry.file_count;
        bytes += g.entry.total_size;
        *cats.entry(g.category.key()).or_insert(0u64) += 1;
        *kinds.entry(format!("{:?}", g.kind)).or_insert(0u64) += 1;
        *langs.entry(format!("{:?}", g.lang)).or_insert(0u64) += 1;
        page.push(g.entry);
        if page.len() == batch || i + 1 == torrents {
            db.add_catalog_entries(&page).map_err(|e| e.to_string())?;
            page.clear();
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "generate: {} entries, {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(db);
    let took = started.elapsed();
    // The store's size without its write-ahead log, as a reopened store has it.
    rusqlite::Connection::open(&store)
        .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
        .map_err(|e| format!("{}: {e}", store.display()))?;
    std::fs::write(
        dir.join(META),
        json!({ "seed": seed, "torrents": torrents }).to_string(),
    )
    .map_err(|e| e.to_string())?;
    let sb = store_bytes(dir);
    let v = json!({
        "torrents": torrents,
        "seed": seed,
        "seconds": took.as_secs_f64(),
        "generate_seconds": gen_time.as_secs_f64(),
        "files": files,
        "files_per_torrent": files as f64 / torrents.max(1) as f64,
        "content_bytes": bytes,
        "store_bytes": sb,
        "store_bytes_per_torrent": sb as f64 / torrents.max(1) as f64,
        "categories": cats,
        "kinds": kinds,
        "languages": langs,
    });
    let text = format!(
        "generated {torrents} torrents (seed {seed}) in {:.1} s ({:.1} s generating, the rest writing the store)\n\
         files {files} ({:.1} per torrent)\n\
         store {:.1} MiB ({:.0} bytes per torrent)\n\
         categories {cats:?}\nkinds {kinds:?}\nlanguages {langs:?}\n",
        took.as_secs_f64(),
        gen_time.as_secs_f64(),
        files as f64 / torrents.max(1) as f64,
        mib(sb),
        sb as f64 / torrents.max(1) as f64,
    );
    Ok((text, v))
}

/// Every entry of the store in the index's order, page by page.
fn scan_store(
    store: &dyn CatalogStore,
    f: &mut dyn FnMut(&[shoal_store::CatalogEntry]),
) -> Result<u64, String> {
    let mut after = (0, InfoHash([0; 20]));
    let mut n = 0;
    loop {
        let page = store.catalog_scan(after, 1000).map_err(|e| e.to_string())?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = (last.resolved_at, last.info_hash);
        n += page.len() as u64;
        f(&page);
    }
}

fn scan(dir: &Path) -> Report {
    let store = SqliteStore::open(&store_path(dir)).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let n = scan_store(&store, &mut |_| {})?;
    let read = t0.elapsed();
    let t0 = Instant::now();
    let mut terms = 0usize;
    scan_store(&store, &mut |page| {
        for e in page {
            terms += shoal_search::terms(&e.name).len();
            for (p, _) in e.files.iter().take(shoal_index::MAX_PATHS) {
                terms += shoal_search::terms(p).len();
            }
        }
    })?;
    let tokenized = t0.elapsed();
    let v = json!({
        "entries": n,
        "read_seconds": read.as_secs_f64(),
        "read_and_tokenize_seconds": tokenized.as_secs_f64(),
        "terms": terms,
        "terms_per_torrent": terms as f64 / n.max(1) as f64,
        "peak_rss_kib": measure::peak_rss_kib(),
    });
    let text = format!(
        "store scan: {n} entries in {:.1} s; with tokenizing {:.1} s ({terms} terms, {:.1} per torrent)\n",
        read.as_secs_f64(),
        tokenized.as_secs_f64(),
        terms as f64 / n.max(1) as f64
    );
    Ok((text, v))
}

fn index(dir: &Path, threads: usize) -> Report {
    let store = SqliteStore::open(&store_path(dir)).map_err(|e| e.to_string())?;
    let path = index_path(dir);
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let idx = Index::open(&path).map_err(|e| e.to_string())?;
    let watch = measure::MemoryWatch::start();
    let started = Instant::now();
    // Anonymous memory when the last entry was handed to the writer (before the commit
    // and the merges).
    let mut before_commit = 0;
    let n = shoal_index::indexer::rebuild(&idx, &store, threads, &mut |done, total| {
        let anon = measure::rss_parts().map_or(0, |p| p.0);
        if done % 100_000 == 0 {
            eprintln!(
                "index: {done} of {total}, {:.0} s, {} MiB anonymous",
                started.elapsed().as_secs_f64(),
                anon / 1024
            );
        }
        if done == total {
            before_commit = anon;
        }
    })
    .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    let (anon, file) = watch.finish();
    let bytes = measure::disk_bytes(&path);
    let segments = std::fs::read_dir(&path)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "term"))
                .count()
        })
        .unwrap_or(0);
    drop(idx);
    let reopened = Index::open(&path).map_err(|e| e.to_string())?;
    let docs = reopened.len();
    let rss = measure::peak_rss_kib();
    let sb = store_bytes(dir);
    let v = json!({
        "engine": "tantivy",
        "threads": threads,
        "entries": n,
        "documents": docs,
        "seconds": took.as_secs_f64(),
        "entries_per_second": n as f64 / took.as_secs_f64().max(1e-9),
        "index_bytes": bytes,
        "index_bytes_per_torrent": bytes as f64 / n.max(1) as f64,
        "segments": segments,
        "peak_rss_kib": rss,
        "peak_rss_anon_kib": anon,
        "peak_rss_file_kib": file,
        "rss_anon_before_commit_kib": before_commit,
        "store_bytes": sb,
    });
    let text = format!(
        "tantivy, {threads} thread(s): {n} entries in {:.1} s ({:.0}/s), {docs} searchable\n\
         index {:.1} MiB ({:.0} bytes per torrent, {segments} segments), peak RSS {:.0} MiB \
         (anonymous {:.0}, file-backed {:.0}), store {:.1} MiB\n",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64().max(1e-9),
        mib(bytes),
        bytes as f64 / n.max(1) as f64,
        rss.unwrap_or(0) as f64 / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0,
        mib(sb),
    );
    Ok((text, v))
}

fn fts_build(dir: &Path) -> Report {
    let store = SqliteStore::open(&store_path(dir)).map_err(|e| e.to_string())?;
    let path = fts_path(dir);
    let watch = measure::MemoryWatch::start();
    let started = Instant::now();
    let b = fts::build(&store, &path, &mut |n| {
        if n % 100_000 == 0 {
            eprintln!("fts5: {n}, {:.0} s", started.elapsed().as_secs_f64());
        }
    })?;
    let bytes = measure::disk_bytes(&path)
        + measure::disk_bytes(Path::new(&format!("{}-wal", path.display())));
    let total = b.insert + b.optimize;
    let (anon, file) = watch.finish();
    let rss = measure::peak_rss_kib();
    let v = json!({
        "engine": "fts5",
        "threads": 1,
        "entries": b.entries,
        "seconds": total.as_secs_f64(),
        "insert_seconds": b.insert.as_secs_f64(),
        "optimize_seconds": b.optimize.as_secs_f64(),
        "entries_per_second": b.entries as f64 / total.as_secs_f64().max(1e-9),
        "index_bytes": bytes,
        "index_bytes_per_torrent": bytes as f64 / b.entries.max(1) as f64,
        "peak_rss_kib": rss,
        "peak_rss_anon_kib": anon,
        "peak_rss_file_kib": file,
        "sqlite_version": rusqlite::version(),
    });
    let text = format!(
        "FTS5 (SQLite {}), 1 thread: {} entries in {:.1} s (insert {:.1} s, optimize {:.1} s; {:.0}/s)\n\
         database {:.1} MiB ({:.0} bytes per torrent), peak RSS {:.0} MiB (anonymous {:.0}, file-backed {:.0})\n",
        rusqlite::version(),
        b.entries,
        total.as_secs_f64(),
        b.insert.as_secs_f64(),
        b.optimize.as_secs_f64(),
        b.entries as f64 / total.as_secs_f64().max(1e-9),
        mib(bytes),
        bytes as f64 / b.entries.max(1) as f64,
        rss.unwrap_or(0) as f64 / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0,
    );
    Ok((text, v))
}

struct TantivySession<'a> {
    index: &'a Index,
    live: &'a LiveMap,
}

impl Session for TantivySession<'_> {
    fn search(&mut self, req: &SearchRequest) -> Result<Outcome, String> {
        let live = |h: &[u8; 20]| self.live.get(h).copied().unwrap_or_default();
        let r = self.index.search(req, &live).map_err(|e| e.to_string())?;
        Ok(Outcome {
            total: r.total,
            exact: r.exact,
            hits: r.hits.len(),
            count: Duration::ZERO,
        })
    }
}

fn query(dir: &Path, engine: Engine, threads: &[usize], per_kind: usize, warmup: usize) -> Report {
    let meta = read_meta(dir)?;
    let corpus = Corpus::new(meta.seed);
    let t0 = Instant::now();
    let hashes: Vec<[u8; 20]> = (0..meta.torrents)
        .map(|i| corpus.entry(i).entry.info_hash.0)
        .collect();
    let live = measure::live_map(hashes.iter());
    drop(hashes);
    let sets = queries::query_sets(&corpus, meta.torrents, per_kind, meta.seed);
    eprintln!(
        "query: {} live swarms, {} queries, ready in {:.1} s",
        live.len(),
        sets.iter().map(|s| s.requests.len()).sum::<usize>(),
        t0.elapsed().as_secs_f64()
    );
    let mut text = String::new();
    let mut rows = Vec::new();
    // Per kind, the outcomes of single-threaded runs by engine, for the cross-check.
    let mut outcomes: Vec<(&'static str, Vec<Vec<Option<Outcome>>>)> = Vec::new();
    let engines: &[&str] = match engine {
        Engine::Tantivy => &["tantivy"],
        Engine::Fts5 => &["fts5"],
        Engine::Both => &["tantivy", "fts5"],
    };
    for &name in engines {
        text.push_str(&format!(
            "\n{name}: latency ms (p50 / p95 / p99), searches/s, mean matches\n"
        ));
        let per_kind_outcomes = if name == "tantivy" {
            let path = index_path(dir);
            measure::warm_page_cache(&path);
            let index = Index::open(&path).map_err(|e| e.to_string())?;
            if index.len() != meta.torrents {
                return Err(format!(
                    "{} holds {} documents, not {}: run index first",
                    path.display(),
                    index.len(),
                    meta.torrents
                ));
            }
            let (index, live) = (&index, &live);
            let session = move || Box::new(TantivySession { index, live }) as Box<dyn Session>;
            run_kinds(name, &sets, threads, warmup, &session, &mut text, &mut rows)
        } else {
            let path = fts_path(dir);
            if !path.exists() {
                return Err(format!("{} missing: run fts first", path.display()));
            }
            measure::warm_page_cache(&path);
            fts::FtsSession::open(&path, &live)?;
            let (path, live) = (&path, &live);
            let session = move || {
                Box::new(fts::FtsSession::open(path, live).expect("opened once already"))
                    as Box<dyn Session>
            };
            run_kinds(name, &sets, threads, warmup, &session, &mut text, &mut rows)
        };
        outcomes.push((name, per_kind_outcomes));
    }
    // Both engines should find the same torrents: compare exact totals query by query.
    let mut agreement = Vec::new();
    if let [(_, a), (_, b)] = &outcomes[..] {
        text.push_str("\nsame totals (exact on both sides):\n");
        for (k, set) in sets.iter().enumerate() {
            let pairs: Vec<(Outcome, Outcome)> = a[k]
                .iter()
                .zip(&b[k])
                .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                .filter(|(x, y)| x.exact && y.exact)
                .collect();
            let same = pairs.iter().filter(|(x, y)| x.total == y.total).count();
            text.push_str(&format!(
                "  {:<18} {same} of {}\n",
                set.kind.key(),
                pairs.len()
            ));
            agreement.push(json!({"kind": set.kind.key(), "same": same, "compared": pairs.len()}));
        }
    }
    let v = json!({
        "torrents": meta.torrents,
        "live_swarms": live.len(),
        "queries_per_kind": sets.iter().map(|s| json!({"kind": s.kind.key(), "queries": s.requests.len()})).collect::<Vec<_>>(),
        "results": rows,
        "agreement": agreement,
        "peak_rss_kib": measure::peak_rss_kib(),
    });
    Ok((text, v))
}

/// Runs every kind at every thread count; the outcomes of the first thread count.
fn run_kinds<'a>(
    name: &str,
    sets: &[queries::QuerySet],
    threads: &[usize],
    warmup: usize,
    session: &(dyn Fn() -> Box<dyn Session + 'a> + Sync),
    text: &mut String,
    rows: &mut Vec<Value>,
) -> Vec<Vec<Option<Outcome>>> {
    let mut outcomes = Vec::new();
    for &t in threads {
        for set in sets {
            let (r, o) = measure::run_kind(set, t.max(1), warmup, session);
            let without_count = if r.us != r.us_page {
                format!(
                    "   (without the count: {:.2} {:.2} {:.2})",
                    measure::percentile_ms(&r.us_page, 50.0),
                    measure::percentile_ms(&r.us_page, 95.0),
                    measure::percentile_ms(&r.us_page, 99.0)
                )
            } else {
                String::new()
            };
            let errors = if r.errors > 0 {
                format!("   {} errors", r.errors)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  {:<18} {}T  {:>8.2} {:>8.2} {:>8.2}   {:>8.1}/s  {:>10.0}{without_count}{errors}\n",
                r.kind,
                t,
                measure::percentile_ms(&r.us, 50.0),
                measure::percentile_ms(&r.us, 95.0),
                measure::percentile_ms(&r.us, 99.0),
                r.per_second,
                r.mean_total,
            ));
            let mut j = r.json();
            j["engine"] = json!(name);
            rows.push(j);
            if t == threads[0] {
                outcomes.push(o);
            }
        }
    }
    outcomes
}

fn print_queries(dir: &Path, per_kind: usize) -> Report {
    let meta = read_meta(dir)?;
    let corpus = Corpus::new(meta.seed);
    let sets = queries::query_sets(&corpus, meta.torrents, per_kind, meta.seed);
    let mut text = String::new();
    let mut all = Vec::new();
    for s in &sets {
        for r in &s.requests {
            text.push_str(&format!("{}\t{}\n", s.kind.key(), r.to_query_string()));
            all.push(json!({"kind": s.kind.key(), "query": r.to_query_string()}));
        }
    }
    Ok((text, json!(all)))
}

fn http_stream(
    target: SocketAddr,
    dir: &Path,
    rate: f64,
    duration: u64,
    per_kind: usize,
) -> Report {
    if !target.ip().is_loopback() {
        return Err(format!(
            "--target {target}: only loopback targets are allowed"
        ));
    }
    if !(1..=600).contains(&duration) {
        return Err(format!("--duration {duration}: must be 1..=600 seconds"));
    }
    let meta = read_meta(dir)?;
    let corpus = Corpus::new(meta.seed);
    let sets = queries::query_sets(&corpus, meta.torrents, per_kind, meta.seed ^ 0x6874_7470);
    // Kinds interleaved: one of each in turn.
    let longest = sets.iter().map(|s| s.requests.len()).max().unwrap_or(0);
    let requests: Vec<SearchRequest> = (0..longest)
        .flat_map(|i| sets.iter().filter_map(move |s| s.requests.get(i).cloned()))
        .collect();
    let s = http::run(target, &requests, rate, Duration::from_secs(duration));
    let p = |v: &[u64], q| measure::percentile_ms(v, q);
    let v = json!({
        "searches": s.ok_us.len(),
        "rate": rate,
        "seconds": duration,
        "latency_ms": {"p50": p(&s.ok_us, 50.0), "p95": p(&s.ok_us, 95.0), "p99": p(&s.ok_us, 99.0), "max": p(&s.ok_us, 100.0)},
        "index_ms": {"p50": p(&s.took_us, 50.0), "p95": p(&s.took_us, 95.0), "p99": p(&s.took_us, 99.0)},
        "not_ok": s.other,
        "failed": s.failed,
        "late": s.late,
    });
    let text = format!(
        "{} searches answered in {duration} s ({} not 200, {} failed, {} sent late)\n\
         latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}; index alone p50 {:.2} p95 {:.2} p99 {:.2}\n",
        s.ok_us.len(),
        s.other.len(),
        s.failed,
        s.late,
        p(&s.ok_us, 50.0),
        p(&s.ok_us, 95.0),
        p(&s.ok_us, 99.0),
        p(&s.ok_us, 100.0),
        p(&s.took_us, 50.0),
        p(&s.took_us, 95.0),
        p(&s.took_us, 99.0),
    );
    Ok((text, v))
}

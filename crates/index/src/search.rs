//! A [`SearchRequest`] run against the index.
//!
//! Orders the index holds (relevance, size, name, newest) are tantivy's top-k
//! collectors with an offset; relevance is then re-ranked with a small boost for live
//! seeders within the first results. Orders and filters on live counts (seeders,
//! leechers, completed, "has seeders") take the first [`MAX_WINDOW`] matches in the
//! index's order, ask the swarms for each, then filter and sort.

use std::ops::Bound;
use std::time::Instant;

use shoal_search::category::Category;
use shoal_search::query::{Query as Parsed, Words};
use shoal_search::request::{Hit, Order, Results, SearchError, SearchRequest, MAX_WINDOW};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use crate::{join_hash, Fields, Index};

/// A swarm's live counts, as the engine has them now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Seeders.
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
    /// Completed downloads.
    pub completed: u64,
}

/// Results re-ranked with the seeders boost at least (the first pages).
const RERANK: usize = 200;

/// Weight of the name against file paths.
const NAME_BOOST: f32 = 2.0;

/// A typing prefix shorter than this matches only as a whole term (one letter would
/// expand to most of the dictionary).
const MIN_PREFIX_CHARS: usize = 2;

/// How much live seeders lift a score: `1 + SEEDER_BOOST · ln(1 + seeders)`.
const SEEDER_BOOST: f32 = 0.1;

impl Index {
    /// Runs one search; `live` gives a swarm's counts by tracker hash.
    pub fn search(
        &self,
        req: &SearchRequest,
        live: &dyn Fn(&[u8; 20]) -> LiveCounts,
    ) -> Result<Results, SearchError> {
        let started = Instant::now();
        let parsed = req.check()?;
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let query = build(f, &parsed, req);
        let has_words = matches!(parsed, Parsed::Words(_));
        let want = req.offset + req.limit;
        let fail =
            |e: tantivy::TantivyError| SearchError::Unavailable(format!("search index: {e}"));
        let mut keys = Keys::new(&searcher);
        // (document, its live counts) for the page, in order.
        let (page, total, exact): (Vec<(DocAddress, LiveCounts)>, u64, bool) =
            if req.order.is_live() || req.seeded {
                let (docs, count) = if has_words
                    && !matches!(req.order, Order::Size | Order::Name | Order::Newest)
                {
                    let (d, c) = searcher
                        .search(
                            &query,
                            &(TopDocs::with_limit(MAX_WINDOW).order_by_score(), Count),
                        )
                        .map_err(fail)?;
                    (d, c)
                } else {
                    let (d, c) = ordered(&searcher, &query, req.order, has_words, MAX_WINDOW, 0)
                        .map_err(fail)?;
                    (d.into_iter().map(|a| (0.0, a)).collect(), c)
                };
                let mut rows: Vec<(f32, DocAddress, LiveCounts)> = docs
                    .into_iter()
                    .map(|(s, a)| (s, a, keys.get(a).map(|h| live(&h)).unwrap_or_default()))
                    .filter(|(_, _, l)| !req.seeded || l.seeders > 0)
                    .collect();
                match req.order {
                    Order::Seeders => rows.sort_by_key(|r| std::cmp::Reverse(r.2.seeders)),
                    Order::Leechers => rows.sort_by_key(|r| std::cmp::Reverse(r.2.leechers)),
                    Order::Completed => rows.sort_by_key(|r| std::cmp::Reverse(r.2.completed)),
                    Order::Relevance if has_words => rerank(&mut rows),
                    _ => {}
                }
                let total = rows.len() as u64;
                let page = rows
                    .into_iter()
                    .skip(req.offset)
                    .take(req.limit)
                    .map(|(_, a, l)| (a, l))
                    .collect();
                (page, total, count <= MAX_WINDOW)
            } else if has_words && req.order == Order::Relevance {
                let window = want.clamp(RERANK, MAX_WINDOW);
                let (docs, count) = searcher
                    .search(
                        &query,
                        &(TopDocs::with_limit(window).order_by_score(), Count),
                    )
                    .map_err(fail)?;
                let mut rows: Vec<(f32, DocAddress, LiveCounts)> = docs
                    .into_iter()
                    .map(|(s, a)| (s, a, keys.get(a).map(|h| live(&h)).unwrap_or_default()))
                    .collect();
                rerank(&mut rows);
                let page = rows
                    .into_iter()
                    .skip(req.offset)
                    .take(req.limit)
                    .map(|(_, a, l)| (a, l))
                    .collect();
                (page, count as u64, true)
            } else {
                let (docs, count) = ordered(
                    &searcher, &query, req.order, has_words, req.limit, req.offset,
                )
                .map_err(fail)?;
                let page = docs
                    .into_iter()
                    .map(|a| (a, keys.get(a).map(|h| live(&h)).unwrap_or_default()))
                    .collect();
                (page, count as u64, true)
            };
        let (terms, prefix) = highlight_terms(&parsed, req);
        let mut hits = Vec::with_capacity(page.len());
        for (addr, l) in page {
            let Some(info_hash) = keys.get(addr) else {
                continue;
            };
            let doc: TantivyDocument = searcher.doc(addr).map_err(fail)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let num = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            let name = text(f.name);
            let highlight = shoal_search::highlight(&name, &terms, prefix.as_deref());
            hits.push(Hit {
                info_hash,
                size: num(f.size),
                files: num(f.files),
                category: Category::ALL
                    .get(num(f.category) as usize)
                    .copied()
                    .unwrap_or(Category::Other),
                newznab: num(f.newznab) as u32,
                first_seen: num(f.first_seen),
                seeders: l.seeders,
                leechers: l.leechers,
                completed: l.completed,
                highlight,
                name,
            });
        }
        Ok(Results {
            hits,
            total,
            exact,
            took_us: started.elapsed().as_micros() as u64,
        })
    }
}

/// Scores lifted by live seeders, best first.
fn rerank(rows: &mut [(f32, DocAddress, LiveCounts)]) {
    for r in rows.iter_mut() {
        r.0 *= 1.0 + SEEDER_BOOST * (1.0 + r.2.seeders as f32).ln();
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
}

/// The top documents by one of the orders the index holds, and how many match.
fn ordered(
    searcher: &Searcher,
    query: &dyn Query,
    order: Order,
    has_words: bool,
    limit: usize,
    offset: usize,
) -> tantivy::Result<(Vec<DocAddress>, usize)> {
    let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
    let (docs, count) = match order {
        Order::Size => {
            let (d, c) = searcher.search(
                query,
                &(
                    top.order_by_fast_field::<u64>("size", tantivy::Order::Desc),
                    Count,
                ),
            )?;
            (d.into_iter().map(|x| x.1).collect(), c)
        }
        Order::Name => {
            let (d, c) = searcher.search(
                query,
                &(
                    top.order_by_string_fast_field("name_key", tantivy::Order::Asc),
                    Count,
                ),
            )?;
            (d.into_iter().map(|x| x.1).collect(), c)
        }
        Order::Relevance if has_words => {
            let (d, c) = searcher.search(query, &(top.order_by_score(), Count))?;
            (d.into_iter().map(|x| x.1).collect(), c)
        }
        // Newest, and the live orders' base order without words.
        _ => {
            let (d, c) = searcher.search(
                query,
                &(
                    top.order_by_fast_field::<u64>("first_seen", tantivy::Order::Desc),
                    Count,
                ),
            )?;
            (d.into_iter().map(|x| x.1).collect(), c)
        }
    };
    Ok((docs, count))
}

/// The terms a results page marks in names.
fn highlight_terms(parsed: &Parsed, req: &SearchRequest) -> (Vec<String>, Option<String>) {
    let mut terms = req.also.clone();
    let mut prefix = req.also_prefix.clone();
    if let Parsed::Words(w) = parsed {
        terms.extend(w.required.iter().cloned());
        terms.extend(w.phrases.iter().flatten().cloned());
        if let Some(p) = &w.prefix {
            terms.extend(shoal_search::terms(p));
            prefix = Some(p.clone());
        }
    }
    (terms, prefix)
}

/// The tracker hash of documents, read from the fast fields (columns opened once per
/// segment per search).
struct Keys<'a> {
    searcher: &'a Searcher,
    columns: Vec<Option<[tantivy::columnar::Column<u64>; 3]>>,
}

impl<'a> Keys<'a> {
    fn new(searcher: &'a Searcher) -> Keys<'a> {
        Keys {
            searcher,
            columns: vec![None; searcher.segment_readers().len()],
        }
    }

    fn get(&mut self, a: DocAddress) -> Option<[u8; 20]> {
        let slot = self.columns.get_mut(a.segment_ord as usize)?;
        if slot.is_none() {
            let ff = self.searcher.segment_reader(a.segment_ord).fast_fields();
            *slot = Some([ff.u64("h0").ok()?, ff.u64("h1").ok()?, ff.u64("h2").ok()?]);
        }
        let c = slot.as_ref()?;
        Some(join_hash([
            c[0].first(a.doc_id)?,
            c[1].first(a.doc_id)?,
            c[2].first(a.doc_id)?,
        ]))
    }
}

fn term_query(field: Field, t: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, t),
        IndexRecordOption::WithFreqs,
    ))
}

/// A term in the name (weighted) or in a path.
fn either(f: &Fields, t: &str) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (
            Occur::Should,
            Box::new(BoostQuery::new(term_query(f.name, t), NAME_BOOST)),
        ),
        (Occur::Should, term_query(f.paths, t)),
    ]))
}

/// A typed prefix: a term starting with it, or the word itself stemmed.
fn prefix_query(f: &Fields, prefix: &str) -> Box<dyn Query> {
    let mut parts: Vec<(Occur, Box<dyn Query>)> = shoal_search::terms(prefix)
        .iter()
        .map(|t| (Occur::Should, either(f, t)))
        .collect();
    if prefix.chars().count() >= MIN_PREFIX_CHARS {
        for (field, boost) in [(f.name, NAME_BOOST), (f.paths, 1.0)] {
            let q = FuzzyTermQuery::new_prefix(Term::from_field_text(field, prefix), 0, false);
            parts.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))));
        }
    }
    Box::new(BooleanQuery::new(parts))
}

fn words_query(f: &Fields, w: &Words, must: &mut Vec<(Occur, Box<dyn Query>)>) {
    for t in &w.required {
        must.push((Occur::Must, either(f, t)));
    }
    for phrase in &w.phrases {
        let in_field = |field: Field| -> Box<dyn Query> {
            Box::new(PhraseQuery::new(
                phrase
                    .iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect(),
            ))
        };
        must.push((
            Occur::Must,
            Box::new(BooleanQuery::new(vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(in_field(f.name), NAME_BOOST)),
                ),
                (Occur::Should, in_field(f.paths)),
            ])),
        ));
    }
    if let Some(p) = &w.prefix {
        must.push((Occur::Must, prefix_query(f, p)));
    }
    for t in &w.excluded {
        must.push((Occur::MustNot, term_query(f.name, t)));
        must.push((Occur::MustNot, term_query(f.paths, t)));
    }
}

fn u64_term(field: Field, v: u64) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_u64(field, v),
        IndexRecordOption::Basic,
    ))
}

/// The tantivy query for a parsed query and the request's filters.
fn build(f: &Fields, parsed: &Parsed, req: &SearchRequest) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    match parsed {
        Parsed::All => {}
        Parsed::Hash(hex) => clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.hash, hex),
                IndexRecordOption::Basic,
            )),
        )),
        Parsed::Words(w) => words_query(f, w, &mut clauses),
    }
    for t in &req.also {
        clauses.push((Occur::Must, either(f, t)));
    }
    if let Some(p) = &req.also_prefix {
        clauses.push((Occur::Must, prefix_query(f, p)));
    }
    // Filters score nothing.
    let mut filters: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if let Some(c) = req.category {
        filters.push((Occur::Must, u64_term(f.category, crate::category_index(c))));
    }
    if !req.newznab.is_empty() {
        let mut tops: Vec<u32> = req
            .newznab
            .iter()
            .map(|c| shoal_search::newznab::top(*c))
            .collect();
        tops.sort_unstable();
        tops.dedup();
        let any: Vec<(Occur, Box<dyn Query>)> = tops
            .into_iter()
            .map(|c| (Occur::Should, u64_term(f.newznab, u64::from(c))))
            .collect();
        filters.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    if req.min_size.is_some() || req.max_size.is_some() {
        let lo = req.min_size.map_or(Bound::Unbounded, |n| {
            Bound::Included(Term::from_field_u64(f.size, n))
        });
        let hi = req.max_size.map_or(Bound::Unbounded, |n| {
            Bound::Included(Term::from_field_u64(f.size, n))
        });
        filters.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
    }
    if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    if !filters.is_empty() {
        let filter = BooleanQuery::new(filters);
        clauses.push((
            Occur::Must,
            Box::new(BoostQuery::new(Box::new(filter), 0.0)),
        ));
    }
    Box::new(BooleanQuery::new(clauses))
}

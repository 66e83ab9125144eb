//! The searches measured: kinds of query a catalog page gets, each a set of distinct
//! requests drawn from the catalog's own words (so every query but the common words'
//! matches at least the entry it was drawn from).

use std::collections::HashSet;

use shoal_search::request::{Order, SearchRequest, DEFAULT_LIMIT};

use crate::corpus::{Corpus, Generated, Lang, Rng};

/// Ranks counted as common words (per language).
const COMMON_RANKS: usize = 60;

/// Lowest rank of a rare word.
const RARE_RANK: u32 = 2000;

/// A kind of query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// One of the most frequent title words.
    Common,
    /// The rarest title word of an entry.
    Rare,
    /// Three words of one entry's name.
    Three,
    /// Two or three consecutive title words in quotes.
    Phrase,
    /// What is typed so far: a word and the start of the next, or a start alone.
    Prefix,
    /// One word, a category, a size range around an entry's size and "has seeders".
    Filtered,
    /// One word, most seeders first.
    Seeders,
    /// One word, largest first (an order the index holds).
    Size,
}

impl QueryKind {
    /// Every kind, in report order.
    pub const ALL: [QueryKind; 8] = [
        QueryKind::Common,
        QueryKind::Rare,
        QueryKind::Three,
        QueryKind::Phrase,
        QueryKind::Prefix,
        QueryKind::Filtered,
        QueryKind::Seeders,
        QueryKind::Size,
    ];

    /// The name in reports.
    pub fn key(self) -> &'static str {
        match self {
            QueryKind::Common => "one word, common",
            QueryKind::Rare => "one word, rare",
            QueryKind::Three => "three words",
            QueryKind::Phrase => "phrase",
            QueryKind::Prefix => "prefix (typing)",
            QueryKind::Filtered => "filtered",
            QueryKind::Seeders => "sort by seeders",
            QueryKind::Size => "sort by size",
        }
    }
}

/// The requests of one kind.
#[derive(Debug, Clone)]
pub struct QuerySet {
    /// The kind.
    pub kind: QueryKind,
    /// Distinct requests.
    pub requests: Vec<SearchRequest>,
}

fn request(q: String) -> SearchRequest {
    SearchRequest {
        q,
        limit: DEFAULT_LIMIT,
        ..SearchRequest::default()
    }
}

fn lower(g: &Generated, i: usize) -> String {
    g.title[i].text.to_lowercase()
}

/// One request of `kind`, or none when the entry drawn does not fit it.
fn one(corpus: &Corpus, torrents: u64, kind: QueryKind, rng: &mut Rng) -> Option<SearchRequest> {
    if kind == QueryKind::Common {
        let mut u = rng.unit();
        let mut lang = Lang::En;
        for (l, p) in Lang::SHARES {
            lang = l;
            if u < p {
                break;
            }
            u -= p;
        }
        let w = Corpus::word(lang, rng.below(COMMON_RANKS));
        return Some(request(format!("{w} ")));
    }
    let g = corpus.entry(rng.below(torrents as usize) as u64);
    let n = g.title.len();
    let any = |rng: &mut Rng| lower(&g, rng.below(n));
    let r = match kind {
        QueryKind::Common => unreachable!("above"),
        QueryKind::Rare => {
            let (i, w) = g.title.iter().enumerate().max_by_key(|(_, w)| w.rank)?;
            if w.rank < RARE_RANK {
                return None;
            }
            request(format!("{} ", lower(&g, i)))
        }
        QueryKind::Three => {
            let mut words: Vec<String> = (0..n).map(|i| lower(&g, i)).collect();
            // Short titles: add words of the rest of the name (year, resolution, …).
            let title: HashSet<String> = words.iter().cloned().collect();
            let rest: Vec<String> = g
                .entry
                .name
                .split(|c: char| c.is_whitespace() || "._-()[]/".contains(c))
                .filter(|w| w.chars().count() >= 3)
                .map(str::to_lowercase)
                .filter(|w| !title.contains(w))
                .collect();
            while words.len() < 3 && !rest.is_empty() {
                words.push(rest[rng.below(rest.len())].clone());
            }
            if words.len() < 3 {
                return None;
            }
            while words.len() > 3 {
                words.remove(rng.below(words.len()));
            }
            request(format!("{} ", words.join(" ")))
        }
        QueryKind::Phrase => {
            if n < 2 {
                return None;
            }
            let len = if n >= 3 && rng.chance(0.3) { 3 } else { 2 };
            let start = rng.below(n - len + 1);
            let sep = if g.lang == Lang::Zh { "" } else { " " };
            let words: Vec<String> = (start..start + len).map(|i| lower(&g, i)).collect();
            request(format!("\"{}\"", words.join(sep)))
        }
        QueryKind::Prefix => {
            let i = rng.below(n);
            let w: Vec<char> = lower(&g, i).chars().collect();
            if w.len() < 3 {
                return None;
            }
            let cut = 2 + rng.below(w.len() - 2);
            let typed: String = w[..cut].iter().collect();
            if i > 0 && rng.chance(0.5) {
                request(format!("{} {typed}", lower(&g, i - 1)))
            } else {
                request(typed)
            }
        }
        QueryKind::Filtered => {
            let size = g.entry.total_size;
            SearchRequest {
                category: Some(g.category),
                min_size: Some(size / 3),
                max_size: Some(size.saturating_mul(3)),
                seeded: true,
                ..request(format!("{} ", any(rng)))
            }
        }
        QueryKind::Seeders => SearchRequest {
            order: Order::Seeders,
            ..request(format!("{} ", any(rng)))
        },
        QueryKind::Size => SearchRequest {
            order: Order::Size,
            ..request(format!("{} ", any(rng)))
        },
    };
    Some(r)
}

/// Up to `per_kind` distinct requests of every kind over the first `torrents` entries
/// of `corpus`, the same for the same arguments.
pub fn query_sets(corpus: &Corpus, torrents: u64, per_kind: usize, seed: u64) -> Vec<QuerySet> {
    let mut rng = Rng::new(seed ^ 0x7175_6572_7973);
    QueryKind::ALL
        .iter()
        .map(|&kind| {
            let mut seen = HashSet::new();
            let mut requests = Vec::new();
            for _ in 0..per_kind * 50 {
                if requests.len() >= per_kind {
                    break;
                }
                if let Some(r) = one(corpus, torrents.max(1), kind, &mut rng) {
                    if seen.insert(r.to_query_string()) && r.check().is_ok() {
                        requests.push(r);
                    }
                }
            }
            QuerySet { kind, requests }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_gets_distinct_valid_requests() {
        let corpus = Corpus::new(1);
        let sets = query_sets(&corpus, 5000, 100, 1);
        assert_eq!(sets.len(), QueryKind::ALL.len());
        for s in &sets {
            assert!(s.requests.len() >= 90, "{:?}: {}", s.kind, s.requests.len());
            for r in &s.requests {
                let q = r.check().unwrap();
                assert!(
                    matches!(q, shoal_search::query::Query::Words(_)),
                    "{:?} {r:?}",
                    s.kind
                );
            }
        }
        let again = query_sets(&corpus, 5000, 100, 1);
        assert_eq!(sets[3].requests, again[3].requests);
    }
}

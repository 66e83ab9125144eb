//! The query language of the search box: words are ANDed, `"quoted phrases"`,
//! `-excluded` words, the last word a prefix while typing, and a pasted info-hash (40
//! hex digits, a v2 hash in 64) or magnet link finds its torrent directly.
//!
//! ```
//! use shoal_search::query::{parse, Query};
//! let q = parse("big buck -trailer \"open movie\" bun").unwrap();
//! let Query::Words(w) = q else { panic!() };
//! assert_eq!(w.required, ["big", "buck"]);
//! assert_eq!(w.excluded, ["trailer"]);
//! assert_eq!(w.phrases, [vec!["open".to_owned(), "movi".to_owned()]]);
//! assert_eq!(w.prefix.as_deref(), Some("bun"));
//! ```

use crate::terms;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 512;
/// Most terms (words, phrase words and exclusions together) in one query.
pub const MAX_TERMS: usize = 32;

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every torrent (an empty box: browse).
    All,
    /// One torrent by hash: 40 hex digits (a v1 hash or a v2 hash truncated as trackers
    /// use it) or the first 40 of a 64-digit v2 hash, lowercase.
    Hash(String),
    /// Words to match.
    Words(Words),
}

/// The word part of a query, as terms (tokenized like the index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words {
    /// Terms every result has.
    pub required: Vec<String>,
    /// Phrases: terms that appear next to each other, in order.
    pub phrases: Vec<Vec<String>>,
    /// Terms no result has.
    pub excluded: Vec<String>,
    /// The last word when the query does not end with a space: matched as a prefix of
    /// a term (unstemmed, lowercase), so results come while typing.
    pub prefix: Option<String>,
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY_BYTES`].
    #[error("the query is longer than {MAX_QUERY_BYTES} bytes")]
    TooLong,
    /// More than [`MAX_TERMS`] terms.
    #[error("the query has more than {MAX_TERMS} words")]
    TooManyTerms,
    /// Only exclusions: nothing to look for.
    #[error("the query only excludes words: add a word to look for")]
    OnlyExclusions,
}

/// Parses what a user typed.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    if input.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLong);
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(Query::All);
    }
    if let Some(h) = hash_in(trimmed) {
        return Ok(Query::Hash(h));
    }
    let mut w = Words::default();
    let mut rest = trimmed;
    let mut last_plain: Option<String> = None;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('"') {
            let (phrase, tail) = after.split_once('"').unwrap_or((after, ""));
            let t = terms(phrase);
            match t.len() {
                0 => {}
                1 => w.required.extend(t),
                _ => w.phrases.push(t),
            }
            rest = tail;
            last_plain = None;
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        rest = tail;
        if let Some(excluded) = word.strip_prefix('-').filter(|e| !e.is_empty()) {
            w.excluded.extend(terms(excluded));
            last_plain = None;
        } else {
            let t = terms(word);
            last_plain = (t.len() == 1).then(|| word.to_owned());
            w.required.extend(t);
        }
    }
    // While typing, the last plain word is a prefix rather than a whole term.
    if !input.ends_with(char::is_whitespace) {
        if let Some(word) = last_plain {
            w.required.pop();
            let folded = crate::fold_only(&word);
            if !folded.is_empty() {
                w.prefix = Some(folded);
            }
        }
    }
    let count = w.required.len()
        + w.phrases.iter().map(Vec::len).sum::<usize>()
        + w.excluded.len()
        + usize::from(w.prefix.is_some());
    if count > MAX_TERMS {
        return Err(QueryError::TooManyTerms);
    }
    if w.required.is_empty() && w.phrases.is_empty() && w.prefix.is_none() {
        if w.excluded.is_empty() {
            return Ok(Query::All);
        }
        return Err(QueryError::OnlyExclusions);
    }
    Ok(Query::Words(w))
}

/// The 40-hex-digit tracker hash in a pasted hash or magnet link (the metainfo crate
/// reads magnets: `btih` in hex or base32, `btmh` truncated).
fn hash_in(s: &str) -> Option<String> {
    let is_hex = |h: &str| h.bytes().all(|b| b.is_ascii_hexdigit());
    if (s.len() == 40 || s.len() == 64) && is_hex(s) {
        return Some(s[..40].to_ascii_lowercase());
    }
    if !s.starts_with("magnet:?") {
        return None;
    }
    let m = shoal_metainfo::Magnet::parse(s).ok()?;
    (m.info_hashes.v1.is_some() || m.info_hashes.v2.is_some())
        .then(|| shoal_metainfo::to_hex(&m.info_hashes.tracker_hash()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &str) -> Words {
        match parse(q).unwrap() {
            Query::Words(w) => w,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn words_phrases_exclusions_and_a_typing_prefix() {
        let w = words("ubuntu desktop ");
        assert_eq!(w.required, ["ubuntu", "desktop"]);
        assert_eq!(w.prefix, None, "a trailing space ends the last word");
        let w = words("ubuntu desk");
        assert_eq!(
            (w.required.as_slice(), w.prefix.as_deref()),
            (&["ubuntu".to_owned()][..], Some("desk"))
        );
        let w = words("\"big buck bunny\" -trailer 1080p");
        assert_eq!(w.phrases, [vec!["big", "buck", "bunni"]]);
        assert_eq!(w.excluded, ["trailer"]);
        assert_eq!(w.prefix.as_deref(), Some("1080p"));
        // An unclosed quote runs to the end; a one-word phrase is a word.
        assert_eq!(words("\"matrix").required, ["matrix"]);
        // Release-name separators inside a word split it like the index does.
        assert_eq!(words("ubuntu.24.04 ").required, ["ubuntu", "24", "04"]);
        // Russian forms meet at the stem; the prefix is folded but not stemmed.
        assert_eq!(words("фильмы ").required, words("фильм ").required);
        assert_eq!(words("Ёлк").prefix.as_deref(), Some("елк"));
    }

    #[test]
    fn hashes_and_magnets_find_one_torrent() {
        let h = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(parse(h).unwrap(), Query::Hash(h.to_ascii_lowercase()));
        let v2 = "a".repeat(64);
        assert_eq!(parse(&v2).unwrap(), Query::Hash("a".repeat(40)));
        let m = format!("magnet:?xt=urn:btih:{h}&dn=x");
        assert_eq!(parse(&m).unwrap(), Query::Hash(h.to_ascii_lowercase()));
        let m2 = format!("magnet:?xt=urn:btmh:1220{}", "b".repeat(64));
        assert_eq!(parse(&m2).unwrap(), Query::Hash("b".repeat(40)));
    }

    #[test]
    fn limits_and_empty_queries() {
        assert_eq!(parse("   ").unwrap(), Query::All);
        assert_eq!(parse("--- ").unwrap(), Query::All);
        assert_eq!(parse("-trailer").unwrap_err(), QueryError::OnlyExclusions);
        assert_eq!(parse(&"x".repeat(600)).unwrap_err(), QueryError::TooLong);
        let many = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(parse(&many).unwrap_err(), QueryError::TooManyTerms);
    }
}

//! Catalog search, engine-agnostic parts: [`tokenize`] turns a torrent's name or a
//! file path (or a query's words) into the terms an index stores, the same way at
//! indexing and at query time.
//!
//! What a user expects of release names and four languages:
//! - separators common in release names split words: `.`, `_`, `-`, `+`, brackets,
//!   slashes (`Ubuntu.24.04-desktop[x64]` → `ubuntu`, `24`, `04`, `desktop`, `x64`);
//! - Unicode word boundaries (UAX #29) everywhere else;
//! - lowercase, and diacritics folded (`Ünïcode` → `unicode`, `ё` → `е`, `й` → `и`), so
//!   a query typed without them matches;
//! - stemming: English (Porter 2) for Latin words, Russian (Snowball) for Cyrillic
//!   words, and for words with letters only Ukrainian has (і, ї, є, ґ) a light stemmer
//!   that strips common case endings (Snowball has no Ukrainian stemmer);
//! - Chinese, Japanese and Korean runs split into overlapping bigrams (`音楽の旅` →
//!   `音楽`, `楽の`, `の旅`; a one-character run stays one term), since they have no
//!   spaces and a dictionary segmenter is out of scope.
//!
//! ```
//! let terms: Vec<String> = shoal_search::tokenize("The.Running.Men.S01E02.1080p-GRP")
//!     .into_iter()
//!     .map(|t| t.term)
//!     .collect();
//! assert_eq!(terms, ["the", "run", "men", "s01e02", "1080p", "grp"]);
//! ```
#![deny(missing_docs)]

pub mod category;
pub mod newznab;
pub mod query;
pub mod request;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// One term and its position (for phrase queries: consecutive terms have consecutive
/// positions; a CJK run's bigrams take one position each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The term as the index stores it.
    pub term: String,
    /// Its position in the text.
    pub position: u32,
}

/// Longest text tokenized; the rest is ignored (names and paths are far shorter; a
/// bound keeps a hostile name from costing much).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Longest term kept, in bytes (longer words are cut at a character boundary).
pub const MAX_TERM_BYTES: usize = 64;

/// Characters that split words in release names besides Unicode word boundaries.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '.' | '_'
            | '-'
            | '+'
            | '['
            | ']'
            | '('
            | ')'
            | '{'
            | '}'
            | '/'
            | '\\'
            | '|'
            | '~'
            | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '"'
            | '\''
            | '&'
            | '#'
            | '@'
            | '='
    )
}

/// Han, Hiragana, Katakana and Hangul: scripts written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F   // CJK Extensions B–F, Compatibility Supplement
    )
}

fn is_cyrillic(c: char) -> bool {
    matches!(c as u32, 0x0400..=0x052F)
}

/// Lowercase with diacritics removed (NFD, combining marks dropped, NFC back); CJK
/// characters are kept as they are (a kana's voicing mark is not a diacritic).
fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if is_cjk(c) {
            out.push(c);
        } else {
            out.extend(
                std::iter::once(c)
                    .nfd()
                    .filter(|m| !is_combining_mark(*m))
                    .flat_map(char::to_lowercase),
            );
        }
    }
    out.nfc().collect()
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_TERM_BYTES {
        let mut end = MAX_TERM_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The stemmers, built once per call site (they are cheap: tables are static).
struct Stemmers {
    english: Stemmer,
    russian: Stemmer,
}

impl Stemmers {
    fn new() -> Self {
        Stemmers {
            english: Stemmer::create(Algorithm::English),
            russian: Stemmer::create(Algorithm::Russian),
        }
    }

    /// The stem of a folded word: Russian for Cyrillic words, English for Latin ones,
    /// the word itself otherwise (numbers, mixed letters and digits, other scripts).
    fn stem(&self, word: &str) -> String {
        let letters = word.chars().all(char::is_alphabetic);
        if !letters {
            return word.to_owned();
        }
        if word.chars().all(is_cyrillic) {
            if word.contains(['і', 'ї', 'є', 'ґ']) {
                ukrainian_light_stem(word)
            } else {
                self.russian.stem(word).into_owned()
            }
        } else if word.chars().all(|c| c.is_ascii_alphabetic()) {
            self.english.stem(word).into_owned()
        } else {
            word.to_owned()
        }
    }
}

/// Common Ukrainian case and number endings, longest first.
const UKRAINIAN_ENDINGS: [&str; 26] = [
    "ами", "ями", "ові", "еві", "ому", "ими", "ого", "ах", "ях", "ам", "ям", "ом", "ем", "ою",
    "ею", "ої", "ій", "ий", "их", "і", "ї", "и", "а", "я", "у", "ю",
];

/// Strips one common ending from a Ukrainian word, keeping at least three letters.
fn ukrainian_light_stem(word: &str) -> String {
    let len = word.chars().count();
    for ending in UKRAINIAN_ENDINGS {
        if let Some(stem) = word.strip_suffix(ending) {
            if len - ending.chars().count() >= 3 {
                return stem.to_owned();
            }
        }
    }
    word.to_owned()
}

/// The words of `text` after separators became spaces: UAX #29 words, except that
/// consecutive ideographs (which UAX #29 makes one word each) are one run again.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last_end = usize::MAX;
    let mut last_cjk = false;
    for (start, w) in text.unicode_word_indices() {
        let cjk = w.chars().all(is_cjk);
        match out.last_mut() {
            Some(prev) if cjk && last_cjk && start == last_end => prev.push_str(w),
            _ => out.push(w.to_owned()),
        }
        last_end = start + w.len();
        last_cjk = cjk;
    }
    out
}

/// The first [`MAX_TEXT_BYTES`] of `text` with release-name separators turned into
/// spaces (they are ASCII: byte offsets stay those of `text`).
fn spaced(text: &str) -> String {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .chars()
        .map(|c| if is_separator(c) { ' ' } else { c })
        .collect()
}

/// The terms of `text` in order, with positions (see the crate docs).
pub fn tokenize(text: &str) -> Vec<Token> {
    let spaced = spaced(text);
    let stemmers = Stemmers::new();
    let mut out = Vec::new();
    let mut position = 0u32;
    for word in words(&spaced) {
        let folded = fold(&word);
        // A word mixing CJK with other letters is split at the script change.
        let mut run = String::new();
        let mut run_cjk = None;
        let mut flush = |run: &mut String, cjk: bool, out: &mut Vec<Token>| {
            if run.is_empty() {
                return;
            }
            if cjk {
                let chars: Vec<char> = run.chars().collect();
                if chars.len() == 1 {
                    out.push(Token {
                        term: run.clone(),
                        position,
                    });
                    position += 1;
                } else {
                    for pair in chars.windows(2) {
                        out.push(Token {
                            term: pair.iter().collect(),
                            position,
                        });
                        position += 1;
                    }
                }
            } else {
                out.push(Token {
                    term: cut(stemmers.stem(run)),
                    position,
                });
                position += 1;
            }
            run.clear();
        };
        for c in folded.chars() {
            let cjk = is_cjk(c);
            if run_cjk.is_some_and(|r| r != cjk) {
                flush(&mut run, run_cjk.unwrap_or(false), &mut out);
            }
            run_cjk = Some(cjk);
            run.push(c);
        }
        flush(&mut run, run_cjk.unwrap_or(false), &mut out);
    }
    out
}

/// A word folded (lowercase, diacritics off) but not stemmed: how a typing prefix is
/// matched against terms.
pub fn fold_only(word: &str) -> String {
    fold(word)
}

/// Byte ranges of `text` holding a word whose term is one of `terms` or starts with
/// `prefix` (folded, unstemmed): what a results page highlights. A CJK character is
/// marked when it and a neighbour form one of the bigram terms.
pub fn highlight(text: &str, terms: &[String], prefix: Option<&str>) -> Vec<(usize, usize)> {
    // Separators are ASCII, so replacing them with spaces keeps byte offsets.
    let spaced = spaced(text);
    let words: Vec<(usize, &str)> = spaced.unicode_word_indices().collect();
    let stemmers = Stemmers::new();
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut mark = |start: usize, len: usize| match out.last_mut() {
        Some(last) if last.1 >= start => last.1 = last.1.max(start + len),
        _ => out.push((start, start + len)),
    };
    for (i, &(start, w)) in words.iter().enumerate() {
        let single_cjk = w.chars().count() == 1 && w.chars().all(is_cjk);
        if single_cjk {
            let joined = |a: &(usize, &str), b: &(usize, &str)| {
                (a.0 + a.1.len() == b.0 && b.1.chars().all(is_cjk))
                    .then(|| format!("{}{}", a.1, b.1))
            };
            let before = i.checked_sub(1).and_then(|j| joined(&words[j], &words[i]));
            let after = words.get(i + 1).and_then(|n| joined(&words[i], n));
            if [before, after]
                .into_iter()
                .flatten()
                .chain(std::iter::once(w.to_owned()))
                .any(|bigram| terms.contains(&bigram))
            {
                mark(start, w.len());
            }
            continue;
        }
        let folded = fold(w);
        let hit = prefix.is_some_and(|p| !p.is_empty() && folded.starts_with(p))
            || (folded.chars().all(|c| !is_cjk(c)) && terms.contains(&cut(stemmers.stem(&folded))))
            || tokenize(w).iter().any(|t| terms.contains(&t.term));
        if hit {
            mark(start, w.len());
        }
    }
    out
}

/// Just the terms of `text`, in order.
pub fn terms(text: &str) -> Vec<String> {
    tokenize(text).into_iter().map(|t| t.term).collect()
}

#[cfg(test)]
mod tests;

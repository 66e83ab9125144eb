use proptest::prelude::*;

use super::*;

#[test]
fn release_name_separators_split_words() {
    assert_eq!(
        terms("Ubuntu.24.04-desktop[x64]_final(2024)"),
        ["ubuntu", "24", "04", "desktop", "x64", "final", "2024"]
    );
    assert_eq!(terms("a+b~c/d\\e|f"), ["a", "b", "c", "d", "e", "f"]);
}

#[test]
fn case_and_diacritics_fold() {
    assert_eq!(terms("Ünïcode ÉLAN"), terms("unicode elan"));
    // ё and е, й and и are one letter to a searcher.
    assert_eq!(terms("Ёлка"), terms("елка"));
    assert_eq!(terms("Мой"), terms("мои"));
}

#[test]
fn english_and_russian_words_are_stemmed() {
    assert_eq!(terms("running runs"), ["run", "run"]);
    // Russian case endings.
    assert_eq!(terms("фильмы"), terms("фильм"));
    assert_eq!(terms("книгами"), terms("книга"));
    // Ukrainian words get a light stemmer.
    assert_eq!(terms("пісні"), terms("пісня"));
    assert_eq!(terms("фільмами"), terms("фільм"));
    // Numbers and mixed words are kept whole.
    assert_eq!(terms("S01E02 1080p 2160"), ["s01e02", "1080p", "2160"]);
}

#[test]
fn cjk_runs_become_bigrams() {
    assert_eq!(terms("音楽の旅"), ["音楽", "楽の", "の旅"]);
    assert_eq!(terms("中"), ["中"]);
    assert_eq!(terms("东京 tokyo"), ["东京", "tokyo"]);
    // A run inside a word is split at the script change.
    assert_eq!(terms("第2季"), ["第", "2", "季"]);
    assert_eq!(terms("한국어"), ["한국", "국어"]);
    // Kana keep their voicing marks (not diacritics to fold).
    assert_eq!(terms("がっこう"), ["がっ", "っこ", "こう"]);
}

#[test]
fn positions_count_terms_in_order() {
    let t = tokenize("big buck.bunny 音楽");
    let pos: Vec<u32> = t.iter().map(|t| t.position).collect();
    assert_eq!(pos, [0, 1, 2, 3]);
}

#[test]
fn long_text_and_terms_are_bounded() {
    let word = "a".repeat(500);
    let t = terms(&word);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].len(), MAX_TERM_BYTES);
    let long = "word ".repeat(10_000);
    assert!(tokenize(&long).len() <= MAX_TEXT_BYTES / 5 + 1);
    // Cut at a character boundary.
    let cyr = "я".repeat(100);
    assert!(terms(&cyr)[0].len() <= MAX_TERM_BYTES);
}

proptest! {
    #[test]
    fn any_text_tokenizes_without_panic(s in ".{0,300}") {
        for t in tokenize(&s) {
            prop_assert!(!t.term.is_empty());
            prop_assert!(t.term.len() <= MAX_TERM_BYTES);
        }
    }

    #[test]
    fn tokenizing_is_stable_under_case(s in "[a-zA-Zа-яА-Я .\\-]{0,60}") {
        prop_assert_eq!(terms(&s.to_lowercase()), terms(&s));
    }
}

#[test]
fn highlights_fall_on_whole_words() {
    let name = "Big.Buck.Bunny.2008.1080p";
    let marks = crate::highlight(name, &terms("bunnies"), Some("108"));
    let words: Vec<&str> = marks.iter().map(|&(a, b)| &name[a..b]).collect();
    assert_eq!(words, ["Bunny", "1080p"]);
    let ru = "Фильмы о войне";
    let marks = crate::highlight(ru, &terms("фильм"), None);
    assert_eq!(
        marks.iter().map(|&(a, b)| &ru[a..b]).collect::<Vec<_>>(),
        ["Фильмы"]
    );
    let zh = "中文电影合集";
    let marks = crate::highlight(zh, &terms("电影"), None);
    assert_eq!(
        marks.iter().map(|&(a, b)| &zh[a..b]).collect::<Vec<_>>(),
        ["电影"]
    );
    assert!(crate::highlight("nothing here", &terms("else"), None).is_empty());
}

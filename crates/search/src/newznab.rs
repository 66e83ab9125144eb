//! Newznab categories (what Torznab clients such as Sonarr, Radarr and Prowlarr ask
//! by) and the season/episode marks in release names.

use crate::category::Category;

/// Movies.
pub const MOVIES: u32 = 2000;
/// Audio.
pub const AUDIO: u32 = 3000;
/// PC (software).
pub const PC: u32 = 4000;
/// TV.
pub const TV: u32 = 5000;
/// Books.
pub const BOOKS: u32 = 7000;
/// Other.
pub const OTHER: u32 = 8000;

/// Every top-level category we map to, with its Newznab name.
pub const ALL: [(u32, &str); 6] = [
    (MOVIES, "Movies"),
    (AUDIO, "Audio"),
    (PC, "PC"),
    (TV, "TV"),
    (BOOKS, "Books"),
    (OTHER, "Other"),
];

/// The Newznab category of a torrent: video with a season or episode mark in its
/// name is TV, other video is movies.
pub fn of(category: Category, name: &str) -> u32 {
    match category {
        Category::Video if episode(name).is_some() => TV,
        Category::Video => MOVIES,
        Category::Audio => AUDIO,
        Category::Books => BOOKS,
        Category::Software => PC,
        Category::Images | Category::Archives | Category::Other => OTHER,
    }
}

/// The top-level category of a Newznab number (`5040` → `5000`).
pub fn top(cat: u32) -> u32 {
    cat / 1000 * 1000
}

/// The season and episode a release name marks: `S01E02`, `s1e2`, `S01` alone (a
/// season pack: episode `None`), `1x02`. Only whole words count.
pub fn episode(name: &str) -> Option<(u32, Option<u32>)> {
    let lower = name.to_ascii_lowercase();
    let words = lower.split(|c: char| !c.is_ascii_alphanumeric());
    for w in words {
        let b = w.as_bytes();
        if b.first() == Some(&b's') {
            let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
            let n = digits(&b[1..]);
            if !(1..=4).contains(&n) {
                continue;
            }
            let season: u32 = w[1..1 + n].parse().ok()?;
            let rest = &b[1 + n..];
            if rest.is_empty() {
                return Some((season, None));
            }
            if rest[0] == b'e' {
                let m = digits(&rest[1..]);
                if (1..=4).contains(&m) && 1 + m == rest.len() {
                    let ep: u32 = w[2 + n..2 + n + m].parse().ok()?;
                    return Some((season, Some(ep)));
                }
            }
        } else if let Some((s, e)) = w.split_once('x') {
            let ok = |x: &str| (1..=3).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit());
            if ok(s) && ok(e) && s.len() <= 2 {
                return Some((s.parse().ok()?, Some(e.parse().ok()?)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_and_episodes_in_names() {
        assert_eq!(episode("The.Show.S01E02.1080p.WEB"), Some((1, Some(2))));
        assert_eq!(episode("the show s3e12 720p"), Some((3, Some(12))));
        assert_eq!(episode("The.Show.S02.COMPLETE.1080p"), Some((2, None)));
        assert_eq!(episode("The Show 4x07 HDTV"), Some((4, Some(7))));
        assert_eq!(episode("Movie.2019.1080p.x264"), None);
        assert_eq!(episode("Sample Pack 1920x1080"), None);
        assert_eq!(episode("Sonic.Speed.mkv"), None);
        assert_eq!(episode("S01E02E03"), None);
    }

    #[test]
    fn categories_map_to_newznab() {
        assert_eq!(of(Category::Video, "Show.S01E01.mkv"), TV);
        assert_eq!(of(Category::Video, "Film.2020.1080p"), MOVIES);
        assert_eq!(of(Category::Audio, "Album"), AUDIO);
        assert_eq!(of(Category::Books, "Book"), BOOKS);
        assert_eq!(of(Category::Software, "Distro"), PC);
        assert_eq!(of(Category::Images, "Photos"), OTHER);
        assert_eq!(top(5040), TV);
    }
}

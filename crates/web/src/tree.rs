//! A torrent's files as a folder tree: built from the `/`-joined paths of
//! [`TorrentMeta::files`](crate::TorrentMeta), each folder summing its files' sizes and
//! counting them, listed folders first, then files, each in natural order (`part 2`
//! before `part 10`).
//!
//! Files are numbered in display order, so a folder's files are one contiguous run of
//! numbers; a page of the tree is the folders and files whose numbers fall in a range.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

/// Deepest folder nesting shown; deeper path components stay in the file's name
/// (a hostile path cannot make rendering recurse without bound).
pub const MAX_DEPTH: usize = 32;

/// One folder: its subfolders and files, sorted, with totals over everything below.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dir<'a> {
    /// The folder's name (empty for the root).
    pub name: &'a str,
    /// Subfolders.
    pub dirs: Vec<Dir<'a>>,
    /// Files directly in this folder: name and size.
    pub files: Vec<(&'a str, u64)>,
    /// Bytes in every file below.
    pub size: u64,
    /// Files below.
    pub count: usize,
    /// The number (in display order) of the first file below.
    pub first: usize,
}

#[derive(Default)]
struct Node<'a> {
    dirs: Vec<(&'a str, Node<'a>)>,
    index: HashMap<&'a str, usize>,
    files: Vec<(&'a str, u64)>,
}

impl<'a> Node<'a> {
    fn child(&mut self, name: &'a str) -> &mut Node<'a> {
        let i = *self.index.entry(name).or_insert_with(|| {
            self.dirs.push((name, Node::default()));
            self.dirs.len() - 1
        });
        &mut self.dirs[i].1
    }

    fn finish(self, name: &'a str, first: usize) -> Dir<'a> {
        let mut dirs = self.dirs;
        dirs.sort_by(|a, b| natural(a.0, b.0));
        let mut files = self.files;
        files.sort_by(|a, b| natural(a.0, b.0));
        let mut next = first;
        let mut size = 0u64;
        let dirs: Vec<Dir<'a>> = dirs
            .into_iter()
            .map(|(n, node)| {
                let d = node.finish(n, next);
                next += d.count;
                size = size.saturating_add(d.size);
                d
            })
            .collect();
        size = files.iter().fold(size, |s, f| s.saturating_add(f.1));
        Dir {
            name,
            count: next - first + files.len(),
            dirs,
            files,
            size,
            first,
        }
    }
}

impl<'a> Dir<'a> {
    /// The tree of these files.
    pub fn build(files: &'a [(String, u64)]) -> Dir<'a> {
        let mut root = Node::default();
        for (path, size) in files {
            let mut node = &mut root;
            let mut rest = path.as_str();
            let mut depth = 0;
            while depth < MAX_DEPTH {
                let Some((dir, tail)) = rest.split_once('/') else {
                    break;
                };
                if !dir.is_empty() {
                    node = node.child(dir);
                    depth += 1;
                }
                rest = tail;
            }
            let name = if rest.is_empty() { path.as_str() } else { rest };
            node.files.push((name, *size));
        }
        root.finish("", 0)
    }

    /// The numbers of the files below.
    pub fn span(&self) -> Range<usize> {
        self.first..self.first + self.count
    }

    /// The number of the first file directly in this folder.
    pub fn first_own_file(&self) -> usize {
        self.first + self.count - self.files.len()
    }
}

/// Orders names as people count: runs of digits by value, the rest case-insensitively.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.find(|c: char| !c.is_ascii_digit()).unwrap_or(x.len());
                let ny = y.find(|c: char| !c.is_ascii_digit()).unwrap_or(y.len());
                let (dx, dy) = (
                    x[..nx].trim_start_matches('0'),
                    y[..ny].trim_start_matches('0'),
                );
                let o = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(dy));
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                x = &x[c.len_utf8()..];
                y = &y[d.len_utf8()..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[(&str, u64)]) -> Vec<(String, u64)> {
        paths.iter().map(|(p, n)| (p.to_string(), *n)).collect()
    }

    #[test]
    fn folders_sum_their_files() {
        let f = files(&[
            ("Album/CD2/01.flac", 30),
            ("Album/CD1/02.flac", 20),
            ("Album/CD1/01.flac", 10),
            ("Album/cover.jpg", 5),
            ("readme.txt", 1),
        ]);
        let root = Dir::build(&f);
        assert_eq!((root.count, root.size), (5, 66));
        let album = &root.dirs[0];
        assert_eq!((album.name, album.count, album.size), ("Album", 4, 65));
        let cd1 = &album.dirs[0];
        assert_eq!((cd1.name, cd1.size, cd1.span()), ("CD1", 30, 0..2));
        assert_eq!(cd1.files, [("01.flac", 10), ("02.flac", 20)]);
        assert_eq!(album.dirs[1].span(), 2..3);
        assert_eq!(album.first_own_file(), 3);
        assert_eq!(root.first_own_file(), 4);
        assert_eq!(root.files, [("readme.txt", 1)]);
    }

    #[test]
    fn hostile_paths_stay_bounded() {
        let deep = "d/".repeat(1000) + "f";
        let f = files(&[(&deep, 1), ("//x//y", 2), ("trailing/", 3)]);
        let root = Dir::build(&f);
        let mut d = &root;
        let mut depth = 0;
        while let Some(sub) = d.dirs.iter().find(|s| s.name == "d") {
            d = sub;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(d.files[0].0.ends_with("d/f"));
        assert_eq!(
            root.dirs.iter().find(|s| s.name == "x").unwrap().files,
            [("y", 2)]
        );
        assert_eq!(
            root.dirs
                .iter()
                .find(|s| s.name == "trailing")
                .unwrap()
                .files,
            [("trailing/", 3)]
        );
        assert_eq!(root.count, 3);
    }

    #[test]
    fn natural_order() {
        let mut v = ["part 10", "Part 2", "part 1", "a", "part 02b", "B"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, ["a", "B", "part 1", "Part 2", "part 02b", "part 10"]);
    }
}

//! A torrent's category, from its files' extensions: the category holding the most
//! bytes wins (a film with subtitles and a cover is video).

/// What a torrent mostly holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Films and series.
    Video,
    /// Music and audiobooks.
    Audio,
    /// Books, comics, documents.
    Books,
    /// Programs, disk images, packages.
    Software,
    /// Pictures.
    Images,
    /// Archives whose content is unknown.
    Archives,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 7] = [
        Category::Video,
        Category::Audio,
        Category::Books,
        Category::Software,
        Category::Images,
        Category::Archives,
        Category::Other,
    ];

    /// The key in URLs and translation files.
    pub fn key(self) -> &'static str {
        match self {
            Category::Video => "video",
            Category::Audio => "audio",
            Category::Books => "books",
            Category::Software => "software",
            Category::Images => "images",
            Category::Archives => "archives",
            Category::Other => "other",
        }
    }

    /// The category a key names.
    pub fn from_key(key: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The category of one file by its name's extension.
    pub fn of_file(path: &str) -> Category {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let Some((_, ext)) = name.rsplit_once('.') else {
            return Category::Other;
        };
        match ext.to_ascii_lowercase().as_str() {
            "mkv" | "mp4" | "avi" | "m4v" | "mov" | "wmv" | "webm" | "ts" | "m2ts" | "mpg"
            | "mpeg" | "vob" | "flv" | "ogv" | "3gp" => Category::Video,
            "mp3" | "flac" | "ogg" | "opus" | "m4a" | "aac" | "wav" | "wv" | "ape" | "alac"
            | "dsf" | "m4b" | "wma" => Category::Audio,
            "epub" | "pdf" | "mobi" | "azw3" | "fb2" | "djvu" | "cbz" | "cbr" | "txt" | "doc"
            | "docx" | "rtf" | "odt" | "chm" => Category::Books,
            "exe" | "msi" | "dmg" | "pkg" | "deb" | "rpm" | "appimage" | "apk" | "iso" | "img"
            | "bin" | "jar" => Category::Software,
            "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "heic" | "raw"
            | "cr2" | "nef" | "svg" => Category::Images,
            "zip" | "rar" | "7z" | "tar" | "gz" | "xz" | "bz2" | "zst" | "tgz" => {
                Category::Archives
            }
            _ => Category::Other,
        }
    }

    /// The category of a torrent: the one whose files hold the most bytes (ties go to
    /// the earlier in [`Category::ALL`]); `Other` for no files.
    pub fn of_files<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Category {
        let mut bytes = [0u64; 7];
        for (path, size) in files {
            let c = Category::of_file(path);
            let i = Category::ALL.iter().position(|x| *x == c).unwrap_or(6);
            // A file of 0 bytes still says something about the torrent.
            bytes[i] = bytes[i].saturating_add(size.max(1));
        }
        let best = (0..7).fold(6, |best, i| if bytes[i] > bytes[best] { i } else { best });
        if bytes[best] == 0 {
            Category::Other
        } else {
            Category::ALL[best]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_by_extension() {
        assert_eq!(Category::of_file("Movie.2024.1080p.MKV"), Category::Video);
        assert_eq!(Category::of_file("dir/Track 01.flac"), Category::Audio);
        assert_eq!(Category::of_file("book.fb2"), Category::Books);
        assert_eq!(
            Category::of_file("ubuntu-24.04-desktop-amd64.iso"),
            Category::Software
        );
        assert_eq!(Category::of_file("cover.JPG"), Category::Images);
        assert_eq!(Category::of_file("data.tar.gz"), Category::Archives);
        assert_eq!(Category::of_file("README"), Category::Other);
        assert_eq!(Category::of_file("dir.with.dots/README"), Category::Other);
    }

    #[test]
    fn the_category_with_most_bytes_wins() {
        let film = [
            ("Film/film.mkv", 4_000_000_000),
            ("Film/film.srt", 80_000),
            ("Film/cover.jpg", 300_000),
            ("Film/info.nfo", 2_000),
        ];
        assert_eq!(Category::of_files(film), Category::Video);
        let album = [
            ("a/01.flac", 30_000_000),
            ("a/02.flac", 28_000_000),
            ("a/cover.png", 2_000_000),
        ];
        assert_eq!(Category::of_files(album), Category::Audio);
        assert_eq!(Category::of_files([]), Category::Other);
        assert_eq!(Category::of_files([("empty.epub", 0)]), Category::Books);
        for c in Category::ALL {
            assert_eq!(Category::from_key(c.key()), Some(c));
        }
    }
}

//! The synthetic catalog: release names and file lists of films, episodes and season
//! packs, music, books, software, pictures, archives and data, in English, Russian,
//! Ukrainian and Chinese, with Zipf-distributed title words so that some words are in
//! a large share of names and most are rare.
//!
//! Entry `i` depends only on the seed and `i` (its own random stream), so a catalog of
//! N entries is the first N of any larger one, and a query set can regenerate any entry
//! without reading the store.

use shoal_search::category::Category;
use shoal_store::{CatalogEntry, InfoHash};

use crate::words;

/// SplitMix64: tiny, seedable, and the same on every platform and build (the catalog
/// must not change when a dependency does).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The stream of item `i` under `seed`.
    pub fn for_item(seed: u64, i: u64) -> Rng {
        let mut r = Rng(seed ^ i.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below((hi - lo + 1) as usize) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Log-uniform in lo..=hi: sizes spread over orders of magnitude.
    pub fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        (a + (b - a) * self.unit()).exp() as u64
    }
}

/// Zipf(s) over ranks 0..n: rank k has weight 1/(k+1)^s.
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `n` ranks.
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n.max(1));
        let mut acc = 0.0;
        for k in 0..n.max(1) {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    /// A rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// The language of an entry's title words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
    /// Ukrainian.
    Uk,
    /// Chinese.
    Zh,
}

impl Lang {
    /// Every language, with its share of entries.
    pub const SHARES: [(Lang, f64); 4] = [
        (Lang::En, 0.58),
        (Lang::Ru, 0.22),
        (Lang::Uk, 0.08),
        (Lang::Zh, 0.12),
    ];

    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::Ru => 1,
            Lang::Uk => 2,
            Lang::Zh => 3,
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A film.
    Film,
    /// One episode of a series.
    Episode,
    /// A whole season of a series.
    Season,
    /// An album or a discography.
    Music,
    /// A book or a collection.
    Book,
    /// A program, a game or a disk image.
    Software,
    /// A photo set or wallpapers.
    Images,
    /// A backup in archives.
    Archive,
    /// Data files.
    Data,
}

impl Kind {
    /// Every kind, with its share of entries.
    pub const SHARES: [(Kind, f64); 9] = [
        (Kind::Film, 0.28),
        (Kind::Episode, 0.17),
        (Kind::Season, 0.07),
        (Kind::Music, 0.18),
        (Kind::Book, 0.12),
        (Kind::Software, 0.10),
        (Kind::Images, 0.04),
        (Kind::Archive, 0.02),
        (Kind::Data, 0.02),
    ];
}

fn by_share<T: Copy>(rng: &mut Rng, shares: &[(T, f64)]) -> T {
    let mut u = rng.unit();
    for (t, p) in shares {
        if u < *p {
            return *t;
        }
        u -= p;
    }
    shares[shares.len() - 1].0
}

/// A title word as it was drawn: its text and its frequency rank in its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as written in the name (capitalised or not).
    pub text: String,
    /// Rank in its language's vocabulary (0 is the most frequent).
    pub rank: u32,
}

/// One generated torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The entry as the store keeps it.
    pub entry: CatalogEntry,
    /// What it is.
    pub kind: Kind,
    /// Its title words' language.
    pub lang: Lang,
    /// Its title words, in the order they appear in the name (a second title, such as
    /// the English one after a Russian one, is not included).
    pub title: Vec<Word>,
    /// Its category, from its files.
    pub category: Category,
}

/// Ranks per language: the real words first, then made-up ones.
const VOCAB: [usize; 4] = [60_000, 40_000, 20_000, 30_000];

/// Zipf exponent of title words.
const WORD_ZIPF: f64 = 1.0;

/// Unix seconds of the first entry; entry `i` was first seen about 30·i s later.
const EPOCH: u64 = 1_700_000_000;

/// The catalog for one seed.
pub struct Corpus {
    seed: u64,
    vocab: [Zipf; 4],
    groups: Zipf,
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Release groups: made-up tags, some much busier than others.
fn group(rank: usize) -> String {
    let mut r = Rng::for_item(0x0067_726f_7570, rank as u64);
    let len = 3 + r.below(4);
    let mut s: String = (0..len)
        .map(|_| (b'A' + r.below(26) as u8) as char)
        .collect();
    if r.chance(0.2) {
        s = capitalize(&s[..2].to_lowercase()) + &s[2..];
    }
    s
}

impl Corpus {
    /// The catalog of `seed`.
    pub fn new(seed: u64) -> Corpus {
        Corpus {
            seed,
            vocab: VOCAB.map(|n| Zipf::new(n, WORD_ZIPF)),
            groups: Zipf::new(500, 1.1),
        }
    }

    /// The word of `rank` in `lang`: a real word for the first ranks, a made-up one
    /// after.
    pub fn word(lang: Lang, rank: usize) -> String {
        let real: &[&str] = match lang {
            Lang::En => words::EN,
            Lang::Ru => words::RU,
            Lang::Uk => words::UK,
            Lang::Zh => words::ZH,
        };
        if let Some(w) = real.get(rank) {
            return (*w).to_owned();
        }
        let mut r = Rng::for_item(0x776f_7264 + lang.index() as u64, rank as u64);
        match lang {
            Lang::Zh => (0..2 + r.below(2))
                .map(|_| *r.pick(words::ZH_CHARS))
                .collect(),
            _ => {
                let syl = match lang {
                    Lang::Ru => words::RU_SYL,
                    Lang::Uk => words::UK_SYL,
                    _ => words::EN_SYL,
                };
                (0..2 + r.below(2)).map(|_| *r.pick(syl)).collect()
            }
        }
    }

    fn draw(&self, rng: &mut Rng, lang: Lang) -> Word {
        let rank = self.vocab[lang.index()].sample(rng);
        Word {
            text: Corpus::word(lang, rank),
            rank: rank as u32,
        }
    }

    /// `n` title words, capitalised as names are.
    fn title(&self, rng: &mut Rng, lang: Lang, n: usize) -> Vec<Word> {
        (0..n.max(1))
            .map(|i| {
                let mut w = self.draw(rng, lang);
                if lang != Lang::Zh && (i == 0 || lang == Lang::En) {
                    w.text = capitalize(&w.text);
                }
                w
            })
            .collect()
    }

    fn person(&self, rng: &mut Rng, lang: Lang) -> String {
        match lang {
            Lang::En => format!("{} {}", rng.pick(words::EN_FIRST), rng.pick(words::EN_LAST)),
            Lang::Ru => format!("{} {}", rng.pick(words::RU_FIRST), rng.pick(words::RU_LAST)),
            Lang::Uk => format!("{} {}", rng.pick(words::UK_FIRST), rng.pick(words::UK_LAST)),
            Lang::Zh => format!("{}{}", rng.pick(words::ZH_LAST), rng.pick(words::ZH_FIRST)),
        }
    }

    fn year(rng: &mut Rng) -> u64 {
        // Mostly recent.
        2025 - (rng.unit().powi(2) * 70.0) as u64
    }

    fn group(&self, rng: &mut Rng) -> String {
        group(self.groups.sample(rng))
    }

    /// Entry `i`.
    pub fn entry(&self, i: u64) -> Generated {
        let mut rng = Rng::for_item(self.seed, i);
        let lang = by_share(&mut rng, &Lang::SHARES);
        let kind = by_share(&mut rng, &Kind::SHARES);
        let (name, title, files) = match kind {
            Kind::Film => self.film(&mut rng, lang),
            Kind::Episode => self.episode(&mut rng, lang),
            Kind::Season => self.season(&mut rng, lang),
            Kind::Music => self.music(&mut rng, lang),
            Kind::Book => self.book(&mut rng, lang),
            Kind::Software => self.software(&mut rng, lang),
            Kind::Images => self.images(&mut rng, lang),
            Kind::Archive => self.archive(&mut rng, lang),
            Kind::Data => self.data(&mut rng, lang),
        };
        let total: u64 = files.iter().map(|f| f.1).sum();
        let piece_length = (total / 1500).next_power_of_two().clamp(1 << 14, 1 << 24);
        let mut pieces = [0u8; 20];
        pieces[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        let mut info = Vec::with_capacity(name.len() + 96);
        info.extend_from_slice(format!("d6:lengthi{total}e4:name{}:", name.len()).as_bytes());
        info.extend_from_slice(name.as_bytes());
        info.extend_from_slice(format!("12:piece lengthi{piece_length}e6:pieces20:").as_bytes());
        info.extend_from_slice(&pieces);
        info.push(b'e');
        let info_hash = {
            use sha1::Digest as _;
            InfoHash(sha1::Sha1::digest(&info).into())
        };
        let first_seen = EPOCH + i * 30 + rng.range(0, 29);
        let resolved_at = first_seen + rng.range(1, 600);
        let category = Category::of_files(files.iter().map(|(p, n)| (p.as_str(), *n)));
        Generated {
            entry: CatalogEntry {
                info_hash,
                alias: None,
                info_hash_v2: None,
                name,
                total_size: total,
                file_count: files.len() as u64,
                piece_length,
                private: false,
                first_seen,
                resolved_at,
                source_peers: rng.range(1, 40) as u32,
                last_active: resolved_at + rng.range(0, 90 * 86_400),
                files,
                info,
            },
            kind,
            lang,
            title,
            category,
        }
    }

    /// A film's or show's name parts: title (dotted or spaced), a second title in
    /// English for the other languages sometimes.
    fn video_title(&self, rng: &mut Rng, lang: Lang, max_words: usize) -> (Vec<Word>, String) {
        let n = 1 + rng.below(max_words);
        let title = self.title(rng, lang, n);
        let text = |sep: &str| {
            title
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(sep)
        };
        let shown = match lang {
            Lang::En => text(if rng.chance(0.75) { "." } else { " " }),
            Lang::Zh => text(""),
            _ => text(" "),
        };
        (title, shown)
    }

    fn english_alt(&self, rng: &mut Rng, sep: &str) -> String {
        let n = 1 + rng.below(3);
        self.title(rng, Lang::En, n)
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn resolution(rng: &mut Rng) -> &'static str {
        rng.pick::<&str>(&["2160p", "1080p", "1080p", "1080p", "720p", "720p", "480p"])
    }

    fn video_size(rng: &mut Rng, res: &str, min_minutes: u64, max_minutes: u64) -> u64 {
        let minutes = rng.range(min_minutes, max_minutes);
        let mb_per_min: f64 = match res {
            "2160p" => 150.0,
            "1080p" => 45.0,
            "720p" => 18.0,
            _ => 8.0,
        };
        (mb_per_min * minutes as f64 * (0.5 + rng.unit()) * 1e6) as u64
    }

    fn video_tags(&self, rng: &mut Rng, res: &str) -> String {
        let mut tags = vec![res.to_owned(), (*rng.pick(words::SOURCES)).to_owned()];
        if rng.chance(0.3) {
            tags.insert(0, (*rng.pick(words::EXTRAS)).to_owned());
        }
        tags.push((*rng.pick(words::CODECS)).to_owned());
        if rng.chance(0.5) {
            tags.push((*rng.pick(words::AUDIO)).to_owned());
        }
        tags.join(".")
    }

    fn video_ext(rng: &mut Rng) -> &'static str {
        rng.pick::<&str>(&["mkv", "mkv", "mkv", "mkv", "mp4", "avi"])
    }

    fn film(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let (title, shown) = self.video_title(rng, lang, 4);
        let year = Corpus::year(rng);
        let res = Corpus::resolution(rng);
        let tags = self.video_tags(rng, res);
        let grp = self.group(rng);
        let base = match lang {
            Lang::En if shown.contains('.') || !shown.contains(' ') => {
                format!("{shown}.{year}.{tags}-{grp}")
            }
            Lang::En => format!("{shown} ({year}) [{res}]"),
            Lang::Ru | Lang::Uk => {
                let source = rng.pick(words::SOURCES);
                let alt = if rng.chance(0.5) {
                    format!(" / {}", self.english_alt(rng, " "))
                } else {
                    String::new()
                };
                let dub = if lang == Lang::Uk { "Ukr/Eng" } else { "MVO" };
                format!("{shown}{alt} ({year}) {source} {res} {dub}")
            }
            Lang::Zh => {
                if rng.chance(0.5) {
                    let alt = self.english_alt(rng, ".");
                    format!("{shown}.{alt}.{year}.{tags}-{grp}")
                } else {
                    format!("[{shown}][{year}][{res}]")
                }
            }
        };
        let ext = Corpus::video_ext(rng);
        let main = Corpus::video_size(rng, res, 80, 170);
        if rng.chance(0.55) {
            return (
                format!("{base}.{ext}"),
                title,
                vec![(format!("{base}.{ext}"), main)],
            );
        }
        let mut files = vec![(format!("{base}.{ext}"), main)];
        if rng.chance(0.3) {
            files.push((format!("Sample/{base}.sample.{ext}"), main / 200));
        }
        for _ in 0..rng.below(5) {
            let lang = rng.pick(&["English", "Russian", "Ukrainian", "Chinese", "Spanish"]);
            files.push((format!("Subs/{lang}.srt"), rng.range(40_000, 120_000)));
        }
        if rng.chance(0.5) {
            files.push((format!("{base}.nfo"), rng.range(1_000, 9_000)));
        }
        for _ in 0..rng.below(4) {
            let extra = self.english_alt(rng, " ");
            files.push((
                format!("Extras/{extra}.{ext}"),
                Corpus::video_size(rng, res, 3, 25),
            ));
        }
        if rng.chance(0.3) {
            files.push(("cover.jpg".into(), rng.range(100_000, 900_000)));
        }
        (base, title, files)
    }

    fn show(&self, rng: &mut Rng, lang: Lang) -> (Vec<Word>, String, String) {
        let (title, shown) = self.video_title(rng, lang, 3);
        // What the episode files are called: Latin titles keep their dots.
        let dotted = if lang == Lang::En {
            shown.replace(' ', ".")
        } else {
            self.english_alt(rng, ".")
        };
        (title, shown, dotted)
    }

    fn episode(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let (title, shown, dotted) = self.show(rng, lang);
        let (s, e) = (1 + (rng.unit().powi(2) * 9.0) as u64, rng.range(1, 24));
        let res = Corpus::resolution(rng);
        let tags = self.video_tags(rng, res);
        let grp = self.group(rng);
        let base = match lang {
            Lang::En | Lang::Zh => format!("{shown}.S{s:02}E{e:02}.{tags}-{grp}"),
            Lang::Ru => format!(
                "{shown} / {dotted} (Сезон {s}, серия {e}) ({}) {} {res}",
                Corpus::year(rng),
                rng.pick(words::SOURCES)
            ),
            Lang::Uk => format!(
                "{shown} (Сезон {s}, серія {e}) {} {res} Ukr",
                rng.pick(words::SOURCES)
            ),
        };
        let ext = Corpus::video_ext(rng);
        let size = Corpus::video_size(rng, res, 20, 60);
        if rng.chance(0.85) {
            let file = format!("{dotted}.S{s:02}E{e:02}.{res}.{ext}");
            return (base, title, vec![(file, size)]);
        }
        let mut files = vec![(format!("{dotted}.S{s:02}E{e:02}.{res}.{ext}"), size)];
        files.push((
            format!("{dotted}.S{s:02}E{e:02}.srt"),
            rng.range(20_000, 80_000),
        ));
        if rng.chance(0.5) {
            files.push((format!("{grp}.nfo"), rng.range(1_000, 5_000)));
        }
        (base, title, files)
    }

    fn season(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let (title, shown, dotted) = self.show(rng, lang);
        let s = 1 + (rng.unit().powi(2) * 9.0) as u64;
        let episodes = rng.range(6, 24);
        let res = Corpus::resolution(rng);
        let source = *rng.pick(words::SOURCES);
        let grp = self.group(rng);
        let name = match lang {
            Lang::En | Lang::Zh => format!("{shown}.S{s:02}.{res}.{source}-{grp}"),
            Lang::Ru => format!(
                "{shown} / {dotted} (Сезон {s}, серии 1-{episodes} из {episodes}) ({}) {source} {res}",
                Corpus::year(rng)
            ),
            Lang::Uk => format!("{shown} (Сезон {s}, серії 1-{episodes}) {source} {res} Ukr"),
        };
        let ext = Corpus::video_ext(rng);
        let named = rng.chance(0.4);
        let subs = rng.chance(0.3);
        let mut files = Vec::new();
        for e in 1..=episodes {
            let ep_title = if named {
                format!(".{}", self.english_alt(rng, "."))
            } else {
                String::new()
            };
            let file = format!("{dotted}.S{s:02}E{e:02}{ep_title}.{res}.{source}-{grp}.{ext}");
            files.push((file, Corpus::video_size(rng, res, 20, 60)));
            if subs && files.len() < 50 {
                files.push((
                    format!("Subs/S{s:02}E{e:02}/English.srt"),
                    rng.range(20_000, 80_000),
                ));
            }
        }
        files.truncate(50);
        (name, title, files)
    }

    fn music(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let artist = if rng.chance(0.5) {
            self.person(rng, lang)
        } else {
            let n = 1 + rng.below(2);
            let band: Vec<String> = self
                .title(rng, lang, n)
                .into_iter()
                .map(|w| capitalize(&w.text))
                .collect();
            match lang {
                Lang::En if rng.chance(0.3) => format!("The {}", band.join(" ")),
                Lang::Zh => band.concat(),
                _ => band.join(" "),
            }
        };
        let n = 1 + rng.below(4);
        let title = self.title(rng, lang, n);
        let album = title
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(if lang == Lang::Zh { "" } else { " " });
        let year = Corpus::year(rng);
        let (format, ext, track_mb) = *rng.pick(&[
            ("FLAC", "flac", 30.0),
            ("FLAC", "flac", 30.0),
            ("MP3 320", "mp3", 9.0),
            ("MP3 V0", "mp3", 7.0),
            ("AAC", "m4a", 7.0),
            ("Hi-Res 24-96", "flac", 80.0),
        ]);
        let discography = rng.chance(0.1);
        let name = if discography {
            let to = year.max(1975);
            format!(
                "{artist} - Discography ({}-{to}) [{format}]",
                to - rng.range(3, 30)
            )
        } else {
            format!("{artist} - {album} ({year}) [{format}]")
        };
        let mut files = Vec::new();
        let albums = if discography { rng.range(2, 6) } else { 1 };
        let cds = if !discography && rng.chance(0.1) {
            2
        } else {
            1
        };
        for a in 0..albums {
            let dir = if discography {
                let n = 1 + rng.below(3);
                let t: Vec<String> = self
                    .title(rng, lang, n)
                    .into_iter()
                    .map(|w| w.text)
                    .collect();
                format!("{} - {}/", year.saturating_sub(a * 2), t.join(" "))
            } else {
                String::new()
            };
            for cd in 1..=cds {
                let cd_dir = if cds > 1 {
                    format!("CD{cd}/")
                } else {
                    String::new()
                };
                for t in 1..=rng.range(4, 16) {
                    let n = 1 + rng.below(4);
                    let track: Vec<String> = self
                        .title(rng, lang, n)
                        .into_iter()
                        .map(|w| w.text)
                        .collect();
                    let sep = if lang == Lang::Zh { "" } else { " " };
                    files.push((
                        format!("{dir}{cd_dir}{t:02}. {}.{ext}", track.join(sep)),
                        (track_mb * (0.4 + rng.unit()) * 1e6) as u64,
                    ));
                }
            }
            if ext == "flac" && rng.chance(0.6) {
                files.push((
                    format!("{dir}{artist} - {album}.cue"),
                    rng.range(1_000, 4_000),
                ));
                files.push((
                    format!("{dir}{artist} - {album}.log"),
                    rng.range(3_000, 12_000),
                ));
            }
            if rng.chance(0.7) {
                files.push((format!("{dir}cover.jpg"), rng.range(100_000, 3_000_000)));
            }
            if rng.chance(0.2) {
                for scan in ["front", "back", "cd"] {
                    files.push((
                        format!("{dir}Scans/{scan}.jpg"),
                        rng.range(500_000, 5_000_000),
                    ));
                }
            }
        }
        files.truncate(50);
        (name, title, files)
    }

    fn book(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let author = self.person(rng, lang);
        let n = 1 + rng.below(5);
        let title = self.title(rng, lang, n);
        let sep = if lang == Lang::Zh { "" } else { " " };
        let text = title
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(sep);
        let year = Corpus::year(rng);
        let (format, ext) = *rng.pick(&[
            ("EPUB", "epub"),
            ("PDF", "pdf"),
            ("FB2", "fb2"),
            ("DJVU", "djvu"),
            ("MOBI", "mobi"),
            ("CBZ", "cbz"),
        ]);
        let size = |rng: &mut Rng| rng.log_range(200_000, 40_000_000);
        if rng.chance(0.75) {
            let name = format!("{author} - {text} ({year}) [{format}]");
            let file = format!("{author} - {text}.{ext}");
            let s = size(rng);
            return (name, title, vec![(file, s)]);
        }
        let books = rng.range(3, 50);
        let name = match lang {
            Lang::Ru => format!("{author} - Собрание сочинений ({books} книг) [{format}]"),
            Lang::Uk => format!("{author} - Зібрання творів ({books} книг) [{format}]"),
            Lang::Zh => format!("{author}作品集 ({books}) [{format}]"),
            Lang::En => format!("{author} - Collected Works ({books} books) [{format}]"),
        };
        let series = self.english_alt(rng, " ");
        let files = (0..books)
            .map(|_| {
                let n = 1 + rng.below(4);
                let t: Vec<String> = self
                    .title(rng, lang, n)
                    .into_iter()
                    .map(|w| w.text)
                    .collect();
                let dir = if rng.chance(0.4) {
                    format!("{series}/")
                } else {
                    String::new()
                };
                (
                    format!(
                        "{author}/{dir}{} ({}).{ext}",
                        t.join(sep),
                        Corpus::year(rng)
                    ),
                    size(rng),
                )
            })
            .collect();
        (name, title, files)
    }

    fn software(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let (maj, min, patch) = (rng.range(1, 30), rng.range(0, 12), rng.range(0, 40));
        match rng.below(4) {
            0 => {
                let distro = *rng.pick(words::DISTROS);
                let ver = format!("{}.{:02}", rng.range(8, 26), rng.range(1, 12));
                let flavour = *rng.pick(&["desktop", "server", "live", "netinst"]);
                let name = format!("{distro}-{ver}-{flavour}-amd64.iso");
                let size = rng.log_range(300_000_000, 6_000_000_000);
                let title = vec![Word {
                    text: distro.to_owned(),
                    rank: 0,
                }];
                (name.clone(), title, vec![(name, size)])
            }
            1 => {
                // A game.
                let (title, shown) =
                    self.video_title(rng, if lang == Lang::Zh { Lang::En } else { lang }, 3);
                let shown = shown.replace(' ', ".");
                let grp = self.group(rng);
                let name = format!("{shown}.v{maj}.{min}-{grp}");
                let mut files = vec![("setup.exe".to_owned(), rng.range(2_000_000, 40_000_000))];
                for p in 1..=rng.range(1, 30) {
                    files.push((
                        format!("setup-{p}.bin"),
                        rng.log_range(100_000_000, 4_000_000_000),
                    ));
                }
                if rng.chance(0.5) {
                    files.push(("MD5/md5.txt".into(), rng.range(500, 5_000)));
                }
                (name, title, files)
            }
            _ => {
                let soft = *rng.pick(words::SOFTWARE);
                let title = vec![Word {
                    text: soft.to_owned(),
                    rank: 0,
                }];
                let name = if rng.chance(0.5) {
                    format!("{soft}.v{maj}.{min}.{patch}.x64")
                } else {
                    let langs = if lang == Lang::En {
                        "Multi"
                    } else {
                        "Multi/Ru"
                    };
                    format!(
                        "{soft} {} v{maj}.{min}.{patch} (x64) [{langs}]",
                        Corpus::year(rng)
                    )
                };
                let mut files = vec![(
                    format!("{soft}.v{maj}.{min}.{patch}.x64.exe"),
                    rng.log_range(5_000_000, 3_000_000_000),
                )];
                if rng.chance(0.5) {
                    files.push(("readme.txt".into(), rng.range(500, 9_000)));
                }
                if rng.chance(0.4) {
                    files.push((
                        format!("Portable/{soft}.exe"),
                        rng.range(2_000_000, 90_000_000),
                    ));
                    for _ in 0..rng.below(12) {
                        let w = self.draw(rng, Lang::En).text;
                        files.push((
                            format!("Portable/plugins/{w}.dll"),
                            rng.range(20_000, 3_000_000),
                        ));
                    }
                }
                (name, title, files)
            }
        }
    }

    fn images(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let n = 1 + rng.below(3);
        let title = self.title(rng, lang, n);
        let text = title
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(if lang == Lang::Zh { "" } else { " " });
        let count = rng.range(10, 50);
        let name = match lang {
            Lang::Zh => format!("{text}写真集 [{count}P]"),
            Lang::Ru => format!("{text} - Обои ({count} шт.)"),
            Lang::Uk => format!("{text} - Шпалери ({count} шт.)"),
            Lang::En => format!("{text} - Wallpapers Pack ({count} pics)"),
        };
        let ext = *rng.pick(&["jpg", "jpg", "png", "webp"]);
        let files = (1..=count)
            .map(|k| {
                (
                    format!("IMG_{:04}.{ext}", k * 7 + 1000),
                    rng.range(300_000, 8_000_000),
                )
            })
            .collect();
        (name, title, files)
    }

    fn archive(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let n = 1 + rng.below(3);
        let title = self.title(rng, lang, n);
        let text = title
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join("_");
        let name = format!(
            "{text}_backup_{}-{:02}",
            Corpus::year(rng),
            rng.range(1, 12)
        );
        let files = if rng.chance(0.5) {
            (1..=rng.range(2, 20))
                .map(|p| (format!("{text}.part{p:02}.rar"), 1_000_000_000))
                .collect()
        } else {
            let ext = *rng.pick(&["7z", "zip", "tar.gz"]);
            vec![(
                format!("{text}.{ext}"),
                rng.log_range(10_000_000, 20_000_000_000),
            )]
        };
        (name, title, files)
    }

    fn data(&self, rng: &mut Rng, lang: Lang) -> (String, Vec<Word>, Vec<(String, u64)>) {
        let n = 1 + rng.below(3);
        let title = self.title(rng, lang, n);
        let text = title
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let name = format!("{text} dataset ({})", Corpus::year(rng));
        let mut files = vec![("README.md".to_owned(), rng.range(1_000, 20_000))];
        for k in 0..rng.range(1, 30) {
            let w = self.draw(rng, Lang::En).text;
            let ext = *rng.pick(&["csv", "json", "parquet", "dat"]);
            files.push((
                format!("data/{w}_{k}.{ext}"),
                rng.log_range(1_000_000, 900_000_000),
            ));
        }
        (name, title, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_entries() {
        let (a, b) = (Corpus::new(7), Corpus::new(7));
        for i in 0..200 {
            assert_eq!(a.entry(i), b.entry(i));
        }
        let c = Corpus::new(8);
        assert_ne!(a.entry(0).entry.name, c.entry(0).entry.name);
        // Entries do not depend on each other: entry 150 alone is entry 150 of a run.
        assert_eq!(Corpus::new(7).entry(150), a.entry(150));
    }

    #[test]
    fn categories_languages_and_kinds_are_spread() {
        let corpus = Corpus::new(1);
        let n = 4000;
        let mut cats = std::collections::HashMap::new();
        let mut langs = std::collections::HashMap::new();
        let mut files = 0;
        for i in 0..n {
            let g = corpus.entry(i);
            *cats.entry(g.category).or_insert(0u32) += 1;
            *langs.entry(g.lang).or_insert(0u32) += 1;
            assert!(
                (1..=50).contains(&g.entry.files.len()),
                "{:?}",
                g.entry.files
            );
            assert_eq!(g.entry.file_count, g.entry.files.len() as u64);
            assert_eq!(
                g.entry.total_size,
                g.entry.files.iter().map(|f| f.1).sum::<u64>()
            );
            files += g.entry.files.len();
            // The info dictionary is bencoded and the hash covers it.
            assert!(g.entry.info.starts_with(b"d6:length") && g.entry.info.ends_with(b"e"));
        }
        let share = |c: Category| f64::from(*cats.get(&c).unwrap_or(&0)) / n as f64;
        assert!((0.40..0.65).contains(&share(Category::Video)), "{cats:?}");
        assert!((0.12..0.25).contains(&share(Category::Audio)), "{cats:?}");
        assert!((0.07..0.18).contains(&share(Category::Books)), "{cats:?}");
        assert!(
            (0.05..0.15).contains(&share(Category::Software)),
            "{cats:?}"
        );
        for c in [Category::Images, Category::Archives, Category::Other] {
            assert!((0.005..0.08).contains(&share(c)), "{c:?}: {cats:?}");
        }
        for (l, p) in Lang::SHARES {
            let got = f64::from(langs[&l]) / n as f64;
            assert!((got - p).abs() < 0.03, "{l:?}: {got}");
        }
        let mean = files as f64 / n as f64;
        assert!((4.0..20.0).contains(&mean), "{mean} files per torrent");
    }

    #[test]
    fn some_words_are_common_and_most_are_rare() {
        let corpus = Corpus::new(1);
        let mut counts = std::collections::HashMap::new();
        for i in 0..5000 {
            for t in shoal_search::terms(&corpus.entry(i).entry.name) {
                *counts.entry(t).or_insert(0u32) += 1;
            }
        }
        let once = counts.values().filter(|c| **c == 1).count();
        assert!(
            once * 3 > counts.len(),
            "{once} of {} terms once",
            counts.len()
        );
        assert!(
            counts.values().any(|c| *c > 250),
            "a term in over 5 % of names"
        );
    }
}

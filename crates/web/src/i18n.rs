//! Languages: the translation files, choosing a language, and formatting numbers and
//! durations the way each language writes them.
//!
//! Every user-visible string lives in `i18n/<code>.toml` (embedded at build time);
//! templates only name keys. A test keeps every file's keys equal to English's.

use std::collections::HashMap;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
    /// Ukrainian.
    Uk,
    /// Chinese (Simplified).
    Zh,
}

impl Lang {
    /// Every language, in menu order.
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Ru, Lang::Uk, Lang::Zh];

    /// The BCP 47 code (`lang` attribute, cookie value, `?lang=`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Uk => "uk",
            Lang::Zh => "zh",
        }
    }

    /// The language for a code or a tag such as `zh-CN` or `ru-RU`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The best language for an `Accept-Language` header (by q-value, then order),
    /// or `None` when it names none we speak.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, item) in header.split(',').enumerate().take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    /// Header lines for a page in an explicitly chosen language: the cookie that
    /// remembers it for a year, and the page's caching rules.
    pub fn cookie_header(self) -> &'static str {
        macro_rules! lines {
            ($code:literal) => {
                concat!(
                    "Set-Cookie: lang=",
                    $code,
                    "; Path=/; Max-Age=31536000; SameSite=Lax\r\n",
                    "Cache-Control: no-cache\r\nVary: Accept-Language, Cookie\r\n"
                )
            };
        }
        match self {
            Lang::En => lines!("en"),
            Lang::Ru => lines!("ru"),
            Lang::Uk => lines!("uk"),
            Lang::Zh => lines!("zh"),
        }
    }

    /// The `lang` cookie's language from a `Cookie` header.
    pub fn from_cookie(header: &str) -> Option<Lang> {
        header
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_tag(v))
    }

    fn separators(self) -> (&'static str, char) {
        match self {
            // Russian and Ukrainian group digits with a no-break space and use a
            // decimal comma.
            Lang::Ru | Lang::Uk => ("\u{a0}", ','),
            Lang::En | Lang::Zh => (",", '.'),
        }
    }

    /// `n` with digit grouping: `1,234,567` or `1 234 567`.
    pub fn int(self, n: u64) -> String {
        let digits = n.to_string();
        let (group, _) = self.separators();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * group.len());
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(group);
            }
            out.push(c);
        }
        out
    }

    /// `x` with `decimals` places, grouped: `1,234.5` or `1 234,5`.
    pub fn decimal(self, x: f64, decimals: usize) -> String {
        let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
        let s = format!("{x:.decimals$}");
        let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
        let mut out = self.int(whole.parse().unwrap_or(0));
        if !frac.is_empty() {
            out.push(self.separators().1);
            out.push_str(frac);
        }
        out
    }

    /// The CLDR plural category of `n` in this language: `one`, `few`, `many` or
    /// `other` (the suffix of a plural key such as `results_few`).
    pub fn plural(self, n: u64) -> &'static str {
        match self {
            Lang::En => {
                if n == 1 {
                    "one"
                } else {
                    "other"
                }
            }
            // Russian and Ukrainian: 1, 21, 101 → one; 2–4, 22–24 → few; the rest many.
            Lang::Ru | Lang::Uk => {
                let (m10, m100) = (n % 10, n % 100);
                if m10 == 1 && m100 != 11 {
                    "one"
                } else if (2..=4).contains(&m10) && !(12..=14).contains(&m100) {
                    "few"
                } else {
                    "many"
                }
            }
            Lang::Zh => "other",
        }
    }

    /// A share in percent: `12.5%`, `12,5 %` (Russian puts a no-break space before
    /// the sign).
    pub fn percent(self, share: f64) -> String {
        let n = self.decimal(share * 100.0, 1);
        match self {
            Lang::Ru => format!("{n}\u{a0}%"),
            _ => format!("{n}%"),
        }
    }
}

/// The translation tables, parsed once.
pub struct Catalog {
    tables: HashMap<Lang, HashMap<String, String>>,
}

fn source(lang: Lang) -> &'static str {
    match lang {
        Lang::En => include_str!("../i18n/en.toml"),
        Lang::Ru => include_str!("../i18n/ru.toml"),
        Lang::Uk => include_str!("../i18n/uk.toml"),
        Lang::Zh => include_str!("../i18n/zh.toml"),
    }
}

impl Catalog {
    /// Parses the embedded translation files.
    ///
    /// # Panics
    /// If a file is not valid TOML of strings: they are part of the binary, and a test
    /// parses every one.
    pub fn load() -> Catalog {
        let tables = Lang::ALL
            .into_iter()
            .map(|l| {
                let t: HashMap<String, String> = toml::from_str(source(l))
                    .unwrap_or_else(|e| panic!("i18n/{}.toml: {e}", l.code()));
                (l, t)
            })
            .collect();
        Catalog { tables }
    }

    /// The text for `key` in `lang`, falling back to English, then to the key itself.
    pub fn get<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.tables
            .get(&lang)
            .and_then(|t| t.get(key))
            .or_else(|| self.tables.get(&Lang::En).and_then(|t| t.get(key)))
            .map_or(key, String::as_str)
    }

    /// `{base}_{one,few,many,other}` for `n` in `lang`, with `{n}` filled in.
    pub fn plural(&self, lang: Lang, base: &str, n: u64) -> String {
        let key = format!("{base}_{}", lang.plural(n));
        self.get(lang, &key).replace("{n}", &lang.int(n))
    }

    /// Every key of a language (for tests).
    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let mut k: Vec<&str> = self.tables[&lang].keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

/// A short time ago in seconds under a minute (`12 s`), else as [`duration`] says it.
pub fn since(cat: &Catalog, lang: Lang, secs: u64) -> String {
    if secs < 60 {
        cat.get(lang, "seconds").replace("{n}", &secs.to_string())
    } else {
        duration(cat, lang, secs)
    }
}

/// A duration in the largest units that fit: `3 d 4 h`, `5 h 12 min`, `7 min`.
pub fn duration(cat: &Catalog, lang: Lang, secs: u64) -> String {
    let unit = |key: &str, n: u64| cat.get(lang, key).replace("{n}", &n.to_string());
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{} {}", unit("days", d), unit("hours", h))
    } else if h > 0 {
        format!("{} {}", unit("hours", h), unit("minutes", m))
    } else {
        unit("minutes", m)
    }
}

/// Year, month (1–12) and day (UTC) of a Unix time, by Howard Hinnant's
/// days-from-civil algorithm run backwards.
pub fn civil_date(unix: u64) -> (i64, u32, u32) {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A date (UTC) as the language writes it: `Nov 21, 2025`, `21 нояб. 2025 г.` (with
/// no-break spaces where a line must not break), `2025年11月21日` (`date_format` with `{year}`, `{month}` from `months`, `{day}`).
pub fn date(cat: &Catalog, lang: Lang, unix: u64) -> String {
    let (y, m, d) = civil_date(unix);
    let month = cat
        .get(lang, "months")
        .split(' ')
        .nth(m as usize - 1)
        .unwrap_or("");
    cat.get(lang, "date_format")
        .replace("{year}", &y.to_string())
        .replace("{month}", month)
        .replace("{day}", &d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key() {
        let c = Catalog::load();
        let en = c.keys(Lang::En);
        assert!(en.len() > 40);
        for l in Lang::ALL {
            assert_eq!(
                c.keys(l),
                en,
                "i18n/{}.toml keys differ from English",
                l.code()
            );
            for k in &en {
                assert!(!c.get(l, k).trim().is_empty(), "{}: {k} is empty", l.code());
            }
        }
        assert_eq!(c.get(Lang::Ru, "peers"), "Пиры");
        assert_eq!(c.get(Lang::Zh, "no-such-key"), "no-such-key");
    }

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(Lang::En.int(1_234_567), "1,234,567");
        assert_eq!(Lang::Zh.int(1_234_567), "1,234,567");
        assert_eq!(Lang::Ru.int(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(Lang::Uk.int(999), "999");
        assert_eq!(Lang::En.int(0), "0");
        assert_eq!(Lang::En.decimal(1234.56, 1), "1,234.6");
        assert_eq!(Lang::Ru.decimal(1234.56, 1), "1\u{a0}234,6");
        assert_eq!(Lang::En.percent(0.125), "12.5%");
        assert_eq!(Lang::Ru.percent(0.125), "12,5\u{a0}%");
        assert_eq!(Lang::Uk.percent(1.0), "100,0%");
        assert_eq!(Lang::En.decimal(f64::NAN, 1), "0.0");
    }

    #[test]
    fn language_choice() {
        assert_eq!(
            Lang::from_accept_language("de-DE,de;q=0.9,ru;q=0.8,en;q=0.7"),
            Some(Lang::Ru)
        );
        assert_eq!(Lang::from_accept_language("zh-CN,zh;q=0.9"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept_language("uk, en;q=0.5"), Some(Lang::Uk));
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, uk;q=0.9"),
            Some(Lang::Uk)
        );
        assert_eq!(Lang::from_accept_language("ru;q=0, fr"), None);
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::from_cookie("a=b; lang=uk; c=d"), Some(Lang::Uk));
        assert_eq!(Lang::from_cookie("lang=xx"), None);
    }

    #[test]
    fn durations() {
        let c = Catalog::load();
        assert_eq!(duration(&c, Lang::En, 3 * 86_400 + 4 * 3600 + 5), "3 d 4 h");
        assert_eq!(duration(&c, Lang::Ru, 2 * 3600 + 60 * 7), "2 ч 7 мин");
        assert_eq!(duration(&c, Lang::Zh, 59), "0 分钟");
    }

    #[test]
    fn dates_follow_the_language() {
        let c = Catalog::load();
        // 2025-11-21, then 2024-02-29 and 2000-03-01 around leap days.
        assert_eq!(civil_date(1_763_683_200), (2025, 11, 21));
        assert_eq!(civil_date(1_709_164_800), (2024, 2, 29));
        assert_eq!(civil_date(951_868_800), (2000, 3, 1));
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(date(&c, Lang::En, 1_763_683_200), "Nov\u{a0}21, 2025");
        assert_eq!(
            date(&c, Lang::Ru, 1_763_683_200),
            "21\u{a0}нояб. 2025\u{a0}г."
        );
        assert_eq!(
            date(&c, Lang::Uk, 1_709_164_800),
            "29\u{a0}лют. 2024\u{a0}р."
        );
        assert_eq!(date(&c, Lang::Zh, 1_763_683_200), "2025年11月21日");
        for l in Lang::ALL {
            assert_eq!(c.get(l, "months").split(' ').count(), 12, "{}", l.code());
        }
    }

    #[test]
    fn plurals_follow_the_language() {
        let c = Catalog::load();
        assert_eq!(c.plural(Lang::En, "results", 1), "1 result");
        assert_eq!(c.plural(Lang::En, "results", 1234), "1,234 results");
        assert_eq!(c.plural(Lang::Ru, "results", 21), "21 результат");
        assert_eq!(c.plural(Lang::Ru, "results", 3), "3 результата");
        assert_eq!(c.plural(Lang::Ru, "results", 12), "12 результатов");
        assert_eq!(c.plural(Lang::Uk, "files_count", 104), "104 файли");
        assert_eq!(c.plural(Lang::Uk, "files_count", 111), "111 файлів");
        assert_eq!(c.plural(Lang::Zh, "results", 2), "2 个结果");
    }
}

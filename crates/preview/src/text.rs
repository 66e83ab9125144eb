//! Text files of a preview decoded for display: UTF-8, UTF-16 with a byte-order mark,
//! the legacy code page a detector finds most likely (`chardetng`; Windows-1251 for
//! Russian, say), and for `.nfo` files the DOS code page 437 their box-drawing art is
//! drawn in, unless the detector finds Cyrillic and most high bytes are letters rather
//! than box drawing. The result is plain text for an
//! escaped `<pre>`: line ends made `\n`, other control characters dropped, and cut to a
//! size.

use std::borrow::Cow;

use codepage_437::{BorrowFromCp437, CP437_CONTROL};

/// Text ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text (at most the bound asked for).
    pub text: String,
    /// The encoding it was read in, by its usual name.
    pub encoding: &'static str,
    /// Whether it was cut to the bound.
    pub truncated: bool,
}

/// Decodes `bytes` of a file named `name`, keeping at most `max_chars` characters.
pub fn decode(bytes: &[u8], name: &str, max_chars: usize) -> Decoded {
    let nfo = name.to_ascii_lowercase().ends_with(".nfo");
    let (text, encoding): (Cow<'_, str>, &'static str) =
        if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
            let (text, _) = enc.decode_without_bom_handling(&bytes[bom..]);
            (text, enc.name())
        } else if let Ok(text) = std::str::from_utf8(bytes) {
            (Cow::Borrowed(text), "UTF-8")
        } else {
            let mut detector = chardetng::EncodingDetector::new();
            detector.feed(bytes, true);
            let guess = detector.guess(None, false);
            let cyrillic = [
                encoding_rs::WINDOWS_1251,
                encoding_rs::KOI8_R,
                encoding_rs::KOI8_U,
                encoding_rs::IBM866,
                encoding_rs::ISO_8859_5,
            ]
            .contains(&guess);
            // A detector reads box drawing (CP437 0xB0–0xDF) as Cyrillic letters: an
            // .nfo is Cyrillic text only when most of its high bytes are not there (a
            // Russian Windows-1251 or DOS-866 text's lower case is elsewhere).
            let high = bytes.iter().filter(|&&b| b >= 0x80).count();
            let drawing = bytes
                .iter()
                .filter(|&&b| (0xB0..=0xDF).contains(&b))
                .count();
            let text_like = cyrillic && drawing * 2 < high;
            if nfo && !text_like {
                (Cow::borrow_from_cp437(bytes, &CP437_CONTROL), "IBM437")
            } else {
                let (text, _) = guess.decode_without_bom_handling(bytes);
                (text, guess.name())
            }
        };
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    let mut kept = 0;
    let mut truncated = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    continue;
                }
                '\n'
            }
            '\n' | '\t' => c,
            c if c.is_control() || c == '\u{feff}' => continue,
            c => c,
        };
        if kept == max_chars {
            truncated = true;
            break;
        }
        out.push(c);
        kept += 1;
    }
    Decoded {
        text: out,
        encoding,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_in_windows_1251() {
        let text = "Релиз: Ёжик в тумане (1975)\r\nРежиссёр: Юрий Норштейн.\r\nОзвучено на русском языке, качество отличное.\r\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        for name in ["film.nfo", "readme.txt"] {
            let d = decode(&bytes, name, 10_000);
            assert_eq!(d.encoding, "windows-1251", "{name}");
            assert_eq!(d.text, text.replace("\r\n", "\n"), "{name}");
            assert!(!d.truncated);
        }
    }

    #[test]
    fn russian_dos_nfo_in_code_page_866() {
        let text =
            "Фильм снят на киностудии Союзмультфильм в тысяча девятьсот семьдесят пятом году.\n";
        let (bytes, _, _) = encoding_rs::IBM866.encode(text);
        let d = decode(&bytes, "film.nfo", 10_000);
        assert_eq!((d.encoding, d.text.as_str()), ("IBM866", text));
    }

    #[test]
    fn nfo_art_in_code_page_437() {
        // ╔══════╗ / ║ GROUP ║ / ╚══════╝ ░▒▓█ as DOS drew them.
        let mut bytes = vec![0xC9];
        bytes.extend([0xCD; 6]);
        bytes.extend([0xBB, b'\r', b'\n', 0xBA]);
        bytes.extend(b" GRP  ");
        bytes.extend([0xBA, b'\r', b'\n', 0xC8]);
        bytes.extend([0xCD; 6]);
        bytes.extend([0xBC, b' ', 0xB0, 0xB1, 0xB2, 0xDB, b'\r', b'\n']);
        let d = decode(&bytes, "RELEASE.NFO", 10_000);
        assert_eq!(d.encoding, "IBM437");
        assert_eq!(d.text, "╔══════╗\n║ GRP  ║\n╚══════╝ ░▒▓█\n");
        // The same bytes in a .txt are not read as DOS art.
        assert_ne!(decode(&bytes, "notes.txt", 10_000).encoding, "IBM437");
    }

    #[test]
    fn utf16_with_a_byte_order_mark_and_utf8() {
        let text = "Track 01 — «Prélude» 序曲\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(decode(&le, "a.cue", 100).text, text);
        assert_eq!(decode(&le, "a.cue", 100).encoding, "UTF-16LE");
        assert_eq!(decode(&be, "a.cue", 100).encoding, "UTF-16BE");
        assert_eq!(decode(text.as_bytes(), "a.nfo", 100).encoding, "UTF-8");
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(text.as_bytes());
        assert_eq!(decode(&bom8, "a.txt", 100).text, text);
    }

    #[test]
    fn control_characters_go_and_long_text_is_cut() {
        let d = decode(b"a\x1b[31mred\x07\tb\r\nc\rd\x00", "x.txt", 100);
        assert_eq!(d.text, "a[31mred\tb\nc\nd");
        let d = decode("жжжжж".as_bytes(), "x.txt", 3);
        assert_eq!((d.text.as_str(), d.truncated), ("жжж", true));
        assert!(!decode(b"abc", "x.txt", 3).truncated);
    }

    proptest::proptest! {
        /// Any bytes under any name decode without panicking, within the bound, with
        /// no control character but newlines and tabs.
        #[test]
        fn any_bytes_decode_within_bounds(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000), nfo in proptest::bool::ANY, max in 0usize..500) {
            let d = decode(&bytes, if nfo { "a.nfo" } else { "a.txt" }, max);
            proptest::prop_assert!(d.text.chars().count() <= max);
            proptest::prop_assert!(d.text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
        }
    }
}

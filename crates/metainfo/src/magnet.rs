//! BEP 9 magnet links (with BEP 52's `urn:btmh:` for v2).

use std::fmt;

use crate::{from_hex, path, to_hex, InfoHashes, Torrent};

/// Longest magnet link [`Magnet::parse`] reads, in bytes.
pub const MAX_MAGNET_LEN: usize = 64 * 1024;

/// A magnet link: info-hashes, and optionally a name, trackers and a size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Magnet {
    /// `xt=urn:btih:` (v1, 40 hex or 32 base32 digits) and `xt=urn:btmh:1220…` (v2,
    /// a SHA-256 multihash); a hybrid has both.
    pub info_hashes: InfoHashes,
    /// `dn`: display name (lossy UTF-8, control characters replaced).
    pub name: Option<String>,
    /// `tr`: trackers, in order.
    pub trackers: Vec<String>,
    /// `xl`: total size in bytes.
    pub size: Option<u64>,
}

/// Why a string is not a usable magnet link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    #[error("not a magnet link (no `magnet:?`)")]
    NotMagnet,
    /// Longer than [`MAX_MAGNET_LEN`].
    #[error("magnet link longer than {MAX_MAGNET_LEN} bytes")]
    TooLong,
    /// A `%` not followed by two hex digits, or a `tr` that is not UTF-8.
    #[error("bad percent-encoding in `{0}`")]
    BadEncoding(&'static str),
    /// An `urn:btih:` or `urn:btmh:` value of the wrong form.
    #[error("bad info-hash in `xt`: {0}")]
    BadHash(&'static str),
    /// Two different hashes of the same kind.
    #[error("two different `xt` hashes of one kind")]
    ConflictingHashes,
    /// No BitTorrent `xt` at all.
    #[error("no `xt=urn:btih:` or `xt=urn:btmh:`")]
    NoHash,
    /// `xl` is not a decimal size.
    #[error("`xl` is not a size in bytes")]
    BadSize,
}

impl Magnet {
    /// Parses a magnet link. Keys may carry a `.N` suffix (`xt.1`); unknown keys are
    /// ignored; `+` in `dn` reads as a space.
    pub fn parse(s: &str) -> Result<Magnet, MagnetError> {
        if s.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong);
        }
        let query = s
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .map(|_| &s[8..])
            .ok_or(MagnetError::NotMagnet)?;
        let mut m = Magnet::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = key.split_once('.').map_or(key, |(k, _)| k);
            match key {
                "xt" => {
                    let v = decode(value, false).ok_or(MagnetError::BadEncoding("xt"))?;
                    m.add_xt(&String::from_utf8_lossy(&v))?;
                }
                "dn" => {
                    let v = decode(value, true).ok_or(MagnetError::BadEncoding("dn"))?;
                    m.name = Some(path::display(&v));
                }
                "tr" => {
                    let v = decode(value, false)
                        .and_then(|v| String::from_utf8(v).ok())
                        .ok_or(MagnetError::BadEncoding("tr"))?;
                    if !m.trackers.contains(&v) {
                        m.trackers.push(v);
                    }
                }
                "xl" => m.size = Some(value.parse().map_err(|_| MagnetError::BadSize)?),
                _ => {}
            }
        }
        if m.info_hashes == InfoHashes::default() {
            return Err(MagnetError::NoHash);
        }
        Ok(m)
    }

    fn add_xt(&mut self, xt: &str) -> Result<(), MagnetError> {
        let lower = xt.to_ascii_lowercase();
        if let Some(h) = lower.strip_prefix("urn:btih:") {
            let hash = match h.len() {
                40 => from_hex::<20>(h).ok_or(MagnetError::BadHash("btih is not hex"))?,
                32 => base32(h).ok_or(MagnetError::BadHash("btih is not base32"))?,
                _ => return Err(MagnetError::BadHash("btih is not 40 hex or 32 base32")),
            };
            set_once(&mut self.info_hashes.v1, hash)
        } else if let Some(h) = lower.strip_prefix("urn:btmh:") {
            // A multihash: 0x12 (SHA2-256), 0x20 (32 bytes), then the digest.
            let digest = h
                .strip_prefix("1220")
                .ok_or(MagnetError::BadHash("btmh is not a SHA2-256 multihash"))?;
            let hash = from_hex::<32>(digest).ok_or(MagnetError::BadHash("btmh is not 64 hex"))?;
            set_once(&mut self.info_hashes.v2, hash)
        } else {
            Ok(()) // Another network's urn (ed2k, sha1 of a file): not ours.
        }
    }

    /// The magnet link of a torrent: its hashes, name, trackers and size.
    pub fn from_torrent(t: &Torrent) -> Magnet {
        Magnet {
            info_hashes: t.hashes(),
            name: Some(t.info.name.clone()),
            trackers: t.trackers().into_iter().map(str::to_owned).collect(),
            size: Some(t.info.total_size()),
        }
    }
}

fn set_once<const N: usize>(slot: &mut Option<[u8; N]>, hash: [u8; N]) -> Result<(), MagnetError> {
    match slot {
        Some(h) if *h != hash => Err(MagnetError::ConflictingHashes),
        _ => {
            *slot = Some(hash);
            Ok(())
        }
    }
}

/// Writes `magnet:?xt=…` with every value percent-encoded (RFC 3986 unreserved
/// characters left as they are).
impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?")?;
        let mut sep = "";
        if let Some(h) = self.info_hashes.v1 {
            write!(f, "xt=urn:btih:{}", to_hex(&h))?;
            sep = "&";
        }
        if let Some(h) = self.info_hashes.v2 {
            write!(f, "{sep}xt=urn:btmh:1220{}", to_hex(&h))?;
        }
        if let Some(n) = &self.name {
            write!(f, "&dn={}", Encoded(n))?;
        }
        if let Some(n) = self.size {
            write!(f, "&xl={n}")?;
        }
        for t in &self.trackers {
            write!(f, "&tr={}", Encoded(t))?;
        }
        Ok(())
    }
}

struct Encoded<'a>(&'a str);

impl fmt::Display for Encoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

/// Percent-decodes `s`; `plus_is_space` for form-style names.
fn decode(s: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// RFC 4648 base32 (either case, no padding) of exactly 20 bytes.
fn base32(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let (mut acc, mut bits, mut n) = (0u64, 0u32, 0usize);
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            acc &= (1 << bits) - 1;
            n += 1;
        }
    }
    (n == 20).then_some(out)
}

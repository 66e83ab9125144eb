//! `.torrent` files: the info dictionary as its exact bytes, plus what surrounds it.

use shoal_bencode::{decode_prefix, DecodeError, DecodeErrorKind, Encoder, Value};

use crate::info::{check_piece_layers, Info};
use crate::{invalid, path, InfoHashes, Limits, MetainfoError};

/// A `.torrent` file. Parse one with [`Torrent::parse`], or wrap a bare info
/// dictionary with [`Torrent::from_info_bytes`] and fill in the trackers; write it
/// with [`Torrent::write`]. Keys other than those below are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    /// `announce`: the tracker, for clients without BEP 12.
    pub announce: Option<String>,
    /// BEP 12 `announce-list`: tiers of trackers, tried tier by tier.
    pub announce_list: Vec<Vec<String>>,
    /// BEP 19 `url-list`: web seeds (a single string in the file becomes one entry).
    pub url_list: Vec<String>,
    /// `comment` (lossy UTF-8; may hold newlines).
    pub comment: Option<String>,
    /// `created by`: the program that made it.
    pub created_by: Option<String>,
    /// `creation date`: seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// BEP 52 `piece layers` as the bencoded bytes of the dictionary (v2 and hybrid
    /// files; a torrent rebuilt from fetched metadata has none, and clients fetch
    /// them from peers). Checked against the files' roots when parsed.
    pub piece_layers: Option<Vec<u8>>,
    /// The info dictionary exactly as it was in the file: what the hashes are over.
    pub info_bytes: Vec<u8>,
    /// The parsed info dictionary.
    pub info: Info,
}

impl Torrent {
    /// Parses a `.torrent` file.
    ///
    /// Errors: as [`Info::parse`] for the info dictionary, plus a top level that is
    /// not one dictionary, mistyped tracker or date keys, and piece layers that do not
    /// match the files.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Torrent, MetainfoError> {
        let entries = top_level(bytes)?;
        let get = |key: &[u8]| entries.iter().find(|(k, _, _)| *k == key);
        let (_, info_value, info_raw) = get(b"info").ok_or(MetainfoError::Missing("info"))?;
        if info_raw.len() > limits.max_info_bytes {
            return Err(MetainfoError::Limit {
                what: "info dictionary bytes",
                limit: limits.max_info_bytes as u64,
            });
        }
        let info = Info::from_value(info_value, limits)?;
        let text = |key: &'static str| -> Result<Option<&[u8]>, MetainfoError> {
            match get(key.as_bytes()) {
                None => Ok(None),
                Some((_, v, _)) => v.as_bytes().map(Some).ok_or(MetainfoError::WrongType(key)),
            }
        };
        let announce_list = match get(b"announce-list") {
            None => Vec::new(),
            Some((_, v, _)) => v
                .as_list()
                .ok_or(MetainfoError::WrongType("announce-list"))?
                .iter()
                .map(|tier| strings(tier, "announce-list"))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let url_list = match get(b"url-list") {
            None => Vec::new(),
            Some((_, Value::Bytes(b""), _)) => Vec::new(),
            Some((_, Value::Bytes(b), _)) => vec![path::display(b)],
            Some((_, v, _)) => strings(v, "url-list")?,
        };
        let creation_date = match get(b"creation date") {
            None => None,
            Some((_, v, _)) => Some(
                v.as_int()
                    .ok_or(MetainfoError::WrongType("creation date"))?,
            ),
        };
        let piece_layers = match get(b"piece layers") {
            Some((_, v, raw)) if info.version().has_v2() => {
                check_piece_layers(&info, v)?;
                Some(raw.to_vec())
            }
            _ => None,
        };
        Ok(Torrent {
            announce: text("announce")?.map(path::display),
            announce_list,
            url_list,
            comment: text("comment")?.map(|c| String::from_utf8_lossy(c).into_owned()),
            created_by: text("created by")?.map(path::display),
            creation_date,
            piece_layers,
            info_bytes: info_raw.to_vec(),
            info,
        })
    }

    /// A torrent of the info dictionary `info_bytes` (fetched metadata, a stored
    /// entry) with no trackers or other keys yet.
    pub fn from_info_bytes(info_bytes: Vec<u8>, limits: &Limits) -> Result<Torrent, MetainfoError> {
        let info = Info::parse(&info_bytes, limits)?;
        Ok(Torrent {
            announce: None,
            announce_list: Vec::new(),
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            piece_layers: None,
            info_bytes,
            info,
        })
    }

    /// The info-hashes, over [`Torrent::info_bytes`].
    pub fn hashes(&self) -> InfoHashes {
        InfoHashes::compute(&self.info_bytes, self.info.version())
    }

    /// Every tracker once, in order: the announce-list tiers, else `announce`.
    pub fn trackers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self.announce_list.iter().flatten().chain(&self.announce);
        for t in all {
            if !out.contains(&t.as_str()) {
                out.push(t);
            }
        }
        out
    }

    /// The `.torrent` file: canonical bencode with the info dictionary copied as its
    /// exact bytes, so its info-hashes are unchanged. Empty lists and absent values
    /// are left out.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.info_bytes.len() + 256);
        out.push(b'd');
        // Keys in sorted order; each entry gets its own encoder so the raw info
        // dictionary and piece layers can be copied in between.
        if let Some(a) = &self.announce {
            Encoder::new(&mut out).key_bytes(b"announce", a.as_bytes());
        }
        if !self.announce_list.is_empty() {
            let mut enc = Encoder::new(&mut out);
            enc.bytes(b"announce-list");
            enc.begin_list();
            for tier in &self.announce_list {
                enc.begin_list();
                for t in tier {
                    enc.bytes(t.as_bytes());
                }
                enc.end();
            }
            enc.end();
        }
        if let Some(c) = &self.comment {
            Encoder::new(&mut out).key_bytes(b"comment", c.as_bytes());
        }
        if let Some(c) = &self.created_by {
            Encoder::new(&mut out).key_bytes(b"created by", c.as_bytes());
        }
        if let Some(d) = self.creation_date {
            Encoder::new(&mut out).key_int(b"creation date", d);
        }
        Encoder::new(&mut out).bytes(b"info");
        out.extend_from_slice(&self.info_bytes);
        if let Some(layers) = &self.piece_layers {
            Encoder::new(&mut out).bytes(b"piece layers");
            out.extend_from_slice(layers);
        }
        match self.url_list.as_slice() {
            [] => {}
            // One web seed is written as a string, as libtorrent does (an empty string
            // would read back as no web seed, so that one stays in a list).
            [one] if !one.is_empty() => {
                Encoder::new(&mut out).key_bytes(b"url-list", one.as_bytes())
            }
            many => {
                let mut enc = Encoder::new(&mut out);
                enc.bytes(b"url-list");
                enc.begin_list();
                for u in many {
                    enc.bytes(u.as_bytes());
                }
                enc.end();
            }
        }
        out.push(b'e');
        out
    }
}

/// A list of strings (lossy, cleaned for display).
fn strings(v: &Value<'_>, field: &'static str) -> Result<Vec<String>, MetainfoError> {
    v.as_list()
        .ok_or(MetainfoError::WrongType(field))?
        .iter()
        .map(|s| {
            s.as_bytes()
                .map(path::display)
                .ok_or(MetainfoError::WrongType(field))
        })
        .collect()
}

/// One top-level entry: key, value, and the value's exact bytes.
type Entry<'a> = (&'a [u8], Value<'a>, &'a [u8]);

/// The top-level dictionary's entries with each value's byte span, so the info
/// dictionary is hashed as it was written, never re-encoded.
fn top_level(bytes: &[u8]) -> Result<Vec<Entry<'_>>, MetainfoError> {
    let at = |offset: usize, kind| MetainfoError::Bencode(DecodeError { offset, kind });
    if bytes.first() != Some(&b'd') {
        return Err(if bytes.is_empty() {
            at(0, DecodeErrorKind::UnexpectedEnd)
        } else {
            invalid("torrent", "not a dictionary")
        });
    }
    let mut pos = 1;
    let mut entries = Vec::new();
    loop {
        let next =
            |pos: usize| decode_prefix(&bytes[pos..]).map_err(|e| at(pos + e.offset, e.kind));
        match bytes.get(pos) {
            None => return Err(at(pos, DecodeErrorKind::UnexpectedEnd)),
            Some(b'e') => break,
            Some(b'0'..=b'9') => {}
            Some(_) => return Err(at(pos, DecodeErrorKind::NonStringKey)),
        }
        let (key, used) = next(pos)?;
        pos += used;
        let (value, used) = next(pos)?;
        let raw = &bytes[pos..pos + used];
        pos += used;
        let Value::Bytes(key) = key else {
            return Err(at(pos, DecodeErrorKind::NonStringKey));
        };
        entries.push((key, value, raw));
    }
    if pos + 1 != bytes.len() {
        return Err(at(pos + 1, DecodeErrorKind::TrailingBytes));
    }
    Ok(entries)
}

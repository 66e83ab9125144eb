//! Bencode (BEP 3) without I/O.
//!
//! [`decode`] parses a complete bencoded value from a byte slice into a [`Value`] that
//! borrows its byte strings from the input (no copies), and rejects anything BEP 3 does
//! not allow: leading zeros, `-0`, unterminated containers, trailing bytes. Nesting depth
//! is capped ([`MAX_DEPTH`]) so hostile input cannot exhaust the stack.
//!
//! [`Value::encode`] writes canonical bencode: dictionary keys sorted as raw byte strings,
//! nothing after the closing `e`. For hot paths that build a response field by field,
//! [`Encoder`] writes straight into a caller-owned `Vec<u8>`.
//!
//! What it does not do: no I/O and no streaming (the whole value must be in memory; use
//! [`decode_prefix`] to find where one value ends), no serde mapping onto structs (walk
//! the [`Value`] with [`Value::get`] and the `as_*` accessors), and no repair of
//! non-canonical input. Dictionaries are kept in input order with duplicates; decoding
//! does not require sorted keys, so a caller that must hash exact bytes (an info-hash)
//! hashes the input slice, never a re-encoding.
//!
//! ```
//! use shoal_bencode::{decode, Encoder, Value};
//!
//! // A tracker's announce response: an interval and no peers.
//! let v = decode(b"d8:intervali1800e5:peers0:e")?;
//! assert_eq!(v.get(b"interval").and_then(Value::as_int), Some(1800));
//! assert_eq!(v.get(b"peers").and_then(Value::as_bytes), Some(&b""[..]));
//!
//! // The same bytes written token by token, keys in sorted order.
//! let mut out = Vec::new();
//! let mut enc = Encoder::new(&mut out);
//! enc.begin_dict();
//! enc.key_int(b"interval", 1800);
//! enc.key_bytes(b"peers", b"");
//! enc.end();
//! assert_eq!(out, v.encode());
//! # Ok::<(), shoal_bencode::DecodeError>(())
//! ```
#![deny(missing_docs)]

use std::fmt;

/// Deepest nesting of lists and dictionaries [`decode`] accepts.
pub const MAX_DEPTH: usize = 64;

/// A decoded bencode value borrowing its byte strings from the input.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer, `i<digits>e` on the wire (signed 64-bit; larger ones are rejected).
    Int(i64),
    /// A byte string, `<len>:<bytes>` on the wire: any bytes, not necessarily UTF-8.
    Bytes(&'a [u8]),
    /// A list, `l<values>e` on the wire.
    List(Vec<Value<'a>>),
    /// A dictionary, `d<key><value>...e` on the wire, as `(key, value)` pairs in input
    /// order (canonical input is sorted by key; duplicates are kept as given).
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

/// Why a byte slice is not valid bencode. `offset` is where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bencode at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset into the input where decoding stopped (for
    /// [`DecodeErrorKind::TrailingBytes`], where the value ended).
    pub offset: usize,
    /// What was wrong at that offset.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// Input ended inside a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected byte")]
    UnexpectedByte,
    /// An integer with leading zeros, `-0`, no digits, or out of `i64` range.
    #[error("malformed integer")]
    BadInteger,
    /// A string length with leading zeros or longer than the input.
    #[error("malformed string length")]
    BadLength,
    /// A dictionary key that is not a byte string.
    #[error("dictionary key is not a string")]
    NonStringKey,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nested too deeply")]
    TooDeep,
    /// Bytes left over after the top-level value.
    #[error("trailing bytes after value")]
    TrailingBytes,
}

/// Decodes exactly one value that spans the whole input.
///
/// The value borrows byte strings from `input`. Errors: any [`DecodeErrorKind`], with
/// [`DecodeErrorKind::TrailingBytes`] when the value ends before the input does.
///
/// ```
/// use shoal_bencode::{decode, DecodeErrorKind, Value};
///
/// let v = decode(b"l4:spami-3ee")?;
/// assert_eq!(v, Value::List(vec![Value::Bytes(b"spam"), Value::Int(-3)]));
/// assert_eq!(decode(b"i03e").unwrap_err().kind, DecodeErrorKind::BadInteger);
/// assert_eq!(decode(b"i1ei2e").unwrap_err().offset, 3);
/// # Ok::<(), shoal_bencode::DecodeError>(())
/// ```
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(DecodeError {
            offset: used,
            kind: DecodeErrorKind::TrailingBytes,
        });
    }
    Ok(value)
}

/// Decodes one value from the start of `input`, returning it and the number of bytes it
/// used; bytes after the value are left alone (for framed input such as a BEP 9 metadata
/// message, where the piece follows the dictionary). Errors as [`decode`], never
/// [`DecodeErrorKind::TrailingBytes`].
///
/// ```
/// let (v, used) = shoal_bencode::decode_prefix(b"d5:piecei0eeRAW")?;
/// assert_eq!(v.get(b"piece").and_then(|p| p.as_int()), Some(0));
/// assert_eq!(&b"d5:piecei0eeRAW"[used..], b"RAW");
/// # Ok::<(), shoal_bencode::DecodeError>(())
/// ```
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    Ok((value, parser.pos))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, kind: DecodeErrorKind) -> Result<T, DecodeError> {
        Err(DecodeError {
            offset: self.pos,
            kind,
        })
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        match self.input.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.err(DecodeErrorKind::UnexpectedEnd),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                if depth >= MAX_DEPTH {
                    return self.err(DecodeErrorKind::TooDeep);
                }
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                if depth >= MAX_DEPTH {
                    return self.err(DecodeErrorKind::TooDeep);
                }
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    match self.peek()? {
                        b'e' => break,
                        b'0'..=b'9' => {}
                        _ => return self.err(DecodeErrorKind::NonStringKey),
                    }
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                self.pos += 1;
                Ok(Value::Dict(entries))
            }
            _ => self.err(DecodeErrorKind::UnexpectedByte),
        }
    }

    /// Parses a decimal integer terminated by `end`, consuming the terminator.
    fn integer(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.input[start..];
        let Some(len) = rest.iter().position(|&b| b == end) else {
            self.pos = self.input.len();
            return self.err(DecodeErrorKind::UnexpectedEnd);
        };
        let text = &rest[..len];
        let (negative, digits) = match text.split_first() {
            Some((b'-', digits)) => (true, digits),
            _ => (false, text),
        };
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && !(negative && digits == b"0");
        if !canonical {
            return self.err(DecodeErrorKind::BadInteger);
        }
        // Accumulate negatively so i64::MIN parses without overflow.
        let mut n: i64 = 0;
        for &d in digits {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_sub(i64::from(d - b'0')))
            {
                Some(n) => n,
                None => return self.err(DecodeErrorKind::BadInteger),
            };
        }
        let n = if negative {
            n
        } else {
            match n.checked_neg() {
                Some(n) => n,
                None => return self.err(DecodeErrorKind::BadInteger),
            }
        };
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = match self.integer(b':') {
            Ok(n) if n >= 0 => n as u64,
            Ok(_)
            | Err(DecodeError {
                kind: DecodeErrorKind::BadInteger,
                ..
            }) => {
                self.pos = start;
                return self.err(DecodeErrorKind::BadLength);
            }
            Err(e) => return Err(e),
        };
        let available = (self.input.len() - self.pos) as u64;
        if len > available {
            return self.err(DecodeErrorKind::BadLength);
        }
        let s = &self.input[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }
}

impl<'a> Value<'a> {
    /// Looks up `key` in a dictionary; `None` for other kinds or a missing key.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The integer, if this is an [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The byte string, if this is a [`Value::Bytes`] (borrowed from the input).
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is a byte string and valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The dictionary entries in input order, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&[(&'a [u8], Value<'a>)]> {
        match self {
            Value::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// Canonical encoding: dictionary keys sorted bytewise (duplicates keep the first).
    ///
    /// ```
    /// use shoal_bencode::Value;
    ///
    /// let v = Value::Dict(vec![(b"b", Value::Int(2)), (b"a", Value::Bytes(b"x"))]);
    /// assert_eq!(v.encode(), b"d1:a1:x1:bi2ee");
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut enc = Encoder::new(out);
        self.write(&mut enc);
    }

    fn write(&self, enc: &mut Encoder<'_>) {
        match self {
            Value::Int(n) => enc.int(*n),
            Value::Bytes(b) => enc.bytes(b),
            Value::List(items) => {
                enc.begin_list();
                for item in items {
                    item.write(enc);
                }
                enc.end();
            }
            Value::Dict(entries) => {
                let mut sorted: Vec<&(&[u8], Value<'_>)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                sorted.dedup_by(|a, b| a.0 == b.0);
                enc.begin_dict();
                for (k, v) in sorted {
                    enc.bytes(k);
                    v.write(enc);
                }
                enc.end();
            }
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "<{} bytes>", b.len()),
            },
            Value::List(items) => f.debug_list().entries(items).finish(),
            Value::Dict(entries) => f
                .debug_map()
                .entries(entries.iter().map(|(k, v)| (Value::Bytes(k), v)))
                .finish(),
        }
    }
}

/// Writes bencode token by token into a caller-owned buffer.
///
/// The caller writes dictionary keys in sorted order and closes every list and
/// dictionary it opens; debug builds panic on keys out of order or a non-string key.
/// Nothing is allocated beyond what `out` grows by.
///
/// ```
/// use shoal_bencode::Encoder;
///
/// let mut out = Vec::new();
/// let mut enc = Encoder::new(&mut out);
/// enc.begin_dict();
/// enc.key_int(b"complete", 3);
/// enc.bytes(b"files");
/// enc.begin_list();
/// enc.int(7);
/// enc.end();
/// enc.end();
/// assert_eq!(out, b"d8:completei3e5:filesli7eee");
/// ```
pub struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    #[cfg(debug_assertions)]
    frames: Vec<Frame>,
}

#[cfg(debug_assertions)]
enum Frame {
    List,
    Dict {
        expect_key: bool,
        last: Option<Vec<u8>>,
    },
}

impl<'o> Encoder<'o> {
    /// An encoder appending to `out` (what `out` already holds is kept).
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Encoder {
            out,
            #[cfg(debug_assertions)]
            frames: Vec::new(),
        }
    }

    #[cfg(debug_assertions)]
    fn track(&mut self, key: Option<&[u8]>) {
        if let Some(Frame::Dict { expect_key, last }) = self.frames.last_mut() {
            if *expect_key {
                let key = key.expect("bencode dictionary key must be a byte string");
                if let Some(prev) = last {
                    assert!(
                        prev.as_slice() < key,
                        "bencode dictionary keys out of order"
                    );
                }
                *last = Some(key.to_vec());
            }
            *expect_key = !*expect_key;
        }
    }

    #[cfg(not(debug_assertions))]
    #[inline]
    fn track(&mut self, _key: Option<&[u8]>) {}

    /// Writes the integer `n` as `i<n>e`.
    pub fn int(&mut self, n: i64) {
        self.track(None);
        self.out.push(b'i');
        push_decimal(self.out, n);
        self.out.push(b'e');
    }

    /// Writes the byte string `b` as `<len>:<bytes>` (also how a dictionary key is
    /// written).
    pub fn bytes(&mut self, b: &[u8]) {
        self.track(Some(b));
        push_decimal(self.out, b.len() as i64);
        self.out.push(b':');
        self.out.extend_from_slice(b);
    }

    /// A byte string given in pieces whose lengths add up to `total` (for example
    /// compact peers copied straight from storage).
    ///
    /// # Panics
    /// When the chunks do not add up to exactly `total` bytes.
    pub fn bytes_from_chunks<'c>(
        &mut self,
        chunks: impl IntoIterator<Item = &'c [u8]>,
        total: usize,
    ) {
        self.track(None);
        push_decimal(self.out, total as i64);
        self.out.push(b':');
        let start = self.out.len();
        for c in chunks {
            self.out.extend_from_slice(c);
        }
        assert_eq!(
            self.out.len() - start,
            total,
            "bencode string length mismatch"
        );
    }

    /// A dictionary key followed by an integer value.
    pub fn key_int(&mut self, key: &[u8], n: i64) {
        self.bytes(key);
        self.int(n);
    }

    /// A dictionary key followed by a byte-string value.
    pub fn key_bytes(&mut self, key: &[u8], value: &[u8]) {
        self.bytes(key);
        self.bytes(value);
    }

    /// Opens a list; close it with [`Encoder::end`].
    pub fn begin_list(&mut self) {
        self.track(None);
        self.out.push(b'l');
        #[cfg(debug_assertions)]
        self.frames.push(Frame::List);
    }

    /// Opens a dictionary; close it with [`Encoder::end`].
    pub fn begin_dict(&mut self) {
        self.track(None);
        self.out.push(b'd');
        #[cfg(debug_assertions)]
        self.frames.push(Frame::Dict {
            expect_key: true,
            last: None,
        });
    }

    /// Closes the innermost list or dictionary.
    pub fn end(&mut self) {
        self.out.push(b'e');
        #[cfg(debug_assertions)]
        self.frames.pop();
    }
}

/// Appends `n` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests;

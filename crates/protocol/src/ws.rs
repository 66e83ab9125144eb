//! The WebTorrent tracker protocol: JSON text frames over a WebSocket.
//!
//! Clients send `announce` (optionally carrying WebRTC `offers`, or an `answer` to an
//! offer relayed to them) and `scrape`. Binary values (info-hashes, peer ids, offer
//! ids) travel as JSON strings whose characters are the bytes themselves (U+0000 to
//! U+00FF, "latin-1" or "binary" strings in JavaScript terms).
//!
//! [`parse`] reads a client frame without copying the offer and answer SDP blobs: they
//! stay borrowed, as raw JSON, and the writers copy them verbatim into the relayed
//! message. The writers produce the server's frames.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::common::{AnnounceEvent, InfoHash, PeerId};

/// An offer or answer's session description, as the client sent it (a JSON object).
pub type Sdp<'a> = &'a str;

/// A message from a WebTorrent client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage<'a> {
    /// An announce, possibly with offers to relay.
    Announce(WsAnnounce<'a>),
    /// An answer to an offer the client was sent.
    Answer(WsAnswer<'a>),
    /// A scrape.
    Scrape(WsScrape),
}

/// `{"action":"announce", …}` without an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WsAnnounce<'a> {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// What happened (`started`, `completed`, `stopped`, or none).
    pub event: AnnounceEvent,
    /// Peers the client wants offers sent to (`None`: not said).
    pub numwant: Option<u32>,
    /// Bytes left: `Some(0)` is a seeder; `None` (absent, `null`, infinite) is unknown.
    pub left: Option<u64>,
    /// Bytes uploaded, as reported.
    pub uploaded: u64,
    /// Bytes downloaded, as reported.
    pub downloaded: u64,
    /// The offers, in order (at most the caller's limit are parsed).
    pub offers: Vec<WsOffer<'a>>,
    /// Offers beyond the limit, dropped unparsed.
    pub offers_dropped: usize,
}

/// One WebRTC offer in an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsOffer<'a> {
    /// The offer's id, chosen by the client.
    pub offer_id: [u8; 20],
    /// The offer's session description (raw JSON object).
    pub offer: Sdp<'a>,
}

/// `{"action":"announce", "answer": …, "to_peer_id": …, "offer_id": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsAnswer<'a> {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The answering peer.
    pub peer_id: PeerId,
    /// The peer whose offer this answers.
    pub to_peer_id: PeerId,
    /// The answered offer's id.
    pub offer_id: [u8; 20],
    /// The answer's session description (raw JSON object).
    pub answer: Sdp<'a>,
}

/// `{"action":"scrape", "info_hash": … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsScrape {
    /// No info-hash: every torrent (if the tracker allows it).
    All,
    /// These torrents (at most the caller's limit; duplicates kept).
    Hashes(Vec<InfoHash>),
}

/// Which request a failure answers, so clients can route it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `announce`
    Announce,
    /// `scrape`
    Scrape,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Announce => "announce",
            Action::Scrape => "scrape",
        }
    }
}

/// Why a client frame was refused; enough to answer with a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// A short reason for the client.
    pub reason: &'static str,
    /// The request's action, when it was readable.
    pub action: Option<Action>,
    /// The request's info-hash, when it was readable.
    pub info_hash: Option<InfoHash>,
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most offers kept from one announce; the rest are counted in
    /// [`WsAnnounce::offers_dropped`].
    pub max_offers: usize,
    /// Most info-hashes kept from one scrape.
    pub max_scrape_hashes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_offers: 10,
            max_scrape_hashes: 100,
        }
    }
}

/// Binary values as JavaScript sends them: a string of characters U+0000..=U+00FF.
fn latin1_into(s: &str, out: &mut [u8]) -> bool {
    let mut n = 0;
    for c in s.chars() {
        let c = c as u32;
        if c > 0xFF || n == out.len() {
            return false;
        }
        out[n] = c as u8;
        n += 1;
    }
    n == out.len()
}

/// Decodes a binary string (each character one byte, U+0000..=U+00FF).
pub fn latin1_decode(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

fn twenty(s: &str) -> Option<[u8; 20]> {
    let mut b = [0u8; 20];
    latin1_into(s, &mut b).then_some(b)
}

/// A number as JavaScript sends it; `null` (for example `Infinity` through
/// `JSON.stringify`) and anything not a finite non-negative number read as `None`.
fn number(v: Option<&RawValue>) -> Option<u64> {
    let v = v?;
    let n: f64 = serde_json::from_str(v.get()).ok()?;
    (n.is_finite() && n >= 0.0).then(|| n.min(u64::MAX as f64) as u64)
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    action: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    info_hash: Option<&'a RawValue>,
    #[serde(borrow)]
    peer_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    numwant: Option<&'a RawValue>,
    #[serde(borrow)]
    left: Option<&'a RawValue>,
    #[serde(borrow)]
    uploaded: Option<&'a RawValue>,
    #[serde(borrow)]
    downloaded: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    offers: Option<&'a RawValue>,
    #[serde(borrow)]
    answer: Option<&'a RawValue>,
    #[serde(borrow)]
    to_peer_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    offer_id: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawOffer<'a> {
    #[serde(borrow)]
    offer: &'a RawValue,
    #[serde(borrow)]
    offer_id: std::borrow::Cow<'a, str>,
}

fn is_object(v: &RawValue) -> bool {
    v.get().starts_with('{')
}

/// Reads one client frame (the text of one WebSocket message), keeping at most
/// `limits` offers and scrape hashes.
///
/// Errors: a [`ParseError`] with a reason to send back, and the action and info-hash
/// when they could be read, so the failure frame can name them.
///
/// ```
/// use shoal_protocol::ws::{parse, ClientMessage, ParseLimits};
///
/// // Binary values are strings of U+0000..=U+00FF characters, one per byte.
/// let frame = r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa",
///     "peer_id":"-WW0001-000000000000","numwant":1,"left":0,"uploaded":0,
///     "downloaded":0,"event":"started",
///     "offers":[{"offer_id":"oooooooooooooooooooo","offer":{"type":"offer","sdp":"v=0"}}]}"#;
/// let Ok(ClientMessage::Announce(a)) = parse(frame, ParseLimits::default()) else { panic!() };
/// assert_eq!(a.info_hash.0, [b'a'; 20]);
/// assert_eq!(a.left, Some(0));
/// assert_eq!(a.offers[0].offer, r#"{"type":"offer","sdp":"v=0"}"#);
///
/// let err = parse(r#"{"action":"announce"}"#, ParseLimits::default()).unwrap_err();
/// assert!(!err.reason.is_empty());
/// ```
pub fn parse<'a>(text: &'a str, limits: ParseLimits) -> Result<ClientMessage<'a>, ParseError> {
    let raw: RawMessage<'a> = serde_json::from_str(text).map_err(|_| ParseError {
        reason: "invalid JSON message",
        action: None,
        info_hash: None,
    })?;
    let action = match raw.action.as_deref() {
        Some("announce") => Action::Announce,
        Some("scrape") => Action::Scrape,
        _ => {
            return Err(ParseError {
                reason: "unknown action",
                action: None,
                info_hash: None,
            })
        }
    };
    let err = |reason, info_hash| ParseError {
        reason,
        action: Some(action),
        info_hash,
    };
    if action == Action::Scrape {
        let hashes = match raw.info_hash {
            None => return Ok(ClientMessage::Scrape(WsScrape::All)),
            Some(v) if v.get() == "null" => return Ok(ClientMessage::Scrape(WsScrape::All)),
            Some(v) => v,
        };
        let one = |s: &str| {
            twenty(s)
                .map(InfoHash)
                .ok_or(err("invalid info_hash", None))
        };
        let list = if hashes.get().starts_with('[') {
            let all: Vec<std::borrow::Cow<'_, str>> =
                serde_json::from_str(hashes.get()).map_err(|_| err("invalid info_hash", None))?;
            all.iter()
                .take(limits.max_scrape_hashes)
                .map(|s| one(s))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let s: std::borrow::Cow<'_, str> =
                serde_json::from_str(hashes.get()).map_err(|_| err("invalid info_hash", None))?;
            vec![one(&s)?]
        };
        return Ok(ClientMessage::Scrape(WsScrape::Hashes(list)));
    }
    let info_hash = raw
        .info_hash
        .and_then(|v| serde_json::from_str::<std::borrow::Cow<'_, str>>(v.get()).ok())
        .and_then(|s| twenty(&s))
        .map(InfoHash)
        .ok_or(err("invalid info_hash", None))?;
    let peer_id = raw
        .peer_id
        .as_deref()
        .and_then(twenty)
        .map(PeerId)
        .ok_or(err("invalid peer_id", Some(info_hash)))?;
    if let Some(answer) = raw.answer {
        let to_peer_id = raw
            .to_peer_id
            .as_deref()
            .and_then(twenty)
            .map(PeerId)
            .ok_or(err("invalid to_peer_id", Some(info_hash)))?;
        let offer_id = raw
            .offer_id
            .as_deref()
            .and_then(twenty)
            .ok_or(err("invalid offer_id", Some(info_hash)))?;
        if !is_object(answer) {
            return Err(err("invalid answer", Some(info_hash)));
        }
        return Ok(ClientMessage::Answer(WsAnswer {
            info_hash,
            peer_id,
            to_peer_id,
            offer_id,
            answer: answer.get(),
        }));
    }
    let event = match raw.event.as_deref() {
        None | Some("") | Some("update") => AnnounceEvent::None,
        Some("started") => AnnounceEvent::Started,
        Some("completed") => AnnounceEvent::Completed,
        Some("stopped") => AnnounceEvent::Stopped,
        Some(_) => return Err(err("invalid event", Some(info_hash))),
    };
    let mut offers = Vec::new();
    let mut offers_dropped = 0;
    if let Some(list) = raw.offers.filter(|v| v.get() != "null") {
        let list: Vec<&RawValue> =
            serde_json::from_str(list.get()).map_err(|_| err("invalid offers", Some(info_hash)))?;
        offers_dropped = list.len().saturating_sub(limits.max_offers);
        offers.reserve(list.len().min(limits.max_offers));
        for item in list.into_iter().take(limits.max_offers) {
            let o: RawOffer<'_> = serde_json::from_str(item.get())
                .map_err(|_| err("invalid offer", Some(info_hash)))?;
            let offer_id = twenty(&o.offer_id).ok_or(err("invalid offer_id", Some(info_hash)))?;
            if !is_object(o.offer) {
                return Err(err("invalid offer", Some(info_hash)));
            }
            offers.push(WsOffer {
                offer_id,
                offer: o.offer.get(),
            });
        }
    }
    Ok(ClientMessage::Announce(WsAnnounce {
        info_hash,
        peer_id,
        event,
        numwant: number(raw.numwant).map(|n| n.min(u64::from(u32::MAX)) as u32),
        left: number(raw.left),
        uploaded: number(raw.uploaded).unwrap_or(0),
        downloaded: number(raw.downloaded).unwrap_or(0),
        offers,
        offers_dropped,
    }))
}

/// Appends `bytes` as a JSON string of one character per byte (what JavaScript's
/// binary strings look like once `JSON.stringify`d).
pub fn write_latin1(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0..=0x1f => {
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
            _ => out.push(char::from(b)),
        }
    }
    out.push('"');
}

fn push_num(out: &mut String, n: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{n}");
}

/// `{"action":"announce","info_hash":…,"complete":…,"incomplete":…,"interval":…}`.
pub fn write_announce_response(
    out: &mut String,
    info_hash: &InfoHash,
    complete: u32,
    incomplete: u32,
    interval: u32,
) {
    out.push_str("{\"action\":\"announce\",\"info_hash\":");
    write_latin1(out, &info_hash.0);
    out.push_str(",\"complete\":");
    push_num(out, complete.into());
    out.push_str(",\"incomplete\":");
    push_num(out, incomplete.into());
    out.push_str(",\"interval\":");
    push_num(out, interval.into());
    out.push('}');
}

/// A relayed offer: `{"action":"announce","info_hash":…,"peer_id":<offerer>,
/// "offer_id":…,"offer":{…}}`.
pub fn write_offer(
    out: &mut String,
    info_hash: &InfoHash,
    from: &PeerId,
    offer_id: &[u8; 20],
    offer: Sdp<'_>,
) {
    write_signal(out, info_hash, from, offer_id, "offer", offer);
}

/// A relayed answer: `{"action":"announce","info_hash":…,"peer_id":<answerer>,
/// "offer_id":…,"answer":{…}}`.
pub fn write_answer(
    out: &mut String,
    info_hash: &InfoHash,
    from: &PeerId,
    offer_id: &[u8; 20],
    answer: Sdp<'_>,
) {
    write_signal(out, info_hash, from, offer_id, "answer", answer);
}

fn write_signal(
    out: &mut String,
    info_hash: &InfoHash,
    from: &PeerId,
    offer_id: &[u8; 20],
    key: &str,
    sdp: Sdp<'_>,
) {
    out.reserve(sdp.len() + 128);
    out.push_str("{\"action\":\"announce\",\"info_hash\":");
    write_latin1(out, &info_hash.0);
    out.push_str(",\"peer_id\":");
    write_latin1(out, &from.0);
    out.push_str(",\"offer_id\":");
    write_latin1(out, offer_id);
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    out.push_str(sdp);
    out.push('}');
}

/// One torrent in a scrape answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeEntry {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u32,
    /// Leechers.
    pub incomplete: u32,
    /// Times a peer completed the download.
    pub downloaded: u64,
}

/// `{"action":"scrape","files":{<info_hash>:{"complete":…,"downloaded":…,"incomplete":…},…}}`.
pub fn write_scrape_response(out: &mut String, files: &[ScrapeEntry]) {
    out.push_str("{\"action\":\"scrape\",\"files\":{");
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_latin1(out, &f.info_hash.0);
        out.push_str(":{\"complete\":");
        push_num(out, f.complete.into());
        out.push_str(",\"downloaded\":");
        push_num(out, f.downloaded);
        out.push_str(",\"incomplete\":");
        push_num(out, f.incomplete.into());
        out.push('}');
    }
    out.push_str("}}");
}

/// `{"failure reason":…,"action":…,"info_hash":…}` (action and info-hash when known,
/// so the client can tell which request failed).
pub fn write_failure(
    out: &mut String,
    reason: &str,
    action: Option<Action>,
    info_hash: Option<&InfoHash>,
) {
    out.push_str("{\"failure reason\":");
    out.push_str(&serde_json::to_string(reason).unwrap_or_else(|_| "\"error\"".into()));
    if let Some(a) = action {
        out.push_str(",\"action\":\"");
        out.push_str(a.as_str());
        out.push('"');
    }
    if let Some(h) = info_hash {
        out.push_str(",\"info_hash\":");
        write_latin1(out, &h.0);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn js(bytes: &[u8]) -> String {
        let mut s = String::new();
        write_latin1(&mut s, bytes);
        s
    }

    #[test]
    fn latin1_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let json = js(&all);
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(latin1_decode(&back).unwrap(), all);
        assert_eq!(back.chars().count(), 256);
        // Characters above U+00FF are not bytes.
        assert_eq!(latin1_decode("ā"), None);
    }

    #[test]
    fn parses_announce_with_offers() {
        let hash = [0xA5u8; 20];
        let peer = *b"-WW0208-\x00\x01\"\\abcdefgh";
        let text = format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"numwant":2,"uploaded":0,
            "downloaded":10,"left":null,"event":"started","trackerid":"x",
            "offers":[{{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":{}}},
                      {{"offer":{{"type":"offer","sdp":"v=1"}},"offer_id":{}}}]}}"#,
            js(&hash),
            js(&peer),
            js(&[1; 20]),
            js(&[2; 20])
        );
        let ClientMessage::Announce(a) = parse(&text, ParseLimits::default()).unwrap() else {
            panic!("not an announce");
        };
        assert_eq!(a.info_hash, InfoHash(hash));
        assert_eq!(a.peer_id, PeerId(peer));
        assert_eq!(a.event, AnnounceEvent::Started);
        assert_eq!(a.numwant, Some(2));
        assert_eq!(a.left, None);
        assert_eq!(a.downloaded, 10);
        assert_eq!(a.offers.len(), 2);
        assert_eq!(a.offers[0].offer_id, [1; 20]);
        assert_eq!(a.offers[0].offer, r#"{"type":"offer","sdp":"v=0\r\n"}"#);
        assert_eq!(a.offers_dropped, 0);

        let one = ParseLimits {
            max_offers: 1,
            ..Default::default()
        };
        let ClientMessage::Announce(a) = parse(&text, one).unwrap() else {
            panic!()
        };
        assert_eq!((a.offers.len(), a.offers_dropped), (1, 1));
    }

    #[test]
    fn seeder_and_events() {
        let base = |extra: &str| {
            format!(
                r#"{{"action":"announce","info_hash":{},"peer_id":{}{extra}}}"#,
                js(&[7; 20]),
                js(&[8; 20])
            )
        };
        fn get(t: &str) -> WsAnnounce<'_> {
            match parse(t, ParseLimits::default()) {
                Ok(ClientMessage::Announce(a)) => a,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(get(&base(r#","left":0"#)).left, Some(0));
        assert_eq!(get(&base(r#","left":1.5e3"#)).left, Some(1500));
        assert_eq!(get(&base("")).event, AnnounceEvent::None);
        assert_eq!(
            get(&base(r#","event":"stopped""#)).event,
            AnnounceEvent::Stopped
        );
        assert_eq!(
            get(&base(r#","event":"completed""#)).event,
            AnnounceEvent::Completed
        );
        let bad = parse(&base(r#","event":"paused""#), ParseLimits::default()).unwrap_err();
        assert_eq!(bad.reason, "invalid event");
        assert_eq!(bad.info_hash, Some(InfoHash([7; 20])));
        assert_eq!(bad.action, Some(Action::Announce));
    }

    #[test]
    fn parses_answer() {
        let text = format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"x"}}}}"#,
            js(&[1; 20]),
            js(&[2; 20]),
            js(&[3; 20]),
            js(&[4; 20])
        );
        let ClientMessage::Answer(a) = parse(&text, ParseLimits::default()).unwrap() else {
            panic!()
        };
        assert_eq!(a.to_peer_id, PeerId([3; 20]));
        assert_eq!(a.offer_id, [4; 20]);
        assert_eq!(a.answer, r#"{"type":"answer","sdp":"x"}"#);
        // An answer must be an object and name its offer.
        let no_offer = text.replace(&format!(r#","offer_id":{}"#, js(&[4; 20])), "");
        assert_eq!(
            parse(&no_offer, ParseLimits::default()).unwrap_err().reason,
            "invalid offer_id"
        );
    }

    #[test]
    fn parses_scrapes() {
        fn p(t: &str) -> Result<ClientMessage<'_>, ParseError> {
            parse(t, ParseLimits::default())
        }
        assert_eq!(
            p(r#"{"action":"scrape"}"#).unwrap(),
            ClientMessage::Scrape(WsScrape::All)
        );
        let one = format!(r#"{{"action":"scrape","info_hash":{}}}"#, js(&[9; 20]));
        assert_eq!(
            p(&one).unwrap(),
            ClientMessage::Scrape(WsScrape::Hashes(vec![InfoHash([9; 20])]))
        );
        let many = format!(
            r#"{{"action":"scrape","info_hash":[{},{}]}}"#,
            js(&[9; 20]),
            js(&[10; 20])
        );
        assert_eq!(
            p(&many).unwrap(),
            ClientMessage::Scrape(WsScrape::Hashes(vec![
                InfoHash([9; 20]),
                InfoHash([10; 20])
            ]))
        );
        let capped = ParseLimits {
            max_scrape_hashes: 1,
            ..Default::default()
        };
        let ClientMessage::Scrape(WsScrape::Hashes(h)) = parse(&many, capped).unwrap() else {
            panic!()
        };
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn refuses_bad_frames() {
        let p = |t: &str| parse(t, ParseLimits::default()).unwrap_err().reason;
        assert_eq!(p("not json"), "invalid JSON message");
        assert_eq!(p(r#"{"action":"dance"}"#), "unknown action");
        assert_eq!(p(r#"[1,2]"#), "invalid JSON message");
        assert_eq!(
            p(r#"{"action":"announce","info_hash":"short"}"#),
            "invalid info_hash"
        );
        // 20 characters but one is above U+00FF.
        let wide = format!(
            r#"{{"action":"announce","info_hash":"ā{}","peer_id":{}}}"#,
            "a".repeat(19),
            js(&[0; 20])
        );
        assert_eq!(p(&wide), "invalid info_hash");
        let offer_not_object = format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"offers":[{{"offer":"x","offer_id":{}}}]}}"#,
            js(&[0; 20]),
            js(&[0; 20]),
            js(&[0; 20])
        );
        assert_eq!(p(&offer_not_object), "invalid offer");
    }

    #[test]
    fn writers_produce_json_clients_read() {
        let mut s = String::new();
        write_announce_response(&mut s, &InfoHash([0x22; 20]), 3, 4, 120);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(v["complete"], 3);
        assert_eq!(v["incomplete"], 4);
        assert_eq!(v["interval"], 120);
        assert_eq!(
            latin1_decode(v["info_hash"].as_str().unwrap()).unwrap(),
            [0x22; 20]
        );

        s.clear();
        write_offer(
            &mut s,
            &InfoHash([1; 20]),
            &PeerId([0xff; 20]),
            &[0; 20],
            r#"{"type":"offer","sdp":"a"}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["offer"]["sdp"], "a");
        assert_eq!(
            latin1_decode(v["peer_id"].as_str().unwrap()).unwrap(),
            [0xff; 20]
        );

        s.clear();
        write_scrape_response(
            &mut s,
            &[ScrapeEntry {
                info_hash: InfoHash([5; 20]),
                complete: 1,
                incomplete: 2,
                downloaded: 3,
            }],
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let key = String::from_utf8([5u8; 20].to_vec()).unwrap();
        assert_eq!(v["files"][&key]["downloaded"], 3);

        s.clear();
        write_failure(&mut s, "no \"such\" torrent", Some(Action::Announce), None);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["failure reason"], "no \"such\" torrent");
        assert_eq!(v["action"], "announce");
    }

    proptest! {
        #[test]
        fn binary_strings_round_trip(bytes in proptest::array::uniform20(any::<u8>()),
                                     peer in proptest::array::uniform20(any::<u8>())) {
            let mut s = String::new();
            write_offer(&mut s, &InfoHash(bytes), &PeerId(peer), &bytes, "{}");
            // Our own relay frame parses back as an announce from `peer` (with no offers).
            let v: serde_json::Value = serde_json::from_str(&s).unwrap();
            prop_assert_eq!(latin1_decode(v["info_hash"].as_str().unwrap()).unwrap(), bytes.to_vec());
            prop_assert_eq!(latin1_decode(v["peer_id"].as_str().unwrap()).unwrap(), peer.to_vec());
            let msg = format!(r#"{{"action":"announce","info_hash":{},"peer_id":{}}}"#,
                serde_json::to_string(v["info_hash"].as_str().unwrap()).unwrap(),
                serde_json::to_string(v["peer_id"].as_str().unwrap()).unwrap());
            let ClientMessage::Announce(a) = parse(&msg, ParseLimits::default()).unwrap() else {
                panic!()
            };
            prop_assert_eq!(a.info_hash, InfoHash(bytes));
            prop_assert_eq!(a.peer_id, PeerId(peer));
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = parse(&s, ParseLimits::default());
        }
    }
}

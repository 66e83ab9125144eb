use super::*;
use crate::common::{PeerAddrV4, PeerAddrV6};
use proptest::prelude::*;
use shoal_bencode::{decode, Value};

const IH: &str = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
const IH_BYTES: [u8; 20] = [
    0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x12,
    0x34, 0x56, 0x78, 0x9a,
];

fn q(extra: &str) -> String {
    format!("info_hash={IH}&peer_id=-qB4650-abcdefghijkl&port=6881{extra}")
}

#[test]
fn parses_a_typical_announce() {
    let s = q("&uploaded=10&downloaded=20&left=30&event=started&compact=1&numwant=80&key=AbC%2B&supportcrypto=1");
    let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
    assert_eq!(a.info_hash, InfoHash(IH_BYTES));
    assert_eq!(&a.peer_id.0, b"-qB4650-abcdefghijkl");
    assert_eq!(
        (a.port, a.uploaded, a.downloaded, a.left),
        (6881, 10, 20, 30)
    );
    assert_eq!(a.event, HttpEvent::Started);
    assert!(a.compact && !a.no_peer_id);
    assert_eq!(a.numwant, Some(80));
    assert_eq!(a.key, Some(&b"AbC%2B"[..]));
}

#[test]
fn defaults_and_events() {
    let s = q("");
    let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
    assert_eq!(
        (a.left, a.event, a.compact, a.numwant),
        (0, HttpEvent::None, true, None)
    );
    for (ev, want) in [
        ("", HttpEvent::None),
        ("empty", HttpEvent::None),
        ("paused", HttpEvent::Paused),
        ("stopped", HttpEvent::Stopped),
        ("completed", HttpEvent::Completed),
    ] {
        let s = q(&format!("&event={ev}"));
        let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
        assert_eq!(a.event, want, "{ev}");
    }
    assert_eq!(
        AnnounceQuery::parse(q("&event=bogus").as_bytes()),
        Err(QueryError::Invalid("event"))
    );
    let s = q("&compact=0&no_peer_id=1&numwant=-1");
    let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
    assert!(!a.compact && a.no_peer_id);
    assert_eq!(a.numwant, None);
}

#[test]
fn repeated_params_last_wins_and_unknown_ignored() {
    let s = q("&left=5&left=7&foo=bar&&=x&lonely");
    let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
    assert_eq!(a.left, 7);
}

#[test]
fn missing_and_invalid_params() {
    assert_eq!(
        AnnounceQuery::parse(b"peer_id=-qB4650-abcdefghijkl&port=1"),
        Err(QueryError::Missing("info_hash"))
    );
    let no_port = format!("info_hash={IH}&peer_id=-qB4650-abcdefghijkl");
    assert_eq!(
        AnnounceQuery::parse(no_port.as_bytes()),
        Err(QueryError::Missing("port"))
    );
    assert_eq!(
        AnnounceQuery::parse(q("&port=65536").as_bytes()),
        Err(QueryError::Invalid("port"))
    );
    assert_eq!(
        AnnounceQuery::parse(q("&port=0").as_bytes()),
        Err(QueryError::Invalid("port"))
    );
    assert_eq!(
        AnnounceQuery::parse(q("&left=-1").as_bytes()),
        Err(QueryError::Invalid("left"))
    );
    // Signs, escapes and empty values are not numbers here.
    for (extra, key) in [
        ("&port=+80", "port"),
        ("&port=%2B80", "port"),
        ("&port=", "port"),
        ("&left=+5", "left"),
        ("&uploaded=+0", "uploaded"),
        ("&numwant=+50", "numwant"),
    ] {
        assert_eq!(
            AnnounceQuery::parse(q(extra).as_bytes()),
            Err(QueryError::Invalid(key)),
            "{extra}"
        );
    }
    for bad in ["%1", "%zz12345678901234567890", "abc", "%12%34"] {
        let s = format!("info_hash={bad}&peer_id=-qB4650-abcdefghijkl&port=1");
        assert_eq!(
            AnnounceQuery::parse(s.as_bytes()),
            Err(QueryError::Invalid("info_hash")),
            "{bad}"
        );
    }
    // 21 bytes is too long.
    let s = format!("info_hash={IH}A&peer_id=-qB4650-abcdefghijkl&port=1");
    assert_eq!(
        AnnounceQuery::parse(s.as_bytes()),
        Err(QueryError::Invalid("info_hash"))
    );
}

#[test]
fn percent_decoding_edge_cases() {
    let mut out = [0u8; 8];
    assert_eq!(percent_decode_into(b"%41%4a%4A+~", &mut out), Some(5));
    assert_eq!(&out[..5], b"AJJ+~");
    assert_eq!(percent_decode_into(b"%", &mut out), None);
    assert_eq!(percent_decode_into(b"%4", &mut out), None);
    assert_eq!(percent_decode_into(b"%g0", &mut out), None);
    assert_eq!(
        percent_decode_into(b"123456789", &mut out),
        None,
        "too long"
    );
    assert_eq!(percent_decode_into(b"", &mut out), Some(0));
}

#[test]
fn scrape_hashes_cap_and_order() {
    let mut out = Vec::new();
    let s =
        format!("info_hash={IH}&info_hash=aaaaaaaaaaaaaaaaaaaa&x=1&info_hash=bbbbbbbbbbbbbbbbbbbb");
    scrape_hashes(s.as_bytes(), 2, &mut out).unwrap();
    assert_eq!(out, vec![InfoHash(IH_BYTES), InfoHash([b'a'; 20])]);
    scrape_hashes(b"", 2, &mut out).unwrap();
    assert!(out.is_empty());
    assert!(scrape_hashes(b"info_hash=short", 2, &mut out).is_err());
}

fn counts() -> AnnounceCounts<'static> {
    AnnounceCounts {
        interval: 1800,
        min_interval: 900,
        complete: 2,
        incomplete: 3,
        downloaded: 4,
        external_ip: Some(&[127, 0, 0, 1]),
        tracker_id: None,
        warning: None,
    }
}

#[test]
fn compact_announce_response_is_sorted_and_complete() {
    let v4 = [PeerAddrV4::new("10.0.0.1".parse().unwrap(), 6881)];
    let v6 = [PeerAddrV6::new("::1".parse().unwrap(), 6882)];
    let mut out = Vec::new();
    write_announce_response(&mut out, &counts(), PeerListStyle::Compact, &v4, &v6, None);
    let v = decode(&out).expect("exactly one value, nothing trailing");
    let keys: Vec<&[u8]> = v.as_dict().unwrap().iter().map(|(k, _)| *k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        v.get(b"peers").unwrap().as_bytes().unwrap(),
        &[10, 0, 0, 1, 0x1a, 0xe1]
    );
    assert_eq!(v.get(b"peers6").unwrap().as_bytes().unwrap().len(), 18);
    assert_eq!(
        v.get(b"external ip").unwrap().as_bytes().unwrap(),
        &[127, 0, 0, 1]
    );
    assert_eq!(v.get(b"min interval").unwrap().as_int(), Some(900));
    assert_eq!(v.get(b"downloaded").unwrap().as_int(), Some(4));
}

#[test]
fn empty_compact_peers_and_dictionary_style() {
    let mut out = Vec::new();
    let mut c = counts();
    c.warning = Some("slow down");
    c.tracker_id = Some(b"t1");
    write_announce_response::<PeerAddrV4, PeerAddrV6>(
        &mut out,
        &c,
        PeerListStyle::Compact,
        &[],
        &[],
        None,
    );
    let v = decode(&out).unwrap();
    assert_eq!(v.get(b"peers").unwrap().as_bytes(), Some(&b""[..]));
    assert!(v.get(b"peers6").is_none());
    assert_eq!(
        v.get(b"warning message").unwrap().as_str(),
        Some("slow down")
    );
    assert_eq!(v.get(b"tracker id").unwrap().as_str(), Some("t1"));

    out.clear();
    let v4 = [PeerAddrV4::new("10.0.0.1".parse().unwrap(), 6881)];
    let v6 = [PeerAddrV6::new("2001:db8::1".parse().unwrap(), 1)];
    write_announce_response(
        &mut out,
        &counts(),
        PeerListStyle::Dictionary,
        &v4,
        &v6,
        None,
    );
    let v = decode(&out).unwrap();
    let peers = v.get(b"peers").unwrap().as_list().unwrap();
    assert_eq!(peers.len(), 2);
    assert!(peers[0].get(b"peer id").is_none());
    assert_eq!(peers[0].get(b"ip").unwrap().as_str(), Some("10.0.0.1"));
    assert_eq!(peers[0].get(b"port").unwrap().as_int(), Some(6881));
    assert_eq!(peers[1].get(b"ip").unwrap().as_str(), Some("2001:db8::1"));
}

#[test]
fn failure_has_reason_interval_and_retry_in() {
    let mut out = Vec::new();
    write_failure(&mut out, "unregistered torrent", 1800);
    assert_eq!(
        out,
        b"d14:failure reason20:unregistered torrent8:intervali1800e8:retry ini30ee".to_vec()
    );
}

#[test]
fn scrape_response_sorts_and_dedups_files() {
    let f = |b: u8, c: u32| ScrapeFile {
        info_hash: InfoHash([b; 20]),
        complete: c,
        downloaded: 1,
        incomplete: 2,
        downloaders: 2,
    };
    let mut files = [f(9, 1), f(1, 2), f(9, 1)];
    let mut out = Vec::new();
    write_scrape_response(&mut out, &mut files, Some(60));
    let v = decode(&out).unwrap();
    let entries = v.get(b"files").unwrap().as_dict().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0, &[1u8; 20][..]);
    assert_eq!(entries[0].1.get(b"complete").unwrap().as_int(), Some(2));
    assert_eq!(entries[1].1.get(b"downloaders").unwrap().as_int(), Some(2));
    let flags = v.get(b"flags").unwrap();
    assert_eq!(
        flags.get(b"min_request_interval").unwrap().as_int(),
        Some(60)
    );
    assert!(matches!(v, Value::Dict(_)));
}

proptest! {
    #[test]
    fn percent_encoded_binary_round_trips(bytes in any::<[u8; 20]>(), pid in any::<[u8; 20]>()) {
        fn enc(b: &[u8]) -> String {
            b.iter().map(|&c| if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                (c as char).to_string()
            } else {
                format!("%{c:02X}")
            }).collect()
        }
        let s = format!("info_hash={}&peer_id={}&port=1", enc(&bytes), enc(&pid));
        let a = AnnounceQuery::parse(s.as_bytes()).unwrap();
        prop_assert_eq!(a.info_hash, InfoHash(bytes));
        prop_assert_eq!(a.peer_id, PeerId(pid));
    }

    #[test]
    fn arbitrary_queries_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = AnnounceQuery::parse(&bytes);
        let mut out = Vec::new();
        let _ = scrape_hashes(&bytes, 10, &mut out);
        prop_assert!(out.len() <= 10);
    }
}

#[test]
fn dictionary_peers_carry_peer_ids_when_known() {
    let v4 = [PeerAddrV4::new("10.0.0.1".parse().unwrap(), 6881)];
    let ids = [PeerId(*b"-qB4650-abcdefghijkl")];
    let mut out = Vec::new();
    write_announce_response::<_, PeerAddrV6>(
        &mut out,
        &counts(),
        PeerListStyle::Dictionary,
        &v4,
        &[],
        Some(&ids),
    );
    let v = decode(&out).unwrap();
    let p = &v.get(b"peers").unwrap().as_list().unwrap()[0];
    let keys: Vec<&[u8]> = p.as_dict().unwrap().iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec![&b"ip"[..], b"peer id", b"port"]);
    assert_eq!(p.get(b"peer id").unwrap().as_bytes(), Some(&ids[0].0[..]));
}

use proptest::prelude::*;
use shoal_bencode::{decode, decode_prefix, Encoder, Value};

use crate::wire::{self, Reserved, OUR_UT_METADATA_ID};
use crate::*;

const HASH: [u8; 20] = [0xab; 20];
const OUR_ID: [u8; 20] = *b"-SH0100-abcdefghijkl";
const THEIR_ID: [u8; 20] = *b"-LT2080-zyxwvutsrqpo";
/// The id the scripted peer wants for ut_metadata messages to it.
const THEIR_UT: u8 = 2;

fn sha1(b: &[u8]) -> [u8; 20] {
    <sha1::Sha1 as sha1::Digest>::digest(b).into()
}

fn handshake(reserved: Reserved, hash: &[u8; 20]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_handshake(&mut out, reserved, hash, &THEIR_ID);
    out
}

fn extended(ext_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_extended(&mut out, ext_id, payload);
    out
}

/// A peer's extension handshake with `ut_metadata` = THEIR_UT and the given size.
fn ext_handshake(size: Option<i64>, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.bytes(b"m");
    e.begin_dict();
    e.key_int(b"ut_metadata", THEIR_UT.into());
    e.key_int(b"ut_pex", 1);
    e.end();
    if let Some(size) = size {
        e.key_int(b"metadata_size", size);
    }
    e.key_int(b"reqq", 250);
    e.key_bytes(b"v", b"libtorrent/2.0.8.0");
    for (k, v) in extra {
        e.key_bytes(k, v);
    }
    e.end();
    extended(0, &out)
}

fn data_msg(piece: i64, total_size: i64, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = Encoder::new(&mut body);
    e.begin_dict();
    e.key_int(b"msg_type", 1);
    e.key_int(b"piece", piece);
    e.key_int(b"total_size", total_size);
    e.end();
    body.extend_from_slice(bytes);
    extended(OUR_UT_METADATA_ID, &body)
}

fn reject_msg(piece: i64) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = Encoder::new(&mut body);
    e.begin_dict();
    e.key_int(b"msg_type", 2);
    e.key_int(b"piece", piece);
    e.end();
    extended(OUR_UT_METADATA_ID, &body)
}

/// Plain BitTorrent messages a seeder may send that we must skip.
fn chatter() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&[0, 0, 0, 0]); // keep-alive
    for id in [0u8, 1, 2, 3] {
        out.extend_from_slice(&[0, 0, 0, 1, id]); // choke, unchoke, interested, not
    }
    out.extend_from_slice(&[0, 0, 0, 5, 4, 0, 0, 0, 7]); // have 7
    out.extend_from_slice(&[0, 0, 0, 4, 5, 0xff, 0xff, 0x80]); // bitfield
    out.extend_from_slice(&[0, 0, 0, 3, 9, 0x1a, 0xe1]); // port
    let mut piece = vec![0, 0, 0x40, 9, 7, 0, 0, 0, 1, 0, 0, 0, 0];
    piece.extend(std::iter::repeat_n(0x55, 0x4000)); // a 16 KiB block
    out.extend_from_slice(&piece);
    out.extend_from_slice(&extended(1, b"d5:added0:e")); // ut_pex, skipped
    out
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn sent(s: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    out
}

/// Splits our output into messages (after the handshake, if `skip_handshake`).
fn messages(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        out.push(b[4..4 + len].to_vec());
        b = &b[4 + len..];
    }
    assert!(b.is_empty());
    out
}

/// The pieces our output requests from a peer whose ut_metadata id is THEIR_UT.
fn requests(out: &[u8]) -> Vec<i64> {
    messages(out)
        .into_iter()
        .filter(|m| m[0] == 20 && m[1] == THEIR_UT)
        .map(|m| {
            let v = decode(&m[2..]).unwrap();
            assert_eq!(v.get(b"msg_type").and_then(Value::as_int), Some(0));
            v.get(b"piece").and_then(Value::as_int).unwrap()
        })
        .collect()
}

/// A valid info dict of exactly `len` bytes (at least 60).
fn info_of_len(len: usize) -> Vec<u8> {
    // d4:name<k>:<name>6:pieces<n>:<n bytes>e; a name of 1 or 2 bytes reaches every
    // length across the step where n gains a digit.
    for name in ["x", "xy"] {
        let head = format!("d4:name{}:{name}6:pieces", name.len());
        let fixed = head.len() + 2;
        for digits in 1..=6 {
            let Some(n) = len.checked_sub(fixed + digits) else {
                continue;
            };
            if n.to_string().len() == digits {
                let mut out = head.into_bytes();
                out.extend_from_slice(format!("{n}:").as_bytes());
                out.extend((0..n).map(|i| (i * 7) as u8));
                out.push(b'e');
                assert_eq!(out.len(), len);
                decode(&out).unwrap();
                return out;
            }
        }
    }
    panic!("no info dict of {len} bytes");
}

/// Runs a whole fetch against an honest scripted peer, feeding its bytes in chunks of
/// `chunk` (1 = byte by byte). Returns the outcome and the largest number of requests
/// seen in flight.
fn run_honest(info: &[u8], hash: [u8; 20], chunk: usize, reqq: Option<i64>) -> (Outcome, usize) {
    let mut fetch = MetadataFetch::new(hash, OUR_ID, Limits::default());
    let feed = |f: &mut MetadataFetch, b: &[u8]| {
        for c in b.chunks(chunk) {
            f.receive(c);
        }
    };
    let mut out = Vec::new();
    fetch.poll_transmit(&mut out);
    assert_eq!(&out[..20], wire::PROTOCOL);
    let mut stream = handshake(Reserved::EXTENSIONS, &hash);
    stream.extend(chatter());
    let mut ext = Vec::new();
    let mut e = Encoder::new(&mut ext);
    e.begin_dict();
    e.bytes(b"m");
    e.begin_dict();
    e.key_int(b"ut_metadata", THEIR_UT.into());
    e.end();
    e.key_int(b"metadata_size", info.len() as i64);
    if let Some(q) = reqq {
        e.key_int(b"reqq", q);
    }
    e.key_bytes(b"v", b"Test 1.0");
    e.end();
    stream.extend(extended(0, &ext));
    feed(&mut fetch, &stream);
    let mut max_in_flight = 0;
    let mut pending = Vec::new();
    for _ in 0..1000 {
        if let Some(o) = fetch.take_outcome() {
            return (o, max_in_flight);
        }
        let mut out = Vec::new();
        fetch.poll_transmit(&mut out);
        pending.extend(requests(
            &out[if out.starts_with(wire::PROTOCOL) {
                68
            } else {
                0
            }..],
        ));
        max_in_flight = max_in_flight.max(pending.len());
        // Answer the oldest request (with some chatter between).
        let piece = pending.remove(0);
        let start = piece as usize * 16384;
        let end = (start + 16384).min(info.len());
        let mut reply = chatter();
        reply.extend(data_msg(piece, info.len() as i64, &info[start..end]));
        feed(&mut fetch, &reply);
    }
    panic!("no outcome");
}

/// A session that has read the peer's handshake (extension bit set).
fn greeted() -> Session {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    s.receive(&handshake(Reserved::EXTENSIONS, &HASH));
    s
}

/// A fetch that has read the peer's handshake (extension bit set).
fn greeted_fetch() -> MetadataFetch {
    let mut f = MetadataFetch::new(HASH, OUR_ID, Limits::default());
    f.receive(&handshake(Reserved::EXTENSIONS, &HASH));
    f
}

/// A session that has done the handshakes with a peer announcing `size`.
fn sized_session(size: i64) -> Session {
    let mut s = greeted();
    s.receive(&ext_handshake(Some(size), &[]));
    let ev = events(&mut s);
    assert!(matches!(ev[1], Event::ExtensionHandshake(_)), "{ev:?}");
    s
}

#[test]
fn our_handshake_is_sent_first_with_the_extension_bit() {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    let out = sent(&mut s);
    assert_eq!(out.len(), 68);
    assert_eq!(&out[..20], b"\x13BitTorrent protocol");
    assert_eq!(&out[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0]);
    assert_eq!(&out[28..48], &HASH);
    assert_eq!(&out[48..], &OUR_ID);
}

#[test]
fn the_peers_handshake_is_an_event_and_is_answered_with_our_extension_handshake() {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    sent(&mut s);
    let reserved = Reserved([0, 0, 0, 0, 0, 0x10, 0, 0x15]); // + DHT, fast, v2
    assert!(reserved.extensions() && reserved.v2() && reserved.dht() && reserved.fast());
    s.receive(&handshake(reserved, &HASH));
    assert_eq!(
        events(&mut s),
        [Event::Handshake {
            peer_id: THEIR_ID,
            reserved
        }]
    );
    let out = sent(&mut s);
    let msgs = messages(&out);
    assert_eq!(msgs.len(), 1);
    assert_eq!(&msgs[0][..2], &[20, 0]);
    let d = decode(&msgs[0][2..]).unwrap();
    let ut = d.get(b"m").and_then(|m| m.get(b"ut_metadata"));
    assert_eq!(ut.and_then(Value::as_int), Some(OUR_UT_METADATA_ID.into()));
    assert_eq!(
        d.get(b"metadata_size"),
        None,
        "we have no metadata to offer"
    );
    assert!(d
        .get(b"v")
        .and_then(Value::as_str)
        .unwrap()
        .starts_with("shoal"));
}

#[test]
fn a_peer_without_the_extension_bit_gets_no_extension_handshake_and_fails_the_fetch() {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    sent(&mut s);
    s.receive(&handshake(Reserved::default(), &HASH));
    assert!(matches!(events(&mut s)[..], [Event::Handshake { .. }]));
    assert!(sent(&mut s).is_empty());

    let mut f = MetadataFetch::new(HASH, OUR_ID, Limits::default());
    f.receive(&handshake(Reserved::default(), &HASH));
    assert_eq!(f.outcome(), Some(Err(&FetchError::NoExtensions)));
}

#[test]
fn a_stranger_is_refused_at_its_first_byte() {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    s.receive(b"G");
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::Handshake(
            HandshakeError::NotBitTorrent
        ))]
    );
    assert!(s.is_done());
    s.receive(&handshake(Reserved::EXTENSIONS, &HASH));
    assert!(events(&mut s).is_empty(), "nothing is read after an error");
}

#[test]
fn a_handshake_for_another_torrent_is_refused() {
    let mut s = Session::new(HASH, OUR_ID, Limits::default());
    s.receive(&handshake(Reserved::EXTENSIONS, &[1; 20]));
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::Handshake(
            HandshakeError::WrongInfoHash
        ))]
    );
}

#[test]
fn the_extension_handshake_fields_are_read() {
    let mut s = greeted();
    s.receive(&ext_handshake(Some(40_000), &[(b"yourip", &[10, 0, 0, 7])]));
    let ev = events(&mut s);
    assert_eq!(
        ev[1],
        Event::ExtensionHandshake(ExtensionHandshake {
            ut_metadata: Some(THEIR_UT),
            metadata_size: Some(40_000),
            client: Some("libtorrent/2.0.8.0".into()),
            your_ip: Some("10.0.0.7".parse().unwrap()),
            reqq: Some(250),
        })
    );
    assert_eq!(s.piece_count(), Some(3));

    let mut s = greeted();
    let v6 = std::net::Ipv6Addr::LOCALHOST.octets();
    s.receive(&ext_handshake(None, &[(b"yourip", &v6)]));
    let Event::ExtensionHandshake(hs) = &events(&mut s)[1] else {
        panic!()
    };
    assert_eq!(hs.your_ip, Some("::1".parse().unwrap()));
    assert_eq!(hs.metadata_size, None);
}

#[test]
fn a_long_client_name_is_cut() {
    let mut s = greeted();
    s.receive(&extended(
        0,
        format!("d1:v300:{}e", "x".repeat(300)).as_bytes(),
    ));
    let Event::ExtensionHandshake(hs) = &events(&mut s)[1] else {
        panic!()
    };
    assert_eq!(hs.client.as_deref().map(str::len), Some(64));
    assert_eq!(hs.ut_metadata, None);
}

#[test]
fn other_messages_are_skipped() {
    let mut s = greeted();
    s.receive(&chatter());
    assert_eq!(events(&mut s).len(), 1);
    assert!(!s.is_done());
    // A skipped 16 KiB piece message is dropped as it streams, not buffered.
    assert!(s.inbuf.capacity() < 64 * 1024);
}

#[test]
fn one_piece_of_metadata_is_fetched_and_verified() {
    let info = info_of_len(300);
    let (o, _) = run_honest(&info, sha1(&info), 4096, None);
    assert_eq!(
        o,
        Outcome::Done {
            info,
            matched: HashKind::V1
        }
    );
}

#[test]
fn several_pieces_fetched_byte_by_byte_match_the_whole() {
    let info = info_of_len(2 * 16384 + 1000);
    let hash = sha1(&info);
    let (whole, _) = run_honest(&info, hash, usize::MAX, None);
    let (bytewise, _) = run_honest(&info, hash, 1, None);
    assert_eq!(whole, bytewise);
    assert_eq!(
        whole,
        Outcome::Done {
            info,
            matched: HashKind::V1
        }
    );
}

#[test]
fn exactly_16_kib_is_one_full_piece() {
    let info = info_of_len(16384);
    let (o, _) = run_honest(&info, sha1(&info), 1000, None);
    assert!(matches!(o, Outcome::Done { .. }), "{o:?}");
}

#[test]
fn requests_in_flight_are_capped_by_reqq_and_by_our_limit() {
    let info = info_of_len(10 * 16384 + 5);
    let hash = sha1(&info);
    let (o, n) = run_honest(&info, hash, 5000, None);
    assert!(matches!(o, Outcome::Done { .. }));
    assert_eq!(n, MAX_IN_FLIGHT as usize);
    let (o, n) = run_honest(&info, hash, 5000, Some(1));
    assert!(matches!(o, Outcome::Done { .. }));
    assert_eq!(n, 1);
}

#[test]
fn a_v2_only_swarm_matches_the_truncated_sha256() {
    let info = info_of_len(500);
    let v2 = <sha2::Sha256 as sha2::Digest>::digest(&info);
    let hash: [u8; 20] = v2[..20].try_into().unwrap();
    let (o, _) = run_honest(&info, hash, 64, None);
    assert_eq!(
        o,
        Outcome::Done {
            info,
            matched: HashKind::V2Truncated
        }
    );
}

#[test]
fn metadata_that_does_not_match_the_hash_is_bad_data() {
    let info = info_of_len(500);
    let (o, _) = run_honest(&info, [3; 20], 64, None);
    assert_eq!(
        o,
        Outcome::Failed(FetchError::BadData(BadData::HashMismatch))
    );
    assert_eq!(
        FetchError::BadData(BadData::HashMismatch).reason(),
        "bad_data"
    );
}

#[test]
fn a_huge_length_prefix_is_an_error_before_anything_is_buffered() {
    let mut s = greeted();
    s.receive(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        events(&mut s)[1],
        Event::Error(FetchError::Protocol(ProtocolError::MessageTooLong {
            len: u32::MAX,
            max: (1 << 20) + 13
        }))
    );
}

#[test]
fn an_oversized_extension_handshake_or_metadata_message_is_refused_at_its_header() {
    let mut s = greeted();
    s.receive(&[0, 1, 0, 3, 20, 0]); // 65 539 bytes: a 65 537-byte handshake
    assert!(matches!(
        events(&mut s)[1],
        Event::Error(FetchError::Protocol(ProtocolError::MessageTooLong {
            len: 65_537,
            ..
        }))
    ));

    let mut s = sized_session(40_000);
    s.receive(&[0, 0, 0x48, 0, 20, OUR_UT_METADATA_ID]);
    let e = events(&mut s);
    assert!(
        matches!(
            e[..],
            [Event::Error(FetchError::Protocol(ProtocolError::MessageTooLong { max, .. }))]
                if max == wire::MAX_METADATA_MESSAGE_LEN
        ),
        "{e:?}"
    );
}

#[test]
fn an_extended_message_without_its_id_is_malformed() {
    let mut s = greeted();
    s.receive(&[0, 0, 0, 1, 20]);
    assert_eq!(
        events(&mut s)[1],
        Event::Error(FetchError::Protocol(ProtocolError::EmptyExtended))
    );
}

#[test]
fn a_metadata_size_of_4_gib_is_refused_before_allocating() {
    let mut f = greeted_fetch();
    f.receive(&ext_handshake(Some(1 << 32), &[]));
    assert_eq!(
        f.outcome(),
        Some(Err(&FetchError::TooLarge {
            size: 1 << 32,
            max: 8 << 20
        }))
    );
    assert_eq!(f.buffer.capacity(), 0);
    assert_eq!(f.session.requested.capacity(), 0);
    assert_eq!(f.outcome().unwrap().unwrap_err().reason(), "too_large");
}

#[test]
fn the_callers_cap_applies() {
    let limits = Limits {
        max_metadata_size: 1000,
        ..Limits::default()
    };
    let mut s = Session::new(HASH, OUR_ID, limits);
    s.receive(&handshake(Reserved::EXTENSIONS, &HASH));
    s.receive(&ext_handshake(Some(1001), &[]));
    assert_eq!(
        events(&mut s)[1],
        Event::Error(FetchError::TooLarge {
            size: 1001,
            max: 1000
        })
    );
}

#[test]
fn a_peer_without_ut_metadata_or_metadata_size_has_no_metadata() {
    let mut f = greeted_fetch();
    f.receive(&extended(0, b"d1:md6:ut_pexi1eee"));
    assert_eq!(f.outcome(), Some(Err(&FetchError::NoMetadata)));

    // A magnet leecher: it speaks ut_metadata but has nothing yet.
    let mut f = greeted_fetch();
    f.receive(&ext_handshake(None, &[]));
    assert_eq!(f.outcome(), Some(Err(&FetchError::NoMetadata)));
    assert_eq!(FetchError::NoMetadata.reason(), "no_metadata");
}

#[test]
fn requests_go_to_the_peers_id_and_pieces_must_have_the_right_size() {
    let mut s = sized_session(40_000);
    sent(&mut s);
    s.request_piece(0).unwrap();
    s.request_piece(2).unwrap();
    assert_eq!(requests(&sent(&mut s)), [0, 2]);
    assert_eq!(
        s.request_piece(3),
        Err(FetchError::BadData(BadData::OutOfRange { piece: 3 }))
    );
    // The last piece is 40 000 - 32 768 = 7 232 bytes.
    s.receive(&data_msg(2, 40_000, &[0; 7232]));
    assert!(
        matches!(events(&mut s)[..], [Event::MetadataPiece { index: 2, ref data }] if data.len() == 7232)
    );
    // A short piece that is not the last.
    s.receive(&data_msg(0, 40_000, &[0; 100]));
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::BadData(BadData::PieceSize {
            piece: 0,
            len: 100,
            expected: 16384
        }))]
    );
}

#[test]
fn a_last_piece_too_long_is_bad_data() {
    let mut s = sized_session(40_000);
    s.request_piece(2).unwrap();
    s.receive(&data_msg(2, 40_000, &[0; 7233]));
    assert!(matches!(
        events(&mut s)[..],
        [Event::Error(FetchError::BadData(BadData::PieceSize {
            piece: 2,
            len: 7233,
            ..
        }))]
    ));
}

#[test]
fn unrequested_duplicate_and_out_of_range_pieces_are_bad_data() {
    let mut s = sized_session(40_000);
    s.receive(&data_msg(1, 40_000, &[0; 16384]));
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::BadData(BadData::Unrequested {
            piece: 1
        }))]
    );

    let mut s = sized_session(40_000);
    s.request_piece(1).unwrap();
    s.receive(&data_msg(1, 40_000, &[0; 16384]));
    s.receive(&data_msg(1, 40_000, &[0; 16384]));
    let e = events(&mut s);
    assert_eq!(
        e[1],
        Event::Error(FetchError::BadData(BadData::Unrequested { piece: 1 }))
    );

    for piece in [3, -1, 1 << 40] {
        let mut s = sized_session(40_000);
        s.receive(&data_msg(piece, 40_000, &[0; 16384]));
        assert!(matches!(
            events(&mut s)[..],
            [Event::Error(FetchError::BadData(
                BadData::OutOfRange { .. }
            ))]
        ));
    }

    // Before any extension handshake nothing was requested.
    let mut s = greeted();
    s.receive(&data_msg(0, 10, &[0; 10]));
    assert!(matches!(
        events(&mut s)[1],
        Event::Error(FetchError::BadData(_))
    ));
}

#[test]
fn a_total_size_other_than_metadata_size_is_bad_data() {
    let mut s = sized_session(40_000);
    s.request_piece(0).unwrap();
    s.receive(&data_msg(0, 1 << 33, &[0; 16384]));
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::BadData(BadData::TotalSize {
            total_size: 1 << 33,
            metadata_size: 40_000
        }))]
    );
}

#[test]
fn a_reject_is_an_event_and_fails_the_fetch() {
    let mut s = sized_session(40_000);
    s.request_piece(1).unwrap();
    s.receive(&reject_msg(1));
    assert_eq!(events(&mut s), [Event::MetadataRejected { index: 1 }]);

    let mut f = greeted_fetch();
    f.receive(&ext_handshake(Some(100), &[]));
    f.receive(&reject_msg(0));
    assert_eq!(f.outcome(), Some(Err(&FetchError::Rejected { piece: 0 })));
}

#[test]
fn malformed_metadata_messages_are_protocol_errors() {
    for body in [
        &b"not bencode"[..],
        b"i3e",
        b"d5:piecei0ee",
        b"d8:msg_typei1e5:piecei0ee", // data without total_size
    ] {
        let mut s = sized_session(40_000);
        s.request_piece(0).unwrap();
        s.receive(&extended(OUR_UT_METADATA_ID, body));
        assert_eq!(
            events(&mut s),
            [Event::Error(FetchError::Protocol(
                ProtocolError::BadMetadataMessage
            ))],
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn a_request_from_the_peer_and_unknown_msg_types_are_ignored() {
    let mut s = sized_session(40_000);
    sent(&mut s);
    s.receive(&extended(OUR_UT_METADATA_ID, b"d8:msg_typei0e5:piecei0ee"));
    s.receive(&extended(OUR_UT_METADATA_ID, b"d8:msg_typei9e5:piecei0ee"));
    assert!(events(&mut s).is_empty());
    assert!(sent(&mut s).is_empty(), "we never answer requests");
}

#[test]
fn a_malformed_extension_handshake_is_a_protocol_error() {
    for body in [&b"li1ee"[..], b"d1:m", b"3:abc"] {
        let mut s = greeted();
        s.receive(&extended(0, body));
        assert_eq!(
            events(&mut s)[1],
            Event::Error(FetchError::Protocol(ProtocolError::BadExtensionHandshake))
        );
    }
}

#[test]
fn a_changed_metadata_size_is_a_protocol_error_and_a_repeated_one_is_fine() {
    let mut s = sized_session(40_000);
    s.receive(&ext_handshake(Some(40_000), &[]));
    assert!(matches!(events(&mut s)[..], [Event::ExtensionHandshake(_)]));
    s.receive(&ext_handshake(Some(40_001), &[]));
    assert_eq!(
        events(&mut s),
        [Event::Error(FetchError::Protocol(
            ProtocolError::MetadataSizeChanged
        ))]
    );
}

#[test]
fn the_end_of_stream_mid_transfer_is_closed() {
    let mut f = greeted_fetch();
    f.receive(&ext_handshake(Some(40_000), &[]));
    let half = data_msg(0, 40_000, &[0; 16384]);
    f.receive(&half[..9000]);
    assert!(f.outcome().is_none());
    let before = f.progress();
    f.eof();
    assert_eq!(f.outcome(), Some(Err(&FetchError::Closed(None))));
    assert_eq!(f.progress(), before);
    assert_eq!(FetchError::Closed(None).reason(), "closed");
}

#[test]
fn progress_counts_messages_not_bytes() {
    let mut f = MetadataFetch::new(HASH, OUR_ID, Limits::default());
    let hs = handshake(Reserved::EXTENSIONS, &HASH);
    for b in &hs[..67] {
        f.receive(std::slice::from_ref(b));
    }
    assert_eq!(f.progress(), 0);
    f.receive(&hs[67..]);
    assert_eq!(f.progress(), 1);
    f.receive(&chatter());
    assert_eq!(f.progress(), 1);
    f.receive(&ext_handshake(Some(100), &[]));
    assert_eq!(f.progress(), 2);
    assert_eq!(f.client(), Some("libtorrent/2.0.8.0"));
    assert_eq!(f.metadata_size(), Some(100));
}

#[test]
fn reasons_are_distinct_and_listed() {
    use std::io::ErrorKind;
    let all = [
        FetchError::Connect(ErrorKind::ConnectionRefused),
        FetchError::Timeout,
        FetchError::Stalled,
        FetchError::Handshake(HandshakeError::NotBitTorrent),
        FetchError::NoExtensions,
        FetchError::NoMetadata,
        FetchError::TooLarge { size: 1, max: 0 },
        FetchError::Rejected { piece: 0 },
        FetchError::BadData(BadData::HashMismatch),
        FetchError::Closed(Some(ErrorKind::ConnectionReset)),
        FetchError::Protocol(ProtocolError::EmptyExtended),
    ];
    let reasons: Vec<_> = all.iter().map(FetchError::reason).collect();
    assert_eq!(reasons, FetchError::REASONS);
    assert_eq!(
        FetchError::Closed(Some(ErrorKind::ConnectionReset)).to_string(),
        "connection closed before the metadata was complete (connection reset)"
    );
}

#[test]
fn our_messages_parse_back() {
    let req = wire::metadata_request(7);
    let (v, used) = decode_prefix(&req).unwrap();
    assert_eq!(used, req.len());
    assert_eq!(v.get(b"piece").and_then(Value::as_int), Some(7));
    assert_eq!(wire::piece_count(0), 0);
    assert_eq!(wire::piece_count(1), 1);
    assert_eq!(wire::piece_count(16384), 1);
    assert_eq!(wire::piece_count(16385), 2);
    assert_eq!(wire::piece_len(16385, 1), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut f = MetadataFetch::new(HASH, OUR_ID, Limits::default());
        f.receive(&bytes);
        let mut out = Vec::new();
        f.poll_transmit(&mut out);
        f.eof();
        prop_assert!(f.outcome().is_some());
    }

    #[test]
    fn arbitrary_messages_after_the_handshakes_never_panic(
        msgs in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..32),
        size in 1i64..70_000,
        split in 1usize..50,
    ) {
        let mut f = MetadataFetch::new(HASH, OUR_ID, Limits::default());
        let mut stream = handshake(Reserved::EXTENSIONS, &HASH);
        stream.extend(ext_handshake(Some(size), &[]));
        for (kind, body) in msgs {
            match kind % 4 {
                0 => stream.extend(extended(OUR_UT_METADATA_ID, &body)),
                1 => {
                    let mut b = format!("d8:msg_typei{}e5:piecei{}e10:total_sizei{}ee",
                        kind % 3, kind % 5, size).into_bytes();
                    b.extend(body);
                    stream.extend(extended(OUR_UT_METADATA_ID, &b));
                }
                2 => stream.extend((body.len() as u32 + 1).to_be_bytes().into_iter()
                    .chain([kind]).chain(body)),
                _ => stream.extend(body),
            }
        }
        for c in stream.chunks(split) {
            f.receive(c);
        }
        f.eof();
        prop_assert!(f.outcome().is_some());
    }

    #[test]
    fn any_split_of_an_honest_exchange_gives_the_same_metadata(
        len in 60usize..50_000, chunk in 1usize..3000,
    ) {
        let info = info_of_len(len.max(60));
        let (o, _) = run_honest(&info, sha1(&info), chunk, None);
        prop_assert_eq!(o, Outcome::Done { info, matched: HashKind::V1 });
    }
}

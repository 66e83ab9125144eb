use super::*;
use crate::common::{PeerAddrV4, PeerAddrV6};
use proptest::prelude::*;

fn announce_bytes(event: u32, options: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    b.extend_from_slice(&1u32.to_be_bytes());
    b.extend_from_slice(&[9, 9, 9, 9]);
    b.extend_from_slice(&[0xaa; 20]);
    b.extend_from_slice(&[0xbb; 20]);
    b.extend_from_slice(&10u64.to_be_bytes());
    b.extend_from_slice(&20u64.to_be_bytes());
    b.extend_from_slice(&30u64.to_be_bytes());
    b.extend_from_slice(&event.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&77u32.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&6881u16.to_be_bytes());
    b.extend_from_slice(options);
    b
}

#[test]
fn parses_connect() {
    let mut b = PROTOCOL_ID.to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(
        Request::parse(&b),
        Ok(Request::Connect(ConnectRequest {
            transaction_id: TransactionId([1, 2, 3, 4])
        }))
    );
    b[0] = 1;
    assert_eq!(Request::parse(&b), Err(RequestParseError::BadProtocolId));
    assert_eq!(RequestParseError::BadProtocolId.answerable(), None);
}

#[test]
fn parses_announce_fields() {
    let b = announce_bytes(2, &[]);
    assert_eq!(b.len(), ANNOUNCE_REQUEST_LEN);
    let Ok(Request::Announce(a)) = Request::parse(&b) else {
        panic!("not an announce")
    };
    assert_eq!(a.connection_id, ConnectionId([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(a.transaction_id, TransactionId([9; 4]));
    assert_eq!(a.info_hash, InfoHash([0xaa; 20]));
    assert_eq!(a.peer_id, PeerId([0xbb; 20]));
    assert_eq!((a.downloaded, a.left, a.uploaded), (10, 20, 30));
    assert_eq!(a.event, AnnounceEvent::Started);
    assert_eq!((a.key, a.num_want, a.port), (77, -1, 6881));
    assert_eq!(a.options.iter().count(), 0);
}

#[test]
fn announce_too_short_is_dropped() {
    let b = announce_bytes(0, &[]);
    assert_eq!(Request::parse(&b[..97]), Err(RequestParseError::TooShort));
    assert_eq!(Request::parse(&b[..15]), Err(RequestParseError::TooShort));
}

#[test]
fn bad_event_is_answerable() {
    let err = Request::parse(&announce_bytes(4, &[])).unwrap_err();
    assert!(matches!(err, RequestParseError::BadEvent { event: 4, .. }));
    assert_eq!(
        err.answerable(),
        Some((
            ConnectionId([1, 2, 3, 4, 5, 6, 7, 8]),
            TransactionId([9; 4])
        ))
    );
}

#[test]
fn bep41_options_skip_unknown_and_join_url_data() {
    // NOP, URLData "/ann", unknown type 0x7 with 3 bytes, URLData "ounce?k=1", end, junk.
    let mut opts = vec![0x1, 0x2, 4];
    opts.extend_from_slice(b"/ann");
    opts.extend_from_slice(&[0x7, 3, 1, 2, 3, 0x2, 9]);
    opts.extend_from_slice(b"ounce?k=1");
    opts.extend_from_slice(&[0x0, 0x2, 0xff]);
    let b = announce_bytes(0, &opts);
    let Ok(Request::Announce(a)) = Request::parse(&b) else {
        panic!()
    };
    let items: Vec<_> = a.options.iter().collect();
    assert_eq!(
        items,
        vec![
            AnnounceOption::UrlData(b"/ann"),
            AnnounceOption::Unknown(7, &[1, 2, 3]),
            AnnounceOption::UrlData(b"ounce?k=1"),
        ]
    );
    let mut url = Vec::new();
    assert!(a.options.url_data_into(&mut url));
    assert_eq!(url, b"/announce?k=1");
}

#[test]
fn bep41_empty_url_data_is_accepted() {
    // `0x02 0x00`: URLData of length zero.
    let b = announce_bytes(0, &[0x2, 0x0]);
    let Ok(Request::Announce(a)) = Request::parse(&b) else {
        panic!()
    };
    assert_eq!(
        a.options.iter().collect::<Vec<_>>(),
        vec![AnnounceOption::UrlData(b"")]
    );
}

#[test]
fn bep41_truncated_option_ends_the_list() {
    let b = announce_bytes(0, &[0x2, 5, b'/', b'a']);
    let Ok(Request::Announce(a)) = Request::parse(&b) else {
        panic!()
    };
    assert_eq!(
        a.options.iter().count(),
        0,
        "first option itself is truncated"
    );
    let b = announce_bytes(0, &[0x2, 1, b'/', 0x2, 10, b'x']);
    let Ok(Request::Announce(a)) = Request::parse(&b) else {
        panic!()
    };
    assert_eq!(
        a.options.iter().collect::<Vec<_>>(),
        vec![AnnounceOption::UrlData(b"/")]
    );
}

#[test]
fn write_url_data_splits_long_paths() {
    let path = vec![b'a'; 600];
    let mut out = Vec::new();
    AnnounceOptions::write_url_data(&path, &mut out);
    assert_eq!(out.len(), 3 * 2 + 600 + 1);
    let mut back = Vec::new();
    assert!(AnnounceOptions(&out).url_data_into(&mut back));
    assert_eq!(back, path);
}

#[test]
fn scrape_hash_counts() {
    let mut b = vec![0u8; 16];
    b[11] = 2;
    assert!(matches!(
        Request::parse(&b),
        Err(RequestParseError::BadScrape { .. })
    ));
    b.extend_from_slice(&[1; 20]);
    b.extend_from_slice(&[2; 20]);
    let Ok(Request::Scrape(s)) = Request::parse(&b) else {
        panic!()
    };
    assert_eq!(s.len(), 2);
    assert_eq!(
        s.info_hashes().collect::<Vec<_>>(),
        vec![InfoHash([1; 20]), InfoHash([2; 20])]
    );
    b.push(0);
    assert!(matches!(
        Request::parse(&b),
        Err(RequestParseError::BadScrape { .. })
    ));
}

#[test]
fn unknown_action_is_answerable() {
    let mut b = vec![0u8; 16];
    b[11] = 9;
    let err = Request::parse(&b).unwrap_err();
    assert!(matches!(
        err,
        RequestParseError::UnknownAction { action: 9, .. }
    ));
    assert!(err.answerable().is_some());
}

#[test]
fn announce_response_v4_and_v6_layouts() {
    let tid = TransactionId([1, 2, 3, 4]);
    let mut out = Vec::new();
    write_announce_header(&mut out, tid, 1800, 3, 5);
    let v4 = [
        PeerAddrV4::new("10.0.0.1".parse().unwrap(), 1),
        PeerAddrV4::new("10.0.0.2".parse().unwrap(), 2),
    ];
    push_peers(&mut out, &v4);
    assert_eq!(out.len(), 20 + 12);
    let Ok(Response::Announce(r)) = Response::parse(&out) else {
        panic!()
    };
    assert_eq!((r.interval, r.leechers, r.seeders), (1800, 3, 5));
    assert_eq!(r.peers::<PeerAddrV4>().collect::<Vec<_>>(), v4);

    let v6 = [PeerAddrV6::new("2001:db8::1".parse().unwrap(), 51413)];
    write_announce_header(&mut out, tid, 60, 0, 1);
    push_peers(&mut out, &v6);
    assert_eq!(out.len(), 20 + 18);
    let Ok(Response::Announce(r)) = Response::parse(&out) else {
        panic!()
    };
    assert_eq!(r.peers::<PeerAddrV6>().collect::<Vec<_>>(), v6);
}

#[test]
fn scrape_and_error_responses() {
    let tid = TransactionId([5; 4]);
    let mut out = Vec::new();
    write_scrape_header(&mut out, tid);
    let s = ScrapeStats {
        seeders: 1,
        completed: 2,
        leechers: 3,
    };
    push_scrape_stats(&mut out, s);
    push_scrape_stats(&mut out, ScrapeStats::default());
    let r = Response::parse(&out).unwrap();
    assert_eq!(
        r.scrape_stats().collect::<Vec<_>>(),
        vec![s, ScrapeStats::default()]
    );
    write_error_response(&mut out, tid, "nope");
    assert_eq!(out.len(), 12);
    assert_eq!(
        Response::parse(&out),
        Ok(Response::Error {
            transaction_id: tid,
            message: b"nope"
        })
    );
}

fn arb_event() -> impl Strategy<Value = AnnounceEvent> {
    prop_oneof![
        Just(AnnounceEvent::None),
        Just(AnnounceEvent::Completed),
        Just(AnnounceEvent::Started),
        Just(AnnounceEvent::Stopped),
    ]
}

proptest! {
    #[test]
    fn announce_round_trip(
        cid in any::<[u8; 8]>(), tid in any::<[u8; 4]>(), ih in any::<[u8; 20]>(),
        pid in any::<[u8; 20]>(), d in any::<u64>(), l in any::<u64>(), u in any::<u64>(),
        event in arb_event(), ip in any::<[u8; 4]>(), key in any::<u32>(),
        nw in any::<i32>(), port in any::<u16>(),
        url in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut opts = Vec::new();
        AnnounceOptions::write_url_data(&url, &mut opts);
        let req = Request::Announce(AnnounceRequest {
            connection_id: ConnectionId(cid), transaction_id: TransactionId(tid),
            info_hash: InfoHash(ih), peer_id: PeerId(pid), downloaded: d, left: l, uploaded: u,
            event, ip, key, num_want: nw, port, options: AnnounceOptions(&opts),
        });
        let mut bytes = Vec::new();
        req.write(&mut bytes);
        prop_assert_eq!(Request::parse(&bytes), Ok(req));
        let mut back = Vec::new();
        let Ok(Request::Announce(a)) = Request::parse(&bytes) else { unreachable!() };
        prop_assert_eq!(a.options.url_data_into(&mut back), !url.is_empty());
        prop_assert_eq!(back, url);
    }

    #[test]
    fn connect_and_scrape_round_trip(
        tid in any::<[u8; 4]>(), cid in any::<[u8; 8]>(),
        hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..80),
    ) {
        let connect = Request::Connect(ConnectRequest { transaction_id: TransactionId(tid) });
        let mut bytes = Vec::new();
        connect.write(&mut bytes);
        prop_assert_eq!(Request::parse(&bytes), Ok(connect));

        let flat: Vec<u8> = hashes.concat();
        let scrape = Request::Scrape(
            ScrapeRequest::new(ConnectionId(cid), TransactionId(tid), &flat).unwrap(),
        );
        bytes.clear();
        scrape.write(&mut bytes);
        prop_assert_eq!(Request::parse(&bytes), Ok(scrape));
    }

    #[test]
    fn arbitrary_requests_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(req) = Request::parse(&bytes) {
            let mut out = Vec::new();
            req.write(&mut out);
            // Connect requests write back the magic; others write back exactly what was read.
            if !matches!(req, Request::Connect(_)) {
                prop_assert_eq!(out, bytes);
            }
        }
    }

    #[test]
    fn arbitrary_announce_tails_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let b = announce_bytes(1, &tail);
        let Ok(Request::Announce(a)) = Request::parse(&b) else { panic!() };
        let mut url = Vec::new();
        a.options.url_data_into(&mut url);
        prop_assert!(url.len() <= tail.len());
    }

    #[test]
    fn arbitrary_responses_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = Response::parse(&bytes) {
            let _ = r.scrape_stats().count();
            if let Response::Announce(a) = r {
                let _ = a.peers::<PeerAddrV4>().count();
                let _ = a.peers::<PeerAddrV6>().count();
            }
        }
    }
}

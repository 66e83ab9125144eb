//! Any datagram as a tracker's answer to a UDP client: parsing never panics; a parsed
//! connect, error or announce written back with the server's writers parses to the same
//! answer, and decoding its peers never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_protocol::udp::{
    write_announce_header, write_connect_response, write_error_response, Response,
};
use shoal_protocol::{PeerAddrV4, PeerAddrV6};

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Response::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    match r {
        Response::Connect {
            transaction_id,
            connection_id,
        } => {
            write_connect_response(&mut out, transaction_id, connection_id);
            assert_eq!(Response::parse(&out).ok(), Some(r));
        }
        Response::Announce(a) => {
            let _ = a.peers::<PeerAddrV4>().count();
            let _ = a.peers::<PeerAddrV6>().count();
            write_announce_header(&mut out, a.transaction_id, a.interval, a.leechers, a.seeders);
            out.extend_from_slice(a.peers);
            assert_eq!(Response::parse(&out).ok(), Some(r));
        }
        Response::Error {
            transaction_id,
            message,
        } => {
            if let Ok(text) = std::str::from_utf8(message) {
                write_error_response(&mut out, transaction_id, text);
                assert_eq!(Response::parse(&out).ok(), Some(r));
            }
        }
        Response::Scrape { .. } => {}
    }
});

//! Any bytes as a tracker's raw HTTP answer (status line, headers, possibly chunked
//! body) to the HTTP client's announce and scrape: reading it never panics, and what it
//! returns stays within what the bytes could hold.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_client::{parse_announce_response, parse_scrape_response, InfoHash};

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_announce_response(data) {
        // Each compact peer takes at least 6 bytes of the input.
        assert!(reply.peers.len() <= data.len() / 6);
    }
    let asked = [InfoHash([0x61; 20]), InfoHash([0; 20])];
    if let Ok(entries) = parse_scrape_response(data, &asked) {
        assert_eq!(entries.len(), asked.len());
    }
});

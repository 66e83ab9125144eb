//! Any query string: announce and scrape parsing never panic, and a scrape never
//! returns more hashes than its cap.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_protocol::http::{scrape_hashes, AnnounceQuery};

fuzz_target!(|data: &[u8]| {
    let _ = AnnounceQuery::parse(data);
    let mut hashes = Vec::new();
    if scrape_hashes(data, 74, &mut hashes).is_ok() {
        assert!(hashes.len() <= 74);
    }
});

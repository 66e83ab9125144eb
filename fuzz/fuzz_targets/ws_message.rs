//! Any text frame: WebTorrent parsing never panics and respects its limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_protocol::ws::{parse, ClientMessage, ParseLimits, WsScrape};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = ParseLimits {
        max_offers: 3,
        max_scrape_hashes: 5,
    };
    match parse(text, limits) {
        Ok(ClientMessage::Announce(a)) => assert!(a.offers.len() <= 3),
        Ok(ClientMessage::Scrape(WsScrape::Hashes(h))) => assert!(h.len() <= 5),
        _ => {}
    }
});

//! Any bytes as a .torrent, an info dictionary and a magnet link: parsing never panics,
//! and a .torrent that parses writes back to one that parses to the same value and
//! info-hashes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_metainfo::{Info, Limits, Magnet, Torrent};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(t) = Torrent::parse(data, &limits) {
        let again = Torrent::parse(&t.write(), &limits).expect("our own .torrent parses");
        assert_eq!(again, t);
        assert_eq!(again.hashes(), t.hashes());
    }
    if let Ok(info) = Info::parse(data, &limits) {
        let hashes = Info::hashes(data).expect("a parsed info dict has hashes");
        assert_eq!(hashes.v1.is_some(), info.version().has_v1());
        assert_eq!(hashes.v2.is_some(), info.version().has_v2());
        for f in &info.files {
            if let Some(p) = f.safe_path() {
                assert!(p.is_relative());
                assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(m) = Magnet::parse(s) {
            assert_eq!(Magnet::parse(&m.to_string()).expect("our own magnet parses"), m);
        }
    }
});

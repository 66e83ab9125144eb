//! Any bytes: decoding never panics, and canonical encoding is a fixed point (what we
//! write decodes and re-encodes to the same bytes; input may have unsorted keys).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = shoal_bencode::decode(data) {
        let canonical = v.encode();
        let again = shoal_bencode::decode(&canonical).expect("our own encoding decodes");
        assert_eq!(again.encode(), canonical);
    }
});

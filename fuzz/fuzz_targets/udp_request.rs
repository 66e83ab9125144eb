//! Any datagram: parsing never panics, and a parsed request written back parses to the
//! same request.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_protocol::udp::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::parse(data) {
        let mut out = Vec::new();
        req.write(&mut out);
        assert_eq!(Request::parse(&out).ok(), Some(req));
    }
});

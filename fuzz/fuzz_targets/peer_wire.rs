//! Any bytes from a peer, in any split: the metadata fetch never panics, never buffers
//! past its limits, and always ends once the stream does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_peer::{wire, Limits, MetadataFetch, Reserved};

const HASH: [u8; 20] = [0x42; 20];

fuzz_target!(|data: &[u8]| {
    let [mode, split, rest @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_metadata_size: 100_000,
        ..Limits::default()
    };
    let mut fetch = MetadataFetch::new(HASH, *b"-SH0100-fuzz00000000", limits);
    // Half the inputs start after a valid handshake, so the fuzzer spends its time on
    // messages rather than on guessing the protocol string.
    let mut stream = Vec::new();
    if mode & 1 == 1 {
        wire::write_handshake(&mut stream, Reserved::EXTENSIONS, &HASH, &[7; 20]);
    }
    stream.extend_from_slice(rest);
    let split = usize::from(*split).max(1);
    let mut out = Vec::new();
    for chunk in stream.chunks(split) {
        fetch.receive(chunk);
        fetch.poll_transmit(&mut out);
        if let Some(size) = fetch.metadata_size() {
            assert!(size <= limits.max_metadata_size);
        }
    }
    fetch.eof();
    assert!(fetch.outcome().is_some());
});

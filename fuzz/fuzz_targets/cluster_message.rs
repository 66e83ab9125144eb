//! Any message between nodes, signed with the cluster key so the fuzzer reaches the
//! decoder behind the signature check: decoding never panics, and a decoded message
//! encoded again decodes to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_protocol::cluster::{decode, encode, ClusterKey};

fuzz_target!(|data: &[u8]| {
    let key = ClusterKey::derive(&[7; 16]);
    let mut signed = data.to_vec();
    signed.extend_from_slice(&key.sign(data));
    let _ = decode(data, &key);
    if let Ok(m) = decode(&signed, &key) {
        let mut out = Vec::new();
        encode(&m, &key, &mut out).expect("a decoded message encodes");
        assert_eq!(decode(&out, &key).ok(), Some(m));
    }
});

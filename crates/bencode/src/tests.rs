use super::*;
use proptest::prelude::*;

fn err(input: &[u8]) -> DecodeErrorKind {
    decode(input).unwrap_err().kind
}

#[test]
fn decodes_each_kind() {
    assert_eq!(decode(b"i42e").unwrap(), Value::Int(42));
    assert_eq!(decode(b"i-7e").unwrap(), Value::Int(-7));
    assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
    assert_eq!(decode(b"4:spam").unwrap(), Value::Bytes(b"spam"));
    assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
    assert_eq!(
        decode(b"l4:spami1ee").unwrap(),
        Value::List(vec![Value::Bytes(b"spam"), Value::Int(1)])
    );
    let d = decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
    assert_eq!(d.get(b"cow").and_then(Value::as_str), Some("moo"));
    assert_eq!(
        d.get(b"spam").and_then(Value::as_list).map(<[_]>::len),
        Some(2)
    );
    assert_eq!(d.get(b"nope"), None);
}

#[test]
fn integer_extremes() {
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(err(b"i9223372036854775808e"), DecodeErrorKind::BadInteger);
    assert_eq!(err(b"i-9223372036854775809e"), DecodeErrorKind::BadInteger);
}

#[test]
fn rejects_non_canonical_integers() {
    for bad in [
        &b"i-0e"[..],
        b"i03e",
        b"ie",
        b"i-e",
        b"i1.5e",
        b"i+1e",
        b"i 1e",
    ] {
        assert_eq!(err(bad), DecodeErrorKind::BadInteger, "{bad:?}");
    }
}

#[test]
fn rejects_bad_lengths() {
    assert_eq!(err(b"05:hello"), DecodeErrorKind::BadLength);
    assert_eq!(err(b"6:hello"), DecodeErrorKind::BadLength);
    assert_eq!(err(b"99999999999999999999:x"), DecodeErrorKind::BadLength);
}

#[test]
fn rejects_structure_errors() {
    assert_eq!(err(b""), DecodeErrorKind::UnexpectedEnd);
    assert_eq!(err(b"l"), DecodeErrorKind::UnexpectedEnd);
    assert_eq!(err(b"d3:key"), DecodeErrorKind::UnexpectedEnd);
    assert_eq!(err(b"di1ei2ee"), DecodeErrorKind::NonStringKey);
    assert_eq!(err(b"x"), DecodeErrorKind::UnexpectedByte);
    assert_eq!(err(b"i1ei2e"), DecodeErrorKind::TrailingBytes);
    assert_eq!(decode(b"i1ei2e").unwrap_err().offset, 3);
}

#[test]
fn depth_is_capped() {
    let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
    assert!(decode(&ok).is_ok());
    let deep = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
    assert_eq!(err(&deep), DecodeErrorKind::TooDeep);
    // Far deeper input must fail fast rather than overflow the stack.
    let hostile = vec![b'l'; 1_000_000];
    assert_eq!(err(&hostile), DecodeErrorKind::TooDeep);
}

#[test]
fn encode_sorts_keys_and_stops_at_end() {
    let v = Value::Dict(vec![
        (b"zeta", Value::Int(1)),
        (b"alpha", Value::Bytes(b"x")),
        (b"mid", Value::List(vec![Value::Int(-3)])),
    ]);
    assert_eq!(v.encode(), b"d5:alpha1:x3:midli-3ee4:zetai1ee".to_vec());
}

#[test]
fn encoder_writes_tokens() {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.key_int(b"complete", 3);
    e.key_bytes(b"peers", &[1, 2, 3, 4, 0x1a, 0xe1]);
    e.bytes(b"z");
    e.begin_list();
    e.int(i64::MIN);
    e.end();
    e.end();
    assert_eq!(
        out,
        b"d8:completei3e5:peers6:\x01\x02\x03\x04\x1a\xe11:zli-9223372036854775808eee".to_vec()
    );
}

#[test]
#[should_panic(expected = "out of order")]
#[cfg(debug_assertions)]
fn encoder_checks_key_order_in_debug() {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out);
    e.begin_dict();
    e.key_int(b"b", 1);
    e.key_int(b"a", 2);
}

fn arb_value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(OwnedValue::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..6
            )
            .prop_map(|m| OwnedValue::Dict(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum OwnedValue {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<OwnedValue>),
    Dict(Vec<(Vec<u8>, OwnedValue)>),
}

impl OwnedValue {
    fn borrow(&self) -> Value<'_> {
        match self {
            OwnedValue::Int(n) => Value::Int(*n),
            OwnedValue::Bytes(b) => Value::Bytes(b),
            OwnedValue::List(items) => Value::List(items.iter().map(Self::borrow).collect()),
            OwnedValue::Dict(e) => {
                Value::Dict(e.iter().map(|(k, v)| (&k[..], v.borrow())).collect())
            }
        }
    }
}

proptest! {
    #[test]
    fn round_trip(v in arb_value()) {
        let value = v.borrow();
        let bytes = value.encode();
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(v) = decode(&bytes) {
            // Whatever decodes must be canonical apart from key order.
            prop_assert_eq!(decode(&v.encode()).unwrap().encode(), v.encode());
        }
    }

    #[test]
    fn structured_garbage_never_panics(bytes in proptest::collection::vec(
        prop_oneof![Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'), Just(b'-'), Just(b'0'), Just(b'1'), Just(b'9')],
        0..64,
    )) {
        let _ = decode(&bytes);
    }
}

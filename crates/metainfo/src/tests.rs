use proptest::prelude::*;
use shoal_bencode::Value;

use crate::create::{self, create, CreateError, FileEntry, Options};
use crate::*;

const L: Limits = Limits::DEFAULT;

fn b(s: &str) -> Value<'_> {
    Value::Bytes(s.as_bytes())
}

fn path_value<'a>(components: &[&'a [u8]]) -> Value<'a> {
    Value::List(components.iter().map(|c| Value::Bytes(c)).collect())
}

fn file<'a>(components: &[&'a [u8]], len: i64) -> Value<'a> {
    Value::Dict(vec![
        (b"length", Value::Int(len)),
        (b"path", path_value(components)),
    ])
}

const PIECES_1: &[u8] = &[9u8; 20];
const PIECES_2: &[u8] = &[9u8; 40];

/// A v1 multi-file info dict with the given files, piece length 16 KiB and as many
/// piece hashes as the total needs.
fn v1_multi(files: Vec<Value<'_>>, pieces: &[u8]) -> Vec<u8> {
    Value::Dict(vec![
        (b"files", Value::List(files)),
        (b"name", b("dir")),
        (b"piece length", Value::Int(16384)),
        (b"pieces", Value::Bytes(pieces)),
    ])
    .encode()
}

fn v1_single(extra: Vec<(&[u8], Value<'_>)>) -> Vec<u8> {
    let mut entries = vec![
        (&b"length"[..], Value::Int(5)),
        (b"name", b("a.txt")),
        (b"piece length", Value::Int(16384)),
        (b"pieces", Value::Bytes(PIECES_1)),
    ];
    for (k, v) in extra {
        entries.retain(|(key, _)| *key != k);
        entries.push((k, v));
    }
    Value::Dict(entries).encode()
}

fn err(bytes: &[u8]) -> MetainfoError {
    Info::parse(bytes, &L).unwrap_err()
}

#[test]
fn v1_single_file_fields() {
    let info = Info::parse(&v1_single(vec![]), &L).unwrap();
    assert_eq!(info.name, "a.txt");
    assert_eq!(info.piece_length, 16384);
    assert!(!info.private && !info.multi_file);
    assert_eq!(info.version(), Version::V1);
    assert_eq!(info.files.len(), 1);
    assert_eq!(info.files[0].path, ["a.txt"]);
    assert_eq!(
        (info.total_size(), info.file_count(), info.piece_count()),
        (5, 1, 1)
    );
    assert_eq!(info.safe_name(), Some("a.txt"));
}

#[test]
fn private_source_and_attrs_are_read() {
    let bytes = v1_single(vec![
        (b"private", Value::Int(1)),
        (b"source", b("TRK")),
        (b"attr", b("xh")),
    ]);
    let info = Info::parse(&bytes, &L).unwrap();
    assert!(info.private);
    assert_eq!(info.source.as_deref(), Some("TRK"));
    let a = info.files[0].attrs;
    assert!(a.executable && a.hidden && !a.symlink);
    assert!(
        !Info::parse(&v1_single(vec![(b"private", Value::Int(0))]), &L)
            .unwrap()
            .private
    );
}

#[test]
fn v1_multi_file_with_padding_and_symlink() {
    let pad = Value::Dict(vec![
        (b"attr", b("p")),
        (b"length", Value::Int(16384 - 100)),
        (b"path", path_value(&[b".pad", b"16284"])),
    ]);
    let link = Value::Dict(vec![
        (b"attr", b("l")),
        (b"length", Value::Int(0)),
        (b"path", path_value(&[b"link"])),
        (b"symlink path", path_value(&[b"sub", b"b"])),
    ]);
    let old_pad = file(&[b"_____padding_file_0_"], 10);
    let files = vec![
        file(&[b"a"], 100),
        pad,
        file(&[b"sub", b"b"], 20),
        link,
        old_pad,
    ];
    let info = Info::parse(&v1_multi(files, PIECES_2), &L).unwrap();
    assert!(info.multi_file);
    assert_eq!(info.files.len(), 5);
    assert_eq!(info.file_count(), 3);
    assert_eq!(info.total_size(), 120);
    assert!(info.files[1].padding && info.files[4].padding);
    assert_eq!(info.files[2].path, ["sub", "b"]);
    assert!(info.files[3].attrs.symlink);
    assert_eq!(
        info.files[3].symlink_path,
        Some(vec![b"sub".to_vec(), b"b".to_vec()])
    );
}

#[test]
fn hostile_paths_are_kept_for_display_but_never_given_as_paths() {
    let hostile: [&[u8]; 8] = [
        b"..",
        b".",
        b"",
        b"/etc",
        b"a\\b",
        b"nul\0",
        b"\xff\xfe",
        b"esc\x1b[31m",
    ];
    let files = hostile.iter().map(|c| file(&[b"ok", c], 1)).collect();
    let info = Info::parse(&v1_multi(files, PIECES_1), &L).unwrap();
    for f in &info.files {
        assert_eq!(f.safe_path(), None, "{:?}", f.raw_path);
        assert!(!f.display_path().chars().any(char::is_control));
    }
    assert_eq!(info.files[6].path[1], "\u{FFFD}\u{FFFD}");
    assert_eq!(info.files[7].path[1], "esc\u{FFFD}[31m");
    assert_eq!(info.files[0].raw_path[1], b"..");
    let ok = Info::parse(&v1_multi(vec![file(&[b"d", b"f.txt"], 1)], PIECES_1), &L).unwrap();
    assert_eq!(
        ok.files[0].safe_path(),
        Some(std::path::PathBuf::from("d/f.txt"))
    );
    let bad_name = v1_single(vec![(b"name", b(".."))]);
    assert_eq!(Info::parse(&bad_name, &L).unwrap().safe_name(), None);
}

#[test]
fn structural_errors() {
    assert!(matches!(err(b"le"), MetainfoError::WrongType("info")));
    assert!(matches!(
        err(b"d4:name1:ae"),
        MetainfoError::Missing("pieces")
    ));
    assert!(matches!(err(b"i1e1"), MetainfoError::Bencode(_)));
    let no_name = Value::Dict(vec![(b"pieces", Value::Bytes(b""))]).encode();
    assert!(matches!(err(&no_name), MetainfoError::Missing("name")));
    let both = v1_single(vec![(b"files", Value::List(vec![]))]);
    assert!(matches!(
        err(&both),
        MetainfoError::Invalid { field: "files", .. }
    ));
    let neither = Value::Dict(vec![
        (b"name", b("x")),
        (b"piece length", Value::Int(16384)),
        (b"pieces", Value::Bytes(b"")),
    ])
    .encode();
    assert!(matches!(err(&neither), MetainfoError::Missing("files")));
    let neg = v1_single(vec![(b"length", Value::Int(-1))]);
    assert!(matches!(
        err(&neg),
        MetainfoError::Invalid {
            field: "length",
            ..
        }
    ));
    let typed = v1_single(vec![(b"private", b("yes"))]);
    assert!(matches!(err(&typed), MetainfoError::WrongType("private")));
    let meta3 = v1_single(vec![(b"meta version", Value::Int(3))]);
    assert!(matches!(
        err(&meta3),
        MetainfoError::Invalid {
            field: "meta version",
            ..
        }
    ));
    let empty_path = v1_multi(vec![file(&[], 1)], PIECES_1);
    assert!(matches!(
        err(&empty_path),
        MetainfoError::Invalid { field: "path", .. }
    ));
}

#[test]
fn piece_length_and_pieces_must_fit() {
    for pl in [0, -16384, (256 << 20) + 1] {
        let e = err(&v1_single(vec![(b"piece length", Value::Int(pl))]));
        assert!(
            matches!(
                e,
                MetainfoError::Invalid {
                    field: "piece length",
                    ..
                }
            ),
            "{pl}"
        );
    }
    // v1 allows odd piece lengths, as libtorrent does.
    assert!(Info::parse(&v1_single(vec![(b"piece length", Value::Int(1000))]), &L).is_ok());
    let ragged = v1_single(vec![(b"pieces", Value::Bytes(&[1; 21]))]);
    assert!(matches!(
        err(&ragged),
        MetainfoError::Invalid {
            field: "pieces",
            ..
        }
    ));
    let too_many = v1_single(vec![(b"pieces", Value::Bytes(PIECES_2))]);
    assert!(matches!(
        err(&too_many),
        MetainfoError::Invalid {
            field: "pieces",
            ..
        }
    ));
    let none = v1_single(vec![(b"pieces", Value::Bytes(b""))]);
    assert!(matches!(
        err(&none),
        MetainfoError::Invalid {
            field: "pieces",
            ..
        }
    ));
}

#[test]
fn limits_are_enforced() {
    let tight = |f: fn(&mut Limits)| {
        let mut l = L;
        f(&mut l);
        l
    };
    let info = v1_multi(vec![file(&[b"a"], 1), file(&[b"b"], 1)], PIECES_1);
    let l = tight(|l| l.max_files = 1);
    assert!(matches!(
        Info::parse(&info, &l),
        Err(MetainfoError::Limit { what: "files", .. })
    ));
    let l = tight(|l| l.max_total_size = 1);
    assert!(matches!(
        Info::parse(&info, &l),
        Err(MetainfoError::Limit {
            what: "total size",
            ..
        })
    ));
    let l = tight(|l| l.max_info_bytes = 10);
    assert!(matches!(
        Info::parse(&info, &l),
        Err(MetainfoError::Limit { .. })
    ));
    let deep = v1_multi(vec![file(&[&b"a"[..]; 65], 1)], PIECES_1);
    assert!(matches!(
        err(&deep),
        MetainfoError::Limit {
            what: "path components",
            ..
        }
    ));
    let long = [b'x'; 256];
    let wide = v1_multi(vec![file(&[&long], 1)], PIECES_1);
    assert!(matches!(
        err(&wide),
        MetainfoError::Limit {
            what: "path component bytes",
            ..
        }
    ));
    let c = [b'x'; 255];
    let path = v1_multi(vec![file(&[&c[..]; 17], 1)], PIECES_1);
    assert!(matches!(
        err(&path),
        MetainfoError::Limit {
            what: "path bytes",
            ..
        }
    ));
    let name = [b'n'; 256];
    let long_name = v1_single(vec![(b"name", Value::Bytes(&name))]);
    assert!(matches!(err(&long_name), MetainfoError::Limit { .. }));
    // Total size overflow is a limit, not a wrap.
    let huge = v1_multi(vec![file(&[b"a"], i64::MAX), file(&[b"b"], i64::MAX)], b"");
    assert!(matches!(
        err(&huge),
        MetainfoError::Limit {
            what: "total size",
            ..
        }
    ));
}

fn leaf<'a>(len: i64, root: Option<&'a [u8]>) -> Value<'a> {
    let mut e = vec![(&b"length"[..], Value::Int(len))];
    if let Some(r) = root {
        e.push((b"pieces root", Value::Bytes(r)));
    }
    Value::Dict(vec![(b"", Value::Dict(e))])
}

fn v2_info(tree: Value<'_>, pl: i64) -> Vec<u8> {
    Value::Dict(vec![
        (b"file tree", tree),
        (b"meta version", Value::Int(2)),
        (b"name", b("dir")),
        (b"piece length", Value::Int(pl)),
    ])
    .encode()
}

#[test]
fn v2_file_tree_is_read_in_order_with_roots() {
    let r = [5u8; 32];
    let tree = Value::Dict(vec![
        (b"a", leaf(10, Some(&r))),
        (
            b"d",
            Value::Dict(vec![(b"e", leaf(0, None)), (b"f", leaf(3, Some(&r)))]),
        ),
    ]);
    let bytes = v2_info(tree, 16384);
    let info = Info::parse(&bytes, &L).unwrap();
    assert_eq!(info.version(), Version::V2);
    assert!(info.multi_file);
    let paths: Vec<_> = info.files.iter().map(File::display_path).collect();
    assert_eq!(paths, ["a", "d/e", "d/f"]);
    assert_eq!(info.files[0].pieces_root, Some(r));
    assert_eq!(info.files[1].pieces_root, None);
    assert_eq!(info.total_size(), 13);
    let h = Info::hashes(&bytes).unwrap();
    assert!(h.v1.is_none());
    assert_eq!(h.tracker_hash()[..], h.v2.unwrap()[..20]);
    assert_eq!(h.v2_truncated(), Some(h.tracker_hash()));
}

#[test]
fn v2_errors() {
    static R: [u8; 32] = [5u8; 32];
    let r = &R;
    let one = |l: Value<'static>| Value::Dict(vec![(b"a", l)]);
    for pl in [8192, 16384 * 3, 512 << 20] {
        let e = err(&v2_info(one(leaf(1, Some(&[5; 32]))), pl));
        assert!(
            matches!(
                e,
                MetainfoError::Invalid {
                    field: "piece length",
                    ..
                }
            ),
            "{pl}"
        );
    }
    let e = err(&v2_info(one(leaf(1, None)), 16384));
    assert!(matches!(e, MetainfoError::Missing("pieces root")));
    let e = err(&v2_info(one(leaf(1, Some(&r[..31]))), 16384));
    assert!(matches!(
        e,
        MetainfoError::Invalid {
            field: "pieces root",
            ..
        }
    ));
    let mixed = Value::Dict(vec![
        (b"", Value::Dict(vec![(b"length", Value::Int(0))])),
        (b"x", leaf(0, None)),
    ]);
    let e = err(&v2_info(one(mixed), 16384));
    assert!(matches!(
        e,
        MetainfoError::Invalid {
            field: "file tree",
            ..
        }
    ));
    let e = err(&v2_info(Value::Dict(vec![]), 16384));
    assert!(matches!(
        e,
        MetainfoError::Invalid {
            field: "file tree",
            ..
        }
    ));
}

/// A made torrent of `files` (path, content).
fn make(files: &[(&str, Vec<u8>)], multi: bool, options: &Options) -> Torrent {
    let entries: Vec<FileEntry> = files
        .iter()
        .map(|(p, c)| FileEntry {
            path: p.split('/').map(str::to_owned).collect(),
            size: c.len() as u64,
            executable: p.ends_with(".sh"),
        })
        .collect();
    let made = create(
        "root",
        &entries,
        multi,
        options,
        |i| Ok(&files[i].1[..]),
        |_| {},
    )
    .unwrap();
    Torrent {
        piece_layers: made.piece_layers,
        ..Torrent::from_info_bytes(made.info_bytes, &L).unwrap()
    }
}

fn opts(version: Version, piece_length: u64) -> Options {
    Options {
        version,
        piece_length: Some(piece_length),
        ..Options::default()
    }
}

#[test]
fn hybrid_pads_files_and_matches_v2_roots() {
    let files = [("b", vec![1u8; 40000]), ("a/x.sh", vec![2u8; 100])];
    let t = make(&files, true, &opts(Version::Hybrid, 16384));
    let info = &t.info;
    assert_eq!(info.version(), Version::Hybrid);
    let shown: Vec<_> = info
        .files
        .iter()
        .map(|f| (f.display_path(), f.size, f.padding))
        .collect();
    assert_eq!(
        shown,
        [
            ("a/x.sh".into(), 100, false),
            (".pad/16284".into(), 16284, true),
            ("b".into(), 40000, false),
            (".pad/9152".into(), 9152, true)
        ]
    );
    assert!(info.files[0].attrs.executable);
    assert!(info
        .files
        .iter()
        .all(|f| f.padding || f.pieces_root.is_some()));
    assert_eq!(info.piece_count(), 4);
    let h = t.hashes();
    assert!(h.v1.is_some() && h.v2.is_some());
    assert_eq!(h.tracker_hash(), h.v1.unwrap());
    // The piece layers were checked when parsed back.
    let again = Torrent::parse(&t.write(), &L).unwrap();
    assert_eq!(again, t);
}

#[test]
fn v2_merkle_roots_follow_bep52() {
    // One block: the root is the block's hash. Two blocks: the parent of both.
    let small = make(&[("f", vec![7u8; 100])], false, &opts(Version::V2, 16384));
    let h0: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        [7u8; 100],
    ))
    .into();
    assert_eq!(small.info.files[0].pieces_root, Some(h0));
    let content: Vec<u8> = (0..20000u32).map(|i| i as u8).collect();
    let two = make(&[("f", content.clone())], false, &opts(Version::V2, 32768));
    let leaf = |d: &[u8]| -> [u8; 32] { <sha2::Sha256 as sha2::Digest>::digest(d).into() };
    let expect = merkle::parent(&leaf(&content[..16384]), &leaf(&content[16384..]));
    assert_eq!(two.info.files[0].pieces_root, Some(expect));
    assert!(
        two.piece_layers.as_deref() == Some(&b"de"[..]),
        "one piece: no layer"
    );
    // Three pieces of one block each: the layer is the leaves, the root pads with zero.
    let three = make(
        &[("f", content.repeat(2))],
        false,
        &opts(Version::V2, 16384),
    );
    let c = content.repeat(2);
    let leaves = [leaf(&c[..16384]), leaf(&c[16384..32768]), leaf(&c[32768..])];
    let root = merkle::parent(
        &merkle::parent(&leaves[0], &leaves[1]),
        &merkle::parent(&leaves[2], &[0; 32]),
    );
    assert_eq!(three.info.files[0].pieces_root, Some(root));
}

#[test]
fn piece_layers_that_do_not_hash_to_the_root_are_rejected() {
    let t = make(&[("f", vec![3u8; 50000])], false, &opts(Version::V2, 16384));
    let mut bad = t.clone();
    let mut layers = t.piece_layers.clone().unwrap();
    let n = layers.len();
    layers[n - 2] ^= 1;
    bad.piece_layers = Some(layers);
    let e = Torrent::parse(&bad.write(), &L).unwrap_err();
    assert!(matches!(
        e,
        MetainfoError::Invalid {
            field: "piece layers",
            ..
        }
    ));
    bad.piece_layers = Some(b"de".to_vec());
    assert!(Torrent::parse(&bad.write(), &L).is_err());
    bad.piece_layers = None;
    assert!(Torrent::parse(&bad.write(), &L).is_ok());
}

#[test]
fn torrent_fields_round_trip_and_info_is_hashed_as_written() {
    // Keys out of order: the v1 hash is over these bytes, not a canonical re-encoding.
    let mut info = b"d4:name5:a.txt6:lengthi5e12:piece lengthi16384e6:pieces20:".to_vec();
    info.extend_from_slice(&[7; 20]);
    info.push(b'e');
    let mut file = b"d8:announce3:u:113:announce-listll3:u:13:u:2el3:u:3ee7:comment2:hi10:created by2:me13:creation datei17e4:info".to_vec();
    file.extend_from_slice(&info);
    file.extend_from_slice(b"8:url-list6:http:/e");
    let t = Torrent::parse(&file, &L).unwrap();
    assert_eq!(t.announce.as_deref(), Some("u:1"));
    assert_eq!(t.announce_list, [vec!["u:1", "u:2"], vec!["u:3"]]);
    assert_eq!(t.trackers(), ["u:1", "u:2", "u:3"]);
    assert_eq!(t.url_list, ["http:/"]);
    assert_eq!(t.comment.as_deref(), Some("hi"));
    assert_eq!(t.created_by.as_deref(), Some("me"));
    assert_eq!(t.creation_date, Some(17));
    assert_eq!(t.info_bytes, info);
    assert_eq!(t.hashes().v1, Some(sha1_of(&info)));
    assert_ne!(
        t.hashes().v1,
        Some(sha1_of(&shoal_bencode::decode(&info).unwrap().encode()))
    );
    let again = Torrent::parse(&t.write(), &L).unwrap();
    assert_eq!(again, t);
    assert_eq!(again.info_bytes, info);
    for urls in [vec![], vec![String::new()], vec!["a".into(), "b".into()]] {
        let t = Torrent {
            url_list: urls,
            ..t.clone()
        };
        assert_eq!(Torrent::parse(&t.write(), &L).unwrap(), t);
    }
}

#[test]
fn torrent_errors() {
    let info = v1_single(vec![]);
    let with = |pre: &[u8], post: &[u8]| {
        let mut f = pre.to_vec();
        f.extend_from_slice(b"4:info");
        f.extend_from_slice(&info);
        f.extend_from_slice(post);
        Torrent::parse(&f, &L)
    };
    assert!(with(b"d", b"e").is_ok());
    assert!(matches!(with(b"d", b"ee"), Err(MetainfoError::Bencode(_))));
    assert!(matches!(with(b"d", b""), Err(MetainfoError::Bencode(_))));
    assert!(matches!(
        with(b"d8:announcei1e", b"e"),
        Err(MetainfoError::WrongType("announce"))
    ));
    assert!(matches!(
        with(b"d13:announce-listl1:ae", b"e"),
        Err(MetainfoError::WrongType(_))
    ));
    assert!(matches!(
        with(b"d13:creation date1:x", b"e"),
        Err(MetainfoError::WrongType(_))
    ));
    assert!(matches!(
        Torrent::parse(b"de", &L),
        Err(MetainfoError::Missing("info"))
    ));
    assert!(matches!(
        Torrent::parse(b"", &L),
        Err(MetainfoError::Bencode(_))
    ));
    assert!(matches!(
        Torrent::parse(b"le", &L),
        Err(MetainfoError::Invalid { .. })
    ));
    assert!(matches!(
        Torrent::parse(b"di1ei2ee", &L),
        Err(MetainfoError::Bencode(_))
    ));
}

const HEX: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn magnet_v1_hex_and_base32_with_name_trackers_and_size() {
    let m = Magnet::parse(&format!(
        "magnet:?xt=urn:btih:{}&dn=My+File%20%C3%A9&tr=udp%3A%2F%2Ft%3A1&tr=http://t/a&tr=udp%3A%2F%2Ft%3A1&xl=42",
        HEX.to_uppercase()
    ))
    .unwrap();
    assert_eq!(m.info_hashes.v1, from_hex(HEX));
    assert_eq!(m.name.as_deref(), Some("My File é"));
    assert_eq!(m.trackers, ["udp://t:1", "http://t/a"]);
    assert_eq!(m.size, Some(42));
    let b32 = Magnet::parse("magnet:?xt=urn:btih:AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH").unwrap();
    assert_eq!(b32.info_hashes.v1, from_hex(HEX));
    assert_eq!(Magnet::parse(&m.to_string()).unwrap(), m);
}

#[test]
fn magnet_v2_and_hybrid() {
    let v2 = "1220".to_owned() + &"ab".repeat(32);
    let m = Magnet::parse(&format!("magnet:?xt=urn:btmh:{v2}")).unwrap();
    assert_eq!(m.info_hashes.v2, Some([0xab; 32]));
    assert_eq!(m.info_hashes.tracker_hash(), [0xab; 20]);
    let h = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&xt.2=urn:btmh:{v2}")).unwrap();
    assert!(h.info_hashes.v1.is_some() && h.info_hashes.v2.is_some());
    assert_eq!(Magnet::parse(&h.to_string()).unwrap(), h);
}

#[test]
fn magnet_errors() {
    use MagnetError::*;
    let e = |s: &str| Magnet::parse(s).unwrap_err();
    assert_eq!(e("http://x"), NotMagnet);
    assert_eq!(e("magnet:?dn=x"), NoHash);
    assert_eq!(e("magnet:?xt=urn:ed2k:abc"), NoHash);
    assert!(matches!(e("magnet:?xt=urn:btih:xyz"), BadHash(_)));
    assert!(matches!(
        e(&format!("magnet:?xt=urn:btih:{}", "g".repeat(40))),
        BadHash(_)
    ));
    assert!(matches!(
        e("magnet:?xt=urn:btih:11111111111111111111111111111111"),
        BadHash(_)
    ));
    assert!(matches!(
        e(&format!("magnet:?xt=urn:btmh:1320{}", "0".repeat(64))),
        BadHash(_)
    ));
    let two = format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}", "0".repeat(40));
    assert_eq!(e(&two), ConflictingHashes);
    assert_eq!(
        e(&format!("magnet:?xt=urn:btih:{HEX}&dn=%4")),
        BadEncoding("dn")
    );
    assert_eq!(
        e(&format!("magnet:?xt=urn:btih:{HEX}&tr=%FF")),
        BadEncoding("tr")
    );
    assert_eq!(e(&format!("magnet:?xt=urn:btih:{HEX}&xl=-1")), BadSize);
    assert_eq!(
        e(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn={}",
            "a".repeat(70000)
        )),
        TooLong
    );
}

#[test]
fn piece_length_is_chosen_like_libtorrent() {
    // Measured with libtorrent 2.0.8's create_torrent(fs, 0).
    for (size, want) in [
        (1u64, 16384u64),
        (2 << 20, 16384),
        (10 << 20, 32768),
        (100 << 20, 131072),
        (1 << 30, 524288),
        (4 << 30, 1 << 20),
        (64 << 30, 4 << 20),
        (1 << 40, 16 << 20),
        (5 << 40, 16 << 20),
    ] {
        assert_eq!(create::piece_length_for(size), want, "{size}");
    }
}

#[test]
fn create_refuses_bad_layouts() {
    let e = |paths: &[&str], multi: bool| {
        let entries: Vec<FileEntry> = paths
            .iter()
            .map(|p| FileEntry {
                path: p.split('/').map(str::to_owned).collect(),
                size: 0,
                executable: false,
            })
            .collect();
        create(
            "n",
            &entries,
            multi,
            &Options::default(),
            |_| Ok(&b""[..]),
            |_| {},
        )
        .unwrap_err()
    };
    assert!(matches!(e(&["a", "a"], true), CreateError::PathClash(_)));
    assert!(matches!(e(&["a", "a/b"], true), CreateError::PathClash(_)));
    assert!(matches!(e(&["..", "b"], true), CreateError::BadPath(_)));
    assert!(matches!(e(&["a", "b"], false), CreateError::Layout(_)));
    assert!(matches!(e(&[], true), CreateError::Layout(_)));
    let one = [FileEntry {
        path: vec!["f".into()],
        size: 5,
        executable: false,
    }];
    let with = |options: &Options, content: &'static [u8]| {
        create("n", &one, true, options, |_| Ok(content), |_| {}).unwrap_err()
    };
    let short = with(&Options::default(), b"abc");
    assert!(matches!(short, CreateError::SizeChanged(_)));
    let long = with(&Options::default(), b"abcdef");
    assert!(matches!(long, CreateError::SizeChanged(_)));
    let pl = with(&opts(Version::V1, 1000), b"abcde");
    assert!(matches!(pl, CreateError::PieceLength(1000)));
    let gone = |_| Err::<&[u8], _>(std::io::Error::other("gone"));
    let io = create("n", &one, true, &Options::default(), gone, |_| {});
    assert!(matches!(io, Err(CreateError::Io { .. })));
}

fn version_strategy() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1), Just(Version::V2), Just(Version::Hybrid)]
}

/// Up to 6 files with distinct paths of 1 to 3 short components (no file is another's
/// directory), each up to 70,000 bytes of one repeated byte.
fn files_strategy() -> impl Strategy<Value = Vec<(Vec<String>, usize, u8)>> {
    prop::collection::btree_map(
        prop::collection::vec("[a-zé]{1,3}", 1..=3),
        (0usize..70_000, any::<u8>()),
        1..6,
    )
    .prop_map(|m| {
        let mut out: Vec<(Vec<String>, usize, u8)> = Vec::new();
        for (p, (size, byte)) in m {
            let clash = out
                .iter()
                .any(|(q, _, _)| q.starts_with(&p) || p.starts_with(q));
            if !clash {
                out.push((p, size, byte));
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn made_torrents_round_trip_through_write_and_parse(
        files in files_strategy(),
        version in version_strategy(),
        multi in any::<bool>(),
        pl_exp in 14u32..17,
        private in any::<bool>(),
        trackers in prop::collection::vec("(udp|http)://[a-z]{1,8}\\.example:[0-9]{2,4}/announce", 0..4),
        comment in prop::option::of("[ -~é\n]{0,20}"),
    ) {
        let files = if multi { files } else { files[..1].to_vec() };
        let contents: Vec<Vec<u8>> = files.iter().map(|(_, n, b)| vec![*b; *n]).collect();
        let entries: Vec<FileEntry> = files
            .iter()
            .map(|(p, n, _)| FileEntry { path: p.clone(), size: *n as u64, executable: false })
            .collect();
        let options = Options { version, piece_length: Some(1 << pl_exp), private, source: None };
        let made = create("top", &entries, multi, &options, |i| Ok(&contents[i][..]), |_| {}).unwrap();
        let t = Torrent {
            announce: trackers.first().cloned(),
            announce_list: trackers.iter().map(|t| vec![t.clone()]).collect(),
            comment,
            creation_date: Some(1_700_000_000),
            piece_layers: made.piece_layers,
            ..Torrent::from_info_bytes(made.info_bytes, &L).unwrap()
        };
        let bytes = t.write();
        let parsed = Torrent::parse(&bytes, &L).unwrap();
        prop_assert_eq!(&parsed, &t);
        prop_assert_eq!(parsed.write(), bytes);
        prop_assert_eq!(parsed.hashes(), Info::hashes(&t.info_bytes).unwrap());
        prop_assert_eq!(parsed.info.version(), version);
        prop_assert_eq!(parsed.info.private, private);
        prop_assert_eq!(parsed.info.total_size(), contents.iter().map(|c| c.len() as u64).sum::<u64>());
        prop_assert_eq!(parsed.info.file_count(), files.len());
        let mut want: Vec<Vec<String>> = if multi {
            files.iter().map(|f| f.0.clone()).collect()
        } else {
            vec![vec!["top".to_owned()]]
        };
        want.sort_by(|a, b| a.iter().map(|c| c.as_bytes()).cmp(b.iter().map(|c| c.as_bytes())));
        let got: Vec<Vec<String>> = parsed.info.content().map(|f| f.path.clone()).collect();
        prop_assert_eq!(got, want);
        let magnet = Magnet::from_torrent(&parsed);
        prop_assert_eq!(Magnet::parse(&magnet.to_string()).unwrap(), magnet);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Info::parse(&bytes, &L);
        let _ = Info::hashes(&bytes);
        let _ = Torrent::parse(&bytes, &L);
        let _ = Magnet::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_torrents_never_panic(
        files in files_strategy(),
        version in version_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let contents: Vec<Vec<u8>> = files.iter().map(|(_, n, b)| vec![*b; (*n).min(40_000)]).collect();
        let entries: Vec<FileEntry> = files
            .iter()
            .zip(&contents)
            .map(|((p, _, _), c)| FileEntry { path: p.clone(), size: c.len() as u64, executable: true })
            .collect();
        let options = Options { version, piece_length: Some(16384), ..Options::default() };
        let made = create("top", &entries, true, &options, |i| Ok(&contents[i][..]), |_| {}).unwrap();
        let mut bytes = Torrent { piece_layers: made.piece_layers, ..Torrent::from_info_bytes(made.info_bytes, &L).unwrap() }.write();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let _ = Torrent::parse(&bytes, &L);
    }
}

#[test]
fn the_private_flag_changes_the_hash_and_keeps_the_rest() {
    let info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
    let private = crate::with_private_flag(info, Some("shoal")).unwrap();
    assert_eq!(
        &private[..],
        &b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:privatei1e6:source5:shoale"[..]
    );
    let parsed = crate::Info::parse(&private, &crate::Limits::default()).unwrap();
    assert!(parsed.private);
    // Already private with that source: the same bytes, the same hash.
    assert_eq!(
        crate::with_private_flag(&private, Some("shoal")).unwrap(),
        private
    );
    // private = 0 becomes 1, in place.
    let zero = b"d4:name1:a7:privatei0ee";
    assert_eq!(
        crate::with_private_flag(zero, None).unwrap(),
        b"d4:name1:a7:privatei1ee"
    );
    assert!(crate::with_private_flag(b"li1ee", None).is_err());
    assert!(crate::with_private_flag(b"d4:name", None).is_err());
}

//! Files made by libtorrent 2.0 and mktorrent (tests/data/make.py) parse to the
//! info-hashes, names, piece lengths and file lists libtorrent reports
//! (tests/data/expected.json), and write back byte for byte.

use std::path::Path;

use serde_json::Value as Json;
use shoal_metainfo::{to_hex, Limits, Magnet, Torrent, Version};

fn data(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected() -> serde_json::Map<String, Json> {
    let text = String::from_utf8(data("expected.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Json::Object(m) => m,
        _ => panic!("expected.json is not an object"),
    }
}

#[test]
fn every_file_parses_to_what_libtorrent_reports() {
    let all = expected();
    let mut checked = 0;
    for (name, want) in all.iter().filter(|(n, _)| n.ends_with(".torrent")) {
        let bytes = data(name);
        let t =
            Torrent::parse(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = t.hashes();
        assert_eq!(
            h.v1.map(|h| to_hex(&h)).as_deref(),
            want["v1"].as_str(),
            "{name} v1"
        );
        assert_eq!(
            h.v2.map(|h| to_hex(&h)).as_deref(),
            want["v2"].as_str(),
            "{name} v2"
        );
        let version = match (h.v1.is_some(), h.v2.is_some()) {
            (true, false) => Version::V1,
            (false, true) => Version::V2,
            _ => Version::Hybrid,
        };
        assert_eq!(t.info.version(), version, "{name}");
        assert_eq!(t.info.name, want["name"].as_str().unwrap(), "{name}");
        assert_eq!(
            Some(t.info.piece_length),
            want["piece_length"].as_u64(),
            "{name}"
        );
        assert_eq!(Some(t.info.private), want["private"].as_bool(), "{name}");
        // libtorrent counts padding in its total and lists pad files of its own for v2
        // torrents (which have none in the file): compare content files, and for v1
        // and hybrid the whole list.
        let lt_files: Vec<(String, u64, bool)> = want["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    f["size"].as_u64().unwrap(),
                    f["pad"].as_bool().unwrap(),
                )
            })
            .filter(|f| version.has_v1() || !f.2)
            .collect();
        let ours: Vec<(String, u64, bool)> = t
            .info
            .files
            .iter()
            .map(|f| {
                let p = f.display_path();
                let p = if t.info.multi_file {
                    format!("{}/{p}", t.info.name)
                } else {
                    p
                };
                (p, f.size, f.padding)
            })
            .collect();
        assert_eq!(ours, lt_files, "{name}");
        let content: u64 = lt_files.iter().filter(|f| !f.2).map(|f| f.1).sum();
        assert_eq!(t.info.total_size(), content, "{name}");
        if version.has_v1() {
            assert_eq!(
                Some(t.info.piece_count()),
                want["num_pieces"].as_u64(),
                "{name}"
            );
        }
        assert!(
            t.info
                .files
                .iter()
                .all(|f| f.padding || f.safe_path().is_some()),
            "{name}"
        );
        // libtorrent's magnet link names the same hashes.
        let m = Magnet::parse(want["magnet"].as_str().unwrap()).unwrap();
        assert_eq!(m.info_hashes, h, "{name} magnet");
        assert_eq!(m.name.as_deref(), Some(t.info.name.as_str()));
        // Written back from its parts, the file is the same bytes.
        assert!(t.write() == bytes, "{name} written back differs");
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn libtorrent_trackers_web_seeds_and_comment_are_read() {
    let t = Torrent::parse(&data("lt_hybrid.torrent"), &Limits::default()).unwrap();
    assert_eq!(
        t.announce.as_deref(),
        Some("udp://tracker.example:6969/announce")
    );
    assert_eq!(
        t.trackers(),
        [
            "udp://tracker.example:6969/announce",
            "http://backup.example/announce"
        ]
    );
    assert_eq!(t.announce_list.len(), 2);
    assert_eq!(t.url_list, ["http://seed.example/files/"]);
    assert_eq!(t.comment.as_deref(), Some("made by make.py"));
    assert_eq!(t.creation_date, Some(1_700_000_000));
    assert!(t.created_by.unwrap().starts_with("libtorrent"));
    assert!(t.piece_layers.is_some());
    let m = Torrent::parse(&data("mktorrent_multi.torrent"), &Limits::default()).unwrap();
    assert!(m.info.private);
    assert_eq!(m.url_list, ["http://seed.example/"]);
    assert_eq!(m.creation_date, None);
}

//! The content preview's test payload (a 1 MiB video, a JPEG cover, a CP1251 `.nfo`, a
//! UTF-8 readme), its torrents, and a Rust test peer that seeds one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{eventually_for, get, ok, Server};

pub const NFO_TEXT: &str = "Релиз: фильм о море.\r\nКачество: хорошее, звук русский.\r\n";
pub const README: &str = "Hello — UTF-8 readme ✓\n";
/// The preview section's heading in each language of the pages.
pub const HEADINGS: [(&str, &str); 4] = [
    ("en", "Preview"),
    ("ru", "Предпросмотр"),
    ("uk", "Попередній перегляд"),
    ("zh", "预览"),
];
/// The admin token of [`serve`]'s shoal.
pub const TOKEN: &str = "preview-test-token-0123456789";

/// shoal with HTTP on 127.0.0.1, the catalog dialing loopback peers, and the preview
/// `on` or off.
pub fn serve(preview: bool) -> Server {
    let dir = super::temp_dir("preview-cfg");
    let cfg = dir.join("shoal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[catalog]\ndial_private = true\ndials_per_address_per_minute = 600\n\
             retry_base = 1\nretry_max = 2\nconnect_timeout = 2\npreview = {preview}\n\
             preview_timeout = 10\npreview_retry = 1\n[admin]\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    Server::start_with(&[], &["127.0.0.1:0"], &["--config", cfg.to_str().unwrap()])
}

/// The payload's files: (name, bytes).
pub fn payload() -> Vec<(&'static str, Vec<u8>)> {
    let video: Vec<u8> = (0..1u32 << 20)
        .map(|i| i.wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    let cover = {
        let img = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let nfo = encoding_rs::WINDOWS_1251.encode(NFO_TEXT).0.into_owned();
    vec![
        ("video.mkv", video),
        ("cover.jpg", cover),
        ("release.nfo", nfo),
        ("readme.txt", README.as_bytes().to_vec()),
    ]
}

/// Writes the payload under `dir/Sea film` and makes a torrent of it (`--v1` or
/// `--hybrid`, 16 KiB pieces) at `dir/<kind>.torrent`.
pub fn make(dir: &Path, kind: &str) -> PathBuf {
    let top = dir.join("Sea film");
    std::fs::create_dir_all(&top).unwrap();
    for (name, bytes) in payload() {
        std::fs::write(top.join(name), bytes).unwrap();
    }
    let file = dir.join(format!("{kind}.torrent"));
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    ok(&super::shoal(&[
        "torrent",
        "create",
        &format!("--{kind}"),
        "--piece-length",
        "16K",
        "-o",
        &path(&file),
        &path(&top),
    ]));
    file
}

/// `shoal torrent show --json FILE`.
pub fn show(file: &Path) -> Value {
    let out = super::shoal(&["torrent", "show", "--json", file.to_str().unwrap()]);
    serde_json::from_str(&ok(&out)).unwrap()
}

/// A Rust test peer on `runtime` seeding the v1 torrent `file` that [`make`] wrote in
/// `dir`, its piece `corrupt` (if any) sent corrupt: its address. It serves until the
/// runtime shuts down.
pub fn rust_seeder(
    runtime: &tokio::runtime::Runtime,
    file: &Path,
    dir: &Path,
    corrupt: Option<u32>,
) -> SocketAddr {
    let torrent =
        shoal_metainfo::Torrent::parse(&std::fs::read(file).unwrap(), &Default::default()).unwrap();
    // The piece space: the files in torrent order, padding as zeros.
    let mut content = Vec::new();
    for f in &torrent.info.files {
        if f.padding {
            content.resize(content.len() + f.size as usize, 0);
        } else {
            content.extend(std::fs::read(dir.join("Sea film").join(f.display_path())).unwrap());
        }
    }
    runtime.block_on(shoal_peer::testing::start(
        torrent.hashes().v1.expect("a v1 torrent"),
        shoal_peer::testing::Peer::Seeder {
            info: torrent.info_bytes,
            piece_length: torrent.info.piece_length as u32,
            content: Arc::new(content),
            corrupt,
        },
    ))
}

/// `/api/catalog/<hex>`'s preview once it is settled.
pub fn wait_preview(server: &Server, hex: &str) -> Value {
    let addr = server.http_addr(false);
    eventually_for(
        &format!("the preview of {hex}"),
        Duration::from_secs(90),
        || {
            let (status, body) = get(addr, &format!("/api/catalog/{hex}"));
            let v: Value = serde_json::from_str(&body).ok()?;
            (status == 200 && v["preview"]["state"] == "done").then(|| v["preview"].clone())
        },
    )
}

/// The file whose path ends with `name` in a [`wait_preview`] answer.
pub fn file<'a>(preview: &'a Value, name: &str) -> &'a Value {
    preview["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no {name} in {preview}"))
}

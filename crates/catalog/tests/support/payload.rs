//! The preview tests' and benchmark's torrents and catalog: the payload (a
//! 1 MiB video, a JPEG cover, a CP1251 `.nfo`, a UTF-8 readme) made into a real torrent
//! by `shoal_metainfo::create`, its piece space served by a test seeder on 127.0.0.1
//! announced to a real `Engine`, and a real catalog with the preview on a SQLite store.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shoal_catalog::dial::DialPolicy;
use shoal_catalog::fetcher::PeerFetcher;
use shoal_catalog::preview::PreviewConfig;
use shoal_catalog::resolver::ResolverConfig;
use shoal_catalog::{Catalog, CatalogConfig, CatalogHandle};
use shoal_engine::{
    Announce, AnnounceEvent, Engine, EngineConfig, InfoHash, PeerAddrV4, PeerId, Secs,
};
use shoal_peer::testing::{sha1, start, Peer};
use shoal_peer::{FetchOptions, PieceOptions};
use shoal_store::SqliteStore;

use shoal_metainfo::create::{create, FileEntry, Options};
use shoal_metainfo::{Info, InfoHashes, Limits, Version};

/// Piece length of the tests' torrents.
pub const PIECE: u64 = 16 * 1024;

/// The payload, the same every time.
pub fn files() -> Vec<(String, Vec<u8>)> {
    files_with(0)
}

/// The payload, its cover and texts made different by `seed` (so torrents built with
/// other seeds share no file).
pub fn files_with(seed: u32) -> Vec<(String, Vec<u8>)> {
    let mut video = vec![0u8; 1 << 20];
    for (i, b) in video.iter_mut().enumerate() {
        *b = (i as u32 ^ seed).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    let tint = (128 + seed) as u8;
    let cover = {
        let img = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb([x as u8, y as u8, tint]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let mut nfo_text = "Релиз: фильм о море.\r\nКачество: хорошее, звук русский.\r\n".to_owned();
    let mut readme = "Hello — UTF-8 readme ✓\n".to_owned();
    if seed > 0 {
        nfo_text.push_str(&format!("Выпуск {seed}\r\n"));
        readme.push_str(&format!("release {seed}\n"));
    }
    let nfo = encoding_rs::WINDOWS_1251.encode(&nfo_text).0.into_owned();
    vec![
        ("video.mkv".into(), video),
        ("cover.jpg".into(), cover),
        ("release.nfo".into(), nfo),
        ("readme.txt".into(), readme.into_bytes()),
    ]
}

/// A torrent of `files`: its info dictionary, parsed info, tracker hash and piece space
/// (each file at its span, padding and alignment zero).
pub struct Made {
    pub info_bytes: Vec<u8>,
    pub info: Info,
    pub hash: [u8; 20],
    pub content: Arc<Vec<u8>>,
}

/// [`made_with`] at [`PIECE`].
pub fn made(files: &[(String, Vec<u8>)], version: Version) -> Made {
    made_with(files, version, PIECE)
}

/// A torrent named "preview test" of `files`, with `piece_length` pieces.
pub fn made_with(files: &[(String, Vec<u8>)], version: Version, piece_length: u64) -> Made {
    let entries: Vec<FileEntry> = files
        .iter()
        .map(|(name, data)| FileEntry {
            path: vec![name.clone()],
            size: data.len() as u64,
            executable: false,
        })
        .collect();
    let c = create(
        "preview test",
        &entries,
        true,
        &Options {
            version,
            piece_length: Some(piece_length),
            private: false,
            source: None,
        },
        |i| Ok(std::io::Cursor::new(files[i].1.clone())),
        |_| {},
    )
    .unwrap();
    let info = Info::parse(&c.info_bytes, &Limits::default()).unwrap();
    let spans = shoal_preview::plan::spans(&info);
    let mut content = vec![0u8; spans.last().unwrap().end as usize];
    for (f, span) in info.files.iter().zip(&spans) {
        if f.padding {
            continue;
        }
        let name = f.display_path();
        let (_, bytes) = files
            .iter()
            .find(|(n, _)| name.ends_with(n.as_str()))
            .unwrap();
        content[span.start as usize..span.end as usize].copy_from_slice(bytes);
    }
    let hash = InfoHashes::compute(&c.info_bytes, version).tracker_hash();
    Made {
        info_bytes: c.info_bytes,
        info,
        hash,
        content: Arc::new(content),
    }
}

/// The preview's settings for tests: default rules and bounds, files under
/// `dir/preview`, `disk_budget` bytes, short peer deadlines.
pub fn preview_config(dir: &Path, disk_budget: u64) -> PreviewConfig {
    PreviewConfig {
        rules: shoal_preview::Rules::default(),
        bounds: shoal_preview::picture::Bounds::default(),
        max_text_chars: 65_536,
        disk_budget,
        concurrent: 4,
        give_up_after: Duration::from_secs(20),
        retry: Duration::from_millis(200),
        dir: dir.join("preview"),
        session: PieceOptions {
            idle_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(10),
            ..PieceOptions::default()
        },
    }
}

/// A catalog on `dir/shoal.sqlite` over a fresh engine, dialing loopback, retrying
/// soon, with `preview`; and a runtime for the test seeders.
pub struct Parts {
    pub catalog: Catalog,
    pub handle: CatalogHandle,
    pub engine: Arc<Engine>,
    pub peers: tokio::runtime::Runtime,
}

pub fn catalog(dir: &Path, preview: Option<PreviewConfig>) -> Parts {
    let engine = Arc::new(Engine::new(
        EngineConfig {
            note_new_torrents: true,
            ..EngineConfig::default()
        },
        7,
    ));
    let store = SqliteStore::open(&dir.join("shoal.sqlite")).unwrap();
    let config = CatalogConfig {
        resolver: ResolverConfig {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(400),
            // Every seeder is on 127.0.0.1.
            dials_per_address_per_minute: 600,
            policy: DialPolicy {
                allow_private: true,
                allow: Vec::new(),
            },
            ..ResolverConfig::default()
        },
        max_metadata_bytes: 8 << 20,
        preview,
        ..CatalogConfig::default()
    };
    let fetcher = PeerFetcher {
        options: FetchOptions::default(),
    };
    let (catalog, handle) =
        Catalog::new(config, engine.clone(), Box::new(store), Arc::new(fetcher)).unwrap();
    let peers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    Parts {
        catalog,
        handle,
        engine,
        peers,
    }
}

impl Parts {
    /// Starts a seeder of `m` (sending piece `corrupt` corrupt) and announces it.
    pub fn seeder(&self, m: &Made, corrupt: Option<u32>) -> SocketAddr {
        let peer = Peer::Seeder {
            info: m.info_bytes.clone(),
            piece_length: m.info.piece_length as u32,
            content: m.content.clone(),
            corrupt,
        };
        let addr = self.peers.block_on(start(m.hash, peer));
        self.announce(m.hash, addr);
        addr
    }

    /// Announces `addr` as a seeder of `hash`.
    pub fn announce(&self, hash: [u8; 20], addr: SocketAddr) {
        let IpAddr::V4(ip) = addr.ip() else {
            unreachable!("the test peers listen on 127.0.0.1")
        };
        let a = Announce {
            info_hash: InfoHash(hash),
            peer: PeerAddrV4::new(ip, addr.port()),
            peer_id: PeerId(sha1(addr.to_string().as_bytes())),
            event: AnnounceEvent::Started,
            left: 0,
            num_want: Some(0),
            paused: false,
        };
        self.engine.announce(&a, Secs(1), &mut Vec::new());
    }
}

//! `shoal announce` and `shoal scrape`: a tracker client on the command line.

use std::time::Duration;

use serde_json::{json, Map, Value};
use shoal_client::{
    random_peer_id, AnnounceEvent, AnnounceParams, ClientError, ClientOptions, InfoHash, PeerId,
    Tracker,
};

use crate::Failure;

#[derive(clap::Args)]
pub struct AnnounceArgs {
    /// Tracker URL: udp://, http:// or https://, e.g. udp://127.0.0.1:6969/announce.
    url: String,
    /// Info-hash, 40 hex digits.
    #[arg(long, value_name = "HEX", value_parser = parse_hash)]
    info_hash: InfoHash,
    /// Port we claim to listen on.
    #[arg(long, default_value_t = 6881)]
    port: u16,
    /// started, completed, stopped (or none).
    #[arg(long, value_parser = parse_event, default_value = "started")]
    event: AnnounceEvent,
    /// Bytes left to download; 0 announces a seeder. Default: 0 with
    /// `--event completed`, else 1 (a leecher).
    #[arg(long)]
    left: Option<u64>,
    /// Bytes uploaded.
    #[arg(long, default_value_t = 0)]
    uploaded: u64,
    /// Bytes downloaded.
    #[arg(long, default_value_t = 0)]
    downloaded: u64,
    /// Peers wanted (default: the tracker's choice).
    #[arg(long)]
    numwant: Option<u32>,
    /// Peer id: 20 characters or 40 hex digits (default: random).
    #[arg(long, value_parser = parse_peer_id)]
    peer_id: Option<PeerId>,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
    /// Extra PEM CA certificate(s) to trust for https:// trackers.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub struct ScrapeArgs {
    /// Tracker URL, e.g. udp://127.0.0.1:6969/announce.
    url: String,
    /// Info-hashes, 40 hex digits each.
    #[arg(required = true, value_name = "HEX", value_parser = parse_hash)]
    info_hashes: Vec<InfoHash>,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
    /// Extra PEM CA certificate(s) to trust for https:// trackers.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
}

fn parse_hash(s: &str) -> Result<InfoHash, String> {
    InfoHash::from_hex(s).map_err(|_| format!("{s:?} is not 40 hex digits"))
}

fn parse_event(s: &str) -> Result<AnnounceEvent, String> {
    match s {
        "started" => Ok(AnnounceEvent::Started),
        "completed" => Ok(AnnounceEvent::Completed),
        "stopped" => Ok(AnnounceEvent::Stopped),
        "none" | "" => Ok(AnnounceEvent::None),
        _ => Err(format!(
            "{s:?} is not one of started, completed, stopped, none"
        )),
    }
}

fn parse_peer_id(s: &str) -> Result<PeerId, String> {
    if s.len() == 20 {
        let mut id = [0u8; 20];
        id.copy_from_slice(s.as_bytes());
        return Ok(PeerId(id));
    }
    InfoHash::from_hex(s)
        .map(|h| PeerId(h.0))
        .map_err(|_| format!("{s:?} is neither 20 characters nor 40 hex digits"))
}

fn options(timeout: f64, ca_file: Option<std::path::PathBuf>) -> Result<ClientOptions, Failure> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
        return Err(Failure::Usage(format!(
            "--timeout {timeout}: must be between 0 and 600 seconds"
        )));
    }
    Ok(ClientOptions {
        timeout: Duration::from_secs_f64(timeout),
        ca_file,
        ..ClientOptions::default()
    })
}

fn open(url: &str, timeout: f64, ca_file: Option<std::path::PathBuf>) -> Result<Tracker, Failure> {
    Tracker::open(url, options(timeout, ca_file)?).map_err(|e| match e {
        ClientError::BadUrl { .. } => Failure::Usage(e.to_string()),
        e => Failure::Runtime(e.to_string()),
    })
}

fn failed(url: &str, e: ClientError) -> Failure {
    if let ClientError::Tracker(reason) = &e {
        // The tracker answered: that answer is the output.
        println!("{}", json!({ "tracker": url, "failure reason": reason }));
    }
    Failure::Runtime(e.to_string())
}

pub fn announce(a: AnnounceArgs) -> Result<(), Failure> {
    let mut tracker = open(&a.url, a.timeout, a.ca_file.clone())?;
    let left = a.left.unwrap_or(if a.event == AnnounceEvent::Completed {
        0
    } else {
        1
    });
    let mut key = [0u8; 4];
    let _ = getrandom::fill(&mut key);
    let params = AnnounceParams {
        info_hash: a.info_hash,
        peer_id: a.peer_id.unwrap_or_else(random_peer_id),
        port: a.port,
        uploaded: a.uploaded,
        downloaded: a.downloaded,
        left,
        event: a.event,
        num_want: a.numwant,
        key: u32::from_le_bytes(key),
    };
    let reply = tracker.announce(&params).map_err(|e| failed(&a.url, e))?;
    let out = json!({
        "tracker": a.url,
        "info_hash": a.info_hash.to_hex(),
        "interval": reply.interval,
        "seeders": reply.seeders,
        "leechers": reply.leechers,
        "peers": reply.peers.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    });
    println!("{out}");
    Ok(())
}

pub fn scrape(a: ScrapeArgs) -> Result<(), Failure> {
    let mut tracker = open(&a.url, a.timeout, a.ca_file.clone())?;
    let entries = tracker
        .scrape(&a.info_hashes)
        .map_err(|e| failed(&a.url, e))?;
    let mut files = Map::new();
    for e in entries {
        files.insert(
            e.info_hash.to_hex(),
            json!({ "seeders": e.seeders, "completed": e.completed, "leechers": e.leechers }),
        );
    }
    println!(
        "{}",
        json!({ "tracker": a.url, "files": Value::Object(files) })
    );
    Ok(())
}

//! `shoal metadata fetch`: ask one peer for a torrent's metadata (BEP 9) and write it
//! as a `.torrent`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use shoal_bencode::{decode, Encoder, Value};
use shoal_peer::{fetch_metadata, FetchOptions, HashKind};

use crate::Failure;

#[derive(clap::Subcommand)]
pub enum MetadataCommand {
    /// Fetch a torrent's metadata from one peer and write a .torrent.
    Fetch(FetchArgs),
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// Info-hash (40 hex digits, or 32 base32 characters) or a magnet link; a v2-only
    /// torrent is asked for by its info-hash truncated to 20 bytes.
    target: String,
    /// The peer to ask, HOST:PORT (e.g. 192.0.2.7:51413 or [2001:db8::7]:51413).
    #[arg(long, value_name = "HOST:PORT")]
    peer: String,
    /// Where to write the .torrent (default: NAME.torrent from the metadata's name, or
    /// HEX.torrent when the name is not a plain file name).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Seconds for the whole fetch (connecting included).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

/// What a magnet link or bare hash names.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    info_hash: [u8; 20],
    trackers: Vec<String>,
}

pub fn run(cmd: MetadataCommand) -> Result<(), Failure> {
    match cmd {
        MetadataCommand::Fetch(a) => fetch(a),
    }
}

fn fetch(a: FetchArgs) -> Result<(), Failure> {
    let target = parse_target(&a.target).map_err(Failure::Usage)?;
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 600.0) {
        return Err(Failure::Usage(format!(
            "--timeout {}: must be between 0 and 600 seconds",
            a.timeout
        )));
    }
    let peer = peer_addr(&a.peer)?;
    let total = Duration::from_secs_f64(a.timeout);
    let opts = FetchOptions {
        peer_id: shoal_client::random_peer_id().0,
        connect_timeout: total.min(Duration::from_secs(10)),
        idle_timeout: total.min(Duration::from_secs(15)),
        total_timeout: total,
        ..FetchOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start a runtime: {e}")))?;
    let meta = runtime
        .block_on(fetch_metadata(peer, target.info_hash, &opts))
        .map_err(|e| {
            Failure::Runtime(format!(
                "metadata from {peer}: {e} ({reason})",
                reason = e.reason()
            ))
        })?;
    let hex = to_hex(&target.info_hash);
    let name = decode(&meta.info)
        .ok()
        .and_then(|v| v.get(b"name").and_then(Value::as_str).map(str::to_owned));
    let output = a.output.unwrap_or_else(|| {
        let stem = name.as_deref().filter(|n| is_plain_file_name(n));
        PathBuf::from(format!("{}.torrent", stem.unwrap_or(&hex)))
    });
    let torrent = torrent_file(&meta.info, &target.trackers);
    std::fs::write(&output, &torrent)
        .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", output.display())))?;
    let out = json!({
        "info_hash": hex,
        "matched": match meta.matched {
            HashKind::V1 => "v1",
            HashKind::V2Truncated => "v2 (truncated)",
        },
        "name": name,
        "info_bytes": meta.info.len(),
        "peer": peer.to_string(),
        "client": meta.client,
        "file": output.display().to_string(),
    });
    println!("{out}");
    Ok(())
}

/// `HOST:PORT` to an address; a host that does not resolve is a runtime failure, a
/// malformed value bad input.
fn peer_addr(s: &str) -> Result<SocketAddr, Failure> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let bad = || Failure::Usage(format!("--peer {s:?}: expected HOST:PORT"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    s.to_socket_addrs()
        .map_err(|e| Failure::Runtime(format!("--peer {s}: {e}")))?
        .next()
        .ok_or_else(|| Failure::Runtime(format!("--peer {s}: no address")))
}

/// A file name that stays in the current directory: no separators, no NUL, not `.` or
/// `..`, not empty, not overlong.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
}

/// A minimal `.torrent`: `announce` and `announce-list` (one tracker per tier) when
/// there are trackers, and `info` with the peer's bytes exactly as received (the
/// info-hash is theirs, so they are never re-encoded).
fn torrent_file(info: &[u8], trackers: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(info.len() + 256);
    {
        let mut e = Encoder::new(&mut out);
        e.begin_dict();
        if let Some(first) = trackers.first() {
            e.key_bytes(b"announce", first.as_bytes());
            e.bytes(b"announce-list");
            e.begin_list();
            for t in trackers {
                e.begin_list();
                e.bytes(t.as_bytes());
                e.end();
            }
            e.end();
        }
        // The encoder has no raw value; the key is its last token, the bytes follow.
        e.bytes(b"info");
    }
    out.extend_from_slice(info);
    out.push(b'e');
    out
}

/// The info-hash and trackers of a bare info-hash (40 hex digits or 32 base32
/// characters) or a magnet link (`xt=urn:btih:`, or `urn:btmh:1220…` truncated as v2
/// swarms announce it; `tr`).
fn parse_target(s: &str) -> Result<Target, String> {
    let magnet = s.starts_with("magnet:");
    let link = if magnet {
        s.to_owned()
    } else {
        format!("magnet:?xt=urn:btih:{s}")
    };
    let m = shoal_metainfo::Magnet::parse(&link).map_err(|e| {
        if magnet {
            format!("magnet: {e}")
        } else {
            format!("{s:?} is not 40 hex digits, 32 base32 characters or a magnet link")
        }
    })?;
    Ok(Target {
        info_hash: m.info_hashes.tracker_hash(),
        trackers: m.trackers,
    })
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_bare_hash_in_hex_or_base32() {
        let hex = parse_target(HEX).unwrap();
        assert_eq!(to_hex(&hex.info_hash), HEX);
        // The same 20 bytes in base32.
        let b32 = parse_target("AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH").unwrap();
        assert_eq!(b32, hex);
        assert!(parse_target("0123").is_err());
        assert!(parse_target(&HEX.replace('0', "g")).is_err());
    }

    #[test]
    fn a_magnet_gives_its_hash_and_trackers() {
        let m = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=x&tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=http://t/a"
        );
        let t = parse_target(&m).unwrap();
        assert_eq!(to_hex(&t.info_hash), HEX);
        assert_eq!(t.trackers, ["udp://127.0.0.1:6969/announce", "http://t/a"]);
        let v2 = format!("magnet:?xt=urn:btmh:1220{HEX}{}", &HEX[..24]);
        assert_eq!(to_hex(&parse_target(&v2).unwrap().info_hash), HEX);
        assert!(parse_target("magnet:?dn=x").is_err());
        assert!(parse_target("magnet:?xt=urn:btih:zz").is_err());
        assert!(parse_target(&format!("magnet:?xt=urn:btih:{HEX}&tr=%zz")).is_err());
    }

    #[test]
    fn the_torrent_keeps_the_info_bytes_and_sorts_its_keys() {
        let info = b"d4:name1:x12:piece lengthi16384ee";
        let t = torrent_file(info, &["udp://a".into(), "udp://b".into()]);
        assert_eq!(
            t,
            b"d8:announce7:udp://a13:announce-listll7:udp://ael7:udp://bee4:infod4:name1:x12:piece lengthi16384eee"
        );
        assert_eq!(torrent_file(b"de", &[]), b"d4:infodee");
        decode(&t).unwrap();
    }

    #[test]
    fn only_plain_names_become_file_names() {
        assert!(is_plain_file_name("Some Album (2024) ünïcode"));
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\0b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }
}

//! Announces once to a tracker and prints its answer, then scrapes the torrent:
//!
//!     cargo run -p shoal-client --example announce -- udp://127.0.0.1:6969/announce <40-hex info-hash>
//!
//! Works with udp://, http:// and https:// tracker URLs.
use shoal_client::{
    random_peer_id, AnnounceEvent, AnnounceParams, ClientOptions, InfoHash, Tracker,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, hex] = args.as_slice() else {
        eprintln!("usage: announce <tracker url> <40-hex info-hash>");
        std::process::exit(2);
    };
    if let Err(e) = run(url, hex) {
        eprintln!("announce: {e}");
        std::process::exit(1);
    }
}

fn run(url: &str, hex: &str) -> Result<(), Box<dyn std::error::Error>> {
    let info_hash = InfoHash::from_hex(hex)?;
    let mut tracker = Tracker::open(url, ClientOptions::default())?;
    let reply = tracker.announce(&AnnounceParams {
        info_hash,
        peer_id: random_peer_id(),
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 1,
        event: AnnounceEvent::Started,
        num_want: Some(50),
        key: 1,
    })?;
    println!(
        "announce: interval {} s, {} seeders, {} leechers, {} peers",
        reply.interval,
        reply.seeders,
        reply.leechers,
        reply.peers.len()
    );
    for peer in &reply.peers {
        println!("  peer {peer}");
    }
    let s = tracker.scrape(&[info_hash])?[0];
    println!(
        "scrape: {} seeders, {} leechers, {} completed",
        s.seeders, s.leechers, s.completed
    );
    Ok(())
}

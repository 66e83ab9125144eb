//! WebTorrent load: many WebSocket connections, each one peer announcing to
//! Zipf-chosen torrents with WebRTC offers, answering the offers relayed to it, and
//! checking every frame it gets back.
//!
//! Each connection keeps one announce in flight and waits for its response (up to 5 s,
//! then counts a timeout), handling the offers and answers that arrive meanwhile. An
//! answer to an offer this connection never made, an offer carrying our own peer id, or
//! a malformed frame counts as invalid.
//!
//! With `--fill`, each connection announces once without offers and then stays idle
//! until the run ends: the server's RSS growth over the connections is its idle
//! per-connection memory.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use shoal_protocol::ws::{latin1_decode, write_latin1};
use tokio_tungstenite::tungstenite::Message;

use crate::model::{info_hash, Rng, Zipf};
use crate::report::Tally;
use crate::Load;

/// Torrents each simulated peer is in.
const TORRENTS_PER_PEER: usize = 10;

/// WebTorrent-specific settings.
#[derive(Debug, Clone)]
pub struct WsLoad {
    /// WebSocket connections (peers).
    pub connections: usize,
    /// Offers per announce.
    pub offers: usize,
    /// Size of each offer's SDP, bytes.
    pub sdp_bytes: usize,
}

/// What a frame from the tracker was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An announce response for this torrent with (complete, incomplete).
    Announced([u8; 20], u64, u64),
    /// An offer from another peer: (torrent, from, offer id).
    Offer([u8; 20], [u8; 20], [u8; 20]),
    /// An answer to one of our offers: its offer id.
    Answer([u8; 20]),
    /// A `failure reason`.
    Failure,
    /// Anything else: counted as invalid.
    Invalid,
}

fn twenty(v: &Value) -> Option<[u8; 20]> {
    latin1_decode(v.as_str()?)?.try_into().ok()
}

/// Classifies a frame for a peer with id `own` whose offers carry `sdp`.
pub fn classify(text: &str, own: &[u8; 20], sdp: &str) -> Frame {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Frame::Invalid;
    };
    if v.get("failure reason").is_some_and(Value::is_string) {
        return Frame::Failure;
    }
    if v["action"] != "announce" {
        return Frame::Invalid;
    }
    let Some(hash) = twenty(&v["info_hash"]) else {
        return Frame::Invalid;
    };
    if let Some(offer) = v.get("offer") {
        return match (twenty(&v["peer_id"]), twenty(&v["offer_id"])) {
            (Some(from), Some(id)) if from != *own && offer["sdp"] == sdp => {
                Frame::Offer(hash, from, id)
            }
            _ => Frame::Invalid,
        };
    }
    if let Some(answer) = v.get("answer") {
        return match (twenty(&v["peer_id"]), twenty(&v["offer_id"])) {
            (Some(from), Some(id)) if from != *own && answer["sdp"] == sdp => Frame::Answer(id),
            _ => Frame::Invalid,
        };
    }
    match (
        v["complete"].as_u64(),
        v["incomplete"].as_u64(),
        v["interval"].as_u64(),
    ) {
        (Some(c), Some(i), Some(_)) => Frame::Announced(hash, c, i),
        _ => Frame::Invalid,
    }
}

fn js(b: &[u8]) -> String {
    let mut s = String::new();
    write_latin1(&mut s, b);
    s
}

/// Offer ids this connection made and has not seen answered, or torrents it answered
/// an offer in: the latest [`OUTSTANDING`], so a late answer from a slow tracker still
/// counts while one to an offer never made does not.
#[derive(Default)]
struct Outstanding {
    order: VecDeque<[u8; 20]>,
    set: std::collections::HashMap<[u8; 20], u32>,
}

/// Most ids remembered per connection.
const OUTSTANDING: usize = 4096;

impl Outstanding {
    fn add(&mut self, id: [u8; 20]) {
        if self.order.len() == OUTSTANDING {
            if let Some(old) = self.order.pop_front() {
                self.remove(&old);
            }
        }
        self.order.push_back(id);
        *self.set.entry(id).or_insert(0) += 1;
    }
    fn remove(&mut self, id: &[u8; 20]) -> bool {
        match self.set.get_mut(id) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.set.remove(id);
                true
            }
            None => false,
        }
    }
    /// Whether `id` was outstanding (one use of it is consumed; its place in the
    /// order stays until it ages out, when removing it again finds nothing).
    fn take(&mut self, id: &[u8; 20]) -> bool {
        self.remove(id)
    }
}

/// Extra counts only WebTorrent has.
#[derive(Debug, Default, Clone, Copy)]
pub struct Relayed {
    pub offers: u64,
    pub answers: u64,
}

fn source(target: SocketAddr, i: usize) -> IpAddr {
    match target {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(
            127,
            1 + (i / 62_500) as u8,
            (i / 250 % 250) as u8,
            (i % 250 + 1) as u8,
        )),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

async fn open(
    target: SocketAddr,
    i: usize,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let sock = if target.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.bind(SocketAddr::new(source(target, i), 0))?;
    let tcp = tokio::time::timeout(Duration::from_secs(5), sock.connect(target)).await??;
    tcp.set_nodelay(true)?;
    let url = format!("ws://{target}/announce");
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::client_async(url, tcp),
    )
    .await??;
    Ok(ws)
}

struct Shared {
    load: Load,
    ws: WsLoad,
    zipf: Zipf,
    sdp: String,
    deadline: Instant,
    budget: u64,
    sent: AtomicU64,
    connected: AtomicU64,
}

/// One peer's connection: announce, handle what comes back, repeat.
async fn peer(sh: Arc<Shared>, i: usize, fill: bool) -> (Tally, Relayed) {
    let mut tally = Tally::default();
    let mut relayed = Relayed::default();
    let mut rng = Rng::new(sh.load.seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut own = [0u8; 20];
    own[..8].copy_from_slice(b"-SB0001-");
    own[8..16].copy_from_slice(&(i as u64).to_le_bytes());
    own[16..].copy_from_slice(&(rng.next_u64() as u32).to_le_bytes());
    let deadline = tokio::time::Instant::from_std(sh.deadline);
    let mut ws = match open(sh.load.target, i).await {
        Ok(ws) => ws,
        Err(_) => {
            tally.timeouts += 1;
            return (tally, relayed);
        }
    };
    sh.connected.fetch_add(1, Relaxed);
    let seeder = rng.unit() < sh.load.seeders;
    // Like a real client, a peer is in a handful of torrents (popular ones more often)
    // and announces to them in turn.
    let mine: Vec<usize> = (0..TORRENTS_PER_PEER)
        .map(|_| sh.zipf.sample(&mut rng))
        .collect();
    let mut turn = 0usize;
    let mut outstanding = Outstanding::default();
    let mut answered_in = Outstanding::default();
    let mut next_offer: u64 = 0;
    let offers = if fill { 0 } else { sh.ws.offers };
    loop {
        if tokio::time::Instant::now() >= deadline || sh.sent.fetch_add(1, Relaxed) >= sh.budget {
            break;
        }
        let t = if fill {
            i % sh.load.torrents
        } else {
            turn += 1;
            mine[turn % mine.len()]
        };
        let hash = info_hash(t);
        let mut msg = format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"numwant":{offers},"uploaded":0,"downloaded":0,"left":{}"#,
            js(&hash),
            js(&own),
            if seeder { 0 } else { 1000 }
        );
        if offers > 0 {
            msg.push_str(r#","offers":["#);
            for k in 0..offers {
                let mut id = [0u8; 20];
                id[..8].copy_from_slice(&next_offer.to_le_bytes());
                id[8..16].copy_from_slice(&(i as u64).to_le_bytes());
                next_offer += 1;
                outstanding.add(id);
                if k > 0 {
                    msg.push(',');
                }
                msg.push_str(&format!(
                    r#"{{"offer":{{"type":"offer","sdp":"{}"}},"offer_id":{}}}"#,
                    sh.sdp,
                    js(&id)
                ));
            }
            msg.push(']');
        }
        msg.push('}');
        let started = Instant::now();
        tally.sent += 1;
        if ws.send(Message::text(msg)).await.is_err() {
            tally.timeouts += 1;
            break;
        }
        // Read until our announce's response, answering offers as they come.
        let wait = tokio::time::Instant::now() + Duration::from_secs(5);
        let got = loop {
            let frame = match tokio::time::timeout_at(wait.min(deadline), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => t,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(_))) | Ok(Some(Err(_))) | Ok(None) => break None,
                Err(_) => break None,
            };
            match classify(frame.as_str(), &own, &sh.sdp) {
                Frame::Announced(h, c, inc) if h == hash => {
                    tally.record(
                        crate::validate::Verdict::Announced((c + inc) as usize),
                        started.elapsed(),
                    );
                    break Some(());
                }
                // Some trackers (aquatic_ws) also answer an answer with the counts of
                // its torrent: fine for a torrent we answered in, wrong otherwise.
                Frame::Announced(h, ..) if answered_in.take(&h) => {}
                Frame::Announced(..) | Frame::Invalid => tally.invalid += 1,
                Frame::Failure => {
                    tally.tracker_errors += 1;
                    break Some(());
                }
                Frame::Offer(h, from, id) => {
                    relayed.offers += 1;
                    let answer = format!(
                        r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"{}"}}}}"#,
                        js(&h),
                        js(&own),
                        js(&from),
                        js(&id),
                        sh.sdp
                    );
                    if ws.send(Message::text(answer)).await.is_err() {
                        break None;
                    }
                    answered_in.add(h);
                }
                Frame::Answer(id) => {
                    if outstanding.take(&id) {
                        relayed.answers += 1;
                    } else {
                        tally.invalid += 1;
                    }
                }
            }
        };
        if got.is_none() {
            if tokio::time::Instant::now() < deadline {
                tally.timeouts += 1;
            }
            break;
        }
        if fill {
            // Hold the connection idle until the run ends.
            let _ = tokio::time::timeout_at(deadline, async {
                while let Some(Ok(m)) = ws.next().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
            break;
        }
    }
    let _ = ws.close(None).await;
    (tally, relayed)
}

/// Runs the WebTorrent load with `load.workers` threads.
pub fn run(
    load: &Load,
    ws: &WsLoad,
    deadline: Instant,
    budget: u64,
    on_connected: impl Fn(usize) + Send + Sync,
) -> std::io::Result<(Tally, Relayed)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(load.workers)
        .enable_all()
        .build()?;
    let sdp = {
        let mut s = String::from("v=0 shoal-bench ");
        while s.len() < ws.sdp_bytes {
            s.push('a');
        }
        s
    };
    let shared = Arc::new(Shared {
        load: load.clone(),
        ws: ws.clone(),
        zipf: Zipf::new(load.torrents, load.zipf),
        sdp,
        deadline,
        budget,
        sent: AtomicU64::new(0),
        connected: AtomicU64::new(0),
    });
    let fill = load.fill;
    let out = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..ws.connections {
            set.spawn(peer(shared.clone(), i, fill));
            if i % 256 == 255 {
                // Spread connection setup so the accept queue never overflows.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        if fill {
            // Report once every connection is open and has announced.
            let wait_until =
                Instant::now() + Duration::from_secs(60).min(deadline - Instant::now());
            while shared.connected.load(Relaxed) < ws.connections as u64
                && Instant::now() < wait_until
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            on_connected(shared.connected.load(Relaxed) as usize);
        }
        let mut tally = Tally::default();
        let mut relayed = Relayed::default();
        while let Some(r) = set.join_next().await {
            if let Ok((t, r)) = r {
                tally.merge(t);
                relayed.offers += r.offers;
                relayed.answers += r.answers;
            }
        }
        (tally, relayed)
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: [u8; 20] = [1; 20];

    #[test]
    fn frames_are_classified_and_wrong_ones_are_invalid() {
        let sdp = "v=0 x";
        let resp = format!(
            r#"{{"action":"announce","info_hash":{},"complete":1,"incomplete":2,"interval":120}}"#,
            js(&[7; 20])
        );
        assert_eq!(classify(&resp, &OWN, sdp), Frame::Announced([7; 20], 1, 2));
        let offer = |from: [u8; 20], s: &str| {
            format!(
                r#"{{"action":"announce","info_hash":{},"peer_id":{},"offer_id":{},"offer":{{"type":"offer","sdp":"{s}"}}}}"#,
                js(&[7; 20]),
                js(&from),
                js(&[9; 20])
            )
        };
        assert_eq!(
            classify(&offer([2; 20], sdp), &OWN, sdp),
            Frame::Offer([7; 20], [2; 20], [9; 20])
        );
        // Our own offer sent back, or a mangled SDP: invalid.
        assert_eq!(classify(&offer(OWN, sdp), &OWN, sdp), Frame::Invalid);
        assert_eq!(classify(&offer([2; 20], "v=1"), &OWN, sdp), Frame::Invalid);
        let failure = r#"{"failure reason":"nope","action":"announce"}"#;
        assert_eq!(classify(failure, &OWN, sdp), Frame::Failure);
        assert_eq!(classify("{}", &OWN, sdp), Frame::Invalid);
        assert_eq!(classify("garbage", &OWN, sdp), Frame::Invalid);
        let missing_interval = format!(
            r#"{{"action":"announce","info_hash":{},"complete":1,"incomplete":2}}"#,
            js(&[7; 20])
        );
        assert_eq!(classify(&missing_interval, &OWN, sdp), Frame::Invalid);
    }

    #[test]
    fn only_outstanding_offers_may_be_answered() {
        let mut o = Outstanding::default();
        for i in 0..(OUTSTANDING as u32 + 100) {
            let mut id = [0u8; 20];
            id[..4].copy_from_slice(&i.to_le_bytes());
            o.add(id);
        }
        let id = |i: u32| {
            let mut id = [0u8; 20];
            id[..4].copy_from_slice(&i.to_le_bytes());
            id
        };
        let last = OUTSTANDING as u32 + 99;
        assert!(o.take(&id(last)));
        assert!(!o.take(&id(last)), "answered twice");
        assert!(!o.take(&id(10)), "forgotten (only the latest are kept)");
        assert!(!o.take(&[0xff; 20]), "never made");
    }
}

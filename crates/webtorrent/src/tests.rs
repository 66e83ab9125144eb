//! The WebTorrent logic driven without sockets or a runtime: mailboxes are vectors.

use std::sync::{Arc, Mutex};

use shoal_engine::access::AccessMode;
use shoal_engine::gate::{Mode, Passkeys};
use shoal_engine::{Engine, EngineConfig};
use shoal_protocol::ws::latin1_decode;

use super::*;

/// A mailbox that takes at most `room` relays (then it is a slow reader).
#[derive(Clone)]
struct Inbox {
    relays: Arc<Mutex<Vec<Relay>>>,
    room: usize,
}

impl Inbox {
    fn new(room: usize) -> Self {
        Inbox {
            relays: Arc::default(),
            room,
        }
    }

    fn take(&self) -> Vec<Relay> {
        std::mem::take(&mut *self.relays.lock().unwrap())
    }
}

impl Mailbox for Inbox {
    fn push(&self, relay: Relay) -> bool {
        let mut r = self.relays.lock().unwrap();
        if r.len() >= self.room {
            return false;
        }
        r.push(relay);
        true
    }
}

fn js(b: &[u8]) -> String {
    serde_json::to_string(&b.iter().map(|&c| char::from(c)).collect::<String>()).unwrap()
}

fn announce(hash: u8, peer: u8, extra: &str) -> String {
    format!(
        r#"{{"action":"announce","info_hash":{},"peer_id":{}{extra}}}"#,
        js(&[hash; 20]),
        js(&[peer; 20])
    )
}

fn with_offers(hash: u8, peer: u8, n: u8, extra: &str) -> String {
    let offers: Vec<String> = (1..=n)
        .map(|i| {
            format!(
                r#"{{"offer":{{"type":"offer","sdp":"o{i}"}},"offer_id":{}}}"#,
                js(&[i; 20])
            )
        })
        .collect();
    announce(
        hash,
        peer,
        &format!(r#","offers":[{}]{extra}"#, offers.join(",")),
    )
}

fn answer(hash: u8, from: u8, to: u8, offer: u8) -> String {
    format!(
        r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"a"}}}}"#,
        js(&[hash; 20]),
        js(&[from; 20]),
        js(&[to; 20]),
        js(&[offer; 20])
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn failure(reply: Option<String>) -> String {
    let v = json(&reply.expect("a reply"));
    v["failure reason"].as_str().expect("a failure").to_owned()
}

fn tracker_with(config: Config, gate: Gate) -> Tracker<Inbox> {
    Tracker::new(config, Arc::new(gate), 7)
}

fn tracker() -> Tracker<Inbox> {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    tracker_with(Config::default(), Gate::open(engine))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const NOW: Secs = Secs(10);

#[test]
fn offers_go_to_other_peers_and_only_offered_answers_come_back() {
    let t = tracker();
    let (seed_box, leech_box) = (Inbox::new(16), Inbox::new(16));
    let mut seeder = t.connection(ip("192.0.2.1"), None, seed_box.clone());
    let mut leecher = t.connection(ip("192.0.2.2"), None, leech_box.clone());

    let r = seeder
        .receive(&t, &announce(1, 0xA, r#","left":0"#), NOW, 0)
        .unwrap();
    assert_eq!(json(&r)["complete"], 1);
    let r = leecher
        .receive(&t, &with_offers(1, 0xB, 2, r#","left":5"#), NOW, 0)
        .unwrap();
    assert_eq!(
        (
            json(&r)["complete"].as_u64(),
            json(&r)["incomplete"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // One other member: one offer relayed, the other dropped; nothing to the offerer.
    let relays = seed_box.take();
    assert_eq!(relays.len(), 1);
    assert!(leech_box.take().is_empty());
    let offered = relays[0].offer.unwrap();
    assert_eq!(offered.from, PeerId([0xB; 20]));
    assert_eq!(json(&relays[0].text)["offer"]["sdp"], "o1");
    assert_eq!(t.stats().offers_relayed.load(Relaxed), 1);
    assert_eq!(t.stats().offers_dropped.load(Relaxed), 1);

    // An answer to an offer this connection was never shown goes nowhere.
    assert_eq!(seeder.receive(&t, &answer(1, 0xA, 0xB, 1), NOW, 0), None);
    assert!(leech_box.take().is_empty());
    assert_eq!(t.stats().answers_refused.load(Relaxed), 1);

    // Once delivered, it may be answered once, to the offering peer only.
    seeder.delivering(&t, &relays[0], 0);
    assert_eq!(seeder.pending_offers(), 1);
    assert_eq!(seeder.receive(&t, &answer(1, 0xA, 0xB, 1), NOW, 0), None);
    let back = leech_box.take();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].offer, None);
    let v = json(&back[0].text);
    assert_eq!(
        latin1_decode(v["peer_id"].as_str().unwrap()).unwrap(),
        [0xA; 20]
    );
    assert_eq!(v["answer"]["sdp"], "a");
    assert_eq!(seeder.receive(&t, &answer(1, 0xA, 0xB, 1), NOW, 0), None);
    assert!(leech_box.take().is_empty(), "an offer is answered once");
    assert_eq!(t.stats().answers_relayed.load(Relaxed), 1);
}

#[test]
fn offers_expire_and_a_full_mailbox_drops_relays() {
    let t = tracker();
    let full = Inbox::new(0);
    let mut a = t.connection(ip("192.0.2.1"), None, full.clone());
    let mut b = t.connection(ip("192.0.2.2"), None, Inbox::new(4));
    a.receive(&t, &announce(1, 0xA, ""), NOW, 0);
    b.receive(&t, &with_offers(1, 0xB, 1, ""), NOW, 0);
    assert_eq!(t.stats().offers_relayed.load(Relaxed), 0);
    assert_eq!(
        t.stats().offers_dropped.load(Relaxed),
        1,
        "the receiver was full"
    );

    // An offer answered after its lifetime is refused.
    let relay = Relay {
        text: String::new(),
        offer: Some(Offered {
            info_hash: InfoHash([1; 20]),
            from: PeerId([0xB; 20]),
            offer_id: [1; 20],
        }),
    };
    a.delivering(&t, &relay, 0);
    let late = t.config().offer_ttl_ms + 1;
    assert_eq!(a.receive(&t, &answer(1, 0xA, 0xB, 1), NOW, late), None);
    assert_eq!(t.stats().answers_refused.load(Relaxed), 1);
    a.expire(late);
    assert_eq!(a.pending_offers(), 0);
}

#[test]
fn closing_leaves_every_swarm_and_frees_the_peer_id() {
    let t = tracker();
    let mut a = t.connection(ip("192.0.2.1"), None, Inbox::new(4));
    for h in 1..=3 {
        a.receive(&t, &announce(h, 0xA, ""), NOW, 0);
    }
    assert_eq!(a.torrents(), 3);
    assert_eq!(t.swarms().stats().peers, 3);
    // Another connection may not take a live peer's id.
    let mut b = t.connection(ip("192.0.2.2"), None, Inbox::new(4));
    let taken = failure(b.receive(&t, &announce(1, 0xA, ""), NOW, 0));
    assert!(taken.contains("peer_id"), "{taken}");
    a.close(&t);
    assert_eq!(a.torrents(), 0);
    assert_eq!(t.swarms().stats().peers, 0);
    let r = b.receive(&t, &announce(1, 0xA, ""), NOW, 0).unwrap();
    assert!(json(&r).get("failure reason").is_none(), "{r}");
    // A stopped announce leaves just that swarm.
    b.receive(&t, &announce(1, 0xA, r#","event":"stopped""#), NOW, 0);
    assert_eq!(b.torrents(), 0);
}

#[test]
fn one_connection_is_in_a_bounded_number_of_torrents() {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    let config = Config {
        max_torrents_per_connection: 2,
        ..Config::default()
    };
    let t = tracker_with(config, Gate::open(engine));
    let mut a = t.connection(ip("192.0.2.1"), None, Inbox::new(4));
    a.receive(&t, &announce(1, 0xA, ""), NOW, 0);
    a.receive(&t, &announce(2, 0xA, ""), NOW, 0);
    let third = failure(a.receive(&t, &announce(3, 0xA, ""), NOW, 0));
    assert_eq!(third, "too many torrents on one connection");
    // Announcing again in a swarm it is in is fine.
    let again = a.receive(&t, &announce(2, 0xA, ""), NOW, 0).unwrap();
    assert!(json(&again).get("failure reason").is_none());
    assert_eq!(a.torrents(), 2);
}

struct OneKey;

impl Passkeys for OneKey {
    fn admits(&self, key: &[u8]) -> bool {
        key == b"k3y"
    }
}

#[test]
fn the_gate_decides_every_announce_and_scrape() {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    let gate = Gate::new(engine.clone(), None, Mode::Private(Arc::new(OneKey)));
    let t = tracker_with(Config::default(), gate);
    let mut without = t.connection(ip("192.0.2.1"), None, Inbox::new(4));
    let mut wrong = t.connection(ip("192.0.2.2"), Some(b"nope"), Inbox::new(4));
    let mut with = t.connection(ip("192.0.2.3"), Some(b"k3y"), Inbox::new(4));
    let needs = failure(without.receive(&t, &announce(1, 0xA, ""), NOW, 0));
    assert!(needs.contains("passkey"), "{needs}");
    assert_eq!(
        failure(wrong.receive(&t, &announce(1, 0xB, ""), NOW, 0)),
        "unknown passkey"
    );
    let scrape = format!(r#"{{"action":"scrape","info_hash":{}}}"#, js(&[1; 20]));
    assert!(failure(without.receive(&t, &scrape, NOW, 0)).contains("passkey"));
    let ok = with.receive(&t, &announce(1, 0xC, ""), NOW, 0).unwrap();
    assert!(json(&ok).get("failure reason").is_none(), "{ok}");
    assert!(json(&with.receive(&t, &scrape, NOW, 0).unwrap())["files"].is_object());
    assert_eq!(t.swarms().stats().peers, 1, "only the admitted peer joined");
    assert_eq!(t.stats().failures.load(Relaxed), 3);

    // The access list, through the same gate.
    engine.update_access_list(|l| {
        l.mode = AccessMode::Deny;
        l.api.insert(InfoHash([2; 20]));
    });
    let denied = failure(with.receive(&t, &announce(2, 0xC, ""), NOW, 0));
    assert_eq!(denied, "torrent not allowed on this tracker");
}

#[test]
fn rate_limits_and_full_scrapes() {
    let engine = Arc::new(Engine::new(EngineConfig::default(), 1));
    let limits = shoal_engine::ratelimit::SourceLimits::new((0, 0), (1, 1), (0, 0), 64, 3);
    let config = Config {
        full_scrape: true,
        full_scrape_interval: 600,
        ..Config::default()
    };
    let t = tracker_with(config, Gate::new(engine, Some(limits), Mode::Open));
    let mut a = t.connection(ip("192.0.2.1"), None, Inbox::new(4));
    a.receive(&t, &announce(1, 0xA, ""), NOW, 0);
    let limited = failure(a.receive(&t, &announce(1, 0xA, ""), NOW, 0));
    assert_eq!(limited, "rate limited: announce less often");
    assert_eq!(t.stats().rate_limited.load(Relaxed), 1);

    let all = r#"{"action":"scrape"}"#;
    let files = json(&a.receive(&t, all, NOW, 0).unwrap());
    assert_eq!(files["files"].as_object().unwrap().len(), 1);
    let again = failure(a.receive(&t, all, Secs(NOW.0 + 599), 0));
    assert!(again.contains("once per"), "{again}");
    assert!(a.receive(&t, all, Secs(NOW.0 + 600), 0).is_some());
}

#[test]
fn bad_messages_get_a_failure_and_change_nothing() {
    let t = tracker();
    let mut a = t.connection(ip("192.0.2.1"), None, Inbox::new(4));
    assert_eq!(failure(a.receive(&t, "{", NOW, 0)), "invalid JSON message");
    assert_eq!(
        failure(a.receive(&t, r#"{"action":"dance"}"#, NOW, 0)),
        "unknown action"
    );
    let disabled = failure(a.receive(&t, r#"{"action":"scrape"}"#, NOW, 0));
    assert!(disabled.contains("disabled"), "{disabled}");
    assert_eq!(t.swarms().stats().torrents, 0);
    assert_eq!(t.stats().failures.load(Relaxed), 3);
}

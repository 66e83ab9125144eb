//! A node started in-process, as an embedder or a test would: it serves on the
//! addresses it reports, reloads, shuts down cleanly, and a second node on the same data
//! dir finds what the first one stored.

use std::path::PathBuf;

use shoal_client::{AnnounceParams, ClientOptions, Tracker};
use shoal_node::config::Config;
use shoal_node::{Failure, Node};
use shoal_protocol::{AnnounceEvent, InfoHash};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shoal-node-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        workers: 1,
        ..Config::default()
    };
    c.udp.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.store.flush_interval = 1;
    c.validate().unwrap();
    c
}

fn announce(
    url: &str,
    h: InfoHash,
    port: u16,
    event: AnnounceEvent,
) -> shoal_client::AnnounceReply {
    let mut t = Tracker::open(url, ClientOptions::default()).unwrap();
    t.announce(&params(h, port, event)).unwrap()
}

fn params(h: InfoHash, port: u16, event: AnnounceEvent) -> AnnounceParams {
    AnnounceParams {
        info_hash: h,
        peer_id: shoal_client::random_peer_id(),
        port,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event,
        num_want: None,
        key: 1,
    }
}

#[test]
fn a_node_serves_reloads_stops_and_its_successor_keeps_the_counts() {
    let dir = temp_dir("lifecycle");
    // Only listed torrents are served; the list file starts empty.
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("allowed.txt");
    std::fs::write(&list, "").unwrap();
    let mut c = config(&dir);
    c.access_list.mode = shoal_node::config::AccessListMode::Allow;
    c.access_list.file = list.clone();
    c.access_list.reload_interval = 3600;
    let node = Node::start(c).unwrap();
    let addrs = node.addresses();
    assert_eq!((addrs.udp.len(), addrs.http.len()), (1, 1));
    assert!(addrs.https.is_empty() && addrs.web.is_empty());
    let udp = format!("udp://{}/announce", addrs.udp[0]);
    let http = format!("http://{}/announce", addrs.http[0]);
    let h = InfoHash([7; 20]);
    let refused = Tracker::open(&http, ClientOptions::default())
        .unwrap()
        .announce(&params(h, 6881, AnnounceEvent::Started));
    assert!(refused.is_err(), "not listed yet: {refused:?}");
    // Listed in the file: served only once the node reloads (the watcher's interval is
    // an hour, so only reload can have read it).
    std::fs::write(&list, format!("{}\n", h.to_hex())).unwrap();
    node.reload();
    // One peer over each protocol, in one swarm: each sees the other.
    announce(&udp, h, 6881, AnnounceEvent::Completed);
    let reply = announce(&http, h, 6882, AnnounceEvent::Completed);
    assert_eq!(reply.seeders, 2);
    assert_eq!(node.engine().stats().torrents, 1);
    node.shutdown();

    // The next node on the same data dir: the completed count came from the store (or
    // the snapshot, which the store vouches for), and the swarm is back.
    let mut c = config(&dir);
    c.access_list.mode = shoal_node::config::AccessListMode::Allow;
    c.access_list.file = list;
    let node = Node::start(c).unwrap();
    let url = format!("udp://{}/announce", node.addresses().udp[0]);
    let mut t = Tracker::open(&url, ClientOptions::default()).unwrap();
    let scraped = t.scrape(&[h]).unwrap();
    assert_eq!(scraped[0].completed, 2);
    node.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_listener_and_a_foreign_store_file_are_usage_errors() {
    let dir = temp_dir("refusals");
    let mut c = config(&dir);
    c.udp.listen.clear();
    c.http.listen.clear();
    match Node::start(c) {
        Err(Failure::Usage(m)) => assert!(m.contains("nothing to listen on"), "{m}"),
        Err(e) => panic!("expected a usage error, got {e}"),
        Ok(_) => panic!("a node with no listener must not start"),
    }
    // A file that is not a shoal store where the store should be.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("shoal.sqlite"), b"not a database").unwrap();
    match Node::start(config(&dir)) {
        Err(Failure::Usage(m)) => assert!(m.contains("shoal.sqlite"), "{m}"),
        Err(e) => panic!("expected a usage error, got {e}"),
        Ok(_) => panic!("a foreign store file must stop the start"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

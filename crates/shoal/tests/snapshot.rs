//! The swarm snapshot on the real binary: loaded once, and never after the store has
//! moved on without it.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{params, temp_dir, Server};
use shoal_client::{AnnounceEvent, AnnounceParams, ClientOptions, InfoHash, Tracker};

const TOKEN: &str = "snapshot-test-token-0123456789";

fn config(tag: &str, snapshot: bool) -> std::path::PathBuf {
    let cfg = temp_dir(tag).join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\nflush_interval = 1\n[tracker]\nsnapshot = {snapshot}\n[admin]\ntoken = \"{TOKEN}\"\n"
        ),
    )
    .unwrap();
    cfg
}

fn start(data: &std::path::Path, cfg: &std::path::Path) -> Server {
    Server::start_in(
        data.to_owned(),
        &["127.0.0.1:0"],
        &["127.0.0.1:0"],
        &["--config", cfg.to_str().unwrap()],
    )
}

fn tracker(server: &Server) -> Tracker {
    Tracker::open(
        &format!("udp://{}/announce", server.udp_addr(false)),
        ClientOptions::default(),
    )
    .unwrap()
}

fn delete(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw[9..12].parse().unwrap()
}

/// Peers in the swarm of `h` (seeders + leechers) as a scrape reports them.
fn peers(t: &mut Tracker, h: InfoHash) -> u32 {
    let s = t.scrape(&[h]).unwrap()[0];
    s.seeders + s.leechers
}

/// The same peer (address and port) as `p`, now stopping.
fn stopping(p: &AnnounceParams) -> AnnounceParams {
    AnnounceParams {
        event: AnnounceEvent::Stopped,
        ..p.clone()
    }
}

#[test]
fn a_crash_after_a_restore_does_not_bring_back_stopped_peers_or_removed_swarms() {
    let data = temp_dir("snap-crash");
    let cfg = config("snap-crash-cfg", true);
    let (h, removed) = (InfoHash([0x51; 20]), InfoHash([0x52; 20]));
    let leaving = params(h, 7001, 100, AnnounceEvent::Started);
    let staying = params(h, 7002, 0, AnnounceEvent::Started);

    let mut first = start(&data, &cfg);
    let mut t = tracker(&first);
    t.announce(&leaving).unwrap();
    t.announce(&staying).unwrap();
    t.announce(&params(removed, 7003, 0, AnnounceEvent::Started))
        .unwrap();
    let (status, log) = first.stop_with(libc::SIGTERM);
    assert!(status.success(), "{log:?}");
    assert!(log.iter().any(|l| l.contains("swarms saved")), "{log:?}");
    std::mem::forget(first);

    // Restored once, and the file is gone as soon as it is.
    let mut second = start(&data, &cfg);
    second.wait_log("swarms restored from snapshot");
    assert!(!data.join("swarms.snapshot").exists(), "snapshot consumed");
    let mut t = tracker(&second);
    assert_eq!(peers(&mut t, h), 2, "restored");
    assert_eq!(peers(&mut t, removed), 1, "restored");
    t.announce(&stopping(&leaving)).unwrap();
    assert_eq!(peers(&mut t, h), 1);
    assert_eq!(
        delete(
            second.http_addr(false),
            &format!("/api/admin/torrents/{}", removed.to_hex())
        ),
        200
    );
    let (status, _) = second.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(second);

    let third = start(&data, &cfg);
    let mut t = tracker(&third);
    let log = third.drain_log();
    assert!(
        !log.iter().any(|l| l.contains("swarms restored")),
        "nothing to restore after a crash: {log:?}"
    );
    assert_eq!(peers(&mut t, h), 0, "the stopped peer stays gone");
    assert_eq!(peers(&mut t, removed), 0, "the removed swarm stays gone");
    let r = t
        .announce(&params(h, 7009, 100, AnnounceEvent::Started))
        .unwrap();
    assert!(
        !r.peers.iter().any(|p| p.port() == 7001),
        "stopped peer handed out: {:?}",
        r.peers
    );
}

#[test]
fn a_snapshot_older_than_the_store_is_set_aside() {
    let data = temp_dir("snap-stale");
    let (with, without) = (
        config("snap-stale-on", true),
        config("snap-stale-off", false),
    );
    let h = InfoHash([0x61; 20]);
    let leaving = params(h, 7101, 100, AnnounceEvent::Started);

    let mut first = start(&data, &with);
    let mut t = tracker(&first);
    t.announce(&leaving).unwrap();
    let (status, _) = first.stop_with(libc::SIGTERM);
    assert!(status.success());
    std::mem::forget(first);
    assert!(data.join("swarms.snapshot").exists());

    // A run with snapshots off leaves the file where it is; the peer stops, a
    // completion is flushed, then the process dies.
    let mut second = start(&data, &without);
    let mut t = tracker(&second);
    assert_eq!(peers(&mut t, h), 0, "snapshots off: nothing restored");
    t.announce(&leaving).unwrap();
    t.announce(&stopping(&leaving)).unwrap();
    t.announce(&params(h, 7102, 0, AnnounceEvent::Completed))
        .unwrap();
    // The only completion of this run: one row written is that count on disk.
    let http = second.http_addr(false);
    common::eventually("the completion flushed", || {
        (common::metric(http, "shoal_store_completed_written_total") >= 1).then_some(())
    });
    let (status, _) = second.stop_with(libc::SIGKILL);
    assert!(!status.success());
    std::mem::forget(second);
    assert!(data.join("swarms.snapshot").exists());

    // The snapshot predates what the store holds now: not trusted, set aside.
    let third = start(&data, &with);
    let warning = third.wait_log("swarm snapshot not trusted");
    assert!(warning.contains("swarms.snapshot"), "{warning}");
    assert!(!data.join("swarms.snapshot").exists());
    assert!(data.join("swarms.snapshot.stale").exists());
    let mut t = tracker(&third);
    let s = t.scrape(&[h]).unwrap()[0];
    assert_eq!(
        (s.seeders + s.leechers, s.completed),
        (0, 1),
        "the stopped peer is not back; the flushed count is"
    );
}

//! Several nodes, one set of swarms: this node's swarm changes go out over NATS and the
//! other nodes' come in (`[cluster] nats`).
//!
//! A thread with its own small tokio runtime runs the NATS client (async-nats). Every
//! 250 ms it drains each engine shard's changes ([`Engine::drain_changes`]) and
//! publishes them as signed batches (`shoal_protocol::cluster`) on
//! `shoal.swarm.delta.<shard>`; it applies the batches other nodes publish as remote
//! peers ([`Engine::apply_remote`]), each sender's batches once and in order. A node
//! that starts asks the running ones for their swarms on `shoal.swarm.snapshot` and
//! waits up to `[cluster] snapshot_timeout` for the first whole answer before its
//! listeners open; running nodes answer with their own peers in chunks. When NATS is
//! down the node serves from what it has, counts what it could not publish, and the
//! client reconnects on its own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shoal_api::cluster::{ClusterView, STATUS_EVERY};
use shoal_engine::Engine;
use shoal_protocol::cluster::{self, ClusterKey, Kind, Message, NodeStatus, Record, Sequences};
use shoal_udp::Clock;

use crate::Failure;

const DELTA_SUBJECT: &str = "shoal.swarm.delta";
const SNAPSHOT_SUBJECT: &str = "shoal.swarm.snapshot";
const STATUS_SUBJECT: &str = "shoal.node.status";
/// How often changes go out: well under the 1 s the other nodes may lag.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Longest wait for NATS to take what was sent (a flush blocks while it is down).
const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// How this node joins the others.
pub struct Settings {
    /// This node's name.
    pub node: String,
    /// NATS servers.
    pub servers: Vec<String>,
    /// The key every node signs with.
    pub key: ClusterKey,
    /// Longest wait for another node's swarms at start.
    pub snapshot_timeout: Duration,
    /// Certificate authorities for the NATS servers' certificates (TLS required).
    pub ca: Option<PathBuf>,
    /// This node's client certificate and key, for servers that verify clients.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A NATS credentials file (user JWT and NKey seed).
    pub credentials: Option<PathBuf>,
    /// Announces this node answered since it started (all protocols), for its status.
    pub announces: Box<dyn Fn() -> u64 + Send>,
}

impl Settings {
    /// The NATS client's options: TLS and credentials as configured.
    fn options(&self) -> Result<async_nats::ConnectOptions, Failure> {
        let mut o = async_nats::ConnectOptions::new()
            .name(format!("shoal {}", self.node))
            .retry_on_initial_connect();
        // A user and password in a URL (nats://user:pass@host:port) are the client's:
        // async-nats does not take them from there itself.
        if let Some((user, pass)) = self.servers.iter().find_map(|u| url_user(u)) {
            o = o.user_and_password(user, pass);
        }
        if let Some(ca) = &self.ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.client_cert {
            o = o
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if let Some(path) = &self.credentials {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::Usage(format!(
                    "config key `cluster.nats_credentials` = {:?}: cannot be read: {e}",
                    path.display()
                ))
            })?;
            o = o.credentials(&text).map_err(|e| {
                Failure::Usage(format!(
                    "config key `cluster.nats_credentials` = {:?}: not a NATS credentials file: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(o)
    }
}

/// The user and password of a `scheme://user:pass@host:port` URL, percent-decoded.
fn url_user(url: &str) -> Option<(String, String)> {
    let rest = url.split_once("://")?.1;
    let (userinfo, _) = rest.rsplit_once('@')?;
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((percent_decoded(user), percent_decoded(pass)))
}

fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running link.
pub struct Cluster {
    pub view: Arc<ClusterView>,
    thread: std::thread::JoinHandle<()>,
}

impl Cluster {
    /// Connects (retrying in the background when NATS is not up yet), takes the other
    /// nodes' swarms or gives up after the timeout, and starts the link's thread.
    pub fn start(
        settings: Settings,
        engine: Arc<Engine>,
        clock: Clock,
        shutdown: Arc<AtomicBool>,
    ) -> Result<Cluster, Failure> {
        let view = Arc::new(ClusterView::new(&settings.node));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Runtime(format!("cluster: no runtime: {e}")))?;
        let options = settings.options()?;
        let client = rt
            .block_on(options.connect(settings.servers.clone()))
            .map_err(|e| Failure::Runtime(format!("cluster: NATS: {e}")))?;
        let link = Link {
            settings,
            engine,
            clock,
            view: view.clone(),
            client,
            started_at: clock.unix_now() as u32,
        };
        // The whole wait is bounded, NATS up or not.
        let timeout = link.settings.snapshot_timeout;
        if rt
            .block_on(async { tokio::time::timeout(timeout, link.join()).await })
            .is_err()
        {
            tracing::info!(
                waited_ms = timeout.as_millis() as u64,
                "cluster: no answer from another node; serving with what this node has"
            );
        }
        link.note_connection();
        let thread = std::thread::Builder::new()
            .name("shoal-cluster".into())
            .spawn(move || rt.block_on(link.run(shutdown)))
            .map_err(|e| Failure::Runtime(format!("cannot start the cluster thread: {e}")))?;
        Ok(Cluster { view, thread })
    }

    /// Waits for the thread (after the shutdown flag was set): the last changes are
    /// published first.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

struct Link {
    settings: Settings,
    engine: Arc<Engine>,
    clock: Clock,
    view: Arc<ClusterView>,
    client: async_nats::Client,
    started_at: u32,
}

impl Link {
    fn message(&self, kind: Kind, sequence: u64, shard: u16, records: Vec<Record>) -> Message {
        Message {
            kind,
            node: self.settings.node.clone(),
            sequence,
            sent_at: self.clock.unix_now() as u32,
            shard,
            records,
            status: NodeStatus::default(),
        }
    }

    /// Records whether NATS is reachable now, saying so when that changed.
    fn note_connection(&self) {
        let up = self.client.connection_state() == async_nats::connection::State::Connected;
        if self.view.connected() != up {
            if up {
                tracing::info!("cluster: NATS connected");
            } else {
                tracing::warn!("cluster: NATS unreachable; serving from this node's swarms, changes not shared until it is back");
            }
        }
        self.view.set_connected(up);
    }

    /// Publishes this node's own figures (and records them as heard).
    async fn publish_status(&self, announces: u64) {
        let status = NodeStatus {
            local_peers: self.engine.local_peers(),
            torrents: self.engine.counts().0,
            announces,
            started_at: self.started_at,
        };
        self.view.heard(&self.settings.node, status, Instant::now());
        let mut m = self.message(Kind::Status, 0, 0, Vec::new());
        m.status = status;
        if let Some(bytes) = self.encode(&m) {
            self.send(STATUS_SUBJECT.to_owned(), bytes).await;
        }
    }

    /// Publishes `bytes` on `subject`, bounded in time; whether NATS took them.
    async fn send(&self, subject: String, bytes: bytes::Bytes) -> bool {
        let n = bytes.len() as u64;
        // While NATS is down the client's queue fills and a publish waits: give up
        // rather than stop the link.
        let sent = self.client.publish(subject, bytes);
        let ok = matches!(tokio::time::timeout(FLUSH_WAIT, sent).await, Ok(Ok(())));
        if ok {
            self.view.stats.published_bytes.fetch_add(n, Relaxed);
        }
        ok
    }

    fn encode(&self, m: &Message) -> Option<bytes::Bytes> {
        let mut buf = Vec::new();
        match cluster::encode(m, &self.settings.key, &mut buf) {
            Ok(()) => Some(buf.into()),
            Err(e) => {
                tracing::warn!(error = %e, "cluster: cannot encode a batch");
                None
            }
        }
    }

    /// Checks a message and turns its times into this node's: the seconds a peer has
    /// left are counted from when it was sent.
    fn accept(&self, payload: &[u8]) -> Option<Message> {
        match cluster::decode(payload, &self.settings.key) {
            Ok(m) if m.node != self.settings.node => Some(m),
            Ok(_) => None,
            Err(e) => {
                self.view.stats.rejected.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, "cluster: message dropped");
                None
            }
        }
    }

    fn apply(&self, m: &Message) {
        let age = self.clock.unix_now().saturating_sub(u64::from(m.sent_at));
        let records: Vec<Record> = m
            .records
            .iter()
            .filter_map(|r| match r.change {
                cluster::Change::Upsert {
                    seeder,
                    paused,
                    ttl,
                } => {
                    let left = u64::from(ttl).checked_sub(age).filter(|&l| l > 0)?;
                    Some(Record {
                        change: cluster::Change::Upsert {
                            seeder,
                            paused,
                            ttl: left as u16,
                        },
                        ..*r
                    })
                }
                cluster::Change::Remove => Some(*r),
            })
            .collect();
        let applied = self.engine.apply_remote(&records, self.clock.engine_now());
        self.view
            .stats
            .remote_upserts
            .fetch_add(applied.upserted, Relaxed);
        self.view
            .stats
            .remote_removals
            .fetch_add(applied.removed, Relaxed);
    }

    /// Asks the running nodes for their swarms and applies the first whole answer (the
    /// caller bounds the wait).
    async fn join(&self) {
        let started = std::time::Instant::now();
        let inbox = self.client.new_inbox();
        let Ok(mut answers) = self.client.subscribe(inbox.clone()).await else {
            tracing::warn!("cluster: cannot ask for the swarms; starting with what this node has");
            return;
        };
        let Some(ask) = self.encode(&self.message(Kind::SnapshotRequest, 0, 0, Vec::new())) else {
            return;
        };
        let asked = self.client.publish_with_reply(SNAPSHOT_SUBJECT, inbox, ask);
        if !matches!(tokio::time::timeout(FLUSH_WAIT, asked).await, Ok(Ok(()))) {
            tracing::warn!("cluster: NATS is not reachable; starting with what this node has");
            return;
        }
        // The first node to answer is the one listened to: chunks of several nodes
        // would each be whole swarms of their own.
        let mut from: Option<String> = None;
        let mut peers = 0usize;
        let done = async {
            while let Some(msg) = answers.next().await {
                if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    // The first node: nobody to ask.
                    return false;
                }
                let Some(m) = self.accept(&msg.payload) else {
                    continue;
                };
                if !matches!(m.kind, Kind::SnapshotChunk | Kind::SnapshotEnd) {
                    continue;
                }
                if from.get_or_insert_with(|| m.node.clone()) != &m.node {
                    continue;
                }
                peers += m.records.len();
                self.apply(&m);
                if m.kind == Kind::SnapshotEnd {
                    return true;
                }
            }
            false
        }
        .await;
        if done {
            tracing::info!(
                from = from.as_deref().unwrap_or(""),
                peers,
                ms = started.elapsed().as_millis() as u64,
                "cluster: swarms taken from a running node"
            );
        } else {
            tracing::info!(
                waited_ms = started.elapsed().as_millis() as u64,
                peers,
                "cluster: no whole snapshot from another node; serving with what this node has"
            );
        }
    }

    async fn run(self, shutdown: Arc<AtomicBool>) {
        let deltas = self.client.subscribe(format!("{DELTA_SUBJECT}.*")).await;
        let asks = self.client.subscribe(SNAPSHOT_SUBJECT).await;
        let statuses = self.client.subscribe(STATUS_SUBJECT).await;
        let (Ok(mut deltas), Ok(mut asks), Ok(mut statuses)) = (deltas, asks, statuses) else {
            tracing::error!("cluster: cannot subscribe; other nodes' swarms will not arrive");
            return self.publish_until(shutdown).await;
        };
        let mut sequences = Sequences::default();
        // Sequences begin above the last run's: a restarted node's batches are newer.
        let mut sequence = (self.clock.unix_now() << 20).max(1);
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        let mut changes = Vec::new();
        let mut status_at = Instant::now() - STATUS_EVERY;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.note_connection();
                    self.publish(&mut sequence, &mut changes).await;
                    if status_at.elapsed() >= STATUS_EVERY {
                        status_at = Instant::now();
                        self.publish_status((self.settings.announces)()).await;
                    }
                    if shutdown.load(Relaxed) {
                        let _ = tokio::time::timeout(FLUSH_WAIT, self.client.flush()).await;
                        return;
                    }
                }
                Some(msg) = deltas.next() => {
                    let Some(m) = self.accept(&msg.payload) else { continue };
                    if m.kind != Kind::Delta || !sequences.accept(&m) {
                        self.view.stats.rejected.fetch_add(1, Relaxed);
                        continue;
                    }
                    self.apply(&m);
                    self.view.stats.applied.fetch_add(1, Relaxed);
                }
                Some(msg) = statuses.next() => {
                    let Some(m) = self.accept(&msg.payload) else { continue };
                    if m.kind != Kind::Status {
                        self.view.stats.rejected.fetch_add(1, Relaxed);
                        continue;
                    }
                    self.view.heard(&m.node, m.status, Instant::now());
                }
                Some(msg) = asks.next() => {
                    let Some(m) = self.accept(&msg.payload) else { continue };
                    if let (Kind::SnapshotRequest, Some(reply)) = (m.kind, msg.reply) {
                        // A node that starts again begins its sequences again.
                        sequences.forget(&m.node);
                        self.answer(reply).await;
                        self.view.stats.snapshots_sent.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }

    /// Without subscriptions: publishes this node's changes until shutdown.
    async fn publish_until(self, shutdown: Arc<AtomicBool>) {
        let mut sequence = (self.clock.unix_now() << 20).max(1);
        let mut changes = Vec::new();
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        while !shutdown.load(Relaxed) {
            tick.tick().await;
            self.note_connection();
            self.publish(&mut sequence, &mut changes).await;
        }
    }

    /// Publishes each shard's changes since the last tick, split to the message bound.
    async fn publish(&self, sequence: &mut u64, changes: &mut Vec<Record>) {
        let stats = &self.view.stats;
        for shard in 0..self.engine.shard_count() {
            changes.clear();
            let dropped = self.engine.drain_changes(shard, changes);
            stats.dropped.store(dropped, Relaxed);
            for chunk in changes.chunks(cluster::MAX_RECORDS) {
                *sequence += 1;
                let m = self.message(Kind::Delta, *sequence, shard as u16, chunk.to_vec());
                let Some(bytes) = self.encode(&m) else {
                    continue;
                };
                // A batch NATS did not take is given up: its peers refresh at their
                // next announce, or expire on the other nodes.
                if self.send(format!("{DELTA_SUBJECT}.{shard}"), bytes).await {
                    stats.published.fetch_add(1, Relaxed);
                } else {
                    stats.unpublished.fetch_add(chunk.len() as u64, Relaxed);
                    tracing::debug!("cluster: batch not published");
                }
            }
        }
    }

    /// Sends the swarms this node holds (its own peers and the other nodes') to a node
    /// that starts, shard by shard.
    async fn answer(&self, reply: async_nats::Subject) {
        let now = self.clock.engine_now();
        let mut records = Vec::new();
        let mut chunk_no = 0u64;
        for shard in 0..self.engine.shard_count() {
            self.engine.export_swarms(shard, now, &mut records);
            while records.len() >= cluster::MAX_RECORDS {
                let rest = records.split_off(cluster::MAX_RECORDS);
                let part = std::mem::replace(&mut records, rest);
                chunk_no += 1;
                self.send_chunk(&reply, Kind::SnapshotChunk, chunk_no, part)
                    .await;
            }
        }
        chunk_no += 1;
        self.send_chunk(&reply, Kind::SnapshotEnd, chunk_no, records)
            .await;
        let _ = tokio::time::timeout(FLUSH_WAIT, self.client.flush()).await;
    }

    async fn send_chunk(
        &self,
        reply: &async_nats::Subject,
        kind: Kind,
        n: u64,
        records: Vec<Record>,
    ) {
        let Some(bytes) = self.encode(&self.message(kind, n, 0, records)) else {
            return;
        };
        if !self.send(reply.to_string(), bytes).await {
            tracing::warn!("cluster: cannot answer a snapshot request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_user_and_password_are_read_and_decoded() {
        assert_eq!(
            url_user("tls://shoal:s%40cret%3A1@nats.example:4222"),
            Some(("shoal".into(), "s@cret:1".into()))
        );
        assert_eq!(
            url_user("nats://token@h:4222"),
            Some(("token".into(), "".into()))
        );
        assert_eq!(url_user("nats://h:4222"), None);
        assert_eq!(percent_decoded("100%"), "100%", "a lone % stays");
    }
}

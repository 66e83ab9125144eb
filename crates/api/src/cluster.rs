//! The cluster as this node sees it (`[cluster] nats`): its link's counters, whether
//! NATS is reachable, and every node's own figures from their status messages. The
//! link fills it; `/api/cluster`, `/metrics`, `/health/ready` and the dashboard read it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shoal_protocol::cluster::NodeStatus;

/// How often a node sends its status.
pub const STATUS_EVERY: Duration = Duration::from_secs(2);

/// A node not heard from for this long is shown as gone and left out of the totals.
pub const NODE_SILENT: Duration = Duration::from_secs(10);

/// A node gone this long is forgotten.
const NODE_FORGOTTEN: Duration = Duration::from_secs(600);

/// Most nodes remembered (names come from authenticated messages only).
const MAX_NODES: usize = 1024;

/// What the cluster link counted.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Batches published.
    pub published: AtomicU64,
    /// Bytes published (batches, status messages and snapshot answers).
    pub published_bytes: AtomicU64,
    /// Changes that could not be published (NATS down or refusing).
    pub unpublished: AtomicU64,
    /// Changes the engine dropped because a shard's list was full between two drains.
    pub dropped: AtomicU64,
    /// Batches from other nodes applied.
    pub applied: AtomicU64,
    /// Messages dropped: bad signature, malformed, replayed or out of order.
    pub rejected: AtomicU64,
    /// Remote peers added or refreshed.
    pub remote_upserts: AtomicU64,
    /// Remote peers removed.
    pub remote_removals: AtomicU64,
    /// Snapshots sent to starting nodes.
    pub snapshots_sent: AtomicU64,
}

/// What the follower of the store's change log counted (every node has one).
#[derive(Debug, Default)]
pub struct ChangeStats {
    /// Changes other nodes made that this node applied.
    pub applied: AtomicU64,
    /// Reads of the log that failed.
    pub failed_reads: AtomicU64,
    /// 1 while the last read failed.
    pub failing: AtomicBool,
}

/// One node's figures as last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFigures {
    /// What it said.
    pub status: NodeStatus,
    /// How long ago.
    pub silent_for: Duration,
}

/// The cluster link's state, shared with the API.
pub struct ClusterView {
    /// This node's name.
    pub node: String,
    /// The link's counters.
    pub stats: ClusterStats,
    connected: AtomicBool,
    nodes: Mutex<BTreeMap<String, (NodeStatus, Instant)>>,
}

impl ClusterView {
    /// The view of node `node`, not yet connected.
    pub fn new(node: &str) -> ClusterView {
        ClusterView {
            node: node.to_owned(),
            stats: ClusterStats::default(),
            connected: AtomicBool::new(false),
            nodes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether NATS is reachable now.
    pub fn connected(&self) -> bool {
        self.connected.load(Relaxed)
    }

    /// Records whether NATS is reachable.
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Relaxed);
    }

    /// Records what a node (this one included) said at `now`.
    pub fn heard(&self, node: &str, status: NodeStatus, now: Instant) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.retain(|_, (_, at)| now.saturating_duration_since(*at) < NODE_FORGOTTEN);
        if nodes.len() < MAX_NODES || nodes.contains_key(node) {
            nodes.insert(node.to_owned(), (status, now));
        }
    }

    /// Every node remembered, by name, with how long ago it was heard at `now`.
    pub fn nodes(&self, now: Instant) -> Vec<(String, NodeFigures)> {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .iter()
            .map(|(n, (status, at))| {
                let figures = NodeFigures {
                    status: *status,
                    silent_for: now.saturating_duration_since(*at),
                };
                (n.clone(), figures)
            })
            .collect()
    }

    /// The cluster's totals at `now`: nodes heard within [`NODE_SILENT`], and their
    /// peers (each peer counted by the node it announced to) and announces.
    pub fn totals(&self, now: Instant) -> (u64, NodeStatus) {
        let mut sum = NodeStatus::default();
        let mut live = 0;
        for (_, f) in self.nodes(now) {
            if f.silent_for < NODE_SILENT {
                live += 1;
                sum.local_peers += f.status.local_peers;
                sum.announces += f.status.announces;
                sum.torrents = sum.torrents.max(f.status.torrents);
            }
        }
        (live, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(peers: u64, announces: u64, torrents: u64) -> NodeStatus {
        NodeStatus {
            local_peers: peers,
            torrents,
            announces,
            started_at: 0,
        }
    }

    #[test]
    fn totals_sum_the_nodes_heard_lately() {
        let v = ClusterView::new("a");
        let t0 = Instant::now();
        v.heard("a", status(10, 100, 5), t0);
        v.heard("b", status(7, 50, 6), t0);
        v.heard("c", status(3, 1, 1), t0);
        let later = t0 + Duration::from_secs(5);
        v.heard("c", status(4, 2, 2), later);
        assert_eq!(v.totals(later), (3, status(21, 152, 6)));
        // a and b fall silent: shown, not counted; c still is.
        let much_later = t0 + NODE_SILENT + Duration::from_secs(1);
        assert_eq!(v.totals(much_later), (1, status(4, 2, 2)));
        let names: Vec<String> = v.nodes(much_later).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // Gone long enough: forgotten at the next status heard.
        let gone = t0 + NODE_FORGOTTEN + Duration::from_secs(6);
        v.heard("a", status(1, 1, 1), gone);
        let names: Vec<String> = v.nodes(gone).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn the_node_list_is_bounded() {
        let v = ClusterView::new("a");
        let t = Instant::now();
        for i in 0..MAX_NODES + 10 {
            v.heard(&format!("n{i}"), status(1, 1, 1), t);
        }
        assert_eq!(v.nodes(t).len(), MAX_NODES);
        // A node already known is still updated.
        v.heard("n0", status(9, 9, 9), t);
        assert_eq!(v.nodes(t)[0].1.status, status(9, 9, 9));
    }
}

//! The checks every backend must pass: the semantics of each [`Store`] method that
//! callers rely on, including those that must hold when several nodes share one
//! database. They talk to the backend only through the traits.
//!
//! A backend's tests expand [`conformance_tests!`](crate::conformance_tests) with a
//! function that makes a fresh, empty database for one check (it gets the check's name,
//! e.g. for a file name) and returns an opener: `open(node)` returns a new handle on that
//! database as `node`, with connections of its own, standing for another node or for the
//! same node after a restart.
//!
//! ```ignore
//! shoal_store::conformance_tests!(|check: &str| {
//!     let url = fresh_database(check);
//!     move |node: &str| Box::new(PgStore::open_as(&url, node).unwrap()) as Box<dyn Store>
//! });
//! ```
//!
//! Each check panics with a message on the first difference.

use crate::{InfoHash, Sample, SnapshotMark, Store, SwarmSample};

/// Opens a handle on the check's database as the given node.
pub type Open<'a> = &'a dyn Fn(&str) -> Box<dyn Store>;

/// One `#[test]` per check, each on a fresh database made by `$fresh` (see the module
/// docs). Every check is listed here.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            counts_are_sums_of_deltas,
            deltas_from_two_nodes_add_up,
            count_lookups_return_only_known_hashes,
            large_batches_span_several_statements,
            samples_are_ordered_and_pruned,
            samples_belong_to_their_node,
            swarm_samples_are_ordered_replaced_and_pruned,
            access_entries_are_added_and_removed_one_at_a_time,
            a_snapshot_mark_is_taken_once,
            snapshot_marks_belong_to_their_node,
        );
    };
    (@each $fresh:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let open = ($fresh)(stringify!($check));
                $crate::conformance::$check(&open);
            }
        )*
    };
}

fn hash(i: u32) -> InfoHash {
    let mut h = [0u8; 20];
    h[..4].copy_from_slice(&i.to_be_bytes());
    InfoHash(h)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn sample(at: u64, torrents: u64) -> Sample {
    Sample {
        at,
        torrents,
        peers: 2,
        seeders: 1,
        leechers: 1,
        announces: 9,
    }
}

fn swarm(i: u32, seeders: u32) -> SwarmSample {
    SwarmSample {
        info_hash: hash(i),
        seeders,
        leechers: seeders + 1,
    }
}

/// Completed counts are the sums of the deltas added, kept across handles (restarts);
/// an empty batch changes nothing.
pub fn counts_are_sums_of_deltas(open: Open) {
    let s = open(crate::LOCAL_NODE);
    assert!(
        s.load_completed().unwrap().is_empty(),
        "a fresh store is empty"
    );
    s.add_completed(&[(hash(1), 5), (hash(2), 1)]).unwrap();
    s.add_completed(&[(hash(1), 4), (hash(2), 2), (hash(3), 1)])
        .unwrap();
    s.add_completed(&[]).unwrap();
    drop(s);
    let s = open(crate::LOCAL_NODE);
    assert_eq!(
        sorted(s.load_completed().unwrap()),
        vec![(hash(1), 9), (hash(2), 3), (hash(3), 1)]
    );
}

/// Two nodes adding deltas for the same torrents, one after the other and at the same
/// time, end up with the sum of everything both added.
pub fn deltas_from_two_nodes_add_up(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    a.add_completed(&[(hash(1), 3)]).unwrap();
    b.add_completed(&[(hash(1), 4), (hash(2), 1)]).unwrap();
    a.add_completed(&[(hash(2), 2)]).unwrap();
    assert_eq!(
        sorted(b.load_completed().unwrap()),
        vec![(hash(1), 7), (hash(2), 3)]
    );
    // 2 × 50 flushes at once, each adding to the same torrent and to one of its own.
    std::thread::scope(|scope| {
        for (node, own) in [(&a, 100), (&b, 200)] {
            scope.spawn(move || {
                for i in 0..50 {
                    node.add_completed(&[(hash(1), 1), (hash(own + i), 2)])
                        .unwrap();
                }
            });
        }
    });
    let all = sorted(open("node-c").load_completed().unwrap());
    assert_eq!(all.len(), 2 + 100);
    assert_eq!(all[0], (hash(1), 7 + 100));
    assert_eq!(all[1], (hash(2), 3));
    assert!(all[2..].iter().all(|&(_, n)| n == 2), "{all:?}");
}

/// Looking counts up returns the known torrents only, each once.
pub fn count_lookups_return_only_known_hashes(open: Open) {
    let s = open(crate::LOCAL_NODE);
    s.add_completed(&[(hash(1), 5), (hash(2), 1)]).unwrap();
    assert!(s.completed_counts(&[]).unwrap().is_empty());
    assert!(s.completed_counts(&[hash(9)]).unwrap().is_empty());
    assert_eq!(
        sorted(s.completed_counts(&[hash(2), hash(9), hash(1)]).unwrap()),
        vec![(hash(1), 5), (hash(2), 1)]
    );
}

/// Batches larger than one statement's worth of rows are written and read whole.
pub fn large_batches_span_several_statements(open: Open) {
    let s = open(crate::LOCAL_NODE);
    let batch: Vec<_> = (0..5000u32).map(|i| (hash(i), u64::from(i) + 1)).collect();
    s.add_completed(&batch).unwrap();
    s.add_completed(&batch).unwrap();
    let doubled: Vec<_> = batch.iter().map(|&(h, n)| (h, 2 * n)).collect();
    assert_eq!(sorted(s.load_completed().unwrap()), doubled);
    let mut asked: Vec<InfoHash> = batch.iter().step_by(2).map(|(h, _)| *h).collect();
    asked.push(hash(u32::MAX));
    let expected: Vec<_> = doubled.iter().step_by(2).copied().collect();
    assert_eq!(sorted(s.completed_counts(&asked).unwrap()), expected);

    let swarms: Vec<SwarmSample> = (0..5000).map(|i| swarm(i, i)).collect();
    s.add_swarm_samples(100, &swarms, 0).unwrap();
    let mut got: Vec<SwarmSample> = s
        .swarm_samples_since(0)
        .unwrap()
        .into_iter()
        .map(|(at, x)| {
            assert_eq!(at, 100);
            x
        })
        .collect();
    got.sort_by_key(|x| x.info_hash);
    assert_eq!(got, swarms);
}

/// Samples come back oldest first from a given time; pruning drops the older ones; a
/// sample at the same second replaces the earlier one.
pub fn samples_are_ordered_and_pruned(open: Open) {
    let s = open(crate::LOCAL_NODE);
    for at in [220, 100, 160] {
        s.add_sample(&sample(at, at)).unwrap();
    }
    s.add_sample(&sample(160, 7)).unwrap();
    drop(s);
    let s = open(crate::LOCAL_NODE);
    assert_eq!(
        s.samples_since(150).unwrap(),
        vec![sample(160, 7), sample(220, 220)]
    );
    s.prune_samples(200).unwrap();
    assert_eq!(s.samples_since(0).unwrap(), vec![sample(220, 220)]);
}

/// Each node reads and prunes its own samples (and swarm samples), also those taken at
/// the same second as another node's.
pub fn samples_belong_to_their_node(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    a.add_sample(&sample(100, 1)).unwrap();
    b.add_sample(&sample(100, 2)).unwrap();
    b.add_sample(&sample(300, 3)).unwrap();
    a.add_swarm_samples(100, &[swarm(1, 1)], 0).unwrap();
    b.add_swarm_samples(100, &[swarm(1, 2)], 0).unwrap();
    assert_eq!(a.samples_since(0).unwrap(), vec![sample(100, 1)]);
    assert_eq!(
        b.samples_since(0).unwrap(),
        vec![sample(100, 2), sample(300, 3)]
    );
    assert_eq!(a.swarm_samples_since(0).unwrap(), vec![(100, swarm(1, 1))]);
    b.prune_samples(200).unwrap();
    b.add_swarm_samples(300, &[], 200).unwrap();
    assert_eq!(b.samples_since(0).unwrap(), vec![sample(300, 3)]);
    assert!(b.swarm_samples_since(0).unwrap().is_empty());
    assert_eq!(
        a.samples_since(0).unwrap(),
        vec![sample(100, 1)],
        "a's kept"
    );
    assert_eq!(a.swarm_samples_since(0).unwrap(), vec![(100, swarm(1, 1))]);
}

/// Swarm samples come back oldest first from a given time; the same swarm at the same
/// second replaces, not duplicates; adding prunes what is older than the cutoff.
pub fn swarm_samples_are_ordered_replaced_and_pruned(open: Open) {
    let s = open(crate::LOCAL_NODE);
    let many: Vec<SwarmSample> = (0..=255).map(|i| swarm(i, 1)).collect();
    s.add_swarm_samples(100, &many, 0).unwrap();
    s.add_swarm_samples(200, &[swarm(1, 7)], 0).unwrap();
    s.add_swarm_samples(200, &[swarm(1, 8)], 0).unwrap();
    drop(s);
    let s = open(crate::LOCAL_NODE);
    let all = s.swarm_samples_since(0).unwrap();
    assert_eq!(all.len(), 257);
    assert!(all.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");
    assert_eq!(all.last(), Some(&(200, swarm(1, 8))));
    assert_eq!(
        s.swarm_samples_since(150).unwrap(),
        vec![(200, swarm(1, 8))]
    );
    // Adding at 300 with a cutoff of 150 drops the first sample.
    s.add_swarm_samples(300, &[swarm(2, 2)], 150).unwrap();
    assert_eq!(
        s.swarm_samples_since(0).unwrap(),
        vec![(200, swarm(1, 8)), (300, swarm(2, 2))]
    );
}

/// Access-list entries are added and removed one at a time, idempotently, and are
/// shared: one node's change does not undo another's.
pub fn access_entries_are_added_and_removed_one_at_a_time(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    assert!(a.load_access_entries().unwrap().is_empty());
    a.add_access_entry(&hash(1)).unwrap();
    a.add_access_entry(&hash(1)).unwrap();
    b.add_access_entry(&hash(2)).unwrap();
    a.add_access_entry(&hash(3)).unwrap();
    b.remove_access_entry(&hash(3)).unwrap();
    b.remove_access_entry(&hash(3)).unwrap();
    a.remove_access_entry(&hash(9)).unwrap();
    drop((a, b));
    assert_eq!(
        sorted(open("node-c").load_access_entries().unwrap()),
        vec![hash(1), hash(2)]
    );
}

/// A snapshot mark is returned once, by the first take after it was set; a later set
/// replaces an earlier one.
pub fn a_snapshot_mark_is_taken_once(open: Open) {
    let mark = SnapshotMark {
        written_at: 1_700_000_000,
        checksum: u64::MAX - 5,
    };
    let s = open(crate::LOCAL_NODE);
    assert_eq!(s.take_snapshot_mark().unwrap(), None);
    s.set_snapshot_mark(&SnapshotMark {
        written_at: 1,
        checksum: 1,
    })
    .unwrap();
    s.set_snapshot_mark(&mark).unwrap();
    drop(s);
    let s = open(crate::LOCAL_NODE);
    assert_eq!(s.take_snapshot_mark().unwrap(), Some(mark));
    assert_eq!(s.take_snapshot_mark().unwrap(), None);
}

/// Each node takes only the mark it set (each node writes its own snapshot file).
pub fn snapshot_marks_belong_to_their_node(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let mark = |n| SnapshotMark {
        written_at: n,
        checksum: n,
    };
    a.set_snapshot_mark(&mark(1)).unwrap();
    b.set_snapshot_mark(&mark(2)).unwrap();
    assert_eq!(a.take_snapshot_mark().unwrap(), Some(mark(1)));
    assert_eq!(a.take_snapshot_mark().unwrap(), None);
    assert_eq!(b.take_snapshot_mark().unwrap(), Some(mark(2)));
}

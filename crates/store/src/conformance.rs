//! The checks every backend must pass: the semantics of each [`Store`](crate::Store) method that
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

use crate::{
    Account, AccountChange, Backend, CatalogEntry, HitAndRun, InfoHash, NewAccount, NewSession,
    NewUpload, PasskeyRow, PreviewFile, PreviewKind, PreviewState, Published, Role, Sample,
    SnapshotMark, StoreError, SwarmSample, TrackerChange, TrafficRow, UploadFilter,
};

/// Opens a handle on the check's database as the given node.
pub type Open<'a> = &'a dyn Fn(&str) -> Box<dyn Backend>;

/// One `#[test]` per check, each on a fresh database made by `$fresh` (see the module
/// docs). Every check is listed here.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            counts_are_sums_of_deltas,
            deltas_from_two_nodes_add_up,
            a_batch_sent_again_is_added_once,
            count_lookups_return_only_known_hashes,
            large_batches_span_several_statements,
            samples_are_ordered_and_pruned,
            samples_belong_to_their_node,
            swarm_samples_are_ordered_replaced_and_pruned,
            access_entries_are_added_and_removed_one_at_a_time,
            changes_reach_every_node_in_order,
            a_snapshot_mark_is_taken_once,
            snapshot_marks_belong_to_their_node,
            catalog_entries_round_trip_and_replace,
            catalog_lookups_and_summaries_return_only_known_hashes,
            catalog_prunes_the_longest_inactive_first,
            a_hybrid_torrent_is_one_entry_under_both_hashes,
            the_catalog_scans_in_resolved_order_without_info,
            accounts_are_unique_by_name_in_any_case,
            account_changes_reach_another_handle_by_sequence,
            traffic_adds_to_accounts_and_their_torrents,
            passwords_are_stored_and_replaced,
            an_invite_registers_one_account_before_it_expires,
            a_taken_name_leaves_the_invite_unused,
            sessions_live_until_they_expire_or_end,
            uploads_publish_at_once_or_after_approval,
            uploads_are_unique_under_either_hash_and_survive_pruning,
            freeleech_and_settings_bump_the_version,
            admins_find_and_change_accounts,
            invites_from_a_quota_stop_at_zero,
            seeding_time_earns_bonus_and_settles_hits_and_runs,
            previews_share_files_hide_deny_and_evict,
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

/// A node that sends a batch again (its commit's answer was lost) adds it once, for
/// completed counts and credits alike; another node's batch of the same number and the
/// same node's next batch still add up; marks are pruned after a day.
pub fn a_batch_sent_again_is_added_once(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    assert!(a.add_completed_once(7, &[(hash(1), 3)]).unwrap());
    assert!(
        !a.add_completed_once(7, &[(hash(1), 3)]).unwrap(),
        "a retry"
    );
    assert!(
        b.add_completed_once(7, &[(hash(1), 4)]).unwrap(),
        "another node's 7"
    );
    assert!(a.add_completed_once(8, &[(hash(1), 1)]).unwrap());
    assert_eq!(a.load_completed().unwrap(), vec![(hash(1), 8)]);

    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let row = TrafficRow {
        user_id: alice.id,
        info_hash: hash(5),
        uploaded: 100,
        downloaded: 10,
        seeding: false,
        active: true,
        completed: false,
        seeded: 0,
        at: 10,
    };
    assert!(a.add_traffic_once(7, &[row]).unwrap(), "kinds apart");
    assert!(!a.add_traffic_once(7, &[row]).unwrap());
    assert!(b.add_traffic_once(9, &[row]).unwrap());
    let acct = b.account("alice").unwrap().unwrap();
    assert_eq!((acct.uploaded, acct.downloaded), (200, 20));
    // A day later the marks are gone: the same number is a new batch again.
    let far = u64::from(u32::MAX) * 4;
    a.prune_tracker_changes(far).unwrap();
    assert!(a.add_completed_once(7, &[(hash(1), 1)]).unwrap());
    assert_eq!(b.load_completed().unwrap(), vec![(hash(1), 9)]);
}

/// Access-list and catalog changes made through any handle are logged, in order, for
/// every other node to apply; a swarm removal reaches the other nodes but not the one
/// that logged it; pruning forgets old changes without reusing their sequences.
pub fn changes_reach_every_node_in_order(open: Open) {
    use TrackerChange::*;
    let (a, b) = (open("node-a"), open("node-b"));
    let start = b.last_tracker_change().unwrap();
    assert_eq!(b.tracker_changes(start).unwrap(), (start, vec![]));
    a.add_access_entry(&hash(1)).unwrap();
    a.add_access_entry(&hash(1)).unwrap(); // already there: nothing new
    a.remove_access_entry(&hash(9)).unwrap(); // not there: nothing new
    a.add_catalog_entries(&[entry(2, 1, 10)]).unwrap();
    a.log_swarm_removal(&hash(3)).unwrap();
    a.remove_access_entry(&hash(1)).unwrap();
    assert!(a.remove_catalog_entry(&hash(2)).unwrap());
    let (seq, seen) = b.tracker_changes(start).unwrap();
    assert_eq!(
        seen,
        [
            AccessAdded(hash(1)),
            CatalogAdded(hash(2)),
            SwarmRemoved(hash(3)),
            AccessRemoved(hash(1)),
            CatalogRemoved(hash(2)),
        ]
    );
    assert_eq!(seq, b.last_tracker_change().unwrap());
    assert!(b.tracker_changes(seq).unwrap().1.is_empty(), "nothing new");
    // The node that removed the swarm did so itself (a backend that knows who wrote the
    // other changes leaves those out too).
    let (own_seq, own) = a.tracker_changes(start).unwrap();
    assert_eq!(own_seq, seq);
    assert!(!own.contains(&SwarmRemoved(hash(3))));
    // Pruned: a later change still comes after every earlier sequence.
    let far = u64::from(u32::MAX) * 4;
    assert_eq!(a.prune_tracker_changes(far).unwrap(), 5);
    assert_eq!(b.tracker_changes(start).unwrap(), (start, vec![]));
    b.add_access_entry(&hash(4)).unwrap();
    let (later, seen) = a.tracker_changes(seq).unwrap();
    assert!(later > seq);
    assert_eq!(seen, [AccessAdded(hash(4))]);
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

fn entry(i: u32, files: usize, last_active: u64) -> CatalogEntry {
    CatalogEntry {
        info_hash: hash(i),
        alias: None,
        info_hash_v2: i.is_multiple_of(2).then_some([i as u8; 32]),
        name: format!("torrent {i} — ünïcode 名前"),
        total_size: 1000 * files as u64,
        file_count: files as u64,
        piece_length: 16384,
        private: i.is_multiple_of(3),
        first_seen: 100 + u64::from(i),
        resolved_at: 200 + u64::from(i),
        source_peers: 3,
        last_active,
        files: (0..files)
            .map(|f| (format!("dir/file {f}.bin"), 1000))
            .collect(),
        info: format!("d4:name{}:torrent {i}e", 9 + i.to_string().len()).into_bytes(),
    }
}

/// An entry reads back exactly, files in order (more than one statement's worth), and
/// adding it again replaces it but keeps when it was first seen.
pub fn catalog_entries_round_trip_and_replace(open: Open) {
    let a = open("node-a");
    let (one, big) = (entry(1, 2, 500), entry(2, 1000, 500));
    a.add_catalog_entries(&[one.clone(), big.clone()]).unwrap();
    a.add_catalog_entries(&[]).unwrap();
    assert_eq!(a.catalog_entry(&hash(1)).unwrap(), Some(one.clone()));
    assert_eq!(a.catalog_entry(&hash(2)).unwrap(), Some(big));
    assert_eq!(a.catalog_entry(&hash(3)).unwrap(), None);
    let renamed = CatalogEntry {
        name: "renamed".into(),
        first_seen: 999,
        files: vec![("only".into(), 7)],
        file_count: 1,
        ..one
    };
    open("node-b")
        .add_catalog_entries(std::slice::from_ref(&renamed))
        .unwrap();
    let back = a.catalog_entry(&hash(1)).unwrap().unwrap();
    assert_eq!(back.first_seen, 101, "first_seen is kept");
    assert_eq!((back.name.as_str(), back.files), ("renamed", renamed.files));
    assert_eq!(a.catalog_len().unwrap(), 2);
    assert!(a.remove_catalog_entry(&hash(1)).unwrap());
    assert!(!a.remove_catalog_entry(&hash(1)).unwrap());
    assert_eq!(a.catalog_entry(&hash(1)).unwrap(), None);
    assert_eq!(a.catalog_len().unwrap(), 1);
}

/// Known-hash and summary lookups answer for the hashes held only, over several
/// statements.
pub fn catalog_lookups_and_summaries_return_only_known_hashes(open: Open) {
    let a = open("node-a");
    let held: Vec<CatalogEntry> = (0..450).map(|i| entry(i * 2, 1, 10)).collect();
    a.add_catalog_entries(&held).unwrap();
    let asked: Vec<InfoHash> = (0..900).map(hash).collect();
    let known = sorted(a.catalog_known(&asked).unwrap());
    assert_eq!(known, sorted((0..450).map(|i| hash(i * 2)).collect()));
    let summaries = a.catalog_summaries(&[hash(4), hash(5)]).unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].info_hash, hash(4));
    assert_eq!(summaries[0].name, entry(4, 1, 10).name);
    assert_eq!(
        (summaries[0].total_size, summaries[0].file_count),
        (1000, 1)
    );
    assert!(a.catalog_known(&[]).unwrap().is_empty());
}

/// Pruning keeps the entries with peers most recently; touching an entry makes it
/// recent (never older).
pub fn catalog_prunes_the_longest_inactive_first(open: Open) {
    let a = open("node-a");
    a.add_catalog_entries(&[entry(1, 1, 10), entry(2, 1, 20), entry(3, 1, 30)])
        .unwrap();
    a.touch_catalog(&[hash(1)], 40).unwrap();
    a.touch_catalog(&[hash(3)], 5).unwrap();
    assert_eq!(a.catalog_entry(&hash(3)).unwrap().unwrap().last_active, 30);
    assert_eq!(a.prune_catalog(5).unwrap(), 0);
    assert_eq!(a.prune_catalog(2).unwrap(), 1);
    assert_eq!(
        sorted(a.catalog_known(&[hash(1), hash(2), hash(3)]).unwrap()),
        vec![hash(1), hash(3)]
    );
    assert_eq!(a.catalog_oldest(10).unwrap(), vec![hash(3), hash(1)]);
    assert_eq!(a.catalog_oldest(1).unwrap(), vec![hash(3)]);
    assert_eq!(a.remove_catalog_entries(&[hash(3), hash(9)]).unwrap(), 1);
    assert_eq!(a.remove_catalog_entries(&[]).unwrap(), 0);
    assert_eq!(a.prune_catalog(0).unwrap(), 1);
    assert_eq!(a.catalog_len().unwrap(), 0);
}

/// A hybrid torrent resolved under one hash is found under the other; resolving it
/// again under the other adds no second entry; removing it by either removes both.
pub fn a_hybrid_torrent_is_one_entry_under_both_hashes(open: Open) {
    let a = open("node-a");
    let hybrid = CatalogEntry {
        alias: Some(hash(77)),
        ..entry(7, 3, 10)
    };
    a.add_catalog_entries(std::slice::from_ref(&hybrid))
        .unwrap();
    assert_eq!(
        sorted(a.catalog_known(&[hash(7), hash(77), hash(8)]).unwrap()),
        vec![hash(7), hash(77)]
    );
    assert_eq!(a.catalog_entry(&hash(77)).unwrap(), Some(hybrid.clone()));
    a.touch_catalog(&[hash(77)], 99).unwrap();
    assert_eq!(
        a.catalog_entry(&hash(7)).unwrap().unwrap().last_active,
        99,
        "touched by its alias"
    );
    let hybrid = CatalogEntry {
        last_active: 99,
        ..hybrid
    };
    let summaries = a.catalog_summaries(&[hash(77)]).unwrap();
    assert_eq!((summaries.len(), summaries[0].info_hash), (1, hash(77)));
    assert_eq!(summaries[0].name, hybrid.name);
    // The same torrent resolved from its other swarm: still one entry.
    let again = CatalogEntry {
        info_hash: hash(77),
        alias: Some(hash(7)),
        ..hybrid.clone()
    };
    a.add_catalog_entries(&[again]).unwrap();
    assert_eq!(a.catalog_len().unwrap(), 1);
    assert!(a.remove_catalog_entry(&hash(77)).unwrap());
    assert_eq!(a.catalog_len().unwrap(), 0);
    assert!(a.catalog_known(&[hash(7), hash(77)]).unwrap().is_empty());
}

/// A scan walks every entry once in `(resolved_at, info_hash)` order, page by page,
/// with files and alias but no info dictionary; starting after a time skips what was
/// resolved before (how the search index catches up).
pub fn the_catalog_scans_in_resolved_order_without_info(open: Open) {
    let a = open("node-a");
    let mut entries: Vec<CatalogEntry> = (1..=7).map(|i| entry(i, i as usize, 10)).collect();
    // Two resolved in the same second: the hash breaks the tie.
    entries[3].resolved_at = entries[2].resolved_at;
    entries[5].alias = Some(hash(66));
    a.add_catalog_entries(&entries).unwrap();
    let mut seen = Vec::new();
    let mut after = (0, InfoHash([0; 20]));
    loop {
        let page = a.catalog_scan(after, 3).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        let last = page.last().unwrap();
        after = (last.resolved_at, last.info_hash);
        seen.extend(page);
    }
    let mut want: Vec<CatalogEntry> = entries
        .iter()
        .map(|e| CatalogEntry {
            info: Vec::new(),
            ..e.clone()
        })
        .collect();
    want.sort_by_key(|e| (e.resolved_at, e.info_hash.0));
    assert_eq!(seen, want);
    let later = a
        .catalog_scan((entries[4].resolved_at, InfoHash([0xff; 20])), 100)
        .unwrap();
    assert_eq!(later.len(), 2);
    assert!(later.iter().all(|e| e.resolved_at > entries[4].resolved_at));
}

fn new_account(name: &str, key: u8) -> NewAccount<'_> {
    NewAccount {
        name,
        role: Role::User,
        passkey: [key; 16],
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        invited_by: None,
        created_at: 1_700_000_000,
    }
}

/// An account reads back as created; a name is taken in any case, and so is a
/// passkey; bans and new passkeys apply to the account of that name in any case.
pub fn accounts_are_unique_by_name_in_any_case(open: Open) {
    let a = open("node-a");
    let alice = a.add_account(&new_account("Alice", 1)).unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.role, alice.passkey),
        ("Alice", Role::User, [1; 16])
    );
    assert_eq!(
        (alice.uploaded, alice.downloaded, alice.banned),
        (0, 0, false)
    );
    assert_eq!(a.account("alice").unwrap(), Some(alice.clone()));
    assert!(matches!(
        a.add_account(&new_account("ALICE", 2)),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(
            a.add_account(&new_account("bob", 1)),
            Err(StoreError::Conflict(_))
        ),
        "a passkey is one account's"
    );
    let bob = a
        .add_account(&NewAccount {
            role: Role::Admin,
            invited_by: Some(alice.id),
            ..new_account("Bob", 2)
        })
        .unwrap();
    assert_ne!(bob.id, alice.id);
    assert_eq!((bob.role, bob.invited_by), (Role::Admin, Some(alice.id)));
    assert!(a.set_banned("ALICE", true).unwrap());
    assert!(a.account("Alice").unwrap().unwrap().banned);
    assert!(!a.set_banned("nobody", true).unwrap());
    assert!(a.set_passkey("bob", [9; 16]).unwrap());
    assert_eq!(a.account("bob").unwrap().unwrap().passkey, [9; 16]);
    assert!(a.account("carol").unwrap().is_none());
    a.add_invite([7; 32], Some(bob.id), 10, 20).unwrap();
    assert!(
        a.add_invite([7; 32], None, 10, 20).is_err(),
        "an invite code is stored once"
    );
}

/// The passkey table a node loads is current to a sequence; changes made through
/// another handle (another node, or `shoal user` beside a server) come back as the
/// changed accounts' rows after that sequence, and nothing more.
pub fn account_changes_reach_another_handle_by_sequence(open: Open) {
    let (a, b) = (open("node-a"), open("cli"));
    let (seq0, rows) = a.passkeys().unwrap();
    assert!(rows.is_empty());
    b.add_account(&new_account("alice", 1)).unwrap();
    b.add_account(&new_account("bob", 2)).unwrap();
    let (seq1, changed) = a.passkey_changes(seq0).unwrap();
    assert!(seq1 > seq0);
    let mut keys: Vec<[u8; 16]> = changed.iter().map(|r| r.passkey).collect();
    keys.sort();
    assert_eq!(keys, [[1; 16], [2; 16]]);
    assert!(a.passkey_changes(seq1).unwrap().1.is_empty(), "nothing new");
    b.set_banned("alice", true).unwrap();
    b.set_passkey("bob", [3; 16]).unwrap();
    let (seq2, mut changed) = a.passkey_changes(seq1).unwrap();
    changed.sort_by_key(|r| r.passkey);
    assert!(seq2 > seq1);
    let alice = a.account("alice").unwrap().unwrap();
    let bob = a.account("bob").unwrap().unwrap();
    assert_eq!(
        changed,
        [
            PasskeyRow {
                user_id: alice.id,
                passkey: [1; 16],
                admitted: false,
                uploaded: 0,
                downloaded: 0,
                ratio_exempt: false,
            },
            PasskeyRow {
                user_id: bob.id,
                passkey: [3; 16],
                admitted: true,
                uploaded: 0,
                downloaded: 0,
                ratio_exempt: false,
            },
        ]
    );
    let (seq, all) = a.passkeys().unwrap();
    assert_eq!((seq, all.len()), (seq2, 2));
}

/// Credits add up per account and torrent, and to the account's totals, from several
/// handles (nodes); the last announce's state wins; a snatch stays a snatch.
pub fn traffic_adds_to_accounts_and_their_torrents(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let row = |up: u64, down: u64, seeding: bool, completed: bool, at: u64| TrafficRow {
        user_id: alice.id,
        info_hash: hash(5),
        uploaded: up,
        downloaded: down,
        seeding,
        active: true,
        completed,
        seeded: 0,
        at,
    };
    a.add_traffic(&[row(100, 1000, false, false, 10)]).unwrap();
    b.add_traffic(&[
        row(50, 24, true, true, 20),
        TrafficRow {
            info_hash: hash(6),
            ..row(7, 0, true, false, 15)
        },
    ])
    .unwrap();
    a.add_traffic(&[]).unwrap();
    let acct = a.account("alice").unwrap().unwrap();
    assert_eq!((acct.uploaded, acct.downloaded), (157, 1024));
    let t = a.account_torrents(alice.id).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].info_hash, hash(5), "most recent first");
    assert_eq!(
        (
            t[0].uploaded,
            t[0].downloaded,
            t[0].seeding,
            t[0].snatched,
            t[0].last_announce
        ),
        (150, 1024, true, true, 20)
    );
    a.add_traffic(&[TrafficRow {
        active: false,
        ..row(0, 0, false, false, 30)
    }])
    .unwrap();
    let t = a.account_torrents(alice.id).unwrap();
    assert!(t[0].snatched && !t[0].active && !t[0].seeding);
    // The passkey table reads the new totals (for the ratio rule).
    let rows = b.passkey_rows(&[alice.id, alice.id + 100]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].uploaded, rows[0].downloaded), (157, 1024));
    assert!(a.account_torrents(alice.id + 100).unwrap().is_empty());
}

/// A login finds the account by name in any case with its password hash; a new hash
/// replaces the old one.
pub fn passwords_are_stored_and_replaced(open: Open) {
    let a = open("node-a");
    let alice = a
        .add_account(&NewAccount {
            password_hash: Some("$argon2id$old"),
            ..new_account("Alice", 1)
        })
        .unwrap();
    let bob = a
        .add_account(&NewAccount {
            password_hash: None,
            ..new_account("bob", 2)
        })
        .unwrap();
    let (found, hash) = a.credentials("ALICE").unwrap().unwrap();
    assert_eq!(
        (found, hash.as_deref()),
        (alice.clone(), Some("$argon2id$old"))
    );
    assert_eq!(
        a.credentials("bob").unwrap().unwrap().1,
        None,
        "no password"
    );
    assert!(a.credentials("carol").unwrap().is_none());
    assert!(a.set_password(alice.id, "$argon2id$new").unwrap());
    assert_eq!(
        open("cli")
            .credentials("alice")
            .unwrap()
            .unwrap()
            .1
            .as_deref(),
        Some("$argon2id$new")
    );
    assert!(
        !a.set_password(bob.id + 100, "x").unwrap(),
        "no such account"
    );
}

/// An invite makes one account, only while unused and unexpired; the account records
/// who made the invite, and the invite is used at once (a second handle cannot use it
/// again).
pub fn an_invite_registers_one_account_before_it_expires(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    a.add_invite([1; 32], Some(alice.id), 100, 200).unwrap();
    a.add_invite([2; 32], None, 100, 200).unwrap();
    assert_eq!(
        a.register(&new_account("bob", 2), [9; 32], 150).unwrap(),
        None,
        "unknown code"
    );
    assert_eq!(
        a.register(&new_account("bob", 2), [1; 32], 200).unwrap(),
        None,
        "expired"
    );
    assert!(a.account("bob").unwrap().is_none());
    let bob = a
        .register(&new_account("bob", 2), [1; 32], 199)
        .unwrap()
        .unwrap();
    assert_eq!((bob.name.as_str(), bob.invited_by), ("bob", Some(alice.id)));
    assert_eq!(b.account("bob").unwrap(), Some(bob.clone()));
    assert_eq!(
        b.register(&new_account("carol", 3), [1; 32], 150).unwrap(),
        None,
        "used"
    );
    let carol = b
        .register(&new_account("carol", 3), [2; 32], 150)
        .unwrap()
        .unwrap();
    assert_eq!(carol.invited_by, None, "an invite made on the command line");
    let (_, rows) = a.passkey_changes(0).unwrap();
    assert!(
        rows.iter().any(|r| r.user_id == carol.id),
        "logged as a change"
    );
}

/// Registering under a taken name fails without using the invite.
pub fn a_taken_name_leaves_the_invite_unused(open: Open) {
    let a = open("node-a");
    a.add_account(&new_account("alice", 1)).unwrap();
    a.add_invite([1; 32], None, 100, 200).unwrap();
    assert!(matches!(
        a.register(&new_account("ALICE", 2), [1; 32], 150),
        Err(StoreError::Conflict(_))
    ));
    assert!(a
        .register(&new_account("bob", 2), [1; 32], 150)
        .unwrap()
        .is_some());
}

/// A session is found by its token hash until it expires or is deleted, with its
/// account as it is now; ending an account's other sessions keeps the one named;
/// expired sessions are pruned (also when a new one is made).
pub fn sessions_live_until_they_expire_or_end(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let bob = a.add_account(&new_account("bob", 2)).unwrap();
    let session = |n: u8, user_id, expires_at| NewSession {
        token_hash: [n; 32],
        user_id,
        csrf: [n + 100; 32],
        created_at: 100,
        expires_at,
    };
    a.create_session(&session(1, alice.id, 1000)).unwrap();
    a.create_session(&session(2, alice.id, 1000)).unwrap();
    a.create_session(&session(3, bob.id, 500)).unwrap();
    let s = b.session([1; 32], 999).unwrap().unwrap();
    assert_eq!(
        (s.account, s.csrf, s.expires_at),
        (alice.clone(), [101; 32], 1000)
    );
    assert!(b.session([1; 32], 1000).unwrap().is_none(), "expired");
    assert!(b.session([4; 32], 100).unwrap().is_none(), "unknown");
    a.set_banned("alice", true).unwrap();
    assert!(b.session([2; 32], 200).unwrap().unwrap().account.banned);
    assert_eq!(a.delete_sessions_of(alice.id, Some([2; 32])).unwrap(), 1);
    assert!(b.session([1; 32], 200).unwrap().is_none());
    assert!(b.session([2; 32], 200).unwrap().is_some(), "the one kept");
    assert!(a.delete_session([2; 32]).unwrap());
    assert!(!a.delete_session([2; 32]).unwrap());
    assert!(b.session([2; 32], 200).unwrap().is_none());
    assert_eq!(a.delete_sessions_of(bob.id, None).unwrap(), 1);
    a.create_session(&session(5, bob.id, 600)).unwrap();
    a.create_session(&session(6, bob.id, 900)).unwrap();
    assert_eq!(a.prune_sessions(600).unwrap(), 1);
    assert!(b.session([6; 32], 700).unwrap().is_some());
    a.create_session(&NewSession {
        created_at: 900,
        ..session(7, bob.id, 2000)
    })
    .unwrap();
    assert!(
        b.session([6; 32], 0).unwrap().is_none(),
        "pruned when a session is made"
    );
}

fn upload<'a>(e: &'a CatalogEntry, user_id: u64, approved: bool, list: bool) -> NewUpload<'a> {
    NewUpload {
        entry: e,
        user_id,
        title: "A title",
        description: "about it",
        category: "video",
        at: 1_700_000_100,
        approved,
        list,
    }
}

/// An approved upload is in the catalog under its title (and the access list when
/// asked) at once; a pending one only after approval, from the info it kept; a
/// rejected one is gone.
pub fn uploads_publish_at_once_or_after_approval(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let (one, two, three) = (entry(1, 2, 500), entry(2, 1, 500), entry(3, 1, 500));
    assert_eq!(
        a.add_upload(&upload(&one, alice.id, true, true)).unwrap(),
        Published::Added
    );
    assert_eq!(b.catalog_entry(&hash(1)).unwrap().unwrap().name, "A title");
    assert_eq!(b.load_access_entries().unwrap(), vec![hash(1)]);
    let u = b.upload(&hash(1)).unwrap().unwrap();
    assert_eq!(
        (
            u.uploader.as_str(),
            u.approved,
            u.freeleech,
            u.total_size,
            u.file_count,
            u.category.as_str()
        ),
        ("alice", true, false, 2000, 2, "video")
    );
    // Pending: not in the catalog, not listed; its info kept.
    a.add_upload(&upload(&two, alice.id, false, true)).unwrap();
    assert_eq!(b.catalog_entry(&hash(2)).unwrap(), None);
    assert_eq!(b.pending_info(&hash(2)).unwrap(), Some(two.info.clone()));
    assert_eq!(
        b.pending_info(&hash(1)).unwrap(),
        None,
        "published: nothing pending"
    );
    let pending = b
        .uploads(
            &UploadFilter {
                approved: Some(false),
                ..Default::default()
            },
            10,
            0,
        )
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(b.approve_upload(&two, true).unwrap());
    assert!(!b.approve_upload(&two, true).unwrap(), "once");
    assert_eq!(a.catalog_entry(&hash(2)).unwrap().unwrap().name, "A title");
    assert_eq!(
        sorted(a.load_access_entries().unwrap()),
        vec![hash(1), hash(2)]
    );
    // Not listed when the access list is not an allow list.
    a.add_upload(&upload(&three, alice.id, false, false))
        .unwrap();
    assert!(a.reject_upload(&hash(3)).unwrap());
    assert!(!a.reject_upload(&hash(3)).unwrap());
    assert_eq!(a.upload(&hash(3)).unwrap(), None);
    let mine = a
        .uploads(
            &UploadFilter {
                user_id: Some(alice.id),
                ..Default::default()
            },
            10,
            0,
        )
        .unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        a.uploads(
            &UploadFilter {
                user_id: Some(alice.id + 99),
                ..Default::default()
            },
            10,
            0
        )
        .unwrap()
        .len(),
        0
    );
}

/// A hybrid uploaded under one hash is a duplicate under the other; uploads are never
/// the entries pruning takes; deleting the entry deletes the upload.
pub fn uploads_are_unique_under_either_hash_and_survive_pruning(open: Open) {
    let a = open("node-a");
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let hybrid = CatalogEntry {
        alias: Some(hash(50)),
        ..entry(5, 1, 1)
    };
    a.add_upload(&upload(&hybrid, alice.id, true, false))
        .unwrap();
    let other_way = CatalogEntry {
        info_hash: hash(50),
        alias: Some(hash(5)),
        ..entry(5, 1, 1)
    };
    assert_eq!(
        a.add_upload(&upload(&other_way, alice.id, true, false))
            .unwrap(),
        Published::Duplicate(hash(5))
    );
    assert_eq!(a.upload(&hash(50)).unwrap().unwrap().info_hash, hash(5));
    // Newer swarm entries; the upload is the longest inactive but stays.
    a.add_catalog_entries(&[entry(6, 1, 900), entry(7, 1, 950)])
        .unwrap();
    assert_eq!(a.catalog_oldest(1).unwrap(), vec![hash(6)]);
    a.prune_catalog(2).unwrap();
    assert!(
        a.catalog_entry(&hash(5)).unwrap().is_some(),
        "the upload stays"
    );
    assert!(a.catalog_entry(&hash(6)).unwrap().is_none());
    assert!(a.remove_catalog_entry(&hash(5)).unwrap());
    assert_eq!(a.upload(&hash(5)).unwrap(), None);
}

/// Freeleech flags and settings bump the version servers poll; the version is not a
/// setting.
pub fn freeleech_and_settings_bump_the_version(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let hybrid = CatalogEntry {
        alias: Some(hash(90)),
        ..entry(9, 1, 1)
    };
    a.add_upload(&upload(&hybrid, alice.id, true, false))
        .unwrap();
    let v0 = b.site_version().unwrap();
    assert!(
        !a.set_upload_freeleech(&hash(8), true).unwrap(),
        "no such upload"
    );
    assert_eq!(b.site_version().unwrap(), v0);
    assert!(
        a.set_upload_freeleech(&hash(90), true).unwrap(),
        "by its alias"
    );
    let v1 = b.site_version().unwrap();
    assert!(v1 > v0);
    assert_eq!(
        sorted(b.freeleech_torrents().unwrap()),
        vec![hash(9), hash(90)]
    );
    let free = b
        .uploads(
            &UploadFilter {
                freeleech: true,
                ..Default::default()
            },
            10,
            0,
        )
        .unwrap();
    assert_eq!(free.len(), 1);
    a.set_site_settings(&[("registration", "open"), ("freeleech", "true")])
        .unwrap();
    a.set_site_settings(&[("registration", "off")]).unwrap();
    let (v2, values) = b.site_settings().unwrap();
    assert!(v2 >= v1 + 2);
    assert_eq!(
        values,
        vec![
            ("freeleech".to_owned(), "true".to_owned()),
            ("registration".to_owned(), "off".to_owned())
        ]
    );
    assert!(a.set_site_settings(&[("version", "0")]).is_err());
    assert!(a.set_upload_freeleech(&hash(9), false).unwrap());
    assert!(b.freeleech_torrents().unwrap().is_empty());
}

/// Accounts are found by name prefix in any case (wildcards are literal) and by number;
/// changes are logged for the trackers' passkey tables.
pub fn admins_find_and_change_accounts(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    for (i, n) in ["Anna", "annika", "bob", "a_b", "axb"].iter().enumerate() {
        a.add_account(&new_account(n, i as u8 + 1)).unwrap();
    }
    let names = |v: Vec<Account>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(names(b.accounts("AN", 10, 0).unwrap()), ["Anna", "annika"]);
    assert_eq!(
        names(b.accounts("a_", 10, 0).unwrap()),
        ["a_b"],
        "_ is literal"
    );
    assert_eq!(names(b.accounts("", 2, 1).unwrap()), ["Anna", "annika"]);
    let bob = b.account("bob").unwrap().unwrap();
    assert_eq!(b.account_by_id(bob.id).unwrap(), Some(bob.clone()));
    assert_eq!(b.account_by_id(bob.id + 100).unwrap(), None);
    let (seq, _) = b.passkeys().unwrap();
    assert!(a
        .change_account(bob.id, AccountChange::Role(Role::Moderator))
        .unwrap());
    assert!(a
        .change_account(bob.id, AccountChange::InviteQuota(3))
        .unwrap());
    assert!(a
        .change_account(bob.id, AccountChange::RatioExempt(true))
        .unwrap());
    assert!(!a
        .change_account(bob.id + 100, AccountChange::InviteQuota(3))
        .unwrap());
    let now = b.account("bob").unwrap().unwrap();
    assert_eq!(
        (now.role, now.invite_quota, now.ratio_exempt),
        (Role::Moderator, 3, true)
    );
    let (_, changed) = b.passkey_changes(seq).unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].ratio_exempt);
}

/// An account's invites come from its quota, one each, until none is left; invites list
/// who made and used them.
pub fn invites_from_a_quota_stop_at_zero(open: Open) {
    let a = open("node-a");
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    assert!(
        !a.add_invite_from_quota([1; 32], alice.id, 10, 100).unwrap(),
        "no quota"
    );
    a.change_account(alice.id, AccountChange::InviteQuota(1))
        .unwrap();
    assert!(a
        .add_invite_from_quota([1; 32], alice.id, 10, 2_000_000_000)
        .unwrap());
    assert!(!a.add_invite_from_quota([2; 32], alice.id, 11, 100).unwrap());
    assert_eq!(a.account("alice").unwrap().unwrap().invite_quota, 0);
    a.add_invite([3; 32], None, 12, 100).unwrap();
    let bob = a
        .register(&new_account("bob", 2), [1; 32], 20)
        .unwrap()
        .unwrap();
    assert_eq!(bob.invited_by, Some(alice.id));
    let all = a.invites(None, 10).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].created_by, None, "newest first");
    assert_eq!(
        (
            all[1].created_by.as_deref(),
            all[1].used_by.as_deref(),
            all[1].used_at
        ),
        (Some("alice"), Some("bob"), Some(20))
    );
    assert_eq!(a.invites(Some(alice.id), 10).unwrap().len(), 1);
}

/// Seeding time adds up per torrent, the first completion's time is kept, points earned
/// by seeding buy upload credit once, and hits and runs are counted as
/// [`HitAndRun::broken`] judges each torrent.
pub fn seeding_time_earns_bonus_and_settles_hits_and_runs(open: Open) {
    let (a, b) = (open("node-a"), open("node-b"));
    let alice = a.add_account(&new_account("alice", 1)).unwrap();
    let bob = a.add_account(&new_account("bob", 2)).unwrap();
    let row =
        |user: u64, h: u32, up: u64, down: u64, seeded: u64, completed: bool, at: u64| TrafficRow {
            user_id: user,
            info_hash: hash(h),
            uploaded: up,
            downloaded: down,
            seeding: true,
            active: true,
            completed,
            seeded,
            at,
        };
    // Alice: torrent 1 completed at 1000, seeded 3600 s over two nodes; torrent 2
    // completed at 1000, seeded 100 s; torrent 3 completed, uploaded as much as she took.
    a.add_traffic(&[
        row(alice.id, 1, 0, 50, 1800, true, 1000),
        row(alice.id, 2, 0, 50, 100, true, 1000),
    ])
    .unwrap();
    b.add_traffic(&[
        row(alice.id, 1, 0, 0, 1800, true, 2000),
        row(alice.id, 3, 60, 50, 0, true, 1000),
    ])
    .unwrap();
    // Bob: torrent 1 completed late, never seeded.
    a.add_traffic(&[row(bob.id, 1, 0, 10, 0, true, 500)])
        .unwrap();
    let t = b.account_torrents(alice.id).unwrap();
    let one = t.iter().find(|t| t.info_hash == hash(1)).unwrap();
    assert_eq!(
        (one.seed_time, one.snatched_at),
        (3600, Some(1000)),
        "summed; the first completion kept"
    );
    let rule = HitAndRun {
        seed_secs: 3600,
        grace_secs: 100,
    };
    let now = 1200;
    let mut counted = b.hit_and_runs(rule, now).unwrap();
    counted.sort();
    assert_eq!(counted, vec![(alice.id, 1), (bob.id, 1)]);
    for (user, n) in &counted {
        let judged = b
            .account_torrents(*user)
            .unwrap()
            .iter()
            .filter(|t| rule.broken(t, now))
            .count();
        assert_eq!(judged as u32, *n, "the store counts as the rule judges");
    }
    assert!(
        b.hit_and_runs(rule, 550).unwrap().is_empty(),
        "within the grace"
    );
    // 3700 s seeded: 3 points at 1000 s a point.
    assert!(
        !a.spend_bonus(alice.id, 4, 1000, 1 << 20).unwrap(),
        "more than earned"
    );
    assert!(a.spend_bonus(alice.id, 2, 1000, 1 << 20).unwrap());
    assert!(
        !b.spend_bonus(alice.id, 2, 1000, 1 << 20).unwrap(),
        "only one left"
    );
    assert!(b.spend_bonus(alice.id, 1, 1000, 1 << 20).unwrap());
    let now = b.account("alice").unwrap().unwrap();
    assert_eq!((now.bonus_spent, now.uploaded), (3, 60 + (3 << 20)));
}

fn preview_file(n: u8, kind: PreviewKind, stored: u64) -> PreviewFile {
    PreviewFile {
        sha256: [n; 32],
        kind,
        size: stored * 2,
        stored,
        width: if kind == PreviewKind::Image { 640 } else { 0 },
        height: if kind == PreviewKind::Image { 480 } else { 0 },
        encoding: if kind == PreviewKind::Text {
            "windows-1251".into()
        } else {
            String::new()
        },
        truncated: n.is_multiple_of(2),
    }
}

/// Preview files are held once however many torrents list them; hiding a file or a
/// torrent frees what nothing else lists, and both hides outlive the torrent's catalog
/// entry; a denied file leaves every torrent and is not stored again; eviction goes by
/// the last view and stops at the budget.
pub fn previews_share_files_hide_deny_and_evict(open: Open) {
    let s = open("a");
    let (t1, t2, t3) = (hash(1), hash(2), hash(3));
    let cover = preview_file(1, PreviewKind::Image, 1000);
    let nfo = preview_file(2, PreviewKind::Text, 300);
    let readme = preview_file(3, PreviewKind::Text, 200);
    assert_eq!(s.preview(&t1).unwrap(), None);
    let listed = s
        .add_preview(
            &t1,
            10,
            4096,
            &[
                ("a/cover.jpg".into(), cover.clone()),
                ("a/x.nfo".into(), nfo.clone()),
            ],
        )
        .unwrap();
    assert_eq!(sorted(listed), vec![[1; 32], [2; 32]]);
    s.add_preview(
        &t2,
        11,
        2048,
        &[
            ("b/front.jpg".into(), cover.clone()),
            ("b/readme.txt".into(), readme.clone()),
        ],
    )
    .unwrap();
    assert_eq!(sorted(s.previewed(&[t1, t2, t3]).unwrap()), vec![t1, t2]);
    assert_eq!(
        s.preview_usage().unwrap(),
        (1500, 3),
        "the shared cover is held once"
    );
    let p = open("b").preview(&t1).unwrap().unwrap();
    assert_eq!(p.state, PreviewState::Done);
    assert_eq!((p.at, p.fetched), (10, 4096));
    assert_eq!(
        p.files,
        vec![
            ("a/cover.jpg".to_string(), cover.clone()),
            ("a/x.nfo".to_string(), nfo.clone())
        ]
    );
    assert_eq!(s.preview_file(&[2; 32]).unwrap(), Some(nfo.clone()));

    // Hiding one file: the shared cover stays (t2 lists it), the .nfo goes.
    assert_eq!(
        s.hide_preview(&t1, Some("a/x.nfo"), 12).unwrap(),
        Some(vec![[2; 32]])
    );
    assert_eq!(
        s.hide_preview(&t1, Some("a/x.nfo"), 12).unwrap(),
        None,
        "nothing left to hide"
    );
    assert_eq!(
        s.hide_preview(&t1, Some("a/cover.jpg"), 12).unwrap(),
        Some(Vec::new())
    );
    assert_eq!(s.preview_file(&[1; 32]).unwrap(), Some(cover.clone()));
    assert!(s.preview(&t1).unwrap().unwrap().files.is_empty());
    // Hiding a whole torrent: its files go, it is never filled again.
    assert_eq!(
        sorted(s.hide_preview(&t2, None, 13).unwrap().unwrap()),
        vec![[1; 32], [3; 32]]
    );
    assert_eq!(s.hide_preview(&t2, None, 13).unwrap(), None);
    assert_eq!(s.preview(&t2).unwrap().unwrap().state, PreviewState::Hidden);
    assert_eq!(
        s.add_preview(&t2, 14, 1, &[("b/front.jpg".into(), cover.clone())])
            .unwrap(),
        Vec::<[u8; 32]>::new()
    );
    assert!(s.preview(&t2).unwrap().unwrap().files.is_empty());
    // Hiding a torrent never previewed keeps it from being fetched.
    assert_eq!(s.hide_preview(&t3, None, 15).unwrap(), Some(Vec::new()));
    assert_eq!(s.previewed(&[t3]).unwrap(), vec![t3]);
    assert_eq!(s.preview_usage().unwrap(), (0, 0));

    // The deny list.
    let t4 = hash(4);
    s.add_preview(
        &t4,
        20,
        1,
        &[
            ("c.jpg".into(), cover.clone()),
            ("d.txt".into(), readme.clone()),
        ],
    )
    .unwrap();
    assert!(s.deny_preview_file(&[1; 32], 21).unwrap());
    assert!(
        !s.deny_preview_file(&[9; 32], 22).unwrap(),
        "not held, denied all the same"
    );
    assert_eq!(
        s.preview_denied().unwrap(),
        vec![([9; 32], 22), ([1; 32], 21)]
    );
    assert_eq!(
        s.preview(&t4).unwrap().unwrap().files,
        vec![("d.txt".to_string(), readme.clone())]
    );
    let t5 = hash(5);
    assert_eq!(
        s.add_preview(&t5, 23, 1, &[("e.jpg".into(), cover.clone())])
            .unwrap(),
        Vec::<[u8; 32]>::new()
    );
    assert_eq!(s.preview_file(&[1; 32]).unwrap(), None);
    assert!(s.allow_preview_file(&[1; 32]).unwrap());
    assert!(!s.allow_preview_file(&[1; 32]).unwrap());
    assert_eq!(
        s.add_preview(&t5, 24, 1, &[("e.jpg".into(), cover.clone())])
            .unwrap(),
        vec![[1; 32]]
    );

    // Eviction: least recently viewed first, down to the budget.
    let more = preview_file(4, PreviewKind::Text, 500);
    s.add_preview(
        &t5,
        25,
        1,
        &[
            ("e.jpg".into(), cover.clone()),
            ("f.nfo".into(), more.clone()),
        ],
    )
    .unwrap();
    assert_eq!(s.preview_usage().unwrap(), (1700, 3));
    s.preview_viewed(&[[1; 32]], 30).unwrap();
    s.preview_viewed(&[[4; 32]], 31).unwrap();
    assert_eq!(s.evict_previews(1700).unwrap(), Vec::<[u8; 32]>::new());
    assert_eq!(
        s.evict_previews(1600).unwrap(),
        vec![[3; 32]],
        "the readme was never viewed"
    );
    assert_eq!(s.evict_previews(600).unwrap(), vec![[1; 32]]);
    assert_eq!(s.preview_usage().unwrap(), (500, 1));
    assert_eq!(
        s.preview(&t5).unwrap().unwrap().files,
        vec![("f.nfo".to_string(), more.clone())]
    );

    // A torrent's catalog entry gone: its preview goes, and what only it listed.
    let t6 = hash(6);
    s.add_preview(
        &t6,
        40,
        1,
        &[
            ("g.nfo".into(), more.clone()),
            ("h.txt".into(), readme.clone()),
        ],
    )
    .unwrap();
    assert_eq!(
        s.remove_previews(&[t6, hash(99)]).unwrap(),
        vec![[3; 32]],
        "f.nfo is t5's too"
    );
    assert_eq!(s.preview(&t6).unwrap(), None);
    assert_eq!(s.previewed(&[t6]).unwrap(), Vec::<InfoHash>::new());
    assert_eq!(s.remove_previews(&[t5, t2]).unwrap(), vec![[4; 32]]);
    // A hide outlives the entry: the torrent is not fetched again if it comes back.
    let hidden = s.preview(&t2).unwrap().unwrap();
    assert_eq!(
        (hidden.state, hidden.files.len()),
        (PreviewState::Hidden, 0)
    );
    assert_eq!(s.previewed(&[t2, t5]).unwrap(), vec![t2]);
    assert_eq!(s.preview_usage().unwrap(), (0, 0));

    // So does a file hidden from one torrent: fetched again after its entry went and
    // came back, the torrent lists only what was not hidden.
    s.remove_previews(&[t1]).unwrap();
    assert_eq!(s.previewed(&[t1]).unwrap(), Vec::<InfoHash>::new());
    let listed = s
        .add_preview(
            &t1,
            50,
            1,
            &[
                ("a/cover.jpg".into(), cover.clone()),
                ("a/new.txt".into(), readme.clone()),
                ("a/x.nfo".into(), nfo.clone()),
            ],
        )
        .unwrap();
    assert_eq!(listed, vec![[3; 32]]);
    assert_eq!(
        open("b").preview(&t1).unwrap().unwrap().files,
        vec![("a/new.txt".to_string(), readme.clone())]
    );
    // The same file in another torrent is not hidden there.
    assert_eq!(
        s.add_preview(&t6, 51, 1, &[("a/x.nfo".into(), nfo.clone())])
            .unwrap(),
        vec![[2; 32]]
    );
}

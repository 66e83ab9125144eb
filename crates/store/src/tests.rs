use super::*;

fn temp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("shoal-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn migrates_from_empty_and_reopens() {
    let d = temp("migrate");
    let path = d.join("s.sqlite");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.save_completed(&[(InfoHash([1; 20]), 3)]).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load_completed().unwrap(), vec![(InfoHash([1; 20]), 3)]);
}

#[test]
fn completed_counts_only_grow() {
    let d = temp("grow");
    let s = SqliteStore::open(&d.join("s.sqlite")).unwrap();
    s.save_completed(&[(InfoHash([1; 20]), 5), (InfoHash([2; 20]), 1)])
        .unwrap();
    s.save_completed(&[(InfoHash([1; 20]), 4), (InfoHash([2; 20]), 2)])
        .unwrap();
    let mut all = s.load_completed().unwrap();
    all.sort();
    assert_eq!(all, vec![(InfoHash([1; 20]), 5), (InfoHash([2; 20]), 2)]);
}

#[test]
fn samples_round_trip_and_prune() {
    let d = temp("samples");
    let s = SqliteStore::open(&d.join("s.sqlite")).unwrap();
    for at in [100, 160, 220] {
        s.add_sample(&Sample {
            at,
            torrents: at,
            peers: 2,
            seeders: 1,
            leechers: 1,
            announces: 9,
        })
        .unwrap();
    }
    assert_eq!(
        s.samples_since(150)
            .unwrap()
            .iter()
            .map(|x| x.at)
            .collect::<Vec<_>>(),
        vec![160, 220]
    );
    s.prune_samples(200).unwrap();
    assert_eq!(s.samples_since(0).unwrap().len(), 1);
}

#[test]
fn refuses_a_newer_schema() {
    let d = temp("newer");
    let path = d.join("s.sqlite");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.rt.block_on(
            sqlx::query("INSERT INTO schema_version (version) VALUES (99)").execute(&s.pool),
        )
        .unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::NewerSchema { found: 99, .. })
    ));
}

#[test]
fn large_batches_span_several_statements() {
    let d = temp("large");
    let s = SqliteStore::open(&d.join("s.sqlite")).unwrap();
    let batch: Vec<_> = (0..1000u32)
        .map(|i| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            (InfoHash(h), u64::from(i) + 1)
        })
        .collect();
    s.save_completed(&batch).unwrap();
    let mut all = s.load_completed().unwrap();
    all.sort();
    assert_eq!(all, batch);
}

#[test]
fn access_entries_are_replaced_whole() {
    let d = temp("access");
    let path = d.join("s.sqlite");
    let s = SqliteStore::open(&path).unwrap();
    s.replace_access_entries(&[InfoHash([1; 20]), InfoHash([2; 20])])
        .unwrap();
    s.replace_access_entries(&[InfoHash([2; 20]), InfoHash([3; 20])])
        .unwrap();
    drop(s);
    let mut got = SqliteStore::open(&path)
        .unwrap()
        .load_access_entries()
        .unwrap();
    got.sort();
    assert_eq!(got, vec![InfoHash([2; 20]), InfoHash([3; 20])]);
}

#[test]
fn swarm_samples_round_trip_and_prune() {
    let d = temp("swarms");
    let path = d.join("s.sqlite");
    let sample = |b: u8, s: u32| SwarmSample {
        info_hash: InfoHash([b; 20]),
        seeders: s,
        leechers: s + 1,
    };
    {
        let s = SqliteStore::open(&path).unwrap();
        let many: Vec<SwarmSample> = (0..=255u8).map(|b| sample(b, 1)).collect();
        s.add_swarm_samples(100, &many, 0).unwrap();
        s.add_swarm_samples(200, &[sample(1, 7)], 0).unwrap();
        // The same swarm and time again replaces, not duplicates.
        s.add_swarm_samples(200, &[sample(1, 8)], 0).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let all = s.swarm_samples_since(0).unwrap();
    assert_eq!(all.len(), 257);
    assert_eq!(all.last(), Some(&(200, sample(1, 8))));
    assert_eq!(
        s.swarm_samples_since(150).unwrap(),
        vec![(200, sample(1, 8))]
    );
    // Adding at 300 with a cutoff of 150 drops the first sample.
    s.add_swarm_samples(300, &[sample(2, 2)], 150).unwrap();
    assert_eq!(s.swarm_samples_since(0).unwrap().len(), 2);
}

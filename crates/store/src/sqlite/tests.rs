use super::*;

crate::conformance_tests!(|check: &str| {
    let dir = temp(&format!("conformance-{check}"));
    let path = dir.path().join("s.sqlite");
    // The directory lives as long as the opener and is removed with it.
    move |node: &str| {
        let _ = &dir;
        Box::new(SqliteStore::open_as(&path, node).unwrap()) as Box<dyn crate::Backend>
    }
});

/// A fresh directory, removed when the returned handle drops (also when a test panics).
fn temp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("shoal-store-{tag}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn migrates_from_empty_and_reopens() {
    let d = temp("migrate");
    let path = d.path().join("s.sqlite");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.add_completed(&[(InfoHash([1; 20]), 3)]).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load_completed().unwrap(), vec![(InfoHash([1; 20]), 3)]);
}

/// The last handle dropped inside another runtime (a front end's task, at shutdown) does
/// not panic, and what it wrote is in the file.
#[test]
fn a_handle_dropped_inside_a_runtime_shuts_down_quietly() {
    let d = temp("drop-in-runtime");
    let path = d.path().join("s.sqlite");
    let s = SqliteStore::open(&path).unwrap();
    s.add_completed(&[(InfoHash([2; 20]), 5)]).unwrap();
    let outer = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    outer.block_on(async move { drop(s) });
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load_completed().unwrap(), vec![(InfoHash([2; 20]), 5)]);
}

#[test]
fn refuses_a_newer_schema() {
    let d = temp("newer");
    let path = d.path().join("s.sqlite");
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
fn creates_a_missing_file_with_every_table() {
    let d = temp("create");
    let path = d.path().join("s.sqlite");
    // Left by a crash during an earlier creation: never the store, so replaced.
    std::fs::write(d.path().join("s.sqlite.new"), b"half-made").unwrap();
    let s = SqliteStore::open(&path).unwrap();
    assert!(!d.path().join("s.sqlite.new").exists());
    let (tables, app): (Vec<String>, i64) = s.rt.block_on(async {
        let tables = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name",
        )
        .fetch_all(&s.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        let app = sqlx::query("PRAGMA application_id")
            .fetch_one(&s.pool)
            .await
            .unwrap()
            .get(0);
        (tables, app)
    });
    // TABLES is what `open` accepts; it must be exactly what the migrations create.
    let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    known.sort();
    assert_eq!(tables, known);
    assert_eq!(app, APPLICATION_ID);
}

#[test]
fn migrations_are_the_numbered_files_in_order() {
    crate::sql::assert_numbered("sqlite", MIGRATIONS);
}

/// A store as the last schema before samples were kept per node (version 4) left it,
/// written with that schema's own SQL.
const VERSION_4: &str = "
    PRAGMA application_id = 1936224097;
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version VALUES (1), (2), (3), (4);
    CREATE TABLE completed (info_hash BLOB PRIMARY KEY NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE samples (at INTEGER PRIMARY KEY NOT NULL, torrents INTEGER NOT NULL,
        peers INTEGER NOT NULL, seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
        announces INTEGER NOT NULL);
    CREATE TABLE access_list (info_hash BLOB PRIMARY KEY NOT NULL) WITHOUT ROWID;
    CREATE TABLE swarm_samples (at INTEGER NOT NULL, info_hash BLOB NOT NULL,
        seeders INTEGER NOT NULL, leechers INTEGER NOT NULL,
        PRIMARY KEY (at, info_hash)) WITHOUT ROWID;
    CREATE TABLE snapshot_mark (written_at INTEGER NOT NULL, checksum BLOB NOT NULL);
    INSERT INTO completed VALUES (x'0101010101010101010101010101010101010101', 7),
        (x'0202020202020202020202020202020202020202', 1);
    INSERT INTO samples VALUES (100, 1, 2, 3, 4, 5), (160, 6, 7, 8, 9, 10);
    INSERT INTO access_list VALUES (x'0303030303030303030303030303030303030303');
    INSERT INTO swarm_samples VALUES (100, x'0101010101010101010101010101010101010101', 3, 4);
    INSERT INTO snapshot_mark VALUES (1700000000, x'00000000000000ff');
";

#[test]
fn a_version_4_store_migrates_and_keeps_its_data() {
    let d = temp("version-4");
    let path = d.path().join("s.sqlite");
    foreign_db(&path, VERSION_4);
    let s = SqliteStore::open(&path).unwrap();
    let version: i64 =
        s.rt.block_on(sqlx::query("SELECT MAX(version) FROM schema_version").fetch_one(&s.pool))
            .unwrap()
            .get(0);
    assert_eq!(version, MIGRATIONS.len() as i64);
    // Stored counts are the base later deltas add to.
    let (one, two) = (InfoHash([1; 20]), InfoHash([2; 20]));
    let mut counts = s.load_completed().unwrap();
    counts.sort();
    assert_eq!(counts, vec![(one, 7), (two, 1)]);
    s.add_completed(&[(one, 2)]).unwrap();
    assert_eq!(s.completed_counts(&[one]).unwrap(), vec![(one, 9)]);
    // Samples and the snapshot mark become the local node's.
    let sample = |at, t| Sample {
        at,
        torrents: t,
        peers: t + 1,
        seeders: t + 2,
        leechers: t + 3,
        announces: t + 4,
    };
    assert_eq!(
        s.samples_since(0).unwrap(),
        vec![sample(100, 1), sample(160, 6)]
    );
    let swarm = SwarmSample {
        info_hash: one,
        seeders: 3,
        leechers: 4,
    };
    assert_eq!(s.swarm_samples_since(0).unwrap(), vec![(100, swarm)]);
    assert_eq!(s.load_access_entries().unwrap(), vec![InfoHash([3; 20])]);
    let other = SqliteStore::open_as(&path, "node-b").unwrap();
    assert!(other.samples_since(0).unwrap().is_empty());
    assert_eq!(other.take_snapshot_mark().unwrap(), None);
    assert_eq!(
        s.take_snapshot_mark().unwrap(),
        Some(SnapshotMark {
            written_at: 1_700_000_000,
            checksum: 0xff
        })
    );
    drop((s, other));
    // Opens again as it is now.
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.samples_since(150).unwrap(), vec![sample(160, 6)]);
}

fn not_a_store(r: Result<SqliteStore, StoreError>) -> String {
    match r {
        Err(e @ StoreError::NotAStore { .. }) => e.to_string(),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn refuses_an_empty_file_and_a_file_that_is_not_sqlite() {
    let d = temp("foreign-bytes");
    let path = d.path().join("s.sqlite");
    std::fs::write(&path, b"").unwrap();
    let msg = not_a_store(SqliteStore::open(&path));
    assert!(msg.contains("s.sqlite") && msg.contains("empty"), "{msg}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left untouched");

    let junk = b"these are not the bytes of an SQLite database, not at all".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let msg = not_a_store(SqliteStore::open(&path));
    assert!(msg.contains("not an SQLite database"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), junk, "left untouched");

    std::fs::write(&path, b"SQLite").unwrap();
    let msg = not_a_store(SqliteStore::open(&path));
    assert!(msg.contains("not an SQLite database"), "{msg}");

    // The right first bytes, then nothing SQLite can read.
    let damaged = [&SQLITE_HEADER[..], &[0xee; 4000][..]].concat();
    std::fs::write(&path, &damaged).unwrap();
    let msg = not_a_store(SqliteStore::open(&path));
    assert!(msg.contains("not an SQLite database"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged, "left untouched");
}

/// Makes an SQLite file at `path` with the given SQL, as another program would.
fn foreign_db(path: &std::path::Path, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let mut c = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    });
}

#[test]
fn refuses_another_programs_database() {
    let d = temp("foreign-db");
    for (i, (sql, says)) in [
        ("CREATE TABLE users (name TEXT);", "users"),
        ("PRAGMA user_version = 1;", "without shoal's tables"),
        (
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1);
             CREATE TABLE completed (info_hash BLOB PRIMARY KEY NOT NULL, count INTEGER NOT NULL);
             CREATE TABLE invoices (id INTEGER);",
            "invoices",
        ),
        (
            "PRAGMA application_id = 1179402567; CREATE TABLE schema_version (version INTEGER);",
            "another program",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = d.path().join(format!("s{i}.sqlite"));
        foreign_db(&path, sql);
        let before = std::fs::read(&path).unwrap();
        let msg = not_a_store(SqliteStore::open(&path));
        assert!(msg.contains(&format!("s{i}.sqlite")), "{msg}");
        assert!(msg.contains(says), "{sql}: {msg}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{sql}: left untouched"
        );
    }
}

#[test]
fn opens_a_store_written_before_files_were_stamped() {
    let d = temp("unstamped");
    let path = d.path().join("s.sqlite");
    // What the first three schema versions left, with no application id.
    let mut sql = String::from("CREATE TABLE schema_version (version INTEGER NOT NULL);");
    for (i, (_, m)) in MIGRATIONS[..3].iter().enumerate() {
        sql.push_str(m);
        sql.push_str(&format!("INSERT INTO schema_version VALUES ({});", i + 1));
    }
    sql.push_str("INSERT INTO completed VALUES (x'0101010101010101010101010101010101010101', 7);");
    foreign_db(&path, &sql);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.load_completed().unwrap(), vec![(InfoHash([1; 20]), 7)]);
    s.set_snapshot_mark(&SnapshotMark {
        written_at: 1,
        checksum: 2,
    })
    .unwrap();
    drop(s);
    // Stamped now, so it opens as a store from here on.
    let s = SqliteStore::open(&path).unwrap();
    let app: i64 =
        s.rt.block_on(sqlx::query("PRAGMA application_id").fetch_one(&s.pool))
            .unwrap()
            .get(0);
    assert_eq!(app, APPLICATION_ID);
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted when dropped (also when a
/// test panics). `None`, with a message, when not root or mounting fails.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(tag: &str, size: &str) -> Option<Tmpfs> {
        let dir = temp(tag);
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(self.0.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still holds a file there: detach now, freed when released.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0.path())
                .status();
        }
    }
}

/// Fills the file system holding `dir` with a file; returns its path.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x5au8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    path
}

fn batch(from: u32, n: u32) -> Vec<(InfoHash, u64)> {
    (from..from + n)
        .map(|i| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            (InfoHash(h), u64::from(i) + 1)
        })
        .collect()
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_the_store_recovers() {
    let Some(fs) = Tmpfs::mount("full", "1m") else {
        return;
    };
    let path = fs.0.path().join("s.sqlite");
    let s = SqliteStore::open(&path).unwrap();
    let mut acknowledged = Vec::new();
    let first = batch(0, 50);
    s.add_completed(&first).unwrap();
    acknowledged.extend(first);
    s.add_access_entry(&InfoHash([1; 20])).unwrap();
    let filler = fill(fs.0.path());

    // Writes until several fail in a row; every one that says Ok must be on disk later.
    let (mut failures, mut next) = (0, 50);
    while failures < 5 {
        let b = batch(next, 300);
        next += 300;
        match s.add_completed(&b) {
            Ok(()) => acknowledged.extend(b),
            Err(_) => failures += 1,
        }
        // May or may not fit; the last write below decides what must be on disk.
        let _ = s.add_access_entry(&InfoHash([2; 20]));
        assert!(next < 100_000, "the disk never filled");
    }

    std::fs::remove_file(&filler).unwrap();
    let after = batch(next, 300);
    s.add_completed(&after)
        .expect("the first write after space is back succeeds");
    acknowledged.extend(after);
    for h in [1, 2] {
        s.remove_access_entry(&InfoHash([h; 20])).unwrap();
    }
    s.add_access_entry(&InfoHash([4; 20])).unwrap();
    drop(s);

    let s = SqliteStore::open(&path).unwrap();
    let mut got = s.load_completed().unwrap();
    got.sort();
    acknowledged.sort();
    assert_eq!(got.len(), acknowledged.len(), "acknowledged counts on disk");
    assert_eq!(got, acknowledged);
    assert_eq!(s.load_access_entries().unwrap(), vec![InfoHash([4; 20])]);
}

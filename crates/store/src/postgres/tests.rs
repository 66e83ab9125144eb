//! [`PgStore`] against a real PostgreSQL, which the tests start themselves: a throwaway
//! cluster in a temporary directory (see [`server`]), a fresh database per test.

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::*;
use crate::testing::{block_on, server, Server};
use crate::{Backend, NewUpload, Published, Role, SiteStore};

crate::conformance_tests!({
    // A block, not a closure: without PostgreSQL its `return` skips the test.
    let Some(server) = server() else { return };
    move |check: &str| {
        let url = server.database(check);
        move |node: &str| Box::new(PgStore::connect(&url, node).unwrap()) as Box<dyn Backend>
    }
});

#[test]
fn migrations_are_the_numbered_files_in_order() {
    crate::sql::assert_numbered("postgres", MIGRATIONS);
}

/// A plain account.
fn account(name: &str, passkey: [u8; 16]) -> NewAccount<'_> {
    NewAccount {
        name,
        role: Role::User,
        passkey,
        password_hash: None,
        invited_by: None,
        created_at: 1,
    }
}

/// A one-file catalog entry.
fn entry(i: u8, name: &str) -> CatalogEntry {
    CatalogEntry {
        info_hash: InfoHash([i; 20]),
        alias: None,
        info_hash_v2: None,
        name: name.into(),
        total_size: 1,
        file_count: 1,
        piece_length: 16384,
        private: false,
        first_seen: 1,
        resolved_at: 1,
        source_peers: 1,
        last_active: 1,
        files: vec![("f".into(), 1)],
        info: b"d4:name1:fe".to_vec(),
    }
}

/// What a schema is made of, as both backends can list it: every column (table, name,
/// whether it may be NULL), each table's primary key, its unique column sets and its
/// named indexes (name, table, columns).
#[derive(Debug, PartialEq, Eq, Default)]
struct Schema {
    columns: BTreeSet<(String, String, bool)>,
    keys: BTreeSet<(String, Vec<String>)>,
    unique: BTreeSet<(String, Vec<String>)>,
    indexes: BTreeSet<(String, String, Vec<String>)>,
}

fn sqlite_schema() -> Schema {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = tempfile::Builder::new()
        .prefix("shoal-store-pg-schema-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("s.sqlite");
    drop(crate::SqliteStore::open(&path).unwrap());
    let schema = block_on(async {
        let options = SqliteConnectOptions::new().filename(&path).read_only(true);
        let mut c = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let mut schema = Schema::default();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        for t in tables {
            let cols: Vec<(String, bool, i64)> = sqlx::query_as(
                "SELECT name, \"notnull\", pk FROM pragma_table_info(?) ORDER BY pk",
            )
            .bind(&t)
            .fetch_all(&mut c)
            .await
            .unwrap();
            let key: Vec<String> = cols
                .iter()
                .filter(|(_, _, pk)| *pk > 0)
                .map(|(n, _, _)| n.clone())
                .collect();
            if !key.is_empty() {
                schema.keys.insert((t.clone(), key));
            }
            for (name, not_null, pk) in cols {
                // A primary key is never NULL, said or not (INTEGER PRIMARY KEY).
                schema
                    .columns
                    .insert((t.clone(), name, !(not_null || pk > 0)));
            }
            let indexes: Vec<(String, bool, String)> =
                sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
                    .bind(&t)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            for (index, unique, origin) in indexes {
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                        .bind(&index)
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                match origin.as_str() {
                    "u" if unique => drop(schema.unique.insert((t.clone(), cols))),
                    "c" => drop(schema.indexes.insert((index, t.clone(), cols))),
                    _ => {} // the primary key's own index
                }
            }
        }
        schema
    });
    schema
}

fn postgres_schema(server: &Server, database: &str) -> Schema {
    server.query(database, async |c| {
        let mut schema = Schema::default();
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, is_nullable = 'YES'
             FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap();
        schema.columns.extend(columns);
        let indexes: Vec<(String, String, bool, bool, Vec<String>)> = sqlx::query_as(
            "SELECT i.relname::text, t.relname::text, x.indisprimary, x.indisunique,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(n, o)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o)
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             WHERE t.relnamespace = current_schema()::regnamespace",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap();
        for (index, table, primary, unique, cols) in indexes {
            if primary {
                schema.keys.insert((table, cols));
            } else if unique {
                schema.unique.insert((table, cols));
            } else {
                schema.indexes.insert((index, table, cols));
            }
        }
        schema
    })
}

#[test]
fn the_schema_is_the_sqlite_stores() {
    let Some(server) = server() else { return };
    let url = server.database("the_schema_is_the_sqlite_stores");
    drop(PgStore::connect(&url, "a").unwrap());
    let pg = postgres_schema(server, "the_schema_is_the_sqlite_stores");
    let sqlite = sqlite_schema();
    assert_eq!(pg.columns, sqlite.columns, "columns");
    assert_eq!(pg.keys, sqlite.keys, "primary keys");
    assert_eq!(pg.unique, sqlite.unique, "unique columns");
    assert_eq!(pg.indexes, sqlite.indexes, "indexes");
    // Both listed something of each kind: every table (23), every table's key but
    // schema_version's, users' two unique columns, the thirteen named indexes.
    let tables: BTreeSet<&str> = pg.columns.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tables.len(), 23, "{tables:?}");
    assert_eq!(
        (pg.keys.len(), pg.unique.len(), pg.indexes.len()),
        (22, 2, 13)
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(server) = server() else { return };
    let url = server.database("a_newer_schema_is_refused");
    let s = PgStore::connect(&url, "a").unwrap();
    s.add_completed(&[(InfoHash([1; 20]), 3)]).unwrap();
    drop(s);
    server.query("a_newer_schema_is_refused", async |c| {
        sqlx::query("INSERT INTO schema_version (version) VALUES (99)")
            .execute(c)
            .await
            .unwrap()
    });
    let known = MIGRATIONS.len() as i64;
    match PgStore::connect(&url, "a") {
        Err(
            e @ StoreError::NewerSchema {
                found: 99,
                known: k,
            },
        ) if k == known => {
            let msg = e.to_string();
            assert!(
                msg.contains("99") && msg.contains(&format!("({known})")),
                "{msg}"
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn nodes_starting_at_once_migrate_once() {
    let Some(server) = server() else { return };
    let url = server.database("nodes_starting_at_once_migrate_once");
    let start = Barrier::new(4);
    std::thread::scope(|scope| {
        for i in 0..4 {
            let (url, start) = (&url, &start);
            scope.spawn(move || {
                start.wait();
                PgStore::connect(url, &format!("node-{i}")).unwrap()
            });
        }
    });
    let versions: Vec<i64> = server.query("nodes_starting_at_once_migrate_once", async |c| {
        sqlx::query_scalar("SELECT version FROM schema_version ORDER BY version")
            .fetch_all(c)
            .await
            .unwrap()
    });
    assert_eq!(versions, (1..=MIGRATIONS.len() as i64).collect::<Vec<_>>());
}

#[test]
fn an_unreachable_server_is_an_error() {
    // A port nothing listens on: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let started = Instant::now();
    match PgStore::connect(&format!("postgres://postgres@127.0.0.1:{port}/shoal"), "a") {
        Err(StoreError::Db(e)) => assert!(e.to_string().contains("refused"), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("connected"),
    }
    assert!(
        started.elapsed() < CONNECT_TIMEOUT,
        "not retried until a timeout"
    );
    assert!(matches!(
        PgStore::connect("mysql://nowhere", "a"),
        Err(StoreError::Db(_))
    ));
}

#[test]
fn a_failed_write_commits_nothing_and_the_store_goes_on() {
    let Some(server) = server() else { return };
    let name = "a_failed_write_commits_nothing_and_the_store_goes_on";
    let url = server.database(name);
    let s = PgStore::connect(&url, "a").unwrap();
    // PostgreSQL's text cannot hold NUL: the second entry fails after the first was written.
    assert!(matches!(
        s.add_catalog_entries(&[entry(1, "fine"), entry(2, "nul\0")]),
        Err(StoreError::Db(_))
    ));
    assert_eq!(s.catalog_len().unwrap(), 0, "rolled back whole");
    s.add_catalog_entries(&[entry(1, "fine")]).unwrap();
    // The server drops every connection (a restart, a failover): the next call gets a
    // new one.
    server.admin(&[&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )]);
    assert_eq!(s.catalog_len().unwrap(), 1);
}

/// Runs `f` on another thread; fails if it takes longer than `limit` (a lock that another
/// handle's transaction still holds).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(limit)
        .expect("blocked: a lock outlived the call that took it")
}

#[test]
fn a_call_that_changes_nothing_releases_its_locks() {
    let Some(server) = server() else { return };
    let url = server.database("a_call_that_changes_nothing_releases_its_locks");
    let a = PgStore::connect(&url, "a").unwrap();
    let b = std::sync::Arc::new(PgStore::connect(&url, "b").unwrap());
    let alice = a.add_account(&account("alice", [1; 16])).unwrap();
    a.add_invite([1; 32], None, 1, 100).unwrap();
    // Locks the invite, then finds the name taken.
    assert!(matches!(
        a.register(&account("alice", [2; 16]), [1; 32], 10),
        Err(StoreError::Conflict(_))
    ));
    let b2 = b.clone();
    let bob = within(Duration::from_secs(10), move || {
        b2.register(&account("bob", [3; 16]), [1; 32], 10).unwrap()
    });
    assert!(bob.is_some());
    // Takes the catalog's lock, then finds a duplicate.
    let e = entry(5, "n");
    let upload = |e| NewUpload {
        entry: e,
        user_id: alice.id,
        title: "t",
        description: "d",
        category: "c",
        at: 1,
        approved: false,
        list: false,
    };
    assert_eq!(a.add_upload(&upload(&e)).unwrap(), Published::Added);
    assert_eq!(
        a.add_upload(&upload(&e)).unwrap(),
        Published::Duplicate(e.info_hash)
    );
    assert!(!a
        .approve_upload(
            &CatalogEntry {
                info_hash: InfoHash([6; 20]),
                ..e.clone()
            },
            false
        )
        .unwrap());
    let b2 = b.clone();
    within(Duration::from_secs(10), move || {
        b2.add_catalog_entries(&[e]).unwrap()
    });
}

#[test]
fn two_redeemers_of_one_invite_never_both_win() {
    let Some(server) = server() else { return };
    let url = server.database("two_redeemers_of_one_invite_never_both_win");
    let (a, b) = (
        PgStore::connect(&url, "a").unwrap(),
        PgStore::connect(&url, "b").unwrap(),
    );
    for round in 0..10u8 {
        a.add_invite([round; 32], None, 1, 100).unwrap();
        let start = Barrier::new(2);
        let names = [format!("a{round}"), format!("b{round}")];
        let won: Vec<bool> = std::thread::scope(|scope| {
            let runs: Vec<_> = [&a, &b]
                .into_iter()
                .zip(&names)
                .enumerate()
                .map(|(i, (store, name))| {
                    let start = &start;
                    scope.spawn(move || {
                        let mut passkey = [1; 16];
                        passkey[..2].copy_from_slice(&[round, i as u8]);
                        let new = account(name, passkey);
                        start.wait();
                        store.register(&new, [round; 32], 10).unwrap().is_some()
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
    }
}

/// A change whose transaction drew a sequence number and has not committed yet holds back
/// every later change: were a later one visible first, a reader would move past the
/// earlier number and never see that change.
#[test]
fn a_change_is_never_passed_over_by_a_later_one() {
    let Some(server) = server() else { return };
    let name = "a_change_is_never_passed_over_by_a_later_one";
    let url = server.database(name);
    let (reader, b) = (
        PgStore::connect(&url, "reader").unwrap(),
        PgStore::connect(&url, "b").unwrap(),
    );
    let alice = reader.add_account(&account("alice", [1; 16])).unwrap();
    let bob = reader.add_account(&account("bob", [2; 16])).unwrap();
    let (since, _) = reader.passkeys().unwrap();
    // A writer in the middle of its transaction: alice's change is logged, not committed
    // (ended by the server should this test fail before it commits).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("idle_in_transaction_session_timeout", "10s")]);
    let mut writer = rt.block_on(PgConnection::connect_with(&options)).unwrap();
    let mut tx = rt.block_on(writer.begin()).unwrap();
    rt.block_on(log_change(&mut tx, alice.id as i64)).unwrap();
    std::thread::scope(|scope| {
        let later = scope.spawn(|| {
            b.change_account(bob.id, crate::AccountChange::InviteQuota(1))
                .unwrap()
        });
        // Time for the later change to commit, were it not made to wait.
        std::thread::sleep(Duration::from_millis(300));
        let first = reader.passkey_changes(since);
        rt.block_on(tx.commit()).unwrap();
        assert!(later.join().unwrap());
        let (seq, rows) = first.unwrap();
        let mut seen: BTreeSet<u64> = rows.iter().map(|r| r.user_id).collect();
        let (_, rows) = reader.passkey_changes(seq).unwrap();
        seen.extend(rows.iter().map(|r| r.user_id));
        assert_eq!(seen, BTreeSet::from([alice.id, bob.id]));
    });
}

#[test]
fn traffic_from_two_nodes_at_once_adds_up() {
    let Some(server) = server() else { return };
    let url = server.database("traffic_from_two_nodes_at_once_adds_up");
    let (a, b) = (
        PgStore::connect(&url, "a").unwrap(),
        PgStore::connect(&url, "b").unwrap(),
    );
    let users: Vec<u64> = (0..5u8)
        .map(|i| {
            let name = format!("u{i}");
            a.add_account(&account(&name, [i; 16])).unwrap().id
        })
        .collect();
    // Every row of every account on the same torrents, in opposite orders on the two
    // nodes, and one pair twice in a batch.
    let batch = |reverse: bool| -> Vec<TrafficRow> {
        let mut rows: Vec<TrafficRow> = users
            .iter()
            .flat_map(|&user_id| {
                (0..20u8).map(move |t| TrafficRow {
                    user_id,
                    info_hash: InfoHash([t; 20]),
                    uploaded: 1,
                    downloaded: 2,
                    seeding: true,
                    active: true,
                    completed: false,
                    seeded: 0,
                    at: 10,
                })
            })
            .collect();
        if reverse {
            rows.reverse();
        }
        rows.push(rows[0]);
        rows
    };
    std::thread::scope(|scope| {
        for (store, reverse) in [(&a, false), (&b, true)] {
            let rows = batch(reverse);
            scope.spawn(move || {
                for _ in 0..25 {
                    store.add_traffic(&rows).unwrap();
                    store
                        .add_completed(&[(InfoHash([1; 20]), 1), (InfoHash([2; 20]), 1)])
                        .unwrap();
                }
            });
        }
    });
    for (i, id) in users.iter().enumerate() {
        let acct = a.account(&format!("u{i}")).unwrap().unwrap();
        // 2 nodes × 25 batches × 20 torrents, and the first row again.
        let extra = u64::from(i == 0 || i == users.len() - 1);
        assert_eq!(acct.uploaded, 2 * 25 * 20 + 25 * extra, "account {id}");
        assert_eq!(acct.downloaded, 2 * acct.uploaded);
    }
    let counts = a.completed_counts(&[InfoHash([1; 20])]).unwrap();
    assert_eq!(counts, vec![(InfoHash([1; 20]), 50)]);
}

#[test]
fn one_handle_serves_several_threads_at_once() {
    let Some(server) = server() else { return };
    let url = server.database("one_handle_serves_several_threads_at_once");
    let s = PgStore::connect(&url, "a").unwrap();
    // More threads than the handle has connections.
    std::thread::scope(|scope| {
        for t in 0..6u8 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..20u8 {
                    s.add_completed(&[(InfoHash([0; 20]), 1), (InfoHash([t + 1; 20]), 1)])
                        .unwrap();
                    assert!(s.completed_counts(&[InfoHash([i; 20])]).unwrap().len() <= 1);
                }
            });
        }
    });
    let counts = s.completed_counts(&[InfoHash([0; 20])]).unwrap();
    assert_eq!(counts, vec![(InfoHash([0; 20]), 120)]);
}

#[test]
fn a_batch_naming_a_key_twice_is_merged_as_sqlite_applies_it() {
    let (one, two) = (InfoHash([1; 20]), InfoHash([2; 20]));
    assert_eq!(
        summed(&[(two, 1), (one, 2), (two, 3)]),
        [(one, 2), (two, 4)]
    );
    let swarm = |h, seeders| SwarmSample {
        info_hash: h,
        seeders,
        leechers: 0,
    };
    assert_eq!(
        last_per_swarm(&[swarm(two, 1), swarm(one, 2), swarm(two, 3)]),
        [swarm(one, 2), swarm(two, 3)]
    );
    let row = |up, seeding, completed, at| TrafficRow {
        user_id: 7,
        info_hash: one,
        uploaded: up,
        downloaded: 2 * up,
        seeding,
        active: seeding,
        completed,
        seeded: 0,
        at,
    };
    // Credits summed, the later row's state, a snatch kept, the latest time.
    assert_eq!(
        merged_traffic(&[row(1, false, true, 20), row(5, true, false, 10)]),
        [row(6, true, true, 20)]
    );
}

/// Rows per table of a SQLite file and of a PostgreSQL database, every table.
fn row_counts(server: &Server, database: &str, file: &std::path::Path) -> (Vec<i64>, Vec<i64>) {
    let tables = crate::sqlite::TABLES;
    let pg = server.query(database, async |c| {
        let mut n = Vec::new();
        for t in tables {
            n.push(
                sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(&mut *c)
                    .await
                    .unwrap(),
            );
        }
        n
    });
    let sqlite = block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(file)
            .read_only(true);
        let mut c = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let mut n = Vec::new();
        for t in tables {
            n.push(
                sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(&mut c)
                    .await
                    .unwrap(),
            );
        }
        n
    });
    (sqlite, pg)
}

/// `shoal store migrate-from-sqlite`: every row of every table arrives, reads through
/// the store API answer as they did on SQLite, ids go on after the copied ones, and a
/// database that is not empty is refused without a change.
#[test]
fn a_sqlite_store_migrates_with_every_row() {
    let Some(server) = server() else { return };
    let dir = tempfile::Builder::new()
        .prefix("shoal-store-migrate-")
        .tempdir()
        .unwrap();
    let file = dir.path().join("shoal.sqlite");
    let old = crate::SqliteStore::open(&file).unwrap();
    old.add_completed(&[(InfoHash([1; 20]), 7), (InfoHash([2; 20]), 1)])
        .unwrap();
    old.add_access_entry(&InfoHash([3; 20])).unwrap();
    old.add_catalog_entries(&[entry(4, "один"), entry(5, "two")])
        .unwrap();
    let alice = old.add_account(&account("alice", [1; 16])).unwrap();
    let bob = old.add_account(&account("bob", [2; 16])).unwrap();
    old.set_banned("bob", true).unwrap();
    old.add_invite([9; 32], Some(alice.id), 1, 99).unwrap();
    old.add_traffic(&[TrafficRow {
        user_id: alice.id,
        info_hash: InfoHash([4; 20]),
        uploaded: 5 << 30,
        downloaded: 3,
        seeding: true,
        active: true,
        completed: true,
        seeded: 60,
        at: 100,
    }])
    .unwrap();
    old.set_site_settings(&[("registration", "open")]).unwrap();

    let database = "a_sqlite_store_migrates_with_every_row";
    let pg = PgStore::connect(&server.database(database), crate::LOCAL_NODE).unwrap();
    let mut seen = Vec::new();
    let migrated =
        crate::migrate_from_sqlite(&file, &pg, &mut |done, total| seen.push((done, total)))
            .unwrap();
    let (sqlite_rows, pg_rows) = row_counts(server, database, &file);
    // schema_version and the change log aside: each backend numbers its own
    // migrations, and running nodes' changes are not copied.
    let last = crate::sqlite::TABLES.len() - 2;
    assert_eq!(
        crate::sqlite::TABLES[last..],
        ["tracker_changes", "applied_batches"]
    );
    assert_eq!(
        pg_rows[last..],
        [0, 0],
        "no change or batch logged by the copy"
    );
    assert_eq!(
        sqlite_rows[1..last],
        pg_rows[1..last],
        "rows per table of {:?}",
        crate::sqlite::TABLES
    );
    assert_eq!(
        migrated.rows() as i64,
        sqlite_rows[1..last].iter().sum::<i64>(),
        "every row but schema_version's and the change log's"
    );
    let total = migrated.rows();
    assert_eq!(seen.first(), Some(&(0, total)));
    assert_eq!(seen.last(), Some(&(total, total)));

    assert_eq!(pg.load_completed().unwrap(), old.load_completed().unwrap());
    for name in ["alice", "bob"] {
        assert_eq!(
            pg.account(name).unwrap(),
            old.account(name).unwrap(),
            "{name}"
        );
    }
    assert!(pg.account("bob").unwrap().unwrap().banned);
    assert_eq!(
        pg.account_torrents(alice.id).unwrap(),
        old.account_torrents(alice.id).unwrap()
    );
    for h in [InfoHash([4; 20]), InfoHash([5; 20])] {
        assert_eq!(
            pg.catalog_entry(&h).unwrap(),
            old.catalog_entry(&h).unwrap()
        );
    }
    assert_eq!(
        pg.site_settings().unwrap().1,
        old.site_settings().unwrap().1
    );
    // Ids go on after the copied ones.
    let carol = pg.add_account(&account("carol", [3; 16])).unwrap();
    assert!(carol.id > bob.id, "{} after {}", carol.id, bob.id);

    // Not empty any more: refused, nothing changed.
    let before = row_counts(server, database, &file).1;
    let err = crate::migrate_from_sqlite(&file, &pg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(row_counts(server, database, &file).1, before);
    // A file that is not a store is refused before anything is read.
    std::fs::write(dir.path().join("other.sqlite"), b"not a database").unwrap();
    assert!(matches!(
        crate::migrate_from_sqlite(&dir.path().join("other.sqlite"), &pg, &mut |_, _| {}),
        Err(StoreError::NotAStore { .. })
    ));
    drop(old);
}

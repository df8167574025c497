//! Concurrent writers: many threads on one user never see an error (SQLite's busy timeout and
//! `BEGIN IMMEDIATE`; PostgreSQL's row lock), no update is lost, and two pools on one database
//! (the stand-in for two processes) see each other's writes.

use crate::fixtures::*;
use accountd_domain::ids::UserKey;
use accountd_domain::ports::StoreError;
use accountd_domain::text::Name;
use accountd_domain::user::{ProfileChange, Version};
use accountd_storage::testing::{TestDatabase, TestSchema, postgres_unavailable, test_pool_options};
use accountd_storage::{Database, PoolOptions};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `threads` threads each update the same user `rounds` times; returns the errors.
fn hammer(db: &Database, user: UserKey, threads: usize, rounds: usize) -> Vec<StoreError> {
    let errors = std::sync::Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (errors, done) = (&errors, &done);
            s.spawn(move || {
                for i in 0..rounds {
                    let change = ProfileChange {
                        first_name: Some(Name::parse_for("firstName", format!("T{t}R{i}")).unwrap()),
                        ..ProfileChange::default()
                    };
                    match write(db, |r| r.update_profile(user, None, &change, T0)) {
                        Ok(_) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => errors.lock().unwrap().push(e),
                    }
                }
            });
        }
    });
    errors.into_inner().unwrap()
}

#[test]
fn sqlite_32_writers_on_one_user_never_fail() {
    // As many connections as threads: every writer contends for SQLite's lock at once.
    let db = TestDatabase::sqlite_with(&PoolOptions {
        max_size: 32,
        ..PoolOptions::default()
    });
    directory(&db);
    let u = end_user(&db, "busy");
    let (threads, rounds) = (32, 12);
    let errors = hammer(&db, u.key, threads, rounds);
    assert!(
        errors.is_empty(),
        "{} writes failed, first: {:?}",
        errors.len(),
        errors.first()
    );
    let after = read(&db, |r| r.user_by_key(u.key)).unwrap().unwrap();
    assert_eq!(after.version, Version(1 + (threads * rounds) as i64), "no update lost");
}

#[test]
fn postgres_concurrent_writers_on_one_user_never_fail() {
    let Some(db) = TestDatabase::postgres_with(&PoolOptions {
        max_size: 8,
        ..PoolOptions::default()
    })
    .map_or_else(
        |reason| {
            assert!(
                !accountd_storage::testing::in_ci(),
                "PostgreSQL is required under CI=true: {reason}"
            );
            println!("skipping postgres: {reason}");
            None
        },
        Some,
    ) else {
        return;
    };
    directory(&db);
    let u = end_user(&db, "busy");
    let (threads, rounds) = (8, 10);
    let errors = hammer(&db, u.key, threads, rounds);
    assert!(
        errors.is_empty(),
        "{} writes failed, first: {:?}",
        errors.len(),
        errors.first()
    );
    let after = read(&db, |r| r.user_by_key(u.key)).unwrap().unwrap();
    assert_eq!(after.version, Version(1 + (threads * rounds) as i64), "no update lost");
}

/// Writes through one pool are read through the other, both ways.
fn two_pools_share(first: &Database, second: &Database) {
    directory(first);
    let u = end_user(first, "shared");
    assert_eq!(read(second, |r| r.user_by_key(u.key)).unwrap(), Some(u.clone()));
    let change = ProfileChange {
        first_name: Some(Name::parse_for("firstName", "Second").unwrap()),
        ..ProfileChange::default()
    };
    write(second, |r| r.update_profile(u.key, Some(u.version), &change, T0)).unwrap();
    let seen = read(first, |r| r.user_by_key(u.key)).unwrap().unwrap();
    assert_eq!((seen.profile.first_name.as_str(), seen.version), ("Second", Version(2)));
    // The first pool's stale version is refused.
    assert_eq!(
        write(first, |r| r.update_profile(u.key, Some(u.version), &change, T0)),
        Err(StoreError::VersionMismatch)
    );
    // A user's claim holds across pools (instances); another user's is independent.
    let ttl = std::time::Duration::from_secs(10);
    assert!(write(first, |r| r.claim_user(u.key, "instance-1", T0, ttl)).unwrap());
    assert!(!write(second, |r| r.claim_user(u.key, "instance-2", T0, ttl)).unwrap());
    assert!(write(second, |r| r.claim_user(UserKey(u.key.0 + 1), "instance-2", T0, ttl)).unwrap());
    assert!(write(first, |r| r.release_user_claim(u.key, "instance-1")).unwrap());
    assert!(write(second, |r| r.claim_user(u.key, "instance-2", T0, ttl)).unwrap());
}

#[test]
fn postgres_two_databases_share_a_schema() {
    let Some(db) = TestDatabase::postgres_or_skip() else {
        return;
    };
    // Opening runs the migrations again: nothing is pending, nothing fails.
    let second = Database::open(db.url(), &test_pool_options()).unwrap();
    second.ping().unwrap();
    two_pools_share(&db, &second);
}

#[test]
fn sqlite_two_databases_share_a_file() {
    let db = TestDatabase::sqlite();
    let second = Database::open(db.url(), &test_pool_options()).unwrap();
    two_pools_share(&db, &second);
}

/// Opens `url` from 4 threads at once: every open succeeds and the schema is migrated once.
fn concurrent_opens(url: &str) {
    std::thread::scope(|s| {
        let opens: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Database::open(url, &test_pool_options()).and_then(|db| db.ping().map(|()| db))))
            .collect();
        let databases: Vec<Database> = opens.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        directory(&databases[0]);
        let u = end_user(&databases[1], "once");
        assert_eq!(read(&databases[3], |r| r.user_by_key(u.key)).unwrap(), Some(u));
    });
}

#[test]
fn postgres_concurrent_opens_of_a_fresh_schema_migrate_once() {
    // The race of several instances starting on an empty database: the advisory lock serializes
    // the migrations.
    let Some(schema) = TestSchema::create().map_or_else(postgres_unavailable, Some) else {
        return;
    };
    concurrent_opens(schema.url());
}

#[test]
fn sqlite_concurrent_opens_of_a_fresh_file_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_opens(&format!("sqlite://{}", dir.path().join("fresh.db").display()));
}

#[test]
fn sqlite_lock_held_past_busy_timeout_is_unavailable() {
    let db = TestDatabase::sqlite();
    let impatient = Database::open(
        db.url(),
        &PoolOptions {
            sqlite_busy_timeout: std::time::Duration::from_millis(100),
            ..test_pool_options()
        },
    )
    .unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let db = &db;
        s.spawn(move || {
            write(db, |r| {
                r.throttle_hit("hold", T0, 60)?;
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
            .unwrap();
        });
        locked_rx.recv().unwrap();
        // The write lock is held: a writer that won't wait long is told the store is unavailable.
        let result = write(&impatient, |r| r.throttle_hit("other", T0, 60));
        assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
        // Readers are not blocked by a writer (WAL).
        assert_eq!(read(&impatient, |r| r.throttle_state("hold")).unwrap(), None);
        release_tx.send(()).unwrap();
    });
    assert_eq!(
        read(&impatient, |r| r.throttle_state("hold"))
            .unwrap()
            .unwrap()
            .failures,
        1
    );
}

//! The PostgreSQL backend: the store conformance suite unchanged, then what only this
//! backend has (migrations under the write lock, group commit on PostgreSQL, several
//! instances appending to one log, TLS to the database, passwords kept out of errors, a
//! connection killed under the store).
//!
//! Every test needs the test cluster (`pramaan_testkit::postgres::cluster`): under
//! `CI=true` a missing one fails; elsewhere the tests print SKIP. The conformance checks
//! get their store through a factory that cannot return "skip", so without a cluster the
//! first one to run prints SKIP and ends this test binary with success.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pramaan_server::audit_log::{LogEntry, leaf_hash, tree, verify_inclusion};
use pramaan_server::store::postgres::{PostgresStore, SCHEMA_VERSION, redact_url};
use pramaan_server::store::{
    SqliteStore, Store, StoreError, TokenRow, grouped_transaction, read_transaction, transaction,
};
use pramaan_testkit::postgres::{Cluster, cluster, database_for, fresh_database};

/// The conformance factory: the same directory gives the same database, so two calls are
/// two instances on one database.
fn open(dir: &Path) -> Arc<dyn Store> {
    let Some(cluster) = cluster() else {
        // No check of this binary can run without a cluster. Written past the test
        // harness's capture, so that the SKIP is seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: no PostgreSQL test cluster ({}); the PostgreSQL store tests did not run",
            pramaan_testkit::postgres::URL_ENV
        );
        std::process::exit(0);
    };
    let url = database_for(&cluster, &dir.display().to_string());
    Arc::new(PostgresStore::open(&url, None).expect("open the PostgreSQL store"))
}

pramaan_testkit::store_conformance_tests!(open);

/// An admin connection to the cluster's `postgres` database.
fn admin(cluster: &Cluster) -> postgres::Client {
    postgres::Client::connect(&cluster.url, postgres::NoTls).expect("admin connection")
}

/// A connection to the database of `url`, as another tool would make it.
fn direct(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("direct connection")
}

/// The database name at the end of a test URL.
fn db_name(url: &str) -> String {
    let path = url.rsplit('/').next().expect("a path");
    path.split('?').next().expect("a name").to_string()
}

fn stored_version(url: &str) -> String {
    direct(url)
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .expect("version row")
        .get(0)
}

fn entry(i: u64) -> LogEntry {
    LogEntry::PolicyChange {
        at: i,
        department: "GAD".into(),
        policy_json: format!("{{\"n\":{i}}}"),
        by: "test".into(),
    }
}

#[test]
fn a_fresh_database_gets_the_schema_version_and_reopens() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    drop(PostgresStore::open(&url, None).expect("open"));
    assert_eq!(stored_version(&url), SCHEMA_VERSION.to_string());
    drop(PostgresStore::open(&url, None).expect("reopen an up-to-date database"));
    assert_eq!(stored_version(&url), SCHEMA_VERSION.to_string());
}

#[test]
fn a_newer_or_garbled_schema_is_refused_untouched() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    drop(PostgresStore::open(&url, None).expect("open"));
    let set = |v: &str| {
        direct(&url)
            .execute(
                "UPDATE meta SET value = $1 WHERE key = 'schema_version'",
                &[&v],
            )
            .expect("set version");
    };
    let newer = SCHEMA_VERSION + 1;
    set(&newer.to_string());
    let err = PostgresStore::open(&url, None).expect_err("newer refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported }
            if found == newer && supported == SCHEMA_VERSION),
        "{err}"
    );
    assert_eq!(stored_version(&url), newer.to_string());
    for bad in ["", "1; DROP TABLE devices", "-1", "99999999999999999999999"] {
        set(bad);
        let err = PostgresStore::open(&url, None).expect_err("garbled refused");
        assert!(matches!(err, StoreError::Corrupt(_)), "{bad:?}: {err}");
        assert_eq!(stored_version(&url), bad);
    }
}

/// Instances starting together on a fresh database migrate it once (each step runs under
/// the write lock and re-reads the version; v1 creates its tables without IF NOT EXISTS,
/// so a second run would fail its open).
#[test]
fn instances_opening_a_fresh_database_together_migrate_it_once() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let barrier = Arc::new(Barrier::new(4));
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                PostgresStore::open(&url, None).map(drop)
            })
        })
        .collect();
    for o in opens {
        o.join().expect("thread").expect("every instance opens");
    }
    assert_eq!(stored_version(&url), SCHEMA_VERSION.to_string());
}

/// Group commit on PostgreSQL: a refused job is rolled back alone, a later job sees an
/// earlier one's writes, and a job that goes on after a failed statement (which aborts a
/// PostgreSQL transaction) is told its writes were not kept, without harming the others.
#[test]
fn group_commit_isolates_refused_and_failed_jobs() {
    let Some(cluster) = cluster() else { return };
    let store = Arc::new(PostgresStore::open(&fresh_database(&cluster), None).expect("open"));
    store.start_group_commit().expect("writer");
    transaction(store.as_ref(), |tx| {
        tx.insert_token(&TokenRow::new(
            [200; 32],
            pramaan_server::store::Role::Admin,
            None,
            1,
        ))
    })
    .expect("seed");
    let threads: Vec<_> = (0u8..24)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                grouped_transaction(store.as_ref(), move |tx| {
                    assert!(tx.use_nonce(&[i; 32], 10)?);
                    match i % 3 {
                        1 => Err(StoreError::Corrupt("refused".into())),
                        2 => {
                            // A duplicate: the statement fails; the job swallows it.
                            let dup = tx.insert_token(&TokenRow::new(
                                [200; 32],
                                pramaan_server::store::Role::Admin,
                                None,
                                1,
                            ));
                            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
                            Ok(i)
                        }
                        _ => Ok(i),
                    }
                })
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let r = t.join().expect("thread");
        match i % 3 {
            0 => assert_eq!(r.ok(), Some(i as u8), "job {i}"),
            1 => assert!(matches!(r, Err(StoreError::Corrupt(_))), "job {i}: {r:?}"),
            _ => assert!(
                matches!(r, Err(StoreError::CommitFailed(_))),
                "job {i}: {r:?}"
            ),
        }
    }
    for i in 0u8..24 {
        let found = read_transaction(store.as_ref(), |tx| tx.nonce(&[i; 32])).expect("read");
        assert_eq!(found.is_some(), i % 3 == 0, "nonce {i}");
    }
    // A job sees what an earlier job of the same batch wrote.
    let a = store.clone();
    let first = std::thread::spawn(move || {
        grouped_transaction(a.as_ref(), |tx| tx.use_nonce(&[100; 32], 10))
    });
    let second = grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[100; 32], 10));
    let first = first.join().expect("thread");
    let wins = [&first, &second]
        .iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(wins, 1, "{first:?} {second:?}");
    let dup = grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[0; 32], 10));
    assert_eq!(dup.ok(), Some(false));
}

/// Appends `per_thread` entries from each of `threads` threads on each store, through
/// group commit; returns every acknowledged index and the elapsed time.
fn append_concurrently(
    stores: &[Arc<dyn Store>],
    threads: usize,
    per_thread: u64,
) -> (Vec<u64>, Duration) {
    let start = Instant::now();
    let workers: Vec<_> = stores
        .iter()
        .enumerate()
        .flat_map(|(s, store)| {
            (0..threads).map(move |t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            let at = (s * 1_000_000 + t * 10_000) as u64 + i;
                            grouped_transaction(store.as_ref(), move |tx| tx.append_log(&entry(at)))
                                .expect("acknowledged append")
                        })
                        .collect::<Vec<_>>()
                })
            })
        })
        .collect();
    let mut indices = Vec::new();
    for w in workers {
        indices.extend(w.join().expect("worker"));
    }
    (indices, start.elapsed())
}

/// Two instances on one database, each with its own group-commit writer, 4 threads each
/// appending concurrently: the log is exactly one sequence 0..n-1, every acknowledged
/// index is distinct, each leaf holds what its appender wrote, and the stored tree's root
/// and proofs agree with a tree rebuilt from the leaves by `pramaan_tlog`. Prints the
/// appends/s (and SQLite's, same load on one instance, for comparison).
#[test]
fn two_instances_append_one_log_sequence() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let a = Arc::new(PostgresStore::open(&url, None).expect("a"));
    let b = Arc::new(PostgresStore::open(&url, None).expect("b"));
    a.start_group_commit().expect("writer a");
    b.start_group_commit().expect("writer b");
    let (threads, per_thread) = (4, 60);
    let stores: Vec<Arc<dyn Store>> = vec![a.clone(), b.clone()];
    let (mut indices, took) = append_concurrently(&stores, threads, per_thread);
    let n = (2 * threads) as u64 * per_thread;
    assert_eq!(indices.len() as u64, n);
    indices.sort_unstable();
    assert_eq!(
        indices,
        (0..n).collect::<Vec<_>>(),
        "one sequence, no index twice"
    );
    for store in [&a, &b] {
        let (size, leaves) = read_transaction(store.as_ref(), |tx| {
            Ok::<_, StoreError>((tx.log().size()?, tx.log().leaves(0, n + 10)?))
        })
        .expect("read");
        assert_eq!(size, n);
        assert_eq!(leaves.len() as u64, n);
        let mut mem = tree::MemoryTree::new();
        for (i, (idx, data)) in leaves.iter().enumerate() {
            assert_eq!(*idx, i as u64);
            mem.push(data);
        }
        let expected = tree::root(&mut mem, n).expect("memory root");
        let (root, proofs) = read_transaction(store.as_ref(), |tx| {
            let root = pramaan_tlog::root(tx.log(), n).map_err(StoreError::from_log)?;
            let proofs = [0, n / 2, n - 1]
                .iter()
                .map(|&i| pramaan_tlog::inclusion_proof(tx.log(), i, n).map(|p| (i, p)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from_log)?;
            Ok::<_, StoreError>((root, proofs))
        })
        .expect("root");
        assert_eq!(root, expected, "the stored tree is the tree of the leaves");
        for (i, proof) in proofs {
            let data = &leaves[i as usize].1;
            verify_inclusion(i, n, &leaf_hash(data), &proof, &root).expect("inclusion");
        }
    }
    let pg_rate = n as f64 / took.as_secs_f64();

    let one = Arc::new(PostgresStore::open(&fresh_database(&cluster), None).expect("one"));
    one.start_group_commit().expect("writer");
    let (single, single_took) =
        append_concurrently(&[one as Arc<dyn Store>], 2 * threads, per_thread);
    let single_rate = single.len() as f64 / single_took.as_secs_f64();

    let dir = tempfile::tempdir().expect("dir");
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("p.db")).expect("sqlite"));
    sqlite.start_group_commit().expect("writer");
    let (sq, sq_took) = append_concurrently(&[sqlite as Arc<dyn Store>], 2 * threads, per_thread);
    let sq_rate = sq.len() as f64 / sq_took.as_secs_f64();
    eprintln!(
        "appends/s through group commit, {} threads: PostgreSQL two instances {pg_rate:.0} \
         ({n} in {took:.2?}), PostgreSQL one instance {single_rate:.0}, SQLite one instance \
         {sq_rate:.0} ({} in {sq_took:.2?})",
        2 * threads,
        sq.len()
    );
}

/// The cluster's TLS: the store connects with its CA (and the connections use TLS), and
/// refuses another CA, a missing CA file and a file that is not PEM, naming the problem.
#[test]
fn tls_is_verified_against_the_given_ca() {
    let Some(cluster) = cluster() else { return };
    let Some(ca) = cluster.ca.clone() else {
        eprintln!("SKIP: {} is unset", pramaan_testkit::postgres::CA_ENV);
        return;
    };
    let url = fresh_database(&cluster);
    let store = PostgresStore::open(&url, Some(&ca)).expect("TLS with the cluster's CA");
    read_transaction(&store, |tx| tx.counts()).expect("a read over TLS");
    let ssl: Vec<bool> = admin(&cluster)
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.datname = $1",
            &[&db_name(&url)],
        )
        .expect("pg_stat_ssl")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!ssl.is_empty() && ssl.iter().all(|s| *s), "{ssl:?}");
    drop(store);

    let dir = tempfile::tempdir().expect("dir");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.cert.pem()).expect("write");
    let err = PostgresStore::open(&url, Some(&other_ca)).expect_err("another CA is refused");
    let text = err.to_string();
    eprintln!("another CA: {text}");
    assert!(text.contains("invalid peer certificate"), "{text}");

    // The certificate must name the host connected to: the same server (and CA), reached
    // at its address under a name its certificate does not hold, is refused.
    let (port, db) = {
        let cfg: postgres::Config = url.parse().expect("url");
        (cfg.get_ports()[0], db_name(&url))
    };
    let misnamed = format!(
        "host=not-the-database.example hostaddr=127.0.0.1 port={port} user=pramaan dbname={db}"
    );
    let err = PostgresStore::open(&misnamed, Some(&ca)).expect_err("a wrong name is refused");
    let text = err.to_string();
    assert!(text.contains("certificate not valid for name"), "{text}");

    // A URL that asks for TLS without a CA is refused, not downgraded.
    let err =
        PostgresStore::open(&format!("{url}?sslmode=require"), None).expect_err("TLS without a CA");
    assert!(err.to_string().contains("sslmode=require"), "{err}");

    let missing = dir.path().join("missing.pem");
    let err = PostgresStore::open(&url, Some(&missing)).expect_err("missing CA");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let err = PostgresStore::open(&url, Some(&garbage)).expect_err("not PEM");
    assert!(err.to_string().contains("no certificate"), "{err}");
}

/// A password in the database URL is never shown: not in an error, not in `Debug`.
#[test]
fn a_password_never_reaches_an_error_or_debug() {
    let secret = "s3cret-Pa55";
    // Refused connections (nothing listens on port 1), in both URL forms.
    for url in [
        format!("postgres://pramaan:{secret}@127.0.0.1:1/db"),
        format!("host=127.0.0.1 port=1 user=pramaan password={secret} dbname=db"),
        format!("postgres://pramaan:{secret}@127.0.0.1:1/db?connect_timeout=nope"),
    ] {
        let err = PostgresStore::open(&url, None).expect_err("refused");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!redact_url(&url).contains(secret));
    }
    let Some(cluster) = cluster() else { return };
    // The test cluster trusts its role, so a URL with a password connects.
    let url = fresh_database(&cluster).replacen("pramaan@", &format!("pramaan:{secret}@"), 1);
    assert!(url.contains(secret), "{url}");
    let store = PostgresStore::open(&url, None).expect("open");
    let debug = format!("{store:?}");
    assert!(!debug.contains(secret) && debug.contains("***"), "{debug}");
}

/// A connection closed under the store (`pg_terminate_backend`, as a database restart or
/// failover does) fails the transaction using it cleanly, and the next ones work, on the
/// pooled connections and on the group-commit writer's.
#[test]
fn a_killed_connection_fails_one_request_and_the_next_works() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let db = db_name(&url);
    let store = Arc::new(PostgresStore::open(&url, None).expect("open"));
    store.start_group_commit().expect("writer");
    grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[1; 32], 10)).expect("warm writer");
    // Several idle connections in each pool (concurrent reads and writes open them), so
    // that a request after the kill finds more than one dead connection.
    let warm: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                if i % 3 == 0 {
                    transaction(store.as_ref(), |tx| {
                        std::thread::sleep(Duration::from_millis(200));
                        tx.counts()
                    })
                } else {
                    read_transaction(store.as_ref(), |tx| {
                        std::thread::sleep(Duration::from_millis(200));
                        tx.counts()
                    })
                }
            })
        })
        .collect();
    for w in warm {
        w.join().expect("warm").expect("warm request");
    }
    let connections = || -> i64 {
        admin(&cluster)
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1",
                &[&db],
            )
            .expect("count")
            .get(0)
    };
    assert!(connections() >= 6, "{} connections", connections());
    let kill = || {
        let n: i64 = admin(&cluster)
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .expect("terminate")
            .len() as i64;
        n
    };
    // Killed in the middle of a transaction: that transaction fails, nothing is kept.
    let r = transaction(store.as_ref(), |tx| {
        assert!(tx.use_nonce(&[2; 32], 10)?);
        assert!(kill() >= 1, "the store's connections were found");
        tx.use_nonce(&[3; 32], 10)
    });
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    // Every connection of the store was killed (idle readers and the writer's too): the
    // next requests of each kind work.
    assert!(transaction(store.as_ref(), |tx| tx.use_nonce(&[4; 32], 10)).expect("write"));
    assert_eq!(
        read_transaction(store.as_ref(), |tx| tx.nonce(&[2; 32])).expect("read"),
        None
    );
    assert!(grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[5; 32], 10)).expect("grouped"));
    kill();
    // Killed while idle: the next request of each kind still works (retried once).
    assert!(
        read_transaction(store.as_ref(), |tx| tx.nonce(&[5; 32]))
            .expect("read")
            .is_some()
    );
    assert!(grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[6; 32], 10)).expect("grouped"));
    assert!(transaction(store.as_ref(), |tx| tx.use_nonce(&[7; 32], 10)).expect("write"));
}

/// The write lock across instances: while one instance's write transaction holds it, the
/// other instance's reads go on (and see only committed state), and its write waits,
/// then appends after the first one's entry instead of colliding with it.
#[test]
fn a_writer_of_one_instance_holds_the_other_instances_writers_but_not_its_readers() {
    use std::sync::mpsc::channel;
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let a: Arc<dyn Store> = Arc::new(PostgresStore::open(&url, None).expect("a"));
    let b: Arc<dyn Store> = Arc::new(PostgresStore::open(&url, None).expect("b"));
    transaction(a.as_ref(), |tx| tx.append_log(&entry(0))).expect("first entry");
    let (held_tx, held) = channel::<()>();
    let (release_tx, release) = channel::<()>();
    let holder = {
        let a = a.clone();
        std::thread::spawn(move || {
            transaction(a.as_ref(), |tx| {
                let i = tx.append_log(&entry(1))?;
                let _ = held_tx.send(());
                let _ = release.recv_timeout(Duration::from_secs(20));
                Ok::<_, StoreError>(i)
            })
        })
    };
    held.recv_timeout(Duration::from_secs(10))
        .expect("a holds the lock");
    let started = Instant::now();
    let size = read_transaction(b.as_ref(), |tx| tx.log().size()).expect("b reads");
    assert_eq!(size, 1, "b saw only committed entries");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "b's read waited"
    );
    let (done_tx, done) = channel();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || {
            let r = transaction(b.as_ref(), |tx| tx.append_log(&entry(2)));
            let _ = done_tx.send(());
            r
        })
    };
    assert!(
        done.recv_timeout(Duration::from_millis(500)).is_err(),
        "b's write did not wait for a's lock"
    );
    release_tx.send(()).expect("release");
    assert_eq!(holder.join().expect("a").expect("a commits"), 1);
    assert_eq!(waiter.join().expect("b").expect("b commits after a"), 2);
}

/// The store may be dropped anywhere, also on an async runtime's thread (the server's
/// state is released there when its last task ends): a driver connection owns a runtime
/// of its own, and dropping that inside another runtime would panic.
#[test]
fn the_store_can_be_dropped_on_a_runtime_thread() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let store = Arc::new(PostgresStore::open(&url, None).expect("open"));
    store.start_group_commit().expect("writer");
    grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[1; 32], 10)).expect("grouped");
    read_transaction(store.as_ref(), |tx| tx.counts()).expect("read");
    transaction(store.as_ref(), |tx| tx.use_nonce(&[2; 32], 10)).expect("write");
    rt.block_on(async move {
        tokio::spawn(async move { drop(store) })
            .await
            .expect("dropped on a worker thread without a panic");
    });
}

/// Rows altered outside the server are refused as corrupt, never read as something else
/// and never a panic: a negative integer, an unknown platform, a device id or a log hash
/// of the wrong length, failures that are not JSON.
#[test]
fn rows_altered_outside_the_server_are_corrupt() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let store = PostgresStore::open(&url, None).expect("open");
    let id = uuid::Uuid::new_v4();
    let mut db = direct(&url);
    db.batch_execute(
        "INSERT INTO nonces(hash, expires, used) VALUES (decode(repeat('02', 32), 'hex'), -5, TRUE);
         INSERT INTO audit_log_leaves(idx, data) VALUES (0, '\\xa0');
         INSERT INTO audit_log_nodes(level, idx, hash) VALUES (0, 0, '\\x0102');",
    )
    .expect("raw rows");
    let device = |id: &[u8], platform: &str, officer: &str| {
        direct(&url)
            .execute(
                "INSERT INTO devices(device_id, officer_id, department, platform, model, \
                 public_key, assurance, enrolled_at) \
                 VALUES ($1, $2, 'GAD', $3, 'm', '\\x00', 'hardware', 1)",
                &[&id, &officer, &platform],
            )
            .expect("raw device");
    };
    device(id.as_bytes(), "Nokia", "GAD-001");
    device(&[1, 2, 3], "ios", "GAD-002");
    let ok_id = uuid::Uuid::new_v4();
    device(ok_id.as_bytes(), "ios", "GAD-003");
    db.execute(
        "INSERT INTO attestations(device_id, seq, iat, received_at, fresh_nonce, claims, \
         verdict, failures, log_index) VALUES ($1, 1, 1, 1, TRUE, '\\x00', 'compliant', \
         'not json', 0)",
        &[&&ok_id.as_bytes()[..]],
    )
    .expect("raw attestation");
    let corrupt = |r: Result<String, StoreError>, what: &str| {
        assert!(matches!(r, Err(StoreError::Corrupt(_))), "{what}: {r:?}");
    };
    let s = &store;
    corrupt(
        read_transaction(s, |tx| tx.nonce(&[2; 32]).map(|r| format!("{r:?}"))),
        "negative expiry",
    );
    corrupt(
        read_transaction(s, |tx| tx.device(&id).map(|r| format!("{r:?}"))),
        "unknown platform",
    );
    corrupt(
        read_transaction(s, |tx| {
            tx.devices_of_officer("GAD-002").map(|r| format!("{r:?}"))
        }),
        "device id of 3 bytes",
    );
    corrupt(
        read_transaction(s, |tx| {
            tx.latest_attestation(&ok_id).map(|r| format!("{r:?}"))
        }),
        "failures not JSON",
    );
    corrupt(
        read_transaction(s, |tx| tx.log().node(0, 0).map(|r| format!("{r:?}"))),
        "a log hash of 2 bytes",
    );
}

/// A transaction left idle is ended by the server (so a silent instance cannot keep the
/// write lock; the default of a minute is checked in the module's tests), and the URL's
/// own `options` come after the store's, so an operator can change it: here a timeout of
/// 300 ms ends a transaction that sat idle for a second, cleanly, and the next one works.
#[test]
fn a_session_idle_in_a_transaction_is_ended_and_the_url_may_tune_it() {
    let Some(cluster) = cluster() else { return };
    let url = fresh_database(&cluster);
    let tuned = PostgresStore::open(
        &format!("{url}?options=-c%20idle_in_transaction_session_timeout%3D300"),
        None,
    )
    .expect("open tuned");
    let r = transaction(&tuned, |tx| {
        assert!(tx.use_nonce(&[1; 32], 10)?);
        std::thread::sleep(Duration::from_millis(1200));
        tx.use_nonce(&[2; 32], 10)
    });
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    assert_eq!(
        read_transaction(&tuned, |tx| tx.nonce(&[1; 32])).expect("read"),
        None,
        "the ended transaction kept nothing"
    );
    assert!(transaction(&tuned, |tx| tx.use_nonce(&[3; 32], 10)).expect("the next one works"));
}

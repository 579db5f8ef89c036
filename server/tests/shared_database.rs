//! Two server instances on one PostgreSQL database, started in-process from copies of one
//! data directory as docs/deploy.md says (issue 13): what one instance accepts or
//! installs holds on the other without a restart, `admin init` refuses a database that
//! already holds a deployment, and `serve` refuses one that holds none.
//!
//! The PostgreSQL tests need the test cluster (`PRAMAAN_TEST_POSTGRES`, started by
//! `.ci/run` or `tests/postgres/cluster start DIR PORT`): without it they print SKIP, and
//! fail under `CI=true` ([`pramaan_testkit::postgres::cluster`]). The tests of how the
//! store is chosen that need no database run everywhere.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use pramaan_testkit as common;

use common::postgres::{cluster, fresh_database};
use common::*;
use pramaan_server::config::Config;
use pramaan_server::server::{self, ServerError};
use pramaan_server::status_list::FOLLOW_INTERVAL;

const STATUS_LIST: &str = "/v1/evidence/status-list";
const LIST: &str = r#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}}}"#;
const NEWER_LIST: &str = r#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED"}, "c8966fcb2fbe32": {"status": "SUSPENDED"}}}"#;

/// A deployment of two instances on a fresh database, or `None` (SKIP) without a cluster.
fn two_instances() -> Option<(Env, Env)> {
    let c = cluster()?;
    let url = fresh_database(&c);
    let first = start_on_database(&url, c.ca.as_deref(), |_| {});
    first.seed();
    let second = first.another_instance();
    Some((first, second))
}

fn json(r: &pramaan_core::transport::Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "HTTP {} not JSON ({e}): {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
    })
}

fn install(env: &Env, list: &str, fetched_at: u64) -> pramaan_core::transport::Response {
    env.admin()
        .put(
            &format!("{STATUS_LIST}?fetched_at={fetched_at}"),
            "application/json",
            list.as_bytes(),
        )
        .expect("install")
}

/// The status list `env` holds in force (what its decisions use), as its `GET` shows it.
fn list_in_force(env: &Env) -> Option<serde_json::Value> {
    let r = env.admin().get(STATUS_LIST).expect("get");
    (r.status == 200).then(|| json(&r))
}

/// A list installed through one instance is in force on the other within the follow
/// interval, without a restart; an older list offered to the other is refused against
/// the stored row, whether or not that instance has caught up yet.
#[test]
fn a_status_list_installed_through_one_instance_is_in_force_on_the_other() {
    let Some((first, second)) = two_instances() else {
        return;
    };
    assert!(list_in_force(&second).is_none());
    let fetched = now() - 3_600;
    let r = install(&first, LIST, fetched);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Offered to the second instance right away: the stored row decides.
    let r = install(&second, LIST, fetched - 60);
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));

    let deadline = Instant::now() + 3 * FOLLOW_INTERVAL;
    let seen = loop {
        if let Some(v) = list_in_force(&second) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the second instance never took up the list installed through the first"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(seen["fetched_at"], fetched, "{seen}");
    assert_eq!(seen["entries"], 1, "{seen}");

    // And back: a newer list installed through the second reaches the first.
    let r = install(&second, NEWER_LIST, fetched + 60);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let deadline = Instant::now() + 3 * FOLLOW_INTERVAL;
    while list_in_force(&first).map(|v| v["fetched_at"].clone()) != Some((fetched + 60).into()) {
        assert!(
            Instant::now() < deadline,
            "the first instance kept the old list"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(list_in_force(&first).unwrap()["entries"], 2);
}

/// A phone enrolled through one instance checks in through either; a nonce used on one
/// is refused on the other; both instances see one log and serve checkpoints of it that
/// extend each other.
#[test]
fn a_device_enrolled_through_one_instance_checks_in_through_the_other() {
    let Some((first, second)) = two_instances() else {
        return;
    };
    let mut device = first.enroll("GAD-001");
    let on_second = second.attest_ok(&mut device);
    assert_eq!(on_second.seq, 1);
    let first_result = first.attest_ok(&mut device);
    assert_eq!(first_result.seq, 2);
    let on_second = second.attest_ok(&mut device);
    assert_eq!(on_second.seq, 3);

    // One log, whichever instance appended: both read the same entries.
    let entries = first.log_entries();
    assert_eq!(entries, second.log_entries());
    let attestations = entries
        .iter()
        .filter(|e| matches!(e, pramaan_server::store::LogEntry::Attestation { .. }))
        .count();
    assert_eq!(attestations, 3, "{entries:?}");

    // Checkpoints signed by either instance, with the one log key, of one tree.
    let checkpoint = |env: &Env| {
        let r = env.admin().get("/v1/audit/checkpoint").expect("checkpoint");
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).expect("text")
    };
    let a = checkpoint(&first);
    let b = checkpoint(&second);
    assert_eq!(
        a, b,
        "no new entry: the stored checkpoint is served by both"
    );
    second.attest_ok(&mut device);
    let c = checkpoint(&first);
    let size = |note: &str| -> u64 { note.lines().nth(1).unwrap().parse().unwrap() };
    assert_eq!(size(&c), size(&a) + 1);
    assert_eq!(c.lines().next(), a.lines().next(), "one origin");
}

/// The nonce a device answered on one instance cannot be answered again on the other.
#[test]
fn a_nonce_is_single_use_across_instances() {
    let Some((first, second)) = two_instances() else {
        return;
    };
    let device = first.enroll("GAD-001");
    let nonce = device.next_nonce.clone();
    let body = device.attestation(Some(nonce.clone()), 1, now());
    let r = second.post_device("/v1/attest", &body);
    assert_eq!(r.status, 200, "{:?}", error_of(&r));
    // The same nonce with a higher seq (a fresh message, not a byte replay).
    let again = device.attestation(Some(nonce), 2, now());
    let r = first.post_device("/v1/attest", &again);
    assert_ne!(
        r.status, 200,
        "a spent nonce was accepted on the other instance"
    );
    assert!(error_of(&r).is_some(), "HTTP {}", r.status);
}

/// `admin init` on a database that holds a deployment is refused before any file is
/// written; `serve` on a copied directory with an empty database is refused; the offline
/// `admin` commands work on the database the directory's config.toml names.
#[test]
fn init_once_per_database_and_serve_only_an_initialized_one() {
    let Some(c) = cluster() else {
        return;
    };
    let url = fresh_database(&c);
    let env = start_on_database(&url, c.ca.as_deref(), |_| {});

    let config = Config {
        database_url: Some(url.clone()),
        database_ca: c.ca.clone(),
        ..test_config()
    };
    let other = tempfile::tempdir().expect("dir");
    let err = server::admin_init_with_config(other.path(), "localhost", None, &config)
        .expect_err("a second init on one database");
    assert!(
        matches!(err, ServerError::DatabaseAlreadyInitialized(_)),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("copy the data directory") && text.contains("docs/deploy.md"),
        "{text}"
    );
    assert!(!other.path().join("server.key").exists());
    assert!(!other.path().join("tls").exists());

    // The deployment's directory on an empty database: nothing to serve.
    let empty = Config {
        database_url: Some(fresh_database(&c)),
        ..config.clone()
    };
    let err = server::start_with_config(env.data_dir(), empty).expect_err("empty database");
    assert!(
        matches!(err, ServerError::DatabaseNotInitialized(_)),
        "{err}"
    );

    // Offline admin commands find the database through config.toml.
    let it = env.token("it", Some("GAD"));
    assert!(!it.is_empty());
    let tokens = server::list_tokens(env.data_dir()).expect("list");
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(
        !env.data_dir().join("pramaan.db").exists(),
        "SQLite untouched"
    );
}

/// Without a database URL a directory without `pramaan.db` is not served, and the error
/// names the way to PostgreSQL; a URL's password never shows in an error (runs without
/// a cluster).
#[test]
fn the_store_is_chosen_by_the_configuration_and_never_shows_a_password() {
    let env = start();
    let copy = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(copy.path().join("tls")).expect("tls");
    for name in INSTANCE_FILES {
        std::fs::copy(env.data_dir().join(name), copy.path().join(name)).expect("copy");
    }
    let err = server::start_with_config(copy.path(), test_config()).expect_err("no database");
    let text = err.to_string();
    assert!(text.contains("PRAMAAN_DATABASE_URL"), "{text}");

    let config = Config {
        database_url: Some("postgresql://pramaan:hunter2-secret@127.0.0.1:1/pramaan".into()),
        ..test_config()
    };
    let err = server::start_with_config(copy.path(), config.clone()).expect_err("no server");
    assert!(
        !format!("{err} {err:?}").contains("hunter2-secret"),
        "{err:?}"
    );
    let fresh = tempfile::tempdir().expect("dir");
    let err = server::admin_init_with_config(fresh.path(), "localhost", None, &config)
        .expect_err("no server");
    assert!(
        !format!("{err} {err:?}").contains("hunter2-secret"),
        "{err:?}"
    );
    assert!(!fresh.path().join("server.key").exists());
}

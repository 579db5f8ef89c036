//! Upgrades (issue 15, design section 10): a database made by every earlier release opens
//! under this one, migrates to [`sqlite::SCHEMA_VERSION`] (PostgreSQL:
//! [`postgres::SCHEMA_VERSION`]), keeps every row, and its audit log stays the log its
//! auditors hold.
//!
//! Why fixtures and not a migration run on a fresh database: a migration is only as good
//! as the databases it meets, and those were written by the old code, not by this one.
//! So each schema version has a data directory made by the release that wrote it
//! (`tests/fixtures/schema/`, each with a `MADE_BY` file naming the commit and command;
//! its README says which versions exist and why). For each one the test copies it, counts
//! its rows with plain SQL, opens it with the current store (the migration runs), checks
//! `meta.schema_version`, reads every kind of row through the store (officers, policies,
//! rosters, devices, attestations, API and enrollment tokens, signed checkpoints), builds
//! a bundle of the whole log and verifies it with the fixture's `log.vkey` (consistency
//! with the checkpoints the old server published, and the auditor's semantic replay),
//! then starts the server on it, enrolls and checks in a new device and has it sign a new
//! checkpoint consistent with the old one.
//!
//! [`every_schema_version_has_a_fixture`] fails as soon as a release bumps a schema
//! version without committing its fixture: its message says how to make it.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing

use std::path::{Path, PathBuf};

use pramaan_core::ServerKey;
use pramaan_server::audit_log::bundle::{self, BuildOptions};
use pramaan_server::audit_log::{Checkpoint, LogSigner, VerifierKey, verify_consistency};
use pramaan_server::config::Config;
use pramaan_server::server::{self, Paths};
use pramaan_server::store::{
    PostgresStore, Role, SqliteStore, Store, StoreError, postgres, read_transaction, sqlite,
};
use pramaan_testkit as kit;

/// The fixture directory.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema")
}

/// What to do when a schema version has no fixture (or to refresh the current one).
const HOW_TO_MAKE: &str = "make it with the release that writes it: \
     server/tests/fixtures/schema/update-current.sh (tests/README.md, \
     server/tests/fixtures/schema/README.md)";

/// The schema versions of the committed SQLite fixtures (`sqlite-vN` directories), sorted.
fn sqlite_versions() -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(fixtures())
        .expect("fixture directory")
        .filter_map(|e| {
            let name = e.expect("entry").file_name().into_string().ok()?;
            name.strip_prefix("sqlite-v")?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// A copy of fixture directory `name` in a fresh temporary directory.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    kit::copy_dir(&fixtures().join(name), dir.path());
    dir
}

/// The signed checkpoints the old server published (`checkpoint-1`, `checkpoint-2`),
/// verified with `vkey`, oldest first.
fn published(dir: &Path, vkey: &VerifierKey) -> Vec<(String, Checkpoint)> {
    (1..=2)
        .map(|i| {
            let note = std::fs::read_to_string(dir.join(format!("checkpoint-{i}")))
                .expect("published checkpoint");
            let cp = vkey.verify_checkpoint(&note).expect("signed by log.vkey");
            (note, cp)
        })
        .collect()
}

/// Row counts of the tables every schema version has, read with plain SQL before the
/// current store touches the database.
#[derive(Debug, Default, PartialEq, Eq)]
struct RawCounts {
    officers: u64,
    devices: u64,
    attestations: u64,
    tokens: u64,
    enrollment_tokens: u64,
    checkpoints: u64,
    log: u64,
}

const COUNTED: [&str; 7] = [
    "officers",
    "devices",
    "attestations",
    "tokens",
    "enrollment_tokens",
    "checkpoints",
    "audit_log_leaves",
];

impl RawCounts {
    fn from(mut count: impl FnMut(&str) -> u64) -> Self {
        let [
            officers,
            devices,
            attestations,
            tokens,
            enrollment_tokens,
            checkpoints,
            log,
        ] = COUNTED.map(&mut count);
        RawCounts {
            officers,
            devices,
            attestations,
            tokens,
            enrollment_tokens,
            checkpoints,
            log,
        }
    }
}

/// Every kind of row, read through the current store: what it found, as [`RawCounts`].
/// When the store holds signed checkpoints (releases from schema version 3 on), those
/// `published` are among them. Also checks what each kind must hold in a fixture made by `make-sqlite.sh` (the demo
/// department GAD and what followed).
fn read_everything(store: &dyn Store, published: &[(String, Checkpoint)]) -> RawCounts {
    read_transaction(store, |tx| {
        let departments = tx.departments()?;
        assert!(departments.contains(&"GAD".to_string()), "{departments:?}");
        let mut counts = RawCounts::default();
        let mut device_ids = Vec::new();
        for d in &departments {
            let officers = tx.officers_of(d)?;
            assert!(tx.policy(d)?.is_some(), "the policy of {d}");
            for o in &officers {
                let again = tx.officer(&o.officer_id)?.expect("officer by id");
                assert_eq!(again.officer_id, o.officer_id);
                for dev in tx.devices_of_officer(&o.officer_id)? {
                    assert_eq!(dev.officer_id, o.officer_id);
                    let by_id = tx.device(&dev.device_id)?.expect("device by id");
                    assert_eq!(by_id.public_key, dev.public_key);
                    device_ids.push(dev.device_id);
                }
            }
            counts.officers += officers.len() as u64;
        }
        assert!(
            !tx.roster_rows("GAD")?.is_empty(),
            "the GAD roster survives the migration"
        );
        counts.devices = device_ids.len() as u64;
        for id in &device_ids {
            let recent = tx.recent_attestations(id, u32::MAX)?;
            if let Some(latest) = tx.latest_attestation(id)? {
                assert_eq!(Some(&latest), recent.first(), "latest of {id}");
                assert!(!latest.claims.is_empty(), "the stored claims of {id}");
            }
            counts.attestations += recent.len() as u64;
        }
        let tokens = tx.tokens()?;
        assert!(
            tokens.iter().any(|t| t.role == Role::Admin),
            "the admin token survives"
        );
        counts.tokens = tokens.len() as u64;
        counts.enrollment_tokens =
            tx.enroll_tokens_of(None, true, kit::now(), 10_000)?.len() as u64;
        let stored = tx.checkpoints(0, 10_000)?;
        for (note, cp) in published.iter().filter(|_| !stored.is_empty()) {
            assert!(
                stored
                    .iter()
                    .any(|r| &r.note == note && r.size == cp.size && r.root == cp.root),
                "the published checkpoint of size {} is stored",
                cp.size
            );
        }
        counts.checkpoints = stored.len() as u64;
        counts.log = tx.log().size()?;
        Ok::<_, StoreError>(counts)
    })
    .expect("read every kind of row")
}

/// Builds a bundle of the whole log with the server's bundle builder (signed with the
/// fixture's throw-away `log.key`), consistent since the first published checkpoint, and
/// verifies it as an auditor would: `log.vkey`, `--since`, semantic replay.
fn verify_whole_log(store: &dyn Store, dir: &Path, published: &[(String, Checkpoint)]) {
    let paths = Paths::new(dir);
    let vkey_text = std::fs::read_to_string(paths.log_vkey()).expect("log.vkey");
    let vkey = VerifierKey::parse(&vkey_text).expect("verifier key");
    // Releases before log.key signed checkpoints with server.key (the server still does
    // for their directories).
    let key = if paths.log_key().exists() {
        paths.log_key()
    } else {
        paths.server_key()
    };
    let signer = LogSigner::new(vkey.name.clone(), ServerKey::load(&key).expect("log key"));
    let (first_note, first) = &published[0];
    let opts = BuildOptions {
        start: Some(0),
        since: vec![bundle::since_checkpoint(first_note).expect("checkpoint")],
        ..BuildOptions::default()
    };
    let built = read_transaction(store, |tx| {
        Ok::<_, StoreError>(bundle::build_bundle_from_store(tx.log(), &signer, &opts))
    })
    .expect("read")
    .expect("build the bundle");
    let verified = bundle::verify_bundle(&built.to_bytes(), &vkey_text, Some(first_note));
    let summary = verified.unwrap_or_else(|e| panic!("the migrated log does not verify: {e}"));
    let (_, last) = &published[1];
    assert!(summary.size >= last.size, "{summary:?}");
    assert_eq!(summary.start, 0);
    assert_eq!(summary.consistent_since, Some(first.size));
    assert!(summary.meaning.complete, "{:?}", summary.meaning);
    assert!(
        summary.attestations > 0 && summary.enrollments > 0,
        "{summary:?}"
    );
}

/// Starts the server on the migrated directory (`config`), enrolls and checks in a new
/// device, and checks the checkpoint it signs extends the last one the old server
/// published.
fn serve_after_upgrade(dir: tempfile::TempDir, config: Config, published: &[(String, Checkpoint)]) {
    let admin = server::create_token(dir.path(), Role::Admin, None).expect("admin token");
    let env = kit::start_existing(dir, config, admin);
    let mut device = env.enroll("GAD-017");
    env.attest_ok(&mut device);
    env.attest_ok(&mut device);
    let r = env.admin().get("/v1/audit/checkpoint").expect("checkpoint");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let vkey_text = std::fs::read_to_string(Paths::new(env.data_dir()).log_vkey()).expect("vkey");
    let vkey = VerifierKey::parse(&vkey_text).expect("verifier key");
    let new = vkey
        .verify_checkpoint(&String::from_utf8_lossy(&r.body))
        .expect("signed with the same log key");
    let (_, old) = &published[1];
    assert!(new.size > old.size, "{} > {}", new.size, old.size);
    let store = env.server().store();
    let proof = read_transaction(store.as_ref(), |tx| {
        pramaan_tlog::consistency_proof(tx.log(), old.size, new.size).map_err(StoreError::from_log)
    })
    .expect("consistency proof");
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
        .expect("the new checkpoint extends the one published before the upgrade");
}

#[test]
fn every_schema_version_has_a_fixture() {
    let versions = sqlite_versions();
    assert!(
        versions.contains(&sqlite::SCHEMA_VERSION),
        "no fixture for SQLite schema version {} (have {versions:?}): {HOW_TO_MAKE}",
        sqlite::SCHEMA_VERSION
    );
    for v in 1..=postgres::SCHEMA_VERSION {
        let sql = fixtures().join(format!("postgres-v{v}.sql"));
        assert!(
            sql.exists() && fixtures().join(format!("postgres-v{v}")).is_dir(),
            "no fixture for PostgreSQL schema version {v} ({}): {HOW_TO_MAKE}",
            sql.display()
        );
    }
    for v in &versions {
        let made_by = fixtures().join(format!("sqlite-v{v}/MADE_BY"));
        assert!(made_by.exists(), "{} names no commit", made_by.display());
    }
}

#[test]
fn every_sqlite_fixture_migrates_keeps_its_rows_and_log_and_serves() {
    for version in sqlite_versions() {
        let name = format!("sqlite-v{version}");
        println!("{name}");
        let dir = copy_fixture(&name);
        let paths = Paths::new(dir.path());
        let raw = {
            let conn = rusqlite::Connection::open(paths.db()).expect("open the fixture");
            assert_eq!(
                sqlite::schema_version(&conn).expect("version"),
                version,
                "{name} holds another schema version"
            );
            RawCounts::from(|table| {
                // Releases before schema version 3 kept no signed checkpoints.
                let exists: bool = conn
                    .query_row(
                        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [table],
                        |r| r.get(0),
                    )
                    .expect("sqlite_master");
                if !exists {
                    return 0;
                }
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| u64::try_from(n).expect("count"))
                .unwrap_or_else(|e| panic!("{name}: count {table}: {e}"))
            })
        };
        let vkey =
            VerifierKey::parse(&std::fs::read_to_string(paths.log_vkey()).expect("log.vkey"))
                .expect("verifier key");
        let published = published(dir.path(), &vkey);
        {
            let store = SqliteStore::open(&paths.db()).expect("open and migrate");
            let conn = rusqlite::Connection::open(paths.db()).expect("open");
            assert_eq!(
                sqlite::schema_version(&conn).expect("version"),
                sqlite::SCHEMA_VERSION,
                "{name}: meta.schema_version after opening"
            );
            let read = read_everything(&store, &published);
            assert_eq!(read, raw, "{name}: every row reads after the migration");
            verify_whole_log(&store, dir.path(), &published);
        }
        serve_after_upgrade(dir, kit::test_config(), &published);
    }
}

#[test]
fn the_postgres_fixture_loads_migrates_keeps_its_rows_and_log_and_serves() {
    let Some(cluster) = kit::postgres::cluster() else {
        return;
    };
    for version in 1..=postgres::SCHEMA_VERSION {
        let name = format!("postgres-v{version}");
        let url = kit::postgres::fresh_database(&cluster);
        let sql = std::fs::read_to_string(fixtures().join(format!("{name}.sql"))).expect("dump");
        let mut client =
            ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect to the database");
        client.batch_execute(&sql).expect("load the dump");
        // The dump empties this session's search_path: read in a new one.
        let mut client =
            ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect to the database");
        let count = |client: &mut ::postgres::Client, table: &str| -> u64 {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .expect("count")
                .get(0);
            u64::try_from(n).expect("count")
        };
        let stored_version = |client: &mut ::postgres::Client| -> String {
            client
                .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
                .expect("schema version")
                .get(0)
        };
        assert_eq!(stored_version(&mut client), version.to_string());
        let raw = RawCounts::from(|t| count(&mut client, t));
        let dir = copy_fixture(&name);
        let vkey = VerifierKey::parse(
            &std::fs::read_to_string(Paths::new(dir.path()).log_vkey()).expect("log.vkey"),
        )
        .expect("verifier key");
        let published = published(dir.path(), &vkey);
        {
            let store = PostgresStore::open(&url, None).expect("open and migrate");
            assert_eq!(
                stored_version(&mut client),
                postgres::SCHEMA_VERSION.to_string()
            );
            let read = read_everything(&store, &published);
            assert_eq!(read, raw, "{name}: every row reads after the migration");
            verify_whole_log(&store, dir.path(), &published);
        }
        // The directory names its database as a deployment's does (config.toml).
        let config_path = dir.path().join("config.toml");
        let file = std::fs::read_to_string(&config_path).expect("config.toml");
        std::fs::write(
            &config_path,
            file.replacen('\n', &format!("\ndatabase_url = {url:?}\n"), 1),
        )
        .expect("config.toml");
        let mut config = kit::test_config();
        config.database_url = Some(url);
        serve_after_upgrade(dir, config, &published);
    }
}

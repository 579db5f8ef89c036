//! The SQLite backend: one file in WAL mode with `synchronous=FULL`, so that an answer
//! the server has sent (a committed transaction) survives `kill -9` or a power cut
//! (design section 10: acknowledged means durable).
//!
//! rusqlite is blocking, so the one connection lives behind a std `Mutex` and callers run
//! transactions inside `tokio::task::spawn_blocking`. A single writer is what SQLite allows
//! anyway; `BEGIN IMMEDIATE` takes the write lock up front so a transaction never fails
//! half-way on a lock upgrade.
//!
//! Group commit ([`SqliteStore::start_group_commit`]): with `synchronous=FULL` every commit
//! costs an fsync, which would cap attestations at the disk's fsync rate. A writer thread
//! takes every job queued while the previous commit was in progress, runs each inside its
//! own `SAVEPOINT` (a refused job is rolled back alone, so "nothing rejected changes state"
//! still holds, and a later job of the batch sees an earlier one's writes, so a replay in
//! the same batch is still refused), commits once, and only then releases the answers.

//!
//! Schema versions ([`MIGRATIONS`]): `meta.schema_version` says which migrations a database
//! has had. Opening applies the missing ones in order, each in its own transaction with the
//! version it reaches, and refuses a database whose version is newer than this binary
//! knows (an older server must not write rows it does not understand).
//!
//! Integers: SQLite's are signed 64-bit; a `u64` beyond `i64::MAX` is refused
//! ([`StoreError::ValueOutOfRange`]) and a negative stored value is corrupt.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use pramaan_core::claims::Assurance;
use pramaan_core::policy::{Officer, Policy};
use pramaan_tlog::LogStore;
use pramaan_tlog::tree::NodeSource;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::pool::Pool;
use super::rows::{
    CHECKPOINT_COLS, DEVICE_COL_COUNT, DEVICE_COLS, ENROLL_TOKEN_COLUMNS, RawAttestation,
    RawCheckpoint, RawDevice, RawEnrollToken, RawToken, TOKEN_COLUMNS, checkpoint_row,
    officer_from_json, to_u64,
};
use super::{
    AttestationRow, CheckpointRow, Counts, DepartmentRules, DeviceRow, EnrollTokenListing,
    EnrollTokenRow, Finisher, Job, NonceRow, OfficerChange, RulesCache, StatusListRow, Store,
    StoreError, TokenRow, Tx, to_i64,
};
use crate::audit_log::{Hash, SqlNodes};
use pramaan_core::evidence::EvidenceSummary;

/// Read-only connections of a file-backed store (each is a few hundred KiB of page cache).
const READERS: usize = 4;

/// Prepared statements kept per connection (`prepare_cached`): every statement of the
/// [`Tx`] methods fits, so none on the hot path is parsed again (rusqlite keeps 16 by
/// default, fewer than an attestation uses).
const STATEMENT_CACHE: usize = 128;

/// Most jobs one group commit takes.
const MAX_BATCH: usize = 256;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            _ if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                StoreError::Conflict(e.to_string())
            }
            // A stored value of the wrong type or range (see `col_u64`).
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// One schema step: runs inside the transaction that records its version.
pub type Migration = fn(&rusqlite::Transaction<'_>) -> Result<(), StoreError>;

/// Every migration, in order: entry `i` brings a database from version `i` to `i + 1`.
/// Append only; never edit a released one.
pub const MIGRATIONS: &[Migration] = &[
    migrate_v1, migrate_v2, migrate_v3, migrate_v4, migrate_v5, migrate_v6,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Version 1: the first schema (tables of the server and of the audit log). Written with
/// `IF NOT EXISTS` because databases made before versioned migrations already have it.
fn migrate_v1(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA_V1)?;
    crate::audit_log::init_schema(tx).map_err(StoreError::from_log)?;
    Ok(())
}

/// Version 2: what evidence proved and offline chaining (issue "attestations that prove
/// the phone"): a device key is enrolled once (unique key hash, backfilled), the evidence
/// summary, fresh-challenge state, the App Attest counter, tokens that allow a second
/// device, and Google's revocation status list.
fn migrate_v2(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "ALTER TABLE devices ADD COLUMN key_hash BLOB;
         ALTER TABLE devices ADD COLUMN evidence_summary TEXT;
         ALTER TABLE devices ADD COLUMN last_fresh_at INTEGER;
         ALTER TABLE devices ADD COLUMN anchor_hash BLOB;
         ALTER TABLE devices ADD COLUMN anchor_at INTEGER;
         ALTER TABLE devices ADD COLUMN offline_run INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE devices ADD COLUMN assert_counter INTEGER;
         ALTER TABLE devices ADD COLUMN reattest_requested INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE enrollment_tokens ADD COLUMN allow_additional INTEGER NOT NULL DEFAULT 0;
         CREATE TABLE status_list (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             json TEXT NOT NULL,
             fetched_at INTEGER NOT NULL,
             imported_at INTEGER NOT NULL
         );",
    )?;
    // Backfill the key hash of devices enrolled before; the first device of a key keeps
    // it (an older server allowed duplicates; later ones stay without, and so can never
    // be matched as "the" device of that key, but keep working).
    let rows: Vec<(Vec<u8>, Vec<u8>)> = {
        let mut stmt =
            tx.prepare("SELECT device_id, public_key FROM devices ORDER BY enrolled_at")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut seen = std::collections::HashSet::new();
    for (id, key) in rows {
        if let Ok(h) = super::key_hash(&key)
            && seen.insert(h)
        {
            tx.execute(
                "UPDATE devices SET key_hash = ?2 WHERE device_id = ?1",
                params![id, &h[..]],
            )?;
        }
    }
    tx.execute_batch("CREATE UNIQUE INDEX devices_key_hash ON devices(key_hash);")?;
    Ok(())
}

/// Version 3: every checkpoint the server signs (issue "audit evidence an auditor can rely
/// on"), so it can refuse to sign a tree inconsistent with one it published.
fn migrate_v3(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TABLE checkpoints (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             size INTEGER NOT NULL,
             root BLOB NOT NULL,
             note TEXT NOT NULL,
             signed_at INTEGER NOT NULL
         );
         CREATE INDEX checkpoints_size ON checkpoints(size, id);",
    )?;
    Ok(())
}

/// Version 4: a partial index of the audit log's enrollment leaves (incremental audit
/// pulls find the device keys without reading the log).
fn migrate_v4(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(crate::audit_log::ENROLLMENT_INDEX)?;
    Ok(())
}

/// Version 5: a generation per department, increased with every change of its policy or
/// rosters, so parsed rules can be cached and a cached copy is used only while current
/// ([`super::RulesCache`]; several servers may share the database).
fn migrate_v5(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TABLE department_generations (
             department TEXT PRIMARY KEY,
             generation INTEGER NOT NULL
         );",
    )?;
    Ok(())
}

/// Version 6: the department IT console (issue "the department IT console"): bearer
/// tokens get a name, who made them, an optional expiry and a revocation; enrollment
/// tokens can be cancelled; officers can be retired (the row stays: the log and old
/// reports name them); devices are listed by department.
fn migrate_v6(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "ALTER TABLE tokens ADD COLUMN name TEXT;
         ALTER TABLE tokens ADD COLUMN created_by TEXT;
         ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
         ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
         ALTER TABLE tokens ADD COLUMN revoked_by TEXT;
         ALTER TABLE enrollment_tokens ADD COLUMN cancelled_at INTEGER;
         ALTER TABLE enrollment_tokens ADD COLUMN cancelled_by TEXT;
         ALTER TABLE officers ADD COLUMN retired_at INTEGER;
         CREATE INDEX devices_department ON devices(department);
         CREATE INDEX enrollment_tokens_officer ON enrollment_tokens(officer_id);",
    )?;
    Ok(())
}

/// The database's schema version (0 for a fresh one).
pub fn schema_version(conn: &Connection) -> Result<u64, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(0);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    super::rows::parse_schema_version(v)
}

/// Brings the database to the last of `migrations`, or refuses one that is newer.
/// Returns the version it is at.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u64, StoreError> {
    let latest = migrations.len() as u64;
    let found = schema_version(conn)?;
    if found > latest {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: latest,
        });
    }
    for (i, step) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(usize::MAX))
    {
        let version = i as u64 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated since the version was read.
        let now = schema_version(&tx)?;
        if now >= version {
            continue;
        }
        step(&tx)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![version.to_string()],
        )?;
        tx.commit()?;
        log::info!("database schema migrated to version {version}");
    }
    Ok(latest)
}

const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS officers (
    officer_id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    row_json TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS officers_department ON officers(department);
CREATE TABLE IF NOT EXISTS policies (
    department TEXT PRIMARY KEY,
    policy_json TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rosters (
    department TEXT NOT NULL,
    platform TEXT NOT NULL,
    grp TEXT NOT NULL,
    handle TEXT NOT NULL,
    PRIMARY KEY (department, platform, grp, handle)
);
CREATE TABLE IF NOT EXISTS tokens (
    hash BLOB PRIMARY KEY,
    role TEXT NOT NULL,
    department TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollment_tokens (
    hash BLOB PRIMARY KEY,
    officer_id TEXT NOT NULL,
    expires INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    hash BLOB PRIMARY KEY,
    expires INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nonces_expires ON nonces(expires);
CREATE TABLE IF NOT EXISTS devices (
    device_id BLOB PRIMARY KEY,
    officer_id TEXT NOT NULL,
    department TEXT NOT NULL,
    platform TEXT NOT NULL,
    model TEXT NOT NULL,
    attested_model TEXT,
    public_key BLOB NOT NULL,
    assurance TEXT NOT NULL,
    evidence BLOB,
    revoked INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    last_seq INTEGER,
    enrolled_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_officer ON devices(officer_id);
CREATE TABLE IF NOT EXISTS attestations (
    device_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    iat INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    fresh_nonce INTEGER NOT NULL,
    claims BLOB NOT NULL,
    verdict TEXT NOT NULL,
    failures TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
"#;

/// The SQLite store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Read-only connections for lookups that must not wait for a commit's fsync (WAL
    /// readers see the last committed state). Several, so that an auditor pulling a large
    /// bundle does not queue the device-key and bearer-token lookups of every other
    /// request behind it. Empty for in-memory stores.
    readers: Pool<Connection>,
    /// Queue of the group-commit writer, once [`SqliteStore::start_group_commit`] ran.
    writer: OnceLock<SyncSender<Job>>,
    /// Parsed policies and rosters, shared by the writer and the readers.
    rules: RulesCache,
}

/// SQLite's files beside the database: the write-ahead log, its shared-memory index and a
/// rollback journal (written only while a database leaves WAL mode).
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Makes the database and its side files readable by their owner only (0600): they hold
/// the registry, device keys, token hashes and the whole log, and another local user has
/// no business reading them. The database is created 0600 before SQLite opens it, and
/// SQLite gives the files it creates beside a database that database's mode, so the WAL
/// and shared-memory files are 0600 too. A file an older version left readable is
/// narrowed, with a warning naming it.
#[cfg(unix)]
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |p: &Path, e: std::io::Error| StoreError::Backend(format!("{}: {e}", p.display()));
    if !path.exists() {
        // An empty file is a new database to SQLite. `create` without `truncate` never
        // touches a file created meanwhile by another process.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| io(path, e))?;
    }
    let mut files = vec![path.to_path_buf()];
    files.extend(SIDE_FILES.iter().map(|s| {
        let mut p = path.as_os_str().to_owned();
        p.push(s);
        std::path::PathBuf::from(p)
    }));
    for file in files {
        let mode = match std::fs::metadata(&file) {
            Ok(m) => m.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&file, e)),
        };
        if mode != 0o600 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&file, e))?;
            log::warn!(
                "{} was readable beyond its owner (mode {mode:o}); now 0600",
                file.display()
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its schema, audit log included.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        owner_only(path)?;
        let conn = Connection::open(path)?;
        let mut store = Self::setup(conn)?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                reader.execute_batch("PRAGMA busy_timeout=5000;")?;
                reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                Ok(reader)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        store.readers = Pool::fixed(readers);
        Ok(store)
    }

    /// An in-memory store (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self, StoreError> {
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )?;
        migrate(&mut conn, MIGRATIONS)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self {
            conn: Mutex::new(conn),
            readers: Pool::fixed(Vec::new()),
            writer: OnceLock::new(),
            rules: RulesCache::default(),
        })
    }

    /// Starts the group-commit writer: jobs given to [`Store::submit`] are then collected
    /// while a commit is in progress and committed together, one fsync for many answers.
    /// The thread ends when the store is dropped.
    pub fn start_group_commit(self: &Arc<Self>) -> Result<(), StoreError> {
        let (send, recv) = std::sync::mpsc::sync_channel::<Job>(4 * MAX_BATCH);
        if self.writer.set(send).is_err() {
            return Ok(()); // already running
        }
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("pramaan-db-writer".into())
            .spawn(move || writer_loop(&weak, &recv))
            .map_err(|e| StoreError::CommitFailed(format!("cannot start the writer: {e}")))?;
        Ok(())
    }

    fn run_batch(&self, batch: Vec<Job>) -> (Vec<Finisher>, bool) {
        let mut finishers = Vec::with_capacity(batch.len());
        let result = (|| -> Result<(), StoreError> {
            let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut wrapped = SqliteTx {
                tx,
                rules: &self.rules,
                changed_rules: false,
            };
            // Prepared once per connection, not parsed per job (issue 12's profile: the
            // savepoint text was 5.8 % of the accept path).
            let savepoint = |tx: &rusqlite::Transaction<'_>, sql: &str| -> Result<(), StoreError> {
                tx.prepare_cached(sql)?.execute([])?;
                Ok(())
            };
            for job in batch {
                savepoint(&wrapped.tx, "SAVEPOINT job")?;
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut wrapped)));
                match outcome {
                    Ok((true, fin)) => {
                        savepoint(&wrapped.tx, "RELEASE job")?;
                        finishers.push(fin);
                    }
                    Ok((false, fin)) => {
                        savepoint(&wrapped.tx, "ROLLBACK TO job")?;
                        savepoint(&wrapped.tx, "RELEASE job")?;
                        finishers.push(fin);
                    }
                    Err(_) => {
                        // The job's answer channel is dropped: its caller gets an error.
                        log::error!("a storage job panicked; its writes are rolled back");
                        savepoint(&wrapped.tx, "ROLLBACK TO job")?;
                        savepoint(&wrapped.tx, "RELEASE job")?;
                    }
                }
            }
            wrapped.tx.commit()?;
            Ok(())
        })();
        if let Err(e) = &result {
            log::error!("group commit failed: {e}");
        }
        (finishers, result.is_ok())
    }
}

impl Store for SqliteStore {
    fn with_tx(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut wrapped = SqliteTx {
            tx,
            rules: &self.rules,
            changed_rules: false,
        };
        if f(&mut wrapped)? {
            wrapped.tx.commit()?;
        }
        // Dropping an uncommitted transaction rolls it back.
        Ok(())
    }

    fn with_read(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if self.readers.size() == 0 {
            return self.with_tx(f);
        }
        let mut conn = self.readers.take(|_| true)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut wrapped = SqliteTx {
            tx,
            rules: &self.rules,
            changed_rules: false,
        };
        f(&mut wrapped)?;
        // Read-only: nothing to commit; dropping ends the snapshot.
        Ok(())
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let Some(writer) = self.writer.get() else {
            return run_alone(self, job);
        };
        super::queue_for_writer(writer, job)
    }
}

/// The trait's default behaviour, for a store without a writer thread.
fn run_alone(store: &SqliteStore, job: Job) -> Result<(), StoreError> {
    let (finishers, committed) = store.run_batch(vec![job]);
    for f in finishers {
        f(committed);
    }
    if committed {
        Ok(())
    } else {
        Err(StoreError::CommitFailed(
            "the transaction did not commit".into(),
        ))
    }
}

fn writer_loop(store: &Weak<SqliteStore>, recv: &Receiver<Job>) {
    while let Ok(first) = recv.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match recv.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(store) = store.upgrade() else {
            return;
        };
        let (finishers, committed) = store.run_batch(batch);
        for f in finishers {
            f(committed);
        }
    }
}

struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
    /// The store's cache of parsed rules ([`Tx::department_rules`]).
    rules: &'c RulesCache,
    /// This transaction changed a policy or roster: its own uncommitted rules must not
    /// reach the cache (a rollback would leave a generation that a later change reuses).
    changed_rules: bool,
}

impl SqliteTx<'_> {
    /// Increases the department's generation (in this transaction).
    /// The officer's device ids in enrollment order; `active_only`: unrevoked ones.
    fn officer_device_ids(
        &mut self,
        officer_id: &str,
        active_only: bool,
    ) -> Result<Vec<Uuid>, StoreError> {
        let sql = if active_only {
            "SELECT device_id FROM devices WHERE officer_id = ?1 AND revoked = 0 \
             ORDER BY enrolled_at, device_id"
        } else {
            "SELECT device_id FROM devices WHERE officer_id = ?1 ORDER BY enrolled_at, device_id"
        };
        let ids = self
            .tx
            .prepare_cached(sql)?
            .query_map(params![officer_id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        ids.iter()
            .map(|b| {
                Uuid::from_slice(b)
                    .map_err(|_| StoreError::Corrupt("device id not 16 bytes".into()))
            })
            .collect()
    }

    /// Cancels the officer's outstanding enrollment tokens (unused, not cancelled yet);
    /// returns how many.
    fn cancel_enroll_tokens_of(
        &mut self,
        officer_id: &str,
        by: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE enrollment_tokens SET cancelled_at = ?2, cancelled_by = ?3 \
                 WHERE officer_id = ?1 AND used = 0 AND cancelled_at IS NULL",
            )?
            .execute(params![officer_id, now, by])?;
        Ok(n as u64)
    }

    fn bump_generation(&mut self, department: &str) -> Result<(), StoreError> {
        self.changed_rules = true;
        self.tx
            .prepare_cached(
                "INSERT INTO department_generations(department, generation) VALUES (?1, 1) \
                 ON CONFLICT(department) DO UPDATE SET generation = generation + 1",
            )?
            .execute(params![department])?;
        Ok(())
    }
}

/// [`to_u64`] inside a rusqlite row mapper.
fn col_u64(r: &rusqlite::Row<'_>, idx: usize, what: &'static str) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Integer,
            format!("{what} {v} is negative").into(),
        )
    })
}

fn device_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok(RawDevice {
        device_id: r.get(0)?,
        officer_id: r.get(1)?,
        department: r.get(2)?,
        platform: r.get(3)?,
        model: r.get(4)?,
        attested_model: r.get(5)?,
        public_key: r.get(6)?,
        assurance: r.get(7)?,
        evidence: r.get(8)?,
        revoked: r.get(9)?,
        reason: r.get(10)?,
        last_seq: r.get(11)?,
        enrolled_at: r.get(12)?,
        evidence_summary: r.get(14)?,
        last_fresh_at: r.get(15)?,
        anchor_hash: r.get(16)?,
        anchor_at: r.get(17)?,
        offline_run: r.get(18)?,
        assert_counter: r.get(19)?,
        reattest_requested: r.get(20)?,
    })
}

/// The attestation columns `seq, iat, received_at, fresh_nonce, claims, verdict,
/// failures, log_index` of a row, starting at column `at`.
fn attestation_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<RawAttestation> {
    Ok(RawAttestation {
        seq: r.get(at)?,
        iat: r.get(at + 1)?,
        received_at: r.get(at + 2)?,
        fresh_nonce: r.get(at + 3)?,
        claims: r.get(at + 4)?,
        verdict: r.get(at + 5)?,
        failures: r.get(at + 6)?,
        log_index: r.get(at + 7)?,
    })
}

/// The log rows of this transaction: the algorithms are `pramaan_tlog`'s, the SQL is
/// [`SqlNodes`]'s (which borrows the transaction's connection for each call).
fn raw_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawToken> {
    Ok(RawToken {
        hash: r.get(0)?,
        role: r.get(1)?,
        department: r.get(2)?,
        created_at: col_u64(r, 3, "token created_at")?,
        name: r.get(4)?,
        created_by: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
        revoked_by: r.get(8)?,
    })
}

fn raw_enroll_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEnrollToken> {
    Ok(RawEnrollToken {
        hash: r.get(0)?,
        officer_id: r.get(1)?,
        expires: col_u64(r, 2, "enrollment token expiry")?,
        used: r.get(3)?,
        allow_additional: r.get(4)?,
        created_by: r.get(5)?,
        created_at: col_u64(r, 6, "enrollment token created_at")?,
        cancelled_at: r.get(7)?,
        cancelled_by: r.get(8)?,
        department: r.get(9)?,
    })
}

impl NodeSource for SqliteTx<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        SqlNodes(&self.tx).node(level, index)
    }
}

impl LogStore for SqliteTx<'_> {
    fn size(&mut self) -> Result<u64, StoreError> {
        SqlNodes(&self.tx).size()
    }
    fn leaves(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        SqlNodes(&self.tx).leaves(start, end)
    }
    fn enrollment_candidates(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        SqlNodes(&self.tx).enrollment_candidates(start, end)
    }
    fn put_leaf(&mut self, index: u64, data: &[u8]) -> Result<(), StoreError> {
        SqlNodes(&self.tx).put_leaf(index, data)
    }
    fn put_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError> {
        SqlNodes(&self.tx).put_node(level, index, hash)
    }
}

impl Tx for SqliteTx<'_> {
    fn token(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"
            ))?
            .query_row(params![&hash[..]], raw_token)
            .optional()?;
        raw.map(RawToken::into_row).transpose()
    }

    fn insert_token(&mut self, row: &TokenRow) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO tokens(hash, role, department, created_at, name, created_by, \
                 expires_at, revoked_at, revoked_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                &row.hash[..],
                row.role.as_str(),
                row.department,
                to_i64("created_at", row.created_at)?,
                row.name,
                row.created_by,
                row.expires_at
                    .map(|v| to_i64("expires_at", v))
                    .transpose()?,
                row.revoked_at
                    .map(|v| to_i64("revoked_at", v))
                    .transpose()?,
                row.revoked_by,
            ])?;
        Ok(())
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let raws = self
            .tx
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, hash"
            ))?
            .query_map([], raw_token)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawToken::into_row).collect()
    }

    fn tokens_by_prefix(&mut self, prefix: &[u8], limit: u64) -> Result<Vec<TokenRow>, StoreError> {
        let (lo, hi) = super::hash_prefix_bounds(prefix);
        let raws = self
            .tx
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash >= ?1 AND hash <= ?2 \
                 ORDER BY hash LIMIT ?3"
            ))?
            .query_map(
                params![&lo[..], &hi[..], to_i64("limit", limit)?],
                raw_token,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawToken::into_row).collect()
    }

    fn revoke_token(&mut self, hash: &[u8; 32], by: &str, now: u64) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE tokens SET revoked_at = ?2, revoked_by = ?3 \
                 WHERE hash = ?1 AND revoked_at IS NULL \
                 AND (role != 'admin' OR EXISTS (SELECT 1 FROM tokens AS other \
                      WHERE other.role = 'admin' AND other.hash != ?1 \
                      AND other.revoked_at IS NULL \
                      AND (other.expires_at IS NULL OR other.expires_at > ?2)))",
            )?
            .execute(params![&hash[..], to_i64("now", now)?, by])?;
        Ok(changed == 1)
    }

    fn nonce(&mut self, hash: &[u8; 32]) -> Result<Option<NonceRow>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT expires, used FROM nonces WHERE hash = ?1")?
            .query_row(params![&hash[..]], |r| {
                Ok(NonceRow {
                    expires: col_u64(r, 0, "nonce expiry")?,
                    used: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn use_nonce(&mut self, hash: &[u8; 32], expires: u64) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "INSERT INTO nonces(hash, expires, used) VALUES (?1, ?2, 1) \
                 ON CONFLICT(hash) DO NOTHING",
            )?
            .execute(params![&hash[..], to_i64("nonce expiry", expires)?])?;
        Ok(changed == 1)
    }

    fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("DELETE FROM nonces WHERE expires < ?1")?
            .execute(params![to_i64("prune time", before)?])?;
        Ok(())
    }

    fn insert_enroll_token(
        &mut self,
        hash: &[u8; 32],
        officer_id: &str,
        expires: u64,
        allow_additional: bool,
        created_by: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO enrollment_tokens(hash, officer_id, expires, used, created_by, created_at, \
             allow_additional) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)")?.execute(params![
                &hash[..],
                officer_id,
                to_i64("enrollment token expiry", expires)?,
                created_by,
                to_i64("created_at", now)?,
                allow_additional
            ])?;
        Ok(())
    }

    fn enroll_token(&mut self, hash: &[u8; 32]) -> Result<Option<EnrollTokenRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(&format!(
                "SELECT {ENROLL_TOKEN_COLUMNS}, NULL FROM enrollment_tokens AS t WHERE hash = ?1"
            ))?
            .query_row(params![&hash[..]], raw_enroll_token)
            .optional()?;
        raw.map(|r| r.into_row().map(|l| l.row)).transpose()
    }

    fn use_enroll_token(&mut self, hash: &[u8; 32], now: u64) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE enrollment_tokens SET used = 1 WHERE hash = ?1 AND used = 0 \
                 AND cancelled_at IS NULL AND expires > ?2",
            )?
            .execute(params![&hash[..], to_i64("now", now)?])?;
        Ok(changed == 1)
    }

    fn enroll_tokens_by_prefix(
        &mut self,
        prefix: &[u8],
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError> {
        let (lo, hi) = super::hash_prefix_bounds(prefix);
        let raws = self
            .tx
            .prepare_cached(&format!(
                "SELECT {ENROLL_TOKEN_COLUMNS}, o.department FROM enrollment_tokens AS t \
                 JOIN officers AS o ON o.officer_id = t.officer_id \
                 WHERE t.hash >= ?1 AND t.hash <= ?2 ORDER BY t.hash LIMIT ?3"
            ))?
            .query_map(
                params![&lo[..], &hi[..], to_i64("limit", limit)?],
                raw_enroll_token,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawEnrollToken::into_row).collect()
    }

    fn enroll_tokens_of(
        &mut self,
        department: Option<&str>,
        all: bool,
        now: u64,
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError> {
        let raws = self
            .tx
            .prepare_cached(&format!(
                "SELECT {ENROLL_TOKEN_COLUMNS}, o.department FROM enrollment_tokens AS t \
                 JOIN officers AS o ON o.officer_id = t.officer_id \
                 WHERE (?1 IS NULL OR o.department = ?1) \
                 AND (?2 OR (t.used = 0 AND t.cancelled_at IS NULL AND t.expires > ?3)) \
                 ORDER BY t.created_at DESC, t.rowid DESC LIMIT ?4"
            ))?
            .query_map(
                params![
                    department,
                    all,
                    to_i64("now", now)?,
                    to_i64("limit", limit)?
                ],
                raw_enroll_token,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawEnrollToken::into_row).collect()
    }

    fn cancel_enroll_token(
        &mut self,
        hash: &[u8; 32],
        by: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE enrollment_tokens SET cancelled_at = ?2, cancelled_by = ?3 \
                 WHERE hash = ?1 AND used = 0 AND cancelled_at IS NULL AND expires > ?2",
            )?
            .execute(params![&hash[..], to_i64("now", now)?, by])?;
        Ok(changed == 1)
    }

    fn officer(&mut self, officer_id: &str) -> Result<Option<Officer>, StoreError> {
        let row: Option<(String, Option<i64>)> = self
            .tx
            .prepare_cached("SELECT row_json, retired_at FROM officers WHERE officer_id = ?1")?
            .query_row(params![officer_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((json, retired_at)) = row else {
            return Ok(None);
        };
        let mut officer = officer_from_json(&json)?;
        officer.retired_at = retired_at
            .map(|t| to_u64("officers.retired_at", t))
            .transpose()?;
        Ok(Some(officer))
    }

    fn departments(&mut self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT department FROM policies UNION SELECT DISTINCT department FROM officers \
             ORDER BY 1",
        )?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn officers_of(&mut self, department: &str) -> Result<Vec<Officer>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT row_json FROM officers WHERE department = ?1 AND retired_at IS NULL \
             ORDER BY officer_id",
        )?;
        let rows = stmt
            .query_map(params![department], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|j| officer_from_json(j)).collect()
    }

    fn upsert_officer(&mut self, officer: &Officer, now: u64) -> Result<(), StoreError> {
        // The row as imported: `retired_at` lives in its column, never in the JSON.
        let row = Officer {
            retired_at: None,
            ..officer.clone()
        };
        let json = serde_json::to_string(&row)
            .map_err(|e| StoreError::Corrupt(format!("officer: {e}")))?;
        self.tx.prepare_cached("INSERT INTO officers(officer_id, department, row_json, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(officer_id) DO UPDATE SET department = excluded.department, \
             row_json = excluded.row_json, updated_at = excluded.updated_at, retired_at = NULL")?.execute(params![officer.officer_id, officer.department, json, to_i64("updated_at", now)?])?;
        Ok(())
    }

    fn retire_officer(
        &mut self,
        officer_id: &str,
        reason: &str,
        by: &str,
        now: u64,
    ) -> Result<Option<OfficerChange>, StoreError> {
        let now_i = to_i64("now", now)?;
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE officers SET retired_at = ?2, updated_at = ?2 WHERE officer_id = ?1",
            )?
            .execute(params![officer_id, now_i])?;
        if changed == 0 {
            return Ok(None);
        }
        let devices = self.officer_device_ids(officer_id, true)?;
        self.tx
            .prepare_cached(
                "UPDATE devices SET revoked = 1, reason = ?2 WHERE officer_id = ?1 AND revoked = 0",
            )?
            .execute(params![officer_id, reason])?;
        let tokens_cancelled = self.cancel_enroll_tokens_of(officer_id, by, now_i)?;
        Ok(Some(OfficerChange {
            devices,
            tokens_cancelled,
        }))
    }

    fn move_officer(
        &mut self,
        officer_id: &str,
        to: &str,
        by: &str,
        now: u64,
    ) -> Result<Option<OfficerChange>, StoreError> {
        let now_i = to_i64("now", now)?;
        let Some(mut officer) = self.officer(officer_id)? else {
            return Ok(None);
        };
        officer.department = to.to_string();
        officer.retired_at = None;
        let json = serde_json::to_string(&officer)
            .map_err(|e| StoreError::Corrupt(format!("officer: {e}")))?;
        self.tx
            .prepare_cached(
                "UPDATE officers SET department = ?2, row_json = ?3, updated_at = ?4 \
                 WHERE officer_id = ?1",
            )?
            .execute(params![officer_id, to, json, now_i])?;
        let devices = self.officer_device_ids(officer_id, false)?;
        self.tx
            .prepare_cached("UPDATE devices SET department = ?2 WHERE officer_id = ?1")?
            .execute(params![officer_id, to])?;
        let tokens_cancelled = self.cancel_enroll_tokens_of(officer_id, by, now_i)?;
        Ok(Some(OfficerChange {
            devices,
            tokens_cancelled,
        }))
    }

    fn policy(&mut self, department: &str) -> Result<Option<Policy>, StoreError> {
        let json: Option<String> = self
            .tx
            .prepare_cached("SELECT policy_json FROM policies WHERE department = ?1")?
            .query_row(params![department], |r| r.get(0))
            .optional()?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| StoreError::Corrupt(format!("policy of {department}: {e}")))
        })
        .transpose()
    }

    fn set_policy(
        &mut self,
        department: &str,
        policy: &Policy,
        by: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(policy)
            .map_err(|e| StoreError::Corrupt(format!("policy: {e}")))?;
        self.tx.prepare_cached("INSERT INTO policies(department, policy_json, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(department) DO UPDATE SET policy_json = excluded.policy_json, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at")?.execute(params![department, json, by, to_i64("updated_at", now)?])?;
        self.bump_generation(department)
    }

    fn department_generation(&mut self, department: &str) -> Result<u64, StoreError> {
        let generation: Option<i64> = self
            .tx
            .prepare_cached("SELECT generation FROM department_generations WHERE department = ?1")?
            .query_row(params![department], |r| r.get(0))
            .optional()?;
        generation
            .map(|g| to_u64("department generation", g))
            .transpose()
            .map(|g| g.unwrap_or(0))
    }

    fn department_rules(
        &mut self,
        department: &str,
    ) -> Result<Option<Arc<DepartmentRules>>, StoreError> {
        if self.changed_rules {
            return Ok(DepartmentRules::read(self, department)?.map(Arc::new));
        }
        let cache = self.rules;
        cache.get(self, department)
    }

    fn roster_rows(
        &mut self,
        department: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT platform, grp, handle FROM rosters WHERE department = ?1 \
             ORDER BY platform, grp, handle",
        )?;
        let rows = stmt
            .query_map(params![department], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn set_roster(
        &mut self,
        department: &str,
        platform: &str,
        group: &str,
        handles: &[String],
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "DELETE FROM rosters WHERE department = ?1 AND platform = ?2 AND grp = ?3",
            )?
            .execute(params![department, platform, group])?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO rosters(department, platform, grp, handle) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for h in handles {
            stmt.execute(params![department, platform, group, h])?;
        }
        drop(stmt);
        self.bump_generation(department)
    }

    fn device(&mut self, device_id: &Uuid) -> Result<Option<DeviceRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE device_id = ?1"
            ))?
            .query_row(params![&device_id.as_bytes()[..]], device_from_row)
            .optional()?;
        raw.map(RawDevice::into_row).transpose()
    }

    fn devices_of_officer(&mut self, officer_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE officer_id = ?1 ORDER BY enrolled_at"
        ))?;
        let raws = stmt
            .query_map(params![officer_id], device_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawDevice::into_row).collect()
    }

    fn device_by_key(&mut self, key_hash: &[u8; 32]) -> Result<Option<DeviceRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE key_hash = ?1"
            ))?
            .query_row(params![&key_hash[..]], device_from_row)
            .optional()?;
        raw.map(RawDevice::into_row).transpose()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<(), StoreError> {
        let summary = serde_json::to_string(&d.evidence_summary)
            .map_err(|e| StoreError::Corrupt(format!("evidence summary: {e}")))?;
        let key_hash = super::key_hash(&d.public_key)?;
        let f = &d.freshness;
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO devices({DEVICE_COLS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20, ?21)"
            ))?
            .execute(params![
                &d.device_id.as_bytes()[..],
                d.officer_id,
                d.department,
                d.platform.as_str(),
                d.model,
                d.evidence_summary.attested_model,
                d.public_key,
                Assurance::as_str(d.assurance),
                d.evidence,
                d.revoked,
                d.reason,
                d.last_seq.map(|s| to_i64("last_seq", s)).transpose()?,
                to_i64("enrolled_at", d.enrolled_at)?,
                &key_hash[..],
                summary,
                f.last_fresh_at
                    .map(|t| to_i64("last_fresh_at", t))
                    .transpose()?,
                f.anchor.map(|(h, _)| h.to_vec()),
                f.anchor
                    .map(|(_, at)| to_i64("anchor_at", at))
                    .transpose()?,
                i64::from(f.offline_run),
                d.assert_counter.map(i64::from),
                d.reattest_requested,
            ])?;
        Ok(())
    }

    fn record_fresh(
        &mut self,
        device_id: &Uuid,
        at: u64,
        anchor: &[u8; 32],
    ) -> Result<(), StoreError> {
        let at = to_i64("fresh time", at)?;
        self.tx.prepare_cached("UPDATE devices SET last_fresh_at = ?2, anchor_hash = ?3, anchor_at = ?2, offline_run = 0 \
             WHERE device_id = ?1")?.execute(params![&device_id.as_bytes()[..], at, &anchor[..]])?;
        Ok(())
    }

    fn take_offline_slot(
        &mut self,
        device_id: &Uuid,
        anchor: &[u8; 32],
        max_run: u32,
    ) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE devices SET offline_run = offline_run + 1 \
             WHERE device_id = ?1 AND anchor_hash = ?2 AND offline_run < ?3",
            )?
            .execute(params![
                &device_id.as_bytes()[..],
                &anchor[..],
                i64::from(max_run)
            ])?;
        Ok(changed == 1)
    }

    fn request_reattest(&mut self, device_id: &Uuid) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached("UPDATE devices SET reattest_requested = 1 WHERE device_id = ?1")?
            .execute(params![&device_id.as_bytes()[..]])?;
        Ok(changed == 1)
    }

    fn update_evidence(
        &mut self,
        device_id: &Uuid,
        summary: &EvidenceSummary,
        assurance: Assurance,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(summary)
            .map_err(|e| StoreError::Corrupt(format!("evidence summary: {e}")))?;
        self.tx
            .prepare_cached(
                "UPDATE devices SET evidence_summary = ?2, assurance = ?3, attested_model = ?4, \
             reattest_requested = 0 WHERE device_id = ?1",
            )?
            .execute(params![
                &device_id.as_bytes()[..],
                json,
                assurance.as_str(),
                summary.attested_model
            ])?;
        Ok(())
    }

    fn advance_assert_counter(
        &mut self,
        device_id: &Uuid,
        counter: u32,
    ) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE devices SET assert_counter = ?2 \
             WHERE device_id = ?1 AND (assert_counter IS NULL OR assert_counter < ?2)",
            )?
            .execute(params![&device_id.as_bytes()[..], i64::from(counter)])?;
        Ok(changed == 1)
    }

    fn revoke_device(&mut self, device_id: &Uuid, reason: &str) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE devices SET revoked = 1, reason = ?2 WHERE device_id = ?1")?
            .execute(params![&device_id.as_bytes()[..], reason])?;
        Ok(())
    }

    fn advance_seq(&mut self, device_id: &Uuid, seq: u64) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .prepare_cached(
                "UPDATE devices SET last_seq = ?2 \
             WHERE device_id = ?1 AND (last_seq IS NULL OR last_seq < ?2)",
            )?
            .execute(params![&device_id.as_bytes()[..], to_i64("seq", seq)?])?;
        Ok(changed == 1)
    }

    fn insert_attestation(&mut self, a: &AttestationRow) -> Result<(), StoreError> {
        let failures = serde_json::to_string(&a.failures)
            .map_err(|e| StoreError::Corrupt(format!("failures: {e}")))?;
        self.tx.prepare_cached("INSERT INTO attestations(device_id, seq, iat, received_at, fresh_nonce, claims, verdict, \
             failures, log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?.execute(params![
                &a.device_id.as_bytes()[..],
                to_i64("seq", a.seq)?,
                to_i64("iat", a.iat)?,
                to_i64("received_at", a.received_at)?,
                a.fresh_nonce,
                a.claims,
                a.verdict.as_str(),
                failures,
                to_i64("log_index", a.log_index)?,
            ])?;
        Ok(())
    }

    fn latest_attestation(
        &mut self,
        device_id: &Uuid,
    ) -> Result<Option<AttestationRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(
                "SELECT seq, iat, received_at, fresh_nonce, claims, verdict, failures, log_index \
                 FROM attestations WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row(params![&device_id.as_bytes()[..]], |r| {
                attestation_from_row(r, 0)
            })
            .optional()?;
        raw.map(|r| r.into_row(*device_id)).transpose()
    }

    fn recent_attestations(
        &mut self,
        device_id: &Uuid,
        limit: u32,
    ) -> Result<Vec<AttestationRow>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT seq, iat, received_at, fresh_nonce, claims, verdict, failures, log_index \
             FROM attestations WHERE device_id = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let raws = stmt
            .query_map(params![&device_id.as_bytes()[..], i64::from(limit)], |r| {
                attestation_from_row(r, 0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(|r| r.into_row(*device_id)).collect()
    }

    fn department_devices(
        &mut self,
        department: &str,
    ) -> Result<Vec<(DeviceRow, Option<AttestationRow>)>, StoreError> {
        let device_cols = DEVICE_COLS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The latest attestation is found per device from the `(device_id, seq)` key
        // (MAX(seq) is one index lookup), not by scanning the department's history.
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {device_cols}, a.seq, a.iat, a.received_at, a.fresh_nonce, a.claims, \
             a.verdict, a.failures, a.log_index \
             FROM officers o JOIN devices d ON d.officer_id = o.officer_id \
             LEFT JOIN attestations a ON a.device_id = d.device_id \
               AND a.seq = (SELECT MAX(seq) FROM attestations WHERE device_id = d.device_id) \
             WHERE o.department = ?1 AND o.retired_at IS NULL \
             ORDER BY o.officer_id, d.enrolled_at, d.device_id"
        ))?;
        let raws = stmt
            .query_map(params![department], |r| {
                let device = device_from_row(r)?;
                let has_latest = r.get::<_, Option<i64>>(DEVICE_COL_COUNT)?.is_some();
                let latest = if has_latest {
                    Some(attestation_from_row(r, DEVICE_COL_COUNT)?)
                } else {
                    None
                };
                Ok((device, latest))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter()
            .map(|(device, latest)| {
                let device = device.into_row()?;
                let latest = latest.map(|a| a.into_row(device.device_id)).transpose()?;
                Ok((device, latest))
            })
            .collect()
    }

    fn nth_latest_received_at(
        &mut self,
        device_id: &Uuid,
        n: u32,
    ) -> Result<Option<u64>, StoreError> {
        let Some(skip) = n.checked_sub(1) else {
            return Ok(None);
        };
        // Seqs are distinct integers, so a device whose first and last seq are fewer than
        // `n` apart has fewer than `n` rows: answered from the two ends of the primary
        // key, without the walk below (a device far under a large limit costs nothing).
        let id = &device_id.as_bytes()[..];
        let end =
            |tx: &rusqlite::Transaction<'_>, order: &str| -> Result<Option<i64>, StoreError> {
                Ok(tx
                .prepare_cached(&format!(
                    "SELECT seq FROM attestations WHERE device_id = ?1 ORDER BY seq {order} LIMIT 1"
                ))?
                .query_row(params![id], |r| r.get(0))
                .optional()?)
            };
        let (Some(first), Some(last)) = (end(&self.tx, "ASC")?, end(&self.tx, "DESC")?) else {
            return Ok(None);
        };
        if last.saturating_sub(first) < i64::from(skip) {
            return Ok(None);
        }
        // OFFSET steps through the primary key's index; only the row returned is read.
        let at: Option<i64> = self
            .tx
            .prepare_cached(
                "SELECT received_at FROM attestations WHERE device_id = ?1 \
                 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
            )?
            .query_row(params![&device_id.as_bytes()[..], i64::from(skip)], |r| {
                r.get(0)
            })
            .optional()?;
        at.map(|v| to_u64("received_at", v)).transpose()
    }

    fn offline_received_since(
        &mut self,
        device_id: &Uuid,
        since: u64,
        at_most: u32,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        if at_most == 0 {
            return Ok(out);
        }
        let mut stmt = self.tx.prepare_cached(
            "SELECT received_at, fresh_nonce FROM attestations WHERE device_id = ?1 \
             ORDER BY seq DESC",
        )?;
        let mut rows = stmt.query(params![&device_id.as_bytes()[..]])?;
        while let Some(row) = rows.next()? {
            let received_at = to_u64("received_at", row.get(0)?)?;
            if received_at <= since {
                break;
            }
            if !row.get::<_, bool>(1)? {
                out.push(received_at);
                if out.len() >= at_most as usize {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn log(&mut self) -> &mut dyn LogStore<Error = StoreError> {
        self
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let count = |tx: &rusqlite::Transaction<'_>, sql: &str| -> Result<u64, StoreError> {
            to_u64("count", tx.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Counts {
            officers: count(&self.tx, "SELECT COUNT(*) FROM officers")?,
            devices: count(&self.tx, "SELECT COUNT(*) FROM devices")?,
            attestations: count(&self.tx, "SELECT COUNT(*) FROM attestations")?,
            nonces_used: count(&self.tx, "SELECT COUNT(*) FROM nonces WHERE used = 1")?,
            enrollment_tokens_used: count(
                &self.tx,
                "SELECT COUNT(*) FROM enrollment_tokens WHERE used = 1",
            )?,
            log_entries: self.log().size()?,
        })
    }

    fn status_list(&mut self) -> Result<Option<StatusListRow>, StoreError> {
        let raw: Option<(String, i64, i64)> = self
            .tx
            .prepare_cached("SELECT json, fetched_at, imported_at FROM status_list WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        raw.map(|(json, fetched, imported)| {
            Ok(StatusListRow {
                json,
                fetched_at: to_u64("fetched_at", fetched)?,
                imported_at: to_u64("imported_at", imported)?,
            })
        })
        .transpose()
    }

    fn set_status_list(&mut self, row: &StatusListRow) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO status_list(id, json, fetched_at, imported_at) VALUES (1, ?1, ?2, ?3) \
             ON CONFLICT(id) DO UPDATE SET json = excluded.json, fetched_at = excluded.fetched_at, \
             imported_at = excluded.imported_at",
            )?
            .execute(params![
                row.json,
                to_i64("fetched_at", row.fetched_at)?,
                to_i64("imported_at", row.imported_at)?
            ])?;
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<CheckpointRow>, StoreError> {
        let raw = self
            .tx
            .prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLS} FROM checkpoints ORDER BY size DESC, id DESC LIMIT 1"
            ))?
            .query_row([], raw_checkpoint)
            .optional()?;
        raw.map(checkpoint_row).transpose()
    }

    fn insert_checkpoint(&mut self, row: &CheckpointRow) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO checkpoints(size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                to_i64("checkpoint size", row.size)?,
                &row.root[..],
                row.note,
                to_i64("signed_at", row.signed_at)?
            ])?;
        Ok(())
    }

    fn checkpoints(
        &mut self,
        from_size: u64,
        limit: u64,
    ) -> Result<Vec<CheckpointRow>, StoreError> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE size >= ?1 ORDER BY id LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![
                to_i64("checkpoint size", from_size)?,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            raw_checkpoint,
        )?;
        let mut out = Vec::new();
        for raw in rows {
            out.push(checkpoint_row(raw?)?);
        }
        Ok(out)
    }
}

fn raw_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawCheckpoint> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Freshness, grouped_transaction, transaction};
    use pramaan_core::claims::Platform;

    #[test]
    fn group_commit_isolates_refused_jobs_and_sees_earlier_ones() {
        let store = Arc::new(SqliteStore::in_memory().expect("store"));
        store.start_group_commit().expect("writer");
        let threads: Vec<_> = (0u8..16)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    grouped_transaction(store.as_ref(), move |tx| {
                        assert!(tx.use_nonce(&[i; 32], 10)?);
                        if i % 2 == 1 {
                            return Err(StoreError::Corrupt("refused".into()));
                        }
                        Ok(i)
                    })
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            let r = t.join().expect("thread");
            assert_eq!(r.is_ok(), i % 2 == 0, "job {i}");
        }
        for i in 0u8..16 {
            let found = transaction(store.as_ref(), |tx| tx.nonce(&[i; 32])).expect("read");
            assert_eq!(found.is_some(), i % 2 == 0, "nonce {i}");
        }
        // A job sees what an earlier job of the same batch wrote.
        let dup = grouped_transaction(store.as_ref(), |tx| tx.use_nonce(&[0; 32], 10));
        assert_eq!(dup.ok(), Some(false));
    }

    /// The department report's bulk read leaves out retired officers' devices (the
    /// officer row stays, `retired_at` set; migration 6).
    #[test]
    fn department_devices_leave_out_retired_officers() {
        let store = SqliteStore::in_memory().expect("store");
        let officer = |id: &str| Officer {
            officer_id: id.into(),
            name: id.into(),
            designation: String::new(),
            department: "GAD".into(),
            email: String::new(),
            mobile: String::new(),
            entitled: true,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
            retired_at: None,
        };
        let device = |officer_id: &str, n: u8| DeviceRow {
            device_id: Uuid::from_u128(u128::from(n)),
            officer_id: officer_id.into(),
            department: "GAD".into(),
            platform: Platform::Desktop,
            model: "desk".into(),
            public_key: {
                use pramaan_core::keys::Signer as _;
                pramaan_core::keys::SoftwareSigner::generate()
                    .and_then(|k| k.public_key())
                    .map(|k| k.to_cose_key_bytes())
                    .expect("key")
            },
            assurance: Assurance::Software,
            evidence: None,
            evidence_summary: EvidenceSummary::none(1),
            freshness: Freshness::default(),
            assert_counter: None,
            reattest_requested: false,
            revoked: false,
            reason: None,
            last_seq: None,
            enrolled_at: 1,
        };
        transaction(&store, |tx| {
            tx.upsert_officer(&officer("GAD-001"), 1)?;
            tx.upsert_officer(&officer("GAD-002"), 1)?;
            tx.insert_device(&device("GAD-001", 1))?;
            tx.insert_device(&device("GAD-002", 2))
        })
        .expect("seed");
        let ids = |store: &SqliteStore| -> Vec<String> {
            transaction(store, |tx| tx.department_devices("GAD"))
                .expect("read")
                .into_iter()
                .map(|(d, _)| d.officer_id)
                .collect()
        };
        assert_eq!(ids(&store), vec!["GAD-001", "GAD-002"]);
        store
            .conn
            .lock()
            .expect("conn")
            .execute(
                "UPDATE officers SET retired_at = 5 WHERE officer_id = 'GAD-001'",
                [],
            )
            .expect("retire");
        assert_eq!(ids(&store), vec!["GAD-002"]);
    }

    #[test]
    fn rollback_on_error_changes_nothing() {
        let store = SqliteStore::in_memory().expect("store");
        let r: Result<(), StoreError> = transaction(&store, |tx| {
            assert!(tx.use_nonce(&[1; 32], 10)?);
            Err(StoreError::Corrupt("reject".into()))
        });
        assert!(r.is_err());
        let found = transaction(&store, |tx| tx.nonce(&[1; 32])).expect("read");
        assert_eq!(found, None);
        transaction(&store, |tx| tx.use_nonce(&[2; 32], 10)).expect("insert");
        let found = transaction(&store, |tx| tx.nonce(&[2; 32])).expect("read");
        assert_eq!(
            found,
            Some(NonceRow {
                expires: 10,
                used: true
            })
        );
    }

    fn v2(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        // No IF NOT EXISTS: running twice would fail, so this also shows it runs once.
        tx.execute_batch("CREATE TABLE step2 (n INTEGER NOT NULL)")?;
        Ok(())
    }

    fn v3(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        // Needs v2's table: shows the order.
        tx.execute_batch("INSERT INTO step2 (n) VALUES (3)")?;
        Ok(())
    }

    /// The department's parsed rules as a transaction of `store` sees them: (policy
    /// name, the handles of the first roster).
    fn rules_seen(store: &SqliteStore, read: bool) -> (u64, String, Vec<String>) {
        let f = |tx: &mut dyn Tx| -> Result<_, StoreError> {
            let r = tx.department_rules("D")?.expect("a policy");
            Ok((
                r.generation,
                r.policy.name.clone(),
                r.rosters
                    .first()
                    .map(|r| r.handles.iter().cloned().collect())
                    .unwrap_or_default(),
            ))
        };
        if read {
            crate::store::read_transaction(store, f).expect("read")
        } else {
            transaction(store, f).expect("write tx")
        }
    }

    fn policy_named(name: &str) -> Policy {
        let text = format!(
            "department = \"D\"\nname = \"{name}\"\ncheck_in_hours = 24\n\
             email_domains = [\"gujarat.gov.in\"]\n[[platforms]]\nname = \"WhatsApp\"\n\
             [[groups]]\nplatform = \"WhatsApp\"\nid = \"g\"\n"
        );
        Policy::load(&text, &pramaan_core::catalog::Catalog::builtin()).expect("policy")
    }

    /// The cache of parsed rules never answers with a stale copy: a change is seen by the
    /// very next transaction, in reads and writes, also when another server process on
    /// the same database made it (issue 13), and after a restart; a transaction that
    /// changes the rules and then reads them sees its own change without caching it, so
    /// a rollback leaves nothing behind.
    #[test]
    fn cached_rules_follow_every_change_across_servers_and_restarts() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("rules.db");
        let a = SqliteStore::open(&path).expect("open a");
        let b = SqliteStore::open(&path).expect("open b");
        let set = |store: &SqliteStore, name: &str, handles: &[&str]| {
            transaction(store, |tx| {
                tx.set_policy("D", &policy_named(name), "test", 1)?;
                let h: Vec<String> = handles.iter().map(|h| h.to_string()).collect();
                tx.set_roster("D", "WhatsApp", "g", &h)
            })
            .expect("set");
        };
        assert!(
            transaction(&a, |tx| tx.department_rules("D"))
                .expect("read")
                .is_none()
        );
        set(&a, "one", &["+91 1"]);
        let first = rules_seen(&a, false);
        assert_eq!(
            (first.1.as_str(), first.2.clone()),
            ("one", vec!["+91 1".to_string()])
        );
        assert_eq!(rules_seen(&a, true), first, "readers share the cache");
        // The other server changes the roster only, then the policy only.
        transaction(&b, |tx| {
            tx.set_roster("D", "WhatsApp", "g", &["+91 2".into()])
        })
        .expect("roster");
        for read in [false, true] {
            let seen = rules_seen(&a, read);
            assert!(seen.0 > first.0, "{seen:?}");
            assert_eq!(
                (seen.1.as_str(), seen.2),
                ("one", vec!["+91 2".to_string()])
            );
        }
        transaction(&b, |tx| tx.set_policy("D", &policy_named("two"), "test", 2)).expect("policy");
        assert_eq!(rules_seen(&a, false).1, "two");
        assert_eq!(rules_seen(&a, true).1, "two");
        // A transaction that changes the rules sees its change; rolled back, it is gone.
        let e = transaction(&a, |tx| -> Result<(), StoreError> {
            tx.set_policy("D", &policy_named("rolled back"), "test", 3)?;
            let r = tx.department_rules("D")?.expect("policy");
            assert_eq!(r.policy.name, "rolled back");
            Err(StoreError::Conflict("roll back".into()))
        });
        assert!(e.is_err());
        assert_eq!(rules_seen(&a, false).1, "two");
        set(&b, "three", &["+91 3"]);
        assert_eq!(rules_seen(&a, true).1, "three");
        drop((a, b));
        // A restart: the generation is kept, the cache starts empty.
        let again = SqliteStore::open(&path).expect("reopen");
        let seen = rules_seen(&again, false);
        assert!(seen.0 >= 5, "{seen:?}");
        assert_eq!(
            (seen.1.as_str(), seen.2),
            ("three", vec!["+91 3".to_string()])
        );
    }

    /// A long read (an auditor's) holds one read-only connection; other reads (device-key
    /// and token lookups) go on through the others instead of queueing behind it.
    #[test]
    fn a_long_read_does_not_block_other_reads() {
        use crate::store::read_transaction;
        use std::sync::mpsc::channel;
        use std::time::Duration;

        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("r.db")).expect("open"));
        let (held, held_rx) = channel::<()>();
        let (release, release_rx) = channel::<()>();
        let long = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                read_transaction(store.as_ref(), |tx| {
                    let n = tx.counts()?;
                    let _ = held.send(());
                    let _ = release_rx.recv_timeout(Duration::from_secs(30));
                    Ok::<_, StoreError>(n)
                })
            })
        };
        held_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the long read started");
        let (done, done_rx) = channel();
        for _ in 0..READERS * 2 {
            let store = Arc::clone(&store);
            let done = done.clone();
            std::thread::spawn(move || {
                let r = read_transaction(store.as_ref(), |tx| tx.counts());
                let _ = done.send(r.is_ok());
            });
        }
        for _ in 0..READERS * 2 {
            assert_eq!(
                done_rx.recv_timeout(Duration::from_secs(10)),
                Ok(true),
                "a short read waited for the long one"
            );
        }
        release.send(()).expect("release");
        assert!(long.join().expect("join").is_ok());
    }

    #[cfg(unix)]
    fn mode_of(path: &std::path::Path) -> Option<u32> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }

    #[cfg(unix)]
    #[test]
    fn database_wal_and_shm_are_owner_only_and_an_old_readable_database_is_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        // A new database, written to while open: the WAL and its index exist now.
        let path = dir.path().join("pramaan.db");
        let store = SqliteStore::open(&path).expect("open");
        for name in ["pramaan.db", "pramaan.db-wal", "pramaan.db-shm"] {
            assert_eq!(mode_of(&dir.path().join(name)), Some(0o600), "{name}");
        }
        drop(store);
        // A database left world-readable by an older version is narrowed at open.
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .expect("conn")
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .expect("create");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(mode_of(&old), Some(0o644));
        let store = SqliteStore::open(&old).expect("open old");
        assert_eq!(mode_of(&old), Some(0o600));
        assert_eq!(mode_of(&dir.path().join("old.db-wal")), Some(0o600));
        drop(store);
    }

    #[test]
    fn a_fresh_database_gets_the_latest_schema_version() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("fresh.db");
        let store = SqliteStore::open(&path).expect("open");
        drop(store);
        let conn = Connection::open(&path).expect("conn");
        assert_eq!(schema_version(&conn).expect("version"), SCHEMA_VERSION);
        let stored: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .expect("row");
        assert_eq!(stored, SCHEMA_VERSION.to_string());
        // Reopening an up-to-date database changes nothing.
        drop(conn);
        SqliteStore::open(&path).expect("reopen");
    }

    #[test]
    fn migrations_apply_in_order_once_and_write_the_version() {
        let mut conn = Connection::open_in_memory().expect("db");
        assert_eq!(schema_version(&conn).expect("version"), 0);
        assert_eq!(migrate(&mut conn, &[migrate_v1]).expect("v1"), 1);
        assert_eq!(schema_version(&conn).expect("version"), 1);
        let steps: &[Migration] = &[migrate_v1, v2, v3];
        assert_eq!(migrate(&mut conn, steps).expect("to v3"), 3);
        assert_eq!(schema_version(&conn).expect("version"), 3);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM step2", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
        // Again: nothing left to apply (v2 would fail if it ran twice).
        assert_eq!(migrate(&mut conn, steps).expect("again"), 3);
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        fn broken(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
            tx.execute_batch("CREATE TABLE half (n INTEGER)")?;
            Err(StoreError::Corrupt("step fails".into()))
        }
        let mut conn = Connection::open_in_memory().expect("db");
        assert!(migrate(&mut conn, &[migrate_v1, broken]).is_err());
        assert_eq!(schema_version(&conn).expect("version"), 1);
        let half: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'half')",
                [],
                |r| r.get(0),
            )
            .expect("query");
        assert!(!half, "the failed step was rolled back");
    }

    #[test]
    fn a_database_newer_than_this_binary_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("newer.db");
        drop(SqliteStore::open(&path).expect("open"));
        let newer = SCHEMA_VERSION + 1;
        let conn = Connection::open(&path).expect("conn");
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            params![newer.to_string()],
        )
        .expect("bump");
        drop(conn);
        let err = SqliteStore::open(&path).expect_err("refused");
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, supported }
                if found == newer && supported == SCHEMA_VERSION),
            "{err}"
        );
        assert!(err.to_string().contains("newer"), "{err}");
        let conn = Connection::open(&path).expect("conn");
        assert_eq!(schema_version(&conn).expect("version"), newer);
    }

    /// A schema version that is not a number (a damaged or tampered file) is refused as
    /// corrupt, and nothing is migrated over it.
    #[test]
    fn a_garbled_schema_version_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("garbled.db");
        drop(SqliteStore::open(&path).expect("open"));
        for bad in ["", "1; DROP TABLE devices", "-1", "99999999999999999999999"] {
            let conn = Connection::open(&path).expect("conn");
            conn.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                params![bad],
            )
            .expect("garble");
            drop(conn);
            let err = SqliteStore::open(&path).expect_err("refused");
            assert!(matches!(err, StoreError::Corrupt(_)), "{bad:?}: {err}");
            let conn = Connection::open(&path).expect("conn");
            let kept: String = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .expect("row");
            assert_eq!(kept, bad);
        }
    }

    #[test]
    fn a_database_from_before_versioned_migrations_opens() {
        // Older servers wrote the same tables and schema_version '1' with INSERT OR IGNORE.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("legacy.db");
        let conn = Connection::open(&path).expect("conn");
        conn.execute_batch(SCHEMA_V1).expect("schema");
        crate::audit_log::init_schema(&conn).expect("log schema");
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1')",
            [],
        )
        .expect("version");
        conn.execute(
            "INSERT INTO nonces(hash, expires, used) VALUES (?1, 10, 0)",
            params![&[9u8; 32][..]],
        )
        .expect("row");
        drop(conn);
        let store = SqliteStore::open(&path).expect("open");
        let found = transaction(&store, |tx| tx.nonce(&[9; 32])).expect("read");
        assert_eq!(
            found,
            Some(NonceRow {
                expires: 10,
                used: false
            })
        );
    }

    #[test]
    fn integers_beyond_i64_are_refused_and_negative_ones_are_corrupt() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ints.db");
        let store = SqliteStore::open(&path).expect("store");
        let r = transaction(&store, |tx| tx.use_nonce(&[1; 32], u64::MAX));
        assert!(
            matches!(r, Err(StoreError::ValueOutOfRange { value, .. }) if value == u64::MAX),
            "{r:?}"
        );
        let found = transaction(&store, |tx| tx.nonce(&[1; 32])).expect("read");
        assert_eq!(found, None, "nothing was written");
        // A negative stored value is not read as 0.
        let conn = Connection::open(&path).expect("conn");
        conn.execute(
            "INSERT INTO nonces(hash, expires, used) VALUES (?1, -5, 0)",
            params![&[2u8; 32][..]],
        )
        .expect("row");
        drop(conn);
        let r = transaction(&store, |tx| tx.nonce(&[2; 32]));
        assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    }
}

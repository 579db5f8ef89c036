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

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use pramaan_core::claims::Assurance;
use pramaan_core::policy::Officer;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{
    AttestationRow, Counts, DeviceRow, EnrollTokenRow, Finisher, Job, LogEntry, NonceRow, Role,
    Store, StoreError, TokenRow, Tx,
};

/// Most jobs one group commit takes.
const MAX_BATCH: usize = 256;

const SCHEMA: &str = r#"
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
    /// A read-only connection for lookups that must not wait for a commit's fsync (WAL
    /// readers see the last committed state). None for in-memory stores.
    reader: Option<Mutex<Connection>>,
    /// Queue of the group-commit writer, once [`SqliteStore::start_group_commit`] ran.
    writer: OnceLock<SyncSender<Job>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its schema, audit log included.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        let mut store = Self::setup(conn)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.execute_batch("PRAGMA busy_timeout=5000;")?;
        store.reader = Some(Mutex::new(reader));
        Ok(store)
    }

    /// An in-memory store (tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Self, StoreError> {
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )?;
        conn.execute_batch(SCHEMA)?;
        crate::audit_log::init_schema(&conn).map_err(|e| StoreError::Log(e.to_string()))?;
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1')",
            [],
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            reader: None,
            writer: OnceLock::new(),
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
            let mut wrapped = SqliteTx { tx };
            for job in batch {
                wrapped.tx.execute_batch("SAVEPOINT job")?;
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut wrapped)));
                match outcome {
                    Ok((true, fin)) => {
                        wrapped.tx.execute_batch("RELEASE job")?;
                        finishers.push(fin);
                    }
                    Ok((false, fin)) => {
                        wrapped.tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
                        finishers.push(fin);
                    }
                    Err(_) => {
                        // The job's answer channel is dropped: its caller gets an error.
                        log::error!("a storage job panicked; its writes are rolled back");
                        wrapped.tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
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

    /// Runs `f` on the connection (reads of the audit log; tests).
    pub fn with_conn<R>(&self, f: impl FnOnce(&Connection) -> R) -> Result<R, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&conn))
    }
}

impl Store for SqliteStore {
    fn with_tx(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut wrapped = SqliteTx { tx };
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
        let Some(reader) = &self.reader else {
            return self.with_tx(f);
        };
        let mut conn = reader.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut wrapped = SqliteTx { tx };
        f(&mut wrapped)?;
        // Read-only: nothing to commit; dropping ends the snapshot.
        Ok(())
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let Some(writer) = self.writer.get() else {
            return run_alone(self, job);
        };
        match writer.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => writer
                .send(job)
                .map_err(|_| StoreError::CommitFailed("the writer has stopped".into())),
            Err(TrySendError::Disconnected(_)) => {
                Err(StoreError::CommitFailed("the writer has stopped".into()))
            }
        }
    }

    fn as_sqlite(&self) -> Option<&SqliteStore> {
        Some(self)
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
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn parse_assurance(s: &str) -> Result<Assurance, StoreError> {
    match s {
        "hardware" => Ok(Assurance::Hardware),
        "software" => Ok(Assurance::Software),
        other => Err(StoreError::Corrupt(format!("assurance {other:?}"))),
    }
}

fn assurance_str(a: Assurance) -> &'static str {
    match a {
        Assurance::Hardware => "hardware",
        Assurance::Software => "software",
    }
}

fn hash_arr(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("hash is not 32 bytes".into()))
}

const DEVICE_COLS: &str = "device_id, officer_id, department, platform, model, attested_model, \
     public_key, assurance, evidence, revoked, reason, last_seq, enrolled_at";

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
    })
}

struct RawDevice {
    device_id: Vec<u8>,
    officer_id: String,
    department: String,
    platform: String,
    model: String,
    attested_model: Option<String>,
    public_key: Vec<u8>,
    assurance: String,
    evidence: Option<Vec<u8>>,
    revoked: bool,
    reason: Option<String>,
    last_seq: Option<i64>,
    enrolled_at: i64,
}

impl RawDevice {
    fn into_row(self) -> Result<DeviceRow, StoreError> {
        Ok(DeviceRow {
            device_id: Uuid::from_slice(&self.device_id)
                .map_err(|_| StoreError::Corrupt("device_id".into()))?,
            officer_id: self.officer_id,
            department: self.department,
            platform: self.platform,
            model: self.model,
            attested_model: self.attested_model,
            public_key: self.public_key,
            assurance: parse_assurance(&self.assurance)?,
            evidence: self.evidence,
            revoked: self.revoked,
            reason: self.reason,
            last_seq: self.last_seq.map(to_u64),
            enrolled_at: to_u64(self.enrolled_at),
        })
    }
}

fn officer_from_json(json: &str) -> Result<Officer, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("officer row: {e}")))
}

impl Tx for SqliteTx<'_> {
    fn token(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        let row: Option<(Vec<u8>, String, Option<String>)> = self
            .tx
            .query_row(
                "SELECT hash, role, department FROM tokens WHERE hash = ?1",
                params![&hash[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(h, role, department)| {
            Ok(TokenRow {
                hash: hash_arr(h)?,
                role: role.parse::<Role>().map_err(StoreError::Corrupt)?,
                department,
            })
        })
        .transpose()
    }

    fn insert_token(&mut self, row: &TokenRow, now: u64) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO tokens(hash, role, department, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                &row.hash[..],
                row.role.as_str(),
                row.department,
                to_i64(now)
            ],
        )?;
        Ok(())
    }

    fn insert_nonce(&mut self, hash: &[u8; 32], expires: u64) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO nonces(hash, expires, used) VALUES (?1, ?2, 0)",
            params![&hash[..], to_i64(expires)],
        )?;
        Ok(())
    }

    fn nonce(&mut self, hash: &[u8; 32]) -> Result<Option<NonceRow>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT expires, used FROM nonces WHERE hash = ?1",
                params![&hash[..]],
                |r| {
                    Ok(NonceRow {
                        expires: to_u64(r.get(0)?),
                        used: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn consume_nonce(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE nonces SET used = 1 WHERE hash = ?1",
            params![&hash[..]],
        )?;
        Ok(())
    }

    fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM nonces WHERE expires < ?1",
            params![to_i64(before)],
        )?;
        Ok(())
    }

    fn insert_enroll_token(
        &mut self,
        hash: &[u8; 32],
        officer_id: &str,
        expires: u64,
        created_by: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO enrollment_tokens(hash, officer_id, expires, used, created_by, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4, ?5)",
            params![&hash[..], officer_id, to_i64(expires), created_by, to_i64(now)],
        )?;
        Ok(())
    }

    fn enroll_token(&mut self, hash: &[u8; 32]) -> Result<Option<EnrollTokenRow>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT officer_id, expires, used FROM enrollment_tokens WHERE hash = ?1",
                params![&hash[..]],
                |r| {
                    Ok(EnrollTokenRow {
                        officer_id: r.get(0)?,
                        expires: to_u64(r.get(1)?),
                        used: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn use_enroll_token(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE enrollment_tokens SET used = 1 WHERE hash = ?1",
            params![&hash[..]],
        )?;
        Ok(())
    }

    fn officer(&mut self, officer_id: &str) -> Result<Option<Officer>, StoreError> {
        let json: Option<String> = self
            .tx
            .query_row(
                "SELECT row_json FROM officers WHERE officer_id = ?1",
                params![officer_id],
                |r| r.get(0),
            )
            .optional()?;
        json.as_deref().map(officer_from_json).transpose()
    }

    fn officers_of(&mut self, department: &str) -> Result<Vec<Officer>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT row_json FROM officers WHERE department = ?1 ORDER BY officer_id")?;
        let rows = stmt
            .query_map(params![department], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|j| officer_from_json(j)).collect()
    }

    fn upsert_officer(&mut self, officer: &Officer, now: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(officer)
            .map_err(|e| StoreError::Corrupt(format!("officer: {e}")))?;
        self.tx.execute(
            "INSERT INTO officers(officer_id, department, row_json, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(officer_id) DO UPDATE SET department = excluded.department, \
             row_json = excluded.row_json, updated_at = excluded.updated_at",
            params![officer.officer_id, officer.department, json, to_i64(now)],
        )?;
        Ok(())
    }

    fn policy(&mut self, department: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT policy_json FROM policies WHERE department = ?1",
                params![department],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_policy(
        &mut self,
        department: &str,
        json: &str,
        by: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO policies(department, policy_json, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(department) DO UPDATE SET policy_json = excluded.policy_json, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            params![department, json, by, to_i64(now)],
        )?;
        Ok(())
    }

    fn roster_rows(
        &mut self,
        department: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self.tx.prepare(
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
        self.tx.execute(
            "DELETE FROM rosters WHERE department = ?1 AND platform = ?2 AND grp = ?3",
            params![department, platform, group],
        )?;
        let mut stmt = self.tx.prepare(
            "INSERT OR IGNORE INTO rosters(department, platform, grp, handle) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for h in handles {
            stmt.execute(params![department, platform, group, h])?;
        }
        Ok(())
    }

    fn device(&mut self, device_id: &Uuid) -> Result<Option<DeviceRow>, StoreError> {
        let raw = self
            .tx
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE device_id = ?1"),
                params![&device_id.as_bytes()[..]],
                device_from_row,
            )
            .optional()?;
        raw.map(RawDevice::into_row).transpose()
    }

    fn devices_of_officer(&mut self, officer_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
        let mut stmt = self.tx.prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE officer_id = ?1 ORDER BY enrolled_at"
        ))?;
        let raws = stmt
            .query_map(params![officer_id], device_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(RawDevice::into_row).collect()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<(), StoreError> {
        self.tx.execute(
            &format!(
                "INSERT INTO devices({DEVICE_COLS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            params![
                &d.device_id.as_bytes()[..],
                d.officer_id,
                d.department,
                d.platform,
                d.model,
                d.attested_model,
                d.public_key,
                assurance_str(d.assurance),
                d.evidence,
                d.revoked,
                d.reason,
                d.last_seq.map(to_i64),
                to_i64(d.enrolled_at),
            ],
        )?;
        Ok(())
    }

    fn revoke_device(&mut self, device_id: &Uuid, reason: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE devices SET revoked = 1, reason = ?2 WHERE device_id = ?1",
            params![&device_id.as_bytes()[..], reason],
        )?;
        Ok(())
    }

    fn insert_attestation(&mut self, a: &AttestationRow) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO attestations(device_id, seq, iat, received_at, fresh_nonce, claims, verdict, \
             failures, log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &a.device_id.as_bytes()[..],
                to_i64(a.seq),
                to_i64(a.iat),
                to_i64(a.received_at),
                a.fresh_nonce,
                a.claims,
                a.verdict,
                a.failures_json,
                to_i64(a.log_index),
            ],
        )?;
        self.tx.execute(
            "UPDATE devices SET last_seq = ?2 WHERE device_id = ?1",
            params![&a.device_id.as_bytes()[..], to_i64(a.seq)],
        )?;
        Ok(())
    }

    fn latest_attestation(
        &mut self,
        device_id: &Uuid,
    ) -> Result<Option<AttestationRow>, StoreError> {
        Ok(self
            .tx
            .query_row(
                "SELECT seq, iat, received_at, fresh_nonce, claims, verdict, failures, log_index \
                 FROM attestations WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
                params![&device_id.as_bytes()[..]],
                |r| {
                    Ok(AttestationRow {
                        device_id: *device_id,
                        seq: to_u64(r.get(0)?),
                        iat: to_u64(r.get(1)?),
                        received_at: to_u64(r.get(2)?),
                        fresh_nonce: r.get(3)?,
                        claims: r.get(4)?,
                        verdict: r.get(5)?,
                        failures_json: r.get(6)?,
                        log_index: to_u64(r.get(7)?),
                    })
                },
            )
            .optional()?)
    }

    fn append_log(&mut self, entry: &LogEntry) -> Result<u64, StoreError> {
        crate::audit_log::append(&self.tx, entry).map_err(|e| StoreError::Log(e.to_string()))
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let count = |tx: &rusqlite::Transaction<'_>, sql: &str| -> Result<u64, StoreError> {
            Ok(to_u64(tx.query_row(sql, [], |r| r.get(0))?))
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
            log_entries: crate::audit_log::size(&self.tx)
                .map_err(|e| StoreError::Log(e.to_string()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{grouped_transaction, transaction};

    #[test]
    fn group_commit_isolates_refused_jobs_and_sees_earlier_ones() {
        let store = Arc::new(SqliteStore::in_memory().expect("store"));
        store.start_group_commit().expect("writer");
        let threads: Vec<_> = (0u8..16)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    grouped_transaction(store.as_ref(), move |tx| {
                        tx.insert_nonce(&[i; 32], 10)?;
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
        let dup = grouped_transaction(store.as_ref(), |tx| tx.insert_nonce(&[0; 32], 10));
        assert!(dup.is_err());
    }

    #[test]
    fn rollback_on_error_changes_nothing() {
        let store = SqliteStore::in_memory().expect("store");
        let r: Result<(), StoreError> = transaction(&store, |tx| {
            tx.insert_nonce(&[1; 32], 10)?;
            Err(StoreError::Corrupt("reject".into()))
        });
        assert!(r.is_err());
        let found = transaction(&store, |tx| tx.nonce(&[1; 32])).expect("read");
        assert_eq!(found, None);
        transaction(&store, |tx| tx.insert_nonce(&[2; 32], 10)).expect("insert");
        let found = transaction(&store, |tx| tx.nonce(&[2; 32])).expect("read");
        assert_eq!(
            found,
            Some(NonceRow {
                expires: 10,
                used: false
            })
        );
    }
}

//! The PostgreSQL backend (issue 13): several `pramaan serve` instances on one database.
//!
//! Why the blocking `postgres` driver: the store's transactions already run on blocking
//! threads (`api::blocking`, the group-commit writer thread), as SQLite's do, so the
//! [`Tx`] trait stays synchronous and both backends share the handlers unchanged.
//!
//! # One writer at a time, across instances
//!
//! Every write transaction ([`Store::with_tx`], and each group-commit batch) takes the
//! transaction-scoped advisory lock [`WRITE_LOCK`] as its first statement, so writers of
//! every instance are serialized by the database. That gives what SQLite's single writer
//! gives, at READ COMMITTED: a writer sees every transaction committed before it got the
//! lock; the audit log has exactly one sequence of leaves whichever instance appends
//! (design section 7), and a checkpoint is signed in a transaction the log cannot grow
//! under; the conditional writes ([`Tx::use_nonce`] and friends) stay single-use, and the
//! uniqueness constraints still catch a writer that took no lock (a `Conflict`).
//! Throughput does not fall to one commit per request: each instance's writer thread
//! ([`PostgresStore::start_group_commit`]) runs many jobs under one lock and one COMMIT,
//! each in its own SAVEPOINT, as SQLite's writer does.
//!
//! Reads ([`Store::with_read`]) run `REPEATABLE READ READ ONLY` on a pooled connection and
//! never take the lock: one snapshot, never waiting for a writer, and writes fail.
//!
//! # Connections
//!
//! Two small pools ([`super::pool::Pool`]) open connections on demand: one for reads, one
//! for [`Store::with_tx`] (and migrations), so that readers never queue behind writers
//! waiting for the lock; the writer thread has its own. A connection the server closed (a
//! restart, a failover, `pg_terminate_backend`) is discarded and replaced: the requests
//! in flight on it fail, the next ones work. A transaction whose BEGIN fails on a
//! connection found closed is retried once on a new connection (nothing ran yet).
//! Each connection keeps its prepared statements ([`tx::PgConn`]).
//!
//! # Migrations
//!
//! [`MIGRATIONS`] are this backend's own (v1 is the whole schema SQLite reached at its
//! version 6); `meta.schema_version` records them as in SQLite. Each step runs in its own
//! transaction under [`WRITE_LOCK`], re-reading the version, so two instances starting
//! together migrate once; a database of a newer schema is refused untouched.
//!
//! Secrets: a database URL may carry a password; it is shown only through [`redact_url`],
//! and scrubbed from every error this module makes at connect time.

mod tls;
mod tx;

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::Pool;
use super::{Finisher, Job, RulesCache, Store, StoreError, Tx};
use tx::{PgConn, PgTx};

/// The advisory lock every write transaction takes first (`pg_advisory_xact_lock`): the
/// bytes of `"pramaan\0"` as a big-endian i64. Fixed forever: instances of different
/// versions on one database must take the same lock. Other applications sharing the
/// database must not use this key.
pub const WRITE_LOCK: i64 = i64::from_be_bytes(*b"pramaan\0");

/// Connections of the read pool (per instance).
const READERS: usize = 4;

/// Connections of the [`Store::with_tx`] pool (per instance); the writer thread has its
/// own besides. Writers are serialized by [`WRITE_LOCK`] anyway: more would only wait.
const WRITERS: usize = 2;

/// Most jobs one group commit takes.
const MAX_BATCH: usize = 256;

/// How long a connection attempt may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every migration, in order: entry `i` brings a database from version `i` to `i + 1`.
/// Append only; never edit a released one.
pub const MIGRATIONS: &[&str] = &[SCHEMA_V1];

/// The newest schema version of the PostgreSQL backend's migrations.
pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

/// Version 1: the schema SQLite reached at its version 6 (`sqlite::MIGRATIONS`), in one
/// step: the same tables, columns and meaning. Integers are BIGINT (SQLite's are signed
/// 64-bit too), flags BOOLEAN, hashes and blobs BYTEA (compared bytewise, as SQLite's
/// BLOBs); keys and sorted text are `COLLATE "C"` so that they sort bytewise as in SQLite,
/// whatever the database's locale. Two identity columns stand for SQLite's rowid order:
/// `enrollment_tokens.issued` and `checkpoints.id`. The partial index of enrollment leaves
/// has the predicate of `audit_log::ENROLLMENT_INDEX`.
const SCHEMA_V1: &str = r#"
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE officers (
    officer_id TEXT COLLATE "C" PRIMARY KEY,
    department TEXT COLLATE "C" NOT NULL,
    row_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX officers_department ON officers(department);
CREATE TABLE policies (
    department TEXT COLLATE "C" PRIMARY KEY,
    policy_json TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE rosters (
    department TEXT COLLATE "C" NOT NULL,
    platform TEXT COLLATE "C" NOT NULL,
    grp TEXT COLLATE "C" NOT NULL,
    handle TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (department, platform, grp, handle)
);
CREATE TABLE department_generations (
    department TEXT COLLATE "C" PRIMARY KEY,
    generation BIGINT NOT NULL
);
CREATE TABLE tokens (
    hash BYTEA PRIMARY KEY,
    role TEXT NOT NULL,
    department TEXT,
    created_at BIGINT NOT NULL,
    name TEXT,
    created_by TEXT,
    expires_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE TABLE enrollment_tokens (
    hash BYTEA PRIMARY KEY,
    officer_id TEXT COLLATE "C" NOT NULL,
    expires BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    allow_additional BOOLEAN NOT NULL DEFAULT FALSE,
    cancelled_at BIGINT,
    cancelled_by TEXT,
    issued BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX enrollment_tokens_officer ON enrollment_tokens(officer_id);
CREATE TABLE nonces (
    hash BYTEA PRIMARY KEY,
    expires BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX nonces_expires ON nonces(expires);
CREATE TABLE devices (
    device_id BYTEA PRIMARY KEY,
    officer_id TEXT COLLATE "C" NOT NULL,
    department TEXT COLLATE "C" NOT NULL,
    platform TEXT NOT NULL,
    model TEXT NOT NULL,
    attested_model TEXT,
    public_key BYTEA NOT NULL,
    assurance TEXT NOT NULL,
    evidence BYTEA,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    reason TEXT,
    last_seq BIGINT,
    enrolled_at BIGINT NOT NULL,
    key_hash BYTEA,
    evidence_summary TEXT,
    last_fresh_at BIGINT,
    anchor_hash BYTEA,
    anchor_at BIGINT,
    offline_run BIGINT NOT NULL DEFAULT 0,
    assert_counter BIGINT,
    reattest_requested BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX devices_key_hash ON devices(key_hash);
CREATE INDEX devices_officer ON devices(officer_id);
CREATE INDEX devices_department ON devices(department);
CREATE TABLE attestations (
    device_id BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    iat BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    fresh_nonce BOOLEAN NOT NULL,
    claims BYTEA NOT NULL,
    verdict TEXT NOT NULL,
    failures TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE status_list (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    imported_at BIGINT NOT NULL
);
CREATE TABLE checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    signed_at BIGINT NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints(size, id);
CREATE TABLE audit_log_leaves (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL
);
CREATE TABLE audit_log_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE INDEX audit_log_enrollments ON audit_log_leaves(idx)
    WHERE substr(data, 2, 16) = '\x646b696e646a656e726f6c6c6d656e74'::bytea;
"#;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // SQLSTATE class 23: integrity constraint violation (unique, check, not null...).
        match e.code() {
            Some(code) if code.code().starts_with("23") => StoreError::Conflict(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// How a connection is made: the parsed URL and the TLS connector (if any).
struct Connector {
    config: postgres::Config,
    tls: Option<MakeRustlsConnect>,
    /// The URL's password, scrubbed from any error text before it is shown.
    password: Option<String>,
}

impl Connector {
    fn connect(&self) -> Result<PgConn, StoreError> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        };
        let client = client.map_err(|e| {
            StoreError::Backend(self.scrub(&format!(
                "cannot connect to the database: {}",
                with_causes(&e)
            )))
        })?;
        Ok(PgConn::new(client))
    }

    /// `text` with the password (if any) replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text.to_string(),
        }
    }
}

/// `e` and its causes (the driver's message alone says "error performing TLS handshake",
/// its cause says which certificate problem).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A PostgreSQL database shared by every server instance.
pub struct PostgresStore {
    /// The URL without its password, for Debug and logs.
    shown_url: String,
    connector: Arc<Connector>,
    /// Connections for [`Store::with_read`].
    readers: Pool<PgConn>,
    /// Connections for [`Store::with_tx`] and migrations.
    writers: Pool<PgConn>,
    /// Queue of the group-commit writer, once [`PostgresStore::start_group_commit`] ran.
    writer: OnceLock<SyncSender<Job>>,
    /// Parsed policies and rosters ([`RulesCache`]: keyed by generation, so changes made
    /// by other instances are followed).
    rules: RulesCache,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (TLS verified against the PEM CA `ca` when given), applies the
    /// missing migrations (each in its own transaction under [`WRITE_LOCK`], so two
    /// instances starting together migrate once), and refuses a database of a newer
    /// schema ([`StoreError::SchemaTooNew`]).
    ///
    /// With `ca`: TLS is required and the server's certificate must chain to that CA and
    /// name the host connected to. Without: no TLS.
    pub fn open(url: &str, ca: Option<&Path>) -> Result<Self, StoreError> {
        let shown_url = redact_url(url);
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Backend(format!(
                "the database URL {shown_url} does not parse: {}",
                scrub_password(url, &e.to_string())
            ))
        })?;
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let tls = match ca {
            Some(ca) => {
                config.ssl_mode(postgres::config::SslMode::Require);
                Some(tls::connector(ca)?)
            }
            None => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                None
            }
        };
        let connector = Arc::new(Connector {
            config,
            tls,
            password,
        });
        let on_demand = |n: usize| {
            let c = connector.clone();
            Pool::on_demand(n, Box::new(move || c.connect()))
        };
        let store = Self {
            shown_url,
            readers: on_demand(READERS),
            writers: on_demand(WRITERS),
            connector: connector.clone(),
            writer: OnceLock::new(),
            rules: RulesCache::default(),
        };
        {
            let mut conn = store.writers.take(PgConn::usable)?;
            let migrated = migrate(&mut conn, MIGRATIONS);
            if migrated.is_err() || conn.in_tx {
                conn.discard();
            }
            migrated?;
        }
        log::info!(
            "PostgreSQL store at {} (schema version {SCHEMA_VERSION})",
            crate::log_text::untrusted(&store.shown_url)
        );
        Ok(store)
    }

    /// Starts the group-commit writer (as [`super::SqliteStore::start_group_commit`]):
    /// jobs given to [`Store::submit`] are collected while a commit is in progress and
    /// committed together under one [`WRITE_LOCK`], one COMMIT for many answers. The
    /// thread has its own connection and ends when the store is dropped.
    pub fn start_group_commit(self: &Arc<Self>) -> Result<(), StoreError> {
        let (send, recv) = std::sync::mpsc::sync_channel::<Job>(4 * MAX_BATCH);
        if self.writer.set(send).is_err() {
            return Ok(()); // already running
        }
        let weak = Arc::downgrade(self);
        let connector = self.connector.clone();
        std::thread::Builder::new()
            .name("pramaan-pg-writer".into())
            .spawn(move || writer_loop(&weak, &connector, &recv))
            .map_err(|e| StoreError::CommitFailed(format!("cannot start the writer: {e}")))?;
        Ok(())
    }

    /// A connection of `pool` with a transaction begun by `begin` (see [`PgConn::begin`]).
    /// A connection found closed when beginning is replaced once (nothing ran on it).
    fn begun<'p>(
        &self,
        pool: &'p Pool<PgConn>,
        begin: &str,
    ) -> Result<super::pool::Lent<'p, PgConn>, StoreError> {
        let mut retried = false;
        loop {
            let mut conn = pool.take(PgConn::usable)?;
            match conn.begin(begin) {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    let closed = conn.client.is_closed();
                    conn.discard();
                    if !closed || retried {
                        return Err(e);
                    }
                    log::warn!("a database connection was closed; opening a new one");
                    retried = true;
                }
            }
        }
    }

    /// Runs a batch of jobs in one transaction on `conn` (begun by the caller, lock
    /// held): each in a SAVEPOINT, one COMMIT. Returns each finisher with whether its
    /// job's writes were kept, and whether the commit succeeded.
    fn run_batch(&self, conn: &mut PgConn, batch: Vec<Job>) -> (Vec<(Finisher, bool)>, bool) {
        let mut finishers = Vec::with_capacity(batch.len());
        let result = (|| -> Result<(), StoreError> {
            let mut tx = PgTx::new(conn, &self.rules);
            for job in batch {
                tx.simple("SAVEPOINT job")?;
                tx.failed = false;
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut tx)));
                let (keep, fin) = match outcome {
                    Ok((keep, fin)) => (keep, Some(fin)),
                    Err(_) => {
                        // The job's answer channel is dropped: its caller gets an error.
                        log::error!("a storage job panicked; its writes are rolled back");
                        (false, None)
                    }
                };
                // A statement that failed aborted the transaction: the job's writes
                // cannot be kept even if it says so (PostgreSQL, unlike SQLite).
                let kept = keep && !tx.failed;
                if kept {
                    tx.simple("RELEASE job")?;
                } else {
                    tx.simple("ROLLBACK TO job")?;
                    tx.simple("RELEASE job")?;
                }
                if let Some(fin) = fin {
                    finishers.push((fin, kept || !keep));
                }
            }
            conn.commit()
        })();
        if let Err(e) = &result {
            log::error!("group commit failed: {e}");
            conn.abandon();
        }
        (finishers, result.is_ok())
    }
}

/// Statements that begin a write transaction: BEGIN and the lock, in one round trip.
fn begin_write() -> String {
    format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
}

/// A read transaction: one snapshot, read only.
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

impl Store for PostgresStore {
    fn with_tx(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.begun(&self.writers, &begin_write())?;
        let (result, failed) = {
            let mut tx = PgTx::new(&mut conn, &self.rules);
            let r = f(&mut tx);
            (r, tx.failed)
        };
        let end = match result {
            Ok(true) if failed => {
                conn.rollback();
                Err(StoreError::Backend(
                    "a statement of the transaction failed, so nothing was recorded".into(),
                ))
            }
            Ok(true) => conn.commit(),
            Ok(false) => {
                conn.rollback();
                Ok(())
            }
            Err(e) => {
                conn.rollback();
                Err(e)
            }
        };
        if conn.in_tx || conn.client.is_closed() {
            conn.discard();
        }
        end
    }

    fn with_read(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.begun(&self.readers, BEGIN_READ)?;
        let result = {
            let mut tx = PgTx::new(&mut conn, &self.rules);
            f(&mut tx)
        };
        // Read-only: nothing to commit; ending the transaction ends the snapshot.
        conn.rollback();
        if conn.in_tx || conn.client.is_closed() {
            conn.discard();
        }
        result.map(|_| ())
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let Some(writer) = self.writer.get() else {
            return self.run_alone(job);
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
}

impl PostgresStore {
    /// [`Store::submit`] without a writer thread: the job alone, on a pooled connection.
    fn run_alone(&self, job: Job) -> Result<(), StoreError> {
        let mut conn = self.begun(&self.writers, &begin_write())?;
        let (finishers, committed) = self.run_batch(&mut conn, vec![job]);
        if conn.in_tx || conn.client.is_closed() {
            conn.discard();
        }
        for (f, kept) in finishers {
            f(committed && kept);
        }
        if committed {
            Ok(())
        } else {
            Err(StoreError::CommitFailed(
                "the transaction did not commit".into(),
            ))
        }
    }
}

/// The writer thread: takes every job queued while the previous batch committed, runs
/// them as one batch on its own connection (opened again when closed).
fn writer_loop(store: &Weak<PostgresStore>, connector: &Connector, recv: &Receiver<Job>) {
    let mut conn: Option<PgConn> = None;
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
        let begun = (|| -> Result<PgConn, StoreError> {
            let mut retried = false;
            loop {
                let mut c = match conn.take().filter(PgConn::usable) {
                    Some(c) => c,
                    None => connector.connect()?,
                };
                match c.begin(&begin_write()) {
                    Ok(()) => return Ok(c),
                    Err(e) if c.client.is_closed() && !retried => {
                        log::warn!("the writer's database connection was closed ({e}); reopening");
                        retried = true;
                    }
                    Err(e) => return Err(e),
                }
            }
        })();
        match begun {
            Ok(mut c) => {
                let (finishers, committed) = store.run_batch(&mut c, batch);
                if !c.in_tx && !c.client.is_closed() {
                    conn = Some(c);
                }
                for (f, kept) in finishers {
                    f(committed && kept);
                }
            }
            Err(e) => {
                // The jobs never ran: dropping them drops their answer channels, so each
                // caller gets "the writer dropped the request" (nothing was recorded).
                log::error!("the group commit could not begin: {e}");
                drop(batch);
            }
        }
    }
}

/// The database's schema version (0 for a fresh one). A value that is not a number is
/// [`StoreError::Corrupt`].
fn schema_version(client: &mut postgres::Client) -> Result<u64, StoreError> {
    let has_meta: bool = client
        .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])?
        .try_get(0)?;
    if !has_meta {
        return Ok(0);
    }
    let v: Option<String> = client
        .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
        .map(|r| r.try_get(0))
        .transpose()?;
    match v {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("schema_version {v:?}"))),
    }
}

/// Brings the database to the last of `migrations`, or refuses one that is newer (before
/// touching anything). Returns the version it is at.
fn migrate(conn: &mut PgConn, migrations: &[&str]) -> Result<u64, StoreError> {
    let latest = migrations.len() as u64;
    let too_new = |found: u64| StoreError::SchemaTooNew {
        found,
        supported: latest,
    };
    let found = schema_version(&mut conn.client)?;
    if found > latest {
        return Err(too_new(found));
    }
    for (i, step) in migrations
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(usize::MAX))
    {
        let version = i as u64 + 1;
        conn.begin(&begin_write())?;
        let applied = (|| -> Result<bool, StoreError> {
            // Another instance may have migrated since the version was read.
            let now = schema_version(&mut conn.client)?;
            if now > latest {
                return Err(too_new(now));
            }
            if now >= version {
                return Ok(false);
            }
            conn.client.batch_execute(step)?;
            conn.client.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', $1) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                &[&version.to_string()],
            )?;
            Ok(true)
        })();
        match applied {
            Ok(true) => {
                conn.commit()?;
                log::info!("PostgreSQL schema migrated to version {version}");
            }
            Ok(false) => conn.rollback(),
            Err(e) => {
                conn.rollback();
                return Err(e);
            }
        }
    }
    Ok(latest)
}

/// `url` with its password replaced by `***`, for logs and errors. Both forms are
/// handled: a URL (`postgres://user:secret@host/db`, and a `password=` query parameter)
/// and key=value (`host=h password=secret`, quoted or not).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    // URL form: the userinfo's password.
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    redact_password_params(&out)
}

/// `password=...` values (query parameters or key=value words) replaced by `***`.
fn redact_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(value_start) = password_value_start(rest) {
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value = &rest[value_start..];
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            // A quoted key=value: up to the closing unescaped quote.
            let mut chars = quoted.char_indices();
            let mut end = value.len();
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    chars.next();
                } else if c == '\'' {
                    end = i + 2;
                    break;
                }
            }
            end
        } else {
            value
                .find(|c: char| c == '&' || c == '#' || c.is_whitespace())
                .unwrap_or(value.len())
        };
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Where the value of the first `password` key starts (a key at the start, or after `?`,
/// `&` or whitespace, then `=` with optional spaces around it).
fn password_value_start(text: &str) -> Option<usize> {
    const KEY: &str = "password";
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(KEY) {
        let at = from + i;
        let key_start = lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c == '?' || c == '&' || c.is_whitespace());
        let after = &text[at + KEY.len()..];
        let trimmed = after.trim_start();
        if key_start && let Some(value) = trimmed.strip_prefix('=') {
            let value = value.trim_start();
            return Some(text.len() - value.len());
        }
        from = at + KEY.len();
    }
    None
}

/// An error text about `url` with the URL's password (if any) scrubbed.
fn scrub_password(url: &str, text: &str) -> String {
    let password = url.parse::<postgres::Config>().ok().and_then(|c| {
        c.get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    });
    let text = match password {
        Some(p) if !p.is_empty() => text.replace(&p, "***"),
        _ => text.to_string(),
    };
    redact_url(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_in_both_url_forms() {
        assert_eq!(
            redact_url("postgres://pramaan:s3cr%40t@db.example:5432/pramaan?sslmode=require"),
            "postgres://pramaan:***@db.example:5432/pramaan?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u@h/db?password=hunter2&sslmode=require"),
            "postgresql://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("host=h user=u password=hunter2 dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(
            redact_url("host=h password='two words\\' here' dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("host=h user=u"), "host=h user=u");
    }

    #[test]
    fn the_write_lock_and_the_enrollment_index_are_what_the_docs_say() {
        assert_eq!(WRITE_LOCK.to_be_bytes(), *b"pramaan\0");
        let hex_prefix = hex::encode(pramaan_tlog::store::ENROLLMENT_PREFIX);
        assert!(SCHEMA_V1.contains(&format!("'\\x{hex_prefix}'::bytea")));
        assert!(tx::ENROLLMENT_CANDIDATES.contains(&format!("'\\x{hex_prefix}'::bytea")));
    }
}

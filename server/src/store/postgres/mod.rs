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
//! Each connection keeps its prepared statements ([`tx::PgConn`]). Every session ends a
//! transaction left idle for a minute and probes a silent peer after 30 s
//! ([`SESSION_OPTIONS`]), so that an instance that hangs or is cut off while holding the
//! write lock stops the deployment's writes for about a minute, not for hours.
//!
//! # Migrations
//!
//! [`MIGRATIONS`] are this backend's own (v1 is the whole schema SQLite reached at its
//! version 6); `meta.schema_version` records them as in SQLite. Each step runs in its own
//! transaction while [`WRITE_LOCK`] is held, re-reading the version, so two instances
//! starting together migrate once ([`migrate`] says why the lock is the session's there);
//! a database of a newer schema is refused untouched.
//!
//! Secrets: a database URL may carry a password; it is shown only through [`redact_url`],
//! and scrubbed from every error this module makes at connect time.

mod tls;
mod tx;

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
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

/// Settings of every session, before the URL's own `options` (which may override them).
///
/// Why: every writer of every instance waits for [`WRITE_LOCK`], so a session that holds
/// it and goes silent (its instance hung, or cut off by the network: not killed, which
/// closes its socket at once) would stop every write of the deployment until the server
/// noticed, by default after two hours of TCP silence. A transaction of this store is
/// never idle for long (no request waits on the network inside one), so the server ends a
/// session idle in a transaction for a minute, and probes a silent peer after 30 s.
const SESSION_OPTIONS: &str = "-c idle_in_transaction_session_timeout=60000 \
     -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3";

/// The client's TCP keepalive idle time unless the URL sets one (the driver's default is
/// two hours): a database that vanished is noticed within a minute or so.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

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
        // The driver's own text is only "db error": the server's message is its source.
        let text = with_causes(&e);
        match e.code() {
            Some(code) if code.code().starts_with("23") => StoreError::Conflict(text),
            _ => StoreError::Backend(text),
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
///
/// Its calls block (the driver runs each connection on a runtime of its own): call it
/// from a blocking thread (`api::blocking`, the writer thread), never from an async task
/// on a runtime worker, where the driver's `block_on` panics. Dropping it is safe on any
/// thread.
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
        let options = match config.get_options() {
            Some(own) => format!("{SESSION_OPTIONS} {own}"),
            None => SESSION_OPTIONS.to_string(),
        };
        config.options(&options);
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        let tls = match ca {
            Some(ca) => {
                config.ssl_mode(postgres::config::SslMode::Require);
                Some(tls::connector(ca)?)
            }
            // A URL that asks for TLS is not quietly downgraded: without a CA to verify
            // the server by, there is no TLS here, so it is refused.
            None if config.get_ssl_mode() == postgres::config::SslMode::Require => {
                return Err(StoreError::Backend(format!(
                    "the database URL {shown_url} requires TLS (sslmode=require) but no CA \
                     was given to verify the server by (database_ca, PRAMAAN_DATABASE_CA)"
                )));
            }
            // `prefer` (the default) falls back to a plain connection without a connector.
            None => None,
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
            if migrated.is_err() || !conn.usable() {
                conn.discard();
            }
            migrated?;
        }
        let version = SCHEMA_VERSION;
        log::info!(
            "PostgreSQL store at {} (schema version {version})",
            crate::log_text::untrusted(&store.shown_url)
        );
        Ok(store)
    }

    /// Bytes of each table of the database's current schema, its indexes and TOAST
    /// included (`pg_total_relation_size`), for `pramaan bench --sizing`
    /// ([`crate::sizing::postgres_usage`]).
    pub fn table_bytes(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.readers.take(PgConn::usable)?;
        let rows = conn.client.query(
            "SELECT c.relname::text, pg_total_relation_size(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND n.nspname = current_schema()",
            &[],
        );
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                conn.discard();
                return Err(e.into());
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push((row.try_get(0)?, row.try_get(1)?));
        }
        Ok(out)
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
    /// A connection found lost when beginning (nothing ran on it) is discarded and the
    /// next one tried: after a database restart every idle connection is dead, and they
    /// are all replaced by the one request that finds them, up to the pool's size (then a
    /// new connection is opened, or the connection error returned).
    fn begun<'p>(
        &self,
        pool: &'p Pool<PgConn>,
        begin: &str,
    ) -> Result<super::pool::Lent<'p, PgConn>, StoreError> {
        let mut attempts = 0;
        loop {
            let mut conn = pool.take(PgConn::usable)?;
            match conn.begin(begin) {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    let lost = conn.is_lost();
                    conn.discard();
                    attempts += 1;
                    if !lost || attempts > pool.size() {
                        return Err(e);
                    }
                    log::warn!("a database connection was closed; trying another");
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
            // Ending one job's savepoint and opening the next one's share a round trip.
            tx.simple("SAVEPOINT job")?;
            let mut jobs = batch.into_iter().peekable();
            while let Some(job) = jobs.next() {
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
                let end = if kept {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                if jobs.peek().is_some() {
                    tx.simple(&format!("{end}; SAVEPOINT job"))?;
                } else {
                    tx.simple(end)?;
                }
                if let Some(fin) = fin {
                    finishers.push((fin, kept || !keep));
                }
            }
            conn.commit()
        })();
        if let Err(e) = &result {
            log::error!(
                "group commit failed: {}",
                crate::log_text::untrusted(&e.to_string())
            );
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
        if !conn.usable() {
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
        if !conn.usable() {
            conn.discard();
        }
        result.map(|_| ())
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let Some(writer) = self.writer.get() else {
            return self.run_alone(job);
        };
        super::queue_for_writer(writer, job)
    }
}

impl PostgresStore {
    /// [`Store::submit`] without a writer thread: the job alone, on a pooled connection.
    fn run_alone(&self, job: Job) -> Result<(), StoreError> {
        let mut conn = self.begun(&self.writers, &begin_write())?;
        let (finishers, committed) = self.run_batch(&mut conn, vec![job]);
        if !conn.usable() {
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

/// The writer thread: for each batch, waits for a first job, begins a transaction and
/// takes the write lock, and only then collects every other job queued (up to
/// [`MAX_BATCH`]), so that the jobs that arrived while another instance held the lock
/// join this batch instead of waiting for one more lock and COMMIT each. Runs on its own
/// connection (opened again when lost).
fn writer_loop(store: &Weak<PostgresStore>, connector: &Connector, recv: &Receiver<Job>) {
    let mut conn: Option<PgConn> = None;
    while let Ok(first) = recv.recv() {
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
                    Err(e) if c.is_lost() && !retried => {
                        log::warn!(
                            "the writer's database connection was closed ({}); reopening",
                            crate::log_text::untrusted(&e.to_string())
                        );
                        retried = true;
                    }
                    Err(e) => return Err(e),
                }
            }
        })();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match recv.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match begun {
            Ok(mut c) => {
                let (finishers, committed) = store.run_batch(&mut c, batch);
                if c.usable() {
                    conn = Some(c);
                }
                for (f, kept) in finishers {
                    f(committed && kept);
                }
            }
            Err(e) => {
                // The jobs never ran: dropping them drops their answer channels, so each
                // caller gets "the writer dropped the request" (nothing was recorded).
                log::error!(
                    "the group commit could not begin: {}",
                    crate::log_text::untrusted(&e.to_string())
                );
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
    crate::store::rows::parse_schema_version(v)
}

/// Brings the database to the last of `migrations`, or refuses one that is newer (before
/// touching anything). Returns the version it is at.
///
/// The write lock is held for the session while migrating, and each step's transaction
/// begins after it was granted. Why not the transaction-scoped lock: a transaction that
/// waits for an advisory lock does not see the catalog changes committed meanwhile (its
/// catalog caches are refreshed when a transaction starts or a table lock is taken, not
/// when an advisory lock is granted), so the instance that waited would not find the
/// tables the other one just created, and would create them again.
fn migrate(conn: &mut PgConn, migrations: &[&str]) -> Result<u64, StoreError> {
    let latest = migrations.len() as u64;
    let found = schema_version(&mut conn.client)?;
    if found > latest {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: latest,
        });
    }
    if found == latest {
        return Ok(latest);
    }
    conn.simple(&format!("SELECT pg_advisory_lock({WRITE_LOCK})"))?;
    let result = migrate_locked(conn, migrations);
    if conn.in_tx {
        conn.rollback();
    }
    let unlocked = conn.simple(&format!("SELECT pg_advisory_unlock({WRITE_LOCK})"));
    let version = result?;
    unlocked?;
    Ok(version)
}

/// [`migrate`]'s steps, the write lock held: each in its own transaction, re-reading the
/// version (another instance may have migrated since it was first read).
fn migrate_locked(conn: &mut PgConn, migrations: &[&str]) -> Result<u64, StoreError> {
    let latest = migrations.len() as u64;
    for (i, step) in migrations.iter().enumerate() {
        let version = i as u64 + 1;
        conn.begin("BEGIN")?;
        let now = schema_version(&mut conn.client)?;
        if now > latest {
            return Err(StoreError::SchemaTooNew {
                found: now,
                supported: latest,
            });
        }
        if now >= version {
            conn.rollback();
            continue;
        }
        conn.client.batch_execute(step)?;
        conn.client.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', $1) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            &[&version.to_string()],
        )?;
        conn.commit()?;
        log::info!("PostgreSQL schema migrated to version {version}");
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

    proptest::proptest! {
        /// Whatever the password, neither URL form shows it after redaction (and nothing
        /// panics on the way).
        #[test]
        fn no_password_survives_redaction(
            password in "Zq[A-Za-z0-9!$*()+,;~._-]{4,24}",
            user in "[a-z]{1,8}",
        ) {
            let forms = [
                format!("postgres://{user}:{password}@db.example:5432/pramaan"),
                format!("postgres://{user}@db.example/pramaan?password={password}&sslmode=require"),
                format!("host=db.example user={user} password={password} dbname=pramaan"),
                format!("host=db.example user={user} password = '{password}' dbname=pramaan"),
            ];
            for url in forms {
                let shown = redact_url(&url);
                proptest::prop_assert!(!shown.contains(&password), "{}", shown);
                proptest::prop_assert!(shown.contains("***"), "{}", shown);
                proptest::prop_assert!(shown.contains("db.example"), "{}", shown);
            }
        }

        #[test]
        fn redaction_never_panics(text in "\\PC{0,64}") {
            let _ = redact_url(&text);
        }
    }

    /// The enrollment leaves are found through the partial index (the query's predicate
    /// is the index's), and they are exactly the leaves `pramaan_tlog` calls enrollments.
    #[test]
    fn enrollment_candidates_use_the_partial_index() {
        use crate::store::{read_transaction, transaction};
        let Some(cluster) = pramaan_testkit::postgres::cluster() else {
            return;
        };
        let url = pramaan_testkit::postgres::fresh_database(&cluster);
        let store = PostgresStore::open(&url, None).expect("open");
        let mut enrollment = vec![0xa5];
        enrollment.extend_from_slice(pramaan_tlog::store::ENROLLMENT_PREFIX);
        enrollment.extend_from_slice(b"rest");
        let leaves: Vec<Vec<u8>> = (0..12u8)
            .map(|i| {
                if i % 4 == 1 {
                    let mut e = enrollment.clone();
                    e.push(i);
                    e
                } else {
                    vec![0xa5, i, i]
                }
            })
            .collect();
        transaction(&store, |tx| {
            for l in &leaves {
                pramaan_tlog::append_leaf(tx.log(), l).map_err(StoreError::from_log)?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("append");
        let found = read_transaction(&store, |tx| tx.log().enrollment_candidates(2, 12))
            .expect("candidates");
        let expected: Vec<(u64, Vec<u8>)> = (2..12u64)
            .map(|i| (i, leaves[i as usize].clone()))
            .filter(|(_, l)| pramaan_tlog::store::is_enrollment_leaf(l))
            .collect();
        assert_eq!(found, expected);
        assert_eq!(found.len(), 2);
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        client
            .batch_execute("SET enable_seqscan = off")
            .expect("planner setting");
        let plan: Vec<String> = client
            .query(
                &format!("EXPLAIN {}", tx::ENROLLMENT_CANDIDATES),
                &[&0i64, &10i64],
            )
            .expect("explain")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            plan.iter().any(|l| l.contains("audit_log_enrollments")),
            "{plan:?}"
        );
    }

    /// Every session gets the store's settings ([`SESSION_OPTIONS`]), and the URL's own
    /// options still apply.
    #[test]
    fn sessions_carry_the_store_settings_and_the_urls_own() {
        let Some(cluster) = pramaan_testkit::postgres::cluster() else {
            return;
        };
        let url = pramaan_testkit::postgres::fresh_database(&cluster);
        let show = |store: &PostgresStore, name: &str| -> String {
            let mut conn = store.connector.connect().expect("connect");
            conn.client
                .query_one(&format!("SHOW {name}"), &[])
                .expect("show")
                .get(0)
        };
        let store = PostgresStore::open(&url, None).expect("open");
        assert_eq!(show(&store, "idle_in_transaction_session_timeout"), "1min");
        assert_eq!(show(&store, "tcp_keepalives_idle"), "30");
        let own = PostgresStore::open(
            &format!(
                "{url}?options=-c%20application_name%3Dpramaan-a%20-c%20tcp_keepalives_idle%3D45"
            ),
            None,
        )
        .expect("open with options");
        assert_eq!(show(&own, "application_name"), "pramaan-a");
        assert_eq!(show(&own, "tcp_keepalives_idle"), "45");
        assert_eq!(show(&own, "idle_in_transaction_session_timeout"), "1min");
    }

    #[test]
    fn the_write_lock_and_the_enrollment_index_are_what_the_docs_say() {
        assert_eq!(WRITE_LOCK.to_be_bytes(), *b"pramaan\0");
        let hex_prefix = hex::encode(pramaan_tlog::store::ENROLLMENT_PREFIX);
        assert!(SCHEMA_V1.contains(&format!("'\\x{hex_prefix}'::bytea")));
        assert!(tx::ENROLLMENT_CANDIDATES.contains(&format!("'\\x{hex_prefix}'::bytea")));
    }
}

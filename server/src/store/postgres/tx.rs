//! One PostgreSQL connection and the [`Tx`] over it: the same statements as the SQLite
//! backend's, in PostgreSQL's dialect, reading rows through the shared parsers
//! ([`crate::store::rows`]) so that a value is judged the same way in both backends.
//!
//! Why a statement cache per connection: `Client::query(&str, ..)` prepares the statement
//! every time, an extra round trip per statement; an attestation runs a dozen.
//!
//! Why a `failed` flag: a statement that fails aborts a PostgreSQL transaction (every
//! later statement fails, and COMMIT silently rolls back). A caller that goes on after
//! an error must not be told its writes were kept, so the store refuses to report a
//! commit for a transaction (or a group-commit job) in which a statement failed.

use std::collections::HashMap;
use std::sync::Arc;

use postgres::Statement;
use postgres::types::{FromSql, ToSql};
use pramaan_core::claims::Assurance;
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::policy::{Officer, Policy};
use pramaan_tlog::LogStore;
use pramaan_tlog::tree::NodeSource;
use uuid::Uuid;

use crate::audit_log::Hash;
use crate::store::rows::{
    CHECKPOINT_COLS, DEVICE_COL_COUNT, DEVICE_COLS, ENROLL_TOKEN_COLUMNS, RawAttestation,
    RawDevice, RawEnrollToken, RawToken, TOKEN_COLUMNS, checkpoint_row, officer_from_json, to_u64,
};
use crate::store::{
    AttestationRow, CheckpointRow, Counts, DepartmentRules, DeviceRow, EnrollTokenListing,
    EnrollTokenRow, NonceRow, OfficerChange, RulesCache, StatusListRow, StoreError, TokenRow, Tx,
    to_i64,
};

/// Query parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A driver client that may be dropped on any thread.
///
/// Why: the blocking `postgres::Client` drives its connection on a runtime of its own and
/// blocks on it to say goodbye when dropped, and blocking on a runtime inside another
/// one's thread panics (and, during an unwind, aborts). The server's state, and with it
/// the store and its pooled connections, may be released on an async runtime's thread;
/// there the client is handed to a short-lived plain thread to be closed.
pub(crate) struct Client(Option<postgres::Client>);

impl std::ops::Deref for Client {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        // Some from `PgConn::new` until `drop`, the only place that empties it.
        #[allow(clippy::expect_used)]
        self.0.as_ref().expect("a client is present until dropped")
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        #[allow(clippy::expect_used)]
        self.0.as_mut().expect("a client is present until dropped")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return; // not a runtime's thread: `client` is dropped here
        }
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(client)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("pramaan-pg-close".into())
            .spawn(move || {
                if let Ok(mut s) = theirs.lock() {
                    drop(s.take());
                }
            });
        if spawned.is_err() {
            // No thread to close it on: left open (the server closes it when this
            // process ends) rather than panicking here.
            if let Some(c) = slot.lock().ok().and_then(|mut s| s.take()) {
                std::mem::forget(c);
            }
        }
    }
}

/// A connection, its prepared statements, and whether a transaction is open on it.
pub(crate) struct PgConn {
    pub(crate) client: Client,
    stmts: HashMap<String, Statement>,
    /// A transaction was begun and not yet ended: such a connection is never lent again
    /// (a panic in a transaction leaves it so).
    pub(crate) in_tx: bool,
    /// An error said the connection is gone (see [`connection_lost`]), although the
    /// driver may not have noticed the socket closing yet.
    pub(crate) lost: bool,
}

/// Whether `e` means the connection is gone: closed, a connection exception (SQLSTATE
/// class 08), or the server ending the session (any FATAL error, such as 57P01 admin
/// shutdown, as `pg_terminate_backend` and a fast shutdown send, or 25P03 idle in a
/// transaction too long; 57P02 crash; 57P03 starting up).
pub(crate) fn connection_lost(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error()
            .is_some_and(|d| matches!(d.severity(), "FATAL" | "PANIC"))
        || e.code().is_some_and(|c| {
            let c = c.code();
            c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03")
        })
}

impl PgConn {
    pub(crate) fn new(client: postgres::Client) -> Self {
        Self {
            client: Client(Some(client)),
            stmts: HashMap::new(),
            in_tx: false,
            lost: false,
        }
    }

    /// Whether a connection may be lent again: open, and no transaction left on it.
    pub(crate) fn usable(&self) -> bool {
        !self.in_tx && !self.lost && !self.client.is_closed()
    }

    /// Whether the connection is gone (the error that said so was seen, or the driver
    /// knows).
    pub(crate) fn is_lost(&self) -> bool {
        self.lost || self.client.is_closed()
    }

    /// `r`, noting a lost connection.
    fn note<T>(&mut self, r: Result<T, postgres::Error>) -> Result<T, StoreError> {
        r.map_err(|e| {
            if connection_lost(&e) {
                self.lost = true;
            }
            StoreError::from(e)
        })
    }

    /// Begins a transaction with `sql` (one simple query: BEGIN and, for writers, the
    /// lock).
    pub(crate) fn begin(&mut self, sql: &str) -> Result<(), StoreError> {
        self.in_tx = true;
        let r = self.client.batch_execute(sql);
        self.note(r)
    }

    /// Runs `sql` by the simple protocol outside the [`Tx`] (locks, savepoints).
    pub(crate) fn simple(&mut self, sql: &str) -> Result<(), StoreError> {
        let r = self.client.batch_execute(sql);
        self.note(r)
    }

    /// Commits the open transaction.
    pub(crate) fn commit(&mut self) -> Result<(), StoreError> {
        let r = self.client.batch_execute("COMMIT");
        self.note(r)?;
        self.in_tx = false;
        Ok(())
    }

    /// Rolls the open transaction back; a connection where that fails stays `in_tx`
    /// and is discarded by its owner.
    pub(crate) fn rollback(&mut self) {
        if self.client.batch_execute("ROLLBACK").is_ok() {
            self.in_tx = false;
        }
    }

    /// After a failed group commit: rolls back whatever is left (a failed COMMIT has
    /// already ended the transaction; ROLLBACK then only warns).
    pub(crate) fn abandon(&mut self) {
        self.rollback();
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// A transaction on a [`PgConn`] (begun by the store).
pub(crate) struct PgTx<'c> {
    conn: &'c mut PgConn,
    /// The store's cache of parsed rules ([`Tx::department_rules`]).
    rules: &'c RulesCache,
    /// This transaction changed a policy or roster: its own uncommitted rules must not
    /// reach the cache.
    changed_rules: bool,
    /// A statement failed: the transaction is aborted (see the module docs).
    pub(crate) failed: bool,
}

impl<'c> PgTx<'c> {
    pub(crate) fn new(conn: &'c mut PgConn, rules: &'c RulesCache) -> Self {
        Self {
            conn,
            rules,
            changed_rules: false,
            failed: false,
        }
    }

    fn track<T>(&mut self, r: Result<T, postgres::Error>) -> Result<T, StoreError> {
        r.map_err(|e| {
            self.failed = true;
            if connection_lost(&e) {
                self.conn.lost = true;
            }
            // "cached plan must not change result type": another instance changed the
            // schema under a prepared statement; prepare them again from now on.
            if e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED) {
                self.conn.stmts.clear();
            }
            StoreError::from(e)
        })
    }

    /// A statement without parameters or rows, by the simple protocol (savepoints).
    pub(crate) fn simple(&mut self, sql: &str) -> Result<(), StoreError> {
        let r = self.conn.client.batch_execute(sql);
        self.track(r)
    }

    fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<postgres::Row>, StoreError> {
        let r = self
            .conn
            .statement(sql)
            .and_then(|s| self.conn.client.query(&s, params));
        self.track(r)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<postgres::Row>, StoreError> {
        let r = self
            .conn
            .statement(sql)
            .and_then(|s| self.conn.client.query_opt(&s, params));
        self.track(r)
    }

    fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let r = self
            .conn
            .statement(sql)
            .and_then(|s| self.conn.client.execute(&s, params));
        self.track(r)
    }

    /// The officer's device ids in enrollment order; `active_only`: unrevoked ones.
    fn officer_device_ids(
        &mut self,
        officer_id: &str,
        active_only: bool,
    ) -> Result<Vec<Uuid>, StoreError> {
        let sql = if active_only {
            "SELECT device_id FROM devices WHERE officer_id = $1 AND NOT revoked \
             ORDER BY enrolled_at, device_id"
        } else {
            "SELECT device_id FROM devices WHERE officer_id = $1 ORDER BY enrolled_at, device_id"
        };
        self.query(sql, &[&officer_id])?
            .iter()
            .map(|r| {
                let b: Vec<u8> = col(r, 0)?;
                Uuid::from_slice(&b)
                    .map_err(|_| StoreError::Corrupt("device id not 16 bytes".into()))
            })
            .collect()
    }

    /// Cancels the officer's outstanding enrollment tokens; returns how many.
    fn cancel_enroll_tokens_of(
        &mut self,
        officer_id: &str,
        by: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.execute(
            "UPDATE enrollment_tokens SET cancelled_at = $2, cancelled_by = $3 \
             WHERE officer_id = $1 AND NOT used AND cancelled_at IS NULL",
            &[&officer_id, &now, &by],
        )
    }

    /// Increases the department's generation (in this transaction).
    fn bump_generation(&mut self, department: &str) -> Result<(), StoreError> {
        self.changed_rules = true;
        self.execute(
            "INSERT INTO department_generations(department, generation) VALUES ($1, 1) \
             ON CONFLICT(department) DO UPDATE SET generation = department_generations.generation + 1",
            &[&department],
        )?;
        Ok(())
    }

    fn leaf_rows(
        &mut self,
        sql: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let end = end.min(i64::MAX as u64);
        let start = to_i64("log index", start.min(end))?;
        let end = to_i64("log index", end)?;
        self.query(sql, &[&start, &end])?
            .iter()
            .map(|r| Ok((to_u64("leaf index", col(r, 0)?)?, col(r, 1)?)))
            .collect()
    }
}

/// Column `idx` of `row` as `T`; a stored value of another type (or a NULL where none is
/// allowed) is [`StoreError::Corrupt`].
fn col<'a, T: FromSql<'a>>(row: &'a postgres::Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx)
        .map_err(|e| StoreError::Corrupt(format!("column {idx}: {e}")))
}

/// A stored integer column as `u64` (a negative one is corrupt).
fn col_u64(row: &postgres::Row, idx: usize, what: &'static str) -> Result<u64, StoreError> {
    to_u64(what, col(row, idx)?)
}

fn raw_device(r: &postgres::Row) -> Result<RawDevice, StoreError> {
    Ok(RawDevice {
        device_id: col(r, 0)?,
        officer_id: col(r, 1)?,
        department: col(r, 2)?,
        platform: col(r, 3)?,
        model: col(r, 4)?,
        attested_model: col(r, 5)?,
        public_key: col(r, 6)?,
        assurance: col(r, 7)?,
        evidence: col(r, 8)?,
        revoked: col(r, 9)?,
        reason: col(r, 10)?,
        last_seq: col(r, 11)?,
        enrolled_at: col(r, 12)?,
        evidence_summary: col(r, 14)?,
        last_fresh_at: col(r, 15)?,
        anchor_hash: col(r, 16)?,
        anchor_at: col(r, 17)?,
        offline_run: col(r, 18)?,
        assert_counter: col(r, 19)?,
        reattest_requested: col(r, 20)?,
    })
}

/// The attestation columns `seq, iat, received_at, fresh_nonce, claims, verdict,
/// failures, log_index` of a row, starting at column `at`.
fn raw_attestation(r: &postgres::Row, at: usize) -> Result<RawAttestation, StoreError> {
    Ok(RawAttestation {
        seq: col(r, at)?,
        iat: col(r, at + 1)?,
        received_at: col(r, at + 2)?,
        fresh_nonce: col(r, at + 3)?,
        claims: col(r, at + 4)?,
        verdict: col(r, at + 5)?,
        failures: col(r, at + 6)?,
        log_index: col(r, at + 7)?,
    })
}

fn raw_token(r: &postgres::Row) -> Result<RawToken, StoreError> {
    Ok(RawToken {
        hash: col(r, 0)?,
        role: col(r, 1)?,
        department: col(r, 2)?,
        created_at: col_u64(r, 3, "token created_at")?,
        name: col(r, 4)?,
        created_by: col(r, 5)?,
        expires_at: col(r, 6)?,
        revoked_at: col(r, 7)?,
        revoked_by: col(r, 8)?,
    })
}

fn raw_enroll_token(r: &postgres::Row) -> Result<RawEnrollToken, StoreError> {
    Ok(RawEnrollToken {
        hash: col(r, 0)?,
        officer_id: col(r, 1)?,
        expires: col_u64(r, 2, "enrollment token expiry")?,
        used: col(r, 3)?,
        allow_additional: col(r, 4)?,
        created_by: col(r, 5)?,
        created_at: col_u64(r, 6, "enrollment token created_at")?,
        cancelled_at: col(r, 7)?,
        cancelled_by: col(r, 8)?,
        department: col(r, 9)?,
    })
}

fn device_row(r: &postgres::Row) -> Result<DeviceRow, StoreError> {
    raw_device(r)?.into_row()
}

fn tokens_of(rows: &[postgres::Row]) -> Result<Vec<TokenRow>, StoreError> {
    rows.iter().map(|r| raw_token(r)?.into_row()).collect()
}

fn enroll_tokens_of(rows: &[postgres::Row]) -> Result<Vec<EnrollTokenListing>, StoreError> {
    rows.iter()
        .map(|r| raw_enroll_token(r)?.into_row())
        .collect()
}

fn checkpoint_of(r: &postgres::Row) -> Result<CheckpointRow, StoreError> {
    checkpoint_row((col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?))
}

/// The enrollment leaves of `[$1, $2)`, answered from the partial index
/// `audit_log_enrollments` (the same predicate, so the planner uses it).
pub(crate) const ENROLLMENT_CANDIDATES: &str = "SELECT idx, data FROM audit_log_leaves \
     WHERE substr(data, 2, 16) = '\\x646b696e646a656e726f6c6c6d656e74'::bytea \
     AND idx >= $1 AND idx < $2 ORDER BY idx";

impl NodeSource for PgTx<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let row = self.query_opt(
            "SELECT hash FROM audit_log_nodes WHERE level = $1 AND idx = $2",
            &[&i64::from(level), &to_i64("log index", index)?],
        )?;
        let row =
            row.ok_or_else(|| StoreError::Corrupt(format!("missing node ({level}, {index})")))?;
        let h: Vec<u8> = col(&row, 0)?;
        h.try_into()
            .map_err(|_| StoreError::Corrupt(format!("node ({level}, {index}) is not 32 bytes")))
    }
}

impl LogStore for PgTx<'_> {
    fn size(&mut self) -> Result<u64, StoreError> {
        let rows = self.query("SELECT MAX(idx) FROM audit_log_leaves", &[])?;
        let max: Option<i64> = match rows.first() {
            Some(r) => col(r, 0)?,
            None => None,
        };
        match max {
            None => Ok(0),
            Some(m) => u64::try_from(m)
                .map(|m| m + 1)
                .map_err(|_| StoreError::Corrupt(format!("negative leaf index {m}"))),
        }
    }

    fn leaves(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.leaf_rows(
            "SELECT idx, data FROM audit_log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            start,
            end,
        )
    }

    fn enrollment_candidates(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.leaf_rows(ENROLLMENT_CANDIDATES, start, end)
    }

    fn put_leaf(&mut self, index: u64, data: &[u8]) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit_log_leaves (idx, data) VALUES ($1, $2)",
            &[&to_i64("log index", index)?, &data],
        )?;
        Ok(())
    }

    fn put_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit_log_nodes (level, idx, hash) VALUES ($1, $2, $3)",
            &[&i64::from(level), &to_i64("log index", index)?, &&hash[..]],
        )?;
        Ok(())
    }
}

impl Tx for PgTx<'_> {
    fn token(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1");
        self.query_opt(&sql, &[&&hash[..]])?
            .map(|r| raw_token(&r)?.into_row())
            .transpose()
    }

    fn insert_token(&mut self, row: &TokenRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tokens(hash, role, department, created_at, name, created_by, \
             expires_at, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &&row.hash[..],
                &row.role.as_str(),
                &row.department,
                &to_i64("created_at", row.created_at)?,
                &row.name,
                &row.created_by,
                &row.expires_at
                    .map(|v| to_i64("expires_at", v))
                    .transpose()?,
                &row.revoked_at
                    .map(|v| to_i64("revoked_at", v))
                    .transpose()?,
                &row.revoked_by,
            ],
        )?;
        Ok(())
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, hash");
        tokens_of(&self.query(&sql, &[])?)
    }

    fn tokens_by_prefix(&mut self, prefix: &[u8], limit: u64) -> Result<Vec<TokenRow>, StoreError> {
        let (lo, hi) = crate::store::hash_prefix_bounds(prefix);
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash >= $1 AND hash <= $2 \
             ORDER BY hash LIMIT $3"
        );
        tokens_of(&self.query(&sql, &[&&lo[..], &&hi[..], &to_i64("limit", limit)?])?)
    }

    fn revoke_token(&mut self, hash: &[u8; 32], by: &str, now: u64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE tokens SET revoked_at = $2, revoked_by = $3 \
             WHERE hash = $1 AND revoked_at IS NULL \
             AND (role != 'admin' OR EXISTS (SELECT 1 FROM tokens AS other \
                  WHERE other.role = 'admin' AND other.hash != $1 \
                  AND other.revoked_at IS NULL \
                  AND (other.expires_at IS NULL OR other.expires_at > $2)))",
            &[&&hash[..], &to_i64("now", now)?, &by],
        )?;
        Ok(changed == 1)
    }

    fn nonce(&mut self, hash: &[u8; 32]) -> Result<Option<NonceRow>, StoreError> {
        self.query_opt(
            "SELECT expires, used FROM nonces WHERE hash = $1",
            &[&&hash[..]],
        )?
        .map(|r| {
            Ok(NonceRow {
                expires: col_u64(&r, 0, "nonce expiry")?,
                used: col(&r, 1)?,
            })
        })
        .transpose()
    }

    fn use_nonce(&mut self, hash: &[u8; 32], expires: u64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "INSERT INTO nonces(hash, expires, used) VALUES ($1, $2, TRUE) \
             ON CONFLICT(hash) DO NOTHING",
            &[&&hash[..], &to_i64("nonce expiry", expires)?],
        )?;
        Ok(changed == 1)
    }

    fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM nonces WHERE expires < $1",
            &[&to_i64("prune time", before)?],
        )?;
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
        self.execute(
            "INSERT INTO enrollment_tokens(hash, officer_id, expires, used, created_by, \
             created_at, allow_additional) VALUES ($1, $2, $3, FALSE, $4, $5, $6)",
            &[
                &&hash[..],
                &officer_id,
                &to_i64("enrollment token expiry", expires)?,
                &created_by,
                &to_i64("created_at", now)?,
                &allow_additional,
            ],
        )?;
        Ok(())
    }

    fn enroll_token(&mut self, hash: &[u8; 32]) -> Result<Option<EnrollTokenRow>, StoreError> {
        let sql = format!(
            "SELECT {ENROLL_TOKEN_COLUMNS}, NULL::text FROM enrollment_tokens AS t WHERE hash = $1"
        );
        self.query_opt(&sql, &[&&hash[..]])?
            .map(|r| raw_enroll_token(&r)?.into_row().map(|l| l.row))
            .transpose()
    }

    fn use_enroll_token(&mut self, hash: &[u8; 32], now: u64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE enrollment_tokens SET used = TRUE WHERE hash = $1 AND NOT used \
             AND cancelled_at IS NULL AND expires > $2",
            &[&&hash[..], &to_i64("now", now)?],
        )?;
        Ok(changed == 1)
    }

    fn enroll_tokens_by_prefix(
        &mut self,
        prefix: &[u8],
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError> {
        let (lo, hi) = crate::store::hash_prefix_bounds(prefix);
        let sql = format!(
            "SELECT {ENROLL_TOKEN_COLUMNS}, o.department FROM enrollment_tokens AS t \
             JOIN officers AS o ON o.officer_id = t.officer_id \
             WHERE t.hash >= $1 AND t.hash <= $2 ORDER BY t.hash LIMIT $3"
        );
        enroll_tokens_of(&self.query(&sql, &[&&lo[..], &&hi[..], &to_i64("limit", limit)?])?)
    }

    fn enroll_tokens_of(
        &mut self,
        department: Option<&str>,
        all: bool,
        now: u64,
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError> {
        let sql = format!(
            "SELECT {ENROLL_TOKEN_COLUMNS}, o.department FROM enrollment_tokens AS t \
             JOIN officers AS o ON o.officer_id = t.officer_id \
             WHERE ($1::text IS NULL OR o.department = $1::text) \
             AND ($2::boolean OR (NOT t.used AND t.cancelled_at IS NULL AND t.expires > $3)) \
             ORDER BY t.created_at DESC, t.issued DESC LIMIT $4"
        );
        enroll_tokens_of(&self.query(
            &sql,
            &[
                &department,
                &all,
                &to_i64("now", now)?,
                &to_i64("limit", limit)?,
            ],
        )?)
    }

    fn cancel_enroll_token(
        &mut self,
        hash: &[u8; 32],
        by: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE enrollment_tokens SET cancelled_at = $2, cancelled_by = $3 \
             WHERE hash = $1 AND NOT used AND cancelled_at IS NULL AND expires > $2",
            &[&&hash[..], &to_i64("now", now)?, &by],
        )?;
        Ok(changed == 1)
    }

    fn officer(&mut self, officer_id: &str) -> Result<Option<Officer>, StoreError> {
        let Some(r) = self.query_opt(
            "SELECT row_json, retired_at FROM officers WHERE officer_id = $1",
            &[&officer_id],
        )?
        else {
            return Ok(None);
        };
        let json: String = col(&r, 0)?;
        let retired_at: Option<i64> = col(&r, 1)?;
        let mut officer = officer_from_json(&json)?;
        officer.retired_at = retired_at
            .map(|t| to_u64("officers.retired_at", t))
            .transpose()?;
        Ok(Some(officer))
    }

    fn departments(&mut self) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT department FROM policies UNION SELECT DISTINCT department FROM officers \
             ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }

    fn officers_of(&mut self, department: &str) -> Result<Vec<Officer>, StoreError> {
        self.query(
            "SELECT row_json FROM officers WHERE department = $1 AND retired_at IS NULL \
             ORDER BY officer_id",
            &[&department],
        )?
        .iter()
        .map(|r| officer_from_json(&col::<String>(r, 0)?))
        .collect()
    }

    fn upsert_officer(&mut self, officer: &Officer, now: u64) -> Result<(), StoreError> {
        // The row as imported: `retired_at` lives in its column, never in the JSON.
        let row = Officer {
            retired_at: None,
            ..officer.clone()
        };
        let json = serde_json::to_string(&row)
            .map_err(|e| StoreError::Corrupt(format!("officer: {e}")))?;
        self.execute(
            "INSERT INTO officers(officer_id, department, row_json, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT(officer_id) DO UPDATE SET department = excluded.department, \
             row_json = excluded.row_json, updated_at = excluded.updated_at, retired_at = NULL",
            &[
                &officer.officer_id,
                &officer.department,
                &json,
                &to_i64("updated_at", now)?,
            ],
        )?;
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
        let changed = self.execute(
            "UPDATE officers SET retired_at = $2, updated_at = $2 WHERE officer_id = $1",
            &[&officer_id, &now_i],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        let devices = self.officer_device_ids(officer_id, true)?;
        self.execute(
            "UPDATE devices SET revoked = TRUE, reason = $2 WHERE officer_id = $1 AND NOT revoked",
            &[&officer_id, &reason],
        )?;
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
        self.execute(
            "UPDATE officers SET department = $2, row_json = $3, updated_at = $4 \
             WHERE officer_id = $1",
            &[&officer_id, &to, &json, &now_i],
        )?;
        let devices = self.officer_device_ids(officer_id, false)?;
        self.execute(
            "UPDATE devices SET department = $2 WHERE officer_id = $1",
            &[&officer_id, &to],
        )?;
        let tokens_cancelled = self.cancel_enroll_tokens_of(officer_id, by, now_i)?;
        Ok(Some(OfficerChange {
            devices,
            tokens_cancelled,
        }))
    }

    fn policy(&mut self, department: &str) -> Result<Option<Policy>, StoreError> {
        let Some(r) = self.query_opt(
            "SELECT policy_json FROM policies WHERE department = $1",
            &[&department],
        )?
        else {
            return Ok(None);
        };
        let json: String = col(&r, 0)?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("policy of {department}: {e}")))
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
        self.execute(
            "INSERT INTO policies(department, policy_json, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT(department) DO UPDATE SET policy_json = excluded.policy_json, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[&department, &json, &by, &to_i64("updated_at", now)?],
        )?;
        self.bump_generation(department)
    }

    fn department_generation(&mut self, department: &str) -> Result<u64, StoreError> {
        let Some(r) = self.query_opt(
            "SELECT generation FROM department_generations WHERE department = $1",
            &[&department],
        )?
        else {
            return Ok(0);
        };
        col_u64(&r, 0, "department generation")
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
        self.query(
            "SELECT platform, grp, handle FROM rosters WHERE department = $1 \
             ORDER BY platform, grp, handle",
            &[&department],
        )?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
        .collect()
    }

    fn set_roster(
        &mut self,
        department: &str,
        platform: &str,
        group: &str,
        handles: &[String],
    ) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM rosters WHERE department = $1 AND platform = $2 AND grp = $3",
            &[&department, &platform, &group],
        )?;
        for h in handles {
            self.execute(
                "INSERT INTO rosters(department, platform, grp, handle) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&department, &platform, &group, h],
            )?;
        }
        self.bump_generation(department)
    }

    fn device(&mut self, device_id: &Uuid) -> Result<Option<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE device_id = $1");
        self.query_opt(&sql, &[&&device_id.as_bytes()[..]])?
            .map(|r| device_row(&r))
            .transpose()
    }

    fn devices_of_officer(&mut self, officer_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
        let sql =
            format!("SELECT {DEVICE_COLS} FROM devices WHERE officer_id = $1 ORDER BY enrolled_at");
        self.query(&sql, &[&officer_id])?
            .iter()
            .map(device_row)
            .collect()
    }

    fn device_by_key(&mut self, key_hash: &[u8; 32]) -> Result<Option<DeviceRow>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE key_hash = $1");
        self.query_opt(&sql, &[&&key_hash[..]])?
            .map(|r| device_row(&r))
            .transpose()
    }

    fn insert_device(&mut self, d: &DeviceRow) -> Result<(), StoreError> {
        let summary = serde_json::to_string(&d.evidence_summary)
            .map_err(|e| StoreError::Corrupt(format!("evidence summary: {e}")))?;
        let key_hash = crate::store::key_hash(&d.public_key)?;
        let f = &d.freshness;
        let sql = format!(
            "INSERT INTO devices({DEVICE_COLS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21)"
        );
        self.execute(
            &sql,
            &[
                &&d.device_id.as_bytes()[..],
                &d.officer_id,
                &d.department,
                &d.platform.as_str(),
                &d.model,
                &d.evidence_summary.attested_model,
                &d.public_key,
                &Assurance::as_str(d.assurance),
                &d.evidence,
                &d.revoked,
                &d.reason,
                &d.last_seq.map(|s| to_i64("last_seq", s)).transpose()?,
                &to_i64("enrolled_at", d.enrolled_at)?,
                &&key_hash[..],
                &summary,
                &f.last_fresh_at
                    .map(|t| to_i64("last_fresh_at", t))
                    .transpose()?,
                &f.anchor.map(|(h, _)| h.to_vec()),
                &f.anchor
                    .map(|(_, at)| to_i64("anchor_at", at))
                    .transpose()?,
                &i64::from(f.offline_run),
                &d.assert_counter.map(i64::from),
                &d.reattest_requested,
            ],
        )?;
        Ok(())
    }

    fn record_fresh(
        &mut self,
        device_id: &Uuid,
        at: u64,
        anchor: &[u8; 32],
    ) -> Result<(), StoreError> {
        let at = to_i64("fresh time", at)?;
        self.execute(
            "UPDATE devices SET last_fresh_at = $2, anchor_hash = $3, anchor_at = $2, \
             offline_run = 0 WHERE device_id = $1",
            &[&&device_id.as_bytes()[..], &at, &&anchor[..]],
        )?;
        Ok(())
    }

    fn take_offline_slot(
        &mut self,
        device_id: &Uuid,
        anchor: &[u8; 32],
        max_run: u32,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE devices SET offline_run = offline_run + 1 \
             WHERE device_id = $1 AND anchor_hash = $2 AND offline_run < $3",
            &[
                &&device_id.as_bytes()[..],
                &&anchor[..],
                &i64::from(max_run),
            ],
        )?;
        Ok(changed == 1)
    }

    fn request_reattest(&mut self, device_id: &Uuid) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE devices SET reattest_requested = TRUE WHERE device_id = $1",
            &[&&device_id.as_bytes()[..]],
        )?;
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
        self.execute(
            "UPDATE devices SET evidence_summary = $2, assurance = $3, attested_model = $4, \
             reattest_requested = FALSE WHERE device_id = $1",
            &[
                &&device_id.as_bytes()[..],
                &json,
                &assurance.as_str(),
                &summary.attested_model,
            ],
        )?;
        Ok(())
    }

    fn advance_assert_counter(
        &mut self,
        device_id: &Uuid,
        counter: u32,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE devices SET assert_counter = $2 \
             WHERE device_id = $1 AND (assert_counter IS NULL OR assert_counter < $2)",
            &[&&device_id.as_bytes()[..], &i64::from(counter)],
        )?;
        Ok(changed == 1)
    }

    fn revoke_device(&mut self, device_id: &Uuid, reason: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE devices SET revoked = TRUE, reason = $2 WHERE device_id = $1",
            &[&&device_id.as_bytes()[..], &reason],
        )?;
        Ok(())
    }

    fn advance_seq(&mut self, device_id: &Uuid, seq: u64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE devices SET last_seq = $2 \
             WHERE device_id = $1 AND (last_seq IS NULL OR last_seq < $2)",
            &[&&device_id.as_bytes()[..], &to_i64("seq", seq)?],
        )?;
        Ok(changed == 1)
    }

    fn insert_attestation(&mut self, a: &AttestationRow) -> Result<(), StoreError> {
        let failures = serde_json::to_string(&a.failures)
            .map_err(|e| StoreError::Corrupt(format!("failures: {e}")))?;
        self.execute(
            "INSERT INTO attestations(device_id, seq, iat, received_at, fresh_nonce, claims, \
             verdict, failures, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &&a.device_id.as_bytes()[..],
                &to_i64("seq", a.seq)?,
                &to_i64("iat", a.iat)?,
                &to_i64("received_at", a.received_at)?,
                &a.fresh_nonce,
                &a.claims,
                &a.verdict.as_str(),
                &failures,
                &to_i64("log_index", a.log_index)?,
            ],
        )?;
        Ok(())
    }

    fn latest_attestation(
        &mut self,
        device_id: &Uuid,
    ) -> Result<Option<AttestationRow>, StoreError> {
        self.query_opt(
            "SELECT seq, iat, received_at, fresh_nonce, claims, verdict, failures, log_index \
             FROM attestations WHERE device_id = $1 ORDER BY seq DESC LIMIT 1",
            &[&&device_id.as_bytes()[..]],
        )?
        .map(|r| raw_attestation(&r, 0)?.into_row(*device_id))
        .transpose()
    }

    fn recent_attestations(
        &mut self,
        device_id: &Uuid,
        limit: u32,
    ) -> Result<Vec<AttestationRow>, StoreError> {
        self.query(
            "SELECT seq, iat, received_at, fresh_nonce, claims, verdict, failures, log_index \
             FROM attestations WHERE device_id = $1 ORDER BY seq DESC LIMIT $2",
            &[&&device_id.as_bytes()[..], &i64::from(limit)],
        )?
        .iter()
        .map(|r| raw_attestation(r, 0)?.into_row(*device_id))
        .collect()
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
        // The latest attestation is found per device from the `(device_id, seq)` key.
        let sql = format!(
            "SELECT {device_cols}, a.seq, a.iat, a.received_at, a.fresh_nonce, a.claims, \
             a.verdict, a.failures, a.log_index \
             FROM officers o JOIN devices d ON d.officer_id = o.officer_id \
             LEFT JOIN attestations a ON a.device_id = d.device_id \
               AND a.seq = (SELECT MAX(seq) FROM attestations WHERE device_id = d.device_id) \
             WHERE o.department = $1 AND o.retired_at IS NULL \
             ORDER BY o.officer_id, d.enrolled_at, d.device_id"
        );
        self.query(&sql, &[&department])?
            .iter()
            .map(|r| {
                let device = device_row(r)?;
                let has_latest = col::<Option<i64>>(r, DEVICE_COL_COUNT)?.is_some();
                let latest = if has_latest {
                    Some(raw_attestation(r, DEVICE_COL_COUNT)?.into_row(device.device_id)?)
                } else {
                    None
                };
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
        let id = &device_id.as_bytes()[..];
        // A device whose first and last seq are fewer than `n` apart has fewer than `n`
        // rows: answered from the two ends of the primary key.
        let Some(ends) = self.query_opt(
            "SELECT MIN(seq), MAX(seq) FROM attestations WHERE device_id = $1",
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let (Some(first), Some(last)) =
            (col::<Option<i64>>(&ends, 0)?, col::<Option<i64>>(&ends, 1)?)
        else {
            return Ok(None);
        };
        if last.saturating_sub(first) < i64::from(skip) {
            return Ok(None);
        }
        let Some(r) = self.query_opt(
            "SELECT received_at FROM attestations WHERE device_id = $1 \
             ORDER BY seq DESC LIMIT 1 OFFSET $2",
            &[&id, &i64::from(skip)],
        )?
        else {
            return Ok(None);
        };
        col_u64(&r, 0, "received_at").map(Some)
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
        // The walk of SQLite's backend, done by the database: the attestations received
        // after `since` (newest first, `seq` order) stop at the first one at or before
        // it, so only offline ones of the window are returned.
        let rows = self.query(
            "SELECT received_at FROM attestations \
             WHERE device_id = $1 AND NOT fresh_nonce AND received_at > $2 \
             AND seq > COALESCE((SELECT MAX(seq) FROM attestations \
                 WHERE device_id = $1 AND received_at <= $2), -1) \
             ORDER BY seq DESC LIMIT $3",
            &[
                &&device_id.as_bytes()[..],
                &i64::try_from(since).unwrap_or(i64::MAX),
                &i64::from(at_most),
            ],
        )?;
        for r in &rows {
            out.push(col_u64(r, 0, "received_at")?);
        }
        Ok(out)
    }

    fn log(&mut self) -> &mut dyn LogStore<Error = StoreError> {
        self
    }

    fn counts(&mut self) -> Result<Counts, StoreError> {
        let mut count = |sql: &str| -> Result<u64, StoreError> {
            let rows = self.query(sql, &[])?;
            match rows.first() {
                Some(r) => col_u64(r, 0, "count"),
                None => Ok(0),
            }
        };
        Ok(Counts {
            officers: count("SELECT COUNT(*) FROM officers")?,
            devices: count("SELECT COUNT(*) FROM devices")?,
            attestations: count("SELECT COUNT(*) FROM attestations")?,
            nonces_used: count("SELECT COUNT(*) FROM nonces WHERE used")?,
            enrollment_tokens_used: count("SELECT COUNT(*) FROM enrollment_tokens WHERE used")?,
            log_entries: self.log().size()?,
        })
    }

    fn status_list(&mut self) -> Result<Option<StatusListRow>, StoreError> {
        self.query_opt(
            "SELECT json, fetched_at, imported_at FROM status_list WHERE id = 1",
            &[],
        )?
        .map(|r| {
            Ok(StatusListRow {
                json: col(&r, 0)?,
                fetched_at: col_u64(&r, 1, "fetched_at")?,
                imported_at: col_u64(&r, 2, "imported_at")?,
            })
        })
        .transpose()
    }

    fn set_status_list(&mut self, row: &StatusListRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO status_list(id, json, fetched_at, imported_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT(id) DO UPDATE SET json = excluded.json, \
             fetched_at = excluded.fetched_at, imported_at = excluded.imported_at",
            &[
                &row.json,
                &to_i64("fetched_at", row.fetched_at)?,
                &to_i64("imported_at", row.imported_at)?,
            ],
        )?;
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<CheckpointRow>, StoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints ORDER BY size DESC, id DESC LIMIT 1"
        );
        self.query_opt(&sql, &[])?
            .map(|r| checkpoint_of(&r))
            .transpose()
    }

    fn insert_checkpoint(&mut self, row: &CheckpointRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO checkpoints(size, root, note, signed_at) VALUES ($1, $2, $3, $4)",
            &[
                &to_i64("checkpoint size", row.size)?,
                &&row.root[..],
                &row.note,
                &to_i64("signed_at", row.signed_at)?,
            ],
        )?;
        Ok(())
    }

    fn checkpoints(
        &mut self,
        from_size: u64,
        limit: u64,
    ) -> Result<Vec<CheckpointRow>, StoreError> {
        let sql = format!(
            "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE size >= $1 ORDER BY id LIMIT $2"
        );
        self.query(
            &sql,
            &[
                &to_i64("checkpoint size", from_size)?,
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )?
        .iter()
        .map(checkpoint_of)
        .collect()
    }
}

//! Storage behind one narrow interface, so that a PostgreSQL backend can be added without
//! touching a single handler.
//!
//! Why a transaction closure instead of one method per use case: every accepted device
//! request must check (nonce unused, token unexpired, seq increasing), write (device,
//! attestation, nonce consumed, next nonce issued) and append to the audit log atomically,
//! and a rejected request must change nothing (design section 5 item 6). Handlers run their
//! whole decision inside [`transaction`]; returning an error rolls everything back, so the
//! "nothing rejected changes state" rule holds by construction.
//!
//! Secrets never reach the database: bearer tokens, enrollment tokens and nonces are stored
//! as their SHA-256 ([`crate::auth::hash_secret`]).

pub mod sqlite;

use pramaan_core::claims::Assurance;
use pramaan_core::policy::Officer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use sqlite::SqliteStore;

/// Storage failures (never caused by the client: they answer 500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("audit log: {0}")]
    Log(String),
    #[error("database lock poisoned")]
    Poisoned,
    #[error("the group commit failed: {0}")]
    CommitFailed(String),
}

/// Role of a bearer token (design section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    It,
    Auditor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::It => "it",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "it" => Ok(Role::It),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected it, auditor or admin)"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bearer token's row (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub hash: [u8; 32],
    pub role: Role,
    pub department: Option<String>,
}

/// A single-use server nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceRow {
    pub expires: u64,
    pub used: bool,
}

/// A one-time enrollment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollTokenRow {
    pub officer_id: String,
    pub expires: u64,
    pub used: bool,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: Uuid,
    pub officer_id: String,
    pub department: String,
    pub platform: String,
    pub model: String,
    pub attested_model: Option<String>,
    /// The device public key as an encoded COSE_Key.
    pub public_key: Vec<u8>,
    pub assurance: Assurance,
    /// Platform evidence as received (CBOR), kept for later verifiers.
    pub evidence: Option<Vec<u8>>,
    pub revoked: bool,
    pub reason: Option<String>,
    pub last_seq: Option<u64>,
    pub enrolled_at: u64,
}

/// An accepted attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRow {
    pub device_id: Uuid,
    pub seq: u64,
    pub iat: u64,
    pub received_at: u64,
    pub fresh_nonce: bool,
    /// The EAT claims set (CBOR) as signed by the device.
    pub claims: Vec<u8>,
    pub verdict: String,
    /// `[{rule, detail}]` as JSON.
    pub failures_json: String,
    pub log_index: u64,
}

/// Row counts, for tests and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub officers: u64,
    pub devices: u64,
    pub attestations: u64,
    pub nonces_used: u64,
    pub enrollment_tokens_used: u64,
    pub log_entries: u64,
}

/// One entry to append to the audit log, in the backend's own form.
pub use crate::audit_log::LogEntry;

/// Everything a handler may read or write inside one transaction.
pub trait Tx {
    // bearer tokens
    fn token(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError>;
    fn insert_token(&mut self, row: &TokenRow, now: u64) -> Result<(), StoreError>;

    // nonces
    fn insert_nonce(&mut self, hash: &[u8; 32], expires: u64) -> Result<(), StoreError>;
    fn nonce(&mut self, hash: &[u8; 32]) -> Result<Option<NonceRow>, StoreError>;
    fn consume_nonce(&mut self, hash: &[u8; 32]) -> Result<(), StoreError>;
    /// Deletes nonces that expired before `before` (their rows serve no purpose any more).
    fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError>;

    // enrollment tokens
    fn insert_enroll_token(
        &mut self,
        hash: &[u8; 32],
        officer_id: &str,
        expires: u64,
        created_by: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    fn enroll_token(&mut self, hash: &[u8; 32]) -> Result<Option<EnrollTokenRow>, StoreError>;
    fn use_enroll_token(&mut self, hash: &[u8; 32]) -> Result<(), StoreError>;

    // registry, policies, rosters
    fn officer(&mut self, officer_id: &str) -> Result<Option<Officer>, StoreError>;
    fn officers_of(&mut self, department: &str) -> Result<Vec<Officer>, StoreError>;
    fn upsert_officer(&mut self, officer: &Officer, now: u64) -> Result<(), StoreError>;
    /// The department's policy as JSON.
    fn policy(&mut self, department: &str) -> Result<Option<String>, StoreError>;
    fn set_policy(
        &mut self,
        department: &str,
        json: &str,
        by: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// `(platform, group, handle)` rows of the department.
    fn roster_rows(
        &mut self,
        department: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    fn set_roster(
        &mut self,
        department: &str,
        platform: &str,
        group: &str,
        handles: &[String],
    ) -> Result<(), StoreError>;

    // devices and attestations
    fn device(&mut self, device_id: &Uuid) -> Result<Option<DeviceRow>, StoreError>;
    fn devices_of_officer(&mut self, officer_id: &str) -> Result<Vec<DeviceRow>, StoreError>;
    fn insert_device(&mut self, row: &DeviceRow) -> Result<(), StoreError>;
    fn revoke_device(&mut self, device_id: &Uuid, reason: &str) -> Result<(), StoreError>;
    fn insert_attestation(&mut self, row: &AttestationRow) -> Result<(), StoreError>;
    fn latest_attestation(
        &mut self,
        device_id: &Uuid,
    ) -> Result<Option<AttestationRow>, StoreError>;

    // audit log
    /// Appends to the audit log inside this transaction; returns the leaf index.
    fn append_log(&mut self, entry: &LogEntry) -> Result<u64, StoreError>;

    fn counts(&mut self) -> Result<Counts, StoreError>;
}

/// Delivers a job's outcome once its transaction is durable (`true`) or failed (`false`).
pub type Finisher = Box<dyn FnOnce(bool) + Send>;

/// A unit of work for [`Store::submit`]: runs in a transaction (possibly shared with other
/// jobs) and says whether its writes are kept, plus what to do once the commit is known.
pub type Job = Box<dyn FnOnce(&mut dyn Tx) -> (bool, Finisher) + Send>;

/// A storage backend.
pub trait Store: Send + Sync {
    /// Runs `f` in one transaction: committed when it returns `Ok(true)`, rolled back
    /// otherwise. Prefer the typed [`transaction`] helper.
    fn with_tx(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs `f` for reading only, on a snapshot of the last committed state, without
    /// waiting for writers. Writes inside fail. The default is [`Store::with_tx`].
    fn with_read(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        self.with_tx(f)
    }

    /// Runs `job` in a transaction that the backend may share with other jobs (group
    /// commit: one durable commit for many requests). Each job's writes are isolated by a
    /// savepoint and rolled back alone when it refuses; its finisher runs after the commit.
    /// The default runs the job alone.
    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let mut job = Some(job);
        let mut finisher: Option<(bool, Finisher)> = None;
        let result = self.with_tx(&mut |tx| {
            let Some(job) = job.take() else {
                return Ok(false);
            };
            let (keep, fin) = job(tx);
            finisher = Some((keep, fin));
            Ok(keep)
        });
        if let Some((keep, fin)) = finisher {
            fin(keep && result.is_ok());
        }
        result
    }

    /// The SQLite backend, for the audit-log readers that work on its connection.
    fn as_sqlite(&self) -> Option<&SqliteStore> {
        None
    }
}

/// Reads through [`Store::with_read`] (a committed snapshot, no wait for writers).
pub fn read_transaction<R, E: From<StoreError>>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
) -> Result<R, E> {
    let mut f = Some(f);
    let mut out: Option<Result<R, E>> = None;
    store.with_read(&mut |tx| {
        if let Some(f) = f.take() {
            out = Some(f(tx));
        }
        Ok(false)
    })?;
    match out {
        Some(r) => r,
        None => Err(StoreError::Corrupt("read closure did not run".into()).into()),
    }
}

/// Like [`transaction`], but through [`Store::submit`] so that concurrent requests share
/// one durable commit. Returns only after the commit: an `Ok` is durable.
pub fn grouped_transaction<R, E>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
) -> Result<R, E>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let (send, recv) = std::sync::mpsc::sync_channel::<Result<R, E>>(1);
    let job: Job = Box::new(move |tx| {
        let result = f(tx);
        let keep = result.is_ok();
        let finish: Finisher = Box::new(move |committed| {
            let out = match result {
                Ok(_) if !committed => Err(StoreError::CommitFailed(
                    "the transaction did not commit; nothing was recorded".into(),
                )
                .into()),
                other => other,
            };
            let _ = send.send(out);
        });
        (keep, finish)
    });
    store.submit(job)?;
    recv.recv()
        .map_err(|_| StoreError::CommitFailed("the writer dropped the request".into()))?
}

/// Runs `f` in one transaction and returns its result: committed on `Ok`, rolled back on
/// `Err` (so a rejected request changes nothing).
pub fn transaction<R, E: From<StoreError>>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
) -> Result<R, E> {
    let mut f = Some(f);
    let mut out: Option<Result<R, E>> = None;
    store.with_tx(&mut |tx| {
        let Some(f) = f.take() else {
            return Ok(false);
        };
        let result = f(tx);
        let commit = result.is_ok();
        out = Some(result);
        Ok(commit)
    })?;
    match out {
        Some(r) => r,
        None => Err(StoreError::Corrupt("transaction closure did not run".into()).into()),
    }
}

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
//! Why the contract spells out isolation ([`Tx`], [`Store`]): SQLite serializes writers, so
//! a read followed by a write inside one transaction is safe there; PostgreSQL at its
//! default READ COMMITTED level is not, and two requests could both read "nonce unused"
//! and both accept. So every check-then-act that guards a security property is one
//! conditional statement whose answer is the decision ([`Tx::use_nonce`],
//! [`Tx::use_enroll_token`], [`Tx::advance_seq`]), backed by a uniqueness constraint where
//! one exists (one attestation per `(device, seq)`, one log leaf per index). Reads before
//! them only choose the precise error code.
//!
//! Rows are typed ([`Policy`], [`Verdict`], [`Failure`], [`Platform`], [`Assurance`]):
//! a backend parses what it stored, so handlers never re-parse strings, and [`StoreError`]
//! names no backend's error type. Integers are `u64` in the API and must fit the
//! backend's signed 64-bit columns: a value that does not is refused
//! ([`StoreError::ValueOutOfRange`]), never clamped.
//!
//! Secrets never reach the database: bearer tokens, enrollment tokens and nonces are stored
//! as their SHA-256 ([`crate::auth::hash_secret`]).

mod pool;
pub mod postgres;
mod rows;
pub mod sqlite;

use pramaan_core::claims::{Assurance, Failure, Platform, Verdict};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::policy::{Officer, Policy, Roster};
use pramaan_tlog::LogStore;
use uuid::Uuid;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Storage failures. Never caused by the client, they answer 500, except where a handler
/// maps one (a `Conflict` is a lost race with a concurrent request).
///
/// Backend-free on purpose: a backend converts its own errors (the SQLite module
/// implements `From<rusqlite::Error>`), so nothing above the store depends on a driver.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, locking, SQL); the backend's message.
    #[error("database: {0}")]
    Backend(String),
    /// A uniqueness or other constraint refused the write: a concurrent writer got there
    /// first (or the caller wrote a duplicate).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An integer that the backend's columns (signed 64-bit) cannot hold.
    #[error("{what} {value} is beyond the largest storable integer ({max})", max = i64::MAX)]
    ValueOutOfRange {
        /// The column or quantity, e.g. `"seq"`.
        what: &'static str,
        /// The refused value.
        value: u64,
    },
    /// A stored value does not parse (unknown platform, bad JSON, negative integer): the
    /// database was altered outside this server.
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    /// The audit log's algorithm (`pramaan_tlog`) failed for a reason other than the store.
    #[error("audit log: {0}")]
    Log(String),
    /// A thread panicked while holding the database connection; restart the server.
    #[error("database lock poisoned")]
    Poisoned,
    /// A grouped transaction did not reach a durable commit, so nothing was recorded.
    #[error("the group commit failed: {0}")]
    CommitFailed(String),
    /// The database was written by a newer version of this server.
    #[error(
        "the database has schema version {found}, newer than the {supported} this binary knows; \
         run a newer pramaan (refusing to touch it)"
    )]
    SchemaTooNew {
        /// The database's `meta.schema_version`.
        found: u64,
        /// The newest version this binary knows for that backend
        /// ([`sqlite::SCHEMA_VERSION`], [`postgres::SCHEMA_VERSION`]).
        supported: u64,
    },
}

impl StoreError {
    /// Converts a log algorithm's error, recovering the store's own error when the log
    /// failed in the store (so a `Conflict` stays a `Conflict`).
    pub fn from_log(e: pramaan_tlog::LogError) -> Self {
        match e {
            pramaan_tlog::LogError::Store(inner) => match inner.downcast::<StoreError>() {
                Ok(store) => *store,
                Err(other) => StoreError::Log(other.to_string()),
            },
            other => StoreError::Log(other.to_string()),
        }
    }
}

/// `v` as a signed 64-bit column value, or [`StoreError::ValueOutOfRange`].
pub fn to_i64(what: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::ValueOutOfRange { what, value: v })
}

/// The role of a bearer token, at its old path.
pub use crate::auth::Role;

/// A bearer token's row (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// SHA-256 of the token's secret ([`crate::auth::hash_secret`]). Its first 4 bytes
    /// are the token's public id ([`crate::auth::TokenId`]), unique among tokens.
    pub hash: [u8; 32],
    /// What the token may do.
    pub role: Role,
    /// The only department an IT token may act on; `None` for auditor and admin tokens.
    pub department: Option<String>,
    /// A readable name (`it-GAD-2026-11-29`); `None` for tokens made before names.
    pub name: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Who made it: the label of the admin token that asked, or `admin-cli` offline;
    /// `None` for tokens made before this was recorded.
    pub created_by: Option<String>,
    /// Refused from this time on (`now >= expires_at`); `None`: never expires.
    pub expires_at: Option<u64>,
    /// When it was revoked; refused from then on.
    pub revoked_at: Option<u64>,
    /// Who revoked it (a token label, or `admin-cli`).
    pub revoked_by: Option<String>,
}

impl TokenRow {
    /// A new token's row: no name, creator, expiry or revocation.
    pub fn new(hash: [u8; 32], role: Role, department: Option<String>, created_at: u64) -> Self {
        Self {
            hash,
            role,
            department,
            name: None,
            created_at,
            created_by: None,
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
        }
    }
}

/// Bounds of a hash prefix, for looking rows up by their public id (the first bytes of
/// their SHA-256): every hash `h` with `lo <= h <= hi` starts with the prefix. A backend
/// answers it from the hash's primary key.
pub fn hash_prefix_bounds(prefix: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut lo = [0u8; 32];
    let mut hi = [0xffu8; 32];
    let n = prefix.len().min(32);
    lo[..n].copy_from_slice(&prefix[..n]);
    hi[..n].copy_from_slice(&prefix[..n]);
    (lo, hi)
}

/// The recorded use of a server nonce (nonces themselves are not stored:
/// [`crate::nonce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceRow {
    /// The nonce's expiry, seconds since the Unix epoch; the row may be pruned after it.
    pub expires: u64,
    /// Used (always, for rows written since nonces are stateless; rows of an older
    /// server may say unused: those nonces no longer verify and are pruned on expiry).
    pub used: bool,
}

/// What retiring or moving an officer changed besides the registry row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficerChange {
    /// Retire: the devices revoked (those that were active). Move: every device of the
    /// officer, now of the new department. In enrollment order.
    pub devices: Vec<Uuid>,
    /// Outstanding enrollment tokens cancelled.
    pub tokens_cancelled: u64,
}

/// A one-time enrollment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollTokenRow {
    /// The registry officer whose phone the token enrolls.
    pub officer_id: String,
    /// Expiry, seconds since the Unix epoch; valid while `now < expires`.
    pub expires: u64,
    /// Already used to enroll a device.
    pub used: bool,
    /// IT allows this enrollment although the officer has an active device already.
    pub allow_additional: bool,
    /// SHA-256 of the token; its first 8 bytes in hex are the token's public id, the one
    /// the audit log's `EnrollTokenIssued` entry records in full.
    pub hash: [u8; 32],
    /// Label of the IT or admin token that issued it.
    pub created_by: String,
    /// Issue time, seconds since the Unix epoch.
    pub created_at: u64,
    /// When IT cancelled it; a cancelled token never enrolls.
    pub cancelled_at: Option<u64>,
    /// Who cancelled it (a token label).
    pub cancelled_by: Option<String>,
}

/// An enrollment token as listed for IT: its row and its officer's department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollTokenListing {
    /// The token.
    pub row: EnrollTokenRow,
    /// The department of the token's officer (as the registry says now).
    pub department: String,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Server-assigned id (random UUID v4), given to the device at enrollment.
    pub device_id: Uuid,
    /// The officer the device was enrolled for.
    pub officer_id: String,
    /// The officer's department at enrollment.
    pub department: String,
    /// Android, iOS or the desktop agent.
    pub platform: Platform,
    /// The model the device reported about itself (not verified).
    pub model: String,
    /// The device public key as an encoded COSE_Key. Its [`key_hash`] is unique among
    /// all devices, revoked ones included: a key is enrolled once.
    pub public_key: Vec<u8>,
    /// The assurance the evidence earned under the policy when it was last checked.
    pub assurance: Assurance,
    /// Platform evidence as received (CBOR), kept for later verifiers.
    pub evidence: Option<Vec<u8>>,
    /// What the latest evidence (enrollment or re-attestation) proved.
    pub evidence_summary: EvidenceSummary,
    /// Fresh-challenge and offline-run state (design section 5 item 5).
    pub freshness: Freshness,
    /// Apple: the last App Attest assertion counter accepted (must increase).
    pub assert_counter: Option<u32>,
    /// IT asked for fresh evidence from this device (cleared when it arrives).
    pub reattest_requested: bool,
    /// Revoked by IT: its attestations are refused.
    pub revoked: bool,
    /// Why it was revoked, as given by IT.
    pub reason: Option<String>,
    /// Sequence number of the last accepted attestation; `None` before the first.
    pub last_seq: Option<u64>,
    /// Enrollment time, seconds since the Unix epoch.
    pub enrolled_at: u64,
}

/// When a device last answered a fresh server challenge, and the offline run since.
///
/// Offline attestations must name the anchor (SHA-256 of the last nonce the server sent
/// the device); at most the policy's `max_offline_run` of them are accepted per anchor,
/// and only within the offline window after it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freshness {
    /// When the device last answered a fresh challenge (enrollment included).
    pub last_fresh_at: Option<u64>,
    /// SHA-256 of the last nonce sent to the device and when it was sent.
    pub anchor: Option<([u8; 32], u64)>,
    /// Offline attestations accepted since that anchor.
    pub offline_run: u32,
}

/// SHA-256 of the device key's uncompressed SEC1 point: the identity a key is enrolled
/// under once. Any COSE encoding of the same key gives the same hash.
pub fn key_hash(public_key_cose: &[u8]) -> Result<[u8; 32], StoreError> {
    let key = pramaan_core::P256PublicKey::from_cose_key_bytes(public_key_cose)
        .map_err(|e| StoreError::Corrupt(format!("device key: {e}")))?;
    Ok(crate::auth::hash_secret(key.as_sec1()))
}

/// Google's revocation status list as installed by IT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListRow {
    /// The JSON as Google publishes it.
    pub json: String,
    /// When the copy was fetched from Google, Unix seconds.
    pub fetched_at: u64,
    /// When it was installed, Unix seconds.
    pub imported_at: u64,
}

/// A checkpoint the server signed, kept so that it never signs a tree inconsistent with
/// one it already published (see `crate::checkpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// The tree size it commits to.
    pub size: u64,
    /// The RFC 9162 root hash of that tree.
    pub root: [u8; 32],
    /// The signed note, exactly as served.
    pub note: String,
    /// When it was signed, seconds since the Unix epoch.
    pub signed_at: u64,
}

/// An accepted attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRow {
    /// The attesting device.
    pub device_id: Uuid,
    /// The device's sequence number, strictly increasing per device.
    pub seq: u64,
    /// When the device says it signed, seconds since the Unix epoch.
    pub iat: u64,
    /// When the server accepted it, seconds since the Unix epoch.
    pub received_at: u64,
    /// Carried a server nonce (online); `false` for an offline attestation accepted within
    /// the offline window.
    pub fresh_nonce: bool,
    /// The EAT claims set (CBOR) as signed by the device.
    pub claims: Vec<u8>,
    /// The policy's verdict on it.
    pub verdict: Verdict,
    /// The rules it failed (empty when compliant).
    pub failures: Vec<Failure>,
    /// Index of its leaf in the audit log.
    pub log_index: u64,
}

/// Row counts, for tests and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Officers in the registry.
    pub officers: u64,
    /// Enrolled devices, revoked ones included.
    pub devices: u64,
    /// Accepted attestations.
    pub attestations: u64,
    /// Used nonces not yet pruned (expired nonces are deleted).
    pub nonces_used: u64,
    /// Enrollment tokens used.
    pub enrollment_tokens_used: u64,
    /// Leaves in the audit log.
    pub log_entries: u64,
}

/// A department's policy and rosters as the rules take them (parsed, the rosters with
/// their normalized handles), read at one [`Tx::department_generation`].
#[derive(Debug)]
pub struct DepartmentRules {
    /// The department's generation when these were read.
    pub generation: u64,
    /// The department's policy.
    pub policy: Policy,
    /// Its rosters, one per group ([`Roster::from_rows`]).
    pub rosters: Vec<Roster>,
}

impl DepartmentRules {
    /// Reads the department's rules in `tx` (no cache): `None` without a policy.
    pub fn read(tx: &mut dyn Tx, department: &str) -> Result<Option<Self>, StoreError> {
        let generation = tx.department_generation(department)?;
        let Some(policy) = tx.policy(department)? else {
            return Ok(None);
        };
        let rosters = Roster::from_rows(tx.roster_rows(department)?);
        Ok(Some(Self {
            generation,
            policy,
            rosters,
        }))
    }
}

/// Parsed policies and rosters per department, so that an attestation neither parses its
/// policy's JSON nor reads and normalizes the rosters again (issue 12: they were, for
/// every attestation).
///
/// Why a generation and not invalidation by the writer: an entry is used only when its
/// generation equals the one the caller's transaction reads
/// ([`Tx::department_generation`], bumped in the same transaction as every policy or
/// roster change). So an update is seen by the very next transaction that starts after
/// it committed, whichever process made it (several servers on one database, issue 13),
/// a restart starts empty, and a stale entry is only ever a miss, never an answer.
#[derive(Debug, Default)]
pub struct RulesCache {
    entries: Mutex<HashMap<String, Arc<DepartmentRules>>>,
}

/// Most departments a [`RulesCache`] holds; past it, it starts over (a state has a few
/// dozen departments, so this only bounds a store full of invented ones).
const MAX_CACHED_DEPARTMENTS: usize = 1024;

impl RulesCache {
    /// The department's rules as `tx` sees them: the cached entry if its generation is
    /// the one `tx` reads, else read from `tx` (and cached). `None` without a policy.
    pub fn get(
        &self,
        tx: &mut dyn Tx,
        department: &str,
    ) -> Result<Option<Arc<DepartmentRules>>, StoreError> {
        let generation = tx.department_generation(department)?;
        if let Some(hit) = self
            .entries
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .get(department)
            .filter(|e| e.generation == generation)
        {
            return Ok(Some(hit.clone()));
        }
        let Some(rules) = DepartmentRules::read(tx, department)? else {
            return Ok(None);
        };
        let rules = Arc::new(rules);
        let mut entries = self.entries.lock().map_err(|_| StoreError::Poisoned)?;
        if entries.len() >= MAX_CACHED_DEPARTMENTS && !entries.contains_key(department) {
            entries.clear();
        }
        // A concurrent reader may have cached a newer generation: keep the newer one
        // (generations only grow).
        match entries.get(department) {
            Some(e) if e.generation > rules.generation => {}
            _ => {
                entries.insert(department.to_string(), rules.clone());
            }
        }
        Ok(Some(rules))
    }
}

/// One entry to append to the audit log, in the backend's own form.
pub use crate::audit_log::LogEntry;

/// Everything a handler may read or write inside one transaction.
///
/// # Isolation: what every backend must guarantee
///
/// 1. **Atomicity.** Everything done through one `Tx` commits together or not at all
///    (audit-log appends included: [`Tx::log`] reaches the log rows of *this*
///    transaction). A transaction that is not committed leaves no trace.
/// 2. **Each check-then-act is one conditional write.** [`Tx::use_nonce`],
///    [`Tx::use_enroll_token`] and [`Tx::advance_seq`] must be a single statement that
///    both checks and changes (e.g. `INSERT INTO nonces ... ON CONFLICT(hash) DO
///    NOTHING`, `UPDATE enroll_tokens SET used = 1 WHERE hash = ? AND used = 0`) and
///    report whether it changed a row. When two transactions
///    race, at most one may get `true`, whatever the isolation level, and the loser must
///    see `false` (or an error), never `true`. Reads such as [`Tx::enroll_token`] are only used
///    to pick the precise error code; the decision is the conditional write's answer.
/// 3. **Uniqueness is a constraint.** One attestation per `(device_id, seq)`, one nonce,
///    token or enrollment token per hash, one log leaf per index and one node per
///    `(level, index)`. A write that would break one fails with
///    [`StoreError::Conflict`], so a lost race fails its transaction instead of
///    recording twice.
/// 4. **Log appends are serialized.** Two transactions must not both append leaf `n`:
///    the leaf-index constraint (3) makes the second fail; a backend that lets both get
///    that far (e.g. PostgreSQL) must serialize appenders (a lock on the log) so that
///    appends do not fail routinely. PostgreSQL serializes every write transaction of
///    every server instance with one advisory lock ([`postgres::WRITE_LOCK`]).
/// 5. **Integers fit or are refused.** `u64` values above `i64::MAX` are refused with
///    [`StoreError::ValueOutOfRange`], never clamped or wrapped.
/// 6. **Rows read are typed and validated.** A stored value that does not parse (unknown
///    platform, policy JSON that no longer loads) is [`StoreError::Corrupt`].
/// 7. **An error ends the transaction.** After a `Tx` method returns an error, the caller
///    returns an error too (or refuses its job), never a commit: in PostgreSQL a failed
///    statement aborts the whole transaction. A backend where that is so refuses to
///    report a commit for a transaction, or a group-commit job, in which a statement
///    failed (the job's finisher sees `false`; [`Store::with_tx`] returns an error).
pub trait Tx {
    // bearer tokens
    /// The bearer token whose secret hashes to `hash`.
    fn token(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError>;
    /// Stores a new bearer token (a duplicate hash is [`StoreError::Conflict`]).
    fn insert_token(&mut self, row: &TokenRow) -> Result<(), StoreError>;
    /// Every bearer token, oldest first (revoked and expired ones included).
    fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError>;
    /// The bearer tokens whose hash starts with `prefix` (a public id), at most `limit`.
    fn tokens_by_prefix(&mut self, prefix: &[u8], limit: u64) -> Result<Vec<TokenRow>, StoreError>;
    /// Revokes the token hashing to `hash`, in one conditional write: it must exist, not
    /// be revoked already, and, if it is an admin token, another admin token must stay
    /// usable (unrevoked and unexpired at `now`), so that no revocation, nor two racing
    /// ones, leaves the server without an admin. `true` when this call revoked it.
    fn revoke_token(&mut self, hash: &[u8; 32], by: &str, now: u64) -> Result<bool, StoreError>;

    // nonces
    /// The recorded use of the nonce hashing to `hash`, if any (tests and tools; the
    /// decision is [`Tx::use_nonce`]'s answer).
    fn nonce(&mut self, hash: &[u8; 32]) -> Result<Option<NonceRow>, StoreError>;
    /// Records that the nonce hashing to `hash` (valid while `now < expires`) was used,
    /// in one conditional write: `true` when this call recorded it; `false` when it was
    /// recorded before (by anyone, including a concurrent transaction). Nonces are
    /// stateless ([`crate::nonce`]): only their use is stored, until they expire.
    fn use_nonce(&mut self, hash: &[u8; 32], expires: u64) -> Result<bool, StoreError>;
    /// Deletes nonces that expired before `before` (their rows serve no purpose any more).
    fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError>;

    // enrollment tokens
    /// Stores a new unused enrollment token by its hash for `officer_id`, valid while
    /// `now < expires`; `created_by` is the issuing caller's token label.
    /// `allow_additional`: the token may enroll a device while the officer has an active
    /// one (IT's explicit choice; otherwise one active device per officer).
    fn insert_enroll_token(
        &mut self,
        hash: &[u8; 32],
        officer_id: &str,
        expires: u64,
        allow_additional: bool,
        created_by: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// The token's row, to choose an error code; never the basis of acceptance.
    fn enroll_token(&mut self, hash: &[u8; 32]) -> Result<Option<EnrollTokenRow>, StoreError>;
    /// Marks the token used if it exists, is unused, uncancelled and has not expired
    /// (`expires > now`), in one conditional write; `true` when this call used it.
    fn use_enroll_token(&mut self, hash: &[u8; 32], now: u64) -> Result<bool, StoreError>;
    /// The enrollment tokens whose hash starts with `prefix` (a public id), at most
    /// `limit`, with their officer's department (tokens of officers no longer in the
    /// registry are left out).
    fn enroll_tokens_by_prefix(
        &mut self,
        prefix: &[u8],
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError>;
    /// The enrollment tokens of the department's officers (every department with
    /// `None`), newest first (tokens of one second in the reverse of
    /// their issue), at most `limit`: with `all`, every token; otherwise only
    /// the outstanding ones (unused, uncancelled, `expires > now`).
    fn enroll_tokens_of(
        &mut self,
        department: Option<&str>,
        all: bool,
        now: u64,
        limit: u64,
    ) -> Result<Vec<EnrollTokenListing>, StoreError>;
    /// Cancels the token if it is still outstanding (unused, uncancelled, `expires >
    /// now`), in one conditional write; `true` when this call cancelled it.
    fn cancel_enroll_token(
        &mut self,
        hash: &[u8; 32],
        by: &str,
        now: u64,
    ) -> Result<bool, StoreError>;

    // registry, policies, rosters
    /// The registry entry of `officer_id`, a retired one included (with its
    /// `retired_at`).
    fn officer(&mut self, officer_id: &str) -> Result<Option<Officer>, StoreError>;
    /// Every department with a policy or registered officers, sorted (the dashboard's
    /// department picker).
    fn departments(&mut self) -> Result<Vec<String>, StoreError>;
    /// Every serving officer of the department (retired ones are left out: they leave
    /// the compliance report and its counts).
    fn officers_of(&mut self, department: &str) -> Result<Vec<Officer>, StoreError>;
    /// Adds or replaces the officer's registry entry; a retired officer is reinstated
    /// (`retired_at` cleared). The officer's devices are not touched: a change of
    /// department goes through [`Tx::move_officer`] first.
    fn upsert_officer(&mut self, officer: &Officer, now: u64) -> Result<(), StoreError>;
    /// Retires the officer: sets `retired_at = now`, revokes every active device of the
    /// officer with `reason` and cancels the officer's outstanding enrollment tokens
    /// (unused, not cancelled; `cancelled_at = now`, `cancelled_by = by`). Returns what it
    /// changed; an unknown officer changes nothing and returns `None`.
    fn retire_officer(
        &mut self,
        officer_id: &str,
        reason: &str,
        by: &str,
        now: u64,
    ) -> Result<Option<OfficerChange>, StoreError>;
    /// Moves the officer to department `to`: the registry row and every device of the
    /// officer (revoked ones included) change department, outstanding enrollment tokens
    /// are cancelled as by [`Tx::retire_officer`]. An unknown officer: `None`.
    fn move_officer(
        &mut self,
        officer_id: &str,
        to: &str,
        by: &str,
        now: u64,
    ) -> Result<Option<OfficerChange>, StoreError>;
    /// The department's policy, parsed by the backend.
    fn policy(&mut self, department: &str) -> Result<Option<Policy>, StoreError>;
    /// Replaces the department's policy; `by` names who set it.
    fn set_policy(
        &mut self,
        department: &str,
        policy: &Policy,
        by: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// The department's generation: a number that every change of its policy or rosters
    /// ([`Tx::set_policy`], [`Tx::set_roster`]) increases in the same transaction (0 for
    /// a department never changed). Caches of parsed rules are keyed by it.
    fn department_generation(&mut self, department: &str) -> Result<u64, StoreError>;
    /// The department's policy and rosters, parsed, as this transaction sees them; `None`
    /// without a policy. A backend reads them with [`DepartmentRules::read`] or serves
    /// them from a [`RulesCache`] (the same answer, without the parsing).
    fn department_rules(
        &mut self,
        department: &str,
    ) -> Result<Option<Arc<DepartmentRules>>, StoreError>;
    /// `(platform, group, handle)` rows of the department, sorted.
    fn roster_rows(
        &mut self,
        department: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Replaces the handles of one group's roster.
    fn set_roster(
        &mut self,
        department: &str,
        platform: &str,
        group: &str,
        handles: &[String],
    ) -> Result<(), StoreError>;

    // devices and attestations
    /// The enrolled device `device_id`.
    fn device(&mut self, device_id: &Uuid) -> Result<Option<DeviceRow>, StoreError>;
    /// Every device enrolled for the officer, revoked ones included.
    fn devices_of_officer(&mut self, officer_id: &str) -> Result<Vec<DeviceRow>, StoreError>;
    /// The device enrolled with the key of this [`key_hash`], revoked or not.
    fn device_by_key(&mut self, key_hash: &[u8; 32]) -> Result<Option<DeviceRow>, StoreError>;
    /// Records a newly enrolled device; a duplicate id or key ([`key_hash`], revoked
    /// devices included) is [`StoreError::Conflict`].
    fn insert_device(&mut self, row: &DeviceRow) -> Result<(), StoreError>;
    /// Records a fresh challenge answered at `at` and the new anchor (the hash of the
    /// nonce sent back); resets the offline run.
    fn record_fresh(
        &mut self,
        device_id: &Uuid,
        at: u64,
        anchor: &[u8; 32],
    ) -> Result<(), StoreError>;
    /// Counts one offline attestation against the device's anchor, in one conditional
    /// write (`... WHERE anchor = ? AND offline_run < ?`); `true` when it was counted,
    /// `false` when the anchor is another or the run is at `max_run`.
    fn take_offline_slot(
        &mut self,
        device_id: &Uuid,
        anchor: &[u8; 32],
        max_run: u32,
    ) -> Result<bool, StoreError>;
    /// Asks the device for fresh evidence at its next check-in; `false` for an unknown
    /// device.
    fn request_reattest(&mut self, device_id: &Uuid) -> Result<bool, StoreError>;
    /// Replaces the device's evidence after a re-attestation (and clears IT's request).
    fn update_evidence(
        &mut self,
        device_id: &Uuid,
        summary: &EvidenceSummary,
        assurance: Assurance,
    ) -> Result<(), StoreError>;
    /// Sets the device's App Attest assertion counter to `counter` if it has none or a
    /// smaller one, in one conditional write; `true` when it advanced.
    fn advance_assert_counter(
        &mut self,
        device_id: &Uuid,
        counter: u32,
    ) -> Result<bool, StoreError>;
    /// Marks the device revoked, with IT's reason.
    fn revoke_device(&mut self, device_id: &Uuid, reason: &str) -> Result<(), StoreError>;
    /// Sets the device's `last_seq` to `seq` if it has none or a smaller one, in one
    /// conditional write (`... WHERE device_id = ? AND (last_seq IS NULL OR last_seq <
    /// ?)`); `true` when it advanced. `false` for an unknown device or a seq not above the
    /// last one, including one a concurrent transaction just accepted.
    fn advance_seq(&mut self, device_id: &Uuid, seq: u64) -> Result<bool, StoreError>;
    /// Records an accepted attestation. `(device_id, seq)` is unique: a duplicate is
    /// [`StoreError::Conflict`]. Does not touch `last_seq` (see [`Tx::advance_seq`]).
    fn insert_attestation(&mut self, row: &AttestationRow) -> Result<(), StoreError>;
    /// The device's accepted attestation with the highest `seq`.
    fn latest_attestation(
        &mut self,
        device_id: &Uuid,
    ) -> Result<Option<AttestationRow>, StoreError>;
    /// The device's accepted attestations with the highest `seq`, newest first, at most
    /// `limit` (the officer view's recent results). A backend reads only those rows from
    /// its `(device_id, seq)` key, whatever the device's history.
    fn recent_attestations(
        &mut self,
        device_id: &Uuid,
        limit: u32,
    ) -> Result<Vec<AttestationRow>, StoreError>;
    /// Every device of the officers registered in `department` and not retired (the
    /// officer's current department decides, not the one recorded at enrollment), each
    /// with its latest accepted attestation, by officer id then enrollment time. The
    /// department report's bulk read: one query for the whole department instead of two
    /// per officer.
    fn department_devices(
        &mut self,
        department: &str,
    ) -> Result<Vec<(DeviceRow, Option<AttestationRow>)>, StoreError>;
    /// When the device's `n`-th latest accepted attestation (by `seq`; 1 is the latest)
    /// was received; `None` when it has fewer than `n` (or `n` is 0). The policy's
    /// per-device limit is "the `n`-th latest is outside the last 24 hours"; a backend
    /// answers it from its `(device_id, seq)` key without reading the `n - 1` newer rows,
    /// so the check costs little whatever the limit.
    fn nth_latest_received_at(
        &mut self,
        device_id: &Uuid,
        n: u32,
    ) -> Result<Option<u64>, StoreError>;
    /// When the device's offline attestations (no fresh nonce) received after `since`
    /// were received, newest first, at most `at_most`. Attestations are received in
    /// `seq` order, so a backend walks them newest first and stops at the first one
    /// received at or before `since`: the cost is bounded by the device's attestations
    /// in the window, not by its history.
    fn offline_received_since(
        &mut self,
        device_id: &Uuid,
        since: u64,
        at_most: u32,
    ) -> Result<Vec<u64>, StoreError>;

    // audit log
    /// The audit log's rows as seen by this transaction, for `pramaan_tlog`'s algorithms
    /// (appends in a write transaction; checkpoints, entries and proofs in a read one).
    fn log(&mut self) -> &mut dyn LogStore<Error = StoreError>;

    /// Appends to the audit log inside this transaction (`pramaan_tlog::append` over
    /// [`Tx::log`]); returns the leaf index.
    fn append_log(&mut self, entry: &LogEntry) -> Result<u64, StoreError> {
        pramaan_tlog::append(self.log(), entry).map_err(StoreError::from_log)
    }

    /// Row counts of every table.
    fn counts(&mut self) -> Result<Counts, StoreError>;

    // evidence
    /// The installed revocation status list, if any.
    fn status_list(&mut self) -> Result<Option<StatusListRow>, StoreError>;
    /// Installs a status list, replacing the previous one.
    fn set_status_list(&mut self, row: &StatusListRow) -> Result<(), StoreError>;

    // signed checkpoints
    /// The checkpoint signed last: the largest size, the latest inserted among equal
    /// sizes. `None` before the first.
    fn latest_checkpoint(&mut self) -> Result<Option<CheckpointRow>, StoreError>;
    /// Keeps a signed checkpoint. Every one is kept (none is replaced), so the notes the
    /// server ever published can be compared later.
    fn insert_checkpoint(&mut self, row: &CheckpointRow) -> Result<(), StoreError>;
    /// At most `limit` stored checkpoints of size `>= from_size`, in signing order.
    fn checkpoints(&mut self, from_size: u64, limit: u64)
    -> Result<Vec<CheckpointRow>, StoreError>;
}

/// Delivers a job's outcome once its transaction is durable (`true`) or failed (`false`).
pub type Finisher = Box<dyn FnOnce(bool) + Send>;

/// A unit of work for [`Store::submit`]: runs in a transaction (possibly shared with other
/// jobs) and says whether its writes are kept, plus what to do once the commit is known.
pub type Job = Box<dyn FnOnce(&mut dyn Tx) -> (bool, Finisher) + Send>;

/// A storage backend.
///
/// Besides the [`Tx`] rules, a backend guarantees:
///
/// - [`Store::with_tx`] transactions are durable once they return `Ok` after committing
///   (an answer sent is a record kept) and see every transaction committed before them.
/// - [`Store::with_read`] sees one consistent snapshot of committed state (never another
///   transaction's uncommitted writes) and **does not wait for writers**: the auditor
///   pulling a large bundle, the compliance view and token lookups must not stall the
///   writer, nor be stalled by its fsync. Writes inside it fail.
/// - [`Store::submit`] may share one commit between jobs, but each job's writes are kept
///   or rolled back alone, and a later job sees an earlier one's kept writes.
/// - A database written by a newer schema than the backend knows is refused at open.
pub trait Store: Send + Sync {
    /// Runs `f` in one transaction: committed when it returns `Ok(true)`, rolled back
    /// otherwise. Prefer the typed [`transaction`] helper.
    fn with_tx(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs `f` for reading only, on a snapshot of the last committed state, without
    /// waiting for writers. Writes inside fail. The default is [`Store::with_tx`], which
    /// is correct but does wait: a backend should override it.
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
}

/// Hands `job` to a group-commit writer thread's queue, waiting while it is full (a
/// backend's [`Store::submit`] once its writer runs).
pub(crate) fn queue_for_writer(
    writer: &std::sync::mpsc::SyncSender<Job>,
    job: Job,
) -> Result<(), StoreError> {
    use std::sync::mpsc::TrySendError;
    let stopped = || StoreError::CommitFailed("the writer has stopped".into());
    match writer.try_send(job) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(job)) => writer.send(job).map_err(|_| stopped()),
        Err(TrySendError::Disconnected(_)) => Err(stopped()),
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

//! pramaan-tlog: the tamper-evident audit log without its storage (design section 7).
//!
//! Why a Merkle log and not a table: an auditor must be able to check, offline and without
//! trusting the server, that what they were shown is what the server recorded and that
//! nothing was later removed or rewritten. Every accepted enrollment, attestation (the raw
//! COSE bytes as received plus the verdict), revocation and policy change becomes one leaf
//! ([`LogEntry`], CBOR). Leaves and nodes hash as in RFC 9162 ([`tree`]), the server signs
//! checkpoints as C2SP tlog-checkpoints in C2SP signed notes ([`checkpoint`]), and serves
//! RFC 9162 inclusion and consistency proofs that anyone can verify ([`proof`]). A
//! storage backend keeps every complete subtree hash behind the [`store::LogStore`]
//! contract so proofs are O(log n) reads; [`store`] holds the append and proof algorithms
//! over it. [`bundle`] packs a checkpoint, a range of entries, their proofs and the
//! enrollments holding the device keys into one file that `pramaan audit verify` checks
//! offline.
//!
//! An auditor's verifier needs this crate and `pramaan-core` only: no server, no database.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod checkpoint;
pub mod keychain;
pub mod proof;
pub mod semantics;
pub mod store;
pub mod tree;
pub mod witness;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use pramaan_core::claims::{Assurance, Failure, Verdict};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::model::Officer;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use checkpoint::{Checkpoint, LogSigner, MissingSignature, NoteError, VerifierKey};
pub use proof::{ProofError, verify_consistency, verify_inclusion, verify_range};
pub use store::{
    LogStore, append, append_leaf, checkpoint, consistency_proof, entries, find_enrollments,
    inclusion_proof, inclusion_proofs, range_proof, root, size,
};
pub use tree::{Hash, leaf_hash};

/// Most entries one `GET /v1/audit/entries` answers; clients page.
pub const MAX_ENTRIES_PER_REQUEST: u64 = 1000;

/// Most leaf bytes one `GET /v1/audit/entries` answers (before base64), unless the client
/// asks for less with `max_bytes`; a page always has at least one entry, so a leaf larger
/// than this still gets through, alone.
pub const MAX_PAGE_BYTES: u64 = 4 << 20;

/// Most indices one `POST /v1/audit/proof/inclusions` and most devices one
/// `POST /v1/audit/enrollments` accept.
pub const MAX_BATCH: usize = 1000;

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The storage backend failed (never the caller's fault).
    #[error("log store: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// Signing a checkpoint failed (a log name a note cannot carry).
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A proof was asked for a leaf past the tree (a caller's bad query).
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// A tree size past the log's current size was asked for.
    #[error("tree size {requested} is larger than the log ({size} entries)")]
    SizeOutOfRange {
        /// The size asked for.
        requested: u64,
        /// The log's size.
        size: u64,
    },
    /// A range proof was asked for an empty range or one past the tree.
    #[error("range [{start}, {end}) is empty or not within tree size {size}")]
    BadRange {
        /// First index asked for.
        start: u64,
        /// End asked for (exclusive).
        end: u64,
        /// The tree size asked for.
        size: u64,
    },
    /// A consistency proof was asked from a larger to a smaller tree.
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder {
        /// The old size asked for.
        old: u64,
        /// The new size asked for.
        new: u64,
    },
    /// Leaf data that is not a [`LogEntry`] (corrupt store or untrusted input).
    #[error("log entry is not valid CBOR of a known kind: {0}")]
    BadEntry(String),
}

/// What one leaf records. Encoded as CBOR maps tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEntry {
    /// An accepted enrollment: `request` is the raw COSE_Sign1 enroll request as received
    /// (its payload carries the device COSE_Key; it is signed by that key).
    Enrollment {
        /// When it was accepted, seconds since the Unix epoch.
        at: u64,
        /// The officer's department.
        department: String,
        /// The officer the device was bound to.
        officer_id: String,
        /// The device id the server assigned.
        device_id: Uuid,
        /// The raw COSE_Sign1 enroll request.
        #[serde(with = "serde_bytes")]
        request: Vec<u8>,
        /// `hardware` or `software`: what the server concluded about the device key.
        assurance: Assurance,
        /// What the enrollment's platform evidence proved, as the server recorded it for
        /// the device (an input of every later verdict). Absent in entries written before
        /// verdict inputs were logged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<EvidenceSummary>,
    },
    /// An accepted attestation: the raw COSE bytes as received and the verdict.
    Attestation {
        /// When it was accepted, seconds since the Unix epoch.
        at: u64,
        /// The officer's department.
        department: String,
        /// The officer the device is bound to.
        officer_id: String,
        /// The attesting device.
        device_id: Uuid,
        /// The raw COSE_Sign1 attestation, verifiable with the enrolled key.
        #[serde(with = "serde_bytes")]
        token: Vec<u8>,
        /// `affirming`, `warning` or `contraindicated`.
        verdict: Verdict,
        /// The failed rules behind the verdict.
        failures: Vec<Failure>,
        /// Whether the token answered a live server nonce (`false`: an offline check-in,
        /// at best a warning). Absent in entries written before verdict inputs were logged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fresh_nonce: Option<bool>,
        /// Fresh platform evidence the token carried and the server accepted: from this
        /// entry on it is the device's evidence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<EvidenceSummary>,
    },
    /// A device revoked by IT; its later attestations are refused.
    Revocation {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The device's department.
        department: String,
        /// The revoked device.
        device_id: Uuid,
        /// IT's reason, as given.
        reason: String,
        /// Label of the IT or admin token that revoked it.
        by: String,
    },
    /// A department's policy was set or replaced.
    PolicyChange {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The department.
        department: String,
        /// The new policy, as JSON.
        policy_json: String,
        /// Label of the IT or admin token that changed it.
        by: String,
    },
    /// Officer registry rows imported (inserted or replaced), exactly as stored.
    RegistryImport {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The rows, in file order.
        officers: Vec<Officer>,
        /// Label of the IT or admin token that imported them.
        by: String,
    },
    /// One group's roster replaced (the handles R4 compares against).
    RosterSet {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The department.
        department: String,
        /// The messaging platform, as in the policy.
        platform: String,
        /// The group id, as in the policy.
        group: String,
        /// The member handles, as stored.
        handles: Vec<String>,
        /// Label of the IT or admin token that set it.
        by: String,
    },
    /// An enrollment token issued. Never the token: its SHA-256, which the enrollment
    /// request carries too (`token_hash`), so an auditor ties each enrollment to the
    /// issuance that allowed it.
    EnrollTokenIssued {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The officer's department.
        department: String,
        /// The officer it enrolls a device for.
        officer_id: String,
        /// SHA-256 of the token text.
        #[serde(with = "serde_bytes")]
        token_hash: Vec<u8>,
        /// When it stops being accepted, seconds since the Unix epoch.
        expires: u64,
        /// Whether it may enroll a second active device.
        allow_additional: bool,
        /// Label of the IT or admin token that issued it.
        by: String,
    },
    /// An enrollment token cancelled by IT before it was used: from this entry on it
    /// enrolls nothing (an enrollment with it after this is a forgery).
    EnrollTokenCancelled {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The officer's department.
        department: String,
        /// The officer it was issued for.
        officer_id: String,
        /// SHA-256 of the token text, as its `EnrollTokenIssued` entry records it.
        #[serde(with = "serde_bytes")]
        token_hash: Vec<u8>,
        /// Label of the IT or admin token that cancelled it.
        by: String,
    },
    /// An API (bearer) token created for IT, auditors or admins. Never the token.
    ApiTokenIssued {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// `it`, `auditor` or `admin`.
        role: String,
        /// The department an IT token is limited to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<String>,
        /// The token's label (what logs and this log name it by).
        label: String,
        /// SHA-256 of the token text.
        #[serde(with = "serde_bytes")]
        token_hash: Vec<u8>,
    },
    /// Google's attestation revocation status list installed (an input of every verdict
    /// on Android evidence).
    StatusListInstalled {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// When Google published the copy, seconds since the Unix epoch.
        fetched_at: u64,
        /// The list as installed (Google's JSON).
        json: String,
        /// Label of the admin token that installed it.
        by: String,
    },
    /// An officer retired (`pramaan officers retire`): the registry row stays, marked
    /// retired; the officer leaves the compliance report; the listed devices (the active
    /// ones) are revoked with `reason` and outstanding enrollment tokens cancelled, in the
    /// same transaction as this entry. A later registry import of the id reinstates it.
    OfficerRetired {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The officer's department.
        department: String,
        /// The retired officer.
        officer_id: String,
        /// IT's reason, as given (also the devices' revocation reason).
        reason: String,
        /// The devices revoked by the retirement.
        devices: Vec<Uuid>,
        /// Label of the IT or admin token that retired the officer.
        by: String,
    },
    /// An officer moved to another department (`pramaan officers move`, or an admin's
    /// registry import row with another department). The officer's devices follow (their
    /// department changes in the same transaction); outstanding enrollment tokens are
    /// cancelled.
    OfficerMoved {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The officer.
        officer_id: String,
        /// The department the officer left.
        from: String,
        /// The department the officer joined.
        to: String,
        /// The devices (revoked ones included) now of department `to`.
        devices: Vec<Uuid>,
        /// Label of the admin token that moved the officer.
        by: String,
    },
    /// IT asked a device for fresh evidence at its next check-in.
    ReattestRequested {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The device's department.
        department: String,
        /// The device.
        device_id: Uuid,
        /// Label of the IT or admin token that asked.
        by: String,
    },
    /// The checkpoint (log) key replaced (`pramaan admin rotate-key log`): checkpoints
    /// after the handover checkpoint, the first one whose tree holds this entry and the
    /// last one signed by `old`, are signed by `new` under the same origin. `signature`
    /// is `old`'s Ed25519 signature over [`keychain::rotation_statement`] of the two
    /// keys, so an auditor holding only the first key follows the chain ([`keychain`]).
    LogKeyRotated {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The verifier key (C2SP text) that signed checkpoints until now.
        old: String,
        /// The verifier key (C2SP text) that signs checkpoints from now on.
        new: String,
        /// `old`'s signature over the rotation statement.
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
        /// Who rotated it (`admin-cli`).
        by: String,
    },
    /// The key that signs the server's answers to devices was rotated (`pramaan admin
    /// rotate-key answer`): `endorsement` is the COSE_Sign1 by `old_key` over
    /// `{old_key, new_key, since}` that every later answer carries (pramaan-core's
    /// `agent::answer_keys`). The replay checks the endorsement and that each rotation
    /// starts at the key the one before ended with.
    AnswerKeyRotated {
        /// When, seconds since the Unix epoch.
        at: u64,
        /// The key replaced (Ed25519, 32 bytes).
        #[serde(with = "serde_bytes")]
        old_key: Vec<u8>,
        /// The key that signs answers from now on (Ed25519, 32 bytes).
        #[serde(with = "serde_bytes")]
        new_key: Vec<u8>,
        /// The endorsement of `new_key` by `old_key` (COSE_Sign1).
        #[serde(with = "serde_bytes")]
        endorsement: Vec<u8>,
        /// Who rotated it (`admin-cli`: the command on the data directory).
        by: String,
    },
}

impl LogEntry {
    /// The leaf data (CBOR).
    pub fn to_leaf(&self) -> Vec<u8> {
        pramaan_core::claims::encode(self)
    }

    /// Parses leaf data (untrusted: size-limited, strict, no trailing bytes).
    pub fn from_leaf(b: &[u8]) -> Result<Self, LogError> {
        let mut cursor = std::io::Cursor::new(b);
        let entry: Self = ciborium::from_reader(&mut cursor)
            .map_err(|e| LogError::BadEntry(cbor_error_text(&e)))?;
        if usize::try_from(cursor.position()).ok() != Some(b.len()) {
            return Err(LogError::BadEntry("trailing bytes after the entry".into()));
        }
        Ok(entry)
    }

    /// The entry's kind as written in the leaf (`enrollment`, `attestation`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            LogEntry::Enrollment { .. } => "enrollment",
            LogEntry::Attestation { .. } => "attestation",
            LogEntry::Revocation { .. } => "revocation",
            LogEntry::PolicyChange { .. } => "policy_change",
            LogEntry::RegistryImport { .. } => "registry_import",
            LogEntry::RosterSet { .. } => "roster_set",
            LogEntry::EnrollTokenIssued { .. } => "enroll_token_issued",
            LogEntry::EnrollTokenCancelled { .. } => "enroll_token_cancelled",
            LogEntry::ApiTokenIssued { .. } => "api_token_issued",
            LogEntry::StatusListInstalled { .. } => "status_list_installed",
            LogEntry::ReattestRequested { .. } => "reattest_requested",
            LogEntry::OfficerRetired { .. } => "officer_retired",
            LogEntry::OfficerMoved { .. } => "officer_moved",
            LogEntry::LogKeyRotated { .. } => "log_key_rotated",
            LogEntry::AnswerKeyRotated { .. } => "answer_key_rotated",
        }
    }

    /// When the server wrote it, seconds since the Unix epoch.
    pub fn at(&self) -> u64 {
        match self {
            LogEntry::Enrollment { at, .. }
            | LogEntry::Attestation { at, .. }
            | LogEntry::Revocation { at, .. }
            | LogEntry::PolicyChange { at, .. }
            | LogEntry::RegistryImport { at, .. }
            | LogEntry::RosterSet { at, .. }
            | LogEntry::EnrollTokenIssued { at, .. }
            | LogEntry::EnrollTokenCancelled { at, .. }
            | LogEntry::ApiTokenIssued { at, .. }
            | LogEntry::StatusListInstalled { at, .. }
            | LogEntry::ReattestRequested { at, .. }
            | LogEntry::OfficerRetired { at, .. }
            | LogEntry::OfficerMoved { at, .. }
            | LogEntry::LogKeyRotated { at, .. }
            | LogEntry::AnswerKeyRotated { at, .. } => *at,
        }
    }

    /// The device the entry is about, if any.
    pub fn device_id(&self) -> Option<Uuid> {
        match self {
            LogEntry::Enrollment { device_id, .. }
            | LogEntry::Attestation { device_id, .. }
            | LogEntry::Revocation { device_id, .. }
            | LogEntry::ReattestRequested { device_id, .. } => Some(*device_id),
            _ => None,
        }
    }
}

pub use pramaan_core::encoding::cbor_error_text;

// ---- JSON shapes of the audit endpoints (design section 8) ----

/// Query of `GET /v1/audit/entries?start&end[&max_bytes]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesQuery {
    /// First index.
    pub start: u64,
    /// End index (exclusive).
    pub end: u64,
}

/// The optional page budget of `GET /v1/audit/entries`: `max_bytes` of leaf data (the
/// server's [`MAX_PAGE_BYTES`] when absent or larger).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    /// Most leaf bytes wanted in the page.
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// Query of `GET /v1/audit/proof/inclusion?index&size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionQuery {
    /// Leaf index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
}

/// Query of `GET /v1/audit/proof/consistency?old&new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyQuery {
    /// Earlier tree size.
    pub old: u64,
    /// Later tree size.
    pub new: u64,
}

/// Query of `GET /v1/audit/proof/range?start&end&size`; the answer is a [`ProofResponse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQuery {
    /// First index of the range.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
    /// Tree size the proof is for.
    pub size: u64,
}

/// Body of `POST /v1/audit/proof/inclusions`: at most [`MAX_BATCH`] indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionsRequest {
    /// Tree size the proofs are for.
    pub size: u64,
    /// Leaf indices.
    pub indices: Vec<u64>,
}

/// One proof of a [`InclusionsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedProof {
    /// Leaf index.
    pub index: u64,
    /// Standard base64 of each 32-byte hash, leaf side first.
    pub hashes: Vec<String>,
}

/// `POST /v1/audit/proof/inclusions` answer: `{proofs: [{index, hashes}]}` in the order
/// asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionsResponse {
    /// The proofs.
    pub proofs: Vec<IndexedProof>,
}

/// Body of `POST /v1/audit/enrollments`: the latest enrollment entry before `before` of
/// each of at most [`MAX_BATCH`] devices (the keys an incremental bundle needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentsRequest {
    /// Look at entries below this index.
    pub before: u64,
    /// The devices.
    pub devices: Vec<Uuid>,
}

/// One entry in `GET /v1/audit/entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryJson {
    /// Leaf index.
    pub index: u64,
    /// Standard base64 of the leaf data.
    pub leaf_b64: String,
}

/// `GET /v1/audit/entries` answer: `{entries: [{index, leaf_b64}], next}`; also the
/// answer of `POST /v1/audit/enrollments` (where `next` is `before`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesResponse {
    /// The entries, in index order (possibly fewer than asked for).
    pub entries: Vec<EntryJson>,
    /// Where to continue: the index after the last entry given (`start` when none).
    #[serde(default)]
    pub next: u64,
}

/// Proof answers: `{hashes: [base64...]}`, leaf side first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofResponse {
    /// Standard base64 of each 32-byte hash.
    pub hashes: Vec<String>,
}

/// Leaves read per query while filling a page.
const PAGE_CHUNK: u64 = 128;

/// One page of entries from `start`: at most [`MAX_ENTRIES_PER_REQUEST`], below `end`, and
/// at most `max_bytes` (capped at [`MAX_PAGE_BYTES`]) of leaf data, but at least one entry
/// (so a leaf larger than the budget still gets through, alone). Leaves are read a few at
/// a time, so a page of huge leaves never reads far past its budget.
pub fn entries_page<S>(
    store: &mut S,
    start: u64,
    end: u64,
    max_bytes: u64,
) -> Result<Vec<(u64, Vec<u8>)>, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let budget = max_bytes.min(MAX_PAGE_BYTES);
    let end = end.min(start.saturating_add(MAX_ENTRIES_PER_REQUEST));
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut bytes = 0u64;
    let mut next = start;
    while next < end {
        let chunk = entries(store, next, end.min(next.saturating_add(PAGE_CHUNK)))?;
        if chunk.is_empty() {
            break;
        }
        for (index, data) in chunk {
            let len = data.len() as u64;
            if !out.is_empty() && bytes.saturating_add(len) > budget {
                return Ok(out);
            }
            bytes = bytes.saturating_add(len);
            next = index + 1;
            out.push((index, data));
        }
    }
    Ok(out)
}

impl EntriesResponse {
    /// Entries from `start`: at most [`MAX_ENTRIES_PER_REQUEST`], up to `end`, and at most
    /// [`MAX_PAGE_BYTES`] of leaf data (but at least one entry).
    pub fn load<S>(store: &mut S, q: EntriesQuery) -> Result<Self, LogError>
    where
        S: LogStore + ?Sized,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        Self::load_bounded(store, q, MAX_PAGE_BYTES)
    }

    /// [`Self::load`] with a page budget of `max_bytes` of leaf data (see
    /// [`entries_page`]).
    pub fn load_bounded<S>(store: &mut S, q: EntriesQuery, max_bytes: u64) -> Result<Self, LogError>
    where
        S: LogStore + ?Sized,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        let leaves = entries_page(store, q.start, q.end, max_bytes)?;
        let next = leaves.last().map_or(q.start, |(i, _)| i + 1);
        Ok(Self::from_leaves(leaves, next))
    }

    /// The entries as `(index, leaf)`; `Err(index)` names the first that is not base64.
    pub fn decode(self) -> Result<Vec<(u64, Vec<u8>)>, u64> {
        self.entries
            .into_iter()
            .map(|e| {
                B64.decode(&e.leaf_b64)
                    .map(|leaf| (e.index, leaf))
                    .map_err(|_| e.index)
            })
            .collect()
    }

    /// Encodes `(index, leaf)` pairs (the enrollments answer).
    pub fn from_leaves(leaves: Vec<(u64, Vec<u8>)>, next: u64) -> Self {
        Self {
            entries: leaves
                .into_iter()
                .map(|(index, data)| EntryJson {
                    index,
                    leaf_b64: B64.encode(data),
                })
                .collect(),
            next,
        }
    }
}

impl ProofResponse {
    /// Encodes proof hashes for the JSON answer.
    pub fn from_hashes(hashes: &[Hash]) -> Self {
        Self {
            hashes: hashes.iter().map(|h| B64.encode(h)).collect(),
        }
    }

    /// Decodes the hashes; `None` if one is not base64 of 32 bytes.
    pub fn to_hashes(&self) -> Option<Vec<Hash>> {
        decode_hashes(&self.hashes)
    }
}

impl InclusionsResponse {
    /// Encodes `(index, proof)` pairs for the JSON answer.
    pub fn from_proofs(proofs: &[(u64, Vec<Hash>)]) -> Self {
        Self {
            proofs: proofs
                .iter()
                .map(|(index, p)| IndexedProof {
                    index: *index,
                    hashes: ProofResponse::from_hashes(p).hashes,
                })
                .collect(),
        }
    }

    /// Decodes the proofs; `Err(index)` names the first with a hash that is not base64 of
    /// 32 bytes.
    pub fn to_proofs(&self) -> Result<Vec<(u64, Vec<Hash>)>, u64> {
        self.proofs
            .iter()
            .map(|p| {
                decode_hashes(&p.hashes)
                    .map(|h| (p.index, h))
                    .ok_or(p.index)
            })
            .collect()
    }
}

fn decode_hashes(hashes: &[String]) -> Option<Vec<Hash>> {
    hashes
        .iter()
        .map(|s| B64.decode(s).ok().and_then(|b| b.try_into().ok()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_garbage_is_refused() {
        let e = LogEntry::Attestation {
            at: 1,
            department: "GAD".into(),
            officer_id: "o1".into(),
            device_id: Uuid::from_u128(7),
            token: vec![1, 2, 3],
            verdict: Verdict::Warning,
            failures: vec![Failure {
                rule: pramaan_core::policy::Rule::R5,
                detail: "no lock".into(),
            }],
            fresh_nonce: Some(false),
            evidence: None,
        };
        let leaf = e.to_leaf();
        assert_eq!(LogEntry::from_leaf(&leaf).expect("parse"), e);
        // The verdict is typed: a leaf naming one the design does not have is refused.
        let mut v: ciborium::Value = ciborium::from_reader(&leaf[..]).expect("cbor");
        if let ciborium::Value::Map(m) = &mut v {
            for (k, val) in m.iter_mut() {
                if k.as_text() == Some("verdict") {
                    *val = ciborium::Value::Text("compliantish".into());
                }
            }
        }
        let forged = pramaan_core::encoding::cbor_encode(&v);
        assert_ne!(forged, leaf);
        assert!(LogEntry::from_leaf(&forged).is_err());
        let mut trailing = leaf.clone();
        trailing.push(0);
        assert!(LogEntry::from_leaf(&trailing).is_err());
        assert!(LogEntry::from_leaf(&[]).is_err());
        assert!(LogEntry::from_leaf(&leaf[..leaf.len() - 1]).is_err());
        for e in [
            LogEntry::Revocation {
                at: 2,
                department: "D".into(),
                device_id: Uuid::from_u128(1),
                reason: "lost".into(),
                by: "it".into(),
            },
            LogEntry::PolicyChange {
                at: 3,
                department: "D".into(),
                policy_json: "{}".into(),
                by: "admin".into(),
            },
            LogEntry::RosterSet {
                at: 4,
                department: "D".into(),
                platform: "WhatsApp".into(),
                group: "g".into(),
                handles: vec!["+911".into()],
                by: "it".into(),
            },
            LogEntry::EnrollTokenIssued {
                at: 5,
                department: "D".into(),
                officer_id: "o".into(),
                token_hash: vec![7; 32],
                expires: 9,
                allow_additional: false,
                by: "it".into(),
            },
            LogEntry::ReattestRequested {
                at: 6,
                department: "D".into(),
                device_id: Uuid::from_u128(2),
                by: "it".into(),
            },
            LogEntry::EnrollTokenCancelled {
                at: 7,
                department: "D".into(),
                officer_id: "o".into(),
                token_hash: vec![7; 32],
                by: "it".into(),
            },
            LogEntry::AnswerKeyRotated {
                at: 8,
                old_key: vec![1; 32],
                new_key: vec![2; 32],
                endorsement: vec![3; 90],
                by: "admin-cli".into(),
            },
        ] {
            assert_eq!(LogEntry::from_leaf(&e.to_leaf()).expect("parse"), e);
            assert!(e.at() >= 2, "{}", e.kind());
        }
    }
}

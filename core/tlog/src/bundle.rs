//! Offline audit bundles: one CBOR file an auditor verifies with nothing but the log key.
//!
//! Why a bundle: auditors work offline and must not have to trust the server or the
//! person who handed them the file. A bundle carries a signed checkpoint, a contiguous
//! range of entries, ONE range proof that the range's leaves are the leaves `[start, end)`
//! of that checkpoint's tree (format 2; format 1 bundles carried an RFC 9162 inclusion
//! proof per entry and still verify), the enrollment entries (each with its inclusion
//! proof) that hold the keys of every device whose attestations are in the range, and
//! optionally consistency proofs from earlier tree sizes. [`verify_bundle`] checks the note
//! signature, every proof, that the range has no gap, every enrollment's proof of
//! possession and every attestation's ES256 signature under the enrolled key, and, given a
//! checkpoint kept from earlier, that the log only grew since (or, for a checkpoint newer
//! than the bundle, says so). The first failure is reported with the entry index and what
//! failed (a range proof that fails names the range: it cannot tell which leaf changed).
//!
//! Why one range proof: per-entry proofs cost one request and ~20 hashes per entry; the
//! range proof is O(log n) hashes for the whole range, so a pull is paging through leaves
//! and a verify is hashing them once.
//!
//! When the checkpoint key was rotated ([`crate::keychain`]), the bundle (format 3)
//! carries each rotation as a [`KeyStep`]: the rotation entry, its inclusion proof in the
//! handover checkpoint signed by the old key, and a consistency proof from that
//! checkpoint to the bundle's. The verifier walks the steps from the key the auditor
//! holds, so a log key given out once stays enough for the log's whole life.
//!
//! [`build_bundle`] assembles a bundle through a fetch callback that speaks the audit
//! endpoints, so `pramaan audit pull` drives it over HTTPS and tests drive it straight
//! from a local log store ([`build_bundle_from_store`]).

use std::collections::{HashMap, HashSet};

use pramaan_core::claims::{self, Attestation, EnrollRequest};
use pramaan_core::cose::Sign1;
use pramaan_core::keys::P256PublicKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checkpoint::{Checkpoint, LogSigner, NoteError, VerifierKey};
use crate::proof::{
    ProofError, hashes_from_bytes, hashes_to_bytes, verify_consistency, verify_inclusion,
    verify_range,
};
use crate::semantics::Violation;
use crate::tree::{Hash, leaf_hash};
use crate::{LogEntry, LogError, LogStore, MAX_BATCH, MAX_PAGE_BYTES};

/// Format version written into every bundle: one range proof for the range.
pub const BUNDLE_VERSION: u32 = 2;

/// The first format: an inclusion proof per entry (still verified).
pub const BUNDLE_VERSION_1: u32 = 1;

/// Format 2 with the chain of checkpoint keys ([`Bundle::key_chain`]); written only when
/// the log's key was rotated, so other bundles stay readable by older verifiers.
pub const BUNDLE_VERSION_3: u32 = 3;

/// The file format (CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Format version, [`BUNDLE_VERSION`] or [`BUNDLE_VERSION_1`]; others are refused,
    /// not guessed at.
    pub version: u32,
    /// The signed checkpoint note (C2SP signed note of a C2SP tlog-checkpoint).
    pub checkpoint: String,
    /// The range `[start, end)` of entries carried.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
    /// Every entry of the range, in index order (format 1: each with its inclusion proof;
    /// format 2: without).
    pub entries: Vec<BundleEntry>,
    /// Enrollment entries outside the range that hold keys of devices attesting in it.
    pub enrollments: Vec<BundleEntry>,
    /// Consistency proofs from earlier tree sizes to the checkpoint's size.
    pub consistency: Vec<ConsistencyEntry>,
    /// Format 2: the range proof of `[start, end)` (concatenated 32-byte hashes, as
    /// [`crate::tree::range_path`] orders them); empty for an empty range and in format 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "serde_bytes")]
    pub range_proof: Vec<u8>,
    /// Format 3: every rotation of the checkpoint key up to the checkpoint, in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_chain: Vec<KeyStep>,
}

/// One rotation of the checkpoint key, as a bundle carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStep {
    /// Leaf index of the [`LogEntry::LogKeyRotated`] entry.
    pub index: u64,
    /// The entry (CBOR).
    #[serde(with = "serde_bytes")]
    pub leaf: Vec<u8>,
    /// Its inclusion proof in the handover checkpoint's tree (concatenated hashes).
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
    /// The handover checkpoint note, signed by the old key.
    pub handover: String,
    /// Consistency proof from the handover checkpoint's size to the bundle's checkpoint's
    /// (concatenated hashes; empty when the sizes are equal).
    #[serde(default, with = "serde_bytes")]
    pub consistency: Vec<u8>,
}

/// One leaf with its inclusion proof against the bundle's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// Leaf index in the log.
    pub index: u64,
    /// The leaf data: a [`LogEntry`] as CBOR.
    #[serde(with = "serde_bytes")]
    pub leaf: Vec<u8>,
    /// Concatenated 32-byte hashes of its inclusion proof, leaf side first (empty for the
    /// range's entries in format 2, which the range proof covers).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "serde_bytes")]
    pub proof: Vec<u8>,
}

/// A consistency proof from `old_size` to the checkpoint's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyEntry {
    /// The earlier tree size the proof starts from.
    pub old_size: u64,
    /// Concatenated 32-byte hashes as RFC 9162 orders them.
    #[serde(with = "serde_bytes")]
    pub proof: Vec<u8>,
}

impl Bundle {
    /// The bundle file (CBOR).
    pub fn to_bytes(&self) -> Vec<u8> {
        claims::encode(self)
    }

    /// Parses a bundle file (untrusted).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        let mut cursor = std::io::Cursor::new(bytes);
        let b: Self = ciborium::from_reader(&mut cursor)
            .map_err(|e| VerifyError::Format(crate::cbor_error_text(&e)))?;
        if usize::try_from(cursor.position()).ok() != Some(bytes.len()) {
            return Err(VerifyError::Format(
                "trailing bytes after the bundle".into(),
            ));
        }
        if ![BUNDLE_VERSION_1, BUNDLE_VERSION, BUNDLE_VERSION_3].contains(&b.version) {
            return Err(VerifyError::Format(format!(
                "unsupported bundle version {}",
                b.version
            )));
        }
        if b.version != BUNDLE_VERSION_3 && !b.key_chain.is_empty() {
            return Err(VerifyError::Format(format!(
                "a format {} bundle carries a key chain (only format 3 does)",
                b.version
            )));
        }
        Ok(b)
    }
}

/// Why a bundle does not verify. Every entry-level failure names the entry index.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file is not a bundle of a known version (bad CBOR, trailing bytes, version).
    #[error("not an audit bundle: {0}")]
    Format(String),
    /// The verifier key text does not parse.
    #[error("log key: {0}")]
    Key(NoteError),
    /// The checkpoint note does not parse or is not signed by the log key.
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    /// The checkpoint is signed by another key than the one the auditor holds (or the
    /// last the bundle's key chain reaches), and no rotation in the bundle leads there.
    #[error(
        "checkpoint: {error}; the bundle carries no rotation of the checkpoint key from \
         {held} to the key that signed it (a rotation entry left out, or a bundle pulled \
         by a pramaan that does not carry key chains: pull it again)"
    )]
    NoKeyChain {
        /// The last key reached from the auditor's (label).
        held: String,
        /// Why the checkpoint did not open with it.
        error: NoteError,
    },
    /// A step of the key chain does not hold: the entry index and what failed.
    #[error("checkpoint key rotation at entry {index}: {reason}")]
    KeyChain {
        /// Leaf index of the rotation entry.
        index: u64,
        /// What failed.
        reason: String,
    },
    /// The claimed range does not fit in the checkpoint's tree.
    #[error("range [{start}, {end}) is not within the checkpoint's {size} entries")]
    Range {
        /// Claimed start.
        start: u64,
        /// Claimed end (exclusive).
        end: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// An index of the range is missing: entries were left out.
    #[error(
        "entry {index}: missing (the range must be contiguous; found entry {found} in its place)"
    )]
    Gap {
        /// The index expected next.
        index: u64,
        /// The index found instead.
        found: u64,
    },
    /// Fewer entries than the range promises.
    #[error("entries end at {found}, the range promises {end}")]
    Truncated {
        /// Where the carried entries end.
        found: u64,
        /// Where the range says they end.
        end: u64,
    },
    /// The range proof (format 2) does not lead to the checkpoint's root with the range's
    /// leaves: an entry of the range or the proof was altered.
    #[error(
        "entries [{start}, {end}): the range proof does not match the checkpoint \
         (an entry of the range or the proof was altered): {source}"
    )]
    RangeProof {
        /// Start of the range.
        start: u64,
        /// End of the range (exclusive).
        end: u64,
        /// How the proof failed.
        source: ProofError,
    },
    /// An entry's inclusion proof does not lead to the checkpoint's root.
    #[error("entry {index}: inclusion proof: {source}")]
    Inclusion {
        /// Leaf index of the entry.
        index: u64,
        /// How the proof failed.
        source: ProofError,
    },
    /// An entry is not a valid [`LogEntry`].
    #[error("entry {index}: {reason}")]
    Entry {
        /// Leaf index of the entry.
        index: u64,
        /// Why it does not parse.
        reason: String,
    },
    /// An enrollment's request does not parse or its proof of possession fails.
    #[error("entry {index} (enrollment): {reason}")]
    Enrollment {
        /// Leaf index of the enrollment.
        index: u64,
        /// What failed.
        reason: String,
    },
    /// An attestation has no enrolled key in the bundle or its signature does not verify.
    #[error("entry {index} (attestation of device {device_id}): {reason}")]
    Attestation {
        /// Leaf index of the attestation.
        index: u64,
        /// The device it claims to come from.
        device_id: Uuid,
        /// What failed.
        reason: String,
    },
    /// The earlier checkpoint does not parse or is not signed by the log key.
    #[error("earlier checkpoint: {0}")]
    Since(NoteError),
    /// The other checkpoint names another log.
    #[error("the checkpoint given with --since is of log {other:?}, the bundle of log {origin:?}")]
    OtherLog {
        /// The other checkpoint's origin.
        other: String,
        /// The bundle's origin.
        origin: String,
    },
    /// The other checkpoint has the same size but another root: a fork.
    #[error(
        "the checkpoint given with --since and the bundle's have the same size {size} but \
         different roots: two different logs of size {size} signed by the same key (a fork)"
    )]
    Fork {
        /// The common size.
        size: u64,
    },
    /// Entries that do not mean what a genuine log would ([`crate::semantics`]): each is
    /// named with its index, although every proof and signature holds.
    #[error("{} entr{} do not mean what the server would have written:{}", .0.len(), if .0.len() == 1 { "y" } else { "ies" }, list_violations(.0))]
    Meaning(Vec<Violation>),
    /// The bundle has no consistency proof from the earlier checkpoint's size.
    #[error("the bundle carries no consistency proof from size {old}; pull it with --since")]
    NoConsistencyProof {
        /// The earlier checkpoint's size.
        old: u64,
    },
    /// The consistency proof fails: entries up to the earlier size were rewritten.
    #[error(
        "the log is not consistent with the earlier checkpoint (size {old} -> {new}): {source}"
    )]
    Inconsistent {
        /// The earlier checkpoint's size.
        old: u64,
        /// This checkpoint's size.
        new: u64,
        /// How the proof failed.
        source: ProofError,
    },
}

/// What a verified bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The log's origin line (its name).
    pub origin: String,
    /// Tree size of the checkpoint.
    pub size: u64,
    /// Root hash (hex).
    pub root: String,
    /// Start of the verified range.
    pub start: u64,
    /// End of the verified range (exclusive).
    pub end: u64,
    /// Entries in the range.
    pub entries: u64,
    /// Enrollments in the range.
    pub enrollments: u64,
    /// Attestations in the range (each signature checked).
    pub attestations: u64,
    /// Revocations in the range.
    pub revocations: u64,
    /// Policy changes in the range.
    pub policy_changes: u64,
    /// Other inputs of verdicts in the range: registry imports, rosters, issued tokens,
    /// status lists, re-attestation requests.
    pub other_inputs: u64,
    /// Distinct devices with attestations in range.
    pub devices: u64,
    /// Enrollment entries outside the range carried for their keys.
    pub key_enrollments: u64,
    /// Earlier tree size the log was shown consistent with.
    pub consistent_since: Option<u64>,
    /// The size of the checkpoint given with `--since` when it is newer (larger) than the
    /// bundle's: the bundle is older than that checkpoint, which is no alarm (an old bundle
    /// checked against a checkpoint kept later); its own checks passed.
    pub older_than_since: Option<u64>,
    /// The bundle's format version.
    pub bundle_version: u32,
    /// Rotations of the checkpoint key followed from the auditor's key to the key that
    /// signed the checkpoint (0: signed by the key given).
    pub key_rotations: u64,
    /// What the replay of the entries found (no violation, else the bundle would not
    /// have verified): how many verdicts were recomputed equal and how many could not be.
    pub meaning: Meaning,
}

/// The semantic side of a verified bundle ([`crate::semantics::Report`] without the
/// violations, which fail verification).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Meaning {
    /// The range starts at entry 0: every input of every verdict is in the bundle.
    pub complete: bool,
    /// Verdicts recomputed from the logged inputs and found equal to the logged ones.
    pub verdicts_recomputed: u64,
    /// Verdicts not recomputed because an input precedes the range.
    pub verdicts_inputs_before_range: u64,
    /// Verdicts not recomputed because an input is in no entry (logs written before
    /// verdict inputs were logged).
    pub verdicts_inputs_not_logged: u64,
}

fn list_violations(v: &[Violation]) -> String {
    v.iter().map(|v| format!("\n  {v}")).collect()
}

/// Verifies a bundle against the log key (C2SP verifier key text) and, if given, an
/// earlier checkpoint note of the same log (the bundle must carry the consistency proof
/// from its size).
pub fn verify_bundle(
    bytes: &[u8],
    verifier_key: &str,
    since: Option<&str>,
) -> Result<Summary, VerifyError> {
    let vk = VerifierKey::parse(verifier_key).map_err(VerifyError::Key)?;
    let bundle = Bundle::from_bytes(bytes)?;
    verify(&bundle, &vk, since)
}

/// [`verify_bundle`] on a parsed bundle, on every core.
pub fn verify(
    bundle: &Bundle,
    vk: &VerifierKey,
    since: Option<&str>,
) -> Result<Summary, VerifyError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    verify_with_threads(bundle, vk, since, threads)
}

/// [`verify`] on `threads` threads (1 = sequential).
pub fn verify_with_threads(
    bundle: &Bundle,
    vk: &VerifierKey,
    since: Option<&str>,
    threads: usize,
) -> Result<Summary, VerifyError> {
    let (cp, chain_keys) = follow_key_chain(bundle, vk)?;
    let (start, end, size) = (bundle.start, bundle.end, cp.size);
    if start > end || end > size {
        return Err(VerifyError::Range { start, end, size });
    }
    // Contiguity: entry i must be index start + i, and all of them must be there.
    for (i, e) in bundle.entries.iter().enumerate() {
        let want = start.saturating_add(i as u64);
        if e.index != want {
            return Err(VerifyError::Gap {
                index: want,
                found: e.index,
            });
        }
    }
    let found = start.saturating_add(bundle.entries.len() as u64);
    if found != end {
        return Err(VerifyError::Truncated { found, end });
    }

    let decoded = if bundle.version == BUNDLE_VERSION_1 {
        // Inclusion proofs and decoding, in parallel.
        par_map(threads, &bundle.entries, |e| check_entry(e, &cp))?
    } else {
        check_range(bundle, &cp, threads)?
    };
    let mut key_entries = Vec::new();
    let mut seen = HashSet::new();
    for e in &bundle.enrollments {
        if (start..end).contains(&e.index) || !seen.insert(e.index) {
            return Err(VerifyError::Entry {
                index: e.index,
                reason: "key enrollment repeated or inside the range".into(),
            });
        }
        let entry = check_entry(e, &cp)?;
        if !matches!(entry, LogEntry::Enrollment { .. }) {
            return Err(VerifyError::Enrollment {
                index: e.index,
                reason: format!("carried as a key enrollment but is a {}", entry.kind()),
            });
        }
        key_entries.push((e.index, entry));
    }

    // Enrollment proofs of possession; the device keys.
    let mut keys: HashMap<Uuid, (u64, P256PublicKey)> = HashMap::new();
    let in_range = decoded
        .iter()
        .enumerate()
        .map(|(i, e)| (start + i as u64, e));
    let all_enrollments = key_entries
        .iter()
        .map(|(i, e)| (*i, e))
        .chain(in_range.clone())
        .filter(|(_, e)| matches!(e, LogEntry::Enrollment { .. }));
    for (index, e) in all_enrollments {
        if let LogEntry::Enrollment {
            device_id, request, ..
        } = e
        {
            let key = check_enrollment(request)
                .map_err(|reason| VerifyError::Enrollment { index, reason })?;
            if let Some((other, _)) = keys.insert(*device_id, (index, key)) {
                return Err(VerifyError::Enrollment {
                    index,
                    reason: format!("device {device_id} was already enrolled at entry {other}"),
                });
            }
        }
    }

    // Revocations seen in range: nothing from a revoked device may be accepted after.
    let mut revoked: HashMap<Uuid, u64> = HashMap::new();
    let mut counts = Summary {
        origin: cp.origin.clone(),
        size,
        root: hex::encode(cp.root),
        start,
        end,
        entries: end - start,
        enrollments: 0,
        attestations: 0,
        revocations: 0,
        policy_changes: 0,
        other_inputs: 0,
        devices: 0,
        key_enrollments: key_entries.len() as u64,
        consistent_since: None,
        older_than_since: None,
        bundle_version: bundle.version,
        key_rotations: chain_keys.len().saturating_sub(1) as u64,
        meaning: Meaning::default(),
    };
    let mut devices = HashSet::new();
    let mut attestations = Vec::new();
    for (index, e) in in_range {
        match e {
            LogEntry::Enrollment { .. } => counts.enrollments += 1,
            LogEntry::Revocation { device_id, .. } => {
                counts.revocations += 1;
                revoked.entry(*device_id).or_insert(index);
            }
            LogEntry::PolicyChange { .. } => counts.policy_changes += 1,
            LogEntry::RegistryImport { .. }
            | LogEntry::RosterSet { .. }
            | LogEntry::EnrollTokenIssued { .. }
            | LogEntry::EnrollTokenCancelled { .. }
            | LogEntry::ApiTokenIssued { .. }
            | LogEntry::StatusListInstalled { .. }
            | LogEntry::ReattestRequested { .. }
            | LogEntry::OfficerMoved { .. }
            | LogEntry::LogKeyRotated { .. }
            | LogEntry::AnswerKeyRotated { .. } => counts.other_inputs += 1,
            LogEntry::OfficerRetired { devices, .. } => {
                counts.other_inputs += 1;
                for device_id in devices {
                    revoked.entry(*device_id).or_insert(index);
                }
            }
            LogEntry::Attestation {
                device_id, token, ..
            } => {
                counts.attestations += 1;
                devices.insert(*device_id);
                let fail = |reason: String| VerifyError::Attestation {
                    index,
                    device_id: *device_id,
                    reason,
                };
                let Some((enrolled_at, key)) = keys.get(device_id) else {
                    return Err(fail(
                        "no enrollment entry for the device in the bundle".into(),
                    ));
                };
                if *enrolled_at > index {
                    return Err(fail(format!(
                        "device is enrolled only later, at entry {enrolled_at}"
                    )));
                }
                if let Some(r) = revoked.get(device_id) {
                    return Err(fail(format!(
                        "accepted after the device was revoked at entry {r}"
                    )));
                }
                attestations.push((index, *device_id, token.as_slice(), key));
            }
        }
    }
    counts.devices = devices.len() as u64;

    // Device signatures, in parallel (P-256 verification is the bulk of the work).
    par_map(threads, &attestations, |(index, device_id, token, key)| {
        check_attestation(token, device_id, key).map_err(|reason| VerifyError::Attestation {
            index: *index,
            device_id: *device_id,
            reason,
        })
    })?;

    // What the entries mean: the replay, from the key enrollments through the range.
    let report = crate::semantics::check(
        key_entries.iter().map(|(i, e)| (*i, e)),
        start,
        decoded
            .iter()
            .enumerate()
            .map(|(k, e)| (start + k as u64, e)),
    );
    if !report.violations.is_empty() {
        return Err(VerifyError::Meaning(report.violations));
    }
    counts.meaning = Meaning {
        complete: report.complete,
        verdicts_recomputed: report.verdicts_recomputed,
        verdicts_inputs_before_range: report.verdicts_inputs_before_range,
        verdicts_inputs_not_logged: report.verdicts_inputs_not_logged,
    };

    if let Some(old_note) = since {
        // Kept before a rotation, it is signed by an earlier key of the chain.
        let old = chain_keys
            .iter()
            .find_map(|k| k.verify_checkpoint(old_note).ok())
            .map_or_else(|| vk.verify_checkpoint(old_note), Ok)
            .map_err(VerifyError::Since)?;
        if old.origin != cp.origin {
            return Err(VerifyError::OtherLog {
                other: old.origin,
                origin: cp.origin,
            });
        }
        if old.size > size {
            // A checkpoint kept after this bundle was pulled: nothing to prove here.
            counts.older_than_since = Some(old.size);
        } else if old.size == size {
            if old.root != cp.root {
                return Err(VerifyError::Fork { size });
            }
            counts.consistent_since = Some(size);
        } else {
            let proof = if old.size == 0 {
                Vec::new()
            } else {
                let c = bundle
                    .consistency
                    .iter()
                    .find(|c| c.old_size == old.size)
                    .ok_or(VerifyError::NoConsistencyProof { old: old.size })?;
                hashes_from_bytes(&c.proof).map_err(|source| VerifyError::Inconsistent {
                    old: old.size,
                    new: size,
                    source,
                })?
            };
            verify_consistency(old.size, size, &old.root, &cp.root, &proof).map_err(|source| {
                VerifyError::Inconsistent {
                    old: old.size,
                    new: size,
                    source,
                }
            })?;
            counts.consistent_since = Some(old.size);
        }
    }
    Ok(counts)
}

/// Follows the bundle's key chain from `vk`: the first step that rotates away from `vk`
/// and every later one (earlier steps are of keys before the auditor's), each checked
/// from the key in force: the handover checkpoint's signature, the entry's inclusion in
/// it, the old key's signature over the statement, and the consistency of the handover
/// checkpoint with the bundle's. Returns the bundle's checkpoint, opened with the last
/// key reached, and the keys walked (`vk` first).
fn follow_key_chain(
    bundle: &Bundle,
    vk: &VerifierKey,
) -> Result<(Checkpoint, Vec<VerifierKey>), VerifyError> {
    let steps = &bundle.key_chain;
    let rotates_from_held = |s: &KeyStep| match LogEntry::from_leaf(&s.leaf) {
        Ok(LogEntry::LogKeyRotated { old, .. }) => {
            VerifierKey::parse(&old).ok() == Some(vk.clone())
        }
        _ => false,
    };
    let first = steps
        .iter()
        .position(rotates_from_held)
        .unwrap_or(steps.len());
    let mut keys = vec![vk.clone()];
    if first < steps.len() {
        let last = unverified_checkpoint(&bundle.checkpoint).map_err(VerifyError::Checkpoint)?;
        let mut previous: Option<u64> = None;
        for step in &steps[first..] {
            let in_force = keys.last().unwrap_or(vk).clone();
            let new = check_step(step, &in_force, &last, previous)?;
            previous = Some(step.index);
            keys.push(new);
        }
    }
    let last_key = keys.last().unwrap_or(vk);
    let cp = last_key
        .verify_checkpoint(&bundle.checkpoint)
        .map_err(|error| match error {
            NoteError::NoSignature(_) => VerifyError::NoKeyChain {
                held: last_key.label(),
                error,
            },
            other => VerifyError::Checkpoint(other),
        })?;
    Ok((cp, keys))
}

/// The bundle's checkpoint, opened with the key the auditor holds or the last key the
/// bundle's key chain reaches from it (every step checked).
pub fn open_checkpoint(bundle: &Bundle, vk: &VerifierKey) -> Result<Checkpoint, VerifyError> {
    follow_key_chain(bundle, vk).map(|(cp, _)| cp)
}

/// One step of [`follow_key_chain`]; returns the key it hands over to.
fn check_step(
    step: &KeyStep,
    in_force: &VerifierKey,
    last: &Checkpoint,
    previous: Option<u64>,
) -> Result<VerifierKey, VerifyError> {
    let fail = |reason: String| VerifyError::KeyChain {
        index: step.index,
        reason,
    };
    if let Some(p) = previous
        && step.index <= p
    {
        return Err(fail(format!(
            "the rotations are out of order (it follows the rotation at entry {p})"
        )));
    }
    let handover = in_force.verify_checkpoint(&step.handover).map_err(|e| {
        fail(format!(
            "the handover checkpoint is not signed by the key in force {}: {e}",
            in_force.label()
        ))
    })?;
    let proof =
        hashes_from_bytes(&step.proof).map_err(|e| fail(format!("inclusion proof: {e}")))?;
    verify_inclusion(
        step.index,
        handover.size,
        &leaf_hash(&step.leaf),
        &proof,
        &handover.root,
    )
    .map_err(|e| {
        fail(format!(
            "the entry is not in the handover checkpoint's tree of {} entries: {e}",
            handover.size
        ))
    })?;
    let entry = LogEntry::from_leaf(&step.leaf).map_err(|e| fail(e.to_string()))?;
    let new = crate::keychain::check_rotation(in_force, &entry).map_err(|e| fail(e.to_string()))?;
    let consistency = hashes_from_bytes(&step.consistency)
        .map_err(|e| fail(format!("consistency proof: {e}")))?;
    verify_consistency(
        handover.size,
        last.size,
        &handover.root,
        &last.root,
        &consistency,
    )
    .map_err(|e| {
        fail(format!(
            "the handover checkpoint of {} entries is not consistent with the bundle's \
                 checkpoint of {} entries: {e}",
            handover.size, last.size
        ))
    })?;
    Ok(new)
}

/// Format 2: hashes and decodes the range's leaves (in parallel) and checks them against
/// the checkpoint's root with the one range proof. The proof is checked before any
/// decoding failure is reported, so an altered leaf is reported as such.
fn check_range(
    bundle: &Bundle,
    cp: &Checkpoint,
    threads: usize,
) -> Result<Vec<LogEntry>, VerifyError> {
    let (start, end) = (bundle.start, bundle.end);
    let hashed = par_map(threads, &bundle.entries, |e| {
        if !e.proof.is_empty() {
            return Err(VerifyError::Entry {
                index: e.index,
                reason: "carries an inclusion proof; a format 2 bundle proves its range \
                         with the range proof"
                    .into(),
            });
        }
        Ok((leaf_hash(&e.leaf), LogEntry::from_leaf(&e.leaf)))
    })?;
    let range_err = |source| VerifyError::RangeProof { start, end, source };
    let proof = hashes_from_bytes(&bundle.range_proof).map_err(range_err)?;
    if start == end {
        if !proof.is_empty() {
            return Err(range_err(ProofError::WrongLength));
        }
    } else {
        let leaves: Vec<Hash> = hashed.iter().map(|(h, _)| *h).collect();
        verify_range(start, end, cp.size, &leaves, &proof, &cp.root).map_err(range_err)?;
    }
    hashed
        .into_iter()
        .enumerate()
        .map(|(i, (_, e))| {
            e.map_err(|err| VerifyError::Entry {
                index: start.saturating_add(i as u64),
                reason: err.to_string(),
            })
        })
        .collect()
}

fn check_entry(e: &BundleEntry, cp: &Checkpoint) -> Result<LogEntry, VerifyError> {
    let inclusion = |source| VerifyError::Inclusion {
        index: e.index,
        source,
    };
    let proof = hashes_from_bytes(&e.proof).map_err(inclusion)?;
    verify_inclusion(e.index, cp.size, &leaf_hash(&e.leaf), &proof, &cp.root).map_err(inclusion)?;
    LogEntry::from_leaf(&e.leaf).map_err(|err| VerifyError::Entry {
        index: e.index,
        reason: err.to_string(),
    })
}

/// Checks an enroll request's self-signature; returns the enrolled key.
fn check_enrollment(request: &[u8]) -> Result<P256PublicKey, String> {
    let msg = Sign1::parse(request).map_err(|e| format!("request: {e}"))?;
    let req = EnrollRequest::from_logged_cbor(msg.unverified_payload())
        .map_err(|e| format!("request payload: {e}"))?;
    let key =
        P256PublicKey::from_cose_key_bytes(&req.key).map_err(|e| format!("device key: {e}"))?;
    msg.verify_es256_any_s(&key, None)
        .map_err(|e| format!("proof of possession: {e}"))?;
    Ok(key)
}

/// Checks an attestation token's ES256 signature (kid = device id) and that its claims are
/// about that device.
fn check_attestation(token: &[u8], device_id: &Uuid, key: &P256PublicKey) -> Result<(), String> {
    let msg = Sign1::parse(token).map_err(|e| format!("token: {e}"))?;
    let payload = msg
        .verify_es256_any_s(key, Some(device_id.as_bytes()))
        .map_err(|e| format!("device signature: {e}"))?;
    let att = Attestation::from_cbor(payload).map_err(|e| format!("claims: {e}"))?;
    if att.device_id != *device_id {
        return Err(format!("claims are about device {}", att.device_id));
    }
    Ok(())
}

/// One chunk's outcome: its position and its results or first failure.
type ChunkResult<R> = (usize, Result<Vec<R>, VerifyError>);

/// Maps `f` over `items` on `threads` threads; returns results in order, or the error of
/// the earliest failing item. Work is handed out in small chunks from a shared counter so
/// a thread slowed by other load on the machine does not hold the others up; every chunk
/// stops at its first failure, and of the failures the one with the lowest chunk wins.
fn par_map<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> Result<R, VerifyError> + Sync,
) -> Result<Vec<R>, VerifyError> {
    const CHUNK: usize = 256;
    if threads <= 1 || items.len() <= CHUNK {
        return items.iter().map(&f).collect();
    }
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Set to the lowest failing chunk so far: later chunks are skipped.
    let failed = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let (f, chunks_ref, next, failed) = (&f, &chunks, &next, &failed);
    let per_thread: Vec<Vec<ChunkResult<R>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(chunks.len()))
            .map(|_| {
                s.spawn(move || {
                    use std::sync::atomic::Ordering::Relaxed;
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Relaxed);
                        if i >= chunks_ref.len() || i > failed.load(Relaxed) {
                            break;
                        }
                        let r = chunks_ref[i].iter().map(f).collect::<Result<Vec<R>, _>>();
                        if r.is_err() {
                            failed.fetch_min(i, Relaxed);
                        }
                        done.push((i, r));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(
                        0,
                        Err(VerifyError::Format("a verification thread panicked".into())),
                    )]
                })
            })
            .collect()
    });
    let mut slots: Vec<Option<Result<Vec<R>, VerifyError>>> =
        (0..chunks.len()).map(|_| None).collect();
    for (i, r) in per_thread.into_iter().flatten() {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(r);
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for slot in slots {
        match slot {
            Some(r) => out.extend(r?),
            // Skipped after an earlier chunk failed: that error was returned above.
            None => {
                return Err(VerifyError::Format(
                    "internal: a verification chunk was not run".into(),
                ));
            }
        }
    }
    Ok(out)
}

// ---- building ----

/// One call to the audit API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `GET /v1/audit/checkpoint`
    Checkpoint,
    /// `GET /v1/audit/entries?start&end[&max_bytes]` (the server may answer fewer)
    Entries {
        /// First index.
        start: u64,
        /// End index (exclusive).
        end: u64,
        /// Page budget of leaf bytes (the server's own when `None`).
        max_bytes: Option<u64>,
    },
    /// `GET /v1/audit/proof/inclusion?index&size`
    Inclusion {
        /// Leaf index.
        index: u64,
        /// Tree size the proof is for.
        size: u64,
    },
    /// `POST /v1/audit/proof/inclusions` (at most [`MAX_BATCH`] indices)
    Inclusions {
        /// Tree size the proofs are for.
        size: u64,
        /// Leaf indices.
        indices: Vec<u64>,
    },
    /// `GET /v1/audit/proof/range?start&end&size`
    Range {
        /// First index of the range.
        start: u64,
        /// End of the range (exclusive).
        end: u64,
        /// Tree size the proof is for.
        size: u64,
    },
    /// `GET /v1/audit/proof/consistency?old&new`
    Consistency {
        /// Earlier tree size.
        old: u64,
        /// Later tree size.
        new: u64,
    },
    /// `POST /v1/audit/enrollments` (at most [`MAX_BATCH`] devices)
    Enrollments {
        /// Look at entries below this index.
        before: u64,
        /// The devices whose latest enrollment is wanted.
        devices: Vec<Uuid>,
    },
    /// `GET /v1/audit/key-chain` (a server older than key rotation: an empty chain)
    KeyChain,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The signed checkpoint note.
    Checkpoint(String),
    /// `(index, leaf data)` pairs in index order (entries and enrollments).
    Entries(Vec<(u64, Vec<u8>)>),
    /// Proof hashes (inclusion, range or consistency).
    Proof(Vec<Hash>),
    /// `(index, inclusion proof)` pairs (batched inclusions).
    Proofs(Vec<(u64, Vec<Hash>)>),
    /// The server's record of its checkpoint keys.
    KeyChain(crate::keychain::KeyChain),
}

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The fetch callback failed (network, HTTP status).
    #[error("{0}")]
    Fetch(String),
    /// The answer does not match the request's kind.
    #[error("the server answered {what} with something else")]
    Unexpected {
        /// Which request it was.
        what: &'static str,
    },
    /// The server's checkpoint note does not parse.
    #[error("the server's checkpoint: {0}")]
    Checkpoint(NoteError),
    /// The requested range does not fit in the log.
    #[error("range [{start}, {end}) is not within the log's {size} entries")]
    Range {
        /// Requested start.
        start: u64,
        /// Requested end (exclusive).
        end: u64,
        /// The log's size at its checkpoint.
        size: u64,
    },
    /// The server skipped or repeated an entry.
    #[error("the server returned entry {found} where {want} was expected")]
    OutOfOrder {
        /// The index expected next.
        want: u64,
        /// The index returned.
        found: u64,
    },
    /// An earlier checkpoint file does not parse.
    #[error("earlier checkpoint: {0}")]
    Since(NoteError),
    /// The earlier checkpoint names another log than the server's.
    #[error(
        "the earlier checkpoint is of log {since:?} but the server's is of log {origin:?}: \
         this is another log"
    )]
    SinceOtherLog {
        /// The earlier checkpoint's origin.
        since: String,
        /// The server's origin.
        origin: String,
    },
    /// The earlier checkpoint is larger than the server's log.
    #[error(
        "the earlier checkpoint has {since} entries but the server's log has only {size}: \
         the server may have been restored from an older backup or rolled back, this may be \
         another log under the same name, or the log forked"
    )]
    SinceAhead {
        /// The earlier checkpoint's size.
        since: u64,
        /// The server's size.
        size: u64,
    },
    /// The server's log is not an extension of the earlier checkpoint's.
    #[error(
        "the server's log of {size} entries is not consistent with the earlier checkpoint of \
         {since} entries: entries were rewritten, or this is a fork"
    )]
    SinceInconsistent {
        /// The earlier checkpoint's size.
        since: u64,
        /// The server's size.
        size: u64,
    },
    /// The local log failed (building from a store).
    #[error(transparent)]
    Log(#[from] LogError),
}

/// What to put in a bundle.
#[derive(Default)]
pub struct BuildOptions<'a> {
    /// First entry; defaults to the smallest size in `since` (the entries new since that
    /// checkpoint), else 0.
    pub start: Option<u64>,
    /// Exclusive; defaults to the checkpoint's size.
    pub end: Option<u64>,
    /// Earlier checkpoints (read with [`unverified_checkpoint`]): the bundle carries the
    /// consistency proof from each one's size, checked against its root before writing.
    pub since: Vec<Checkpoint>,
    /// Page budget of leaf bytes per entries request (the server's own when `None`).
    pub page_bytes: Option<u64>,
    /// Called with (entries done, entries total) as the pull proceeds.
    pub progress: Option<&'a dyn Fn(u64, u64)>,
}

impl std::fmt::Debug for BuildOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("since", &self.since)
            .field("page_bytes", &self.page_bytes)
            .finish()
    }
}

/// The tree size of a checkpoint note, read without verifying it (the builder only
/// assembles; the auditor verifies).
pub fn unverified_checkpoint(note: &str) -> Result<Checkpoint, NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    Checkpoint::parse(&note[..=split])
}

type Fetch<'f> = dyn FnMut(Request) -> Result<Response, BuildError> + 'f;

fn fetch_proof(fetch: &mut Fetch<'_>, req: Request) -> Result<Vec<Hash>, BuildError> {
    match fetch(req)? {
        Response::Proof(p) => Ok(p),
        _ => Err(BuildError::Unexpected {
            what: "a proof request",
        }),
    }
}

/// Pages through `[start, end)`, each page bounded by the server's count and byte budgets.
fn fetch_entries(
    fetch: &mut Fetch<'_>,
    start: u64,
    end: u64,
    max_bytes: Option<u64>,
    progress: &dyn Fn(u64),
) -> Result<Vec<(u64, Vec<u8>)>, BuildError> {
    // The size comes from the server: reserve for at most a million entries up front.
    let mut out = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0).min(1 << 20));
    let mut next = start;
    while next < end {
        let Response::Entries(page) = fetch(Request::Entries {
            start: next,
            end,
            max_bytes,
        })?
        else {
            return Err(BuildError::Unexpected {
                what: "an entries request",
            });
        };
        if page.is_empty() {
            return Err(BuildError::OutOfOrder {
                want: next,
                found: end,
            });
        }
        for (index, data) in page {
            if index != next || index >= end {
                return Err(BuildError::OutOfOrder {
                    want: next,
                    found: index,
                });
            }
            out.push((index, data));
            next += 1;
        }
        progress(next - start);
    }
    Ok(out)
}

/// Checks the earlier checkpoints against the server's before anything is downloaded.
fn check_since(cp: &Checkpoint, since: &[Checkpoint]) -> Result<(), BuildError> {
    for old in since {
        if old.origin != cp.origin {
            return Err(BuildError::SinceOtherLog {
                since: old.origin.clone(),
                origin: cp.origin.clone(),
            });
        }
        if old.size > cp.size {
            return Err(BuildError::SinceAhead {
                since: old.size,
                size: cp.size,
            });
        }
        if old.size == cp.size && old.root != cp.root {
            return Err(BuildError::SinceInconsistent {
                since: old.size,
                size: cp.size,
            });
        }
    }
    Ok(())
}

/// Builds a bundle (format 2) by calling the audit API through `fetch`: the checkpoint,
/// the range's leaves page by page, one range proof, the key enrollments from before the
/// range with their inclusion proofs (one batched request each per [`MAX_BATCH`]), and
/// the consistency proofs from the `since` checkpoints (checked here, so a pull from a
/// forked or rolled-back server fails instead of writing a bundle that cannot verify).
pub fn build_bundle(fetch: &mut Fetch<'_>, opts: &BuildOptions<'_>) -> Result<Bundle, BuildError> {
    let Response::Checkpoint(note) = fetch(Request::Checkpoint)? else {
        return Err(BuildError::Unexpected {
            what: "the checkpoint request",
        });
    };
    let cp = unverified_checkpoint(&note).map_err(BuildError::Checkpoint)?;
    let size = cp.size;
    check_since(&cp, &opts.since)?;
    let start = opts
        .start
        .unwrap_or_else(|| opts.since.iter().map(|c| c.size).min().unwrap_or(0));
    let end = opts.end.unwrap_or(size);
    if start > end || end > size {
        return Err(BuildError::Range { start, end, size });
    }
    let total = end - start;
    let progress = |done: u64| {
        if let Some(p) = opts.progress {
            p(done, total);
        }
    };
    progress(0);
    let leaves = fetch_entries(fetch, start, end, opts.page_bytes, &progress)?;
    let mut enrolled = HashSet::new();
    let mut needed = Vec::new();
    let mut needed_set = HashSet::new();
    // Key enrollments are needed only from before the range: a range from 0 holds them.
    for (_, leaf) in leaves.iter().filter(|_| start > 0) {
        // Entries the server gives us may be anything: unreadable ones are bundled as
        // they are and the verifier names them.
        match LogEntry::from_leaf(leaf) {
            Ok(LogEntry::Enrollment { device_id, .. }) => {
                enrolled.insert(device_id);
            }
            Ok(LogEntry::Attestation { device_id, .. })
                if !enrolled.contains(&device_id) && needed_set.insert(device_id) =>
            {
                needed.push(device_id);
            }
            _ => {}
        }
    }
    let entries: Vec<BundleEntry> = leaves
        .into_iter()
        .map(|(index, leaf)| BundleEntry {
            index,
            leaf,
            proof: Vec::new(),
        })
        .collect();
    let range_proof = if start < end {
        hashes_to_bytes(&fetch_proof(fetch, Request::Range { start, end, size })?)
    } else {
        Vec::new()
    };
    let enrollments = if start > 0 {
        fetch_key_enrollments(fetch, start, size, &needed)?
    } else {
        Vec::new()
    };

    let mut consistency = Vec::new();
    for old in &opts.since {
        if old.size == 0
            || old.size >= size
            || consistency
                .iter()
                .any(|c: &ConsistencyEntry| c.old_size == old.size)
        {
            continue;
        }
        let proof = fetch_proof(
            fetch,
            Request::Consistency {
                old: old.size,
                new: size,
            },
        )?;
        verify_consistency(old.size, size, &old.root, &cp.root, &proof).map_err(|_| {
            BuildError::SinceInconsistent {
                since: old.size,
                size,
            }
        })?;
        consistency.push(ConsistencyEntry {
            old_size: old.size,
            proof: hashes_to_bytes(&proof),
        });
    }
    let key_chain = fetch_key_chain(fetch, &cp)?;
    Ok(Bundle {
        version: if key_chain.is_empty() {
            BUNDLE_VERSION
        } else {
            BUNDLE_VERSION_3
        },
        checkpoint: note,
        start,
        end,
        entries,
        enrollments,
        consistency,
        range_proof,
        key_chain,
    })
}

/// Every rotation of the checkpoint key up to the checkpoint `cp`, whatever the range:
/// the entry, its inclusion proof in the handover checkpoint and the consistency proof
/// from there to `cp`.
fn fetch_key_chain(fetch: &mut Fetch<'_>, cp: &Checkpoint) -> Result<Vec<KeyStep>, BuildError> {
    let Response::KeyChain(chain) = fetch(Request::KeyChain)? else {
        return Err(BuildError::Unexpected {
            what: "the key chain request",
        });
    };
    let mut steps = Vec::new();
    for r in chain.rotations {
        let handover = unverified_checkpoint(&r.handover).map_err(BuildError::Checkpoint)?;
        // A rotation after the checkpoint pulled (signed meanwhile) is not part of it.
        if handover.size > cp.size || r.index >= handover.size {
            continue;
        }
        let Response::Entries(found) = fetch(Request::Entries {
            start: r.index,
            end: r.index + 1,
            max_bytes: None,
        })?
        else {
            return Err(BuildError::Unexpected {
                what: "an entries request",
            });
        };
        let Some((_, leaf)) = found.into_iter().find(|(i, _)| *i == r.index) else {
            return Err(BuildError::OutOfOrder {
                want: r.index,
                found: r.index + 1,
            });
        };
        let proof = fetch_proof(
            fetch,
            Request::Inclusion {
                index: r.index,
                size: handover.size,
            },
        )?;
        let consistency = if handover.size < cp.size {
            fetch_proof(
                fetch,
                Request::Consistency {
                    old: handover.size,
                    new: cp.size,
                },
            )?
        } else {
            Vec::new()
        };
        steps.push(KeyStep {
            index: r.index,
            leaf,
            proof: hashes_to_bytes(&proof),
            handover: r.handover,
            consistency: hashes_to_bytes(&consistency),
        });
    }
    Ok(steps)
}

/// The latest enrollment before `before` of each device in `devices`, with its inclusion
/// proof in the tree of `size`: one enrollments request and one batched inclusions request
/// per [`MAX_BATCH`] devices.
fn fetch_key_enrollments(
    fetch: &mut Fetch<'_>,
    before: u64,
    size: u64,
    devices: &[Uuid],
) -> Result<Vec<BundleEntry>, BuildError> {
    let mut out: Vec<BundleEntry> = Vec::new();
    for chunk in devices.chunks(MAX_BATCH) {
        let Response::Entries(found) = fetch(Request::Enrollments {
            before,
            devices: chunk.to_vec(),
        })?
        else {
            return Err(BuildError::Unexpected {
                what: "an enrollments request",
            });
        };
        // The server may answer anything: keep entries before the range, once each; the
        // verifier checks what they are.
        let mut found: Vec<(u64, Vec<u8>)> = found
            .into_iter()
            .filter(|(i, _)| *i < before && !out.iter().any(|e| e.index == *i))
            .collect();
        found.sort_by_key(|(i, _)| *i);
        found.dedup_by_key(|(i, _)| *i);
        if found.is_empty() {
            continue;
        }
        let indices: Vec<u64> = found.iter().map(|(i, _)| *i).collect();
        let Response::Proofs(proofs) = fetch(Request::Inclusions { size, indices })? else {
            return Err(BuildError::Unexpected {
                what: "an inclusions request",
            });
        };
        let proofs: HashMap<u64, Vec<Hash>> = proofs.into_iter().collect();
        for (index, leaf) in found {
            let proof = proofs.get(&index).ok_or(BuildError::Unexpected {
                what: "an inclusions request (a proof is missing)",
            })?;
            out.push(BundleEntry {
                index,
                leaf,
                proof: hashes_to_bytes(proof),
            });
        }
    }
    out.sort_by_key(|e| e.index);
    Ok(out)
}

/// Answers [`Request`]s from a local log (tests, benchmarks, and the server itself).
pub fn serve_request<S>(
    store: &mut S,
    signer: &LogSigner,
    req: Request,
) -> Result<Response, LogError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    Ok(match req {
        Request::Checkpoint => Response::Checkpoint(crate::checkpoint(store, signer)?),
        Request::Entries {
            start,
            end,
            max_bytes,
        } => Response::Entries(crate::entries_page(
            store,
            start,
            end,
            max_bytes.unwrap_or(MAX_PAGE_BYTES),
        )?),
        Request::Inclusion { index, size } => {
            Response::Proof(crate::inclusion_proof(store, index, size)?)
        }
        Request::Inclusions { size, indices } => {
            Response::Proofs(crate::inclusion_proofs(store, size, &indices)?)
        }
        Request::Range { start, end, size } => {
            Response::Proof(crate::range_proof(store, start, end, size)?)
        }
        Request::Consistency { old, new } => {
            Response::Proof(crate::consistency_proof(store, old, new)?)
        }
        Request::Enrollments { before, devices } => {
            Response::Entries(crate::find_enrollments(store, before, &devices)?)
        }
        Request::KeyChain => Response::KeyChain(crate::keychain::KeyChain::default()),
    })
}

/// Builds a bundle straight from a local log.
pub fn build_bundle_from_store<S>(
    store: &mut S,
    signer: &LogSigner,
    opts: &BuildOptions<'_>,
) -> Result<Bundle, BuildError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    build_bundle_from_store_with_chain(store, signer, &crate::keychain::KeyChain::default(), opts)
}

/// [`build_bundle_from_store`] of a log whose checkpoint key was rotated: `chain` is the
/// server's record of it (`DATA/log-keys.json`).
pub fn build_bundle_from_store_with_chain<S>(
    store: &mut S,
    signer: &LogSigner,
    chain: &crate::keychain::KeyChain,
    opts: &BuildOptions<'_>,
) -> Result<Bundle, BuildError>
where
    S: LogStore + ?Sized,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut fetch = |req: Request| match req {
        Request::KeyChain => Ok(Response::KeyChain(chain.clone())),
        req => serve_request(store, signer, req).map_err(BuildError::Log),
    };
    build_bundle(&mut fetch, opts)
}

/// Reads an earlier checkpoint file (unverified) for [`BuildOptions::since`].
pub fn since_checkpoint(note: &str) -> Result<Checkpoint, BuildError> {
    unverified_checkpoint(note).map_err(BuildError::Since)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_at(bad: &[usize]) -> impl Fn(&usize) -> Result<usize, VerifyError> + Sync + '_ {
        move |i| {
            if bad.contains(i) {
                Err(VerifyError::Entry {
                    index: *i as u64,
                    reason: "bad".into(),
                })
            } else {
                Ok(i * 2)
            }
        }
    }

    #[test]
    fn par_map_keeps_order_and_reports_the_earliest_failure() {
        let items: Vec<usize> = (0..10_000).collect();
        for threads in [1, 2, 3, 8] {
            let out = par_map(threads, &items, fail_at(&[])).expect("all ok");
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            for bad in [
                vec![9_999],
                vec![5_000, 7],
                vec![300, 9_000, 4_444],
                vec![0],
            ] {
                let earliest = bad.iter().copied().min().unwrap_or_default() as u64;
                match par_map(threads, &items, fail_at(&bad)) {
                    Err(VerifyError::Entry { index, .. }) => {
                        assert_eq!(index, earliest, "{threads} {bad:?}")
                    }
                    other => panic!("{threads} {bad:?}: {:?}", other.map(|v| v.len())),
                }
            }
        }
    }
}

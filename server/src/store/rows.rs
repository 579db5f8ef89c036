//! Rows as a backend reads them, before and after parsing: the part of reading a row that
//! does not depend on the database (column lists, range checks, enum and JSON parsing).
//!
//! Why shared: both backends store the same columns with the same meaning, so a stored
//! value is judged the same way (a negative integer or an unknown platform is
//! [`StoreError::Corrupt`]) whichever database it came from. A backend only fills the
//! `Raw*` structs from its driver's row type.

use pramaan_core::claims::{Assurance, Failure, Platform, Verdict};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::policy::Officer;
use uuid::Uuid;

use super::{
    AttestationRow, CheckpointRow, DeviceRow, EnrollTokenListing, EnrollTokenRow, Freshness, Role,
    StoreError, TokenRow,
};

/// A stored integer as `u64`: a negative one is corrupt (this store never writes one).
pub(crate) fn to_u64(what: &'static str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

/// A database's schema version from its stored `meta.schema_version` (0 when absent);
/// a value that is not a number is [`StoreError::Corrupt`] (the database is refused).
pub(crate) fn parse_schema_version(stored: Option<String>) -> Result<u64, StoreError> {
    match stored {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("schema_version {v:?}"))),
    }
}

pub(crate) fn parse_assurance(s: &str) -> Result<Assurance, StoreError> {
    s.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn parse_verdict(s: &str) -> Result<Verdict, StoreError> {
    s.parse().map_err(StoreError::Corrupt)
}

pub(crate) fn hash_arr(v: Vec<u8>) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("hash is not 32 bytes".into()))
}

pub(crate) const DEVICE_COLS: &str = "device_id, officer_id, department, platform, model, attested_model, \
     public_key, assurance, evidence, revoked, reason, last_seq, enrolled_at, key_hash, \
     evidence_summary, last_fresh_at, anchor_hash, anchor_at, offline_run, assert_counter, \
     reattest_requested";

/// How many columns [`DEVICE_COLS`] names.
pub(crate) const DEVICE_COL_COUNT: usize = 21;

pub(crate) struct RawDevice {
    pub(crate) device_id: Vec<u8>,
    pub(crate) officer_id: String,
    pub(crate) department: String,
    pub(crate) platform: String,
    pub(crate) model: String,
    pub(crate) attested_model: Option<String>,
    pub(crate) public_key: Vec<u8>,
    pub(crate) assurance: String,
    pub(crate) evidence: Option<Vec<u8>>,
    pub(crate) revoked: bool,
    pub(crate) reason: Option<String>,
    pub(crate) last_seq: Option<i64>,
    pub(crate) enrolled_at: i64,
    pub(crate) evidence_summary: Option<String>,
    pub(crate) last_fresh_at: Option<i64>,
    pub(crate) anchor_hash: Option<Vec<u8>>,
    pub(crate) anchor_at: Option<i64>,
    pub(crate) offline_run: i64,
    pub(crate) assert_counter: Option<i64>,
    pub(crate) reattest_requested: bool,
}

impl RawDevice {
    pub(crate) fn into_row(self) -> Result<DeviceRow, StoreError> {
        Ok(DeviceRow {
            device_id: Uuid::from_slice(&self.device_id)
                .map_err(|_| StoreError::Corrupt("device_id".into()))?,
            officer_id: self.officer_id,
            department: self.department,
            platform: self
                .platform
                .parse::<Platform>()
                .map_err(StoreError::Corrupt)?,
            model: self.model,
            public_key: self.public_key,
            assurance: parse_assurance(&self.assurance)?,
            evidence: self.evidence,
            evidence_summary: match self.evidence_summary {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("evidence summary: {e}")))?,
                // Enrolled before summaries were kept: nothing proved that can be judged.
                None => EvidenceSummary {
                    attested_model: self.attested_model,
                    checked_at: to_u64("enrolled_at", self.enrolled_at)?,
                    ..EvidenceSummary::default()
                },
            },
            freshness: Freshness {
                last_fresh_at: self
                    .last_fresh_at
                    .map(|t| to_u64("last_fresh_at", t))
                    .transpose()?,
                anchor: match (self.anchor_hash, self.anchor_at) {
                    (Some(h), Some(at)) => Some((
                        <[u8; 32]>::try_from(h.as_slice())
                            .map_err(|_| StoreError::Corrupt("anchor_hash".into()))?,
                        to_u64("anchor_at", at)?,
                    )),
                    _ => None,
                },
                offline_run: u32::try_from(self.offline_run)
                    .map_err(|_| StoreError::Corrupt("offline_run".into()))?,
            },
            assert_counter: self
                .assert_counter
                .map(|c| u32::try_from(c).map_err(|_| StoreError::Corrupt("assert_counter".into())))
                .transpose()?,
            reattest_requested: self.reattest_requested,
            revoked: self.revoked,
            reason: self.reason,
            last_seq: self.last_seq.map(|s| to_u64("last_seq", s)).transpose()?,
            enrolled_at: to_u64("enrolled_at", self.enrolled_at)?,
        })
    }
}

pub(crate) struct RawAttestation {
    pub(crate) seq: i64,
    pub(crate) iat: i64,
    pub(crate) received_at: i64,
    pub(crate) fresh_nonce: bool,
    pub(crate) claims: Vec<u8>,
    pub(crate) verdict: String,
    pub(crate) failures: String,
    pub(crate) log_index: i64,
}

impl RawAttestation {
    pub(crate) fn into_row(self, device_id: Uuid) -> Result<AttestationRow, StoreError> {
        let failures: Vec<Failure> = serde_json::from_str(&self.failures)
            .map_err(|e| StoreError::Corrupt(format!("attestation failures: {e}")))?;
        Ok(AttestationRow {
            device_id,
            seq: to_u64("seq", self.seq)?,
            iat: to_u64("iat", self.iat)?,
            received_at: to_u64("received_at", self.received_at)?,
            fresh_nonce: self.fresh_nonce,
            claims: self.claims,
            verdict: parse_verdict(&self.verdict)?,
            failures,
            log_index: to_u64("log_index", self.log_index)?,
        })
    }
}

pub(crate) fn officer_from_json(json: &str) -> Result<Officer, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("officer row: {e}")))
}

/// The columns of `tokens` a [`RawToken`] is read from, in its order.
pub(crate) const TOKEN_COLUMNS: &str = "hash, role, department, created_at, name, created_by, expires_at, \
                             revoked_at, revoked_by";

/// A `tokens` row as stored, before its values are parsed.
pub(crate) struct RawToken {
    pub(crate) hash: Vec<u8>,
    pub(crate) role: String,
    pub(crate) department: Option<String>,
    pub(crate) created_at: u64,
    pub(crate) name: Option<String>,
    pub(crate) created_by: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) revoked_by: Option<String>,
}

impl RawToken {
    pub(crate) fn into_row(self) -> Result<TokenRow, StoreError> {
        Ok(TokenRow {
            hash: hash_arr(self.hash)?,
            role: self.role.parse::<Role>().map_err(StoreError::Corrupt)?,
            department: self.department,
            name: self.name,
            created_at: self.created_at,
            created_by: self.created_by,
            expires_at: self
                .expires_at
                .map(|v| to_u64("token expires_at", v))
                .transpose()?,
            revoked_at: self
                .revoked_at
                .map(|v| to_u64("token revoked_at", v))
                .transpose()?,
            revoked_by: self.revoked_by,
        })
    }
}

/// The columns of `enrollment_tokens AS t` a [`RawEnrollToken`] is read from, in its order
/// (a department column follows).
pub(crate) const ENROLL_TOKEN_COLUMNS: &str = "t.hash, t.officer_id, t.expires, t.used, t.allow_additional, \
                                    t.created_by, t.created_at, t.cancelled_at, t.cancelled_by";

/// An `enrollment_tokens` row (and its officer's department) before parsing.
pub(crate) struct RawEnrollToken {
    pub(crate) hash: Vec<u8>,
    pub(crate) officer_id: String,
    pub(crate) expires: u64,
    pub(crate) used: bool,
    pub(crate) allow_additional: bool,
    pub(crate) created_by: String,
    pub(crate) created_at: u64,
    pub(crate) cancelled_at: Option<i64>,
    pub(crate) cancelled_by: Option<String>,
    pub(crate) department: Option<String>,
}

impl RawEnrollToken {
    pub(crate) fn into_row(self) -> Result<EnrollTokenListing, StoreError> {
        Ok(EnrollTokenListing {
            row: EnrollTokenRow {
                officer_id: self.officer_id,
                expires: self.expires,
                used: self.used,
                allow_additional: self.allow_additional,
                hash: hash_arr(self.hash)?,
                created_by: self.created_by,
                created_at: self.created_at,
                cancelled_at: self
                    .cancelled_at
                    .map(|v| to_u64("enrollment token cancelled_at", v))
                    .transpose()?,
                cancelled_by: self.cancelled_by,
            },
            department: self.department.unwrap_or_default(),
        })
    }
}

pub(crate) const CHECKPOINT_COLS: &str = "size, root, note, signed_at";

pub(crate) type RawCheckpoint = (i64, Vec<u8>, String, i64);

pub(crate) fn checkpoint_row(
    (size, root, note, signed_at): RawCheckpoint,
) -> Result<CheckpointRow, StoreError> {
    Ok(CheckpointRow {
        size: to_u64("checkpoint size", size)?,
        root: root
            .try_into()
            .map_err(|_| StoreError::Corrupt("checkpoint root is not 32 bytes".into()))?,
        note,
        signed_at: to_u64("signed_at", signed_at)?,
    })
}

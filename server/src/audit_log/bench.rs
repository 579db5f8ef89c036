//! Realistic log contents: a software device whose entries look like the real thing
//! (enrollments whose requests are self-signed by a software P-256 key, attestations signed
//! by that key with kid = device id).
//!
//! Why here and public: `pramaan bench` may seed a log with them, so the producer stays in
//! the library; the log benchmark and the tests' log fixtures are in pramaan-testkit
//! (`log_fixtures`).

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{self, Attestation, DeviceInfo, EnrollRequest, OsInfo, Platform};
use pramaan_core::cose;
use pramaan_core::keys::{KeyError, Signer as _, SoftwareSigner};
use uuid::Uuid;

use super::LogEntry;

/// Why making a log entry failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The software key could not be made or used.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// Signing the COSE message failed.
    #[error("COSE: {0}")]
    Cose(#[from] cose::CoseError),
}

/// A software device with its id, for making log entries.
#[derive(Debug)]
pub struct DemoDevice {
    /// The device id (the kid of its attestations).
    pub device_id: Uuid,
    /// The officer it is enrolled for.
    pub officer_id: String,
    /// Its P-256 key.
    pub signer: SoftwareSigner,
}

impl DemoDevice {
    /// A new device with a fresh id and key, enrolled for `officer_id`.
    pub fn generate(officer_id: &str) -> Result<Self, BenchError> {
        Ok(Self {
            device_id: Uuid::new_v4(),
            officer_id: officer_id.to_string(),
            signer: SoftwareSigner::generate()?,
        })
    }

    /// The enrollment entry: an enroll request self-signed by the device key.
    pub fn enrollment(&self, at: u64) -> Result<LogEntry, BenchError> {
        let req = EnrollRequest {
            v: 1,
            token_hash: claims::enroll_token_hash("used-enrollment-token").to_vec(),
            nonce: vec![7; 32],
            key: self.signer.public_key()?.to_cose_key_bytes(),
            platform: Platform::Desktop,
            device: DeviceInfo {
                model: "bench".into(),
                os: "linux".into(),
                os_version: "6".into(),
            },
            evidence: None,
        };
        let request = cose::sign_es256(&self.signer, b"", claims::encode(&req))?;
        Ok(LogEntry::Enrollment {
            at,
            department: "GAD".into(),
            officer_id: self.officer_id.clone(),
            device_id: self.device_id,
            request,
            evidence: Some(pramaan_core::evidence::EvidenceSummary::default()),
            assurance: pramaan_core::claims::Assurance::Software,
        })
    }

    /// A signed attestation token (COSE_Sign1, ES256, kid = device id).
    pub fn token(&self, seq: u64) -> Result<Vec<u8>, BenchError> {
        self.token_at(seq, 1_790_000_000 + seq)
    }

    /// [`Self::token`] issued at `iat`.
    pub fn token_at(&self, seq: u64, iat: u64) -> Result<Vec<u8>, BenchError> {
        let att = Attestation {
            protocol: pramaan_core::claims::Protocol::CURRENT,
            device_id: self.device_id,
            nonce: Some(vec![(seq % 251) as u8; 32]),
            anchor: None,
            iat,
            seq,
            officer: self.officer_id.clone(),
            apps: vec![claims::AppFact {
                id: "com.whatsapp".into(),
                signer: whatsapp_signer(),
                version: "2.26.1".into(),
                present: true,
            }],
            groups: vec![claims::GroupFact {
                platform: "WhatsApp".into(),
                group: "gad-officers".into(),
                member: true,
                handle: "+919800000001".into(),
            }],
            email: vec!["a.shah@gujarat.gov.in".into()],
            os: OsInfo {
                name: "android".into(),
                version: "15".into(),
                patch: "2026-10-05".into(),
            },
            lock: true,
            evidence: None,
        };
        Ok(cose::sign_es256(
            &self.signer,
            self.device_id.as_bytes(),
            att.to_cbor(),
        )?)
    }

    /// An attestation entry with an affirming verdict, its token issued at `at`.
    pub fn attestation(&self, at: u64, seq: u64) -> Result<LogEntry, BenchError> {
        Ok(LogEntry::Attestation {
            at,
            department: "GAD".into(),
            officer_id: self.officer_id.clone(),
            device_id: self.device_id,
            token: self.token_at(seq, at)?,
            verdict: pramaan_core::claims::Verdict::Affirming,
            failures: vec![],
            fresh_nonce: Some(true),
            evidence: None,
        })
    }
}

/// WhatsApp's signing-certificate digest from the built-in catalog.
fn whatsapp_signer() -> Option<String> {
    Catalog::builtin()
        .find("WhatsApp")
        .and_then(|p| p.android_signers.first().cloned())
}

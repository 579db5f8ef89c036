//! The uniffi surface that Kotlin (Android) and Swift (iOS) call (feature `ffi`).
//!
//! Why a separate, small layer: the platform languages see only plain records, one
//! [`Agent`] object and one error type, while the core keeps its typed errors and Rust
//! types. The platform supplies two foreign traits: [`Signer`] (Android Keystore /
//! StrongBox, Secure Enclave: the key never leaves the hardware) and [`DeviceFacts`]
//! (PackageManager, AccountManager, URL schemes). Adapters here turn them into the core's
//! [`keys::Signer`] and [`FactsProvider`].
//!
//! Nothing here may panic: uniffi would turn a panic into an opaque exception on the
//! platform side, so every failure is an [`ApiError`] with a readable reason instead.

use std::path::PathBuf;
use std::sync::Arc;

use crate::agent::{self, AgentError, CheckIn, Facts, FactsProvider, LocalEvaluation};
use crate::claims::{self, AppFact, AttestResult, GroupFact, Platform};
use crate::keys::{self, KeyError, P256PublicKey};

/// The one error the platform sees. Variants say what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ApiError {
    /// Enroll first.
    #[error("not enrolled")]
    NotEnrolled,
    /// The device has enrolled already (uninstall/reset to enroll again).
    #[error("already enrolled as {device_id}")]
    AlreadyEnrolled { device_id: String },
    /// Bad enrollment URI, facts, or key material from the platform.
    #[error("invalid input: {detail}")]
    InvalidInput { detail: String },
    /// The server could not be reached or the TLS pin did not match; retry later.
    #[error("network: {detail}")]
    Network { detail: String },
    /// The server refused (HTTP status and its error code).
    #[error("server refused ({status} {code}): {detail}")]
    Rejected {
        status: u16,
        code: String,
        detail: String,
    },
    /// The platform signer or facts provider failed (or threw).
    #[error("platform: {detail}")]
    Platform { detail: String },
    /// Local storage failed.
    #[error("storage: {detail}")]
    Storage { detail: String },
    /// Anything else (a server answer that does not verify, ...).
    #[error("{detail}")]
    Internal { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ApiError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ApiError::Platform { detail: e.reason }
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        let detail = e.to_string();
        match e {
            AgentError::NotEnrolled => ApiError::NotEnrolled,
            AgentError::AlreadyEnrolled(id) => ApiError::AlreadyEnrolled {
                device_id: id.to_string(),
            },
            AgentError::Uri(_) | AgentError::Facts(_) | AgentError::KeyMismatch => {
                ApiError::InvalidInput { detail }
            }
            AgentError::Transport(_) => ApiError::Network { detail },
            AgentError::Key(KeyError::Signer(d)) => ApiError::Platform { detail: d },
            AgentError::Key(_) => ApiError::InvalidInput { detail },
            AgentError::Rejected {
                status,
                code,
                message,
            } => ApiError::Rejected {
                status,
                code,
                detail: message,
            },
            AgentError::State(_) | AgentError::Outbox(_) => ApiError::Storage { detail },
            AgentError::Cose(_) | AgentError::BadAnswer(_) => ApiError::Internal { detail },
        }
    }
}

/// The device key, held by the platform.
///
/// `public_key` returns the P-256 public key as uncompressed SEC1 (65 bytes, what
/// `SecKeyCopyExternalRepresentation` gives) or X.509 SubjectPublicKeyInfo DER (91 bytes,
/// what Java's `PublicKey.getEncoded()` gives). `sign` gets the message itself (not a
/// digest), hashes it with SHA-256 and signs (`SHA256withECDSA`,
/// `ecdsaSignatureMessageX962SHA256`); it may return DER or raw `r || s`.
#[uniffi::export(foreign)]
pub trait Signer: Send + Sync {
    fn public_key(&self) -> Result<Vec<u8>, ApiError>;
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, ApiError>;
}

/// What the platform layer reports about the device at each check-in.
#[uniffi::export(foreign)]
pub trait DeviceFacts: Send + Sync {
    fn facts(&self) -> Result<DeviceFactsRecord, ApiError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DevicePlatform {
    Android,
    Ios,
    Desktop,
}

impl From<DevicePlatform> for Platform {
    fn from(p: DevicePlatform) -> Self {
        match p {
            DevicePlatform::Android => Platform::Android,
            DevicePlatform::Ios => Platform::Ios,
            DevicePlatform::Desktop => Platform::Desktop,
        }
    }
}

/// One app (Android package or iOS bundle id) and, on Android, its signing certificate.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AppRecord {
    pub id: String,
    /// SHA-256 of the signing certificate, lowercase hex (Android only).
    pub signer: Option<String>,
    pub version: String,
    pub present: bool,
}

/// Membership of one messaging group.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupRecord {
    pub platform: String,
    pub group: String,
    pub member: bool,
    pub handle: String,
}

/// The device facts (design section 9's facts file, as a record).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceFactsRecord {
    pub platform: DevicePlatform,
    pub model: String,
    pub os_name: String,
    pub os_version: String,
    pub patch_level: String,
    pub screen_lock: bool,
    pub emails: Vec<String>,
    pub apps: Vec<AppRecord>,
    pub groups: Vec<GroupRecord>,
}

impl From<DeviceFactsRecord> for Facts {
    fn from(r: DeviceFactsRecord) -> Self {
        Facts {
            platform: r.platform.into(),
            model: r.model,
            os_name: r.os_name,
            os_version: r.os_version,
            patch_level: r.patch_level,
            screen_lock: r.screen_lock,
            emails: r.emails,
            apps: r
                .apps
                .into_iter()
                .map(|a| AppFact {
                    id: a.id,
                    signer: a.signer.filter(|s| !s.is_empty()),
                    version: a.version,
                    present: a.present,
                })
                .collect(),
            groups: r
                .groups
                .into_iter()
                .map(|g| GroupFact {
                    platform: g.platform,
                    group: g.group,
                    member: g.member,
                    handle: g.handle,
                })
                .collect(),
        }
    }
}

/// Hardware key evidence from the platform, sent once at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum KeyEvidence {
    /// Android Key Attestation certificate chain (DER, leaf first).
    AndroidKeyAttestation { chain: Vec<Vec<u8>> },
    /// Apple App Attest attestation object, key id and client data.
    AppleAppAttest {
        attestation: Vec<u8>,
        key_id: Vec<u8>,
        client_data: Vec<u8>,
    },
}

impl From<KeyEvidence> for claims::Evidence {
    fn from(e: KeyEvidence) -> Self {
        match e {
            KeyEvidence::AndroidKeyAttestation { chain } => {
                claims::Evidence::AndroidKeyAttestation { chain }
            }
            KeyEvidence::AppleAppAttest {
                attestation,
                key_id,
                client_data,
            } => claims::Evidence::AppleAppAttest {
                attestation,
                key_id,
                client_data,
            },
        }
    }
}

/// A failed rule.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RuleFailure {
    /// `R1`..`R5`.
    pub rule: String,
    pub detail: String,
}

fn failures(f: &[claims::Failure]) -> Vec<RuleFailure> {
    f.iter()
        .map(|f| RuleFailure {
            rule: f.rule.as_str().to_string(),
            detail: f.detail.clone(),
        })
        .collect()
}

/// The server's verified answer to an attestation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerResult {
    pub seq: u64,
    /// `affirming`, `warning` or `contraindicated`.
    pub status: String,
    pub failures: Vec<RuleFailure>,
    pub log_index: u64,
    /// Seconds since the Unix epoch.
    pub iat: u64,
}

impl From<&AttestResult> for ServerResult {
    fn from(r: &AttestResult) -> Self {
        Self {
            seq: r.seq,
            status: r.status.as_str().to_string(),
            failures: failures(&r.failures),
            log_index: r.log_index,
            iat: r.iat,
        }
    }
}

/// What the device itself found (shown to the officer, also when offline).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalResult {
    pub seq: u64,
    pub at: u64,
    pub status: String,
    pub failures: Vec<RuleFailure>,
}

impl From<&LocalEvaluation> for LocalResult {
    fn from(l: &LocalEvaluation) -> Self {
        Self {
            seq: l.seq,
            at: l.at,
            status: l.verdict.as_str().to_string(),
            failures: failures(&l.failures),
        }
    }
}

/// Outcome of enrollment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrollmentInfo {
    pub device_id: String,
    pub officer_id: String,
    pub department: String,
    /// `hardware` or `software`.
    pub assurance: String,
}

/// Outcome of a check-in: `delivered` with the server's result, or queued offline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CheckInResult {
    pub seq: u64,
    pub delivered: bool,
    /// The server's answer when delivered.
    pub result: Option<ServerResult>,
    pub local: LocalResult,
    /// Attestations still waiting in the outbox.
    pub pending: u64,
    /// The signed attestation (COSE_Sign1).
    pub token: Vec<u8>,
}

/// What the agent knows about itself.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgentStatus {
    pub enrolled: bool,
    pub device_id: Option<String>,
    pub officer_id: Option<String>,
    pub department: Option<String>,
    pub server: Option<String>,
    pub last_seq: u64,
    pub last_result: Option<ServerResult>,
    pub last_local: Option<LocalResult>,
    pub pending: u64,
}

fn assurance_str(a: claims::Assurance) -> String {
    match a {
        claims::Assurance::Hardware => "hardware",
        claims::Assurance::Software => "software",
    }
    .to_string()
}

/// Adapts the platform's signer to the core trait; converts DER signatures to raw and an
/// SPKI public key to SEC1 at this one edge.
struct ForeignSigner(Arc<dyn Signer>);

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, BIT STRING).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn public_key_from_platform(bytes: &[u8]) -> Result<P256PublicKey, KeyError> {
    match bytes.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(sec1) => P256PublicKey::from_sec1(sec1),
        None => P256PublicKey::from_sec1(bytes),
    }
}

impl keys::Signer for ForeignSigner {
    fn public_key(&self) -> Result<P256PublicKey, KeyError> {
        let bytes = self
            .0
            .public_key()
            .map_err(|e| KeyError::Signer(e.to_string()))?;
        public_key_from_platform(&bytes)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let sig = self
            .0
            .sign(message.to_vec())
            .map_err(|e| KeyError::Signer(e.to_string()))?;
        // Normalize here so a bad signature is reported as the platform's fault.
        keys::der_to_raw(&sig)
            .map(|raw| raw.to_vec())
            .or_else(|e| if sig.len() == 64 { Ok(sig) } else { Err(e) })
    }
}

struct ForeignFacts(Arc<dyn DeviceFacts>);

impl FactsProvider for ForeignFacts {
    fn facts(&self) -> Result<Facts, AgentError> {
        self.0
            .facts()
            .map(Facts::from)
            .map_err(|e| AgentError::Facts(e.to_string()))
    }
}

/// The agent as the platform sees it: one per state directory (app-private storage).
#[derive(uniffi::Object)]
pub struct Agent {
    inner: agent::Agent,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Agent {
    /// Opens the agent on `state_dir` with the platform's key.
    #[uniffi::constructor]
    pub fn new(state_dir: String, signer: Arc<dyn Signer>) -> Result<Arc<Self>, ApiError> {
        let signer: Arc<dyn keys::Signer> = Arc::new(ForeignSigner(signer));
        let inner = agent::Agent::open(&PathBuf::from(state_dir), signer)?;
        Ok(Arc::new(Self { inner }))
    }

    /// Enrolls with the `pramaan://enroll?...` URI scanned from IT's QR code.
    pub fn enroll(
        &self,
        uri: String,
        facts: Arc<dyn DeviceFacts>,
        evidence: Option<KeyEvidence>,
    ) -> Result<EnrollmentInfo, ApiError> {
        let e = self
            .inner
            .enroll(&uri, &ForeignFacts(facts), evidence.map(Into::into))?;
        Ok(EnrollmentInfo {
            device_id: e.device_id.to_string(),
            officer_id: e.officer_id,
            department: e.department,
            assurance: assurance_str(e.assurance),
        })
    }

    /// Signs and sends an attestation (queued offline if the server is unreachable).
    pub fn check_in(&self, facts: Arc<dyn DeviceFacts>) -> Result<CheckInResult, ApiError> {
        let outcome = self.inner.check_in(&ForeignFacts(facts))?;
        let pending = u64::try_from(self.inner.pending()?).unwrap_or(u64::MAX);
        Ok(match &outcome {
            CheckIn::Delivered {
                seq,
                token,
                result,
                local,
                ..
            } => CheckInResult {
                seq: *seq,
                delivered: true,
                result: Some(result.into()),
                local: local.into(),
                pending,
                token: token.clone(),
            },
            CheckIn::Queued {
                seq, token, local, ..
            } => CheckInResult {
                seq: *seq,
                delivered: false,
                result: None,
                local: local.into(),
                pending,
                token: token.clone(),
            },
        })
    }

    /// Sends queued attestations; returns how many left the outbox.
    pub fn flush_outbox(&self) -> Result<u64, ApiError> {
        Ok(u64::try_from(self.inner.flush_outbox()?).unwrap_or(u64::MAX))
    }

    pub fn pending_count(&self) -> Result<u64, ApiError> {
        Ok(u64::try_from(self.inner.pending()?).unwrap_or(u64::MAX))
    }

    pub fn status(&self) -> Result<AgentStatus, ApiError> {
        let s = self.inner.status()?;
        Ok(AgentStatus {
            enrolled: s.enrolled,
            device_id: s.device_id.map(|d| d.to_string()),
            officer_id: s.officer_id,
            department: s.department,
            server: s.server,
            last_seq: s.last_seq,
            last_result: s.last_result.as_ref().map(Into::into),
            last_local: s.last_local.as_ref().map(Into::into),
            pending: u64::try_from(s.pending).unwrap_or(u64::MAX),
        })
    }
}

/// Parses a facts file (TOML, design section 9) into the record, for apps that ship one.
#[uniffi::export]
pub fn facts_from_toml(text: String) -> Result<DeviceFactsRecord, ApiError> {
    let f = Facts::from_toml(&text).map_err(|e| ApiError::InvalidInput {
        detail: e.to_string(),
    })?;
    Ok(DeviceFactsRecord {
        platform: match f.platform {
            Platform::Android => DevicePlatform::Android,
            Platform::Ios => DevicePlatform::Ios,
            Platform::Desktop => DevicePlatform::Desktop,
        },
        model: f.model,
        os_name: f.os_name,
        os_version: f.os_version,
        patch_level: f.patch_level,
        screen_lock: f.screen_lock,
        emails: f.emails,
        apps: f
            .apps
            .into_iter()
            .map(|a| AppRecord {
                id: a.id,
                signer: a.signer,
                version: a.version,
                present: a.present,
            })
            .collect(),
        groups: f
            .groups
            .into_iter()
            .map(|g| GroupRecord {
                platform: g.platform,
                group: g.group,
                member: g.member,
                handle: g.handle,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SoftwareSigner;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    /// A platform signer that answers like Java: SPKI public key, DER signatures.
    struct JavaLike(EcdsaKeyPair);

    impl Signer for JavaLike {
        fn public_key(&self) -> Result<Vec<u8>, ApiError> {
            let mut spki = P256_SPKI_PREFIX.to_vec();
            spki.extend_from_slice(self.0.public_key().as_ref());
            Ok(spki)
        }
        fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, ApiError> {
            let rng = ring::rand::SystemRandom::new();
            self.0
                .sign(&rng, &message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| ApiError::Platform {
                    detail: "sign".into(),
                })
        }
    }

    struct Failing;
    impl Signer for Failing {
        fn public_key(&self) -> Result<Vec<u8>, ApiError> {
            Ok(vec![1, 2, 3])
        }
        fn sign(&self, _: Vec<u8>) -> Result<Vec<u8>, ApiError> {
            Ok(vec![0x30, 0x01])
        }
    }

    #[test]
    fn der_and_spki_from_the_platform_are_normalized() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("gen");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("pair");
        let adapter = ForeignSigner(Arc::new(JavaLike(pair)));
        let pk = keys::Signer::public_key(&adapter).expect("spki accepted");
        let token = crate::cose::sign_es256(&adapter, b"kid", b"payload".to_vec()).expect("sign");
        let sign1 = crate::cose::Sign1::parse(&token).expect("parse");
        assert_eq!(
            sign1.verify_es256(&pk, Some(b"kid")).expect("verifies"),
            b"payload"
        );
        let bad = ForeignSigner(Arc::new(Failing));
        assert!(keys::Signer::public_key(&bad).is_err());
        assert!(keys::Signer::sign(&bad, b"x").is_err());
    }

    #[test]
    fn errors_map_to_the_small_api_error() {
        assert!(matches!(
            ApiError::from(AgentError::NotEnrolled),
            ApiError::NotEnrolled
        ));
        let e = ApiError::from(AgentError::Rejected {
            status: 403,
            code: "revoked".into(),
            message: "device revoked".into(),
        });
        assert!(matches!(e, ApiError::Rejected { status: 403, .. }));
    }

    #[test]
    fn facts_record_round_trips_through_toml() {
        let r = facts_from_toml(
            "platform = \"ios\"\nmodel = \"iPhone 15\"\n[[apps]]\nid = \"net.whatsapp.WhatsApp\"\n"
                .into(),
        )
        .expect("parses");
        assert_eq!(r.platform, DevicePlatform::Ios);
        assert_eq!(r.os_name, "ios");
        let f = Facts::from(r);
        assert_eq!(f.apps[0].signer, None);
        assert!(facts_from_toml("platform = 1".into()).is_err());
    }

    #[test]
    fn ffi_agent_reports_not_enrolled() {
        let dir = tempfile::tempdir().expect("tempdir");
        struct Soft(SoftwareSigner);
        impl Signer for Soft {
            fn public_key(&self) -> Result<Vec<u8>, ApiError> {
                keys::Signer::public_key(&self.0)
                    .map(|k| k.as_sec1().to_vec())
                    .map_err(|e| ApiError::Platform {
                        detail: e.to_string(),
                    })
            }
            fn sign(&self, m: Vec<u8>) -> Result<Vec<u8>, ApiError> {
                keys::Signer::sign(&self.0, &m).map_err(|e| ApiError::Platform {
                    detail: e.to_string(),
                })
            }
        }
        let agent = Agent::new(
            dir.path().display().to_string(),
            Arc::new(Soft(SoftwareSigner::generate().expect("key"))),
        )
        .expect("opens");
        assert!(!agent.status().expect("status").enrolled);
        assert_eq!(agent.pending_count().expect("count"), 0);
    }
}

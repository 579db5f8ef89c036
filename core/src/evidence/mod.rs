//! Platform evidence that a device key is hardware-backed (rule R5).
//!
//! Enrollment may carry an Android Key Attestation chain or an Apple App Attest object
//! (`claims::Evidence`). The server turns it into an [`Assessment`] with [`assess`]:
//! `hardware` only if the evidence verifies against the roots we ship, is bound to this
//! enrollment's nonce and attests (or binds) the very key being enrolled. Anything else
//! is `software` with the reason in `detail`; R5 makes a software key a warning, so
//! evidence never blocks enrollment.
//!
//! - [`android`]: Key Attestation chains to Google's roots, KeyDescription decoding.
//! - [`apple`]: App Attest attestations and assertions to Apple's root.
//! - [`x509`]: the chain check both share, and [`TrustAnchors`].
//!
//! The evidence comes from devices: every parser here is total (no panics on any input,
//! covered by mutation property tests) and every check takes an explicit "now".

pub mod android;
pub mod apple;
pub mod status_list;
pub mod summary;
pub mod x509;

pub use android::{AndroidAttestation, SecurityLevel, VerifiedBootState, verify_android};
pub use apple::{AppleAttestation, Environment, verify_apple_assertion, verify_apple_attestation};
pub use status_list::{Status, StatusEntry, StatusList, StatusListError};
pub use summary::{EvidenceKind, EvidenceSummary};
pub use x509::{ChainError, TrustAnchors};

use crate::claims::{Assurance, Evidence};
use crate::keys::P256PublicKey;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq as _;

/// Why evidence did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The certificate chain does not verify to a shipped root.
    #[error("certificate chain: {0}")]
    Chain(#[from] ChainError),
    /// The evidence does not parse (DER, CBOR, KeyDescription, authData); says where.
    #[error("malformed evidence: {0}")]
    Malformed(String),
    /// A required certificate extension is absent; holds which.
    #[error("missing extension: {0}")]
    MissingExtension(&'static str),
    /// A signature or key algorithm Pramaan cannot check; holds its name.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// Android: attestationChallenge is not the enrollment nonce.
    #[error("attestation challenge does not match the expected one")]
    ChallengeMismatch,
    /// Apple: the credential certificate's nonce does not bind this attestation.
    #[error(
        "nonce in the credential certificate does not match SHA-256(authData || clientDataHash)"
    )]
    NonceMismatch,
    /// Apple: the key id is not SHA-256 of the attested key, or not the expected one.
    #[error("key id does not match the attested key")]
    KeyIdMismatch,
    /// Apple: rpIdHash is not SHA-256 of any accepted app id.
    #[error("rpIdHash does not match the app id")]
    AppIdMismatch,
    /// Apple: bad sign counter (not 0 at attestation, not increasing after); says how.
    #[error("counter: {0}")]
    Counter(String),
    /// Apple: the aaguid names another environment than the accepted one.
    #[error("environment: {0}")]
    Environment(String),
    /// A signature over the evidence does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

impl EvidenceError {
    /// True for an algorithm Pramaan cannot check (as opposed to evidence that is wrong).
    pub fn is_unsupported_algorithm(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedAlgorithm(_) | Self::Chain(ChainError::UnsupportedAlgorithm(_))
        )
    }
}

/// The verdict on one enrollment's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// `hardware` only if the evidence verified and binds the enrolling key.
    pub assurance: Assurance,
    /// The hardware-attested device model (Android attestationIdModel), if any.
    pub attested_model: Option<String>,
    /// What was verified, or why the key counts as software.
    pub detail: String,
}

impl Assessment {
    fn software(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        log::info!("evidence: software assurance: {detail}");
        Self {
            assurance: Assurance::Software,
            attested_model: None,
            detail,
        }
    }
}

/// Deployment settings for [`assess_with`].
#[derive(Debug, Clone)]
pub struct AssessOptions {
    /// Roots for Android Key Attestation chains.
    pub google_roots: TrustAnchors,
    /// Roots for Apple App Attest chains.
    pub apple_roots: TrustAnchors,
    /// App ids (`TEAMID.bundle.id`) whose App Attest evidence is accepted. Empty: Apple
    /// evidence is never hardware (the deployment has not configured its iOS app).
    pub apple_app_ids: Vec<String>,
    /// Accept App Attest's development environment (aaguid `appattestdevelop`).
    pub apple_allow_development: bool,
}

impl Default for AssessOptions {
    fn default() -> Self {
        Self {
            google_roots: TrustAnchors::google_builtin(),
            apple_roots: TrustAnchors::apple_builtin(),
            apple_app_ids: Vec::new(),
            apple_allow_development: false,
        }
    }
}

/// [`assess_with`] with the shipped roots and no iOS app configured.
pub fn assess(
    evidence: &Evidence,
    nonce: &[u8],
    device_key: &P256PublicKey,
    now: u64,
) -> Assessment {
    assess_with(evidence, nonce, device_key, now, &AssessOptions::default())
}

/// Decides the assurance of an enrolling key; never fails (R5 failures are warnings).
///
/// Android: the chain verifies to a Google root at `now`, attestationChallenge equals the
/// enrollment `nonce`, the security level is TEE or StrongBox, and the leaf certifies
/// exactly `device_key`.
///
/// Apple: App Attest cannot attest the Secure Enclave key Pramaan signs with, so the
/// client data binds it: `client_data = nonce (32 bytes) || COSE_Key of the device key`
/// (any valid encoding of the same P-256 key; it is parsed, not byte-compared). The
/// attestation must verify for one of the configured app ids with
/// `clientDataHash = SHA-256(client_data)`, and `key_id` must be its App Attest key id.
pub fn assess_with(
    evidence: &Evidence,
    nonce: &[u8],
    device_key: &P256PublicKey,
    now: u64,
    options: &AssessOptions,
) -> Assessment {
    match evidence {
        Evidence::AndroidKeyAttestation { chain } => {
            let att = match verify_android(chain, nonce, now, &options.google_roots) {
                Ok(a) => a,
                Err(e) => return Assessment::software(format!("android key attestation: {e}")),
            };
            if !att.hardware_backed {
                return Assessment::software(format!(
                    "android key attestation: key is not hardware-backed (security level {})",
                    att.security_level.as_google_str()
                ));
            }
            let same_key = matches!(&att.public_key,
                android::AttestedKey::Ec { sec1, .. } if bool::from(sec1.as_slice().ct_eq(device_key.as_sec1())));
            if !same_key {
                return Assessment::software(
                    "android key attestation: the attested key is not the enrolled device key",
                );
            }
            let detail = format!(
                "android key attestation verified: {} key, root {}, verified boot {}, device {}{}",
                att.security_level.as_google_str(),
                att.root,
                att.verified_boot_state
                    .map_or("unknown", VerifiedBootState::as_google_str),
                match att.device_locked {
                    Some(true) => "locked",
                    Some(false) => "unlocked",
                    None => "lock state unknown",
                },
                if att.expired_certificates_tolerated {
                    " (expired factory keybox tolerated)"
                } else {
                    ""
                }
            );
            Assessment {
                assurance: Assurance::Hardware,
                attested_model: att.attested_model,
                detail,
            }
        }
        Evidence::AppleAppAttest {
            attestation,
            key_id,
            client_data,
        } => {
            if client_data.len() < 32 || !bool::from(client_data[..32].ct_eq(nonce)) {
                return Assessment::software(
                    "app attest: client data does not start with the enrollment nonce",
                );
            }
            match P256PublicKey::from_cose_key_bytes(&client_data[32..]) {
                Ok(k) if k == *device_key => {}
                _ => {
                    return Assessment::software(
                        "app attest: client data does not carry the enrolled device key",
                    );
                }
            }
            if options.apple_app_ids.is_empty() {
                return Assessment::software("app attest: no iOS app id is configured");
            }
            let hash: [u8; 32] = {
                let d = digest(&SHA256, client_data);
                let mut h = [0u8; 32];
                h.copy_from_slice(d.as_ref());
                h
            };
            let mut envs = vec![Environment::Production];
            if options.apple_allow_development {
                envs.push(Environment::Development);
            }
            let mut last_err = None;
            for app_id in &options.apple_app_ids {
                for env in &envs {
                    match verify_apple_attestation(
                        attestation,
                        &hash,
                        key_id,
                        app_id,
                        *env,
                        now,
                        &options.apple_roots,
                    ) {
                        Ok(_) => {
                            return Assessment {
                                assurance: Assurance::Hardware,
                                attested_model: None,
                                detail: format!(
                                    "app attest verified for {app_id} ({env:?}); device key bound by client data"
                                ),
                            };
                        }
                        Err(e) => last_err = Some(e),
                    }
                }
            }
            Assessment::software(format!(
                "app attest: {}",
                last_err.map_or_else(|| "not verified".to_string(), |e| e.to_string())
            ))
        }
    }
}

/// Serde helper: bytes as lowercase hex.
pub(crate) mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

/// Serde helper: optional bytes as lowercase hex.
pub(crate) mod hex_opt {
    #[allow(clippy::ref_option)]
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
}

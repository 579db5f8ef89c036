//! What platform evidence established about a device: the facts the department's
//! evidence policy is judged on.
//!
//! Why facts and not a verdict: the verifiers ([`super::android`], [`super::apple`]) know
//! cryptography and formats; the department's requirements (boot state, patch level, the
//! Pramaan app's identity, Google's revocation list) change after a phone enrolls. So
//! [`super::summarize`] records what the evidence proves, once, when it arrives (at
//! enrollment and at each re-attestation), the server keeps it with the device, and
//! `policy::evidence` judges it against the policy and status list in force at every
//! check-in. A fact the evidence does not carry is `None`, never a guess.

use serde::{Deserialize, Serialize};

use super::android::{SecurityLevel, VerifiedBootState};
use crate::model::AppAttestEnvironment;

/// Which kind of platform evidence a device sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// `none`: no evidence (the desktop agent, or a phone that sent none).
    #[default]
    None,
    /// `android_key_attestation`: an Android Key Attestation certificate chain.
    AndroidKeyAttestation,
    /// `apple_app_attest`: an Apple App Attest attestation (or assertion).
    AppleAppAttest,
}

impl EvidenceKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::None => "none",
            EvidenceKind::AndroidKeyAttestation => "android_key_attestation",
            EvidenceKind::AppleAppAttest => "apple_app_attest",
        }
    }
}

/// The facts one piece of evidence established (design section 6, `[evidence]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceSummary {
    /// Which evidence was sent.
    pub kind: EvidenceKind,
    /// The evidence verified: the chain ends at a shipped root (at `checked_at`), it is
    /// bound to the server's nonce, and it certifies (Android) or binds (Apple) the very
    /// device key. Every other field is meaningful only when this is true.
    pub verified: bool,
    /// Why the evidence did not verify (absent when it did, or when there was none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the evidence was checked, seconds since the Unix epoch (its age is measured
    /// from here; re-attestation renews it).
    pub checked_at: u64,

    /// Android: where Keystore keeps the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_level: Option<SecurityLevel>,
    /// Android: the bootloader's verdict on the booted OS (root of trust).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_boot: Option<VerifiedBootState>,
    /// Android: whether the bootloader is locked (root of trust).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootloader_locked: Option<bool>,
    /// Android: OS security patch level, `YYYYMM` (e.g. 202511).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_patch_level: Option<u32>,
    /// Android: packages of the app that made the key (attestationApplicationId).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_packages: Vec<String>,
    /// Android: SHA-256 of that app's signing certificates, lowercase hex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_signers: Vec<String>,
    /// Android: serial numbers of the chain's certificates, leaf first, as Google's
    /// status list writes them (lowercase hex, no leading zeros).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain_serials: Vec<String>,
    /// Android: an expired factory keybox certificate was tolerated in the chain.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expired_keybox: bool,
    /// Android: `attestationIdModel` (Build.MODEL) when the device attests its ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attested_model: Option<String>,
    /// Android: SHA-256 of the root of trust's verifiedBootKey (the key the bootloader
    /// verified the OS with), lowercase hex: re-attestation must show the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_boot_key: Option<String>,
    /// The trust anchor the chain ended at (its subject).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,

    /// Apple: rpIdHash, SHA-256 of the app id (`TEAMID.bundle.id`), lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rp_id_hash: Option<String>,
    /// Apple: the App Attest environment the aaguid names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<AppAttestEnvironment>,
    /// Apple: the sign counter of the attestation or assertion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<u32>,
    /// Apple: the attested App Attest public key (uncompressed SEC1, hex) that later
    /// assertions are verified with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_attest_key: Option<String>,
}

impl EvidenceSummary {
    /// No evidence at all, recorded at `now`.
    pub fn none(now: u64) -> Self {
        Self {
            checked_at: now,
            ..Self::default()
        }
    }

    /// Evidence of `kind` that did not verify, and why.
    pub fn failed(kind: EvidenceKind, error: impl Into<String>, now: u64) -> Self {
        Self {
            kind,
            error: Some(error.into()),
            checked_at: now,
            ..Self::default()
        }
    }
}

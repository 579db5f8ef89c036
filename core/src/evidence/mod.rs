//! Platform evidence: what a phone's Android Key Attestation chain or Apple App Attest
//! object proves about the device key, the device and the app that made the key.
//!
//! Enrollment (and re-attestation) may carry evidence (`claims::Evidence`). The server
//! turns it into an [`EvidenceSummary`] with [`summarize`]: `verified` only if the
//! evidence verifies against the roots we ship, is bound to the server's nonce and
//! attests (or binds) the very device key, and then the facts it establishes (boot
//! state, patch level, the app that made the key, chain serials, App Attest app and
//! environment). Facts, not a verdict, because the department's `[evidence]` policy and
//! Google's revocation status list change after a phone enrolls:
//! `policy::evidence::judge_evidence` judges the facts at every check-in. Evidence never
//! blocks enrollment by itself: a device whose evidence fails is recorded, and its
//! verdicts say why.
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

pub use android::{
    AndroidAttestation, AttestationApplicationId, AttestedPackage, SecurityLevel,
    VerifiedBootState, verify_android,
};
pub use apple::{AppleAttestation, Environment, verify_apple_assertion, verify_apple_attestation};
pub use status_list::{Status, StatusEntry, StatusList, StatusListError};
pub use summary::{EvidenceKind, EvidenceSummary};
pub use x509::{ChainError, TrustAnchors};

use crate::claims::Evidence;
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

/// The roots evidence must chain to.
#[derive(Debug, Clone)]
pub struct Roots {
    /// Roots for Android Key Attestation chains.
    pub google: TrustAnchors,
    /// Roots for Apple App Attest chains.
    pub apple: TrustAnchors,
}

impl Roots {
    /// The roots Pramaan ships (Google's attestation roots, Apple's App Attestation root).
    pub fn builtin() -> Self {
        Self {
            google: TrustAnchors::google_builtin(),
            apple: TrustAnchors::apple_builtin(),
        }
    }
}

impl Default for Roots {
    fn default() -> Self {
        Self::builtin()
    }
}

/// Records what `evidence` establishes about the device holding `device_key`, at `now`:
/// the facts the department's `[evidence]` policy is judged on
/// (`policy::evidence::judge_evidence`). Never fails: evidence that does not verify is
/// [`EvidenceSummary::failed`] with the reason.
///
/// `verified` means: the chain verifies to one of `roots` at `now`, the evidence is
/// bound to `nonce`, and it certifies (Android) or binds (Apple) the very `device_key`.
///
/// - Android: attestationChallenge equals `nonce` and the leaf certifies exactly
///   `device_key`. A Keystore `SOFTWARE` security level still verifies (the facts say so
///   and the judge refuses it); a chain to any other root (the AOSP software root) does
///   not. `expired_keybox` records that the chain check tolerated an expired factory
///   certificate (the judge then wants a recent revocation status list).
/// - Apple: App Attest cannot attest the Secure Enclave key Pramaan signs with, so the
///   client data binds it: `client_data = nonce (32 bytes) || COSE_Key of the device
///   key` (any valid encoding of the same P-256 key; parsed, not byte-compared); the
///   attestation must verify with `clientDataHash = SHA-256(client_data)` and `key_id`
///   (see [`summarize_app_attest`]). Which app ids and environment count is the
///   policy's business: the summary records the rpIdHash and the environment.
pub fn summarize(
    evidence: &Evidence,
    nonce: &[u8],
    device_key: &P256PublicKey,
    now: u64,
    roots: &Roots,
) -> EvidenceSummary {
    match evidence {
        Evidence::AndroidKeyAttestation { chain } => {
            let kind = EvidenceKind::AndroidKeyAttestation;
            let att = match verify_android(chain, nonce, now, &roots.google) {
                Ok(a) => a,
                Err(e) => return EvidenceSummary::failed(kind, e.to_string(), now),
            };
            let same_key = matches!(&att.public_key,
                android::AttestedKey::Ec { sec1, .. } if bool::from(sec1.as_slice().ct_eq(device_key.as_sec1())));
            if !same_key {
                return EvidenceSummary::failed(
                    kind,
                    "the attested key is not the device key",
                    now,
                );
            }
            android_facts(&att, now)
        }
        Evidence::AppleAssertion { .. } => EvidenceSummary::failed(
            EvidenceKind::AppleAppAttest,
            "an App Attest assertion renews evidence; it cannot enroll a key (send the attestation)",
            now,
        ),
        Evidence::AppleAppAttest {
            attestation,
            key_id,
            client_data,
        } => {
            let kind = EvidenceKind::AppleAppAttest;
            if client_data.len() < 32 || !bool::from(client_data[..32].ct_eq(nonce)) {
                return EvidenceSummary::failed(
                    kind,
                    "the client data does not start with the server's nonce",
                    now,
                );
            }
            match P256PublicKey::from_cose_key_bytes(&client_data[32..]) {
                Ok(k) if k == *device_key => {}
                _ => {
                    return EvidenceSummary::failed(
                        kind,
                        "the client data does not carry the device key",
                        now,
                    );
                }
            }
            summarize_app_attest(attestation, key_id, client_data, now, &roots.apple)
        }
    }
}

/// The facts of a verified Android attestation, recorded at `now`. The caller has
/// checked the challenge (verify_android does) and, for a device, that the attested key
/// is the device key ([`summarize`] does; `pramaan evidence android` has no device key).
pub fn android_facts(att: &AndroidAttestation, now: u64) -> EvidenceSummary {
    let (app_packages, app_signers) = att
        .application_id
        .as_ref()
        .map(|a| (a.package_names(), a.signature_digests.clone()))
        .unwrap_or_default();
    EvidenceSummary {
        kind: EvidenceKind::AndroidKeyAttestation,
        verified: true,
        error: None,
        checked_at: now,
        security_level: Some(att.security_level),
        verified_boot: att.verified_boot_state,
        bootloader_locked: att.device_locked,
        os_patch_level: att.os_patch_level.and_then(patch_yyyymm),
        app_packages,
        app_signers,
        chain_serials: att.chain_serials.clone(),
        expired_keybox: att.expired_certificates_tolerated,
        attested_model: att.attested_model.clone(),
        verified_boot_key: att
            .key_description
            .root_of_trust()
            .map(|r| hex::encode(sha256(&r.verified_boot_key))),
        root: Some(att.root.clone()),
        ..EvidenceSummary::default()
    }
}

/// The facts of an App Attest attestation over exactly `client_data` (its SHA-256 is the
/// clientDataHash), at `now`. This checks the attestation only; [`summarize`] first
/// checks that the client data binds the server's nonce and the device key.
pub fn summarize_app_attest(
    attestation: &[u8],
    key_id: &[u8],
    client_data: &[u8],
    now: u64,
    apple_roots: &TrustAnchors,
) -> EvidenceSummary {
    match verify_apple_attestation(attestation, &sha256(client_data), key_id, now, apple_roots) {
        Ok(a) => apple_facts(&a, now),
        Err(e) => EvidenceSummary::failed(EvidenceKind::AppleAppAttest, e.to_string(), now),
    }
}

/// The facts of a verified App Attest attestation, recorded at `now`.
pub fn apple_facts(a: &AppleAttestation, now: u64) -> EvidenceSummary {
    EvidenceSummary {
        kind: EvidenceKind::AppleAppAttest,
        verified: true,
        error: None,
        checked_at: now,
        root: Some(a.root.clone()),
        rp_id_hash: Some(hex::encode(&a.rp_id_hash)),
        environment: Some(a.environment),
        counter: Some(a.counter),
        app_attest_key: Some(hex::encode(&a.public_key)),
        ..EvidenceSummary::default()
    }
}

/// Fresh evidence for a device enrolled with `enrolled`, bound to the server `nonce` of
/// the attestation that carries it (re-attestation, design section 5).
///
/// Key attestation proves the boot state only when a key is made, so a result can ask
/// the device for fresh evidence:
/// - Android: a short-lived key attested with `nonce` as challenge. Its chain must verify
///   like an enrollment's, and show the same device: the same verifiedBootKey and, where
///   both attest it, the same model. (Android gives ordinary apps no device-unique
///   attested id; the attestation is also signed by the enrolled device key, which is
///   what binds it to this phone.)
/// - Apple: an App Attest assertion over `nonce` (clientDataHash = SHA-256(nonce)) by the
///   App Attest key attested at enrollment, for the same app (rpIdHash). Its counter is
///   returned in the summary: the caller stores it and refuses one that does not
///   increase (a replay).
///
/// Never fails: evidence that does not hold is [`EvidenceSummary::failed`], which the
/// policy then judges (the device stops counting as the official phone).
pub fn reattest(
    evidence: &Evidence,
    nonce: &[u8],
    enrolled: &EvidenceSummary,
    previous_counter: u32,
    now: u64,
    roots: &Roots,
) -> EvidenceSummary {
    match evidence {
        Evidence::AndroidKeyAttestation { chain } => {
            let kind = EvidenceKind::AndroidKeyAttestation;
            if enrolled.kind != kind || !enrolled.verified {
                return EvidenceSummary::failed(
                    kind,
                    "fresh key attestation for a device whose enrollment evidence was not a verified key attestation",
                    now,
                );
            }
            let att = match verify_android(chain, nonce, now, &roots.google) {
                Ok(a) => a,
                Err(e) => {
                    return EvidenceSummary::failed(kind, format!("re-attestation: {e}"), now);
                }
            };
            let fresh = android_facts(&att, now);
            let differs = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
            if fresh.verified_boot_key.is_none()
                || differs(&fresh.verified_boot_key, &enrolled.verified_boot_key)
                || differs(&fresh.attested_model, &enrolled.attested_model)
            {
                return EvidenceSummary::failed(
                    kind,
                    "re-attestation shows another device (verified boot key or model differ from enrollment)",
                    now,
                );
            }
            EvidenceSummary {
                // Keep what only enrollment showed (the model, when this key has no ids).
                attested_model: fresh
                    .attested_model
                    .clone()
                    .or_else(|| enrolled.attested_model.clone()),
                ..fresh
            }
        }
        Evidence::AppleAssertion { assertion } => {
            let kind = EvidenceKind::AppleAppAttest;
            let (Some(key), Some(rp)) = (
                enrolled
                    .app_attest_key
                    .as_deref()
                    .and_then(|k| hex::decode(k).ok()),
                enrolled
                    .rp_id_hash
                    .as_deref()
                    .and_then(|h| hex::decode(h).ok()),
            ) else {
                return EvidenceSummary::failed(
                    kind,
                    "an App Attest assertion for a device enrolled without a verified App Attest key",
                    now,
                );
            };
            match apple::verify_apple_assertion_for(
                assertion,
                &sha256(nonce),
                &key,
                &rp,
                previous_counter,
            ) {
                Ok(counter) => EvidenceSummary {
                    checked_at: now,
                    counter: Some(counter),
                    ..enrolled.clone()
                },
                Err(e) => EvidenceSummary::failed(kind, format!("re-attestation: {e}"), now),
            }
        }
        Evidence::AppleAppAttest { .. } => EvidenceSummary::failed(
            EvidenceKind::AppleAppAttest,
            "re-attestation on iOS is an App Attest assertion, not a new attestation",
            now,
        ),
    }
}

/// An attested osPatchLevel as `YYYYMM`: KeyMint writes `YYYYMM`; a `YYYYMMDD` value is
/// cut to its month. Anything that is not a real month is `None` (no patch level shown,
/// which a policy with a minimum refuses), never a guess.
fn patch_yyyymm(v: i64) -> Option<u32> {
    let v = u32::try_from(v).ok()?;
    let m = match v {
        200_001..=999_912 => v,
        20_000_101..=99_991_231 => v / 100,
        _ => return None,
    };
    (1..=12).contains(&(m % 100)).then_some(m)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, data).as_ref());
    h
}

/// Decodes base64 as phones and tools write it: the standard or the URL-safe alphabet,
/// padded or not, with any whitespace (line breaks) ignored. A text mixing both
/// alphabets is refused.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let alphabet = if compact.contains(['-', '_']) {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    GeneralPurpose::new(alphabet, config).decode(compact.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_levels_become_months_or_nothing() {
        assert_eq!(patch_yyyymm(202_511), Some(202_511));
        assert_eq!(patch_yyyymm(20_251_105), Some(202_511));
        for bad in [0, -1, 202_513, 202_500, 19_990_101, 2_025_110, i64::MAX] {
            assert_eq!(patch_yyyymm(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64_in_either_alphabet_with_or_without_padding() {
        let want = Some(vec![0xfb, 0xff]);
        for text in ["+/8=", "+/8", "-_8=", "-_8", " +/\n8= "] {
            assert_eq!(decode_base64(text).ok(), want, "{text}");
        }
        assert!(decode_base64("+_8").is_err(), "mixed alphabets");
        assert!(decode_base64("!!").is_err());
    }
}

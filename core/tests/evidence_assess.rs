//! `evidence::summarize`: what enrollment evidence proves (verified only when it
//! verifies, is bound to the nonce and attests the enrolled key; otherwise not verified,
//! with the reason).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pramaan_core::claims::Evidence;
use pramaan_core::evidence::android::AttestedKey;
use pramaan_core::evidence::{EvidenceSummary, Roots, TrustAnchors, verify_android};
use pramaan_core::keys::{P256PublicKey, Signer as _, SoftwareSigner};
use proptest::prelude::*;

const TEGU: &str = "tegu/sdk37/TEE_TRUSTED_CONF";

/// (chain, challenge, now, leaf key) of a real P-256 TEE attestation.
fn tegu() -> (Vec<Vec<u8>>, Vec<u8>, u64, P256PublicKey) {
    let r = pramaan_testkit::real_evidence::android_chain(TEGU);
    let att = verify_android(
        &r.chain,
        &r.challenge,
        r.now,
        &TrustAnchors::google_builtin(),
    )
    .unwrap();
    let AttestedKey::Ec { sec1, .. } = att.public_key else {
        panic!("tegu leaf is EC")
    };
    (
        r.chain,
        r.challenge,
        r.now,
        P256PublicKey::from_sec1(&sec1).unwrap(),
    )
}

/// Wraps `summarize` with the shipped roots.
fn assess(ev: &Evidence, nonce: &[u8], key: &P256PublicKey, now: u64) -> EvidenceSummary {
    pramaan_core::evidence::summarize(ev, nonce, key, now, &Roots::builtin())
}

/// The reason recorded for evidence that did not verify.
fn reason(a: &EvidenceSummary) -> String {
    a.error.clone().unwrap_or_default()
}

#[test]
fn android_hardware_when_everything_matches() {
    let (chain, challenge, now, key) = tegu();
    let a = assess(
        &Evidence::AndroidKeyAttestation { chain },
        &challenge,
        &key,
        now,
    );
    assert!(a.verified, "{}", reason(&a));
    assert_eq!(a.attested_model.as_deref(), Some("Pixel 9a"));
    assert_eq!(
        a.security_level,
        Some(pramaan_core::evidence::SecurityLevel::TrustedEnvironment)
    );
}

#[test]
fn android_software_with_reason_otherwise() {
    let (chain, challenge, now, key) = tegu();
    let ev = Evidence::AndroidKeyAttestation {
        chain: chain.clone(),
    };
    // Another key than the attested one.
    let other = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let a = assess(&ev, &challenge, &other, now);
    assert!(!a.verified);
    assert!(reason(&a).contains("not the device key"), "{}", reason(&a));
    // Another nonce.
    let a = assess(&ev, &[0u8; 32], &key, now);
    assert!(!a.verified);
    assert!(reason(&a).contains("challenge"), "{}", reason(&a));
    // Long after the short-lived RKP certificates expired.
    let a = assess(&ev, &challenge, &key, now + 400 * 86_400);
    assert!(!a.verified);
    assert!(reason(&a).contains("expired"), "{}", reason(&a));
    // Garbage.
    let a = assess(
        &Evidence::AndroidKeyAttestation {
            chain: vec![vec![0x30, 0x00]],
        },
        &challenge,
        &key,
        now,
    );
    assert!(!a.verified);
    let a = assess(
        &Evidence::AndroidKeyAttestation { chain: vec![] },
        &challenge,
        &key,
        now,
    );
    assert!(!a.verified);
}

#[test]
fn apple_without_binding_is_not_verified() {
    let key = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let nonce = [1u8; 32];
    let ev = Evidence::AppleAppAttest {
        attestation: vec![0xa0],
        key_id: vec![0; 32],
        client_data: nonce.to_vec(),
    };
    let a = assess(&ev, &nonce, &key, 1_700_000_000);
    assert!(!a.verified);
    assert!(reason(&a).contains("device key"), "{}", reason(&a));
    let mut cd = nonce.to_vec();
    cd.extend_from_slice(&key.to_cose_key_bytes());
    let ev = Evidence::AppleAppAttest {
        attestation: vec![0xa0],
        key_id: vec![0; 32],
        client_data: cd,
    };
    let a = assess(&ev, &nonce, &key, 1_700_000_000);
    assert!(!a.verified);
    assert!(reason(&a).contains("apple-appattest"), "{}", reason(&a));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// summarize never panics and never verifies a mutated chain.
    #[test]
    fn mutated_evidence_is_never_hardware(cert in 0usize..5, pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let (mut chain, challenge, now, key) = tegu();
        let ci = cert % chain.len();
        let bi = pos.index(chain[ci].len());
        chain[ci][bi] ^= x;
        let a = assess(&Evidence::AndroidKeyAttestation { chain }, &challenge, &key, now);
        prop_assert!(!a.verified);
    }
}

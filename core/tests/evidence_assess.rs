//! `evidence::assess`: the enrollment verdict (hardware only when the evidence verifies,
//! is bound to the nonce and attests the enrolled key; otherwise software with a reason).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine as _;
use pramaan_core::claims::{Assurance, Evidence};
use pramaan_core::evidence::android::AttestedKey;
use pramaan_core::evidence::x509::pem_certificates;
use pramaan_core::evidence::{TrustAnchors, assess, verify_android};
use pramaan_core::keys::{P256PublicKey, Signer as _, SoftwareSigner};
use proptest::prelude::*;

const TEGU: &str = "tegu/sdk37/TEE_TRUSTED_CONF";

/// (chain, challenge, now, leaf key) of a real P-256 TEE attestation.
fn tegu() -> (Vec<Vec<u8>>, Vec<u8>, u64, P256PublicKey) {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/evidence/android-key-attestation");
    let chain =
        pem_certificates(&std::fs::read_to_string(dir.join(format!("{TEGU}.pem"))).unwrap())
            .unwrap();
    let json: String = std::fs::read_to_string(dir.join(format!("{TEGU}.json")))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let exp: serde_json::Value = serde_json::from_str(&json).unwrap();
    let challenge = base64::engine::general_purpose::STANDARD
        .decode(exp["attestationChallenge"].as_str().unwrap())
        .unwrap();
    let now = exp["softwareEnforced"]["creationDateTime"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1000;
    let att = verify_android(&chain, &challenge, now, &TrustAnchors::google_builtin()).unwrap();
    let AttestedKey::Ec { sec1, .. } = att.public_key else {
        panic!("tegu leaf is EC")
    };
    (
        chain,
        challenge,
        now,
        P256PublicKey::from_sec1(&sec1).unwrap(),
    )
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
    assert_eq!(a.assurance, Assurance::Hardware, "{}", a.detail);
    assert_eq!(a.attested_model.as_deref(), Some("Pixel 9a"));
    assert!(a.detail.contains("TRUSTED_ENVIRONMENT"), "{}", a.detail);
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
    assert_eq!(a.assurance, Assurance::Software);
    assert!(
        a.detail.contains("not the enrolled device key"),
        "{}",
        a.detail
    );
    // Another nonce.
    let a = assess(&ev, &[0u8; 32], &key, now);
    assert_eq!(a.assurance, Assurance::Software);
    assert!(a.detail.contains("challenge"), "{}", a.detail);
    // Long after the short-lived RKP certificates expired.
    let a = assess(&ev, &challenge, &key, now + 400 * 86_400);
    assert_eq!(a.assurance, Assurance::Software);
    assert!(a.detail.contains("expired"), "{}", a.detail);
    // Garbage.
    let a = assess(
        &Evidence::AndroidKeyAttestation {
            chain: vec![vec![0x30, 0x00]],
        },
        &challenge,
        &key,
        now,
    );
    assert_eq!(a.assurance, Assurance::Software);
    let a = assess(
        &Evidence::AndroidKeyAttestation { chain: vec![] },
        &challenge,
        &key,
        now,
    );
    assert_eq!(a.assurance, Assurance::Software);
}

#[test]
fn apple_without_binding_or_configuration_is_software() {
    let key = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let nonce = [1u8; 32];
    let ev = Evidence::AppleAppAttest {
        attestation: vec![0xa0],
        key_id: vec![0; 32],
        client_data: nonce.to_vec(),
    };
    let a = assess(&ev, &nonce, &key, 1_700_000_000);
    assert_eq!(a.assurance, Assurance::Software);
    assert!(a.detail.contains("device key"), "{}", a.detail);
    let mut cd = nonce.to_vec();
    cd.extend_from_slice(&key.to_cose_key_bytes());
    let ev = Evidence::AppleAppAttest {
        attestation: vec![0xa0],
        key_id: vec![0; 32],
        client_data: cd,
    };
    let a = assess(&ev, &nonce, &key, 1_700_000_000);
    assert_eq!(a.assurance, Assurance::Software);
    assert!(a.detail.contains("app id"), "{}", a.detail);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// assess never panics and never says hardware for a mutated chain.
    #[test]
    fn mutated_evidence_is_never_hardware(cert in 0usize..5, pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let (mut chain, challenge, now, key) = tegu();
        let ci = cert % chain.len();
        let bi = pos.index(chain[ci].len());
        chain[ci][bi] ^= x;
        let a = assess(&Evidence::AndroidKeyAttestation { chain }, &challenge, &key, now);
        prop_assert_eq!(a.assurance, Assurance::Software);
    }
}

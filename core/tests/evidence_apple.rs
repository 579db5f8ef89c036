//! Apple App Attest verifier against real iOS 14 attestations and assertions
//! (`tests/data/evidence/apple-app-attest`, from veehaitch/devicecheck-appattest, see
//! SOURCE.md). The YAML files are read with a tiny line reader for the few top-level
//! `key: value` fields used (no YAML dependency).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use pramaan_core::claims::Evidence;
use pramaan_core::evidence::{
    Environment, EvidenceError, Roots, TrustAnchors, summarize, verify_apple_assertion,
    verify_apple_attestation,
};
use pramaan_core::keys::{P256PublicKey, Signer as _, SoftwareSigner};
use proptest::prelude::*;
use ring::digest::{SHA256, digest};

type Doc = BTreeMap<String, String>;

/// Top-level `key: value` pairs of each `---` document; `key: |` blocks keep their
/// indented lines joined by newlines (the PEM public key).
fn documents(text: &str) -> Vec<Doc> {
    let mut docs = vec![Doc::new()];
    let mut block: Option<String> = None;
    for line in text.lines() {
        if line == "---" {
            block = None;
            docs.push(Doc::new());
            continue;
        }
        let doc = docs.last_mut().unwrap();
        if let Some(stripped) = line.strip_prefix("  ") {
            if let Some(key) = &block {
                let v = doc.entry(key.clone()).or_default();
                v.push_str(stripped);
                v.push('\n');
            }
            continue;
        }
        block = None;
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim().trim_matches('\'');
            if v == "|" {
                block = Some(k.to_string());
            } else {
                doc.insert(k.to_string(), v.to_string());
            }
        }
    }
    docs.retain(|d| !d.is_empty());
    docs
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn all_docs() -> Vec<Doc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/evidence/apple-app-attest");
    ["ios-14.2.yaml", "ios-14.3.yaml", "ios-14.4.yaml"]
        .iter()
        .flat_map(|f| documents(&std::fs::read_to_string(dir.join(f)).unwrap()))
        .collect()
}

fn of_type(kind: &str) -> Vec<Doc> {
    all_docs()
        .into_iter()
        .filter(|d| d["type"] == kind)
        .collect()
}

fn app_id(d: &Doc) -> String {
    format!("{}.{}", d["teamIdentifier"], d["bundleIdentifier"])
}

fn cdh(d: &Doc) -> [u8; 32] {
    let h = digest(&SHA256, &b64(&d["clientDataBase64"]));
    h.as_ref().try_into().unwrap()
}

fn now(d: &Doc) -> u64 {
    let t = time::OffsetDateTime::parse(
        &d["timestamp"],
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    t.unix_timestamp() as u64
}

fn env(d: &Doc) -> Environment {
    match d["environment"].as_str() {
        "development" => Environment::Development,
        _ => Environment::Production,
    }
}

/// The uncompressed point from the document's PEM SubjectPublicKeyInfo.
fn public_key(d: &Doc) -> Vec<u8> {
    let pem = &d["publicKey"];
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let spki = b64(&body);
    spki[spki.len() - 65..].to_vec()
}

fn verify(d: &Doc, object: &[u8]) -> Result<Vec<u8>, EvidenceError> {
    verify_apple_attestation(
        object,
        &cdh(d),
        &b64(&d["keyIdBase64"]),
        now(d),
        &TrustAnchors::apple_builtin(),
    )
    .and_then(|a| {
        // The app id and environment the document names (the policy's job in Pramaan).
        if a.is_for_app(&app_id(d)) && a.environment == env(d) {
            Ok(a.public_key)
        } else {
            Err(EvidenceError::AppIdMismatch)
        }
    })
}

#[test]
fn the_files_hold_three_attestations_and_three_assertions() {
    assert_eq!(of_type("attestation").len(), 3);
    assert_eq!(of_type("assertion").len(), 3);
}

#[test]
fn every_attestation_verifies() {
    for d in of_type("attestation") {
        let a = verify_apple_attestation(
            &b64(&d["attestationBase64"]),
            &cdh(&d),
            &b64(&d["keyIdBase64"]),
            now(&d),
            &TrustAnchors::apple_builtin(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", d["id"]));
        assert_eq!(a.public_key, public_key(&d));
        assert_eq!(a.counter, 0);
        assert!(!a.receipt.is_empty());
        // The aaguid says development, as the document does; nobody told the verifier.
        assert_eq!(a.environment, Environment::Development);
        assert_eq!(a.environment, env(&d));
        // rpIdHash = SHA-256(teamIdentifier.bundleIdentifier).
        assert_eq!(
            a.rp_id_hash,
            digest(&SHA256, app_id(&d).as_bytes()).as_ref()
        );
        assert!(a.is_for_app(&app_id(&d)));
        assert!(!a.is_for_app("6MURL8TA57.other.app"));
        assert!(
            a.root.contains("Apple App Attestation Root CA"),
            "{}",
            a.root
        );
    }
}

#[test]
fn every_assertion_verifies_with_counter_one() {
    for d in of_type("assertion") {
        let counter = verify_apple_assertion(
            &b64(&d["assertionBase64"]),
            &cdh(&d),
            &public_key(&d),
            &app_id(&d),
            0,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", d["id"]));
        assert_eq!(counter, 1);
        assert_eq!(d["counter"], "1");
        // Replay: a counter already seen fails; so does an assertion older than the
        // latest one the server saw (a lower counter).
        for previous in [1, 2, u32::MAX] {
            let r = verify_apple_assertion(
                &b64(&d["assertionBase64"]),
                &cdh(&d),
                &public_key(&d),
                &app_id(&d),
                previous,
            );
            assert_eq!(
                r,
                Err(EvidenceError::Counter(format!(
                    "assertion counter 1 does not exceed {previous}"
                ))),
                "{}",
                d["id"]
            );
        }
    }
}

#[test]
fn wrong_parameters_fail() {
    for d in of_type("attestation") {
        let obj = b64(&d["attestationBase64"]);
        let key_id = b64(&d["keyIdBase64"]);
        let roots = TrustAnchors::apple_builtin();
        let other_hash = [7u8; 32];
        let verify_at = |hash: &[u8; 32], key_id: &[u8], at: u64, roots: &TrustAnchors| {
            verify_apple_attestation(&obj, hash, key_id, at, roots)
        };
        assert_eq!(
            verify_at(&other_hash, &key_id, now(&d), &roots).unwrap_err(),
            EvidenceError::NonceMismatch
        );
        assert_eq!(
            verify_at(&cdh(&d), &[0; 32], now(&d), &roots).unwrap_err(),
            EvidenceError::KeyIdMismatch
        );
        // The credential certificate lives three days: a week later it has expired.
        assert!(matches!(
            verify_at(&cdh(&d), &key_id, now(&d) + 7 * 86_400, &roots).unwrap_err(),
            EvidenceError::Chain(_)
        ));
        assert!(matches!(
            verify_at(&cdh(&d), &key_id, now(&d), &TrustAnchors::google_builtin()).unwrap_err(),
            EvidenceError::Chain(_)
        ));
    }
    for d in of_type("assertion") {
        let obj = b64(&d["assertionBase64"]);
        let r = verify_apple_assertion(&obj, &[7; 32], &public_key(&d), &app_id(&d), 0);
        assert_eq!(r.unwrap_err(), EvidenceError::BadSignature);
        let r = verify_apple_assertion(&obj, &cdh(&d), &public_key(&d), "X.y", 0);
        assert_eq!(r.unwrap_err(), EvidenceError::AppIdMismatch);
    }
}

/// Every byte of every attestation and assertion, changed, makes it fail.
#[test]
fn any_changed_byte_fails() {
    for d in of_type("attestation") {
        let obj = b64(&d["attestationBase64"]);
        // The receipt is opaque to App Attest validation (Apple checks it when it is
        // sent back); every other byte is covered.
        let receipt = receipt_range(&obj);
        for i in 0..obj.len() {
            if receipt.contains(&i) {
                continue;
            }
            let mut m = obj.clone();
            m[i] ^= 0x01;
            assert!(
                verify(&d, &m).is_err(),
                "{}: byte {i} changed and still verifies",
                d["id"]
            );
        }
    }
    for d in of_type("assertion") {
        let obj = b64(&d["assertionBase64"]);
        for i in 0..obj.len() {
            let mut m = obj.clone();
            m[i] ^= 0x01;
            let r = verify_apple_assertion(&m, &cdh(&d), &public_key(&d), &app_id(&d), 0);
            assert!(
                r.is_err(),
                "{}: byte {i} changed and still verifies",
                d["id"]
            );
        }
    }
}

/// Byte offsets of the receipt's contents inside the attestation object.
fn receipt_range(obj: &[u8]) -> std::ops::Range<usize> {
    let v: ciborium::Value = ciborium::de::from_reader(obj).unwrap();
    let stmt = v
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("attStmt"))
        .unwrap();
    let receipt = stmt
        .1
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("receipt"))
        .unwrap();
    let r = receipt.1.as_bytes().unwrap();
    let start = obj
        .windows(r.len())
        .position(|w| w == r.as_slice())
        .unwrap();
    start..start + r.len()
}

#[test]
fn summarize_binds_nonce_and_device_key_through_client_data() {
    // The real attestations bind other client data: with the right app id they verify
    // but do not carry our nonce and key, so the assessment is software with the reason.
    let d = &of_type("attestation")[0];
    let device: P256PublicKey = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let nonce = [9u8; 32];
    let evidence = Evidence::AppleAppAttest {
        attestation: b64(&d["attestationBase64"]),
        key_id: b64(&d["keyIdBase64"]),
        client_data: b64(&d["clientDataBase64"]),
    };
    let roots = Roots::builtin();
    let a = summarize(&evidence, &nonce, &device, now(d), &roots);
    assert!(!a.verified);
    let why = a.error.clone().unwrap_or_default();
    assert!(why.contains("nonce"), "{why}");
    // Client data with our nonce and key: the binding holds, but the attestation was made
    // over other client data, so the nonce check fails.
    let mut client_data = nonce.to_vec();
    client_data.extend_from_slice(&device.to_cose_key_bytes());
    let evidence = Evidence::AppleAppAttest {
        attestation: b64(&d["attestationBase64"]),
        key_id: b64(&d["keyIdBase64"]),
        client_data: client_data.clone(),
    };
    let a = summarize(&evidence, &nonce, &device, now(d), &roots);
    assert!(!a.verified);
    let why = a.error.clone().unwrap_or_default();
    assert!(why.contains("nonce"), "{why}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Arbitrary and truncated inputs never panic.
    #[test]
    fn arbitrary_input_never_panics(cut in any::<prop::sample::Index>(), junk in prop::collection::vec(any::<u8>(), 0..256)) {
        let docs = of_type("attestation");
        let d = &docs[0];
        let mut obj = b64(&d["attestationBase64"]);
        obj.truncate(cut.index(obj.len()));
        obj.extend_from_slice(&junk);
        prop_assert!(verify(d, &obj).is_err());
        let _ = verify(d, &junk);
        let _ = verify_apple_assertion(&junk, &cdh(d), &public_key(d), &app_id(d), 0);
        let _ = verify_apple_assertion(&junk, &cdh(d), &junk, &app_id(d), 0);
    }
}

/// Re-attestation on iOS: a real assertion by the App Attest key enrollment recorded,
/// over SHA-256 of the server's nonce (here the document's client data stands in for
/// the nonce), renews the evidence with its counter; a counter not above the last one, a
/// key or app other than enrollment's, or another nonce are refused.
#[test]
fn reattestation_with_an_assertion_needs_the_enrolled_key_and_a_higher_counter() {
    use pramaan_core::evidence::{EvidenceKind, EvidenceSummary, reattest};
    let roots = Roots::builtin();
    for d in of_type("assertion") {
        let enrolled = EvidenceSummary {
            kind: EvidenceKind::AppleAppAttest,
            verified: true,
            checked_at: now(&d) - 86_400,
            rp_id_hash: Some(hex::encode(digest(&SHA256, app_id(&d).as_bytes()))),
            environment: Some(env(&d)),
            counter: Some(0),
            app_attest_key: Some(hex::encode(public_key(&d))),
            ..EvidenceSummary::default()
        };
        let evidence = Evidence::AppleAssertion {
            assertion: b64(&d["assertionBase64"]),
        };
        let nonce = b64(&d["clientDataBase64"]);
        let fresh = reattest(&evidence, &nonce, &enrolled, 0, now(&d), &roots);
        assert!(fresh.verified, "{}: {:?}", d["id"], fresh.error);
        assert_eq!((fresh.counter, fresh.checked_at), (Some(1), now(&d)));
        assert_eq!(fresh.app_attest_key, enrolled.app_attest_key);

        let replay = reattest(&evidence, &nonce, &enrolled, 1, now(&d), &roots);
        assert!(!replay.verified, "a replayed counter renewed the evidence");
        assert!(
            replay.error.as_deref().unwrap_or("").contains("counter"),
            "{:?}",
            replay.error
        );
        let other_nonce = reattest(&evidence, b"another nonce", &enrolled, 0, now(&d), &roots);
        assert!(!other_nonce.verified);
        let other_app = EvidenceSummary {
            rp_id_hash: Some(hex::encode(digest(&SHA256, b"6MURL8TA57.other.app"))),
            ..enrolled.clone()
        };
        assert!(!reattest(&evidence, &nonce, &other_app, 0, now(&d), &roots).verified);
        let other_key = EvidenceSummary {
            app_attest_key: Some(hex::encode(
                SoftwareSigner::generate()
                    .unwrap()
                    .public_key()
                    .unwrap()
                    .as_sec1(),
            )),
            ..enrolled.clone()
        };
        assert!(!reattest(&evidence, &nonce, &other_key, 0, now(&d), &roots).verified);
        // An assertion never enrolls a key.
        let key: P256PublicKey = SoftwareSigner::generate().unwrap().public_key().unwrap();
        assert!(!summarize(&evidence, &nonce, &key, now(&d), &roots).verified);
    }
}

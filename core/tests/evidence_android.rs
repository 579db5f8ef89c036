//! Android Key Attestation verifier against real chains captured on real phones
//! (`tests/data/evidence/android-key-attestation`, from android/keyattestation, see
//! SOURCE.md). Each `<NAME>.json` is Google's decode of the leaf's KeyDescription; its
//! `softwareEnforced.creationDateTime` is used as "now".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use pramaan_core::evidence::android::{AttestedKey, decode_leaf};
use pramaan_core::evidence::x509::{ChainPolicy, parse_cert, pem_certificates, verify_chain};
use pramaan_core::evidence::{ChainError, EvidenceError, TrustAnchors, verify_android};
use proptest::prelude::*;
use serde_json::Value;

fn chain(rel: &str) -> Vec<Vec<u8>> {
    pramaan_testkit::real_evidence::android_pem(rel)
}

fn expected(rel_pem: &str) -> Value {
    pramaan_testkit::real_evidence::android_chain(rel_pem).expected
}

fn num(v: &Value) -> i64 {
    v.as_str().unwrap().parse().unwrap()
}

/// (challenge, now in unix seconds) from the expectation file.
fn challenge_and_now(exp: &Value) -> (Vec<u8>, u64) {
    let challenge = base64::engine::general_purpose::STANDARD
        .decode(exp["attestationChallenge"].as_str().unwrap())
        .unwrap();
    let now = num(&exp["softwareEnforced"]["creationDateTime"]) as u64 / 1000;
    (challenge, now)
}

/// Every chain the testdata README says must verify.
const VERIFY: &[&str] = &[
    "akita/sdk34/SB_RSA_NONE.pem",
    "akita/sdk34/TEE_EC_NONE.pem",
    "akita/sdk34/TEE_RSA_BASE+IMEI.pem",
    "akita/sdk34/TEE_RSA_NONE.pem",
    "akita/sdk34/TEE_RSA_NONE_USERAUTH.pem",
    "blueline/sdk28/SB_RSA_NONE.pem",
    "blueline/sdk28/SB_RSA_NONE_USERAUTH.pem",
    "blueline/sdk28/TEE_EC_NONE.pem",
    "blueline/sdk28/TEE_RSA_BASE+IMEI.pem",
    "blueline/sdk28/TEE_RSA_NONE.pem",
    "caiman/sdk36/SB_EC_RKP.pem",
    "caiman/sdk36/TEE_EC_RKP.pem",
    "sony-xperia10-iii/sdk33/TEE_EC.pem",
    "tegu/sdk36/SB_EC_2026_ROOT.pem",
    "tegu/sdk36/TEE_EC_2026_ROOT.pem",
    "tegu/sdk37/TEE_MAX_USAGE_COUNT.pem",
    "tegu/sdk37/TEE_TRUSTED_CONF.pem",
];
const SOFTWARE_ROOT: &[&str] = &[
    "marlin/sdk29/TEE_EC_NONE.pem",
    "marlin/sdk29/TEE_RSA_NONE.pem",
];
const ML_DSA: &[&str] = &[
    "tokay/sdk37/TEE_MLDSA_FACTORY.pem",
    "tokay/sdk37/TEE_MLDSA_RKP.pem",
];

/// Checks a decoded KeyDescription against Google's JSON decode.
fn check_decode(rel: &str) {
    let exp = expected(rel);
    let kd = decode_leaf(&chain(rel)[0]).unwrap();
    let (challenge, _) = challenge_and_now(&exp);
    assert_eq!(kd.attestation_challenge, challenge, "{rel}");
    assert_eq!(
        kd.attestation_version,
        num(&exp["attestationVersion"]),
        "{rel}"
    );
    assert_eq!(
        kd.attestation_security_level.as_google_str(),
        exp["attestationSecurityLevel"].as_str().unwrap(),
        "{rel}"
    );
    assert_eq!(
        kd.keymint_security_level.as_google_str(),
        exp["keyMintSecurityLevel"].as_str().unwrap(),
        "{rel}"
    );
    assert_eq!(
        kd.software_enforced.creation_date_time,
        Some(num(&exp["softwareEnforced"]["creationDateTime"])),
        "{rel}"
    );
    let hw = &exp["hardwareEnforced"];
    match hw.get("rootOfTrust") {
        Some(rot) => {
            let got = kd.tee_enforced.root_of_trust.as_ref().unwrap();
            assert_eq!(
                got.device_locked,
                rot["deviceLocked"].as_bool().unwrap(),
                "{rel}"
            );
            assert_eq!(
                got.verified_boot_state.as_google_str(),
                rot["verifiedBootState"].as_str().unwrap(),
                "{rel}"
            );
            let key = base64::engine::general_purpose::STANDARD
                .decode(rot["verifiedBootKey"].as_str().unwrap())
                .unwrap();
            assert_eq!(got.verified_boot_key, key, "{rel}");
        }
        None => assert!(kd.tee_enforced.root_of_trust.is_none(), "{rel}"),
    }
    assert_eq!(
        kd.tee_enforced.os_version,
        hw.get("osVersion").map(num),
        "{rel}"
    );
    assert_eq!(
        kd.tee_enforced.os_patch_level,
        hw.get("osPatchLevel").map(num),
        "{rel}"
    );
    assert_eq!(
        kd.tee_enforced.vendor_patch_level,
        hw.get("vendorPatchLevel").map(num),
        "{rel}"
    );
    assert_eq!(
        kd.tee_enforced.boot_patch_level,
        hw.get("bootPatchLevel").map(num),
        "{rel}"
    );
    for (field, got) in [
        ("attestationIdModel", &kd.tee_enforced.attestation_id_model),
        ("attestationIdBrand", &kd.tee_enforced.attestation_id_brand),
        (
            "attestationIdManufacturer",
            &kd.tee_enforced.attestation_id_manufacturer,
        ),
        (
            "attestationIdDevice",
            &kd.tee_enforced.attestation_id_device,
        ),
        (
            "attestationIdProduct",
            &kd.tee_enforced.attestation_id_product,
        ),
    ] {
        assert_eq!(
            got.as_deref(),
            hw.get(field).and_then(Value::as_str),
            "{rel} {field}"
        );
    }
    assert_eq!(
        kd.software_enforced.attestation_application_id.is_some(),
        exp["softwareEnforced"]
            .get("attestationApplicationId")
            .is_some(),
        "{rel}"
    );
}

#[test]
fn every_expectation_file_decodes_as_google_says() {
    let all: Vec<&str> = VERIFY
        .iter()
        .chain(SOFTWARE_ROOT)
        .chain(ML_DSA)
        .copied()
        .collect();
    for rel in &all {
        check_decode(rel);
    }
    assert_eq!(all.len(), 21);
}

#[test]
fn genuine_chains_verify_at_creation_time() {
    let roots = TrustAnchors::google_builtin();
    for rel in VERIFY {
        let exp = expected(rel);
        let (challenge, now) = challenge_and_now(&exp);
        let att = verify_android(&chain(rel), &challenge, now, &roots)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(att.hardware_backed, "{rel}");
        assert_eq!(
            att.security_level.as_google_str(),
            exp["attestationSecurityLevel"].as_str().unwrap(),
            "{rel}"
        );
        let rot = &exp["hardwareEnforced"]["rootOfTrust"];
        assert_eq!(att.device_locked, rot["deviceLocked"].as_bool(), "{rel}");
        assert_eq!(
            att.verified_boot_state.map(|s| s.as_google_str()),
            rot["verifiedBootState"].as_str(),
            "{rel}"
        );
        assert_eq!(
            att.attested_model.as_deref(),
            exp["hardwareEnforced"]
                .get("attestationIdModel")
                .and_then(Value::as_str),
            "{rel}"
        );
        assert_eq!(
            att.os_version,
            exp["hardwareEnforced"].get("osVersion").map(num),
            "{rel}"
        );
        // The leaf key is returned as SEC1 for EC keys.
        if let AttestedKey::Ec { sec1, .. } = &att.public_key {
            assert_eq!(sec1.len(), 65, "{rel}");
            assert_eq!(sec1[0], 4, "{rel}");
        }
        // Only the Sony keybox relies on the expired-factory-chain tolerance.
        assert_eq!(
            att.expired_certificates_tolerated,
            rel.starts_with("sony"),
            "{rel}"
        );
    }
}

#[test]
fn readme_cases_akita_and_blueline_use_the_ascii_challenge_and_unverified_boot() {
    let roots = TrustAnchors::google_builtin();
    for rel in VERIFY
        .iter()
        .filter(|r| r.starts_with("akita") || r.starts_with("blueline"))
    {
        let (_, now) = challenge_and_now(&expected(rel));
        let att = verify_android(&chain(rel), b"challenge", now, &roots).unwrap();
        assert_eq!(
            att.verified_boot_state.map(|s| s.as_google_str()),
            Some("UNVERIFIED")
        );
    }
}

#[test]
fn blueline_2016_root_is_matched_by_key_not_bytes() {
    let roots = TrustAnchors::google_builtin();
    let c = chain("blueline/sdk28/TEE_EC_NONE.pem");
    let shipped = pem_certificates(include_str!("../data/google_attestation_roots.pem")).unwrap();
    assert!(
        !shipped.contains(c.last().unwrap()),
        "the chain's root is the 2016 issue"
    );
    let (_, now) = challenge_and_now(&expected("blueline/sdk28/TEE_EC_NONE.pem"));
    let att = verify_android(&c, b"challenge", now, &roots).unwrap();
    assert!(att.root.contains("f92009e853b6b045"));
    // Also without the root certificate at all.
    let without_root = &c[..c.len() - 1];
    assert!(verify_android(without_root, b"challenge", now, &roots).is_ok());
}

#[test]
fn rkp_chains_verify_without_their_root() {
    let roots = TrustAnchors::google_builtin();
    for rel in VERIFY
        .iter()
        .filter(|r| r.contains("RKP") || r.starts_with("tegu"))
    {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let c = chain(rel);
        verify_android(&c[..c.len() - 1], &challenge, now, &roots)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}

#[test]
fn software_root_is_never_trusted() {
    let roots = TrustAnchors::google_builtin();
    for rel in SOFTWARE_ROOT {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let err = verify_android(&chain(rel), &challenge, now, &roots).unwrap_err();
        // The EC chain ends at the AOSP software root; the RSA one is signed with a
        // 1024-bit key before it gets there.
        assert!(
            matches!(err, EvidenceError::Chain(ChainError::UntrustedRoot { .. }))
                || (rel.contains("RSA") && err.is_unsupported_algorithm()),
            "{rel}: {err}"
        );
        // Even trusting its own root, the attestation says SOFTWARE: not hardware-backed.
        // The RSA software chain signs with a 1024-bit key, which ring refuses.
        let own = TrustAnchors::from_der_certs(&chain(rel)[2..]).unwrap();
        match verify_android(&chain(rel), &challenge, now, &own) {
            Ok(att) => assert!(!att.hardware_backed, "{rel}"),
            Err(e) => assert!(rel.contains("RSA"), "{rel}: {e}"),
        }
    }
}

#[test]
fn ml_dsa_leaves_are_an_unsupported_algorithm() {
    let roots = TrustAnchors::google_builtin();
    for rel in ML_DSA {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let err = verify_android(&chain(rel), &challenge, now, &roots).unwrap_err();
        assert!(err.is_unsupported_algorithm(), "{rel}: {err}");
        assert!(err.to_string().contains("ML-DSA"), "{rel}: {err}");
    }
}

#[test]
fn invalid_tag_order_leaf_signature_fails() {
    let c = chain("invalid/tags_not_in_ascending_order.pem");
    let kd = decode_leaf(&c[0]).unwrap();
    let now = kd
        .software_enforced
        .creation_date_time
        .unwrap_or(1_700_000_000_000) as u64
        / 1000;
    let err = verify_android(
        &c,
        &kd.attestation_challenge,
        now,
        &TrustAnchors::google_builtin(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        EvidenceError::Chain(ChainError::BadSignature { index: 0 })
    );
}

#[test]
fn malformed_root_of_trust_boolean_parses_as_locked() {
    let c = chain("invalid/malformed_rot_device_locked.pem");
    let kd = decode_leaf(&c[0]).unwrap();
    assert!(
        kd.tee_enforced
            .root_of_trust
            .as_ref()
            .unwrap()
            .device_locked
    );
    let now = kd.software_enforced.creation_date_time.unwrap() as u64 / 1000;
    let att = verify_android(
        &c,
        &kd.attestation_challenge,
        now,
        &TrustAnchors::google_builtin(),
    )
    .unwrap();
    assert_eq!(att.device_locked, Some(true));
}

#[test]
fn other_files_are_rejected_cleanly() {
    let roots = TrustAnchors::google_builtin();
    // A lone leaf: its issuer is unknown.
    let c = chain("allow_while_on_body.pem");
    let kd = decode_leaf(&c[0]).unwrap();
    let err = verify_android(&c, &kd.attestation_challenge, 1_745_000_000, &roots).unwrap_err();
    assert!(
        matches!(err, EvidenceError::Chain(ChainError::UnknownIssuer { .. })),
        "{err}"
    );
    // A P-256 chain signed with SHA-384: verifies against its own root (ring
    // ECDSA_P256_SHA384), but its KeyDescription is a placeholder (04 04 04 02 05 00).
    let c = chain("p256_sha384_intermediate.pem");
    let parsed: Vec<_> = c
        .iter()
        .enumerate()
        .map(|(i, d)| parse_cert(i, d).unwrap())
        .collect();
    let own = TrustAnchors::from_der_certs(&c[2..]).unwrap();
    verify_chain(&parsed, &own, 1_750_000_000, ChainPolicy::STRICT).unwrap();
    let err = verify_android(&c, b"x", 1_750_000_000, &own).unwrap_err();
    assert!(matches!(err, EvidenceError::Malformed(_)), "{err}");
}

#[test]
fn wrong_challenge_fails() {
    let roots = TrustAnchors::google_builtin();
    for rel in VERIFY {
        let (mut challenge, now) = challenge_and_now(&expected(rel));
        challenge.push(0);
        assert_eq!(
            verify_android(&chain(rel), &challenge, now, &roots).unwrap_err(),
            EvidenceError::ChallengeMismatch,
            "{rel}"
        );
        assert_eq!(
            verify_android(&chain(rel), b"", now, &roots).unwrap_err(),
            EvidenceError::ChallengeMismatch
        );
    }
}

#[test]
fn now_outside_validity_fails() {
    let roots = TrustAnchors::google_builtin();
    for rel in VERIFY {
        let (challenge, _) = challenge_and_now(&expected(rel));
        // Before the intermediates were issued.
        let err = verify_android(&chain(rel), &challenge, 1_400_000_000, &roots).unwrap_err();
        assert!(
            matches!(
                err,
                EvidenceError::Chain(
                    ChainError::NotYetValid { .. } | ChainError::AnchorNotValid { .. }
                )
            ),
            "{rel}: {err}"
        );
        // After every anchor has expired (2042).
        let err = verify_android(&chain(rel), &challenge, 2_400_000_000, &roots).unwrap_err();
        assert!(matches!(err, EvidenceError::Chain(_)), "{rel}: {err}");
    }
    // Remotely provisioned certificates live days: a year later they have expired.
    for rel in VERIFY
        .iter()
        .filter(|r| r.starts_with("akita") || r.starts_with("caiman") || r.starts_with("tegu"))
    {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let err = verify_android(&chain(rel), &challenge, now + 365 * 86_400, &roots).unwrap_err();
        assert!(
            matches!(err, EvidenceError::Chain(ChainError::Expired { .. })),
            "{rel}: {err}"
        );
    }
}

/// Every byte of every certificate of two chains (one factory RSA root chain including
/// the 2016 root copy, one remotely provisioned EC chain), changed, makes it fail.
#[test]
fn any_changed_byte_fails() {
    let roots = TrustAnchors::google_builtin();
    for rel in [
        "blueline/sdk28/TEE_EC_NONE.pem",
        "tegu/sdk36/TEE_EC_2026_ROOT.pem",
    ] {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let c = chain(rel);
        assert!(verify_android(&c, &challenge, now, &roots).is_ok());
        for ci in 0..c.len() {
            for bi in 0..c[ci].len() {
                let mut m = c.clone();
                m[ci][bi] ^= 0x01;
                assert!(
                    verify_android(&m, &challenge, now, &roots).is_err(),
                    "{rel}: cert {ci} byte {bi} changed and still verifies"
                );
            }
        }
    }
}

fn verifying_chains() -> Vec<(Vec<Vec<u8>>, Vec<u8>, u64)> {
    VERIFY
        .iter()
        .map(|rel| {
            let (challenge, now) = challenge_and_now(&expected(rel));
            (chain(rel), challenge, now)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A changed byte anywhere in any verifying chain fails, and never panics.
    #[test]
    fn mutated_chains_fail(file in 0usize..17, cert in 0usize..5, pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let chains = verifying_chains();
        let (c, challenge, now) = &chains[file % chains.len()];
        let mut m = c.clone();
        let ci = cert % m.len();
        let bi = pos.index(m[ci].len());
        m[ci][bi] ^= x;
        prop_assert!(verify_android(&m, challenge, *now, &TrustAnchors::google_builtin()).is_err());
    }

    /// Truncated or extended certificates and arbitrary bytes never panic.
    #[test]
    fn arbitrary_input_never_panics(file in 0usize..17, cut in any::<prop::sample::Index>(), junk in prop::collection::vec(any::<u8>(), 0..64)) {
        let chains = verifying_chains();
        let (c, challenge, now) = &chains[file % chains.len()];
        let mut m = c.clone();
        let n = cut.index(m[0].len());
        m[0].truncate(n);
        m[0].extend_from_slice(&junk);
        let _ = verify_android(&m, challenge, *now, &TrustAnchors::google_builtin());
        let _ = verify_android(std::slice::from_ref(&junk), challenge, *now, &TrustAnchors::google_builtin());
        let _ = pramaan_core::evidence::android::parse_key_description(&junk);
    }

    /// Mutated KeyDescription extension values decode or fail, never panic.
    #[test]
    fn mutated_key_descriptions_never_panic(file in 0usize..17, pos in any::<prop::sample::Index>(), x in 1u8..=255) {
        let chains = verifying_chains();
        let (c, _, _) = &chains[file % chains.len()];
        let cert = parse_cert(0, &c[0]).unwrap();
        let mut ext = pramaan_core::evidence::android::find_key_description(&cert).unwrap().to_vec();
        let i = pos.index(ext.len());
        ext[i] ^= x;
        let _ = pramaan_core::evidence::android::parse_key_description(&ext);
    }
}

/// The decoded attestationApplicationId of every expectation file is Google's: the
/// same packages (name and version) and signature digests (base64 there, hex here).
#[test]
fn application_ids_decode_as_google_says() {
    use pramaan_core::evidence::android::parse_attestation_application_id;
    let roots = TrustAnchors::google_builtin();
    let all: Vec<&str> = VERIFY
        .iter()
        .chain(SOFTWARE_ROOT)
        .chain(ML_DSA)
        .copied()
        .collect();
    for rel in all {
        let exp = expected(rel);
        let want = &exp["softwareEnforced"]["attestationApplicationId"];
        let kd = decode_leaf(&chain(rel)[0]).unwrap();
        let raw = kd.software_enforced.attestation_application_id.unwrap();
        let id = parse_attestation_application_id(&raw).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let packages: Vec<(String, i64)> = want["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), num(&p["version"])))
            .collect();
        let got: Vec<(String, i64)> = id
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version))
            .collect();
        assert_eq!(got, packages, "{rel}");
        let digests: Vec<String> = want["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                hex::encode(
                    base64::engine::general_purpose::STANDARD
                        .decode(s.as_str().unwrap())
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(id.signature_digests, digests, "{rel}");
        // verify_android returns the same, decoded.
        if VERIFY.contains(&rel) {
            let (challenge, now) = challenge_and_now(&exp);
            let att = verify_android(&chain(rel), &challenge, now, &roots).unwrap();
            assert_eq!(att.application_id.as_ref(), Some(&id), "{rel}");
        }
    }
    // The Pixel 9 Pro's key was made by Google's attestation test app, signed by the key
    // whose SHA-256 Google's JSON gives as EDk47kU3...
    let (challenge, now) = challenge_and_now(&expected("caiman/sdk36/TEE_EC_RKP.pem"));
    let att = verify_android(
        &chain("caiman/sdk36/TEE_EC_RKP.pem"),
        &challenge,
        now,
        &roots,
    )
    .unwrap();
    let id = att.application_id.unwrap();
    assert_eq!(id.package_names(), ["com.google.android.attestation"]);
    assert_eq!(
        id.signature_digests,
        ["103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1"]
    );
}

/// Serial numbers, leaf first, in the status list's form; the values are openssl's
/// (`openssl x509 -noout -serial`), read independently of the parser under test.
#[test]
fn chain_serials_are_listed_leaf_first_as_the_status_list_writes_them() {
    let roots = TrustAnchors::google_builtin();
    for (rel, serials) in [
        (
            "caiman/sdk36/TEE_EC_RKP.pem",
            &[
                "1",
                "f165849ef08b4658dd0a8ab95be53006",
                "ed74866372b0791cf1478b39fad0f755593ad3",
                "388266760658996860d",
                "d50ff25ba3f2d6b3",
            ][..],
        ),
        (
            "sony-xperia10-iii/sdk33/TEE_EC.pem",
            &[
                "1",
                "16580768335559031605",
                "3882667606589968575",
                "e8fa196314d2fa18",
            ][..],
        ),
    ] {
        let (challenge, now) = challenge_and_now(&expected(rel));
        let att = verify_android(&chain(rel), &challenge, now, &roots).unwrap();
        assert_eq!(att.chain_serials, serials, "{rel}");
    }
}

/// A leaf whose attestationApplicationId is malformed is not evidence: the chain is
/// refused with the field named (checked on the decoder; a real leaf cannot be changed
/// without breaking its signature).
#[test]
fn malformed_application_ids_are_errors_naming_the_field() {
    use pramaan_core::evidence::android::parse_attestation_application_id;
    let kd = decode_leaf(&chain("caiman/sdk36/TEE_EC_RKP.pem")[0]).unwrap();
    let raw = kd.software_enforced.attestation_application_id.unwrap();
    for cut in 0..raw.len() {
        let e = parse_attestation_application_id(&raw[..cut]).unwrap_err();
        assert!(e.to_string().contains("attestationApplicationId"), "{e}");
    }
    let mut extra = raw.clone();
    extra.push(0);
    assert!(parse_attestation_application_id(&extra).is_err());
}

/// PEM text with certificates glued together (no line break between END and BEGIN), and
/// bodies in URL-safe unpadded base64, reads as the same chain.
#[test]
fn glued_and_url_safe_pem_reads_the_same_chain() {
    let rel = "tegu/sdk36/TEE_EC_2026_ROOT.pem";
    let c = chain(rel);
    let glued: String = c
        .iter()
        .map(|der| {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
            format!("-----BEGIN CERTIFICATE-----{b64}-----END CERTIFICATE-----")
        })
        .collect();
    assert!(glued.contains("-----END CERTIFICATE----------BEGIN CERTIFICATE-----"));
    assert_eq!(pem_certificates(&glued).unwrap(), c);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Mutated attestationApplicationId values decode or fail, never panic.
    #[test]
    fn mutated_application_ids_never_panic(pos in any::<prop::sample::Index>(), x in 1u8..=255, junk in prop::collection::vec(any::<u8>(), 0..64)) {
        use pramaan_core::evidence::android::parse_attestation_application_id;
        let kd = decode_leaf(&chain("akita/sdk34/TEE_EC_NONE.pem")[0]).unwrap();
        let mut raw = kd.software_enforced.attestation_application_id.unwrap();
        let i = pos.index(raw.len());
        raw[i] ^= x;
        let _ = parse_attestation_application_id(&raw);
        let _ = parse_attestation_application_id(&junk);
    }
}

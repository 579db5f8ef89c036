//! The department's evidence policy on real evidence: each requirement of `[evidence]`,
//! met and unmet, through `evidence::summarize` (the facts) and
//! `policy::judge_evidence` (the one judgement), with policies loaded from TOML by
//! `Policy::load` so the `[evidence]` section itself is exercised.
//!
//! The chains are the real ones in `tests/data/evidence/android-key-attestation` (see
//! SOURCE.md); the device key is each leaf's own P-256 key, read from the certificate,
//! and "now" is the key's creationDateTime. No chain is built here: every boot state,
//! lock state, patch level and app identity below is what a real phone attested.
//! (caiman and tegu sdk36: verified boot, locked; akita, blueline and tegu sdk37:
//! unverified boot, unlocked; sony: an expired factory keybox.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use pramaan_core::claims::Evidence;
use pramaan_core::evidence::x509::parse_cert;
use pramaan_core::evidence::{
    EvidenceKind, EvidenceSummary, Roots, SecurityLevel, StatusList, TrustAnchors,
    VerifiedBootState, summarize, summarize_app_attest,
};
use pramaan_core::keys::{P256PublicKey, Signer as _, SoftwareSigner};
use pramaan_core::model::{Assurance, Platform, Policy, Rule};
use pramaan_core::policy::catalog::Catalog;
use pramaan_core::policy::{EvidenceJudgement, StatusListView, judge_evidence};
use ring::digest::{SHA256, digest};

const DAY: u64 = 86_400;
/// SHA-256 of the certificate that signs Google's attestation test apps
/// (`EDk47kU3...` in Google's JSON decodes).
const GOOGLE_TEST_SIGNER: &str = "103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1";
/// SHA-256 of the Play Store's signing certificate (`8P1sW0EP...`, the Sony chain's app).
const PLAY_STORE_SIGNER: &str = "f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83";
/// The app of the akita and blueline chains: Google's attestation collector.
const COLLECTOR: &str = "com.google.wireless.android.security.attestationverifier.collector";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/evidence")
}

/// A real chain: (evidence, challenge, now, the leaf's own key).
struct Real {
    evidence: Evidence,
    challenge: Vec<u8>,
    now: u64,
    key: P256PublicKey,
}

fn real(rel: &str) -> Real {
    let r = pramaan_testkit::real_evidence::android_chain(rel);
    let leaf = parse_cert(0, &r.chain[0]).unwrap();
    let key = P256PublicKey::from_sec1(&leaf.public_key().subject_public_key.data).unwrap();
    Real {
        evidence: Evidence::AndroidKeyAttestation { chain: r.chain },
        challenge: r.challenge,
        now: r.now,
        key,
    }
}

fn facts(r: &Real) -> EvidenceSummary {
    summarize(&r.evidence, &r.challenge, &r.key, r.now, &Roots::builtin())
}

/// A department policy with this `[evidence]` TOML, loaded as IT would load it.
fn policy(evidence: &str) -> Policy {
    let text = format!(
        "department = \"GAD\"\nemail_domains = [\"gujarat.gov.in\"]\n\n[[platforms]]\nname = \"WhatsApp\"\n\n{evidence}"
    );
    Policy::load(&text, &Catalog::builtin()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `[evidence]` naming one Android app, plus `extra` lines in `[evidence.android]`.
fn android_policy(package: &str, signer: &str, extra: &str) -> Policy {
    policy(&format!(
        "[evidence.android]\n{extra}\n\n[[evidence.android.apps]]\npackage = \"{package}\"\nsigners = [\"{signer}\"]\n"
    ))
}

fn judge(p: &Policy, s: &EvidenceSummary, list: Option<StatusListView<'_>>) -> EvidenceJudgement {
    judge_evidence(&p.evidence, Platform::Android, s, list, s.checked_at)
}

fn details(j: &EvidenceJudgement) -> String {
    j.failures
        .iter()
        .map(|f| format!("{}: {}", f.rule.as_str(), f.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_passes(j: &EvidenceJudgement, what: &str) {
    assert_eq!(j.assurance, Assurance::Hardware, "{what}: {}", details(j));
    assert!(
        j.failures.is_empty() && !j.blocking,
        "{what}: {}",
        details(j)
    );
}

/// The judgement fails, blocking, with one failure holding each of `words`.
fn assert_fails_with(j: &EvidenceJudgement, words: &[&str], what: &str) {
    assert_eq!(j.assurance, Assurance::Software, "{what}");
    assert!(j.blocking, "{what}: {}", details(j));
    assert!(j.failures.iter().all(|f| f.rule == Rule::R2), "{what}");
    let all = details(j);
    for w in words {
        assert!(all.contains(w), "{what}: expected {w:?} in\n{all}");
    }
}

fn pramaan_test_app() -> Policy {
    android_policy(
        "com.google.android.attestation",
        GOOGLE_TEST_SIGNER,
        "min_patch_level = \"2025-06\"",
    )
}

#[test]
fn summaries_record_what_the_real_chains_attest() {
    let s = facts(&real("caiman/sdk36/TEE_EC_RKP"));
    assert!(s.verified, "{:?}", s.error);
    assert_eq!(s.kind, EvidenceKind::AndroidKeyAttestation);
    assert_eq!(s.security_level, Some(SecurityLevel::TrustedEnvironment));
    assert_eq!(s.verified_boot, Some(VerifiedBootState::Verified));
    assert_eq!(s.bootloader_locked, Some(true));
    assert_eq!(s.os_patch_level, Some(202_511));
    assert_eq!(s.app_packages, ["com.google.android.attestation"]);
    assert_eq!(s.app_signers, [GOOGLE_TEST_SIGNER]);
    assert_eq!(s.attested_model.as_deref(), Some("Pixel 9 Pro"));
    assert_eq!(s.chain_serials.len(), 5);
    assert_eq!(s.chain_serials[1], "f165849ef08b4658dd0a8ab95be53006");
    assert!(!s.expired_keybox);
    assert!(s.root.is_some());
    assert!(s.rp_id_hash.is_none() && s.environment.is_none() && s.counter.is_none());

    let s = facts(&real("akita/sdk34/TEE_EC_NONE"));
    assert!(s.verified, "{:?}", s.error);
    assert_eq!(s.verified_boot, Some(VerifiedBootState::Unverified));
    assert_eq!(s.bootloader_locked, Some(false));
    assert_eq!(s.os_patch_level, Some(202_408));
    assert_eq!(s.app_packages, [COLLECTOR]);

    let s = facts(&real("sony-xperia10-iii/sdk33/TEE_EC"));
    assert!(s.verified, "{:?}", s.error);
    assert!(s.expired_keybox);
    assert_eq!(s.app_packages, ["com.android.vending"]);
    assert_eq!(s.app_signers, [PLAY_STORE_SIGNER]);
}

#[test]
fn the_evidence_must_bind_the_nonce_and_the_device_key() {
    let r = real("tegu/sdk36/TEE_EC_2026_ROOT");
    let other = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let s = summarize(&r.evidence, &r.challenge, &other, r.now, &Roots::builtin());
    assert!(!s.verified);
    assert!(s.error.as_deref().unwrap().contains("not the device key"));
    let s = summarize(
        &r.evidence,
        b"another nonce",
        &r.key,
        r.now,
        &Roots::builtin(),
    );
    assert!(!s.verified);
    assert!(s.error.as_deref().unwrap().contains("challenge"));
    // A year later the remotely provisioned certificates have expired.
    let s = summarize(
        &r.evidence,
        &r.challenge,
        &r.key,
        r.now + 365 * DAY,
        &Roots::builtin(),
    );
    assert!(!s.verified);
    assert_eq!(s.checked_at, r.now + 365 * DAY);
    let j = judge(&pramaan_test_app(), &s, None);
    assert_fails_with(
        &j,
        &["key attestation did not verify", "expired"],
        "expired chain",
    );
}

#[test]
fn app_identity_right_package_wrong_package_wrong_signer() {
    let s = facts(&real("caiman/sdk36/TEE_EC_RKP"));
    assert_passes(
        &judge(&pramaan_test_app(), &s, None),
        "right package and signer",
    );

    let p = android_policy("gov.gujarat.pramaan", GOOGLE_TEST_SIGNER, "");
    assert_fails_with(
        &judge(&p, &s, None),
        &[
            "key created by com.google.android.attestation, not the Pramaan app (gov.gujarat.pramaan)",
        ],
        "another app",
    );

    let p = android_policy("com.google.android.attestation", &"ab".repeat(32), "");
    assert_fails_with(
        &judge(&p, &s, None),
        &[&format!("signed by {GOOGLE_TEST_SIGNER}"), "repackaged"],
        "right package, wrong signer",
    );
    // A policy naming no app at all cannot see the Pramaan app in any key.
    let p = policy("[evidence.android]\nverified_boot = true\n");
    assert_fails_with(&judge(&p, &s, None), &["names no Pramaan app"], "no app");
}

#[test]
fn verified_boot_and_locked_bootloader() {
    for rel in [
        "caiman/sdk36/TEE_EC_RKP",
        "caiman/sdk36/SB_EC_RKP",
        "tegu/sdk36/TEE_EC_2026_ROOT",
        "tegu/sdk36/SB_EC_2026_ROOT",
    ] {
        let s = facts(&real(rel));
        assert_passes(&judge(&pramaan_test_app(), &s, None), rel);
    }
    for (rel, app) in [
        ("akita/sdk34/TEE_EC_NONE", COLLECTOR),
        ("blueline/sdk28/TEE_EC_NONE", COLLECTOR),
        (
            "tegu/sdk37/TEE_TRUSTED_CONF",
            "com.google.android.attestation",
        ),
        (
            "tegu/sdk37/TEE_MAX_USAGE_COUNT",
            "com.google.android.attestation",
        ),
    ] {
        let s = facts(&real(rel));
        assert!(s.verified, "{rel}: {:?}", s.error);
        let strict = android_policy(app, GOOGLE_TEST_SIGNER, "");
        let j = judge(&strict, &s, None);
        assert_fails_with(
            &j,
            &["bootloader unlocked", "verified boot is unverified"],
            rel,
        );
        assert_eq!(j.failures.len(), 2, "{rel}: only the two: {}", details(&j));
        // A test department that waives both accepts the same phone.
        let lax = android_policy(
            app,
            GOOGLE_TEST_SIGNER,
            "verified_boot = false\nbootloader_locked = false",
        );
        assert_passes(&judge(&lax, &s, None), rel);
    }
}

#[test]
fn security_patch_level() {
    let s = facts(&real("caiman/sdk36/TEE_EC_RKP")); // 2025-11
    for (min, ok) in [("2025-06", true), ("2025-11", true), ("2026-01", false)] {
        let p = android_policy(
            "com.google.android.attestation",
            GOOGLE_TEST_SIGNER,
            &format!("min_patch_level = \"{min}\""),
        );
        let j = judge(&p, &s, None);
        if ok {
            assert_passes(&j, min);
        } else {
            assert_fails_with(
                &j,
                &["security patch 2025-11 is older than the policy's 2026-01"],
                min,
            );
        }
    }
}

#[test]
fn strongbox_minimum() {
    let p = android_policy(
        "com.google.android.attestation",
        GOOGLE_TEST_SIGNER,
        "min_security_level = \"strongbox\"",
    );
    for rel in ["caiman/sdk36/SB_EC_RKP", "tegu/sdk36/SB_EC_2026_ROOT"] {
        let s = facts(&real(rel));
        assert_eq!(s.security_level, Some(SecurityLevel::StrongBox), "{rel}");
        assert_passes(&judge(&p, &s, None), rel);
    }
    for rel in ["caiman/sdk36/TEE_EC_RKP", "tegu/sdk36/TEE_EC_2026_ROOT"] {
        let s = facts(&real(rel));
        assert_fails_with(
            &judge(&p, &s, None),
            &["the key is in the TEE; the policy requires StrongBox"],
            rel,
        );
        // The default minimum (TEE) accepts it.
        assert_passes(&judge(&pramaan_test_app(), &s, None), rel);
    }
}

fn status_list(entries: &BTreeMap<&str, &str>) -> StatusList {
    let body: Vec<String> = entries
        .iter()
        .map(|(serial, status)| {
            format!("\"{serial}\": {{\"status\": \"{status}\", \"reason\": \"KEY_COMPROMISE\"}}")
        })
        .collect();
    StatusList::from_json(&format!("{{\"entries\": {{{}}}}}", body.join(","))).unwrap()
}

#[test]
fn a_listed_serial_in_the_chain_is_refused() {
    let s = facts(&real("caiman/sdk36/TEE_EC_RKP"));
    let p = pramaan_test_app();
    // Google writes serials in lowercase hex; any case and leading zeros match.
    let listed = status_list(&BTreeMap::from([
        ("00ED74866372B0791CF1478B39FAD0F755593AD3", "REVOKED"),
        ("2c8cdddfd5e03bfc", "REVOKED"),
    ]));
    let view = StatusListView {
        list: &listed,
        fetched_at: s.checked_at - DAY,
    };
    assert_fails_with(
        &judge(&p, &s, Some(view)),
        &[
            "certificate ed74866372b0791cf1478b39fad0f755593ad3 in the chain is REVOKED by Google (KEY_COMPROMISE)",
        ],
        "revoked intermediate",
    );
    // A list that names other certificates only: accepted.
    let other = status_list(&BTreeMap::from([("2c8cdddfd5e03bfc", "SUSPENDED")]));
    let view = StatusListView {
        list: &other,
        fetched_at: s.checked_at - DAY,
    };
    assert_passes(&judge(&p, &s, Some(view)), "unlisted chain");
}

#[test]
fn expired_factory_keybox_needs_a_fresh_status_list() {
    let s = facts(&real("sony-xperia10-iii/sdk33/TEE_EC"));
    assert!(s.verified && s.expired_keybox, "{:?}", s.error);
    let p = android_policy("com.android.vending", PLAY_STORE_SIGNER, "");
    assert_eq!(p.evidence.status_list_max_age_days, 30);
    let list = status_list(&BTreeMap::from([("2c8cdddfd5e03bfc", "REVOKED")]));
    let now = s.checked_at;

    let fresh = StatusListView {
        list: &list,
        fetched_at: now - 2 * DAY,
    };
    assert_passes(&judge(&p, &s, Some(fresh)), "fresh list");

    let stale = StatusListView {
        list: &list,
        fetched_at: now - 45 * DAY,
    };
    assert_fails_with(
        &judge(&p, &s, Some(stale)),
        &[
            "factory keybox has expired",
            "45 days old, older than the policy's 30",
        ],
        "stale list",
    );
    // The policy's limit decides: 60 days accepts the same list.
    let p60 = policy(&format!(
        "[evidence]\nstatus_list_max_age_days = 60\n\n[[evidence.android.apps]]\npackage = \"com.android.vending\"\nsigners = [\"{PLAY_STORE_SIGNER}\"]\n"
    ));
    assert_passes(
        &judge(&p60, &s, Some(stale)),
        "stale list under a 60-day limit",
    );

    assert_fails_with(
        &judge(&p, &s, None),
        &["factory keybox has expired and no Google revocation status list is loaded"],
        "no list",
    );

    // A fresh list that revokes the expired keybox itself.
    let revoked = status_list(&BTreeMap::from([("16580768335559031605", "REVOKED")]));
    let view = StatusListView {
        list: &revoked,
        fetched_at: now - DAY,
    };
    assert_fails_with(
        &judge(&p, &s, Some(view)),
        &["certificate 16580768335559031605 in the chain is REVOKED"],
        "revoked keybox",
    );
}

#[test]
fn a_software_root_is_never_hardware() {
    let r = real("marlin/sdk29/TEE_EC_NONE");
    let s = facts(&r);
    assert!(!s.verified);
    assert!(
        s.error.as_deref().unwrap().contains("not trusted"),
        "{:?}",
        s.error
    );
    let p = android_policy(COLLECTOR, GOOGLE_TEST_SIGNER, "");
    assert_fails_with(&judge(&p, &s, None), &["did not verify"], "marlin");
    // Even a department accepting software keys gets no hardware assurance from it.
    let lax = policy(&format!(
        "[evidence]\nassurance = \"software\"\n\n[[evidence.android.apps]]\npackage = \"{COLLECTOR}\"\nsigners = [\"{GOOGLE_TEST_SIGNER}\"]\n"
    ));
    let j = judge(&lax, &s, None);
    assert_eq!(j.assurance, Assurance::Software);
    assert!(!j.blocking && j.failures.iter().all(|f| f.rule == Rule::R5));

    // Trusting the AOSP software root itself: the chain verifies and says SOFTWARE, which
    // the facts record and the judge refuses.
    let Evidence::AndroidKeyAttestation { chain } = &r.evidence else {
        unreachable!()
    };
    let own = Roots {
        google: TrustAnchors::from_der_certs(&chain[2..]).unwrap(),
        apple: TrustAnchors::apple_builtin(),
    };
    let s = summarize(&r.evidence, &r.challenge, &r.key, r.now, &own);
    assert!(s.verified, "{:?}", s.error);
    assert_eq!(s.security_level, Some(SecurityLevel::Software));
    assert_fails_with(
        &judge(&p, &s, None),
        &["kept in software, not in the phone's secure hardware"],
        "software level",
    );
}

// ---- Apple App Attest ------------------------------------------------------------

type Doc = BTreeMap<String, String>;

/// Top-level `key: value` fields of each `---` YAML document.
fn apple_docs(kind: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    for f in ["ios-14.2.yaml", "ios-14.3.yaml", "ios-14.4.yaml"] {
        let text = std::fs::read_to_string(dir().join("apple-app-attest").join(f)).unwrap();
        let mut doc = Doc::new();
        for line in text.lines().chain(std::iter::once("---")) {
            if line == "---" {
                if doc.get("type").map(String::as_str) == Some(kind) {
                    docs.push(std::mem::take(&mut doc));
                }
                doc.clear();
            } else if !line.starts_with(' ')
                && let Some((k, v)) = line.split_once(':')
            {
                doc.insert(k.trim().into(), v.trim().trim_matches('\'').into());
            }
        }
    }
    assert_eq!(docs.len(), 3, "{kind}");
    docs
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn apple_now(d: &Doc) -> u64 {
    time::OffsetDateTime::parse(
        &d["timestamp"],
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp() as u64
}

fn app_id(d: &Doc) -> String {
    format!("{}.{}", d["teamIdentifier"], d["bundleIdentifier"])
}

fn apple_facts_of(d: &Doc) -> EvidenceSummary {
    summarize_app_attest(
        &b64(&d["attestationBase64"]),
        &b64(&d["keyIdBase64"]),
        &b64(&d["clientDataBase64"]),
        apple_now(d),
        &TrustAnchors::apple_builtin(),
    )
}

fn apple_policy(app_ids: &[&str], environment: Option<&str>) -> Policy {
    let ids: Vec<String> = app_ids.iter().map(|a| format!("\"{a}\"")).collect();
    let env = environment.map_or(String::new(), |e| format!("environment = \"{e}\"\n"));
    policy(&format!(
        "[evidence.apple]\napp_ids = [{}]\n{env}",
        ids.join(", ")
    ))
}

fn judge_ios(p: &Policy, s: &EvidenceSummary) -> EvidenceJudgement {
    judge_evidence(&p.evidence, Platform::Ios, s, None, s.checked_at)
}

#[test]
fn app_attest_app_id_and_environment_are_the_policys() {
    for d in apple_docs("attestation") {
        let s = apple_facts_of(&d);
        assert!(s.verified, "{}: {:?}", d["id"], s.error);
        assert_eq!(s.kind, EvidenceKind::AppleAppAttest);
        assert_eq!(
            s.rp_id_hash.as_deref(),
            Some(hex::encode(digest(&SHA256, app_id(&d).as_bytes())).as_str())
        );
        assert_eq!(s.environment.map(|e| e.as_str()), Some("development"));
        assert_eq!(s.counter, Some(0));

        let id = app_id(&d);
        let dev = apple_policy(&[&id], Some("development"));
        assert_passes(&judge_ios(&dev, &s), "development app under development");

        let prod = apple_policy(&[&id], None);
        assert_eq!(prod.evidence.apple.environment.as_str(), "production");
        assert_fails_with(
            &judge_ios(&prod, &s),
            &["App Attest development environment; the policy accepts production only"],
            "development app under the default production",
        );

        let other = apple_policy(&["6MURL8TA57.gov.gujarat.pramaan"], Some("development"));
        assert_fails_with(
            &judge_ios(&other, &s),
            &["belongs to another app, not the Pramaan app (6MURL8TA57.gov.gujarat.pramaan)"],
            "another app id",
        );
        // The right one among several passes.
        let several = apple_policy(
            &["6MURL8TA57.gov.gujarat.pramaan", &id],
            Some("development"),
        );
        assert_passes(&judge_ios(&several, &s), "one of several app ids");
    }
}

#[test]
fn app_attest_summarize_requires_the_binding_of_nonce_and_device_key() {
    // The captured attestations were made over the client data "wurzelpfropf": they do
    // not bind a Pramaan nonce and device key, so summarize refuses them, and it refuses
    // client data that claims our nonce and key too (the attestation is not over it).
    let d = &apple_docs("attestation")[0];
    let key = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let nonce = [7u8; 32];
    let captured = Evidence::AppleAppAttest {
        attestation: b64(&d["attestationBase64"]),
        key_id: b64(&d["keyIdBase64"]),
        client_data: b64(&d["clientDataBase64"]),
    };
    let s = summarize(&captured, &nonce, &key, apple_now(d), &Roots::builtin());
    assert!(!s.verified);
    assert!(
        s.error.as_deref().unwrap().contains("nonce"),
        "{:?}",
        s.error
    );

    let mut client_data = nonce.to_vec();
    client_data.extend_from_slice(&key.to_cose_key_bytes());
    let claimed = Evidence::AppleAppAttest {
        attestation: b64(&d["attestationBase64"]),
        key_id: b64(&d["keyIdBase64"]),
        client_data: client_data.clone(),
    };
    let s = summarize(&claimed, &nonce, &key, apple_now(d), &Roots::builtin());
    assert!(!s.verified);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("SHA-256(authData || clientDataHash)")
    );
    // The binding names the very device key.
    let other = SoftwareSigner::generate().unwrap().public_key().unwrap();
    let s = summarize(&claimed, &nonce, &other, apple_now(d), &Roots::builtin());
    assert!(
        s.error.as_deref().unwrap().contains("device key"),
        "{:?}",
        s.error
    );
}

// Assertions (a replayed counter, a lower counter): `evidence_apple.rs`,
// `every_assertion_verifies_with_counter_one`.

/// Re-attestation on real chains: a fresh key attestation from the same phone (caiman's
/// TEE and StrongBox keys: one Pixel 9 Pro) renews the evidence; one from another phone
/// (tegu: another model, or another verified boot key) or for another nonce does not.
#[test]
fn reattestation_renews_evidence_only_from_the_same_phone() {
    use pramaan_core::evidence::reattest;
    let roots = Roots::builtin();
    let tee = real("caiman/sdk36/TEE_EC_RKP");
    let sb = real("caiman/sdk36/SB_EC_RKP");
    let enrolled = facts(&tee);
    assert!(enrolled.verified, "{:?}", enrolled.error);
    let fresh = reattest(&sb.evidence, &sb.challenge, &enrolled, 0, sb.now, &roots);
    assert!(fresh.verified, "{:?}", fresh.error);
    assert_eq!(fresh.checked_at, sb.now);
    assert_eq!(fresh.security_level, Some(SecurityLevel::StrongBox));
    assert_eq!(fresh.verified_boot, Some(VerifiedBootState::Verified));
    assert_eq!(fresh.attested_model.as_deref(), Some("Pixel 9 Pro"));

    for other in ["tegu/sdk37/TEE_TRUSTED_CONF", "tegu/sdk36/SB_EC_2026_ROOT"] {
        let o = real(other);
        let f = reattest(&o.evidence, &o.challenge, &enrolled, 0, o.now, &roots);
        assert!(!f.verified, "{other} passed as the same phone");
        assert!(
            f.error.as_deref().unwrap_or("").contains("another device"),
            "{other}: {:?}",
            f.error
        );
    }
    let f = reattest(&sb.evidence, &[0; 32], &enrolled, 0, sb.now, &roots);
    assert!(!f.verified);
    assert!(
        f.error.as_deref().unwrap_or("").contains("challenge"),
        "{:?}",
        f.error
    );
    // Fresh evidence cannot stand in for an enrollment that proved nothing.
    let f = reattest(
        &sb.evidence,
        &sb.challenge,
        &EvidenceSummary::none(0),
        0,
        sb.now,
        &roots,
    );
    assert!(!f.verified);
    // An App Attest assertion for an Android device is refused, not a panic.
    let f = reattest(
        &Evidence::AppleAssertion {
            assertion: vec![0xa0],
        },
        &sb.challenge,
        &enrolled,
        0,
        sb.now,
        &roots,
    );
    assert!(!f.verified);
}

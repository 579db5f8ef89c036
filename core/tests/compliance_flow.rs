#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the test failing
//! The compliance path end to end inside the core, with the files IT would upload
//! (`tests/data/compliance/`): a policy naming catalog platforms, the registry CSV and a
//! group roster. Devices sign attestations; the "server" side verifies the COSE, decodes
//! the claims and evaluates every officer. Nothing is mocked between the signature and
//! the verdict, so a change anywhere on that path that alters a verdict fails here.

use std::collections::BTreeMap;
use std::path::Path;

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{AppFact, Attestation, Platform};
use pramaan_core::cose::Sign1;
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::keys::Signer;
use pramaan_core::policy::{
    self, Accepted, ComplianceStatus, DeviceState, EvalContext, EvidenceLevel, Officer, Policy,
    Roster, Rule,
};
use pramaan_testkit::{
    GAD_GROUP, SimDevice, gad_claims, verified_android_evidence, whatsapp, whatsapp_group,
};
use uuid::Uuid;

const NOW: u64 = 1_790_000_000;
const WA_SIGNER: &str = "fb920d381bee1b2093f27dc8f13d994da629dc91887d0529b35c9a2dc4f4a6c2";

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compliance")
        .join(name);
    std::fs::read_to_string(&path).expect("test data")
}

fn facts(officer: &Officer, device_id: Uuid, handle: &str, signer: &str, iat: u64) -> Attestation {
    Attestation {
        nonce: Some(vec![3; 32]),
        iat,
        apps: vec![AppFact {
            signer: Some(signer.into()),
            ..whatsapp()
        }],
        groups: vec![whatsapp_group(GAD_GROUP, handle)],
        email: vec![officer.email.clone()],
        ..gad_claims(device_id, &officer.officer_id)
    }
}

/// Device side: sign; server side: verify with the enrolled key and kid, decode.
fn round_trip(claims: &Attestation) -> Attestation {
    let device = SimDevice::with_id(claims.device_id);
    let kid = claims.device_id.as_bytes();
    let token = device.sign(claims);
    assert!(token.len() < 1024, "token is {} bytes", token.len());
    let enrolled_key = device.signer.public_key().expect("pk");
    let parsed = Sign1::parse(&token).expect("parse");
    let payload = parsed
        .verify_es256(&enrolled_key, Some(kid))
        .expect("verify");
    Attestation::from_cbor(payload).expect("claims")
}

static EVIDENCE: std::sync::LazyLock<EvidenceSummary> =
    std::sync::LazyLock::new(|| verified_android_evidence(NOW - 86_400));

fn device<'a>(id: Uuid, latest: Option<&'a Attestation>, received_at: u64) -> DeviceState<'a> {
    DeviceState {
        device_id: id,
        platform: Platform::Android,
        model: "Pixel 8".into(),
        evidence: &EVIDENCE,
        revoked: false,
        latest: latest.map(|claims| Accepted {
            claims,
            received_at,
            fresh_nonce: true,
        }),
        last_fresh_at: Some(received_at),
    }
}

#[test]
fn department_compliance_from_uploaded_files() {
    let policy = Policy::load(&data("gad-policy.toml"), &Catalog::builtin()).expect("policy");
    assert_eq!(
        policy.platforms[0].android_package.as_deref(),
        Some("com.whatsapp")
    );
    assert!(
        policy.platforms[0]
            .android_signers
            .iter()
            .any(|s| s == WA_SIGNER)
    );

    let (officers, rejected) = policy::officers_from_csv(&data("officers.csv"));
    assert_eq!(officers.len(), 6);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 8, "{rejected:?}");
    assert!(rejected[0].reason.contains("perhaps"));
    let by_id: BTreeMap<&str, &Officer> = officers
        .iter()
        .map(|o| (o.officer_id.as_str(), o))
        .collect();

    let rosters = Roster::from_rows(
        policy::roster_from_csv(&data("gad-officers-roster.csv"))
            .expect("roster")
            .rows,
    );
    assert_eq!(rosters.len(), 1);

    let id = |n: u128| Uuid::from_u128(n);
    // GAD-001: genuine app (current WhatsApp key), on the roster, the GR phone.
    let a1 = round_trip(&facts(
        by_id["GAD-001"],
        id(1),
        "+919800000001",
        WA_SIGNER,
        NOW - 60,
    ));
    // GAD-002: a repackaged WhatsApp (right package, unknown signer).
    let a2 = round_trip(&facts(
        by_id["GAD-002"],
        id(2),
        "+919800000002",
        &"ab".repeat(32),
        NOW - 60,
    ));
    // GAD-005: genuine, but checked in two days ago.
    let a5 = round_trip(&facts(
        by_id["GAD-005"],
        id(5),
        "+919800000005",
        WA_SIGNER,
        NOW - 2 * 86_400,
    ));
    // GAD-006: a compliant device that IT has since revoked.
    let a6 = round_trip(&facts(
        by_id["GAD-006"],
        id(6),
        "+919800000006",
        WA_SIGNER,
        NOW - 60,
    ));
    let mut revoked = device(id(6), Some(&a6), NOW - 60);
    revoked.revoked = true;

    let devices: BTreeMap<&str, Vec<DeviceState<'_>>> = BTreeMap::from([
        ("GAD-001", vec![device(id(1), Some(&a1), NOW - 60)]),
        ("GAD-002", vec![device(id(2), Some(&a2), NOW - 60)]),
        ("GAD-005", vec![device(id(5), Some(&a5), NOW - 2 * 86_400)]),
        ("GAD-006", vec![revoked]),
    ]);
    let results: BTreeMap<&str, policy::Evaluation> = officers
        .iter()
        .map(|o| {
            let ds = devices
                .get(o.officer_id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            (
                o.officer_id.as_str(),
                policy::evaluate_officer(&policy, o, ds, &rosters, &EvalContext::at(NOW)),
            )
        })
        .collect();

    let status = |o: &str| results[o].status;
    let failed_rules = |o: &str| {
        results[o]
            .failures
            .iter()
            .map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status("GAD-001"),
        ComplianceStatus::Compliant,
        "{:?}",
        results["GAD-001"]
    );
    assert_eq!(
        results["GAD-001"].evidence[0].level,
        EvidenceLevel::RosterConfirmed
    );
    assert_eq!(status("GAD-002"), ComplianceStatus::Noncompliant);
    assert_eq!(failed_rules("GAD-002"), vec![Rule::R3]);
    assert!(results["GAD-002"].failures[0].detail.contains("repackaged"));
    assert_eq!(status("GAD-003"), ComplianceStatus::NotEnrolled);
    assert_eq!(failed_rules("GAD-003"), vec![Rule::R2]);
    assert_eq!(status("GAD-004"), ComplianceStatus::NotEntitled);
    assert!(
        results["GAD-004"].failures.is_empty(),
        "not entitled: R2 does not apply"
    );
    assert_eq!(status("GAD-005"), ComplianceStatus::Stale);
    assert_eq!(status("GAD-006"), ComplianceStatus::Revoked);

    // The JSON an IT dashboard or `pramaan compliance --format json` shows.
    let json = serde_json::to_value(&results["GAD-003"]).expect("json");
    assert_eq!(json["status"], "not_enrolled");
    assert_eq!(json["failures"][0]["rule"], "R2");
    assert_eq!(json["device_id"], serde_json::Value::Null);
}

/// The phone shows its officer the same verdict the server computes from the same bytes.
#[test]
fn phone_and_server_agree_on_one_attestation() {
    let policy = Policy::load(&data("gad-policy.toml"), &Catalog::builtin()).expect("policy");
    let (officers, _) = policy::officers_from_csv(&data("officers.csv"));
    let officer = &officers[0];
    let mut claims = facts(officer, Uuid::from_u128(1), "+919800000001", WA_SIGNER, NOW);
    claims.lock = false;
    claims.email.push("asha.personal@gmail.com".into());
    let dev = device(claims.device_id, None, NOW);
    let ctx = EvalContext::at(NOW);
    let on_phone = policy::evaluate_attestation(&policy, officer, &dev, &claims, &[], true, &ctx);
    let received = round_trip(&claims);
    let on_server =
        policy::evaluate_attestation(&policy, officer, &dev, &received, &[], true, &ctx);
    assert_eq!(on_phone, on_server);
    let rules: Vec<Rule> = on_server.1.iter().map(|f| f.rule).collect();
    assert_eq!(rules, vec![Rule::R1, Rule::R5]);
    assert_eq!(
        on_server.1[0].detail,
        "email asha.personal@gmail.com is not on a government domain (gujarat.gov.in, nic.in)"
    );
}

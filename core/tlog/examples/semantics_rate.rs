//! Measures the auditor's replay ([`pramaan_tlog::semantics::check`]) on a log of signed
//! attestations from software devices, with every verdict recomputed:
//! `cargo run --release -p pramaan-tlog --example semantics_rate -- [ATTESTATIONS] [DEVICES]`.
//! Building the log (signing the tokens) is not timed; the replay is.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{self, AppFact, Attestation, DeviceInfo, EnrollRequest, GroupFact};
use pramaan_core::claims::{Assurance, OsInfo, Platform, Verdict};
use pramaan_core::cose;
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::keys::{Signer as _, SoftwareSigner};
use pramaan_core::model::{Officer, Policy};
use pramaan_tlog::LogEntry;
use uuid::Uuid;

const T: u64 = 1_790_000_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let devices: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let policy = Policy::load(
        r#"
department = "GAD"
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "gad-officers"
[evidence]
assurance = "software"
platforms = ["desktop"]
"#,
        &Catalog::builtin(),
    )
    .expect("policy");
    let mut entries = vec![LogEntry::PolicyChange {
        at: T,
        department: "GAD".into(),
        policy_json: serde_json::to_string(&policy).expect("json"),
        by: "admin".into(),
    }];
    let officers: Vec<Officer> = (0..devices)
        .map(|i| Officer {
            officer_id: format!("GAD-{i:05}"),
            name: format!("Officer {i}"),
            designation: String::new(),
            department: "GAD".into(),
            email: format!("o{i}@gujarat.gov.in"),
            mobile: String::new(),
            entitled: true,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
            retired_at: None,
        })
        .collect();
    entries.push(LogEntry::RegistryImport {
        at: T,
        officers: officers.clone(),
        by: "it".into(),
    });
    entries.push(LogEntry::RosterSet {
        at: T,
        department: "GAD".into(),
        platform: "WhatsApp".into(),
        group: "gad-officers".into(),
        handles: (0..devices).map(|i| format!("+9198{i:08}")).collect(),
        by: "it".into(),
    });
    let signer = Catalog::builtin()
        .find("WhatsApp")
        .and_then(|p| p.android_signers.first().cloned());
    let devs: Vec<(Uuid, SoftwareSigner)> = (0..devices)
        .map(|i| {
            let s = SoftwareSigner::generate().expect("key");
            let id = Uuid::new_v4();
            let req = EnrollRequest {
                v: 1,
                token_hash: vec![i as u8; 32],
                nonce: vec![7; 32],
                key: s.public_key().expect("pk").to_cose_key_bytes(),
                platform: Platform::Desktop,
                device: DeviceInfo {
                    model: "Laptop".into(),
                    os: "linux".into(),
                    os_version: "6".into(),
                },
                evidence: None,
            };
            entries.push(LogEntry::Enrollment {
                at: T,
                department: "GAD".into(),
                officer_id: officers[i as usize].officer_id.clone(),
                device_id: id,
                request: cose::sign_es256(&s, b"", claims::encode(&req)).expect("sign"),
                assurance: Assurance::Software,
                evidence: Some(EvidenceSummary::none(T)),
            });
            (id, s)
        })
        .collect();
    let built = Instant::now();
    for k in 0..n {
        let i = k % devices;
        let (id, s) = &devs[i as usize];
        let at = T + 10 + k / 100;
        let c = Attestation {
            protocol: pramaan_core::claims::Protocol::CURRENT,
            device_id: *id,
            nonce: Some(vec![(k % 251) as u8; 32]),
            anchor: None,
            iat: at,
            seq: k / devices + 1,
            officer: officers[i as usize].officer_id.clone(),
            apps: vec![AppFact {
                id: "com.whatsapp".into(),
                signer: signer.clone(),
                version: "2.26.1".into(),
                present: true,
            }],
            groups: vec![GroupFact {
                platform: "WhatsApp".into(),
                group: "gad-officers".into(),
                member: true,
                handle: format!("+9198{i:08}"),
            }],
            email: vec![officers[i as usize].email.clone()],
            os: OsInfo {
                name: "linux".into(),
                version: "6".into(),
                patch: String::new(),
            },
            lock: true,
            evidence: None,
        };
        entries.push(LogEntry::Attestation {
            at,
            department: "GAD".into(),
            officer_id: c.officer.clone(),
            device_id: *id,
            token: cose::sign_es256(s, id.as_bytes(), c.to_cbor()).expect("sign"),
            verdict: Verdict::Affirming,
            failures: Vec::new(),
            fresh_nonce: Some(true),
            evidence: None,
        });
    }
    eprintln!(
        "built {} entries in {:.1} s (signing not timed below)",
        entries.len(),
        built.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let report = pramaan_tlog::semantics::check(
        std::iter::empty(),
        0,
        entries.iter().enumerate().map(|(i, e)| (i as u64, e)),
    );
    let secs = start.elapsed().as_secs_f64();
    assert!(report.is_clean(), "{:?}", report.violations.first());
    let start = Instant::now();
    let mut decoded = 0u64;
    for e in &entries {
        if let LogEntry::Attestation { token, .. } = e {
            decoded += u64::from(pramaan_tlog::semantics::decode_claims(token).is_ok());
        }
    }
    let decode_secs = start.elapsed().as_secs_f64();
    println!(
        "of which decoding the claims alone: {:.2} s for {decoded} tokens",
        decode_secs
    );
    println!(
        "replayed {} entries ({} attestations, {} verdicts recomputed) in {:.2} s: {:.0} entries/s on one core",
        report.entries,
        report.attestations,
        report.verdicts_recomputed,
        secs,
        report.entries as f64 / secs
    );
}

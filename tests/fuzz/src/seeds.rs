//! Seed corpora, one per target, built from the project's fixtures.
//!
//! Why from fixtures and in code rather than as committed binary files: a seed must be
//! an input the decoder accepts (so the fuzzer starts deep), and the encodings change
//! with the code; built here they always match the code under test, and the real
//! platform evidence stays in one place (`core/tests/data/evidence`, with its licence).

use std::path::{Path, PathBuf};

use pramaan_core::agent::Facts;
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{
    self, AppFact, AttestResult, Attestation, Challenge, DeviceInfo, EnrollRequest, Evidence,
    GroupFact, OsInfo, Platform, Receipt,
};
use pramaan_core::cose;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::evidence::x509::{parse_cert, pem_certificates};
use pramaan_core::evidence::{EvidenceSummary, android};
use pramaan_core::keys::{Signer as _, SoftwareSigner};
use pramaan_core::model::{Assurance, Officer, Policy, Verdict};
use pramaan_tlog::bundle::{BuildOptions, build_bundle_from_store};
use pramaan_tlog::store::{self, LogStore};
use pramaan_tlog::tree::{Hash, NodeSource};
use pramaan_tlog::witness::AddCheckpoint;
use pramaan_tlog::{LogEntry, bundle};
use uuid::Uuid;

use crate::{TARGETS, cosigner, join_chain, log_signer, raw_to_der};

/// A fixed time for the seeds' claims and entries (2026-09-21).
const T: u64 = 1_790_000_000;

/// Writes each target's seeds into `dir/<target>/seed-<n>`; returns how many it wrote.
pub fn write_seeds(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for t in TARGETS {
        let sub = dir.join(t.name);
        std::fs::create_dir_all(&sub)?;
        for (i, seed) in (t.seeds)().iter().enumerate() {
            std::fs::write(sub.join(format!("seed-{i:03}")), seed)?;
            n += 1;
        }
    }
    Ok(n)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Vec<u8> {
    // A missing fixture gives no seed; the tests require every target to have seeds.
    std::fs::read(repo().join(rel)).unwrap_or_default()
}

fn files_under(rel: &str, ext: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join(rel), ext, &mut out);
    out.sort();
    out
}

fn signer() -> SoftwareSigner {
    match SoftwareSigner::generate() {
        Ok(s) => s,
        Err(e) => panic!("no P-256 key for the seeds: {e}"),
    }
}

fn officer(id: &str) -> Officer {
    Officer {
        officer_id: id.into(),
        name: "Seed Officer".into(),
        designation: "Deputy Secretary".into(),
        department: "GAD".into(),
        email: format!("{}@gujarat.gov.in", id.to_lowercase()),
        mobile: "+919800000001".into(),
        entitled: true,
        gr_reference: None,
        phone_model: None,
        phone_purchased: None,
        retired_at: None,
    }
}

fn android_fixture_chain() -> Vec<Vec<u8>> {
    let pem = read("core/tests/data/evidence/android-key-attestation/akita/sdk34/TEE_EC_NONE.pem");
    pem_certificates(&String::from_utf8_lossy(&pem)).unwrap_or_default()
}

fn apple_docs(kind: &str) -> Vec<Vec<u8>> {
    let key = format!("{kind}Base64:");
    let mut out = Vec::new();
    for f in files_under("core/tests/data/evidence/apple-app-attest", "yaml") {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines() {
            if let Some(b64) = line.strip_prefix(&key)
                && let Ok(bytes) = pramaan_core::evidence::decode_base64(b64.trim())
            {
                out.push(bytes);
            }
        }
    }
    out
}

fn claims_of(id: Uuid, evidence: Option<Evidence>) -> Attestation {
    Attestation {
        protocol: pramaan_core::claims::Protocol::CURRENT,
        device_id: id,
        nonce: Some(vec![1; 32]),
        anchor: None,
        iat: T,
        seq: 3,
        officer: "GAD-001".into(),
        apps: vec![AppFact {
            id: "com.whatsapp".into(),
            signer: Catalog::builtin()
                .find("WhatsApp")
                .and_then(|p| p.android_signers.first().cloned()),
            version: "2.26.1".into(),
            present: true,
        }],
        groups: vec![GroupFact {
            platform: "WhatsApp".into(),
            group: "gad-officers".into(),
            member: true,
            handle: "+919800000001".into(),
        }],
        email: vec!["gad-001@gujarat.gov.in".into()],
        os: OsInfo {
            name: "android".into(),
            version: "15".into(),
            patch: "2026-08-05".into(),
        },
        lock: true,
        evidence,
    }
}

fn apple_evidence() -> Evidence {
    Evidence::AppleAppAttest {
        attestation: apple_docs("attestation")
            .into_iter()
            .next()
            .unwrap_or_default(),
        key_id: vec![2; 32],
        client_data: vec![3; 40],
    }
}

fn attestations() -> Vec<Attestation> {
    let id = Uuid::from_bytes([5; 16]);
    let mut offline = claims_of(id, None);
    offline.nonce = None;
    offline.anchor = Some(vec![9; 32]);
    offline.apps.clear();
    offline.groups.clear();
    vec![
        claims_of(id, None),
        offline,
        claims_of(
            id,
            Some(Evidence::AndroidKeyAttestation {
                chain: android_fixture_chain(),
            }),
        ),
        claims_of(id, Some(apple_evidence())),
        claims_of(
            id,
            Some(Evidence::AppleAssertion {
                assertion: apple_docs("assertion")
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
            }),
        ),
    ]
}

pub(crate) fn attestation() -> Vec<Vec<u8>> {
    attestations().iter().map(Attestation::to_cbor).collect()
}

fn enroll_requests(key: &SoftwareSigner) -> Vec<EnrollRequest> {
    let cose_key = key
        .public_key()
        .map(|k| k.to_cose_key_bytes())
        .unwrap_or_default();
    let base = EnrollRequest {
        v: 1,
        token_hash: claims::enroll_token_hash("seed-token").to_vec(),
        nonce: vec![7; 32],
        key: cose_key,
        platform: Platform::Desktop,
        device: DeviceInfo {
            model: "Laptop".into(),
            os: "linux".into(),
            os_version: "6".into(),
        },
        evidence: None,
    };
    let android = EnrollRequest {
        platform: Platform::Android,
        device: DeviceInfo {
            model: "Pixel 8".into(),
            os: "android".into(),
            os_version: "15".into(),
        },
        evidence: Some(Evidence::AndroidKeyAttestation {
            chain: android_fixture_chain(),
        }),
        ..base.clone()
    };
    let ios = EnrollRequest {
        platform: Platform::Ios,
        evidence: Some(apple_evidence()),
        ..base.clone()
    };
    vec![base, android, ios]
}

pub(crate) fn enroll_request() -> Vec<Vec<u8>> {
    enroll_requests(&signer())
        .iter()
        .map(claims::encode)
        .collect()
}

fn demo_policy() -> Option<Policy> {
    let text = String::from_utf8(read("server/assets/demo/policy.toml")).ok()?;
    Policy::load(&text, &Catalog::builtin()).ok()
}

pub(crate) fn messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(policy) = demo_policy() {
        out.push(claims::encode(&Receipt {
            answer_keys: Vec::new(),
            device_id: Uuid::from_bytes([5; 16]),
            officer_id: "GAD-001".into(),
            department: "GAD".into(),
            policy,
            assurance: Assurance::Software,
            evidence: Some(EvidenceSummary::none(T)),
            next_nonce: vec![4; 32],
            server_key: Some(vec![6; 32]),
            next_pin: None,
        }));
    }
    out.push(claims::encode(&AttestResult {
        answer_keys: Vec::new(),
        device_id: Uuid::from_bytes([5; 16]),
        seq: 3,
        status: Verdict::Affirming,
        failures: Vec::new(),
        log_index: 12,
        next_nonce: vec![4; 32],
        iat: T,
        next_pin: None,
        reattest: true,
    }));
    out.push(claims::encode(&Challenge {
        nonce: vec![4; 32],
        expires: T + 600,
    }));
    out
}

pub(crate) fn cose_sign1() -> Vec<Vec<u8>> {
    let key = signer();
    let mut out: Vec<Vec<u8>> = enroll_requests(&key)
        .iter()
        .filter_map(|r| cose::sign_es256(&key, b"", claims::encode(r)).ok())
        .collect();
    let id = Uuid::from_bytes([5; 16]);
    if let Ok(token) = cose::sign_es256(&key, id.as_bytes(), claims_of(id, None).to_cbor()) {
        out.push(token);
    }
    out.push(cose::sign_eddsa(
        &crate::fixed_server_key(7),
        b"server",
        messages().pop().unwrap_or_default(),
    ));
    // The COSE working group's ES256 examples (tagged and untagged).
    let wg =
        String::from_utf8(read("core/tests/data/cose-wg/sign1-es256.json")).unwrap_or_default();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&wg) {
        for case in json["cases"].as_array().into_iter().flatten() {
            if let Some(hex) = case["cbor"].as_str() {
                out.push(crate::hex_decode(hex));
            }
        }
    }
    out
}

pub(crate) fn enroll_uri() -> Vec<Vec<u8>> {
    [
        ("https://pramaan.gad.gujarat.gov.in", "AbC_dEf-0123456789"),
        ("https://10.0.0.5:8443/pramaan", "t0ken"),
    ]
    .iter()
    .flat_map(|(server, token)| {
        let uri = EnrollmentUri {
            server: (*server).into(),
            token: (*token).into(),
            pin: [0xa5; 32],
        }
        .to_string();
        // And the same query behind a universal link.
        let universal = uri.replacen("pramaan://enroll", "https://links.example.in/p/enroll", 1);
        [uri.into_bytes(), universal.into_bytes()]
    })
    .collect()
}

/// Every fixture chain with the "now" its JSON gives (the key's creation time).
pub(crate) fn android_chain() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for pem in files_under("core/tests/data/evidence/android-key-attestation", "pem") {
        let text = std::fs::read_to_string(&pem).unwrap_or_default();
        let Ok(chain) = pem_certificates(&text) else {
            continue;
        };
        let json = std::fs::read_to_string(pem.with_extension("json")).unwrap_or_default();
        let created_ms = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| {
                let c = &v["softwareEnforced"]["creationDateTime"];
                c.as_u64()
                    .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(1_700_000_000_000);
        out.push(join_chain(created_ms / 1000, &chain));
    }
    out
}

pub(crate) fn key_description() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for seed in android_chain() {
        let (_, chain) = crate::split_chain(&seed);
        if let Some(leaf) = chain.first()
            && let Ok(cert) = parse_cert(0, leaf)
            && let Some(ext) = android::find_key_description(&cert)
        {
            out.push(ext.to_vec());
        }
    }
    out
}

pub(crate) fn apple_attestation() -> Vec<Vec<u8>> {
    apple_docs("attestation")
}

pub(crate) fn apple_assertion() -> Vec<Vec<u8>> {
    apple_docs("assertion")
}

pub(crate) fn officers_csv() -> Vec<Vec<u8>> {
    vec![
        read("core/tests/data/compliance/officers.csv"),
        read("server/assets/demo/officers.csv"),
    ]
}

pub(crate) fn roster_csv() -> Vec<Vec<u8>> {
    vec![
        read("core/tests/data/compliance/gad-officers-roster.csv"),
        read("server/assets/demo/roster.csv"),
    ]
}

pub(crate) fn policy() -> Vec<Vec<u8>> {
    let mut out = vec![
        read("core/tests/data/compliance/gad-policy.toml"),
        read("server/assets/demo/policy.toml"),
    ];
    if let Some(p) = demo_policy()
        && let Ok(json) = serde_json::to_string_pretty(&p)
    {
        out.push(json.into_bytes());
    }
    out
}

pub(crate) fn facts() -> Vec<Vec<u8>> {
    let a = claims_of(Uuid::nil(), None);
    let phone = Facts {
        platform: Platform::Android,
        model: "Pixel 8".into(),
        os_name: "android".into(),
        os_version: "15".into(),
        patch_level: "2026-08-05".into(),
        screen_lock: true,
        emails: a.email,
        apps: a.apps,
        groups: a.groups,
    };
    let desktop = Facts {
        platform: Platform::Desktop,
        model: "Laptop".into(),
        os_name: "linux".into(),
        os_version: "6".into(),
        patch_level: String::new(),
        screen_lock: false,
        emails: Vec::new(),
        apps: Vec::new(),
        groups: Vec::new(),
    };
    [phone, desktop]
        .iter()
        .filter_map(|f| toml::to_string(f).ok())
        .map(String::into_bytes)
        .collect()
}

pub(crate) fn status_list() -> Vec<Vec<u8>> {
    vec![
        br#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE", "expires": "2030-01-01"}, "0c8cdd": {"status": "SUSPENDED"}}}"#.to_vec(),
        br#"{"entries": {}}"#.to_vec(),
    ]
}

pub(crate) fn der_signature() -> Vec<Vec<u8>> {
    let mut raws = vec![[0x11u8; 64], [0xffu8; 64], [0u8; 64]];
    let mut mixed = [0u8; 64];
    mixed[1] = 0x80; // r with a leading zero byte and a top bit after it
    mixed[32..].copy_from_slice(&[0x7f; 32]);
    raws.push(mixed);
    let key = signer();
    if let Ok(sig) = key.sign(b"seed") {
        raws.extend(<[u8; 64]>::try_from(sig.as_slice()).ok());
    }
    raws.iter().map(raw_to_der).collect()
}

/// A log in memory (the store the bundle seeds are pulled from).
#[derive(Default)]
struct MemLog {
    leaves: Vec<Vec<u8>>,
    nodes: std::collections::HashMap<(u32, u64), Hash>,
}

impl NodeSource for MemLog {
    type Error = std::convert::Infallible;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.nodes.get(&(level, index)).copied().unwrap_or([0; 32]))
    }
}

impl LogStore for MemLog {
    fn size(&mut self) -> Result<u64, Self::Error> {
        Ok(self.leaves.len() as u64)
    }
    fn leaves(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, Self::Error> {
        Ok((start..end.min(self.leaves.len() as u64))
            .map(|i| (i, self.leaves[i as usize].clone()))
            .collect())
    }
    fn put_leaf(&mut self, index: u64, data: &[u8]) -> Result<(), Self::Error> {
        debug_assert_eq!(index, self.leaves.len() as u64);
        self.leaves.push(data.to_vec());
        Ok(())
    }
    fn put_node(&mut self, level: u32, index: u64, hash: &Hash) -> Result<(), Self::Error> {
        self.nodes.insert((level, index), *hash);
        Ok(())
    }
}

/// The entries of the fixture log: every kind, one device enrolled and attesting.
fn log_entries() -> Vec<LogEntry> {
    let key = signer();
    let id = Uuid::from_bytes([5; 16]);
    let request = enroll_requests(&key)
        .into_iter()
        .next()
        .and_then(|r| cose::sign_es256(&key, b"", claims::encode(&r)).ok())
        .unwrap_or_default();
    let token =
        cose::sign_es256(&key, id.as_bytes(), claims_of(id, None).to_cbor()).unwrap_or_default();
    let policy_json = demo_policy()
        .and_then(|p| serde_json::to_string(&p).ok())
        .unwrap_or_default();
    vec![
        LogEntry::PolicyChange {
            at: T,
            department: "GAD".into(),
            policy_json,
            by: "admin".into(),
        },
        LogEntry::RegistryImport {
            at: T,
            officers: vec![officer("GAD-001")],
            by: "it".into(),
        },
        LogEntry::RosterSet {
            at: T,
            department: "GAD".into(),
            platform: "WhatsApp".into(),
            group: "gad-officers".into(),
            handles: vec!["+919800000001".into()],
            by: "it".into(),
        },
        LogEntry::ApiTokenIssued {
            at: T,
            role: "it".into(),
            department: Some("GAD".into()),
            label: "it-gad".into(),
            token_hash: vec![8; 32],
        },
        LogEntry::EnrollTokenIssued {
            at: T,
            department: "GAD".into(),
            officer_id: "GAD-001".into(),
            token_hash: claims::enroll_token_hash("seed-token").to_vec(),
            expires: T + 86_400,
            allow_additional: false,
            by: "it-gad".into(),
        },
        LogEntry::Enrollment {
            at: T + 1,
            department: "GAD".into(),
            officer_id: "GAD-001".into(),
            device_id: id,
            request,
            assurance: Assurance::Software,
            evidence: Some(EvidenceSummary::none(T + 1)),
        },
        LogEntry::Attestation {
            at: T + 2,
            department: "GAD".into(),
            officer_id: "GAD-001".into(),
            device_id: id,
            token,
            verdict: Verdict::Affirming,
            failures: Vec::new(),
            fresh_nonce: Some(true),
            evidence: None,
        },
        LogEntry::ReattestRequested {
            at: T + 3,
            department: "GAD".into(),
            device_id: id,
            by: "it-gad".into(),
        },
        LogEntry::StatusListInstalled {
            at: T + 3,
            fetched_at: T,
            json: String::from_utf8(status_list().remove(0)).unwrap_or_default(),
            by: "admin".into(),
        },
        LogEntry::Revocation {
            at: T + 4,
            department: "GAD".into(),
            device_id: id,
            reason: "lost".into(),
            by: "it-gad".into(),
        },
    ]
}

pub(crate) fn log_entry() -> Vec<Vec<u8>> {
    log_entries().iter().map(LogEntry::to_leaf).collect()
}

fn fixture_log() -> MemLog {
    let mut log = MemLog::default();
    for e in log_entries() {
        if let Err(e) = store::append(&mut log, &e) {
            panic!("the fixture log does not append: {e}");
        }
    }
    log
}

/// A whole-log bundle, a bundle of a middle range (its enrollment carried alongside)
/// and one with a consistency proof from an earlier size.
pub(crate) fn bundle() -> Vec<Vec<u8>> {
    let mut log = fixture_log();
    let signer = log_signer();
    let early = store::checkpoint(&mut log, signer)
        .ok()
        .and_then(|note| bundle::unverified_checkpoint(&note).ok());
    let mut opts = vec![
        BuildOptions::default(),
        BuildOptions {
            start: Some(6),
            end: Some(8),
            ..BuildOptions::default()
        },
    ];
    // Grow the log so the earlier checkpoint is a real prefix.
    let more = log_entries();
    for e in more.iter().take(3) {
        let _ = store::append(&mut log, e);
    }
    if let Some(cp) = early {
        opts.push(BuildOptions {
            since: vec![cp],
            ..BuildOptions::default()
        });
    }
    opts.iter()
        .filter_map(|o| build_bundle_from_store(&mut log, signer, o).ok())
        .map(|b| b.to_bytes())
        .collect()
}

pub(crate) fn checkpoint() -> Vec<Vec<u8>> {
    let mut log = fixture_log();
    let mut out = Vec::new();
    let Ok(note) = store::checkpoint(&mut log, log_signer()) else {
        return out;
    };
    if let Ok(cosigned) = cosigner().cosign(&note, T) {
        out.push(cosigned.into_bytes());
    }
    let body = AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        note: note.clone(),
    }
    .to_body();
    out.push(body.into_bytes());
    out.push(log_signer().verifier_key().into_bytes());
    out.push(note.into_bytes());
    out
}

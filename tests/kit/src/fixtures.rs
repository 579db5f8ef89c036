//! The test fixtures of the whole workspace, written once: GAD's policy, the registry and
//! roster, platform signers (from the built-in catalog, so no digest is typed here), the
//! claims and facts of a compliant phone, and simulated devices (a software P-256 key and a
//! device id).
//!
//! Unit tests inside pramaan-core cannot use this crate (it depends on the core); every
//! integration test, example and bench can.

use pramaan_core::agent::Facts;
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{AppFact, Attestation, GroupFact, OsInfo, Platform};
use pramaan_core::cose;
use pramaan_core::keys::SoftwareSigner;
use uuid::Uuid;

/// GAD's policy: government email domains, WhatsApp and Telegram named from the catalog
/// (no digest by hand), one group. The same file the core's compliance tests load.
pub const POLICY_GAD: &str = include_str!("../../../core/tests/data/compliance/gad-policy.toml");

/// The tests' Pramaan app: the package GAD's policy names in `[evidence.android] apps`.
pub const PRAMAAN_APP: &str = "gov.gujarat.pramaan";

/// SHA-256 of the tests' Pramaan app signing certificate (named by GAD's policy).
pub const PRAMAAN_APP_SIGNER: &str =
    "d68e82b88ea7b444638c266d25aec9a249995131488ba8daf59c8d59526c6c02";

/// What a genuine Android key attestation proves of a phone that meets every default
/// requirement of the evidence policy and runs the tests' Pramaan app, checked at `at`
/// (a TEE key, verified boot, locked bootloader, patch 2026-10). For rule tests;
/// the verifier tests use the real captured chains.
pub fn verified_android_evidence(at: u64) -> pramaan_core::evidence::EvidenceSummary {
    use pramaan_core::evidence::{EvidenceKind, EvidenceSummary, SecurityLevel, VerifiedBootState};
    EvidenceSummary {
        kind: EvidenceKind::AndroidKeyAttestation,
        verified: true,
        checked_at: at,
        security_level: Some(SecurityLevel::TrustedEnvironment),
        verified_boot: Some(VerifiedBootState::Verified),
        bootloader_locked: Some(true),
        os_patch_level: Some(202_610),
        app_packages: vec![PRAMAAN_APP.into()],
        app_signers: vec![PRAMAAN_APP_SIGNER.into()],
        attested_model: Some("Pixel 8".into()),
        ..EvidenceSummary::default()
    }
}

/// REV's policy: WhatsApp, one group, and the strict default evidence policy (hardware
/// keys, android and ios only): the tests' simulated phones are noncompliant there.
pub const POLICY_REV: &str = r#"
department = "REV"
name = "Revenue Department"
check_in_hours = 24
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "rev-officers"
"#;

/// The registry: two entitled GAD officers and one of REV.
pub const OFFICERS: &str = "officer_id,name,designation,department,email,mobile,entitled\n\
GAD-001,A. Shah,Deputy Secretary,GAD,a.shah@gujarat.gov.in,+919800000001,true\n\
GAD-002,B. Patel,Under Secretary,GAD,b.patel@gujarat.gov.in,+919800000002,true\n\
REV-001,C. Desai,Deputy Collector,REV,c.desai@gujarat.gov.in,+919800000003,true\n";

/// The roster of `gad-officers`: the two GAD officers' handles.
pub const ROSTER_GAD: &str = "platform,group,handle\n\
WhatsApp,gad-officers,+919800000001\n\
WhatsApp,gad-officers,+919800000002\n";

/// GAD's group on WhatsApp.
pub const GAD_GROUP: &str = "gad-officers";

/// The registry email of a seeded officer.
pub fn registry_email(officer: &str) -> &'static str {
    match officer {
        "GAD-001" => "a.shah@gujarat.gov.in",
        "GAD-002" => "b.patel@gujarat.gov.in",
        _ => "c.desai@gujarat.gov.in",
    }
}

/// The registry mobile (group handle) of a seeded officer.
pub fn registry_handle(officer: &str) -> &'static str {
    match officer {
        "GAD-001" => "+919800000001",
        "GAD-002" => "+919800000002",
        _ => "+919800000003",
    }
}

/// The current Android signing-certificate digest of `platform` in the built-in catalog
/// (the original key where the app rotated: the first listed).
pub fn signer_of(platform: &str) -> String {
    Catalog::builtin()
        .find(platform)
        .and_then(|p| p.android_signers.first().cloned())
        .unwrap_or_else(|| panic!("{platform} has no Android signer in the catalog"))
}

/// WhatsApp's signer from the catalog.
pub fn whatsapp_signer() -> String {
    signer_of("WhatsApp")
}

/// An installed Android app of `platform` (package and signer from the catalog).
pub fn app_of(platform: &str, version: &str) -> AppFact {
    let package = Catalog::builtin()
        .find(platform)
        .and_then(|p| p.android_package.clone())
        .unwrap_or_else(|| panic!("{platform} has no Android package in the catalog"));
    AppFact {
        id: package,
        signer: Some(signer_of(platform)),
        version: version.into(),
        present: true,
    }
}

/// Genuine WhatsApp 2.26.1.
pub fn whatsapp() -> AppFact {
    app_of("WhatsApp", "2.26.1")
}

/// Membership of `group` on WhatsApp with `handle`.
pub fn whatsapp_group(group: &str, handle: &str) -> GroupFact {
    GroupFact {
        platform: "WhatsApp".into(),
        group: group.into(),
        member: true,
        handle: handle.into(),
    }
}

/// Android 15 with the 2026-10-05 patch.
pub fn android_15() -> OsInfo {
    OsInfo {
        name: "android".into(),
        version: "15".into(),
        patch: "2026-10-05".into(),
    }
}

/// Claims of a compliant Android phone of GAD-001 (email a.shah, handle +919800000001)
/// reporting as `officer`: genuine WhatsApp, member of `gad-officers`, screen lock. No
/// nonce, seq 1, iat 1 790 000 000: set those (and anything else) with struct update.
pub fn gad_claims(device_id: Uuid, officer: &str) -> Attestation {
    Attestation {
        protocol: pramaan_core::claims::Protocol::CURRENT,
        device_id,
        nonce: None,
        anchor: None,
        iat: 1_790_000_000,
        seq: 1,
        officer: officer.to_string(),
        apps: vec![whatsapp()],
        groups: vec![whatsapp_group(GAD_GROUP, "+919800000001")],
        email: vec!["a.shah@gujarat.gov.in".into()],
        os: android_15(),
        lock: true,
        evidence: None,
    }
}

/// Facts of a compliant Android phone (Pixel 8, Android 15) with `email` and `handle` in
/// `gad-officers`.
pub fn compliant_facts(email: &str, handle: &str) -> Facts {
    let os = android_15();
    Facts {
        platform: Platform::Android,
        model: "Pixel 8".into(),
        os_name: os.name,
        os_version: os.version,
        patch_level: os.patch,
        screen_lock: true,
        emails: vec![email.into()],
        apps: vec![whatsapp()],
        groups: vec![whatsapp_group(GAD_GROUP, handle)],
    }
}

/// Facts of GAD-001's compliant phone.
pub fn gad_facts() -> Facts {
    compliant_facts(registry_email("GAD-001"), registry_handle("GAD-001"))
}

/// `facts` as the desktop agent's facts file (design section 9).
pub fn facts_toml(facts: &Facts) -> String {
    toml::to_string(facts).expect("facts serialize as TOML")
}

/// A simulated device: a software P-256 key and its device id.
#[derive(Debug)]
pub struct SimDevice {
    /// The device id (kid of its tokens, ueid of its claims).
    pub id: Uuid,
    /// Its P-256 key.
    pub signer: SoftwareSigner,
}

impl SimDevice {
    /// A new key and a random device id.
    pub fn generate() -> Self {
        Self::with_id(Uuid::new_v4())
    }

    /// A new key for device `id`.
    pub fn with_id(id: Uuid) -> Self {
        Self {
            id,
            signer: SoftwareSigner::generate().expect("software key"),
        }
    }

    /// `claims` as an attestation token: COSE_Sign1, ES256, kid = device id.
    pub fn sign(&self, claims: &Attestation) -> Vec<u8> {
        cose::sign_es256(&self.signer, self.id.as_bytes(), claims.to_cbor()).expect("sign")
    }
}

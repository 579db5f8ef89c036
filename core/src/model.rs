//! The domain's vocabulary: rules, verdicts, platforms, policies and officers.
//!
//! Why a leaf module: the protocol messages ([`crate::claims`]), the rules
//! ([`crate::policy`]), the platform catalog and the server all speak of the same few
//! types. Keeping them here, importing nothing else of the crate, breaks the circle that
//! `claims`, `policy` and `catalog` formed by importing each other, and gives the HTTP
//! API ([`crate::api`]) and the FFI one place to take them from.

use serde::{Deserialize, Serialize};

/// Rule identifiers of design section 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    /// Official email only on government domains.
    R1,
    /// Entitled officers keep the official smartphone.
    R2,
    /// Use the platform the department decided.
    R3,
    /// Be part of the department's communication group.
    R4,
    /// Safe keeping of official accounts (screen lock, hardware-backed key).
    R5,
}

impl Rule {
    /// The identifier as written in failures, reports and on the wire (`"R1"`..`"R5"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::R1 => "R1",
            Rule::R2 => "R2",
            Rule::R3 => "R3",
            Rule::R4 => "R4",
            Rule::R5 => "R5",
        }
    }
}

/// Which platform a device runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// An Android phone (wire name `android`).
    Android,
    /// An iPhone (wire name `ios`).
    Ios,
    /// The desktop agent (wire name `desktop`): facts from a file, a software key.
    Desktop,
}

impl Platform {
    /// The wire name: `android`, `ios` or `desktop`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Desktop => "desktop",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "android" => Ok(Platform::Android),
            "ios" => Ok(Platform::Ios),
            "desktop" => Ok(Platform::Desktop),
            other => Err(format!(
                "unknown platform {other:?} (expected android, ios or desktop)"
            )),
        }
    }
}

/// Whether the device key was shown to be hardware-backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assurance {
    /// `hardware`: Key Attestation or App Attest evidence was verified at enrollment.
    Hardware,
    /// `software`: no verified evidence; on a phone this is an R5 warning.
    Software,
}

impl Assurance {
    /// The wire name: `hardware` or `software`.
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::Hardware => "hardware",
            Assurance::Software => "software",
        }
    }
}

impl std::str::FromStr for Assurance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Assurance::Hardware, Assurance::Software]
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown assurance {s:?} (expected hardware or software)"))
    }
}

/// Attestation verdict, named as in the EAR draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// `affirming`: no rule failed and the attestation answered a fresh server nonce.
    Affirming,
    /// `warning`: only R2 (phone model) or R5 failed, or an offline delivery (no fresh nonce).
    Warning,
    /// `contraindicated`: R1, R3 or R4 failed.
    Contraindicated,
}

impl Verdict {
    /// The wire name: `affirming`, `warning` or `contraindicated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Affirming => "affirming",
            Verdict::Warning => "warning",
            Verdict::Contraindicated => "contraindicated",
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Verdict::Affirming,
            Verdict::Warning,
            Verdict::Contraindicated,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown verdict {s:?}"))
    }
}

/// One failed rule with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The rule that failed.
    pub rule: Rule,
    /// What is wrong, in an English sentence shown to the officer and to IT.
    pub detail: String,
}

/// One sanctioned messaging platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    /// Display name (e.g. `WhatsApp`); [`GroupSpec::platform`] and roster rows refer to it.
    pub name: String,
    /// Android package name (e.g. `com.whatsapp`); `None` if the platform has no Android app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_package: Option<String>,
    /// SHA-256 of accepted signing certificates, lowercase hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub android_signers: Vec<String>,
    /// iOS bundle id (e.g. `net.whatsapp.WhatsApp`), matched against the reported app ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_bundle: Option<String>,
    /// iOS URL scheme (e.g. `whatsapp`) the iOS agent probes to see whether the app is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_url_scheme: Option<String>,
}

/// One communication group every officer of the department must be in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Name of the policy platform the group lives on, as in its [`PlatformSpec::name`].
    pub platform: String,
    /// Group id as the device reports it and as roster rows name it.
    pub id: String,
    /// Display name for failure messages; may be empty.
    #[serde(default)]
    pub name: String,
}

/// A department's policy (TOML or JSON, design section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Department code (e.g. `GAD`), as in the registry's `department` column.
    pub department: String,
    /// Full department name for display; may be empty.
    #[serde(default)]
    pub name: String,
    /// Hours after which the latest attestation is `stale` (default 24, at least 1).
    #[serde(default = "default_check_in_hours")]
    pub check_in_hours: u32,
    /// Government email domains for R1; subdomains of each are accepted too.
    pub email_domains: Vec<String>,
    /// Sanctioned messaging platforms (R3): one of them must be installed.
    #[serde(default)]
    pub platforms: Vec<PlatformSpec>,
    /// Groups every officer must be a member of (R4).
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// What a device's platform evidence must prove (rule R2's "the official phone");
    /// strict when absent.
    #[serde(default)]
    pub evidence: EvidencePolicy,
    /// What one device may add to the audit log (`[limits]`); defaults a real
    /// department never reaches.
    #[serde(default)]
    pub limits: DeviceLimits,
}

fn default_check_in_hours() -> u32 {
    24
}

/// Per-device limits (`[limits]`, design section 6): how many attestations of one device
/// the server accepts in any 24 hours.
///
/// Why: every accepted attestation is kept whole in the audit log, and a device can sign
/// as many as it likes (nonces are free, offline ones need none). Without a bound one
/// enrolled phone, or a stolen device key, grows the log, the store and the auditors'
/// bundles without end. With it, one device adds at most `attestations_per_day` entries
/// of at most the server's attest body limit each per day. A phone checks in a few times
/// a day, so the defaults (96: one every 15 minutes; 24 offline, over three times the
/// default `max_offline_run`) are never reached by a working agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceLimits {
    /// Most attestations of one device accepted in any 24 hours (online and offline).
    pub attestations_per_day: u32,
    /// Of those, most offline deliveries (no server nonce) accepted in any 24 hours, on
    /// top of `evidence.max_offline_run` (in a row after a fresh challenge).
    pub offline_per_day: u32,
}

impl DeviceLimits {
    /// The window both limits count in, seconds.
    pub const WINDOW_SECS: u64 = 86_400;
}

impl Default for DeviceLimits {
    fn default() -> Self {
        Self {
            attestations_per_day: 96,
            offline_per_day: 24,
        }
    }
}

/// The department's evidence policy (`[evidence]`, design section 6): what an
/// enrollment's (and a re-attestation's) platform evidence must prove for the device to
/// count as the official phone (rule R2). Every default is the strict choice; a policy
/// loosens it only by saying so (the demo lists `desktop` and `software` for its
/// simulated phones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidencePolicy {
    /// The least assurance a device key must have: `hardware` (default) or `software`.
    pub assurance: Assurance,
    /// Platforms that may count as the official phone; default `["android", "ios"]`.
    /// `desktop` (the desktop agent) only when listed, for testing.
    pub platforms: Vec<Platform>,
    /// Days after which a device must send fresh evidence (re-attestation); 0: never.
    pub reattest_days: u32,
    /// Most offline check-ins accepted in a row after the last fresh server challenge
    /// (default 7: a week of daily check-ins without network).
    pub max_offline_run: u32,
    /// Age in days of Google's revocation status list beyond which an expired factory
    /// keybox is no longer accepted.
    pub status_list_max_age_days: u32,
    /// Android Key Attestation requirements.
    pub android: AndroidEvidencePolicy,
    /// Apple App Attest requirements.
    pub apple: AppleEvidencePolicy,
}

impl Default for EvidencePolicy {
    fn default() -> Self {
        Self {
            assurance: Assurance::Hardware,
            platforms: vec![Platform::Android, Platform::Ios],
            reattest_days: 30,
            max_offline_run: 7,
            status_list_max_age_days: 30,
            android: AndroidEvidencePolicy::default(),
            apple: AppleEvidencePolicy::default(),
        }
    }
}

/// Where Android Keystore keeps the key, as a policy minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardwareLevel {
    /// `tee`: the Trusted Execution Environment (or better).
    Tee,
    /// `strongbox`: a separate secure element (StrongBox).
    #[serde(rename = "strongbox")]
    StrongBox,
}

impl HardwareLevel {
    /// The wire name: `tee` or `strongbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            HardwareLevel::Tee => "tee",
            HardwareLevel::StrongBox => "strongbox",
        }
    }
}

/// An app allowed to hold the device key: its package and signing-certificate digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppIdentity {
    /// Android package name (e.g. `gov.gujarat.pramaan`).
    pub package: String,
    /// SHA-256 of its signing certificates, 64 lowercase hex digits each (at least one).
    pub signers: Vec<String>,
}

/// Android Key Attestation requirements (`[evidence.android]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AndroidEvidencePolicy {
    /// verifiedBootState must be `verified` (default true).
    pub verified_boot: bool,
    /// The bootloader must be locked (default true).
    pub bootloader_locked: bool,
    /// Oldest accepted OS security patch, `YYYY-MM`; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_patch_level: Option<String>,
    /// Least accepted key storage: `tee` (default) or `strongbox`.
    pub min_security_level: HardwareLevel,
    /// The Pramaan app's identity: the attestationApplicationId must name one of these
    /// packages signed by one of its signers. Empty: no Android key can prove the app.
    pub apps: Vec<AppIdentity>,
}

impl Default for AndroidEvidencePolicy {
    fn default() -> Self {
        Self {
            verified_boot: true,
            bootloader_locked: true,
            min_patch_level: None,
            min_security_level: HardwareLevel::Tee,
            apps: Vec::new(),
        }
    }
}

/// Apple App Attest requirements (`[evidence.apple]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppleEvidencePolicy {
    /// The Pramaan app's App Attest ids, `TEAMID.bundle.id`. Empty: no iOS key can prove
    /// the app.
    pub app_ids: Vec<String>,
    /// The App Attest environment accepted: `production` (default) or `development`
    /// (builds signed for development, for a department's test phones).
    pub environment: AppAttestEnvironment,
}

/// An App Attest environment (the attestation's aaguid says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppAttestEnvironment {
    /// `production`: App Store and TestFlight builds (aaguid `appattest` + 7 zero bytes).
    #[default]
    Production,
    /// `development`: development-signed builds (aaguid `appattestdevelop`).
    Development,
}

impl AppAttestEnvironment {
    /// The wire name: `production` or `development`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppAttestEnvironment::Production => "production",
            AppAttestEnvironment::Development => "development",
        }
    }

    /// The aaguid App Attest writes into authData for this environment.
    pub fn aaguid(self) -> &'static [u8; 16] {
        match self {
            AppAttestEnvironment::Development => b"appattestdevelop",
            AppAttestEnvironment::Production => b"appattest\0\0\0\0\0\0\0",
        }
    }
}

/// Registry row (CSV: `officer_id,name,designation,department,email,mobile,entitled`
/// `[,gr_reference,phone_model,phone_purchased]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    /// Registry id (e.g. `GAD-001`); attestations name the officer by it.
    pub officer_id: String,
    /// Full name as in the registry.
    pub name: String,
    /// Designation (post) as in the registry; may be empty.
    pub designation: String,
    /// Department code; the policy of this department applies.
    pub department: String,
    /// Official email; R1 requires it among the device's email accounts.
    pub email: String,
    /// Mobile number in E.164 (`+919800000001`); may be empty.
    pub mobile: String,
    /// Entitled to the GR-funded smartphone (rule R2 applies).
    pub entitled: bool,
    /// Government resolution that funded the phone; quoted in R2 failure details.
    #[serde(default)]
    pub gr_reference: Option<String>,
    /// Model of the GR-funded phone; a device of another model is an R2 warning.
    #[serde(default)]
    pub phone_model: Option<String>,
    /// Purchase date of that phone, `YYYY-MM-DD` (the CSV also takes `DD/MM/YYYY`).
    #[serde(default)]
    pub phone_purchased: Option<String>,
    /// When the officer was retired (`pramaan officers retire`), seconds since the Unix
    /// epoch; `None` while serving. Kept by the store, never read from a registry CSV; a
    /// retired officer leaves the compliance report, and importing the id again
    /// reinstates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<u64>,
}

/// An officer's compliance (design section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// `compliant`: a fresh attestation with no failed rule.
    Compliant,
    /// `warning`: fresh with only R2 (phone model) or R5 failures, or delivered offline.
    Warning,
    /// `noncompliant`: a fresh attestation failing R1, R3 or R4.
    Noncompliant,
    /// `stale`: enrolled, but no attestation within `check_in_hours` (or none at all).
    Stale,
    /// `not_enrolled`: entitled to the GR-funded phone, and no device enrolled.
    NotEnrolled,
    /// `revoked`: entitled, and every enrolled device is revoked.
    Revoked,
    /// `not_entitled`: not entitled to the GR-funded phone and no active device: nothing
    /// is expected of the officer (an unentitled officer with an active device is
    /// evaluated like any other, on rules R1, R3, R4 and R5).
    NotEntitled,
}

impl ComplianceStatus {
    /// Every status, in the order reports count them (design section 6).
    pub const ALL: [ComplianceStatus; 7] = [
        ComplianceStatus::Compliant,
        ComplianceStatus::Warning,
        ComplianceStatus::Noncompliant,
        ComplianceStatus::Stale,
        ComplianceStatus::NotEnrolled,
        ComplianceStatus::Revoked,
        ComplianceStatus::NotEntitled,
    ];

    /// The wire name (`not_enrolled` for [`ComplianceStatus::NotEnrolled`]).
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Compliant => "compliant",
            ComplianceStatus::Warning => "warning",
            ComplianceStatus::Noncompliant => "noncompliant",
            ComplianceStatus::Stale => "stale",
            ComplianceStatus::NotEnrolled => "not_enrolled",
            ComplianceStatus::Revoked => "revoked",
            ComplianceStatus::NotEntitled => "not_entitled",
        }
    }
}

/// The one place the protocol's verdict becomes the word IT and the officer use: the
/// agent, `pramaan device`, the phone library and the compliance report all say
/// `compliant`, `warning` or `noncompliant`; `affirming` and `contraindicated` stay on
/// the wire and in the audit log (design section 5).
impl From<Verdict> for ComplianceStatus {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Affirming => ComplianceStatus::Compliant,
            Verdict::Warning => ComplianceStatus::Warning,
            Verdict::Contraindicated => ComplianceStatus::Noncompliant,
        }
    }
}

impl std::fmt::Display for ComplianceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str`, `FromStr` and serde agree on every wire name.
    #[test]
    fn wire_names_round_trip() {
        fn check<T>(all: &[T], as_str: fn(&T) -> &'static str)
        where
            T: std::str::FromStr + Serialize + PartialEq + std::fmt::Debug,
        {
            for v in all {
                let name = as_str(v);
                assert_eq!(name.parse::<T>().ok().as_ref(), Some(v));
                assert_eq!(
                    serde_json::to_string(v).unwrap_or_default(),
                    format!("\"{name}\"")
                );
            }
            assert!("Nonsense".parse::<T>().is_err());
        }
        check(&[Assurance::Hardware, Assurance::Software], |a| a.as_str());
        check(
            &[
                Verdict::Affirming,
                Verdict::Warning,
                Verdict::Contraindicated,
            ],
            |v| v.as_str(),
        );
        check(
            &[Platform::Android, Platform::Ios, Platform::Desktop],
            |p| p.as_str(),
        );
    }

    #[test]
    fn verdicts_become_the_officers_words() {
        let words: Vec<&str> = [
            Verdict::Affirming,
            Verdict::Warning,
            Verdict::Contraindicated,
        ]
        .into_iter()
        .map(|v| ComplianceStatus::from(v).as_str())
        .collect();
        assert_eq!(words, ["compliant", "warning", "noncompliant"]);
    }
}

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
    Android,
    Ios,
    Desktop,
}

impl Platform {
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
    Hardware,
    Software,
}

/// Attestation verdict, named as in the EAR draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Affirming,
    Warning,
    Contraindicated,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Affirming => "affirming",
            Verdict::Warning => "warning",
            Verdict::Contraindicated => "contraindicated",
        }
    }
}

/// One failed rule with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub rule: Rule,
    pub detail: String,
}

/// One sanctioned messaging platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android_package: Option<String>,
    /// SHA-256 of accepted signing certificates, lowercase hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub android_signers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ios_url_scheme: Option<String>,
}

/// One communication group every officer of the department must be in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub platform: String,
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A department's policy (TOML or JSON, design section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub department: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_check_in_hours")]
    pub check_in_hours: u32,
    pub email_domains: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<PlatformSpec>,
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

fn default_check_in_hours() -> u32 {
    24
}

/// Registry row (CSV: `officer_id,name,designation,department,email,mobile,entitled`
/// `[,gr_reference,phone_model,phone_purchased]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    pub officer_id: String,
    pub name: String,
    pub designation: String,
    pub department: String,
    pub email: String,
    pub mobile: String,
    /// Entitled to the GR-funded smartphone (rule R2 applies).
    pub entitled: bool,
    #[serde(default)]
    pub gr_reference: Option<String>,
    #[serde(default)]
    pub phone_model: Option<String>,
    #[serde(default)]
    pub phone_purchased: Option<String>,
}

/// An officer's compliance (design section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    Compliant,
    Warning,
    Noncompliant,
    Stale,
    NotEnrolled,
    Revoked,
}

impl ComplianceStatus {
    /// Every status, in the order reports count them (design section 6).
    pub const ALL: [ComplianceStatus; 6] = [
        ComplianceStatus::Compliant,
        ComplianceStatus::Warning,
        ComplianceStatus::Noncompliant,
        ComplianceStatus::Stale,
        ComplianceStatus::NotEnrolled,
        ComplianceStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Compliant => "compliant",
            ComplianceStatus::Warning => "warning",
            ComplianceStatus::Noncompliant => "noncompliant",
            ComplianceStatus::Stale => "stale",
            ComplianceStatus::NotEnrolled => "not_enrolled",
            ComplianceStatus::Revoked => "revoked",
        }
    }
}

impl std::fmt::Display for ComplianceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

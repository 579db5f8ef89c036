//! Department policy and the compliance rules R1..R5 (design sections 1 and 6).
//!
//! The evaluation is a pure function of (policy, registry row, latest accepted attestation,
//! rosters, now), so the phone can show the officer exactly what is missing and the server
//! reaches the same verdict from the same inputs; nothing else decides compliance.

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

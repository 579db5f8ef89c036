//! Department policy and the compliance rules R1..R5 (design sections 1 and 6).
//!
//! The evaluation is a pure function of (policy, registry row, latest accepted attestation,
//! rosters, now), so the phone can show the officer exactly what is missing and the server
//! reaches the same verdict from the same inputs; nothing else decides compliance.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::{Catalog, is_sha256_hex};
use crate::claims::{Assurance, Attestation, Failure, Platform, Verdict};

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

/// Why a policy or a CSV upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy is not valid TOML: {0}")]
    Toml(String),
    #[error("policy is not valid JSON: {0}")]
    Json(String),
    #[error("platform {0:?} gives only a name and is not in the platform catalog")]
    UnknownPlatform(String),
    #[error("invalid policy: {0}")]
    Invalid(String),
}

impl Policy {
    /// Parses a TOML policy (design section 6). Syntax only: call [`Policy::resolve`] and
    /// [`Policy::validate`] before using it.
    ///
    /// Unknown keys are refused (a misspelt `check_in_hour` would otherwise silently
    /// become the default); the policy inside a receipt is decoded leniently elsewhere.
    pub fn from_toml(s: &str) -> Result<Self, PolicyError> {
        let table: toml::Table = toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let json = serde_json::to_value(&table).map_err(|e| PolicyError::Toml(e.to_string()))?;
        check_known_keys(&json)?;
        toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Parses a JSON policy with the same fields as the TOML form (unknown keys refused).
    pub fn from_json(s: &str) -> Result<Self, PolicyError> {
        let json: serde_json::Value =
            serde_json::from_str(s).map_err(|e| PolicyError::Json(e.to_string()))?;
        check_known_keys(&json)?;
        serde_json::from_value(json).map_err(|e| PolicyError::Json(e.to_string()))
    }

    /// Parses JSON if the first non-space character is `{`, TOML otherwise.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let s = s.strip_prefix('\u{feff}').unwrap_or(s);
        if s.trim_start().starts_with('{') {
            Self::from_json(s)
        } else {
            Self::from_toml(s)
        }
    }

    /// Parses, resolves against `catalog` and validates: the one call an importer needs.
    pub fn load(s: &str, catalog: &Catalog) -> Result<Self, PolicyError> {
        let policy = Self::parse(s)?.resolve(catalog)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Fills every platform that gives only its `name` from the catalog (so nobody types
    /// a signing digest by hand). A platform with any detail of its own is kept as given.
    pub fn resolve(mut self, catalog: &Catalog) -> Result<Self, PolicyError> {
        for spec in &mut self.platforms {
            let name_only = spec.android_package.is_none()
                && spec.android_signers.is_empty()
                && spec.ios_bundle.is_none()
                && spec.ios_url_scheme.is_none();
            if !name_only {
                continue;
            }
            let found = catalog
                .find(&spec.name)
                .ok_or_else(|| PolicyError::UnknownPlatform(spec.name.clone()))?;
            // Keep the policy's spelling of the name: its groups refer to it.
            let name = std::mem::take(&mut spec.name);
            *spec = PlatformSpec {
                name,
                ..found.clone()
            };
        }
        Ok(self)
    }

    /// Checks what evaluation relies on; the message names the first problem found.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |m: String| Err(PolicyError::Invalid(m));
        if self.department.trim().is_empty() {
            return bad("department is empty".into());
        }
        if self.check_in_hours == 0 {
            return bad("check_in_hours must be greater than 0".into());
        }
        if self.email_domains.is_empty() {
            return bad("email_domains is empty: no email could ever pass rule R1".into());
        }
        for d in &self.email_domains {
            let ok = !d.is_empty()
                && !d.starts_with('.')
                && !d.ends_with('.')
                && d.contains('.')
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return bad(format!(
                    "email domain {d:?} is not a domain name like \"gujarat.gov.in\""
                ));
            }
        }
        if self.platforms.is_empty() {
            return bad("no platforms: no device could ever pass rule R3".into());
        }
        let mut names = BTreeSet::new();
        for p in &self.platforms {
            if p.name.trim().is_empty() {
                return bad("a platform has an empty name".into());
            }
            if !names.insert(p.name.as_str()) {
                return bad(format!("platform {:?} appears twice", p.name));
            }
            if p.android_package.is_none() && p.ios_bundle.is_none() {
                return bad(format!(
                    "platform {:?} has neither android_package nor ios_bundle (name a catalog platform or give them)",
                    p.name
                ));
            }
            if p.android_package.is_some() && p.android_signers.is_empty() {
                return bad(format!(
                    "platform {:?} has android_package but no android_signers: every install would look repackaged",
                    p.name
                ));
            }
            if p.android_package.is_none() && !p.android_signers.is_empty() {
                return bad(format!(
                    "platform {:?} has android_signers but no android_package",
                    p.name
                ));
            }
            if let Some(d) = p.android_signers.iter().find(|d| !is_sha256_hex(d)) {
                return bad(format!(
                    "platform {:?}: signer {d:?} is not a SHA-256 digest in 64 lowercase hex digits",
                    p.name
                ));
            }
        }
        let mut groups = BTreeSet::new();
        for g in &self.groups {
            if g.id.trim().is_empty() {
                return bad(format!(
                    "a group of platform {:?} has an empty id",
                    g.platform
                ));
            }
            if !names.contains(g.platform.as_str()) {
                return bad(format!(
                    "group {:?} names platform {:?}, which is not among the policy's platforms",
                    g.id, g.platform
                ));
            }
            if !groups.insert((g.platform.as_str(), g.id.as_str())) {
                return bad(format!(
                    "group {:?} of {:?} appears twice",
                    g.id, g.platform
                ));
            }
        }
        Ok(())
    }
}

const POLICY_KEYS: [&str; 6] = [
    "department",
    "name",
    "check_in_hours",
    "email_domains",
    "platforms",
    "groups",
];
/// `confidence` and `sources` are the catalog's notes: accepted so an entry can be pasted.
const PLATFORM_KEYS: [&str; 7] = [
    "name",
    "android_package",
    "android_signers",
    "ios_bundle",
    "ios_url_scheme",
    "confidence",
    "sources",
];
const GROUP_KEYS: [&str; 3] = ["platform", "id", "name"];

/// Refuses keys a policy does not have, naming where they are.
fn check_known_keys(v: &serde_json::Value) -> Result<(), PolicyError> {
    fn check(
        obj: &serde_json::Map<String, serde_json::Value>,
        known: &[&str],
        at: &str,
    ) -> Result<(), PolicyError> {
        match obj.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(PolicyError::Invalid(format!(
                "unknown key {k:?} in {at} (known: {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }
    let Some(top) = v.as_object() else {
        return Ok(()); // the typed parse reports the shape error
    };
    check(top, &POLICY_KEYS, "the policy")?;
    for (list, known) in [
        ("platforms", &PLATFORM_KEYS[..]),
        ("groups", &GROUP_KEYS[..]),
    ] {
        if let Some(items) = top.get(list).and_then(|l| l.as_array()) {
            for (i, item) in items.iter().enumerate() {
                if let Some(obj) = item.as_object() {
                    check(obj, known, &format!("{list}[{i}]"))?;
                }
            }
        }
    }
    Ok(())
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

/// How strongly a group membership is established (rule R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceLevel {
    /// Only the device says so (no roster uploaded for the group).
    SelfDeclared,
    /// The device says so and IT's roster lists the officer's handle.
    RosterConfirmed,
}

/// IT's roster of one group: the handles of its members.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roster {
    pub platform: String,
    pub group: String,
    pub handles: BTreeSet<String>,
}

impl Roster {
    /// Groups `(platform, group, handle)` rows (from [`roster_from_csv`]) by group.
    pub fn from_rows(rows: Vec<(String, String, String)>) -> Vec<Roster> {
        let mut by_group: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (platform, group, handle) in rows {
            by_group
                .entry((platform, group))
                .or_default()
                .insert(handle);
        }
        by_group
            .into_iter()
            .map(|((platform, group), handles)| Roster {
                platform,
                group,
                handles,
            })
            .collect()
    }
}

/// What the verifier knows of one device of the officer.
#[derive(Debug, Clone)]
pub struct DeviceState<'a> {
    pub device_id: Uuid,
    pub platform: Platform,
    /// Model reported at enrollment.
    pub model: String,
    /// Model from hardware evidence (Key Attestation / App Attest), when there was some.
    pub attested_model: Option<String>,
    pub assurance: Assurance,
    pub revoked: bool,
    pub latest: Option<Accepted<'a>>,
}

/// The latest accepted attestation of a device.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    pub claims: &'a Attestation,
    /// When the server accepted it, seconds since the Unix epoch.
    pub received_at: u64,
    /// False for offline outbox deliveries (no server nonce).
    pub fresh_nonce: bool,
}

/// Evidence recorded for one group the officer is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEvidence {
    pub platform: String,
    pub group: String,
    pub level: EvidenceLevel,
}

/// An officer's compliance with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub status: ComplianceStatus,
    pub failures: Vec<Failure>,
    pub evidence: Vec<GroupEvidence>,
    /// The device the verdict is based on.
    pub device_id: Option<Uuid>,
}

/// R2 (phone model) and R5 failures are warnings; R1, R3 and R4 make a device
/// noncompliant. R2's other outcomes (not enrolled, stale) are officer statuses.
fn is_warning(rule: Rule) -> bool {
    matches!(rule, Rule::R2 | Rule::R5)
}

/// Rules R1..R5 on one attestation (what the server answers to `POST /v1/attest` and what
/// the phone shows its officer). Pure.
///
/// `fresh_nonce` is false for offline deliveries: they can at best be `warning` (the
/// verdict is capped, no failure is added). A revoked device is the caller's to reject
/// before this (403); it is not a rule outcome.
pub fn evaluate_attestation(
    policy: &Policy,
    officer: &Officer,
    device: &DeviceState<'_>,
    claims: &Attestation,
    rosters: &[Roster],
    fresh_nonce: bool,
) -> (Verdict, Vec<Failure>, Vec<GroupEvidence>) {
    let mut failures = Vec::new();
    check_r1(policy, officer, claims, &mut failures);
    check_r2_model(officer, device, &mut failures);
    check_r3(policy, device.platform, claims, &mut failures);
    let evidence = check_r4(policy, claims, rosters, &mut failures);
    check_r5(device, claims, &mut failures);
    let verdict = if failures.iter().any(|f| !is_warning(f.rule)) {
        Verdict::Contraindicated
    } else if !failures.is_empty() || !fresh_nonce {
        Verdict::Warning
    } else {
        Verdict::Affirming
    };
    log::debug!(
        "officer {} device {}: {} with {} failure(s)",
        officer.officer_id,
        device.device_id,
        verdict.as_str(),
        failures.len()
    );
    (verdict, failures, evidence)
}

fn fail(failures: &mut Vec<Failure>, rule: Rule, detail: String) {
    failures.push(Failure { rule, detail });
}

/// Whether `domain` is `allowed` or a subdomain of it (ASCII case-insensitive).
fn domain_allowed(domain: &str, allowed: &str) -> bool {
    let domain = domain.trim().to_ascii_lowercase();
    let allowed = allowed.trim().trim_start_matches('.').to_ascii_lowercase();
    if allowed.is_empty() {
        return false;
    }
    domain == allowed
        || (domain.len() > allowed.len()
            && domain.ends_with(&allowed)
            && domain.as_bytes()[domain.len() - allowed.len() - 1] == b'.')
}

fn check_r1(policy: &Policy, officer: &Officer, claims: &Attestation, failures: &mut Vec<Failure>) {
    let domains = policy.email_domains.join(", ");
    for email in &claims.email {
        let domain = match email.trim().rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => domain,
            _ => {
                fail(
                    failures,
                    Rule::R1,
                    format!("reported account {email:?} is not an email address"),
                );
                continue;
            }
        };
        if !policy
            .email_domains
            .iter()
            .any(|d| domain_allowed(domain, d))
        {
            fail(
                failures,
                Rule::R1,
                format!(
                    "email {} is not on a government domain ({domains})",
                    email.trim()
                ),
            );
        }
    }
    let registry = officer.email.trim();
    if !claims
        .email
        .iter()
        .any(|e| e.trim().eq_ignore_ascii_case(registry))
    {
        fail(
            failures,
            Rule::R1,
            format!("the registry email {registry} is not among the device's email accounts"),
        );
    }
}

/// Trimmed, lowercase, inner whitespace collapsed: "Pixel  8 " equals "pixel 8".
fn normalize_model(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn check_r2_model(officer: &Officer, device: &DeviceState<'_>, failures: &mut Vec<Failure>) {
    let Some(expected) = officer
        .phone_model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    else {
        return;
    };
    let (actual, source) = match device
        .attested_model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(m) => (m, "hardware-attested"),
        None => (device.model.trim(), "reported"),
    };
    if normalize_model(expected) != normalize_model(actual) {
        let gr = officer
            .gr_reference
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .map(|g| format!(" under {}", g.trim()))
            .unwrap_or_default();
        fail(
            failures,
            Rule::R2,
            format!(
                "the registry records the government-funded phone{gr} as {expected:?}, but this device is {actual:?} ({source})"
            ),
        );
    }
}

fn check_r3(
    policy: &Policy,
    platform: Platform,
    claims: &Attestation,
    failures: &mut Vec<Failure>,
) {
    let present = || claims.apps.iter().filter(|a| a.present);
    let mut repackaged = Vec::new();
    for spec in &policy.platforms {
        // The desktop agent reports facts from a file naming either kind of app.
        let android = matches!(platform, Platform::Android | Platform::Desktop);
        let ios = matches!(platform, Platform::Ios | Platform::Desktop);
        if android && let Some(pkg) = &spec.android_package {
            for app in present().filter(|a| a.id == *pkg) {
                match &app.signer {
                    Some(s)
                        if spec
                            .android_signers
                            .iter()
                            .any(|k| k.eq_ignore_ascii_case(s.trim())) =>
                    {
                        return;
                    }
                    Some(s) => repackaged.push(format!(
                        "{pkg} is installed but signed by {} which is not a known {} signer: a repackaged app",
                        s.trim(),
                        spec.name
                    )),
                    None => repackaged.push(format!(
                        "{pkg} is installed but its signing certificate was not reported: treated as a repackaged {} app",
                        spec.name
                    )),
                }
            }
        }
        if ios
            && let Some(bundle) = &spec.ios_bundle
            && present().any(|a| a.id == *bundle)
        {
            return;
        }
    }
    if repackaged.is_empty() {
        let wanted: Vec<String> = policy
            .platforms
            .iter()
            .map(|p| {
                let id = match platform {
                    Platform::Ios => p.ios_bundle.as_deref(),
                    _ => p.android_package.as_deref(),
                }
                .or(p.ios_bundle.as_deref())
                .unwrap_or("-");
                format!("{} ({id})", p.name)
            })
            .collect();
        fail(
            failures,
            Rule::R3,
            format!(
                "no sanctioned messaging app is installed; the department uses {}",
                wanted.join(", ")
            ),
        );
    } else {
        for detail in repackaged {
            fail(failures, Rule::R3, detail);
        }
    }
}

/// Handles compare trimmed and case-insensitively, ignoring the spaces, dashes and
/// parentheses people put in phone numbers ("+91 98000-00001" is "+919800000001").
fn normalize_handle(h: &str) -> String {
    h.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')'))
        .collect::<String>()
        .to_lowercase()
}

fn check_r4(
    policy: &Policy,
    claims: &Attestation,
    rosters: &[Roster],
    failures: &mut Vec<Failure>,
) -> Vec<GroupEvidence> {
    let mut evidence = Vec::new();
    for group in &policy.groups {
        let label = if group.name.trim().is_empty() {
            format!("{} group {}", group.platform, group.id)
        } else {
            format!(
                "{} group {} ({})",
                group.platform,
                group.id,
                group.name.trim()
            )
        };
        let same_platform = |p: &str| p.trim().eq_ignore_ascii_case(group.platform.trim());
        // A device may report the group more than once (two accounts): any membership
        // counts, and against a roster any of the reported handles may be the listed one.
        let memberships: Vec<&crate::claims::GroupFact> = claims
            .groups
            .iter()
            .filter(|g| g.member && same_platform(&g.platform) && g.group.trim() == group.id.trim())
            .collect();
        if memberships.is_empty() {
            fail(failures, Rule::R4, format!("not a member of the {label}"));
            continue;
        }
        let matching: Vec<&Roster> = rosters
            .iter()
            .filter(|r| same_platform(&r.platform) && r.group.trim() == group.id.trim())
            .collect();
        if matching.is_empty() {
            evidence.push(GroupEvidence {
                platform: group.platform.clone(),
                group: group.id.clone(),
                level: EvidenceLevel::SelfDeclared,
            });
            continue;
        }
        let handles: Vec<(String, &str)> = memberships
            .iter()
            .map(|m| (normalize_handle(&m.handle), m.handle.trim()))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        if handles.is_empty() {
            fail(
                failures,
                Rule::R4,
                format!(
                    "the device reports membership of the {label} but no handle to check against IT's roster"
                ),
            );
            continue;
        }
        let listed = handles.iter().any(|(h, _)| {
            matching
                .iter()
                .any(|r| r.handles.iter().any(|l| normalize_handle(l) == *h))
        });
        if listed {
            evidence.push(GroupEvidence {
                platform: group.platform.clone(),
                group: group.id.clone(),
                level: EvidenceLevel::RosterConfirmed,
            });
        } else {
            let shown: Vec<&str> = handles.iter().map(|(_, h)| *h).collect();
            fail(
                failures,
                Rule::R4,
                format!(
                    "handle {} is not on IT's roster of the {label}",
                    shown.join(", ")
                ),
            );
        }
    }
    evidence
}

fn check_r5(device: &DeviceState<'_>, claims: &Attestation, failures: &mut Vec<Failure>) {
    if !claims.lock {
        fail(failures, Rule::R5, "no screen lock is set".into());
    }
    if device.assurance == Assurance::Software
        && matches!(device.platform, Platform::Android | Platform::Ios)
    {
        fail(
            failures,
            Rule::R5,
            format!(
                "the device key is not shown to be hardware-backed (no verified {} at enrollment)",
                match device.platform {
                    Platform::Ios => "App Attest",
                    _ => "Key Attestation",
                }
            ),
        );
    }
}

/// One candidate device for the officer's status.
struct Candidate {
    device_id: Uuid,
    stale: bool,
    /// When the facts were observed: the earlier of the device's `iat` and the server's
    /// receipt (an offline delivery reports facts as old as its `iat`; a device clock
    /// running ahead cannot make evidence look newer than its arrival).
    observed_at: u64,
    verdict: Verdict,
    failures: Vec<Failure>,
    evidence: Vec<GroupEvidence>,
}

fn verdict_rank(v: Verdict) -> u8 {
    match v {
        Verdict::Affirming => 2,
        Verdict::Warning => 1,
        Verdict::Contraindicated => 0,
    }
}

fn describe_age(secs: u64) -> String {
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else {
        format!("{} h", secs / 3600)
    }
}

/// Officer-level compliance (design section 6) over all their devices at `now` (Unix
/// seconds). Pure.
///
/// The verdict is based on the best unrevoked device with an accepted attestation: fresh
/// evidence ranks above stale evidence, then affirming > warning > contraindicated, then the
/// most recent. Without such a device the officer is `revoked` (every device revoked),
/// `stale` (enrolled, never checked in) or `not_enrolled`; R2 failures are reported only
/// for entitled officers, except staleness, which is always explained.
pub fn evaluate_officer(
    policy: &Policy,
    officer: &Officer,
    devices: &[DeviceState<'_>],
    rosters: &[Roster],
    now: u64,
) -> Evaluation {
    let window = u64::from(policy.check_in_hours).saturating_mul(3600);
    let active: Vec<&DeviceState<'_>> = devices.iter().filter(|d| !d.revoked).collect();
    if active.is_empty() {
        if devices.is_empty() {
            let failures = if officer.entitled {
                vec![Failure {
                    rule: Rule::R2,
                    detail: "entitled to the government-funded phone but no device is enrolled"
                        .into(),
                }]
            } else {
                Vec::new()
            };
            return Evaluation {
                status: ComplianceStatus::NotEnrolled,
                failures,
                evidence: Vec::new(),
                device_id: None,
            };
        }
        let last = devices
            .iter()
            .max_by_key(|d| d.latest.map(|a| a.received_at).unwrap_or(0));
        let failures = if officer.entitled {
            vec![Failure {
                rule: Rule::R2,
                detail: format!(
                    "every enrolled device ({}) is revoked; the official phone must be enrolled again",
                    devices.len()
                ),
            }]
        } else {
            Vec::new()
        };
        return Evaluation {
            status: ComplianceStatus::Revoked,
            failures,
            evidence: Vec::new(),
            device_id: last.map(|d| d.device_id),
        };
    }

    let mut candidates: Vec<Candidate> = active
        .iter()
        .filter_map(|d| {
            let acc = d.latest?;
            let (verdict, failures, evidence) =
                evaluate_attestation(policy, officer, d, acc.claims, rosters, acc.fresh_nonce);
            let observed_at = acc.received_at.min(acc.claims.iat);
            Some(Candidate {
                device_id: d.device_id,
                stale: now.saturating_sub(observed_at) > window,
                observed_at,
                verdict,
                failures,
                evidence,
            })
        })
        .collect();
    candidates.sort_by_key(|c| {
        (
            std::cmp::Reverse(!c.stale),
            std::cmp::Reverse(verdict_rank(c.verdict)),
            std::cmp::Reverse(c.observed_at),
        )
    });
    let Some(best) = candidates.into_iter().next() else {
        // Enrolled but no attestation was ever accepted.
        return Evaluation {
            status: ComplianceStatus::Stale,
            failures: vec![Failure {
                rule: Rule::R2,
                detail: "a device is enrolled but has not checked in yet".into(),
            }],
            evidence: Vec::new(),
            device_id: active.first().map(|d| d.device_id),
        };
    };
    if best.stale {
        let mut failures = vec![Failure {
            rule: Rule::R2,
            detail: format!(
                "last check-in {} ago, over the {} h limit",
                describe_age(now.saturating_sub(best.observed_at)),
                policy.check_in_hours
            ),
        }];
        failures.extend(best.failures);
        return Evaluation {
            status: ComplianceStatus::Stale,
            failures,
            evidence: best.evidence,
            device_id: Some(best.device_id),
        };
    }
    let status = match best.verdict {
        Verdict::Affirming => ComplianceStatus::Compliant,
        Verdict::Warning => ComplianceStatus::Warning,
        Verdict::Contraindicated => ComplianceStatus::Noncompliant,
    };
    Evaluation {
        status,
        failures: best.failures,
        evidence: best.evidence,
        device_id: Some(best.device_id),
    }
}

/// A rejected CSV row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

const OFFICER_REQUIRED: [&str; 7] = [
    "officer_id",
    "name",
    "designation",
    "department",
    "email",
    "mobile",
    "entitled",
];
const OFFICER_OPTIONAL: [&str; 3] = ["gr_reference", "phone_model", "phone_purchased"];

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// The 1-based line a record starts on. Computed from its byte offset rather than taken
/// from `csv::Position::line`, which points at the blank lines the reader skipped before
/// the record, so an error after a blank line would name the wrong line.
fn line_at(text: &str, pos: Option<&csv::Position>) -> usize {
    let Some(byte) = pos.and_then(|p| usize::try_from(p.byte()).ok()) else {
        return 0;
    };
    let bytes = text.as_bytes();
    let byte = byte.min(bytes.len());
    let skipped = bytes[byte..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    line_breaks(&bytes[..byte + skipped]) + 1
}

/// Line breaks as the CSV reader sees them: `\r\n`, `\n` or a lone `\r` each end a line.
fn line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// Maps header names to column indexes; every `required` column must be present and no
/// column may be unknown or repeated.
fn header_map(
    reader: &mut csv::Reader<&[u8]>,
    required: &[&str],
    optional: &[&str],
) -> Result<BTreeMap<String, usize>, RowError> {
    let headers = reader.headers().map_err(|e| RowError {
        line: 1,
        reason: format!("cannot read the header row: {e}"),
    })?;
    let mut map = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            return Err(RowError {
                line: 1,
                reason: format!(
                    "unknown column {h:?} in the header (expected {})",
                    required.join(",")
                ),
            });
        }
        if map.insert(h.clone(), i).is_some() {
            return Err(RowError {
                line: 1,
                reason: format!("column {h:?} appears twice in the header"),
            });
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !map.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        return Err(RowError {
            line: 1,
            reason: format!(
                "header row lacks column(s) {} (expected {})",
                missing.join(", "),
                required.join(",")
            ),
        });
    }
    Ok(map)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// One data row of a CSV, read by column name ("" for an absent column).
struct CsvRow<'a> {
    cols: &'a BTreeMap<String, usize>,
    rec: &'a csv::StringRecord,
}

impl<'a> CsvRow<'a> {
    fn get(&self, column: &str) -> &'a str {
        self.cols
            .get(column)
            .and_then(|&i| self.rec.get(i))
            .unwrap_or("")
    }
}

/// Reads the data rows of a CSV with a required header: each non-blank row goes to `row`;
/// errors come back with their 1-based line. The one loop behind the registry and roster
/// imports.
fn csv_rows<T>(
    text: &str,
    required: &[&'static str],
    optional: &[&'static str],
    mut row: impl FnMut(&CsvRow<'_>) -> Result<T, String>,
) -> (Vec<(usize, T)>, Vec<RowError>) {
    let text = strip_bom(text);
    let mut reader = csv_reader(text);
    let cols = match header_map(&mut reader, required, optional) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let width = cols.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: line_at(text, e.position()),
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = line_at(text, rec.position());
        if rec.iter().all(str::is_empty) {
            continue; // blank line
        }
        if rec.len() != width {
            errors.push(RowError {
                line,
                reason: format!("{} fields where the header has {width}", rec.len()),
            });
            continue;
        }
        match row(&CsvRow {
            cols: &cols,
            rec: &rec,
        }) {
            Ok(t) => rows.push((line, t)),
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    (rows, errors)
}

/// Parses the registry CSV. The header row is required (columns by name, any order); rows
/// that fail are reported with their line and reason, the good rows are returned.
pub fn officers_from_csv(text: &str) -> (Vec<Officer>, Vec<RowError>) {
    let (rows, errors) = officer_rows_from_csv(text);
    (rows.into_iter().map(|(_, o)| o).collect(), errors)
}

/// [`officers_from_csv`] with each good row's 1-based line, for callers that refuse rows
/// later (the server's department scope) and must still name the line.
pub fn officer_rows_from_csv(text: &str) -> (Vec<(usize, Officer)>, Vec<RowError>) {
    let (rows, mut errors) = csv_rows(text, &OFFICER_REQUIRED, &OFFICER_OPTIONAL, |r| {
        let get = |c: &str| r.get(c);
        let required = |c: &'static str| -> Result<String, String> {
            let v = get(c);
            if v.is_empty() {
                Err(format!("{c} is empty"))
            } else {
                Ok(v.to_string())
            }
        };
        let optional = |c: &str| Some(get(c).to_string()).filter(|v| !v.is_empty());
        let email = required("email")?;
        if !looks_like_email(&email) {
            return Err(format!("email {email:?} is not an email address"));
        }
        let entitled_text = get("entitled");
        let entitled = parse_bool(entitled_text).ok_or_else(|| {
            format!("entitled is {entitled_text:?}; expected true/false, yes/no or 1/0")
        })?;
        Ok(Officer {
            officer_id: required("officer_id")?,
            name: required("name")?,
            designation: get("designation").to_string(),
            department: required("department")?,
            email,
            mobile: get("mobile").to_string(),
            entitled,
            gr_reference: optional("gr_reference"),
            phone_model: optional("phone_model"),
            phone_purchased: optional("phone_purchased"),
        })
    });
    let mut officers: Vec<(usize, Officer)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (line, o) in rows {
        if let Some(first) = seen.get(&o.officer_id) {
            errors.push(RowError {
                line,
                reason: format!(
                    "officer_id {} already appears on line {first}",
                    o.officer_id
                ),
            });
        } else {
            seen.insert(o.officer_id.clone(), line);
            officers.push((line, o));
        }
    }
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() {
        log::info!(
            "registry CSV: {} row(s) accepted, {} rejected",
            officers.len(),
            errors.len()
        );
    }
    (officers, errors)
}

/// Parses a roster CSV (`platform,group,handle`, header required). All or nothing: a
/// roster with a bad row is refused as a whole, so a group is never checked against half
/// a list.
pub fn roster_from_csv(text: &str) -> Result<Vec<(String, String, String)>, Vec<RowError>> {
    const REQUIRED: [&str; 3] = ["platform", "group", "handle"];
    let (rows, errors) = csv_rows(text, &REQUIRED, &[], |r| {
        let get = |c: &str| r.get(c);
        match REQUIRED.iter().find(|c| get(c).is_empty()) {
            Some(c) => Err(format!("{c} is empty")),
            None => Ok((
                get("platform").to_string(),
                get("group").to_string(),
                get("handle").to_string(),
            )),
        }
    });
    if errors.is_empty() {
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{AppFact, GroupFact, OsInfo};

    const WA_SIGNER: &str = "3987d043d10aefaf5a8710b3671418fe57e0e19b653c9df82558feb5ffce5d44";
    const TG_SIGNER: &str = "49c1522548ebacd46ce322b6fd47f6092bb745d0f88082145caf35e14dcc38e1";
    const NOW: u64 = 1_790_000_000;

    /// The example of design section 6, with a real signer in place of the placeholder.
    fn design_toml() -> String {
        format!(
            r#"department = "GAD"
name = "General Administration Department"
check_in_hours = 24
email_domains = ["gujarat.gov.in", "nic.in"]
[[platforms]]
name = "WhatsApp"
android_package = "com.whatsapp"
android_signers = ["{WA_SIGNER}"]
ios_bundle = "net.whatsapp.WhatsApp"
ios_url_scheme = "whatsapp"
[[groups]]
platform = "WhatsApp"
id = "gad-officers"
name = "GAD officers coordination"
"#
        )
    }

    fn policy() -> Policy {
        let p = Policy::from_toml(&design_toml()).expect("design example parses");
        p.validate().expect("valid");
        p
    }

    fn officer() -> Officer {
        Officer {
            officer_id: "GAD-001".into(),
            name: "A. Shah".into(),
            designation: "Deputy Secretary".into(),
            department: "GAD".into(),
            email: "a.shah@gujarat.gov.in".into(),
            mobile: "+919800000001".into(),
            entitled: true,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
        }
    }

    fn claims() -> Attestation {
        Attestation {
            device_id: Uuid::from_u128(1),
            nonce: Some(vec![7; 32]),
            iat: NOW - 60,
            seq: 1,
            officer: "GAD-001".into(),
            apps: vec![AppFact {
                id: "com.whatsapp".into(),
                signer: Some(WA_SIGNER.into()),
                version: "2.26.1".into(),
                present: true,
            }],
            groups: vec![GroupFact {
                platform: "WhatsApp".into(),
                group: "gad-officers".into(),
                member: true,
                handle: "+919800000001".into(),
            }],
            email: vec!["a.shah@gujarat.gov.in".into()],
            os: OsInfo {
                name: "android".into(),
                version: "15".into(),
                patch: "2026-10-05".into(),
            },
            lock: true,
        }
    }

    fn device(latest: Option<Accepted<'_>>) -> DeviceState<'_> {
        DeviceState {
            device_id: Uuid::from_u128(1),
            platform: Platform::Android,
            model: "Pixel 8".into(),
            attested_model: None,
            assurance: Assurance::Hardware,
            revoked: false,
            latest,
        }
    }

    fn eval(
        p: &Policy,
        o: &Officer,
        d: &DeviceState<'_>,
        c: &Attestation,
        rosters: &[Roster],
    ) -> (Verdict, Vec<Failure>, Vec<GroupEvidence>) {
        evaluate_attestation(p, o, d, c, rosters, true)
    }

    fn rules(f: &[Failure]) -> Vec<Rule> {
        f.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn all_rules_pass_affirming() {
        let c = claims();
        let (v, f, e) = eval(&policy(), &officer(), &device(None), &c, &[]);
        assert_eq!((v, f), (Verdict::Affirming, vec![]));
        assert_eq!(
            e,
            vec![GroupEvidence {
                platform: "WhatsApp".into(),
                group: "gad-officers".into(),
                level: EvidenceLevel::SelfDeclared
            }]
        );
    }

    /// One row per rule outcome: (case, mutate claims, mutate device, mutate officer,
    /// expected verdict, expected rules, a phrase the detail must contain).
    type Mut<T> = fn(&mut T);
    /// (case, mutate claims, mutate device, mutate officer, verdict, rules, detail phrase)
    type Case = (
        &'static str,
        Mut<Attestation>,
        Mut<DeviceState<'static>>,
        Mut<Officer>,
        Verdict,
        Vec<Rule>,
        &'static str,
    );

    #[test]
    fn rule_table() {
        let none_c: Mut<Attestation> = |_| {};
        let none_d: Mut<DeviceState<'static>> = |_| {};
        let none_o: Mut<Officer> = |_| {};
        let cases: Vec<Case> = vec![
            (
                "R1 subdomain and NIC domain pass, any case",
                |c| {
                    c.email = vec![
                        "A.Shah@Gujarat.gov.in".into(),
                        "a.shah@gad.gujarat.gov.in".into(),
                        "x@NIC.IN".into(),
                    ]
                },
                none_d,
                none_o,
                Verdict::Affirming,
                vec![],
                "",
            ),
            (
                "R1 gmail fails",
                |c| c.email.push("x@gmail.com".into()),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R1],
                "email x@gmail.com is not on a government domain (gujarat.gov.in, nic.in)",
            ),
            (
                "R1 look-alike domain fails",
                |c| c.email.push("x@evilgujarat.gov.in".into()),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R1],
                "x@evilgujarat.gov.in",
            ),
            (
                "R1 registry email missing",
                |c| c.email = vec!["other@gujarat.gov.in".into()],
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R1],
                "registry email a.shah@gujarat.gov.in is not among",
            ),
            (
                "R1 not an email",
                |c| c.email.push("not-an-email".into()),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R1],
                "not an email address",
            ),
            (
                "R2 model matches, case and spaces ignored",
                none_c,
                none_d,
                |o| o.phone_model = Some(" pixel  8".into()),
                Verdict::Affirming,
                vec![],
                "",
            ),
            (
                "R2 reported model differs: warning",
                none_c,
                none_d,
                |o| {
                    o.phone_model = Some("Galaxy S23".into());
                    o.gr_reference = Some("GR-2024-17".into());
                },
                Verdict::Warning,
                vec![Rule::R2],
                "\"Galaxy S23\", but this device is \"Pixel 8\" (reported)",
            ),
            (
                "R2 attested model wins over reported",
                none_c,
                |d| d.attested_model = Some("Galaxy S23".into()),
                |o| o.phone_model = Some("Pixel 8".into()),
                Verdict::Warning,
                vec![Rule::R2],
                "(hardware-attested)",
            ),
            (
                "R3 repackaged app (right package, wrong signer)",
                |c| c.apps[0].signer = Some("00".repeat(32)),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R3],
                "repackaged",
            ),
            (
                "R3 signer missing is repackaged",
                |c| c.apps[0].signer = None,
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R3],
                "repackaged",
            ),
            (
                "R3 signer compares case-insensitively",
                |c| c.apps[0].signer = Some(WA_SIGNER.to_uppercase()),
                none_d,
                none_o,
                Verdict::Affirming,
                vec![],
                "",
            ),
            (
                "R3 app absent",
                |c| c.apps[0].present = false,
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R3],
                "no sanctioned messaging app is installed; the department uses WhatsApp (com.whatsapp)",
            ),
            (
                "R3 iOS bundle present",
                |c| {
                    c.apps = vec![AppFact {
                        id: "net.whatsapp.WhatsApp".into(),
                        signer: None,
                        version: "26.1".into(),
                        present: true,
                    }]
                },
                |d| d.platform = Platform::Ios,
                none_o,
                Verdict::Affirming,
                vec![],
                "",
            ),
            (
                "R3 Android package does not count on iOS",
                none_c,
                |d| d.platform = Platform::Ios,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R3],
                "WhatsApp (net.whatsapp.WhatsApp)",
            ),
            (
                "R4 group not joined",
                |c| c.groups[0].member = false,
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R4],
                "not a member of the WhatsApp group gad-officers (GAD officers coordination)",
            ),
            (
                "R4 group not reported",
                |c| c.groups.clear(),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R4],
                "not a member",
            ),
            (
                "R4 same group id on another platform does not count",
                |c| c.groups[0].platform = "Telegram".into(),
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R4],
                "not a member",
            ),
            (
                "R5 no screen lock: warning",
                |c| c.lock = false,
                none_d,
                none_o,
                Verdict::Warning,
                vec![Rule::R5],
                "no screen lock",
            ),
            (
                "R5 software key on android: warning",
                none_c,
                |d| d.assurance = Assurance::Software,
                none_o,
                Verdict::Warning,
                vec![Rule::R5],
                "hardware-backed",
            ),
            (
                "R5 software key on desktop is expected",
                none_c,
                |d| {
                    d.assurance = Assurance::Software;
                    d.platform = Platform::Desktop;
                },
                none_o,
                Verdict::Affirming,
                vec![],
                "",
            ),
            (
                "warnings and a failure: contraindicated, all listed",
                |c| {
                    c.lock = false;
                    c.email.push("x@gmail.com".into());
                },
                none_d,
                none_o,
                Verdict::Contraindicated,
                vec![Rule::R1, Rule::R5],
                "",
            ),
        ];
        let p = policy();
        for (name, mc, md, mo, verdict, expected_rules, phrase) in cases {
            let mut c = claims();
            mc(&mut c);
            let mut d = device(None);
            md(&mut d);
            let mut o = officer();
            mo(&mut o);
            let (v, f, _) = eval(&p, &o, &d, &c, &[]);
            assert_eq!(v, verdict, "{name}: {f:?}");
            assert_eq!(rules(&f), expected_rules, "{name}: {f:?}");
            assert!(
                phrase.is_empty() || f.iter().any(|f| f.detail.contains(phrase)),
                "{name}: no detail contains {phrase:?}: {f:?}"
            );
        }
    }

    #[test]
    fn r3_one_sanctioned_platform_is_enough() {
        let mut p = policy();
        p.platforms.push(PlatformSpec {
            name: "Telegram".into(),
            android_package: Some("org.telegram.messenger".into()),
            android_signers: vec![TG_SIGNER.into()],
            ios_bundle: None,
            ios_url_scheme: None,
        });
        let mut c = claims();
        c.apps = vec![AppFact {
            id: "org.telegram.messenger".into(),
            signer: Some(TG_SIGNER.into()),
            version: "11".into(),
            present: true,
        }];
        assert_eq!(
            eval(&p, &officer(), &device(None), &c, &[]).0,
            Verdict::Affirming
        );
        // The WhatsApp signer does not make a Telegram package genuine.
        c.apps[0].signer = Some(WA_SIGNER.into());
        let (v, f, _) = eval(&p, &officer(), &device(None), &c, &[]);
        assert_eq!(v, Verdict::Contraindicated);
        assert!(f[0].detail.contains("org.telegram.messenger"), "{f:?}");
    }

    fn roster(handles: &[&str]) -> Roster {
        Roster {
            platform: "WhatsApp".into(),
            group: "gad-officers".into(),
            handles: handles.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn r4_roster_confirms_or_refuses_the_handle() {
        let p = policy();
        let c = claims();
        let d = device(None);
        let (v, f, e) = eval(&p, &officer(), &d, &c, &[roster(&["+91 98000-00001"])]);
        assert_eq!((v, f), (Verdict::Affirming, vec![]));
        assert_eq!(e[0].level, EvidenceLevel::RosterConfirmed);

        let (v, f, e) = eval(&p, &officer(), &d, &c, &[roster(&["+919800000099"])]);
        assert_eq!(v, Verdict::Contraindicated);
        assert_eq!(rules(&f), vec![Rule::R4]);
        assert!(
            f[0].detail
                .contains("handle +919800000001 is not on IT's roster"),
            "{f:?}"
        );
        assert!(e.is_empty());

        // A roster of another group does not apply.
        let other = Roster {
            group: "other".into(),
            ..roster(&[])
        };
        let (v, _, e) = eval(&p, &officer(), &d, &c, &[other]);
        assert_eq!(v, Verdict::Affirming);
        assert_eq!(e[0].level, EvidenceLevel::SelfDeclared);

        // Two accounts in the group: the one on the roster confirms it.
        let mut two = claims();
        two.groups.insert(
            0,
            GroupFact {
                handle: "+919811111111".into(),
                ..two.groups[0].clone()
            },
        );
        let (v, _, e) = eval(&p, &officer(), &d, &two, &[roster(&["+919800000001"])]);
        assert_eq!(v, Verdict::Affirming);
        assert_eq!(e[0].level, EvidenceLevel::RosterConfirmed);

        let mut no_handle = claims();
        no_handle.groups[0].handle.clear();
        let (v, f, _) = eval(
            &p,
            &officer(),
            &d,
            &no_handle,
            &[roster(&["+919800000001"])],
        );
        assert_eq!(v, Verdict::Contraindicated);
        assert!(f[0].detail.contains("no handle"), "{f:?}");
    }

    #[test]
    fn offline_delivery_is_capped_at_warning() {
        let c = claims();
        let d = device(None);
        let o = officer();
        let p = policy();
        let (v, f, _) = evaluate_attestation(&p, &o, &d, &c, &[], false);
        assert_eq!((v, f), (Verdict::Warning, vec![]));
        let mut bad = claims();
        bad.groups.clear();
        assert_eq!(
            evaluate_attestation(&p, &o, &d, &bad, &[], false).0,
            Verdict::Contraindicated
        );
    }

    fn accepted(c: &Attestation, received_at: u64, fresh: bool) -> Option<Accepted<'_>> {
        Some(Accepted {
            claims: c,
            received_at,
            fresh_nonce: fresh,
        })
    }

    #[test]
    fn officer_compliant_warning_noncompliant() {
        let p = policy();
        let o = officer();
        let good = claims();
        let ev = evaluate_officer(&p, &o, &[device(accepted(&good, NOW - 60, true))], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Compliant);
        assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));
        assert_eq!(ev.evidence.len(), 1);

        let offline = evaluate_officer(
            &p,
            &o,
            &[device(accepted(&good, NOW - 60, false))],
            &[],
            NOW,
        );
        assert_eq!(offline.status, ComplianceStatus::Warning);
        assert!(offline.failures.is_empty());

        let mut bad = claims();
        bad.email.push("x@gmail.com".into());
        let ev = evaluate_officer(&p, &o, &[device(accepted(&bad, NOW - 60, true))], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Noncompliant);
        assert_eq!(rules(&ev.failures), vec![Rule::R1]);

        let mut model = o.clone();
        model.phone_model = Some("Galaxy S23".into());
        let ev = evaluate_officer(
            &p,
            &model,
            &[device(accepted(&good, NOW - 60, true))],
            &[],
            NOW,
        );
        assert_eq!(ev.status, ComplianceStatus::Warning);
        assert_eq!(rules(&ev.failures), vec![Rule::R2]);
    }

    #[test]
    fn officer_stale_after_check_in_window() {
        let p = policy();
        let o = officer();
        let c = claims();
        // 23 h ago: fine; 25 h ago: stale.
        let fresh = evaluate_officer(
            &p,
            &o,
            &[device(accepted(&c, NOW - 23 * 3600, true))],
            &[],
            NOW - 60 + 1,
        );
        assert_eq!(fresh.status, ComplianceStatus::Compliant);
        let later = NOW + 25 * 3600;
        let ev = evaluate_officer(&p, &o, &[device(accepted(&c, NOW - 60, true))], &[], later);
        assert_eq!(ev.status, ComplianceStatus::Stale);
        assert_eq!(rules(&ev.failures), vec![Rule::R2]);
        assert!(
            ev.failures[0].detail.contains("over the 24 h limit"),
            "{:?}",
            ev.failures
        );
        // An offline delivery received now whose facts are 3 days old is stale too.
        let mut old = claims();
        old.iat = NOW - 3 * 86_400;
        let ev = evaluate_officer(&p, &o, &[device(accepted(&old, NOW, false))], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Stale);
        assert!(
            ev.failures[0].detail.contains("3 days"),
            "{:?}",
            ev.failures
        );
        // Enrolled, never checked in.
        let ev = evaluate_officer(&p, &o, &[device(None)], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Stale);
        assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));
    }

    #[test]
    fn officer_not_enrolled_and_not_entitled() {
        let p = policy();
        let ev = evaluate_officer(&p, &officer(), &[], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::NotEnrolled);
        assert_eq!(rules(&ev.failures), vec![Rule::R2]);
        assert_eq!(ev.device_id, None);

        let mut o = officer();
        o.entitled = false;
        let ev = evaluate_officer(&p, &o, &[], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::NotEnrolled);
        assert!(
            ev.failures.is_empty(),
            "R2 does not apply: {:?}",
            ev.failures
        );
        // A non-entitled officer with a device is still held to R1, R3-R5.
        let mut c = claims();
        c.lock = false;
        let ev = evaluate_officer(&p, &o, &[device(accepted(&c, NOW, true))], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Warning);
    }

    #[test]
    fn officer_revoked_and_revoked_devices_ignored() {
        let p = policy();
        let c = claims();
        let mut d = device(accepted(&c, NOW, true));
        d.revoked = true;
        let ev = evaluate_officer(&p, &officer(), std::slice::from_ref(&d), &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Revoked);
        assert_eq!(rules(&ev.failures), vec![Rule::R2]);
        assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));

        // A revoked compliant device does not hide a noncompliant active one.
        let mut bad = claims();
        bad.groups.clear();
        let mut active = device(accepted(&bad, NOW, true));
        active.device_id = Uuid::from_u128(2);
        let ev = evaluate_officer(&p, &officer(), &[d, active], &[], NOW);
        assert_eq!(ev.status, ComplianceStatus::Noncompliant);
        assert_eq!(ev.device_id, Some(Uuid::from_u128(2)));
    }

    #[test]
    fn officer_best_device_wins_fresh_before_stale() {
        let p = policy();
        let good = claims();
        let mut bad = claims();
        bad.groups.clear();
        let mut a = device(accepted(&good, NOW, true));
        a.device_id = Uuid::from_u128(10);
        let mut b = device(accepted(&bad, NOW, true));
        b.device_id = Uuid::from_u128(11);
        let ev = evaluate_officer(&p, &officer(), &[b.clone(), a.clone()], &[], NOW);
        assert_eq!(
            (ev.status, ev.device_id),
            (ComplianceStatus::Compliant, Some(a.device_id))
        );
        // A compliant but stale device ranks below a fresh noncompliant one.
        let mut old_good = claims();
        old_good.iat = NOW - 48 * 3600;
        let stale = DeviceState {
            latest: accepted(&old_good, NOW - 48 * 3600, true),
            ..a
        };
        let ev = evaluate_officer(&p, &officer(), &[stale, b.clone()], &[], NOW);
        assert_eq!(
            (ev.status, ev.device_id),
            (ComplianceStatus::Noncompliant, Some(b.device_id))
        );
    }

    #[test]
    fn design_example_parses_as_toml_and_json() {
        let toml_policy = Policy::parse(&design_toml()).expect("toml");
        assert_eq!(toml_policy.department, "GAD");
        assert_eq!(toml_policy.name, "General Administration Department");
        assert_eq!(toml_policy.check_in_hours, 24);
        assert_eq!(toml_policy.email_domains, vec!["gujarat.gov.in", "nic.in"]);
        assert_eq!(
            toml_policy.platforms[0].ios_url_scheme.as_deref(),
            Some("whatsapp")
        );
        assert_eq!(toml_policy.groups[0].name, "GAD officers coordination");
        let json = serde_json::to_string_pretty(&toml_policy).expect("json");
        let json_policy = Policy::parse(&format!("  \n{json}")).expect("json parses");
        assert_eq!(json_policy, toml_policy);
        assert_eq!(Policy::from_json(&json), Ok(toml_policy));
        // The literal placeholder of the design text parses but does not validate.
        let placeholder =
            design_toml().replace(WA_SIGNER, "<sha256 hex of the signing certificate>");
        let p = Policy::parse(&placeholder).expect("parses");
        assert!(
            matches!(p.validate(), Err(PolicyError::Invalid(m)) if m.contains("64 lowercase hex"))
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let typo = design_toml().replace("check_in_hours", "check_in_hour");
        assert!(matches!(
            Policy::parse(&typo),
            Err(PolicyError::Invalid(m)) if m.contains("\"check_in_hour\" in the policy")
        ));
        let typo = design_toml().replace("ios_bundle", "ios_bundel");
        assert!(matches!(
            Policy::parse(&typo),
            Err(PolicyError::Invalid(m)) if m.contains("platforms[0]")
        ));
        let json = serde_json::to_string(&policy())
            .expect("json")
            .replace("\"id\"", "\"gid\"");
        assert!(matches!(
            Policy::parse(&json),
            Err(PolicyError::Invalid(m)) if m.contains("groups[0]")
        ));
        // A catalog entry pasted with its notes is fine.
        let pasted = design_toml().replace(
            "ios_url_scheme = \"whatsapp\"",
            "ios_url_scheme = \"whatsapp\"\nconfidence = \"two sources\"\nsources = \"x\"",
        );
        assert!(Policy::parse(&pasted).is_ok());
    }

    #[test]
    fn parse_errors_are_typed() {
        assert!(matches!(
            Policy::parse("department = "),
            Err(PolicyError::Toml(_))
        ));
        assert!(matches!(
            Policy::parse("{\"department\": 1}"),
            Err(PolicyError::Json(_))
        ));
        assert!(
            matches!(Policy::parse("name = \"x\""), Err(PolicyError::Toml(m)) if m.contains("department"))
        );
    }

    #[test]
    fn validate_refuses_what_evaluation_cannot_use() {
        let ok = policy();
        type Break = fn(&mut Policy);
        let cases: Vec<(Break, &str)> = vec![
            (|p| p.department = " ".into(), "department"),
            (|p| p.email_domains.clear(), "email_domains"),
            (|p| p.email_domains.push("@gmail.com".into()), "domain"),
            (|p| p.check_in_hours = 0, "check_in_hours"),
            (|p| p.platforms.clear(), "no platforms"),
            (
                |p| p.groups[0].platform = "Telegram".into(),
                "not among the policy's platforms",
            ),
            (
                |p| p.platforms[0].android_signers = vec![WA_SIGNER.to_uppercase()],
                "64 lowercase hex",
            ),
            (|p| p.platforms[0].android_signers.clear(), "repackaged"),
            (|p| p.groups.push(p.groups[0].clone()), "twice"),
            (|p| p.platforms.push(p.platforms[0].clone()), "twice"),
        ];
        for (brk, phrase) in cases {
            let mut p = ok.clone();
            brk(&mut p);
            match p.validate() {
                Err(PolicyError::Invalid(m)) => assert!(m.contains(phrase), "{m} lacks {phrase}"),
                other => panic!("expected Invalid({phrase}), got {other:?}"),
            }
        }
    }

    #[test]
    fn resolve_fills_name_only_platforms_from_the_catalog() {
        let text = r#"
department = "GAD"
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "Telegram"
[[platforms]]
name = "Own app"
android_package = "in.gov.own"
android_signers = ["0000000000000000000000000000000000000000000000000000000000000000"]
[[groups]]
platform = "Telegram"
id = "gad-alerts"
"#;
        let p = Policy::load(text, &Catalog::builtin()).expect("loads");
        assert_eq!(p.check_in_hours, 24, "default");
        assert_eq!(p.platforms[0].name, "Telegram");
        assert_eq!(
            p.platforms[0].android_package.as_deref(),
            Some("org.telegram.messenger")
        );
        assert_eq!(p.platforms[0].android_signers, vec![TG_SIGNER.to_string()]);
        assert_eq!(
            p.platforms[0].ios_bundle.as_deref(),
            Some("ph.telegra.Telegraph")
        );
        assert_eq!(
            p.platforms[1].android_package.as_deref(),
            Some("in.gov.own")
        );
        let unknown = text.replace("name = \"Telegram\"", "name = \"Nope\"");
        assert_eq!(
            Policy::parse(&unknown)
                .expect("parses")
                .resolve(&Catalog::builtin()),
            Err(PolicyError::UnknownPlatform("Nope".into()))
        );
    }

    const HEADER: &str = "officer_id,name,designation,department,email,mobile,entitled";

    #[test]
    fn officers_csv_good_and_bad_rows_with_lines() {
        let text = format!(
            "\u{feff}{HEADER},gr_reference,phone_model,phone_purchased\n\
             GAD-001,A. Shah,Deputy Secretary,GAD,a.shah@gujarat.gov.in,+919800000001,yes,GR-17,Pixel 8,2025-01-10\n\
             GAD-002,\"Patel, B.\",Under Secretary,GAD,b.patel@gujarat.gov.in,+919800000002,0,,,\n\
             \n\
             GAD-003,C,US,GAD,c@gujarat.gov.in,1,maybe,,,\r\n\
             GAD-004,D,US,GAD,not-an-email,1,true,,,\n\
             GAD-001,Dup,US,GAD,dup@gujarat.gov.in,1,TRUE,,,\n\
             GAD-005,E,US,GAD,e@gujarat.gov.in,1\n\
             ,F,US,GAD,f@gujarat.gov.in,1,false,,,\n"
        );
        let (officers, errors) = officers_from_csv(&text);
        assert_eq!(officers.len(), 2, "{errors:?}");
        assert_eq!(officers[0].officer_id, "GAD-001");
        assert!(officers[0].entitled);
        assert_eq!(officers[0].phone_model.as_deref(), Some("Pixel 8"));
        assert_eq!(officers[0].gr_reference.as_deref(), Some("GR-17"));
        assert_eq!(officers[1].name, "Patel, B.");
        assert!(!officers[1].entitled);
        assert_eq!(officers[1].phone_model, None);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![5, 6, 7, 8, 9], "{errors:?}");
        assert!(errors[0].reason.contains("entitled is \"maybe\""));
        assert!(errors[1].reason.contains("not an email"));
        assert!(errors[2].reason.contains("already appears on line 2"));
        assert!(
            errors[3]
                .reason
                .contains("6 fields where the header has 10")
        );
        assert!(errors[4].reason.contains("officer_id is empty"));
    }

    #[test]
    fn line_numbers_follow_every_line_ending() {
        for nl in ["\n", "\r\n", "\r"] {
            let text = [
                HEADER,
                "",
                "X-1,N,D,GAD,n@nic.in,1,maybe",
                "X-2,N,D,GAD,bad,1,1",
            ]
            .join(nl);
            let (_, e) = officers_from_csv(&text);
            let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![3, 4], "line ending {nl:?}: {e:?}");
        }
    }

    #[test]
    fn officers_csv_without_optional_columns_and_bad_headers() {
        let (o, e) = officers_from_csv(&format!("{HEADER}\nX-1,N,D,GAD,n@nic.in,1,1\n"));
        assert_eq!((o.len(), e.len()), (1, 0));
        assert_eq!(o[0].gr_reference, None);
        let (o, e) = officers_from_csv("X-1,N,D,GAD,n@nic.in,1,1\n");
        assert!(o.is_empty());
        assert_eq!(e[0].line, 1);
        assert!(e[0].reason.contains("unknown column"), "{e:?}");
        let (o, e) = officers_from_csv("officer_id,name\nX,Y\n");
        assert!(o.is_empty());
        assert!(e[0].reason.contains("lacks column(s) designation"), "{e:?}");
        let (o, e) = officers_from_csv("");
        assert!(o.is_empty() && e.len() == 1 && e[0].line == 1, "{e:?}");
    }

    #[test]
    fn roster_csv_all_or_nothing() {
        let rows = roster_from_csv("platform,group,handle\nWhatsApp,gad-officers,+919800000001\nWhatsApp, gad-officers ,+919800000002\n")
            .expect("good roster");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].1, "gad-officers", "fields are trimmed");
        let rosters = Roster::from_rows(rows);
        assert_eq!(rosters.len(), 1);
        assert_eq!(rosters[0].handles.len(), 2);

        let errors =
            roster_from_csv("platform,group,handle\nWhatsApp,g,+91\nWhatsApp,,x\nWhatsApp,g\n")
                .expect_err("bad rows");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(errors[0].reason.contains("group is empty"));
        let errors = roster_from_csv("handle\n+91\n").expect_err("bad header");
        assert_eq!(errors[0].line, 1);
    }

    proptest::proptest! {
        #[test]
        fn untrusted_text_never_panics(text in "[a-z0-9_,\"\n\r {}=\\[\\]@.\u{feff}-]{0,200}") {
            let _ = officers_from_csv(&text);
            let _ = roster_from_csv(&text);
            let _ = Policy::parse(&text);
            let with_header = format!("{HEADER}\n{text}");
            let (ok, bad) = officers_from_csv(&with_header);
            let lines = line_breaks(with_header.as_bytes()) + 1;
            for e in &bad {
                proptest::prop_assert!(e.line >= 1 && e.line <= lines, "{e:?}");
            }
            proptest::prop_assert!(ok.len() + bad.len() <= lines);
        }
    }

    #[test]
    fn statuses_serialize_snake_case() {
        assert_eq!(
            serde_json::to_string(&ComplianceStatus::NotEnrolled).expect("json"),
            "\"not_enrolled\""
        );
        for s in [
            ComplianceStatus::Compliant,
            ComplianceStatus::Warning,
            ComplianceStatus::Noncompliant,
            ComplianceStatus::Stale,
            ComplianceStatus::NotEnrolled,
            ComplianceStatus::Revoked,
        ] {
            assert_eq!(
                serde_json::to_string(&s).expect("json"),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(
            serde_json::to_string(&EvidenceLevel::RosterConfirmed).expect("json"),
            "\"roster_confirmed\""
        );
    }
}

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
    pub fn from_toml(s: &str) -> Result<Self, PolicyError> {
        toml::from_str(s).map_err(|e| PolicyError::Toml(e.to_string()))
    }

    /// Parses a JSON policy with the same fields as the TOML form.
    pub fn from_json(s: &str) -> Result<Self, PolicyError> {
        serde_json::from_str(s).map_err(|e| PolicyError::Json(e.to_string()))
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
        let fact = claims
            .groups
            .iter()
            .filter(|g| same_platform(&g.platform) && g.group.trim() == group.id.trim())
            .find(|g| g.member)
            .or_else(|| {
                claims
                    .groups
                    .iter()
                    .find(|g| same_platform(&g.platform) && g.group.trim() == group.id.trim())
            });
        let Some(fact) = fact.filter(|f| f.member) else {
            fail(failures, Rule::R4, format!("not a member of the {label}"));
            continue;
        };
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
        let handle = normalize_handle(&fact.handle);
        if handle.is_empty() {
            fail(
                failures,
                Rule::R4,
                format!(
                    "the device reports membership of the {label} but no handle to check against IT's roster"
                ),
            );
            continue;
        }
        let listed = matching
            .iter()
            .any(|r| r.handles.iter().any(|h| normalize_handle(h) == handle));
        if listed {
            evidence.push(GroupEvidence {
                platform: group.platform.clone(),
                group: group.id.clone(),
                level: EvidenceLevel::RosterConfirmed,
            });
        } else {
            fail(
                failures,
                Rule::R4,
                format!(
                    "handle {} is not on IT's roster of the {label}",
                    fact.handle.trim()
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

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

fn record_line(rec: &csv::StringRecord) -> usize {
    rec.position()
        .and_then(|p| usize::try_from(p.line()).ok())
        .unwrap_or(0)
}

fn csv_error_line(e: &csv::Error) -> usize {
    e.position()
        .and_then(|p| usize::try_from(p.line()).ok())
        .unwrap_or(0)
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

/// Parses the registry CSV. The header row is required (columns by name, any order); rows
/// that fail are reported with their line and reason, the good rows are returned.
pub fn officers_from_csv(text: &str) -> (Vec<Officer>, Vec<RowError>) {
    let mut reader = csv_reader(text);
    let cols = match header_map(&mut reader, &OFFICER_REQUIRED, &OFFICER_OPTIONAL) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let width = cols.len();
    let mut officers: Vec<Officer> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: csv_error_line(&e),
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record_line(&rec);
        if rec.iter().all(str::is_empty) {
            continue; // blank line
        }
        let row = (|| -> Result<Officer, String> {
            if rec.len() != width {
                return Err(format!("{} fields where the header has {width}", rec.len()));
            }
            let get = |c: &str| cols.get(c).and_then(|&i| rec.get(i)).unwrap_or("");
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
        })();
        match row {
            Ok(o) => {
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
                    officers.push(o);
                }
            }
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
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
    let mut reader = csv_reader(text);
    let cols = header_map(&mut reader, &REQUIRED, &[]).map_err(|e| vec![e])?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: csv_error_line(&e),
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record_line(&rec);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != REQUIRED.len() {
            errors.push(RowError {
                line,
                reason: format!("{} fields where the header has 3", rec.len()),
            });
            continue;
        }
        let get = |c: &str| cols.get(c).and_then(|&i| rec.get(i)).unwrap_or("");
        match REQUIRED.iter().find(|c| get(c).is_empty()) {
            Some(c) => errors.push(RowError {
                line,
                reason: format!("{c} is empty"),
            }),
            None => rows.push((
                get("platform").to_string(),
                get("group").to_string(),
                get("handle").to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

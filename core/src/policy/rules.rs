//! Rules R1..R5 on one attestation, and an officer's status from all of their devices.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::evidence::{EvidenceJudgement, StatusListView, judge_evidence};
use super::phone::normalize_handle;
use crate::claims::Attestation;
use crate::evidence::EvidenceSummary;
use crate::model::{
    Assurance, ComplianceStatus, Failure, Officer, Platform, Policy, Rule, Verdict,
};

/// How strongly a group membership is established (rule R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceLevel {
    /// Only the device says so (no roster uploaded for the group).
    /// Wire name `self_declared`.
    SelfDeclared,
    /// The device says so and IT's roster lists the officer's handle.
    /// Wire name `roster_confirmed`.
    RosterConfirmed,
}

/// IT's roster of one group: the handles of its members.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Roster {
    /// Platform name as in the policy (compared case-insensitively).
    pub platform: String,
    /// Group id as in the policy's [`GroupSpec::id`](crate::model::GroupSpec::id).
    pub group: String,
    /// Member handles as uploaded; compared as [`normalize_handle`] writes them (phone
    /// numbers in E.164, other handles ignoring case, spaces, dashes and parentheses).
    pub handles: BTreeSet<String>,
    /// `handles` normalized for comparison, computed once per roster (not once per
    /// attestation: the auditor's replay evaluates many attestations against one roster).
    #[serde(skip)]
    normalized: std::sync::OnceLock<BTreeSet<String>>,
}

/// Equal when platform, group and handles are (the normalized cache is not compared).
impl PartialEq for Roster {
    fn eq(&self, other: &Self) -> bool {
        (&self.platform, &self.group, &self.handles)
            == (&other.platform, &other.group, &other.handles)
    }
}

impl Eq for Roster {}

impl Roster {
    /// A roster of `handles` for one group.
    pub fn new(platform: String, group: String, handles: BTreeSet<String>) -> Self {
        Self {
            platform,
            group,
            handles,
            normalized: std::sync::OnceLock::new(),
        }
    }

    /// Whether `handle` (already normalized) is listed.
    pub(crate) fn lists(&self, handle: &str) -> bool {
        self.normalized
            .get_or_init(|| self.handles.iter().map(|h| normalize_handle(h)).collect())
            .contains(handle)
    }

    /// Groups `(platform, group, handle)` rows (from [`roster_from_csv`](super::csv::roster_from_csv)) by group.
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
            .map(|((platform, group), handles)| Roster::new(platform, group, handles))
            .collect()
    }
}

/// What the verifier knows of one device of the officer.
#[derive(Debug, Clone)]
pub struct DeviceState<'a> {
    /// The device's id (from its receipt).
    pub device_id: Uuid,
    /// The platform it enrolled as: which app ids count for R3, whether R5 needs hardware.
    pub platform: Platform,
    /// Model reported at enrollment.
    pub model: String,
    /// What the device's latest platform evidence (enrollment or re-attestation) proved;
    /// judged against the policy's `[evidence]` at every evaluation.
    pub evidence: &'a EvidenceSummary,
    /// Revoked devices are ignored (all revoked: the officer is `revoked`).
    pub revoked: bool,
    /// The latest accepted attestation; `None` if it never checked in.
    pub latest: Option<Accepted<'a>>,
    /// When the device last answered a fresh server challenge (enrollment included).
    pub last_fresh_at: Option<u64>,
}

/// What an evaluation depends on besides the policy and the device: the time and
/// Google's revocation status list, if one is loaded.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// The loaded status list and when it was fetched.
    pub status_list: Option<StatusListView<'a>>,
}

impl EvalContext<'_> {
    /// At `now`, with no status list loaded.
    pub fn at(now: u64) -> Self {
        Self {
            now,
            status_list: None,
        }
    }
}

impl DeviceState<'_> {
    /// The evidence rule's judgement of this device (platform, assurance and evidence).
    pub fn judge(&self, policy: &Policy, ctx: &EvalContext<'_>) -> EvidenceJudgement {
        judge_evidence(
            &policy.evidence,
            self.platform,
            self.evidence,
            ctx.status_list,
            ctx.now,
        )
    }
}

/// The latest accepted attestation of a device.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    /// The accepted claims.
    pub claims: &'a Attestation,
    /// When the server accepted it, seconds since the Unix epoch.
    pub received_at: u64,
    /// False for offline outbox deliveries (no server nonce).
    pub fresh_nonce: bool,
}

/// Evidence recorded for one group the officer is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEvidence {
    /// Platform name from the policy.
    pub platform: String,
    /// Group id from the policy.
    pub group: String,
    /// How strongly the membership is established.
    pub level: EvidenceLevel,
}

/// An officer's compliance with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The officer's status.
    pub status: ComplianceStatus,
    /// The failing rules with their detail (R2 staleness included).
    pub failures: Vec<Failure>,
    /// Group memberships of the device the status is based on.
    pub evidence: Vec<GroupEvidence>,
    /// The device the verdict is based on.
    pub device_id: Option<Uuid>,
    /// What that device proved: its platform, assurance and evidence.
    pub proof: Option<DeviceProof>,
}

/// What a device proved, for reports (design section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceProof {
    /// The platform the device enrolled as.
    pub platform: Platform,
    /// The assurance its evidence earns under the current policy.
    pub assurance: Assurance,
    /// One line on the evidence: kind and the facts it proved.
    pub evidence: String,
    /// When the evidence was checked (enrollment or re-attestation), Unix seconds.
    pub evidence_at: u64,
}

impl DeviceProof {
    fn of(device: &DeviceState<'_>, judgement: &EvidenceJudgement) -> Self {
        Self {
            platform: device.platform,
            assurance: judgement.assurance,
            evidence: describe_evidence(device.evidence),
            evidence_at: device.evidence.checked_at,
        }
    }
}

/// A short account of evidence facts ("android key attestation: StrongBox, verified
/// boot, bootloader locked, patch 2025-11, app gov.gujarat.pramaan").
pub fn describe_evidence(s: &EvidenceSummary) -> String {
    use crate::evidence::{EvidenceKind, SecurityLevel, VerifiedBootState};
    match (s.kind, s.verified) {
        (EvidenceKind::None, _) => "none (software key)".into(),
        (kind, false) => format!(
            "{} did not verify: {}",
            kind.as_str().replace('_', " "),
            s.error.as_deref().unwrap_or("no reason recorded")
        ),
        (EvidenceKind::AndroidKeyAttestation, true) => {
            let mut parts = vec![
                match s.security_level {
                    Some(SecurityLevel::StrongBox) => "StrongBox",
                    Some(SecurityLevel::TrustedEnvironment) => "TEE",
                    _ => "software key",
                }
                .to_string(),
            ];
            parts.push(match s.verified_boot {
                Some(VerifiedBootState::Verified) => "verified boot".into(),
                Some(b) => format!("boot {}", b.as_google_str().to_lowercase()),
                None => "boot state unknown".into(),
            });
            parts.push(match s.bootloader_locked {
                Some(true) => "bootloader locked".into(),
                Some(false) => "bootloader unlocked".into(),
                None => "lock state unknown".into(),
            });
            if let Some(p) = s.os_patch_level {
                parts.push(format!("patch {}", super::evidence::show_patch_level(p)));
            }
            if !s.app_packages.is_empty() {
                parts.push(format!("app {}", s.app_packages.join(", ")));
            }
            if s.expired_keybox {
                parts.push("expired factory keybox".into());
            }
            format!("android key attestation: {}", parts.join(", "))
        }
        (EvidenceKind::AppleAppAttest, true) => format!(
            "app attest: {}{}",
            s.environment.map_or("unknown environment", |e| e.as_str()),
            s.counter
                .map(|c| format!(", counter {c}"))
                .unwrap_or_default()
        ),
    }
}

/// R1, R3 and R4 failures make a device noncompliant; R2 failures from the evidence rule
/// do too (see [`EvidenceJudgement::blocking`]). R2's phone-model mismatch and R5 are
/// warnings. R2's other outcomes (not enrolled, stale) are officer statuses.
fn is_blocking(rule: Rule) -> bool {
    matches!(rule, Rule::R1 | Rule::R3 | Rule::R4)
}

/// Rules R1..R5 on one attestation (what the server answers to `POST /v1/attest` and what
/// the phone shows its officer). Pure.
///
/// `fresh_nonce` is false for offline deliveries: they can at best be `warning` (the
/// verdict is capped, no failure is added). A revoked device is the caller's to reject
/// before this (403); it is not a rule outcome.
///
/// The device's platform and evidence are judged against the policy's `[evidence]`
/// ([`judge_evidence`]): a desktop agent, a rooted phone or a key made by another app
/// fails R2 and the device is noncompliant.
pub fn evaluate_attestation(
    policy: &Policy,
    officer: &Officer,
    device: &DeviceState<'_>,
    claims: &Attestation,
    rosters: &[Roster],
    fresh_nonce: bool,
    ctx: &EvalContext<'_>,
) -> (Verdict, Vec<Failure>, Vec<GroupEvidence>) {
    let judgement = device.judge(policy, ctx);
    evaluate_attestation_judged(
        policy,
        officer,
        device,
        claims,
        rosters,
        fresh_nonce,
        &judgement,
    )
}

/// [`evaluate_attestation`] with the device's evidence already judged, for callers that
/// need the judgement too (the server asks for re-attestation when it is due): the
/// evidence is judged once.
pub fn evaluate_attestation_judged(
    policy: &Policy,
    officer: &Officer,
    device: &DeviceState<'_>,
    claims: &Attestation,
    rosters: &[Roster],
    fresh_nonce: bool,
    judgement: &EvidenceJudgement,
) -> (Verdict, Vec<Failure>, Vec<GroupEvidence>) {
    let mut failures = Vec::new();
    check_r1(policy, officer, claims, &mut failures);
    failures.extend(judgement.failures.iter().cloned());
    check_r2_model(officer, device, &mut failures);
    check_r3(policy, device.platform, claims, &mut failures);
    let evidence = check_r4(policy, claims, rosters, &mut failures);
    check_r5(claims, &mut failures);
    let verdict = if judgement.blocking || failures.iter().any(|f| is_blocking(f.rule)) {
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
pub(crate) fn domain_allowed(domain: &str, allowed: &str) -> bool {
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
    let attested = device
        .evidence
        .attested_model
        .as_deref()
        .filter(|_| device.evidence.verified);
    let (actual, source) = match attested.map(str::trim).filter(|m| !m.is_empty()) {
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
        let listed = handles
            .iter()
            .any(|(h, _)| matching.iter().any(|r| r.lists(h)));
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

/// R5's screen lock; R5's hardware-backed key is the evidence rule's
/// ([`judge_evidence`]: an R5 warning where the policy accepts software keys).
fn check_r5(claims: &Attestation, failures: &mut Vec<Failure>) {
    if !claims.lock {
        fail(failures, Rule::R5, "no screen lock is set".into());
    }
}

/// One candidate device for the officer's status.
struct Candidate {
    device_id: Uuid,
    proof: DeviceProof,
    /// False when the accepted attestation was an offline delivery.
    fresh_nonce: bool,
    last_fresh_at: Option<u64>,
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
/// most recent. Without an unrevoked device an officer not entitled to the GR-funded
/// phone is `not_entitled` (nothing expected, no failure); an entitled one is `revoked`
/// (every device revoked) or `not_enrolled` (none), with an R2 failure. With unrevoked
/// devices none of which ever checked in, the officer is `stale`. An unentitled officer
/// with an unrevoked device is held to R1, R3, R4 and R5 like any other.
pub fn evaluate_officer(
    policy: &Policy,
    officer: &Officer,
    devices: &[DeviceState<'_>],
    rosters: &[Roster],
    ctx: &EvalContext<'_>,
) -> Evaluation {
    let now = ctx.now;
    let window = u64::from(policy.check_in_hours).saturating_mul(3600);
    let active: Vec<&DeviceState<'_>> = devices.iter().filter(|d| !d.revoked).collect();
    if active.is_empty() && !officer.entitled {
        // Nothing is expected of an officer without the GR-funded phone: a revoked
        // device of theirs is history, not a failure.
        return Evaluation {
            status: ComplianceStatus::NotEntitled,
            failures: Vec::new(),
            evidence: Vec::new(),
            device_id: None,
            proof: None,
        };
    }
    if active.is_empty() {
        if devices.is_empty() {
            return Evaluation {
                status: ComplianceStatus::NotEnrolled,
                failures: vec![Failure {
                    rule: Rule::R2,
                    detail: "entitled to the government-funded phone but no device is enrolled"
                        .into(),
                }],
                evidence: Vec::new(),
                device_id: None,
                proof: None,
            };
        }
        let last = devices
            .iter()
            .max_by_key(|d| d.latest.map(|a| a.received_at).unwrap_or(0));
        return Evaluation {
            status: ComplianceStatus::Revoked,
            failures: vec![Failure {
                rule: Rule::R2,
                detail: format!(
                    "every enrolled device ({}) is revoked; the official phone must be enrolled again",
                    devices.len()
                ),
            }],
            evidence: Vec::new(),
            device_id: last.map(|d| d.device_id),
            proof: last.map(|d| DeviceProof::of(d, &d.judge(policy, ctx))),
        };
    }

    let mut candidates: Vec<Candidate> = active
        .iter()
        .filter_map(|d| {
            let acc = d.latest?;
            let judgement = d.judge(policy, ctx);
            let (verdict, failures, evidence) = evaluate_attestation_judged(
                policy,
                officer,
                d,
                acc.claims,
                rosters,
                acc.fresh_nonce,
                &judgement,
            );
            let observed_at = acc.received_at.min(acc.claims.iat);
            Some(Candidate {
                device_id: d.device_id,
                proof: DeviceProof::of(d, &judgement),
                fresh_nonce: acc.fresh_nonce,
                last_fresh_at: d.last_fresh_at,
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
            proof: active
                .first()
                .map(|d| DeviceProof::of(d, &d.judge(policy, ctx))),
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
            proof: Some(best.proof),
        };
    }
    let status = ComplianceStatus::from(best.verdict);
    let mut failures = best.failures;
    if !best.fresh_nonce {
        // Offline deliveries prove facts the phone signed, not that the phone reached the
        // server: say since when nothing answered a fresh challenge.
        fail(
            &mut failures,
            Rule::R2,
            match best.last_fresh_at {
                Some(at) => format!(
                    "no fresh server challenge since {} ({} ago): the latest check-ins were all offline",
                    utc_minute(at),
                    describe_age(now.saturating_sub(at))
                ),
                None => {
                    "no fresh server challenge was ever answered: the check-ins were all offline"
                        .into()
                }
            },
        );
    }
    Evaluation {
        status,
        failures,
        evidence: best.evidence,
        device_id: Some(best.device_id),
        proof: Some(best.proof),
    }
}

/// `YYYY-MM-DD HH:MM UTC` for a Unix time (the number itself if out of range).
pub fn utc_minute(secs: u64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| secs.to_string())
}

//! The evidence rule: is this device the official phone, running the Pramaan app, on an
//! unmodified OS? (design sections 1 and 6, `[evidence]`)
//!
//! Why a room of its own: rule R2 ("keep the GR-funded phone") is only as good as the
//! proof that the device is a phone at all. The evidence verifiers record facts
//! ([`EvidenceSummary`]); this module holds the one judgement of those facts against the
//! department's [`EvidencePolicy`] and Google's revocation status list, at a given
//! `now`. The server's verdicts, the reports, the agent's local view and `pramaan
//! evidence --policy` all call [`judge_evidence`], so they cannot disagree.
//!
//! Every unmet requirement is one failure in words IT and the officer understand
//! ("bootloader unlocked", "security patch 2023-01 is older than the policy's 2025-06").
//! When the policy requires hardware assurance (the default) they are R2 failures and
//! make the device noncompliant; when a policy accepts software keys they are R5
//! warnings on phones, as a software key always was.

use ring::digest::{SHA256, digest};

use crate::evidence::{
    EvidenceKind, EvidenceSummary, SecurityLevel, StatusList, VerifiedBootState,
};
use crate::model::{Assurance, EvidencePolicy, Failure, HardwareLevel, Platform, Rule};

/// A loaded copy of Google's revocation status list and when it was fetched.
#[derive(Debug, Clone, Copy)]
pub struct StatusListView<'a> {
    /// The parsed list.
    pub list: &'a StatusList,
    /// When the copy was fetched from Google, seconds since the Unix epoch.
    pub fetched_at: u64,
}

/// The judgement of one device's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceJudgement {
    /// `hardware` only when the evidence verified and met every requirement of the policy.
    pub assurance: Assurance,
    /// Unmet requirements (R2, blocking; or R5, a warning, where the policy accepts
    /// software keys).
    pub failures: Vec<Failure>,
    /// Whether a failure makes the device noncompliant (R2) rather than a warning.
    pub blocking: bool,
    /// The evidence is old enough that the device should send fresh evidence.
    pub reattest_due: bool,
}

const DAY: u64 = 86_400;

/// Judges `platform` and `summary` against `policy` at `now` (Unix seconds). Pure.
pub fn judge_evidence(
    policy: &EvidencePolicy,
    platform: Platform,
    summary: &EvidenceSummary,
    status_list: Option<StatusListView<'_>>,
    now: u64,
) -> EvidenceJudgement {
    let mut unmet = Vec::new();
    let mut blocking_unmet = Vec::new();
    if !policy.platforms.contains(&platform) {
        let allowed: Vec<&str> = policy.platforms.iter().map(|p| p.as_str()).collect();
        blocking_unmet.push(match platform {
            Platform::Desktop => format!(
                "this device is the desktop agent (a computer, not a phone); the department's policy counts only {} as the official phone",
                allowed.join(" and ")
            ),
            other => format!(
                "{other} devices are not accepted by the department's policy (it accepts {})",
                allowed.join(", ")
            ),
        });
    }
    match (summary.kind, summary.verified) {
        (EvidenceKind::None, _) => unmet.push(match platform {
            Platform::Desktop => {
                "the desktop agent has a software key and no hardware evidence".to_string()
            }
            _ => "the device sent no hardware evidence for its key (Key Attestation or App Attest)"
                .to_string(),
        }),
        (kind, false) => unmet.push(format!(
            "the {} did not verify: {}",
            match kind {
                EvidenceKind::AppleAppAttest => "App Attest evidence",
                _ => "key attestation",
            },
            summary.error.as_deref().unwrap_or("no reason recorded")
        )),
        (EvidenceKind::AndroidKeyAttestation, true) => {
            android(policy, summary, status_list, now, &mut unmet);
        }
        (EvidenceKind::AppleAppAttest, true) => apple(policy, summary, &mut unmet),
    }
    let mut reattest_due = false;
    if unmet.is_empty() && policy.reattest_days > 0 {
        let age = now.saturating_sub(summary.checked_at);
        let limit = u64::from(policy.reattest_days).saturating_mul(DAY);
        // Ask a day early so a phone that checks in daily renews before it lapses.
        reattest_due = age.saturating_add(DAY) >= limit;
        if age > limit {
            unmet.push(format!(
                "the hardware evidence is {} days old; the policy asks for fresh evidence every {} days",
                age / DAY,
                policy.reattest_days
            ));
        }
    }
    let assurance = if unmet.is_empty() {
        Assurance::Hardware
    } else {
        Assurance::Software
    };
    let mut failures: Vec<Failure> = blocking_unmet
        .iter()
        .map(|d| Failure {
            rule: Rule::R2,
            detail: d.clone(),
        })
        .collect();
    let strict = policy.assurance == Assurance::Hardware;
    if strict {
        failures.extend(unmet.into_iter().map(|d| Failure {
            rule: Rule::R2,
            detail: format!("not proved to be the official phone: {d}"),
        }));
    } else if platform != Platform::Desktop && !unmet.is_empty() {
        failures.push(Failure {
            rule: Rule::R5,
            detail: format!(
                "the device key is not shown to be hardware-backed: {}",
                unmet.join("; ")
            ),
        });
    }
    let blocking = failures.iter().any(|f| f.rule == Rule::R2);
    EvidenceJudgement {
        assurance,
        failures,
        blocking,
        reattest_due,
    }
}

fn android(
    policy: &EvidencePolicy,
    s: &EvidenceSummary,
    status_list: Option<StatusListView<'_>>,
    now: u64,
    unmet: &mut Vec<String>,
) {
    let req = &policy.android;
    match s.security_level {
        Some(SecurityLevel::StrongBox) => {}
        Some(SecurityLevel::TrustedEnvironment) if req.min_security_level == HardwareLevel::Tee => {
        }
        Some(SecurityLevel::TrustedEnvironment) => {
            unmet.push("the key is in the TEE; the policy requires StrongBox".into())
        }
        Some(SecurityLevel::Software) | None => {
            unmet.push("the key is kept in software, not in the phone's secure hardware".into());
        }
    }
    if req.verified_boot {
        match s.verified_boot {
            Some(VerifiedBootState::Verified) => {}
            Some(VerifiedBootState::SelfSigned) => {
                unmet.push(
                    "verified boot is self-signed: the phone runs an OS the user installed".into(),
                );
            }
            Some(VerifiedBootState::Unverified) => {
                unmet.push("verified boot is unverified: the OS is not the manufacturer's".into());
            }
            Some(VerifiedBootState::Failed) => unmet.push("verified boot failed".into()),
            None => unmet.push("the evidence does not show the verified boot state".into()),
        }
    }
    if req.bootloader_locked {
        match s.bootloader_locked {
            Some(true) => {}
            Some(false) => unmet.push("bootloader unlocked".into()),
            None => {
                unmet.push("the evidence does not show whether the bootloader is locked".into())
            }
        }
    }
    if let Some(min) = req.min_patch_level.as_deref().and_then(parse_patch_level) {
        match s.os_patch_level {
            Some(p) if p >= min => {}
            Some(p) => unmet.push(format!(
                "security patch {} is older than the policy's {}",
                show_patch_level(p),
                show_patch_level(min)
            )),
            None => unmet.push(format!(
                "the evidence carries no security patch level; the policy requires {} or newer",
                show_patch_level(min)
            )),
        }
    }
    app_identity(policy, s, unmet);
    revocation(policy, s, status_list, now, unmet);
}

fn app_identity(policy: &EvidencePolicy, s: &EvidenceSummary, unmet: &mut Vec<String>) {
    let apps = &policy.android.apps;
    if apps.is_empty() {
        unmet.push(
            "the policy names no Pramaan app ([evidence.android] apps), so no key attestation can show the Pramaan app made the key".into(),
        );
        return;
    }
    let made_by = if s.app_packages.is_empty() {
        "an unnamed app".to_string()
    } else {
        s.app_packages.join(", ")
    };
    let named: Vec<&str> = apps.iter().map(|a| a.package.as_str()).collect();
    let by_package: Vec<_> = apps
        .iter()
        .filter(|a| s.app_packages.contains(&a.package))
        .collect();
    if by_package.is_empty() {
        unmet.push(format!(
            "key created by {made_by}, not the Pramaan app ({})",
            named.join(", ")
        ));
        return;
    }
    let signed = by_package.iter().any(|a| {
        a.signers
            .iter()
            .any(|d| s.app_signers.iter().any(|x| x.eq_ignore_ascii_case(d)))
    });
    if !signed {
        let signers = if s.app_signers.is_empty() {
            "no signing certificate".to_string()
        } else {
            s.app_signers.join(", ")
        };
        unmet.push(format!(
            "key created by {made_by} signed by {signers}, not a signer the policy names for the Pramaan app: a repackaged app"
        ));
    }
}

fn revocation(
    policy: &EvidencePolicy,
    s: &EvidenceSummary,
    status_list: Option<StatusListView<'_>>,
    now: u64,
    unmet: &mut Vec<String>,
) {
    if let Some(view) = status_list {
        for serial in &s.chain_serials {
            if let Some(entry) = view.list.get(serial) {
                unmet.push(format!(
                    "certificate {serial} in the chain is {} by Google{}",
                    entry.status.as_str(),
                    entry
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    if !s.expired_keybox {
        return;
    }
    let limit_days = policy.status_list_max_age_days;
    match status_list {
        None => unmet.push(
            "the chain's factory keybox has expired and no Google revocation status list is loaded to show it is not revoked".into(),
        ),
        Some(view) => {
            let age_days = now.saturating_sub(view.fetched_at) / DAY;
            if now.saturating_sub(view.fetched_at) > u64::from(limit_days).saturating_mul(DAY) {
                unmet.push(format!(
                    "the chain's factory keybox has expired and the loaded Google revocation status list is {age_days} days old, older than the policy's {limit_days}"
                ));
            }
        }
    }
}

fn apple(policy: &EvidencePolicy, s: &EvidenceSummary, unmet: &mut Vec<String>) {
    let req = &policy.apple;
    if req.app_ids.is_empty() {
        unmet.push(
            "the policy names no Pramaan iOS app id ([evidence.apple] app_ids), so no App Attest key can show the Pramaan app made it".into(),
        );
    } else {
        let matches = s.rp_id_hash.as_deref().is_some_and(|h| {
            req.app_ids
                .iter()
                .any(|id| hex::encode(digest(&SHA256, id.as_bytes())).eq_ignore_ascii_case(h))
        });
        if !matches {
            unmet.push(format!(
                "the App Attest key belongs to another app, not the Pramaan app ({})",
                req.app_ids.join(", ")
            ));
        }
    }
    match s.environment {
        Some(env) if env == req.environment => {}
        Some(env) => unmet.push(format!(
            "App Attest {} environment; the policy accepts {} only",
            env.as_str(),
            req.environment.as_str()
        )),
        None => unmet.push("the evidence does not show the App Attest environment".into()),
    }
}

/// `YYYY-MM` (or `YYYY-MM-DD`, day ignored) as `YYYYMM`; `None` if not a real month.
pub fn parse_patch_level(s: &str) -> Option<u32> {
    let mut parts = s.trim().split('-');
    let year: u32 = parts.next().filter(|y| y.len() == 4)?.parse().ok()?;
    let month: u32 = parts.next().filter(|m| m.len() == 2)?.parse().ok()?;
    if let Some(day) = parts.next() {
        let d: u32 = day.parse().ok().filter(|_| day.len() == 2)?;
        if !(1..=31).contains(&d) {
            return None;
        }
    }
    if parts.next().is_some() || !(1..=12).contains(&month) || year < 2000 {
        return None;
    }
    Some(year * 100 + month)
}

/// `YYYYMM` as `YYYY-MM`.
pub fn show_patch_level(p: u32) -> String {
    format!("{:04}-{:02}", p / 100, p % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Status, StatusList};
    use crate::model::{AppAttestEnvironment, AppIdentity};

    const NOW: u64 = 1_790_000_000;
    const SIGNER: &str = "1039c4e0dfc3b9a7ef5d7854ce1ab2c0e2fe8e41f4a2e0e2aa6e8a4f5a1c7b3d";

    fn policy() -> EvidencePolicy {
        let mut p = EvidencePolicy::default();
        p.android.apps = vec![AppIdentity {
            package: "gov.gujarat.pramaan".into(),
            signers: vec![SIGNER.into()],
        }];
        p.android.min_patch_level = Some("2025-06".into());
        p.apple.app_ids = vec!["TEAM123456.gov.gujarat.pramaan".into()];
        p
    }

    fn good_android() -> EvidenceSummary {
        EvidenceSummary {
            kind: EvidenceKind::AndroidKeyAttestation,
            verified: true,
            checked_at: NOW,
            security_level: Some(SecurityLevel::TrustedEnvironment),
            verified_boot: Some(VerifiedBootState::Verified),
            bootloader_locked: Some(true),
            os_patch_level: Some(202_511),
            app_packages: vec!["gov.gujarat.pramaan".into()],
            app_signers: vec![SIGNER.into()],
            chain_serials: vec!["1".into(), "c8966fcb2fbe32".into()],
            ..EvidenceSummary::default()
        }
    }

    fn details(j: &EvidenceJudgement) -> String {
        j.failures
            .iter()
            .map(|f| format!("{}: {}", f.rule.as_str(), f.detail))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_phone_meeting_every_requirement_is_hardware_without_failures() {
        let j = judge_evidence(&policy(), Platform::Android, &good_android(), None, NOW);
        assert_eq!(j.assurance, Assurance::Hardware, "{}", details(&j));
        assert!(j.failures.is_empty() && !j.blocking && !j.reattest_due);
    }

    #[test]
    fn each_android_requirement_fails_in_words() {
        type Mutation = fn(&mut EvidenceSummary);
        let cases: Vec<(Mutation, &str)> = vec![
            (|s| s.bootloader_locked = Some(false), "bootloader unlocked"),
            (
                |s| s.verified_boot = Some(VerifiedBootState::Unverified),
                "verified boot is unverified",
            ),
            (
                |s| s.os_patch_level = Some(202_301),
                "security patch 2023-01 is older than the policy's 2025-06",
            ),
            (|s| s.os_patch_level = None, "no security patch level"),
            (
                |s| s.security_level = Some(SecurityLevel::Software),
                "kept in software",
            ),
            (
                |s| s.app_packages = vec!["com.example.tool".into()],
                "key created by com.example.tool, not the Pramaan app",
            ),
            (
                |s| s.app_signers = vec!["00".repeat(32)],
                "a repackaged app",
            ),
            (
                |s| {
                    s.verified = false;
                    s.error = Some("chain broken".into());
                },
                "did not verify: chain broken",
            ),
            (
                |s| s.expired_keybox = true,
                "no Google revocation status list is loaded",
            ),
        ];
        for (mutate, words) in cases {
            let mut s = good_android();
            mutate(&mut s);
            let j = judge_evidence(&policy(), Platform::Android, &s, None, NOW);
            assert_eq!(j.assurance, Assurance::Software, "{words}");
            assert!(j.blocking, "{words}");
            assert!(details(&j).contains(words), "{words}: {}", details(&j));
            assert!(j.failures.iter().all(|f| f.rule == Rule::R2));
        }
    }

    #[test]
    fn strongbox_minimum_and_unchecked_requirements() {
        let mut p = policy();
        p.android.min_security_level = HardwareLevel::StrongBox;
        let j = judge_evidence(&p, Platform::Android, &good_android(), None, NOW);
        assert!(
            details(&j).contains("requires StrongBox"),
            "{}",
            details(&j)
        );
        // A policy that does not ask about boot or lock state does not judge them.
        let mut p = policy();
        p.android.verified_boot = false;
        p.android.bootloader_locked = false;
        let mut s = good_android();
        s.bootloader_locked = Some(false);
        s.verified_boot = Some(VerifiedBootState::Unverified);
        let j = judge_evidence(&p, Platform::Android, &s, None, NOW);
        assert_eq!(j.assurance, Assurance::Hardware, "{}", details(&j));
    }

    #[test]
    fn status_list_revokes_and_its_age_decides_expired_keyboxes() {
        let list = StatusList::from_json(
            r#"{"entries": {"C8966FCB2FBE32": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}"#,
        )
        .expect("list");
        let fresh = StatusListView {
            list: &list,
            fetched_at: NOW - 2 * DAY,
        };
        let j = judge_evidence(
            &policy(),
            Platform::Android,
            &good_android(),
            Some(fresh),
            NOW,
        );
        assert!(
            details(&j)
                .contains("c8966fcb2fbe32 in the chain is REVOKED by Google (KEY_COMPROMISE)"),
            "{}",
            details(&j)
        );
        assert_eq!(
            list.get("c8966fcb2fbe32").map(|e| e.status),
            Some(Status::Revoked)
        );

        let empty = StatusList::default();
        let mut s = good_android();
        s.expired_keybox = true;
        let fresh = StatusListView {
            list: &empty,
            fetched_at: NOW - 2 * DAY,
        };
        let j = judge_evidence(&policy(), Platform::Android, &s, Some(fresh), NOW);
        assert_eq!(j.assurance, Assurance::Hardware, "{}", details(&j));
        let stale = StatusListView {
            list: &empty,
            fetched_at: NOW - 45 * DAY,
        };
        let j = judge_evidence(&policy(), Platform::Android, &s, Some(stale), NOW);
        assert!(
            details(&j).contains("45 days old, older than the policy's 30"),
            "{}",
            details(&j)
        );
    }

    #[test]
    fn desktop_is_never_the_phone_unless_listed() {
        let none = EvidenceSummary::none(NOW);
        let j = judge_evidence(&policy(), Platform::Desktop, &none, None, NOW);
        assert!(j.blocking);
        assert!(
            details(&j).contains("desktop agent (a computer, not a phone)"),
            "{}",
            details(&j)
        );
        let mut p = policy();
        p.platforms.push(Platform::Desktop);
        p.assurance = Assurance::Software;
        let j = judge_evidence(&p, Platform::Desktop, &none, None, NOW);
        assert_eq!((j.assurance, j.failures.len()), (Assurance::Software, 0));
        // Under the same lenient policy a phone without evidence is an R5 warning.
        let j = judge_evidence(&p, Platform::Android, &none, None, NOW);
        assert!(!j.blocking);
        assert_eq!(
            j.failures.iter().map(|f| f.rule).collect::<Vec<_>>(),
            vec![Rule::R5]
        );
    }

    #[test]
    fn apple_app_id_and_environment() {
        let id = "TEAM123456.gov.gujarat.pramaan";
        let s = EvidenceSummary {
            kind: EvidenceKind::AppleAppAttest,
            verified: true,
            checked_at: NOW,
            rp_id_hash: Some(hex::encode(digest(&SHA256, id.as_bytes()))),
            environment: Some(AppAttestEnvironment::Production),
            counter: Some(0),
            ..EvidenceSummary::default()
        };
        let j = judge_evidence(&policy(), Platform::Ios, &s, None, NOW);
        assert_eq!(j.assurance, Assurance::Hardware, "{}", details(&j));
        let dev = EvidenceSummary {
            environment: Some(AppAttestEnvironment::Development),
            ..s.clone()
        };
        let j = judge_evidence(&policy(), Platform::Ios, &dev, None, NOW);
        assert!(
            details(&j).contains("development environment; the policy accepts production only")
        );
        let other = EvidenceSummary {
            rp_id_hash: Some("00".repeat(32)),
            ..s
        };
        let j = judge_evidence(&policy(), Platform::Ios, &other, None, NOW);
        assert!(details(&j).contains("belongs to another app"));
    }

    #[test]
    fn old_evidence_asks_for_reattestation_then_fails() {
        let mut s = good_android();
        s.checked_at = NOW - 29 * DAY - 1;
        let j = judge_evidence(&policy(), Platform::Android, &s, None, NOW);
        assert!(j.reattest_due && j.failures.is_empty(), "{}", details(&j));
        s.checked_at = NOW - 31 * DAY;
        let j = judge_evidence(&policy(), Platform::Android, &s, None, NOW);
        assert!(details(&j).contains("31 days old"), "{}", details(&j));
    }

    #[test]
    fn patch_levels_parse_strictly() {
        assert_eq!(parse_patch_level("2025-06"), Some(202_506));
        assert_eq!(parse_patch_level("2026-10-05"), Some(202_610));
        for bad in [
            "2025-13",
            "2025-6",
            "25-06",
            "2025",
            "x",
            "2025-06-40",
            "2025-06-05-1",
        ] {
            assert_eq!(parse_patch_level(bad), None, "{bad}");
        }
        assert_eq!(show_patch_level(202_301), "2023-01");
    }
}

//! Tests of the policy document, rules R1..R5 and the CSV uploads.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::catalog::Catalog;
use super::csv::line_breaks;
use super::*;
use crate::claims::Attestation;
use crate::claims::{AppFact, GroupFact, OsInfo};
use crate::model::{Failure, Platform, Verdict};
use uuid::Uuid;

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
[evidence.android]
apps = [{{ package = "{APP}", signers = ["{APP_SIGNER}"] }}]
"#
    )
}

const APP: &str = "gov.gujarat.pramaan";
const APP_SIGNER: &str = "d68e82b88ea7b444638c266d25aec9a249995131488ba8daf59c8d59526c6c02";

/// What a genuine key attestation of a phone meeting the strict defaults proves.
static EVIDENCE: std::sync::LazyLock<crate::evidence::EvidenceSummary> =
    std::sync::LazyLock::new(|| {
        use crate::evidence::{EvidenceKind, EvidenceSummary, SecurityLevel, VerifiedBootState};
        EvidenceSummary {
            kind: EvidenceKind::AndroidKeyAttestation,
            verified: true,
            checked_at: NOW - 86_400,
            security_level: Some(SecurityLevel::TrustedEnvironment),
            verified_boot: Some(VerifiedBootState::Verified),
            bootloader_locked: Some(true),
            os_patch_level: Some(202_610),
            app_packages: vec![APP.into()],
            app_signers: vec![APP_SIGNER.into()],
            ..EvidenceSummary::default()
        }
    });

/// The same evidence, its attested model a Galaxy S23.
static GALAXY: std::sync::LazyLock<crate::evidence::EvidenceSummary> =
    std::sync::LazyLock::new(|| crate::evidence::EvidenceSummary {
        attested_model: Some("Galaxy S23".into()),
        ..EVIDENCE.clone()
    });

/// No evidence at all (a software key).
static NO_EVIDENCE: std::sync::LazyLock<crate::evidence::EvidenceSummary> =
    std::sync::LazyLock::new(|| crate::evidence::EvidenceSummary::none(NOW - 86_400));

fn ctx() -> EvalContext<'static> {
    EvalContext::at(NOW)
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
        retired_at: None,
    }
}

fn claims() -> Attestation {
    Attestation {
        protocol: crate::claims::Protocol::CURRENT,
        device_id: Uuid::from_u128(1),
        nonce: Some(vec![7; 32]),
        anchor: None,
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
        evidence: None,
    }
}

fn device(latest: Option<Accepted<'_>>) -> DeviceState<'_> {
    DeviceState {
        device_id: Uuid::from_u128(1),
        platform: Platform::Android,
        model: "Pixel 8".into(),
        evidence: &EVIDENCE,
        revoked: false,
        latest,
        last_fresh_at: Some(NOW - 3600),
    }
}

fn eval(
    p: &Policy,
    o: &Officer,
    d: &DeviceState<'_>,
    c: &Attestation,
    rosters: &[Roster],
) -> (Verdict, Vec<Failure>, Vec<GroupEvidence>) {
    evaluate_attestation(p, o, d, c, rosters, true, &ctx())
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
            |d| d.evidence = &GALAXY,
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
            "R2 no hardware evidence on android: noncompliant under the strict default",
            none_c,
            |d| d.evidence = &NO_EVIDENCE,
            none_o,
            Verdict::Contraindicated,
            vec![Rule::R2],
            "not proved to be the official phone: the device sent no hardware evidence",
        ),
        (
            "R2 a desktop agent is never the official phone under the strict default",
            none_c,
            |d| {
                d.evidence = &NO_EVIDENCE;
                d.platform = Platform::Desktop;
            },
            none_o,
            Verdict::Contraindicated,
            vec![Rule::R2, Rule::R2],
            "desktop agent (a computer, not a phone)",
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
    Roster::new(
        "WhatsApp".into(),
        "gad-officers".into(),
        handles.iter().map(|h| h.to_string()).collect(),
    )
}

/// Issue 12's case: 950 reported memberships of the group against a 3,000-handle roster.
/// The decoder refuses so many (`claims::MAX_GROUPS`), but the rule itself must still
/// be right and cheap for them (set lookups): only a listed handle confirms, wherever it
/// is among the memberships, and the roster is normalized once for every evaluation.
#[test]
fn r4_many_memberships_against_a_large_roster() {
    let p = policy();
    let d = device(None);
    let listed: Vec<String> = (0..3000)
        .map(|i| format!("+91 98{:03}-{:05}", i / 1000, i % 100_000))
        .collect();
    let big = Roster::new(
        "WhatsApp".into(),
        "gad-officers".into(),
        listed.iter().cloned().collect(),
    );
    let unlisted = |i: usize| GroupFact {
        platform: "WhatsApp".into(),
        group: "gad-officers".into(),
        member: true,
        handle: format!("+9177{i:08}"),
    };
    let mut c = claims();
    c.groups = (0..950).map(unlisted).collect();
    let (v, f, e) = eval(&p, &officer(), &d, &c, std::slice::from_ref(&big));
    assert_eq!(v, Verdict::Contraindicated);
    assert_eq!(rules(&f), vec![Rule::R4]);
    assert!(e.is_empty());
    // The last membership is on the roster (spelled differently): confirmed.
    c.groups[949].handle = "+919800202999".into();
    let (v, f, e) = eval(&p, &officer(), &d, &c, std::slice::from_ref(&big));
    assert_eq!((v, f), (Verdict::Affirming, vec![]));
    assert_eq!(e[0].level, EvidenceLevel::RosterConfirmed);
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
    let other = Roster::new("WhatsApp".into(), "other".into(), Default::default());
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

/// Issue 11: the phone reports `9800000001` (no country code), IT's roster says
/// `+919800000001`; one normalizer makes them one number, both ways round.
#[test]
fn r4_matches_a_national_number_against_e164_both_ways() {
    let p = policy();
    let d = device(None);
    for (reported, listed) in [
        ("9800000001", "+919800000001"),
        ("09800000001", "+919800000001"),
        ("+919800000001", "9800000001"),
        ("+91 98000 00001", "919800000001"),
    ] {
        let mut c = claims();
        c.groups[0].handle = reported.into();
        let (v, f, e) = eval(&p, &officer(), &d, &c, &[roster(&[listed])]);
        assert_eq!(
            (v, f),
            (Verdict::Affirming, vec![]),
            "{reported} vs {listed}"
        );
        assert_eq!(e[0].level, EvidenceLevel::RosterConfirmed);
    }
    // Another number is still refused.
    let mut c = claims();
    c.groups[0].handle = "9800000002".into();
    let (v, f, _) = eval(&p, &officer(), &d, &c, &[roster(&["+919800000001"])]);
    assert_eq!(v, Verdict::Contraindicated);
    assert_eq!(rules(&f), vec![Rule::R4]);
}

#[test]
fn offline_delivery_is_capped_at_warning() {
    let c = claims();
    let d = device(None);
    let o = officer();
    let p = policy();
    let (v, f, _) = evaluate_attestation(&p, &o, &d, &c, &[], false, &ctx());
    assert_eq!((v, f), (Verdict::Warning, vec![]));
    let mut bad = claims();
    bad.groups.clear();
    assert_eq!(
        evaluate_attestation(&p, &o, &d, &bad, &[], false, &ctx()).0,
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
    let ev = evaluate_officer(
        &p,
        &o,
        &[device(accepted(&good, NOW - 60, true))],
        &[],
        &ctx(),
    );
    assert_eq!(ev.status, ComplianceStatus::Compliant);
    assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));
    assert_eq!(ev.evidence.len(), 1);

    let offline = evaluate_officer(
        &p,
        &o,
        &[device(accepted(&good, NOW - 60, false))],
        &[],
        &ctx(),
    );
    assert_eq!(offline.status, ComplianceStatus::Warning);
    // Only offline check-ins: a visible failure says since when no fresh challenge came.
    assert_eq!(rules(&offline.failures), vec![Rule::R2]);
    assert_eq!(
        offline.failures[0].detail,
        format!(
            "no fresh server challenge since {} (1 h ago): the latest check-ins were all offline",
            utc_minute(NOW - 3600)
        )
    );
    let never = DeviceState {
        last_fresh_at: None,
        ..device(accepted(&good, NOW - 60, false))
    };
    let ev = evaluate_officer(&p, &o, &[never], &[], &ctx());
    assert!(
        ev.failures[0]
            .detail
            .contains("no fresh server challenge was ever answered")
    );

    let mut bad = claims();
    bad.email.push("x@gmail.com".into());
    let ev = evaluate_officer(
        &p,
        &o,
        &[device(accepted(&bad, NOW - 60, true))],
        &[],
        &ctx(),
    );
    assert_eq!(ev.status, ComplianceStatus::Noncompliant);
    assert_eq!(rules(&ev.failures), vec![Rule::R1]);

    let mut model = o.clone();
    model.phone_model = Some("Galaxy S23".into());
    let ev = evaluate_officer(
        &p,
        &model,
        &[device(accepted(&good, NOW - 60, true))],
        &[],
        &ctx(),
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
        &EvalContext::at(NOW - 60 + 1),
    );
    assert_eq!(fresh.status, ComplianceStatus::Compliant);
    let later = NOW + 25 * 3600;
    let ev = evaluate_officer(
        &p,
        &o,
        &[device(accepted(&c, NOW - 60, true))],
        &[],
        &EvalContext::at(later),
    );
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
    let ev = evaluate_officer(&p, &o, &[device(accepted(&old, NOW, false))], &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::Stale);
    assert!(
        ev.failures[0].detail.contains("3 days"),
        "{:?}",
        ev.failures
    );
    // Enrolled, never checked in.
    let ev = evaluate_officer(&p, &o, &[device(None)], &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::Stale);
    assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));
}

#[test]
fn officer_not_enrolled_and_not_entitled() {
    assert_eq!(ComplianceStatus::NotEntitled.as_str(), "not_entitled");
    let p = policy();
    let ev = evaluate_officer(&p, &officer(), &[], &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::NotEnrolled);
    assert_eq!(rules(&ev.failures), vec![Rule::R2]);
    assert_eq!(ev.device_id, None);

    // Not entitled and no device: its own status, nobody to chase.
    let mut o = officer();
    o.entitled = false;
    let ev = evaluate_officer(&p, &o, &[], &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::NotEntitled);
    assert!(
        ev.failures.is_empty(),
        "R2 does not apply: {:?}",
        ev.failures
    );
    // Not entitled and every device revoked: still not_entitled (no phone is owed).
    let c = claims();
    let mut gone = device(accepted(&c, NOW, true));
    gone.revoked = true;
    let ev = evaluate_officer(&p, &o, std::slice::from_ref(&gone), &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::NotEntitled);
    assert!(ev.failures.is_empty() && ev.device_id.is_none());
    // The same device revoked for an entitled officer is `revoked`.
    let ev = evaluate_officer(&p, &officer(), std::slice::from_ref(&gone), &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::Revoked);
    // A non-entitled officer with a device is still held to R1, R3-R5.
    let mut c = claims();
    c.lock = false;
    let ev = evaluate_officer(&p, &o, &[device(accepted(&c, NOW, true))], &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::Warning);
}

#[test]
fn officer_revoked_and_revoked_devices_ignored() {
    let p = policy();
    let c = claims();
    let mut d = device(accepted(&c, NOW, true));
    d.revoked = true;
    let ev = evaluate_officer(&p, &officer(), std::slice::from_ref(&d), &[], &ctx());
    assert_eq!(ev.status, ComplianceStatus::Revoked);
    assert_eq!(rules(&ev.failures), vec![Rule::R2]);
    assert_eq!(ev.device_id, Some(Uuid::from_u128(1)));

    // A revoked compliant device does not hide a noncompliant active one.
    let mut bad = claims();
    bad.groups.clear();
    let mut active = device(accepted(&bad, NOW, true));
    active.device_id = Uuid::from_u128(2);
    let ev = evaluate_officer(&p, &officer(), &[d, active], &[], &ctx());
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
    let ev = evaluate_officer(&p, &officer(), &[b.clone(), a.clone()], &[], &ctx());
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
    let ev = evaluate_officer(&p, &officer(), &[stale, b.clone()], &[], &ctx());
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
    let placeholder = design_toml().replace(WA_SIGNER, "<sha256 hex of the signing certificate>");
    let p = Policy::parse(&placeholder).expect("parses");
    assert!(matches!(p.validate(), Err(PolicyError::Invalid(m)) if m.contains("64 lowercase hex")));
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
        (
            |p| p.groups = vec![p.groups[0].clone(); 33],
            "33 groups: at most 32",
        ),
        (
            |p| p.platforms = vec![p.platforms[0].clone(); 33],
            "33 platforms: at most 32",
        ),
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
        Err(PolicyError::UnknownPlatform {
            name: "Nope".into(),
            known: Catalog::builtin().names().map(str::to_string).collect(),
        })
    );
    let sandes = text.replace("name = \"Telegram\"", "name = \"Sandes\"");
    let msg = Policy::load(&sandes, &Catalog::builtin())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("\"Sandes\"") && msg.contains("WhatsApp") && msg.contains("Telegram"),
        "the message lists the catalog's names: {msg}"
    );
}

#[test]
fn control_and_bidi_characters_in_policy_strings_are_refused() {
    let text = "department = \"GAD\"\nemail_domains = [\"gujarat.gov.in\"]\n\
                [[platforms]]\nname = \"WhatsApp\"\n\
                [[groups]]\nplatform = \"WhatsApp\"\nid = \"gad-officers\"\n";
    assert!(Policy::load(text, &Catalog::builtin()).is_ok());
    for (from, to, field) in [
        ("\"GAD\"", "\"GAD\\u001b[2J\"", "department"),
        (
            "id = \"gad-officers\"",
            "id = \"gad\\u202eofficers\"",
            "groups[0].id",
        ),
        (
            "department = \"GAD\"",
            "department = \"GAD\"\nname = \"General\\nAdministration\"",
            "name",
        ),
    ] {
        let bad = text.replacen(from, to, 1);
        let err = Policy::load(&bad, &Catalog::builtin());
        assert!(
            matches!(&err, Err(PolicyError::Invalid(m)) if m.starts_with(field) && m.contains("U+")),
            "{field}: {err:?}"
        );
    }
}

const HEADER: &str = "officer_id,name,designation,department,email,mobile,entitled";

#[test]
fn officers_csv_good_and_bad_rows_with_lines() {
    let text = format!(
        "\u{feff}{HEADER},gr_reference,phone_model,phone_purchased\n\
         GAD-001,A. Shah,Deputy Secretary,GAD,a.shah@gujarat.gov.in,+919800000001,yes,GR-17,Pixel 8,2025-01-10\n\
         GAD-002,\"Patel, B.\",Under Secretary,GAD,b.patel@gujarat.gov.in,+919800000002,0,,,\n\
         \n\
         GAD-003,C,US,GAD,c@gujarat.gov.in,9800000103,maybe,,,\r\n\
         GAD-004,D,US,GAD,not-an-email,9800000104,true,,,\n\
         GAD-001,Dup,US,GAD,dup@gujarat.gov.in,9800000101,TRUE,,,\n\
         GAD-005,E,US,GAD,e@gujarat.gov.in,9800000105\n\
         ,F,US,GAD,f@gujarat.gov.in,9800000106,false,,,\n"
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
            "X-1,N,D,GAD,n@nic.in,9800000101,maybe",
            "X-2,N,D,GAD,bad,9800000102,1",
        ]
        .join(nl);
        let (_, e) = officers_from_csv(&text);
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4], "line ending {nl:?}: {e:?}");
    }
}

#[test]
fn officers_csv_without_optional_columns_and_bad_headers() {
    let (o, e) = officers_from_csv(&format!("{HEADER}\nX-1,N,D,GAD,n@nic.in,9800000101,1\n"));
    assert_eq!((o.len(), e.len()), (1, 0));
    assert_eq!(o[0].gr_reference, None);
    let (o, e) = officers_from_csv("X-1,N,D,GAD,n@nic.in,9800000101,1\n");
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
        .expect("good roster")
        .rows;
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

fn one_row(row: &str) -> Result<Officer, RowError> {
    let today = time::Date::from_calendar_date(2026, time::Month::November, 29).expect("date");
    let text = format!("{HEADER},gr_reference,phone_model,phone_purchased\n{row}\n");
    let (mut ok, mut bad) = officer_rows_from_csv_at(&text, today);
    match (ok.pop(), bad.pop()) {
        (Some((_, o)), None) => Ok(o),
        (None, Some(e)) => Err(e),
        other => panic!("one row, one answer: {other:?}"),
    }
}

const GOOD: &str = "GAD-9,Asha Shah,DS,GAD,a@gujarat.gov.in,9800000101,yes,GR-1,Pixel 8,";

#[test]
fn purchase_dates_are_real_days_not_in_the_future() {
    for (written, stored) in [
        ("2025-02-28", "2025-02-28"),
        ("28/02/2025", "2025-02-28"),
        ("28-02-2025", "2025-02-28"),
        ("29/02/2024", "2024-02-29"),
        ("2026-11-29", "2026-11-29"),
    ] {
        let o = one_row(&format!("{GOOD}{written}")).expect(written);
        assert_eq!(o.phone_purchased.as_deref(), Some(stored), "{written}");
    }
    for bad in [
        "31/02/2025",
        "29/02/2025",
        "2025-13-01",
        "00/01/2025",
        "2026-11-30",
        "01/01/2099",
        "last year",
        "2025/02/28",
        "2025-02-28T00:00",
    ] {
        let e = one_row(&format!("{GOOD}{bad}")).expect_err(bad);
        assert_eq!(e.field.as_deref(), Some("phone_purchased"), "{bad}: {e:?}");
    }
    assert!(
        one_row(&format!("{GOOD}31/02/2025"))
            .expect_err("no such day")
            .reason
            .contains("not a day of the calendar")
    );
    assert!(
        one_row(&format!("{GOOD}2026-11-30"))
            .expect_err("tomorrow")
            .reason
            .contains("in the future")
    );
}

#[test]
fn registry_mobiles_are_stored_in_e164() {
    for written in [
        "9800000101",
        "09800000101",
        "919800000101",
        "+91 98000 00101",
    ] {
        let row = GOOD.replace("9800000101", &format!("\"{written}\""));
        let o = one_row(&row).expect(written);
        assert_eq!(o.mobile, "+919800000101", "{written}");
    }
    let e = one_row(&GOOD.replace("9800000101", "not-a-phone")).expect_err("not a phone");
    assert_eq!(e.field.as_deref(), Some("mobile"));
    assert!(e.reason.contains("not a phone number"), "{e:?}");
    // An empty mobile stays allowed (the registry may not know it).
    assert_eq!(
        one_row(&GOOD.replace("9800000101", ""))
            .expect("empty")
            .mobile,
        ""
    );
}

#[test]
fn registry_fields_have_limits() {
    let long = |n: usize| "x".repeat(n);
    let cases: [(String, &str); 8] = [
        (GOOD.replace("GAD-9", &long(65)), "officer_id"),
        (GOOD.replace("GAD-9", &"9".repeat(5000)), "officer_id"),
        (GOOD.replace("GAD-9", "GAD 9"), "officer_id"),
        (GOOD.replace("Asha Shah", &long(201)), "name"),
        (
            GOOD.replace(",DS,", &format!(",{},", long(201))),
            "designation",
        ),
        (
            GOOD.replace("a@gujarat", &format!("{}@gujarat", long(250))),
            "email",
        ),
        (GOOD.replace("GR-1", &long(101)), "gr_reference"),
        (GOOD.replace("Pixel 8", &long(101)), "phone_model"),
    ];
    for (row, field) in &cases {
        let e = one_row(row).expect_err(field);
        assert_eq!(e.field.as_deref(), Some(*field), "{e:?}");
        assert!(
            e.reason.contains("at most") || e.reason.contains("letters, digits"),
            "{e:?}"
        );
    }
    // At the limits they pass.
    let at = GOOD
        .replace("GAD-9", &format!("G./_-{}", long(59)))
        .replace("Asha Shah", &long(200))
        .replace("GR-1", &long(100));
    assert!(one_row(&at).is_ok());
    // A 100,000-character name is refused, not stored.
    let e = one_row(&GOOD.replace("Asha Shah", &long(100_000))).expect_err("huge name");
    assert!(e.reason.contains("100000 characters"), "{e:?}");
}

#[test]
fn registry_fields_refuse_unsafe_characters() {
    for (row, field) in [
        (GOOD.replace("Asha Shah", "Asha \u{1b}[2J Shah"), "name"),
        (GOOD.replace("Asha Shah", "Asha \u{202e}hahS"), "name"),
        (GOOD.replace(",DS,", ",D\u{7}S,"), "designation"),
        (GOOD.replace("Pixel 8", "Pixel\u{2066}8"), "phone_model"),
        (GOOD.replace("GR-1", "GR\u{9b}1"), "gr_reference"),
    ] {
        let e = one_row(&row).expect_err(field);
        assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
        assert!(e.reason.contains("control or direction character"), "{e:?}");
    }
}

#[test]
fn email_off_the_policy_domains_is_a_warning() {
    let o = one_row(&GOOD.replace("a@gujarat.gov.in", "asha@gmail.com")).expect("accepted");
    let domains = vec!["gujarat.gov.in".to_string(), "nic.in".to_string()];
    let w = email_domain_warning(&o, &domains).expect("warned");
    assert!(w.contains("asha@gmail.com") && w.contains("R1"), "{w}");
    let ok = one_row(GOOD).expect("accepted");
    assert_eq!(email_domain_warning(&ok, &domains), None);
    let sub = one_row(&GOOD.replace("a@gujarat.gov.in", "a@gad.gujarat.gov.in")).expect("ok");
    assert_eq!(email_domain_warning(&sub, &domains), None);
}

#[test]
fn roster_handles_normalized_and_duplicates_counted_once() {
    let r = roster_from_csv(
        "platform,group,handle\n\
         WhatsApp,g,9800000101\n\
         WhatsApp,g,+919800000101\n\
         WhatsApp,g,\"+91 98000 00101\"\n\
         WhatsApp,g,+919800000102\n\
         Telegram,t, @Asha \n\
         Telegram,t,@asha\n",
    )
    .expect("roster");
    assert_eq!(
        r.rows,
        vec![
            ("WhatsApp".into(), "g".into(), "+919800000101".into()),
            ("WhatsApp".into(), "g".into(), "+919800000102".into()),
            ("Telegram".into(), "t".into(), "@Asha".into()),
        ]
    );
    assert_eq!(r.duplicates, 3);
    // Header only: an empty roster (the server refuses it unless asked).
    let empty = roster_from_csv("platform,group,handle\n").expect("parses");
    assert!(empty.rows.is_empty());
}

#[test]
fn registry_import_is_linear_in_lines() {
    // Line numbers of far rows are right (counted on from the previous row).
    let mut text = format!("{HEADER}\n");
    for i in 0..3000 {
        text.push_str(&format!("X-{i},N,D,GAD,n@nic.in,9800000101,1\r\n"));
        if i % 7 == 0 {
            text.push_str("\r\n");
        }
    }
    text.push_str("X-bad,N,D,GAD,n@nic.in,9800000101,maybe\n");
    let (ok, bad) = officer_rows_from_csv(&text);
    assert_eq!(ok.len(), 3000);
    assert_eq!(bad.len(), 1);
    assert_eq!(
        bad[0].line,
        1 + 3000 + 3000_usize.div_ceil(7) + 1,
        "{bad:?}"
    );
    assert_eq!(
        ok[2999].0,
        1 + 3000 + 3000_usize.div_ceil(7),
        "{:?}",
        ok[2999]
    );
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
        ComplianceStatus::NotEntitled,
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

/// `[limits]`: defaults a real department never reaches, explicit values kept, unknown
/// keys and unusable values refused with the key named.
#[test]
fn device_limits_parse_default_and_validate() {
    let default = policy().limits;
    assert_eq!(default, crate::model::DeviceLimits::default());
    assert!(default.offline_per_day >= policy().evidence.max_offline_run);
    let set = format!(
        "{}\n[limits]\nattestations_per_day = 10\noffline_per_day = 3\n",
        design_toml()
    );
    let p = Policy::parse(&set).expect("parses");
    p.validate().expect("valid");
    assert_eq!(
        (p.limits.attestations_per_day, p.limits.offline_per_day),
        (10, 3)
    );
    // The JSON form (and the policy a receipt carries) round-trips.
    let json = serde_json::to_string(&p).expect("json");
    assert_eq!(Policy::parse(&json).expect("json parses").limits, p.limits);
    let typo = format!("{}\n[limits]\nattestations_per_dya = 10\n", design_toml());
    assert!(matches!(
        Policy::parse(&typo),
        Err(PolicyError::Invalid(m)) if m.contains("\"attestations_per_dya\" in limits")
    ));
    for (text, needle) in [
        ("attestations_per_day = 0", "at least 1"),
        ("offline_per_day = 0", "max_offline_run = 0"),
        (
            "attestations_per_day = 5\noffline_per_day = 6",
            "offline_per_day (6)",
        ),
    ] {
        let p = Policy::parse(&format!("{}\n[limits]\n{text}\n", design_toml())).expect("parses");
        assert!(
            matches!(p.validate(), Err(PolicyError::Invalid(ref m)) if m.contains(needle)),
            "{text}: {:?}",
            p.validate()
        );
    }
}

/// A roster compares by platform, group and handles: its normalized cache, filled by the
/// first evaluation, does not make it differ from an unused copy.
#[test]
fn roster_equality_ignores_the_normalized_cache() {
    let used = roster(&["+91 (98000) 00001"]);
    let fresh = used.clone();
    assert!(used.lists("+919800000001"));
    assert!(!used.lists("+919800000002"));
    assert_eq!(used, fresh);
    assert_ne!(used, roster(&["+919800000002"]));
}

/// Every failure the rules and the evidence judgement write is recognised by
/// [`FailureKind::of`], and every kind is written by some case: a change of wording in
/// the rules fails here instead of losing the officer's hint.
#[test]
fn every_failure_the_rules_write_has_its_own_hint() {
    use std::collections::HashSet;
    let p = policy();
    let mut failures: Vec<Failure> = Vec::new();
    let mut attest =
        |c: &Attestation, d: &DeviceState<'_>, o: &Officer, p: &Policy, r: &[Roster]| {
            failures.extend(evaluate_attestation(p, o, d, c, r, true, &ctx()).1);
        };
    let d = device(None);
    let mut c = claims();
    c.email = vec!["x@gmail.com".into(), "not-an-email".into()];
    attest(&c, &d, &officer(), &p, &[]);
    let mut c = claims();
    c.apps.clear();
    c.lock = false;
    c.groups.clear();
    attest(&c, &d, &officer(), &p, &[]);
    let mut c = claims();
    c.apps[0].signer = Some(TG_SIGNER.into());
    c.groups[0].handle = String::new();
    attest(&c, &d, &officer(), &p, &[roster(&["+919800000009"])]);
    attest(&claims(), &d, &officer(), &p, &[roster(&["+919800000009"])]);
    let mut o = officer();
    o.phone_model = Some("Galaxy S23".into());
    attest(&claims(), &d, &o, &p, &[]);
    let mut desktop = device(None);
    desktop.platform = Platform::Desktop;
    attest(&claims(), &desktop, &officer(), &p, &[]);
    let mut bare = device(None);
    bare.evidence = &NO_EVIDENCE;
    attest(&claims(), &bare, &officer(), &p, &[]);
    let mut lenient = policy();
    lenient.evidence.assurance = crate::model::Assurance::Software;
    attest(&claims(), &bare, &officer(), &lenient, &[]);
    static OLD: std::sync::LazyLock<crate::evidence::EvidenceSummary> =
        std::sync::LazyLock::new(|| crate::evidence::EvidenceSummary {
            checked_at: NOW - 90 * 86_400,
            ..EVIDENCE.clone()
        });
    let mut old = device(None);
    old.evidence = &OLD;
    attest(&claims(), &old, &officer(), &p, &[]);

    let c = claims();
    let officer_failures = |devices: &[DeviceState<'_>]| {
        evaluate_officer(&p, &officer(), devices, &[], &ctx()).failures
    };
    let mut revoked = device(accepted(&c, NOW, true));
    revoked.revoked = true;
    let mut offline = device(accepted(&c, NOW, false));
    offline.last_fresh_at = None;
    for devices in [
        vec![],
        vec![revoked],
        vec![device(None)],
        vec![device(accepted(&c, NOW - 5 * 86_400, true))],
        vec![offline],
    ] {
        failures.extend(officer_failures(&devices));
    }

    let mut seen = HashSet::new();
    for f in &failures {
        let kind = FailureKind::of(f);
        assert!(
            !matches!(kind, FailureKind::Other(_)),
            "not recognised: {f:?}"
        );
        let hint = remedy(f, &p, Platform::Android);
        assert!(!hint.is_empty() && hint != f.detail, "{f:?}: {hint}");
        seen.insert(kind);
    }
    let missing: Vec<FailureKind> = FailureKind::ALL
        .into_iter()
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(missing.is_empty(), "kinds no case produced: {missing:?}");
}

//! The auditor's replay on logs built from real signed entries: an honest log reports
//! nothing and every verdict recomputes equal; each forgery a tester made with write
//! access to the database is reported with its entry index.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{
    self, AppFact, Attestation, DeviceInfo, EnrollRequest, GroupFact, OsInfo, Platform,
};
use pramaan_core::cose;
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::keys::{Signer as _, SoftwareSigner};
use pramaan_core::model::{Assurance, Failure, Officer, Policy, Verdict};
use pramaan_core::policy::{DeviceState, EvalContext, Roster, evaluate_attestation};
use pramaan_tlog::LogEntry;
use pramaan_tlog::semantics::{self, Recomputed, Replay, ViolationKind};
use uuid::Uuid;

const T: u64 = 1_790_000_000;

fn policy_toml(dept: &str, group: &str) -> String {
    format!(
        r#"
department = "{dept}"
name = "{dept}"
check_in_hours = 24
email_domains = ["gujarat.gov.in"]
[[platforms]]
name = "WhatsApp"
[[groups]]
platform = "WhatsApp"
id = "{group}"
[evidence]
assurance = "software"
platforms = ["desktop"]
"#
    )
}

fn officer(id: &str, dept: &str, phone_model: Option<&str>) -> Officer {
    Officer {
        officer_id: id.into(),
        name: id.into(),
        designation: String::new(),
        department: dept.into(),
        email: format!("{}@gujarat.gov.in", id.to_lowercase()),
        mobile: String::new(),
        entitled: true,
        gr_reference: None,
        phone_model: phone_model.map(Into::into),
        phone_purchased: None,
        retired_at: None,
    }
}

/// A software device enrolled through a signed enroll request.
struct Dev {
    id: Uuid,
    signer: SoftwareSigner,
    officer: Officer,
    evidence: EvidenceSummary,
}

impl Dev {
    fn new(officer: &Officer) -> Self {
        Self {
            id: Uuid::new_v4(),
            signer: SoftwareSigner::generate().expect("key"),
            officer: officer.clone(),
            evidence: EvidenceSummary::none(T),
        }
    }

    fn request(&self, token: &str) -> Vec<u8> {
        let req = EnrollRequest {
            v: 1,
            token_hash: claims::enroll_token_hash(token).to_vec(),
            nonce: vec![7; 32],
            key: self.signer.public_key().expect("pk").to_cose_key_bytes(),
            platform: Platform::Desktop,
            device: DeviceInfo {
                model: "Laptop".into(),
                os: "linux".into(),
                os_version: "6".into(),
            },
            evidence: None,
        };
        cose::sign_es256(&self.signer, b"", claims::encode(&req)).expect("sign")
    }

    fn enrollment(&self, at: u64, token: &str) -> LogEntry {
        LogEntry::Enrollment {
            at,
            department: self.officer.department.clone(),
            officer_id: self.officer.officer_id.clone(),
            device_id: self.id,
            request: self.request(token),
            assurance: Assurance::Software,
            evidence: Some(self.evidence.clone()),
        }
    }

    fn claims(&self, seq: u64, iat: u64, fresh: bool) -> Attestation {
        Attestation {
            protocol: pramaan_core::claims::Protocol::CURRENT,
            device_id: self.id,
            nonce: fresh.then(|| vec![seq as u8; 32]),
            anchor: (!fresh).then(|| vec![9; 32]),
            iat,
            seq,
            officer: self.officer.officer_id.clone(),
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
            email: vec![self.officer.email.clone()],
            os: OsInfo {
                name: "linux".into(),
                version: "6".into(),
                patch: String::new(),
            },
            lock: true,
            evidence: None,
        }
    }

    fn sign(&self, claims: &Attestation) -> Vec<u8> {
        cose::sign_es256(&self.signer, self.id.as_bytes(), claims.to_cbor()).expect("sign")
    }
}

/// The log under construction and the verdict inputs a server would hold.
struct Log {
    entries: Vec<LogEntry>,
    policies: Vec<Policy>,
    rosters: Vec<Roster>,
}

impl Log {
    fn push(&mut self, e: LogEntry) -> u64 {
        self.entries.push(e);
        self.entries.len() as u64 - 1
    }

    fn last_at(&self) -> u64 {
        self.entries.iter().map(LogEntry::at).max().unwrap_or(T)
    }

    /// The verdict an honest server gives (core's rules on its inputs).
    fn judge(&self, dev: &Dev, c: &Attestation, fresh: bool, at: u64) -> (Verdict, Vec<Failure>) {
        let policy = self
            .policies
            .iter()
            .find(|p| p.department == dev.officer.department)
            .expect("policy");
        let state = DeviceState {
            device_id: dev.id,
            platform: Platform::Desktop,
            model: "Laptop".into(),
            evidence: &dev.evidence,
            revoked: false,
            latest: None,
            last_fresh_at: None,
        };
        let rosters: Vec<Roster> = if dev.officer.department == "GAD" {
            self.rosters.clone()
        } else {
            Vec::new()
        };
        let (v, f, _) = evaluate_attestation(
            policy,
            &dev.officer,
            &state,
            c,
            &rosters,
            fresh,
            &EvalContext::at(at),
        );
        (v, f)
    }

    /// Appends an honest attestation; returns its index.
    fn attest(&mut self, dev: &Dev, c: &Attestation, at: u64) -> u64 {
        let fresh = c.nonce.is_some();
        let (verdict, failures) = self.judge(dev, c, fresh, at);
        self.push(LogEntry::Attestation {
            at,
            department: dev.officer.department.clone(),
            officer_id: dev.officer.officer_id.clone(),
            device_id: dev.id,
            token: dev.sign(c),
            verdict,
            failures,
            fresh_nonce: Some(fresh),
            evidence: None,
        })
    }
}

struct Honest {
    log: Log,
    a: Dev,
    b: Dev,
    c: Dev,
    /// B's first attestation (contraindicated: its handle is not on the roster).
    b_first: u64,
    /// The first attestation of the log.
    first_attestation: u64,
}

fn set_roster(log: &mut Log, at: u64, handles: &[&str]) {
    log.rosters = Roster::from_rows(
        handles
            .iter()
            .map(|h| ("WhatsApp".into(), "gad-officers".into(), (*h).into()))
            .collect(),
    );
    log.push(LogEntry::RosterSet {
        at,
        department: "GAD".into(),
        platform: "WhatsApp".into(),
        group: "gad-officers".into(),
        handles: handles.iter().map(|h| (*h).into()).collect(),
        by: "it".into(),
    });
}

/// Policies, registry, rosters, issued tokens, three enrollments and attestations with
/// mixed verdicts, a re-attestation request, a roster removed and a revocation.
fn honest() -> Honest {
    let mut log = Log {
        entries: Vec::new(),
        policies: Vec::new(),
        rosters: Vec::new(),
    };
    for (dept, group) in [("GAD", "gad-officers"), ("REV", "rev-officers")] {
        let p = Policy::load(&policy_toml(dept, group), &Catalog::builtin()).expect("policy");
        log.push(LogEntry::PolicyChange {
            at: T,
            department: dept.into(),
            policy_json: serde_json::to_string(&p).expect("json"),
            by: "admin".into(),
        });
        log.policies.push(p);
    }
    let (oa, ob, oc) = (
        officer("GAD-001", "GAD", None),
        officer("GAD-002", "GAD", Some("Pixel 8")),
        officer("REV-001", "REV", None),
    );
    log.push(LogEntry::RegistryImport {
        at: T + 1,
        officers: vec![oa.clone(), ob.clone(), oc.clone()],
        by: "it".into(),
    });
    set_roster(&mut log, T + 2, &["+919800000001"]);
    let (a, b, c) = (Dev::new(&oa), Dev::new(&ob), Dev::new(&oc));
    for (i, (dev, token)) in [(&a, "tok-a"), (&b, "tok-b"), (&c, "tok-c")]
        .into_iter()
        .enumerate()
    {
        let at = T + 10 + 2 * i as u64;
        log.push(LogEntry::EnrollTokenIssued {
            at,
            department: dev.officer.department.clone(),
            officer_id: dev.officer.officer_id.clone(),
            token_hash: claims::enroll_token_hash(token).to_vec(),
            expires: at + 3600,
            allow_additional: false,
            by: "it".into(),
        });
        log.push(dev.enrollment(at + 1, token));
    }
    let first_attestation = log.attest(&a, &a.claims(1, T + 100, true), T + 101);
    let mut bc = b.claims(1, T + 110, true);
    bc.groups[0].handle = "+919800000099".into();
    let b_first = log.attest(&b, &bc, T + 111);
    log.attest(&a, &a.claims(2, T + 120, false), T + 125);
    let mut cc = c.claims(1, T + 130, true);
    cc.lock = false;
    cc.groups[0].group = "rev-officers".into();
    log.attest(&c, &cc, T + 131);
    let mut bc = b.claims(2, T + 140, true);
    bc.email = vec!["b@gmail.com".into()];
    log.attest(&b, &bc, T + 141);
    log.push(LogEntry::ReattestRequested {
        at: T + 150,
        department: "GAD".into(),
        device_id: a.id,
        by: "it".into(),
    });
    log.attest(&a, &a.claims(3, T + 160, true), T + 161);
    // The roster removed: B's unlisted handle is now only self-declared.
    set_roster(&mut log, T + 170, &[]);
    let mut bc = b.claims(3, T + 180, true);
    bc.groups[0].handle = "+919800000099".into();
    log.attest(&b, &bc, T + 181);
    log.push(LogEntry::Revocation {
        at: T + 190,
        department: "REV".into(),
        device_id: c.id,
        reason: "lost".into(),
        by: "it".into(),
    });
    Honest {
        log,
        a,
        b,
        c,
        b_first,
        first_attestation,
    }
}

fn check_all(entries: &[LogEntry]) -> semantics::Report {
    semantics::check(
        std::iter::empty(),
        0,
        entries.iter().enumerate().map(|(i, e)| (i as u64, e)),
    )
}

fn found(report: &semantics::Report) -> BTreeSet<(u64, ViolationKind)> {
    report
        .violations
        .iter()
        .map(|v| (v.index, v.kind))
        .collect()
}

#[test]
fn honest_log_reports_nothing_and_every_verdict_recomputes_equal() {
    let h = honest();
    let verdicts: BTreeSet<&str> = h
        .log
        .entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::Attestation { verdict, .. } => Some(verdict.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts,
        BTreeSet::from(["affirming", "contraindicated", "warning"]),
        "the fixture has mixed verdicts"
    );
    let report = check_all(&h.log.entries);
    assert!(report.is_clean(), "{:#?}", report.violations);
    assert!(report.complete);
    assert_eq!(report.attestations, 7);
    assert_eq!(report.verdicts_recomputed, 7);
    assert_eq!(report.verdicts_inputs_before_range, 0);
    assert_eq!(report.verdicts_inputs_not_logged, 0);
    assert_eq!(report.entries, h.log.entries.len() as u64);
}

#[test]
fn the_state_in_force_is_exposed_and_a_verdict_recomputed_before_its_entry() {
    let h = honest();
    let mut replay = Replay::new(true);
    for (i, e) in h.log.entries.iter().enumerate().take(h.b_first as usize) {
        replay.step(i as u64, e);
    }
    let registry: Vec<&str> = replay
        .registry()
        .iter()
        .map(|(_, o)| o.officer_id.as_str())
        .collect();
    assert_eq!(registry, ["GAD-001", "GAD-002", "REV-001"]);
    let rosters = replay.rosters();
    assert_eq!(rosters.len(), 1);
    assert_eq!(rosters[0].3.handles, ["+919800000001"]);
    assert_eq!(replay.policies().len(), 2);
    assert!(replay.status_list().is_none());
    let entry = &h.log.entries[h.b_first as usize];
    let LogEntry::Attestation {
        verdict, failures, ..
    } = entry
    else {
        panic!("not an attestation")
    };
    assert_eq!(*verdict, Verdict::Contraindicated);
    assert_eq!(
        replay.recompute(entry),
        Recomputed::Verdict(*verdict, failures.clone())
    );
    assert!(matches!(
        replay.recompute(&h.log.entries[0]),
        Recomputed::NotApplicable(_)
    ));
    assert!(replay.device(&h.b.id).is_some_and(|d| d.key.is_ok()));
}

#[test]
fn a_range_whose_inputs_precede_it_is_counted_not_judged() {
    let h = honest();
    let start = h.first_attestation as usize;
    let keys: Vec<(u64, &LogEntry)> = h.log.entries[..start]
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, LogEntry::Enrollment { .. }))
        .map(|(i, e)| (i as u64, e))
        .collect();
    assert_eq!(keys.len(), 3);
    let report = semantics::check(
        keys,
        start as u64,
        h.log.entries[start..]
            .iter()
            .enumerate()
            .map(|(i, e)| ((start + i) as u64, e)),
    );
    assert!(report.is_clean(), "{:#?}", report.violations);
    assert!(!report.complete);
    assert_eq!(report.verdicts_recomputed, 0);
    assert_eq!(report.verdicts_inputs_before_range, 7);
}

#[test]
fn every_forgery_is_reported_with_its_index() {
    use ViolationKind::*;
    let h = honest();
    let mut log = h.log;
    let (a, b, c) = (&h.a, &h.b, &h.c);
    let mut want: BTreeSet<(u64, ViolationKind)> = BTreeSet::new();
    let attestation_at = |log: &Log, i: u64| log.entries[i as usize].clone();
    let last_attestation = log
        .entries
        .iter()
        .rposition(|e| matches!(e, LogEntry::Attestation { .. }))
        .unwrap() as u64;

    // A duplicated entry.
    let dup = attestation_at(&log, last_attestation);
    let i = log.push(dup);
    want.extend([(i, TokenReplayed), (i, SeqNotIncreasing)]);

    // A real token replayed under a new time.
    let mut replayed = attestation_at(&log, h.first_attestation);
    let at = log.last_at() + 10;
    if let LogEntry::Attestation { at: t, .. } = &mut replayed {
        *t = at;
    }
    let i = log.push(replayed);
    want.extend([(i, TokenReplayed), (i, SeqNotIncreasing)]);

    // A copy relabelled as another department's officer.
    let mut relabelled = attestation_at(&log, h.b_first);
    let at = log.last_at() + 10;
    if let LogEntry::Attestation {
        at: t,
        officer_id,
        department,
        ..
    } = &mut relabelled
    {
        *t = at;
        *officer_id = "REV-001".into();
        *department = "REV".into();
    }
    let i = log.push(relabelled);
    // (Its logged verdict is also not what the rosters now in force give.)
    want.extend([
        (i, TokenReplayed),
        (i, SeqNotIncreasing),
        (i, Relabelled),
        (i, VerdictMismatch),
    ]);

    // A contraindicated attestation marked affirming, in place.
    if let LogEntry::Attestation {
        verdict, failures, ..
    } = &mut log.entries[h.b_first as usize]
    {
        assert_eq!(*verdict, Verdict::Contraindicated);
        *verdict = Verdict::Affirming;
        failures.clear();
    }
    want.insert((h.b_first, VerdictMismatch));

    // A new, genuinely signed token whose seq does not increase.
    let at = log.last_at() + 10;
    let i = log.attest(a, &a.claims(2, at, true), at);
    want.insert((i, SeqNotIncreasing));

    // An entry written long before its token's iat.
    let at = log.last_at() + 10;
    let i = log.attest(a, &a.claims(10, at + 1000, true), at);
    want.insert((i, BeforeIat));

    // Time going backwards.
    let i = log.push(LogEntry::ApiTokenIssued {
        at: T,
        role: "auditor".into(),
        department: None,
        label: "late".into(),
        token_hash: vec![1; 32],
    });
    want.insert((i, TimeBackwards));

    // Accepted after the revocation.
    let at = log.last_at() + 10;
    let mut cc = c.claims(5, at, true);
    cc.groups[0].group = "rev-officers".into();
    let i = log.attest(c, &cc, at);
    want.insert((i, AfterRevocation));
    let i = log.push(LogEntry::ReattestRequested {
        at,
        department: "REV".into(),
        device_id: c.id,
        by: "it".into(),
    });
    want.insert((i, AfterRevocation));

    // A device never enrolled: its attestation and its revocation.
    let d = Dev::new(&a.officer);
    let at = log.last_at() + 10;
    let i = log.attest(&d, &d.claims(1, at, true), at);
    want.insert((i, NotEnrolled));
    let i = log.push(LogEntry::Revocation {
        at,
        department: "GAD".into(),
        device_id: Uuid::new_v4(),
        reason: "x".into(),
        by: "it".into(),
    });
    want.insert((i, NotEnrolled));

    // A device enrolled twice; a key enrolled twice (its token used twice).
    let at = log.last_at() + 10;
    let i = log.push(a.enrollment(at, "tok-a"));
    want.insert((i, EnrolledTwice));
    let mut again = a.enrollment(at, "tok-a");
    if let LogEntry::Enrollment { device_id, .. } = &mut again {
        *device_id = Uuid::new_v4();
    }
    let i = log.push(again);
    // (A is still active and tok-a allows no additional device.)
    want.extend([
        (i, KeyEnrolledTwice),
        (i, EnrollTokenReused),
        (i, DeviceLimit),
    ]);

    // An enrollment bound to another officer than its token was issued for.
    let e = Dev::new(&a.officer);
    log.push(LogEntry::EnrollTokenIssued {
        at,
        department: "GAD".into(),
        officer_id: "GAD-002".into(),
        token_hash: claims::enroll_token_hash("tok-e").to_vec(),
        expires: at + 100,
        allow_additional: false,
        by: "it".into(),
    });
    let i = log.push(e.enrollment(at, "tok-e"));
    want.extend([(i, EnrollTokenMismatch), (i, DeviceLimit)]);

    // An enrollment claiming hardware assurance for a software key, and one logged in
    // another department than the officer's registry row.
    let f = Dev::new(&a.officer);
    let mut hardware = f.enrollment(at, "tok-f");
    if let LogEntry::Enrollment { assurance, .. } = &mut hardware {
        *assurance = Assurance::Hardware;
    }
    let i = log.push(hardware);
    want.insert((i, AssuranceMismatch));
    let g = Dev::new(&a.officer);
    let mut moved = g.enrollment(at, "tok-g");
    if let LogEntry::Enrollment { department, .. } = &mut moved {
        *department = "REV".into();
    }
    let i = log.push(moved);
    want.insert((i, Relabelled));

    // A token signed by A's key whose claims are about B.
    let at = log.last_at() + 10;
    let mut about_b = a.claims(11, at, true);
    about_b.device_id = b.id;
    let i = log.attest(a, &about_b, at);
    want.insert((i, Relabelled));

    let report = check_all(&log.entries);
    assert_eq!(found(&report), want, "{:#?}", report.violations);
    let mismatch = report
        .violations
        .iter()
        .find(|v| v.kind == VerdictMismatch && v.index == h.b_first)
        .unwrap();
    assert!(
        mismatch
            .message
            .starts_with("logged affirming, recomputed contraindicated: R2")
            && mismatch
                .message
                .contains("R4 handle +919800000099 is not on IT's roster"),
        "{}",
        mismatch.message
    );
    let replay = report
        .violations
        .iter()
        .find(|v| v.kind == TokenReplayed && v.index > h.b_first)
        .unwrap();
    assert!(
        replay
            .message
            .contains(&format!("at entry {last_attestation}")),
        "{}",
        replay.message
    );
}

#[test]
fn a_policy_that_does_not_parse_is_reported_and_not_used() {
    let h = honest();
    let mut entries = h.log.entries;
    entries[0] = LogEntry::PolicyChange {
        at: T,
        department: "GAD".into(),
        policy_json: "{not json".into(),
        by: "admin".into(),
    };
    let report = check_all(&entries);
    assert_eq!(
        found(&report),
        BTreeSet::from([(0, ViolationKind::Undecodable)])
    );
    assert!(report.violations[0].message.contains("department GAD"));
    // GAD's six attestations cannot be judged; REV's one still is.
    assert_eq!(report.verdicts_recomputed, 1);
    assert_eq!(report.verdicts_inputs_not_logged, 6);
}

#[test]
fn the_tolerances_are_the_servers() {
    let h = honest();
    let mut log = h.log;
    let latest = log.last_at();
    // Exactly the tolerated 60 s back, and an entry exactly MAX_FUTURE_SKEW before its
    // token's iat: both are what a genuine server may write.
    log.push(LogEntry::ApiTokenIssued {
        at: latest - semantics::TIME_TOLERANCE,
        role: "auditor".into(),
        department: None,
        label: "a".into(),
        token_hash: vec![1; 32],
    });
    let at = latest + 10;
    log.attest(&h.a, &h.a.claims(4, at + claims::MAX_FUTURE_SKEW, true), at);
    let report = check_all(&log.entries);
    assert!(report.is_clean(), "{:#?}", report.violations);
    // One second more of each is reported.
    log.push(LogEntry::ApiTokenIssued {
        at: at - semantics::TIME_TOLERANCE - 1,
        role: "auditor".into(),
        department: None,
        label: "b".into(),
        token_hash: vec![2; 32],
    });
    let at = at + 10;
    let i = log.attest(
        &h.a,
        &h.a.claims(5, at + claims::MAX_FUTURE_SKEW + 1, true),
        at,
    );
    let report = check_all(&log.entries);
    assert_eq!(
        found(&report),
        BTreeSet::from([
            (i - 1, ViolationKind::TimeBackwards),
            (i, ViolationKind::BeforeIat)
        ])
    );
}

#[test]
fn the_status_list_in_force_is_kept_and_a_bad_one_reported() {
    let h = honest();
    let mut entries = h.log.entries;
    let latest = entries.iter().map(LogEntry::at).max().unwrap();
    entries.push(LogEntry::StatusListInstalled {
        at: latest,
        fetched_at: latest - 86_400,
        json: r#"{"entries": {"2c8cdddfd5e03bfc": {"status": "REVOKED", "reason": "KEY_COMPROMISE"}}}"#
            .into(),
        by: "admin".into(),
    });
    let mut replay = Replay::new(true);
    for (i, e) in entries.iter().enumerate() {
        replay.step(i as u64, e);
    }
    let s = replay.status_list().expect("installed");
    assert_eq!(s.index, entries.len() as u64 - 1);
    assert_eq!(s.fetched_at, latest - 86_400);
    assert!(s.list.is_ok());
    assert!(replay.report().is_clean());

    entries.push(LogEntry::StatusListInstalled {
        at: latest,
        fetched_at: latest,
        json: r#"{"entries": {"not hex": {"status": "REVOKED"}}}"#.into(),
        by: "admin".into(),
    });
    let report = check_all(&entries);
    assert_eq!(
        found(&report),
        BTreeSet::from([(entries.len() as u64 - 1, ViolationKind::Undecodable)])
    );
}

#[test]
fn enrollment_tokens_expire_and_limit_devices_as_the_server_does() {
    let h = honest();
    let mut log = h.log;
    let at = log.last_at() + 10;
    let issue = |log: &mut Log, token: &str, officer: &str, expires: u64, allow: bool| {
        log.push(LogEntry::EnrollTokenIssued {
            at,
            department: "GAD".into(),
            officer_id: officer.into(),
            token_hash: claims::enroll_token_hash(token).to_vec(),
            expires,
            allow_additional: allow,
            by: "it".into(),
        });
    };
    // A second device for GAD-001 with a token that allows it; one for REV-001 whose
    // only device was revoked: both genuine.
    issue(&mut log, "second", "GAD-001", at + 100, true);
    log.push(Dev::new(&h.a.officer).enrollment(at, "second"));
    let rev = log
        .entries
        .iter()
        .find_map(|e| match e {
            LogEntry::RegistryImport { officers, .. } => Some(officers[2].clone()),
            _ => None,
        })
        .unwrap();
    issue(&mut log, "replacement", "REV-001", at + 100, false);
    log.push(Dev::new(&rev).enrollment(at, "replacement"));
    let report = check_all(&log.entries);
    assert!(report.is_clean(), "{:#?}", report.violations);

    // Enrolled when the token had expired, and a third device without permission.
    issue(&mut log, "late", "GAD-002", at + 5, true);
    let i = log.push(Dev::new(&h.b.officer).enrollment(at + 5, "late"));
    issue(&mut log, "third", "GAD-001", at + 100, false);
    let j = log.push(Dev::new(&h.a.officer).enrollment(at + 5, "third"));
    let report = check_all(&log.entries);
    assert_eq!(
        found(&report),
        BTreeSet::from([
            (i, ViolationKind::EnrollTokenExpired),
            (j, ViolationKind::DeviceLimit)
        ])
    );
    assert!(
        report.violations[1]
            .message
            .contains("does not allow an additional device")
    );
}

#[test]
fn an_enrollment_with_a_cancelled_token_is_flagged() {
    let h = honest();
    let mut log = h.log;
    let at = log.last_at() + 10;
    for token in ["kept", "cancelled"] {
        log.push(LogEntry::EnrollTokenIssued {
            at,
            department: "GAD".into(),
            officer_id: "GAD-002".into(),
            token_hash: claims::enroll_token_hash(token).to_vec(),
            expires: at + 3600,
            allow_additional: true,
            by: "it".into(),
        });
    }
    let c = log.push(LogEntry::EnrollTokenCancelled {
        at,
        department: "GAD".into(),
        officer_id: "GAD-002".into(),
        token_hash: claims::enroll_token_hash("cancelled").to_vec(),
        by: "it".into(),
    });
    // The cancellation itself and an enrollment with the other token are genuine.
    log.push(Dev::new(&h.b.officer).enrollment(at, "kept"));
    let report = check_all(&log.entries);
    assert!(report.is_clean(), "{:#?}", report.violations);
    // An enrollment with the cancelled token after its cancellation is a forgery.
    let i = log.push(Dev::new(&h.b.officer).enrollment(at, "cancelled"));
    let report = check_all(&log.entries);
    assert_eq!(
        found(&report),
        BTreeSet::from([(i, ViolationKind::EnrollTokenCancelled)])
    );
    assert!(
        report.violations[0]
            .message
            .contains(&format!("cancelled at entry {c}")),
        "{}",
        report.violations[0]
    );
}

/// Issue 11: a move relabels the officer's devices (a later revocation in the new
/// department is no relabelling), a retirement revokes the devices it lists (a later
/// attestation of one is after its revocation), and the registry in force follows both.
#[test]
fn moves_and_retirements_are_followed_by_the_replay() {
    let h = honest();
    let mut log = h.log;
    let at = log.last_at() + 10;
    let moved = log.push(LogEntry::OfficerMoved {
        at,
        officer_id: "GAD-002".into(),
        from: "GAD".into(),
        to: "REV".into(),
        devices: vec![h.b.id],
        by: "admin".into(),
    });
    let revoked = log.push(LogEntry::Revocation {
        at: at + 1,
        department: "REV".into(),
        device_id: h.b.id,
        reason: "lost".into(),
        by: "it@REV".into(),
    });
    let retired = log.push(LogEntry::OfficerRetired {
        at: at + 2,
        department: "GAD".into(),
        officer_id: "GAD-001".into(),
        reason: "superannuation".into(),
        devices: vec![h.a.id],
        by: "it@GAD".into(),
    });
    let report = check_all(&log.entries);
    let found = found(&report);
    for i in [moved, revoked, retired] {
        assert!(
            !found.iter().any(|(at, _)| *at == i),
            "entry {i}: {:#?}",
            report.violations
        );
    }
    let after = log.attest(&h.a, &h.a.claims(10, at + 100, true), at + 101);
    let found = self::found(&check_all(&log.entries));
    assert!(
        found.contains(&(after, ViolationKind::AfterRevocation)),
        "{found:?}"
    );
    // The registry in force: GAD-002 in REV, GAD-001 retired.
    let mut replay = Replay::new(true);
    for (i, e) in log.entries.iter().enumerate() {
        replay.step(i as u64, e);
    }
    let registry = replay.registry();
    let row = |id: &str| registry.iter().find(|(_, o)| o.officer_id == id).unwrap().1;
    assert_eq!(row("GAD-002").department, "REV");
    assert_eq!(row("GAD-001").retired_at, Some(at + 2));
}

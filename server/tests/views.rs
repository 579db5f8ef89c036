//! Report semantics and the officer and device views over a real store (design sections
//! 6 and 8): `not_entitled`, the second active device, "last seen" after re-enrollment,
//! ISO 8601 times in the CSV, and the bulk department report agreeing with the officer
//! view officer by officer.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use pramaan_core::api::DeviceStatusFilter;
use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{Assurance, Platform, Verdict};
use pramaan_core::policy::{ComplianceStatus, EvalContext, Officer, Policy};
use pramaan_server::compliance::{department_report, to_csv};
use pramaan_server::store::{
    AttestationRow, DeviceRow, Freshness, SqliteStore, StoreError, Tx, transaction,
};
use pramaan_server::views::{device_list, officer_view};
use pramaan_testkit::fixtures::{POLICY_GAD, gad_claims, verified_android_evidence};
use uuid::Uuid;

/// 2026-11-29T00:00:00Z.
const NOW: u64 = 1_795_910_400;

fn officer(id: &str, entitled: bool) -> Officer {
    Officer {
        officer_id: id.into(),
        name: format!("Officer {id}"),
        designation: "Deputy Secretary".into(),
        department: "GAD".into(),
        email: "a.shah@gujarat.gov.in".into(),
        mobile: "+919800000001".into(),
        entitled,
        gr_reference: None,
        phone_model: None,
        phone_purchased: None,
        retired_at: None,
    }
}

fn device(officer_id: &str, enrolled_at: u64) -> DeviceRow {
    use pramaan_core::keys::Signer as _;
    let key = pramaan_core::keys::SoftwareSigner::generate()
        .and_then(|k| k.public_key())
        .map(|k| k.to_cose_key_bytes())
        .expect("key");
    DeviceRow {
        device_id: Uuid::new_v4(),
        officer_id: officer_id.into(),
        department: "GAD".into(),
        platform: Platform::Android,
        model: "Pixel 8".into(),
        public_key: key,
        assurance: Assurance::Hardware,
        evidence: None,
        evidence_summary: verified_android_evidence(enrolled_at),
        freshness: Freshness {
            last_fresh_at: Some(enrolled_at),
            ..Freshness::default()
        },
        assert_counter: None,
        reattest_requested: false,
        revoked: false,
        reason: None,
        last_seq: None,
        enrolled_at,
    }
}

/// A compliant online attestation of `d` received at `at`.
fn attested(d: &DeviceRow, seq: u64, at: u64) -> AttestationRow {
    let claims = pramaan_core::claims::Attestation {
        seq,
        iat: at,
        ..gad_claims(d.device_id, &d.officer_id)
    };
    AttestationRow {
        device_id: d.device_id,
        seq,
        iat: at,
        received_at: at,
        fresh_nonce: true,
        claims: claims.to_cbor(),
        verdict: Verdict::Affirming,
        failures: Vec::new(),
        log_index: seq,
    }
}

fn gad_store() -> SqliteStore {
    let store = SqliteStore::in_memory().expect("store");
    let policy = Policy::load(POLICY_GAD, &Catalog::builtin()).expect("policy");
    transaction(&store, |tx| tx.set_policy("GAD", &policy, "test", NOW)).expect("policy set");
    store
}

fn write(store: &SqliteStore, f: impl FnOnce(&mut dyn Tx) -> Result<(), StoreError>) {
    transaction(store, f).expect("write")
}

fn report(store: &SqliteStore) -> pramaan_core::api::ComplianceReport {
    transaction(store, |tx| {
        department_report(tx, "GAD", &EvalContext::at(NOW))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .expect("report")
}

fn view_of(store: &SqliteStore, id: &str) -> pramaan_core::api::OfficerView {
    transaction(store, |tx| {
        let officer = tx.officer(id)?.expect("officer");
        officer_view(tx, officer, &EvalContext::at(NOW))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .expect("view")
}

fn line<'a>(
    r: &'a pramaan_core::api::ComplianceReport,
    id: &str,
) -> &'a pramaan_core::api::OfficerCompliance {
    r.officers
        .iter()
        .find(|o| o.officer_id == id)
        .unwrap_or_else(|| panic!("{id} not in the report"))
}

#[test]
fn not_entitled_is_its_own_status_and_counted() {
    let store = gad_store();
    let d = device("GAD-003", NOW - 7200);
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-001", true), NOW)?;
        tx.upsert_officer(&officer("GAD-002", false), NOW)?;
        tx.upsert_officer(&officer("GAD-003", false), NOW)?;
        tx.insert_device(&d)?;
        tx.insert_attestation(&attested(&d, 1, NOW - 60))
    });
    let r = report(&store);
    assert_eq!(line(&r, "GAD-001").status, ComplianceStatus::NotEnrolled);
    let unentitled = line(&r, "GAD-002");
    assert_eq!(unentitled.status, ComplianceStatus::NotEntitled);
    assert!(unentitled.failures.is_empty());
    // Not entitled but enrolled: evaluated like anyone (here compliant).
    assert_eq!(line(&r, "GAD-003").status, ComplianceStatus::Compliant);
    assert_eq!(r.summary.get("not_entitled"), Some(&1));
    assert_eq!(r.summary.get("not_enrolled"), Some(&1));
    assert_eq!(r.summary.get("compliant"), Some(&1));
    assert_eq!(r.summary.len(), ComplianceStatus::ALL.len());
    assert!(to_csv(&r).contains("GAD-002,Officer GAD-002,Deputy Secretary,false,not_entitled,"));
}

#[test]
fn last_seen_after_re_enrollment_is_the_new_device_s() {
    let store = gad_store();
    let old = device("GAD-001", NOW - 30 * 86_400);
    let new = device("GAD-001", NOW - 600);
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-001", true), NOW)?;
        tx.insert_device(&old)?;
        tx.insert_attestation(&attested(&old, 7, NOW - 300))?;
        tx.revoke_device(&old.device_id, "lost")?;
        tx.insert_device(&new)
    });
    // The new phone has not checked in: the status rests on it, and the revoked phone's
    // last check-in (more recent) is not shown as the officer's.
    let r = report(&store);
    let o = line(&r, "GAD-001");
    assert_eq!(o.status, ComplianceStatus::Stale);
    assert_eq!(o.device_id, Some(new.device_id));
    assert_eq!(o.last_seen, None, "{o:?}");
    // Once it checks in, last seen is its own check-in, older than the revoked phone's.
    write(&store, |tx| {
        tx.insert_attestation(&attested(&new, 1, NOW - 400))
    });
    let r = report(&store);
    let o = line(&r, "GAD-001");
    assert_eq!(o.status, ComplianceStatus::Compliant);
    assert_eq!(o.last_seen, Some(NOW - 400));
    // The officer view says the same, and each device has its own last check-in.
    let view = view_of(&store, "GAD-001");
    let status = view.compliance.expect("status");
    assert_eq!(status.last_seen, Some(NOW - 400));
    assert_eq!(status.active_devices, 1);
    let check_ins: Vec<_> = view
        .devices
        .iter()
        .map(|d| (d.revoked, d.last_check_in))
        .collect();
    assert_eq!(
        check_ins,
        vec![(true, Some(NOW - 300)), (false, Some(NOW - 400))]
    );
    assert_eq!(view.devices[0].evidence_age_days, 30);
}

#[test]
fn a_second_active_device_is_flagged() {
    let store = gad_store();
    let a = device("GAD-001", NOW - 7200);
    let b = device("GAD-001", NOW - 3600);
    let c = device("GAD-002", NOW - 3600);
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-001", true), NOW)?;
        tx.upsert_officer(&officer("GAD-002", true), NOW)?;
        for d in [&a, &b, &c] {
            tx.insert_device(d)?;
        }
        tx.insert_attestation(&attested(&a, 1, NOW - 100))?;
        tx.insert_attestation(&attested(&b, 1, NOW - 50))?;
        tx.insert_attestation(&attested(&c, 1, NOW - 50))
    });
    let r = report(&store);
    assert_eq!(line(&r, "GAD-001").active_devices, 2);
    assert_eq!(line(&r, "GAD-002").active_devices, 1);
    let csv = to_csv(&r);
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.ends_with(",evidence_at,active_devices"), "{header}");
    let row = csv
        .lines()
        .find(|l| l.starts_with("GAD-001,"))
        .unwrap_or_default();
    assert!(row.ends_with(",2"), "{row}");
    // Revoking one clears the flag.
    write(&store, |tx| tx.revoke_device(&a.device_id, "handed back"));
    assert_eq!(line(&report(&store), "GAD-001").active_devices, 1);
}

#[test]
fn csv_times_are_iso_8601_utc_and_json_keeps_seconds() {
    let store = gad_store();
    let d = device("GAD-001", NOW - 86_400);
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-001", true), NOW)?;
        tx.insert_device(&d)?;
        tx.insert_attestation(&attested(&d, 1, NOW - 90))
    });
    let r = report(&store);
    let csv = to_csv(&r);
    let row = csv
        .lines()
        .find(|l| l.starts_with("GAD-001,"))
        .unwrap_or_default();
    assert!(row.contains(",2026-11-28T23:58:30Z,"), "last_seen: {row}");
    assert!(row.contains(",2026-11-28T00:00:00Z,"), "evidence_at: {row}");
    assert!(!row.contains(&(NOW - 90).to_string()), "{row}");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["officers"][0]["last_seen"], NOW - 90);
    assert_eq!(json["officers"][0]["evidence_at"], NOW - 86_400);
}

/// The bulk report and the per-officer view agree on every officer (statuses, device,
/// last seen, active devices), and the device list lists each device once.
#[test]
fn bulk_report_agrees_with_the_officer_view() {
    let store = gad_store();
    let mut all = Vec::new();
    write(&store, |tx| {
        for i in 0..40u64 {
            let id = format!("GAD-{i:03}");
            tx.upsert_officer(&officer(&id, i % 5 != 0), NOW)?;
            for k in 0..(i % 3) {
                let d = device(&id, NOW - 10_000 + k);
                tx.insert_device(&d)?;
                if (i + k) % 4 != 0 {
                    // Some fresh, some two days old (stale).
                    let at = if i % 7 == 0 {
                        NOW - 2 * 86_400
                    } else {
                        NOW - 60 - i
                    };
                    tx.insert_attestation(&attested(&d, 1, at))?;
                }
                if i % 11 == 0 && k == 0 {
                    tx.revoke_device(&d.device_id, "test")?;
                }
                all.push(d);
            }
        }
        Ok(())
    });
    let r = report(&store);
    assert_eq!(r.officers.len(), 40);
    for line in &r.officers {
        let view = view_of(&store, &line.officer_id);
        let s = view.compliance.expect("status");
        assert_eq!(
            (
                s.status,
                s.device_id,
                s.last_seen,
                s.active_devices,
                &s.failures
            ),
            (
                line.status,
                line.device_id,
                line.last_seen,
                line.active_devices,
                &line.failures
            ),
            "{}",
            line.officer_id
        );
    }
    let statuses: std::collections::HashSet<_> = r.officers.iter().map(|o| o.status).collect();
    assert!(statuses.len() >= 4, "a mix of statuses: {statuses:?}");
    let listed = transaction(&store, |tx| {
        device_list(tx, "GAD", DeviceStatusFilter::All, NOW)
    })
    .expect("list");
    assert_eq!(listed.devices.len(), all.len());
    let active = transaction(&store, |tx| {
        device_list(tx, "GAD", DeviceStatusFilter::Active, NOW)
    })
    .expect("list");
    let revoked = transaction(&store, |tx| {
        device_list(tx, "GAD", DeviceStatusFilter::Revoked, NOW)
    })
    .expect("list");
    assert_eq!(active.devices.len() + revoked.devices.len(), all.len());
    assert!(revoked.devices.iter().all(|d| d.revoked) && !revoked.devices.is_empty());
    assert!(active.devices.iter().all(|d| !d.revoked));
    assert_eq!(
        listed.devices[0].officer_name,
        format!("Officer {}", listed.devices[0].officer_id)
    );
}

/// The report cache serves the same report while nothing it depends on changed, and a
/// new one after any logged change, a policy change or when the time bucket passes.
#[test]
fn report_cache_is_reused_only_while_nothing_changed() {
    use pramaan_server::compliance::{REPORT_CACHE_SECS, ReportCache};
    use pramaan_server::store::LogEntry;
    use std::sync::Arc;
    let store = gad_store();
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-001", true), NOW)
    });
    let cache = ReportCache::default();
    let at = |now: u64| {
        transaction(&store, |tx| {
            cache
                .report(tx, "GAD", &EvalContext::at(now))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .expect("report")
    };
    let first = at(NOW);
    assert!(
        Arc::ptr_eq(&first, &at(NOW + 1)),
        "nothing changed: served again"
    );
    // A new officer without a log entry is not seen (every real change is logged) ...
    write(&store, |tx| {
        tx.upsert_officer(&officer("GAD-002", true), NOW)
    });
    assert_eq!(at(NOW + 2).officers.len(), 1);
    // ... and is once the log moves.
    write(&store, |tx| {
        tx.append_log(&LogEntry::PolicyChange {
            at: NOW,
            department: "REV".into(),
            policy_json: "{}".into(),
            by: "test".into(),
        })
        .map(|_| ())
    });
    let second = at(NOW + 3);
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.officers.len(), 2);
    // The clock alone: the next bucket rebuilds.
    let later = at(NOW + REPORT_CACHE_SECS + 1);
    assert!(!Arc::ptr_eq(&second, &later));
    assert_eq!(later.generated_at, NOW + REPORT_CACHE_SECS + 1);
    // A policy change (department generation) rebuilds.
    let policy = Policy::load(POLICY_GAD, &Catalog::builtin()).expect("policy");
    write(&store, |tx| tx.set_policy("GAD", &policy, "test", NOW));
    assert!(!Arc::ptr_eq(&later, &at(NOW + REPORT_CACHE_SECS + 2)));
}

/// A department large enough to be evaluated on several threads gives every officer once,
/// in registry order, each line as the officer view computes it.
#[test]
fn a_large_department_is_evaluated_in_parallel_in_order() {
    let store = gad_store();
    let n = 2_600u64;
    write(&store, |tx| {
        for i in 0..n {
            let id = format!("GAD-{i:05}");
            tx.upsert_officer(&officer(&id, i % 10 != 3), NOW)?;
            if i % 2 == 0 {
                let d = device(&id, NOW - 7200);
                tx.insert_device(&d)?;
                tx.insert_attestation(&attested(&d, 1, NOW - 60))?;
            }
        }
        Ok(())
    });
    let r = report(&store);
    let ids: Vec<String> = r.officers.iter().map(|o| o.officer_id.clone()).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("GAD-{i:05}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(r.summary.values().sum::<u64>(), n);
    for line in r.officers.iter().step_by(97) {
        let view = view_of(&store, &line.officer_id);
        let s = view.compliance.expect("status");
        assert_eq!(
            (s.status, s.device_id, s.last_seen, &s.failures),
            (line.status, line.device_id, line.last_seen, &line.failures),
            "{}",
            line.officer_id
        );
    }
}

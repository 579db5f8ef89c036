//! `pramaan bench --console N [--baseline M]`: how long department IT waits for its
//! compliance view and an officer page in a department of N officers, against one of M
//! measured in the same run.
//!
//! Why: the dashboard's first page is the department report (the dashboard pages it in
//! memory once built), and a state department has tens of thousands of officers; the
//! report once read two queries per officer. The figures here show whether its cost grows
//! linearly: per-officer time at N divided by per-officer time at M (about 1 is linear,
//! well above 1 is worse).
//!
//! The departments are seeded straight through the store in one transaction each (not
//! through the registry import, whose speed is measured elsewhere): N officers, 9 in 10
//! entitled; every other officer has an enrolled simulated phone with one accepted
//! attestation, one in five of those with a Gmail account (R1, noncompliant). Then, over
//! TLS with an admin token: `GET /v1/compliance?department=D` cold (the first request
//! after seeding) and warm (the median of the next three), and `GET /v1/officers/{id}`
//! of an enrolled officer (median of five); beside them the report built in-process
//! without HTTP and JSON (`build`).

use std::time::{Duration, Instant};

use pramaan_core::catalog::Catalog;
use pramaan_core::claims::{Assurance, Platform, Verdict};
use pramaan_core::evidence::EvidenceSummary;
use pramaan_core::keys::{Signer, SoftwareSigner};
use pramaan_core::policy::{EvalContext, Officer, Policy};
use pramaan_core::transport::{HttpsClient, Options, Trust};
use pramaan_server::compliance::department_report;
use pramaan_server::store::{
    AttestationRow, DeviceRow, Freshness, Store, StoreError, read_transaction, transaction,
};
use serde::Serialize;
use uuid::Uuid;

use super::{POLICY, bench_setup, err, facts, now};
use crate::CliError;

/// A department's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentFigures {
    /// The department seeded.
    pub department: String,
    /// Officers registered.
    pub officers: u64,
    /// Devices enrolled (one attestation each).
    pub devices: u64,
    /// Seconds the seeding took (keys, one transaction).
    pub seed_seconds: f64,
    /// The report built in-process (store reads and evaluation, no HTTP), ms.
    pub build_ms: f64,
    /// Of which reading the registry (`Tx::officers_of`), ms (measured apart).
    pub read_officers_ms: f64,
    /// And reading the devices with their latest attestations
    /// (`Tx::department_devices`), ms (measured apart); the rest is decoding the claims
    /// and evaluating.
    pub read_devices_ms: f64,
    /// `GET /v1/compliance?department=D`, the first request, ms.
    pub compliance_cold_ms: f64,
    /// The same, median of three more, ms.
    pub compliance_warm_ms: f64,
    /// Size of the JSON answer, bytes.
    pub compliance_bytes: usize,
    /// The dashboard's first page (`GET /v1/compliance?department=D&page=1&per_page=50`)
    /// right after a change was logged (the report cache cannot serve it: the report is
    /// built again), ms.
    pub first_page_cold_ms: f64,
    /// The same page again (served from the report cache), median of three, ms.
    pub first_page_warm_ms: f64,
    /// `GET /v1/officers/{id}` of an enrolled officer, median of five, ms.
    pub officer_ms: f64,
    /// Officers per status in the answer.
    pub summary: std::collections::BTreeMap<String, u64>,
}

/// What `pramaan bench --console` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleReport {
    /// The department of N officers.
    pub large: DepartmentFigures,
    /// The baseline department of M officers, measured in the same run.
    pub baseline: DepartmentFigures,
    /// Per-officer cold compliance time at N over that at M (about 1: linear).
    pub cold_ratio: f64,
    /// Per-officer warm compliance time at N over that at M.
    pub warm_ratio: f64,
    /// Per-officer in-process build time at N over that at M.
    pub build_ratio: f64,
    /// Officer page time at N over that at M (about 1: independent of the size).
    pub officer_ratio: f64,
}

/// Seeds `department` with `n` officers (see the module documentation); returns the
/// devices enrolled and an enrolled officer's id.
fn seed(store: &dyn Store, department: &str, n: u64) -> Result<(u64, String), CliError> {
    let policy = Policy::load(
        &POLICY.replace("\"BENCH\"", &format!("\"{department}\"")),
        &Catalog::builtin(),
    )
    .map_err(err)?;
    let at = now();
    let mut devices = Vec::new();
    let mut officers = Vec::with_capacity(n as usize);
    for i in 0..n {
        let id = format!("{department}-{i:06}");
        officers.push(Officer {
            officer_id: id.clone(),
            name: format!("Officer {i}"),
            designation: "Section Officer".into(),
            department: department.to_string(),
            email: format!("{}@gujarat.gov.in", id.to_lowercase()),
            mobile: format!("+91{id}"),
            entitled: i % 10 != 9,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
            retired_at: None,
        });
        if i % 2 == 0 {
            let key = SoftwareSigner::generate()
                .and_then(|k| k.public_key())
                .map_err(err)?;
            let device_id = Uuid::new_v4();
            let mut claims = facts(device_id, &id, Some(vec![0; 32]), 1);
            if i % 10 == 0 {
                claims
                    .email
                    .push(format!("{}@gmail.com", id.to_lowercase()));
            }
            devices.push((
                DeviceRow {
                    device_id,
                    officer_id: id.clone(),
                    department: department.to_string(),
                    platform: Platform::Android,
                    model: "Pixel 8".into(),
                    public_key: key.to_cose_key_bytes(),
                    assurance: Assurance::Software,
                    evidence: None,
                    evidence_summary: EvidenceSummary::none(at),
                    freshness: Freshness {
                        last_fresh_at: Some(at),
                        ..Freshness::default()
                    },
                    assert_counter: None,
                    reattest_requested: false,
                    revoked: false,
                    reason: None,
                    last_seq: Some(1),
                    enrolled_at: at,
                },
                AttestationRow {
                    device_id,
                    seq: 1,
                    iat: at,
                    received_at: at,
                    fresh_nonce: true,
                    claims: claims.to_cbor(),
                    verdict: Verdict::Warning,
                    failures: Vec::new(),
                    log_index: i,
                },
            ));
        }
    }
    let enrolled = devices
        .first()
        .map(|(d, _)| d.officer_id.clone())
        .unwrap_or_default();
    let count = devices.len() as u64;
    transaction(store, |tx| -> Result<(), StoreError> {
        tx.set_policy(department, &policy, "bench", at)?;
        for o in &officers {
            tx.upsert_officer(o, at)?;
        }
        for (d, a) in &devices {
            tx.insert_device(d)?;
            tx.insert_attestation(a)?;
        }
        Ok(())
    })
    .map_err(err)?;
    Ok((count, enrolled))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A timed GET that must answer 200; returns the time and the body's length.
fn timed_get(http: &HttpsClient, path: &str) -> Result<(f64, Vec<u8>), CliError> {
    let started = Instant::now();
    let r = http.get(path).map_err(err)?;
    let took = ms(started.elapsed());
    if r.status != 200 {
        return Err(CliError::new(format!(
            "GET {path}: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )));
    }
    Ok((took, r.body))
}

/// Seeds one department of `n` officers and measures it.
fn measure(
    store: &dyn Store,
    http: &HttpsClient,
    department: &str,
    n: u64,
) -> Result<DepartmentFigures, CliError> {
    eprintln!("seeding {department} with {n} officers...");
    let started = Instant::now();
    let (devices, enrolled) = seed(store, department, n)?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let path = format!("/v1/compliance?department={department}");
    let (cold, body) = timed_get(http, &path)?;
    let report: pramaan_core::api::ComplianceReport = serde_json::from_slice(&body).map_err(err)?;
    if report.officers.len() as u64 != n {
        return Err(CliError::new(format!(
            "{department}: the report lists {} officers, {n} were seeded",
            report.officers.len()
        )));
    }
    let mut warm = Vec::new();
    for _ in 0..3 {
        warm.push(timed_get(http, &path)?.0);
    }
    // A change logged through the API (IT asks one device for fresh evidence) makes the
    // cached report stale, as any check-in or registry change would: the next page is
    // built from the store again, which is what an officer of IT meets on a busy server.
    let device = report
        .officers
        .iter()
        .find_map(|o| o.device_id)
        .ok_or_else(|| CliError::new(format!("{department}: no enrolled device in the report")))?;
    let r = http
        .post(
            &format!("/v1/devices/{device}/reattest"),
            "application/json",
            b"{}",
        )
        .map_err(err)?;
    if r.status != 200 {
        return Err(CliError::new(format!(
            "POST /v1/devices/{device}/reattest: HTTP {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )));
    }
    let page = format!("/v1/compliance?department={department}&page=1&per_page=50");
    let first_page_cold = timed_get(http, &page)?.0;
    let mut first_page_warm = Vec::new();
    for _ in 0..3 {
        first_page_warm.push(timed_get(http, &page)?.0);
    }
    let started = Instant::now();
    read_transaction(store, |tx| {
        department_report(tx, department, &EvalContext::at(now()))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .map_err(err)?;
    let build_ms = ms(started.elapsed());
    let (read_officers_ms, read_devices_ms) = read_transaction(store, |tx| {
        let started = Instant::now();
        tx.officers_of(department)?;
        let officers = ms(started.elapsed());
        let started = Instant::now();
        tx.department_devices(department)?;
        Ok::<_, StoreError>((officers, ms(started.elapsed())))
    })
    .map_err(err)?;
    let mut officer = Vec::new();
    for _ in 0..5 {
        officer.push(timed_get(http, &format!("/v1/officers/{enrolled}"))?.0);
    }
    Ok(DepartmentFigures {
        department: department.to_string(),
        officers: n,
        devices,
        seed_seconds,
        build_ms,
        read_officers_ms,
        read_devices_ms,
        compliance_cold_ms: cold,
        compliance_warm_ms: median(warm),
        compliance_bytes: body.len(),
        first_page_cold_ms: first_page_cold,
        first_page_warm_ms: median(first_page_warm),
        officer_ms: median(officer),
        summary: report.summary,
    })
}

/// Runs `pramaan bench --console N --baseline M`.
pub fn run_console(
    n: u64,
    baseline: u64,
    data: Option<&std::path::Path>,
) -> Result<ConsoleReport, CliError> {
    if n == 0 || baseline == 0 {
        return Err(CliError::new(
            "--console and --baseline must be at least 1 officer",
        ));
    }
    let (dir, init, config) = bench_setup(data, "bench-console")?;
    let running = pramaan_server::server::start_with_config(&dir.0, config).map_err(err)?;
    let store = running.store();
    let http = HttpsClient::new(
        &running.url,
        Trust::Pin(running.pin),
        Options {
            attempts: 1,
            io_timeout: Duration::from_secs(300),
            max_response: 1 << 30,
            ..Options::default()
        },
    )
    .map_err(err)?
    .with_bearer(init.admin_token.trim());
    let base = measure(store.as_ref(), &http, "CONSOLEM", baseline)?;
    let large = measure(store.as_ref(), &http, "CONSOLEN", n)?;
    let per = |v: f64, k: u64| v / k as f64;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Ok(ConsoleReport {
        cold_ratio: ratio(
            per(large.compliance_cold_ms, n),
            per(base.compliance_cold_ms, baseline),
        ),
        warm_ratio: ratio(
            per(large.compliance_warm_ms, n),
            per(base.compliance_warm_ms, baseline),
        ),
        build_ratio: ratio(per(large.build_ms, n), per(base.build_ms, baseline)),
        officer_ratio: ratio(large.officer_ms, base.officer_ms),
        large,
        baseline: base,
    })
}

/// Prints the report as a table.
pub fn print_console(r: &ConsoleReport) {
    outln!("pramaan bench --console: the department report over TLS (admin token)");
    for d in [&r.baseline, &r.large] {
        outln!(
            "  {} officers ({} devices, seeded in {:.1} s):",
            d.officers,
            d.devices,
            d.seed_seconds
        );
        outln!(
            "    GET /v1/compliance   cold {:>9.1} ms   warm {:>9.1} ms   ({:.1} MB JSON)",
            d.compliance_cold_ms,
            d.compliance_warm_ms,
            d.compliance_bytes as f64 / 1e6
        );
        outln!(
            "    first page (50)      after a change {:>9.1} ms   cached {:>9.1} ms",
            d.first_page_cold_ms,
            d.first_page_warm_ms
        );
        outln!(
            "    report built in-process {:>9.1} ms   ({:.2} us per officer; reading officers {:.1} ms, devices {:.1} ms)",
            d.build_ms,
            d.build_ms * 1000.0 / d.officers as f64,
            d.read_officers_ms,
            d.read_devices_ms
        );
        outln!("    GET /v1/officers/ID  {:>9.2} ms", d.officer_ms);
        let summary: Vec<String> = d.summary.iter().map(|(k, v)| format!("{k} {v}")).collect();
        outln!("    statuses             {}", summary.join(", "));
    }
    outln!(
        "  per-officer ratio {} / {} (1 = linear): cold {:.2}   warm {:.2}   build {:.2};   officer page {:.2}",
        r.large.officers,
        r.baseline.officers,
        r.cold_ratio,
        r.warm_ratio,
        r.build_ratio,
        r.officer_ratio
    );
}

//! The per-officer compliance view of a department (design section 6), built from store
//! rows by core's `policy::evaluate_officer`.
//!
//! Why here and not in a handler: the API (`GET /v1/compliance`, `GET /v1/officers/{id}`)
//! and the dashboard show the same view, and the rules themselves are core's; this module
//! only gathers the inputs (registry row, policy, rosters, every device of the officer with
//! its latest accepted attestation) and shapes the answer. Callers run it in a read
//! transaction (`store::read_transaction`): it only reads, and must not wait for writers.

use std::collections::{BTreeMap, HashMap};

use pramaan_core::claims::Attestation;
use pramaan_core::policy::{
    Accepted, ComplianceStatus, EvalContext, Evaluation, Officer, Policy, Roster, evaluate_officer,
};
use pramaan_core::text::csv_cell;
use pramaan_core::times::rfc3339;

use crate::store::{AttestationRow, DeviceRow, StoreError, Tx};

/// Errors of building the view.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The department has no policy yet, so nobody can be evaluated.
    #[error("department {0} has no policy")]
    NoPolicy(String),
    /// No department `asked`, but the caller may read `suggestion`, which differs only in
    /// case.
    #[error("no department {asked}; did you mean {suggestion}?")]
    NoDepartment {
        /// The id as the request gave it.
        asked: String,
        /// The department meant, as stored.
        suggestion: String,
    },
    /// A stored attestation or row does not decode.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub use pramaan_core::api::{ComplianceReport, OfficerCompliance, OfficerStatus};

/// A device with its latest accepted attestation, decoded.
#[derive(Debug, Clone)]
pub struct DeviceWithLatest {
    /// The enrolled device.
    pub device: DeviceRow,
    /// Its latest accepted attestation (row and decoded claims), if it ever attested.
    pub latest: Option<(AttestationRow, Attestation)>,
}

/// Every device of `officer_id` with its latest attestation.
pub fn devices_with_latest(
    tx: &mut dyn Tx,
    officer_id: &str,
) -> Result<Vec<DeviceWithLatest>, ComplianceError> {
    let mut out = Vec::new();
    for device in tx.devices_of_officer(officer_id)? {
        let latest = tx
            .latest_attestation(&device.device_id)?
            .map(decoded)
            .transpose()?;
        out.push(DeviceWithLatest { device, latest });
    }
    Ok(out)
}

impl ComplianceError {
    /// "no department `asked`; did you mean `suggestion`?"
    pub fn no_department(asked: &str, suggestion: &str) -> Self {
        ComplianceError::NoDepartment {
            asked: asked.to_string(),
            suggestion: suggestion.to_string(),
        }
    }
}

/// The department's policy. Without one, a department that differs only in case and has
/// a policy is suggested ([`similar_department`]); callers have checked that the caller
/// may read `department`, and auditors and admins (the only ones who reach here with
/// another department's id) may read every department.
pub fn load_policy(tx: &mut dyn Tx, department: &str) -> Result<Policy, ComplianceError> {
    match tx.policy(department)? {
        Some(policy) => Ok(policy),
        None => Err(no_policy(tx, department)?),
    }
}

/// Why `department` has no policy: [`ComplianceError::NoDepartment`] when one in another
/// case has ([`similar_department`]), else [`ComplianceError::NoPolicy`].
pub fn no_policy(tx: &mut dyn Tx, department: &str) -> Result<ComplianceError, StoreError> {
    Ok(match similar_department(tx, department)? {
        Some(meant) => ComplianceError::no_department(department, &meant),
        None => ComplianceError::NoPolicy(department.to_string()),
    })
}

/// A department with a policy whose id is `department` in upper or lower case (`GAD`
/// for `gad`): department ids are codes written in one case, so these two forms find
/// the department a caller meant without listing every department.
pub fn similar_department(tx: &mut dyn Tx, department: &str) -> Result<Option<String>, StoreError> {
    for candidate in [
        department.to_ascii_uppercase(),
        department.to_ascii_lowercase(),
    ] {
        if candidate != department && tx.policy(&candidate)?.is_some() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// One officer's evaluation with what reports show beside it.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// Core's verdict on the officer.
    pub evaluation: Evaluation,
    /// When the device the status rests on last checked in (its latest accepted
    /// attestation's `received_at`): not another device's, so a revoked phone does not
    /// lend its last check-in to an officer who re-enrolled.
    pub last_seen: Option<u64>,
    /// The officer's unrevoked devices (more than one is flagged in reports).
    pub active_devices: u32,
}

/// Evaluates one officer with core's rules.
pub fn evaluate(
    policy: &Policy,
    officer: &Officer,
    devices: &[DeviceWithLatest],
    rosters: &[Roster],
    ctx: &EvalContext<'_>,
) -> Evaluated {
    let states: Vec<_> = devices
        .iter()
        .map(|d| {
            crate::attest::device_state(
                &d.device,
                d.latest.as_ref().map(|(row, claims)| Accepted {
                    claims,
                    received_at: row.received_at,
                    fresh_nonce: row.fresh_nonce,
                }),
            )
        })
        .collect();
    let evaluation = evaluate_officer(policy, officer, &states, rosters, ctx);
    let last_seen = evaluation.device_id.and_then(|id| {
        devices
            .iter()
            .find(|d| d.device.device_id == id)
            .and_then(|d| d.latest.as_ref().map(|(row, _)| row.received_at))
    });
    let active = devices.iter().filter(|d| !d.device.revoked).count();
    Evaluated {
        evaluation,
        last_seen,
        active_devices: u32::try_from(active).unwrap_or(u32::MAX),
    }
}

/// The distinct, non-empty group handles in the latest claims of `device_id` (the device
/// an officer's status is based on), in the order reported.
fn reported_handles(devices: &[DeviceWithLatest], device_id: Option<&uuid::Uuid>) -> Vec<String> {
    let Some(claims) = devices
        .iter()
        .find(|d| Some(&d.device.device_id) == device_id)
        .and_then(|d| d.latest.as_ref().map(|(_, claims)| claims))
    else {
        return Vec::new();
    };
    let mut handles: Vec<String> = Vec::new();
    for g in &claims.groups {
        if !g.handle.is_empty() && !handles.contains(&g.handle) {
            handles.push(g.handle.clone());
        }
    }
    handles
}

impl Evaluated {
    /// The report's line for `officer`.
    /// `handles`: what the device the status rests on reported (the dashboard's search).
    pub fn line(self, officer: Officer, handles: Vec<String>) -> OfficerCompliance {
        let eval = self.evaluation;
        OfficerCompliance {
            officer_id: officer.officer_id,
            name: officer.name,
            designation: officer.designation,
            email: officer.email,
            handles,
            entitled: officer.entitled,
            status: eval.status,
            failures: eval.failures,
            device_id: eval.device_id,
            last_seen: self.last_seen,
            evidence: eval.evidence,
            platform: None,
            assurance: None,
            device_evidence: None,
            evidence_at: None,
            active_devices: self.active_devices,
        }
        .with_proof(eval.proof.as_ref())
    }

    /// The officer view's status (`GET /v1/officers/{id}`, `compliance`).
    pub fn status(self) -> OfficerStatus {
        let eval = self.evaluation;
        let proof = eval.proof.as_ref();
        OfficerStatus {
            status: eval.status,
            device_id: eval.device_id,
            last_seen: self.last_seen,
            platform: proof.map(|p| p.platform),
            assurance: proof.map(|p| p.assurance),
            device_evidence: proof.map(|p| p.evidence.clone()),
            evidence_at: proof.map(|p| p.evidence_at),
            active_devices: self.active_devices,
            failures: eval.failures,
            evidence: eval.evidence,
        }
    }
}

/// A stored attestation with its claims decoded.
fn decoded(row: AttestationRow) -> Result<(AttestationRow, Attestation), ComplianceError> {
    let claims = Attestation::from_stored_cbor(&row.claims)
        .map_err(|e| ComplianceError::Corrupt(format!("stored claims: {e}")))?;
    Ok((row, claims))
}

/// A device as stored, with its latest accepted attestation (claims not yet decoded).
type StoredDevice = (DeviceRow, Option<AttestationRow>);

/// Departments with fewer officers are evaluated on the calling thread: below this,
/// starting threads costs more than it saves.
const PARALLEL_FROM: usize = 2_000;

/// The view of every registered officer of `department` at `ctx.now`.
///
/// Three reads for the whole department, whatever its size: the parsed rules (cached per
/// generation), the officers, and every device of theirs with its latest attestation
/// ([`Tx::department_devices`]). Then, in memory and spread over the cores for a large
/// department, each device's claims are decoded once and each officer is evaluated
/// (before, two queries per officer: 200,000 statements for a 100,000-officer
/// department). `pramaan bench --console` measures it.
pub fn department_report(
    tx: &mut dyn Tx,
    department: &str,
    ctx: &EvalContext<'_>,
) -> Result<ComplianceReport, ComplianceError> {
    let now = ctx.now;
    // The store's parsed copy (cached per generation, as for attestations).
    let Some(rules) = tx.department_rules(department)? else {
        return Err(no_policy(tx, department)?);
    };
    let registry = tx.officers_of(department)?;
    let mut by_officer: HashMap<String, Vec<StoredDevice>> = HashMap::with_capacity(registry.len());
    for (device, latest) in tx.department_devices(department)? {
        by_officer
            .entry(device.officer_id.clone())
            .or_default()
            .push((device, latest));
    }
    let work: Vec<(Officer, Vec<StoredDevice>)> = registry
        .into_iter()
        .map(|o| {
            let devices = by_officer.remove(&o.officer_id).unwrap_or_default();
            (o, devices)
        })
        .collect();
    let evaluate_all = |part: Vec<(Officer, Vec<StoredDevice>)>| {
        part.into_iter()
            .map(|(officer, devices)| {
                let devices = devices
                    .into_iter()
                    .map(|(device, latest)| {
                        Ok(DeviceWithLatest {
                            device,
                            latest: latest.map(decoded).transpose()?,
                        })
                    })
                    .collect::<Result<Vec<_>, ComplianceError>>()?;
                let evaluated = evaluate(&rules.policy, &officer, &devices, &rules.rosters, ctx);
                let handles = reported_handles(&devices, evaluated.evaluation.device_id.as_ref());
                Ok(evaluated.line(officer, handles))
            })
            .collect::<Result<Vec<_>, ComplianceError>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let officers = if work.len() < PARALLEL_FROM || threads < 2 {
        evaluate_all(work)?
    } else {
        let per = work.len().div_ceil(threads);
        let mut parts = Vec::with_capacity(threads);
        let mut rest = work;
        while rest.len() > per {
            let tail = rest.split_off(per);
            parts.push(rest);
            rest = tail;
        }
        parts.push(rest);
        let evaluate_all = &evaluate_all;
        let lines = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .into_iter()
                .map(|part| s.spawn(move || evaluate_all(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ComplianceError::Corrupt("a report thread panicked".into()))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        lines.into_iter().flatten().collect()
    };
    let mut summary: BTreeMap<String, u64> = ComplianceStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for line in &officers {
        *summary.entry(line.status.as_str().to_string()).or_default() += 1;
    }
    Ok(ComplianceReport {
        department: department.to_string(),
        generated_at: now,
        officers,
        summary,
    })
}

/// How long a cached department report may be served while nothing it depends on
/// changed: statuses also change with time alone (a check-in window runs out), so a
/// report is rebuilt at least once per this many seconds.
pub const REPORT_CACHE_SECS: u64 = 60;

/// Most departments whose report a [`ReportCache`] holds; past it, it starts over (a
/// 100,000-officer report takes tens of megabytes).
const MAX_CACHED_REPORTS: usize = 8;

/// What a cached report was built from. Every input of a verdict is appended to the audit
/// log in the transaction that changes it (design section 7: registry, policy, rosters,
/// enrollments, attestations, revocations, status lists), so an unchanged log size and
/// department generation mean unchanged inputs; the time bucket bounds how old its
/// clock gets. The status list is the caller's copy (each instance follows the stored one
/// a moment after it changes), so its fetch time is part of the key too: a report built
/// after another instance installed a list but before this one took it up is not served
/// once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReportKey {
    generation: u64,
    log_size: u64,
    bucket: u64,
    status_list_fetched_at: Option<u64>,
}

/// The last report built per department, served again while its [`ReportKey`] holds.
///
/// Why: department IT's dashboard pages, sorts and filters one report (and refreshes it);
/// building a 100,000-officer report takes most of a second, and repeating it for every
/// page request while nothing changed is waste. A key read in the caller's own
/// transaction (not an invalidation by writers) makes it right with several servers on
/// one database: any change anywhere moves the log, and a stale entry is only a miss.
#[derive(Debug, Default)]
pub struct ReportCache {
    entries: std::sync::Mutex<HashMap<String, (ReportKey, std::sync::Arc<ComplianceReport>)>>,
}

impl ReportCache {
    /// The department's report at `ctx.now` as `tx` sees the store: the cached one if
    /// built from the same inputs within the same [`REPORT_CACHE_SECS`] bucket, else
    /// [`department_report`] (and cached).
    pub fn report(
        &self,
        tx: &mut dyn Tx,
        department: &str,
        ctx: &EvalContext<'_>,
    ) -> Result<std::sync::Arc<ComplianceReport>, ComplianceError> {
        let key = ReportKey {
            generation: tx.department_generation(department)?,
            log_size: tx.log().size()?,
            bucket: ctx.now / REPORT_CACHE_SECS,
            status_list_fetched_at: ctx.status_list.as_ref().map(|l| l.fetched_at),
        };
        let poisoned = || ComplianceError::Corrupt("the report cache lock is poisoned".into());
        if let Some((_, hit)) = self
            .entries
            .lock()
            .map_err(|_| poisoned())?
            .get(department)
            .filter(|(k, _)| *k == key)
        {
            return Ok(hit.clone());
        }
        let report = std::sync::Arc::new(department_report(tx, department, ctx)?);
        let mut entries = self.entries.lock().map_err(|_| poisoned())?;
        if entries.len() >= MAX_CACHED_REPORTS && !entries.contains_key(department) {
            entries.clear();
        }
        entries.insert(department.to_string(), (key, report.clone()));
        Ok(report)
    }
}

/// The report as CSV: `officer_id,name,designation,entitled,status,failures,device_id,
/// last_seen,platform,assurance,device_evidence,evidence_at,active_devices` (failures
/// joined as `R1: detail; R4: detail`; times RFC 3339 UTC, as a spreadsheet reads them,
/// where the JSON answer keeps Unix seconds). Every text cell a device, the registry or
/// IT typed goes through [`csv_cell`]: a name or failure detail starting with `=`, `+`,
/// `-` or `@` is text in a spreadsheet, never a formula.
pub fn to_csv(report: &ComplianceReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "officer_id",
        "name",
        "designation",
        "entitled",
        "status",
        "failures",
        "device_id",
        "last_seen",
        "platform",
        "assurance",
        "device_evidence",
        "evidence_at",
        "active_devices",
    ]);
    for o in &report.officers {
        let failures = o
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.rule.as_str(), f.detail))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = w.write_record([
            &*csv_cell(&o.officer_id),
            &*csv_cell(&o.name),
            &*csv_cell(&o.designation),
            if o.entitled { "true" } else { "false" },
            o.status.as_str(),
            &*csv_cell(&failures),
            &o.device_id.map(|d| d.to_string()).unwrap_or_default(),
            &o.last_seen.map(rfc3339).unwrap_or_default(),
            o.platform.map(|p| p.as_str()).unwrap_or_default(),
            o.assurance.map(|a| a.as_str()).unwrap_or_default(),
            &*csv_cell(o.device_evidence.as_deref().unwrap_or_default()),
            &o.evidence_at.map(rfc3339).unwrap_or_default(),
            &o.active_devices.to_string(),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SqliteStore, transaction};

    fn officer(id: &str, entitled: bool) -> Officer {
        Officer {
            officer_id: id.into(),
            name: format!("Officer {id}"),
            designation: "Deputy Secretary".into(),
            department: "GAD".into(),
            email: format!("{id}@gujarat.gov.in"),
            mobile: "+919800000001".into(),
            entitled,
            gr_reference: None,
            phone_model: None,
            phone_purchased: None,
            retired_at: None,
        }
    }

    /// GAD's policy as JSON, WhatsApp's signers from the built-in catalog.
    fn policy_json() -> String {
        let signers = pramaan_core::catalog::Catalog::builtin()
            .find("WhatsApp")
            .map(|p| p.android_signers.clone())
            .unwrap_or_default();
        serde_json::json!({"department":"GAD","check_in_hours":24,"email_domains":["gujarat.gov.in"],
            "platforms":[{"name":"WhatsApp","android_package":"com.whatsapp","android_signers":signers}],
            "groups":[{"platform":"WhatsApp","id":"gad-officers"}]})
        .to_string()
    }

    /// GAD's report at time 100 with `officers` in the registry and no device.
    fn report_of(officers: &[Officer]) -> ComplianceReport {
        let store = SqliteStore::in_memory().expect("store");
        transaction(&store, |tx| {
            let policy: Policy = serde_json::from_str(&policy_json()).expect("policy");
            tx.set_policy("GAD", &policy, "test", 1)?;
            for o in officers {
                tx.upsert_officer(o, 1)?;
            }
            department_report(tx, "GAD", &EvalContext::at(100))
        })
        .expect("report")
    }

    #[test]
    fn officers_without_devices_are_not_enrolled_and_counted() {
        let report = report_of(&[officer("GAD-001", true), officer("GAD-002", false)]);
        assert_eq!(report.officers.len(), 2);
        assert_eq!(report.officers[0].status, ComplianceStatus::NotEnrolled);
        assert_eq!(report.officers[1].status, ComplianceStatus::NotEntitled);
        assert_eq!(report.summary.get("not_enrolled"), Some(&1));
        assert_eq!(report.summary.get("not_entitled"), Some(&1));
        assert_eq!(report.summary.get("compliant"), Some(&0));
        // The entitled officer is told why (R2); the other is not blamed.
        assert_eq!(report.officers[0].failures.len(), 1);
        assert!(report.officers[1].failures.is_empty());
        let csv = to_csv(&report);
        assert!(csv.starts_with("officer_id,name,designation,entitled,status"));
        assert!(csv.contains("GAD-001,Officer GAD-001,Deputy Secretary,true,not_enrolled,R2: "));
    }

    #[test]
    fn csv_cells_typed_by_people_or_devices_cannot_be_formulas() {
        let mut first = officer("GAD-001", true);
        first.name = "=HYPERLINK(\"http://x.example\",\"click\")".into();
        first.designation = "@SUM(A1:A9)".into();
        let mut second = officer("GAD-002", true);
        second.name = "+91 98".into();
        second.designation = "-Deputy\u{1b}[2J".into();
        let report = report_of(&[first, second]);
        let csv = to_csv(&report);
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .map(|r| r.expect("record").iter().map(str::to_string).collect())
            .collect();
        assert_eq!(rows[0][1], "'=HYPERLINK(\"http://x.example\",\"click\")");
        assert_eq!(rows[0][2], "'@SUM(A1:A9)");
        assert_eq!(rows[1][1], "'+91 98");
        assert_eq!(rows[1][2], "'-Deputy\\u{001B}[2J");
        // Nothing a spreadsheet evaluates, nothing a terminal acts on, in any cell.
        for row in &rows {
            for cell in row {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell:?} in {csv}");
                assert!(pramaan_core::text::first_unsafe_char(cell).is_none());
            }
        }
    }

    #[test]
    fn a_department_in_another_case_is_suggested() {
        let store = SqliteStore::in_memory().expect("store");
        let found = transaction(&store, |tx| {
            let policy: Policy = serde_json::from_str(&policy_json()).expect("policy");
            tx.set_policy("GAD", &policy, "test", 1)?;
            let gad = load_policy(tx, "gad").err().map(|e| e.to_string());
            let mixed = load_policy(tx, "gAd").err().map(|e| e.to_string());
            let none = load_policy(tx, "HD").err().map(|e| e.to_string());
            Ok::<_, StoreError>((gad, mixed, none, load_policy(tx, "GAD").is_ok()))
        })
        .expect("tx");
        assert_eq!(
            found.0.as_deref(),
            Some("no department gad; did you mean GAD?")
        );
        assert_eq!(
            found.1.as_deref(),
            Some("no department gAd; did you mean GAD?")
        );
        assert_eq!(found.2.as_deref(), Some("department HD has no policy"));
        assert!(found.3);
    }

    #[test]
    fn no_policy_is_an_error() {
        let store = SqliteStore::in_memory().expect("store");
        let r = transaction(&store, |tx| {
            department_report(tx, "REV", &EvalContext::at(1))
        });
        assert!(matches!(r, Err(ComplianceError::NoPolicy(d)) if d == "REV"));
    }
}

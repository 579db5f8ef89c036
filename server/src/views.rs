//! The officer and device views of department IT (design section 8): one officer with
//! every device and its recent results (`GET /v1/officers/{id}`), and a department's
//! devices (`GET /v1/devices`).
//!
//! Why a module of its own: the API, the command line (`pramaan officers show`,
//! `pramaan devices list`) and the dashboard's officer page show these same answers, typed
//! in `pramaan_core::api`; the compliance rules stay in [`crate::compliance`] (and core),
//! and this module only gathers rows and shapes them. Callers run it in a read
//! transaction. Every read is bounded: the recent results of a device are at most
//! [`RECENT_RESULTS`] rows, whatever its history.

use std::collections::HashMap;

use pramaan_core::api::{
    DeviceList, DeviceListEntry, DeviceStatusFilter, LatestResult, OfficerDevice, OfficerView,
    RecentResult,
};
use pramaan_core::policy::{EvalContext, Officer};
use pramaan_core::times::age_days;

use crate::compliance::{self, ComplianceError};
use crate::store::{AttestationRow, StoreError, Tx};

/// How many of a device's latest accepted attestations the officer view lists.
pub const RECENT_RESULTS: u32 = 10;

impl From<AttestationRow> for RecentResult {
    fn from(a: AttestationRow) -> Self {
        RecentResult {
            seq: a.seq,
            received_at: a.received_at,
            verdict: a.verdict,
            failures: a.failures,
            log_index: a.log_index,
            fresh_nonce: a.fresh_nonce,
        }
    }
}

/// `officer` with every device (revoked ones included), each with its latest and
/// [`RECENT_RESULTS`] recent results, and the status under the department's policy at
/// `ctx.now` (`None` while the department has none).
pub fn officer_view(
    tx: &mut dyn Tx,
    officer: Officer,
    ctx: &EvalContext<'_>,
) -> Result<OfficerView, ComplianceError> {
    let devices = compliance::devices_with_latest(tx, &officer.officer_id)?;
    let status = tx.department_rules(&officer.department)?.map(|rules| {
        compliance::evaluate(&rules.policy, &officer, &devices, &rules.rosters, ctx).status()
    });
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        let recent = tx
            .recent_attestations(&d.device.device_id, RECENT_RESULTS)?
            .into_iter()
            .map(RecentResult::from)
            .collect();
        let device = d.device;
        let latest = d.latest.map(|(row, _)| row);
        out.push(OfficerDevice {
            device_id: device.device_id,
            platform: device.platform,
            model: device.model,
            attested_model: device.evidence_summary.attested_model.clone(),
            assurance: device.assurance,
            evidence_age_days: age_days(device.evidence_summary.checked_at, ctx.now),
            evidence: device.evidence_summary,
            last_fresh_at: device.freshness.last_fresh_at,
            offline_run: device.freshness.offline_run,
            public_key: pramaan_core::encoding::b64url(&device.public_key),
            revoked: device.revoked,
            reason: device.reason,
            enrolled_at: device.enrolled_at,
            last_seq: device.last_seq,
            last_check_in: latest.as_ref().map(|a| a.received_at),
            latest: latest.map(|a| LatestResult {
                seq: a.seq,
                iat: a.iat,
                received_at: a.received_at,
                fresh_nonce: a.fresh_nonce,
                verdict: a.verdict,
                failures: a.failures,
                log_index: a.log_index,
            }),
            recent,
        });
    }
    Ok(OfficerView {
        officer,
        devices: out,
        compliance: status,
    })
}

/// Whether `department` is known to the server: it has a policy or registered officers.
/// An unknown department and one the caller may not read get the same answer.
pub fn department_known(tx: &mut dyn Tx, department: &str) -> Result<bool, StoreError> {
    Ok(tx.policy(department)?.is_some() || !tx.officers_of(department)?.is_empty())
}

/// The devices of `department`'s registered officers that `filter` admits, by officer id
/// then enrollment time, at `now`. Two reads, whatever the department's size.
pub fn device_list(
    tx: &mut dyn Tx,
    department: &str,
    filter: DeviceStatusFilter,
    now: u64,
) -> Result<DeviceList, StoreError> {
    let names: HashMap<String, String> = tx
        .officers_of(department)?
        .into_iter()
        .map(|o| (o.officer_id, o.name))
        .collect();
    let devices = tx
        .department_devices(department)?
        .into_iter()
        .filter(|(d, _)| filter.admits(d.revoked))
        .map(|(d, latest)| DeviceListEntry {
            // Claims the server accepted: they decode; if not, the version is unknown.
            protocol: latest.as_ref().and_then(|a| {
                pramaan_core::claims::Attestation::from_stored_cbor(&a.claims)
                    .ok()
                    .map(|c| c.protocol.number())
            }),
            officer_name: names.get(&d.officer_id).cloned().unwrap_or_default(),
            device_id: d.device_id,
            officer_id: d.officer_id,
            platform: d.platform,
            model: d.model,
            assurance: d.assurance,
            enrolled_at: d.enrolled_at,
            last_check_in: latest.map(|a| a.received_at),
            revoked: d.revoked,
            reason: d.reason,
            evidence_at: d.evidence_summary.checked_at,
            evidence_age_days: age_days(d.evidence_summary.checked_at, now),
        })
        .collect();
    Ok(DeviceList {
        department: department.to_string(),
        generated_at: now,
        devices,
    })
}

//! Department IT, auditor and admin endpoints (design section 8). JSON in and out, every
//! endpoint behind a bearer token, every department-scoped one checked against the
//! token's department.
//!
//! Who may do what: `it` reads and changes its own department only; `auditor` reads every
//! department and changes nothing; `admin` does everything. An officer or device of a
//! department the caller may not see is answered exactly as one that does not exist
//! (`no_officer`, `no_device`), so IT cannot learn which ids exist elsewhere.
//!
//! Every change that is an input of a verdict is appended to the audit log in the same
//! transaction as the change (so both commit or neither, and a refused request logs
//! nothing): policy changes,
//! revocations, registry imports (the rows as upserted), rosters (the handles as stored),
//! issued enrollment tokens (their SHA-256, never the token) and re-attestation requests.
//! An auditor replaying the log then sees every input a verdict rested on. Endpoints that
//! only read (compliance, officer, policy) use read transactions, which do not wait for
//! the writer.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use pramaan_core::api::{
    DeviceStatusFilter, EnrollTokenRequest, EnrollTokenResponse, ImportReport, RejectCode,
    RevokeRequest, RosterReport,
};
use pramaan_core::catalog::Catalog;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::policy::{Officer, Policy, RowError, officer_rows_from_csv, roster_from_csv};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{ApiError, AppState, Auth, IT_BODY_LIMIT, blocking, eval_context, json_response, now};
use crate::auth::{hash_secret, new_secret};
use crate::compliance::{self, ComplianceError};
use crate::store::{LogEntry, Role, read_transaction, transaction};
use crate::views;

/// The department IT, auditor and admin routes (`/v1/compliance`, `/v1/officers/...`,
/// `/v1/departments/...`, `/v1/enrollment-tokens`, `/v1/devices`, `/v1/devices/{id}/...`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/compliance", get(get_compliance))
        .route("/v1/officers/import", post(import_officers))
        .route("/v1/officers/{id}", get(get_officer))
        .route(
            "/v1/departments/{d}/policy",
            put(put_policy).get(get_policy),
        )
        .route("/v1/departments/{d}/groups/{g}/roster", put(put_roster))
        .route("/v1/enrollment-tokens", post(create_enrollment_token))
        .route("/v1/devices", get(get_devices))
        .route("/v1/devices/{id}/revoke", post(revoke_device))
        .route("/v1/devices/{id}/reattest", post(request_reattest))
}

const READERS: &[Role] = &[Role::It, Role::Auditor, Role::Admin];
const WRITERS: &[Role] = &[Role::It, Role::Admin];

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    match body {
        Ok(b) => Ok(b),
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::too_large(IT_BODY_LIMIT))
        }
        Err(rej) => Err(ApiError::new(RejectCode::Malformed, rej.body_text())),
    }
}

fn text_body(b: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let bytes = body(b)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(RejectCode::Malformed, "body is not UTF-8 text"))
}

fn json_body<T: for<'de> Deserialize<'de>>(
    b: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body(b)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(RejectCode::Malformed, format!("JSON body: {e}")))
}

impl From<ComplianceError> for ApiError {
    fn from(e: ComplianceError) -> Self {
        match e {
            ComplianceError::Store(s) => s.into(),
            ComplianceError::NoPolicy(d) => ApiError::new(
                RejectCode::NotFound,
                format!("department {d} has no policy yet (PUT /v1/departments/{d}/policy)"),
            ),
            ComplianceError::Corrupt(m) => {
                log::error!("compliance view: {}", crate::log_text::untrusted(&m));
                ApiError::internal("stored data is unreadable")
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ComplianceQuery {
    department: Option<String>,
    format: Option<String>,
}

async fn get_compliance(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ComplianceQuery>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let department = requested_department(&auth, q.department)?;
    auth.require_read(&department)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::new(
                RejectCode::BadFormat,
                format!("format {other:?} (expected json or csv)"),
            ));
        }
    };
    let st = state.clone();
    let report = blocking(move || {
        let list = st.status_list.current();
        let ctx = eval_context(list.as_deref());
        Ok(read_transaction(st.store.as_ref(), |tx| {
            st.reports.report(tx, &department, &ctx)
        })?)
    })
    .await?;
    if csv {
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            compliance::to_csv(&report),
        )
            .into_response())
    } else {
        Ok(json_response(&*report))
    }
}

/// `GET /v1/officers/{id}`: the registry row, the status and every device with its
/// recent results ([`crate::views::officer_view`]).
async fn get_officer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let st = state.clone();
    let auth2 = auth.clone();
    let view = blocking(move || {
        read_transaction(st.store.as_ref(), |tx| {
            let officer = tx
                .officer(&id)?
                .filter(|o| auth2.0.can_read(&o.department))
                .ok_or_else(|| no_officer(&id))?;
            let list = st.status_list.current();
            let ctx = eval_context(list.as_deref());
            Ok(views::officer_view(tx, officer, &ctx)?)
        })
    })
    .await?;
    Ok(json_response(&view))
}

#[derive(Debug, Deserialize)]
struct DevicesQuery {
    department: Option<String>,
    status: Option<String>,
}

/// `GET /v1/devices?department=D&status=active|revoked|all`: the department's devices
/// ([`crate::views::device_list`]). A department IT may not read is answered exactly as
/// one that does not exist ([`no_department`]).
async fn get_devices(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let department = requested_department(&auth, q.department)?;
    let filter = match q.status.as_deref() {
        None => DeviceStatusFilter::default(),
        Some(s) => s
            .parse::<DeviceStatusFilter>()
            .map_err(|e| ApiError::new(RejectCode::Malformed, e))?,
    };
    if !auth.0.can_read(&department) {
        return Err(no_department(&department));
    }
    let st = state.clone();
    let list = blocking(move || {
        read_transaction(st.store.as_ref(), |tx| {
            if !views::department_known(tx, &department)? {
                return Err(no_department(&department));
            }
            Ok(views::device_list(tx, &department, filter, now())?)
        })
    })
    .await?;
    Ok(json_response(&list))
}

/// The department a read names, or the IT token's own; auditors and admins must name one.
fn requested_department(auth: &Auth, asked: Option<String>) -> Result<String, ApiError> {
    match (asked, &auth.0.department) {
        (Some(d), _) => Ok(d),
        (None, Some(own)) => Ok(own.clone()),
        (None, None) => Err(ApiError::new(
            RejectCode::DepartmentRequired,
            "give ?department=D",
        )),
    }
}

async fn import_officers(
    State(state): State<AppState>,
    auth: Auth,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let text = text_body(b)?;
    let (officers, mut rejected) = officer_rows_from_csv(&text);
    let st = state.clone();
    let principal = auth.0.clone();
    let (imported, rejected) = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let now = now();
            let mut imported = 0u64;
            let mut accepted: Vec<&Officer> = Vec::new();
            let mut lines: Vec<RowError> = Vec::new();
            for (line, o) in &officers {
                let line = *line;
                if !principal.can_write(&o.department) {
                    lines.push(RowError {
                        line,
                        reason: format!(
                            "officer {}: department {} is not yours",
                            o.officer_id, o.department
                        ),
                    });
                    continue;
                }
                if let Some(existing) = tx.officer(&o.officer_id)?
                    && !principal.can_write(&existing.department)
                {
                    lines.push(RowError {
                        line,
                        // Officer ids are one namespace: the row cannot be imported,
                        // but the other department is not named.
                        reason: format!(
                            "officer {} is registered in another department",
                            o.officer_id
                        ),
                    });
                    continue;
                }
                accepted.push(o);
            }
            for o in &accepted {
                tx.upsert_officer(o, now)?;
                imported += 1;
            }
            if !accepted.is_empty() {
                tx.append_log(&LogEntry::RegistryImport {
                    at: now,
                    officers: accepted.into_iter().cloned().collect(),
                    by: principal.label.clone(),
                })?;
            }
            Ok::<_, ApiError>((imported, lines))
        })
        .map(|(imported, scope_errors)| {
            let mut all = std::mem::take(&mut rejected);
            all.extend(scope_errors);
            all.sort_by_key(|e| e.line);
            (imported, all)
        })
    })
    .await?;
    log::info!(
        "{} imported {imported} officer row(s), rejected {}",
        auth.0.label,
        rejected.len()
    );
    Ok(json_response(&ImportReport { imported, rejected }))
}

async fn get_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    auth.require_read(&d)?;
    let st = state.clone();
    let policy = blocking(move || {
        Ok(read_transaction(st.store.as_ref(), |tx| {
            compliance::load_policy(tx, &d)
        })?)
    })
    .await?;
    Ok(json_response(&policy))
}

async fn put_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    auth.require_write(&d)?;
    let text = text_body(b)?;
    let policy = Policy::load(&text, &Catalog::builtin())
        .map_err(|e| ApiError::new(RejectCode::InvalidPolicy, e.to_string()))?;
    if policy.department != d {
        return Err(ApiError::new(
            RejectCode::DepartmentMismatch,
            format!(
                "the policy is for department {:?} but was sent to {d:?}",
                policy.department
            ),
        ));
    }
    let policy_json =
        serde_json::to_string(&policy).map_err(|e| ApiError::internal(format!("policy: {e}")))?;
    let st = state.clone();
    let by = auth.0.label.clone();
    let dept = d.clone();
    let stored = policy.clone();
    let log_index = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let now = now();
            tx.set_policy(&dept, &stored, &by, now)?;
            Ok::<_, ApiError>(tx.append_log(&LogEntry::PolicyChange {
                at: now,
                department: dept.clone(),
                policy_json: policy_json.clone(),
                by: by.clone(),
            })?)
        })
    })
    .await?;
    log::info!("{} set the policy of {d}", auth.0.label);
    Ok(json_response(&json!({
        "department": d,
        "log_index": log_index,
        "policy": policy,
    })))
}

async fn put_roster(
    State(state): State<AppState>,
    auth: Auth,
    Path((d, g)): Path<(String, String)>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    auth.require_write(&d)?;
    let text = text_body(b)?;
    let rows = roster_from_csv(&text).map_err(|errors| {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::new(RejectCode::InvalidRoster, detail)
    })?;
    if let Some((_, other, _)) = rows.iter().find(|(_, group, _)| *group != g) {
        return Err(ApiError::new(
            RejectCode::InvalidRoster,
            format!("a row names group {other:?}; this is the roster of {g:?}"),
        ));
    }
    let st = state.clone();
    let (dept, group) = (d.clone(), g.clone());
    let by = auth.0.label.clone();
    let (platform, count) = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let policy = compliance::load_policy(tx, &dept)?;
            let spec = policy
                .groups
                .iter()
                .find(|s| s.id == group)
                .ok_or_else(|| {
                    ApiError::new(
                        RejectCode::UnknownGroup,
                        format!("the policy of {dept} has no group {group:?}"),
                    )
                })?;
            if let Some((p, _, _)) = rows.iter().find(|(p, _, _)| *p != spec.platform) {
                return Err(ApiError::new(
                    RejectCode::InvalidRoster,
                    format!(
                        "a row names platform {p:?}; group {group:?} is on {:?}",
                        spec.platform
                    ),
                ));
            }
            let handles: Vec<String> = rows.iter().map(|(_, _, h)| h.clone()).collect();
            tx.set_roster(&dept, &spec.platform, &group, &handles)?;
            // Logged as stored (duplicates dropped, in the store's order): what R4 reads.
            let stored: Vec<String> = tx
                .roster_rows(&dept)?
                .into_iter()
                .filter(|(p, g, _)| *p == spec.platform && *g == group)
                .map(|(_, _, h)| h)
                .collect();
            tx.append_log(&LogEntry::RosterSet {
                at: now(),
                department: dept.clone(),
                platform: spec.platform.clone(),
                group: group.clone(),
                handles: stored,
                by: by.clone(),
            })?;
            Ok((spec.platform.clone(), handles.len()))
        })
    })
    .await?;
    Ok(json_response(&RosterReport {
        department: d,
        platform,
        group: g,
        handles: count as u64,
    }))
}

async fn create_enrollment_token(
    State(state): State<AppState>,
    auth: Auth,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let req: EnrollTokenRequest = json_body(b)?;
    let token = new_secret()?;
    let hash = hash_secret(token.as_bytes());
    let st = state.clone();
    let principal = auth.0.clone();
    let officer_id = req.officer_id.clone();
    let allow_additional = req.allow_additional;
    let expires = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let now = now();
            let officer = tx
                .officer(&officer_id)?
                .filter(|o| principal.can_write(&o.department))
                .ok_or_else(|| no_officer(&officer_id))?;
            if tx.policy(&officer.department)?.is_none() {
                return Err(ApiError::new(
                    RejectCode::NoPolicy,
                    format!(
                        "department {} has no policy yet; set it before enrolling devices",
                        officer.department
                    ),
                ));
            }
            let expires = now.saturating_add(st.config.enrollment_token_ttl_secs);
            tx.insert_enroll_token(
                &hash,
                &officer_id,
                expires,
                allow_additional,
                &principal.label,
                now,
            )?;
            tx.append_log(&LogEntry::EnrollTokenIssued {
                at: now,
                department: officer.department.clone(),
                officer_id: officer_id.clone(),
                token_hash: hash.to_vec(),
                expires,
                allow_additional,
                by: principal.label.clone(),
            })?;
            Ok(expires)
        })
    })
    .await?;
    let uri = EnrollmentUri {
        server: state.public_url.clone(),
        token,
        pin: state.pin,
    };
    log::info!(
        "{} issued an enrollment token for officer {}",
        auth.0.label,
        crate::log_text::untrusted(&req.officer_id)
    );
    Ok(json_response(&EnrollTokenResponse {
        uri: uri.to_string(),
        expires,
        officer_id: req.officer_id,
    }))
}

async fn revoke_device(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let device_id = Uuid::parse_str(id.trim())
        .map_err(|_| ApiError::new(RejectCode::Malformed, format!("{id:?} is not a device id")))?;
    let req: RevokeRequest = json_body(b)?;
    let reason = req.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::new(RejectCode::Malformed, "a reason is required"));
    }
    let st = state.clone();
    let principal = auth.0.clone();
    let r = reason.clone();
    let log_index = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let device = active_device_to_write(tx, &principal, &device_id)?;
            tx.revoke_device(&device_id, &r)?;
            Ok(tx.append_log(&LogEntry::Revocation {
                at: now(),
                department: device.department,
                device_id,
                reason: r.clone(),
                by: principal.label.clone(),
            })?)
        })
    })
    .await?;
    log::info!("{} revoked device {device_id}", auth.0.label);
    Ok(json_response(&json!({
        "device_id": device_id,
        "revoked": true,
        "reason": reason,
        "log_index": log_index,
    })))
}

/// The unrevoked device `device_id` of a department `principal` may write to: `404`
/// unknown or another department's (the same answer, see [`no_device`]), `409` revoked.
fn active_device_to_write(
    tx: &mut dyn crate::store::Tx,
    principal: &crate::auth::Principal,
    device_id: &Uuid,
) -> Result<crate::store::DeviceRow, ApiError> {
    let device = tx
        .device(device_id)?
        .filter(|d| principal.can_write(&d.department))
        .ok_or_else(|| no_device(device_id))?;
    if device.revoked {
        return Err(ApiError::new(
            RejectCode::AlreadyRevoked,
            format!("device {device_id} is already revoked"),
        ));
    }
    Ok(device)
}

/// The answer for an officer id that does not exist, and also for one of a department
/// the caller may not see: a `403` there would tell another department's IT which
/// officer ids exist (the officer-existence oracle), so both get this same `404`.
fn no_officer(officer_id: &str) -> ApiError {
    ApiError::new(
        RejectCode::UnknownOfficer,
        format!("no officer {officer_id}"),
    )
}

/// The answer for a device id that does not exist or is another department's, for the
/// same reason as [`no_officer`].
fn no_device(device_id: &Uuid) -> ApiError {
    ApiError::new(RejectCode::NotFound, format!("no device {device_id}"))
}

/// The answer for a department that does not exist, and also for one the caller may not
/// read, for the same reason as [`no_officer`].
fn no_department(department: &str) -> ApiError {
    ApiError::new(RejectCode::NotFound, format!("no department {department}"))
}

/// `POST /v1/devices/{id}/reattest`: IT asks one device for fresh platform evidence at its
/// next online check-in (the answer to that check-in carries `reattest`).
async fn request_reattest(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let device_id = Uuid::parse_str(id.trim())
        .map_err(|_| ApiError::new(RejectCode::Malformed, format!("{id:?} is not a device id")))?;
    let st = state.clone();
    let principal = auth.0.clone();
    blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let device = active_device_to_write(tx, &principal, &device_id)?;
            tx.request_reattest(&device_id)?;
            tx.append_log(&LogEntry::ReattestRequested {
                at: now(),
                department: device.department,
                device_id,
                by: principal.label.clone(),
            })?;
            Ok(())
        })
    })
    .await?;
    log::info!(
        "{} asked device {device_id} for fresh evidence",
        auth.0.label
    );
    Ok(json_response(&json!({
        "device_id": device_id,
        "reattest_requested": true,
    })))
}

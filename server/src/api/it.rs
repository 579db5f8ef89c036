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
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use pramaan_core::api::{
    Departments, DeviceStatusFilter, EnrollTokenRequest, EnrollTokenResponse, ImportReport,
    RejectCode, RevokeRequest, RosterReport, WhoAmI,
};
use pramaan_core::catalog::Catalog;
use pramaan_core::enroll_uri::EnrollmentUri;
use pramaan_core::policy::{Officer, Policy, RowError, officer_rows_from_csv, roster_from_csv};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    ApiError, AppState, Auth, IMPORT_BODY_LIMIT, IT_BODY_LIMIT, blocking, eval_context,
    json_response, now,
};
use crate::auth::{hash_secret, new_secret};
use crate::compliance::{self, ComplianceError};
use crate::report_query::{QueryParams, ReportQuery};
use crate::store::{LogEntry, Role, read_transaction, transaction};
use crate::views;

/// The department IT, auditor and admin routes (`/v1/compliance`, `/v1/officers/...`,
/// `/v1/departments/...`, `/v1/enrollment-tokens`, `/v1/devices`, `/v1/devices/{id}/...`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/compliance", get(get_compliance))
        .route(
            "/v1/officers/import",
            post(import_officers).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/v1/officers/{id}", get(get_officer))
        .route("/v1/officers/{id}/retire", post(retire_officer))
        .route("/v1/officers/{id}/move", post(move_officer))
        .route("/v1/departments", get(get_departments))
        .route("/v1/whoami", get(whoami))
        .route("/v1/policy", get(get_own_policy))
        .route(
            "/v1/departments/{d}/policy",
            put(put_policy).get(get_policy),
        )
        .route("/v1/departments/{d}/groups/{g}/roster", put(put_roster))
        .route(
            "/v1/enrollment-tokens",
            post(create_enrollment_token).get(super::credentials::list_enrollment_tokens),
        )
        .route("/v1/devices", get(get_devices))
        .route("/v1/devices/{id}/revoke", post(revoke_device))
        .route("/v1/devices/{id}/reattest", post(request_reattest))
}

const READERS: &[Role] = &[Role::It, Role::Auditor, Role::Admin];
const WRITERS: &[Role] = &[Role::It, Role::Admin];

fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body_within(b, IT_BODY_LIMIT)
}

/// The body of a route whose limit is `limit` (named in the `413`).
fn body_within(b: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    match b {
        Ok(b) => Ok(b),
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::too_large(limit))
        }
        Err(rej) => Err(ApiError::new(RejectCode::Malformed, rej.body_text())),
    }
}

fn text_body(b: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    utf8(body(b)?)
}

fn utf8(bytes: Bytes) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(RejectCode::Malformed, "body is not UTF-8 text"))
}

/// A JSON body as `T`: `413` over the limit, `400 malformed` naming what does not parse.
pub(super) fn json_body<T: for<'de> Deserialize<'de>>(
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
                format!(
                    "department {d} has no policy yet: its IT or an admin sets one with \
                     `pramaan policy set POLICY.toml`"
                ),
            ),
            e @ ComplianceError::NoDepartment { .. } => {
                ApiError::new(RejectCode::NotFound, e.to_string())
            }
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
    #[serde(flatten)]
    view: QueryParams,
}

async fn get_compliance(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ComplianceQuery>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let department = auth.department(q.department)?;
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
    let query = ReportQuery::parse(&q.view)
        .map_err(|e| ApiError::new(RejectCode::Malformed, e.to_string()))?;
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
        // The export: every matched row, in the asked order (no page cut).
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            compliance::to_csv(&query.select(&report)),
        )
            .into_response())
    } else if let Some(paging) = query.paging {
        Ok(json_response(&query.page(&report, paging)))
    } else {
        Ok(json_response(&query.select(&report)))
    }
}

/// `GET /v1/departments`: the department picker's list. Auditors and admins get every
/// department with a policy or officers; IT gets its own (whatever it holds).
async fn get_departments(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let departments = match (auth.0.role, &auth.0.department) {
        (Role::It, Some(own)) => vec![own.clone()],
        (Role::It, None) => Vec::new(),
        (Role::Auditor | Role::Admin, _) => {
            let st = state.clone();
            blocking(move || Ok(read_transaction(st.store.as_ref(), |tx| tx.departments())?))
                .await?
        }
    };
    Ok(json_response(&Departments { departments }))
}

/// `GET /v1/whoami`: the role, department and public label of the bearer token (the
/// dashboard's "signed in as"); any valid token may ask.
async fn whoami(auth: Auth) -> Response {
    json_response(&WhoAmI {
        role: auth.0.role.to_string(),
        department: auth.0.department.clone(),
        label: auth.0.label.clone(),
    })
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
    let department = auth.department(q.department)?;
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

#[derive(Debug, Default, Deserialize)]
struct ImportQuery {
    /// Commit the good rows although some are rejected (the old behaviour).
    #[serde(default)]
    partial: bool,
    /// Validate and count only: nothing is written or logged.
    #[serde(default)]
    dry_run: bool,
}

/// What one good registry row would do to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowChange {
    Added,
    Updated,
    Unchanged,
    /// To another department (from the stored one).
    Moved,
    Reinstated,
}

/// An import classified against the store: each good row's change, rows refused for
/// the caller's scope, and warnings. Computed by [`plan_import`] alike for a dry run
/// (in a read transaction) and for a real import (in its write transaction).
struct ImportPlan {
    rows: Vec<(Officer, RowChange, Option<String>)>,
    scope_errors: Vec<RowError>,
    warnings: Vec<String>,
}

impl ImportPlan {
    fn report(&self, mut rejected: Vec<RowError>, dry_run: bool) -> ImportReport {
        let count = |c: RowChange| self.rows.iter().filter(|(_, r, _)| *r == c).count() as u64;
        rejected.extend(self.scope_errors.iter().cloned());
        rejected.sort_by_key(|e| e.line);
        ImportReport {
            imported: 0,
            rejected,
            added: count(RowChange::Added),
            updated: count(RowChange::Updated),
            unchanged: count(RowChange::Unchanged),
            moved: count(RowChange::Moved),
            reinstated: count(RowChange::Reinstated),
            warnings: self.warnings.clone(),
            dry_run,
        }
    }
}

/// Classifies every parsed row against the store (one indexed read per row, one policy
/// read per department: linear in the file). Refuses rows of departments the caller may
/// not write, and rows of officers registered in such a department (an IT token cannot
/// move another department's officer by importing it; an admin can: reported as moved).
fn plan_import(
    tx: &mut dyn crate::store::Tx,
    principal: &crate::auth::Principal,
    officers: &[(usize, Officer)],
) -> Result<ImportPlan, ApiError> {
    let mut plan = ImportPlan {
        rows: Vec::with_capacity(officers.len()),
        scope_errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut domains: std::collections::HashMap<String, Option<Vec<String>>> =
        std::collections::HashMap::new();
    for (line, o) in officers {
        let line = *line;
        if !principal.can_write(&o.department) {
            plan.scope_errors.push(RowError {
                line,
                field: Some("department".into()),
                reason: format!(
                    "officer {}: department {} is not yours",
                    o.officer_id, o.department
                ),
            });
            continue;
        }
        let existing = tx.officer(&o.officer_id)?;
        let (change, from) = match existing {
            None => (RowChange::Added, None),
            Some(e) if !principal.can_write(&e.department) => {
                // Officer ids are one namespace: the row cannot be imported, but the
                // other department is not named.
                plan.scope_errors.push(RowError {
                    line,
                    field: Some("officer_id".into()),
                    reason: format!(
                        "officer {} is registered in another department",
                        o.officer_id
                    ),
                });
                continue;
            }
            Some(e) if e.department != o.department => (RowChange::Moved, Some(e.department)),
            Some(e) if e.retired_at.is_some() => (RowChange::Reinstated, None),
            Some(e) if e == *o => (RowChange::Unchanged, None),
            Some(_) => (RowChange::Updated, None),
        };
        let allowed = match domains.get(&o.department) {
            Some(d) => d,
            None => {
                let d = tx.policy(&o.department)?.map(|p| p.email_domains);
                domains.entry(o.department.clone()).or_insert(d)
            }
        };
        if let Some(allowed) = allowed
            && let Some(w) = pramaan_core::policy::email_domain_warning(o, allowed)
        {
            plan.warnings.push(format!("line {line}: {w}"));
        }
        plan.rows.push((o.clone(), change, from));
    }
    Ok(plan)
}

/// Why an import's write transaction did not commit: an error, or the all-or-nothing
/// refusal of a file with rejected rows (its report goes back to the caller).
enum ImportAbort {
    Api(ApiError),
    Refused(ImportReport),
}

impl From<ApiError> for ImportAbort {
    fn from(e: ApiError) -> Self {
        ImportAbort::Api(e)
    }
}

impl From<crate::store::StoreError> for ImportAbort {
    fn from(e: crate::store::StoreError) -> Self {
        ImportAbort::Api(e.into())
    }
}

/// The `422 rows_rejected` answer: the import report with the error code and message, so
/// a client reads every row error from it.
fn rows_rejected(report: &ImportReport) -> Response {
    let code = RejectCode::RowsRejected;
    let mut body = serde_json::to_value(report).unwrap_or_else(|_| json!({}));
    if let Some(map) = body.as_object_mut() {
        map.insert("error".into(), json!(code.as_str()));
        map.insert(
            "message".into(),
            json!(format!(
                "{} row(s) rejected; nothing was imported (all or nothing: fix the rows, or \
                 import the good ones with `pramaan officers import --partial`)",
                report.rejected.len()
            )),
        );
    }
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, json_response(&body)).into_response();
    resp.extensions_mut()
        .insert(super::error::RejectReason(code));
    resp
}

/// Moves `officer_id` from `from` to `to` (devices follow, outstanding enrollment tokens
/// cancelled) and logs it, in the caller's transaction: the one path of `POST
/// /v1/officers/{id}/move` and of an admin's import row with another department.
fn move_and_log(
    tx: &mut dyn crate::store::Tx,
    officer_id: &str,
    from: &str,
    to: &str,
    principal: &crate::auth::Principal,
    now: u64,
) -> Result<(crate::store::OfficerChange, u64), ApiError> {
    let change = tx
        .move_officer(officer_id, to, &principal.label, now)?
        .ok_or_else(|| no_officer(officer_id))?;
    let index = tx.append_log(&LogEntry::OfficerMoved {
        at: now,
        officer_id: officer_id.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        devices: change.devices.clone(),
        by: principal.label.clone(),
    })?;
    Ok((change, index))
}

/// `POST /v1/officers/import[?partial=true][?dry_run=true]`: the registry CSV.
///
/// All or nothing by default: a rejected row (parse or scope) refuses the whole file with
/// `422 rows_rejected` and the report of every row error; nothing is written or logged.
/// `partial=true` writes the good rows. `dry_run=true` classifies and reports without
/// writing. Rows already stored exactly as imported are counted unchanged and not written
/// again; a row moving an officer to another department (admin) goes through
/// [`Tx::move_officer`](crate::store::Tx::move_officer) like `POST
/// /v1/officers/{id}/move`, logged as its own entry.
async fn import_officers(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ImportQuery>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let text = utf8(body_within(b, IMPORT_BODY_LIMIT)?)?;
    let started = std::time::Instant::now();
    let (officers, parse_errors) = officer_rows_from_csv(&text);
    drop(text);
    let st = state.clone();
    let principal = auth.0.clone();
    let refuse_all = !q.partial;
    let dry_run = q.dry_run;
    let report = blocking(move || {
        if dry_run {
            let plan = read_transaction(st.store.as_ref(), |tx| {
                plan_import(tx, &principal, &officers)
            })?;
            return Ok::<_, ApiError>(plan.report(parse_errors, true));
        }
        let outcome = transaction(st.store.as_ref(), |tx| {
            let plan = plan_import(tx, &principal, &officers)?;
            let mut report = plan.report(parse_errors.clone(), false);
            if refuse_all && !report.rejected.is_empty() {
                // Nothing written: the transaction is rolled back by the error.
                return Err(ImportAbort::Refused(report));
            }
            let now = now();
            let mut written = Vec::new();
            for (o, change, from) in plan.rows {
                if let (RowChange::Moved, Some(from)) = (change, from) {
                    move_and_log(tx, &o.officer_id, &from, &o.department, &principal, now)?;
                }
                if change != RowChange::Unchanged {
                    tx.upsert_officer(&o, now)?;
                    written.push(o);
                }
            }
            report.imported = written.len() as u64;
            if !written.is_empty() {
                tx.append_log(&LogEntry::RegistryImport {
                    at: now,
                    officers: written,
                    by: principal.label.clone(),
                })?;
            }
            Ok(report)
        });
        match outcome {
            Ok(r) | Err(ImportAbort::Refused(r)) => Ok(r),
            Err(ImportAbort::Api(e)) => Err(e),
        }
    })
    .await?;
    let verb = if report.dry_run {
        "checked (dry run)"
    } else {
        "imported"
    };
    let took = started.elapsed();
    log::info!(
        "{} {verb} officer rows in {took:.2?}: {} written, {} added, {} updated, {} unchanged, {} moved, {} reinstated, {} rejected",
        auth.0.label,
        report.imported,
        report.added,
        report.updated,
        report.unchanged,
        report.moved,
        report.reinstated,
        report.rejected.len()
    );
    if refuse_all && !report.dry_run && !report.rejected.is_empty() {
        return Ok(rows_rejected(&report));
    }
    Ok(json_response(&report))
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetireRequest {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveRequest {
    department: String,
}

/// The longest reason (retirement, revocation) accepted, in characters.
const MAX_REASON: usize = 1000;

/// `raw` trimmed: `400 malformed` when empty, longer than `max` characters or holding a
/// control or direction character (it is logged and shown to IT).
fn required_text(what: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ApiError::new(
            RejectCode::Malformed,
            format!("a {what} is required"),
        ));
    }
    if text.chars().count() > max {
        return Err(ApiError::new(
            RejectCode::Malformed,
            format!("the {what} is longer than {max} characters"),
        ));
    }
    if let Some((_, c)) = pramaan_core::text::first_unsafe_char(text) {
        return Err(ApiError::new(
            RejectCode::Malformed,
            format!(
                "the {what} holds the control or direction character U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    Ok(text.to_string())
}

/// `POST /v1/officers/{id}/retire {"reason": R}` (IT of the officer's department, admin):
/// the officer leaves the compliance report, the active devices are revoked with the
/// reason, outstanding enrollment tokens cancelled, one `officer_retired` log entry.
async fn retire_officer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let req: RetireRequest = json_body(b)?;
    let reason = required_text("reason", &req.reason, MAX_REASON)?;
    let st = state.clone();
    let principal = auth.0.clone();
    let r = reason.clone();
    let officer_id = id.clone();
    let (department, change, log_index) = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let officer = tx
                .officer(&officer_id)?
                .filter(|o| principal.can_write(&o.department))
                .ok_or_else(|| no_officer(&officer_id))?;
            if officer.retired_at.is_some() {
                return Err(ApiError::new(
                    RejectCode::Conflict,
                    format!("officer {officer_id} is retired already"),
                ));
            }
            let now = now();
            let change = tx
                .retire_officer(&officer_id, &r, &principal.label, now)?
                .ok_or_else(|| no_officer(&officer_id))?;
            let index = tx.append_log(&LogEntry::OfficerRetired {
                at: now,
                department: officer.department.clone(),
                officer_id: officer_id.clone(),
                reason: r.clone(),
                devices: change.devices.clone(),
                by: principal.label.clone(),
            })?;
            Ok((officer.department, change, index))
        })
    })
    .await?;
    log::info!(
        "{} retired officer {} of {} ({} device(s) revoked, {} enrollment token(s) cancelled)",
        auth.0.label,
        crate::log_text::untrusted(&id),
        crate::log_text::untrusted(&department),
        change.devices.len(),
        change.tokens_cancelled
    );
    Ok(json_response(&json!({
        "officer_id": id,
        "department": department,
        "retired": true,
        "reason": reason,
        "devices_revoked": change.devices,
        "enrollment_tokens_cancelled": change.tokens_cancelled,
        "log_index": log_index,
    })))
}

/// `POST /v1/officers/{id}/move {"department": D}` (admin only): the officer and every
/// device of the officer change department in one transaction (so the new department's
/// IT can revoke them and the old cannot), outstanding enrollment tokens are cancelled,
/// one `officer_moved` log entry records from and to.
async fn move_officer(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let req: MoveRequest = json_body(b)?;
    let to = required_text(
        "department",
        &req.department,
        pramaan_core::policy::csv::limits::DEPARTMENT,
    )?;
    let st = state.clone();
    let principal = auth.0.clone();
    let officer_id = id.clone();
    let dest = to.clone();
    let (from, change, log_index) = blocking(move || {
        transaction(st.store.as_ref(), |tx| {
            let officer = tx
                .officer(&officer_id)?
                .ok_or_else(|| no_officer(&officer_id))?;
            if officer.department == dest {
                return Err(ApiError::new(
                    RejectCode::Conflict,
                    format!("officer {officer_id} is in department {dest} already"),
                ));
            }
            if tx.policy(&dest)?.is_none() {
                return Err(ApiError::new(
                    RejectCode::NoPolicy,
                    format!(
                        "department {dest} has no policy yet; set it (`pramaan policy set`) before moving officers to it"
                    ),
                ));
            }
            let (change, index) = move_and_log(
                tx,
                &officer_id,
                &officer.department,
                &dest,
                &principal,
                now(),
            )?;
            Ok((officer.department, change, index))
        })
    })
    .await?;
    log::info!(
        "{} moved officer {} from {} to {} ({} device(s) follow)",
        auth.0.label,
        crate::log_text::untrusted(&id),
        crate::log_text::untrusted(&from),
        crate::log_text::untrusted(&to),
        change.devices.len()
    );
    Ok(json_response(&json!({
        "officer_id": id,
        "from": from,
        "to": to,
        "devices": change.devices,
        "enrollment_tokens_cancelled": change.tokens_cancelled,
        "log_index": log_index,
    })))
}

#[derive(Debug, Deserialize)]
struct DepartmentQuery {
    department: Option<String>,
}

/// `GET /v1/policy[?department=D]`: the policy of the named department, or of an IT
/// token's own (what `pramaan policy show` asks without `--department`).
async fn get_own_policy(
    state: State<AppState>,
    auth: Auth,
    Query(q): Query<DepartmentQuery>,
) -> Result<Response, ApiError> {
    auth.require(READERS)?;
    let department = auth.department(q.department)?;
    get_policy(state, auth, Path(department)).await
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

#[derive(Debug, Default, Deserialize)]
struct RosterQuery {
    /// Accept a roster with no handle (empties the group's roster).
    #[serde(default)]
    allow_empty: bool,
}

async fn put_roster(
    State(state): State<AppState>,
    auth: Auth,
    Path((d, g)): Path<(String, String)>,
    Query(q): Query<RosterQuery>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    auth.require_write(&d)?;
    let text = text_body(b)?;
    let parsed = roster_from_csv(&text).map_err(|errors| {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::new(RejectCode::InvalidRoster, detail)
    })?;
    let (rows, duplicates) = (parsed.rows, parsed.duplicates);
    if rows.is_empty() && !q.allow_empty {
        return Err(ApiError::new(
            RejectCode::InvalidRoster,
            format!(
                "the roster lists no handle and would empty the roster of {g:?}; \
                 `pramaan roster set --allow-empty` (?allow_empty=true) if that is meant"
            ),
        ));
    }
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
        duplicates,
    }))
}

async fn create_enrollment_token(
    State(state): State<AppState>,
    auth: Auth,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    auth.require(WRITERS)?;
    let req: EnrollTokenRequest = json_body(b)?;
    let ttl = match req.ttl_secs {
        Some(secs) => pramaan_core::api::check_enroll_token_ttl(secs)
            .map_err(|e| ApiError::new(RejectCode::Malformed, e))?,
        None => state.config.enrollment_token_ttl_secs,
    };
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
            if officer.retired_at.is_some() {
                return Err(ApiError::new(
                    RejectCode::Conflict,
                    format!(
                        "officer {officer_id} is retired; import the officer's registry row again to reinstate"
                    ),
                ));
            }
            if tx.policy(&officer.department)?.is_none() {
                return Err(ApiError::new(
                    RejectCode::NoPolicy,
                    format!(
                        "department {} has no policy yet: set one with `pramaan policy set \
                         POLICY.toml` before enrolling devices",
                        officer.department
                    ),
                ));
            }
            let expires = now.saturating_add(ttl);
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
        pin: state.tls.current_pin(),
    };
    let id = crate::credentials::enroll_token_id(&hash);
    log::info!(
        "{} issued enrollment token {id} for officer {}, expires at {expires}",
        auth.0.label,
        crate::log_text::untrusted(&req.officer_id)
    );
    Ok(json_response(&EnrollTokenResponse {
        uri: uri.to_string(),
        expires,
        officer_id: req.officer_id,
        id,
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
    // Logged, shown to IT and sent to the revoked device: checked like a retirement's.
    let reason = required_text("reason", &req.reason, MAX_REASON)?;
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

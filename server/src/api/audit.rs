//! Audit log endpoints (design sections 7 and 8), for auditors and admins.
//!
//! `GET /v1/audit/checkpoint` answers the signed note as `text/plain` (what witnesses and
//! `pramaan audit verify --since` keep), `entries` the leaves as base64 in JSON pages of
//! at most [`MAX_ENTRIES_PER_REQUEST`], and the two proof endpoints RFC 9162 proofs as
//! base64 hashes. Everything is read from the SQLite log through the store's connection;
//! sizes past the log or indices past the size are 400s with the reason, never panics.
//!
//! Register with `.merge(audit::routes())` in the API router.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState, Auth, blocking, json_response};
use crate::audit_log::{
    self, ConsistencyQuery, EntriesQuery, EntriesResponse, InclusionQuery, LogError,
    MAX_ENTRIES_PER_REQUEST, ProofResponse,
};
use crate::store::Role;

const AUDITORS: &[Role] = &[Role::Auditor, Role::Admin];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/checkpoint", get(get_checkpoint))
        .route("/v1/audit/entries", get(get_entries))
        .route("/v1/audit/proof/inclusion", get(get_inclusion))
        .route("/v1/audit/proof/consistency", get(get_consistency))
}

fn log_error(e: LogError) -> ApiError {
    match e {
        LogError::IndexOutOfRange { .. }
        | LogError::SizeOutOfRange { .. }
        | LogError::SizesOutOfOrder { .. } => ApiError::bad_request("bad_range", e.to_string()),
        other => ApiError::internal(format!("audit log: {other}")),
    }
}

/// Runs `f` on the SQLite connection off the async workers.
async fn with_log<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&rusqlite::Connection, &audit_log::LogSigner) -> Result<R, LogError> + Send + 'static,
) -> Result<R, ApiError> {
    let state = state.clone();
    blocking(move || {
        let sqlite = state
            .store
            .as_sqlite()
            .ok_or_else(|| ApiError::internal("the audit log needs the SQLite store"))?;
        sqlite
            .with_conn(|conn| f(conn, &state.log_signer))?
            .map_err(log_error)
    })
    .await
}

async fn get_checkpoint(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let note = with_log(&state, audit_log::checkpoint).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note,
    )
        .into_response())
}

async fn get_entries(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<EntriesQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    if q.start > q.end {
        return Err(ApiError::bad_request(
            "bad_range",
            format!("start {} is after end {}", q.start, q.end),
        ));
    }
    let page = with_log(&state, move |conn, _| {
        EntriesResponse::load(&mut audit_log::SqlNodes(conn), q)
    })
    .await?;
    debug_assert!(page.entries.len() as u64 <= MAX_ENTRIES_PER_REQUEST);
    Ok(json_response(&page))
}

async fn get_inclusion(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |conn, _| {
        audit_log::inclusion_proof(conn, q.index, q.size)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}

async fn get_consistency(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |conn, _| {
        audit_log::consistency_proof(conn, q.old, q.new)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}

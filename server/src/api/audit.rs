//! Audit log endpoints (design sections 7 and 8), for auditors and admins.
//!
//! `GET /v1/audit/checkpoint` answers the signed note as `text/plain` (what witnesses and
//! `pramaan audit verify --since` keep), `entries` the leaves as base64 in JSON pages of
//! at most [`MAX_ENTRIES_PER_REQUEST`], and the two proof endpoints RFC 9162 proofs as
//! base64 hashes. Everything is read through [`read_transaction`] (the store's read-only
//! snapshot, which does not wait for writers), so an auditor pulling a large bundle never
//! stalls the group-commit writer; sizes past the log or indices past the size are 400s
//! with the reason, never panics.
//!
//! Register with `.merge(audit::routes())` in the API router.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pramaan_core::api::RejectCode;
use pramaan_tlog::LogStore;

use super::{ApiError, AppState, Auth, blocking, json_response};
use crate::audit_log::{
    self, ConsistencyQuery, EntriesQuery, EntriesResponse, InclusionQuery, LogError,
    MAX_ENTRIES_PER_REQUEST, ProofResponse,
};
use crate::store::{Role, StoreError, read_transaction};

const AUDITORS: &[Role] = &[Role::Auditor, Role::Admin];

/// `GET /v1/audit/checkpoint`, `/v1/audit/entries`, `/v1/audit/proof/inclusion` and
/// `/v1/audit/proof/consistency` (auditor and admin tokens).
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
        | LogError::SizesOutOfOrder { .. } => ApiError::new(RejectCode::BadRange, e.to_string()),
        other => ApiError::internal(format!("audit log: {other}")),
    }
}

/// Runs `f` on the log rows of a read transaction, off the async workers.
async fn with_log<R: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut dyn LogStore<Error = StoreError>, &audit_log::LogSigner) -> Result<R, LogError>
    + Send
    + 'static,
) -> Result<R, ApiError> {
    let state = state.clone();
    blocking(move || {
        read_transaction(state.store.as_ref(), |tx| {
            f(tx.log(), &state.log_signer).map_err(log_error)
        })
    })
    .await
}

async fn get_checkpoint(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let st = state.clone();
    let note = blocking(move || {
        crate::checkpoints::current(
            st.store.as_ref(),
            &st.log_signer,
            &st.metrics,
            &st.witnesses,
            &st.checkpoint_guard,
            super::now(),
        )
        .map_err(|e| match e {
            crate::checkpoints::CheckpointError::Store(s) => s.into(),
            // Refused with nothing earlier to serve, or unsignable: the reason, as a 500.
            other => {
                log::error!("checkpoint: {other}");
                ApiError::internal(other.to_string())
            }
        })
    })
    .await?;
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
        return Err(ApiError::new(
            RejectCode::BadRange,
            format!("start {} is after end {}", q.start, q.end),
        ));
    }
    let page = with_log(&state, move |log, _| EntriesResponse::load(log, q)).await?;
    debug_assert!(page.entries.len() as u64 <= MAX_ENTRIES_PER_REQUEST);
    Ok(json_response(&page))
}

async fn get_inclusion(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    auth.require(AUDITORS)?;
    let proof = with_log(&state, move |log, _| {
        pramaan_tlog::inclusion_proof(log, q.index, q.size)
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
    let proof = with_log(&state, move |log, _| {
        pramaan_tlog::consistency_proof(log, q.old, q.new)
    })
    .await?;
    Ok(json_response(&ProofResponse::from_hashes(&proof)))
}
